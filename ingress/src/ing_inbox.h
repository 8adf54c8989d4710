/* ing_inbox: the durable inbox with group commit.
 *
 HTTP handlers submit received messages with a callback and suspend their
 * connection; the writer thread calls back once they are committed (so a
 * 202/200 is only ever sent for a message on disk). It drains everything
 * queued, inserts it in one
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
    const char *from;        /* "+243..." in clear, or a business-scoped user id */
    const char *kind;        /* "text", "image", "audio", ... */
    const char *text;        /* may be NULL for non-text */
} ing_inbound_t;

/* A delivery status reported by a provider for one of our replies. */
typedef struct {
    const char *channel;     /* "twilio", "meta" */
    const char *provider_id; /* the provider's id of our message */
    const char *status;      /* "sent", "delivered", "read", "failed", "undelivered" */
    const char *error_code;  /* provider error code, or NULL */
} ing_status_in_t;

/* d is borrowed (store path, salt, bus, metrics); the writer opens its own
 * store handle. NULL on failure (logged). */
ing_inbox_t *ing_inbox_new(cmn_daemon_t *d, const char *conversation_endpoints,
                           const char *events_endpoint);
void ing_inbox_destroy(ing_inbox_t **p); /* commits what is queued, then stops */

/* Called once from the writer thread when an asynchronous submit is
 * committed (result 0) or failed (-EIO): ids[i] is the id of the i-th
 * message (new, or the original for a duplicate), borrowed for the call. */
typedef void (*ing_inbox_done_fn)(void *arg, int result, const char (*ids)[CMN_ID_LEN],
                                  size_t n);

/* Store n messages and m statuses durably, in the next group commit
 * (everything is copied: the caller may return at once). 0 when queued:
 * done is then called exactly once, even at shutdown (the queue is
 * committed before the writer stops); a failed group commit is retried
 * item by item, so one bad item never fails the others. Or, right away and
 * without a callback: -EAGAIN (queue full), -ESHUTDOWN, -ENOMEM, -EIO. */
int ing_inbox_submit_async(ing_inbox_t *in, const ing_inbound_t *msgs, size_t n,
                           const ing_status_in_t *statuses, size_t m, ing_inbox_done_fn done,
                           void *arg);

#endif
