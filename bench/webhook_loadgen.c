/* ciu-webhook-loadgen: plays N simulated people through whole CIU conversations by
 * signed Meta webhooks (or Twilio forms, --channel twilio) against a running ciu-ingress,
 * and receives the bot's replies on an embedded fake of Meta's Graph API (and of Twilio's
 * Messages.json). Reports throughput and latencies.
 *
 *   ciu-webhook-loadgen --url http://127.0.0.1:PORT (--rate R | --closed C)
 *                       [--people N] [--duration S] [--think S] [--fake-port-file F] ...
 *
 * Order of a run (bench/webhook_run does this):
 *   1. the fake Graph API starts on 127.0.0.1, port 0, and its port is written to
 *      --fake-port-file as "http=PORT" (temp file + rename) and printed as FAKE_PORT=PORT;
 *   2. the caller starts the stack with META_GRAPH_BASE_URL=http://127.0.0.1:PORT;
 *   3. the load generator waits until GET --url/health answers 200, then plays. With
 *      --ingress-port-file F instead of --url, it first waits for ciu-ingress to write
 *      "http=PORT" to F (its --port-file), so the stack can listen on port 0.
 *
 * Person i writes from +<number-base + i>. Its script is Bonjour, Mbengue, Ibrahima,
 * 1997, KN, 1, 1; the bot answers the first line with two messages (welcome, question 1)
 * and every other line with one; the last reply (the QR image's caption) carries the CIU.
 * Everyone then gets MBEIBR7KN1 (the engine records potential duplicates); with
 * --unique-names the two names are made from i and every person gets its own CIU.
 * Each line is one signed webhook (Meta: X-Hub-Signature-256: sha256=HMAC-SHA256(body) with
 * --app-secret; Twilio: X-Twilio-Signature over --public-url + path and the sorted form)
 * POSTed through one libcurl multi handle with keep-alive connections.
 *
 * The fake (libmicrohttpd, 127.0.0.1, 1-2 epoll threads) answers POST /{v}/{id}/messages
 * with 200 and a wamid, POST /{v}/{id}/media with {"id"} (the QR upload, read and dropped),
 * POST /2010-04-01/Accounts/{sid}/Messages.json with 201 and an SM sid. It hands each reply
 * (recipient, arrival time, whether it holds the CIU) to the driver thread through a
 * bounded queue and curl_multi_wakeup(). It checks no credentials: ingress's signature
 * checks are what this exercises, not the sender's.
 *
 * Two modes:
 *   --closed C  at most C people in flight; a person sends its next line as soon as its
 *               previous line is acknowledged and fully answered. Measures throughput.
 *   --rate R    open loop: person i starts at i*7/R s and sends line k at start + k*THINK
 *               whatever the stack does, so lines arrive at R per second in steady state
 *               and queueing shows in the latencies, not in a slower load. One exception
 *               keeps a person's lines in order: a line is never sent before the previous
 *               line's webhook was acknowledged; such a line goes out at that ack and is
 *               counted as late (a sign the stack, or this machine, did not keep up).
 *
 * Measures per line: ack latency (POST sent -> 200), reply latency (POST sent -> the
 * fake received the last reply to that line). See docs/bench.md. Exit status: 0 when
 * every conversation completed without error, 1 otherwise, 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/cmn_str.h"
#include "lg_common.h"
#include "sim_client.h"

#define PEOPLE_MAX 1000000
#define CLOSED_MAX 10000
#define EVENTS_MAX (1 << 16)     /* replies queued between the fake and the driver */
#define FAKE_BODY_MAX (64 << 10) /* a send request body we parse */
#define FAKE_MEDIA_MAX (8 << 20) /* an upload we read and drop */
#define HEALTH_POLL_S 0.05
#define TIMEOUT_SCAN_S 0.1

static const char *const SCRIPT[] = {"Bonjour", "Mbengue", "Ibrahima", "1997", "KN", "1", "1"};
static const int REPLIES[] = {2, 1, 1, 1, 1, 1, 1}; /* replies the bot sends to each line */
#define SCRIPT_LEN ((int)(sizeof(SCRIPT) / sizeof(SCRIPT[0])))

typedef enum {
    E_TRANSPORT,
    E_POST_STATUS,
    E_REPLY_TIMEOUT,
    E_NO_CIU,
    E_UNKNOWN_TO,
    E_REPLY_AFTER_END,
    E_FAKE_BAD_REQUEST,
    E_FAKE_QUEUE_FULL,
    E_CUT,
    E_COUNT
} err_t;

static const char *const ERR_NAMES[E_COUNT] = {
    "transport",       "post_status",      "reply_timeout",   "no_ciu",         "reply_to_unknown",
    "reply_after_end", "fake_bad_request", "fake_queue_full", "cut_by_duration"};

typedef enum { P_IDLE, P_ACTIVE, P_DONE } pstate_t;

typedef struct {
    CURL *h;
    pstate_t state;
    int next;     /* next line to send (SCRIPT_LEN when all sent) */
    int answered; /* lines fully answered */
    int replies;  /* replies received */
    bool posting; /* a webhook POST is in flight */
    bool ciu;     /* the CIU arrived while the last POST was in flight */
    double t_ciu;
    double start; /* open loop: when line 0 is due */
    double t_post[SCRIPT_LEN];
    char number[24]; /* "+243..." */
    char *body;
    struct curl_slist *hdrs;
} person_t;

/* One reply seen by the fake, handed to the driver thread. */
typedef struct {
    long person;
    double t;
    bool ciu;
} reply_ev_t;

typedef struct gen gen_t;

/* The embedded fake provider API: runs in libmicrohttpd's threads, shares only `lock`'d
 * fields with the driver. */
typedef struct {
    struct MHD_Daemon *mhd;
    gen_t *g;
    pthread_mutex_t lock;
    reply_ev_t *ev; /* EVENTS_MAX, filled by the fake, drained by the driver */
    size_t nev;
    unsigned long sends, uploads, bad, unknown, full; /* counters under lock */
    int port;
} fake_t;

typedef struct {
    cmn_str_t body;
    bool media;
    size_t media_len;
} fake_req_t;

