/* ciu_rules: the pure CIU rules. See ciu_rules.h and docs/ciu-rules.md. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "ciu_cities.h"
#include "ciu_rules.h"

#define S_FOLD_OPTIONS                                                                           \
    (UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_STRIPMARK |             \
     UTF8PROC_CASEFOLD | UTF8PROC_COMPAT)

#define S_YEAR_MIN 1900

/* Latin letters that survive decomposition, mark stripping and case folding
 * as something other than a-z (all lower case here, case folding ran first). */
static const struct {
    utf8proc_int32_t cp;
    const char *latin;
} s_letters[] = {
    {0x00DF, "SS"}, /* ß (case folding already gives "ss") */
    {0x00E6, "AE"}, /* æ */
    {0x00F0, "D"},  /* ð */
    {0x00F8, "O"},  /* ø */
    {0x00FE, "TH"}, /* þ */
    {0x0111, "D"},  /* đ */
    {0x0127, "H"},  /* ħ */
    {0x0131, "I"},  /* ı dotless i */
    {0x0142, "L"},  /* ł */
    {0x014B, "NG"}, /* ŋ */
    {0x0153, "OE"}, /* œ */
    {0x0167, "T"},  /* ŧ */
    {0x0180, "B"},  /* ƀ */
    {0x0192, "F"},  /* ƒ */
    {0x0199, "K"},  /* ƙ */
    {0x01B4, "Y"},  /* ƴ */
    {0x01DD, "E"},  /* ǝ */
    {0x0253, "B"},  /* ɓ */
    {0x0254, "O"},  /* ɔ open o (Lingala) */
    {0x0257, "D"},  /* ɗ */
    {0x0259, "E"},  /* ə schwa */
    {0x025B, "E"},  /* ɛ open e (Lingala) */
    {0x0268, "I"},  /* ɨ */
    {0x0289, "U"},  /* ʉ */
};

/* Gender words, folded (see ciu_fold), and their codes. */
static const struct {
    const char *word;
    int code;
} s_gender_words[] = {
    /* 1: fr, en, ln, sw */
    {"HOMME", 1}, {"H", 1}, {"MASCULIN", 1}, {"M", 1}, {"GARCON", 1}, {"MAN", 1},
    {"MALE", 1}, {"MOBALI", 1}, {"MWANAUME", 1}, {"KIUME", 1}, {"ME", 1},
    /* 2 */
    {"FEMME", 2}, {"F", 2}, {"FEMININ", 2}, {"FILLE", 2}, {"WOMAN", 2}, {"FEMALE", 2},
    {"MWASI", 2}, {"MWANAMKE", 2}, {"KIKE", 2}, {"KE", 2},
    /* 3 */
    {"TRANS", 3}, {"TRANSGENRE", 3}, {"TRANSGENDER", 3}, {"TRANSSEXUEL", 3},
    /* 4 */
    {"AUTRE", 4}, {"OTHER", 4}, {"MOSUSU", 4}, {"NYINGINE", 4},
};

static const struct {
    const char *lang;
    const char *label[4];
} s_gender_labels[] = {
    {"fr", {"Homme", "Femme", "Trans", "Autre"}},
    {"en", {"Man", "Woman", "Trans", "Other"}},
    {"ln", {"Mobali", "Mwasi", "Trans", "Mosusu"}},
    {"sw", {"Mwanaume", "Mwanamke", "Trans", "Nyingine"}},
};

static const char *const s_err_names[] = {
    [CIU_OK] = "ok",
    [CIU_ERR_EMPTY] = "empty",
    [CIU_ERR_TOO_LONG] = "too_long",
    [CIU_ERR_BAD_UTF8] = "bad_utf8",
    [CIU_ERR_NAME_DIGIT] = "name_digit",
    [CIU_ERR_NAME_NO_LETTER] = "name_no_letter",
    [CIU_ERR_YEAR_FORMAT] = "year_format",
    [CIU_ERR_YEAR_RANGE] = "year_range",
    [CIU_ERR_CITY_UNKNOWN] = "city_unknown",
    [CIU_ERR_GENDER_UNKNOWN] = "gender_unknown",
    [CIU_ERR_NOMEM] = "nomem",
    [CIU_ERR_INVALID] = "invalid",
};

static const char *const s_field_names[] = {
    [CIU_FIELD_NONE] = "none",
    [CIU_FIELD_LAST_NAME] = "last_name",
    [CIU_FIELD_FIRST_NAME] = "first_name",
    [CIU_FIELD_BIRTH_YEAR] = "birth_year",
    [CIU_FIELD_BIRTH_CITY] = "birth_city",
    [CIU_FIELD_GENDER] = "gender",
};

