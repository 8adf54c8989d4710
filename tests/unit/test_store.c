/* test_store: cmn_store against SQLite (a temporary file) and PostgreSQL (a
 * real server started by tests/harness/pg.sh; URL in $CIU_TEST_PG_URL_FILE).
 * The same cases run on both; each case gets a fresh database. Without
 * CIU_TEST_PG_URL_FILE the PostgreSQL group fails: CI always provides it.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "common/cmn_embed.h"
#include "common/cmn_hash.h"
#include "common/cmn_store.h"
#include "test_db.h"

extern const struct ciu_embedded cmn_migrations_files[];
extern const size_t cmn_migrations_count;

typedef tdb_group_t group_t;

static const char s_create_t[] = "CREATE TABLE t (k TEXT PRIMARY KEY, n BIGINT, note TEXT)";

/* ---------------------------------------------------------------- fixture */

static cmn_store_t *s_open(group_t *g)
{
    cmn_store_t *st = tdb_open(g);

    assert_non_null(st);
    assert_int_equal(cmn_store_kind(st), g->kind);
    return st;
}

static int64_t s_count(cmn_store_t *st, const char *table)
{
    char sql[128];
    cmn_rows_t *rows = NULL;
    int64_t n;

    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
    assert_int_equal(cmn_store_query(st, sql, NULL, 0, &rows), 0);
    n = cmn_rows_int(rows, 0, 0, -1);
    cmn_rows_destroy(&rows);
    return n;
}

static int s_highest_version(void)
{
    int v = 0;

    for (size_t i = 0; i < cmn_migrations_count; i++)
        v = (int)strtol(cmn_migrations_files[i].name, NULL, 10);
    return v;
}

/* ------------------------------------------------------------------ cases */

