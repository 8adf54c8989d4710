/* Unit tests of conv_flood: per-number flood protection with a test clock
 * (the state is plain data the conversation keeps in the store). */
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
static const conv_flood_limits_t s_lim = {5, 10 * SEC, 60 * SEC};

static void test_limit_warn_once_then_drop(void **state)
{
    (void)state;
    conv_flood_state_t st = {0};
    int64_t now = T0;
    for (int i = 0; i < 5; i++, now += SEC)
        assert_int_equal(conv_flood_count(&s_lim, &st, now), CONV_FLOOD_OK);
    /* the 6th within 10 s crosses the limit: one warning */
    assert_int_equal(conv_flood_count(&s_lim, &st, now), CONV_FLOOD_WARN);
    int64_t warned = now;
    /* then silence for the whole block, however many messages */
    for (int i = 0; i < 200; i++) {
        now += 250;
        if (now >= warned + 60 * SEC)
            break;
        assert_int_equal(conv_flood_count(&s_lim, &st, now), CONV_FLOOD_DROP);
    }
    assert_int_equal(conv_flood_count(&s_lim, &st, warned + 60 * SEC - 1), CONV_FLOOD_DROP);
    /* released after the block, with a fresh allowance */
    now = warned + 60 * SEC;
    for (int i = 0; i < 5; i++, now += SEC)
        assert_int_equal(conv_flood_count(&s_lim, &st, now), CONV_FLOOD_OK);
    assert_int_equal(conv_flood_count(&s_lim, &st, now), CONV_FLOOD_WARN);
}

static void test_window_resets(void **state)
{
    (void)state;
    conv_flood_state_t bob = {0}, carol = {0};
    /* 5 messages every 10 s, forever: never over the limit */
    int64_t now = T0;
    for (int w = 0; w < 20; w++) {
        for (int i = 0; i < 5; i++)
            assert_int_equal(conv_flood_count(&s_lim, &bob, now + i * SEC), CONV_FLOOD_OK);
        now += 10 * SEC;
    }
    /* 6 messages within one window trip the limit, whatever their spacing */
    assert_int_equal(conv_flood_count(&s_lim, &carol, now), CONV_FLOOD_OK);
    for (int i = 1; i < 5; i++)
        assert_int_equal(conv_flood_count(&s_lim, &carol, now + i * SEC), CONV_FLOOD_OK);
    assert_int_equal(conv_flood_count(&s_lim, &carol, now + 9 * SEC), CONV_FLOOD_WARN);
}

/* Issue 6, item 3: counted by arrival time, a backlog that arrived slowly
 * and is handled all at once (after an outage) is not a flood. */
static void test_backlog_by_arrival(void **state)
{
    (void)state;
    conv_flood_state_t st = {0};
    for (int i = 0; i < 30; i++) /* one message every 3 s, handled together later */
        assert_int_equal(conv_flood_count(&s_lim, &st, T0 + i * 3 * SEC), CONV_FLOOD_OK);
}

static void test_no_block(void **state)
{
    (void)state;
    /* block 0: warn on every message over the limit, never drop */
    conv_flood_limits_t lim = {2, 10 * SEC, 0};
    conv_flood_state_t st = {0};
    assert_int_equal(conv_flood_count(&lim, &st, T0), CONV_FLOOD_OK);
    assert_int_equal(conv_flood_count(&lim, &st, T0), CONV_FLOOD_OK);
    assert_int_equal(conv_flood_count(&lim, &st, T0), CONV_FLOOD_WARN);
    assert_int_equal(conv_flood_count(&lim, &st, T0), CONV_FLOOD_OK);
}

static void test_edges(void **state)
{
    (void)state;
    conv_flood_state_t st = {0};
    conv_flood_limits_t bad = {0, 1000, 1000};
    assert_int_equal(conv_flood_count(NULL, &st, T0), CONV_FLOOD_OK);
    assert_int_equal(conv_flood_count(&s_lim, NULL, T0), CONV_FLOOD_OK);
    assert_int_equal(conv_flood_count(&bad, &st, T0), CONV_FLOOD_OK);

    /* the clock going back opens a new window instead of blocking */
    conv_flood_limits_t one = {1, 10 * SEC, 60 * SEC};
    assert_int_equal(conv_flood_count(&one, &st, T0), CONV_FLOOD_OK);
    assert_int_equal(conv_flood_count(&one, &st, T0 - 100 * SEC), CONV_FLOOD_OK);

    /* absurd stored values never overflow (UBSan would stop the test) */
    conv_flood_state_t odd = {INT64_MIN, 3, 0};
    assert_int_equal(conv_flood_count(&s_lim, &odd, INT64_MAX), CONV_FLOOD_OK);
    odd = (conv_flood_state_t){INT64_MAX, 3, 0};
    assert_int_equal(conv_flood_count(&s_lim, &odd, INT64_MIN), CONV_FLOOD_OK);
    odd = (conv_flood_state_t){0, 0, 0};
    for (int i = 0; i < 5; i++)
        conv_flood_count(&s_lim, &odd, INT64_MAX);
    assert_int_equal(conv_flood_count(&s_lim, &odd, INT64_MAX), CONV_FLOOD_WARN);
    assert_true(odd.blocked_until_ms == INT64_MAX);
    conv_flood_limits_t huge = {1, INT64_MAX, INT64_MAX};
    assert_true(conv_flood_keep_ms(&huge) == INT64_MAX);
    assert_true(conv_flood_keep_ms(&s_lim) == 70 * SEC);

    assert_string_equal(conv_flood_verdict_str(CONV_FLOOD_OK), "ok");
    assert_string_equal(conv_flood_verdict_str(CONV_FLOOD_WARN), "warn");
    assert_string_equal(conv_flood_verdict_str(CONV_FLOOD_DROP), "drop");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limit_warn_once_then_drop),
        cmocka_unit_test(test_window_resets),
        cmocka_unit_test(test_backlog_by_arrival),
        cmocka_unit_test(test_no_block),
        cmocka_unit_test(test_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
