/* cmn_events: the events every daemon publishes, also kept in the store.
 *
 * ZeroMQ PUB drops what nobody hears, so each event is also inserted into
 * the `events` table (migration 006) inside the transaction of the work it
 * reports: an event is stored if and only if its work committed. A
 * consumer that was not running replays the table (ciu-tap --since) before
 * going live; the dashboard counts conversations from it; the retention
 * purge deletes old rows. `seq` orders the rows: on PostgreSQL two
 * transactions may commit out of `seq` order, so a reader that follows the
 * table re-reads a short window behind its cursor and drops event ids it
 * has already seen (ciu-tap does).
 */
#ifndef CMN_EVENTS_H
#define CMN_EVENTS_H

#include <stdint.h>

#include "common/cmn_msg.h"
#include "common/cmn_store.h"

/* Insert one event (call inside the caller's write transaction). 0 or a
 * store error. */
int cmn_events_insert(cmn_store_t *st, const cmn_msg_t *ev);

/* Read up to limit events with seq > after_seq and ts >= since_ms, in seq
 * order, calling fn(arg, seq, ev) for each (stop early when fn returns
 * non-zero, which is returned). Rows that do not decode into a known event
 * are skipped. 0, fn's value, or a store error. */
typedef int (*cmn_events_fn)(void *arg, int64_t seq, const cmn_msg_t *ev);
int cmn_events_read(cmn_store_t *st, int64_t after_seq, int64_t since_ms, int limit,
                    cmn_events_fn fn, void *arg);

/* Delete events older than before_ms, at most limit rows; *ret_deleted
 * (may be NULL). 0 or a store error. */
int cmn_events_purge(cmn_store_t *st, int64_t before_ms, int limit, int64_t *ret_deleted);

#endif
