/* ciu_engine: registry, duplicates, replies, QR media, DHIS2 queue. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ciu_cities.h"
#include "ciu_engine.h"
#include "ciu_qr.h"
#include "ciu_rules.h"
#include "common/cmn_i18n.h"
#include "common/cmn_log.h"
#include "common/cmn_outbox.h"

#define S_MODULE "engine"
#define S_SCAN_LIMIT 1000

/* What one request produced, for the wake-ups and events after commit. */
typedef struct {
    char trace[CMN_ID_LEN];
    char user[CMN_HEX256_LEN];
    char channel[16];
    char ciu[CIU_LEN + 1];
    bool existing;
    bool queued_sync;
    int64_t outbox_row;
    int64_t sync_row;
    char dup_kind[2][32]; /* duplicate kinds recorded, "" if none */
} s_done_t;

struct ciu_engine {
    cmn_daemon_t *d;
    cmn_i18n_t *texts;
    cmn_pull_t *pull;
    cmn_push_t *to_sender;
    cmn_push_t *to_dhis2;
    cmn_pub_t *pub;
    size_t shard, shards;
    char media_dir[4096];
    /* the batch being processed */
    const int64_t *rows;
    size_t nrows;
    s_done_t *done;
    size_t ndone;
    cmn_counter_t *m_issued;
    cmn_counter_t *m_existing;
    cmn_counter_t *m_duplicates;
    cmn_counter_t *m_qr;
};

/* Write a QR PNG of the CIU to the media folder and register its token. */
static int s_make_qr(ciu_engine_t *e, cmn_store_t *st, const char *ciu, int64_t now,
                     cmn_str_t *ret_url)
{
    unsigned char *png = NULL;
    size_t len = 0;
    char token[65], path[4200];
    int fd, r;

    r = ciu_qr_png(ciu, &png, &len);
    if (r < 0)
        return r;
    r = cmn_random_hex(token, sizeof(token), 32);
    if (r < 0)
        goto out_png;
    snprintf(path, sizeof(path), "%s/%s.png", e->media_dir, token);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0) {
        r = -errno;
        goto out_png;
    }
    if (write(fd, png, len) != (ssize_t)len || fsync(fd) != 0) {
        r = -EIO;
        close(fd);
        unlink(path);
        goto out_png;
    }
    close(fd);
    cmn_param_t p[] = {P_TEXT(token), P_TEXT(path), P_TEXT("image/png"),
                       P_INT(now + e->d->settings.media_ttl_s * 1000)};
    r = cmn_store_exec(st, "INSERT INTO media (token, path, content_type, expires_ms) VALUES "
                           "($1, $2, $3, $4)",
                       p, 4, NULL);
    if (r < 0) {
        unlink(path);
        goto out_png;
    }
    r = cmn_str_printf(ret_url, "%s/media/qr/%s.png", e->d->settings.public_url, token);
    cmn_counter_add(e->m_qr, 1);
out_png:
    free(png);
    return r;
}

static int s_record_duplicate(cmn_store_t *st, const char *kind, const char *ciu,
                              const char *other_ciu, const char *user, const char *other_user,
                              int64_t now, bool *ret_new)
{
    cmn_rows_t *rows = NULL;
    cmn_param_t q[] = {P_TEXT(kind), P_TEXT(ciu), P_TEXT(user)};
    int r = cmn_store_query(st, "SELECT id FROM duplicates WHERE kind = $1 AND ciu = $2 AND "
                                "user_key = $3",
                            q, 3, &rows);
    if (r < 0)
        return r;
    *ret_new = cmn_rows_count(rows) == 0;
    cmn_rows_destroy(&rows);
    if (!*ret_new)
        return 0;
    cmn_param_t p[] = {P_TEXT(kind), P_TEXT(ciu), P_TEXT(other_ciu), P_TEXT(user),
                       P_TEXT(other_user), P_INT(now)};
    return cmn_store_exec(st, "INSERT INTO duplicates (kind, ciu, other_ciu, user_key, "
                              "other_user_key, created_ms, status) VALUES ($1, $2, $3, $4, $5, "
                              "$6, 'open')",
                          p, 6, NULL);
}

