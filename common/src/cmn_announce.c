/* cmn_announce: post-commit announcements. See cmn_announce.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/cmn_announce.h"
#include "common/cmn_events.h"

typedef enum { S_PUSH, S_PUB, S_COUNT } s_kind_t;

typedef struct {
    s_kind_t kind;
    void *to; /* cmn_push_t, cmn_pub_t or cmn_counter_t */
    uint64_t n;
    cmn_msg_t msg;
} s_item_t;

struct cmn_announce {
    size_t max;
    size_t n, cap;
    s_item_t *items;
};

cmn_announce_t *cmn_announce_new(size_t max)
{
    cmn_announce_t *a;

    if (max < 1)
        return NULL;
    a = calloc(1, sizeof(*a));
    if (a == NULL)
        return NULL;
    a->max = max;
    return a;
}

void cmn_announce_destroy(cmn_announce_t **p)
{
    if (p == NULL || *p == NULL)
        return;
    free((*p)->items);
    free(*p);
    *p = NULL;
}

static s_item_t *s_add(cmn_announce_t *a, s_kind_t kind, void *to, int *ret_err)
{
    if (a->n == a->max) {
        *ret_err = -ENOSPC;
        return NULL;
    }
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        if (cap > a->max)
            cap = a->max;
        s_item_t *items = realloc(a->items, cap * sizeof(*items));
        if (items == NULL) {
            *ret_err = -ENOMEM;
            return NULL;
        }
        a->items = items;
        a->cap = cap;
    }
    s_item_t *it = &a->items[a->n++];
    it->kind = kind;
    it->to = to;
    it->n = 0;
    return it;
}

static int s_add_msg(cmn_announce_t *a, s_kind_t kind, void *to, const cmn_msg_t *m)
{
    int r = 0;
    s_item_t *it;

    if (a == NULL || to == NULL || m == NULL)
        return -EINVAL;
    it = s_add(a, kind, to, &r);
    if (it != NULL)
        it->msg = *m;
    return r;
}

int cmn_announce_push(cmn_announce_t *a, cmn_push_t *to, const cmn_msg_t *m)
{
    return s_add_msg(a, S_PUSH, to, m);
}

int cmn_announce_pub(cmn_announce_t *a, cmn_pub_t *to, const cmn_msg_t *m)
{
    return s_add_msg(a, S_PUB, to, m);
}

int cmn_announce_count(cmn_announce_t *a, cmn_counter_t *c, uint64_t n)
{
    int r = 0;
    s_item_t *it;

    if (a == NULL || c == NULL)
        return -EINVAL;
    it = s_add(a, S_COUNT, c, &r);
    if (it != NULL)
        it->n = n;
    return r;
}

int cmn_announce_store(const cmn_announce_t *a, cmn_store_t *st)
{
    int r = 0;

    if (a == NULL || st == NULL)
        return -EINVAL;
    for (size_t i = 0; i < a->n && r == 0; i++)
        if (a->items[i].kind == S_PUB)
            r = cmn_events_insert(st, &a->items[i].msg);
    return r;
}

size_t cmn_announce_size(const cmn_announce_t *a)
{
    return a ? a->n : 0;
}

void cmn_announce_clear(cmn_announce_t *a)
{
    if (a != NULL)
        a->n = 0;
}

size_t cmn_announce_flush(cmn_announce_t *a)
{
    size_t failed = 0;

    if (a == NULL)
        return 0;
    for (size_t i = 0; i < a->n; i++) {
        s_item_t *it = &a->items[i];
        switch (it->kind) {
        case S_PUSH:
            failed += cmn_push_send(it->to, &it->msg) < 0;
            break;
        case S_PUB:
            failed += cmn_pub_send(it->to, &it->msg) < 0;
            break;
        case S_COUNT:
            cmn_counter_add(it->to, it->n);
            break;
        }
    }
    a->n = 0;
    return failed;
}
