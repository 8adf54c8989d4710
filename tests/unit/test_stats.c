/* test_stats: cmn_stats on known rows, on SQLite and on PostgreSQL (a
 * fresh database per case, see test_db.h). Each figure of the dashboard is
 * checked against the rows inserted here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/cmn_msg.h"
#include "common/cmn_stats.h"
#include "common/cmn_store.h"
#include "test_db.h"

#define DAY INT64_C(86400000)
/* 2026-11-30 13:35 UTC, a Monday */
#define NOW INT64_C(1796045705464)
#define TODAY (NOW / DAY * DAY)

static cmn_store_t *s_open(tdb_group_t *g)
{
    cmn_store_t *st = tdb_open(g);
    assert_non_null(st);
    assert_int_equal(cmn_store_migrate(st), 0);
    return st;
}

static void s_exec(cmn_store_t *st, const char *sql, const cmn_param_t *p, int n)
{
    int r = cmn_store_exec(st, sql, p, n, NULL);
    if (r < 0)
        fail_msg("%s: %s", sql, cmn_store_errmsg(st));
}

static void s_registry(cmn_store_t *st, const char *ciu, int64_t first_ms, int count)
{
    cmn_param_t p[] = {P_TEXT(ciu), P_INT(count), P_INT(first_ms)};
    s_exec(st,
           "INSERT INTO registry (ciu, reg_key, first_user_key, request_count, first_ms, last_ms) "
           "VALUES ($1, 'rk', 'uk', $2, $3, $3)",
           p, 3);
}

static void s_event(cmn_store_t *st, const char *type, int64_t ts, const char *detail,
                    int64_t duration)
{
    static int n;
    char id[32];
    snprintf(id, sizeof(id), "ev%d", ++n);
    cmn_param_t p[] = {P_TEXT(id), P_TEXT(type), P_INT(ts), P_TEXT(detail), P_INT(duration)};
    s_exec(st,
           "INSERT INTO events (id, type, ts_ms, detail, duration_ms) VALUES ($1, $2, $3, $4, $5)",
           p, 5);
}

static void s_dup(cmn_store_t *st, const char *ciu, const char *user, const char *status)
{
    cmn_param_t p[] = {P_TEXT(ciu), P_TEXT(user), P_INT(NOW - 1000), P_TEXT(status)};
    s_exec(st,
           "INSERT INTO duplicates (kind, ciu, other_ciu, user_key, created_ms, status) VALUES "
           "('same_ciu_other_number', $1, NULL, $2, $3, $4)",
           p, 4);
}

static void s_sync(cmn_store_t *st, const char *ciu, const char *status, int64_t created,
                   const char *err)
{
    cmn_param_t p[] = {P_TEXT(ciu), P_TEXT(status), P_INT(created), P_TEXT(err),
                       P_TEXT(err ? "E1064" : NULL)};
    s_exec(st,
           "INSERT INTO dhis2_sync (ciu, status, next_ms, created_ms, updated_ms, last_error, "
           "trace, http_status, error_codes) VALUES ($1, $2, $3, $3, $3, $4, 't', 409, $5)",
           p, 5);
}

static void s_outbox(cmn_store_t *st, const char *id, int status, int64_t created, const char *code)
{
    cmn_param_t p[] = {P_TEXT(id), P_INT(status), P_INT(created), P_TEXT(code)};
    s_exec(st,
           "INSERT INTO outbox (msg_id, channel, user_key, body, status, next_ms, created_ms, "
           "trace, error_code) VALUES ($1, 'meta', 'uk', 'b', $2, $3, $3, 't', $4)",
           p, 4);
}

static void s_delivery(cmn_store_t *st, const char *id, const char *status, int rank,
                       const char *code)
{
    cmn_param_t p[] = {P_TEXT(id), P_TEXT(status), P_INT(rank), P_TEXT(code), P_INT(NOW)};
    s_exec(st,
           "INSERT INTO deliveries (channel, provider_id, status, status_rank, error_code, "
           "updated_ms) VALUES ('meta', $1, $2, $3, $4, $5)",
           p, 5);
}

