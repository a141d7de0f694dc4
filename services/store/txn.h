/* A write transaction over an lt_kv backend with read-your-writes.
 *
 * The store stages every write of a commit group here: puts and deletes land in
 * an in-memory overlay that lt_txn_get() consults before the backend, so an
 * intention witnessed earlier in the same group is visible to the next one.
 * lt_txn_commit() writes the overlay as one atomic batch (synced on request);
 * lt_txn_abort() forgets it. Point reads from the backend are cached in the
 * transaction until it ends. Range reads (iterators) see committed data only:
 * the write path of the store needs point reads alone, by design. */
#ifndef LT_TXN_H
#define LT_TXN_H

#include "store/kv.h"

typedef struct lt_txn lt_txn_t;

lt_txn_t *lt_txn_new(lt_kv_t *kv);
void lt_txn_destroy(lt_txn_t **txn_p);

/* LT_ENOTFOUND when absent (or deleted in this transaction). out may be NULL. */
LT_NODISCARD lt_err_t lt_txn_get(lt_txn_t *txn, unsigned cf, const uint8_t *key, size_t klen,
                                 lt_buf_t *out);
/* The same, without caching what the backend returns: for reads that walk
 * much of the database once (verification, scans, serving intentions). */
LT_NODISCARD lt_err_t lt_txn_read(lt_txn_t *txn, unsigned cf, const uint8_t *key, size_t klen,
                                  lt_buf_t *out);
LT_NODISCARD lt_err_t lt_txn_put(lt_txn_t *txn, unsigned cf, const uint8_t *key, size_t klen,
                                 const uint8_t *val, size_t vlen);
LT_NODISCARD lt_err_t lt_txn_del(lt_txn_t *txn, unsigned cf, const uint8_t *key, size_t klen);
/* Writes all staged changes atomically; on success the overlay is empty.
 * On failure nothing was written and the overlay is kept (abort or retry). */
LT_NODISCARD lt_err_t lt_txn_commit(lt_txn_t *txn, bool sync);
void lt_txn_abort(lt_txn_t *txn);
/* Number of distinct keys with a staged write (reads cached are not counted). */
size_t lt_txn_size(const lt_txn_t *txn);
/* Bytes staged (keys + values), to bound a commit group. */
size_t lt_txn_bytes(const lt_txn_t *txn);
lt_kv_t *lt_txn_kv(lt_txn_t *txn);

#endif
