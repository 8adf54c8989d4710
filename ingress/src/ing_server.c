/* ing_server: routes, the simulator API, media, health and metrics. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>

#include "common/cmn_embed.h"
#include "common/cmn_log.h"
#include "ing_inbox.h"
#include "ing_server.h"

#define S_MODULE "http"
#define S_BODY_MAX (64 * 1024)
#define S_WAIT_MAX_S 30
#define S_PAGE_MAX 100
#define S_MEDIA_MAX (1024 * 1024)

extern const struct ciu_embedded ing_www_files[];
extern const size_t ing_www_count;

struct ing_server {
    cmn_daemon_t *d;
    ing_inbox_t *inbox;
    struct MHD_Daemon *mhd;
    int port;
    /* reads (sim mailbox, media, health) share one handle under a lock */
    cmn_store_t *reader;
    pthread_mutex_t reader_lock;
    /* long-polls sleep here until the sender says something was sent */
    pthread_mutex_t sim_lock;
    pthread_cond_t sim_cv;
    uint64_t sim_gen;
    cmn_sub_t *sub;
    pthread_t sub_thread;
    bool sub_started;
    atomic_int stopping;
    cmn_counter_t *m_requests;
    cmn_counter_t *m_bad;
    cmn_counter_t *m_too_big;
    cmn_histogram_t *m_ack;
    cmn_gauge_t *m_polls;
};

typedef struct {
    cmn_str_t body;
    bool too_big;
    int64_t started;
} s_req_t;

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

static enum MHD_Result s_sim_post(ing_server_t *s, struct MHD_Connection *c, s_req_t *req)
{
    json_error_t jerr;
    json_t *root;
    const char *from = NULL, *text = NULL, *kind = "text";
    char id[CMN_ID_LEN];
    enum MHD_Result ret;
    int r;

    root = json_loadb(cmn_str_cstr(&req->body), req->body.len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        log_info(S_MODULE, NULL, "400 POST /sim/messages: malformed JSON at line %d column %d: %s",
                 jerr.line, jerr.column, jerr.text);
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
    r = ing_inbox_submit(s->inbox, &msg, id);
    json_decref(root);
    if (r == -EAGAIN)
        return s_error(s, c, 429, "too many messages waiting; retry shortly");
    if (r < 0)
        return s_error(s, c, 503, "message not stored; retry");
    cmn_histogram_observe(s->m_ack, (double)(cmn_mono_ms() - req->started) / 1000.0);
    ret = s_json(c, 202, json_pack("{s:s}", "id", id));
    return ret;
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

static enum MHD_Result s_sim_get(ing_server_t *s, struct MHD_Connection *c)
{
    const char *to = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "to");
    const char *after = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "after");
    const char *wait = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "wait");
    char user[CMN_HEX256_LEN], cur[24];
    long cursor = 0, wait_s = 0;
    int64_t pos, deadline;
    json_t *arr = NULL;

    if (!s_valid_number(to))
        return s_error(s, c, 400, "\"to\" must be a phone number like +243810000001 (write + "
                                  "as %2B)");
    if (after && *after && cmn_parse_long(after, 0, LONG_MAX,
                                          &cursor) < 0)
        return s_error(s, c, 400, "\"after\" must be a cursor returned by this API");
    if (wait && *wait && cmn_parse_long(wait, 0, 3600, &wait_s) < 0)
        return s_error(s, c, 400, "\"wait\" must be a number of seconds (0 to 30)");
    if (wait_s > S_WAIT_MAX_S)
        wait_s = S_WAIT_MAX_S;
    if (cmn_user_key(s->d->salt, s->d->salt_len, to, user) < 0)
        return s_error(s, c, 500, "internal error");
    pos = cursor;
    deadline = cmn_mono_ms() + wait_s * 1000;
    cmn_gauge_add(s->m_polls, 1);
    for (;;) {
        uint64_t gen;
        pthread_mutex_lock(&s->sim_lock);
        gen = s->sim_gen;
        pthread_mutex_unlock(&s->sim_lock);
        if (s_sim_fetch(s, user, &pos, &arr) < 0) {
            cmn_gauge_add(s->m_polls, -1);
            return s_error(s, c, 503, "store unavailable; retry");
        }
        int64_t now = cmn_mono_ms();
        if (json_array_size(arr) > 0 || now >= deadline || atomic_load(&s->stopping))
            break;
        json_decref(arr);
        arr = NULL;
        /* Sleep until an event says something was sent, re-checking at least
         * every second in case an event was missed. */
        int64_t until = deadline < now + 1000 ? deadline : now + 1000;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t ns = ts.tv_nsec + (until - now) * 1000000LL;
        ts.tv_sec += ns / 1000000000LL;
        ts.tv_nsec = ns % 1000000000LL;
        pthread_mutex_lock(&s->sim_lock);
        while (s->sim_gen == gen && !atomic_load(&s->stopping))
            if (pthread_cond_timedwait(&s->sim_cv, &s->sim_lock, &ts) == ETIMEDOUT)
                break;
        pthread_mutex_unlock(&s->sim_lock);
    }
    cmn_gauge_add(s->m_polls, -1);
    snprintf(cur, sizeof(cur), "%lld", (long long)pos);
    return s_json(c, 200, json_pack("{s:o, s:s}", "messages", arr, "cursor", cur));
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