/* The rows every case of "figures" reads. */
static void s_fill(cmn_store_t *st)
{
    s_registry(st, "MBEIBR7DA1", TODAY + 1000, 2);
    s_registry(st, "KAPJEA5KN2", TODAY - DAY + 5, 1);
    s_registry(st, "LUKMAR0DA2", TODAY - 10 * DAY, 1);
    s_registry(st, "OLDOLD1KN3", TODAY - 400 * DAY, 1); /* outside every chart */

    s_event(st, CMN_EV_CONV_STARTED, NOW - 5000, "", 0);
    s_event(st, CMN_EV_CONV_STARTED, NOW - 4000, "", 0);
    s_event(st, CMN_EV_CONV_STARTED, NOW - 3000, "", 0);
    s_event(st, CMN_EV_CONV_STARTED, NOW - 2000, "", 0);
    s_event(st, CMN_EV_CONV_STARTED, NOW - 40 * DAY, "", 0); /* outside the window */
    s_event(st, CMN_EV_CONV_COMPLETED, NOW - 1000, "", 60000);
    s_event(st, CMN_EV_CONV_COMPLETED, NOW - 900, "", 120000);
    s_event(st, CMN_EV_CONV_COMPLETED, NOW - 800, "", 90000);
    s_event(st, CMN_EV_CONV_COMPLETED, NOW - 700, "", 300000);
    s_event(st, CMN_EV_CONV_COMPLETED, NOW - 40 * DAY, "", 999000); /* outside */
    s_event(st, CMN_EV_CONV_ABANDONED, NOW - 600, "birth_year", 0);
    s_event(st, CMN_EV_CONV_ABANDONED, NOW - 500, "birth_year", 0);
    s_event(st, CMN_EV_CONV_ABANDONED, NOW - 400, "confirm", 0);
    s_event(st, CMN_EV_CONV_ABANDONED, NOW - 300, "something", 0);
    s_event(st, CMN_EV_CIU_ISSUED, NOW - 200, "", 0); /* not a conversation event */

    s_dup(st, "MBEIBR7DA1", "user-key-secret-1", "open");
    s_dup(st, "KAPJEA5KN2", "user-key-secret-2", "open");
    s_dup(st, "LUKMAR0DA2", "user-key-secret-3", "reviewed");

    s_sync(st, "MBEIBR7DA1", "synced", NOW - 600000, NULL);
    s_sync(st, "KAPJEA5KN2", "queued", NOW - 120000, NULL);
    s_sync(st, "LUKMAR0DA2", "pending", NOW - 300000,
           "E1064: value MBEIBR7DA1 already used by te X");
    s_sync(st, "OLDOLD1KN3", "failed", NOW - 900000, NULL);

    s_outbox(st, "o1", 1, NOW - 5000, NULL);
    s_outbox(st, "o2", 1, NOW - 5000, NULL);
    s_outbox(st, "o3", 2, NOW - 5000, "131026");
    s_outbox(st, "o4", 0, NOW - 90000, NULL);
    s_outbox(st, "o5", 3, NOW - 30000, NULL);
    s_delivery(st, "p1", "delivered", 2, NULL);
    s_delivery(st, "p2", "read", 3, NULL);
    s_delivery(st, "p3", "failed", 4, "131047");
    s_delivery(st, "p4", "sent", 1, NULL);

    cmn_param_t p[] = {P_INT(NOW - 2000)};
    s_exec(st,
           "INSERT INTO inbox (msg_id, channel, user_key, kind, received_ms, trace) VALUES "
           "('i1', 'sim', 'uk', 'text', $1, 't')",
           p, 1);
}

static json_int_t s_int_at(json_t *j, const char *path)
{
    json_t *v = j;
    char buf[128], *save = NULL;
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save))
        v = (k[0] >= '0' && k[0] <= '9') ? json_array_get(v, (size_t)(k[0] - '0'))
                                         : json_object_get(v, k);
    if (!json_is_integer(v))
        fail_msg("%s is not an integer", path);
    return json_integer_value(v);
}

