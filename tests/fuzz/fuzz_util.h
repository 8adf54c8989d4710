/* fuzz_util: small helpers shared by the libFuzzer targets in tests/fuzz.
 *
 * libFuzzer hands a target bytes that are neither NUL-terminated nor
 * aligned. The helpers copy them into exact-size heap buffers (so that
 * AddressSanitizer catches a parser reading one byte past the end), cut a
 * leading line off the input (targets that need more than one argument
 * read "header\nbody") and abort with a message when a documented property
 * of a parser does not hold: libFuzzer reports the abort as a crash and
 * keeps the input. See docs/testing.md, "Fuzzing".
 */
#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A property the code under test promises does not hold: report and crash. */
#define FZ_CHECK(cond)                                                                             \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);         \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* An exact-size copy of n bytes (no NUL after them): an overread is caught.
 * malloc(0) may return NULL, so an empty input gets a 1-byte buffer that is
 * still never read (n is 0). Caller frees; aborts on ENOMEM. */
static inline char *fz_bytes(const uint8_t *data, size_t n)
{
    char *p = malloc(n ? n : 1);
    FZ_CHECK(p != NULL);
    if (n)
        memcpy(p, data, n);
    return p;
}

/* A NUL-terminated copy of n bytes (an embedded NUL ends the C string
 * early, as it would for the daemons). Caller frees; aborts on ENOMEM. */
static inline char *fz_cstr(const uint8_t *data, size_t n)
{
    char *p = malloc(n + 1);
    FZ_CHECK(p != NULL);
    if (n)
        memcpy(p, data, n);
    p[n] = '\0';
    return p;
}

/* Cut the first line ("...\n") off [*data, *data + *size): *line and
 * *linelen get it without the newline and the input moves past it. False
 * (input untouched) when there is no newline. */
static inline bool fz_line(const uint8_t **data, size_t *size, const uint8_t **line,
                           size_t *linelen)
{
    const uint8_t *nl = *size ? memchr(*data, '\n', *size) : NULL;
    if (nl == NULL)
        return false;
    *line = *data;
    *linelen = (size_t)(nl - *data);
    *size -= *linelen + 1;
    *data = nl + 1;
    return true;
}

/* True when s is NUL-terminated within n bytes. */
static inline bool fz_terminated(const char *s, size_t n)
{
    return memchr(s, '\0', n) != NULL;
}

#endif
