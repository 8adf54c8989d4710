/* cmn_stats: the programme's figures from the store. See cmn_stats.h and
 * docs/dashboard.md. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common/cmn_msg.h"
#include "common/cmn_stats.h"
#include "common/cmn_store.h"
#include "common/cmn_str.h"

#define S_DAY_MS INT64_C(86400000)
#define S_DAYS_MAX 366
#define S_WEEKS_MAX 104
#define S_CITIES_MAX 700 /* 26 * 26 city codes */
#define S_FAILURES_MAX 50

const char *const cmn_stats_questions[6] = {"last_name", "first_name", "birth_year",
                                            "city",      "gender",     "confirm"};

void cmn_stats_opts_init(cmn_stats_opts_t *o, int64_t now_ms)
{
    o->now_ms = now_ms;
    o->days = CMN_STATS_DAYS;
    o->weeks = CMN_STATS_WEEKS;
    o->stall_ms = CMN_STATS_STALL_MS;
}

/* ---- helpers ------------------------------------------------------------ */

/* Set key to a new value; false when out of memory (the value is freed). */
static bool s_set(json_t *o, const char *key, json_t *v)
{
    return v != NULL && json_object_set_new(o, key, v) == 0;
}

static bool s_append(json_t *a, json_t *v)
{
    return v != NULL && json_array_append_new(a, v) == 0;
}

/* "YYYY-MM-DD" of a UTC day number (days since the epoch). */
static void s_day_label(int64_t day, char out[16])
{
    time_t t = (time_t)(day * 86400);
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || strftime(out, 16, "%Y-%m-%d", &tm) == 0)
        cmn_strlcpy(out, "?", 16);
}

/* Monday on or before day (1970-01-01, day 0, was a Thursday). */
static int64_t s_monday(int64_t day)
{
    return day - (day + 3) % 7;
}

static json_t *s_text_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* The rows of a query as an array of objects, column k under keys[k]; a
 * key starting with '#' holds an integer (the '#' left out), any other
 * text or null. NULL when out of memory. */
static json_t *s_objects(const cmn_rows_t *rows, const char *const *keys, int nkeys)
{
    json_t *arr = json_array();
    for (int i = 0; arr && i < cmn_rows_count(rows); i++) {
        json_t *o = json_object();
        bool ok = s_append(arr, o);
        for (int k = 0; ok && k < nkeys; k++)
            ok = keys[k][0] == '#'
                     ? s_set(o, keys[k] + 1, json_integer(cmn_rows_int(rows, i, k, 0)))
                     : s_set(o, keys[k], s_text_or_null(cmn_rows_get(rows, i, k)));
        if (!ok) {
            json_decref(arr);
            arr = NULL;
        }
    }
    return arr;
}

/* n counts, one a step days apart from first_day, as [{key: "YYYY-MM-DD",
 * "count": n}, ...]. NULL when out of memory. */
static json_t *s_series(const char *key, int64_t first_day, int step, const int64_t *counts, int n)
{
    json_t *arr = json_array();
    for (int i = 0; arr && i < n; i++) {
        char label[16];
        s_day_label(first_day + (int64_t)step * i, label);
        if (!s_append(arr, json_pack("{s:s, s:I}", key, label, "count", (json_int_t)counts[i]))) {
            json_decref(arr);
            arr = NULL;
        }
    }
    return arr;
}

/* Rows of (name, count): counts[k] = the count of names[k] (0 if absent);
 * names not listed add to counts[n] when other is set. */
static void s_counts(const cmn_rows_t *rows, const char *const *names, int n, bool other,
                     int64_t *counts)
{
    for (int i = 0; i < cmn_rows_count(rows); i++) {
        const char *name = cmn_rows_get(rows, i, 0);
        int k = 0;
        while (k < n && !(name && strcmp(name, names[k]) == 0))
            k++;
        if (k < n || other)
            counts[k] += cmn_rows_int(rows, i, 1, 0);
    }
}

/* One integer from a query; the store's error on failure. */
static int s_int(cmn_store_t *st, const char *sql, const cmn_param_t *p, int n, int64_t *ret)
{
    return cmn_store_query_int(st, sql, p, n, 0, ret);
}

/* Age in seconds of the oldest item (min_ms 0 or NULL: none) as JSON. */
static json_t *s_age(int64_t now_ms, int64_t min_ms)
{
    if (min_ms <= 0)
        return json_null();
    return json_integer(now_ms > min_ms ? (now_ms - min_ms) / 1000 : 0);
}

