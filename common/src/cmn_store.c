/* cmn_store: the API of the store, results, the statement cache, error
 * texts. The backends are cmn_store_sqlite.c and cmn_store_pg.c, the
 * migrations cmn_store_migrate.c.
 *
 * See common/include/common/cmn_store.h for the contract and
 * docs/common/store.md for the design (placeholders, transactions,
 * migrations, concurrency, timeouts).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmn_store_int.h"
#include "common/cmn_hash.h"

/* ---------------------------------------------------------------- helpers */

void cmn_store_one_line(char *s)
{
    size_t n;

    for (char *p = s; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
    n = strlen(s);
    while (n > 0 && s[n - 1] == ' ')
        s[--n] = '\0';
}

void cmn_store_set_err(cmn_store_t *st, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(st->err, sizeof(st->err), fmt, ap);
    va_end(ap);
    cmn_store_one_line(st->err);
}

/* ------------------------------------------------------------------- URLs */

#define S_SECRET_MAX 256

/* Copy [s, s+n) into out, percent-decoded when decode is set. */
static void s_copy_span(const char *s, size_t n, bool decode, char *out, size_t outlen)
{
    size_t o = 0;

    for (size_t i = 0; i < n && o + 1 < outlen; i++) {
        if (decode && s[i] == '%' && i + 2 < n && cmn_hex_digit(s[i + 1]) >= 0 &&
            cmn_hex_digit(s[i + 2]) >= 0) {
            out[o++] = (char)(cmn_hex_digit(s[i + 1]) * 16 + cmn_hex_digit(s[i + 2]));
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
}

/* Locate the password spans of a URL: in the userinfo ("user:PW@") and in the
 * query ("?password=PW"). Returns how many were found (0..2). */
static int s_url_password_spans(const char *url, const char *start[2], size_t len[2])
{
    const char *auth = strstr(url, "://");
    const char *end, *at = NULL, *colon = NULL, *q;
    int n = 0;

    if (!auth)
        return 0;
    auth += 3;
    end = auth + strcspn(auth, "/?#");
    for (const char *p = auth; p < end; p++)
        if (*p == '@')
            at = p;
    if (at) {
        colon = memchr(auth, ':', (size_t)(at - auth));
        if (colon) {
            start[n] = colon + 1;
            len[n] = (size_t)(at - colon - 1);
            n++;
        }
    }
    q = strchr(end, '?');
    while (q) {
        q++;
        if (strncmp(q, "password=", 9) == 0) {
            start[n] = q + 9;
            len[n] = strcspn(q + 9, "&#");
            n++;
            break;
        }
        q = strchr(q, '&');
    }
    return n;
}

int cmn_store_url_redact(const char *url, char *out, size_t outlen)
{
    const char *start[2];
    size_t len[2];
    int n;
    cmn_str_t s = CMN_STR_INIT(4096);
    const char *p = url;
    int r;

    if (!url || !out || outlen == 0)
        return -EINVAL;
    n = s_url_password_spans(url, start, len);
    for (int i = 0; i < n; i++) {
        r = cmn_str_append(&s, p, (size_t)(start[i] - p));
        if (r >= 0)
            r = cmn_str_appends(&s, "***");
        if (r < 0)
            goto out;
        p = start[i] + len[i];
    }
    r = cmn_str_appends(&s, p);
    if (r < 0)
        goto out;
    r = cmn_strlcpy(out, cmn_str_cstr(&s), outlen);
out:
    cmn_str_free(&s);
    return r;
}

/* Replace every occurrence of secret in buf by "***" (bounded by buflen). */
static void s_mask(char *buf, size_t buflen, const char *secret)
{
    size_t sl = strlen(secret);
    cmn_str_t s = CMN_STR_INIT(buflen);
    const char *p = buf, *hit;

    if (sl == 0 || !strstr(buf, secret))
        return;
    while ((hit = strstr(p, secret))) {
        if (cmn_str_append(&s, p, (size_t)(hit - p)) < 0 || cmn_str_appends(&s, "***") < 0)
            goto fail;
        p = hit + sl;
    }
    if (cmn_str_appends(&s, p) < 0)
        goto fail;
    cmn_strlcpy(buf, cmn_str_cstr(&s), buflen);
    cmn_str_free(&s);
    return;
fail:
    /* Cannot mask within bounds: drop the text rather than leak it. */
    cmn_strlcpy(buf, "error text withheld (contains a secret)", buflen);
    cmn_str_free(&s);
}

void cmn_store_mask_url_secrets(char *buf, size_t buflen, const char *url)
{
    const char *start[2];
    size_t len[2];
    char secret[S_SECRET_MAX];
    int n = s_url_password_spans(url, start, len);

    for (int i = 0; i < n; i++) {
        s_copy_span(start[i], len[i], false, secret, sizeof(secret));
        s_mask(buf, buflen, secret);
        s_copy_span(start[i], len[i], true, secret, sizeof(secret));
        s_mask(buf, buflen, secret);
    }
}

/* ------------------------------------------------------------------- rows */

void cmn_rowbuf_init(cmn_rowbuf_t *b)
{
    memset(b, 0, sizeof(*b));
    b->data = (cmn_str_t)CMN_STR_INIT(CMN_STORE_ROWS_MAX);
}

int cmn_rowbuf_add(cmn_rowbuf_t *b, const char *s, size_t len)
{
    int r;

    if (b->noffs == b->capoffs) {
        size_t cap = b->capoffs ? b->capoffs * 2 : 64;
        size_t *n = realloc(b->offs, cap * sizeof(*n));

        if (!n)
            return -ENOMEM;
        b->offs = n;
        b->capoffs = cap;
    }
    if (!s) {
        b->offs[b->noffs++] = SIZE_MAX;
        return 0;
    }
    b->offs[b->noffs] = b->data.len;
    r = cmn_str_append(&b->data, s, len);
    if (r >= 0)
        r = cmn_str_append(&b->data, "", 1); /* keep the NUL between cells */
    if (r < 0)
        return r;
    b->noffs++;
    return 0;
}

void cmn_rowbuf_free(cmn_rowbuf_t *b)
{
    free(b->offs);
    cmn_str_free(&b->data);
    memset(b, 0, sizeof(*b));
}

int cmn_rowbuf_finish(cmn_rowbuf_t *b, cmn_rows_t **ret_rows)
{
    cmn_rows_t *rows = calloc(1, sizeof(*rows));

    if (!rows)
        return -ENOMEM;
    rows->ncols = b->ncols;
    rows->nrows = b->ncols > 0 ? (int)(b->noffs / (size_t)b->ncols) : 0;
    if (b->noffs > 0) {
        rows->cells = calloc(b->noffs, sizeof(*rows->cells));
        if (!rows->cells) {
            free(rows);
            return -ENOMEM;
        }
        rows->data = b->data.buf; /* may be NULL when every cell is NULL */
        b->data.buf = NULL;
        for (size_t i = 0; i < b->noffs; i++)
            rows->cells[i] = b->offs[i] == SIZE_MAX ? NULL : rows->data + b->offs[i];
    }
    cmn_rowbuf_free(b);
    *ret_rows = rows;
    return 0;
}

int cmn_rows_count(const cmn_rows_t *r)
{
    return r ? r->nrows : 0;
}

int cmn_rows_cols(const cmn_rows_t *r)
{
    return r ? r->ncols : 0;
}

const char *cmn_rows_get(const cmn_rows_t *r, int row, int col)
{
    if (!r || row < 0 || col < 0 || row >= r->nrows || col >= r->ncols)
        return NULL;
    return r->cells[(size_t)row * (size_t)r->ncols + (size_t)col];
}

int64_t cmn_rows_int(const cmn_rows_t *r, int row, int col, int64_t dflt)
{
    const char *s = cmn_rows_get(r, row, col);
    char *end;
    long long v;

    if (!s || !*s)
        return dflt;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return dflt;
    return (int64_t)v;
}

void cmn_rows_destroy(cmn_rows_t **p)
{
    if (!p || !*p)
        return;
    free((*p)->cells);
    free((*p)->data);
    free(*p);
    *p = NULL;
}

/* ------------------------------------------------------------------ cache */

cmn_store_cached_t *cmn_store_cache_find(cmn_store_t *st, const char *sql, uint64_t h)
{
    for (size_t i = 0; i < st->ncache; i++)
        if (st->cache[i].hash == h && strcmp(st->cache[i].sql, sql) == 0)
            return &st->cache[i];
    return NULL;
}

cmn_store_cached_t *cmn_store_cache_add(cmn_store_t *st, const char *sql, uint64_t h)
{
    cmn_store_cached_t *c;

    if (st->ncache >= CMN_STORE_CACHE_MAX)
        return NULL;
    if (!st->cache) {
        st->cache = calloc(CMN_STORE_CACHE_MAX, sizeof(*st->cache));
        if (!st->cache)
            return NULL;
    }
    c = &st->cache[st->ncache];
    memset(c, 0, sizeof(*c));
    c->sql = strdup(sql);
    if (!c->sql)
        return NULL;
    c->hash = h;
    st->ncache++;
    return c;
}

/* Drop one entry (PostgreSQL: the server side is deallocated by the caller). */
void cmn_store_cache_remove(cmn_store_t *st, cmn_store_cached_t *c)
{
    size_t i = (size_t)(c - st->cache);

    st->be->stmt_free(c->stmt);
    free(c->sql);
    st->cache[i] = st->cache[st->ncache - 1];
    st->ncache--;
}

void cmn_store_cache_clear(cmn_store_t *st)
{
    for (size_t i = 0; i < st->ncache; i++) {
        st->be->stmt_free(st->cache[i].stmt);
        free(st->cache[i].sql);
    }
    st->ncache = 0;
}

/* ------------------------------------------------------------------ store */

static bool s_is_pg_url(const char *url)
{
    return strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0;
}

int cmn_store_open(const char *url, cmn_store_t **ret_st, char *err, size_t errlen)
{
    cmn_store_t *st = NULL;
    char dummy[8];
    int r;

    if (!err || errlen == 0) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    err[0] = '\0';
    if (!url || !*url || !ret_st) {
        snprintf(err, errlen, "no database URL");
        return -EINVAL;
    }
    st = calloc(1, sizeof(*st));
    if (!st) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    st->timeout_ms = CMN_STORE_TIMEOUT_MS;
    if (s_is_pg_url(url)) {
        st->kind = CMN_STORE_POSTGRES;
        st->be = &cmn_store_pg_backend;
    } else {
        st->kind = CMN_STORE_SQLITE;
        st->be = &cmn_store_sqlite_backend;
        url = strncmp(url, "sqlite://", 9) == 0 ? url + 9 : url;
        if (!*url) {
            snprintf(err, errlen, "empty SQLite path");
            r = -EINVAL;
            goto out_store;
        }
    }
    r = st->be->open(st, url, err, errlen);
    if (r < 0)
        goto out_store;
    *ret_st = st;
    return 0;
out_store:
    cmn_store_destroy(&st);
    return r;
}

void cmn_store_destroy(cmn_store_t **p)
{
    cmn_store_t *st;

    if (!p || !*p)
        return;
    st = *p;
    cmn_store_cache_clear(st);
    free(st->cache);
    st->be->close(st);
    free(st);
    *p = NULL;
}

cmn_store_kind_t cmn_store_kind(const cmn_store_t *st)
{
    return st->kind;
}

const char *cmn_store_errmsg(const cmn_store_t *st)
{
    return st ? st->err : "";
}

int cmn_store_set_timeout(cmn_store_t *st, long timeout_ms)
{
    if (!st || timeout_ms < 1)
        return -EINVAL;
    st->timeout_ms = timeout_ms;
    return 0;
}

static int s_check_args(cmn_store_t *st, const char *sql, const cmn_param_t *params, int nparams)
{
    if (!st || !sql || nparams < 0 || (nparams > 0 && !params)) {
        if (st)
            cmn_store_set_err(st, "invalid arguments");
        return -EINVAL;
    }
    st->err[0] = '\0';
    return 0;
}

int cmn_store_run(cmn_store_t *st, const char *sql, const cmn_param_t *params, int nparams,
                  bool nocache, int64_t *ret_changes, cmn_rows_t **ret_rows)
{
    int r = s_check_args(st, sql, params, nparams);

    if (r < 0)
        return r;
    return st->be->run(st, sql, params, nparams, nocache, ret_changes, ret_rows);
}

int cmn_store_script(cmn_store_t *st, const char *sql)
{
    return st->be->script(st, sql);
}

int cmn_store_exec(cmn_store_t *st, const char *sql, const cmn_param_t *params, int nparams,
                   int64_t *ret_changes)
{
    return cmn_store_run(st, sql, params, nparams, false, ret_changes, NULL);
}

int cmn_store_query(cmn_store_t *st, const char *sql, const cmn_param_t *params, int nparams,
                    cmn_rows_t **ret_rows)
{
    if (!ret_rows)
        return -EINVAL;
    return cmn_store_run(st, sql, params, nparams, false, NULL, ret_rows);
}

int cmn_store_query_int(cmn_store_t *st, const char *sql, const cmn_param_t *params, int nparams,
                        int64_t dflt, int64_t *ret_value)
{
    cmn_rows_t *rows = NULL;
    int r = cmn_store_run(st, sql, params, nparams, false, NULL, &rows);

    if (r == 0 && ret_value)
        *ret_value = cmn_rows_int(rows, 0, 0, dflt);
    cmn_rows_destroy(&rows);
    return r;
}

int cmn_store_begin(cmn_store_t *st)
{
    if (!st)
        return -EINVAL;
    st->err[0] = '\0';
    return st->be->begin(st);
}

int cmn_store_commit(cmn_store_t *st)
{
    if (!st)
        return -EINVAL;
    st->err[0] = '\0';
    return st->be->commit(st);
}

int cmn_store_rollback(cmn_store_t *st)
{
    if (!st)
        return -EINVAL;
    return st->be->rollback(st);
}

int cmn_store_ping(cmn_store_t *st)
{
    if (!st)
        return -EINVAL;
    return st->be->ping(st);
}

int cmn_store_set_synchronous(cmn_store_t *st, const char *mode)
{
    bool full, normal;

    if (!st || !mode)
        return -EINVAL;
    full = strcmp(mode, "full") == 0;
    normal = strcmp(mode, "normal") == 0;
    if (!full && !normal)
        return -EINVAL;
    if (st->kind != CMN_STORE_SQLITE)
        return 0;
    return st->be->script(st, full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
}

int cmn_store_checkpoint(cmn_store_t *st)
{
    if (!st)
        return -EINVAL;
    return st->be->checkpoint(st);
}
