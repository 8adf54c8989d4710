/* cmn_channels: which WhatsApp channels are on, and their checked settings.
 *
 * A channel is on when any of its credentials is set; then every value it
 * needs must be present and well formed, or the daemon stops at start with
 * one line naming the variable (cmn_channels_load). Ingress (webhooks) and
 * the sender (REST calls) read the same result, so moving from Twilio to
 * Meta is a change of .env only.
 */
#ifndef CMN_CHANNELS_H
#define CMN_CHANNELS_H

#include <stdbool.h>

#include "common/cmn_settings.h"

typedef struct cmn_channels_s {
    bool twilio;                 /* Twilio channel on */
    bool meta;                   /* Meta WhatsApp Cloud API channel on */
    bool simulator;              /* simulator channel on */
    char twilio_number[32];      /* "+14155238886" (any "whatsapp:" prefix removed) */
    char public_url[512];        /* PUBLIC_BASE_URL without a trailing slash, or "" */
} cmn_channels_t;

/* Decide and check. 0, or -EINVAL with *ret_err (one line naming the
 * variable and the fix; caller frees). */
int cmn_channels_load(const cmn_settings_t *s, cmn_channels_t *ret, char **ret_err);

/* "twilio, meta, simulator" or "none" (for logs and banners). */
const char *cmn_channels_describe(const cmn_channels_t *c, char *buf, size_t len);

#endif
