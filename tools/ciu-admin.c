/* ciu-admin: the operator's command line for the ciu store.
 *
 *   ciu-admin gen-salt                      print a new UIC_SALT (64 hex digits)
 *   ciu-admin migrate                       apply the migrations, print the schema version
 *   ciu-admin status [--json]               queue sizes, registry, duplicates, DHIS2 sync
 *   ciu-admin duplicates [--json] [--all]   potential duplicates (open ones by default)
 *   ciu-admin duplicates reviewed ID        mark one as reviewed (alias: resolve)
 *   ciu-admin registry [--json] CIU         one CIU: request count, first and last dates
 *   ciu-admin check | lookup | export | purge | queues | backup | restore
 *                                           tools/admin_<command>.c, docs/admin.md
 *   ciu-admin dhis2 check|status|retry      DHIS2: verify settings, queue state, re-queue
 *                                           (tools/admin_dhis2.c)
 *   ciu-admin channels [--json]             WhatsApp channels: on/paused, replies by status,
 *                                           failures by provider error code, delivery statuses
 *   ciu-admin stats [--json]                the dashboard's figures (tools/admin_stats.c)
 *
 * It reads the same settings as the daemons (environment + ./.env) and opens
 * the same store (DATABASE_URL, or SQLite in CIU_DATA_DIR). It never shows a
 * phone number: the store holds keyed hashes only, shortened here to 12 hex
 * digits. Exit status (sysexits, as the daemons): 0 ok, 1 not found, 64 bad
 * command line, 69 store unavailable, 70 internal error, 78 bad configuration.
 * Output in French when the locale says so (admin_i18n.h). See docs/admin.md.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <zmq.h>

#include "common/cmn_channels.h"
#include "common/cmn_crypto.h"
#include "common/cmn_daemon.h"
#include "common/cmn_msg.h"
#include "common/cmn_settings.h"
#include "common/cmn_store.h"
#include "common/cmn_str.h"

#include "admin_backup.h"
#include "admin_check.h"
#include "admin_collisions.h"
#include "admin_dhis2.h"
#include "admin_export.h"
#include "admin_i18n.h"
#include "admin_lookup.h"
#include "admin_purge.h"
#include "admin_queues.h"
#include "admin_stats.h"
#include "admin_util.h"

#define S_EXIT_NOT_FOUND ADMIN_EXIT_NOT_FOUND
#define S_SALT_BYTES 32
#define S_KEY_SHORT 12 /* hex digits of a user key shown */
#define S_CIU_MAX 15

typedef struct {
    const char *cmd;
    bool json;
    bool all;
    int nargs;
    char **args;
} s_opts_t;

typedef struct {
    admin_db_t db;
    bool json;
} s_admin_t;

static const char s_usage_text[] =
    "usage: ciu-admin COMMAND [OPTIONS]   (ciu-admin COMMAND --help: that command)\n"
    "The operator's tool for ciu; reads the daemons' settings (environment + ./.env).\n"
    "\n"
    "  check [--json]               everything to get right before going live, one line\n"
    "                               each: settings, store, salt, channels, webhook, DHIS2\n"
    "  gen-salt                     print a new random UIC_SALT (32 bytes, 64 hex digits)\n"
    "  gen-bus-key                  print a new CIU_BUS_CURVE_SECRET_KEY (bus encryption)\n"
    "  migrate                      apply pending migrations, print the schema version\n"
    "  status [--json]              schema version and queue, registry, duplicate,\n"
    "                               DHIS2 sync and session counts\n"
    "  stats [--json]               the dashboard's figures: registrations, conversations,\n"
    "                               duplicates, DHIS2, delivery, queues\n"
    "  queues [--json] [--older S]  work waiting at each stage, rows stuck for S seconds\n"
    "  queues retry [--stage S] [ID...]  make rows waiting for a retry due now\n"
    "  lookup [--json] CIU          what the store knows of one CIU\n"
    "  registry [--json] CIU        request count and first/last dates of one CIU\n"
    "  duplicates [--json] [--all]  list potential duplicates (open ones; --all: all)\n"
    "  duplicates reviewed ID       mark duplicate ID as reviewed (alias: resolve)\n"
    "  export [--since DAY] [--output FILE]  the registry as CSV, no phone numbers\n"
    "  purge [--days N] [--dry-run] delete finished work older than CIU_RETENTION_DAYS\n"
    "  backup FILE | restore FILE   copy the store to FILE / put a backup back\n"
    "  collisions [--json]          how likely two people share a CIU, overall and\n"
    "                               per city, from the registry (docs/ciu-rules.md)\n"
    "  dhis2 check [--json]         verify the DHIS2 settings against the server\n"
    "  dhis2 status [--json]        DHIS2 enrolments: pending, synced, failed, last error\n"
    "  dhis2 retry [--failed]       retry pending enrolments now (--failed: re-queue)\n"
    "  channels [--json]            WhatsApp channels: configured, paused (why), replies\n"
    "                               by status, failures by provider error code\n"
    "\n"
    "Exit status: 0 ok, 1 not found, 64 usage, 69 store or service unavailable,\n"
    "70 internal error, 78 bad configuration. French output when LANG (or LC_ALL,\n"
    "LC_MESSAGES) starts with fr; CIU_ADMIN_LANG=fr|en forces it. See docs/admin.md.\n";

