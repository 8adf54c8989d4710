/* cmn_config: environment + .env + NAME_FILE through one table.
 * See cmn_config.h and docs/common/config.md. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cmn_config.h"
#include "common/cmn_str.h"

#define ENV_FILE_MAX (1024 * 1024) /* a .env larger than this is refused */
#define VALUE_FILE_MAX (64 * 1024) /* a NAME_FILE larger than this is refused */
#define ECHO_MAX 40                /* bytes of a bad value quoted in an error */

typedef struct {
    char *key;
    char *value;
} s_pair_t;

typedef struct {
    s_pair_t *pairs;
    size_t n, cap;
} s_dotenv_t;

static void s_dotenv_free(s_dotenv_t *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->pairs[i].key);
        free(d->pairs[i].value);
    }
    free(d->pairs);
    d->pairs = NULL;
    d->n = d->cap = 0;
}

/* Read a whole file (at most max bytes) into a NUL-terminated buffer. */
static int s_read_file(const char *path, size_t max, cmn_str_t *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        return -EISDIR;
    }
    out->max = max;
    int r = cmn_str_append(out, "", 0); /* never NULL, even when empty */
    char buf[4096];
    while (r == 0) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            r = -errno;
            break;
        }
        if (n == 0)
            break;
        r = cmn_str_append(out, buf, (size_t)n);
    }
    close(fd);
    if (r < 0)
        cmn_str_free(out);
    return r;
}

static bool s_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static int s_dotenv_add(s_dotenv_t *d, const char *k, size_t klen, const char *v, size_t vlen)
{
    /* a later line wins over an earlier one, as in a shell */
    for (size_t i = 0; i < d->n; i++) {
        if (strlen(d->pairs[i].key) == klen && memcmp(d->pairs[i].key, k, klen) == 0) {
            char *nv = strndup(v, vlen);
            if (!nv)
                return -ENOMEM;
            free(d->pairs[i].value);
            d->pairs[i].value = nv;
            return 0;
        }
    }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 16;
        s_pair_t *p = realloc(d->pairs, cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        d->pairs = p;
        d->cap = cap;
    }
    char *key = strndup(k, klen);
    char *val = strndup(v, vlen);
    if (!key || !val) {
        free(key);
        free(val);
        return -ENOMEM;
    }
    d->pairs[d->n].key = key;
    d->pairs[d->n].value = val;
    d->n++;
    return 0;
}

/* Parse one line of a .env file (without its newline) into d. Lines that are
 * not KEY=VALUE are skipped, like python-dotenv and compose do. */
static int s_dotenv_line(s_dotenv_t *d, char *p, char *end)
{
    while (p < end && s_is_space(*p))
        p++;
    while (end > p && s_is_space(end[-1]))
        end--;
    if (p == end || *p == '#')
        return 0;
    if (end - p > 7 && strncmp(p, "export", 6) == 0 && s_is_space(p[6])) {
        p += 7;
        while (p < end && s_is_space(*p))
            p++;
    }
    char *k = p;
    while (p < end && (*p == '_' || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                       (p > k && *p >= '0' && *p <= '9')))
        p++;
    size_t klen = (size_t)(p - k);
    while (p < end && s_is_space(*p))
        p++;
    if (klen == 0 || p == end || *p != '=')
        return 0;
    p++;
    while (p < end && s_is_space(*p))
        p++;

    if (p < end && (*p == '"' || *p == '\'')) {
        char q = *p++;
        char *w = p, *v = p; /* unescape in place */
        for (; p < end && *p != q; p++) {
            if (q == '"' && *p == '\\' && p + 1 < end) {
                p++;
                *w++ = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p == 'r' ? '\r' : *p;
            } else {
                *w++ = *p;
            }
        }
        if (p == end)
            return 0; /* unterminated quote: skip the line */
        return s_dotenv_add(d, k, klen, v, (size_t)(w - v));
    }
    /* unquoted: a '#' after whitespace starts a comment */
    char *v = p;
    for (; p < end; p++)
        if (*p == '#' && p > v && s_is_space(p[-1]))
            break;
    while (p > v && s_is_space(p[-1]))
        p--;
    return s_dotenv_add(d, k, klen, v, (size_t)(p - v));
}

/* Load env_file into d. A missing file is not an error. */
static int s_dotenv_load(s_dotenv_t *d, const char *path)
{
    cmn_str_t text = CMN_STR_INIT(ENV_FILE_MAX);
    int r = s_read_file(path, ENV_FILE_MAX, &text);
    if (r == -ENOENT)
        return 0;
    if (r < 0)
        return r;
    char *p = text.buf, *end = text.buf + text.len;
    while (p < end && r == 0) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *eol = nl ? nl : end;
        r = s_dotenv_line(d, p, eol);
        p = eol + 1;
    }
    cmn_str_free(&text);
    return r;
}

static const char *s_dotenv_get(const s_dotenv_t *d, const char *key)
{
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->pairs[i].key, key) == 0)
            return d->pairs[i].value;
    return NULL;
}

/* --- errors ----------------------------------------------------------- */

