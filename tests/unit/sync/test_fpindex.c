/* The fingerprint index (services/sync/fpindex.h) against a brute-force model:
 * a sorted array kept beside it through inserts in random order and removes,
 * with every count, rank, select and range fingerprint computed again from
 * the array by code that shares nothing with the index (byte-wise sums,
 * libsodium called directly). Also the fingerprint's known answers
 * (tests/vectors/sync_fingerprint.txt) and its resistance to XOR forgery. */
#include "sync/fpindex.h"
#include "weaver/buf.h"

#include "unit/weaver/vectors.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* ---- the model ---- */

typedef struct {
    lt_sync_item_t *v;
    size_t n, cap;
} model_t;

static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Timestamps from a small range, so that many items share one and the
 * hashes decide their order; hashes sometimes share a long prefix. */
static lt_sync_item_t random_item(uint64_t *s)
{
    lt_sync_item_t it = {0};
    it.ts = rnd(s) % 64;
    for (int j = 0; j < 4; j++)
        lt_put_u64le(it.hash.b + 8 * j, rnd(s));
    if (rnd(s) % 4 == 0)
        memset(it.hash.b, 0xab, 1 + rnd(s) % 8);
    return it;
}

static int item_cmp(const void *a, const void *b)
{
    const lt_sync_item_t *x = a, *y = b;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return memcmp(x->hash.b, y->hash.b, 32);
}

static size_t model_find(const model_t *m, const lt_sync_item_t *it, bool *found)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = item_cmp(&m->v[mid], it);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static bool model_insert(model_t *m, const lt_sync_item_t *it)
{
    bool found;
    size_t at = model_find(m, it, &found);
    if (found)
        return false;
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 64;
        m->v = realloc(m->v, m->cap * sizeof *m->v);
        cr_assert(m->v);
    }
    memmove(m->v + at + 1, m->v + at, (m->n - at) * sizeof *m->v);
    m->v[at] = *it;
    m->n++;
    return true;
}

static bool model_remove(model_t *m, const lt_sync_item_t *it)
{
    bool found;
    size_t at = model_find(m, it, &found);
    if (!found)
        return false;
    memmove(m->v + at, m->v + at + 1, (m->n - at - 1) * sizeof *m->v);
    m->n--;
    return true;
}

/* An independent bound test: is (ts, hash) below (b.ts, prefix padded)? */
static bool below(const lt_sync_item_t *it, const lt_sync_bound_t *b)
{
    if (it->ts != b->ts)
        return it->ts < b->ts;
    uint8_t key[32] = {0};
    memcpy(key, b->prefix, b->len);
    return memcmp(it->hash.b, key, 32) < 0;
}

/* The fingerprint by the book: byte-wise little-endian sum with carries. */
static void brute_fp(const lt_sync_item_t *v, size_t n, uint8_t out[16])
{
    uint8_t in[40] = {0};
    for (size_t i = 0; i < n; i++) {
        unsigned carry = 0;
        for (int k = 0; k < 32; k++) {
            unsigned s = in[k] + v[i].hash.b[k] + carry;
            in[k] = (uint8_t)s;
            carry = s >> 8;
        }
    }
    for (int k = 0; k < 8; k++)
        in[32 + k] = (uint8_t)((uint64_t)n >> (8 * k));
    uint8_t h[32];
    crypto_generichash_blake2b_salt_personal(h, 32, in, 40, NULL, 0, NULL,
                                             (const unsigned char *)"lattice:fpr:v1\0\0");
    memcpy(out, h, 16);
}

