/* test_stage: the shared stage pieces of common: cmn_hash (FNV-1a, shard
 * buckets), cmn_keyset (batch de-duplication), cmn_announce (post-commit
 * announcements) and cmn_stage (scans by shard, transactions that announce
 * once). The scan and transaction cases run on SQLite and PostgreSQL.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/cmn_stage.h"
#include "test_db.h"
#include "test_util.h"

/* ------------------------------------------------------------------- hash */

static void test_fnv1a(void **state)
{
    (void)state;
    /* Published FNV-1a 64-bit test vectors. */
    assert_true(cmn_fnv1a_str("") == 0xcbf29ce484222325ULL);
    assert_true(cmn_fnv1a_str("a") == 0xaf63dc4c8601ec8cULL);
    assert_true(cmn_fnv1a_str("foobar") == 0x85944171f73967e8ULL);
    assert_true(cmn_fnv1a("foobar", 6) == cmn_fnv1a_str("foobar"));
    assert_true(cmn_fnv1a(NULL, 0) == cmn_fnv1a_str(NULL));
}

static void test_shard(void **state)
{
    char key[32];
    int seen[4] = {0};

    (void)state;
    assert_int_equal(cmn_shard_bucket(NULL), 0);
    assert_int_equal(cmn_shard_replica("x", 0), 0);
    assert_int_equal(cmn_shard_replica("x", 1), 0);
    for (int i = 0; i < 4000; i++) {
        snprintf(key, sizeof(key), "person-%d", i);
        int b = cmn_shard_bucket(key);
        assert_true(b >= 0 && b < CMN_SHARD_BUCKETS);
        assert_int_equal(b, (int)(cmn_fnv1a_str(key) % CMN_SHARD_BUCKETS));
        /* The push and the scans agree for every replica count. */
        for (size_t n = 1; n <= 7; n++) {
            assert_int_equal(cmn_bus_shard(key, n), (size_t)b % n);
            assert_int_equal(cmn_shard_replica(key, n), (size_t)b % n);
        }
        seen[cmn_shard_replica(key, 4)]++;
    }
    for (int i = 0; i < 4; i++)
        assert_true(seen[i] > 800); /* roughly even */
}

/* ----------------------------------------------------------------- keyset */

static void test_keyset(void **state)
{
    cmn_keyset_t *ks = cmn_keyset_new(3);
    char long_key[CMN_KEY_MAX + 2];

    (void)state;
    assert_null(cmn_keyset_new(0));
    assert_non_null(ks);
    assert_int_equal(cmn_keyset_add(ks, "b"), 1);
    assert_int_equal(cmn_keyset_add(ks, "a"), 1);
    assert_int_equal(cmn_keyset_add(ks, "b"), 0);
    assert_int_equal(cmn_keyset_count(ks), 2);
    assert_string_equal(cmn_keyset_key(ks, 0), "b"); /* first-seen order */
    assert_string_equal(cmn_keyset_key(ks, 1), "a");
    assert_null(cmn_keyset_key(ks, 2));
    assert_int_equal(cmn_keyset_find(ks, "a"), 1);
    assert_int_equal(cmn_keyset_find(ks, "z"), -ENOENT);
    assert_int_equal(cmn_keyset_add(ks, ""), -EINVAL);
    assert_int_equal(cmn_keyset_add(ks, NULL), -EINVAL);
    memset(long_key, 'k', sizeof(long_key) - 1);
    long_key[sizeof(long_key) - 1] = '\0';
    assert_int_equal(cmn_keyset_add(ks, long_key), -EINVAL);
    long_key[CMN_KEY_MAX] = '\0';
    assert_int_equal(cmn_keyset_add(ks, long_key), 1);
    assert_true(cmn_keyset_full(ks));
    assert_int_equal(cmn_keyset_add(ks, "c"), -ENOSPC);
    assert_int_equal(cmn_keyset_add(ks, "a"), 0); /* present: not an error when full */
    cmn_keyset_clear(ks);
    assert_int_equal(cmn_keyset_count(ks), 0);
    assert_int_equal(cmn_keyset_find(ks, "a"), -ENOENT);
    assert_int_equal(cmn_keyset_add(ks, "a"), 1);
    cmn_keyset_destroy(&ks);
    assert_null(ks);
    cmn_keyset_destroy(&ks);
}

