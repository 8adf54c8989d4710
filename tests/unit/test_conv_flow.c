/* Unit tests of conv_flow: what a person sees, message by message. */
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

#include "ciu_cities.h"
#include "ciu_rules.h"
#include "common/cmn_i18n.h"
#include "common/cmn_str.h"
#include "conv_flow.h"

#define MIN_MS (60 * 1000LL)
#define T0 1700000000000LL /* an arbitrary "now" */

/* Shared by all tests (read-only). */
static cmn_i18n_t *s_texts;
static ciu_cities_t *s_cities;
static conv_ctx_t s_ctx;

/* One person's conversation, driven message by message. */
typedef struct {
    bool has_session;
    conv_session_t session;
    conv_result_t res;
    int64_t now;
} chat_t;

static int s_setup(void **state)
{
    (void)state;
    const char *share = getenv("CIU_SHARE_DIR");
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/lang", share && share[0] ? share : "share");
    cmn_str_t err = CMN_STR_INIT(4096);
    s_texts = cmn_i18n_load(dir, &err);
    if (!s_texts) {
        fprintf(stderr, "cannot load texts: %s\n", cmn_str_cstr(&err));
        return -1;
    }
    cmn_str_free(&err);

    /* Our own small city list, so that the tests do not depend on the
     * operators' share/cities.tsv. */
    char path[] = "/tmp/test_conv_flow.XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    static const char cities[] = "# test list\n"
                                 "KN\tKinshasa\tKinshasa\n"
                                 "DA\tDakar\tDakar\n"
                                 "LU\tLubumbashi\tHaut-Katanga\tÉlisabethville\n"
                                 "MM\tMbuji-Mayi\tKasaï-Oriental\n";
    if (write(fd, cities, sizeof(cities) - 1) != (ssize_t)(sizeof(cities) - 1))
        return -1;
    close(fd);
    char *cerr = NULL;
    s_cities = ciu_cities_load(path, &cerr);
    unlink(path);
    if (!s_cities) {
        fprintf(stderr, "cannot load cities: %s\n", cerr ? cerr : "?");
        free(cerr);
        return -1;
    }
    s_ctx = (conv_ctx_t){
        .texts = s_texts, .cities = s_cities, .timeout_ms = 30 * MIN_MS, .this_year = 2025};
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    cmn_i18n_destroy(&s_texts);
    ciu_cities_destroy(&s_cities);
    return 0;
}

/* (Re)start a chat; `c` must be zeroed or a chat already used. */
static void s_chat_init(chat_t *c)
{
    conv_result_free(&c->res);
    memset(c, 0, sizeof(*c));
    c->now = T0;
}

/* A session at `step` in `lang` with the answers before that step set
 * (Mbengue, Ibrahima, 1997, DA, 1). */
static void s_chat_at(chat_t *c, int step, const char *lang)
{
    s_chat_init(c);
    c->has_session = true;
    conv_session_t *s = &c->session;
    cmn_strlcpy(s->lang, lang, sizeof(s->lang));
    s->step = step;
    s->updated_ms = c->now;
    int answered = step == CONV_STEP_WAIT_CIU ? 5 : step - 1;
    if (answered >= 1)
        cmn_strlcpy(s->last, "MBE", sizeof(s->last));
    if (answered >= 2)
        cmn_strlcpy(s->first, "IBR", sizeof(s->first));
    if (answered >= 3)
        cmn_strlcpy(s->year, "7", sizeof(s->year));
    if (answered >= 4)
        cmn_strlcpy(s->city, "DA", sizeof(s->city));
    if (answered >= 5)
        cmn_strlcpy(s->gender, "1", sizeof(s->gender));
}

static void s_chat_free(chat_t *c)
{
    conv_result_free(&c->res);
}

/* Send one message a minute after the previous one. */
static void s_send_msg(chat_t *c, bool is_text, const char *text)
{
    conv_result_free(&c->res);
    c->now += MIN_MS;
    int r = conv_flow_step(&s_ctx, c->has_session ? &c->session : NULL, is_text, text, c->now,
                           &c->res);
    assert_int_equal(r, 0);
    assert_int_equal(c->res.session.updated_ms, c->now);
    assert_true(c->res.nreplies >= 0 && c->res.nreplies <= CONV_REPLIES_MAX);
    if (c->res.drop_session) {
        c->has_session = false;
        memset(&c->session, 0, sizeof(c->session));
    } else {
        c->has_session = true;
        c->session = c->res.session;
        assert_true(conv_session_valid(&c->session));
    }
}

static void s_send(chat_t *c, const char *text)
{
    s_send_msg(c, true, text);
}

static const char *s_reply(const chat_t *c, int i)
{
    assert_true(i < c->res.nreplies);
    return cmn_str_cstr(&c->res.replies[i]);
}

/* The expected text of `key` in `lang` (with the test's variables). */
static void s_text(const char *lang, const char *key, cmn_str_t *out)
{
    static const char *const vars[] = {"minutes", "30", NULL};
    cmn_str_reset(out);
    assert_int_equal(cmn_i18n_format(s_texts, lang, key, vars, out), 0);
}

/* Assert the replies are exactly the texts of `keys` (NULL-terminated) in
 * `lang`; "confirm" is matched by its summary instead. */
static void s_expect_v(const chat_t *c, const char *lang, const char *const *keys)
{
    int n = 0;
    cmn_str_t want = CMN_STR_INIT(8192);
    for (; keys[n]; n++) {
        if (n >= c->res.nreplies)
            fail_msg("reply %d missing: expected %s/%s", n, lang, keys[n]);
        if (strcmp(keys[n], "confirm") == 0) {
            cmn_str_t summary = CMN_STR_INIT(256);
            assert_int_equal(conv_flow_summary(&s_ctx, &c->session, &summary), 0);
            const char *vars[] = {"summary", cmn_str_cstr(&summary), NULL};
            cmn_str_reset(&want);
            assert_int_equal(cmn_i18n_format(s_texts, lang, "confirm", vars, &want), 0);
            cmn_str_free(&summary);
        } else {
            s_text(lang, keys[n], &want);
        }
        if (strcmp(s_reply(c, n), cmn_str_cstr(&want)) != 0)
            fail_msg("reply %d: expected %s/%s:\n%s\ngot:\n%s", n, lang, keys[n],
                     cmn_str_cstr(&want), s_reply(c, n));
    }
    cmn_str_free(&want);
    if (c->res.nreplies != n)
        fail_msg("%d replies, expected %d; extra: %s", c->res.nreplies, n, s_reply(c, n));
}

#define s_expect(c, lang, ...)                                                                 \
    do {                                                                                       \
        static const char *const keys_[] = {__VA_ARGS__, NULL};                                \
        s_expect_v((c), (lang), keys_);                                                        \
    } while (0)

static void s_expect_none(const chat_t *c)
{
    assert_int_equal(c->res.nreplies, 0);
}

static void s_reply_has(const chat_t *c, int i, const char *needle)
{
    if (!strstr(s_reply(c, i), needle))
        fail_msg("reply %d lacks \"%s\":\n%s", i, needle, s_reply(c, i));
}

/* Same session apart from updated_ms. */
static void s_assert_same(const conv_session_t *a, const conv_session_t *b)
{
    assert_string_equal(a->lang, b->lang);
    assert_int_equal(a->step, b->step);
    assert_int_equal(a->return_step, b->return_step);
    assert_string_equal(a->last, b->last);
    assert_string_equal(a->first, b->first);
    assert_string_equal(a->year, b->year);
    assert_string_equal(a->city, b->city);
    assert_string_equal(a->gender, b->gender);
}

static const char *const s_question_keys[] = {NULL, "q1", "q2", "q3", "q4", "q5", "confirm"};

