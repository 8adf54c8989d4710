/* cmn_keyset: distinct keys of a batch. See cmn_keyset.h. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/cmn_hash.h"
#include "common/cmn_keyset.h"

struct cmn_keyset {
    size_t cap;
    size_t count;
    size_t nslots;   /* power of two, >= 2 * cap */
    uint32_t *slots; /* 0 = empty, else key index + 1 */
    char (*keys)[CMN_KEY_MAX + 1];
};

cmn_keyset_t *cmn_keyset_new(size_t cap)
{
    cmn_keyset_t *ks;

    if (cap < 1 || cap > UINT32_MAX / 4)
        return NULL;
    ks = calloc(1, sizeof(*ks));
    if (ks == NULL)
        return NULL;
    ks->cap = cap;
    ks->nslots = 16;
    while (ks->nslots < 2 * cap)
        ks->nslots *= 2;
    ks->slots = calloc(ks->nslots, sizeof(*ks->slots));
    ks->keys = calloc(cap, sizeof(*ks->keys));
    if (ks->slots == NULL || ks->keys == NULL)
        cmn_keyset_destroy(&ks);
    return ks;
}

void cmn_keyset_destroy(cmn_keyset_t **p)
{
    if (p == NULL || *p == NULL)
        return;
    free((*p)->slots);
    free((*p)->keys);
    free(*p);
    *p = NULL;
}

/* The slot holding key, or the empty slot where it would go. */
static size_t s_slot(const cmn_keyset_t *ks, const char *key)
{
    size_t mask = ks->nslots - 1;
    size_t i = (size_t)cmn_fnv1a_str(key) & mask;

    while (ks->slots[i] != 0 && strcmp(ks->keys[ks->slots[i] - 1], key) != 0)
        i = (i + 1) & mask;
    return i;
}

static bool s_key_ok(const char *key)
{
    return key != NULL && key[0] != '\0' && strnlen(key, CMN_KEY_MAX + 1) <= CMN_KEY_MAX;
}

int cmn_keyset_add(cmn_keyset_t *ks, const char *key)
{
    size_t i;

    if (ks == NULL || !s_key_ok(key))
        return -EINVAL;
    i = s_slot(ks, key);
    if (ks->slots[i] != 0)
        return 0;
    if (ks->count == ks->cap)
        return -ENOSPC;
    memcpy(ks->keys[ks->count], key, strlen(key) + 1);
    ks->slots[i] = (uint32_t)(++ks->count);
    return 1;
}

int cmn_keyset_find(const cmn_keyset_t *ks, const char *key)
{
    size_t i;

    if (ks == NULL || !s_key_ok(key))
        return -ENOENT;
    i = s_slot(ks, key);
    return ks->slots[i] != 0 ? (int)ks->slots[i] - 1 : -ENOENT;
}

const char *cmn_keyset_key(const cmn_keyset_t *ks, size_t i)
{
    return ks != NULL && i < ks->count ? ks->keys[i] : NULL;
}

size_t cmn_keyset_count(const cmn_keyset_t *ks)
{
    return ks ? ks->count : 0;
}

size_t cmn_keyset_cap(const cmn_keyset_t *ks)
{
    return ks ? ks->cap : 0;
}

bool cmn_keyset_full(const cmn_keyset_t *ks)
{
    return ks == NULL || ks->count == ks->cap;
}

void cmn_keyset_clear(cmn_keyset_t *ks)
{
    if (ks == NULL || ks->count == 0)
        return;
    memset(ks->slots, 0, ks->nslots * sizeof(*ks->slots));
    ks->count = 0;
}

size_t cmn_keyset_add_msgs(cmn_keyset_t *ks, const cmn_msg_t *msgs, size_t n, const char *type)
{
    for (size_t i = 0; i < n; i++) {
        const cmn_msg_t *m = &msgs[i];
        if (strcmp(m->type, type) == 0)
            cmn_keyset_add(ks, m->user[0] ? m->user : m->ciu);
    }
    return cmn_keyset_count(ks);
}
