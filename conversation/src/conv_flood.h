/* conv_flood: per-number flood protection, pure, with an explicit clock.
 *
 * Each person may send `max` messages in a window of `window_ms` that opens
 * with their first message. The message that goes over the limit gets
 * CONV_FLOOD_WARN (the daemon answers it with flood_warning, once); every
 * further message gets CONV_FLOOD_DROP (ignored, no answer) until
 * `block_ms` after that warning; then the count starts again.
 *
 * The state of one person is plain data that the conversation keeps in the
 * store (table `flood`) and updates in the transaction that handles the
 * messages, so a transaction retried or replayed counts nothing twice, and
 * every replica sees the same counts. Time is the message's arrival time
 * (inbox.received_ms), not the time it is handled: a backlog handled late
 * after an outage is counted as the person sent it, and does not block an
 * innocent person. Times out of order or absurd never overflow: a message
 * older than the window's start opens a new window.
 */
#ifndef CONV_FLOOD_H
#define CONV_FLOOD_H

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    CONV_FLOOD_OK = 0, /* handle the message */
    CONV_FLOOD_WARN,   /* over the limit: send flood_warning, do not handle it */
    CONV_FLOOD_DROP,   /* blocked: ignore silently */
} conv_flood_verdict_t;

/* The limits (from CIU_FLOOD_*): max >= 1, window_ms > 0, block_ms >= 0
 * (0: warn and start a new window at once). */
typedef struct {
    int max;
    int64_t window_ms;
    int64_t block_ms;
} conv_flood_limits_t;

/* One person's count. All zero: nothing counted yet. */
typedef struct {
    int64_t window_start_ms;  /* arrival of the first message of the window */
    int count;                /* messages counted in the window */
    int64_t blocked_until_ms; /* > 0: ignored until then */
} conv_flood_state_t;

/* Count one message that arrived at at_ms and say what to do with it.
 * NULL limits or state give OK (fail open). */
conv_flood_verdict_t conv_flood_count(const conv_flood_limits_t *lim, conv_flood_state_t *st,
                                      int64_t at_ms);

/* How long after its last message a person's state still matters
 * (window + block, saturated): older states can be forgotten. */
int64_t conv_flood_keep_ms(const conv_flood_limits_t *lim);

/* "ok", "warn", "drop" (for logs and metrics). */
const char *conv_flood_verdict_str(conv_flood_verdict_t v);

#endif
