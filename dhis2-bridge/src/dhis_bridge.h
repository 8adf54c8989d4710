/* dhis_bridge: the DHIS2 enrolment queue.
 *
 * The CIU engine queues one dhis2_sync row per new CIU (status "queued")
 * in the transaction that issues it, then wakes the bridge. The bridge
 * accepts each row (status "pending", awaiting the DHIS2 Tracker calls)
 * and publishes dhis2.pending. Rows are picked up again at start and by
 * the periodic scan, so nothing queued is ever lost.
 */
#ifndef DHIS_BRIDGE_H
#define DHIS_BRIDGE_H

#include "common/cmn_daemon.h"

typedef struct dhis_bridge dhis_bridge_t;

dhis_bridge_t *dhis_bridge_new(cmn_daemon_t *d); /* NULL on failure (logged) */
int dhis_bridge_run(dhis_bridge_t *b);           /* until SIGTERM; exit code */
void dhis_bridge_destroy(dhis_bridge_t **p);

#endif
