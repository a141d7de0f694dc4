/* A reconciliation session (recon.h): builds each message range by range from
 * the peer's, over the fingerprint index.
 *
 * Every range of the peer's message is handled all or nothing: its answer is
 * written, then checked against the frame limit, and only if it fits are the
 * ids it taught us (staged meanwhile) kept. A range that does not fit ends the
 * message: everything from its lower bound on goes as one fingerprint (the
 * "rest"), which the peer treats like any other. Ids that a cut-short session
 * learns twice are merged when it ends. */
#include "sync/recon.h"

#include "sync/wire.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* What the last range of a message takes at most when it is the rest: a
 * bound at infinity, a mode and a fingerprint. */
#define S_REST_LEN (1 + 1 + LT_SYNC_FP_LEN)
/* What a SKIP or empty IDLIST range waiting to be merged with the next takes
 * at most once written: a bound, a mode and a zero count. */
#define S_PENDING_LEN (LT_SYNC_MAX_BOUND_LEN + 2)
/* Ranges of at most this many items are split from a copy of their items
 * rather than by walks of the index. */
#define S_SMALL_SPLIT 256
/* Up to which message the newest-item guess (recon.h) is made. */
#define S_TAIL_GUESS_MESSAGES 3

typedef struct {
    lt_hash_t *v;
    size_t n, cap;
} s_hashes_t;

/* An id of a peer's list and its place in the list. */
typedef struct {
    lt_hash_t h;
    uint32_t i;
} s_peer_id_t;

struct lt_recon {
    const lt_fpindex_t *idx;
    lt_recon_config_t cfg;
    lt_recon_state_t state;
    bool initiator;
    uint32_t messages; /* sent and received so far */
    lt_recon_stats_t stats;
    s_hashes_t have, need;             /* learnt */
    s_hashes_t stage_have, stage_need; /* learnt from the range being answered */
    size_t total;                      /* items in the index */
    lt_sync_sum_t total_sum;
    lt_sync_item_t last; /* the newest item, when total > 0 */
    lt_sync_fp_t fp_empty;
    /* scratch, grown as needed */
    lt_sync_item_t *items;
    size_t items_cap;
    lt_sync_item_t *items2;
    size_t items2_cap;
    s_peer_id_t *peer;
    size_t peer_cap;
    uint8_t *flags;
    size_t flags_cap;
    /* the message being built */
    uint32_t m;         /* its number in the session, from 0 */
    bool mismatch_seen; /* a range of the peer's message differed already */
    lt_errbuf_t eb;
};

/* My items of ranks [rlo, rhi), and the sums of the items below each end. */
typedef struct {
    size_t rlo, rhi;
    lt_sync_sum_t slo, shi;
} s_span_t;

/* ---- growable arrays ---- */

static lt_err_t s_grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need == 0)
        need = 1; /* never NULL after a grow: qsort, bsearch and memset want a pointer */
    if (need <= *cap)
        return LT_OK;
    size_t cap2 = *cap ? *cap : 64;
    while (cap2 < need) {
        if (cap2 > SIZE_MAX / 2 / size)
            return LT_ENOMEM;
        cap2 *= 2;
    }
    void *q = realloc(*p, cap2 * size);
    if (!q)
        return LT_ENOMEM;
    *p = q;
    *cap = cap2;
    return LT_OK;
}

static lt_err_t s_hashes_push(s_hashes_t *a, const lt_hash_t *h)
{
    lt_err_t rc = s_grow((void **)&a->v, &a->cap, a->n + 1, sizeof *a->v);
    if (rc)
        return rc;
    a->v[a->n++] = *h;
    return LT_OK;
}

static lt_err_t s_hashes_move(s_hashes_t *to, s_hashes_t *from)
{
    lt_err_t rc = s_grow((void **)&to->v, &to->cap, to->n + from->n, sizeof *to->v);
    if (rc)
        return rc;
    if (from->n)
        memcpy(to->v + to->n, from->v, from->n * sizeof *from->v);
    to->n += from->n;
    from->n = 0;
    return LT_OK;
}

static int s_hash_cmp(const void *a, const void *b)
{
    return memcmp(a, b, LT_HASH_LEN);
}

static void s_hashes_sort_unique(s_hashes_t *a)
{
    if (a->n < 2)
        return;
    qsort(a->v, a->n, sizeof *a->v, s_hash_cmp);
    size_t w = 1;
    for (size_t i = 1; i < a->n; i++)
        if (!lt_hash_eq(&a->v[i], &a->v[w - 1]))
            a->v[w++] = a->v[i];
    a->n = w;
}

