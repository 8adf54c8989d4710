/* ing_server: routes, the simulator API, media, health and metrics. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>

#include "common/cmn_channels.h"
#include "common/cmn_crypto.h"
#include "common/cmn_embed.h"
#include "common/cmn_log.h"
#include "common/cmn_members.h"
#include "ing_admin.h"
#include "ing_inbox.h"
#include "ing_server.h"
#include "ing_shed.h"
#include "ing_webhook.h"

#define S_MODULE "http"
#define S_BODY_MAX (64 * 1024)
#define S_WAIT_MAX_S 30
#define S_PAGE_MAX 100
#define S_MEDIA_MAX (1024 * 1024)
#define S_STORE_WAIT_MS 5000 /* a webhook waits this long for its commit, then 503 */
#define S_WATCH_MS 100       /* deadlines are checked this often */
#define S_HTTP_THREADS 2
#define S_CONN_MAX 20000
#define S_IDLE_TIMEOUT_S 20  /* a connection silent this long is closed */

extern const struct ciu_embedded ing_www_files[];
extern const size_t ing_www_count;

typedef struct s_route s_route_t;

typedef struct s_req {
    cmn_str_t body;
    bool too_big;
    bool answered; /* a response was queued early (413) */
    int64_t started;
    char *uri; /* the request line's target as received: path and query */
    const s_route_t *route;
    struct s_park *park; /* while the connection is suspended */
    /* what to do when it is resumed (park->result says why) */
    enum MHD_Result (*resume)(struct ing_server *s, struct MHD_Connection *c,
                              struct s_req *req, struct s_park *park);
    /* a long-poll's state across resumptions */
    char user[CMN_HEX256_LEN];
    int64_t cursor, deadline;
} s_req_t;

/* A request waiting with its connection suspended: for the inbox commit
 * (webhooks, simulator posts) or for a reply (simulator long-polls). The
 * MHD threads never block: whoever has the answer resumes the connection
 * (the inbox writer, the event thread), and the event thread's watchdog
 * resumes those past their deadline. Two references: the request's and the
 * waker's; all fields under ing_server.park_lock. */
typedef struct s_park {
    struct MHD_Connection *c;
    bool parked;               /* false once woken */
    int result;                /* 0, -ETIMEDOUT, -ESHUTDOWN, or the inbox's error */
    char id[CMN_ID_LEN];       /* first message id (simulator posts) */
    char user[CMN_HEX256_LEN]; /* long-polls: the person awaited */
    int64_t deadline;          /* monotonic ms */
    int refs;
    struct s_park *prev, *next;
    struct ing_server *s;
} s_park_t;

typedef enum MHD_Result (*s_handler_fn)(struct ing_server *s, struct MHD_Connection *c,
                                        s_req_t *req);

/* One route: method, path, body limit and handler. */
struct s_route {
    const char *method; /* "GET" (HEAD too), "POST" */
    const char *path;   /* exact path */
    size_t body_max;    /* bytes; larger bodies get 413 as soon as they cross it */
    s_handler_fn fn;
    bool local; /* simulator: Host checked against CIU_SIM_ALLOWED_HOSTS, POST only JSON */
};

#define S_ROUTES_MAX 24

struct ing_server {
    cmn_daemon_t *d;
    cmn_channels_t ch;
    s_route_t routes[S_ROUTES_MAX];
    size_t nroutes;
    ing_inbox_t *inbox;
    ing_admin_t *admin; /* the dashboard at /admin/; NULL: off (404) */
    struct MHD_Daemon *mhd;
    int port;
    /* reads (sim mailbox, media, health) share one handle under a lock */
    cmn_store_t *reader;
    pthread_mutex_t reader_lock;
    /* suspended requests (s_park_t) */
    pthread_mutex_t park_lock;
    s_park_t *parked;
    cmn_sub_t *sub;
    pthread_t sub_thread;
    bool sub_started;
    atomic_int stopping;
    cmn_counter_t *m_requests;
    cmn_counter_t *m_bad;
    cmn_counter_t *m_too_big;
    cmn_counter_t *m_forged;
    cmn_counter_t *m_webhooks;
    cmn_counter_t *m_timeouts;
    cmn_histogram_t *m_ack;
    cmn_gauge_t *m_polls;
    ing_shed_t *shed; /* drops a flooding number's messages before the store */
    cmn_counter_t *m_shed;
};

/* ---- responses ---------------------------------------------------------- */

static enum MHD_Result s_reply(struct MHD_Connection *c, unsigned status, const char *type,
                               const void *body, size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result r;
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", type);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    r = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return r;
}

static enum MHD_Result s_json(struct MHD_Connection *c, unsigned status, json_t *obj)
{
    char *text = json_dumps(obj, JSON_COMPACT);
    enum MHD_Result r;
    json_decref(obj);
    if (text == NULL)
        return MHD_NO;
    r = s_reply(c, status, "application/json", text, strlen(text));
    free(text);
    return r;
}

static enum MHD_Result s_error(ing_server_t *s, struct MHD_Connection *c, unsigned status,
                               const char *msg)
{
    if (status == 400)
        cmn_counter_add(s->m_bad, 1);
    return s_json(c, status, json_pack("{s:s}", "error", msg));
}

/* ---- parked requests ------------------------------------------------------ */

/* Suspend c until s_wake (or the deadline). Call with park_lock held. */
static s_park_t *s_park_locked(ing_server_t *s, struct MHD_Connection *c, s_req_t *req,
                               int64_t deadline, const char *user)
{
    s_park_t *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->c = c;
    p->s = s;
    p->parked = true;
    p->refs = 2;
    p->deadline = deadline;
    cmn_strlcpy(p->user, user ? user : "", sizeof(p->user));
    p->next = s->parked;
    if (s->parked)
        s->parked->prev = p;
    s->parked = p;
    req->park = p;
    MHD_suspend_connection(c);
    return p;
}

/* Resume a parked request with a result (no-op once woken). park_lock held. */
static void s_wake_locked(ing_server_t *s, s_park_t *p, int result)
{
    if (!p->parked)
        return;
    p->parked = false;
    p->result = result;
    if (p->prev)
        p->prev->next = p->next;
    else
        s->parked = p->next;
    if (p->next)
        p->next->prev = p->prev;
    p->prev = p->next = NULL;
    MHD_resume_connection(p->c);
}

static void s_unref_locked(s_park_t *p)
{
    if (--p->refs == 0)
        free(p);
}

static void s_unref(ing_server_t *s, s_park_t *p)
{
    pthread_mutex_lock(&s->park_lock);
    s_unref_locked(p);
    pthread_mutex_unlock(&s->park_lock);
}

