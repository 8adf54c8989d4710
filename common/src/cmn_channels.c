/* cmn_channels: channel switches and their configuration checks. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cmn_channels.h"
#include "common/cmn_str.h"

static bool s_set(const char *v) { return v && *v; }

static bool s_all(const char *v, const char *allowed, size_t min, size_t max)
{
    size_t n = v ? strlen(v) : 0;
    if (n < min || n > max)
        return false;
    return strspn(v, allowed) == n;
}

#define S_DIGITS "0123456789"
#define S_HEX "0123456789abcdefABCDEF"

static int s_bad(char **ret_err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int s_bad(char **ret_err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *line = cmn_str_vdup(1024, fmt, ap);
    va_end(ap);
    if (ret_err)
        *ret_err = line;
    else
        free(line);
    return -EINVAL;
}

static int s_url(const char *name, const char *v, char **ret_err)
{
    if (strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0)
        return s_bad(ret_err, "%s: must start with https:// (or http:// for tests), e.g. "
                              "https://ciu.example.org",
                     name);
    if (strlen(v) > 400 || strpbrk(v, " ?#") != NULL)
        return s_bad(ret_err, "%s: must be an origin like https://ciu.example.org (no spaces, "
                              "no query)",
                     name);
    return 0;
}

static int s_twilio(const cmn_settings_t *s, cmn_channels_t *c, char **ret_err)
{
    const char *num = s->twilio_number;
    if (!s_set(s->twilio_account_sid))
        return s_bad(ret_err, "TWILIO_ACCOUNT_SID: not set (the Twilio channel is on because "
                              "TWILIO_AUTH_TOKEN is set; fix: set the AC... account SID from the "
                              "Twilio console)%s",
                     "");
    if (strncmp(s->twilio_account_sid, "AC", 2) != 0 ||
        !s_all(s->twilio_account_sid + 2, S_HEX, 32, 32))
        return s_bad(ret_err, "TWILIO_ACCOUNT_SID: not an account SID (fix: AC followed by 32 "
                              "hexadecimal characters, from the Twilio console)%s",
                     "");
    if (!s_set(s->twilio_auth_token))
        return s_bad(ret_err, "TWILIO_AUTH_TOKEN: not set (fix: the auth token from the Twilio "
                              "console)%s",
                     "");
    if (!s_set(num))
        return s_bad(ret_err, "TWILIO_WHATSAPP_NUMBER: not set (fix: the bot's WhatsApp number, "
                              "e.g. whatsapp:+14155238886 for the sandbox)%s",
                     "");
    if (strncmp(num, "whatsapp:", 9) == 0)
        num += 9;
    if (num[0] != '+' || !s_all(num + 1, S_DIGITS, 8, 15))
        return s_bad(ret_err, "TWILIO_WHATSAPP_NUMBER: '%.40s' is not a number (fix: + and 8 to "
                              "15 digits, e.g. whatsapp:+14155238886)",
                     s->twilio_number);
    snprintf(c->twilio_number, sizeof(c->twilio_number), "%s", num);
    if (!s_set(s->public_url))
        return s_bad(ret_err, "PUBLIC_BASE_URL: not set (Twilio signs each webhook over the "
                              "public URL it calls, and fetches QR images from it; fix: set "
                              "your https origin, e.g. https://ciu.example.org)%s",
                     "");
    return s_url("TWILIO_API_BASE_URL", s->twilio_api_base, ret_err);
}

static int s_meta(const cmn_settings_t *s, char **ret_err)
{
    if (!s_set(s->meta_token))
        return s_bad(ret_err, "META_ACCESS_TOKEN: not set (the Meta channel is on because "
                              "META_PHONE_NUMBER_ID or META_APP_SECRET is set; fix: a system-user "
                              "access token, or META_WHATSAPP_TOKEN)%s",
                     "");
    if (!s_all(s->meta_phone_number_id, S_DIGITS, 5, 32))
        return s_bad(ret_err, "META_PHONE_NUMBER_ID: '%.40s' is not a phone number id (fix: the "
                              "digits shown under API Setup in the Meta app dashboard)",
                     s->meta_phone_number_id);
    if (!s_set(s->meta_app_secret))
        return s_bad(ret_err, "META_APP_SECRET: not set (checks the X-Hub-Signature-256 of each "
                              "webhook; fix: App settings > Basic > App secret)%s",
                     "");
    if (!s_set(s->meta_verify_token))
        return s_bad(ret_err, "META_VERIFY_TOKEN: not set (fix: any secret string, also typed "
                              "in the Meta dashboard's webhook form; or META_WEBHOOK_VERIFY_TOKEN)"
                              "%s",
                     "");
    const char *v = s->meta_api_version;
    const char *dot = v ? strchr(v, '.') : NULL;
    if (!v || v[0] != 'v' || dot == NULL || !s_all(dot + 1, S_DIGITS, 1, 2) || dot - v < 2 ||
        dot - v > 4 || strspn(v + 1, S_DIGITS) != (size_t)(dot - v - 1))
        return s_bad(ret_err, "META_API_VERSION: '%.40s' is not a Graph API version (fix: e.g. "
                              "v25.0)",
                     v);
    return s_url("META_GRAPH_BASE_URL", s->meta_graph_base, ret_err);
}

int cmn_channels_load(const cmn_settings_t *s, cmn_channels_t *ret, char **ret_err)
{
    cmn_channels_t c;
    int r;
    memset(&c, 0, sizeof(c));
    c.simulator = s->simulator;
    c.twilio = s_set(s->twilio_account_sid) || s_set(s->twilio_auth_token);
    c.meta = s_set(s->meta_token) || s_set(s->meta_phone_number_id) ||
             s_set(s->meta_app_secret);
    if (s_set(s->public_url)) {
        if ((r = s_url("PUBLIC_BASE_URL", s->public_url, ret_err)) < 0)
            return r;
        snprintf(c.public_url, sizeof(c.public_url), "%s", s->public_url);
        size_t n = strlen(c.public_url);
        while (n > 0 && c.public_url[n - 1] == '/')
            c.public_url[--n] = '\0';
    }
    if (!s->webhook_path || s->webhook_path[0] != '/' || strpbrk(s->webhook_path, " ?#"))
        return s_bad(ret_err, "WEBHOOK_PATH: '%.60s' must be a path starting with / (fix: e.g. "
                              "/whatsapp/webhook)",
                     s->webhook_path);
    if (c.twilio && (r = s_twilio(s, &c, ret_err)) < 0)
        return r;
    if (c.meta && (r = s_meta(s, ret_err)) < 0)
        return r;
    if (s->insecure_skip_signature && !s->simulator &&
        strncmp(c.public_url, "https://", 8) == 0)
        return s_bad(ret_err, "CIU_INSECURE_SKIP_SIGNATURE: refused on a public https "
                              "deployment (anyone could forge messages; fix: remove it)%s",
                     "");
    *ret = c;
    return 0;
}

const char *cmn_channels_describe(const cmn_channels_t *c, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s%s%s%s", c->twilio ? "twilio" : "",
             c->twilio && (c->meta || c->simulator) ? ", " : "", c->meta ? "meta" : "",
             c->meta && c->simulator ? ", " : "", c->simulator ? "simulator" : "");
    if (buf[0] == '\0')
        snprintf(buf, len, "none");
    return buf;
}
