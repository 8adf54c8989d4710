/* dhis_api: the DHIS2 Tracker Web API as pure functions.
 *
 * Which version speaks which dialect (parameter names, envelopes), the URLs
 * the bridge and `ciu-admin dhis2` call, the JSON bodies they send and the
 * parsing of what comes back, the tracked-entity UIDs the bridge generates
 * before a call, the backoff and the link state (circuit breaker). Nothing
 * here does I/O or logs: time is a parameter and the callers log.
 * The facts per version are in docs/dhis2.md.
 */
#ifndef DHIS_API_H
#define DHIS_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cmn_str.h"

struct dhis_config;

#define DHIS_UID_LEN 12 /* 11 characters + NUL */
#define DHIS_CODE_LEN 8 /* "E1064" + NUL */
#define DHIS_MSG_LEN 256

/* ---- versions ------------------------------------------------------------ */

#define DHIS_MINOR_OLDEST 38
#define DHIS_MINOR_NEWEST 43

/* What one DHIS2 version expects and answers. */
typedef struct {
    char version[32];          /* as the server said it, e.g. "2.41.1" ("" when unknown) */
    int minor;                 /* dialect in use: 38..43 */
    bool assumed;              /* version not recognised: the dialect of `minor` is a guess */
    const char *ou_mode_param; /* search: "ouMode" (<= 2.40) or "orgUnitMode" (>= 2.41) */
    const char *list_key;      /* search answer: "instances" (<= 2.40) or "trackedEntities" */
} dhis_dialect_t;

/* Pick the dialect of a `version` string from /api/system/info ("2.41.1",
 * "2.40.4.1", "2.42-SNAPSHOT"). An unknown or unparsable version gets the
 * newest dialect, an older one (< 2.38) the oldest, with `assumed` set. */
void dhis_dialect_for(const char *version, dhis_dialect_t *ret);

/* ---- UIDs ----------------------------------------------------------------- */

/* DHIS2's UID shape: a letter, then 10 letters or digits. */
bool dhis_uid_valid(const char *s);
/* A new random UID (CodeGenerator's alphabet). 0 or -EIO. */
int dhis_uid_new(char out[DHIS_UID_LEN]);

/* ---- URLs (appended to out; 0 or a cmn_str error) ------------------------- */

/* GET /api/system/info */
int dhis_url_info(const struct dhis_config *c, cmn_str_t *out);
/* GET /api/tracker/trackedEntities by the CIU attribute, for n CIUs
 * (`eq` for one, `in` for several), by tracked entity type, with the
 * enrolments in the program. */
int dhis_url_search(const struct dhis_config *c, const dhis_dialect_t *d, const char *const *cius,
                    size_t n, cmn_str_t *out);
/* POST /api/tracker, synchronous, one object failing does not fail the others. */
int dhis_url_import(const struct dhis_config *c, bool update_only, cmn_str_t *out);
/* GET /api/tracker/trackedEntities/{te} with what a flag update must echo. */
int dhis_url_entity(const struct dhis_config *c, const char *te, cmn_str_t *out);
/* POST /api/potentialDuplicates */
int dhis_url_duplicates(const struct dhis_config *c, cmn_str_t *out);
/* POST /api/potentialDuplicates/{id}/merge?mergeStrategy=AUTO */
int dhis_url_merge(const struct dhis_config *c, const char *id, cmn_str_t *out);

/* ---- bodies (caller frees; NULL on ENOMEM or a bad argument) --------------- */

typedef struct {
    const char *ciu;        /* upper case, 10 characters */
    const char *te;         /* the tracked entity: ours (create) or the one found */
    const char *enrollment; /* generated enrollment UID */
    const char *org_unit;
    const char *enrolled_at; /* YYYY-MM-DD */
    bool create;             /* true: new tracked entity with its enrollment; false: enroll te */
} dhis_item_t;

/* JSON body of POST /api/tracker creating or enrolling these items. */
char *dhis_body_import(const struct dhis_config *c, const dhis_item_t *items, size_t n);
/* {"original":..,"duplicate":..,"status":"OPEN"} */
char *dhis_body_duplicate(const char *original, const char *duplicate);
/* The tracked entity of `entity_json` (GET dhis_url_entity) flagged as a
 * potential duplicate, for POST dhis_url_import(update_only): it keeps the
 * entity's org unit, type, inactive and geometry. NULL when entity_json is
 * not a tracked entity. */
char *dhis_body_flag(const char *entity_json);

/* ---- answers ---------------------------------------------------------------- */

/* `version` of /api/system/info. 0 or -EPROTO. */
int dhis_parse_info(const char *body, char *out, size_t outlen);