static void s_usage(FILE *f)
{
    fputs(admin_tr(s_usage_text), f);
}

/* The usage of one of the commands this file runs. */
static void s_command_usage(const char *cmd)
{
    static const struct {
        const char *cmd;
        const char *usage;
    } u[] = {
        {"gen-salt", "usage: ciu-admin gen-salt\n"
                     "Print a new random UIC_SALT (32 bytes as 64 hex digits).\n"},
        {"gen-bus-key", "usage: ciu-admin gen-bus-key\n"
                        "Print a new CIU_BUS_CURVE_SECRET_KEY: 40 characters, the same for every "
                        "daemon\n(docs/operations.md, securing the bus).\n"},
        {"stats", "usage: ciu-admin stats [--json]\n"
                  "The dashboard's figures as a table: registrations, conversations, "
                  "duplicates,\nDHIS2, delivery, queues (docs/dashboard.md).\n"},
        {"migrate", "usage: ciu-admin migrate\n"
                    "Apply the pending migrations to the store, print the schema version.\n"},
        {"status", "usage: ciu-admin status [--json]\n"
                   "Schema version and the counts of the queues, the registry, open "
                   "duplicates,\nDHIS2 sync and active sessions.\n"},
        {"duplicates", "usage: ciu-admin duplicates [--json] [--all]\n"
                       "       ciu-admin duplicates reviewed ID   (alias: resolve)\n"
                       "List the potential duplicates (the open ones; --all: every one), or "
                       "mark one\nas reviewed.\n"},
        {"registry", "usage: ciu-admin registry [--json] CIU\n"
                     "Request count and first and last request of one CIU (see also "
                     "lookup).\n"},
        {"collisions", "usage: ciu-admin collisions [--json]\n"
                       "How likely two people share a CIU, overall and per city "
                       "(docs/ciu-rules.md).\n"},
        {"channels", "usage: ciu-admin channels [--json]\n"
                     "WhatsApp channels: on, paused (why), replies by status, failures by "
                     "provider\nerror code, delivery statuses.\n"},
    };
    for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++)
        if (strcmp(u[i].cmd, cmd) == 0) {
            fputs(admin_tr(u[i].usage), stdout);
            return;
        }
    s_usage(stdout);
}

static int s_store_fail(s_admin_t *a, const char *what)
{
    return admin_store_fail(a->db.store, what);
}

/* 0, or an exit code after printing why. */
static int s_parse(int argc, char **argv, s_opts_t *o)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"all", no_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    memset(o, 0, sizeof(*o));
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
        if (c == 'h') {
            s_usage(stdout);
            return CMN_BOOT_DONE;
        }
        s_usage(stderr);
        return CMN_EXIT_USAGE;
    }
    if (optind >= argc) {
        s_usage(stderr);
        return CMN_EXIT_USAGE;
    }
    o->cmd = argv[optind];
    /* Options of the command may come before or after its arguments. */
    int sub_argc = argc - optind;
    char **sub_argv = argv + optind;
    optind = 1;
    while ((c = getopt_long(sub_argc, sub_argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'j':
            o->json = true;
            break;
        case 'a':
            o->all = true;
            break;
        case 'h':
            s_command_usage(o->cmd);
            return CMN_BOOT_DONE;
        default:
            return admin_fail(CMN_EXIT_USAGE, "%s: unknown option '%s' (see --help)", o->cmd,
                          sub_argv[optind - 1]);
        }
    }
    o->nargs = sub_argc - optind;
    o->args = sub_argv + optind;
    return 0;
}

