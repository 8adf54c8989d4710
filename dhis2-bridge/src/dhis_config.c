/* dhis_config: DHIS2 settings, checked once. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cmn_str.h"
#include "dhis_config.h"

#define S_MAP_MAX ((size_t)1 << 20) /* bytes of the org unit map file */
#define S_VALUE_MAX 230             /* characters of a gender value */

static int s_err(char **ret_err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int s_err(char **ret_err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *m = cmn_str_vdup(2048, fmt, ap);
    va_end(ap);
    if (ret_err)
        *ret_err = m;
    else
        free(m);
    return -EINVAL;
}

static bool s_set(const char *v)
{
    return v != NULL && v[0] != '\0';
}

/* A required or optional UID setting. */
static int s_uid(const char *name, const char *value, bool required, const char *what,
                 char out[DHIS_UID_LEN], char **ret_err)
{
    if (!s_set(value)) {
        if (!required) {
            out[0] = '\0';
            return 0;
        }
        return s_err(ret_err,
                     "%s: not set (%s; fix: set it to its DHIS2 UID, 11 characters, in the "
                     "environment or .env; `ciu-admin dhis2 check` verifies it)",
                     name, what);
    }
    if (!dhis_uid_valid(value))
        return s_err(ret_err,
                     "%s: '%.40s' is not a DHIS2 UID (%s; expected 11 letters or digits "
                     "starting with a letter, e.g. nEenWmSyUEp)",
                     name, value, what);
    cmn_strlcpy(out, value, DHIS_UID_LEN);
    return 0;
}

static int s_cmp_entry(const void *a, const void *b)
{
    return strcmp(((const dhis_ou_entry_t *)a)->code, ((const dhis_ou_entry_t *)b)->code);
}

int dhis_ou_map_parse(const char *name, const char *text, dhis_ou_entry_t **ret, size_t *ret_n,
                      char **ret_err)
{
    dhis_ou_entry_t *map = NULL;
    size_t n = 0, cap = 0, line = 0;
    const char *p = text;
    int r = 0;

    while (*p && r == 0) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char buf[256];
        line++;
        if (len >= sizeof(buf)) {
            r = s_err(ret_err, "DHIS2_ORG_UNIT_MAP: %s:%zu: line too long", name, line);
            break;
        }
        memcpy(buf, p, len);
        buf[len] = '\0';
        p = end ? end + 1 : p + len;
        if (len > 0 && buf[len - 1] == '\r')
            buf[--len] = '\0';
        size_t lead = strspn(buf, " \t");
        if (buf[lead] == '\0' || buf[lead] == '#')
            continue;
        char *tab = strchr(buf, '\t');
        char *uid = tab ? tab + 1 : NULL;
        char *tab2 = uid ? strchr(uid, '\t') : NULL;
        if (tab2)
            *tab2 = '\0';
        if (tab)
            *tab = '\0';
        if (strlen(buf) != 2 || !isupper((unsigned char)buf[0]) ||
            !isupper((unsigned char)buf[1])) {
            r = s_err(ret_err,
                      "DHIS2_ORG_UNIT_MAP: %s:%zu: '%.20s' is not a city code (two letters "
                      "A-Z, as in cities.tsv, then a tab and the org unit UID)",
                      name, line, buf);
            break;
        }
        if (!dhis_uid_valid(uid)) {
            r = s_err(ret_err,
                      "DHIS2_ORG_UNIT_MAP: %s:%zu: '%.40s' is not an org unit UID (11 letters "
                      "or digits starting with a letter)",
                      name, line, uid ? uid : "");
            break;
        }
        for (size_t i = 0; i < n; i++)
            if (strcmp(map[i].code, buf) == 0)
                r = s_err(ret_err, "DHIS2_ORG_UNIT_MAP: %s:%zu: duplicate code '%s'", name, line,
                          buf);
        if (r < 0)
            break;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 32;
            dhis_ou_entry_t *m = realloc(map, nc * sizeof(*m));
            if (m == NULL) {
                r = -ENOMEM;
                break;
            }
            map = m;
            cap = nc;
        }
        cmn_strlcpy(map[n].code, buf, sizeof(map[n].code));
        cmn_strlcpy(map[n].uid, uid, sizeof(map[n].uid));
        n++;
    }
    if (r < 0) {
        free(map);
        return r;
    }
    if (n > 1)
        qsort(map, n, sizeof(*map), s_cmp_entry);
    *ret = map;
    *ret_n = n;
    return 0;
}

