/* The multi-value register (store/heads): concurrent writes stay side by side
 * with a deterministic winner, a write that cites them collapses them, applying
 * is idempotent and order-independent, and the stored encoding is strict. */
#include "store/heads.h"
#include "weaver/hlc.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#define assert_rc(expr, want)                                                                      \
    do {                                                                                           \
        lt_err_t rc_ = (expr);                                                                     \
        cr_assert_eq(rc_, (want), "%s: got %s, want %s", #expr, lt_errname(rc_),                   \
                     lt_errname(want));                                                            \
    } while (0)

/* A write with hash byte `id`, at (wall, counter) by author byte `author`. */
static lt_head_t s_write(uint8_t id, uint64_t wall, uint32_t counter, uint8_t author,
                         const char *value)
{
    lt_head_t w;
    memset(&w, 0, sizeof w);
    memset(w.hash.b, id, LT_HASH_LEN);
    w.hlc.wall_ms = wall;
    w.hlc.counter = counter;
    memset(w.author.b, author, LT_KEY_LEN);
    w.tombstone = value == NULL;
    w.value.p = (const uint8_t *)(value ? value : "");
    w.value.len = value ? strlen(value) : 0;
    return w;
}

static void s_assert_head(const lt_heads_t *h, unsigned i, uint8_t id)
{
    cr_assert_lt(i, h->n);
    cr_assert_eq(h->v[i].hash.b[0], id, "head %u is write %u, want %u", i, h->v[i].hash.b[0], id);
}

static void s_encode(const lt_heads_t *h, lt_buf_t *out)
{
    lt_buf_reset(out);
    assert_rc(lt_heads_encode(h, out), LT_OK);
}

Test(heads, a_first_write_becomes_the_only_head)
{
    lt_heads_t h = LT_HEADS_INIT;
    lt_head_t w = s_write(1, 100, 0, 0xa0, "v1");
    assert_rc(lt_heads_apply(&h, &w, NULL, 0), LT_OK);
    cr_assert_eq(h.n, 1);
    s_assert_head(&h, 0, 1);
    lt_heads_free(&h);
    cr_assert_null(h.v);
    lt_heads_free(&h); /* idempotent */
}

Test(heads, concurrent_writes_give_two_heads_with_the_later_hlc_first)
{
    lt_heads_t h = LT_HEADS_INIT;
    lt_head_t early = s_write(1, 100, 5, 0xff, "early"); /* the higher author does not help */
    lt_head_t late = s_write(2, 100, 6, 0x01, "late");
    assert_rc(lt_heads_apply(&h, &early, NULL, 0), LT_OK);
    assert_rc(lt_heads_apply(&h, &late, NULL, 0), LT_OK);
    cr_assert_eq(h.n, 2);
    s_assert_head(&h, 0, 2);
    s_assert_head(&h, 1, 1);
    lt_heads_free(&h);
}

Test(heads, concurrent_writes_at_one_hlc_are_ordered_by_author)
{
    lt_heads_t h = LT_HEADS_INIT;
    lt_head_t lo = s_write(7, 100, 0, 0x10, "lo");
    lt_head_t hi = s_write(3, 100, 0, 0x20, "hi");
    assert_rc(lt_heads_apply(&h, &hi, NULL, 0), LT_OK);
    assert_rc(lt_heads_apply(&h, &lo, NULL, 0), LT_OK);
    cr_assert_eq(h.n, 2);
    s_assert_head(&h, 0, 3); /* the higher author wins */
    s_assert_head(&h, 1, 7);
    lt_heads_free(&h);
}

