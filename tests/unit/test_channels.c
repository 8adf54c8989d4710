/* Unit tests for cmn_channels: a channel is on when its credentials are set,
 * and a missing or malformed value stops the daemon with one line naming
 * the variable. The seed's variable names (aliases) keep working. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/cmn_channels.h"

static const char *const s_vars[] = {
    "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_WHATSAPP_NUMBER", "META_ACCESS_TOKEN",
    "META_WHATSAPP_TOKEN", "META_PHONE_NUMBER_ID", "META_VERIFY_TOKEN",
    "META_WEBHOOK_VERIFY_TOKEN", "META_APP_SECRET", "PUBLIC_BASE_URL", "CIU_PUBLIC_URL",
    "WEBHOOK_PATH", "META_API_VERSION", "CIU_INSECURE_SKIP_SIGNATURE", "CIU_SIMULATOR",
    "TWILIO_API_BASE_URL", "META_GRAPH_BASE_URL",
};

static char s_dir[64];
static char s_cwd[4096];

static void clear_env(void)
{
    for (size_t i = 0; i < sizeof(s_vars) / sizeof(s_vars[0]); i++)
        unsetenv(s_vars[i]);
}

static int setup(void **state)
{
    (void)state;
    clear_env();
    if (!getcwd(s_cwd, sizeof(s_cwd)))
        return -1;
    snprintf(s_dir, sizeof(s_dir), "/tmp/ciu-test-channels-XXXXXX");
    /* an empty folder: no .env from the developer's tree */
    if (!mkdtemp(s_dir) || chdir(s_dir) < 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    clear_env();
    if (chdir(s_cwd) < 0)
        return -1;
    rmdir(s_dir);
    return 0;
}

static void twilio_env(void)
{
    setenv("TWILIO_ACCOUNT_SID", "AC0123456789abcdef0123456789abcdef", 1);
    setenv("TWILIO_AUTH_TOKEN", "secret-token", 1);
    setenv("TWILIO_WHATSAPP_NUMBER", "whatsapp:+14155238886", 1);
    setenv("PUBLIC_BASE_URL", "https://ciu.example.org/", 1);
}

static void meta_env(void)
{
    setenv("META_WHATSAPP_TOKEN", "EAAtoken", 1); /* the seed's name */
    setenv("META_PHONE_NUMBER_ID", "106540352242922", 1);
    setenv("META_WEBHOOK_VERIFY_TOKEN", "verify", 1);
    setenv("META_APP_SECRET", "app-secret", 1);
}

/* Load settings and channels: 0 with *ret, or the error line (caller frees). */
static char *load(cmn_channels_t *ret)
{
    cmn_settings_t s;
    char *err = NULL;
    if (cmn_settings_load(&s, &err) < 0)
        return err;
    if (cmn_channels_load(&s, ret, &err) < 0) {
        cmn_settings_free(&s);
        return err;
    }
    cmn_settings_free(&s);
    return NULL;
}

static void expect_error(const char *var)
{
    cmn_channels_t ch;
    char *err = load(&ch);
    if (err == NULL)
        fail_msg("expected an error naming %s", var);
    if (strncmp(err, var, strlen(var)) != 0)
        fail_msg("error does not start with %s: %s", var, err);
    assert_null(strchr(err, '\n')); /* one line */
    free(err);
}

static void test_none(void **state)
{
    cmn_channels_t ch;
    char buf[64];
    (void)state;
    assert_null(load(&ch));
    assert_false(ch.twilio);
    assert_false(ch.meta);
    assert_string_equal(cmn_channels_describe(&ch, buf, sizeof(buf)), "none");
}

static void test_twilio(void **state)
{
    cmn_channels_t ch;
    (void)state;
    twilio_env();
    assert_null(load(&ch));
    assert_true(ch.twilio);
    assert_false(ch.meta);
    assert_string_equal(ch.twilio_number, "+14155238886");
    assert_string_equal(ch.public_url, "https://ciu.example.org"); /* trailing slash dropped */
    unsetenv("TWILIO_ACCOUNT_SID");
    expect_error("TWILIO_ACCOUNT_SID");
    setenv("TWILIO_ACCOUNT_SID", "AC123", 1);
    expect_error("TWILIO_ACCOUNT_SID");
    twilio_env();
    setenv("TWILIO_WHATSAPP_NUMBER", "14155238886", 1);
    expect_error("TWILIO_WHATSAPP_NUMBER");
    twilio_env();
    unsetenv("PUBLIC_BASE_URL");
    expect_error("PUBLIC_BASE_URL");
    setenv("CIU_PUBLIC_URL", "https://old-name.example.org", 1); /* alias */
    assert_null(load(&ch));
    setenv("PUBLIC_BASE_URL", "ftp://x", 1);
    expect_error("PUBLIC_BASE_URL");
}

static void test_meta(void **state)
{
    cmn_channels_t ch;
    char buf[64];
    (void)state;
    meta_env();
    assert_null(load(&ch));
    assert_true(ch.meta);
    twilio_env();
    assert_null(load(&ch));
    assert_string_equal(cmn_channels_describe(&ch, buf, sizeof(buf)), "twilio, meta");
    unsetenv("META_APP_SECRET");
    expect_error("META_APP_SECRET");
    meta_env();
    setenv("META_PHONE_NUMBER_ID", "abc", 1);
    expect_error("META_PHONE_NUMBER_ID");
    meta_env();
    setenv("META_API_VERSION", "25", 1);
    expect_error("META_API_VERSION");
    setenv("META_API_VERSION", "v26.0", 1);
    assert_null(load(&ch));
    unsetenv("META_WEBHOOK_VERIFY_TOKEN");
    expect_error("META_VERIFY_TOKEN");
}

static void test_skip_signature(void **state)
{
    cmn_channels_t ch;
    (void)state;
    twilio_env();
    setenv("CIU_INSECURE_SKIP_SIGNATURE", "true", 1);
    expect_error("CIU_INSECURE_SKIP_SIGNATURE"); /* public https, no simulator: refused */
    setenv("CIU_SIMULATOR", "true", 1);
    assert_null(load(&ch));
    setenv("WEBHOOK_PATH", "no-slash", 1);
    expect_error("WEBHOOK_PATH");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_none, setup, teardown),
        cmocka_unit_test_setup_teardown(test_twilio, setup, teardown),
        cmocka_unit_test_setup_teardown(test_meta, setup, teardown),
        cmocka_unit_test_setup_teardown(test_skip_signature, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