int dhis_gender_parse(const char *spec, char *values[5], char **ret_err)
{
    char *tmp[5] = {NULL};
    const char *p = spec ? spec : "";
    int r = 0;

    while (*p && r == 0) {
        size_t len = strcspn(p, ",");
        const char *eq = memchr(p, '=', len);
        while (len > 0 && *p == ' ') {
            p++;
            len--;
        }
        if (len == 0) {
            p += *p == ',';
            continue;
        }
        eq = memchr(p, '=', len);
        if (eq == NULL || eq != p + 1 || *p < '1' || *p > '4') {
            r = s_err(ret_err,
                      "DHIS2_GENDER_VALUES: '%.*s' is not DIGIT=VALUE (gender digit 1-4 of the "
                      "CIU, then the value DHIS2 expects, e.g. 1=Male,2=Female,3=,4=Other)",
                      (int)len, p);
            break;
        }
        int k = *p - '0';
        size_t vlen = len - 2;
        while (vlen > 0 && eq[vlen] == ' ')
            vlen--;
        if (vlen > S_VALUE_MAX) {
            r = s_err(ret_err, "DHIS2_GENDER_VALUES: the value for %d is too long", k);
            break;
        }
        if (tmp[k] != NULL) {
            r = s_err(ret_err, "DHIS2_GENDER_VALUES: gender %d is given twice", k);
            break;
        }
        tmp[k] = strndup(eq + 1, vlen);
        if (tmp[k] == NULL) {
            r = -ENOMEM;
            break;
        }
        if (tmp[k][0] == '\0') { /* "3=": nothing is sent for 3; keep a marker */
            free(tmp[k]);
            tmp[k] = strdup("");
            if (tmp[k] == NULL)
                r = -ENOMEM;
        }
        p += len;
        p += *p == ',';
    }
    for (int k = 1; k <= 4; k++) {
        if (r == 0 && tmp[k] && tmp[k][0] == '\0') {
            free(tmp[k]);
            tmp[k] = NULL;
        }
        if (r < 0) {
            free(tmp[k]);
            tmp[k] = NULL;
        }
        values[k] = tmp[k];
    }
    values[0] = NULL;
    return r;
}

static int s_read_file(const char *path, char **ret)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    cmn_str_t s = CMN_STR_INIT(S_MAP_MAX);
    char buf[4096];
    int r = 0;
    if (fd < 0)
        return -errno;
    for (;;) {
        ssize_t k = read(fd, buf, sizeof(buf));
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            r = -errno;
            break;
        }
        if (k == 0)
            break;
        if ((r = cmn_str_append(&s, buf, (size_t)k)) < 0)
            break;
    }
    close(fd);
    if (r == 0 && s.len == 0)
        r = cmn_str_appends(&s, "");
    if (r < 0) {
        cmn_str_free(&s);
        return r;
    }
    *ret = s.buf ? cmn_str_steal(&s) : strdup("");
    return *ret ? 0 : -ENOMEM;
}

