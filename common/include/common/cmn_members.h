/* cmn_members: replicas that find each other through the store.
 *
 * With CIU_DISCOVERY=store, scaling a stage is starting another process
 * (docker compose --scale, systemd instances, Kubernetes replicas): each
 * replica keeps a row in `stage_members` (migration 008) with the endpoint
 * its PULL is reached at and a heartbeat. The live rows of a stage (a
 * heartbeat younger than the TTL), ordered by member id, are its replicas
 * in shard order, the same list for everyone: replica i of n owns the
 * people whose shard bucket % n = i (cmn_hash.h), so its scans take them
 * and the stages before it push their wake-ups there. A replica that stops
 * cleanly deletes its row; one that dies is dropped after the TTL and the
 * others take its people over at their next scan. While two replicas'
 * views differ for a moment, both may handle a person: the stores'
 * conditional writes keep that exactly-once (docs/scaling.md).
 *
 * ZeroMQ still carries the wake-ups; the store only says who is there.
 */
#ifndef CMN_MEMBERS_H
#define CMN_MEMBERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cmn_bus.h"
#include "common/cmn_store.h"

typedef struct cmn_members cmn_members_t;

/* This replica of `stage` ("conversation", "engine", "dhis2", "sender"),
 * reached at `endpoint` (its PULL as others connect to it). NULL on bad
 * arguments or out of memory. */
cmn_members_t *cmn_members_new(const char *stage, const char *endpoint, int64_t ttl_ms);
void cmn_members_destroy(cmn_members_t **p);
/* Its PUB endpoint as others connect to it (for ciu-tap and ingress). */
void cmn_members_set_events(cmn_members_t *m, const char *events);
const char *cmn_members_id(const cmn_members_t *m);

/* Heartbeat: upsert this replica's row, then read the live replicas of the
 * stage. *ret_index / *ret_count: this replica's place (unchanged when it
 * is not among them yet). 0 or a store error. */
int cmn_members_beat(cmn_members_t *m, cmn_store_t *st, int64_t now_ms, size_t *ret_index,
                     size_t *ret_count);
/* Delete this replica's row (clean stop: the others take over at once). */
int cmn_members_leave(cmn_members_t *m, cmn_store_t *st);

/* The live replicas of `stage`: their PULL endpoints (events: their PUB
 * endpoints), comma-separated in shard order, "" when none. Caller frees
 * *ret. 0 or a store error. */
int cmn_members_endpoints(cmn_store_t *st, const char *stage, int64_t now_ms, int64_t ttl_ms,
                          bool events, char **ret);
/* Point a PUSH at the live replicas of `stage` (cmn_push_set when the list
 * changed). 1 when it changed, 0 when not, or an error. */
int cmn_members_refresh_push(cmn_store_t *st, cmn_push_t *push, const char *stage, int64_t now_ms,
                             int64_t ttl_ms);
/* Subscribe a SUB to the PUB endpoint of every live replica of `stage`
 * not subscribed yet. 0 or an error. */
int cmn_members_refresh_sub(cmn_store_t *st, cmn_sub_t *sub, const char *stage, int64_t now_ms,
                            int64_t ttl_ms);

/* What others connect to for a bound endpoint: "tcp://0.0.0.0:5601" or
 * "tcp://\*:5601" (wildcard) becomes "tcp://<host>:5601" with host = advertise_host, or
 * (empty) this machine's address (its host name's first IPv4 address, the
 * container's own address in Docker); other endpoints are kept. 0 or
 * -errno. */
int cmn_members_advertise(const char *bound, const char *advertise_host, char *out, size_t len);

#endif
