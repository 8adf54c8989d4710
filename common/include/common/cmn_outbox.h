/* cmn_outbox: queue a reply in the outbox, the one table every stage that
 * answers a person writes to (the transactional outbox the sender drains).
 * Call inside the caller's write transaction, so the reply commits with the
 * work that produced it.
 */
#ifndef CMN_OUTBOX_H
#define CMN_OUTBOX_H

#include <stdint.h>

#include "common/cmn_store.h"

typedef struct {
    const char *channel; /* "sim", "twilio", "meta" */
    const char *user;    /* keyed hash of the number */
    const char *to;      /* the number in clear (erased once sent); may be NULL */
    const char *body;    /* the text */
    const char *media;   /* media URL, or NULL */
    const char *trace;   /* trace id of the exchange */
    const char *ui;      /* "gender:<lang>" / "confirm:<lang>" for channels with buttons, or NULL */
} cmn_reply_t;

/* Insert one pending reply, due now. 0 and *ret_row (the outbox id), or a
 * store error (-EIO, -EBUSY, ...). */
int cmn_outbox_queue(cmn_store_t *st, const cmn_reply_t *reply, int64_t now, int64_t *ret_row);

#endif