Test(heads, a_write_citing_both_heads_collapses_to_one)
{
    lt_heads_t h = LT_HEADS_INIT;
    lt_head_t a = s_write(1, 100, 0, 0xa0, "a"), b = s_write(2, 101, 0, 0xb0, "b");
    assert_rc(lt_heads_apply(&h, &a, NULL, 0), LT_OK);
    assert_rc(lt_heads_apply(&h, &b, NULL, 0), LT_OK);
    cr_assert_eq(h.n, 2);
    /* The merge is older than b by the clock: deps decide, not timestamps. */
    lt_head_t merge = s_write(3, 50, 0, 0x01, "merged");
    lt_hash_t deps[2] = {a.hash, b.hash};
    assert_rc(lt_heads_apply(&h, &merge, deps, 2), LT_OK);
    cr_assert_eq(h.n, 1);
    s_assert_head(&h, 0, 3);
    cr_assert_eq(h.v[0].value.len, 6);
    lt_heads_free(&h);
}

Test(heads, a_write_citing_one_head_keeps_the_other)
{
    lt_heads_t h = LT_HEADS_INIT;
    lt_head_t a = s_write(1, 100, 0, 0xa0, "a"), b = s_write(2, 101, 0, 0xb0, "b");
    assert_rc(lt_heads_apply(&h, &a, NULL, 0), LT_OK);
    assert_rc(lt_heads_apply(&h, &b, NULL, 0), LT_OK);
    lt_head_t c = s_write(3, 102, 0, 0xa0, "c");
    lt_hash_t unrelated;
    memset(unrelated.b, 0x99, LT_HASH_LEN);
    lt_hash_t deps[2] = {unrelated, a.hash};
    assert_rc(lt_heads_apply(&h, &c, deps, 2), LT_OK);
    cr_assert_eq(h.n, 2);
    s_assert_head(&h, 0, 3);
    s_assert_head(&h, 1, 2);
    lt_heads_free(&h);
}

Test(heads, a_tombstone_is_a_head_like_any_other)
{
    lt_heads_t h = LT_HEADS_INIT;
    lt_head_t put = s_write(1, 100, 0, 0xa0, "value");
    lt_head_t del = s_write(2, 100, 1, 0xa0, NULL);
    assert_rc(lt_heads_apply(&h, &put, NULL, 0), LT_OK);
    assert_rc(lt_heads_apply(&h, &del, &put.hash, 1), LT_OK);
    cr_assert_eq(h.n, 1);
    cr_assert(h.v[0].tombstone);
    cr_assert_eq(h.v[0].value.len, 0);
    lt_heads_free(&h);
}

Test(heads, applying_the_same_write_twice_is_idempotent)
{
    lt_heads_t h = LT_HEADS_INIT;
    lt_head_t a = s_write(1, 100, 0, 0xa0, "a"), b = s_write(2, 101, 0, 0xb0, "b");
    assert_rc(lt_heads_apply(&h, &a, NULL, 0), LT_OK);
    assert_rc(lt_heads_apply(&h, &b, NULL, 0), LT_OK);
    lt_buf_t once = LT_BUF_INIT, twice = LT_BUF_INIT;
    s_encode(&h, &once);
    assert_rc(lt_heads_apply(&h, &b, NULL, 0), LT_OK);
    assert_rc(lt_heads_apply(&h, &a, NULL, 0), LT_OK);
    /* A replay keeps its deps from dropping anything: it is a no-op. */
    assert_rc(lt_heads_apply(&h, &b, &a.hash, 1), LT_OK);
    s_encode(&h, &twice);
    cr_assert_eq(h.n, 2);
    cr_assert_eq(once.len, twice.len);
    cr_assert(memcmp(once.data, twice.data, once.len) == 0);
    lt_buf_free(&once);
    lt_buf_free(&twice);
    lt_heads_free(&h);
}

/* Heap's algorithm: calls fn on every permutation of p[0..n). */
static void s_permute(unsigned *p, unsigned n, unsigned k, void (*fn)(const unsigned *, void *),
                      void *ctx)
{
    if (k == 1) {
        fn(p, ctx);
        return;
    }
    s_permute(p, n, k - 1, fn, ctx);
    for (unsigned i = 0; i + 1 < k; i++) {
        unsigned j = (k % 2) ? 0 : i, t = p[j];
        p[j] = p[k - 1];
        p[k - 1] = t;
        s_permute(p, n, k - 1, fn, ctx);
    }
}

