/* dhis_api: DHIS2 Tracker Web API dialects, URLs, bodies and answers. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common/cmn_crypto.h"
#include "common/cmn_http.h"
#include "dhis_api.h"
#include "dhis_config.h"

#define S_QUERY_MAX 65536
#define S_SEARCH_FIELDS                                                                            \
    "trackedEntity,orgUnit,attributes[attribute,value],"                                           \
    "enrollments[enrollment,program,status,deleted]"

/* ---- versions ------------------------------------------------------------ */

void dhis_dialect_for(const char *version, dhis_dialect_t *ret)
{
    long major = -1, minor = -1;
    memset(ret, 0, sizeof(*ret));
    if (version)
        cmn_strlcpy(ret->version, version, sizeof(ret->version));
    if (version && isdigit((unsigned char)version[0])) {
        char *end = NULL;
        major = strtol(version, &end, 10);
        if (end && *end == '.' && isdigit((unsigned char)end[1]))
            minor = strtol(end + 1, NULL, 10);
    }
    if (major == 2 && minor >= DHIS_MINOR_OLDEST && minor <= DHIS_MINOR_NEWEST) {
        ret->minor = (int)minor;
    } else if (major == 2 && minor >= 0 && minor < DHIS_MINOR_OLDEST) {
        ret->minor = DHIS_MINOR_OLDEST;
        ret->assumed = true;
    } else {
        ret->minor = DHIS_MINOR_NEWEST;
        ret->assumed = true;
    }
    ret->ou_mode_param = ret->minor <= 40 ? "ouMode" : "orgUnitMode";
    ret->list_key = ret->minor <= 40 ? "instances" : "trackedEntities";
}

/* ---- UIDs ----------------------------------------------------------------- */

static const char s_alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

bool dhis_uid_valid(const char *s)
{
    if (s == NULL || !isalpha((unsigned char)s[0]))
        return false;
    for (int i = 1; i < 11; i++)
        if (!isalnum((unsigned char)s[i]))
            return false;
    return s[11] == '\0';
}

int dhis_uid_new(char out[DHIS_UID_LEN])
{
    unsigned char rnd[64];
    size_t used = sizeof(rnd), i = 0;
    while (i < 11) {
        if (used == sizeof(rnd)) {
            if (cmn_random_bytes(rnd, sizeof(rnd)) < 0)
                return -EIO;
            used = 0;
        }
        unsigned b = rnd[used++];
        /* rejection sampling: no modulo bias (52 letters, 62 letters and digits) */
        if (i == 0 && b < 208)
            out[i++] = s_alnum[b % 52];
        else if (i > 0 && b < 248)
            out[i++] = s_alnum[b % 62];
    }
    out[11] = '\0';
    return 0;
}

/* ---- URLs ------------------------------------------------------------------ */

static int s_url(const dhis_config_t *c, const char *path, const cmn_str_t *query, cmn_str_t *out)
{
    int r = cmn_str_appends(out, c->base_url);
    if (r == 0)
        r = cmn_str_appends(out, path);
    if (r == 0 && query && query->len > 0) {
        r = cmn_str_append(out, "?", 1);
        if (r == 0)
            r = cmn_str_append(out, query->buf, query->len);
    }
    return r;
}

int dhis_url_info(const dhis_config_t *c, cmn_str_t *out)
{
    return s_url(c, "/api/system/info", NULL, out);
}

