/* fuzz_meta_webhook: a Meta (WhatsApp Cloud API) webhook as ciu-ingress
 * receives it.
 *
 * Input: "sha256=...\nbody" checks that header against the body; any other
 * input is the body alone, signed here with the test secret, and then the
 * right signature must be accepted and a one-digit change refused. The body
 * goes to ing_meta_parse in an exact-size buffer, and the batch it returns
 * is checked against what ing_webhook.h promises.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <utf8proc.h>

#include "common/cmn_crypto.h"
#include "fuzz_util.h"
#include "ing_webhook.h"

#define SECRET "sesame"
#define TEXT_MAX 4096 /* longest text ing_webhook keeps */

static bool s_utf8(const char *s)
{
    utf8proc_int32_t cp;
    size_t n = strlen(s);
    while (n > 0) {
        utf8proc_ssize_t k =
            utf8proc_iterate((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &cp);
        if (k <= 0)
            return false;
        s += k;
        n -= (size_t)k;
    }
    return true;
}

static void s_check_batch(const ing_batch_t *b)
{
    for (size_t i = 0; i < b->nmsgs; i++) {
        const ing_msg_t *m = &b->msgs[i];
        FZ_CHECK(fz_terminated(m->id, sizeof(m->id)) && m->id[0] != '\0');
        FZ_CHECK(fz_terminated(m->from, sizeof(m->from)) && m->from[0] != '\0');
        FZ_CHECK(fz_terminated(m->kind, sizeof(m->kind)) && m->kind[0] != '\0');
        FZ_CHECK(fz_terminated(m->account, sizeof(m->account)));
        /* a text message always has its text, nothing else has one */
        FZ_CHECK((strcmp(m->kind, "text") == 0) == (m->text != NULL));
        if (m->text)
            FZ_CHECK(strlen(m->text) <= TEXT_MAX && s_utf8(m->text));
    }
    for (size_t i = 0; i < b->nstatuses; i++) {
        const ing_status_t *s = &b->statuses[i];
        FZ_CHECK(fz_terminated(s->id, sizeof(s->id)) && s->id[0] != '\0');
        FZ_CHECK(ing_status_rank(s->status) >= 0);
        FZ_CHECK(fz_terminated(s->error_code, sizeof(s->error_code)));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *line = NULL;
    size_t linelen = 0;
    char *header = NULL, *body;
    ing_batch_t b;
    char err[128];

    if (size >= 7 && memcmp(data, "sha256=", 7) == 0 && fz_line(&data, &size, &line, &linelen))
        header = fz_cstr(line, linelen);
    body = fz_bytes(data, size);

    if (header) {
        (void)ing_meta_valid(SECRET, body, size, header);
    } else {
        char mac[CMN_HEX256_LEN], good[80];
        FZ_CHECK(cmn_hmac_sha256_hex(SECRET, strlen(SECRET), body, size, mac) == 0);
        snprintf(good, sizeof(good), "sha256=%s", mac);
        FZ_CHECK(ing_meta_valid(SECRET, body, size, good));
        good[7 + size % 64] = good[7 + size % 64] == '0' ? '1' : '0';
        FZ_CHECK(!ing_meta_valid(SECRET, body, size, good));
    }

    err[0] = '\0';
    int r = ing_meta_parse(body, size, &b, err, sizeof(err));
    if (r == 0) {
        s_check_batch(&b);
        ing_batch_free(&b);
    } else {
        FZ_CHECK(r == -EINVAL || r == -ENOMEM);
        FZ_CHECK(b.nmsgs == 0 && b.nstatuses == 0 && b.msgs == NULL && b.statuses == NULL);
        FZ_CHECK(fz_terminated(err, sizeof(err)) && err[0] != '\0');
    }
    free(body);
    free(header);
    return 0;
}
