/* cmn_keyset: the distinct keys of one batch, in first-seen order.
 *
 * A stage drains up to CIU_BATCH_MAX wake-ups at once; several of them may
 * name the same person (a burst) or the same CIU. The stage handles each key
 * once per batch, in the order the keys were first seen: a keyset collects
 * them, with a hard capacity fixed at creation and O(1) lookups (open
 * addressing on cmn_fnv1a). Keys are short strings: a person's keyed hash
 * (64 hex digits) or a CIU.
 *
 * Not thread-safe: one per worker loop.
 */
#ifndef CMN_KEYSET_H
#define CMN_KEYSET_H

#include <stdbool.h>
#include <stddef.h>

#include "common/cmn_msg.h"

#define CMN_KEY_MAX 64 /* longest key, in bytes */

typedef struct cmn_keyset cmn_keyset_t;

/* A set for up to cap >= 1 keys. NULL on bad arguments or out of memory.
 * Caller owns; free with cmn_keyset_destroy. */
cmn_keyset_t *cmn_keyset_new(size_t cap);
/* Free and set *p to NULL. NULL-safe. */
void cmn_keyset_destroy(cmn_keyset_t **p);

/* Add a key. 1 when added, 0 when already there, -ENOSPC when the set is
 * full, -EINVAL for a NULL, empty or too long key. */
int cmn_keyset_add(cmn_keyset_t *ks, const char *key);
/* Position of a key (0 .. count - 1), or -ENOENT. */
int cmn_keyset_find(const cmn_keyset_t *ks, const char *key);
/* The i-th key in first-seen order (borrowed), NULL out of range. */
const char *cmn_keyset_key(const cmn_keyset_t *ks, size_t i);
size_t cmn_keyset_count(const cmn_keyset_t *ks);
size_t cmn_keyset_cap(const cmn_keyset_t *ks);
bool cmn_keyset_full(const cmn_keyset_t *ks);
/* Forget every key (the capacity stays). */
void cmn_keyset_clear(cmn_keyset_t *ks);

/* Add the shard key of each message of `type`: m.user, or m.ciu when user
 * is empty (the same key cmn_push_send shards by). Messages of other types,
 * without a key, or past the capacity are skipped (the stage's scan finds
 * their rows). Returns the number of keys in the set. */
size_t cmn_keyset_add_msgs(cmn_keyset_t *ks, const cmn_msg_t *msgs, size_t n, const char *type);

#endif
