/* ciu-tap: print the events of every ciu daemon as JSON lines.
 *
 *   ciu-tap [--since SEQ|TIME [--no-follow]] [--format json|csv]
 *           [--connect EP1,EP2,...] [--count N] [--timeout S] [PREFIX]
 *
 * Subscribes (ZeroMQ SUB) to the PUB endpoints of the five daemons
 * (CIU_INGRESS_EVENTS, CIU_CONVERSATION_EVENTS, CIU_ENGINE_EVENTS,
 * CIU_DHIS2_EVENTS, CIU_SENDER_EVENTS, from the environment + ./.env) or to
 * --connect, for topics starting with PREFIX ("" = all), and prints one JSON
 * object per event on stdout, flushed at once, so it can be piped into an
 * analytics loader. Events carry keyed hashes, never phone numbers.
 *
 * --since first replays the events kept in the store (table `events`,
 * DATABASE_URL) after a sequence number or from a time, then goes live;
 * it subscribes before the replay and drops live events already replayed
 * (by id), so nothing is missed or printed twice at the switch.
 * Exit status: 0 (--count reached, SIGINT/SIGTERM, or stdout closed), 1 (no
 * event for --timeout seconds), 64 usage, 69 cannot connect, 70 internal
 * error, 78 bad configuration. See docs/events.md. With CIU_DISCOVERY=store
 * the replicas' PUB endpoints come from the store (every replica of a stage).
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
#include <time.h>

#include <jansson.h>

#include "common/cmn_bus.h"
#include "common/cmn_daemon.h"
#include "common/cmn_events.h"
#include "common/cmn_keyset.h"
#include "common/cmn_members.h"
#include "common/cmn_msg.h"
#include "common/cmn_settings.h"
#include "common/cmn_store.h"
#include "common/cmn_str.h"

#define S_EXIT_TIMEOUT 1
#define S_SLICE_MS 250        /* longest wait before the stop flag is checked again */
#define S_ENDPOINTS_MAX 8192
#define S_PAGE 1000          /* events read from the store at once */
#define S_SWITCH_MS (120000) /* replayed events this recent may also arrive live */
#define S_SWITCH_IDS 65536   /* ids remembered for that */

typedef struct {
    char *connect;  /* --connect, or NULL: from settings (owned) */
    const char *prefix;
    long count;     /* 0: unlimited */
    long timeout_s; /* 0: none */
    bool replay;    /* --since given */
    int64_t since_seq, since_ms;
    bool follow; /* go live after the replay (not with --no-follow) */
    bool csv;
} s_opts_t;

/* What was printed, for --count and the replay/live switch. */
typedef struct {
    const s_opts_t *o;
    long seen;
    int64_t last_seq;
    int64_t recent_ms; /* replayed events at or after this may come live too */
    cmn_keyset_t *ids; /* their ids */
    int code;          /* an exit code once printing failed */
} s_out_t;

static volatile sig_atomic_t s_stop;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

