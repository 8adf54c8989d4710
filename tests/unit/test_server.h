/* test_server: embed a stage's server object in a unit test.
 *
 * tsv_boot sets a known environment (the case's database, a data folder
 * and ipc:// endpoints in a temporary folder, no admin listener, quiet
 * logs, the simulator's demo salt) and boots a cmn_daemon_t in-process
 * from the temporary folder (so no ./.env is read). The test then creates
 * the server with <x>_new(&d) and calls its batch and scan entry points
 * directly. tsv_int runs a query and returns its first cell. Waits are
 * never needed: every call finishes its transaction before returning.
 * Needs cmocka.h before it (the PostgreSQL helpers assert).
 */
#ifndef TEST_SERVER_H
#define TEST_SERVER_H

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cmn_daemon.h"
#include "test_db.h"
#include "test_util.h"

typedef struct {
    char dir[64];
    char cwd[4096];
} tsv_dir_t;

static inline int tsv_dir_new(tsv_dir_t *t)
{
    snprintf(t->dir, sizeof(t->dir), "/tmp/ciu-server-XXXXXX");
    if (mkdtemp(t->dir) == NULL || getcwd(t->cwd, sizeof(t->cwd)) == NULL)
        return -1;
    return chdir(t->dir);
}

/* Leave and remove the folder (flat, plus the media subfolder). */
static inline void tsv_dir_free(tsv_dir_t *t)
{
    char media[128];

    if (chdir(t->cwd) != 0)
        return;
    snprintf(media, sizeof(media), "%s/media", t->dir);
    tu_rmdir_flat(media);
    tu_rmdir_flat(t->dir);
}

/* One case of a server test: the case's database (test_db.h), a folder, the
 * daemon and the server under test (destroyed with `destroy` before the
 * daemon shuts down). Use tsv_case_setup/teardown as cmocka's per-case
 * setup and teardown; *state is then the tsv_case_t. */
typedef struct {
    tdb_group_t *g;
    tsv_dir_t dir;
    cmn_daemon_t d;
    void *server;
    void (*destroy)(void *server);
    int seq; /* for the unique ids a test makes */
} tsv_case_t;

static inline int tsv_case_setup(void **state)
{
    tsv_case_t *c = calloc(1, sizeof(*c));

    if (c == NULL || tdb_case_setup(state) < 0 || tsv_dir_new(&c->dir) < 0)
        return -1;
    c->g = *state;
    *state = c;
    return 0;
}

static inline int tsv_case_teardown(void **state)
{
    tsv_case_t *c = *state;

    if (c->server && c->destroy)
        c->destroy(c->server);
    cmn_daemon_shutdown(&c->d);
    tsv_dir_free(&c->dir);
    *state = c->g;
    free(c);
    return tdb_case_teardown(state);
}

/* What to boot: the stage's endpoint list `eps` for variable `ep_var`
 * (NULL: one replica), CIU_BIND (NULL: the first endpoint), and more
 * settings as name, value pairs ending with NULL. */
typedef struct {
    const char *ep_var;
    const char *eps;
    const char *bind;
    const char *const *env;
} tsv_opts_t;

/* Boot daemon `name` on `url` (o may be NULL). Returns cmn_daemon_boot's
 * result; call cmn_daemon_shutdown anyway. */
