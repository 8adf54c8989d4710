/* Unit tests for cmn_retention on SQLite and PostgreSQL: old finished rows
 * go in batches, recent ones and unfinished work stay, a dry run only
 * counts, the registry is never touched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/cmn_retention.h"
#include "common/cmn_store.h"
#include "test_db.h"

#define DAY ((int64_t)86400 * 1000)
#define NOW ((int64_t)1800000000000) /* 2027-01-15 */
#define OLD (NOW - 100 * DAY)
#define CUTOFF (NOW - 90 * DAY)

static void s_exec(cmn_store_t *st, const char *sql, const cmn_param_t *p, int n)
{
    if (cmn_store_exec(st, sql, p, n, NULL) < 0)
        fail_msg("%s: %s", sql, cmn_store_errmsg(st));
}

static int64_t s_count(cmn_store_t *st, const char *sql)
{
    int64_t n = -1;
    assert_int_equal(cmn_store_query_int(st, sql, NULL, 0, -1, &n), 0);
    return n;
}

static int64_t s_rows(const cmn_retention_counts_t *c, const char *table)
{
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->table[i], table) == 0)
            return c->rows[i];
    fail_msg("no table %s in the counts", table);
    return -1;
}

/* 7 old processed inbox rows, 1 old pending, 1 recent processed; outbox: 2
 * old sent, 1 old failed, 1 old waiting, 1 old in flight, 1 recent sent;
 * 5 old events and 1 recent; an old session and a recent one; one registry
 * row from long ago. */
static void s_fill(cmn_store_t *st)
{
    char id[32];
    for (int i = 0; i < 9; i++) {
        snprintf(id, sizeof(id), "in-%d", i);
        cmn_param_t p[] = {P_TEXT(id), P_INT(i == 8 ? NOW : OLD), P_INT(i == 7 ? 0 : 1)};
        s_exec(st,
               "INSERT INTO inbox (msg_id, channel, user_key, kind, received_ms, trace, status) "
               "VALUES ($1, 'sim', 'u', 'text', $2, 't', $3)",
               p, 3);
    }
    static const int status[] = {1, 1, 2, 0, 3, 1};
    for (int i = 0; i < 6; i++) {
        snprintf(id, sizeof(id), "out-%d", i);
        cmn_param_t p[] = {P_TEXT(id), P_INT(status[i]), P_INT(i == 5 ? NOW : OLD)};
        s_exec(st,
               "INSERT INTO outbox (msg_id, channel, user_key, body, status, next_ms, "
               "created_ms, trace) VALUES ($1, 'sim', 'u', 'b', $2, $3, $3, 't')",
               p, 3);
    }
    for (int i = 0; i < 6; i++) {
        snprintf(id, sizeof(id), "ev-%d", i);
        cmn_param_t p[] = {P_TEXT(id), P_INT(i == 5 ? NOW : OLD)};
        s_exec(st, "INSERT INTO events (id, type, ts_ms) VALUES ($1, 'test', $2)", p, 2);
    }
    for (int i = 0; i < 2; i++) {
        cmn_param_t p[] = {P_TEXT(i ? "recent" : "old"), P_INT(i ? NOW : OLD)};
        s_exec(st,
               "INSERT INTO sessions (user_key, lang, step, updated_ms) VALUES ($1, 'fr', 1, $2)",
               p, 2);
        s_exec(st,
               "INSERT INTO deliveries (channel, provider_id, status, status_rank, updated_ms) "
               "VALUES ('meta', $1, 'read', 3, $2)",
               p, 2);
    }
    cmn_param_t r[] = {P_INT(OLD)};
    s_exec(st,
           "INSERT INTO registry (ciu, reg_key, first_user_key, request_count, first_ms, "
           "last_ms) VALUES ('MBEIBR7DA1', 'k', 'u', 1, $1, $1)",
           r, 1);
}

static void test_purge(void **state)
{
    tdb_group_t *g = *state;
    cmn_store_t *st = tdb_open(g);
    cmn_retention_counts_t c;
    assert_non_null(st);
    assert_int_equal(cmn_store_migrate(st), 0);
    s_fill(st);

    /* dry run: counts, deletes nothing */
    assert_int_equal(cmn_retention_purge(st, CUTOFF, true, 2, &c), 0);
    assert_int_equal(c.n, CMN_RETENTION_TABLES);
    assert_int_equal(s_rows(&c, "inbox"), 7);
    assert_int_equal(s_rows(&c, "outbox"), 3);
    assert_int_equal(s_rows(&c, "events"), 5);
    assert_int_equal(s_rows(&c, "sessions"), 1);
    assert_int_equal(s_rows(&c, "deliveries"), 1);
    assert_int_equal(s_count(st, "SELECT COUNT(*) FROM inbox"), 9);

    /* batches of 2: 7 rows take 4 transactions */
    assert_int_equal(cmn_retention_purge(st, CUTOFF, false, 2, &c), 0);
    assert_int_equal(s_rows(&c, "inbox"), 7);
    assert_int_equal(s_rows(&c, "outbox"), 3);
    assert_int_equal(s_rows(&c, "events"), 5);
    assert_int_equal(s_count(st, "SELECT COUNT(*) FROM inbox"), 2);
    assert_int_equal(s_count(st, "SELECT COUNT(*) FROM inbox WHERE status = 0"), 1);
    assert_int_equal(s_count(st, "SELECT COUNT(*) FROM outbox"), 3);
    assert_int_equal(s_count(st, "SELECT COUNT(*) FROM outbox WHERE status IN (0, 3)"), 2);
    assert_int_equal(s_count(st, "SELECT COUNT(*) FROM events"), 1);
    assert_int_equal(s_count(st, "SELECT COUNT(*) FROM sessions WHERE user_key = 'recent'"), 1);
    assert_int_equal(s_count(st, "SELECT COUNT(*) FROM sessions"), 1);
    assert_int_equal(s_count(st, "SELECT COUNT(*) FROM deliveries"), 1);
    assert_int_equal(s_count(st, "SELECT COUNT(*) FROM registry"), 1);

    /* nothing left to do */
    assert_int_equal(cmn_retention_purge(st, CUTOFF, false, 0, &c), 0);
    for (int i = 0; i < c.n; i++)
        assert_int_equal(c.rows[i], 0);
    assert_int_equal(cmn_retention_purge(NULL, CUTOFF, false, 0, &c), -EINVAL);
    cmn_store_destroy(&st);
}

#define CASE(f) cmocka_unit_test_setup_teardown(f, tdb_case_setup, tdb_case_teardown)

int main(void)
{
    const struct CMUnitTest db[] = {CASE(test_purge)};
    int failed = 0;
    failed +=
        cmocka_run_group_tests_name("retention_sqlite", db, tdb_group_sqlite, tdb_group_teardown);
    failed +=
        cmocka_run_group_tests_name("retention_postgres", db, tdb_group_pg, tdb_group_teardown);
    return failed ? 1 : 0;
}
