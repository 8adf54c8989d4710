/* conv_store: the conversation's SQL. See conv_store.h. */
#include <errno.h>
#include <string.h>

#include "conv_store.h"

const cmn_scan_t conv_store_scan = {
    .sql = "SELECT user_key FROM (SELECT user_key, id FROM inbox WHERE status = 0 AND "
           "(shard % $1 = $2 OR (shard IS NULL AND $2 = 0)) UNION ALL SELECT user_key, id FROM "
           "ciu_done WHERE shard % $1 = $2) AS pending GROUP BY user_key ORDER BY min(id) "
           "LIMIT $3",
};

static void s_copy(char *dst, size_t size, const char *src)
{
    cmn_strlcpy(dst, src ? src : "", size);
}

static const char *s_nz(const char *s)
{
    return s && *s ? s : NULL;
}

/* A write that must change exactly one row; else another transaction was
 * first: -EBUSY (run the transaction again). */
static int s_exec_one(cmn_store_t *st, const char *sql, const cmn_param_t *p, int n)
{
    int64_t changes = 0;
    int r = cmn_store_exec(st, sql, p, n, &changes);

    if (r == 0 && changes != 1)
        r = -EBUSY;
    return r;
}

int conv_store_inbox(cmn_store_t *st, const char *user, cmn_rows_t **ret_rows)
{
    cmn_param_t p[] = {P_TEXT(user)};
    return cmn_store_query(st,
                           "SELECT id, channel, from_addr, kind, body, trace, received_ms FROM "
                           "inbox WHERE user_key = $1 AND status = 0 ORDER BY id",
                           p, 1, ret_rows);
}

void conv_store_inbox_get(const cmn_rows_t *rows, int i, conv_inmsg_t *ret)
{
    ret->id = cmn_rows_int(rows, i, 0, 0);
    ret->channel = cmn_rows_get(rows, i, 1);
    ret->from = cmn_rows_get(rows, i, 2);
    ret->kind = cmn_rows_get(rows, i, 3);
    ret->body = cmn_rows_get(rows, i, 4);
    ret->trace = cmn_rows_get(rows, i, 5);
    ret->received_ms = cmn_rows_int(rows, i, 6, 0);
}

int conv_store_inbox_done(cmn_store_t *st, int64_t id, int64_t now)
{
    /* Processed: the typed text and the number are no longer needed. */
    cmn_param_t p[] = {P_INT(now), P_INT(id)};
    return s_exec_one(st,
                      "UPDATE inbox SET status = 1, processed_ms = $1, body = NULL, from_addr = "
                      "NULL WHERE id = $2 AND status = 0",
                      p, 2);
}

int conv_store_done_take(cmn_store_t *st, const char *user, int *ret_n)
{
    cmn_param_t p[] = {P_TEXT(user)};
    int64_t changes = 0;
    int r = cmn_store_exec(st, "DELETE FROM ciu_done WHERE user_key = $1", p, 1, &changes);

    if (r == 0)
        *ret_n = (int)changes;
    return r;
}

int conv_store_session_load(cmn_store_t *st, const char *user, conv_stored_t *ret)
{
    cmn_rows_t *rows = NULL;
    cmn_param_t p[] = {P_TEXT(user)};
    int r = cmn_store_query(st,
                            "SELECT lang, step, return_step, c_last, c_first, c_year, c_city, "
                            "c_gender, updated_ms, version, other_person, started_ms FROM sessions "
                            "WHERE "
                            "user_key = $1",
                            p, 1, &rows);
    if (r < 0)
        return r;
    memset(ret, 0, sizeof(*ret));
    ret->found = cmn_rows_count(rows) == 1;
    if (ret->found) {
        conv_session_t *s = &ret->s;
        s_copy(s->lang, sizeof(s->lang), cmn_rows_get(rows, 0, 0));
        s->step = (int)cmn_rows_int(rows, 0, 1, 0);
        s->return_step = (int)cmn_rows_int(rows, 0, 2, 0);
        s_copy(s->last, sizeof(s->last), cmn_rows_get(rows, 0, 3));
        s_copy(s->first, sizeof(s->first), cmn_rows_get(rows, 0, 4));
        s_copy(s->year, sizeof(s->year), cmn_rows_get(rows, 0, 5));
        s_copy(s->city, sizeof(s->city), cmn_rows_get(rows, 0, 6));
        s_copy(s->gender, sizeof(s->gender), cmn_rows_get(rows, 0, 7));
        s->updated_ms = cmn_rows_int(rows, 0, 8, 0);
        ret->version = cmn_rows_int(rows, 0, 9, 0);
        s->other = (int)cmn_rows_int(rows, 0, 10, 0);
        s->started_ms = cmn_rows_int(rows, 0, 11, 0);
    }
    cmn_rows_destroy(&rows);
    return 0;
}

