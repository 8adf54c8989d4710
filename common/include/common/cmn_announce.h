/* cmn_announce: what a stage tells the others once its transaction commits.
 *
 * A stage must not wake the next stage, publish an event or count a metric
 * for work that is not committed: a rolled-back or retried transaction
 * would announce work that does not exist, or announce it twice. So the
 * transaction's code queues its announcements here, and the stage flushes
 * the list after the commit (cmn_stage_tx does both: it empties the list
 * before every attempt and flushes it after the commit). Announcements are
 * sent in the order they were queued.
 *
 * The list has a hard maximum; past it an announcement is dropped, which
 * only delays work (the receiver's periodic scan finds the rows).
 * Not thread-safe: one list per worker loop.
 */
#ifndef CMN_ANNOUNCE_H
#define CMN_ANNOUNCE_H

#include <stddef.h>
#include <stdint.h>

#include "common/cmn_bus.h"
#include "common/cmn_metrics.h"
#include "common/cmn_msg.h"
#include "common/cmn_store.h"

typedef struct cmn_announce cmn_announce_t;

/* A list of up to max >= 1 announcements. NULL on bad arguments or out of
 * memory. Caller owns; free with cmn_announce_destroy. */
cmn_announce_t *cmn_announce_new(size_t max);
/* Free and set *p to NULL. NULL-safe. */
void cmn_announce_destroy(cmn_announce_t **p);

/* Queue a wake-up (cmn_push_send after commit), an event (cmn_pub_send) or
 * a counter increment. `to`/`c` are borrowed and must outlive the flush;
 * the message is copied. 0, -ENOSPC (list full: dropped), -ENOMEM,
 * -EINVAL. */
int cmn_announce_push(cmn_announce_t *a, cmn_push_t *to, const cmn_msg_t *m);
int cmn_announce_pub(cmn_announce_t *a, cmn_pub_t *to, const cmn_msg_t *m);
int cmn_announce_count(cmn_announce_t *a, cmn_counter_t *c, uint64_t n);

/* Insert every queued event into the store's events table, in order
 * (cmn_events_insert): call inside the transaction whose work the events
 * report, so they are kept exactly when it commits (cmn_stage_tx does). 0
 * or the first store error. */
int cmn_announce_store(const cmn_announce_t *a, cmn_store_t *st);

/* Announcements queued. */
size_t cmn_announce_size(const cmn_announce_t *a);
/* Forget everything queued (the transaction rolled back or is retried). */
void cmn_announce_clear(cmn_announce_t *a);
/* Send, publish and count everything queued, in order, then clear. Returns
 * how many sends failed (queue full, socket error): wake-ups lost that way
 * only delay work. */
size_t cmn_announce_flush(cmn_announce_t *a);

#endif
