/* Unit tests for the pure parts of ciu-admin's commands: CSV quoting and day
 * parsing (export), the shape of a CIU (lookup), placeholder salts (check). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "admin_check.h"
#include "admin_export.h"
#include "admin_lookup.h"
#include "common/cmn_str.h"

static void s_field(const char *in, const char *want)
{
    cmn_str_t o = CMN_STR_INIT(1024);
    assert_int_equal(admin_csv_field(&o, in), 0);
    assert_string_equal(cmn_str_cstr(&o), want);
    cmn_str_free(&o);
}

static void test_csv_field(void **state)
{
    (void)state;
    s_field("MBEIBR7DA1", "MBEIBR7DA1");
    s_field(NULL, "");
    s_field("", "");
    s_field("a,b", "\"a,b\"");
    s_field("say \"hi\"", "\"say \"\"hi\"\"\"");
    s_field("two\r\nlines", "\"two\r\nlines\"");
    s_field("line\n", "\"line\n\"");
}

static void test_parse_day(void **state)
{
    (void)state;
    int64_t ms = 0;
    assert_int_equal(admin_parse_day("1970-01-02", &ms), 0);
    assert_int_equal(ms, 86400000);
    assert_int_equal(admin_parse_day("2026-11-30", &ms), 0);
    assert_int_equal(ms, INT64_C(1795996800000));
    ms = 7;
    const char *bads[] = {"2026-02-30",  "2026-13-01", "2026-1-01", "26-01-01",
                          "2026-01-01x", "",           "yesterday"};
    for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
        assert_int_equal(admin_parse_day(bads[i], &ms), -EINVAL);
        assert_int_equal(ms, 7); /* untouched on error */
    }
}

static void test_ciu_parse(void **state)
{
    (void)state;
    char c[11];
    assert_true(admin_ciu_parse("mbeibr7da1", c, sizeof(c)));
    assert_string_equal(c, "MBEIBR7DA1");
    assert_true(admin_ciu_parse("KALGED5KN4", c, sizeof(c)));
    const char *bads[] = {"MBEIBR7DA5", "MBEIBR7DA0",  "MBEIBRXDA1", "MBEIB17DA1", "MBEIBR7D11",
                          "MBEIBR7DA",  "MBEIBR7DA11", "",           "MBÉIBR7DA1"};
    for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++)
        assert_false(admin_ciu_parse(bads[i], c, sizeof(c)));
    assert_false(admin_ciu_parse(NULL, c, sizeof(c)));
    assert_false(admin_ciu_parse("MBEIBR7DA1", c, 10)); /* no room for the NUL */
}

static void test_salt_placeholder(void **state)
{
    (void)state;
    assert_false(admin_salt_is_placeholder(
        "6d1f0c3b9a8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a3928170615e4"));
    assert_false(admin_salt_is_placeholder("q8Zr5v0pXlK2m9NwT4cYb7HjGf1sDa3E")); /* base64-ish */
    assert_true(admin_salt_is_placeholder("change-me-change-me-change-me-change-me"));
    assert_true(admin_salt_is_placeholder("your-very-long-random-secret-goes-here!"));
    assert_true(admin_salt_is_placeholder("EXAMPLE0123456789EXAMPLE0123456789"));
    assert_true(admin_salt_is_placeholder("00000000000000000000000000000000"));
    assert_true(admin_salt_is_placeholder("abababababababababababababababab12"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_field),
        cmocka_unit_test(test_parse_day),
        cmocka_unit_test(test_ciu_parse),
        cmocka_unit_test(test_salt_placeholder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
