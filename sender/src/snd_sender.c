/* snd_sender: per-person ordered delivery from the outbox. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/cmn_log.h"
#include "snd_sender.h"

#define S_MODULE "sender"
#define S_SCAN_LIMIT 1000

typedef struct {
    int64_t row;
    char user[CMN_HEX256_LEN];
    char trace[CMN_ID_LEN];
    char channel[16];
    bool failed;
} s_sent_t;

struct snd_sender {
    cmn_daemon_t *d;
    cmn_pull_t *pull;
    cmn_pub_t *pub;
    size_t shard, shards;
    /* the batch being processed */
    char (*users)[CMN_HEX256_LEN];
    size_t nusers;
    s_sent_t *sent;
    size_t nsent, maxsent;
    cmn_counter_t *m_sent;
    cmn_counter_t *m_failed;
    cmn_histogram_t *m_delay;
};

/* Hand one row to its channel, inside the caller's transaction. */
static int s_deliver(snd_sender_t *s, cmn_store_t *st, cmn_rows_t *rows, int i, int64_t now,
                     bool *ret_failed)
{
    const char *channel = cmn_rows_get(rows, i, 1);
    int64_t row = cmn_rows_int(rows, i, 0, 0);
    int r;

    if (strcmp(channel, "sim") == 0) {
        cmn_param_t p[] = {P_TEXT(cmn_rows_get(rows, i, 2)), P_INT(row),
                           P_TEXT(cmn_rows_get(rows, i, 3)), P_TEXT(cmn_rows_get(rows, i, 4)),
                           P_INT(now)};
        r = cmn_store_exec(st, "INSERT INTO sim_messages (user_key, outbox_id, body, media_url, "
                               "created_ms) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (outbox_id) "
                               "DO NOTHING",
                           p, 5, NULL);
        if (r < 0)
            return r;
        cmn_param_t u[] = {P_INT(now), P_INT(row)};
        *ret_failed = false;
        return cmn_store_exec(st, "UPDATE outbox SET status = 1, sent_ms = $1, attempts = "
                                  "attempts + 1, to_addr = NULL WHERE id = $2",
                              u, 2, NULL);
    }
    /* No provider for this channel in this build: dead-letter, never retry. */
    cmn_param_t u[] = {P_INT(now), P_TEXT("channel not available in this deployment"),
                       P_INT(row)};
    *ret_failed = true;
    (void)s;
    return cmn_store_exec(st, "UPDATE outbox SET status = 2, attempts = attempts + 1, "
                              "next_ms = $1, last_error = $2 WHERE id = $3",
                          u, 3, NULL);
}

static int s_tx_users(void *arg, cmn_store_t *st)
{
    snd_sender_t *s = arg;
    int64_t now = cmn_now_ms();

    s->nsent = 0;
    for (size_t u = 0; u < s->nusers; u++) {
        cmn_rows_t *rows = NULL;
        cmn_param_t p[] = {P_TEXT(s->users[u]), P_INT(now)};
        int r = cmn_store_query(st, "SELECT id, channel, user_key, body, media_url, trace, "
                                    "created_ms FROM outbox WHERE user_key = $1 AND status = 0 "
                                    "AND next_ms <= $2 ORDER BY id",
                                p, 2, &rows);
        if (r < 0)
            return r;
        for (int i = 0; i < cmn_rows_count(rows); i++) {
            bool failed = false;
            r = s_deliver(s, st, rows, i, now, &failed);
            if (r < 0) {
                cmn_rows_destroy(&rows);
                return r;
            }
            if (s->nsent < s->maxsent) {
                s_sent_t *x = &s->sent[s->nsent++];
                x->row = cmn_rows_int(rows, i, 0, 0);
                x->failed = failed;
                cmn_strlcpy(x->user, s->users[u], sizeof(x->user));
                cmn_strlcpy(x->trace, cmn_rows_get(rows, i, 5), sizeof(x->trace));
                cmn_strlcpy(x->channel, cmn_rows_get(rows, i, 1), sizeof(x->channel));
            }
            cmn_histogram_observe(s->m_delay,
                                  (double)(now - cmn_rows_int(rows, i, 6, now)) / 1000.0);
        }
        cmn_rows_destroy(&rows);
    }
    return 0;
}

