/* cmn_stage: the pieces every pipeline stage shares around its own work.
 *
 * A stage (conversation, engine, sender, bridge) does the same three things
 * around its own logic:
 *
 *   1. wake-ups: drain a batch, keep each key (person, or CIU) once, and
 *      handle those keys in one transaction (cmn_stage_batch + cmn_keyset);
 *   2. scans: every CIU_RESCAN_MS, select the keys with pending rows of
 *      this replica's share only (the `shard` column, see cmn_hash.h) and
 *      handle them in chunks (cmn_stage_scan);
 *   3. announcements: wake the next stage, publish events and count metrics
 *      only after the commit, once, even when the transaction was retried
 *      (cmn_stage_tx + cmn_announce).
 *
 * docs/common/daemon.md shows a whole stage built from these.
 */
#ifndef CMN_STAGE_H
#define CMN_STAGE_H

#include <stddef.h>

#include "common/cmn_announce.h"
#include "common/cmn_daemon.h"
#include "common/cmn_hash.h"
#include "common/cmn_keyset.h"
#include "common/cmn_store.h"

#define CMN_STAGE_SCAN_LIMIT 1000 /* most keys one scan picks up (default) */

/* What every stage owns besides its own logic: this replica's PULL (and so
 * its share: shard of shards), its PUB for events, a keyset for one batch
 * (CIU_BATCH_MAX keys) and the post-commit announcement list. A stage embeds
 * one and opens it in its _new, closes it in its _destroy. */
typedef struct {
    cmn_daemon_t *d;
    cmn_pull_t *pull;
    cmn_pub_t *pub;
    size_t shard, shards;
    cmn_keyset_t *keys;
    cmn_announce_t *ann;
} cmn_stage_t;

/* endpoints: the stage's PULL list (e.g. settings.ep_sender); events: its
 * PUB endpoint and events_var the variable that sets it (for the error
 * line). 0, or -errno after logging one line; close it in any case. */
int cmn_stage_open(cmn_stage_t *st, cmn_daemon_t *d, const char *endpoints, const char *events,
                   const char *events_var);
void cmn_stage_close(cmn_stage_t *st); /* safe on a half-opened or zeroed stage */
/* The worker loop (cmn_daemon_work) on this stage's PULL. Returns an exit code. */
int cmn_stage_run(cmn_stage_t *st, const cmn_worker_ops_t *ops, void *arg);
#define CMN_STAGE_EXTRA_MAX 8     /* most extra parameters of a scan query */

/* Handles a set of keys (one chunk of a scan, or one batch of wake-ups). */
typedef int (*cmn_stage_fn)(void *arg, const cmn_keyset_t *keys);

/* The query that finds keys with pending work. It returns the key in
 * column 0 and binds $1 = replica count, $2 = replica index, $3 = limit,
 * then `extra` as $4, $5, ... Filter by share before the limit and take the
 * oldest work first, e.g.
 *     SELECT user_key FROM inbox WHERE status = 0 AND shard % $1 = $2
 *     GROUP BY user_key ORDER BY min(id) LIMIT $3
 */
typedef struct {
    const char *sql;
    const cmn_param_t *extra; /* may be NULL when nextra is 0 */
    int nextra;               /* 0 .. CMN_STAGE_EXTRA_MAX */
    size_t limit;             /* 0: CMN_STAGE_SCAN_LIMIT */
} cmn_scan_t;

/* Run the scan query (outside any transaction) for replica `index` of
 * `count`, then call fn on chunks of the keys found: `keys` is cleared and
 * filled up to its capacity for each call. Stops at the first error.
 * Returns the number of keys found (>= 0) or -errno (store error, or the
 * first error of fn). */
int cmn_stage_scan(cmn_store_t *st, const cmn_scan_t *scan, size_t index, size_t count,
                   cmn_keyset_t *keys, cmn_stage_fn fn, void *arg);

/* A batch of wake-ups: clear `keys`, add the key of every message of
 * `type` (cmn_keyset_add_msgs) and call fn once if there is any. Returns 0
 * or fn's error. */
int cmn_stage_batch(const cmn_msg_t *msgs, size_t n, const char *type, cmn_keyset_t *keys,
                    cmn_stage_fn fn, void *arg);

/* Run fn inside one write transaction (cmn_daemon_tx: retried on -EBUSY,
 * commit when fn returns >= 0). `a` is emptied before every attempt, so
 * fn queues its announcements afresh each time; the events among them are
 * inserted into the events table before the commit, and all are flushed after the
 * commit; on failure it is left empty. Returns fn's result or the store
 * error. */
int cmn_stage_tx(cmn_daemon_t *d, cmn_announce_t *a, int (*fn)(void *arg, cmn_store_t *st),
                 void *arg);

#endif