int dhis_url_search(const dhis_config_t *c, const dhis_dialect_t *d, const char *const *cius,
                    size_t n, cmn_str_t *out)
{
    cmn_str_t q = CMN_STR_INIT(S_QUERY_MAX), filter = CMN_STR_INIT(S_QUERY_MAX);
    char size[24];
    int r;

    if (n == 0)
        return -EINVAL;
    r = cmn_str_printf(&filter, "%s:%s:", c->ciu_attr, n == 1 ? "eq" : "in");
    for (size_t i = 0; i < n && r == 0; i++)
        r = cmn_str_printf(&filter, "%s%s", i ? ";" : "", cius[i]);
    /* Several tracked entities may hold one CIU in different case: room for them. */
    snprintf(size, sizeof(size), "%zu", n * 2 < 1000 ? n * 2 : 1000);
    if (r == 0)
        r = cmn_http_form_append(&q, "trackedEntityType", c->tet);
    if (r == 0)
        r = cmn_http_form_append(&q, "filter", cmn_str_cstr(&filter));
    if (r == 0)
        r = cmn_http_form_append(&q, d->ou_mode_param, "ACCESSIBLE");
    if (r == 0)
        r = cmn_http_form_append(&q, "fields", S_SEARCH_FIELDS);
    if (r == 0)
        r = cmn_http_form_append(&q, "pageSize", size);
    if (r == 0)
        r = s_url(c, "/api/tracker/trackedEntities", &q, out);
    cmn_str_free(&q);
    cmn_str_free(&filter);
    return r;
}

int dhis_url_import(const dhis_config_t *c, bool update_only, cmn_str_t *out)
{
    cmn_str_t q = CMN_STR_INIT(1024);
    int r = cmn_http_form_append(&q, "async", "false");
    if (r == 0)
        r = cmn_http_form_append(&q, "atomicMode", "OBJECT");
    if (r == 0)
        r = cmn_http_form_append(&q, "importStrategy",
                                 update_only ? "UPDATE" : "CREATE_AND_UPDATE");
    if (r == 0)
        r = cmn_http_form_append(&q, "reportMode", "ERRORS");
    if (r == 0)
        r = s_url(c, "/api/tracker", &q, out);
    cmn_str_free(&q);
    return r;
}

int dhis_url_entity(const dhis_config_t *c, const char *te, cmn_str_t *out)
{
    cmn_str_t q = CMN_STR_INIT(1024);
    int r = dhis_uid_valid(te) ? 0 : -EINVAL;
    if (r == 0)
        r = cmn_http_form_append(&q, "fields",
                                 "trackedEntity,trackedEntityType,orgUnit,inactive,geometry");
    if (r == 0)
        r = s_url(c, "/api/tracker/trackedEntities/", NULL, out);
    if (r == 0)
        r = cmn_str_printf(out, "%s?%s", te, cmn_str_cstr(&q));
    cmn_str_free(&q);
    return r;
}

int dhis_url_duplicates(const dhis_config_t *c, cmn_str_t *out)
{
    return s_url(c, "/api/potentialDuplicates", NULL, out);
}

int dhis_url_merge(const dhis_config_t *c, const char *id, cmn_str_t *out)
{
    int r = dhis_uid_valid(id) ? 0 : -EINVAL;
    if (r == 0)
        r = s_url(c, "/api/potentialDuplicates/", NULL, out);
    if (r == 0)
        r = cmn_str_printf(out, "%s/merge?mergeStrategy=AUTO", id);
    return r;
}

/* ---- bodies ------------------------------------------------------------------ */

static int s_add_attr(json_t *attrs, const char *attr, const char *value)
{
    if (attr[0] == '\0' || value == NULL || value[0] == '\0')
        return 0;
    return json_array_append_new(attrs, json_pack("{s:s, s:s}", "attribute", attr, "value", value));
}

static json_t *s_enrollment(const dhis_config_t *c, const dhis_item_t *it, bool with_te)
{
    json_t *e = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "enrollment", it->enrollment, "program",
                          c->program, "orgUnit", it->org_unit, "enrolledAt", it->enrolled_at,
                          "occurredAt", it->enrolled_at, "status", "ACTIVE");
    if (e && with_te && json_object_set_new(e, "trackedEntity", json_string(it->te)) < 0) {
        json_decref(e);
        return NULL;
    }
    return e;
}