/* Wake long-polls waiting for user ("" : every parked request) or past
 * their deadline. */
static void s_wake_some(ing_server_t *s, const char *user, int64_t now, int result)
{
    pthread_mutex_lock(&s->park_lock);
    for (s_park_t *p = s->parked, *next; p; p = next) {
        next = p->next;
        if (user && (user[0] == '\0' || (p->user[0] && strcmp(p->user, user) == 0)))
            s_wake_locked(s, p, result);
        else if (p->deadline <= now)
            s_wake_locked(s, p, -ETIMEDOUT);
    }
    pthread_mutex_unlock(&s->park_lock);
}

/* The inbox writer's answer for a parked submit. */
static void s_on_stored(void *arg, int result, const char (*ids)[CMN_ID_LEN], size_t n)
{
    s_park_t *p = arg;
    ing_server_t *s = p->s;
    pthread_mutex_lock(&s->park_lock);
    if (p->parked && n > 0)
        memcpy(p->id, ids[0], CMN_ID_LEN);
    s_wake_locked(s, p, result);
    s_unref_locked(p);
    pthread_mutex_unlock(&s->park_lock);
}

/* Submit to the inbox and park the request until it is committed (or 5 s
 * passed: then 503, and the provider's retry meets the dedupe). Returns 0
 * when parked, or the inbox's immediate error. */
static int s_submit_parked(ing_server_t *s, struct MHD_Connection *c, s_req_t *req,
                           const ing_inbound_t *msgs, size_t n, const ing_status_in_t *sts,
                           size_t m)
{
    s_park_t *p;
    int r;
    pthread_mutex_lock(&s->park_lock);
    p = s_park_locked(s, c, req, cmn_mono_ms() + S_STORE_WAIT_MS, NULL);
    if (p == NULL) {
        pthread_mutex_unlock(&s->park_lock);
        return -ENOMEM;
    }
    r = ing_inbox_submit_async(s->inbox, msgs, n, sts, m, s_on_stored, p);
    if (r < 0) { /* not queued: the callback will never come */
        s_wake_locked(s, p, r);
        s_unref_locked(p);
    }
    pthread_mutex_unlock(&s->park_lock);
    return 0; /* parked: its resume answers, with r if it failed */
}

/* ---- simulator: POST /sim/messages ------------------------------------- */

/* "+" then 8 to 15 digits. */
static bool s_valid_number(const char *n)
{
    size_t digits = 0;
    if (n == NULL || n[0] != '+')
        return false;
    for (const char *p = n + 1; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        digits++;
    }
    return digits >= 8 && digits <= 15;
}

static bool s_valid_kind(const char *k)
{
    static const char *const kinds[] = {"text", "image", "audio", "video", "document",
                                        "location", "sticker", "contacts"};
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strcmp(k, kinds[i]) == 0)
            return true;
    return false;
}

static enum MHD_Result s_sim_post_done(ing_server_t *s, struct MHD_Connection *c, s_req_t *req,
                                       s_park_t *p)
{
    if (p->result == -EAGAIN)
        return s_error(s, c, 429, "too many messages waiting; retry shortly");
    if (p->result == -ETIMEDOUT)
        cmn_counter_add(s->m_timeouts, 1);
    if (p->result < 0)
        return s_error(s, c, 503, "message not stored; retry");
    cmn_histogram_observe(s->m_ack, (double)(cmn_mono_ms() - req->started) / 1000.0);
    return s_json(c, 202, json_pack("{s:s}", "id", p->id));
}

static enum MHD_Result s_sim_post(ing_server_t *s, struct MHD_Connection *c, s_req_t *req)
{
    json_error_t jerr;
    json_t *root;
    const char *from = NULL, *text = NULL, *kind = "text";
    int r;

    root = json_loadb(cmn_str_cstr(&req->body), req->body.len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        /* position only: jerr.text can quote the body (a person's name) */
        log_info(S_MODULE, NULL, "400 POST /sim/messages: malformed JSON at line %d column %d",
                 jerr.line, jerr.column);
        return s_error(s, c, 400, "malformed JSON: expected {\"from\": \"+243...\", \"text\": "
                                  "\"...\"}");
    }
    if (json_unpack_ex(root, &jerr, 0, "{s:s, s?s, s?s}", "from", &from, "text", &text, "type",
                       &kind) != 0) {
        log_info(S_MODULE, NULL, "400 POST /sim/messages: %s", jerr.text);
        json_decref(root);
        return s_error(s, c, 400, "\"from\" (string) is required, \"text\" must be a string");
    }
    if (!s_valid_number(from)) {
        json_decref(root);
        log_info(S_MODULE, NULL, "400 POST /sim/messages: bad number");
        return s_error(s, c, 400, "\"from\" must be a phone number like +243810000001");
    }
    if (!s_valid_kind(kind) || (strcmp(kind, "text") == 0 && text == NULL)) {
        json_decref(root);
        log_info(S_MODULE, NULL, "400 POST /sim/messages: missing text or bad type");
        return s_error(s, c, 400, "\"text\" is required (or \"type\": image, audio, video, "
                                  "document, location, sticker, contacts)");
    }
    ing_inbound_t msg = {"sim", NULL, from, kind, strcmp(kind, "text") == 0 ? text : NULL};
    req->resume = s_sim_post_done;
    r = s_submit_parked(s, c, req, &msg, 1, NULL, 0);
    json_decref(root);
    if (r < 0)
        return s_error(s, c, 503, "message not stored; retry");
    return MHD_YES;
}

/* ---- simulator: GET /sim/messages (long-poll) -------------------------- */

/* Messages for user after cursor, as a JSON array; cursor advanced. */
static int s_sim_fetch(ing_server_t *s, const char *user, int64_t *cursor, json_t **ret)
{
    cmn_param_t p[] = {P_TEXT(user), P_INT(*cursor), P_INT(S_PAGE_MAX)};
    cmn_rows_t *rows = NULL;
    json_t *arr;
    int r;

    pthread_mutex_lock(&s->reader_lock);
    r = cmn_store_query(s->reader,
                        "SELECT id, body, media_url FROM sim_messages WHERE user_key = $1 AND "
                        "id > $2 ORDER BY id LIMIT $3",
                        p, 3, &rows);
    if (r < 0)
        cmn_store_ping(s->reader);
    pthread_mutex_unlock(&s->reader_lock);
    if (r < 0)
        return r;
    arr = json_array();
    for (int i = 0; i < cmn_rows_count(rows); i++) {
        const char *media = cmn_rows_get(rows, i, 2);
        json_array_append_new(arr, json_pack("{s:s, s:s, s:o}", "id", cmn_rows_get(rows, i, 0),
                                             "text", cmn_rows_get(rows, i, 1), "media_url",
                                             media ? json_string(media) : json_null()));
        *cursor = cmn_rows_int(rows, i, 0, *cursor);
    }
    cmn_rows_destroy(&rows);
    *ret = arr;
    return 0;
}

