/* cmn_events: events kept in the store. See cmn_events.h. */
#include <errno.h>
#include <string.h>

#include "common/cmn_events.h"

int cmn_events_insert(cmn_store_t *st, const cmn_msg_t *ev)
{
    if (st == NULL || ev == NULL)
        return -EINVAL;
    cmn_param_t p[] = {P_TEXT(ev->id),      P_TEXT(ev->type),    P_INT(ev->ts),
                       P_TEXT(ev->trace),   P_TEXT(ev->user),    P_INT(ev->row),
                       P_TEXT(ev->channel), P_TEXT(ev->ciu),     P_TEXT(ev->detail),
                       P_INT(ev->existing), P_INT(ev->duration_ms)};
    return cmn_store_exec(st,
                          "INSERT INTO events (id, type, ts_ms, trace, user_key, row_id, channel, "
                          "ciu, detail, existing, duration_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, "
                          "$8, $9, $10, $11)",
                          p, 11, NULL);
}

/* Copy a column into a fixed field; false when it does not fit. */
static bool s_col(const cmn_rows_t *rows, int i, int col, char *dst, size_t size)
{
    const char *v = cmn_rows_get(rows, i, col);
    if (v == NULL)
        v = "";
    if (strlen(v) >= size)
        return false;
    memcpy(dst, v, strlen(v) + 1);
    return true;
}

int cmn_events_read(cmn_store_t *st, int64_t after_seq, int64_t since_ms, int limit,
                    cmn_events_fn fn, void *arg)
{
    cmn_rows_t *rows = NULL;
    int r;

    if (st == NULL || fn == NULL || limit <= 0)
        return -EINVAL;
    cmn_param_t p[] = {P_INT(after_seq), P_INT(since_ms), P_INT(limit)};
    r = cmn_store_query(st,
                        "SELECT seq, id, type, ts_ms, trace, user_key, row_id, channel, ciu, "
                        "detail, existing, duration_ms FROM events WHERE seq > $1 AND ts_ms >= $2 "
                        "ORDER BY seq LIMIT $3",
                        p, 3, &rows);
    for (int i = 0; r == 0 && i < cmn_rows_count(rows); i++) {
        cmn_msg_t ev;
        memset(&ev, 0, sizeof(ev));
        ev.v = CMN_MSG_VERSION;
        ev.ts = cmn_rows_int(rows, i, 3, 0);
        ev.row = cmn_rows_int(rows, i, 6, 0);
        ev.existing = cmn_rows_int(rows, i, 10, 0) != 0;
        ev.duration_ms = cmn_rows_int(rows, i, 11, 0);
        if (!s_col(rows, i, 1, ev.id, sizeof(ev.id)) ||
            !s_col(rows, i, 2, ev.type, sizeof(ev.type)) ||
            !s_col(rows, i, 4, ev.trace, sizeof(ev.trace)) ||
            !s_col(rows, i, 5, ev.user, sizeof(ev.user)) ||
            !s_col(rows, i, 7, ev.channel, sizeof(ev.channel)) ||
            !s_col(rows, i, 8, ev.ciu, sizeof(ev.ciu)) ||
            !s_col(rows, i, 9, ev.detail, sizeof(ev.detail)) || !cmn_msg_type_known(ev.type))
            continue;
        r = fn(arg, cmn_rows_int(rows, i, 0, 0), &ev);
    }
    cmn_rows_destroy(&rows);
    return r;
}

int cmn_events_purge(cmn_store_t *st, int64_t before_ms, int limit, int64_t *ret_deleted)
{
    if (st == NULL || limit <= 0)
        return -EINVAL;
    cmn_param_t p[] = {P_INT(before_ms), P_INT(limit)};
    return cmn_store_exec(st,
                          "DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE "
                          "ts_ms < $1 ORDER BY seq LIMIT $2)",
                          p, 2, ret_deleted);
}
