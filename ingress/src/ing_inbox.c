/* ing_inbox: group-commit writer thread for received messages. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cmn_events.h"
#include "common/cmn_hash.h"
#include "common/cmn_log.h"
#include "common/cmn_members.h"
#include "ing_inbox.h"
#include "ing_webhook.h"

#define S_MODULE "inbox"
#define S_QUEUE_MAX 20000

typedef struct s_group s_group_t;

typedef struct {
    bool is_status;
    char channel[16];
    char *provider_id;
    char *from;
    char kind[16];
    char *text;
    char status[16];
    char error_code[16];
    char id[CMN_ID_LEN];
    char user[CMN_HEX256_LEN];
    int64_t row;
    bool duplicate;
    bool advanced; /* status: moved the delivery forward */
    int outcome;
    bool has_ev;
    cmn_msg_t ev; /* the event this item's commit publishes (and stores) */
} s_item_t;

/* One submit call: its items, committed together, answered together. */
struct s_group {
    s_item_t *items;
    size_t n;
    int result;             /* written by the writer once committed (or not) */
    ing_inbox_done_fn done; /* called once, then the group is freed */
    void *done_arg;
    s_group_t *next;
};

/* The label values of ciu_messages_in_total (docs/monitoring.md). */
static const char *const s_channels[] = {"twilio", "meta", "sim"};
static const char *const s_kinds[] = {"text", "media", "other"};
#define S_NCHANNELS 3
#define S_NKINDS 3

struct ing_inbox {
    cmn_daemon_t *d;
    cmn_store_t *store; /* the writer's own handle */
    cmn_push_t *push;
    cmn_pub_t *pub;
    pthread_t thread;
    bool started;
    pthread_mutex_t lock;
    pthread_cond_t queued; /* writer waits for work */
    s_group_t *head, *tail;
    size_t depth;
    bool stopping;
    cmn_counter_t *m_received;
    cmn_counter_t *m_duplicates;
    cmn_counter_t *m_statuses;
    cmn_counter_t *m_isolated;
    cmn_histogram_t *m_batch_size;
    cmn_gauge_t *m_depth;
    /* ciu_messages_in_total{channel, kind, outcome}: [channel][kind][new/duplicate] */
    cmn_counter_t *m_by[S_NCHANNELS][S_NKINDS][2];
};

static void s_group_free(s_group_t *g)
{
    if (g == NULL)
        return;
    for (size_t i = 0; i < g->n; i++) {
        free(g->items[i].provider_id);
        free(g->items[i].from);
        free(g->items[i].text);
    }
    free(g->items);
    free(g);
}

static int s_insert_message(ing_inbox_t *in, s_item_t *it, int64_t now)
{
    cmn_rows_t *rows = NULL;
    cmn_param_t p[] = {P_TEXT(it->id),   P_TEXT(it->channel), P_TEXT(it->provider_id),
                       P_TEXT(it->user), P_TEXT(it->from),    P_TEXT(it->kind),
                       P_TEXT(it->text), P_INT(now),          P_TEXT(it->id),
                       P_INT(cmn_shard_bucket(it->user))};
    int r;

    /* One atomic insert: two identical webhooks at the same instant, or a
     * redelivery minutes later, give one row (unique channel + provider id). */
    r = cmn_store_query(in->store,
                        "INSERT INTO inbox (msg_id, channel, provider_id, user_key, from_addr, "
                        "kind, body, received_ms, trace, shard) VALUES ($1, $2, $3, $4, $5, $6, "
                        "$7, $8, $9, $10) ON CONFLICT (channel, provider_id) DO NOTHING RETURNING "
                        "id",
                        p, 10, &rows);
    if (r < 0)
        return r;
    if (cmn_rows_count(rows) == 1) {
        it->row = cmn_rows_int(rows, 0, 0, 0);
        cmn_rows_destroy(&rows);
        return 0;
    }
    cmn_rows_destroy(&rows);
    it->duplicate = true;
    cmn_param_t q[] = {P_TEXT(it->channel), P_TEXT(it->provider_id)};
    r = cmn_store_query(in->store, "SELECT msg_id FROM inbox WHERE channel = $1 AND "
                                   "provider_id = $2",
                        q, 2, &rows);
    if (r == 0 && cmn_rows_count(rows) == 1)
        cmn_strlcpy(it->id, cmn_rows_get(rows, 0, 0), sizeof(it->id));
    cmn_rows_destroy(&rows);
    return r;
}