struct gen {
    /* options */
    char base[SIM_URL_MAX / 2];
    char url[SIM_URL_MAX];
    const char *path, *secret, *phone_id, *port_file, *ingress_port_file;
    const char *public_url, *twilio_sid, *twilio_token, *twilio_number;
    bool twilio;       /* --channel twilio */
    bool unique_names; /* --unique-names */
    long people, closed, duration, threads, connections, ready_timeout;
    long long number_base;
    double rate, think, timeout;
    /* run */
    fake_t fake;
    CURLM *multi;
    person_t *p;
    long started, in_flight, finished, completed, first_active;
    unsigned long sent, acked, late, replies, steady_acked;
    unsigned long errors[E_COUNT];
    char first_error[200];
    int cursor[SCRIPT_LEN]; /* open loop: next person whose line k is not yet due */
    double t0, last_ack, last_done, steady_from, steady_to;
    reply_ev_t *drain; /* EVENTS_MAX, the driver's copy */
    lg_samples_t ack, reply;
    lg_samples_t last; /* reply latency of the last line: the CIU (and its QR image) */
    unsigned nonce;
};

static bool s_open(const gen_t *g)
{
    return g->rate > 0;
}

static void s_error(gen_t *g, err_t e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void s_error(gen_t *g, err_t e, const char *fmt, ...)
{
    g->errors[e]++;
    if (!g->first_error[0]) {
        va_list ap;
        int n = snprintf(g->first_error, sizeof(g->first_error), "%s: ", ERR_NAMES[e]);
        va_start(ap, fmt);
        vsnprintf(g->first_error + n, sizeof(g->first_error) - (size_t)n, fmt, ap);
        va_end(ap);
    }
}

/* ---- the fake provider API (libmicrohttpd threads) ---------------------------------- */

static enum MHD_Result s_fake_answer(struct MHD_Connection *c, unsigned status, const char *json)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(json), (void *)json, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret;
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "application/json");
    ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static bool s_ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && strcmp(s + n - m, tail) == 0;
}

/* Record one reply: its person (from the recipient's digits) and whether it holds the CIU. */
static unsigned long s_fake_record(fake_t *f, const char *to, bool bad, bool ciu, double now)
{
    long long num = 0;
    long person = -1;
    unsigned long seq;
    char *end = NULL;
    if (to != NULL) {
        errno = 0;
        num = strtoll(to, &end, 10);
        if (errno == 0 && end != to && *end == '\0' && num >= f->g->number_base &&
            num - f->g->number_base < f->g->people)
            person = (long)(num - f->g->number_base);
    }
    pthread_mutex_lock(&f->lock);
    seq = ++f->sends;
    if (bad || to == NULL)
        f->bad++;
    else if (person < 0)
        f->unknown++;
    else if (f->nev == EVENTS_MAX)
        f->full++;
    else
        f->ev[f->nev++] = (reply_ev_t){person, now, ciu};
    pthread_mutex_unlock(&f->lock);
    curl_multi_wakeup(f->g->multi);
    return seq;
}

/* A Meta send request: record the reply for its person; answer like the Cloud API. */
static enum MHD_Result s_fake_send(fake_t *f, struct MHD_Connection *c, const fake_req_t *rq)
{
    double now = lg_now();
    json_t *root = json_loadb(cmn_str_cstr(&rq->body), rq->body.len, 0, NULL);
    const char *to = json_string_value(json_object_get(root, "to"));
    const char *st = json_string_value(json_object_get(root, "status"));
    const char *text = json_string_value(json_object_get(json_object_get(root, "text"), "body"));
    const char *cap = json_string_value(json_object_get(json_object_get(root, "image"), "caption"));
    json_t *inter = json_object_get(root, "interactive");
    const char *ibody = json_string_value(json_object_get(json_object_get(inter, "body"), "text"));
    unsigned long seq;
    char out[320];
    bool ciu;

    if (st && strcmp(st, "read") == 0) { /* a read receipt is not a reply */
        json_decref(root);
        return s_fake_answer(c, MHD_HTTP_OK, "{\"success\":true}");
    }
    ciu = (text && sim_find_ciu(text, NULL)) || (cap && sim_find_ciu(cap, NULL)) ||
          (ibody && sim_find_ciu(ibody, NULL));
    seq = s_fake_record(f, to, root == NULL, ciu, now);
    if (root == NULL || to == NULL) {
        json_decref(root);
        return s_fake_answer(c, MHD_HTTP_BAD_REQUEST,
                             "{\"error\":{\"message\":\"(#100) Invalid parameter\","
                             "\"type\":\"OAuthException\",\"code\":100}}");
    }
    snprintf(out, sizeof(out),
             "{\"messaging_product\":\"whatsapp\",\"contacts\":[{\"input\":\"%.24s\","
             "\"wa_id\":\"%.24s\"}],\"messages\":[{\"id\":\"wamid.HBgLLGEN%08X%016lX\","
             "\"message_status\":\"accepted\"}]}",
             to, to, f->g->nonce, seq);
    json_decref(root);
    return s_fake_answer(c, MHD_HTTP_OK, out);
}

/* MHD's form parser: keep To and Body of a Twilio send. */
typedef struct {
    cmn_str_t to, body;
} s_form_t;

static enum MHD_Result s_form_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *filename, const char *content_type,
                                    const char *transfer_encoding, const char *data, uint64_t off,
                                    size_t size)
{
    s_form_t *f = cls;
    (void)kind;
    (void)filename;
    (void)content_type;
    (void)transfer_encoding;
    (void)off;
    if (strcmp(key, "To") == 0)
        return cmn_str_append(&f->to, data, size) < 0 ? MHD_NO : MHD_YES;
    if (strcmp(key, "Body") == 0)
        return cmn_str_append(&f->body, data, size) < 0 ? MHD_NO : MHD_YES;
    return MHD_YES;
}

/* A Twilio send (form): record it; answer 201 with a message sid like the REST API. */
static enum MHD_Result s_fake_twilio_send(fake_t *f, struct MHD_Connection *c, const fake_req_t *rq)
{
    double now = lg_now();
    s_form_t form = {CMN_STR_INIT(256), CMN_STR_INIT(FAKE_BODY_MAX)};
    struct MHD_PostProcessor *pp = MHD_create_post_processor(c, 4096, s_form_field, &form);
    const char *to;
    bool ok = pp != NULL && MHD_post_process(pp, cmn_str_cstr(&rq->body), rq->body.len) == MHD_YES;
    unsigned long seq;
    char out[256];
    enum MHD_Result ret;

