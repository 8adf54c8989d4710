/* cmn_config: environment variables through one table (redis static_configs,
 * fluent-bit config map).
 *
 * Sources, strongest first: the process environment, then a `.env` file in
 * the working directory (KEY=VALUE lines, `#` comments, optional quotes,
 * `export ` prefix tolerated). For every entry, `NAME_FILE` names a file
 * whose content (trailing newline stripped) is the value (docker secrets).
 * An entry may have an alias (the seed's other spelling). Variables not in
 * the table are ignored. Parsing stops at the first bad value and reports
 * one line naming the variable, what is wrong and how to fix it.
 */
#ifndef CMN_CONFIG_H
#define CMN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    CMN_CFG_STR,    /* char *   (owned by the config struct) */
    CMN_CFG_SECRET, /* char *   never logged */
    CMN_CFG_INT,    /* long     within [min, max] */
    CMN_CFG_BOOL,   /* bool     true/false/1/0/yes/no/on/off */
} cmn_cfg_type_t;

typedef struct {
    const char *name;  /* environment variable */
    const char *alias; /* other accepted name, or NULL */
    cmn_cfg_type_t type;
    const char *def;   /* default as text; NULL = no default (value stays NULL/0) */
    long min, max;     /* CMN_CFG_INT bounds */
    size_t offset;     /* offsetof(struct, field) */
    const char *help;  /* what it is, shown in errors and docs */
} cmn_cfg_entry_t;

/* Fill `out` (the struct the offsets refer to) from the environment and the
 * optional env file (NULL: none; missing file is fine).
 * Returns 0, or -EINVAL with *ret_err set to one malloc'd line (caller frees),
 * e.g. "SESSION_TIMEOUT_MINUTES: 'abc' is not a whole number (expected 1..1440)". */
int cmn_config_load(const cmn_cfg_entry_t *table, size_t n, void *out, const char *env_file,
                    char **ret_err);
/* Free the strings the table put in `cfg`. */
void cmn_config_free(const cmn_cfg_entry_t *table, size_t n, void *cfg);
/* One line "NAME=value NAME2=..." of the effective config, secrets as "***"
 * (unset secrets as ""). Caller frees. */
char *cmn_config_describe(const cmn_cfg_entry_t *table, size_t n, const void *cfg);

#endif
