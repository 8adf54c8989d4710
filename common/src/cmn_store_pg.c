/* cmn_store_pg: the PostgreSQL backend of cmn_store (libpq).
 *
 * No call waits forever. Every connection is made with TCP keepalives,
 * tcp_user_timeout and a server-side statement_timeout, and every call
 * waits for the server's answer with a deadline of its own (libpq in
 * non-blocking mode, poll() on its socket): a server that stops answering
 * (a paused process, a network gone without a reset) fails the call with
 * -EIO after st->timeout_ms; the connection is then dropped and made again
 * before the next call. The server's statement_timeout is shorter than the
 * client's deadline, so a slow statement is normally cancelled by the server
 * with a clean error first. Connecting is bounded by connect_timeout.
 *
 * Statements are prepared once per connection (PQsendPrepare, "ciu_s<n>")
 * and cached by SQL text. See docs/common/store.md.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "cmn_store_int.h"
#include "common/cmn_hash.h"

#define S_CONNECT_TIMEOUT "10"     /* s, per connection attempt */
#define S_KEEPALIVES_IDLE "30"     /* s of silence before the first probe */
#define S_KEEPALIVES_INTERVAL "10" /* s between probes */
#define S_KEEPALIVES_COUNT "3"     /* probes lost before the connection is dead */
#define S_TCP_USER_TIMEOUT "30000" /* ms sent data may stay unacknowledged */
/* Server side: a statement, and a transaction left idle by a client, end. */
#define S_OPTIONS "-c statement_timeout=30000 -c idle_in_transaction_session_timeout=120000"

static PGconn *s_conn(const cmn_store_t *st)
{
    return st->pg;
}

static int64_t s_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void s_pg_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message; /* library code does not log; NOTICEs are dropped */
}

static bool s_usable(const cmn_store_t *st)
{
    return !st->broken && PQstatus(s_conn(st)) == CONNECTION_OK;
}

static int s_pg_error(cmn_store_t *st, const PGresult *res)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    /* Only the primary message: DETAIL may quote row values (phone numbers). */
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

    if (!msg || !*msg)
        msg = PQerrorMessage(s_conn(st));
    cmn_store_set_err(st, "%s (SQLSTATE %s)", msg && *msg ? msg : "unknown error",
                      state ? state : "none");
    if (!state)
        return -EIO;
    if (strcmp(state, "23505") == 0)
        return -EEXIST;
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0)
        return -EBUSY;
    return -EIO;
}

static int s_pg_open(cmn_store_t *st, const char *url, char *err, size_t errlen)
{
    /* The URL comes last so its own settings win. */
    const char *const keys[] = {"connect_timeout",
                                "fallback_application_name",
                                "keepalives",
                                "keepalives_idle",
                                "keepalives_interval",
                                "keepalives_count",
                                "tcp_user_timeout",
                                "options",
                                "dbname",
                                NULL};
    const char *const vals[] = {S_CONNECT_TIMEOUT,
                                "ciu",
                                "1",
                                S_KEEPALIVES_IDLE,
                                S_KEEPALIVES_INTERVAL,
                                S_KEEPALIVES_COUNT,
                                S_TCP_USER_TIMEOUT,
                                S_OPTIONS,
                                url,
                                NULL};
    PQconninfoOption *opts;
    char *perr = NULL;

    opts = PQconninfoParse(url, &perr);
    if (!opts) {
        snprintf(err, errlen, "bad PostgreSQL URL: %s", perr ? perr : "out of memory");
        PQfreemem(perr);
        cmn_store_one_line(err);
        cmn_store_mask_url_secrets(err, errlen, url);
        return -EINVAL;
    }
    PQconninfoFree(opts);
    st->pg = PQconnectdbParams(keys, vals, 1);
    if (!st->pg) {
        snprintf(err, errlen, "cannot connect to PostgreSQL: out of memory");
        return -ENOMEM;
    }
    PQsetNoticeProcessor(s_conn(st), s_pg_notice, NULL);
    if (PQstatus(s_conn(st)) != CONNECTION_OK) {
        snprintf(err, errlen, "cannot connect to PostgreSQL: %s", PQerrorMessage(s_conn(st)));
        cmn_store_one_line(err);
        cmn_store_mask_url_secrets(err, errlen, url);
        return -ECONNREFUSED;
    }
    if (PQsetnonblocking(s_conn(st), 1) != 0) {
        snprintf(err, errlen, "cannot make the PostgreSQL connection non-blocking");
        return -EIO;
    }
    return 0;
}

