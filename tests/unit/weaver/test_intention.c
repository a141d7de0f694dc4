/* The intention's canonical encoding (DESIGN.md §4): round trips at the limits,
 * every rejection path with its exact error code, signing and verification,
 * tamper detection bit by bit, and the known-answer vectors kept in
 * tests/vectors/intention.txt. */
#include "weaver/errors.h"
#include "weaver/hash.h"
#include "weaver/identity.h"
#include "weaver/intention.h"

#include "support/testutil.h"
#include "vectors.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#define assert_rc(expr, want)                                                                      \
    do {                                                                                           \
        lt_err_t rc_ = (expr);                                                                     \
        cr_assert_eq(rc_, (want), "%s: got %s, want %s", #expr, lt_errname(rc_),                   \
                     lt_errname(want));                                                            \
    } while (0)

/* Offsets into the canonical bytes. */
#define S_OFF_NDEPS (1 + LT_KEY_LEN + 8 + 4 + LT_STORE_ID_LEN + LT_HASH_LEN)
#define S_OFF_DEPS  (S_OFF_NDEPS + 1)

static void s_init(void)
{
    cr_assert_eq(lt_crypto_init(), LT_OK);
}

TestSuite(intention, .init = s_init);

/* Distinct, ascending dependency hashes: dep i is i+1 repeated (so dep 0 is
 * not zero and byte order is obvious). */
static void s_deps(lt_hash_t *deps, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        memset(deps[i].b, (int)(i + 1), LT_HASH_LEN);
}

/* A valid intention by id with ndeps deps and the given ops. */
static void s_sample(lt_intention_t *in, const lt_identity_t *id, unsigned ndeps,
                     const uint8_t *ops, uint32_t ops_len)
{
    memset(in, 0, sizeof *in);
    in->version = LT_INTENTION_VERSION;
    in->author = id->pk;
    in->hlc.wall_ms = 1700000000000ull;
    in->hlc.counter = 3;
    for (int i = 0; i < LT_STORE_ID_LEN; i++)
        in->store_id.b[i] = (uint8_t)(0xa0 + i);
    memset(in->store_prev.b, 0x5c, LT_HASH_LEN);
    in->ndeps = (uint8_t)ndeps;
    s_deps(in->deps, ndeps);
    in->ops = ops;
    in->ops_len = ops_len;
}

static void s_assert_same(const lt_intention_t *a, const lt_intention_t *b)
{
    cr_assert_eq(a->version, b->version);
    cr_assert(lt_pubkey_cmp(&a->author, &b->author) == 0, "author differs");
    cr_assert_eq(a->hlc.wall_ms, b->hlc.wall_ms);
    cr_assert_eq(a->hlc.counter, b->hlc.counter);
    cr_assert(lt_store_id_eq(&a->store_id, &b->store_id), "store_id differs");
    cr_assert(lt_hash_eq(&a->store_prev, &b->store_prev), "store_prev differs");
    cr_assert_eq(a->ndeps, b->ndeps);
    for (unsigned i = 0; i < a->ndeps; i++)
        cr_assert(lt_hash_eq(&a->deps[i], &b->deps[i]), "dep %u differs", i);
    cr_assert_eq(a->ops_len, b->ops_len);
    if (a->ops_len)
        cr_assert(memcmp(a->ops, b->ops, a->ops_len) == 0, "ops differ");
}

/* Encodes, decodes, compares, and checks the decoded ops borrow the input. */
static void s_round_trip(const lt_intention_t *in)
{
    lt_buf_t b = LT_BUF_INIT;
    assert_rc(lt_intention_encode(in, &b), LT_OK);
    cr_assert_eq(b.len, lt_intention_encoded_len(in));
    lt_intention_t out;
    assert_rc(lt_intention_decode(b.data, b.len, &out), LT_OK);
    s_assert_same(in, &out);
    cr_assert_eq(out.ops, b.data + b.len - in->ops_len, "ops must be a view into the input");

    lt_buf_t again = LT_BUF_INIT;
    assert_rc(lt_intention_encode(&out, &again), LT_OK);
    cr_assert_eq(again.len, b.len);
    cr_assert(memcmp(again.data, b.data, b.len) == 0, "re-encoding changed the bytes");
    lt_buf_free(&again);
    lt_buf_free(&b);
}

/* The canonical bytes of s_sample(ndeps, ops) in a fresh buffer. */
static lt_buf_t s_encoded(unsigned ndeps, const uint8_t *ops, uint32_t ops_len)
{
    lt_identity_t id;
    lt_test_identity(&id, 1);
    lt_intention_t in;
    s_sample(&in, &id, ndeps, ops, ops_len);
    lt_buf_t b = LT_BUF_INIT;
    assert_rc(lt_intention_encode(&in, &b), LT_OK);
    return b;
}