/* A random bound: at an item, just after one, between two, or anywhere. */
static lt_sync_bound_t random_bound(const model_t *m, uint64_t *s)
{
    lt_sync_bound_t b;
    memset(&b, 0, sizeof b);
    uint64_t kind = rnd(s) % 5;
    if (m->n == 0 || kind == 0) {
        b.ts = rnd(s) % 70;
        b.len = (uint8_t)(rnd(s) % 3);
        for (int i = 0; i < b.len; i++)
            b.prefix[i] = (uint8_t)rnd(s);
        return b;
    }
    size_t i = (size_t)(rnd(s) % m->n);
    if (kind == 1)
        lt_sync_bound_at(&m->v[i], &b);
    else if (kind == 2)
        lt_sync_bound_after(&m->v[i], &b);
    else if (kind == 3 && i + 1 < m->n)
        lt_sync_bound_between(&m->v[i], &m->v[i + 1], &b);
    else if (rnd(s) % 2)
        lt_sync_bound_zero(&b);
    else
        lt_sync_bound_inf(&b);
    return b;
}

static void check_against_model(const lt_fpindex_t *x, const model_t *m, uint64_t *s, int queries)
{
    cr_assert(lt_fpindex_valid(x), "the tree's invariants are broken");
    cr_assert_eq(lt_fpindex_count(x), m->n);
    for (int q = 0; q < queries; q++) {
        lt_sync_bound_t lo = random_bound(m, s), hi = random_bound(m, s);
        size_t want_lo = 0, want_hi = 0;
        while (want_lo < m->n && below(&m->v[want_lo], &lo))
            want_lo++;
        while (want_hi < m->n && below(&m->v[want_hi], &hi))
            want_hi++;
        cr_assert_eq(lt_fpindex_rank(x, &lo), want_lo, "rank of a bound");
        size_t want_n = want_hi > want_lo ? want_hi - want_lo : 0;
        lt_sync_fp_t fp;
        cr_assert_eq(lt_fpindex_range(x, &lo, &hi, &fp), want_n, "count of a range");
        uint8_t want_fp[16];
        brute_fp(m->v + want_lo, want_n, want_fp);
        cr_assert(memcmp(fp.b, want_fp, 16) == 0, "fingerprint of a range of %zu items", want_n);
        if (want_n) {
            lt_fpindex_fingerprint(x, want_lo, want_hi, &fp);
            cr_assert(memcmp(fp.b, want_fp, 16) == 0, "fingerprint of ranks");
        }
    }
    for (size_t i = 0; i < m->n; i += 1 + m->n / 50) {
        lt_sync_item_t it;
        cr_assert(lt_fpindex_select(x, i, &it));
        cr_assert(item_cmp(&it, &m->v[i]) == 0, "select(%zu)", i);
        cr_assert(lt_fpindex_contains(x, &m->v[i]));
    }
    lt_sync_item_t it;
    cr_assert_not(lt_fpindex_select(x, m->n, &it), "select past the end");
    if (m->n) {
        size_t a = (size_t)(rnd(s) % m->n), b = a + (size_t)(rnd(s) % (m->n - a + 1));
        lt_sync_item_t *got = malloc((b - a + 1) * sizeof *got);
        lt_fpindex_items(x, a, b, got);
        cr_assert(b == a || memcmp(got, m->v + a, (b - a) * sizeof *got) == 0, "items(%zu, %zu)", a,
                  b);
        free(got);
    }
}

static void random_ops(size_t target, uint64_t seed)
{
    uint64_t s = seed;
    lt_fpindex_t *x = lt_fpindex_new();
    cr_assert(x);
    model_t m = {0};
    size_t steps = target * 3 / 2 + 10;
    for (size_t i = 0; i < steps; i++) {
        /* mostly inserts until the target size, then as many removes */
        bool remove = m.n > 0 && (rnd(&s) % 3 == 0 || m.n >= target);
        if (remove) {
            lt_sync_item_t it = m.v[rnd(&s) % m.n];
            cr_assert(model_remove(&m, &it));
            cr_assert_eq(lt_fpindex_remove(x, &it), LT_OK);
            cr_assert_eq(lt_fpindex_remove(x, &it), LT_ENOTFOUND);
        } else {
            lt_sync_item_t it = random_item(&s);
            bool fresh = model_insert(&m, &it);
            cr_assert_eq(lt_fpindex_insert(x, &it), fresh ? LT_OK : LT_EEXIST);
            if (fresh && rnd(&s) % 8 == 0)
                cr_assert_eq(lt_fpindex_insert(x, &it), LT_EEXIST);
        }
        if (i % (1 + steps / 8) == 0)
            check_against_model(x, &m, &s, 40);
    }
    check_against_model(x, &m, &s, 300);
    /* a bulk build of the same items is the same index, as far as any
     * question can tell */
    lt_fpindex_t *y = lt_fpindex_new();
    cr_assert_eq(lt_fpindex_build(y, m.v, m.n), LT_OK);
    check_against_model(y, &m, &s, 300);
    lt_fpindex_destroy(&x);
    lt_fpindex_destroy(&y);
    cr_assert_null(y);
    lt_fpindex_destroy(&y); /* idempotent */
    free(m.v);
}

