/* cmn_settings: the one configuration table of ciu. See cmn_settings.h and
 * docs/configuration.md (keep that table in step with this one). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cmn_config.h"
#include "common/cmn_crypto.h"
#include "common/cmn_log.h"
#include "common/cmn_settings.h"
#include "common/cmn_str.h"

#ifndef CIU_SHARE_DIR_DEFAULT
#define CIU_SHARE_DIR_DEFAULT "./share"
#endif

#define SALT_MIN 32          /* characters of UIC_SALT */
#define SALT_FILE "uic_salt" /* in data_dir, simulator demo only */
#define SALT_FILE_MAX 4096

#define F(field) offsetof(cmn_settings_t, field)
#define STR(name, alias, def, field, help) {name, alias, CMN_CFG_STR, def, 0, 0, F(field), help}
#define SECRET(name, alias, field, help) {name, alias, CMN_CFG_SECRET, NULL, 0, 0, F(field), help}
#define INT(name, def, min, max, field, help)                                             \
    {name, NULL, CMN_CFG_INT, def, min, max, F(field), help}
#define BOOL(name, def, field, help) {name, NULL, CMN_CFG_BOOL, def, 0, 0, F(field), help}

static const cmn_cfg_entry_t s_table[] = {
    /* storage and identity */
    STR("CIU_DATA_DIR", NULL, "./data", data_dir,
        "folder for the SQLite database, the demo salt and other local state"),
    STR("DATABASE_URL", NULL, "", database_url,
        "postgresql://... for PostgreSQL; empty for SQLite at <CIU_DATA_DIR>/ciu.db"),
    INT("CIU_RETENTION_INTERVAL_S", "3600", 1, 604800, retention_interval_s,
        "seconds between the automatic purges of ciu-conversation (CIU_RETENTION_DAYS)"),
    INT("CIU_RETENTION_DAYS", "90", 0, 36500, retention_days,
        "days finished work (processed messages, sent replies, delivery reports, events, old "
        "sessions) is kept before ciu-admin purge deletes it; 0 keeps it forever"),
    SECRET("DATABASE_PASSWORD", NULL, database_password,
           "password of the PostgreSQL user when DATABASE_URL has none (docker secrets: "
           "DATABASE_PASSWORD_FILE)"),
    STR("CIU_SQLITE_SYNCHRONOUS", NULL, "full", sqlite_synchronous,
        "SQLite durability: full (every commit on disk before the webhook is answered) or "
        "normal (survives a process crash, not a power loss or OS crash: the last commits "
        "may be lost)"),
    SECRET("UIC_SALT", NULL, uic_salt,
           "secret key for the keyed hashes of phone numbers, at least 32 characters"),
    BOOL("CIU_SIMULATOR", "false", simulator, "enable the simulator channel (demo)"),
    STR("CIU_SIM_ALLOWED_HOSTS", NULL, "localhost,127.0.0.1,[::1]", sim_allowed_hosts,
        "comma-separated host names the simulator (/sim/) answers in the Host header, any "
        "port unless one is given (name:port); * allows any (anti DNS rebinding)"),
    /* logging */
    STR("LOG_LEVEL", NULL, "info", log_level, "debug, info, warning or error"),
    BOOL("LOG_JSON", "false", log_json, "log JSON lines instead of logfmt"),
    /* conversation */
    INT("SESSION_TIMEOUT_MINUTES", "15", 1, 1440, session_timeout_min,
        "minutes of silence after which a conversation starts over"),
    BOOL("ENABLE_QR_CODE", "false", enable_qr, "send the CIU as a QR code image too"),
    STR("CIU_SHARE_DIR", NULL, CIU_SHARE_DIR_DEFAULT, share_dir,
        "folder of the language files and the city list"),
    STR("CIU_DEFAULT_LANGUAGE", NULL, "fr", default_lang,
        "language of a new conversation: fr, en, ln or sw"),
    INT("CIU_FLOOD_MAX_MESSAGES", "20", 1, 10000, flood_max,
        "messages one person may send per flood window"),
    INT("CIU_FLOOD_WINDOW_SECONDS", "60", 1, 86400, flood_window_s,
        "length of the flood window in seconds"),
    INT("CIU_FLOOD_BLOCK_SECONDS", "300", 1, 86400, flood_block_s,
        "seconds a flooding person is ignored"),
    /* HTTP */
    STR("CIU_HTTP_ADDR", NULL, "127.0.0.1", http_addr,
        "address of ciu-ingress and of every health/metrics port"),
    INT("CIU_HTTP_PORT", "8000", 0, 65535, http_port,
        "port ciu-ingress listens on (0: any free port)"),
    STR("PUBLIC_BASE_URL", "CIU_PUBLIC_URL", "", public_url,
        "public https origin Twilio and Meta call, e.g. https://ciu.example.org (webhook "
        "signatures, media links)"),
    STR("WEBHOOK_PATH", NULL, "/whatsapp/webhook", webhook_path,
        "path of the Twilio and Meta webhooks"),
    BOOL("CIU_TRUST_PROXY", "false", trust_proxy,
         "honour X-Forwarded-Proto/X-Forwarded-Host (only behind your own reverse proxy)"),
    INT("CIU_HTTP_MAX_CONN_PER_IP", "-1", -1, 100000, http_max_conn_per_ip,
        "connections one client address may hold open on ciu-ingress's port (0: no limit; "
        "-1: 256, or no limit when CIU_TRUST_PROXY is set, as behind a proxy every "
        "connection comes from the proxy: limit there, e.g. nginx limit_conn)"),
    BOOL("CIU_INSECURE_SKIP_SIGNATURE", "false", insecure_skip_signature,
         "accept webhooks without checking their signature (local tests only)"),
    INT("CIU_MEDIA_TTL_SECONDS", "3600", 1, 604800, media_ttl_s,
        "seconds a media link (QR image) stays valid"),
    SECRET("CIU_ADMIN_PASSWORD", NULL, admin_password,
           "password of the programme dashboard at /admin/ (unset: the dashboard is off)"),
    INT("CIU_CONVERSATION_ADMIN_PORT", "8001", -1, 65535, admin_port_conversation,
        "health/metrics port of ciu-conversation (0: any, -1: disabled)"),
    INT("CIU_ENGINE_ADMIN_PORT", "8002", -1, 65535, admin_port_engine,
        "health/metrics port of ciu-engine (0: any, -1: disabled)"),
    INT("CIU_DHIS2_ADMIN_PORT", "8003", -1, 65535, admin_port_dhis2,
        "health/metrics port of ciu-dhis2-bridge (0: any, -1: disabled)"),
    INT("CIU_INGRESS_ADMIN_PORT", "8005", -1, 65535, admin_port_ingress,
        "health/metrics port of ciu-ingress, kept off the public port (0: any, -1: disabled)"),
    INT("CIU_SENDER_ADMIN_PORT", "8004", -1, 65535, admin_port_sender,
        "health/metrics port of ciu-sender (0: any, -1: disabled)"),
    /* bus */
    STR("CIU_CONVERSATION_ENDPOINTS", NULL, "tcp://127.0.0.1:5601", ep_conversation,
        "comma-separated PULL endpoints of the ciu-conversation replicas"),
    STR("CIU_ENGINE_ENDPOINTS", NULL, "tcp://127.0.0.1:5602", ep_engine,
        "comma-separated PULL endpoints of the ciu-engine replicas"),
    STR("CIU_DHIS2_ENDPOINTS", NULL, "tcp://127.0.0.1:5603", ep_dhis2,
        "comma-separated PULL endpoints of the ciu-dhis2-bridge replicas"),
    STR("CIU_SENDER_ENDPOINTS", NULL, "tcp://127.0.0.1:5604", ep_sender,
        "comma-separated PULL endpoints of the ciu-sender replicas"),
    STR("CIU_BIND", NULL, "", bind,
        "PULL endpoint this replica binds (empty: the first of its stage's list)"),
    SECRET("CIU_BUS_CURVE_SECRET_KEY", NULL, bus_curve_secret,
           "optional: encrypt the ZeroMQ bus and let in only daemons holding this key (40 Z85 "
           "characters, ciu-admin gen-bus-key); the same for every daemon and ciu-tap"),
    STR("CIU_DISCOVERY", NULL, "static", discovery,
        "how replicas find each other: static (the endpoint lists) or store (each replica "
        "registers in the store; scale by starting more)"),
    STR("CIU_ADVERTISE_HOST", NULL, "", advertise_host,
        "with CIU_DISCOVERY=store: the address others reach this replica at (default: its "
        "host name's address)"),
    INT("CIU_MEMBER_TTL_MS", "5000", 500, 600000, member_ttl_ms,
        "with CIU_DISCOVERY=store: a replica silent this long is dropped and its people "
        "taken over"),
    STR("CIU_INGRESS_EVENTS", NULL, "tcp://127.0.0.1:5611", ev_ingress,
        "PUB endpoint of ciu-ingress events"),
    STR("CIU_CONVERSATION_EVENTS", NULL, "tcp://127.0.0.1:5612", ev_conversation,
        "PUB endpoint of ciu-conversation events"),
    STR("CIU_ENGINE_EVENTS", NULL, "tcp://127.0.0.1:5613", ev_engine,
        "PUB endpoint of ciu-engine events"),
    STR("CIU_DHIS2_EVENTS", NULL, "tcp://127.0.0.1:5614", ev_dhis2,
        "PUB endpoint of ciu-dhis2-bridge events"),
    STR("CIU_SENDER_EVENTS", NULL, "tcp://127.0.0.1:5615", ev_sender,
        "PUB endpoint of ciu-sender events"),
    INT("CIU_RESCAN_MS", "1000", 50, 600000, rescan_ms,
        "milliseconds between scans of the store for unfinished work"),
    INT("CIU_BATCH_MAX", "256", 1, 10000, batch_max,
        "most messages handled in one store transaction"),
    /* channels */
    STR("TWILIO_ACCOUNT_SID", NULL, NULL, twilio_account_sid, "Twilio account SID (AC...)"),
    SECRET("TWILIO_AUTH_TOKEN", NULL, twilio_auth_token,
           "Twilio auth token: signs webhooks and authenticates sends"),
    STR("TWILIO_WHATSAPP_NUMBER", NULL, NULL, twilio_number,
        "the bot's Twilio WhatsApp number, e.g. whatsapp:+14155238886"),
    SECRET("META_ACCESS_TOKEN", "META_WHATSAPP_TOKEN", meta_token,
           "Meta WhatsApp Cloud API access token"),
    STR("META_PHONE_NUMBER_ID", NULL, NULL, meta_phone_number_id,
        "Meta phone number id the bot sends from"),
    SECRET("META_VERIFY_TOKEN", "META_WEBHOOK_VERIFY_TOKEN", meta_verify_token,
           "token Meta echoes when it verifies the webhook"),
    SECRET("META_APP_SECRET", NULL, meta_app_secret,
           "Meta app secret: checks X-Hub-Signature-256 of webhooks"),
    STR("TWILIO_API_BASE_URL", NULL, "https://api.twilio.com", twilio_api_base,
        "Twilio REST API origin"),
    STR("META_GRAPH_BASE_URL", NULL, "https://graph.facebook.com", meta_graph_base,
        "Meta Graph API origin"),
    STR("META_API_VERSION", NULL, "v25.0", meta_api_version,
        "Graph API version, e.g. v25.0 (supported by Meta until 2028-07)"),
    INT("CIU_META_MAX_MPS", "80", 1, 10000, meta_max_mps,
        "messages per second ciu-sender sends from the Meta number"),
    INT("CIU_TWILIO_MAX_MPS", "10", 1, 10000, twilio_max_mps,
        "messages per second ciu-sender sends from the Twilio number"),
    INT("CIU_SEND_CONCURRENCY", "64", 1, 1024, send_concurrency,
        "provider calls ciu-sender keeps in flight at once"),
    INT("CIU_SEND_LEASE_SECONDS", "60", 5, 3600, send_lease_s,
        "seconds a claimed reply is reserved for one sender before another may retry it"),
    /* DHIS2 */
    STR("DHIS2_BASE_URL", NULL, NULL, dhis2_base_url,
        "DHIS2 base URL, e.g. https://dhis2.example.org"),
    STR("DHIS2_API_USERNAME", NULL, NULL, dhis2_username, "DHIS2 user for basic auth"),
    SECRET("DHIS2_API_PASSWORD", NULL, dhis2_password, "DHIS2 password for basic auth"),
    SECRET("DHIS2_API_TOKEN", NULL, dhis2_token,
           "DHIS2 personal access token (used instead of user and password)"),
    STR("DHIS2_TRACKED_ENTITY_TYPE", NULL, NULL, dhis2_tet,
        "UID of the tracked entity type of people (e.g. Person)"),
    STR("DHIS2_PROGRAM", NULL, NULL, dhis2_program,
        "UID of the tracker program people are enrolled in"),
    STR("DHIS2_ORG_UNIT", NULL, NULL, dhis2_org_unit,
        "UID of the org unit new registrations belong to (default)"),
    STR("DHIS2_ORG_UNIT_MAP", NULL, "", dhis2_org_unit_map,
        "file mapping a city code to an org unit UID (code<TAB>uid lines); empty: "
        "DHIS2_ORG_UNIT for everyone"),
    STR("DHIS2_CIU_ATTRIBUTE", NULL, NULL, dhis2_ciu_attr,
        "UID of the unique tracked entity attribute that holds the CIU"),
    STR("DHIS2_GENDER_ATTRIBUTE", NULL, "", dhis2_gender_attr,
        "UID of the attribute for the gender (empty: not sent)"),
    STR("DHIS2_GENDER_VALUES", NULL, "1=Male,2=Female,3=Transgender,4=Other", dhis2_gender_values,
        "value sent for each gender digit of the CIU, e.g. your option codes (3= sends none)"),
    STR("DHIS2_BIRTH_DIGIT_ATTRIBUTE", NULL, "", dhis2_birth_attr,
        "UID of the attribute for the birth-year digit (empty: not sent)"),
    BOOL("DHIS2_AUTO_MERGE", "false", dhis2_auto_merge,
         "ask DHIS2 to merge potential duplicates automatically (off: a person decides)"),
    INT("DHIS2_BATCH_SIZE", "50", 1, 500, dhis2_batch_size,
        "registrations per DHIS2 tracker import"),
    INT("DHIS2_CONCURRENCY", "4", 1, 32, dhis2_concurrency,
        "DHIS2 calls ciu-dhis2-bridge keeps in flight at once"),
    INT("DHIS2_TIMEOUT_SECONDS", "30", 1, 600, dhis2_timeout_s,
        "seconds one DHIS2 call may take (keep it below your proxy's timeout)"),
    INT("DHIS2_LEASE_SECONDS", "90", 5, 86400, dhis2_lease_s,
        "seconds a claimed registration is reserved for one bridge before another may retry it"),
    INT("DHIS2_RETRY_MAX_SECONDS", "300", 1, 86400, dhis2_retry_max_s,
        "longest wait between two attempts of one registration (exponential backoff)"),
    INT("DHIS2_BREAKER_FAILURES", "5", 1, 1000, dhis2_breaker_failures,
        "failed calls in a row (no answer, 5xx) that open the circuit breaker"),
    INT("DHIS2_BREAKER_SECONDS", "30", 1, 3600, dhis2_breaker_s,
        "seconds between probes while DHIS2 is unreachable or refuses the credentials"),
};

