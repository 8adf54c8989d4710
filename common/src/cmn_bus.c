/* cmn_bus: ZeroMQ PUSH/PULL with sharding, PUB/SUB for events. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "common/cmn_bus.h"
#include "common/cmn_hash.h"
#include "common/cmn_str.h"

#define S_HWM 10000 /* messages queued per socket; past it wake-ups drop (the scans recover) */
#define S_EP_MAX 512

struct cmn_bus {
    void *ctx;
};

struct cmn_push {
    cmn_bus_t *bus;
    void *socks[CMN_BUS_MAX_REPLICAS];
    char eps[CMN_BUS_MAX_REPLICAS][S_EP_MAX];
    size_t n;
};

struct cmn_pull {
    void *sock;
};

struct cmn_pub {
    void *sock;
};

struct cmn_sub {
    void *sock;
    char eps[CMN_BUS_MAX_REPLICAS][S_EP_MAX]; /* connected (cmn_sub_connect) */
    size_t n;
};

cmn_bus_t *cmn_bus_new(void)
{
    cmn_bus_t *b = calloc(1, sizeof(*b));
    if (b == NULL)
        return NULL;
    b->ctx = zmq_ctx_new();
    if (b->ctx == NULL) {
        free(b);
        return NULL;
    }
    /* Sockets are closed with linger 0 by their owners; blocky off so that
     * zmq_ctx_term never waits for unsent wake-ups (the store has them). */
    zmq_ctx_set(b->ctx, ZMQ_BLOCKY, 0);
    return b;
}

void cmn_bus_destroy(cmn_bus_t **p)
{
    if (p == NULL || *p == NULL)
        return;
    zmq_ctx_term((*p)->ctx);
    free(*p);
    *p = NULL;
}

static void *s_socket(cmn_bus_t *bus, int type)
{
    void *s = zmq_socket(bus->ctx, type);
    int zero = 0, hwm = S_HWM;
    /* our messages are small: a peer sending a bigger frame is disconnected
     * before it is buffered (a 256 MB frame cannot grow a daemon) */
    int64_t maxsize = CMN_BUS_FRAME_MAX;
    if (s == NULL)
        return NULL;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxsize, sizeof(maxsize));
    return s;
}

static void s_close(void **s)
{
    if (*s) {
        zmq_close(*s);
        *s = NULL;
    }
}

/* Split a comma-separated list: calls fn for each trimmed, non-empty item. */
static int s_each_endpoint(const char *list, int (*fn)(void *arg, const char *ep), void *arg)
{
    const char *p = list;
    int count = 0;

    if (list == NULL)
        return -EINVAL;
    while (*p) {
        char ep[S_EP_MAX];
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n > 0 && (*p == ' ' || *p == '\t')) {
            p++;
            n--;
        }
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (n >= sizeof(ep))
            return -E2BIG;
        if (n > 0) {
            memcpy(ep, p, n);
            ep[n] = '\0';
            int r = fn(arg, ep);
            if (r < 0)
                return r;
            count++;
        }
        if (end == NULL)
            break;
        p = end + 1;
    }
    return count;
}

size_t cmn_bus_shard(const char *key, size_t n)
{
    /* The same as the scans' `shard % count = index` (cmn_hash.h). */
    return cmn_shard_replica(key, n);
}

struct s_push_ctx {
    cmn_bus_t *bus;
    cmn_push_t *push;
};

static int s_push_add(void *arg, const char *ep)
{
    struct s_push_ctx *c = arg;
    void *s;
    if (c->push->n >= CMN_BUS_MAX_REPLICAS)
        return -E2BIG;
    s = s_socket(c->bus, ZMQ_PUSH);
    if (s == NULL)
        return -errno;
    if (zmq_connect(s, ep) != 0) {
        int r = -errno;
        zmq_close(s);
        return r;
    }
    cmn_strlcpy(c->push->eps[c->push->n], ep, S_EP_MAX);
    c->push->socks[c->push->n++] = s;
    return 0;
}

