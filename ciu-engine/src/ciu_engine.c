/* ciu_engine: registry, duplicates, replies, QR media, DHIS2 queue. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ciu_engine.h"
#include "ciu_qr.h"
#include "ciu_rules.h"
#include "ciu_store.h"
#include "common/cmn_i18n.h"
#include "common/cmn_log.h"
#include "common/cmn_outbox.h"

#define S_MODULE "engine"
#define S_PATH_MAX 4200
#define S_FILE_GRACE_MS 5000 /* a QR file unseen this long after its commit: the scan writes it */

/* A QR image, rendered before the transaction (or, for a request that came
 * in since, during it: in memory only). */
typedef struct {
    char ciu[CIU_LEN + 1];
    unsigned char *png;
    size_t len;
} s_qr_t;

/* A QR file to write once the transaction has committed. */
typedef struct {
    char path[S_PATH_MAX];
    char ciu[CIU_LEN + 1];
} s_file_t;

/* One request being answered. */
typedef struct {
    ciu_request_t rq;
    char ciu[CIU_LEN + 1];
    bool existing;
    bool mine; /* this number obtained this CIU before (or first) */
    char first_user[CMN_HEX256_LEN];
    int64_t outbox_row;
    int64_t sync_row;    /* the DHIS2 row queued, 0 if none */
    const char *dups[2]; /* duplicate kinds recorded now, NULL if none */
} s_issue_t;

struct ciu_engine {
    cmn_daemon_t *d;
    cmn_i18n_t *texts;
    cmn_push_t *to_sender;
    cmn_push_t *to_dhis2;
    cmn_push_t *to_conversation;
    char media_dir[4096];
    cmn_stage_t st; /* PULL, PUB, share, the batch's people, announcements */
    const cmn_keyset_t *batch;
    s_qr_t *qrs; /* rendered images of the batch */
    size_t nqrs, maxqrs;
    s_file_t *files; /* files of the current attempt */
    size_t nfiles, maxfiles;
    cmn_counter_t *m_issued;
    cmn_counter_t *m_existing;
    cmn_counter_t *m_duplicates;
    cmn_counter_t *m_qr;
};

/* ------------------------------------------------------------------ QR */

static const s_qr_t *s_qr_find(const ciu_engine_t *e, const char *ciu)
{
    for (size_t i = 0; i < e->nqrs; i++)
        if (strcmp(e->qrs[i].ciu, ciu) == 0)
            return &e->qrs[i];
    return NULL;
}

/* Render the QR image of a CIU into the batch's cache (once per CIU). */
static int s_qr_render(ciu_engine_t *e, const char *ciu)
{
    s_qr_t *q;
    int r;

    if (s_qr_find(e, ciu) != NULL)
        return 0;
    if (e->nqrs == e->maxqrs)
        return -ENOSPC;
    q = &e->qrs[e->nqrs];
    r = ciu_qr_png(ciu, &q->png, &q->len);
    if (r < 0)
        return r;
    cmn_strlcpy(q->ciu, ciu, sizeof(q->ciu));
    e->nqrs++;
    return 0;
}

static void s_qr_clear(ciu_engine_t *e)
{
    for (size_t i = 0; i < e->nqrs; i++)
        free(e->qrs[i].png);
    e->nqrs = 0;
}

/* The CIU of a request's codes (CIU_OK or the refusal). */
static ciu_err_t s_compute(const ciu_request_t *rq, char ciu[CIU_LEN + 1], ciu_field_t *ret_bad)
{
    /* The conversation stored validated codes; running them through the same
     * parsers again keeps the engine the one place the formula lives. */
    return ciu_compute(NULL, rq->last, rq->first, rq->year, rq->city, rq->gender, 9999, ciu,
                       ret_bad);
}

/* Before the transaction: render the images of the people's pending
 * requests, so the write lock is not held while encoding PNGs. A failure
 * here only moves the work into the transaction. */
