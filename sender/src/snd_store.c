/* snd_store: the sender's SQL (see snd_store.h). */
#include <stdlib.h>
#include <string.h>

#include "common/cmn_str.h"
#include "snd_store.h"

const char snd_store_scan_sql[] =
    "SELECT user_key FROM outbox WHERE ((status = 0 AND next_ms <= $4) OR (status = 3 AND "
    "lease_ms <= $4)) AND (shard % $1 = $2 OR (shard IS NULL AND $2 = 0)) GROUP BY user_key "
    "ORDER BY min(id) LIMIT $3";

int snd_store_head(cmn_store_t *st, const char *user, cmn_rows_t **ret)
{
    cmn_param_t p[] = {P_TEXT(user)};
    return cmn_store_query(st,
                           "SELECT id, channel, status, to_addr, body, media_url, ui, trace, "
                           "attempts, next_ms, lease_ms, created_ms FROM outbox WHERE "
                           "user_key = $1 AND status IN (0, 3) ORDER BY id LIMIT 1",
                           p, 1, ret);
}

int snd_store_claim(cmn_store_t *st, int64_t row, int64_t lease_until, int64_t now)
{
    int64_t changes = 0;
    cmn_param_t p[] = {P_INT(lease_until), P_INT(row), P_INT(now)};
    int r = cmn_store_exec(st,
                           "UPDATE outbox SET resends = resends + (CASE WHEN status = 3 THEN "
                           "1 ELSE 0 END), status = 3, lease_ms = $1 WHERE id = $2 AND "
                           "(status = 0 OR (status = 3 AND lease_ms <= $3))",
                           p, 3, &changes);
    return r < 0 ? r : changes == 1;
}

int snd_store_sim_pending(cmn_store_t *st, const char *user, cmn_rows_t **ret)
{
    cmn_param_t p[] = {P_TEXT(user)};
    return cmn_store_query(st,
                           "SELECT id, body, media_url, trace, created_ms FROM outbox WHERE "
                           "user_key = $1 AND status = 0 AND channel = 'sim' ORDER BY id",
                           p, 1, ret);
}

int snd_store_sim_deliver(cmn_store_t *st, const char *user, int64_t row, const char *body,
                          const char *media_url, int64_t now)
{
    cmn_param_t q[] = {P_TEXT(user), P_INT(row), P_TEXT(body), P_TEXT(media_url), P_INT(now)};
    int r = cmn_store_exec(st,
                           "INSERT INTO sim_messages (user_key, outbox_id, body, media_url, "
                           "created_ms) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (outbox_id) "
                           "DO NOTHING",
                           q, 5, NULL);
    if (r < 0)
        return r;
    cmn_param_t u[] = {P_INT(now), P_INT(row)};
    return cmn_store_exec(st,
                          "UPDATE outbox SET status = 1, sent_ms = $1, attempts = attempts + "
                          "1, to_addr = NULL WHERE id = $2 AND status = 0",
                          u, 2, NULL);
}

int snd_store_media(cmn_store_t *st, const char *token, char *out, size_t outlen, char **ret_path)
{
    cmn_rows_t *m = NULL;
    cmn_param_t p[] = {P_TEXT("meta"), P_TEXT(token)};
    int r = cmn_store_query(st,
                            "SELECT media_id FROM channel_media WHERE channel = $1 AND token "
                            "= $2",
                            p, 2, &m);
    out[0] = '\0';
    *ret_path = NULL;
    if (r == 0 && cmn_rows_count(m) == 1)
        cmn_strlcpy(out, cmn_rows_get(m, 0, 0), outlen);
    cmn_rows_destroy(&m);
    if (r < 0 || out[0])
        return r;
    return snd_store_media_path(st, token, ret_path);
}

int snd_store_media_path(cmn_store_t *st, const char *token, char **ret_path)
{
    cmn_rows_t *m = NULL;
    cmn_param_t q[] = {P_TEXT(token)};
    int r = cmn_store_query(st, "SELECT path FROM media WHERE token = $1", q, 1, &m);
    *ret_path = NULL;
    if (r == 0 && cmn_rows_count(m) == 1 && cmn_rows_get(m, 0, 0))
        *ret_path = strdup(cmn_rows_get(m, 0, 0));
    cmn_rows_destroy(&m);
    return r;
}

int snd_store_media_put(cmn_store_t *st, const char *token, const char *media_id, int64_t now)
{
    cmn_param_t p[] = {P_TEXT("meta"), P_TEXT(token), P_TEXT(media_id), P_INT(now)};
    return cmn_store_exec(st,
                          "INSERT INTO channel_media (channel, token, media_id, created_ms) "
                          "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                          p, 4, NULL);
}

int snd_store_sent(cmn_store_t *st, int64_t row, const char *provider_id, int64_t now)
{
    cmn_param_t p[] = {P_INT(now), P_TEXT(provider_id), P_INT(row)};
    return cmn_store_exec(st,
                          "UPDATE outbox SET status = 1, sent_ms = $1, provider_id = $2, "
                          "attempts = attempts + 1, to_addr = NULL, lease_ms = 0, last_error "
                          "= NULL, error_code = NULL WHERE id = $3 AND status = 3",
                          p, 3, NULL);
}

int snd_store_failed(cmn_store_t *st, int64_t row, const char *reason, const char *code)
{
    cmn_param_t p[] = {P_TEXT(reason), P_TEXT(code && *code ? code : NULL), P_INT(row)};
    return cmn_store_exec(st,
                          "UPDATE outbox SET status = 2, attempts = attempts + 1, to_addr = "
                          "NULL, lease_ms = 0, last_error = $1, error_code = $2 WHERE id = $3 "
                          "AND status IN (0, 3)",
                          p, 3, NULL);
}

int snd_store_retry(cmn_store_t *st, int64_t row, int64_t next_ms, const char *reason,
                    const char *code, bool count_attempt, bool maybe_sent)
{
    cmn_param_t p[] = {P_INT(next_ms),
                       P_TEXT(reason),
                       P_TEXT(code && *code ? code : NULL),
                       P_INT(count_attempt ? 1 : 0),
                       P_INT(row),
                       P_INT(maybe_sent ? 1 : 0)};
    return cmn_store_exec(st,
                          "UPDATE outbox SET status = 0, lease_ms = 0, next_ms = $1, "
                          "last_error = $2, error_code = $3, attempts = attempts + $4, "
                          "resends = resends + $6 WHERE id = $5 AND status = 3",
                          p, 6, NULL);
}

int snd_store_channel_state(cmn_store_t *st, const char *channel, bool paused, const char *reason,
                            int64_t now)
{
    cmn_param_t p[] = {P_TEXT(channel), P_INT(paused), P_TEXT(reason), P_INT(now)};
    return cmn_store_exec(st,
                          "INSERT INTO channel_state (channel, paused, reason, updated_ms) "
                          "VALUES ($1, $2, $3, $4) ON CONFLICT (channel) DO UPDATE SET paused "
                          "= excluded.paused, reason = excluded.reason, updated_ms = "
                          "excluded.updated_ms",
                          p, 4, NULL);
}

const char snd_store_queue_sql[] =
    "SELECT COUNT(*), MIN(created_ms) FROM outbox WHERE status IN (0, 3)";
