/* ciu_cities: load and search the city list. See ciu_cities.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "common/cmn_str.h"

#include "ciu_cities.h"
#include "ciu_rules.h"

/* A folded name or alias and the entry it belongs to. */
typedef struct {
    char *key;
    size_t city; /* index into cities */
    size_t line; /* where it was defined */
} s_key_t;

struct ciu_cities {
    ciu_city_t *cities;
    size_t *lines; /* line of each entry */
    size_t n, cap;
    s_key_t *keys;
    size_t nkeys, kcap;
};

/* Letters-only key of a name: folded, without spaces. NULL when the text is
 * not valid UTF-8, holds a digit, or memory runs out. Caller frees. */
static char *s_key(const char *text)
{
    char *folded = NULL;
    if (ciu_fold(text, &folded) != CIU_OK)
        return NULL;
    size_t j = 0;
    for (size_t i = 0; folded[i]; i++) {
        char c = folded[i];
        if (c == ' ')
            continue;
        if (c < 'A' || c > 'Z') {
            free(folded);
            return NULL;
        }
        folded[j++] = c;
    }
    folded[j] = '\0';
    return folded;
}

void ciu_cities_destroy(ciu_cities_t **p)
{
    if (!p || !*p)
        return;
    ciu_cities_t *c = *p;
    for (size_t i = 0; i < c->n; i++) {
        free((char *)c->cities[i].name);
        free((char *)c->cities[i].province);
    }
    for (size_t i = 0; i < c->nkeys; i++)
        free(c->keys[i].key);
    free(c->cities);
    free(c->lines);
    free(c->keys);
    free(c);
    *p = NULL;
}

size_t ciu_cities_count(const ciu_cities_t *cities)
{
    return cities ? cities->n : 0;
}

const ciu_city_t *ciu_cities_at(const ciu_cities_t *cities, size_t i)
{
    return cities && i < cities->n ? &cities->cities[i] : NULL;
}

const ciu_city_t *ciu_cities_find_code(const ciu_cities_t *cities, const char *code)
{
    if (!cities || !code)
        return NULL;
    for (size_t i = 0; i < cities->n; i++)
        if (strcmp(cities->cities[i].code, code) == 0)
            return &cities->cities[i];
    return NULL;
}

static const s_key_t *s_find_key(const ciu_cities_t *cities, const char *key)
{
    for (size_t i = 0; i < cities->nkeys; i++)
        if (strcmp(cities->keys[i].key, key) == 0)
            return &cities->keys[i];
    return NULL;
}

const ciu_city_t *ciu_cities_find_name(const ciu_cities_t *cities, const char *text)
{
    if (!cities || !text)
        return NULL;
    char *key = s_key(text);
    if (!key)
        return NULL;
    const s_key_t *k = s_find_key(cities, key);
    free(key);
    return k ? &cities->cities[k->city] : NULL;
}

/* Optimal string alignment distance between a and b (both at most
 * CIU_CITIES_SUGGEST_LEN letters). */
static int s_distance(const char *a, size_t la, const char *b, size_t lb)
{
    int d[CIU_CITIES_SUGGEST_LEN + 1][CIU_CITIES_SUGGEST_LEN + 1];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int cost = a[i - 1] != b[j - 1];
            int v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v)
                v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[la][lb];
}

const ciu_city_t *ciu_cities_suggest(const ciu_cities_t *cities, const char *text,
                                     int *ret_distance)
{
    if (!cities || !text)
        return NULL;
    char *key = s_key(text);
    if (!key)
        return NULL;
    size_t len = strlen(key);
    const s_key_t *best = NULL;
    int best_d = 0;
    if (len > 0 && len <= CIU_CITIES_SUGGEST_LEN && !s_find_key(cities, key)) {
        for (size_t i = 0; i < cities->nkeys; i++) {
            const s_key_t *k = &cities->keys[i];
            size_t kl = strlen(k->key);
            if (kl > CIU_CITIES_SUGGEST_LEN)
                continue;
            int d = s_distance(key, len, k->key, kl);
            int limit = CIU_CITIES_SUGGEST_MAX(kl < len ? kl : len);
            if (d > limit)
                continue;
            if (!best || d < best_d || (d == best_d && k->city < best->city)) {
                best = k;
                best_d = d;
            }
        }
    }
    free(key);
    if (!best)
        return NULL;
    if (ret_distance)
        *ret_distance = best_d;
    return &cities->cities[best->city];
}

