/* test_ing_inbox: the inbox writer embedded (ing_inbox_new on a daemon booted
 * in-process), on SQLite and PostgreSQL: one atomic insert per provider id
 * (redeliveries, in one batch or later, keep the first row and its id),
 * delivery statuses recorded once per (message, status) and never moving
 * back, every submit answered exactly once through its callback.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ing_inbox.h"
#include "test_server.h"

typedef tsv_case_t fix_t;

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int calls;
    int result;
    size_t n;
    char ids[8][CMN_ID_LEN];
} s_wait_t;

static void s_destroy(void *server)
{
    ing_inbox_t *x = server;
    ing_inbox_destroy(&x);
}

static void s_start(fix_t *f)
{
    char conv[128], ev[128];
    assert_int_equal(tsv_boot(&f->d, &f->dir, "ciu-ingress", f->g->url, NULL), CMN_EXIT_OK);
    snprintf(conv, sizeof(conv), "ipc://%s/inbox-conv", f->dir.dir);
    snprintf(ev, sizeof(ev), "ipc://%s/inbox-ev", f->dir.dir);
    f->destroy = s_destroy;
    f->server = ing_inbox_new(&f->d, conv, ev);
    assert_non_null(f->server);
}

static void s_done(void *arg, int result, const char (*ids)[CMN_ID_LEN], size_t n)
{
    s_wait_t *w = arg;
    pthread_mutex_lock(&w->mu);
    w->calls++;
    w->result = result;
    w->n = n;
    for (size_t i = 0; i < n && i < 8; i++)
        memcpy(w->ids[i], ids[i], CMN_ID_LEN);
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Submit and wait for the callback (the writer commits in its own thread). */
static void s_submit(fix_t *f, const ing_inbound_t *msgs, size_t n, const ing_status_in_t *sts,
                     size_t m, s_wait_t *w)
{
    memset(w, 0, sizeof(*w));
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    assert_int_equal(ing_inbox_submit_async(f->server, msgs, n, sts, m, s_done, w), 0);
    pthread_mutex_lock(&w->mu);
    while (w->calls == 0)
        pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
    assert_int_equal(w->calls, 1);
    assert_int_equal(w->result, 0);
}

static int64_t s_count(fix_t *f, const char *sql)
{
    return tsv_int(f->d.store, sql, NULL, 0);
}

static void test_dedupe_by_provider_id(void **state)
{
    fix_t *f = *state;
    s_wait_t w1, w2;
    s_start(f);
    /* the same wamid twice in one POST, and a second message */
    ing_inbound_t a[] = {{"meta", "wamid.1", "+243810000001", "text", "Bonjour"},
                         {"meta", "wamid.1", "+243810000001", "text", "Bonjour"},
                         {"meta", "wamid.2", "+243810000002", "image", NULL}};
    s_submit(f, a, 3, NULL, 0, &w1);
    assert_int_equal(w1.n, 3);
    assert_string_equal(w1.ids[0], w1.ids[1]); /* the duplicate answers with the first id */
    assert_string_not_equal(w1.ids[0], w1.ids[2]);
    /* redelivered minutes later: still one row, the original id */
    s_submit(f, a, 1, NULL, 0, &w2);
    assert_string_equal(w2.ids[0], w1.ids[0]);
    assert_int_equal(s_count(f, "SELECT count(*) FROM inbox"), 2);
    assert_int_equal(s_count(f, "SELECT count(*) FROM inbox WHERE provider_id = 'wamid.1'"), 1);
    /* the same id on another channel is another message */
    ing_inbound_t t[] = {{"twilio", "wamid.1", "+243810000001", "text", "x"}};
    s_submit(f, t, 1, NULL, 0, &w2);
    assert_int_equal(s_count(f, "SELECT count(*) FROM inbox"), 3);
    /* numbers are stored as keyed hashes, with their shard bucket */
    assert_int_equal(s_count(f, "SELECT count(*) FROM inbox WHERE user_key LIKE '+%' OR "
                                "shard IS NULL"),
                     0);
}

static void test_statuses_forward_only(void **state)
{
    fix_t *f = *state;
    s_wait_t w;
    s_start(f);
    ing_status_in_t st[] = {{"meta", "wamid.out", "read", NULL},
                            {"meta", "wamid.out", "sent", NULL},
                            {"meta", "wamid.out", "delivered", NULL},
                            {"meta", "wamid.out", "read", NULL}};
    s_submit(f, NULL, 0, st, 4, &w);
    assert_int_equal(w.n, 0);
    assert_int_equal(s_count(f, "SELECT status_rank FROM deliveries WHERE provider_id = "
                                "'wamid.out'"),
                     3); /* read: the later sent and delivered did not move it back */
    assert_int_equal(s_count(f, "SELECT count(*) FROM delivery_events"), 3);
    /* a failure after read is final, with its code */
    ing_status_in_t fail[] = {{"meta", "wamid.out", "failed", "131026"}};
    s_submit(f, NULL, 0, fail, 1, &w);
    assert_int_equal(s_count(f, "SELECT count(*) FROM deliveries WHERE status = 'failed' AND "
                                "error_code = '131026'"),
                     1);
}

static void test_refused_when_stopping(void **state)
{
    fix_t *f = *state;
    s_start(f);
    ing_inbox_t *in = f->server;
    ing_inbound_t a[] = {{"sim", NULL, "+243810000001", "text", "x"}};
    assert_int_equal(ing_inbox_submit_async(in, a, 0, NULL, 0, s_done, NULL), -EINVAL);
    ing_inbox_destroy(&in); /* commits what is queued, then refuses nothing is left */
    f->server = NULL;
}

#define CASE(fn) cmocka_unit_test_setup_teardown(fn, tsv_case_setup, tsv_case_teardown)

int main(void)
{
    const struct CMUnitTest cases[] = {
        CASE(test_dedupe_by_provider_id),
        CASE(test_statuses_forward_only),
        CASE(test_refused_when_stopping),
    };
    int failed = 0;
    failed += cmocka_run_group_tests_name("ing_inbox_sqlite", cases, tdb_group_sqlite,
                                          tdb_group_teardown);
    failed +=
        cmocka_run_group_tests_name("ing_inbox_postgres", cases, tdb_group_pg, tdb_group_teardown);
    return failed ? 1 : 0;
}
