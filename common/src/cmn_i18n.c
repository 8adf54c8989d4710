/* cmn_i18n: texts per language from JSON files. See cmn_i18n.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <jansson.h>

#include "common/cmn_i18n.h"
#include "common/cmn_str.h"

/* Every key and the placeholders its text may use (space-separated). */
/* clang-format off */
#define S_KEYS(X)                                                                      \
    X(welcome, "") X(q1, "") X(q2, "") X(q3, "") X(q4, "") X(q5, "")                   \
    X(err_empty, "") X(err_name_digits, "") X(err_name_no_letters, "")                 \
    X(err_name_too_long, "") X(err_year_range, "") X(err_year_invalid, "")             \
    X(err_city_unknown, "") X(err_gender_invalid, "")          \
    X(confirm, "summary") X(confirm_invalid, "") X(restart, "") X(help, "")            \
    X(back_first, "") X(language_menu, "") X(language_set, "")                        \
    X(language_invalid, "") X(cancelled, "") X(expired, "minutes") X(text_only, "")    \
    X(too_long, "") X(wait_ciu, "") X(flood_warning, "minutes") X(ciu_issued, "ciu")   \
    X(ciu_existing, "ciu") X(code_again, "ciu") X(code_none, "") X(qr_caption, "ciu")  \
    X(error_internal, "") X(gender_1, "") X(gender_2, "") X(gender_3, "") X(gender_4, "")     \
    X(ui_choose, "") X(ui_yes, "") X(ui_no, "")                                       \
    X(summary_last, "") X(summary_first, "") X(summary_year, "")                      \
    X(summary_city, "") X(summary_gender, "")                                        \
    X(city_suggest, "") X(city_suggest_answer, "") X(city_suggest_no, "")             \
    X(cities_title, "") X(cities_next, "") X(closing, "")                            \
    X(other_person, "") X(code_list, "ciu")
/* clang-format on */

#define S_KEY_NAME(k, v) #k,
#define S_KEY_VARS(k, v) v,

static const char *const s_keys[] = {S_KEYS(S_KEY_NAME) NULL};
static const char *const s_vars[] = {S_KEYS(S_KEY_VARS)};

#define S_NKEYS (sizeof(s_vars) / sizeof(s_vars[0]))

static const char *const s_langs[CMN_I18N_NLANGS] = {"fr", "en", "ln", "sw"};

#define S_NAME_MAX 32 /* longest placeholder name */

typedef struct {
    bool present;         /* the file existed */
    char *texts[S_NKEYS]; /* owned, NULL when missing */
    char *meta_language;  /* owned or NULL */
    char *meta_status;    /* owned or NULL */
} s_lang_t;

struct cmn_i18n {
    s_lang_t langs[CMN_I18N_NLANGS];
};

static int s_key_index(const char *key)
{
    if (!key)
        return -1;
    for (size_t i = 0; i < S_NKEYS; i++)
        if (strcmp(s_keys[i], key) == 0)
            return (int)i;
    return -1;
}

const char *const *cmn_i18n_keys(void)
{
    return s_keys;
}

const char *cmn_i18n_lang_code(int index)
{
    if (index < 0 || index >= CMN_I18N_NLANGS)
        return NULL;
    return s_langs[index];
}

int cmn_i18n_lang_index(const char *code)
{
    if (!code)
        return -1;
    for (int i = 0; i < CMN_I18N_NLANGS; i++)
        if (strcasecmp(s_langs[i], code) == 0)
            return i;
    return -1;
}

bool cmn_i18n_lang_valid(const char *code)
{
    return cmn_i18n_lang_index(code) >= 0;
}

/* True when `name` (len bytes) is one of the space-separated words of `list`. */
static bool s_var_allowed(const char *list, const char *name, size_t len)
{
    const char *p = list;
    while (*p) {
        while (*p == ' ')
            p++;
        const char *w = p;
        while (*p && *p != ' ')
            p++;
        if ((size_t)(p - w) == len && len && memcmp(w, name, len) == 0)
            return true;
    }
    return false;
}

/* Scan the placeholder starting at text[0] == '{'. On success returns 0 and
 * sets the name span and the total length "{name}". -EINVAL when malformed. */
static int s_placeholder(const char *text, const char **name, size_t *name_len, size_t *total)
{
    size_t n = 1;
    while ((text[n] >= 'a' && text[n] <= 'z') || text[n] == '_')
        n++;
    if (n == 1 || text[n] != '}' || n - 1 > S_NAME_MAX)
        return -EINVAL;
    *name = text + 1;
    *name_len = n - 1;
    *total = n + 1;
    return 0;
}

