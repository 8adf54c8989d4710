/* cmn_hash: the one FNV-1a hash of ciu, and the shard buckets built on it.
 *
 * FNV-1a (64-bit, the textbook offset basis and prime) is used wherever a
 * fast, stable, non-cryptographic hash of a string is needed: prepared
 * statement caches, in-memory tables, and the sharding of people between
 * the replicas of a stage.
 *
 * Sharding: a key (a person's keyed hash, or a CIU for work about a CIU)
 * falls in one of CMN_SHARD_BUCKETS fixed buckets, cmn_shard_bucket(key).
 * Every table that a stage scans for pending work stores that bucket in an
 * INTEGER column `shard`, filled at insert. Replica `index` of `count` owns
 * the keys whose bucket % count == index: the sharded PUSH (cmn_bus_shard)
 * and the scans (`WHERE shard % $1 = $2`, see cmn_stage_scan) agree, and the
 * filter runs in SQL before any LIMIT, so no replica's backlog hides another
 * replica's rows. The bucket count is fixed forever: changing it would move
 * stored rows to other replicas.
 */
#ifndef CMN_HASH_H
#define CMN_HASH_H

#include <stddef.h>
#include <stdint.h>

#define CMN_SHARD_BUCKETS 1024

/* FNV-1a of len bytes (data may be NULL when len is 0). */
uint64_t cmn_fnv1a(const void *data, size_t len);
/* FNV-1a of a NUL-terminated string (NULL hashes like ""). */
uint64_t cmn_fnv1a_str(const char *s);

/* The shard bucket of a key, 0 .. CMN_SHARD_BUCKETS - 1 (NULL: 0). Store it
 * in the row's `shard` column when inserting work a stage scans for. */
int cmn_shard_bucket(const char *key);
/* The replica of `count` that owns a key: cmn_shard_bucket(key) % count
 * (0 when count <= 1). */
size_t cmn_shard_replica(const char *key, size_t count);

#endif
