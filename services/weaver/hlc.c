/* Hybrid logical clock. */
#include "weaver/hlc.h"

void lt_clock_init(lt_clock_t *c, lt_now_fn now, void *now_ctx, uint64_t max_drift_ms)
{
    c->now = now ? now : lt_system_now_ms;
    c->now_ctx = now_ctx;
    c->last.wall_ms = 0;
    c->last.counter = 0;
    c->max_drift_ms = max_drift_ms;
}

uint64_t lt_clock_now_ms(const lt_clock_t *c)
{
    return c->now(c->now_ctx);
}

lt_hlc_t lt_clock_tick(lt_clock_t *c)
{
    uint64_t now = lt_clock_now_ms(c);
    if (now > c->last.wall_ms) {
        c->last.wall_ms = now;
        c->last.counter = 0;
    } else if (c->last.counter == UINT32_MAX) {
        /* Counter exhausted within one millisecond: borrow the next one. */
        c->last.wall_ms++;
        c->last.counter = 0;
    } else {
        c->last.counter++;
    }
    return c->last;
}

bool lt_clock_observe(lt_clock_t *c, lt_hlc_t seen)
{
    uint64_t now = lt_clock_now_ms(c);
    if (seen.wall_ms > now && seen.wall_ms - now > c->max_drift_ms)
        return false;
    if (lt_hlc_cmp(seen, c->last) > 0)
        c->last = seen;
    return true;
}

int lt_hlc_cmp(lt_hlc_t a, lt_hlc_t b)
{
    if (a.wall_ms != b.wall_ms)
        return a.wall_ms < b.wall_ms ? -1 : 1;
    if (a.counter != b.counter)
        return a.counter < b.counter ? -1 : 1;
    return 0;
}

int lt_hlc_author_cmp(lt_hlc_t a, const lt_pubkey_t *ka, lt_hlc_t b, const lt_pubkey_t *kb)
{
    int c = lt_hlc_cmp(a, b);
    return c ? c : lt_pubkey_cmp(ka, kb);
}
