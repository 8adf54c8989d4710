/* admin_collisions: the `ciu-admin collisions` report. See admin_collisions.h. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/cmn_daemon.h"
#include "common/cmn_store.h"

#include "admin_collisions.h"
#include "admin_util.h"

#define S_NAMES (26 * 26 * 26)
#define S_CITIES (26 * 26)
#define S_CITY_ROWS 20 /* cities shown in the text report */

/* One registered CIU, as indexes of its parts. */
typedef struct {
    int last, first, year, city, gender;
} s_ciu_t;

/* Sums of squared counts of each part over a set of CIUs. */
typedef struct {
    uint32_t last[S_NAMES], first[S_NAMES], year[10], gender[4], city[S_CITIES];
    double sq_last, sq_first, sq_year, sq_gender, sq_city;
} s_tally_t;

static int s_letters(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < 'A' || s[i] > 'Z')
            return -1;
        v = v * 26 + (s[i] - 'A');
    }
    return v;
}

static bool s_parse(const char *ciu, s_ciu_t *ret)
{
    if (!ciu || strlen(ciu) != 10 || ciu[6] < '0' || ciu[6] > '9' || ciu[9] < '1' || ciu[9] > '4')
        return false;
    ret->last = s_letters(ciu, 3);
    ret->first = s_letters(ciu + 3, 3);
    ret->city = s_letters(ciu + 7, 2);
    ret->year = ciu[6] - '0';
    ret->gender = ciu[9] - '1';
    return ret->last >= 0 && ret->first >= 0 && ret->city >= 0;
}

/* count k -> k + d (d = +1 or -1), keeping the sum of squares. */
static void s_bump(uint32_t *count, double *sq, int d)
{
    double k = *count;
    *sq += d > 0 ? 2 * k + 1 : -(2 * k - 1);
    *count = (uint32_t)((int64_t)*count + d);
}

static void s_add(s_tally_t *t, const s_ciu_t *c, int d)
{
    s_bump(&t->last[c->last], &t->sq_last, d);
    s_bump(&t->first[c->first], &t->sq_first, d);
    s_bump(&t->year[c->year], &t->sq_year, d);
    s_bump(&t->gender[c->gender], &t->sq_gender, d);
    s_bump(&t->city[c->city], &t->sq_city, d);
}

/* P(two people drawn from the n share every part), the city counted or not. */
static double s_pair(const s_tally_t *t, double n, bool with_city)
{
    if (n < 1)
        return 0;
    double n2 = n * n;
    double p = (t->sq_last / n2) * (t->sq_first / n2) * (t->sq_year / n2) * (t->sq_gender / n2);
    return with_city ? p * (t->sq_city / n2) : p;
}

static int s_by_city(const void *a, const void *b)
{
    const s_ciu_t *x = a, *y = b;
    return x->city - y->city;
}

typedef struct {
    int city;
    size_t n;
    double pair, match;
} s_city_t;

static int s_by_size(const void *a, const void *b)
{
    const s_city_t *x = a, *y = b;
    return x->n < y->n ? 1 : x->n > y->n ? -1 : x->city - y->city;
}

static void s_one_in(char *buf, size_t size, double p)
{
    if (p <= 0)
        snprintf(buf, size, "never (too few registrations)");
    else
        snprintf(buf, size, "1 in %.0f", 1 / p);
}

int admin_collisions(cmn_store_t *store, bool json)
{
    cmn_rows_t *rows = NULL;
    s_ciu_t *cius = NULL;
    s_city_t *cities = NULL;
    s_tally_t *all = NULL, *one = NULL;
    size_t n = 0, ncities = 0;
    int code = CMN_EXIT_SOFTWARE;

    if (cmn_store_query(store, "SELECT ciu FROM registry", NULL, 0, &rows) < 0)
        return admin_fail(CMN_EXIT_UNAVAILABLE, "cannot read the registry: %s",
                          cmn_store_errmsg(store));
    size_t total = (size_t)cmn_rows_count(rows);
    cius = calloc(total + 1, sizeof(*cius));
    cities = calloc(total + 1, sizeof(*cities));
    all = calloc(1, sizeof(*all));
    one = calloc(1, sizeof(*one));
    if (!cius || !cities || !all || !one) {
        code = admin_fail(CMN_EXIT_SOFTWARE, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < total; i++)
        if (s_parse(cmn_rows_get(rows, (int)i, 0), &cius[n]))
            s_add(all, &cius[n++], 1);
    qsort(cius, n, sizeof(*cius), s_by_city);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && cius[j].city == cius[i].city)
            s_add(one, &cius[j++], 1);
        s_city_t *c = &cities[ncities++];
        c->city = cius[i].city;
        c->n = j - i;
        c->pair = s_pair(one, (double)c->n, false);
        /* a new person born there shares a code with someone registered */
        c->match = c->pair * (double)c->n;
        if (c->match > 1)
            c->match = 1;
        for (size_t k = i; k < j; k++)
            s_add(one, &cius[k], -1);
        i = j;
    }
    qsort(cities, ncities, sizeof(*cities), s_by_size);
    double pair = s_pair(all, (double)n, true);
    double pairs = pair * (double)n * ((double)n - 1) / 2;

    if (json) {
        json_t *list = json_array();
        for (size_t i = 0; list && i < ncities; i++) {
            char cc[3] = {(char)('A' + cities[i].city / 26), (char)('A' + cities[i].city % 26), 0};
            json_array_append_new(list, json_pack("{s:s, s:I, s:f, s:f}", "city", cc, "registered",
                                                  (json_int_t)cities[i].n, "pair_probability",
                                                  cities[i].pair, "new_person_match_probability",
                                                  cities[i].match));
        }
        code = admin_print_json(json_pack("{s:I, s:f, s:f, s:o}", "registered", (json_int_t)n,
                                          "pair_probability", pair, "expected_shared_pairs", pairs,
                                          "cities", list ? list : json_null()));
        goto out;
    }
    char buf[64];
    s_one_in(buf, sizeof(buf), pair);
    printf("registered CIUs: %zu\n", n);
    printf("two different people share a CIU: %s (p = %.3g)\n", buf, pair);
    printf("expected pairs sharing a CIU among the registered: %.1f\n", pairs);
    printf("by city, most registrations first (two people born there / a new person matching "
           "someone registered):\n");
    for (size_t i = 0; i < ncities && i < S_CITY_ROWS; i++) {
        s_one_in(buf, sizeof(buf), cities[i].pair);
        printf("  %c%c %8zu registered  %-24s  %.2f%%\n", 'A' + cities[i].city / 26,
               'A' + cities[i].city % 26, cities[i].n, buf, 100 * cities[i].match);
    }
    if (ncities > S_CITY_ROWS)
        printf("  ... %zu more cities (--json lists all)\n", ncities - S_CITY_ROWS);
    code = CMN_EXIT_OK;
out:
    cmn_rows_destroy(&rows);
    free(cius);
    free(cities);
    free(all);
    free(one);
    return code;
}
