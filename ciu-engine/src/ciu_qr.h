/* ciu_qr: a CIU as a QR code in a PNG image, to send on WhatsApp.
 *
 * The QR code holds the text as is in 8-bit mode, error correction level M
 * (about 15% of the symbol may be damaged), smallest version that fits.
 * The PNG is a 1-bit palette image (index 0 white, 1 black), 10 pixels per
 * module, with the standard 4-module white quiet zone on each side: a
 * version-1 code (21 modules) is (21 + 8) * 10 = 290 pixels square.
 */
#ifndef CIU_QR_H
#define CIU_QR_H

#include <stddef.h>

/* Pixels per module, and quiet-zone width in modules. */
#define CIU_QR_SCALE 10
#define CIU_QR_MARGIN 4
/* Largest PNG produced, in bytes (a hard ceiling on the memory buffer). */
#define CIU_QR_PNG_MAX (4u * 1024 * 1024)

/* Encode `text` (NUL-terminated, non-empty) as a QR code PNG. On success
 * returns 0 and sets *ret_png to a malloc'd buffer (caller frees with free())
 * of *ret_len bytes. Returns -EINVAL (NULL or empty text, or libqrencode
 * refused it), -ERANGE (too long for a QR code), -E2BIG (image over
 * CIU_QR_PNG_MAX), -ENOMEM, or -EIO (libpng failed). */
int ciu_qr_png(const char *text, unsigned char **ret_png, size_t *ret_len);

#endif
