/* cmn_outbox: one INSERT for every reply any stage queues. */
#include "common/cmn_outbox.h"
#include "common/cmn_crypto.h"
#include "common/cmn_hash.h"

int cmn_outbox_queue(cmn_store_t *st, const cmn_reply_t *reply, int64_t now, int64_t *ret_row)
{
    char id[CMN_ID_LEN];
    cmn_rows_t *rows = NULL;
    int r = cmn_id_new(id);
    if (r < 0)
        return r;
    cmn_param_t p[] = {P_TEXT(id),          P_TEXT(reply->channel), P_TEXT(reply->user),
                       P_TEXT(reply->to),   P_TEXT(reply->body),    P_TEXT(reply->media),
                       P_INT(now),          P_TEXT(reply->trace),   P_TEXT(reply->ui),
                       P_INT(cmn_shard_bucket(reply->user))};
    r = cmn_store_query(st, "INSERT INTO outbox (msg_id, channel, user_key, to_addr, body, "
                            "media_url, next_ms, created_ms, trace, ui, shard) VALUES ($1, $2, $3, "
                            "$4, $5, $6, $7, $7, $8, $9, $10) RETURNING id",
                        p, 10, &rows);
    if (r == 0)
        *ret_row = cmn_rows_int(rows, 0, 0, 0);
    cmn_rows_destroy(&rows);
    return r;
}