/* ---- round trips -------------------------------------------------------- */

Test(intention, round_trips_with_no_deps_and_empty_ops)
{
    lt_identity_t id;
    lt_test_identity(&id, 1);
    lt_intention_t in;
    s_sample(&in, &id, 0, NULL, 0);
    s_round_trip(&in);
    cr_assert_eq(lt_intention_encoded_len(&in), LT_INTENTION_FIXED_LEN);
}

Test(intention, round_trips_with_sixteen_deps)
{
    lt_identity_t id;
    lt_test_identity(&id, 2);
    lt_intention_t in;
    static const uint8_t ops[] = {1, 2, 3, 4, 5};
    s_sample(&in, &id, LT_MAX_DEPS, ops, sizeof ops);
    s_round_trip(&in);
}

Test(intention, round_trips_with_an_empty_ops_payload_that_is_not_null)
{
    lt_identity_t id;
    lt_test_identity(&id, 3);
    lt_intention_t in;
    s_sample(&in, &id, 1, (const uint8_t *)"ignored", 0);
    s_round_trip(&in);
}

Test(intention, round_trips_with_the_largest_ops_payload)
{
    lt_identity_t id;
    lt_test_identity(&id, 4);
    uint8_t *ops = malloc(LT_MAX_OPS);
    cr_assert(ops);
    for (size_t i = 0; i < LT_MAX_OPS; i++)
        ops[i] = (uint8_t)(i * 31 + 7);
    lt_intention_t in;
    s_sample(&in, &id, LT_MAX_DEPS, ops, LT_MAX_OPS);
    s_round_trip(&in);
    cr_assert_eq(lt_intention_encoded_len(&in), LT_INTENTION_MAX_LEN);

    /* And signed: the largest signed intention parses and verifies. */
    lt_buf_t b = LT_BUF_INIT;
    lt_hash_t h;
    assert_rc(lt_intention_sign(&in, &id, &b, &h), LT_OK);
    cr_assert_eq(b.len, LT_SIGNED_MAX_LEN);
    lt_signed_t s;
    assert_rc(lt_signed_parse(b.data, b.len, &s), LT_OK);
    assert_rc(lt_signed_verify(&s), LT_OK);
    lt_buf_free(&b);
    free(ops);
}

Test(intention, encoding_is_little_endian_in_field_order)
{
    lt_identity_t id;
    lt_test_identity(&id, 5);
    lt_intention_t in;
    static const uint8_t ops[] = {0xee, 0xff};
    s_sample(&in, &id, 1, ops, sizeof ops);
    in.hlc.wall_ms = 0x0102030405060708ull;
    in.hlc.counter = 0x0a0b0c0du;
    lt_buf_t b = LT_BUF_INIT;
    assert_rc(lt_intention_encode(&in, &b), LT_OK);
    const uint8_t *p = b.data;
    cr_assert_eq(p[0], 1);
    cr_assert(memcmp(p + 1, id.pk.b, LT_KEY_LEN) == 0);
    static const uint8_t hlc[] = {8, 7, 6, 5, 4, 3, 2, 1, 0x0d, 0x0c, 0x0b, 0x0a};
    cr_assert(memcmp(p + 1 + LT_KEY_LEN, hlc, sizeof hlc) == 0);
    cr_assert(memcmp(p + 45, in.store_id.b, LT_STORE_ID_LEN) == 0);
    cr_assert(memcmp(p + 61, in.store_prev.b, LT_HASH_LEN) == 0);
    cr_assert_eq(p[S_OFF_NDEPS], 1);
    cr_assert(memcmp(p + S_OFF_DEPS, in.deps[0].b, LT_HASH_LEN) == 0);
    static const uint8_t tail[] = {2, 0, 0, 0, 0xee, 0xff};
    cr_assert_eq(b.len, S_OFF_DEPS + LT_HASH_LEN + sizeof tail);
    cr_assert(memcmp(p + S_OFF_DEPS + LT_HASH_LEN, tail, sizeof tail) == 0);
    lt_buf_free(&b);
}