static void s_hashes_free(s_hashes_t *a)
{
    free(a->v);
    a->v = NULL;
    a->n = a->cap = 0;
}

/* My items of ranks [lo, hi) into r->items. */
static lt_err_t s_fetch(lt_recon_t *r, size_t lo, size_t hi)
{
    lt_err_t rc = s_grow((void **)&r->items, &r->items_cap, hi - lo, sizeof *r->items);
    if (rc)
        return rc;
    lt_fpindex_items(r->idx, lo, hi, r->items);
    return LT_OK;
}

/* ---- the message being built ---- */

typedef struct {
    lt_sync_writer_t w;
    size_t limit;               /* 0 = none */
    int pending;                /* -1, LT_SYNC_SKIP or LT_SYNC_IDLIST (an empty one) */
    lt_sync_bound_t pend_upper; /* where the pending range ends */
    bool needs_reply;
} s_out_t;

typedef struct {
    s_out_t o;
    size_t len;
} s_snap_t;

static lt_err_t s_out_begin(s_out_t *o, lt_buf_t *buf, size_t limit)
{
    memset(o, 0, sizeof *o);
    o->limit = limit;
    o->pending = -1;
    return lt_sync_writer_begin(&o->w, buf);
}

static s_snap_t s_save(const s_out_t *o)
{
    s_snap_t s = {*o, o->w.out->len};
    return s;
}

static void s_restore(s_out_t *o, const s_snap_t *s)
{
    lt_buf_t *buf = o->w.out;
    *o = s->o;
    buf->len = s->len;
}

/* Whether the message has grown past the frame limit, counting what may
 * still have to follow: the pending range and the rest. */
static bool s_over(const s_out_t *o)
{
    return o->limit && o->w.out->len + S_PENDING_LEN + S_REST_LEN > o->limit;
}

static lt_err_t s_flush(s_out_t *o)
{
    if (o->pending < 0)
        return LT_OK;
    lt_err_t rc = lt_sync_write_head(&o->w, &o->pend_upper, (lt_sync_mode_t)o->pending);
    if (!rc && o->pending == LT_SYNC_IDLIST)
        rc = lt_sync_put_varint(o->w.out, 0);
    o->pending = -1;
    return rc;
}

/* A SKIP or an empty IDLIST up to hi, merged with the pending range when it
 * has the same mode: an empty id list over [a, b) and [b, c) says the same as
 * one over [a, c). */
static lt_err_t s_merge(s_out_t *o, lt_sync_mode_t mode, const lt_sync_bound_t *hi)
{
    lt_err_t rc = LT_OK;
    if (o->pending != (int)mode) {
        rc = s_flush(o);
        o->pending = (int)mode;
    }
    o->pend_upper = *hi;
    if (mode == LT_SYNC_IDLIST)
        o->needs_reply = true;
    return rc;
}

static lt_err_t s_head(s_out_t *o, const lt_sync_bound_t *hi, lt_sync_mode_t mode)
{
    lt_err_t rc = s_flush(o);
    if (!rc)
        rc = lt_sync_write_head(&o->w, hi, mode);
    if (mode == LT_SYNC_FINGERPRINT || mode == LT_SYNC_IDLIST || mode == LT_SYNC_IDRESP_PART)
        o->needs_reply = true;
    return rc;
}

static lt_err_t s_end(s_out_t *o)
{
    if (o->pending == LT_SYNC_SKIP)
        o->pending = -1; /* a trailing SKIP is implied */
    return s_flush(o);
}

/* ---- pieces of messages ---- */

static lt_err_t s_put_ids(s_out_t *o, const lt_sync_item_t *items, size_t n)
{
    lt_err_t rc = lt_sync_put_varint(o->w.out, n);
    if (!rc)
        rc = lt_buf_reserve(o->w.out, n * LT_HASH_LEN);
    for (size_t i = 0; !rc && i < n; i++)
        rc = lt_buf_append(o->w.out, items[i].hash.b, LT_HASH_LEN);
    return rc;
}

