/* Unit tests for admin_i18n: every French text has the English text's printf
 * conversions in the same order (a mismatch would be undefined behaviour at
 * run time), the language follows CIU_ADMIN_LANG, then LC_ALL, LC_MESSAGES,
 * LANG, and admin_tr falls back to the English text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "admin_i18n.h"

/* The conversions of a printf format, e.g. "%-13s %lld" -> "s lld": flags,
 * width and precision may differ between languages, the length modifier and
 * the conversion may not. */
static void s_conversions(const char *fmt, char *out, size_t len)
{
    size_t n = 0;
    out[0] = '\0';
    for (const char *p = fmt; *p; p++) {
        if (*p != '%')
            continue;
        p++;
        if (*p == '%')
            continue;
        while (*p && strchr("-+ #0123456789.*", *p))
            p++;
        while (*p && strchr("hlLqjzt", *p) && n + 1 < len)
            out[n++] = *p++;
        if (*p && n + 2 < len) {
            out[n++] = *p;
            out[n++] = ' ';
        }
        out[n] = '\0';
        if (*p == '\0')
            break;
    }
}

static void test_same_conversions(void **state)
{
    (void)state;
    size_t n = 0;
    const admin_text_t *t = admin_texts(&n);
    assert_true(n > 100);
    for (size_t i = 0; i < n; i++) {
        char en[128], fr[128];
        s_conversions(t[i].en, en, sizeof(en));
        s_conversions(t[i].fr, fr, sizeof(fr));
        if (strcmp(en, fr) != 0)
            fail_msg("conversions differ: '%s' (%s) vs '%s' (%s)", t[i].en, en, t[i].fr, fr);
        for (size_t k = 0; k < i; k++)
            if (strcmp(t[k].en, t[i].en) == 0)
                fail_msg("text listed twice: '%s'", t[i].en);
    }
}

static void test_conversions_helper(void **state)
{
    (void)state;
    char c[64];
    s_conversions("%-13s x %8lld %%, %.0f %zu%c", c, sizeof(c));
    assert_string_equal(c, "s lld f zu c ");
}

static void s_env(const char *force, const char *all, const char *messages, const char *lang)
{
    const char *names[] = {"CIU_ADMIN_LANG", "LC_ALL", "LC_MESSAGES", "LANG"};
    const char *values[] = {force, all, messages, lang};
    for (int i = 0; i < 4; i++) {
        if (values[i])
            setenv(names[i], values[i], 1);
        else
            unsetenv(names[i]);
    }
    admin_lang_init();
}

static void test_language_choice(void **state)
{
    (void)state;
    s_env(NULL, NULL, NULL, "fr_FR.UTF-8");
    assert_true(admin_lang_fr());
    s_env(NULL, NULL, NULL, "en_US.UTF-8");
    assert_false(admin_lang_fr());
    s_env(NULL, "fr_CD.UTF-8", NULL, "en_US.UTF-8"); /* LC_ALL wins over LANG */
    assert_true(admin_lang_fr());
    s_env(NULL, "", "fr_BE", "C"); /* empty counts as unset */
    assert_true(admin_lang_fr());
    s_env(NULL, "C.UTF-8", "fr_BE", "fr_FR");
    assert_false(admin_lang_fr());
    s_env("en", NULL, NULL, "fr_FR.UTF-8"); /* CIU_ADMIN_LANG forces */
    assert_false(admin_lang_fr());
    s_env("fr", NULL, NULL, "C");
    assert_true(admin_lang_fr());
    s_env(NULL, NULL, NULL, NULL);
    assert_false(admin_lang_fr());
}

static void test_translate(void **state)
{
    (void)state;
    admin_lang_set_fr(true);
    assert_string_equal(admin_tr("%lld days"), "%lld jours");
    assert_string_equal(admin_tr("no such text, stays as it is"), "no such text, stays as it is");
    assert_null(admin_tr(NULL));
    admin_lang_set_fr(false);
    assert_string_equal(admin_tr("%lld days"), "%lld days");
    assert_true(admin_lang_is_fr("fr"));
    assert_false(admin_lang_is_fr("f"));
    assert_false(admin_lang_is_fr(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conversions_helper),
        cmocka_unit_test(test_same_conversions),
        cmocka_unit_test(test_language_choice),
        cmocka_unit_test(test_translate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