/* Registry and duplicates for one CIU requested by `user`. */
static int s_register(ciu_engine_t *e, cmn_store_t *st, s_done_t *dn, const char *reg_key,
                      int64_t now)
{
    cmn_rows_t *rows = NULL;
    cmn_param_t q[] = {P_TEXT(dn->ciu)};
    bool fresh = false;
    int r;

    r = cmn_store_query(st, "SELECT first_user_key FROM registry WHERE ciu = $1", q, 1, &rows);
    if (r < 0)
        return r;
    dn->existing = cmn_rows_count(rows) > 0;
    if (dn->existing) {
        bool other = strcmp(cmn_rows_get(rows, 0, 0), dn->user) != 0;
        char first_user[CMN_HEX256_LEN];
        cmn_strlcpy(first_user, cmn_rows_get(rows, 0, 0), sizeof(first_user));
        cmn_rows_destroy(&rows);
        cmn_param_t u[] = {P_INT(now), P_TEXT(dn->ciu)};
        r = cmn_store_exec(st, "UPDATE registry SET request_count = request_count + 1, "
                               "last_ms = $1 WHERE ciu = $2",
                           u, 2, NULL);
        if (r == 0 && other) {
            r = s_record_duplicate(st, "same_ciu_other_number", dn->ciu, NULL, dn->user,
                                   first_user, now, &fresh);
            if (fresh)
                cmn_strlcpy(dn->dup_kind[0], "same_ciu_other_number", sizeof(dn->dup_kind[0]));
        }
    } else {
        cmn_rows_destroy(&rows);
        cmn_param_t i[] = {P_TEXT(dn->ciu), P_TEXT(reg_key), P_TEXT(dn->user), P_INT(now)};
        r = cmn_store_exec(st, "INSERT INTO registry (ciu, reg_key, first_user_key, "
                               "request_count, first_ms, last_ms) VALUES ($1, $2, $3, 1, $4, $4)",
                           i, 4, NULL);
    }
    if (r < 0)
        return r;

    /* One number, a different CIU than before? */
    cmn_param_t uq[] = {P_TEXT(dn->user)};
    r = cmn_store_query(st, "SELECT ciu FROM user_cius WHERE user_key = $1", uq, 1, &rows);
    if (r < 0)
        return r;
    if (cmn_rows_count(rows) > 0 && strcmp(cmn_rows_get(rows, 0, 0), dn->ciu) != 0) {
        char before[CIU_LEN + 1];
        cmn_strlcpy(before, cmn_rows_get(rows, 0, 0), sizeof(before));
        r = s_record_duplicate(st, "number_other_ciu", dn->ciu, before, dn->user, NULL, now,
                               &fresh);
        if (fresh)
            cmn_strlcpy(dn->dup_kind[1], "number_other_ciu", sizeof(dn->dup_kind[1]));
    }
    cmn_rows_destroy(&rows);
    if (r < 0)
        return r;
    cmn_param_t up[] = {P_TEXT(dn->user), P_TEXT(dn->ciu), P_INT(now)};
    return cmn_store_exec(st, "INSERT INTO user_cius (user_key, ciu, updated_ms) VALUES ($1, $2, "
                              "$3) ON CONFLICT (user_key) DO UPDATE SET ciu = excluded.ciu, "
                              "updated_ms = excluded.updated_ms",
                          up, 3, NULL);
}

/* Queue a reply to the person of dn (see cmn_outbox_queue). */
static int s_queue_reply(cmn_store_t *st, s_done_t *dn, const char *to, const char *body,
                         const char *media, int64_t now)
{
    cmn_reply_t reply = {dn->channel, dn->user, to, body, media, dn->trace, NULL};
    return cmn_outbox_queue(st, &reply, now, &dn->outbox_row);
}

