/* Items, bounds and fingerprints of range-based reconciliation (item.h). */
#include "sync/item.h"

#include "weaver/buf.h"
#include "weaver/hash.h"

int lt_sync_item_cmp(const lt_sync_item_t *a, const lt_sync_item_t *b)
{
    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    return memcmp(a->hash.b, b->hash.b, LT_HASH_LEN);
}

int lt_sync_bound_cmp(const lt_sync_bound_t *a, const lt_sync_bound_t *b)
{
    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    return memcmp(a->prefix, b->prefix, LT_HASH_LEN);
}

bool lt_sync_item_below(const lt_sync_item_t *it, const lt_sync_bound_t *b)
{
    if (it->ts != b->ts)
        return it->ts < b->ts;
    return memcmp(it->hash.b, b->prefix, LT_HASH_LEN) < 0;
}

void lt_sync_bound_zero(lt_sync_bound_t *b)
{
    memset(b, 0, sizeof *b);
}

void lt_sync_bound_inf(lt_sync_bound_t *b)
{
    memset(b, 0, sizeof *b);
    b->ts = LT_SYNC_TS_INF;
}

bool lt_sync_bound_is_inf(const lt_sync_bound_t *b)
{
    static const uint8_t zero[LT_HASH_LEN];
    return b->ts == LT_SYNC_TS_INF && memcmp(b->prefix, zero, LT_HASH_LEN) == 0;
}

void lt_sync_bound_between(const lt_sync_item_t *a, const lt_sync_item_t *b, lt_sync_bound_t *out)
{
    memset(out, 0, sizeof *out);
    out->ts = b->ts;
    if (a->ts != b->ts)
        return;
    size_t i = 0;
    while (i < LT_HASH_LEN - 1 && a->hash.b[i] == b->hash.b[i])
        i++;
    memcpy(out->prefix, b->hash.b, i + 1);
    out->len = (uint8_t)(i + 1);
}

void lt_sync_bound_after(const lt_sync_item_t *a, lt_sync_bound_t *out)
{
    memset(out, 0, sizeof *out);
    size_t i = 0;
    while (i < LT_HASH_LEN && a->hash.b[i] == 0xff)
        i++;
    if (i == LT_HASH_LEN) {
        out->ts = a->ts + 1; /* a->ts <= LT_SYNC_TS_MAX, so at most infinity */
        return;
    }
    out->ts = a->ts;
    memcpy(out->prefix, a->hash.b, i);
    out->prefix[i] = (uint8_t)(a->hash.b[i] + 1);
    out->len = (uint8_t)(i + 1);
}

void lt_sync_bound_at(const lt_sync_item_t *a, lt_sync_bound_t *out)
{
    out->ts = a->ts;
    memcpy(out->prefix, a->hash.b, LT_HASH_LEN);
    size_t len = LT_HASH_LEN;
    while (len > 0 && out->prefix[len - 1] == 0)
        len--;
    out->len = (uint8_t)len;
}

void lt_sync_sum_add_hash(lt_sync_sum_t *s, const lt_hash_t *h)
{
    uint64_t carry = 0;
    for (int i = 0; i < 4; i++) {
        uint64_t x = lt_get_u64le(h->b + 8 * i);
        uint64_t r = s->w[i] + x;
        uint64_t c = r < x;
        s->w[i] = r + carry;
        carry = c | (s->w[i] < r);
    }
}

void lt_sync_sum_add(lt_sync_sum_t *s, const lt_sync_sum_t *t)
{
    uint64_t carry = 0;
    for (int i = 0; i < 4; i++) {
        uint64_t r = s->w[i] + t->w[i];
        uint64_t c = r < t->w[i];
        s->w[i] = r + carry;
        carry = c | (s->w[i] < r);
    }
}

void lt_sync_sum_sub(lt_sync_sum_t *s, const lt_sync_sum_t *t)
{
    uint64_t borrow = 0;
    for (int i = 0; i < 4; i++) {
        uint64_t r = s->w[i] - t->w[i];
        uint64_t b = s->w[i] < t->w[i];
        s->w[i] = r - borrow;
        borrow = b | (r < borrow);
    }
}

bool lt_sync_sum_eq(const lt_sync_sum_t *a, const lt_sync_sum_t *b)
{
    return a->w[0] == b->w[0] && a->w[1] == b->w[1] && a->w[2] == b->w[2] && a->w[3] == b->w[3];
}

void lt_sync_sum_bytes(const lt_sync_sum_t *s, uint8_t out[LT_SYNC_SUM_LEN])
{
    for (int i = 0; i < 4; i++)
        lt_put_u64le(out + 8 * i, s->w[i]);
}

void lt_sync_fingerprint(const lt_sync_sum_t *sum, uint64_t count, lt_sync_fp_t *out)
{
    uint8_t in[LT_SYNC_SUM_LEN + 8];
    lt_sync_sum_bytes(sum, in);
    lt_put_u64le(in + LT_SYNC_SUM_LEN, count);
    lt_hash_t h;
    lt_hash_personal(LT_PERSONAL_FINGERPRINT, in, sizeof in, &h);
    memcpy(out->b, h.b, LT_SYNC_FP_LEN);
}