/* Answer a long-poll if there is something (or its time is up); else park
 * it until the sender says this person got a message. */
static enum MHD_Result s_sim_poll(ing_server_t *s, struct MHD_Connection *c, s_req_t *req)
{
    json_t *arr = NULL;
    char cur[24];
    if (s_sim_fetch(s, req->user, &req->cursor, &arr) < 0) {
        cmn_gauge_add(s->m_polls, -1);
        return s_error(s, c, 503, "store unavailable; retry");
    }
    if (json_array_size(arr) == 0 && cmn_mono_ms() < req->deadline &&
        !atomic_load(&s->stopping)) {
        json_decref(arr);
        pthread_mutex_lock(&s->park_lock);
        s_park_t *p = s_park_locked(s, c, req, req->deadline, req->user);
        if (p)
            p->refs = 1; /* no waker holds it: the list does, until woken */
        pthread_mutex_unlock(&s->park_lock);
        if (p == NULL) {
            cmn_gauge_add(s->m_polls, -1);
            return s_error(s, c, 503, "busy; retry");
        }
        return MHD_YES;
    }
    cmn_gauge_add(s->m_polls, -1);
    snprintf(cur, sizeof(cur), "%lld", (long long)req->cursor);
    return s_json(c, 200, json_pack("{s:o, s:s}", "messages", arr, "cursor", cur));
}

static enum MHD_Result s_sim_poll_again(ing_server_t *s, struct MHD_Connection *c, s_req_t *req,
                                        s_park_t *p)
{
    (void)p;
    return s_sim_poll(s, c, req);
}

static enum MHD_Result s_sim_get(ing_server_t *s, struct MHD_Connection *c, s_req_t *req)
{
    const char *to = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "to");
    const char *after = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "after");
    const char *wait = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "wait");
    long cursor = 0, wait_s = 0;

    if (!s_valid_number(to))
        return s_error(s, c, 400, "\"to\" must be a phone number like +243810000001 (write + "
                                  "as %2B)");
    if (after && *after && cmn_parse_long(after, 0, LONG_MAX, &cursor) < 0)
        return s_error(s, c, 400, "\"after\" must be a cursor returned by this API");
    if (wait && *wait && cmn_parse_long(wait, 0, 3600, &wait_s) < 0)
        return s_error(s, c, 400, "\"wait\" must be a number of seconds (0 to 30)");
    if (wait_s > S_WAIT_MAX_S)
        wait_s = S_WAIT_MAX_S;
    if (cmn_user_key(s->d->salt, s->d->salt_len, to, req->user) < 0)
        return s_error(s, c, 500, "internal error");
    req->cursor = cursor;
    req->deadline = cmn_mono_ms() + wait_s * 1000;
    req->resume = s_sim_poll_again;
    cmn_gauge_add(s->m_polls, 1);
    return s_sim_poll(s, c, req);
}

/* ---- static page, media ------------------------------------------------- */

static enum MHD_Result s_page(ing_server_t *s, struct MHD_Connection *c, const char *name,
                              const char *type)
{
    for (size_t i = 0; i < ing_www_count; i++)
        if (strcmp(ing_www_files[i].name, name) == 0)
            return s_reply(c, 200, type, ing_www_files[i].data, ing_www_files[i].len);
    return s_error(s, c, 404, "not found");
}

static bool s_valid_token(const char *t, size_t len)
{
    if (len < 32 || len > 128)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((t[i] >= '0' && t[i] <= '9') || (t[i] >= 'a' && t[i] <= 'f')))
            return false;
    return true;
}

static enum MHD_Result s_media(ing_server_t *s, struct MHD_Connection *c, const char *url)
{
    const char *tok = url + strlen("/media/qr/");
    const char *dot = strrchr(tok, '.');
    char token[129], path[4096] = "";
    cmn_rows_t *rows = NULL;
    unsigned char *buf = NULL;
    enum MHD_Result ret;
    struct stat st;
    int fd, r;

    if (dot == NULL || strcmp(dot, ".png") != 0 || !s_valid_token(tok, (size_t)(dot - tok)))
        return s_error(s, c, 404, "not found");
    memcpy(token, tok, (size_t)(dot - tok));
    token[dot - tok] = '\0';
    cmn_param_t p[] = {P_TEXT(token), P_INT(cmn_now_ms())};
    pthread_mutex_lock(&s->reader_lock);
    r = cmn_store_query(s->reader, "SELECT path FROM media WHERE token = $1 AND expires_ms > $2",
                        p, 2, &rows);
    pthread_mutex_unlock(&s->reader_lock);
    if (r < 0)
        return s_error(s, c, 503, "store unavailable; retry");
    if (cmn_rows_count(rows) == 1)
        cmn_strlcpy(path, cmn_rows_get(rows, 0, 0), sizeof(path));
    cmn_rows_destroy(&rows);
    if (path[0] == '\0')
        return s_error(s, c, 404, "not found or expired");
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0 || st.st_size <= 0 || st.st_size > S_MEDIA_MAX) {
        if (fd >= 0)
            close(fd);
        return s_error(s, c, 404, "not found or expired");
    }
    buf = malloc((size_t)st.st_size);
    if (buf == NULL || read(fd, buf, (size_t)st.st_size) != st.st_size) {
        close(fd);
        free(buf);
        return s_error(s, c, 500, "cannot read media");
    }
    close(fd);
    ret = s_reply(c, 200, "image/png", buf, (size_t)st.st_size);
    free(buf);
    return ret;
}

static enum MHD_Result s_health(ing_server_t *s, struct MHD_Connection *c)
{
    int r;
    pthread_mutex_lock(&s->reader_lock);
    r = cmn_store_ping(s->reader);
    pthread_mutex_unlock(&s->reader_lock);
    atomic_store(&s->d->healthy, r == 0);
    return s_json(c, r == 0 ? 200 : 503,
                  json_pack("{s:s, s:s, s:b, s:b}", "daemon", "ciu-ingress", "status",
                            r == 0 ? "ok" : "degraded", "store", r == 0, "simulator",
                            s->d->settings.simulator));
}

/* ---- webhooks: Twilio and Meta ------------------------------------------ */

