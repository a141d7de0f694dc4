/* The hybrid logical clock (DESIGN.md §4) on a virtual time source: local
 * ticks never collide or go backwards, observed remote times are adopted up to
 * the drift bound and refused past it, and (HLC, author) is a total order. */
#include "weaver/hlc.h"

#include "support/testutil.h"

#include <criterion/criterion.h>
#include <string.h>

#define S_DRIFT 1000u

static void s_assert_before(lt_hlc_t a, lt_hlc_t b)
{
    cr_assert_lt(lt_hlc_cmp(a, b), 0, "(%llu,%u) should be before (%llu,%u)",
                 (unsigned long long)a.wall_ms, a.counter, (unsigned long long)b.wall_ms,
                 b.counter);
}

static lt_hlc_t s_hlc(uint64_t wall, uint32_t counter)
{
    lt_hlc_t h = {wall, counter};
    return h;
}

Test(hlc, ticks_strictly_increase_within_one_millisecond)
{
    uint64_t now = 5000;
    lt_clock_t c;
    lt_clock_init(&c, lt_test_clock_now, &now, S_DRIFT);
    lt_hlc_t prev = lt_clock_tick(&c);
    cr_assert_eq(prev.wall_ms, 5000);
    cr_assert_eq(prev.counter, 0);
    for (uint32_t i = 1; i <= 1000; i++) {
        lt_hlc_t t = lt_clock_tick(&c);
        s_assert_before(prev, t);
        cr_assert_eq(t.wall_ms, 5000);
        cr_assert_eq(t.counter, i);
        prev = t;
    }
}

Test(hlc, the_counter_resets_when_the_wall_clock_advances)
{
    uint64_t now = 5000;
    lt_clock_t c;
    lt_clock_init(&c, lt_test_clock_now, &now, S_DRIFT);
    (void)lt_clock_tick(&c);
    (void)lt_clock_tick(&c);
    lt_hlc_t t = lt_clock_tick(&c);
    cr_assert_eq(t.counter, 2);
    now = 5001;
    t = lt_clock_tick(&c);
    cr_assert_eq(t.wall_ms, 5001);
    cr_assert_eq(t.counter, 0);
    now = 9000;
    t = lt_clock_tick(&c);
    cr_assert_eq(t.wall_ms, 9000);
    cr_assert_eq(t.counter, 0);
}

Test(hlc, ticks_strictly_increase_across_a_clock_that_goes_backwards)
{
    uint64_t now = 10000;
    lt_clock_t c;
    lt_clock_init(&c, lt_test_clock_now, &now, S_DRIFT);
    lt_hlc_t prev = lt_clock_tick(&c);
    now = 4000; /* NTP stepped the clock back */
    for (int i = 0; i < 10; i++) {
        lt_hlc_t t = lt_clock_tick(&c);
        s_assert_before(prev, t);
        cr_assert_eq(t.wall_ms, 10000, "the clock must not follow the wall clock back");
        prev = t;
    }
    now = 10000; /* catching up to the same millisecond still only bumps the counter */
    lt_hlc_t t = lt_clock_tick(&c);
    s_assert_before(prev, t);
    cr_assert_eq(t.wall_ms, 10000);
    now = 10001;
    t = lt_clock_tick(&c);
    cr_assert_eq(t.wall_ms, 10001);
    cr_assert_eq(t.counter, 0);
}

Test(hlc, an_exhausted_counter_borrows_the_next_millisecond)
{
    uint64_t now = 7000;
    lt_clock_t c;
    lt_clock_init(&c, lt_test_clock_now, &now, S_DRIFT);
    cr_assert(lt_clock_observe(&c, s_hlc(7000, UINT32_MAX)));
    lt_hlc_t t = lt_clock_tick(&c);
    s_assert_before(s_hlc(7000, UINT32_MAX), t);
    cr_assert_eq(t.wall_ms, 7001);
    cr_assert_eq(t.counter, 0);
}

Test(hlc, observe_adopts_a_later_remote_time)
{
    uint64_t now = 20000;
    lt_clock_t c;
    lt_clock_init(&c, lt_test_clock_now, &now, S_DRIFT);
    (void)lt_clock_tick(&c);
    lt_hlc_t remote = s_hlc(20500, 42);
    cr_assert(lt_clock_observe(&c, remote));
    cr_assert_eq(c.last.wall_ms, 20500);
    cr_assert_eq(c.last.counter, 42);
    lt_hlc_t t = lt_clock_tick(&c);
    s_assert_before(remote, t);
    cr_assert_eq(t.wall_ms, 20500);
    cr_assert_eq(t.counter, 43);
}

Test(hlc, observe_keeps_the_clock_when_the_remote_time_is_earlier)
{
    uint64_t now = 20000;
    lt_clock_t c;
    lt_clock_init(&c, lt_test_clock_now, &now, S_DRIFT);
    lt_hlc_t mine = lt_clock_tick(&c);
    cr_assert(lt_clock_observe(&c, s_hlc(100, 9)));
    cr_assert_eq(lt_hlc_cmp(c.last, mine), 0);
    cr_assert(lt_clock_observe(&c, mine), "observing our own time is fine");
    s_assert_before(mine, lt_clock_tick(&c));
}

