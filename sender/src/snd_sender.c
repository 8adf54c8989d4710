/* snd_sender: claim -> call -> record, in order per person.
 *
 * For each person with replies due, one short transaction claims the oldest
 * unfinished reply (status 3 with a lease) if nothing of theirs is in
 * flight and it is due; the provider is called with libcurl multi outside
 * any transaction (many people at once, one call per person); the outcome is
 * recorded in a second short transaction, and only then is that person's
 * next reply claimed. A reply waiting for its retry holds back that person's
 * later replies, never anybody else's. The simulator channel has no network
 * call: its replies go to the mailbox table inside the claim transaction.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cmn_channels.h"
#include "common/cmn_http.h"
#include "common/cmn_i18n.h"
#include "common/cmn_log.h"
#include "common/cmn_ratelimit.h"
#include "common/cmn_stage.h"
#include "snd_provider.h"
#include "snd_sender.h"
#include "snd_store.h"

#define S_MODULE "sender"
#define S_SCAN_LIMIT 1000
#define S_USERS_MAX 4096       /* people waiting to be pumped (more: found by the scan) */
#define S_RESP_MAX (64 * 1024) /* provider answers are small */
#define S_MEDIA_MAX (5 * 1024 * 1024)
#define S_CALL_TIMEOUT_MS 15000L
#define S_PEER_WAIT_MS 6000 /* Meta pair rate: >= 6 s for that recipient */
#define S_MEDIA_WAIT_ATTEMPTS 5 /* a QR file not written yet: retried (1, 2, 4, 8 s) */
#define S_DRAIN_MS 10000 /* at stop, calls in flight get this long to finish */
#define S_CODE_RETRY_MAX 8      /* a retryable provider code still there after 8 tries: failed */

enum { S_PENDING = 0, S_SENT = 1, S_FAILED = 2, S_INFLIGHT = 3 };
enum { S_CH_TWILIO = 0, S_CH_META = 1, S_NCH = 2 };

typedef struct s_call s_call_t;

struct s_call {
    snd_sender_t *s;
    int64_t row;
    int ch;
    char user[CMN_HEX256_LEN];
    char trace[CMN_ID_LEN];
    char token[130];   /* media token of the QR image, "" if none */
    char media_id[128]; /* Meta media id once uploaded (as long as a provider id) */
    char *to, *body, *media_url, *ui, *media_path;
    int attempts;
    int64_t created_ms;
    bool upload; /* this call uploads the image (Meta), the send follows */
    bool probe;  /* the call that tests a paused channel's credentials */
    bool maybe_sent; /* no answer to a request that went out: the provider may have
                      * accepted it, so its retry may be a duplicate (send_resends_total) */
    snd_result_t res;
    s_call_t *next;
};

typedef struct {
    char user[CMN_HEX256_LEN];
    int64_t due_ms;
} s_deferred_t;

typedef struct {
    bool on;
    const char *name;
    cmn_ratelimit_t rl;
    bool paused;
    int64_t probe_ms; /* paused: when the next probe may go */
    bool probing;
} s_channel_t;

struct snd_sender {
    size_t shares; /* the replica count the rate limits were split by */
    cmn_daemon_t *d;
    cmn_channels_t chans;
    cmn_i18n_t *texts;
    cmn_http_t *http;
    cmn_stage_t st; /* PULL, PUB, this replica's share, the scan's keyset */
    s_channel_t ch[S_NCH];
    /* people to look at: from wake-ups, finished calls, timers, scans */
    cmn_keyset_t *pending;
    /* people whose next reply may not go yet (retry time, rate, lease) */
    s_deferred_t *deferred;
    size_t ndeferred;
    int64_t timer_ms; /* the earliest deferred person is due then (0: none) */
    s_call_t *finished; /* calls whose outcome awaits recording */
    s_call_t *to_start; /* claimed in the last transaction, not started yet */
    size_t inflight;
    int64_t probe_interval_ms;
    cmn_counter_t *m_sent;
    cmn_counter_t *m_failed;
    cmn_counter_t *m_retries;
    cmn_counter_t *m_resends;
    cmn_counter_t *m_ratelimited;
    cmn_counter_t *m_uploads;
    cmn_gauge_t *m_paused[S_NCH];
    cmn_histogram_t *m_delay;
    cmn_histogram_t *m_call[S_NCH];
    /* ciu_messages_out_total: [twilio, meta, sim][sent, failed, retry] */
    cmn_counter_t *m_out[S_NCH + 1][3];
};

static void s_call_free(s_call_t *c)
{
    if (c == NULL)
        return;
    free(c->to);
    free(c->body);
    free(c->media_url);
    free(c->ui);
    free(c->media_path);
    free(c);
}

static void s_free_list(s_call_t **head)
{
    while (*head) {
        s_call_t *c = *head;
        *head = c->next;
        s_call_free(c);
    }
}

/* Look at this person again soon (full: the periodic scan finds them). */
static void s_add_user(snd_sender_t *s, const char *user)
{
    cmn_keyset_add(s->pending, user);
}

