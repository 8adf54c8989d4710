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
#include "conv_flood.h"
#include "conv_flow.h"
#include "conv_server.h"

#define S_MODULE "conversation"
#define S_SCAN_LIMIT 1000
#define S_MARKER_KEEP_MS (7LL * 24 * 3600 * 1000)
#define S_FLOOD_CAP 100000

typedef struct {
    char user[CMN_HEX256_LEN];
    char channel[16];
    char trace[CMN_ID_LEN];
    int64_t last_outbox;
    int64_t ciu_request;
    int handled;
} s_user_t;

struct conv_server {
    cmn_daemon_t *d;
    cmn_i18n_t *texts;
    ciu_cities_t *cities;
    conv_flood_t *flood;
    cmn_pull_t *pull;
    cmn_push_t *to_engine;
    cmn_push_t *to_sender;
    cmn_pub_t *pub;
    size_t shard, shards;
    /* the batch being processed */
    s_user_t *users;
    size_t nusers, maxusers;
    cmn_counter_t *m_messages;
    cmn_counter_t *m_requests;
    cmn_counter_t *m_flood;
    cmn_counter_t *m_expired;
};

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

static int s_load_session(cmn_store_t *st, const char *user, conv_session_t *ret, bool *ret_found)
{
    cmn_rows_t *rows = NULL;
    cmn_param_t p[] = {P_TEXT(user)};
    int r = cmn_store_query(st, "SELECT lang, step, return_step, c_last, c_first, c_year, c_city, "
                                "c_gender, updated_ms FROM sessions WHERE user_key = $1",
                            p, 1, &rows);
    if (r < 0)
        return r;
    *ret_found = cmn_rows_count(rows) == 1;
    if (*ret_found) {
        memset(ret, 0, sizeof(*ret));
        s_copy(ret->lang, sizeof(ret->lang), cmn_rows_get(rows, 0, 0));
        ret->step = (int)cmn_rows_int(rows, 0, 1, 0);
        ret->return_step = (int)cmn_rows_int(rows, 0, 2, 0);
        s_copy(ret->last, sizeof(ret->last), cmn_rows_get(rows, 0, 3));
        s_copy(ret->first, sizeof(ret->first), cmn_rows_get(rows, 0, 4));
        s_copy(ret->year, sizeof(ret->year), cmn_rows_get(rows, 0, 5));
        s_copy(ret->city, sizeof(ret->city), cmn_rows_get(rows, 0, 6));
        s_copy(ret->gender, sizeof(ret->gender), cmn_rows_get(rows, 0, 7));
        ret->updated_ms = cmn_rows_int(rows, 0, 8, 0);
    }
    cmn_rows_destroy(&rows);
    return 0;
}

static const char *s_nz(const char *s) { return s && *s ? s : NULL; }

static int s_save_session(cmn_store_t *st, const char *user, const conv_session_t *ss)
{
    cmn_param_t p[] = {P_TEXT(user),           P_TEXT(ss->lang[0] ? ss->lang : "fr"),
                       P_INT(ss->step),         P_INT(ss->return_step),
                       P_TEXT(s_nz(ss->last)),  P_TEXT(s_nz(ss->first)),
                       P_TEXT(s_nz(ss->year)),  P_TEXT(s_nz(ss->city)),
                       P_TEXT(s_nz(ss->gender)), P_INT(ss->updated_ms)};
    return cmn_store_exec(st,
                          "INSERT INTO sessions (user_key, lang, step, return_step, c_last, "
                          "c_first, c_year, c_city, c_gender, updated_ms) VALUES ($1, $2, $3, $4, "
                          "$5, $6, $7, $8, $9, $10) ON CONFLICT (user_key) DO UPDATE SET lang = "
                          "excluded.lang, step = excluded.step, return_step = "
                          "excluded.return_step, c_last = excluded.c_last, c_first = "
                          "excluded.c_first, c_year = excluded.c_year, c_city = excluded.c_city, "
                          "c_gender = excluded.c_gender, updated_ms = excluded.updated_ms",
                          p, 10, NULL);
}

