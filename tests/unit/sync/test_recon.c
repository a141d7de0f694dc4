/* Reconciliation sessions (services/sync/recon.h) between two indexes in one
 * process: whatever the sets (empty, identical, disjoint, random overlaps,
 * newest items missing on one side) and whatever the configs of the two
 * sides, both end knowing exactly the symmetric difference, within the frame
 * limit when there is one; the cost targets of the offline-peer case and the
 * round budget hold; and messages that are malformed or break the protocol
 * are refused with an error, leaving the session FAILED. */
#include "sync/recon.h"
#include "sync/wire.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int item_cmp(const void *a, const void *b)
{
    return lt_sync_item_cmp(a, b);
}

static int hash_cmp(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

/* Two sets and what each lacks. */
typedef struct {
    lt_fpindex_t *a, *b;
    lt_hash_t *a_only, *b_only; /* sorted */
    size_t n_a_only, n_b_only;
} pair_t;

typedef enum { MIX, TAIL_A, TAIL_B, TAIL_BOTH } shape_t;

/* common items on both sides, only_a on A alone, only_b on B alone. MIX
 * scatters them; TAIL_* makes the side-only items the newest (TAIL_BOTH:
 * each side's own items are newer than every common one). Timestamps are
 * drawn from [0, span): a small span makes many equal. */
static void make_pair(uint64_t seed, size_t common, size_t only_a, size_t only_b, uint64_t span,
                      shape_t shape, pair_t *p)
{
    uint64_t s = seed;
    size_t n = common + only_a + only_b;
    lt_sync_item_t *all = malloc((n + 1) * sizeof *all);
    uint8_t *role = malloc(n + 1); /* 0 both, 1 A, 2 B */
    cr_assert(all && role);
    for (size_t i = 0; i < n; i++) {
        all[i].ts = rnd(&s) % span;
        for (int j = 0; j < 4; j++)
            lt_put_u64le(all[i].hash.b + 8 * j, rnd(&s));
    }
    qsort(all, n, sizeof *all, item_cmp);
    for (size_t i = 0; i < n; i++)
        role[i] = i < common ? 0 : i < common + only_a ? 1 : 2;
    if (shape == MIX) {
        for (size_t i = n; i > 1; i--) {
            size_t j = (size_t)(rnd(&s) % i);
            uint8_t t = role[i - 1];
            role[i - 1] = role[j];
            role[j] = t;
        }
    } else if (shape == TAIL_BOTH) {
        /* the side-only items are already last; mix A's and B's among them */
        for (size_t i = n; i > common + 1; i--) {
            size_t j = common + (size_t)(rnd(&s) % (i - common));
            uint8_t t = role[i - 1];
            role[i - 1] = role[j];
            role[j] = t;
        }
    }
    lt_sync_item_t *va = malloc((n + 1) * sizeof *va), *vb = malloc((n + 1) * sizeof *vb);
    p->a_only = malloc((n + 1) * sizeof *p->a_only);
    p->b_only = malloc((n + 1) * sizeof *p->b_only);
    size_t na = 0, nb = 0;
    p->n_a_only = p->n_b_only = 0;
    for (size_t i = 0; i < n; i++) {
        if (role[i] != 2)
            va[na++] = all[i];
        if (role[i] != 1)
            vb[nb++] = all[i];
        if (role[i] == 1)
            p->a_only[p->n_a_only++] = all[i].hash;
        if (role[i] == 2)
            p->b_only[p->n_b_only++] = all[i].hash;
    }
    qsort(p->a_only, p->n_a_only, 32, hash_cmp);
    qsort(p->b_only, p->n_b_only, 32, hash_cmp);
    p->a = lt_fpindex_new();
    p->b = lt_fpindex_new();
    cr_assert_eq(lt_fpindex_build(p->a, va, na), LT_OK);
    cr_assert_eq(lt_fpindex_build(p->b, vb, nb), LT_OK);
    free(all);
    free(role);
    free(va);
    free(vb);
}

static void pair_free(pair_t *p)
{
    lt_fpindex_destroy(&p->a);
    lt_fpindex_destroy(&p->b);
    free(p->a_only);
    free(p->b_only);
}

typedef struct {
    uint32_t rounds;
    uint64_t bytes, bytes_b_to_a;
} result_t;

static void assert_same(const lt_hash_t *got, size_t n_got, const lt_hash_t *want, size_t n_want,
                        const char *what, uint64_t seed)
{
    cr_assert_eq(n_got, n_want, "seed %llu: %s: %zu ids, expected %zu", (unsigned long long)seed,
                 what, n_got, n_want);
    cr_assert(n_got == 0 || memcmp(got, want, n_got * 32) == 0, "seed %llu: %s differ",
              (unsigned long long)seed, what);
}

/* Runs a session, A initiating, and checks both results and the frames. */
static result_t run(const pair_t *p, const lt_recon_config_t *ca, const lt_recon_config_t *cb,
                    uint64_t seed)
{
    lt_recon_t *ra = NULL, *rb = NULL;
    cr_assert_eq(lt_recon_new(p->a, ca, &ra), LT_OK);
    cr_assert_eq(lt_recon_new(p->b, cb, &rb), LT_OK);
    cr_assert_eq(lt_recon_state(ra), LT_RECON_IDLE);
    lt_buf_t to_b = LT_BUF_INIT, to_a = LT_BUF_INIT;
    cr_assert_eq(lt_recon_initiate(ra, &to_b), LT_OK);
    cr_assert(lt_recon_is_initiator(ra));
    size_t limit_a = ca && ca->frame_limit ? ca->frame_limit : SIZE_MAX;
    size_t limit_b = cb && cb->frame_limit ? cb->frame_limit : SIZE_MAX;
    int messages = 1;
    while (to_b.len) {
        cr_assert_leq(to_b.len, limit_a, "seed %llu: A's message of %zu bytes",
                      (unsigned long long)seed, to_b.len);
        /* AWAITING, or DONE having sent a final message */
        cr_assert_neq(lt_recon_state(ra), LT_RECON_FAILED);
        lt_err_t rc = lt_recon_receive(rb, to_b.data, to_b.len, &to_a);
        cr_assert_eq(rc, LT_OK, "seed %llu: B refused: %s", (unsigned long long)seed,
                     lt_recon_errmsg(rb));
        if (!to_a.len)
            break;
        messages++;
        cr_assert_leq(to_a.len, limit_b, "seed %llu: B's message of %zu bytes",
                      (unsigned long long)seed, to_a.len);
        rc = lt_recon_receive(ra, to_a.data, to_a.len, &to_b);
        cr_assert_eq(rc, LT_OK, "seed %llu: A refused: %s", (unsigned long long)seed,
                     lt_recon_errmsg(ra));
        if (to_b.len)
            messages++;
        cr_assert_lt(messages, 20000, "seed %llu: the session does not end",
                     (unsigned long long)seed);
    }
    cr_assert_eq(lt_recon_state(ra), LT_RECON_DONE, "seed %llu", (unsigned long long)seed);
    cr_assert_eq(lt_recon_state(rb), LT_RECON_DONE, "seed %llu", (unsigned long long)seed);
    size_t n;
    const lt_hash_t *h = lt_recon_have(ra, &n);
    assert_same(h, n, p->a_only, p->n_a_only, "A's have", seed);
    h = lt_recon_need(ra, &n);
    assert_same(h, n, p->b_only, p->n_b_only, "A's need", seed);
    h = lt_recon_have(rb, &n);
    assert_same(h, n, p->b_only, p->n_b_only, "B's have", seed);
    h = lt_recon_need(rb, &n);
    assert_same(h, n, p->a_only, p->n_a_only, "B's need", seed);
    lt_recon_stats_t sa, sb;
    lt_recon_stats(ra, &sa);
    lt_recon_stats(rb, &sb);
    cr_assert_eq(sa.bytes_sent, sb.bytes_received);
    cr_assert_eq(sb.bytes_sent, sa.bytes_received);
    result_t res = {sa.messages_sent, sa.bytes_sent + sb.bytes_sent, sb.bytes_sent};
    /* a finished session takes no more messages */
    uint8_t v = LT_SYNC_VERSION;
    cr_assert_eq(lt_recon_receive(ra, &v, 1, &to_b), LT_EINVAL);
    cr_assert_eq(lt_recon_receive(rb, &v, 1, &to_a), LT_EINVAL);
    lt_buf_free(&to_b);
    lt_buf_free(&to_a);
    lt_recon_destroy(&ra);
    lt_recon_destroy(&rb);
    cr_assert_null(ra);
    return res;
}

static result_t run_default(const pair_t *p, uint64_t seed)
{
    return run(p, NULL, NULL, seed);
}

Test(recon, two_empty_sets_agree_at_once)
{
    pair_t p;
    make_pair(1, 0, 0, 0, 100, MIX, &p);
    result_t r = run_default(&p, 1);
    cr_assert_eq(r.rounds, 1);
    pair_free(&p);
}

Test(recon, identical_sets_take_one_round_trip_and_learn_nothing)
{
    static const size_t sizes[] = {1, 2, 50, 10000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        pair_t p;
        make_pair(i, sizes[i], 0, 0, 1000000, MIX, &p);
        result_t r = run_default(&p, i);
        cr_assert_eq(r.rounds, 1, "%zu identical items", sizes[i]);
        pair_free(&p);
    }
}

Test(recon, one_empty_side_learns_everything_and_the_other_all_it_has)
{
    for (uint64_t seed = 1; seed <= 4; seed++) {
        size_t n = seed == 1 ? 1 : seed == 2 ? 3 : 10000;
        pair_t p;
        make_pair(seed, 0, seed % 2 ? n : 0, seed % 2 ? 0 : n, 1000000, MIX, &p);
        run_default(&p, seed);
        pair_free(&p);
    }
}

Test(recon, disjoint_sets_exchange_everything)
{
    pair_t p;
    make_pair(5, 0, 3000, 2000, 1000000, MIX, &p);
    run_default(&p, 5);
    pair_free(&p);
}

Test(recon, random_small_pairs_under_random_configs)
{
    for (uint64_t seed = 1; seed <= 300; seed++) {
        uint64_t s = seed * 7919;
        size_t common = rnd(&s) % 60, oa = rnd(&s) % 12, ob = rnd(&s) % 12;
        uint64_t span = 1 + rnd(&s) % 200; /* many equal timestamps */
        pair_t p;
        make_pair(seed, common, oa, ob, span, (shape_t)(rnd(&s) % 4), &p);
        lt_recon_config_t ca, cb;
        lt_recon_config_default(&ca);
        lt_recon_config_default(&cb);
        ca.branching = 2 + (uint32_t)(rnd(&s) % 15);
        ca.idlist_threshold = 1 + (uint32_t)(rnd(&s) % 8);
        ca.max_rounds = (uint32_t)(rnd(&s) % 7);
        cb.branching = 2 + (uint32_t)(rnd(&s) % 15);
        cb.idlist_threshold = 1 + (uint32_t)(rnd(&s) % 8);
        cb.max_rounds = (uint32_t)(rnd(&s) % 7);
        run(&p, &ca, &cb, seed);
        pair_free(&p);
    }
}

Test(recon, ten_thousand_items_with_scattered_differences)
{
    for (uint64_t seed = 1; seed <= 6; seed++) {
        pair_t p;
        size_t d = seed <= 2 ? 10 : seed <= 4 ? 100 : 1000;
        make_pair(seed, 10000 - d / 2, d / 2, d - d / 2, seed % 2 ? 100000000 : 5000, MIX, &p);
        result_t r = run_default(&p, seed);
        cr_assert_leq(r.rounds, LT_RECON_DEFAULT_MAX_ROUNDS, "seed %llu: %u rounds",
                      (unsigned long long)seed, r.rounds);
        pair_free(&p);
    }
}

Test(recon, an_offline_peer_costs_little_more_than_the_missing_ids)
{
    /* one side lacks the newest 100 of 10 000: at most 1.2 x 100 ids of 32
     * bytes, whichever side initiates */
    for (uint64_t seed = 1; seed <= 4; seed++) {
        pair_t p;
        make_pair(seed, 10000 - 100, seed % 2 ? 100 : 0, seed % 2 ? 0 : 100, 100000000,
                  seed % 2 ? TAIL_A : TAIL_B, &p);
        result_t r = run_default(&p, seed);
        cr_assert_leq(r.bytes, 100 * 32 * 12 / 10, "seed %llu: %llu bytes",
                      (unsigned long long)seed, (unsigned long long)r.bytes);
        cr_assert_leq(r.rounds, 2);
        if (seed % 2) /* B is behind: it points at its newest item in a few bytes */
            cr_assert_leq(r.bytes_b_to_a, 64, "seed %llu: B sent %llu bytes",
                          (unsigned long long)seed, (unsigned long long)r.bytes_b_to_a);
        pair_free(&p);
    }
}

Test(recon, both_sides_with_new_items_of_their_own)
{
    for (uint64_t seed = 1; seed <= 20; seed++) {
        pair_t p;
        make_pair(seed, 2000, seed * 3, seed * 5 % 37, seed % 3 ? 10000000 : 300, TAIL_BOTH, &p);
        run_default(&p, seed);
        pair_free(&p);
    }
}

Test(recon, a_frame_limit_is_kept_and_the_session_still_completes)
{
    static const uint32_t frames[] = {LT_RECON_MIN_FRAME, 1500, 4096, 65536};
    for (uint64_t seed = 1; seed <= 16; seed++) {
        pair_t p;
        shape_t shape = (shape_t)(seed % 4);
        size_t common = seed % 3 == 0 ? 0 : 3000;
        size_t oa = (seed * 37) % 800, ob = seed % 5 == 0 ? 4000 : (seed * 11) % 300;
        make_pair(seed, common, oa, ob, seed % 2 ? 100000000 : 2000, shape, &p);
        lt_recon_config_t ca, cb;
        lt_recon_config_default(&ca);
        lt_recon_config_default(&cb);
        ca.frame_limit = frames[seed % 4];
        cb.frame_limit = frames[(seed / 4) % 4];
        if (seed % 3 == 1) {
            ca.idlist_threshold = 32; /* id lists that need a whole small frame */
            cb.branching = 64;
        }
        run(&p, &ca, &cb, seed);
        pair_free(&p);
    }
}

Test(recon, long_id_answers_are_cut_and_continued_within_small_frames)
{
    /* B answers A's empty id list above its newest item with 3000 ids: some
     * 100 KB, cut into frames of 1 KB */
    pair_t p;
    make_pair(3, 500, 0, 3000, 100000000, TAIL_B, &p);
    lt_recon_config_t c;
    lt_recon_config_default(&c);
    c.frame_limit = LT_RECON_MIN_FRAME;
    result_t r = run(&p, &c, &c, 3);
    cr_assert_gt(r.rounds, 50);
    pair_free(&p);
}

Test(recon, configs_out_of_range_are_refused)
{
    lt_fpindex_t *x = lt_fpindex_new();
    lt_recon_t *r = NULL;
    lt_recon_config_t c;
    lt_recon_config_default(&c);
    c.branching = 1;
    cr_assert_eq(lt_recon_new(x, &c, &r), LT_EINVAL);
    lt_recon_config_default(&c);
    c.idlist_threshold = 0;
    cr_assert_eq(lt_recon_new(x, &c, &r), LT_EINVAL);
    c.idlist_threshold = LT_SYNC_MAX_IDLIST + 1;
    cr_assert_eq(lt_recon_new(x, &c, &r), LT_EINVAL);
    lt_recon_config_default(&c);
    c.frame_limit = LT_RECON_MIN_FRAME - 1;
    cr_assert_eq(lt_recon_new(x, &c, &r), LT_EINVAL);
    cr_assert_null(r);
    cr_assert_eq(lt_recon_new(x, NULL, &r), LT_OK);
    lt_buf_t out = LT_BUF_INIT;
    cr_assert_eq(lt_recon_initiate(r, &out), LT_OK);
    cr_assert_eq(lt_recon_initiate(r, &out), LT_EINVAL, "a session starts once");
    lt_buf_free(&out);
    lt_recon_destroy(&r);
    lt_fpindex_destroy(&x);
}

/* ---- refusals ---- */

/* A responder over three items, fed one message: returns its verdict and
 * checks that a refusal leaves it FAILED and says why. */
static lt_err_t feed(const uint8_t *msg, size_t len, lt_sync_item_t items[3])
{
    uint64_t s = 77;
    lt_sync_item_t v[3];
    for (int i = 0; i < 3; i++) {
        v[i].ts = 100 + (uint64_t)i;
        for (int j = 0; j < 4; j++)
            lt_put_u64le(v[i].hash.b + 8 * j, rnd(&s));
    }
    if (items)
        memcpy(items, v, sizeof v);
    lt_fpindex_t *x = lt_fpindex_new();
    cr_assert_eq(lt_fpindex_build(x, v, 3), LT_OK);
    lt_recon_t *r = NULL;
    cr_assert_eq(lt_recon_new(x, NULL, &r), LT_OK);
    lt_buf_t out = LT_BUF_INIT;
    lt_err_t rc = lt_recon_receive(r, msg, len, &out);
    if (rc) {
        cr_assert_eq(lt_recon_state(r), LT_RECON_FAILED);
        cr_assert_eq(out.len, 0);
        cr_assert(lt_recon_errmsg(r)[0], "a refusal says why");
        uint8_t ver = LT_SYNC_VERSION;
        cr_assert_eq(lt_recon_receive(r, &ver, 1, &out), LT_EINVAL, "FAILED is final");
    }
    lt_buf_free(&out);
    lt_recon_destroy(&r);
    lt_fpindex_destroy(&x);
    return rc;
}

static lt_err_t feed_range(const lt_sync_range_t *range, lt_sync_item_t items[3])
{
    lt_buf_t m = LT_BUF_INIT;
    lt_sync_writer_t w;
    cr_assert_eq(lt_sync_writer_begin(&w, &m), LT_OK);
    cr_assert_eq(lt_sync_write_range(&w, range), LT_OK);
    lt_err_t rc = feed(m.data, m.len, items);
    lt_buf_free(&m);
    return rc;
}

Test(recon, malformed_messages_are_refused_not_crashed_on)
{
    static const uint8_t truncated[] = {LT_SYNC_VERSION, 0x85};
    static const uint8_t bad_varint[] = {LT_SYNC_VERSION, 0x81, 0x00, 0x00, 0x00};
    static const uint8_t wrong_version[] = {0x02};
    static const uint8_t out_of_order[] = {LT_SYNC_VERSION, 0x0a, 0x00, 0x00, 0x01, 0x00, 0x00};
    static const uint8_t absurd_count[] = {LT_SYNC_VERSION, 0x00, LT_SYNC_IDLIST, 0xff, 0xff, 0x03};
    static const uint8_t after_inf[] = {LT_SYNC_VERSION, 0x00, 0x00, 0x00, 0x00};
    static const uint8_t bad_mode[] = {LT_SYNC_VERSION, 0x00, 0x09};
    cr_assert_eq(feed(truncated, sizeof truncated, NULL), LT_ETRUNCATED);
    cr_assert_eq(feed(bad_varint, sizeof bad_varint, NULL), LT_EINVAL);
    cr_assert_eq(feed(wrong_version, sizeof wrong_version, NULL), LT_EVERSION);
    cr_assert_eq(feed(wrong_version, 0, NULL), LT_ETRUNCATED);
    cr_assert_eq(feed(out_of_order, sizeof out_of_order, NULL), LT_EINVAL);
    cr_assert_eq(feed(absurd_count, sizeof absurd_count, NULL), LT_EINVAL);
    cr_assert_eq(feed(after_inf, sizeof after_inf, NULL), LT_EINVAL);
    cr_assert_eq(feed(bad_mode, sizeof bad_mode, NULL), LT_EINVAL);
}

Test(recon, an_id_answer_whose_bitmap_does_not_match_our_ids_is_refused)
{
    uint8_t bits = 0x01;
    lt_sync_range_t r = {.mode = LT_SYNC_IDRESP, .bitmap = &bits, .n_bits = 2};
    lt_sync_bound_inf(&r.upper);
    cr_assert_eq(feed_range(&r, NULL), LT_EINVAL, "2 bits for our 3 items");
    r.n_bits = 3;
    cr_assert_eq(feed_range(&r, NULL), LT_OK, "3 bits for our 3 items");
}

Test(recon, an_id_answer_offering_an_id_we_have_is_refused)
{
    lt_sync_item_t items[3];
    uint8_t bits = 0;
    lt_sync_range_t r = {.mode = LT_SYNC_IDRESP, .bitmap = &bits, .n_bits = 3, .n_ids = 1};
    lt_sync_bound_inf(&r.upper);
    uint8_t id[32] = {1};
    r.ids = id;
    cr_assert_eq(feed_range(&r, items), LT_OK, "an id we lack");
    memcpy(id, items[1].hash.b, 32);
    cr_assert_eq(feed_range(&r, items), LT_EINVAL, "an id we have");
}

Test(recon, an_id_list_naming_an_id_twice_is_refused)
{
    uint8_t ids[64];
    memset(ids, 5, sizeof ids);
    lt_sync_range_t r = {.mode = LT_SYNC_IDLIST, .ids = ids, .n_ids = 2};
    lt_sync_bound_inf(&r.upper);
    cr_assert_eq(feed_range(&r, NULL), LT_EINVAL);
    ids[0] = 6;
    cr_assert_eq(feed_range(&r, NULL), LT_OK);
}

Test(recon, random_bytes_never_crash_a_responder)
{
    uint64_t s = 1234;
    uint8_t buf[256];
    int accepted = 0;
    for (int trial = 0; trial < 3000; trial++) {
        size_t len = (size_t)(rnd(&s) % sizeof buf);
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)rnd(&s);
        if (len && trial % 2)
            buf[0] = LT_SYNC_VERSION;
        lt_err_t rc = feed(buf, len, NULL);
        cr_assert(rc == LT_OK || rc == LT_EINVAL || rc == LT_ETRUNCATED || rc == LT_EVERSION,
                  "unexpected %s", lt_errname(rc));
        accepted += rc == LT_OK;
    }
    (void)accepted;
}