static void test_migrate_idempotent(void **state)
{
    group_t *g = *state;
    cmn_store_t *st = s_open(g);
    int v = -1;

    assert_true(cmn_migrations_count >= 1);
    assert_int_equal(cmn_store_schema_version(st, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(cmn_store_migrate(st), 0);
    assert_int_equal(cmn_store_schema_version(st, &v), 0);
    assert_int_equal(v, s_highest_version());
    assert_int_equal(cmn_store_migrate(st), 0);
    assert_int_equal(cmn_store_schema_version(st, &v), 0);
    assert_int_equal(v, s_highest_version());
    assert_int_equal(s_count(st, "schema_migrations"), (int64_t)cmn_migrations_count);
    cmn_store_destroy(&st);
    assert_null(st);

    /* A second handle (a restarted daemon) finds nothing to do. */
    st = s_open(g);
    assert_int_equal(cmn_store_migrate(st), 0);
    assert_int_equal(s_count(st, "schema_migrations"), (int64_t)cmn_migrations_count);
    cmn_store_destroy(&st);
    cmn_store_destroy(&st); /* NULL-safe */
}

static void test_schema_tables(void **state)
{
    group_t *g = *state;
    cmn_store_t *st = s_open(g);
    static const char *const tables[] = {"inbox", "sessions", "outbox", "ciu_requests"};
    cmn_param_t p[] = {P_TEXT("m1"),   P_TEXT("whatsapp"),     P_TEXT("uk"),
                       P_TEXT("text"), P_INT(1700000000000LL), P_TEXT("tr1")};
    cmn_rows_t *rows = NULL;

    assert_int_equal(cmn_store_migrate(st), 0);
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
        assert_int_equal(s_count(st, tables[i]), 0);
    /* {{ID}} became an auto-increment key on both backends. */
    assert_int_equal(cmn_store_query(st,
                                     "INSERT INTO inbox (msg_id, channel, user_key, kind, "
                                     "received_ms, trace) VALUES ($1, $2, $3, $4, $5, $6) "
                                     "RETURNING id",
                                     p, 6, &rows),
                     0);
    assert_int_equal(cmn_rows_count(rows), 1);
    assert_true(cmn_rows_int(rows, 0, 0, 0) >= 1);
    cmn_rows_destroy(&rows);
    assert_int_equal(s_count(st, "outbox"), 0);
    cmn_store_destroy(&st);
}

static void test_insert_query(void **state)
{
    group_t *g = *state;
    cmn_store_t *st = s_open(g);
    cmn_param_t a[] = {P_TEXT("alpha"), P_INT(-42), P_TEXT("héllo 'quoted' ; -- not a comment")};
    cmn_param_t b[] = {P_TEXT("beta"), P_NULL, P_TEXT(NULL)};
    cmn_param_t c[] = {P_TEXT("gamma"), P_INT(INT64_MAX), P_TEXT("")};
    cmn_param_t q[] = {P_TEXT("beta")};
    cmn_rows_t *rows = NULL;
    int64_t changes = -1;

    assert_int_equal(cmn_store_exec(st, s_create_t, NULL, 0, NULL), 0);
    assert_int_equal(
        cmn_store_exec(st, "INSERT INTO t (k, n, note) VALUES ($1, $2, $3)", a, 3, &changes), 0);
    assert_int_equal(changes, 1);
    assert_int_equal(
        cmn_store_exec(st, "INSERT INTO t (k, n, note) VALUES ($1, $2, $3)", b, 3, NULL), 0);
    assert_int_equal(
        cmn_store_exec(st, "INSERT INTO t (k, n, note) VALUES ($1, $2, $3)", c, 3, NULL), 0);

    assert_int_equal(cmn_store_query(st, "SELECT k, n, note FROM t ORDER BY k", NULL, 0, &rows), 0);
    assert_int_equal(cmn_rows_count(rows), 3);
    assert_int_equal(cmn_rows_cols(rows), 3);
    assert_string_equal(cmn_rows_get(rows, 0, 0), "alpha");
    assert_string_equal(cmn_rows_get(rows, 0, 1), "-42");
    assert_int_equal(cmn_rows_int(rows, 0, 1, 0), -42);
    assert_string_equal(cmn_rows_get(rows, 0, 2), "héllo 'quoted' ; -- not a comment");
    assert_null(cmn_rows_get(rows, 1, 1));
    assert_null(cmn_rows_get(rows, 1, 2));
    assert_int_equal(cmn_rows_int(rows, 1, 1, 7), 7);
    assert_int_equal(cmn_rows_int(rows, 2, 1, 0), INT64_MAX);
    assert_string_equal(cmn_rows_get(rows, 2, 2), "");
    assert_int_equal(cmn_rows_int(rows, 0, 0, 9), 9); /* not a number */
    assert_null(cmn_rows_get(rows, 3, 0));
    assert_null(cmn_rows_get(rows, 0, 3));
    assert_null(cmn_rows_get(rows, -1, 0));
    cmn_rows_destroy(&rows);
    assert_null(rows);

    assert_int_equal(cmn_store_query(st, "SELECT k FROM t WHERE k = $1", q, 1, &rows), 0);
    assert_int_equal(cmn_rows_count(rows), 1);
    cmn_rows_destroy(&rows);

    /* Same cached statement, no match: zero rows, columns still known. */
    q[0] = P_TEXT("nobody");
    assert_int_equal(cmn_store_query(st, "SELECT k FROM t WHERE k = $1", q, 1, &rows), 0);
    assert_int_equal(cmn_rows_count(rows), 0);
    assert_int_equal(cmn_rows_cols(rows), 1);
    assert_null(cmn_rows_get(rows, 0, 0));
    cmn_rows_destroy(&rows);

    assert_int_equal(cmn_store_exec(st, "DELETE FROM t WHERE k = $1", q, 1, &changes), 0);
    assert_int_equal(changes, 0);
    q[0] = P_TEXT("alpha");
    assert_int_equal(cmn_store_exec(st, "UPDATE t SET n = n + 1 WHERE k = $1", q, 1, &changes), 0);
    assert_int_equal(changes, 1);
    cmn_store_destroy(&st);
}

static void test_unique_violation(void **state)
{
    group_t *g = *state;
    cmn_store_t *st = s_open(g);
    cmn_param_t p[] = {P_TEXT("dup"), P_INT(1)};
    cmn_param_t p2[] = {P_TEXT("dup"), P_INT(2)};

    assert_int_equal(cmn_store_exec(st, s_create_t, NULL, 0, NULL), 0);
    assert_int_equal(cmn_store_exec(st, "INSERT INTO t (k, n) VALUES ($1, $2)", p, 2, NULL), 0);
    assert_int_equal(cmn_store_exec(st, "INSERT INTO t (k, n) VALUES ($1, $2)", p2, 2, NULL),
                     -EEXIST);
    assert_true(strlen(cmn_store_errmsg(st)) > 0);
    /* Still usable afterwards; a UNIQUE index (not the primary key) too. */
    assert_int_equal(cmn_store_exec(st, "CREATE UNIQUE INDEX t_n ON t (n)", NULL, 0, NULL), 0);
    p2[0] = P_TEXT("other");
    p2[1] = P_INT(1);
    assert_int_equal(cmn_store_exec(st, "INSERT INTO t (k, n) VALUES ($1, $2)", p2, 2, NULL),
                     -EEXIST);
    assert_int_equal(s_count(st, "t"), 1);
    /* Other errors are -EIO with a message. */
    assert_int_equal(cmn_store_exec(st, "INSERT INTO nosuchtable VALUES (1)", NULL, 0, NULL), -EIO);
    assert_true(strlen(cmn_store_errmsg(st)) > 0);
    cmn_store_destroy(&st);
}

static void test_rollback(void **state)
{
    group_t *g = *state;
    cmn_store_t *st = s_open(g);
    cmn_param_t p[] = {P_TEXT("x"), P_INT(1)};

    assert_int_equal(cmn_store_rollback(st), 0); /* no transaction: no-op */
    assert_int_equal(cmn_store_exec(st, s_create_t, NULL, 0, NULL), 0);
    assert_int_equal(cmn_store_begin(st), 0);
    assert_int_equal(cmn_store_exec(st, "INSERT INTO t (k, n) VALUES ($1, $2)", p, 2, NULL), 0);
    assert_int_equal(s_count(st, "t"), 1);
    assert_int_equal(cmn_store_rollback(st), 0);
    assert_int_equal(s_count(st, "t"), 0);

    /* An error inside a transaction: roll back, everything is gone. */
    assert_int_equal(cmn_store_begin(st), 0);
    assert_int_equal(cmn_store_exec(st, "INSERT INTO t (k, n) VALUES ($1, $2)", p, 2, NULL), 0);
    assert_int_equal(cmn_store_exec(st, "INSERT INTO t (k, n) VALUES ($1, $2)", p, 2, NULL),
                     -EEXIST);
    assert_int_equal(cmn_store_rollback(st), 0);
    assert_int_equal(s_count(st, "t"), 0);

    /* The statement prepared inside the rolled-back transaction still works. */
    assert_int_equal(cmn_store_begin(st), 0);
    assert_int_equal(cmn_store_exec(st, "INSERT INTO t (k, n) VALUES ($1, $2)", p, 2, NULL), 0);
    assert_int_equal(cmn_store_commit(st), 0);
    assert_int_equal(s_count(st, "t"), 1);
    assert_int_equal(cmn_store_rollback(st), 0);
    cmn_store_destroy(&st);
}

static void test_batch_1000(void **state)
{
    group_t *g = *state;
    cmn_store_t *st = s_open(g);
    char key[32];
    cmn_rows_t *rows = NULL;

    assert_int_equal(cmn_store_exec(st, s_create_t, NULL, 0, NULL), 0);
    assert_int_equal(cmn_store_begin(st), 0);
    for (int i = 0; i < 1000; i++) {
        cmn_param_t p[] = {P_TEXT(key), P_INT(i)};

        snprintf(key, sizeof(key), "k%04d", i);
        assert_int_equal(cmn_store_exec(st, "INSERT INTO t (k, n) VALUES ($1, $2)", p, 2, NULL), 0);
    }
    assert_int_equal(cmn_store_commit(st), 0);
    assert_int_equal(s_count(st, "t"), 1000);
    assert_int_equal(cmn_store_query(st, "SELECT sum(n) FROM t", NULL, 0, &rows), 0);
    assert_int_equal(cmn_rows_int(rows, 0, 0, 0), 999 * 1000 / 2);
    cmn_rows_destroy(&rows);
    cmn_store_destroy(&st);
}

static void test_rows_outlive_statement(void **state)
{
    group_t *g = *state;
    cmn_store_t *st = s_open(g);
    cmn_param_t a[] = {P_TEXT("a"), P_INT(1), P_TEXT("first")};
    cmn_param_t b[] = {P_TEXT("b"), P_INT(2), P_TEXT("second")};
    cmn_rows_t *r1 = NULL, *r2 = NULL;

    assert_int_equal(cmn_store_exec(st, s_create_t, NULL, 0, NULL), 0);
    assert_int_equal(cmn_store_exec(st, "INSERT INTO t VALUES ($1, $2, $3)", a, 3, NULL), 0);
    assert_int_equal(cmn_store_query(st, "SELECT k, note FROM t ORDER BY k", NULL, 0, &r1), 0);
    assert_int_equal(cmn_store_exec(st, "INSERT INTO t VALUES ($1, $2, $3)", b, 3, NULL), 0);
    /* The same statement again: resets the cached statement r1 came from. */
    assert_int_equal(cmn_store_query(st, "SELECT k, note FROM t ORDER BY k", NULL, 0, &r2), 0);
    assert_int_equal(cmn_store_exec(st, "DELETE FROM t", NULL, 0, NULL), 0);
    cmn_store_destroy(&st);
    assert_int_equal(cmn_rows_count(r1), 1);
    assert_string_equal(cmn_rows_get(r1, 0, 1), "first");
    assert_int_equal(cmn_rows_count(r2), 2);
    assert_string_equal(cmn_rows_get(r2, 1, 0), "b");
    assert_string_equal(cmn_rows_get(r2, 1, 1), "second");
    cmn_rows_destroy(&r1);
    cmn_rows_destroy(&r2);
    cmn_rows_destroy(&r2);
}

static void test_params_out_of_order(void **state)
{
    group_t *g = *state;
    cmn_store_t *st = s_open(g);
    cmn_param_t p[] = {P_TEXT("key1"), P_INT(10), P_TEXT("note1")};
    cmn_param_t q[] = {P_TEXT("note1"), P_TEXT("key1")};
    cmn_param_t same[] = {P_TEXT("key1")};
    cmn_rows_t *rows = NULL;

    assert_int_equal(cmn_store_exec(st, s_create_t, NULL, 0, NULL), 0);
    assert_int_equal(
        cmn_store_exec(st, "INSERT INTO t (note, n, k) VALUES ($3, $2, $1)", p, 3, NULL), 0);
    assert_int_equal(cmn_store_query(st, "SELECT n FROM t WHERE k = $2 AND note = $1", q, 2, &rows),
                     0);
    assert_int_equal(cmn_rows_count(rows), 1);
    assert_int_equal(cmn_rows_int(rows, 0, 0, 0), 10);
    cmn_rows_destroy(&rows);
    /* One parameter used twice. */
    assert_int_equal(
        cmn_store_query(st, "SELECT n FROM t WHERE k = $1 OR note = $1", same, 1, &rows), 0);
    assert_int_equal(cmn_rows_count(rows), 1);
    cmn_rows_destroy(&rows);
    /* Wrong parameter count is an error, not a silent NULL. */
    assert_int_not_equal(cmn_store_query(st, "SELECT n FROM t WHERE k = $1", q, 2, &rows), 0);
    assert_null(rows);
    cmn_store_destroy(&st);
}

typedef struct {
    const char *url;
    int id;
    int failures;
    char err[256];
} worker_t;

static void *s_writer(void *arg)
{
    worker_t *w = arg;
    cmn_store_t *st = NULL;
    char key[32];

    if (cmn_store_open(w->url, &st, w->err, sizeof(w->err)) < 0) {
        w->failures++;
        return NULL;
    }
    for (int i = 0; i < 100; i++) {
        cmn_param_t p[] = {P_TEXT(key), P_INT(i)};

        snprintf(key, sizeof(key), "w%d-%d", w->id, i);
        if (cmn_store_begin(st) < 0 ||
            cmn_store_exec(st, "INSERT INTO t (k, n) VALUES ($1, $2)", p, 2, NULL) < 0) {
            snprintf(w->err, sizeof(w->err), "%s", cmn_store_errmsg(st));
            w->failures++;
            cmn_store_rollback(st);
            continue;
        }
        usleep(200); /* hold the write lock so the other thread waits */
        if (cmn_store_commit(st) < 0) {
            snprintf(w->err, sizeof(w->err), "%s", cmn_store_errmsg(st));
            w->failures++;
        }
    }
    cmn_store_destroy(&st);
    return NULL;
}

static void test_concurrent_writers(void **state)
{
    group_t *g = *state;
    cmn_store_t *st = s_open(g);
    pthread_t th[2];
    worker_t w[2] = {{g->url, 0, 0, ""}, {g->url, 1, 0, ""}};

    assert_int_equal(cmn_store_exec(st, s_create_t, NULL, 0, NULL), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, s_writer, &w[i]), 0);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        if (w[i].failures)
            fail_msg("writer %d: %d failures, last: %s", i, w[i].failures, w[i].err);
    }
    assert_int_equal(s_count(st, "t"), 200);
    cmn_store_destroy(&st);
}

