/* snd_provider: Twilio and Meta requests and outcomes. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/cmn_http.h"
#include "snd_provider.h"

#define S_TWILIO_BODY_MAX 1600
#define S_META_BODY_MAX 4096
#define S_META_IBODY_MAX 1024 /* body of an interactive message */

/* ---- requests ----------------------------------------------------------- */

/* A copy of s cut to at most max code points (on a character boundary). */
static char *s_cut(const char *s, size_t max)
{
    size_t n = 0, i = 0;
    for (; s[i]; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80 && n++ == max)
            break;
    return strndup(s, i);
}

int snd_twilio_form(const snd_reply_t *r, const char *from_number, const char *status_callback,
                    cmn_str_t *out)
{
    char to[96], from[64];
    int rc;
    snprintf(to, sizeof(to), "whatsapp:%s", r->to);
    snprintf(from, sizeof(from), "whatsapp:%s", from_number);
    char *body = s_cut(r->body, S_TWILIO_BODY_MAX);
    if (body == NULL)
        return -ENOMEM;
    rc = cmn_http_form_append(out, "To", to);
    if (rc == 0)
        rc = cmn_http_form_append(out, "From", from);
    if (rc == 0)
        rc = cmn_http_form_append(out, "Body", body);
    free(body);
    if (rc == 0 && r->media_url)
        rc = cmn_http_form_append(out, "MediaUrl", r->media_url);
    if (rc == 0 && status_callback && *status_callback)
        rc = cmn_http_form_append(out, "StatusCallback", status_callback);
    return rc;
}

/* Count UTF-8 code points. */
static size_t s_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

/* Copy at most max code points of s (cut on a character boundary). */
static json_t *s_jtrunc(const char *s, size_t max)
{
    size_t n = 0, i = 0;
    for (; s[i]; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80 && n++ == max)
            break;
    }
    return json_stringn(s, i);
}

static json_t *s_base(const snd_reply_t *r, const char *type)
{
    json_t *o = json_pack("{s:s, s:s, s:s}", "messaging_product", "whatsapp", "recipient_type",
                          "individual", "type", type);
    if (o == NULL)
        return NULL;
    if (r->to[0] == '+')
        json_object_set_new(o, "to", json_string(r->to + 1));
    else /* business-scoped user id (a person known by username only) */
        json_object_set_new(o, "recipient", json_string(r->to));
    return o;
}

/* "gender:fr" -> kind "gender", lang "fr". */
static bool s_ui(const char *ui, char kind[16], char lang[8])
{
    const char *colon = ui ? strchr(ui, ':') : NULL;
    if (colon == NULL || colon - ui >= 16 || strlen(colon + 1) >= 8)
        return false;
    snprintf(kind, 16, "%.*s", (int)(colon - ui), ui);
    snprintf(lang, 8, "%s", colon + 1);
    return true;
}

static json_t *s_interactive(const snd_reply_t *r, const cmn_i18n_t *texts)
{
    char kind[16], lang[8];
    json_t *action;
    if (texts == NULL || !s_ui(r->ui, kind, lang) || s_chars(r->body) > S_META_IBODY_MAX)
        return NULL;
    if (strcmp(kind, "gender") == 0) {
        json_t *rows = json_array();
        for (int i = 1; i <= 4; i++) {
            char key[16], id[4];
            snprintf(key, sizeof(key), "gender_%d", i);
            snprintf(id, sizeof(id), "%d", i);
            const char *title = cmn_i18n_get(texts, lang, key);
            json_array_append_new(rows, json_pack("{s:s, s:o}", "id", id, "title",
                                                  s_jtrunc(title ? title : id, 24)));
        }
        const char *button = cmn_i18n_get(texts, lang, "ui_choose");
        action = json_pack("{s:o, s:[{s:o}]}", "button", s_jtrunc(button ? button : "OK", 20),
                           "sections", "rows", rows);
        return json_pack("{s:s, s:{s:s}, s:o}", "type", "list", "body", "text", r->body,
                         "action", action);
    }
    if (strcmp(kind, "confirm") == 0) {
        const char *yes = cmn_i18n_get(texts, lang, "ui_yes");
        const char *no = cmn_i18n_get(texts, lang, "ui_no");
        action = json_pack("{s:[{s:s, s:{s:s, s:o}}, {s:s, s:{s:s, s:o}}]}", "buttons", "type",
                           "reply", "reply", "id", "1", "title", s_jtrunc(yes ? yes : "1", 20),
                           "type", "reply", "reply", "id", "2", "title",
                           s_jtrunc(no ? no : "2", 20));
        return json_pack("{s:s, s:{s:s}, s:o}", "type", "button", "body", "text", r->body,
                         "action", action);
    }
    return NULL;
}