/* IDLIST of my items of ranks [rlo, rhi) up to hi. */
static lt_err_t s_write_idlist(lt_recon_t *r, s_out_t *o, const lt_sync_bound_t *hi, size_t rlo,
                               size_t rhi)
{
    lt_err_t rc = s_fetch(r, rlo, rhi);
    if (!rc)
        rc = s_head(o, hi, LT_SYNC_IDLIST);
    if (!rc)
        rc = s_put_ids(o, r->items, rhi - rlo);
    return rc;
}

static lt_err_t s_write_fp(s_out_t *o, const lt_sync_bound_t *hi, const lt_sync_sum_t *sum,
                           size_t count)
{
    lt_sync_fp_t fp;
    lt_sync_fingerprint(sum, count, &fp);
    lt_err_t rc = s_head(o, hi, LT_SYNC_FINGERPRINT);
    if (!rc)
        rc = lt_buf_append(o->w.out, fp.b, LT_SYNC_FP_LEN);
    return rc;
}

/* The answer to an id list over [lo, hi): have[0..nh) are my ids there that
 * the peer lacks, bitmap the peer's ids that I lack. When it does not fit, it
 * is cut to the first *k ids (IDRESP_PART, with cont just past the last one);
 * *wrote is false when not even that fits, and nothing is written then. */
static lt_err_t s_write_idresp(s_out_t *o, const lt_sync_bound_t *lo, const lt_sync_bound_t *hi,
                               const lt_sync_item_t *have, size_t nh, const uint8_t *bitmap,
                               size_t nbits, size_t *k, bool *wrote)
{
    s_snap_t snap = s_save(o);
    size_t n = nh;
    for (;;) {
        bool cut = n < nh;
        lt_err_t rc = s_head(o, hi, cut ? LT_SYNC_IDRESP_PART : LT_SYNC_IDRESP);
        if (!rc)
            rc = s_put_ids(o, have, n);
        if (!rc)
            rc = lt_sync_put_varint(o->w.out, nbits);
        if (!rc)
            rc = lt_buf_append(o->w.out, bitmap, (nbits + 7) / 8);
        if (!rc && cut) {
            /* cont, just past the last id sent, is a delta from lo's timestamp */
            lt_sync_bound_t cont;
            lt_sync_bound_between(&have[n - 1], &have[n], &cont);
            rc = lt_sync_put_varint(o->w.out, cont.ts - lo->ts + 1);
            if (!rc)
                rc = lt_buf_put_u8(o->w.out, cont.len);
            if (!rc)
                rc = lt_buf_append(o->w.out, cont.prefix, cont.len);
        }
        if (rc)
            return rc;
        if (!s_over(o)) {
            *k = n;
            *wrote = true;
            return LT_OK;
        }
        size_t excess = o->w.out->len + S_PENDING_LEN + S_REST_LEN - o->limit;
        s_restore(o, &snap);
        /* room for the cont bound and a longer header on the first cut */
        size_t drop = (excess + (cut ? 0 : LT_SYNC_MAX_BOUND_LEN + 2)) / LT_HASH_LEN + 1;
        if (n <= drop) {
            *k = 0;
            *wrote = false;
            return LT_OK;
        }
        n -= drop;
    }
}

/* ---- splitting ---- */

/* b^k, saturated just past cap. */
static uint64_t s_pow_sat(uint64_t b, uint32_t k, uint64_t cap)
{
    uint64_t v = 1;
    for (uint32_t i = 0; i < k; i++) {
        if (v > cap / b)
            return cap + 1;
        v *= b;
    }
    return v;
}

/* Whether the round budget still shapes the splits. Under a frame limit the
 * session may need more rounds than the budget whatever we do; past the
 * budget, forcing id lists there would only fill each frame with tiny ranges
 * of the rest. */
static bool s_budget(const lt_recon_t *r)
{
    return r->cfg.max_rounds &&
           (!r->cfg.frame_limit || (int64_t)r->m < 2 * (int64_t)r->cfg.max_rounds - 2);
}