static const char s_twiml_empty[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>";

/* The public URL the provider called: PUBLIC_BASE_URL (or, behind a trusted
 * proxy, X-Forwarded-Proto/Host) + the path and query as received. */
static int s_public_url(ing_server_t *s, struct MHD_Connection *c, const s_req_t *req,
                        char *out, size_t len)
{
    const char *proto = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-Proto");
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-Host");
    int n;
    if (s->d->settings.trust_proxy && proto && host && strcspn(host, "/ ") == strlen(host) &&
        (strcmp(proto, "https") == 0 || strcmp(proto, "http") == 0))
        n = snprintf(out, len, "%s://%s%s", proto, host, req->uri ? req->uri : "");
    else
        n = snprintf(out, len, "%s%s", s->ch.public_url, req->uri ? req->uri : "");
    return n > 0 && (size_t)n < len ? 0 : -E2BIG;
}

static enum MHD_Result s_forged(ing_server_t *s, struct MHD_Connection *c, const char *channel,
                                const char *why)
{
    cmn_counter_add(s->m_forged, 1);
    log_warn(S_MODULE, NULL, "403 %s webhook refused: %s", channel, why);
    return s_error(s, c, 403, "signature check failed");
}

/* Drop the messages written to another number than ours (another number of
 * the same Meta app or Twilio account): answering them from ours would be
 * wrong. Logged once per webhook. */
static void s_keep_ours(ing_server_t *s, const char *channel, ing_batch_t *b)
{
    const char *ours = strcmp(channel, "meta") == 0 ? s->d->settings.meta_phone_number_id
                                                     : s->ch.twilio_number;
    size_t k = 0, dropped = 0;
    for (size_t i = 0; i < b->nmsgs; i++) {
        if (b->msgs[i].account[0] && ours && strcmp(b->msgs[i].account, ours) != 0) {
            free(b->msgs[i].text);
            dropped++;
            continue;
        }
        b->msgs[k++] = b->msgs[i];
    }
    b->nmsgs = k;
    if (dropped)
        log_warn(S_MODULE, NULL, "%s webhook: %zu messages written to another number than "
                                 "ours ignored (check %s)",
                 channel, dropped,
                 strcmp(channel, "meta") == 0 ? "META_PHONE_NUMBER_ID" : "TWILIO_WHATSAPP_NUMBER");
}

/* Drop, before the store, the messages of a number far past the flood limit
 * (ing_shed.h): the conversation would ignore them anyway, and storing them
 * would slow everyone else down. Answered 200 like the rest (a provider must
 * not send them again). */
static void s_shed_floods(ing_server_t *s, ing_batch_t *b)
{
    int64_t now = cmn_mono_ms();
    size_t k = 0;
    for (size_t i = 0; i < b->nmsgs; i++) {
        if (!ing_shed_admit(s->shed, b->msgs[i].from, now)) {
            free(b->msgs[i].text);
            cmn_counter_add(s->m_shed, 1);
            continue;
        }
        b->msgs[k++] = b->msgs[i];
    }
    b->nmsgs = k;
}

/* The answers to a provider once its webhook is stored (or not). */
static enum MHD_Result s_stored_answer(ing_server_t *s, struct MHD_Connection *c, s_req_t *req,
                                       int result, bool twilio)
{
    if (result == -ETIMEDOUT)
        cmn_counter_add(s->m_timeouts, 1);
    if (result < 0) {
        log_warn(S_MODULE, NULL,
                 "%s webhook not stored (%s): answered 503 so the provider "
                 "retries",
                 twilio ? "twilio" : "meta",
                 result == -ENOSPC ? "disk full" : cmn_strerror(result));
        return s_error(s, c, 503, "not stored; retry");
    }
    cmn_histogram_observe(s->m_ack, (double)(cmn_mono_ms() - req->started) / 1000.0);
    if (twilio)
        return s_reply(c, 200, "text/xml", s_twiml_empty, sizeof(s_twiml_empty) - 1);
    return s_json(c, 200, json_pack("{s:s}", "status", "ok"));
}

static enum MHD_Result s_twilio_stored(ing_server_t *s, struct MHD_Connection *c, s_req_t *req,
                                       s_park_t *p)
{
    return s_stored_answer(s, c, req, p->result, true);
}

static enum MHD_Result s_meta_stored(ing_server_t *s, struct MHD_Connection *c, s_req_t *req,
                                     s_park_t *p)
{
    return s_stored_answer(s, c, req, p->result, false);
}

/* Store what a webhook carried: parks the request until committed (never
 * acknowledged before), or answers right away when there is nothing to
 * store or the inbox refused it. */
static enum MHD_Result s_store_batch(ing_server_t *s, struct MHD_Connection *c, s_req_t *req,
                                     const char *channel, ing_batch_t *b)
{
    bool twilio = strcmp(channel, "twilio") == 0;
    ing_inbound_t *msgs;
    ing_status_in_t *sts;
    int r;

    s_keep_ours(s, channel, b);
    s_shed_floods(s, b);
    if (b->nmsgs + b->nstatuses == 0)
        return s_stored_answer(s, c, req, 0, twilio);
    msgs = calloc(b->nmsgs + 1, sizeof(*msgs));
    sts = calloc(b->nstatuses + 1, sizeof(*sts));
    if (msgs == NULL || sts == NULL) {
        free(msgs);
        free(sts);
        return s_stored_answer(s, c, req, -ENOMEM, twilio);
    }
    for (size_t i = 0; i < b->nmsgs; i++)
        msgs[i] = (ing_inbound_t){channel, b->msgs[i].id, b->msgs[i].from, b->msgs[i].kind,
                                  b->msgs[i].text};
    for (size_t i = 0; i < b->nstatuses; i++)
        sts[i] = (ing_status_in_t){channel, b->statuses[i].id, b->statuses[i].status,
                                   b->statuses[i].error_code[0] ? b->statuses[i].error_code
                                                                : NULL};
    req->resume = twilio ? s_twilio_stored : s_meta_stored;
    r = s_submit_parked(s, c, req, msgs, b->nmsgs, sts, b->nstatuses);
    free(msgs);
    free(sts);
    return r < 0 ? s_stored_answer(s, c, req, r, twilio) : MHD_YES;
}

static enum MHD_Result s_twilio_post(ing_server_t *s, struct MHD_Connection *c, s_req_t *req)
{
    const char *sig = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Twilio-Signature");
    const char *account;
    char url[4096], err[128] = "";
    ing_form_t form;
    ing_batch_t batch;

    if (!s->ch.twilio) {
        log_info(S_MODULE, NULL, "404 Twilio webhook: the Twilio channel is not configured "
                                 "(TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN)");
        return s_error(s, c, 404, "Twilio channel not configured");
    }
    if (ing_form_parse(cmn_str_cstr(&req->body), req->body.len, &form) < 0) {
        log_info(S_MODULE, NULL, "400 Twilio webhook: body is not a UTF-8 form");
        return s_error(s, c, 400, "expected an application/x-www-form-urlencoded UTF-8 body");
    }
    if (!s->d->settings.insecure_skip_signature) {
        if (sig == NULL) {
            ing_form_free(&form);
            return s_forged(s, c, "Twilio", "no X-Twilio-Signature header");
        }
        if (s_public_url(s, c, req, url, sizeof(url)) < 0 ||
            !ing_twilio_valid(s->d->settings.twilio_auth_token, url, &form, sig)) {
            ing_form_free(&form);
            return s_forged(s, c, "Twilio", "X-Twilio-Signature does not match (check "
                                            "PUBLIC_BASE_URL and TWILIO_AUTH_TOKEN)");
        }
    }
    account = ing_form_get(&form, "AccountSid");
    if (account && strcmp(account, s->d->settings.twilio_account_sid) != 0) {
        ing_form_free(&form);
        return s_forged(s, c, "Twilio", "AccountSid is not TWILIO_ACCOUNT_SID");
    }
    if (ing_twilio_parse(&form, &batch, err, sizeof(err)) < 0) {
        ing_form_free(&form);
        log_info(S_MODULE, NULL, "400 Twilio webhook: %s", err);
        return s_error(s, c, 400, err);
    }
    ing_form_free(&form);
    cmn_counter_add(s->m_webhooks, 1);
    enum MHD_Result ret = s_store_batch(s, c, req, "twilio", &batch);
    ing_batch_free(&batch);
    return ret;
}

static enum MHD_Result s_meta_post(ing_server_t *s, struct MHD_Connection *c, s_req_t *req)
{
    const char *sig = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Hub-Signature-256");
    char err[128] = "";
    ing_batch_t batch;

    if (!s->ch.meta) {
        log_info(S_MODULE, NULL, "404 Meta webhook: the Meta channel is not configured "
                                 "(META_ACCESS_TOKEN, META_PHONE_NUMBER_ID, META_APP_SECRET)");
        return s_error(s, c, 404, "Meta channel not configured");
    }
    if (!s->d->settings.insecure_skip_signature &&
        !ing_meta_valid(s->d->settings.meta_app_secret, req->body.buf ? req->body.buf : "",
                        req->body.len, sig))
        return s_forged(s, c, "Meta", sig ? "X-Hub-Signature-256 does not match (check "
                                            "META_APP_SECRET)"
                                          : "no X-Hub-Signature-256 header");
    if (ing_meta_parse(cmn_str_cstr(&req->body), req->body.len, &batch, err, sizeof(err)) < 0) {
        log_info(S_MODULE, NULL, "400 Meta webhook: %s", err);
        return s_error(s, c, 400, err);
    }
    if (batch.ignored)
        log_debug(S_MODULE, NULL, "Meta webhook: %zu items ignored (reactions, system messages, "
                                  "no sender)",
                  batch.ignored);
    cmn_counter_add(s->m_webhooks, 1);
    enum MHD_Result ret = s_store_batch(s, c, req, "meta", &batch);
    ing_batch_free(&batch);
    return ret;
}

/* Meta's verification: GET ?hub.mode=subscribe&hub.verify_token=..&hub.challenge=.. */
static enum MHD_Result s_meta_verify(ing_server_t *s, struct MHD_Connection *c, s_req_t *req)
{
    const char *mode = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "hub.mode");
    const char *token = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "hub.verify_token");
    const char *challenge = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "hub.challenge");
    (void)req;
    if (!s->ch.meta || mode == NULL || strcmp(mode, "subscribe") != 0 || token == NULL ||
        challenge == NULL || strlen(challenge) > 256 ||
        cmn_secure_equal(token, s->d->settings.meta_verify_token) != 1) {
        cmn_counter_add(s->m_forged, 1);
        log_warn(S_MODULE, NULL, "403 Meta webhook verification refused: %s",
                 !s->ch.meta ? "the Meta channel is not configured"
                             : "hub.verify_token does not match META_VERIFY_TOKEN");
        return s_error(s, c, 403, "verification failed");
    }
    log_info(S_MODULE, NULL, "Meta webhook verified");
    return s_reply(c, 200, "text/plain", challenge, strlen(challenge));
}

