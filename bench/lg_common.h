/* lg_common: pieces shared by the load generators of bench/ (ciu-loadgen on the
 * simulator path, ciu-webhook-loadgen on the provider webhook path).
 *
 * A monotonic clock in seconds, and latency samples in a preallocated array with
 * nearest-rank percentiles. Samples never grow past the capacity given at
 * lg_samples_init(): a sample past it is dropped and counted in `dropped`.
 * Nothing here logs or touches the network.
 */
#ifndef LG_COMMON_H
#define LG_COMMON_H

#include <stddef.h>

/* CLOCK_MONOTONIC in seconds. */
double lg_now(void);

typedef struct {
    double *v; /* owned, seconds */
    size_t n, cap;
    size_t dropped; /* samples past cap */
} lg_samples_t;

/* Preallocate cap samples. Returns 0 or -ENOMEM (s is then empty but valid). */
int lg_samples_init(lg_samples_t *s, size_t cap);

/* Release the array; s can be initialised again. NULL-safe. */
void lg_samples_free(lg_samples_t *s);

/* Add one sample (seconds); never allocates. */
void lg_sample(lg_samples_t *s, double v);

/* Print "  errors TOTAL  name=count ..." for the non-zero counts, then "  first error: ..."
 * when first_error is not empty, to stdout. Returns TOTAL. */
unsigned long lg_errors_print(const unsigned long *counts, const char *const *names, int n,
                              const char *first_error);

/* Nearest-rank percentile (0 < pct <= 100) in milliseconds; -1 without samples.
 * Sorts the samples in place. */
double lg_pct(lg_samples_t *s, double pct);

#endif