    if (pp)
        MHD_destroy_post_processor(pp);
    to = cmn_str_cstr(&form.to);
    if (strncmp(to, "whatsapp:+", 10) == 0)
        to += 10;
    seq = s_fake_record(f, ok && *to ? to : NULL, !ok, sim_find_ciu(cmn_str_cstr(&form.body), NULL),
                        now);
    if (ok && *to) {
        snprintf(out, sizeof(out),
                 "{\"sid\":\"SM%08x%024lx\",\"status\":\"queued\",\"to\":\"whatsapp:+%.24s\","
                 "\"direction\":\"outbound-api\"}",
                 f->g->nonce, seq, to);
        ret = s_fake_answer(c, MHD_HTTP_CREATED, out);
    } else {
        ret = s_fake_answer(c, MHD_HTTP_BAD_REQUEST,
                            "{\"code\":21604,\"message\":\"A 'To' phone number is required.\","
                            "\"status\":400}");
    }
    cmn_str_free(&form.to);
    cmn_str_free(&form.body);
    return ret;
}

static enum MHD_Result s_fake_access(void *cls, struct MHD_Connection *c, const char *url,
                                     const char *method, const char *version, const char *data,
                                     size_t *data_size, void **con_cls)
{
    fake_t *f = cls;
    fake_req_t *rq = *con_cls;
    (void)version;

    if (rq == NULL) {
        if (strcmp(method, "POST") != 0)
            return s_fake_answer(c, MHD_HTTP_METHOD_NOT_ALLOWED, "{}");
        rq = calloc(1, sizeof(*rq));
        if (rq == NULL)
            return MHD_NO;
        rq->media = s_ends_with(url, "/media");
        rq->body = (cmn_str_t)CMN_STR_INIT(FAKE_BODY_MAX);
        *con_cls = rq;
        return MHD_YES;
    }
    if (*data_size > 0) {
        if (rq->media)
            rq->media_len += *data_size; /* the QR PNG: read and dropped */
        else if (cmn_str_append(&rq->body, data, *data_size) < 0)
            return MHD_NO;
        *data_size = 0;
        return rq->media_len > FAKE_MEDIA_MAX ? MHD_NO : MHD_YES;
    }
    if (rq->media) {
        char out[64];
        unsigned long n;
        pthread_mutex_lock(&f->lock);
        n = ++f->uploads;
        pthread_mutex_unlock(&f->lock);
        snprintf(out, sizeof(out), "{\"id\":\"%015lu\"}", 100000000000000UL + n);
        return s_fake_answer(c, MHD_HTTP_OK, out);
    }
    if (s_ends_with(url, "/messages"))
        return s_fake_send(f, c, rq);
    if (s_ends_with(url, "/Messages.json"))
        return s_fake_twilio_send(f, c, rq);
    return s_fake_answer(c, MHD_HTTP_NOT_FOUND,
                         "{\"error\":{\"message\":\"Unknown path components\","
                         "\"type\":\"OAuthException\",\"code\":100}}");
}

static void s_fake_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                             enum MHD_RequestTerminationCode toe)
{
    fake_req_t *rq = *con_cls;
    (void)cls;
    (void)c;
    (void)toe;
    if (rq) {
        cmn_str_free(&rq->body);
        free(rq);
        *con_cls = NULL;
    }
}

/* Write "http=PORT\n" to path through a temporary file and rename. 0 or -errno. */
static int s_write_port_file(const char *path, int port)
{
    char tmp[4096];
    FILE *fp;
    int r = 0;
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        return -E2BIG;
    fp = fopen(tmp, "w");
    if (fp == NULL)
        return -errno;
    if (fprintf(fp, "http=%d\n", port) < 0)
        r = -EIO;
    if (fclose(fp) != 0 && r == 0)
        r = -errno;
    if (r == 0 && rename(tmp, path) != 0)
        r = -errno;
    if (r < 0)
        unlink(tmp);
    return r;
}

static int s_fake_start(gen_t *g)
{
    fake_t *f = &g->fake;
    struct sockaddr_in addr = {0};
    const union MHD_DaemonInfo *info;

    f->g = g;
    f->ev = calloc(EVENTS_MAX, sizeof(*f->ev));
    if (f->ev == NULL)
        return -ENOMEM;
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    f->mhd = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL, s_fake_access, f,
        MHD_OPTION_SOCK_ADDR, &addr, MHD_OPTION_NOTIFY_COMPLETED, s_fake_completed, f,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)g->threads, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)1000, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_LISTEN_BACKLOG_SIZE,
        (unsigned)1024, MHD_OPTION_END);
    if (f->mhd == NULL)
        return -EADDRNOTAVAIL;
    info = MHD_get_daemon_info(f->mhd, MHD_DAEMON_INFO_BIND_PORT);
    if (info == NULL)
        return -EIO;
    f->port = info->port;
    return 0;
}

static void s_fake_stop(fake_t *f)
{
    if (f->mhd)
        MHD_stop_daemon(f->mhd);
    f->mhd = NULL;
    free(f->ev);
    f->ev = NULL;
}

/* ---- the load driver (main thread) ------------------------------------------------- */

/* Discard a response body (webhook acks are "" or a short JSON). */
static size_t s_discard_cb(char *data, size_t size, size_t nmemb, void *userdata)
{
    (void)data;
    (void)userdata;
    return size * nmemb;
}

static void s_finish(gen_t *g, person_t *p, bool ok, double now)
{
    if (p->state != P_ACTIVE)
        return;
    if (p->posting)
        curl_multi_remove_handle(g->multi, p->h);
    curl_easy_cleanup(p->h);
    p->h = NULL;
    free(p->body);
    p->body = NULL;
    curl_slist_free_all(p->hdrs);
    p->hdrs = NULL;
    p->posting = false;
    p->state = P_DONE;
    g->in_flight--;
    g->finished++;
    if (ok) {
        g->completed++;
        g->last_done = now;
    }
}

static void s_fail(gen_t *g, person_t *p, err_t e, double now)
{
    s_error(g, e, "%s after '%s'", p->number, SCRIPT[p->next > 0 ? p->next - 1 : 0]);
    s_finish(g, p, false, now);
}

/* The text of line k of p: SCRIPT[k], or with --unique-names a last and a first name made
 * from the person's index (three letters each, then the script's tail), so that every
 * person gets another CIU instead of everyone sharing MBEIBR7KN1 (potential duplicates). */
static const char *s_line(const gen_t *g, const person_t *p, int k, char buf[32])
{
    long i = (long)(p - g->p), v;
    if (!g->unique_names || (k != 1 && k != 2))
        return SCRIPT[k];
    v = k == 1 ? i % 17576 : (i / 17576) % 17576;
    snprintf(buf, 32, "%c%c%c%s", 'A' + (int)(v / 676), 'a' + (int)(v / 26 % 26),
             'a' + (int)(v % 26), k == 1 ? "engue" : "ima");
    return buf;
}

