/* Unit tests for cmn_metrics: exact exposition text, label merging,
 * concurrent updates. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/cmn_metrics.h"

static void test_render_exact(void **state)
{
    (void)state;
    cmn_metrics_t *m = cmn_metrics_new("ciu");
    assert_non_null(m);
    cmn_counter_t *sim = cmn_metrics_counter(m, "messages_total", "channel=\"sim\"",
                                             "Messages received.");
    cmn_gauge_t *q = cmn_metrics_gauge(m, "queue_depth", NULL, "Rows waiting.");
    cmn_counter_t *meta = cmn_metrics_counter(m, "messages_total", "channel=\"meta\"",
                                              "Messages received.");
    static const double b[] = {0.005, 0.1, 1};
    cmn_histogram_t *h =
        cmn_metrics_histogram(m, "latency_seconds", "stage=\"db\"", "Latency.\nIn s\\.", b, 3);
    cmn_histogram_t *h2 = cmn_metrics_histogram(m, "plain_seconds", NULL, "Plain.", b, 3);
    assert_non_null(sim);
    assert_non_null(q);
    assert_non_null(meta);
    assert_non_null(h);
    assert_non_null(h2);
    /* registering again returns the same metric */
    assert_ptr_equal(cmn_metrics_counter(m, "messages_total", "channel=\"sim\"", "x"), sim);

    cmn_counter_add(sim, 3);
    cmn_counter_add(sim, 2);
    cmn_counter_add(meta, 1);
    cmn_gauge_set(q, 10);
    cmn_gauge_add(q, -13);
    cmn_histogram_observe(h, 0.002);
    cmn_histogram_observe(h, 0.005); /* le is inclusive */
    cmn_histogram_observe(h, 0.05);
    cmn_histogram_observe(h, 7.5);
    cmn_histogram_observe(h2, 0.25);
    assert_int_equal(cmn_counter_get(sim), 5);
    assert_int_equal(cmn_gauge_get(q), -3);
    assert_int_equal(cmn_histogram_count(h), 4);

    cmn_str_t out = CMN_STR_INIT(1 << 20);
    assert_int_equal(cmn_metrics_render(m, &out), 0);
    assert_string_equal(cmn_str_cstr(&out),
                        "# HELP ciu_messages_total Messages received.\n"
                        "# TYPE ciu_messages_total counter\n"
                        "ciu_messages_total{channel=\"sim\"} 5\n"
                        "ciu_messages_total{channel=\"meta\"} 1\n"
                        "# HELP ciu_queue_depth Rows waiting.\n"
                        "# TYPE ciu_queue_depth gauge\n"
                        "ciu_queue_depth -3\n"
                        "# HELP ciu_latency_seconds Latency.\\nIn s\\\\.\n"
                        "# TYPE ciu_latency_seconds histogram\n"
                        "ciu_latency_seconds_bucket{stage=\"db\",le=\"0.005\"} 2\n"
                        "ciu_latency_seconds_bucket{stage=\"db\",le=\"0.1\"} 3\n"
                        "ciu_latency_seconds_bucket{stage=\"db\",le=\"1\"} 3\n"
                        "ciu_latency_seconds_bucket{stage=\"db\",le=\"+Inf\"} 4\n"
                        "ciu_latency_seconds_sum{stage=\"db\"} 7.557\n"
                        "ciu_latency_seconds_count{stage=\"db\"} 4\n"
                        "# HELP ciu_plain_seconds Plain.\n"
                        "# TYPE ciu_plain_seconds histogram\n"
                        "ciu_plain_seconds_bucket{le=\"0.005\"} 0\n"
                        "ciu_plain_seconds_bucket{le=\"0.1\"} 0\n"
                        "ciu_plain_seconds_bucket{le=\"1\"} 1\n"
                        "ciu_plain_seconds_bucket{le=\"+Inf\"} 1\n"
                        "ciu_plain_seconds_sum 0.25\n"
                        "ciu_plain_seconds_count 1\n");
    cmn_str_free(&out);
    cmn_metrics_destroy(&m);
    assert_null(m);
    cmn_metrics_destroy(&m);
}

