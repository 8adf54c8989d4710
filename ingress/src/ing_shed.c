/* ing_shed: per-number token buckets in a fixed table. See ing_shed.h. */
#include <pthread.h>
#include <stdlib.h>

#include "common/cmn_hash.h"
#include "common/cmn_ratelimit.h"
#include "ing_shed.h"

#define S_SLOTS 4096 /* numbers tracked at once (about 200 KB) */
#define S_PROBE 8    /* slots looked at for one number */

typedef struct {
    uint64_t key; /* hash of the number; 0: free */
    cmn_ratelimit_t rl;
} s_slot_t;

struct ing_shed {
    pthread_mutex_t lock;
    double rate, burst;
    s_slot_t slots[S_SLOTS];
};

ing_shed_t *ing_shed_new(long max, long window_s)
{
    ing_shed_t *sh;
    if (max < 1 || window_s < 1)
        return NULL;
    sh = calloc(1, sizeof(*sh));
    if (sh == NULL)
        return NULL;
    pthread_mutex_init(&sh->lock, NULL);
    sh->rate = (double)max / (double)window_s;
    sh->burst = 2.0 * (double)max;
    return sh;
}

void ing_shed_destroy(ing_shed_t **p)
{
    if (p == NULL || *p == NULL)
        return;
    pthread_mutex_destroy(&(*p)->lock);
    free(*p);
    *p = NULL;
}

/* A bucket that has refilled completely: its number is quiet, the slot may go. */
static bool s_idle(const ing_shed_t *sh, const s_slot_t *slot, int64_t now_ms)
{
    double t = slot->rl.tokens + (double)(now_ms - slot->rl.last_ms) * sh->rate / 1000.0;
    return slot->key == 0 || t >= sh->burst;
}

bool ing_shed_admit(ing_shed_t *sh, const char *from, int64_t now_ms)
{
    uint64_t key;
    s_slot_t *mine = NULL, *spare = NULL;
    bool ok;

    if (sh == NULL || from == NULL || *from == '\0')
        return true;
    key = cmn_fnv1a_str(from);
    key = key ? key : 1;
    pthread_mutex_lock(&sh->lock);
    for (size_t i = 0; i < S_PROBE && mine == NULL; i++) {
        s_slot_t *slot = &sh->slots[(key + i) % S_SLOTS];
        if (slot->key == key)
            mine = slot;
        else if (spare == NULL && s_idle(sh, slot, now_ms))
            spare = slot;
    }
    if (mine == NULL && spare != NULL) {
        mine = spare;
        mine->key = key;
        cmn_ratelimit_init(&mine->rl, sh->rate, sh->burst, now_ms);
    }
    /* no slot: every one nearby is busy with other numbers; let it through */
    ok = mine == NULL || cmn_ratelimit_take(&mine->rl, now_ms, NULL);
    pthread_mutex_unlock(&sh->lock);
    return ok;
}
