/* conv_flood: per-number flood protection, pure with an explicit clock.
 *
 * Each person (a key: the hashed phone number) may send `max` messages in a
 * window of `window_ms` that opens with their first message. The message
 * that goes over the limit gets CONV_FLOOD_WARN (the daemon answers it with
 * flood_warning, once); every further message gets CONV_FLOOD_DROP (ignored,
 * no answer) until `block_ms` after that warning; then the count starts
 * again. Other keys are unaffected.
 *
 * Memory is bounded: at most `cap` keys are tracked; when a new key arrives
 * in a full table, the key seen least recently is forgotten (O(1), LRU).
 * Forgetting a key only ever lets a person through early, never blocks one.
 * Keys longer than CONV_FLOOD_KEY_MAX bytes are not tracked (always OK).
 *
 * Not thread-safe: one table per thread, or a lock around conv_flood_check.
 */
#ifndef CONV_FLOOD_H
#define CONV_FLOOD_H

#include <stddef.h>
#include <stdint.h>

typedef struct conv_flood conv_flood_t;

typedef enum {
    CONV_FLOOD_OK = 0, /* handle the message */
    CONV_FLOOD_WARN,   /* over the limit: send flood_warning, do not handle it */
    CONV_FLOOD_DROP,   /* blocked: ignore silently */
} conv_flood_verdict_t;

#define CONV_FLOOD_KEY_MAX 256

/* New table: max >= 1 messages per window_ms > 0, block_ms >= 0, cap >= 1
 * keys. Returns NULL on bad arguments or out of memory. Caller owns. */
conv_flood_t *conv_flood_new(int max, int64_t window_ms, int64_t block_ms, size_t cap);

/* Free the table and set *p to NULL. NULL-safe. */
void conv_flood_destroy(conv_flood_t **p);

/* Count one message of `key` at `now_ms` and say what to do with it. A NULL
 * table or key, a key too long or an allocation failure gives OK (fail open). */
conv_flood_verdict_t conv_flood_check(conv_flood_t *f, const char *key, int64_t now_ms);

/* Keys currently tracked (<= cap). */
size_t conv_flood_size(const conv_flood_t *f);

/* "ok", "warn", "drop" (for logs and metrics). */
const char *conv_flood_verdict_str(conv_flood_verdict_t v);

#endif
