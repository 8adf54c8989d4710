/* ing_admin: the programme dashboard. See ing_admin.h and docs/dashboard.md. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>

#include "common/cmn_log.h"
#include "common/cmn_msg.h"
#include "common/cmn_ratelimit.h"
#include "common/cmn_stats.h"
#include "common/cmn_store.h"
#include "common/cmn_str.h"
#include "ing_admin.h"
#include "ing_webhook.h"

#define S_MODULE "admin"
#define S_COOKIE "ciu_admin"
#define S_NONCE_BYTES 16
#define S_CLIENTS 256  /* login rate-limit buckets kept (least recently used evicted) */
#define S_REVOKED 1024 /* logged-out sessions remembered until they expire */
#define S_CLIENT_LEN 64
#define S_STORE_TIMEOUT_MS 5000
#define S_DUPLICATES_MAX 200
#define S_PAGE_MAX (512 * 1024)
#define S_LOCK_WAIT_MS 1000

typedef struct {
    char addr[S_CLIENT_LEN];
    cmn_ratelimit_t rl;
    int64_t used_ms;
} s_client_t;

typedef struct {
    char nonce[S_NONCE_BYTES * 2 + 1];
    int64_t expires_ms;
} s_revoked_t;

struct ing_admin {
    char key[CMN_HEX256_LEN];     /* session key: HMAC(UIC_SALT, "ciu-admin-session." pw) */
    char cmp_key[CMN_HEX256_LEN]; /* random: password digests for comparison */
    char pw_digest[CMN_HEX256_LEN];
    bool trust_proxy;
    char *public_host; /* host of an https PUBLIC_BASE_URL, or NULL */
    const char *page, *login;
    size_t page_len, login_len;
    pthread_mutex_t lock; /* clients, revoked */
    s_client_t clients[S_CLIENTS];
    s_revoked_t revoked[S_REVOKED];
    pthread_mutex_t store_lock; /* store */
    cmn_store_t *store;
    pthread_mutex_t cache_lock; /* cache, cache_mono */
    char *cache;                /* the last figures (JSON text) */
    int64_t cache_mono;
};

/* ---- pieces ------------------------------------------------------------- */

static int s_hmac(const char *key, const char *msg, char out[CMN_HEX256_LEN])
{
    return cmn_hmac_sha256_hex(key, strlen(key), msg, strlen(msg), out);
}

ing_admin_t *ing_admin_new(const ing_admin_cfg_t *cfg, char *err, size_t errlen)
{
    ing_admin_t *a = calloc(1, sizeof(*a));
    cmn_str_t msg = CMN_STR_INIT(4096);
    char rnd[CMN_HEX256_LEN];

    if (a == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&a->lock, NULL);
    pthread_mutex_init(&a->store_lock, NULL);
    pthread_mutex_init(&a->cache_lock, NULL);
    if (cfg->password == NULL || cfg->password[0] == '\0') {
        snprintf(err, errlen, "CIU_ADMIN_PASSWORD is empty");
        goto fail;
    }
    if (cmn_str_appends(&msg, "ciu-admin-session.") < 0 ||
        cmn_str_appends(&msg, cfg->password) < 0 ||
        cmn_hmac_sha256_hex(cfg->salt, cfg->salt_len, msg.buf, msg.len, a->key) < 0 ||
        cmn_random_hex(rnd, sizeof(rnd), 32) < 0 || cmn_strlcpy(a->cmp_key, rnd, sizeof(rnd)) < 0 ||
        s_hmac(a->cmp_key, cfg->password, a->pw_digest) < 0) {
        snprintf(err, errlen, "cannot derive the session key (password too long?)");
        goto fail;
    }
    a->trust_proxy = cfg->trust_proxy;
    if (cfg->public_url && strncasecmp(cfg->public_url, "https://", 8) == 0) {
        const char *h = cfg->public_url + 8;
        a->public_host = strndup(h, strcspn(h, "/?#"));
    }
    a->page = cfg->page;
    a->page_len = cfg->page_len;
    a->login = cfg->login;
    a->login_len = cfg->login_len;
    if (cfg->store_url) {
        char serr[256] = "";
        if (cmn_store_open(cfg->store_url, &a->store, serr, sizeof(serr)) < 0) {
            snprintf(err, errlen, "cannot open the store: %s", serr);
            goto fail;
        }
        cmn_store_set_timeout(a->store, S_STORE_TIMEOUT_MS);
    }
    cmn_str_free(&msg);
    return a;
fail:
    cmn_str_free(&msg);
    ing_admin_destroy(&a);
    return NULL;
}