/* Process one request row, if it is still pending. */
static int s_issue(ciu_engine_t *e, cmn_store_t *st, int64_t row, int64_t now)
{
    cmn_rows_t *rows = NULL;
    cmn_param_t q[] = {P_INT(row)};
    s_done_t dn;
    char to[64] = "", lang[8] = "fr", parts[64], reg_key[CMN_HEX256_LEN];
    cmn_str_t body = CMN_STR_INIT(4096), media = CMN_STR_INIT(1024);
    int r, year, gender;

    memset(&dn, 0, sizeof(dn));
    r = cmn_store_query(st, "SELECT user_key, channel, to_addr, lang, c_last, c_first, c_year, "
                            "c_city, c_gender, trace FROM ciu_requests WHERE id = $1 AND "
                            "status = 0",
                        q, 1, &rows);
    if (r < 0)
        return r;
    if (cmn_rows_count(rows) == 0) { /* done already: a repeated wake-up */
        cmn_rows_destroy(&rows);
        return 0;
    }
    cmn_strlcpy(dn.user, cmn_rows_get(rows, 0, 0), sizeof(dn.user));
    cmn_strlcpy(dn.channel, cmn_rows_get(rows, 0, 1), sizeof(dn.channel));
    if (cmn_rows_get(rows, 0, 2))
        cmn_strlcpy(to, cmn_rows_get(rows, 0, 2), sizeof(to));
    cmn_strlcpy(lang, cmn_rows_get(rows, 0, 3), sizeof(lang));
    cmn_strlcpy(dn.trace, cmn_rows_get(rows, 0, 9), sizeof(dn.trace));
    /* The conversation stored validated codes; running them through the same
     * parsers again keeps the engine the one place the formula lives. */
    const char *c_last = cmn_rows_get(rows, 0, 4), *c_first = cmn_rows_get(rows, 0, 5);
    const char *c_year = cmn_rows_get(rows, 0, 6), *c_city = cmn_rows_get(rows, 0, 7);
    const char *c_gender = cmn_rows_get(rows, 0, 8);
    ciu_field_t bad = CIU_FIELD_NONE;
    ciu_err_t ce = ciu_compute(NULL, c_last ? c_last : "", c_first ? c_first : "",
                               c_year ? c_year : "", c_city ? c_city : "",
                               c_gender ? c_gender : "", 9999, dn.ciu, &bad);
    cmn_rows_destroy(&rows);
    if (ce != CIU_OK) {
        /* Cannot happen with codes from the conversation; never loop on it. */
        log_error(S_MODULE, dn.trace, "request %lld has an invalid %s (%s): dropped",
                  (long long)row, ciu_field_str(bad), ciu_err_str(ce));
        r = cmn_store_exec(st, "DELETE FROM ciu_requests WHERE id = $1", q, 1, NULL);
        if (r == 0) {
            const char *vars[] = {NULL};
            cmn_i18n_format(e->texts, lang, "error_internal", vars, &body);
            r = s_queue_reply(st, &dn, to, cmn_str_cstr(&body), NULL, now);
        }
        goto out;
    }
    year = dn.ciu[6] - '0';
    gender = dn.ciu[9] - '0';
    snprintf(parts, sizeof(parts), "%.3s|%.3s|%d|%.2s|%d", dn.ciu, dn.ciu + 3, year, dn.ciu + 7,
             gender);
    r = cmn_hmac_sha256_hex(e->d->salt, e->d->salt_len, parts, strlen(parts), reg_key);
    if (r == 0)
        r = s_register(e, st, &dn, reg_key, now);
    if (r == 0 && e->d->settings.enable_qr)
        r = s_make_qr(e, st, dn.ciu, now, &media);
    if (r == 0) {
        const char *vars[] = {"ciu", dn.ciu, NULL};
        r = cmn_i18n_format(e->texts, lang, dn.existing ? "ciu_existing" : "ciu_issued", vars,
                            &body);
    }
    if (r == 0)
        r = s_queue_reply(st, &dn, to, cmn_str_cstr(&body),
                          media.len ? cmn_str_cstr(&media) : NULL, now);
    if (r == 0 && !dn.existing) {
        cmn_param_t sp[] = {P_TEXT(dn.ciu), P_INT(now), P_TEXT(dn.trace)};
        cmn_rows_t *srow = NULL;
        r = cmn_store_query(st, "INSERT INTO dhis2_sync (ciu, status, next_ms, created_ms, "
                                "updated_ms, trace) VALUES ($1, 'queued', $2, $2, $2, $3) ON "
                                "CONFLICT (ciu) DO NOTHING RETURNING id",
                            sp, 3, &srow);
        if (r == 0 && cmn_rows_count(srow) == 1) {
            dn.queued_sync = true;
            dn.sync_row = cmn_rows_int(srow, 0, 0, 0);
        }
        cmn_rows_destroy(&srow);
    }
    /* The answers are no longer needed: delete them, and end the session. */
    if (r == 0)
        r = cmn_store_exec(st, "DELETE FROM ciu_requests WHERE id = $1", q, 1, NULL);
    if (r == 0) {
        /* 7 = CONV_STEP_WAIT_CIU (conversation/src/conv_flow.h): a session that
         * moved on (RECOMMENCER while waiting) is left alone. */
        cmn_param_t sp[] = {P_TEXT(dn.user), P_INT(7)};
        r = cmn_store_exec(st, "DELETE FROM sessions WHERE user_key = $1 AND step = $2", sp, 2,
                           NULL);
    }
out:
    if (r == 0 && e->ndone < (size_t)e->d->settings.batch_max * 4)
        e->done[e->ndone++] = dn;
    cmn_str_free(&body);
    cmn_str_free(&media);
    return r;
}

