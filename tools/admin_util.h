/* admin_util: what every ciu-admin command shares (admin_util.c).
 *
 * admin_fail prints "ciu-admin: <message>" on stderr and returns code;
 * admin_print_json prints j (indented, key order kept) on stdout, takes
 * ownership of j (NULL: out of memory) and returns an exit status.
 * admin_db_open loads the daemons' settings and opens their store;
 * admin_db_close undoes it (safe on a half-opened db).
 */
#ifndef ADMIN_UTIL_H
#define ADMIN_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "common/cmn_settings.h"
#include "common/cmn_store.h"
#include "common/cmn_str.h"

#define ADMIN_EXIT_NOT_FOUND 1
#define ADMIN_EXIT_DATAERR 65   /* sysexits EX_DATAERR: a backup file is not a sound ciu store */
#define ADMIN_EXIT_CANTCREAT 73 /* sysexits EX_CANTCREAT: cannot write an output file */

typedef struct {
    cmn_settings_t settings;
    bool settings_loaded;
    cmn_store_t *store;
} admin_db_t;

int admin_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int admin_print_json(json_t *j);

/* Load the settings and open the store. `create`: make the SQLite folder
 * (migrate); otherwise a missing SQLite file is "unavailable". Exit status. */
int admin_db_open(admin_db_t *db, bool create);
void admin_db_close(admin_db_t *db);
/* The schema version; an exit status (69) when the store is not migrated. */
int admin_db_need_schema(admin_db_t *db, int *ret_version);
/* "cannot <what>: <store error>" and 69. */
int admin_store_fail(cmn_store_t *st, const char *what);
/* ms since the epoch as 2026-11-30T13:31:14Z ("-" for 0 or less). */
void admin_iso(int64_t ms, char out[32]);
/* A duration as "42 s", "12 min", "5 h", "3 days". */
void admin_age(int64_t ms, char out[32]);
/* A JSON string, or null for NULL. */
json_t *admin_json_text(const char *s);

/* The command's own --help (after the command name): true when argv holds
 * -h or --help; then usage is printed on stdout. */
bool admin_wants_help(int argc, char **argv, const char *usage);
/* Start a command's getopt_long: true after printing usage for --help (exit
 * 0), else false with getopt reset to argv[1] and its own errors off. */
bool admin_args_begin(int argc, char **argv, const char *usage);
/* admin_db_open (no create) and admin_db_need_schema in one: the store is
 * open and migrated, or an exit status. db is zeroed first. */
int admin_db_ready(admin_db_t *db);

/* Checks, one line each ("ok", "warn" or "FAIL", what, detail), or a JSON
 * list of {key: what, status, detail} (key is "item" for `check` and
 * "check" for `dhis2 check`). */
typedef enum { ADMIN_OK, ADMIN_WARN, ADMIN_FAIL, ADMIN_DOWN } admin_status_t;
typedef struct {
    bool json;
    const char *key;    /* JSON name of the "what" field */
    const char *prefix; /* prepended to every "what" (e.g. "DHIS2 "), or NULL */
    json_t *list;       /* JSON mode: the items so far (owned) */
    int failures;       /* FAIL and DOWN */
    int warnings;
    int code; /* 78 after a FAIL, else 69 after a DOWN, else 0 */
} admin_report_t;

/* ADMIN_FAIL: a setting is wrong (78); ADMIN_DOWN: something is unreachable (69). */
void admin_report(admin_report_t *k, admin_status_t st, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void admin_vreport(admin_report_t *k, admin_status_t st, const char *what, const char *fmt,
                   va_list ap) __attribute__((format(printf, 4, 0)));

/* A blocking HTTP call for the checks: GET, or POST of a JSON body when body
 * is not NULL. headers: NULL-terminated "Name: value" list or NULL; userpwd:
 * Basic auth "user:password" or NULL. status 0 when there was no answer
 * (error says why). The caller frees body with cmn_str_free. */
typedef struct {
    long status;
    cmn_str_t body;
    char error[256];
    double seconds;
} admin_http_t;
void admin_http_call(const char *url, const char *const *headers, const char *userpwd,
                     const char *body, long timeout_s, admin_http_t *r);

#endif