/* ---- the happy path ---------------------------------------------------- */

static void test_happy_path(void **state)
{
    (void)state;
    chat_t c = {0};
    s_chat_init(&c);

    s_send(&c, "Bonjour");
    s_expect(&c, "fr", "welcome", "q1");
    s_reply_has(&c, 0, "Code d'Identification Unique");
    s_reply_has(&c, 0, "5 questions");
    s_reply_has(&c, 1, "Question 1 sur 5");
    s_reply_has(&c, 1, "nom de famille");
    assert_int_equal(c.session.step, CONV_STEP_LAST);
    assert_string_equal(c.session.lang, "fr");

    s_send(&c, "Mbengue");
    s_expect(&c, "fr", "q2");
    s_reply_has(&c, 0, "Question 2 sur 5");
    s_reply_has(&c, 0, "prénom");

    s_send(&c, "Ibrahima");
    s_expect(&c, "fr", "q3");
    s_reply_has(&c, 0, "Question 3 sur 5");

    s_send(&c, "1997");
    s_expect(&c, "fr", "q4");
    s_reply_has(&c, 0, "Question 4 sur 5");
    s_reply_has(&c, 0, "KN ou Kinshasa");

    s_send(&c, "DA");
    s_expect(&c, "fr", "q5");
    s_reply_has(&c, 0, "Question 5 sur 5");
    s_reply_has(&c, 0, "1 Homme");

    s_send(&c, "1");
    s_expect(&c, "fr", "confirm");
    s_reply_has(&c, 0, "Voici ce que j'ai compris");
    s_reply_has(&c, 0, "*MBE · IBR · 7 · DA · Homme*");
    s_reply_has(&c, 0, "Répondez *1* (oui) pour confirmer ou *2* (non) pour recommencer");
    assert_int_equal(c.session.step, CONV_STEP_CONFIRM);
    cmn_str_t summary = CMN_STR_INIT(256);
    assert_int_equal(conv_flow_summary(&s_ctx, &c.session, &summary), 0);
    /* issue 11: each part with its meaning, the city by its name */
    assert_non_null(strstr(cmn_str_cstr(&summary), "*MBE · IBR · 7 · DA · Homme*\n"));
    s_reply_has(&c, 0, "• nom (3 premières lettres)\u00a0: *MBE*…");
    s_reply_has(&c, 0, "prénom (3 premières lettres)\u00a0: *IBR*…");
    s_reply_has(&c, 0, "se terminant par *7*");
    s_reply_has(&c, 0, "ville\u00a0: *Dakar (DA)*");
    s_reply_has(&c, 0, "genre\u00a0: *Homme*");
    assert_null(strstr(s_reply(&c, 0), "Mbengue"));
    assert_null(strstr(s_reply(&c, 0), "Ibrahima"));
    cmn_str_free(&summary);

    s_send(&c, "1");
    s_expect_none(&c);
    assert_true(c.res.request_ciu);
    assert_false(c.res.drop_session);
    assert_false(c.res.send_code);
    assert_int_equal(c.session.step, CONV_STEP_WAIT_CIU);
    char ciu[11];
    assert_int_equal(conv_session_ciu(&c.session, ciu), 0);
    assert_string_equal(ciu, "MBEIBR7DA1");

    /* once the CIU is sent the daemon keeps the session "after the code"
     * (issue 11): "Merci" gets a short closing, not a new registration */
    conv_session_done(&c.session, c.now);
    assert_true(conv_session_valid(&c.session));
    s_send(&c, "Merci");
    s_expect(&c, "fr", "closing");
    s_chat_free(&c);
}

/* issue 11: after the code, thanks/ok/emoji get a short polite closing in
 * the person's language; CODE answers in it; only a clear request (a
 * greeting, NOUVEAU / NEW, RECOMMENCER) starts a new registration. */
static void test_issue11_after_the_code(void **state)
{
    (void)state;
    static const char *const polite[] = {
        "merci", "Merci beaucoup !", "thanks",      "Thank you", "ok", "👍",
        "🙏🙏",    "matondo",          "asante sana", "1",         NULL};
    for (size_t i = 0; polite[i]; i++) {
        chat_t c = {0};
        s_chat_at(&c, CONV_STEP_WAIT_CIU, "en");
        conv_session_done(&c.session, c.now);
        s_send(&c, polite[i]);
        s_expect(&c, "en", "closing");
        assert_int_equal(c.session.step, CONV_STEP_DONE);
        assert_false(c.res.request_ciu);
        s_chat_free(&c);
    }
    chat_t c = {0};
    s_chat_at(&c, CONV_STEP_WAIT_CIU, "en");
    conv_session_done(&c.session, c.now);
    assert_string_equal(c.session.last, "");
    assert_string_equal(c.session.lang, "en");
    /* "merci" then "thanks": both closings, never a surname */
    s_send(&c, "merci");
    s_expect(&c, "en", "closing");
    s_send(&c, "thanks");
    s_expect(&c, "en", "closing");
    assert_int_equal(c.session.step, CONV_STEP_DONE);
    /* CODE: the code in English, nothing else */
    s_send(&c, "CODE");
    assert_true(c.res.send_code);
    s_expect_none(&c);
    assert_string_equal(c.res.session.lang, "en");
    /* a photo: the closing */
    s_send_msg(&c, false, NULL);
    s_expect(&c, "en", "closing");
    /* hours later it does not expire: still after the code */
    c.now += 10 * 60 * MIN_MS;
    s_send(&c, "ok");
    s_expect(&c, "en", "closing");
    /* a greeting after the closing: a new registration, in English */
    s_send(&c, "Hello");
    s_expect(&c, "en", "welcome", "q1");
    assert_int_equal(c.session.step, CONV_STEP_LAST);

    /* before the closing, an unclear word gets the closing; after it,
     * anything that is not thanks starts afresh (never as an answer) */
    s_chat_at(&c, CONV_STEP_WAIT_CIU, "fr");
    conv_session_done(&c.session, c.now);
    s_send(&c, "Mbengue");
    s_expect(&c, "fr", "closing");
    s_send(&c, "Mbengue");
    s_expect(&c, "fr", "welcome", "q1");
    assert_string_equal(c.session.last, "");

    /* NOUVEAU, NEW, RECOMMENCER start at once; greetings too */
    static const char *const fresh[] = {"NOUVEAU", "new",   "Recommencer", "Bonjour",
                                        "mbote",   "jambo", NULL};
    for (size_t i = 0; fresh[i]; i++) {
        s_chat_at(&c, CONV_STEP_WAIT_CIU, "sw");
        conv_session_done(&c.session, c.now);
        s_send(&c, fresh[i]);
        s_expect(&c, "sw", "welcome", "q1");
    }
    /* LANGUE after the code comes back to the closing, in the new language */
    s_chat_at(&c, CONV_STEP_WAIT_CIU, "fr");
    conv_session_done(&c.session, c.now);
    s_send(&c, "langue");
    s_send(&c, "2");
    s_expect(&c, "en", "language_set", "closing");
    assert_int_equal(c.session.step, CONV_STEP_DONE);
    /* NOUVEAU in the middle of the questions starts them again */
    s_chat_at(&c, CONV_STEP_YEAR, "fr");
    s_send(&c, "nouveau");
    s_expect(&c, "fr", "restart", "q1");
    s_chat_free(&c);
}

/* issue 11: the summary shows what each part means, so a 1987/1997 slip
 * or a wrong city can be seen: the city by name, the year's last digit
 * spelled out; a code not in the list is shown alone. */