static int s_queue_reply(cmn_store_t *st, s_user_t *u, const char *to, const char *body,
                         const char *trace, int64_t now)
{
    cmn_reply_t reply = {u->channel, u->user, to, body, NULL, trace, NULL};
    return cmn_outbox_queue(st, &reply, now, &u->last_outbox);
}

/* A reply that channels with buttons (Meta) show as a list or buttons:
 * the gender question, the confirmation. */
static int s_queue_choice(cmn_store_t *st, s_user_t *u, const char *to, const char *body,
                          const char *trace, int64_t now, const conv_session_t *next)
{
    char ui[24] = "";
    if (next->step == CONV_STEP_GENDER || next->step == CONV_STEP_CONFIRM)
        snprintf(ui, sizeof(ui), "%s:%s", next->step == CONV_STEP_GENDER ? "gender" : "confirm",
                 next->lang[0] ? next->lang : "fr");
    cmn_reply_t reply = {u->channel, u->user, to, body, NULL, trace, ui[0] ? ui : NULL};
    return cmn_outbox_queue(st, &reply, now, &u->last_outbox);
}

/* The CODE command: the last CIU this number obtained, or code_none. */
static int s_code_text(conv_server_t *s, cmn_store_t *st, const char *user, const char *lang,
                       cmn_str_t *out)
{
    cmn_rows_t *rows = NULL;
    cmn_param_t p[] = {P_TEXT(user)};
    int r = cmn_store_query(st, "SELECT ciu FROM user_cius WHERE user_key = $1", p, 1, &rows);
    if (r < 0)
        return r;
    if (cmn_rows_count(rows) == 1) {
        const char *vars[] = {"ciu", cmn_rows_get(rows, 0, 0), NULL};
        r = cmn_i18n_format(s->texts, lang, "code_again", vars, out);
    } else {
        const char *vars[] = {NULL};
        r = cmn_i18n_format(s->texts, lang, "code_none", vars, out);
    }
    cmn_rows_destroy(&rows);
    return r;
}

static int s_request_ciu(cmn_store_t *st, s_user_t *u, const char *to, const conv_session_t *ss,
                         const char *trace, int64_t now)
{
    char id[CMN_ID_LEN];
    cmn_rows_t *rows = NULL;
    int r = cmn_id_new(id);
    if (r < 0)
        return r;
    cmn_param_t p[] = {P_TEXT(id),        P_TEXT(u->user),     P_TEXT(u->channel),
                       P_TEXT(to),        P_TEXT(ss->lang),    P_TEXT(ss->last),
                       P_TEXT(ss->first), P_TEXT(ss->year),    P_TEXT(ss->city),
                       P_TEXT(ss->gender), P_INT(now),         P_TEXT(trace)};
    r = cmn_store_query(st, "INSERT INTO ciu_requests (req_id, user_key, channel, to_addr, lang, "
                            "c_last, c_first, c_year, c_city, c_gender, created_ms, trace) VALUES "
                            "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
                        p, 12, &rows);
    if (r == 0)
        u->ciu_request = cmn_rows_int(rows, 0, 0, 0);
    cmn_rows_destroy(&rows);
    return r;
}

