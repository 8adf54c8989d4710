/* cmn_settings: the one configuration table every ciu daemon and tool reads.
 *
 * All daemons share one `.env` (compose env_file, systemd EnvironmentFile),
 * so the table lists every variable once; each daemon then checks what it
 * needs with cmn_settings_require(). Names of the seed keep working
 * (aliases). docs/configuration.md lists them all.
 */
#ifndef CMN_SETTINGS_H
#define CMN_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    /* storage and identity */
    char *data_dir;          /* CIU_DATA_DIR, default ./data */
    char *database_url;      /* DATABASE_URL: postgresql://... ; empty = SQLite in data_dir;
                              * with DATABASE_PASSWORD inserted when the URL had none */
    char *database_password; /* DATABASE_PASSWORD (secret) */
    long retention_days;     /* CIU_RETENTION_DAYS: finished work kept (0 = forever) */
    long retention_interval_s; /* CIU_RETENTION_INTERVAL_S: between automatic purges */
    char *sqlite_synchronous;  /* CIU_SQLITE_SYNCHRONOUS: "full" (default) or "normal" */
    char *uic_salt;          /* UIC_SALT (secret) */
    bool simulator;          /* CIU_SIMULATOR: enable the simulator channel (demo) */
    char *sim_allowed_hosts; /* CIU_SIM_ALLOWED_HOSTS: Host names /sim/ answers */
    /* logging */
    char *log_level;         /* LOG_LEVEL */
    bool log_json;           /* LOG_JSON */
    /* conversation */
    long session_timeout_min; /* SESSION_TIMEOUT_MINUTES */
    bool enable_qr;          /* ENABLE_QR_CODE */
    char *share_dir;         /* CIU_SHARE_DIR: language files, city list */
    char *default_lang;      /* CIU_DEFAULT_LANGUAGE */
    long flood_max;          /* CIU_FLOOD_MAX_MESSAGES per window */
    long flood_window_s;     /* CIU_FLOOD_WINDOW_SECONDS */
    long flood_block_s;      /* CIU_FLOOD_BLOCK_SECONDS */
    /* HTTP */
    char *http_addr;         /* CIU_HTTP_ADDR */
    long http_port;          /* CIU_HTTP_PORT */
    char *public_url;        /* PUBLIC_BASE_URL | CIU_PUBLIC_URL (signatures, media links) */
    char *webhook_path;      /* WEBHOOK_PATH */
    bool trust_proxy;        /* CIU_TRUST_PROXY */
    long http_max_conn_per_ip;    /* CIU_HTTP_MAX_CONN_PER_IP (-1: cmn_settings_conn_per_ip) */
    bool insecure_skip_signature; /* CIU_INSECURE_SKIP_SIGNATURE */
    long media_ttl_s;        /* CIU_MEDIA_TTL_SECONDS */
    char *admin_password;    /* CIU_ADMIN_PASSWORD (secret): dashboard at /admin/; NULL: off */
    long admin_port_conversation; /* CIU_CONVERSATION_ADMIN_PORT */
    long admin_port_engine;       /* CIU_ENGINE_ADMIN_PORT */
    long admin_port_dhis2;        /* CIU_DHIS2_ADMIN_PORT */
    long admin_port_sender;       /* CIU_SENDER_ADMIN_PORT */
    long admin_port_ingress;      /* CIU_INGRESS_ADMIN_PORT */
    /* bus: comma-separated endpoint lists (one per replica) and binds */
    char *ep_conversation;   /* CIU_CONVERSATION_ENDPOINTS */
    char *ep_engine;         /* CIU_ENGINE_ENDPOINTS */
    char *ep_dhis2;          /* CIU_DHIS2_ENDPOINTS */
    char *ep_sender;         /* CIU_SENDER_ENDPOINTS */
    char *bind;              /* CIU_BIND: this replica's PULL (default: first of its list) */
    char *discovery;         /* CIU_DISCOVERY: "static" or "store" (cmn_members.h) */
    char *bus_curve_secret;  /* CIU_BUS_CURVE_SECRET_KEY (secret, Z85), or NULL/"" */
    char *advertise_host;    /* CIU_ADVERTISE_HOST */
    long member_ttl_ms;      /* CIU_MEMBER_TTL_MS */
    char *ev_ingress;        /* CIU_INGRESS_EVENTS */
    char *ev_conversation;   /* CIU_CONVERSATION_EVENTS */
    char *ev_engine;         /* CIU_ENGINE_EVENTS */
    char *ev_dhis2;          /* CIU_DHIS2_EVENTS */
    char *ev_sender;         /* CIU_SENDER_EVENTS */
    long rescan_ms;          /* CIU_RESCAN_MS: period of the unfinished-work scan */
    long batch_max;          /* CIU_BATCH_MAX: messages per transaction */
    /* channels */
    char *twilio_account_sid;     /* TWILIO_ACCOUNT_SID */
    char *twilio_auth_token;      /* TWILIO_AUTH_TOKEN (secret) */
    char *twilio_number;          /* TWILIO_WHATSAPP_NUMBER */
    char *meta_token;             /* META_ACCESS_TOKEN | META_WHATSAPP_TOKEN (secret) */
    char *meta_phone_number_id;   /* META_PHONE_NUMBER_ID */
    char *meta_verify_token;      /* META_VERIFY_TOKEN | META_WEBHOOK_VERIFY_TOKEN (secret) */
    char *meta_app_secret;        /* META_APP_SECRET (secret) */
    char *twilio_api_base;        /* TWILIO_API_BASE_URL */
    char *meta_graph_base;        /* META_GRAPH_BASE_URL */
    char *meta_api_version;       /* META_API_VERSION */
    long meta_max_mps;            /* CIU_META_MAX_MPS */
    long twilio_max_mps;          /* CIU_TWILIO_MAX_MPS */
    long send_concurrency;        /* CIU_SEND_CONCURRENCY */
    long send_lease_s;            /* CIU_SEND_LEASE_SECONDS */
    /* DHIS2 */
    char *dhis2_base_url;         /* DHIS2_BASE_URL */
    char *dhis2_username;         /* DHIS2_API_USERNAME */
    char *dhis2_password;         /* DHIS2_API_PASSWORD (secret) */
    char *dhis2_token;            /* DHIS2_API_TOKEN (secret) */
    char *dhis2_tet;              /* DHIS2_TRACKED_ENTITY_TYPE */
    char *dhis2_program;          /* DHIS2_PROGRAM */
    char *dhis2_org_unit;         /* DHIS2_ORG_UNIT */
    char *dhis2_org_unit_map;     /* DHIS2_ORG_UNIT_MAP (file) */
    char *dhis2_ciu_attr;         /* DHIS2_CIU_ATTRIBUTE */
    char *dhis2_gender_attr;      /* DHIS2_GENDER_ATTRIBUTE */
    char *dhis2_gender_values;    /* DHIS2_GENDER_VALUES */
    char *dhis2_birth_attr;       /* DHIS2_BIRTH_DIGIT_ATTRIBUTE */
    bool dhis2_auto_merge;        /* DHIS2_AUTO_MERGE */
    long dhis2_batch_size;        /* DHIS2_BATCH_SIZE */
    long dhis2_concurrency;       /* DHIS2_CONCURRENCY */
    long dhis2_timeout_s;         /* DHIS2_TIMEOUT_SECONDS */
    long dhis2_lease_s;           /* DHIS2_LEASE_SECONDS */
    long dhis2_retry_max_s;       /* DHIS2_RETRY_MAX_SECONDS */
    long dhis2_breaker_failures;  /* DHIS2_BREAKER_FAILURES */
    long dhis2_breaker_s;         /* DHIS2_BREAKER_SECONDS */
} cmn_settings_t;

