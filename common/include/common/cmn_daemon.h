/* cmn_daemon: what every ciu daemon does around its own work.
 *
 * Boot: parse the command line (--port-file FILE, --help, --version), load
 * the settings (environment + .env), set up logging, signals (SIGTERM and
 * SIGINT only set a flag; SIGPIPE ignored), the salt, the store (opened and
 * migrated; an unreachable PostgreSQL is retried for up to 30 s), the
 * ZeroMQ context, the metrics registry and, for the pipeline stages, the
 * admin listener (/health, /metrics).
 *
 * Work: the loop shared by conversation, engine, dhis2-bridge and sender.
 * Wake-up messages are drained in batches (up to CIU_BATCH_MAX) and handed
 * to on_batch; every CIU_RESCAN_MS (and once at start) on_rescan picks up
 * rows left unfinished by a crash or a lost message. A failed batch (store
 * unavailable) marks the daemon unhealthy and is retried by the next scan.
 * Each scan also checkpoints a SQLite WAL (cmn_store_checkpoint) so erased
 * data does not linger on disk.
 *
 * Exit codes follow sysexits.h so a supervisor can tell a configuration
 * error (do not restart in a loop) from a transient one.
 */
#ifndef CMN_DAEMON_H
#define CMN_DAEMON_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cmn_admin.h"
#include "common/cmn_bus.h"
#include "common/cmn_metrics.h"
#include "common/cmn_settings.h"
#include "common/cmn_store.h"

enum {
    CMN_EXIT_OK = 0,
    CMN_EXIT_USAGE = 64,       /* EX_USAGE: bad command line */
    CMN_EXIT_UNAVAILABLE = 69, /* EX_UNAVAILABLE: store or socket unavailable: restart later */
    CMN_EXIT_SOFTWARE = 70,    /* EX_SOFTWARE: internal error */
    CMN_EXIT_CONFIG = 78,      /* EX_CONFIG: fix the configuration, do not restart */
    CMN_BOOT_DONE = -1,        /* boot printed --help or --version: exit 0 */
};

/* The stop flag set by SIGTERM/SIGINT (the one piece of global mutable state
 * besides log settings). */
extern volatile sig_atomic_t cmn_stop_g;

typedef struct {
    const char *name; /* e.g. "ciu-engine" */
    cmn_settings_t settings;
    char *port_file;  /* --port-file, or NULL */
    unsigned char *salt;
    size_t salt_len;
    cmn_store_t *store;
    cmn_bus_t *bus;
    cmn_metrics_t *metrics;
    cmn_admin_t *admin;
    atomic_int healthy;        /* 1 when the last store operation succeeded */
    atomic_llong last_work_ms; /* when the loop last finished a batch or scan */
    cmn_counter_t *m_batches;
    cmn_counter_t *m_dropped;  /* malformed messages dropped */
    cmn_counter_t *m_errors;   /* failed batches or scans */
    cmn_histogram_t *m_batch_seconds;
    /* CIU_DISCOVERY=store (cmn_members.h): this replica's row, where its
     * stage keeps its share, and the pushes to refresh from the store */
    bool discovery;
    struct cmn_members *members;
    size_t *shard_at, *shards_at;
    struct {
        cmn_push_t *push;
        const char *stage;
    } pushes[4];
    size_t npushes;
    int64_t next_beat;
    cmn_gauge_t *m_replicas;
} cmn_daemon_t;

/* A file descriptor a stage wants the worker loop to wait on. */
typedef struct {
    int fd;
    short events; /* CMN_POLL_IN | CMN_POLL_OUT */
} cmn_pollfd_t;
#define CMN_POLL_IN 1
#define CMN_POLL_OUT 2
#define CMN_POLL_MAX 256 /* most descriptors one stage adds */

