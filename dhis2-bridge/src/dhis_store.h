/* dhis_store: the DHIS2 bridge's SQL, behind one function per question.
 *
 * Tables the bridge owns (docs/architecture.md): dhis2_sync (ciu-engine
 * inserts its rows 'queued'; the bridge owns their status, UIDs, leases and
 * outcomes), dhis2_duplicates and dhis2_bridges. It reads duplicates (the
 * engine's). Replicas share the work by leases: a claim sets lease_until
 * and lease_owner (a token per claim), and an outcome is recorded only while
 * the row's lease_owner still is that token (*ret_recorded false: another
 * replica took the row after the lease ended). All functions run inside the
 * caller's transaction unless said otherwise (they never open one), and
 * return 0 or a store error.
 */
#ifndef DHIS_STORE_H
#define DHIS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cmn_store.h"
#include "dhis_api.h"

/* ---- dhis2_sync: the enrolment queue ---- */

/* queued -> pending (due at now), at most limit rows in id order: *ret_rows
 * (caller destroys); read each with dhis_store_accepted_get. */
int dhis_store_accept(cmn_store_t *st, int64_t now, int limit, cmn_rows_t **ret_rows);

/* One accepted row (strings borrowed from the rows). */
typedef struct {
    int64_t id;
    const char *ciu;
    const char *trace;
} dhis_accepted_t;
void dhis_store_accepted_get(const cmn_rows_t *rows, int i, dhis_accepted_t *ret);

/* Lease up to want pending rows due at now (next_ms, then id order) to
 * token until lease_until: *ret_rows (caller destroys); read each with
 * dhis_store_claimed_get. */
int dhis_store_sync_claim(cmn_store_t *st, const char *token, int64_t now, int64_t lease_until,
                          size_t want, cmn_rows_t **ret_rows);

/* One claimed row (strings borrowed from the rows; te, enr NULL when none
 * is stored yet; created_ms is dflt_created when unknown). */
typedef struct {
    int64_t id;
    const char *ciu;
    const char *trace;
    const char *te;
    const char *enr;
    int attempts;
    int conflicts;
    int64_t created_ms;
} dhis_claimed_t;
void dhis_store_claimed_get(const cmn_rows_t *rows, int i, int64_t dflt_created,
                            dhis_claimed_t *ret);

/* Store the UIDs generated for a row before its first call. */
int dhis_store_sync_uids(cmn_store_t *st, int64_t id, const char *te, const char *enr);

/* Outcomes of a claimed row; each also ends the lease. err, codes may be
 * NULL. *ret_recorded: the row still was token's (and pending). */
int dhis_store_sync_synced(cmn_store_t *st, int64_t id, const char *token, const char *te,
                           const char *ou, bool linked, long http_status, int64_t now,
                           bool *ret_recorded);
/* Again at next_ms, one attempt more. */
int dhis_store_sync_retry(cmn_store_t *st, int64_t id, const char *token, int64_t next_ms,
                          const char *err, long http_status, const char *codes, int64_t now,
                          bool *ret_recorded);
/* Search again now, one conflict more (E1064). */
int dhis_store_sync_research(cmn_store_t *st, int64_t id, const char *token, const char *err,
                             long http_status, const char *codes, int64_t now, bool *ret_recorded);
int dhis_store_sync_failed(cmn_store_t *st, int64_t id, const char *token, const char *err,
                           long http_status, const char *codes, int64_t now, bool *ret_recorded);
/* Not tried: end the lease only, the row is left as it was. */
int dhis_store_sync_release(cmn_store_t *st, int64_t id, const char *token, bool *ret_recorded);

/* The synced tracked entity of a CIU into te: 1 found, 0 not yet, -ENOENT
 * never (no row, or its registration failed), or a store error. */
int dhis_store_synced_te(cmn_store_t *st, const char *ciu, char te[DHIS_UID_LEN]);

/* Outside a transaction. Rows queued or pending: *ret_n. */
int dhis_store_backlog(cmn_store_t *st, int64_t *ret_n);
/* Unfinished enrolments and the oldest one's creation time (queue gauges). */
extern const char dhis_store_queue_sql[];

/* Outside a transaction. 1 when a pending row is due at now and not
 * leased, 0 when none, or a store error. */
int dhis_store_sync_due(cmn_store_t *st, int64_t now);

/* ---- dhis2_duplicates: potential duplicates to flag in DHIS2 ---- */

/* Outside a transaction. 1 when an open duplicate (ciu-engine's) created
 * by now has no dhis2_duplicates row yet, 0 when none, or a store error. */
int dhis_store_dups_new(cmn_store_t *st, int64_t now);

/* Copy the open duplicates without a dhis2_duplicates row into it, pending
 * and due at now. */
int dhis_store_dup_import(cmn_store_t *st, int64_t now);

/* Outside a transaction. 1 when a pending duplicate is due at now and not
 * leased, 0 when none, or a store error. */
int dhis_store_dups_due(cmn_store_t *st, int64_t now);

/* Lease up to want pending duplicates due at now to token until
 * lease_until: *ret_rows (caller destroys); read each with
 * dhis_store_dup_claimed_get. */
int dhis_store_dup_claim(cmn_store_t *st, const char *token, int64_t now, int64_t lease_until,
                         size_t want, cmn_rows_t **ret_rows);

/* One claimed duplicate (strings borrowed from the rows, may be NULL). */
typedef struct {
    int64_t id;
    const char *kind; /* "number_other_ciu", ... */
    const char *ciu;
    const char *other_ciu;
    int attempts;
} dhis_dup_claimed_t;
void dhis_store_dup_claimed_get(const cmn_rows_t *rows, int i, dhis_dup_claimed_t *ret);

/* Set a duplicate's status ("pending", "skipped", ...) and error (may be
 * NULL), due at next_ms, and end any lease (whoever holds it). */
int dhis_store_dup_defer(cmn_store_t *st, int64_t id, const char *status, const char *err,
                         int64_t next_ms, int64_t now);

/* Outcomes of a claimed duplicate; each also ends the lease. err may be
 * NULL. *ret_recorded: the row still was token's.
 * dup_retry: again at next_ms, one attempt more. */
int dhis_store_dup_retry(cmn_store_t *st, int64_t id, const char *token, int64_t next_ms,
                         const char *err, long http_status, int64_t now, bool *ret_recorded);
/* Not tried: end the lease only. */
int dhis_store_dup_release(cmn_store_t *st, int64_t id, const char *token, bool *ret_recorded);
/* Final: status "flagged", "merged", "failed"...; duplicate_te, dhis2_id
 * may be NULL. */
int dhis_store_dup_done(cmn_store_t *st, int64_t id, const char *token, const char *status,
                        const char *original_te, const char *duplicate_te, const char *dhis2_id,
                        const char *err, long http_status, int64_t now, bool *ret_recorded);

/* ---- dhis2_bridges: one row per replica ---- */

/* Store this replica's link state (version, detail may be NULL); since_ms
 * changes only with the state. */
int dhis_store_state_save(cmn_store_t *st, const char *replica, const char *state,
                          const char *version, const char *detail, int64_t now);

/* DHIS2 is back: pending enrolments and duplicates waiting past now are
 * due now. */
int dhis_store_reopen(cmn_store_t *st, int64_t now);

#endif
