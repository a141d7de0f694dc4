/* The fingerprint index (fpindex.h): an AVL tree augmented with subtree
 * counts and sums, its nodes in one array linked by index. Index 0 is the
 * empty tree: a node with size 0, height 0 and sum 0, so that the walks need
 * no special case for a missing child. */
#include "sync/fpindex.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    lt_sync_sum_t sum; /* of the subtree */
    lt_sync_item_t item;
    uint32_t left, right;
    uint32_t size; /* items in the subtree */
    uint8_t height;
} s_node_t;

struct lt_fpindex {
    s_node_t *nodes; /* nodes[0] is the empty tree */
    uint32_t cap;    /* nodes allocated, nodes[0] included */
    uint32_t used;   /* nodes[1..used) have been handed out */
    uint32_t free;   /* a list of released nodes, linked by left */
    uint32_t root;
};

#define N(t) (x->nodes[(t)])

lt_fpindex_t *lt_fpindex_new(void)
{
    lt_fpindex_t *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->nodes = calloc(1, sizeof *x->nodes);
    if (!x->nodes) {
        free(x);
        return NULL;
    }
    x->cap = 1;
    x->used = 1;
    return x;
}

void lt_fpindex_destroy(lt_fpindex_t **x_p)
{
    if (!x_p || !*x_p)
        return;
    free((*x_p)->nodes);
    free(*x_p);
    *x_p = NULL;
}

static lt_err_t s_reserve(lt_fpindex_t *x, size_t total)
{
    if (total <= x->cap)
        return LT_OK;
    if (total > (size_t)LT_FPINDEX_MAX_ITEMS + 1)
        return LT_EFULL;
    size_t cap = x->cap + x->cap / 2;
    if (cap < total)
        cap = total;
    if (cap < 64)
        cap = 64;
    if (cap > (size_t)LT_FPINDEX_MAX_ITEMS + 1)
        cap = (size_t)LT_FPINDEX_MAX_ITEMS + 1;
    s_node_t *p = realloc(x->nodes, cap * sizeof *p);
    if (!p)
        return LT_ENOMEM;
    x->nodes = p;
    x->cap = (uint32_t)cap;
    return LT_OK;
}

/* Recomputes t's size, height and sum from its children. */
static void s_update(lt_fpindex_t *x, uint32_t t)
{
    s_node_t *n = &N(t);
    const s_node_t *l = &N(n->left), *r = &N(n->right);
    n->size = l->size + r->size + 1;
    n->height = (uint8_t)((l->height > r->height ? l->height : r->height) + 1);
    n->sum = l->sum;
    lt_sync_sum_add_hash(&n->sum, &n->item.hash);
    lt_sync_sum_add(&n->sum, &r->sum);
}

static uint32_t s_rotate_right(lt_fpindex_t *x, uint32_t t)
{
    uint32_t l = N(t).left;
    N(t).left = N(l).right;
    N(l).right = t;
    s_update(x, t);
    s_update(x, l);
    return l;
}

static uint32_t s_rotate_left(lt_fpindex_t *x, uint32_t t)
{
    uint32_t r = N(t).right;
    N(t).right = N(r).left;
    N(r).left = t;
    s_update(x, t);
    s_update(x, r);
    return r;
}

/* Updates t and restores the AVL balance at it; returns the subtree's root. */
static uint32_t s_rebalance(lt_fpindex_t *x, uint32_t t)
{
    int bal = (int)N(N(t).left).height - (int)N(N(t).right).height;
    if (bal > 1) {
        uint32_t l = N(t).left;
        if (N(N(l).left).height < N(N(l).right).height)
            N(t).left = s_rotate_left(x, l);
        return s_rotate_right(x, t);
    }
    if (bal < -1) {
        uint32_t r = N(t).right;
        if (N(N(r).right).height < N(N(r).left).height)
            N(t).right = s_rotate_right(x, r);
        return s_rotate_left(x, t);
    }
    s_update(x, t);
    return t;
}

static uint32_t s_build(lt_fpindex_t *x, const lt_sync_item_t *items, uint32_t lo, uint32_t hi)
{
    if (lo >= hi)
        return 0;
    uint32_t mid = lo + (hi - lo) / 2;
    uint32_t t = mid + 1; /* nodes in rank order: walks of neighbouring ranks share cache */
    N(t).item = items[mid];
    N(t).left = s_build(x, items, lo, mid);
    N(t).right = s_build(x, items, mid + 1, hi);
    s_update(x, t);
    return t;
}

lt_err_t lt_fpindex_build(lt_fpindex_t *x, const lt_sync_item_t *items, size_t n)
{
    if (n > LT_FPINDEX_MAX_ITEMS)
        return LT_EFULL;
    for (size_t i = 0; i < n; i++) {
        if (items[i].ts > LT_SYNC_TS_MAX)
            return LT_EINVAL;
        if (i > 0 && lt_sync_item_cmp(&items[i - 1], &items[i]) >= 0)
            return LT_EINVAL;
    }
    lt_err_t rc = s_reserve(x, n + 1);
    if (rc)
        return rc;
    x->used = (uint32_t)n + 1;
    x->free = 0;
    x->root = s_build(x, items, 0, (uint32_t)n);
    return LT_OK;
}

