/* Unit tests of conv_flood: per-number flood protection with a test clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "conv_flood.h"

#define SEC 1000LL
#define T0 5000000LL

/* 5 messages per 10 s, then 60 s blocked. */
static conv_flood_t *s_new(size_t cap)
{
    conv_flood_t *f = conv_flood_new(5, 10 * SEC, 60 * SEC, cap);
    assert_non_null(f);
    return f;
}

static void test_limit_warn_once_then_drop(void **state)
{
    (void)state;
    conv_flood_t *f = s_new(100);
    int64_t now = T0;
    for (int i = 0; i < 5; i++, now += SEC)
        assert_int_equal(conv_flood_check(f, "alice", now), CONV_FLOOD_OK);
    /* the 6th within 10 s crosses the limit: one warning */
    assert_int_equal(conv_flood_check(f, "alice", now), CONV_FLOOD_WARN);
    int64_t warned = now;
    /* then silence for the whole block, however many messages */
    for (int i = 0; i < 200; i++) {
        now += 250;
        if (now >= warned + 60 * SEC)
            break;
        assert_int_equal(conv_flood_check(f, "alice", now), CONV_FLOOD_DROP);
    }
    assert_int_equal(conv_flood_check(f, "alice", warned + 60 * SEC - 1), CONV_FLOOD_DROP);
    /* released after the block, with a fresh allowance */
    now = warned + 60 * SEC;
    for (int i = 0; i < 5; i++, now += SEC)
        assert_int_equal(conv_flood_check(f, "alice", now), CONV_FLOOD_OK);
    assert_int_equal(conv_flood_check(f, "alice", now), CONV_FLOOD_WARN);
    conv_flood_destroy(&f);
    assert_null(f);
}

static void test_window_resets(void **state)
{
    (void)state;
    conv_flood_t *f = s_new(100);
    /* 5 messages every 10 s, forever: never over the limit */
    int64_t now = T0;
    for (int w = 0; w < 20; w++) {
        for (int i = 0; i < 5; i++)
            assert_int_equal(conv_flood_check(f, "bob", now + i * SEC), CONV_FLOOD_OK);
        now += 10 * SEC;
    }
    /* 6 messages within one window trip the limit, whatever their spacing */
    assert_int_equal(conv_flood_check(f, "carol", now), CONV_FLOOD_OK);
    for (int i = 1; i < 5; i++)
        assert_int_equal(conv_flood_check(f, "carol", now + i * SEC), CONV_FLOOD_OK);
    assert_int_equal(conv_flood_check(f, "carol", now + 9 * SEC), CONV_FLOOD_WARN);
    conv_flood_destroy(&f);
}

static void test_others_unaffected(void **state)
{
    (void)state;
    conv_flood_t *f = s_new(100);
    int64_t now = T0;
    for (int i = 0; i < 5; i++)
        assert_int_equal(conv_flood_check(f, "+243810000001", now), CONV_FLOOD_OK);
    assert_int_equal(conv_flood_check(f, "+243810000001", now), CONV_FLOOD_WARN);
    assert_int_equal(conv_flood_check(f, "+243810000001", now + SEC), CONV_FLOOD_DROP);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(conv_flood_check(f, "+243810000002", now + SEC), CONV_FLOOD_OK);
        assert_int_equal(conv_flood_check(f, "+243810000003", now + SEC), CONV_FLOOD_OK);
    }
    assert_int_equal(conv_flood_check(f, "+243810000001", now + 2 * SEC), CONV_FLOOD_DROP);
    assert_int_equal(conv_flood_size(f), 3);
    conv_flood_destroy(&f);
}