char *dhis_body_import(const dhis_config_t *c, const dhis_item_t *items, size_t n)
{
    json_t *root = json_object(), *tes = json_array(), *enrs = json_array();
    char *out = NULL;
    int r = root && tes && enrs ? 0 : -1;

    for (size_t i = 0; i < n && r == 0; i++) {
        const dhis_item_t *it = &items[i];
        if (!dhis_uid_valid(it->te) || !dhis_uid_valid(it->enrollment) ||
            !dhis_uid_valid(it->org_unit) || it->ciu == NULL || strlen(it->ciu) < 10) {
            r = -1;
            break;
        }
        if (!it->create) {
            r = json_array_append_new(enrs, s_enrollment(c, it, true));
            continue;
        }
        char birth[2] = {it->ciu[6], '\0'};
        json_t *attrs = json_array(), *te_enrs = json_array();
        if (attrs == NULL || te_enrs == NULL) {
            json_decref(attrs);
            json_decref(te_enrs);
            r = -1;
            break;
        }
        r = s_add_attr(attrs, c->ciu_attr, it->ciu);
        if (r == 0)
            r = s_add_attr(attrs, c->gender_attr, dhis_config_gender(c, it->ciu));
        if (r == 0 && isdigit((unsigned char)birth[0]))
            r = s_add_attr(attrs, c->birth_attr, birth);
        if (r == 0)
            r = json_array_append_new(te_enrs, s_enrollment(c, it, false));
        json_t *te = r == 0 ? json_pack("{s:s, s:s, s:s, s:o, s:o}", "trackedEntity", it->te,
                                        "trackedEntityType", c->tet, "orgUnit", it->org_unit,
                                        "attributes", attrs, "enrollments", te_enrs)
                            : NULL;
        if (te == NULL) {
            if (r != 0) {
                json_decref(attrs);
                json_decref(te_enrs);
            }
            r = -1;
            break;
        }
        r = json_array_append_new(tes, te);
    }
    if (r == 0 && json_array_size(tes) > 0)
        r = json_object_set(root, "trackedEntities", tes);
    if (r == 0 && json_array_size(enrs) > 0)
        r = json_object_set(root, "enrollments", enrs);
    if (r == 0)
        out = json_dumps(root, JSON_COMPACT);
    json_decref(tes);
    json_decref(enrs);
    json_decref(root);
    return out;
}

char *dhis_body_duplicate(const char *original, const char *duplicate)
{
    if (!dhis_uid_valid(original) || !dhis_uid_valid(duplicate))
        return NULL;
    json_t *j = json_pack("{s:s, s:s, s:s}", "original", original, "duplicate", duplicate, "status",
                          "OPEN");
    char *out = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return out;
}

char *dhis_body_flag(const char *entity_json)
{
    json_t *in = entity_json ? json_loads(entity_json, 0, NULL) : NULL;
    json_t *te = NULL, *root = NULL, *geo;
    const char *uid = NULL, *type = NULL, *ou = NULL;
    char *out = NULL;

    if (in == NULL ||
        json_unpack(in, "{s:s, s:s, s:s}", "trackedEntity", &uid, "trackedEntityType", &type,
                    "orgUnit", &ou) < 0 ||
        !dhis_uid_valid(uid) || !dhis_uid_valid(type) || !dhis_uid_valid(ou))
        goto out;
    te = json_pack("{s:s, s:s, s:s, s:b, s:b}", "trackedEntity", uid, "trackedEntityType", type,
                   "orgUnit", ou, "inactive", json_is_true(json_object_get(in, "inactive")),
                   "potentialDuplicate", 1);
    geo = json_object_get(in, "geometry");
    if (te && json_is_object(geo) && json_object_set(te, "geometry", geo) < 0)
        goto out;
    root = te ? json_pack("{s:[O]}", "trackedEntities", te) : NULL;
    if (root)
        out = json_dumps(root, JSON_COMPACT);
out:
    json_decref(root);
    json_decref(te);
    json_decref(in);
    return out;
}

/* ---- answers ------------------------------------------------------------------ */

int dhis_parse_info(const char *body, char *out, size_t outlen)
{
    json_t *j = body ? json_loads(body, 0, NULL) : NULL;
    const char *v = NULL;
    int r = -EPROTO;
    if (j && json_unpack(j, "{s:s}", "version", &v) == 0 && v[0] != '\0')
        r = cmn_strlcpy(out, v, outlen) == 0 ? 0 : -EPROTO;
    json_decref(j);
    return r;
}

