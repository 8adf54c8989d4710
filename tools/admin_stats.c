/* admin_stats: the `ciu-admin stats` report. See admin_stats.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common/cmn_daemon.h"
#include "common/cmn_msg.h"
#include "common/cmn_stats.h"
#include "common/cmn_store.h"

#include "admin_stats.h"
#include "admin_util.h"

#define S_LABEL_WIDTH 36
#define S_DAYS_SHOWN 7

/* Every text of the report, in English and French. */
enum {
    T_TITLE,
    T_REG,
    T_REG_TOTAL,
    T_REG_REQUESTS,
    T_REG_TODAY,
    T_PER_DAY,
    T_PER_WEEK,
    T_BY_CITY,
    T_BY_GENDER,
    T_G1,
    T_G2,
    T_G3,
    T_G4,
    T_CONV,
    T_STARTED,
    T_COMPLETED,
    T_ABANDONED,
    T_MEDIAN,
    T_GAVE_UP,
    T_Q0,
    T_Q1,
    T_Q2,
    T_Q3,
    T_Q4,
    T_Q5,
    T_Q6,
    T_DUPS,
    T_DUPS_OPEN,
    T_DUPS_REVIEWED,
    T_DHIS2,
    T_SYNCED,
    T_PENDING,
    T_FAILED,
    T_OLDEST,
    T_LAST_ERROR,
    T_DELIVERY,
    T_WAITING,
    T_SENT,
    T_DELIVERED,
    T_READ,
    T_FAILURES,
    T_PIPELINE,
    T_LATE,
    T_OK,
    T_NONE,
    T_COUNT
};

static const char *const s_en[T_COUNT] = {
    "ciu statistics",
    "Registrations",
    "CIUs registered",
    "requests (a CIU asked again counts)",
    "registered today",
    "per day",
    "per week (week starting)",
    "by city code",
    "by gender",
    "1 male",
    "2 female",
    "3 trans",
    "4 other",
    "Conversations",
    "started",
    "completed",
    "abandoned",
    "median time to complete",
    "gave up at the question",
    "last name",
    "first name",
    "birth year",
    "city",
    "gender",
    "confirmation",
    "other",
    "Potential duplicates",
    "waiting for review",
    "reviewed",
    "DHIS2 enrolment",
    "synced",
    "pending",
    "failed",
    "oldest pending",
    "last error",
    "Delivery of replies",
    "waiting",
    "sent (accepted by the provider)",
    "delivered",
    "read",
    "failures by provider error code",
    "Pipeline (queue: depth, oldest item)",
    "LATE",
    "ok",
    "none",
};

static const char *const s_fr[T_COUNT] = {
    "statistiques ciu",
    "Inscriptions",
    "CIU enregistrés",
    "demandes (un CIU redemandé compte)",
    "enregistrés aujourd'hui",
    "par jour",
    "par semaine (semaine du)",
    "par code de ville",
    "par genre",
    "1 homme",
    "2 femme",
    "3 trans",
    "4 autre",
    "Conversations",
    "commencées",
    "terminées",
    "abandonnées",
    "durée médiane pour terminer",
    "abandon à la question",
    "nom",
    "prénom",
    "année de naissance",
    "ville",
    "genre",
    "confirmation",
    "autre",
    "Doublons potentiels",
    "à examiner",
    "examinés",
    "Inscription DHIS2",
    "synchronisés",
    "en attente",
    "en échec",
    "plus ancien en attente",
    "dernière erreur",
    "Remise des réponses",
    "en attente",
    "envoyées (acceptées par le fournisseur)",
    "remises",
    "lues",
    "échecs par code d'erreur du fournisseur",
    "Chaîne de traitement (file : taille, plus ancien)",
    "EN RETARD",
    "ok",
    "aucun",
};

static const char *const *s_t = s_en;

static bool s_french(void)
{
    static const char *const vars[] = {"LC_ALL", "LC_MESSAGES", "LANG"};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        const char *v = getenv(vars[i]);
        if (v && *v)
            return strncmp(v, "fr", 2) == 0;
    }
    return false;
}

/* Print "  label....value": the label padded to a width in characters
 * (UTF-8: continuation bytes take no column). */
static void s_row(const char *label, const char *value)
{
    int cols = 0;
    for (const char *p = label; *p; p++)
        if (((unsigned char)*p & 0xC0) != 0x80)
            cols++;
    printf("  %s", label);
    for (int i = cols; i < S_LABEL_WIDTH; i++)
        putchar(' ');
    printf(" %s\n", value);
}

