/* Unit tests for cmn_bus: real libzmq sockets on ipc:// endpoints in a
 * mkdtemp folder. Every wait is a bounded poll for a condition (never a
 * bare sleep); raw zmq sockets stand in for a misbehaving peer. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "common/cmn_bus.h"
#include "common/cmn_members.h"
#include "common/cmn_msg.h"
#include "test_util.h"

#define S_DEADLINE_MS 5000 /* upper bound of every wait: only reached on failure */

typedef struct {
    char dir[64];
    cmn_bus_t *bus;
} s_fix_t;

static int s_setup(void **state)
{
    s_fix_t *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/ciu-bus-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    f->bus = cmn_bus_new();
    if (f->bus == NULL)
        return -1;
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    s_fix_t *f = *state;
    cmn_bus_destroy(&f->bus);
    assert_null(f->bus);
    cmn_bus_destroy(&f->bus); /* NULL-safe */
    tu_rmdir_flat(f->dir); /* ipc socket files left behind, if any */
    free(f);
    return 0;
}

static void s_ep(const s_fix_t *f, const char *name, char *out, size_t outlen)
{
    snprintf(out, outlen, "ipc://%s/%s", f->dir, name);
}

/* Receive one message within S_DEADLINE_MS: 0, or the last error. */
static int s_recv(cmn_pull_t *p, cmn_msg_t *m)
{
    int64_t deadline = cmn_mono_ms() + S_DEADLINE_MS;
    int r;
    for (;;) {
        r = cmn_pull_recv(p, m);
        if (r != -EAGAIN || cmn_mono_ms() > deadline)
            return r;
        cmn_pull_wait(p, 50);
    }
}

static void s_msg(cmn_msg_t *m, const char *type, const char *user, int64_t row)
{
    assert_int_equal(cmn_msg_init(m, type, NULL), 0);
    cmn_strlcpy(m->user, user, sizeof(m->user));
    m->row = row;
}

static void test_push_pull(void **state)
{
    s_fix_t *f = *state;
    char ep[128];
    cmn_msg_t m, got;
    s_ep(f, "a", ep, sizeof(ep));

    cmn_pull_t *pull = cmn_pull_new(f->bus, ep);
    assert_non_null(pull);
    cmn_push_t *push = cmn_push_new(f->bus, ep);
    assert_non_null(push);
    assert_int_equal(cmn_push_replicas(push), 1);

    s_msg(&m, CMN_MSG_INBOUND, "u1", 7);
    cmn_strlcpy(m.channel, "sim", sizeof(m.channel));
    assert_int_equal(cmn_push_send(push, &m), 0);
    assert_int_equal(s_recv(pull, &got), 0);
    assert_string_equal(got.id, m.id);
    assert_string_equal(got.type, CMN_MSG_INBOUND);
    assert_string_equal(got.user, "u1");
    assert_string_equal(got.channel, "sim");
    assert_true(got.row == 7);
    assert_int_equal(cmn_pull_recv(pull, &got), -EAGAIN);

    cmn_push_destroy(&push);
    assert_null(push);
    cmn_push_destroy(&push);
    cmn_pull_destroy(&pull);
    assert_null(pull);
    cmn_pull_destroy(&pull);
}

static void test_bad_endpoints(void **state)
{
    s_fix_t *f = *state;
    errno = 0;
    assert_null(cmn_pull_new(f->bus, "tcp://not-an-endpoint"));
    assert_true(errno != 0);
    errno = 0;
    assert_null(cmn_pull_new(f->bus, "nonsense"));
    assert_true(errno != 0);
    errno = 0;
    assert_null(cmn_pub_new(f->bus, "nonsense"));
    assert_true(errno != 0);
}