static void s_upper(char *s)
{
    for (; *s; s++)
        *s = (char)toupper((unsigned char)*s);
}

int dhis_parse_search(const dhis_config_t *c, const char *body, dhis_found_t **ret, size_t *ret_n)
{
    json_t *j = body ? json_loads(body, 0, NULL) : NULL;
    json_t *list, *te;
    dhis_found_t *found = NULL;
    size_t n = 0, i;
    int r = -EPROTO;

    if (!json_is_object(j))
        goto out;
    list = json_object_get(j, "trackedEntities");
    if (!json_is_array(list))
        list = json_object_get(j, "instances");
    if (!json_is_array(list))
        goto out;
    r = 0;
    if (json_array_size(list) == 0)
        goto out;
    found = calloc(json_array_size(list), sizeof(*found));
    if (found == NULL) {
        r = -ENOMEM;
        goto out;
    }
    json_array_foreach(list, i, te)
    {
        dhis_found_t *f = &found[n];
        const char *uid = json_string_value(json_object_get(te, "trackedEntity"));
        const char *ou = json_string_value(json_object_get(te, "orgUnit"));
        json_t *attrs = json_object_get(te, "attributes"), *a, *enrs, *e;
        size_t k;
        if (!dhis_uid_valid(uid))
            continue;
        memset(f, 0, sizeof(*f));
        cmn_strlcpy(f->te, uid, sizeof(f->te));
        if (dhis_uid_valid(ou))
            cmn_strlcpy(f->org_unit, ou, sizeof(f->org_unit));
        json_array_foreach(attrs, k, a)
        {
            const char *id = json_string_value(json_object_get(a, "attribute"));
            const char *v = json_string_value(json_object_get(a, "value"));
            if (id && v && strcmp(id, c->ciu_attr) == 0 && strlen(v) < sizeof(f->ciu)) {
                cmn_strlcpy(f->ciu, v, sizeof(f->ciu));
                s_upper(f->ciu);
            }
        }
        enrs = json_object_get(te, "enrollments");
        json_array_foreach(enrs, k, e)
        {
            const char *p = json_string_value(json_object_get(e, "program"));
            if (p && strcmp(p, c->program) == 0 && !json_is_true(json_object_get(e, "deleted")))
                f->enrolled = true;
        }
        if (f->ciu[0])
            n++;
    }
out:
    json_decref(j);
    if (r == 0 && n == 0) {
        free(found);
        found = NULL;
    }
    if (r < 0) {
        free(found);
        return r;
    }
    *ret = found;
    *ret_n = n;
    return 0;
}

static void s_copy(char *dst, size_t len, json_t *v)
{
    const char *s = json_string_value(v);
    if (s)
        cmn_strlcpy(dst, s, len);
}

static int s_report_errors(json_t *list, dhis_report_t *rep)
{
    size_t i;
    json_t *e;
    if (!json_is_array(list) || json_array_size(list) == 0)
        return 0;
    rep->errors = calloc(json_array_size(list), sizeof(*rep->errors));
    if (rep->errors == NULL)
        return -ENOMEM;
    json_array_foreach(list, i, e)
    {
        dhis_error_t *er = &rep->errors[rep->nerrors++];
        s_copy(er->code, sizeof(er->code), json_object_get(e, "errorCode"));
        s_copy(er->type, sizeof(er->type), json_object_get(e, "trackerType"));
        s_copy(er->uid, sizeof(er->uid), json_object_get(e, "uid"));
        s_copy(er->message, sizeof(er->message), json_object_get(e, "message"));
    }
    return 0;
}

