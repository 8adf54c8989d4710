/* ciu_rules: the pure rules that turn five answers into a CIU.
 *
 * A Code d'Identification Unique is ten characters, LLLFFFYCCG:
 *   LLL  first three letters of the last name  (padded with X)
 *   FFF  first three letters of the first name (padded with X)
 *   Y    last digit of the birth year
 *   CC   two-letter code of the birth city (see ciu_cities.h)
 *   G    gender code 1..4
 * e.g. Mbengue, Ibrahima, 1997, DA, 1 -> "MBEIBR7DA1".
 *
 * Each parser takes one answer exactly as the person typed it (UTF-8) and
 * returns CIU_OK with the part, or a ciu_err_t saying why it was refused, so
 * the conversation daemon can answer with a helpful message in the person's
 * language. Functions here are pure: no I/O, no logging, no global state
 * (utf8proc's tables are read-only). docs/ciu-rules.md describes the rules
 * for programme staff; the examples there are the unit tests' table.
 */
#ifndef CIU_RULES_H
#define CIU_RULES_H

#include <stdbool.h>
#include <stddef.h>

typedef struct ciu_cities ciu_cities_t;

/* Longest answer accepted, in bytes (not characters), before trimming. */
#define CIU_ANSWER_MAX 100
/* Length of a CIU, without the NUL. */
#define CIU_LEN 10

/* Why an answer was refused. Values are stable: they may be stored and
 * mapped to messages; add new ones at the end. */
typedef enum {
    CIU_OK = 0,
    CIU_ERR_EMPTY,          /* nothing typed, or only whitespace (any field) */
    CIU_ERR_TOO_LONG,       /* more than CIU_ANSWER_MAX bytes (any field) */
    CIU_ERR_BAD_UTF8,       /* the bytes are not valid UTF-8 (any field) */
    CIU_ERR_NAME_DIGIT,     /* a name contains a digit anywhere */
    CIU_ERR_NAME_NO_LETTER, /* a name has no Latin letter (emoji, "???", Arabic...) */
    CIU_ERR_YEAR_FORMAT,    /* neither a 4-digit year nor a single digit ("97", "19a7") */
    CIU_ERR_YEAR_RANGE,     /* a 4-digit year before 1900 or after this year */
    CIU_ERR_CITY_UNKNOWN,   /* not a 2-letter code and not a city name in the list */
    CIU_ERR_GENDER_UNKNOWN, /* not 1..4 nor a known word */
    CIU_ERR_NOMEM,          /* out of memory */
    CIU_ERR_INVALID,        /* programmer error: NULL argument or malformed part */
} ciu_err_t;

/* Which of the five answers a refusal is about. */
typedef enum {
    CIU_FIELD_NONE = 0,
    CIU_FIELD_LAST_NAME,
    CIU_FIELD_FIRST_NAME,
    CIU_FIELD_BIRTH_YEAR,
    CIU_FIELD_BIRTH_CITY,
    CIU_FIELD_GENDER,
} ciu_field_t;

/* Gender codes (the last character of a CIU). */
enum {
    CIU_GENDER_MAN = 1,
    CIU_GENDER_WOMAN = 2,
    CIU_GENDER_TRANS = 3,
    CIU_GENDER_OTHER = 4,
};

/* Stable lower-case identifiers for logs and metrics ("name_digit",
 * "birth_year"...). Never NULL; "unknown" for values out of range. */
const char *ciu_err_str(ciu_err_t err);
const char *ciu_field_str(ciu_field_t field);

/* Fold text for comparison: one utf8proc_map (decompose, strip marks,
 * case-fold, compatibility forms), then keep Latin letters as A-Z (with a
 * small table for letters that do not decompose: ø->O, ł->L, đ->D, æ->AE,
 * œ->OE, ß->SS, ı->I, þ->TH, ɛ->E, ɔ->O, ŋ->NG...), ASCII digits as 0-9
 * (any other decimal digit as '#'), and whitespace or dashes as word
 * separators, written as one space between words with none at either end.
 * Everything else (apostrophes, punctuation, emoji, other scripts) is dropped.
 * *ret_folded is malloc'd (caller frees) and written only on CIU_OK.
 * Returns CIU_OK, CIU_ERR_BAD_UTF8, CIU_ERR_NOMEM or CIU_ERR_INVALID. */
ciu_err_t ciu_fold(const char *text, char **ret_folded);

/* Last or first name -> three letters A-Z (first word that has a Latin
 * letter, its first three letters, padded with X). ret_code gets 3 letters
 * and a NUL, only on CIU_OK. Refusals: EMPTY, TOO_LONG, BAD_UTF8,
 * NAME_DIGIT, NAME_NO_LETTER; INVALID/NOMEM otherwise. */
ciu_err_t ciu_parse_name(const char *answer, char ret_code[4]);

/* Birth year -> one digit 0-9. Accepts, after trimming whitespace and one
 * trailing '.', a 4-digit year within [1900, this_year] (its last digit) or
 * a single digit. Refusals: EMPTY, TOO_LONG, BAD_UTF8, YEAR_FORMAT,
 * YEAR_RANGE. *ret_digit written only on CIU_OK. */
ciu_err_t ciu_parse_year(const char *answer, int this_year, int *ret_digit);

/* Birth city -> two letters A-Z. A 2-letter answer (letters only, any case,
 * accents stripped) is taken as a code as is, even if not in the list;
 * anything else is looked up by name or alias in `cities` (which may be
 * NULL: then only codes are accepted). ret_code gets 2 letters and a NUL,
 * only on CIU_OK. Refusals: EMPTY, TOO_LONG, BAD_UTF8, CITY_UNKNOWN. */
ciu_err_t ciu_parse_city(const ciu_cities_t *cities, const char *answer, char ret_code[3]);

/* Gender -> 1..4 (see the CIU_GENDER_* codes). Accepts "1".."4" or a word
 * in French, English, Lingala or Swahili (case and accents ignored).
 * Refusals: EMPTY, TOO_LONG, BAD_UTF8, GENDER_UNKNOWN. */
ciu_err_t ciu_parse_gender(const char *answer, int *ret_code);

/* Display label of a gender code in a language ("fr", "en", "ln", "sw"):
 * e.g. (2, "sw") -> "Mwanamke". Static string; NULL for an unknown code or
 * language. */
const char *ciu_gender_label(int code, const char *lang);

/* Assemble a CIU from its parts: last3/first3 3 letters A-Z, year1 0..9,
 * city2 2 letters A-Z, gender1 1..4. Writes 10 characters and a NUL to out.
 * Returns 0, or -EINVAL when a part has the wrong shape (out untouched). */
int ciu_formula(const char *last3, const char *first3, int year1, const char *city2,
                int gender1, char out[CIU_LEN + 1]);

/* Run the five parsers in order (last name, first name, year, city,
 * gender) and assemble the CIU into out (only on CIU_OK). Returns the first
 * refusal; when ret_bad_field is not NULL it is always written: the refused
 * field, or CIU_FIELD_NONE on success (the one output written on failure,
 * by design: it says which question to ask again). */
ciu_err_t ciu_compute(const ciu_cities_t *cities, const char *last, const char *first,
                      const char *year, const char *city, const char *gender, int this_year,
                      char out[CIU_LEN + 1], ciu_field_t *ret_bad_field);

/* True when text is a well-formed CIU (shape only: 3+3 letters, digit,
 * 2 letters, 1..4). */
bool ciu_is_valid(const char *text);

#endif