static int s_gen_salt(void)
{
    char hex[S_SALT_BYTES * 2 + 1];
    if (cmn_random_hex(hex, sizeof(hex), S_SALT_BYTES) < 0)
        return admin_fail(CMN_EXIT_SOFTWARE, "cannot read random bytes");
    printf("%s\n", hex);
    return CMN_EXIT_OK;
}

/* A new CURVE key pair's secret half, Z85 (CIU_BUS_CURVE_SECRET_KEY). */
static int s_gen_bus_key(void)
{
    char pub[41], sec[41];
    if (!zmq_has("curve") || zmq_curve_keypair(pub, sec) != 0)
        return admin_fail(CMN_EXIT_SOFTWARE, "this libzmq cannot make CURVE keys");
    printf("%s\n", sec);
    memset(sec, 0, sizeof(sec));
    return CMN_EXIT_OK;
}

/* The schema version; an exit code when the store is not migrated. */
static int s_need_schema(s_admin_t *a, int *ret_version)
{
    return admin_db_need_schema(&a->db, ret_version);
}

static int s_cmd_collisions(s_admin_t *a)
{
    int version = 0;
    int code = s_need_schema(a, &version);
    return code != 0 ? code : admin_collisions(a->db.store, a->json);
}

static int s_cmd_stats(s_admin_t *a)
{
    int version = 0;
    int code = s_need_schema(a, &version);
    return code != 0 ? code : admin_stats(a->db.store, a->json);
}

static void s_short_key(const char *key, char out[S_KEY_SHORT + 1])
{
    cmn_strlcpy(out, key ? key : "-", S_KEY_SHORT + 1);
}

/* --- migrate ----------------------------------------------------------- */

static int s_cmd_migrate(s_admin_t *a)
{
    int before = 0, after = 0;
    if (cmn_store_schema_version(a->db.store, &before) < 0)
        return s_store_fail(a, "read the schema version");
    if (cmn_store_migrate(a->db.store) < 0)
        return s_store_fail(a, "migrate the store");
    if (cmn_store_schema_version(a->db.store, &after) < 0)
        return s_store_fail(a, "read the schema version");
    if (after == before)
        printf("schema version %d (up to date)\n", after);
    else
        printf("schema version %d (migrated from %d)\n", after, before);
    return CMN_EXIT_OK;
}

/* --- status ------------------------------------------------------------ */

typedef struct {
    const char *group;
    const char *name;
    const char *sql;
    int64_t value;
} s_count_t;

