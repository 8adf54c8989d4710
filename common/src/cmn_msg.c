/* cmn_msg: msgpack encoding and checked decoding of ciu messages. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include <msgpack.h>

#include "common/cmn_msg.h"

static const char *const s_types[] = {
    CMN_MSG_INBOUND,          CMN_MSG_CIU_REQUEST,     CMN_MSG_OUTBOUND,
    CMN_MSG_DHIS2_SYNC,       CMN_EV_MESSAGE_RECEIVED, CMN_EV_MESSAGE_PROCESSED,
    CMN_EV_CIU_REQUESTED,     CMN_EV_CIU_ISSUED,       CMN_EV_DUPLICATE,
    CMN_EV_MESSAGE_SENT,      CMN_EV_MESSAGE_FAILED,   CMN_EV_DHIS2_PENDING,
    CMN_EV_DHIS2_SYNCED,      CMN_EV_DHIS2_FAILED,     CMN_EV_DHIS2_DUPLICATE_FLAGGED,
    CMN_EV_MESSAGE_DELIVERED, CMN_EV_MESSAGE_READ,     CMN_EV_CHANNEL_PAUSED,
    CMN_EV_CHANNEL_RESUMED,   CMN_EV_CONV_STARTED,     CMN_EV_CONV_COMPLETED,
    CMN_EV_CONV_ABANDONED,
};

int64_t cmn_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t cmn_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool cmn_msg_type_known(const char *type)
{
    for (size_t i = 0; i < sizeof(s_types) / sizeof(s_types[0]); i++)
        if (strcmp(type, s_types[i]) == 0)
            return true;
    return false;
}

int cmn_msg_init(cmn_msg_t *m, const char *type, const char *trace)
{
    memset(m, 0, sizeof(*m));
    m->v = CMN_MSG_VERSION;
    if (cmn_strlcpy(m->type, type, sizeof(m->type)) < 0)
        return -EINVAL;
    int r = cmn_id_new(m->id);
    if (r < 0)
        return r;
    m->ts = cmn_now_ms();
    if (trace && *trace)
        return cmn_strlcpy(m->trace, trace, sizeof(m->trace)) < 0 ? -EINVAL : 0;
    return cmn_id_new(m->trace);
}

/* msgpack_packer writes through this callback into a bounded cmn_str_t. */
struct s_sink {
    cmn_str_t *out;
    int err;
};

static int s_write(void *data, const char *buf, size_t len)
{
    struct s_sink *sink = data;
    if (sink->err == 0)
        sink->err = cmn_str_append(sink->out, buf, len);
    return sink->err < 0 ? -1 : 0;
}

static void s_pack_key(msgpack_packer *pk, const char *key)
{
    size_t n = strlen(key);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, key, n);
}

static void s_pack_str(msgpack_packer *pk, const char *key, const char *val)
{
    size_t n = strlen(val);
    s_pack_key(pk, key);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, val, n);
}

int cmn_msg_encode(const cmn_msg_t *m, cmn_str_t *out)
{
    msgpack_packer pk;
    size_t fields = 5; /* v type id ts trace */
    const char *opt_str[][2] = {
        {"user", m->user}, {"channel", m->channel}, {"ciu", m->ciu}, {"detail", m->detail}};

    for (size_t i = 0; i < 4; i++)
        fields += opt_str[i][1][0] != '\0';
    fields += m->row != 0;
    fields += m->existing;
    fields += m->duration_ms > 0;

    struct s_sink sink = {out, 0};

    cmn_str_reset(out);
    msgpack_packer_init(&pk, &sink, s_write);
    msgpack_pack_map(&pk, fields);
    s_pack_key(&pk, "v");
    msgpack_pack_int(&pk, m->v);
    s_pack_str(&pk, "type", m->type);
    s_pack_str(&pk, "id", m->id);
    s_pack_key(&pk, "ts");
    msgpack_pack_int64(&pk, m->ts);
    s_pack_str(&pk, "trace", m->trace);
    for (size_t i = 0; i < 4; i++)
        if (opt_str[i][1][0] != '\0')
            s_pack_str(&pk, opt_str[i][0], opt_str[i][1]);
    if (m->row != 0) {
        s_pack_key(&pk, "row");
        msgpack_pack_int64(&pk, m->row);
    }
    if (m->existing) {
        s_pack_key(&pk, "existing");
        msgpack_pack_true(&pk);
    }
    if (m->duration_ms > 0) {
        s_pack_key(&pk, "duration_ms");
        msgpack_pack_int64(&pk, m->duration_ms);
    }
    return sink.err;
}