static void s_qr_prepare(ciu_engine_t *e, const cmn_keyset_t *keys)
{
    for (size_t k = 0; k < cmn_keyset_count(keys); k++) {
        ciu_request_t *list = NULL;
        size_t n = 0;
        if (ciu_store_pending(e->d->store, cmn_keyset_key(keys, k), &list, &n) < 0)
            continue;
        for (size_t i = 0; i < n; i++) {
            char ciu[CIU_LEN + 1];
            ciu_field_t bad;
            if (s_compute(&list[i], ciu, &bad) == CIU_OK)
                s_qr_render(e, ciu);
        }
        free(list);
    }
}

/* Write a file whole or not at all: a temporary name, fsync, rename. */
static int s_write_file(const char *path, const unsigned char *data, size_t len)
{
    char tmp[S_PATH_MAX + 8];
    int fd, r = 0;

    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
        return -errno;
    if (write(fd, data, len) != (ssize_t)len || fsync(fd) != 0)
        r = -EIO;
    if (close(fd) != 0 && r == 0)
        r = -EIO;
    if (r == 0 && rename(tmp, path) != 0)
        r = -errno;
    if (r < 0)
        unlink(tmp);
    return r;
}

/* Write the QR file of a CIU at path, from the cache or rendered now. */
static int s_qr_write(void *arg, const char *path, const char *ciu)
{
    ciu_engine_t *e = arg;
    const s_qr_t *q = s_qr_find(e, ciu);
    unsigned char *png = NULL;
    size_t len = 0;
    int r;

    if (q == NULL) {
        struct stat sb;
        if (stat(path, &sb) == 0)
            return 0; /* written after its commit, as it should */
        r = ciu_qr_png(ciu, &png, &len);
        if (r < 0)
            return r;
    }
    r = s_write_file(path, q ? q->png : png, q ? q->len : len);
    free(png);
    return r;
}

/* After the commit: the files of the media rows just committed that are not
 * there yet (s_qr_attach writes them before the commit; this is the retry
 * when that failed, before the scan's). */
static void s_files_write(ciu_engine_t *e)
{
    for (size_t i = 0; i < e->nfiles; i++) {
        struct stat sb;
        if (stat(e->files[i].path, &sb) == 0)
            continue;
        int r = s_qr_write(e, e->files[i].path, e->files[i].ciu);
        if (r < 0)
            log_warn(S_MODULE, NULL, "cannot write a QR image to %s: %s; the scan retries",
                     e->media_dir, cmn_strerror(r));
    }
    e->nfiles = 0;
}

/* A transaction that did not commit: delete the files it wrote. */
static void s_files_forget(ciu_engine_t *e)
{
    for (size_t i = 0; i < e->nfiles; i++)
        unlink(e->files[i].path);
    e->nfiles = 0;
}

/* In the transaction: register a QR token for the CIU and write its file
 * now, so it is there when the sender wakes up after the commit (writing it
 * after the commit made the sender wait for it: the CIU reply's p99 had a
 * 1 s step). The files of an attempt that does not commit are deleted
 * (s_files_forget). ret_url: the public URL. */
static int s_qr_attach(ciu_engine_t *e, cmn_store_t *st, const char *ciu, int64_t now,
                       cmn_str_t *ret_url)
{
    char token[65];
    s_file_t *f;
    int r;

    if (e->nfiles == e->maxfiles)
        return -ENOSPC;
    r = s_qr_render(e, ciu);
    if (r < 0)
        return r;
    r = cmn_random_hex(token, sizeof(token), 32);
    if (r < 0)
        return r;
    f = &e->files[e->nfiles];
    snprintf(f->path, sizeof(f->path), "%s/%s.png", e->media_dir, token);
    cmn_strlcpy(f->ciu, ciu, sizeof(f->ciu));
    r = ciu_store_media_add(st, token, f->path, ciu, now + e->d->settings.media_ttl_s * 1000);
    if (r < 0)
        return r;
    if (s_qr_write(e, f->path, ciu) < 0) /* written after the commit, or by the scan */
        log_debug(S_MODULE, NULL, "QR file %s not written yet: after the commit", f->path);
    e->nfiles++;
    cmn_announce_count(e->st.ann, e->m_qr, 1);
    return cmn_str_printf(ret_url, "%s/media/qr/%s.png", e->d->settings.public_url, token);
}

