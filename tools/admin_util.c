/* admin_util: helpers every ciu-admin command shares (see admin_util.h). */
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "admin_i18n.h"
#include "admin_util.h"
#include "common/cmn_daemon.h"
#include "common/cmn_str.h"

int admin_fail(int code, const char *fmt, ...)
{
    va_list ap;
    fputs("ciu-admin: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, admin_tr(fmt), ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

int admin_print_json(json_t *j)
{
    int code = CMN_EXIT_OK;
    if (j == NULL)
        return admin_fail(CMN_EXIT_SOFTWARE, "out of memory");
    if (json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0)
        code = admin_fail(CMN_EXIT_SOFTWARE, "cannot write JSON");
    else
        fputc('\n', stdout);
    json_decref(j);
    return code;
}

int admin_store_fail(cmn_store_t *st, const char *what)
{
    return admin_fail(CMN_EXIT_UNAVAILABLE, "cannot %s: %s", admin_tr(what), cmn_store_errmsg(st));
}

int admin_db_open(admin_db_t *db, bool create)
{
    char *err = NULL, msg[512] = "", shown[512] = "";
    char *url = NULL;
    int r, code = CMN_EXIT_OK;

    if (cmn_settings_load(&db->settings, &err) < 0) {
        code = admin_fail(CMN_EXIT_CONFIG, "bad configuration: %s", err ? err : "?");
        free(err);
        return code;
    }
    db->settings_loaded = true;
    url = cmn_settings_store_url(&db->settings);
    if (url == NULL)
        return admin_fail(CMN_EXIT_SOFTWARE, "out of memory");
    bool sqlite = strncmp(url, "postgres://", 11) != 0 && strncmp(url, "postgresql://", 13) != 0;
    if (sqlite && create) {
        r = cmn_settings_make_data_dir(&db->settings);
        if (r < 0) {
            code = admin_fail(CMN_EXIT_CONFIG, "CIU_DATA_DIR: cannot create '%s': %s",
                              db->settings.data_dir, strerror(-r));
            goto out;
        }
    } else if (sqlite && access(url, F_OK) != 0) {
        code = admin_fail(CMN_EXIT_UNAVAILABLE,
                          "no SQLite store at %s (check CIU_DATA_DIR / DATABASE_URL, or run "
                          "'ciu-admin migrate')",
                          url);
        goto out;
    }
    r = cmn_store_open(url, &db->store, msg, sizeof(msg));
    if (r < 0) {
        cmn_store_url_redact(url, shown, sizeof(shown));
        code = admin_fail(CMN_EXIT_UNAVAILABLE, "cannot open the store %s: %s", shown, msg);
    }
out:
    free(url);
    return code;
}

void admin_db_close(admin_db_t *db)
{
    cmn_store_destroy(&db->store);
    if (db->settings_loaded)
        cmn_settings_free(&db->settings);
    db->settings_loaded = false;
}

int admin_db_need_schema(admin_db_t *db, int *ret_version)
{
    int v = 0;
    if (cmn_store_schema_version(db->store, &v) < 0)
        return admin_store_fail(db->store, "read the schema version");
    if (v < 1)
        return admin_fail(CMN_EXIT_UNAVAILABLE,
                          "the store has no schema yet: run 'ciu-admin migrate' or start a daemon");
    *ret_version = v;
    return 0;
}

void admin_iso(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (ms <= 0 || gmtime_r(&t, &tm) == NULL || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        cmn_strlcpy(out, "-", 32);
}

void admin_age(int64_t ms, char out[32])
{
    int64_t s = ms < 0 ? 0 : ms / 1000;
    if (s < 120)
        snprintf(out, 32, admin_tr("%lld s"), (long long)s);
    else if (s < 7200)
        snprintf(out, 32, admin_tr("%lld min"), (long long)(s / 60));
    else if (s < 172800)
        snprintf(out, 32, admin_tr("%lld h"), (long long)(s / 3600));
    else
        snprintf(out, 32, admin_tr("%lld days"), (long long)(s / 86400));
}

json_t *admin_json_text(const char *s)
{
    return s ? json_string(s) : json_null();
}

bool admin_wants_help(int argc, char **argv, const char *usage)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(admin_tr(usage), stdout);
            return true;
        }
    }
    return false;
}