void ing_admin_destroy(ing_admin_t **p)
{
    ing_admin_t *a;
    if (p == NULL || *p == NULL)
        return;
    a = *p;
    cmn_store_destroy(&a->store);
    free(a->cache);
    free(a->public_host);
    OPENSSL_cleanse(a->key, sizeof(a->key));
    OPENSSL_cleanse(a->pw_digest, sizeof(a->pw_digest));
    pthread_mutex_destroy(&a->lock);
    pthread_mutex_destroy(&a->store_lock);
    pthread_mutex_destroy(&a->cache_lock);
    free(a);
    *p = NULL;
}

bool ing_admin_password_ok(const ing_admin_t *a, const char *given)
{
    char d[CMN_HEX256_LEN];
    if (given == NULL || s_hmac(a->cmp_key, given, d) < 0)
        return false;
    return CRYPTO_memcmp(d, a->pw_digest, CMN_HEX256_LEN - 1) == 0;
}

/* MAC of "<expiry>.<nonce>". */
static int s_token_mac(const ing_admin_t *a, const char *payload, size_t len,
                       char out[CMN_HEX256_LEN])
{
    return cmn_hmac_sha256_hex(a->key, strlen(a->key), payload, len, out);
}

int ing_admin_token_new(const ing_admin_t *a, int64_t now_ms, char out[ING_ADMIN_TOKEN_LEN])
{
    char nonce[S_NONCE_BYTES * 2 + 1], payload[64], mac[CMN_HEX256_LEN];
    int n;
    if (cmn_random_hex(nonce, sizeof(nonce), S_NONCE_BYTES) < 0)
        return -EIO;
    n = snprintf(payload, sizeof(payload), "%lld.%s", (long long)(now_ms + ING_ADMIN_SESSION_MS),
                 nonce);
    if (n < 0 || (size_t)n >= sizeof(payload) || s_token_mac(a, payload, (size_t)n, mac) < 0)
        return -EIO;
    snprintf(out, ING_ADMIN_TOKEN_LEN, "%s.%s", payload, mac);
    return 0;
}

/* Split and verify; *ret_nonce points into a copy kept by the caller. */
static int s_token_parse(const ing_admin_t *a, const char *token, int64_t now_ms,
                         char nonce[S_NONCE_BYTES * 2 + 1], int64_t *ret_expires)
{
    char mac[CMN_HEX256_LEN];
    const char *dot1, *dot2;
    long long exp = 0;
    size_t plen;

    if (token == NULL || strlen(token) >= ING_ADMIN_TOKEN_LEN)
        return -EACCES;
    dot1 = strchr(token, '.');
    dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (dot1 == NULL || dot2 == NULL || dot1 - token > 18 || dot1 == token ||
        (size_t)(dot2 - dot1 - 1) != S_NONCE_BYTES * 2 || strlen(dot2 + 1) != CMN_HEX256_LEN - 1)
        return -EACCES;
    for (const char *p = token; p < dot1; p++)
        if (*p < '0' || *p > '9')
            return -EACCES;
    plen = (size_t)(dot2 - token);
    if (s_token_mac(a, token, plen, mac) < 0 ||
        CRYPTO_memcmp(mac, dot2 + 1, CMN_HEX256_LEN - 1) != 0)
        return -EACCES;
    for (const char *p = token; p < dot1; p++)
        exp = exp * 10 + (*p - '0');
    if (exp <= now_ms)
        return -EACCES;
    memcpy(nonce, dot1 + 1, S_NONCE_BYTES * 2);
    nonce[S_NONCE_BYTES * 2] = '\0';
    *ret_expires = exp;
    return 0;
}

