/* cmn_metrics: counters, gauges, histograms; Prometheus text 0.0.4.
 * See cmn_metrics.h and docs/common/metrics.md. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cmn_metrics.h"

typedef enum { S_COUNTER, S_GAUGE, S_HISTOGRAM } s_kind_t;

struct cmn_counter {
    _Atomic uint64_t v;
};

struct cmn_gauge {
    _Atomic int64_t v;
};

struct cmn_histogram {
    double *bounds; /* ascending, nbounds of them; +Inf implicit */
    size_t nbounds;
    _Atomic uint64_t *buckets; /* nbounds + 1, NOT cumulative */
    _Atomic uint64_t sum_us;   /* sum of observations in microseconds */
};

typedef struct {
    s_kind_t kind;
    char *name;   /* with prefix */
    char *labels; /* NULL or `k="v",...` */
    char *help;
    union {
        struct cmn_counter counter;
        struct cmn_gauge gauge;
        struct cmn_histogram hist;
    } u;
} s_metric_t;

struct cmn_metrics {
    char *prefix;
    s_metric_t **items; /* registration order */
    size_t n, cap;
    /* Registration (which may move items) against rendering: a stage may
     * register while the admin thread renders a scrape. */
    pthread_mutex_t lock;
};

static const double s_default_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                          0.1,    0.25,  0.5,    1,     2.5,  5,     10};

cmn_metrics_t *cmn_metrics_new(const char *prefix)
{
    cmn_metrics_t *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    if (prefix && *prefix && !(m->prefix = strdup(prefix))) {
        free(m);
        return NULL;
    }
    pthread_mutex_init(&m->lock, NULL);
    return m;
}

static void s_metric_free(s_metric_t *x)
{
    if (!x)
        return;
    if (x->kind == S_HISTOGRAM) {
        free(x->u.hist.bounds);
        free(x->u.hist.buckets);
    }
    free(x->name);
    free(x->labels);
    free(x->help);
    free(x);
}

void cmn_metrics_destroy(cmn_metrics_t **p)
{
    if (!p || !*p)
        return;
    cmn_metrics_t *m = *p;
    for (size_t i = 0; i < m->n; i++)
        s_metric_free(m->items[i]);
    free(m->items);
    free(m->prefix);
    pthread_mutex_destroy(&m->lock);
    free(m);
    *p = NULL;
}

static bool s_same(const char *a, const char *b)
{
    if (!a || !*a)
        return !b || !*b;
    return b && strcmp(a, b) == 0;
}

/* Find or create a metric. *ret_new says whether it was created. */
static s_metric_t *s_register(cmn_metrics_t *m, s_kind_t kind, const char *name,
                              const char *labels, const char *help, bool *ret_new)
{
    cmn_str_t full = CMN_STR_INIT(256);
    if (m->prefix)
        cmn_str_printf(&full, "%s_", m->prefix);
    if (cmn_str_appends(&full, name) < 0) {
        cmn_str_free(&full);
        errno = EINVAL;
        return NULL;
    }
    for (size_t i = 0; i < m->n; i++) {
        s_metric_t *x = m->items[i];
        if (strcmp(x->name, full.buf) != 0)
            continue;
        if (x->kind != kind) {
            cmn_str_free(&full);
            errno = EINVAL; /* one name, one type */
            return NULL;
        }
        if (s_same(x->labels, labels)) {
            cmn_str_free(&full);
            *ret_new = false;
            return x;
        }
    }
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        s_metric_t **items = realloc(m->items, cap * sizeof(*items));
        if (!items) {
            cmn_str_free(&full);
            return NULL;
        }
        m->items = items;
        m->cap = cap;
    }
    s_metric_t *x = calloc(1, sizeof(*x));
    if (!x) {
        cmn_str_free(&full);
        return NULL;
    }
    x->kind = kind;
    x->name = cmn_str_steal(&full);
    x->help = strdup(help ? help : "");
    if (labels && *labels)
        x->labels = strdup(labels);
    if (!x->name || !x->help || (labels && *labels && !x->labels)) {
        s_metric_free(x);
        return NULL;
    }
    *ret_new = true;
    return x;
}

static cmn_counter_t *s_counter(cmn_metrics_t *m, const char *name, const char *labels,
                                const char *help)
{
    bool fresh = false;
    s_metric_t *x = s_register(m, S_COUNTER, name, labels, help, &fresh);
    if (!x)
        return NULL;
    if (fresh) {
        atomic_init(&x->u.counter.v, 0);
        m->items[m->n++] = x;
    }
    return &x->u.counter;
}

