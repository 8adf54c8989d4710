/* conv_server: inbox -> session + replies + CIU requests, per person. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ciu_cities.h"
#include "common/cmn_i18n.h"
#include "common/cmn_log.h"
#include "common/cmn_outbox.h"
#include "common/cmn_retention.h"
#include "conv_flood.h"
#include "conv_flow.h"
#include "conv_server.h"
#include "conv_store.h"

#define S_MODULE "conversation"
#define S_MARKER_KEEP_MS (7LL * 24 * 3600 * 1000)
#define S_CODES_MAX 10 /* CIUs of one number listed by CODE */
#define S_ABANDONED_BATCH 500 /* expired conversations announced per scan */

struct conv_server {
    cmn_daemon_t *d;
    cmn_retention_job_t *retention; /* CIU_RETENTION_DAYS on a timer */
    cmn_i18n_t *texts;
    ciu_cities_t *cities;
    conv_flood_limits_t flood;
    cmn_push_t *to_engine;
    cmn_push_t *to_sender;
    cmn_stage_t st; /* PULL, PUB, share, the batch's people, announcements */
    const cmn_keyset_t *batch;
    cmn_counter_t *m_messages;
    cmn_counter_t *m_requests;
    cmn_counter_t *m_flood;
    cmn_counter_t *m_expired;
    cmn_histogram_t *m_step; /* one message through flood check, flow and store */
};

/* One person, during the transaction. */
typedef struct {
    const char *user;
    char channel[16];
    char trace[CMN_ID_LEN];
    const char *to;     /* the number of the message being handled */
    conv_stored_t read; /* the session as stored */
    conv_session_t cur; /* the session now */
    bool have;          /* cur is a session (false: none, or ended) */
    conv_flood_state_t flood;
    int64_t last_outbox; /* the last reply queued, 0 if none */
    int handled;
} s_person_t;

static double s_mono_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int s_this_year(void)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    return tm.tm_year + 1900;
}

static void s_copy(char *dst, size_t size, const char *src)
{
    cmn_strlcpy(dst, src ? src : "", size);
}

/* When the person sent the message: its arrival time, unless that is
 * missing or impossible (then: now). */
static int64_t s_arrival(int64_t received_ms, int64_t now)
{
    if (received_ms <= 0 || received_ms - CONV_CLOCK_SKEW_MS > now)
        return now;
    return received_ms;
}

static void s_msg(cmn_msg_t *m, const char *type, const s_person_t *p)
{
    cmn_msg_init(m, type, p->trace);
    cmn_strlcpy(m->user, p->user, sizeof(m->user));
    cmn_strlcpy(m->channel, p->channel, sizeof(m->channel));
}

/* Queue a reply; ui: the interactive form for channels with buttons. */
static int s_reply(cmn_store_t *st, s_person_t *p, const char *body, const char *ui)
{
    cmn_reply_t reply = {.channel = p->channel,
                         .user = p->user,
                         .to = p->to,
                         .body = body,
                         .trace = p->trace,
                         .ui = ui};
    return cmn_outbox_queue(st, &reply, cmn_now_ms(), &p->last_outbox);
}

/* The last reply of a step shows the gender choices or the confirmation as
 * a list or buttons on channels that have them (Meta). */
static int s_reply_last(cmn_store_t *st, s_person_t *p, const char *body,
                        const conv_session_t *next)
{
    char ui[24] = "";

    /* "did you mean ...?" is a yes/no question like the confirmation */
    if (next->step == CONV_STEP_GENDER || next->step == CONV_STEP_CONFIRM ||
        next->step == CONV_STEP_CITY_SUGGEST)
        snprintf(ui, sizeof(ui), "%s:%s", next->step == CONV_STEP_GENDER ? "gender" : "confirm",
                 next->lang[0] ? next->lang : "fr");
    return s_reply(st, p, body, ui[0] ? ui : NULL);
}

/* A reply from a text of the language files. */
static int s_reply_text(conv_server_t *s, cmn_store_t *st, s_person_t *p, const char *lang,
                        const char *key, const char *const *vars)
{
    cmn_str_t txt = CMN_STR_INIT(CONV_REPLY_MAX);
    int r = cmn_i18n_format(s->texts, lang, key, vars, &txt);

    if (r == 0)
        r = s_reply(st, p, cmn_str_cstr(&txt), NULL);
    cmn_str_free(&txt);
    return r;
}

