/* ciu_engine: turns confirmed answers into a CIU, durably.
 *
 * Wake-ups (ciu.request) and scans name people; for each person the engine
 * answers their pending ciu_requests rows in order, all in one transaction
 * per batch: claim the request (deleting it, so the answers are gone once
 * answered and no other replica answers it), compute the CIU from the
 * codes, register it (or count a repeat as "existing"), record potential
 * duplicates (same CIU from another number; a number obtaining a different
 * CIU), queue the reply (text and, with ENABLE_QR_CODE, a QR image behind an
 * unguessable expiring token), queue the DHIS2 enrolment, and tell the
 * conversation (a ciu_done row) so that it ends the session itself. Wake-ups
 * to the sender, the bridge and the conversation, the events and the
 * metrics follow the commit; QR images are rendered before the transaction
 * and their files written after the commit (a scan writes any a crash left
 * unwritten). The engine's SQL is in ciu_store.c.
 */
#ifndef CIU_ENGINE_H
#define CIU_ENGINE_H

#include "common/cmn_daemon.h"

typedef struct ciu_engine ciu_engine_t;

/* Bind this replica's PULL, connect the pushes, load the texts. NULL on
 * failure (logged). The daemon is borrowed and must outlive the engine. */
ciu_engine_t *ciu_engine_new(cmn_daemon_t *d);
/* Run until SIGTERM; returns an exit code. */
int ciu_engine_run(ciu_engine_t *e);
/* What the worker loop calls (for tests that embed the engine): a batch of
 * wake-ups, and one scan. 0 or -errno. */
int ciu_engine_batch(ciu_engine_t *e, const cmn_msg_t *msgs, size_t n);
int ciu_engine_rescan(ciu_engine_t *e);
/* NULL-safe; sets *p to NULL. */
void ciu_engine_destroy(ciu_engine_t **p);

#endif