Test(intention, encode_appends_to_what_the_buffer_holds)
{
    lt_buf_t b = LT_BUF_INIT;
    assert_rc(lt_buf_append(&b, "prefix", 6), LT_OK);
    lt_buf_t plain = s_encoded(2, (const uint8_t *)"xy", 2);
    lt_identity_t id;
    lt_test_identity(&id, 1);
    lt_intention_t in;
    s_sample(&in, &id, 2, (const uint8_t *)"xy", 2);
    assert_rc(lt_intention_encode(&in, &b), LT_OK);
    cr_assert_eq(b.len, 6 + plain.len);
    cr_assert(memcmp(b.data, "prefix", 6) == 0);
    cr_assert(memcmp(b.data + 6, plain.data, plain.len) == 0);
    lt_buf_free(&b);
    lt_buf_free(&plain);
}

/* ---- rejections --------------------------------------------------------- */

Test(intention, empty_input_is_truncated)
{
    lt_intention_t out;
    static const uint8_t one = 0;
    assert_rc(lt_intention_decode(&one, 0, &out), LT_ETRUNCATED);
    lt_signed_t s;
    assert_rc(lt_signed_parse(&one, 0, &s), LT_ETRUNCATED);
}

Test(intention, every_proper_prefix_is_truncated)
{
    static const uint8_t ops[] = {9, 8, 7, 6, 5, 4, 3};
    unsigned ndeps_cases[] = {0, 2, LT_MAX_DEPS};
    for (unsigned c = 0; c < 3; c++) {
        lt_buf_t b = s_encoded(ndeps_cases[c], ops, sizeof ops);
        for (size_t len = 0; len < b.len; len++) {
            lt_intention_t out;
            lt_err_t rc = lt_intention_decode(b.data, len, &out);
            cr_assert_eq(rc, LT_ETRUNCATED, "ndeps %u, prefix of %zu/%zu bytes: got %s",
                         ndeps_cases[c], len, b.len, lt_errname(rc));
        }
        lt_buf_free(&b);
    }
}

Test(intention, every_proper_prefix_of_a_signed_intention_is_truncated)
{
    lt_identity_t id;
    lt_test_identity(&id, 6);
    lt_intention_t in;
    s_sample(&in, &id, 3, (const uint8_t *)"payload", 7);
    lt_buf_t b = LT_BUF_INIT;
    lt_hash_t h;
    assert_rc(lt_intention_sign(&in, &id, &b, &h), LT_OK);
    for (size_t len = 0; len < b.len; len++) {
        lt_signed_t s;
        lt_err_t rc = lt_signed_parse(b.data, len, &s);
        cr_assert_eq(rc, LT_ETRUNCATED, "prefix of %zu/%zu bytes: got %s", len, b.len,
                     lt_errname(rc));
    }
    lt_buf_free(&b);
}

Test(intention, a_wrong_first_byte_is_a_version_error)
{
    lt_buf_t b = s_encoded(1, (const uint8_t *)"a", 1);
    static const uint8_t versions[] = {0, 2, 0x81, 0xff};
    for (unsigned i = 0; i < sizeof versions; i++) {
        b.data[0] = versions[i];
        lt_intention_t out;
        assert_rc(lt_intention_decode(b.data, b.len, &out), LT_EVERSION);
        /* Even a lone version byte says version, not truncation. */
        assert_rc(lt_intention_decode(b.data, 1, &out), LT_EVERSION);
    }
    lt_buf_free(&b);
}

Test(intention, version_two_is_rejected_when_signed_too)
{
    lt_identity_t id;
    lt_test_identity(&id, 7);
    lt_intention_t in;
    s_sample(&in, &id, 0, NULL, 0);
    lt_buf_t b = LT_BUF_INIT;
    lt_hash_t h;
    assert_rc(lt_intention_sign(&in, &id, &b, &h), LT_OK);
    b.data[0] = 2;
    lt_signed_t s;
    assert_rc(lt_signed_parse(b.data, b.len, &s), LT_EVERSION);
    lt_buf_free(&b);
}

Test(intention, encode_rejects_a_version_other_than_one)
{
    lt_identity_t id;
    lt_test_identity(&id, 1);
    lt_intention_t in;
    s_sample(&in, &id, 0, NULL, 0);
    lt_buf_t b = LT_BUF_INIT;
    in.version = 2;
    assert_rc(lt_intention_check(&in), LT_EVERSION);
    assert_rc(lt_intention_encode(&in, &b), LT_EVERSION);
    in.version = 0;
    assert_rc(lt_intention_encode(&in, &b), LT_EVERSION);
    cr_assert_eq(b.len, 0, "a rejected encode must not write");
    lt_buf_free(&b);
}

