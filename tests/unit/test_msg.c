/* Unit tests for cmn_msg: round trips of every type, optional fields left
 * out of the map, checked decoding (every malformed input is -EPROTO), the
 * encoder's bound, and a fuzz-ish loop over random and mutated inputs.
 * Hand-built inputs are packed with msgpack-c here (ciu-common exports it). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "common/cmn_msg.h"

static const char *const s_all_types[] = {
    CMN_MSG_INBOUND,          CMN_MSG_CIU_REQUEST,     CMN_MSG_OUTBOUND,
    CMN_MSG_DHIS2_SYNC,       CMN_EV_MESSAGE_RECEIVED, CMN_EV_MESSAGE_PROCESSED,
    CMN_EV_CIU_REQUESTED,     CMN_EV_CIU_ISSUED,       CMN_EV_DUPLICATE,
    CMN_EV_MESSAGE_SENT,      CMN_EV_MESSAGE_FAILED,   CMN_EV_DHIS2_PENDING,
};
#define S_NTYPES (sizeof(s_all_types) / sizeof(s_all_types[0]))

/* A message of `type` with every field set, each to its longest value. */
static void s_full(cmn_msg_t *m, const char *type)
{
    assert_int_equal(cmn_msg_init(m, type, NULL), 0);
    memset(m->user, 'a', sizeof(m->user) - 1);
    m->user[sizeof(m->user) - 1] = '\0';
    m->row = INT64_MAX;
    memset(m->channel, 'c', sizeof(m->channel) - 1);
    m->channel[sizeof(m->channel) - 1] = '\0';
    memset(m->ciu, 'U', sizeof(m->ciu) - 1);
    m->ciu[sizeof(m->ciu) - 1] = '\0';
    memset(m->detail, 'd', sizeof(m->detail) - 1);
    m->detail[sizeof(m->detail) - 1] = '\0';
    m->existing = true;
}

static void s_assert_msg_equal(const cmn_msg_t *a, const cmn_msg_t *b)
{
    assert_int_equal(a->v, b->v);
    assert_string_equal(a->type, b->type);
    assert_string_equal(a->id, b->id);
    assert_true(a->ts == b->ts);
    assert_string_equal(a->trace, b->trace);
    assert_string_equal(a->user, b->user);
    assert_true(a->row == b->row);
    assert_string_equal(a->channel, b->channel);
    assert_string_equal(a->ciu, b->ciu);
    assert_string_equal(a->detail, b->detail);
    assert_int_equal(a->existing, b->existing);
}

/* ---- hand-built maps ---- */

typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} s_pack_t;

static void s_pack_init(s_pack_t *p)
{
    msgpack_sbuffer_init(&p->sb);
    msgpack_packer_init(&p->pk, &p->sb, msgpack_sbuffer_write);
}

static void s_pack_free(s_pack_t *p) { msgpack_sbuffer_destroy(&p->sb); }

static void s_key(s_pack_t *p, const char *k)
{
    msgpack_pack_str(&p->pk, strlen(k));
    msgpack_pack_str_body(&p->pk, k, strlen(k));
}

static void s_strn(s_pack_t *p, const char *v, size_t n)
{
    msgpack_pack_str(&p->pk, n);
    msgpack_pack_str_body(&p->pk, v, n);
}

static void s_kv_str(s_pack_t *p, const char *k, const char *v)
{
    s_key(p, k);
    s_strn(p, v, strlen(v));
}

static void s_kv_int(s_pack_t *p, const char *k, int64_t v)
{
    s_key(p, k);
    msgpack_pack_int64(&p->pk, v);
}

/* Which required field a hand-built message leaves out or spoils. */
enum { S_OK, S_NO_V, S_NO_TYPE, S_NO_ID, S_NO_TS };

/* A valid "inbound" map with 4 required keys (+ trace), minus `omit`, plus
 * `extra` additional keys packed by the caller (the map header counts them). */
static void s_pack_base(s_pack_t *p, int omit, size_t extra)
{
    s_pack_init(p);
    msgpack_pack_map(&p->pk, 5 - (omit != S_OK) + extra);
    if (omit != S_NO_V)
        s_kv_int(p, "v", 1);
    if (omit != S_NO_TYPE)
        s_kv_str(p, "type", CMN_MSG_INBOUND);
    if (omit != S_NO_ID)
        s_kv_str(p, "id", "01JD3XABCDEFGHJKMNPQRSTVWX");
    if (omit != S_NO_TS)
        s_kv_int(p, "ts", 1700000000000);
    s_kv_str(p, "trace", "01JD3XTRACEFGHJKMNPQRSTVWX");
}