static void test_shard_function(void **state)
{
    (void)state;
    assert_int_equal(cmn_bus_shard("anything", 1), 0);
    assert_int_equal(cmn_bus_shard("anything", 0), 0);
    assert_int_equal(cmn_bus_shard(NULL, 5), 0);
    for (int i = 0; i < 100; i++) {
        char key[16];
        snprintf(key, sizeof(key), "k%d", i);
        size_t s = cmn_bus_shard(key, 7);
        assert_true(s < 7);
        assert_int_equal(cmn_bus_shard(key, 7), s); /* stable */
    }
    /* Pinned: every daemon (and every version running side by side) must
     * agree, with the pushes and with the scans (`shard % n`). The shard
     * bucket is 64-bit FNV-1a (offset basis 14695981039346656037) modulo
     * 1024: "a" hashes to 0xaf63dc4c8601ec8c, "" to the basis
     * 0xcbf29ce484222325. */
    assert_int_equal(cmn_bus_shard("a", 1000), 0xaf63dc4c8601ec8cULL % 1024 % 1000);
    assert_int_equal(cmn_bus_shard("", 1000), 0xcbf29ce484222325ULL % 1024 % 1000);
    assert_int_equal(cmn_bus_shard("a", 7), 0xaf63dc4c8601ec8cULL % 1024 % 7);
}

static void test_sharded_push(void **state)
{
    s_fix_t *f = *state;
    enum { REPLICAS = 3, USERS = 30, MSGS = 300 };
    char eps[REPLICAS][128];
    cmn_str_t list = CMN_STR_INIT(512);
    cmn_pull_t *pulls[REPLICAS];
    int per_replica[REPLICAS] = {0};
    int64_t last_row[USERS];
    int count_user[USERS] = {0};

    for (int i = 0; i < REPLICAS; i++) {
        char name[8];
        snprintf(name, sizeof(name), "r%d", i);
        s_ep(f, name, eps[i], sizeof(eps[i]));
        pulls[i] = cmn_pull_new(f->bus, eps[i]);
        assert_non_null(pulls[i]);
        assert_int_equal(cmn_str_printf(&list, "%s%s", i ? "," : "", eps[i]), 0);
    }
    cmn_push_t *push = cmn_push_new(f->bus, cmn_str_cstr(&list));
    cmn_str_free(&list);
    assert_non_null(push);
    assert_int_equal(cmn_push_replicas(push), REPLICAS);

    for (int i = 0; i < MSGS; i++) {
        cmn_msg_t m;
        char user[16];
        snprintf(user, sizeof(user), "user-%02d", i % USERS);
        s_msg(&m, CMN_MSG_INBOUND, user, i + 1);
        assert_int_equal(cmn_push_send(push, &m), 0);
    }
    for (int u = 0; u < USERS; u++)
        last_row[u] = 0;

    int got = 0;
    int64_t deadline = cmn_mono_ms() + S_DEADLINE_MS;
    while (got < MSGS && cmn_mono_ms() < deadline) {
        bool any = false;
        for (int r = 0; r < REPLICAS; r++) {
            cmn_msg_t m;
            while (cmn_pull_recv(pulls[r], &m) == 0) {
                int u;
                any = true;
                assert_int_equal(sscanf(m.user, "user-%d", &u), 1);
                assert_true(u >= 0 && u < USERS);
                /* the same user always lands on its shard ... */
                assert_int_equal(cmn_bus_shard(m.user, REPLICAS), r);
                /* ... and in the order sent */
                assert_true(m.row > last_row[u]);
                assert_true((m.row - 1) % USERS == u);
                last_row[u] = m.row;
                count_user[u]++;
                per_replica[r]++;
                got++;
            }
        }
        if (!any)
            cmn_pull_wait(pulls[got % REPLICAS], 20);
    }
    assert_int_equal(got, MSGS);
    for (int u = 0; u < USERS; u++)
        assert_int_equal(count_user[u], MSGS / USERS);
    for (int r = 0; r < REPLICAS; r++)
        assert_true(per_replica[r] > 0); /* the distribution uses every replica */

    /* No user's messages on two replicas, nothing left over. */
    for (int r = 0; r < REPLICAS; r++) {
        cmn_msg_t m;
        assert_int_equal(cmn_pull_recv(pulls[r], &m), -EAGAIN);
    }

    /* Work without a user is sharded by the CIU. */
    const char *cius[] = {"CIU-0001", "CIU-0002", "CIU-0003", "CIU-0004", "CIU-0005", "CIU-0006"};
    bool seen[REPLICAS] = {false};
    for (size_t i = 0; i < sizeof(cius) / sizeof(cius[0]); i++) {
        cmn_msg_t m, in;
        s_msg(&m, CMN_MSG_DHIS2_SYNC, "", (int64_t)i + 1);
        cmn_strlcpy(m.ciu, cius[i], sizeof(m.ciu));
        size_t r = cmn_bus_shard(cius[i], REPLICAS);
        seen[r] = true;
        assert_int_equal(cmn_push_send(push, &m), 0);
        assert_int_equal(s_recv(pulls[r], &in), 0);
        assert_string_equal(in.id, m.id);
        assert_string_equal(in.ciu, cius[i]);
        for (size_t o = 0; o < REPLICAS; o++)
            if (o != r)
                assert_int_equal(cmn_pull_recv(pulls[o], &in), -EAGAIN);
    }
    assert_true(seen[0] + seen[1] + seen[2] >= 2);

    cmn_push_destroy(&push);
    for (int i = 0; i < REPLICAS; i++)
        cmn_pull_destroy(&pulls[i]);
}

