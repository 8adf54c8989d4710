/* cmn_retention: see cmn_retention.h. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cmn_log.h"
#include "common/cmn_msg.h"
#include "common/cmn_retention.h"

#define S_BATCH_DEFAULT 1000

/* One table: the finished rows older than $1 are `cond`; `key` lists the
 * columns of the primary key (compared as a row value when there are
 * several) the batched DELETE selects by, `LIMIT $2` rows at a time. */
typedef struct {
    const char *table;
    const char *count_sql;
    const char *delete_sql;
} s_rule_t;

#define S_RULE(t, key, cond)                                                                       \
    {                                                                                              \
        t, "SELECT COUNT(*) FROM " t " WHERE " cond,                                               \
            "DELETE FROM " t " WHERE (" key ") IN (SELECT " key " FROM " t " WHERE " cond          \
            " LIMIT $2)"                                                                           \
    }

static const s_rule_t s_rules[CMN_RETENTION_TABLES] = {
    /* idle since before the cutoff: long expired (the timeout is at most a day) */
    S_RULE("sessions", "user_key", "updated_ms < $1"),
    S_RULE("flood", "user_key", "updated_ms < $1 AND blocked_until_ms < $1"),
    /* processed (1); pending rows (0) stay */
    S_RULE("inbox", "id", "status = 1 AND received_ms < $1"),
    /* sent (1) or failed for good (2); waiting (0) and in flight (3) stay */
    S_RULE("outbox", "id", "status IN (1, 2) AND created_ms < $1"),
    S_RULE("sim_messages", "id", "created_ms < $1"),
    S_RULE("deliveries", "channel, provider_id", "updated_ms < $1"),
    S_RULE("delivery_events", "channel, provider_id, status", "received_ms < $1"),
    S_RULE("channel_media", "channel, token", "created_ms < $1"),
    S_RULE("events", "seq", "ts_ms < $1"),
};

static int s_count(cmn_store_t *st, const s_rule_t *r, int64_t cutoff, int64_t *ret)
{
    cmn_param_t p[] = {P_INT(cutoff)};
    return cmn_store_query_int(st, r->count_sql, p, 1, 0, ret);
}

/* Batches until one deletes fewer than `batch` rows. */
static int s_delete(cmn_store_t *st, const s_rule_t *r, int64_t cutoff, int batch, int64_t *total)
{
    cmn_param_t p[] = {P_INT(cutoff), P_INT(batch)};
    for (;;) {
        int64_t changes = 0;
        int rc = cmn_store_begin(st);
        if (rc == 0)
            rc = cmn_store_exec(st, r->delete_sql, p, 2, &changes);
        if (rc == 0)
            rc = cmn_store_commit(st);
        if (rc < 0) {
            cmn_store_rollback(st);
            return rc;
        }
        *total += changes;
        if (changes < batch)
            return 0;
    }
}

int cmn_retention_purge(cmn_store_t *st, int64_t older_than_ms, bool dry_run, int batch,
                        cmn_retention_counts_t *ret)
{
    if (st == NULL || ret == NULL)
        return -EINVAL;
    memset(ret, 0, sizeof(*ret));
    if (batch <= 0)
        batch = S_BATCH_DEFAULT;
    for (int i = 0; i < CMN_RETENTION_TABLES; i++) {
        const s_rule_t *r = &s_rules[i];
        int rc;
        ret->table[i] = r->table;
        ret->n = i + 1;
        rc = dry_run ? s_count(st, r, older_than_ms, &ret->rows[i])
                     : s_delete(st, r, older_than_ms, batch, &ret->rows[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- on a timer ------------------------------------------------------------ */

struct cmn_retention_job {
    char *url;
    long days;
    int64_t interval_ms;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;
};

/* Wait up to ms or until stopped; true when stopping. */
static bool s_wait(cmn_retention_job_t *j, int64_t ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)(ms / 1000);
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&j->lock);
    while (!j->stopping && pthread_cond_timedwait(&j->wake, &j->lock, &until) == 0)
        ;
    bool stop = j->stopping;
    pthread_mutex_unlock(&j->lock);
    return stop;
}

static void *s_job_loop(void *arg)
{
    cmn_retention_job_t *j = arg;
    cmn_store_t *st = NULL;
    char err[256];
    /* the first purge a little after the start, then every interval */
    int64_t wait = j->interval_ms < 10000 ? j->interval_ms : 10000;
    while (!s_wait(j, wait)) {
        wait = j->interval_ms;
        if (st == NULL && cmn_store_open(j->url, &st, err, sizeof(err)) < 0) {
            log_warn("retention", NULL, "cannot open the store for the purge: %s", err);
            st = NULL;
            continue;
        }
        cmn_retention_counts_t c;
        int64_t cutoff = cmn_now_ms() - (int64_t)j->days * 86400000LL;
        int r = cmn_retention_purge(st, cutoff, false, 0, &c);
        int64_t total = 0;
        for (int i = 0; i < c.n; i++)
            total += c.rows[i];
        if (r < 0)
            log_warn("retention", NULL,
                     "purge of work older than %ld days stopped: %s; next "
                     "try in %lld s",
                     j->days, cmn_store_errmsg(st), (long long)(j->interval_ms / 1000));
        else if (total > 0)
            log_info("retention", NULL,
                     "purged %lld rows of finished work older than %ld days "
                     "(CIU_RETENTION_DAYS)",
                     (long long)total, j->days);
    }
    cmn_store_destroy(&st);
    return NULL;
}

cmn_retention_job_t *cmn_retention_start(const char *store_url, long days, int64_t interval_ms)
{
    if (store_url == NULL || days <= 0 || interval_ms <= 0)
        return NULL;
    cmn_retention_job_t *j = calloc(1, sizeof(*j));
    if (j == NULL || (j->url = strdup(store_url)) == NULL) {
        free(j);
        return NULL;
    }
    j->days = days;
    j->interval_ms = interval_ms;
    pthread_mutex_init(&j->lock, NULL);
    pthread_cond_init(&j->wake, NULL);
    if (pthread_create(&j->thread, NULL, s_job_loop, j) != 0) {
        log_error("retention", NULL, "cannot start the purge thread");
        pthread_cond_destroy(&j->wake);
        pthread_mutex_destroy(&j->lock);
        free(j->url);
        free(j);
        return NULL;
    }
    return j;
}

void cmn_retention_stop(cmn_retention_job_t **p)
{
    if (p == NULL || *p == NULL)
        return;
    cmn_retention_job_t *j = *p;
    pthread_mutex_lock(&j->lock);
    j->stopping = true;
    pthread_cond_signal(&j->wake);
    pthread_mutex_unlock(&j->lock);
    pthread_join(j->thread, NULL);
    pthread_cond_destroy(&j->wake);
    pthread_mutex_destroy(&j->lock);
    free(j->url);
    free(j);
    *p = NULL;
}