int ing_admin_token_check(ing_admin_t *a, const char *token, int64_t now_ms,
                          char ret_csrf[CMN_HEX256_LEN])
{
    char nonce[S_NONCE_BYTES * 2 + 1], msg[64];
    int64_t expires = 0;
    bool revoked = false;

    if (s_token_parse(a, token, now_ms, nonce, &expires) < 0)
        return -EACCES;
    pthread_mutex_lock(&a->lock);
    for (size_t i = 0; i < S_REVOKED; i++)
        if (a->revoked[i].expires_ms > now_ms && strcmp(a->revoked[i].nonce, nonce) == 0)
            revoked = true;
    pthread_mutex_unlock(&a->lock);
    if (revoked)
        return -EACCES;
    if (ret_csrf) {
        snprintf(msg, sizeof(msg), "csrf.%s", nonce);
        if (s_hmac(a->key, msg, ret_csrf) < 0)
            return -EACCES;
    }
    return 0;
}

void ing_admin_token_revoke(ing_admin_t *a, const char *token, int64_t now_ms)
{
    char nonce[S_NONCE_BYTES * 2 + 1];
    int64_t expires = 0;
    size_t slot = 0;

    if (s_token_parse(a, token, now_ms, nonce, &expires) < 0)
        return;
    pthread_mutex_lock(&a->lock);
    /* a free or expired slot, else the one expiring first */
    for (size_t i = 0; i < S_REVOKED; i++) {
        if (a->revoked[i].expires_ms <= now_ms) {
            slot = i;
            break;
        }
        if (a->revoked[i].expires_ms < a->revoked[slot].expires_ms)
            slot = i;
    }
    cmn_strlcpy(a->revoked[slot].nonce, nonce, sizeof(a->revoked[slot].nonce));
    a->revoked[slot].expires_ms = expires;
    pthread_mutex_unlock(&a->lock);
}

bool ing_admin_attempt(ing_admin_t *a, const char *client, int64_t now_ms, int64_t *ret_wait_ms)
{
    s_client_t *c = NULL, *lru = &a->clients[0];
    bool ok;

    pthread_mutex_lock(&a->lock);
    for (size_t i = 0; i < S_CLIENTS; i++) {
        s_client_t *e = &a->clients[i];
        if (e->addr[0] && strcmp(e->addr, client) == 0) {
            c = e;
            break;
        }
        if (e->addr[0] == '\0' || e->used_ms < lru->used_ms)
            lru = e;
    }
    if (c == NULL) {
        c = lru;
        cmn_strlcpy(c->addr, client, sizeof(c->addr));
        cmn_ratelimit_init(&c->rl, (double)ING_ADMIN_ATTEMPTS / ING_ADMIN_ATTEMPTS_WINDOW_S,
                           ING_ADMIN_ATTEMPTS, now_ms);
    }
    c->used_ms = now_ms;
    ok = cmn_ratelimit_take(&c->rl, now_ms, ret_wait_ms);
    pthread_mutex_unlock(&a->lock);
    return ok;
}

/* ---- HTTP --------------------------------------------------------------- */

/* The client's address: the proxy's X-Real-IP or the last X-Forwarded-For
 * hop when CIU_TRUST_PROXY, else the socket's peer. */
static void s_client(const ing_admin_t *a, struct MHD_Connection *c, char out[S_CLIENT_LEN])
{
    const union MHD_ConnectionInfo *ci;
    cmn_strlcpy(out, "?", S_CLIENT_LEN);
    if (a->trust_proxy) {
        const char *real = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Real-IP");
        const char *xff = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-For");
        if (real && *real) {
            snprintf(out, S_CLIENT_LEN, "%.*s", (int)strcspn(real, " ,"), real);
            return;
        }
        if (xff && *xff) {
            const char *last = strrchr(xff, ',');
            last = last ? last + 1 : xff;
            while (*last == ' ')
                last++;
            snprintf(out, S_CLIENT_LEN, "%.*s", (int)strcspn(last, " ,"), last);
            return;
        }
    }
    ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                      S_CLIENT_LEN);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                      S_CLIENT_LEN);
    }
}

/* Did the request come over https (as far as we can know)? */
static bool s_https(const ing_admin_t *a, struct MHD_Connection *c)
{
    const char *proto = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-Proto");
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    if (a->trust_proxy && proto)
        return strcasecmp(proto, "https") == 0;
    return a->public_host && host && strcasecmp(host, a->public_host) == 0;
}

/* POSTs: an Origin header, when sent, must name this very host. */
static bool s_origin_ok(struct MHD_Connection *c)
{
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    const char *o;
    if (origin == NULL)
        return true;
    o = strstr(origin, "://");
    if (o == NULL || host == NULL)
        return false;
    return strcasecmp(o + 3, host) == 0;
}