/* Replace p->hdrs by Content-Type and one signature header. 0 or -ENOMEM. */
static int s_headers(person_t *p, const char *type, const char *sig_hdr)
{
    curl_slist_free_all(p->hdrs);
    p->hdrs = curl_slist_append(NULL, type);
    if (p->hdrs == NULL || curl_slist_append(p->hdrs, sig_hdr) == NULL)
        return -ENOMEM;
    return 0;
}

/* Meta: the JSON of one text message, signed X-Hub-Signature-256: sha256=<hex HMAC-SHA256
 * of the body with the app secret>. 0, -ENOMEM or -EIO. */
static int s_build_meta(gen_t *g, person_t *p, int k)
{
    char id[96], ts[24], hex[2 * EVP_MAX_MD_SIZE + 1], hdr[2 * EVP_MAX_MD_SIZE + 64], line[32];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    const char *wa = p->number + 1;
    json_t *o;

    snprintf(id, sizeof(id), "wamid.LGEN%08X%s%02d", g->nonce, wa, k);
    snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
    o = json_pack("{s:s, s:[{s:s, s:[{s:s, s:{s:s, s:{s:s, s:s}, s:[{s:{s:s}, s:s}], "
                  "s:[{s:s, s:s, s:s, s:s, s:{s:s}}]}}]}]}",
                  "object", "whatsapp_business_account", "entry", "id", "102290129340398",
                  "changes", "field", "messages", "value", "messaging_product", "whatsapp",
                  "metadata", "display_phone_number", "15550783881", "phone_number_id", g->phone_id,
                  "contacts", "profile", "name", "Load Test", "wa_id", wa, "messages", "from", wa,
                  "id", id, "timestamp", ts, "type", "text", "text", "body", s_line(g, p, k, line));
    if (o == NULL)
        return -ENOMEM;
    free(p->body);
    p->body = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(o);
    if (p->body == NULL)
        return -ENOMEM;
    if (HMAC(EVP_sha256(), g->secret, (int)strlen(g->secret), (const unsigned char *)p->body,
             strlen(p->body), md, &mdlen) == NULL)
        return -EIO;
    for (unsigned i = 0; i < mdlen; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    snprintf(hdr, sizeof(hdr), "X-Hub-Signature-256: sha256=%s", hex);
    return s_headers(p, "Content-Type: application/json", hdr);
}

typedef struct {
    const char *name, *value;
} s_pair_t;

static int s_pair_cmp(const void *a, const void *b)
{
    return strcmp(((const s_pair_t *)a)->name, ((const s_pair_t *)b)->name);
}

/* Twilio: the form of one inbound WhatsApp text, as Twilio POSTs it, signed
 * X-Twilio-Signature: base64(HMAC-SHA1(auth token, URL + each name and value, names
 * sorted)) where URL is PUBLIC_BASE_URL + the webhook path. 0, -ENOMEM or -EIO. */
static int s_build_twilio(gen_t *g, person_t *p, int k)
{
    char sid[48], from[40], to[64], line[32];
    unsigned char md[EVP_MAX_MD_SIZE], b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
    char hdr[sizeof(b64) + 32];
    unsigned int mdlen = 0;
    cmn_str_t signed_text = CMN_STR_INIT(8192), form = CMN_STR_INIT(8192);
    int r = 0;

    snprintf(sid, sizeof(sid), "SM%08x%s%02d", g->nonce, p->number + 1, k);
    snprintf(from, sizeof(from), "whatsapp:%s", p->number);
    snprintf(to, sizeof(to), "whatsapp:%s", g->twilio_number);
    s_pair_t f[] = {{"SmsMessageSid", sid},
                    {"NumMedia", "0"},
                    {"ProfileName", "Load Test"},
                    {"MessageType", "text"},
                    {"SmsSid", sid},
                    {"WaId", p->number + 1},
                    {"SmsStatus", "received"},
                    {"Body", s_line(g, p, k, line)},
                    {"To", to},
                    {"NumSegments", "1"},
                    {"ReferralNumMedia", "0"},
                    {"MessageSid", sid},
                    {"AccountSid", g->twilio_sid},
                    {"From", from},
                    {"ApiVersion", "2010-04-01"}};
    size_t n = sizeof(f) / sizeof(f[0]);

    for (size_t i = 0; i < n && r == 0; i++) { /* the body, in Twilio's order */
        char *v = curl_easy_escape(p->h, f[i].value, 0);
        r = v ? cmn_str_printf(&form, "%s%s=%s", i ? "&" : "", f[i].name, v) : -ENOMEM;
        curl_free(v);
    }
    qsort(f, n, sizeof(f[0]), s_pair_cmp);
    if (r == 0)
        r = cmn_str_printf(&signed_text, "%s%s", g->public_url, g->path);
    for (size_t i = 0; i < n && r == 0; i++)
        r = cmn_str_printf(&signed_text, "%s%s", f[i].name, f[i].value);
    if (r == 0 && HMAC(EVP_sha1(), g->twilio_token, (int)strlen(g->twilio_token),
                       (const unsigned char *)cmn_str_cstr(&signed_text), signed_text.len, md,
                       &mdlen) == NULL)
        r = -EIO;
    if (r == 0) {
        EVP_EncodeBlock(b64, md, (int)mdlen);
        snprintf(hdr, sizeof(hdr), "X-Twilio-Signature: %s", (const char *)b64);
        r = s_headers(p, "Content-Type: application/x-www-form-urlencoded", hdr);
    }
    if (r == 0) {
        free(p->body);
        p->body = cmn_str_steal(&form);
    }
    cmn_str_free(&form);
    cmn_str_free(&signed_text);
    return r;
}

/* POST line p->next of p. */
static void s_send(gen_t *g, person_t *p, double now)
{
    int k = p->next;
    if ((g->twilio ? s_build_twilio(g, p, k) : s_build_meta(g, p, k)) < 0) {
        s_fail(g, p, E_TRANSPORT, now);
        return;
    }
    curl_easy_reset(p->h);
    curl_easy_setopt(p->h, CURLOPT_URL, g->url);
    curl_easy_setopt(p->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(p->h, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(p->h, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(p->h, CURLOPT_POSTFIELDS, p->body);
    curl_easy_setopt(p->h, CURLOPT_HTTPHEADER, p->hdrs);
    curl_easy_setopt(p->h, CURLOPT_WRITEFUNCTION, s_discard_cb);
    curl_easy_setopt(p->h, CURLOPT_PRIVATE, p);
    curl_easy_setopt(p->h, CURLOPT_USERAGENT, "ciu-webhook-loadgen/1");
    if (curl_multi_add_handle(g->multi, p->h) != CURLM_OK) {
        s_fail(g, p, E_TRANSPORT, now);
        return;
    }
    p->posting = true;
    p->t_post[k] = now;
    p->next++;
    g->sent++;
}

/* Closed loop: the next line once the previous one is acknowledged and answered.
 * Open loop: the next line once it is due (and the previous one acknowledged). */
static void s_maybe_send(gen_t *g, person_t *p, double now)
{
    if (p->state != P_ACTIVE || p->posting || p->next >= SCRIPT_LEN)
        return;
    if (s_open(g)) {
        if (now >= p->start + p->next * g->think) {
            if (p->next > 0 && now - (p->start + p->next * g->think) > 0.005)
                g->late++;
            s_send(g, p, now);
        }
    } else if (p->answered >= p->next) {
        s_send(g, p, now);
    }
}

static void s_start_person(gen_t *g, double now)
{
    person_t *p = &g->p[g->started++];
    p->state = P_ACTIVE;
    g->in_flight++;
    p->h = curl_easy_init();
    if (p->h == NULL) {
        s_fail(g, p, E_TRANSPORT, now);
        return;
    }
    if (!s_open(g))
        p->start = now;
    s_maybe_send(g, p, now);
}

/* A webhook POST finished. */
static void s_acked(gen_t *g, person_t *p, CURLcode res, double now)
{
    long st = 0;
    int k = p->next - 1;
    curl_multi_remove_handle(g->multi, p->h);
    p->posting = false;
    if (res != CURLE_OK) {
        s_error(g, E_TRANSPORT, "%s (%s)", curl_easy_strerror(res), p->number);
        s_finish(g, p, false, now);
        return;
    }
    curl_easy_getinfo(p->h, CURLINFO_RESPONSE_CODE, &st);
    if (st != 200) {
        s_error(g, E_POST_STATUS, "HTTP %ld for %s line %d", st, p->number, k);
        s_finish(g, p, false, now);
        return;
    }
    g->acked++;
    g->last_ack = now;
    lg_sample(&g->ack, now - p->t_post[k]);
    if (p->t_post[k] >= g->steady_from && p->t_post[k] < g->steady_to)
        g->steady_acked++;
    if (p->ciu)
        s_finish(g, p, true, p->t_ciu);
    else
        s_maybe_send(g, p, now);
}

/* A reply reached the fake. */
static void s_replied(gen_t *g, const reply_ev_t *ev)
{
    person_t *p = &g->p[ev->person];
    int cum = 0;
    if (p->state != P_ACTIVE) {
        s_error(g, E_REPLY_AFTER_END, "a reply to %s after its conversation ended", p->number);
        return;
    }
    g->replies++;
    p->replies++;
    for (int k = 0; k <= p->answered && k < SCRIPT_LEN; k++)
        cum += REPLIES[k];
    if (p->answered < p->next && p->replies >= cum) {
        lg_sample(&g->reply, ev->t - p->t_post[p->answered]);
        if (p->answered == SCRIPT_LEN - 1)
            lg_sample(&g->last, ev->t - p->t_post[p->answered]);
        p->answered++;
    }
    if (ev->ciu && p->posting) { /* finish at the ack, to count it */
        p->ciu = true;
        p->t_ciu = ev->t;
    } else if (ev->ciu) {
        s_finish(g, p, true, ev->t);
    } else if (p->answered == SCRIPT_LEN) {
        s_fail(g, p, E_NO_CIU, ev->t);
    } else {
        s_maybe_send(g, p, lg_now());
    }
}

static void s_drain_replies(gen_t *g)
{
    size_t n;
    unsigned long bad, unknown, full;
    pthread_mutex_lock(&g->fake.lock);
    n = g->fake.nev;
    memcpy(g->drain, g->fake.ev, n * sizeof(*g->drain));
    g->fake.nev = 0;
    bad = g->fake.bad;
    unknown = g->fake.unknown;
    full = g->fake.full;
    g->fake.bad = g->fake.unknown = g->fake.full = 0;
    pthread_mutex_unlock(&g->fake.lock);
    if (bad)
        s_error(g, E_FAKE_BAD_REQUEST, "%lu send requests without JSON or \"to\"", bad);
    if (unknown)
        s_error(g, E_UNKNOWN_TO, "%lu replies to numbers outside the run", unknown);
    if (full)
        s_error(g, E_FAKE_QUEUE_FULL, "%lu replies dropped", full);
    for (size_t i = 0; i < n; i++)
        s_replied(g, &g->drain[i]);
}

/* Open loop: people whose line k fell due. Due times grow with the person index for a
 * given k, so one cursor per line visits each (person, line) once. */
static void s_due(gen_t *g, double now)
{
    while (g->started < g->people && g->t0 + (double)g->started * SCRIPT_LEN / g->rate <= now) {
        g->p[g->started].start = g->t0 + (double)g->started * SCRIPT_LEN / g->rate;
        s_start_person(g, now);
    }
    for (int k = 1; k < SCRIPT_LEN; k++) {
        while (g->cursor[k] < g->started) {
            person_t *p = &g->p[g->cursor[k]];
            if (p->start + k * g->think > now)
                break;
            g->cursor[k]++;
            s_maybe_send(g, p, now);
        }
    }
}

/* The wait until the next due line, in ms for curl_multi_poll. */
static int s_wait_ms(const gen_t *g, double now)
{
    double next = now + TIMEOUT_SCAN_S;
    if (s_open(g)) {
        if (g->started < g->people)
            next = g->t0 + (double)g->started * SCRIPT_LEN / g->rate;
        for (int k = 1; k < SCRIPT_LEN; k++)
            if (g->cursor[k] < g->started) {
                double d = g->p[g->cursor[k]].start + k * g->think;
                if (d < next)
                    next = d;
            }
    }
    if (next > now + TIMEOUT_SCAN_S)
        next = now + TIMEOUT_SCAN_S;
    return next <= now ? 0 : (int)((next - now) * 1000.0) + 1;
}

static void s_timeouts(gen_t *g, double now)
{
    while (g->first_active < g->started && g->p[g->first_active].state == P_DONE)
        g->first_active++; /* people finish roughly in start order: skip the finished */
    for (long i = g->first_active; i < g->started; i++) {
        person_t *p = &g->p[i];
        if (p->state == P_ACTIVE && !p->posting && p->answered < p->next &&
            now - p->t_post[p->answered] > g->timeout)
            s_fail(g, p, E_REPLY_TIMEOUT, now);
    }
}

static int s_run(gen_t *g)
{
    double now = lg_now(), stop_at, last_scan;
    g->t0 = now;
    last_scan = now;
    if (s_open(g)) {
        /* every line k has started arriving at t0 + 6*THINK; people stop starting at the
         * last start: in between, lines arrive at exactly --rate */
        g->steady_from = g->t0 + (SCRIPT_LEN - 1) * g->think;
        g->steady_to = g->t0 + (double)(g->people - 1) * SCRIPT_LEN / g->rate;
        stop_at = g->steady_to + (SCRIPT_LEN - 1) * g->think + g->timeout + 10;
    } else {
        stop_at = now + (double)g->duration;
    }
    for (;;) {
        int running = 0, left = 0;
        CURLMsg *m;
        now = lg_now();
        if (s_open(g))
            s_due(g, now);
        else
            while (g->in_flight < g->closed && g->started < g->people)
                s_start_person(g, now);
        if (g->finished == g->people)
            break;
        if (curl_multi_perform(g->multi, &running) != CURLM_OK)
            return -EIO;
        while ((m = curl_multi_info_read(g->multi, &left)) != NULL) {
            char *priv = NULL;
            if (m->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
            s_acked(g, (person_t *)priv, m->data.result, lg_now());
        }
        s_drain_replies(g);
        now = lg_now();
        if (now - last_scan >= TIMEOUT_SCAN_S) {
            s_timeouts(g, now);
            last_scan = now;
        }
        if (now >= stop_at) {
            for (long i = 0; i < g->started; i++)
                if (g->p[i].state == P_ACTIVE)
                    s_fail(g, &g->p[i], E_CUT, now);
            g->errors[E_CUT] += (unsigned long)(g->people - g->started);
            break;
        }
        if (g->finished == g->people)
            break;
        if (curl_multi_poll(g->multi, NULL, 0, s_wait_ms(g, now), NULL) != CURLM_OK)
            return -EIO;
    }
    return 0;
}

/* The port of a "http=PORT" line of a daemon's port file; 0 when not (yet) there. */
static long s_read_port_file(const char *path)
{
    char line[128];
    long port = 0;
    FILE *fp = fopen(path, "r");
    if (fp == NULL)
        return 0;
    while (port == 0 && fgets(line, sizeof(line), fp)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (strncmp(line, "http=", 5) != 0 || cmn_parse_long(line + 5, 1, 65535, &port) < 0)
            port = 0;
    }
    fclose(fp);
    return port;
}

/* With --ingress-port-file, wait for the port, then GET base/health until 200 or the
 * deadline. 0 or -ETIMEDOUT. */
static int s_wait_ready(gen_t *g)
{
    char url[SIM_URL_MAX];
    double deadline = lg_now() + (double)g->ready_timeout;
    CURL *h;
    int r = -ETIMEDOUT;
    while (g->ingress_port_file && !g->base[0]) {
        long port = s_read_port_file(g->ingress_port_file);
        if (port > 0) {
            snprintf(g->base, sizeof(g->base), "http://127.0.0.1:%ld", port);
            snprintf(g->url, sizeof(g->url), "%s%s", g->base, g->path);
        } else if (lg_now() >= deadline) {
            return -ETIMEDOUT;
        } else {
            usleep((useconds_t)(HEALTH_POLL_S * 1e6));
        }
    }
    h = curl_easy_init();
    if (h == NULL)
        return -ENOMEM;
    snprintf(url, sizeof(url), "%s/health", g->base);
    while (lg_now() < deadline) {
        long st = 0;
        curl_easy_reset(h);
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_TIMEOUT, 2L);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, s_discard_cb);
        if (curl_easy_perform(h) == CURLE_OK &&
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st) == CURLE_OK && st == 200) {
            r = 0;
            break;
        }
        usleep((useconds_t)(HEALTH_POLL_S * 1e6));
    }
    curl_easy_cleanup(h);
    return r;
}

static void s_report(gen_t *g)
{
    unsigned long errs;
    double ack_win = g->last_ack > g->t0 ? g->last_ack - g->t0 : 1e-9;
    double done_win = g->last_done > g->t0 ? g->last_done - g->t0 : 1e-9;
    double steady_win = g->steady_to - g->steady_from;
    double steady = s_open(g) && steady_win > 0 ? (double)g->steady_acked / steady_win : -1;
    double elapsed = lg_now() - g->t0;
    double a50 = lg_pct(&g->ack, 50), a99 = lg_pct(&g->ack, 99), amax = lg_pct(&g->ack, 100);
    double r50 = lg_pct(&g->reply, 50), r99 = lg_pct(&g->reply, 99);
    double rmax = lg_pct(&g->reply, 100);
    double c50 = lg_pct(&g->last, 50), c99 = lg_pct(&g->last, 99);
    unsigned long uploads;

    pthread_mutex_lock(&g->fake.lock);
    uploads = g->fake.uploads;
    pthread_mutex_unlock(&g->fake.lock);
    if (s_open(g))
        printf("ciu-webhook-loadgen: open loop, %.0f msg/s offered, think %.2f s, %ld people, "
               "%s\n",
               g->rate, g->think, g->people, g->url);
    else
        printf("ciu-webhook-loadgen: closed loop, %ld people in flight, %ld people, %s\n",
               g->closed, g->people, g->url);
    printf("  %ld of %ld people started, %ld completed, %.2f s\n", g->started, g->people,
           g->completed, elapsed);
    printf("  webhooks sent %lu, acked %lu   %9.1f msg/s\n", g->sent, g->acked,
           (double)g->acked / ack_win);
    if (steady >= 0)
        printf("  steady state (%.1f s)          %9.1f msg/s acked, %lu sent late\n", steady_win,
               steady, g->late);
    printf("  conversations done %ld        %9.2f conv/s\n", g->completed,
           (double)g->completed / done_win);
    printf("  replies at the fake %lu, QR uploads %lu\n", g->replies, uploads);
    printf("  ack latency   p50 %8.1f ms   p99 %8.1f ms   max %8.1f ms   (%zu samples)\n", a50, a99,
           amax, g->ack.n);
    printf("  reply latency p50 %8.1f ms   p99 %8.1f ms   max %8.1f ms   (%zu samples)\n", r50, r99,
           rmax, g->reply.n);
    printf("  of which the CIU (last line) p50 %8.1f ms   p99 %8.1f ms   (%zu samples)\n", c50, c99,
           g->last.n);
    errs = lg_errors_print(g->errors, ERR_NAMES, E_COUNT, g->first_error);
    printf("RESULT msgs_per_s=%.2f convs_per_s=%.3f steady_msgs_per_s=%.2f ack_p50_ms=%.2f "
           "ack_p99_ms=%.2f ack_max_ms=%.2f reply_p50_ms=%.2f reply_p99_ms=%.2f "
           "reply_max_ms=%.2f ciu_p50_ms=%.2f ciu_p99_ms=%.2f errors=%lu people=%ld "
           "completed=%ld sent=%lu acked=%lu replies=%lu uploads=%lu late=%lu rate=%.1f "
           "closed=%ld elapsed_s=%.2f\n",
           (double)g->acked / ack_win, (double)g->completed / done_win, steady, a50, a99, amax, r50,
           r99, rmax, c50, c99, errs, g->people, g->completed, g->sent, g->acked, g->replies,
           uploads, g->late, g->rate, g->closed, elapsed);
}

static void s_usage(FILE *f)
{
    fprintf(
        f, "usage: ciu-webhook-loadgen (--url URL | --ingress-port-file F) (--rate R | "
           "--closed C) [options]\n"
           "  --url URL            ciu-ingress base, loopback only\n"
           "  --ingress-port-file F  or: ciu-ingress's --port-file, waited for\n"
           "  --rate R             open loop: R webhooks/s (person i starts at i*7/R s)\n"
           "  --closed C           closed loop: at most C people in flight\n"
           "  --people N           people to play (default: rate*duration/7 open, 1000 "
           "closed)\n"
           "  --duration S         open: seconds of arrivals when --people is not given "
           "(default 10); closed: cap of the run (default 300)\n"
           "  --think S            open: seconds between a person's lines (default 1)\n"
           "  --timeout S          a line not fully answered after S s fails (default 30)\n"
           "  --unique-names       a last and first name per person, so a CIU per person\n"
           "                       (default: everyone answers Mbengue Ibrahima)\n"
           "  --fake-port-file F   write the fake Graph API's port as http=PORT\n"
           "  --fake-threads N     libmicrohttpd threads of the fake (1-2, default 2)\n"
           "  --connections N      most connections to ingress (default 64)\n"
           "  --channel meta|twilio  signed Meta JSON (default) or Twilio forms; the fake answers\n"
           "                       both APIs\n"
           "  --public-url URL     Twilio: PUBLIC_BASE_URL, signed with the path (default\n"
           "                       $PUBLIC_BASE_URL or https://ciu.example.org)\n"
           "  --app-secret S       META_APP_SECRET (default $META_APP_SECRET or the tests')\n"
           "  --phone-number-id ID metadata.phone_number_id (default $META_PHONE_NUMBER_ID "
           "or the tests')\n"
           "  Twilio credentials: $TWILIO_ACCOUNT_SID, $TWILIO_AUTH_TOKEN, "
           "$TWILIO_WHATSAPP_NUMBER (default: the tests')\n"
           "  --path P             webhook path (default /whatsapp/webhook)\n"
           "  --number-base N      person i writes from +(N+i) (default 2439900000000)\n"
           "  --ready-timeout S    wait at most S s for GET /health 200 (default 60)\n");
}

static int s_parse_double(const char *s, double min, double max, double *ret)
{
    char *end = NULL;
    double v;
    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || *end != '\0' || !(v >= min && v <= max))
        return -EINVAL;
    *ret = v;
    return 0;
}

static int s_parse_args(gen_t *g, int argc, char **argv)
{
    static const struct option opts[] = {{"url", required_argument, NULL, 'u'},
                                         {"rate", required_argument, NULL, 'r'},
                                         {"closed", required_argument, NULL, 'c'},
                                         {"people", required_argument, NULL, 'n'},
                                         {"duration", required_argument, NULL, 'd'},
                                         {"think", required_argument, NULL, 't'},
                                         {"timeout", required_argument, NULL, 'T'},
                                         {"fake-port-file", required_argument, NULL, 'f'},
                                         {"fake-threads", required_argument, NULL, 'F'},
                                         {"connections", required_argument, NULL, 'C'},
                                         {"app-secret", required_argument, NULL, 's'},
                                         {"phone-number-id", required_argument, NULL, 'i'},
                                         {"path", required_argument, NULL, 'p'},
                                         {"number-base", required_argument, NULL, 'b'},
                                         {"ready-timeout", required_argument, NULL, 'R'},
                                         {"ingress-port-file", required_argument, NULL, 'I'},
                                         {"channel", required_argument, NULL, 'x'},
                                         {"public-url", required_argument, NULL, 'P'},
                                         {"unique-names", no_argument, NULL, 'U'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *url = NULL, *env;
    long base = 2439900000000L;
    int o, r = 0;

    g->people = 0;
    g->duration = 0;
    g->think = 1.0;
    g->timeout = 30;
    g->threads = 2;
    g->connections = 64;
    g->ready_timeout = 60;
    g->path = "/whatsapp/webhook";
    env = getenv("META_APP_SECRET");
    g->secret = env && *env ? env : "0123456789abcdef0123456789abcdef";
    env = getenv("META_PHONE_NUMBER_ID");
    g->phone_id = env && *env ? env : "106540352242922";
    env = getenv("TWILIO_ACCOUNT_SID");
    g->twilio_sid = env && *env ? env : "AC0123456789abcdef0123456789abcdef";
    env = getenv("TWILIO_AUTH_TOKEN");
    g->twilio_token = env && *env ? env : "f00dfeedf00dfeedf00dfeedf00dfeed";
    env = getenv("TWILIO_WHATSAPP_NUMBER");
    g->twilio_number = env && *env ? env : "+14155238886";
    if (strncmp(g->twilio_number, "whatsapp:", 9) == 0)
        g->twilio_number += 9;
    env = getenv("PUBLIC_BASE_URL");
    g->public_url = env && *env ? env : "https://ciu.example.org";
    while ((o = getopt_long(argc, argv, "u:r:c:n:d:t:T:f:F:C:s:i:p:b:R:I:x:P:Uh", opts, NULL)) !=
           -1) {
        switch (o) {
        case 'u':
            url = optarg;
            break;
        case 'r':
            r = s_parse_double(optarg, 0.01, 1e6, &g->rate);
            break;
        case 'c':
            r = cmn_parse_long(optarg, 1, CLOSED_MAX, &g->closed);
            break;
        case 'n':
            r = cmn_parse_long(optarg, 1, PEOPLE_MAX, &g->people);
            break;
        case 'd':
            r = cmn_parse_long(optarg, 1, 86400, &g->duration);
            break;
        case 't':
            r = s_parse_double(optarg, 0, 3600, &g->think);
            break;
        case 'T':
            r = s_parse_double(optarg, 0.1, 3600, &g->timeout);
            break;
        case 'f':
            g->port_file = optarg;
            break;
        case 'F':
            r = cmn_parse_long(optarg, 1, 2, &g->threads);
            break;
        case 'C':
            r = cmn_parse_long(optarg, 1, 1000, &g->connections);
            break;
        case 's':
            g->secret = optarg;
            break;
        case 'i':
            g->phone_id = optarg;
            break;
        case 'p':
            g->path = optarg;
            break;
        case 'b':
            r = cmn_parse_long(optarg, 10000000L, 999999999999999L, &base);
            break;
        case 'R':
            r = cmn_parse_long(optarg, 1, 3600, &g->ready_timeout);
            break;
        case 'x':
            if (strcmp(optarg, "twilio") == 0)
                g->twilio = true;
            else if (strcmp(optarg, "meta") != 0)
                r = -EINVAL;
            break;
        case 'P':
            g->public_url = optarg;
            break;
        case 'U':
            g->unique_names = true;
            break;
        case 'I':
            g->ingress_port_file = optarg;
            break;
        case 'h':
            s_usage(stdout);
            exit(0);
        default:
            r = -EINVAL;
        }
        if (r < 0) {
            fprintf(stderr, "ciu-webhook-loadgen: bad value '%s' for an option\n", optarg);
            return -EINVAL;
        }
    }
    if (optind != argc || (url == NULL) == (g->ingress_port_file == NULL) ||
        (g->rate > 0) == (g->closed > 0) || g->path[0] != '/') {
        s_usage(stderr);
        return -EINVAL;
    }
    g->number_base = base;
    if (g->people == 0)
        g->people = g->rate > 0
                        ? (long)(g->rate * (double)(g->duration ? g->duration : 10) / SCRIPT_LEN)
                        : 1000;
    if (g->people < 1)
        g->people = 1;
    if (g->duration == 0)
        g->duration = 300;
    if (url == NULL)
        return 0; /* base and url once the port file is there */
    if (sim_base_url(g->base, sizeof(g->base), url) < 0 || !sim_url_is_loopback(g->base)) {
        fprintf(stderr, "ciu-webhook-loadgen: --url must be an http:// loopback URL\n");
        return -EINVAL;
    }
    snprintf(g->url, sizeof(g->url), "%s%s", g->base, g->path);
    return 0;
}

/* Allocate people, samples, the multi handle. 0 or -ENOMEM. */
static int s_setup(gen_t *g)
{
    size_t cap = (size_t)g->people * SCRIPT_LEN;
    g->nonce = (unsigned)getpid() ^ (unsigned)time(NULL);
    g->p = calloc((size_t)g->people, sizeof(*g->p));
    g->drain = calloc(EVENTS_MAX, sizeof(*g->drain));
    g->multi = curl_multi_init();
    if (!g->p || !g->drain || !g->multi || lg_samples_init(&g->ack, cap) < 0 ||
        lg_samples_init(&g->reply, cap) < 0 || lg_samples_init(&g->last, (size_t)g->people) < 0)
        return -ENOMEM;
    curl_multi_setopt(g->multi, CURLMOPT_MAX_HOST_CONNECTIONS, g->connections);
    curl_multi_setopt(g->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, g->connections);
    curl_multi_setopt(g->multi, CURLMOPT_MAXCONNECTS, g->connections);
    for (long i = 0; i < g->people; i++) {
        person_t *p = &g->p[i];
        snprintf(p->number, sizeof(p->number), "+%lld", g->number_base + i);
    }
    return 0;
}

static void s_teardown(gen_t *g)
{
    for (long i = 0; g->p && i < g->people; i++) {
        person_t *p = &g->p[i];
        if (p->h) {
            if (p->posting)
                curl_multi_remove_handle(g->multi, p->h);
            curl_easy_cleanup(p->h);
        }
        free(p->body);
        curl_slist_free_all(p->hdrs);
    }
    free(g->p);
    free(g->drain);
    lg_samples_free(&g->ack);
    lg_samples_free(&g->reply);
    lg_samples_free(&g->last);
    curl_multi_cleanup(g->multi);
}

int main(int argc, char **argv)
{
    gen_t g = {0};
    int rc = 1, r;

    if (s_parse_args(&g, argc, argv) < 0)
        return 2;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    pthread_mutex_init(&g.fake.lock, NULL);
    if (s_setup(&g) < 0) {
        fprintf(stderr, "ciu-webhook-loadgen: out of memory\n");
        goto out_setup;
    }
    if ((r = s_fake_start(&g)) < 0) {
        fprintf(stderr, "ciu-webhook-loadgen: cannot start the fake Graph API: %s\n", strerror(-r));
        goto out_fake;
    }
    printf("FAKE_PORT=%d\n", g.fake.port);
    fflush(stdout);
    if (g.port_file && (r = s_write_port_file(g.port_file, g.fake.port)) < 0) {
        fprintf(stderr, "ciu-webhook-loadgen: cannot write %s: %s\n", g.port_file, strerror(-r));
        goto out_fake;
    }
    if (s_wait_ready(&g) < 0) {
        fprintf(stderr, "ciu-webhook-loadgen: %s/health did not answer 200 within %ld s\n",
                g.base[0] ? g.base : g.ingress_port_file, g.ready_timeout);
        goto out_fake;
    }
    if (s_run(&g) < 0) {
        fprintf(stderr, "ciu-webhook-loadgen: libcurl multi failed\n");
        goto out_fake;
    }
    s_report(&g);
    rc = 0;
    for (int e = 0; e < E_COUNT; e++)
        if (g.errors[e])
            rc = 1;
    if (g.completed != g.people)
        rc = 1;
out_fake:
    /* the fake's threads use g.multi (wakeup): stop them before the multi goes */
    s_fake_stop(&g.fake);
out_setup:
    s_teardown(&g);
    pthread_mutex_destroy(&g.fake.lock);
    curl_global_cleanup();
    return rc;
}
