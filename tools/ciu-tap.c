/* ciu-tap: print the events of every ciu daemon as JSON lines.
 *
 *   ciu-tap [--connect EP1,EP2,...] [--count N] [--timeout S] [PREFIX]
 *
 * Subscribes (ZeroMQ SUB) to the PUB endpoints of the five daemons
 * (CIU_INGRESS_EVENTS, CIU_CONVERSATION_EVENTS, CIU_ENGINE_EVENTS,
 * CIU_DHIS2_EVENTS, CIU_SENDER_EVENTS, from the environment + ./.env) or to
 * --connect, for topics starting with PREFIX ("" = all), and prints one JSON
 * object per event on stdout, flushed at once, so it can be piped into an
 * analytics loader. Events carry keyed hashes, never phone numbers.
 * Exit status: 0 (--count reached, SIGINT/SIGTERM, or stdout closed), 1 (no
 * event for --timeout seconds), 64 usage, 69 cannot connect, 70 internal
 * error, 78 bad configuration. See docs/events.md.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/cmn_bus.h"
#include "common/cmn_daemon.h"
#include "common/cmn_msg.h"
#include "common/cmn_settings.h"
#include "common/cmn_str.h"

#define S_EXIT_TIMEOUT 1
#define S_SLICE_MS 250        /* longest wait before the stop flag is checked again */
#define S_ENDPOINTS_MAX 8192

typedef struct {
    char *connect;  /* --connect, or NULL: from settings (owned) */
    const char *prefix;
    long count;     /* 0: unlimited */
    long timeout_s; /* 0: none */
} s_opts_t;

static volatile sig_atomic_t s_stop;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

static void s_usage(FILE *f)
{
    fprintf(f,
            "usage: ciu-tap [--connect EP1,EP2,...] [--count N] [--timeout S] [PREFIX]\n"
            "Print the events of the ciu daemons as JSON lines (one object per event).\n"
            "  PREFIX          only topics (event types) starting with PREFIX, e.g. 'ciu.'\n"
            "  --connect EPS   PUB endpoints to subscribe to (default: CIU_INGRESS_EVENTS,\n"
            "                  CIU_CONVERSATION_EVENTS, CIU_ENGINE_EVENTS, CIU_DHIS2_EVENTS,\n"
            "                  CIU_SENDER_EVENTS from the environment and ./.env)\n"
            "  --count N       exit 0 after N events\n"
            "  --timeout S     exit 1 when no event arrived for S seconds\n"
            "Exit status: 0 ok, 1 timeout, 64 usage, 69 cannot connect, 78 bad configuration.\n");
}

static int s_fail(int code, const char *what, const char *detail)
{
    fprintf(stderr, "ciu-tap: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    return code;
}

static int s_parse(int argc, char **argv, s_opts_t *o)
{
    static const struct option longopts[] = {
        {"connect", required_argument, NULL, 'c'},
        {"count", required_argument, NULL, 'n'},
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    memset(o, 0, sizeof(*o));
    o->prefix = "";
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            free(o->connect);
            o->connect = strdup(optarg);
            if (o->connect == NULL)
                return s_fail(CMN_EXIT_SOFTWARE, "out of memory", NULL);
            break;
        case 'n':
            if (cmn_parse_long(optarg, 1, LONG_MAX, &o->count) < 0)
                return s_fail(CMN_EXIT_USAGE, "--count: not a positive number", optarg);
            break;
        case 't':
            if (cmn_parse_long(optarg, 1, 86400 * 365, &o->timeout_s) < 0)
                return s_fail(CMN_EXIT_USAGE, "--timeout: not a number of seconds", optarg);
            break;
        case 'h':
            s_usage(stdout);
            return CMN_BOOT_DONE;
        default:
            s_usage(stderr);
            return CMN_EXIT_USAGE;
        }
    }
    if (optind < argc)
        o->prefix = argv[optind++];
    if (optind < argc) {
        s_usage(stderr);
        return CMN_EXIT_USAGE;
    }
    return 0;
}

/* The five event endpoints from the settings, comma-separated (caller frees). */
static int s_endpoints_from_settings(char **ret)
{
    cmn_settings_t st;
    cmn_str_t eps = CMN_STR_INIT(S_ENDPOINTS_MAX);
    char *err = NULL;
    int code = CMN_EXIT_OK;

    if (cmn_settings_load(&st, &err) < 0) {
        code = s_fail(CMN_EXIT_CONFIG, "bad configuration", err);
        free(err);
        return code;
    }
    const char *list[] = {st.ev_ingress, st.ev_conversation, st.ev_engine, st.ev_dhis2,
                          st.ev_sender};
    for (size_t i = 0; i < sizeof(list) / sizeof(list[0]); i++) {
        if (list[i] == NULL || list[i][0] == '\0')
            continue;
        if ((eps.len && cmn_str_appends(&eps, ",") < 0) || cmn_str_appends(&eps, list[i]) < 0) {
            code = s_fail(CMN_EXIT_CONFIG, "event endpoint lists too long", NULL);
            break;
        }
    }
    cmn_settings_free(&st);
    if (code == CMN_EXIT_OK && eps.len == 0)
        code = s_fail(CMN_EXIT_CONFIG, "no event endpoint configured (CIU_*_EVENTS)", NULL);
    if (code != CMN_EXIT_OK) {
        cmn_str_free(&eps);
        return code;
    }
    *ret = cmn_str_steal(&eps);
    return CMN_EXIT_OK;
}

