/* Unit tests of ing_shed: ingress drops a flooding number's messages before
 * the store, never what the conversation's flood limit would still handle. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "ing_shed.h"

#define SEC 1000LL
#define T0 5000000LL

/* A flood: the first 2 x max pass (the conversation warns at max + 1), the rest
 * is dropped until the bucket refills at max per window. */
static void test_flood_dropped_after_twice_the_limit(void **state)
{
    (void)state;
    ing_shed_t *sh = ing_shed_new(20, 60);
    int passed = 0;
    assert_non_null(sh);
    for (int i = 0; i < 1000; i++)
        passed += ing_shed_admit(sh, "+243810000001", T0 + i); /* 1,000 per second */
    assert_int_equal(passed, 40);
    /* another number is not affected */
    assert_true(ing_shed_admit(sh, "+243810000002", T0 + 1000));
    /* 3 s later one more message is allowed (20 per 60 s) */
    assert_false(ing_shed_admit(sh, "+243810000001", T0 + 2 * SEC));
    assert_true(ing_shed_admit(sh, "+243810000001", T0 + 4 * SEC));
    ing_shed_destroy(&sh);
    assert_null(sh);
    ing_shed_destroy(&sh);
    ing_shed_destroy(NULL);
}

/* Bursts of twice the limit, one every two windows (the most the conversation
 * could handle: 20 at the end of one window, 20 at the start of the next):
 * nothing is dropped here, the conversation decides. */
static void test_limit_never_dropped(void **state)
{
    (void)state;
    ing_shed_t *sh = ing_shed_new(20, 60);
    int64_t now = T0;
    for (int w = 0; w < 10; w++) {
        for (int i = 0; i < 20; i++)
            assert_true(ing_shed_admit(sh, "+243810000003", now + i));
        now += (w % 2 == 0) ? 1 * SEC : 119 * SEC; /* pairs of windows back to back */
    }
    ing_shed_destroy(&sh);
}

/* Many numbers (more than the table holds): each is let through, busy slots
 * are never taken from another number, and a flooder among them is still
 * dropped. */
static void test_many_numbers_fail_open(void **state)
{
    (void)state;
    ing_shed_t *sh = ing_shed_new(2, 60);
    char n[32];
    int dropped = 0;
    for (int i = 0; i < 20000; i++) {
        snprintf(n, sizeof(n), "+2438%08d", i);
        assert_true(ing_shed_admit(sh, n, T0)); /* a first message always passes */
        assert_true(ing_shed_admit(sh, n, T0)); /* and a second */
    }
    for (int i = 0; i < 100; i++)
        dropped += !ing_shed_admit(sh, "+243899999999", T0);
    assert_true(dropped >= 96 || dropped == 0); /* dropped, or no slot: let through */
    ing_shed_destroy(&sh);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    assert_null(ing_shed_new(0, 60));
    assert_null(ing_shed_new(20, 0));
    assert_true(ing_shed_admit(NULL, "+243810000001", T0));
    ing_shed_t *sh = ing_shed_new(1, 1);
    assert_true(ing_shed_admit(sh, NULL, T0));
    assert_true(ing_shed_admit(sh, "", T0));
    ing_shed_destroy(&sh);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flood_dropped_after_twice_the_limit),
        cmocka_unit_test(test_limit_never_dropped),
        cmocka_unit_test(test_many_numbers_fail_open),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
