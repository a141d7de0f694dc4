/* BLAKE2b-256 with a personalization per record type, so that the hash of one
 * kind of record can never be replayed as the hash of another. */
#ifndef LT_HASH_H
#define LT_HASH_H

#include "weaver/types.h"

#include <stddef.h>

/* 16-byte personalizations (libsodium crypto_generichash_blake2b). */
#define LT_PERSONAL_INTENTION "lattice:int:v1\0\0"
#define LT_PERSONAL_WITNESS   "lattice:wit:v1\0\0"
#define LT_PERSONAL_SECRET    "lattice:inv:v1\0\0"

void lt_hash_personal(const char personal[16], const void *data, size_t len, lt_hash_t *out);

#endif
