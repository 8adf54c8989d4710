/* cmn_admin: GET /health and GET /metrics on a small libmicrohttpd listener.
 * See cmn_admin.h. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "common/cmn_admin.h"

#define HEALTH_MAX (64 * 1024)         /* a health document larger than this is a bug */
#define METRICS_MAX (8 * 1024 * 1024)  /* exposition text ceiling */

struct cmn_admin {
    struct MHD_Daemon *mhd;
    int port;
    cmn_metrics_t *metrics; /* borrowed */
    cmn_health_fn health;
    void *arg;
};

static enum MHD_Result s_reply(struct MHD_Connection *c, unsigned status, const char *type,
                               char *body, size_t len, bool allow_get)
{
    /* body is malloc'd; MHD frees it with the response */
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (allow_get)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result r = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return r;
}

static enum MHD_Result s_reply_str(struct MHD_Connection *c, unsigned status, const char *type,
                                   cmn_str_t *s)
{
    size_t len = s->len;
    char *body = cmn_str_steal(s);
    if (!body)
        return MHD_NO;
    return s_reply(c, status, type, body, len, false);
}

static enum MHD_Result s_reply_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
    cmn_str_t s = CMN_STR_INIT(256);
    if (cmn_str_printf(&s, "{\"error\":\"%s\"}", msg) < 0) {
        cmn_str_free(&s);
        return MHD_NO;
    }
    size_t len = s.len;
    char *body = cmn_str_steal(&s);
    if (!body)
        return MHD_NO;
    return s_reply(c, status, "application/json", body, len,
                   status == MHD_HTTP_METHOD_NOT_ALLOWED);
}

static enum MHD_Result s_handler(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version,
                                 const char *upload_data, size_t *upload_data_size,
                                 void **con_cls)
{
    cmn_admin_t *a = cls;
    bool known = strcmp(url, "/health") == 0 || strcmp(url, "/metrics") == 0;
    if (!known)
        return s_reply_error(c, MHD_HTTP_NOT_FOUND, "not found");
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return s_reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");

    if (strcmp(url, "/health") == 0) {
        cmn_str_t s = CMN_STR_INIT(HEALTH_MAX);
        int status = 200;
        if (a->health)
            status = a->health(a->arg, &s);
        else
            cmn_str_appends(&s, "{\"status\":\"ok\"}");
        if (status != 200 && status != 503)
            status = 503;
        if (s.len == 0)
            cmn_str_appends(&s, status == 200 ? "{\"status\":\"ok\"}" : "{\"status\":\"down\"}");
        return s_reply_str(c, (unsigned)status, "application/json", &s);
    }

    cmn_str_t s = CMN_STR_INIT(METRICS_MAX);
    int r = cmn_str_append(&s, "", 0);
    if (r == 0 && a->metrics)
        r = cmn_metrics_render(a->metrics, &s);
    if (r < 0) {
        cmn_str_free(&s);
        return s_reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot render metrics");
    }
    return s_reply_str(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", &s);
}

cmn_admin_t *cmn_admin_new(const char *addr, int port, cmn_metrics_t *metrics,
                           cmn_health_fn health, void *arg)
{
    if (port < 0 || port > 65535) {
        errno = EINVAL;
        return NULL;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE};
    struct addrinfo *ai = NULL;
    char portstr[8];
    snprintf(portstr, sizeof(portstr), "%d", port);
    if (getaddrinfo(addr && *addr ? addr : "127.0.0.1", portstr, &hints, &ai) != 0 || !ai) {
        errno = EADDRNOTAVAIL;
        return NULL;
    }
    cmn_admin_t *a = calloc(1, sizeof(*a));
    if (!a) {
        freeaddrinfo(ai);
        errno = ENOMEM;
        return NULL;
    }
    a->metrics = metrics;
    a->health = health;
    a->arg = arg;

    /* epoll: idle or half-sent connections cannot starve the checks that
     * Docker, systemd or Prometheus make (no MHD_USE_ERROR_LOG: no stderr) */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    errno = 0;
    a->mhd = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, s_handler, a,
                              MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)5,
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned)1024,
                              MHD_OPTION_END);
    int err = errno ? errno : EADDRINUSE;
    freeaddrinfo(ai);
    if (!a->mhd)
        goto fail;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(a->mhd, MHD_DAEMON_INFO_BIND_PORT);
    if (!info || info->port == 0) {
        err = EIO;
        goto fail;
    }
    a->port = info->port;
    return a;
fail:
    cmn_admin_destroy(&a);
    errno = err;
    return NULL;
}

int cmn_admin_port(const cmn_admin_t *a)
{
    return a ? a->port : -1;
}

void cmn_admin_destroy(cmn_admin_t **p)
{
    if (!p || !*p)
        return;
    if ((*p)->mhd)
        MHD_stop_daemon((*p)->mhd);
    free(*p);
    *p = NULL;
}

int cmn_portfile_append(const char *path, const char *key, const char *value)
{
    if (!path || !key || !*key || !value || strpbrk(key, "=\n") || strchr(value, '\n'))
        return -EINVAL;
    cmn_str_t line = CMN_STR_INIT(4096);
    int r = cmn_str_printf(&line, "%s=%s\n", key, value);
    if (r < 0) {
        cmn_str_free(&line);
        return r;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        r = -errno;
        goto out_line;
    }
    /* one write(2) with O_APPEND: lines from several daemons do not interleave */
    ssize_t w;
    do {
        w = write(fd, line.buf, line.len);
    } while (w < 0 && errno == EINTR);
    if (w < 0)
        r = -errno;
    else if ((size_t)w != line.len)
        r = -EIO;
    if (close(fd) < 0 && r == 0)
        r = -errno;
out_line:
    cmn_str_free(&line);
    return r;
}
