/* cmn_ratelimit: a token bucket with explicit time (as curl's ratelimit).
 *
 * rate tokens per second, up to burst tokens saved. Time is a parameter
 * (monotonic milliseconds) so tests control the clock.
 */
#ifndef CMN_RATELIMIT_H
#define CMN_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    double rate;      /* tokens per second */
    double burst;     /* most tokens saved */
    double tokens;
    int64_t last_ms;
    int64_t hold_until_ms; /* no token before this (provider said "slow down") */
} cmn_ratelimit_t;

void cmn_ratelimit_init(cmn_ratelimit_t *rl, double rate, double burst, int64_t now_ms);
/* Take one token if there is one: true. Else false and *ret_wait_ms (may be
 * NULL) = milliseconds until one is available. */
bool cmn_ratelimit_take(cmn_ratelimit_t *rl, int64_t now_ms, int64_t *ret_wait_ms);
/* Give no token before until_ms (a provider's throttling answer). */
void cmn_ratelimit_hold(cmn_ratelimit_t *rl, int64_t until_ms);

#endif
