/* Unit tests for cmn_daemon: boot in-process (environment set with setenv,
 * SQLite in a mkdtemp folder, admin listener on port 0 found through the
 * port file and fetched with libcurl), exit codes, the worker loop in a
 * thread stopped by a real SIGTERM, health and metrics after failures, and
 * cmn_daemon_tx. Waits are bounded polls for a condition, never bare sleeps.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <zmq.h>

#include "test_util.h"
#include "common/cmn_daemon.h"

/* Upper bound of every wait; only reached on failure (generous for valgrind). */
#define S_DEADLINE_MS 30000
#define S_ADMIN_FIELD ((long)offsetof(cmn_settings_t, admin_port_engine))

typedef struct {
    char dir[64];
    char cwd[4096];
    char port_file[128];
} s_fix_t;

static int s_setup(void **state)
{
    s_fix_t *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/ciu-daemon-XXXXXX");
    if (mkdtemp(f->dir) == NULL || getcwd(f->cwd, sizeof(f->cwd)) == NULL)
        return -1;
    snprintf(f->port_file, sizeof(f->port_file), "%s/ports", f->dir);
    /* A known environment: only what each test sets. No ./.env is read
     * (the working folder is the empty temporary one). */
    static const char *const unset[] = {"DATABASE_URL",   "UIC_SALT",
                                        "CIU_BIND",       "SESSION_TIMEOUT_MINUTES",
                                        "CIU_BATCH_MAX",  "CIU_HTTP_ADDR",
                                        "LOG_JSON"};
    for (size_t i = 0; i < sizeof(unset) / sizeof(unset[0]); i++)
        unsetenv(unset[i]);
    setenv("CIU_DATA_DIR", f->dir, 1);
    setenv("CIU_SIMULATOR", "true", 1);
    setenv("CIU_ENGINE_ADMIN_PORT", "0", 1);
    setenv("CIU_RESCAN_MS", "50", 1); /* the loop notices the stop flag within 50 ms */
    setenv("LOG_LEVEL", "error", 1);
    if (chdir(f->dir) != 0)
        return -1;
    cmn_stop_g = 0;
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    s_fix_t *f = *state;
    cmn_stop_g = 0;
    if (chdir(f->cwd) != 0)
        return -1;
    tu_rmdir_flat(f->dir); /* the folder is flat: database, WAL, salt, port file, sockets */
    free(f);
    return 0;
}

/* Boot "ciu-engine" with `--port-file <file>` plus up to two more args. */
static int s_boot(s_fix_t *f, cmn_daemon_t *d, const char *arg1, const char *arg2)
{
    char *argv[6];
    int argc = 0;
    argv[argc++] = (char *)"ciu-engine";
    argv[argc++] = (char *)"--port-file";
    argv[argc++] = f->port_file;
    if (arg1)
        argv[argc++] = (char *)arg1;
    if (arg2)
        argv[argc++] = (char *)arg2;
    argv[argc] = NULL;
    return cmn_daemon_boot(d, "ciu-engine", argc, argv, S_ADMIN_FIELD);
}

/* The admin port from the port file ("admin=<port>"), or -1. */
static int s_admin_port(const s_fix_t *f)
{
    FILE *fp = fopen(f->port_file, "r");
    char line[128];
    int port = -1;
    if (fp == NULL)
        return -1;
    while (fgets(line, sizeof(line), fp)) {
        long v;
        line[strcspn(line, "\n")] = '\0';
        if (strncmp(line, "admin=", 6) == 0 && cmn_parse_long(line + 6, 1, 65535, &v) == 0)
            port = (int)v;
    }
    fclose(fp);
    return port;
}

static size_t s_on_body(char *p, size_t size, size_t n, void *arg)
{
    return cmn_str_append(arg, p, size * n) == 0 ? size * n : 0;
}