static void s_usage(FILE *f)
{
    fprintf(f,
            "usage: ciu-tap [--since SEQ|TIME [--no-follow]] [--format json|csv]\n"
            "               [--connect EP1,EP2,...] [--count N] [--timeout S] [PREFIX]\n"
            "Print the events of the ciu daemons as JSON lines (one object per event).\n"
            "  PREFIX          only topics (event types) starting with PREFIX, e.g. 'ciu.'\n"
            "  --since SEQ     first replay the events kept in the store after sequence\n"
            "                  number SEQ (the `seq` of a replayed line; 0: all kept)\n"
            "  --since TIME    ... or from TIME: 2026-11-30, 2026-11-30T08:00 (UTC),\n"
            "                  or an age: 90s, 30m, 12h, 7d\n"
            "  --no-follow     with --since: exit 0 after the replay\n"
            "  --format F      json (default: one object per line) or csv (with a header)\n"
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

/* --since: a sequence number (digits), a UTC date or date-time, or an age
 * (digits + s/m/h/d). Sets one of *ret_seq / *ret_ms (the other 0). */
static int s_parse_since(const char *v, int64_t now_ms, int64_t *ret_seq, int64_t *ret_ms)
{
    size_t n = strlen(v);
    long num;
    struct tm tm;
    char *end;

    *ret_seq = 0;
    *ret_ms = 0;
    if (n == 0)
        return -EINVAL;
    if (cmn_parse_long(v, 0, LONG_MAX, &num) == 0) {
        *ret_seq = num;
        return 0;
    }
    if (n >= 2 && strchr("smhd", v[n - 1])) {
        char digits[24];
        static const int64_t unit[] = {
            ['s' - 'a'] = 1000, ['m' - 'a'] = 60000, ['h' - 'a'] = 3600000, ['d' - 'a'] = 86400000};
        if (n - 1 >= sizeof(digits))
            return -EINVAL;
        memcpy(digits, v, n - 1);
        digits[n - 1] = '\0';
        if (cmn_parse_long(digits, 0, 3650L * 86400, &num) < 0)
            return -EINVAL;
        *ret_ms = now_ms - num * unit[v[n - 1] - 'a'];
        return *ret_ms < 0 ? -EINVAL : 0;
    }
    memset(&tm, 0, sizeof(tm));
    end = strptime(v, "%Y-%m-%d", &tm);
    if (end != NULL && (*end == 'T' || *end == ' '))
        end = strptime(end + 1, "%H:%M", &tm);
    if (end != NULL && *end == ':')
        end = strptime(end + 1, "%S", &tm);
    if (end == NULL || *end != '\0')
        return -EINVAL;
    time_t t = timegm(&tm);
    if (t < 0)
        return -EINVAL;
    *ret_ms = (int64_t)t * 1000;
    return 0;
}

static int s_parse(int argc, char **argv, s_opts_t *o)
{
    static const struct option longopts[] = {
        {"connect", required_argument, NULL, 'c'}, {"count", required_argument, NULL, 'n'},
        {"timeout", required_argument, NULL, 't'}, {"since", required_argument, NULL, 's'},
        {"no-follow", no_argument, NULL, 'F'},     {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    int c;

    memset(o, 0, sizeof(*o));
    o->prefix = "";
    o->follow = true;
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
        case 's':
            if (s_parse_since(optarg, cmn_now_ms(), &o->since_seq, &o->since_ms) < 0)
                return s_fail(CMN_EXIT_USAGE,
                              "--since: not a sequence number, a date (2026-11-30, "
                              "2026-11-30T08:00) or an age (30m, 12h, 7d)",
                              optarg);
            o->replay = true;
            break;
        case 'F':
            o->follow = false;
            break;
        case 'f':
            if (strcmp(optarg, "json") != 0 && strcmp(optarg, "csv") != 0)
                return s_fail(CMN_EXIT_USAGE, "--format: json or csv", optarg);
            o->csv = strcmp(optarg, "csv") == 0;
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
    if (!o->follow && !o->replay)
        return s_fail(CMN_EXIT_USAGE, "--no-follow needs --since", NULL);
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
    static const char *const stages[] = {NULL, "conversation", "engine", "dhis2", "sender"};
    char *found[5] = {NULL};
    if (st.discovery && strcmp(st.discovery, "store") == 0) {
        /* every replica's PUB, as the replicas registered it */
        cmn_store_t *store = NULL;
        char *url = cmn_settings_store_url(&st), msg[256];
        if (url != NULL && cmn_store_open(url, &store, msg, sizeof(msg)) == 0) {
            for (size_t i = 1; i < 5; i++)
                if (cmn_members_endpoints(store, stages[i], cmn_now_ms(), st.member_ttl_ms, true,
                                          &found[i]) == 0 &&
                    found[i][0] != '\0')
                    list[i] = found[i];
        } else {
            fprintf(stderr,
                    "ciu-tap: CIU_DISCOVERY=store but the store is unreachable (%s): "
                    "using CIU_*_EVENTS\n",
                    url ? msg : "out of memory");
        }
        cmn_store_destroy(&store);
        free(url);
    }
    for (size_t i = 0; i < sizeof(list) / sizeof(list[0]); i++) {
        if (list[i] == NULL || list[i][0] == '\0')
            continue;
        if ((eps.len && cmn_str_appends(&eps, ",") < 0) || cmn_str_appends(&eps, list[i]) < 0) {
            code = s_fail(CMN_EXIT_CONFIG, "event endpoint lists too long", NULL);
            break;
        }
    }
    for (size_t i = 0; i < 5; i++)
        free(found[i]);
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

/* One event as a compact JSON object with the fields that are set; seq
 * (> 0) for an event replayed from the store. NULL on ENOMEM. */
static char *s_event_json(const cmn_msg_t *m, int64_t seq)
{
    json_t *o = json_object();
    char *out = NULL;
    if (o == NULL)
        return NULL;
    if (seq > 0)
        json_object_set_new(o, "seq", json_integer(seq));
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
    if (m->duration_ms > 0)
        json_object_set_new(o, "duration_ms", json_integer(m->duration_ms));
    out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return out;
}

static const char s_csv_header[] =
    "seq,type,id,ts,trace,user,row,channel,ciu,detail,existing,duration_ms";

/* A CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break. */
static int s_csv_field(cmn_str_t *line, const char *v, bool last)
{
    int r = 0;
    if (strpbrk(v, ",\"\r\n") == NULL) {
        r = cmn_str_appends(line, v);
    } else {
        r = cmn_str_appends(line, "\"");
        for (const char *c = v; r == 0 && *c; c++)
            r = *c == '"' ? cmn_str_appends(line, "\"\"") : cmn_str_append(line, c, 1);
        if (r == 0)
            r = cmn_str_appends(line, "\"");
    }
    return r < 0 ? r : cmn_str_appends(line, last ? "" : ",");
}

/* One event as a CSV line (columns of s_csv_header). NULL on ENOMEM. */
static char *s_event_csv(const cmn_msg_t *m, int64_t seq)
{
    cmn_str_t line = CMN_STR_INIT(4096);
    char seqs[24] = "", ts[24], row[24] = "", dur[24] = "";
    if (seq > 0)
        snprintf(seqs, sizeof(seqs), "%lld", (long long)seq);
    snprintf(ts, sizeof(ts), "%lld", (long long)m->ts);
    if (m->row)
        snprintf(row, sizeof(row), "%lld", (long long)m->row);
    if (m->duration_ms > 0)
        snprintf(dur, sizeof(dur), "%lld", (long long)m->duration_ms);
    const char *cols[] = {seqs,
                          m->type,
                          m->id,
                          ts,
                          m->trace,
                          m->user,
                          row,
                          m->channel,
                          m->ciu,
                          m->detail,
                          m->existing ? "true" : "false",
                          dur};
    size_t n = sizeof(cols) / sizeof(cols[0]);
    for (size_t i = 0; i < n; i++)
        if (s_csv_field(&line, cols[i], i + 1 == n) < 0) {
            cmn_str_free(&line);
            return NULL;
        }
    return cmn_str_steal(&line);
}

/* Print one event; 1 when --count is reached, 0 to go on, or an exit code
 * in out->code (-1 returned). */
static int s_print(s_out_t *out, const cmn_msg_t *m, int64_t seq)
{
    const s_opts_t *o = out->o;
    if (strncmp(m->type, o->prefix, strlen(o->prefix)) != 0)
        return 0;
    char *line = o->csv ? s_event_csv(m, seq) : s_event_json(m, seq);
    if (line == NULL) {
        out->code = s_fail(CMN_EXIT_SOFTWARE, "out of memory", NULL);
        return -1;
    }
    int w = fputs(line, stdout) < 0 || fputc('\n', stdout) == EOF || fflush(stdout) != 0;
    free(line);
    if (w) {
        out->code = errno == EPIPE ? CMN_EXIT_OK
                                   : s_fail(CMN_EXIT_SOFTWARE, "cannot write", strerror(errno));
        return -1;
    }
    return o->count && ++out->seen >= o->count;
}

static int s_replayed(void *arg, int64_t seq, const cmn_msg_t *ev)
{
    s_out_t *out = arg;
    out->last_seq = seq;
    if (ev->ts >= out->recent_ms)
        cmn_keyset_add(out->ids, ev->id); /* full: older ones will not come live */
    return s_print(out, ev, seq);
}

/* Replay the store from the cursor until it is read to the end. 0, 1
 * (--count reached), -1 (out->code set). */
static int s_replay(s_out_t *out)
{
    const s_opts_t *o = out->o;
    cmn_settings_t st;
    cmn_store_t *store = NULL;
    char *err = NULL, *url = NULL, msg[256], shown[1024];
    int r;

    if (cmn_settings_load(&st, &err) < 0) {
        out->code = s_fail(CMN_EXIT_CONFIG, "bad configuration", err);
        free(err);
        return -1;
    }
    url = cmn_settings_store_url(&st);
    cmn_settings_free(&st);
    if (url == NULL) {
        out->code = s_fail(CMN_EXIT_SOFTWARE, "out of memory", NULL);
        return -1;
    }
    r = cmn_store_open(url, &store, msg, sizeof(msg));
    if (r < 0) {
        cmn_store_url_redact(url, shown, sizeof(shown));
        free(url);
        fprintf(stderr, "ciu-tap: cannot open the store %s: %s\n", shown, msg);
        out->code = CMN_EXIT_UNAVAILABLE;
        return -1;
    }
    free(url);
    out->last_seq = o->since_seq;
    for (;;) {
        int64_t before = out->last_seq;
        r = cmn_events_read(store, out->last_seq, o->since_ms, S_PAGE, s_replayed, out);
        if (r != 0 || out->last_seq == before)
            break;
    }
    if (r < 0 && r != -1) {
        fprintf(stderr, "ciu-tap: cannot read the events: %s\n", cmn_store_errmsg(store));
        out->code = CMN_EXIT_UNAVAILABLE;
        r = -1;
    }
    cmn_store_destroy(&store);
    if (r == 0)
        fprintf(stderr, "ciu-tap: replayed up to seq %lld\n", (long long)out->last_seq);
    return r;
}

static int s_tap(cmn_sub_t *sub, s_out_t *out)
{
    const s_opts_t *o = out->o;
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
        if (out->ids && cmn_keyset_find(out->ids, m.id) >= 0)
            continue; /* already replayed */
        last = cmn_mono_ms();
        r = s_print(out, &m, 0);
        if (r != 0)
            return r < 0 ? out->code : CMN_EXIT_OK;
    }
    return CMN_EXIT_OK;
}

/* The replay (when asked), then the live events. */
static int s_follow(cmn_sub_t *sub, const s_opts_t *o)
{
    s_out_t out = {.o = o, .recent_ms = cmn_now_ms() - S_SWITCH_MS};
    int r = 0, code;

    if (o->csv &&
        (fputs(s_csv_header, stdout) < 0 || fputc('\n', stdout) == EOF || fflush(stdout) != 0))
        return errno == EPIPE ? CMN_EXIT_OK : s_fail(CMN_EXIT_SOFTWARE, "cannot write", NULL);
    if (o->replay) {
        out.ids = cmn_keyset_new(S_SWITCH_IDS);
        if (out.ids == NULL)
            return s_fail(CMN_EXIT_SOFTWARE, "out of memory", NULL);
        r = s_replay(&out);
    }
    if (r < 0)
        code = out.code;
    else if (r > 0 || !o->follow)
        code = CMN_EXIT_OK;
    else
        code = s_tap(sub, &out);
    cmn_keyset_destroy(&out.ids);
    return code;
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
    code = s_follow(sub, o);
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