/* The parts to split a range of n differing items into (2 <= parts <= n). */
static size_t s_parts(const lt_recon_t *r, size_t n)
{
    uint64_t parts = r->cfg.branching;
    if (s_budget(r)) {
        /* Messages m, m+1, ..., 2R-3 may still split; 2R-2 must list ids and
         * 2R-1, the last, only answers them. */
        int64_t k = 2 * (int64_t)r->cfg.max_rounds - 2 - (int64_t)r->m;
        uint64_t target = (n + r->cfg.idlist_threshold - 1) / r->cfg.idlist_threshold;
        uint64_t need = target;
        if (k >= 2) {
            uint64_t lo = 2, hi = target > 2 ? target : 2; /* smallest b with b^k >= target */
            while (lo < hi) {
                uint64_t mid = lo + (hi - lo) / 2;
                if (s_pow_sat(mid, (uint32_t)k, target) >= target)
                    hi = mid;
                else
                    lo = mid + 1;
            }
            need = lo;
        }
        if (need > parts)
            parts = need;
    }
    if (parts > n)
        parts = n;
    if (parts < 2)
        parts = 2;
    return (size_t)parts;
}

/* Whether the round budget says ids must be listed now, whatever their
 * number. */
static bool s_must_list(const lt_recon_t *r)
{
    return s_budget(r) && (int64_t)r->m >= 2 * (int64_t)r->cfg.max_rounds - 2;
}

/* Fingerprints of `parts` parts of my items of s, the last one ending at
 * `upper` (the range's upper bound, or the bound after my newest item). */
static lt_err_t s_write_split(lt_recon_t *r, s_out_t *o, const s_span_t *s, size_t parts,
                              const lt_sync_bound_t *upper)
{
    size_t n = s->rhi - s->rlo;
    bool small = n <= S_SMALL_SPLIT;
    lt_err_t rc = small ? s_fetch(r, s->rlo, s->rhi) : LT_OK;
    lt_sync_sum_t prev = s->slo;
    size_t at = s->rlo;
    for (size_t i = 1; !rc && i <= parts; i++) {
        size_t end = s->rlo + (size_t)((uint64_t)n * i / parts);
        lt_sync_bound_t b;
        lt_sync_sum_t sum;
        if (i == parts) {
            b = *upper;
            sum = s->shi;
        } else if (small) {
            lt_sync_bound_between(&r->items[end - 1 - s->rlo], &r->items[end - s->rlo], &b);
        } else {
            lt_sync_item_t a, c;
            bool ok = lt_fpindex_select(r->idx, end - 1, &a) && lt_fpindex_select(r->idx, end, &c);
            assert(ok);
            (void)ok;
            lt_sync_bound_between(&a, &c, &b);
            lt_fpindex_prefix(r->idx, end, &sum);
        }
        lt_sync_sum_t part;
        if (small) {
            lt_sync_sum_zero(&part);
            for (size_t j = at; j < end; j++)
                lt_sync_sum_add_hash(&part, &r->items[j - s->rlo].hash);
        } else {
            part = sum;
            lt_sync_sum_sub(&part, &prev);
            prev = sum;
        }
        rc = s_write_fp(o, &b, &part, end - at);
        at = end;
    }
    return rc;
}

/* Answers a range [lo, hi) whose fingerprints differ (or, in the first
 * message, the whole space), where I hold the items of s. *fit is false when
 * no answer fits in the frame; nothing is written then. */
static lt_err_t s_differ(lt_recon_t *r, s_out_t *o, const lt_sync_bound_t *lo,
                         const lt_sync_bound_t *hi, const s_span_t *s, bool peer_empty,
                         bool tail_guess, bool *fit)
{
    size_t n = s->rhi - s->rlo;
    s_snap_t snap = s_save(o);
    lt_err_t rc;
    *fit = true;
    if (n == 0) /* I have nothing here: the peer answers with all it has */
        return s_merge(o, LT_SYNC_IDLIST, hi);
    if (peer_empty) {
        /* The peer has nothing here: all mine, final. */
        if ((rc = s_fetch(r, s->rlo, s->rhi)))
            return rc;
        size_t k;
        if ((rc = s_write_idresp(o, lo, hi, r->items, n, NULL, 0, &k, fit)))
            return rc;
        for (size_t i = 0; !rc && *fit && i < k; i++)
            rc = s_hashes_push(&r->stage_have, &r->items[i].hash);
        return rc;
    }
    if (n <= LT_SYNC_MAX_IDLIST && (n <= r->cfg.idlist_threshold || s_must_list(r))) {
        if ((rc = s_write_idlist(r, o, hi, s->rlo, s->rhi)))
            return rc;
        if (!s_over(o))
            return LT_OK;
        s_restore(o, &snap);
        if (n < 2) {
            *fit = false;
            return LT_OK;
        }
    }
    /* Cut after my newest item when it lies here: the peer's newer items
     * then come back as the answer to an empty id list. */
    lt_sync_bound_t tb;
    bool tail = false;
    if (s->rhi == r->total) {
        lt_sync_bound_after(&r->last, &tb);
        tail = lt_sync_bound_cmp(&tb, hi) < 0;
    }
    if (tail && tail_guess) {
        lt_sync_sum_t sum = s->shi;
        lt_sync_sum_sub(&sum, &s->slo);
        rc = s_write_fp(o, &tb, &sum, n);
        if (!rc)
            rc = s_merge(o, LT_SYNC_IDLIST, hi);
        if (rc || !s_over(o))
            return rc;
        s_restore(o, &snap);
    }
    size_t parts = s_parts(r, n);
    if (o->limit) { /* at most what the room left can hold, at ~24 bytes a part */
        size_t used = o->w.out->len + S_PENDING_LEN + S_REST_LEN;
        size_t fit_parts = used < o->limit ? (o->limit - used) / 24 : 0;
        if (parts > fit_parts)
            parts = fit_parts < 2 ? 2 : fit_parts;
    }
    for (;;) {
        rc = s_write_split(r, o, s, parts, tail ? &tb : hi);
        if (!rc && tail)
            rc = s_merge(o, LT_SYNC_IDLIST, hi);
        if (rc || !s_over(o))
            return rc;
        s_restore(o, &snap);
        if (parts == 2) {
            *fit = false;
            return LT_OK;
        }
        parts = parts / 2 < 2 ? 2 : parts / 2;
    }
}

