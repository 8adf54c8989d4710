/* dhis_config: the DHIS2 settings checked once, for the bridge and
 * `ciu-admin dhis2`.
 *
 * Built from the shared settings table (DHIS2_* in cmn_settings): the base
 * URL, the credentials (a personal access token, or a user and password),
 * the UIDs of the tracked entity type, program, default org unit and
 * attributes, the gender value mapping and the optional file mapping a
 * city code (characters 8-9 of the CIU) to an org unit. Anything missing or
 * malformed is reported in one line naming the variable, so a daemon can
 * stop at start instead of failing on every row.
 */
#ifndef DHIS_CONFIG_H
#define DHIS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "common/cmn_settings.h"
#include "dhis_api.h"

typedef struct {
    char code[3];           /* city code, two letters A-Z */
    char uid[DHIS_UID_LEN]; /* its org unit */
} dhis_ou_entry_t;

typedef struct dhis_config {
    char *base_url;    /* DHIS2_BASE_URL without trailing '/' */
    char *auth_header; /* "Authorization: ApiToken ..." or NULL */
    char *userpwd;     /* "user:password" (Basic) or NULL */
    char tet[DHIS_UID_LEN];
    char program[DHIS_UID_LEN];
    char org_unit[DHIS_UID_LEN];
    char ciu_attr[DHIS_UID_LEN];
    char gender_attr[DHIS_UID_LEN]; /* "" when not sent */
    char birth_attr[DHIS_UID_LEN];  /* "" when not sent */
    char *gender_values[5];         /* [1..4]: value sent for gender digit 1..4; NULL: none */
    dhis_ou_entry_t *ou_map;        /* sorted by code */
    size_t ou_map_n;
    bool auto_merge;
    long batch_size;
    long concurrency;
    long timeout_s;
    long lease_s;
    long retry_max_s;
    long breaker_failures;
    long breaker_s;
} dhis_config_t;

/* Build from the settings. 0 with *ret (caller destroys); -ENOENT when
 * DHIS2_BASE_URL is empty (DHIS2 not configured); -EINVAL with *ret_err,
 * one line naming the variable (caller frees); -ENOMEM. */
int dhis_config_new(const cmn_settings_t *s, dhis_config_t **ret, char **ret_err);
void dhis_config_destroy(dhis_config_t **p);

/* Parse the org unit map (text of the file; `name` prefixes errors).
 * Lines "CC<TAB>orgUnitUid[<TAB>comment]", '#' comments, blank lines.
 * 0 with *ret sorted (caller frees), -EINVAL with *ret_err, -ENOMEM. */
int dhis_ou_map_parse(const char *name, const char *text, dhis_ou_entry_t **ret, size_t *ret_n,
                      char **ret_err);
/* Parse "1=Male,2=Female,3=,4=Other" into values[1..4] (NULL for an empty
 * value; caller frees each). 0 or -EINVAL with *ret_err. */
int dhis_gender_parse(const char *spec, char *values[5], char **ret_err);

/* The org unit of a CIU: its city code in the map, else the default. */
const char *dhis_config_org_unit(const dhis_config_t *c, const char *ciu);
/* The gender value of a CIU (last character), or NULL when none is sent. */
const char *dhis_config_gender(const dhis_config_t *c, const char *ciu);

#endif