cmn_push_t *cmn_push_new_empty(cmn_bus_t *bus)
{
    cmn_push_t *p = calloc(1, sizeof(*p));
    if (p != NULL)
        p->bus = bus;
    return p;
}

/* Move the socket of `ep` from old (if it has one) into p. */
static int s_push_keep(void *arg, const char *ep)
{
    struct s_push_ctx *c = arg;
    cmn_push_t *old = c->push + 1; /* see cmn_push_set */
    for (size_t i = 0; i < old->n; i++) {
        if (old->socks[i] != NULL && strcmp(old->eps[i], ep) == 0) {
            if (c->push->n >= CMN_BUS_MAX_REPLICAS)
                return -E2BIG;
            cmn_strlcpy(c->push->eps[c->push->n], ep, S_EP_MAX);
            c->push->socks[c->push->n++] = old->socks[i];
            old->socks[i] = NULL;
            return 0;
        }
    }
    return s_push_add(arg, ep);
}

int cmn_push_set(cmn_push_t *p, const char *endpoints)
{
    /* next[0]: the new list being built; next[1]: the current one */
    cmn_push_t *next = calloc(2, sizeof(*next));
    struct s_push_ctx c = {p->bus, next};
    int r;

    if (next == NULL)
        return -ENOMEM;
    next[1] = *p;
    r = endpoints && *endpoints ? s_each_endpoint(endpoints, s_push_keep, &c) : 0;
    if (r < 0) { /* keep the current list; close what was opened */
        for (size_t i = 0; i < next[0].n; i++) {
            bool borrowed = false;
            for (size_t k = 0; k < p->n; k++)
                borrowed |= p->socks[k] == next[0].socks[i];
            if (!borrowed)
                s_close(&next[0].socks[i]);
        }
        free(next);
        return r;
    }
    for (size_t i = 0; i < next[1].n; i++) /* the replicas gone */
        if (next[1].socks[i] != NULL)
            s_close(&next[1].socks[i]);
    next[0].bus = p->bus;
    *p = next[0];
    free(next);
    return 0;
}

bool cmn_push_same(const cmn_push_t *p, const char *endpoints)
{
    size_t i = 0;
    const char *c = endpoints ? endpoints : "";
    while (*c) {
        size_t n = strcspn(c, ",");
        if (i >= p->n || strlen(p->eps[i]) != n || strncmp(p->eps[i], c, n) != 0)
            return false;
        i++;
        c += n + (c[n] == ',');
    }
    return i == p->n;
}

cmn_push_t *cmn_push_new(cmn_bus_t *bus, const char *endpoints)
{
    cmn_push_t *p = calloc(1, sizeof(*p));
    struct s_push_ctx c = {bus, p};
    int r;

    if (p == NULL)
        return NULL;
    p->bus = bus;
    r = s_each_endpoint(endpoints, s_push_add, &c);
    if (r <= 0) {
        cmn_push_destroy(&p);
        errno = r == 0 ? EINVAL : -r;
        return NULL;
    }
    return p;
}

void cmn_push_destroy(cmn_push_t **p)
{
    if (p == NULL || *p == NULL)
        return;
    for (size_t i = 0; i < (*p)->n; i++)
        s_close(&(*p)->socks[i]);
    free(*p);
    *p = NULL;
}

size_t cmn_push_replicas(const cmn_push_t *p) { return p->n; }

int cmn_push_send(cmn_push_t *p, const cmn_msg_t *m)
{
    cmn_str_t buf = CMN_STR_INIT(CMN_MSG_MAX_BYTES);
    if (p->n == 0)
        return -EAGAIN; /* no replica known yet: the row waits for its scan */
    /* Per-person work is sharded by the person; work about a CIU by the CIU. */
    void *s = p->socks[cmn_bus_shard(m->user[0] ? m->user : m->ciu, p->n)];
    int r = cmn_msg_encode(m, &buf);

    if (r == 0 && zmq_send(s, buf.buf, buf.len, ZMQ_DONTWAIT) < 0)
        r = errno == EAGAIN ? -EAGAIN : -EIO;
    cmn_str_free(&buf);
    return r;
}