Test(hlc, observe_refuses_a_time_further_than_the_drift_ahead)
{
    uint64_t now = 50000;
    lt_clock_t c;
    lt_clock_init(&c, lt_test_clock_now, &now, S_DRIFT);
    lt_hlc_t mine = lt_clock_tick(&c);
    cr_assert_not(lt_clock_observe(&c, s_hlc(now + S_DRIFT + 1, 0)));
    cr_assert_not(lt_clock_observe(&c, s_hlc(UINT64_MAX, UINT32_MAX)));
    cr_assert_eq(lt_hlc_cmp(c.last, mine), 0, "a refused time must not be adopted");
    lt_hlc_t t = lt_clock_tick(&c);
    cr_assert_eq(t.wall_ms, now);
    cr_assert_eq(t.counter, 1);
}

Test(hlc, observe_accepts_a_time_exactly_at_the_drift_bound)
{
    uint64_t now = 50000;
    lt_clock_t c;
    lt_clock_init(&c, lt_test_clock_now, &now, S_DRIFT);
    lt_hlc_t edge = s_hlc(now + S_DRIFT, UINT32_MAX - 1);
    cr_assert(lt_clock_observe(&c, edge));
    cr_assert_eq(lt_hlc_cmp(c.last, edge), 0);
    s_assert_before(edge, lt_clock_tick(&c));
    /* Once the wall clock moves on, what was too far ahead is within reach. */
    cr_assert_not(lt_clock_observe(&c, s_hlc(now + 2 * S_DRIFT, 0)));
    now += S_DRIFT;
    cr_assert(lt_clock_observe(&c, s_hlc(now + S_DRIFT, 0)));
}

Test(hlc, the_default_drift_is_one_hour)
{
    cr_assert_eq(LT_DEFAULT_MAX_DRIFT_MS, 3600u * 1000u);
    uint64_t now = 1700000000000ull;
    lt_clock_t c;
    lt_clock_init(&c, lt_test_clock_now, &now, LT_DEFAULT_MAX_DRIFT_MS);
    cr_assert(lt_clock_observe(&c, s_hlc(now + LT_DEFAULT_MAX_DRIFT_MS, 0)));
    cr_assert_not(lt_clock_observe(&c, s_hlc(now + LT_DEFAULT_MAX_DRIFT_MS + 1, 0)));
}

Test(hlc, a_null_time_source_is_the_system_clock)
{
    lt_clock_t c;
    lt_clock_init(&c, NULL, NULL, S_DRIFT);
    uint64_t before = lt_system_now_ms(NULL);
    uint64_t got = lt_clock_now_ms(&c);
    uint64_t after = lt_system_now_ms(NULL);
    cr_assert(before <= got && got <= after);
    cr_assert_gt(got, 1600000000000ull, "the system clock should be past 2020");
}

Test(hlc, cmp_orders_by_wall_then_counter)
{
    cr_assert_eq(lt_hlc_cmp(s_hlc(5, 5), s_hlc(5, 5)), 0);
    cr_assert_lt(lt_hlc_cmp(s_hlc(5, 9), s_hlc(6, 0)), 0);
    cr_assert_gt(lt_hlc_cmp(s_hlc(6, 0), s_hlc(5, 9)), 0);
    cr_assert_lt(lt_hlc_cmp(s_hlc(5, 1), s_hlc(5, 2)), 0);
    cr_assert_gt(lt_hlc_cmp(s_hlc(5, 2), s_hlc(5, 1)), 0);
    /* Extremes do not overflow into the wrong sign. */
    cr_assert_lt(lt_hlc_cmp(s_hlc(0, 0), s_hlc(UINT64_MAX, 0)), 0);
    cr_assert_gt(lt_hlc_cmp(s_hlc(UINT64_MAX, 0), s_hlc(0, UINT32_MAX)), 0);
    cr_assert_lt(lt_hlc_cmp(s_hlc(1, 0), s_hlc(1, UINT32_MAX)), 0);
}

Test(hlc, author_breaks_ties_between_equal_timestamps)
{
    lt_pubkey_t lo, hi;
    memset(lo.b, 0x11, LT_KEY_LEN);
    memset(hi.b, 0x11, LT_KEY_LEN);
    hi.b[LT_KEY_LEN - 1] = 0x12;
    lt_hlc_t t = s_hlc(100, 1);
    cr_assert_lt(lt_hlc_author_cmp(t, &lo, t, &hi), 0);
    cr_assert_gt(lt_hlc_author_cmp(t, &hi, t, &lo), 0);
    cr_assert_eq(lt_hlc_author_cmp(t, &lo, t, &lo), 0);
    /* The timestamp decides before the author does. */
    cr_assert_gt(lt_hlc_author_cmp(s_hlc(100, 2), &lo, t, &hi), 0);
    cr_assert_lt(lt_hlc_author_cmp(s_hlc(99, 9), &hi, t, &lo), 0);
}