/* One message of one person through flood check and flow. */
static int s_handle(conv_server_t *s, cmn_store_t *st, s_user_t *u, cmn_rows_t *rows, int i,
                    conv_session_t *ss, bool *have)
{
    const char *to = cmn_rows_get(rows, i, 2);
    const char *kind = cmn_rows_get(rows, i, 3);
    const char *body = cmn_rows_get(rows, i, 4);
    const char *trace = cmn_rows_get(rows, i, 5);
    const char *lang = *have && ss->lang[0] ? ss->lang : s->d->settings.default_lang;
    int64_t now = cmn_now_ms();
    conv_ctx_t ctx = {s->texts, s->cities, s->d->settings.session_timeout_min * 60000LL,
                      s_this_year()};
    conv_result_t res;
    int r = 0;

    s_copy(u->trace, sizeof(u->trace), trace);
    switch (conv_flood_check(s->flood, u->user, cmn_mono_ms())) {
    case CONV_FLOOD_DROP:
        cmn_counter_add(s->m_flood, 1);
        return 0;
    case CONV_FLOOD_WARN: {
        cmn_str_t txt = CMN_STR_INIT(CONV_REPLY_MAX);
        char minutes[24];
        snprintf(minutes, sizeof(minutes), "%ld", (s->d->settings.flood_block_s + 59) / 60);
        const char *vars[] = {"minutes", minutes, NULL};
        cmn_counter_add(s->m_flood, 1);
        log_warn(S_MODULE, trace, "flood protection: number ignored for %ld s",
                 s->d->settings.flood_block_s);
        r = cmn_i18n_format(s->texts, lang, "flood_warning", vars, &txt);
        if (r == 0)
            r = s_queue_reply(st, u, to, cmn_str_cstr(&txt), trace, now);
        cmn_str_free(&txt);
        return r;
    }
    case CONV_FLOOD_OK:
        break;
    }
    memset(&res, 0, sizeof(res));
    if (!*have) {
        /* A new person: step NONE in the configured default language. */
        memset(ss, 0, sizeof(*ss));
        ss->step = CONV_STEP_NONE;
    }
    if (ss->lang[0] == '\0')
        s_copy(ss->lang, sizeof(ss->lang), lang);
    r = conv_flow_step(&ctx, ss, strcmp(kind, "text") == 0, body ? body : "", now, &res);
    if (r < 0)
        return r;
    if (*have && ss->updated_ms > 0 && ctx.timeout_ms > 0 && now - ss->updated_ms > ctx.timeout_ms)
        cmn_counter_add(s->m_expired, 1);
    if (res.send_code) {
        cmn_str_t txt = CMN_STR_INIT(CONV_REPLY_MAX);
        r = s_code_text(s, st, u->user, res.session.lang[0] ? res.session.lang : lang, &txt);
        if (r == 0)
            r = s_queue_reply(st, u, to, cmn_str_cstr(&txt), trace, now);
        cmn_str_free(&txt);
    }
    for (int k = 0; k < res.nreplies && r == 0; k++)
        r = k + 1 == res.nreplies
                ? s_queue_choice(st, u, to, cmn_str_cstr(&res.replies[k]), trace, now,
                                 &res.session)
                : s_queue_reply(st, u, to, cmn_str_cstr(&res.replies[k]), trace, now);
    if (r == 0 && res.request_ciu)
        r = s_request_ciu(st, u, to, &res.session, trace, now);
    if (r == 0) {
        *have = !res.drop_session;
        *ss = res.session;
        log_debug(S_MODULE, trace, "step %s replies=%d%s", conv_step_str(ss->step), res.nreplies,
                  res.request_ciu ? " ciu-requested" : "");
    }
    conv_result_free(&res);
    return r;
}

/* All pending messages of one person, in arrival order. */
static int s_process_user(conv_server_t *s, cmn_store_t *st, s_user_t *u)
{
    cmn_rows_t *rows = NULL;
    cmn_param_t p[] = {P_TEXT(u->user)};
    conv_session_t ss;
    bool have = false;
    int r;

    memset(&ss, 0, sizeof(ss));
    r = cmn_store_query(st, "SELECT id, channel, from_addr, kind, body, trace FROM inbox WHERE "
                            "user_key = $1 AND status = 0 ORDER BY id",
                        p, 1, &rows);
    if (r < 0)
        return r;
    if (cmn_rows_count(rows) == 0)
        goto out;
    r = s_load_session(st, u->user, &ss, &have);
    for (int i = 0; i < cmn_rows_count(rows) && r == 0; i++) {
        s_copy(u->channel, sizeof(u->channel), cmn_rows_get(rows, i, 1));
        r = s_handle(s, st, u, rows, i, &ss, &have);
        if (r == 0) {
            /* Processed: the typed text and the number are no longer needed. */
            cmn_param_t m[] = {P_INT(cmn_now_ms()), P_INT(cmn_rows_int(rows, i, 0, 0))};
            r = cmn_store_exec(st, "UPDATE inbox SET status = 1, processed_ms = $1, body = NULL, "
                                   "from_addr = NULL WHERE id = $2",
                               m, 2, NULL);
            u->handled++;
        }
    }
    if (r == 0 && have)
        r = s_save_session(st, u->user, &ss);
    else if (r == 0)
        r = cmn_store_exec(st, "DELETE FROM sessions WHERE user_key = $1", p, 1, NULL);
out:
    cmn_rows_destroy(&rows);
    return r;
}

