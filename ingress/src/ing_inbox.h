/* ing_inbox: the durable inbox with group commit.
 *
 * HTTP handler threads submit received messages and block until the writer
 * thread has committed them (so a 202/200 is only ever sent for a message
 * on disk). The writer drains everything queued, inserts it in one
 * transaction, commits, then wakes the conversation stage (sharded push)
 * and publishes message.received. Under load a batch holds many messages
 * and one fsync serves them all. Duplicates (same channel + provider id,
 * as Twilio and Meta redeliver) are acknowledged without a second row.
 */
#ifndef ING_INBOX_H
#define ING_INBOX_H

#include <stddef.h>

#include "common/cmn_daemon.h"

typedef struct ing_inbox ing_inbox_t;

typedef struct {
    const char *channel;     /* "sim", "twilio", "meta" */
    const char *provider_id; /* provider message id, or NULL */
    const char *from;        /* the number in clear, E.164 with '+' */
    const char *kind;        /* "text", "image", "audio", ... */
    const char *text;        /* may be NULL for non-text */
} ing_inbound_t;

/* d is borrowed (store path, salt, bus, metrics); the writer opens its own
 * store handle. NULL on failure (logged). */
ing_inbox_t *ing_inbox_new(cmn_daemon_t *d, const char *conversation_endpoints,
                           const char *events_endpoint);
void ing_inbox_destroy(ing_inbox_t **p); /* commits what is queued, then stops */

/* Store one message durably. On success writes the message id (new, or the
 * original one for a duplicate) to ret_id. 0, -EEXIST is never returned
 * (duplicates succeed), -EIO when the store failed, -ESHUTDOWN when stopping. */
int ing_inbox_submit(ing_inbox_t *in, const ing_inbound_t *msg, char ret_id[CMN_ID_LEN]);

#endif