/* WEBHOOK_PATH takes both providers: tell them apart by their headers. */
static enum MHD_Result s_webhook_post(ing_server_t *s, struct MHD_Connection *c, s_req_t *req)
{
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Hub-Signature-256") ||
        (ct && strncmp(ct, "application/json", 16) == 0))
        return s_meta_post(s, c, req);
    return s_twilio_post(s, c, req);
}

/* ---- routing ------------------------------------------------------------ */

static enum MHD_Result s_r_health(ing_server_t *s, struct MHD_Connection *c, s_req_t *req)
{
    (void)req;
    return s_health(s, c);
}

static enum MHD_Result s_r_media(ing_server_t *s, struct MHD_Connection *c, s_req_t *req)
{
    const char *q = strchr(req->uri, '?');
    char path[512];
    snprintf(path, sizeof(path), "%.*s", q ? (int)(q - req->uri) : (int)strlen(req->uri),
             req->uri);
    return s_media(s, c, path);
}

static enum MHD_Result s_r_sim_page(ing_server_t *s, struct MHD_Connection *c, s_req_t *req)
{
    (void)req;
    return s_page(s, c, "sim.html", "text/html; charset=utf-8");
}

static enum MHD_Result s_r_sim_redirect(ing_server_t *s, struct MHD_Connection *c, s_req_t *req)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    enum MHD_Result r;
    (void)s;
    (void)req;
    MHD_add_response_header(resp, "Location", "/sim/");
    r = MHD_queue_response(c, 302, resp);
    MHD_destroy_response(resp);
    return r;
}

/* The dashboard (ing_admin.c): registered only with CIU_ADMIN_PASSWORD. */
static enum MHD_Result s_r_admin_page(ing_server_t *s, struct MHD_Connection *c, s_req_t *req)
{
    (void)req;
    return ing_admin_page(s->admin, c);
}

static enum MHD_Result s_r_admin_redirect(ing_server_t *s, struct MHD_Connection *c, s_req_t *req)
{
    (void)req;
    return ing_admin_redirect(s->admin, c);
}

static enum MHD_Result s_r_admin_login(ing_server_t *s, struct MHD_Connection *c, s_req_t *req)
{
    return ing_admin_login(s->admin, c, cmn_str_cstr(&req->body), req->body.len);
}