/* Does s[0..9] have the shape of a CIU (6 letters, digit, 2 letters, 1-4)? */
static bool s_ciu_at(const char *s)
{
    for (int i = 0; i < 10; i++) {
        char c = s[i];
        bool ok = i == 6   ? (c >= '0' && c <= '9')
                  : i == 9 ? (c >= '1' && c <= '4')
                           : (c >= 'A' && c <= 'Z');
        if (!ok)
            return false;
    }
    return true;
}

/* A copy of msg with every CIU-shaped word replaced by "[CIU]" (a DHIS2
 * error can quote the attribute value). NULL when msg is NULL or no memory. */
static char *s_mask_cius(const char *msg)
{
    cmn_str_t s = CMN_STR_INIT(4096);
    size_t n;
    char *out;

    if (msg == NULL)
        return NULL;
    n = strlen(msg);
    for (size_t i = 0; i < n;) {
        bool start = i == 0 || !((msg[i - 1] >= 'A' && msg[i - 1] <= 'Z') ||
                                 (msg[i - 1] >= '0' && msg[i - 1] <= '9'));
        if (start && n - i >= 10 && s_ciu_at(msg + i) &&
            (n - i == 10 || !((msg[i + 10] >= 'A' && msg[i + 10] <= 'Z') ||
                              (msg[i + 10] >= '0' && msg[i + 10] <= '9')))) {
            if (cmn_str_appends(&s, "[CIU]") < 0)
                break;
            i += 10;
            continue;
        }
        if (cmn_str_append(&s, msg + i, 1) < 0)
            break;
        i++;
    }
    out = strdup(cmn_str_cstr(&s));
    cmn_str_free(&s);
    return out;
}

/* ---- registrations ------------------------------------------------------ */

static const char *const s_genders[4] = {"1", "2", "3", "4"};

static int s_registrations(cmn_store_t *st, const cmn_stats_opts_t *o, json_t *out)
{
    int64_t today = o->now_ms / S_DAY_MS;
    int64_t first_day = today - (o->days - 1);
    int64_t first_week = s_monday(today) - 7 * (o->weeks - 1);
    int64_t from = first_day < first_week ? first_day : first_week;
    int64_t per_day[S_DAYS_MAX] = {0}, per_week[S_WEEKS_MAX] = {0}, total = 0, requests = 0;
    int64_t by_gender[4] = {0, 0, 0, 0};
    cmn_param_t p[] = {P_INT(from * S_DAY_MS)};
    cmn_rows_t *rows = NULL;
    json_t *days = NULL, *weeks = NULL, *cities = NULL, *genders = NULL;
    int r;

    r = cmn_store_query(st,
                        "SELECT first_ms / 86400000, COUNT(*) FROM registry WHERE first_ms >= $1 "
                        "GROUP BY first_ms / 86400000",
                        p, 1, &rows);
    if (r < 0)
        return r;
    for (int i = 0; i < cmn_rows_count(rows); i++) {
        int64_t day = cmn_rows_int(rows, i, 0, -1), n = cmn_rows_int(rows, i, 1, 0);
        if (day >= first_day && day <= today)
            per_day[day - first_day] += n;
        if (day >= first_week && day <= today)
            per_week[(day - first_week) / 7] += n;
    }
    cmn_rows_destroy(&rows);
    r = cmn_store_query(st, "SELECT COUNT(*), COALESCE(SUM(request_count), 0) FROM registry", NULL,
                        0, &rows);
    if (r < 0)
        return r;
    total = cmn_rows_int(rows, 0, 0, 0);
    requests = cmn_rows_int(rows, 0, 1, 0);
    cmn_rows_destroy(&rows);

    r = -ENOMEM;
    days = s_series("day", first_day, 1, per_day, o->days);
    weeks = s_series("week", first_week, 7, per_week, o->weeks);
    if (days == NULL || weeks == NULL)
        goto out;
    /* city code: characters 8-9 of the CIU; gender: character 10 */
    r = cmn_store_query(st,
                        "SELECT substr(ciu, 8, 2), COUNT(*) FROM registry GROUP BY substr(ciu, "
                        "8, 2) ORDER BY 2 DESC, 1 LIMIT 700",
                        NULL, 0, &rows);
    if (r < 0)
        goto out;
    r = -ENOMEM;
    cities = s_objects(rows, (const char *const[]){"city", "#count"}, 2);
    cmn_rows_destroy(&rows);
    r = cmn_store_query(st,
                        "SELECT substr(ciu, 10, 1), COUNT(*) FROM registry GROUP BY substr(ciu, "
                        "10, 1)",
                        NULL, 0, &rows);
    if (r < 0)
        goto out;
    r = -ENOMEM;
    s_counts(rows, s_genders, 4, false, by_gender);
    genders = json_array();
    for (int g = 0; genders && g < 4; g++)
        if (!s_append(genders, json_pack("{s:s, s:I}", "gender", s_genders[g], "count",
                                         (json_int_t)by_gender[g])))
            goto out;
    if (cities == NULL || genders == NULL)
        goto out;
    if (!s_set(out, "registrations",
               json_pack("{s:I, s:I, s:I, s:O, s:O, s:O, s:O}", "total", (json_int_t)total,
                         "requests", (json_int_t)requests, "today",
                         (json_int_t)per_day[o->days - 1], "per_day", days, "per_week", weeks,
                         "by_city", cities, "by_gender", genders)))
        goto out;
    r = 0;
out:
    cmn_rows_destroy(&rows);
    json_decref(days);
    json_decref(weeks);
    json_decref(cities);
    json_decref(genders);
    return r;
}

