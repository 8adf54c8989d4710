/* admin_export: `ciu-admin export` (see admin_export.h). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admin_export.h"
#include "admin_i18n.h"
#include "admin_util.h"
#include "common/cmn_daemon.h"
#include "common/cmn_str.h"

#define S_PAGE 2000 /* registry rows read per query */
#define S_LINE_MAX 4096

static const char s_usage[] =
    "usage: ciu-admin export [--since YYYY-MM-DD] [--output FILE]\n"
    "The registry as CSV with a header line: ciu, city, gender, birth_year_digit,\n"
    "first_requested, last_requested, request_count, dhis2_status,\n"
    "dhis2_tracked_entity. No phone number, no answer. --since: CIUs first requested\n"
    "on or after that day (UTC). --output: write FILE instead of the standard output.\n";

static const char s_header[] = "ciu,city,gender,birth_year_digit,first_requested,"
                               "last_requested,request_count,dhis2_status,"
                               "dhis2_tracked_entity\r\n";

int admin_csv_field(cmn_str_t *out, const char *value)
{
    const char *v = value ? value : "";
    if (strpbrk(v, ",\"\r\n") == NULL)
        return cmn_str_appends(out, v);
    int r = cmn_str_appends(out, "\"");
    for (const char *p = v; r == 0 && *p; p++)
        r = *p == '"' ? cmn_str_appends(out, "\"\"") : cmn_str_append(out, p, 1);
    return r == 0 ? cmn_str_appends(out, "\"") : r;
}

int admin_parse_day(const char *s, int64_t *ret_ms)
{
    struct tm tm;
    char *end;
    memset(&tm, 0, sizeof(tm));
    if (s == NULL || strlen(s) != 10)
        return -EINVAL;
    end = strptime(s, "%Y-%m-%d", &tm);
    if (end == NULL || *end != '\0')
        return -EINVAL;
    int mday = tm.tm_mday, mon = tm.tm_mon;
    time_t t = timegm(&tm);
    if (t == (time_t)-1 || tm.tm_mday != mday || tm.tm_mon != mon) /* 2026-02-30 */
        return -EINVAL;
    *ret_ms = (int64_t)t * 1000;
    return 0;
}

static void s_day(int64_t ms, char out[11])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (ms <= 0 || gmtime_r(&t, &tm) == NULL || strftime(out, 11, "%Y-%m-%d", &tm) == 0)
        out[0] = '\0';
}

/* One registry row as a CSV line. */
static int s_line(cmn_str_t *o, const cmn_rows_t *rows, int i)
{
    const char *ciu = cmn_rows_get(rows, i, 0);
    char city[3] = "", gender[2] = "", digit[2] = "", first[11], last[11];
    if (ciu && strlen(ciu) == 10) {
        memcpy(city, ciu + 7, 2);
        gender[0] = ciu[9];
        digit[0] = ciu[6];
    }
    s_day(cmn_rows_int(rows, i, 1, 0), first);
    s_day(cmn_rows_int(rows, i, 2, 0), last);
    const char *fields[] = {ciu,
                            city,
                            gender,
                            digit,
                            first,
                            last,
                            cmn_rows_get(rows, i, 3),
                            cmn_rows_get(rows, i, 4),
                            cmn_rows_get(rows, i, 5)};
    int r = 0;
    for (size_t k = 0; r == 0 && k < sizeof(fields) / sizeof(fields[0]); k++) {
        if (k > 0)
            r = cmn_str_appends(o, ",");
        if (r == 0)
            r = admin_csv_field(o, fields[k]);
    }
    return r == 0 ? cmn_str_appends(o, "\r\n") : r;
}

