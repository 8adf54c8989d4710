/* admin_export: `ciu-admin export [--since YYYY-MM-DD] [--output FILE]`.
 *
 * The registry as CSV (RFC 4180: comma separated, CRLF line ends, a header
 * line, fields quoted when they hold a comma, quote or line end): the CIU,
 * what it says (city code, gender digit, last digit of the birth year), the
 * dates of the first and last request, the request count and the DHIS2 sync
 * status and tracked entity. Never a phone number, a hash of one or a typed
 * answer. --since keeps the CIUs first requested on or after that day (UTC).
 * --output writes FILE (mode 0640, complete or not at all) instead of stdout.
 */
#ifndef ADMIN_EXPORT_H
#define ADMIN_EXPORT_H

#include <stdint.h>

#include "common/cmn_str.h"

/* Append one CSV field to out, quoted when it must be (RFC 4180). NULL is
 * an empty field. 0 or a cmn_str error. */
int admin_csv_field(cmn_str_t *out, const char *value);
/* "YYYY-MM-DD" (UTC midnight) as ms since the epoch. 0 or -EINVAL. */
int admin_parse_day(const char *s, int64_t *ret_ms);

/* argv[0] is "export". Returns the exit status. */
int admin_export_main(int argc, char **argv);

#endif