static void test_issue11_summary_meaning(void **state)
{
    (void)state;
    chat_t c = {0};
    s_chat_at(&c, CONV_STEP_CITY, "en");
    s_send(&c, "kinshasa");
    s_send(&c, "woman");
    s_expect(&c, "en", "confirm");
    s_reply_has(&c, 0, "*MBE · IBR · 7 · KN · Woman*");
    s_reply_has(&c, 0, "city: *Kinshasa (KN)*");
    s_reply_has(&c, 0, "year of birth: ending in *7*");
    s_reply_has(&c, 0, "last name (first 3 letters): *MBE*…");
    s_reply_has(&c, 0, "gender: *Woman*");
    s_chat_at(&c, CONV_STEP_CITY, "fr");
    s_send(&c, "ZZ");
    s_send(&c, "2");
    s_reply_has(&c, 0, "*MBE · IBR · 7 · ZZ · Femme*");
    s_reply_has(&c, 0, "ville\u00a0: *ZZ*\n");
    s_chat_free(&c);
}

/* issue 11: a city typed with a typo gets the closest name of the list as
 * a yes/no question; only the suggested code is kept in the session. */
static void test_issue11_city_suggestion(void **state)
{
    (void)state;
    chat_t c = {0};
    s_chat_at(&c, CONV_STEP_CITY, "fr");
    s_send(&c, "Lubumbashii");
    assert_int_equal(c.res.nreplies, 1);
    s_reply_has(&c, 0, "Voulez-vous dire");
    s_reply_has(&c, 0, "*Lubumbashi (LU)*");
    s_reply_has(&c, 0, "Répondez *1* (oui) ou *2* (non)");
    assert_int_equal(c.session.step, CONV_STEP_CITY_SUGGEST);
    assert_string_equal(c.session.city, "LU");
    s_send(&c, "1");
    s_expect(&c, "fr", "q5");
    assert_int_equal(c.session.step, CONV_STEP_GENDER);
    assert_string_equal(c.session.city, "LU");
    s_send(&c, "2");
    s_reply_has(&c, 0, "*Lubumbashi (LU)*");

    /* no: the question again, nothing kept */
    s_chat_at(&c, CONV_STEP_CITY, "fr");
    s_send(&c, "kinshassa");
    s_reply_has(&c, 0, "*Kinshasa (KN)*");
    s_send(&c, "non");
    s_expect(&c, "fr", "city_suggest_no", "q4");
    assert_int_equal(c.session.step, CONV_STEP_CITY);
    assert_string_equal(c.session.city, "");

    /* another answer is a new answer to question 4 */
    s_chat_at(&c, CONV_STEP_CITY, "fr");
    s_send(&c, "Mbuji Mayii");
    s_reply_has(&c, 0, "*Mbuji-Mayi (MM)*");
    s_send(&c, "Dakar");
    s_expect(&c, "fr", "q5");
    assert_string_equal(c.session.city, "DA");
    /* ... which may be another typo */
    s_chat_at(&c, CONV_STEP_CITY, "en");
    s_send(&c, "Lubumbashii");
    s_reply_has(&c, 0, "Did you mean");
    s_send(&c, "Dakkar");
    s_reply_has(&c, 0, "*Dakar (DA)*");
    s_send(&c, "yes");
    s_expect(&c, "en", "q5");
    assert_string_equal(c.session.city, "DA");

    /* back, language, help */
    s_chat_at(&c, CONV_STEP_CITY, "fr");
    s_send(&c, "Lubumbashii");
    s_send(&c, "aide");
    assert_int_equal(c.res.nreplies, 2);
    s_reply_has(&c, 1, "*Lubumbashi (LU)*");
    s_send(&c, "langue");
    s_send(&c, "english");
    assert_int_equal(c.res.nreplies, 2);
    s_reply_has(&c, 1, "Did you mean");
    assert_int_equal(c.session.step, CONV_STEP_CITY_SUGGEST);
    s_send(&c, "back");
    s_expect(&c, "en", "q4");
    assert_string_equal(c.session.city, "");

    /* far from every name: refused, with the way to the list */
    s_chat_at(&c, CONV_STEP_CITY, "fr");
    s_send(&c, "Paris");
    s_expect(&c, "fr", "err_city_unknown", "q4");
    s_reply_has(&c, 0, "*VILLES*");
    assert_string_equal(c.session.city, "");
    s_chat_free(&c);
}

/* issue 11: VILLES / CITIES lists the codes by province, then asks the
 * question again; "VILLES 2" is the second page. */
static void test_issue11_cities_command(void **state)
{
    (void)state;
    chat_t c = {0};
    s_chat_at(&c, CONV_STEP_CITY, "fr");
    s_send(&c, "VILLES");
    assert_int_equal(c.res.nreplies, 2);
    s_reply_has(&c, 0, "*Villes et leurs codes* (1/1)");
    s_reply_has(&c, 0, "*Kinshasa*\nKN Kinshasa");
    s_reply_has(&c, 0, "*Haut-Katanga*\nLU Lubumbashi");
    s_reply_has(&c, 0, "MM Mbuji-Mayi");
    assert_null(strstr(s_reply(&c, 0), "VILLES 2")); /* one page only */
    s_reply_has(&c, 1, "Question 4 sur 5");
    assert_int_equal(c.session.step, CONV_STEP_CITY);
    s_send(&c, "cities 7");
    s_reply_has(&c, 0, "(1/1)");
    s_send(&c, "Villes ?");
    s_reply_has(&c, 0, "(1/1)");
    /* at a name question it is a command too; "VILLES X" is not */
    s_chat_at(&c, CONV_STEP_LAST, "en");
    s_send(&c, "cities");
    assert_int_equal(c.res.nreplies, 2);
    s_reply_has(&c, 0, "*Cities and their codes*");
    s_send(&c, "villes x");
    s_expect(&c, "en", "q2");
    /* as the first message: the list, then the welcome */
    s_chat_init(&c);
    s_send(&c, "villes");
    assert_int_equal(c.res.nreplies, 3);
    s_reply_has(&c, 0, "KN Kinshasa");
    s_reply_has(&c, 1, "Code d'Identification Unique");
    s_chat_free(&c);
}

/* issue 11: a family on one phone. AUTRE (after the code, or at any step)
 * registers another person: the session carries the mark to the request. */
static void test_issue11_another_person(void **state)
{
    (void)state;
    static const char *const words[] = {"AUTRE",   "autre personne", "Another person",
                                        "another", "moto mosusu",    "mtu mwingine",
                                        NULL};
    for (size_t i = 0; words[i]; i++) {
        chat_t c = {0};
        s_chat_at(&c, CONV_STEP_WAIT_CIU, "fr");
        conv_session_done(&c.session, c.now);
        s_send(&c, words[i]);
        s_expect(&c, "fr", "other_person", "q1");
        assert_int_equal(c.session.other, 1);
        assert_int_equal(c.session.step, CONV_STEP_LAST);
        s_chat_free(&c);
    }
    chat_t c = {0};
    s_chat_at(&c, CONV_STEP_WAIT_CIU, "en");
    conv_session_done(&c.session, c.now);
    s_send(&c, "ANOTHER PERSON");
    s_reply_has(&c, 0, "another person");
    s_send(&c, "Mbengue");
    s_send(&c, "Kenzo");
    s_send(&c, "2019");
    s_send(&c, "KN");
    s_send(&c, "1");
    s_send(&c, "yes");
    assert_true(c.res.request_ciu);
    assert_int_equal(c.session.other, 1); /* stored with the request */
    /* once issued, the mark is gone */
    conv_session_done(&c.session, c.now);
    assert_int_equal(c.session.other, 0);
    /* RECOMMENCER keeps it, ANNULER drops it */
    s_chat_at(&c, CONV_STEP_YEAR, "fr");
    s_send(&c, "autre");
    s_expect(&c, "fr", "other_person", "q1");
    s_send(&c, "recommencer");
    assert_int_equal(c.session.other, 1);
    s_send(&c, "annuler");
    assert_true(c.res.drop_session);
    /* as a first message too */
    s_chat_init(&c);
    s_send(&c, "autre");
    s_expect(&c, "fr", "other_person", "q1");
    assert_int_equal(c.session.other, 1);
    /* an impossible mark: not a session */
    s_chat_at(&c, CONV_STEP_YEAR, "fr");
    c.session.other = 2;
    assert_false(conv_session_valid(&c.session));
    s_chat_free(&c);
}