int dhis_config_new(const cmn_settings_t *s, dhis_config_t **ret, char **ret_err)
{
    dhis_config_t *c;
    int r = 0;

    if (!s_set(s->dhis2_base_url))
        return -ENOENT;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return -ENOMEM;
    const char *url = s->dhis2_base_url;
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
        r = s_err(ret_err,
                  "DHIS2_BASE_URL: '%.80s' is not an http(s) URL (the DHIS2 server, e.g. "
                  "https://dhis2.example.org, without /api)",
                  url);
        goto fail;
    }
    if (strchr(url, '?') || strchr(url, '#') || strchr(url, ' ')) {
        r = s_err(ret_err, "DHIS2_BASE_URL: '%.80s' must not contain '?', '#' or spaces", url);
        goto fail;
    }
    c->base_url = strdup(url);
    if (c->base_url == NULL)
        goto nomem;
    size_t n = strlen(c->base_url);
    while (n > 8 && c->base_url[n - 1] == '/')
        c->base_url[--n] = '\0';
    if (n >= 4 && strcmp(c->base_url + n - 4, "/api") == 0) {
        r = s_err(ret_err,
                  "DHIS2_BASE_URL: '%.80s' ends with /api (fix: give the server's address "
                  "without /api, e.g. https://dhis2.example.org)",
                  url);
        goto fail;
    }

    if (s_set(s->dhis2_token)) {
        cmn_str_t h = CMN_STR_INIT(4096);
        for (const char *p = s->dhis2_token; *p; p++)
            if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f) {
                r = s_err(ret_err, "DHIS2_API_TOKEN: contains spaces or control characters "
                                   "(copy the whole token, e.g. d2p_...)");
                goto fail;
            }
        if (cmn_str_printf(&h, "Authorization: ApiToken %s", s->dhis2_token) < 0) {
            cmn_str_free(&h);
            r = s_err(ret_err, "DHIS2_API_TOKEN: too long");
            goto fail;
        }
        c->auth_header = cmn_str_steal(&h);
    } else if (s_set(s->dhis2_username) || s_set(s->dhis2_password)) {
        if (!s_set(s->dhis2_username) || !s_set(s->dhis2_password)) {
            r = s_err(ret_err,
                      "%s: not set (DHIS2_API_USERNAME and DHIS2_API_PASSWORD go together; "
                      "fix: set both, or set DHIS2_API_TOKEN instead)",
                      s_set(s->dhis2_username) ? "DHIS2_API_PASSWORD" : "DHIS2_API_USERNAME");
            goto fail;
        }
        if (strchr(s->dhis2_username, ':')) {
            r = s_err(ret_err, "DHIS2_API_USERNAME: must not contain ':'");
            goto fail;
        }
        cmn_str_t up = CMN_STR_INIT(4096);
        if (cmn_str_printf(&up, "%s:%s", s->dhis2_username, s->dhis2_password) < 0) {
            cmn_str_free(&up);
            r = s_err(ret_err, "DHIS2_API_PASSWORD: too long");
            goto fail;
        }
        c->userpwd = cmn_str_steal(&up);
    } else {
        r = s_err(ret_err, "DHIS2_API_TOKEN: not set (DHIS2_BASE_URL is set, so the bridge "
                           "needs credentials; fix: set DHIS2_API_TOKEN to a personal access "
                           "token, or DHIS2_API_USERNAME and DHIS2_API_PASSWORD)");
        goto fail;
    }

    if ((r = s_uid("DHIS2_TRACKED_ENTITY_TYPE", s->dhis2_tet, true,
                   "the tracked entity type of people, e.g. Person", c->tet, ret_err)) < 0 ||
        (r = s_uid("DHIS2_PROGRAM", s->dhis2_program, true,
                   "the tracker program people are enrolled in", c->program, ret_err)) < 0 ||
        (r = s_uid("DHIS2_ORG_UNIT", s->dhis2_org_unit, true, "the org unit of new registrations",
                   c->org_unit, ret_err)) < 0 ||
        (r = s_uid("DHIS2_CIU_ATTRIBUTE", s->dhis2_ciu_attr, true,
                   "the unique tracked entity attribute holding the CIU", c->ciu_attr, ret_err)) <
            0 ||
        (r = s_uid("DHIS2_GENDER_ATTRIBUTE", s->dhis2_gender_attr, false,
                   "the attribute for the gender", c->gender_attr, ret_err)) < 0 ||
        (r = s_uid("DHIS2_BIRTH_DIGIT_ATTRIBUTE", s->dhis2_birth_attr, false,
                   "the attribute for the birth-year digit", c->birth_attr, ret_err)) < 0)
        goto fail;
    if (c->gender_attr[0] &&
        (r = dhis_gender_parse(s->dhis2_gender_values, c->gender_values, ret_err)) < 0)
        goto fail;
    if (s_set(s->dhis2_org_unit_map)) {
        char *text = NULL;
        r = s_read_file(s->dhis2_org_unit_map, &text);
        if (r == -ENOMEM)
            goto nomem;
        if (r < 0) {
            r = s_err(ret_err, "DHIS2_ORG_UNIT_MAP: cannot read '%.200s': %s",
                      s->dhis2_org_unit_map, strerror(-r));
            goto fail;
        }
        r = dhis_ou_map_parse(s->dhis2_org_unit_map, text, &c->ou_map, &c->ou_map_n, ret_err);
        free(text);
        if (r < 0)
            goto fail;
    }
    c->auto_merge = s->dhis2_auto_merge;
    c->batch_size = s->dhis2_batch_size;
    c->concurrency = s->dhis2_concurrency;
    c->timeout_s = s->dhis2_timeout_s;
    c->lease_s = s->dhis2_lease_s;
    c->retry_max_s = s->dhis2_retry_max_s;
    c->breaker_failures = s->dhis2_breaker_failures;
    c->breaker_s = s->dhis2_breaker_s;
    /* A claim covers a search and an import: the lease must outlive both. */
    if (c->lease_s < 2 * c->timeout_s + 5) {
        r = s_err(ret_err,
                  "DHIS2_LEASE_SECONDS: %ld is too short for DHIS2_TIMEOUT_SECONDS=%ld (a "
                  "claim covers two calls; fix: at least %ld)",
                  c->lease_s, c->timeout_s, 2 * c->timeout_s + 5);
        goto fail;
    }
    *ret = c;
    return 0;
nomem:
    r = -ENOMEM;
fail:
    dhis_config_destroy(&c);
    return r;
}

void dhis_config_destroy(dhis_config_t **p)
{
    dhis_config_t *c;
    if (p == NULL || *p == NULL)
        return;
    c = *p;
    free(c->base_url);
    if (c->auth_header) {
        memset(c->auth_header, 0, strlen(c->auth_header));
        free(c->auth_header);
    }
    if (c->userpwd) {
        memset(c->userpwd, 0, strlen(c->userpwd));
        free(c->userpwd);
    }
    for (int k = 0; k < 5; k++)
        free(c->gender_values[k]);
    free(c->ou_map);
    free(c);
    *p = NULL;
}

const char *dhis_config_org_unit(const dhis_config_t *c, const char *ciu)
{
    if (ciu && strlen(ciu) >= 9 && c->ou_map_n > 0) {
        dhis_ou_entry_t key;
        memset(&key, 0, sizeof(key));
        key.code[0] = ciu[7];
        key.code[1] = ciu[8];
        const dhis_ou_entry_t *e = bsearch(&key, c->ou_map, c->ou_map_n, sizeof(key), s_cmp_entry);
        if (e)
            return e->uid;
    }
    return c->org_unit;
}

const char *dhis_config_gender(const dhis_config_t *c, const char *ciu)
{
    if (c->gender_attr[0] == '\0' || ciu == NULL || strlen(ciu) < 10)
        return NULL;
    char g = ciu[9];
    if (g < '1' || g > '4')
        return NULL;
    return c->gender_values[g - '0'];
}