/* One tracked entity found by the CIU search. */
typedef struct {
    char ciu[16]; /* its CIU attribute value, upper-cased */
    char te[DHIS_UID_LEN];
    char org_unit[DHIS_UID_LEN];
    bool enrolled; /* has a (not deleted) enrollment in the program */
} dhis_found_t;

/* Tracked entities of a search answer, whichever envelope (`instances` or
 * `trackedEntities`). *ret (caller frees) may be NULL when *ret_n is 0.
 * 0, -EPROTO, -ENOMEM. */
int dhis_parse_search(const struct dhis_config *c, const char *body, dhis_found_t **ret,
                      size_t *ret_n);

typedef struct {
    char code[DHIS_CODE_LEN]; /* "E1064"; "" when absent */
    char type[24];            /* TRACKED_ENTITY, ENROLLMENT, ... */
    char uid[DHIS_UID_LEN];   /* the object's UID; "" when absent */
    char message[DHIS_MSG_LEN];
} dhis_error_t;

/* A synchronous import report (200 or 409). */
typedef struct {
    char status[16]; /* OK, WARNING, ERROR */
    dhis_error_t *errors;
    size_t nerrors;
    char (*done)[DHIS_UID_LEN]; /* UIDs in bundleReport objectReports (created or updated) */
    size_t ndone;
    long ignored; /* stats.ignored, -1 when absent */
    bool bundle;  /* a bundleReport was present */
} dhis_report_t;

/* 0, -EPROTO (not an import report), -ENOMEM. dhis_report_free always. */
int dhis_parse_report(const char *body, dhis_report_t *ret);
void dhis_report_free(dhis_report_t *r);
/* The errors about `uid` in r: first index >= from, or -1. */
int dhis_report_error_for(const dhis_report_t *r, const char *uid, size_t from);
bool dhis_report_done(const dhis_report_t *r, const char *uid);

/* `id` of a stored potential duplicate (POST answer). 0 or -EPROTO. */
int dhis_parse_duplicate_id(const char *body, char out[DHIS_UID_LEN]);

/* One line saying what an error answer says, for logs and last_error:
 * "HTTP 409: <message> (E1234)", or the first bytes of a non-JSON body,
 * or the transport error when status is 0. Always NUL-terminated. */
void dhis_error_text(long status, const char *transport_error, const char *body, char *out,
                     size_t outlen);

/* ---- outcomes, backoff, link ---------------------------------------------- */

typedef enum {
    DHIS_CALL_OK,    /* 2xx */
    DHIS_CALL_RETRY, /* no answer, timeout, 408, 429, 5xx (502/503/504 from a proxy) */
    DHIS_CALL_AUTH,  /* 401, 403: credentials refused */
    DHIS_CALL_FAIL,  /* other 4xx: the request itself is wrong */
} dhis_call_t;

dhis_call_t dhis_call_class(long status);

/* Milliseconds to wait before attempt `attempts` + 1: exponential from 1 s,
 * capped at cap_ms, with jitter (half fixed, half random from rnd). */
int64_t dhis_backoff_ms(int attempts, int64_t cap_ms, uint32_t rnd);

typedef enum {
    DHIS_LINK_CONNECT, /* first contact: read /api/system/info */
    DHIS_LINK_UP,      /* calls flow */
    DHIS_LINK_OPEN,    /* circuit open: one probe per interval */
    DHIS_LINK_AUTH,    /* credentials refused: paused, one probe per interval */
} dhis_link_state_t;

/* The connection to DHIS2 as a state machine; "now" is a parameter. */
typedef struct {
    dhis_link_state_t state;
    int failures;        /* consecutive calls without an answer (or 5xx) */
    int threshold;       /* failures that open the circuit */
    int64_t interval_ms; /* between probes */
    int64_t probe_at_ms; /* next probe when not UP */
    bool probing;        /* a probe is in flight */
} dhis_link_t;

void dhis_link_init(dhis_link_t *l, int threshold, int64_t interval_ms, int64_t now);
static inline bool dhis_link_up(const dhis_link_t *l)
{
    return l->state == DHIS_LINK_UP;
}
bool dhis_link_probe_due(const dhis_link_t *l, int64_t now);
void dhis_link_probe_start(dhis_link_t *l);
/* Record the outcome of a call (probe: the /api/system/info probe).
 * Returns true when the state changed. */
bool dhis_link_report(dhis_link_t *l, dhis_call_t outcome, bool probe, int64_t now);
const char *dhis_link_name(dhis_link_state_t s); /* "connecting", "up", "open", "paused" */

/* YYYY-MM-DD (UTC) of a time in ms since the epoch. */
void dhis_date(int64_t ms, char out[11]);

#endif