static enum MHD_Result s_metrics(ing_server_t *s, struct MHD_Connection *c)
{
    cmn_str_t out = CMN_STR_INIT(1 << 20);
    enum MHD_Result r;
    cmn_metrics_render(s->d->metrics, &out);
    r = s_reply(c, 200, "text/plain; version=0.0.4", cmn_str_cstr(&out), out.len);
    cmn_str_free(&out);
    return r;
}

/* ---- routing ------------------------------------------------------------ */

static enum MHD_Result s_route(ing_server_t *s, struct MHD_Connection *c, const char *url,
                               const char *method, s_req_t *req)
{
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    bool post = strcmp(method, "POST") == 0;
    bool sim = s->d->settings.simulator;

    cmn_counter_add(s->m_requests, 1);
    if (req->too_big) {
        cmn_counter_add(s->m_too_big, 1);
        log_info(S_MODULE, NULL, "413 %s %s: body over %d bytes", method, url, S_BODY_MAX);
        return s_error(s, c, 413, "request body too large (limit 64 KiB)");
    }
    if (strcmp(url, "/health") == 0)
        return get ? s_health(s, c) : s_error(s, c, 405, "method not allowed");
    if (strcmp(url, "/metrics") == 0)
        return get ? s_metrics(s, c) : s_error(s, c, 405, "method not allowed");
    if (strncmp(url, "/media/qr/", 10) == 0)
        return get ? s_media(s, c, url) : s_error(s, c, 405, "method not allowed");
    if (sim && strcmp(url, "/sim/messages") == 0) {
        if (post)
            return s_sim_post(s, c, req);
        return get ? s_sim_get(s, c) : s_error(s, c, 405, "method not allowed");
    }
    if (sim && (strcmp(url, "/sim/") == 0 || strcmp(url, "/sim") == 0 || strcmp(url, "/") == 0)) {
        if (!get)
            return s_error(s, c, 405, "method not allowed");
        if (strcmp(url, "/sim/") != 0) {
            struct MHD_Response *resp =
                MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
            enum MHD_Result r;
            MHD_add_response_header(resp, "Location", "/sim/");
            r = MHD_queue_response(c, 302, resp);
            MHD_destroy_response(resp);
            return r;
        }
        return s_page(s, c, "sim.html", "text/html; charset=utf-8");
    }
    return s_error(s, c, 404, "not found");
}

static enum MHD_Result s_access(void *cls, struct MHD_Connection *c, const char *url,
                                const char *method, const char *version, const char *upload,
                                size_t *upload_size, void **con_cls)
{
    ing_server_t *s = cls;
    s_req_t *req = *con_cls;
    (void)version;

    if (req == NULL) {
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        long len = 0;
        req = calloc(1, sizeof(*req));
        if (req == NULL)
            return MHD_NO;
        req->body = (cmn_str_t)CMN_STR_INIT(S_BODY_MAX);
        req->started = cmn_mono_ms();
        *con_cls = req;
        if (cl && cmn_parse_long(cl, 0, LONG_MAX, &len) == 0 && len > S_BODY_MAX)
            req->too_big = true;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (!req->too_big && cmn_str_append(&req->body, upload, *upload_size) < 0)
            req->too_big = true;
        *upload_size = 0;
        return MHD_YES;
    }
    return s_route(s, c, url, method, req);
}

