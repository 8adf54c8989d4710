/* ciu_store: the engine's SQL. See ciu_store.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ciu_store.h"

#define S_UNWRITTEN_MAX 100 /* media rows checked per scan */

const cmn_scan_t ciu_store_scan = {
    .sql = "SELECT user_key FROM ciu_requests WHERE status = 0 AND (shard % $1 = $2 OR "
           "(shard IS NULL AND $2 = 0)) GROUP BY user_key ORDER BY min(id) LIMIT $3",
};

static void s_cell(char *dst, size_t size, const cmn_rows_t *rows, int row, int col)
{
    const char *v = cmn_rows_get(rows, row, col);
    cmn_strlcpy(dst, v ? v : "", size);
}

/* Columns: user_key, channel, to_addr, lang, c_last, c_first, c_year,
 * c_city, c_gender, trace, id, other_person. */
#define S_REQUEST_COLS                                                                             \
    "user_key, channel, to_addr, lang, c_last, c_first, c_year, c_city, c_gender, trace, id, "     \
    "other_person"

static void s_request(const cmn_rows_t *rows, int i, ciu_request_t *rq)
{
    memset(rq, 0, sizeof(*rq));
    s_cell(rq->user, sizeof(rq->user), rows, i, 0);
    s_cell(rq->channel, sizeof(rq->channel), rows, i, 1);
    s_cell(rq->to, sizeof(rq->to), rows, i, 2);
    s_cell(rq->lang, sizeof(rq->lang), rows, i, 3);
    s_cell(rq->last, sizeof(rq->last), rows, i, 4);
    s_cell(rq->first, sizeof(rq->first), rows, i, 5);
    s_cell(rq->year, sizeof(rq->year), rows, i, 6);
    s_cell(rq->city, sizeof(rq->city), rows, i, 7);
    s_cell(rq->gender, sizeof(rq->gender), rows, i, 8);
    s_cell(rq->trace, sizeof(rq->trace), rows, i, 9);
    rq->id = cmn_rows_int(rows, i, 10, 0);
    rq->other = cmn_rows_int(rows, i, 11, 0) == 1;
}

int ciu_store_pending(cmn_store_t *st, const char *user, ciu_request_t **ret, size_t *ret_n)
{
    cmn_param_t p[] = {P_TEXT(user)};
    cmn_rows_t *rows = NULL;
    ciu_request_t *list;
    int r = cmn_store_query(st,
                            "SELECT " S_REQUEST_COLS " FROM ciu_requests WHERE user_key = $1 AND "
                            "status = 0 ORDER BY id",
                            p, 1, &rows);
    if (r < 0)
        return r;
    list = calloc((size_t)cmn_rows_count(rows) + 1, sizeof(*list));
    if (list == NULL) {
        cmn_rows_destroy(&rows);
        return -ENOMEM;
    }
    for (int i = 0; i < cmn_rows_count(rows); i++)
        s_request(rows, i, &list[i]);
    *ret_n = (size_t)cmn_rows_count(rows);
    *ret = list;
    cmn_rows_destroy(&rows);
    return 0;
}

int ciu_store_claim(cmn_store_t *st, int64_t id, ciu_request_t *ret, bool *ret_found)
{
    cmn_param_t p[] = {P_INT(id)};
    cmn_rows_t *rows = NULL;
    int r = cmn_store_query(st,
                            "DELETE FROM ciu_requests WHERE id = $1 AND status = 0 "
                            "RETURNING " S_REQUEST_COLS,
                            p, 1, &rows);
    if (r < 0)
        return r;
    *ret_found = cmn_rows_count(rows) == 1;
    if (*ret_found)
        s_request(rows, 0, ret);
    cmn_rows_destroy(&rows);
    return 0;
}

int ciu_store_register(cmn_store_t *st, const char *ciu, const char *reg_key, const char *user,
                       int64_t now, bool *ret_existing, char ret_first_user[CMN_HEX256_LEN])
{
    cmn_param_t p[] = {P_TEXT(ciu), P_TEXT(reg_key), P_TEXT(user), P_INT(now)};
    cmn_rows_t *rows = NULL;
    int r = cmn_store_query(st,
                            "INSERT INTO registry (ciu, reg_key, first_user_key, request_count, "
                            "first_ms, last_ms) VALUES ($1, $2, $3, 1, $4, $4) ON CONFLICT (ciu) "
                            "DO UPDATE SET request_count = registry.request_count + 1, last_ms = "
                            "excluded.last_ms RETURNING request_count, first_user_key",
                            p, 4, &rows);
    if (r < 0)
        return r;
    if (cmn_rows_count(rows) != 1) {
        cmn_rows_destroy(&rows);
        return -EIO;
    }
    *ret_existing = cmn_rows_int(rows, 0, 0, 1) > 1;
    s_cell(ret_first_user, CMN_HEX256_LEN, rows, 0, 1);
    cmn_rows_destroy(&rows);
    return 0;
}

