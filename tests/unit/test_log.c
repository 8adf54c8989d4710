/* Unit tests for cmn_log: line format (logfmt and JSON), level filtering,
 * phone masking, strerror. stderr is captured through a pipe. */
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
#include <jansson.h>

#include "common/cmn_log.h"

static int s_pipe[2] = {-1, -1};
static int s_saved = -1;

static void capture_begin(void)
{
    assert_int_equal(pipe(s_pipe), 0);
    s_saved = dup(STDERR_FILENO);
    assert_true(s_saved >= 0);
    assert_true(dup2(s_pipe[1], STDERR_FILENO) >= 0);
    close(s_pipe[1]);
}

/* Returns what was written to stderr since capture_begin (caller frees). */
static char *capture_end(void)
{
    assert_true(dup2(s_saved, STDERR_FILENO) >= 0);
    close(s_saved);
    static char buf[65536];
    size_t n = 0;
    ssize_t k;
    while ((k = read(s_pipe[0], buf + n, sizeof(buf) - 1 - n)) > 0)
        n += (size_t)k;
    close(s_pipe[0]);
    buf[n] = '\0';
    return strdup(buf);
}

/* "2026-11-23T21:30:00.123Z" */
static void assert_ts(const char *ts)
{
    assert_true(strlen(ts) >= 24);
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
    for (size_t i = 0; i < 24; i++) {
        if (shape[i] == 'd')
            assert_true(ts[i] >= '0' && ts[i] <= '9');
        else
            assert_int_equal(ts[i], shape[i]);
    }
}

static int setup(void **state)
{
    (void)state;
    cmn_log_init("ciu-test", CMN_LOG_INFO, false);
    return 0;
}

static void test_text_line(void **state)
{
    (void)state;
    capture_begin();
    log_info("http", "abc", "hello %s \"%d\"", "world", 7);
    log_warn("http", NULL, "no trace");
    char *out = capture_end();
    char *second = strchr(out, '\n');
    assert_non_null(second);
    *second++ = '\0';
    assert_memory_equal(out, "ts=", 3);
    assert_ts(out + 3);
    assert_string_equal(out + 27,
                        " level=info daemon=ciu-test module=http trace=abc "
                        "msg=\"hello world \\\"7\\\"\"");
    assert_memory_equal(second, "ts=", 3);
    assert_ts(second + 3);
    assert_string_equal(second + 27, " level=warn daemon=ciu-test module=http msg=\"no trace\"\n");
    free(out);
}

static void test_text_escapes_newlines(void **state)
{
    (void)state;
    capture_begin();
    log_error("db", "t 1", "line1\nline2\\");
    char *out = capture_end();
    /* one line only: the newline in the message is escaped */
    assert_int_equal(strchr(out, '\n') - out, (long)strlen(out) - 1);
    assert_non_null(strstr(out, " level=error daemon=ciu-test module=db trace=\"t 1\" "
                                "msg=\"line1\\nline2\\\\\"\n"));
    free(out);
}

static void test_json_line(void **state)
{
    (void)state;
    cmn_log_init("ciu-json", CMN_LOG_INFO, true);
    capture_begin();
    log_info("store", "tr-9", "quote \" and \xc3\xa9 and \t tab");
    log_error("store", NULL, "plain");
    char *out = capture_end();
    cmn_log_init("ciu-test", CMN_LOG_INFO, false);

    char *nl = strchr(out, '\n');
    assert_non_null(nl);
    *nl = '\0';
    json_error_t jerr;
    json_t *o = json_loads(out, 0, &jerr);
    assert_non_null(o);
    assert_int_equal(json_object_size(o), 6);
    assert_ts(json_string_value(json_object_get(o, "ts")));
    assert_string_equal(json_string_value(json_object_get(o, "level")), "info");
    assert_string_equal(json_string_value(json_object_get(o, "daemon")), "ciu-json");
    assert_string_equal(json_string_value(json_object_get(o, "module")), "store");
    assert_string_equal(json_string_value(json_object_get(o, "trace")), "tr-9");
    assert_string_equal(json_string_value(json_object_get(o, "msg")),
                        "quote \" and \xc3\xa9 and \t tab");
    json_decref(o);

    o = json_loads(nl + 1, 0, &jerr); /* ends with "\n": jansson accepts trailing space */
    assert_non_null(o);
    assert_int_equal(json_object_size(o), 5);
    assert_null(json_object_get(o, "trace"));
    assert_string_equal(json_string_value(json_object_get(o, "level")), "error");
    assert_string_equal(json_string_value(json_object_get(o, "msg")), "plain");
    json_decref(o);
    free(out);
}

static int s_calls;
static int side_effect(void)
{
    return ++s_calls;
}