Test(fpindex, an_empty_index_answers_zero_for_every_range)
{
    model_t m = {0};
    uint64_t s = 1;
    lt_fpindex_t *x = lt_fpindex_new();
    check_against_model(x, &m, &s, 20);
    lt_fpindex_destroy(&x);
}

Test(fpindex, one_item_in_and_out)
{
    random_ops(1, 7);
}

Test(fpindex, small_sets_match_brute_force_through_inserts_and_removes)
{
    for (uint64_t seed = 1; seed <= 40; seed++)
        random_ops(1 + seed % 17, seed);
}

Test(fpindex, ten_thousand_items_match_brute_force)
{
    random_ops(10000, 99);
}

Test(fpindex, build_refuses_unsorted_duplicate_and_infinite_items)
{
    uint64_t s = 3;
    lt_sync_item_t v[3] = {random_item(&s), random_item(&s), random_item(&s)};
    qsort(v, 3, sizeof v[0], item_cmp);
    lt_fpindex_t *x = lt_fpindex_new();
    cr_assert_eq(lt_fpindex_build(x, v, 3), LT_OK);
    lt_sync_item_t bad[3] = {v[1], v[0], v[2]};
    cr_assert_eq(lt_fpindex_build(x, bad, 3), LT_EINVAL);
    lt_sync_item_t dup[3] = {v[0], v[1], v[1]};
    cr_assert_eq(lt_fpindex_build(x, dup, 3), LT_EINVAL);
    lt_sync_item_t inf[3] = {v[0], v[1], v[2]};
    inf[2].ts = LT_SYNC_TS_INF;
    cr_assert_eq(lt_fpindex_build(x, inf, 3), LT_EINVAL);
    cr_assert_eq(lt_fpindex_count(x), 3, "a refused build leaves the index as it was");
    cr_assert_eq(lt_fpindex_insert(x, &inf[2]), LT_EINVAL);
    cr_assert_eq(lt_fpindex_build(x, NULL, 0), LT_OK);
    cr_assert_eq(lt_fpindex_count(x), 0);
    lt_fpindex_destroy(&x);
}

Test(fpindex, fingerprints_match_the_known_answers)
{
    vec_file_t vf;
    vec_load("sync_fingerprint.txt", &vf);
    cr_assert_geq(vf.n, 4);
    for (int i = 0; i < vf.n; i++) {
        const vec_record_t *r = &vf.r[i];
        int n = vec_count(r, "hash");
        lt_sync_item_t items[8];
        cr_assert_leq(n, 8);
        lt_fpindex_t *x = lt_fpindex_new();
        lt_sync_sum_t sum;
        lt_sync_sum_zero(&sum);
        for (int j = 0; j < n; j++) {
            items[j].ts = (uint64_t)j;
            lt_unhex(vec_find(r, "hash", j), items[j].hash.b, 32);
            cr_assert_eq(lt_fpindex_insert(x, &items[j]), LT_OK);
            lt_sync_sum_add_hash(&sum, &items[j].hash);
        }
        uint8_t want[16];
        vec_fixed(r, "fp", want, 16);
        lt_sync_fp_t fp;
        lt_sync_fingerprint(&sum, (uint64_t)n, &fp);
        cr_assert(memcmp(fp.b, want, 16) == 0, "%s: lt_sync_fingerprint", vec_str(r, "name"));
        lt_fpindex_fingerprint(x, 0, (size_t)n, &fp);
        cr_assert(memcmp(fp.b, want, 16) == 0, "%s: the index", vec_str(r, "name"));
        lt_fpindex_destroy(&x);
    }
    vec_free(&vf);
}

