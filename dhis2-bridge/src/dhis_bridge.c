/* dhis_bridge: DHIS2 Tracker enrolment queue (see dhis_bridge.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cmn_http.h"
#include "common/cmn_log.h"
#include "common/cmn_stage.h"
#include "dhis_api.h"
#include "dhis_bridge.h"
#include "dhis_config.h"
#include "dhis_store.h"

#define S_MODULE "dhis2"
#define S_ACCEPT_LIMIT 1000
#define S_BODY_MAX ((size_t)8 << 20) /* bytes of one DHIS2 answer kept */
#define S_PAIR_WAIT_MS 5000          /* a duplicate waits for its CIUs to be synced */
#define S_BACKLOG_EVERY_MS 1000
#define S_HEARTBEAT_MS 30000
#define S_STORE_RETRY_MS 500 /* after a failed claim or record transaction */
#define S_PAUSE_RELOG_MS (10 * 60 * 1000)
#define S_ERR_LEN 300
#define S_DUP_CLAIM 8

typedef enum {
    S_OUT_NONE,     /* still in flight */
    S_OUT_SYNCED,   /* in DHIS2, enrolled */
    S_OUT_RETRY,    /* no answer, 5xx...: again after a backoff */
    S_OUT_RESEARCH, /* E1064: the CIU is someone's in DHIS2: search again now */
    S_OUT_FAILED,   /* refused by DHIS2: an operator must look */
    S_OUT_RELEASE,  /* not tried (paused, stopping): give the row back as it was */
} s_out_t;

/* One claimed dhis2_sync row. */
typedef struct {
    int64_t id;
    char ciu[16];
    char trace[CMN_ID_LEN];
    char te[DHIS_UID_LEN]; /* ours, generated before the first call */
    char enr[DHIS_UID_LEN];
    char ou[DHIS_UID_LEN]; /* org unit of a new person / new enrollment */
    char enrolled_at[11];
    int attempts;
    int conflicts;
    /* what the search found */
    bool found;
    bool enrolled;
    char found_te[DHIS_UID_LEN];
    char found_ou[DHIS_UID_LEN];
    bool in_import;
    /* outcome */
    s_out_t out;
    bool recorded;
    long status;
    long retry_after_s;
    char codes[64];
    char error[S_ERR_LEN];
} s_row_t;

/* One claimed dhis2_duplicates row. */
typedef struct {
    int64_t id;
    char ciu[16];
    bool pair;                   /* potentialDuplicates pair, or a flag on one */
    char original[DHIS_UID_LEN]; /* the pair's original, or the flagged one */
    char duplicate[DHIS_UID_LEN];
    int attempts;
    /* outcome: "flagged", "merged", "failed", "retry", "release" ("" in flight) */
    char out[16];
    bool recorded;
    char dhis2_id[DHIS_UID_LEN];
    long status;
    long retry_after_s;
    char error[S_ERR_LEN];
} s_dup_t;

typedef enum { S_JOB_FREE, S_JOB_BUSY, S_JOB_DONE } s_job_state_t;

typedef struct {
    struct dhis_bridge *b;
    s_job_state_t state;
    bool is_dup;
    char token[CMN_ID_LEN + 24]; /* lease_owner of this claim: process id + claim number */
    s_row_t *rows;               /* capacity: batch size */
    size_t nrows;
    s_dup_t dup;
} s_job_t;

struct dhis_bridge {
    cmn_daemon_t *d;
    cmn_stage_t st;     /* PULL, PUB (the bridge shares work by leases, not by shard) */
    dhis_config_t *cfg; /* NULL: DHIS2 not configured */
    cmn_http_t *http;
    char owner[CMN_ID_LEN];
    uint64_t claims;
    char replica[256];
    uint64_t rnd;
    dhis_link_t link;
    dhis_dialect_t dialect;
    bool stopping;
    bool work_due;
    bool dups_due;
    bool link_changed;
    dhis_link_state_t link_was;
    char link_detail[S_ERR_LEN];
    char paused_logged[S_ERR_LEN];
    int64_t paused_logged_ms;
    int64_t store_retry_at;
    int64_t backlog_at;
    int64_t heartbeat_at;
    s_job_t *jobs;
    size_t njobs;
    size_t dup_max;
    cmn_counter_t *m_pending;
    cmn_counter_t *m_synced;
    cmn_counter_t *m_linked;
    cmn_counter_t *m_failed;
    cmn_counter_t *m_retries;
    cmn_counter_t *m_flagged;
    cmn_counter_t *m_calls;
    cmn_gauge_t *g_backlog;
    cmn_gauge_t *g_circuit;
    cmn_gauge_t *g_inflight;
    cmn_gauge_t *g_configured; /* 1 when DHIS2_BASE_URL is set (alerts ignore the rest) */
    cmn_histogram_t *h_search;
    cmn_histogram_t *h_import;
    cmn_histogram_t *h_info;
    cmn_histogram_t *h_dup;
};

static uint32_t s_rand(dhis_bridge_t *b)
{
    /* xorshift64*: jitter only, seeded from the CSPRNG */
    b->rnd ^= b->rnd >> 12;
    b->rnd ^= b->rnd << 25;
    b->rnd ^= b->rnd >> 27;
    return (uint32_t)((b->rnd * 0x2545F4914F6CDD1DULL) >> 32);
}

static void s_publish(dhis_bridge_t *b, const char *type, const char *trace, const char *ciu,
                      int64_t row, const char *detail, bool existing)
{
    cmn_msg_t ev;
    cmn_msg_init(&ev, type, trace);
    cmn_strlcpy(ev.ciu, ciu, sizeof(ev.ciu));
    cmn_strlcpy(ev.detail, detail ? detail : "", sizeof(ev.detail));
    ev.row = row;
    ev.existing = existing;
    cmn_announce_pub(b->st.ann, b->st.pub, &ev); /* stored with the transaction, sent after */
}

/* ---- accepting queued rows ------------------------------------------------ */

typedef struct {
    dhis_bridge_t *b;
    cmn_rows_t *rows;
} s_accept_t;

static int s_tx_accept(void *arg, cmn_store_t *st)
{
    s_accept_t *a = arg;
    int64_t now = cmn_now_ms();
    cmn_rows_destroy(&a->rows);
    int r = dhis_store_accept(st, now, S_ACCEPT_LIMIT, &a->rows);
    for (int i = 0; r >= 0 && i < cmn_rows_count(a->rows); i++) {
        dhis_accepted_t row;
        dhis_store_accepted_get(a->rows, i, &row);
        s_publish(a->b, CMN_EV_DHIS2_PENDING, row.trace, row.ciu, row.id, NULL, false);
    }
    return r;
}

/* queued -> pending, with a dhis2.pending event each. */
static int s_accept(dhis_bridge_t *b, bool at_start)
{
    s_accept_t a = {b, NULL};
    int r = cmn_stage_tx(b->d, b->st.ann, s_tx_accept, &a);
    if (r < 0) {
        cmn_rows_destroy(&a.rows);
        return r;
    }
    int n = cmn_rows_count(a.rows);
    for (int i = 0; i < n; i++) {
        dhis_accepted_t row;
        dhis_store_accepted_get(a.rows, i, &row);
        log_debug(S_MODULE, row.trace, "enrolment %lld pending", (long long)row.id);
    }
    cmn_counter_add(b->m_pending, (uint64_t)n);
    if (n > 0) {
        b->work_due = true;
        if (at_start)
            log_info(S_MODULE, NULL, "start: %d queued enrolments accepted", n);
    }
    cmn_rows_destroy(&a.rows);
    return n == S_ACCEPT_LIMIT ? s_accept(b, false) : 0;
}