/* Queue a response with the dashboard's security headers; extra: name,
 * value pairs ending with NULL. nonce: the page's script/style nonce. */
static enum MHD_Result s_send(struct MHD_Connection *c, unsigned status, const char *type,
                              const void *body, size_t len, const char *nonce,
                              const char *const *extra)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    char csp[400];
    enum MHD_Result r;

    if (resp == NULL)
        return MHD_NO;
    if (nonce)
        snprintf(csp, sizeof(csp),
                 "default-src 'none'; script-src 'nonce-%s'; style-src 'nonce-%s'; img-src "
                 "data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
                 "base-uri 'none'",
                 nonce, nonce);
    else
        snprintf(csp, sizeof(csp), "default-src 'none'; frame-ancestors 'none'");
    MHD_add_response_header(resp, "Content-Type", type);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "same-origin");
    MHD_add_response_header(resp, "Content-Security-Policy", csp);
    for (size_t i = 0; extra && extra[i] && extra[i + 1]; i += 2)
        MHD_add_response_header(resp, extra[i], extra[i + 1]);
    r = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return r;
}

static enum MHD_Result s_json(struct MHD_Connection *c, unsigned status, json_t *j,
                              const char *const *extra)
{
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    enum MHD_Result r;
    json_decref(j);
    if (text == NULL)
        return s_send(c, 500, "application/json", "{}", 2, NULL, extra);
    r = s_send(c, status, "application/json", text, strlen(text), NULL, extra);
    free(text);
    return r;
}

static enum MHD_Result s_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
    return s_json(c, status, json_pack("{s:s}", "error", msg), NULL);
}

/* A page with its markers replaced: {{NONCE}}, {{CSRF}}, {{STATE}}. */
static enum MHD_Result s_render(struct MHD_Connection *c, unsigned status, const char *tpl,
                                size_t len, const char *csrf, const char *state,
                                const char *const *extra)
{
    const char *keys[3] = {"{{NONCE}}", "{{CSRF}}", "{{STATE}}"};
    char nonce[33];
    const char *vals[3] = {nonce, csrf ? csrf : "", state ? state : ""};
    cmn_str_t out = CMN_STR_INIT(S_PAGE_MAX);
    enum MHD_Result r;
    size_t i = 0;

    if (tpl == NULL || cmn_random_hex(nonce, sizeof(nonce), 16) < 0)
        return s_error(c, 500, "internal error");
    while (i < len) {
        size_t k, n = 0;
        for (k = 0; k < 3; k++) {
            n = strlen(keys[k]);
            if (len - i >= n && memcmp(tpl + i, keys[k], n) == 0)
                break;
        }
        int e = k < 3 ? cmn_str_appends(&out, vals[k]) : cmn_str_append(&out, tpl + i, 1);
        if (e < 0) {
            cmn_str_free(&out);
            return s_error(c, 500, "internal error");
        }
        i += k < 3 ? n : 1;
    }
    r = s_send(c, status, "text/html; charset=utf-8", out.buf ? out.buf : "", out.len, nonce,
               extra);
    cmn_str_free(&out);
    return r;
}

/* The session of the request: 0 and its CSRF token, or -EACCES. */
static int s_session(ing_admin_t *a, struct MHD_Connection *c, char csrf[CMN_HEX256_LEN])
{
    const char *tok = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, S_COOKIE);
    return ing_admin_token_check(a, tok, cmn_now_ms(), csrf);
}

/* A state-changing API call: session, same origin, X-CSRF-Token. Returns
 * 0, or the status to answer (401, 403). */
static unsigned s_guard_post(ing_admin_t *a, struct MHD_Connection *c)
{
    char csrf[CMN_HEX256_LEN];
    const char *sent = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-CSRF-Token");
    if (s_session(a, c, csrf) < 0)
        return 401;
    if (!s_origin_ok(c) || sent == NULL || strlen(sent) != CMN_HEX256_LEN - 1 ||
        CRYPTO_memcmp(sent, csrf, CMN_HEX256_LEN - 1) != 0)
        return 403;
    return 0;
}

enum MHD_Result ing_admin_page(ing_admin_t *a, struct MHD_Connection *c)
{
    char csrf[CMN_HEX256_LEN];
    if (s_session(a, c, csrf) < 0)
        return s_render(c, 200, a->login, a->login_len, NULL, "", NULL);
    return s_render(c, 200, a->page, a->page_len, csrf, "", NULL);
}