static int s_tx_users(void *arg, cmn_store_t *st)
{
    conv_server_t *s = arg;
    for (size_t i = 0; i < s->nusers; i++) {
        s_user_t *u = &s->users[i];
        u->last_outbox = u->ciu_request = 0;
        u->handled = 0;
        int r = s_process_user(s, st, u);
        if (r < 0)
            return r;
    }
    return 0;
}

static int s_process(conv_server_t *s)
{
    int r = cmn_daemon_tx(s->d, s_tx_users, s);
    if (r < 0)
        return r;
    for (size_t i = 0; i < s->nusers; i++) {
        const s_user_t *u = &s->users[i];
        cmn_msg_t m;
        cmn_counter_add(s->m_messages, (uint64_t)u->handled);
        if (u->last_outbox) {
            cmn_msg_init(&m, CMN_MSG_OUTBOUND, u->trace);
            cmn_strlcpy(m.user, u->user, sizeof(m.user));
            cmn_strlcpy(m.channel, u->channel, sizeof(m.channel));
            m.row = u->last_outbox;
            cmn_push_send(s->to_sender, &m);
        }
        if (u->ciu_request) {
            cmn_msg_init(&m, CMN_MSG_CIU_REQUEST, u->trace);
            cmn_strlcpy(m.user, u->user, sizeof(m.user));
            cmn_strlcpy(m.channel, u->channel, sizeof(m.channel));
            m.row = u->ciu_request;
            cmn_push_send(s->to_engine, &m);
            cmn_msg_init(&m, CMN_EV_CIU_REQUESTED, u->trace);
            cmn_strlcpy(m.user, u->user, sizeof(m.user));
            cmn_strlcpy(m.channel, u->channel, sizeof(m.channel));
            cmn_pub_send(s->pub, &m);
            cmn_counter_add(s->m_requests, 1);
        }
        if (u->handled) {
            cmn_msg_init(&m, CMN_EV_MESSAGE_PROCESSED, u->trace);
            cmn_strlcpy(m.user, u->user, sizeof(m.user));
            cmn_strlcpy(m.channel, u->channel, sizeof(m.channel));
            cmn_pub_send(s->pub, &m);
        }
    }
    return 0;
}

static void s_add_user(conv_server_t *s, const char *user)
{
    for (size_t i = 0; i < s->nusers; i++)
        if (strcmp(s->users[i].user, user) == 0)
            return;
    if (s->nusers < s->maxusers)
        cmn_strlcpy(s->users[s->nusers++].user, user, CMN_HEX256_LEN);
}

static int s_on_batch(void *arg, const cmn_msg_t *msgs, size_t n)
{
    conv_server_t *s = arg;
    s->nusers = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(msgs[i].type, CMN_MSG_INBOUND) == 0 && msgs[i].user[0])
            s_add_user(s, msgs[i].user);
    return s->nusers ? s_process(s) : 0;
}

/* Expired sessions lose their answers; their marker (so the next message
 * can say the session expired) goes after a week. */
static int s_purge(conv_server_t *s)
{
    int64_t now = cmn_now_ms();
    cmn_param_t p[] = {P_INT(now - s->d->settings.session_timeout_min * 60000LL)};
    cmn_param_t q[] = {P_INT(now - S_MARKER_KEEP_MS)};
    int r = cmn_store_exec(s->d->store,
                           "UPDATE sessions SET c_last = NULL, c_first = NULL, c_year = NULL, "
                           "c_city = NULL, c_gender = NULL WHERE updated_ms < $1 AND (c_last IS "
                           "NOT NULL OR c_first IS NOT NULL OR c_year IS NOT NULL OR c_city IS "
                           "NOT NULL OR c_gender IS NOT NULL)",
                           p, 1, NULL);
    if (r == 0)
        r = cmn_store_exec(s->d->store, "DELETE FROM sessions WHERE updated_ms < $1", q, 1, NULL);
    return r;
}

