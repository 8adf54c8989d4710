/* cmn_str: growable string with a hard maximum. See cmn_str.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cmn_str.h"

/* Make room for `extra` more bytes plus the NUL. 0, -E2BIG or -ENOMEM. */
static int s_reserve(cmn_str_t *s, size_t extra)
{
    if (extra > s->max || s->len > s->max - extra)
        return -E2BIG;
    size_t need = s->len + extra + 1;
    if (need <= s->cap)
        return 0;
    size_t cap = s->cap ? s->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > s->max + 1)
        cap = s->max + 1;
    if (cap < need)
        cap = need;
    char *p = realloc(s->buf, cap);
    if (!p)
        return -ENOMEM;
    s->buf = p;
    s->cap = cap;
    return 0;
}

int cmn_str_append(cmn_str_t *s, const char *data, size_t n)
{
    int r = s_reserve(s, n);
    if (r < 0)
        return r;
    if (n)
        memcpy(s->buf + s->len, data, n);
    s->len += n;
    s->buf[s->len] = '\0';
    return 0;
}

int cmn_str_appends(cmn_str_t *s, const char *cstr)
{
    return cmn_str_append(s, cstr, strlen(cstr));
}

int cmn_str_vprintf(cmn_str_t *s, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0)
        return -EINVAL;
    int r = s_reserve(s, (size_t)n);
    if (r < 0)
        return r;
    vsnprintf(s->buf + s->len, (size_t)n + 1, fmt, ap);
    s->len += (size_t)n;
    return 0;
}

int cmn_str_printf(cmn_str_t *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = cmn_str_vprintf(s, fmt, ap);
    va_end(ap);
    return r;
}

/* Length of the well-formed UTF-8 sequence starting at p (lead byte >= 0x80),
 * or 0 when it is not one (overlong, surrogate, truncated, > U+10FFFF). */
static size_t s_utf8_len(const unsigned char *p)
{
    size_t n;
    unsigned lo = 0x80, hi = 0xbf;
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        n = 2;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        n = 3;
        if (p[0] == 0xe0)
            lo = 0xa0;
        else if (p[0] == 0xed)
            hi = 0x9f;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        n = 4;
        if (p[0] == 0xf0)
            lo = 0x90;
        else if (p[0] == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return n;
}

int cmn_str_append_json(cmn_str_t *s, const char *cstr)
{
    static const char hex[] = "0123456789abcdef";
    size_t start = s->len;
    int r = 0;
    for (const unsigned char *p = (const unsigned char *)cstr; *p && r == 0; p++) {
        switch (*p) {
        case '"': r = cmn_str_append(s, "\\\"", 2); break;
        case '\\': r = cmn_str_append(s, "\\\\", 2); break;
        case '\n': r = cmn_str_append(s, "\\n", 2); break;
        case '\r': r = cmn_str_append(s, "\\r", 2); break;
        case '\t': r = cmn_str_append(s, "\\t", 2); break;
        case '\b': r = cmn_str_append(s, "\\b", 2); break;
        case '\f': r = cmn_str_append(s, "\\f", 2); break;
        default:
            if (*p < 0x20 || *p == 0x7f) {
                char esc[6] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15]};
                r = cmn_str_append(s, esc, sizeof(esc));
            } else if (*p < 0x80) {
                r = cmn_str_append(s, (const char *)p, 1);
            } else {
                size_t n = s_utf8_len(p);
                if (n == 0) {
                    r = cmn_str_append(s, "\\ufffd", 6); /* invalid UTF-8 byte */
                } else {
                    r = cmn_str_append(s, (const char *)p, n);
                    p += n - 1;
                }
            }
        }
    }
    if (r < 0 && s->buf) {
        /* leave the string unchanged */
        s->len = start;
        s->buf[start] = '\0';
    }
    return r;
}

void cmn_str_reset(cmn_str_t *s)
{
    s->len = 0;
    if (s->buf)
        s->buf[0] = '\0';
}

void cmn_str_free(cmn_str_t *s)
{
    if (!s)
        return;
    free(s->buf);
    s->buf = NULL;
    s->len = 0;
    s->cap = 0;
}

char *cmn_str_steal(cmn_str_t *s)
{
    char *p = s->buf;
    if (!p) {
        p = malloc(1);
        if (!p)
            return NULL;
        p[0] = '\0';
    }
    s->buf = NULL;
    s->len = 0;
    s->cap = 0;
    return p;
}

const char *cmn_str_cstr(const cmn_str_t *s)
{
    return s->buf ? s->buf : "";
}

int cmn_strlcpy(char *dst, const char *src, size_t size)
{
    if (size == 0)
        return -E2BIG;
    size_t n = strlen(src);
    if (n >= size) {
        memcpy(dst, src, size - 1);
        dst[size - 1] = '\0';
        return -E2BIG;
    }
    memcpy(dst, src, n + 1);
    return 0;
}

int cmn_parse_long(const char *s, long min, long max, long *ret)
{
    if (!s || !*s)
        return -EINVAL;
    /* strtol accepts leading spaces and '+'; we accept an optional sign only */
    const char *p = s;
    if (*p == '-' || *p == '+')
        p++;
    if (*p < '0' || *p > '9')
        return -EINVAL;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*end != '\0')
        return -EINVAL;
    if (errno == ERANGE || v < min || v > max)
        return -ERANGE;
    *ret = v;
    return 0;
}

int cmn_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *cmn_str_vdup(size_t max, const char *fmt, va_list ap)
{
    cmn_str_t m = CMN_STR_INIT(max);
    if (cmn_str_vprintf(&m, fmt, ap) < 0 || (m.buf == NULL && cmn_str_append(&m, "", 0) < 0)) {
        cmn_str_free(&m);
        return NULL;
    }
    return cmn_str_steal(&m);
}
