/* cmn_log: logfmt or JSON lines to stderr. See cmn_log.h and docs/common/log.md. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/cmn_log.h"
#include "common/cmn_str.h"

#define LOG_MSG_MAX 4096   /* a longer message is truncated */
#define LOG_LINE_MAX 32768 /* escaping may grow the message up to 6x */

cmn_log_level_t cmn_log_level_g = CMN_LOG_INFO;

static char s_daemon[64] = "ciu";
static bool s_json;

static const char *const s_level_names[] = {"debug", "info", "warn", "error"};

void cmn_log_init(const char *daemon, cmn_log_level_t level, bool json)
{
    cmn_strlcpy(s_daemon, daemon && *daemon ? daemon : "ciu", sizeof(s_daemon));
    cmn_log_level_g = level;
    s_json = json;
}

int cmn_log_level_parse(const char *s, cmn_log_level_t *ret)
{
    static const struct {
        const char *name;
        cmn_log_level_t level;
    } names[] = {
        {"debug", CMN_LOG_DEBUG}, {"info", CMN_LOG_INFO},   {"warning", CMN_LOG_WARN},
        {"warn", CMN_LOG_WARN},   {"error", CMN_LOG_ERROR},
    };
    if (!s)
        return -EINVAL;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcasecmp(s, names[i].name) == 0) {
            *ret = names[i].level;
            return 0;
        }
    }
    return -EINVAL;
}

static void s_write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

/* logfmt value: bare when it is a plain token, otherwise quoted and escaped. */
static void s_logfmt_value(cmn_str_t *out, const char *v, bool force_quotes)
{
    bool plain = !force_quotes && *v;
    for (const unsigned char *p = (const unsigned char *)v; plain && *p; p++)
        if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p == 0x7f)
            plain = false;
    if (plain) {
        cmn_str_appends(out, v);
        return;
    }
    /* JSON string escaping is a valid logfmt quoting */
    cmn_str_append(out, "\"", 1);
    cmn_str_append_json(out, v);
    cmn_str_append(out, "\"", 1);
}

static void s_json_field(cmn_str_t *out, const char *key, const char *v, bool first)
{
    cmn_str_printf(out, "%s\"%s\":\"", first ? "" : ",", key);
    cmn_str_append_json(out, v);
    cmn_str_append(out, "\"", 1);
}

void cmn_log_write(cmn_log_level_t level, const char *module, const char *trace,
                   const char *fmt, ...)
{
    if (level < cmn_log_level_g)
        return;
    int saved_errno = errno;
    if ((unsigned)level > CMN_LOG_ERROR)
        level = CMN_LOG_ERROR;

    char ts[40];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    size_t n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof(ts) - n, ".%03ldZ", now.tv_nsec / 1000000L);

    char msg[LOG_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    const char *lvl = s_level_names[level];
    if (!module)
        module = "-";
    cmn_str_t out = CMN_STR_INIT(LOG_LINE_MAX);
    if (s_json) {
        cmn_str_append(&out, "{", 1);
        s_json_field(&out, "ts", ts, true);
        s_json_field(&out, "level", lvl, false);
        s_json_field(&out, "daemon", s_daemon, false);
        s_json_field(&out, "module", module, false);
        if (trace)
            s_json_field(&out, "trace", trace, false);
        s_json_field(&out, "msg", msg, false);
        cmn_str_append(&out, "}\n", 2);
    } else {
        cmn_str_printf(&out, "ts=%s level=%s daemon=", ts, lvl);
        s_logfmt_value(&out, s_daemon, false);
        cmn_str_appends(&out, " module=");
        s_logfmt_value(&out, module, false);
        if (trace) {
            cmn_str_appends(&out, " trace=");
            s_logfmt_value(&out, trace, false);
        }
        cmn_str_appends(&out, " msg=");
        s_logfmt_value(&out, msg, true);
        cmn_str_append(&out, "\n", 1);
    }
    if (out.buf)
        s_write_all(STDERR_FILENO, out.buf, out.len);
    cmn_str_free(&out);
    errno = saved_errno;
}

void cmn_log_signal_safe(const char *msg)
{
    size_t n = 0;
    while (msg[n])
        n++;
    s_write_all(STDERR_FILENO, msg, n);
    if (n == 0 || msg[n - 1] != '\n')
        s_write_all(STDERR_FILENO, "\n", 1);
}

const char *cmn_strerror(int negative_errno)
{
    int e = negative_errno < 0 ? -negative_errno : negative_errno;
    const char *d = strerrordesc_np(e);
    return d ? d : "Unknown error";
}

const char *cmn_mask_phone(const char *number, char out[CMN_MASK_LEN])
{
    static const char prefix[] = "whatsapp:";
    const size_t plen = sizeof(prefix) - 1;
    size_t o = 0;

    if (!number)
        goto short_input;
    const char *p = number;
    if (strncmp(p, prefix, plen) == 0) {
        memcpy(out, prefix, plen);
        o = plen;
        p += plen;
    }
    if (*p == '+')
        out[o++] = *p++;
    size_t len = strlen(p);
    if (len < 7) /* 3 kept + at least 1 masked + 3 kept */
        goto short_input;
    memcpy(out + o, p, 3);
    o += 3;
    size_t stars = len - 6;
    size_t room = CMN_MASK_LEN - 1 - o - 3;
    if (stars > room)
        stars = room;
    memset(out + o, '*', stars);
    o += stars;
    memcpy(out + o, p + len - 3, 3);
    o += 3;
    out[o] = '\0';
    return out;

short_input:
    memcpy(out, "***", 4);
    return out;
}
