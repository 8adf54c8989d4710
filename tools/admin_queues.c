/* admin_queues: `ciu-admin queues` and `queues retry` (see admin_queues.h). */
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "admin_i18n.h"
#include "admin_queues.h"
#include "admin_util.h"
#include "common/cmn_daemon.h"
#include "common/cmn_msg.h"
#include "common/cmn_str.h"

#define S_OLDER_DEFAULT_S 300
#define S_ROWS_SHOWN 20

static const char s_usage[] =
    "usage: ciu-admin queues [--json] [--older SECONDS]\n"
    "       ciu-admin queues retry [--stage sender|dhis2] [ID...]\n"
    "Work waiting at each stage: pending rows, the oldest one's age, and the rows\n"
    "pending for longer than SECONDS (default 300) by id, status, attempts and last\n"
    "error. retry makes the replies (sender) and DHIS2 registrations (dhis2) that\n"
    "wait for a later attempt due now (all, or the IDs of one stage); the stage\n"
    "takes them at its next scan. Rows in flight keep their lease.\n";

/* One stage's queue. The queries take $1 = now, $2 = stuck threshold (ms
 * since the epoch), $3 = rows shown. Columns of `rows`: id, status,
 * attempts, last error, created ms, next attempt ms. */
typedef struct {
    const char *stage;
    const char *table;
    const char *counts; /* pending, oldest created, waiting for a retry, in flight, stuck */
    const char *rows;
} s_queue_t;

static const s_queue_t s_queues[] = {
    {"conversation", "inbox",
     "SELECT COUNT(*), MIN(received_ms), 0, 0, SUM(CASE WHEN received_ms < $2 THEN 1 ELSE 0 "
     "END) FROM inbox WHERE status = 0 AND CAST($1 AS BIGINT) > 0",
     "SELECT id, 'pending', 0, NULL, received_ms, 0 FROM inbox WHERE status = 0 AND "
     "received_ms < $2 AND CAST($1 AS BIGINT) > 0 ORDER BY id LIMIT $3"},
    {"conversation", "ciu_done",
     "SELECT COUNT(*), MIN(created_ms), 0, 0, SUM(CASE WHEN created_ms < $2 THEN 1 ELSE 0 END) "
     "FROM ciu_done WHERE CAST($1 AS BIGINT) > 0",
     "SELECT id, 'pending', 0, NULL, created_ms, 0 FROM ciu_done WHERE created_ms < $2 AND "
     "CAST($1 AS BIGINT) > 0 ORDER BY id LIMIT $3"},
    {"engine", "ciu_requests",
     "SELECT COUNT(*), MIN(created_ms), 0, 0, SUM(CASE WHEN created_ms < $2 THEN 1 ELSE 0 END) "
     "FROM ciu_requests WHERE status = 0 AND CAST($1 AS BIGINT) > 0",
     "SELECT id, 'pending', 0, NULL, created_ms, 0 FROM ciu_requests WHERE status = 0 AND "
     "created_ms < $2 AND CAST($1 AS BIGINT) > 0 ORDER BY id LIMIT $3"},
    {"sender", "outbox",
     "SELECT COUNT(*), MIN(created_ms), SUM(CASE WHEN status = 0 AND next_ms > $1 THEN 1 ELSE 0 "
     "END), SUM(CASE WHEN status = 3 AND lease_ms > $1 THEN 1 ELSE 0 END), SUM(CASE WHEN "
     "created_ms < $2 THEN 1 ELSE 0 END) FROM outbox WHERE status IN (0, 3)",
     "SELECT id, CASE WHEN status = 3 AND lease_ms > $1 THEN 'in flight' WHEN status = 0 AND "
     "next_ms > $1 THEN 'retry later' ELSE 'due' END, attempts, CASE WHEN error_code IS NULL "
     "THEN last_error ELSE error_code || ': ' || COALESCE(last_error, '') END, created_ms, "
     "next_ms FROM outbox WHERE status IN (0, 3) AND created_ms < $2 ORDER BY id LIMIT $3"},
    {"dhis2", "dhis2_sync",
     "SELECT COUNT(*), MIN(created_ms), SUM(CASE WHEN next_ms > $1 AND lease_until <= $1 THEN 1 "
     "ELSE 0 END), SUM(CASE WHEN lease_until > $1 THEN 1 ELSE 0 END), SUM(CASE WHEN created_ms "
     "< $2 THEN 1 ELSE 0 END) FROM dhis2_sync WHERE status IN ('queued', 'pending')",
     "SELECT id, CASE WHEN lease_until > $1 THEN 'in flight' WHEN next_ms > $1 THEN 'retry "
     "later' ELSE status END, attempts, last_error, created_ms, next_ms FROM dhis2_sync WHERE "
     "status IN ('queued', 'pending') AND created_ms < $2 ORDER BY id LIMIT $3"},
};

#define S_NQUEUES (sizeof(s_queues) / sizeof(s_queues[0]))