static void s_defer(snd_sender_t *s, const char *user, int64_t due_ms)
{
    size_t i;
    for (i = 0; i < s->ndeferred; i++)
        if (strcmp(s->deferred[i].user, user) == 0)
            break;
    if (i == s->ndeferred) {
        if (s->ndeferred == S_USERS_MAX)
            return; /* the periodic scan finds this person again */
        cmn_strlcpy(s->deferred[s->ndeferred].user, user, CMN_HEX256_LEN);
        s->deferred[s->ndeferred++].due_ms = due_ms;
    } else if (due_ms < s->deferred[i].due_ms) {
        s->deferred[i].due_ms = due_ms;
    }
    if (s->timer_ms == 0 || due_ms < s->timer_ms)
        s->timer_ms = due_ms;
}

/* Move the deferred people who are due to the list to look at. */
static void s_wake_due(snd_sender_t *s, int64_t now)
{
    int64_t next = 0;
    size_t k = 0;
    for (size_t i = 0; i < s->ndeferred; i++) {
        if (s->deferred[i].due_ms <= now) {
            s_add_user(s, s->deferred[i].user);
            continue;
        }
        if (next == 0 || s->deferred[i].due_ms < next)
            next = s->deferred[i].due_ms;
        s->deferred[k++] = s->deferred[i];
    }
    s->ndeferred = k;
    s->timer_ms = next;
}

static int s_channel_index(const char *name)
{
    return strcmp(name, "twilio") == 0 ? S_CH_TWILIO : strcmp(name, "meta") == 0 ? S_CH_META : -1;
}

static double s_rnd(void)
{
    unsigned int x = 0;
    cmn_random_bytes(&x, sizeof(x));
    return (double)x / 4294967295.0;
}

/* ---- the simulator: delivered inside the claim transaction -------------- */

static int s_deliver_sim(snd_sender_t *s, cmn_store_t *st, const char *user, int64_t now)
{
    cmn_rows_t *rows = NULL;
    int r = snd_store_sim_pending(st, user, &rows);
    for (int i = 0; r == 0 && i < cmn_rows_count(rows); i++) {
        int64_t row = cmn_rows_int(rows, i, 0, 0);
        r = snd_store_sim_deliver(st, user, row, cmn_rows_get(rows, i, 1), cmn_rows_get(rows, i, 2),
                                  now);
        if (r < 0)
            break;
        /* the event goes out after commit through a finished call record */
        s_call_t *c = calloc(1, sizeof(*c));
        if (c == NULL) {
            r = -ENOMEM;
            break;
        }
        c->s = s;
        c->row = row;
        c->ch = -1;
        cmn_strlcpy(c->user, user, sizeof(c->user));
        cmn_strlcpy(c->trace, cmn_rows_get(rows, i, 3), sizeof(c->trace));
        c->res.outcome = SND_OK;
        c->created_ms = cmn_rows_int(rows, i, 4, now);
        c->next = s->finished;
        s->finished = c;
    }
    cmn_rows_destroy(&rows);
    return r;
}

/* ---- claim -------------------------------------------------------------- */

/* The media token in ".../media/qr/<token>.png". */
static void s_media_token(const char *url, char out[130])
{
    const char *slash = url ? strrchr(url, '/') : NULL;
    const char *dot = slash ? strrchr(slash, '.') : NULL;
    out[0] = '\0';
    if (slash && dot && dot - slash - 1 > 0 && dot - slash - 1 < 129)
        snprintf(out, 130, "%.*s", (int)(dot - slash - 1), slash + 1);
}

static char *s_dup(const char *v) { return v ? strdup(v) : NULL; }

/* Fill a call from the head row (columns of s_claim_user's SELECT). */
static int s_call_new(snd_sender_t *s, cmn_store_t *st, cmn_rows_t *rows, int ch,
                      const char *user, s_call_t **ret)
{
    s_call_t *c = calloc(1, sizeof(*c));
    const char *media = cmn_rows_get(rows, 0, 5);
    if (c == NULL)
        return -ENOMEM;
    c->s = s;
    c->row = cmn_rows_int(rows, 0, 0, 0);
    c->ch = ch;
    c->attempts = (int)cmn_rows_int(rows, 0, 8, 0) + 1;
    c->created_ms = cmn_rows_int(rows, 0, 11, 0);
    cmn_strlcpy(c->user, user, sizeof(c->user));
    cmn_strlcpy(c->trace, cmn_rows_get(rows, 0, 7), sizeof(c->trace));
    c->to = s_dup(cmn_rows_get(rows, 0, 3));
    c->body = s_dup(cmn_rows_get(rows, 0, 4));
    c->ui = s_dup(cmn_rows_get(rows, 0, 6));
    if (c->to == NULL || c->body == NULL) {
        s_call_free(c);
        return -EINVAL;
    }
    if (media && *media) {
        s_media_token(media, c->token);
        if (ch == S_CH_TWILIO) {
            cmn_str_t u = CMN_STR_INIT(4096);
            if (strncmp(media, "http", 4) != 0)
                cmn_str_appends(&u, s->chans.public_url);
            cmn_str_appends(&u, media);
            c->media_url = cmn_str_steal(&u);
            /* Twilio fetches the image as soon as it accepts the message: the
             * file must be there (see s_start) */
            if (c->token[0] && snd_store_media_path(st, c->token, &c->media_path) < 0) {
                s_call_free(c);
                return -EIO;
            }
        } else if (c->token[0]) {
            int r = snd_store_media(st, c->token, c->media_id, sizeof(c->media_id), &c->media_path);
            if (r < 0) {
                s_call_free(c);
                return r;
            }
            c->upload = c->media_id[0] == '\0' && c->media_path != NULL;
        }
    }
    *ret = c;
    return 0;
}