/* GET path; returns the status, body in *body (caller frees). */
static long s_get(int port, const char *path, cmn_str_t *body)
{
    char url[128];
    long status = 0;
    cmn_str_t tmp = CMN_STR_INIT(1 << 20);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &tmp);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    cmn_str_free(body);
    *body = tmp;
    return status;
}

/* The value of a metric line "<name> <value>" in /metrics, or -1. */
static long long s_metric(int port, const char *name)
{
    cmn_str_t body = CMN_STR_INIT(0);
    long long v = -1;
    assert_int_equal(s_get(port, "/metrics", &body), 200);
    const char *p = cmn_str_cstr(&body);
    size_t n = strlen(name);
    while ((p = strstr(p, name)) != NULL) {
        bool line_start = p == cmn_str_cstr(&body) || p[-1] == '\n';
        if (line_start && p[n] == ' ') {
            v = strtoll(p + n + 1, NULL, 10);
            break;
        }
        p += n;
    }
    cmn_str_free(&body);
    return v;
}

/* Sleep a little between polls of a condition. */
static void s_nap(void)
{
    struct timespec ts = {0, 5 * 1000000L};
    nanosleep(&ts, NULL);
}

static void test_boot_health_and_port_file(void **state)
{
    s_fix_t *f = *state;
    cmn_daemon_t d;
    cmn_str_t body = CMN_STR_INIT(0);

    assert_int_equal(s_boot(f, &d, NULL, NULL), CMN_EXIT_OK);
    assert_non_null(d.store);
    assert_non_null(d.bus);
    assert_non_null(d.metrics);
    assert_non_null(d.admin);
    assert_non_null(d.salt); /* the simulator's demo salt, created in the data folder */
    assert_true(d.salt_len >= 32);
    assert_string_equal(d.port_file, f->port_file);

    int port = s_admin_port(f);
    assert_true(port > 0);
    assert_int_equal(port, cmn_admin_port(d.admin));

    assert_int_equal(s_get(port, "/health", &body), 200);
    const char *b = cmn_str_cstr(&body);
    assert_true(b[0] == '{' && b[strlen(b) - 1] == '}');
    assert_non_null(strstr(b, "\"store\":true"));
    assert_non_null(strstr(b, "\"daemon\":\"ciu-engine\""));
    assert_non_null(strstr(b, "\"status\":\"ok\""));

    assert_int_equal(s_metric(port, "ciu_work_errors_total"), 0);
    assert_int_equal(s_metric(port, "ciu_bus_dropped_total"), 0);

    cmn_str_free(&body);
    cmn_daemon_shutdown(&d);
    assert_null(d.store);
    assert_null(d.admin);
    assert_null(d.port_file);
    cmn_daemon_shutdown(&d); /* twice is harmless */
}

static void test_boot_admin_disabled(void **state)
{
    s_fix_t *f = *state;
    cmn_daemon_t d;
    setenv("CIU_ENGINE_ADMIN_PORT", "-1", 1);
    assert_int_equal(s_boot(f, &d, NULL, NULL), CMN_EXIT_OK);
    assert_null(d.admin);
    assert_int_equal(s_admin_port(f), -1);
    cmn_daemon_shutdown(&d);

    /* No admin field at all (ingress serves /health itself). */
    setenv("CIU_ENGINE_ADMIN_PORT", "0", 1);
    char *argv[] = {(char *)"x", NULL};
    assert_int_equal(cmn_daemon_boot(&d, "x", 1, argv, -1), CMN_EXIT_OK);
    assert_null(d.admin);
    cmn_daemon_shutdown(&d);
}

