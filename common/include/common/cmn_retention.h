/* cmn_retention: delete finished work older than a cutoff (CIU_RETENTION_DAYS).
 *
 * What goes: conversations idle since before the cutoff (long expired:
 * SESSION_TIMEOUT_MINUTES is at most a day), processed inbox rows, replies
 * sent or failed for good, the providers' delivery reports, simulator
 * mailbox rows, Meta media ids, flood counters and published events. What
 * stays, whatever its age: the registry and the CIUs of numbers, pending
 * work of every stage (inbox, ciu_requests, ciu_done, outbox rows not
 * finished), the DHIS2 sync queue, and duplicates. Those rows are finished:
 * no stage reads or writes them again, so deleting them does not race with
 * their owners.
 *
 * Deletes in short transactions of `batch` rows (never one long one that
 * would hold the SQLite write lock or bloat PostgreSQL). ciu-admin purge
 * calls it; a daemon may call it on a timer too.
 */
#ifndef CMN_RETENTION_H
#define CMN_RETENTION_H

#include <stdbool.h>
#include <stdint.h>

#include "common/cmn_store.h"

#define CMN_RETENTION_TABLES 9

typedef struct {
    const char *table[CMN_RETENTION_TABLES]; /* names, static */
    int64_t rows[CMN_RETENTION_TABLES];      /* deleted (or, dry run, that would be) */
    int n;
} cmn_retention_counts_t;

/* Delete (dry_run: count) the finished rows older than older_than_ms (ms
 * since the epoch), `batch` rows per transaction (<= 0: 1000). Returns 0
 * with *ret filled, or a store error (-EIO, -EBUSY) with *ret holding what
 * was deleted so far (see cmn_store_errmsg). */
int cmn_retention_purge(cmn_store_t *st, int64_t older_than_ms, bool dry_run, int batch,
                        cmn_retention_counts_t *ret);

/* The same on a timer, in a thread of its own with its own store handle
 * (so a long first purge never delays the daemon's work): every
 * interval_ms, delete what is older than `days` days, and log a line when
 * something went. NULL when days <= 0 (keep forever) or on error (logged).
 * Stop with cmn_retention_stop (waits for a purge under way to finish its
 * batch). */
typedef struct cmn_retention_job cmn_retention_job_t;
cmn_retention_job_t *cmn_retention_start(const char *store_url, long days, int64_t interval_ms);
void cmn_retention_stop(cmn_retention_job_t **p);

#endif