#define S_N (sizeof(s_table) / sizeof(s_table[0]))

static char *s_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Checks the table cannot express. 0 or -EINVAL with *ret_err. */
static int s_validate(const cmn_settings_t *s, char **ret_err)
{
    char line[512];
    cmn_log_level_t lvl;
    if (cmn_log_level_parse(s->log_level, &lvl) < 0) {
        snprintf(line, sizeof(line),
                 "LOG_LEVEL: '%.40s' is not a log level (how much to log; "
                 "fix: use debug, info, warning or error)",
                 s->log_level ? s->log_level : "");
        goto bad;
    }
    if (s->bus_curve_secret && *s->bus_curve_secret && strlen(s->bus_curve_secret) != 40) {
        snprintf(line, sizeof(line),
                 "CIU_BUS_CURVE_SECRET_KEY: is %zu characters, not a CURVE secret key (the bus "
                 "key; fix: use the 40 characters ciu-admin gen-bus-key prints, or leave it "
                 "unset)",
                 strlen(s->bus_curve_secret));
        goto bad;
    }
    if (!s->discovery || (strcmp(s->discovery, "static") != 0 && strcmp(s->discovery, "store"))) {
        snprintf(line, sizeof(line),
                 "CIU_DISCOVERY: '%.40s' is not a discovery mode (how replicas find each other; "
                 "fix: use static or store)",
                 s->discovery ? s->discovery : "");
        goto bad;
    }
    static const char *const langs[] = {"fr", "en", "ln", "sw"};
    bool known = false;
    for (size_t i = 0; i < sizeof(langs) / sizeof(langs[0]); i++)
        if (s->default_lang && strcmp(s->default_lang, langs[i]) == 0)
            known = true;
    if (!known) {
        snprintf(line, sizeof(line),
                 "CIU_DEFAULT_LANGUAGE: '%.40s' is not a supported language (language of a "
                 "new conversation; fix: use fr, en, ln or sw)",
                 s->default_lang ? s->default_lang : "");
        goto bad;
    }
    if (!s->sqlite_synchronous || (strcmp(s->sqlite_synchronous, "full") != 0 &&
                                   strcmp(s->sqlite_synchronous, "normal") != 0)) {
        snprintf(line, sizeof(line),
                 "CIU_SQLITE_SYNCHRONOUS: '%.40s' is not a SQLite durability mode (when a "
                 "commit reaches the disk; fix: use full or normal)",
                 s->sqlite_synchronous ? s->sqlite_synchronous : "");
        goto bad;
    }
    if (!s->data_dir || !*s->data_dir) {
        snprintf(line, sizeof(line),
                 "CIU_DATA_DIR: is empty (folder for the SQLite database and local state; "
                 "fix: set a folder, e.g. ./data)");
        goto bad;
    }
    return 0;
bad:
    if (ret_err)
        *ret_err = strdup(line);
    return -EINVAL;
}

