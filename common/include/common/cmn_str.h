/* cmn_str: one growable string type with a hard maximum.
 *
 * Every growable buffer in ciu has a ceiling (STYLE rule 14): appends past
 * `max` fail with -E2BIG and leave the string unchanged. A cmn_str_t is plain
 * data: zero it with CMN_STR_INIT(max), append with cmn_str_append*(&s, ...),
 * release with cmn_str_free(&s). The buffer is always NUL-terminated once
 * anything was appended; cmn_str_cstr() returns "" for an empty string.
 */
#ifndef CMN_STR_H
#define CMN_STR_H

#include <stdarg.h>
#include <stddef.h>

typedef struct {
    char *buf;  /* owned, NUL-terminated, NULL until first append */
    size_t len; /* bytes used, without the NUL */
    size_t cap; /* bytes allocated */
    size_t max; /* hard maximum of len */
} cmn_str_t;

#define CMN_STR_INIT(maxlen) {NULL, 0, 0, (maxlen)}

/* Append n bytes. Returns 0, -E2BIG past max, -ENOMEM. */
int cmn_str_append(cmn_str_t *s, const char *data, size_t n);
/* Append a NUL-terminated string. */
int cmn_str_appends(cmn_str_t *s, const char *cstr);
/* Append formatted text. Returns 0, -E2BIG, -ENOMEM, -EINVAL. */
int cmn_str_printf(cmn_str_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cmn_str_vprintf(cmn_str_t *s, const char *fmt, va_list ap);
/* A new string formatted from fmt and ap, at most max bytes. Caller frees;
 * NULL on error (out of memory, longer than max). For one-line messages. */
char *cmn_str_vdup(size_t max, const char *fmt, va_list ap);
/* Append `cstr` escaped as a JSON string body (no surrounding quotes).
 * Control bytes become \uXXXX; invalid UTF-8 bytes become \ufffd, so the
 * result is always valid JSON. On failure s is unchanged. */
int cmn_str_append_json(cmn_str_t *s, const char *cstr);
/* Empty the string, keep the buffer. */
void cmn_str_reset(cmn_str_t *s);
/* Free the buffer; s is left empty and reusable. NULL-safe. */
void cmn_str_free(cmn_str_t *s);
/* Take the buffer (caller owns, free()); s is left empty. Never NULL on success. */
char *cmn_str_steal(cmn_str_t *s);
/* The text, or "" when empty. Borrowed. */
const char *cmn_str_cstr(const cmn_str_t *s);

/* Bounded copy: always NUL-terminates, returns -E2BIG when truncated. */
int cmn_strlcpy(char *dst, const char *src, size_t size);
/* The value of one hexadecimal digit (0-9, a-f, A-F), or -1. */
int cmn_hex_digit(char c);
/* Parse a whole decimal integer within [min,max]. Returns 0 or -EINVAL/-ERANGE;
 * *ret written only on success. Replaces atoi (banned). */
int cmn_parse_long(const char *s, long min, long max, long *ret);

#endif