/* ---- conversations (events) --------------------------------------------- */

/* The median of duration_ms over the completed conversations since
 * since_ms: the middle row (or the mean of the two middle rows) in order,
 * read with OFFSET so no row list is kept. *ret_n: how many. */
static int s_median_duration(cmn_store_t *st, int64_t since_ms, json_t **ret, int64_t *ret_n)
{
    static const char count_sql[] = "SELECT COUNT(*) FROM events WHERE type = $1 AND ts_ms >= $2 "
                                    "AND duration_ms > 0";
    static const char nth_sql[] = "SELECT duration_ms FROM events WHERE type = $1 AND ts_ms >= "
                                  "$2 AND duration_ms > 0 ORDER BY duration_ms LIMIT 1 OFFSET $3";
    cmn_param_t p[] = {P_TEXT(CMN_EV_CONV_COMPLETED), P_INT(since_ms), P_INT(0)};
    int64_t n = 0, lo = 0, hi = 0;
    int r = s_int(st, count_sql, p, 2, &n);

    if (r < 0)
        return r;
    if (n == 0) {
        *ret = json_null();
        *ret_n = 0;
        return 0;
    }
    p[2] = P_INT((n - 1) / 2);
    r = s_int(st, nth_sql, p, 3, &lo);
    p[2] = P_INT(n / 2);
    if (r == 0)
        r = s_int(st, nth_sql, p, 3, &hi);
    if (r < 0)
        return r;
    *ret = json_real(((double)lo + (double)hi) / 2 / 1000.0);
    *ret_n = n;
    return *ret ? 0 : -ENOMEM;
}

static int s_conversations(cmn_store_t *st, const cmn_stats_opts_t *o, json_t *out)
{
    int64_t since = (o->now_ms / S_DAY_MS - (o->days - 1)) * S_DAY_MS;
    int64_t counts[3] = {0, 0, 0}, at[7] = {0}, nd = 0;
    static const char *const types[3] = {CMN_EV_CONV_STARTED, CMN_EV_CONV_COMPLETED,
                                         CMN_EV_CONV_ABANDONED};
    cmn_param_t p[] = {P_TEXT(types[0]), P_TEXT(types[1]), P_TEXT(types[2]), P_INT(since)};
    cmn_param_t pa[] = {P_TEXT(CMN_EV_CONV_ABANDONED), P_INT(since)};
    cmn_rows_t *rows = NULL;
    json_t *funnel = NULL, *median = NULL;
    int r;

    r = cmn_store_query(st,
                        "SELECT type, COUNT(*) FROM events WHERE type IN ($1, $2, $3) AND ts_ms "
                        ">= $4 GROUP BY type",
                        p, 4, &rows);
    if (r < 0)
        return r;
    s_counts(rows, types, 3, false, counts);
    cmn_rows_destroy(&rows);

    /* where people gave up: the question an abandoned conversation was at */
    r = cmn_store_query(st,
                        "SELECT detail, COUNT(*) FROM events WHERE type = $1 AND ts_ms >= $2 "
                        "GROUP BY detail",
                        pa, 2, &rows);
    if (r < 0)
        return r;
    s_counts(rows, cmn_stats_questions, 6, true, at); /* at[6]: not one of the questions */
    cmn_rows_destroy(&rows);

    r = s_median_duration(st, since, &median, &nd);
    if (r < 0)
        return r;
    r = -ENOMEM;
    funnel = json_array();
    if (funnel == NULL)
        goto out;
    for (int k = 0; k < 7; k++)
        if (!s_append(funnel,
                      json_pack("{s:s, s:I}", "question", k < 6 ? cmn_stats_questions[k] : "other",
                                "abandoned", (json_int_t)at[k])))
            goto out;
    if (!s_set(out, "conversations",
               json_pack("{s:I, s:I, s:I, s:O, s:O, s:I}", "started", (json_int_t)counts[0],
                         "completed", (json_int_t)counts[1], "abandoned", (json_int_t)counts[2],
                         "abandoned_at", funnel, "median_completion_s", median,
                         "completion_samples", (json_int_t)nd)))
        goto out;
    r = 0;
out:
    json_decref(funnel);
    json_decref(median);
    return r;
}