static int s_tx_batch(void *arg, cmn_store_t *st)
{
    ciu_engine_t *e = arg;
    int64_t now = cmn_now_ms();
    e->ndone = 0;
    for (size_t i = 0; i < e->nrows; i++) {
        int r = s_issue(e, st, e->rows[i], now);
        if (r < 0)
            return r;
    }
    return 0;
}

/* After commit: wake the sender and the bridge, publish events. */
static void s_announce(ciu_engine_t *e)
{
    for (size_t i = 0; i < e->ndone; i++) {
        const s_done_t *dn = &e->done[i];
        cmn_msg_t m;
        if (dn->outbox_row) {
            cmn_msg_init(&m, CMN_MSG_OUTBOUND, dn->trace);
            cmn_strlcpy(m.user, dn->user, sizeof(m.user));
            cmn_strlcpy(m.channel, dn->channel, sizeof(m.channel));
            m.row = dn->outbox_row;
            cmn_push_send(e->to_sender, &m);
        }
        if (dn->ciu[0] == '\0')
            continue;
        if (dn->queued_sync) {
            /* Sharded by CIU (no user): the bridge's scan divides rows the same way. */
            cmn_msg_init(&m, CMN_MSG_DHIS2_SYNC, dn->trace);
            cmn_strlcpy(m.ciu, dn->ciu, sizeof(m.ciu));
            m.row = dn->sync_row;
            cmn_push_send(e->to_dhis2, &m);
        }
        cmn_msg_init(&m, CMN_EV_CIU_ISSUED, dn->trace);
        cmn_strlcpy(m.user, dn->user, sizeof(m.user));
        cmn_strlcpy(m.channel, dn->channel, sizeof(m.channel));
        cmn_strlcpy(m.ciu, dn->ciu, sizeof(m.ciu));
        m.existing = dn->existing;
        cmn_pub_send(e->pub, &m);
        cmn_counter_add(dn->existing ? e->m_existing : e->m_issued, 1);
        log_info(S_MODULE, dn->trace, "CIU %s (%s)", dn->existing ? "repeated" : "issued",
                 dn->existing ? "existing" : "new");
        for (int k = 0; k < 2; k++) {
            if (dn->dup_kind[k][0] == '\0')
                continue;
            cmn_msg_init(&m, CMN_EV_DUPLICATE, dn->trace);
            cmn_strlcpy(m.user, dn->user, sizeof(m.user));
            cmn_strlcpy(m.ciu, dn->ciu, sizeof(m.ciu));
            cmn_strlcpy(m.detail, dn->dup_kind[k], sizeof(m.detail));
            cmn_pub_send(e->pub, &m);
            cmn_counter_add(e->m_duplicates, 1);
            log_info(S_MODULE, dn->trace, "potential duplicate recorded: %s", dn->dup_kind[k]);
        }
    }
}

static int s_process(ciu_engine_t *e, const int64_t *rows, size_t n)
{
    int r;
    e->rows = rows;
    e->nrows = n;
    r = cmn_daemon_tx(e->d, s_tx_batch, e);
    if (r >= 0)
        s_announce(e);
    return r;
}

static int s_on_batch(void *arg, const cmn_msg_t *msgs, size_t n)
{
    ciu_engine_t *e = arg;
    int64_t *rows = calloc(n, sizeof(*rows));
    size_t k = 0;
    int r;
    if (rows == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (strcmp(msgs[i].type, CMN_MSG_CIU_REQUEST) == 0 && msgs[i].row > 0)
            rows[k++] = msgs[i].row;
    r = k ? s_process(e, rows, k) : 0;
    free(rows);
    return r;
}

/* Delete expired QR media: the rows, and every file older than the TTL (a
 * file written by a transaction that was rolled back has no row). */
static int s_purge_media(ciu_engine_t *e)
{
    int64_t now = cmn_now_ms();
    cmn_param_t p[] = {P_INT(now)};
    DIR *dir = opendir(e->media_dir);
    int r = cmn_store_exec(e->d->store, "DELETE FROM media WHERE expires_ms <= $1", p, 1, NULL);

    if (dir == NULL)
        return r;
    for (struct dirent *de; (de = readdir(dir)) != NULL;) {
        char path[4400];
        struct stat st;
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", e->media_dir, de->d_name);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
            (int64_t)st.st_mtime * 1000 + e->d->settings.media_ttl_s * 1000 <= now)
            unlink(path);
    }
    closedir(dir);
    return r;
}