static void s_row_int(const char *label, json_t *v)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
    s_row(label, buf);
}

/* A duration in seconds as "1 h 02 min", "3 min 05 s", "12 s", "0.4 s". */
static void s_duration(json_t *v, char *out, size_t len)
{
    if (!json_is_number(v)) {
        snprintf(out, len, "-");
        return;
    }
    double d = json_number_value(v);
    long long s = (long long)(d + 0.5);
    if (d < 10)
        snprintf(out, len, "%.1f s", d);
    else if (s >= 3600)
        snprintf(out, len, "%lld h %02lld min", s / 3600, (s % 3600) / 60);
    else if (s >= 60)
        snprintf(out, len, "%lld min %02lld s", s / 60, s % 60);
    else
        snprintf(out, len, "%lld s", s);
}

static void s_print_registrations(json_t *reg)
{
    json_t *days = json_object_get(reg, "per_day"), *v;
    size_t i, n = json_array_size(days);
    char label[64], buf[32];

    printf("%s\n", s_t[T_REG]);
    s_row_int(s_t[T_REG_TOTAL], json_object_get(reg, "total"));
    s_row_int(s_t[T_REG_REQUESTS], json_object_get(reg, "requests"));
    s_row_int(s_t[T_REG_TODAY], json_object_get(reg, "today"));
    printf("  %s\n", s_t[T_PER_DAY]);
    for (i = n > S_DAYS_SHOWN ? n - S_DAYS_SHOWN : 0; i < n; i++) {
        v = json_array_get(days, i);
        snprintf(label, sizeof(label), "  %s", json_string_value(json_object_get(v, "day")));
        s_row_int(label, json_object_get(v, "count"));
    }
    printf("  %s\n", s_t[T_PER_WEEK]);
    json_array_foreach(json_object_get(reg, "per_week"), i, v)
    {
        snprintf(label, sizeof(label), "  %s", json_string_value(json_object_get(v, "week")));
        s_row_int(label, json_object_get(v, "count"));
    }
    printf("  %s\n", s_t[T_BY_CITY]);
    if (json_array_size(json_object_get(reg, "by_city")) == 0)
        s_row("  -", s_t[T_NONE]);
    json_array_foreach(json_object_get(reg, "by_city"), i, v)
    {
        snprintf(label, sizeof(label), "  %s", json_string_value(json_object_get(v, "city")));
        s_row_int(label, json_object_get(v, "count"));
    }
    printf("  %s\n", s_t[T_BY_GENDER]);
    json_array_foreach(json_object_get(reg, "by_gender"), i, v)
    {
        const char *code = json_string_value(json_object_get(v, "gender"));
        int g = code && code[0] >= '1' && code[0] <= '4' ? code[0] - '0' : 0;
        snprintf(label, sizeof(label), "  %s", g >= 1 && g <= 4 ? s_t[T_G1 + g - 1] : "?");
        snprintf(buf, sizeof(buf), "%lld",
                 (long long)json_integer_value(json_object_get(v, "count")));
        s_row(label, buf);
    }
}

static void s_print_conversations(json_t *c, int days)
{
    json_t *v;
    size_t i;
    char title[96], buf[32], label[64];

    if (s_t == s_fr)
        snprintf(title, sizeof(title), "%s (%d derniers jours)", s_t[T_CONV], days);
    else
        snprintf(title, sizeof(title), "%s (last %d days)", s_t[T_CONV], days);
    printf("%s\n", title);
    s_row_int(s_t[T_STARTED], json_object_get(c, "started"));
    s_row_int(s_t[T_COMPLETED], json_object_get(c, "completed"));
    s_row_int(s_t[T_ABANDONED], json_object_get(c, "abandoned"));
    s_duration(json_object_get(c, "median_completion_s"), buf, sizeof(buf));
    s_row(s_t[T_MEDIAN], buf);
    printf("  %s\n", s_t[T_GAVE_UP]);
    json_array_foreach(json_object_get(c, "abandoned_at"), i, v)
    {
        if (i > 6)
            break;
        snprintf(label, sizeof(label), "  %s", s_t[T_Q0 + i]);
        s_row_int(label, json_object_get(v, "abandoned"));
    }
}

