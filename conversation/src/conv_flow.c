/* conv_flow: the conversation state machine. See conv_flow.h and
 * docs/conversation.md. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ciu_cities.h"
#include "ciu_rules.h"
#include "common/cmn_i18n.h"
#include "common/cmn_str.h"
#include "conv_flow.h"

/* Commands, recognised at every step in every language. */
typedef enum {
    S_CMD_NONE = 0,
    S_CMD_RESTART,
    S_CMD_HELP,
    S_CMD_BACK,
    S_CMD_LANGUAGE,
    S_CMD_CANCEL,
    S_CMD_CODE,
    S_CMD_CITIES,
    S_CMD_NEW,
    S_CMD_OTHER,
} s_cmd_t;

typedef struct {
    const char *word; /* as ciu_fold() writes it: A-Z, digits, single spaces */
    s_cmd_t cmd;
    bool name_safe; /* false: also a plausible name, not a command at q1/q2 */
} s_word_t;

/* Lingala (ln) and Swahili (sw) words await review by native speakers. */
static const s_word_t s_commands[] = {
    {"RECOMMENCER", S_CMD_RESTART, true},
    {"RESTART", S_CMD_RESTART, true},
    {"START OVER", S_CMD_RESTART, true},
    {"KOBANDA", S_CMD_RESTART, true},        /* ln */
    {"KOBANDA LISUSU", S_CMD_RESTART, true}, /* ln */
    {"ANZA UPYA", S_CMD_RESTART, true},      /* sw */
    {"AIDE", S_CMD_HELP, true},
    {"HELP", S_CMD_HELP, true},
    {"LISALISI", S_CMD_HELP, true}, /* ln */
    {"MSAADA", S_CMD_HELP, true},   /* sw */
    {"RETOUR", S_CMD_BACK, true},
    {"BACK", S_CMD_BACK, true},
    {"ZONGA SIMA", S_CMD_BACK, true}, /* ln */
    {"ZONGA", S_CMD_BACK, false},     /* ln; also a surname */
    {"RUDI NYUMA", S_CMD_BACK, true}, /* sw */
    {"RUDI", S_CMD_BACK, false},      /* sw; also a first name */
    {"LANGUE", S_CMD_LANGUAGE, true},
    {"LANGUAGE", S_CMD_LANGUAGE, true},
    {"LOKOTA", S_CMD_LANGUAGE, true}, /* ln */
    {"LUGHA", S_CMD_LANGUAGE, true},  /* sw */
    {"ANNULER", S_CMD_CANCEL, true},
    {"STOP", S_CMD_CANCEL, true},
    {"CANCEL", S_CMD_CANCEL, true},
    {"KOTIKA", S_CMD_CANCEL, true},  /* ln */
    {"SITISHA", S_CMD_CANCEL, true}, /* sw */
    {"CODE", S_CMD_CODE, true},
    {"VILLES", S_CMD_CITIES, true},
    {"CITIES", S_CMD_CITIES, true},
    {"BINGUMBA", S_CMD_CITIES, true}, /* ln */
    {"MIJI", S_CMD_CITIES, true},     /* sw */
    {"NOUVEAU", S_CMD_NEW, true},
    {"NOUVELLE INSCRIPTION", S_CMD_NEW, true},
    {"NEW", S_CMD_NEW, true},
    {"YA SIKA", S_CMD_NEW, false}, /* ln */
    {"MPYA", S_CMD_NEW, false},    /* sw */
    {"AUTRE", S_CMD_OTHER, true},
    {"AUTRE PERSONNE", S_CMD_OTHER, true},
    {"ANOTHER", S_CMD_OTHER, true},
    {"ANOTHER PERSON", S_CMD_OTHER, true},
    {"MOTO MOSUSU", S_CMD_OTHER, true},  /* ln */
    {"MTU MWINGINE", S_CMD_OTHER, true}, /* sw */
};

/* After the code: thanks and the like get a short closing (any text with
 * no letter or digit, an emoji, too); greetings start a new registration. */
