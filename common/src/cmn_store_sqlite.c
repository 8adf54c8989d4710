/* cmn_store_sqlite: the SQLite backend of cmn_store.
 *
 * WAL, synchronous=FULL (NORMAL on request: cmn_store_set_synchronous), a
 * busy timeout, secure_delete, foreign keys; SQLITE_FULL is -ENOSPC;
 * statements prepared once per handle (SQLITE_PREPARE_PERSISTENT) and cached
 * by SQL text; write transactions with BEGIN IMMEDIATE so concurrent
 * processes queue for the write lock. See docs/common/store.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cmn_store_int.h"
#include "common/cmn_hash.h"

#define S_BUSY_TIMEOUT_MS 10000

static sqlite3 *s_db(const cmn_store_t *st)
{
    return st->db;
}

static int s_lite_error(cmn_store_t *st, int rc)
{
    int ext = sqlite3_extended_errcode(s_db(st));

    cmn_store_set_err(st, "%s (sqlite %d)", sqlite3_errmsg(s_db(st)), ext);
    if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY)
        return -EEXIST;
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return -EBUSY;
    case SQLITE_NOMEM:
        return -ENOMEM;
    case SQLITE_FULL: /* the disk (or the file system's quota) is full */
        return -ENOSPC;
    default:
        return -EIO;
    }
}

static int s_lite_open(cmn_store_t *st, const char *path, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    static const char *const pragmas[] = {
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=FULL",
        "PRAGMA secure_delete=ON",
        "PRAGMA foreign_keys=ON",
    };
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    int rc;

    /* A new database is created mode 0600, like the salt: it holds the
     * keyed hashes of phone numbers and the sessions. SQLite gives its -wal
     * and -shm files the database's mode. */
    if (strcmp(path, ":memory:") != 0 && strncmp(path, "file:", 5) != 0) {
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd >= 0)
            close(fd);
    }
    rc = sqlite3_open_v2(path, &db, flags, NULL);
    st->db = db;
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open SQLite database '%s': %s", path,
                 s_db(st) ? sqlite3_errmsg(s_db(st)) : sqlite3_errstr(rc));
        if (rc == SQLITE_CANTOPEN)
            return -ENOENT;
        if (rc == SQLITE_PERM || rc == SQLITE_READONLY)
            return -EACCES;
        return rc == SQLITE_NOMEM ? -ENOMEM : -EIO;
    }
    sqlite3_extended_result_codes(s_db(st), 1);
    /* The busy timeout first: switching to WAL may wait for other openers. */
    sqlite3_busy_timeout(s_db(st), S_BUSY_TIMEOUT_MS);
    for (size_t i = 0; i < sizeof(pragmas) / sizeof(pragmas[0]); i++) {
        char *msg = NULL;

        /* SQLite does not always call the busy handler here (switching a new
         * file to WAL while another process does the same returns BUSY at
         * once to avoid a deadlock): retry for as long as the busy timeout. */
        for (int waited = 0;; waited += 10) {
            rc = sqlite3_exec(s_db(st), pragmas[i], NULL, NULL, &msg);
            if ((rc & 0xff) != SQLITE_BUSY || waited >= S_BUSY_TIMEOUT_MS)
                break;
            sqlite3_free(msg);
            msg = NULL;
            sqlite3_sleep(10);
        }
        if (rc != SQLITE_OK) {
            snprintf(err, errlen, "%s on '%s' failed: %s", pragmas[i], path,
                     msg ? msg : sqlite3_errstr(rc));
            sqlite3_free(msg);
            return (rc & 0xff) == SQLITE_BUSY ? -EBUSY : -EIO;
        }
    }
    return 0;
}

/* Prepare (or fetch from the cache) one statement. *ret_owned is set when
 * the statement is not cached and must be finalized by the caller. */
static int s_lite_prepare(cmn_store_t *st, const char *sql, bool nocache, sqlite3_stmt **ret_stmt,
                          bool *ret_owned)
{
    uint64_t h = cmn_fnv1a_str(sql);
    cmn_store_cached_t *c = nocache ? NULL : cmn_store_cache_find(st, sql, h);
    sqlite3_stmt *stmt = NULL;
    const char *tail = NULL;
    int rc;

    if (c) {
        *ret_stmt = (sqlite3_stmt *)c->stmt;
        *ret_owned = false;
        return 0;
    }
    rc = sqlite3_prepare_v3(s_db(st), sql, -1, nocache ? 0 : SQLITE_PREPARE_PERSISTENT, &stmt,
                            &tail);
    if (rc != SQLITE_OK)
        return s_lite_error(st, rc);
    if (!stmt) {
        cmn_store_set_err(st, "empty statement");
        return -EIO;
    }
    while (tail && (*tail == ' ' || *tail == '\n' || *tail == '\t' || *tail == '\r'))
        tail++;
    if (tail && *tail) {
        sqlite3_finalize(stmt);
        cmn_store_set_err(st, "more than one statement in one call");
        return -EIO;
    }
    c = nocache ? NULL : cmn_store_cache_add(st, sql, h);
    if (c)
        c->stmt = stmt;
    *ret_stmt = stmt;
    *ret_owned = c == NULL;
    return 0;
}

