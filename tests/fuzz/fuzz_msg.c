/* fuzz_msg: the msgpack envelope every ciu daemon decodes from ZeroMQ.
 *
 * Input: one frame, as a PULL or SUB socket would receive it. cmn_msg_decode
 * reads it from an exact-size buffer; a message it accepts must encode
 * again (cmn_msg_encode) and decode to the same fields.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "common/cmn_msg.h"
#include "common/cmn_str.h"
#include "fuzz_util.h"

#define TERMINATED(field) fz_terminated((field), sizeof(field))

static void s_check_fields(const cmn_msg_t *m)
{
    FZ_CHECK(m->v >= 1 && m->v <= CMN_MSG_VERSION);
    FZ_CHECK(TERMINATED(m->type) && cmn_msg_type_known(m->type));
    FZ_CHECK(TERMINATED(m->id) && m->id[0] != '\0');
    FZ_CHECK(TERMINATED(m->trace) && TERMINATED(m->user) && TERMINATED(m->channel));
    FZ_CHECK(TERMINATED(m->ciu) && TERMINATED(m->detail));
    FZ_CHECK(m->ts >= 0 && m->row >= 0);
}

static bool s_same(const cmn_msg_t *a, const cmn_msg_t *b)
{
    return a->v == b->v && strcmp(a->type, b->type) == 0 && strcmp(a->id, b->id) == 0 &&
           a->ts == b->ts && strcmp(a->trace, b->trace) == 0 && strcmp(a->user, b->user) == 0 &&
           a->row == b->row && strcmp(a->channel, b->channel) == 0 && strcmp(a->ciu, b->ciu) == 0 &&
           strcmp(a->detail, b->detail) == 0 && a->existing == b->existing;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *frame = fz_bytes(data, size);
    cmn_msg_t m, again;
    cmn_str_t out = CMN_STR_INIT(CMN_MSG_MAX_BYTES);

    int r = cmn_msg_decode(frame, size, &m);
    if (r < 0) {
        FZ_CHECK(r == -EPROTO);
        goto out;
    }
    s_check_fields(&m);
    FZ_CHECK(cmn_msg_encode(&m, &out) == 0);
    FZ_CHECK(cmn_msg_decode(out.buf, out.len, &again) == 0);
    FZ_CHECK(s_same(&m, &again));
out:
    cmn_str_free(&out);
    free(frame);
    return 0;
}
