/* conv_store: the conversation's SQL, behind one function per question.
 *
 * Tables the conversation owns (docs/architecture.md): sessions, flood, and
 * the processing state of inbox rows (ingress inserts them) and of ciu_done
 * rows (the engine inserts them; the conversation deletes them). It inserts
 * ciu_requests for the engine and replies into the outbox.
 *
 * Writes that could race with another replica are conditional: a session
 * is saved only if its version is still the one read in this transaction,
 * and an inbox row is marked processed only if it still is pending. A lost
 * race returns -EBUSY, which makes cmn_daemon_tx run the whole transaction
 * again (it then sees the other replica's work). All functions run inside
 * the caller's transaction and return 0 or a store error.
 */
#ifndef CONV_STORE_H
#define CONV_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/cmn_crypto.h"
#include "common/cmn_stage.h"
#include "common/cmn_store.h"
#include "conv_flood.h"
#include "conv_flow.h"

/* Keys (people) with pending inbox or ciu_done rows in one replica's share,
 * oldest first. */
extern const cmn_scan_t conv_store_scan;
/* Unfinished items and the oldest one's creation time (queue gauges). */
extern const char conv_store_queue_sql[];

/* One pending inbox message (strings borrowed from the rows). */
typedef struct {
    int64_t id;
    const char *channel;
    const char *from; /* the number in clear, NULL once erased */
    const char *kind; /* "text", "image", ... */
    const char *body; /* the text, NULL for other kinds */
    const char *trace;
    int64_t received_ms;
} conv_inmsg_t;

/* A person's pending inbox rows in arrival (id) order: *ret_rows (caller
 * destroys); read each with conv_store_inbox_get. */
int conv_store_inbox(cmn_store_t *st, const char *user, cmn_rows_t **ret_rows);
void conv_store_inbox_get(const cmn_rows_t *rows, int i, conv_inmsg_t *ret);
/* Mark a row processed and erase its text and number. -EBUSY when it was
 * not pending any more (another replica handled it). */
int conv_store_inbox_done(cmn_store_t *st, int64_t id, int64_t now);

/* Delete the person's ciu_done rows (CIUs the engine issued since).
 * *ret_n: how many there were. */
int conv_store_done_take(cmn_store_t *st, const char *user, int *ret_n);

/* A session as read, with what a conditional write needs. */
typedef struct {
    conv_session_t s;
    bool found;
    int64_t version;
} conv_stored_t;

/* Read a person's session (ret->found false when there is none). */
int conv_store_session_load(cmn_store_t *st, const char *user, conv_stored_t *ret);
/* Store `next` in place of `read` (insert when none was found). -EBUSY
 * when the stored session changed since it was read. */
int conv_store_session_save(cmn_store_t *st, const char *user, const conv_stored_t *read,
                            const conv_session_t *next);
/* Delete the session read (nothing when none was found). -EBUSY as above. */
int conv_store_session_drop(cmn_store_t *st, const char *user, const conv_stored_t *read);

/* A person's flood count (all zero when none is stored). */
int conv_store_flood_load(cmn_store_t *st, const char *user, conv_flood_state_t *ret);
int conv_store_flood_save(cmn_store_t *st, const char *user, const conv_flood_state_t *fl,
                          int64_t updated_ms);

/* The last CIU this number obtained (ret_ciu "" when none). */
int conv_store_last_ciu(cmn_store_t *st, const char *user, char ret_ciu[16]);

/* The CIUs this number obtained (number_cius, the engine's), oldest first,
 * at most max: ret[0..*ret_n-1]. */
int conv_store_number_cius(cmn_store_t *st, const char *user, int max, char (*ret)[16], int *ret_n);

/* Ask the engine for a CIU: the session's codes. *ret_id: the row. */
typedef struct {
    const char *user, *channel, *to, *trace;
    const conv_session_t *session;
} conv_request_t;
int conv_store_request(cmn_store_t *st, const conv_request_t *rq, int64_t now, int64_t *ret_id);

/* Conversations left open past the timeout (updated before before_ms,
 * started_ms set): mark their end announced (started_ms = 0), at most
 * limit, and return rows (user_key, step, return_step) for the
 * conversation.abandoned events. Caller owns *ret_rows. */
int conv_store_abandoned(cmn_store_t *st, int64_t before_ms, int limit, cmn_rows_t **ret_rows);

/* Outside a transaction. Expired sessions lose their answers; their marker
 * (so the next message can say it expired) goes after marker_keep_ms;
 * flood counts older than flood_keep_ms go. */
int conv_store_purge(cmn_store_t *st, int64_t now, int64_t timeout_ms, int64_t marker_keep_ms,
                     int64_t flood_keep_ms);

#endif