static int s_lite_bind(cmn_store_t *st, sqlite3_stmt *stmt, const cmn_param_t *params, int nparams)
{
    int want = sqlite3_bind_parameter_count(stmt);

    if (want != nparams) {
        cmn_store_set_err(st, "statement has %d parameters, %d given", want, nparams);
        return -EIO;
    }
    for (int i = 0; i < nparams; i++) {
        char name[16];
        int idx, rc;

        snprintf(name, sizeof(name), "$%d", i + 1);
        idx = sqlite3_bind_parameter_index(stmt, name);
        if (idx == 0) {
            cmn_store_set_err(st, "parameter %s not used in the statement", name);
            return -EIO;
        }
        switch (params[i].type) {
        case CMN_P_INT:
            rc = sqlite3_bind_int64(stmt, idx, params[i].i);
            break;
        case CMN_P_TEXT:
            rc = params[i].s ? sqlite3_bind_text(stmt, idx, params[i].s, -1, SQLITE_TRANSIENT)
                             : sqlite3_bind_null(stmt, idx);
            break;
        default:
            rc = sqlite3_bind_null(stmt, idx);
            break;
        }
        if (rc != SQLITE_OK)
            return s_lite_error(st, rc);
    }
    return 0;
}

static int s_lite_run(cmn_store_t *st, const char *sql, const cmn_param_t *params, int nparams,
                      bool nocache, int64_t *ret_changes, cmn_rows_t **ret_rows)
{
    sqlite3_stmt *stmt = NULL;
    bool owned = false;
    cmn_rowbuf_t b;
    int r, rc;

    cmn_rowbuf_init(&b);
    r = s_lite_prepare(st, sql, nocache, &stmt, &owned);
    if (r < 0)
        return r;
    r = s_lite_bind(st, stmt, params, nparams);
    if (r < 0)
        goto out_stmt;
    b.ncols = sqlite3_column_count(stmt);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (!ret_rows)
            continue;
        for (int c = 0; c < b.ncols; c++) {
            const char *v = (const char *)sqlite3_column_text(stmt, c);

            if (!v && sqlite3_column_type(stmt, c) != SQLITE_NULL) {
                if (sqlite3_errcode(s_db(st)) == SQLITE_NOMEM) {
                    r = -ENOMEM;
                    goto out_stmt;
                }
                v = ""; /* zero-length BLOB */
            }
            r = cmn_rowbuf_add(&b, v, v ? (size_t)sqlite3_column_bytes(stmt, c) : 0);
            if (r < 0) {
                cmn_store_set_err(st, "result too large or out of memory");
                goto out_stmt;
            }
        }
    }
    if (rc != SQLITE_DONE) {
        r = s_lite_error(st, rc);
        goto out_stmt;
    }
    if (ret_rows) {
        r = cmn_rowbuf_finish(&b, ret_rows);
        if (r < 0)
            goto out_stmt;
    }
    if (ret_changes)
        *ret_changes = sqlite3_changes64(s_db(st));
    r = 0;
out_stmt:
    cmn_rowbuf_free(&b);
    if (owned) {
        sqlite3_finalize(stmt);
    } else {
        sqlite3_reset(stmt);
        sqlite3_clear_bindings(stmt);
    }
    return r;
}

/* Run SQL text with no parameters (may hold several statements). */
static int s_lite_script(cmn_store_t *st, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(s_db(st), sql, NULL, NULL, &msg);
    int r;

    if (rc == SQLITE_OK)
        return 0;
    r = s_lite_error(st, rc);
    if (msg)
        cmn_store_set_err(st, "%s (sqlite %d)", msg, sqlite3_extended_errcode(s_db(st)));
    sqlite3_free(msg);
    return r;
}

static void s_lite_close(cmn_store_t *st)
{
    if (st->db)
        sqlite3_close_v2(s_db(st));
    st->db = NULL;
}

static int s_lite_begin(cmn_store_t *st)
{
    if (!sqlite3_get_autocommit(s_db(st))) {
        cmn_store_set_err(st, "transaction already open");
        return -EINVAL;
    }
    return s_lite_script(st, "BEGIN IMMEDIATE");
}

static int s_lite_commit(cmn_store_t *st)
{
    int r = s_lite_script(st, "COMMIT");

    if (r < 0 && !sqlite3_get_autocommit(s_db(st)))
        sqlite3_exec(s_db(st), "ROLLBACK", NULL, NULL, NULL);
    return r;
}

static int s_lite_rollback(cmn_store_t *st)
{
    if (sqlite3_get_autocommit(s_db(st)))
        return 0;
    return s_lite_script(st, "ROLLBACK");
}

static int s_lite_ping(cmn_store_t *st)
{
    return s_lite_script(st, "SELECT 1") < 0 ? -EIO : 0;
}

static int s_lite_checkpoint(cmn_store_t *st)
{
    /* Copy the WAL into the database file and truncate it, so that page
     * images of deleted rows do not stay on disk in old WAL frames. Busy
     * (a reader holds an old snapshot) is not an error: the next call
     * finishes the job. */
    int r = sqlite3_wal_checkpoint_v2(s_db(st), NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);

    if (r == SQLITE_BUSY || r == SQLITE_LOCKED)
        return -EBUSY;
    return r == SQLITE_OK ? 0 : -EIO;
}

static void s_lite_stmt_free(void *stmt)
{
    if (stmt)
        sqlite3_finalize(stmt);
}

static void s_lite_schema_changed(cmn_store_t *st)
{
    (void)st; /* SQLite re-prepares statements itself */
}

const cmn_store_backend_t cmn_store_sqlite_backend = {
    .open = s_lite_open,
    .close = s_lite_close,
    .run = s_lite_run,
    .script = s_lite_script,
    .begin = s_lite_begin,
    .commit = s_lite_commit,
    .rollback = s_lite_rollback,
    .ping = s_lite_ping,
    .checkpoint = s_lite_checkpoint,
    .stmt_free = s_lite_stmt_free,
    .schema_changed = s_lite_schema_changed,
};