/* DATABASE_PASSWORD into a postgresql:// DATABASE_URL without one
 * (user@host -> user:pw@host, percent-encoded), so the password can be a
 * docker secret shared with the postgres image. 0, or -EINVAL/-ENOMEM. */
static int s_url_password(cmn_settings_t *s, char **ret_err)
{
    const char *u = s->database_url, *pw = s->database_password, *p, *at;
    size_t scheme;
    if (!pw || !*pw || !u)
        return 0;
    if (strncmp(u, "postgresql://", 13) == 0)
        scheme = 13;
    else if (strncmp(u, "postgres://", 11) == 0)
        scheme = 11;
    else
        return 0; /* SQLite: no password */
    p = u + scheme;
    at = strchr(p, '@');
    if (at && at > p + strcspn(p, "/?"))
        at = NULL; /* an '@' in the path or query is not the userinfo */
    if (!at || memchr(p, ':', (size_t)(at - p))) {
        if (ret_err)
            *ret_err = strdup(at ? "DATABASE_PASSWORD: DATABASE_URL has a password already "
                                   "(fix: remove one of them)"
                                 : "DATABASE_PASSWORD: DATABASE_URL names no user (fix: "
                                   "write it as postgresql://USER@HOST:5432/DB)");
        return -EINVAL;
    }
    cmn_str_t o = CMN_STR_INIT(16384);
    int bad = cmn_str_append(&o, u, (size_t)(at - u)) | cmn_str_appends(&o, ":");
    for (const unsigned char *c = (const unsigned char *)pw; *c; c++) {
        if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
            strchr("-._~", *c))
            bad |= cmn_str_append(&o, (const char *)c, 1);
        else
            bad |= cmn_str_printf(&o, "%%%02X", *c);
    }
    if ((bad | cmn_str_appends(&o, at)) < 0) {
        cmn_str_free(&o);
        return -ENOMEM;
    }
    free(s->database_url);
    s->database_url = cmn_str_steal(&o);
    return s->database_url ? 0 : -ENOMEM;
}