/* Claim this person's oldest unfinished reply if it may go now. */
static int s_claim_user(snd_sender_t *s, cmn_store_t *st, const char *user, int64_t now)
{
    cmn_rows_t *rows = NULL;
    int64_t wait = 0;
    s_call_t *c = NULL;
    int r, ch;

    r = snd_store_head(st, user, &rows);
    if (r < 0 || cmn_rows_count(rows) == 0)
        goto out;
    const char *channel = cmn_rows_get(rows, 0, 1);
    int status = (int)cmn_rows_int(rows, 0, 2, 0);
    int64_t next_ms = cmn_rows_int(rows, 0, 9, 0), lease_ms = cmn_rows_int(rows, 0, 10, 0);
    int64_t row = cmn_rows_int(rows, 0, 0, 0);
    if (strcmp(channel, "sim") == 0) {
        r = s_deliver_sim(s, st, user, now);
        goto out;
    }
    if (status == S_INFLIGHT && lease_ms > now) {
        s_defer(s, user, lease_ms); /* another call (maybe another replica's) is out */
        goto out;
    }
    if (status == S_PENDING && next_ms > now) {
        s_defer(s, user, next_ms); /* waiting for its retry: holds back this person only */
        goto out;
    }
    ch = s_channel_index(channel);
    if (ch < 0 || !s->ch[ch].on) {
        r = snd_store_failed(st, row, "channel not configured in this deployment", NULL);
        if (r == 0 && (c = calloc(1, sizeof(*c))) != NULL) {
            c->s = s;
            c->row = row;
            c->ch = -1;
            cmn_strlcpy(c->user, user, sizeof(c->user));
            cmn_strlcpy(c->trace, cmn_rows_get(rows, 0, 7), sizeof(c->trace));
            c->res.outcome = SND_FAIL;
            snprintf(c->res.reason, sizeof(c->res.reason), "channel %s not configured", channel);
            c->next = s->finished;
            s->finished = c;
            c = NULL;
        }
        goto out;
    }
    s_channel_t *chn = &s->ch[ch];
    bool probe = false;
    if (chn->paused) {
        if (chn->probing || now < chn->probe_ms) {
            s_defer(s, user, chn->probing ? now + s->probe_interval_ms : chn->probe_ms);
            goto out;
        }
        probe = true;
    }
    if (s->inflight >= (size_t)s->d->settings.send_concurrency) {
        s_defer(s, user, now + 50); /* picked up when calls finish */
        goto out;
    }
    if (!cmn_ratelimit_take(&chn->rl, cmn_mono_ms(), &wait)) {
        cmn_counter_add(s->m_ratelimited, 1);
        s_defer(s, user, now + wait);
        goto out;
    }
    r = snd_store_claim(st, row, now + s->d->settings.send_lease_s * 1000, now);
    if (r <= 0)
        goto out; /* a store error, or someone else claimed it first */
    if (status == S_INFLIGHT)
        cmn_counter_add(s->m_resends, 1);
    r = s_call_new(s, st, rows, ch, user, &c);
    if (r == -EINVAL) { /* no number left to send to: nothing can ever deliver it */
        r = snd_store_failed(st, row, "no recipient address", NULL);
        goto out;
    }
    if (r < 0)
        goto out;
    c->probe = probe;
    if (probe)
        chn->probing = true;
    c->next = s->to_start;
    s->to_start = c;
out:
    cmn_rows_destroy(&rows);
    return r;
}

typedef struct {
    snd_sender_t *s;
    char (*users)[CMN_HEX256_LEN];
    size_t n;
    s_call_t *finished_mark; /* s->finished before the transaction */
} s_claim_arg_t;

static int s_tx_claim(void *arg, cmn_store_t *st)
{
    s_claim_arg_t *a = arg;
    int64_t now = cmn_now_ms();
    /* A transaction may run again (-EBUSY): forget what a rolled-back attempt
     * claimed or delivered, so nothing is started or announced twice. */
    while (a->s->finished != a->finished_mark) {
        s_call_t *c = a->s->finished;
        a->s->finished = c->next;
        s_call_free(c);
    }
    while (a->s->to_start) {
        s_call_t *c = a->s->to_start;
        a->s->to_start = c->next;
        if (c->probe)
            a->s->ch[c->ch].probing = false;
        s_call_free(c);
    }
    for (size_t i = 0; i < a->n; i++) {
        int r = s_claim_user(a->s, st, a->users[i], now);
        if (r < 0)
            return r;
    }
    return 0;
}

/* ---- calls -------------------------------------------------------------- */

static void s_on_done(void *arg, const cmn_http_result_t *res);