static int s_decode_sb(const s_pack_t *p, cmn_msg_t *m)
{
    return cmn_msg_decode(p->sb.data, p->sb.size, m);
}

/* ---- tests ---- */

static void test_round_trip_every_type(void **state)
{
    (void)state;
    for (size_t i = 0; i < S_NTYPES; i++) {
        cmn_msg_t m, d;
        cmn_str_t buf = CMN_STR_INIT(CMN_MSG_MAX_BYTES);

        assert_true(cmn_msg_type_known(s_all_types[i]));
        s_full(&m, s_all_types[i]);
        assert_int_equal(cmn_msg_encode(&m, &buf), 0);
        assert_true(buf.len > 0 && buf.len <= CMN_MSG_MAX_BYTES);
        memset(&d, 0x5a, sizeof(d));
        assert_int_equal(cmn_msg_decode(buf.buf, buf.len, &d), 0);
        s_assert_msg_equal(&m, &d);

        /* The minimal form (optional fields empty) round-trips too. */
        assert_int_equal(cmn_msg_init(&m, s_all_types[i], "trace-1"), 0);
        assert_string_equal(m.trace, "trace-1");
        assert_int_equal(cmn_msg_encode(&m, &buf), 0);
        memset(&d, 0x5a, sizeof(d));
        assert_int_equal(cmn_msg_decode(buf.buf, buf.len, &d), 0);
        s_assert_msg_equal(&m, &d);
        cmn_str_free(&buf);
    }
}

static void test_init(void **state)
{
    (void)state;
    cmn_msg_t a, b;
    int64_t before = cmn_now_ms();
    assert_int_equal(cmn_msg_init(&a, CMN_EV_CIU_ISSUED, NULL), 0);
    assert_int_equal(cmn_msg_init(&b, CMN_EV_CIU_ISSUED, ""), 0);
    assert_int_equal(a.v, CMN_MSG_VERSION);
    assert_string_equal(a.type, CMN_EV_CIU_ISSUED);
    assert_int_equal(strlen(a.id), CMN_ID_LEN - 1);
    assert_int_equal(strlen(a.trace), CMN_ID_LEN - 1); /* a new trace id */
    assert_int_equal(strlen(b.trace), CMN_ID_LEN - 1);
    assert_string_not_equal(a.id, b.id);
    assert_true(a.ts >= before && a.ts <= cmn_now_ms());
    assert_int_equal(a.user[0] + a.channel[0] + a.ciu[0] + a.detail[0], 0);
    assert_true(a.row == 0 && !a.existing);
    /* a type too long for the field */
    char longtype[64];
    memset(longtype, 't', sizeof(longtype) - 1);
    longtype[sizeof(longtype) - 1] = '\0';
    assert_int_equal(cmn_msg_init(&a, longtype, NULL), -EINVAL);
    assert_false(cmn_msg_type_known("nope"));
    assert_false(cmn_msg_type_known(""));
    assert_true(cmn_mono_ms() > 0);
}

/* The keys of an encoded map, in order, joined by ','. */
static void s_keys(const cmn_str_t *buf, char *out, size_t outlen)
{
    msgpack_unpacked up;
    size_t off = 0;
    out[0] = '\0';
    msgpack_unpacked_init(&up);
    assert_int_equal(msgpack_unpack_next(&up, buf->buf, buf->len, &off), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, buf->len);
    assert_int_equal(up.data.type, MSGPACK_OBJECT_MAP);
    for (uint32_t i = 0; i < up.data.via.map.size; i++) {
        const msgpack_object *k = &up.data.via.map.ptr[i].key;
        assert_int_equal(k->type, MSGPACK_OBJECT_STR);
        size_t used = strlen(out);
        assert_true(used + k->via.str.size + 2 < outlen);
        if (used)
            out[used++] = ',';
        memcpy(out + used, k->via.str.ptr, k->via.str.size);
        out[used + k->via.str.size] = '\0';
    }
    msgpack_unpacked_destroy(&up);
}