static const char *const s_thanks[] = {
    "MERCI",        "MERCI BEAUCOUP",
    "MERCI BCP",    "GRAND MERCI",
    "THANKS",       "THANK YOU",
    "THANKS A LOT", "THANK YOU VERY MUCH",
    "THX",          "OK",
    "OKAY",         "OK MERCI",
    "OK THANKS",    "DACCORD",
    "BIEN",         "TRES BIEN",
    "SUPER",        "PARFAIT",
    "COOL",         "GREAT",
    "GOOD",         "NICE",
    "AMEN",         "1",
    "OUI",          "YES",
    "MATONDO",      "MATONDO MINGI",
    "MALAMU",       "IYO",
    "EE", /* ln */
    "ASANTE",       "ASANTE SANA",
    "SAWA",         "NDIYO", /* sw */
    NULL,
};
static const char *const s_greetings[] = {
    "BONJOUR", "BONSOIR",      "SALUT",        "HELLO",  "HI",
    "HEY",     "GOOD MORNING", "GOOD EVENING", "MBOTE",  "MBOTE NA YO", /* ln */
    "JAMBO",   "HABARI",       "HUJAMBO",      "SALAMA",                /* sw */
    NULL,
};

/* Answers to the confirmation. */
static const char *const s_yes[] = {
    "1", "OUI", "YES", "OK", "OKAY", "DACCORD", /* d'accord */
    "IYO", "EE",                                /* ln */
    "NDIYO", "SAWA",                            /* sw */
    NULL,
};
static const char *const s_no[] = {
    "2", "NON", "NO",
    "TE",     /* ln */
    "HAPANA", /* sw */
    NULL,
};

/* Language menu choices: the menu number, the name, the code. */
typedef struct {
    const char *word;
    const char *lang;
} s_lang_word_t;

static const s_lang_word_t s_lang_words[] = {
    {"1", "fr"}, {"FRANCAIS", "fr"}, {"FRENCH", "fr"}, {"FR", "fr"},
    {"2", "en"}, {"ENGLISH", "en"}, {"ANGLAIS", "en"}, {"EN", "en"},
    {"3", "ln"}, {"LINGALA", "ln"}, {"LN", "ln"},
    {"4", "sw"}, {"SWAHILI", "sw"}, {"KISWAHILI", "sw"}, {"SW", "sw"},
};

#define S_COUNT(a) (sizeof(a) / sizeof((a)[0]))

static bool s_in(const char *const *list, const char *word)
{
    for (size_t i = 0; list[i]; i++)
        if (strcmp(list[i], word) == 0)
            return true;
    return false;
}

/* "VILLES 3": the page asked for (1 when none); 0 when not that command. */
static int s_cities_page(const char *folded)
{
    if (!folded)
        return 0;
    for (size_t i = 0; i < S_COUNT(s_commands); i++) {
        size_t n = strlen(s_commands[i].word);
        if (s_commands[i].cmd != S_CMD_CITIES || strncmp(folded, s_commands[i].word, n) != 0)
            continue;
        const char *p = folded + n;
        if (*p == '\0')
            return 1;
        if (*p++ != ' ' || *p == '\0')
            return 0;
        int page = 0;
        for (; *p >= '0' && *p <= '9'; p++)
            if (page < 1000)
                page = page * 10 + (*p - '0');
        return *p == '\0' ? (page < 1 ? 1 : page) : 0;
    }
    return 0;
}

static s_cmd_t s_command(const char *folded, int step)
{
    if (!folded)
        return S_CMD_NONE;
    if (s_cities_page(folded) > 0)
        return S_CMD_CITIES;
    bool name_step = step == CONV_STEP_LAST || step == CONV_STEP_FIRST;
    for (size_t i = 0; i < S_COUNT(s_commands); i++) {
        if (strcmp(s_commands[i].word, folded) != 0)
            continue;
        if (name_step && !s_commands[i].name_safe)
            return S_CMD_NONE;
        return s_commands[i].cmd;
    }
    return S_CMD_NONE;
}

static const char *s_lang_choice(const char *folded)
{
    if (!folded)
        return NULL;
    for (size_t i = 0; i < S_COUNT(s_lang_words); i++)
        if (strcmp(s_lang_words[i].word, folded) == 0)
            return s_lang_words[i].lang;
    return NULL;
}

const char *conv_step_str(int step)
{
    static const char *const names[] = {
        "none",   "last",    "first",    "year", "city",
        "gender", "confirm", "wait_ciu", "lang", "city_suggest",
    };
    if (step < 0 || (size_t)step >= S_COUNT(names))
        return "unknown";
    return names[step];
}

/* ---- session fields ---------------------------------------------------- */

static bool s_letters(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < 'A' || s[i] > 'Z')
            return false;
    return s[n] == '\0';
}

static bool s_digit(const char *s, char lo, char hi)
{
    return s[0] >= lo && s[0] <= hi && s[1] == '\0';
}