/* A plain zmq PUSH, connected to ep, in its own context. */
typedef struct {
    void *ctx;
    void *sock;
} s_raw_t;

static void s_raw_open(s_raw_t *raw, const char *ep)
{
    int zero = 0;
    raw->ctx = zmq_ctx_new();
    assert_non_null(raw->ctx);
    raw->sock = zmq_socket(raw->ctx, ZMQ_PUSH);
    assert_non_null(raw->sock);
    zmq_setsockopt(raw->sock, ZMQ_LINGER, &zero, sizeof(zero));
    assert_int_equal(zmq_connect(raw->sock, ep), 0);
}

static void s_raw_close(s_raw_t *raw)
{
    zmq_close(raw->sock);
    zmq_ctx_term(raw->ctx);
}

static void test_pull_errors(void **state)
{
    s_fix_t *f = *state;
    char ep[128];
    cmn_msg_t m, got;
    cmn_str_t buf = CMN_STR_INIT(CMN_MSG_MAX_BYTES);
    s_raw_t raw;

    s_ep(f, "raw", ep, sizeof(ep));
    cmn_pull_t *pull = cmn_pull_new(f->bus, ep);
    assert_non_null(pull);

    /* empty: -EAGAIN at once; waiting times out */
    assert_int_equal(cmn_pull_recv(pull, &got), -EAGAIN);
    int64_t t0 = cmn_mono_ms();
    assert_int_equal(cmn_pull_wait(pull, 30), 0);
    assert_true(cmn_mono_ms() - t0 >= 25);
    assert_int_equal(cmn_pull_wait(pull, 0), 0);

    s_raw_open(&raw, ep);
    /* a garbage frame */
    assert_int_equal(zmq_send(raw.sock, "\xc1garbage", 8, 0), 8);
    assert_int_equal(s_recv(pull, &got), -EPROTO);
    /* an empty frame */
    assert_int_equal(zmq_send(raw.sock, "", 0, 0), 0);
    assert_int_equal(s_recv(pull, &got), -EPROTO);
    /* a valid message followed by an extra frame: dropped whole */
    s_msg(&m, CMN_MSG_OUTBOUND, "u", 1);
    assert_int_equal(cmn_msg_encode(&m, &buf), 0);
    assert_int_equal(zmq_send(raw.sock, buf.buf, buf.len, ZMQ_SNDMORE), (int)buf.len);
    assert_int_equal(zmq_send(raw.sock, "extra", 5, ZMQ_SNDMORE), 5);
    assert_int_equal(zmq_send(raw.sock, "more", 4, 0), 4);
    assert_int_equal(s_recv(pull, &got), -EPROTO);
    /* garbage first frame, valid second frame */
    assert_int_equal(zmq_send(raw.sock, "x", 1, ZMQ_SNDMORE), 1);
    assert_int_equal(zmq_send(raw.sock, buf.buf, buf.len, 0), (int)buf.len);
    assert_int_equal(s_recv(pull, &got), -EPROTO);
    /* the stream is still in step: the next single frame decodes */
    assert_int_equal(zmq_send(raw.sock, buf.buf, buf.len, 0), (int)buf.len);
    assert_int_equal(cmn_pull_wait(pull, S_DEADLINE_MS), 1);
    assert_int_equal(s_recv(pull, &got), 0);
    assert_string_equal(got.id, m.id);
    assert_int_equal(cmn_pull_recv(pull, &got), -EAGAIN);

    s_raw_close(&raw);
    cmn_str_free(&buf);
    cmn_pull_destroy(&pull);
}

