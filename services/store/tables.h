/* The tables of the node database (DESIGN.md §5): one column family each,
 * every key prefixed by the 16-byte store id (except the node's own meta rows).
 *
 *   intentions  store|hash            -> signed intention bytes (witnessed or floating)
 *   witness     store|seq(be64)       -> witness record (LT_WITNESS_LEN bytes)
 *   wsig        store|seq(be64)       -> node signature over that record's hash
 *   windex      store|hash            -> seq(be64) | author(32)
 *   floating    store|hash            -> awaited hash (32)
 *   findex      store|awaited         -> waiting hashes (n x 32)
 *   tips        store|author          -> the author's branch heads (n x 32)
 *   chain       store|author|prev     -> children of prev by author (n x 32; n > 1 is a fork)
 *   meta        store|tag             -> per-store bookkeeping (see intention_store.c)
 *               "node"|tag            -> node-wide rows (store directory, clock)
 *   system      store|class|id        -> system table register (heads)
 *   app         store|tag|...         -> the state machine's data
 */
#ifndef LT_TABLES_H
#define LT_TABLES_H

#include "weaver/types.h"

#include <stddef.h>
#include <stdint.h>

enum {
    LT_CF_DEFAULT, /* RocksDB's mandatory family; unused */
    LT_CF_INTENTIONS,
    LT_CF_WITNESS,
    LT_CF_WSIG,
    LT_CF_WINDEX,
    LT_CF_FLOATING,
    LT_CF_FINDEX,
    LT_CF_TIPS,
    LT_CF_CHAIN,
    LT_CF_META,
    LT_CF_SYSTEM,
    LT_CF_APP,
    LT_CF_COUNT
};

extern const char *const lt_cf_names[LT_CF_COUNT];

/* The families whose lookups mostly miss (is this hash known? is anything
 * waiting for it?): they get a memtable bloom filter (lt_kv_rocksdb_opts_t). */
#define LT_CF_BLOOM_MASK                                                                           \
    ((1u << LT_CF_INTENTIONS) | (1u << LT_CF_FLOATING) | (1u << LT_CF_FINDEX) | (1u << LT_CF_CHAIN))

/* Builds store|a|b into key (callers size it); returns the length. */
static inline size_t lt_key2(uint8_t *key, const lt_store_id_t *sid, const void *a, size_t alen,
                             const void *b, size_t blen)
{
    memcpy(key, sid->b, LT_STORE_ID_LEN);
    if (alen)
        memcpy(key + LT_STORE_ID_LEN, a, alen);
    if (blen)
        memcpy(key + LT_STORE_ID_LEN + alen, b, blen);
    return LT_STORE_ID_LEN + alen + blen;
}

static inline size_t lt_key_seq(uint8_t *key, const lt_store_id_t *sid, uint64_t seq)
{
    memcpy(key, sid->b, LT_STORE_ID_LEN);
    for (int i = 0; i < 8; i++)
        key[LT_STORE_ID_LEN + i] = (uint8_t)(seq >> (8 * (7 - i)));
    return LT_STORE_ID_LEN + 8;
}

#endif
