/* ing_webhook: Twilio forms, Meta JSON, both signatures. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <utf8proc.h>

#include "common/cmn_crypto.h"
#include "common/cmn_str.h"
#include "ing_webhook.h"

#define S_PAIRS_MAX 256
#define S_TEXT_MAX 4096 /* longest text kept from one message (the conversation caps lower) */

/* ---- form decoding ------------------------------------------------------ */

static bool s_utf8_valid(const char *s, size_t len)
{
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    while (len > 0) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate(p, (utf8proc_ssize_t)len, &cp);
        if (n <= 0 || cp == 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

/* Decode [s, s+len) into a new string. NULL on bad encoding / ENOMEM. */
static char *s_unescape(const char *s, size_t len, int *ret_err)
{
    char *out = malloc(len + 1);
    size_t o = 0;
    if (out == NULL) {
        *ret_err = -ENOMEM;
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '+') {
            out[o++] = ' ';
        } else if (s[i] == '%') {
            /* "%XX": two hex digits must follow the '%' */
            int hi = i + 2 < len ? cmn_hex_digit(s[i + 1]) : -1;
            int lo = i + 2 < len ? cmn_hex_digit(s[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                free(out);
                *ret_err = -EINVAL;
                return NULL;
            }
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    if (!s_utf8_valid(out, o)) {
        free(out);
        *ret_err = -EINVAL;
        return NULL;
    }
    return out;
}

void ing_form_free(ing_form_t *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; i < f->n; i++) {
        free(f->pairs[i].name);
        free(f->pairs[i].value);
    }
    free(f->pairs);
    f->pairs = NULL;
    f->n = 0;
}

int ing_form_parse(const char *body, size_t len, ing_form_t *ret)
{
    ing_form_t f = {NULL, 0};
    size_t i = 0;
    int r = 0;

    memset(ret, 0, sizeof(*ret));
    f.pairs = calloc(S_PAIRS_MAX, sizeof(*f.pairs));
    if (f.pairs == NULL)
        return -ENOMEM;
    while (i < len) {
        const char *start = body + i;
        const char *amp = memchr(start, '&', len - i);
        size_t plen = amp ? (size_t)(amp - start) : len - i;
        i += plen + (amp ? 1 : 0);
        if (plen == 0)
            continue;
        if (f.n == S_PAIRS_MAX) {
            r = -EINVAL;
            break;
        }
        const char *eq = memchr(start, '=', plen);
        size_t nlen = eq ? (size_t)(eq - start) : plen;
        ing_pair_t *p = &f.pairs[f.n];
        p->name = s_unescape(start, nlen, &r);
        if (p->name == NULL)
            break;
        p->value = eq ? s_unescape(eq + 1, plen - nlen - 1, &r) : strdup("");
        f.n++;
        if (p->value == NULL) {
            if (r == 0)
                r = -ENOMEM;
            break;
        }
    }
    if (r < 0) {
        ing_form_free(&f);
        return r;
    }
    *ret = f;
    return 0;
}

const char *ing_form_get(const ing_form_t *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->pairs[i].name, name) == 0)
            return f->pairs[i].value;
    return NULL;
}

/* ---- signatures --------------------------------------------------------- */

static int s_pair_cmp(const void *a, const void *b)
{
    const ing_pair_t *x = *(const ing_pair_t *const *)a, *y = *(const ing_pair_t *const *)b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

static bool s_twilio_check(const char *token, const char *url, const ing_pair_t **sorted,
                           size_t n, const char *sig)
{
    cmn_str_t s = CMN_STR_INIT(1 << 20);
    char mac[32];
    bool ok = false;
    int r = cmn_str_appends(&s, url);
    for (size_t i = 0; i < n && r == 0; i++) {
        /* repeated identical pairs count once, as in Twilio's libraries */
        if (i > 0 && s_pair_cmp(&sorted[i - 1], &sorted[i]) == 0)
            continue;
        r = cmn_str_appends(&s, sorted[i]->name);
        if (r == 0)
            r = cmn_str_appends(&s, sorted[i]->value);
    }
    if (r == 0 && cmn_hmac_sha1_base64(token, strlen(token), s.buf, s.len, mac) == 0)
        ok = cmn_secure_equal(mac, sig) == 1;
    cmn_str_free(&s);
    return ok;
}

/* url with the port removed (strip=true) or the scheme's default port added. */
static bool s_port_variant(const char *url, bool strip, char *out, size_t outlen)
{
    const char *scheme_end = strstr(url, "://");
    const char *host, *end, *colon;
    if (scheme_end == NULL)
        return false;
    host = scheme_end + 3;
    end = host + strcspn(host, "/?");
    colon = memchr(host, ':', (size_t)(end - host));
    if (strip) {
        if (colon == NULL)
            return false;
        return snprintf(out, outlen, "%.*s%s", (int)(colon - url), url, end) < (int)outlen;
    }
    if (colon != NULL)
        return false;
    const char *port = strncmp(url, "https://", 8) == 0 ? ":443" : ":80";
    return snprintf(out, outlen, "%.*s%s%s", (int)(end - url), url, port, end) < (int)outlen;
}

bool ing_twilio_valid(const char *token, const char *url, const ing_form_t *params,
                      const char *sig)
{
    const ing_pair_t **sorted;
    char alt[2048];
    bool ok;

    if (token == NULL || *token == '\0' || url == NULL || sig == NULL || *sig == '\0' ||
        strlen(sig) > 64)
        return false;
    sorted = calloc(params->n + 1, sizeof(*sorted));
    if (sorted == NULL)
        return false;
    for (size_t i = 0; i < params->n; i++)
        sorted[i] = &params->pairs[i];
    qsort(sorted, params->n, sizeof(*sorted), s_pair_cmp);
    ok = s_twilio_check(token, url, sorted, params->n, sig);
    if (!ok && s_port_variant(url, true, alt, sizeof(alt)))
        ok = s_twilio_check(token, alt, sorted, params->n, sig);
    if (!ok && s_port_variant(url, false, alt, sizeof(alt)))
        ok = s_twilio_check(token, alt, sorted, params->n, sig);
    free(sorted);
    return ok;
}

bool ing_meta_valid(const char *secret, const void *body, size_t len, const char *header)
{
    char mac[CMN_HEX256_LEN];
    if (secret == NULL || *secret == '\0' || header == NULL || strlen(header) != 71 ||
        strncmp(header, "sha256=", 7) != 0)
        return false;
    if (cmn_hmac_sha256_hex(secret, strlen(secret), body, len, mac) < 0)
        return false;
    return cmn_secure_equal(mac, header + 7) == 1;
}

/* ---- batches ------------------------------------------------------------ */

void ing_batch_free(ing_batch_t *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->nmsgs; i++)
        free(b->msgs[i].text);
    free(b->msgs);
    free(b->statuses);
    memset(b, 0, sizeof(*b));
}

static ing_msg_t *s_add_msg(ing_batch_t *b)
{
    ing_msg_t *m = realloc(b->msgs, (b->nmsgs + 1) * sizeof(*m));
    if (m == NULL)
        return NULL;
    b->msgs = m;
    memset(&m[b->nmsgs], 0, sizeof(*m));
    return &m[b->nmsgs++];
}

static ing_status_t *s_add_status(ing_batch_t *b)
{
    ing_status_t *s = realloc(b->statuses, (b->nstatuses + 1) * sizeof(*s));
    if (s == NULL)
        return NULL;
    b->statuses = s;
    memset(&s[b->nstatuses], 0, sizeof(*s));
    return &s[b->nstatuses++];
}

int ing_status_rank(const char *st)
{
    static const struct {
        const char *name;
        int rank;
    } ranks[] = {{"queued", 0},    {"accepted", 0}, {"sending", 0},      {"sent", 1},
                 {"delivered", 2}, {"read", 3},     {"failed", 4},       {"undelivered", 4}};
    for (size_t i = 0; st && i < sizeof(ranks) / sizeof(ranks[0]); i++)
        if (strcmp(st, ranks[i].name) == 0)
            return ranks[i].rank;
    return -1;
}

/* Sender address: "+digits" for a number, the id itself for a user id. */
static bool s_set_from(char out[ING_ADDR_MAX], const char *v)
{
    size_t n;
    if (v == NULL || *v == '\0')
        return false;
    if (strncmp(v, "whatsapp:", 9) == 0)
        v += 9;
    if (*v == '+')
        v++;
    n = strlen(v);
    if (n == 0 || n >= ING_ADDR_MAX - 1)
        return false;
    if (strspn(v, "0123456789") == n) {
        if (n < 6 || n > 15)
            return false;
        snprintf(out, ING_ADDR_MAX, "+%s", v);
        return true;
    }
    /* business-scoped user id, e.g. "US.13491208655302741918" */
    if (strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != n)
        return false;
    snprintf(out, ING_ADDR_MAX, "%s", v);
    return true;
}

static bool s_copy_id(char out[ING_ID_MAX], const char *v)
{
    if (v == NULL || *v == '\0' || strlen(v) >= ING_ID_MAX)
        return false;
    snprintf(out, ING_ID_MAX, "%s", v);
    return true;
}

static int s_set_text(ing_msg_t *m, const char *text)
{
    if (text == NULL)
        return 0;
    size_t n = strnlen(text, S_TEXT_MAX + 1);
    if (n > S_TEXT_MAX) { /* keep it bounded; the conversation answers "too long" */
        n = S_TEXT_MAX;
        while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
            n--;
    }
    m->text = strndup(text, n);
    return m->text ? 0 : -ENOMEM;
}

static const char *s_jstr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The user id of a contact whose wa_id or user_id matches, for messages
 * that carry neither `from` nor a phone number. */
static const char *s_contact_user_id(json_t *contacts)
{
    size_t i;
    json_t *c;
    json_array_foreach(contacts, i, c)
    {
        const char *u = s_jstr(c, "user_id");
        if (u)
            return u;
    }
    return NULL;
}

static int s_meta_message(json_t *jm, json_t *contacts, const char *account, ing_batch_t *b)
{
    const char *type = s_jstr(jm, "type");
    const char *from = s_jstr(jm, "from");
    const char *text = NULL;
    char kind[ING_KIND_MAX] = "text";
    ing_msg_t *m;

    if (type == NULL || *type == '\0' || strcmp(type, "reaction") == 0 ||
        strcmp(type, "system") == 0 || strcmp(type, "deleted") == 0) {
        b->ignored++;
        return 0;
    }
    if (from == NULL)
        from = s_jstr(jm, "from_user_id");
    if (from == NULL)
        from = s_contact_user_id(contacts);
    if (strcmp(type, "text") == 0) {
        text = s_jstr(json_object_get(jm, "text"), "body");
    } else if (strcmp(type, "interactive") == 0) {
        json_t *in = json_object_get(jm, "interactive");
        json_t *rep = json_object_get(in, "button_reply");
        if (rep == NULL)
            rep = json_object_get(in, "list_reply");
        text = s_jstr(rep, "id");
        if (text == NULL)
            snprintf(kind, sizeof(kind), "unsupported");
    } else if (strcmp(type, "button") == 0) {
        json_t *bt = json_object_get(jm, "button");
        text = s_jstr(bt, "payload");
        if (text == NULL || *text == '\0')
            text = s_jstr(bt, "text");
    } else {
        /* image, audio, voice, video, document, sticker, location, contacts,
         * order, unsupported, unknown: answered "please write in text" */
        snprintf(kind, sizeof(kind), "%.*s", (int)sizeof(kind) - 1, type);
    }
    m = s_add_msg(b);
    if (m == NULL)
        return -ENOMEM;
    if (!s_copy_id(m->id, s_jstr(jm, "id")) || !s_set_from(m->from, from)) {
        b->nmsgs--; /* no id or no sender: nothing to answer, nothing to dedupe on */
        b->ignored++;
        return 0;
    }
    snprintf(m->kind, sizeof(m->kind), "%s", kind);
    if (account && strlen(account) < sizeof(m->account))
        snprintf(m->account, sizeof(m->account), "%s", account);
    if (strcmp(kind, "text") == 0 && text == NULL)
        snprintf(m->kind, sizeof(m->kind), "unsupported");
    return strcmp(m->kind, "text") == 0 ? s_set_text(m, text) : 0;
}

static int s_meta_status(json_t *js, ing_batch_t *b)
{
    const char *st = s_jstr(js, "status");
    json_t *errs = json_object_get(js, "errors");
    ing_status_t *s;
    if (st == NULL || ing_status_rank(st) < 0) {
        b->ignored++;
        return 0;
    }
    s = s_add_status(b);
    if (s == NULL)
        return -ENOMEM;
    if (!s_copy_id(s->id, s_jstr(js, "id"))) {
        b->nstatuses--;
        b->ignored++;
        return 0;
    }
    snprintf(s->status, sizeof(s->status), "%s", st);
    if (json_array_size(errs) > 0) {
        json_t *code = json_object_get(json_array_get(errs, 0), "code");
        if (json_is_integer(code))
            snprintf(s->error_code, sizeof(s->error_code), "%lld",
                     (long long)json_integer_value(code));
    }
    return 0;
}

int ing_meta_parse(const char *body, size_t len, ing_batch_t *ret, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root, *entries, *entry;
    ing_batch_t b;
    size_t i;
    int r = 0;

    memset(ret, 0, sizeof(*ret));
    memset(&b, 0, sizeof(b));
    root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        /* jerr.text may quote the body: report only where and what kind */
        snprintf(err, errlen, "malformed JSON at line %d column %d", jerr.line, jerr.column);
        return -EINVAL;
    }
    entries = json_object_get(root, "entry");
    if (!json_is_array(entries)) {
        snprintf(err, errlen, "not a WhatsApp webhook: no \"entry\" array");
        json_decref(root);
        return -EINVAL;
    }
    json_array_foreach(entries, i, entry)
    {
        size_t j, k;
        json_t *change, *item;
        json_array_foreach(json_object_get(entry, "changes"), j, change)
        {
            json_t *value = json_object_get(change, "value");
            json_t *contacts = json_object_get(value, "contacts");
            const char *account = s_jstr(json_object_get(value, "metadata"), "phone_number_id");
            json_array_foreach(json_object_get(value, "messages"), k, item)
            {
                if (r == 0 && json_is_object(item))
                    r = s_meta_message(item, contacts, account, &b);
            }
            json_array_foreach(json_object_get(value, "statuses"), k, item)
            {
                if (r == 0 && json_is_object(item))
                    r = s_meta_status(item, &b);
            }
        }
    }
    json_decref(root);
    if (r < 0) {
        ing_batch_free(&b);
        snprintf(err, errlen, "out of memory");
        return r;
    }
    *ret = b;
    return 0;
}