/* One event as a compact JSON object with the fields that are set. NULL on ENOMEM. */
static char *s_event_json(const cmn_msg_t *m)
{
    json_t *o = json_object();
    char *out = NULL;
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "v", json_integer(m->v));
    json_object_set_new(o, "type", json_string(m->type));
    json_object_set_new(o, "id", json_string(m->id));
    json_object_set_new(o, "ts", json_integer(m->ts));
    if (m->trace[0])
        json_object_set_new(o, "trace", json_string(m->trace));
    if (m->user[0])
        json_object_set_new(o, "user", json_string(m->user));
    if (m->row)
        json_object_set_new(o, "row", json_integer(m->row));
    if (m->channel[0])
        json_object_set_new(o, "channel", json_string(m->channel));
    if (m->ciu[0])
        json_object_set_new(o, "ciu", json_string(m->ciu));
    if (m->detail[0])
        json_object_set_new(o, "detail", json_string(m->detail));
    /* `existing` means something for every ciu.issued; elsewhere only when set. */
    if (m->existing || strcmp(m->type, CMN_EV_CIU_ISSUED) == 0)
        json_object_set_new(o, "existing", json_boolean(m->existing));
    out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return out;
}

static int s_tap(cmn_sub_t *sub, const s_opts_t *o)
{
    long seen = 0;
    int64_t last = cmn_mono_ms();

    while (!s_stop) {
        cmn_msg_t m;
        int r = cmn_sub_recv(sub, &m, S_SLICE_MS);
        if (r == -EAGAIN || r == -EINTR) {
            if (o->timeout_s && cmn_mono_ms() - last >= o->timeout_s * 1000)
                return s_fail(S_EXIT_TIMEOUT, "no event within the timeout", NULL);
            continue;
        }
        if (r == -EPROTO) {
            fputs("ciu-tap: malformed event dropped\n", stderr);
            continue;
        }
        if (r < 0)
            return s_fail(CMN_EXIT_UNAVAILABLE, "cannot receive", strerror(-r));
        char *line = s_event_json(&m);
        if (line == NULL)
            return s_fail(CMN_EXIT_SOFTWARE, "out of memory", NULL);
        int w = fputs(line, stdout) < 0 || fputc('\n', stdout) == EOF || fflush(stdout) != 0;
        free(line);
        if (w)
            return errno == EPIPE ? CMN_EXIT_OK : s_fail(CMN_EXIT_SOFTWARE, "cannot write",
                                                         strerror(errno));
        last = cmn_mono_ms();
        if (o->count && ++seen >= o->count)
            break;
    }
    return CMN_EXIT_OK;
}

static int s_run(s_opts_t *o)
{
    struct sigaction sa;
    cmn_bus_t *bus = NULL;
    cmn_sub_t *sub = NULL;
    int code = CMN_EXIT_OK;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (o->connect == NULL) {
        code = s_endpoints_from_settings(&o->connect);
        if (code != CMN_EXIT_OK)
            return code;
    }
    bus = cmn_bus_new();
    if (bus == NULL)
        return s_fail(CMN_EXIT_SOFTWARE, "cannot create the ZeroMQ context", NULL);
    sub = cmn_sub_new(bus, o->connect, o->prefix);
    if (sub == NULL) {
        code = s_fail(CMN_EXIT_UNAVAILABLE, "cannot subscribe", strerror(errno));
        fprintf(stderr, "ciu-tap: endpoints: %s\n", o->connect);
        goto out_bus;
    }
    fprintf(stderr, "ciu-tap: subscribed to %s (prefix '%s')\n", o->connect, o->prefix);
    code = s_tap(sub, o);
    cmn_sub_destroy(&sub);
out_bus:
    cmn_bus_destroy(&bus);
    return code;
}

int main(int argc, char **argv)
{
    s_opts_t o;
    int code = s_parse(argc, argv, &o);
    if (code == 0)
        code = s_run(&o);
    free(o.connect);
    return code == CMN_BOOT_DONE ? CMN_EXIT_OK : code;
}