/* Number of leading answers (0..5) that are set and well formed. */
static int s_answered(const conv_session_t *s)
{
    if (!s_letters(s->last, 3))
        return 0;
    if (!s_letters(s->first, 3))
        return 1;
    if (!s_digit(s->year, '0', '9'))
        return 2;
    if (!s_letters(s->city, 2))
        return 3;
    if (!s_digit(s->gender, '1', '4'))
        return 4;
    return 5;
}

/* Answers needed before being at `step` (questions before it). */
static int s_needed(int step)
{
    if (step >= CONV_STEP_LAST && step <= CONV_STEP_CONFIRM)
        return step - 1;
    if (step == CONV_STEP_WAIT_CIU)
        return 5;
    if (step == CONV_STEP_CITY_SUGGEST)
        return 4; /* the suggested code is in `city` */
    return 0;
}

bool conv_session_valid(const conv_session_t *s)
{
    if (!s)
        return false;
    if (s->lang[0] && !cmn_i18n_lang_valid(s->lang))
        return false;
    if (s->other != 0 && s->other != 1)
        return false;
    int step = s->step;
    if (step == CONV_STEP_LANG) {
        step = s->return_step;
        if (step == CONV_STEP_LANG || step < CONV_STEP_NONE || step > CONV_STEP_DONE)
            return false;
    } else if (step < CONV_STEP_NONE || step > CONV_STEP_DONE) {
        return false;
    }
    return s_answered(s) >= s_needed(step);
}

static void s_clear_answers(conv_session_t *s)
{
    memset(s->last, 0, sizeof(s->last));
    memset(s->first, 0, sizeof(s->first));
    memset(s->year, 0, sizeof(s->year));
    memset(s->city, 0, sizeof(s->city));
    memset(s->gender, 0, sizeof(s->gender));
}

void conv_session_done(conv_session_t *s, int64_t now_ms)
{
    if (!s)
        return;
    s_clear_answers(s);
    s->step = CONV_STEP_DONE;
    s->return_step = 0;
    s->other = 0;
    s->updated_ms = now_ms;
}

int conv_session_ciu(const conv_session_t *s, char ret_ciu[11])
{
    if (!s || !ret_ciu || s_answered(s) < 5)
        return -EINVAL;
    return ciu_formula(s->last, s->first, s->year[0] - '0', s->city, s->gender[0] - '0', ret_ciu);
}

/* ---- replies ----------------------------------------------------------- */

typedef struct {
    const conv_ctx_t *ctx;
    conv_result_t *out;
} s_run_t;

static const char *s_lang(const conv_result_t *out)
{
    return out->session.lang[0] ? out->session.lang : CMN_I18N_DEFAULT_LANG;
}

static int s_say_vars(s_run_t *run, const char *key, const char *const *vars)
{
    conv_result_t *out = run->out;
    if (out->nreplies >= CONV_REPLIES_MAX)
        return -E2BIG; /* programmer error: a path says too much */
    int r = cmn_i18n_format(run->ctx->texts, s_lang(out), key, vars, &out->replies[out->nreplies]);
    if (r < 0)
        return r;
    out->nreplies++;
    return 0;
}

static int s_say(s_run_t *run, const char *key)
{
    return s_say_vars(run, key, NULL);
}

int conv_flow_summary(const conv_ctx_t *ctx, const conv_session_t *s, cmn_str_t *out)
{
    if (!ctx || !ctx->texts || !s || !out || s_answered(s) < 5)
        return -EINVAL;
    char key[16];
    snprintf(key, sizeof(key), "gender_%c", s->gender[0]);
    const char *lang = s->lang[0] ? s->lang : CMN_I18N_DEFAULT_LANG;
    const char *label = cmn_i18n_get(ctx->texts, lang, key);
    if (!label)
        return -EINVAL;
    /* The city by its name from the list, so a wrong code shows; a code
     * not in the list is shown alone. */
    const ciu_city_t *c = ctx->cities ? ciu_cities_find_code(ctx->cities, s->city) : NULL;
    char city[160];
    if (c)
        snprintf(city, sizeof(city), "%.140s (%s)", c->name, c->code);
    else
        cmn_strlcpy(city, s->city, sizeof(city));
    static const char *const keys[] = {"summary_last", "summary_first", "summary_year",
                                       "summary_city", "summary_gender"};
    const char *lab[5];
    for (int i = 0; i < 5; i++)
        if (!(lab[i] = cmn_i18n_get(ctx->texts, lang, keys[i])))
            return -EINVAL;
    /* The short line, then each part with its meaning. */
    return cmn_str_printf(out,
                          "*%s · %s · %s · %s · %s*\n"
                          "• %s *%s*…\n"
                          "• %s *%s*…\n"
                          "• %s *%s*\n"
                          "• %s *%s*\n"
                          "• %s *%s*",
                          s->last, s->first, s->year, s->city, label, lab[0], s->last, lab[1],
                          s->first, lab[2], s->year, lab[3], city, lab[4], label);
}

