/* cmn_log: levelled log lines, text (logfmt) or JSON, to stderr.
 *
 * One line per event: time, level, daemon, module, optional trace id and a
 * message. The macros check the level before formatting anything (redis
 * serverLog). Only daemon-level code logs (STYLE rule 7). Phone numbers go
 * through cmn_mask_phone() before they reach a log; secrets never do.
 * Log settings are the one piece of global mutable state allowed (rule 10).
 */
#ifndef CMN_LOG_H
#define CMN_LOG_H

#include <stdbool.h>

typedef enum {
    CMN_LOG_DEBUG = 0,
    CMN_LOG_INFO = 1,
    CMN_LOG_WARN = 2,
    CMN_LOG_ERROR = 3,
} cmn_log_level_t;

extern cmn_log_level_t cmn_log_level_g;

/* Set the daemon name (copied), level and format. Call once from main. */
void cmn_log_init(const char *daemon, cmn_log_level_t level, bool json);
/* "debug", "info", "warning"/"warn", "error" (case-insensitive). 0 or -EINVAL. */
int cmn_log_level_parse(const char *s, cmn_log_level_t *ret);

/* Write one line. trace may be NULL. Prefer the macros below. */
void cmn_log_write(cmn_log_level_t level, const char *module, const char *trace,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Async-signal-safe: writes a fixed message with write(2), no formatting. */
void cmn_log_signal_safe(const char *msg);

#define cmn_log(level, module, trace, ...)                                   \
    do {                                                                     \
        if ((level) >= cmn_log_level_g)                                      \
            cmn_log_write((level), (module), (trace), __VA_ARGS__);          \
    } while (0)

#define log_debug(module, trace, ...) cmn_log(CMN_LOG_DEBUG, module, trace, __VA_ARGS__)
#define log_info(module, trace, ...) cmn_log(CMN_LOG_INFO, module, trace, __VA_ARGS__)
#define log_warn(module, trace, ...) cmn_log(CMN_LOG_WARN, module, trace, __VA_ARGS__)
#define log_error(module, trace, ...) cmn_log(CMN_LOG_ERROR, module, trace, __VA_ARGS__)

/* Log an error with strerror(-r) appended and return r (negative errno).
 * An expression (usable in `return`); r is evaluated twice. */
#define log_err_errno(r, module, trace, fmt, ...)                               \
    ((CMN_LOG_ERROR >= cmn_log_level_g                                          \
          ? cmn_log_write(CMN_LOG_ERROR, (module), (trace), fmt ": %s",         \
                          ##__VA_ARGS__, cmn_strerror(r))                       \
          : (void)0),                                                           \
     (r))

const char *cmn_strerror(int negative_errno);

#define CMN_MASK_LEN 40
/* Mask a phone number for logs: "+243812345123" -> "+243******123";
 * "whatsapp:+243..." keeps its prefix. Anything short is fully masked.
 * Returns out. */
const char *cmn_mask_phone(const char *number, char out[CMN_MASK_LEN]);

#endif