/* ---- duplicates, DHIS2 -------------------------------------------------- */

static int s_duplicate_counts(cmn_store_t *st, json_t *out)
{
    int64_t open = 0, total = 0;
    cmn_param_t p[] = {P_TEXT("open")};
    int r = s_int(st, "SELECT COUNT(*) FROM duplicates WHERE status = $1", p, 1, &open);
    if (r == 0)
        r = s_int(st, "SELECT COUNT(*) FROM duplicates", NULL, 0, &total);
    if (r < 0)
        return r;
    return s_set(out, "duplicates",
                 json_pack("{s:I, s:I}", "open", (json_int_t)open, "reviewed",
                           (json_int_t)(total - open)))
               ? 0
               : -ENOMEM;
}

static int s_dhis2(cmn_store_t *st, const cmn_stats_opts_t *o, json_t *out)
{
    static const char *const names[4] = {"queued", "pending", "synced", "failed"};
    int64_t n[4] = {0, 0, 0, 0}, oldest = 0;
    cmn_rows_t *rows = NULL;
    json_t *last = NULL, *bridges = NULL;
    char *msg = NULL;
    int r;

    r = cmn_store_query(st, "SELECT status, COUNT(*) FROM dhis2_sync GROUP BY status", NULL, 0,
                        &rows);
    if (r < 0)
        return r;
    s_counts(rows, names, 4, false, n);
    cmn_rows_destroy(&rows);
    for (int k = 0; k < 2; k++) {
        cmn_param_t p[] = {P_TEXT(names[k])};
        int64_t v = 0;
        r = s_int(st, "SELECT MIN(created_ms) FROM dhis2_sync WHERE status = $1", p, 1, &v);
        if (r < 0)
            return r;
        if (v > 0 && (oldest == 0 || v < oldest))
            oldest = v;
    }
    r = cmn_store_query(st,
                        "SELECT updated_ms, status, http_status, error_codes, last_error FROM "
                        "dhis2_sync WHERE last_error IS NOT NULL ORDER BY updated_ms DESC, id "
                        "DESC LIMIT 1",
                        NULL, 0, &rows);
    if (r < 0)
        return r;
    r = -ENOMEM;
    if (cmn_rows_count(rows) > 0) {
        msg = s_mask_cius(cmn_rows_get(rows, 0, 4));
        last =
            json_pack("{s:I, s:s, s:I, s:o, s:o}", "at_ms", (json_int_t)cmn_rows_int(rows, 0, 0, 0),
                      "status", cmn_rows_get(rows, 0, 1), "http_status",
                      (json_int_t)cmn_rows_int(rows, 0, 2, 0), "error_codes",
                      s_text_or_null(cmn_rows_get(rows, 0, 3)), "message", s_text_or_null(msg));
    } else {
        last = json_null();
    }
    cmn_rows_destroy(&rows);
    if (last == NULL)
        goto out;
    r = cmn_store_query(st, "SELECT replica, state, updated_ms FROM dhis2_bridges ORDER BY replica",
                        NULL, 0, &rows);
    if (r < 0)
        goto out;
    r = -ENOMEM;
    bridges = s_objects(rows, (const char *const[]){"replica", "state", "#seen_ms"}, 3);
    if (bridges == NULL)
        goto out;
    if (!s_set(out, "dhis2",
               json_pack("{s:I, s:I, s:I, s:o, s:O, s:O}", "synced", (json_int_t)n[2], "pending",
                         (json_int_t)(n[0] + n[1]), "failed", (json_int_t)n[3],
                         "oldest_pending_age_s", s_age(o->now_ms, oldest), "last_error", last,
                         "bridges", bridges)))
        goto out;
    r = 0;
out:
    cmn_rows_destroy(&rows);
    free(msg);
    json_decref(last);
    json_decref(bridges);
    return r;
}

