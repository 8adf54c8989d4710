/* sim_client: helpers for the simulator API. See sim_client.h. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "common/cmn_str.h"
#include "sim_client.h"

bool sim_number_valid(const char *number)
{
    if (!number || number[0] != '+')
        return false;
    size_t n = 0;
    for (const char *p = number + 1; *p; p++, n++)
        if (!isdigit((unsigned char)*p))
            return false;
    return n >= 8 && n <= 15;
}

void sim_default_url(char *dst, size_t size)
{
    long port = 8000;
    const char *env = getenv("CIU_HTTP_PORT");
    long v;
    if (env && cmn_parse_long(env, 1, 65535, &v) == 0)
        port = v;
    snprintf(dst, size, "http://127.0.0.1:%ld", port);
}

int sim_base_url(char *dst, size_t size, const char *url)
{
    if (!url || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
        return -EINVAL;
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/')
        n--;
    if (n <= 8)
        return -EINVAL;
    if (n >= size)
        return -E2BIG;
    memcpy(dst, url, n);
    dst[n] = '\0';
    return 0;
}

bool sim_url_is_loopback(const char *base)
{
    bool ok = false;
    char *host = NULL;
    CURLU *u = curl_url();
    if (!u)
        return false;
    if (curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
        ok = strcmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0 ||
             strncmp(host, "127.", 4) == 0;
    curl_free(host);
    curl_url_cleanup(u);
    return ok;
}

int sim_poll_url(char *dst, size_t size, const char *base, const char *number,
                 const char *cursor, int wait)
{
    char *num = curl_easy_escape(NULL, number, 0);
    char *cur = cursor && *cursor ? curl_easy_escape(NULL, cursor, 0) : NULL;
    int r = 0;
    if (!num || (cursor && *cursor && !cur)) {
        r = -ENOMEM;
        goto out_free;
    }
    int n = snprintf(dst, size, "%s/sim/messages?to=%s&wait=%d%s%s", base, num, wait,
                     cur ? "&after=" : "", cur ? cur : "");
    if (n < 0 || (size_t)n >= size)
        r = -E2BIG;
out_free:
    curl_free(cur);
    curl_free(num);
    return r;
}

char *sim_post_body(const char *number, const char *text)
{
    json_t *o = json_pack("{s:s, s:s}", "from", number, "text", text);
    if (!o)
        return NULL;
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

size_t sim_write_cb(char *data, size_t size, size_t nmemb, void *userdata)
{
    cmn_str_t *s = userdata;
    size_t n = size * nmemb;
    if (cmn_str_append(s, data, n) < 0)
        return 0;
    return n;
}

int sim_poll_decode(const char *body, size_t len, sim_msg_fn fn, void *arg,
                    char cursor[SIM_CURSOR_MAX])
{
    json_error_t err;
    json_t *root = json_loadb(body, len, 0, &err);
    json_t *msgs = NULL;
    const char *cur = NULL;
    int r;
    if (!root || json_unpack_ex(root, &err, 0, "{s:o, s?s}", "messages", &msgs,
                                "cursor", &cur) != 0 || !json_is_array(msgs)) {
        r = -EBADMSG;
        goto out_root;
    }
    if (cur && strlen(cur) >= SIM_CURSOR_MAX) {
        r = -E2BIG;
        goto out_root;
    }
    size_t i;
    json_t *m;
    int count = 0;
    json_array_foreach(msgs, i, m) {
        sim_msg_t msg = {"", "", NULL};
        if (json_unpack_ex(m, &err, 0, "{s?s, s?s}", "id", &msg.id, "text", &msg.text) != 0) {
            r = -EBADMSG;
            goto out_root;
        }
        json_t *media = json_object_get(m, "media_url");
        if (json_is_string(media))
            msg.media_url = json_string_value(media);
        count++;
        if (fn && fn(&msg, arg) != 0)
            break;
    }
    if (cur && *cur)
        cmn_strlcpy(cursor, cur, SIM_CURSOR_MAX);
    r = count;
out_root:
    json_decref(root);
    return r;
}

void sim_error_text(const char *body, size_t len, char *dst, size_t size)
{
    const char *e = NULL;
    json_t *root = json_loadb(body, len, 0, NULL);
    dst[0] = '\0';
    if (root && json_unpack(root, "{s:s}", "error", &e) == 0)
        cmn_strlcpy(dst, e, size);
    json_decref(root);
}

int sim_media_url(char *dst, size_t size, const char *base, const char *media_url)
{
    int n;
    if (strncmp(media_url, "http://", 7) == 0 || strncmp(media_url, "https://", 8) == 0)
        n = snprintf(dst, size, "%s", media_url);
    else
        n = snprintf(dst, size, "%s%s%s", base, media_url[0] == '/' ? "" : "/", media_url);
    return n < 0 || (size_t)n >= size ? -E2BIG : 0;
}

static bool s_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

bool sim_find_ciu(const char *text, char *ret_ciu)
{
    size_t len = strlen(text);
    for (size_t i = 0; i + 10 <= len; i++) {
        const char *p = text + i;
        if (i > 0 && isalnum((unsigned char)p[-1]))
            continue;
        if (i + 10 < len && isalnum((unsigned char)p[10]))
            continue;
        bool ok = true;
        for (int k = 0; k < 6 && ok; k++)
            ok = s_upper(p[k]);
        ok = ok && isdigit((unsigned char)p[6]) && s_upper(p[7]) && s_upper(p[8]) &&
             p[9] >= '1' && p[9] <= '4';
        if (ok) {
            if (ret_ciu) {
                memcpy(ret_ciu, p, 10);
                ret_ciu[10] = '\0';
            }
            return true;
        }
    }
    return false;
}