/* The CODE command: the CIUs this number obtained (a family on one phone:
 * up to S_CODES_MAX, code_list), its one CIU (code_again), or code_none. */
static int s_code(conv_server_t *s, cmn_store_t *st, s_person_t *p, const char *lang)
{
    char cius[S_CODES_MAX][16], ciu[16];
    int n = 0;
    int r = conv_store_number_cius(st, p->user, S_CODES_MAX, cius, &n);

    if (r == 0 && n < 2)
        r = conv_store_last_ciu(st, p->user, ciu);
    if (r < 0)
        return r;
    if (n >= 2) {
        char list[S_CODES_MAX * 20] = "";
        size_t len = 0;
        for (int i = 0; i < n; i++)
            len +=
                (size_t)snprintf(list + len, sizeof(list) - len, "%s*%s*", i ? "\n" : "", cius[i]);
        const char *vars[] = {"ciu", list, NULL};
        return s_reply_text(s, st, p, lang, "code_list", vars);
    }
    const char *vars[] = {"ciu", ciu, NULL};
    return s_reply_text(s, st, p, lang, ciu[0] ? "code_again" : "code_none", vars);
}

/* The person confirmed: ask the engine for the CIU (after commit). */
static int s_request(conv_server_t *s, cmn_store_t *st, s_person_t *p, const conv_session_t *next)
{
    conv_request_t rq = {p->user, p->channel, p->to, p->trace, next};
    cmn_msg_t m;
    int64_t id = 0;
    int r = conv_store_request(st, &rq, cmn_now_ms(), &id);

    if (r < 0)
        return r;
    s_msg(&m, CMN_MSG_CIU_REQUEST, p);
    m.row = id;
    cmn_announce_push(s->st.ann, s->to_engine, &m);
    s_msg(&m, CMN_EV_CIU_REQUESTED, p);
    cmn_announce_pub(s->st.ann, s->st.pub, &m);
    cmn_announce_count(s->st.ann, s->m_requests, 1);
    return 0;
}

/* The question a session waits on ("last_name", ... "confirm"), or NULL
 * when no conversation is open at that step. */
static const char *s_question(int step, int return_step)
{
    switch (step) {
    case CONV_STEP_LAST:
        return "last_name";
    case CONV_STEP_FIRST:
        return "first_name";
    case CONV_STEP_YEAR:
        return "birth_year";
    case CONV_STEP_CITY:
    case CONV_STEP_CITY_SUGGEST:
        return "city";
    case CONV_STEP_GENDER:
        return "gender";
    case CONV_STEP_CONFIRM:
        return "confirm";
    case CONV_STEP_LANG: /* the language menu, opened during a question or not */
        return return_step != CONV_STEP_LANG ? s_question(return_step, 0) : NULL;
    default:
        return NULL;
    }
}

static void s_conv_event(conv_server_t *s, const s_person_t *p, const char *type,
                         const char *question, int64_t duration_ms)
{
    cmn_msg_t m;
    s_msg(&m, type, p);
    cmn_strlcpy(m.detail, question ? question : "", sizeof(m.detail));
    m.duration_ms = duration_ms > 0 ? duration_ms : 0;
    cmn_announce_pub(s->st.ann, s->st.pub, &m);
}

/* The conversation's events for one step, and its start time in the next
 * session: completed (the answers were confirmed), abandoned (cancelled,
 * restarted or expired at a question), started (a first question asked). */
static void s_conv_events(conv_server_t *s, const s_person_t *p, const conv_session_t *in,
                          conv_result_t *res, int64_t at)
{
    conv_session_t *next = &res->session;
    const char *was = in && in->started_ms > 0 ? s_question(in->step, in->return_step) : NULL;

    if (res->request_ciu) {
        s_conv_event(s, p, CMN_EV_CONV_COMPLETED, NULL,
                     in && in->started_ms > 0 ? at - in->started_ms : 0);
        next->started_ms = 0;
        return;
    }
    if (was && (res->drop_session || next->started_ms == 0))
        s_conv_event(s, p, CMN_EV_CONV_ABANDONED, was, 0);
    if (!res->drop_session && next->started_ms == 0 && s_question(next->step, next->return_step)) {
        s_conv_event(s, p, CMN_EV_CONV_STARTED, NULL, 0);
        next->started_ms = at;
    }
}