/* issue 11: French punctuation. Every French text has a non-breaking
 * space (U+00A0 or U+202F) before ? ! : ; so a line never wraps with the
 * sign alone. */
static void test_issue11_french_punctuation(void **state)
{
    (void)state;
    for (const char *const *k = cmn_i18n_keys(); *k; k++) {
        const char *t = cmn_i18n_get(s_texts, "fr", *k);
        assert_non_null(t);
        for (const char *p = t; *p; p++) {
            if (p == t || !strchr("?!:;", *p))
                continue;
            if (p[-1] == ' ')
                fail_msg("fr %s: plain space before '%c': %s", *k, *p, t);
        }
    }
    /* and the replies carry it */
    chat_t c = {0};
    s_chat_at(&c, CONV_STEP_CONFIRM, "fr");
    s_send(&c, "aide");
    s_reply_has(&c, 0, "*AIDE*\u00a0: afficher ce message");
    s_chat_free(&c);
}

/* Typed answers are reduced to codes; the typed text is never stored. */
static void test_only_codes_stored(void **state)
{
    (void)state;
    chat_t c = {0};
    s_chat_init(&c);
    s_send(&c, "salut");
    s_send(&c, "  mbéngué-Diop ");
    s_send(&c, "IBRAHIMA");
    s_send(&c, " 1997. ");
    s_send(&c, "kinshasa");
    s_send(&c, "Femme");
    s_expect(&c, "fr", "confirm");
    s_reply_has(&c, 0, "MBE · IBR · 7 · KN · Femme");
    const conv_session_t *s = &c.session;
    assert_string_equal(s->last, "MBE");
    assert_string_equal(s->first, "IBR");
    assert_string_equal(s->year, "7");
    assert_string_equal(s->city, "KN");
    assert_string_equal(s->gender, "2");
    assert_string_equal(s->lang, "fr");
    assert_int_equal(s->return_step, 0);

    /* Élisabethville is an alias of Lubumbashi */
    s_chat_at(&c, CONV_STEP_CITY, "fr");
    s_send(&c, "Élisabethville");
    assert_string_equal(c.session.city, "LU");
    s_chat_free(&c);
}

/* ---- the first message ------------------------------------------------- */

static void test_first_message_never_an_answer(void **state)
{
    (void)state;
    static const char *const firsts[] = {
        "Bonjour", "hi", "CIU", "\xF0\x9F\x91\x8B" /* waving hand */, "Mbengue", "1997", "1",
        "", "AIDE", "RECOMMENCER", "RETOUR", "ANNULER", "oui",
    };
    for (size_t i = 0; i < sizeof(firsts) / sizeof(firsts[0]); i++) {
        chat_t c = {0};
        s_chat_init(&c);
        s_send(&c, firsts[i]);
        s_expect(&c, "fr", "welcome", "q1");
        assert_int_equal(c.session.step, CONV_STEP_LAST);
        assert_string_equal(c.session.last, "");
        assert_false(c.res.drop_session);
        assert_false(c.res.send_code);
        s_chat_free(&c);
    }

    /* not text, too long, invalid UTF-8 */
    chat_t c = {0};
    s_chat_init(&c);
    s_send_msg(&c, false, NULL);
    s_expect(&c, "fr", "welcome", "q1");
    s_chat_init(&c);
    char big[1200];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    s_send(&c, big);
    s_expect(&c, "fr", "welcome", "q1");
    s_chat_init(&c);
    s_send(&c, "\xff\xfe");
    s_expect(&c, "fr", "welcome", "q1");

    /* a stored session at step NONE behaves like none, keeping its language */
    s_chat_at(&c, CONV_STEP_NONE, "sw");
    s_send(&c, "Mbengue");
    s_expect(&c, "sw", "welcome", "q1");
    s_reply_has(&c, 1, "Swali 1 kati ya 5");
    s_chat_free(&c);
}

static void test_first_message_language(void **state)
{
    (void)state;
    chat_t c = {0};
    s_chat_init(&c);
    s_send(&c, "Langue");
    s_expect(&c, "fr", "language_menu");
    assert_int_equal(c.session.step, CONV_STEP_LANG);
    assert_int_equal(c.session.return_step, CONV_STEP_NONE);
    s_send(&c, "3");
    /* the conversation had not started: welcome and question 1 */
    s_expect(&c, "ln", "language_set", "welcome", "q1");
    s_reply_has(&c, 0, "Lingala");
    s_reply_has(&c, 2, "Motuna 1 na 5");
    assert_string_equal(c.session.lang, "ln");
    assert_int_equal(c.session.step, CONV_STEP_LAST);
    assert_int_equal(c.session.return_step, 0);
    s_chat_free(&c);
}

static void test_first_message_code(void **state)
{
    (void)state;
    /* "CODE" after the CIU was issued (session dropped): the daemon sends the
     * code, then a fresh conversation starts */
    chat_t c = {0};
    s_chat_init(&c);
    s_send(&c, "code");
    assert_true(c.res.send_code);
    s_expect(&c, "fr", "welcome", "q1");
    assert_int_equal(c.session.step, CONV_STEP_LAST);
    s_chat_free(&c);
}

/* CIU_DEFAULT_LANGUAGE: the daemon starts new conversations in another
 * language by passing a session at step NONE with that language. */
static void test_default_language(void **state)
{
    (void)state;
    chat_t c = {0};
    s_chat_at(&c, CONV_STEP_NONE, "sw");
    s_send(&c, "Habari");
    s_expect(&c, "sw", "welcome", "q1");
    assert_string_equal(c.session.lang, "sw");
    assert_string_equal(c.session.last, "");
    /* a stored session without language speaks French */
    s_chat_at(&c, CONV_STEP_YEAR, "");
    s_send(&c, "1997");
    s_expect(&c, "fr", "q4");
    assert_string_equal(c.session.lang, "fr");
    /* codes are stored in lower case */
    s_chat_at(&c, CONV_STEP_YEAR, "LN");
    s_send(&c, "1997");
    s_expect(&c, "ln", "q4");
    assert_string_equal(c.session.lang, "ln");
    s_chat_free(&c);
}

/* A stored session that does not hold together is not trusted. */
static void test_inconsistent_session(void **state)
{
    (void)state;
    chat_t c = {0};
    s_chat_at(&c, CONV_STEP_CONFIRM, "en");
    c.session.gender[0] = '9';
    s_send(&c, "1");
    s_expect(&c, "en", "welcome", "q1");
    assert_false(c.res.request_ciu);
    assert_string_equal(c.session.last, "");

    s_chat_at(&c, CONV_STEP_YEAR, "xx");
    s_send(&c, "1997");
    s_expect(&c, "fr", "welcome", "q1");

    s_chat_at(&c, 42, "fr");
    s_send(&c, "1997");
    s_expect(&c, "fr", "welcome", "q1");

    s_chat_at(&c, CONV_STEP_LANG, "fr");
    c.session.return_step = CONV_STEP_LANG;
    s_send(&c, "1");
    s_expect(&c, "fr", "welcome", "q1");
    s_chat_free(&c);
}