int ciu_store_user_ciu(cmn_store_t *st, const char *user, const char *ciu, int64_t now,
                       char ret_prev[16])
{
    cmn_param_t p[] = {P_TEXT(user), P_TEXT(ciu), P_INT(now)};
    cmn_rows_t *rows = NULL;
    int r = cmn_store_query(st,
                            "INSERT INTO user_cius (user_key, ciu, updated_ms) VALUES ($1, $2, $3) "
                            "ON CONFLICT (user_key) DO UPDATE SET prev_ciu = user_cius.ciu, ciu = "
                            "excluded.ciu, updated_ms = excluded.updated_ms RETURNING prev_ciu",
                            p, 3, &rows);
    if (r < 0)
        return r;
    s_cell(ret_prev, 16, rows, 0, 0);
    cmn_rows_destroy(&rows);
    return 0;
}

int ciu_store_number_ciu(cmn_store_t *st, const char *user, const char *ciu, int64_t now,
                         bool *ret_new)
{
    cmn_param_t p[] = {P_TEXT(user), P_TEXT(ciu), P_INT(now)};
    cmn_rows_t *rows = NULL;
    int r = cmn_store_query(st,
                            "INSERT INTO number_cius (user_key, ciu, created_ms) VALUES ($1, $2, "
                            "$3) ON CONFLICT (user_key, ciu) DO NOTHING RETURNING ciu",
                            p, 3, &rows);
    if (r < 0)
        return r;
    *ret_new = cmn_rows_count(rows) == 1;
    cmn_rows_destroy(&rows);
    return 0;
}

int ciu_store_duplicate(cmn_store_t *st, const char *kind, const char *ciu, const char *other_ciu,
                        const char *user, const char *other_user, int64_t now, bool *ret_new)
{
    cmn_param_t p[] = {P_TEXT(kind), P_TEXT(ciu),        P_TEXT(other_ciu),
                       P_TEXT(user), P_TEXT(other_user), P_INT(now)};
    int64_t id = 0;
    int r = cmn_store_query_int(st,
                                "INSERT INTO duplicates (kind, ciu, other_ciu, user_key, "
                                "other_user_key, created_ms, status) VALUES ($1, $2, $3, $4, $5, "
                                "$6, 'open') ON CONFLICT (kind, ciu, user_key) DO NOTHING "
                                "RETURNING id",
                                p, 6, 0, &id);
    if (r == 0)
        *ret_new = id > 0;
    return r;
}

int ciu_store_media_add(cmn_store_t *st, const char *token, const char *path, const char *ciu,
                        int64_t expires_ms)
{
    cmn_param_t p[] = {P_TEXT(token), P_TEXT(path), P_TEXT("image/png"), P_INT(expires_ms),
                       P_TEXT(ciu)};
    return cmn_store_exec(st,
                          "INSERT INTO media (token, path, content_type, expires_ms, ciu, written) "
                          "VALUES ($1, $2, $3, $4, $5, 0)",
                          p, 5, NULL);
}

int ciu_store_sync_queue(cmn_store_t *st, const char *ciu, int64_t now, const char *trace,
                         int64_t *ret_row)
{
    cmn_param_t p[] = {P_TEXT(ciu), P_INT(now), P_TEXT(trace), P_INT(cmn_shard_bucket(ciu))};
    return cmn_store_query_int(st,
                               "INSERT INTO dhis2_sync (ciu, status, next_ms, created_ms, "
                               "updated_ms, trace, shard) VALUES ($1, 'queued', $2, $2, $2, $3, "
                               "$4) ON CONFLICT (ciu) DO NOTHING RETURNING id",
                               p, 4, 0, ret_row);
}

int ciu_store_done(cmn_store_t *st, const ciu_request_t *rq, int64_t now)
{
    cmn_param_t p[] = {P_INT(rq->id), P_TEXT(rq->user), P_INT(cmn_shard_bucket(rq->user)),
                       P_INT(now), P_TEXT(rq->trace)};
    return cmn_store_exec(st,
                          "INSERT INTO ciu_done (request_id, user_key, shard, created_ms, trace) "
                          "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (request_id) DO NOTHING",
                          p, 5, NULL);
}

int ciu_store_media_purge(cmn_store_t *st, int64_t now)
{
    cmn_param_t p[] = {P_INT(now)};
    return cmn_store_exec(st, "DELETE FROM media WHERE expires_ms <= $1", p, 1, NULL);
}

int ciu_store_media_unwritten(cmn_store_t *st, int64_t before_expiry_ms,
                              int (*fn)(void *arg, const char *path, const char *ciu), void *arg)
{
    cmn_param_t p[] = {P_INT(before_expiry_ms), P_INT(S_UNWRITTEN_MAX)};
    cmn_rows_t *rows = NULL;
    int marked = 0;
    int r = cmn_store_query(st,
                            "SELECT token, path, ciu FROM media WHERE written = 0 AND expires_ms "
                            "<= $1 ORDER BY expires_ms LIMIT $2",
                            p, 2, &rows);
    for (int i = 0; r == 0 && i < cmn_rows_count(rows); i++) {
        const char *ciu = cmn_rows_get(rows, i, 2);
        cmn_param_t t[] = {P_TEXT(cmn_rows_get(rows, i, 0))};
        if (ciu == NULL || fn(arg, cmn_rows_get(rows, i, 1), ciu) < 0)
            continue;
        r = cmn_store_exec(st, "UPDATE media SET written = 1 WHERE token = $1", t, 1, NULL);
        marked += r == 0;
    }
    cmn_rows_destroy(&rows);
    return r < 0 ? r : marked;
}

const char ciu_store_queue_sql[] =
    "SELECT COUNT(*), MIN(created_ms) FROM ciu_requests WHERE status = 0";
