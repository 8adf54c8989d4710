/* admin_check: `ciu-admin check` (see admin_check.h). */
#include <ctype.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "admin_check.h"
#include "admin_dhis2.h"
#include "admin_i18n.h"
#include "admin_util.h"
#include "common/cmn_channels.h"
#include "common/cmn_crypto.h"
#include "common/cmn_daemon.h"
#include "common/cmn_log.h"
#include "common/cmn_settings.h"
#include "common/cmn_store.h"
#include "common/cmn_str.h"

#define S_TIMEOUT_S 5L
#define S_SALT_MIN 32
#define S_PASSWORD_MIN 12
#define S_URL_MAX 4096

static const char s_usage[] =
    "usage: ciu-admin check [--json]\n"
    "Everything to get right before going live, one line each (ok, warn or FAIL and\n"
    "the fix): configuration, store and schema, UIC_SALT, each enabled channel's\n"
    "credentials (a harmless API call), the public webhook URL, QR codes, DHIS2\n"
    "(as 'dhis2 check'), CIU_ADMIN_PASSWORD. Calls time out after 5 s.\n"
    "Exit status: 0 all ok (warnings allowed), 78 a setting is wrong, 69 something\n"
    "does not answer.\n";

bool admin_salt_is_placeholder(const char *salt)
{
    static const char *const examples[] = {"change", "example", "secret", "salt",
                                           "your",   "replace", "xxxx",   "todo"};
    bool seen[256] = {false};
    int distinct = 0;
    for (size_t i = 0; i < sizeof(examples) / sizeof(examples[0]); i++)
        if (strcasestr(salt, examples[i]))
            return true;
    for (const unsigned char *p = (const unsigned char *)salt; *p; p++)
        if (!seen[*p]) {
            seen[*p] = true;
            distinct++;
        }
    return distinct < 8;
}

/* --- items -------------------------------------------------------------- */

static void s_check_store(admin_report_t *k, const cmn_settings_t *s)
{
    char *url = cmn_settings_store_url(s), *shown = cmn_settings_store_describe(s);
    char msg[512] = "";
    cmn_store_t *st = NULL;
    int version = 0, latest = cmn_store_schema_latest();
    bool sqlite =
        url && strncmp(url, "postgres://", 11) != 0 && strncmp(url, "postgresql://", 13) != 0;

    if (url == NULL || shown == NULL) {
        admin_report(k, ADMIN_FAIL, "store", "out of memory");
    } else if (sqlite && access(url, F_OK) != 0) {
        admin_report(k, ADMIN_FAIL, "store",
                     "%s does not exist: check CIU_DATA_DIR / DATABASE_URL, then run "
                     "'ciu-admin migrate'",
                     shown);
    } else if (cmn_store_open(url, &st, msg, sizeof(msg)) < 0 ||
               cmn_store_set_timeout(st, S_TIMEOUT_S * 1000) < 0 || cmn_store_ping(st) < 0) {
        admin_report(k, ADMIN_DOWN, "store",
                     "%s: %s (is the database server running? check "
                     "DATABASE_URL)",
                     shown, msg[0] ? msg : cmn_store_errmsg(st));
    } else if (cmn_store_schema_version(st, &version) < 0) {
        admin_report(k, ADMIN_DOWN, "store", "%s: %s", shown, cmn_store_errmsg(st));
    } else if (version < latest) {
        admin_report(k, ADMIN_FAIL, "store",
                     "%s: schema version %d, this build needs %d: run 'ciu-admin migrate'", shown,
                     version, latest);
    } else if (version > latest) {
        admin_report(k, ADMIN_FAIL, "store",
                     "%s: schema version %d is newer than this build's %d: install the "
                     "matching ciu version",
                     shown, version, latest);
    } else {
        admin_report(k, ADMIN_OK, "store", "%s, schema version %d (up to date)", shown, version);
    }
    cmn_store_destroy(&st);
    free(url);
    free(shown);
}

static void s_check_salt(admin_report_t *k, const cmn_settings_t *s)
{
    const char *salt = s->uic_salt;
    size_t len = salt ? strlen(salt) : 0;
    if (len == 0 && s->simulator)
        admin_report(k, ADMIN_WARN, "UIC_SALT",
                     "not set: the simulator demo keeps a salt in %s/uic_salt; before going "
                     "live set UIC_SALT (ciu-admin gen-salt) and keep a copy in a safe place",
                     s->data_dir);
    else if (len == 0)
        admin_report(k, ADMIN_FAIL, "UIC_SALT",
                     "not set: generate one with 'ciu-admin gen-salt', put it in .env and keep "
                     "a copy in a safe place");
    else if (len < S_SALT_MIN)
        admin_report(k, ADMIN_FAIL, "UIC_SALT",
                     "%zu characters, at least %d needed: use 'ciu-admin gen-salt' (only before "
                     "the bot is in use: a new salt unlinks every stored number)",
                     len, S_SALT_MIN);
    else if (admin_salt_is_placeholder(salt))
        admin_report(k, ADMIN_FAIL, "UIC_SALT",
                     "looks like an example value, not a secret: use 'ciu-admin gen-salt' (only "
                     "before the bot is in use)");
    else
        admin_report(k, ADMIN_OK, "UIC_SALT", "set, %zu characters", len);
}

