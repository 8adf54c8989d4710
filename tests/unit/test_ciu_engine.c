/* test_ciu_engine: the engine's server object, embedded (booted in-process
 * on the case's database, driven through ciu_engine_batch and
 * ciu_engine_rescan), on SQLite and PostgreSQL. Cases named after issue 6
 * failed before its fixes.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "ciu_engine.h"
#include "common/cmn_hash.h"
#include "test_server.h"

typedef tsv_case_t fix_t;
#define ENGINE(f) ((ciu_engine_t *)(f)->server)

static void s_destroy(void *server)
{
    ciu_engine_t *x = server;
    ciu_engine_destroy(&x);
}

static void s_start(fix_t *f, bool qr)
{
    const char *env[] = {"ENABLE_QR_CODE", qr ? "true" : "false", NULL};
    tsv_opts_t o = {.env = env};

    assert_int_equal(tsv_boot(&f->d, &f->dir, "ciu-engine", f->g->url, &o), CMN_EXIT_OK);
    f->destroy = s_destroy;
    f->server = ciu_engine_new(&f->d);
    assert_non_null(f->server);
}

/* Confirmed answers of `user`, as the conversation stores them; the row's id. */
static int64_t s_request(fix_t *f, const char *user, const char *last, const char *first,
                         const char *year)
{
    char id[32];
    int64_t row = 0;

    snprintf(id, sizeof(id), "r%d", ++f->seq);
    cmn_param_t p[] = {P_TEXT(id),    P_TEXT(user), P_TEXT(last),
                       P_TEXT(first), P_TEXT(year), P_INT(cmn_shard_bucket(user))};
    assert_int_equal(cmn_store_query_int(f->d.store,
                                         "INSERT INTO ciu_requests (req_id, user_key, channel, "
                                         "to_addr, lang, c_last, c_first, c_year, c_city, "
                                         "c_gender, created_ms, trace, shard) VALUES ($1, $2, "
                                         "'sim', '+243810000001', 'fr', $3, $4, $5, 'DA', '1', 1, "
                                         "$1, $6) RETURNING id",
                                         p, 6, 0, &row),
                     0);
    return row;
}

/* The wake-up the conversation sends (the engine uses the person). */
static int s_wake(fix_t *f, const char *user, int64_t row)
{
    cmn_msg_t m;

    cmn_msg_init(&m, CMN_MSG_CIU_REQUEST, NULL);
    cmn_strlcpy(m.user, user, sizeof(m.user));
    m.row = row;
    return ciu_engine_batch(ENGINE(f), &m, 1);
}

static int64_t s_count(fix_t *f, const char *sql)
{
    return tsv_int(f->d.store, sql, NULL, 0);
}

static int64_t s_replies(fix_t *f, const char *user, const char *like)
{
    cmn_param_t p[] = {P_TEXT(user), P_TEXT(like)};
    return tsv_int(f->d.store, "SELECT count(*) FROM outbox WHERE user_key = $1 AND body LIKE $2",
                   p, 2);
}

/* Files in the media folder. */
static int s_files(fix_t *f)
{
    char path[128];
    DIR *dir;
    int n = 0;

    snprintf(path, sizeof(path), "%s/media", f->dir.dir);
    dir = opendir(path);
    assert_non_null(dir);
    for (struct dirent *de; (de = readdir(dir)) != NULL;)
        n += de->d_name[0] != '.';
    closedir(dir);
    return n;
}

/* ------------------------------------------------------------------ cases */

/* Issue 6, item 1: the engine answers, registers, queues DHIS2 and tells
 * the conversation through ciu_done; it does not touch the sessions. */