static enum MHD_Result s_r_admin_logout(ing_server_t *s, struct MHD_Connection *c, s_req_t *req)
{
    (void)req;
    return ing_admin_logout(s->admin, c);
}

static enum MHD_Result s_r_admin_stats(ing_server_t *s, struct MHD_Connection *c, s_req_t *req)
{
    (void)req;
    return ing_admin_stats(s->admin, c);
}

static enum MHD_Result s_r_admin_dups(ing_server_t *s, struct MHD_Connection *c, s_req_t *req)
{
    (void)req;
    return ing_admin_duplicates(s->admin, c);
}

static enum MHD_Result s_r_admin_reviewed(ing_server_t *s, struct MHD_Connection *c, s_req_t *req)
{
    char path[256];
    snprintf(path, sizeof(path), "%.*s", (int)strcspn(req->uri, "?"), req->uri);
    return ing_admin_reviewed(s->admin, c, path);
}

#define S_KIB 1024
#define S_MIB (1024 * 1024)

static void s_add_route(ing_server_t *s, const char *method, const char *path, size_t body_max,
                        s_handler_fn fn)
{
    if (s->nroutes < S_ROUTES_MAX)
        s->routes[s->nroutes++] = (s_route_t){method, path, body_max, fn, false};
}

/* A simulator route: a local training tool, so only for the Host names of
 * CIU_SIM_ALLOWED_HOSTS (no DNS rebinding) and, for POST, only JSON (no
 * plain form post from another site). The provider webhooks are signed
 * instead. */
static void s_add_sim_route(ing_server_t *s, const char *method, const char *path, size_t body_max,
                            s_handler_fn fn)
{
    if (s->nroutes < S_ROUTES_MAX)
        s->routes[s->nroutes++] = (s_route_t){method, path, body_max, fn, true};
}

/* The route table: every path ciu-ingress answers. */
static void s_routes_init(ing_server_t *s)
{
    const char *wh = s->d->settings.webhook_path;
    s_add_route(s, "GET", "/health", 0, s_r_health);
    s_add_route(s, "GET", "/media/qr/*", 0, s_r_media);
    s_add_route(s, "POST", wh, S_MIB, s_webhook_post);
    s_add_route(s, "GET", wh, 0, s_meta_verify);
    s_add_route(s, "POST", "/webhooks/twilio", 64 * S_KIB, s_twilio_post);
    s_add_route(s, "POST", "/webhooks/twilio/status", 64 * S_KIB, s_twilio_post);
    s_add_route(s, "POST", "/webhooks/meta", S_MIB, s_meta_post);
    s_add_route(s, "GET", "/webhooks/meta", 0, s_meta_verify);
    if (s->d->settings.simulator) {
        s_add_sim_route(s, "POST", "/sim/messages", 64 * S_KIB, s_sim_post);
        s_add_sim_route(s, "GET", "/sim/messages", 0, s_sim_get);
        s_add_sim_route(s, "GET", "/sim/", 0, s_r_sim_page);
        s_add_sim_route(s, "GET", "/sim", 0, s_r_sim_redirect);
        s_add_sim_route(s, "GET", "/", 0, s_r_sim_redirect);
    }
    if (s->d->settings.admin_password && s->d->settings.admin_password[0]) {
        s_add_route(s, "GET", "/admin/", 0, s_r_admin_page);
        s_add_route(s, "GET", "/admin", 0, s_r_admin_redirect);
        s_add_route(s, "POST", "/admin/login", 4 * S_KIB, s_r_admin_login);
        s_add_route(s, "POST", "/admin/logout", S_KIB, s_r_admin_logout);
        s_add_route(s, "GET", "/admin/api/stats", 0, s_r_admin_stats);
        s_add_route(s, "GET", "/admin/api/duplicates", 0, s_r_admin_dups);
        s_add_route(s, "POST", "/admin/api/duplicates/*", S_KIB, s_r_admin_reviewed);
    }
}

/* Is the Host header (name, name:port, [v6] or [v6]:port) in the allow
 * list? An entry without a port allows any port; "*" allows any host. */
static bool s_host_allowed(const char *list, const char *host)
{
    size_t hlen, nlen;
    const char *p = list;
    if (host == NULL || *host == '\0' || list == NULL)
        return false;
    hlen = strlen(host);
    if (host[0] == '[') {
        const char *end = strchr(host, ']');
        if (end == NULL)
            return false;
        nlen = (size_t)(end - host) + 1;
    } else {
        const char *colon = strchr(host, ':');
        nlen = colon ? (size_t)(colon - host) : hlen;
    }
    if (nlen != hlen && (host[nlen] != ':' || host[nlen + 1] == '\0'))
        return false; /* "[::1]x" or "name:" */
    while (*p) {
        size_t n;
        while (*p == ' ' || *p == ',')
            p++;
        n = strcspn(p, ", ");
        if (n == 1 && p[0] == '*')
            return true;
        if (n > 0 && ((n == nlen && strncasecmp(p, host, n) == 0) ||
                      (n == hlen && strncasecmp(p, host, n) == 0)))
            return true;
        p += n;
    }
    return false;
}

