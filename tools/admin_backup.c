/* admin_backup: `ciu-admin backup` and `restore` (see admin_backup.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "admin_backup.h"
#include "admin_i18n.h"
#include "admin_util.h"
#include "common/cmn_daemon.h"
#include "common/cmn_store.h"
#include "common/cmn_str.h"

#define S_BUSY_MS 30000
/* SQLite's unix VFS: every connection to a WAL database holds a read lock on
 * this byte of the -shm file while it is open (UNIX_SHM_DMS in os_unix.c). */
#define S_SHM_DMS_OFFSET 128

static const char s_usage_backup[] =
    "usage: ciu-admin backup FILE\n"
    "Copy the store into FILE (a new file): SQLite's online backup (the daemons may\n"
    "keep running), then an integrity check of the copy; PostgreSQL: pg_dump\n"
    "--format=custom. UIC_SALT is not in the backup: keep it safe with it.\n";
static const char s_usage_restore[] =
    "usage: ciu-admin restore FILE\n"
    "Replace the store (CIU_DATA_DIR / DATABASE_URL) with a backup made by\n"
    "'ciu-admin backup'. Stop every daemon first: restore refuses while the store is\n"
    "in use. Then start the daemons (they migrate an older schema) and run\n"
    "'ciu-admin check'.\n";

/* --- SQLite -------------------------------------------------------------- */

/* Open a SQLite file that must exist. NULL after printing why. */
static sqlite3 *s_sqlite_open(const char *path, bool write)
{
    sqlite3 *db = NULL;
    int flags = (write ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY) | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
        admin_fail(CMN_EXIT_UNAVAILABLE, "cannot open %s: %s", path,
                   db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, S_BUSY_MS);
    return db;
}

/* The copy is whole and a ciu store: integrity_check says ok and the schema
 * table has a version. 0 with *ret_version, or an exit status. */
static int s_sqlite_verify(sqlite3 *db, const char *path, int *ret_version)
{
    sqlite3_stmt *q = NULL;
    const char *res = NULL;
    int code = CMN_EXIT_OK, version = 0;
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q, NULL) != SQLITE_OK ||
        sqlite3_step(q) != SQLITE_ROW || (res = (const char *)sqlite3_column_text(q, 0)) == NULL ||
        strcmp(res, "ok") != 0) {
        code = admin_fail(ADMIN_EXIT_DATAERR, "%s is not a sound SQLite database: %s", path,
                          res ? res : sqlite3_errmsg(db));
        goto out;
    }
    sqlite3_finalize(q);
    q = NULL;
    if (sqlite3_prepare_v2(db, "SELECT MAX(version) FROM schema_migrations", -1, &q, NULL) !=
            SQLITE_OK ||
        sqlite3_step(q) != SQLITE_ROW || (version = sqlite3_column_int(q, 0)) < 1) {
        code = admin_fail(ADMIN_EXIT_DATAERR, "%s is not a ciu store (no schema_migrations)", path);
        goto out;
    }
    *ret_version = version;
out:
    sqlite3_finalize(q);
    return code;
}

/* Copy every page of src into dst in one step (one consistent snapshot). */
static int s_sqlite_copy(sqlite3 *dst, sqlite3 *src)
{
    sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
    int rc;
    if (b == NULL)
        return sqlite3_errcode(dst);
    do {
        rc = sqlite3_backup_step(b, -1);
        if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
            sqlite3_sleep(100);
    } while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
    int fin = sqlite3_backup_finish(b);
    return rc == SQLITE_DONE ? fin : rc;
}