const char *ciu_err_str(ciu_err_t err)
{
    if ((unsigned)err >= sizeof(s_err_names) / sizeof(s_err_names[0]))
        return "unknown";
    return s_err_names[err];
}

const char *ciu_field_str(ciu_field_t field)
{
    if ((unsigned)field >= sizeof(s_field_names) / sizeof(s_field_names[0]))
        return "unknown";
    return s_field_names[field];
}

static bool s_is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

static bool s_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool s_is_space(utf8proc_int32_t c)
{
    if (c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r' || c == 0x85)
        return true;
    utf8proc_category_t cat = utf8proc_category(c);
    return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL ||
           cat == UTF8PROC_CATEGORY_ZP;
}

static bool s_is_dash(utf8proc_int32_t c)
{
    return c == 0x2212 /* minus sign */ || utf8proc_category(c) == UTF8PROC_CATEGORY_PD;
}

/* The Latin letters (upper case) or digit a folded code point stands for,
 * or NULL to drop it. `buf` holds single characters. */
static const char *s_latin(utf8proc_int32_t c, char buf[2])
{
    if (c >= 'a' && c <= 'z')
        buf[0] = (char)(c - 'a' + 'A');
    else if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        buf[0] = (char)c;
    else if (utf8proc_category(c) == UTF8PROC_CATEGORY_ND)
        buf[0] = '#';
    else {
        for (size_t i = 0; i < sizeof(s_letters) / sizeof(s_letters[0]); i++)
            if (s_letters[i].cp == c)
                return s_letters[i].latin;
        return NULL;
    }
    buf[1] = '\0';
    return buf;
}

static ciu_err_t s_map_err(utf8proc_ssize_t r)
{
    if (r == UTF8PROC_ERROR_NOMEM)
        return CIU_ERR_NOMEM;
    if (r == UTF8PROC_ERROR_INVALIDUTF8)
        return CIU_ERR_BAD_UTF8;
    return CIU_ERR_INVALID;
}

/* Phone keyboards type an apostrophe as the spacing acute accent (U+00B4)
 * or a backtick. Compatibility decomposition would turn U+00B4 into a space
 * (splitting "N´Djili" in two words), so both become "'" first. The result
 * is never longer than the input. Caller frees. */
static char *s_apostrophes(const char *text)
{
    size_t n = strlen(text), j = 0;
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)text[i] == 0xC2 && (unsigned char)text[i + 1] == 0xB4) {
            out[j++] = '\'';
            i++;
        } else {
            out[j++] = text[i] == '`' ? '\'' : text[i];
        }
    }
    out[j] = '\0';
    return out;
}

/* ciu_fold, also telling whether the text had anything but whitespace and
 * invisible format characters (*ret_content, written on CIU_OK). */
static ciu_err_t s_fold(const char *text, char **ret_folded, bool *ret_content)
{
    utf8proc_uint8_t *mapped = NULL;
    char *out = NULL;
    ciu_err_t err;
    char *clean = s_apostrophes(text);

    if (!clean)
        return CIU_ERR_NOMEM;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)clean, 0, &mapped, S_FOLD_OPTIONS);
    free(clean);
    if (n < 0)
        return s_map_err(n);

    /* A code point of k >= 1 bytes yields at most 2 characters plus one
     * separator before it, so 2 bytes per input byte and a NUL suffice. */
    out = malloc((size_t)n * 2 + 1);
    if (!out) {
        err = CIU_ERR_NOMEM;
        goto free_mapped;
    }

    size_t len = 0;
    bool content = false, pending_sep = false;
    for (utf8proc_ssize_t i = 0; i < n;) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate(mapped + i, n - i, &c);
        if (k <= 0) {
            err = k < 0 ? s_map_err(k) : CIU_ERR_INVALID;
            goto free_out;
        }
        i += k;
        if (s_is_space(c)) {
            pending_sep = true;
            continue;
        }
        if (utf8proc_category(c) == UTF8PROC_CATEGORY_CF)
            continue; /* zero-width space, BOM, soft hyphen... */
        content = true;
        if (s_is_dash(c)) {
            pending_sep = true;
            continue;
        }
        char one[2];
        const char *latin = s_latin(c, one);
        if (!latin)
            continue;
        if (pending_sep && len > 0)
            out[len++] = ' ';
        pending_sep = false;
        size_t l = strlen(latin);
        memcpy(out + len, latin, l);
        len += l;
    }
    out[len] = '\0';
    free(mapped);
    *ret_folded = out;
    *ret_content = content;
    return CIU_OK;