cmn_pull_t *cmn_pull_new(cmn_bus_t *bus, const char *endpoint)
{
    cmn_pull_t *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->sock = s_socket(bus, ZMQ_PULL);
    if (p->sock == NULL || zmq_bind(p->sock, endpoint) != 0) {
        int e = errno;
        cmn_pull_destroy(&p);
        errno = e;
        return NULL;
    }
    return p;
}

void cmn_pull_destroy(cmn_pull_t **p)
{
    if (p == NULL || *p == NULL)
        return;
    s_close(&(*p)->sock);
    free(*p);
    *p = NULL;
}

/* Receive one frame (dropping any extra parts) and decode it. */
static int s_recv_msg(void *sock, cmn_msg_t *ret, int flags)
{
    zmq_msg_t frame;
    int more = 0;
    size_t moresz = sizeof(more);
    int r;

    zmq_msg_init(&frame);
    if (zmq_msg_recv(&frame, sock, flags) < 0) {
        r = errno == EAGAIN ? -EAGAIN : errno == EINTR ? -EINTR : -EIO;
        zmq_msg_close(&frame);
        return r;
    }
    r = cmn_msg_decode(zmq_msg_data(&frame), zmq_msg_size(&frame), ret);
    zmq_msg_close(&frame);
    zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &moresz);
    while (more) { /* not ours: discard the rest of the multipart message */
        zmq_msg_init(&frame);
        zmq_msg_recv(&frame, sock, 0);
        zmq_msg_close(&frame);
        zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &moresz);
        r = -EPROTO;
    }
    return r;
}

int cmn_pull_recv(cmn_pull_t *p, cmn_msg_t *ret) { return s_recv_msg(p->sock, ret, ZMQ_DONTWAIT); }

int cmn_pull_wait(cmn_pull_t *p, long timeout_ms)
{
    zmq_pollitem_t it = {p->sock, 0, ZMQ_POLLIN, 0};
    int n = zmq_poll(&it, 1, timeout_ms);
    if (n < 0)
        return errno == EINTR ? -EINTR : -EIO;
    return n > 0;
}

int cmn_pull_wait_fds(cmn_pull_t *p, const int *fds, const short *events, size_t nfds,
                      long timeout_ms)
{
    zmq_pollitem_t items[1 + 256];
    int n;
    if (nfds > 256)
        nfds = 256;
    items[0] = (zmq_pollitem_t){p->sock, 0, ZMQ_POLLIN, 0};
    for (size_t i = 0; i < nfds; i++)
        items[1 + i] = (zmq_pollitem_t){NULL, fds[i],
                                        (short)(((events[i] & 1) ? ZMQ_POLLIN : 0) |
                                                ((events[i] & 2) ? ZMQ_POLLOUT : 0)),
                                        0};
    n = zmq_poll(items, (int)(1 + nfds), timeout_ms);
    if (n < 0)
        return errno == EINTR ? -EINTR : -EIO;
    return (items[0].revents & ZMQ_POLLIN) != 0;
}

cmn_pub_t *cmn_pub_new(cmn_bus_t *bus, const char *endpoint)
{
    cmn_pub_t *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->sock = s_socket(bus, ZMQ_PUB);
    if (p->sock == NULL || zmq_bind(p->sock, endpoint) != 0) {
        int e = errno;
        cmn_pub_destroy(&p);
        errno = e;
        return NULL;
    }
    return p;
}

void cmn_pub_destroy(cmn_pub_t **p)
{
    if (p == NULL || *p == NULL)
        return;
    s_close(&(*p)->sock);
    free(*p);
    *p = NULL;
}