static void test_pub_sub(void **state)
{
    s_fix_t *f = *state;
    char ep[128];
    cmn_msg_t m, got;
    s_ep(f, "pub", ep, sizeof(ep));

    cmn_pub_t *pub = cmn_pub_new(f->bus, ep);
    assert_non_null(pub);
    cmn_sub_t *sub = cmn_sub_new(f->bus, ep, "ciu.");
    assert_non_null(sub);
    cmn_sub_t *all = cmn_sub_new(f->bus, ep, "");
    assert_non_null(all);

    /* Subscriptions travel asynchronously: publish probes until both see one. */
    bool sub_ready = false, all_ready = false;
    int64_t deadline = cmn_mono_ms() + S_DEADLINE_MS;
    while ((!sub_ready || !all_ready) && cmn_mono_ms() < deadline) {
        s_msg(&m, CMN_EV_CIU_ISSUED, "", 0);
        cmn_strlcpy(m.detail, "probe", sizeof(m.detail));
        assert_int_equal(cmn_pub_send(pub, &m), 0);
        if (!sub_ready)
            sub_ready = cmn_sub_recv(sub, &got, 20) == 0;
        if (!all_ready)
            all_ready = cmn_sub_recv(all, &got, 20) == 0;
    }
    assert_true(sub_ready && all_ready);

    s_msg(&m, CMN_EV_MESSAGE_SENT, "u1", 3);
    assert_int_equal(cmn_pub_send(pub, &m), 0);
    cmn_msg_t last;
    s_msg(&last, CMN_EV_CIU_ISSUED, "u1", 4);
    cmn_strlcpy(last.ciu, "CIU-1", sizeof(last.ciu));
    cmn_strlcpy(last.detail, "after", sizeof(last.detail));
    assert_int_equal(cmn_pub_send(pub, &last), 0);

    /* "ciu." gets ciu.issued but never message.sent (published before it). */
    for (;;) {
        assert_int_equal(cmn_sub_recv(sub, &got, S_DEADLINE_MS), 0);
        assert_string_equal(got.type, CMN_EV_CIU_ISSUED);
        if (strcmp(got.detail, "after") == 0)
            break;
    }
    assert_string_equal(got.id, last.id);
    assert_string_equal(got.ciu, "CIU-1");
    assert_int_equal(cmn_sub_recv(sub, &got, 20), -EAGAIN);

    /* "" gets both, in order. */
    bool sent_seen = false;
    for (;;) {
        assert_int_equal(cmn_sub_recv(all, &got, S_DEADLINE_MS), 0);
        if (strcmp(got.type, CMN_EV_MESSAGE_SENT) == 0) {
            assert_string_equal(got.id, m.id);
            sent_seen = true;
        }
        if (strcmp(got.detail, "after") == 0)
            break;
    }
    assert_true(sent_seen);
    assert_int_equal(cmn_sub_recv(all, &got, 0), -EAGAIN);

    cmn_sub_destroy(&sub);
    assert_null(sub);
    cmn_sub_destroy(&sub);
    cmn_sub_destroy(&all);
    cmn_pub_destroy(&pub);
    assert_null(pub);
    cmn_pub_destroy(&pub);
}