static void test_boot_bad_config(void **state)
{
    s_fix_t *f = *state;
    cmn_daemon_t d;
    setenv("SESSION_TIMEOUT_MINUTES", "abc", 1);
    assert_int_equal(s_boot(f, &d, NULL, NULL), CMN_EXIT_CONFIG);
    cmn_daemon_shutdown(&d);
    setenv("SESSION_TIMEOUT_MINUTES", "99999", 1); /* out of range */
    assert_int_equal(s_boot(f, &d, NULL, NULL), CMN_EXIT_CONFIG);
    cmn_daemon_shutdown(&d);
    unsetenv("SESSION_TIMEOUT_MINUTES");
    assert_int_equal(s_admin_port(f), -1); /* nothing listened */
}

static void test_boot_salt_required(void **state)
{
    s_fix_t *f = *state;
    cmn_daemon_t d;
    setenv("CIU_SIMULATOR", "false", 1);
    assert_int_equal(s_boot(f, &d, NULL, NULL), CMN_EXIT_CONFIG);
    cmn_daemon_shutdown(&d);
    setenv("UIC_SALT", "short", 1);
    assert_int_equal(s_boot(f, &d, NULL, NULL), CMN_EXIT_CONFIG);
    cmn_daemon_shutdown(&d);
    setenv("UIC_SALT", "0123456789abcdef0123456789abcdef0123456789abcdef", 1);
    assert_int_equal(s_boot(f, &d, NULL, NULL), CMN_EXIT_OK);
    cmn_daemon_shutdown(&d);
}

static void test_boot_command_line(void **state)
{
    s_fix_t *f = *state;
    cmn_daemon_t d;
    assert_int_equal(s_boot(f, &d, "--help", NULL), CMN_BOOT_DONE);
    cmn_daemon_shutdown(&d);
    assert_int_equal(s_boot(f, &d, "--version", NULL), CMN_BOOT_DONE);
    cmn_daemon_shutdown(&d);
    assert_int_equal(s_boot(f, &d, "--no-such-option", NULL), CMN_EXIT_USAGE);
    cmn_daemon_shutdown(&d);
    assert_int_equal(s_boot(f, &d, "stray-argument", NULL), CMN_EXIT_USAGE);
    cmn_daemon_shutdown(&d);
    /* --port-file given again, without its FILE */
    assert_int_equal(s_boot(f, &d, "--port-file", NULL), CMN_EXIT_USAGE);
    cmn_daemon_shutdown(&d);
}

/* ---- the worker loop ---- */

typedef struct {
    pthread_mutex_t mu;
    cmn_msg_t got[32];
    size_t n;
    int batches;
    int rescans;
    int at_start_calls;
    bool first_was_start;
    atomic_int batch_ret;
    atomic_int rescan_ret;
} s_rec_t;

static int s_on_batch(void *arg, const cmn_msg_t *msgs, size_t n)
{
    s_rec_t *rec = arg;
    pthread_mutex_lock(&rec->mu);
    for (size_t i = 0; i < n && rec->n < sizeof(rec->got) / sizeof(rec->got[0]); i++)
        rec->got[rec->n++] = msgs[i];
    rec->batches++;
    pthread_mutex_unlock(&rec->mu);
    return atomic_load(&rec->batch_ret);
}

static int s_on_rescan(void *arg, bool at_start)
{
    s_rec_t *rec = arg;
    pthread_mutex_lock(&rec->mu);
    if (rec->rescans == 0)
        rec->first_was_start = at_start;
    rec->at_start_calls += at_start;
    rec->rescans++;
    pthread_mutex_unlock(&rec->mu);
    return atomic_load(&rec->rescan_ret);
}

static size_t s_rec_n(s_rec_t *rec)
{
    pthread_mutex_lock(&rec->mu);
    size_t n = rec->n;
    pthread_mutex_unlock(&rec->mu);
    return n;
}

static int s_rec_rescans(s_rec_t *rec)
{
    pthread_mutex_lock(&rec->mu);
    int n = rec->rescans;
    pthread_mutex_unlock(&rec->mu);
    return n;
}

typedef struct {
    cmn_daemon_t *d;
    cmn_pull_t *pull;
    s_rec_t *rec;
    int ret;
    atomic_bool done;
} s_worker_t;

