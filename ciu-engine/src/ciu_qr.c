/* ciu_qr: QR code PNG in memory. See ciu_qr.h.
 *
 * Follows libqrencode's qrenc.c writePNG (1-bit palette image) but writes to
 * a bounded memory buffer through png_set_write_fn, with silent libpng error
 * and warning handlers (library code does not log). setjmp lives in
 * s_write_png only, and nothing it reads after a longjmp changes after the
 * setjmp.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>
#include <qrencode.h>

#include "ciu_qr.h"

typedef struct {
    unsigned char *data;
    size_t len, cap;
    int err; /* -ENOMEM or -E2BIG when a write failed */
} s_buf_t;

static void s_png_error(png_structp png, png_const_charp msg)
{
    (void)msg;
    png_longjmp(png, 1);
}

static void s_png_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static void s_png_write(png_structp png, png_bytep data, size_t len)
{
    s_buf_t *b = png_get_io_ptr(png);
    if (len > CIU_QR_PNG_MAX - b->len) {
        b->err = -E2BIG;
        png_error(png, "PNG too large");
    }
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + len)
            cap *= 2;
        if (cap > CIU_QR_PNG_MAX)
            cap = CIU_QR_PNG_MAX;
        unsigned char *p = realloc(b->data, cap);
        if (!p) {
            b->err = -ENOMEM;
            png_error(png, "out of memory");
        }
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
}

static void s_png_flush(png_structp png)
{
    (void)png;
}

/* Set pixels [from, from + n) of a 1-bit row to black (palette index 1). */
static void s_set_black(unsigned char *row, size_t from, size_t n)
{
    for (size_t px = from; px < from + n; px++)
        row[px / 8] |= (unsigned char)(0x80u >> (px % 8));
}

/* Render qr into buf as a PNG. 0, -ENOMEM, -E2BIG or -EIO. */
static int s_write_png(const QRcode *qr, s_buf_t *buf)
{
    const size_t modules = (size_t)qr->width;
    const size_t side = (modules + 2 * CIU_QR_MARGIN) * CIU_QR_SCALE;
    const size_t rowbytes = (side + 7) / 8;
    png_structp png = NULL;
    png_infop info = NULL;
    unsigned char *row = NULL;
    int r;

    png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, s_png_error, s_png_warning);
    if (!png)
        return -ENOMEM;
    info = png_create_info_struct(png);
    row = malloc(rowbytes);
    if (!info || !row) {
        r = -ENOMEM;
        goto destroy_png;
    }
    if (setjmp(png_jmpbuf(png))) {
        r = buf->err ? buf->err : -EIO;
        goto destroy_png;
    }

    png_color palette[2] = {{255, 255, 255}, {0, 0, 0}};
    png_set_write_fn(png, buf, s_png_write, s_png_flush);
    png_set_IHDR(png, info, (png_uint_32)side, (png_uint_32)side, 1, PNG_COLOR_TYPE_PALETTE,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_PLTE(png, info, palette, 2);
    png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_NONE);
    png_write_info(png, info);

    memset(row, 0, rowbytes);
    for (size_t i = 0; i < CIU_QR_MARGIN * CIU_QR_SCALE; i++)
        png_write_row(png, row);
    for (size_t y = 0; y < modules; y++) {
        memset(row, 0, rowbytes);
        for (size_t x = 0; x < modules; x++)
            if (qr->data[y * modules + x] & 1)
                s_set_black(row, (CIU_QR_MARGIN + x) * CIU_QR_SCALE, CIU_QR_SCALE);
        for (size_t i = 0; i < CIU_QR_SCALE; i++)
            png_write_row(png, row);
    }
    memset(row, 0, rowbytes);
    for (size_t i = 0; i < CIU_QR_MARGIN * CIU_QR_SCALE; i++)
        png_write_row(png, row);
    png_write_end(png, info);
    r = 0;

destroy_png:
    free(row);
    png_destroy_write_struct(&png, &info);
    return r;
}

int ciu_qr_png(const char *text, unsigned char **ret_png, size_t *ret_len)
{
    if (!text || !text[0] || !ret_png || !ret_len)
        return -EINVAL;

    errno = 0;
    QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (!qr)
        return errno == ENOMEM || errno == ERANGE ? -errno : -EINVAL;

    s_buf_t buf = {NULL, 0, 0, 0};
    int r = s_write_png(qr, &buf);
    QRcode_free(qr);
    if (r < 0) {
        free(buf.data);
        return r;
    }
    *ret_png = buf.data;
    *ret_len = buf.len;
    return 0;
}