/* Record a delivery status once per (message, status), moving the
 * message's delivery forward only. */
static int s_insert_status(ing_inbox_t *in, s_item_t *it, int64_t now)
{
    int64_t changes = 0;
    cmn_param_t e[] = {P_TEXT(it->channel), P_TEXT(it->provider_id), P_TEXT(it->status),
                       P_INT(now)};
    int r = cmn_store_exec(in->store,
                           "INSERT INTO delivery_events (channel, provider_id, status, "
                           "received_ms) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                           e, 4, &changes);
    if (r < 0)
        return r;
    if (changes == 0) {
        it->duplicate = true;
        return 0;
    }
    cmn_param_t d[] = {P_TEXT(it->channel),
                       P_TEXT(it->provider_id),
                       P_TEXT(it->status),
                       P_INT(ing_status_rank(it->status)),
                       P_TEXT(it->error_code[0] ? it->error_code : NULL),
                       P_INT(now)};
    r = cmn_store_exec(in->store,
                       "INSERT INTO deliveries (channel, provider_id, status, status_rank, "
                       "error_code, updated_ms) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT "
                       "(channel, provider_id) DO UPDATE SET status = excluded.status, "
                       "status_rank = excluded.status_rank, error_code = excluded.error_code, "
                       "updated_ms = excluded.updated_ms WHERE deliveries.status_rank < "
                       "excluded.status_rank",
                       d, 6, &changes);
    if (r < 0)
        return r;
    it->advanced = changes > 0;
    if (it->advanced) {
        /* the person's key and the trace, for the event (read only) */
        cmn_rows_t *rows = NULL;
        cmn_param_t q[] = {P_TEXT(it->channel), P_TEXT(it->provider_id)};
        r = cmn_store_query(in->store, "SELECT user_key, trace FROM outbox WHERE channel = $1 "
                                       "AND provider_id = $2",
                            q, 2, &rows);
        if (r == 0 && cmn_rows_count(rows) == 1) {
            cmn_strlcpy(it->user, cmn_rows_get(rows, 0, 0), sizeof(it->user));
            cmn_strlcpy(it->id, cmn_rows_get(rows, 0, 1), sizeof(it->id));
        }
        cmn_rows_destroy(&rows);
    }
    return r;
}

/* The event of an inserted item, if any: a new message, or a delivery
 * status that moved a reply forward. */
static bool s_event(s_item_t *it)
{
    cmn_msg_t *w = &it->ev;
    const char *type = CMN_EV_MESSAGE_RECEIVED, *detail = it->kind;

    if (it->is_status) {
        type = strcmp(it->status, "delivered") == 0 ? CMN_EV_MESSAGE_DELIVERED
               : strcmp(it->status, "read") == 0    ? CMN_EV_MESSAGE_READ
               : ing_status_rank(it->status) == 4   ? CMN_EV_MESSAGE_FAILED
                                                    : NULL;
        detail = it->error_code;
        if (type == NULL || !it->advanced)
            return false;
    } else if (it->duplicate) {
        return false;
    }
    cmn_msg_init(w, type, it->id[0] ? it->id : NULL);
    cmn_strlcpy(w->user, it->user, sizeof(w->user));
    cmn_strlcpy(w->channel, it->channel, sizeof(w->channel));
    cmn_strlcpy(w->detail, detail, sizeof(w->detail));
    return true;
}

/* Insert one item, and its event in the same transaction. */
static int s_insert(ing_inbox_t *in, s_item_t *it, int64_t now)
{
    int r = it->is_status ? s_insert_status(in, it, now) : s_insert_message(in, it, now);
    it->has_ev = r == 0 && s_event(it);
    if (it->has_ev)
        r = cmn_events_insert(in->store, &it->ev);
    return r;
}

/* Insert items [from, to) of the chained groups in one transaction. */
static int s_commit_items(ing_inbox_t *in, s_item_t **items, size_t n, int64_t now)
{
    int r = cmn_store_begin(in->store);
    for (size_t i = 0; i < n && r == 0; i++)
        r = s_insert(in, items[i], now);
    if (r == 0)
        r = cmn_store_commit(in->store);
    if (r < 0)
        cmn_store_rollback(in->store);
    return r;
}

/* Count a message by channel, kind (text, media, other) and new/duplicate. */
static void s_count(ing_inbox_t *in, const s_item_t *it, bool duplicate)
{
    static const char *const media[] = {"image", "audio", "video", "document", "sticker"};
    size_t ch = 0, kind = strcmp(it->kind, "text") == 0 ? 0 : 2;
    while (ch < S_NCHANNELS && strcmp(it->channel, s_channels[ch]) != 0)
        ch++;
    if (ch == S_NCHANNELS)
        return;
    for (size_t i = 0; i < sizeof(media) / sizeof(media[0]); i++)
        if (strcmp(it->kind, media[i]) == 0)
            kind = 1;
    cmn_counter_add(in->m_by[ch][kind][duplicate], 1);
}

static void s_announce(ing_inbox_t *in, s_item_t *it)
{
    cmn_msg_t w;
    char masked[CMN_MASK_LEN];
    if (it->is_status) {
        cmn_counter_add(in->m_statuses, 1);
        if (it->has_ev)
            cmn_pub_send(in->pub, &it->ev);
        return;
    }
    s_count(in, it, it->duplicate);
    if (it->duplicate) {
        cmn_counter_add(in->m_duplicates, 1);
        return;
    }
    cmn_msg_init(&w, CMN_MSG_INBOUND, it->id);
    cmn_strlcpy(w.user, it->user, sizeof(w.user));
    cmn_strlcpy(w.channel, it->channel, sizeof(w.channel));
    w.row = it->row;
    if (cmn_push_send(in->push, &w) < 0)
        log_warn(S_MODULE, it->id, "wake-up for conversation not sent; its scan will "
                                   "find the message");
    if (it->has_ev)
        cmn_pub_send(in->pub, &it->ev);
    cmn_counter_add(in->m_received, 1);
    log_debug(S_MODULE, it->id, "received channel=%s from=%s kind=%s", it->channel,
              cmn_mask_phone(it->from, masked), it->kind);
}

/* Commit the queued groups together. When that fails and the store is
 * still reachable, one item was bad: retry item by item, so it alone fails. */
static void s_commit_batch(ing_inbox_t *in, s_group_t *batch)
{
    int64_t now = cmn_now_ms();
    size_t n = 0, k = 0;
    s_item_t **items;
    int r;

    for (s_group_t *g = batch; g; g = g->next)
        n += g->n;
    items = calloc(n ? n : 1, sizeof(*items));
    if (items == NULL) {
        for (s_group_t *g = batch; g; g = g->next)
            for (size_t i = 0; i < g->n; i++)
                g->items[i].outcome = -ENOMEM;
        return;
    }
    for (s_group_t *g = batch; g; g = g->next)
        for (size_t i = 0; i < g->n; i++)
            items[k++] = &g->items[i];
    r = s_commit_items(in, items, n, now);
    if (r == 0) {
        for (size_t i = 0; i < n; i++)
            items[i]->outcome = 0;
    } else if (r == -ENOSPC) {
        /* every item would fail the same way: say it plainly, once per batch */
        log_error(S_MODULE, NULL,
                  "cannot store %zu received items: disk full (SQLITE_FULL: "
                  "no space left for the database in CIU_DATA_DIR; %s); "
                  "webhooks are answered 503 until space is freed",
                  n, cmn_store_errmsg(in->store));
        for (size_t i = 0; i < n; i++)
            items[i]->outcome = r;
    } else if (cmn_store_ping(in->store) == 0 && n > 1) {
        cmn_counter_add(in->m_isolated, 1);
        log_warn(S_MODULE, NULL, "a batch of %zu received items failed (%s); storing them one "
                                 "by one",
                 n, cmn_store_errmsg(in->store));
        r = 0;
        for (size_t i = 0; i < n; i++) {
            items[i]->duplicate = items[i]->advanced = false;
            int one = s_commit_items(in, &items[i], 1, now);
            items[i]->outcome = one == -ENOSPC ? one : one < 0 ? -EIO : 0;
            if (items[i]->outcome < 0) {
                log_error(S_MODULE, items[i]->id, "cannot store a received %s: %s",
                          items[i]->is_status ? "status" : "message",
                          cmn_store_errmsg(in->store));
                r = -EIO;
            }
        }
    } else {
        log_error(S_MODULE, NULL, "cannot store %zu received items: %s", n,
                  cmn_store_errmsg(in->store));
        for (size_t i = 0; i < n; i++)
            items[i]->outcome = -EIO;
    }
    atomic_store(&in->d->healthy, r == 0);
    cmn_histogram_observe(in->m_batch_size, (double)n / 1000.0);
    for (size_t i = 0; i < n; i++)
        if (items[i]->outcome == 0)
            s_announce(in, items[i]);
    free(items);
}

/* Hand an asynchronous group's result and ids to its callback, then free it. */
static void s_group_done(s_group_t *g)
{
    char(*ids)[CMN_ID_LEN] = calloc(g->n ? g->n : 1, sizeof(*ids));
    size_t n = 0;
    for (size_t i = 0; ids && i < g->n; i++)
        if (!g->items[i].is_status)
            memcpy(ids[n++], g->items[i].id, CMN_ID_LEN);
    g->done(g->done_arg, ids ? g->result : -ENOMEM, (const char(*)[CMN_ID_LEN])ids, n);
    free(ids);
    s_group_free(g);
}

/* CIU_DISCOVERY=store: push to the conversation replicas the store lists now. */
static void s_refresh_replicas(ing_inbox_t *in)
{
    int r = cmn_members_refresh_push(in->store, in->push, "conversation", cmn_now_ms(),
                                     in->d->settings.member_ttl_ms);
    if (r == 1)
        log_info(S_MODULE, NULL, "replicas of conversation: %zu", cmn_push_replicas(in->push));
    else if (r < 0)
        log_warn(S_MODULE, NULL, "cannot read the conversation replicas: %s", cmn_strerror(r));
}

static void *s_writer(void *arg)
{
    ing_inbox_t *in = arg;
    int64_t next_refresh = 0;
    pthread_mutex_lock(&in->lock);
    for (;;) {
        if (in->d->discovery && cmn_mono_ms() >= next_refresh) {
            pthread_mutex_unlock(&in->lock);
            s_refresh_replicas(in);
            next_refresh = cmn_mono_ms() + in->d->settings.member_ttl_ms / 4;
            pthread_mutex_lock(&in->lock);
        }
        while (in->head == NULL && !in->stopping && !in->d->discovery)
            pthread_cond_wait(&in->queued, &in->lock);
        if (in->head == NULL && !in->stopping && in->d->discovery) {
            /* wait for work, or until the replica list is due for a refresh */
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += 250 * 1000000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&in->queued, &in->lock, &until);
            continue;
        }
        if (in->head == NULL && in->stopping)
            break;
        s_group_t *batch = in->head;
        in->head = in->tail = NULL;
        in->depth = 0;
        cmn_gauge_set(in->m_depth, 0);
        pthread_mutex_unlock(&in->lock);
        s_commit_batch(in, batch);
        /* callbacks outside the lock: they take their own locks */
        for (s_group_t *g = batch, *next; g; g = next) {
            next = g->next;
            g->result = 0;
            for (size_t i = 0; i < g->n; i++)
                if (g->items[i].outcome < 0)
                    g->result = -EIO;
            s_group_done(g);
        }
        pthread_mutex_lock(&in->lock);
    }
    pthread_mutex_unlock(&in->lock);
    return NULL;
}