/* Append the text of `key` in the result's language to *out. */
static int s_append(s_run_t *run, const char *key, cmn_str_t *out)
{
    return cmn_i18n_format(run->ctx->texts, s_lang(run->out), key, NULL, out);
}

/* Queue a composed reply (owned by the result from now on). */
static int s_say_str(s_run_t *run, cmn_str_t *text)
{
    conv_result_t *out = run->out;
    if (out->nreplies >= CONV_REPLIES_MAX)
        return -E2BIG;
    cmn_str_t *dst = &out->replies[out->nreplies];
    int r = cmn_str_append(dst, text->buf ? text->buf : "", text->len);
    if (r == 0)
        out->nreplies++;
    return r;
}

/* "Did you mean: *Lubumbashi (LU)*? 1 yes / 2 no", of the code in `city`. */
static int s_say_suggest(s_run_t *run)
{
    const conv_session_t *s = &run->out->session;
    const ciu_city_t *c = run->ctx->cities ? ciu_cities_find_code(run->ctx->cities, s->city) : NULL;
    cmn_str_t t = CMN_STR_INIT(CONV_REPLY_MAX);
    int r = s_append(run, "city_suggest", &t);
    if (r == 0)
        r = cmn_str_printf(&t, "\n*%s (%s)*\n", c ? c->name : s->city, s->city);
    if (r == 0)
        r = s_append(run, "city_suggest_answer", &t);
    if (r == 0)
        r = s_say_str(run, &t);
    cmn_str_free(&t);
    return r;
}

/* One page of the city list, grouped by province. */
static int s_say_cities(s_run_t *run, int page)
{
    const ciu_cities_t *cities = run->ctx->cities;
    size_t n = ciu_cities_count(cities);
    size_t pages = n ? (n + CONV_CITIES_PAGE - 1) / CONV_CITIES_PAGE : 1;
    size_t *order = n ? calloc(n, sizeof(*order)) : NULL;
    cmn_str_t t = CMN_STR_INIT(CONV_REPLY_MAX);
    int r = n && !order ? -ENOMEM : 0;
    if ((size_t)page > pages)
        page = (int)pages;
    if (r == 0 && n)
        r = ciu_cities_by_province(cities, order, n);
    if (r == 0)
        r = s_append(run, "cities_title", &t);
    if (r == 0)
        r = cmn_str_printf(&t, " (%d/%zu)", page, pages);
    const char *prov = NULL;
    for (size_t i = (size_t)(page - 1) * CONV_CITIES_PAGE;
         r == 0 && i < n && i < (size_t)page * CONV_CITIES_PAGE; i++) {
        const ciu_city_t *c = ciu_cities_at(cities, order[i]);
        if (!prov || strcmp(prov, c->province) != 0) {
            prov = c->province;
            r = cmn_str_printf(&t, "\n\n*%s*", prov[0] ? prov : "-");
        }
        if (r == 0)
            r = cmn_str_printf(&t, "\n%s %s", c->code, c->name);
    }
    if (r == 0 && (size_t)page < pages) {
        r = cmn_str_appends(&t, "\n\n");
        if (r == 0)
            r = s_append(run, "cities_next", &t);
    }
    if (r == 0)
        r = s_say_str(run, &t);
    cmn_str_free(&t);
    free(order);
    return r;
}

