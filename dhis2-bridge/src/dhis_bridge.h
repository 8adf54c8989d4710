/* dhis_bridge: every issued CIU enrolled in DHIS2 Tracker, durably.
 *
 * ciu-engine queues one dhis2_sync row per new CIU (status "queued") in the
 * transaction that issues it, then wakes the bridge. The bridge accepts the
 * row ("pending", event dhis2.pending) and, when DHIS2 is configured,
 * enrols the person: it claims due rows with a lease in one short
 * transaction (generating and storing the tracked-entity and enrollment
 * UIDs of rows that have none), commits, searches DHIS2 for the claimed
 * CIUs in one call, creates the missing people and enrols the others in
 * one tracker import (atomicMode=OBJECT), and records each row's outcome
 * in a second short transaction: synced, failed (DHIS2's error codes) or
 * retried later with exponential backoff. Several such batches are in
 * flight at once (libcurl multi, driven by the worker loop).
 *
 * A circuit breaker keeps a dead DHIS2 to one probe (/api/system/info) per
 * interval; refused credentials pause the bridge until a probe succeeds.
 * Potential duplicates recorded by the engine are sent to DHIS2 as
 * potentialDuplicates (two tracked entities) or as a flag on the one
 * tracked entity that holds a CIU asked for from two numbers.
 * Without DHIS2_BASE_URL, rows are accepted and wait ("not configured").
 */
#ifndef DHIS_BRIDGE_H
#define DHIS_BRIDGE_H

#include "common/cmn_daemon.h"

typedef struct dhis_bridge dhis_bridge_t;

/* NULL on failure, after logging one line (*ret_code: exit code). */
dhis_bridge_t *dhis_bridge_new(cmn_daemon_t *d, int *ret_code);
int dhis_bridge_run(dhis_bridge_t *b); /* until SIGTERM; exit code */
/* Release what is in flight (leases given back), then everything. */
void dhis_bridge_destroy(dhis_bridge_t **p);

#endif
