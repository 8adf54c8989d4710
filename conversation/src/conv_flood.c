/* conv_flood: fixed-window message limit with a block period. See conv_flood.h. */
#include "conv_flood.h"

/* a - b without overflow: INT64_MAX when it would be larger. */
static int64_t s_since(int64_t a, int64_t b)
{
    if (b < 0 && a > INT64_MAX + b)
        return INT64_MAX;
    if (b > 0 && a < INT64_MIN + b)
        return INT64_MIN;
    return a - b;
}

/* a + b without overflow (b >= 0). */
static int64_t s_add(int64_t a, int64_t b)
{
    return a > INT64_MAX - b ? INT64_MAX : a + b;
}

conv_flood_verdict_t conv_flood_count(const conv_flood_limits_t *lim, conv_flood_state_t *st,
                                      int64_t at_ms)
{
    if (!lim || !st || lim->max < 1 || lim->window_ms <= 0)
        return CONV_FLOOD_OK;
    if (st->blocked_until_ms > 0) {
        if (at_ms < st->blocked_until_ms)
            return CONV_FLOOD_DROP;
        st->blocked_until_ms = 0; /* block over: start counting again */
        st->count = 0;
        st->window_start_ms = at_ms;
    }
    int64_t age = s_since(at_ms, st->window_start_ms);
    if (st->count == 0 || age >= lim->window_ms || age < 0) {
        st->window_start_ms = at_ms; /* a new window (or the clock went back) */
        st->count = 0;
    }
    st->count++;
    if (st->count > lim->max) {
        st->blocked_until_ms = lim->block_ms > 0 ? s_add(at_ms, lim->block_ms) : 0;
        st->count = 0;
        st->window_start_ms = at_ms;
        return CONV_FLOOD_WARN;
    }
    return CONV_FLOOD_OK;
}

int64_t conv_flood_keep_ms(const conv_flood_limits_t *lim)
{
    if (!lim)
        return 0;
    return s_add(lim->window_ms > 0 ? lim->window_ms : 0, lim->block_ms > 0 ? lim->block_ms : 0);
}

const char *conv_flood_verdict_str(conv_flood_verdict_t v)
{
    switch (v) {
    case CONV_FLOOD_OK:
        return "ok";
    case CONV_FLOOD_WARN:
        return "warn";
    case CONV_FLOOD_DROP:
        return "drop";
    }
    return "unknown";
}