static const char *s_media_kind(const char *type)
{
    static const char *const kinds[] = {"image", "audio", "video"};
    for (size_t i = 0; type && i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strncmp(type, kinds[i], strlen(kinds[i])) == 0)
            return kinds[i];
    return "document";
}

int ing_twilio_parse(const ing_form_t *f, ing_batch_t *ret, char *err, size_t errlen)
{
    const char *sid = ing_form_get(f, "MessageSid");
    const char *status = ing_form_get(f, "MessageStatus");
    const char *sms_status = ing_form_get(f, "SmsStatus");
    ing_batch_t b;
    int r = 0;

    memset(ret, 0, sizeof(*ret));
    memset(&b, 0, sizeof(b));
    if (sid == NULL)
        sid = ing_form_get(f, "SmsMessageSid");
    if (sid == NULL || *sid == '\0' || strlen(sid) >= ING_ID_MAX) {
        snprintf(err, errlen, "no MessageSid");
        return -EINVAL;
    }
    if (status && (sms_status == NULL || strcmp(sms_status, "received") != 0)) {
        ing_status_t *s;
        if (ing_status_rank(status) < 0) {
            b.ignored = 1; /* receiving, scheduled, canceled...: nothing to record */
            *ret = b;
            return 0;
        }
        if ((s = s_add_status(&b)) == NULL)
            return -ENOMEM;
        snprintf(s->id, sizeof(s->id), "%s", sid);
        snprintf(s->status, sizeof(s->status), "%s", status);
        const char *code = ing_form_get(f, "ErrorCode");
        if (code && strlen(code) < sizeof(s->error_code) && strspn(code, "0123456789") ==
                                                               strlen(code))
            snprintf(s->error_code, sizeof(s->error_code), "%s", code);
        *ret = b;
        return 0;
    }
    ing_msg_t *m = s_add_msg(&b);
    if (m == NULL)
        return -ENOMEM;
    snprintf(m->id, sizeof(m->id), "%s", sid);
    const char *to = ing_form_get(f, "To");
    if (to && strncmp(to, "whatsapp:", 9) == 0)
        to += 9;
    if (to && strlen(to) < sizeof(m->account))
        snprintf(m->account, sizeof(m->account), "%s", to);
    if (!s_set_from(m->from, ing_form_get(f, "From")) &&
        !s_set_from(m->from, ing_form_get(f, "WaId"))) {
        ing_batch_free(&b);
        snprintf(err, errlen, "no usable From");
        return -EINVAL;
    }
    const char *payload = ing_form_get(f, "ButtonPayload");
    const char *button = ing_form_get(f, "ButtonText");
    const char *body = ing_form_get(f, "Body");
    const char *nmedia = ing_form_get(f, "NumMedia");
    snprintf(m->kind, sizeof(m->kind), "text");
    if (payload && *payload) {
        r = s_set_text(m, payload);
    } else if (button && *button) {
        r = s_set_text(m, button);
    } else if (nmedia && strcmp(nmedia, "0") != 0 && *nmedia) {
        snprintf(m->kind, sizeof(m->kind), "%s",
                 s_media_kind(ing_form_get(f, "MediaContentType0")));
    } else if (ing_form_get(f, "Latitude")) {
        snprintf(m->kind, sizeof(m->kind), "location");
    } else if (body) {
        r = s_set_text(m, body);
    } else {
        snprintf(m->kind, sizeof(m->kind), "unsupported");
    }
    if (r < 0) {
        ing_batch_free(&b);
        return r;
    }
    *ret = b;
    return 0;
}