static uint32_t s_insert(lt_fpindex_t *x, uint32_t t, uint32_t nn, bool *dup)
{
    if (!t)
        return nn;
    int c = lt_sync_item_cmp(&N(nn).item, &N(t).item);
    if (c == 0) {
        *dup = true;
        return t;
    }
    if (c < 0)
        N(t).left = s_insert(x, N(t).left, nn, dup);
    else
        N(t).right = s_insert(x, N(t).right, nn, dup);
    return *dup ? t : s_rebalance(x, t);
}

static void s_release(lt_fpindex_t *x, uint32_t t)
{
    N(t).left = x->free;
    x->free = t;
}

lt_err_t lt_fpindex_insert(lt_fpindex_t *x, const lt_sync_item_t *it)
{
    if (it->ts > LT_SYNC_TS_MAX)
        return LT_EINVAL;
    /* Take the node first: the walk below must not see the array move. */
    uint32_t nn = x->free;
    if (nn) {
        x->free = N(nn).left;
    } else {
        if (N(x->root).size >= LT_FPINDEX_MAX_ITEMS)
            return LT_EFULL;
        lt_err_t rc = s_reserve(x, (size_t)x->used + 1);
        if (rc)
            return rc;
        nn = x->used++;
    }
    N(nn).item = *it;
    N(nn).left = N(nn).right = 0;
    s_update(x, nn);
    bool dup = false;
    x->root = s_insert(x, x->root, nn, &dup);
    if (dup) {
        s_release(x, nn);
        return LT_EEXIST;
    }
    return LT_OK;
}

/* Takes the smallest node out of t's subtree into *min. */
static uint32_t s_remove_min(lt_fpindex_t *x, uint32_t t, uint32_t *min)
{
    if (!N(t).left) {
        *min = t;
        return N(t).right;
    }
    N(t).left = s_remove_min(x, N(t).left, min);
    return s_rebalance(x, t);
}

static uint32_t s_remove(lt_fpindex_t *x, uint32_t t, const lt_sync_item_t *it, bool *found)
{
    if (!t)
        return 0;
    int c = lt_sync_item_cmp(it, &N(t).item);
    if (c < 0) {
        N(t).left = s_remove(x, N(t).left, it, found);
    } else if (c > 0) {
        N(t).right = s_remove(x, N(t).right, it, found);
    } else {
        *found = true;
        uint32_t l = N(t).left, r = N(t).right;
        s_release(x, t);
        if (!l || !r)
            return l ? l : r;
        uint32_t m = 0;
        r = s_remove_min(x, r, &m);
        N(m).left = l;
        N(m).right = r;
        return s_rebalance(x, m);
    }
    return *found ? s_rebalance(x, t) : t;
}

lt_err_t lt_fpindex_remove(lt_fpindex_t *x, const lt_sync_item_t *it)
{
    bool found = false;
    x->root = s_remove(x, x->root, it, &found);
    return found ? LT_OK : LT_ENOTFOUND;
}

size_t lt_fpindex_count(const lt_fpindex_t *x)
{
    return N(x->root).size;
}

bool lt_fpindex_contains(const lt_fpindex_t *x, const lt_sync_item_t *it)
{
    uint32_t t = x->root;
    while (t) {
        int c = lt_sync_item_cmp(it, &N(t).item);
        if (c == 0)
            return true;
        t = c < 0 ? N(t).left : N(t).right;
    }
    return false;
}

size_t lt_fpindex_rank(const lt_fpindex_t *x, const lt_sync_bound_t *b)
{
    size_t rank = 0;
    uint32_t t = x->root;
    while (t) {
        if (lt_sync_item_below(&N(t).item, b)) {
            rank += N(N(t).left).size + 1;
            t = N(t).right;
        } else {
            t = N(t).left;
        }
    }
    return rank;
}

void lt_fpindex_seek(const lt_fpindex_t *x, const lt_sync_bound_t *b, size_t *rank,
                     lt_sync_sum_t *sum)
{
    size_t r = 0;
    lt_sync_sum_zero(sum);
    uint32_t t = x->root;
    while (t) {
        const s_node_t *n = &N(t);
        if (lt_sync_item_below(&n->item, b)) {
            r += N(n->left).size + 1;
            lt_sync_sum_add(sum, &N(n->left).sum);
            lt_sync_sum_add_hash(sum, &n->item.hash);
            t = n->right;
        } else {
            t = n->left;
        }
    }
    *rank = r;
}

