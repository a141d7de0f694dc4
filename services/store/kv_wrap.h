/* A storage backend that wraps another: every call goes straight through to
 * the inner backend except the ones its hooks take (write, and optionally
 * flush, close and the error text). The failure-injecting backend
 * (kv_faulty.h) and the log backend (kv_log.h: a file that records every
 * batch before the in-memory backend applies it) are such wrappers. */
#ifndef LT_KV_WRAP_H
#define LT_KV_WRAP_H

#include "store/kv.h"

typedef struct {
    const char *name; /* the backend's name (lt_kv_ops_t.name) */
    /* Every write: the hook applies the batch to inner itself
     * (lt_kv_write) when it means to. Required. */
    lt_err_t (*write)(void *ctx, lt_kv_t *inner, const lt_kv_batch_t *batch, bool sync);
    /* flush(); NULL: inner's. */
    lt_err_t (*flush)(void *ctx, lt_kv_t *inner);
    /* Frees ctx when the wrapper closes (inner is closed after it); NULL:
     * nothing to free. */
    void (*close)(void *ctx);
    /* The text of the hook's own last failure, or NULL / "" when the last
     * failure was inner's; NULL: always inner's. */
    const char *(*errmsg)(void *ctx);
} lt_kv_wrap_hooks_t;

/* Wraps inner. On success the wrapper owns inner (and ctx: hooks->close frees
 * it); on failure (LT_ENOMEM) the caller still owns both. hooks must outlive
 * the wrapper. */
LT_NODISCARD lt_err_t lt_kv_wrap(lt_kv_t *inner, const lt_kv_wrap_hooks_t *hooks, void *ctx,
                                 lt_kv_t **out);
/* The ctx of a wrapper made with these hooks, or NULL when kv is not one. */
void *lt_kv_wrap_ctx(const lt_kv_t *kv, const lt_kv_wrap_hooks_t *hooks);

#endif