static inline int tsv_boot(cmn_daemon_t *d, const tsv_dir_t *t, const char *name, const char *url,
                           const tsv_opts_t *o)
{
    static const char *const vars[] = {
        "CIU_CONVERSATION_ENDPOINTS", "CIU_ENGINE_ENDPOINTS", "CIU_DHIS2_ENDPOINTS",
        "CIU_SENDER_ENDPOINTS",       "CIU_INGRESS_EVENTS",   "CIU_CONVERSATION_EVENTS",
        "CIU_ENGINE_EVENTS",          "CIU_DHIS2_EVENTS",     "CIU_SENDER_EVENTS"};
    static const char *const unset[] = {"UIC_SALT",
                                        "SESSION_TIMEOUT_MINUTES",
                                        "CIU_BATCH_MAX",
                                        "LOG_JSON",
                                        "CIU_FLOOD_MAX_MESSAGES",
                                        "CIU_FLOOD_WINDOW_SECONDS",
                                        "CIU_FLOOD_BLOCK_SECONDS",
                                        "ENABLE_QR_CODE",
                                        "DHIS2_BASE_URL"};
    char *argv[] = {(char *)name, NULL};
    char v[512];

    for (size_t i = 0; i < sizeof(unset) / sizeof(unset[0]); i++)
        unsetenv(unset[i]);
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        snprintf(v, sizeof(v), "ipc://%s/%s-%s", t->dir, name, vars[i] + 4);
        setenv(vars[i], v, 1);
    }
    if (o && o->eps)
        setenv(o->ep_var, o->eps, 1);
    if (o && o->bind)
        setenv("CIU_BIND", o->bind, 1);
    else
        unsetenv("CIU_BIND");
    for (size_t i = 0; o && o->env && o->env[i]; i += 2)
        setenv(o->env[i], o->env[i + 1], 1);
    setenv("DATABASE_URL", url, 1);
    setenv("CIU_DATA_DIR", t->dir, 1);
    setenv("CIU_SIMULATOR", "true", 1);
    setenv("LOG_LEVEL", "error", 1);
    cmn_stop_g = 0;
    return cmn_daemon_boot(d, name, 1, argv, -1);
}

/* The first cell of a query as an integer (-1 on error or no row). */
static inline int64_t tsv_int(cmn_store_t *st, const char *sql, const cmn_param_t *p, int n)
{
    int64_t v = -1;

    cmn_store_query_int(st, sql, p, n, -1, &v);
    return v;
}

/* PostgreSQL: make the first `event` ("INSERT ON outbox", "DELETE ON
 * ciu_requests") run `action` (plpgsql) once, whatever rolls back: a
 * sequence is not transactional. */
static inline void tsv_pg_once(cmn_store_t *st, const char *event, const char *action)
{
    char sql[1024];

    assert_int_equal(cmn_store_exec(st, "CREATE SEQUENCE once_seq", NULL, 0, NULL), 0);
    snprintf(sql, sizeof(sql),
             "CREATE FUNCTION once_fn() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN IF "
             "nextval('once_seq') = 1 THEN %s; END IF; RETURN COALESCE(NEW, OLD); END $f$",
             action);
    assert_int_equal(cmn_store_exec(st, sql, NULL, 0, NULL), 0);
    snprintf(sql, sizeof(sql),
             "CREATE TRIGGER once_tr BEFORE %s FOR EACH ROW EXECUTE FUNCTION once_fn()", event);
    assert_int_equal(cmn_store_exec(st, sql, NULL, 0, NULL), 0);
}

/* PostgreSQL: another writer that commits `sql` while the server's
 * transaction is held inside the trigger set by tsv_pg_once(...,
 * TSV_PG_HOLD): the racer holds advisory lock 42, waits until the server
 * waits for it, commits its write, then lets the server go on. */
#define TSV_PG_HOLD "PERFORM pg_advisory_xact_lock(42)"

typedef struct {
    cmn_store_t *st;
    const char *sql;
    int r;
    pthread_t th;
} tsv_racer_t;

static inline void *tsv_racer_run(void *arg)
{
    tsv_racer_t *x = arg;

    x->r = -ETIMEDOUT;
    for (int i = 0; i < 3000; i++) { /* up to 30 s: only reached on failure */
        if (tsv_int(x->st,
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 42 "
                    "AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname "
                    "= current_database())",
                    NULL, 0) > 0) {
            x->r = cmn_store_exec(x->st, x->sql, NULL, 0, NULL);
            break;
        }
        usleep(10000);
    }
    tsv_int(x->st, "SELECT count(*) FROM (SELECT pg_advisory_unlock(42)) AS u", NULL, 0);
    return NULL;
}

static inline void tsv_racer_start(tsv_racer_t *x, const tdb_group_t *g, const char *sql)
{
    x->st = tdb_open(g);
    x->sql = sql;
    assert_non_null(x->st);
    assert_int_equal(
        tsv_int(x->st, "SELECT count(*) FROM (SELECT pg_advisory_lock(42)) AS l", NULL, 0), 1);
    assert_int_equal(pthread_create(&x->th, NULL, tsv_racer_run, x), 0);
}

static inline void tsv_racer_join(tsv_racer_t *x)
{
    pthread_join(x->th, NULL);
    cmn_store_destroy(&x->st);
    assert_int_equal(x->r, 0);
}

#endif
