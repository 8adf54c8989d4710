/* conv_flow: the CIU conversation as a pure state machine.
 *
 * One call = one incoming message: conv_flow_step() takes the person's
 * session as stored (or NULL), the message and the current time, and returns
 * the new session, the texts to send back and what the daemon must do next.
 * No I/O, no logging, no clock, no global state: the daemon (conv_server)
 * loads and stores the session, sends the replies and talks to ciu-engine.
 * docs/conversation.md describes the conversation for programme staff.
 *
 * The session is plain data holding only what the CIU needs: the language,
 * the step, and the extracted codes (3 letters, 3 letters, 1 digit, 2 letters,
 * 1 digit) - never the text the person typed.
 *
 * What the daemon does with a conv_result_t, in this order:
 *   1. drop_session: delete the stored session; else store `session`.
 *   2. send_code: look up the last CIU issued to this number and send
 *      code_again {ciu} or code_none (cmn_i18n, in session.lang) FIRST.
 *   3. send replies[0 .. nreplies-1], in order.
 *   4. request_ciu: ask ciu-engine for the CIU of the session's codes
 *      (conv_session_ciu()); the person gets ciu_issued / ciu_existing from
 *      that answer, and the daemon then drops the session. While waiting the
 *      step is CONV_STEP_WAIT_CIU.
 */
#ifndef CONV_FLOW_H
#define CONV_FLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "common/cmn_i18n.h"
#include "common/cmn_str.h"

typedef struct ciu_cities ciu_cities_t;

typedef enum {
    CONV_STEP_NONE = 0,         /* no conversation yet */
    CONV_STEP_LAST = 1,         /* question 1: last name */
    CONV_STEP_FIRST = 2,        /* question 2: first name */
    CONV_STEP_YEAR = 3,         /* question 3: birth year */
    CONV_STEP_CITY = 4,         /* question 4: birth city */
    CONV_STEP_GENDER = 5,       /* question 5: gender */
    CONV_STEP_CONFIRM = 6,      /* summary shown, waiting for 1 (yes) / 2 (no) */
    CONV_STEP_WAIT_CIU = 7,     /* confirmed, ciu-engine is computing the CIU */
    CONV_STEP_LANG = 8,         /* language menu shown */
    CONV_STEP_CITY_SUGGEST = 9, /* "did you mean <city>?" shown; `city` holds the
                                   suggested code (never the typed text) */
    CONV_STEP_DONE = 10,        /* a CIU was issued: language kept, no answers;
                                   return_step 1 once the closing was said */
} conv_step_t;

/* Cities per page of the VILLES / CITIES list. */
#define CONV_CITIES_PAGE 25

/* Longest text message handled, in bytes; longer ones get `too_long`. */
#define CONV_TEXT_MAX 1000
/* Most replies one message can produce. */
#define CONV_REPLIES_MAX 4
/* Hard maximum of one reply, in bytes. */
#define CONV_REPLY_MAX 4096

/* A person's session: plain data, one DB column per field. Strings are
 * NUL-terminated and empty when not answered yet. */
typedef struct {
    char lang[4];       /* "fr", "en", "ln" or "sw" ("" or unknown: "fr") */
    int step;           /* conv_step_t */
    int return_step;    /* at CONV_STEP_LANG: the step to go back to (NONE:
                           the conversation had not started); else 0 */
    char last[4];       /* 3 letters A-Z, e.g. "MBE" */
    char first[4];      /* 3 letters A-Z, e.g. "IBR" */
    char year[2];       /* 1 digit, e.g. "7" */
    char city[3];       /* 2 letters A-Z, e.g. "DA" */
    char gender[2];     /* "1".."4" */
    int other;          /* 1: registering another person from this number
                           (AUTRE): not a suspected duplicate; else 0 */
    int64_t updated_ms; /* time of the last message (the `now_ms` of the call) */
    int64_t started_ms; /* when this conversation's first question was asked; 0 when
                           none is open (the flow resets it on a fresh start; the
                           daemon sets it and announces the conversation's events) */
} conv_session_t;