/* Run one message through the flow and queue what it says. */
static int s_step(conv_server_t *s, cmn_store_t *st, s_person_t *p, const conv_inmsg_t *m,
                  int64_t at)
{
    conv_ctx_t ctx = {s->texts, s->cities, s->d->settings.session_timeout_min * 60000LL,
                      s_this_year()};
    conv_session_t in;
    conv_result_t res;
    int r;

    if (p->have) {
        in = p->cur;
    } else { /* a new person: step NONE in the configured default language */
        memset(&in, 0, sizeof(in));
        in.step = CONV_STEP_NONE;
        s_copy(in.lang, sizeof(in.lang), s->d->settings.default_lang);
    }
    r = conv_flow_step(&ctx, &in, m->kind && strcmp(m->kind, "text") == 0, m->body ? m->body : "",
                       at, &res);
    if (r == 0 && p->have && conv_session_expired(&ctx, &p->cur, at))
        cmn_announce_count(s->st.ann, s->m_expired, 1);
    if (r == 0 && res.send_code)
        r = s_code(s, st, p, res.session.lang);
    for (int k = 0; k < res.nreplies && r == 0; k++) {
        const char *body = cmn_str_cstr(&res.replies[k]);
        r = k + 1 == res.nreplies ? s_reply_last(st, p, body, &res.session)
                                  : s_reply(st, p, body, NULL);
    }
    if (r == 0 && res.request_ciu)
        r = s_request(s, st, p, &res.session);
    if (r == 0)
        s_conv_events(s, p, p->have ? &in : NULL, &res, at);
    if (r == 0) {
        p->have = !res.drop_session;
        p->cur = res.session;
        log_debug(S_MODULE, p->trace, "step %s replies=%d%s", conv_step_str(p->cur.step),
                  res.nreplies, res.request_ciu ? " ciu-requested" : "");
    }
    conv_result_free(&res);
    return r;
}

/* One message: flood protection (counted by arrival time), then the flow. */
static int s_message(conv_server_t *s, cmn_store_t *st, s_person_t *p, const conv_inmsg_t *m,
                     int64_t now)
{
    int64_t at = s_arrival(m->received_ms, now);
    const char *lang = p->have && p->cur.lang[0] ? p->cur.lang : s->d->settings.default_lang;
    char minutes[24];

    s_copy(p->channel, sizeof(p->channel), m->channel);
    s_copy(p->trace, sizeof(p->trace), m->trace);
    p->to = m->from;
    switch (conv_flood_count(&s->flood, &p->flood, at)) {
    case CONV_FLOOD_DROP:
        cmn_announce_count(s->st.ann, s->m_flood, 1);
        return 0;
    case CONV_FLOOD_WARN: {
        const char *vars[] = {"minutes", minutes, NULL};
        cmn_announce_count(s->st.ann, s->m_flood, 1);
        log_warn(S_MODULE, p->trace, "flood protection: number ignored for %ld s",
                 s->d->settings.flood_block_s);
        snprintf(minutes, sizeof(minutes), "%ld", (s->d->settings.flood_block_s + 59) / 60);
        return s_reply_text(s, st, p, lang, "flood_warning", vars);
    }
    case CONV_FLOOD_OK:
        break;
    }
    return s_step(s, st, p, m, at);
}

/* After the person's work: wake the sender once, say the messages were
 * processed. */
static void s_announce_person(conv_server_t *s, const s_person_t *p)
{
    cmn_msg_t m;

    if (p->last_outbox) {
        s_msg(&m, CMN_MSG_OUTBOUND, p);
        m.row = p->last_outbox;
        cmn_announce_push(s->st.ann, s->to_sender, &m);
    }
    if (p->handled) {
        s_msg(&m, CMN_EV_MESSAGE_PROCESSED, p);
        cmn_announce_pub(s->st.ann, s->st.pub, &m);
        cmn_announce_count(s->st.ann, s->m_messages, (uint64_t)p->handled);
    }
}

/* Store what the person's work changed: flood count, session (conditional
 * on the version read). */
static int s_save(cmn_store_t *st, s_person_t *p, bool counted, int64_t flood_at)
{
    int r = 0;

    if (counted)
        r = conv_store_flood_save(st, p->user, &p->flood, flood_at);
    if (r == 0)
        r = p->have ? conv_store_session_save(st, p->user, &p->read, &p->cur)
                    : conv_store_session_drop(st, p->user, &p->read);
    return r;
}