static void test_keyset_msgs(void **state)
{
    cmn_keyset_t *ks = cmn_keyset_new(8);
    cmn_msg_t m[5];

    (void)state;
    for (int i = 0; i < 5; i++)
        cmn_msg_init(&m[i], CMN_MSG_INBOUND, NULL);
    cmn_strlcpy(m[0].user, "u1", sizeof(m[0].user));
    cmn_strlcpy(m[1].user, "u2", sizeof(m[1].user));
    cmn_strlcpy(m[2].user, "u1", sizeof(m[2].user));       /* a burst: once */
    cmn_strlcpy(m[3].ciu, "MBEIBR7DA1", sizeof(m[3].ciu)); /* no user: the CIU */
    cmn_msg_init(&m[4], CMN_MSG_OUTBOUND, NULL);           /* another type */
    cmn_strlcpy(m[4].user, "u9", sizeof(m[4].user));
    assert_int_equal(cmn_keyset_add_msgs(ks, m, 5, CMN_MSG_INBOUND), 3);
    assert_string_equal(cmn_keyset_key(ks, 0), "u1");
    assert_string_equal(cmn_keyset_key(ks, 1), "u2");
    assert_string_equal(cmn_keyset_key(ks, 2), "MBEIBR7DA1");
    cmn_keyset_destroy(&ks);
}

/* --------------------------------------------------------------- announce */

static void test_announce(void **state)
{
    char dir[64] = "/tmp/ciu-stage-XXXXXX", ep[128];
    cmn_metrics_t *m = cmn_metrics_new("t");
    cmn_counter_t *c = cmn_metrics_counter(m, "n_total", NULL, "n");
    cmn_bus_t *bus = cmn_bus_new();
    cmn_announce_t *a = cmn_announce_new(3);
    cmn_push_t *push;
    cmn_pull_t *pull;
    cmn_msg_t msg, got;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(ep, sizeof(ep), "ipc://%s/pull", dir);
    pull = cmn_pull_new(bus, ep);
    push = cmn_push_new(bus, ep);
    assert_non_null(pull);
    assert_non_null(push);
    assert_null(cmn_announce_new(0));
    cmn_msg_init(&msg, CMN_MSG_OUTBOUND, NULL);
    cmn_strlcpy(msg.user, "u1", sizeof(msg.user));

    /* Cleared (a rolled-back attempt): nothing is sent or counted. */
    assert_int_equal(cmn_announce_count(a, c, 5), 0);
    assert_int_equal(cmn_announce_push(a, push, &msg), 0);
    cmn_announce_clear(a);
    assert_int_equal(cmn_announce_flush(a), 0);
    assert_int_equal(cmn_counter_get(c), 0);
    assert_int_equal(cmn_pull_wait(pull, 100), 0);

    /* Flushed: in order, once; the list has a hard maximum. */
    assert_int_equal(cmn_announce_count(a, c, 2), 0);
    msg.row = 7;
    assert_int_equal(cmn_announce_push(a, push, &msg), 0);
    msg.row = 8; /* copied when queued */
    assert_int_equal(cmn_announce_count(a, c, 1), 0);
    assert_int_equal(cmn_announce_count(a, c, 1), -ENOSPC);
    assert_int_equal(cmn_announce_size(a), 3);
    assert_int_equal(cmn_announce_push(NULL, push, &msg), -EINVAL);
    assert_int_equal(cmn_announce_flush(a), 0);
    assert_int_equal(cmn_announce_size(a), 0);
    assert_int_equal(cmn_counter_get(c), 3);
    assert_int_equal(cmn_pull_wait(pull, 5000), 1);
    assert_int_equal(cmn_pull_recv(pull, &got), 0);
    assert_int_equal(got.row, 7);
    assert_string_equal(got.user, "u1");
    assert_int_equal(cmn_announce_flush(a), 0); /* empty */
    assert_int_equal(cmn_counter_get(c), 3);

    cmn_announce_destroy(&a);
    assert_null(a);
    cmn_push_destroy(&push);
    cmn_pull_destroy(&pull);
    cmn_bus_destroy(&bus);
    cmn_metrics_destroy(&m);
    tu_rmdir_flat(dir);
}

/* ------------------------------------------------------------- scan, tx */