static void test_level_filter(void **state)
{
    (void)state;
    s_calls = 0;
    capture_begin();
    log_debug("m", NULL, "not shown %d", side_effect());
    char *out = capture_end();
    assert_int_equal(s_calls, 0); /* the arguments were never evaluated */
    assert_string_equal(out, "");
    free(out);

    cmn_log_init("ciu-test", CMN_LOG_ERROR, false);
    capture_begin();
    log_warn("m", NULL, "nope %d", side_effect());
    cmn_log_write(CMN_LOG_INFO, "m", NULL, "direct call below the level");
    log_error("m", NULL, "yes %d", side_effect());
    out = capture_end();
    assert_int_equal(s_calls, 1);
    assert_non_null(strstr(out, "msg=\"yes 1\""));
    assert_null(strstr(out, "nope"));
    assert_null(strstr(out, "direct"));
    free(out);

    cmn_log_init("ciu-test", CMN_LOG_DEBUG, false);
    capture_begin();
    log_debug("m", NULL, "shown %d", side_effect());
    out = capture_end();
    assert_int_equal(s_calls, 2);
    assert_non_null(strstr(out, "level=debug daemon=ciu-test module=m msg=\"shown 2\""));
    free(out);
    cmn_log_init("ciu-test", CMN_LOG_INFO, false);
}

static int fails_with(int r)
{
    return log_err_errno(r, "store", NULL, "cannot open '%s'", "x.db");
}

static void test_err_errno(void **state)
{
    (void)state;
    capture_begin();
    errno = 0;
    int r = fails_with(-ENOENT);
    char *out = capture_end();
    assert_int_equal(r, -ENOENT);
    assert_non_null(strstr(out, "level=error daemon=ciu-test module=store "
                                "msg=\"cannot open 'x.db': No such file or directory\"\n"));
    free(out);
    assert_string_equal(cmn_strerror(-EACCES), "Permission denied");
    assert_string_equal(cmn_strerror(-E2BIG), "Argument list too long");
    assert_non_null(cmn_strerror(-99999));
}

static void test_level_parse(void **state)
{
    (void)state;
    cmn_log_level_t l = CMN_LOG_ERROR;
    assert_int_equal(cmn_log_level_parse("debug", &l), 0);
    assert_int_equal(l, CMN_LOG_DEBUG);
    assert_int_equal(cmn_log_level_parse("INFO", &l), 0);
    assert_int_equal(l, CMN_LOG_INFO);
    assert_int_equal(cmn_log_level_parse("Warning", &l), 0);
    assert_int_equal(l, CMN_LOG_WARN);
    assert_int_equal(cmn_log_level_parse("warn", &l), 0);
    assert_int_equal(l, CMN_LOG_WARN);
    assert_int_equal(cmn_log_level_parse("ERROR", &l), 0);
    assert_int_equal(l, CMN_LOG_ERROR);
    assert_int_equal(cmn_log_level_parse("loud", &l), -EINVAL);
    assert_int_equal(cmn_log_level_parse("", &l), -EINVAL);
    assert_int_equal(cmn_log_level_parse(NULL, &l), -EINVAL);
    assert_int_equal(l, CMN_LOG_ERROR);
}

static void test_mask_phone(void **state)
{
    (void)state;
    char m[CMN_MASK_LEN];
    assert_string_equal(cmn_mask_phone("+243812345123", m), "+243******123");
    assert_string_equal(cmn_mask_phone("whatsapp:+243812345123", m), "whatsapp:+243******123");
    assert_string_equal(cmn_mask_phone("243812345123", m), "243******123");
    assert_string_equal(cmn_mask_phone("+1234567", m), "+123*567");
    assert_string_equal(cmn_mask_phone("+123456", m), "***");
    assert_string_equal(cmn_mask_phone("whatsapp:+12", m), "***");
    assert_string_equal(cmn_mask_phone("", m), "***");
    assert_string_equal(cmn_mask_phone(NULL, m), "***");
    /* very long input stays within the buffer and keeps the ends */
    const char *lng = "whatsapp:+12345678901234567890123456789012345678901234567890";
    const char *r = cmn_mask_phone(lng, m);
    assert_ptr_equal(r, m);
    assert_true(strlen(m) < CMN_MASK_LEN);
    assert_memory_equal(m, "whatsapp:+123*", 14);
    assert_string_equal(m + strlen(m) - 4, "*890");
}

static void test_signal_safe(void **state)
{
    (void)state;
    capture_begin();
    cmn_log_signal_safe("stopping");
    cmn_log_signal_safe("already\n");
    char *out = capture_end();
    assert_string_equal(out, "stopping\nalready\n");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_text_line, setup),
        cmocka_unit_test_setup(test_text_escapes_newlines, setup),
        cmocka_unit_test_setup(test_json_line, setup),
        cmocka_unit_test_setup(test_level_filter, setup),
        cmocka_unit_test_setup(test_err_errno, setup),
        cmocka_unit_test(test_level_parse),
        cmocka_unit_test(test_mask_phone),
        cmocka_unit_test(test_signal_safe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
