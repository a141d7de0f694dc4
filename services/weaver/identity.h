/* A node's (or author's) Ed25519 key pair, and the one signing primitive of
 * the data model: a signature over a 32-byte record hash. */
#ifndef LT_IDENTITY_H
#define LT_IDENTITY_H

#include "weaver/errors.h"
#include "weaver/types.h"

typedef struct {
    lt_pubkey_t pk;
    uint8_t sk[LT_SECRET_LEN];
} lt_identity_t;

/* Must be called once before any other call (libsodium init); idempotent,
 * thread-safe. Returns LT_EIO if the library cannot initialize. */
LT_NODISCARD lt_err_t lt_crypto_init(void);

/* Fresh random key pair. */
void lt_identity_generate(lt_identity_t *id);
/* Deterministic key pair from a 32-byte seed (tests, known-answer vectors). */
void lt_identity_from_seed(lt_identity_t *id, const uint8_t seed[LT_SEED_LEN]);
void lt_identity_sign(const lt_identity_t *id, const lt_hash_t *h, lt_sig_t *sig);
/* Wipes the secret. */
void lt_identity_wipe(lt_identity_t *id);

/* LT_OK if sig is pk's signature over h, LT_ESIGNATURE otherwise. */
LT_NODISCARD lt_err_t lt_sig_verify(const lt_pubkey_t *pk, const lt_hash_t *h, const lt_sig_t *sig);

/* Loads the identity stored at path (a 32-byte seed, file mode 0600), or
 * creates one there if the file does not exist. A file of the wrong size or
 * readable by others is refused (LT_ECORRUPT / LT_EINVAL) with a message. */
LT_NODISCARD lt_err_t lt_identity_load_or_create(const char *path, lt_identity_t *id,
                                                 lt_errbuf_t *eb);

#endif