static void test_eviction_cap(void **state)
{
    (void)state;
    conv_flood_t *f = s_new(1000);
    char key[32];
    int64_t now = T0;
    /* block one number, then keep it recently seen while 10,000 others pass */
    for (int i = 0; i < 6; i++)
        conv_flood_check(f, "blocked", now);
    for (int i = 0; i < 10000; i++) {
        snprintf(key, sizeof(key), "n%d", i);
        assert_int_equal(conv_flood_check(f, key, now), CONV_FLOOD_OK);
        assert_true(conv_flood_size(f) <= 1000);
        if (i % 500 == 0)
            assert_int_equal(conv_flood_check(f, "blocked", now), CONV_FLOOD_DROP);
    }
    assert_int_equal(conv_flood_size(f), 1000);
    /* the most recent keys are still counted */
    for (int i = 0; i < 4; i++)
        assert_int_equal(conv_flood_check(f, "n9999", now), CONV_FLOOD_OK);
    assert_int_equal(conv_flood_check(f, "n9999", now), CONV_FLOOD_WARN);
    /* the oldest were forgotten: they start again from zero */
    for (int i = 0; i < 5; i++)
        assert_int_equal(conv_flood_check(f, "n0", now), CONV_FLOOD_OK);
    assert_int_equal(conv_flood_check(f, "n0", now), CONV_FLOOD_WARN);
    assert_int_equal(conv_flood_size(f), 1000);

    /* cap 1: the table holds one key */
    conv_flood_t *one = conv_flood_new(1, 10 * SEC, 60 * SEC, 1);
    assert_non_null(one);
    assert_int_equal(conv_flood_check(one, "a", now), CONV_FLOOD_OK);
    assert_int_equal(conv_flood_check(one, "b", now), CONV_FLOOD_OK);
    assert_int_equal(conv_flood_check(one, "a", now), CONV_FLOOD_OK); /* "a" was evicted */
    assert_int_equal(conv_flood_check(one, "a", now), CONV_FLOOD_WARN);
    assert_int_equal(conv_flood_size(one), 1);
    conv_flood_destroy(&one);
    conv_flood_destroy(&f);
}

static void test_no_block(void **state)
{
    (void)state;
    /* block 0: warn on every message over the limit, never drop */
    conv_flood_t *f = conv_flood_new(2, 10 * SEC, 0, 10);
    assert_non_null(f);
    assert_int_equal(conv_flood_check(f, "x", T0), CONV_FLOOD_OK);
    assert_int_equal(conv_flood_check(f, "x", T0), CONV_FLOOD_OK);
    assert_int_equal(conv_flood_check(f, "x", T0), CONV_FLOOD_WARN);
    assert_int_equal(conv_flood_check(f, "x", T0), CONV_FLOOD_OK);
    conv_flood_destroy(&f);
}

static void test_edges(void **state)
{
    (void)state;
    assert_null(conv_flood_new(0, 1000, 1000, 10));
    assert_null(conv_flood_new(5, 0, 1000, 10));
    assert_null(conv_flood_new(5, 1000, -1, 10));
    assert_null(conv_flood_new(5, 1000, 1000, 0));
    conv_flood_destroy(NULL);
    conv_flood_t *none = NULL;
    conv_flood_destroy(&none);
    assert_int_equal(conv_flood_check(NULL, "x", T0), CONV_FLOOD_OK);
    assert_int_equal(conv_flood_size(NULL), 0);

    conv_flood_t *f = conv_flood_new(1, 10 * SEC, 60 * SEC, 10);
    assert_non_null(f);
    assert_int_equal(conv_flood_check(f, NULL, T0), CONV_FLOOD_OK);
    /* over-long keys are not tracked */
    char big[CONV_FLOOD_KEY_MAX + 2];
    memset(big, 'k', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    for (int i = 0; i < 5; i++)
        assert_int_equal(conv_flood_check(f, big, T0), CONV_FLOOD_OK);
    assert_int_equal(conv_flood_size(f), 0);
    /* the clock going back opens a new window instead of blocking */
    assert_int_equal(conv_flood_check(f, "y", T0), CONV_FLOOD_OK);
    assert_int_equal(conv_flood_check(f, "y", T0 - 100 * SEC), CONV_FLOOD_OK);
    conv_flood_destroy(&f);

    assert_string_equal(conv_flood_verdict_str(CONV_FLOOD_OK), "ok");
    assert_string_equal(conv_flood_verdict_str(CONV_FLOOD_WARN), "warn");
    assert_string_equal(conv_flood_verdict_str(CONV_FLOOD_DROP), "drop");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limit_warn_once_then_drop),
        cmocka_unit_test(test_window_resets),
        cmocka_unit_test(test_others_unaffected),
        cmocka_unit_test(test_eviction_cap),
        cmocka_unit_test(test_no_block),
        cmocka_unit_test(test_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