/* Quote a user-supplied value for an error line: bounded, no control bytes. */
static void s_echo(cmn_str_t *e, const char *v)
{
    size_t n = strlen(v);
    cmn_str_append(e, "'", 1);
    for (size_t i = 0; i < n && i < ECHO_MAX; i++) {
        unsigned char c = (unsigned char)v[i];
        cmn_str_append(e, c < 0x20 || c == 0x7f ? "?" : &v[i], 1);
    }
    cmn_str_appends(e, n > ECHO_MAX ? "...'" : "'");
}

static char *s_error(const char *var, const char *what, const char *value, const char *help,
                     const char *fix)
{
    cmn_str_t e = CMN_STR_INIT(4096);
    cmn_str_printf(&e, "%s: ", var);
    if (value) {
        s_echo(&e, value);
        cmn_str_append(&e, " ", 1);
    }
    cmn_str_printf(&e, "%s (%s; fix: %s)", what, help ? help : "see docs/configuration.md",
                   fix);
    return cmn_str_steal(&e);
}

/* --- lookup ----------------------------------------------------------- */

typedef struct {
    const char *value; /* borrowed from env or dotenv, or = owned */
    char *owned;       /* a NAME_FILE content, freed by the caller */
    char var[128];     /* the variable the value came from, for errors */
} s_found_t;

static const char *s_source_get(int src, const s_dotenv_t *d, const char *key)
{
    return src == 0 ? secure_getenv(key) : s_dotenv_get(d, key);
}

/* Find the value of an entry: for each source (environment, then .env), NAME,
 * NAME_FILE, ALIAS, ALIAS_FILE. 1 found, 0 not found, -EINVAL with *ret_err. */
static int s_lookup(const cmn_cfg_entry_t *e, const s_dotenv_t *d, s_found_t *f,
                    char **ret_err)
{
    const char *names[2] = {e->name, e->alias};
    for (int src = 0; src < 2; src++) {
        for (int i = 0; i < 2 && names[i]; i++) {
            char fname[128];
            snprintf(fname, sizeof(fname), "%s_FILE", names[i]);
            const char *v = s_source_get(src, d, names[i]);
            const char *path = s_source_get(src, d, fname);
            /* NAME= (empty) next to NAME_FILE is the file: docker-compose passes
             * .env's empty `NAME=` lines along with its secrets' NAME_FILE. */
            if (v && !*v && path)
                v = NULL;
            if (v && !path) {
                f->value = v;
                cmn_strlcpy(f->var, names[i], sizeof(f->var));
                return 1;
            }
            if (path) {
                cmn_str_t text = CMN_STR_INIT(VALUE_FILE_MAX);
                int r = s_read_file(path, VALUE_FILE_MAX, &text);
                if (r < 0) {
                    char what[600], fix[300];
                    snprintf(what, sizeof(what), "cannot read '%s': %s", path,
                             r == -E2BIG ? "file too large" : strerror(-r));
                    for (char *p = what; *p; p++) /* one line, whatever the path holds */
                        if ((unsigned char)*p < 0x20 || *p == 0x7f)
                            *p = '?';
                    snprintf(fix, sizeof(fix), "point %s at a readable file", fname);
                    *ret_err = s_error(fname, what, NULL, e->help, fix);
                    return -EINVAL;
                }
                /* strip the trailing newline(s) editors add */
                while (text.len > 0 &&
                       (text.buf[text.len - 1] == '\n' || text.buf[text.len - 1] == '\r'))
                    text.buf[--text.len] = '\0';
                /* An empty file is no value (a secret file left empty on
                 * purpose): NAME if set, else the next name (the alias, or
                 * .env); two values are ambiguous. */
                if (text.len == 0) {
                    cmn_str_free(&text);
                    if (!v)
                        continue;
                    f->value = v;
                    cmn_strlcpy(f->var, names[i], sizeof(f->var));
                    return 1;
                }
                if (v) {
                    char what[300];
                    cmn_str_free(&text);
                    snprintf(what, sizeof(what), "both %s and %s are set", names[i], fname);
                    *ret_err = s_error(names[i], what, NULL, e->help, "set only one of them");
                    return -EINVAL;
                }
                f->owned = cmn_str_steal(&text);
                if (!f->owned)
                    return -ENOMEM;
                f->value = f->owned;
                cmn_strlcpy(f->var, fname, sizeof(f->var));
                return 1;
            }
        }
    }
    return 0;
}

/* --- values ----------------------------------------------------------- */

static int s_parse_bool(const char *v, bool *ret)
{
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *ret = true;
            return 0;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *ret = false;
            return 0;
        }
    }
    return -EINVAL;
}

