/* Witness records: the node's local total order of the intentions it has
 * witnessed in a store, as a hash chain (DESIGN.md §4).
 *
 * Canonical bytes, little-endian:
 *   version u8 (=1) | store_id 16 | seq u64 | intention hash 32 |
 *   wall_ms u64 | prev record hash 32
 * record hash = BLAKE2b-256(bytes, personal LT_PERSONAL_WITNESS). seq starts
 * at 1; the first record's prev is zero. The node key signs record hashes;
 * since each hash covers the whole chain before it, signing the last record
 * of each commit vouches for every record of that commit. */
#ifndef LT_WITNESS_H
#define LT_WITNESS_H

#include "weaver/errors.h"
#include "weaver/types.h"

#include <stddef.h>

#define LT_WITNESS_VERSION 1
#define LT_WITNESS_LEN     (1 + LT_STORE_ID_LEN + 8 + LT_HASH_LEN + 8 + LT_HASH_LEN)

typedef struct {
    lt_store_id_t store_id;
    uint64_t seq;
    lt_hash_t intention;
    uint64_t wall_ms;
    lt_hash_t prev;
} lt_witness_t;

void lt_witness_encode(const lt_witness_t *w, uint8_t out[LT_WITNESS_LEN]);
/* Strict: exactly LT_WITNESS_LEN bytes, version 1. */
LT_NODISCARD lt_err_t lt_witness_decode(const uint8_t *buf, size_t len, lt_witness_t *out);
void lt_witness_hash(const lt_witness_t *w, lt_hash_t *out);

#endif