int cmn_settings_load(cmn_settings_t *s, char **ret_err)
{
    cmn_settings_t tmp;
    memset(&tmp, 0, sizeof(tmp));
    int r = cmn_config_load(s_table, S_N, &tmp, ".env", ret_err);
    if (r < 0)
        return r;
    /* "https://ciu.example.org/" and "https://ciu.example.org" mean the same
     * origin: links are built as PUBLIC_BASE_URL + "/path" */
    for (size_t n = tmp.public_url ? strlen(tmp.public_url) : 0;
         n > 0 && tmp.public_url[n - 1] == '/'; n--)
        tmp.public_url[n - 1] = '\0';
    r = s_url_password(&tmp, ret_err);
    if (r == 0)
        r = s_validate(&tmp, ret_err);
    if (r < 0) {
        cmn_settings_free(&tmp);
        return r;
    }
    *s = tmp;
    return 0;
}

void cmn_settings_free(cmn_settings_t *s)
{
    if (!s)
        return;
    cmn_config_free(s_table, S_N, s);
}

/* DATABASE_URL with its password replaced by *** (user:***@host, and a
 * password= parameter). Caller frees; NULL for NULL. */
static char *s_redact_url(const char *u)
{
    cmn_str_t o = CMN_STR_INIT(8192);
    const char *p, *at, *colon, *pw;
    if (u == NULL)
        return NULL;
    p = strstr(u, "://");
    p = p ? p + 3 : u;
    at = strchr(p, '@');
    colon = at ? memchr(p, ':', (size_t)(at - p)) : NULL;
    if (colon) {
        cmn_str_append(&o, u, (size_t)(colon - u) + 1);
        cmn_str_appends(&o, "***");
        cmn_str_appends(&o, at);
    } else {
        cmn_str_appends(&o, u);
    }
    pw = strstr(cmn_str_cstr(&o), "password=");
    if (pw) {
        size_t off = (size_t)(pw - cmn_str_cstr(&o)) + 9;
        const char *rest = cmn_str_cstr(&o) + off;
        char *tail = strdup(rest + strcspn(rest, "&"));
        o.len = off;
        cmn_str_appends(&o, "***");
        cmn_str_appends(&o, tail ? tail : "");
        free(tail);
    }
    return cmn_str_steal(&o);
}

