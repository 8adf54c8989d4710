/* ciu-loadgen: plays N simulated people through whole CIU conversations against a
 * running stack's simulator API, and reports throughput and latencies.
 *
 *   ciu-loadgen [--url http://127.0.0.1:8000] [--people 200] [--concurrency 100]
 *               [--duration 120]
 *
 * Person i uses the number +2439900000000+i. Each person fetches its cursor (GET,
 * wait=0), then for each line of the script (Bonjour, Mbengue, Ibrahima, 1997, DA, 1,
 * 1): POSTs it, long-polls (wait=10) until the bot's reply is available, and goes on
 * until a reply carries a CIU ([A-Z]{6}[0-9][A-Z]{2}[1-4]) or the script runs out.
 * One libcurl multi handle drives every person; at most --concurrency are in flight.
 * Measures per message the ack latency (POST sent -> 202 received) and the reply
 * latency (POST sent -> the long-poll returns the reply). Loopback URLs only.
 * See docs/bench.md. Exit status: 0 when every conversation completed, 1 otherwise,
 * 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "common/cmn_str.h"
#include "lg_common.h"
#include "sim_client.h"

#define PEOPLE_MAX 100000
#define CONCURRENCY_MAX 1000
#define POLL_WAIT 10      /* long-poll seconds while waiting for a reply */
#define POLLS_PER_STEP 2  /* empty long-polls tolerated per step before giving up */
#define NUMBER_BASE 2439900000000LL

static const char *const SCRIPT[] = {"Bonjour", "Mbengue", "Ibrahima", "1997", "DA", "1", "1"};
#define SCRIPT_LEN (sizeof(SCRIPT) / sizeof(SCRIPT[0]))

typedef enum { P_IDLE, P_CURSOR, P_POST, P_POLL, P_DONE } phase_t;

typedef enum {
    E_CONNECT, E_POST_STATUS, E_POLL_STATUS, E_BAD_JSON, E_NO_REPLY, E_NO_CIU, E_ABORTED,
    E_COUNT
} err_t;

static const char *const ERR_NAMES[E_COUNT] = {
    "transport", "post_status", "poll_status", "bad_json", "reply_timeout", "no_ciu",
    "cut_by_duration"};

typedef struct {
    CURL *h;
    phase_t phase;
    size_t step;        /* index in SCRIPT of the message being answered */
    int empty_polls;
    char number[24];
    char cursor[SIM_CURSOR_MAX];
    char url[SIM_URL_MAX];
    char *post_json;
    cmn_str_t body;
    double t_post;      /* when the current POST was sent */
} person_t;

typedef struct {
    char base[SIM_URL_MAX / 2];
    long people, concurrency, duration;
    CURLM *multi;
    struct curl_slist *json_hdr;
    person_t *p;
    long next, in_flight, completed;
    unsigned long acked;
    unsigned long errors[E_COUNT];
    char first_error[160]; /* the first error, for the report */
    lg_samples_t ack, reply;
} gen_t;

static int s_poll_cb(const sim_msg_t *m, void *arg)
{
    bool *found = arg;
    if (sim_find_ciu(m->text, NULL))
        *found = true;
    return 0;
}

static void s_fail(gen_t *g, person_t *p, err_t e)
{
    if (!g->first_error[0])
        snprintf(g->first_error, sizeof(g->first_error), "%s (%s, after '%s')", ERR_NAMES[e],
                 p->number, p->phase == P_CURSOR ? "-" : SCRIPT[p->step < SCRIPT_LEN ? p->step
                                                                           : SCRIPT_LEN - 1]);
    g->errors[e]++;
    p->phase = P_DONE;
}

