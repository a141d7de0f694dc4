/* Fuzz target: the strict intention decoders. Whatever they accept must be
 * exactly the canonical encoding of what they return (no two byte strings
 * decode to the same intention), with the hash of those bytes. */
#include "weaver/intention.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Re-encodes `in` and aborts unless it gives exactly bytes[0..len). */
static void s_assert_canonical(const lt_intention_t *in, const uint8_t *bytes, size_t len)
{
    if (lt_intention_check(in) != LT_OK || lt_intention_encoded_len(in) != len)
        abort();
    lt_buf_t b = LT_BUF_INIT;
    if (lt_intention_encode(in, &b) != LT_OK)
        abort();
    if (b.len != len || memcmp(b.data, bytes, len) != 0)
        abort();
    lt_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (lt_crypto_init() != LT_OK)
        abort();

    lt_signed_t s;
    if (lt_signed_parse(data, size, &s) == LT_OK) {
        if (s.bytes != data || s.len != size || size < LT_SIG_LEN)
            abort();
        s_assert_canonical(&s.in, data, size - LT_SIG_LEN);
        lt_hash_t h;
        lt_intention_hash(data, size - LT_SIG_LEN, &h);
        if (!lt_hash_eq(&h, &s.hash) || memcmp(s.sig.b, data + size - LT_SIG_LEN, LT_SIG_LEN))
            abort();
    }

    lt_intention_t in;
    if (lt_intention_decode(data, size, &in) == LT_OK) {
        if (in.ops_len && (in.ops < data || in.ops + in.ops_len != data + size))
            abort();
        s_assert_canonical(&in, data, size);
    }
    return 0;
}