typedef struct {
    const lt_head_t *writes;
    unsigned n;
    lt_buf_t first;
    unsigned runs;
    bool seen[3125]; /* orders of 5 writes as base-5 numbers: each tried once */
} s_perm_ctx_t;

static void s_apply_in_order(const unsigned *order, void *arg)
{
    s_perm_ctx_t *c = arg;
    unsigned code = 0;
    for (unsigned i = 0; i < c->n; i++)
        code = code * 5 + order[i];
    cr_assert_not(c->seen[code], "order tried twice");
    c->seen[code] = true;
    lt_heads_t h = LT_HEADS_INIT;
    for (unsigned i = 0; i < c->n; i++)
        assert_rc(lt_heads_apply(&h, &c->writes[order[i]], NULL, 0), LT_OK);
    cr_assert_eq(h.n, c->n);
    lt_buf_t enc = LT_BUF_INIT;
    s_encode(&h, &enc);
    if (c->runs++ == 0) {
        c->first = enc;
    } else {
        cr_assert_eq(enc.len, c->first.len);
        cr_assert(memcmp(enc.data, c->first.data, enc.len) == 0,
                  "the encoding depends on the order of application (run %u)", c->runs);
        lt_buf_free(&enc);
    }
    lt_heads_free(&h);
}

Test(heads, the_encoding_is_the_same_whatever_order_concurrent_writes_arrive_in)
{
    /* Ties everywhere: same HLC with different authors, same author and HLC
     * (a fork: the hash decides), and distinct HLCs. */
    const lt_head_t writes[5] = {
        s_write(1, 100, 0, 0x10, "one"),   s_write(2, 100, 0, 0x20, "two"),
        s_write(3, 100, 0, 0x20, "three"), s_write(4, 99, 7, 0x30, NULL),
        s_write(5, 101, 0, 0x05, "five"),
    };
    static s_perm_ctx_t c;
    c.writes = writes;
    c.n = 5;
    unsigned order[5] = {0, 1, 2, 3, 4};
    s_permute(order, 5, 5, s_apply_in_order, &c);
    cr_assert_eq(c.runs, 120);

    /* And the order is the winner order: (HLC, author, hash) descending. */
    lt_heads_t h = LT_HEADS_INIT;
    assert_rc(lt_heads_decode(c.first.data, c.first.len, &h), LT_OK);
    static const uint8_t want[5] = {5, 3, 2, 1, 4};
    for (unsigned i = 0; i < 5; i++)
        s_assert_head(&h, i, want[i]);
    lt_heads_free(&h);
    lt_buf_free(&c.first);
}

Test(heads, many_concurrent_writes_are_all_kept)
{
    lt_heads_t h = LT_HEADS_INIT;
    lt_head_t w[40];
    for (unsigned i = 0; i < 40; i++) {
        w[i] = s_write((uint8_t)(i + 1), 1000 + (i * 7) % 40, 0, (uint8_t)i, "x");
        assert_rc(lt_heads_apply(&h, &w[i], NULL, 0), LT_OK);
    }
    cr_assert_eq(h.n, 40);
    for (unsigned i = 1; i < h.n; i++)
        cr_assert_gt(
            lt_hlc_author_cmp(h.v[i - 1].hlc, &h.v[i - 1].author, h.v[i].hlc, &h.v[i].author), 0,
            "heads %u and %u are not winner first", i - 1, i);
    lt_heads_free(&h);
}

/* ---- encoding ----------------------------------------------------------- */

