/* cmn_msg: every message between ciu daemons, defined once (STYLE rule 12).
 *
 * A message is one msgpack map with string keys: `v` (schema version),
 * `type`, `id` (unique), `ts` (ms since the epoch), `trace` (follows one
 * person's message from webhook to reply) and the type's fields. Work
 * messages are wake-up calls that name a durable row: the database is the
 * truth, so a lost message only delays work (the receiver's periodic scan
 * finds the row). Events carry no phone number: `user` is always the keyed
 * hash. Decoders check types and bounds; anything malformed or unknown is
 * rejected with -EPROTO so the caller can log and drop it.
 * docs/messages.md lists every type with an example.
 */
#ifndef CMN_MSG_H
#define CMN_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cmn_crypto.h"
#include "common/cmn_str.h"

#define CMN_MSG_VERSION 1
#define CMN_MSG_MAX_BYTES 4096

/* Work types (PUSH/PULL). */
#define CMN_MSG_INBOUND "inbound"         /* ingress -> conversation: inbox row stored */
#define CMN_MSG_CIU_REQUEST "ciu.request" /* conversation -> engine: answers confirmed */
#define CMN_MSG_OUTBOUND "outbound"       /* conversation, engine -> sender: reply queued */
#define CMN_MSG_DHIS2_SYNC "dhis2.sync"   /* engine -> dhis2-bridge: CIU to enrol */

/* Event types (PUB, topic = type). */
#define CMN_EV_MESSAGE_RECEIVED "message.received"
#define CMN_EV_MESSAGE_PROCESSED "message.processed"
#define CMN_EV_CIU_REQUESTED "ciu.requested"
#define CMN_EV_CIU_ISSUED "ciu.issued"
#define CMN_EV_DUPLICATE "ciu.duplicate"
#define CMN_EV_MESSAGE_SENT "message.sent"
#define CMN_EV_MESSAGE_FAILED "message.failed"
#define CMN_EV_MESSAGE_DELIVERED "message.delivered" /* provider status callbacks */
#define CMN_EV_MESSAGE_READ "message.read"
#define CMN_EV_CHANNEL_PAUSED "channel.paused"   /* sender: credentials refused */
#define CMN_EV_CHANNEL_RESUMED "channel.resumed"
#define CMN_EV_DHIS2_PENDING "dhis2.pending" /* bridge accepted an enrolment */
#define CMN_EV_DHIS2_SYNCED "dhis2.synced"   /* person in DHIS2, enrolled */
#define CMN_EV_DHIS2_FAILED "dhis2.failed"   /* DHIS2 refused an enrolment */
#define CMN_EV_DHIS2_DUPLICATE_FLAGGED "dhis2.duplicate_flagged" /* sent to DHIS2 */
/* A person's conversation: first question asked; answers confirmed
 * (duration_ms: from the start); session expired unfinished (detail: the
 * question it stopped at, e.g. "birth_year"). */
#define CMN_EV_CONV_STARTED "conversation.started"
#define CMN_EV_CONV_COMPLETED "conversation.completed"
#define CMN_EV_CONV_ABANDONED "conversation.abandoned"

typedef struct {
    int v;
    char type[32];
    char id[CMN_ID_LEN];
    int64_t ts;
    char trace[CMN_ID_LEN];
    char user[CMN_HEX256_LEN]; /* keyed hash of the number: shard key; "" if none */
    int64_t row;               /* id of the durable row the message is about; 0 if none */
    char channel[16];          /* "sim", "twilio", "meta"; "" if none */
    /* event details, "" / false when not relevant */
    char ciu[16];
    char detail[48]; /* e.g. duplicate kind, failure reason, step */
    bool existing;
    int64_t duration_ms; /* conversation.completed: time to complete; 0 if none */
} cmn_msg_t;

/* Fill v, type, a new id, ts = now; trace copied (new id when NULL/empty). */
int cmn_msg_init(cmn_msg_t *m, const char *type, const char *trace);
/* Known type (work or event)? */
bool cmn_msg_type_known(const char *type);

/* Encode into out (reset first). 0, -E2BIG, -ENOMEM. */
int cmn_msg_encode(const cmn_msg_t *m, cmn_str_t *out);
/* Decode; *ret written only on success. 0 or -EPROTO (malformed, wrong types,
 * out of bounds, unknown type, newer version). */
int cmn_msg_decode(const void *data, size_t len, cmn_msg_t *ret);

/* Current time in ms since the epoch / a monotonic clock. */
int64_t cmn_now_ms(void);
int64_t cmn_mono_ms(void);

#endif