static int s_report_done(json_t *bundle, dhis_report_t *rep)
{
    json_t *map = json_object_get(bundle, "typeReportMap"), *tr, *o;
    const char *key;
    size_t total = 0, i;
    json_object_foreach(map, key, tr) total +=
        json_array_size(json_object_get(tr, "objectReports"));
    if (total == 0)
        return 0;
    rep->done = calloc(total, sizeof(*rep->done));
    if (rep->done == NULL)
        return -ENOMEM;
    json_object_foreach(map, key, tr)
    {
        json_array_foreach(json_object_get(tr, "objectReports"), i, o)
        {
            const char *uid = json_string_value(json_object_get(o, "uid"));
            json_t *errs = json_object_get(o, "errorReports");
            if (dhis_uid_valid(uid) && json_array_size(errs) == 0)
                cmn_strlcpy(rep->done[rep->ndone++], uid, DHIS_UID_LEN);
        }
    }
    return 0;
}

int dhis_parse_report(const char *body, dhis_report_t *ret)
{
    json_t *j = body ? json_loads(body, 0, NULL) : NULL;
    json_t *status, *stats, *bundle;
    int r = -EPROTO;

    memset(ret, 0, sizeof(*ret));
    ret->ignored = -1;
    status = json_object_get(j, "status");
    /* an ImportReport, not a WebMessage (which has httpStatusCode) */
    if (!json_is_string(status) || json_object_get(j, "httpStatusCode") != NULL)
        goto out;
    s_copy(ret->status, sizeof(ret->status), status);
    stats = json_object_get(j, "stats");
    if (json_is_integer(json_object_get(stats, "ignored")))
        ret->ignored = (long)json_integer_value(json_object_get(stats, "ignored"));
    r = s_report_errors(json_object_get(json_object_get(j, "validationReport"), "errorReports"),
                        ret);
    bundle = json_object_get(j, "bundleReport");
    ret->bundle = json_is_object(bundle);
    if (r == 0 && ret->bundle)
        r = s_report_done(bundle, ret);
out:
    json_decref(j);
    return r;
}

void dhis_report_free(dhis_report_t *r)
{
    if (r == NULL)
        return;
    free(r->errors);
    free(r->done);
    r->errors = NULL;
    r->done = NULL;
    r->nerrors = r->ndone = 0;
}

int dhis_report_error_for(const dhis_report_t *r, const char *uid, size_t from)
{
    for (size_t i = from; i < r->nerrors; i++)
        if (strcmp(r->errors[i].uid, uid) == 0)
            return (int)i;
    return -1;
}

bool dhis_report_done(const dhis_report_t *r, const char *uid)
{
    for (size_t i = 0; i < r->ndone; i++)
        if (strcmp(r->done[i], uid) == 0)
            return true;
    return false;
}

int dhis_parse_duplicate_id(const char *body, char out[DHIS_UID_LEN])
{
    json_t *j = body ? json_loads(body, 0, NULL) : NULL;
    const char *id = json_string_value(json_object_get(j, "id"));
    int r = dhis_uid_valid(id) ? 0 : -EPROTO;
    if (r == 0)
        cmn_strlcpy(out, id, DHIS_UID_LEN);
    json_decref(j);
    return r;
}

/* Copy a body excerpt on one line (no control characters). */
static void s_excerpt(const char *body, char *out, size_t outlen)
{
    size_t k = 0;
    for (const char *p = body; *p && k + 1 < outlen && k < 160; p++)
        out[k++] = (unsigned char)*p < 0x20 ? ' ' : *p;
    out[k] = '\0';
}

