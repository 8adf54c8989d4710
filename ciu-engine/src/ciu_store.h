/* ciu_store: the engine's SQL, behind one function per question.
 *
 * Tables the engine owns (docs/architecture.md): registry, user_cius,
 * duplicates, media, ciu_done (it inserts; the conversation consumes), and
 * the rows it queues for others: outbox (cmn_outbox_queue) and dhis2_sync
 * (it inserts; the bridge owns the rest). It consumes ciu_requests (the
 * conversation inserts them): claiming a request deletes it, so two
 * replicas never issue the same request. Every write is idempotent through
 * a unique key (INSERT ... ON CONFLICT ... RETURNING), never read-then-write.
 * All functions run inside the caller's transaction unless said otherwise,
 * and return 0 or a store error (-EIO, -EBUSY, ...).
 */
#ifndef CIU_STORE_H
#define CIU_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/cmn_crypto.h"
#include "common/cmn_stage.h"
#include "common/cmn_store.h"

#define CIU_STORE_CODE_MAX 8 /* bytes of one stored code ("MBE", "7", "DA"...) + NUL */

/* Confirmed answers (codes only) waiting for a CIU. */
typedef struct {
    int64_t id;
    char user[CMN_HEX256_LEN];
    char channel[16];
    char to[64]; /* the number, "" once erased */
    char lang[8];
    char last[CIU_STORE_CODE_MAX], first[CIU_STORE_CODE_MAX], year[CIU_STORE_CODE_MAX];
    char city[CIU_STORE_CODE_MAX], gender[CIU_STORE_CODE_MAX];
    char trace[CMN_ID_LEN];
    int other; /* 1: another person registered from this number (AUTRE) */
} ciu_request_t;

/* Pending keys (people) of one replica's share, oldest first. */
extern const cmn_scan_t ciu_store_scan;
/* Unfinished items and the oldest one's creation time (queue gauges). */
extern const char ciu_store_queue_sql[];

/* The pending requests of a person, in id order (read only: no claim).
 * *ret (caller frees) and *ret_n, or an error. */
int ciu_store_pending(cmn_store_t *st, const char *user, ciu_request_t **ret, size_t *ret_n);

/* Claim a request: delete it and return its contents. *ret_found false
 * when it is gone (another replica or a repeated wake-up handled it). */
int ciu_store_claim(cmn_store_t *st, int64_t id, ciu_request_t *ret, bool *ret_found);

/* Register a CIU or count one more request for it. *ret_existing: it was
 * registered before; ret_first_user: the number that obtained it first. */
int ciu_store_register(cmn_store_t *st, const char *ciu, const char *reg_key, const char *user,
                       int64_t now, bool *ret_existing, char ret_first_user[CMN_HEX256_LEN]);

/* The CIU a number obtained last; ret_prev gets the one it had before (""
 * if none). */
int ciu_store_user_ciu(cmn_store_t *st, const char *user, const char *ciu, int64_t now,
                       char ret_prev[16]);

/* Remember that this number obtained this CIU (number_cius). *ret_new:
 * it had not obtained it before. */
int ciu_store_number_ciu(cmn_store_t *st, const char *user, const char *ciu, int64_t now,
                         bool *ret_new);

/* Record a potential duplicate once per (kind, ciu, user). *ret_new: it
 * was not recorded before. other_ciu, other_user may be NULL. */
int ciu_store_duplicate(cmn_store_t *st, const char *kind, const char *ciu, const char *other_ciu,
                        const char *user, const char *other_user, int64_t now, bool *ret_new);

/* A QR image behind an unguessable token (its file is written after the
 * commit: written = 0 until a scan has seen it on disk). */
int ciu_store_media_add(cmn_store_t *st, const char *token, const char *path, const char *ciu,
                        int64_t expires_ms);

/* Queue the DHIS2 enrolment of a new CIU. *ret_row: its id, or 0 when it
 * was queued before. */
int ciu_store_sync_queue(cmn_store_t *st, const char *ciu, int64_t now, const char *trace,
                         int64_t *ret_row);

/* Tell the conversation the request was answered (it ends the session). */
int ciu_store_done(cmn_store_t *st, const ciu_request_t *rq, int64_t now);

/* Outside a transaction. Delete expired media rows. */
int ciu_store_media_purge(cmn_store_t *st, int64_t now);

/* Outside a transaction. Media rows created before `before_ms` whose file
 * was not seen yet: fn(arg, token, path, ciu) for each; then mark those fn
 * returned 0 for as written. Returns how many were marked, or an error. */
int ciu_store_media_unwritten(cmn_store_t *st, int64_t before_expiry_ms,
                              int (*fn)(void *arg, const char *path, const char *ciu), void *arg);

#endif