/* ---- commands ---------------------------------------------------------- */

static const char *const s_restart_words[] = {
    "RECOMMENCER", "recommencer", "Recommencer !", "RESTART", "restart.", "KOBANDA",
    "kobanda lisusu", "Anza upya", "ANZA  UPYA", "*Recommencer*", NULL};
static const char *const s_help_words[] = {"AIDE", "aide", "Aide ?", "HELP", "help!", "LISALISI",
                                           "lisalisi", "MSAADA", "msaada", NULL};
static const char *const s_back_words[] = {"RETOUR", "retour", "Retour.", "BACK", "back",
                                           "ZONGA SIMA", "zonga sima", "RUDI NYUMA",
                                           "rudi nyuma", NULL};
static const char *const s_lang_words[] = {"LANGUE", "langue", "LANGUAGE", "Language", "LOKOTA",
                                           "lokota", "LUGHA", "lugha", " Langue ", NULL};
static const char *const s_cancel_words[] = {"ANNULER", "annuler", "Annuler.", "STOP", "stop",
                                             "CANCEL", "KOTIKA", "kotika", "SITISHA", "sitisha",
                                             NULL};
static const char *const s_code_words[] = {"CODE", "code", "Code ?", NULL};

static const int s_cmd_steps[] = {CONV_STEP_LAST, CONV_STEP_FIRST, CONV_STEP_YEAR,
                                  CONV_STEP_GENDER, CONV_STEP_CONFIRM};
static const char *const s_langs[] = {"fr", "en", "ln", "sw"};

#define FOR_EACH_CASE(words)                                                                   \
    for (size_t li = 0; li < 4; li++)                                                          \
        for (size_t si = 0; si < sizeof(s_cmd_steps) / sizeof(s_cmd_steps[0]); si++)           \
            for (size_t wi = 0; (words)[wi]; wi++)

static void test_cmd_restart(void **state)
{
    (void)state;
    FOR_EACH_CASE(s_restart_words)
    {
        chat_t c = {0};
        s_chat_at(&c, s_cmd_steps[si], s_langs[li]);
        s_send(&c, s_restart_words[wi]);
        s_expect(&c, s_langs[li], "restart", "q1");
        assert_int_equal(c.session.step, CONV_STEP_LAST);
        assert_string_equal(c.session.last, "");
        assert_string_equal(c.session.first, "");
        assert_string_equal(c.session.year, "");
        assert_string_equal(c.session.city, "");
        assert_string_equal(c.session.gender, "");
        assert_string_equal(c.session.lang, s_langs[li]);
        s_chat_free(&c);
    }
    chat_t c = {0};
    s_chat_at(&c, CONV_STEP_YEAR, "fr");
    s_send(&c, "recommencer");
    s_reply_has(&c, 0, "nous recommençons depuis le début");
    s_reply_has(&c, 1, "Question 1 sur 5");
    s_chat_free(&c);
}

static void test_cmd_help(void **state)
{
    (void)state;
    FOR_EACH_CASE(s_help_words)
    {
        chat_t c = {0};
        int step = s_cmd_steps[si];
        s_chat_at(&c, step, s_langs[li]);
        conv_session_t before = c.session;
        s_send(&c, s_help_words[wi]);
        const char *keys[] = {"help", s_question_keys[step], NULL};
        s_expect_v(&c, s_langs[li], keys);
        s_assert_same(&c.session, &before);
        s_chat_free(&c);
    }
    chat_t c = {0};
    s_chat_at(&c, CONV_STEP_CITY, "fr");
    s_send(&c, "aide");
    s_reply_has(&c, 0, "*RECOMMENCER*");
    s_reply_has(&c, 0, "*ANNULER*");
    s_reply_has(&c, 1, "Question 4 sur 5");
    s_chat_free(&c);
}

static void test_cmd_back(void **state)
{
    (void)state;
    FOR_EACH_CASE(s_back_words)
    {
        chat_t c = {0};
        int step = s_cmd_steps[si];
        s_chat_at(&c, step, s_langs[li]);
        s_send(&c, s_back_words[wi]);
        if (step == CONV_STEP_LAST) {
            s_expect(&c, s_langs[li], "back_first", "q1");
            assert_int_equal(c.session.step, CONV_STEP_LAST);
        } else {
            const char *keys[] = {s_question_keys[step - 1], NULL};
            s_expect_v(&c, s_langs[li], keys);
            assert_int_equal(c.session.step, step - 1);
        }
        s_chat_free(&c);
    }
    /* at the confirmation, RETOUR asks question 5 again */
    chat_t c = {0};
    s_chat_at(&c, CONV_STEP_CONFIRM, "fr");
    s_send(&c, "retour");
    s_expect(&c, "fr", "q5");
    s_reply_has(&c, 0, "Question 5 sur 5");
    s_send(&c, "2");
    s_reply_has(&c, 0, "MBE · IBR · 7 · DA · Femme");
    /* at question 1 */
    s_chat_at(&c, CONV_STEP_LAST, "fr");
    s_send(&c, "RETOUR");
    s_reply_has(&c, 0, "déjà à la première question");
    s_reply_has(&c, 1, "Question 1 sur 5");
    s_chat_free(&c);
}

/* "Rudi" and "Zonga" are also names: at the name questions they are answers,
 * elsewhere they mean "back". */
static void test_back_words_that_are_names(void **state)
{
    (void)state;
    chat_t c = {0};
    s_chat_at(&c, CONV_STEP_LAST, "sw");
    s_send(&c, "Zonga");
    assert_string_equal(c.session.last, "ZON");
    assert_int_equal(c.session.step, CONV_STEP_FIRST);
    s_send(&c, "Rudi");
    assert_string_equal(c.session.first, "RUD");
    assert_int_equal(c.session.step, CONV_STEP_YEAR);
    s_send(&c, "rudi");
    s_expect(&c, "sw", "q2");
    assert_int_equal(c.session.step, CONV_STEP_FIRST);
    s_chat_at(&c, CONV_STEP_GENDER, "ln");
    s_send(&c, "zonga");
    s_expect(&c, "ln", "q4");
    s_chat_free(&c);
}

static void test_cmd_cancel(void **state)
{
    (void)state;
    FOR_EACH_CASE(s_cancel_words)
    {
        chat_t c = {0};
        s_chat_at(&c, s_cmd_steps[si], s_langs[li]);
        s_send(&c, s_cancel_words[wi]);
        s_expect(&c, s_langs[li], "cancelled");
        assert_true(c.res.drop_session);
        assert_false(c.res.request_ciu);
        assert_string_equal(c.res.session.last, "");
        s_chat_free(&c);
    }
    chat_t c = {0};
    s_chat_at(&c, CONV_STEP_YEAR, "fr");
    s_send(&c, "annuler");
    s_reply_has(&c, 0, "vos réponses ont été effacées");
    assert_false(c.has_session);
    s_send(&c, "Bonjour");
    s_expect(&c, "fr", "welcome", "q1");
    s_chat_free(&c);
}

static void test_cmd_code(void **state)
{
    (void)state;
    FOR_EACH_CASE(s_code_words)
    {
        chat_t c = {0};
        int step = s_cmd_steps[si];
        s_chat_at(&c, step, s_langs[li]);
        s_send(&c, s_code_words[wi]);
        assert_true(c.res.send_code);
        /* the daemon sends the code first, then this: the same question */
        const char *keys[] = {s_question_keys[step], NULL};
        s_expect_v(&c, s_langs[li], keys);
        assert_int_equal(c.session.step, step);
        s_chat_free(&c);
    }
}