Test(heads, the_encoding_round_trips)
{
    lt_heads_t h = LT_HEADS_INIT;
    lt_head_t a = s_write(1, 0x0102030405060708ull, 0x0a0b0c0d, 0xa0, "value-a");
    lt_head_t b = s_write(2, 5, 0, 0xb0, NULL);
    lt_head_t c = s_write(3, 6, 0, 0xc0, "");
    assert_rc(lt_heads_apply(&h, &a, NULL, 0), LT_OK);
    assert_rc(lt_heads_apply(&h, &b, NULL, 0), LT_OK);
    assert_rc(lt_heads_apply(&h, &c, NULL, 0), LT_OK);
    lt_buf_t enc = LT_BUF_INIT;
    s_encode(&h, &enc);
    cr_assert_eq(enc.len, 2 + 3 * (32 + 8 + 4 + 32 + 1 + 4) + 7);
    cr_assert_eq(enc.data[0], 3);
    cr_assert_eq(enc.data[1], 0);

    lt_heads_t d = LT_HEADS_INIT;
    assert_rc(lt_heads_decode(enc.data, enc.len, &d), LT_OK);
    cr_assert_eq(d.n, 3);
    for (unsigned i = 0; i < 3; i++) {
        cr_assert(lt_hash_eq(&d.v[i].hash, &h.v[i].hash));
        cr_assert_eq(lt_hlc_cmp(d.v[i].hlc, h.v[i].hlc), 0);
        cr_assert(lt_pubkey_cmp(&d.v[i].author, &h.v[i].author) == 0);
        cr_assert_eq(d.v[i].tombstone, h.v[i].tombstone);
        cr_assert_eq(d.v[i].value.len, h.v[i].value.len);
        if (d.v[i].value.len) {
            cr_assert(memcmp(d.v[i].value.p, h.v[i].value.p, d.v[i].value.len) == 0);
            cr_assert(d.v[i].value.p >= enc.data && d.v[i].value.p < enc.data + enc.len,
                      "values are views into the input");
        }
    }
    lt_buf_t again = LT_BUF_INIT;
    s_encode(&d, &again);
    cr_assert_eq(again.len, enc.len);
    cr_assert(memcmp(again.data, enc.data, enc.len) == 0);
    lt_buf_free(&again);
    lt_buf_free(&enc);
    lt_heads_free(&d);
    lt_heads_free(&h);
}

Test(heads, an_empty_register_round_trips)
{
    lt_heads_t h = LT_HEADS_INIT;
    lt_buf_t enc = LT_BUF_INIT;
    s_encode(&h, &enc);
    cr_assert_eq(enc.len, 2);
    lt_heads_t d = LT_HEADS_INIT;
    assert_rc(lt_heads_decode(enc.data, enc.len, &d), LT_OK);
    cr_assert_eq(d.n, 0);
    lt_heads_free(&d);
    lt_buf_free(&enc);
}

Test(heads, decode_rejects_truncated_input)
{
    lt_heads_t h = LT_HEADS_INIT;
    lt_head_t a = s_write(1, 100, 0, 0xa0, "aaaa"), b = s_write(2, 101, 0, 0xb0, "bb");
    assert_rc(lt_heads_apply(&h, &a, NULL, 0), LT_OK);
    assert_rc(lt_heads_apply(&h, &b, NULL, 0), LT_OK);
    lt_buf_t enc = LT_BUF_INIT;
    s_encode(&h, &enc);
    for (size_t len = 0; len < enc.len; len++) {
        lt_heads_t d = LT_HEADS_INIT;
        lt_err_t rc = lt_heads_decode(enc.data, len, &d);
        cr_assert_eq(rc, LT_ECORRUPT, "prefix of %zu/%zu bytes: %s", len, enc.len, lt_errname(rc));
        cr_assert_eq(d.n, 0, "a failed decode leaves no heads");
        lt_heads_free(&d);
    }
    /* A count larger than what follows. */
    enc.data[0] = 3;
    lt_heads_t d = LT_HEADS_INIT;
    assert_rc(lt_heads_decode(enc.data, enc.len, &d), LT_ECORRUPT);
    enc.data[0] = 0xff;
    enc.data[1] = 0xff;
    assert_rc(lt_heads_decode(enc.data, enc.len, &d), LT_ECORRUPT);
    /* A value length past the end. */
    enc.data[0] = 1;
    enc.data[1] = 0;
    lt_put_u32le(enc.data + 2 + 32 + 8 + 4 + 32 + 1, UINT32_MAX);
    assert_rc(lt_heads_decode(enc.data, enc.len, &d), LT_ECORRUPT);
    lt_heads_free(&d);
    lt_buf_free(&enc);
    lt_heads_free(&h);
}