/* A provider's error code and message out of its JSON error body. */
static void s_provider_error(const char *body, bool meta, char *out, size_t len)
{
    json_t *j = json_loads(body ? body : "", 0, NULL);
    json_t *e = meta ? json_object_get(j, "error") : j;
    const char *msg = json_string_value(json_object_get(e, "message"));
    json_int_t code = json_integer_value(json_object_get(e, "code"));
    if (msg)
        snprintf(out, len, "error %lld: %.200s", (long long)code, msg);
    else
        cmn_strlcpy(out, "no error details", len);
    json_decref(j);
}

static void s_check_twilio(admin_report_t *k, const cmn_settings_t *s)
{
    cmn_str_t url = CMN_STR_INIT(S_URL_MAX), cred = CMN_STR_INIT(1024);
    admin_http_t r;
    char err[300];
    cmn_str_printf(&url, "%s/2010-04-01/Accounts/%s.json", s->twilio_api_base,
                   s->twilio_account_sid);
    cmn_str_printf(&cred, "%s:%s", s->twilio_account_sid, s->twilio_auth_token);
    admin_http_call(cmn_str_cstr(&url), NULL, cmn_str_cstr(&cred), NULL, S_TIMEOUT_S, &r);
    cmn_str_free(&cred);
    s_provider_error(cmn_str_cstr(&r.body), false, err, sizeof(err));
    if (r.status == 200) {
        json_t *j = json_loads(cmn_str_cstr(&r.body), 0, NULL);
        const char *status = json_string_value(json_object_get(j, "status"));
        const char *name = json_string_value(json_object_get(j, "friendly_name"));
        if (status && strcmp(status, "active") != 0)
            admin_report(k, ADMIN_FAIL, "Twilio",
                         "account '%s' is %s: Twilio will not send; reactivate it in the Twilio "
                         "console",
                         name ? name : "?", status);
        else
            admin_report(k, ADMIN_OK, "Twilio",
                         "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN accepted (account '%s')",
                         name ? name : "?");
        json_decref(j);
    } else if (r.status == 401 || r.status == 403) {
        admin_report(k, ADMIN_FAIL, "Twilio",
                     "credentials refused (%s): fix TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN (the "
                     "Twilio console, Account info)",
                     err);
    } else if (r.status == 404) {
        admin_report(k, ADMIN_FAIL, "Twilio",
                     "no such account (%s): fix TWILIO_ACCOUNT_SID (AC followed by 32 hex "
                     "digits)",
                     err);
    } else if (r.status == 0 || r.status >= 500) {
        admin_report(k, ADMIN_DOWN, "Twilio",
                     "%s does not answer (%s): check "
                     "TWILIO_API_BASE_URL and the outbound network",
                     s->twilio_api_base, r.status ? err : r.error);
    } else {
        admin_report(k, ADMIN_FAIL, "Twilio", "HTTP %ld (%s)", r.status, err);
    }
    cmn_str_free(&r.body);
    cmn_str_free(&url);
}

