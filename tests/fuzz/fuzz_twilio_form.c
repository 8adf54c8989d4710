/* fuzz_twilio_form: a Twilio webhook as ciu-ingress receives it.
 *
 * Input: "URL\nX-Twilio-Signature\nform body" when it starts with "http"
 * and has two lines before the body; otherwise the whole input is the form
 * body, checked against the SDKs' test URL and signature (AuthToken 12345,
 * ../shared/reference/channels.md). Runs ing_form_parse on an exact-size
 * buffer, then ing_twilio_parse and ing_twilio_valid on what it decoded,
 * and checks what ing_webhook.h promises about the results.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "ing_webhook.h"

#define TOKEN "12345"
#define URL "https://mycompany.com/myapp.php?foo=1&bar=2"
#define SIG "RSOYDt4T1cUTdK1PDd93/VVr8B8="
#define TEXT_MAX 4096 /* longest text ing_webhook keeps */

static void s_check_from(const char *from)
{
    size_t n = strnlen(from, ING_ADDR_MAX);
    FZ_CHECK(n > 0 && n < ING_ADDR_MAX);
    if (from[0] == '+') {
        FZ_CHECK(n >= 7 && n <= 16 && strspn(from + 1, "0123456789") == n - 1);
    } else {
        FZ_CHECK(strspn(from, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                              "0123456789._-") == n);
    }
}

static void s_check_batch(const ing_batch_t *b)
{
    for (size_t i = 0; i < b->nmsgs; i++) {
        const ing_msg_t *m = &b->msgs[i];
        FZ_CHECK(fz_terminated(m->id, sizeof(m->id)) && m->id[0] != '\0');
        FZ_CHECK(fz_terminated(m->kind, sizeof(m->kind)) && m->kind[0] != '\0');
        FZ_CHECK(fz_terminated(m->account, sizeof(m->account)));
        s_check_from(m->from);
        if (m->text)
            FZ_CHECK(strlen(m->text) <= TEXT_MAX);
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
    const uint8_t *url_line = NULL, *sig_line = NULL;
    size_t url_len = 0, sig_len = 0;
    char *url, *sig, *body;
    ing_form_t f;
    ing_batch_t b;
    char err[128];

    if (size >= 4 && memcmp(data, "http", 4) == 0) {
        const uint8_t *d = data;
        size_t n = size;
        if (fz_line(&d, &n, &url_line, &url_len) && fz_line(&d, &n, &sig_line, &sig_len)) {
            data = d;
            size = n;
        } else {
            url_line = sig_line = NULL;
        }
    }
    url = url_line ? fz_cstr(url_line, url_len) : fz_cstr((const uint8_t *)URL, strlen(URL));
    sig = sig_line ? fz_cstr(sig_line, sig_len) : fz_cstr((const uint8_t *)SIG, strlen(SIG));
    body = fz_bytes(data, size);

    int r = ing_form_parse(body, size, &f);
    if (r < 0) {
        FZ_CHECK(r == -EINVAL || r == -ENOMEM);
        FZ_CHECK(f.n == 0 && f.pairs == NULL);
        goto out;
    }
    for (size_t i = 0; i < f.n; i++) {
        FZ_CHECK(f.pairs[i].name != NULL && f.pairs[i].value != NULL);
        FZ_CHECK(strlen(f.pairs[i].name) + strlen(f.pairs[i].value) <= size);
    }
    if (f.n > 0)
        FZ_CHECK(ing_form_get(&f, f.pairs[0].name) != NULL);

    err[0] = '\0';
    r = ing_twilio_parse(&f, &b, err, sizeof(err));
    if (r == 0) {
        FZ_CHECK(b.nmsgs + b.nstatuses + b.ignored == 1);
        s_check_batch(&b);
        ing_batch_free(&b);
    } else {
        FZ_CHECK(r == -EINVAL || r == -ENOMEM);
        FZ_CHECK(b.nmsgs == 0 && b.nstatuses == 0 && b.msgs == NULL && b.statuses == NULL);
        FZ_CHECK(fz_terminated(err, sizeof(err)));
    }

    (void)ing_twilio_valid(TOKEN, url, &f, sig);
    ing_form_free(&f);
out:
    free(body);
    free(sig);
    free(url);
    return 0;
}