/* application/json, any case, with or without parameters (charset). */
static bool s_is_json(const char *ct)
{
    static const char json[] = "application/json";
    size_t n = sizeof(json) - 1;
    if (ct == NULL)
        return false;
    while (*ct == ' ')
        ct++;
    return strncasecmp(ct, json, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* The Host header as it may be logged: printable name characters only. */
static const char *s_loggable_host(const char *host)
{
    if (host == NULL)
        return "(none)";
    if (strlen(host) > 100 || strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                           "0123456789.-:[]_") != strlen(host))
        return "(not a host name)";
    return host;
}

/* The simulator's guards: true when the request is refused (*ret: the
 * queued answer), false to go on. */
static bool s_local_refused(ing_server_t *s, struct MHD_Connection *c, const char *method,
                            const char *url, enum MHD_Result *ret)
{
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    if (!s_host_allowed(s->d->settings.sim_allowed_hosts, host)) {
        log_warn(S_MODULE, NULL,
                 "403 %s %s: Host '%s' is not in CIU_SIM_ALLOWED_HOSTS (the simulator is a "
                 "local training tool; add the name the trainees type to that list)",
                 method, url, s_loggable_host(host));
        *ret = s_error(s, c, 403,
                       "this host name is not allowed for the simulator "
                       "(CIU_SIM_ALLOWED_HOSTS)");
        return true;
    }
    if (strcmp(method, "POST") == 0 && !s_is_json(ct)) {
        log_info(S_MODULE, NULL, "415 %s %s: Content-Type is not application/json", method, url);
        *ret = s_error(s, c, 415, "Content-Type must be application/json");
        return true;
    }
    return false;
}

static bool s_path_match(const char *pattern, const char *url)
{
    size_t n = strlen(pattern);
    if (n > 0 && pattern[n - 1] == '*')
        return strncmp(url, pattern, n - 1) == 0;
    return strcmp(url, pattern) == 0;
}

/* The route of (method, url); *ret_path_known tells 405 from 404. */
static const s_route_t *s_find_route(const ing_server_t *s, const char *method, const char *url,
                                     bool *ret_path_known)
{
    bool head = strcmp(method, "HEAD") == 0;
    *ret_path_known = false;
    for (size_t i = 0; i < s->nroutes; i++) {
        const s_route_t *rt = &s->routes[i];
        if (!s_path_match(rt->path, url))
            continue;
        *ret_path_known = true;
        if (strcmp(rt->method, method) == 0 || (head && strcmp(rt->method, "GET") == 0))
            return rt;
    }
    return NULL;
}

static enum MHD_Result s_too_big(ing_server_t *s, struct MHD_Connection *c, const char *method,
                                 const char *url, s_req_t *req)
{
    cmn_counter_add(s->m_too_big, 1);
    log_info(S_MODULE, NULL, "413 %s %s: body over %zu bytes", method, url,
             req->route ? req->route->body_max : 0);
    req->answered = true;
    return s_error(s, c, 413, "request body too large");
}

static enum MHD_Result s_access(void *cls, struct MHD_Connection *c, const char *url,
                                const char *method, const char *version, const char *upload,
                                size_t *upload_size, void **con_cls)
{
    ing_server_t *s = cls;
    s_req_t *req = *con_cls;
    (void)version;

    if (req == NULL)
        return MHD_NO; /* the URI callback always allocates it */
    if (req->started == 0) {
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        bool known = false;
        long len = 0;
        req->started = cmn_mono_ms();
        cmn_counter_add(s->m_requests, 1);
        req->route = s_find_route(s, method, url, &known);
        if (req->route == NULL) {
            req->answered = true;
            return known ? s_error(s, c, 405, "method not allowed") : s_error(s, c, 404,
                                                                              "not found");
        }
        if (req->route->local) {
            enum MHD_Result ret = MHD_NO;
            if (s_local_refused(s, c, method, url, &ret)) {
                req->answered = true;
                return ret;
            }
        }
        req->body = (cmn_str_t)CMN_STR_INIT(req->route->body_max);
        if (cl && cmn_parse_long(cl, 0, LONG_MAX, &len) == 0 &&
            (size_t)len > req->route->body_max)
            return s_too_big(s, c, method, url, req);
        return MHD_YES;
    }
    if (*upload_size > 0) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (req->answered)
            return MHD_YES; /* discarding the rest of a refused body */
        if (cmn_str_append(&req->body, upload, n) < 0)
            return s_too_big(s, c, method, url, req);
        return MHD_YES;
    }
    if (req->park) { /* resumed: finish what the handler started */
        s_park_t *p = req->park;
        req->park = NULL;
        enum MHD_Result ret = req->resume(s, c, req, p);
        s_unref(s, p);
        return ret;
    }
    if (req->answered)
        return MHD_YES;
    req->answered = true;
    return req->route->fn(s, c, req);
}

/* Keep the request target exactly as received (Twilio signs the query as
 * sent); this also allocates the per-request state. */
static void *s_uri_log(void *cls, const char *uri, struct MHD_Connection *c)
{
    s_req_t *req = calloc(1, sizeof(*req));
    (void)cls;
    (void)c;
    if (req == NULL)
        return NULL;
    req->uri = strndup(uri ? uri : "", 4096);
    return req;
}

static void s_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                        enum MHD_RequestTerminationCode toe)
{
    s_req_t *req = *con_cls;
    (void)c;
    (void)toe;
    if (req) {
        /* woken at shutdown but closed before its resume ran */
        if (req->park)
            s_unref(cls, req->park);
        cmn_str_free(&req->body);
        free(req->uri);
        free(req);
        *con_cls = NULL;
    }
}

/* ---- events: wake long-polls when the sender delivered ----------------- */

static void *s_sub_loop(void *arg)
{
    ing_server_t *s = arg;
    int64_t next_check = 0, next_refresh = 0;
    cmn_store_t *st = NULL; /* store discovery: this thread's own handle */
    while (!atomic_load(&s->stopping)) {
        cmn_msg_t ev;
        int r = cmn_sub_recv(s->sub, &ev, S_WATCH_MS);
        int64_t now = cmn_mono_ms();
        if (s->d->discovery && now >= next_refresh) { /* every sender replica's events */
            char err[256];
            char *url = st ? NULL : cmn_settings_store_url(&s->d->settings);
            if (url != NULL && cmn_store_open(url, &st, err, sizeof(err)) < 0)
                st = NULL;
            free(url);
            if (st != NULL)
                cmn_members_refresh_sub(st, s->sub, "sender", cmn_now_ms(),
                                        s->d->settings.member_ttl_ms);
            /* often: until a sender replica is subscribed to, the long-polls of
             * its people miss their wake-up (a cheap query) */
            next_refresh = now + S_WATCH_MS * 3;
        }
        if (r == 0 && ev.user[0])
            s_wake_some(s, ev.user, now, 0); /* a reply for this person: answer their polls */
        if (now >= next_check) {             /* the watchdog: deadlines */
            s_wake_some(s, NULL, now, -ETIMEDOUT);
            next_check = now + S_WATCH_MS;
        }
    }
    cmn_store_destroy(&st);
    return NULL;
}

/* ---- lifecycle ---------------------------------------------------------- */

/* Room for S_CONN_MAX connections: raise the soft descriptor limit to the
 * hard one (a best effort; MHD refuses connections past what it gets). */
static void s_raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

