/* cmn_hash: FNV-1a and shard buckets. See cmn_hash.h. */
#include "common/cmn_hash.h"

#define S_FNV_OFFSET 14695981039346656037ULL
#define S_FNV_PRIME 1099511628211ULL

uint64_t cmn_fnv1a(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = S_FNV_OFFSET;

    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= S_FNV_PRIME;
    }
    return h;
}

uint64_t cmn_fnv1a_str(const char *s)
{
    uint64_t h = S_FNV_OFFSET;

    if (s == NULL)
        return h;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h ^= *p;
        h *= S_FNV_PRIME;
    }
    return h;
}

int cmn_shard_bucket(const char *key)
{
    if (key == NULL)
        return 0;
    return (int)(cmn_fnv1a_str(key) % CMN_SHARD_BUCKETS);
}

size_t cmn_shard_replica(const char *key, size_t count)
{
    if (count <= 1)
        return 0;
    return (size_t)cmn_shard_bucket(key) % count;
}
