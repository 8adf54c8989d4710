/* ciu_cities: the list of birth cities and their two-letter codes.
 *
 * Operators edit share/cities.tsv without recompiling. The file is UTF-8;
 * blank lines and lines starting with '#' are ignored; every other line is
 *   code<TAB>name<TAB>province[<TAB>aliases]
 * where code is two letters A-Z (unique), name is the city's name, and
 * aliases is a comma-separated list of other names (may be empty or absent),
 * e.g. "Élisabethville" for Lubumbashi. Names and aliases are matched after
 * folding (case, accents, spaces, hyphens and apostrophes ignored), so two
 * entries may not fold to the same name. The loader refuses the whole file
 * on the first problem, naming the file and line.
 *
 * A loaded list is immutable and can be shared between threads.
 */
#ifndef CIU_CITIES_H
#define CIU_CITIES_H

#include <stddef.h>

typedef struct ciu_cities ciu_cities_t;

/* One entry. Strings are owned by the list. */
typedef struct {
    char code[3];         /* two letters A-Z and a NUL */
    const char *name;     /* as written in the file, e.g. "Mbuji-Mayi" */
    const char *province; /* as written in the file, may be "" */
} ciu_city_t;

/* Longest line accepted in the file, in bytes. */
#define CIU_CITIES_LINE_MAX 1024

/* Load and validate a city list. Returns a new list (caller owns, free with
 * ciu_cities_destroy) or NULL; then, when ret_err is not NULL, *ret_err is a
 * malloc'd one-line message naming the file and line (caller frees), e.g.
 *   "share/cities.tsv:12: duplicate code 'KN' (first on line 5)"
 * (*ret_err is left NULL if even that message cannot be allocated). */
ciu_cities_t *ciu_cities_load(const char *path, char **ret_err);

/* Free a list and set *p to NULL. NULL-safe. */
void ciu_cities_destroy(ciu_cities_t **p);

/* Number of entries, and the i-th entry in file order (NULL past the end).
 * Borrowed pointers, valid until the list is destroyed. */
size_t ciu_cities_count(const ciu_cities_t *cities);
const ciu_city_t *ciu_cities_at(const ciu_cities_t *cities, size_t i);

/* Entry with this exact code ("KN"), or NULL. */
const ciu_city_t *ciu_cities_find_code(const ciu_cities_t *cities, const char *code);

/* Entry whose name or one of whose aliases folds to the same letters as
 * `text` ("mbuji mayi", "MBUJI-MAYI", "Élisabethville"...), or NULL
 * (unknown name, invalid UTF-8, out of memory). */
const ciu_city_t *ciu_cities_find_name(const ciu_cities_t *cities, const char *text);

/* The entry whose name or alias is closest to `text` when `text` names no
 * entry exactly: optimal string alignment distance (insertions, deletions,
 * substitutions, swaps of two neighbours) between the folded letters, so
 * case, accents, spaces and hyphens do not count ("lubumbashii",
 * "Kinshassa", "mbuji may"). Only within CIU_CITIES_SUGGEST_MAX(len) edits
 * of a name of len letters; on a tie, the first entry in file order.
 * *ret_distance (may be NULL) gets the distance. NULL when nothing is
 * close enough, `text` matches a name exactly, or is not a name (digits,
 * invalid UTF-8, longer than CIU_CITIES_SUGGEST_LEN letters). */
#define CIU_CITIES_SUGGEST_LEN 40
#define CIU_CITIES_SUGGEST_MAX(len) ((len) <= 7 ? 1 : (len) <= 11 ? 2 : 3)
const ciu_city_t *ciu_cities_suggest(const ciu_cities_t *cities, const char *text,
                                     int *ret_distance);

/* Entries grouped by province (provinces in the order they first appear
 * in the file, entries in file order within each): fills order[0..n-1]
 * with entry indexes, n = ciu_cities_count(). Returns 0 or -EINVAL. */
int ciu_cities_by_province(const ciu_cities_t *cities, size_t *order, size_t n);

#endif