Test(heads, decode_rejects_trailing_bytes)
{
    lt_heads_t h = LT_HEADS_INIT;
    lt_head_t a = s_write(1, 100, 0, 0xa0, "aaaa");
    assert_rc(lt_heads_apply(&h, &a, NULL, 0), LT_OK);
    lt_buf_t enc = LT_BUF_INIT;
    s_encode(&h, &enc);
    assert_rc(lt_buf_put_u8(&enc, 0), LT_OK);
    lt_heads_t d = LT_HEADS_INIT;
    assert_rc(lt_heads_decode(enc.data, enc.len, &d), LT_ECORRUPT);
    /* Also after an empty register. */
    static const uint8_t empty_plus[] = {0, 0, 0};
    assert_rc(lt_heads_decode(empty_plus, sizeof empty_plus, &d), LT_ECORRUPT);
    lt_heads_free(&d);
    lt_buf_free(&enc);
    lt_heads_free(&h);
}

Test(heads, decode_rejects_unknown_flag_bits)
{
    lt_heads_t h = LT_HEADS_INIT;
    lt_head_t a = s_write(1, 100, 0, 0xa0, NULL);
    assert_rc(lt_heads_apply(&h, &a, NULL, 0), LT_OK);
    lt_buf_t enc = LT_BUF_INIT;
    s_encode(&h, &enc);
    size_t flags_at = 2 + 32 + 8 + 4 + 32;
    cr_assert_eq(enc.data[flags_at], 1);
    /* Only bit 0 is defined: anything else would decode to a register that
     * encodes differently, i.e. the stored bytes are not what we wrote. */
    for (int bit = 1; bit < 8; bit++) {
        enc.data[flags_at] = (uint8_t)(1 | 1u << bit);
        lt_heads_t d = LT_HEADS_INIT;
        assert_rc(lt_heads_decode(enc.data, enc.len, &d), LT_ECORRUPT);
        lt_heads_free(&d);
    }
    lt_buf_free(&enc);
    lt_heads_free(&h);
}

Test(heads, a_decoded_register_can_be_reused_for_another_decode)
{
    lt_heads_t h = LT_HEADS_INIT, small = LT_HEADS_INIT;
    for (uint8_t i = 1; i <= 9; i++) {
        lt_head_t w = s_write(i, 100 + i, 0, i, "v");
        assert_rc(lt_heads_apply(&h, &w, NULL, 0), LT_OK);
    }
    lt_head_t one = s_write(42, 1, 0, 1, "only");
    assert_rc(lt_heads_apply(&small, &one, NULL, 0), LT_OK);
    lt_buf_t big_enc = LT_BUF_INIT, small_enc = LT_BUF_INIT;
    s_encode(&h, &big_enc);
    s_encode(&small, &small_enc);
    lt_heads_t d = LT_HEADS_INIT;
    assert_rc(lt_heads_decode(small_enc.data, small_enc.len, &d), LT_OK);
    assert_rc(lt_heads_decode(big_enc.data, big_enc.len, &d), LT_OK);
    cr_assert_eq(d.n, 9);
    assert_rc(lt_heads_decode(small_enc.data, small_enc.len, &d), LT_OK);
    cr_assert_eq(d.n, 1);
    s_assert_head(&d, 0, 42);
    lt_heads_free(&d);
    lt_buf_free(&big_enc);
    lt_buf_free(&small_enc);
    lt_heads_free(&small);
    lt_heads_free(&h);
}
