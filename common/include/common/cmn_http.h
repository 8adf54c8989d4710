/* cmn_http: outbound HTTP calls for the stages that call out (sender ->
 * Twilio / Meta, dhis2-bridge -> DHIS2), on libcurl multi.
 *
 * Many transfers run at once in the stage's own thread: the stage starts
 * them with cmn_http_start() and the worker loop (cmn_daemon_work, through
 * cmn_worker_ops_t.poll_prepare / on_poll) waits on their sockets together
 * with the ZeroMQ wake-ups, then calls cmn_http_perform(), which calls each
 * finished transfer's `done` callback exactly once. No store transaction is
 * ever open while a call is in flight: claim, commit, call, record.
 *
 * Every response body has a hard maximum (longer bodies are cut and the
 * result says so); every transfer has a total timeout.
 */
#ifndef CMN_HTTP_H
#define CMN_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cmn_daemon.h"
#include "common/cmn_str.h"

typedef struct cmn_http cmn_http_t;

/* What came back. Borrowed by the `done` callback for its duration only. */
typedef struct {
    long status;          /* HTTP status; 0 when no response (network error, timeout) */
    int curl_code;        /* CURLcode (0 = CURLE_OK) */
    const char *error;    /* curl's error text when status is 0, else "" */
    const char *body;     /* response body, NUL-terminated ("" when none) */
    size_t body_len;
    bool truncated;       /* body longer than the maximum: cut */
    long retry_after_s;   /* Retry-After in seconds (delta or HTTP date), -1 when absent */
    double seconds;       /* total time of the transfer */
    bool sent;            /* the request went out: with status 0 (no answer, e.g. a timeout)
                           * the far side may have acted on it all the same */
} cmn_http_result_t;

typedef void (*cmn_http_done_fn)(void *arg, const cmn_http_result_t *res);

/* One part of a multipart/form-data body. data is copied. */
typedef struct {
    const char *name;     /* field name */
    const char *data;     /* bytes */
    size_t len;
    const char *filename; /* NULL for a plain field */
    const char *type;     /* MIME type of a file part, or NULL */
} cmn_http_part_t;

typedef struct {
    const char *method;        /* "GET", "POST", "PUT", "DELETE" */
    const char *url;
    const char *const *headers;/* NULL-terminated "Name: value" list, or NULL */
    const char *content_type;  /* of body, or NULL */
    const char *body;          /* copied; NULL for none */
    size_t body_len;
    const cmn_http_part_t *parts; /* multipart body instead of `body` */
    size_t nparts;
    const char *userpwd;       /* Basic auth "user:password", or NULL */
    long timeout_ms;           /* total; <= 0: 30 s */
    cmn_http_done_fn done;     /* called once from cmn_http_perform / cmn_http_destroy */
    void *arg;
} cmn_http_req_t;

/* max_body: hard maximum of a response body kept (bytes). NULL on ENOMEM. */
cmn_http_t *cmn_http_new(size_t max_body);
/* Abort transfers in flight: their `done` is called with status 0 and
 * error "aborted" (curl_code -1), so owners can release what they hold. */
void cmn_http_destroy(cmn_http_t **p);

/* Start a transfer (everything in req is copied). 0, -ENOMEM, -EINVAL. */
int cmn_http_start(cmn_http_t *h, const cmn_http_req_t *req);
/* Transfers started and not finished. */
size_t cmn_http_inflight(const cmn_http_t *h);

/* Add the transfers' sockets to fds (up to max, *ret_n written) and lower
 * *timeout_ms to when libcurl next needs to be called. 0 or -errno. */
int cmn_http_poll_prepare(cmn_http_t *h, cmn_pollfd_t *fds, size_t max, size_t *ret_n,
                          long *timeout_ms);
/* Drive the transfers and call `done` for each finished one. 0 or -EIO. */
int cmn_http_perform(cmn_http_t *h);

/* Percent-encode s for application/x-www-form-urlencoded (spaces as %20)
 * and append to out. 0 or a cmn_str error. */
int cmn_http_form_append(cmn_str_t *out, const char *name, const char *value);

#endif
