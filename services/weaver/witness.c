/* Witness record encoding and hashing. */
#include "weaver/witness.h"

#include "weaver/buf.h"
#include "weaver/hash.h"

void lt_witness_encode(const lt_witness_t *w, uint8_t out[LT_WITNESS_LEN])
{
    uint8_t *p = out;
    *p++ = LT_WITNESS_VERSION;
    memcpy(p, w->store_id.b, LT_STORE_ID_LEN);
    p += LT_STORE_ID_LEN;
    lt_put_u64le(p, w->seq);
    p += 8;
    memcpy(p, w->intention.b, LT_HASH_LEN);
    p += LT_HASH_LEN;
    lt_put_u64le(p, w->wall_ms);
    p += 8;
    memcpy(p, w->prev.b, LT_HASH_LEN);
}

lt_err_t lt_witness_decode(const uint8_t *buf, size_t len, lt_witness_t *out)
{
    if (len < 1)
        return LT_ETRUNCATED;
    if (buf[0] != LT_WITNESS_VERSION)
        return LT_EVERSION;
    if (len < LT_WITNESS_LEN)
        return LT_ETRUNCATED;
    if (len > LT_WITNESS_LEN)
        return LT_ETRAILING;
    const uint8_t *p = buf + 1;
    memcpy(out->store_id.b, p, LT_STORE_ID_LEN);
    p += LT_STORE_ID_LEN;
    out->seq = lt_get_u64le(p);
    p += 8;
    memcpy(out->intention.b, p, LT_HASH_LEN);
    p += LT_HASH_LEN;
    out->wall_ms = lt_get_u64le(p);
    p += 8;
    memcpy(out->prev.b, p, LT_HASH_LEN);
    return LT_OK;
}

void lt_witness_hash(const lt_witness_t *w, lt_hash_t *out)
{
    uint8_t bytes[LT_WITNESS_LEN];
    lt_witness_encode(w, bytes);
    lt_hash_personal(LT_PERSONAL_WITNESS, bytes, sizeof bytes, out);
}