/* ---- answering the peer's ranges ---- */

static int s_peer_id_cmp(const void *a, const void *b)
{
    return memcmp(a, b, LT_HASH_LEN);
}

/* Sorts a copy of the peer's ids; LT_EINVAL if one is listed twice. */
static lt_err_t s_sort_peer_ids(lt_recon_t *r, const uint8_t *ids, size_t n)
{
    lt_err_t rc = s_grow((void **)&r->peer, &r->peer_cap, n, sizeof *r->peer);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        memcpy(r->peer[i].h.b, ids + i * LT_HASH_LEN, LT_HASH_LEN);
        r->peer[i].i = (uint32_t)i;
    }
    qsort(r->peer, n, sizeof *r->peer, s_peer_id_cmp);
    for (size_t i = 1; i < n; i++)
        if (lt_hash_eq(&r->peer[i].h, &r->peer[i - 1].h))
            return lt_fail(&r->eb, LT_EINVAL, "sync: the peer lists an id twice in one range");
    return LT_OK;
}

static const s_peer_id_t *s_find_peer_id(const lt_recon_t *r, size_t n, const lt_hash_t *h)
{
    return bsearch(h, r->peer, n, sizeof *r->peer, s_peer_id_cmp);
}

/* The peer listed its ids of [lo, hi): answer with mine it lacks and a
 * bitmap of its that I lack. */
static lt_err_t s_on_idlist(lt_recon_t *r, s_out_t *o, const lt_sync_range_t *in, const s_span_t *s,
                            bool *fit, bool *cut)
{
    size_t n = s->rhi - s->rlo, np = in->n_ids;
    lt_err_t rc = s_sort_peer_ids(r, in->ids, np);
    if (!rc)
        rc = s_fetch(r, s->rlo, s->rhi);
    if (!rc)
        rc = s_grow((void **)&r->items2, &r->items2_cap, n, sizeof *r->items2);
    if (!rc)
        rc = s_grow((void **)&r->flags, &r->flags_cap, np + (np + 7) / 8, 1);
    if (rc)
        return rc;
    uint8_t *matched = r->flags, *bitmap = r->flags + np;
    memset(r->flags, 0, np + (np + 7) / 8);
    size_t nh = 0;
    for (size_t i = 0; i < n; i++) {
        const s_peer_id_t *p = s_find_peer_id(r, np, &r->items[i].hash);
        if (p)
            matched[p->i] = 1;
        else
            r->items2[nh++] = r->items[i];
    }
    size_t missing = 0;
    for (size_t i = 0; i < np; i++) {
        if (matched[i])
            continue;
        missing++;
        bitmap[i / 8] |= (uint8_t)(1u << (i % 8));
        lt_hash_t h;
        memcpy(h.b, in->ids + i * LT_HASH_LEN, LT_HASH_LEN);
        if ((rc = s_hashes_push(&r->stage_need, &h)))
            return rc;
    }
    *fit = true;
    *cut = false;
    if (nh == 0 && missing == 0)
        return s_merge(o, LT_SYNC_SKIP, &in->upper); /* the same ids on both sides */
    r->mismatch_seen = true;
    size_t k;
    if ((rc = s_write_idresp(o, &in->lower, &in->upper, r->items2, nh, bitmap, np, &k, fit)))
        return rc;
    if (!*fit)
        return LT_OK;
    *cut = k < nh;
    for (size_t i = 0; !rc && i < k; i++)
        rc = s_hashes_push(&r->stage_have, &r->items2[i].hash);
    return rc;
}