/* All pending work of one person, in order: first the CIUs the engine
 * issued (they end the wait), then the messages in arrival order. */
static int s_person(conv_server_t *s, cmn_store_t *st, const char *user)
{
    s_person_t p;
    cmn_rows_t *rows = NULL;
    int64_t now = cmn_now_ms(), flood_at = 0;
    int ndone = 0, n, r;

    memset(&p, 0, sizeof(p));
    p.user = user;
    r = conv_store_done_take(st, user, &ndone);
    if (r == 0)
        r = conv_store_inbox(st, user, &rows);
    n = cmn_rows_count(rows);
    if (r < 0 || (ndone == 0 && n == 0))
        goto out;
    r = conv_store_session_load(st, user, &p.read);
    if (r == 0 && n > 0)
        r = conv_store_flood_load(st, user, &p.flood);
    if (r < 0)
        goto out;
    p.have = p.read.found;
    p.cur = p.read.s;
    if (ndone > 0 && p.have && p.cur.step == CONV_STEP_WAIT_CIU)
        conv_session_done(&p.cur, now); /* the CIU was issued: after the code,
                                           the language is kept */
    for (int i = 0; i < n && r == 0; i++) {
        conv_inmsg_t m;
        double t0 = s_mono_seconds();
        conv_store_inbox_get(rows, i, &m);
        r = s_message(s, st, &p, &m, now);
        if (r == 0)
            r = conv_store_inbox_done(st, m.id, now);
        cmn_histogram_observe(s->m_step, s_mono_seconds() - t0);
        flood_at = s_arrival(m.received_ms, now);
        p.handled++;
    }
    if (r == 0)
        r = s_save(st, &p, n > 0, flood_at);
    if (r == 0)
        s_announce_person(s, &p);
out:
    cmn_rows_destroy(&rows);
    return r;
}

static int s_tx(void *arg, cmn_store_t *st)
{
    conv_server_t *s = arg;
    int r = 0;

    for (size_t i = 0; i < cmn_keyset_count(s->batch) && r == 0; i++)
        r = s_person(s, st, cmn_keyset_key(s->batch, i));
    return r;
}

/* A set of people, in one transaction (announcements after the commit). */
static int s_work(void *arg, const cmn_keyset_t *keys)
{
    conv_server_t *s = arg;

    s->batch = keys;
    return cmn_stage_tx(s->d, s->st.ann, s_tx, s);
}

static int s_on_batch(void *arg, const cmn_msg_t *msgs, size_t n)
{
    conv_server_t *s = arg;
    return cmn_stage_batch(msgs, n, CMN_MSG_INBOUND, s->st.keys, s_work, s);
}

/* Conversations left open past the session timeout: conversation.abandoned
 * with the question reached, once each (a batch per scan). */
static int s_tx_abandoned(void *arg, cmn_store_t *st)
{
    conv_server_t *s = arg;
    cmn_rows_t *rows = NULL;
    int64_t before = cmn_now_ms() - s->d->settings.session_timeout_min * 60000LL;
    int r = conv_store_abandoned(st, before, S_ABANDONED_BATCH, &rows);

    for (int i = 0; r == 0 && i < cmn_rows_count(rows); i++) {
        const char *q = s_question((int)cmn_rows_int(rows, i, 1, 0),
                                   (int)cmn_rows_int(rows, i, 2, 0));
        s_person_t who;
        memset(&who, 0, sizeof(who));
        who.user = cmn_rows_get(rows, i, 0);
        if (q != NULL)
            s_conv_event(s, &who, CMN_EV_CONV_ABANDONED, q, 0);
    }
    cmn_rows_destroy(&rows);
    return r;
}

static int s_on_rescan(void *arg, bool at_start)
{
    conv_server_t *s = arg;
    int n = cmn_stage_scan(s->d->store, &conv_store_scan, s->st.shard, s->st.shards, s->st.keys,
                           s_work, s);

    if (n > 0)
        log_info(S_MODULE, NULL, "%s: unprocessed work of %d people picked up",
                 at_start ? "start" : "scan", n);
    if (n < 0 || s->st.shard != 0)
        return n < 0 ? n : 0;
    if (s->d->settings.session_timeout_min > 0) {
        int r = cmn_stage_tx(s->d, s->st.ann, s_tx_abandoned, s);
        if (r < 0)
            return r;
    }
    return conv_store_purge(s->d->store, cmn_now_ms(), s->d->settings.session_timeout_min * 60000LL,
                            S_MARKER_KEEP_MS, conv_flood_keep_ms(&s->flood));
}

