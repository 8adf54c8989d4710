/* ciu-chat: talk to the CIU bot from a terminal through the simulator API.
 *
 *   ciu-chat [--url URL] [--history] +243810000001          interactive chat
 *   ciu-chat [--url URL] [--wait S] --send "Bonjour" +243...  send one message, print replies
 *
 * A thread long-polls GET /sim/messages (wait=25) and prints what the bot sends;
 * the main thread reads lines from stdin and POSTs them. See docs/simulator.md.
 * Exit status: 0 ok, 1 error (server unreachable, message refused, no reply with
 * --send), 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "common/cmn_str.h"
#include "sim_client.h"

#define LINE_MAX_BYTES 4096 /* longest line read from stdin */
#define POLL_WAIT 25        /* long-poll seconds */
#define QUIET_MS 1500       /* after a reply, stop waiting once the bot is quiet this long */

typedef struct {
    char base[SIM_URL_MAX / 2];
    char number[20];
    char cursor[SIM_CURSOR_MAX];
    const char *send_text; /* --send, or NULL for interactive */
    long wait_s;           /* --send / EOF: how long to wait for replies */
    bool history;          /* print messages sent before we started */
    bool tty;              /* stdout is a terminal */

    pthread_mutex_t lock;
    pthread_cond_t cond;
    atomic_bool stop;
    unsigned long received;   /* messages printed so far (under lock) */
    struct timespec last_rx;  /* when the last one arrived (under lock) */
} chat_t;

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void s_usage(FILE *f)
{
    fprintf(f,
            "usage: ciu-chat [--url URL] [--history] NUMBER\n"
            "       ciu-chat [--url URL] [--wait SECONDS] --send TEXT NUMBER\n"
            "Chat with the CIU bot through the simulator API as NUMBER (+ and 8-15 digits).\n"
            "  --url URL       base URL of ciu-ingress (default http://127.0.0.1:$CIU_HTTP_PORT,\n"
            "                  or :8000)\n"
            "  --send TEXT     send one message, print the replies, exit\n"
            "  --wait SECONDS  how long --send (or end of input) waits for replies (default 10)\n"
            "  --history       also print what the bot sent to NUMBER before\n");
}

/* Abort transfers (the 25 s long-poll) soon after stop is set. */
static int s_progress_cb(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    chat_t *c = arg;
    return atomic_load(&c->stop) ? 1 : 0;
}

static CURL *s_easy(chat_t *c, cmn_str_t *body)
{
    CURL *h = curl_easy_init();
    if (!h)
        return NULL;
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sim_write_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, s_progress_cb);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, c);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "ciu-chat/1");
    return h;
}

/* One GET /sim/messages. Returns the HTTP status (>0) or a negative errno-like code
 * with *cerr set on transport errors. */
static long s_get(chat_t *c, CURL *h, cmn_str_t *body, int wait, CURLcode *cerr)
{
    char url[SIM_URL_MAX];
    long status = 0;
    if (sim_poll_url(url, sizeof(url), c->base, c->number, c->cursor, wait) < 0)
        return -E2BIG;
    cmn_str_reset(body);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)wait + 10);
    *cerr = curl_easy_perform(h);
    if (*cerr != CURLE_OK)
        return -EIO;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

static int s_print_msg(const sim_msg_t *m, void *arg)
{
    chat_t *c = arg;
    const char *t = m->text;
    pthread_mutex_lock(&c->lock);
    if (c->tty) {
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        printf("[%02d:%02d] ", tm.tm_hour, tm.tm_min);
    }
    fputs("CIU> ", stdout);
    /* continuation lines indented under the text */
    for (const char *nl; (nl = strchr(t, '\n')) != NULL; t = nl + 1) {
        fwrite(t, 1, (size_t)(nl - t) + 1, stdout);
        fputs(c->tty ? "             " : "     ", stdout);
    }
    fputs(t, stdout);
    fputc('\n', stdout);
    if (m->media_url) {
        char url[SIM_URL_MAX];
        if (sim_media_url(url, sizeof(url), c->base, m->media_url) == 0)
            printf("%s[image] %s\n", c->tty ? "             " : "     ", url);
    }
    fflush(stdout);
    c->received++;
    clock_gettime(CLOCK_MONOTONIC, &c->last_rx);
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    return 0;
}

/* Sleep up to ms, waking early when stop is set. */
static void s_pause(chat_t *c, long ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&c->lock);
    while (!atomic_load(&c->stop))
        if (pthread_cond_timedwait(&c->cond, &c->lock, &ts) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&c->lock);
}