static cmn_gauge_t *s_gauge(cmn_metrics_t *m, const char *name, const char *labels,
                            const char *help)
{
    bool fresh = false;
    s_metric_t *x = s_register(m, S_GAUGE, name, labels, help, &fresh);
    if (!x)
        return NULL;
    if (fresh) {
        atomic_init(&x->u.gauge.v, 0);
        m->items[m->n++] = x;
    }
    return &x->u.gauge;
}

static cmn_histogram_t *s_histogram(cmn_metrics_t *m, const char *name, const char *labels,
                                    const char *help, const double *bounds, size_t nbounds)
{
    if (!bounds) {
        bounds = s_default_bounds;
        nbounds = sizeof(s_default_bounds) / sizeof(s_default_bounds[0]);
    }
    for (size_t i = 0; i < nbounds; i++) {
        if (!isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1])) {
            errno = EINVAL;
            return NULL;
        }
    }
    bool fresh = false;
    s_metric_t *x = s_register(m, S_HISTOGRAM, name, labels, help, &fresh);
    if (!x)
        return NULL;
    if (!fresh)
        return &x->u.hist;
    struct cmn_histogram *h = &x->u.hist;
    h->nbounds = nbounds;
    h->bounds = malloc((nbounds ? nbounds : 1) * sizeof(*h->bounds));
    h->buckets = malloc((nbounds + 1) * sizeof(*h->buckets));
    if (!h->bounds || !h->buckets) {
        s_metric_free(x);
        return NULL;
    }
    if (nbounds)
        memcpy(h->bounds, bounds, nbounds * sizeof(*bounds));
    for (size_t i = 0; i <= nbounds; i++)
        atomic_init(&h->buckets[i], 0);
    atomic_init(&h->sum_us, 0);
    m->items[m->n++] = x;
    return h;
}

cmn_counter_t *cmn_metrics_counter(cmn_metrics_t *m, const char *name, const char *labels,
                                   const char *help)
{
    pthread_mutex_lock(&m->lock);
    cmn_counter_t *c = s_counter(m, name, labels, help);
    pthread_mutex_unlock(&m->lock);
    return c;
}

cmn_gauge_t *cmn_metrics_gauge(cmn_metrics_t *m, const char *name, const char *labels,
                               const char *help)
{
    pthread_mutex_lock(&m->lock);
    cmn_gauge_t *g = s_gauge(m, name, labels, help);
    pthread_mutex_unlock(&m->lock);
    return g;
}

cmn_histogram_t *cmn_metrics_histogram(cmn_metrics_t *m, const char *name, const char *labels,
                                       const char *help, const double *bounds, size_t nbounds)
{
    pthread_mutex_lock(&m->lock);
    cmn_histogram_t *h = s_histogram(m, name, labels, help, bounds, nbounds);
    pthread_mutex_unlock(&m->lock);
    return h;
}

void cmn_counter_add(cmn_counter_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(&c->v, n, memory_order_relaxed);
}

uint64_t cmn_counter_get(const cmn_counter_t *c)
{
    return atomic_load_explicit(&((cmn_counter_t *)c)->v, memory_order_relaxed);
}

void cmn_gauge_set(cmn_gauge_t *g, int64_t v)
{
    atomic_store_explicit(&g->v, v, memory_order_relaxed);
}

void cmn_gauge_add(cmn_gauge_t *g, int64_t delta)
{
    atomic_fetch_add_explicit(&g->v, delta, memory_order_relaxed);
}

int64_t cmn_gauge_get(const cmn_gauge_t *g)
{
    return atomic_load_explicit(&((cmn_gauge_t *)g)->v, memory_order_relaxed);
}