/* ---- link state ------------------------------------------------------------ */

typedef struct {
    dhis_bridge_t *b;
    const char *state;
    bool reopen; /* DHIS2 back: pending rows are due now */
} s_state_t;

static int s_tx_state(void *arg, cmn_store_t *st)
{
    s_state_t *s = arg;
    dhis_bridge_t *b = s->b;
    int64_t now = cmn_now_ms();
    const char *version = b->dialect.version[0] ? b->dialect.version : NULL;
    int r = dhis_store_state_save(st, b->replica, s->state, version,
                                  b->link_detail[0] ? b->link_detail : NULL, now);
    if (r == 0 && s->reopen)
        r = dhis_store_reopen(st, now);
    return r;
}

static const char *s_state_name(const dhis_bridge_t *b)
{
    return b->cfg ? dhis_link_name(b->link.state) : "not_configured";
}

static void s_write_state(dhis_bridge_t *b, bool reopen)
{
    s_state_t s = {b, s_state_name(b), reopen};
    int r = cmn_daemon_tx(b->d, s_tx_state, &s);
    if (r < 0)
        log_warn(S_MODULE, NULL, "cannot record the DHIS2 state: %s", cmn_strerror(r));
    b->heartbeat_at = cmn_mono_ms() + S_HEARTBEAT_MS;
}

/* Log a change of the link once, and store it. */
static void s_link_changed(dhis_bridge_t *b)
{
    dhis_link_state_t now_state = b->link.state, was = b->link_was;
    int64_t now = cmn_mono_ms();
    b->link_changed = false;
    if (now_state == was)
        return;
    b->link_was = now_state;
    switch (now_state) {
    case DHIS_LINK_UP:
        if (b->dialect.assumed)
            log_warn(S_MODULE, NULL,
                     "DHIS2 at %s says version '%s', which ciu does not know: using the API "
                     "of 2.%d (assumed)",
                     b->cfg->base_url, b->dialect.version, b->dialect.minor);
        log_info(S_MODULE, NULL, "DHIS2 %s at %s: %s (API of 2.%d)", b->dialect.version,
                 b->cfg->base_url,
                 was == DHIS_LINK_OPEN   ? "reachable again, circuit closed"
                 : was == DHIS_LINK_AUTH ? "credentials accepted, resuming"
                                         : "connected",
                 b->dialect.minor);
        b->link_detail[0] = '\0';
        b->work_due = b->dups_due = true;
        break;
    case DHIS_LINK_OPEN:
        log_warn(S_MODULE, NULL,
                 "DHIS2 unreachable at %s (%s): circuit open, one probe every %ld s; "
                 "registrations wait in the store, nothing is lost",
                 b->cfg->base_url, b->link_detail, b->cfg->breaker_s);
        break;
    case DHIS_LINK_AUTH:
        /* one line per pause, not one per probe: the same refusal again
         * within 10 minutes (403 for an authority, say) is not repeated */
        if (strcmp(b->paused_logged, b->link_detail) != 0 ||
            now - b->paused_logged_ms > S_PAUSE_RELOG_MS) {
            log_error(S_MODULE, NULL,
                      "DHIS2 refuses the credentials (%s): paused, probing every %ld s; fix "
                      "DHIS2_API_TOKEN (or DHIS2_API_USERNAME/DHIS2_API_PASSWORD) or the user's "
                      "authorities: `ciu-admin dhis2 check` says what is wrong",
                      b->link_detail, b->cfg->breaker_s);
            cmn_strlcpy(b->paused_logged, b->link_detail, sizeof(b->paused_logged));
            b->paused_logged_ms = now;
        }
        break;
    case DHIS_LINK_CONNECT:
        break;
    }
    cmn_gauge_set(b->g_circuit, now_state == DHIS_LINK_UP     ? 0
                                : now_state == DHIS_LINK_AUTH ? 2
                                : now_state == DHIS_LINK_OPEN ? 1
                                                              : 0);
    s_write_state(b, now_state == DHIS_LINK_UP && was != DHIS_LINK_CONNECT);
}

/* Account one finished call and feed the circuit breaker. */
static dhis_call_t s_observe(dhis_bridge_t *b, cmn_histogram_t *h, const cmn_http_result_t *res,
                             bool probe, bool per_object_403)
{
    dhis_call_t cls = dhis_call_class(res->status);
    cmn_histogram_observe(h, res->seconds);
    cmn_counter_add(b->m_calls, 1);
    if (per_object_403 && res->status == 403)
        cls = DHIS_CALL_FAIL;
    if (b->stopping || res->curl_code == -1)
        return cls;
    if (dhis_link_report(&b->link, cls, probe, cmn_mono_ms())) {
        dhis_error_text(res->status, res->error, res->body, b->link_detail, sizeof(b->link_detail));
        b->link_changed = true;
    }
    return cls;
}

/* ---- calls ------------------------------------------------------------------- */

static int s_start(dhis_bridge_t *b, const char *method, const char *url, const char *body,
                   cmn_http_done_fn done, void *arg)
{
    const char *headers[3] = {"Accept: application/json", b->cfg->auth_header, NULL};
    cmn_http_req_t req;
    memset(&req, 0, sizeof(req));
    req.method = method;
    req.url = url;
    req.headers = headers;
    req.userpwd = b->cfg->userpwd;
    req.timeout_ms = b->cfg->timeout_s * 1000;
    req.done = done;
    req.arg = arg;
    if (body) {
        req.content_type = "application/json";
        req.body = body;
        req.body_len = strlen(body);
    }
    int r = cmn_http_start(b->http, &req);
    cmn_gauge_set(b->g_inflight, (int64_t)cmn_http_inflight(b->http));
    return r;
}

static void s_on_probe(void *arg, const cmn_http_result_t *res)
{
    dhis_bridge_t *b = arg;
    char version[32];
    cmn_http_result_t r2 = *res;
    if (b->stopping || res->curl_code == -1) {
        b->link.probing = false;
        return;
    }
    if (res->status == 200 && dhis_parse_info(res->body, version, sizeof(version)) == 0) {
        dhis_dialect_for(version, &b->dialect);
    } else if (res->status == 200) {
        r2.status = 502; /* 200 but not DHIS2's answer (a proxy's page?) */
        r2.body = "{\"message\":\"/api/system/info did not answer a DHIS2 version\"}";
    }
    s_observe(b, b->h_info, &r2, true, false);
    if (b->link.state != DHIS_LINK_UP && !b->link_changed) /* still down: say why in debug */
        log_debug(S_MODULE, NULL, "probe of %s: HTTP %ld %s", b->cfg->base_url, res->status,
                  res->error);
}

static void s_probe(dhis_bridge_t *b)
{
    cmn_str_t url = CMN_STR_INIT(4096);
    if (dhis_url_info(b->cfg, &url) == 0 &&
        s_start(b, "GET", cmn_str_cstr(&url), NULL, s_on_probe, b) == 0)
        dhis_link_probe_start(&b->link);
    else
        b->link.probe_at_ms = cmn_mono_ms() + 1000;
    cmn_str_free(&url);
}