static void test_issue(void **state)
{
    fix_t *f = *state;

    s_start(f, false);
    assert_int_equal(cmn_store_exec(f->d.store,
                                    "INSERT INTO sessions (user_key, lang, step, updated_ms) "
                                    "VALUES ('alice', 'fr', 7, 1)",
                                    NULL, 0, NULL),
                     0);
    int64_t row = s_request(f, "alice", "MBE", "IBR", "7");
    assert_int_equal(s_wake(f, "alice", row), 0);
    assert_int_equal(s_replies(f, "alice", "%MBEIBR7DA1%"), 1);
    assert_int_equal(s_count(f, "SELECT count(*) FROM registry WHERE ciu = 'MBEIBR7DA1'"), 1);
    assert_int_equal(s_count(f, "SELECT count(*) FROM ciu_requests"), 0);
    assert_int_equal(s_count(f, "SELECT count(*) FROM sessions WHERE step = 7"), 1); /* untouched */
    assert_int_equal(s_count(f, "SELECT count(*) FROM ciu_done WHERE user_key = 'alice'"), 1);
    cmn_param_t p[] = {P_INT(cmn_shard_bucket("MBEIBR7DA1"))};
    assert_int_equal(tsv_int(f->d.store,
                             "SELECT count(*) FROM dhis2_sync WHERE ciu = 'MBEIBR7DA1' AND "
                             "status = 'queued' AND shard = $1",
                             p, 1),
                     1);
    /* a repeated wake-up does nothing */
    assert_int_equal(s_wake(f, "alice", row), 0);
    assert_int_equal(s_count(f, "SELECT count(*) FROM outbox"), 1);
}

/* Issue 6, item 2: registry and duplicates through unique keys: one row
 * per CIU, each duplicate recorded once. */
static void test_registry_and_duplicates(void **state)
{
    fix_t *f = *state;

    s_start(f, false);
    s_request(f, "alice", "MBE", "IBR", "7");
    s_request(f, "bob", "MBE", "IBR", "7"); /* same CIU, another number */
    s_request(f, "alice", "MBE", "IBR", "7");
    assert_int_equal(ciu_engine_rescan(ENGINE(f)), 0);
    assert_int_equal(s_count(f, "SELECT count(*) FROM registry"), 1);
    assert_int_equal(s_count(f, "SELECT request_count FROM registry"), 3);
    assert_int_equal(s_replies(f, "alice", "%déjà%"), 1);
    /* issue 11: another number is answered exactly as a new registration */
    assert_int_equal(s_replies(f, "bob", "%déjà%"), 0);
    assert_int_equal(s_replies(f, "bob", "Votre CIU est\u00a0: *MBEIBR7DA1*%"), 1);
    assert_int_equal(s_count(f, "SELECT count(*) FROM duplicates WHERE kind = "
                                "'same_ciu_other_number' AND user_key = 'bob'"),
                     1);
    int64_t row = s_request(f, "bob", "MBE", "IBR", "7");
    assert_int_equal(s_wake(f, "bob", row), 0);
    assert_int_equal(s_count(f, "SELECT count(*) FROM duplicates"), 1); /* once */
    /* a number that obtains another CIU */
    row = s_request(f, "alice", "KAL", "GED", "5");
    assert_int_equal(s_wake(f, "alice", row), 0);
    assert_int_equal(s_count(f, "SELECT count(*) FROM duplicates WHERE kind = "
                                "'number_other_ciu' AND other_ciu = 'MBEIBR7DA1' AND ciu = "
                                "'KALGED5DA1'"),
                     1);
    assert_int_equal(s_count(f, "SELECT count(*) FROM dhis2_sync"), 2);
}

/* issue 11: whether someone is enrolled is health information. The same
 * answers from a number that never obtained that code get exactly the
 * reply of a new registration; only the number that has it hears "already".
 * A second person registered with AUTRE from the same number is not a
 * suspected duplicate, without AUTRE it still is. */
