/* fuzz_provider: what Twilio and Meta answer ciu-sender.
 *
 * Input: an optional first line "STATUS" or "STATUS RETRY_AFTER" (decimal,
 * e.g. "429 30"), then the answer body. Without that line the status is
 * picked from the usual ones by the input's length and Retry-After is
 * absent (-1). The body (NUL-terminated, as the HTTP client returns it) goes
 * to snd_twilio_classify, snd_meta_classify and snd_meta_media_classify;
 * each result must be one of the documented outcomes, with NUL-terminated
 * fields, a provider id only when accepted, and Retry-After passed through.
 */
#include <stdint.h>
#include <string.h>

#include "common/cmn_str.h"
#include "fuzz_util.h"
#include "snd_provider.h"

#define TERMINATED(field) fz_terminated((field), sizeof(field))

/* "STATUS" or "STATUS RETRY": true with both parsed, else false. */
static bool s_header(const uint8_t *line, size_t len, long *status, long *retry)
{
    char buf[32], *sp;
    if (len == 0 || len >= sizeof(buf))
        return false;
    memcpy(buf, line, len);
    buf[len] = '\0';
    *retry = -1;
    sp = strchr(buf, ' ');
    if (sp) {
        *sp = '\0';
        if (cmn_parse_long(sp + 1, 0, 7 * 24 * 3600, retry) < 0)
            return false;
    }
    return cmn_parse_long(buf, 0, 999, status) == 0;
}

static void s_check(const snd_result_t *r, long status, long retry, bool media)
{
    FZ_CHECK(r->outcome >= SND_OK && r->outcome <= SND_FAIL);
    FZ_CHECK(TERMINATED(r->provider_id) && TERMINATED(r->code) && TERMINATED(r->reason));
    FZ_CHECK(r->retry_after_s == retry);
    if (r->outcome == SND_OK) {
        FZ_CHECK(r->provider_id[0] != '\0' && r->code[0] == '\0');
        FZ_CHECK(status == 200 || (!media && status == 201));
    } else {
        FZ_CHECK(r->provider_id[0] == '\0' && r->reason[0] != '\0');
    }
    if (status == 0 || status >= 500)
        FZ_CHECK(r->outcome == SND_RETRY || r->outcome == SND_RETRY_PEER ||
                 r->outcome == SND_THROTTLE || r->outcome == SND_PAUSE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const long usual[] = {200, 201, 400, 401, 403, 404, 429, 500, 503, 0};
    const uint8_t *line;
    size_t linelen;
    long status, retry = -1;
    snd_result_t r;

    const uint8_t *d = data;
    size_t n = size;
    if (fz_line(&d, &n, &line, &linelen) && s_header(line, linelen, &status, &retry)) {
        data = d;
        size = n;
    } else {
        status = usual[size % (sizeof(usual) / sizeof(usual[0]))];
        retry = -1;
    }
    char *body = fz_cstr(data, size);

    snd_twilio_classify(status, body, retry, &r);
    s_check(&r, status, retry, false);
    snd_meta_classify(status, body, retry, &r);
    s_check(&r, status, retry, false);
    FZ_CHECK(r.outcome != SND_OK || status == 200);
    snd_meta_media_classify(status, body, retry, &r);
    s_check(&r, status, retry, true);
    free(body);
    return 0;
}
