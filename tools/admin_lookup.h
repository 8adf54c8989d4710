/* admin_lookup: `ciu-admin lookup [--json] CIU`: what the store knows of one
 * CIU. First and last request, request count, how many numbers asked for it
 * (a count, never a number), the duplicates that involve it, its DHIS2 sync
 * (status, attempts, tracked entity and enrollment ids, last error), and the
 * replies sent to the numbers that hold it and the providers confirmed as
 * delivered. Exit 1 when the CIU is not registered, 64 when it is not
 * CIU-shaped.
 */
#ifndef ADMIN_LOOKUP_H
#define ADMIN_LOOKUP_H

#include <stdbool.h>
#include <stddef.h>

/* Copy arg upper-cased into out (>= 11 bytes) when it has a CIU's shape:
 * 6 letters, a digit, 2 letters, a digit 1 to 4. */
bool admin_ciu_parse(const char *arg, char *out, size_t outlen);

/* argv[0] is "lookup". Returns the exit status. */
int admin_lookup_main(int argc, char **argv);

#endif