/* The peer answered our id list of [lo, hi): learn from it. */
static lt_err_t s_on_idresp(lt_recon_t *r, const lt_sync_range_t *in, const s_span_t *s)
{
    size_t n = s->rhi - s->rlo;
    if (in->n_bits != n)
        return lt_fail(&r->eb, LT_EINVAL,
                       "sync: an id answer has a bitmap of %zu bits for the %zu ids we hold there",
                       in->n_bits, n);
    lt_err_t rc = s_sort_peer_ids(r, in->ids, in->n_ids);
    if (!rc)
        rc = s_fetch(r, s->rlo, s->rhi);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (s_find_peer_id(r, in->n_ids, &r->items[i].hash))
            return lt_fail(&r->eb, LT_EINVAL, "sync: an id answer offers an id we have");
        if ((in->bitmap[i / 8] >> (i % 8)) & 1)
            if ((rc = s_hashes_push(&r->stage_have, &r->items[i].hash)))
                return rc;
    }
    for (size_t i = 0; i < in->n_ids; i++)
        if ((rc = s_hashes_push(&r->stage_need, &r->peer[i].h)))
            return rc;
    return LT_OK;
}

/* Everything from the current point on, as one range: the message ends. */
static lt_err_t s_write_rest(lt_recon_t *r, s_out_t *o, size_t rlo, const lt_sync_sum_t *slo)
{
    lt_sync_bound_t inf;
    lt_sync_bound_inf(&inf);
    if (rlo == r->total) {
        lt_err_t rc = s_head(o, &inf, LT_SYNC_IDLIST);
        return rc ? rc : lt_sync_put_varint(o->w.out, 0);
    }
    lt_sync_sum_t sum = r->total_sum;
    lt_sync_sum_sub(&sum, slo);
    return s_write_fp(o, &inf, &sum, r->total - rlo);
}

/* Answers one range of the peer's message. *fit false: nothing fits, end the
 * message before it; *cut: the answer was cut short, end the message after
 * it. */
static lt_err_t s_on_range(lt_recon_t *r, s_out_t *o, const lt_sync_range_t *in, const s_span_t *s,
                           bool *fit, bool *cut)
{
    *fit = true;
    *cut = false;
    size_t n = s->rhi - s->rlo;
    switch (in->mode) {
    case LT_SYNC_SKIP:
        return s_merge(o, LT_SYNC_SKIP, &in->upper);
    case LT_SYNC_FINGERPRINT: {
        lt_sync_sum_t sum = s->shi;
        lt_sync_sum_sub(&sum, &s->slo);
        lt_sync_fp_t mine;
        lt_sync_fingerprint(&sum, n, &mine);
        if (lt_sync_fp_eq(&mine, &in->fp))
            return s_merge(o, LT_SYNC_SKIP, &in->upper);
        bool guess = !r->mismatch_seen && r->m < S_TAIL_GUESS_MESSAGES;
        r->mismatch_seen = true;
        return s_differ(r, o, &in->lower, &in->upper, s, lt_sync_fp_eq(&in->fp, &r->fp_empty),
                        guess, fit);
    }
    case LT_SYNC_IDLIST:
        return s_on_idlist(r, o, in, s, fit, cut);
    case LT_SYNC_IDRESP:
        if (in->n_ids || n)
            r->mismatch_seen = true;
        {
            lt_err_t rc = s_on_idresp(r, in, s);
            return rc ? rc : s_merge(o, LT_SYNC_SKIP, &in->upper);
        }
    case LT_SYNC_IDRESP_PART: {
        r->mismatch_seen = true;
        lt_err_t rc = s_on_idresp(r, in, s);
        if (rc)
            return rc;
        /* The peer's answer stopped at cont: list my ids from there again. */
        s_span_t rest = *s;
        lt_fpindex_seek(r->idx, &in->cont, &rest.rlo, &rest.slo);
        size_t nr = rest.rhi - rest.rlo;
        s_snap_t snap = s_save(o);
        if ((rc = s_merge(o, LT_SYNC_SKIP, &in->cont)))
            return rc;
        if (nr <= LT_SYNC_MAX_IDLIST) {
            if ((rc = s_write_idlist(r, o, &in->upper, rest.rlo, rest.rhi)))
                return rc;
            if (!s_over(o))
                return LT_OK;
            s_restore(o, &snap);
            if ((rc = s_merge(o, LT_SYNC_SKIP, &in->cont)))
                return rc;
        }
        if ((rc = s_differ(r, o, &in->cont, &in->upper, &rest, false, false, fit)))
            return rc;
        if (!*fit)
            s_restore(o, &snap);
        return LT_OK;
    }
    default:
        return lt_fail(&r->eb, LT_EINVAL, "sync: unknown range mode %d", (int)in->mode);
    }
}