static void test_default_buckets_and_errors(void **state)
{
    (void)state;
    cmn_metrics_t *m = cmn_metrics_new(NULL);
    cmn_histogram_t *h = cmn_metrics_histogram(m, "req_seconds", NULL, "Requests.", NULL, 0);
    assert_non_null(h);
    cmn_histogram_observe(h, 20);
    cmn_histogram_observe(h, -1); /* clamped to 0 */
    cmn_str_t out = CMN_STR_INIT(1 << 20);
    assert_int_equal(cmn_metrics_render(m, &out), 0);
    const char *t = cmn_str_cstr(&out);
    assert_non_null(strstr(t, "req_seconds_bucket{le=\"0.0005\"} 1\n"));
    assert_non_null(strstr(t, "req_seconds_bucket{le=\"2.5\"} 1\n"));
    assert_non_null(strstr(t, "req_seconds_bucket{le=\"10\"} 1\n"));
    assert_non_null(strstr(t, "req_seconds_bucket{le=\"+Inf\"} 2\n"));
    assert_non_null(strstr(t, "req_seconds_sum 20\n"));
    assert_non_null(strstr(t, "req_seconds_count 2\n"));

    /* one name, one type */
    errno = 0;
    assert_null(cmn_metrics_counter(m, "req_seconds", NULL, "x"));
    assert_int_equal(errno, EINVAL);
    static const double bad[] = {1, 0.5};
    assert_null(cmn_metrics_histogram(m, "bad_seconds", NULL, "x", bad, 2));

    /* a render past the ceiling fails and leaves out unchanged */
    cmn_str_t small = CMN_STR_INIT(40);
    cmn_str_appends(&small, "keep");
    assert_int_equal(cmn_metrics_render(m, &small), -E2BIG);
    assert_string_equal(cmn_str_cstr(&small), "keep");
    cmn_str_free(&small);
    cmn_str_free(&out);
    cmn_metrics_destroy(&m);
}

#define THREADS 4
#define PER_THREAD 100000

typedef struct {
    cmn_counter_t *c;
    cmn_gauge_t *g;
    cmn_histogram_t *h;
} s_targets_t;

static void *s_worker(void *arg)
{
    s_targets_t *t = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        cmn_counter_add(t->c, 1);
        cmn_gauge_add(t->g, (i & 1) ? 3 : -1);
        cmn_histogram_observe(t->h, 0.001);
    }
    return NULL;
}

static void test_concurrent_updates(void **state)
{
    (void)state;
    cmn_metrics_t *m = cmn_metrics_new("t");
    s_targets_t t = {
        .c = cmn_metrics_counter(m, "ops_total", NULL, "Ops."),
        .g = cmn_metrics_gauge(m, "level", NULL, "Level."),
        .h = cmn_metrics_histogram(m, "op_seconds", NULL, "Op time.", NULL, 0),
    };
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, s_worker, &t), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(cmn_counter_get(t.c), THREADS * PER_THREAD);
    assert_int_equal(cmn_gauge_get(t.g), THREADS * (PER_THREAD / 2) * 2);
    assert_int_equal(cmn_histogram_count(t.h), THREADS * PER_THREAD);
    cmn_str_t out = CMN_STR_INIT(1 << 20);
    assert_int_equal(cmn_metrics_render(m, &out), 0);
    assert_non_null(strstr(cmn_str_cstr(&out), "t_ops_total 400000\n"));
    assert_non_null(strstr(cmn_str_cstr(&out), "t_op_seconds_sum 400\n"));
    assert_non_null(strstr(cmn_str_cstr(&out), "t_op_seconds_bucket{le=\"0.001\"} 400000\n"));
    cmn_str_free(&out);
    cmn_metrics_destroy(&m);
}

/* A stage registers its metrics while the admin thread may already render
 * a scrape: registration moves the registry's array (ASan: use after free
 * without the lock). */
static _Atomic int s_rendering;

static void *s_scraper(void *arg)
{
    cmn_metrics_t *m = arg;
    while (s_rendering) {
        cmn_str_t out = CMN_STR_INIT(1 << 22);
        assert_int_equal(cmn_metrics_render(m, &out), 0);
        cmn_str_free(&out);
    }
    return NULL;
}

static void test_register_while_rendering(void **state)
{
    (void)state;
    for (int round = 0; round < 30; round++) { /* each round: 7 moves of the array */
        cmn_metrics_t *m = cmn_metrics_new("t");
        pthread_t th;
        char name[32];
        s_rendering = 1;
        assert_int_equal(pthread_create(&th, NULL, s_scraper, m), 0);
        for (int i = 0; i < 1000; i++) {
            snprintf(name, sizeof(name), "g%d", i);
            assert_non_null(cmn_metrics_gauge(m, name, NULL, "G."));
        }
        s_rendering = 0;
        pthread_join(th, NULL);
        cmn_str_t out = CMN_STR_INIT(1 << 22);
        assert_int_equal(cmn_metrics_render(m, &out), 0);
        assert_non_null(strstr(cmn_str_cstr(&out), "t_g999 0\n"));
        cmn_str_free(&out);
        cmn_metrics_destroy(&m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_exact),
        cmocka_unit_test(test_default_buckets_and_errors),
        cmocka_unit_test(test_concurrent_updates),
        cmocka_unit_test(test_register_while_rendering),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
