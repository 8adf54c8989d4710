/* Unit tests for cmn_str. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/cmn_str.h"

static void test_append_and_cstr(void **state)
{
    (void)state;
    cmn_str_t s = CMN_STR_INIT(1024);
    assert_string_equal(cmn_str_cstr(&s), "");
    assert_int_equal(cmn_str_append(&s, "abc", 3), 0);
    assert_int_equal(cmn_str_appends(&s, "def"), 0);
    assert_int_equal(cmn_str_printf(&s, "-%d-%s", 42, "x"), 0);
    assert_string_equal(cmn_str_cstr(&s), "abcdef-42-x");
    assert_int_equal(s.len, 11);
    cmn_str_reset(&s);
    assert_string_equal(cmn_str_cstr(&s), "");
    assert_int_equal(s.len, 0);
    assert_int_equal(cmn_str_appends(&s, "again"), 0);
    assert_string_equal(s.buf, "again");
    cmn_str_free(&s);
    assert_null(s.buf);
    cmn_str_free(&s); /* twice is fine */
    cmn_str_free(NULL);
}

static void test_growth_many_appends(void **state)
{
    (void)state;
    cmn_str_t s = CMN_STR_INIT(100000);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(cmn_str_printf(&s, "%d,", i % 10), 0);
    assert_int_equal(s.len, 20000);
    assert_int_equal(strlen(s.buf), 20000);
    assert_memory_equal(s.buf + 19996, "8,9,", 4);
    cmn_str_free(&s);
}

static void test_max_is_hard(void **state)
{
    (void)state;
    cmn_str_t s = CMN_STR_INIT(5);
    assert_int_equal(cmn_str_appends(&s, "12345"), 0);
    assert_int_equal(cmn_str_appends(&s, "6"), -E2BIG);
    assert_string_equal(cmn_str_cstr(&s), "12345");
    cmn_str_reset(&s);
    assert_int_equal(cmn_str_appends(&s, "ab"), 0);
    assert_int_equal(cmn_str_printf(&s, "%s", "cdef"), -E2BIG);
    assert_string_equal(cmn_str_cstr(&s), "ab");
    assert_int_equal(cmn_str_append_json(&s, "\n\n"), -E2BIG); /* 4 bytes escaped */
    assert_string_equal(cmn_str_cstr(&s), "ab");
    assert_int_equal(s.len, 2);
    /* a size that would overflow len + n */
    assert_int_equal(cmn_str_append(&s, "x", SIZE_MAX), -E2BIG);
    cmn_str_free(&s);
}

static void test_steal(void **state)
{
    (void)state;
    cmn_str_t s = CMN_STR_INIT(64);
    char *p = cmn_str_steal(&s);
    assert_non_null(p);
    assert_string_equal(p, "");
    free(p);
    cmn_str_appends(&s, "hello");
    p = cmn_str_steal(&s);
    assert_string_equal(p, "hello");
    assert_null(s.buf);
    assert_int_equal(s.len, 0);
    assert_int_equal(s.max, 64);
    free(p);
}

