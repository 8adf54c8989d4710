/* Unit tests for cmn_config: environment, .env, NAME_FILE, aliases, errors,
 * redaction. Each test runs in a fresh temporary directory. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/cmn_config.h"

typedef struct {
    char *name;
    char *token;
    char *path;
    long port;
    long workers;
    bool flag;
    bool other;
} tcfg_t;

static const cmn_cfg_entry_t s_table[] = {
    {"TC_NAME", "TC_OLD_NAME", CMN_CFG_STR, "default name", 0, 0, offsetof(tcfg_t, name),
     "display name"},
    {"TC_TOKEN", NULL, CMN_CFG_SECRET, NULL, 0, 0, offsetof(tcfg_t, token), "api token"},
    {"TC_PATH", NULL, CMN_CFG_STR, NULL, 0, 0, offsetof(tcfg_t, path), "a path"},
    {"TC_PORT", NULL, CMN_CFG_INT, "8000", 1, 65535, offsetof(tcfg_t, port), "listen port"},
    {"TC_WORKERS", NULL, CMN_CFG_INT, NULL, 0, 10, offsetof(tcfg_t, workers), "workers"},
    {"TC_FLAG", NULL, CMN_CFG_BOOL, "false", 0, 0, offsetof(tcfg_t, flag), "a flag"},
    {"TC_OTHER", NULL, CMN_CFG_BOOL, "true", 0, 0, offsetof(tcfg_t, other), "another flag"},
};
#define N (sizeof(s_table) / sizeof(s_table[0]))

static char s_dir[256];
static char s_cwd[4096];

static const char *const s_vars[] = {
    "TC_NAME",    "TC_OLD_NAME",      "TC_TOKEN",        "TC_PATH",          "TC_PORT",
    "TC_WORKERS", "TC_FLAG",          "TC_OTHER",        "TC_NAME_FILE",     "TC_OLD_NAME_FILE",
    "TC_TOKEN_FILE", "TC_PATH_FILE",  "TC_PORT_FILE",    "TC_WORKERS_FILE",  "TC_FLAG_FILE",
};

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(s_vars) / sizeof(s_vars[0]); i++)
        unsetenv(s_vars[i]);
    if (!getcwd(s_cwd, sizeof(s_cwd)))
        return -1;
    snprintf(s_dir, sizeof(s_dir), "/tmp/ciu-test-config-XXXXXX");
    if (!mkdtemp(s_dir) || chdir(s_dir) < 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(".env");
    unlink("secret.txt");
    rmdir("adir");
    if (chdir(s_cwd) < 0)
        return -1;
    rmdir(s_dir);
    for (size_t i = 0; i < sizeof(s_vars) / sizeof(s_vars[0]); i++)
        unsetenv(s_vars[i]);
    return 0;
}

/* Load; on failure return the error line (caller frees), else NULL. */
static char *load(tcfg_t *c)
{
    memset(c, 0, sizeof(*c));
    char *err = NULL;
    int r = cmn_config_load(s_table, N, c, ".env", &err);
    if (r == 0) {
        assert_null(err);
        return NULL;
    }
    assert_int_equal(r, -EINVAL);
    assert_non_null(err);
    assert_null(strchr(err, '\n'));
    /* a failed load leaves nothing to free */
    assert_null(c->name);
    assert_null(c->token);
    return err;
}

static void test_defaults_without_env_file(void **state)
{
    (void)state;
    tcfg_t c;
    assert_null(load(&c));
    assert_string_equal(c.name, "default name");
    assert_null(c.token);
    assert_null(c.path);
    assert_int_equal(c.port, 8000);
    assert_int_equal(c.workers, 0);
    assert_false(c.flag);
    assert_true(c.other);
    cmn_config_free(s_table, N, &c);
    assert_null(c.name);

    /* NULL env file: environment only */
    memset(&c, 0, sizeof(c));
    setenv("TC_PORT", "9", 1);
    assert_int_equal(cmn_config_load(s_table, N, &c, NULL, NULL), 0);
    assert_int_equal(c.port, 9);
    cmn_config_free(s_table, N, &c);
}

static void test_env_file_syntax(void **state)
{
    (void)state;
    write_file(".env", "# comment\n"
                       "\n"
                       "export TC_NAME=\"Jean \\\"JB\\\" Kabila\"\n"
                       "TC_TOKEN='s3cr#t $x'\n"
                       "  TC_PATH = /srv/ciu data  # trailing comment\n"
                       "TC_PORT=8080\r\n"
                       "not a line\n"
                       "TC_UNKNOWN=ignored\n"
                       "TC_FLAG=YES\n"
                       "TC_OTHER=off");
    tcfg_t c;
    assert_null(load(&c));
    assert_string_equal(c.name, "Jean \"JB\" Kabila");
    assert_string_equal(c.token, "s3cr#t $x");
    assert_string_equal(c.path, "/srv/ciu data");
    assert_int_equal(c.port, 8080);
    assert_true(c.flag);
    assert_false(c.other);
    cmn_config_free(s_table, N, &c);
}