/* ---- the session ---- */

void lt_recon_config_default(lt_recon_config_t *cfg)
{
    cfg->branching = LT_RECON_DEFAULT_BRANCHING;
    cfg->idlist_threshold = LT_RECON_DEFAULT_THRESHOLD;
    cfg->max_rounds = LT_RECON_DEFAULT_MAX_ROUNDS;
    cfg->frame_limit = 0;
}

lt_err_t lt_recon_new(const lt_fpindex_t *idx, const lt_recon_config_t *cfg, lt_recon_t **out)
{
    *out = NULL;
    lt_recon_config_t def;
    if (!cfg) {
        lt_recon_config_default(&def);
        cfg = &def;
    }
    if (!idx || cfg->branching < 2 || cfg->idlist_threshold < 1 ||
        cfg->idlist_threshold > LT_SYNC_MAX_IDLIST || cfg->max_rounds > 1000 ||
        (cfg->frame_limit && cfg->frame_limit < LT_RECON_MIN_FRAME))
        return LT_EINVAL;
    lt_recon_t *r = calloc(1, sizeof *r);
    if (!r)
        return LT_ENOMEM;
    r->idx = idx;
    r->cfg = *cfg;
    r->state = LT_RECON_IDLE;
    r->total = lt_fpindex_count(idx);
    lt_fpindex_prefix(idx, r->total, &r->total_sum);
    if (r->total)
        lt_fpindex_select(idx, r->total - 1, &r->last);
    lt_sync_sum_t zero;
    lt_sync_sum_zero(&zero);
    lt_sync_fingerprint(&zero, 0, &r->fp_empty);
    *out = r;
    return LT_OK;
}

void lt_recon_destroy(lt_recon_t **r_p)
{
    if (!r_p || !*r_p)
        return;
    lt_recon_t *r = *r_p;
    s_hashes_free(&r->have);
    s_hashes_free(&r->need);
    s_hashes_free(&r->stage_have);
    s_hashes_free(&r->stage_need);
    free(r->items);
    free(r->items2);
    free(r->peer);
    free(r->flags);
    free(r);
    *r_p = NULL;
}

static lt_err_t s_commit(lt_recon_t *r)
{
    lt_err_t rc = s_hashes_move(&r->have, &r->stage_have);
    return rc ? rc : s_hashes_move(&r->need, &r->stage_need);
}

static void s_discard(lt_recon_t *r)
{
    r->stage_have.n = r->stage_need.n = 0;
}

static void s_sent(lt_recon_t *r, const s_out_t *o, const lt_buf_t *out)
{
    r->stats.bytes_sent += out->len;
    r->stats.messages_sent++;
    r->messages++;
    r->state = o->needs_reply ? LT_RECON_AWAITING : LT_RECON_DONE;
}

static void s_done(lt_recon_t *r)
{
    r->state = LT_RECON_DONE;
    s_hashes_sort_unique(&r->have);
    s_hashes_sort_unique(&r->need);
}