static cmn_store_t *s_open_migrated(tdb_group_t *g)
{
    cmn_store_t *st = tdb_open(g);

    assert_non_null(st);
    assert_int_equal(cmn_store_migrate(st), 0);
    return st;
}

static void s_insert_inbox(cmn_store_t *st, const char *user, int n)
{
    char id[64];

    for (int i = 0; i < n; i++) {
        snprintf(id, sizeof(id), "%s-%d", user, i);
        cmn_param_t p[] = {P_TEXT(id), P_TEXT(user), P_INT(cmn_shard_bucket(user))};
        assert_int_equal(cmn_store_exec(st,
                                        "INSERT INTO inbox (msg_id, channel, user_key, kind, "
                                        "received_ms, trace, shard) VALUES ($1, 'sim', $2, "
                                        "'text', 1, $1, $3)",
                                        p, 3, NULL),
                         0);
    }
}

/* A key of replica `want` among `count`. */
static void s_key_of(char *out, size_t len, const char *prefix, int i, size_t want, size_t count)
{
    for (int k = i * 1000;; k++) {
        snprintf(out, len, "%s-%d", prefix, k);
        if (cmn_shard_replica(out, count) == want)
            return;
    }
}

typedef struct {
    char seen[64][CMN_KEY_MAX + 1];
    size_t nseen;
    int calls;
    int fail_at; /* call number that fails, 0: none */
} s_collect_t;

static int s_collect(void *arg, const cmn_keyset_t *keys)
{
    s_collect_t *c = arg;

    c->calls++;
    if (c->calls == c->fail_at)
        return -EIO;
    for (size_t i = 0; i < cmn_keyset_count(keys) && c->nseen < 64; i++)
        cmn_strlcpy(c->seen[c->nseen++], cmn_keyset_key(keys, i), CMN_KEY_MAX + 1);
    return 0;
}

static const char s_scan_sql[] = "SELECT user_key FROM inbox WHERE status = 0 AND shard % $1 = $2 "
                                 "GROUP BY user_key ORDER BY min(id) LIMIT $3";

/* Issue 6, item 5: a dead replica's backlog (older rows, more than the
 * limit) does not hide the rows of a live replica. */
static void test_scan_by_shard(void **state)
{
    tdb_group_t *g = *state;
    cmn_store_t *st = s_open_migrated(g);
    cmn_keyset_t *keys = cmn_keyset_new(2);
    cmn_scan_t scan = {.sql = s_scan_sql, .limit = 5};
    s_collect_t c = {0};
    char key[64];

    assert_int_equal(cmn_store_begin(st), 0);
    for (int i = 0; i < 20; i++) { /* replica 1 of 2 is down: its people wait */
        s_key_of(key, sizeof(key), "dead", i, 1, 2);
        s_insert_inbox(st, key, 2);
    }
    for (int i = 0; i < 3; i++) {
        s_key_of(key, sizeof(key), "live", i, 0, 2);
        s_insert_inbox(st, key, 1);
    }
    assert_int_equal(cmn_store_commit(st), 0);

    assert_int_equal(cmn_stage_scan(st, &scan, 0, 2, keys, s_collect, &c), 3);
    assert_int_equal(c.nseen, 3);
    assert_int_equal(c.calls, 2); /* chunks of the keyset's capacity: 2 + 1 */
    for (size_t i = 0; i < c.nseen; i++) {
        s_key_of(key, sizeof(key), "live", (int)i, 0, 2);
        assert_string_equal(c.seen[i], key); /* oldest first */
    }
    /* The dead replica's own scan sees its people, up to the limit. */
    memset(&c, 0, sizeof(c));
    assert_int_equal(cmn_stage_scan(st, &scan, 1, 2, keys, s_collect, &c), 5);
    /* One replica: everyone. Errors stop the scan and are returned. */
    memset(&c, 0, sizeof(c));
    scan.limit = 0;
    assert_int_equal(cmn_stage_scan(st, &scan, 0, 1, keys, s_collect, &c), 23);
    memset(&c, 0, sizeof(c));
    c.fail_at = 2;
    assert_int_equal(cmn_stage_scan(st, &scan, 0, 1, keys, s_collect, &c), -EIO);
    assert_int_equal(c.calls, 2);
    assert_int_equal(cmn_stage_scan(st, &scan, 2, 2, keys, s_collect, &c), -EINVAL);
    /* Extra parameters follow $3. */
    cmn_param_t extra[] = {P_TEXT("live-%")};
    cmn_scan_t like = {
        .sql = "SELECT user_key FROM inbox WHERE status = 0 AND shard % $1 = $2 AND user_key "
               "LIKE $4 GROUP BY user_key ORDER BY min(id) LIMIT $3",
        .extra = extra,
        .nextra = 1};
    memset(&c, 0, sizeof(c));
    assert_int_equal(cmn_stage_scan(st, &like, 0, 1, keys, s_collect, &c), 3);
    cmn_keyset_destroy(&keys);
    cmn_store_destroy(&st);
}

