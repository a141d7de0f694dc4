/* core:kvstore: a key-value state machine with visible conflicts (DESIGN.md
 * §6). Each key is a register of heads (heads.h); get and list return the
 * winner's value and a conflicted flag; inspect returns every head. A write's
 * deps are the current heads of the keys it touches, so a write made after
 * seeing both sides of a conflict resolves it. Writes go into the db's pending
 * transaction: lt_db_commit() makes them durable. */
#ifndef LT_KV_STATE_H
#define LT_KV_STATE_H

#include "store/heads.h"
#include "store/ops_codec.h"
#include "store/store.h"

LT_NODISCARD lt_err_t lt_kvstore_put(lt_store_t *st, const uint8_t *key, size_t klen,
                                     const uint8_t *val, size_t vlen, lt_hash_t *hash_out);
LT_NODISCARD lt_err_t lt_kvstore_del(lt_store_t *st, const uint8_t *key, size_t klen,
                                     lt_hash_t *hash_out);
/* One intention for all entries; a key repeated keeps its last op. */
LT_NODISCARD lt_err_t lt_kvstore_batch(lt_store_t *st, const lt_kv_entry_t *entries, size_t n,
                                       lt_hash_t *hash_out);
/* The winner's value. LT_ENOTFOUND when the key is absent or its winner is a
 * delete. conflicted (may be NULL) tells whether the key has several heads. */
LT_NODISCARD lt_err_t lt_kvstore_get(lt_store_t *st, const uint8_t *key, size_t klen,
                                     lt_buf_t *value, bool *conflicted);
/* Every head of the key, winner first. `storage` holds the bytes the heads
 * point into; free both with lt_heads_free / lt_buf_free. */
LT_NODISCARD lt_err_t lt_kvstore_inspect(lt_store_t *st, const uint8_t *key, size_t klen,
                                         lt_heads_t *heads, lt_buf_t *storage);

/* Committed keys with the prefix, in key order; deleted keys are skipped
 * unless they are conflicted. fn returns LT_OK to go on. */
typedef lt_err_t (*lt_kvstore_list_fn)(void *ctx, const uint8_t *key, size_t klen,
                                       const lt_heads_t *heads);
LT_NODISCARD lt_err_t lt_kvstore_list(lt_store_t *st, const uint8_t *prefix, size_t plen,
                                      lt_kvstore_list_fn fn, void *ctx);

#endif