typedef struct {
    const char *url;
    int r;
    char err[256];
} migrator_t;

static void *s_migrator(void *arg)
{
    migrator_t *m = arg;
    cmn_store_t *st = NULL;

    m->r = cmn_store_open(m->url, &st, m->err, sizeof(m->err));
    if (m->r < 0)
        return NULL;
    m->r = cmn_store_migrate(st);
    if (m->r < 0)
        snprintf(m->err, sizeof(m->err), "%s", cmn_store_errmsg(st));
    cmn_store_destroy(&st);
    return NULL;
}

static void test_concurrent_migrate(void **state)
{
    group_t *g = *state;
    pthread_t th[4];
    migrator_t m[4];
    cmn_store_t *st;
    int v = 0;

    for (int i = 0; i < 4; i++) {
        m[i] = (migrator_t){.url = g->url};
        assert_int_equal(pthread_create(&th[i], NULL, s_migrator, &m[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        if (m[i].r < 0)
            fail_msg("migrator %d: %d %s", i, m[i].r, m[i].err);
    }
    st = s_open(g);
    assert_int_equal(cmn_store_schema_version(st, &v), 0);
    assert_int_equal(v, s_highest_version());
    assert_int_equal(s_count(st, "schema_migrations"), (int64_t)cmn_migrations_count);
    cmn_store_destroy(&st);
}

static void test_bad_migration(void **state)
{
    group_t *g = *state;
    cmn_store_t *st = s_open(g);
    static const char good[] = "-- a comment; with a semicolon\n"
                               "CREATE TABLE m1 (id {{ID}}, data {{BLOB}});\n"
                               "INSERT INTO m1 (data) VALUES (NULL);\n";
    static const char bad[] = "CREATE TABLE m2 (x TEXT);\nTHIS IS NOT SQL;\n";
    static const char typo[] = "CREATE TABLE m3 (id {{IDD}});\n";
    const struct ciu_embedded files[] = {
        {"001_good.sql", (const unsigned char *)good, sizeof(good) - 1},
        {"002_bad.sql", (const unsigned char *)bad, sizeof(bad) - 1},
    };
    const struct ciu_embedded typos[] = {
        {"001_good.sql", (const unsigned char *)good, sizeof(good) - 1},
        {"003_typo.sql", (const unsigned char *)typo, sizeof(typo) - 1},
    };
    const struct ciu_embedded unordered[] = {
        {"002_x.sql", (const unsigned char *)good, sizeof(good) - 1},
        {"001_y.sql", (const unsigned char *)good, sizeof(good) - 1},
    };
    int v = 0;
    cmn_rows_t *rows = NULL;

    assert_int_equal(cmn_store_migrate_files(st, files, 2), -EIO);
    assert_non_null(strstr(cmn_store_errmsg(st), "002_bad.sql"));
    assert_int_equal(cmn_store_schema_version(st, &v), 0);
    assert_int_equal(v, 1); /* 001 committed, 002 rolled back entirely */
    assert_int_equal(s_count(st, "m1"), 1);
    assert_int_not_equal(cmn_store_query(st, "SELECT * FROM m2", NULL, 0, &rows), 0);
    assert_int_equal(cmn_store_migrate_files(st, typos, 2), -EINVAL);
    assert_int_equal(cmn_store_migrate_files(st, unordered, 2), -EINVAL);
    cmn_store_destroy(&st);
}

static void test_open_errors(void **state)
{
    group_t *g = *state;
    cmn_store_t *st = NULL;
    char err[256];
    int r;

    if (g->kind == CMN_STORE_SQLITE) {
        r = cmn_store_open("/nonexistent-dir/x/y.db", &st, err, sizeof(err));
        assert_true(r < 0);
        assert_null(st);
        assert_non_null(strstr(err, "/nonexistent-dir/x/y.db"));
        assert_int_equal(cmn_store_open("", &st, err, sizeof(err)), -EINVAL);
        assert_int_equal(cmn_store_open("sqlite://", &st, err, sizeof(err)), -EINVAL);
        return;
    }
    /* Nothing listens on port 1. */
    r = cmn_store_open("postgresql://ciu:S3cretPw@127.0.0.1:1/x", &st, err, sizeof(err));
    assert_true(r < 0);
    assert_null(st);
    assert_true(strlen(err) > 0);
    assert_null(strstr(err, "S3cretPw"));
    /* Unparsable URLs may echo parts of themselves: still masked. */
    r = cmn_store_open("postgresql://ciu:S3cretPw@127.0.0.1:1/x?S3cretPw=1", &st, err, sizeof(err));
    assert_int_equal(r, -EINVAL);
    assert_null(strstr(err, "S3cretPw"));
    r = cmn_store_open("postgres://ciu:S3cretPw@[::1/x", &st, err, sizeof(err));
    assert_true(r < 0);
    assert_null(strstr(err, "S3cretPw"));
    r = cmn_store_open("postgresql://ciu@127.0.0.1:1/x?password=S3cretPw&bogus=S3cretPw", &st, err,
                       sizeof(err));
    assert_true(r < 0);
    assert_null(strstr(err, "S3cretPw"));
    /* Right server, wrong database. */
    {
        char url[800];

        snprintf(url, sizeof(url), "%.*s/no_such_db_ciu",
                 (int)(strrchr(g->admin_url, '/') - g->admin_url), g->admin_url);
        r = cmn_store_open(url, &st, err, sizeof(err));
        assert_true(r < 0);
        assert_non_null(strstr(err, "no_such_db_ciu"));
    }
}

static void test_url_redact(void **state)
{
    char out[256];

    (void)state;
    assert_int_equal(
        cmn_store_url_redact("postgresql://u:pw%40x@h:5432/db?sslmode=require", out, sizeof(out)),
        0);
    assert_string_equal(out, "postgresql://u:***@h:5432/db?sslmode=require");
    assert_int_equal(
        cmn_store_url_redact("postgres://h/db?user=u&password=pw&x=1", out, sizeof(out)), 0);
    assert_string_equal(out, "postgres://h/db?user=u&password=***&x=1");
    assert_int_equal(cmn_store_url_redact("./data/ciu.db", out, sizeof(out)), 0);
    assert_string_equal(out, "./data/ciu.db");
    assert_int_equal(cmn_store_url_redact("postgresql://u@h/db", out, 8), -E2BIG);
}

static void test_backend_settings(void **state)
{
    group_t *g = *state;
    cmn_store_t *st = s_open(g);
    cmn_rows_t *rows = NULL;

    assert_int_equal(cmn_store_ping(st), 0);
    if (g->kind == CMN_STORE_SQLITE) {
        assert_int_equal(cmn_store_query(st, "PRAGMA secure_delete", NULL, 0, &rows), 0);
        assert_string_equal(cmn_rows_get(rows, 0, 0), "1");
        cmn_rows_destroy(&rows);
        assert_int_equal(cmn_store_query(st, "PRAGMA journal_mode", NULL, 0, &rows), 0);
        assert_string_equal(cmn_rows_get(rows, 0, 0), "wal");
        cmn_rows_destroy(&rows);
        assert_int_equal(cmn_store_query(st, "PRAGMA foreign_keys", NULL, 0, &rows), 0);
        assert_string_equal(cmn_rows_get(rows, 0, 0), "1");
        cmn_rows_destroy(&rows);
        assert_int_equal(cmn_store_query(st, "PRAGMA synchronous", NULL, 0, &rows), 0);
        assert_string_equal(cmn_rows_get(rows, 0, 0), "2"); /* FULL */
        cmn_rows_destroy(&rows);
        /* CIU_SQLITE_SYNCHRONOUS=normal, and back */
        assert_int_equal(cmn_store_set_synchronous(st, "normal"), 0);
        assert_int_equal(cmn_store_query(st, "PRAGMA synchronous", NULL, 0, &rows), 0);
        assert_string_equal(cmn_rows_get(rows, 0, 0), "1"); /* NORMAL */
        cmn_rows_destroy(&rows);
        assert_int_equal(cmn_store_set_synchronous(st, "full"), 0);
        assert_int_equal(cmn_store_query(st, "PRAGMA synchronous", NULL, 0, &rows), 0);
        assert_string_equal(cmn_rows_get(rows, 0, 0), "2");
        cmn_rows_destroy(&rows);
        assert_int_equal(cmn_store_query(st, "PRAGMA busy_timeout", NULL, 0, &rows), 0);
        assert_string_equal(cmn_rows_get(rows, 0, 0), "10000");
        cmn_rows_destroy(&rows);
    }
    assert_int_equal(cmn_store_set_synchronous(st, "off"), -EINVAL);
    assert_int_equal(cmn_store_set_synchronous(st, "normal"), 0); /* PostgreSQL: no-op */
    assert_int_equal(cmn_store_set_synchronous(st, "full"), 0);
    /* Foreign keys are enforced on both. */
    assert_int_equal(cmn_store_exec(st, "CREATE TABLE p (id BIGINT PRIMARY KEY)", NULL, 0, NULL),
                     0);
    assert_int_equal(cmn_store_exec(st,
                                    "CREATE TABLE c (id BIGINT PRIMARY KEY, "
                                    "p BIGINT REFERENCES p (id))",
                                    NULL, 0, NULL),
                     0);
    assert_int_equal(cmn_store_exec(st, "INSERT INTO c VALUES (1, 99)", NULL, 0, NULL), -EIO);
    /* Two statements in one call are refused (SQLite) or fail (PostgreSQL). */
    assert_int_not_equal(cmn_store_exec(st, "SELECT 1; SELECT 2", NULL, 0, NULL), 0);
    cmn_store_destroy(&st);
}

static void test_pg_reconnect(void **state)
{
    group_t *g = *state;
    cmn_store_t *st, *killer;
    cmn_rows_t *rows = NULL;
    cmn_param_t p[1];
    char pid[32];

    if (g->kind != CMN_STORE_POSTGRES)
        skip();
    st = s_open(g);
    killer = s_open(g);
    assert_int_equal(cmn_store_query(st, "SELECT pg_backend_pid()", NULL, 0, &rows), 0);
    snprintf(pid, sizeof(pid), "%s", cmn_rows_get(rows, 0, 0));
    cmn_rows_destroy(&rows);
    p[0] = P_INT(strtoll(pid, NULL, 10));
    assert_int_equal(
        cmn_store_query(killer, "SELECT pg_terminate_backend($1::int, 5000)", p, 1, &rows), 0);
    cmn_rows_destroy(&rows);
    /* Outside a transaction: reconnects and retries transparently. */
    assert_int_equal(cmn_store_query(st, "SELECT pg_backend_pid()", NULL, 0, &rows), 0);
    assert_string_not_equal(cmn_rows_get(rows, 0, 0), pid);
    snprintf(pid, sizeof(pid), "%s", cmn_rows_get(rows, 0, 0));
    cmn_rows_destroy(&rows);

    /* Inside a transaction: the error surfaces, rollback recovers. */
    assert_int_equal(cmn_store_begin(st), 0);
    p[0] = P_INT(strtoll(pid, NULL, 10));
    assert_int_equal(
        cmn_store_query(killer, "SELECT pg_terminate_backend($1::int, 5000)", p, 1, &rows), 0);
    cmn_rows_destroy(&rows);
    assert_int_equal(cmn_store_exec(st, "SELECT 1", NULL, 0, NULL), -EIO);
    assert_int_equal(cmn_store_rollback(st), 0);
    assert_int_equal(cmn_store_ping(st), 0);
    assert_int_equal(cmn_store_exec(st, "SELECT 1", NULL, 0, NULL), 0);

    /* An aborted transaction does not commit silently. */
    assert_int_equal(cmn_store_begin(st), 0);
    assert_int_equal(cmn_store_exec(st, "SELECT * FROM nosuchtable", NULL, 0, NULL), -EIO);
    assert_int_equal(cmn_store_commit(st), -EIO);
    assert_int_equal(cmn_store_exec(st, "SELECT 1", NULL, 0, NULL), 0);
    cmn_store_destroy(&killer);
    cmn_store_destroy(&st);
}

static void test_query_int(void **state)
{
    group_t *g = *state;
    cmn_store_t *st = s_open(g);
    cmn_param_t p[] = {P_TEXT("a")};
    int64_t v = 7;

    assert_int_equal(cmn_store_exec(st, s_create_t, NULL, 0, NULL), 0);
    assert_int_equal(cmn_store_query_int(st, "SELECT count(*) FROM t", NULL, 0, -1, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(cmn_store_query_int(st,
                                         "INSERT INTO t (k, n) VALUES ($1, 42) ON CONFLICT (k) "
                                         "DO NOTHING RETURNING n",
                                         p, 1, -1, &v),
                     0);
    assert_int_equal(v, 42);
    assert_int_equal(cmn_store_query_int(st,
                                         "INSERT INTO t (k, n) VALUES ($1, 43) ON CONFLICT (k) "
                                         "DO NOTHING RETURNING n",
                                         p, 1, -1, &v),
                     0);
    assert_int_equal(v, -1); /* no row: the default */
    assert_int_equal(cmn_store_query_int(st, "SELECT note FROM t", NULL, 0, -2, &v), 0);
    assert_int_equal(v, -2); /* NULL: the default */
    assert_int_not_equal(cmn_store_query_int(st, "SELECT nope FROM t", NULL, 0, -1, &v), 0);
    cmn_store_destroy(&st);
}

/* Issue 6, item 5 (scans filter by shard): migration 004 adds the `shard` column
 * and fills it for the rows already stored, with the same FNV-1a bucket the
 * daemons compute (cmn_shard_bucket). */
static void test_migrate_fills_shards(void **state)
{
    group_t *g = *state;
    cmn_store_t *st = s_open(g);
    cmn_rows_t *rows = NULL;
    size_t k = 0;
    char user[32], id[32];

    while (k < cmn_migrations_count && strcmp(cmn_migrations_files[k].name, "004_ownership.sql"))
        k++;
    assert_true(k < cmn_migrations_count);
    assert_int_equal(cmn_store_migrate_files(st, cmn_migrations_files, k), 0);
    for (int i = 0; i < 20; i++) {
        snprintf(user, sizeof(user), "user-%d", i);
        snprintf(id, sizeof(id), "m%d", i);
        cmn_param_t p[] = {P_TEXT(id), P_TEXT(user)};
        assert_int_equal(cmn_store_exec(st,
                                        "INSERT INTO inbox (msg_id, channel, user_key, kind, "
                                        "received_ms, trace) VALUES ($1, 'sim', $2, 'text', 1, $1)",
                                        p, 2, NULL),
                         0);
        assert_int_equal(
            cmn_store_exec(st,
                           "INSERT INTO ciu_requests (req_id, user_key, channel, lang, "
                           "created_ms, trace) VALUES ($1, $2, 'sim', 'fr', 1, $1)",
                           p, 2, NULL),
            0);
    }
    assert_int_equal(cmn_store_migrate(st), 0);
    static const char *const queries[] = {"SELECT user_key, shard FROM inbox",
                                          "SELECT user_key, shard FROM ciu_requests"};
    for (size_t q = 0; q < 2; q++) {
        assert_int_equal(cmn_store_query(st, queries[q], NULL, 0, &rows), 0);
        assert_int_equal(cmn_rows_count(rows), 20);
        for (int i = 0; i < cmn_rows_count(rows); i++)
            assert_int_equal(cmn_rows_int(rows, i, 1, -1),
                             cmn_shard_bucket(cmn_rows_get(rows, i, 0)));
        cmn_rows_destroy(&rows);
    }
    cmn_store_destroy(&st);
}

/* Issue 6: a PostgreSQL server that stops answering (its backend paused
 * with SIGSTOP: the kernel still acknowledges every packet, so neither TCP
 * keepalives nor tcp_user_timeout notice) fails a call within the client's
 * deadline instead of hanging; the next call reconnects. A watchdog
 * resumes the backend after S_PAUSE_MAX_MS whatever happens, so a hanging
 * call fails the time check instead of freezing the shared server. */
#define S_PAUSE_TIMEOUT_MS 1000
#define S_PAUSE_MAX_MS 8000

typedef struct {
    pid_t pid;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool resumed;
} s_watchdog_t;

static void *s_watchdog(void *arg)
{
    s_watchdog_t *w = arg;
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += S_PAUSE_MAX_MS / 1000;
    pthread_mutex_lock(&w->lock);
    while (!w->resumed && pthread_cond_timedwait(&w->cond, &w->lock, &until) == 0)
        ;
    w->resumed = true;
    pthread_mutex_unlock(&w->lock);
    kill(w->pid, SIGCONT);
    return NULL;
}

static int64_t s_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run `sql` (inside a transaction when in_tx) while the backend is paused.
 * Returns the call's result; *ret_ms: how long it took. */
static int s_call_paused(cmn_store_t *st, pid_t pid, bool in_tx, int64_t *ret_ms)
{
    s_watchdog_t w = {
        .pid = pid, .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    pthread_t th;
    int64_t t0;
    int r;

    if (in_tx)
        assert_int_equal(cmn_store_begin(st), 0);
    assert_int_equal(kill(pid, SIGSTOP), 0);
    assert_int_equal(pthread_create(&th, NULL, s_watchdog, &w), 0);
    t0 = s_mono_ms();
    r = cmn_store_exec(st, "SELECT 1", NULL, 0, NULL);
    *ret_ms = s_mono_ms() - t0;
    pthread_mutex_lock(&w.lock);
    w.resumed = true;
    pthread_cond_signal(&w.cond);
    pthread_mutex_unlock(&w.lock);
    pthread_join(th, NULL);
    if (in_tx)
        assert_int_equal(cmn_store_rollback(st), 0);
    return r;
}

static pid_t s_backend_pid(cmn_store_t *st)
{
    cmn_rows_t *rows = NULL;
    pid_t pid;

    assert_int_equal(cmn_store_query(st, "SELECT pg_backend_pid()", NULL, 0, &rows), 0);
    pid = (pid_t)cmn_rows_int(rows, 0, 0, 0);
    cmn_rows_destroy(&rows);
    assert_true(pid > 0);
    return pid;
}

static void test_pg_server_paused(void **state)
{
    group_t *g = *state;
    cmn_store_t *st;
    cmn_rows_t *rows = NULL;
    int64_t ms;

    if (g->kind != CMN_STORE_POSTGRES)
        skip();
    st = s_open(g);
    /* Every connection ends statements on the server side too. */
    assert_int_equal(cmn_store_query(st, "SHOW statement_timeout", NULL, 0, &rows), 0);
    assert_string_equal(cmn_rows_get(rows, 0, 0), "30s");
    cmn_rows_destroy(&rows);
    assert_int_equal(cmn_store_set_timeout(st, 0), -EINVAL);
    assert_int_equal(cmn_store_set_timeout(st, S_PAUSE_TIMEOUT_MS), 0);

    /* Outside a transaction. */
    assert_int_equal(s_call_paused(st, s_backend_pid(st), false, &ms), -EIO);
    assert_true(ms < S_PAUSE_MAX_MS - 2000);
    assert_non_null(strstr(cmn_store_errmsg(st), "did not answer"));
    assert_int_equal(cmn_store_exec(st, "SELECT 1", NULL, 0, NULL), 0); /* reconnected */

    /* Inside a transaction: the error surfaces, rollback and ping recover. */
    assert_int_equal(s_call_paused(st, s_backend_pid(st), true, &ms), -EIO);
    assert_true(ms < S_PAUSE_MAX_MS - 2000);
    assert_int_equal(cmn_store_ping(st), 0);
    assert_int_equal(cmn_store_exec(st, "SELECT 1", NULL, 0, NULL), 0);
    cmn_store_destroy(&st);
}

#define CASE(f) cmocka_unit_test_setup_teardown(f, tdb_case_setup, tdb_case_teardown)

int main(void)
{
    const struct CMUnitTest cases[] = {
        CASE(test_migrate_idempotent),
        CASE(test_schema_tables),
        CASE(test_insert_query),
        CASE(test_unique_violation),
        CASE(test_rollback),
        CASE(test_batch_1000),
        CASE(test_rows_outlive_statement),
        CASE(test_params_out_of_order),
        CASE(test_concurrent_writers),
        CASE(test_concurrent_migrate),
        CASE(test_bad_migration),
        CASE(test_open_errors),
        CASE(test_backend_settings),
        CASE(test_pg_reconnect),
        CASE(test_pg_server_paused),
        CASE(test_migrate_fills_shards),
        CASE(test_query_int),
        cmocka_unit_test(test_url_redact),
    };
    int failed = 0;

    failed +=
        cmocka_run_group_tests_name("store_sqlite", cases, tdb_group_sqlite, tdb_group_teardown);
    failed +=
        cmocka_run_group_tests_name("store_postgres", cases, tdb_group_pg, tdb_group_teardown);
    return failed ? 1 : 0;
}