static json_t *s_collect(cmn_store_t *st)
{
    cmn_stats_opts_t o;
    json_t *j = NULL;
    cmn_stats_opts_init(&o, NOW);
    int r = cmn_stats_collect(st, &o, &j);
    if (r < 0)
        fail_msg("collect: %d %s", r, cmn_store_errmsg(st));
    return j;
}

static void t_figures(void **state)
{
    cmn_store_t *st = s_open(*state);
    json_t *j, *reg, *days, *weeks, *v;
    s_fill(st);
    j = s_collect(st);

    /* registrations */
    reg = json_object_get(j, "registrations");
    assert_int_equal(s_int_at(reg, "total"), 4);
    assert_int_equal(s_int_at(reg, "requests"), 5);
    assert_int_equal(s_int_at(reg, "today"), 1);
    days = json_object_get(reg, "per_day");
    assert_int_equal(json_array_size(days), CMN_STATS_DAYS);
    v = json_array_get(days, CMN_STATS_DAYS - 1);
    assert_string_equal(json_string_value(json_object_get(v, "day")), "2026-11-30");
    assert_int_equal(json_integer_value(json_object_get(v, "count")), 1);
    v = json_array_get(days, CMN_STATS_DAYS - 2);
    assert_string_equal(json_string_value(json_object_get(v, "day")), "2026-11-29");
    assert_int_equal(json_integer_value(json_object_get(v, "count")), 1);
    v = json_array_get(days, CMN_STATS_DAYS - 11);
    assert_int_equal(json_integer_value(json_object_get(v, "count")), 1);
    json_int_t sum = 0;
    size_t i;
    json_array_foreach(days, i, v) sum += json_integer_value(json_object_get(v, "count"));
    assert_int_equal(sum, 3);
    /* weeks start on Monday: 2026-11-30 is one; 11-29 and 11-20 are earlier weeks */
    weeks = json_object_get(reg, "per_week");
    assert_int_equal(json_array_size(weeks), CMN_STATS_WEEKS);
    v = json_array_get(weeks, CMN_STATS_WEEKS - 1);
    assert_string_equal(json_string_value(json_object_get(v, "week")), "2026-11-30");
    assert_int_equal(json_integer_value(json_object_get(v, "count")), 1);
    v = json_array_get(weeks, CMN_STATS_WEEKS - 2);
    assert_string_equal(json_string_value(json_object_get(v, "week")), "2026-11-23");
    assert_int_equal(json_integer_value(json_object_get(v, "count")), 1);
    v = json_array_get(weeks, CMN_STATS_WEEKS - 3);
    assert_string_equal(json_string_value(json_object_get(v, "week")), "2026-11-16");
    assert_int_equal(json_integer_value(json_object_get(v, "count")), 1);
    /* by city (most first, then by code) and by gender: all time */
    v = json_object_get(reg, "by_city");
    assert_int_equal(json_array_size(v), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(v, 0), "city")), "DA");
    assert_int_equal(s_int_at(v, "0.count"), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(v, 1), "city")), "KN");
    assert_int_equal(s_int_at(v, "1.count"), 2);
    v = json_object_get(reg, "by_gender");
    assert_int_equal(json_array_size(v), 4);
    assert_int_equal(s_int_at(v, "0.count"), 1);
    assert_int_equal(s_int_at(v, "1.count"), 2);
    assert_int_equal(s_int_at(v, "2.count"), 1);
    assert_int_equal(s_int_at(v, "3.count"), 0);

    /* conversations: in the window only; median of 60, 90, 120, 300 s = 105 s */
    assert_int_equal(s_int_at(j, "conversations.started"), 4);
    assert_int_equal(s_int_at(j, "conversations.completed"), 4);
    assert_int_equal(s_int_at(j, "conversations.abandoned"), 4);
    assert_int_equal(s_int_at(j, "conversations.completion_samples"), 4);
    v = json_object_get(json_object_get(j, "conversations"), "median_completion_s");
    assert_true(json_is_real(v));
    assert_true(json_real_value(v) > 104.99 && json_real_value(v) < 105.01);
    v = json_object_get(json_object_get(j, "conversations"), "abandoned_at");
    assert_int_equal(json_array_size(v), 7);
    assert_string_equal(json_string_value(json_object_get(json_array_get(v, 2), "question")),
                        "birth_year");
    assert_int_equal(s_int_at(v, "2.abandoned"), 2);
    assert_int_equal(s_int_at(v, "5.abandoned"), 1);
    assert_int_equal(s_int_at(v, "6.abandoned"), 1);
    assert_int_equal(s_int_at(v, "0.abandoned"), 0);

    /* duplicates, DHIS2 */
    assert_int_equal(s_int_at(j, "duplicates.open"), 2);
    assert_int_equal(s_int_at(j, "duplicates.reviewed"), 1);
    assert_int_equal(s_int_at(j, "dhis2.synced"), 1);
    assert_int_equal(s_int_at(j, "dhis2.pending"), 2);
    assert_int_equal(s_int_at(j, "dhis2.failed"), 1);
    assert_int_equal(s_int_at(j, "dhis2.oldest_pending_age_s"), 300);
    v = json_object_get(json_object_get(j, "dhis2"), "last_error");
    assert_string_equal(json_string_value(json_object_get(v, "message")),
                        "E1064: value [CIU] already used by te X");
    assert_string_equal(json_string_value(json_object_get(v, "error_codes")), "E1064");
    assert_int_equal(s_int_at(v, "http_status"), 409);

    /* delivery */
    assert_int_equal(s_int_at(j, "delivery.sent"), 2);
    assert_int_equal(s_int_at(j, "delivery.waiting"), 2);
    assert_int_equal(s_int_at(j, "delivery.delivered"), 2);
    assert_int_equal(s_int_at(j, "delivery.read"), 1);
    assert_int_equal(s_int_at(j, "delivery.failed"), 2);
    v = json_object_get(json_object_get(j, "delivery"), "failures");
    assert_int_equal(json_array_size(v), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(v, 0), "code")), "131026");
    assert_string_equal(json_string_value(json_object_get(json_array_get(v, 1), "code")), "131047");

    /* pipeline: inbox 1 (2 s), outbox 2 (oldest 90 s: late), dhis2 queued 1 (120 s: late) */
    v = json_object_get(json_object_get(j, "pipeline"), "queues");
    assert_int_equal(json_array_size(v), 5);
    assert_string_equal(json_string_value(json_object_get(json_array_get(v, 0), "queue")), "inbox");
    assert_int_equal(s_int_at(v, "0.depth"), 1);
    assert_int_equal(s_int_at(v, "0.oldest_age_s"), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(v, 0), "state")), "ok");
    assert_int_equal(s_int_at(v, "1.depth"), 0);
    assert_true(json_is_null(json_object_get(json_array_get(v, 1), "oldest_age_s")));
    assert_int_equal(s_int_at(v, "3.depth"), 2);
    assert_int_equal(s_int_at(v, "3.oldest_age_s"), 90);
    assert_string_equal(json_string_value(json_object_get(json_array_get(v, 3), "state")), "late");
    assert_int_equal(s_int_at(v, "4.depth"), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(v, 4), "state")), "late");

    /* no personal data: no user key, no CIU anywhere in the figures */
    char *text = json_dumps(j, 0);
    assert_non_null(text);
    assert_null(strstr(text, "user-key-secret"));
    assert_null(strstr(text, "uk\""));
    assert_null(strstr(text, "MBEIBR7DA1"));
    assert_null(strstr(text, "KAPJEA5KN2"));
    free(text);
    json_decref(j);
    cmn_store_destroy(&st);
}

