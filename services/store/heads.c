/* Multi-value register with deterministic winner. */
#include "store/heads.h"

#include "weaver/hlc.h"

#include <stdlib.h>

#define S_HEAD_FIXED (LT_HASH_LEN + 8 + 4 + LT_KEY_LEN + 1 + 4)

static lt_err_t s_reserve(lt_heads_t *h, unsigned n)
{
    if (n <= h->cap)
        return LT_OK;
    unsigned cap = h->cap ? h->cap * 2 : 4;
    while (cap < n)
        cap *= 2;
    lt_head_t *v = realloc(h->v, cap * sizeof *v);
    if (!v)
        return LT_ENOMEM;
    h->v = v;
    h->cap = cap;
    return LT_OK;
}

void lt_heads_free(lt_heads_t *h)
{
    free(h->v);
    h->v = NULL;
    h->n = h->cap = 0;
}

lt_err_t lt_heads_decode(const uint8_t *buf, size_t len, lt_heads_t *out)
{
    out->n = 0;
    if (len < 2)
        return LT_ECORRUPT;
    unsigned n = (unsigned)buf[0] | (unsigned)buf[1] << 8;
    const uint8_t *p = buf + 2, *end = buf + len;
    /* Each head takes at least S_HEAD_FIXED bytes: check before allocating,
     * so a corrupt count cannot make a few bytes allocate megabytes. */
    if ((len - 2) / S_HEAD_FIXED < n)
        return LT_ECORRUPT;
    lt_err_t rc = s_reserve(out, n);
    if (rc)
        return rc;
    for (unsigned i = 0; i < n; i++) {
        if ((size_t)(end - p) < S_HEAD_FIXED)
            return LT_ECORRUPT;
        lt_head_t *hd = &out->v[i];
        memcpy(hd->hash.b, p, LT_HASH_LEN);
        p += LT_HASH_LEN;
        hd->hlc.wall_ms = lt_get_u64le(p);
        p += 8;
        hd->hlc.counter = lt_get_u32le(p);
        p += 4;
        memcpy(hd->author.b, p, LT_KEY_LEN);
        p += LT_KEY_LEN;
        uint8_t flags = *p++;
        if (flags & ~1u) /* only bit 0 is defined: anything else was not written by us */
            return LT_ECORRUPT;
        hd->tombstone = flags & 1;
        uint32_t vlen = lt_get_u32le(p);
        p += 4;
        if ((size_t)(end - p) < vlen)
            return LT_ECORRUPT;
        hd->value.p = p;
        hd->value.len = vlen;
        p += vlen;
    }
    if (p != end)
        return LT_ECORRUPT;
    out->n = n;
    return LT_OK;
}

lt_err_t lt_heads_encode(const lt_heads_t *h, lt_buf_t *out)
{
    if (h->n > UINT16_MAX)
        return LT_EINVAL;
    size_t need = 2;
    for (unsigned i = 0; i < h->n; i++)
        need += S_HEAD_FIXED + h->v[i].value.len;
    lt_err_t rc = lt_buf_reserve(out, need);
    if (rc)
        return rc;
    uint8_t *p = out->data + out->len;
    *p++ = (uint8_t)h->n;
    *p++ = (uint8_t)(h->n >> 8);
    for (unsigned i = 0; i < h->n; i++) {
        const lt_head_t *hd = &h->v[i];
        memcpy(p, hd->hash.b, LT_HASH_LEN);
        p += LT_HASH_LEN;
        lt_put_u64le(p, hd->hlc.wall_ms);
        p += 8;
        lt_put_u32le(p, hd->hlc.counter);
        p += 4;
        memcpy(p, hd->author.b, LT_KEY_LEN);
        p += LT_KEY_LEN;
        *p++ = hd->tombstone ? 1 : 0;
        lt_put_u32le(p, (uint32_t)hd->value.len);
        p += 4;
        if (hd->value.len)
            memcpy(p, hd->value.p, hd->value.len);
        p += hd->value.len;
    }
    out->len += need;
    return LT_OK;
}

/* Winner first: higher (HLC, author), then higher hash as a last resort (two
 * intentions of one author at one HLC can only come from a fork). */
static int s_order(const lt_head_t *a, const lt_head_t *b)
{
    int c = lt_hlc_author_cmp(b->hlc, &b->author, a->hlc, &a->author);
    return c ? c : lt_hash_cmp(&b->hash, &a->hash);
}

lt_err_t lt_heads_apply(lt_heads_t *h, const lt_head_t *w, const lt_hash_t *deps, unsigned ndeps)
{
    for (unsigned i = 0; i < h->n; i++)
        if (lt_hash_eq(&h->v[i].hash, &w->hash))
            return LT_OK; /* applied already */
    unsigned k = 0;
    for (unsigned i = 0; i < h->n; i++) {
        bool cited = false;
        for (unsigned j = 0; j < ndeps && !cited; j++)
            cited = lt_hash_eq(&h->v[i].hash, &deps[j]);
        if (!cited)
            h->v[k++] = h->v[i];
    }
    h->n = k;
    lt_err_t rc = s_reserve(h, h->n + 1);
    if (rc)
        return rc;
    unsigned pos = 0;
    while (pos < h->n && s_order(&h->v[pos], w) < 0)
        pos++;
    memmove(&h->v[pos + 1], &h->v[pos], (h->n - pos) * sizeof *h->v);
    h->v[pos] = *w;
    h->n++;
    return LT_OK;
}