ing_server_t *ing_server_new(cmn_daemon_t *d, const cmn_channels_t *ch)
{
    ing_server_t *s = calloc(1, sizeof(*s));
    const cmn_settings_t *cfg = &d->settings;
    struct sockaddr_in addr;
    char err[512] = "", port[16];
    char *url = NULL;

    if (s == NULL)
        return NULL;
    s->d = d;
    s->ch = *ch;
    s_routes_init(s);
    pthread_mutex_init(&s->reader_lock, NULL);
    pthread_mutex_init(&s->park_lock, NULL);
    s_raise_fd_limit();
    s->m_requests = cmn_metrics_counter(d->metrics, "http_requests_total", NULL,
                                        "HTTP requests answered");
    s->m_bad = cmn_metrics_counter(d->metrics, "http_bad_requests_total", NULL,
                                   "Requests refused with 400");
    s->m_too_big = cmn_metrics_counter(d->metrics, "http_too_large_total", NULL,
                                       "Requests refused with 413");
    s->m_forged = cmn_metrics_counter(d->metrics, "webhook_forged_total", NULL,
                                      "Webhooks refused with 403 (bad or missing signature)");
    s->m_webhooks = cmn_metrics_counter(d->metrics, "webhooks_total", NULL,
                                        "Signed provider webhooks accepted");
    s->m_timeouts = cmn_metrics_counter(d->metrics, "inbox_timeouts_total", NULL,
                                        "Requests answered 503 because the store was too slow");
    s->m_ack = cmn_metrics_histogram(d->metrics, "inbound_ack_seconds", NULL,
                                     "Time from request to acknowledgement (message stored)",
                                     NULL, 0);
    s->m_polls = cmn_metrics_gauge(d->metrics, "sim_polls_waiting", NULL,
                                   "Simulator long-polls waiting for a reply");
    s->m_shed = cmn_metrics_counter(d->metrics, "webhook_flood_shed_total", NULL,
                                    "Webhook messages dropped before the store: their number "
                                    "sent more than twice the flood limit");
    s->shed = ing_shed_new(cfg->flood_max, cfg->flood_window_s);
    if (s->shed == NULL)
        goto fail;
    url = cmn_settings_store_url(cfg);
    if (url == NULL || cmn_store_open(url, &s->reader, err, sizeof(err)) < 0) {
        log_error(S_MODULE, NULL, "cannot open the store: %s", err);
        goto fail;
    }
    if (cfg->admin_password && cfg->admin_password[0]) {
        ing_admin_cfg_t ac = {cfg->admin_password, d->salt, d->salt_len, url,  cfg->trust_proxy,
                              cfg->public_url,     NULL,    0,           NULL, 0};
        for (size_t i = 0; i < ing_www_count; i++) {
            if (strcmp(ing_www_files[i].name, "admin.html") == 0) {
                ac.page = ing_www_files[i].data;
                ac.page_len = ing_www_files[i].len;
            } else if (strcmp(ing_www_files[i].name, "admin-login.html") == 0) {
                ac.login = ing_www_files[i].data;
                ac.login_len = ing_www_files[i].len;
            }
        }
        s->admin = ing_admin_new(&ac, err, sizeof(err));
        if (s->admin == NULL) {
            log_error(S_MODULE, NULL, "CIU_ADMIN_PASSWORD: cannot start the dashboard: %s", err);
            goto fail;
        }
    }
    s->inbox = ing_inbox_new(d, cfg->ep_conversation, cfg->ev_ingress);
    if (s->inbox == NULL)
        goto fail;
    s->sub = cmn_sub_new(d->bus, cfg->ev_sender, CMN_EV_MESSAGE_SENT);
    if (s->sub == NULL) {
        log_error(S_MODULE, NULL, "CIU_SENDER_EVENTS: cannot connect '%s': %s", cfg->ev_sender,
                  strerror(errno));
        goto fail;
    }
    if (pthread_create(&s->sub_thread, NULL, s_sub_loop, s) != 0)
        goto fail;
    s->sub_started = true;

    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)cfg->http_port);
    if (inet_pton(AF_INET, cfg->http_addr, &addr.sin_addr) != 1) {
        log_error(S_MODULE, NULL, "CIU_HTTP_ADDR: '%s' is not an IPv4 address (e.g. 127.0.0.1 "
                                  "or 0.0.0.0)", cfg->http_addr);
        goto fail;
    }
    /* One epoll loop per pool thread; handlers never block on the inbox or a
     * long-poll (they suspend the connection), so two threads serve
     * thousands of connections. */
    s->mhd = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME, 0, NULL, NULL,
        s_access, s, MHD_OPTION_SOCK_ADDR, &addr, MHD_OPTION_NOTIFY_COMPLETED, s_completed, s,
        MHD_OPTION_URI_LOG_CALLBACK, s_uri_log, s, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)S_HTTP_THREADS, MHD_OPTION_CONNECTION_LIMIT, (unsigned)S_CONN_MAX,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cmn_settings_conn_per_ip(cfg),
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)S_IDLE_TIMEOUT_S,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1, MHD_OPTION_LISTEN_BACKLOG_SIZE,
        (unsigned)4096, MHD_OPTION_END);
    if (s->mhd == NULL) {
        log_error(S_MODULE, NULL, "CIU_HTTP_PORT: cannot listen on %s:%ld (in use?)",
                  cfg->http_addr, cfg->http_port);
        goto fail;
    }
    s->port = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT)->port;
    snprintf(port, sizeof(port), "%d", s->port);
    if (d->port_file && cmn_portfile_append(d->port_file, "http", port) < 0) {
        log_error(S_MODULE, NULL, "--port-file: cannot write '%s'", d->port_file);
        goto fail;
    }
    char chans[64];
    log_info(S_MODULE, NULL,
             "listening on http://%s:%d/ (channels: %s; webhooks at %s; at "
             "most %ld connections per client address, 0: no limit)",
             cfg->http_addr, s->port, cmn_channels_describe(ch, chans, sizeof(chans)),
             cfg->webhook_path, cmn_settings_conn_per_ip(cfg));
    free(url);
    return s;
fail:
    free(url);
    ing_server_destroy(&s);
    return NULL;
}

int ing_server_port(const ing_server_t *s) { return s->port; }

int ing_server_run(ing_server_t *s)
{
    while (!cmn_daemon_stopping()) {
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    log_info(S_MODULE, NULL, "stopping: no new requests; queued messages are committed");
    return CMN_EXIT_OK;
}

void ing_server_destroy(ing_server_t **p)
{
    ing_server_t *s;
    if (p == NULL || *p == NULL)
        return;
    s = *p;
    atomic_store(&s->stopping, 1);
    if (s->mhd) {
        /* parked requests are answered (long-polls: what they have; stores:
         * after their commit or 503) before the listener stops */
        s_wake_some(s, "", cmn_mono_ms(), -ESHUTDOWN);
        MHD_stop_daemon(s->mhd);
    }
    if (s->sub_started)
        pthread_join(s->sub_thread, NULL);
    cmn_sub_destroy(&s->sub);
    ing_inbox_destroy(&s->inbox);
    ing_admin_destroy(&s->admin);
    cmn_store_destroy(&s->reader);
    ing_shed_destroy(&s->shed);
    pthread_mutex_destroy(&s->park_lock);
    pthread_mutex_destroy(&s->reader_lock);
    free(s);
    *p = NULL;
}
