/* admin_lookup: `ciu-admin lookup` (see admin_lookup.h). */
#include <ctype.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "admin_i18n.h"
#include "admin_lookup.h"
#include "admin_util.h"
#include "ciu_rules.h"
#include "common/cmn_daemon.h"
#include "common/cmn_str.h"

#define S_CIU_LEN 10

static const char s_usage[] =
    "usage: ciu-admin lookup [--json] CIU\n"
    "What the store knows of one CIU: first and last request, request count, numbers\n"
    "that asked for it (a count), duplicates involving it, DHIS2 sync (status,\n"
    "tracked entity), replies sent and delivered. Never a phone number.\n"
    "Exit status: 0 registered, 1 not registered, 64 not a CIU.\n";

bool admin_ciu_parse(const char *arg, char *out, size_t outlen)
{
    char up[S_CIU_LEN + 1];
    if (arg == NULL || strlen(arg) != S_CIU_LEN || outlen <= S_CIU_LEN)
        return false;
    for (size_t i = 0; i <= S_CIU_LEN; i++)
        up[i] = (char)toupper((unsigned char)arg[i]);
    if (!ciu_is_valid(up)) /* the formula's own check (rules/) */
        return false;
    memcpy(out, up, sizeof(up));
    return true;
}

typedef struct {
    cmn_rows_t *reg, *numbers, *dups, *sync, *replies;
} s_found_t;

static void s_found_free(s_found_t *f)
{
    cmn_rows_destroy(&f->reg);
    cmn_rows_destroy(&f->numbers);
    cmn_rows_destroy(&f->dups);
    cmn_rows_destroy(&f->sync);
    cmn_rows_destroy(&f->replies);
}

static int s_read(cmn_store_t *st, const char *ciu, s_found_t *f)
{
    cmn_param_t p[] = {P_TEXT(ciu)};
    if (cmn_store_query(st, "SELECT request_count, first_ms, last_ms FROM registry WHERE ciu = $1",
                        p, 1, &f->reg) < 0 ||
        cmn_store_query(st, "SELECT COUNT(*) FROM number_cius WHERE ciu = $1", p, 1, &f->numbers) <
            0 ||
        cmn_store_query(st,
                        "SELECT id, kind, CASE WHEN ciu = $1 THEN other_ciu ELSE ciu END, status, "
                        "created_ms FROM duplicates WHERE ciu = $1 OR other_ciu = $1 ORDER BY id",
                        p, 1, &f->dups) < 0 ||
        cmn_store_query(st,
                        "SELECT status, attempts, te_uid, enrollment_uid, org_unit, synced_ms, "
                        "last_error, updated_ms FROM dhis2_sync WHERE ciu = $1",
                        p, 1, &f->sync) < 0 ||
        cmn_store_query(st,
                        "SELECT COUNT(*), SUM(CASE WHEN d.status IN ('delivered', 'read') THEN 1 "
                        "ELSE 0 END) FROM outbox o LEFT JOIN deliveries d ON d.channel = "
                        "o.channel AND d.provider_id = o.provider_id WHERE o.status = 1 AND "
                        "o.user_key IN (SELECT user_key FROM number_cius WHERE ciu = $1)",
                        p, 1, &f->replies) < 0)
        return admin_store_fail(st, "read the store");
    return CMN_EXIT_OK;
}

static int s_print_json(const char *ciu, const s_found_t *f)
{
    json_t *dups = json_array(), *sync = json_null();
    char first[32], last[32], when[32];
    for (int i = 0; i < cmn_rows_count(f->dups); i++) {
        admin_iso(cmn_rows_int(f->dups, i, 4, 0), when);
        json_array_append_new(dups,
                              json_pack("{s:I, s:s, s:o, s:s, s:s}", "id",
                                        (json_int_t)cmn_rows_int(f->dups, i, 0, 0), "kind",
                                        cmn_rows_get(f->dups, i, 1), "other_ciu",
                                        admin_json_text(cmn_rows_get(f->dups, i, 2)), "status",
                                        cmn_rows_get(f->dups, i, 3), "created", when));
    }
    if (cmn_rows_count(f->sync) == 1) {
        admin_iso(cmn_rows_int(f->sync, 0, 5, 0), when);
        sync =
            json_pack("{s:s, s:I, s:o, s:o, s:o, s:o, s:o}", "status", cmn_rows_get(f->sync, 0, 0),
                      "attempts", (json_int_t)cmn_rows_int(f->sync, 0, 1, 0), "tracked_entity",
                      admin_json_text(cmn_rows_get(f->sync, 0, 2)), "enrollment",
                      admin_json_text(cmn_rows_get(f->sync, 0, 3)), "org_unit",
                      admin_json_text(cmn_rows_get(f->sync, 0, 4)), "synced",
                      cmn_rows_get(f->sync, 0, 5) ? json_string(when) : json_null(), "last_error",
                      admin_json_text(cmn_rows_get(f->sync, 0, 6)));
    }
    admin_iso(cmn_rows_int(f->reg, 0, 1, 0), first);
    admin_iso(cmn_rows_int(f->reg, 0, 2, 0), last);
    return admin_print_json(
        json_pack("{s:s, s:b, s:s, s:s, s:I, s:I, s:o, s:o, s:{s:I, s:I}}", "ciu", ciu,
                  "registered", 1, "first_seen", first, "last_seen", last, "request_count",
                  (json_int_t)cmn_rows_int(f->reg, 0, 0, 0), "numbers",
                  (json_int_t)cmn_rows_int(f->numbers, 0, 0, 0), "duplicates", dups, "dhis2", sync,
                  "replies", "sent", (json_int_t)cmn_rows_int(f->replies, 0, 0, 0), "delivered",
                  (json_int_t)cmn_rows_int(f->replies, 0, 1, 0)));
}