static int s_cmd_status(s_admin_t *a)
{
    s_count_t counts[] = {
        {"inbox", "pending", "SELECT COUNT(*) FROM inbox WHERE status = 0", 0},
        {"outbox", "pending", "SELECT COUNT(*) FROM outbox WHERE status = 0", 0},
        {"outbox", "sent", "SELECT COUNT(*) FROM outbox WHERE status = 1", 0},
        {"outbox", "failed", "SELECT COUNT(*) FROM outbox WHERE status = 2", 0},
        {"ciu_requests", "pending", "SELECT COUNT(*) FROM ciu_requests WHERE status = 0", 0},
        {"registry", "size", "SELECT COUNT(*) FROM registry", 0},
        {"duplicates", "open", "SELECT COUNT(*) FROM duplicates WHERE status = 'open'", 0},
        {"sessions", "active", "SELECT COUNT(*) FROM sessions WHERE updated_ms >= $1", 0},
    };
    size_t n = sizeof(counts) / sizeof(counts[0]);
    int64_t since = cmn_now_ms() - a->db.settings.session_timeout_min * 60 * 1000;
    cmn_param_t p[] = {P_INT(since)};
    cmn_rows_t *sync = NULL;
    json_t *j = NULL, *g = NULL;
    int version = 0, code;

    code = s_need_schema(a, &version);
    if (code != 0)
        return code;
    for (size_t i = 0; i < n; i++) {
        cmn_rows_t *rows = NULL;
        bool param = strchr(counts[i].sql, '$') != NULL;
        if (cmn_store_query(a->db.store, counts[i].sql, param ? p : NULL, param ? 1 : 0, &rows) < 0)
            return s_store_fail(a, "count rows");
        counts[i].value = cmn_rows_int(rows, 0, 0, 0);
        cmn_rows_destroy(&rows);
    }
    if (cmn_store_query(a->db.store,
                        "SELECT status, COUNT(*) FROM dhis2_sync GROUP BY status "
                        "ORDER BY status",
                        NULL, 0, &sync) < 0)
        return s_store_fail(a, "count DHIS2 sync rows");

    if (!a->json) {
        printf("%-22s%s\n", "store:",
               cmn_store_kind(a->db.store) == CMN_STORE_POSTGRES ? "postgresql" : "sqlite");
        printf("%-22s%d\n", "schema version:", version);
        for (size_t i = 0; i < n; i++) {
            char label[48];
            snprintf(label, sizeof(label), "%s %s:", counts[i].group, counts[i].name);
            printf("%-22s%lld\n", label, (long long)counts[i].value);
        }
        if (cmn_rows_count(sync) == 0)
            printf("%-22s%s\n", "dhis2_sync:", "(empty)");
        for (int i = 0; i < cmn_rows_count(sync); i++) {
            char label[64];
            snprintf(label, sizeof(label), "dhis2_sync %s:", cmn_rows_get(sync, i, 0));
            printf("%-22s%lld\n", label, (long long)cmn_rows_int(sync, i, 1, 0));
        }
        cmn_rows_destroy(&sync);
        return CMN_EXIT_OK;
    }

    j = json_object();
    if (j == NULL)
        goto oom;
    json_object_set_new(
        j, "store",
        json_string(cmn_store_kind(a->db.store) == CMN_STORE_POSTGRES ? "postgresql" : "sqlite"));
    json_object_set_new(j, "schema_version", json_integer(version));
    for (size_t i = 0; i < n; i++) {
        g = json_object_get(j, counts[i].group);
        if (g == NULL) {
            g = json_object();
            if (g == NULL || json_object_set_new(j, counts[i].group, g) < 0)
                goto oom;
        }
        json_object_set_new(g, counts[i].name, json_integer(counts[i].value));
    }
    g = json_object();
    if (g == NULL || json_object_set_new(j, "dhis2_sync", g) < 0)
        goto oom;
    for (int i = 0; i < cmn_rows_count(sync); i++)
        json_object_set_new(g, cmn_rows_get(sync, i, 0), json_integer(cmn_rows_int(sync, i, 1, 0)));
    cmn_rows_destroy(&sync);
    return admin_print_json(j);
oom:
    json_decref(j);
    cmn_rows_destroy(&sync);
    return admin_fail(CMN_EXIT_SOFTWARE, "out of memory");
}

/* --- duplicates -------------------------------------------------------- */

static int s_cmd_duplicates_list(s_admin_t *a, bool all)
{
    cmn_rows_t *rows = NULL;
    cmn_param_t p[] = {P_TEXT("open")};
    json_t *arr = NULL;
    int version = 0, code = s_need_schema(a, &version);

    if (code != 0)
        return code;
    if (cmn_store_query(a->db.store,
                        all ? "SELECT id, kind, ciu, other_ciu, user_key, other_user_key, "
                              "created_ms, status FROM duplicates ORDER BY id"
                            : "SELECT id, kind, ciu, other_ciu, user_key, other_user_key, "
                              "created_ms, status FROM duplicates WHERE status = $1 ORDER BY id",
                        all ? NULL : p, all ? 0 : 1, &rows) < 0)
        return s_store_fail(a, "list duplicates");
    if (a->json) {
        arr = json_array();
        if (arr == NULL)
            goto oom;
    } else if (cmn_rows_count(rows) == 0) {
        printf("%s", all ? admin_tr("no potential duplicates\n")
                         : admin_tr("no open potential duplicates\n"));
    } else {
        printf("%-6s %-22s %-10s %-10s %-12s %-12s %-20s %s\n", "ID", admin_tr("KIND"), "CIU",
               admin_tr("OTHER_CIU"), admin_tr("USER"), admin_tr("OTHER_USER"), admin_tr("CREATED"),
               admin_tr("STATUS"));
    }
    for (int i = 0; i < cmn_rows_count(rows); i++) {
        char created[32], user[S_KEY_SHORT + 1], other[S_KEY_SHORT + 1];
        const char *other_ciu = cmn_rows_get(rows, i, 3);
        const char *other_key = cmn_rows_get(rows, i, 5);
        admin_iso(cmn_rows_int(rows, i, 6, 0), created);
        s_short_key(cmn_rows_get(rows, i, 4), user);
        s_short_key(other_key, other);
        if (!a->json) {
            printf("%-6lld %-22s %-10s %-10s %-12s %-12s %-20s %s\n",
                   (long long)cmn_rows_int(rows, i, 0, 0), cmn_rows_get(rows, i, 1),
                   cmn_rows_get(rows, i, 2), other_ciu ? other_ciu : "-", user, other, created,
                   cmn_rows_get(rows, i, 7));
            continue;
        }
        json_t *o = json_object();
        if (o == NULL || json_array_append_new(arr, o) < 0)
            goto oom;
        json_object_set_new(o, "id", json_integer(cmn_rows_int(rows, i, 0, 0)));
        json_object_set_new(o, "kind", json_string(cmn_rows_get(rows, i, 1)));
        json_object_set_new(o, "ciu", json_string(cmn_rows_get(rows, i, 2)));
        json_object_set_new(o, "other_ciu", admin_json_text(other_ciu));
        json_object_set_new(o, "user", json_string(user));
        json_object_set_new(o, "other_user", other_key ? json_string(other) : json_null());
        json_object_set_new(o, "created", json_string(created));
        json_object_set_new(o, "status", json_string(cmn_rows_get(rows, i, 7)));
    }
    cmn_rows_destroy(&rows);
    return a->json ? admin_print_json(arr) : CMN_EXIT_OK;
oom:
    json_decref(arr);
    cmn_rows_destroy(&rows);
    return admin_fail(CMN_EXIT_SOFTWARE, "out of memory");
}

