/* cmn_http: libcurl multi driven by the stage's worker loop. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/select.h>
#include <time.h>

#include <curl/curl.h>

#include "common/cmn_http.h"

typedef struct s_xfer {
    CURL *easy;
    struct curl_slist *headers;
    curl_mime *mime;
    char *body;
    cmn_str_t resp;
    bool truncated;
    long retry_after_s;
    cmn_http_done_fn done;
    void *arg;
    char errbuf[CURL_ERROR_SIZE];
    struct s_xfer *prev, *next;
} s_xfer_t;

struct cmn_http {
    CURLM *multi;
    size_t max_body;
    size_t inflight;
    s_xfer_t *head; /* every transfer in flight, for destroy */
};

static void s_global_init(void)
{
    static int done;
    if (!done) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        done = 1;
    }
}

static size_t s_on_write(char *data, size_t size, size_t n, void *arg)
{
    s_xfer_t *x = arg;
    size_t len = size * n;
    if (!x->truncated && cmn_str_append(&x->resp, data, len) < 0) {
        size_t room = x->resp.max > x->resp.len ? x->resp.max - x->resp.len : 0;
        if (room)
            cmn_str_append(&x->resp, data, room);
        x->truncated = true;
    }
    return len; /* keep reading: the connection stays reusable */
}

/* Retry-After: delta seconds or an HTTP date. */
static long s_retry_after(const char *v, size_t len)
{
    char buf[64];
    long secs;
    struct tm tm;
    while (len > 0 && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
        len--;
    while (len > 0 && *v == ' ') {
        v++;
        len--;
    }
    if (len == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, v, len);
    buf[len] = '\0';
    if (cmn_parse_long(buf, 0, 7 * 24 * 3600, &secs) == 0)
        return secs;
    memset(&tm, 0, sizeof(tm));
    if (strptime(buf, "%a, %d %b %Y %H:%M:%S GMT", &tm) != NULL) {
        time_t at = timegm(&tm), now = time(NULL);
        return at > now ? (long)(at - now) : 0;
    }
    return -1;
}

static size_t s_on_header(char *data, size_t size, size_t n, void *arg)
{
    s_xfer_t *x = arg;
    size_t len = size * n;
    static const char name[] = "retry-after:";
    if (len > sizeof(name) - 1 && strncasecmp(data, name, sizeof(name) - 1) == 0)
        x->retry_after_s = s_retry_after(data + sizeof(name) - 1, len - (sizeof(name) - 1));
    return len;
}

cmn_http_t *cmn_http_new(size_t max_body)
{
    cmn_http_t *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return NULL;
    s_global_init();
    h->multi = curl_multi_init();
    if (h->multi == NULL) {
        free(h);
        return NULL;
    }
    h->max_body = max_body;
    return h;
}

static void s_xfer_free(cmn_http_t *h, s_xfer_t *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else if (h->head == x)
        h->head = x->next;
    if (x->next)
        x->next->prev = x->prev;
    if (x->easy) {
        curl_multi_remove_handle(h->multi, x->easy);
        curl_easy_cleanup(x->easy);
    }
    curl_slist_free_all(x->headers);
    curl_mime_free(x->mime);
    free(x->body);
    cmn_str_free(&x->resp);
    free(x);
}

static void s_finish(cmn_http_t *h, s_xfer_t *x, CURLcode code, bool aborted)
{
    cmn_http_result_t res;
    long status = 0;
    double secs = 0;
    long request_size = 0;
    memset(&res, 0, sizeof(res));
    if (!aborted) {
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(x->easy, CURLINFO_TOTAL_TIME, &secs);
        curl_easy_getinfo(x->easy, CURLINFO_REQUEST_SIZE, &request_size);
    }
    res.curl_code = aborted ? -1 : (int)code;
    res.status = code == CURLE_OK && !aborted ? status : 0;
    if (aborted)
        res.error = "aborted";
    else if (code == CURLE_OK)
        res.error = "";
    else
        res.error = x->errbuf[0] ? x->errbuf : curl_easy_strerror(code);
    res.body = x->resp.len ? cmn_str_cstr(&x->resp) : "";
    res.body_len = x->resp.len;
    res.truncated = x->truncated;
    res.retry_after_s = x->retry_after_s;
    res.seconds = secs;
    res.sent = request_size > 0;
    h->inflight--;
    if (x->done)
        x->done(x->arg, &res);
    s_xfer_free(h, x);
}

void cmn_http_destroy(cmn_http_t **p)
{
    cmn_http_t *h;
    if (p == NULL || *p == NULL)
        return;
    h = *p;
    while (h->head)
        s_finish(h, h->head, CURLE_ABORTED_BY_CALLBACK, true);
    curl_multi_cleanup(h->multi);
    free(h);
    *p = NULL;
}

static int s_setup_body(s_xfer_t *x, const cmn_http_req_t *req)
{
    if (req->nparts > 0) {
        x->mime = curl_mime_init(x->easy);
        if (x->mime == NULL)
            return -ENOMEM;
        for (size_t i = 0; i < req->nparts; i++) {
            const cmn_http_part_t *pt = &req->parts[i];
            curl_mimepart *part = curl_mime_addpart(x->mime);
            if (part == NULL || curl_mime_name(part, pt->name) != CURLE_OK ||
                curl_mime_data(part, pt->data, pt->len) != CURLE_OK)
                return -ENOMEM;
            if (pt->filename && curl_mime_filename(part, pt->filename) != CURLE_OK)
                return -ENOMEM;
            if (pt->type && curl_mime_type(part, pt->type) != CURLE_OK)
                return -ENOMEM;
        }
        curl_easy_setopt(x->easy, CURLOPT_MIMEPOST, x->mime);
        return 0;
    }
    if (req->body) {
        x->body = malloc(req->body_len + 1);
        if (x->body == NULL)
            return -ENOMEM;
        memcpy(x->body, req->body, req->body_len);
        x->body[req->body_len] = '\0';
        curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, x->body);
        curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    }
    return 0;
}