/* The text that asks what `step` waits for (for NONE: welcome + q1). */
static int s_prompt(s_run_t *run, int step)
{
    static const char *const questions[] = {NULL, "q1", "q2", "q3", "q4", "q5"};
    switch (step) {
    case CONV_STEP_NONE: {
        int r = s_say(run, "welcome");
        return r < 0 ? r : s_say(run, "q1");
    }
    case CONV_STEP_LAST:
    case CONV_STEP_FIRST:
    case CONV_STEP_YEAR:
    case CONV_STEP_CITY:
    case CONV_STEP_GENDER:
        return s_say(run, questions[step]);
    case CONV_STEP_CONFIRM: {
        cmn_str_t summary = CMN_STR_INIT(256);
        int r = conv_flow_summary(run->ctx, &run->out->session, &summary);
        if (r == 0) {
            const char *vars[] = {"summary", cmn_str_cstr(&summary), NULL};
            r = s_say_vars(run, "confirm", vars);
        }
        cmn_str_free(&summary);
        return r;
    }
    case CONV_STEP_WAIT_CIU:
        return s_say(run, "wait_ciu");
    case CONV_STEP_LANG:
        return s_say(run, "language_menu");
    case CONV_STEP_CITY_SUGGEST:
        return s_say_suggest(run);
    case CONV_STEP_DONE:
        run->out->session.return_step = 1; /* the closing was said */
        return s_say(run, "closing");
    default:
        return -EINVAL;
    }
}

/* Move to `step` and ask its question (NONE: start the conversation). */
static int s_goto(s_run_t *run, int step)
{
    conv_session_t *s = &run->out->session;
    s->step = step == CONV_STEP_NONE ? CONV_STEP_LAST : step;
    s->return_step = 0;
    return s_prompt(run, step);
}

static int s_restart(s_run_t *run)
{
    s_clear_answers(&run->out->session);
    int r = s_say(run, "restart");
    return r < 0 ? r : s_goto(run, CONV_STEP_LAST);
}

/* AUTRE: register another person from this number, from question 1. */
static int s_other_person(s_run_t *run)
{
    conv_session_t *s = &run->out->session;
    s_clear_answers(s);
    s->other = 1;
    int r = s_say(run, "other_person");
    return r < 0 ? r : s_goto(run, CONV_STEP_LAST);
}

static int s_cancel(s_run_t *run)
{
    conv_session_t *s = &run->out->session;
    s_clear_answers(s);
    s->step = CONV_STEP_NONE;
    s->return_step = 0;
    s->other = 0;
    run->out->drop_session = true;
    return s_say(run, "cancelled");
}

static int s_language_menu(s_run_t *run, int return_step)
{
    conv_session_t *s = &run->out->session;
    s->step = CONV_STEP_LANG;
    s->return_step = return_step;
    return s_say(run, "language_menu");
}

/* ---- answers ----------------------------------------------------------- */

/* The text key explaining why an answer to `step` was refused. */
static const char *s_error_key(int step, ciu_err_t err)
{
    if (err == CIU_ERR_EMPTY)
        return "err_empty";
    switch (step) {
    case CONV_STEP_LAST:
    case CONV_STEP_FIRST:
        if (err == CIU_ERR_NAME_DIGIT)
            return "err_name_digits";
        if (err == CIU_ERR_TOO_LONG)
            return "err_name_too_long";
        return "err_name_no_letters";
    case CONV_STEP_YEAR:
        return err == CIU_ERR_YEAR_RANGE ? "err_year_range" : "err_year_invalid";
    case CONV_STEP_CITY:
        return "err_city_unknown";
    default:
        return "err_gender_invalid";
    }
}

/* Parse an answer to question `step` into the session. Returns CIU_OK or
 * the refusal. */
static ciu_err_t s_parse(const conv_ctx_t *ctx, conv_session_t *s, int step, const char *text)
{
    ciu_err_t e;
    int digit;
    switch (step) {
    case CONV_STEP_LAST:
        return ciu_parse_name(text, s->last);
    case CONV_STEP_FIRST:
        return ciu_parse_name(text, s->first);
    case CONV_STEP_YEAR:
        e = ciu_parse_year(text, ctx->this_year, &digit);
        if (e == CIU_OK && (digit < 0 || digit > 9))
            e = CIU_ERR_INVALID;
        if (e == CIU_OK) {
            s->year[0] = (char)('0' + digit);
            s->year[1] = '\0';
        }
        return e;
    case CONV_STEP_CITY:
        return ciu_parse_city(ctx->cities, text, s->city);
    case CONV_STEP_GENDER:
        e = ciu_parse_gender(text, &digit);
        if (e == CIU_OK && (digit < 1 || digit > 4))
            e = CIU_ERR_INVALID;
        if (e == CIU_OK) {
            s->gender[0] = (char)('0' + digit);
            s->gender[1] = '\0';
        }
        return e;
    default:
        return CIU_ERR_INVALID;
    }
}