static int s_sqlite_backup(const char *store, const char *file)
{
    cmn_str_t tmp = CMN_STR_INIT(8192);
    sqlite3 *src = NULL, *dst = NULL;
    int code = CMN_EXIT_OK, version = 0, fd = -1, rc;
    struct stat sb;

    if (cmn_str_printf(&tmp, "%s.tmp.%ld", file, (long)getpid()) < 0) {
        code = admin_fail(CMN_EXIT_USAGE, "backup: file name too long");
        goto out;
    }
    src = s_sqlite_open(store, true);
    if (src == NULL) {
        code = CMN_EXIT_UNAVAILABLE;
        goto out;
    }
    fd = open(cmn_str_cstr(&tmp), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        code = admin_fail(ADMIN_EXIT_CANTCREAT, "backup: cannot create %s: %s", cmn_str_cstr(&tmp),
                          strerror(errno));
        goto out;
    }
    close(fd);
    if (sqlite3_open_v2(cmn_str_cstr(&tmp), &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        code = admin_fail(ADMIN_EXIT_CANTCREAT, "backup: cannot open %s: %s", cmn_str_cstr(&tmp),
                          dst ? sqlite3_errmsg(dst) : "out of memory");
        goto out;
    }
    rc = s_sqlite_copy(dst, src);
    if (rc != SQLITE_OK) {
        code = admin_fail(CMN_EXIT_UNAVAILABLE, "backup: copy failed: %s", sqlite3_errstr(rc));
        goto out;
    }
    /* a standalone file: no -wal beside it */
    sqlite3_exec(dst, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL);
    code = s_sqlite_verify(dst, cmn_str_cstr(&tmp), &version);
    if (code != CMN_EXIT_OK)
        goto out;
    sqlite3_close(dst);
    dst = NULL;
    fd = open(cmn_str_cstr(&tmp), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0 || fstat(fd, &sb) != 0 || link(cmn_str_cstr(&tmp), file) != 0) {
        code =
            admin_fail(ADMIN_EXIT_CANTCREAT, "backup: cannot write %s: %s", file, strerror(errno));
        goto out;
    }
    printf(admin_tr("backup written to %s: SQLite, %lld bytes, schema version %d, integrity "
                    "ok\n"),
           file, (long long)sb.st_size, version);
    printf("%s", admin_tr("UIC_SALT is not in the backup: keep it with the backups\n"));
out:
    if (fd >= 0)
        close(fd);
    sqlite3_close(dst);
    sqlite3_close(src);
    if (tmp.len > 0)
        unlink(cmn_str_cstr(&tmp));
    cmn_str_free(&tmp);
    return code;
}

/* true when a process (a daemon) has the SQLite store open. */
static bool s_sqlite_in_use(const char *store)
{
    cmn_str_t shm = CMN_STR_INIT(8192);
    bool used = false;
    if (cmn_str_printf(&shm, "%s-shm", store) == 0) {
        int fd = open(cmn_str_cstr(&shm), O_RDWR | O_CLOEXEC);
        if (fd >= 0) {
            struct flock lk = {
                .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = S_SHM_DMS_OFFSET, .l_len = 1};
            used = fcntl(fd, F_GETLK, &lk) == 0 && lk.l_type != F_UNLCK;
            close(fd);
        }
    }
    cmn_str_free(&shm);
    return used;
}

static int s_sqlite_restore(admin_db_t *db, const char *store, const char *file)
{
    sqlite3 *src = NULL, *dst = NULL;
    int code, version = 0, rc;

    src = s_sqlite_open(file, false);
    if (src == NULL)
        return ADMIN_EXIT_NOT_FOUND;
    code = s_sqlite_verify(src, file, &version);
    if (code != CMN_EXIT_OK)
        goto out;
    if (version > cmn_store_schema_latest()) {
        code = admin_fail(ADMIN_EXIT_DATAERR,
                          "%s has schema version %d, newer than this build's %d: restore it "
                          "with the ciu version that made it",
                          file, version, cmn_store_schema_latest());
        goto out;
    }
    if (s_sqlite_in_use(store)) {
        code = admin_fail(CMN_EXIT_UNAVAILABLE,
                          "%s is in use: stop every daemon (ciu-run, systemctl stop 'ciu-*', "
                          "docker compose stop) before a restore",
                          store);
        goto out;
    }
    rc = cmn_settings_make_data_dir(&db->settings);
    if (rc < 0) {
        code = admin_fail(CMN_EXIT_CONFIG, "CIU_DATA_DIR: cannot create '%s': %s",
                          db->settings.data_dir, strerror(-rc));
        goto out;
    }
    if (sqlite3_open_v2(store, &dst,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        code = admin_fail(CMN_EXIT_UNAVAILABLE, "cannot open %s: %s", store,
                          dst ? sqlite3_errmsg(dst) : "out of memory");
        goto out;
    }
    sqlite3_busy_timeout(dst, S_BUSY_MS);
    rc = s_sqlite_copy(dst, src);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(dst, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        code = admin_fail(CMN_EXIT_UNAVAILABLE, "restore: copy into %s failed: %s", store,
                          sqlite3_errstr(rc));
        goto out;
    }
    printf(admin_tr("restored %s into %s (schema version %d); start the daemons, then run "
                    "ciu-admin check\n"),
           file, store, version);
out:
    sqlite3_close(dst);
    sqlite3_close(src);
    return code;
}

/* --- PostgreSQL ------------------------------------------------------------ */

/* Run argv (a PostgreSQL client program) with the connection of url as PG*
 * environment variables. stdout_null: its standard output goes nowhere.
 * Its exit status, or -1 when it could not run. */
static int s_pg_run(const char *url, char *const argv[], bool stdout_null)
{
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &err);
    int status = -1;
    if (opts == NULL) {
        admin_fail(CMN_EXIT_CONFIG, "DATABASE_URL: %s", err ? err : "cannot be parsed");
        PQfreemem(err);
        return -1;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        for (PQconninfoOption *o = opts; o->keyword; o++)
            if (o->envvar && o->val && *o->val)
                setenv(o->envvar, o->val, 1);
        if (stdout_null) {
            int fd = open("/dev/null", O_WRONLY);
            if (fd >= 0)
                dup2(fd, STDOUT_FILENO);
        }
        execvp(argv[0], argv);
        fprintf(stderr, "ciu-admin: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    PQconninfoFree(opts);
    if (pid < 0) {
        admin_fail(CMN_EXIT_SOFTWARE, "cannot start %s: %s", argv[0], strerror(errno));
        return -1;
    }
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0)
        if (errno != EINTR)
            return -1;
    status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + (WIFSIGNALED(ws) ? WTERMSIG(ws) : 0);
    return status;
}

/* The database name of url (for pg_restore --dbname), or NULL. Caller frees. */
static char *s_pg_dbname(const char *url)
{
    PQconninfoOption *opts = PQconninfoParse(url, NULL);
    char *name = NULL;
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (strcmp(o->keyword, "dbname") == 0 && o->val)
            name = strdup(o->val);
    PQconninfoFree(opts);
    return name;
}

static int s_pg_backup(const char *url, const char *file)
{
    cmn_str_t tmp = CMN_STR_INIT(8192), opt = CMN_STR_INIT(8192);
    int code = CMN_EXIT_OK;
    struct stat sb;
    if (cmn_str_printf(&tmp, "%s.tmp.%ld", file, (long)getpid()) < 0 ||
        cmn_str_printf(&opt, "--file=%s", cmn_str_cstr(&tmp)) < 0) {
        code = admin_fail(CMN_EXIT_USAGE, "backup: file name too long");
        goto out;
    }
    char *dump[] = {"pg_dump",         "--format=custom",          "--no-owner",
                    "--no-privileges", (char *)cmn_str_cstr(&opt), NULL};
    char *list[] = {"pg_restore", "--list", (char *)cmn_str_cstr(&tmp), NULL};
    int st = s_pg_run(url, dump, false);
    if (st != 0) {
        code = admin_fail(st == 127 ? CMN_EXIT_CONFIG : CMN_EXIT_UNAVAILABLE,
                          st == 127 ? "backup: pg_dump is not installed (package "
                                      "postgresql-client, the server's major version)"
                                    : "backup: pg_dump failed (exit status %d, see above)",
                          st);
        goto out;
    }
    chmod(cmn_str_cstr(&tmp), 0600);
    if (s_pg_run(url, list, true) != 0) {
        code = admin_fail(ADMIN_EXIT_DATAERR, "backup: pg_restore --list cannot read the dump");
        goto out;
    }
    int fd = open(cmn_str_cstr(&tmp), O_RDONLY | O_CLOEXEC);
    bool ok = fd >= 0 && fsync(fd) == 0 && fstat(fd, &sb) == 0;
    if (fd >= 0)
        close(fd);
    if (!ok || link(cmn_str_cstr(&tmp), file) != 0) {
        code =
            admin_fail(ADMIN_EXIT_CANTCREAT, "backup: cannot write %s: %s", file, strerror(errno));
        goto out;
    }
    printf(admin_tr("backup written to %s: PostgreSQL (pg_dump custom format), %lld bytes\n"), file,
           (long long)sb.st_size);
    printf("%s", admin_tr("UIC_SALT is not in the backup: keep it with the backups\n"));
out:
    if (tmp.len > 0)
        unlink(cmn_str_cstr(&tmp));
    cmn_str_free(&tmp);
    cmn_str_free(&opt);
    return code;
}

static int s_pg_restore(admin_db_t *db, const char *url, const char *file)
{
    char *name = s_pg_dbname(url);
    cmn_str_t opt = CMN_STR_INIT(8192);
    int64_t others = 0;
    int code = CMN_EXIT_OK, version = 0;
    char *list[] = {"pg_restore", "--list", (char *)file, NULL};

    if (access(file, R_OK) != 0) {
        code =
            admin_fail(ADMIN_EXIT_NOT_FOUND, "restore: cannot read %s: %s", file, strerror(errno));
        goto out;
    }
    if (s_pg_run(url, list, true) != 0) {
        code =
            admin_fail(ADMIN_EXIT_DATAERR, "restore: %s is not a pg_dump custom-format file", file);
        goto out;
    }
    if (cmn_store_query_int(db->store,
                            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = "
                            "current_database() AND pid <> pg_backend_pid()",
                            NULL, 0, 0, &others) < 0) {
        code = admin_store_fail(db->store, "list the database's sessions");
        goto out;
    }
    if (others > 0) {
        code = admin_fail(CMN_EXIT_UNAVAILABLE,
                          "the database is in use (%lld other sessions): stop every daemon "
                          "before a restore",
                          (long long)others);
        goto out;
    }
    cmn_store_destroy(&db->store); /* pg_restore --clean drops what this session reads */
    if (name == NULL || cmn_str_printf(&opt, "--dbname=%s", name) < 0) {
        code = admin_fail(CMN_EXIT_CONFIG, "DATABASE_URL: no database name");
        goto out;
    }
    char *restore[] = {"pg_restore",      "--clean",
                       "--if-exists",     "--no-owner",
                       "--no-privileges", "--single-transaction",
                       "--exit-on-error", (char *)cmn_str_cstr(&opt),
                       (char *)file,      NULL};
    int st = s_pg_run(url, restore, false);
    if (st != 0) {
        code = admin_fail(st == 127 ? CMN_EXIT_CONFIG : CMN_EXIT_UNAVAILABLE,
                          "restore: pg_restore failed (exit status %d, see above); the database "
                          "is unchanged (one transaction)",
                          st);
        goto out;
    }
    char msg[256] = "";
    if (cmn_store_open(url, &db->store, msg, sizeof(msg)) < 0 ||
        cmn_store_schema_version(db->store, &version) < 0) {
        code = admin_fail(CMN_EXIT_UNAVAILABLE, "restore: cannot read the restored store: %s",
                          msg[0] ? msg : cmn_store_errmsg(db->store));
        goto out;
    }
    printf(admin_tr("restored %s into %s (schema version %d); start the daemons, then run "
                    "ciu-admin check\n"),
           file, name, version);
out:
    free(name);
    cmn_str_free(&opt);
    return code;
}

int admin_backup_main(int argc, char **argv)
{
    bool restore = strcmp(argv[0], "restore") == 0;
    admin_db_t db;
    char *url = NULL;
    int code;

    if (admin_wants_help(argc, argv, restore ? s_usage_restore : s_usage_backup))
        return CMN_EXIT_OK;
    if (argc != 2 || argv[1][0] == '-' || argv[1][0] == '\0')
        return admin_fail(CMN_EXIT_USAGE, restore ? "usage: ciu-admin restore FILE"
                                                  : "usage: ciu-admin backup FILE");
    const char *file = argv[1];
    if (!restore && access(file, F_OK) == 0)
        return admin_fail(ADMIN_EXIT_CANTCREAT, "backup: %s exists: choose a new file name", file);
    memset(&db, 0, sizeof(db));
    char *err = NULL;
    if (cmn_settings_load(&db.settings, &err) < 0) {
        code = admin_fail(CMN_EXIT_CONFIG, "bad configuration: %s", err ? err : "?");
        free(err);
        return code;
    }
    db.settings_loaded = true;
    url = cmn_settings_store_url(&db.settings);
    if (url == NULL) {
        code = admin_fail(CMN_EXIT_SOFTWARE, "out of memory");
        goto out;
    }
    bool pg = strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0;
    if (!pg && !restore) {
        code = access(url, F_OK) == 0
                   ? s_sqlite_backup(url, file)
                   : admin_fail(CMN_EXIT_UNAVAILABLE,
                                "no SQLite store at %s (check CIU_DATA_DIR / DATABASE_URL)", url);
    } else if (!pg) {
        code = s_sqlite_restore(&db, url, file);
    } else {
        char msg[512] = "", shown[512] = "";
        if (cmn_store_open(url, &db.store, msg, sizeof(msg)) < 0) {
            cmn_store_url_redact(url, shown, sizeof(shown));
            code = admin_fail(CMN_EXIT_UNAVAILABLE, "cannot open the store %s: %s", shown, msg);
        } else {
            code = restore ? s_pg_restore(&db, url, file) : s_pg_backup(url, file);
        }
    }
out:
    free(url);
    admin_db_close(&db);
    return code;
}