typedef struct {
    /* Handle wake-up messages (already decoded). 0 or -errno. */
    int (*on_batch)(void *arg, const cmn_msg_t *msgs, size_t n);
    /* Find and process unfinished rows. 0 or -errno. */
    int (*on_rescan)(void *arg, bool at_start);
    /* Optional (NULL for stages without calls in flight): before each wait,
     * add descriptors to wait on (up to max, *ret_n written) and lower
     * *timeout_ms to when the stage next needs to run (timers, backoff).
     * 0 or -errno. */
    int (*poll_prepare)(void *arg, cmn_pollfd_t *fds, size_t max, size_t *ret_n,
                        long *timeout_ms);
    /* Optional: after each wait (readiness, timeout or wake-up), drive the
     * calls in flight and what is due. 0 or -errno (counted as a failed batch). */
    int (*on_poll)(void *arg);
    /* Optional: the stage's queue, for the gauges ciu_queue_depth{stage=...}
     * and ciu_queue_oldest_seconds{stage=...}, refreshed after a scan at most
     * every few seconds. queue_sql (no parameters) returns one row: the number
     * of unfinished items and the creation time (ms since the epoch) of the
     * oldest one (NULL when there is none). */
    const char *queue_stage;
    const char *queue_sql;
} cmn_worker_ops_t;

/* Boot a daemon (CMN_BOOT_DONE: --help/--version printed). admin_port_field:
 * offsetof(cmn_settings_t, admin_port_<daemon>), the setting holding the port
 * of its /health + /metrics listener (-1: no listener; a setting of -1
 * disables it, 0 picks any port, written to the port file as "admin"). Returns
 * CMN_EXIT_OK, or an exit code after logging one line saying why.
 * On failure cmn_daemon_shutdown() must still be called. */
int cmn_daemon_boot(cmn_daemon_t *d, const char *name, int argc, char **argv,
                    long admin_port_field);
/* The language files of CIU_SHARE_DIR/lang (cmn_i18n_load): NULL after
 * logging one line naming CIU_SHARE_DIR. Caller owns. */
struct cmn_i18n;
struct cmn_i18n *cmn_daemon_texts(cmn_daemon_t *d);

/* The WhatsApp channels on, checked (cmn_channels_load): CMN_EXIT_OK, or
 * CMN_EXIT_CONFIG after logging the one line naming the variable. Warns when
 * webhook signatures are not checked. */
struct cmn_channels_s;
int cmn_daemon_channels(cmn_daemon_t *d, struct cmn_channels_s *ret);

/* Release everything boot created. Safe on a half-booted daemon. */
void cmn_daemon_shutdown(cmn_daemon_t *d);
static inline bool cmn_daemon_stopping(void) { return cmn_stop_g != 0; }

/* Bind this replica's PULL: CIU_BIND, or the first endpoint of `endpoints`.
 * Returns NULL after logging. ret_index/ret_count: this replica's shard. */
cmn_pull_t *cmn_daemon_pull(cmn_daemon_t *d, const char *endpoints, size_t *ret_index,
                            size_t *ret_count);

/* The PUSH to a stage ("conversation", "engine", "dhis2", "sender"):
 * connected to `endpoints` (CIU_DISCOVERY=static), or to the replicas the
 * store lists, refreshed by the worker loop (store). NULL on error (errno). */
cmn_push_t *cmn_daemon_push(cmn_daemon_t *d, const char *stage, const char *endpoints);
/* With CIU_DISCOVERY=store: record where others subscribe to this
 * replica's events (its bound PUB). No-op otherwise. */
void cmn_daemon_advertise_events(cmn_daemon_t *d, cmn_pub_t *pub);
/* CIU_BUS_CURVE_SECRET_KEY, if set, on this bus (cmn_bus_set_curve),
 * before any socket. CMN_EXIT_OK, or an exit code after one log line. */
int cmn_daemon_bus_security(cmn_bus_t *bus, const cmn_settings_t *s);
/* The stage an endpoint list belongs to ("conversation", ...), or NULL. */
const char *cmn_daemon_stage_of(const cmn_daemon_t *d, const char *endpoints);

/* Run the worker loop until SIGTERM/SIGINT. Returns an exit code. */
int cmn_daemon_work(cmn_daemon_t *d, cmn_pull_t *pull, const cmn_worker_ops_t *ops, void *arg);

/* Run fn inside one write transaction, retrying on -EBUSY a few times.
 * Commits when fn returns >= 0, rolls back otherwise. Returns fn's result
 * or the store error. Marks the daemon healthy/unhealthy. */
int cmn_daemon_tx(cmn_daemon_t *d, int (*fn)(void *arg, cmn_store_t *st), void *arg);

#endif