static int s_answer(s_run_t *run, int step, const char *text)
{
    conv_session_t *s = &run->out->session;
    conv_session_t next = *s;
    ciu_err_t e = s_parse(run->ctx, &next, step, text);
    if (e == CIU_ERR_NOMEM)
        return -ENOMEM;
    if (e == CIU_ERR_INVALID)
        return -EINVAL;
    if (e == CIU_ERR_CITY_UNKNOWN && run->ctx->cities) {
        /* A typo of a listed name: suggest it. Only its code is kept. */
        const ciu_city_t *c = ciu_cities_suggest(run->ctx->cities, text, NULL);
        if (c) {
            cmn_strlcpy(s->city, c->code, sizeof(s->city));
            return s_goto(run, CONV_STEP_CITY_SUGGEST);
        }
    }
    if (e != CIU_OK) {
        int r = s_say(run, s_error_key(step, e));
        return r < 0 ? r : s_prompt(run, step);
    }
    *s = next;
    return s_goto(run, step + 1);
}

/* At "did you mean ...?": yes keeps the suggested code, no asks again,
 * anything else is a new answer to question 4. */
static int s_suggest_answer(s_run_t *run, const char *folded, const char *text)
{
    conv_session_t *s = &run->out->session;
    if (folded && s_in(s_yes, folded))
        return s_goto(run, CONV_STEP_GENDER);
    memset(s->city, 0, sizeof(s->city));
    if (folded && s_in(s_no, folded)) {
        int r = s_say(run, "city_suggest_no");
        return r < 0 ? r : s_goto(run, CONV_STEP_CITY);
    }
    return s_answer(run, CONV_STEP_CITY, text);
}

static int s_confirm(s_run_t *run, const char *folded)
{
    if (folded && s_in(s_yes, folded)) {
        run->out->session.step = CONV_STEP_WAIT_CIU;
        run->out->request_ciu = true;
        return 0; /* no text: the CIU (from ciu-engine) is the answer */
    }
    if (folded && s_in(s_no, folded))
        return s_restart(run);
    int r = s_say(run, "confirm_invalid");
    return r < 0 ? r : s_prompt(run, CONV_STEP_CONFIRM);
}

/* ---- steps ------------------------------------------------------------- */

typedef struct {
    bool is_text;
    bool too_long;
    const char *text;   /* as received, never NULL */
    const char *folded; /* ciu_fold() of text, NULL when not text/too long/bad UTF-8 */
    s_cmd_t cmd;
} s_msg_t;

/* Non-text or too long: say so and ask again. */
static int s_unreadable(s_run_t *run, const s_msg_t *m, int step)
{
    int r = s_say(run, m->is_text ? "too_long" : "text_only");
    return r < 0 ? r : s_prompt(run, step);
}

/* At a question (LAST..GENDER) or at CONFIRM. */
static int s_at_question(s_run_t *run, const s_msg_t *m)
{
    int step = run->out->session.step;
    if (!m->is_text || m->too_long)
        return s_unreadable(run, m, step);
    int r;
    switch (m->cmd) {
    case S_CMD_RESTART:
    case S_CMD_NEW:
        return s_restart(run);
    case S_CMD_OTHER:
        return s_other_person(run);
    case S_CMD_HELP:
        r = s_say(run, "help");
        return r < 0 ? r : s_prompt(run, step);
    case S_CMD_BACK:
        if (step == CONV_STEP_LAST) {
            r = s_say(run, "back_first");
            return r < 0 ? r : s_prompt(run, step);
        }
        if (step == CONV_STEP_CITY_SUGGEST) {
            memset(run->out->session.city, 0, sizeof(run->out->session.city));
            return s_goto(run, CONV_STEP_CITY);
        }
        return s_goto(run, step - 1);
    case S_CMD_CITIES:
        r = s_say_cities(run, s_cities_page(m->folded));
        return r < 0 ? r : s_prompt(run, step);
    case S_CMD_LANGUAGE:
        return s_language_menu(run, step);
    case S_CMD_CANCEL:
        return s_cancel(run);
    case S_CMD_CODE:
        run->out->send_code = true;
        return s_prompt(run, step);
    case S_CMD_NONE:
        break;
    }
    if (step == CONV_STEP_CONFIRM)
        return s_confirm(run, m->folded);
    if (step == CONV_STEP_CITY_SUGGEST)
        return s_suggest_answer(run, m->folded, m->text);
    return s_answer(run, step, m->text);
}