Test(intention, a_trailing_byte_is_rejected)
{
    static const uint8_t ops[] = {1, 2};
    lt_buf_t b = s_encoded(2, ops, sizeof ops);
    assert_rc(lt_buf_put_u8(&b, 0), LT_OK);
    lt_intention_t out;
    assert_rc(lt_intention_decode(b.data, b.len, &out), LT_ETRAILING);
    lt_buf_free(&b);
}

Test(intention, a_trailing_byte_after_a_signature_is_rejected)
{
    lt_identity_t id;
    lt_test_identity(&id, 8);
    lt_intention_t in;
    s_sample(&in, &id, 1, (const uint8_t *)"abc", 3);
    lt_buf_t b = LT_BUF_INIT;
    lt_hash_t h;
    assert_rc(lt_intention_sign(&in, &id, &b, &h), LT_OK);
    assert_rc(lt_buf_put_u8(&b, 0), LT_OK);
    lt_signed_t s;
    assert_rc(lt_signed_parse(b.data, b.len, &s), LT_ETRAILING);
    lt_buf_free(&b);
}

Test(intention, seventeen_deps_are_rejected)
{
    /* 16 valid deps, then claim 17 and supply the 17th. */
    lt_buf_t b = s_encoded(LT_MAX_DEPS, NULL, 0);
    lt_buf_t bad = LT_BUF_INIT;
    size_t deps_end = S_OFF_DEPS + LT_MAX_DEPS * LT_HASH_LEN;
    assert_rc(lt_buf_append(&bad, b.data, deps_end), LT_OK);
    uint8_t extra[LT_HASH_LEN];
    memset(extra, 0xf0, sizeof extra);
    assert_rc(lt_buf_append(&bad, extra, sizeof extra), LT_OK);
    assert_rc(lt_buf_append(&bad, b.data + deps_end, b.len - deps_end), LT_OK);
    bad.data[S_OFF_NDEPS] = LT_MAX_DEPS + 1;
    lt_intention_t out;
    assert_rc(lt_intention_decode(bad.data, bad.len, &out), LT_ETOOMANYDEPS);
    /* The count alone is enough: it is checked before the deps are read. */
    assert_rc(lt_intention_decode(bad.data, S_OFF_DEPS, &out), LT_ETOOMANYDEPS);
    bad.data[S_OFF_NDEPS] = 0xff;
    assert_rc(lt_intention_decode(bad.data, bad.len, &out), LT_ETOOMANYDEPS);

    lt_identity_t id;
    lt_test_identity(&id, 1);
    lt_intention_t in;
    s_sample(&in, &id, LT_MAX_DEPS, NULL, 0);
    in.ndeps = LT_MAX_DEPS + 1;
    assert_rc(lt_intention_check(&in), LT_ETOOMANYDEPS);
    lt_buf_t enc = LT_BUF_INIT;
    assert_rc(lt_intention_encode(&in, &enc), LT_ETOOMANYDEPS);
    cr_assert_eq(enc.len, 0);
    lt_buf_free(&enc);
    lt_buf_free(&bad);
    lt_buf_free(&b);
}

Test(intention, unsorted_deps_are_rejected)
{
    lt_buf_t b = s_encoded(3, (const uint8_t *)"z", 1);
    /* Swap deps 1 and 2. */
    uint8_t tmp[LT_HASH_LEN];
    uint8_t *d1 = b.data + S_OFF_DEPS + LT_HASH_LEN, *d2 = d1 + LT_HASH_LEN;
    memcpy(tmp, d1, LT_HASH_LEN);
    memcpy(d1, d2, LT_HASH_LEN);
    memcpy(d2, tmp, LT_HASH_LEN);
    lt_intention_t out;
    assert_rc(lt_intention_decode(b.data, b.len, &out), LT_EDEPSORDER);
    /* Differing only in the last byte is still out of order. */
    lt_buf_free(&b);
    b = s_encoded(2, NULL, 0);
    memcpy(b.data + S_OFF_DEPS, b.data + S_OFF_DEPS + LT_HASH_LEN, LT_HASH_LEN);
    b.data[S_OFF_DEPS + LT_HASH_LEN - 1] ^= 1; /* dep0 = dep1 + 1 in the last byte */
    assert_rc(lt_intention_decode(b.data, b.len, &out), LT_EDEPSORDER);
    lt_buf_free(&b);

    lt_identity_t id;
    lt_test_identity(&id, 1);
    lt_intention_t in;
    s_sample(&in, &id, 3, NULL, 0);
    lt_hash_t t = in.deps[0];
    in.deps[0] = in.deps[2];
    in.deps[2] = t;
    assert_rc(lt_intention_check(&in), LT_EDEPSORDER);
    lt_buf_t enc = LT_BUF_INIT;
    assert_rc(lt_intention_encode(&in, &enc), LT_EDEPSORDER);
    lt_hash_t h;
    assert_rc(lt_intention_sign(&in, &id, &enc, &h), LT_EDEPSORDER);
    cr_assert_eq(enc.len, 0);
    lt_buf_free(&enc);
}

