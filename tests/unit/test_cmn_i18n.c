/* Unit tests of cmn_i18n: the shipped language files and the loader. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/cmn_i18n.h"
#include "common/cmn_str.h"

/* "$CIU_SHARE_DIR/lang" (or the source tree's share/lang). */
static void s_lang_dir(cmn_str_t *out)
{
    const char *share = getenv("CIU_SHARE_DIR");
    if (share && share[0])
        assert_int_equal(cmn_str_printf(out, "%s/lang", share), 0);
    else
        assert_int_equal(cmn_str_appends(out, "share/lang"), 0);
}

static cmn_i18n_t *s_load_shipped(void)
{
    cmn_str_t dir = CMN_STR_INIT(4096);
    cmn_str_t err = CMN_STR_INIT(4096);
    s_lang_dir(&dir);
    cmn_i18n_t *t = cmn_i18n_load(cmn_str_cstr(&dir), &err);
    if (!t)
        fail_msg("cannot load %s: %s", cmn_str_cstr(&dir), cmn_str_cstr(&err));
    cmn_str_free(&dir);
    cmn_str_free(&err);
    return t;
}

/* A temporary directory with files; removed by s_tmp_free. */
typedef struct {
    char dir[64];
    char files[8][128];
    int nfiles;
} s_tmp_t;

static void s_tmp_init(s_tmp_t *tmp)
{
    memset(tmp, 0, sizeof(*tmp));
    cmn_strlcpy(tmp->dir, "/tmp/test_cmn_i18n.XXXXXX", sizeof(tmp->dir));
    assert_non_null(mkdtemp(tmp->dir));
}

static void s_tmp_write(s_tmp_t *tmp, const char *name, const char *content)
{
    assert_true(tmp->nfiles < 8);
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", tmp->dir, name);
    cmn_strlcpy(tmp->files[tmp->nfiles++], path, sizeof(tmp->files[0]));
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(content, fp);
    fclose(fp);
}

/* Copy the shipped fr.json into the temp dir (French must be complete). */
static void s_tmp_copy_fr(s_tmp_t *tmp)
{
    cmn_str_t path = CMN_STR_INIT(4096);
    s_lang_dir(&path);
    assert_int_equal(cmn_str_appends(&path, "/fr.json"), 0);
    FILE *fp = fopen(cmn_str_cstr(&path), "r");
    assert_non_null(fp);
    cmn_str_t content = CMN_STR_INIT(CMN_I18N_FILE_MAX);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
        assert_int_equal(cmn_str_append(&content, buf, n), 0);
    fclose(fp);
    s_tmp_write(tmp, "fr.json", cmn_str_cstr(&content));
    cmn_str_free(&content);
    cmn_str_free(&path);
}

static void s_tmp_free(s_tmp_t *tmp)
{
    for (int i = 0; i < tmp->nfiles; i++)
        unlink(tmp->files[i]);
    rmdir(tmp->dir);
}

/* ---- the shipped files ------------------------------------------------- */

static void test_every_language_has_every_text(void **state)
{
    (void)state;
    cmn_i18n_t *t = s_load_shipped();
    cmn_str_t report = CMN_STR_INIT(65536);
    int missing = cmn_i18n_check(t, &report);
    if (missing)
        fail_msg("%d texts missing:\n%s", missing, cmn_str_cstr(&report));
    assert_int_equal(report.len, 0);
    cmn_str_free(&report);
    cmn_i18n_destroy(&t);
    assert_null(t);
}

static void test_meta_status(void **state)
{
    (void)state;
    cmn_i18n_t *t = s_load_shipped();
    assert_string_equal(cmn_i18n_meta(t, "fr", "status"), "reviewed");
    assert_string_equal(cmn_i18n_meta(t, "en", "status"), "reviewed");
    assert_string_equal(cmn_i18n_meta(t, "ln", "status"), "awaiting review by native speakers");
    assert_string_equal(cmn_i18n_meta(t, "sw", "status"), "awaiting review by native speakers");
    assert_string_equal(cmn_i18n_meta(t, "ln", "language"), "Lingala");
    assert_null(cmn_i18n_meta(t, "xx", "status"));
    assert_null(cmn_i18n_meta(t, "fr", "other"));
    cmn_i18n_destroy(&t);
}