static int s_cmd_duplicates_resolve(s_admin_t *a, const char *arg)
{
    long id = 0;
    int64_t changed = 0;
    int version = 0, code;

    if (cmn_parse_long(arg, 1, LONG_MAX, &id) < 0)
        return admin_fail(CMN_EXIT_USAGE, "duplicates reviewed: '%s' is not a duplicate id", arg);
    code = s_need_schema(a, &version);
    if (code != 0)
        return code;
    cmn_param_t p[] = {P_INT(id)};
    if (cmn_store_exec(a->db.store, "UPDATE duplicates SET status = 'reviewed' WHERE id = $1", p, 1,
                       &changed) < 0)
        return s_store_fail(a, "update the duplicate");
    if (changed == 0)
        return admin_fail(S_EXIT_NOT_FOUND, "no duplicate with id %ld", id);
    printf(admin_tr("duplicate %ld marked reviewed\n"), id);
    return CMN_EXIT_OK;
}

/* --- registry ---------------------------------------------------------- */

static int s_cmd_registry(s_admin_t *a, const char *arg)
{
    char ciu[S_CIU_MAX + 1];
    cmn_rows_t *rows = NULL;
    int version = 0, code;

    if (!admin_ciu_parse(arg, ciu, sizeof(ciu)))
        return admin_fail(CMN_EXIT_USAGE,
                          "registry: '%s' is not a valid CIU (10 characters like MBEIBR7KN1: 6 "
                          "letters, a digit, 2 letters, a digit 1 to 4)",
                          arg);
    code = s_need_schema(a, &version);
    if (code != 0)
        return code;
    cmn_param_t p[] = {P_TEXT(ciu)};
    if (cmn_store_query(a->db.store,
                        "SELECT request_count, first_ms, last_ms, (SELECT COUNT(*) "
                        "FROM duplicates d WHERE d.ciu = r.ciu AND d.status = 'open') "
                        "FROM registry r WHERE r.ciu = $1",
                        p, 1, &rows) < 0)
        return s_store_fail(a, "read the registry");
    if (cmn_rows_count(rows) == 0) {
        cmn_rows_destroy(&rows);
        if (a->json)
            code = admin_print_json(json_pack("{s:s, s:b}", "ciu", ciu, "registered", 0));
        else
            printf(admin_tr("%s: not registered\n"), ciu);
        return code == CMN_EXIT_OK ? S_EXIT_NOT_FOUND : code;
    }
    char first[32], last[32];
    long long count = (long long)cmn_rows_int(rows, 0, 0, 0);
    long long dups = (long long)cmn_rows_int(rows, 0, 3, 0);
    admin_iso(cmn_rows_int(rows, 0, 1, 0), first);
    admin_iso(cmn_rows_int(rows, 0, 2, 0), last);
    cmn_rows_destroy(&rows);
    if (a->json)
        return admin_print_json(json_pack(
            "{s:s, s:b, s:I, s:s, s:s, s:I}", "ciu", ciu, "registered", 1, "request_count",
            (json_int_t)count, "first", first, "last", last, "open_duplicates", (json_int_t)dups));
    printf("CIU:             %s\n", ciu);
    printf("request count:   %lld\n", count);
    printf("first requested: %s\n", first);
    printf("last requested:  %s\n", last);
    printf("open duplicates: %lld\n", dups);
    return CMN_EXIT_OK;
}