static void test_json_escape(void **state)
{
    (void)state;
    cmn_str_t s = CMN_STR_INIT(1024);
    assert_int_equal(cmn_str_append_json(&s, "a\"b\\c\n\r\t\x01\x1f\x7f/"), 0);
    assert_string_equal(s.buf, "a\\\"b\\\\c\\n\\r\\t\\u0001\\u001f\\u007f/");
    cmn_str_reset(&s);
    /* valid UTF-8 passes through; invalid bytes become U+FFFD */
    const char *utf8 = "Kinshasa \xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";
    assert_int_equal(cmn_str_append_json(&s, utf8), 0);
    assert_string_equal(s.buf, "Kinshasa \xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    cmn_str_reset(&s);
    assert_int_equal(cmn_str_append_json(&s, "a\xff" "b\xc3" "c\xc0\xaf" "d\xed\xa0\x80"), 0);
    assert_string_equal(s.buf, "a\\ufffdb\\ufffdc\\ufffd\\ufffdd\\ufffd\\ufffd\\ufffd");
    cmn_str_free(&s);
}

static void test_strlcpy(void **state)
{
    (void)state;
    char buf[6];
    assert_int_equal(cmn_strlcpy(buf, "hello", sizeof(buf)), 0);
    assert_string_equal(buf, "hello");
    assert_int_equal(cmn_strlcpy(buf, "hello!", sizeof(buf)), -E2BIG);
    assert_string_equal(buf, "hello");
    assert_int_equal(cmn_strlcpy(buf, "", sizeof(buf)), 0);
    assert_string_equal(buf, "");
    assert_int_equal(cmn_strlcpy(buf, "x", 0), -E2BIG);
}

static void test_parse_long(void **state)
{
    (void)state;
    long v = 7;
    assert_int_equal(cmn_parse_long("42", 0, 100, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(cmn_parse_long("-1", -1, 100, &v), 0);
    assert_int_equal(v, -1);
    assert_int_equal(cmn_parse_long("+5", 0, 100, &v), 0);
    assert_int_equal(v, 5);
    v = 7;
    assert_int_equal(cmn_parse_long("101", 0, 100, &v), -ERANGE);
    assert_int_equal(cmn_parse_long("-2", -1, 100, &v), -ERANGE);
    assert_int_equal(cmn_parse_long("99999999999999999999999", LONG_MIN, LONG_MAX, &v),
                     -ERANGE);
    assert_int_equal(cmn_parse_long("", 0, 100, &v), -EINVAL);
    assert_int_equal(cmn_parse_long(NULL, 0, 100, &v), -EINVAL);
    assert_int_equal(cmn_parse_long("abc", 0, 100, &v), -EINVAL);
    assert_int_equal(cmn_parse_long("12abc", 0, 100, &v), -EINVAL);
    assert_int_equal(cmn_parse_long(" 12", 0, 100, &v), -EINVAL);
    assert_int_equal(cmn_parse_long("12 ", 0, 100, &v), -EINVAL);
    assert_int_equal(cmn_parse_long("0x10", 0, 100, &v), -EINVAL);
    assert_int_equal(cmn_parse_long("-", 0, 100, &v), -EINVAL);
    assert_int_equal(v, 7); /* untouched on failure */
}

static void test_hex_digit(void **state)
{
    (void)state;
    assert_int_equal(cmn_hex_digit('0'), 0);
    assert_int_equal(cmn_hex_digit('9'), 9);
    assert_int_equal(cmn_hex_digit('a'), 10);
    assert_int_equal(cmn_hex_digit('F'), 15);
    assert_int_equal(cmn_hex_digit('g'), -1);
    assert_int_equal(cmn_hex_digit('%'), -1);
    assert_int_equal(cmn_hex_digit('\0'), -1);
}

static char *s_vdup(size_t max, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *r = cmn_str_vdup(max, fmt, ap);
    va_end(ap);
    return r;
}

static void test_vdup(void **state)
{
    (void)state;
    char *s = s_vdup(64, "%s: %d", "CIU_HTTP_PORT", 70000);
    assert_string_equal(s, "CIU_HTTP_PORT: 70000");
    free(s);
    s = s_vdup(64, "%s", "");
    assert_string_equal(s, ""); /* an empty message is a string, not NULL */
    free(s);
    assert_null(s_vdup(8, "%s", "longer than eight")); /* past max: NULL */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vdup),
        cmocka_unit_test(test_append_and_cstr),
        cmocka_unit_test(test_growth_many_appends),
        cmocka_unit_test(test_max_is_hard),
        cmocka_unit_test(test_steal),
        cmocka_unit_test(test_json_escape),
        cmocka_unit_test(test_strlcpy),
        cmocka_unit_test(test_parse_long),
        cmocka_unit_test(test_hex_digit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