enum MHD_Result ing_admin_redirect(ing_admin_t *a, struct MHD_Connection *c)
{
    static const char *const loc[] = {"Location", "/admin/", NULL};
    (void)a;
    return s_send(c, 302, "text/plain", "", 0, NULL, loc);
}

enum MHD_Result ing_admin_login(ing_admin_t *a, struct MHD_Connection *c, const char *body,
                                size_t len)
{
    char client[S_CLIENT_LEN], token[ING_ADMIN_TOKEN_LEN], cookie[256], retry[24];
    int64_t wait_ms = 0;
    ing_form_t form;
    bool ok;

    s_client(a, c, client);
    if (!s_origin_ok(c)) {
        log_warn(S_MODULE, NULL, "403 dashboard login from %s: Origin is another site", client);
        return s_render(c, 403, a->login, a->login_len, NULL, "origin", NULL);
    }
    if (!ing_admin_attempt(a, client, cmn_mono_ms(), &wait_ms)) {
        snprintf(retry, sizeof(retry), "%lld", (long long)((wait_ms + 999) / 1000));
        const char *const hdr[] = {"Retry-After", retry, NULL};
        log_warn(S_MODULE, NULL, "429 dashboard login from %s: more than %d attempts a minute",
                 client, ING_ADMIN_ATTEMPTS);
        return s_render(c, 429, a->login, a->login_len, NULL, "limited", hdr);
    }
    if (ing_form_parse(body ? body : "", len, &form) < 0)
        return s_render(c, 400, a->login, a->login_len, NULL, "wrong", NULL);
    ok = ing_admin_password_ok(a, ing_form_get(&form, "password"));
    ing_form_free(&form);
    if (!ok) {
        log_warn(S_MODULE, NULL, "401 dashboard login from %s: wrong password", client);
        return s_render(c, 401, a->login, a->login_len, NULL, "wrong", NULL);
    }
    if (ing_admin_token_new(a, cmn_now_ms(), token) < 0)
        return s_error(c, 500, "internal error");
    snprintf(cookie, sizeof(cookie),
             "%s=%s; Path=/admin; Max-Age=%lld; HttpOnly; SameSite=Strict%s", S_COOKIE, token,
             (long long)(ING_ADMIN_SESSION_MS / 1000), s_https(a, c) ? "; Secure" : "");
    const char *const hdr[] = {"Set-Cookie", cookie, "Location", "/admin/", NULL};
    log_info(S_MODULE, NULL, "dashboard login from %s", client);
    return s_send(c, 303, "text/plain", "", 0, NULL, hdr);
}

enum MHD_Result ing_admin_logout(ing_admin_t *a, struct MHD_Connection *c)
{
    char cookie[128];
    unsigned st = s_guard_post(a, c);
    if (st != 0)
        return s_error(c, st, st == 401 ? "not logged in" : "missing or wrong CSRF token");
    ing_admin_token_revoke(a, MHD_lookup_connection_value(c, MHD_COOKIE_KIND, S_COOKIE),
                           cmn_now_ms());
    snprintf(cookie, sizeof(cookie), "%s=; Path=/admin; Max-Age=0; HttpOnly; SameSite=Strict%s",
             S_COOKIE, s_https(a, c) ? "; Secure" : "");
    const char *const hdr[] = {"Set-Cookie", cookie, NULL};
    return s_json(c, 200, json_pack("{s:b}", "logged_out", 1), hdr);
}

/* The store handle for a short operator action: waits at most
 * S_LOCK_WAIT_MS behind a computation of the figures. 0 or -EBUSY. */
static int s_store_lock(ing_admin_t *a)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (S_LOCK_WAIT_MS % 1000) * 1000000L;
    ts.tv_sec += S_LOCK_WAIT_MS / 1000 + ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    return pthread_mutex_timedlock(&a->store_lock, &ts) == 0 ? 0 : -EBUSY;
}

/* A copy of the cached figures if any (fresh_only: younger than
 * ING_ADMIN_CACHE_MS). Caller frees. */
static char *s_cached(ing_admin_t *a, bool fresh_only)
{
    char *text = NULL;
    pthread_mutex_lock(&a->cache_lock);
    if (a->cache && (!fresh_only || cmn_mono_ms() - a->cache_mono < ING_ADMIN_CACHE_MS))
        text = strdup(a->cache);
    pthread_mutex_unlock(&a->cache_lock);
    return text;
}

