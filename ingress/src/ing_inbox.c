/* ing_inbox: group-commit writer thread for received messages. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/cmn_log.h"
#include "ing_inbox.h"

#define S_MODULE "inbox"
#define S_QUEUE_MAX 20000

typedef struct s_item {
    const ing_inbound_t *msg;
    char id[CMN_ID_LEN];
    char user[CMN_HEX256_LEN];
    int64_t row;
    int outcome; /* written by the writer, outside the lock */
    int result;  /* 1 while pending; written under the lock */
    bool duplicate;
    struct s_item *next;
} s_item_t;

struct ing_inbox {
    cmn_daemon_t *d;
    cmn_store_t *store; /* the writer's own handle */
    cmn_push_t *push;
    cmn_pub_t *pub;
    pthread_t thread;
    bool started;
    pthread_mutex_t lock;
    pthread_cond_t queued; /* writer waits for work */
    pthread_cond_t done;   /* submitters wait for their result */
    s_item_t *head, *tail;
    size_t depth;
    bool stopping;
    cmn_counter_t *m_received;
    cmn_counter_t *m_duplicates;
    cmn_histogram_t *m_batch_size;
    cmn_gauge_t *m_depth;
};

static int s_insert(ing_inbox_t *in, s_item_t *it, int64_t now)
{
    const ing_inbound_t *m = it->msg;
    cmn_rows_t *rows = NULL;
    cmn_param_t p[] = {P_TEXT(it->id), P_TEXT(m->channel), P_TEXT(m->provider_id),
                       P_TEXT(it->user), P_TEXT(m->from),  P_TEXT(m->kind),
                       P_TEXT(m->text),  P_INT(now),       P_TEXT(it->id)};
    int r;

    if (m->provider_id) {
        cmn_param_t q[] = {P_TEXT(m->channel), P_TEXT(m->provider_id)};
        r = cmn_store_query(in->store, "SELECT msg_id FROM inbox WHERE channel = $1 AND "
                                       "provider_id = $2",
                            q, 2, &rows);
        if (r < 0)
            return r;
        if (cmn_rows_count(rows) > 0) {
            cmn_strlcpy(it->id, cmn_rows_get(rows, 0, 0), sizeof(it->id));
            it->duplicate = true;
            cmn_rows_destroy(&rows);
            return 0;
        }
        cmn_rows_destroy(&rows);
    }
    r = cmn_store_query(in->store,
                        "INSERT INTO inbox (msg_id, channel, provider_id, user_key, from_addr, "
                        "kind, body, received_ms, trace) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
                        "$9) RETURNING id",
                        p, 9, &rows);
    if (r < 0)
        return r;
    it->row = cmn_rows_int(rows, 0, 0, 0);
    cmn_rows_destroy(&rows);
    return 0;
}

/* Commit one batch; on failure every item of it fails (the client retries). */
static void s_commit_batch(ing_inbox_t *in, s_item_t *batch)
{
    int64_t now = cmn_now_ms();
    size_t n = 0;
    int r = cmn_store_begin(in->store);

    for (s_item_t *it = batch; it && r == 0; it = it->next) {
        r = s_insert(in, it, now);
        n++;
    }
    if (r == 0)
        r = cmn_store_commit(in->store);
    if (r < 0) {
        cmn_store_rollback(in->store);
        log_error(S_MODULE, NULL, "cannot store %zu received messages: %s", n,
                  cmn_store_errmsg(in->store));
        cmn_store_ping(in->store);
    }
    atomic_store(&in->d->healthy, r == 0);
    cmn_histogram_observe(in->m_batch_size, (double)n / 1000.0);
    for (s_item_t *it = batch; it; it = it->next) {
        if (r == 0 && !it->duplicate) {
            cmn_msg_t w;
            char masked[CMN_MASK_LEN];
            cmn_msg_init(&w, CMN_MSG_INBOUND, it->id);
            cmn_strlcpy(w.user, it->user, sizeof(w.user));
            cmn_strlcpy(w.channel, it->msg->channel, sizeof(w.channel));
            w.row = it->row;
            if (cmn_push_send(in->push, &w) < 0)
                log_warn(S_MODULE, it->id, "wake-up for conversation not sent; its scan will "
                                           "find the message");
            cmn_msg_init(&w, CMN_EV_MESSAGE_RECEIVED, it->id);
            cmn_strlcpy(w.user, it->user, sizeof(w.user));
            cmn_strlcpy(w.channel, it->msg->channel, sizeof(w.channel));
            cmn_strlcpy(w.detail, it->msg->kind, sizeof(w.detail));
            cmn_pub_send(in->pub, &w);
            cmn_counter_add(in->m_received, 1);
            log_debug(S_MODULE, it->id, "received channel=%s from=%s kind=%s", it->msg->channel,
                      cmn_mask_phone(it->msg->from, masked), it->msg->kind);
        } else if (r == 0) {
            cmn_counter_add(in->m_duplicates, 1);
        }
        it->outcome = r == 0 ? 0 : -EIO;
    }
}

