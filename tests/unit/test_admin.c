/* Unit tests for cmn_admin: a real listener on 127.0.0.1 port 0, fetched
 * with libcurl; and cmn_portfile_append. */
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
#include <curl/curl.h>

#include "common/cmn_admin.h"
#include "common/cmn_metrics.h"

typedef struct {
    long status;
    char *ctype;
    char *allow;
    cmn_str_t body;
    cmn_str_t headers;
} s_resp_t;

static size_t s_on_body(char *p, size_t size, size_t n, void *arg)
{
    s_resp_t *r = arg;
    return cmn_str_append(&r->body, p, size * n) == 0 ? size * n : 0;
}

static size_t s_on_header(char *p, size_t size, size_t n, void *arg)
{
    s_resp_t *r = arg;
    return cmn_str_append(&r->headers, p, size * n) == 0 ? size * n : 0;
}

/* One request; the response is in *r (free with s_resp_free). */
static void s_fetch(int port, const char *method, const char *path, s_resp_t *r)
{
    memset(r, 0, sizeof(*r));
    r->body.max = 1 << 20;
    r->headers.max = 1 << 16;
    char url[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "POST") == 0)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "x=1");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, s_on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    char *ct = NULL;
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
    r->ctype = ct ? strdup(ct) : NULL;
    curl_easy_cleanup(c);
}

static void s_resp_free(s_resp_t *r)
{
    free(r->ctype);
    cmn_str_free(&r->body);
    cmn_str_free(&r->headers);
}

static int s_health_calls;
static bool s_healthy = true;

static int s_health(void *arg, cmn_str_t *out)
{
    s_health_calls++;
    cmn_str_printf(out, "{\"status\":\"%s\",\"daemon\":\"%s\"}", s_healthy ? "ok" : "degraded",
                   (const char *)arg);
    return s_healthy ? 200 : 503;
}

static void test_health_metrics_404_405(void **state)
{
    (void)state;
    cmn_metrics_t *m = cmn_metrics_new("ciu");
    cmn_counter_t *c = cmn_metrics_counter(m, "hits_total", NULL, "Hits.");
    cmn_counter_add(c, 3);
    cmn_admin_t *a = cmn_admin_new("127.0.0.1", 0, m, s_health, "ciu-test");
    assert_non_null(a);
    int port = cmn_admin_port(a);
    assert_true(port > 0 && port <= 65535);

    s_resp_t r;
    s_fetch(port, "GET", "/health", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.ctype, "application/json");
    assert_string_equal(cmn_str_cstr(&r.body), "{\"status\":\"ok\",\"daemon\":\"ciu-test\"}");
    assert_int_equal(s_health_calls, 1);
    s_resp_free(&r);

    s_healthy = false;
    s_fetch(port, "GET", "/health", &r);
    assert_int_equal(r.status, 503);
    assert_string_equal(cmn_str_cstr(&r.body), "{\"status\":\"degraded\",\"daemon\":\"ciu-test\"}");
    s_resp_free(&r);
    s_healthy = true;

    s_fetch(port, "GET", "/metrics", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.ctype, "text/plain; version=0.0.4"));
    assert_string_equal(cmn_str_cstr(&r.body), "# HELP ciu_hits_total Hits.\n"
                                               "# TYPE ciu_hits_total counter\n"
                                               "ciu_hits_total 3\n");
    s_resp_free(&r);

    cmn_counter_add(c, 1); /* live values */
    s_fetch(port, "GET", "/metrics", &r);
    assert_non_null(strstr(cmn_str_cstr(&r.body), "ciu_hits_total 4\n"));
    s_resp_free(&r);

    s_fetch(port, "GET", "/nope", &r);
    assert_int_equal(r.status, 404);
    assert_string_equal(r.ctype, "application/json");
    assert_string_equal(cmn_str_cstr(&r.body), "{\"error\":\"not found\"}");
    s_resp_free(&r);

    s_fetch(port, "POST", "/health", &r);
    assert_int_equal(r.status, 405);
    assert_string_equal(cmn_str_cstr(&r.body), "{\"error\":\"method not allowed\"}");
    assert_non_null(strstr(cmn_str_cstr(&r.headers), "Allow: GET, HEAD\r\n"));
    s_resp_free(&r);
    int calls = s_health_calls;

    s_fetch(port, "DELETE", "/metrics", &r);
    assert_int_equal(r.status, 405);
    s_resp_free(&r);
    assert_int_equal(s_health_calls, calls);

    cmn_admin_destroy(&a);
    assert_null(a);
    cmn_admin_destroy(&a);
    cmn_metrics_destroy(&m);
}

static void test_defaults_and_errors(void **state)
{
    (void)state;
    /* no metrics, no health callback */
    cmn_admin_t *a = cmn_admin_new("127.0.0.1", 0, NULL, NULL, NULL);
    assert_non_null(a);
    s_resp_t r;
    s_fetch(cmn_admin_port(a), "GET", "/health", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(cmn_str_cstr(&r.body), "{\"status\":\"ok\"}");
    s_resp_free(&r);
    s_fetch(cmn_admin_port(a), "GET", "/metrics", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(cmn_str_cstr(&r.body), "");
    s_resp_free(&r);

    /* the port is taken */
    errno = 0;
    cmn_admin_t *b = cmn_admin_new("127.0.0.1", cmn_admin_port(a), NULL, NULL, NULL);
    assert_null(b);
    assert_int_equal(errno, EADDRINUSE);
    cmn_admin_destroy(&a);

    errno = 0;
    assert_null(cmn_admin_new("127.0.0.1", 70000, NULL, NULL, NULL));
    assert_int_equal(errno, EINVAL);
    assert_null(cmn_admin_new("not an address", 0, NULL, NULL, NULL));
    assert_int_equal(cmn_admin_port(NULL), -1);
}

static void test_portfile(void **state)
{
    (void)state;
    char dir[] = "/tmp/ciu-test-admin-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof(path), "%s/ports", dir);
    mode_t old = umask(022);
    assert_int_equal(cmn_portfile_append(path, "http", "8123"), 0);
    assert_int_equal(cmn_portfile_append(path, "admin", "9001"), 0);
    umask(old);
    assert_int_equal(cmn_portfile_append(path, "bad=key", "1"), -EINVAL);
    assert_int_equal(cmn_portfile_append(path, "k", "two\nlines"), -EINVAL);
    char nodir[160];
    snprintf(nodir, sizeof(nodir), "%s/missing/ports", dir);
    assert_int_equal(cmn_portfile_append(nodir, "k", "1"), -ENOENT);

    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char text[128] = {0};
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    assert_int_equal(n, strlen("http=8123\nadmin=9001\n"));
    assert_string_equal(text, "http=8123\nadmin=9001\n");
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_health_metrics_404_405),
        cmocka_unit_test(test_defaults_and_errors),
        cmocka_unit_test(test_portfile),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return r;
}