ing_inbox_t *ing_inbox_new(cmn_daemon_t *d, const char *conversation_endpoints,
                           const char *events_endpoint)
{
    ing_inbox_t *in = calloc(1, sizeof(*in));
    char err[512] = "";
    char *url = NULL;

    if (in == NULL)
        return NULL;
    in->d = d;
    pthread_mutex_init(&in->lock, NULL);
    pthread_cond_init(&in->queued, NULL);

    url = cmn_settings_store_url(&d->settings);
    if (url == NULL || cmn_store_open(url, &in->store, err, sizeof(err)) < 0) {
        log_error(S_MODULE, NULL, "cannot open the store for the inbox: %s", err);
        goto fail;
    }
    if (cmn_store_set_synchronous(in->store, d->settings.sqlite_synchronous) < 0) {
        log_error(S_MODULE, NULL, "CIU_SQLITE_SYNCHRONOUS: cannot set '%s': %s",
                  d->settings.sqlite_synchronous, cmn_store_errmsg(in->store));
        goto fail;
    }
    /* store discovery: the conversation replicas the store lists, refreshed
     * by the writer (which alone uses the push) */
    in->push =
        d->discovery ? cmn_push_new_empty(d->bus) : cmn_push_new(d->bus, conversation_endpoints);
    if (in->push == NULL) {
        log_error(S_MODULE, NULL, "CIU_CONVERSATION_ENDPOINTS: cannot connect '%s': %s",
                  conversation_endpoints, strerror(errno));
        goto fail;
    }
    in->pub = cmn_pub_new(d->bus, events_endpoint);
    if (in->pub == NULL) {
        log_error(S_MODULE, NULL, "CIU_INGRESS_EVENTS: cannot bind '%s': %s", events_endpoint,
                  strerror(errno));
        goto fail;
    }
    in->m_received = cmn_metrics_counter(d->metrics, "inbound_messages_total", NULL,
                                         "Messages received and stored");
    in->m_duplicates = cmn_metrics_counter(d->metrics, "inbound_duplicates_total", NULL,
                                           "Redelivered messages acknowledged without a new row");
    in->m_statuses = cmn_metrics_counter(d->metrics, "delivery_statuses_total", NULL,
                                         "Delivery statuses received from providers");
    in->m_isolated = cmn_metrics_counter(d->metrics, "inbox_isolated_batches_total", NULL,
                                         "Group commits retried item by item after a bad item");
    static const double sizes[] = {0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5};
    in->m_batch_size = cmn_metrics_histogram(d->metrics, "inbox_batch_size_thousands", NULL,
                                             "Messages per inbox commit, in thousands", sizes,
                                             sizeof(sizes) / sizeof(sizes[0]));
    in->m_depth = cmn_metrics_gauge(d->metrics, "inbox_queue_depth", NULL,
                                    "Messages waiting for the inbox commit");
    for (size_t c = 0; c < S_NCHANNELS; c++)
        for (size_t k = 0; k < S_NKINDS; k++)
            for (int dup = 0; dup < 2; dup++) {
                char labels[96];
                snprintf(labels, sizeof(labels), "channel=\"%s\",kind=\"%s\",outcome=\"%s\"",
                         s_channels[c], s_kinds[k], dup ? "duplicate" : "new");
                in->m_by[c][k][dup] = cmn_metrics_counter(
                    d->metrics, "messages_in_total", labels,
                    "Messages received by channel, kind (text, media, other) and outcome "
                    "(new, duplicate)");
                if (in->m_by[c][k][dup] == NULL)
                    goto fail;
            }
    if (pthread_create(&in->thread, NULL, s_writer, in) != 0)
        goto fail;
    in->started = true;
    free(url);
    return in;
fail:
    free(url);
    ing_inbox_destroy(&in);
    return NULL;
}