bool admin_args_begin(int argc, char **argv, const char *usage)
{
    if (admin_wants_help(argc, argv, usage))
        return true;
    opterr = 0;
    optind = 1;
    return false;
}

int admin_db_ready(admin_db_t *db)
{
    int version = 0, code;
    memset(db, 0, sizeof(*db));
    code = admin_db_open(db, false);
    return code == CMN_EXIT_OK ? admin_db_need_schema(db, &version) : code;
}

void admin_report(admin_report_t *k, admin_status_t st, const char *what, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    admin_vreport(k, st, what, fmt, ap);
    va_end(ap);
}

void admin_vreport(admin_report_t *k, admin_status_t st, const char *what, const char *fmt,
                   va_list ap)
{
    static const char *const words[] = {"ok", "warn", "FAIL", "FAIL"};
    char detail[1024], name[128];
    vsnprintf(detail, sizeof(detail), k->json ? fmt : admin_tr(fmt), ap);
    snprintf(name, sizeof(name), "%s%s",
             k->prefix ? (k->json ? k->prefix : admin_tr(k->prefix)) : "",
             k->json ? what : admin_tr(what));
    if (st == ADMIN_WARN)
        k->warnings++;
    if (st == ADMIN_FAIL || st == ADMIN_DOWN)
        k->failures++;
    if (st == ADMIN_FAIL)
        k->code = CMN_EXIT_CONFIG;
    else if (st == ADMIN_DOWN && k->code == 0)
        k->code = CMN_EXIT_UNAVAILABLE;
    if (k->json) {
        if (k->list == NULL)
            k->list = json_array();
        json_array_append_new(k->list, json_pack("{s:s, s:s, s:s}", k->key ? k->key : "item", name,
                                                 "status", words[st], "detail", detail));
        return;
    }
    printf(admin_tr("%-5s %s: %s\n"), words[st], name, detail);
}

#define S_HTTP_BODY_MAX ((size_t)8 << 20)

static size_t s_on_write(char *data, size_t size, size_t n, void *arg)
{
    admin_http_t *r = arg;
    size_t len = size * n;
    return cmn_str_append(&r->body, data, len) == 0 ? len : 0;
}

void admin_http_call(const char *url, const char *const *headers, const char *userpwd,
                     const char *body, long timeout_s, admin_http_t *r)
{
    CURL *h = curl_easy_init();
    struct curl_slist *hd = NULL;
    char error[CURL_ERROR_SIZE] = "";
    memset(r, 0, sizeof(*r));
    r->body = (cmn_str_t)CMN_STR_INIT(S_HTTP_BODY_MAX);
    if (h == NULL) {
        cmn_strlcpy(r->error, "out of memory", sizeof(r->error));
        return;
    }
    hd = curl_slist_append(hd, "Accept: application/json");
    for (size_t i = 0; headers && headers[i]; i++)
        hd = curl_slist_append(hd, headers[i]);
    if (body) {
        hd = curl_slist_append(hd, "Content-Type: application/json");
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout_s);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, timeout_s < 10 ? timeout_s : 10L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, s_on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "ciu-admin/" CIU_VERSION);
    if (userpwd) {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERPWD, userpwd);
    }
    CURLcode rc = curl_easy_perform(h);
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    cmn_strlcpy(r->error,
                rc == CURLE_OK ? ""
                : error[0]     ? error
                               : curl_easy_strerror(rc),
                sizeof(r->error));
    curl_easy_getinfo(h, CURLINFO_TOTAL_TIME, &r->seconds);
    curl_slist_free_all(hd);
    curl_easy_cleanup(h);
}