static int s_write(cmn_store_t *st, int64_t since, FILE *f, int64_t *ret_n)
{
    char after[16] = "";
    cmn_str_t line = CMN_STR_INIT(S_LINE_MAX);
    int64_t n = 0;
    if (fputs(s_header, f) == EOF)
        return -EIO;
    for (;;) {
        cmn_rows_t *rows = NULL;
        cmn_param_t p[] = {P_INT(since), P_TEXT(after), P_INT(S_PAGE)};
        if (cmn_store_query(st,
                            "SELECT r.ciu, r.first_ms, r.last_ms, r.request_count, s.status, "
                            "s.te_uid FROM registry r LEFT JOIN dhis2_sync s ON s.ciu = r.ciu "
                            "WHERE r.first_ms >= $1 AND r.ciu > $2 ORDER BY r.ciu LIMIT $3",
                            p, 3, &rows) < 0) {
            cmn_str_free(&line);
            return -ENOTCONN;
        }
        int count = cmn_rows_count(rows);
        for (int i = 0; i < count; i++) {
            cmn_str_reset(&line);
            if (s_line(&line, rows, i) < 0 || fputs(cmn_str_cstr(&line), f) == EOF) {
                cmn_rows_destroy(&rows);
                cmn_str_free(&line);
                return -EIO;
            }
            n++;
        }
        if (count > 0)
            cmn_strlcpy(after, cmn_rows_get(rows, count - 1, 0), sizeof(after));
        cmn_rows_destroy(&rows);
        if (count < S_PAGE)
            break;
    }
    cmn_str_free(&line);
    *ret_n = n;
    return 0;
}

int admin_export_main(int argc, char **argv)
{
    static const struct option longopts[] = {{"since", required_argument, NULL, 's'},
                                             {"output", required_argument, NULL, 'o'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *output = NULL;
    int64_t since = 0, n = 0;
    admin_db_t db;
    FILE *f = stdout;
    char *tmp = NULL;
    int c, code;

    if (admin_args_begin(argc, argv, s_usage))
        return CMN_EXIT_OK;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 's') {
            if (admin_parse_day(optarg, &since) < 0)
                return admin_fail(CMN_EXIT_USAGE,
                                  "export: --since wants a day as YYYY-MM-DD, "
                                  "not '%s'",
                                  optarg);
        } else if (c == 'o') {
            output = optarg;
        } else {
            return admin_fail(CMN_EXIT_USAGE, "export: unknown option '%s' (see --help)",
                              argv[optind - 1]);
        }
    }
    if (optind != argc)
        return admin_fail(CMN_EXIT_USAGE, "export takes no argument (see --help)");
    code = admin_db_ready(&db);
    if (code != CMN_EXIT_OK)
        goto out;
    if (output) {
        cmn_str_t t = CMN_STR_INIT(8192);
        int fd = -1;
        if (cmn_str_printf(&t, "%s.tmp.%ld", output, (long)getpid()) == 0)
            fd = open(cmn_str_cstr(&t), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
        tmp = cmn_str_steal(&t);
        f = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (f == NULL) {
            if (fd >= 0)
                close(fd);
            code = admin_fail(ADMIN_EXIT_CANTCREAT, "export: cannot write '%s': %s", output,
                              strerror(errno));
            goto out;
        }
    }
    int r = s_write(db.store, since, f, &n);
    if (r == -ENOTCONN)
        code = admin_store_fail(db.store, "read the registry");
    else if (r < 0 || fflush(f) != 0 || (output && fsync(fileno(f)) != 0))
        code = admin_fail(ADMIN_EXIT_CANTCREAT, "export: cannot write: %s", strerror(errno));
    if (output) {
        if (fclose(f) != 0 && code == CMN_EXIT_OK)
            code = admin_fail(ADMIN_EXIT_CANTCREAT, "export: cannot write: %s", strerror(errno));
        if (code == CMN_EXIT_OK && rename(tmp, output) != 0)
            code = admin_fail(ADMIN_EXIT_CANTCREAT, "export: cannot write '%s': %s", output,
                              strerror(errno));
        if (code != CMN_EXIT_OK)
            unlink(tmp);
        else
            fprintf(stderr, admin_tr("ciu-admin: %lld CIUs written to %s\n"), (long long)n, output);
    }
out:
    free(tmp);
    admin_db_close(&db);
    return code;
}
