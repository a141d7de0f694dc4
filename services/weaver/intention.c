/* Canonical intention encoding, hashing and signing. */
#include "weaver/intention.h"

#include "weaver/hash.h"

#include <stdlib.h>

lt_err_t lt_intention_check(const lt_intention_t *in)
{
    if (in->version != LT_INTENTION_VERSION)
        return LT_EVERSION;
    if (in->ndeps > LT_MAX_DEPS)
        return LT_ETOOMANYDEPS;
    if (in->ops_len > LT_MAX_OPS)
        return LT_EOPSTOOLARGE;
    for (unsigned i = 1; i < in->ndeps; i++) {
        int c = lt_hash_cmp(&in->deps[i - 1], &in->deps[i]);
        if (c == 0)
            return LT_EDEPSDUP;
        if (c > 0)
            return LT_EDEPSORDER;
    }
    return LT_OK;
}

size_t lt_intention_encoded_len(const lt_intention_t *in)
{
    return LT_INTENTION_FIXED_LEN + (size_t)in->ndeps * LT_HASH_LEN + in->ops_len;
}

lt_err_t lt_intention_encode(const lt_intention_t *in, lt_buf_t *out)
{
    lt_err_t rc = lt_intention_check(in);
    if (rc)
        return rc;
    size_t n = lt_intention_encoded_len(in);
    rc = lt_buf_reserve(out, n);
    if (rc)
        return rc;
    uint8_t *p = out->data + out->len;
    *p++ = in->version;
    memcpy(p, in->author.b, LT_KEY_LEN);
    p += LT_KEY_LEN;
    lt_put_u64le(p, in->hlc.wall_ms);
    p += 8;
    lt_put_u32le(p, in->hlc.counter);
    p += 4;
    memcpy(p, in->store_id.b, LT_STORE_ID_LEN);
    p += LT_STORE_ID_LEN;
    memcpy(p, in->store_prev.b, LT_HASH_LEN);
    p += LT_HASH_LEN;
    *p++ = in->ndeps;
    for (unsigned i = 0; i < in->ndeps; i++, p += LT_HASH_LEN)
        memcpy(p, in->deps[i].b, LT_HASH_LEN);
    lt_put_u32le(p, in->ops_len);
    p += 4;
    if (in->ops_len)
        memcpy(p, in->ops, in->ops_len);
    out->len += n;
    return LT_OK;
}

lt_err_t lt_intention_decode(const uint8_t *buf, size_t len, lt_intention_t *out)
{
    const uint8_t *p = buf, *end = buf + len;
    if (len < 1)
        return LT_ETRUNCATED;
    out->version = *p++;
    if (out->version != LT_INTENTION_VERSION)
        return LT_EVERSION;
    /* Everything up to and including ndeps. */
    if ((size_t)(end - p) < LT_KEY_LEN + 12 + LT_STORE_ID_LEN + LT_HASH_LEN + 1)
        return LT_ETRUNCATED;
    memcpy(out->author.b, p, LT_KEY_LEN);
    p += LT_KEY_LEN;
    out->hlc.wall_ms = lt_get_u64le(p);
    p += 8;
    out->hlc.counter = lt_get_u32le(p);
    p += 4;
    memcpy(out->store_id.b, p, LT_STORE_ID_LEN);
    p += LT_STORE_ID_LEN;
    memcpy(out->store_prev.b, p, LT_HASH_LEN);
    p += LT_HASH_LEN;
    out->ndeps = *p++;
    if (out->ndeps > LT_MAX_DEPS)
        return LT_ETOOMANYDEPS;
    if ((size_t)(end - p) < (size_t)out->ndeps * LT_HASH_LEN)
        return LT_ETRUNCATED;
    for (unsigned i = 0; i < out->ndeps; i++, p += LT_HASH_LEN) {
        memcpy(out->deps[i].b, p, LT_HASH_LEN);
        if (i > 0) {
            int c = lt_hash_cmp(&out->deps[i - 1], &out->deps[i]);
            if (c == 0)
                return LT_EDEPSDUP;
            if (c > 0)
                return LT_EDEPSORDER;
        }
    }
    if ((size_t)(end - p) < 4)
        return LT_ETRUNCATED;
    out->ops_len = lt_get_u32le(p);
    p += 4;
    if (out->ops_len > LT_MAX_OPS)
        return LT_EOPSTOOLARGE;
    if ((size_t)(end - p) < out->ops_len)
        return LT_ETRUNCATED;
    out->ops = p;
    p += out->ops_len;
    if (p != end)
        return LT_ETRAILING;
    return LT_OK;
}

void lt_intention_hash(const uint8_t *canonical, size_t len, lt_hash_t *out)
{
    lt_hash_personal(LT_PERSONAL_INTENTION, canonical, len, out);
}

lt_err_t lt_intention_sign(const lt_intention_t *in, const lt_identity_t *id, lt_buf_t *out,
                           lt_hash_t *hash)
{
    if (lt_pubkey_cmp(&in->author, &id->pk) != 0)
        return LT_EINVAL;
    size_t start = out->len;
    lt_err_t rc = lt_intention_encode(in, out);
    if (rc)
        return rc;
    rc = lt_buf_reserve(out, LT_SIG_LEN);
    if (rc) {
        out->len = start;
        return rc;
    }
    lt_intention_hash(out->data + start, out->len - start, hash);
    lt_sig_t sig;
    lt_identity_sign(id, hash, &sig);
    memcpy(out->data + out->len, sig.b, LT_SIG_LEN);
    out->len += LT_SIG_LEN;
    return LT_OK;
}

lt_err_t lt_signed_parse(const uint8_t *buf, size_t len, lt_signed_t *out)
{
    if (len < LT_SIG_LEN + LT_INTENTION_FIXED_LEN)
        return LT_ETRUNCATED;
    size_t clen = len - LT_SIG_LEN;
    lt_err_t rc = lt_intention_decode(buf, clen, &out->in);
    if (rc)
        return rc;
    lt_intention_hash(buf, clen, &out->hash);
    memcpy(out->sig.b, buf + clen, LT_SIG_LEN);
    out->bytes = buf;
    out->len = len;
    return LT_OK;
}

lt_err_t lt_signed_verify(const lt_signed_t *s)
{
    return lt_sig_verify(&s->in.author, &s->hash, &s->sig);
}

static int s_hash_qcmp(const void *a, const void *b)
{
    return lt_hash_cmp(a, b);
}

void lt_deps_normalize(lt_hash_t *deps, uint8_t *ndeps)
{
    if (*ndeps < 2)
        return;
    qsort(deps, *ndeps, sizeof *deps, s_hash_qcmp);
    uint8_t w = 1;
    for (uint8_t r = 1; r < *ndeps; r++)
        if (!lt_hash_eq(&deps[r], &deps[w - 1]))
            deps[w++] = deps[r];
    *ndeps = w;
}

unsigned lt_intention_cited(const lt_intention_t *in, lt_hash_t out[LT_MAX_DEPS + 1])
{
    unsigned n = in->ndeps <= LT_MAX_DEPS ? in->ndeps : LT_MAX_DEPS;
    memcpy(out, in->deps, n * sizeof *out);
    if (!lt_hash_is_zero(&in->store_prev))
        out[n++] = in->store_prev;
    return n;
}