static void test_optional_fields_omitted(void **state)
{
    (void)state;
    cmn_msg_t m;
    cmn_str_t buf = CMN_STR_INIT(CMN_MSG_MAX_BYTES);
    char keys[256];

    assert_int_equal(cmn_msg_init(&m, CMN_MSG_OUTBOUND, NULL), 0);
    assert_int_equal(cmn_msg_encode(&m, &buf), 0);
    s_keys(&buf, keys, sizeof(keys));
    assert_string_equal(keys, "v,type,id,ts,trace");

    m.row = 42;
    assert_int_equal(cmn_msg_encode(&m, &buf), 0);
    s_keys(&buf, keys, sizeof(keys));
    assert_string_equal(keys, "v,type,id,ts,trace,row");

    m.row = 0;
    cmn_strlcpy(m.user, "abc", sizeof(m.user));
    cmn_strlcpy(m.detail, "why", sizeof(m.detail));
    m.existing = true;
    assert_int_equal(cmn_msg_encode(&m, &buf), 0);
    s_keys(&buf, keys, sizeof(keys));
    assert_string_equal(keys, "v,type,id,ts,trace,user,detail,existing");

    s_full(&m, CMN_EV_DUPLICATE);
    assert_int_equal(cmn_msg_encode(&m, &buf), 0);
    s_keys(&buf, keys, sizeof(keys));
    assert_string_equal(keys, "v,type,id,ts,trace,user,channel,ciu,detail,row,existing");
    cmn_str_free(&buf);
}

static void test_encode_too_small(void **state)
{
    (void)state;
    cmn_msg_t m;
    cmn_str_t buf = CMN_STR_INIT(16);
    s_full(&m, CMN_EV_MESSAGE_FAILED);
    assert_int_equal(cmn_msg_encode(&m, &buf), -E2BIG);
    cmn_str_free(&buf);

    /* Exactly large enough works; one byte less does not. */
    cmn_str_t big = CMN_STR_INIT(CMN_MSG_MAX_BYTES);
    assert_int_equal(cmn_msg_encode(&m, &big), 0);
    cmn_str_t exact = CMN_STR_INIT(big.len);
    cmn_str_t less = CMN_STR_INIT(big.len - 1);
    assert_int_equal(cmn_msg_encode(&m, &exact), 0);
    assert_int_equal(exact.len, big.len);
    assert_int_equal(cmn_msg_encode(&m, &less), -E2BIG);
    cmn_str_free(&big);
    cmn_str_free(&exact);
    cmn_str_free(&less);
}

static void test_hand_built_valid(void **state)
{
    (void)state;
    s_pack_t p;
    cmn_msg_t m;
    s_pack_base(&p, S_OK, 0);
    assert_int_equal(s_decode_sb(&p, &m), 0);
    assert_int_equal(m.v, 1);
    assert_string_equal(m.type, CMN_MSG_INBOUND);
    assert_true(m.ts == 1700000000000);
    s_pack_free(&p);
}

static void test_reject_bytes(void **state)
{
    (void)state;
    cmn_msg_t m, orig;
    memset(&m, 0x11, sizeof(m));
    orig = m;
    static const unsigned char garbage[] = {0xc1, 0xff, 0x00, 0x13, 0x37};
    static const unsigned char truncated_map[] = {0x85, 0xa1, 'v'};

    assert_int_equal(cmn_msg_decode(NULL, 0, &m), -EPROTO);
    assert_int_equal(cmn_msg_decode("", 0, &m), -EPROTO);
    assert_int_equal(cmn_msg_decode(garbage, sizeof(garbage), &m), -EPROTO);
    assert_int_equal(cmn_msg_decode(truncated_map, sizeof(truncated_map), &m), -EPROTO);
    assert_int_equal(cmn_msg_decode("hello world", 11, &m), -EPROTO);
    assert_memory_equal(&m, &orig, sizeof(m)); /* untouched on failure */

    /* trailing bytes after a valid message */
    cmn_msg_t v;
    cmn_str_t buf = CMN_STR_INIT(CMN_MSG_MAX_BYTES);
    assert_int_equal(cmn_msg_init(&v, CMN_MSG_INBOUND, NULL), 0);
    assert_int_equal(cmn_msg_encode(&v, &buf), 0);
    assert_int_equal(cmn_msg_decode(buf.buf, buf.len, &m), 0);
    assert_int_equal(cmn_str_append(&buf, "\xc0", 1), 0);
    assert_int_equal(cmn_msg_decode(buf.buf, buf.len, &m), -EPROTO);
    /* a prefix of a valid message */
    assert_int_equal(cmn_msg_decode(buf.buf, buf.len - 2, &m), -EPROTO);
    cmn_str_free(&buf);
}

