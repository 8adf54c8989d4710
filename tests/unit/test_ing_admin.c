/* test_ing_admin: the dashboard's security pieces with time as a parameter:
 * password check, signed session tokens (expiry, tampering, another key,
 * revocation), CSRF tokens per session, login attempts per client. The HTTP
 * behaviour is tested by tests/integration/test_dashboard.py. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ing_admin.h"

#define NOW INT64_C(1796045705464)
#define SALT "0123456789abcdef0123456789abcdef"

static ing_admin_t *s_new(const char *password)
{
    char err[128] = "";
    ing_admin_cfg_t cfg = {.password = password, .salt = SALT, .salt_len = strlen(SALT)};
    ing_admin_t *a = ing_admin_new(&cfg, err, sizeof(err));
    if (a == NULL)
        fail_msg("ing_admin_new: %s", err);
    return a;
}

static void t_password(void **state)
{
    (void)state;
    ing_admin_t *a = s_new("s3cret pass");
    assert_true(ing_admin_password_ok(a, "s3cret pass"));
    assert_false(ing_admin_password_ok(a, "s3cret pas"));
    assert_false(ing_admin_password_ok(a, "s3cret pass "));
    assert_false(ing_admin_password_ok(a, ""));
    assert_false(ing_admin_password_ok(a, NULL));
    ing_admin_destroy(&a);
    assert_null(a);
    ing_admin_destroy(&a); /* NULL-safe */

    char err[128] = "";
    ing_admin_cfg_t off = {.password = "", .salt = SALT, .salt_len = strlen(SALT)};
    assert_null(ing_admin_new(&off, err, sizeof(err)));
    assert_non_null(strstr(err, "CIU_ADMIN_PASSWORD"));
}

static void t_tokens(void **state)
{
    (void)state;
    ing_admin_t *a = s_new("pw-one"), *b = s_new("pw-two");
    char tok[ING_ADMIN_TOKEN_LEN], tok2[ING_ADMIN_TOKEN_LEN], bad[ING_ADMIN_TOKEN_LEN];
    char csrf[CMN_HEX256_LEN], csrf2[CMN_HEX256_LEN], again[CMN_HEX256_LEN];

    assert_int_equal(ing_admin_token_new(a, NOW, tok), 0);
    assert_int_equal(ing_admin_token_check(a, tok, NOW, csrf), 0);
    assert_int_equal(strlen(csrf), 64);
    assert_int_equal(ing_admin_token_check(a, tok, NOW + 1000, again), 0);
    assert_string_equal(csrf, again); /* one CSRF token per session */
    /* valid 12 h, not a millisecond more */
    assert_int_equal(ing_admin_token_check(a, tok, NOW + ING_ADMIN_SESSION_MS - 1, NULL), 0);
    assert_int_equal(ing_admin_token_check(a, tok, NOW + ING_ADMIN_SESSION_MS, NULL), -EACCES);
    /* another password (key) refuses it: changing the password ends sessions */
    assert_int_equal(ing_admin_token_check(b, tok, NOW, NULL), -EACCES);
    /* a second session has its own CSRF token */
    assert_int_equal(ing_admin_token_new(a, NOW, tok2), 0);
    assert_string_not_equal(tok, tok2);
    assert_int_equal(ing_admin_token_check(a, tok2, NOW, csrf2), 0);
    assert_string_not_equal(csrf, csrf2);
    /* tampering: any character changed, a later expiry, garbage */
    for (size_t i = 0; i < strlen(tok); i++) {
        memcpy(bad, tok, sizeof(bad));
        if (bad[i] == '.')
            continue;
        bad[i] = bad[i] == '1' ? '2' : '1';
        assert_int_equal(ing_admin_token_check(a, bad, NOW, NULL), -EACCES);
    }
    bad[0] = '9';
    memcpy(bad + 1, tok, strlen(tok) + 1);
    assert_int_equal(ing_admin_token_check(a, bad, NOW, NULL), -EACCES);
    assert_int_equal(ing_admin_token_check(a, "", NOW, NULL), -EACCES);
    assert_int_equal(ing_admin_token_check(a, NULL, NOW, NULL), -EACCES);
    assert_int_equal(ing_admin_token_check(a, "1.2.3", NOW, NULL), -EACCES);
    /* logout revokes that session only */
    ing_admin_token_revoke(a, tok, NOW);
    assert_int_equal(ing_admin_token_check(a, tok, NOW, NULL), -EACCES);
    assert_int_equal(ing_admin_token_check(a, tok2, NOW, NULL), 0);
    ing_admin_destroy(&a);
    ing_admin_destroy(&b);
}

static void t_attempts(void **state)
{
    (void)state;
    ing_admin_t *a = s_new("pw");
    int64_t wait = 0, t = 1000000;
    for (int i = 0; i < ING_ADMIN_ATTEMPTS; i++)
        assert_true(ing_admin_attempt(a, "10.0.0.1", t, &wait));
    assert_false(ing_admin_attempt(a, "10.0.0.1", t, &wait));
    assert_true(wait > 0 && wait <= 1000 * ING_ADMIN_ATTEMPTS_WINDOW_S / ING_ADMIN_ATTEMPTS + 1);
    /* another client is not held back */
    assert_true(ing_admin_attempt(a, "10.0.0.2", t, &wait));
    /* one more attempt once its share of the minute has passed, not two */
    t += 1000 * ING_ADMIN_ATTEMPTS_WINDOW_S / ING_ADMIN_ATTEMPTS + 1;
    assert_true(ing_admin_attempt(a, "10.0.0.1", t, &wait));
    assert_false(ing_admin_attempt(a, "10.0.0.1", t, &wait));
    /* many clients: the table evicts the least recently used, never grows */
    for (int i = 0; i < 1000; i++) {
        char addr[32];
        snprintf(addr, sizeof(addr), "192.0.2.%d", i);
        assert_true(ing_admin_attempt(a, addr, t + i, &wait));
    }
    ing_admin_destroy(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_password),
        cmocka_unit_test(t_tokens),
        cmocka_unit_test(t_attempts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
