/* Unit tests for ciu_qr: the PNG decodes back to the CIU with zbarimg, and
 * its header says what ciu_qr.h promises (1-bit palette, 10 px per module,
 * 4-module quiet zone). */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <qrencode.h>

#include "ciu_qr.h"

static uint32_t s_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Write the PNG to a temp file, run zbarimg on it, return its output
 * (malloc'd, trailing newline removed) or NULL when zbarimg is missing. */
static char *s_zbar(const unsigned char *png, size_t len)
{
    const char *dir = getenv("TMPDIR");
    char path[512];
    snprintf(path, sizeof(path), "%s/ciu_qr_XXXXXX.png", dir ? dir : "/tmp");
    int fd = mkstemps(path, 4);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, png, len), (ssize_t)len);
    close(fd);

    if (system("command -v zbarimg >/dev/null 2>&1") != 0) {
        unlink(path);
        return NULL;
    }
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "zbarimg --raw -q '%s' 2>/dev/null", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char buf[256];
    size_t n = fread(buf, 1, sizeof(buf) - 1, p);
    int st = pclose(p);
    unlink(path);
    assert_int_equal(st, 0);
    buf[n] = '\0';
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    return strdup(buf);
}

static void s_check_png(const char *text)
{
    unsigned char *png = NULL;
    size_t len = 0;
    assert_int_equal(ciu_qr_png(text, &png, &len), 0);
    assert_non_null(png);
    assert_true(len > 8 + 25);

    /* signature, then IHDR: length 13, "IHDR", width, height, depth, type */
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    assert_memory_equal(png, sig, sizeof(sig));
    assert_int_equal(s_be32(png + 8), 13);
    assert_memory_equal(png + 12, "IHDR", 4);
    uint32_t width = s_be32(png + 16), height = s_be32(png + 20);
    assert_int_equal(png[24], 1); /* bit depth */
    assert_int_equal(png[25], 3); /* colour type: palette */

    /* the same symbol libqrencode makes for the text */
    QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    assert_non_null(qr);
    uint32_t want = (uint32_t)(qr->width + 2 * CIU_QR_MARGIN) * CIU_QR_SCALE;
    print_message("'%s': version %d, %d modules, %ux%u px, %zu bytes\n", text, qr->version,
                  qr->width, width, height, len);
    QRcode_free(qr);
    assert_int_equal(width, want);
    assert_int_equal(height, want);

    char *decoded = s_zbar(png, len);
    free(png);
    if (!decoded) {
        fail_msg("zbarimg not found: install zbar-tools (make deps does)");
    }
    assert_string_equal(decoded, text);
    free(decoded);
}

static void test_ciu(void **state)
{
    (void)state;
    s_check_png("MBEIBR7DA1");
}

static void test_longer_text(void **state)
{
    (void)state;
    /* a larger version still decodes (e.g. a link with the CIU) */
    s_check_png("https://example.org/ciu/MBEIBR7DA1?lang=fr&source=whatsapp");
}

static void test_errors(void **state)
{
    (void)state;
    unsigned char *png = (unsigned char *)"untouched";
    size_t len = 7;
    assert_int_equal(ciu_qr_png(NULL, &png, &len), -EINVAL);
    assert_int_equal(ciu_qr_png("", &png, &len), -EINVAL);
    assert_int_equal(ciu_qr_png("MBEIBR7DA1", NULL, &len), -EINVAL);
    assert_int_equal(ciu_qr_png("MBEIBR7DA1", &png, NULL), -EINVAL);

    /* more than a version-40 symbol holds at level M (2331 bytes) */
    size_t n = 4000;
    char *big = malloc(n + 1);
    assert_non_null(big);
    memset(big, 'x', n);
    big[n] = '\0';
    assert_int_equal(ciu_qr_png(big, &png, &len), -ERANGE);
    free(big);
    assert_string_equal((const char *)png, "untouched");
    assert_int_equal(len, 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ciu),
        cmocka_unit_test(test_longer_text),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
