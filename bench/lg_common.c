/* lg_common: clock and latency samples of the bench load generators. */
#include "lg_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

double lg_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int lg_samples_init(lg_samples_t *s, size_t cap)
{
    *s = (lg_samples_t){0};
    if (cap == 0)
        return 0;
    s->v = calloc(cap, sizeof(*s->v));
    if (s->v == NULL)
        return -ENOMEM;
    s->cap = cap;
    return 0;
}

void lg_samples_free(lg_samples_t *s)
{
    if (s == NULL)
        return;
    free(s->v);
    *s = (lg_samples_t){0};
}

void lg_sample(lg_samples_t *s, double v)
{
    if (s->n < s->cap)
        s->v[s->n++] = v;
    else
        s->dropped++;
}

unsigned long lg_errors_print(const unsigned long *counts, const char *const *names, int n,
                              const char *first_error)
{
    unsigned long total = 0;
    for (int i = 0; i < n; i++)
        total += counts[i];
    printf("  errors %lu", total);
    for (int i = 0; i < n; i++)
        if (counts[i])
            printf("  %s=%lu", names[i], counts[i]);
    printf("\n");
    if (first_error && first_error[0])
        printf("  first error: %s\n", first_error);
    return total;
}

static int s_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double lg_pct(lg_samples_t *s, double pct)
{
    size_t rank;
    if (s->n == 0)
        return -1;
    qsort(s->v, s->n, sizeof(*s->v), s_cmp);
    rank = (size_t)(pct / 100.0 * (double)s->n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > s->n)
        rank = s->n;
    return s->v[rank - 1] * 1000.0;
}