/* ---- delivery ----------------------------------------------------------- */

static int s_delivery(cmn_store_t *st, json_t *out)
{
    int64_t by_status[4] = {0, 0, 0, 0}, ranks[5] = {0, 0, 0, 0, 0};
    cmn_rows_t *rows = NULL;
    json_t *failures = NULL;
    int r;

    /* outbox: 0 waiting, 1 accepted by the provider, 2 failed, 3 in flight */
    r = cmn_store_query(st, "SELECT status, COUNT(*) FROM outbox GROUP BY status", NULL, 0, &rows);
    if (r < 0)
        return r;
    for (int i = 0; i < cmn_rows_count(rows); i++) {
        int64_t s = cmn_rows_int(rows, i, 0, -1);
        if (s >= 0 && s < 4)
            by_status[s] = cmn_rows_int(rows, i, 1, 0);
    }
    cmn_rows_destroy(&rows);
    /* deliveries: the furthest status a provider reported (2 delivered, 3 read, 4 failed) */
    r = cmn_store_query(st, "SELECT status_rank, COUNT(*) FROM deliveries GROUP BY status_rank",
                        NULL, 0, &rows);
    if (r < 0)
        return r;
    for (int i = 0; i < cmn_rows_count(rows); i++) {
        int64_t k = cmn_rows_int(rows, i, 0, -1);
        if (k >= 0 && k < 5)
            ranks[k] = cmn_rows_int(rows, i, 1, 0);
    }
    cmn_rows_destroy(&rows);
    /* failures by provider error code: refused at sending, or reported later */
    r = cmn_store_query(st,
                        "SELECT channel, code, SUM(n) FROM (SELECT channel, COALESCE(error_code, "
                        "'-') AS code, COUNT(*) AS n FROM outbox WHERE status = 2 GROUP BY "
                        "channel, error_code UNION ALL SELECT channel, COALESCE(error_code, '-'), "
                        "COUNT(*) FROM deliveries WHERE status_rank = 4 GROUP BY channel, "
                        "error_code) f GROUP BY channel, code ORDER BY 3 DESC, 1, 2 LIMIT 50",
                        NULL, 0, &rows);
    if (r < 0)
        return r;
    r = -ENOMEM;
    failures = s_objects(rows, (const char *const[]){"channel", "code", "#count"}, 3);
    if (failures == NULL)
        goto out;
    if (!s_set(out, "delivery",
               json_pack("{s:I, s:I, s:I, s:I, s:I, s:O}", "waiting",
                         (json_int_t)(by_status[0] + by_status[3]), "sent",
                         (json_int_t)by_status[1], "delivered", (json_int_t)(ranks[2] + ranks[3]),
                         "read", (json_int_t)ranks[3], "failed",
                         (json_int_t)(by_status[2] + ranks[4]), "failures", failures)))
        goto out;
    r = 0;
out:
    cmn_rows_destroy(&rows);
    json_decref(failures);
    return r;
}

/* ---- pipeline ----------------------------------------------------------- */

/* One queue: the stage that works it, the table, the count and oldest. */
typedef struct {
    const char *stage; /* the daemon that empties this queue */
    const char *queue;
    const char *count_sql;
    const char *oldest_sql; /* one value: the oldest item's time (ms) */
} s_queue_t;

static const s_queue_t s_queues[] = {
    {"ciu-conversation", "inbox", "SELECT COUNT(*) FROM inbox WHERE status = 0",
     "SELECT received_ms FROM inbox WHERE status = 0 ORDER BY id LIMIT 1"},
    {"ciu-engine", "ciu_requests", "SELECT COUNT(*) FROM ciu_requests WHERE status = 0",
     "SELECT created_ms FROM ciu_requests WHERE status = 0 ORDER BY id LIMIT 1"},
    {"ciu-conversation", "ciu_done", "SELECT COUNT(*) FROM ciu_done",
     "SELECT created_ms FROM ciu_done ORDER BY id LIMIT 1"},
    {"ciu-sender", "outbox", "SELECT COUNT(*) FROM outbox WHERE status IN (0, 3)",
     "SELECT MIN(m) FROM (SELECT MIN(created_ms) AS m FROM outbox WHERE status = 0 UNION ALL "
     "SELECT MIN(created_ms) FROM outbox WHERE status = 3) o"},
    {"ciu-dhis2-bridge", "dhis2_sync", "SELECT COUNT(*) FROM dhis2_sync WHERE status = 'queued'",
     "SELECT MIN(created_ms) FROM dhis2_sync WHERE status = 'queued'"},
};

