/* What range-based set reconciliation works on (DESIGN.md §7): items, the
 * bounds between them, and the fingerprints of ranges of them.
 *
 * An item is a witnessed intention of a store: (ts, hash), ordered by ts and
 * then by hash. ts is the intention's HLC as one unsigned integer (any
 * encoding of lt_hlc_t that keeps its order); UINT64_MAX is reserved for the
 * bound "infinity", so an item's ts is at most LT_SYNC_TS_MAX.
 *
 * A bound is a point between items: (ts, prefix), standing for the key
 * (ts, prefix padded with zero bytes to 32). An item is below a bound when its
 * (ts, hash) is smaller than that key. Ranges are [lower, upper).
 *
 * The fingerprint of a set of items is the first 16 bytes of
 *   BLAKE2b-256(sum || count, personal LT_PERSONAL_FINGERPRINT)
 * where sum is the sum of the 32-byte hashes read as little-endian integers,
 * modulo 2^256 (32 bytes, little-endian), and count is the number of items
 * (u64 little-endian). Not a plain XOR, which lets a crafted set imitate
 * another (DESIGN.md §7.1); and a sum, unlike a hash of the list, can be
 * kept per subtree of an index and combined in O(log n). */
#ifndef LT_SYNC_ITEM_H
#define LT_SYNC_ITEM_H

#include "weaver/types.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LT_PERSONAL_FINGERPRINT "lattice:fpr:v1\0\0"

#define LT_SYNC_TS_INF  UINT64_MAX       /* the timestamp of the bound "infinity" */
#define LT_SYNC_TS_MAX  (UINT64_MAX - 1) /* the largest timestamp of an item */
#define LT_SYNC_FP_LEN  16
#define LT_SYNC_SUM_LEN 32

typedef struct {
    uint64_t ts;
    lt_hash_t hash;
} lt_sync_item_t;

typedef struct {
    uint64_t ts;
    uint8_t len;                 /* bytes of prefix that count: 0..32 */
    uint8_t prefix[LT_HASH_LEN]; /* zero past len */
} lt_sync_bound_t;

typedef struct {
    uint8_t b[LT_SYNC_FP_LEN];
} lt_sync_fp_t;

/* A sum of hashes modulo 2^256: four 64-bit limbs, least significant first. */
typedef struct {
    uint64_t w[4];
} lt_sync_sum_t;

/* The ts of an intention of HLC (wall_ms, counter), as every node computes
 * it (schemas/sync.md): wall_ms in the high 44 bits, counter in the low 20,
 * each capped at its field's largest value. Monotonic in the HLC, so items
 * keep the causal order; capped fields only make ties, which the hash
 * orders. */
static inline uint64_t lt_sync_ts_of_hlc(uint64_t wall_ms, uint32_t counter)
{
    const uint64_t wall_max = (UINT64_C(1) << 44) - 1, counter_max = (UINT64_C(1) << 20) - 1;
    uint64_t w = wall_ms < wall_max ? wall_ms : wall_max;
    uint64_t c = counter < counter_max ? counter : counter_max;
    return w << 20 | c;
}

/* Total order of items: by ts, then by hash bytes. */
int lt_sync_item_cmp(const lt_sync_item_t *a, const lt_sync_item_t *b);
/* Order of bounds by the key they stand for (len does not matter). */
int lt_sync_bound_cmp(const lt_sync_bound_t *a, const lt_sync_bound_t *b);
/* Whether the item lies below the bound. */
bool lt_sync_item_below(const lt_sync_item_t *it, const lt_sync_bound_t *b);

/* The bound below every item. */
void lt_sync_bound_zero(lt_sync_bound_t *b);
/* The bound above every item ("infinity"). */
void lt_sync_bound_inf(lt_sync_bound_t *b);
bool lt_sync_bound_is_inf(const lt_sync_bound_t *b);
/* The shortest bound c with a < c <= b (a < b required): (b.ts, no prefix)
 * when the timestamps differ, else b's hash cut just past the first byte that
 * differs from a's. */
void lt_sync_bound_between(const lt_sync_item_t *a, const lt_sync_item_t *b, lt_sync_bound_t *out);
/* A short bound just above a: a.ts with the shortest hash prefix greater than
 * a.hash (a.ts + 1 when a.hash is all 0xff bytes). Nothing lies between a and
 * it unless a peer holds an item of the same ts whose hash starts almost like
 * a's. */
void lt_sync_bound_after(const lt_sync_item_t *a, lt_sync_bound_t *out);
/* The bound that is exactly the item's key (32-byte prefix). */
void lt_sync_bound_at(const lt_sync_item_t *a, lt_sync_bound_t *out);

static inline void lt_sync_sum_zero(lt_sync_sum_t *s)
{
    s->w[0] = s->w[1] = s->w[2] = s->w[3] = 0;
}
/* s += the hash read as a little-endian 256-bit integer. */
void lt_sync_sum_add_hash(lt_sync_sum_t *s, const lt_hash_t *h);
/* s += t, s -= t (mod 2^256). */
void lt_sync_sum_add(lt_sync_sum_t *s, const lt_sync_sum_t *t);
void lt_sync_sum_sub(lt_sync_sum_t *s, const lt_sync_sum_t *t);
bool lt_sync_sum_eq(const lt_sync_sum_t *a, const lt_sync_sum_t *b);
/* The 32 little-endian bytes of s. */
void lt_sync_sum_bytes(const lt_sync_sum_t *s, uint8_t out[LT_SYNC_SUM_LEN]);

/* The fingerprint of a set of `count` items whose hashes sum to `sum`. */
void lt_sync_fingerprint(const lt_sync_sum_t *sum, uint64_t count, lt_sync_fp_t *out);
static inline bool lt_sync_fp_eq(const lt_sync_fp_t *a, const lt_sync_fp_t *b)
{
    return memcmp(a->b, b->b, LT_SYNC_FP_LEN) == 0;
}

#endif
