/* The intention: the signed unit of replication (DESIGN.md §4).
 *
 * Canonical bytes, little-endian, fixed widths, in this order:
 *   version u8 (=1) | author 32 | hlc wall u64, counter u32 | store_id 16 |
 *   store_prev 32 | ndeps u8 (<=16), ndeps x 32 sorted ascending, unique |
 *   ops_len u32 (<=131072), ops bytes
 * hash = BLAKE2b-256(canonical bytes, personal LT_PERSONAL_INTENTION);
 * signature = Ed25519(hash) by author. A signed intention is the canonical
 * bytes followed by the 64-byte signature.
 *
 * Decoding is strict: anything that is not exactly the canonical encoding is
 * rejected with its own error code, never normalized. */
#ifndef LT_INTENTION_H
#define LT_INTENTION_H

#include "weaver/buf.h"
#include "weaver/errors.h"
#include "weaver/identity.h"
#include "weaver/types.h"

#define LT_INTENTION_VERSION 1
#define LT_MAX_DEPS          16
#define LT_MAX_OPS           131072
/* Size of the canonical bytes without deps and ops. */
#define LT_INTENTION_FIXED_LEN (1 + LT_KEY_LEN + 8 + 4 + LT_STORE_ID_LEN + LT_HASH_LEN + 1 + 4)
#define LT_INTENTION_MAX_LEN   (LT_INTENTION_FIXED_LEN + LT_MAX_DEPS * LT_HASH_LEN + LT_MAX_OPS)
#define LT_SIGNED_MAX_LEN      (LT_INTENTION_MAX_LEN + LT_SIG_LEN)

typedef struct {
    uint8_t version;
    lt_pubkey_t author;
    lt_hlc_t hlc;
    lt_store_id_t store_id;
    lt_hash_t store_prev; /* zero for the author's first intention in the store */
    uint8_t ndeps;
    lt_hash_t deps[LT_MAX_DEPS];
    uint32_t ops_len;
    const uint8_t *ops; /* borrowed: the caller's memory or the decoded buffer */
} lt_intention_t;

/* A decoded signed intention: views into the bytes it was parsed from. */
typedef struct {
    lt_intention_t in;
    lt_hash_t hash;
    lt_sig_t sig;
    const uint8_t *bytes; /* canonical bytes + signature */
    size_t len;
} lt_signed_t;

/* Checks the limits and canonical order of an intention built in memory. */
LT_NODISCARD lt_err_t lt_intention_check(const lt_intention_t *in);
size_t lt_intention_encoded_len(const lt_intention_t *in);
/* Appends the canonical bytes to out (after lt_intention_check). */
LT_NODISCARD lt_err_t lt_intention_encode(const lt_intention_t *in, lt_buf_t *out);
/* Strict decode of exactly len canonical bytes; out->ops borrows from buf. */
LT_NODISCARD lt_err_t lt_intention_decode(const uint8_t *buf, size_t len, lt_intention_t *out);
void lt_intention_hash(const uint8_t *canonical, size_t len, lt_hash_t *out);

/* Encodes, hashes and signs `in` (whose author must be id's key): appends the
 * signed form to out and returns its hash. */
LT_NODISCARD lt_err_t lt_intention_sign(const lt_intention_t *in, const lt_identity_t *id,
                                        lt_buf_t *out, lt_hash_t *hash);
/* Strict decode of a signed intention and its hash. Does not verify the
 * signature (see lt_signed_verify): decoding is cheap, verifying is not. */
LT_NODISCARD lt_err_t lt_signed_parse(const uint8_t *buf, size_t len, lt_signed_t *out);
LT_NODISCARD lt_err_t lt_signed_verify(const lt_signed_t *s);

/* The intentions `in` cites directly: its deps, and its store_prev when it
 * has one (an author has always seen its own previous intention). Writes
 * supersede exactly these. Returns the count (at most LT_MAX_DEPS + 1). */
unsigned lt_intention_cited(const lt_intention_t *in, lt_hash_t out[LT_MAX_DEPS + 1]);

/* Sorts deps ascending and removes duplicates (for building intentions). */
void lt_deps_normalize(lt_hash_t *deps, uint8_t *ndeps);

#endif
