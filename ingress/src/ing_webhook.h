/* ing_webhook: what Twilio and Meta send, decoded and checked.
 *
 * Pure functions (no I/O, no logging, no clock) so that each one is unit
 * tested and fuzzed on its own: the form decoder, the two signature checks
 * (Twilio's HMAC-SHA1 over the URL and sorted parameters, with the port
 * variants its own libraries accept; Meta's HMAC-SHA256 of the raw body),
 * and the two payload decoders, which turn one webhook into the messages
 * and delivery statuses it carries. Facts: ../shared/reference/channels.md.
 */
#ifndef ING_WEBHOOK_H
#define ING_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>

#define ING_ID_MAX 128   /* longest provider message id kept */
#define ING_ADDR_MAX 64  /* longest sender address kept ("+243..." or "US.1234...") */
#define ING_KIND_MAX 16

/* An application/x-www-form-urlencoded body, pairs in received order. */
typedef struct {
    char *name;
    char *value;
} ing_pair_t;

typedef struct {
    ing_pair_t *pairs;
    size_t n;
} ing_form_t;

/* Decode body (len bytes). '+' is a space; %XX are bytes; values must be
 * valid UTF-8. 0, -EINVAL (bad encoding, not UTF-8, over 256 pairs), -ENOMEM.
 * On error *ret is empty. */
int ing_form_parse(const char *body, size_t len, ing_form_t *ret);
/* First value of name, or NULL. */
const char *ing_form_get(const ing_form_t *f, const char *name);
void ing_form_free(ing_form_t *f);

/* Twilio: does sig match HMAC-SHA1(token, url + sorted name+value pairs)?
 * url: the public URL called, scheme://host[:port]/path?query, query as
 * received. Also tries the URL with its port removed and with the default
 * port added, as Twilio's libraries do. Constant-time comparison. */
bool ing_twilio_valid(const char *token, const char *url, const ing_form_t *params,
                      const char *sig);
/* Meta: header "sha256=<64 hex>" == HMAC-SHA256(secret, body)? Constant time. */
bool ing_meta_valid(const char *secret, const void *body, size_t len, const char *header);

/* One received message, as the conversation will see it. */
typedef struct {
    char id[ING_ID_MAX];     /* provider message id */
    char from[ING_ADDR_MAX]; /* "+243..." or a business-scoped user id ("US.1234...") */
    char kind[ING_KIND_MAX]; /* "text" (also a button or list answer), "image", ... */
    char *text;              /* owned; the answer id for interactive replies; NULL if none */
    char account[40];        /* the number written to: Meta's metadata.phone_number_id,
                                Twilio's To ("+1415..."); "" when the webhook did not say */
} ing_msg_t;

/* One delivery status of a message we sent. */
typedef struct {
    char id[ING_ID_MAX];   /* provider message id of our reply */
    char status[16];       /* "sent", "delivered", "read", "failed" */
    char error_code[16];   /* provider error code, "" when none */
} ing_status_t;

typedef struct {
    ing_msg_t *msgs;
    size_t nmsgs;
    ing_status_t *statuses;
    size_t nstatuses;
    size_t ignored; /* reactions, system messages, messages without a sender */
} ing_batch_t;

/* Meta webhook JSON -> messages and statuses. 0; -EINVAL when the body is
 * not JSON or not a WhatsApp webhook, with a reason in err that never quotes
 * the body (position and kind of error only); -ENOMEM. */
int ing_meta_parse(const char *body, size_t len, ing_batch_t *ret, char *err, size_t errlen);
/* Twilio form (inbound message or StatusCallback) -> one message or one
 * status. 0 or -EINVAL (reason in err) / -ENOMEM. */
int ing_twilio_parse(const ing_form_t *f, ing_batch_t *ret, char *err, size_t errlen);
void ing_batch_free(ing_batch_t *b);

/* Rank of a delivery status: queued/accepted 0, sent 1, delivered 2, read 3,
 * failed/undelivered 4 (final); -1 for a status we do not track. A status
 * only ever moves to a higher rank. */
int ing_status_rank(const char *status);

#endif