void dhis_error_text(long status, const char *transport_error, const char *body, char *out,
                     size_t outlen)
{
    char msg[DHIS_MSG_LEN] = "", code[DHIS_CODE_LEN] = "";
    json_t *j;

    if (outlen == 0)
        return;
    if (status == 0) {
        snprintf(out, outlen, "no answer: %s",
                 transport_error && *transport_error ? transport_error : "network error");
        return;
    }
    j = body && *body ? json_loads(body, 0, NULL) : NULL;
    if (j) {
        json_t *errs = json_object_get(json_object_get(j, "validationReport"), "errorReports");
        json_t *first = json_array_get(errs, 0);
        s_copy(msg, sizeof(msg), json_object_get(first ? first : j, "message"));
        s_copy(code, sizeof(code), json_object_get(first ? first : j, "errorCode"));
        if (msg[0] == '\0')
            s_copy(msg, sizeof(msg), json_object_get(j, "devMessage"));
        json_decref(j);
        for (char *p = msg; *p; p++) /* one line, as for a body that is not JSON */
            if ((unsigned char)*p < 0x20)
                *p = ' ';
        for (char *p = code; *p; p++)
            if ((unsigned char)*p < 0x20)
                *p = ' ';
    } else if (body && *body) {
        s_excerpt(body, msg, sizeof(msg));
    }
    if (msg[0] && code[0])
        snprintf(out, outlen, "HTTP %ld: %s (%s)", status, msg, code);
    else if (msg[0])
        snprintf(out, outlen, "HTTP %ld: %s", status, msg);
    else
        snprintf(out, outlen, "HTTP %ld", status);
}

/* ---- outcomes, backoff, link ---------------------------------------------- */

dhis_call_t dhis_call_class(long status)
{
    if (status >= 200 && status < 300)
        return DHIS_CALL_OK;
    if (status == 0 || status == 408 || status == 429 || status >= 500)
        return DHIS_CALL_RETRY;
    if (status == 401 || status == 403)
        return DHIS_CALL_AUTH;
    return DHIS_CALL_FAIL;
}

int64_t dhis_backoff_ms(int attempts, int64_t cap_ms, uint32_t rnd)
{
    int64_t d = 1000;
    if (attempts < 0)
        attempts = 0;
    for (int i = 0; i < attempts && d < cap_ms; i++)
        d *= 2;
    if (d > cap_ms)
        d = cap_ms;
    if (d < 2)
        return d;
    return d / 2 + (int64_t)(rnd % (uint32_t)(d / 2 + 1));
}

void dhis_link_init(dhis_link_t *l, int threshold, int64_t interval_ms, int64_t now)
{
    memset(l, 0, sizeof(*l));
    l->state = DHIS_LINK_CONNECT;
    l->threshold = threshold > 0 ? threshold : 1;
    l->interval_ms = interval_ms > 0 ? interval_ms : 1000;
    l->probe_at_ms = now;
}

bool dhis_link_probe_due(const dhis_link_t *l, int64_t now)
{
    return l->state != DHIS_LINK_UP && !l->probing && now >= l->probe_at_ms;
}

void dhis_link_probe_start(dhis_link_t *l)
{
    l->probing = true;
}

bool dhis_link_report(dhis_link_t *l, dhis_call_t outcome, bool probe, int64_t now)
{
    dhis_link_state_t before = l->state;
    if (probe)
        l->probing = false;
    switch (outcome) {
    case DHIS_CALL_OK:
        l->failures = 0;
        if (probe)
            l->state = DHIS_LINK_UP;
        break;
    case DHIS_CALL_RETRY:
        if (probe || ++l->failures >= l->threshold) {
            if (l->state == DHIS_LINK_UP || probe)
                l->state = DHIS_LINK_OPEN;
            l->probe_at_ms = now + l->interval_ms;
        }
        break;
    case DHIS_CALL_AUTH:
        l->state = DHIS_LINK_AUTH;
        l->probe_at_ms = now + l->interval_ms;
        break;
    case DHIS_CALL_FAIL:
        l->failures = 0;
        if (probe) { /* /api/system/info refused: not a DHIS2 we can use yet */
            l->state = DHIS_LINK_OPEN;
            l->probe_at_ms = now + l->interval_ms;
        }
        break;
    }
    return l->state != before;
}

const char *dhis_link_name(dhis_link_state_t s)
{
    switch (s) {
    case DHIS_LINK_CONNECT:
        return "connecting";
    case DHIS_LINK_UP:
        return "up";
    case DHIS_LINK_OPEN:
        return "open";
    case DHIS_LINK_AUTH:
        return "paused";
    }
    return "?";
}

void dhis_date(int64_t ms, char out[11])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || strftime(out, 11, "%Y-%m-%d", &tm) == 0)
        cmn_strlcpy(out, "1970-01-01", 11);
}