/* Read-only context, shared by all calls (borrowed). */
typedef struct {
    const cmn_i18n_t *texts;     /* required */
    const ciu_cities_t *cities;  /* may be NULL: only 2-letter codes accepted */
    int64_t timeout_ms;          /* session expiry after inactivity; <= 0: never */
    int this_year;               /* latest birth year accepted */
} conv_ctx_t;

/* What to do after one message. Plain data; free with conv_result_free(). */
typedef struct {
    conv_session_t session; /* the session to store (unless drop_session) */
    bool drop_session;      /* delete the stored session (ANNULER) */
    bool request_ciu;       /* the person confirmed: ask ciu-engine for the CIU */
    bool send_code;         /* CODE: send the last issued CIU (or code_none) before replies */
    int nreplies;
    cmn_str_t replies[CONV_REPLIES_MAX]; /* texts to send, in order (owned) */
} conv_result_t;

/* Handle one incoming message of a person.
 *   in:     the stored session, or NULL when there is none. To start new
 *           conversations in another language (CIU_DEFAULT_LANGUAGE), pass
 *           a session {.lang = "sw", .step = CONV_STEP_NONE} instead of NULL:
 *           step NONE is "no conversation", its language is kept.
 *   is_text false for anything but text (photo, audio, location...): `text`
 *           is then ignored.
 *   text:   the message as received, UTF-8 (NULL reads as "").
 *   now_ms: current time, ms (the same clock as session.updated_ms).
 * Fills *out (caller frees it with conv_result_free, also after an error).
 * Returns 0; -EINVAL for NULL ctx/texts/out; -ENOMEM. On error `out` holds
 * no replies: the daemon should answer error_internal and keep the stored
 * session. */
int conv_flow_step(const conv_ctx_t *ctx, const conv_session_t *in, bool is_text,
                   const char *text, int64_t now_ms, conv_result_t *out);

/* Free the replies of a result and empty it. NULL-safe, idempotent. */
void conv_result_free(conv_result_t *r);

/* Append the confirmation summary of a session whose five answers are all
 * set (the `summary` text in session->lang): a short line "MBE · IBR · 7 ·
 * KN · Homme", then each part labelled with its meaning, the city by its
 * name from ctx->cities ("Kinshasa (KN)"), the gender as a word. Codes
 * only: never the names as typed.
 * Returns 0, -EINVAL when an answer is missing, or a cmn_str error. */
int conv_flow_summary(const conv_ctx_t *ctx, const conv_session_t *session, cmn_str_t *out);

/* The CIU of a session whose five answers are all set (10 characters and a
 * NUL into ret_ciu). Returns 0 or -EINVAL. */
int conv_session_ciu(const conv_session_t *session, char ret_ciu[11]);

/* True when the session's fields are consistent with its step (what
 * conv_flow_step checks before trusting a stored session; an inconsistent
 * one is treated as no session). */
bool conv_session_valid(const conv_session_t *session);

/* Turn the session of a person whose CIU was just issued into the
 * "after the code" session: step CONV_STEP_DONE, answers cleared, language
 * kept, updated_ms = now_ms. Thanks get a short closing there, CODE answers
 * in the person's language, and only a clear request (a greeting, NOUVEAU,
 * RECOMMENCER...) starts a new registration. NULL-safe. */
void conv_session_done(conv_session_t *session, int64_t now_ms);

/* Session times further ahead of now than this are impossible (clocks of
 * two replicas may disagree by less). */
#define CONV_CLOCK_SKEW_MS (5LL * 60 * 1000)

/* True when a stored session has been idle longer than ctx->timeout_ms at
 * now_ms (never for steps NONE and DONE or timeout <= 0). An impossible time (<= 0,
 * or more than CONV_CLOCK_SKEW_MS ahead of now) counts as expired; nothing
 * overflows. */
bool conv_session_expired(const conv_ctx_t *ctx, const conv_session_t *in, int64_t now_ms);

/* Stable lower-case name of a step for logs and metrics ("last", "confirm",
 * ...); "unknown" out of range. */
const char *conv_step_str(int step);

#endif