free_out:
    free(out);
free_mapped:
    free(mapped);
    return err;
}

ciu_err_t ciu_fold(const char *text, char **ret_folded)
{
    if (!text || !ret_folded)
        return CIU_ERR_INVALID;
    bool content;
    return s_fold(text, ret_folded, &content);
}

/* Fold an answer of at most CIU_ANSWER_MAX bytes; CIU_ERR_EMPTY when there
 * was nothing but whitespace. */
static ciu_err_t s_fold_answer(const char *answer, char **ret_folded)
{
    if (!answer)
        return CIU_ERR_INVALID;
    if (strnlen(answer, CIU_ANSWER_MAX + 1) > CIU_ANSWER_MAX)
        return CIU_ERR_TOO_LONG;
    char *folded = NULL;
    bool content = false;
    ciu_err_t err = s_fold(answer, &folded, &content);
    if (err != CIU_OK)
        return err;
    if (!content) {
        free(folded);
        return CIU_ERR_EMPTY;
    }
    *ret_folded = folded;
    return CIU_OK;
}

ciu_err_t ciu_parse_name(const char *answer, char ret_code[4])
{
    if (!ret_code)
        return CIU_ERR_INVALID;
    char *folded = NULL;
    ciu_err_t err = s_fold_answer(answer, &folded);
    if (err != CIU_OK)
        return err;

    if (strpbrk(folded, "0123456789#")) {
        err = CIU_ERR_NAME_DIGIT;
    } else if (folded[0] == '\0') {
        err = CIU_ERR_NAME_NO_LETTER;
    } else {
        /* Only letters and single spaces remain, starting with a letter:
         * the first word is the first word that has letters. */
        char code[4] = "XXX";
        for (size_t i = 0; i < 3 && s_is_upper(folded[i]); i++)
            code[i] = folded[i];
        memcpy(ret_code, code, sizeof(code));
    }
    free(folded);
    return err;
}

/* Byte offsets [*ret_b, *ret_e) of s[0..len) without leading and trailing
 * whitespace. CIU_OK or CIU_ERR_BAD_UTF8. */
static ciu_err_t s_trim(const char *s, size_t len, size_t *ret_b, size_t *ret_e)
{
    size_t b = len, e = len;
    bool seen = false;
    for (size_t i = 0; i < len;) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k =
            utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &c);
        if (k <= 0)
            return CIU_ERR_BAD_UTF8;
        if (!s_is_space(c)) {
            if (!seen)
                b = i;
            seen = true;
            e = i + (size_t)k;
        }
        i += (size_t)k;
    }
    if (!seen)
        b = e = 0;
    *ret_b = b;
    *ret_e = e;
    return CIU_OK;
}

ciu_err_t ciu_parse_year(const char *answer, int this_year, int *ret_digit)
{
    if (!answer || !ret_digit)
        return CIU_ERR_INVALID;
    size_t len = strnlen(answer, CIU_ANSWER_MAX + 1);
    if (len > CIU_ANSWER_MAX)
        return CIU_ERR_TOO_LONG;

    size_t b, e;
    ciu_err_t err = s_trim(answer, len, &b, &e);
    if (err != CIU_OK)
        return err;
    if (b == e)
        return CIU_ERR_EMPTY;
    if (answer[e - 1] == '.') {
        size_t b2, e2;
        err = s_trim(answer + b, e - 1 - b, &b2, &e2);
        if (err != CIU_OK)
            return err;
        e = b + e2;
    }

    const char *s = answer + b;
    size_t n = e > b ? e - b : 0;
    for (size_t i = 0; i < n; i++)
        if (!s_is_digit(s[i]))
            return CIU_ERR_YEAR_FORMAT;
    if (n == 1) {
        *ret_digit = s[0] - '0';
        return CIU_OK;
    }
    if (n != 4)
        return CIU_ERR_YEAR_FORMAT;
    int year = 0;
    for (size_t i = 0; i < 4; i++)
        year = year * 10 + (s[i] - '0');
    if (year < S_YEAR_MIN || year > this_year)
        return CIU_ERR_YEAR_RANGE;
    *ret_digit = year % 10;
    return CIU_OK;
}

