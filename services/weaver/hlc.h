/* Hybrid logical clock with an injectable time source (DESIGN.md §4).
 * Local writes tick it, so two writes in one millisecond never collide; it
 * moves past every timestamp the node witnesses, except one further than
 * max_drift_ms ahead of its own wall clock, which it refuses to adopt (the
 * intention is still accepted; the caller counts a clock fault). */
#ifndef LT_HLC_H
#define LT_HLC_H

#include "weaver/types.h"

#define LT_DEFAULT_MAX_DRIFT_MS (3600u * 1000u)

typedef uint64_t (*lt_now_fn)(void *ctx);

typedef struct {
    lt_now_fn now;
    void *now_ctx;
    lt_hlc_t last;
    uint64_t max_drift_ms;
} lt_clock_t;

/* now == NULL selects the system wall clock. */
void lt_clock_init(lt_clock_t *c, lt_now_fn now, void *now_ctx, uint64_t max_drift_ms);
/* Wall-clock milliseconds from the clock's time source. */
uint64_t lt_clock_now_ms(const lt_clock_t *c);
/* Next timestamp for a local write: strictly greater than every timestamp
 * issued or adopted before. */
lt_hlc_t lt_clock_tick(lt_clock_t *c);
/* Moves the clock past `seen`. Returns false (and does not adopt it) when
 * seen.wall_ms is more than max_drift_ms ahead of now: a clock fault. */
bool lt_clock_observe(lt_clock_t *c, lt_hlc_t seen);

int lt_hlc_cmp(lt_hlc_t a, lt_hlc_t b);
/* Total order of (HLC, author): the winner order of the state machines. */
int lt_hlc_author_cmp(lt_hlc_t a, const lt_pubkey_t *ka, lt_hlc_t b, const lt_pubkey_t *kb);

/* The system wall clock in milliseconds (CLOCK_REALTIME); usable as lt_now_fn. */
uint64_t lt_system_now_ms(void *unused);

#endif