typedef struct {
    cmn_announce_t *a;
    cmn_counter_t *c;
    int attempts;
    int busy_attempts; /* attempts that fail with -EBUSY first */
    int result;        /* what the last attempt returns */
} s_tx_t;

static int s_tx_fn(void *arg, cmn_store_t *st)
{
    s_tx_t *t = arg;

    t->attempts++;
    assert_int_equal(cmn_announce_size(t->a), 0); /* emptied before each attempt */
    cmn_announce_count(t->a, t->c, 1);
    assert_int_equal(cmn_store_exec(st,
                                    "INSERT INTO flood (user_key, window_start_ms, "
                                    "msg_count, blocked_until_ms, updated_ms) VALUES "
                                    "('k', 0, 0, 0, 0) ON CONFLICT (user_key) DO UPDATE SET "
                                    "msg_count = flood.msg_count + 1",
                                    NULL, 0, NULL),
                     0);
    return t->attempts <= t->busy_attempts ? -EBUSY : t->result;
}

/* Issue 6, item 3: a retried transaction announces (and counts) once. */
static void test_stage_tx(void **state)
{
    tdb_group_t *g = *state;
    cmn_daemon_t d;
    cmn_metrics_t *m = cmn_metrics_new("t");
    s_tx_t t = {.a = cmn_announce_new(16), .busy_attempts = 2};
    cmn_rows_t *rows = NULL;

    memset(&d, 0, sizeof(d));
    d.store = s_open_migrated(g);
    t.c = cmn_metrics_counter(m, "n_total", NULL, "n");
    assert_int_equal(cmn_stage_tx(&d, t.a, s_tx_fn, &t), 0);
    assert_int_equal(t.attempts, 3);
    assert_int_equal(cmn_counter_get(t.c), 1);
    assert_int_equal(cmn_store_query(d.store, "SELECT msg_count FROM flood", NULL, 0, &rows), 0);
    assert_int_equal(cmn_rows_int(rows, 0, 0, -1), 0); /* the retried attempts rolled back */
    cmn_rows_destroy(&rows);

    /* A failed transaction announces nothing. */
    t = (s_tx_t){.a = t.a, .c = t.c, .result = -EIO};
    assert_int_equal(cmn_stage_tx(&d, t.a, s_tx_fn, &t), -EIO);
    assert_int_equal(cmn_counter_get(t.c), 1);
    assert_int_equal(cmn_announce_size(t.a), 0);

    cmn_announce_destroy(&t.a);
    cmn_store_destroy(&d.store);
    cmn_metrics_destroy(&m);
}

#define CASE(f) cmocka_unit_test_setup_teardown(f, tdb_case_setup, tdb_case_teardown)

int main(void)
{
    const struct CMUnitTest pure[] = {
        cmocka_unit_test(test_fnv1a),    cmocka_unit_test(test_shard),
        cmocka_unit_test(test_keyset),   cmocka_unit_test(test_keyset_msgs),
        cmocka_unit_test(test_announce),
    };
    const struct CMUnitTest db[] = {
        CASE(test_scan_by_shard),
        CASE(test_stage_tx),
    };
    int failed = 0;

    failed += cmocka_run_group_tests_name("stage", pure, NULL, NULL);
    failed += cmocka_run_group_tests_name("stage_sqlite", db, tdb_group_sqlite, tdb_group_teardown);
    failed += cmocka_run_group_tests_name("stage_postgres", db, tdb_group_pg, tdb_group_teardown);
    return failed ? 1 : 0;
}
