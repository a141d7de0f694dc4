/* Witness records (DESIGN.md §4): the fixed-size canonical encoding, its
 * strict decoder, a hash that covers every field, and the known-answer vectors
 * kept in tests/vectors/witness.txt. */
#include "weaver/errors.h"
#include "weaver/hash.h"
#include "weaver/identity.h"
#include "weaver/witness.h"

#include "vectors.h"

#include <criterion/criterion.h>
#include <string.h>

#define assert_rc(expr, want)                                                                      \
    do {                                                                                           \
        lt_err_t rc_ = (expr);                                                                     \
        cr_assert_eq(rc_, (want), "%s: got %s, want %s", #expr, lt_errname(rc_),                   \
                     lt_errname(want));                                                            \
    } while (0)

static void s_init(void)
{
    cr_assert_eq(lt_crypto_init(), LT_OK);
}

TestSuite(witness, .init = s_init);

static lt_witness_t s_sample(void)
{
    lt_witness_t w;
    memset(&w, 0, sizeof w);
    for (int i = 0; i < LT_STORE_ID_LEN; i++)
        w.store_id.b[i] = (uint8_t)(0x10 + i);
    w.seq = 0x0102030405060708ull;
    memset(w.intention.b, 0xab, LT_HASH_LEN);
    w.wall_ms = 0x1112131415161718ull;
    memset(w.prev.b, 0xcd, LT_HASH_LEN);
    return w;
}

static void s_assert_same(const lt_witness_t *a, const lt_witness_t *b)
{
    cr_assert(lt_store_id_eq(&a->store_id, &b->store_id), "store_id differs");
    cr_assert_eq(a->seq, b->seq);
    cr_assert(lt_hash_eq(&a->intention, &b->intention), "intention differs");
    cr_assert_eq(a->wall_ms, b->wall_ms);
    cr_assert(lt_hash_eq(&a->prev, &b->prev), "prev differs");
}

Test(witness, round_trips)
{
    lt_witness_t w = s_sample();
    uint8_t buf[LT_WITNESS_LEN];
    lt_witness_encode(&w, buf);
    lt_witness_t out;
    memset(&out, 0x77, sizeof out);
    assert_rc(lt_witness_decode(buf, sizeof buf, &out), LT_OK);
    s_assert_same(&w, &out);
    uint8_t again[LT_WITNESS_LEN];
    lt_witness_encode(&out, again);
    cr_assert(memcmp(buf, again, sizeof buf) == 0);
}

Test(witness, a_first_record_with_zero_prev_round_trips)
{
    lt_witness_t w = s_sample();
    w.seq = 1;
    memset(w.prev.b, 0, LT_HASH_LEN);
    uint8_t buf[LT_WITNESS_LEN];
    lt_witness_encode(&w, buf);
    lt_witness_t out;
    assert_rc(lt_witness_decode(buf, sizeof buf, &out), LT_OK);
    s_assert_same(&w, &out);
    cr_assert(lt_hash_is_zero(&out.prev));
}

Test(witness, encoding_is_little_endian_in_field_order)
{
    lt_witness_t w = s_sample();
    uint8_t buf[LT_WITNESS_LEN];
    lt_witness_encode(&w, buf);
    cr_assert_eq(LT_WITNESS_LEN, 97);
    cr_assert_eq(buf[0], LT_WITNESS_VERSION);
    cr_assert(memcmp(buf + 1, w.store_id.b, LT_STORE_ID_LEN) == 0);
    static const uint8_t seq[] = {8, 7, 6, 5, 4, 3, 2, 1};
    cr_assert(memcmp(buf + 17, seq, 8) == 0);
    cr_assert(memcmp(buf + 25, w.intention.b, LT_HASH_LEN) == 0);
    static const uint8_t wall[] = {0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11};
    cr_assert(memcmp(buf + 57, wall, 8) == 0);
    cr_assert(memcmp(buf + 65, w.prev.b, LT_HASH_LEN) == 0);
}

Test(witness, every_proper_prefix_is_truncated)
{
    lt_witness_t w = s_sample();
    uint8_t buf[LT_WITNESS_LEN];
    lt_witness_encode(&w, buf);
    for (size_t len = 0; len < sizeof buf; len++) {
        lt_witness_t out;
        lt_err_t rc = lt_witness_decode(buf, len, &out);
        cr_assert_eq(rc, LT_ETRUNCATED, "prefix of %zu bytes: got %s", len, lt_errname(rc));
    }
}

Test(witness, trailing_bytes_are_rejected)
{
    lt_witness_t w = s_sample();
    uint8_t buf[LT_WITNESS_LEN + 8];
    memset(buf, 0, sizeof buf);
    lt_witness_encode(&w, buf);
    for (size_t extra = 1; extra <= 8; extra++) {
        lt_witness_t out;
        assert_rc(lt_witness_decode(buf, LT_WITNESS_LEN + extra, &out), LT_ETRAILING);
    }
}

Test(witness, an_unknown_version_is_rejected)
{
    lt_witness_t w = s_sample();
    uint8_t buf[LT_WITNESS_LEN];
    lt_witness_encode(&w, buf);
    static const uint8_t versions[] = {0, 2, 0xff};
    for (unsigned i = 0; i < sizeof versions; i++) {
        buf[0] = versions[i];
        lt_witness_t out;
        assert_rc(lt_witness_decode(buf, sizeof buf, &out), LT_EVERSION);
        /* The version is checked first, whatever the length. */
        assert_rc(lt_witness_decode(buf, 1, &out), LT_EVERSION);
        assert_rc(lt_witness_decode(buf, 10, &out), LT_EVERSION);
    }
}