static void test_sub_malformed(void **state)
{
    s_fix_t *f = *state;
    char ep[128];
    cmn_msg_t got;
    s_ep(f, "rawpub", ep, sizeof(ep));

    void *ctx = zmq_ctx_new();
    void *pub = zmq_socket(ctx, ZMQ_PUB);
    int zero = 0;
    zmq_setsockopt(pub, ZMQ_LINGER, &zero, sizeof(zero));
    assert_int_equal(zmq_bind(pub, ep), 0);
    cmn_sub_t *sub = cmn_sub_new(f->bus, ep, "ciu.");
    assert_non_null(sub);

    /* Wait for the subscription with single-frame topics (no body): -EPROTO. */
    int r = -EAGAIN;
    int64_t deadline = cmn_mono_ms() + S_DEADLINE_MS;
    while (r == -EAGAIN && cmn_mono_ms() < deadline) {
        zmq_send(pub, "ciu.x", 5, 0);
        r = cmn_sub_recv(sub, &got, 20);
    }
    assert_int_equal(r, -EPROTO);
    /* topic + garbage body, then a valid event: everything before the valid
     * one (the garbage and leftover probes) is -EPROTO. */
    cmn_msg_t ok;
    cmn_str_t buf = CMN_STR_INIT(CMN_MSG_MAX_BYTES);
    assert_int_equal(cmn_msg_init(&ok, CMN_EV_CIU_ISSUED, NULL), 0);
    assert_int_equal(cmn_msg_encode(&ok, &buf), 0);
    assert_int_equal(zmq_send(pub, "ciu.issued", 10, ZMQ_SNDMORE), 10);
    assert_int_equal(zmq_send(pub, "\xc1", 1, 0), 1);
    assert_int_equal(zmq_send(pub, "ciu.issued", 10, ZMQ_SNDMORE), 10);
    assert_int_equal(zmq_send(pub, buf.buf, buf.len, 0), (int)buf.len);
    int dropped = 0;
    while ((r = cmn_sub_recv(sub, &got, S_DEADLINE_MS)) == -EPROTO)
        dropped++;
    assert_int_equal(r, 0);
    assert_string_equal(got.id, ok.id);
    assert_true(dropped >= 1);
    assert_int_equal(cmn_sub_recv(sub, &got, 0), -EAGAIN);
    cmn_str_free(&buf);

    cmn_sub_destroy(&sub);
    zmq_close(pub);
    zmq_ctx_term(ctx);
}

static void test_replica_index(void **state)
{
    (void)state;
    size_t idx = 99, n = 99;
    assert_int_equal(cmn_bus_replica_index("a,b,c", "a", &idx, &n), 0);
    assert_int_equal(idx, 0);
    assert_int_equal(n, 3);
    assert_int_equal(cmn_bus_replica_index("a,b,c", "c", &idx, &n), 0);
    assert_int_equal(idx, 2);
    assert_int_equal(cmn_bus_replica_index(" ipc://x ,  ipc://y\t, ipc://z ", "ipc://y", &idx, &n),
                     0);
    assert_int_equal(idx, 1);
    assert_int_equal(n, 3);
    assert_int_equal(cmn_bus_replica_index("a,,b,", "b", &idx, &n), 0); /* empty items skipped */
    assert_int_equal(idx, 1);
    assert_int_equal(n, 2);
    assert_int_equal(cmn_bus_replica_index("solo", "solo", &idx, &n), 0);
    assert_int_equal(idx, 0);
    assert_int_equal(n, 1);

    idx = 77;
    n = 77;
    assert_int_equal(cmn_bus_replica_index("a,b,c", "d", &idx, &n), -ENOENT);
    assert_int_equal(cmn_bus_replica_index("a,b,c", "b ", &idx, &n), -ENOENT);
    assert_int_equal(cmn_bus_replica_index("", "a", &idx, &n), -ENOENT);
    assert_int_equal(cmn_bus_replica_index(NULL, "a", &idx, &n), -EINVAL);
    assert_int_equal(idx, 77); /* written only on success */
    assert_int_equal(n, 77);
}