/* ---- sync jobs ------------------------------------------------------------------ */

/* The person existed in DHIS2 before (found, and not the one we created
 * in an earlier attempt whose answer was lost). */
static bool s_linked(const s_row_t *r)
{
    return r->found && strcmp(r->found_te, r->te) != 0;
}

static void s_row_set(s_row_t *r, s_out_t out, long status, const char *codes, const char *err)
{
    r->out = out;
    r->status = status;
    cmn_strlcpy(r->codes, codes ? codes : "", sizeof(r->codes));
    cmn_strlcpy(r->error, err ? err : "", sizeof(r->error));
}

/* Every row of the job still open gets this outcome. */
static void s_rows_all(s_job_t *j, s_out_t out, const cmn_http_result_t *res)
{
    char err[S_ERR_LEN];
    dhis_error_text(res ? res->status : 0, res ? res->error : "not sent", res ? res->body : "", err,
                    sizeof(err));
    for (size_t i = 0; i < j->nrows; i++) {
        s_row_t *r = &j->rows[i];
        if (r->out != S_OUT_NONE)
            continue;
        s_row_set(r, out, res ? res->status : 0, NULL, err);
        r->retry_after_s = res ? res->retry_after_s : -1;
    }
    j->state = S_JOB_DONE;
}

static s_out_t s_out_for(dhis_call_t cls)
{
    switch (cls) {
    case DHIS_CALL_RETRY:
        return S_OUT_RETRY;
    case DHIS_CALL_AUTH:
        return S_OUT_RELEASE;
    case DHIS_CALL_FAIL:
        return S_OUT_FAILED;
    case DHIS_CALL_OK:
        break;
    }
    return S_OUT_RETRY;
}

static bool s_has_code(const char *codes, const char *code)
{
    const char *p = strstr(codes, code);
    return p && (p == codes || p[-1] == ',');
}