static int s_at_wait_ciu(s_run_t *run, const s_msg_t *m)
{
    if (m->is_text && !m->too_long) {
        switch (m->cmd) {
        case S_CMD_RESTART:
        case S_CMD_NEW:
            return s_restart(run);
        case S_CMD_OTHER:
            return s_other_person(run);
        case S_CMD_LANGUAGE:
            return s_language_menu(run, CONV_STEP_WAIT_CIU);
        case S_CMD_CANCEL:
            return s_cancel(run);
        case S_CMD_CODE:
            run->out->send_code = true;
            break;
        default:
            break;
        }
    }
    return s_say(run, "wait_ciu");
}

static int s_at_lang(s_run_t *run, const s_msg_t *m)
{
    conv_session_t *s = &run->out->session;
    int back = s->return_step;
    if (!m->is_text || m->too_long)
        return s_unreadable(run, m, CONV_STEP_LANG);
    int r;
    switch (m->cmd) {
    case S_CMD_RESTART:
    case S_CMD_NEW:
        return s_restart(run);
    case S_CMD_OTHER:
        return s_other_person(run);
    case S_CMD_CANCEL:
        return s_cancel(run);
    case S_CMD_BACK:
        return s_goto(run, back); /* leave the menu, language unchanged */
    case S_CMD_HELP:
        r = s_say(run, "help");
        return r < 0 ? r : s_prompt(run, CONV_STEP_LANG);
    case S_CMD_CODE:
        run->out->send_code = true;
        return s_prompt(run, CONV_STEP_LANG);
    case S_CMD_LANGUAGE:
        return s_prompt(run, CONV_STEP_LANG);
    case S_CMD_CITIES:
        r = s_say_cities(run, s_cities_page(m->folded));
        return r < 0 ? r : s_prompt(run, CONV_STEP_LANG);
    case S_CMD_NONE:
        break;
    }
    const char *lang = s_lang_choice(m->folded);
    if (!lang) {
        r = s_say(run, "language_invalid");
        return r < 0 ? r : s_prompt(run, CONV_STEP_LANG);
    }
    cmn_strlcpy(s->lang, lang, sizeof(s->lang));
    r = s_say(run, "language_set");
    return r < 0 ? r : s_goto(run, back);
}

static int s_start(s_run_t *run, const s_msg_t *m, bool expired);

/* After the code (CONV_STEP_DONE): nothing typed here is an answer. */
static int s_at_done(s_run_t *run, const s_msg_t *m)
{
    conv_session_t *s = &run->out->session;
    bool closed = s->return_step == 1;
    int r;
    if (m->is_text && !m->too_long) {
        switch (m->cmd) {
        case S_CMD_RESTART:
        case S_CMD_NEW:
            return s_goto(run, CONV_STEP_NONE); /* a new registration */
        case S_CMD_OTHER:
            return s_other_person(run);
        case S_CMD_CODE:
            run->out->send_code = true; /* in the person's language, nothing else */
            return 0;
        case S_CMD_HELP:
            r = s_say(run, "help");
            return r < 0 ? r : s_prompt(run, CONV_STEP_DONE);
        case S_CMD_LANGUAGE:
            return s_language_menu(run, CONV_STEP_DONE);
        case S_CMD_CANCEL:
            return s_cancel(run);
        case S_CMD_CITIES:
            r = s_say_cities(run, s_cities_page(m->folded));
            return r < 0 ? r : s_prompt(run, CONV_STEP_DONE);
        case S_CMD_BACK:
        case S_CMD_NONE:
            break;
        }
        bool polite = !m->folded || !m->folded[0] || s_in(s_thanks, m->folded);
        if (m->folded && s_in(s_greetings, m->folded))
            return s_start(run, m, false);
        if (closed && !polite)
            return s_start(run, m, false); /* more than thanks after the closing */
    }
    return s_prompt(run, CONV_STEP_DONE);
}

/* No session, step NONE, expired or inconsistent: start afresh. The message
 * is never taken as an answer. */
