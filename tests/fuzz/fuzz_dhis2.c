/* fuzz_dhis2: what a DHIS2 server (or a proxy in front of it) answers the
 * dhis2-bridge and `ciu-admin dhis2`.
 *
 * Input: one answer body. It is given to every parser of dhis_api.h: the
 * system info (and the dialect of the version found, and of the body read
 * as a version string), a tracked-entity search, an import report (with its
 * lookups), a stored potential duplicate, the entity a flag update echoes,
 * and the one-line error text. Results are checked against the header:
 * UIDs of the right shape, upper-case CIUs, NUL-terminated fields, one
 * line of error text that fits its buffer.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "dhis_api.h"
#include "dhis_config.h"
#include "fuzz_util.h"

#define TERMINATED(field) fz_terminated((field), sizeof(field))

static void s_check_dialect(const char *version)
{
    dhis_dialect_t d;
    dhis_dialect_for(version, &d);
    FZ_CHECK(d.minor >= DHIS_MINOR_OLDEST && d.minor <= DHIS_MINOR_NEWEST);
    FZ_CHECK(d.ou_mode_param != NULL && d.list_key != NULL && TERMINATED(d.version));
}

static void s_check_search(const char *body)
{
    dhis_config_t c;
    dhis_found_t *f = NULL;
    size_t n = 0;

    memset(&c, 0, sizeof(c));
    cmn_strlcpy(c.ciu_attr, "lZGmxYbs97q", sizeof(c.ciu_attr));
    cmn_strlcpy(c.program, "IpHINAT79UW", sizeof(c.program));
    int r = dhis_parse_search(&c, body, &f, &n);
    if (r < 0) {
        FZ_CHECK(r == -EPROTO || r == -ENOMEM);
        return;
    }
    FZ_CHECK((n == 0) == (f == NULL));
    for (size_t i = 0; i < n; i++) {
        FZ_CHECK(dhis_uid_valid(f[i].te));
        FZ_CHECK(f[i].org_unit[0] == '\0' || dhis_uid_valid(f[i].org_unit));
        FZ_CHECK(TERMINATED(f[i].ciu) && f[i].ciu[0] != '\0');
        for (const char *p = f[i].ciu; *p; p++)
            FZ_CHECK(*p < 'a' || *p > 'z');
    }
    free(f);
}

static void s_check_report(const char *body)
{
    dhis_report_t rep;
    int r = dhis_parse_report(body, &rep);
    if (r == 0) {
        FZ_CHECK(TERMINATED(rep.status));
        for (size_t i = 0; i < rep.nerrors; i++) {
            const dhis_error_t *e = &rep.errors[i];
            FZ_CHECK(TERMINATED(e->code) && TERMINATED(e->type) && TERMINATED(e->uid));
            FZ_CHECK(TERMINATED(e->message));
            FZ_CHECK(dhis_report_error_for(&rep, e->uid, 0) >= 0);
        }
        for (size_t i = 0; i < rep.ndone; i++) {
            FZ_CHECK(dhis_uid_valid(rep.done[i]));
            FZ_CHECK(dhis_report_done(&rep, rep.done[i]));
        }
        FZ_CHECK(rep.ndone == 0 || rep.bundle);
    } else {
        FZ_CHECK(r == -EPROTO || r == -ENOMEM);
    }
    dhis_report_free(&rep);
}

static void s_check_flag(const char *body)
{
    char *flag = dhis_body_flag(body);
    if (flag == NULL)
        return;
    json_t *j = json_loads(flag, 0, NULL);
    json_t *te = json_array_get(json_object_get(j, "trackedEntities"), 0);
    FZ_CHECK(json_is_true(json_object_get(te, "potentialDuplicate")));
    FZ_CHECK(dhis_uid_valid(json_string_value(json_object_get(te, "trackedEntity"))));
    json_decref(j);
    free(flag);
}

static void s_check_error_text(const char *body)
{
    static const long statuses[] = {409, 0};
    char big[300], small[8];
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        dhis_error_text(statuses[i], body, body, big, sizeof(big));
        FZ_CHECK(TERMINATED(big) && big[0] != '\0');
        FZ_CHECK(statuses[i] == 0 || strpbrk(big, "\r\n") == NULL);
        dhis_error_text(statuses[i], body, body, small, sizeof(small));
        FZ_CHECK(TERMINATED(small));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *body = fz_cstr(data, size);
    char version[32], id[DHIS_UID_LEN];

    if (dhis_parse_info(body, version, sizeof(version)) == 0) {
        FZ_CHECK(TERMINATED(version) && version[0] != '\0');
        s_check_dialect(version);
    }
    s_check_dialect(body);
    s_check_search(body);
    s_check_report(body);
    if (dhis_parse_duplicate_id(body, id) == 0)
        FZ_CHECK(dhis_uid_valid(id));
    s_check_flag(body);
    s_check_error_text(body);
    free(body);
    return 0;
}