static void test_reject_non_map(void **state)
{
    (void)state;
    cmn_msg_t m;
    s_pack_t p;

    s_pack_init(&p);
    msgpack_pack_array(&p.pk, 2);
    msgpack_pack_int(&p.pk, 1);
    s_strn(&p, "inbound", 7);
    assert_int_equal(s_decode_sb(&p, &m), -EPROTO);
    s_pack_free(&p);

    s_pack_init(&p);
    msgpack_pack_int(&p.pk, 7);
    assert_int_equal(s_decode_sb(&p, &m), -EPROTO);
    s_pack_free(&p);

    s_pack_init(&p);
    s_strn(&p, "inbound", 7);
    assert_int_equal(s_decode_sb(&p, &m), -EPROTO);
    s_pack_free(&p);

    s_pack_init(&p);
    msgpack_pack_nil(&p.pk);
    assert_int_equal(s_decode_sb(&p, &m), -EPROTO);
    s_pack_free(&p);

    s_pack_init(&p); /* an empty map: every required key missing */
    msgpack_pack_map(&p.pk, 0);
    assert_int_equal(s_decode_sb(&p, &m), -EPROTO);
    s_pack_free(&p);

    s_pack_init(&p); /* a non-string key */
    msgpack_pack_map(&p.pk, 1);
    msgpack_pack_int(&p.pk, 1);
    msgpack_pack_int(&p.pk, 1);
    assert_int_equal(s_decode_sb(&p, &m), -EPROTO);
    s_pack_free(&p);
}

static void test_reject_missing_required(void **state)
{
    (void)state;
    const int omit[] = {S_NO_V, S_NO_TYPE, S_NO_ID, S_NO_TS};
    for (size_t i = 0; i < sizeof(omit) / sizeof(omit[0]); i++) {
        s_pack_t p;
        cmn_msg_t m;
        s_pack_base(&p, omit[i], 0);
        assert_int_equal(s_decode_sb(&p, &m), -EPROTO);
        s_pack_free(&p);
    }
    /* trace is optional on the wire */
    s_pack_t p;
    cmn_msg_t m;
    s_pack_init(&p);
    msgpack_pack_map(&p.pk, 4);
    s_kv_int(&p, "v", 1);
    s_kv_str(&p, "type", CMN_EV_MESSAGE_SENT);
    s_kv_str(&p, "id", "x");
    s_kv_int(&p, "ts", 0);
    assert_int_equal(s_decode_sb(&p, &m), 0);
    assert_string_equal(m.trace, "");
    s_pack_free(&p);
    /* an empty id is rejected */
    s_pack_init(&p);
    msgpack_pack_map(&p.pk, 4);
    s_kv_int(&p, "v", 1);
    s_kv_str(&p, "type", CMN_EV_MESSAGE_SENT);
    s_kv_str(&p, "id", "");
    s_kv_int(&p, "ts", 0);
    assert_int_equal(s_decode_sb(&p, &m), -EPROTO);
    s_pack_free(&p);
}

static void test_reject_wrong_types(void **state)
{
    (void)state;
    cmn_msg_t m;
    s_pack_t p;

    /* ts as a string */
    s_pack_base(&p, S_NO_TS, 1);
    s_kv_str(&p, "ts", "1700000000000");
    assert_int_equal(s_decode_sb(&p, &m), -EPROTO);
    s_pack_free(&p);
    /* ts negative */
    s_pack_base(&p, S_NO_TS, 1);
    s_kv_int(&p, "ts", -5);
    assert_int_equal(s_decode_sb(&p, &m), -EPROTO);
    s_pack_free(&p);
    /* ts as a float */
    s_pack_base(&p, S_NO_TS, 1);
    s_key(&p, "ts");
    msgpack_pack_double(&p.pk, 1.5);
    assert_int_equal(s_decode_sb(&p, &m), -EPROTO);
    s_pack_free(&p);
    /* ts above INT64_MAX */
    s_pack_base(&p, S_NO_TS, 1);
    s_key(&p, "ts");
    msgpack_pack_uint64(&p.pk, UINT64_MAX);
    assert_int_equal(s_decode_sb(&p, &m), -EPROTO);
    s_pack_free(&p);
    /* v as a string, v = 0 */
    s_pack_base(&p, S_NO_V, 1);
    s_kv_str(&p, "v", "1");
    assert_int_equal(s_decode_sb(&p, &m), -EPROTO);
    s_pack_free(&p);
    s_pack_base(&p, S_NO_V, 1);
    s_kv_int(&p, "v", 0);
    assert_int_equal(s_decode_sb(&p, &m), -EPROTO);
    s_pack_free(&p);
    /* type as an integer; id as binary */
    s_pack_base(&p, S_NO_TYPE, 1);
    s_kv_int(&p, "type", 3);
    assert_int_equal(s_decode_sb(&p, &m), -EPROTO);
    s_pack_free(&p);
    s_pack_base(&p, S_NO_ID, 1);
    s_key(&p, "id");
    msgpack_pack_bin(&p.pk, 3);
    msgpack_pack_bin_body(&p.pk, "abc", 3);
    assert_int_equal(s_decode_sb(&p, &m), -EPROTO);
    s_pack_free(&p);
    /* optional fields with the wrong type */
    s_pack_base(&p, S_OK, 1);
    s_kv_str(&p, "row", "12");
    assert_int_equal(s_decode_sb(&p, &m), -EPROTO);
    s_pack_free(&p);
    s_pack_base(&p, S_OK, 1);
    s_kv_int(&p, "row", -1);
    assert_int_equal(s_decode_sb(&p, &m), -EPROTO);
    s_pack_free(&p);
    s_pack_base(&p, S_OK, 1);
    s_kv_int(&p, "existing", 1);
    assert_int_equal(s_decode_sb(&p, &m), -EPROTO);
    s_pack_free(&p);
    s_pack_base(&p, S_OK, 1);
    s_key(&p, "user");
    msgpack_pack_nil(&p.pk);
    assert_int_equal(s_decode_sb(&p, &m), -EPROTO);
    s_pack_free(&p);
    s_pack_base(&p, S_OK, 1);
    s_key(&p, "trace");
    msgpack_pack_array(&p.pk, 0);
    assert_int_equal(s_decode_sb(&p, &m), -EPROTO);
    s_pack_free(&p);
}

