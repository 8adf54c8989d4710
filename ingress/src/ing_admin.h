/* ing_admin: the programme dashboard at /admin/ (docs/dashboard.md).
 *
 * On only when CIU_ADMIN_PASSWORD (or _FILE) is set; ing_server then routes
 * the /admin/ paths here, else each of them answers 404. The figures come from
 * common/cmn_stats on a store handle of the dashboard's own.
 *
 * Sessions are signed tokens, not server state, so they survive a restart
 * and work across ingress replicas: `<expiry ms>.<nonce>.<HMAC>` with
 * HMAC-SHA256 under a key derived from UIC_SALT and the password (changing
 * the password ends every session). The CSRF token of a session is
 * HMAC(key, "csrf." nonce): the page carries it, POSTs must send it in
 * X-CSRF-Token, and their Origin must be the request's own host. Logging
 * out revokes the nonce in this replica's memory (bounded) and clears the
 * cookie. Login attempts: 5 per minute per client address (token buckets,
 * explicit time), then 429 with Retry-After. Passwords are compared as
 * HMAC digests with CRYPTO_memcmp.
 *
 * Store reads run in the HTTP thread on the dashboard's own handle, as the
 * simulator's do on the reader's: one at a time (a second request meanwhile
 * gets the last figures, at most ING_ADMIN_CACHE_MS old, or 503), with the
 * PostgreSQL deadline of a webhook's commit (5 s), so at most one of the two
 * HTTP threads ever waits for the store here.
 */
#ifndef ING_ADMIN_H
#define ING_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

#include "common/cmn_crypto.h"

#define ING_ADMIN_TOKEN_LEN 160                /* room for a session token and its NUL */
#define ING_ADMIN_SESSION_MS INT64_C(43200000) /* a session lasts 12 h from login */
#define ING_ADMIN_ATTEMPTS 5                   /* login attempts per client ... */
#define ING_ADMIN_ATTEMPTS_WINDOW_S 60         /* ... per this many seconds */
#define ING_ADMIN_CACHE_MS 2000                /* figures are computed at most this often */

typedef struct ing_admin ing_admin_t;

typedef struct {
    const char *password; /* CIU_ADMIN_PASSWORD (borrowed; copied into a key) */
    const void *salt;     /* UIC_SALT bytes */
    size_t salt_len;
    const char *store_url;  /* opened by ing_admin_new */
    bool trust_proxy;       /* CIU_TRUST_PROXY: X-Forwarded-Proto/-For/X-Real-IP */
    const char *public_url; /* PUBLIC_BASE_URL: https there marks its host's requests secure */
    const void *page;       /* the dashboard (admin.html), borrowed */
    size_t page_len;
    const void *login; /* the login form (admin-login.html), borrowed */
    size_t login_len;
} ing_admin_cfg_t;

/* NULL on failure with a reason in err (no secret in it). store_url NULL:
 * no store (unit tests of the tokens). */
ing_admin_t *ing_admin_new(const ing_admin_cfg_t *cfg, char *err, size_t errlen);
void ing_admin_destroy(ing_admin_t **p);

/* ---- the pieces, with time as a parameter (unit tests) ---- */

/* Does given match the password? Constant time in the password's content. */
bool ing_admin_password_ok(const ing_admin_t *a, const char *given);
/* A new session token valid until now_ms + ING_ADMIN_SESSION_MS. 0 or -EIO. */
int ing_admin_token_new(const ing_admin_t *a, int64_t now_ms, char out[ING_ADMIN_TOKEN_LEN]);
/* 0 and the session's CSRF token (ret_csrf may be NULL) when token is
 * well-formed, signed by us, not expired and not revoked; else -EACCES. */
int ing_admin_token_check(ing_admin_t *a, const char *token, int64_t now_ms,
                          char ret_csrf[CMN_HEX256_LEN]);
/* Revoke a valid token until it expires (logout). */
void ing_admin_token_revoke(ing_admin_t *a, const char *token, int64_t now_ms);
/* May client try a password now (monotonic now_ms)? false: *ret_wait_ms. */
bool ing_admin_attempt(ing_admin_t *a, const char *client, int64_t now_ms, int64_t *ret_wait_ms);

/* ---- HTTP handlers (ing_server routes the /admin/ paths here) ---- */

enum MHD_Result ing_admin_page(ing_admin_t *a, struct MHD_Connection *c);
enum MHD_Result ing_admin_redirect(ing_admin_t *a, struct MHD_Connection *c);
/* body: the form (password=...), len bytes */
enum MHD_Result ing_admin_login(ing_admin_t *a, struct MHD_Connection *c, const char *body,
                                size_t len);
enum MHD_Result ing_admin_logout(ing_admin_t *a, struct MHD_Connection *c);
enum MHD_Result ing_admin_stats(ing_admin_t *a, struct MHD_Connection *c);
enum MHD_Result ing_admin_duplicates(ing_admin_t *a, struct MHD_Connection *c);
/* path: /admin/api/duplicates/<id>/reviewed */
enum MHD_Result ing_admin_reviewed(ing_admin_t *a, struct MHD_Connection *c, const char *path);

#endif