static void s_pg_close(cmn_store_t *st)
{
    if (st->pg)
        PQfinish(s_conn(st));
    st->pg = NULL;
}

/* Reconnect (outside transactions only); prepared statements are gone.
 * Bounded by connect_timeout. */
static int s_pg_reset(cmn_store_t *st)
{
    cmn_store_cache_clear(st);
    PQreset(s_conn(st));
    if (PQstatus(s_conn(st)) != CONNECTION_OK) {
        cmn_store_set_err(st, "PostgreSQL connection lost: %s", PQerrorMessage(s_conn(st)));
        return -EIO;
    }
    if (PQsetnonblocking(s_conn(st), 1) != 0) {
        cmn_store_set_err(st, "cannot make the PostgreSQL connection non-blocking");
        return -EIO;
    }
    st->broken = false;
    return 0;
}

/* Wait until the socket is ready for `events`, at most until deadline.
 * 0, -ETIMEDOUT, -EIO. */
static int s_wait(cmn_store_t *st, short events, int64_t deadline)
{
    int fd = PQsocket(s_conn(st));

    if (fd < 0)
        return -EIO;
    for (;;) {
        int64_t left = deadline - s_mono_ms();
        struct pollfd p = {fd, events, 0};
        int n;

        if (left <= 0)
            return -ETIMEDOUT;
        n = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
        if (n > 0)
            return 0;
        if (n == 0)
            return -ETIMEDOUT;
        if (errno != EINTR)
            return -EIO;
    }
}

/* After a PQsend*: flush, wait for and collect every result. *ret_res gets
 * the first failed result, else the last one (NULL when the connection
 * broke: see PQerrorMessage). -EIO after the deadline (the connection is
 * then marked broken, to be made again), else 0. */
static int s_collect(cmn_store_t *st, PGresult **ret_res)
{
    PGconn *c = s_conn(st);
    int64_t deadline = s_mono_ms() + st->timeout_ms;
    PGresult *keep = NULL, *res;
    int f, r = 0;

    while ((f = PQflush(c)) > 0) {
        r = s_wait(st, POLLIN | POLLOUT, deadline);
        if (r < 0 || !PQconsumeInput(c))
            goto out;
    }
    if (f < 0)
        goto out;
    for (;;) {
        while (PQisBusy(c)) {
            r = s_wait(st, POLLIN, deadline);
            if (r < 0 || !PQconsumeInput(c))
                goto out;
        }
        res = PQgetResult(c);
        if (!res)
            break;
        ExecStatusType s = PQresultStatus(res);
        bool failed = s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK && s != PGRES_EMPTY_QUERY;
        ExecStatusType ks = keep ? PQresultStatus(keep) : PGRES_COMMAND_OK;
        bool keep_failed =
            keep && ks != PGRES_COMMAND_OK && ks != PGRES_TUPLES_OK && ks != PGRES_EMPTY_QUERY;
        if (keep_failed && !failed) {
            PQclear(res);
        } else {
            PQclear(keep);
            keep = res;
        }
    }
out:
    if (r < 0) {
        PQclear(keep);
        keep = NULL;
        st->broken = true;
        cmn_store_set_err(st, "PostgreSQL did not answer within %ld ms: connection dropped",
                          st->timeout_ms);
        *ret_res = NULL;
        return -EIO;
    }
    *ret_res = keep;
    return 0;
}