/* A valid map (v, ts, type, id) where `key` is set to the n bytes of val
 * (replacing type or id when key is one of them). */
static void s_pack_field(s_pack_t *p, const char *key, const char *val, size_t n)
{
    bool replaces = strcmp(key, "type") == 0 || strcmp(key, "id") == 0;
    s_pack_init(p);
    msgpack_pack_map(&p->pk, replaces ? 4 : 5);
    s_kv_int(p, "v", 1);
    s_kv_int(p, "ts", 1);
    if (strcmp(key, "type") != 0)
        s_kv_str(p, "type", CMN_MSG_INBOUND);
    if (strcmp(key, "id") != 0)
        s_kv_str(p, "id", "the-id");
    s_key(p, key);
    s_strn(p, val, n);
}

static void test_reject_too_long_and_nul(void **state)
{
    (void)state;
    static const struct {
        const char *key;
        size_t size; /* the field's size: size - 1 characters fit */
    } fields[] = {
        {"type", sizeof(((cmn_msg_t *)0)->type)},
        {"id", CMN_ID_LEN},
        {"trace", CMN_ID_LEN},
        {"user", CMN_HEX256_LEN},
        {"channel", sizeof(((cmn_msg_t *)0)->channel)},
        {"ciu", sizeof(((cmn_msg_t *)0)->ciu)},
        {"detail", sizeof(((cmn_msg_t *)0)->detail)},
    };
    char val[128];
    memset(val, 'x', sizeof(val));
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        const char *key = fields[i].key;
        bool is_type = strcmp(key, "type") == 0;
        cmn_msg_t m;
        s_pack_t p;

        assert_true(fields[i].size < sizeof(val));
        /* The longest value that fits is accepted (type must also be known). */
        if (!is_type) {
            s_pack_field(&p, key, val, fields[i].size - 1);
            assert_int_equal(s_decode_sb(&p, &m), 0);
            s_pack_free(&p);
        }
        /* One more character is too long. */
        s_pack_field(&p, key, val, fields[i].size);
        assert_int_equal(s_decode_sb(&p, &m), -EPROTO);
        s_pack_free(&p);
        /* An embedded NUL is rejected (for type: a known name, then NUL). */
        if (is_type)
            s_pack_field(&p, key, "inbound\0x", 9);
        else
            s_pack_field(&p, key, "ab\0cd", 5);
        assert_int_equal(s_decode_sb(&p, &m), -EPROTO);
        s_pack_free(&p);
        /* A value that is only a NUL. */
        s_pack_field(&p, key, "\0", 1);
        assert_int_equal(s_decode_sb(&p, &m), -EPROTO);
        s_pack_free(&p);
    }
}