static int s_pipeline(cmn_store_t *st, const cmn_stats_opts_t *o, json_t *out)
{
    json_t *arr = json_array();
    int r = -ENOMEM;

    if (arr == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < sizeof(s_queues) / sizeof(s_queues[0]); i++) {
        const s_queue_t *q = &s_queues[i];
        int64_t depth = 0, oldest = 0;
        r = s_int(st, q->count_sql, NULL, 0, &depth);
        if (r == 0)
            r = s_int(st, q->oldest_sql, NULL, 0, &oldest);
        if (r < 0)
            goto out;
        bool late = depth > 0 && oldest > 0 && o->now_ms - oldest > o->stall_ms;
        r = -ENOMEM;
        if (!s_append(arr, json_pack("{s:s, s:s, s:I, s:o, s:s}", "stage", q->stage, "queue",
                                     q->queue, "depth", (json_int_t)depth, "oldest_age_s",
                                     s_age(o->now_ms, depth > 0 ? oldest : 0), "state",
                                     late ? "late" : "ok")))
            goto out;
    }
    if (!s_set(out, "pipeline",
               json_pack("{s:O, s:I}", "queues", arr, "late_after_s",
                         (json_int_t)(o->stall_ms / 1000))))
        goto out;
    r = 0;
out:
    json_decref(arr);
    return r;
}

/* ---- API ---------------------------------------------------------------- */

int cmn_stats_collect(cmn_store_t *st, const cmn_stats_opts_t *o, json_t **ret)
{
    json_t *j;
    int r;

    if (st == NULL || o == NULL || ret == NULL || o->days < 1 || o->days > S_DAYS_MAX ||
        o->weeks < 1 || o->weeks > S_WEEKS_MAX || o->now_ms < S_DAY_MS * 365)
        return -EINVAL;
    j = json_pack("{s:I, s:i, s:i, s:s}", "generated_ms", (json_int_t)o->now_ms, "days", o->days,
                  "weeks", o->weeks, "timezone", "UTC");
    if (j == NULL)
        return -ENOMEM;
    r = s_registrations(st, o, j);
    if (r == 0)
        r = s_conversations(st, o, j);
    if (r == 0)
        r = s_duplicate_counts(st, j);
    if (r == 0)
        r = s_dhis2(st, o, j);
    if (r == 0)
        r = s_delivery(st, j);
    if (r == 0)
        r = s_pipeline(st, o, j);
    if (r < 0) {
        json_decref(j);
        return r;
    }
    *ret = j;
    return 0;
}

int cmn_stats_duplicates(cmn_store_t *st, int limit, json_t **ret)
{
    cmn_param_t p[] = {P_TEXT("open"), P_INT(limit)};
    cmn_rows_t *rows = NULL;
    json_t *arr;
    int r;

    if (st == NULL || ret == NULL || limit < 1)
        return -EINVAL;
    r = cmn_store_query(st,
                        "SELECT id, kind, ciu, other_ciu, created_ms FROM duplicates WHERE status "
                        "= $1 ORDER BY id LIMIT $2",
                        p, 2, &rows);
    if (r < 0)
        return r;
    arr =
        s_objects(rows, (const char *const[]){"#id", "kind", "ciu", "other_ciu", "#created_ms"}, 5);
    cmn_rows_destroy(&rows);
    if (arr == NULL)
        return -ENOMEM;
    *ret = arr;
    return 0;
}

int cmn_stats_duplicate_reviewed(cmn_store_t *st, int64_t id)
{
    cmn_param_t p[] = {P_INT(id), P_TEXT("open")};
    int64_t changed = 0;
    int r;

    if (st == NULL || id < 1)
        return -EINVAL;
    r = cmn_store_exec(st,
                       "UPDATE duplicates SET status = 'reviewed' WHERE id = $1 AND status = $2", p,
                       2, &changed);
    if (r < 0)
        return r;
    return changed > 0 ? 0 : -ENOENT;
}
