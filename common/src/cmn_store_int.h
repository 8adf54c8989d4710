/* cmn_store_int: what the parts of cmn_store share (not a public header).
 *
 * cmn_store.c holds the API, results, the statement cache and error texts;
 * cmn_store_sqlite.c and cmn_store_pg.c are the two backends behind one
 * table of functions; cmn_store_migrate.c applies the embedded migrations.
 */
#ifndef CMN_STORE_INT_H
#define CMN_STORE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cmn_store.h"
#include "common/cmn_str.h"

#define CMN_STORE_CACHE_MAX 256                /* prepared statements kept per handle */
#define CMN_STORE_ROWS_MAX ((size_t)256 << 20) /* bytes of text in one query result */
#define CMN_STORE_TIMEOUT_MS 35000             /* default deadline of one PostgreSQL call */

/* One prepared statement, cached by its SQL text. */
typedef struct {
    uint64_t hash;
    char *sql;     /* owned key */
    void *stmt;    /* SQLite: sqlite3_stmt */
    char name[24]; /* PostgreSQL: prepared statement name */
} cmn_store_cached_t;

/* A backend: the same operations for SQLite and PostgreSQL. */
typedef struct {
    /* Connect; err gets one line (no password) on failure. 0 or -errno. */
    int (*open)(cmn_store_t *st, const char *url, char *err, size_t errlen);
    void (*close)(cmn_store_t *st);
    /* One statement with parameters; rows and changes optional. */
    int (*run)(cmn_store_t *st, const char *sql, const cmn_param_t *params, int nparams,
               bool nocache, int64_t *ret_changes, cmn_rows_t **ret_rows);
    /* SQL text without parameters, possibly several statements. */
    int (*script)(cmn_store_t *st, const char *sql);
    int (*begin)(cmn_store_t *st);
    int (*commit)(cmn_store_t *st);
    int (*rollback)(cmn_store_t *st);
    int (*ping)(cmn_store_t *st);
    int (*checkpoint)(cmn_store_t *st);
    /* Release a cached statement (NULL-safe). */
    void (*stmt_free)(void *stmt);
    /* After a migration changed the schema: drop server-side statements. */
    void (*schema_changed)(cmn_store_t *st);
} cmn_store_backend_t;

extern const cmn_store_backend_t cmn_store_sqlite_backend;
extern const cmn_store_backend_t cmn_store_pg_backend;

struct cmn_store {
    cmn_store_kind_t kind;
    const cmn_store_backend_t *be;
    void *db;    /* SQLite: sqlite3 */
    void *pg;    /* PostgreSQL: PGconn */
    bool in_tx;  /* PostgreSQL: between begin and commit/rollback */
    bool broken; /* PostgreSQL: a call timed out; reconnect before the next */
    long timeout_ms;
    cmn_store_cached_t *cache;
    size_t ncache;
    unsigned long next_name;
    char err[512];
};

struct cmn_rows {
    int nrows;
    int ncols;
    char **cells; /* nrows * ncols pointers into data, NULL for SQL NULL */
    char *data;
};

/* Builder for cmn_rows: cells as offsets into a growing buffer. */
typedef struct {
    size_t *offs; /* SIZE_MAX for NULL */
    size_t noffs;
    size_t capoffs;
    cmn_str_t data;
    int ncols;
} cmn_rowbuf_t;

/* An empty builder (results up to CMN_STORE_ROWS_MAX bytes). */
void cmn_rowbuf_init(cmn_rowbuf_t *b);
int cmn_rowbuf_add(cmn_rowbuf_t *b, const char *s, size_t len);
void cmn_rowbuf_free(cmn_rowbuf_t *b);
/* Turn the builder into a cmn_rows (the builder is emptied). */
int cmn_rowbuf_finish(cmn_rowbuf_t *b, cmn_rows_t **ret_rows);

/* The last error of the handle, one line. */
void cmn_store_set_err(cmn_store_t *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Newlines and tabs become spaces, trailing blanks dropped. */
void cmn_store_one_line(char *s);
/* Mask the URL's password (raw and percent-decoded) in an error text. */
void cmn_store_mask_url_secrets(char *buf, size_t buflen, const char *url);

/* Statement cache: find, add (NULL when full: run uncached), remove, clear. */
cmn_store_cached_t *cmn_store_cache_find(cmn_store_t *st, const char *sql, uint64_t h);
cmn_store_cached_t *cmn_store_cache_add(cmn_store_t *st, const char *sql, uint64_t h);
void cmn_store_cache_remove(cmn_store_t *st, cmn_store_cached_t *c);
void cmn_store_cache_clear(cmn_store_t *st);

/* Run through the backend with argument checks (nocache: migrations). */
int cmn_store_run(cmn_store_t *st, const char *sql, const cmn_param_t *params, int nparams,
                  bool nocache, int64_t *ret_changes, cmn_rows_t **ret_rows);
int cmn_store_script(cmn_store_t *st, const char *sql);

#endif