static void test_cmd_language(void **state)
{
    (void)state;
    FOR_EACH_CASE(s_lang_words)
    {
        chat_t c = {0};
        int step = s_cmd_steps[si];
        s_chat_at(&c, step, s_langs[li]);
        s_send(&c, s_lang_words[wi]);
        s_expect(&c, s_langs[li], "language_menu");
        assert_int_equal(c.session.step, CONV_STEP_LANG);
        assert_int_equal(c.session.return_step, step);
        s_chat_free(&c);
    }
}

/* LANGUE, then each way of choosing each language: the next question comes
 * in that language. */
static void test_choose_language(void **state)
{
    (void)state;
    static const struct {
        const char *answer;
        const char *lang;
        const char *q3;
    } choices[] = {
        {"1", "fr", "Question 3 sur 5"}, {"Français", "fr", "Question 3 sur 5"},
        {"francais", "fr", "Question 3 sur 5"}, {"FRENCH", "fr", "Question 3 sur 5"},
        {"fr", "fr", "Question 3 sur 5"}, {"2", "en", "Question 3 of 5"},
        {"English", "en", "Question 3 of 5"}, {"anglais", "en", "Question 3 of 5"},
        {"EN", "en", "Question 3 of 5"}, {"3", "ln", "Motuna 3 na 5"},
        {"Lingala", "ln", "Motuna 3 na 5"}, {"ln", "ln", "Motuna 3 na 5"},
        {"4", "sw", "Swali 3 kati ya 5"}, {"Swahili", "sw", "Swali 3 kati ya 5"},
        {"kiswahili", "sw", "Swali 3 kati ya 5"}, {"sw", "sw", "Swali 3 kati ya 5"},
        {"4.", "sw", "Swali 3 kati ya 5"},
    };
    for (size_t i = 0; i < sizeof(choices) / sizeof(choices[0]); i++) {
        chat_t c = {0};
        s_chat_at(&c, CONV_STEP_YEAR, "fr");
        s_send(&c, "LANGUE");
        s_expect(&c, "fr", "language_menu");
        s_reply_has(&c, 0, "1 Français");
        s_reply_has(&c, 0, "4 Kiswahili");
        s_send(&c, choices[i].answer);
        s_expect(&c, choices[i].lang, "language_set", "q3");
        s_reply_has(&c, 1, choices[i].q3);
        assert_string_equal(c.session.lang, choices[i].lang);
        assert_int_equal(c.session.step, CONV_STEP_YEAR);
        assert_int_equal(c.session.return_step, 0);
        assert_string_equal(c.session.first, "IBR"); /* answers kept */
        /* and the conversation goes on in that language */
        s_send(&c, "1997");
        s_expect(&c, choices[i].lang, "q4");
        s_chat_free(&c);
    }
}

static void test_language_menu_other_input(void **state)
{
    (void)state;
    chat_t c = {0};
    s_chat_at(&c, CONV_STEP_FIRST, "fr");
    s_send(&c, "lokota");
    /* not a choice */
    s_send(&c, "5");
    s_expect(&c, "fr", "language_invalid", "language_menu");
    s_reply_has(&c, 0, "de 1 à 4");
    s_send(&c, "deutsch");
    s_expect(&c, "fr", "language_invalid", "language_menu");
    s_send_msg(&c, false, NULL);
    s_expect(&c, "fr", "text_only", "language_menu");
    s_send(&c, "aide");
    s_expect(&c, "fr", "help", "language_menu");
    s_send(&c, "code");
    assert_true(c.res.send_code);
    s_expect(&c, "fr", "language_menu");
    s_send(&c, "langue");
    s_expect(&c, "fr", "language_menu");
    assert_int_equal(c.session.step, CONV_STEP_LANG);
    assert_int_equal(c.session.return_step, CONV_STEP_FIRST);
    /* RETOUR leaves the menu: same question, same language */
    s_send(&c, "retour");
    s_expect(&c, "fr", "q2");
    assert_int_equal(c.session.step, CONV_STEP_FIRST);
    /* ANNULER and RECOMMENCER work in the menu */
    s_send(&c, "langue");
    s_send(&c, "recommencer");
    s_expect(&c, "fr", "restart", "q1");
    s_send(&c, "langue");
    s_send(&c, "annuler");
    s_expect(&c, "fr", "cancelled");
    assert_true(c.res.drop_session);
    s_chat_free(&c);
}

/* At the confirmation, changing language shows the summary again with the
 * gender label in the new language. */
static void test_language_at_confirm(void **state)
{
    (void)state;
    chat_t c = {0};
    s_chat_at(&c, CONV_STEP_CONFIRM, "fr");
    s_send(&c, "LANGUE");
    s_send(&c, "2");
    s_expect(&c, "en", "language_set", "confirm");
    s_reply_has(&c, 0, "The language is now English");
    s_reply_has(&c, 1, "MBE · IBR · 7 · DA · Man");
    assert_int_equal(c.session.step, CONV_STEP_CONFIRM);
    s_send(&c, "yes");
    assert_true(c.res.request_ciu);
    s_chat_free(&c);
}

/* Commands work in every language whatever the session's language. */
static void test_commands_cross_language(void **state)
{
    (void)state;
    chat_t c = {0};
    s_chat_at(&c, CONV_STEP_CITY, "sw");
    s_send(&c, "AIDE");
    s_expect(&c, "sw", "help", "q4");
    s_send(&c, "lisalisi");
    s_expect(&c, "sw", "help", "q4");
    s_chat_at(&c, CONV_STEP_CITY, "fr");
    s_send(&c, "msaada");
    s_expect(&c, "fr", "help", "q4");
    s_send(&c, "rudi nyuma");
    s_expect(&c, "fr", "q3");
    s_send(&c, "Kotika");
    s_expect(&c, "fr", "cancelled");
    s_chat_free(&c);
}

/* ---- confirmation ------------------------------------------------------ */

static void test_confirm_yes(void **state)
{
    (void)state;
    static const char *const yes[] = {"1", "1.", " 1 ", "oui", "OUI", "Oui !", "yes", "Yes",
                                      "ok", "OK", "Ok.", "okay", "d'accord", "D'accord",
                                      "d\xE2\x80\x99" "accord", "iyo", "Iyo", "ee", "EE",
                                      "ndiyo", "Ndiyo", "sawa", "okay", NULL};
    for (size_t i = 0; yes[i]; i++) {
        chat_t c = {0};
        s_chat_at(&c, CONV_STEP_CONFIRM, s_langs[i % 4]);
        s_send(&c, yes[i]);
        if (!c.res.request_ciu)
            fail_msg("\"%s\" should confirm", yes[i]);
        s_expect_none(&c);
        assert_false(c.res.drop_session);
        assert_int_equal(c.session.step, CONV_STEP_WAIT_CIU);
        char ciu[11];
        assert_int_equal(conv_session_ciu(&c.session, ciu), 0);
        assert_string_equal(ciu, "MBEIBR7DA1");
        s_chat_free(&c);
    }
}

static void test_confirm_no(void **state)
{
    (void)state;
    static const char *const no[] = {"2", "2.", "non", "NON", "Non !", "no", "No", "te", "Te",
                                     "hapana", "HAPANA", NULL};
    for (size_t i = 0; no[i]; i++) {
        chat_t c = {0};
        const char *lang = s_langs[i % 4];
        s_chat_at(&c, CONV_STEP_CONFIRM, lang);
        s_send(&c, no[i]);
        assert_false(c.res.request_ciu);
        s_expect(&c, lang, "restart", "q1");
        assert_int_equal(c.session.step, CONV_STEP_LAST);
        assert_string_equal(c.session.last, "");
        assert_string_equal(c.session.gender, "");
        s_chat_free(&c);
    }
}