static int s_process(snd_sender_t *s)
{
    int r = cmn_daemon_tx(s->d, s_tx_users, s);
    if (r < 0)
        return r;
    for (size_t i = 0; i < s->nsent; i++) {
        const s_sent_t *x = &s->sent[i];
        cmn_msg_t ev;
        cmn_msg_init(&ev, x->failed ? CMN_EV_MESSAGE_FAILED : CMN_EV_MESSAGE_SENT, x->trace);
        cmn_strlcpy(ev.user, x->user, sizeof(ev.user));
        cmn_strlcpy(ev.channel, x->channel, sizeof(ev.channel));
        if (x->failed)
            cmn_strlcpy(ev.detail, "channel_unavailable", sizeof(ev.detail));
        ev.row = x->row;
        cmn_pub_send(s->pub, &ev);
        cmn_counter_add(x->failed ? s->m_failed : s->m_sent, 1);
        if (x->failed)
            log_warn(S_MODULE, x->trace, "reply %lld not delivered: channel %s not available",
                     (long long)x->row, x->channel);
        else
            log_debug(S_MODULE, x->trace, "reply %lld delivered (%s)", (long long)x->row,
                      x->channel);
    }
    return 0;
}

/* Add a user to the batch once (small batches: a linear check is enough). */
static void s_add_user(snd_sender_t *s, const char *user)
{
    for (size_t i = 0; i < s->nusers; i++)
        if (strcmp(s->users[i], user) == 0)
            return;
    cmn_strlcpy(s->users[s->nusers++], user, CMN_HEX256_LEN);
}

static int s_on_batch(void *arg, const cmn_msg_t *msgs, size_t n)
{
    snd_sender_t *s = arg;
    s->nusers = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(msgs[i].type, CMN_MSG_OUTBOUND) == 0 && msgs[i].user[0])
            s_add_user(s, msgs[i].user);
    return s->nusers ? s_process(s) : 0;
}

static int s_on_rescan(void *arg, bool at_start)
{
    snd_sender_t *s = arg;
    cmn_rows_t *rows = NULL;
    cmn_param_t p[] = {P_INT(cmn_now_ms()), P_INT(S_SCAN_LIMIT)};
    size_t max = (size_t)s->d->settings.batch_max;
    int r = cmn_store_query(s->d->store, "SELECT DISTINCT user_key FROM outbox WHERE status = 0 "
                                         "AND next_ms <= $1 LIMIT $2",
                            p, 2, &rows);
    if (r < 0)
        return r;
    if (cmn_rows_count(rows) > 0)
        log_info(S_MODULE, NULL, "%s: replies pending for %d people", at_start ? "start" : "scan",
                 cmn_rows_count(rows));
    s->nusers = 0;
    for (int i = 0; i < cmn_rows_count(rows) && r == 0; i++) {
        const char *user = cmn_rows_get(rows, i, 0);
        if (cmn_bus_shard(user, s->shards) == s->shard)
            s_add_user(s, user);
        if (s->nusers == max || (i + 1 == cmn_rows_count(rows) && s->nusers > 0)) {
            r = s_process(s);
            s->nusers = 0;
        }
    }
    cmn_rows_destroy(&rows);
    return r;
}

snd_sender_t *snd_sender_new(cmn_daemon_t *d)
{
    snd_sender_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->d = d;
    s->users = calloc((size_t)d->settings.batch_max, sizeof(*s->users));
    s->maxsent = (size_t)d->settings.batch_max * 16;
    s->sent = calloc(s->maxsent, sizeof(*s->sent));
    if (s->users == NULL || s->sent == NULL)
        goto fail;
    s->pull = cmn_daemon_pull(d, d->settings.ep_sender, &s->shard, &s->shards);
    if (s->pull == NULL)
        goto fail;
    s->pub = cmn_pub_new(d->bus, d->settings.ev_sender);
    if (s->pub == NULL) {
        log_error(S_MODULE, NULL, "CIU_SENDER_EVENTS: cannot bind '%s': %s", d->settings.ev_sender,
                  strerror(errno));
        goto fail;
    }
    s->m_sent = cmn_metrics_counter(d->metrics, "messages_sent_total", NULL,
                                    "Replies handed to a channel");
    s->m_failed = cmn_metrics_counter(d->metrics, "messages_failed_total", NULL,
                                      "Replies dead-lettered");
    s->m_delay = cmn_metrics_histogram(d->metrics, "reply_queue_seconds", NULL,
                                       "Time from reply queued to delivered", NULL, 0);
    return s;
fail:
    snd_sender_destroy(&s);
    return NULL;
}

int snd_sender_run(snd_sender_t *s)
{
    static const cmn_worker_ops_t ops = {.on_batch = s_on_batch, .on_rescan = s_on_rescan};
    return cmn_daemon_work(s->d, s->pull, &ops, s);
}

void snd_sender_destroy(snd_sender_t **p)
{
    snd_sender_t *s;
    if (p == NULL || *p == NULL)
        return;
    s = *p;
    cmn_pub_destroy(&s->pub);
    cmn_pull_destroy(&s->pull);
    free(s->users);
    free(s->sent);
    free(s);
    *p = NULL;
}