int conv_store_session_save(cmn_store_t *st, const char *user, const conv_stored_t *read,
                            const conv_session_t *next)
{
    cmn_param_t p[] = {P_TEXT(user),
                       P_TEXT(next->lang[0] ? next->lang : "fr"),
                       P_INT(next->step),
                       P_INT(next->return_step),
                       P_TEXT(s_nz(next->last)),
                       P_TEXT(s_nz(next->first)),
                       P_TEXT(s_nz(next->year)),
                       P_TEXT(s_nz(next->city)),
                       P_TEXT(s_nz(next->gender)),
                       P_INT(next->updated_ms),
                       P_INT(read->version),
                       P_INT(next->other),
                       P_INT(next->started_ms)};
    if (!read->found)
        return s_exec_one(st,
                          "INSERT INTO sessions (user_key, lang, step, return_step, c_last, "
                          "c_first, c_year, c_city, c_gender, updated_ms, version, other_person, "
                          "started_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, "
                          "$13) ON CONFLICT (user_key) DO NOTHING",
                          p, 13);
    return s_exec_one(st,
                      "UPDATE sessions SET lang = $2, step = $3, return_step = $4, c_last = $5, "
                      "c_first = $6, c_year = $7, c_city = $8, c_gender = $9, updated_ms = $10, "
                      "version = version + 1, other_person = $12, started_ms = $13 WHERE "
                      "user_key = $1 AND version = $11",
                      p, 13);
}

int conv_store_session_drop(cmn_store_t *st, const char *user, const conv_stored_t *read)
{
    cmn_param_t p[] = {P_TEXT(user), P_INT(read->version)};

    if (!read->found)
        return 0;
    return s_exec_one(st, "DELETE FROM sessions WHERE user_key = $1 AND version = $2", p, 2);
}

int conv_store_flood_load(cmn_store_t *st, const char *user, conv_flood_state_t *ret)
{
    cmn_rows_t *rows = NULL;
    cmn_param_t p[] = {P_TEXT(user)};
    int r = cmn_store_query(st,
                            "SELECT window_start_ms, msg_count, blocked_until_ms FROM flood WHERE "
                            "user_key = $1",
                            p, 1, &rows);
    if (r < 0)
        return r;
    memset(ret, 0, sizeof(*ret));
    ret->window_start_ms = cmn_rows_int(rows, 0, 0, 0);
    ret->count = (int)cmn_rows_int(rows, 0, 1, 0);
    ret->blocked_until_ms = cmn_rows_int(rows, 0, 2, 0);
    cmn_rows_destroy(&rows);
    return 0;
}

int conv_store_flood_save(cmn_store_t *st, const char *user, const conv_flood_state_t *fl,
                          int64_t updated_ms)
{
    cmn_param_t p[] = {P_TEXT(user), P_INT(fl->window_start_ms), P_INT(fl->count),
                       P_INT(fl->blocked_until_ms), P_INT(updated_ms)};
    return cmn_store_exec(st,
                          "INSERT INTO flood (user_key, window_start_ms, msg_count, "
                          "blocked_until_ms, updated_ms) VALUES ($1, $2, $3, $4, $5) ON CONFLICT "
                          "(user_key) DO UPDATE SET window_start_ms = excluded.window_start_ms, "
                          "msg_count = excluded.msg_count, blocked_until_ms = "
                          "excluded.blocked_until_ms, updated_ms = excluded.updated_ms",
                          p, 5, NULL);
}

int conv_store_last_ciu(cmn_store_t *st, const char *user, char ret_ciu[16])
{
    cmn_rows_t *rows = NULL;
    cmn_param_t p[] = {P_TEXT(user)};
    int r = cmn_store_query(st, "SELECT ciu FROM user_cius WHERE user_key = $1", p, 1, &rows);

    if (r < 0)
        return r;
    s_copy(ret_ciu, 16, cmn_rows_get(rows, 0, 0));
    cmn_rows_destroy(&rows);
    return 0;
}