char *cmn_settings_store_describe(const cmn_settings_t *s)
{
    char *url = cmn_settings_store_url(s), *out = NULL;
    const char *u = s->database_url;
    if (url == NULL)
        return NULL;
    if (u && (strncmp(u, "postgresql://", 13) == 0 || strncmp(u, "postgres://", 11) == 0)) {
        char *red = s_redact_url(url);
        out = red ? s_fmt("PostgreSQL %s", red) : NULL;
        free(red);
    } else if (url[0] == '/') {
        out = s_fmt("SQLite file %s", url);
    } else {
        char cwd[4096];
        out = getcwd(cwd, sizeof(cwd))
                  ? s_fmt("SQLite file %s/%s", cwd, strncmp(url, "./", 2) == 0 ? url + 2 : url)
                  : s_fmt("SQLite file %s", url);
    }
    free(url);
    return out;
}

char *cmn_settings_describe(const cmn_settings_t *s)
{
    cmn_settings_t shown = *s; /* shallow: only database_url is replaced */
    char *red = s_redact_url(s->database_url), *line, *store, *out;
    shown.database_url = red;
    line = cmn_config_describe(s_table, S_N, &shown);
    free(red);
    store = cmn_settings_store_describe(s);
    if (line == NULL || store == NULL) {
        free(store);
        return line;
    }
    out = s_fmt("%s; store: %s", *line ? line : "none", store);
    free(line);
    free(store);
    return out;
}

