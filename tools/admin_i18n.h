/* admin_i18n: ciu-admin speaks French or English.
 *
 * The language comes from CIU_ADMIN_LANG when set ("fr" or "en"), else from
 * the locale variables in POSIX order (LC_ALL, then LC_MESSAGES, then LANG):
 * a value starting with "fr" gives French, anything else English. Texts are
 * written in English in the code, gettext style: admin_tr("English %s")
 * returns the French text with the same conversions when the language is
 * French (tests/unit/test_admin_i18n.c checks every pair), else its argument.
 * --json output never goes through admin_tr: its keys and values are stable.
 */
#ifndef ADMIN_I18N_H
#define ADMIN_I18N_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    const char *en;
    const char *fr;
} admin_text_t;

/* Decide the language from the environment (call once, first). */
void admin_lang_init(void);
/* Force a language (tests): true for French. */
void admin_lang_set_fr(bool fr);
bool admin_lang_fr(void);
/* The text in the current language; msgid when it has no translation.
 * Borrowed, static. */
const char *admin_tr(const char *msgid) __attribute__((format_arg(1)));
/* The whole table (tests). */
const admin_text_t *admin_texts(size_t *ret_n);
/* true when the value of a locale variable means French ("fr", "fr_FR.UTF-8", ...). */
bool admin_lang_is_fr(const char *value);

#endif
