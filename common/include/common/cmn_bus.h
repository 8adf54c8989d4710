/* cmn_bus: the ZeroMQ sockets between daemons (libzmq).
 *
 * Work flows PUSH -> PULL. Each replica of a stage binds its own PULL
 * endpoint; the stage before it connects one PUSH per replica and picks the
 * replica by a hash of the person's key ("sharded push"), so one person's
 * messages always reach the same replica, in order. Sends never block: past
 * the high-water mark a message is dropped and counted, because the durable
 * row it names is found again by the receiver's periodic scan.
 * Every daemon PUBlishes events (two frames: topic = event type, msgpack).
 */
#ifndef CMN_BUS_H
#define CMN_BUS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/cmn_msg.h"

typedef struct cmn_bus cmn_bus_t;   /* one ZeroMQ context */
typedef struct cmn_push cmn_push_t; /* sharded PUSH to a stage's replicas */
typedef struct cmn_pull cmn_pull_t; /* this replica's PULL */
typedef struct cmn_pub cmn_pub_t;
typedef struct cmn_sub cmn_sub_t;

#define CMN_BUS_MAX_REPLICAS 64
/* Largest frame a socket accepts (ZMQ_MAXMSGSIZE): a peer sending more is
 * disconnected. Our messages are at most CMN_MSG_MAX_BYTES. */
#define CMN_BUS_FRAME_MAX (2 * CMN_MSG_MAX_BYTES)

cmn_bus_t *cmn_bus_new(void);
void cmn_bus_destroy(cmn_bus_t **p); /* closes sockets still open, linger 0 */

/* endpoints: comma-separated list, one per replica. NULL on error (errno). */
cmn_push_t *cmn_push_new(cmn_bus_t *bus, const char *endpoints);
/* A PUSH with no replica yet (CIU_DISCOVERY=store: cmn_push_set fills it). */
cmn_push_t *cmn_push_new_empty(cmn_bus_t *bus);
/* Make the replica list `endpoints` (comma-separated, may be empty), in
 * shard order: sockets of endpoints kept stay connected, new ones connect,
 * the others close. 0 or -errno (the list is then unchanged). */
int cmn_push_set(cmn_push_t *p, const char *endpoints);
/* True when the replica list is exactly `endpoints`. */
bool cmn_push_same(const cmn_push_t *p, const char *endpoints);
void cmn_push_destroy(cmn_push_t **p);
/* Send to replica shard(m->user), or shard(m->ciu) when user is empty.
 * 0, -EAGAIN (queue full, or no replica known: dropped), -EIO. */
int cmn_push_send(cmn_push_t *p, const cmn_msg_t *m);
size_t cmn_push_replicas(const cmn_push_t *p);
/* The replica index of a key among n: cmn_shard_replica (cmn_hash.h), the
 * same on every daemon and in the scans. */
size_t cmn_bus_shard(const char *key, size_t n);

/* Bind this replica's PULL. NULL on error (errno). */
cmn_pull_t *cmn_pull_new(cmn_bus_t *bus, const char *endpoint);
void cmn_pull_destroy(cmn_pull_t **p);
/* Receive one message without blocking. 0, -EAGAIN (nothing), -EPROTO
 * (malformed: dropped; the caller logs it), -EIO. */
int cmn_pull_recv(cmn_pull_t *p, cmn_msg_t *ret);
/* Wait up to timeout_ms for something to read. 1 readable, 0 timeout, -EINTR, -EIO. */
int cmn_pull_wait(cmn_pull_t *p, long timeout_ms);
/* Same, also waking when one of nfds plain file descriptors is ready
 * (fds[i] = {fd, events} with events CMN_POLL_IN=1 | CMN_POLL_OUT=2).
 * 1 when the PULL is readable, 0 otherwise (timeout or only fds ready),
 * -EINTR, -EIO. */
int cmn_pull_wait_fds(cmn_pull_t *p, const int *fds, const short *events, size_t nfds,
                      long timeout_ms);

cmn_pub_t *cmn_pub_new(cmn_bus_t *bus, const char *endpoint);
void cmn_pub_destroy(cmn_pub_t **p);
int cmn_pub_send(cmn_pub_t *p, const cmn_msg_t *ev); /* topic = ev->type */
/* The endpoint a PULL / PUB is bound to, with the port chosen for port 0
 * (e.g. "tcp://0.0.0.0:5601"). 0 or -errno. */
int cmn_pull_endpoint(const cmn_pull_t *p, char *buf, size_t len);
int cmn_pub_endpoint(const cmn_pub_t *p, char *buf, size_t len);

/* Connect to one or more PUB endpoints (comma-separated) for topics starting
 * with prefix ("" = all). */
cmn_sub_t *cmn_sub_new(cmn_bus_t *bus, const char *endpoints, const char *prefix);
/* Also subscribe to `endpoint` (once: 0 when already connected, 1 when
 * added), e.g. a replica found in the store. -errno on failure. */
int cmn_sub_connect(cmn_sub_t *s, const char *endpoint);
void cmn_sub_destroy(cmn_sub_t **p);
/* Receive one event, waiting up to timeout_ms (-1 forever). 0, -EAGAIN
 * (timeout), -EPROTO (malformed, dropped), -EIO. */
int cmn_sub_recv(cmn_sub_t *s, cmn_msg_t *ret, long timeout_ms);

/* Position of `bind` in the comma-separated `endpoints` (this replica's
 * shard index) and the number of replicas. -ENOENT when absent. */
int cmn_bus_replica_index(const char *endpoints, const char *bind, size_t *ret_index,
                          size_t *ret_count);

#endif