long cmn_settings_conn_per_ip(const cmn_settings_t *s)
{
    if (s->http_max_conn_per_ip >= 0)
        return s->http_max_conn_per_ip;
    return s->trust_proxy ? 0 : CMN_HTTP_CONN_PER_IP_DEFAULT;
}

int cmn_settings_require(const cmn_settings_t *s, const char *name, const char *why,
                         char **ret_err)
{
    for (size_t i = 0; i < S_N; i++) {
        const cmn_cfg_entry_t *e = &s_table[i];
        if (strcmp(e->name, name) != 0)
            continue;
        if (e->type != CMN_CFG_STR && e->type != CMN_CFG_SECRET)
            return 0; /* numbers and booleans always have a value */
        const char *v = *(char *const *)(const void *)((const char *)s + e->offset);
        if (v && *v)
            return 0;
        cmn_str_t m = CMN_STR_INIT(1024);
        cmn_str_printf(&m, "%s: not set (%s; fix: set %s", name, e->help, name);
        if (e->alias)
            cmn_str_printf(&m, " or %s", e->alias);
        cmn_str_printf(&m, " in the environment or .env%s%s)", why ? ", needed " : "",
                       why ? why : "");
        if (ret_err)
            *ret_err = cmn_str_steal(&m);
        else
            cmn_str_free(&m);
        return -EINVAL;
    }
    return -ENOENT;
}