Test(fpindex, sets_with_the_same_xor_of_hashes_get_different_fingerprints)
{
    /* {a, b, c} and {d, e, f} with a^b^c == d^e^f and the same count: an
     * XOR fingerprint would call them equal (DESIGN.md §7.1). */
    uint64_t s = 11;
    for (int trial = 0; trial < 100; trial++) {
        lt_sync_item_t one[3], two[3];
        for (int i = 0; i < 3; i++) {
            one[i] = random_item(&s);
            two[i] = random_item(&s);
        }
        for (int k = 0; k < 32; k++)
            two[2].hash.b[k] = one[0].hash.b[k] ^ one[1].hash.b[k] ^ one[2].hash.b[k] ^
                               two[0].hash.b[k] ^ two[1].hash.b[k];
        qsort(one, 3, sizeof one[0], item_cmp);
        qsort(two, 3, sizeof two[0], item_cmp);
        lt_fpindex_t *x = lt_fpindex_new(), *y = lt_fpindex_new();
        cr_assert_eq(lt_fpindex_build(x, one, 3), LT_OK);
        cr_assert_eq(lt_fpindex_build(y, two, 3), LT_OK);
        lt_sync_fp_t fx, fy;
        lt_fpindex_fingerprint(x, 0, 3, &fx);
        lt_fpindex_fingerprint(y, 0, 3, &fy);
        cr_assert_not(lt_sync_fp_eq(&fx, &fy), "equal XOR, yet the fingerprints must differ");
        lt_fpindex_destroy(&x);
        lt_fpindex_destroy(&y);
    }
}

Test(fpindex, the_count_is_part_of_the_fingerprint)
{
    /* {h} and {h, 0}: the same sum, a different count */
    lt_sync_item_t v[2];
    memset(v, 0, sizeof v);
    v[0].ts = 1;
    v[1].ts = 2;
    v[1].hash.b[0] = 9;
    lt_fpindex_t *x = lt_fpindex_new(), *y = lt_fpindex_new();
    cr_assert_eq(lt_fpindex_build(x, v, 2), LT_OK);
    cr_assert_eq(lt_fpindex_build(y, v + 1, 1), LT_OK);
    lt_sync_fp_t fx, fy;
    lt_fpindex_fingerprint(x, 0, 2, &fx);
    lt_fpindex_fingerprint(y, 0, 1, &fy);
    cr_assert_not(lt_sync_fp_eq(&fx, &fy));
    lt_fpindex_destroy(&x);
    lt_fpindex_destroy(&y);
}

Test(fpindex, bounds_between_items_separate_them)
{
    uint64_t s = 5;
    for (int trial = 0; trial < 2000; trial++) {
        lt_sync_item_t a = random_item(&s), b = random_item(&s);
        if (trial % 3 == 0) {
            b.ts = a.ts;
            memcpy(b.hash.b, a.hash.b, (size_t)(rnd(&s) % 32));
        }
        int c = item_cmp(&a, &b);
        if (c == 0)
            continue;
        if (c > 0) {
            lt_sync_item_t t = a;
            a = b;
            b = t;
        }
        lt_sync_bound_t between, after;
        lt_sync_bound_between(&a, &b, &between);
        cr_assert_not(below(&b, &between), "b must not be below the bound between a and b");
        cr_assert(below(&a, &between), "a must be below the bound between a and b");
        lt_sync_bound_after(&a, &after);
        cr_assert(below(&a, &after));
        lt_sync_bound_t at;
        lt_sync_bound_at(&a, &at);
        cr_assert_not(below(&a, &at));
        cr_assert(lt_sync_bound_cmp(&at, &after) < 0);
    }
}