static void test_env_wins_over_file(void **state)
{
    (void)state;
    write_file(".env", "TC_NAME=from-file\nTC_PORT=1234\nTC_FLAG=true\n");
    setenv("TC_NAME", "from-env", 1);
    setenv("TC_FLAG", "0", 1);
    tcfg_t c;
    assert_null(load(&c));
    assert_string_equal(c.name, "from-env");
    assert_int_equal(c.port, 1234);
    assert_false(c.flag);
    cmn_config_free(s_table, N, &c);

    /* an empty number or boolean in the environment means "default" */
    setenv("TC_PORT", "", 1);
    setenv("TC_FLAG", "", 1);
    setenv("TC_NAME", "", 1);
    write_file(".env", "");
    assert_null(load(&c));
    assert_int_equal(c.port, 8000);
    assert_false(c.flag);
    assert_string_equal(c.name, ""); /* an empty string is a value */
    cmn_config_free(s_table, N, &c);
}

static void test_name_file(void **state)
{
    (void)state;
    write_file("secret.txt", "tok-from-file\n\n");
    setenv("TC_TOKEN_FILE", "secret.txt", 1);
    tcfg_t c;
    assert_null(load(&c));
    assert_string_equal(c.token, "tok-from-file");
    cmn_config_free(s_table, N, &c);

    /* _FILE given in .env works too, and for numbers */
    unsetenv("TC_TOKEN_FILE");
    write_file("secret.txt", "4242\r\n");
    write_file(".env", "TC_PORT_FILE=secret.txt\n");
    assert_null(load(&c));
    assert_int_equal(c.port, 4242);
    cmn_config_free(s_table, N, &c);

    /* environment NAME beats .env NAME_FILE */
    setenv("TC_PORT", "77", 1);
    assert_null(load(&c));
    assert_int_equal(c.port, 77);
    cmn_config_free(s_table, N, &c);

    /* both in the same source is ambiguous */
    setenv("TC_PORT_FILE", "secret.txt", 1);
    char *err = load(&c);
    assert_string_equal(err, "TC_PORT: both TC_PORT and TC_PORT_FILE are set "
                             "(listen port; fix: set only one of them)");
    free(err);

    /* docker-compose: .env's empty NAME= beside a secret's NAME_FILE is the file */
    setenv("TC_PORT", "", 1);
    assert_null(load(&c));
    assert_int_equal(c.port, 4242);
    cmn_config_free(s_table, N, &c);

    /* ... and an empty secret file beside a set NAME is the variable */
    setenv("TC_PORT", "78", 1);
    write_file("empty.txt", "\n");
    setenv("TC_PORT_FILE", "empty.txt", 1);
    assert_null(load(&c));
    assert_int_equal(c.port, 78);
    cmn_config_free(s_table, N, &c);

    /* ... and an empty secret file alone is no value: the default, or .env's */
    unsetenv("TC_PORT");
    write_file(".env", "");
    assert_null(load(&c));
    assert_int_equal(c.port, 8000);
    cmn_config_free(s_table, N, &c);
    write_file(".env", "TC_PORT=79\n");
    assert_null(load(&c));
    assert_int_equal(c.port, 79);
    cmn_config_free(s_table, N, &c);
    write_file(".env", "");
    unsetenv("TC_PORT");
    unsetenv("TC_PORT_FILE");
    /* an empty secret file of the name, the seed's alias set: the alias */
    setenv("TC_NAME_FILE", "empty.txt", 1);
    setenv("TC_OLD_NAME", "from the alias", 1);
    assert_null(load(&c));
    assert_string_equal(c.name, "from the alias");
    cmn_config_free(s_table, N, &c);
    unsetenv("TC_NAME_FILE");
    unsetenv("TC_OLD_NAME");

    /* unreadable file */
    write_file(".env", "");
    setenv("TC_TOKEN_FILE", "/nonexistent/tok", 1);
    err = load(&c);
    assert_string_equal(err, "TC_TOKEN_FILE: cannot read '/nonexistent/tok': No such file or "
                             "directory (api token; fix: point TC_TOKEN_FILE at a readable file)");
    free(err);
    mkdir("adir", 0700);
    setenv("TC_TOKEN_FILE", "adir", 1);
    err = load(&c);
    assert_non_null(strstr(err, "Is a directory"));
    free(err);
}

/* Fuzz finding (fuzz_env): a NAME_FILE path holding a newline (a quoted
 * "\n" in .env) was quoted as is in the error, which is promised on one
 * line; control bytes are shown as '?', as in quoted values. */