static void s_print_text(const char *ciu, const s_found_t *f)
{
    char when[32];
    printf(admin_tr("CIU:               %s\n"), ciu);
    admin_iso(cmn_rows_int(f->reg, 0, 1, 0), when);
    printf(admin_tr("first seen:        %s\n"), when);
    admin_iso(cmn_rows_int(f->reg, 0, 2, 0), when);
    printf(admin_tr("last seen:         %s\n"), when);
    printf(admin_tr("requests:          %lld\n"), (long long)cmn_rows_int(f->reg, 0, 0, 0));
    printf(admin_tr("numbers:           %lld\n"), (long long)cmn_rows_int(f->numbers, 0, 0, 0));
    printf(admin_tr("replies sent:      %lld (%lld confirmed delivered)\n"),
           (long long)cmn_rows_int(f->replies, 0, 0, 0),
           (long long)cmn_rows_int(f->replies, 0, 1, 0));
    if (cmn_rows_count(f->sync) == 1) {
        const char *te = cmn_rows_get(f->sync, 0, 2), *err = cmn_rows_get(f->sync, 0, 6);
        printf(admin_tr("DHIS2:             %s, %lld attempts, tracked entity %s\n"),
               cmn_rows_get(f->sync, 0, 0), (long long)cmn_rows_int(f->sync, 0, 1, 0),
               te ? te : "-");
        if (err)
            printf(admin_tr("DHIS2 last error:  %s\n"), err);
    } else {
        printf("%s", admin_tr("DHIS2:             not queued\n"));
    }
    if (cmn_rows_count(f->dups) == 0)
        printf("%s", admin_tr("duplicates:        none\n"));
    for (int i = 0; i < cmn_rows_count(f->dups); i++) {
        const char *other = cmn_rows_get(f->dups, i, 2);
        admin_iso(cmn_rows_int(f->dups, i, 4, 0), when);
        printf(admin_tr("duplicate %lld:      %s%s%s, %s, %s\n"),
               (long long)cmn_rows_int(f->dups, i, 0, 0), cmn_rows_get(f->dups, i, 1),
               other ? admin_tr(" with ") : "", other ? other : "", cmn_rows_get(f->dups, i, 3),
               when);
    }
}

int admin_lookup_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    char ciu[S_CIU_LEN + 1];
    bool json = false;
    admin_db_t db;
    s_found_t f;
    int c, code;

    if (admin_args_begin(argc, argv, s_usage))
        return CMN_EXIT_OK;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c != 'j')
            return admin_fail(CMN_EXIT_USAGE, "lookup: unknown option '%s' (see --help)",
                              argv[optind - 1]);
        json = true;
    }
    if (optind != argc - 1)
        return admin_fail(CMN_EXIT_USAGE, "usage: ciu-admin lookup [--json] CIU");
    if (!admin_ciu_parse(argv[optind], ciu, sizeof(ciu)))
        return admin_fail(CMN_EXIT_USAGE,
                          "lookup: '%s' is not a valid CIU (10 characters like MBEIBR7KN1: 6 "
                          "letters, a digit, 2 letters, a digit 1 to 4)",
                          argv[optind]);
    memset(&f, 0, sizeof(f));
    code = admin_db_ready(&db);
    if (code == CMN_EXIT_OK)
        code = s_read(db.store, ciu, &f);
    if (code != CMN_EXIT_OK)
        goto out;
    if (cmn_rows_count(f.reg) == 0) {
        if (json)
            code = admin_print_json(json_pack("{s:s, s:b}", "ciu", ciu, "registered", 0));
        else
            printf(admin_tr("%s: not registered\n"), ciu);
        code = code == CMN_EXIT_OK ? ADMIN_EXIT_NOT_FOUND : code;
        goto out;
    }
    if (json)
        code = s_print_json(ciu, &f);
    else
        s_print_text(ciu, &f);
out:
    s_found_free(&f);
    admin_db_close(&db);
    return code;
}
