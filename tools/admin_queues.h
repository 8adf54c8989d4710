/* admin_queues: `ciu-admin queues [--json] [--older SECONDS]` and
 * `ciu-admin queues retry [--stage S] [ID...]`.
 *
 * Per stage (conversation: inbox and ciu_done; engine: ciu_requests;
 * sender: outbox; dhis2: dhis2_sync) the pending rows, the oldest one's age,
 * and the rows pending for longer than the threshold (default 300 s) by id,
 * status, attempts and last error: never a number or a message body.
 *
 * retry makes the sender's and the bridge's rows that wait for a later
 * attempt due now, touching only the column the owning stage reads to
 * schedule them (next_ms), never a lease that is held: like `dhis2 retry`.
 * The stage picks them up at its next scan (CIU_RESCAN_MS). The
 * conversation and the engine have no schedule: they take every pending row
 * at each scan.
 */
#ifndef ADMIN_QUEUES_H
#define ADMIN_QUEUES_H

/* argv[0] is "queues". Returns the exit status. */
int admin_queues_main(int argc, char **argv);

#endif