static int s_on_rescan(void *arg, bool at_start)
{
    conv_server_t *s = arg;
    cmn_rows_t *rows = NULL;
    cmn_param_t p[] = {P_INT(S_SCAN_LIMIT)};
    int r = cmn_store_query(s->d->store, "SELECT DISTINCT user_key FROM inbox WHERE status = 0 "
                                         "LIMIT $1",
                            p, 1, &rows);
    if (r < 0)
        return r;
    if (cmn_rows_count(rows) > 0)
        log_info(S_MODULE, NULL, "%s: unprocessed messages from %d people picked up",
                 at_start ? "start" : "scan", cmn_rows_count(rows));
    s->nusers = 0;
    for (int i = 0; i < cmn_rows_count(rows) && r == 0; i++) {
        const char *user = cmn_rows_get(rows, i, 0);
        if (cmn_bus_shard(user, s->shards) == s->shard)
            s_add_user(s, user);
        if (s->nusers == s->maxusers || (i + 1 == cmn_rows_count(rows) && s->nusers > 0)) {
            r = s_process(s);
            s->nusers = 0;
        }
    }
    cmn_rows_destroy(&rows);
    if (r == 0 && s->shard == 0)
        r = s_purge(s);
    return r;
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
    s->maxusers = (size_t)d->settings.batch_max;
    s->users = calloc(s->maxusers, sizeof(*s->users));
    if (s->users == NULL)
        goto fail;
    snprintf(path, sizeof(path), "%s/lang", d->settings.share_dir);
    s->texts = cmn_i18n_load(path, &err);
    if (s->texts == NULL) {
        log_error(S_MODULE, NULL, "CIU_SHARE_DIR: cannot load the texts: %s", cmn_str_cstr(&err));
        goto fail;
    }
    cmn_str_reset(&err);
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
    s->flood = conv_flood_new((int)d->settings.flood_max, d->settings.flood_window_s * 1000,
                              d->settings.flood_block_s * 1000, S_FLOOD_CAP);
    if (s->flood == NULL)
        goto fail;
    s->pull = cmn_daemon_pull(d, d->settings.ep_conversation, &s->shard, &s->shards);
    if (s->pull == NULL)
        goto fail;
    s->to_engine = cmn_push_new(d->bus, d->settings.ep_engine);
    s->to_sender = cmn_push_new(d->bus, d->settings.ep_sender);
    s->pub = cmn_pub_new(d->bus, d->settings.ev_conversation);
    if (s->to_engine == NULL || s->to_sender == NULL || s->pub == NULL) {
        log_error(S_MODULE, NULL, "cannot set up the bus (CIU_ENGINE_ENDPOINTS, "
                                  "CIU_SENDER_ENDPOINTS, CIU_CONVERSATION_EVENTS): %s",
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
    cmn_str_free(&err);
    return s;
fail:
    cmn_str_free(&err);
    conv_server_destroy(&s);
    return NULL;
}

int conv_server_run(conv_server_t *s)
{
    static const cmn_worker_ops_t ops = {.on_batch = s_on_batch, .on_rescan = s_on_rescan};
    return cmn_daemon_work(s->d, s->pull, &ops, s);
}

void conv_server_destroy(conv_server_t **p)
{
    conv_server_t *s;
    if (p == NULL || *p == NULL)
        return;
    s = *p;
    cmn_pub_destroy(&s->pub);
    cmn_push_destroy(&s->to_sender);
    cmn_push_destroy(&s->to_engine);
    cmn_pull_destroy(&s->pull);
    conv_flood_destroy(&s->flood);
    ciu_cities_destroy(&s->cities);
    cmn_i18n_destroy(&s->texts);
    free(s->users);
    free(s);
    *p = NULL;
}