Test(intention, duplicate_deps_are_rejected)
{
    lt_buf_t b = s_encoded(3, NULL, 0);
    memcpy(b.data + S_OFF_DEPS + 2 * LT_HASH_LEN, b.data + S_OFF_DEPS + LT_HASH_LEN, LT_HASH_LEN);
    lt_intention_t out;
    assert_rc(lt_intention_decode(b.data, b.len, &out), LT_EDEPSDUP);
    lt_buf_free(&b);

    lt_identity_t id;
    lt_test_identity(&id, 1);
    lt_intention_t in;
    s_sample(&in, &id, 2, NULL, 0);
    in.deps[1] = in.deps[0];
    assert_rc(lt_intention_check(&in), LT_EDEPSDUP);
    lt_buf_t enc = LT_BUF_INIT;
    assert_rc(lt_intention_encode(&in, &enc), LT_EDEPSDUP);
    lt_buf_free(&enc);
}

Test(intention, ops_larger_than_the_limit_are_rejected_on_decode)
{
    /* A well-formed encoding carrying LT_MAX_OPS + 1 bytes of ops. */
    lt_buf_t b = s_encoded(0, NULL, 0);
    size_t len_at = b.len - 4;
    lt_put_u32le(b.data + len_at, LT_MAX_OPS + 1);
    assert_rc(lt_buf_reserve(&b, LT_MAX_OPS + 1), LT_OK);
    memset(b.data + b.len, 0x33, LT_MAX_OPS + 1);
    b.len += LT_MAX_OPS + 1;
    lt_intention_t out;
    assert_rc(lt_intention_decode(b.data, b.len, &out), LT_EOPSTOOLARGE);
    /* The length alone is enough: it is checked before the bytes are read. */
    assert_rc(lt_intention_decode(b.data, len_at + 4, &out), LT_EOPSTOOLARGE);
    lt_put_u32le(b.data + len_at, UINT32_MAX);
    assert_rc(lt_intention_decode(b.data, b.len, &out), LT_EOPSTOOLARGE);
    /* One byte less is the limit itself, and decodes. */
    lt_put_u32le(b.data + len_at, LT_MAX_OPS);
    assert_rc(lt_intention_decode(b.data, b.len - 1, &out), LT_OK);
    cr_assert_eq(out.ops_len, LT_MAX_OPS);
    lt_buf_free(&b);
}

Test(intention, ops_larger_than_the_limit_are_rejected_on_encode)
{
    lt_identity_t id;
    lt_test_identity(&id, 9);
    uint8_t *ops = calloc(1, LT_MAX_OPS + 1);
    cr_assert(ops);
    lt_intention_t in;
    s_sample(&in, &id, 0, ops, LT_MAX_OPS + 1);
    assert_rc(lt_intention_check(&in), LT_EOPSTOOLARGE);
    lt_buf_t b = LT_BUF_INIT;
    assert_rc(lt_intention_encode(&in, &b), LT_EOPSTOOLARGE);
    lt_hash_t h;
    assert_rc(lt_intention_sign(&in, &id, &b, &h), LT_EOPSTOOLARGE);
    cr_assert_eq(b.len, 0);
    lt_buf_free(&b);
    free(ops);
}

/* ---- signing ------------------------------------------------------------ */

Test(intention, a_signed_intention_parses_and_verifies)
{
    lt_identity_t id;
    lt_test_identity(&id, 10);
    lt_intention_t in;
    static const uint8_t ops[] = {0xca, 0xfe};
    s_sample(&in, &id, 4, ops, sizeof ops);
    lt_buf_t b = LT_BUF_INIT;
    lt_hash_t h;
    assert_rc(lt_intention_sign(&in, &id, &b, &h), LT_OK);
    cr_assert_eq(b.len, lt_intention_encoded_len(&in) + LT_SIG_LEN);

    /* The hash is BLAKE2b of the canonical bytes; the signature follows them. */
    lt_hash_t expect;
    lt_intention_hash(b.data, b.len - LT_SIG_LEN, &expect);
    cr_assert(lt_hash_eq(&h, &expect));
    lt_hash_t personal;
    lt_hash_personal(LT_PERSONAL_INTENTION, b.data, b.len - LT_SIG_LEN, &personal);
    cr_assert(lt_hash_eq(&h, &personal));

    lt_signed_t s;
    assert_rc(lt_signed_parse(b.data, b.len, &s), LT_OK);
    s_assert_same(&in, &s.in);
    cr_assert(lt_hash_eq(&s.hash, &h));
    cr_assert_eq(s.bytes, b.data);
    cr_assert_eq(s.len, b.len);
    cr_assert(memcmp(s.sig.b, b.data + b.len - LT_SIG_LEN, LT_SIG_LEN) == 0);
    assert_rc(lt_signed_verify(&s), LT_OK);
    assert_rc(lt_sig_verify(&id.pk, &h, &s.sig), LT_OK);
    lt_buf_free(&b);
}