/* Check that `text` only uses the placeholders allowed for key `k`. */
static int s_validate_text(size_t k, const char *text, cmn_str_t *err, const char *file)
{
    for (const char *p = text; *p; p++) {
        if (*p != '{')
            continue;
        const char *name;
        size_t name_len, total;
        if (s_placeholder(p, &name, &name_len, &total) < 0) {
            if (err)
                cmn_str_printf(err, "%s: key '%s': '{' does not start a {name} placeholder",
                               file, s_keys[k]);
            return -EINVAL;
        }
        if (!s_var_allowed(s_vars[k], name, name_len)) {
            if (err)
                cmn_str_printf(err, "%s: key '%s': unknown placeholder {%.*s}%s%s", file,
                               s_keys[k], (int)name_len, name,
                               s_vars[k][0] ? ", allowed: " : ", none allowed",
                               s_vars[k]);
            return -EINVAL;
        }
        p += total - 1;
    }
    return 0;
}

static int s_dup(char **dst, const char *src)
{
    *dst = strdup(src);
    return *dst ? 0 : -ENOMEM;
}

static int s_load_meta(s_lang_t *l, json_t *meta, cmn_str_t *err, const char *file)
{
    if (!json_is_object(meta)) {
        if (err)
            cmn_str_printf(err, "%s: \"_meta\" must be an object", file);
        return -EINVAL;
    }
    json_t *lang = json_object_get(meta, "language");
    json_t *status = json_object_get(meta, "status");
    if ((lang && !json_is_string(lang)) || (status && !json_is_string(status))) {
        if (err)
            cmn_str_printf(err, "%s: \"_meta\" language and status must be strings", file);
        return -EINVAL;
    }
    if (lang && s_dup(&l->meta_language, json_string_value(lang)) < 0)
        return -ENOMEM;
    if (status && s_dup(&l->meta_status, json_string_value(status)) < 0)
        return -ENOMEM;
    return 0;
}

/* Load one language file into `l`. Returns 0, -ENOENT when the file does not
 * exist (nothing appended to err), or another negative errno with err set. */
static int s_load_file(s_lang_t *l, const char *dir, const char *code, cmn_str_t *err)
{
    cmn_str_t path = CMN_STR_INIT(4096);
    json_t *root = NULL;
    int r = cmn_str_printf(&path, "%s/%s.json", dir, code);
    if (r < 0) {
        if (err)
            cmn_str_printf(err, "%s/%s.json: path too long", dir, code);
        goto out_path;
    }
    const char *file = cmn_str_cstr(&path);

    struct stat st;
    if (stat(file, &st) < 0) {
        r = -errno;
        if (r != -ENOENT && err)
            cmn_str_printf(err, "%s: %s", file, strerror(-r));
        goto out_path;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > CMN_I18N_FILE_MAX) {
        r = -EINVAL;
        if (err)
            cmn_str_printf(err, "%s: not a regular file of at most %d bytes", file,
                           CMN_I18N_FILE_MAX);
        goto out_path;
    }

    json_error_t jerr;
    root = json_load_file(file, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        r = -EINVAL;
        if (err)
            cmn_str_printf(err, "%s: line %d column %d: %s", file, jerr.line, jerr.column,
                           jerr.text);
        goto out_path;
    }
    if (!json_is_object(root)) {
        r = -EINVAL;
        if (err)
            cmn_str_printf(err, "%s: must hold one JSON object (key -> text)", file);
        goto out_json;
    }

    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (strcmp(key, "_meta") == 0) {
            r = s_load_meta(l, val, err, file);
            if (r < 0)
                goto out_json;
            continue;
        }
        int k = s_key_index(key);
        if (k < 0) {
            r = -EINVAL;
            if (err)
                cmn_str_printf(err, "%s: unknown key '%s'", file, key);
            goto out_json;
        }
        const char *text = json_string_value(val);
        if (!text || !text[0] || strlen(text) > CMN_I18N_TEXT_MAX) {
            r = -EINVAL;
            if (err)
                cmn_str_printf(err, "%s: key '%s' must be a non-empty string of at most %d bytes",
                               file, key, CMN_I18N_TEXT_MAX);
            goto out_json;
        }
        r = s_validate_text((size_t)k, text, err, file);
        if (r < 0)
            goto out_json;
        r = s_dup(&l->texts[k], text);
        if (r < 0) {
            if (err)
                cmn_str_printf(err, "%s: out of memory", file);
            goto out_json;
        }
    }
    l->present = true;
    r = 0;

out_json:
    json_decref(root);
out_path:
    cmn_str_free(&path);
    return r;
}

