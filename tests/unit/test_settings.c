/* Unit tests for cmn_settings: defaults, DATABASE_URL mapping, validation,
 * require, redaction and the salt rules. Runs in a temporary directory. */
#include <dirent.h>
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/cmn_settings.h"

static const char *const s_vars[] = {
    "CIU_DATA_DIR", "DATABASE_URL", "UIC_SALT", "CIU_SIMULATOR", "LOG_LEVEL", "LOG_JSON",
    "SESSION_TIMEOUT_MINUTES", "ENABLE_QR_CODE", "CIU_SHARE_DIR", "CIU_DEFAULT_LANGUAGE",
    "CIU_FLOOD_MAX_MESSAGES", "CIU_FLOOD_WINDOW_SECONDS", "CIU_FLOOD_BLOCK_SECONDS",
    "CIU_HTTP_ADDR", "CIU_HTTP_PORT", "PUBLIC_BASE_URL", "WEBHOOK_PATH", "CIU_MEDIA_TTL_SECONDS",
    "CIU_CONVERSATION_ADMIN_PORT", "CIU_ENGINE_ADMIN_PORT", "CIU_DHIS2_ADMIN_PORT",
    "CIU_SENDER_ADMIN_PORT", "CIU_CONVERSATION_ENDPOINTS", "CIU_ENGINE_ENDPOINTS",
    "CIU_DHIS2_ENDPOINTS", "CIU_SENDER_ENDPOINTS", "CIU_BIND", "CIU_INGRESS_EVENTS",
    "CIU_CONVERSATION_EVENTS", "CIU_ENGINE_EVENTS", "CIU_DHIS2_EVENTS", "CIU_SENDER_EVENTS",
    "CIU_RESCAN_MS", "CIU_BATCH_MAX", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN",
    "TWILIO_WHATSAPP_NUMBER", "META_ACCESS_TOKEN", "META_WHATSAPP_TOKEN", "META_PHONE_NUMBER_ID",
    "META_VERIFY_TOKEN", "META_WEBHOOK_VERIFY_TOKEN", "META_APP_SECRET", "DHIS2_BASE_URL",
    "DHIS2_API_USERNAME", "DHIS2_API_PASSWORD", "DHIS2_API_TOKEN",
};
#define NVARS (sizeof(s_vars) / sizeof(s_vars[0]))

static char s_dir[256];
static char s_cwd[4096];

static void clear_env(void)
{
    for (size_t i = 0; i < NVARS; i++) {
        char file[128];
        snprintf(file, sizeof(file), "%s_FILE", s_vars[i]);
        unsetenv(s_vars[i]);
        unsetenv(file);
    }
    unsetenv("CIU_SQLITE_SYNCHRONOUS");
    unsetenv("CIU_HTTP_MAX_CONN_PER_IP");
    unsetenv("CIU_TRUST_PROXY");
}

