/* conv_flood: per-key fixed-window message limit with a block period, in a
 * hash table with LRU eviction. See conv_flood.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "conv_flood.h"

typedef struct s_entry s_entry_t;
struct s_entry {
    s_entry_t *hnext;           /* bucket chain */
    s_entry_t *prev, *next;     /* LRU list, most recent first */
    uint64_t hash;
    int64_t window_start;       /* first message of the current window */
    int64_t blocked_until;      /* valid when blocked */
    bool blocked;
    int count;                  /* messages in the current window */
    size_t key_len;
    char key[];                 /* NUL-terminated */
};

struct conv_flood {
    int max;
    int64_t window_ms;
    int64_t block_ms;
    size_t cap;
    size_t size;
    size_t nbuckets; /* power of two */
    s_entry_t **buckets;
    s_entry_t *head, *tail; /* LRU */
};

static uint64_t s_hash(const char *key, size_t len)
{
    uint64_t h = 14695981039346656037ULL; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 1099511628211ULL;
    }
    return h;
}

conv_flood_t *conv_flood_new(int max, int64_t window_ms, int64_t block_ms, size_t cap)
{
    if (max < 1 || window_ms <= 0 || block_ms < 0 || cap < 1 || cap > SIZE_MAX / 4)
        return NULL;
    conv_flood_t *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->max = max;
    f->window_ms = window_ms;
    f->block_ms = block_ms;
    f->cap = cap;
    f->nbuckets = 16;
    while (f->nbuckets < cap)
        f->nbuckets *= 2;
    f->buckets = calloc(f->nbuckets, sizeof(*f->buckets));
    if (!f->buckets) {
        free(f);
        return NULL;
    }
    return f;
}

void conv_flood_destroy(conv_flood_t **p)
{
    if (!p || !*p)
        return;
    conv_flood_t *f = *p;
    s_entry_t *e = f->head;
    while (e) {
        s_entry_t *next = e->next;
        free(e);
        e = next;
    }
    free(f->buckets);
    free(f);
    *p = NULL;
}

static void s_lru_unlink(conv_flood_t *f, s_entry_t *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        f->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        f->tail = e->prev;
    e->prev = e->next = NULL;
}

static void s_lru_push(conv_flood_t *f, s_entry_t *e)
{
    e->prev = NULL;
    e->next = f->head;
    if (f->head)
        f->head->prev = e;
    f->head = e;
    if (!f->tail)
        f->tail = e;
}

static void s_remove(conv_flood_t *f, s_entry_t *e)
{
    s_entry_t **pp = &f->buckets[e->hash & (f->nbuckets - 1)];
    while (*pp && *pp != e)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = e->hnext;
    s_lru_unlink(f, e);
    f->size--;
    free(e);
}

static s_entry_t *s_find(conv_flood_t *f, const char *key, size_t len, uint64_t h)
{
    for (s_entry_t *e = f->buckets[h & (f->nbuckets - 1)]; e; e = e->hnext)
        if (e->hash == h && e->key_len == len && memcmp(e->key, key, len) == 0)
            return e;
    return NULL;
}

static s_entry_t *s_insert(conv_flood_t *f, const char *key, size_t len, uint64_t h,
                           int64_t now_ms)
{
    if (f->size >= f->cap)
        s_remove(f, f->tail); /* least recently seen */
    s_entry_t *e = calloc(1, sizeof(*e) + len + 1);
    if (!e)
        return NULL;
    memcpy(e->key, key, len);
    e->key_len = len;
    e->hash = h;
    e->window_start = now_ms;
    size_t b = h & (f->nbuckets - 1);
    e->hnext = f->buckets[b];
    f->buckets[b] = e;
    s_lru_push(f, e);
    f->size++;
    return e;
}

conv_flood_verdict_t conv_flood_check(conv_flood_t *f, const char *key, int64_t now_ms)
{
    if (!f || !key)
        return CONV_FLOOD_OK;
    size_t len = strnlen(key, CONV_FLOOD_KEY_MAX + 1);
    if (len > CONV_FLOOD_KEY_MAX)
        return CONV_FLOOD_OK;
    uint64_t h = s_hash(key, len);
    s_entry_t *e = s_find(f, key, len, h);
    if (e) {
        s_lru_unlink(f, e);
        s_lru_push(f, e);
    } else {
        e = s_insert(f, key, len, h, now_ms);
        if (!e)
            return CONV_FLOOD_OK;
    }

    if (e->blocked) {
        if (now_ms < e->blocked_until)
            return CONV_FLOOD_DROP;
        e->blocked = false; /* block over: start counting again */
        e->count = 0;
        e->window_start = now_ms;
    }
    if (now_ms - e->window_start >= f->window_ms || now_ms < e->window_start) {
        e->window_start = now_ms; /* new window (or the clock went back) */
        e->count = 0;
    }
    e->count++;
    if (e->count > f->max) {
        /* block_ms 0: warn and start a new window right away */
        e->blocked = f->block_ms > 0;
        e->blocked_until = now_ms + f->block_ms;
        e->count = 0;
        e->window_start = now_ms;
        return CONV_FLOOD_WARN;
    }
    return CONV_FLOOD_OK;
}

size_t conv_flood_size(const conv_flood_t *f)
{
    return f ? f->size : 0;
}

const char *conv_flood_verdict_str(conv_flood_verdict_t v)
{
    switch (v) {
    case CONV_FLOOD_OK:
        return "ok";
    case CONV_FLOOD_WARN:
        return "warn";
    case CONV_FLOOD_DROP:
        return "drop";
    }
    return "unknown";
}
