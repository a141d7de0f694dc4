/* lt_kv: the storage port. A versioned table of function pointers behind
 * which the store keeps its data: RocksDB in production, memory for tests, the
 * simulator and merge replays, a flash log on boards later. The store code is
 * written against this header only.
 *
 * Data lives in numbered column families (0 .. ncf-1, fixed when the backend
 * is opened). Keys and values are byte strings; keys sort bytewise
 * (memcmp, then shorter first). Writes are atomic batches; a synced batch is on
 * stable storage when write() returns. Reads see every committed batch. */
#ifndef LT_KV_H
#define LT_KV_H

#include "weaver/buf.h"
#include "weaver/errors.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LT_KV_OPS_VERSION 2 /* 2: bulk, at the end of the table */
#define LT_KV_MAX_CF      16

typedef struct lt_kv lt_kv_t;
typedef struct lt_kv_iter lt_kv_iter_t;
typedef struct lt_kv_snapshot lt_kv_snapshot_t;

/* One write in a batch. `value` is ignored for deletes. */
typedef struct {
    uint8_t cf;
    bool del;
    const uint8_t *key;
    size_t klen;
    const uint8_t *value;
    size_t vlen;
} lt_kv_op_t;

/* An atomic group of writes, built by the caller (see txn.h). */
typedef struct {
    const lt_kv_op_t *ops;
    size_t nops;
} lt_kv_batch_t;

typedef struct lt_kv_ops {
    uint32_t version; /* LT_KV_OPS_VERSION */
    const char *name; /* "rocksdb", "memory", ... */

    /* Point read. Copies the value into *out (replacing its contents).
     * out may be NULL to test existence. LT_ENOTFOUND when absent.
     * snap may be NULL (latest). */
    lt_err_t (*get)(void *self, const lt_kv_snapshot_t *snap, unsigned cf, const uint8_t *key,
                    size_t klen, lt_buf_t *out);
    /* Applies every op of batch atomically, in order (a later op on the same
     * key wins). With sync, durable on return. An empty batch is a no-op. */
    lt_err_t (*write)(void *self, const lt_kv_batch_t *batch, bool sync);
    /* A consistent read view; release with snapshot_release. */
    lt_err_t (*snapshot_new)(void *self, lt_kv_snapshot_t **out);
    void (*snapshot_release)(void *self, lt_kv_snapshot_t *snap);
    /* Iterators over one column family. A new iterator is unpositioned
     * (valid() false) until a seek. Without snap it reads the data as of its
     * creation (an implicit snapshot, as in RocksDB): batches written while it
     * is open are not visible through it, and do not invalidate it. */
    lt_err_t (*iter_new)(void *self, const lt_kv_snapshot_t *snap, unsigned cf, lt_kv_iter_t **out);
    void (*iter_seek)(lt_kv_iter_t *it, const uint8_t *key, size_t klen); /* first >= key */
    void (*iter_seek_for_prev)(lt_kv_iter_t *it, const uint8_t *key, size_t klen); /* last <= key */
    void (*iter_seek_first)(lt_kv_iter_t *it);
    void (*iter_seek_last)(lt_kv_iter_t *it);
    void (*iter_next)(lt_kv_iter_t *it);
    void (*iter_prev)(lt_kv_iter_t *it);
    bool (*iter_valid)(const lt_kv_iter_t *it);
    /* Borrowed views, valid until the iterator moves or is freed. */
    const uint8_t *(*iter_key)(const lt_kv_iter_t *it, size_t *klen);
    const uint8_t *(*iter_value)(const lt_kv_iter_t *it, size_t *vlen);
    /* LT_OK, or the error that stopped the iteration (corruption, I/O). */
    lt_err_t (*iter_status)(const lt_kv_iter_t *it);
    void (*iter_free)(lt_kv_iter_t *it);
    /* Persists memtables (RocksDB flush); a no-op where it means nothing. */
    lt_err_t (*flush)(void *self);
    /* Closes the backend and frees self. */
    void (*close)(void *self);
    /* Detailed text of the last error of this backend (never NULL). */
    const char *(*errmsg)(void *self);
    /* Version 2 and later (lt_kv_bulk asks nothing of an older table).
     * A hint, optional (NULL: nothing to tune). on: a long run of writes
     * follows (a clone); the backend may do less work per write at the cost
     * of a slower recovery if the process dies meanwhile. off: the run has
     * ended; the backend goes back to its usual bounds and starts, without
     * waiting for it, whatever work brings recovery back to its usual cost.
     * Durability is the same either way: a synced write is durable. */
    lt_err_t (*bulk)(void *self, bool on);
} lt_kv_ops_t;

struct lt_kv {
    const lt_kv_ops_t *ops;
    void *self;
};

/* Backends. Both return a heap lt_kv_t that lt_kv_close() frees.
 * cf_names names the column families in order (ncf <= LT_KV_MAX_CF); the
 * memory backend only uses the count. */
typedef struct {
    bool create_if_missing; /* create the database when the path is empty */
    bool paranoid;          /* verify checksums on every read */
    /* Bit i: family i gets a memtable bloom filter (families whose point
     * lookups mostly miss). Each costs memory and time at every open. */
    uint32_t bloom_cfs;
} lt_kv_rocksdb_opts_t;

/* Opens (or creates) a RocksDB database at path. On failure returns NULL-free
 * error: LT_ELOCKED if another process holds it, LT_ECORRUPT if RocksDB reports
 * corruption (a truncated or damaged file), LT_ENOTFOUND if there is no
 * database and opts->create_if_missing is false, LT_EIO otherwise; errbuf (may
 * be NULL) receives RocksDB's text. */
LT_NODISCARD lt_err_t lt_kv_rocksdb_open(const char *path, const char *const *cf_names,
                                         unsigned ncf, const lt_kv_rocksdb_opts_t *opts,
                                         lt_errbuf_t *errbuf, lt_kv_t **out);
LT_NODISCARD lt_err_t lt_kv_mem_open(unsigned ncf, lt_kv_t **out);

/* Thin wrappers: call through the table. */
static inline lt_err_t lt_kv_get(lt_kv_t *kv, unsigned cf, const uint8_t *key, size_t klen,
                                 lt_buf_t *out)
{
    return kv->ops->get(kv->self, NULL, cf, key, klen, out);
}
static inline lt_err_t lt_kv_write(lt_kv_t *kv, const lt_kv_batch_t *b, bool sync)
{
    return kv->ops->write(kv->self, b, sync);
}
static inline lt_err_t lt_kv_iter_new(lt_kv_t *kv, unsigned cf, lt_kv_iter_t **out)
{
    return kv->ops->iter_new(kv->self, NULL, cf, out);
}
static inline lt_err_t lt_kv_bulk(lt_kv_t *kv, bool on)
{
    return kv->ops->version >= 2 && kv->ops->bulk ? kv->ops->bulk(kv->self, on) : LT_OK;
}
static inline const char *lt_kv_errmsg(lt_kv_t *kv)
{
    return kv->ops->errmsg(kv->self);
}
/* Closes and frees; sets *kv_p to NULL. Idempotent. */
void lt_kv_close(lt_kv_t **kv_p);

/* Prefix iteration helper: tells whether `it` is valid and its current key
 * starts with prefix. Seek to the prefix, then step while this holds. */
bool lt_kv_iter_has_prefix(const lt_kv_t *kv, const lt_kv_iter_t *it, const uint8_t *prefix,
                           size_t plen);

#endif