static void t_empty(void **state)
{
    cmn_store_t *st = s_open(*state);
    json_t *j = s_collect(st);
    assert_int_equal(s_int_at(j, "registrations.total"), 0);
    assert_int_equal(s_int_at(j, "conversations.started"), 0);
    assert_true(
        json_is_null(json_object_get(json_object_get(j, "conversations"), "median_completion_s")));
    assert_true(json_is_null(json_object_get(json_object_get(j, "dhis2"), "last_error")));
    assert_true(json_is_null(json_object_get(json_object_get(j, "dhis2"), "oldest_pending_age_s")));
    assert_int_equal(
        json_array_size(json_object_get(json_object_get(j, "registrations"), "by_city")), 0);
    json_decref(j);
    cmn_stats_opts_t o;
    cmn_stats_opts_init(&o, NOW);
    o.days = 0;
    assert_int_equal(cmn_stats_collect(st, &o, &j), -EINVAL);
    cmn_store_destroy(&st);
}

static void t_median_odd(void **state)
{
    cmn_store_t *st = s_open(*state);
    s_event(st, CMN_EV_CONV_COMPLETED, NOW - 10, "", 30000);
    s_event(st, CMN_EV_CONV_COMPLETED, NOW - 20, "", 10000);
    s_event(st, CMN_EV_CONV_COMPLETED, NOW - 30, "", 20000);
    json_t *j = s_collect(st);
    json_t *v = json_object_get(json_object_get(j, "conversations"), "median_completion_s");
    assert_true(json_real_value(v) > 19.99 && json_real_value(v) < 20.01);
    json_decref(j);
    cmn_store_destroy(&st);
}