/* Store text v into the field of e. var names the source for errors. */
static int s_set(const cmn_cfg_entry_t *e, void *out, const char *var, const char *v,
                 char **ret_err)
{
    char *field = (char *)out + e->offset;
    switch (e->type) {
    case CMN_CFG_STR:
    case CMN_CFG_SECRET: {
        char *copy = NULL;
        if (v && !(copy = strdup(v)))
            return -ENOMEM;
        *(char **)(void *)field = copy;
        return 0;
    }
    case CMN_CFG_INT: {
        long x = 0;
        if (v) {
            int r = cmn_parse_long(v, e->min, e->max, &x);
            if (r < 0) {
                char fix[128];
                snprintf(fix, sizeof(fix), "set a whole number between %ld and %ld", e->min,
                         e->max);
                *ret_err = s_error(var, r == -ERANGE ? "is out of range" : "is not a whole number",
                                   v, e->help, fix);
                return -EINVAL;
            }
        }
        *(long *)(void *)field = x;
        return 0;
    }
    case CMN_CFG_BOOL: {
        bool b = false;
        if (v && s_parse_bool(v, &b) < 0) {
            *ret_err = s_error(var, "is not a boolean", v, e->help,
                               "use true or false (also 1/0, yes/no, on/off)");
            return -EINVAL;
        }
        *(bool *)(void *)field = b;
        return 0;
    }
    }
    return -EINVAL;
}

int cmn_config_load(const cmn_cfg_entry_t *table, size_t n, void *out, const char *env_file,
                    char **ret_err)
{
    s_dotenv_t d = {0};
    char *err = NULL;
    size_t done = 0;
    int r = 0;

    if (env_file) {
        r = s_dotenv_load(&d, env_file);
        if (r < 0) {
            if (r != -ENOMEM) {
                char what[600];
                snprintf(what, sizeof(what), "cannot read '%s': %s", env_file,
                         r == -E2BIG ? "file too large" : strerror(-r));
                err = s_error(".env", what, NULL, "the optional KEY=VALUE file",
                              "make it readable or remove it");
                r = -EINVAL;
            }
            goto fail_dotenv;
        }
    }
    for (done = 0; done < n; done++) {
        const cmn_cfg_entry_t *e = &table[done];
        s_found_t f = {0};
        r = s_lookup(e, &d, &f, &err);
        if (r < 0)
            goto fail_values;
        const char *v = r == 1 ? f.value : NULL;
        const char *var = r == 1 ? f.var : e->name;
        /* an empty number or boolean means "use the default" (compose `FOO=`) */
        if (v && !*v && (e->type == CMN_CFG_INT || e->type == CMN_CFG_BOOL))
            v = NULL;
        if (!v) {
            v = e->def;
            var = e->name;
        }
        r = s_set(e, out, var, v, &err);
        free(f.owned);
        if (r < 0)
            goto fail_values;
    }
    s_dotenv_free(&d);
    return 0;

fail_values:
    cmn_config_free(table, done, out);
fail_dotenv:
    s_dotenv_free(&d);
    if (r == -ENOMEM) {
        free(err);
        return r;
    }
    if (ret_err)
        *ret_err = err;
    else
        free(err);
    return r;
}

void cmn_config_free(const cmn_cfg_entry_t *table, size_t n, void *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < n; i++) {
        if (table[i].type != CMN_CFG_STR && table[i].type != CMN_CFG_SECRET)
            continue;
        char **p = (char **)(void *)((char *)cfg + table[i].offset);
        free(*p);
        *p = NULL;
    }
}

char *cmn_config_describe(const cmn_cfg_entry_t *table, size_t n, const void *cfg)
{
    cmn_str_t s = CMN_STR_INIT(64 * 1024);
    int r = cmn_str_append(&s, "", 0);
    for (size_t i = 0; i < n && r == 0; i++) {
        const cmn_cfg_entry_t *e = &table[i];
        const char *field = (const char *)cfg + e->offset;
        char num[32];
        const char *v = NULL;

        switch (e->type) {
        case CMN_CFG_STR:
        case CMN_CFG_SECRET:
            v = *(char *const *)(const void *)field;
            break;
        case CMN_CFG_INT:
            snprintf(num, sizeof(num), "%ld", *(const long *)(const void *)field);
            v = num;
            break;
        case CMN_CFG_BOOL:
            v = *(const bool *)(const void *)field ? "true" : "false";
            break;
        }
        /* Only what differs from the defaults: the line stays readable. */
        if (!v || !*v || (e->def && strcmp(v, e->def) == 0))
            continue;
        if (e->type == CMN_CFG_BOOL && e->def &&
            (strcmp(e->def, "false") == 0) == (strcmp(v, "false") == 0))
            continue;
        if (s.len > 0)
            cmn_str_append(&s, " ", 1);
        cmn_str_printf(&s, "%s=", e->name);
        if (e->type == CMN_CFG_SECRET) {
            r = cmn_str_append(&s, "***", 3);
            continue;
        }
        bool plain = true;
        for (const char *p = v; *p && plain; p++)
            if ((unsigned char)*p <= ' ' || *p == '"' || *p == '\\')
                plain = false;
        if (plain) {
            r = cmn_str_appends(&s, v);
        } else {
            cmn_str_append(&s, "\"", 1);
            cmn_str_append_json(&s, v);
            r = cmn_str_append(&s, "\"", 1);
        }
    }
    if (r < 0) {
        cmn_str_free(&s);
        return NULL;
    }
    return cmn_str_steal(&s);
}