char *cmn_settings_store_url(const cmn_settings_t *s)
{
    const char *u = s->database_url;
    if (!u || !*u) {
        cmn_str_t p = CMN_STR_INIT(8192);
        if (cmn_str_printf(&p, "%s/ciu.db", s->data_dir ? s->data_dir : "./data") < 0) {
            cmn_str_free(&p);
            return NULL;
        }
        return cmn_str_steal(&p);
    }
    if (strncmp(u, "sqlite:///.", 11) == 0)
        return strdup(u + 10); /* the seed's sqlite:///./x.db: ./x.db, relative */
    if (strncmp(u, "sqlite:///", 10) == 0) {
        const char *p = u + 9; /* sqlite:///abs and sqlite:////abs -> /abs */
        while (p[1] == '/')
            p++;
        return strdup(p);
    }
    if (strncmp(u, "sqlite://", 9) == 0)
        return strdup(u + 9); /* sqlite://rel -> rel */
    return strdup(u);
}

/* --- salt ------------------------------------------------------------- */

static bool s_is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Trimmed copy of [p, p+n) into a malloc'd buffer (NUL-terminated). */
static unsigned char *s_trim_dup(const char *p, size_t n, size_t *ret_len)
{
    while (n > 0 && s_is_blank(*p)) {
        p++;
        n--;
    }
    while (n > 0 && s_is_blank(p[n - 1]))
        n--;
    unsigned char *out = malloc(n + 1);
    if (!out)
        return NULL;
    memcpy(out, p, n);
    out[n] = '\0';
    *ret_len = n;
    return out;
}

static char *s_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *s_fmt(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *m = cmn_str_vdup(4096, fmt, ap);
    va_end(ap);
    return m;
}