static void test_fuzz_file_path_one_line(void **state)
{
    tcfg_t c;
    (void)state;
    write_file(".env", "TC_NAME_FILE=\"no\\nsuch\\tfile\"\n");
    char *err = load(&c); /* load() checks there is no newline */
    assert_string_equal(err, "TC_NAME_FILE: cannot read 'no?such?file': No such file or "
                             "directory (display name; fix: point TC_NAME_FILE at a readable "
                             "file)");
    free(err);
}

static void test_alias(void **state)
{
    (void)state;
    tcfg_t c;
    write_file(".env", "TC_OLD_NAME=old\n");
    assert_null(load(&c));
    assert_string_equal(c.name, "old");
    cmn_config_free(s_table, N, &c);

    /* the main name wins over the alias in the same source */
    write_file(".env", "TC_OLD_NAME=old\nTC_NAME=new\n");
    assert_null(load(&c));
    assert_string_equal(c.name, "new");
    cmn_config_free(s_table, N, &c);

    /* the environment (even the alias) wins over the file */
    setenv("TC_OLD_NAME", "old-env", 1);
    assert_null(load(&c));
    assert_string_equal(c.name, "old-env");
    cmn_config_free(s_table, N, &c);

    /* alias_FILE */
    unsetenv("TC_OLD_NAME");
    write_file(".env", "");
    write_file("secret.txt", "aliased\n");
    setenv("TC_OLD_NAME_FILE", "secret.txt", 1);
    assert_null(load(&c));
    assert_string_equal(c.name, "aliased");
    cmn_config_free(s_table, N, &c);
}

static void test_bad_values(void **state)
{
    (void)state;
    tcfg_t c;
    setenv("TC_NAME", "x", 1);
    setenv("TC_PORT", "abc", 1);
    char *err = load(&c);
    assert_string_equal(err, "TC_PORT: 'abc' is not a whole number "
                             "(listen port; fix: set a whole number between 1 and 65535)");
    free(err);

    setenv("TC_PORT", "70000", 1);
    err = load(&c);
    assert_string_equal(err, "TC_PORT: '70000' is out of range "
                             "(listen port; fix: set a whole number between 1 and 65535)");
    free(err);

    setenv("TC_PORT", "80", 1);
    setenv("TC_FLAG", "maybe", 1);
    err = load(&c);
    assert_string_equal(err, "TC_FLAG: 'maybe' is not a boolean "
                             "(a flag; fix: use true or false (also 1/0, yes/no, on/off))");
    free(err);

    /* a bad value in .env names the variable the same way */
    unsetenv("TC_FLAG");
    write_file(".env", "TC_WORKERS=11\n");
    err = load(&c);
    assert_string_equal(err, "TC_WORKERS: '11' is out of range "
                             "(workers; fix: set a whole number between 0 and 10)");
    free(err);

    /* through a file, the error names NAME_FILE; long values are cut */
    write_file(".env", "");
    write_file("secret.txt", "12345678901234567890123456789012345678901234567890\n");
    setenv("TC_WORKERS_FILE", "secret.txt", 1);
    err = load(&c);
    assert_string_equal(err, "TC_WORKERS_FILE: '1234567890123456789012345678901234567890...' "
                             "is out of range (workers; fix: set a whole number between 0 and 10)");
    free(err);
}

static void test_bool_spellings(void **state)
{
    (void)state;
    static const char *const yes[] = {"true", "TRUE", "1", "yes", "Yes", "on", "ON"};
    static const char *const no[] = {"false", "False", "0", "no", "NO", "off", "Off"};
    tcfg_t c;
    for (size_t i = 0; i < 7; i++) {
        setenv("TC_FLAG", yes[i], 1);
        setenv("TC_OTHER", no[i], 1);
        assert_null(load(&c));
        assert_true(c.flag);
        assert_false(c.other);
        cmn_config_free(s_table, N, &c);
    }
}

static void test_describe(void **state)
{
    (void)state;
    tcfg_t c;
    setenv("TC_NAME", "two words", 1);
    setenv("TC_PATH", "/srv", 1);
    assert_null(load(&c));
    char *d = cmn_config_describe(s_table, N, &c);
    /* Only settings that differ from their defaults are listed. */
    assert_string_equal(d, "TC_NAME=\"two words\" TC_PATH=/srv TC_WORKERS=0");
    free(d);
    cmn_config_free(s_table, N, &c);

    setenv("TC_TOKEN", "hunter2-very-secret", 1);
    assert_null(load(&c));
    d = cmn_config_describe(s_table, N, &c);
    assert_non_null(strstr(d, "TC_TOKEN=***"));
    assert_null(strstr(d, "hunter2"));
    free(d);
    cmn_config_free(s_table, N, &c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults_without_env_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_file_syntax, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_wins_over_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_name_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alias, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bool_spellings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_describe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fuzz_file_path_one_line, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