static void test_confirm_other(void **state)
{
    (void)state;
    static const char *const other[] = {"3", "peut-être", "oui non", "MBEIBR7DA1", "", "12",
                                        NULL};
    for (size_t i = 0; other[i]; i++) {
        chat_t c = {0};
        s_chat_at(&c, CONV_STEP_CONFIRM, "fr");
        s_send(&c, other[i]);
        assert_false(c.res.request_ciu);
        s_expect(&c, "fr", "confirm_invalid", "confirm");
        s_reply_has(&c, 0, "Répondez *1* (oui) ou *2* (non)");
        s_reply_has(&c, 1, "MBE · IBR · 7 · DA · Homme");
        assert_int_equal(c.session.step, CONV_STEP_CONFIRM);
        s_chat_free(&c);
    }
}

static void test_gender_label_per_language(void **state)
{
    (void)state;
    static const struct {
        const char *lang;
        const char *summary[4];
    } cases[] = {
        {"fr", {"Homme", "Femme", "Trans", "Autre"}},
        {"en", {"Man", "Woman", "Trans", "Other"}},
        {"ln", {"Mobali", "Mwasi", "Trans", "Mosusu"}},
        {"sw", {"Mwanaume", "Mwanamke", "Trans", "Nyingine"}},
    };
    for (size_t i = 0; i < 4; i++)
        for (int g = 1; g <= 4; g++) {
            chat_t c = {0};
            s_chat_at(&c, CONV_STEP_GENDER, cases[i].lang);
            char answer[2] = {(char)('0' + g), '\0'};
            s_send(&c, answer);
            s_expect(&c, cases[i].lang, "confirm");
            char want[64];
            snprintf(want, sizeof(want), "*MBE · IBR · 7 · DA · %s*", cases[i].summary[g - 1]);
            s_reply_has(&c, 0, want);
            s_chat_free(&c);
        }
}

/* ---- refused answers --------------------------------------------------- */

static void test_invalid_answers(void **state)
{
    (void)state;
    char long_name[200];
    memset(long_name, 'a', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    static const struct {
        int step;
        const char *answer;
        const char *error;
    } cases[] = {
        {CONV_STEP_LAST, "123", "err_name_digits"},
        {CONV_STEP_LAST, "Mb3ngue", "err_name_digits"},
        {CONV_STEP_LAST, "???", "err_name_no_letters"},
        {CONV_STEP_LAST, "\xF0\x9F\x98\x80", "err_name_no_letters"},
        {CONV_STEP_LAST, "   ", "err_empty"},
        {CONV_STEP_LAST, "", "err_empty"},
        {CONV_STEP_FIRST, "Ibrahima2", "err_name_digits"},
        {CONV_STEP_FIRST, "...", "err_name_no_letters"},
        {CONV_STEP_YEAR, "1850", "err_year_range"},
        {CONV_STEP_YEAR, "2090", "err_year_range"},
        {CONV_STEP_YEAR, "abc", "err_year_invalid"},
        {CONV_STEP_YEAR, "97", "err_year_invalid"},
        {CONV_STEP_YEAR, "", "err_empty"},
        {CONV_STEP_CITY, "Atlantis", "err_city_unknown"},
        {CONV_STEP_CITY, "K", "err_city_unknown"},
        {CONV_STEP_GENDER, "7", "err_gender_invalid"},
        {CONV_STEP_GENDER, "peut-être", "err_gender_invalid"},
        {CONV_STEP_GENDER, " ", "err_empty"},
    };
    for (size_t li = 0; li < 4; li++)
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            chat_t c = {0};
            s_chat_at(&c, cases[i].step, s_langs[li]);
            conv_session_t before = c.session;
            s_send(&c, cases[i].answer);
            const char *keys[] = {cases[i].error, s_question_keys[cases[i].step], NULL};
            s_expect_v(&c, s_langs[li], keys);
            s_assert_same(&c.session, &before);
            s_chat_free(&c);
        }

    chat_t c = {0};
    s_chat_at(&c, CONV_STEP_LAST, "fr");
    s_send(&c, long_name);
    s_expect(&c, "fr", "err_name_too_long", "q1");
    s_send(&c, "Mb3ngue");
    s_reply_has(&c, 0, "chiffres");
    s_reply_has(&c, 1, "Question 1 sur 5");
    s_chat_at(&c, CONV_STEP_CITY, "fr");
    s_send(&c, "Atlantis");
    s_reply_has(&c, 0, "code à 2 lettres");
    s_reply_has(&c, 0, "nom complet");
    s_reply_has(&c, 1, "Question 4 sur 5");
    s_chat_free(&c);
}

/* ---- expiry, non-text, long messages ----------------------------------- */

static void test_expiry(void **state)
{
    (void)state;
    chat_t c = {0};
    s_chat_at(&c, CONV_STEP_YEAR, "en");
    c.session.updated_ms = c.now - 30 * MIN_MS; /* next message: 31 min later */
    s_send(&c, "1997");
    s_expect(&c, "en", "expired", "welcome", "q1");
    s_reply_has(&c, 0, "30 minutes");
    assert_int_equal(c.session.step, CONV_STEP_LAST);
    assert_string_equal(c.session.lang, "en");
    assert_string_equal(c.session.last, "");
    assert_string_equal(c.session.year, "");

    /* exactly the timeout: still alive */
    s_chat_at(&c, CONV_STEP_YEAR, "fr");
    c.session.updated_ms = c.now + MIN_MS - 30 * MIN_MS;
    s_send(&c, "1997");
    s_expect(&c, "fr", "q4");

    /* French text, from the confirmation and from the language menu */
    s_chat_at(&c, CONV_STEP_CONFIRM, "fr");
    c.session.updated_ms = c.now - 24 * 60 * MIN_MS;
    s_send(&c, "1");
    assert_false(c.res.request_ciu);
    s_expect(&c, "fr", "expired", "welcome", "q1");
    s_reply_has(&c, 0, "Votre session a expiré après 30 minutes");
    s_chat_at(&c, CONV_STEP_LANG, "fr");
    c.session.return_step = CONV_STEP_LAST;
    c.session.updated_ms = c.now - 60 * MIN_MS;
    s_send(&c, "langue");
    s_expect(&c, "fr", "expired", "language_menu");

    /* no timeout configured: never expires */
    conv_ctx_t saved = s_ctx;
    s_ctx.timeout_ms = 0;
    s_chat_at(&c, CONV_STEP_YEAR, "fr");
    c.session.updated_ms = 0;
    s_send(&c, "1997");
    s_expect(&c, "fr", "q4");
    s_ctx = saved;
    s_chat_free(&c);
}

/* Issue 6, item 4: a stored session with an impossible time (far in the
 * past or future, at the int64 limits) is expired, and the arithmetic never
 * overflows (UBSan stops the test on an overflow). */
static void test_expiry_extreme_times(void **state)
{
    (void)state;
    chat_t c = {0};
    const int64_t odd[] = {INT64_MIN, INT64_MIN + 1, -1,
                           0,         INT64_MAX,     T0 + 2 * MIN_MS + CONV_CLOCK_SKEW_MS};
    for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
        s_chat_at(&c, CONV_STEP_YEAR, "fr");
        c.session.updated_ms = odd[i];
        assert_true(conv_session_expired(&s_ctx, &c.session, c.now + MIN_MS));
        s_send(&c, "1997");
        s_expect(&c, "fr", "expired", "welcome", "q1");
    }
    /* the clock of another replica slightly ahead: not expired */
    s_chat_at(&c, CONV_STEP_YEAR, "fr");
    c.session.updated_ms = c.now + MIN_MS + 1000;
    assert_false(conv_session_expired(&s_ctx, &c.session, c.now + MIN_MS));
    s_send(&c, "1997");
    s_expect(&c, "fr", "q4");
    /* a current time at the limits */
    s_chat_at(&c, CONV_STEP_YEAR, "fr");
    assert_true(conv_session_expired(&s_ctx, &c.session, INT64_MAX));
    assert_true(conv_session_expired(&s_ctx, &c.session, INT64_MIN));
    assert_false(conv_session_expired(&s_ctx, NULL, T0));
    s_chat_free(&c);
}