Test(intention, signing_appends_to_what_the_buffer_holds)
{
    lt_identity_t id;
    lt_test_identity(&id, 11);
    lt_intention_t in;
    s_sample(&in, &id, 1, (const uint8_t *)"q", 1);
    lt_buf_t alone = LT_BUF_INIT, after = LT_BUF_INIT;
    lt_hash_t h1, h2;
    assert_rc(lt_intention_sign(&in, &id, &alone, &h1), LT_OK);
    assert_rc(lt_buf_append(&after, "0123456789", 10), LT_OK);
    assert_rc(lt_intention_sign(&in, &id, &after, &h2), LT_OK);
    cr_assert(lt_hash_eq(&h1, &h2));
    cr_assert_eq(after.len, 10 + alone.len);
    cr_assert(memcmp(after.data + 10, alone.data, alone.len) == 0);
    lt_buf_free(&alone);
    lt_buf_free(&after);
}

Test(intention, signing_with_a_key_that_is_not_the_author_is_invalid)
{
    lt_identity_t author, other;
    lt_test_identity(&author, 12);
    lt_test_identity(&other, 13);
    lt_intention_t in;
    s_sample(&in, &author, 0, NULL, 0);
    lt_buf_t b = LT_BUF_INIT;
    lt_hash_t h;
    assert_rc(lt_intention_sign(&in, &other, &b, &h), LT_EINVAL);
    cr_assert_eq(b.len, 0, "a refused signing must not write");
    lt_buf_free(&b);
}

Test(intention, a_signature_by_another_key_does_not_verify)
{
    lt_identity_t author, other;
    lt_test_identity(&author, 14);
    lt_test_identity(&other, 15);
    lt_intention_t in;
    s_sample(&in, &author, 1, (const uint8_t *)"x", 1);
    lt_buf_t b = LT_BUF_INIT;
    lt_hash_t h;
    assert_rc(lt_intention_sign(&in, &author, &b, &h), LT_OK);
    lt_sig_t forged;
    lt_identity_sign(&other, &h, &forged);
    memcpy(b.data + b.len - LT_SIG_LEN, forged.b, LT_SIG_LEN);
    lt_signed_t s;
    assert_rc(lt_signed_parse(b.data, b.len, &s), LT_OK);
    assert_rc(lt_signed_verify(&s), LT_ESIGNATURE);
    lt_buf_free(&b);
}

