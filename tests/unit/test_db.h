/* test_db: a fresh database per test case, on SQLite and on PostgreSQL.
 *
 * A cmocka group runs once per backend: tdb_group_sqlite (a mkdtemp folder)
 * and tdb_group_pg (the test server of tests/harness/pg.sh, URL read from
 * $CIU_TEST_PG_URL_FILE; the group fails without it: ctest provides it).
 * tdb_case_setup/teardown make and drop the case's database; tdb_open opens
 * it. Database names carry the program name and pid, so test binaries run
 * in parallel on one server without clashing.
 */
#ifndef TEST_DB_H
#define TEST_DB_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "common/cmn_store.h"

typedef struct {
    cmn_store_kind_t kind;
    char admin_url[512]; /* PostgreSQL: the ciu_test database */
    char tmpdir[256];    /* SQLite: one folder for the group */
    char dbname[96];     /* PostgreSQL: this case's database */
    char url[768];       /* this case's database */
    int seq;
} tdb_group_t;

extern char *program_invocation_short_name;

static inline int tdb_pg_admin(const char *admin_url, const char *sql)
{
    PGconn *c = PQconnectdb(admin_url);
    PGresult *res;
    int ok;

    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "admin connect: %s", PQerrorMessage(c));
        PQfinish(c);
        return -1;
    }
    res = PQexec(c, sql);
    ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "admin %s: %s", sql, PQerrorMessage(c));
    PQclear(res);
    PQfinish(c);
    return ok ? 0 : -1;
}

static inline int tdb_group_sqlite(void **state)
{
    tdb_group_t *g = calloc(1, sizeof(*g));

    if (!g)
        return -1;
    g->kind = CMN_STORE_SQLITE;
    snprintf(g->tmpdir, sizeof(g->tmpdir), "/tmp/%s_XXXXXX", program_invocation_short_name);
    if (!mkdtemp(g->tmpdir)) {
        free(g);
        return -1;
    }
    *state = g;
    return 0;
}

static inline int tdb_group_pg(void **state)
{
    const char *file = getenv("CIU_TEST_PG_URL_FILE");
    tdb_group_t *g;
    FILE *f;
    size_t n;

    if (!file || !*file) {
        fprintf(stderr, "CIU_TEST_PG_URL_FILE is not set: run through ctest (pg fixture)\n");
        return -1;
    }
    g = calloc(1, sizeof(*g));
    if (!g)
        return -1;
    g->kind = CMN_STORE_POSTGRES;
    f = fopen(file, "r");
    if (!f) {
        fprintf(stderr, "cannot read %s: %s\n", file, strerror(errno));
        free(g);
        return -1;
    }
    n = fread(g->admin_url, 1, sizeof(g->admin_url) - 1, f);
    fclose(f);
    g->admin_url[n] = '\0';
    g->admin_url[strcspn(g->admin_url, "\r\n")] = '\0';
    if (!strrchr(g->admin_url, '/')) {
        free(g);
        return -1;
    }
    *state = g;
    return 0;
}

static inline int tdb_group_teardown(void **state)
{
    tdb_group_t *g = *state;

    if (g && g->kind == CMN_STORE_SQLITE)
        rmdir(g->tmpdir);
    free(g);
    return 0;
}

/* A fresh database per case. */
static inline int tdb_case_setup(void **state)
{
    tdb_group_t *g = *state;
    char sql[256];

    g->seq++;
    if (g->kind == CMN_STORE_SQLITE) {
        snprintf(g->url, sizeof(g->url), "%s/case%d.db", g->tmpdir, g->seq);
        return 0;
    }
    snprintf(g->dbname, sizeof(g->dbname), "ciu_%.40s_%ld_%d", program_invocation_short_name,
             (long)getpid(), g->seq);
    snprintf(g->url, sizeof(g->url), "%.*s/%s", (int)(strrchr(g->admin_url, '/') - g->admin_url),
             g->admin_url, g->dbname);
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", g->dbname);
    if (tdb_pg_admin(g->admin_url, sql) < 0)
        return -1;
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", g->dbname);
    return tdb_pg_admin(g->admin_url, sql);
}

static inline int tdb_case_teardown(void **state)
{
    tdb_group_t *g = *state;
    char path[800];

    if (g->kind == CMN_STORE_SQLITE) {
        static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};

        for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
            snprintf(path, sizeof(path), "%s%s", g->url, sfx[i]);
            unlink(path);
        }
        return 0;
    }
    snprintf(path, sizeof(path), "DROP DATABASE IF EXISTS %s WITH (FORCE)", g->dbname);
    return tdb_pg_admin(g->admin_url, path);
}

/* Open the case's database; NULL (with a message) on failure. */
static inline cmn_store_t *tdb_open(const tdb_group_t *g)
{
    cmn_store_t *st = NULL;
    char err[256];
    int r = cmn_store_open(g->url, &st, err, sizeof(err));

    if (r < 0)
        fprintf(stderr, "open %s: %d %s\n", g->url, r, err);
    return st;
}

#endif
