/* cmn_store: one API, two backends (SQLite, PostgreSQL).
 *
 * SQL is written once with $1..$n placeholders and runs unchanged on both
 * (SQLite accepts `$1` as a named parameter). Values are always bound, never
 * formatted into SQL (STYLE rule 18). Write transactions use BEGIN IMMEDIATE
 * on SQLite so concurrent daemons queue on the busy timeout instead of
 * failing with "database is locked". Statements are prepared once and cached
 * per handle. A handle is not thread-safe: one per thread, or a lock.
 *
 * SQLite: WAL, synchronous=FULL, busy_timeout, secure_delete=ON, foreign keys.
 * PostgreSQL: no call waits forever (TCP keepalives, tcp_user_timeout, a
 * server statement_timeout and a client-side deadline on every call).
 * Migrations live in db/migrations/NNN_name.sql, are embedded at build time
 * and applied in order in one transaction each; tokens {{ID}} (auto primary
 * key) and {{BLOB}} are replaced per backend.
 */
#ifndef CMN_STORE_H
#define CMN_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ciu_embedded;
typedef struct cmn_store cmn_store_t;
typedef struct cmn_rows cmn_rows_t;

typedef enum { CMN_STORE_SQLITE, CMN_STORE_POSTGRES } cmn_store_kind_t;

typedef enum { CMN_P_NULL, CMN_P_TEXT, CMN_P_INT } cmn_param_type_t;
typedef struct {
    cmn_param_type_t type;
    const char *s; /* CMN_P_TEXT (NULL means SQL NULL) */
    int64_t i;     /* CMN_P_INT */
} cmn_param_t;

#define P_TEXT(x) ((cmn_param_t){.type = CMN_P_TEXT, .s = (x)})
#define P_INT(x) ((cmn_param_t){.type = CMN_P_INT, .i = (int64_t)(x)})
#define P_NULL ((cmn_param_t){.type = CMN_P_NULL})

/* url: "postgresql://..." or "postgres://..." opens PostgreSQL; anything
 * else is a SQLite file path ("sqlite://" prefix optional); parent folder
 * must exist. Does not migrate. Returns 0 and *ret_st, or -errno with a
 * one-line reason in err (never containing the password). */
int cmn_store_open(const char *url, cmn_store_t **ret_st, char *err, size_t errlen);
void cmn_store_destroy(cmn_store_t **p);

cmn_store_kind_t cmn_store_kind(const cmn_store_t *st);
/* Text of the last error on this handle ("" if none). Borrowed. */
const char *cmn_store_errmsg(const cmn_store_t *st);

/* Apply pending migrations. 0 or -errno. */
int cmn_store_migrate(cmn_store_t *st);
/* Same with an explicit list (sorted by name, versions increasing; tests). */
int cmn_store_migrate_files(cmn_store_t *st, const struct ciu_embedded *files, size_t count);
/* Copy url into out with any password replaced by "***" (for logs).
 * 0, -EINVAL, or -E2BIG when truncated. */
int cmn_store_url_redact(const char *url, char *out, size_t outlen);
/* Version of the newest migration built in (what cmn_store_migrate reaches). */
int cmn_store_schema_latest(void);
/* Highest applied migration version (0 if none). */
int cmn_store_schema_version(cmn_store_t *st, int *ret_version);
/* Cheap round trip; reconnects PostgreSQL if the connection dropped. 0 or -EIO. */
int cmn_store_ping(cmn_store_t *st);
/* PostgreSQL: the longest one call waits for the server (default 35 s, a
 * little longer than the server's statement_timeout of 30 s). Past it the
 * call returns -EIO and the connection is made again before the next call.
 * SQLite: no effect (the busy timeout bounds lock waits). 0 or -EINVAL. */
int cmn_store_set_timeout(cmn_store_t *st, long timeout_ms);

/* SQLite: checkpoint the WAL into the database file and truncate it (so
 * deleted data does not linger in old WAL frames). 0, -EBUSY (readers
 * active: try again later), -EIO. PostgreSQL: no-op. */
int cmn_store_checkpoint(cmn_store_t *st);
/* SQLite: "full" (PRAGMA synchronous=FULL, every commit fsynced before it
 * returns: the open default) or "normal" (WAL + NORMAL: the WAL is fsynced
 * at checkpoints only, so a commit survives the process dying but the last
 * ones may be lost if the machine loses power). Per handle. PostgreSQL: a
 * no-op (the server's synchronous_commit decides). 0, -EINVAL for another
 * mode, or -errno. */
int cmn_store_set_synchronous(cmn_store_t *st, const char *mode);

int cmn_store_begin(cmn_store_t *st); /* write transaction */
int cmn_store_commit(cmn_store_t *st);
int cmn_store_rollback(cmn_store_t *st); /* safe to call without a transaction */

/* Run a statement. *ret_changes (may be NULL) = rows affected.
 * 0, -EEXIST on a unique-constraint violation, -EBUSY when locked past the
 * timeout, -EIO otherwise (see cmn_store_errmsg). */
int cmn_store_exec(cmn_store_t *st, const char *sql, const cmn_param_t *params, int nparams,
                   int64_t *ret_changes);
/* Run a query and fetch all rows (caller owns *ret_rows). Same errors. */
int cmn_store_query(cmn_store_t *st, const char *sql, const cmn_param_t *params, int nparams,
                    cmn_rows_t **ret_rows);

/* Run a query and read the first column of its first row as an integer
 * (INSERT ... RETURNING id, SELECT count(*), ...): *ret_value, or dflt when
 * there is no row or the cell is NULL or not a number. Same errors. */
int cmn_store_query_int(cmn_store_t *st, const char *sql, const cmn_param_t *params, int nparams,
                        int64_t dflt, int64_t *ret_value);

int cmn_rows_count(const cmn_rows_t *r);
int cmn_rows_cols(const cmn_rows_t *r);
/* Cell as text; NULL for SQL NULL or out of range. Borrowed from r. */
const char *cmn_rows_get(const cmn_rows_t *r, int row, int col);
/* Cell as integer; dflt for NULL/out of range/not a number. */
int64_t cmn_rows_int(const cmn_rows_t *r, int row, int col, int64_t dflt);
void cmn_rows_destroy(cmn_rows_t **p);

#endif