/* ------------------------------------------------------------- announce */

static void s_msg(cmn_msg_t *m, const char *type, const s_issue_t *is)
{
    cmn_msg_init(m, type, is->rq.trace);
    cmn_strlcpy(m->user, is->rq.user, sizeof(m->user));
    cmn_strlcpy(m->channel, is->rq.channel, sizeof(m->channel));
    cmn_strlcpy(m->ciu, is->ciu, sizeof(m->ciu));
}

/* After the commit, in the order docs/messages.md gives: the reply to the
 * sender, the conversation told (a ciu_done row: "inbound" names the
 * person), the DHIS2 enrolment, ciu.issued, the duplicates. */
static void s_announce(ciu_engine_t *e, const s_issue_t *is)
{
    cmn_msg_t m;

    s_msg(&m, CMN_MSG_OUTBOUND, is);
    m.ciu[0] = '\0';
    m.row = is->outbox_row;
    cmn_announce_push(e->st.ann, e->to_sender, &m);
    s_msg(&m, CMN_MSG_INBOUND, is);
    m.ciu[0] = '\0';
    cmn_announce_push(e->st.ann, e->to_conversation, &m);
    if (is->ciu[0] == '\0')
        return; /* a rejected request */
    if (is->sync_row) {
        /* Sharded by CIU (no user): the bridge's scan divides rows the same way. */
        cmn_msg_init(&m, CMN_MSG_DHIS2_SYNC, is->rq.trace);
        cmn_strlcpy(m.ciu, is->ciu, sizeof(m.ciu));
        m.row = is->sync_row;
        cmn_announce_push(e->st.ann, e->to_dhis2, &m);
    }
    s_msg(&m, CMN_EV_CIU_ISSUED, is);
    m.existing = is->existing;
    cmn_announce_pub(e->st.ann, e->st.pub, &m);
    cmn_announce_count(e->st.ann, is->existing ? e->m_existing : e->m_issued, 1);
    for (int k = 0; k < 2 && is->dups[k]; k++) {
        s_msg(&m, CMN_EV_DUPLICATE, is);
        m.channel[0] = '\0';
        cmn_strlcpy(m.detail, is->dups[k], sizeof(m.detail));
        cmn_announce_pub(e->st.ann, e->st.pub, &m);
        cmn_announce_count(e->st.ann, e->m_duplicates, 1);
    }
}

/* A potential duplicate, recorded once (announced after the commit). */
static int s_duplicate(cmn_store_t *st, s_issue_t *is, const char *kind, const char *other_ciu,
                       const char *other_user, int64_t now)
{
    bool fresh = false;
    int r = ciu_store_duplicate(st, kind, is->ciu, other_ciu, is->rq.user, other_user, now, &fresh);

    if (r == 0 && fresh) {
        is->dups[is->dups[0] ? 1 : 0] = kind;
        log_debug(S_MODULE, is->rq.trace, "potential duplicate recorded: %s", kind);
    }
    return r;
}

/* ---------------------------------------------------------------- issue */

static int s_reg_key(const ciu_engine_t *e, const char *ciu, char ret[CMN_HEX256_LEN])
{
    char parts[64];

    snprintf(parts, sizeof(parts), "%.3s|%.3s|%c|%.2s|%c", ciu, ciu + 3, ciu[6], ciu + 7, ciu[9]);
    return cmn_hmac_sha256_hex(e->d->salt, e->d->salt_len, parts, strlen(parts), ret);
}