static void s_check_meta(admin_report_t *k, const cmn_settings_t *s)
{
    cmn_str_t url = CMN_STR_INIT(S_URL_MAX), auth = CMN_STR_INIT(4096);
    admin_http_t r;
    char err[300];
    cmn_str_printf(&url, "%s/%s/%s?fields=display_phone_number,verified_name", s->meta_graph_base,
                   s->meta_api_version, s->meta_phone_number_id);
    cmn_str_printf(&auth, "Authorization: Bearer %s", s->meta_token);
    const char *hd[] = {cmn_str_cstr(&auth), NULL};
    admin_http_call(cmn_str_cstr(&url), hd, NULL, NULL, S_TIMEOUT_S, &r);
    cmn_str_free(&auth);
    s_provider_error(cmn_str_cstr(&r.body), true, err, sizeof(err));
    if (r.status == 200) {
        json_t *j = json_loads(cmn_str_cstr(&r.body), 0, NULL);
        const char *name = json_string_value(json_object_get(j, "verified_name"));
        const char *number = json_string_value(json_object_get(j, "display_phone_number"));
        char masked[CMN_MASK_LEN];
        admin_report(k, ADMIN_OK, "Meta",
                     "META_ACCESS_TOKEN accepted for META_PHONE_NUMBER_ID (number %s, '%s')",
                     cmn_mask_phone(number ? number : "", masked), name ? name : "?");
        json_decref(j);
    } else if (r.status == 401 || r.status == 403) {
        admin_report(k, ADMIN_FAIL, "Meta",
                     "token refused (%s): fix META_ACCESS_TOKEN (a system user's permanent "
                     "token with whatsapp_business_messaging)",
                     err);
    } else if (r.status == 400 || r.status == 404) {
        admin_report(k, ADMIN_FAIL, "Meta",
                     "phone number id not found for this token (%s): fix META_PHONE_NUMBER_ID "
                     "(WhatsApp Manager, API setup) or META_API_VERSION",
                     err);
    } else if (r.status == 0 || r.status >= 500) {
        admin_report(k, ADMIN_DOWN, "Meta",
                     "%s does not answer (%s): check "
                     "META_GRAPH_BASE_URL and the outbound network",
                     s->meta_graph_base, r.status ? err : r.error);
    } else {
        admin_report(k, ADMIN_FAIL, "Meta", "HTTP %ld (%s)", r.status, err);
    }
    cmn_str_free(&r.body);
    cmn_str_free(&url);
}

/* The public URL as Twilio and Meta reach it. */
static void s_check_webhook(admin_report_t *k, const cmn_settings_t *s, const cmn_channels_t *ch)
{
    cmn_str_t url = CMN_STR_INIT(S_URL_MAX);
    admin_http_t r;
    char challenge[33];

    if (!s->public_url || !*s->public_url) {
        admin_report(k, ADMIN_FAIL, "webhook",
                     "PUBLIC_BASE_URL: not set: Twilio and Meta need the public https origin of "
                     "ciu-ingress, e.g. https://ciu.example.org");
        return;
    }
    if (ch->meta) {
        CURL *h = curl_easy_init();
        char *tok =
            h ? curl_easy_escape(h, s->meta_verify_token ? s->meta_verify_token : "", 0) : NULL;
        if (cmn_random_hex(challenge, sizeof(challenge), 16) < 0)
            cmn_strlcpy(challenge, "1158201444", sizeof(challenge));
        cmn_str_printf(&url, "%s%s?hub.mode=subscribe&hub.verify_token=%s&hub.challenge=%s",
                       s->public_url, s->webhook_path, tok ? tok : "", challenge);
        curl_free(tok);
        curl_easy_cleanup(h);
        admin_http_call(cmn_str_cstr(&url), NULL, NULL, NULL, S_TIMEOUT_S, &r);
        if (r.status == 200 && strcmp(cmn_str_cstr(&r.body), challenge) == 0)
            admin_report(k, ADMIN_OK, "webhook",
                         "%s%s answers Meta's verification (the challenge came back)",
                         s->public_url, s->webhook_path);
        else if (r.status == 403)
            admin_report(k, ADMIN_FAIL, "webhook",
                         "%s%s refused the verification: the running ciu-ingress has another "
                         "META_VERIFY_TOKEN (restart it after a change) or is not this bot",
                         s->public_url, s->webhook_path);
        else if (r.status == 0)
            admin_report(k, ADMIN_DOWN, "webhook",
                         "%s%s does not answer (%s): is ciu-ingress running and reachable at "
                         "PUBLIC_BASE_URL (DNS, TLS, reverse proxy, firewall)?",
                         s->public_url, s->webhook_path, r.error);
        else
            admin_report(k, ADMIN_FAIL, "webhook",
                         "%s%s: HTTP %ld instead of the challenge: check WEBHOOK_PATH and the "
                         "reverse proxy",
                         s->public_url, s->webhook_path, r.status);
    } else {
        cmn_str_printf(&url, "%s/health", s->public_url);
        admin_http_call(cmn_str_cstr(&url), NULL, NULL, NULL, S_TIMEOUT_S, &r);
        if (r.status == 200)
            admin_report(k, ADMIN_OK, "webhook", "%s/health answers: Twilio reaches %s%s",
                         s->public_url, s->public_url, s->webhook_path);
        else if (r.status == 0)
            admin_report(k, ADMIN_DOWN, "webhook",
                         "%s/health does not answer (%s): is ciu-ingress running and reachable "
                         "at PUBLIC_BASE_URL (DNS, TLS, reverse proxy, firewall)?",
                         s->public_url, r.error);
        else
            admin_report(k, ADMIN_DOWN, "webhook",
                         "%s/health: HTTP %ld: ciu-ingress is not healthy (its store?) or "
                         "PUBLIC_BASE_URL points elsewhere",
                         s->public_url, r.status);
    }
    cmn_str_free(&r.body);
    cmn_str_free(&url);
}