ciu_err_t ciu_parse_city(const ciu_cities_t *cities, const char *answer, char ret_code[3])
{
    if (!ret_code)
        return CIU_ERR_INVALID;
    char *folded = NULL;
    ciu_err_t err = s_fold_answer(answer, &folded);
    if (err != CIU_OK)
        return err;

    if (strlen(folded) == 2 && s_is_upper(folded[0]) && s_is_upper(folded[1])) {
        memcpy(ret_code, folded, 3);
    } else {
        const ciu_city_t *city = cities ? ciu_cities_find_name(cities, answer) : NULL;
        if (city)
            memcpy(ret_code, city->code, 3);
        else
            err = CIU_ERR_CITY_UNKNOWN;
    }
    free(folded);
    return err;
}

ciu_err_t ciu_parse_gender(const char *answer, int *ret_code)
{
    if (!ret_code)
        return CIU_ERR_INVALID;
    char *folded = NULL;
    ciu_err_t err = s_fold_answer(answer, &folded);
    if (err != CIU_OK)
        return err;

    int code = 0;
    if (folded[0] >= '1' && folded[0] <= '4' && folded[1] == '\0') {
        code = folded[0] - '0';
    } else {
        for (size_t i = 0; i < sizeof(s_gender_words) / sizeof(s_gender_words[0]); i++) {
            if (strcmp(folded, s_gender_words[i].word) == 0) {
                code = s_gender_words[i].code;
                break;
            }
        }
    }
    free(folded);
    if (!code)
        return CIU_ERR_GENDER_UNKNOWN;
    *ret_code = code;
    return CIU_OK;
}

const char *ciu_gender_label(int code, const char *lang)
{
    if (code < 1 || code > 4 || !lang)
        return NULL;
    for (size_t i = 0; i < sizeof(s_gender_labels) / sizeof(s_gender_labels[0]); i++)
        if (strcmp(lang, s_gender_labels[i].lang) == 0)
            return s_gender_labels[i].label[code - 1];
    return NULL;
}

/* True when s is exactly n letters A-Z. */
static bool s_is_letters(const char *s, size_t n)
{
    if (!s)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!s_is_upper(s[i]))
            return false;
    return s[n] == '\0';
}

int ciu_formula(const char *last3, const char *first3, int year1, const char *city2,
                int gender1, char out[CIU_LEN + 1])
{
    if (!out || !s_is_letters(last3, 3) || !s_is_letters(first3, 3) || year1 < 0 ||
        year1 > 9 || !s_is_letters(city2, 2) || gender1 < 1 || gender1 > 4)
        return -EINVAL;
    memcpy(out, last3, 3);
    memcpy(out + 3, first3, 3);
    out[6] = (char)('0' + year1);
    memcpy(out + 7, city2, 2);
    out[9] = (char)('0' + gender1);
    out[10] = '\0';
    return 0;
}

ciu_err_t ciu_compute(const ciu_cities_t *cities, const char *last, const char *first,
                      const char *year, const char *city, const char *gender, int this_year,
                      char out[CIU_LEN + 1], ciu_field_t *ret_bad_field)
{
    char l3[4], f3[4], c2[3];
    int y1 = 0, g1 = 0;
    ciu_field_t field = CIU_FIELD_LAST_NAME;
    ciu_err_t err = ciu_parse_name(last, l3);
    if (err == CIU_OK) {
        field = CIU_FIELD_FIRST_NAME;
        err = ciu_parse_name(first, f3);
    }
    if (err == CIU_OK) {
        field = CIU_FIELD_BIRTH_YEAR;
        err = ciu_parse_year(year, this_year, &y1);
    }
    if (err == CIU_OK) {
        field = CIU_FIELD_BIRTH_CITY;
        err = ciu_parse_city(cities, city, c2);
    }
    if (err == CIU_OK) {
        field = CIU_FIELD_GENDER;
        err = ciu_parse_gender(gender, &g1);
    }
    if (err == CIU_OK) {
        field = CIU_FIELD_NONE;
        if (ciu_formula(l3, f3, y1, c2, g1, out) < 0)
            err = CIU_ERR_INVALID;
    }
    if (ret_bad_field)
        *ret_bad_field = field;
    return err;
}

bool ciu_is_valid(const char *text)
{
    if (!text || strnlen(text, CIU_LEN + 1) != CIU_LEN)
        return false;
    for (size_t i = 0; i < CIU_LEN; i++) {
        char c = text[i];
        bool ok = i == 6 ? s_is_digit(c) : i == 9 ? (c >= '1' && c <= '4') : s_is_upper(c);
        if (!ok)
            return false;
    }
    return true;
}
