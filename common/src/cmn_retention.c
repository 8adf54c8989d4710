/* cmn_retention: see cmn_retention.h. */
#include <errno.h>
#include <string.h>

#include "common/cmn_retention.h"

#define S_BATCH_DEFAULT 1000

/* One table: the finished rows older than $1 are `cond`; `key` lists the
 * columns of the primary key (compared as a row value when there are
 * several) the batched DELETE selects by, `LIMIT $2` rows at a time. */
typedef struct {
    const char *table;
    const char *count_sql;
    const char *delete_sql;
} s_rule_t;

#define S_RULE(t, key, cond)                                                                       \
    {                                                                                              \
        t, "SELECT COUNT(*) FROM " t " WHERE " cond,                                               \
            "DELETE FROM " t " WHERE (" key ") IN (SELECT " key " FROM " t " WHERE " cond          \
            " LIMIT $2)"                                                                           \
    }

static const s_rule_t s_rules[CMN_RETENTION_TABLES] = {
    /* idle since before the cutoff: long expired (the timeout is at most a day) */
    S_RULE("sessions", "user_key", "updated_ms < $1"),
    S_RULE("flood", "user_key", "updated_ms < $1 AND blocked_until_ms < $1"),
    /* processed (1); pending rows (0) stay */
    S_RULE("inbox", "id", "status = 1 AND received_ms < $1"),
    /* sent (1) or failed for good (2); waiting (0) and in flight (3) stay */
    S_RULE("outbox", "id", "status IN (1, 2) AND created_ms < $1"),
    S_RULE("sim_messages", "id", "created_ms < $1"),
    S_RULE("deliveries", "channel, provider_id", "updated_ms < $1"),
    S_RULE("delivery_events", "channel, provider_id, status", "received_ms < $1"),
    S_RULE("channel_media", "channel, token", "created_ms < $1"),
    S_RULE("events", "seq", "ts_ms < $1"),
};

static int s_count(cmn_store_t *st, const s_rule_t *r, int64_t cutoff, int64_t *ret)
{
    cmn_param_t p[] = {P_INT(cutoff)};
    return cmn_store_query_int(st, r->count_sql, p, 1, 0, ret);
}

/* Batches until one deletes fewer than `batch` rows. */
static int s_delete(cmn_store_t *st, const s_rule_t *r, int64_t cutoff, int batch, int64_t *total)
{
    cmn_param_t p[] = {P_INT(cutoff), P_INT(batch)};
    for (;;) {
        int64_t changes = 0;
        int rc = cmn_store_begin(st);
        if (rc == 0)
            rc = cmn_store_exec(st, r->delete_sql, p, 2, &changes);
        if (rc == 0)
            rc = cmn_store_commit(st);
        if (rc < 0) {
            cmn_store_rollback(st);
            return rc;
        }
        *total += changes;
        if (changes < batch)
            return 0;
    }
}

int cmn_retention_purge(cmn_store_t *st, int64_t older_than_ms, bool dry_run, int batch,
                        cmn_retention_counts_t *ret)
{
    if (st == NULL || ret == NULL)
        return -EINVAL;
    memset(ret, 0, sizeof(*ret));
    if (batch <= 0)
        batch = S_BATCH_DEFAULT;
    for (int i = 0; i < CMN_RETENTION_TABLES; i++) {
        const s_rule_t *r = &s_rules[i];
        int rc;
        ret->table[i] = r->table;
        ret->n = i + 1;
        rc = dry_run ? s_count(st, r, older_than_ms, &ret->rows[i])
                     : s_delete(st, r, older_than_ms, batch, &ret->rows[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}
