/* conv_server: the conversation daemon around the pure state machine.
 *
 * Wake-ups and scans name people; for each person in a batch the server
 * takes the CIUs the engine issued since (ciu_done: they end a session
 * waiting for its CIU), then reads their pending inbox rows in arrival order
 * and runs each through conv_flow_step(), all in one transaction per batch:
 * the new session (written only if its version is still the one read), the
 * flood count, the replies (outbox), a CIU request when the person
 * confirmed, and the "processed" marks (which also erase the typed text and
 * the number) are committed together; wake-ups, events and metrics follow
 * the commit. Several messages from one number arriving at once are thus
 * handled one after another, in order. Flood protection is applied before
 * the flow, counted by the messages' arrival time. Expired sessions lose
 * their answers on the periodic scan and disappear after a week. The SQL is
 * in conv_store.c.
 */
#ifndef CONV_SERVER_H
#define CONV_SERVER_H

#include "common/cmn_daemon.h"

typedef struct conv_server conv_server_t;

/* Bind this replica's PULL, connect the pushes, load texts and cities.
 * NULL on failure (logged). The daemon is borrowed and must outlive it. */
conv_server_t *conv_server_new(cmn_daemon_t *d);
/* Run until SIGTERM; returns an exit code. */
int conv_server_run(conv_server_t *s);
/* What the worker loop calls (for tests that embed the server): a batch of
 * wake-ups, and one scan. 0 or -errno. */
int conv_server_batch(conv_server_t *s, const cmn_msg_t *msgs, size_t n);
int conv_server_rescan(conv_server_t *s);
/* NULL-safe; sets *p to NULL. */
void conv_server_destroy(conv_server_t **p);

#endif