void lt_fpindex_prefix(const lt_fpindex_t *x, size_t rank, lt_sync_sum_t *sum)
{
    assert(rank <= lt_fpindex_count(x));
    lt_sync_sum_zero(sum);
    uint32_t t = x->root;
    while (t && rank > 0) {
        const s_node_t *n = &N(t);
        size_t ls = N(n->left).size;
        if (rank < ls) {
            t = n->left;
            continue;
        }
        lt_sync_sum_add(sum, &N(n->left).sum);
        if (rank == ls)
            return;
        lt_sync_sum_add_hash(sum, &n->item.hash);
        rank -= ls + 1;
        t = n->right;
    }
}

bool lt_fpindex_select(const lt_fpindex_t *x, size_t rank, lt_sync_item_t *out)
{
    uint32_t t = x->root;
    while (t) {
        size_t ls = N(N(t).left).size;
        if (rank < ls) {
            t = N(t).left;
        } else if (rank == ls) {
            *out = N(t).item;
            return true;
        } else {
            rank -= ls + 1;
            t = N(t).right;
        }
    }
    return false;
}

void lt_fpindex_fingerprint(const lt_fpindex_t *x, size_t lo, size_t hi, lt_sync_fp_t *out)
{
    assert(lo <= hi);
    lt_sync_sum_t a, b;
    lt_fpindex_prefix(x, hi, &b);
    lt_fpindex_prefix(x, lo, &a);
    lt_sync_sum_sub(&b, &a);
    lt_sync_fingerprint(&b, hi - lo, out);
}

size_t lt_fpindex_range(const lt_fpindex_t *x, const lt_sync_bound_t *lo, const lt_sync_bound_t *hi,
                        lt_sync_fp_t *fp)
{
    size_t rlo, rhi;
    lt_sync_sum_t a, b;
    lt_fpindex_seek(x, lo, &rlo, &a);
    lt_fpindex_seek(x, hi, &rhi, &b);
    if (rhi < rlo) { /* hi below lo: an empty range */
        rhi = rlo;
        b = a;
    }
    if (fp) {
        lt_sync_sum_sub(&b, &a);
        lt_sync_fingerprint(&b, rhi - rlo, fp);
    }
    return rhi - rlo;
}

/* In-order copy of the ranks [lo, hi) of t's subtree, whose first item has
 * rank base. */
static void s_items(const lt_fpindex_t *x, uint32_t t, size_t base, size_t lo, size_t hi,
                    lt_sync_item_t *out)
{
    while (t) {
        const s_node_t *n = &N(t);
        size_t me = base + N(n->left).size;
        if (lo < me)
            s_items(x, n->left, base, lo, hi, out);
        if (lo <= me && me < hi)
            out[me - lo] = n->item;
        if (hi <= me + 1)
            return;
        base = me + 1;
        t = n->right; /* the right subtree as a loop: recursion only goes left */
    }
}

void lt_fpindex_items(const lt_fpindex_t *x, size_t lo, size_t hi, lt_sync_item_t *out)
{
    assert(lo <= hi && hi <= lt_fpindex_count(x));
    if (lo < hi)
        s_items(x, x->root, 0, lo, hi, out);
}

size_t lt_fpindex_memory(const lt_fpindex_t *x)
{
    return sizeof *x + (size_t)x->cap * sizeof(s_node_t);
}

/* Checks t's subtree, whose items must lie strictly between lo and hi (when
 * not NULL); returns its height, or -1 when something is wrong. */
static int s_valid(const lt_fpindex_t *x, uint32_t t, const lt_sync_item_t *lo,
                   const lt_sync_item_t *hi, uint32_t depth)
{
    if (!t)
        return 0;
    if (t >= x->used || depth > 64)
        return -1;
    const s_node_t *n = &N(t);
    if ((lo && lt_sync_item_cmp(lo, &n->item) >= 0) || (hi && lt_sync_item_cmp(&n->item, hi) >= 0))
        return -1;
    int hl = s_valid(x, n->left, lo, &n->item, depth + 1);
    int hr = s_valid(x, n->right, &n->item, hi, depth + 1);
    if (hl < 0 || hr < 0 || hl - hr > 1 || hr - hl > 1)
        return -1;
    int h = (hl > hr ? hl : hr) + 1;
    lt_sync_sum_t sum = N(n->left).sum;
    lt_sync_sum_add_hash(&sum, &n->item.hash);
    lt_sync_sum_add(&sum, &N(n->right).sum);
    if (n->height != h || n->size != N(n->left).size + N(n->right).size + 1 ||
        !lt_sync_sum_eq(&sum, &n->sum))
        return -1;
    return h;
}

bool lt_fpindex_valid(const lt_fpindex_t *x)
{
    const s_node_t *nil = &N(0);
    lt_sync_sum_t zero;
    lt_sync_sum_zero(&zero);
    if (nil->size || nil->height || !lt_sync_sum_eq(&nil->sum, &zero))
        return false;
    return s_valid(x, x->root, NULL, NULL, 0) >= 0;
}