static void s_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                        enum MHD_RequestTerminationCode toe)
{
    s_req_t *req = *con_cls;
    (void)cls;
    (void)c;
    (void)toe;
    if (req) {
        cmn_str_free(&req->body);
        free(req);
        *con_cls = NULL;
    }
}

/* ---- events: wake long-polls when the sender delivered ----------------- */

static void *s_sub_loop(void *arg)
{
    ing_server_t *s = arg;
    while (!atomic_load(&s->stopping)) {
        cmn_msg_t ev;
        int r = cmn_sub_recv(s->sub, &ev, 250);
        if (r != 0)
            continue;
        pthread_mutex_lock(&s->sim_lock);
        s->sim_gen++;
        pthread_cond_broadcast(&s->sim_cv);
        pthread_mutex_unlock(&s->sim_lock);
    }
    return NULL;
}

/* ---- lifecycle ---------------------------------------------------------- */

ing_server_t *ing_server_new(cmn_daemon_t *d)
{
    ing_server_t *s = calloc(1, sizeof(*s));
    const cmn_settings_t *cfg = &d->settings;
    struct sockaddr_in addr;
    char err[512] = "", port[16];
    char *url = NULL;
    pthread_condattr_t ca;

    if (s == NULL)
        return NULL;
    s->d = d;
    pthread_mutex_init(&s->reader_lock, NULL);
    pthread_mutex_init(&s->sim_lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->sim_cv, &ca);
    pthread_condattr_destroy(&ca);
    s->m_requests = cmn_metrics_counter(d->metrics, "http_requests_total", NULL,
                                        "HTTP requests answered");
    s->m_bad = cmn_metrics_counter(d->metrics, "http_bad_requests_total", NULL,
                                   "Requests refused with 400");
    s->m_too_big = cmn_metrics_counter(d->metrics, "http_too_large_total", NULL,
                                       "Requests refused with 413");
    s->m_ack = cmn_metrics_histogram(d->metrics, "inbound_ack_seconds", NULL,
                                     "Time from request to acknowledgement (message stored)",
                                     NULL, 0);
    s->m_polls = cmn_metrics_gauge(d->metrics, "sim_polls_waiting", NULL,
                                   "Simulator long-polls waiting for a reply");
    url = cmn_settings_store_url(cfg);
    if (url == NULL || cmn_store_open(url, &s->reader, err, sizeof(err)) < 0) {
        log_error(S_MODULE, NULL, "cannot open the store: %s", err);
        goto fail;
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
    s->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                                  MHD_USE_POLL,
                              0, NULL, NULL, s_access, s, MHD_OPTION_SOCK_ADDR, &addr,
                              MHD_OPTION_NOTIFY_COMPLETED, s_completed, s,
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned)2000,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
                              MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
                              MHD_OPTION_THREAD_STACK_SIZE, (size_t)(256 * 1024), MHD_OPTION_END);
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
    log_info(S_MODULE, NULL, "listening on http://%s:%d/%s", cfg->http_addr, s->port,
             cfg->simulator ? " (simulator at /sim/)" : "");
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
    pthread_mutex_lock(&s->sim_lock);
    pthread_cond_broadcast(&s->sim_cv);
    pthread_mutex_unlock(&s->sim_lock);
    if (s->mhd)
        MHD_stop_daemon(s->mhd); /* waits for connection threads */
    if (s->sub_started)
        pthread_join(s->sub_thread, NULL);
    cmn_sub_destroy(&s->sub);
    ing_inbox_destroy(&s->inbox);
    cmn_store_destroy(&s->reader);
    pthread_cond_destroy(&s->sim_cv);
    pthread_mutex_destroy(&s->sim_lock);
    pthread_mutex_destroy(&s->reader_lock);
    free(s);
    *p = NULL;
}