/* One attempt: prepared and cached, or unprepared when the cache is full or
 * nocache. 0 with *ret_res (NULL on a broken connection), or -EIO after a
 * timeout (error text set). */
static int s_exec_once(cmn_store_t *st, const char *sql, int nparams, const char *const *values,
                       bool nocache, PGresult **ret_res)
{
    PGconn *c = s_conn(st);
    uint64_t h = cmn_fnv1a_str(sql);
    cmn_store_cached_t *cached = nocache ? NULL : cmn_store_cache_find(st, sql, h);
    PGresult *res = NULL;
    int r;

    if (!cached && !nocache) {
        cached = cmn_store_cache_add(st, sql, h);
        if (cached) {
            snprintf(cached->name, sizeof(cached->name), "ciu_s%lu", ++st->next_name);
            r = PQsendPrepare(c, cached->name, sql, 0, NULL) ? s_collect(st, &res) : 0;
            if (r < 0 || !res || PQresultStatus(res) != PGRES_COMMAND_OK) {
                cmn_store_cache_remove(st, cached);
                *ret_res = res;
                return r;
            }
            PQclear(res);
            res = NULL;
        }
    }
    if (cached && !PQsendQueryPrepared(c, cached->name, nparams, values, NULL, NULL, 0)) {
        *ret_res = NULL;
        return 0;
    }
    if (!cached && !PQsendQueryParams(c, sql, nparams, NULL, values, NULL, NULL, 0)) {
        *ret_res = NULL;
        return 0;
    }
    return s_collect(st, ret_res);
}

static bool s_state_is(const PGresult *res, const char *state)
{
    const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

    return s && strcmp(s, state) == 0;
}