Test(intention, every_flipped_bit_is_a_decode_error_or_a_bad_signature)
{
    lt_identity_t id;
    lt_test_identity(&id, 16);
    lt_intention_t in;
    s_sample(&in, &id, 2, (const uint8_t *)"op", 2);
    lt_buf_t b = LT_BUF_INIT;
    lt_hash_t h;
    assert_rc(lt_intention_sign(&in, &id, &b, &h), LT_OK);
    unsigned decode_errors = 0, bad_sigs = 0;
    for (size_t bit = 0; bit < b.len * 8; bit++) {
        b.data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        lt_signed_t s;
        lt_err_t rc = lt_signed_parse(b.data, b.len, &s);
        if (rc == LT_OK) {
            rc = lt_signed_verify(&s);
            cr_assert_eq(rc, LT_ESIGNATURE, "bit %zu (byte %zu) flipped still verifies: %s", bit,
                         bit / 8, lt_errname(rc));
            bad_sigs++;
        } else {
            decode_errors++;
        }
        b.data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    /* Both kinds happen: the length fields break decoding, the rest the signature. */
    cr_assert_gt(decode_errors, 0);
    cr_assert_gt(bad_sigs, 0);
    /* And the untouched bytes still verify. */
    lt_signed_t s;
    assert_rc(lt_signed_parse(b.data, b.len, &s), LT_OK);
    assert_rc(lt_signed_verify(&s), LT_OK);
    lt_buf_free(&b);
}

/* ---- building deps ------------------------------------------------------ */

Test(intention, deps_normalize_sorts_and_removes_duplicates)
{
    lt_hash_t deps[8];
    static const uint8_t order[8] = {5, 2, 9, 2, 7, 5, 1, 9};
    for (int i = 0; i < 8; i++) {
        memset(deps[i].b, 0, LT_HASH_LEN);
        deps[i].b[0] = order[i];
        deps[i].b[LT_HASH_LEN - 1] = (uint8_t)(order[i] * 3);
    }
    uint8_t n = 8;
    lt_deps_normalize(deps, &n);
    static const uint8_t want[] = {1, 2, 5, 7, 9};
    cr_assert_eq(n, sizeof want);
    for (unsigned i = 0; i < n; i++) {
        cr_assert_eq(deps[i].b[0], want[i]);
        cr_assert_eq(deps[i].b[LT_HASH_LEN - 1], (uint8_t)(want[i] * 3));
    }

    lt_identity_t id;
    lt_test_identity(&id, 1);
    lt_intention_t in;
    s_sample(&in, &id, 0, NULL, 0);
    memcpy(in.deps, deps, n * sizeof *deps);
    in.ndeps = n;
    assert_rc(lt_intention_check(&in), LT_OK);
}

Test(intention, deps_normalize_keeps_short_lists_and_collapses_equal_ones)
{
    lt_hash_t deps[LT_MAX_DEPS];
    uint8_t n = 0;
    lt_deps_normalize(deps, &n);
    cr_assert_eq(n, 0);

    memset(deps[0].b, 0xab, LT_HASH_LEN);
    n = 1;
    lt_deps_normalize(deps, &n);
    cr_assert_eq(n, 1);
    cr_assert_eq(deps[0].b[0], 0xab);

    for (int i = 0; i < LT_MAX_DEPS; i++)
        memset(deps[i].b, 0x42, LT_HASH_LEN);
    n = LT_MAX_DEPS;
    lt_deps_normalize(deps, &n);
    cr_assert_eq(n, 1);
    cr_assert_eq(deps[0].b[17], 0x42);

    /* Descending, all distinct: reversed, nothing dropped. */
    for (int i = 0; i < LT_MAX_DEPS; i++)
        memset(deps[i].b, LT_MAX_DEPS - i, LT_HASH_LEN);
    n = LT_MAX_DEPS;
    lt_deps_normalize(deps, &n);
    cr_assert_eq(n, LT_MAX_DEPS);
    for (int i = 0; i < LT_MAX_DEPS; i++)
        cr_assert_eq(deps[i].b[0], i + 1);
}

/* ---- error codes -------------------------------------------------------- */

Test(intention, every_error_code_has_a_distinct_name_and_text)
{
    for (int a = 0; a < LT_ECOUNT; a++) {
        const char *name = lt_errname((lt_err_t)a), *text = lt_strerror((lt_err_t)a);
        cr_assert(name && strncmp(name, "LT_", 3) == 0 && strlen(name) > 3, "code %d has no name",
                  a);
        cr_assert(text && *text, "code %d (%s) has no text", a, name);
        cr_assert(strcmp(name, "LT_E?") != 0 && strcmp(text, "unknown error") != 0,
                  "code %d falls back to the unknown entry", a);
        for (int b = 0; b < a; b++) {
            cr_assert(strcmp(name, lt_errname((lt_err_t)b)) != 0, "codes %d and %d share %s", a, b,
                      name);
            cr_assert(strcmp(text, lt_strerror((lt_err_t)b)) != 0, "codes %d and %d share '%s'", a,
                      b, text);
        }
    }
    cr_assert_str_eq(lt_errname(LT_OK), "LT_OK");
    cr_assert_str_eq(lt_errname(LT_EDEPSORDER), "LT_EDEPSORDER");
    /* Out-of-range codes still give text, never NULL. */
    cr_assert_str_eq(lt_strerror(LT_ECOUNT), "unknown error");
    cr_assert_str_eq(lt_errname((lt_err_t)-1), "LT_E?");
}

Test(intention, lt_fail_formats_the_message_and_returns_the_code)
{
    lt_errbuf_t eb;
    lt_errbuf_clear(&eb);
    cr_assert_str_eq(eb.msg, "");
    cr_assert_eq(lt_fail(&eb, LT_ECORRUPT, "seq %d breaks", 42), LT_ECORRUPT);
    cr_assert_str_eq(eb.msg, "seq 42 breaks");
    cr_assert_eq(lt_fail(NULL, LT_EIO, "nobody listens"), LT_EIO);
    lt_errbuf_clear(NULL);
}

/* ---- known-answer vectors (tests/vectors/intention.txt) ----------------- */

Test(intention, known_answer_vectors_match_byte_for_byte)
{
    vec_file_t vf;
    vec_load("intention.txt", &vf);
    cr_assert_geq(vf.n, 3, "expected at least 3 intention vectors");
    for (int v = 0; v < vf.n; v++) {
        const vec_record_t *r = &vf.r[v];
        const char *name = vec_str(r, "name");
        uint8_t seed[LT_SEED_LEN] = {0};
        vec_fixed(r, "seed", seed, sizeof seed);
        lt_identity_t id;
        lt_identity_from_seed(&id, seed);

        lt_intention_t in;
        memset(&in, 0, sizeof in);
        in.version = LT_INTENTION_VERSION;
        vec_fixed(r, "author", in.author.b, LT_KEY_LEN);
        cr_assert(lt_pubkey_cmp(&in.author, &id.pk) == 0, "%s: seed does not give author", name);
        in.hlc.wall_ms = vec_u64(r, "wall_ms");
        uint64_t counter = vec_u64(r, "counter");
        cr_assert_leq(counter, UINT32_MAX);
        in.hlc.counter = (uint32_t)counter;
        vec_fixed(r, "store_id", in.store_id.b, LT_STORE_ID_LEN);
        vec_fixed(r, "store_prev", in.store_prev.b, LT_HASH_LEN);
        int ndeps = vec_count(r, "dep");
        cr_assert_leq(ndeps, LT_MAX_DEPS);
        in.ndeps = (uint8_t)ndeps;
        for (int i = 0; i < ndeps; i++)
            vec_fixed_any(vec_find(r, "dep", i), in.deps[i].b, LT_HASH_LEN);
        size_t ops_len, canon_len, sig_len;
        uint8_t *ops = vec_hex(r, "ops", &ops_len);
        in.ops = ops;
        in.ops_len = (uint32_t)ops_len;
        uint8_t *canon = vec_hex(r, "canonical", &canon_len);
        uint8_t *sigb = vec_hex(r, "signature", &sig_len);
        cr_assert_eq(sig_len, LT_SIG_LEN);
        lt_hash_t want_hash = {{0}};
        vec_fixed(r, "hash", want_hash.b, LT_HASH_LEN);

        /* encode */
        lt_buf_t b = LT_BUF_INIT;
        assert_rc(lt_intention_encode(&in, &b), LT_OK);
        cr_assert_eq(b.len, canon_len, "%s: length", name);
        cr_assert(memcmp(b.data, canon, canon_len) == 0, "%s: canonical bytes differ", name);
        /* decode */
        lt_intention_t out;
        assert_rc(lt_intention_decode(canon, canon_len, &out), LT_OK);
        s_assert_same(&in, &out);
        /* hash */
        lt_hash_t h;
        lt_intention_hash(canon, canon_len, &h);
        cr_assert(lt_hash_eq(&h, &want_hash), "%s: hash differs", name);
        /* sign: deterministic Ed25519 gives exactly the stored signature */
        lt_buf_t sb = LT_BUF_INIT;
        lt_hash_t sh;
        assert_rc(lt_intention_sign(&in, &id, &sb, &sh), LT_OK);
        cr_assert(lt_hash_eq(&sh, &want_hash), "%s: sign returned another hash", name);
        cr_assert_eq(sb.len, canon_len + LT_SIG_LEN);
        cr_assert(memcmp(sb.data, canon, canon_len) == 0, "%s: signed bytes differ", name);
        cr_assert(memcmp(sb.data + canon_len, sigb, LT_SIG_LEN) == 0, "%s: signature differs",
                  name);
        /* parse + verify the stored signed form */
        lt_signed_t s;
        assert_rc(lt_signed_parse(sb.data, sb.len, &s), LT_OK);
        cr_assert(lt_hash_eq(&s.hash, &want_hash));
        assert_rc(lt_signed_verify(&s), LT_OK);
        sb.data[sb.len - 1] ^= 0x80;
        assert_rc(lt_signed_parse(sb.data, sb.len, &s), LT_OK);
        assert_rc(lt_signed_verify(&s), LT_ESIGNATURE);

        lt_buf_free(&sb);
        lt_buf_free(&b);
        free(sigb);
        free(canon);
        free(ops);
    }
    vec_free(&vf);
}