static void *s_worker_main(void *arg)
{
    s_worker_t *w = arg;
    static const cmn_worker_ops_t ops = {.on_batch = s_on_batch, .on_rescan = s_on_rescan};
    sigset_t set;
    /* This thread takes SIGTERM, so the signal interrupts its poll. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    w->ret = cmn_daemon_work(w->d, w->pull, &ops, w->rec);
    atomic_store(&w->done, true);
    return NULL;
}

/* A booted daemon, its PULL, a PUSH to it and the worker thread. */
typedef struct {
    cmn_daemon_t d;
    char ep[128];
    cmn_pull_t *pull;
    cmn_push_t *push;
    s_rec_t rec;
    s_worker_t w;
    pthread_t thread;
    int port;
} s_loop_t;

static void s_loop_start(s_fix_t *f, s_loop_t *l)
{
    size_t index = 99, count = 99;
    sigset_t set;

    memset(l, 0, sizeof(*l));
    pthread_mutex_init(&l->rec.mu, NULL);
    assert_int_equal(s_boot(f, &l->d, NULL, NULL), CMN_EXIT_OK);
    l->port = s_admin_port(f);
    assert_true(l->port > 0);
    snprintf(l->ep, sizeof(l->ep), "ipc://%s/work", f->dir);
    l->pull = cmn_daemon_pull(&l->d, l->ep, &index, &count);
    assert_non_null(l->pull);
    assert_int_equal(index, 0);
    assert_int_equal(count, 1);
    l->push = cmn_push_new(l->d.bus, l->ep);
    assert_non_null(l->push);

    /* Block SIGTERM here (the worker unblocks it) so kill() wakes the loop. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    l->w = (s_worker_t){.d = &l->d, .pull = l->pull, .rec = &l->rec, .ret = -1};
    assert_int_equal(pthread_create(&l->thread, NULL, s_worker_main, &l->w), 0);
}

/* SIGTERM to the process; the loop returns CMN_EXIT_OK. */
static void s_loop_stop(s_loop_t *l)
{
    sigset_t set;
    assert_int_equal(kill(getpid(), SIGTERM), 0);
    int64_t deadline = cmn_mono_ms() + S_DEADLINE_MS;
    while (!atomic_load(&l->w.done) && cmn_mono_ms() < deadline)
        s_nap();
    assert_true(atomic_load(&l->w.done));
    pthread_join(l->thread, NULL);
    assert_int_equal(cmn_stop_g, 1);
    assert_true(cmn_daemon_stopping());
    assert_int_equal(l->w.ret, CMN_EXIT_OK);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    cmn_stop_g = 0;

    cmn_push_destroy(&l->push);
    cmn_pull_destroy(&l->pull);
    cmn_daemon_shutdown(&l->d);
    pthread_mutex_destroy(&l->rec.mu);
}

static void s_send(s_loop_t *l, const char *type, int64_t row, char *ret_id)
{
    cmn_msg_t m;
    assert_int_equal(cmn_msg_init(&m, type, NULL), 0);
    cmn_strlcpy(m.user, "user-1", sizeof(m.user));
    m.row = row;
    assert_int_equal(cmn_push_send(l->push, &m), 0);
    if (ret_id)
        memcpy(ret_id, m.id, CMN_ID_LEN);
}

static void s_wait_recorded(s_loop_t *l, size_t n)
{
    int64_t deadline = cmn_mono_ms() + S_DEADLINE_MS;
    while (s_rec_n(&l->rec) < n && cmn_mono_ms() < deadline)
        s_nap();
    assert_int_equal(s_rec_n(&l->rec), n);
}

static void test_worker_loop(void **state)
{
    s_fix_t *f = *state;
    s_loop_t *l = calloc(1, sizeof(*l));
    char ids[5][CMN_ID_LEN];
    assert_non_null(l);
    s_loop_start(f, l);

    for (int i = 0; i < 5; i++)
        s_send(l, CMN_MSG_CIU_REQUEST, i + 1, ids[i]);
    s_wait_recorded(l, 5);
    pthread_mutex_lock(&l->rec.mu);
    for (int i = 0; i < 5; i++) {
        assert_string_equal(l->rec.got[i].id, ids[i]);
        assert_true(l->rec.got[i].row == i + 1);
        assert_string_equal(l->rec.got[i].type, CMN_MSG_CIU_REQUEST);
    }
    assert_true(l->rec.batches >= 1 && l->rec.batches <= 5);
    pthread_mutex_unlock(&l->rec.mu);

    /* A malformed frame is dropped and counted; the loop goes on. */
    void *ctx = zmq_ctx_new();
    void *raw = zmq_socket(ctx, ZMQ_PUSH);
    int zero = 0;
    zmq_setsockopt(raw, ZMQ_LINGER, &zero, sizeof(zero));
    assert_int_equal(zmq_connect(raw, l->ep), 0);
    assert_int_equal(zmq_send(raw, "\xc1not msgpack", 12, 0), 12);
    int64_t deadline = cmn_mono_ms() + S_DEADLINE_MS;
    while (s_metric(l->port, "ciu_bus_dropped_total") < 1 && cmn_mono_ms() < deadline)
        s_nap();
    assert_int_equal(s_metric(l->port, "ciu_bus_dropped_total"), 1);
    zmq_close(raw);
    zmq_ctx_term(ctx);
    s_send(l, CMN_MSG_OUTBOUND, 6, NULL);
    s_wait_recorded(l, 6);
    assert_true(s_metric(l->port, "ciu_batches_total") >= 2);

    /* Scans keep coming while idle (every CIU_RESCAN_MS). */
    int scans = s_rec_rescans(&l->rec);
    deadline = cmn_mono_ms() + S_DEADLINE_MS;
    while (s_rec_rescans(&l->rec) < scans + 3 && cmn_mono_ms() < deadline)
        s_nap();
    assert_true(s_rec_rescans(&l->rec) >= scans + 3);

    s_loop_stop(l);
    assert_true(l->rec.first_was_start);
    assert_int_equal(l->rec.at_start_calls, 1);
    assert_int_equal(l->rec.n, 6);
    free(l);
}

/* Garbage on the bus: thousands of bad frames are counted but logged a few
 * times only, and a frame over CMN_BUS_FRAME_MAX never reaches the stage
 * (ZMQ_MAXMSGSIZE); good messages still get through. */
static void test_worker_bus_abuse(void **state)
{
    s_fix_t *f = *state;
    s_loop_t *l = calloc(1, sizeof(*l));
    char path[512], line[1024];
    int saved = dup(STDERR_FILENO), lines = 0;
    assert_non_null(l);
    snprintf(path, sizeof(path), "%s/stderr.log", f->dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0 && saved >= 0);
    fflush(stderr);
    dup2(fd, STDERR_FILENO);
    close(fd);
    setenv("LOG_LEVEL", "warning", 1); /* the fixture's "error" would hide the lines */
    s_loop_start(f, l);

    void *ctx = zmq_ctx_new();
    void *raw = zmq_socket(ctx, ZMQ_PUSH);
    int zero = 0;
    zmq_setsockopt(raw, ZMQ_LINGER, &zero, sizeof(zero));
    assert_int_equal(zmq_connect(raw, l->ep), 0);
    for (int i = 0; i < 2000; i++)
        assert_int_equal(zmq_send(raw, "\xc1garbage", 8, 0), 8);
    int64_t deadline = cmn_mono_ms() + S_DEADLINE_MS;
    while (s_metric(l->port, "ciu_bus_dropped_total") < 2000 && cmn_mono_ms() < deadline)
        s_nap();
    assert_int_equal(s_metric(l->port, "ciu_bus_dropped_total"), 2000);
    size_t big = 4 * CMN_BUS_FRAME_MAX;
    char *huge = calloc(1, big);
    assert_non_null(huge);
    zmq_send(raw, huge, big, ZMQ_DONTWAIT);
    free(huge);
    s_send(l, CMN_MSG_OUTBOUND, 7, NULL);
    s_wait_recorded(l, 1);
    /* the big frame was refused by the transport, never decoded */
    assert_int_equal(s_metric(l->port, "ciu_bus_dropped_total"), 2000);
    zmq_close(raw);
    zmq_ctx_term(ctx);
    s_loop_stop(l);
    assert_int_equal(l->rec.n, 1); /* only the good message reached the stage */

    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    FILE *in = fopen(path, "r");
    assert_non_null(in);
    while (fgets(line, sizeof(line), in))
        if (strstr(line, "malformed or unknown"))
            lines++;
    fclose(in);
    assert_true(lines >= 1 && lines <= 2);
    free(l);
}

static void test_worker_failure_health(void **state)
{
    s_fix_t *f = *state;
    s_loop_t *l = calloc(1, sizeof(*l));
    cmn_str_t body = CMN_STR_INIT(0);
    assert_non_null(l);
    s_loop_start(f, l);

    int64_t deadline = cmn_mono_ms() + S_DEADLINE_MS;
    while (s_rec_rescans(&l->rec) < 1 && cmn_mono_ms() < deadline)
        s_nap();
    assert_int_equal(s_get(l->port, "/health", &body), 200);

    /* The store goes away: batches fail, and so do the scans that retry them
     * (a successful scan would mark the daemon healthy again). */
    atomic_store(&l->rec.rescan_ret, -EIO);
    atomic_store(&l->rec.batch_ret, -EIO);
    s_send(l, CMN_MSG_INBOUND, 1, NULL);
    s_wait_recorded(l, 1);
    deadline = cmn_mono_ms() + S_DEADLINE_MS;
    while (s_get(l->port, "/health", &body) != 503 && cmn_mono_ms() < deadline)
        s_nap();
    assert_int_equal(s_get(l->port, "/health", &body), 503);
    assert_non_null(strstr(cmn_str_cstr(&body), "\"store\":false"));
    assert_non_null(strstr(cmn_str_cstr(&body), "\"status\":\"degraded\""));
    assert_true(s_metric(l->port, "ciu_work_errors_total") >= 1);

    /* The store is back: the next scan (soon after a failed batch) heals. */
    atomic_store(&l->rec.rescan_ret, 0);
    atomic_store(&l->rec.batch_ret, 0);
    deadline = cmn_mono_ms() + S_DEADLINE_MS;
    while (s_get(l->port, "/health", &body) != 200 && cmn_mono_ms() < deadline)
        s_nap();
    assert_int_equal(s_get(l->port, "/health", &body), 200);
    assert_non_null(strstr(cmn_str_cstr(&body), "\"store\":true"));

    cmn_str_free(&body);
    s_loop_stop(l);
    free(l);
}

static void test_daemon_pull_errors(void **state)
{
    s_fix_t *f = *state;
    cmn_daemon_t d;
    size_t index = 99, count = 99;
    char list[256];
    assert_int_equal(s_boot(f, &d, NULL, NULL), CMN_EXIT_OK);
    snprintf(list, sizeof(list), "ipc://%s/a, ipc://%s/b", f->dir, f->dir);

    assert_null(cmn_daemon_pull(&d, "", &index, &count));
    assert_null(cmn_daemon_pull(&d, ",ipc://x", &index, &count));
    /* CIU_BIND picks this replica's endpoint in the list */
    cmn_settings_free(&d.settings);
    setenv("CIU_BIND", "ipc://elsewhere", 1);
    char *err = NULL;
    assert_int_equal(cmn_settings_load(&d.settings, &err), 0);
    assert_null(cmn_daemon_pull(&d, list, &index, &count));
    assert_int_equal(index, 99); /* untouched on failure */

    char bind[128];
    snprintf(bind, sizeof(bind), "ipc://%s/b", f->dir);
    setenv("CIU_BIND", bind, 1);
    cmn_settings_free(&d.settings);
    assert_int_equal(cmn_settings_load(&d.settings, &err), 0);
    cmn_pull_t *pull = cmn_daemon_pull(&d, list, &index, &count);
    assert_non_null(pull);
    assert_int_equal(index, 1);
    assert_int_equal(count, 2);
    cmn_pull_destroy(&pull);
    unsetenv("CIU_BIND");
    cmn_daemon_shutdown(&d);
}

/* ---- transactions ---- */

static int s_tx_insert(void *arg, cmn_store_t *st)
{
    const char *k = arg;
    cmn_param_t p[] = {P_TEXT(k)};
    int r = cmn_store_exec(st, "INSERT INTO t_tx (k) VALUES ($1)", p, 1, NULL);
    if (r < 0)
        return r;
    return strncmp(k, "fail", 4) == 0 ? -EINVAL : 0;
}

static int64_t s_count(cmn_store_t *st, const char *k)
{
    cmn_rows_t *rows = NULL;
    cmn_param_t p[] = {P_TEXT(k)};
    assert_int_equal(cmn_store_query(st, "SELECT COUNT(*) FROM t_tx WHERE k = $1", p, 1, &rows),
                     0);
    int64_t n = cmn_rows_int(rows, 0, 0, -1);
    cmn_rows_destroy(&rows);
    return n;
}

static void test_tx(void **state)
{
    s_fix_t *f = *state;
    cmn_daemon_t d;
    assert_int_equal(s_boot(f, &d, NULL, NULL), CMN_EXIT_OK);
    assert_int_equal(cmn_store_exec(d.store, "CREATE TABLE t_tx (k TEXT NOT NULL)", NULL, 0, NULL),
                     0);

    assert_int_equal(cmn_daemon_tx(&d, s_tx_insert, (void *)"ok-1"), 0);
    assert_int_equal(s_count(d.store, "ok-1"), 1);
    assert_int_equal(atomic_load(&d.healthy), 1);

    /* fn fails after writing: rolled back, its error returned */
    assert_int_equal(cmn_daemon_tx(&d, s_tx_insert, (void *)"fail-1"), -EINVAL);
    assert_int_equal(s_count(d.store, "fail-1"), 0);
    assert_int_equal(s_count(d.store, "ok-1"), 1);

    /* a statement error inside fn: rolled back, the store's error returned */
    assert_int_equal(cmn_store_exec(d.store, "DROP TABLE t_tx", NULL, 0, NULL), 0);
    assert_true(cmn_daemon_tx(&d, s_tx_insert, (void *)"ok-2") < 0);
    assert_int_equal(atomic_load(&d.healthy), 0);
    assert_int_equal(cmn_store_exec(d.store, "CREATE TABLE t_tx (k TEXT NOT NULL)", NULL, 0, NULL),
                     0);
    assert_int_equal(cmn_daemon_tx(&d, s_tx_insert, (void *)"ok-3"), 0);
    assert_int_equal(s_count(d.store, "ok-3"), 1);
    assert_int_equal(atomic_load(&d.healthy), 1);
    /* the store is usable again: no transaction left open */
    assert_int_equal(cmn_store_begin(d.store), 0);
    assert_int_equal(cmn_store_rollback(d.store), 0);
    cmn_daemon_shutdown(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_boot_health_and_port_file, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_boot_admin_disabled, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_boot_bad_config, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_boot_salt_required, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_boot_command_line, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_worker_loop, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_worker_bus_abuse, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_worker_failure_health, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_daemon_pull_errors, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_tx, s_setup, s_teardown),
    };
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return r;
}