static void s_print_dhis2(json_t *d)
{
    json_t *last = json_object_get(d, "last_error");
    json_t *age = json_object_get(d, "oldest_pending_age_s");
    char buf[600];

    printf("%s\n", s_t[T_DHIS2]);
    s_row_int(s_t[T_SYNCED], json_object_get(d, "synced"));
    s_row_int(s_t[T_PENDING], json_object_get(d, "pending"));
    s_row_int(s_t[T_FAILED], json_object_get(d, "failed"));
    s_duration(age, buf, sizeof(buf));
    s_row(s_t[T_OLDEST], buf);
    if (json_is_object(last)) {
        const char *codes = json_string_value(json_object_get(last, "error_codes"));
        const char *msg = json_string_value(json_object_get(last, "message"));
        snprintf(buf, sizeof(buf), "HTTP %lld %s %.400s",
                 (long long)json_integer_value(json_object_get(last, "http_status")),
                 codes ? codes : "", msg ? msg : "");
        s_row(s_t[T_LAST_ERROR], buf);
    } else {
        s_row(s_t[T_LAST_ERROR], s_t[T_NONE]);
    }
}

static void s_print_delivery(json_t *d)
{
    json_t *v;
    size_t i;
    char label[96];

    printf("%s\n", s_t[T_DELIVERY]);
    s_row_int(s_t[T_WAITING], json_object_get(d, "waiting"));
    s_row_int(s_t[T_SENT], json_object_get(d, "sent"));
    s_row_int(s_t[T_DELIVERED], json_object_get(d, "delivered"));
    s_row_int(s_t[T_READ], json_object_get(d, "read"));
    s_row_int(s_t[T_FAILED], json_object_get(d, "failed"));
    printf("  %s\n", s_t[T_FAILURES]);
    if (json_array_size(json_object_get(d, "failures")) == 0)
        s_row("  -", s_t[T_NONE]);
    json_array_foreach(json_object_get(d, "failures"), i, v)
    {
        snprintf(label, sizeof(label), "  %s %s", json_string_value(json_object_get(v, "channel")),
                 json_string_value(json_object_get(v, "code")));
        s_row_int(label, json_object_get(v, "count"));
    }
}

static void s_print_pipeline(json_t *p)
{
    json_t *v;
    size_t i;
    char label[96], buf[96], age[32];

    printf("%s\n", s_t[T_PIPELINE]);
    json_array_foreach(json_object_get(p, "queues"), i, v)
    {
        bool late = strcmp(json_string_value(json_object_get(v, "state")), "late") == 0;
        snprintf(label, sizeof(label), "%s -> %s", json_string_value(json_object_get(v, "queue")),
                 json_string_value(json_object_get(v, "stage")));
        s_duration(json_object_get(v, "oldest_age_s"), age, sizeof(age));
        snprintf(buf, sizeof(buf), "%lld, %s  %s",
                 (long long)json_integer_value(json_object_get(v, "depth")), age,
                 late ? s_t[T_LATE] : s_t[T_OK]);
        s_row(label, buf);
    }
}

int admin_stats(cmn_store_t *store, bool json)
{
    cmn_stats_opts_t o;
    json_t *j = NULL;
    char when[32];
    int r;

    cmn_stats_opts_init(&o, cmn_now_ms());
    r = cmn_stats_collect(store, &o, &j);
    if (r < 0)
        return admin_fail(r == -ENOMEM ? CMN_EXIT_SOFTWARE : CMN_EXIT_UNAVAILABLE,
                          "cannot read the figures: %s",
                          r == -ENOMEM ? "out of memory" : cmn_store_errmsg(store));
    if (json)
        return admin_print_json(j);
    s_t = s_french() ? s_fr : s_en;
    time_t t = (time_t)(o.now_ms / 1000);
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm) == 0)
        snprintf(when, sizeof(when), "?");
    printf("%s, %s\n\n", s_t[T_TITLE], when);
    s_print_registrations(json_object_get(j, "registrations"));
    putchar('\n');
    s_print_conversations(json_object_get(j, "conversations"), o.days);
    putchar('\n');
    printf("%s\n", s_t[T_DUPS]);
    s_row_int(s_t[T_DUPS_OPEN], json_object_get(json_object_get(j, "duplicates"), "open"));
    s_row_int(s_t[T_DUPS_REVIEWED], json_object_get(json_object_get(j, "duplicates"), "reviewed"));
    putchar('\n');
    s_print_dhis2(json_object_get(j, "dhis2"));
    putchar('\n');
    s_print_delivery(json_object_get(j, "delivery"));
    putchar('\n');
    s_print_pipeline(json_object_get(j, "pipeline"));
    json_decref(j);
    return CMN_EXIT_OK;
}