/* --- channels ---------------------------------------------------------- */

/* Rows of a query as a JSON array of arrays (NULL on error). */
static json_t *s_rows_json(cmn_rows_t *rows)
{
    json_t *arr = json_array();
    for (int i = 0; arr && i < cmn_rows_count(rows); i++) {
        json_t *row = json_array();
        for (int k = 0; k < cmn_rows_cols(rows); k++) {
            const char *v = cmn_rows_get(rows, i, k);
            json_array_append_new(row, v ? json_string(v) : json_null());
        }
        json_array_append_new(arr, row);
    }
    return arr;
}

static int s_cmd_channels(s_admin_t *a)
{
    static const char *const queries[] = {
        "SELECT channel, paused, COALESCE(reason, ''), updated_ms FROM channel_state ORDER BY "
        "channel",
        "SELECT channel, CASE status WHEN 0 THEN 'waiting' WHEN 1 THEN 'sent' WHEN 2 THEN "
        "'failed' ELSE 'in flight' END, COUNT(*), MIN(created_ms) FROM outbox GROUP BY channel, "
        "status ORDER BY channel, status",
        "SELECT channel, COALESCE(error_code, '-'), COUNT(*), MAX(COALESCE(last_error, '')) FROM "
        "outbox WHERE status = 2 GROUP BY channel, error_code ORDER BY channel, 3 DESC",
        "SELECT channel, status, COUNT(*) FROM deliveries GROUP BY channel, status ORDER BY "
        "channel, status",
    };
    static const char *const names[] = {"paused", "replies", "failures", "deliveries"};
    cmn_channels_t ch;
    char *err = NULL, desc[64];
    cmn_rows_t *rows[4] = {NULL, NULL, NULL, NULL};
    int code = CMN_EXIT_OK;

    if (cmn_channels_load(&a->db.settings, &ch, &err) < 0) {
        code = admin_fail(CMN_EXIT_CONFIG, "%s", err);
        free(err);
        return code;
    }
    for (int i = 0; i < 4; i++)
        if (cmn_store_query(a->db.store, queries[i], NULL, 0, &rows[i]) < 0) {
            code = s_store_fail(a, "read the channel tables");
            goto out;
        }
    if (a->json) {
        json_t *j = json_pack("{s:b, s:b, s:b}", "twilio", ch.twilio, "meta", ch.meta,
                              "simulator", ch.simulator);
        for (int i = 0; j && i < 4; i++)
            json_object_set_new(j, names[i], s_rows_json(rows[i]));
        code = admin_print_json(j);
        goto out;
    }
    printf("channels on:     %s\n", cmn_channels_describe(&ch, desc, sizeof(desc)));
    for (int i = 0; i < cmn_rows_count(rows[0]); i++)
        printf("%-16s %s%s%s\n", cmn_rows_get(rows[0], i, 0),
               cmn_rows_int(rows[0], i, 1, 0) ? "PAUSED: " : "active",
               cmn_rows_int(rows[0], i, 1, 0) ? cmn_rows_get(rows[0], i, 2) : "", "");
    printf("\nreplies (channel, status, count):\n");
    for (int i = 0; i < cmn_rows_count(rows[1]); i++)
        printf("  %-10s %-10s %s\n", cmn_rows_get(rows[1], i, 0), cmn_rows_get(rows[1], i, 1),
               cmn_rows_get(rows[1], i, 2));
    printf("\nfailed replies by provider error code (channel, code, count, last error):\n");
    if (cmn_rows_count(rows[2]) == 0)
        printf("  none\n");
    for (int i = 0; i < cmn_rows_count(rows[2]); i++)
        printf("  %-10s %-8s %-6s %s\n", cmn_rows_get(rows[2], i, 0), cmn_rows_get(rows[2], i, 1),
               cmn_rows_get(rows[2], i, 2), cmn_rows_get(rows[2], i, 3));
    printf("\ndelivery statuses reported by the providers (channel, status, count):\n");
    for (int i = 0; i < cmn_rows_count(rows[3]); i++)
        printf("  %-10s %-10s %s\n", cmn_rows_get(rows[3], i, 0), cmn_rows_get(rows[3], i, 1),
               cmn_rows_get(rows[3], i, 2));
out:
    for (int i = 0; i < 4; i++)
        cmn_rows_destroy(&rows[i]);
    return code;
}

