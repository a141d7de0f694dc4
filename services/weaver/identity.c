/* Ed25519 keys and signatures over record hashes (libsodium). */
#include "weaver/identity.h"

#include <sodium.h>

lt_err_t lt_crypto_init(void)
{
    return sodium_init() < 0 ? LT_EIO : LT_OK;
}

void lt_identity_generate(lt_identity_t *id)
{
    crypto_sign_keypair(id->pk.b, id->sk);
}

void lt_identity_from_seed(lt_identity_t *id, const uint8_t seed[LT_SEED_LEN])
{
    crypto_sign_seed_keypair(id->pk.b, id->sk, seed);
}

void lt_identity_sign(const lt_identity_t *id, const lt_hash_t *h, lt_sig_t *sig)
{
    crypto_sign_detached(sig->b, NULL, h->b, LT_HASH_LEN, id->sk);
}

void lt_identity_wipe(lt_identity_t *id)
{
    sodium_memzero(id->sk, sizeof id->sk);
}

lt_err_t lt_sig_verify(const lt_pubkey_t *pk, const lt_hash_t *h, const lt_sig_t *sig)
{
    return crypto_sign_verify_detached(sig->b, h->b, LT_HASH_LEN, pk->b) == 0 ? LT_OK
                                                                              : LT_ESIGNATURE;
}
