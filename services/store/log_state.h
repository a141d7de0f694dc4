/* core:logstore: an append-only log read in (HLC, author) order (DESIGN.md
 * §6). Appends have no deps: every append is concurrent with every other, and
 * the order is the same on every node. */
#ifndef LT_LOG_STATE_H
#define LT_LOG_STATE_H

#include "store/store.h"

LT_NODISCARD lt_err_t lt_logstore_append(lt_store_t *st, const uint8_t *text, size_t len,
                                         lt_hash_t *hash_out);

typedef lt_err_t (*lt_logstore_fn)(void *ctx, lt_hlc_t hlc, const lt_pubkey_t *author,
                                   const lt_hash_t *hash, const uint8_t *text, size_t len);
/* Committed entries in order: all of them (tail == 0) or the last `tail`. */
LT_NODISCARD lt_err_t lt_logstore_read(lt_store_t *st, uint64_t tail, lt_logstore_fn fn, void *ctx);

#endif
