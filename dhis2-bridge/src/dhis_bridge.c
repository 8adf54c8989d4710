/* dhis_bridge: accept queued DHIS2 enrolments as pending. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/cmn_log.h"
#include "dhis_bridge.h"

#define S_MODULE "dhis2"
#define S_SCAN_LIMIT 1000

struct dhis_bridge {
    cmn_daemon_t *d;
    cmn_pull_t *pull;
    cmn_pub_t *pub;
    size_t shard, shards;
    const int64_t *rows;
    size_t nrows;
    int64_t *accepted;
    char (*accepted_ciu)[16];
    char (*accepted_trace)[CMN_ID_LEN];
    size_t naccepted;
    cmn_counter_t *m_pending;
};

static int s_tx_accept(void *arg, cmn_store_t *st)
{
    dhis_bridge_t *b = arg;
    int64_t now = cmn_now_ms();
    b->naccepted = 0;
    for (size_t i = 0; i < b->nrows; i++) {
        cmn_param_t p[] = {P_INT(now), P_INT(b->rows[i])};
        cmn_rows_t *rows = NULL;
        int r = cmn_store_query(st, "UPDATE dhis2_sync SET status = 'pending', updated_ms = $1 "
                                    "WHERE id = $2 AND status = 'queued' RETURNING ciu, trace",
                                p, 2, &rows);
        if (r < 0)
            return r;
        if (cmn_rows_count(rows) == 1) {
            cmn_strlcpy(b->accepted_ciu[b->naccepted], cmn_rows_get(rows, 0, 0), 16);
            cmn_strlcpy(b->accepted_trace[b->naccepted], cmn_rows_get(rows, 0, 1), CMN_ID_LEN);
            b->accepted[b->naccepted++] = b->rows[i];
        }
        cmn_rows_destroy(&rows);
    }
    return 0;
}

static int s_process(dhis_bridge_t *b, const int64_t *rows, size_t n)
{
    int r;
    b->rows = rows;
    b->nrows = n;
    r = cmn_daemon_tx(b->d, s_tx_accept, b);
    if (r < 0)
        return r;
    for (size_t i = 0; i < b->naccepted; i++) {
        cmn_msg_t ev;
        cmn_msg_init(&ev, CMN_EV_DHIS2_PENDING, b->accepted_trace[i]);
        cmn_strlcpy(ev.ciu, b->accepted_ciu[i], sizeof(ev.ciu));
        ev.row = b->accepted[i];
        cmn_pub_send(b->pub, &ev);
        cmn_counter_add(b->m_pending, 1);
        log_debug(S_MODULE, NULL, "enrolment %lld pending", (long long)b->accepted[i]);
    }
    return 0;
}

static int s_on_batch(void *arg, const cmn_msg_t *msgs, size_t n)
{
    dhis_bridge_t *b = arg;
    int64_t *rows = calloc(n, sizeof(*rows));
    size_t k = 0;
    int r;
    if (rows == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (strcmp(msgs[i].type, CMN_MSG_DHIS2_SYNC) == 0 && msgs[i].row > 0)
            rows[k++] = msgs[i].row;
    r = k ? s_process(b, rows, k) : 0;
    free(rows);
    return r;
}

static int s_on_rescan(void *arg, bool at_start)
{
    dhis_bridge_t *b = arg;
    cmn_rows_t *rows = NULL;
    cmn_param_t p[] = {P_INT(S_SCAN_LIMIT)};
    int64_t *ids;
    size_t k = 0;
    int r = cmn_store_query(b->d->store, "SELECT id, ciu FROM dhis2_sync WHERE status = "
                                         "'queued' ORDER BY id LIMIT $1",
                            p, 1, &rows);
    if (r < 0)
        return r;
    ids = calloc((size_t)cmn_rows_count(rows) + 1, sizeof(*ids));
    if (ids == NULL) {
        cmn_rows_destroy(&rows);
        return -ENOMEM;
    }
    for (int i = 0; i < cmn_rows_count(rows); i++)
        if (cmn_bus_shard(cmn_rows_get(rows, i, 1), b->shards) == b->shard)
            ids[k++] = cmn_rows_int(rows, i, 0, 0);
    cmn_rows_destroy(&rows);
    if (k > 0)
        log_info(S_MODULE, NULL, "%s: %zu queued enrolments picked up",
                 at_start ? "start" : "scan", k);
    size_t max = (size_t)b->d->settings.batch_max;
    for (size_t off = 0; off < k && r == 0; off += max)
        r = s_process(b, ids + off, k - off < max ? k - off : max);
    free(ids);
    return r;
}

dhis_bridge_t *dhis_bridge_new(cmn_daemon_t *d)
{
    dhis_bridge_t *b = calloc(1, sizeof(*b));
    if (b == NULL)
        return NULL;
    b->d = d;
    size_t cap = (size_t)d->settings.batch_max > S_SCAN_LIMIT ? (size_t)d->settings.batch_max
                                                                 : S_SCAN_LIMIT;
    b->accepted = calloc(cap, sizeof(*b->accepted));
    b->accepted_ciu = calloc(cap, sizeof(*b->accepted_ciu));
    b->accepted_trace = calloc(cap, sizeof(*b->accepted_trace));
    if (b->accepted == NULL || b->accepted_ciu == NULL || b->accepted_trace == NULL)
        goto fail;
    b->pull = cmn_daemon_pull(d, d->settings.ep_dhis2, &b->shard, &b->shards);
    if (b->pull == NULL)
        goto fail;
    b->pub = cmn_pub_new(d->bus, d->settings.ev_dhis2);
    if (b->pub == NULL) {
        log_error(S_MODULE, NULL, "CIU_DHIS2_EVENTS: cannot bind '%s': %s", d->settings.ev_dhis2,
                  strerror(errno));
        goto fail;
    }
    b->m_pending = cmn_metrics_counter(d->metrics, "dhis2_pending_total", NULL,
                                       "Enrolments accepted and waiting for DHIS2");
    return b;
fail:
    dhis_bridge_destroy(&b);
    return NULL;
}

int dhis_bridge_run(dhis_bridge_t *b)
{
    static const cmn_worker_ops_t ops = {.on_batch = s_on_batch, .on_rescan = s_on_rescan};
    return cmn_daemon_work(b->d, b->pull, &ops, b);
}

void dhis_bridge_destroy(dhis_bridge_t **p)
{
    dhis_bridge_t *b;
    if (p == NULL || *p == NULL)
        return;
    b = *p;
    cmn_pub_destroy(&b->pub);
    cmn_pull_destroy(&b->pull);
    free(b->accepted);
    free(b->accepted_ciu);
    free(b->accepted_trace);
    free(b);
    *p = NULL;
}