Test(witness, the_hash_changes_with_every_field)
{
    lt_witness_t base = s_sample();
    lt_hash_t h0;
    lt_witness_hash(&base, &h0);

    /* The hash is the personalized BLAKE2b of the canonical bytes. */
    uint8_t buf[LT_WITNESS_LEN];
    lt_witness_encode(&base, buf);
    lt_hash_t direct;
    lt_hash_personal(LT_PERSONAL_WITNESS, buf, sizeof buf, &direct);
    cr_assert(lt_hash_eq(&h0, &direct));
    /* ... and not the intention personalization: a record hash cannot pass
     * for an intention hash. */
    lt_hash_t other;
    lt_hash_personal(LT_PERSONAL_INTENTION, buf, sizeof buf, &other);
    cr_assert(!lt_hash_eq(&h0, &other));

    lt_witness_t variants[10];
    for (int i = 0; i < 10; i++)
        variants[i] = base;
    variants[0].store_id.b[0] ^= 1;
    variants[1].store_id.b[LT_STORE_ID_LEN - 1] ^= 0x80;
    variants[2].seq ^= 1;
    variants[3].seq ^= 1ull << 63;
    variants[4].intention.b[0] ^= 1;
    variants[5].intention.b[LT_HASH_LEN - 1] ^= 0x80;
    variants[6].wall_ms ^= 1;
    variants[7].wall_ms ^= 1ull << 63;
    variants[8].prev.b[0] ^= 1;
    variants[9].prev.b[LT_HASH_LEN - 1] ^= 0x80;
    lt_hash_t seen[11];
    seen[0] = h0;
    for (int i = 0; i < 10; i++) {
        lt_witness_hash(&variants[i], &seen[i + 1]);
        for (int j = 0; j <= i; j++)
            cr_assert(!lt_hash_eq(&seen[i + 1], &seen[j]), "variants %d and %d hash alike", i,
                      j - 1);
    }
}

Test(witness, the_hash_covers_every_bit_of_the_record)
{
    lt_witness_t base = s_sample();
    uint8_t buf[LT_WITNESS_LEN];
    lt_witness_encode(&base, buf);
    lt_hash_t h0;
    lt_witness_hash(&base, &h0);
    /* Every bit after the version byte is a field bit. */
    for (size_t bit = 8; bit < sizeof buf * 8; bit++) {
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        lt_witness_t w;
        assert_rc(lt_witness_decode(buf, sizeof buf, &w), LT_OK);
        lt_hash_t h;
        lt_witness_hash(&w, &h);
        cr_assert(!lt_hash_eq(&h, &h0), "bit %zu does not change the hash", bit);
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
}

/* ---- known-answer vectors (tests/vectors/witness.txt) ------------------- */

Test(witness, known_answer_vectors_match_byte_for_byte)
{
    vec_file_t vf;
    vec_load("witness.txt", &vf);
    cr_assert_geq(vf.n, 2, "expected at least 2 witness vectors");
    lt_hash_t prev_hash;
    memset(prev_hash.b, 0, LT_HASH_LEN);
    for (int v = 0; v < vf.n; v++) {
        const vec_record_t *r = &vf.r[v];
        const char *name = vec_str(r, "name");
        uint8_t seed[LT_SEED_LEN] = {0};
        vec_fixed(r, "seed", seed, sizeof seed);
        lt_identity_t node;
        lt_identity_from_seed(&node, seed);
        lt_pubkey_t want_pk = {{0}};
        vec_fixed(r, "node", want_pk.b, LT_KEY_LEN);
        cr_assert(lt_pubkey_cmp(&node.pk, &want_pk) == 0, "%s: seed does not give node", name);

        lt_witness_t w;
        memset(&w, 0, sizeof w);
        vec_fixed(r, "store_id", w.store_id.b, LT_STORE_ID_LEN);
        w.seq = vec_u64(r, "seq");
        vec_fixed(r, "intention", w.intention.b, LT_HASH_LEN);
        w.wall_ms = vec_u64(r, "wall_ms");
        vec_fixed(r, "prev", w.prev.b, LT_HASH_LEN);
        uint8_t canon[LT_WITNESS_LEN] = {0};
        vec_fixed(r, "canonical", canon, sizeof canon);
        lt_hash_t want_hash = {{0}};
        vec_fixed(r, "hash", want_hash.b, LT_HASH_LEN);
        lt_sig_t want_sig = {{0}};
        vec_fixed(r, "signature", want_sig.b, LT_SIG_LEN);

        /* The vectors are one chain, starting from a zero prev. */
        cr_assert(lt_hash_eq(&w.prev, &prev_hash), "%s: prev is not the previous record", name);
        if (v == 0)
            cr_assert_eq(w.seq, 1);

        uint8_t enc[LT_WITNESS_LEN];
        lt_witness_encode(&w, enc);
        cr_assert(memcmp(enc, canon, sizeof enc) == 0, "%s: canonical bytes differ", name);
        lt_witness_t out;
        assert_rc(lt_witness_decode(canon, sizeof canon, &out), LT_OK);
        s_assert_same(&w, &out);
        lt_hash_t h;
        lt_witness_hash(&w, &h);
        cr_assert(lt_hash_eq(&h, &want_hash), "%s: hash differs", name);
        lt_sig_t sig;
        lt_identity_sign(&node, &h, &sig);
        cr_assert(memcmp(sig.b, want_sig.b, LT_SIG_LEN) == 0, "%s: signature differs", name);
        assert_rc(lt_sig_verify(&node.pk, &want_hash, &want_sig), LT_OK);
        want_sig.b[0] ^= 1;
        assert_rc(lt_sig_verify(&node.pk, &want_hash, &want_sig), LT_ESIGNATURE);
        prev_hash = h;
    }
    vec_free(&vf);
}
