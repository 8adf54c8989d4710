/* cmn_i18n: the texts the bot says, in every language it speaks.
 *
 * Texts live in <share_dir>/lang/<code>.json, one JSON object per language
 * mapping a key to a text (WhatsApp markup: *bold*), so operators fix the
 * wording without recompiling. The catalogue is loaded once at start and is
 * read-only afterwards (safe to share between threads).
 *
 * Languages: fr (default and reference), en, ln (Lingala), sw (Swahili).
 * fr.json must exist and hold every key; the other files may lack keys (or
 * be missing): a lookup then falls back to French, and cmn_i18n_check() lists
 * what is missing. An optional "_meta" object holds {"language": <name in
 * that language>, "status": <review status>}.
 *
 * Loading fails, naming the file, on: bad JSON, a key that is not a text
 * (not a string, empty, longer than CMN_I18N_TEXT_MAX bytes), a key unknown
 * to the code (a typo would silently never be used) and a placeholder that
 * the key does not offer (texts may only use the {name} placeholders listed
 * below; a '{' not starting one is an error too).
 *
 * Keys (placeholders in braces):
 *   welcome, q1 (last name), q2 (first name), q3 (birth year), q4 (birth city),
 *   q5 (gender),
 *   err_empty, err_name_digits, err_name_no_letters, err_name_too_long,
 *   err_year_range, err_year_invalid, err_city_unknown,
 *   err_gender_invalid,
 *   confirm {summary}, confirm_invalid, restart, help, back_first,
 *   language_menu, language_set, language_invalid, cancelled,
 *   expired {minutes}, text_only, too_long, wait_ciu, flood_warning {minutes},
 *   ciu_issued {ciu}, ciu_existing {ciu}, code_again {ciu}, code_none,
 *   qr_caption {ciu}, error_internal,
 *   gender_1, gender_2, gender_3, gender_4 (labels used in the confirmation);
 *   ui_choose, ui_yes, ui_no (list button and reply buttons on Meta, <= 20 chars).
 */
#ifndef CMN_I18N_H
#define CMN_I18N_H

#include <stdbool.h>
#include <stddef.h>

#include "common/cmn_str.h"

typedef struct cmn_i18n cmn_i18n_t;

#define CMN_I18N_DEFAULT_LANG "fr"
#define CMN_I18N_NLANGS 4
/* Longest text accepted in a language file, in bytes (WhatsApp allows 4096
 * characters per message; placeholders add a little). */
#define CMN_I18N_TEXT_MAX 3500
/* Largest language file accepted, in bytes. */
#define CMN_I18N_FILE_MAX (256 * 1024)

/* Load <dir>/fr.json, en.json, ln.json, sw.json. `dir` is the lang folder
 * itself (e.g. "$CIU_SHARE_DIR/lang"). Returns a new catalogue (caller owns,
 * cmn_i18n_destroy) or NULL; then, when `err` is not NULL, one line saying
 * which file and what is wrong is appended to it. */
cmn_i18n_t *cmn_i18n_load(const char *dir, cmn_str_t *err);

/* Free the catalogue and set *p to NULL. NULL-safe. */
void cmn_i18n_destroy(cmn_i18n_t **p);

/* The text of `key` in `lang`, falling back to French when that language has
 * no such text or `lang` is unknown/NULL. Borrowed, valid until destroy.
 * NULL only when `key` is not one of the keys above (a programmer error). */
const char *cmn_i18n_get(const cmn_i18n_t *t, const char *lang, const char *key);

/* Append the text of `key` in `lang` (with the same fallback) to `out`,
 * replacing each {name} by its value from `vars`, a NULL-terminated list of
 * name, value pairs ({"ciu", "MBEIBR7DA1", NULL}). `vars` may be NULL.
 * Returns 0; -ENOENT for an unknown key; -EINVAL when the text uses a
 * placeholder absent from `vars`; -E2BIG / -ENOMEM from cmn_str. On error
 * `out` is left unchanged. */
int cmn_i18n_format(const cmn_i18n_t *t, const char *lang, const char *key,
                    const char *const *vars, cmn_str_t *out);

/* Append to `report` one line per language lacking texts, e.g.
 * "ln: missing help, q3" (or "sw: file missing"). Returns the number of
 * missing texts over all languages (0: every language is complete). */
int cmn_i18n_check(const cmn_i18n_t *t, cmn_str_t *report);

/* "_meta" field of a language ("language" or "status"), or NULL. */
const char *cmn_i18n_meta(const cmn_i18n_t *t, const char *lang, const char *field);

/* Languages, in menu order: 0 "fr", 1 "en", 2 "ln", 3 "sw". NULL past the end. */
const char *cmn_i18n_lang_code(int index);
/* Index of a language code ("fr", case-insensitive), or -1 when unknown. */
int cmn_i18n_lang_index(const char *code);
/* True for a supported language code. */
bool cmn_i18n_lang_valid(const char *code);

/* Every key, NULL-terminated (for tools and tests). */
const char *const *cmn_i18n_keys(void);

#endif
