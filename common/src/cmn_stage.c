/* cmn_stage: shared stage runner helpers. See cmn_stage.h. */
#include <errno.h>
#include <string.h>

#include "common/cmn_log.h"

#include "common/cmn_stage.h"

int cmn_stage_scan(cmn_store_t *st, const cmn_scan_t *scan, size_t index, size_t count,
                   cmn_keyset_t *keys, cmn_stage_fn fn, void *arg)
{
    cmn_param_t p[3 + CMN_STAGE_EXTRA_MAX];
    cmn_rows_t *rows = NULL;
    int n, r;

    if (st == NULL || scan == NULL || scan->sql == NULL || keys == NULL || fn == NULL ||
        count == 0 || index >= count || scan->nextra < 0 || scan->nextra > CMN_STAGE_EXTRA_MAX ||
        (scan->nextra > 0 && scan->extra == NULL))
        return -EINVAL;
    p[0] = P_INT(count);
    p[1] = P_INT(index);
    p[2] = P_INT(scan->limit ? scan->limit : CMN_STAGE_SCAN_LIMIT);
    for (int i = 0; i < scan->nextra; i++)
        p[3 + i] = scan->extra[i];
    r = cmn_store_query(st, scan->sql, p, 3 + scan->nextra, &rows);
    if (r < 0)
        return r;
    n = cmn_rows_count(rows);
    cmn_keyset_clear(keys);
    for (int i = 0; i < n && r >= 0; i++) {
        cmn_keyset_add(keys, cmn_rows_get(rows, i, 0));
        if (cmn_keyset_full(keys) || i + 1 == n) {
            if (cmn_keyset_count(keys) > 0)
                r = fn(arg, keys);
            cmn_keyset_clear(keys);
        }
    }
    cmn_rows_destroy(&rows);
    return r < 0 ? r : n;
}

int cmn_stage_batch(const cmn_msg_t *msgs, size_t n, const char *type, cmn_keyset_t *keys,
                    cmn_stage_fn fn, void *arg)
{
    cmn_keyset_clear(keys);
    if (cmn_keyset_add_msgs(keys, msgs, n, type) == 0)
        return 0;
    return fn(arg, keys);
}

typedef struct {
    cmn_announce_t *a;
    int (*fn)(void *arg, cmn_store_t *st);
    void *arg;
} s_attempt_t;

static int s_attempt(void *arg, cmn_store_t *st)
{
    s_attempt_t *t = arg;
    int r;

    cmn_announce_clear(t->a);
    r = t->fn(t->arg, st);
    if (r >= 0) {
        int e = cmn_announce_store(t->a, st); /* the events commit with the work */
        if (e < 0)
            r = e;
    }
    return r;
}

int cmn_stage_tx(cmn_daemon_t *d, cmn_announce_t *a, int (*fn)(void *arg, cmn_store_t *st),
                 void *arg)
{
    s_attempt_t t = {a, fn, arg};
    int r = cmn_daemon_tx(d, s_attempt, &t);

    if (r < 0)
        cmn_announce_clear(a);
    else
        cmn_announce_flush(a);
    return r;
}

int cmn_stage_open(cmn_stage_t *st, cmn_daemon_t *d, const char *endpoints, const char *events,
                   const char *events_var)
{
    size_t max = (size_t)d->settings.batch_max;
    memset(st, 0, sizeof(*st));
    st->d = d;
    st->keys = cmn_keyset_new(max);
    st->ann = cmn_announce_new(16 * max);
    if (st->keys == NULL || st->ann == NULL)
        return -ENOMEM;
    st->pull = cmn_daemon_pull(d, endpoints, &st->shard, &st->shards);
    if (st->pull == NULL)
        return -EADDRINUSE; /* logged */
    st->pub = cmn_pub_new(d->bus, events);
    if (st->pub == NULL) {
        int e = errno;
        log_error("stage", NULL, "%s: cannot bind '%s': %s", events_var, events, strerror(e));
        return -e;
    }
    cmn_daemon_advertise_events(d, st->pub);
    return 0;
}

void cmn_stage_close(cmn_stage_t *st)
{
    cmn_pub_destroy(&st->pub);
    cmn_pull_destroy(&st->pull);
    cmn_announce_destroy(&st->ann);
    cmn_keyset_destroy(&st->keys);
}

int cmn_stage_run(cmn_stage_t *st, const cmn_worker_ops_t *ops, void *arg)
{
    return cmn_daemon_work(st->d, st->pull, ops, arg);
}