static int s_read_file(const char *path, char **ret, size_t *ret_len)
{
    struct stat st;
    char *buf;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0 || st.st_size <= 0 || st.st_size > S_MEDIA_MAX) {
        close(fd);
        return -EINVAL;
    }
    buf = malloc((size_t)st.st_size);
    if (buf == NULL || read(fd, buf, (size_t)st.st_size) != st.st_size) {
        free(buf);
        close(fd);
        return -EIO;
    }
    close(fd);
    *ret = buf;
    *ret_len = (size_t)st.st_size;
    return 0;
}

static int s_start(snd_sender_t *s, s_call_t *c)
{
    const cmn_settings_t *cfg = &s->d->settings;
    cmn_str_t url = CMN_STR_INIT(4096), body = CMN_STR_INIT(64 * 1024);
    char auth[1024], userpwd[512], cb[640];
    const char *headers[] = {auth, "Accept: application/json", NULL};
    cmn_http_req_t req;
    char *file = NULL;
    size_t flen = 0;
    int r;

    memset(&req, 0, sizeof(req));
    req.method = "POST";
    /* a call always ends before its lease, so no other claim can overlap it */
    req.timeout_ms = S_CALL_TIMEOUT_MS < cfg->send_lease_s * 500 ? S_CALL_TIMEOUT_MS
                                                                : cfg->send_lease_s * 500;
    req.done = s_on_done;
    req.arg = c;
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", cfg->meta_token ? cfg->meta_token
                                                                             : "");
    if (c->ch == S_CH_TWILIO) {
        struct stat sb;
        /* the engine writes the QR file just after its commit: give it a moment,
         * or Twilio's fetch finds nothing and the image is lost (63019) */
        if (c->media_path && stat(c->media_path, &sb) != 0 && c->attempts <= S_MEDIA_WAIT_ATTEMPTS)
            return -EAGAIN;
        snd_reply_t rep = {c->to, c->body, c->media_url, NULL, NULL};
        snprintf(cb, sizeof(cb), "%s/webhooks/twilio/status", s->chans.public_url);
        snprintf(userpwd, sizeof(userpwd), "%s:%s", cfg->twilio_account_sid,
                 cfg->twilio_auth_token);
        r = cmn_str_printf(&url, "%s/2010-04-01/Accounts/%s/Messages.json", cfg->twilio_api_base,
                           cfg->twilio_account_sid);
        if (r == 0)
            r = snd_twilio_form(&rep, s->chans.twilio_number, cb, &body);
        req.userpwd = userpwd;
        req.headers = headers + 1;
        req.content_type = "application/x-www-form-urlencoded";
    } else if (c->upload) {
        r = s_read_file(c->media_path, &file, &flen);
        if (r < 0 && c->attempts <= S_MEDIA_WAIT_ATTEMPTS) {
            /* the engine writes the file just after its commit: try again shortly */
            cmn_str_free(&url);
            cmn_str_free(&body);
            return -EAGAIN;
        }
        if (r < 0) { /* the image is gone (expired): send the text alone */
            log_warn(S_MODULE, c->trace, "QR image of reply %lld unreadable (%s); sending the "
                                         "text without it",
                     (long long)c->row, cmn_strerror(r));
            c->upload = false;
            cmn_str_free(&url);
            cmn_str_free(&body);
            return s_start(s, c);
        }
        cmn_http_part_t parts[] = {
            {"messaging_product", "whatsapp", 8, NULL, NULL},
            {"type", "image/png", 9, NULL, NULL},
            {"file", file, flen, "ciu.png", "image/png"},
        };
        r = cmn_str_printf(&url, "%s/%s/%s/media", cfg->meta_graph_base, cfg->meta_api_version,
                           cfg->meta_phone_number_id);
        req.headers = headers;
        req.parts = parts;
        req.nparts = 3;
        req.url = cmn_str_cstr(&url);
        if (r == 0)
            r = cmn_http_start(s->http, &req);
        free(file);
        cmn_str_free(&url);
        if (r == 0) {
            s->inflight++;
            cmn_counter_add(s->m_uploads, 1);
        }
        return r;
    } else {
        snd_reply_t rep = {c->to, c->body, NULL, c->media_id[0] ? c->media_id : NULL, c->ui};
        r = cmn_str_printf(&url, "%s/%s/%s/messages", cfg->meta_graph_base,
                           cfg->meta_api_version, cfg->meta_phone_number_id);
        if (r == 0)
            r = snd_meta_json(&rep, s->texts, &body);
        req.headers = headers;
        req.content_type = "application/json";
    }
    if (r == 0) {
        req.url = cmn_str_cstr(&url);
        req.body = cmn_str_cstr(&body);
        req.body_len = body.len;
        r = cmn_http_start(s->http, &req);
    }
    cmn_str_free(&url);
    cmn_str_free(&body);
    if (r == 0)
        s->inflight++;
    return r;
}

static void s_on_done(void *arg, const cmn_http_result_t *res)
{
    s_call_t *c = arg;
    snd_sender_t *s = c->s;
    s->inflight--;
    if (c->ch >= 0 && c->ch < S_NCH)
        cmn_histogram_observe(s->m_call[c->ch], res->seconds);
    if (res->curl_code == -1) { /* aborted at shutdown: the lease brings it back */
        s_call_free(c);
        return;
    }
    if (c->ch == S_CH_TWILIO)
        snd_twilio_classify(res->status, res->body, res->retry_after_s, &c->res);
    else if (c->upload)
        snd_meta_media_classify(res->status, res->body, res->retry_after_s, &c->res);
    else
        snd_meta_classify(res->status, res->body, res->retry_after_s, &c->res);
    if (res->status == 0)
        snprintf(c->res.reason, sizeof(c->res.reason), "no answer: %.120s", res->error);
    c->maybe_sent = !c->upload && res->status == 0 && res->sent;
    c->next = s->finished;
    s->finished = c;
}