/* Copy a msgpack string into a fixed field; the value must fit and hold no NUL. */
static int s_get_str(const msgpack_object *o, char *dst, size_t size)
{
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size >= size)
        return -EPROTO;
    if (memchr(o->via.str.ptr, '\0', o->via.str.size))
        return -EPROTO;
    memcpy(dst, o->via.str.ptr, o->via.str.size);
    dst[o->via.str.size] = '\0';
    return 0;
}

static int s_get_int(const msgpack_object *o, int64_t min, int64_t max, int64_t *ret)
{
    int64_t v;
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (o->via.u64 > (uint64_t)INT64_MAX)
            return -EPROTO;
        v = (int64_t)o->via.u64;
    } else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        v = o->via.i64;
    } else {
        return -EPROTO;
    }
    if (v < min || v > max)
        return -EPROTO;
    *ret = v;
    return 0;
}

static bool s_key_is(const msgpack_object *k, const char *name)
{
    size_t n = strlen(name);
    return k->via.str.size == n && memcmp(k->via.str.ptr, name, n) == 0;
}

static int s_decode_map(const msgpack_object *root, cmn_msg_t *m)
{
    unsigned seen = 0;
    int64_t iv = 0; /* read into m->v even when s_get_int fails */
    int r = 0;

    if (root->type != MSGPACK_OBJECT_MAP || root->via.map.size > 32)
        return -EPROTO;
    for (uint32_t i = 0; i < root->via.map.size && r == 0; i++) {
        const msgpack_object *k = &root->via.map.ptr[i].key;
        const msgpack_object *v = &root->via.map.ptr[i].val;
        if (k->type != MSGPACK_OBJECT_STR)
            return -EPROTO;
        if (s_key_is(k, "v")) {
            r = s_get_int(v, 1, 1000, &iv);
            m->v = (int)iv;
            seen |= 1;
        } else if (s_key_is(k, "type")) {
            r = s_get_str(v, m->type, sizeof(m->type));
            seen |= 2;
        } else if (s_key_is(k, "id")) {
            r = s_get_str(v, m->id, sizeof(m->id));
            seen |= 4;
        } else if (s_key_is(k, "ts")) {
            r = s_get_int(v, 0, INT64_MAX, &m->ts);
            seen |= 8;
        } else if (s_key_is(k, "trace")) {
            r = s_get_str(v, m->trace, sizeof(m->trace));
        } else if (s_key_is(k, "user")) {
            r = s_get_str(v, m->user, sizeof(m->user));
        } else if (s_key_is(k, "row")) {
            r = s_get_int(v, 0, INT64_MAX, &m->row);
        } else if (s_key_is(k, "channel")) {
            r = s_get_str(v, m->channel, sizeof(m->channel));
        } else if (s_key_is(k, "ciu")) {
            r = s_get_str(v, m->ciu, sizeof(m->ciu));
        } else if (s_key_is(k, "detail")) {
            r = s_get_str(v, m->detail, sizeof(m->detail));
        } else if (s_key_is(k, "duration_ms")) {
            r = s_get_int(v, 0, INT64_MAX, &m->duration_ms);
        } else if (s_key_is(k, "existing")) {
            if (v->type != MSGPACK_OBJECT_BOOLEAN)
                return -EPROTO;
            m->existing = v->via.boolean;
        }
        /* Unknown keys are ignored: newer senders may add fields. */
    }
    if (r < 0)
        return r;
    if (seen != 15 || m->v > CMN_MSG_VERSION || m->id[0] == '\0')
        return -EPROTO;
    if (!cmn_msg_type_known(m->type))
        return -EPROTO;
    return 0;
}