static void test_shipped_french_texts(void **state)
{
    (void)state;
    cmn_i18n_t *t = s_load_shipped();
    static const char *const expect[][2] = {
        {"q1", "Question 1 sur 5"}, {"q2", "Question 2 sur 5"}, {"q3", "Question 3 sur 5"},
        {"q4", "Question 4 sur 5"}, {"q5", "Question 5 sur 5"}, {"q1", "Mbengue"},
        {"q2", "Ibrahima"}, {"q3", "1997"}, {"q4", "KN ou Kinshasa"}, {"q5", "1 Homme"},
        {"q5", "2 Femme"}, {"q5", "3 Trans"}, {"q5", "4 Autre"}, {"welcome", "AIDE"},
        {"welcome", "LANGUE"}, {"welcome", "5 questions"}, {"help", "RECOMMENCER"},
        {"help", "RETOUR"}, {"help", "LANGUE"}, {"help", "ANNULER"}, {"help", "CODE"},
        {"help", "AIDE"}, {"language_menu", "1 Français"}, {"language_menu", "2 English"},
        {"language_menu", "3 Lingala"}, {"language_menu", "4 Kiswahili"},
        {"confirm", "Répondez *1* (oui) pour confirmer ou *2* (non) pour recommencer"},
        {"err_city_unknown", "code à 2 lettres"}, {"gender_1", "Homme"},
    };
    for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
        const char *text = cmn_i18n_get(t, "fr", expect[i][0]);
        assert_non_null(text);
        if (!strstr(text, expect[i][1]))
            fail_msg("fr %s lacks \"%s\": %s", expect[i][0], expect[i][1], text);
    }
    assert_string_equal(cmn_i18n_get(t, "en", "gender_2"), "Woman");
    assert_string_equal(cmn_i18n_get(t, "ln", "gender_1"), "Mobali");
    assert_string_equal(cmn_i18n_get(t, "sw", "gender_2"), "Mwanamke");
    cmn_i18n_destroy(&t);
}

static void test_format_placeholders(void **state)
{
    (void)state;
    cmn_i18n_t *t = s_load_shipped();
    cmn_str_t out = CMN_STR_INIT(4096);
    const char *vars[] = {"ciu", "MBEIBR7DA1", NULL};
    assert_int_equal(cmn_i18n_format(t, "fr", "ciu_issued", vars, &out), 0);
    assert_non_null(strstr(cmn_str_cstr(&out), "Votre CIU est\u00a0: *MBEIBR7DA1*"));
    assert_null(strchr(cmn_str_cstr(&out), '{'));

    cmn_str_reset(&out);
    const char *mins[] = {"minutes", "30", NULL};
    assert_int_equal(cmn_i18n_format(t, "fr", "expired", mins, &out), 0);
    assert_non_null(strstr(cmn_str_cstr(&out), "après 30 minutes"));

    /* a placeholder without a value: error, out unchanged */
    cmn_str_reset(&out);
    assert_int_equal(cmn_i18n_format(t, "fr", "ciu_issued", NULL, &out), -EINVAL);
    assert_int_equal(out.len, 0);
    assert_int_equal(cmn_i18n_format(t, "fr", "no_such_key", NULL, &out), -ENOENT);
    assert_null(cmn_i18n_get(t, "fr", "no_such_key"));

    /* text too big for out: -E2BIG, out unchanged */
    cmn_str_t small = CMN_STR_INIT(10);
    assert_int_equal(cmn_str_appends(&small, "abc"), 0);
    assert_int_equal(cmn_i18n_format(t, "fr", "welcome", NULL, &small), -E2BIG);
    assert_string_equal(cmn_str_cstr(&small), "abc");
    cmn_str_free(&small);

    /* every placeholder key formats with its variables in every language */
    static const char *const all[] = {"summary", "S", "minutes", "5", "ciu", "C", NULL};
    for (int li = 0; cmn_i18n_lang_code(li); li++)
        for (const char *const *k = cmn_i18n_keys(); *k; k++) {
            cmn_str_reset(&out);
            assert_int_equal(cmn_i18n_format(t, cmn_i18n_lang_code(li), *k, all, &out), 0);
            assert_null(strchr(cmn_str_cstr(&out), '{'));
        }
    cmn_str_free(&out);
    cmn_i18n_destroy(&t);
}

static void test_lang_codes(void **state)
{
    (void)state;
    assert_string_equal(cmn_i18n_lang_code(0), "fr");
    assert_string_equal(cmn_i18n_lang_code(3), "sw");
    assert_null(cmn_i18n_lang_code(4));
    assert_null(cmn_i18n_lang_code(-1));
    assert_int_equal(cmn_i18n_lang_index("LN"), 2);
    assert_int_equal(cmn_i18n_lang_index("de"), -1);
    assert_int_equal(cmn_i18n_lang_index(NULL), -1);
    assert_true(cmn_i18n_lang_valid("en"));
    assert_false(cmn_i18n_lang_valid(""));
}

/* ---- loader behaviour on temporary catalogues -------------------------- */

