/* admin_i18n: French texts of ciu-admin (see admin_i18n.h). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "admin_i18n.h"

static bool s_fr;

/* English as written in the code, then French. Keep the conversions (%s,
 * %lld, ...) in the same order: test_admin_i18n checks it. French typography:
 * a no-break space (U+00A0) before : ; ? ! */
static const admin_text_t s_texts[] = {
#include "admin_i18n_fr.inc"
};

bool admin_lang_is_fr(const char *value)
{
    return value && strncmp(value, "fr", 2) == 0;
}

void admin_lang_init(void)
{
    const char *force = getenv("CIU_ADMIN_LANG");
    if (force && *force) {
        s_fr = admin_lang_is_fr(force);
        return;
    }
    static const char *const vars[] = {"LC_ALL", "LC_MESSAGES", "LANG"};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        const char *v = getenv(vars[i]);
        if (v && *v) {
            s_fr = admin_lang_is_fr(v);
            return;
        }
    }
    s_fr = false;
}

void admin_lang_set_fr(bool fr)
{
    s_fr = fr;
}

bool admin_lang_fr(void)
{
    return s_fr;
}

const char *admin_tr(const char *msgid)
{
    if (!s_fr || msgid == NULL)
        return msgid;
    for (size_t i = 0; i < sizeof(s_texts) / sizeof(s_texts[0]); i++)
        if (strcmp(s_texts[i].en, msgid) == 0)
            return s_texts[i].fr;
    return msgid;
}

const admin_text_t *admin_texts(size_t *ret_n)
{
    *ret_n = sizeof(s_texts) / sizeof(s_texts[0]);
    return s_texts;
}