static int s_show(admin_db_t *db, bool json, long older_s)
{
    int64_t now = cmn_now_ms(), threshold = now - (int64_t)older_s * 1000;
    cmn_param_t p[] = {P_INT(now), P_INT(threshold), P_INT(S_ROWS_SHOWN)};
    json_t *list = json ? json_array() : NULL;
    int64_t stuck_total = 0;
    int code = CMN_EXIT_OK;

    if (!json)
        printf(admin_tr("%-13s %-13s %8s %12s %8s %8s %8s\n"), admin_tr("STAGE"), admin_tr("TABLE"),
               admin_tr("PENDING"), admin_tr("OLDEST"), admin_tr("RETRY"), admin_tr("LEASED"),
               admin_tr("STUCK"));
    for (size_t i = 0; i < S_NQUEUES; i++) {
        const s_queue_t *q = &s_queues[i];
        cmn_rows_t *c = NULL, *rows = NULL;
        if (cmn_store_query(db->store, q->counts, p, 2, &c) < 0 ||
            cmn_store_query(db->store, q->rows, p, 3, &rows) < 0) {
            cmn_rows_destroy(&c);
            json_decref(list);
            return admin_store_fail(db->store, "read the queues");
        }
        int64_t pending = cmn_rows_int(c, 0, 0, 0), oldest = cmn_rows_int(c, 0, 1, 0);
        int64_t retry = cmn_rows_int(c, 0, 2, 0), leased = cmn_rows_int(c, 0, 3, 0);
        int64_t stuck = cmn_rows_int(c, 0, 4, 0);
        stuck_total += stuck;
        cmn_rows_destroy(&c);
        if (json) {
            json_t *r = json_array();
            for (int k = 0; k < cmn_rows_count(rows); k++) {
                int64_t next = cmn_rows_int(rows, k, 5, 0);
                json_array_append_new(
                    r, json_pack("{s:I, s:s, s:I, s:o, s:I, s:o}", "id",
                                 (json_int_t)cmn_rows_int(rows, k, 0, 0), "status",
                                 cmn_rows_get(rows, k, 1), "attempts",
                                 (json_int_t)cmn_rows_int(rows, k, 2, 0), "last_error",
                                 admin_json_text(cmn_rows_get(rows, k, 3)), "age_s",
                                 (json_int_t)((now - cmn_rows_int(rows, k, 4, now)) / 1000),
                                 "next_attempt_in_s",
                                 next > now ? json_integer((next - now) / 1000) : json_null()));
            }
            json_array_append_new(
                list, json_pack("{s:s, s:s, s:I, s:o, s:I, s:I, s:I, s:o}", "stage", q->stage,
                                "table", q->table, "pending", (json_int_t)pending, "oldest_age_s",
                                pending ? json_integer((now - oldest) / 1000) : json_null(),
                                "waiting_retry", (json_int_t)retry, "in_flight", (json_int_t)leased,
                                "stuck", (json_int_t)stuck, "stuck_rows", r));
            cmn_rows_destroy(&rows);
            continue;
        }
        char age[32] = "-";
        if (pending)
            admin_age(now - oldest, age);
        printf(admin_tr("%-13s %-13s %8lld %12s %8lld %8lld %8lld\n"), q->stage, q->table,
               (long long)pending, age, (long long)retry, (long long)leased, (long long)stuck);
        for (int k = 0; k < cmn_rows_count(rows); k++) {
            const char *err = cmn_rows_get(rows, k, 3);
            admin_age(now - cmn_rows_int(rows, k, 4, now), age);
            printf(admin_tr("    id %lld: %s, %lld attempts, waiting for %s%s%s\n"),
                   (long long)cmn_rows_int(rows, k, 0, 0), admin_tr(cmn_rows_get(rows, k, 1)),
                   (long long)cmn_rows_int(rows, k, 2, 0), age, err ? ": " : "", err ? err : "");
        }
        if (stuck > cmn_rows_count(rows))
            printf(admin_tr("    ... and %lld more\n"), (long long)(stuck - cmn_rows_count(rows)));
        cmn_rows_destroy(&rows);
    }
    if (json)
        return admin_print_json(json_pack("{s:I, s:I, s:o}", "older_than_s", (json_int_t)older_s,
                                          "stuck", (json_int_t)stuck_total, "stages", list));
    if (stuck_total > 0)
        printf(admin_tr("%lld rows pending for more than %ld s: is every daemon running "
                        "(ciu-admin check)? Rows waiting for a retry: ciu-admin queues retry\n"),
               (long long)stuck_total, older_s);
    else
        printf(admin_tr("nothing pending for more than %ld s\n"), older_s);
    return code;
}