static void test_push_new_errors(void **state)
{
    s_fix_t *f = *state;
    errno = 0;
    assert_null(cmn_push_new(f->bus, ""));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(cmn_push_new(f->bus, " , ,"));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(cmn_push_new(f->bus, NULL));
    assert_int_equal(errno, EINVAL);
    assert_null(cmn_push_new(f->bus, "nonsense://x"));
    assert_true(errno != 0);

    /* more than CMN_BUS_MAX_REPLICAS */
    cmn_str_t list = CMN_STR_INIT(4096);
    for (int i = 0; i <= CMN_BUS_MAX_REPLICAS; i++)
        assert_int_equal(cmn_str_printf(&list, "%stcp://127.0.0.1:%d", i ? "," : "", 1 + i), 0);
    errno = 0;
    assert_null(cmn_push_new(f->bus, cmn_str_cstr(&list)));
    assert_int_equal(errno, E2BIG);
    cmn_str_free(&list);
    assert_null(cmn_sub_new(f->bus, "", "ciu."));
}

static void test_push_to_absent_pull_does_not_block(void **state)
{
    s_fix_t *f = *state;
    char ep[128];
    cmn_msg_t m;
    s_ep(f, "nobody", ep, sizeof(ep));
    cmn_push_t *push = cmn_push_new(f->bus, ep);
    assert_non_null(push);

    /* A liveness bound, not a performance check: a blocking send would hang. */
    int64_t t0 = cmn_mono_ms();
    for (int i = 0; i < 100; i++) {
        s_msg(&m, CMN_MSG_OUTBOUND, "u", i + 1);
        int r = cmn_push_send(push, &m);
        assert_true(r == 0 || r == -EAGAIN);
    }
    assert_true(cmn_mono_ms() - t0 < 1000);
    cmn_push_destroy(&push);
}

/* A replica list that changes (store discovery): kept endpoints stay
 * connected, new ones join, gone ones close; an empty push drops. */
static void test_push_set(void **state)
{
    s_fix_t *f = *state;
    char a[128], b[128], both[300];
    cmn_msg_t m, got;
    s_ep(f, "set-a", a, sizeof(a));
    s_ep(f, "set-b", b, sizeof(b));
    snprintf(both, sizeof(both), "%s,%s", a, b);
    cmn_pull_t *pa = cmn_pull_new(f->bus, a), *pb = cmn_pull_new(f->bus, b);
    cmn_push_t *p = cmn_push_new_empty(f->bus);
    assert_non_null(pa);
    assert_non_null(pb);
    assert_non_null(p);
    assert_int_equal(cmn_push_replicas(p), 0);
    assert_true(cmn_push_same(p, ""));
    assert_int_equal(cmn_msg_init(&m, CMN_MSG_INBOUND, NULL), 0);
    cmn_strlcpy(m.user, "someone", sizeof(m.user));
    assert_int_equal(cmn_push_send(p, &m), -EAGAIN); /* nobody yet: dropped, not blocked */

    assert_int_equal(cmn_push_set(p, a), 0);
    assert_true(cmn_push_same(p, a));
    assert_false(cmn_push_same(p, both));
    assert_int_equal(cmn_push_send(p, &m), 0);
    assert_int_equal(cmn_pull_wait(pa, S_DEADLINE_MS), 1);
    assert_int_equal(cmn_pull_recv(pa, &got), 0);

    /* two replicas: each message goes to the owner of its person */
    assert_int_equal(cmn_push_set(p, both), 0);
    assert_int_equal(cmn_push_replicas(p), 2);
    assert_true(cmn_push_same(p, both));
    cmn_pull_t *owner = cmn_bus_shard(m.user, 2) == 0 ? pa : pb;
    assert_int_equal(cmn_push_send(p, &m), 0);
    assert_int_equal(cmn_pull_wait(owner, S_DEADLINE_MS), 1);
    assert_int_equal(cmn_pull_recv(owner, &got), 0);
    assert_string_equal(got.id, m.id);

    /* back to one (b), then none */
    assert_int_equal(cmn_push_set(p, b), 0);
    assert_true(cmn_push_same(p, b));
    assert_int_equal(cmn_push_send(p, &m), 0);
    assert_int_equal(cmn_pull_wait(pb, S_DEADLINE_MS), 1);
    assert_int_equal(cmn_push_set(p, ""), 0);
    assert_int_equal(cmn_push_replicas(p), 0);
    assert_int_equal(cmn_push_set(p, "nonsense://x"), -EPROTONOSUPPORT);
    assert_int_equal(cmn_push_replicas(p), 0); /* unchanged on error */
    cmn_push_destroy(&p);
    cmn_pull_destroy(&pa);
    cmn_pull_destroy(&pb);
}