static void test_reject_unknown_type_and_version(void **state)
{
    (void)state;
    cmn_msg_t m;
    s_pack_t p;

    s_pack_base(&p, S_NO_TYPE, 1);
    s_kv_str(&p, "type", "inbound.v2");
    assert_int_equal(s_decode_sb(&p, &m), -EPROTO);
    s_pack_free(&p);

    s_pack_base(&p, S_NO_TYPE, 1);
    s_kv_str(&p, "type", "");
    assert_int_equal(s_decode_sb(&p, &m), -EPROTO);
    s_pack_free(&p);

    s_pack_base(&p, S_NO_V, 1);
    s_kv_int(&p, "v", 2);
    assert_int_equal(s_decode_sb(&p, &m), -EPROTO);
    s_pack_free(&p);

    s_pack_base(&p, S_NO_V, 1);
    s_kv_int(&p, "v", 1000000);
    assert_int_equal(s_decode_sb(&p, &m), -EPROTO);
    s_pack_free(&p);

    /* an encoder-made message with v = 2 */
    cmn_str_t buf = CMN_STR_INIT(CMN_MSG_MAX_BYTES);
    assert_int_equal(cmn_msg_init(&m, CMN_MSG_OUTBOUND, NULL), 0);
    m.v = 2;
    assert_int_equal(cmn_msg_encode(&m, &buf), 0);
    assert_int_equal(cmn_msg_decode(buf.buf, buf.len, &m), -EPROTO);
    cmn_str_free(&buf);
}

static void test_reject_oversized(void **state)
{
    (void)state;
    cmn_msg_t m;
    s_pack_t p;
    size_t padlen = CMN_MSG_MAX_BYTES; /* an ignored extra key, but the total is too big */
    char *pad = malloc(padlen);
    assert_non_null(pad);
    memset(pad, 'p', padlen);

    s_pack_base(&p, S_OK, 1);
    s_key(&p, "pad");
    s_strn(&p, pad, padlen);
    assert_true(p.sb.size > CMN_MSG_MAX_BYTES);
    assert_int_equal(s_decode_sb(&p, &m), -EPROTO);
    s_pack_free(&p);

    /* Just under the limit, the same shape decodes. */
    s_pack_base(&p, S_OK, 1);
    size_t base = p.sb.size + 3 /* "pad" key */ + 1 + 3 /* str16 header */;
    s_key(&p, "pad");
    s_strn(&p, pad, CMN_MSG_MAX_BYTES - base);
    assert_int_equal(p.sb.size, CMN_MSG_MAX_BYTES);
    assert_int_equal(s_decode_sb(&p, &m), 0);
    s_pack_free(&p);
    free(pad);

    /* The length alone is checked before parsing. */
    char big[CMN_MSG_MAX_BYTES + 1];
    memset(big, 0, sizeof(big));
    assert_int_equal(cmn_msg_decode(big, sizeof(big), &m), -EPROTO);
}

static void test_unknown_keys_ignored(void **state)
{
    (void)state;
    cmn_msg_t m;
    s_pack_t p;

    s_pack_base(&p, S_OK, 4);
    s_kv_str(&p, "future_field", "hello");
    s_kv_int(&p, "another", -7);
    s_key(&p, "nested");
    msgpack_pack_map(&p.pk, 1);
    s_kv_str(&p, "a", "b");
    s_kv_str(&p, "ciu", "CIU-1");
    assert_int_equal(s_decode_sb(&p, &m), 0);
    assert_string_equal(m.ciu, "CIU-1");
    assert_string_equal(m.type, CMN_MSG_INBOUND);
    s_pack_free(&p);

    /* more than 32 keys is refused even if they would be ignored */
    s_pack_base(&p, S_OK, 28);
    for (int i = 0; i < 28; i++) {
        char k[16];
        snprintf(k, sizeof(k), "k%d", i);
        s_kv_int(&p, k, i);
    }
    assert_int_equal(s_decode_sb(&p, &m), -EPROTO);
    s_pack_free(&p);
}

/* Every msgpack kind is accepted as the value of an ignored key (the
 * framing check in the decoder must know them all). */
