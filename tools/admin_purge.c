/* admin_purge: `ciu-admin purge` (see admin_purge.h). */
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "admin_i18n.h"
#include "admin_purge.h"
#include "admin_util.h"
#include "common/cmn_daemon.h"
#include "common/cmn_msg.h"
#include "common/cmn_retention.h"
#include "common/cmn_str.h"

#define S_DAY_MS ((int64_t)86400 * 1000)
#define S_DAYS_MAX 36500

static const char s_usage[] =
    "usage: ciu-admin purge [--days N] [--dry-run] [--json]\n"
    "Delete finished work older than N days (default: CIU_RETENTION_DAYS, 0 keeps\n"
    "everything): processed messages, sent replies, delivery reports, simulator\n"
    "messages, Meta media ids, flood counters, events and idle sessions. Never the\n"
    "registry, pending work, the DHIS2 queue or duplicates. --dry-run only counts.\n";

int admin_purge_main(int argc, char **argv)
{
    static const struct option longopts[] = {{"days", required_argument, NULL, 'd'},
                                             {"dry-run", no_argument, NULL, 'n'},
                                             {"json", no_argument, NULL, 'j'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *days_arg = NULL;
    bool dry = false, json = false;
    admin_db_t db;
    cmn_retention_counts_t counts;
    long days = 0;
    int c, code;

    if (admin_args_begin(argc, argv, s_usage))
        return CMN_EXIT_OK;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 'd')
            days_arg = optarg;
        else if (c == 'n')
            dry = true;
        else if (c == 'j')
            json = true;
        else
            return admin_fail(CMN_EXIT_USAGE, "purge: unknown option '%s' (see --help)",
                              argv[optind - 1]);
    }
    if (optind != argc)
        return admin_fail(CMN_EXIT_USAGE, "purge takes no argument (see --help)");
    if (days_arg && cmn_parse_long(days_arg, 0, S_DAYS_MAX, &days) < 0)
        return admin_fail(CMN_EXIT_USAGE, "purge: --days wants a number of days, 0 to %d",
                          S_DAYS_MAX);

    code = admin_db_ready(&db);
    if (code != CMN_EXIT_OK)
        goto out;
    if (days_arg == NULL)
        days = db.settings.retention_days;
    if (days == 0) {
        if (json)
            code = admin_print_json(json_pack("{s:i, s:b, s:b, s:o}", "days", 0, "dry_run", dry,
                                              "kept_forever", 1, "deleted", json_object()));
        else
            printf("%s", admin_tr("retention is 0 days (CIU_RETENTION_DAYS=0): nothing is "
                                  "deleted\n"));
        goto out;
    }
    int64_t cutoff = cmn_now_ms() - (int64_t)days * S_DAY_MS;
    int r = cmn_retention_purge(db.store, cutoff, dry, 0, &counts);
    if (r < 0) {
        code = admin_store_fail(db.store, "purge old rows");
        /* what was deleted before the error is still reported */
    }
    char when[32];
    admin_iso(cutoff, when);
    int64_t total = 0;
    if (json) {
        json_t *t = json_object();
        for (int i = 0; i < counts.n; i++) {
            json_object_set_new(t, counts.table[i], json_integer(counts.rows[i]));
            total += counts.rows[i];
        }
        int pc = admin_print_json(json_pack("{s:i, s:b, s:s, s:o, s:I}", "days", (int)days,
                                            "dry_run", dry, "older_than", when, "deleted", t,
                                            "total", (json_int_t)total));
        if (code == CMN_EXIT_OK)
            code = pc;
        goto out;
    }
    printf(dry ? admin_tr("rows older than %ld days (before %s) that purge would delete:\n")
               : admin_tr("deleted rows older than %ld days (before %s):\n"),
           days, when);
    for (int i = 0; i < counts.n; i++) {
        printf("  %-16s %lld\n", counts.table[i], (long long)counts.rows[i]);
        total += counts.rows[i];
    }
    printf(admin_tr("  %-16s %lld\n"), admin_tr("total"), (long long)total);
out:
    admin_db_close(&db);
    return code;
}