int cmn_pub_send(cmn_pub_t *p, const cmn_msg_t *ev)
{
    cmn_str_t buf = CMN_STR_INIT(CMN_MSG_MAX_BYTES);
    int r = cmn_msg_encode(ev, &buf);

    if (r == 0 && zmq_send(p->sock, ev->type, strlen(ev->type), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        r = -EIO;
    if (r == 0 && zmq_send(p->sock, buf.buf, buf.len, ZMQ_DONTWAIT) < 0)
        r = -EIO;
    cmn_str_free(&buf);
    return r;
}

static int s_sub_add(void *arg, const char *ep)
{
    int r = cmn_sub_connect(arg, ep);
    return r < 0 ? r : 0;
}

cmn_sub_t *cmn_sub_new(cmn_bus_t *bus, const char *endpoints, const char *prefix)
{
    cmn_sub_t *s = calloc(1, sizeof(*s));
    int r;
    if (s == NULL)
        return NULL;
    s->sock = s_socket(bus, ZMQ_SUB);
    if (s->sock == NULL)
        goto fail;
    if (zmq_setsockopt(s->sock, ZMQ_SUBSCRIBE, prefix ? prefix : "", prefix ? strlen(prefix) : 0))
        goto fail;
    r = s_each_endpoint(endpoints, s_sub_add, s);
    if (r <= 0) {
        errno = r == 0 ? EINVAL : -r;
        goto fail;
    }
    return s;
fail:;
    int e = errno;
    cmn_sub_destroy(&s);
    errno = e;
    return NULL;
}

int cmn_sub_connect(cmn_sub_t *s, const char *endpoint)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->eps[i], endpoint) == 0)
            return 0;
    if (s->n >= CMN_BUS_MAX_REPLICAS || strlen(endpoint) >= S_EP_MAX)
        return -E2BIG;
    if (zmq_connect(s->sock, endpoint) != 0)
        return -errno;
    cmn_strlcpy(s->eps[s->n++], endpoint, S_EP_MAX);
    return 1;
}

/* ZMQ_LAST_ENDPOINT of a bound socket (the port chosen for port 0). */
static int s_last_endpoint(void *sock, char *buf, size_t len)
{
    size_t n = len;
    if (len == 0 || zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, buf, &n) != 0)
        return -errno;
    buf[len - 1] = '\0';
    return 0;
}

int cmn_pull_endpoint(const cmn_pull_t *p, char *buf, size_t len)
{
    return s_last_endpoint(p->sock, buf, len);
}

int cmn_pub_endpoint(const cmn_pub_t *p, char *buf, size_t len)
{
    return s_last_endpoint(p->sock, buf, len);
}

void cmn_sub_destroy(cmn_sub_t **p)
{
    if (p == NULL || *p == NULL)
        return;
    s_close(&(*p)->sock);
    free(*p);
    *p = NULL;
}

int cmn_sub_recv(cmn_sub_t *s, cmn_msg_t *ret, long timeout_ms)
{
    zmq_pollitem_t it = {s->sock, 0, ZMQ_POLLIN, 0};
    char topic[64];
    int more = 0;
    size_t moresz = sizeof(more);
    int n = zmq_poll(&it, 1, timeout_ms);

    if (n < 0)
        return errno == EINTR ? -EINTR : -EIO;
    if (n == 0)
        return -EAGAIN;
    if (zmq_recv(s->sock, topic, sizeof(topic), ZMQ_DONTWAIT) < 0)
        return errno == EAGAIN ? -EAGAIN : -EIO;
    zmq_getsockopt(s->sock, ZMQ_RCVMORE, &more, &moresz);
    if (!more)
        return -EPROTO;
    return s_recv_msg(s->sock, ret, 0);
}

struct s_index_ctx {
    const char *bind;
    long pos;
    size_t count;
};

static int s_index_cb(void *arg, const char *ep)
{
    struct s_index_ctx *c = arg;
    if (c->pos < 0 && strcmp(ep, c->bind) == 0)
        c->pos = (long)c->count;
    c->count++;
    return 0;
}

int cmn_bus_replica_index(const char *endpoints, const char *bind, size_t *ret_index,
                          size_t *ret_count)
{
    struct s_index_ctx c = {bind, -1, 0};
    int r = s_each_endpoint(endpoints, s_index_cb, &c);
    if (r < 0)
        return r;
    if (c.pos < 0)
        return -ENOENT;
    *ret_index = (size_t)c.pos;
    *ret_count = c.count;
    return 0;
}