int snd_meta_json(const snd_reply_t *r, const cmn_i18n_t *texts, cmn_str_t *out)
{
    json_t *o, *inter = NULL;
    char *text;
    int rc;

    if (r->media_id) {
        o = s_base(r, "image");
        if (o)
            json_object_set_new(o, "image", json_pack("{s:s, s:o}", "id", r->media_id,
                                                      "caption", s_jtrunc(r->body, 1024)));
    } else if ((inter = s_interactive(r, texts)) != NULL) {
        o = s_base(r, "interactive");
        if (o)
            json_object_set_new(o, "interactive", inter);
        else
            json_decref(inter);
    } else {
        o = s_base(r, "text");
        if (o)
            json_object_set_new(o, "text", json_pack("{s:o, s:b}", "body",
                                                     s_jtrunc(r->body, S_META_BODY_MAX),
                                                     "preview_url", 0));
    }
    if (o == NULL)
        return -ENOMEM;
    text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (text == NULL)
        return -ENOMEM;
    rc = cmn_str_appends(out, text);
    free(text);
    return rc;
}

/* ---- outcomes ----------------------------------------------------------- */

static void s_set(snd_result_t *ret, snd_outcome_t o, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void s_set(snd_result_t *ret, snd_outcome_t o, const char *code, const char *fmt, ...)
{
    va_list ap;
    ret->outcome = o;
    snprintf(ret->code, sizeof(ret->code), "%s", code ? code : "");
    va_start(ap, fmt);
    vsnprintf(ret->reason, sizeof(ret->reason), fmt, ap);
    va_end(ap);
}

static bool s_in(long code, const long *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] == code)
            return true;
    return false;
}

/* Shared tail: no answer, 5xx, 429. True when it decided. */
static bool s_transport(long status, snd_result_t *ret)
{
    if (status == 0) {
        s_set(ret, SND_RETRY, NULL, "no answer (network error or timeout)%s", "");
        return true;
    }
    if (status >= 500) {
        char s[24];
        snprintf(s, sizeof(s), "%ld", status);
        s_set(ret, SND_RETRY, NULL, "provider error HTTP %s", s);
        return true;
    }
    return false;
}

void snd_twilio_classify(long status, const char *body, long retry_after_s, snd_result_t *ret)
{
    json_t *root = json_loads(body ? body : "", 0, NULL);
    json_t *jcode = json_object_get(root, "code");
    long code = json_is_integer(jcode) ? (long)json_integer_value(jcode) : 0;
    const char *msg = json_string_value(json_object_get(root, "message"));
    char scode[16] = "";
    static const long permanent[] = {21211, 21408, 21610, 21612, 21614, 63016, 63024, 63032,
                                     63003, 21617, 21602};

    memset(ret, 0, sizeof(*ret));
    ret->retry_after_s = retry_after_s;
    if (code)
        snprintf(scode, sizeof(scode), "%ld", code);
    if (status == 201 || status == 200) {
        const char *sid = json_string_value(json_object_get(root, "sid"));
        if (sid && *sid && strlen(sid) < sizeof(ret->provider_id)) {
            ret->outcome = SND_OK;
            snprintf(ret->provider_id, sizeof(ret->provider_id), "%s", sid);
        } else {
            s_set(ret, SND_RETRY, NULL, "accepted without a message sid%s", "");
        }
    } else if (s_transport(status, ret)) {
        /* decided */
    } else if (status == 429 || code == 20429 || code == 63018 || code == 63017) {
        s_set(ret, SND_THROTTLE, scode, "throttled by Twilio (%s)", scode[0] ? scode : "429");
    } else if (status == 401 || code == 20003) {
        s_set(ret, SND_PAUSE, scode[0] ? scode : "20003",
              "Twilio refused the credentials (%s): check TWILIO_ACCOUNT_SID and "
              "TWILIO_AUTH_TOKEN",
              scode[0] ? scode : "HTTP 401");
    } else if (s_in(code, permanent, sizeof(permanent) / sizeof(permanent[0])) ||
               status / 100 == 4) {
        s_set(ret, SND_FAIL, scode, "refused by Twilio: %s", msg ? msg : "client error");
    } else {
        s_set(ret, SND_RETRY, scode, "unexpected answer from Twilio%s", "");
    }
    json_decref(root);
}

