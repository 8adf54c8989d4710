/* conv_server: the conversation daemon around the pure state machine.
 *
 * Wake-ups name a person; for each person in a batch the server reads
 * their pending inbox rows in arrival order and runs each through
 * conv_flow_step(), all in one transaction per batch: the new session, the
 * replies (outbox), a CIU request when the person confirmed, and the
 * "processed" marks (which also erase the typed text and the number) are
 * committed together. Several messages from one number arriving at once are
 * thus handled one after another, in order. Flood protection is applied
 * before the flow. Expired sessions lose their answers on the periodic
 * scan and disappear after a week.
 */
#ifndef CONV_SERVER_H
#define CONV_SERVER_H

#include "common/cmn_daemon.h"

typedef struct conv_server conv_server_t;

conv_server_t *conv_server_new(cmn_daemon_t *d); /* NULL on failure (logged) */
int conv_server_run(conv_server_t *s);           /* until SIGTERM; exit code */
void conv_server_destroy(conv_server_t **p);

#endif