cmn_i18n_t *cmn_i18n_load(const char *dir, cmn_str_t *err)
{
    if (!dir) {
        if (err)
            cmn_str_appends(err, "language directory not set");
        return NULL;
    }
    cmn_i18n_t *t = calloc(1, sizeof(*t));
    if (!t) {
        if (err)
            cmn_str_appends(err, "out of memory");
        return NULL;
    }
    for (int i = 0; i < CMN_I18N_NLANGS; i++) {
        int r = s_load_file(&t->langs[i], dir, s_langs[i], err);
        if (r == -ENOENT && i == 0) {
            if (err)
                cmn_str_printf(err, "%s/%s.json: missing (the French texts are required)", dir,
                               s_langs[i]);
            goto fail;
        }
        if (r < 0 && r != -ENOENT)
            goto fail;
    }
    /* French is the fallback of every lookup: it must be complete. */
    for (size_t k = 0; k < S_NKEYS; k++) {
        if (!t->langs[0].texts[k]) {
            if (err)
                cmn_str_printf(err, "%s/fr.json: missing key '%s' (French is the fallback and "
                               "must be complete)", dir, s_keys[k]);
            goto fail;
        }
    }
    return t;

fail:
    cmn_i18n_destroy(&t);
    return NULL;
}

void cmn_i18n_destroy(cmn_i18n_t **p)
{
    if (!p || !*p)
        return;
    cmn_i18n_t *t = *p;
    for (int i = 0; i < CMN_I18N_NLANGS; i++) {
        for (size_t k = 0; k < S_NKEYS; k++)
            free(t->langs[i].texts[k]);
        free(t->langs[i].meta_language);
        free(t->langs[i].meta_status);
    }
    free(t);
    *p = NULL;
}

static const char *s_text(const cmn_i18n_t *t, const char *lang, int k)
{
    int li = cmn_i18n_lang_index(lang);
    if (li > 0 && t->langs[li].texts[k])
        return t->langs[li].texts[k];
    return t->langs[0].texts[k];
}

const char *cmn_i18n_get(const cmn_i18n_t *t, const char *lang, const char *key)
{
    int k = s_key_index(key);
    if (!t || k < 0)
        return NULL;
    return s_text(t, lang, k);
}

static const char *s_var_value(const char *const *vars, const char *name, size_t len)
{
    if (!vars)
        return NULL;
    for (size_t i = 0; vars[i] && vars[i + 1]; i += 2)
        if (strlen(vars[i]) == len && memcmp(vars[i], name, len) == 0)
            return vars[i + 1];
    return NULL;
}

int cmn_i18n_format(const cmn_i18n_t *t, const char *lang, const char *key,
                    const char *const *vars, cmn_str_t *out)
{
    int k = s_key_index(key);
    if (!t || !out || k < 0)
        return -ENOENT;
    const char *text = s_text(t, lang, k);
    cmn_str_t tmp = CMN_STR_INIT(out->max);
    int r = 0;
    const char *p = text;
    while (*p && r == 0) {
        const char *brace = strchr(p, '{');
        if (!brace) {
            r = cmn_str_appends(&tmp, p);
            break;
        }
        r = cmn_str_append(&tmp, p, (size_t)(brace - p));
        if (r < 0)
            break;
        const char *name;
        size_t name_len, total;
        if (s_placeholder(brace, &name, &name_len, &total) < 0) {
            r = -EINVAL; /* cannot happen: validated at load */
            break;
        }
        const char *value = s_var_value(vars, name, name_len);
        if (!value) {
            r = -EINVAL;
            break;
        }
        r = cmn_str_appends(&tmp, value);
        p = brace + total;
    }
    if (r == 0 && tmp.len)
        r = cmn_str_append(out, tmp.buf, tmp.len);
    cmn_str_free(&tmp);
    return r;
}

int cmn_i18n_check(const cmn_i18n_t *t, cmn_str_t *report)
{
    if (!t)
        return 0;
    int total = 0;
    for (int i = 0; i < CMN_I18N_NLANGS; i++) {
        const s_lang_t *l = &t->langs[i];
        if (!l->present) {
            total += (int)S_NKEYS;
            if (report)
                cmn_str_printf(report, "%s: file missing\n", s_langs[i]);
            continue;
        }
        int missing = 0;
        for (size_t k = 0; k < S_NKEYS; k++) {
            if (l->texts[k])
                continue;
            if (report)
                cmn_str_printf(report, "%s%s%s", missing ? ", " : s_langs[i],
                               missing ? "" : ": missing ", s_keys[k]);
            missing++;
        }
        if (report && missing)
            cmn_str_appends(report, "\n");
        total += missing;
    }
    return total;
}

const char *cmn_i18n_meta(const cmn_i18n_t *t, const char *lang, const char *field)
{
    int li = cmn_i18n_lang_index(lang);
    if (!t || li < 0 || !field)
        return NULL;
    if (strcmp(field, "language") == 0)
        return t->langs[li].meta_language;
    if (strcmp(field, "status") == 0)
        return t->langs[li].meta_status;
    return NULL;
}