/* What a replica tells the others: wildcard binds become reachable addresses. */
static void test_advertise(void **state)
{
    (void)state;
    char out[128];
    assert_int_equal(cmn_members_advertise("tcp://0.0.0.0:5601", "10.0.0.7", out, sizeof(out)), 0);
    assert_string_equal(out, "tcp://10.0.0.7:5601");
    assert_int_equal(cmn_members_advertise("tcp://*:5601", "conv-1", out, sizeof(out)), 0);
    assert_string_equal(out, "tcp://conv-1:5601");
    assert_int_equal(cmn_members_advertise("tcp://127.0.0.1:40001", "", out, sizeof(out)), 0);
    assert_string_equal(out, "tcp://127.0.0.1:40001");
    assert_int_equal(cmn_members_advertise("ipc:///tmp/x", NULL, out, sizeof(out)), 0);
    assert_string_equal(out, "ipc:///tmp/x");
    assert_int_equal(cmn_members_advertise("tcp://0.0.0.0:5601", "", out, sizeof(out)), 0);
    assert_true(strncmp(out, "tcp://", 6) == 0 && strstr(out, "0.0.0.0") == NULL);
    assert_int_equal(cmn_members_advertise("tcp://*:5601", "h", out, 8), -E2BIG);
}

/* The bound endpoint with the port chosen for a wildcard port. */
static void test_bound_endpoint(void **state)
{
    s_fix_t *f = *state;
    char ep[128];
    cmn_pull_t *pull = cmn_pull_new(f->bus, "tcp://127.0.0.1:*");
    cmn_pub_t *pub = cmn_pub_new(f->bus, "tcp://127.0.0.1:*");
    assert_non_null(pull);
    assert_non_null(pub);
    assert_int_equal(cmn_pull_endpoint(pull, ep, sizeof(ep)), 0);
    assert_true(strncmp(ep, "tcp://127.0.0.1:", 16) == 0 && strtol(ep + 16, NULL, 10) > 0);
    assert_int_equal(cmn_pub_endpoint(pub, ep, sizeof(ep)), 0);
    assert_true(strncmp(ep, "tcp://127.0.0.1:", 16) == 0 && strtol(ep + 16, NULL, 10) > 0);
    cmn_pub_destroy(&pub);
    cmn_pull_destroy(&pull);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_push_pull, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_bad_endpoints, s_setup, s_teardown),
        cmocka_unit_test(test_shard_function),
        cmocka_unit_test_setup_teardown(test_sharded_push, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_pull_errors, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_pub_sub, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_sub_malformed, s_setup, s_teardown),
        cmocka_unit_test(test_replica_index),
        cmocka_unit_test_setup_teardown(test_push_set, s_setup, s_teardown),
        cmocka_unit_test(test_advertise),
        cmocka_unit_test_setup_teardown(test_bound_endpoint, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_push_new_errors, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_push_to_absent_pull_does_not_block, s_setup,
                                        s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