/* --- dispatch ---------------------------------------------------------- */

static int s_run(const s_opts_t *o)
{
    s_admin_t a;
    int code;

    memset(&a, 0, sizeof(a));
    a.json = o->json;
    if (strcmp(o->cmd, "gen-salt") == 0)
        return o->nargs == 0 ? s_gen_salt()
                             : admin_fail(CMN_EXIT_USAGE, "gen-salt takes no argument");
    if (strcmp(o->cmd, "gen-bus-key") == 0)
        return o->nargs == 0 ? s_gen_bus_key()
                             : admin_fail(CMN_EXIT_USAGE, "gen-bus-key takes no argument");
    bool migrate = strcmp(o->cmd, "migrate") == 0;
    bool status = strcmp(o->cmd, "status") == 0;
    bool dups = strcmp(o->cmd, "duplicates") == 0;
    bool resolve = dups && o->nargs >= 1 &&
                   (strcmp(o->args[0], "reviewed") == 0 || strcmp(o->args[0], "resolve") == 0);
    bool registry = strcmp(o->cmd, "registry") == 0;
    bool channels = strcmp(o->cmd, "channels") == 0;
    bool collisions = strcmp(o->cmd, "collisions") == 0;
    bool stats = strcmp(o->cmd, "stats") == 0;
    if (!migrate && !status && !dups && !registry && !channels && !collisions && !stats)
        return admin_fail(CMN_EXIT_USAGE, "unknown command '%s' (see --help)", o->cmd);
    if ((migrate || status || channels || collisions || stats) && o->nargs != 0)
        return admin_fail(CMN_EXIT_USAGE, "%s takes no argument", o->cmd);
    if (dups && !resolve && o->nargs != 0)
        return admin_fail(CMN_EXIT_USAGE, "usage: ciu-admin duplicates [--json] [--all] | "
                                          "duplicates reviewed ID");
    if (resolve && o->nargs != 2)
        return admin_fail(CMN_EXIT_USAGE, "usage: ciu-admin duplicates reviewed ID");
    if (registry && o->nargs != 1)
        return admin_fail(CMN_EXIT_USAGE, "usage: ciu-admin registry [--json] CIU");

    code = admin_db_open(&a.db, migrate);
    if (code == CMN_EXIT_OK) {
        if (migrate)
            code = s_cmd_migrate(&a);
        else if (status)
            code = s_cmd_status(&a);
        else if (resolve)
            code = s_cmd_duplicates_resolve(&a, o->args[1]);
        else if (dups)
            code = s_cmd_duplicates_list(&a, o->all);
        else if (channels)
            code = s_cmd_channels(&a);
        else if (collisions)
            code = s_cmd_collisions(&a);
        else if (stats)
            code = s_cmd_stats(&a);
        else
            code = s_cmd_registry(&a, o->args[0]);
    }
    admin_db_close(&a.db);
    return code;
}

/* Commands with a file of their own: argv[0] is the command. */
static const struct {
    const char *name;
    int (*main)(int argc, char **argv);
} s_commands[] = {
    {"dhis2", admin_dhis2_main},   {"check", admin_check_main},    {"lookup", admin_lookup_main},
    {"export", admin_export_main}, {"purge", admin_purge_main},    {"queues", admin_queues_main},
    {"backup", admin_backup_main}, {"restore", admin_backup_main},
};

int main(int argc, char **argv)
{
    s_opts_t o;
    int code = -1;
    admin_lang_init();
    for (size_t i = 0; argc >= 2 && i < sizeof(s_commands) / sizeof(s_commands[0]); i++)
        if (strcmp(argv[1], s_commands[i].name) == 0)
            code = s_commands[i].main(argc - 1, argv + 1);
    if (code < 0) {
        code = s_parse(argc, argv, &o);
        if (code == CMN_BOOT_DONE)
            return CMN_EXIT_OK;
        if (code != 0)
            return code;
        code = s_run(&o);
    }
    if (fflush(stdout) != 0 && code == CMN_EXIT_OK)
        code = admin_fail(CMN_EXIT_SOFTWARE, "cannot write the output: %s", strerror(errno));
    return code;
}
