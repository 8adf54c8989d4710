/* snd_provider: what ciu-sender says to Twilio and Meta, and what their
 * answers mean.
 *
 * Pure functions (no I/O, no clock): build the request for one reply, and
 * classify the provider's answer by its error code (not its HTTP status:
 * Meta sends throttling as 400/403 bodies). Facts:
 * ../shared/reference/channels.md.
 */
#ifndef SND_PROVIDER_H
#define SND_PROVIDER_H

#include <stdbool.h>
#include <stdint.h>

#include "common/cmn_i18n.h"
#include "common/cmn_str.h"

typedef enum {
    SND_OK = 0,      /* accepted: provider_id set */
    SND_RETRY,       /* try this reply again later (network, 5xx, throttling) */
    SND_RETRY_PEER,  /* this recipient only, after >= 6 s (Meta 131056) */
    SND_THROTTLE,    /* the whole number is over its rate: slow the channel */
    SND_PAUSE,       /* credentials refused: pause the channel, nothing fails */
    SND_FAIL,        /* permanent: the reply is failed with the code */
} snd_outcome_t;

typedef struct {
    snd_outcome_t outcome;
    char provider_id[128]; /* SND_OK: Twilio sid or Meta wamid */
    char code[16];         /* provider error code, or "" */
    char reason[160];      /* short text for logs and last_error (never a secret) */
    long retry_after_s;    /* provider's Retry-After, -1 if none */
} snd_result_t;

/* One reply, as stored in the outbox. */
typedef struct {
    const char *to;        /* "+243..." or a business-scoped user id */
    const char *body;      /* plain text with numbered choices */
    const char *media_url; /* absolute URL of the QR image (Twilio), or NULL */
    const char *media_id;  /* Meta media id of the uploaded image, or NULL */
    const char *ui;        /* "gender:<lang>", "confirm:<lang>" or NULL */
} snd_reply_t;

/* Twilio: the form body of POST .../Messages.json into out. */
int snd_twilio_form(const snd_reply_t *r, const char *from_number, const char *status_callback,
                    cmn_str_t *out);
/* Meta: the JSON body of POST /{v}/{phone id}/messages into out. With ui
 * and texts, the gender question becomes a list (4 rows) and the
 * confirmation two reply buttons, within Meta's limits; otherwise text
 * (or an image by media_id with the body as caption). */
int snd_meta_json(const snd_reply_t *r, const cmn_i18n_t *texts, cmn_str_t *out);

/* Classify an answer. status 0 means no answer (network error, timeout). */
void snd_twilio_classify(long status, const char *body, long retry_after_s, snd_result_t *ret);
void snd_meta_classify(long status, const char *body, long retry_after_s, snd_result_t *ret);
/* Meta media upload answer: SND_OK with provider_id = media id. */
void snd_meta_media_classify(long status, const char *body, long retry_after_s,
                             snd_result_t *ret);

/* Delay before attempt number `attempts` (1 = first retry): exponential
 * from 1 s, capped at 5 min; the wait is between half and all of it, by `rnd` (0..1). At least
 * the provider's Retry-After. */
int64_t snd_backoff_ms(int attempts, long retry_after_s, double rnd);

#endif