static void test_unknown_keys_every_kind(void **state)
{
    (void)state;
    cmn_msg_t m;
    s_pack_t p;
    char blob[300];
    memset(blob, 'b', sizeof(blob));

    s_pack_base(&p, S_OK, 24);
    s_key(&p, "nil"), msgpack_pack_nil(&p.pk);
    s_key(&p, "t"), msgpack_pack_true(&p.pk);
    s_key(&p, "f"), msgpack_pack_false(&p.pk);
    s_key(&p, "u8"), msgpack_pack_uint8(&p.pk, 200);
    s_key(&p, "u16"), msgpack_pack_uint16(&p.pk, 60000);
    s_key(&p, "u32"), msgpack_pack_uint32(&p.pk, 4000000000u);
    s_key(&p, "u64"), msgpack_pack_uint64(&p.pk, UINT64_MAX);
    s_key(&p, "i8"), msgpack_pack_int8(&p.pk, -100);
    s_key(&p, "i16"), msgpack_pack_int16(&p.pk, -30000);
    s_key(&p, "i32"), msgpack_pack_int32(&p.pk, INT32_MIN);
    s_key(&p, "i64"), msgpack_pack_int64(&p.pk, INT64_MIN);
    s_key(&p, "fl"), msgpack_pack_float(&p.pk, 1.5f);
    s_key(&p, "db"), msgpack_pack_double(&p.pk, 2.5);
    s_key(&p, "s8"), s_strn(&p, blob, 200);
    s_key(&p, "s16"), s_strn(&p, blob, 300);
    s_key(&p, "bin"), msgpack_pack_bin(&p.pk, 300), msgpack_pack_bin_body(&p.pk, blob, 300);
    s_key(&p, "ext1"), msgpack_pack_ext(&p.pk, 1, 5), msgpack_pack_ext_body(&p.pk, blob, 1);
    s_key(&p, "ext16"), msgpack_pack_ext(&p.pk, 16, 5), msgpack_pack_ext_body(&p.pk, blob, 16);
    s_key(&p, "ext8"), msgpack_pack_ext(&p.pk, 3, 5), msgpack_pack_ext_body(&p.pk, blob, 3);
    s_key(&p, "ext16b"), msgpack_pack_ext(&p.pk, 300, 5),
        msgpack_pack_ext_body(&p.pk, blob, 300);
    s_key(&p, "arr"), msgpack_pack_array(&p.pk, 20);
    for (int i = 0; i < 20; i++)
        msgpack_pack_int(&p.pk, i);
    s_key(&p, "emptyarr"), msgpack_pack_array(&p.pk, 0);
    s_key(&p, "emptymap"), msgpack_pack_map(&p.pk, 0);
    s_key(&p, "deep"), msgpack_pack_array(&p.pk, 1), msgpack_pack_map(&p.pk, 1),
        s_kv_str(&p, "x", "y");
    assert_int_equal(s_decode_sb(&p, &m), 0);
    s_pack_free(&p);
}

/* Regression: a container header announcing billions of elements in a few
 * bytes made msgpack-c allocate them up front (64 GiB for a 5-byte map32,
 * an ASan out-of-memory abort); now rejected before unpacking. */
static void test_regression_huge_container_header(void **state)
{
    (void)state;
    cmn_msg_t m;
    static const unsigned char map32[] = {0xdf, 0xff, 0xff, 0xff, 0xff};
    static const unsigned char array32[] = {0xdd, 0x10, 0x00, 0x00, 0x00, 0x01};
    static const unsigned char map16[] = {0xde, 0xff, 0xff, 0x00};
    static const unsigned char str32[] = {0xdb, 0xff, 0xff, 0xff, 0xff, 'a'};
    static const unsigned char bin32[] = {0xc6, 0x7f, 0xff, 0xff, 0xff, 'a'};
    static const unsigned char ext32[] = {0xc9, 0x7f, 0xff, 0xff, 0xff, 1, 'a'};
    static const unsigned char cut[] = {0xcf, 0x00, 0x01}; /* uint64 cut short */
    assert_int_equal(cmn_msg_decode(map32, sizeof(map32), &m), -EPROTO);
    assert_int_equal(cmn_msg_decode(array32, sizeof(array32), &m), -EPROTO);
    assert_int_equal(cmn_msg_decode(map16, sizeof(map16), &m), -EPROTO);
    assert_int_equal(cmn_msg_decode(str32, sizeof(str32), &m), -EPROTO);
    assert_int_equal(cmn_msg_decode(bin32, sizeof(bin32), &m), -EPROTO);
    assert_int_equal(cmn_msg_decode(ext32, sizeof(ext32), &m), -EPROTO);
    assert_int_equal(cmn_msg_decode(cut, sizeof(cut), &m), -EPROTO);

    /* The same inside a valid message, under an ignored key. */
    s_pack_t p;
    s_pack_base(&p, S_OK, 1);
    s_key(&p, "junk");
    msgpack_pack_array(&p.pk, 0xffffffffu);
    assert_int_equal(s_decode_sb(&p, &m), -EPROTO);
    s_pack_free(&p);
    s_pack_base(&p, S_OK, 1);
    s_key(&p, "junk");
    msgpack_pack_map(&p.pk, 0x7fffffffu);
    assert_int_equal(s_decode_sb(&p, &m), -EPROTO);
    s_pack_free(&p);
}