/* Outcome of one row from the import report. */
static void s_apply_row(s_row_t *r, const dhis_report_t *rep, long status)
{
    char codes[64] = "", msg[S_ERR_LEN] = "";
    size_t nerr = 0;
    const char *uids[2] = {r->found ? NULL : r->te, r->enr};
    for (int k = 0; k < 2; k++) {
        if (uids[k] == NULL)
            continue;
        for (int i = dhis_report_error_for(rep, uids[k], 0); i >= 0;
             i = dhis_report_error_for(rep, uids[k], (size_t)i + 1)) {
            const dhis_error_t *e = &rep->errors[i];
            if (nerr++ == 0)
                snprintf(msg, sizeof(msg), "%s: %s", e->code, e->message);
            size_t cl = strlen(codes);
            if (e->code[0] && !s_has_code(codes, e->code) &&
                cl + strlen(e->code) + 2 < sizeof(codes))
                snprintf(codes + cl, sizeof(codes) - cl, "%s%s", cl ? "," : "", e->code);
        }
    }
    if (nerr == 0) {
        bool done = r->found ? dhis_report_done(rep, r->enr) : dhis_report_done(rep, r->te);
        if (done || (status == 200 && (!rep->bundle || rep->ignored == 0)))
            s_row_set(r, S_OUT_SYNCED, status, NULL, NULL);
        else
            s_row_set(r, S_OUT_RETRY, status, NULL, "the import report does not confirm it");
        return;
    }
    if (!r->found && s_has_code(codes, "E1064")) {
        /* the CIU is already someone's: find them and link (once) */
        s_row_set(r, r->conflicts > 0 ? S_OUT_FAILED : S_OUT_RESEARCH, status, codes,
                  r->conflicts > 0 ? "E1064: the CIU is held by a tracked entity the API user "
                                     "cannot find (outside its search org units?)"
                                   : msg);
        return;
    }
    bool enrolled_only = true, transient = true;
    char tmp[64];
    cmn_strlcpy(tmp, codes, sizeof(tmp));
    for (char *save = NULL, *c = strtok_r(tmp, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
        if (strcmp(c, "E1015") != 0 && strcmp(c, "E1016") != 0)
            enrolled_only = false;
        if (strcmp(c, "E5000") != 0 && strcmp(c, "E1002") != 0 && strcmp(c, "E1080") != 0)
            transient = false;
    }
    if (r->found && enrolled_only)
        s_row_set(r, S_OUT_SYNCED, status, NULL, NULL); /* already enrolled (seen by DHIS2) */
    else if (transient)
        s_row_set(r, S_OUT_RETRY, status, codes, msg); /* exists / not persisted: check again */
    else
        s_row_set(r, S_OUT_FAILED, status, codes, msg);
}

static void s_on_import(void *arg, const cmn_http_result_t *res)
{
    s_job_t *j = arg;
    dhis_bridge_t *b = j->b;
    dhis_call_t cls = s_observe(b, b->h_import, res, false, false);
    dhis_report_t rep = {0};

    if (b->stopping || res->curl_code == -1) {
        s_rows_all(j, S_OUT_RELEASE, res);
        return;
    }
    if ((res->status == 200 || res->status == 409) && dhis_parse_report(res->body, &rep) == 0) {
        for (size_t i = 0; i < j->nrows; i++)
            if (j->rows[i].in_import && j->rows[i].out == S_OUT_NONE)
                s_apply_row(&j->rows[i], &rep, res->status);
        dhis_report_free(&rep);
        j->state = S_JOB_DONE;
        return;
    }
    dhis_report_free(&rep);
    /* 409 without an import report (a race in DHIS2's database): search again later */
    s_rows_all(j, res->status == 200 || res->status == 409 ? S_OUT_RETRY : s_out_for(cls), res);
}

static void s_start_import(s_job_t *j)
{
    dhis_bridge_t *b = j->b;
    dhis_item_t *items = calloc(j->nrows, sizeof(*items));
    cmn_str_t url = CMN_STR_INIT(4096);
    char *body = NULL;
    size_t n = 0;
    int r = items ? 0 : -ENOMEM;

    for (size_t i = 0; i < j->nrows && r == 0; i++) {
        s_row_t *row = &j->rows[i];
        if (!row->in_import)
            continue;
        items[n++] = (dhis_item_t){row->ciu,         row->found ? row->found_te : row->te,
                                   row->enr,         row->ou,
                                   row->enrolled_at, !row->found};
    }
    if (r == 0) {
        body = dhis_body_import(b->cfg, items, n);
        r = body ? dhis_url_import(b->cfg, false, &url) : -ENOMEM;
    }
    if (r == 0)
        r = s_start(b, "POST", cmn_str_cstr(&url), body, s_on_import, j);
    if (r < 0) {
        cmn_http_result_t res = {0, 0, cmn_strerror(r), "", 0, false, -1, 0, false};
        s_rows_all(j, S_OUT_RETRY, &res);
    }
    free(body);
    free(items);
    cmn_str_free(&url);
}

static void s_on_search(void *arg, const cmn_http_result_t *res)
{
    s_job_t *j = arg;
    dhis_bridge_t *b = j->b;
    dhis_call_t cls = s_observe(b, b->h_search, res, false, false);
    dhis_found_t *found = NULL;
    size_t nfound = 0, nimport = 0;

    if (b->stopping || res->curl_code == -1) {
        s_rows_all(j, S_OUT_RELEASE, res);
        return;
    }
    if (cls != DHIS_CALL_OK) {
        s_rows_all(j, s_out_for(cls), res);
        return;
    }
    if (dhis_parse_search(b->cfg, res->body, &found, &nfound) < 0) {
        cmn_http_result_t bad = *res;
        bad.body = "{\"message\":\"the search answer is not a list of tracked entities\"}";
        s_rows_all(j, S_OUT_RETRY, &bad);
        return;
    }
    for (size_t i = 0; i < j->nrows; i++) {
        s_row_t *r = &j->rows[i];
        const dhis_found_t *f = NULL;
        for (size_t k = 0; k < nfound && f == NULL; k++)
            if (strcmp(found[k].ciu, r->ciu) == 0)
                f = &found[k];
        if (f) {
            r->found = true;
            r->enrolled = f->enrolled;
            cmn_strlcpy(r->found_te, f->te, sizeof(r->found_te));
            cmn_strlcpy(r->found_ou, f->org_unit[0] ? f->org_unit : r->ou, sizeof(r->found_ou));
            if (f->enrolled) {
                s_row_set(r, S_OUT_SYNCED, res->status, NULL, NULL);
                continue;
            }
        } else if (r->conflicts > 0) {
            s_row_set(r, S_OUT_FAILED, res->status, "E1064",
                      "E1064: the CIU is held by a tracked entity the API user cannot find "
                      "(outside its search org units?)");
            continue;
        }
        r->in_import = true;
        nimport++;
    }
    free(found);
    if (nimport == 0) {
        j->state = S_JOB_DONE;
        return;
    }
    s_start_import(j);
}

static void s_start_search(s_job_t *j)
{
    dhis_bridge_t *b = j->b;
    const char **cius = calloc(j->nrows, sizeof(*cius));
    cmn_str_t url = CMN_STR_INIT(65536);
    int r = cius ? 0 : -ENOMEM;
    for (size_t i = 0; i < j->nrows && r == 0; i++)
        cius[i] = j->rows[i].ciu;
    if (r == 0)
        r = dhis_url_search(b->cfg, &b->dialect, cius, j->nrows, &url);
    if (r == 0)
        r = s_start(b, "GET", cmn_str_cstr(&url), NULL, s_on_search, j);
    if (r < 0) {
        cmn_http_result_t res = {0, 0, cmn_strerror(r), "", 0, false, -1, 0, false};
        s_rows_all(j, S_OUT_RETRY, &res);
    }
    free(cius);
    cmn_str_free(&url);
}

/* ---- claiming ------------------------------------------------------------------ */

typedef struct {
    dhis_bridge_t *b;
    s_job_t *job;
    size_t want;
} s_claim_t;

static int s_tx_claim(void *arg, cmn_store_t *st)
{
    s_claim_t *c = arg;
    dhis_bridge_t *b = c->b;
    s_job_t *j = c->job;
    int64_t now = cmn_now_ms(), lease = now + b->cfg->lease_s * 1000;
    cmn_rows_t *rows = NULL;
    snprintf(j->token, sizeof(j->token), "%s.%llu", b->owner, (unsigned long long)++b->claims);
    int r = dhis_store_sync_claim(st, j->token, now, lease, c->want, &rows);
    j->nrows = 0;
    for (int i = 0; r == 0 && i < cmn_rows_count(rows); i++) {
        s_row_t *row = &j->rows[j->nrows];
        dhis_claimed_t cl;
        dhis_store_claimed_get(rows, i, now, &cl);
        memset(row, 0, sizeof(*row));
        row->id = cl.id;
        cmn_strlcpy(row->ciu, cl.ciu ? cl.ciu : "", sizeof(row->ciu));
        for (char *q = row->ciu; *q; q++)
            *q = (char)(*q >= 'a' && *q <= 'z' ? *q - 'a' + 'A' : *q);
        cmn_strlcpy(row->trace, cl.trace ? cl.trace : "", sizeof(row->trace));
        row->attempts = cl.attempts;
        row->conflicts = cl.conflicts;
        dhis_date(cl.created_ms, row->enrolled_at);
        cmn_strlcpy(row->ou, dhis_config_org_unit(b->cfg, row->ciu), sizeof(row->ou));
        row->retry_after_s = -1;
        if (dhis_uid_valid(cl.te) && dhis_uid_valid(cl.enr)) {
            cmn_strlcpy(row->te, cl.te, sizeof(row->te));
            cmn_strlcpy(row->enr, cl.enr, sizeof(row->enr));
        } else {
            /* The UIDs exist in the store before DHIS2 ever sees them, so a
             * retry after a lost answer imports the same person again
             * (CREATE_AND_UPDATE: an update), never a second one. */
            if ((r = dhis_uid_new(row->te)) < 0 || (r = dhis_uid_new(row->enr)) < 0)
                break;
            r = dhis_store_sync_uids(st, row->id, row->te, row->enr);
        }
        if (strlen(row->ciu) != 10) {
            s_row_set(row, S_OUT_FAILED, 0, NULL, "not a 10-character CIU");
        }
        j->nrows++;
    }
    cmn_rows_destroy(&rows);
    return r;
}

static s_job_t *s_free_job(dhis_bridge_t *b, bool dup)
{
    size_t dups = 0;
    s_job_t *free_job = NULL;
    for (size_t i = 0; i < b->njobs; i++) {
        if (b->jobs[i].state == S_JOB_FREE && free_job == NULL)
            free_job = &b->jobs[i];
        else if (b->jobs[i].state != S_JOB_FREE && b->jobs[i].is_dup)
            dups++;
    }
    if (dup && dups >= b->dup_max)
        return NULL;
    return free_job;
}

/* Claim due rows into free slots and start their searches. */
static int s_dispatch_sync(dhis_bridge_t *b)
{
    while (b->work_due && !b->stopping && dhis_link_up(&b->link)) {
        s_job_t *j = s_free_job(b, false);
        if (j == NULL)
            return 0;
        s_claim_t c = {b, j, (size_t)b->cfg->batch_size};
        j->is_dup = false;
        int r = cmn_daemon_tx(b->d, s_tx_claim, &c);
        if (r < 0) {
            j->nrows = 0;
            b->store_retry_at = cmn_mono_ms() + S_STORE_RETRY_MS;
            return r;
        }
        if (j->nrows < c.want)
            b->work_due = false; /* all that is due now: wait for a wake-up or the scan */
        if (j->nrows == 0)
            return 0;
        j->state = S_JOB_BUSY;
        size_t open = 0;
        for (size_t i = 0; i < j->nrows; i++)
            open += j->rows[i].out == S_OUT_NONE;
        if (open == 0)
            j->state = S_JOB_DONE;
        else
            s_start_search(j);
    }
    return 0;
}

/* ---- duplicates -------------------------------------------------------------------- */

static int s_tx_dup_import(void *arg, cmn_store_t *st)
{
    (void)arg;
    return dhis_store_dup_import(st, cmn_now_ms());
}

static void s_dup_set(s_dup_t *u, const char *out, long status, const char *err)
{
    cmn_strlcpy(u->out, out, sizeof(u->out));
    u->status = status;
    cmn_strlcpy(u->error, err ? err : "", sizeof(u->error));
}

typedef struct {
    dhis_bridge_t *b;
    s_job_t **jobs;
    size_t njobs; /* jobs filled */
    size_t cap;
} s_dup_claim_t;

static int s_tx_dup_claim(void *arg, cmn_store_t *st)
{
    s_dup_claim_t *c = arg;
    dhis_bridge_t *b = c->b;
    int64_t now = cmn_now_ms(), lease = now + b->cfg->lease_s * 1000;
    cmn_rows_t *rows = NULL;
    char token[CMN_ID_LEN + 24];
    snprintf(token, sizeof(token), "%s.%llu", b->owner, (unsigned long long)++b->claims);
    int r = dhis_store_dup_claim(st, token, now, lease, c->cap, &rows);
    c->njobs = 0;
    for (int i = 0; r == 0 && i < cmn_rows_count(rows); i++) {
        dhis_dup_claimed_t cl;
        dhis_store_dup_claimed_get(rows, i, &cl);
        int64_t id = cl.id;
        const char *kind = cl.kind, *ciu = cl.ciu, *other = cl.other_ciu;
        bool pair = kind && strcmp(kind, "number_other_ciu") == 0 && other && *other;
        char a[DHIS_UID_LEN] = "", t[DHIS_UID_LEN] = "";
        int ra = 1, rb;
        if (pair && (ra = dhis_store_synced_te(st, other, a)) < 0 && ra != -ENOENT) {
            r = ra;
            break;
        }
        rb = dhis_store_synced_te(st, ciu ? ciu : "", t);
        if (rb < 0 && rb != -ENOENT) {
            r = rb;
            break;
        }
        if (ra == -ENOENT || rb == -ENOENT) {
            /* one of the two is not, and will not be, in DHIS2 */
            r = dhis_store_dup_defer(st, id, "skipped",
                                     "a CIU of this duplicate is not in DHIS2 (its "
                                     "registration failed)",
                                     now, cmn_now_ms());
            continue;
        }
        if (ra == 0 || rb == 0) { /* wait for the registrations */
            r = dhis_store_dup_defer(st, id, "pending", NULL, now + S_PAIR_WAIT_MS, cmn_now_ms());
            continue;
        }
        if (pair && strcmp(a, t) == 0) {
            r = dhis_store_dup_defer(st, id, "skipped", "both CIUs are the same tracked entity",
                                     now, cmn_now_ms());
            continue;
        }
        s_job_t *j = c->jobs[c->njobs++];
        s_dup_t *u = &j->dup;
        cmn_strlcpy(j->token, token, sizeof(j->token));
        memset(u, 0, sizeof(*u));
        u->id = id;
        u->pair = pair;
        u->attempts = cl.attempts;
        u->retry_after_s = -1;
        cmn_strlcpy(u->ciu, ciu ? ciu : "", sizeof(u->ciu));
        cmn_strlcpy(u->original, pair ? a : t, sizeof(u->original));
        cmn_strlcpy(u->duplicate, pair ? t : "", sizeof(u->duplicate));
    }
    cmn_rows_destroy(&rows);
    return r;
}

static void s_dup_done_res(s_job_t *j, const char *out, const cmn_http_result_t *res)
{
    char err[S_ERR_LEN];
    dhis_error_text(res->status, res->error, res->body, err, sizeof(err));
    s_dup_set(&j->dup, out, res->status, err);
    j->dup.retry_after_s = res->retry_after_s;
    j->state = S_JOB_DONE;
}

/* Outcome of a call that failed, by class. */
static void s_dup_failed_call(s_job_t *j, dhis_call_t cls, const cmn_http_result_t *res)
{
    s_dup_done_res(j,
                   cls == DHIS_CALL_RETRY  ? "retry"
                   : cls == DHIS_CALL_AUTH ? "release"
                                           : "failed",
                   res);
}

static void s_on_dup_merge(void *arg, const cmn_http_result_t *res)
{
    s_job_t *j = arg;
    dhis_bridge_t *b = j->b;
    s_observe(b, b->h_dup, res, false, true);
    if (res->status == 200) {
        s_dup_set(&j->dup, "merged", res->status, NULL);
        j->state = S_JOB_DONE;
        return;
    }
    /* flagged all the same; say why DHIS2 would not merge it */
    s_dup_done_res(j, "flagged", res);
}

static void s_on_dup_post(void *arg, const cmn_http_result_t *res)
{
    s_job_t *j = arg;
    dhis_bridge_t *b = j->b;
    dhis_call_t cls = s_observe(b, b->h_dup, res, false, true);
    cmn_str_t url = CMN_STR_INIT(4096);

    if (b->stopping || res->curl_code == -1) {
        s_dup_done_res(j, "release", res);
        return;
    }
    if (res->status == 409 && strstr(res->body, "already marked")) {
        s_dup_set(&j->dup, "flagged", res->status, NULL); /* sent before, answer lost */
        j->state = S_JOB_DONE;
        return;
    }
    if (cls != DHIS_CALL_OK) {
        s_dup_failed_call(j, cls, res);
        return;
    }
    dhis_parse_duplicate_id(res->body, j->dup.dhis2_id);
    s_dup_set(&j->dup, "flagged", res->status, NULL);
    if (b->cfg->auto_merge && j->dup.dhis2_id[0] &&
        dhis_url_merge(b->cfg, j->dup.dhis2_id, &url) == 0 &&
        s_start(b, "POST", cmn_str_cstr(&url), NULL, s_on_dup_merge, j) == 0) {
        cmn_str_free(&url);
        return;
    }
    cmn_str_free(&url);
    j->state = S_JOB_DONE;
}

static void s_on_dup_flag(void *arg, const cmn_http_result_t *res)
{
    s_job_t *j = arg;
    dhis_bridge_t *b = j->b;
    dhis_call_t cls = s_observe(b, b->h_dup, res, false, true);
    dhis_report_t rep = {0};

    if (b->stopping || res->curl_code == -1) {
        s_dup_done_res(j, "release", res);
        return;
    }
    if ((res->status == 200 || res->status == 409) && dhis_parse_report(res->body, &rep) == 0) {
        if (rep.nerrors == 0 && res->status == 200)
            s_dup_set(&j->dup, "flagged", res->status, NULL);
        else
            s_dup_done_res(j, "failed", res);
        dhis_report_free(&rep);
        j->state = S_JOB_DONE;
        return;
    }
    dhis_report_free(&rep);
    s_dup_failed_call(j, cls == DHIS_CALL_OK ? DHIS_CALL_RETRY : cls, res);
}

static void s_on_dup_get(void *arg, const cmn_http_result_t *res)
{
    s_job_t *j = arg;
    dhis_bridge_t *b = j->b;
    dhis_call_t cls = s_observe(b, b->h_dup, res, false, true);
    cmn_str_t url = CMN_STR_INIT(4096);
    char *body = NULL;

    if (b->stopping || res->curl_code == -1) {
        s_dup_done_res(j, "release", res);
        return;
    }
    if (cls != DHIS_CALL_OK) {
        s_dup_failed_call(j, cls, res);
        return;
    }
    body = dhis_body_flag(res->body);
    if (body == NULL || dhis_url_import(b->cfg, true, &url) < 0 ||
        s_start(b, "POST", cmn_str_cstr(&url), body, s_on_dup_flag, j) < 0) {
        cmn_http_result_t bad = *res;
        bad.body = "{\"message\":\"the tracked entity could not be read back\"}";
        s_dup_done_res(j, "retry", &bad);
    }
    free(body);
    cmn_str_free(&url);
}

static void s_start_dup(s_job_t *j)
{
    dhis_bridge_t *b = j->b;
    cmn_str_t url = CMN_STR_INIT(4096);
    char *body = NULL;
    int r;
    if (j->dup.pair) {
        body = dhis_body_duplicate(j->dup.original, j->dup.duplicate);
        r = body ? dhis_url_duplicates(b->cfg, &url) : -ENOMEM;
        if (r == 0)
            r = s_start(b, "POST", cmn_str_cstr(&url), body, s_on_dup_post, j);
    } else {
        r = dhis_url_entity(b->cfg, j->dup.original, &url);
        if (r == 0)
            r = s_start(b, "GET", cmn_str_cstr(&url), NULL, s_on_dup_get, j);
    }
    if (r < 0) {
        cmn_http_result_t res = {0, 0, cmn_strerror(r), "", 0, false, -1, 0, false};
        s_dup_done_res(j, "retry", &res);
    }
    free(body);
    cmn_str_free(&url);
}

static int s_dispatch_dups(dhis_bridge_t *b)
{
    s_job_t *free_jobs[S_DUP_CLAIM];
    size_t nfree = 0;
    if (!b->dups_due || b->stopping || !dhis_link_up(&b->link))
        return 0;
    /* reserve the free dup slots (marked busy so s_free_job skips them) */
    while (nfree < S_DUP_CLAIM) {
        s_job_t *j = s_free_job(b, true);
        if (j == NULL)
            break;
        j->state = S_JOB_BUSY;
        j->is_dup = true;
        free_jobs[nfree++] = j;
    }
    if (nfree == 0)
        return 0;
    s_dup_claim_t c = {b, free_jobs, 0, nfree};
    int r = cmn_daemon_tx(b->d, s_tx_dup_claim, &c);
    if (r < 0) {
        c.njobs = 0;
        b->store_retry_at = cmn_mono_ms() + S_STORE_RETRY_MS;
    }
    for (size_t i = c.njobs; i < nfree; i++) /* unused reservations */
        free_jobs[i]->state = S_JOB_FREE;
    if (r == 0 && c.njobs == 0)
        b->dups_due = false;
    for (size_t i = 0; i < c.njobs; i++)
        s_start_dup(free_jobs[i]);
    return r;
}

/* ---- recording outcomes ------------------------------------------------------------ */

/* "original duplicate" of a flagged pair (or the one CIU flagged), into out[48]. */
static const char *s_dup_detail(const s_dup_t *u, char *out)
{
    snprintf(out, 48, "%s%s%s", u->original, u->pair ? " " : "", u->duplicate);
    return out;
}

static int s_record_row(dhis_bridge_t *b, cmn_store_t *st, const char *token, s_row_t *r,
                        int64_t now)
{
    bool recorded = false;
    int rc = 0;
    const char *err = r->error[0] ? r->error : NULL, *codes = r->codes[0] ? r->codes : NULL;
    switch (r->out) {
    case S_OUT_SYNCED: {
        const char *te = r->found ? r->found_te : r->te;
        const char *ou = r->found ? r->found_ou : r->ou;
        rc = dhis_store_sync_synced(st, r->id, token, te, ou, s_linked(r), r->status, now,
                                    &recorded);
        break;
    }
    case S_OUT_RETRY: {
        int64_t wait = dhis_backoff_ms(r->attempts, b->cfg->retry_max_s * 1000, s_rand(b));
        if (r->retry_after_s > 0 && r->retry_after_s * 1000 > wait)
            wait = r->retry_after_s * 1000;
        rc = dhis_store_sync_retry(st, r->id, token, now + wait, err, r->status, codes, now,
                                   &recorded);
        break;
    }
    case S_OUT_RESEARCH:
        rc = dhis_store_sync_research(st, r->id, token, err, r->status, codes, now, &recorded);
        break;
    case S_OUT_FAILED:
        rc = dhis_store_sync_failed(st, r->id, token, err, r->status, codes, now, &recorded);
        break;
    case S_OUT_RELEASE:
    case S_OUT_NONE:
        rc = dhis_store_sync_release(st, r->id, token, &recorded);
        break;
    }
    r->recorded = rc == 0 && recorded;
    if (r->recorded && r->out == S_OUT_SYNCED) {
        s_publish(b, CMN_EV_DHIS2_SYNCED, r->trace, r->ciu, r->id, r->found ? r->found_te : r->te,
                  s_linked(r));
    } else if (r->recorded && r->out == S_OUT_FAILED) {
        char detail[96]; /* cut to the event's 47 characters */
        snprintf(detail, sizeof(detail), "%s %s", r->codes[0] ? r->codes : "-",
                 r->found ? r->found_te : r->te);
        s_publish(b, CMN_EV_DHIS2_FAILED, r->trace, r->ciu, r->id, detail, s_linked(r));
    }
    return rc;
}

static int s_record_dup(dhis_bridge_t *b, cmn_store_t *st, const char *token, s_dup_t *u,
                        int64_t now)
{
    bool recorded = false;
    int rc;
    char detail[48];
    const char *err = u->error[0] ? u->error : NULL;
    if (strcmp(u->out, "retry") == 0) {
        int64_t wait = dhis_backoff_ms(u->attempts, b->cfg->retry_max_s * 1000, s_rand(b));
        if (u->retry_after_s > 0 && u->retry_after_s * 1000 > wait)
            wait = u->retry_after_s * 1000;
        rc = dhis_store_dup_retry(st, u->id, token, now + wait, err, u->status, now, &recorded);
    } else if (strcmp(u->out, "release") == 0 || u->out[0] == '\0') {
        rc = dhis_store_dup_release(st, u->id, token, &recorded);
    } else {
        rc = dhis_store_dup_done(
            st, u->id, token, u->out, u->original, u->duplicate[0] ? u->duplicate : NULL,
            u->dhis2_id[0] ? u->dhis2_id : NULL, err, u->status, now, &recorded);
    }
    u->recorded = rc == 0 && recorded;
    if (u->recorded && (strcmp(u->out, "flagged") == 0 || strcmp(u->out, "merged") == 0))
        s_publish(b, CMN_EV_DHIS2_DUPLICATE_FLAGGED, NULL, u->ciu, u->id, s_dup_detail(u, detail),
                  false);
    return rc;
}

static int s_tx_record(void *arg, cmn_store_t *st)
{
    dhis_bridge_t *b = arg;
    int64_t now = cmn_now_ms();
    int r = 0;
    for (size_t i = 0; i < b->njobs && r == 0; i++) {
        s_job_t *j = &b->jobs[i];
        if (j->state != S_JOB_DONE)
            continue;
        if (j->is_dup)
            r = s_record_dup(b, st, j->token, &j->dup, now);
        for (size_t k = 0; !j->is_dup && k < j->nrows && r == 0; k++)
            r = s_record_row(b, st, j->token, &j->rows[k], now);
    }
    return r;
}

/* After the commit: events, logs, metrics; the slots are free again. */
static void s_announce(dhis_bridge_t *b)
{
    for (size_t i = 0; i < b->njobs; i++) {
        s_job_t *j = &b->jobs[i];
        if (j->state != S_JOB_DONE)
            continue;
        if (j->is_dup) {
            s_dup_t *u = &j->dup;
            if (u->recorded && (strcmp(u->out, "flagged") == 0 || strcmp(u->out, "merged") == 0)) {
                char detail[48];
                s_dup_detail(u, detail);
                cmn_counter_add(b->m_flagged, 1);
                log_info(S_MODULE, NULL, "potential duplicate %lld sent to DHIS2 (%s%s%s%s)%s",
                         (long long)u->id, u->pair ? "pair " : "flag ", detail,
                         u->dhis2_id[0] ? ", id " : "", u->dhis2_id,
                         strcmp(u->out, "merged") == 0 ? ", merged" : "");
            } else if (u->recorded && strcmp(u->out, "failed") == 0) {
                log_warn(S_MODULE, NULL, "potential duplicate %lld refused by DHIS2: %s",
                         (long long)u->id, u->error);
            } else if (u->recorded && strcmp(u->out, "retry") == 0) {
                cmn_counter_add(b->m_retries, 1);
            }
            b->dups_due = true;
        }
        for (size_t k = 0; !j->is_dup && k < j->nrows; k++) {
            s_row_t *r = &j->rows[k];
            if (!r->recorded)
                continue;
            switch (r->out) {
            case S_OUT_SYNCED: {
                const char *te = r->found ? r->found_te : r->te;
                cmn_counter_add(b->m_synced, 1);
                if (s_linked(r))
                    cmn_counter_add(b->m_linked, 1);
                log_debug(S_MODULE, r->trace, "enrolment %lld synced: tracked entity %s%s",
                          (long long)r->id, te, s_linked(r) ? " (existing person)" : "");
                break;
            }
            case S_OUT_FAILED: {
                cmn_counter_add(b->m_failed, 1);
                log_warn(S_MODULE, r->trace, "enrolment %lld refused by DHIS2: %s",
                         (long long)r->id, r->error);
                break;
            }
            case S_OUT_RETRY:
                cmn_counter_add(b->m_retries, 1);
                log_debug(S_MODULE, r->trace, "enrolment %lld will be retried: %s",
                          (long long)r->id, r->error);
                break;
            case S_OUT_RESEARCH:
                log_info(S_MODULE, r->trace,
                         "enrolment %lld: the CIU already exists in DHIS2 (E1064): linking",
                         (long long)r->id);
                break;
            case S_OUT_RELEASE:
            case S_OUT_NONE:
                break;
            }
        }
        if (!j->is_dup)
            b->work_due = true; /* a slot is free, and re-searches are due now */
        j->state = S_JOB_FREE;
        j->nrows = 0;
    }
}

static bool s_any_done(const dhis_bridge_t *b)
{
    for (size_t i = 0; i < b->njobs; i++)
        if (b->jobs[i].state == S_JOB_DONE)
            return true;
    return false;
}

static int s_record(dhis_bridge_t *b)
{
    if (!s_any_done(b))
        return 0;
    int r = cmn_stage_tx(b->d, b->st.ann, s_tx_record, b);
    if (r < 0) {
        b->store_retry_at = cmn_mono_ms() + S_STORE_RETRY_MS;
        return r;
    }
    s_announce(b);
    return 0;
}

/* ---- the worker loop's callbacks ------------------------------------------------ */

static int s_backlog(dhis_bridge_t *b)
{
    int64_t n = 0;
    int r = dhis_store_backlog(b->d->store, &n);
    if (r == 0)
        cmn_gauge_set(b->g_backlog, n);
    b->backlog_at = cmn_mono_ms() + S_BACKLOG_EVERY_MS;
    return r;
}

static int s_on_batch(void *arg, const cmn_msg_t *msgs, size_t n)
{
    dhis_bridge_t *b = arg;
    for (size_t i = 0; i < n; i++)
        if (strcmp(msgs[i].type, CMN_MSG_DHIS2_SYNC) == 0)
            return s_accept(b, false);
    return 0;
}

static int s_on_rescan(void *arg, bool at_start)
{
    dhis_bridge_t *b = arg;
    int64_t now = cmn_mono_ms();
    int r = s_accept(b, at_start);
    if (r < 0)
        return r;
    if (b->cfg) {
        /* backoffs that ended, leases that expired, duplicates recorded: reads
         * outside any transaction, so an idle bridge's scan takes no write
         * lock; errors say yes (!= 0: the claim will tell) */
        if (dhis_store_sync_due(b->d->store, cmn_now_ms()) != 0)
            b->work_due = true;
        if (dhis_store_dups_new(b->d->store, cmn_now_ms()) != 0 &&
            (r = cmn_daemon_tx(b->d, s_tx_dup_import, NULL)) < 0)
            return r;
        if (dhis_store_dups_due(b->d->store, cmn_now_ms()) != 0)
            b->dups_due = true;
    }
    if (now >= b->backlog_at && (r = s_backlog(b)) < 0)
        return r;
    if (now >= b->heartbeat_at)
        s_write_state(b, false);
    return 0;
}

static int s_poll_prepare(void *arg, cmn_pollfd_t *fds, size_t max, size_t *ret_n, long *timeout_ms)
{
    dhis_bridge_t *b = arg;
    int64_t now = cmn_mono_ms();
    long t = *timeout_ms;
    *ret_n = 0;
    if (b->cfg == NULL)
        return 0;
    int r = cmn_http_poll_prepare(b->http, fds, max, ret_n, &t);
    long store_wait = b->store_retry_at > now ? (long)(b->store_retry_at - now) : 0;
    if (b->link_changed)
        t = 0;
    if (s_any_done(b) && store_wait < t)
        t = store_wait;
    if (dhis_link_up(&b->link) && (b->work_due || b->dups_due) && s_free_job(b, false) &&
        store_wait < t)
        t = store_wait;
    if (!dhis_link_up(&b->link) && !b->link.probing) {
        long p = b->link.probe_at_ms > now ? (long)(b->link.probe_at_ms - now) : 0;
        if (p < t)
            t = p;
    }
    *timeout_ms = t;
    return r;
}

static int s_on_poll(void *arg)
{
    dhis_bridge_t *b = arg;
    int r = 0, r2;
    if (b->cfg == NULL)
        return 0;
    if (cmn_http_perform(b->http) < 0)
        r = -EIO;
    cmn_gauge_set(b->g_inflight, (int64_t)cmn_http_inflight(b->http));
    if (b->link_changed)
        s_link_changed(b);
    if (cmn_mono_ms() < b->store_retry_at)
        return r;
    if ((r2 = s_record(b)) < 0)
        return r2;
    if (dhis_link_probe_due(&b->link, cmn_mono_ms()))
        s_probe(b);
    if ((r2 = s_dispatch_sync(b)) < 0)
        return r2;
    if ((r2 = s_dispatch_dups(b)) < 0)
        return r2;
    return r;
}

/* ---- life cycle -------------------------------------------------------------------- */

static int s_jobs_new(dhis_bridge_t *b)
{
    b->njobs = (size_t)b->cfg->concurrency;
    b->dup_max = b->njobs > 1 ? b->njobs / 2 : 1;
    b->jobs = calloc(b->njobs, sizeof(*b->jobs));
    if (b->jobs == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < b->njobs; i++) {
        b->jobs[i].b = b;
        b->jobs[i].rows = calloc((size_t)b->cfg->batch_size, sizeof(*b->jobs[i].rows));
        if (b->jobs[i].rows == NULL)
            return -ENOMEM;
    }
    return 0;
}

dhis_bridge_t *dhis_bridge_new(cmn_daemon_t *d, int *ret_code)
{
    dhis_bridge_t *b = calloc(1, sizeof(*b));
    char *err = NULL;
    int r;

    *ret_code = CMN_EXIT_SOFTWARE;
    if (b == NULL)
        return NULL;
    b->d = d;
    r = dhis_config_new(&d->settings, &b->cfg, &err);
    if (r == -EINVAL) {
        log_error(S_MODULE, NULL, "bad configuration: %s", err);
        free(err);
        *ret_code = CMN_EXIT_CONFIG;
        goto fail;
    }
    if (r < 0 && r != -ENOENT)
        goto fail;
    const char *bind = d->settings.bind && *d->settings.bind ? d->settings.bind : NULL;
    size_t n = bind ? strlen(bind) : strcspn(d->settings.ep_dhis2, ",");
    snprintf(b->replica, sizeof(b->replica), "%.*s", (int)n, bind ? bind : d->settings.ep_dhis2);
    if (cmn_id_new(b->owner) < 0 || cmn_random_bytes(&b->rnd, sizeof(b->rnd)) < 0)
        goto fail;
    b->rnd |= 1;
    *ret_code = CMN_EXIT_UNAVAILABLE;
    if (cmn_stage_open(&b->st, d, d->settings.ep_dhis2, d->settings.ev_dhis2, "CIU_DHIS2_EVENTS") <
        0)
        goto fail;
    *ret_code = CMN_EXIT_SOFTWARE;
    cmn_metrics_t *m = d->metrics;
    b->m_pending = cmn_metrics_counter(m, "dhis2_pending_total", NULL,
                                       "Enrolments accepted and waiting for DHIS2");
    b->m_synced = cmn_metrics_counter(m, "dhis2_synced_total", NULL,
                                      "Enrolments synced: the person is in DHIS2, enrolled");
    b->m_linked = cmn_metrics_counter(m, "dhis2_linked_total", NULL,
                                      "Synced enrolments whose person already was in DHIS2");
    b->m_failed = cmn_metrics_counter(m, "dhis2_failed_total", NULL,
                                      "Enrolments DHIS2 refused (status failed)");
    b->m_retries = cmn_metrics_counter(m, "dhis2_retries_total", NULL,
                                       "Attempts that will be retried (no answer, 5xx, ...)");
    b->m_flagged = cmn_metrics_counter(m, "dhis2_duplicates_flagged_total", NULL,
                                       "Potential duplicates sent to DHIS2");
    b->m_calls = cmn_metrics_counter(m, "dhis2_calls_total", NULL, "Calls made to DHIS2");
    b->g_backlog = cmn_metrics_gauge(m, "dhis2_backlog", NULL,
                                     "Enrolments queued or pending (not yet in DHIS2)");
    b->g_circuit = cmn_metrics_gauge(m, "dhis2_circuit_state", NULL,
                                     "0 closed (calls flow), 1 open (DHIS2 unreachable), 2 "
                                     "paused (credentials refused)");
    b->g_inflight = cmn_metrics_gauge(m, "dhis2_calls_in_flight", NULL,
                                      "DHIS2 calls in flight (the at-least-once window)");
    b->h_search = cmn_metrics_histogram(m, "dhis2_call_seconds", "call=\"search\"",
                                        "Time of one DHIS2 call", NULL, 0);
    b->h_import = cmn_metrics_histogram(m, "dhis2_call_seconds", "call=\"import\"",
                                        "Time of one DHIS2 call", NULL, 0);
    b->h_info = cmn_metrics_histogram(m, "dhis2_call_seconds", "call=\"info\"",
                                      "Time of one DHIS2 call", NULL, 0);
    b->h_dup = cmn_metrics_histogram(m, "dhis2_call_seconds", "call=\"duplicate\"",
                                     "Time of one DHIS2 call", NULL, 0);
    if (!b->m_pending || !b->m_synced || !b->m_linked || !b->m_failed || !b->m_retries ||
        !b->m_flagged || !b->m_calls || !b->g_backlog || !b->g_circuit || !b->g_inflight ||
        !b->h_search || !b->h_import || !b->h_info || !b->h_dup)
        goto fail;
    b->g_configured = cmn_metrics_gauge(m, "dhis2_configured", NULL,
                                        "1 when DHIS2 is configured (DHIS2_BASE_URL set), 0 when "
                                        "enrolments only wait as pending");
    if (b->g_configured == NULL)
        goto fail;
    cmn_gauge_set(b->g_configured, b->cfg != NULL);
    if (b->cfg == NULL) {
        log_warn(S_MODULE, NULL,
                 "DHIS2 not configured (DHIS2_BASE_URL is empty): registrations are kept as "
                 "pending and sent once it is set (docs/dhis2.md)");
        s_write_state(b, false);
        *ret_code = CMN_EXIT_OK;
        return b;
    }
    b->http = cmn_http_new(S_BODY_MAX);
    if (b->http == NULL || s_jobs_new(b) < 0)
        goto fail;
    dhis_link_init(&b->link, (int)b->cfg->breaker_failures, b->cfg->breaker_s * 1000,
                   cmn_mono_ms());
    dhis_dialect_for(NULL, &b->dialect);
    b->dialect.version[0] = '\0';
    b->link_was = DHIS_LINK_CONNECT;
    log_info(S_MODULE, NULL,
             "DHIS2 at %s (%s auth): program %s, tracked entity type %s, org unit %s%s, batches "
             "of %ld, %ld calls in flight",
             b->cfg->base_url, b->cfg->auth_header ? "token" : "basic", b->cfg->program,
             b->cfg->tet, b->cfg->org_unit, b->cfg->ou_map_n ? " (+ city map)" : "",
             b->cfg->batch_size, b->cfg->concurrency);
    s_write_state(b, false);
    *ret_code = CMN_EXIT_OK;
    return b;
fail:
    dhis_bridge_destroy(&b);
    return NULL;
}

int dhis_bridge_run(dhis_bridge_t *b)
{
    static const cmn_worker_ops_t ops = {.on_batch = s_on_batch,
                                         .on_rescan = s_on_rescan,
                                         .poll_prepare = s_poll_prepare,
                                         .on_poll = s_on_poll,
                                         .queue_stage = "dhis2",
                                         .queue_sql = dhis_store_queue_sql};
    return cmn_stage_run(&b->st, &ops, b);
}

void dhis_bridge_destroy(dhis_bridge_t **p)
{
    dhis_bridge_t *b;
    if (p == NULL || *p == NULL)
        return;
    b = *p;
    b->stopping = true;
    /* calls in flight end as "aborted": their rows are given back at once
     * (whatever DHIS2 did with them, the next attempt searches first) */
    cmn_http_destroy(&b->http);
    if (b->jobs && b->d->store && s_record(b) < 0)
        log_warn(S_MODULE, NULL, "stopping: leases left to expire (store unavailable)");
    for (size_t i = 0; b->jobs && i < b->njobs; i++)
        free(b->jobs[i].rows);
    free(b->jobs);
    dhis_config_destroy(&b->cfg);
    cmn_stage_close(&b->st);
    free(b);
    *p = NULL;
}