static void s_cache_set(ing_admin_t *a, char *text)
{
    pthread_mutex_lock(&a->cache_lock);
    free(a->cache);
    a->cache = text;
    a->cache_mono = cmn_mono_ms();
    pthread_mutex_unlock(&a->cache_lock);
}

enum MHD_Result ing_admin_stats(ing_admin_t *a, struct MHD_Connection *c)
{
    cmn_stats_opts_t o;
    json_t *j = NULL;
    char *text;
    int r;

    if (s_session(a, c, NULL) < 0)
        return s_error(c, 401, "not logged in");
    text = s_cached(a, true);
    if (text == NULL && pthread_mutex_trylock(&a->store_lock) != 0) {
        /* another request is reading the store: the last figures, if any */
        text = s_cached(a, false);
    } else if (text == NULL) {
        cmn_stats_opts_init(&o, cmn_now_ms());
        r = cmn_stats_collect(a->store, &o, &j);
        if (r < 0) {
            log_warn(S_MODULE, NULL, "503 dashboard figures: %s", cmn_store_errmsg(a->store));
            cmn_store_ping(a->store);
        } else {
            text = json_dumps(j, JSON_COMPACT);
            json_decref(j);
            if (text)
                s_cache_set(a, strdup(text));
        }
        pthread_mutex_unlock(&a->store_lock);
    }
    if (text == NULL)
        return s_error(c, 503, "store unavailable; retry");
    enum MHD_Result ret = s_send(c, 200, "application/json", text, strlen(text), NULL, NULL);
    free(text);
    return ret;
}

enum MHD_Result ing_admin_duplicates(ing_admin_t *a, struct MHD_Connection *c)
{
    json_t *arr = NULL;
    int r;

    if (s_session(a, c, NULL) < 0)
        return s_error(c, 401, "not logged in");
    if (s_store_lock(a) < 0)
        return s_error(c, 503, "busy; retry");
    r = cmn_stats_duplicates(a->store, S_DUPLICATES_MAX, &arr);
    if (r < 0)
        cmn_store_ping(a->store);
    pthread_mutex_unlock(&a->store_lock);
    if (r < 0)
        return s_error(c, 503, "store unavailable; retry");
    return s_json(c, 200, json_pack("{s:o}", "duplicates", arr), NULL);
}

enum MHD_Result ing_admin_reviewed(ing_admin_t *a, struct MHD_Connection *c, const char *path)
{
    static const char prefix[] = "/admin/api/duplicates/", suffix[] = "/reviewed";
    char num[24];
    long id = 0;
    size_t n;
    int r;
    unsigned st = s_guard_post(a, c);

    if (st != 0)
        return s_error(c, st, st == 401 ? "not logged in" : "missing or wrong CSRF token");
    n = strlen(path);
    if (n <= sizeof(prefix) - 1 + sizeof(suffix) - 1 ||
        strcmp(path + n - (sizeof(suffix) - 1), suffix) != 0 ||
        n - (sizeof(prefix) - 1) - (sizeof(suffix) - 1) >= sizeof(num))
        return s_error(c, 404, "not found");
    snprintf(num, sizeof(num), "%.*s", (int)(n - (sizeof(prefix) - 1) - (sizeof(suffix) - 1)),
             path + sizeof(prefix) - 1);
    if (cmn_parse_long(num, 1, LONG_MAX, &id) < 0)
        return s_error(c, 404, "not found");
    if (s_store_lock(a) < 0)
        return s_error(c, 503, "busy; retry");
    r = cmn_stats_duplicate_reviewed(a->store, id);
    if (r < 0 && r != -ENOENT)
        cmn_store_ping(a->store);
    pthread_mutex_unlock(&a->store_lock);
    if (r == 0)
        s_cache_set(a, NULL); /* the counts changed */
    if (r == -ENOENT)
        return s_error(c, 404, "no open duplicate with this id");
    if (r < 0)
        return s_error(c, 503, "store unavailable; retry");
    log_info(S_MODULE, NULL, "duplicate %ld marked reviewed from the dashboard", id);
    return s_json(c, 200, json_pack("{s:I, s:s}", "id", (json_int_t)id, "status", "reviewed"),
                  NULL);
}
