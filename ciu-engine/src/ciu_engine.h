/* ciu_engine: turns confirmed answers into a CIU, durably.
 *
 * For each pending ciu_requests row, in one transaction per batch: compute
 * the CIU from the codes, register it (or count a repeat as "existing"),
 * record potential duplicates (same CIU from another number; a number
 * obtaining a different CIU), queue the reply (text and, with
 * ENABLE_QR_CODE, a QR image behind an unguessable expiring token), queue
 * the DHIS2 enrolment, delete the answers and end the session. Wake-ups to
 * the sender and the DHIS2 bridge and the events follow the commit.
 */
#ifndef CIU_ENGINE_H
#define CIU_ENGINE_H

#include "common/cmn_daemon.h"

typedef struct ciu_engine ciu_engine_t;

ciu_engine_t *ciu_engine_new(cmn_daemon_t *d); /* NULL on failure (logged) */
int ciu_engine_run(ciu_engine_t *e);           /* until SIGTERM; exit code */
void ciu_engine_destroy(ciu_engine_t **p);

#endif