void ing_inbox_destroy(ing_inbox_t **p)
{
    ing_inbox_t *in;
    if (p == NULL || *p == NULL)
        return;
    in = *p;
    if (in->started) {
        pthread_mutex_lock(&in->lock);
        in->stopping = true;
        pthread_cond_broadcast(&in->queued);
        pthread_mutex_unlock(&in->lock);
        pthread_join(in->thread, NULL);
    }
    cmn_pub_destroy(&in->pub);
    cmn_push_destroy(&in->push);
    cmn_store_destroy(&in->store);
    pthread_cond_destroy(&in->queued);
    pthread_mutex_destroy(&in->lock);
    free(in);
    *p = NULL;
}

static char *s_dup(const char *v) { return v ? strdup(v) : NULL; }

static int s_group_fill(ing_inbox_t *in, s_group_t *g, const ing_inbound_t *msgs, size_t n,
                        const ing_status_in_t *statuses, size_t m)
{
    for (size_t i = 0; i < n; i++) {
        s_item_t *it = &g->items[g->n++];
        cmn_strlcpy(it->channel, msgs[i].channel, sizeof(it->channel));
        cmn_strlcpy(it->kind, msgs[i].kind, sizeof(it->kind));
        it->provider_id = s_dup(msgs[i].provider_id);
        it->from = s_dup(msgs[i].from);
        it->text = s_dup(msgs[i].text);
        if ((msgs[i].provider_id && !it->provider_id) || !it->from ||
            (msgs[i].text && !it->text))
            return -ENOMEM;
        if (cmn_id_new(it->id) < 0 ||
            cmn_user_key(in->d->salt, in->d->salt_len, msgs[i].from, it->user) < 0)
            return -EIO;
    }
    for (size_t i = 0; i < m; i++) {
        s_item_t *it = &g->items[g->n++];
        it->is_status = true;
        cmn_strlcpy(it->channel, statuses[i].channel, sizeof(it->channel));
        cmn_strlcpy(it->status, statuses[i].status, sizeof(it->status));
        cmn_strlcpy(it->error_code, statuses[i].error_code ? statuses[i].error_code : "",
                    sizeof(it->error_code));
        it->provider_id = s_dup(statuses[i].provider_id);
        if (!it->provider_id)
            return -ENOMEM;
    }
    return 0;
}