static bool s_res_ok(const PGresult *res)
{
    ExecStatusType s = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;

    return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

/* Make sure a connection is there: outside a transaction, reconnect. */
static int s_ensure(cmn_store_t *st)
{
    if (s_usable(st))
        return 0;
    if (st->in_tx) {
        cmn_store_set_err(st, "PostgreSQL connection lost inside a transaction");
        return -EIO;
    }
    return s_pg_reset(st);
}

static int s_rows(cmn_store_t *st, PGresult *res, cmn_rows_t **ret_rows)
{
    cmn_rowbuf_t b;
    int nrows = PQntuples(res);
    int r = 0;

    cmn_rowbuf_init(&b);
    b.ncols = PQnfields(res);
    for (int i = 0; i < nrows && r == 0; i++) {
        for (int c = 0; c < b.ncols && r == 0; c++) {
            bool null = PQgetisnull(res, i, c);

            r = cmn_rowbuf_add(&b, null ? NULL : PQgetvalue(res, i, c),
                               null ? 0 : (size_t)PQgetlength(res, i, c));
        }
    }
    if (r < 0)
        cmn_store_set_err(st, "result too large or out of memory");
    else
        r = cmn_rowbuf_finish(&b, ret_rows);
    cmn_rowbuf_free(&b);
    return r;
}

static int s_pg_run(cmn_store_t *st, const char *sql, const cmn_param_t *params, int nparams,
                    bool nocache, int64_t *ret_changes, cmn_rows_t **ret_rows)
{
    char **values = NULL;
    char *ints = NULL;
    PGresult *res = NULL;
    int r;

    if (nparams > 0) {
        values = calloc((size_t)nparams, sizeof(*values));
        ints = calloc((size_t)nparams, 24);
        if (!values || !ints) {
            r = -ENOMEM;
            goto out;
        }
    }
    for (int i = 0; i < nparams; i++) {
        if (params[i].type == CMN_P_INT) {
            values[i] = ints + (size_t)i * 24;
            snprintf(values[i], 24, "%" PRId64, params[i].i);
        } else if (params[i].type == CMN_P_TEXT) {
            values[i] = (char *)params[i].s;
        }
    }
    for (int attempt = 0;; attempt++) {
        r = s_ensure(st);
        if (r < 0)
            goto out;
        r = s_exec_once(st, sql, nparams, (const char *const *)values, nocache, &res);
        if (r < 0)
            goto out; /* timed out: no second wait */
        if (s_res_ok(res))
            break;
        if (attempt == 0 && !st->in_tx && !s_usable(st)) {
            PQclear(res); /* lost connection: reconnect and retry once */
            res = NULL;
            continue;
        }
        if (attempt == 0 && !st->in_tx && s_state_is(res, "26000")) {
            PQclear(res); /* prepared statement vanished (DISCARD ALL, pooler) */
            res = NULL;
            cmn_store_cache_clear(st);
            continue;
        }
        r = s_pg_error(st, res);
        goto out;
    }
    if (ret_rows) {
        r = s_rows(st, res, ret_rows);
        if (r < 0)
            goto out;
    }
    if (ret_changes) {
        const char *t = PQcmdTuples(res);

        *ret_changes = t && *t ? (int64_t)strtoll(t, NULL, 10) : 0;
    }
    r = 0;
out:
    PQclear(res);
    free(ints);
    free(values);
    return r;
}

static int s_pg_script(cmn_store_t *st, const char *sql)
{
    PGresult *res = NULL;
    int r = s_ensure(st);

    if (r < 0)
        return r;
    r = PQsendQuery(s_conn(st), sql) ? s_collect(st, &res) : 0;
    if (r == 0 && !s_res_ok(res))
        r = s_pg_error(st, res);
    PQclear(res);
    return r;
}

static int s_pg_begin(cmn_store_t *st)
{
    int r;

    if (st->in_tx) {
        cmn_store_set_err(st, "transaction already open");
        return -EINVAL;
    }
    r = s_pg_script(st, "BEGIN");
    if (r < 0)
        return r;
    st->in_tx = true;
    return 0;
}

static int s_pg_commit(cmn_store_t *st)
{
    int r;

    if (!st->in_tx) {
        cmn_store_set_err(st, "no transaction is open");
        return -EINVAL;
    }
    if (s_usable(st) && PQtransactionStatus(s_conn(st)) == PQTRANS_INERROR) {
        /* COMMIT of a failed transaction "succeeds" as a ROLLBACK: report it. */
        s_pg_script(st, "ROLLBACK");
        st->in_tx = false;
        cmn_store_set_err(st, "transaction aborted by an earlier error, rolled back");
        return -EIO;
    }
    r = s_pg_script(st, "COMMIT");
    st->in_tx = false;
    return r;
}

static int s_pg_rollback(cmn_store_t *st)
{
    if (!st->in_tx)
        return 0;
    st->in_tx = false;
    if (!s_usable(st))
        return 0; /* the server drops the transaction with the connection */
    return s_pg_script(st, "ROLLBACK");
}

static int s_pg_ping(cmn_store_t *st)
{
    int r = s_pg_script(st, "SELECT 1");

    if (r < 0 && !st->in_tx && !s_usable(st))
        r = s_pg_script(st, "SELECT 1"); /* s_pg_script reconnects first */
    return r < 0 ? -EIO : 0;
}

static int s_pg_checkpoint(cmn_store_t *st)
{
    (void)st;
    return 0;
}

static void s_pg_stmt_free(void *stmt)
{
    (void)stmt; /* server-side statements go with the connection or DEALLOCATE ALL */
}

static void s_pg_schema_changed(cmn_store_t *st)
{
    /* Cached plans may describe the old schema. */
    cmn_store_cache_clear(st);
    s_pg_script(st, "DEALLOCATE ALL");
}

const cmn_store_backend_t cmn_store_pg_backend = {
    .open = s_pg_open,
    .close = s_pg_close,
    .run = s_pg_run,
    .script = s_pg_script,
    .begin = s_pg_begin,
    .commit = s_pg_commit,
    .rollback = s_pg_rollback,
    .ping = s_pg_ping,
    .checkpoint = s_pg_checkpoint,
    .stmt_free = s_pg_stmt_free,
    .schema_changed = s_pg_schema_changed,
};