int conv_store_number_cius(cmn_store_t *st, const char *user, int max, char (*ret)[16], int *ret_n)
{
    cmn_rows_t *rows = NULL;
    cmn_param_t p[] = {P_TEXT(user), P_INT(max)};
    int r = cmn_store_query(st,
                            "SELECT ciu FROM number_cius WHERE user_key = $1 ORDER BY "
                            "created_ms, ciu LIMIT $2",
                            p, 2, &rows);
    if (r < 0)
        return r;
    int n = cmn_rows_count(rows);
    for (int i = 0; i < n && i < max; i++)
        s_copy(ret[i], 16, cmn_rows_get(rows, i, 0));
    *ret_n = n < max ? n : max;
    cmn_rows_destroy(&rows);
    return 0;
}

int conv_store_request(cmn_store_t *st, const conv_request_t *rq, int64_t now, int64_t *ret_id)
{
    const conv_session_t *ss = rq->session;
    char id[CMN_ID_LEN];
    int r = cmn_id_new(id);

    if (r < 0)
        return r;
    cmn_param_t p[] = {P_TEXT(id),
                       P_TEXT(rq->user),
                       P_TEXT(rq->channel),
                       P_TEXT(rq->to),
                       P_TEXT(ss->lang),
                       P_TEXT(ss->last),
                       P_TEXT(ss->first),
                       P_TEXT(ss->year),
                       P_TEXT(ss->city),
                       P_TEXT(ss->gender),
                       P_INT(now),
                       P_TEXT(rq->trace),
                       P_INT(cmn_shard_bucket(rq->user)),
                       P_INT(ss->other)};
    return cmn_store_query_int(st,
                               "INSERT INTO ciu_requests (req_id, user_key, channel, to_addr, "
                               "lang, c_last, c_first, c_year, c_city, c_gender, created_ms, "
                               "trace, shard, other_person) VALUES ($1, $2, $3, $4, $5, $6, $7, "
                               "$8, $9, $10, $11, $12, $13, $14) RETURNING id",
                               p, 14, 0, ret_id);
}

int conv_store_abandoned(cmn_store_t *st, int64_t before_ms, int limit, cmn_rows_t **ret_rows)
{
    cmn_param_t p[] = {P_INT(before_ms), P_INT(limit)};
    /* The version moves, so a transaction that read the session before
     * runs again and sees its conversation's end already announced. */
    return cmn_store_query(st,
                           "UPDATE sessions SET started_ms = 0, version = version + 1 WHERE "
                           "user_key IN (SELECT user_key FROM sessions WHERE updated_ms < $1 AND "
                           "started_ms > 0 LIMIT $2) RETURNING user_key, step, return_step",
                           p, 2, ret_rows);
}

int conv_store_purge(cmn_store_t *st, int64_t now, int64_t timeout_ms, int64_t marker_keep_ms,
                     int64_t flood_keep_ms)
{
    cmn_param_t p[] = {P_INT(now - timeout_ms)};
    cmn_param_t q[] = {P_INT(now - marker_keep_ms)};
    cmn_param_t f[] = {P_INT(flood_keep_ms < now ? now - flood_keep_ms : 0)};
    /* The version moves, so a transaction that read the answers before
     * they were purged runs again instead of writing them back. */
    int r = cmn_store_exec(st,
                           "UPDATE sessions SET c_last = NULL, c_first = NULL, c_year = NULL, "
                           "c_city = NULL, c_gender = NULL, version = version + 1 WHERE "
                           "updated_ms < $1 AND (c_last IS NOT NULL OR c_first IS NOT NULL OR "
                           "c_year IS NOT NULL OR c_city IS NOT NULL OR c_gender IS NOT NULL)",
                           p, 1, NULL);
    if (r == 0)
        r = cmn_store_exec(st, "DELETE FROM sessions WHERE updated_ms < $1", q, 1, NULL);
    if (r == 0)
        r = cmn_store_exec(st, "DELETE FROM flood WHERE updated_ms < $1", f, 1, NULL);
    return r;
}

const char conv_store_queue_sql[] = "SELECT COUNT(*), MIN(received_ms) FROM inbox WHERE status = 0";