static void test_issue11_household_and_privacy(void **state)
{
    fix_t *f = *state;
    cmn_str_t want = CMN_STR_INIT(4096);

    s_start(f, false);
    int64_t row = s_request(f, "mother", "MBE", "IBR", "7");
    assert_int_equal(s_wake(f, "mother", row), 0);
    row = s_request(f, "stranger", "MBE", "IBR", "7");
    assert_int_equal(s_wake(f, "stranger", row), 0);
    cmn_param_t pm[] = {P_TEXT("mother")}, ps[] = {P_TEXT("stranger")};
    const char *q = "SELECT body FROM outbox WHERE user_key = $1 ORDER BY id";
    cmn_rows_t *a = NULL, *b = NULL;
    assert_int_equal(cmn_store_query(f->d.store, q, pm, 1, &a), 0);
    assert_int_equal(cmn_store_query(f->d.store, q, ps, 1, &b), 0);
    assert_string_equal(cmn_rows_get(a, 0, 0), cmn_rows_get(b, 0, 0)); /* the very same text */
    assert_non_null(strstr(cmn_rows_get(b, 0, 0), "Écrivez *AUTRE*")); /* the offer */
    cmn_rows_destroy(&a);
    cmn_rows_destroy(&b);
    assert_int_equal(s_count(f, "SELECT count(*) FROM duplicates WHERE kind = "
                                "'same_ciu_other_number' AND user_key = 'stranger'"),
                     1); /* still recorded, for staff */
    row = s_request(f, "stranger", "MBE", "IBR", "7");
    assert_int_equal(s_wake(f, "stranger", row), 0);
    assert_int_equal(s_replies(f, "stranger", "%déjà%"), 1); /* now it has it */

    /* the mother registers her child with AUTRE: no suspected duplicate */
    row = s_request(f, "mother", "MBE", "KEN", "9");
    assert_int_equal(
        cmn_store_exec(f->d.store, "UPDATE ciu_requests SET other_person = 1", NULL, 0, NULL), 0);
    assert_int_equal(s_wake(f, "mother", row), 0);
    assert_int_equal(s_count(f, "SELECT count(*) FROM duplicates WHERE kind = "
                                "'number_other_ciu'"),
                     0);
    assert_int_equal(s_count(f, "SELECT count(*) FROM number_cius WHERE user_key = 'mother'"), 2);
    /* without AUTRE, another CIU from the number is still flagged */
    row = s_request(f, "mother", "KAL", "GED", "5");
    assert_int_equal(s_wake(f, "mother", row), 0);
    assert_int_equal(s_count(f, "SELECT count(*) FROM duplicates WHERE kind = "
                                "'number_other_ciu' AND ciu = 'KALGED5DA1'"),
                     1);
    cmn_str_free(&want);
}

/* Issue 6, item 2: another replica registers the same CIU between this
 * one's look and its write (PostgreSQL): the upsert counts it as a repeat
 * instead of failing on the unique key. */
static void test_registry_race(void **state)
{
    fix_t *f = *state;
    tsv_racer_t x;

    if (f->g->kind != CMN_STORE_POSTGRES)
        skip();
    s_start(f, false);
    tsv_pg_once(f->d.store, "INSERT ON registry", TSV_PG_HOLD);
    int64_t row = s_request(f, "alice", "MBE", "IBR", "7");
    tsv_racer_start(&x, f->g,
                    "INSERT INTO registry (ciu, reg_key, first_user_key, request_count, "
                    "first_ms, last_ms) VALUES ('MBEIBR7DA1', 'k', 'zoe', 1, 1, 1)");
    assert_int_equal(s_wake(f, "alice", row), 0);
    tsv_racer_join(&x);
    assert_int_equal(s_count(f, "SELECT request_count FROM registry"), 2);
    /* zoe's number registered it first: alice hears a new registration */
    assert_int_equal(s_replies(f, "alice", "%déjà%"), 0);
    assert_int_equal(s_replies(f, "alice", "Votre CIU est%"), 1);
    assert_int_equal(s_count(f, "SELECT count(*) FROM duplicates WHERE other_user_key = 'zoe'"), 1);
}

/* The QR image: the file is written with its row, before the commit (the
 * sender finds it at once); a file lost (a crash, a full disk) is written
 * again by the scan. */