static void *s_poll_thread(void *arg)
{
    chat_t *c = arg;
    cmn_str_t body = CMN_STR_INIT(SIM_POLL_BODY_MAX);
    CURL *h = s_easy(c, &body);
    long backoff_ms = 1000;
    bool lost = false;
    if (!h) {
        fprintf(stderr, "ciu-chat: out of memory\n");
        return NULL;
    }
    while (!atomic_load(&c->stop)) {
        CURLcode cerr = CURLE_OK;
        long st = s_get(c, h, &body, POLL_WAIT, &cerr);
        if (atomic_load(&c->stop))
            break;
        int n = st == 200 ? sim_poll_decode(cmn_str_cstr(&body), body.len, s_print_msg, c,
                                            c->cursor)
                          : -EIO;
        if (n >= 0) {
            if (lost)
                fprintf(stderr, "ciu-chat: connection back\n");
            lost = false;
            backoff_ms = 1000;
            continue;
        }
        if (st == 400 && c->cursor[0]) {
            c->cursor[0] = '\0'; /* stale cursor: the stack was restarted */
            continue;
        }
        if (!lost)
            fprintf(stderr, "ciu-chat: connection lost (%s), retrying...\n",
                    st < 0 ? curl_easy_strerror(cerr) : st == 200 ? "bad answer" : "HTTP error");
        lost = true;
        s_pause(c, backoff_ms);
        backoff_ms = backoff_ms * 2 > 15000 ? 15000 : backoff_ms * 2;
    }
    curl_easy_cleanup(h);
    cmn_str_free(&body);
    return NULL;
}

static void s_unreachable(const chat_t *c, CURLcode cerr)
{
    fprintf(stderr, "ciu-chat: cannot reach %s: is the stack running? (make run) [%s]\n",
            c->base, curl_easy_strerror(cerr));
}

/* Fetch the current cursor (and print the history when asked). 0 or -EIO. */
static int s_start(chat_t *c)
{
    cmn_str_t body = CMN_STR_INIT(SIM_POLL_BODY_MAX);
    CURL *h = s_easy(c, &body);
    int r = -EIO;
    CURLcode cerr = CURLE_OK;
    if (!h) {
        cmn_str_free(&body);
        return -ENOMEM;
    }
    long st = s_get(c, h, &body, 0, &cerr);
    if (st < 0) {
        s_unreachable(c, cerr);
        goto out;
    }
    if (st == 404) {
        fprintf(stderr, "ciu-chat: %s has no simulator (404): start the stack with "
                        "CIU_SIMULATOR=true\n", c->base);
        goto out;
    }
    if (st != 200 || sim_poll_decode(cmn_str_cstr(&body), body.len,
                                     c->history ? s_print_msg : NULL, c, c->cursor) < 0) {
        fprintf(stderr, "ciu-chat: unexpected answer from %s/sim/messages (HTTP %ld)\n",
                c->base, st);
        goto out;
    }
    r = 0;
out:
    curl_easy_cleanup(h);
    cmn_str_free(&body);
    return r;
}

/* POST one message. 0, or -EIO after printing why. */
static int s_send(chat_t *c, CURL *h, cmn_str_t *resp, const char *text)
{
    char url[SIM_URL_MAX];
    char *json = sim_post_body(c->number, text);
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    long st = 0;
    int r = -EIO;
    if (!json || !hdr) {
        fprintf(stderr, "ciu-chat: cannot encode the message (invalid UTF-8?)\n");
        goto out;
    }
    snprintf(url, sizeof(url), "%s/sim/messages", c->base);
    cmn_str_reset(resp);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, json);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 15L);
    CURLcode cerr = curl_easy_perform(h);
    if (cerr != CURLE_OK) {
        s_unreachable(c, cerr);
        goto out;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
    if (st != 202) {
        char why[256];
        sim_error_text(cmn_str_cstr(resp), resp->len, why, sizeof(why));
        fprintf(stderr, "ciu-chat: message refused: HTTP %ld%s%s\n", st, why[0] ? ": " : "",
                why);
        goto out;
    }
    r = 0;
out:
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdr);
    free(json);
    return r;
}

/* Wait for replies to what we sent: until at least one message arrived after `since`
 * and the bot was then quiet for QUIET_MS, or wait_s passed. True when any arrived. */