static int s_on_rescan(void *arg, bool at_start)
{
    ciu_engine_t *e = arg;
    cmn_rows_t *rows = NULL;
    cmn_param_t p[] = {P_INT(S_SCAN_LIMIT)};
    int64_t *ids;
    size_t k = 0;
    int r;

    r = cmn_store_query(e->d->store, "SELECT id, user_key FROM ciu_requests WHERE status = 0 "
                                     "ORDER BY id LIMIT $1",
                        p, 1, &rows);
    if (r < 0)
        return r;
    ids = calloc((size_t)cmn_rows_count(rows) + 1, sizeof(*ids));
    if (ids == NULL) {
        cmn_rows_destroy(&rows);
        return -ENOMEM;
    }
    for (int i = 0; i < cmn_rows_count(rows); i++)
        if (cmn_bus_shard(cmn_rows_get(rows, i, 1), e->shards) == e->shard)
            ids[k++] = cmn_rows_int(rows, i, 0, 0);
    cmn_rows_destroy(&rows);
    if (k > 0)
        log_info(S_MODULE, NULL, "%s: %zu pending requests picked up",
                 at_start ? "start" : "scan", k);
    for (size_t off = 0; off < k && r == 0; off += (size_t)e->d->settings.batch_max) {
        size_t n = k - off < (size_t)e->d->settings.batch_max ? k - off
                                                              : (size_t)e->d->settings.batch_max;
        r = s_process(e, ids + off, n);
    }
    free(ids);
    if (r == 0 && e->shard == 0)
        r = s_purge_media(e);
    return r;
}

ciu_engine_t *ciu_engine_new(cmn_daemon_t *d)
{
    ciu_engine_t *e = calloc(1, sizeof(*e));
    cmn_str_t err = CMN_STR_INIT(1024);
    char lang_dir[4096];

    if (e == NULL)
        return NULL;
    e->d = d;
    e->done = calloc((size_t)d->settings.batch_max * 4, sizeof(*e->done));
    if (e->done == NULL)
        goto fail;
    snprintf(lang_dir, sizeof(lang_dir), "%s/lang", d->settings.share_dir);
    e->texts = cmn_i18n_load(lang_dir, &err);
    if (e->texts == NULL) {
        log_error(S_MODULE, NULL, "CIU_SHARE_DIR: cannot load the texts: %s",
                  cmn_str_cstr(&err));
        goto fail;
    }
    snprintf(e->media_dir, sizeof(e->media_dir), "%s/media", d->settings.data_dir);
    if ((mkdir(e->media_dir, 0750) != 0 && errno != EEXIST)) {
        log_error(S_MODULE, NULL, "CIU_DATA_DIR: cannot create %s: %s", e->media_dir,
                  strerror(errno));
        goto fail;
    }
    e->pull = cmn_daemon_pull(d, d->settings.ep_engine, &e->shard, &e->shards);
    e->to_sender = cmn_push_new(d->bus, d->settings.ep_sender);
    e->to_dhis2 = cmn_push_new(d->bus, d->settings.ep_dhis2);
    e->pub = cmn_pub_new(d->bus, d->settings.ev_engine);
    if (e->pull == NULL || e->to_sender == NULL || e->to_dhis2 == NULL || e->pub == NULL) {
        log_error(S_MODULE, NULL, "cannot set up the bus (CIU_SENDER_ENDPOINTS, "
                                  "CIU_DHIS2_ENDPOINTS, CIU_ENGINE_EVENTS): %s",
                  strerror(errno));
        goto fail;
    }
    e->m_issued = cmn_metrics_counter(d->metrics, "issued_total", NULL, "New CIUs issued");
    e->m_existing = cmn_metrics_counter(d->metrics, "existing_total", NULL,
                                        "CIUs requested again with the same answers");
    e->m_duplicates = cmn_metrics_counter(d->metrics, "duplicates_total", NULL,
                                          "Potential duplicates recorded");
    e->m_qr = cmn_metrics_counter(d->metrics, "qr_codes_total", NULL, "QR images generated");
    cmn_str_free(&err);
    return e;
fail:
    cmn_str_free(&err);
    ciu_engine_destroy(&e);
    return NULL;
}

int ciu_engine_run(ciu_engine_t *e)
{
    static const cmn_worker_ops_t ops = {.on_batch = s_on_batch, .on_rescan = s_on_rescan};
    return cmn_daemon_work(e->d, e->pull, &ops, e);
}

void ciu_engine_destroy(ciu_engine_t **p)
{
    ciu_engine_t *e;
    if (p == NULL || *p == NULL)
        return;
    e = *p;
    cmn_pub_destroy(&e->pub);
    cmn_push_destroy(&e->to_dhis2);
    cmn_push_destroy(&e->to_sender);
    cmn_pull_destroy(&e->pull);
    cmn_i18n_destroy(&e->texts);
    free(e->done);
    free(e);
    *p = NULL;
}