static int s_start(s_run_t *run, const s_msg_t *m, bool expired)
{
    conv_session_t *s = &run->out->session;
    char lang[sizeof(s->lang)];
    cmn_strlcpy(lang, s->lang, sizeof(lang));
    memset(s, 0, sizeof(*s));
    cmn_strlcpy(s->lang, lang, sizeof(s->lang));
    int r = 0;
    if (expired) {
        char minutes[24];
        int64_t t = run->ctx->timeout_ms;
        snprintf(minutes, sizeof(minutes), "%lld", (long long)((t + 59999) / 60000));
        const char *vars[] = {"minutes", minutes, NULL};
        r = s_say_vars(run, "expired", vars);
        if (r < 0)
            return r;
    }
    if (m->is_text && !m->too_long && m->cmd == S_CMD_LANGUAGE)
        return s_language_menu(run, CONV_STEP_NONE);
    if (m->is_text && !m->too_long && m->cmd == S_CMD_OTHER)
        return s_other_person(run);
    if (m->is_text && !m->too_long && m->cmd == S_CMD_CODE)
        run->out->send_code = true; /* "CODE" after the CIU was issued */
    if (m->is_text && !m->too_long && m->cmd == S_CMD_CITIES) {
        r = s_say_cities(run, s_cities_page(m->folded));
        if (r < 0)
            return r;
    }
    return s_goto(run, CONV_STEP_NONE);
}

void conv_result_free(conv_result_t *r)
{
    if (!r)
        return;
    for (int i = 0; i < CONV_REPLIES_MAX; i++)
        cmn_str_free(&r->replies[i]);
    r->nreplies = 0;
}

static void s_result_init(conv_result_t *out)
{
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < CONV_REPLIES_MAX; i++)
        out->replies[i] = (cmn_str_t)CMN_STR_INIT(CONV_REPLY_MAX);
}

bool conv_session_expired(const conv_ctx_t *ctx, const conv_session_t *in, int64_t now_ms)
{
    if (!ctx || !in || in->step == CONV_STEP_NONE || in->step == CONV_STEP_DONE ||
        ctx->timeout_ms <= 0)
        return false;
    /* Impossible times (none, or further ahead than clocks can disagree)
     * would overflow the subtraction below: they count as expired. */
    if (in->updated_ms <= 0 || now_ms <= 0 || in->updated_ms - CONV_CLOCK_SKEW_MS > now_ms)
        return true;
    if (in->updated_ms >= now_ms)
        return false; /* both positive: now_ms - updated_ms cannot overflow */
    return now_ms - in->updated_ms > ctx->timeout_ms;
}

int conv_flow_step(const conv_ctx_t *ctx, const conv_session_t *in, bool is_text,
                   const char *text, int64_t now_ms, conv_result_t *out)
{
    if (!out)
        return -EINVAL;
    s_result_init(out);
    if (!ctx || !ctx->texts)
        return -EINVAL;

    s_msg_t m = {.is_text = is_text, .text = text ? text : ""};
    char *folded = NULL;
    if (is_text) {
        m.too_long = strnlen(m.text, CONV_TEXT_MAX + 1) > CONV_TEXT_MAX;
        if (!m.too_long) {
            ciu_err_t e = ciu_fold(m.text, &folded);
            if (e == CIU_ERR_NOMEM)
                return -ENOMEM;
            m.folded = folded; /* NULL on bad UTF-8: then no command matches */
        }
    }

    bool valid = in && conv_session_valid(in);
    if (valid)
        out->session = *in;
    else if (in && cmn_i18n_lang_valid(in->lang))
        cmn_strlcpy(out->session.lang, in->lang, sizeof(out->session.lang));
    if (!cmn_i18n_lang_valid(out->session.lang))
        cmn_strlcpy(out->session.lang, CMN_I18N_DEFAULT_LANG, sizeof(out->session.lang));
    /* canonical lower-case code */
    cmn_strlcpy(out->session.lang, cmn_i18n_lang_code(cmn_i18n_lang_index(out->session.lang)),
                sizeof(out->session.lang));

    /* An expired session is announced even when its answers were already
     * purged by the daemon's periodic scan (then it is no longer "valid"). */
    bool expired = conv_session_expired(ctx, in, now_ms);
    int step = valid ? in->step : CONV_STEP_NONE;
    m.cmd = s_command(m.folded, step);

    s_run_t run = {.ctx = ctx, .out = out};
    int r;
    if (!valid || step == CONV_STEP_NONE || expired)
        r = s_start(&run, &m, expired);
    else if (step == CONV_STEP_WAIT_CIU)
        r = s_at_wait_ciu(&run, &m);
    else if (step == CONV_STEP_DONE)
        r = s_at_done(&run, &m);
    else if (step == CONV_STEP_LANG)
        r = s_at_lang(&run, &m);
    else
        r = s_at_question(&run, &m);
    free(folded);
    out->session.updated_ms = now_ms;
    if (r < 0) {
        conv_result_free(out);
        s_result_init(out);
        return r;
    }
    return 0;
}