int ciu_cities_by_province(const ciu_cities_t *cities, size_t *order, size_t n)
{
    if (!cities || !order || n != cities->n)
        return -EINVAL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *prov = cities->cities[i].province;
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(cities->cities[j].province, prov) == 0;
        if (seen)
            continue; /* its province was listed with an earlier entry */
        for (size_t j = i; j < n; j++)
            if (strcmp(cities->cities[j].province, prov) == 0)
                order[k++] = j;
    }
    return 0;
}

/* ---- loading ---------------------------------------------------------- */

typedef struct {
    const char *path;
    size_t line;
    char *err; /* first error, malloc'd */
} s_load_t;

/* Record "path:line: message" (the first one wins). Returns -EINVAL. */
__attribute__((format(printf, 2, 3))) static int s_fail(s_load_t *ld, const char *fmt, ...)
{
    if (ld->err)
        return -EINVAL;
    cmn_str_t s = CMN_STR_INIT(2048);
    if (ld->line)
        cmn_str_printf(&s, "%s:%zu: ", ld->path, ld->line);
    else
        cmn_str_printf(&s, "%s: ", ld->path);
    va_list ap;
    va_start(ap, fmt);
    cmn_str_vprintf(&s, fmt, ap);
    va_end(ap);
    ld->err = s.len ? cmn_str_steal(&s) : NULL;
    cmn_str_free(&s);
    return -EINVAL;
}

static bool s_valid_utf8(const char *s)
{
    size_t len = strlen(s);
    for (size_t i = 0; i < len;) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k =
            utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &c);
        if (k <= 0)
            return false;
        i += (size_t)k;
    }
    return true;
}

/* Trim ASCII blanks in place; returns the start. */
static char *s_strip(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

/* Add the key of `name` (a name or alias of entry `city`). */
static int s_add_key(ciu_cities_t *c, s_load_t *ld, const char *name, size_t city)
{
    char *key = s_key(name);
    if (!key)
        return s_fail(ld, "name '%s' contains a digit or is not valid UTF-8", name);
    if (strlen(key) < 3) {
        free(key);
        return s_fail(ld, "name '%s' needs at least 3 letters (2 letters read as a code)",
                      name);
    }
    const s_key_t *old = s_find_key(c, key);
    if (old) {
        size_t old_line = old->line;
        bool same = old->city == city;
        free(key);
        if (same)
            return 0; /* an alias repeating its own entry's name: harmless */
        return s_fail(ld, "name '%s' is already used on line %zu", name, old_line);
    }
    if (c->nkeys == c->kcap) {
        size_t cap = c->kcap ? c->kcap * 2 : 128;
        s_key_t *k = realloc(c->keys, cap * sizeof(*k));
        if (!k) {
            free(key);
            return s_fail(ld, "out of memory");
        }
        c->keys = k;
        c->kcap = cap;
    }
    c->keys[c->nkeys++] = (s_key_t){.key = key, .city = city, .line = ld->line};
    return 0;
}

/* Parse one non-comment line (no newline) into a new entry. */
static int s_parse_line(ciu_cities_t *c, s_load_t *ld, char *line)
{
    char *col[4] = {NULL, NULL, NULL, NULL};
    size_t ncol = 0;
    char *p = line;
    for (;;) {
        if (ncol == 4)
            return s_fail(ld, "too many columns (expected code, name, province, aliases)");
        col[ncol++] = p;
        char *tab = strchr(p, '\t');
        if (!tab)
            break;
        *tab = '\0';
        p = tab + 1;
    }
    if (ncol < 3)
        return s_fail(ld, "expected code<TAB>name<TAB>province[<TAB>aliases]");
    for (size_t i = 0; i < ncol; i++)
        col[i] = s_strip(col[i]);

    const char *code = col[0], *name = col[1], *province = col[2];
    if (strlen(code) != 2 || code[0] < 'A' || code[0] > 'Z' || code[1] < 'A' || code[1] > 'Z')
        return s_fail(ld, "bad code '%s' (expected two letters A-Z)", code);
    if (name[0] == '\0')
        return s_fail(ld, "empty name");
    const ciu_city_t *dup = ciu_cities_find_code(c, code);
    if (dup)
        return s_fail(ld, "duplicate code '%s' (first on line %zu)", code,
                      c->lines[dup - c->cities]);

    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        ciu_city_t *cities = realloc(c->cities, cap * sizeof(*cities));
        if (!cities)
            return s_fail(ld, "out of memory");
        c->cities = cities;
        size_t *lines = realloc(c->lines, cap * sizeof(*lines));
        if (!lines)
            return s_fail(ld, "out of memory");
        c->lines = lines;
        c->cap = cap;
    }
    ciu_city_t *city = &c->cities[c->n];
    memcpy(city->code, code, 3);
    city->name = strdup(name);
    city->province = strdup(province);
    c->lines[c->n] = ld->line;
    c->n++; /* from here the entry is owned by c, even half-built */
    if (!city->name || !city->province)
        return s_fail(ld, "out of memory");

    int r = s_add_key(c, ld, name, c->n - 1);
    if (r < 0)
        return r;
    if (ncol == 4) {
        char *aliases = col[3];
        for (;;) {
            char *comma = strchr(aliases, ',');
            if (comma)
                *comma = '\0';
            char *alias = s_strip(aliases);
            if (alias[0]) {
                r = s_add_key(c, ld, alias, c->n - 1);
                if (r < 0)
                    return r;
            }
            if (!comma)
                break;
            aliases = comma + 1;
        }
    }
    return 0;
}

