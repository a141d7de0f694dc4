/* The fingerprint index: an in-memory ordered set of sync items (item.h) that
 * answers in O(log n) how many items lie in any range, what their fingerprint
 * is, which item has a given rank and what rank a bound has. Reconciliation
 * asks it for thousands of range fingerprints per session; a scan of the
 * store per question would make a session cost O(n) per round.
 *
 * It is an AVL tree whose nodes carry their subtree's item count and sum of
 * hashes (mod 2^256). The fingerprint of the ranks [lo, hi) comes from the
 * difference of two prefix sums, each one walk from the root. Nodes live in
 * one array and link by 32-bit index, ~88 bytes per item; building from a
 * sorted array is O(n) and lays nodes out in order.
 *
 * Not thread-safe; a reconciliation session borrows the index and it must not
 * change while the session runs. */
#ifndef LT_SYNC_FPINDEX_H
#define LT_SYNC_FPINDEX_H

#include "sync/item.h"
#include "weaver/errors.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The most items an index holds (node indices are 32-bit). */
#define LT_FPINDEX_MAX_ITEMS (UINT32_MAX - 1u)

typedef struct lt_fpindex lt_fpindex_t;

/* An empty index; NULL when out of memory. */
lt_fpindex_t *lt_fpindex_new(void);
/* Frees the index and sets *x_p to NULL; idempotent. */
void lt_fpindex_destroy(lt_fpindex_t **x_p);

/* Replaces the contents with items[0..n), which must be strictly ascending
 * with every ts <= LT_SYNC_TS_MAX (else LT_EINVAL and the index is left
 * unchanged). O(n). */
LT_NODISCARD lt_err_t lt_fpindex_build(lt_fpindex_t *x, const lt_sync_item_t *items, size_t n);
/* Adds one item: LT_EEXIST if it is there already, LT_EINVAL if its ts is
 * above LT_SYNC_TS_MAX, LT_EFULL past LT_FPINDEX_MAX_ITEMS, LT_ENOMEM. */
LT_NODISCARD lt_err_t lt_fpindex_insert(lt_fpindex_t *x, const lt_sync_item_t *it);
/* Removes one item: LT_ENOTFOUND if it is not there. */
LT_NODISCARD lt_err_t lt_fpindex_remove(lt_fpindex_t *x, const lt_sync_item_t *it);

size_t lt_fpindex_count(const lt_fpindex_t *x);
bool lt_fpindex_contains(const lt_fpindex_t *x, const lt_sync_item_t *it);

/* The number of items below b (the rank of the first item at or above b). */
size_t lt_fpindex_rank(const lt_fpindex_t *x, const lt_sync_bound_t *b);
/* The rank of b and the sum of the items below it, in one walk. */
void lt_fpindex_seek(const lt_fpindex_t *x, const lt_sync_bound_t *b, size_t *rank,
                     lt_sync_sum_t *sum);
/* The sum of the hashes of the first `rank` items (rank <= count). */
void lt_fpindex_prefix(const lt_fpindex_t *x, size_t rank, lt_sync_sum_t *sum);
/* The item of rank `rank` (0-based); false when rank >= count. */
bool lt_fpindex_select(const lt_fpindex_t *x, size_t rank, lt_sync_item_t *out);
/* The fingerprint of the items of ranks [lo, hi) (lo <= hi <= count). */
void lt_fpindex_fingerprint(const lt_fpindex_t *x, size_t lo, size_t hi, lt_sync_fp_t *out);
/* The number of items in the range [lo, hi) of bounds, and (when fp is not
 * NULL) their fingerprint. */
size_t lt_fpindex_range(const lt_fpindex_t *x, const lt_sync_bound_t *lo, const lt_sync_bound_t *hi,
                        lt_sync_fp_t *fp);
/* Copies the items of ranks [lo, hi) (lo <= hi <= count) into out, which has
 * room for hi - lo. O(log n + hi - lo). */
void lt_fpindex_items(const lt_fpindex_t *x, size_t lo, size_t hi, lt_sync_item_t *out);

/* Bytes of memory the index holds (for benchmarks). */
size_t lt_fpindex_memory(const lt_fpindex_t *x);
/* Checks every invariant of the tree (order, counts, sums, heights, AVL
 * balance): for tests. O(n). */
bool lt_fpindex_valid(const lt_fpindex_t *x);

#endif