static void *s_writer(void *arg)
{
    ing_inbox_t *in = arg;
    pthread_mutex_lock(&in->lock);
    for (;;) {
        while (in->head == NULL && !in->stopping)
            pthread_cond_wait(&in->queued, &in->lock);
        if (in->head == NULL && in->stopping)
            break;
        s_item_t *batch = in->head;
        in->head = in->tail = NULL;
        in->depth = 0;
        cmn_gauge_set(in->m_depth, 0);
        pthread_mutex_unlock(&in->lock);
        s_commit_batch(in, batch);
        pthread_mutex_lock(&in->lock);
        for (s_item_t *it = batch, *next; it; it = next) {
            next = it->next; /* `it` lives on its submitter's stack: read next first */
            it->result = it->outcome;
        }
        pthread_cond_broadcast(&in->done);
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
    pthread_cond_init(&in->done, NULL);
    url = cmn_settings_store_url(&d->settings);
    if (url == NULL || cmn_store_open(url, &in->store, err, sizeof(err)) < 0) {
        log_error(S_MODULE, NULL, "cannot open the store for the inbox: %s", err);
        goto fail;
    }
    in->push = cmn_push_new(d->bus, conversation_endpoints);
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
    static const double sizes[] = {0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5};
    in->m_batch_size = cmn_metrics_histogram(d->metrics, "inbox_batch_size_thousands", NULL,
                                             "Messages per inbox commit, in thousands", sizes,
                                             sizeof(sizes) / sizeof(sizes[0]));
    in->m_depth = cmn_metrics_gauge(d->metrics, "inbox_queue_depth", NULL,
                                    "Messages waiting for the inbox commit");
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
    pthread_cond_destroy(&in->done);
    pthread_cond_destroy(&in->queued);
    pthread_mutex_destroy(&in->lock);
    free(in);
    *p = NULL;
}

int ing_inbox_submit(ing_inbox_t *in, const ing_inbound_t *msg, char ret_id[CMN_ID_LEN])
{
    s_item_t it;
    int r;

    memset(&it, 0, sizeof(it));
    it.msg = msg;
    it.result = 1;
    if (cmn_id_new(it.id) < 0)
        return -EIO;
    if (cmn_user_key(in->d->salt, in->d->salt_len, msg->from, it.user) < 0)
        return -EIO;
    pthread_mutex_lock(&in->lock);
    if (in->stopping || in->depth >= S_QUEUE_MAX) {
        r = in->stopping ? -ESHUTDOWN : -EAGAIN;
        pthread_mutex_unlock(&in->lock);
        return r;
    }
    if (in->tail)
        in->tail->next = &it;
    else
        in->head = &it;
    in->tail = &it;
    in->depth++;
    cmn_gauge_set(in->m_depth, (int64_t)in->depth);
    pthread_cond_signal(&in->queued);
    while (it.result == 1)
        pthread_cond_wait(&in->done, &in->lock);
    pthread_mutex_unlock(&in->lock);
    if (it.result == 0)
        memcpy(ret_id, it.id, CMN_ID_LEN);
    return it.result;
}
