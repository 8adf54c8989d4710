/* cmn_embed: files compiled into a binary by cmake/embed.cmake (migrations,
 * the simulator page). Each entry's data is NUL-terminated; len excludes it. */
#ifndef CMN_EMBED_H
#define CMN_EMBED_H

#include <stddef.h>

struct ciu_embedded {
    const char *name; /* file name without folder */
    const unsigned char *data;
    size_t len;
};

#endif
