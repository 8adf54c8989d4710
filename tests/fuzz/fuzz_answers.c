/* fuzz_answers: the five answers a person types, through the CIU rules.
 *
 * Input: any text. The whole input is given to every public parser and to
 * the normaliser (ciu_fold, ciu_parse_name/year/city/gender, the city
 * lookup, ciu_is_valid); its first five lines are also given to ciu_compute
 * as last name, first name, year, city and gender. Results are checked
 * against ciu_rules.h: the documented refusals only, parts of the right
 * shape, a computed CIU that ciu_is_valid accepts and that matches its
 * parts, and a folded text made only of A-Z, 0-9, '#' and single spaces.
 * The city list is share/cities.tsv (CIU_FUZZ_CITIES).
 */
#include <stdint.h>
#include <string.h>

#include "ciu_cities.h"
#include "ciu_rules.h"
#include "fuzz_util.h"

#define THIS_YEAR 2026
#define FIELDS 5

static ciu_cities_t *s_cities;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char *err = NULL;
    (void)argc;
    (void)argv;
    s_cities = ciu_cities_load(CIU_FUZZ_CITIES, &err);
    if (s_cities == NULL) {
        fprintf(stderr, "fuzz_answers: %s\n", err ? err : "cannot load " CIU_FUZZ_CITIES);
        abort();
    }
    return 0;
}

static bool s_upper(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < 'A' || s[i] > 'Z')
            return false;
    return s[n] == '\0';
}

static bool s_refusal(ciu_err_t e, const ciu_err_t *allowed, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (e == allowed[i])
            return true;
    return false;
}

#define REFUSAL(e, ...)                                                                            \
    s_refusal((e), (const ciu_err_t[]){__VA_ARGS__},                                               \
              sizeof((const ciu_err_t[]){__VA_ARGS__}) / sizeof(ciu_err_t))

static void s_check_fold(const char *text)
{
    char *folded = NULL, *again = NULL;
    ciu_err_t e = ciu_fold(text, &folded);
    FZ_CHECK(REFUSAL(e, CIU_OK, CIU_ERR_BAD_UTF8));
    if (e != CIU_OK)
        return;
    size_t n = strlen(folded);
    FZ_CHECK(strspn(folded, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789# ") == n);
    FZ_CHECK(n == 0 || (folded[0] != ' ' && folded[n - 1] != ' '));
    FZ_CHECK(strstr(folded, "  ") == NULL);
    /* without '#' (which stands for a digit of another script) folding the
     * folded text changes nothing */
    if (strchr(folded, '#') == NULL) {
        FZ_CHECK(ciu_fold(folded, &again) == CIU_OK);
        FZ_CHECK(strcmp(folded, again) == 0);
        free(again);
    }
    free(folded);
}

static void s_check_one(const char *answer)
{
    char name[4], city[3];
    int digit = -1, gender = 0;
    ciu_err_t e;

    s_check_fold(answer);

    e = ciu_parse_name(answer, name);
    FZ_CHECK(REFUSAL(e, CIU_OK, CIU_ERR_EMPTY, CIU_ERR_TOO_LONG, CIU_ERR_BAD_UTF8,
                     CIU_ERR_NAME_DIGIT, CIU_ERR_NAME_NO_LETTER));
    if (e == CIU_OK)
        FZ_CHECK(s_upper(name, 3));

    e = ciu_parse_year(answer, THIS_YEAR, &digit);
    FZ_CHECK(REFUSAL(e, CIU_OK, CIU_ERR_EMPTY, CIU_ERR_TOO_LONG, CIU_ERR_BAD_UTF8,
                     CIU_ERR_YEAR_FORMAT, CIU_ERR_YEAR_RANGE));
    if (e == CIU_OK)
        FZ_CHECK(digit >= 0 && digit <= 9);

    const ciu_cities_t *lists[2] = {s_cities, NULL};
    for (size_t i = 0; i < 2; i++) {
        e = ciu_parse_city(lists[i], answer, city);
        FZ_CHECK(REFUSAL(e, CIU_OK, CIU_ERR_EMPTY, CIU_ERR_TOO_LONG, CIU_ERR_BAD_UTF8,
                         CIU_ERR_CITY_UNKNOWN));
        if (e == CIU_OK)
            FZ_CHECK(s_upper(city, 2));
    }
    const ciu_city_t *c = ciu_cities_find_name(s_cities, answer);
    if (c)
        FZ_CHECK(s_upper(c->code, 2) && ciu_cities_find_code(s_cities, c->code) == c);

    e = ciu_parse_gender(answer, &gender);
    FZ_CHECK(REFUSAL(e, CIU_OK, CIU_ERR_EMPTY, CIU_ERR_TOO_LONG, CIU_ERR_BAD_UTF8,
                     CIU_ERR_GENDER_UNKNOWN));
    if (e == CIU_OK)
        FZ_CHECK(gender >= 1 && gender <= 4 && ciu_gender_label(gender, "fr") != NULL);

    (void)ciu_is_valid(answer);
}

static void s_check_compute(char *const f[FIELDS])
{
    char out[CIU_LEN + 1], part[4];
    ciu_field_t bad = CIU_FIELD_NONE;
    int n = -1;

    ciu_err_t e = ciu_compute(s_cities, f[0], f[1], f[2], f[3], f[4], THIS_YEAR, out, &bad);
    if (e != CIU_OK) {
        FZ_CHECK(bad != CIU_FIELD_NONE);
        FZ_CHECK(strcmp(ciu_err_str(e), "unknown") != 0);
        FZ_CHECK(strcmp(ciu_field_str(bad), "unknown") != 0);
        return;
    }
    FZ_CHECK(bad == CIU_FIELD_NONE && ciu_is_valid(out));
    /* the CIU is made of the parts each parser returns on its own */
    FZ_CHECK(ciu_parse_name(f[0], part) == CIU_OK && memcmp(out, part, 3) == 0);
    FZ_CHECK(ciu_parse_name(f[1], part) == CIU_OK && memcmp(out + 3, part, 3) == 0);
    FZ_CHECK(ciu_parse_year(f[2], THIS_YEAR, &n) == CIU_OK && out[6] == '0' + n);
    FZ_CHECK(ciu_parse_city(s_cities, f[3], part) == CIU_OK && memcmp(out + 7, part, 2) == 0);
    FZ_CHECK(ciu_parse_gender(f[4], &n) == CIU_OK && out[9] == '0' + n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *whole = fz_cstr(data, size);
    char *f[FIELDS] = {NULL};
    const uint8_t *line;
    size_t linelen;

    s_check_one(whole);
    for (size_t i = 0; i < FIELDS; i++) {
        if (i < FIELDS - 1 && fz_line(&data, &size, &line, &linelen)) {
            f[i] = fz_cstr(line, linelen);
        } else {
            f[i] = fz_cstr(data, size); /* the rest */
            size = 0;
        }
    }
    s_check_compute(f);
    for (size_t i = 0; i < FIELDS; i++)
        free(f[i]);
    free(whole);
    return 0;
}