/* xorshift64*: deterministic, so a failure is reproducible. */
static uint64_t s_rng = 0x9e3779b97f4a7c15ULL;
static uint64_t s_rand(void)
{
    s_rng ^= s_rng >> 12;
    s_rng ^= s_rng << 25;
    s_rng ^= s_rng >> 27;
    return s_rng * 2685821657736338717ULL;
}

static void s_check_decode(const unsigned char *data, size_t len)
{
    cmn_msg_t m;
    int r = cmn_msg_decode(data, len, &m);
    assert_true(r == 0 || r == -EPROTO);
    if (r == 0) { /* whatever decoded is well-formed and known */
        assert_true(cmn_msg_type_known(m.type));
        assert_true(strlen(m.id) > 0 && strlen(m.id) < sizeof(m.id));
        assert_true(strlen(m.trace) < sizeof(m.trace));
        assert_true(strlen(m.user) < sizeof(m.user));
        assert_true(strlen(m.channel) < sizeof(m.channel));
        assert_true(strlen(m.ciu) < sizeof(m.ciu));
        assert_true(strlen(m.detail) < sizeof(m.detail));
        assert_int_equal(m.v, 1);
        assert_true(m.ts >= 0 && m.row >= 0);
    }
}

static void test_fuzz(void **state)
{
    (void)state;
    unsigned char buf[CMN_MSG_MAX_BYTES + 16];
    cmn_msg_t m;
    cmn_str_t valid = CMN_STR_INIT(CMN_MSG_MAX_BYTES);
    int decoded = 0;

    /* Random byte strings: each an exact-size heap copy so ASan sees overreads. */
    for (int i = 0; i < 10000; i++) {
        size_t len = (size_t)(s_rand() % 64);
        if (i % 100 == 0)
            len = (size_t)(s_rand() % sizeof(buf));
        unsigned char *data = malloc(len ? len : 1);
        assert_non_null(data);
        for (size_t j = 0; j < len; j++)
            data[j] = (unsigned char)s_rand();
        if (len && i % 3 == 0) /* often start like a map to get past the first byte */
            data[0] = (unsigned char)(0x80 | (s_rand() % 16));
        s_check_decode(data, len);
        free(data);
    }

    /* Mutations of a valid message: flips, byte sets, truncations, insertions. */
    s_full(&m, CMN_EV_DUPLICATE);
    assert_int_equal(cmn_msg_encode(&m, &valid), 0);
    for (int i = 0; i < 10000; i++) {
        size_t len = valid.len;
        memcpy(buf, valid.buf, len);
        int edits = 1 + (int)(s_rand() % 4);
        for (int e = 0; e < edits; e++) {
            size_t pos = (size_t)(s_rand() % len);
            switch (s_rand() % 4) {
            case 0:
                buf[pos] ^= (unsigned char)(1u << (s_rand() % 8));
                break;
            case 1:
                buf[pos] = (unsigned char)s_rand();
                break;
            case 2:
                len = pos + 1; /* truncate */
                break;
            default:
                if (len < sizeof(buf)) { /* insert a byte */
                    memmove(buf + pos + 1, buf + pos, len - pos);
                    buf[pos] = (unsigned char)s_rand();
                    len++;
                }
                break;
            }
        }
        unsigned char *data = malloc(len);
        assert_non_null(data);
        memcpy(data, buf, len);
        int r = cmn_msg_decode(data, len, &m);
        assert_true(r == 0 || r == -EPROTO);
        decoded += r == 0;
        s_check_decode(data, len);
        free(data);
    }
    /* Some mutations (e.g. inside a string value) still decode. */
    assert_true(decoded > 0);
    cmn_str_free(&valid);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_type),
        cmocka_unit_test(test_init),
        cmocka_unit_test(test_optional_fields_omitted),
        cmocka_unit_test(test_encode_too_small),
        cmocka_unit_test(test_hand_built_valid),
        cmocka_unit_test(test_reject_bytes),
        cmocka_unit_test(test_reject_non_map),
        cmocka_unit_test(test_reject_missing_required),
        cmocka_unit_test(test_reject_wrong_types),
        cmocka_unit_test(test_reject_too_long_and_nul),
        cmocka_unit_test(test_reject_unknown_type_and_version),
        cmocka_unit_test(test_reject_oversized),
        cmocka_unit_test(test_unknown_keys_ignored),
        cmocka_unit_test(test_unknown_keys_every_kind),
        cmocka_unit_test(test_regression_huge_container_header),
        cmocka_unit_test(test_fuzz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
