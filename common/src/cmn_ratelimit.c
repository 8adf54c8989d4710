/* cmn_ratelimit: token bucket with explicit time. */
#include "common/cmn_ratelimit.h"

void cmn_ratelimit_init(cmn_ratelimit_t *rl, double rate, double burst, int64_t now_ms)
{
    rl->rate = rate > 0 ? rate : 1;
    rl->burst = burst >= 1 ? burst : 1;
    rl->tokens = rl->burst;
    rl->last_ms = now_ms;
    rl->hold_until_ms = 0;
}

bool cmn_ratelimit_take(cmn_ratelimit_t *rl, int64_t now_ms, int64_t *ret_wait_ms)
{
    if (now_ms < rl->hold_until_ms) {
        if (ret_wait_ms)
            *ret_wait_ms = rl->hold_until_ms - now_ms;
        return false;
    }
    if (now_ms > rl->last_ms) {
        rl->tokens += (double)(now_ms - rl->last_ms) * rl->rate / 1000.0;
        if (rl->tokens > rl->burst)
            rl->tokens = rl->burst;
        rl->last_ms = now_ms;
    }
    if (rl->tokens >= 1.0) {
        rl->tokens -= 1.0;
        return true;
    }
    if (ret_wait_ms) {
        int64_t w = (int64_t)((1.0 - rl->tokens) * 1000.0 / rl->rate) + 1;
        *ret_wait_ms = w > 0 ? w : 1;
    }
    return false;
}

void cmn_ratelimit_hold(cmn_ratelimit_t *rl, int64_t until_ms)
{
    if (until_ms > rl->hold_until_ms)
        rl->hold_until_ms = until_ms;
    rl->tokens = 0;
}