/* Big-endian unsigned of n bytes at p. */
static uint64_t s_be(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Check the msgpack framing before msgpack-c sees it: exactly one object
 * filling the buffer, and no array or map announcing more elements than
 * bytes left (msgpack-c allocates the announced count up front, so a 5-byte
 * map32 header would ask for 64 GiB). Every pending element needs >= 1 byte. */
static bool s_framing_ok(const unsigned char *p, size_t len)
{
    size_t off = 0;
    uint64_t pending = 1;

    while (pending > 0) {
        if (off >= len)
            return false;
        unsigned c = p[off];
        size_t head = 1;     /* bytes of the header */
        size_t lenbytes = 0; /* bytes of a length field after the tag */
        uint64_t body = 0;   /* payload bytes */
        uint64_t children = 0;

        if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3) {
            /* fixint, nil, bool */
        } else if (c <= 0x8f) {
            children = 2 * (uint64_t)(c & 0x0f);
        } else if (c <= 0x9f) {
            children = c & 0x0f;
        } else if (c <= 0xbf) {
            body = c & 0x1f;
        } else if (c >= 0xc4 && c <= 0xc6) { /* bin 8/16/32 */
            lenbytes = (size_t)1 << (c - 0xc4);
        } else if (c >= 0xc7 && c <= 0xc9) { /* ext 8/16/32: length, then a type byte */
            lenbytes = (size_t)1 << (c - 0xc7);
            body = 1;
        } else if (c == 0xca || c == 0xcb) {
            body = c == 0xca ? 4 : 8;
        } else if (c >= 0xcc && c <= 0xd3) { /* uint/int 8..64 */
            body = (uint64_t)1 << ((c - 0xcc) % 4);
        } else if (c >= 0xd4 && c <= 0xd8) { /* fixext 1..16 + type byte */
            body = ((uint64_t)1 << (c - 0xd4)) + 1;
        } else if (c >= 0xd9 && c <= 0xdb) { /* str 8/16/32 */
            lenbytes = (size_t)1 << (c - 0xd9);
        } else if (c == 0xdc || c == 0xdd) {
            lenbytes = c == 0xdc ? 2 : 4;
        } else if (c == 0xde || c == 0xdf) {
            lenbytes = c == 0xde ? 2 : 4;
        } else {
            return false; /* 0xc1: never used */
        }
        if (lenbytes) {
            if (len - off - head < lenbytes)
                return false;
            uint64_t n = s_be(p + off + head, lenbytes);
            head += lenbytes;
            if (c >= 0xdc && c <= 0xdd)
                children = n;
            else if (c >= 0xde)
                children = 2 * n;
            else
                body += n;
        }
        if (len - off < head || len - off - head < body)
            return false;
        off += head + (size_t)body;
        pending = pending - 1 + children;
        if (pending > len - off)
            return false;
    }
    return off == len;
}

int cmn_msg_decode(const void *data, size_t len, cmn_msg_t *ret)
{
    msgpack_unpacked up;
    size_t off = 0;
    cmn_msg_t m;
    int r;

    if (data == NULL || len == 0 || len > CMN_MSG_MAX_BYTES || !s_framing_ok(data, len))
        return -EPROTO;
    memset(&m, 0, sizeof(m));
    msgpack_unpacked_init(&up);
    if (msgpack_unpack_next(&up, data, len, &off) != MSGPACK_UNPACK_SUCCESS || off != len) {
        r = -EPROTO;
        goto out_unpacked;
    }
    r = s_decode_map(&up.data, &m);
    if (r == 0)
        *ret = m;
out_unpacked:
    msgpack_unpacked_destroy(&up);
    return r;
}