static void t_duplicates(void **state)
{
    cmn_store_t *st = s_open(*state);
    json_t *arr = NULL;
    s_fill(st);
    assert_int_equal(cmn_stats_duplicates(st, 10, &arr), 0);
    assert_int_equal(json_array_size(arr), 2);
    json_t *first = json_array_get(arr, 0);
    assert_string_equal(json_string_value(json_object_get(first, "ciu")), "MBEIBR7DA1");
    assert_null(json_object_get(first, "user_key"));
    char *text = json_dumps(arr, 0);
    assert_null(strstr(text, "user-key-secret"));
    free(text);
    int64_t id = json_integer_value(json_object_get(first, "id"));
    json_decref(arr);

    assert_int_equal(cmn_stats_duplicate_reviewed(st, id), 0);
    assert_int_equal(cmn_stats_duplicate_reviewed(st, id), -ENOENT); /* already reviewed */
    assert_int_equal(cmn_stats_duplicate_reviewed(st, 999999), -ENOENT);
    assert_int_equal(cmn_stats_duplicate_reviewed(st, 0), -EINVAL);
    assert_int_equal(cmn_stats_duplicates(st, 10, &arr), 0);
    assert_int_equal(json_array_size(arr), 1);
    json_decref(arr);
    assert_int_equal(cmn_stats_duplicates(st, 0, &arr), -EINVAL);
    json_t *j = s_collect(st);
    assert_int_equal(s_int_at(j, "duplicates.open"), 1);
    assert_int_equal(s_int_at(j, "duplicates.reviewed"), 2);
    json_decref(j);
    cmn_store_destroy(&st);
}

#define CASES(prefix)                                                                              \
    cmocka_unit_test_setup_teardown(t_figures, tdb_case_setup, tdb_case_teardown),                 \
        cmocka_unit_test_setup_teardown(t_empty, tdb_case_setup, tdb_case_teardown),               \
        cmocka_unit_test_setup_teardown(t_median_odd, tdb_case_setup, tdb_case_teardown),          \
        cmocka_unit_test_setup_teardown(t_duplicates, tdb_case_setup, tdb_case_teardown)

int main(void)
{
    const struct CMUnitTest cases_sqlite[] = {CASES(sqlite)};
    const struct CMUnitTest cases_pg[] = {CASES(pg)};
    int fails = cmocka_run_group_tests_name("stats_sqlite", cases_sqlite, tdb_group_sqlite,
                                            tdb_group_teardown);
    fails +=
        cmocka_run_group_tests_name("stats_postgres", cases_pg, tdb_group_pg, tdb_group_teardown);
    return fails ? 1 : 0;
}