/* Registry, the number's CIUs, and the potential duplicates. A number
 * that registers another person on purpose (AUTRE: a family on one phone)
 * is not a suspected duplicate; the same CIU from another number still is
 * (visible to staff only: that number is answered as a new registration). */
static int s_register(ciu_engine_t *e, cmn_store_t *st, s_issue_t *is, int64_t now)
{
    char reg_key[CMN_HEX256_LEN], prev[16];
    bool fresh = false;
    int r;

    r = s_reg_key(e, is->ciu, reg_key);
    if (r == 0)
        r = ciu_store_register(st, is->ciu, reg_key, is->rq.user, now, &is->existing,
                               is->first_user);
    if (r == 0)
        r = ciu_store_number_ciu(st, is->rq.user, is->ciu, now, &fresh);
    is->mine = !fresh || strcmp(is->first_user, is->rq.user) == 0;
    if (r == 0 && strcmp(is->first_user, is->rq.user) != 0)
        r = s_duplicate(st, is, "same_ciu_other_number", NULL, is->first_user, now);
    if (r == 0)
        r = ciu_store_user_ciu(st, is->rq.user, is->ciu, now, prev);
    if (r == 0 && prev[0] != '\0' && strcmp(prev, is->ciu) != 0 && !is->rq.other)
        r = s_duplicate(st, is, "number_other_ciu", prev, NULL, now);
    return r;
}

static int s_reply(ciu_engine_t *e, cmn_store_t *st, s_issue_t *is, const char *key,
                   const char *media, int64_t now)
{
    cmn_str_t body = CMN_STR_INIT(4096);
    const char *vars[] = {"ciu", is->ciu, NULL};
    int r = cmn_i18n_format(e->texts, is->rq.lang, key, vars, &body);

    if (r == 0) {
        cmn_reply_t reply = {.channel = is->rq.channel,
                             .user = is->rq.user,
                             .to = is->rq.to[0] ? is->rq.to : NULL,
                             .body = cmn_str_cstr(&body),
                             .media = media,
                             .trace = is->rq.trace};
        r = cmn_outbox_queue(st, &reply, now, &is->outbox_row);
    }
    cmn_str_free(&body);
    return r;
}

/* Codes that cannot make a CIU (never from the conversation): answer with
 * an apology, end the wait, never loop on the request. */
static int s_reject(ciu_engine_t *e, cmn_store_t *st, s_issue_t *is, ciu_err_t ce, ciu_field_t bad,
                    int64_t now)
{
    int r;

    log_error(S_MODULE, is->rq.trace, "request %lld has an invalid %s (%s): dropped",
              (long long)is->rq.id, ciu_field_str(bad), ciu_err_str(ce));
    is->ciu[0] = '\0';
    r = s_reply(e, st, is, "error_internal", NULL, now);
    if (r == 0)
        r = ciu_store_done(st, &is->rq, now);
    if (r == 0)
        s_announce(e, is);
    return r;
}

/* Answer one request, if it is still pending: claim it (delete), register,
 * reply (with the QR image), queue DHIS2, tell the conversation. */