static int s_add_header(s_xfer_t *x, const char *h)
{
    struct curl_slist *n = curl_slist_append(x->headers, h);
    if (n == NULL)
        return -ENOMEM;
    x->headers = n;
    return 0;
}

int cmn_http_start(cmn_http_t *h, const cmn_http_req_t *req)
{
    s_xfer_t *x;
    int r = -ENOMEM;
    if (req == NULL || req->url == NULL || req->method == NULL)
        return -EINVAL;
    x = calloc(1, sizeof(*x));
    if (x == NULL)
        return -ENOMEM;
    x->resp = (cmn_str_t)CMN_STR_INIT(h->max_body);
    x->retry_after_s = -1;
    x->done = req->done;
    x->arg = req->arg;
    x->easy = curl_easy_init();
    if (x->easy == NULL)
        goto fail;
    curl_easy_setopt(x->easy, CURLOPT_URL, req->url);
    curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms : 30000L);
    curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, s_on_write);
    curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(x->easy, CURLOPT_HEADERFUNCTION, s_on_header);
    curl_easy_setopt(x->easy, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
    curl_easy_setopt(x->easy, CURLOPT_USERAGENT, "ciu/" CIU_VERSION);
    curl_easy_setopt(x->easy, CURLOPT_TCP_KEEPALIVE, 1L);
    if (req->userpwd) {
        curl_easy_setopt(x->easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(x->easy, CURLOPT_USERPWD, req->userpwd);
    }
    for (const char *const *hd = req->headers; hd && *hd; hd++)
        if ((r = s_add_header(x, *hd)) < 0)
            goto fail;
    if (req->content_type && req->nparts == 0) {
        char ct[256];
        snprintf(ct, sizeof(ct), "Content-Type: %s", req->content_type);
        if ((r = s_add_header(x, ct)) < 0)
            goto fail;
    }
    if ((r = s_add_header(x, "Expect:")) < 0) /* no 100-continue round trip */
        goto fail;
    curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers);
    if ((r = s_setup_body(x, req)) < 0)
        goto fail;
    if (strcmp(req->method, "GET") == 0)
        curl_easy_setopt(x->easy, CURLOPT_HTTPGET, 1L);
    else if (strcmp(req->method, "POST") != 0)
        curl_easy_setopt(x->easy, CURLOPT_CUSTOMREQUEST, req->method);
    else if (req->body == NULL && req->nparts == 0)
        curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, "");
    if (curl_multi_add_handle(h->multi, x->easy) != CURLM_OK) {
        r = -EIO;
        goto fail;
    }
    x->next = h->head;
    if (h->head)
        h->head->prev = x;
    h->head = x;
    h->inflight++;
    return 0;
fail:
    curl_easy_cleanup(x->easy);
    x->easy = NULL;
    curl_slist_free_all(x->headers);
    curl_mime_free(x->mime);
    free(x->body);
    free(x);
    return r;
}

size_t cmn_http_inflight(const cmn_http_t *h) { return h ? h->inflight : 0; }

int cmn_http_poll_prepare(cmn_http_t *h, cmn_pollfd_t *fds, size_t max, size_t *ret_n,
                          long *timeout_ms)
{
    fd_set rd, wr, ex;
    int maxfd = -1;
    long t = -1;
    size_t n = 0;

    if (h->inflight == 0) {
        *ret_n = 0;
        return 0;
    }
    FD_ZERO(&rd);
    FD_ZERO(&wr);
    FD_ZERO(&ex);
    if (curl_multi_fdset(h->multi, &rd, &wr, &ex, &maxfd) != CURLM_OK)
        return -EIO;
    for (int fd = 0; fd <= maxfd && n < max; fd++) {
        short ev = (short)((FD_ISSET(fd, &rd) ? CMN_POLL_IN : 0) |
                           (FD_ISSET(fd, &wr) ? CMN_POLL_OUT : 0));
        if (ev)
            fds[n++] = (cmn_pollfd_t){fd, ev};
    }
    curl_multi_timeout(h->multi, &t);
    if (t < 0 || maxfd < 0)
        t = t < 0 ? 50 : t; /* resolving or connecting: check back soon */
    if (t < *timeout_ms)
        *timeout_ms = t;
    *ret_n = n;
    return 0;
}

int cmn_http_perform(cmn_http_t *h)
{
    int running = 0;
    CURLMsg *m;
    int left;
    if (h->inflight == 0)
        return 0;
    if (curl_multi_perform(h->multi, &running) != CURLM_OK)
        return -EIO;
    while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
        s_xfer_t *x = NULL;
        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        if (x)
            s_finish(h, x, m->data.result, false);
    }
    return 0;
}

int cmn_http_form_append(cmn_str_t *out, const char *name, const char *value)
{
    static const char hex[] = "0123456789ABCDEF";
    const char *parts[2] = {name, value};
    int r = 0;
    if (out->len > 0)
        r = cmn_str_append(out, "&", 1);
    for (int k = 0; k < 2 && r == 0; k++) {
        for (const unsigned char *p = (const unsigned char *)parts[k]; *p && r == 0; p++) {
            if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
                r = cmn_str_append(out, (const char *)p, 1);
            } else {
                char enc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
                r = cmn_str_append(out, enc, 3);
            }
        }
        if (k == 0 && r == 0)
            r = cmn_str_append(out, "=", 1);
    }
    return r;
}