lt_err_t lt_recon_initiate(lt_recon_t *r, lt_buf_t *out)
{
    if (r->state != LT_RECON_IDLE)
        return lt_fail(&r->eb, LT_EINVAL, "sync: initiate on a session already started");
    r->initiator = true;
    r->m = 0;
    r->mismatch_seen = false;
    s_out_t o;
    lt_err_t rc = s_out_begin(&o, out, r->cfg.frame_limit);
    if (rc)
        return rc;
    lt_sync_bound_t zero, inf;
    lt_sync_bound_zero(&zero);
    lt_sync_bound_inf(&inf);
    s_span_t all = {0, r->total, {{0}}, r->total_sum};
    bool fit;
    rc = s_differ(r, &o, &zero, &inf, &all, false, false, &fit);
    if (!rc && fit)
        rc = s_commit(r);
    if (!rc && !fit) {
        s_discard(r);
        rc = s_write_rest(r, &o, 0, &all.slo);
    }
    if (!rc)
        rc = s_end(&o);
    if (rc) {
        s_discard(r);
        return rc;
    }
    s_sent(r, &o, out);
    return LT_OK;
}

static lt_err_t s_fail(lt_recon_t *r, lt_err_t rc, lt_buf_t *out)
{
    s_discard(r);
    lt_buf_reset(out);
    r->state = LT_RECON_FAILED;
    return rc;
}

lt_err_t lt_recon_receive(lt_recon_t *r, const uint8_t *msg, size_t len, lt_buf_t *out)
{
    lt_buf_reset(out);
    if (r->state != LT_RECON_IDLE && r->state != LT_RECON_AWAITING)
        return lt_fail(&r->eb, LT_EINVAL, "sync: a message after the session ended");
    lt_errbuf_clear(&r->eb);
    bool needs_reply;
    lt_err_t rc = lt_sync_msg_check(msg, len, &needs_reply, &r->eb);
    if (rc)
        return s_fail(r, rc, out);
    r->stats.bytes_received += len;
    r->stats.messages_received++;
    r->messages++;
    r->m = r->messages;
    r->mismatch_seen = false;

    s_out_t o;
    lt_sync_reader_t rd;
    if ((rc = s_out_begin(&o, out, r->cfg.frame_limit)) ||
        (rc = lt_sync_reader_init(&rd, msg, len, &r->eb)))
        return s_fail(r, rc, out);
    s_span_t s = {0, 0, {{0}}, {{0}}};
    lt_sync_range_t in;
    bool got;
    while ((rc = lt_sync_reader_next(&rd, &in, &got, &r->eb)) == LT_OK && got) {
        if (lt_sync_bound_is_inf(&in.upper)) {
            s.rhi = r->total;
            s.shi = r->total_sum;
        } else {
            lt_fpindex_seek(r->idx, &in.upper, &s.rhi, &s.shi);
        }
        bool fit, cut;
        s_snap_t snap = s_save(&o);
        if ((rc = s_on_range(r, &o, &in, &s, &fit, &cut)))
            break;
        /* The handlers check what they write; merging a SKIP or an empty
         * IDLIST writes out the pending range of the other kind, checked here. */
        if (fit && s_over(&o))
            fit = false;
        if (!fit) {
            s_restore(&o, &snap);
            s_discard(r);
            rc = s_write_rest(r, &o, s.rlo, &s.slo);
            break;
        }
        if ((rc = s_commit(r)))
            break;
        if (cut) {
            if (!lt_sync_bound_is_inf(&in.upper))
                rc = s_write_rest(r, &o, s.rhi, &s.shi);
            break;
        }
        s.rlo = s.rhi;
        s.slo = s.shi;
    }
    if (!rc)
        rc = s_end(&o);
    if (rc)
        return s_fail(r, rc, out);
    if (!needs_reply) {
        /* A final message is not answered; answering it cannot have asked
         * anything of the peer either. */
        assert(!o.needs_reply);
        lt_buf_reset(out);
        s_done(r);
        return LT_OK;
    }
    s_sent(r, &o, out);
    if (r->state == LT_RECON_DONE)
        s_done(r);
    return LT_OK;
}

lt_recon_state_t lt_recon_state(const lt_recon_t *r)
{
    return r->state;
}

bool lt_recon_is_initiator(const lt_recon_t *r)
{
    return r->initiator;
}

const lt_hash_t *lt_recon_have(const lt_recon_t *r, size_t *n)
{
    *n = r->have.n;
    return r->have.v;
}

const lt_hash_t *lt_recon_need(const lt_recon_t *r, size_t *n)
{
    *n = r->need.n;
    return r->need.v;
}

void lt_recon_stats(const lt_recon_t *r, lt_recon_stats_t *out)
{
    *out = r->stats;
}

const char *lt_recon_errmsg(const lt_recon_t *r)
{
    return r->eb.msg;
}