/* Load from environment + ./.env. 0 or -EINVAL with *ret_err (one line, caller frees). */
int cmn_settings_load(cmn_settings_t *s, char **ret_err);
void cmn_settings_free(cmn_settings_t *s);
/* Effective settings on one line, secrets redacted (the password of
 * DATABASE_URL too), ending with "; store: " and cmn_settings_store_describe.
 * Caller frees. */
char *cmn_settings_describe(const cmn_settings_t *s);
/* The store for a log line: "SQLite file <absolute path>" or "PostgreSQL
 * <URL with the password as ***>". Caller frees; NULL when out of memory. */
char *cmn_settings_store_describe(const cmn_settings_t *s);
/* Check that a string setting a daemon needs is set and not empty. `name` is
 * the table name (e.g. "TWILIO_AUTH_TOKEN"); `why` (may be NULL) ends the
 * error line, e.g. "by ciu-sender for Twilio". 0, -EINVAL with *ret_err (one
 * line, caller frees), or -ENOENT for a name not in the table. */
int cmn_settings_require(const cmn_settings_t *s, const char *name, const char *why,
                         char **ret_err);
/* Create CIU_DATA_DIR (and its parents, mode 0750) if missing. 0 or -errno. */
int cmn_settings_make_data_dir(const cmn_settings_t *s);

/* Connections one client address may hold on ingress's public port
 * (CIU_HTTP_MAX_CONN_PER_IP): the setting, or when it is -1 the default,
 * CMN_HTTP_CONN_PER_IP_DEFAULT, or 0 (no limit) behind a reverse proxy
 * (CIU_TRUST_PROXY), where every connection comes from the proxy. */
#define CMN_HTTP_CONN_PER_IP_DEFAULT 256
long cmn_settings_conn_per_ip(const cmn_settings_t *s);
/* "sqlite" path or the PostgreSQL URL the store should open. Caller frees.
 * SQLite: empty -> <data_dir>/ciu.db; sqlite:///./x.db (the seed's) -> ./x.db,
 * relative to the working directory; sqlite:///abs/x.db and
 * sqlite:////abs/x.db -> /abs/x.db; sqlite://rel/x.db -> rel/x.db. */
char *cmn_settings_store_url(const cmn_settings_t *s);

/* The salt as bytes. UIC_SALT must be at least 32 bytes of text (hex or
 * base64 of 32 random bytes, or any >= 32 characters). When it is unset and
 * the simulator demo is on, a salt is read from (or created in)
 * <data_dir>/uic_salt with mode 0600. Otherwise it is an error.
 * Returns 0 with *ret (malloc'd, caller frees) and *ret_len, or -EINVAL with
 * *ret_err (one line naming UIC_SALT and the fix; caller frees). */
int cmn_settings_salt(const cmn_settings_t *s, unsigned char **ret, size_t *ret_len,
                      char **ret_err);

#endif