static bool s_drain(chat_t *c, unsigned long since)
{
    double deadline = s_now() + (double)c->wait_s;
    bool got = false;
    for (;;) {
        pthread_mutex_lock(&c->lock);
        got = c->received > since;
        double last = (double)c->last_rx.tv_sec + c->last_rx.tv_nsec / 1e9;
        pthread_mutex_unlock(&c->lock);
        double now = s_now();
        if (now >= deadline || (got && now - last >= QUIET_MS / 1000.0))
            break;
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return got;
}

static int s_parse_args(chat_t *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"url", required_argument, NULL, 'u'}, {"send", required_argument, NULL, 's'},
        {"wait", required_argument, NULL, 'w'}, {"history", no_argument, NULL, 'H'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0}};
    const char *url = NULL;
    int o;
    c->wait_s = 10;
    while ((o = getopt_long(argc, argv, "u:s:w:Hh", opts, NULL)) != -1) {
        switch (o) {
        case 'u':
            url = optarg;
            break;
        case 's':
            c->send_text = optarg;
            break;
        case 'w':
            if (cmn_parse_long(optarg, 0, 3600, &c->wait_s) < 0) {
                fprintf(stderr, "ciu-chat: --wait wants seconds between 0 and 3600\n");
                return -EINVAL;
            }
            break;
        case 'H':
            c->history = true;
            break;
        case 'h':
            s_usage(stdout);
            exit(0);
        default:
            s_usage(stderr);
            return -EINVAL;
        }
    }
    if (optind != argc - 1) {
        s_usage(stderr);
        return -EINVAL;
    }
    if (!sim_number_valid(argv[optind])) {
        fprintf(stderr, "ciu-chat: invalid number '%s': want '+' and 8 to 15 digits, "
                        "e.g. +243810000001\n", argv[optind]);
        return -EINVAL;
    }
    cmn_strlcpy(c->number, argv[optind], sizeof(c->number));
    if (url) {
        if (sim_base_url(c->base, sizeof(c->base), url) < 0) {
            fprintf(stderr, "ciu-chat: invalid --url '%s': want http://host:port\n", url);
            return -EINVAL;
        }
    } else {
        sim_default_url(c->base, sizeof(c->base));
    }
    return 0;
}

/* Read stdin line by line and send each non-empty line. 0 at EOF, -EIO on send failure. */
static int s_read_loop(chat_t *c, CURL *h, cmn_str_t *resp, bool *sent_any, unsigned long *mark)
{
    char line[LINE_MAX_BYTES];
    bool skipping = false;
    while (fgets(line, sizeof(line), stdin)) {
        size_t n = strlen(line);
        bool complete = n > 0 && line[n - 1] == '\n';
        if (skipping) {
            skipping = !complete;
            continue;
        }
        if (!complete && !feof(stdin)) {
            fprintf(stderr, "ciu-chat: line too long (max %d bytes), not sent\n",
                    LINE_MAX_BYTES - 2);
            skipping = true;
            continue;
        }
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n == 0)
            continue;
        pthread_mutex_lock(&c->lock);
        *mark = c->received;
        pthread_mutex_unlock(&c->lock);
        if (s_send(c, h, resp, line) < 0)
            return -EIO;
        *sent_any = true;
    }
    return 0;
}

int main(int argc, char **argv)
{
    chat_t c = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    cmn_str_t resp = CMN_STR_INIT(SIM_POST_BODY_MAX);
    CURL *h = NULL;
    pthread_t poller;
    bool started = false, sent_any = false;
    unsigned long mark = 0;
    int rc = 1;

    if (s_parse_args(&c, argc, argv) < 0)
        return 2;
    c.tty = isatty(STDOUT_FILENO);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    if (s_start(&c) < 0)
        goto out_global;
    h = s_easy(&c, &resp);
    if (!h || pthread_create(&poller, NULL, s_poll_thread, &c) != 0)
        goto out_easy;
    started = true;
    if (c.send_text) {
        pthread_mutex_lock(&c.lock);
        mark = c.received;
        pthread_mutex_unlock(&c.lock);
        if (s_send(&c, h, &resp, c.send_text) < 0)
            goto out_thread;
        if (!s_drain(&c, mark)) {
            fprintf(stderr, "ciu-chat: no reply within %ld s\n", c.wait_s);
            goto out_thread;
        }
        rc = 0;
        goto out_thread;
    }
    if (isatty(STDIN_FILENO))
        fprintf(stderr, "ciu-chat: talking to CIU at %s as %s. Type a message and press "
                        "Enter; Ctrl-D quits.\n", c.base, c.number);
    if (s_read_loop(&c, h, &resp, &sent_any, &mark) < 0)
        goto out_thread;
    /* Piped input: give the bot time to answer the last line before leaving. */
    if (sent_any && !isatty(STDIN_FILENO))
        s_drain(&c, mark);
    rc = 0;
out_thread:
    atomic_store(&c.stop, true);
    pthread_mutex_lock(&c.lock);
    pthread_cond_broadcast(&c.cond);
    pthread_mutex_unlock(&c.lock);
    if (started)
        pthread_join(poller, NULL);
out_easy:
    curl_easy_cleanup(h);
out_global:
    cmn_str_free(&resp);
    curl_global_cleanup();
    return rc;
}