static void s_check_qr(admin_report_t *k, const cmn_settings_t *s, const cmn_channels_t *ch)
{
    if (!s->enable_qr)
        return;
    if ((ch->twilio || ch->meta) && (!s->public_url || !*s->public_url))
        admin_report(k, ADMIN_FAIL, "QR codes",
                     "ENABLE_QR_CODE=true needs PUBLIC_BASE_URL: the providers fetch the "
                     "images from ciu-ingress");
    else
        admin_report(k, ADMIN_OK, "QR codes", "on, images valid %ld s (CIU_MEDIA_TTL_SECONDS)",
                     s->media_ttl_s);
}

static void s_check_password(admin_report_t *k)
{
    const char *pw = getenv("CIU_ADMIN_PASSWORD");
    if (pw == NULL)
        return;
    if (strlen(pw) < S_PASSWORD_MIN)
        admin_report(k, ADMIN_WARN, "CIU_ADMIN_PASSWORD",
                     "only %zu characters: use at least %d (e.g. ciu-admin gen-salt)", strlen(pw),
                     S_PASSWORD_MIN);
    else
        admin_report(k, ADMIN_OK, "CIU_ADMIN_PASSWORD", "set, %zu characters", strlen(pw));
}

static void s_run(admin_report_t *k)
{
    cmn_settings_t s;
    cmn_channels_t ch;
    char *err = NULL, desc[64];

    if (cmn_settings_load(&s, &err) < 0) {
        admin_report(k, ADMIN_FAIL, "configuration", "%s", err ? err : "?");
        free(err);
        return;
    }
    if (cmn_channels_load(&s, &ch, &err) < 0) {
        admin_report(k, ADMIN_FAIL, "configuration", "%s", err ? err : "?");
        free(err);
        cmn_settings_free(&s);
        return;
    }
    admin_report(k, ADMIN_OK, "configuration", "every variable parses; channels: %s",
                 cmn_channels_describe(&ch, desc, sizeof(desc)));
    s_check_store(k, &s);
    s_check_salt(k, &s);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (ch.twilio)
        s_check_twilio(k, &s);
    if (ch.meta)
        s_check_meta(k, &s);
    if (!ch.twilio && !ch.meta)
        admin_report(k, ADMIN_WARN, "channels",
                     "no WhatsApp channel: set the Twilio or the Meta variables (docs/channels.md)"
                     "%s",
                     !ch.simulator ? ""
                     : k->json     ? "; only the simulator answers"
                                   : admin_tr("; only the simulator answers"));
    if (ch.twilio || ch.meta)
        s_check_webhook(k, &s, &ch);
    s_check_qr(k, &s, &ch);
    if (s.dhis2_base_url && *s.dhis2_base_url) {
        admin_report_t d = *k;
        d.prefix = "DHIS2 ";
        admin_dhis2_checks(&s, &d);
        d.prefix = k->prefix;
        *k = d;
    } else {
        admin_report(k, ADMIN_OK, "DHIS2",
                     "not configured (DHIS2_BASE_URL empty): CIUs are registered locally only");
    }
    s_check_password(k);
    curl_global_cleanup();
    cmn_settings_free(&s);
}

int admin_check_main(int argc, char **argv)
{
    admin_report_t k = {.key = "item"};
    int code;

    if (admin_wants_help(argc, argv, s_usage))
        return CMN_EXIT_OK;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            k.json = true;
        else
            return admin_fail(CMN_EXIT_USAGE, "check: unknown argument '%s' (see --help)", argv[i]);
    }
    s_run(&k);
    code = k.code;
    if (k.json) {
        json_t *j = json_pack("{s:b, s:i, s:i, s:o}", "ok", k.failures == 0, "failures", k.failures,
                              "warnings", k.warnings, "items", k.list ? k.list : json_array());
        k.list = NULL;
        int pc = admin_print_json(j);
        return code == CMN_EXIT_OK ? pc : code;
    }
    if (k.failures == 0 && k.warnings == 0)
        printf("%s", admin_tr("ready: every check passed\n"));
    else if (k.failures == 0)
        printf(admin_tr("ready, with %d warnings (see above)\n"), k.warnings);
    else
        printf(admin_tr("failed: %d; fix as said above, then run ciu-admin check again\n"),
               k.failures);
    return code;
}
