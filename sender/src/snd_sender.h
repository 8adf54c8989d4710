/* snd_sender: delivers queued replies, in order per person.
 *
 * Wake-ups name a person (their keyed hash); the sender then delivers that
 * person's pending outbox rows in id order. A row is marked sent only in
 * the transaction that hands it to the channel, so a crash re-delivers
 * nothing twice and loses nothing. In this version the channel is the
 * simulator: delivering means writing the simulator's mailbox
 * (sim_messages) in the same transaction, then publishing message.sent
 * so ingress wakes the long-polls.
 */
#ifndef SND_SENDER_H
#define SND_SENDER_H

#include "common/cmn_daemon.h"

typedef struct snd_sender snd_sender_t;

snd_sender_t *snd_sender_new(cmn_daemon_t *d); /* NULL on failure (logged) */
int snd_sender_run(snd_sender_t *s);           /* until SIGTERM; exit code */
void snd_sender_destroy(snd_sender_t **p);

#endif