int ing_inbox_submit_async(ing_inbox_t *in, const ing_inbound_t *msgs, size_t n,
                           const ing_status_in_t *statuses, size_t m, ing_inbox_done_fn done,
                           void *arg)
{
    s_group_t *g;
    int r;

    if (n + m == 0 || done == NULL)
        return -EINVAL;
    g = calloc(1, sizeof(*g));
    if (g == NULL)
        return -ENOMEM;
    g->items = calloc(n + m, sizeof(*g->items));
    g->done = done;
    g->done_arg = arg;
    r = g->items == NULL ? -ENOMEM : s_group_fill(in, g, msgs, n, statuses, m);
    if (r < 0) {
        s_group_free(g);
        return r;
    }
    pthread_mutex_lock(&in->lock);
    if (in->stopping || in->depth >= S_QUEUE_MAX) {
        r = in->stopping ? -ESHUTDOWN : -EAGAIN;
        pthread_mutex_unlock(&in->lock);
        s_group_free(g);
        return r;
    }
    if (in->tail)
        in->tail->next = g;
    else
        in->head = g;
    in->tail = g;
    in->depth += g->n;
    cmn_gauge_set(in->m_depth, (int64_t)in->depth);
    pthread_cond_signal(&in->queued);
    pthread_mutex_unlock(&in->lock);
    return 0;
}