/* Meta's error object: code and a short message. */
static long s_meta_error(json_t *root, char scode[16], const char **msg)
{
    json_t *err = json_object_get(root, "error");
    json_t *jcode = json_object_get(err, "code");
    long code = json_is_integer(jcode) ? (long)json_integer_value(jcode) : 0;
    *msg = json_string_value(json_object_get(json_object_get(err, "error_data"), "details"));
    if (*msg == NULL)
        *msg = json_string_value(json_object_get(err, "message"));
    if (code)
        snprintf(scode, 16, "%ld", code);
    return code;
}

static void s_meta_errors(long status, json_t *root, long retry_after_s, snd_result_t *ret)
{
    static const long throttle[] = {4, 80007, 130429, 131048, 133016};
    static const long retry[] = {131053, 131000, 1, 2};
    static const long pause[] = {190, 0, 10, 200};
    const char *msg = NULL;
    char scode[16] = "";
    long code = s_meta_error(root, scode, &msg);
    bool has_code = json_is_integer(json_object_get(json_object_get(root, "error"), "code"));

    ret->retry_after_s = retry_after_s;
    if (has_code && scode[0] == '\0')
        snprintf(scode, sizeof(scode), "%ld", code);
    if (code == 131056) {
        s_set(ret, SND_RETRY_PEER, scode, "pair rate limit for this recipient (%s)", scode);
    } else if (s_in(code, throttle, sizeof(throttle) / sizeof(throttle[0])) || status == 429) {
        s_set(ret, SND_THROTTLE, scode, "throttled by Meta (%s)", scode[0] ? scode : "429");
    } else if ((has_code && s_in(code, pause, sizeof(pause) / sizeof(pause[0]))) ||
               status == 401 || (code >= 200 && code <= 299)) {
        s_set(ret, SND_PAUSE, scode[0] ? scode : "401",
              "Meta refused the access token (%s): renew META_ACCESS_TOKEN (a system-user token "
              "does not expire)",
              scode[0] ? scode : "HTTP 401");
    } else if (s_in(code, retry, sizeof(retry) / sizeof(retry[0])) || s_transport(status, ret)) {
        if (ret->outcome != SND_RETRY || ret->reason[0] == '\0')
            s_set(ret, SND_RETRY, scode, "temporary Meta error (%s)", scode);
    } else {
        s_set(ret, SND_FAIL, scode, "refused by Meta: %s", msg ? msg : "client error");
    }
}

void snd_meta_classify(long status, const char *body, long retry_after_s, snd_result_t *ret)
{
    json_t *root = json_loads(body ? body : "", 0, NULL);
    memset(ret, 0, sizeof(*ret));
    ret->retry_after_s = retry_after_s;
    if (status == 200) {
        const char *id = json_string_value(
            json_object_get(json_array_get(json_object_get(root, "messages"), 0), "id"));
        if (id && *id && strlen(id) < sizeof(ret->provider_id)) {
            ret->outcome = SND_OK;
            snprintf(ret->provider_id, sizeof(ret->provider_id), "%s", id);
        } else {
            s_set(ret, SND_RETRY, NULL, "accepted without a message id%s", "");
        }
    } else if (status == 0) {
        s_transport(status, ret);
    } else {
        s_meta_errors(status, root, retry_after_s, ret);
    }
    json_decref(root);
}

void snd_meta_media_classify(long status, const char *body, long retry_after_s,
                             snd_result_t *ret)
{
    json_t *root = json_loads(body ? body : "", 0, NULL);
    memset(ret, 0, sizeof(*ret));
    ret->retry_after_s = retry_after_s;
    if (status == 200) {
        const char *id = json_string_value(json_object_get(root, "id"));
        if (id && *id && strlen(id) < sizeof(ret->provider_id)) {
            ret->outcome = SND_OK;
            snprintf(ret->provider_id, sizeof(ret->provider_id), "%s", id);
        } else {
            s_set(ret, SND_RETRY, NULL, "media upload answered without an id%s", "");
        }
    } else if (status == 0) {
        s_transport(status, ret);
    } else {
        s_meta_errors(status, root, retry_after_s, ret);
    }
    json_decref(root);
}

int64_t snd_backoff_ms(int attempts, long retry_after_s, double rnd)
{
    int64_t cap = 300000, base = 1000;
    int64_t d;
    if (attempts < 1)
        attempts = 1;
    d = attempts > 20 ? cap : base << (attempts - 1);
    if (d > cap)
        d = cap;
    d = d / 2 + (int64_t)((double)(d / 2) * (rnd < 0 ? 0 : rnd > 1 ? 1 : rnd));
    if (retry_after_s >= 0 && retry_after_s * 1000 > d)
        d = retry_after_s * 1000;
    return d;
}