static int setup(void **state)
{
    (void)state;
    clear_env();
    if (!getcwd(s_cwd, sizeof(s_cwd)))
        return -1;
    snprintf(s_dir, sizeof(s_dir), "/tmp/ciu-test-settings-XXXXXX");
    if (!mkdtemp(s_dir) || chdir(s_dir) < 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(".env");
    unlink("d/sub/uic_salt");
    rmdir("d/sub");
    rmdir("d");
    if (chdir(s_cwd) < 0)
        return -1;
    rmdir(s_dir);
    clear_env();
    return 0;
}

static void load_ok(cmn_settings_t *s)
{
    char *err = NULL;
    int r = cmn_settings_load(s, &err);
    if (r != 0)
        fail_msg("load failed: %s", err ? err : "?");
    assert_null(err);
}

static char *load_err(void)
{
    cmn_settings_t s;
    char *err = NULL;
    assert_int_equal(cmn_settings_load(&s, &err), -EINVAL);
    assert_non_null(err);
    return err;
}

static void test_defaults(void **state)
{
    (void)state;
    cmn_settings_t s;
    load_ok(&s);
    assert_string_equal(s.data_dir, "./data");
    assert_string_equal(s.database_url, "");
    assert_null(s.uic_salt);
    assert_false(s.simulator);
    assert_string_equal(s.log_level, "info");
    assert_false(s.log_json);
    assert_int_equal(s.session_timeout_min, 15);
    assert_false(s.enable_qr);
    assert_non_null(s.share_dir);
    assert_true(strlen(s.share_dir) > 0);
    assert_string_equal(s.default_lang, "fr");
    assert_int_equal(s.flood_max, 20);
    assert_int_equal(s.flood_window_s, 60);
    assert_int_equal(s.flood_block_s, 300);
    assert_string_equal(s.http_addr, "127.0.0.1");
    assert_int_equal(s.http_port, 8000);
    assert_string_equal(s.public_url, "");
    assert_string_equal(s.webhook_path, "/whatsapp/webhook");
    assert_int_equal(s.media_ttl_s, 3600);
    assert_int_equal(s.admin_port_conversation, 8001);
    assert_int_equal(s.admin_port_engine, 8002);
    assert_int_equal(s.admin_port_dhis2, 8003);
    assert_int_equal(s.admin_port_sender, 8004);
    assert_string_equal(s.ep_conversation, "tcp://127.0.0.1:5601");
    assert_string_equal(s.ep_engine, "tcp://127.0.0.1:5602");
    assert_string_equal(s.ep_dhis2, "tcp://127.0.0.1:5603");
    assert_string_equal(s.ep_sender, "tcp://127.0.0.1:5604");
    assert_string_equal(s.bind, "");
    assert_string_equal(s.ev_ingress, "tcp://127.0.0.1:5611");
    assert_string_equal(s.ev_conversation, "tcp://127.0.0.1:5612");
    assert_string_equal(s.ev_engine, "tcp://127.0.0.1:5613");
    assert_string_equal(s.ev_dhis2, "tcp://127.0.0.1:5614");
    assert_string_equal(s.ev_sender, "tcp://127.0.0.1:5615");
    assert_int_equal(s.rescan_ms, 1000);
    assert_int_equal(s.batch_max, 256);
    assert_null(s.twilio_account_sid);
    assert_null(s.twilio_auth_token);
    assert_null(s.meta_token);
    assert_null(s.dhis2_base_url);
    assert_null(s.dhis2_token);
    assert_string_equal(s.sqlite_synchronous, "full");
    assert_int_equal(s.http_max_conn_per_ip, -1);
    assert_int_equal(cmn_settings_conn_per_ip(&s), CMN_HTTP_CONN_PER_IP_DEFAULT);
    s.trust_proxy = true; /* behind a proxy every connection comes from it: no limit */
    assert_int_equal(cmn_settings_conn_per_ip(&s), 0);
    s.http_max_conn_per_ip = 32; /* set explicitly: wins */
    assert_int_equal(cmn_settings_conn_per_ip(&s), 32);
    cmn_settings_free(&s);
    cmn_settings_free(&s); /* idempotent */
    cmn_settings_free(NULL);
}

static void test_env_file_and_aliases(void **state)
{
    (void)state;
    FILE *f = fopen(".env", "w");
    assert_non_null(f);
    fputs("META_WHATSAPP_TOKEN=meta-tok\nMETA_WEBHOOK_VERIFY_TOKEN=verify\n"
          "SESSION_TIMEOUT_MINUTES=30\nENABLE_QR_CODE=True\nCIU_ENGINE_ADMIN_PORT=-1\n"
          "LOG_LEVEL=DEBUG\nSOMETHING_ELSE=ignored\n",
          f);
    fclose(f);
    setenv("SESSION_TIMEOUT_MINUTES", "45", 1);
    cmn_settings_t s;
    load_ok(&s);
    assert_string_equal(s.meta_token, "meta-tok");
    assert_string_equal(s.meta_verify_token, "verify");
    assert_int_equal(s.session_timeout_min, 45);
    assert_true(s.enable_qr);
    assert_int_equal(s.admin_port_engine, -1);
    assert_string_equal(s.log_level, "DEBUG");
    cmn_settings_free(&s);
}

static void test_bad_values(void **state)
{
    (void)state;
    setenv("SESSION_TIMEOUT_MINUTES", "abc", 1);
    char *err = load_err();
    assert_non_null(strstr(err, "SESSION_TIMEOUT_MINUTES: 'abc' is not a whole number ("));
    assert_non_null(strstr(err, "; fix: set a whole number between 1 and 1440)"));
    free(err);
    unsetenv("SESSION_TIMEOUT_MINUTES");

    setenv("CIU_SENDER_ADMIN_PORT", "-2", 1);
    err = load_err();
    assert_non_null(strstr(err, "CIU_SENDER_ADMIN_PORT: '-2' is out of range"));
    free(err);
    unsetenv("CIU_SENDER_ADMIN_PORT");

    setenv("LOG_LEVEL", "loud", 1);
    err = load_err();
    assert_string_equal(err, "LOG_LEVEL: 'loud' is not a log level (how much to log; "
                             "fix: use debug, info, warning or error)");
    free(err);
    unsetenv("LOG_LEVEL");

    setenv("CIU_DEFAULT_LANGUAGE", "de", 1);
    err = load_err();
    assert_non_null(strstr(err, "CIU_DEFAULT_LANGUAGE: 'de' is not a supported language"));
    assert_non_null(strstr(err, "fix: use fr, en, ln or sw)"));
    free(err);
    unsetenv("CIU_DEFAULT_LANGUAGE");

    setenv("CIU_SQLITE_SYNCHRONOUS", "off", 1);
    err = load_err();
    assert_string_equal(err, "CIU_SQLITE_SYNCHRONOUS: 'off' is not a SQLite durability mode "
                             "(when a commit reaches the disk; fix: use full or normal)");
    free(err);
    setenv("CIU_SQLITE_SYNCHRONOUS", "normal", 1);
    cmn_settings_t s;
    load_ok(&s);
    assert_string_equal(s.sqlite_synchronous, "normal");
    cmn_settings_free(&s);
    unsetenv("CIU_SQLITE_SYNCHRONOUS");

    setenv("CIU_HTTP_MAX_CONN_PER_IP", "-2", 1);
    err = load_err();
    assert_non_null(strstr(err, "CIU_HTTP_MAX_CONN_PER_IP: '-2' is out of range"));
    free(err);
    unsetenv("CIU_HTTP_MAX_CONN_PER_IP");

    setenv("LOG_JSON", "maybe", 1);
    err = load_err();
    assert_non_null(strstr(err, "LOG_JSON: 'maybe' is not a boolean"));
    free(err);
}

static void test_store_url(void **state)
{
    (void)state;
    static const struct {
        const char *dir, *url, *want;
    } cases[] = {
        {NULL, NULL, "./data/ciu.db"},
        {"/var/lib/ciu", "", "/var/lib/ciu/ciu.db"},
        {NULL, "sqlite:///abs/path/x.db", "/abs/path/x.db"},
        {NULL, "sqlite://rel/x.db", "rel/x.db"},
        /* issue 11: the seed's value is relative to the working directory */
        {NULL, "sqlite:///./uic_database.db", "./uic_database.db"},
        {NULL, "sqlite:///../db/x.db", "../db/x.db"},
        {NULL, "sqlite:////abs/x.db", "/abs/x.db"},
        {NULL, "postgresql://ciu:pw@db:5432/ciu", "postgresql://ciu:pw@db:5432/ciu"},
        {NULL, "postgres://db/ciu", "postgres://db/ciu"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        clear_env();
        if (cases[i].dir)
            setenv("CIU_DATA_DIR", cases[i].dir, 1);
        if (cases[i].url)
            setenv("DATABASE_URL", cases[i].url, 1);
        cmn_settings_t s;
        load_ok(&s);
        char *u = cmn_settings_store_url(&s);
        assert_string_equal(u, cases[i].want);
        free(u);
        cmn_settings_free(&s);
    }
}

static void test_describe_redacts(void **state)
{
    (void)state;
    setenv("UIC_SALT", "0123456789abcdef0123456789abcdef-salt", 1);
    setenv("TWILIO_AUTH_TOKEN", "twilio-secret", 1);
    setenv("TWILIO_ACCOUNT_SID", "AC123", 1);
    cmn_settings_t s;
    load_ok(&s);
    char *d = cmn_settings_describe(&s);
    assert_non_null(d);
    assert_non_null(strstr(d, "UIC_SALT=***"));
    assert_non_null(strstr(d, "TWILIO_AUTH_TOKEN=***"));
    assert_non_null(strstr(d, "TWILIO_ACCOUNT_SID=AC123"));
    /* unset and default settings are left out of the line */
    assert_null(strstr(d, "META_APP_SECRET"));
    assert_null(strstr(d, "CIU_DATA_DIR"));
    assert_null(strstr(d, "twilio-secret"));
    assert_null(strstr(d, "-salt"));
    assert_null(strchr(d, '\n'));
    free(d);
    cmn_settings_free(&s);
}

/* issue 11: the start-up line names the store, never a database password */
static void test_describe_store(void **state)
{
    (void)state;
    cmn_settings_t s;
    char *d;
    setenv("DATABASE_URL", "postgresql://ciu:s3cret@db:5432/ciu?sslmode=require", 1);
    load_ok(&s);
    d = cmn_settings_describe(&s);
    assert_non_null(d);
    assert_null(strstr(d, "s3cret"));
    assert_non_null(strstr(d, "DATABASE_URL=postgresql://ciu:***@db:5432/ciu?sslmode=require"));
    assert_non_null(strstr(d, "; store: PostgreSQL postgresql://ciu:***@db:5432/ciu"));
    free(d);
    cmn_settings_free(&s);
    setenv("DATABASE_URL", "postgres://db/ciu?user=ciu&password=s3cret&x=1", 1);
    load_ok(&s);
    d = cmn_settings_store_describe(&s);
    assert_string_equal(d, "PostgreSQL postgres://db/ciu?user=ciu&password=***&x=1");
    free(d);
    cmn_settings_free(&s);
    setenv("DATABASE_URL", "sqlite:///./uic_database.db", 1);
    load_ok(&s);
    d = cmn_settings_store_describe(&s);
    char cwd[4096], want[4200];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    snprintf(want, sizeof(want), "SQLite file %s/uic_database.db", cwd);
    assert_string_equal(d, want);
    free(d);
    cmn_settings_free(&s);
    unsetenv("DATABASE_URL");
    load_ok(&s);
    d = cmn_settings_describe(&s);
    assert_non_null(strstr(d, "; store: SQLite file "));
    assert_non_null(strstr(d, "/data/ciu.db"));
    free(d);
    cmn_settings_free(&s);
}

/* docker-compose: the database password is a secret file shared with the
 * postgres image (DATABASE_PASSWORD_FILE), inserted into DATABASE_URL */
static void test_database_password(void **state)
{
    (void)state;
    cmn_settings_t s;
    char *d, *err;
    FILE *f = fopen("pw", "w");
    assert_non_null(f);
    fputs("p@ss:w/rd\n", f);
    fclose(f);
    setenv("DATABASE_URL", "postgresql://ciu@postgres:5432/ciu", 1);
    setenv("DATABASE_PASSWORD_FILE", "pw", 1);
    load_ok(&s);
    assert_string_equal(s.database_url, "postgresql://ciu:p%40ss%3Aw%2Frd@postgres:5432/ciu");
    d = cmn_settings_describe(&s);
    assert_null(strstr(d, "p%40ss"));
    assert_null(strstr(d, "p@ss"));
    assert_non_null(strstr(d, "store: PostgreSQL postgresql://ciu:***@postgres:5432/ciu"));
    free(d);
    cmn_settings_free(&s);
    /* SQLite: nothing to insert it into */
    setenv("DATABASE_URL", "sqlite:///./x.db", 1);
    load_ok(&s);
    assert_string_equal(s.database_url, "sqlite:///./x.db");
    cmn_settings_free(&s);
    /* two passwords, or no user: one clear line */
    setenv("DATABASE_URL", "postgresql://ciu:other@postgres/ciu", 1);
    err = load_err();
    assert_string_equal(err, "DATABASE_PASSWORD: DATABASE_URL has a password already (fix: "
                             "remove one of them)");
    free(err);
    setenv("DATABASE_URL", "postgresql://postgres/ciu", 1);
    err = load_err();
    assert_non_null(strstr(err, "DATABASE_URL names no user"));
    free(err);
    unsetenv("DATABASE_PASSWORD_FILE");
    unlink("pw");
}

static void test_require(void **state)
{
    (void)state;
    setenv("TWILIO_ACCOUNT_SID", "AC123", 1);
    cmn_settings_t s;
    load_ok(&s);
    char *err = NULL;
    assert_int_equal(cmn_settings_require(&s, "TWILIO_ACCOUNT_SID", NULL, &err), 0);
    assert_int_equal(cmn_settings_require(&s, "CIU_HTTP_PORT", NULL, &err), 0);
    assert_int_equal(cmn_settings_require(&s, "NOT_A_SETTING", NULL, &err), -ENOENT);
    assert_null(err);
    assert_int_equal(cmn_settings_require(&s, "META_ACCESS_TOKEN", "by ciu-sender for Meta",
                                          &err),
                     -EINVAL);
    assert_string_equal(err, "META_ACCESS_TOKEN: not set (Meta WhatsApp Cloud API access token; "
                             "fix: set META_ACCESS_TOKEN or META_WHATSAPP_TOKEN in the "
                             "environment or .env, needed by ciu-sender for Meta)");
    free(err);
    cmn_settings_free(&s);
}

static void test_salt_given(void **state)
{
    (void)state;
    setenv("UIC_SALT", "  0123456789abcdef0123456789abcdef \n", 1);
    cmn_settings_t s;
    load_ok(&s);
    unsigned char *salt = NULL;
    size_t len = 0;
    char *err = NULL;
    assert_int_equal(cmn_settings_salt(&s, &salt, &len, &err), 0);
    assert_int_equal(len, 32);
    assert_memory_equal(salt, "0123456789abcdef0123456789abcdef", 32);
    free(salt);
    cmn_settings_free(&s);
}

static void test_salt_too_short(void **state)
{
    (void)state;
    setenv("UIC_SALT", " short-salt ", 1);
    setenv("CIU_SIMULATOR", "true", 1); /* the simulator does not excuse a bad salt */
    cmn_settings_t s;
    load_ok(&s);
    unsigned char *salt = NULL;
    size_t len = 0;
    char *err = NULL;
    assert_int_equal(cmn_settings_salt(&s, &salt, &len, &err), -EINVAL);
    assert_null(salt);
    assert_string_equal(err, "UIC_SALT: too short (10 characters); it needs at least 32 random "
                             "bytes: run `ciu-admin gen-salt`");
    free(err);
    cmn_settings_free(&s);
}

static void test_salt_unset_production(void **state)
{
    (void)state;
    setenv("CIU_DATA_DIR", "d/sub", 1);
    cmn_settings_t s;
    load_ok(&s);
    unsigned char *salt = NULL;
    size_t len = 0;
    char *err = NULL;
    assert_int_equal(cmn_settings_salt(&s, &salt, &len, &err), -EINVAL);
    assert_string_equal(err, "UIC_SALT: not set; it is required outside the simulator demo: run "
                             "`ciu-admin gen-salt` and put the result in .env");
    free(err);
    struct stat st;
    assert_int_equal(stat("d/sub/uic_salt", &st), -1); /* nothing was created */
    cmn_settings_free(&s);
}

static void test_salt_generated_and_reused(void **state)
{
    (void)state;
    setenv("CIU_DATA_DIR", "d/sub", 1);
    setenv("CIU_SIMULATOR", "1", 1);
    cmn_settings_t s;
    load_ok(&s);
    unsigned char *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    char *err = NULL;
    mode_t old = umask(0);
    assert_int_equal(cmn_settings_salt(&s, &a, &alen, &err), 0);
    umask(old);
    assert_int_equal(alen, 64);
    for (size_t i = 0; i < alen; i++)
        assert_non_null(strchr("0123456789abcdef", a[i]));

    struct stat st;
    assert_int_equal(stat("d/sub/uic_salt", &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 65); /* 64 hex + newline */
    FILE *f = fopen("d/sub/uic_salt", "r");
    char text[80] = {0};
    assert_non_null(fgets(text, sizeof(text), f));
    fclose(f);
    assert_memory_equal(text, a, 64);

    assert_int_equal(cmn_settings_salt(&s, &b, &blen, &err), 0);
    assert_int_equal(blen, 64);
    assert_memory_equal(a, b, 64);
    free(a);
    free(b);

    /* an explicit UIC_SALT wins over the demo file */
    cmn_settings_free(&s);
    setenv("UIC_SALT", "abcdefghijklmnopqrstuvwxyz0123456789", 1);
    load_ok(&s);
    assert_int_equal(cmn_settings_salt(&s, &a, &alen, &err), 0);
    assert_int_equal(alen, 36);
    assert_memory_equal(a, "abcdefghijklmnopqrstuvwxyz0123456789", 36);
    free(a);
    cmn_settings_free(&s);
}

/* Several daemons starting at once agree on one demo salt. */
static void test_salt_race(void **state)
{
    (void)state;
    setenv("CIU_DATA_DIR", "d/sub", 1);
    setenv("CIU_SIMULATOR", "on", 1);
    cmn_settings_t s;
    load_ok(&s);
    enum { KIDS = 6 };
    int fds[KIDS][2];
    pid_t pids[KIDS];
    for (int i = 0; i < KIDS; i++) {
        assert_int_equal(pipe(fds[i]), 0);
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            unsigned char *salt = NULL;
            size_t len = 0;
            char *err = NULL;
            int r = cmn_settings_salt(&s, &salt, &len, &err);
            if (r == 0 && len == 64 && write(fds[i][1], salt, 64) == 64)
                _exit(0);
            _exit(1);
        }
        close(fds[i][1]);
    }
    char first[64];
    for (int i = 0; i < KIDS; i++) {
        char got[64];
        int st = 0;
        assert_int_equal(read(fds[i][0], got, 64), 64);
        close(fds[i][0]);
        assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        if (i == 0)
            memcpy(first, got, 64);
        else
            assert_memory_equal(first, got, 64);
    }
    /* no temporary files left behind */
    int entries = 0;
    DIR *d = opendir("d/sub");
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            entries++;
    closedir(d);
    assert_int_equal(entries, 1);
    cmn_settings_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_database_password, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_file_and_aliases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_url, setup, teardown),
        cmocka_unit_test_setup_teardown(test_describe_redacts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_describe_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_require, setup, teardown),
        cmocka_unit_test_setup_teardown(test_salt_given, setup, teardown),
        cmocka_unit_test_setup_teardown(test_salt_too_short, setup, teardown),
        cmocka_unit_test_setup_teardown(test_salt_unset_production, setup, teardown),
        cmocka_unit_test_setup_teardown(test_salt_generated_and_reused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_salt_race, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
