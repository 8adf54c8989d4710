/* admin_util: what every ciu-admin command shares (ciu-admin.c defines it).
 *
 * admin_fail prints "ciu-admin: <message>" on stderr and returns code;
 * admin_print_json prints j (indented, key order kept) on stdout, takes
 * ownership of j (NULL: out of memory) and returns an exit status.
 */
#ifndef ADMIN_UTIL_H
#define ADMIN_UTIL_H

#include <jansson.h>

int admin_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int admin_print_json(json_t *j);

#endif