void cmn_histogram_observe(cmn_histogram_t *h, double seconds)
{
    if (!(seconds >= 0)) /* negative or NaN */
        seconds = 0;
    size_t i = 0;
    while (i < h->nbounds && seconds > h->bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
    double us = seconds * 1e6 + 0.5;
    uint64_t add = us >= 1.8e19 ? UINT64_C(18000000000000000000) : (uint64_t)us;
    atomic_fetch_add_explicit(&h->sum_us, add, memory_order_relaxed);
}

uint64_t cmn_histogram_count(const cmn_histogram_t *h)
{
    uint64_t n = 0;
    for (size_t i = 0; i <= h->nbounds; i++)
        n += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
    return n;
}

/* --- rendering -------------------------------------------------------- */

/* Shortest text that reads back as the same double, in plain notation when
 * the exponent is moderate ("0.005", "10", "2.5", "400"), like the Go client. */
static void s_fmt_double(double v, char *buf, size_t n)
{
    if (v == 0) {
        snprintf(buf, n, "0");
        return;
    }
    int prec = 1;
    for (; prec < 17; prec++) {
        snprintf(buf, n, "%.*e", prec - 1, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    snprintf(buf, n, "%.*e", prec - 1, v);
    const char *e = strchr(buf, 'e');
    int exp = e ? (int)strtol(e + 1, NULL, 10) : 0;
    if (exp >= -5 && exp < 15)
        snprintf(buf, n, "%.*f", prec - 1 - exp > 0 ? prec - 1 - exp : 0, v);
    else
        snprintf(buf, n, "%.*g", prec, v);
}

static int s_help_line(cmn_str_t *out, const s_metric_t *x)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    int r = cmn_str_printf(out, "# HELP %s ", x->name);
    for (const char *p = x->help; *p && r == 0; p++) {
        if (*p == '\\')
            r = cmn_str_append(out, "\\\\", 2);
        else if (*p == '\n')
            r = cmn_str_append(out, "\\n", 2);
        else
            r = cmn_str_append(out, p, 1);
    }
    if (r == 0)
        r = cmn_str_printf(out, "\n# TYPE %s %s\n", x->name, types[x->kind]);
    return r;
}

/* name[suffix]{labels[,extra]} */
static int s_series(cmn_str_t *out, const s_metric_t *x, const char *suffix, const char *extra)
{
    int r = cmn_str_printf(out, "%s%s", x->name, suffix);
    bool has_labels = x->labels != NULL;
    if (r == 0 && (has_labels || extra))
        r = cmn_str_printf(out, "{%s%s%s}", has_labels ? x->labels : "",
                           has_labels && extra ? "," : "", extra ? extra : "");
    return r;
}

static int s_render_one(cmn_str_t *out, const s_metric_t *x)
{
    int r = 0;
    switch (x->kind) {
    case S_COUNTER:
        r = s_series(out, x, "", NULL);
        if (r == 0)
            r = cmn_str_printf(out, " %llu\n", (unsigned long long)cmn_counter_get(&x->u.counter));
        return r;
    case S_GAUGE:
        r = s_series(out, x, "", NULL);
        if (r == 0)
            r = cmn_str_printf(out, " %lld\n", (long long)cmn_gauge_get(&x->u.gauge));
        return r;
    case S_HISTOGRAM: {
        const struct cmn_histogram *h = &x->u.hist;
        uint64_t cum = 0;
        for (size_t i = 0; i <= h->nbounds && r == 0; i++) {
            char le[64], num[32];
            cum += atomic_load_explicit(&((struct cmn_histogram *)h)->buckets[i],
                                        memory_order_relaxed);
            if (i < h->nbounds)
                s_fmt_double(h->bounds[i], num, sizeof(num));
            else
                cmn_strlcpy(num, "+Inf", sizeof(num));
            snprintf(le, sizeof(le), "le=\"%s\"", num);
            r = s_series(out, x, "_bucket", le);
            if (r == 0)
                r = cmn_str_printf(out, " %llu\n", (unsigned long long)cum);
        }
        char sum[32];
        uint64_t us =
            atomic_load_explicit(&((struct cmn_histogram *)h)->sum_us, memory_order_relaxed);
        s_fmt_double((double)us / 1e6, sum, sizeof(sum));
        if (r == 0)
            r = s_series(out, x, "_sum", NULL);
        if (r == 0)
            r = cmn_str_printf(out, " %s\n", sum);
        if (r == 0)
            r = s_series(out, x, "_count", NULL);
        if (r == 0)
            r = cmn_str_printf(out, " %llu\n", (unsigned long long)cum);
        return r;
    }
    }
    return -EINVAL;
}

int cmn_metrics_render(const cmn_metrics_t *m, cmn_str_t *out)
{
    size_t start = out->len;
    int r = 0;
    pthread_mutex_t *lock = (pthread_mutex_t *)&m->lock; /* the registry is not changed */
    pthread_mutex_lock(lock);
    for (size_t i = 0; i < m->n && r == 0; i++) {
        const s_metric_t *x = m->items[i];
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(m->items[j]->name, x->name) == 0;
        if (seen)
            continue; /* rendered with the first of its name */
        r = s_help_line(out, x);
        for (size_t j = i; j < m->n && r == 0; j++)
            if (strcmp(m->items[j]->name, x->name) == 0)
                r = s_render_one(out, m->items[j]);
    }
    pthread_mutex_unlock(lock);
    if (r < 0 && out->buf) {
        out->len = start;
        out->buf[start] = '\0';
    }
    return r;
}
