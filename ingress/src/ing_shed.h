/* ing_shed: ingress's first line against one number flooding, with an
 * explicit clock.
 *
 * The conversation owns flood protection (conv_flood: CIU_FLOOD_MAX_MESSAGES
 * per CIU_FLOOD_WINDOW_SECONDS, then a warning and silence), but it sees a
 * message only after ingress committed it, so a number sending hundreds of
 * messages per second still costs two transactions each and slows everyone
 * down. ing_shed drops, before the store, the messages of a number that is
 * clearly past that limit: a token bucket per number refilling at max per
 * window with room for 2 x max. Any interval of L seconds lets the bucket pass
 * at least 2 max + max L / window messages, never fewer than the conversation
 * could handle in it (at most max per window, windows back to back), so what
 * is dropped here is what the conversation would have dropped; the message
 * that earns the warning still gets through.
 *
 * Memory is bounded: a fixed table of buckets keyed by a 64-bit hash of the
 * number. When a number finds no free or idle slot it is let through (fails
 * open): a collision never drops someone else's message. Thread-safe.
 */
#ifndef ING_SHED_H
#define ING_SHED_H

#include <stdbool.h>
#include <stdint.h>

typedef struct ing_shed ing_shed_t;

/* max >= 1 messages per window_s >= 1 seconds (the conversation's limit).
 * NULL when out of memory. Caller owns; ing_shed_destroy frees. */
ing_shed_t *ing_shed_new(long max, long window_s);
void ing_shed_destroy(ing_shed_t **p);

/* Count one message from `from` at now_ms (monotonic): true to store it,
 * false to drop it. A NULL shed or sender: true. */
bool ing_shed_admit(ing_shed_t *sh, const char *from, int64_t now_ms);

#endif