conv_server_t *conv_server_new(cmn_daemon_t *d)
{
    conv_server_t *s = calloc(1, sizeof(*s));
    cmn_str_t err = CMN_STR_INIT(1024);
    char path[4096];
    char *cerr = NULL;

    if (s == NULL)
        return NULL;
    s->d = d;
    s->flood = (conv_flood_limits_t){(int)d->settings.flood_max, d->settings.flood_window_s * 1000,
                                     d->settings.flood_block_s * 1000};
    s->texts = cmn_daemon_texts(d);
    if (s->texts == NULL)
        goto fail;
    if (cmn_i18n_check(s->texts, &err) > 0)
        log_warn(S_MODULE, NULL, "texts missing (French is used instead): %s",
                 cmn_str_cstr(&err));
    snprintf(path, sizeof(path), "%s/cities.tsv", d->settings.share_dir);
    s->cities = ciu_cities_load(path, &cerr);
    if (s->cities == NULL) {
        log_error(S_MODULE, NULL, "CIU_SHARE_DIR: cannot load the city list: %s",
                  cerr ? cerr : "out of memory");
        free(cerr);
        goto fail;
    }
    if (cmn_stage_open(&s->st, d, d->settings.ep_conversation, d->settings.ev_conversation,
                       "CIU_CONVERSATION_EVENTS") < 0)
        goto fail;
    s->to_engine = cmn_daemon_push(d, "engine", d->settings.ep_engine);
    s->to_sender = cmn_daemon_push(d, "sender", d->settings.ep_sender);
    if (s->to_engine == NULL || s->to_sender == NULL) {
        log_error(S_MODULE, NULL,
                  "cannot set up the bus (CIU_ENGINE_ENDPOINTS, "
                  "CIU_SENDER_ENDPOINTS): %s",
                  strerror(errno));
        goto fail;
    }
    s->m_messages = cmn_metrics_counter(d->metrics, "conversation_messages_total", NULL,
                                        "Messages handled by the conversation");
    s->m_requests = cmn_metrics_counter(d->metrics, "requests_total", NULL,
                                        "Confirmed answers sent to the CIU engine");
    s->m_flood = cmn_metrics_counter(d->metrics, "flood_limited_total", NULL,
                                     "Messages warned or ignored by flood protection");
    s->m_expired = cmn_metrics_counter(d->metrics, "sessions_expired_total", NULL,
                                       "Conversations restarted after expiry");
    s->m_step = cmn_metrics_histogram(d->metrics, "conversation_step_seconds", NULL,
                                      "Time to handle one message (flood check, dialogue step, "
                                      "replies and session written)",
                                      NULL, 0);
    if (!s->m_step)
        goto fail;
    if (d->settings.retention_days > 0) { /* the retention purge, off the worker loop */
        char *url = cmn_settings_store_url(&d->settings);
        s->retention = url ? cmn_retention_start(url, d->settings.retention_days,
                                                 d->settings.retention_interval_s * 1000LL)
                           : NULL;
        free(url);
    }
    cmn_str_free(&err);
    return s;
fail:
    cmn_str_free(&err);
    conv_server_destroy(&s);
    return NULL;
}

int conv_server_run(conv_server_t *s)
{
    static const cmn_worker_ops_t ops = {.on_batch = s_on_batch,
                                         .on_rescan = s_on_rescan,
                                         .queue_stage = "conversation",
                                         .queue_sql = conv_store_queue_sql};
    return cmn_stage_run(&s->st, &ops, s);
}

int conv_server_batch(conv_server_t *s, const cmn_msg_t *msgs, size_t n)
{
    return s_on_batch(s, msgs, n);
}

int conv_server_rescan(conv_server_t *s)
{
    return s_on_rescan(s, false);
}

void conv_server_destroy(conv_server_t **p)
{
    conv_server_t *s;
    if (p == NULL || *p == NULL)
        return;
    s = *p;
    cmn_retention_stop(&s->retention);
    cmn_push_destroy(&s->to_sender);
    cmn_push_destroy(&s->to_engine);
    cmn_stage_close(&s->st);
    ciu_cities_destroy(&s->cities);
    cmn_i18n_destroy(&s->texts);
    free(s);
    *p = NULL;
}
