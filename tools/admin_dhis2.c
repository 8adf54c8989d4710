/* admin_dhis2: `ciu-admin dhis2 check | status | retry` (see admin_dhis2.h). */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "admin_dhis2.h"
#include "admin_util.h"
#include "common/cmn_daemon.h"
#include "common/cmn_log.h"
#include "common/cmn_settings.h"
#include "common/cmn_store.h"
#include "common/cmn_str.h"
#include "dhis_api.h"
#include "dhis_config.h"

#define S_EXIT_CHECK 1 /* a check failed */
#define S_BODY_MAX ((size_t)8 << 20)
#define S_FAILED_SHOWN 10          /* failed enrolments listed by status */
#define S_PROBE_CIU "ZZZZZZ0ZZ0"   /* a CIU nobody has: the search must answer, empty */
#define S_PROBE_CIU_1 "ZZZZZZ0ZZ1" /* the dry run's registration (gender 1) */

typedef struct {
    bool json;
    bool failed;
    const char *cmd;
} s_opts_t;

static void s_usage(FILE *f)
{
    fprintf(f, "usage: ciu-admin dhis2 check [--json]     verify the DHIS2 settings against the "
               "server\n"
               "       ciu-admin dhis2 status [--json]    enrolment queue, last error, bridges\n"
               "       ciu-admin dhis2 retry [--failed]   retry pending enrolments now; "
               "--failed: re-queue the failed ones\n"
               "See docs/dhis2.md.\n");
}