ciu_cities_t *ciu_cities_load(const char *path, char **ret_err)
{
    s_load_t ld = {.path = path ? path : "(null)", .line = 0, .err = NULL};
    ciu_cities_t *c = NULL;
    FILE *f = NULL;
    char *line = NULL;
    size_t cap = 0;

    if (!path) {
        s_fail(&ld, "no path");
        goto fail;
    }
    c = calloc(1, sizeof(*c));
    if (!c) {
        s_fail(&ld, "out of memory");
        goto fail;
    }
    f = fopen(path, "re");
    if (!f) {
        s_fail(&ld, "cannot open: %s", strerror(errno));
        goto free_cities;
    }

    for (;;) {
        errno = 0;
        ssize_t n = getline(&line, &cap, f);
        if (n < 0) {
            if (ferror(f)) {
                s_fail(&ld, "read error: %s", strerror(errno ? errno : EIO));
                goto close_file;
            }
            break;
        }
        ld.line++;
        if ((size_t)n > CIU_CITIES_LINE_MAX) {
            s_fail(&ld, "line longer than %d bytes", CIU_CITIES_LINE_MAX);
            goto close_file;
        }
        if (memchr(line, '\0', (size_t)n)) {
            s_fail(&ld, "NUL byte in line");
            goto close_file;
        }
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        char *text = line;
        if (ld.line == 1 && strncmp(text, "\xEF\xBB\xBF", 3) == 0)
            text += 3; /* UTF-8 byte order mark */
        if (!s_valid_utf8(text)) {
            s_fail(&ld, "not valid UTF-8");
            goto close_file;
        }
        const char *first = text + strspn(text, " \t");
        if (*first == '\0' || *first == '#')
            continue;
        if (s_parse_line(c, &ld, text) < 0)
            goto close_file;
    }
    if (c->n == 0) {
        ld.line = 0;
        s_fail(&ld, "no cities");
        goto close_file;
    }
    free(line);
    fclose(f);
    return c;

close_file:
    free(line);
    fclose(f);
free_cities:
    ciu_cities_destroy(&c);
fail:
    if (ret_err)
        *ret_err = ld.err;
    else
        free(ld.err);
    return NULL;
}