/* Set up and add the next request for p according to its phase. */
static int s_issue(gen_t *g, person_t *p)
{
    cmn_str_reset(&p->body);
    curl_easy_reset(p->h);
    curl_easy_setopt(p->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(p->h, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(p->h, CURLOPT_WRITEFUNCTION, sim_write_cb);
    curl_easy_setopt(p->h, CURLOPT_WRITEDATA, &p->body);
    curl_easy_setopt(p->h, CURLOPT_PRIVATE, p);
    curl_easy_setopt(p->h, CURLOPT_USERAGENT, "ciu-loadgen/1");
    if (p->phase == P_POST) {
        free(p->post_json);
        p->post_json = sim_post_body(p->number, SCRIPT[p->step]);
        if (!p->post_json)
            return -ENOMEM;
        snprintf(p->url, sizeof(p->url), "%s/sim/messages", g->base);
        curl_easy_setopt(p->h, CURLOPT_POSTFIELDS, p->post_json);
        curl_easy_setopt(p->h, CURLOPT_HTTPHEADER, g->json_hdr);
        curl_easy_setopt(p->h, CURLOPT_TIMEOUT, 15L);
        p->t_post = lg_now();
    } else {
        int wait = p->phase == P_CURSOR ? 0 : POLL_WAIT;
        if (sim_poll_url(p->url, sizeof(p->url), g->base, p->number, p->cursor, wait) < 0)
            return -E2BIG;
        curl_easy_setopt(p->h, CURLOPT_TIMEOUT, (long)wait + 10);
    }
    curl_easy_setopt(p->h, CURLOPT_URL, p->url);
    return curl_multi_add_handle(g->multi, p->h) == CURLM_OK ? 0 : -EIO;
}

/* A request of p finished: account for it and move p on. */
static void s_advance(gen_t *g, person_t *p, CURLcode res)
{
    long st = 0;
    double now = lg_now();
    if (res != CURLE_OK) {
        if (!g->first_error[0])
            snprintf(g->first_error, sizeof(g->first_error), "transport: %s (%.100s)",
                     curl_easy_strerror(res), p->url);
        s_fail(g, p, E_CONNECT);
        return;
    }
    curl_easy_getinfo(p->h, CURLINFO_RESPONSE_CODE, &st);
    if (p->phase == P_POST) {
        if (st != 202) {
            s_fail(g, p, E_POST_STATUS);
            return;
        }
        g->acked++;
        lg_sample(&g->ack, now - p->t_post);
        p->phase = P_POLL;
        p->empty_polls = 0;
        return;
    }
    if (st != 200) {
        s_fail(g, p, E_POLL_STATUS);
        return;
    }
    bool ciu = false;
    int n = sim_poll_decode(cmn_str_cstr(&p->body), p->body.len, s_poll_cb, &ciu, p->cursor);
    if (n < 0) {
        s_fail(g, p, E_BAD_JSON);
        return;
    }
    if (p->phase == P_CURSOR) {
        p->phase = P_POST;
        p->step = 0;
        return;
    }
    if (n == 0) {
        if (++p->empty_polls >= POLLS_PER_STEP)
            s_fail(g, p, E_NO_REPLY);
        return;
    }
    lg_sample(&g->reply, now - p->t_post);
    if (ciu) {
        g->completed++;
        p->phase = P_DONE;
        return;
    }
    if (++p->step >= SCRIPT_LEN) {
        s_fail(g, p, E_NO_CIU);
        return;
    }
    p->phase = P_POST;
}

/* Start people until concurrency is reached or everyone has started. */
static void s_fill(gen_t *g)
{
    while (g->in_flight < g->concurrency && g->next < g->people) {
        person_t *p = &g->p[g->next++];
        p->phase = P_CURSOR;
        if (s_issue(g, p) < 0) {
            s_fail(g, p, E_CONNECT);
            continue;
        }
        g->in_flight++;
    }
}

static int s_run(gen_t *g, double *ret_elapsed)
{
    double t0 = lg_now(), stop_at = t0 + (double)g->duration;
    s_fill(g);
    while (g->in_flight > 0) {
        int running = 0, left = 0;
        if (curl_multi_perform(g->multi, &running) != CURLM_OK)
            return -EIO;
        CURLMsg *m;
        while ((m = curl_multi_info_read(g->multi, &left)) != NULL) {
            if (m->msg != CURLMSG_DONE)
                continue;
            char *priv = NULL;
            CURLcode res = m->data.result;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
            person_t *p = (person_t *)priv;
            curl_multi_remove_handle(g->multi, p->h);
            s_advance(g, p, res);
            if (p->phase != P_DONE && s_issue(g, p) < 0)
                s_fail(g, p, E_CONNECT);
            if (p->phase == P_DONE)
                g->in_flight--;
        }
        if (lg_now() >= stop_at) {
            /* duration cap: cut whoever is still in flight, start nobody new */
            for (long i = 0; i < g->next; i++) {
                person_t *p = &g->p[i];
                if (p->phase != P_DONE && p->phase != P_IDLE) {
                    curl_multi_remove_handle(g->multi, p->h);
                    s_fail(g, p, E_ABORTED);
                    g->in_flight--;
                }
            }
            break;
        }
        s_fill(g);
        if (g->in_flight > 0 && curl_multi_poll(g->multi, NULL, 0, 100, NULL) != CURLM_OK)
            return -EIO;
    }
    *ret_elapsed = lg_now() - t0;
    return 0;
}

static void s_report(gen_t *g, double elapsed)
{
    unsigned long errs;
    double el = elapsed > 0 ? elapsed : 1e-9;
    double a50 = lg_pct(&g->ack, 50), a99 = lg_pct(&g->ack, 99);
    double r50 = lg_pct(&g->reply, 50), r99 = lg_pct(&g->reply, 99);
    printf("ciu-loadgen: %ld of %ld people started, %ld completed, %.2f s, "
           "concurrency %ld, %s\n",
           g->next, g->people, g->completed, elapsed, g->concurrency, g->base);
    printf("  inbound messages acked  %8lu   %9.1f msg/s\n", g->acked, (double)g->acked / el);
    printf("  conversations done      %8ld   %9.2f conv/s\n", g->completed,
           (double)g->completed / el);
    printf("  ack latency   p50 %8.1f ms   p99 %8.1f ms   (%zu samples)\n", a50, a99, g->ack.n);
    printf("  reply latency p50 %8.1f ms   p99 %8.1f ms   (%zu samples)\n", r50, r99,
           g->reply.n);
    errs = lg_errors_print(g->errors, ERR_NAMES, E_COUNT, g->first_error);
    /* one machine-readable line for bench/run */
    printf("RESULT msgs_per_s=%.2f convs_per_s=%.3f ack_p50_ms=%.2f ack_p99_ms=%.2f "
           "reply_p50_ms=%.2f reply_p99_ms=%.2f errors=%lu people=%ld completed=%ld "
           "elapsed_s=%.2f\n",
           (double)g->acked / el, (double)g->completed / el, a50, a99, r50, r99, errs,
           g->next, g->completed, elapsed);
}

static void s_usage(FILE *f)
{
    fprintf(f, "usage: ciu-loadgen [--url URL] [--people N] [--concurrency C] [--duration S]\n"
               "  --url URL          simulator API base, loopback only (default "
               "http://127.0.0.1:$CIU_HTTP_PORT or :8000)\n"
               "  --people N         people to play, numbers +2439900000000+i (default 200)\n"
               "  --concurrency C    people in flight at once (default 100)\n"
               "  --duration S       stop after S seconds, cutting what is in flight "
               "(default 300)\n");
}

static int s_parse_args(gen_t *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"url", required_argument, NULL, 'u'},      {"people", required_argument, NULL, 'n'},
        {"concurrency", required_argument, NULL, 'c'},
        {"duration", required_argument, NULL, 'd'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *url = NULL;
    int o, r = 0;
    g->people = 200;
    g->concurrency = 100;
    g->duration = 300;
    while ((o = getopt_long(argc, argv, "u:n:c:d:h", opts, NULL)) != -1) {
        switch (o) {
        case 'u':
            url = optarg;
            break;
        case 'n':
            r = cmn_parse_long(optarg, 1, PEOPLE_MAX, &g->people);
            break;
        case 'c':
            r = cmn_parse_long(optarg, 1, CONCURRENCY_MAX, &g->concurrency);
            break;
        case 'd':
            r = cmn_parse_long(optarg, 1, 86400, &g->duration);
            break;
        case 'h':
            s_usage(stdout);
            exit(0);
        default:
            r = -EINVAL;
        }
        if (r < 0) {
            fprintf(stderr, "ciu-loadgen: bad value for an option (people 1..%d, "
                            "concurrency 1..%d, duration 1..86400)\n", PEOPLE_MAX,
                    CONCURRENCY_MAX);
            s_usage(stderr);
            return -EINVAL;
        }
    }
    if (optind != argc) {
        s_usage(stderr);
        return -EINVAL;
    }
    if (url) {
        if (sim_base_url(g->base, sizeof(g->base), url) < 0) {
            fprintf(stderr, "ciu-loadgen: invalid --url '%s'\n", url);
            return -EINVAL;
        }
    } else {
        sim_default_url(g->base, sizeof(g->base));
    }
    if (!sim_url_is_loopback(g->base)) {
        fprintf(stderr, "ciu-loadgen: refusing %s: only loopback URLs (127.0.0.1, localhost)\n",
                g->base);
        return -EINVAL;
    }
    return 0;
}

/* Allocate people and sample arrays. 0 or -ENOMEM. */
static int s_setup(gen_t *g)
{
    size_t cap = (size_t)g->people * SCRIPT_LEN;
    g->p = calloc((size_t)g->people, sizeof(*g->p));
    g->multi = curl_multi_init();
    g->json_hdr = curl_slist_append(NULL, "Content-Type: application/json");
    if (!g->p || !g->multi || !g->json_hdr || lg_samples_init(&g->ack, cap) < 0 ||
        lg_samples_init(&g->reply, cap) < 0)
        return -ENOMEM;
    curl_multi_setopt(g->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, g->concurrency + 8);
    for (long i = 0; i < g->people; i++) {
        person_t *p = &g->p[i];
        p->body = (cmn_str_t)CMN_STR_INIT(SIM_POLL_BODY_MAX);
        snprintf(p->number, sizeof(p->number), "+%lld", NUMBER_BASE + i);
        p->h = curl_easy_init();
        if (!p->h)
            return -ENOMEM;
    }
    return 0;
}

static void s_teardown(gen_t *g)
{
    for (long i = 0; g->p && i < g->people; i++) {
        person_t *p = &g->p[i];
        if (p->h) {
            curl_multi_remove_handle(g->multi, p->h);
            curl_easy_cleanup(p->h);
        }
        free(p->post_json);
        cmn_str_free(&p->body);
    }
    free(g->p);
    lg_samples_free(&g->ack);
    lg_samples_free(&g->reply);
    curl_slist_free_all(g->json_hdr);
    curl_multi_cleanup(g->multi);
}

int main(int argc, char **argv)
{
    gen_t g = {0};
    double elapsed = 0;
    int rc = 1;

    if (s_parse_args(&g, argc, argv) < 0)
        return 2;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    if (s_setup(&g) < 0) {
        fprintf(stderr, "ciu-loadgen: out of memory\n");
        goto out;
    }
    if (s_run(&g, &elapsed) < 0) {
        fprintf(stderr, "ciu-loadgen: libcurl multi failed\n");
        goto out;
    }
    s_report(&g, elapsed);
    if (g.acked == 0 && g.errors[E_CONNECT] > 0)
        fprintf(stderr, "ciu-loadgen: cannot reach %s: is the stack running? (make run)\n",
                g.base);
    rc = g.completed == g.people ? 0 : 1;
out:
    s_teardown(&g);
    curl_global_cleanup();
    return rc;
}