static void test_fallback_to_french(void **state)
{
    (void)state;
    s_tmp_t tmp;
    s_tmp_init(&tmp);
    s_tmp_copy_fr(&tmp);
    s_tmp_write(&tmp, "en.json", "{\"q1\": \"EN question one\"}");
    cmn_str_t err = CMN_STR_INIT(4096);
    cmn_i18n_t *t = cmn_i18n_load(tmp.dir, &err);
    if (!t)
        fail_msg("%s", cmn_str_cstr(&err));
    assert_string_equal(cmn_i18n_get(t, "en", "q1"), "EN question one");
    /* en lacks q2: French text */
    assert_non_null(strstr(cmn_i18n_get(t, "en", "q2"), "Question 2 sur 5"));
    /* ln has no file, xx is unknown, NULL: French */
    assert_non_null(strstr(cmn_i18n_get(t, "ln", "q1"), "Question 1 sur 5"));
    assert_non_null(strstr(cmn_i18n_get(t, "xx", "q1"), "Question 1 sur 5"));
    assert_non_null(strstr(cmn_i18n_get(t, NULL, "q1"), "Question 1 sur 5"));

    cmn_str_t report = CMN_STR_INIT(65536);
    assert_true(cmn_i18n_check(t, &report) > 0);
    const char *rep = cmn_str_cstr(&report);
    assert_non_null(strstr(rep, "en: missing welcome, q2,"));
    assert_null(strstr(rep, "en: missing welcome, q1"));
    assert_non_null(strstr(rep, "ln: file missing"));
    assert_non_null(strstr(rep, "sw: file missing"));
    assert_null(strstr(rep, "fr:"));
    cmn_str_free(&report);
    cmn_str_free(&err);
    cmn_i18n_destroy(&t);
    s_tmp_free(&tmp);
}

/* Load a catalogue made of fr.json (shipped) and en.json = `en`; expect
 * failure with an error mentioning `needle`. */
static void s_expect_error(const char *en, const char *needle)
{
    s_tmp_t tmp;
    s_tmp_init(&tmp);
    s_tmp_copy_fr(&tmp);
    s_tmp_write(&tmp, "en.json", en);
    cmn_str_t err = CMN_STR_INIT(4096);
    cmn_i18n_t *t = cmn_i18n_load(tmp.dir, &err);
    assert_null(t);
    const char *msg = cmn_str_cstr(&err);
    if (!strstr(msg, "en.json") || !strstr(msg, needle))
        fail_msg("error \"%s\" should name en.json and say \"%s\"", msg, needle);
    cmn_str_free(&err);
    s_tmp_free(&tmp);
}

static void test_bad_json_names_file(void **state)
{
    (void)state;
    s_expect_error("{\"q1\": \"x\",\n \"q2\": }", "line 2");
    s_expect_error("[\"q1\"]", "one JSON object");
    s_expect_error("{\"q1\": 3}", "non-empty string");
    s_expect_error("{\"q1\": \"\"}", "non-empty string");
    s_expect_error("{\"q1\": \"a\", \"q1\": \"b\"}", "duplicate");
}

static void test_placeholders_checked(void **state)
{
    (void)state;
    s_expect_error("{\"ciu_issued\": \"Your code {cui}\"}", "unknown placeholder {cui}");
    s_expect_error("{\"q1\": \"Question {ciu}\"}", "unknown placeholder {ciu}");
    s_expect_error("{\"q1\": \"Question {1}\"}", "placeholder");
    s_expect_error("{\"q1\": \"Question { \"}", "placeholder");
    s_expect_error("{\"welcom\": \"Hello\"}", "unknown key 'welcom'");
    s_expect_error("{\"_meta\": \"x\"}", "_meta");
}

static void test_french_required_and_complete(void **state)
{
    (void)state;
    s_tmp_t tmp;
    s_tmp_init(&tmp);
    cmn_str_t err = CMN_STR_INIT(4096);
    assert_null(cmn_i18n_load(tmp.dir, &err));
    assert_non_null(strstr(cmn_str_cstr(&err), "fr.json"));

    cmn_str_reset(&err);
    s_tmp_write(&tmp, "fr.json", "{\"q1\": \"Question 1 sur 5\"}");
    assert_null(cmn_i18n_load(tmp.dir, &err));
    assert_non_null(strstr(cmn_str_cstr(&err), "fr.json: missing key 'welcome'"));

    cmn_str_reset(&err);
    assert_null(cmn_i18n_load(NULL, &err));
    assert_null(cmn_i18n_load(NULL, NULL));
    cmn_str_free(&err);
    s_tmp_free(&tmp);

    cmn_i18n_destroy(NULL);
    cmn_i18n_t *none = NULL;
    cmn_i18n_destroy(&none);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_language_has_every_text),
        cmocka_unit_test(test_meta_status),
        cmocka_unit_test(test_shipped_french_texts),
        cmocka_unit_test(test_format_placeholders),
        cmocka_unit_test(test_lang_codes),
        cmocka_unit_test(test_fallback_to_french),
        cmocka_unit_test(test_bad_json_names_file),
        cmocka_unit_test(test_placeholders_checked),
        cmocka_unit_test(test_french_required_and_complete),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