static void test_qr_file(void **state)
{
    fix_t *f = *state;
    cmn_rows_t *rows = NULL;
    struct stat sb;
    char path[512];

    s_start(f, true);
    int64_t row = s_request(f, "alice", "MBE", "IBR", "7");
    assert_int_equal(s_wake(f, "alice", row), 0);
    assert_int_equal(s_files(f), 1);
    assert_int_equal(s_count(f, "SELECT count(*) FROM media WHERE ciu = 'MBEIBR7DA1'"), 1);
    assert_int_equal(s_count(f, "SELECT count(*) FROM outbox WHERE media_url LIKE '%/media/qr/%'"),
                     1);
    assert_int_equal(cmn_store_query(f->d.store, "SELECT path FROM media", NULL, 0, &rows), 0);
    snprintf(path, sizeof(path), "%s", cmn_rows_get(rows, 0, 0));
    cmn_rows_destroy(&rows);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(ciu_engine_rescan(ENGINE(f)), 0); /* too recent: the write may be under way */
    assert_int_not_equal(stat(path, &sb), 0);
    assert_int_equal(cmn_store_exec(f->d.store, "UPDATE media SET expires_ms = expires_ms - 10000",
                                    NULL, 0, NULL),
                     0);
    assert_int_equal(ciu_engine_rescan(ENGINE(f)), 0);
    assert_int_equal(stat(path, &sb), 0);
    assert_true(sb.st_size > 100);
    assert_int_equal(s_count(f, "SELECT written FROM media"), 1);
}

/* Issue 6, item 3: a transaction retried after a failure leaves one QR
 * file, not one per attempt (PostgreSQL: the first reply insert fails). */
static void test_qr_retry_one_file(void **state)
{
    fix_t *f = *state;

    if (f->g->kind != CMN_STORE_POSTGRES)
        skip();
    s_start(f, true);
    tsv_pg_once(f->d.store, "INSERT ON outbox", "RAISE EXCEPTION 'injected failure'");
    int64_t row = s_request(f, "alice", "MBE", "IBR", "7");
    assert_int_equal(s_wake(f, "alice", row), 0);
    assert_int_equal(s_count(f, "SELECT count(*) FROM media"), 1);
    assert_int_equal(s_files(f), 1);
    assert_int_equal(s_count(f, "SELECT count(*) FROM outbox"), 1);
}

/* Codes that cannot make a CIU: an apology, the wait ended, no loop. */
static void test_invalid_request(void **state)
{
    fix_t *f = *state;

    s_start(f, false);
    int64_t row = s_request(f, "alice", "M1E", "IBR", "7");
    assert_int_equal(s_wake(f, "alice", row), 0);
    assert_int_equal(s_count(f, "SELECT count(*) FROM ciu_requests"), 0);
    assert_int_equal(s_count(f, "SELECT count(*) FROM registry"), 0);
    assert_int_equal(s_count(f, "SELECT count(*) FROM outbox"), 1);
    assert_int_equal(s_count(f, "SELECT count(*) FROM ciu_done"), 1);
}

#define CASE(fn) cmocka_unit_test_setup_teardown(fn, tsv_case_setup, tsv_case_teardown)

int main(void)
{
    const struct CMUnitTest cases[] = {
        CASE(test_issue),
        CASE(test_registry_and_duplicates),
        CASE(test_issue11_household_and_privacy),
        CASE(test_registry_race),
        CASE(test_qr_file),
        CASE(test_qr_retry_one_file),
        CASE(test_invalid_request),
    };
    int failed = 0;

    failed += cmocka_run_group_tests_name("ciu_engine_sqlite", cases, tdb_group_sqlite,
                                          tdb_group_teardown);
    failed +=
        cmocka_run_group_tests_name("ciu_engine_postgres", cases, tdb_group_pg, tdb_group_teardown);
    return failed ? 1 : 0;
}