static int s_parse(int argc, char **argv, s_opts_t *o)
{
    static const struct option longopts[] = {{"json", no_argument, NULL, 'j'},
                                             {"failed", no_argument, NULL, 'f'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int c;
    memset(o, 0, sizeof(*o));
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'j':
            o->json = true;
            break;
        case 'f':
            o->failed = true;
            break;
        case 'h':
            s_usage(stdout);
            return CMN_BOOT_DONE;
        default:
            s_usage(stderr);
            return admin_fail(CMN_EXIT_USAGE, "dhis2: unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1) {
        s_usage(stderr);
        return CMN_EXIT_USAGE;
    }
    o->cmd = argv[optind];
    if (strcmp(o->cmd, "check") != 0 && strcmp(o->cmd, "status") != 0 &&
        strcmp(o->cmd, "retry") != 0) {
        s_usage(stderr);
        return admin_fail(CMN_EXIT_USAGE, "dhis2: unknown command '%s'", o->cmd);
    }
    if (o->failed && strcmp(o->cmd, "retry") != 0)
        return admin_fail(CMN_EXIT_USAGE, "dhis2: --failed goes with retry");
    if (o->json && strcmp(o->cmd, "retry") == 0)
        return admin_fail(CMN_EXIT_USAGE, "dhis2: retry has no --json");
    return 0;
}

/* ---- check ------------------------------------------------------------------ */

typedef struct {
    const dhis_config_t *cfg;
    admin_report_t *rep;
} s_check_t;

/* status: "ok", "warn", "FAIL" (a setting or DHIS2's metadata is wrong) or
 * "DOWN" (DHIS2 does not answer). */
static void s_report(s_check_t *k, const char *status, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void s_report(s_check_t *k, const char *status, const char *name, const char *fmt, ...)
{
    admin_status_t st = strcmp(status, "ok") == 0     ? ADMIN_OK
                        : strcmp(status, "warn") == 0 ? ADMIN_WARN
                        : strcmp(status, "DOWN") == 0 ? ADMIN_DOWN
                                                      : ADMIN_FAIL;
    va_list ap;
    va_start(ap, fmt);
    admin_vreport(k->rep, st, name, fmt, ap);
    va_end(ap);
}

typedef admin_http_t s_resp_t;

/* Blocking GET, or POST of a JSON body, with DHIS2's credentials when auth. */
static void s_call(const dhis_config_t *c, const char *url, bool auth, const char *body,
                   s_resp_t *r)
{
    const char *hd[] = {auth ? c->auth_header : NULL, NULL};
    admin_http_call(url, hd, auth ? c->userpwd : NULL, body, c->timeout_s, r);
}

static void s_get(const dhis_config_t *c, const char *url, bool auth, s_resp_t *r)
{
    s_call(c, url, auth, NULL, r);
}

/* GET base + path (+ query), parsed as JSON on 200. *ret_json NULL otherwise. */
static void s_get_json(const dhis_config_t *c, const char *path, s_resp_t *r, json_t **ret_json)
{
    cmn_str_t url = CMN_STR_INIT(8192);
    *ret_json = NULL;
    if (cmn_str_printf(&url, "%s%s", c->base_url, path) < 0) {
        memset(r, 0, sizeof(*r));
        cmn_strlcpy(r->error, "URL too long", sizeof(r->error));
        cmn_str_free(&url);
        return;
    }
    s_get(c, cmn_str_cstr(&url), true, r);
    if (r->status == 200)
        *ret_json = json_loads(cmn_str_cstr(&r->body), 0, NULL);
    cmn_str_free(&url);
}

static void s_resp_text(const s_resp_t *r, char *out, size_t len)
{
    dhis_error_text(r->status, r->error, cmn_str_cstr(&r->body), out, len);
}

/* Does the list of {"id"} / {"trackedEntityAttribute":{"id"}} objects hold uid? */
static bool s_has_id(json_t *list, const char *inner, const char *uid)
{
    size_t i;
    json_t *o;
    json_array_foreach(list, i, o)
    {
        json_t *x = inner ? json_object_get(o, inner) : o;
        const char *id = json_string_value(json_object_get(x, "id"));
        if (id && strcmp(id, uid) == 0)
            return true;
    }
    return false;
}

/* An attribute: exists, optionally unique, assigned to the tracked entity type. */
static void s_check_attribute(s_check_t *k, const char *name, const char *var, const char *uid,
                              bool ciu, json_t *tet_attrs)
{
    char path[256], err[512];
    s_resp_t r;
    json_t *j;
    snprintf(path, sizeof(path),
             "/api/trackedEntityAttributes/%s?fields=id,name,valueType,unique,orgunitScope", uid);
    s_get_json(k->cfg, path, &r, &j);
    if (j == NULL) {
        s_resp_text(&r, err, sizeof(err));
        s_report(k, "FAIL", name,
                 "%s=%s: no such tracked entity attribute, or the user may not read it (%s)", var,
                 uid, err);
        cmn_str_free(&r.body);
        return;
    }
    const char *aname = json_string_value(json_object_get(j, "name"));
    const char *vtype = json_string_value(json_object_get(j, "valueType"));
    bool assigned = tet_attrs == NULL || s_has_id(tet_attrs, "trackedEntityAttribute", uid);
    if (ciu && !json_is_true(json_object_get(j, "unique")))
        s_report(k, "FAIL", name,
                 "'%s' (%s) is not unique: in DHIS2 maintenance, tick Unique (system wide) so "
                 "DHIS2 refuses a second person with the same CIU (E1064)",
                 aname ? aname : "?", uid);
    else if (!assigned)
        s_report(k, "FAIL", name,
                 "'%s' (%s) is not an attribute of tracked entity type %s: add it to the "
                 "type's attributes",
                 aname ? aname : "?", uid, k->cfg->tet);
    else if (ciu && json_is_true(json_object_get(j, "orgunitScope")))
        s_report(k, "warn", name,
                 "'%s' (%s) is unique per org unit only: two people in two org units could hold "
                 "one CIU; prefer unique system wide",
                 aname ? aname : "?", uid);
    else if (ciu && vtype && strcmp(vtype, "TEXT") != 0 && strcmp(vtype, "LETTER") != 0)
        s_report(k, "warn", name, "'%s' (%s) has value type %s; TEXT suits a CIU",
                 aname ? aname : "?", uid, vtype);
    else
        s_report(k, "ok", name, "'%s' (%s)%s, attribute of the tracked entity type",
                 aname ? aname : "?", uid, ciu ? ", unique" : "");
    json_decref(j);
    cmn_str_free(&r.body);
}

static void s_check_org_unit(s_check_t *k, const char *uid, const char *what, json_t *me,
                             json_t *program)
{
    char path[256], err[512], name[80];
    s_resp_t r;
    json_t *j;
    snprintf(name, sizeof(name), "org unit %s", what);
    snprintf(path, sizeof(path), "/api/organisationUnits/%s?fields=id,name,path", uid);
    s_get_json(k->cfg, path, &r, &j);
    if (j == NULL) {
        s_resp_text(&r, err, sizeof(err));
        s_report(k, "FAIL", name, "%s: no such org unit, or the user may not read it (%s)", uid,
                 err);
        cmn_str_free(&r.body);
        return;
    }
    const char *ou_path = json_string_value(json_object_get(j, "path"));
    const char *ou_name = json_string_value(json_object_get(j, "name"));
    bool capture = false;
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(me, "organisationUnits"), i, o)
    {
        const char *id = json_string_value(json_object_get(o, "id"));
        if (id && ou_path && strstr(ou_path, id))
            capture = true;
    }
    if (!capture)
        s_report(k, "FAIL", name,
                 "'%s' (%s) is outside the API user's data capture org units: DHIS2 would "
                 "refuse it (E1000); assign the user this org unit or a parent",
                 ou_name ? ou_name : "?", uid);
    else if (program && !s_has_id(json_object_get(program, "organisationUnits"), NULL, uid))
        s_report(k, "FAIL", name,
                 "'%s' (%s) is not assigned to program %s: DHIS2 would refuse the enrollment "
                 "(E1041); assign it in the program's org units",
                 ou_name ? ou_name : "?", uid, k->cfg->program);
    else
        s_report(k, "ok", name, "'%s' (%s): in the user's capture org units%s",
                 ou_name ? ou_name : "?", uid, program ? " and in the program" : "");
    json_decref(j);
    cmn_str_free(&r.body);
}

int admin_dhis2_checks(const cmn_settings_t *st, admin_report_t *report)
{
    dhis_config_t *cfg = NULL;
    char *err = NULL, text[512], path[512];
    s_check_t k = {NULL, report};
    s_resp_t r;
    json_t *me = NULL, *tet = NULL, *program = NULL, *info = NULL;
    dhis_dialect_t d;
    int code = CMN_EXIT_OK, rc;

    rc = dhis_config_new(st, &cfg, &err);
    if (rc == -ENOENT) {
        s_report(&k, "FAIL", "configuration",
                 "DHIS2_BASE_URL: not set, DHIS2 is not configured (registrations wait as "
                 "pending; see docs/dhis2.md)");
        return CMN_EXIT_CONFIG;
    }
    if (rc < 0) {
        s_report(&k, "FAIL", "configuration", "%s", err ? err : cmn_strerror(rc));
        free(err);
        return CMN_EXIT_CONFIG;
    }
    k.cfg = cfg;
    s_report(&k, "ok", "configuration", "%s, %s", cfg->base_url,
             cfg->auth_header ? "personal access token" : "user and password (basic auth)");
    curl_global_init(CURL_GLOBAL_DEFAULT);

    /* reachable: /api/ping needs no credentials */
    snprintf(path, sizeof(path), "%s/api/ping", cfg->base_url);
    s_get(cfg, path, false, &r);
    if (r.status != 200) {
        s_resp_text(&r, text, sizeof(text));
        s_report(&k, "DOWN", "reachable",
                 "GET %s: %s (check DHIS2_BASE_URL: the server's address, with its context "
                 "path if any, e.g. https://host/dhis)",
                 path, text);
        cmn_str_free(&r.body);
        goto done;
    }
    s_report(&k, "ok", "reachable", "%s answers (%.0f ms)", cfg->base_url, r.seconds * 1000);
    cmn_str_free(&r.body);

    /* authentication */
    s_get_json(cfg, "/api/me?fields=id,username,authorities,organisationUnits[id]", &r, &me);
    if (me == NULL) {
        s_resp_text(&r, text, sizeof(text));
        s_report(&k, "FAIL", "authentication", "%s: %s", text,
                 r.status == 401 ? (cfg->auth_header ? "the token is refused (expired, revoked, "
                                                       "or not copied whole?): fix "
                                                       "DHIS2_API_TOKEN"
                                                     : "user or password refused: fix "
                                                       "DHIS2_API_USERNAME / DHIS2_API_PASSWORD")
                                 : "the user cannot read /api/me");
        cmn_str_free(&r.body);
        goto done;
    }
    s_report(&k, "ok", "authentication", "as user '%s'",
             json_string_value(json_object_get(me, "username"))
                 ? json_string_value(json_object_get(me, "username"))
                 : "?");
    cmn_str_free(&r.body);

    /* version */
    s_get_json(cfg, "/api/system/info", &r, &info);
    const char *version = json_string_value(json_object_get(info, "version"));
    if (version == NULL) {
        s_resp_text(&r, text, sizeof(text));
        s_report(&k, "FAIL", "version", "/api/system/info gave no version: %s", text);
        cmn_str_free(&r.body);
        goto done;
    }
    dhis_dialect_for(version, &d);
    if (d.assumed)
        s_report(&k, "warn", "version",
                 "DHIS2 %s is not a version ciu knows (2.%d to 2.%d): the bridge will use the "
                 "API of 2.%d",
                 version, DHIS_MINOR_OLDEST, DHIS_MINOR_NEWEST, d.minor);
    else
        s_report(&k, "ok", "version", "DHIS2 %s (API of 2.%d)", version, d.minor);
    cmn_str_free(&r.body);

    /* tracked entity type */
    snprintf(path, sizeof(path),
             "/api/trackedEntityTypes/%s?fields=id,name,"
             "trackedEntityTypeAttributes[trackedEntityAttribute[id]]",
             cfg->tet);
    s_get_json(cfg, path, &r, &tet);
    if (tet == NULL) {
        s_resp_text(&r, text, sizeof(text));
        s_report(&k, "FAIL", "tracked entity type",
                 "DHIS2_TRACKED_ENTITY_TYPE=%s: no such type, or the user may not read it (%s)",
                 cfg->tet, text);
    } else {
        const char *tname = json_string_value(json_object_get(tet, "name"));
        s_report(&k, "ok", "tracked entity type", "'%s' (%s)", tname ? tname : "?", cfg->tet);
    }
    cmn_str_free(&r.body);

    /* program */
    snprintf(path, sizeof(path),
             "/api/programs/%s?fields=id,name,programType,trackedEntityType[id],"
             "organisationUnits[id]",
             cfg->program);
    s_get_json(cfg, path, &r, &program);
    if (program == NULL) {
        s_resp_text(&r, text, sizeof(text));
        s_report(&k, "FAIL", "program",
                 "DHIS2_PROGRAM=%s: no such program, or the user may not read it (%s)",
                 cfg->program, text);
    } else {
        const char *pname = json_string_value(json_object_get(program, "name"));
        const char *ptype = json_string_value(json_object_get(program, "programType"));
        const char *ptet =
            json_string_value(json_object_get(json_object_get(program, "trackedEntityType"), "id"));
        if (ptype && strcmp(ptype, "WITH_REGISTRATION") != 0)
            s_report(&k, "FAIL", "program",
                     "'%s' (%s) is an event program (%s): use a tracker program (with "
                     "registration)",
                     pname ? pname : "?", cfg->program, ptype);
        else if (ptet && strcmp(ptet, cfg->tet) != 0)
            s_report(&k, "FAIL", "program",
                     "'%s' (%s) enrols tracked entity type %s, not DHIS2_TRACKED_ENTITY_TYPE=%s "
                     "(E1022)",
                     pname ? pname : "?", cfg->program, ptet, cfg->tet);
        else
            s_report(&k, "ok", "program", "'%s' (%s), tracker program of the type",
                     pname ? pname : "?", cfg->program);
    }
    cmn_str_free(&r.body);

    /* attributes */
    json_t *tet_attrs = tet ? json_object_get(tet, "trackedEntityTypeAttributes") : NULL;
    s_check_attribute(&k, "CIU attribute", "DHIS2_CIU_ATTRIBUTE", cfg->ciu_attr, true, tet_attrs);
    if (cfg->gender_attr[0])
        s_check_attribute(&k, "gender attribute", "DHIS2_GENDER_ATTRIBUTE", cfg->gender_attr, false,
                          tet_attrs);
    if (cfg->birth_attr[0])
        s_check_attribute(&k, "birth digit attribute", "DHIS2_BIRTH_DIGIT_ATTRIBUTE",
                          cfg->birth_attr, false, tet_attrs);

    /* org units */
    s_check_org_unit(&k, cfg->org_unit, "(DHIS2_ORG_UNIT)", me, program);
    for (size_t i = 0; i < cfg->ou_map_n; i++) {
        char what[64];
        snprintf(what, sizeof(what), "for city %s (DHIS2_ORG_UNIT_MAP)", cfg->ou_map[i].code);
        s_check_org_unit(&k, cfg->ou_map[i].uid, what, me, program);
    }

    /* the search the bridge makes */
    {
        cmn_str_t url = CMN_STR_INIT(8192);
        const char *one[] = {S_PROBE_CIU};
        dhis_found_t *found = NULL;
        size_t nfound = 0;
        dhis_url_search(cfg, &d, one, 1, &url);
        s_get(cfg, cmn_str_cstr(&url), true, &r);
        if (r.status == 200 &&
            dhis_parse_search(cfg, cmn_str_cstr(&r.body), &found, &nfound) == 0) {
            s_report(&k, "ok", "search",
                     "by tracked entity type and CIU attribute answers "
                     "(%.0f ms)",
                     r.seconds * 1000);
        } else {
            s_resp_text(&r, text, sizeof(text));
            s_report(&k, "FAIL", "search",
                     "GET /api/tracker/trackedEntities by the CIU attribute: %s (is the "
                     "attribute searchable, and the user's search org units set?)",
                     text);
        }
        free(found);
        cmn_str_free(&url);
        cmn_str_free(&r.body);
    }

    /* a registration as the bridge makes it, validated but not stored: sharing,
     * org units, mandatory attributes, the gender value of an option set... */
    {
        cmn_str_t url = CMN_STR_INIT(8192);
        char te[DHIS_UID_LEN], enr[DHIS_UID_LEN], day[11];
        dhis_report_t rep = {0};
        dhis_date(cmn_now_ms(), day);
        dhis_uid_new(te);
        dhis_uid_new(enr);
        dhis_item_t item = {S_PROBE_CIU_1, te, enr, cfg->org_unit, day, true};
        char *body = dhis_body_import(cfg, &item, 1);
        if (body && dhis_url_import(cfg, false, &url) == 0 &&
            cmn_str_appends(&url, "&importMode=VALIDATE") == 0) {
            s_call(cfg, cmn_str_cstr(&url), true, body, &r);
            if ((r.status == 200 || r.status == 409) &&
                dhis_parse_report(cmn_str_cstr(&r.body), &rep) == 0 && rep.nerrors == 0) {
                s_report(&k, "ok", "dry run",
                         "a registration as the bridge sends it passes DHIS2's validation "
                         "(importMode=VALIDATE, nothing stored)");
            } else if (rep.nerrors > 0) {
                s_report(&k, "FAIL", "dry run",
                         "DHIS2 would refuse a registration: %s: %s (%zu error%s; see "
                         "docs/dhis2.md, section 4)",
                         rep.errors[0].code, rep.errors[0].message, rep.nerrors,
                         rep.nerrors == 1 ? "" : "s");
            } else {
                s_resp_text(&r, text, sizeof(text));
                s_report(&k, "FAIL", "dry run", "POST /api/tracker (importMode=VALIDATE): %s",
                         text);
            }
            cmn_str_free(&r.body);
        }
        dhis_report_free(&rep);
        free(body);
        cmn_str_free(&url);
    }

    /* merging */
    if (cfg->auto_merge) {
        bool can = false;
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(me, "authorities"), i, a)
        {
            const char *s = json_string_value(a);
            if (s && (strcmp(s, "ALL") == 0 || strcmp(s, "F_TRACKED_ENTITY_MERGE") == 0))
                can = true;
        }
        if (can)
            s_report(&k, "ok", "auto merge", "DHIS2_AUTO_MERGE=true and the user may merge");
        else
            s_report(&k, "FAIL", "auto merge",
                     "DHIS2_AUTO_MERGE=true but the user lacks F_TRACKED_ENTITY_MERGE: give it "
                     "the authority, or leave merging to people (DHIS2_AUTO_MERGE=false)");
    } else {
        s_report(&k, "ok", "auto merge",
                 "off: potential duplicates wait for a person in DHIS2's deduplication screen");
    }
done:
    curl_global_cleanup();
    json_decref(me);
    json_decref(tet);
    json_decref(program);
    json_decref(info);
    dhis_config_destroy(&cfg);
    return code;
}

static int s_check(const s_opts_t *o)
{
    cmn_settings_t st;
    char *err = NULL;
    admin_report_t k = {.json = o->json, .key = "check"};
    int code;

    if (cmn_settings_load(&st, &err) < 0) {
        code = admin_fail(CMN_EXIT_CONFIG, "bad configuration: %s", err ? err : "?");
        free(err);
        return code;
    }
    code = admin_dhis2_checks(&st, &k);
    if (code == CMN_EXIT_OK && k.failures > 0)
        code = S_EXIT_CHECK;
    if (o->json) {
        json_t *j =
            json_pack("{s:b, s:i, s:i, s:o}", "ok", k.failures == 0 && code == 0, "failures",
                      k.failures, "warnings", k.warnings, "checks", k.list ? k.list : json_array());
        k.list = NULL;
        int pc = admin_print_json(j);
        if (code == CMN_EXIT_OK)
            code = pc;
    } else if (k.failures == 0 && code == CMN_EXIT_OK) {
        printf("all checks passed%s: ciu-dhis2-bridge can enrol people in this DHIS2\n",
               k.warnings ? " (see the warnings)" : "");
    } else {
        printf("%d check%s failed: fix the settings or DHIS2 as said, then run this again\n",
               k.failures, k.failures == 1 ? "" : "s");
    }
    json_decref(k.list);
    cmn_settings_free(&st);
    return code;
}

/* ---- status and retry ---------------------------------------------------------- */

typedef admin_db_t s_db_t;

/* The store, with the DHIS2 tables (migration 3). */
static int s_open(s_db_t *db)
{
    int code = admin_db_open(db, false), v = 0;
    if (code == CMN_EXIT_OK && (cmn_store_schema_version(db->store, &v) < 0 || v < 3))
        code = admin_fail(CMN_EXIT_UNAVAILABLE, "the store has no DHIS2 tables yet: run "
                                                "'ciu-admin migrate' or start a daemon");
    return code;
}

static void s_close(s_db_t *db)
{
    admin_db_close(db);
}

static int s_status(const s_opts_t *o)
{
    s_db_t db;
    cmn_rows_t *counts = NULL, *oldest = NULL, *last = NULL, *bridges = NULL, *dups = NULL,
               *failed = NULL;
    int64_t now = cmn_now_ms();
    int code;
    memset(&db, 0, sizeof(db));
    code = s_open(&db);
    if (code != CMN_EXIT_OK)
        goto out;
    cmn_store_t *st = db.store;
    cmn_param_t lim[] = {P_INT(S_FAILED_SHOWN)};
    if (cmn_store_query(st, "SELECT status, COUNT(*) FROM dhis2_sync GROUP BY status", NULL, 0,
                        &counts) < 0 ||
        cmn_store_query(st,
                        "SELECT MIN(created_ms) FROM dhis2_sync WHERE status IN ('queued', "
                        "'pending')",
                        NULL, 0, &oldest) < 0 ||
        cmn_store_query(st,
                        "SELECT updated_ms, status, http_status, error_codes, last_error FROM "
                        "dhis2_sync WHERE last_error IS NOT NULL ORDER BY updated_ms DESC, id "
                        "DESC LIMIT 1",
                        NULL, 0, &last) < 0 ||
        cmn_store_query(st,
                        "SELECT replica, state, version, detail, since_ms, updated_ms FROM "
                        "dhis2_bridges ORDER BY replica",
                        NULL, 0, &bridges) < 0 ||
        cmn_store_query(st, "SELECT status, COUNT(*) FROM dhis2_duplicates GROUP BY status", NULL,
                        0, &dups) < 0 ||
        cmn_store_query(st,
                        "SELECT id, ciu, error_codes, last_error, updated_ms FROM dhis2_sync "
                        "WHERE status = 'failed' ORDER BY updated_ms DESC, id DESC LIMIT $1",
                        lim, 1, &failed) < 0) {
        code = admin_fail(CMN_EXIT_UNAVAILABLE, "cannot read the DHIS2 queue: %s",
                          cmn_store_errmsg(st));
        goto out;
    }
    const char *base = db.settings.dhis2_base_url;
    bool configured = base && *base;
    int64_t n[4] = {0, 0, 0, 0}; /* queued, pending, synced, failed */
    static const char *const names[4] = {"queued", "pending", "synced", "failed"};
    for (int i = 0; i < cmn_rows_count(counts); i++)
        for (int s = 0; s < 4; s++)
            if (strcmp(cmn_rows_get(counts, i, 0), names[s]) == 0)
                n[s] = cmn_rows_int(counts, i, 1, 0);
    int64_t oldest_ms = cmn_rows_int(oldest, 0, 0, 0);
    char when[32], age[32];

    if (o->json) {
        json_t *j = json_object(), *c = json_object(), *b = json_array(), *u = json_object(),
               *f = json_array(), *le = json_null();
        json_object_set_new(j, "configured", json_boolean(configured));
        json_object_set_new(j, "base_url", admin_json_text(configured ? base : NULL));
        for (int s = 0; s < 4; s++)
            json_object_set_new(c, names[s], json_integer(n[s]));
        json_object_set_new(j, "enrolments", c);
        json_object_set_new(j, "oldest_pending_age_s",
                            oldest_ms ? json_integer((now - oldest_ms) / 1000) : json_null());
        if (cmn_rows_count(last) > 0) {
            admin_iso(cmn_rows_int(last, 0, 0, 0), when);
            le = json_pack("{s:s, s:s, s:I, s:o, s:o}", "at", when, "status",
                           cmn_rows_get(last, 0, 1), "http_status",
                           (json_int_t)cmn_rows_int(last, 0, 2, 0), "error_codes",
                           admin_json_text(cmn_rows_get(last, 0, 3)), "message",
                           admin_json_text(cmn_rows_get(last, 0, 4)));
        }
        json_object_set_new(j, "last_error", le);
        for (int i = 0; i < cmn_rows_count(bridges); i++) {
            char since[32], seen[32];
            admin_iso(cmn_rows_int(bridges, i, 4, 0), since);
            admin_iso(cmn_rows_int(bridges, i, 5, 0), seen);
            json_array_append_new(
                b, json_pack("{s:s, s:s, s:o, s:o, s:s, s:s}", "replica",
                             cmn_rows_get(bridges, i, 0), "state", cmn_rows_get(bridges, i, 1),
                             "version", admin_json_text(cmn_rows_get(bridges, i, 2)), "detail",
                             admin_json_text(cmn_rows_get(bridges, i, 3)), "since", since, "seen",
                             seen));
        }
        json_object_set_new(j, "bridges", b);
        for (int i = 0; i < cmn_rows_count(dups); i++)
            json_object_set_new(u, cmn_rows_get(dups, i, 0),
                                json_integer(cmn_rows_int(dups, i, 1, 0)));
        json_object_set_new(j, "duplicates", u);
        for (int i = 0; i < cmn_rows_count(failed); i++) {
            admin_iso(cmn_rows_int(failed, i, 4, 0), when);
            json_array_append_new(
                f, json_pack("{s:I, s:s, s:o, s:o, s:s}", "id",
                             (json_int_t)cmn_rows_int(failed, i, 0, 0), "ciu",
                             cmn_rows_get(failed, i, 1), "error_codes",
                             admin_json_text(cmn_rows_get(failed, i, 2)), "message",
                             admin_json_text(cmn_rows_get(failed, i, 3)), "at", when));
        }
        json_object_set_new(j, "failed", f);
        code = admin_print_json(j);
        goto out;
    }
    printf("%-18s%s\n", "DHIS2:",
           configured ? base : "not configured here (DHIS2_BASE_URL is empty): enrolments wait");
    for (int i = 0; i < cmn_rows_count(bridges); i++) {
        const char *state = cmn_rows_get(bridges, i, 1), *v = cmn_rows_get(bridges, i, 2),
                   *detail = cmn_rows_get(bridges, i, 3);
        char since[32];
        admin_iso(cmn_rows_int(bridges, i, 4, 0), since);
        admin_age(now - cmn_rows_int(bridges, i, 5, 0), age);
        printf("bridge %s: %s since %s%s%s (seen %s ago)%s%s\n", cmn_rows_get(bridges, i, 0),
               strcmp(state, "open") == 0     ? "circuit open (DHIS2 unreachable)"
               : strcmp(state, "paused") == 0 ? "paused (credentials refused)"
                                              : state,
               since, v ? ", DHIS2 " : "", v ? v : "", age, detail ? ": " : "",
               detail ? detail : "");
    }
    if (oldest_ms)
        admin_age(now - oldest_ms, age);
    printf("%-18s%lld%s%s%s\n", "pending:", (long long)(n[0] + n[1]), oldest_ms ? " (oldest " : "",
           oldest_ms ? age : "", oldest_ms ? ")" : "");
    printf("%-18s%lld\n", "synced:", (long long)n[2]);
    printf("%-18s%lld%s\n", "failed:", (long long)n[3],
           n[3] ? " (fix, then: ciu-admin dhis2 retry --failed)" : "");
    if (cmn_rows_count(last) > 0) {
        admin_iso(cmn_rows_int(last, 0, 0, 0), when);
        printf("%-18s%s %s%s%s %s\n", "last error:", when, cmn_rows_get(last, 0, 3) ? "[" : "",
               cmn_rows_get(last, 0, 3) ? cmn_rows_get(last, 0, 3) : "",
               cmn_rows_get(last, 0, 3) ? "]" : "", cmn_rows_get(last, 0, 4));
    } else {
        printf("%-18s%s\n", "last error:", "none");
    }
    printf("%-18s", "duplicates:");
    if (cmn_rows_count(dups) == 0)
        printf("none sent");
    for (int i = 0; i < cmn_rows_count(dups); i++)
        printf("%s%s %lld", i ? ", " : "", cmn_rows_get(dups, i, 0),
               (long long)cmn_rows_int(dups, i, 1, 0));
    printf("\n");
    if (cmn_rows_count(failed) > 0)
        printf("failed enrolments (most recent first):\n");
    for (int i = 0; i < cmn_rows_count(failed); i++)
        printf("  %-6lld %-10s %-12s %s\n", (long long)cmn_rows_int(failed, i, 0, 0),
               cmn_rows_get(failed, i, 1),
               cmn_rows_get(failed, i, 2) ? cmn_rows_get(failed, i, 2) : "-",
               cmn_rows_get(failed, i, 3) ? cmn_rows_get(failed, i, 3) : "");
out:
    cmn_rows_destroy(&counts);
    cmn_rows_destroy(&oldest);
    cmn_rows_destroy(&last);
    cmn_rows_destroy(&bridges);
    cmn_rows_destroy(&dups);
    cmn_rows_destroy(&failed);
    s_close(&db);
    return code;
}

static int s_retry(const s_opts_t *o)
{
    s_db_t db;
    int64_t now = cmn_now_ms(), rows = 0, drows = 0;
    int code, r;
    memset(&db, 0, sizeof(db));
    code = s_open(&db);
    if (code != CMN_EXIT_OK)
        goto out;
    cmn_param_t p[] = {P_INT(now)};
    r = cmn_store_begin(db.store);
    if (r == 0 && o->failed)
        r = cmn_store_exec(db.store,
                           "UPDATE dhis2_sync SET status = 'pending', attempts = 0, conflicts = "
                           "0, next_ms = $1, updated_ms = $1, last_error = NULL, error_codes = "
                           "NULL, http_status = NULL WHERE status = 'failed'",
                           p, 1, &rows);
    else if (r == 0)
        r = cmn_store_exec(db.store,
                           "UPDATE dhis2_sync SET next_ms = $1 WHERE status = 'pending' AND "
                           "next_ms > $1 AND lease_until <= $1",
                           p, 1, &rows);
    if (r == 0 && o->failed)
        r = cmn_store_exec(db.store,
                           "UPDATE dhis2_duplicates SET status = 'pending', attempts = 0, "
                           "next_ms = $1, updated_ms = $1, last_error = NULL WHERE status IN "
                           "('failed', 'skipped')",
                           p, 1, &drows);
    else if (r == 0)
        r = cmn_store_exec(db.store,
                           "UPDATE dhis2_duplicates SET next_ms = $1 WHERE status = 'pending' "
                           "AND next_ms > $1 AND lease_until <= $1",
                           p, 1, &drows);
    if (r == 0)
        r = cmn_store_commit(db.store);
    if (r < 0) {
        cmn_store_rollback(db.store);
        code = admin_fail(CMN_EXIT_UNAVAILABLE, "cannot re-queue: %s", cmn_store_errmsg(db.store));
        goto out;
    }
    if (o->failed)
        printf("re-queued %lld failed enrolments and %lld potential duplicates; the bridge "
               "sends them within CIU_RESCAN_MS\n",
               (long long)rows, (long long)drows);
    else
        printf("%lld pending enrolments and %lld potential duplicates waiting for a retry are "
               "due now\n",
               (long long)rows, (long long)drows);
out:
    s_close(&db);
    return code;
}

int admin_dhis2_main(int argc, char **argv)
{
    s_opts_t o;
    int code = s_parse(argc, argv, &o);
    if (code == CMN_BOOT_DONE)
        return CMN_EXIT_OK;
    if (code != 0)
        return code;
    if (strcmp(o.cmd, "check") == 0)
        return s_check(&o);
    if (strcmp(o.cmd, "status") == 0)
        return s_status(&o);
    return s_retry(&o);
}