static void test_not_text(void **state)
{
    (void)state;
    for (int step = CONV_STEP_LAST; step <= CONV_STEP_CONFIRM; step++) {
        chat_t c = {0};
        s_chat_at(&c, step, "fr");
        conv_session_t before = c.session;
        s_send_msg(&c, false, "ignored caption");
        const char *keys[] = {"text_only", s_question_keys[step], NULL};
        s_expect_v(&c, "fr", keys);
        s_reply_has(&c, 0, "messages écrits");
        s_assert_same(&c.session, &before);
        assert_false(c.res.request_ciu);
        s_chat_free(&c);
    }
}

static void test_too_long(void **state)
{
    (void)state;
    char text[CONV_TEXT_MAX + 2];
    memset(text, 'a', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0'; /* 1001 bytes */
    for (int step = CONV_STEP_LAST; step <= CONV_STEP_CONFIRM; step++) {
        chat_t c = {0};
        s_chat_at(&c, step, "ln");
        conv_session_t before = c.session;
        s_send(&c, text);
        const char *keys[] = {"too_long", s_question_keys[step], NULL};
        s_expect_v(&c, "ln", keys);
        s_assert_same(&c.session, &before);
        s_chat_free(&c);
    }
    /* 1000 bytes is read (and refused by the name rule) */
    text[CONV_TEXT_MAX] = '\0';
    chat_t c = {0};
    s_chat_at(&c, CONV_STEP_LAST, "fr");
    s_send(&c, text);
    s_expect(&c, "fr", "err_name_too_long", "q1");
    /* a long command with spaces is still too long */
    s_chat_free(&c);
}

/* ---- waiting for the CIU ----------------------------------------------- */

static void test_wait_ciu(void **state)
{
    (void)state;
    static const char *const others[] = {"Bonjour", "1", "oui", "AIDE", "RETOUR", "Mbengue",
                                         NULL};
    for (size_t i = 0; others[i]; i++) {
        chat_t c = {0};
        s_chat_at(&c, CONV_STEP_WAIT_CIU, "fr");
        s_send(&c, others[i]);
        s_expect(&c, "fr", "wait_ciu");
        s_reply_has(&c, 0, "en cours de préparation");
        assert_int_equal(c.session.step, CONV_STEP_WAIT_CIU);
        assert_false(c.res.request_ciu); /* asked once, not again */
        assert_false(c.res.send_code);
        s_chat_free(&c);
    }
    chat_t c = {0};
    s_chat_at(&c, CONV_STEP_WAIT_CIU, "sw");
    s_send_msg(&c, false, NULL);
    s_expect(&c, "sw", "wait_ciu");

    s_send(&c, "CODE");
    assert_true(c.res.send_code);
    s_expect(&c, "sw", "wait_ciu");

    s_send(&c, "lugha");
    s_expect(&c, "sw", "language_menu");
    assert_int_equal(c.session.return_step, CONV_STEP_WAIT_CIU);
    s_send(&c, "1");
    s_expect(&c, "fr", "language_set", "wait_ciu");
    assert_int_equal(c.session.step, CONV_STEP_WAIT_CIU);
    char ciu[11];
    assert_int_equal(conv_session_ciu(&c.session, ciu), 0);

    s_send(&c, "Recommencer");
    s_expect(&c, "fr", "restart", "q1");
    assert_int_equal(c.session.step, CONV_STEP_LAST);
    assert_int_equal(conv_session_ciu(&c.session, ciu), -EINVAL);

    s_chat_at(&c, CONV_STEP_WAIT_CIU, "fr");
    s_send(&c, "stop");
    s_expect(&c, "fr", "cancelled");
    assert_true(c.res.drop_session);
    s_chat_free(&c);
}

/* ---- API edges --------------------------------------------------------- */

static void test_api_edges(void **state)
{
    (void)state;
    conv_result_t res;
    assert_int_equal(conv_flow_step(NULL, NULL, true, "x", T0, &res), -EINVAL);
    assert_int_equal(res.nreplies, 0);
    conv_result_free(&res);
    assert_int_equal(conv_flow_step(&s_ctx, NULL, true, "x", T0, NULL), -EINVAL);
    conv_ctx_t empty = {0};
    assert_int_equal(conv_flow_step(&empty, NULL, true, "x", T0, &res), -EINVAL);
    conv_result_free(&res);
    conv_result_free(&res);
    conv_result_free(NULL);

    /* NULL text reads as empty */
    chat_t c = {0};
    s_chat_at(&c, CONV_STEP_LAST, "fr");
    s_send(&c, NULL);
    s_expect(&c, "fr", "err_empty", "q1");
    s_chat_free(&c);

    conv_session_t s = {0};
    cmn_str_t out = CMN_STR_INIT(256);
    assert_int_equal(conv_flow_summary(&s_ctx, &s, &out), -EINVAL);
    char ciu[11];
    assert_int_equal(conv_session_ciu(&s, ciu), -EINVAL);
    assert_int_equal(conv_session_ciu(NULL, ciu), -EINVAL);
    assert_false(conv_session_valid(NULL));
    assert_true(conv_session_valid(&s));
    cmn_str_free(&out);

    assert_string_equal(conv_step_str(CONV_STEP_LAST), "last");
    assert_string_equal(conv_step_str(CONV_STEP_WAIT_CIU), "wait_ciu");
    assert_string_equal(conv_step_str(CONV_STEP_LANG), "lang");
    assert_string_equal(conv_step_str(99), "unknown");
    assert_string_equal(conv_step_str(-1), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_happy_path),
        cmocka_unit_test(test_only_codes_stored),
        cmocka_unit_test(test_issue11_summary_meaning),
        cmocka_unit_test(test_issue11_city_suggestion),
        cmocka_unit_test(test_issue11_cities_command),
        cmocka_unit_test(test_issue11_after_the_code),
        cmocka_unit_test(test_issue11_another_person),
        cmocka_unit_test(test_issue11_french_punctuation),
        cmocka_unit_test(test_first_message_never_an_answer),
        cmocka_unit_test(test_first_message_language),
        cmocka_unit_test(test_first_message_code),
        cmocka_unit_test(test_default_language),
        cmocka_unit_test(test_inconsistent_session),
        cmocka_unit_test(test_cmd_restart),
        cmocka_unit_test(test_cmd_help),
        cmocka_unit_test(test_cmd_back),
        cmocka_unit_test(test_back_words_that_are_names),
        cmocka_unit_test(test_cmd_cancel),
        cmocka_unit_test(test_cmd_code),
        cmocka_unit_test(test_cmd_language),
        cmocka_unit_test(test_choose_language),
        cmocka_unit_test(test_language_menu_other_input),
        cmocka_unit_test(test_language_at_confirm),
        cmocka_unit_test(test_commands_cross_language),
        cmocka_unit_test(test_confirm_yes),
        cmocka_unit_test(test_confirm_no),
        cmocka_unit_test(test_confirm_other),
        cmocka_unit_test(test_gender_label_per_language),
        cmocka_unit_test(test_invalid_answers),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_expiry_extreme_times),
        cmocka_unit_test(test_not_text),
        cmocka_unit_test(test_too_long),
        cmocka_unit_test(test_wait_ciu),
        cmocka_unit_test(test_api_edges),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
