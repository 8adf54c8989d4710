/* cmn_metrics: counters, gauges and latency histograms on C11 atomics,
 * rendered in Prometheus text format 0.0.4.
 *
 * A registry owns its metrics; the pointers it hands out stay valid until
 * cmn_metrics_destroy(). Updates are lock-free and safe from any thread;
 * registration and rendering take the registry's lock (a stage may register
 * while the admin thread renders a scrape). Each metric may carry
 * one fixed label set, e.g. `channel="sim"`; metrics sharing a name share
 * one HELP/TYPE header.
 */
#ifndef CMN_METRICS_H
#define CMN_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "common/cmn_str.h"

typedef struct cmn_metrics cmn_metrics_t;
typedef struct cmn_counter cmn_counter_t;
typedef struct cmn_gauge cmn_gauge_t;
typedef struct cmn_histogram cmn_histogram_t;

/* prefix is prepended with '_' to every name ("ciu" -> ciu_<name>). NULL on ENOMEM. */
cmn_metrics_t *cmn_metrics_new(const char *prefix);
void cmn_metrics_destroy(cmn_metrics_t **p);

/* labels may be NULL. Returned pointers are borrowed from the registry.
 * NULL on ENOMEM. */
cmn_counter_t *cmn_metrics_counter(cmn_metrics_t *m, const char *name, const char *labels,
                                   const char *help);
cmn_gauge_t *cmn_metrics_gauge(cmn_metrics_t *m, const char *name, const char *labels,
                               const char *help);
/* bounds: ascending upper bounds in seconds (+Inf is implicit); NULL = default
 * latency buckets 0.0005 .. 10 s. */
cmn_histogram_t *cmn_metrics_histogram(cmn_metrics_t *m, const char *name, const char *labels,
                                       const char *help, const double *bounds, size_t nbounds);

void cmn_counter_add(cmn_counter_t *c, uint64_t n);
uint64_t cmn_counter_get(const cmn_counter_t *c);
void cmn_gauge_set(cmn_gauge_t *g, int64_t v);
void cmn_gauge_add(cmn_gauge_t *g, int64_t delta);
int64_t cmn_gauge_get(const cmn_gauge_t *g);
void cmn_histogram_observe(cmn_histogram_t *h, double seconds);
uint64_t cmn_histogram_count(const cmn_histogram_t *h);

/* Append the text exposition to out. 0 or -E2BIG/-ENOMEM. */
int cmn_metrics_render(const cmn_metrics_t *m, cmn_str_t *out);

#endif