static int s_issue(ciu_engine_t *e, cmn_store_t *st, int64_t id, int64_t now)
{
    s_issue_t is;
    cmn_str_t media = CMN_STR_INIT(1024);
    ciu_field_t bad = CIU_FIELD_NONE;
    ciu_err_t ce;
    bool found = false;
    int r;

    memset(&is, 0, sizeof(is));
    r = ciu_store_claim(st, id, &is.rq, &found);
    if (r < 0 || !found) /* done already: another replica, or a repeated wake-up */
        goto out;
    ce = s_compute(&is.rq, is.ciu, &bad);
    if (ce != CIU_OK) {
        r = s_reject(e, st, &is, ce, bad, now);
        goto out;
    }
    r = s_register(e, st, &is, now);
    if (r == 0 && e->d->settings.enable_qr)
        r = s_qr_attach(e, st, is.ciu, now, &media);
    if (r == 0)
        /* "your existing code" only to the number that has it: to any
         * other, exactly the reply of a new registration (whether someone
         * is enrolled is health information) */
        r = s_reply(e, st, &is, is.existing && is.mine ? "ciu_existing" : "ciu_issued",
                    media.len ? cmn_str_cstr(&media) : NULL, now);
    if (r == 0 && !is.existing) /* new CIUs go to DHIS2, once per CIU */
        r = ciu_store_sync_queue(st, is.ciu, now, is.rq.trace, &is.sync_row);
    if (r == 0)
        r = ciu_store_done(st, &is.rq, now);
    if (r < 0)
        goto out;
    s_announce(e, &is);
    log_debug(S_MODULE, is.rq.trace, "CIU %s", is.existing ? "repeated (existing)" : "issued");
out:
    cmn_str_free(&media);
    return r;
}

/* ---------------------------------------------------------------- stage */

/* The transaction: every pending request of the batch's people, in order. */
static int s_tx(void *arg, cmn_store_t *st)
{
    ciu_engine_t *e = arg;
    int64_t now = cmn_now_ms();
    int r = 0;

    s_files_forget(e); /* the files of a failed attempt name tokens no row has */
    for (size_t k = 0; k < cmn_keyset_count(e->batch) && r == 0; k++) {
        ciu_request_t *list = NULL;
        size_t n = 0;
        r = ciu_store_pending(st, cmn_keyset_key(e->batch, k), &list, &n);
        for (size_t i = 0; i < n && r == 0; i++)
            r = s_issue(e, st, list[i].id, now);
        free(list);
    }
    return r;
}

/* A set of people: images first, then one transaction, then the files. */
static int s_work(void *arg, const cmn_keyset_t *keys)
{
    ciu_engine_t *e = arg;
    int r;

    e->batch = keys;
    if (e->d->settings.enable_qr)
        s_qr_prepare(e, keys);
    r = cmn_stage_tx(e->d, e->st.ann, s_tx, e);
    if (r >= 0)
        s_files_write(e);
    else
        s_files_forget(e);
    e->nfiles = 0;
    s_qr_clear(e);
    return r;
}

static int s_on_batch(void *arg, const cmn_msg_t *msgs, size_t n)
{
    ciu_engine_t *e = arg;
    return cmn_stage_batch(msgs, n, CMN_MSG_CIU_REQUEST, e->st.keys, s_work, e);
}

/* Delete expired QR media: the rows, and every file older than the TTL (a
 * file of a crashed write has no row). */
static int s_purge_media(ciu_engine_t *e)
{
    int64_t now = cmn_now_ms();
    DIR *dir = opendir(e->media_dir);
    int r = ciu_store_media_purge(e->d->store, now);

    if (dir == NULL)
        return r;
    for (struct dirent *de; (de = readdir(dir)) != NULL;) {
        char path[S_PATH_MAX + 300];
        struct stat sb;
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", e->media_dir, de->d_name);
        if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode) &&
            (int64_t)sb.st_mtime * 1000 + e->d->settings.media_ttl_s * 1000 <= now)
            unlink(path);
    }
    closedir(dir);
    return r;
}

static int s_on_rescan(void *arg, bool at_start)
{
    ciu_engine_t *e = arg;
    int64_t ttl_ms = e->d->settings.media_ttl_s * 1000;
    int n = cmn_stage_scan(e->d->store, &ciu_store_scan, e->st.shard, e->st.shards, e->st.keys,
                           s_work, e);

    if (n > 0)
        log_info(S_MODULE, NULL, "%s: pending requests of %d people picked up",
                 at_start ? "start" : "scan", n);
    if (n < 0 || e->st.shard != 0)
        return n < 0 ? n : 0;
    /* Images whose file a crash (or a full disk) left unwritten. */
    n = ciu_store_media_unwritten(e->d->store, cmn_now_ms() + ttl_ms - S_FILE_GRACE_MS, s_qr_write,
                                  e);
    if (n < 0)
        return n;
    return s_purge_media(e);
}