/* mkdir -p with mode 0750 for the folders it creates. 0 or -errno. */
static int s_mkdir_p(const char *dir)
{
    char path[4096];
    if (cmn_strlcpy(path, dir, sizeof(path)) < 0)
        return -ENAMETOOLONG;
    size_t n = strlen(path);
    for (size_t i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char c = path[i];
        path[i] = '\0';
        if (mkdir(path, 0750) < 0 && errno != EEXIST)
            return -errno;
        path[i] = c;
    }
    struct stat st;
    if (stat(path, &st) < 0)
        return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int cmn_settings_make_data_dir(const cmn_settings_t *s)
{
    return s_mkdir_p(s->data_dir);
}

/* Read the salt file. 0, -ENOENT, or -errno. */
static int s_salt_read(const char *path, unsigned char **ret, size_t *ret_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    char buf[SALT_FILE_MAX];
    size_t n = 0;
    for (;;) {
        ssize_t k = read(fd, buf + n, sizeof(buf) - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            int e = -errno;
            close(fd);
            return e;
        }
        if (k == 0 || (n += (size_t)k) == sizeof(buf))
            break;
    }
    close(fd);
    size_t len = 0;
    unsigned char *out = s_trim_dup(buf, n, &len);
    if (!out)
        return -ENOMEM;
    *ret = out;
    *ret_len = len;
    return 0;
}

/* Create the salt file with a fresh salt: written to a private temporary
 * file, then link()ed into place, which fails with EEXIST if another process
 * won the race (the caller then reads the winner's file). 0 or -errno. */
static int s_salt_create(const char *dir, const char *path)
{
    char tmp[4200];
    char rnd[17];
    char salt[65];
    int r = cmn_random_hex(rnd, sizeof(rnd), 8);
    if (r < 0)
        return r;
    r = cmn_random_hex(salt, sizeof(salt), 32);
    if (r < 0)
        return r;
    snprintf(tmp, sizeof(tmp), "%s/.%s.%ld.%s", dir, SALT_FILE, (long)getpid(), rnd);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -errno;
    salt[64] = '\n';
    size_t off = 0;
    r = 0;
    while (off < 65) {
        ssize_t w = write(fd, salt + off, 65 - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            r = -errno;
            break;
        }
        off += (size_t)w;
    }
    if (r == 0 && fchmod(fd, 0600) < 0) /* whatever the umask */
        r = -errno;
    if (r == 0 && fsync(fd) < 0)
        r = -errno;
    if (close(fd) < 0 && r == 0)
        r = -errno;
    if (r == 0 && link(tmp, path) < 0)
        r = -errno;
    unlink(tmp);
    return r;
}

int cmn_settings_salt(const cmn_settings_t *s, unsigned char **ret, size_t *ret_len,
                      char **ret_err)
{
    unsigned char *salt = NULL;
    size_t len = 0;
    char *err = NULL;

    if (s->uic_salt && *s->uic_salt) {
        salt = s_trim_dup(s->uic_salt, strlen(s->uic_salt), &len);
        if (!salt)
            return -ENOMEM;
        if (len < SALT_MIN) {
            err = s_fmt("UIC_SALT: too short (%zu characters); it needs at least 32 random "
                        "bytes: run `ciu-admin gen-salt`",
                        len);
            goto fail;
        }
        goto ok;
    }
    if (!s->simulator) {
        err = s_fmt("UIC_SALT: not set; it is required outside the simulator demo: run "
                    "`ciu-admin gen-salt` and put the result in .env");
        goto fail;
    }

    const char *dir = s->data_dir && *s->data_dir ? s->data_dir : "./data";
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", dir, SALT_FILE);
    int r = s_mkdir_p(dir);
    if (r < 0) {
        err = s_fmt("UIC_SALT: not set, and the demo salt folder %s cannot be created: %s "
                    "(fix: make CIU_DATA_DIR writable or set UIC_SALT)",
                    dir, cmn_strerror(r));
        goto fail;
    }
    r = s_salt_read(path, &salt, &len);
    if (r == -ENOENT) {
        r = s_salt_create(dir, path);
        if (r == 0 || r == -EEXIST)
            r = s_salt_read(path, &salt, &len);
    }
    if (r == -ENOMEM)
        return r;
    if (r < 0) {
        err = s_fmt("UIC_SALT: not set, and the demo salt file %s cannot be used: %s "
                    "(fix: make CIU_DATA_DIR writable or set UIC_SALT)",
                    path, cmn_strerror(r));
        goto fail;
    }
    if (len < SALT_MIN) {
        err = s_fmt("UIC_SALT: not set, and the demo salt file %s is too short (%zu "
                    "characters) (fix: restore it from a backup, or set UIC_SALT)",
                    path, len);
        goto fail;
    }
ok:
    *ret = salt;
    *ret_len = len;
    return 0;
fail:
    free(salt);
    if (!err)
        return -ENOMEM;
    if (ret_err)
        *ret_err = err;
    else
        free(err);
    return -EINVAL;
}
