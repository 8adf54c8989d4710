/* snd_sender: delivers queued replies to Twilio, Meta and the simulator,
 * in order per person.
 *
 * Claim -> call -> record: one short transaction claims each person's
 * oldest due reply with a lease (status 3), the provider is called with
 * libcurl multi outside any transaction, a second transaction records the
 * outcome; then that person's next reply may go. A sender killed mid-call
 * leaves the row to be claimed again once its lease expires (the only
 * possible duplicate, counted in send_resends_total). Outcomes are
 * classified by the provider's error code (snd_provider). The simulator's
 * replies go to its mailbox (sim_messages) inside the claim transaction.
 */
#ifndef SND_SENDER_H
#define SND_SENDER_H

#include "common/cmn_channels.h"
#include "common/cmn_daemon.h"

typedef struct snd_sender snd_sender_t;

/* ch: the channels on (copied). NULL on failure (logged). */
snd_sender_t *snd_sender_new(cmn_daemon_t *d, const cmn_channels_t *ch);
int snd_sender_run(snd_sender_t *s); /* until SIGTERM; exit code */
void snd_sender_destroy(snd_sender_t **p);

#endif