static void s_start_claimed(snd_sender_t *s)
{
    s_call_t *list = s->to_start;
    s->to_start = NULL;
    while (list) {
        s_call_t *c = list;
        list = c->next;
        c->next = NULL;
        int r = s_start(s, c);
        if (r == -EAGAIN) {
            c->res.outcome = SND_RETRY;
            c->res.retry_after_s = -1;
            snprintf(c->res.reason, sizeof(c->res.reason), "QR image not written yet");
            c->next = s->finished;
            s->finished = c;
            continue;
        }
        if (r < 0) {
            log_warn(S_MODULE, c->trace, "reply %lld: cannot start the call; retried when its "
                                         "lease expires",
                     (long long)c->row);
            if (c->probe)
                s->ch[c->ch].probing = false;
            s_call_free(c);
        }
    }
}

/* Claim what may go now for the people waiting, then start the calls. */
static int s_pump(snd_sender_t *s)
{
    size_t max = (size_t)s->d->settings.batch_max;
    size_t n = cmn_keyset_count(s->pending);
    char(*users)[CMN_HEX256_LEN];
    int r = 0;
    if (n == 0)
        return 0;
    users = malloc(n * sizeof(*users));
    if (users == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        cmn_strlcpy(users[i], cmn_keyset_key(s->pending, i), CMN_HEX256_LEN);
    cmn_keyset_clear(s->pending); /* finished calls and deferrals add people back */
    for (size_t off = 0; off < n && r == 0; off += max) {
        s_claim_arg_t a = {s, users + off, n - off < max ? n - off : max, s->finished};
        r = cmn_daemon_tx(s->d, s_tx_claim, &a);
        if (r < 0) {
            s_free_list(&s->to_start);
            for (int i = 0; i < S_NCH; i++)
                s->ch[i].probing = false;
            for (size_t i = off; i < n; i++) /* not claimed: look again later */
                s_add_user(s, users[i]);
            break;
        }
        s_start_claimed(s);
    }
    free(users);
    return r;
}

/* ---- record ------------------------------------------------------------- */

static int s_record_one(snd_sender_t *s, cmn_store_t *st, s_call_t *c, int64_t now)
{
    const snd_result_t *res = &c->res;
    if (c->ch < 0) /* simulator or unconfigured channel: already recorded */
        return 0;
    if (c->upload && res->outcome == SND_OK)
        return snd_store_media_put(st, c->token, res->provider_id, now);
    switch (res->outcome) {
    case SND_OK:
        return snd_store_sent(st, c->row, res->provider_id, now);
    case SND_FAIL:
        return snd_store_failed(st, c->row, res->reason, res->code);
    default: {
        if (res->outcome == SND_RETRY && res->code[0] && c->attempts >= S_CODE_RETRY_MAX) {
            /* a provider error code that stays (e.g. 131053): give up, with the code */
            c->res.outcome = SND_FAIL;
            return snd_store_failed(st, c->row, res->reason, res->code);
        }
        int64_t delay = res->outcome == SND_PAUSE
                            ? 0
                            : snd_backoff_ms(c->attempts, res->retry_after_s, s_rnd());
        if (res->outcome == SND_RETRY_PEER && delay < S_PEER_WAIT_MS)
            delay = S_PEER_WAIT_MS;
        return snd_store_retry(st, c->row, now + delay, res->reason, res->code,
                               res->outcome != SND_PAUSE, c->maybe_sent);
    }
    }
}

/* Queue an event about a call; published after the commit, stored with it. */
static void s_event(snd_sender_t *s, const char *type, const s_call_t *c, const char *channel,
                    const char *detail)
{
    cmn_msg_t ev;
    cmn_msg_init(&ev, type, c->trace);
    if (strncmp(type, "channel.", 8) != 0) { /* a channel's events are about no one */
        cmn_strlcpy(ev.user, c->user, sizeof(ev.user));
        ev.row = c->row;
    }
    cmn_strlcpy(ev.channel, channel, sizeof(ev.channel));
    cmn_strlcpy(ev.detail, detail ? detail : "", sizeof(ev.detail));
    cmn_announce_pub(s->st.ann, s->st.pub, &ev);
}

/* The events of one recorded call (inside the record transaction, after
 * s_record_one settled its outcome). pausing: channels this transaction
 * already announced as paused. */
static void s_call_events(snd_sender_t *s, const s_call_t *c, bool *pausing)
{
    const snd_result_t *res = &c->res;
    const s_channel_t *chn = c->ch >= 0 ? &s->ch[c->ch] : NULL;
    const char *name = chn ? chn->name : "sim";

    if (chn && res->outcome == SND_PAUSE) {
        if (!chn->paused && !pausing[c->ch])
            s_event(s, CMN_EV_CHANNEL_PAUSED, c, name, res->code);
        pausing[c->ch] = true;
        return;
    }
    if (chn && chn->paused && c->probe)
        s_event(s, CMN_EV_CHANNEL_RESUMED, c, name, NULL);
    if (res->outcome == SND_OK && !c->upload)
        s_event(s, CMN_EV_MESSAGE_SENT, c, name, NULL);
    else if (res->outcome == SND_FAIL)
        s_event(s, CMN_EV_MESSAGE_FAILED, c, name, res->code[0] ? res->code : "failed");
}

static int s_tx_record(void *arg, cmn_store_t *st)
{
    snd_sender_t *s = arg;
    int64_t now = cmn_now_ms();
    bool pausing[S_NCH] = {false};
    for (s_call_t *c = s->finished; c; c = c->next) {
        int r = s_record_one(s, st, c, now);
        if (r < 0)
            return r;
        s_call_events(s, c, pausing);
        if (c->ch >= 0 && c->probe) {
            bool paused = c->res.outcome == SND_PAUSE;
            if (paused != s->ch[c->ch].paused || !paused) {
                r = snd_store_channel_state(st, s->ch[c->ch].name, paused, c->res.reason, now);
                if (r < 0)
                    return r;
            }
        } else if (c->ch >= 0 && c->res.outcome == SND_PAUSE && !s->ch[c->ch].paused) {
            r = snd_store_channel_state(st, s->ch[c->ch].name, true, c->res.reason, now);
            if (r < 0)
                return r;
        }
    }
    return 0;
}

/* After commit: channel state, events, logs, metrics, and the next reply. */
static void s_after_record(snd_sender_t *s, s_call_t *c, int64_t mono)
{
    const snd_result_t *res = &c->res;
    s_channel_t *chn = c->ch >= 0 ? &s->ch[c->ch] : NULL;

    if (chn && c->probe)
        chn->probing = false;
    if (chn && res->outcome == SND_PAUSE) {
        if (!chn->paused)
            log_error(S_MODULE, c->trace, "channel %s paused: %s; replies wait, nothing fails; "
                                          "probing every %lld ms",
                      chn->name, res->reason, (long long)s->probe_interval_ms);
        chn->paused = true;
        chn->probe_ms = mono + s->probe_interval_ms;
        cmn_gauge_set(s->m_paused[c->ch], 1);
        s_defer(s, c->user, cmn_now_ms() + s->probe_interval_ms);
        return;
    }
    /* Only the probe proves the credentials work again: a call started before
     * the pause may still succeed after it. */
    if (chn && chn->paused && c->probe && res->outcome != SND_PAUSE) {
        chn->paused = false;
        cmn_gauge_set(s->m_paused[c->ch], 0);
        log_info(S_MODULE, c->trace, "channel %s resumed: the provider accepts the credentials "
                                     "again",
                 chn->name);
    }
    if (chn && res->outcome == SND_THROTTLE) {
        int64_t hold = res->retry_after_s > 0 ? res->retry_after_s * 1000 : 1000;
        cmn_ratelimit_hold(&chn->rl, mono + hold);
    }
    switch (res->outcome) {
    case SND_OK:
        if (c->upload) {
            log_debug(S_MODULE, c->trace, "QR image of reply %lld uploaded", (long long)c->row);
            return; /* the send follows: the row is still claimed by this call */
        }
        cmn_counter_add(s->m_sent, 1);
        cmn_counter_add(s->m_out[c->ch >= 0 ? c->ch : S_NCH][0], 1);
        if (c->created_ms > 0)
            cmn_histogram_observe(s->m_delay, (double)(cmn_now_ms() - c->created_ms) / 1000.0);
        log_debug(S_MODULE, c->trace, "reply %lld accepted (%s)", (long long)c->row,
                  chn ? chn->name : "sim");
        break;
    case SND_FAIL:
        cmn_counter_add(s->m_failed, 1);
        cmn_counter_add(s->m_out[c->ch >= 0 ? c->ch : S_NCH][1], 1);
        log_warn(S_MODULE, c->trace, "reply %lld failed: %s", (long long)c->row, res->reason);
        break;
    default:
        cmn_counter_add(s->m_retries, 1);
        cmn_counter_add(s->m_out[c->ch >= 0 ? c->ch : S_NCH][2], 1);
        log_info(S_MODULE, c->trace, "reply %lld will be retried: %s", (long long)c->row,
                 res->reason);
        break;
    }
    s_add_user(s, c->user);
}

static int s_record(snd_sender_t *s)
{
    int64_t mono = cmn_mono_ms();
    s_call_t *list, *again = NULL;
    int r;
    if (s->finished == NULL)
        return 0;
    r = cmn_stage_tx(s->d, s->st.ann, s_tx_record, s); /* events published after the commit */
    if (r < 0)
        return r; /* kept in s->finished: recorded at the next try */
    list = s->finished;
    s->finished = NULL;
    while (list) {
        s_call_t *c = list;
        list = c->next;
        s_after_record(s, c, mono);
        if (c->maybe_sent && c->res.outcome != SND_OK && c->res.outcome != SND_FAIL)
            cmn_counter_add(s->m_resends, 1); /* its retry may send it twice */
        if (c->upload && c->res.outcome == SND_OK) {
            /* uploaded: now send the image by id, same claim */
            cmn_strlcpy(c->media_id, c->res.provider_id, sizeof(c->media_id));
            c->upload = false;
            memset(&c->res, 0, sizeof(c->res));
            c->next = again;
            again = c;
            continue;
        }
        s_call_free(c);
    }
    s->to_start = again;
    s_start_claimed(s);
    return 0;
}

/* ---- worker callbacks ---------------------------------------------------- */

static int s_on_batch(void *arg, const cmn_msg_t *msgs, size_t n)
{
    snd_sender_t *s = arg;
    cmn_keyset_add_msgs(s->pending, msgs, n, CMN_MSG_OUTBOUND);
    int r = s_pump(s);
    int r2 = s_record(s); /* simulator deliveries */
    return r < 0 ? r : r2;
}

static int s_scan_chunk(void *arg, const cmn_keyset_t *keys)
{
    snd_sender_t *s = arg;
    for (size_t i = 0; i < cmn_keyset_count(keys); i++)
        s_add_user(s, cmn_keyset_key(keys, i));
    return 0;
}

/* The number's budget is shared: each of the N sender replicas (its
 * endpoint list, or the live replicas the store lists) sends at most 1/N
 * of it; split again when N changes. */
static void s_split_budget(snd_sender_t *s, int64_t mono)
{
    size_t n = s->st.shards ? s->st.shards : 1;
    if (n == s->shares)
        return;
    const cmn_settings_t *cfg = &s->d->settings;
    double share = 1.0 / (double)n;
    cmn_ratelimit_init(&s->ch[S_CH_TWILIO].rl, (double)cfg->twilio_max_mps * share,
                       (double)cfg->twilio_max_mps * share, mono);
    cmn_ratelimit_init(&s->ch[S_CH_META].rl, (double)cfg->meta_max_mps * share,
                       (double)cfg->meta_max_mps * share, mono);
    s->shares = n;
}

static int s_on_rescan(void *arg, bool at_start)
{
    snd_sender_t *s = arg;
    s_split_budget(s, cmn_mono_ms());
    cmn_param_t extra[] = {P_INT(cmn_now_ms())};
    cmn_scan_t scan = {snd_store_scan_sql, extra, 1, S_SCAN_LIMIT};
    int found =
        cmn_stage_scan(s->d->store, &scan, s->st.shard, s->st.shards, s->st.keys, s_scan_chunk, s);
    if (found < 0)
        return found;
    if (found > 0 && at_start)
        log_info(S_MODULE, NULL, "start: replies pending for %d people", found);
    int r = s_pump(s);
    int r2 = s_record(s);
    return r < 0 ? r : r2;
}

static int s_poll_prepare(void *arg, cmn_pollfd_t *fds, size_t max, size_t *ret_n,
                          long *timeout_ms)
{
    snd_sender_t *s = arg;
    if (s->timer_ms) {
        int64_t w = s->timer_ms - cmn_now_ms();
        if (w < *timeout_ms)
            *timeout_ms = w > 0 ? (long)w : 0;
    }
    if (s->finished)
        *timeout_ms = 0;
    return cmn_http_poll_prepare(s->http, fds, max, ret_n, timeout_ms);
}

static int s_on_poll(void *arg)
{
    snd_sender_t *s = arg;
    int r = cmn_http_perform(s->http);
    if (r < 0)
        return r;
    r = s_record(s);
    if (r < 0)
        return r;
    if (s->timer_ms && cmn_now_ms() >= s->timer_ms)
        s_wake_due(s, cmn_now_ms());
    return s_pump(s);
}

/* ---- lifecycle ---------------------------------------------------------- */

snd_sender_t *snd_sender_new(cmn_daemon_t *d, const cmn_channels_t *ch)
{
    snd_sender_t *s = calloc(1, sizeof(*s));
    int64_t mono = cmn_mono_ms();
    if (s == NULL)
        return NULL;
    s->d = d;
    s->chans = *ch;
    s->pending = cmn_keyset_new(S_USERS_MAX);
    s->deferred = calloc(S_USERS_MAX, sizeof(*s->deferred));
    s->http = cmn_http_new(S_RESP_MAX);
    if (s->pending == NULL || s->deferred == NULL || s->http == NULL)
        goto fail;
    if (cmn_stage_open(&s->st, d, d->settings.ep_sender, d->settings.ev_sender,
                       "CIU_SENDER_EVENTS") < 0)
        goto fail;
    s->texts = cmn_daemon_texts(d);
    if (s->texts == NULL)
        goto fail;
    s->probe_interval_ms = d->settings.rescan_ms * 5;
    if (s->probe_interval_ms < 1000)
        s->probe_interval_ms = 1000;
    if (s->probe_interval_ms > 30000)
        s->probe_interval_ms = 30000;
    s->ch[S_CH_TWILIO] = (s_channel_t){.on = ch->twilio, .name = "twilio"};
    s->ch[S_CH_META] = (s_channel_t){.on = ch->meta, .name = "meta"};
    s_split_budget(s, mono);
    s->m_sent = cmn_metrics_counter(d->metrics, "messages_sent_total", NULL,
                                    "Replies accepted by a channel");
    s->m_failed = cmn_metrics_counter(d->metrics, "messages_failed_total", NULL,
                                      "Replies failed for good (provider refused them)");
    s->m_retries = cmn_metrics_counter(d->metrics, "send_retries_total", NULL,
                                       "Provider calls to be retried (network, 5xx, throttling)");
    s->m_resends = cmn_metrics_counter(d->metrics, "send_resends_total", NULL,
                                       "Replies sent again after a lease expired or a call "
                                       "left unanswered (possible duplicates: a sender died "
                                       "mid-call, or the provider answered too late)");
    s->m_ratelimited = cmn_metrics_counter(d->metrics, "send_rate_limited_total", NULL,
                                           "Times a send waited for the per-number rate limit");
    s->m_uploads = cmn_metrics_counter(d->metrics, "media_uploads_total", NULL,
                                       "QR images uploaded to Meta");
    s->m_paused[S_CH_TWILIO] = cmn_metrics_gauge(d->metrics, "channel_paused", "channel=\"twilio\"",
                                                 "1 while a channel is paused (credentials)");
    s->m_paused[S_CH_META] = cmn_metrics_gauge(d->metrics, "channel_paused", "channel=\"meta\"",
                                               "1 while a channel is paused (credentials)");
    s->m_delay = cmn_metrics_histogram(d->metrics, "reply_queue_seconds", NULL,
                                       "Time from reply queued to accepted by the channel", NULL,
                                       0);
    static const char *const outcomes[] = {"sent", "failed", "retry"};
    for (int c = 0; c <= S_NCH; c++) {
        char labels[64];
        const char *name = c < S_NCH ? s->ch[c].name : "sim";
        if (c < S_NCH) {
            snprintf(labels, sizeof(labels), "channel=\"%s\"", name);
            s->m_call[c] = cmn_metrics_histogram(d->metrics, "provider_call_seconds", labels,
                                                 "Duration of provider calls", NULL, 0);
            if (s->m_call[c] == NULL)
                goto fail;
        }
        for (int o = 0; o < 3; o++) {
            snprintf(labels, sizeof(labels), "channel=\"%s\",outcome=\"%s\"", name, outcomes[o]);
            s->m_out[c][o] = cmn_metrics_counter(d->metrics, "messages_out_total", labels,
                                                 "Replies by channel and outcome (sent, failed "
                                                 "for good, to be retried)");
            if (s->m_out[c][o] == NULL)
                goto fail;
        }
    }
    return s;
fail:
    snd_sender_destroy(&s);
    return NULL;
}

/* At stop: let the calls in flight finish (up to S_DRAIN_MS) and record
 * them, so a normal stop or upgrade sends nothing twice. */
static void s_drain(snd_sender_t *s)
{
    int64_t until = cmn_mono_ms() + S_DRAIN_MS;
    size_t left = cmn_http_inflight(s->http);
    if (left == 0 && s->finished == NULL)
        return;
    log_info(S_MODULE, NULL, "stopping: waiting for %zu provider calls in flight", left);
    while ((cmn_http_inflight(s->http) > 0 || s->finished) && cmn_mono_ms() < until) {
        cmn_pollfd_t fds[CMN_POLL_MAX];
        struct pollfd pfd[CMN_POLL_MAX];
        size_t n = 0;
        long t = 100;
        if (cmn_http_poll_prepare(s->http, fds, CMN_POLL_MAX, &n, &t) == 0) {
            for (size_t i = 0; i < n; i++)
                pfd[i] = (struct pollfd){fds[i].fd,
                                         (short)(((fds[i].events & CMN_POLL_IN) ? POLLIN : 0) |
                                                 ((fds[i].events & CMN_POLL_OUT) ? POLLOUT : 0)),
                                         0};
            poll(pfd, n, (int)(t < 0 ? 0 : t > 100 ? 100 : t));
        }
        cmn_http_perform(s->http);
        if (s_record(s) < 0)
            break;
    }
    if (cmn_http_inflight(s->http) > 0)
        log_warn(S_MODULE, NULL, "stopping with %zu calls unanswered: their leases bring them "
                                 "back (possible duplicates, counted in send_resends_total)",
                 cmn_http_inflight(s->http));
}

int snd_sender_run(snd_sender_t *s)
{
    static const cmn_worker_ops_t ops = {.on_batch = s_on_batch,
                                         .on_rescan = s_on_rescan,
                                         .poll_prepare = s_poll_prepare,
                                         .on_poll = s_on_poll,
                                         .queue_stage = "sender",
                                         .queue_sql = snd_store_queue_sql};
    int r = cmn_stage_run(&s->st, &ops, s);
    s_drain(s);
    return r;
}

void snd_sender_destroy(snd_sender_t **p)
{
    snd_sender_t *s;
    if (p == NULL || *p == NULL)
        return;
    s = *p;
    cmn_http_destroy(&s->http); /* calls in flight: their leases bring them back */
    s_free_list(&s->finished);
    s_free_list(&s->to_start);
    cmn_stage_close(&s->st);
    cmn_i18n_destroy(&s->texts);
    cmn_keyset_destroy(&s->pending);
    free(s->deferred);
    free(s);
    *p = NULL;
}