/* The sender's and the bridge's rows waiting for a later attempt (id 0: all). */
static int s_retry_one(admin_db_t *db, const char *stage, int64_t id, int64_t now,
                       int64_t *ret_changed)
{
    static const char outbox_all[] =
        "UPDATE outbox SET next_ms = $1 WHERE status = 0 AND next_ms > $1";
    static const char outbox_id[] =
        "UPDATE outbox SET next_ms = $1 WHERE status = 0 AND next_ms > $1 AND id = $2";
    static const char sync_all[] = "UPDATE dhis2_sync SET next_ms = $1 WHERE status = 'pending' "
                                   "AND next_ms > $1 AND lease_until <= $1";
    static const char sync_id[] = "UPDATE dhis2_sync SET next_ms = $1 WHERE status = 'pending' "
                                  "AND next_ms > $1 AND lease_until <= $1 AND id = $2";
    bool sender = strcmp(stage, "sender") == 0;
    cmn_param_t p[] = {P_INT(now), P_INT(id)};
    const char *sql = sender ? (id ? outbox_id : outbox_all) : (id ? sync_id : sync_all);
    return cmn_store_exec(db->store, sql, p, id ? 2 : 1, ret_changed);
}

static int s_retry(admin_db_t *db, const char *stage, int nids, char **ids)
{
    int64_t now = cmn_now_ms(), total = 0, missed = 0;
    static const char *const stages[] = {"sender", "dhis2"};

    for (size_t s = 0; s < 2; s++) {
        if (stage && strcmp(stage, stages[s]) != 0)
            continue;
        int64_t changed = 0;
        if (nids == 0) {
            if (s_retry_one(db, stages[s], 0, now, &changed) < 0)
                return admin_store_fail(db->store, "re-schedule the rows");
            printf(admin_tr("%s: %lld rows waiting for a retry are due now\n"), stages[s],
                   (long long)changed);
            total += changed;
            continue;
        }
        for (int i = 0; i < nids; i++) {
            long id = 0;
            cmn_parse_long(ids[i], 1, LONG_MAX, &id);
            if (s_retry_one(db, stages[s], id, now, &changed) < 0)
                return admin_store_fail(db->store, "re-schedule the rows");
            if (changed == 0) {
                printf(admin_tr("%s: row %ld is not waiting for a retry (done, in flight or "
                                "unknown)\n"),
                       stages[s], id);
                missed++;
            } else {
                printf(admin_tr("%s: row %ld is due now\n"), stages[s], id);
            }
            total += changed;
        }
    }
    printf(admin_tr("%lld rows re-scheduled: each stage takes them at its next scan "
                    "(CIU_RESCAN_MS)\n"),
           (long long)total);
    return nids > 0 && total == 0 && missed > 0 ? ADMIN_EXIT_NOT_FOUND : CMN_EXIT_OK;
}

int admin_queues_main(int argc, char **argv)
{
    static const struct option longopts[] = {{"json", no_argument, NULL, 'j'},
                                             {"older", required_argument, NULL, 'o'},
                                             {"stage", required_argument, NULL, 's'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    bool json = false;
    const char *stage = NULL;
    long older = S_OLDER_DEFAULT_S;
    admin_db_t db;
    int c, code;

    if (admin_args_begin(argc, argv, s_usage))
        return CMN_EXIT_OK;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 'j') {
            json = true;
        } else if (c == 's') {
            stage = optarg;
        } else if (c == 'o') {
            if (cmn_parse_long(optarg, 0, 86400L * 365, &older) < 0)
                return admin_fail(CMN_EXIT_USAGE, "queues: --older wants a number of seconds");
        } else {
            return admin_fail(CMN_EXIT_USAGE, "queues: unknown option '%s' (see --help)",
                              argv[optind - 1]);
        }
    }
    bool retry = optind < argc && strcmp(argv[optind], "retry") == 0;
    int nids = retry ? argc - optind - 1 : 0;
    char **ids = argv + optind + 1;
    if (!retry && optind < argc)
        return admin_fail(CMN_EXIT_USAGE, "queues: unknown argument '%s' (see --help)",
                          argv[optind]);
    if (!retry && stage)
        return admin_fail(CMN_EXIT_USAGE, "queues: --stage goes with retry");
    if (retry && json)
        return admin_fail(CMN_EXIT_USAGE, "queues: retry has no --json");
    if (retry && stage && strcmp(stage, "sender") != 0 && strcmp(stage, "dhis2") != 0) {
        if (strcmp(stage, "conversation") == 0 || strcmp(stage, "engine") == 0) {
            printf(admin_tr("%s: nothing to re-schedule: it takes every pending row at each "
                            "scan (CIU_RESCAN_MS); rows that stay pending mean it is not "
                            "running\n"),
                   stage);
            return CMN_EXIT_OK;
        }
        return admin_fail(CMN_EXIT_USAGE, "queues retry: --stage is sender or dhis2 (not '%s')",
                          stage);
    }
    if (nids > 0 && stage == NULL)
        return admin_fail(CMN_EXIT_USAGE, "queues retry: row ids need --stage sender or dhis2");
    for (int i = 0; i < nids; i++) {
        long id;
        if (cmn_parse_long(ids[i], 1, LONG_MAX, &id) < 0)
            return admin_fail(CMN_EXIT_USAGE, "queues retry: '%s' is not a row id", ids[i]);
    }
    code = admin_db_ready(&db);
    if (code == CMN_EXIT_OK)
        code = retry ? s_retry(&db, stage, nids, ids) : s_show(&db, json, older);
    admin_db_close(&db);
    return code;
}
