/* snd_store: the sender's SQL, behind the sender's own functions.
 *
 * ciu-sender owns the delivery state of `outbox` (status, lease, attempts,
 * errors, provider id; it erases `to_addr` once a reply is final), the
 * simulator mailbox `sim_messages`, `channel_media` (Meta media ids) and
 * `channel_state`; it reads `media` (the engine's QR files). Every function
 * runs inside the caller's transaction and returns 0 or a store error.
 * outbox.status: 0 pending, 1 accepted by the channel, 2 failed (final),
 * 3 claimed by a sender (in flight until lease_ms).
 */
#ifndef SND_STORE_H
#define SND_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/cmn_store.h"

/* The scan query for cmn_stage_scan: people with a reply due or a claim whose
 * lease expired, in this replica's share; $4 = now (ms). */
extern const char snd_store_scan_sql[];
/* Unfinished items and the oldest one's creation time (queue gauges). */
extern const char snd_store_queue_sql[];

/* The person's oldest unfinished reply (at most one row): columns
 * 0 id, 1 channel, 2 status, 3 to_addr, 4 body, 5 media_url, 6 ui, 7 trace,
 * 8 attempts, 9 next_ms, 10 lease_ms, 11 created_ms. Caller owns *ret. */
int snd_store_head(cmn_store_t *st, const char *user, cmn_rows_t **ret);
/* Claim a reply for this sender until lease_until: 1 claimed, 0 someone else
 * has it (a live lease, or it is final), or a store error. Counts a resend
 * when the lease had expired. */
int snd_store_claim(cmn_store_t *st, int64_t row, int64_t lease_until, int64_t now);

/* The simulator's pending replies of a person, in order: columns 0 id,
 * 1 body, 2 media_url, 3 trace, 4 created_ms. Caller owns *ret. */
int snd_store_sim_pending(cmn_store_t *st, const char *user, cmn_rows_t **ret);
/* Put one simulator reply in the mailbox and mark it sent. */
int snd_store_sim_deliver(cmn_store_t *st, const char *user, int64_t row, const char *body,
                          const char *media_url, int64_t now);

/* Meta's media id for a QR token (copied to out, "" when not uploaded yet),
 * and the file path of the token (malloc'd into *ret_path, NULL if none). */
int snd_store_media(cmn_store_t *st, const char *token, char *out, size_t outlen, char **ret_path);
/* The file path of a media token (malloc'd into *ret_path, NULL if none). */
int snd_store_media_path(cmn_store_t *st, const char *token, char **ret_path);
int snd_store_media_put(cmn_store_t *st, const char *token, const char *media_id, int64_t now);

/* Outcomes of a claimed reply. */
int snd_store_sent(cmn_store_t *st, int64_t row, const char *provider_id, int64_t now);
/* Failed for good (claimed or pending), with the provider's code (may be NULL). */
int snd_store_failed(cmn_store_t *st, int64_t row, const char *reason, const char *code);
/* Back to pending until next_ms; count_attempt false for a paused channel;
 * maybe_sent when the call got no answer after the request went out (the
 * retry may duplicate it: counted in the row's resends). */
int snd_store_retry(cmn_store_t *st, int64_t row, int64_t next_ms, const char *reason,
                    const char *code, bool count_attempt, bool maybe_sent);
int snd_store_channel_state(cmn_store_t *st, const char *channel, bool paused, const char *reason,
                            int64_t now);

#endif
