/* cmn_daemon: boot, signals, the shared worker loop, transactions. */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cmn_channels.h"
#include "common/cmn_daemon.h"
#include "common/cmn_i18n.h"
#include "common/cmn_log.h"
#include "common/cmn_members.h"

#define S_MODULE "daemon"
#define S_DROP_WARN_MS 10000
#define S_STORE_WAIT_MS 30000
#define S_QUEUE_EVERY_MS 5000 /* most often the queue gauges are refreshed */

volatile sig_atomic_t cmn_stop_g = 0;

static void s_on_signal(int sig)
{
    (void)sig;
    cmn_stop_g = 1;
}

static int s_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = s_on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTERM, &sa, NULL) || sigaction(SIGINT, &sa, NULL))
        return -errno;
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

static void s_usage(const char *name)
{
    printf("usage: %s [--port-file FILE]\n"
           "Configuration comes from the environment and ./.env: see docs/configuration.md.\n"
           "  --port-file FILE  append the ports this daemon listens on (key=value lines)\n"
           "  --help            this text\n"
           "  --version         print the version\n",
           name);
}

static int s_parse_args(cmn_daemon_t *d, int argc, char **argv)
{
    static const struct option opts[] = {{"port-file", required_argument, NULL, 'p'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "p:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            free(d->port_file);
            d->port_file = strdup(optarg);
            if (d->port_file == NULL)
                return CMN_EXIT_SOFTWARE;
            break;
        case 'h':
            s_usage(d->name);
            return -1;
        case 'V':
            printf("%s %s\n", d->name, CIU_VERSION);
            return -1;
        default:
            fprintf(stderr, "%s: try --help\n", d->name);
            return CMN_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s'; try --help\n", d->name, argv[optind]);
        return CMN_EXIT_USAGE;
    }
    return 0;
}

static int s_open_store(cmn_daemon_t *d)
{
    char err[512] = "";
    char *url = cmn_settings_store_url(&d->settings);
    int64_t deadline = cmn_mono_ms() + S_STORE_WAIT_MS;
    bool logged = false;
    int r;

    if (url == NULL)
        return CMN_EXIT_SOFTWARE;
    for (;;) {
        r = cmn_store_open(url, &d->store, err, sizeof(err));
        if (r == 0 || cmn_mono_ms() > deadline || cmn_stop_g)
            break;
        if (!logged)
            log_warn(S_MODULE, NULL, "store not reachable yet, retrying for %d s: %s",
                     S_STORE_WAIT_MS / 1000, err);
        logged = true;
        struct timespec ts = {0, 500 * 1000000L};
        nanosleep(&ts, NULL);
    }
    free(url);
    if (r < 0) {
        log_error(S_MODULE, NULL, "cannot open the store: %s (check DATABASE_URL / CIU_DATA_DIR)",
                  err);
        return CMN_EXIT_UNAVAILABLE;
    }
    r = cmn_store_set_synchronous(d->store, d->settings.sqlite_synchronous);
    if (r < 0) {
        log_error(S_MODULE, NULL, "CIU_SQLITE_SYNCHRONOUS: cannot set '%s': %s",
                  d->settings.sqlite_synchronous, cmn_store_errmsg(d->store));
        return CMN_EXIT_UNAVAILABLE;
    }
    r = cmn_store_migrate(d->store);
    if (r < 0) {
        log_error(S_MODULE, NULL, "cannot migrate the store: %s", cmn_store_errmsg(d->store));
        return CMN_EXIT_UNAVAILABLE;
    }
    return 0;
}

static int s_health(void *arg, cmn_str_t *out)
{
    cmn_daemon_t *d = arg;
    int ok = atomic_load(&d->healthy);
    cmn_str_printf(out, "{\"daemon\":\"%s\",\"status\":\"%s\",\"store\":%s,\"last_work_ms\":%lld}",
                   d->name, ok ? "ok" : "degraded", ok ? "true" : "false",
                   (long long)atomic_load(&d->last_work_ms));
    return ok ? 200 : 503;
}

int cmn_daemon_boot(cmn_daemon_t *d, const char *name, int argc, char **argv,
                    long admin_port_field)
{
    long admin_port = -1;
    char *err = NULL;
    cmn_log_level_t level = CMN_LOG_INFO;
    int r;

    memset(d, 0, sizeof(*d));
    d->name = name;
    /* Two malloc arenas are plenty for our few busy threads and keep the
     * resident set small (glibc would otherwise create up to 8 per core). */
    mallopt(M_ARENA_MAX, 2);
    atomic_store(&d->healthy, 1);
    cmn_log_init(name, CMN_LOG_INFO, false);
    r = s_parse_args(d, argc, argv);
    if (r != 0)
        return r < 0 ? CMN_BOOT_DONE : r;
    if (cmn_settings_load(&d->settings, &err) < 0) {
        log_error(S_MODULE, NULL, "bad configuration: %s", err);
        free(err);
        return CMN_EXIT_CONFIG;
    }
    cmn_log_level_parse(d->settings.log_level, &level);
    cmn_log_init(name, level, d->settings.log_json);
    if (s_signals() < 0)
        return CMN_EXIT_SOFTWARE;
    r = cmn_settings_make_data_dir(&d->settings);
    if (r < 0) {
        log_error(S_MODULE, NULL, "CIU_DATA_DIR: cannot create '%s': %s", d->settings.data_dir,
                  cmn_strerror(r));
        return CMN_EXIT_CONFIG;
    }
    if (cmn_settings_salt(&d->settings, &d->salt, &d->salt_len, &err) < 0) {
        log_error(S_MODULE, NULL, "bad configuration: %s", err);
        free(err);
        return CMN_EXIT_CONFIG;
    }
    char *desc = cmn_settings_describe(&d->settings);
    log_info(S_MODULE, NULL, "starting %s %s (settings other than defaults: %s)", name,
             CIU_VERSION, desc && *desc ? desc : "none");
    free(desc);
    r = s_open_store(d);
    if (r != 0)
        return r;
    d->bus = cmn_bus_new();
    d->metrics = cmn_metrics_new("ciu");
    if (d->bus == NULL || d->metrics == NULL)
        return CMN_EXIT_SOFTWARE;
    r = cmn_daemon_bus_security(d->bus, &d->settings);
    if (r != CMN_EXIT_OK)
        return r;
    d->m_batches = cmn_metrics_counter(d->metrics, "batches_total", NULL,
                                       "Batches of work processed in one transaction");
    d->m_dropped = cmn_metrics_counter(d->metrics, "bus_dropped_total", NULL,
                                       "Malformed or unknown messages dropped");
    d->m_errors = cmn_metrics_counter(d->metrics, "work_errors_total", NULL,
                                      "Batches or scans that failed and will be retried");
    d->m_batch_seconds = cmn_metrics_histogram(d->metrics, "batch_seconds", NULL,
                                               "Time to process one batch", NULL, 0);
    d->discovery = d->settings.discovery && strcmp(d->settings.discovery, "store") == 0;
    d->m_replicas = cmn_metrics_gauge(d->metrics, "stage_replicas", NULL,
                                      "Live replicas of this stage (CIU_DISCOVERY=store)");
    if (admin_port_field >= 0)
        memcpy(&admin_port, (const char *)&d->settings + admin_port_field, sizeof(admin_port));
    if (admin_port >= 0) {
        char port[16];
        d->admin = cmn_admin_new(d->settings.http_addr, (int)admin_port, d->metrics, s_health, d);
        if (d->admin == NULL) {
            log_error(S_MODULE, NULL, "cannot listen on %s:%ld for /health: %s",
                      d->settings.http_addr, admin_port, strerror(errno));
            return CMN_EXIT_UNAVAILABLE;
        }
        snprintf(port, sizeof(port), "%d", cmn_admin_port(d->admin));
        if (d->port_file && (r = cmn_portfile_append(d->port_file, "admin", port)) < 0) {
            log_error(S_MODULE, NULL, "--port-file: cannot write '%s': %s", d->port_file,
                      cmn_strerror(r));
            return CMN_EXIT_USAGE;
        }
    }
    atomic_store(&d->last_work_ms, cmn_now_ms());
    return CMN_EXIT_OK;
}

void cmn_daemon_shutdown(cmn_daemon_t *d)
{
    cmn_members_destroy(&d->members);
    d->npushes = 0; /* the stages destroyed their pushes */
    cmn_admin_destroy(&d->admin);
    cmn_bus_destroy(&d->bus);
    cmn_store_destroy(&d->store);
    cmn_metrics_destroy(&d->metrics);
    if (d->salt)
        memset(d->salt, 0, d->salt_len);
    free(d->salt);
    d->salt = NULL;
    free(d->port_file);
    d->port_file = NULL;
    cmn_settings_free(&d->settings);
}

int cmn_daemon_bus_security(cmn_bus_t *bus, const cmn_settings_t *s)
{
    if (s->bus_curve_secret == NULL || s->bus_curve_secret[0] == '\0')
        return CMN_EXIT_OK;
    int r = cmn_bus_set_curve(bus, s->bus_curve_secret);
    if (r == -ENOTSUP) {
        log_error(S_MODULE, NULL, "CIU_BUS_CURVE_SECRET_KEY: this libzmq has no CURVE support");
        return CMN_EXIT_CONFIG;
    }
    if (r < 0) {
        log_error(S_MODULE, NULL,
                  "CIU_BUS_CURVE_SECRET_KEY: not a CURVE secret key (%s); fix: "
                  "use the 40 characters ciu-admin gen-bus-key prints",
                  cmn_strerror(r));
        return r == -EINVAL ? CMN_EXIT_CONFIG : CMN_EXIT_SOFTWARE;
    }
    log_info(S_MODULE, NULL, "bus: CURVE encryption on; only daemons holding the key connect");
    return CMN_EXIT_OK;
}

const char *cmn_daemon_stage_of(const cmn_daemon_t *d, const char *endpoints)
{
    const cmn_settings_t *s = &d->settings;
    return endpoints == s->ep_conversation ? "conversation"
           : endpoints == s->ep_engine     ? "engine"
           : endpoints == s->ep_dhis2      ? "dhis2"
           : endpoints == s->ep_sender     ? "sender"
                                           : NULL;
}

/* The refresh of CIU_DISCOVERY=store: heartbeat, this replica's share, the
 * pushes' replica lists. True when the share changed (scan at once). */
static bool s_members_tick(cmn_daemon_t *d, int64_t now)
{
    bool changed = false;
    int64_t ttl = d->settings.member_ttl_ms;

    if (d->members != NULL) {
        size_t index = *d->shard_at, count = *d->shards_at;
        int r = cmn_members_beat(d->members, d->store, now, &index, &count);
        if (r < 0) {
            log_warn(S_MODULE, NULL, "replica heartbeat failed: %s; will retry", cmn_strerror(r));
        } else if (index != *d->shard_at || count != *d->shards_at) {
            log_info(S_MODULE, NULL,
                     "replicas of this stage: %zu; this one is %zu (its share of "
                     "people: shard bucket %% %zu = %zu)",
                     count, index + 1, count, index);
            *d->shard_at = index;
            *d->shards_at = count;
            cmn_gauge_set(d->m_replicas, (int64_t)count);
            changed = true;
        }
    }
    for (size_t i = 0; i < d->npushes; i++) {
        int r = cmn_members_refresh_push(d->store, d->pushes[i].push, d->pushes[i].stage, now, ttl);
        if (r == 1)
            log_info(S_MODULE, NULL, "replicas of %s: %zu", d->pushes[i].stage,
                     cmn_push_replicas(d->pushes[i].push));
        else if (r < 0)
            log_warn(S_MODULE, NULL, "cannot read the replicas of %s: %s", d->pushes[i].stage,
                     cmn_strerror(r));
    }
    d->next_beat = cmn_mono_ms() + ttl / 4;
    return changed;
}

cmn_push_t *cmn_daemon_push(cmn_daemon_t *d, const char *stage, const char *endpoints)
{
    if (!d->discovery)
        return cmn_push_new(d->bus, endpoints);
    if (d->npushes >= sizeof(d->pushes) / sizeof(d->pushes[0])) {
        errno = E2BIG;
        return NULL;
    }
    cmn_push_t *p = cmn_push_new_empty(d->bus);
    if (p == NULL)
        return NULL;
    d->pushes[d->npushes].push = p;
    d->pushes[d->npushes++].stage = stage;
    /* the replicas already there, now: the first wake-ups are not dropped */
    cmn_members_refresh_push(d->store, p, stage, cmn_now_ms(), d->settings.member_ttl_ms);
    return p;
}

void cmn_daemon_advertise_events(cmn_daemon_t *d, cmn_pub_t *pub)
{
    char bound[512], ep[512];
    if (d->members == NULL || pub == NULL || cmn_pub_endpoint(pub, bound, sizeof(bound)) < 0)
        return;
    if (cmn_members_advertise(bound, d->settings.advertise_host, ep, sizeof(ep)) == 0) {
        cmn_members_set_events(d->members, ep);
        s_members_tick(d, cmn_now_ms()); /* said now: subscribers find it at once */
    }
}

cmn_pull_t *cmn_daemon_pull(cmn_daemon_t *d, const char *endpoints, size_t *ret_index,
                            size_t *ret_count)
{
    const char *bind = d->settings.bind && *d->settings.bind ? d->settings.bind : NULL;
    char first[512], bound[512], ep[512];
    size_t index = 0, count = 1;
    cmn_pull_t *pull;

    if (bind == NULL) {
        size_t n = strcspn(endpoints, ",");
        if (n == 0 || n >= sizeof(first)) {
            log_error(S_MODULE, NULL, "no endpoint to bind in '%s'", endpoints);
            return NULL;
        }
        memcpy(first, endpoints, n);
        first[n] = '\0';
        bind = first;
    }
    if (!d->discovery && cmn_bus_replica_index(endpoints, bind, &index, &count) < 0) {
        log_error(S_MODULE, NULL,
                  "CIU_BIND: '%s' is not in this stage's endpoint list '%s'; add it there so "
                  "the stage before can reach this replica",
                  bind, endpoints);
        return NULL;
    }
    pull = cmn_pull_new(d->bus, bind);
    if (pull == NULL) {
        log_error(S_MODULE, NULL, "cannot bind %s: %s", bind, strerror(errno));
        return NULL;
    }
    *ret_index = index;
    *ret_count = count;
    if (!d->discovery) {
        log_info(S_MODULE, NULL, "listening on %s (replica %zu of %zu)", bind, index + 1, count);
        return pull;
    }
    const char *stage = cmn_daemon_stage_of(d, endpoints);
    int r = cmn_pull_endpoint(pull, bound, sizeof(bound));
    if (r == 0)
        r = cmn_members_advertise(bound, d->settings.advertise_host, ep, sizeof(ep));
    if (r < 0 || stage == NULL) {
        log_error(S_MODULE, NULL,
                  "CIU_DISCOVERY=store: cannot tell others where %s is (%s); "
                  "set CIU_ADVERTISE_HOST",
                  bind, r < 0 ? cmn_strerror(r) : "unknown stage");
        cmn_pull_destroy(&pull);
        return NULL;
    }
    d->members = cmn_members_new(stage, ep, d->settings.member_ttl_ms);
    if (d->members == NULL) {
        cmn_pull_destroy(&pull);
        return NULL;
    }
    d->shard_at = ret_index;
    d->shards_at = ret_count;
    s_members_tick(d, cmn_now_ms()); /* joins now: the others see it within a beat */
    log_info(S_MODULE, NULL, "listening on %s, reached at %s (store discovery: member %s)", bind,
             ep, cmn_members_id(d->members));
    return pull;
}

static void s_account(cmn_daemon_t *d, int r, int64_t started)
{
    atomic_store(&d->healthy, r >= 0);
    atomic_store(&d->last_work_ms, cmn_now_ms());
    if (r < 0)
        cmn_counter_add(d->m_errors, 1);
    cmn_histogram_observe(d->m_batch_seconds, (double)(cmn_mono_ms() - started) / 1000.0);
}

/* The queue gauges of a stage (cmn_worker_ops_t.queue_sql). */
typedef struct {
    cmn_gauge_t *depth, *oldest;
    int64_t next_ms; /* monotonic: when to refresh next */
} s_queue_t;

static int s_queue_init(cmn_daemon_t *d, const cmn_worker_ops_t *ops, s_queue_t *q)
{
    char labels[64];
    memset(q, 0, sizeof(*q));
    if (ops->queue_sql == NULL || ops->queue_stage == NULL)
        return 0;
    snprintf(labels, sizeof(labels), "stage=\"%s\"", ops->queue_stage);
    q->depth = cmn_metrics_gauge(d->metrics, "queue_depth", labels,
                                 "Unfinished items waiting in a stage's queue (the store)");
    q->oldest = cmn_metrics_gauge(d->metrics, "queue_oldest_seconds", labels,
                                  "Age in seconds of the oldest unfinished item of a stage "
                                  "(0: queue empty)");
    return q->depth && q->oldest ? 0 : -ENOMEM;
}

/* Refresh after a scan; a failed query leaves the last values (the scan
 * errors are counted already). */
static void s_queue_refresh(cmn_daemon_t *d, const cmn_worker_ops_t *ops, s_queue_t *q,
                            int64_t mono)
{
    cmn_rows_t *rows = NULL;
    if (q->depth == NULL || mono < q->next_ms)
        return;
    q->next_ms = mono + S_QUEUE_EVERY_MS;
    if (cmn_store_query(d->store, ops->queue_sql, NULL, 0, &rows) == 0 &&
        cmn_rows_count(rows) == 1) {
        int64_t n = cmn_rows_int(rows, 0, 0, 0), first = cmn_rows_int(rows, 0, 1, 0);
        int64_t age = first > 0 ? (cmn_now_ms() - first) / 1000 : 0;
        cmn_gauge_set(q->depth, n);
        cmn_gauge_set(q->oldest, n > 0 && age > 0 ? age : 0);
    }
    cmn_rows_destroy(&rows);
}

int cmn_daemon_work(cmn_daemon_t *d, cmn_pull_t *pull, const cmn_worker_ops_t *ops, void *arg)
{
    size_t max = (size_t)d->settings.batch_max;
    cmn_msg_t *batch = calloc(max, sizeof(*batch));
    int64_t next_scan = 0, last_warn = -S_DROP_WARN_MS;
    uint64_t dropped = 0;
    bool at_start = true;

    s_queue_t queue;
    if (batch == NULL || s_queue_init(d, ops, &queue) < 0) {
        free(batch);
        return CMN_EXIT_SOFTWARE;
    }
    while (!cmn_stop_g) {
        int64_t now = cmn_mono_ms();
        size_t n = 0;
        int r;

        if (d->discovery && now >= d->next_beat && s_members_tick(d, cmn_now_ms()))
            next_scan = now; /* a new share: take over what is waiting at once */
        if (now >= next_scan) {
            r = ops->on_rescan(arg, at_start);
            s_account(d, r, now);
            if (r < 0)
                log_warn(S_MODULE, NULL, "scan for unfinished work failed: %s; will retry",
                         cmn_strerror(r));
            at_start = false;
            if (r >= 0)
                s_queue_refresh(d, ops, &queue, cmn_mono_ms());
            next_scan = cmn_mono_ms() + d->settings.rescan_ms;
            /* SQLite: move the WAL into the database file and truncate it, so
             * page images of erased answers and numbers do not stay on disk in
             * old WAL frames (busy readers: done on a later scan). */
            cmn_store_checkpoint(d->store);
        }
        /* Clamp: the scan may already be due (time passed since `now`), and a
         * negative timeout would make zmq_poll wait forever. */
        int64_t wait_ms =
            (d->discovery && d->next_beat < next_scan ? d->next_beat : next_scan) - cmn_mono_ms();
        long timeout = wait_ms > 0 ? (long)wait_ms : 0;
        size_t nfds = 0;
        if (ops->poll_prepare) {
            cmn_pollfd_t pfds[CMN_POLL_MAX];
            int fds[CMN_POLL_MAX];
            short ev[CMN_POLL_MAX];
            if (ops->poll_prepare(arg, pfds, CMN_POLL_MAX, &nfds, &timeout) < 0)
                nfds = 0;
            if (timeout < 0)
                timeout = 0;
            for (size_t i = 0; i < nfds; i++) {
                fds[i] = pfds[i].fd;
                ev[i] = pfds[i].events;
            }
            r = cmn_pull_wait_fds(pull, fds, ev, nfds, timeout);
        } else {
            r = cmn_pull_wait(pull, timeout);
        }
        if (ops->on_poll) {
            int64_t t0 = cmn_mono_ms();
            int pr = ops->on_poll(arg);
            if (pr < 0) {
                s_account(d, pr, t0);
                log_warn(S_MODULE, NULL, "outbound work failed: %s; will retry",
                         cmn_strerror(pr));
            }
        }
        if (r <= 0)
            continue;
        while (n < max) {
            r = cmn_pull_recv(pull, &batch[n]);
            if (r == -EAGAIN || r == -EINTR || r == -EIO)
                break;
            if (r == -EPROTO) {
                /* counted always, logged at most every 10 s: garbage on the bus
                 * must not flood the log */
                cmn_counter_add(d->m_dropped, 1);
                dropped++;
                if (cmn_mono_ms() - last_warn >= S_DROP_WARN_MS) {
                    log_warn(S_MODULE, NULL,
                             "dropped %llu malformed or unknown messages "
                             "(bus_dropped_total counts them all)",
                             (unsigned long long)dropped);
                    dropped = 0;
                    last_warn = cmn_mono_ms();
                }
                continue;
            }
            n++;
        }
        if (n == 0)
            continue;
        now = cmn_mono_ms();
        r = ops->on_batch(arg, batch, n);
        cmn_counter_add(d->m_batches, 1);
        s_account(d, r, now);
        if (r < 0) {
            log_warn(S_MODULE, batch[0].trace, "batch of %zu failed: %s; the next scan retries",
                     n, cmn_strerror(r));
            next_scan = cmn_mono_ms() + 100; /* retry soon, but not in a busy loop */
        }
    }
    free(batch);
    if (d->members != NULL && cmn_members_leave(d->members, d->store) == 0)
        log_info(S_MODULE, NULL, "left the replicas of this stage: the others take its people");
    log_info(S_MODULE, NULL, "stopping: in-flight work is committed or left for the next start");
    return CMN_EXIT_OK;
}

int cmn_daemon_tx(cmn_daemon_t *d, int (*fn)(void *arg, cmn_store_t *st), void *arg)
{
    int r = -EBUSY;
    for (int attempt = 0; attempt < 5 && r == -EBUSY; attempt++) {
        r = cmn_store_begin(d->store);
        if (r == 0) {
            r = fn(arg, d->store);
            if (r >= 0) {
                int c = cmn_store_commit(d->store);
                if (c < 0)
                    r = c;
            }
            if (r < 0)
                cmn_store_rollback(d->store);
        }
        if (r == -EIO && attempt == 0 && cmn_store_ping(d->store) == 0)
            r = -EBUSY; /* connection was re-established: try once more */
    }
    atomic_store(&d->healthy, r >= 0);
    return r;
}

int cmn_daemon_channels(cmn_daemon_t *d, struct cmn_channels_s *ret)
{
    char *err = NULL;
    if (cmn_channels_load(&d->settings, ret, &err) < 0) {
        log_error("config", NULL, "%s", err);
        free(err);
        return CMN_EXIT_CONFIG;
    }
    if (d->settings.insecure_skip_signature)
        log_warn("config", NULL, "CIU_INSECURE_SKIP_SIGNATURE=true: webhook signatures are NOT "
                                 "checked; anyone who can reach this port can forge messages "
                                 "(local tests only)");
    return CMN_EXIT_OK;
}

struct cmn_i18n *cmn_daemon_texts(cmn_daemon_t *d)
{
    cmn_str_t err = CMN_STR_INIT(1024);
    char dir[4096];
    cmn_i18n_t *t;
    snprintf(dir, sizeof(dir), "%s/lang", d->settings.share_dir);
    t = cmn_i18n_load(dir, &err);
    if (t == NULL)
        log_error("config", NULL, "CIU_SHARE_DIR: cannot load the texts: %s", cmn_str_cstr(&err));
    cmn_str_free(&err);
    return t;
}