/* -------------------------------------------------------------- object */

ciu_engine_t *ciu_engine_new(cmn_daemon_t *d)
{
    ciu_engine_t *e = calloc(1, sizeof(*e));
    size_t max = (size_t)d->settings.batch_max;

    if (e == NULL)
        return NULL;
    e->d = d;
    e->maxqrs = e->maxfiles = 4 * max;
    e->qrs = calloc(e->maxqrs, sizeof(*e->qrs));
    e->files = calloc(e->maxfiles, sizeof(*e->files));
    if (e->qrs == NULL || e->files == NULL)
        goto fail;
    e->texts = cmn_daemon_texts(d);
    if (e->texts == NULL)
        goto fail;
    snprintf(e->media_dir, sizeof(e->media_dir), "%s/media", d->settings.data_dir);
    if ((mkdir(e->media_dir, 0750) != 0 && errno != EEXIST)) {
        log_error(S_MODULE, NULL, "CIU_DATA_DIR: cannot create %s: %s", e->media_dir,
                  strerror(errno));
        goto fail;
    }
    if (cmn_stage_open(&e->st, d, d->settings.ep_engine, d->settings.ev_engine,
                       "CIU_ENGINE_EVENTS") < 0)
        goto fail;
    e->to_sender = cmn_daemon_push(d, "sender", d->settings.ep_sender);
    e->to_dhis2 = cmn_daemon_push(d, "dhis2", d->settings.ep_dhis2);
    e->to_conversation = cmn_daemon_push(d, "conversation", d->settings.ep_conversation);
    if (e->to_sender == NULL || e->to_dhis2 == NULL || e->to_conversation == NULL) {
        log_error(S_MODULE, NULL,
                  "cannot set up the bus (CIU_SENDER_ENDPOINTS, "
                  "CIU_DHIS2_ENDPOINTS, CIU_CONVERSATION_ENDPOINTS): %s",
                  strerror(errno));
        goto fail;
    }
    e->m_issued = cmn_metrics_counter(d->metrics, "issued_total", NULL, "New CIUs issued");
    e->m_existing = cmn_metrics_counter(d->metrics, "existing_total", NULL,
                                        "CIUs requested again with the same answers");
    e->m_duplicates = cmn_metrics_counter(d->metrics, "duplicates_total", NULL,
                                          "Potential duplicates recorded");
    e->m_qr = cmn_metrics_counter(d->metrics, "qr_codes_total", NULL, "QR images generated");
    return e;
fail:
    ciu_engine_destroy(&e);
    return NULL;
}

int ciu_engine_run(ciu_engine_t *e)
{
    static const cmn_worker_ops_t ops = {.on_batch = s_on_batch,
                                         .on_rescan = s_on_rescan,
                                         .queue_stage = "engine",
                                         .queue_sql = ciu_store_queue_sql};
    return cmn_stage_run(&e->st, &ops, e);
}

int ciu_engine_batch(ciu_engine_t *e, const cmn_msg_t *msgs, size_t n)
{
    return s_on_batch(e, msgs, n);
}

int ciu_engine_rescan(ciu_engine_t *e)
{
    return s_on_rescan(e, false);
}

void ciu_engine_destroy(ciu_engine_t **p)
{
    ciu_engine_t *e;
    if (p == NULL || *p == NULL)
        return;
    e = *p;
    cmn_push_destroy(&e->to_conversation);
    cmn_push_destroy(&e->to_dhis2);
    cmn_push_destroy(&e->to_sender);
    cmn_stage_close(&e->st);
    cmn_i18n_destroy(&e->texts);
    if (e->qrs)
        s_qr_clear(e);
    free(e->qrs);
    free(e->files);
    free(e);
    *p = NULL;
}
