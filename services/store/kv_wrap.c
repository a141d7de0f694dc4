/* The forwarding backend: see kv_wrap.h. */
#include "store/kv_wrap.h"

#include <stdlib.h>

typedef struct {
    lt_kv_ops_t ops; /* the template below, named as the hooks say */
    lt_kv_t *inner;
    const lt_kv_wrap_hooks_t *hooks;
    void *ctx;
    bool hook_msg; /* the last failure was a hook's: its errmsg() speaks */
} s_wrap_t;

/* Iterators belong to the inner backend; the wrapper remembers whose ops
 * table drives them, since the iterator calls do not receive self. */
typedef struct {
    const lt_kv_ops_t *ops;
    lt_kv_iter_t *inner;
} s_iter_t;

static lt_err_t s_get(void *self, const lt_kv_snapshot_t *snap, unsigned cf, const uint8_t *key,
                      size_t klen, lt_buf_t *out)
{
    s_wrap_t *f = self;
    f->hook_msg = false;
    return f->inner->ops->get(f->inner->self, snap, cf, key, klen, out);
}

static lt_err_t s_write(void *self, const lt_kv_batch_t *batch, bool sync)
{
    s_wrap_t *f = self;
    lt_err_t rc = f->hooks->write(f->ctx, f->inner, batch, sync);
    f->hook_msg = rc != LT_OK;
    return rc;
}

static lt_err_t s_snapshot_new(void *self, lt_kv_snapshot_t **out)
{
    s_wrap_t *f = self;
    f->hook_msg = false;
    return f->inner->ops->snapshot_new(f->inner->self, out);
}

static void s_snapshot_release(void *self, lt_kv_snapshot_t *snap)
{
    s_wrap_t *f = self;
    f->inner->ops->snapshot_release(f->inner->self, snap);
}

static lt_err_t s_iter_new(void *self, const lt_kv_snapshot_t *snap, unsigned cf,
                           lt_kv_iter_t **out)
{
    s_wrap_t *f = self;
    f->hook_msg = false;
    s_iter_t *it = malloc(sizeof *it);
    if (!it)
        return LT_ENOMEM;
    it->ops = f->inner->ops;
    lt_err_t rc = it->ops->iter_new(f->inner->self, snap, cf, &it->inner);
    if (rc) {
        free(it);
        return rc;
    }
    *out = (lt_kv_iter_t *)it;
    return LT_OK;
}

static void s_iter_seek(lt_kv_iter_t *iter, const uint8_t *key, size_t klen)
{
    s_iter_t *it = (s_iter_t *)iter;
    it->ops->iter_seek(it->inner, key, klen);
}

static void s_iter_seek_for_prev(lt_kv_iter_t *iter, const uint8_t *key, size_t klen)
{
    s_iter_t *it = (s_iter_t *)iter;
    it->ops->iter_seek_for_prev(it->inner, key, klen);
}

static void s_iter_seek_first(lt_kv_iter_t *iter)
{
    s_iter_t *it = (s_iter_t *)iter;
    it->ops->iter_seek_first(it->inner);
}

static void s_iter_seek_last(lt_kv_iter_t *iter)
{
    s_iter_t *it = (s_iter_t *)iter;
    it->ops->iter_seek_last(it->inner);
}

static void s_iter_next(lt_kv_iter_t *iter)
{
    s_iter_t *it = (s_iter_t *)iter;
    it->ops->iter_next(it->inner);
}

static void s_iter_prev(lt_kv_iter_t *iter)
{
    s_iter_t *it = (s_iter_t *)iter;
    it->ops->iter_prev(it->inner);
}

static bool s_iter_valid(const lt_kv_iter_t *iter)
{
    const s_iter_t *it = (const s_iter_t *)iter;
    return it->ops->iter_valid(it->inner);
}

static const uint8_t *s_iter_key(const lt_kv_iter_t *iter, size_t *klen)
{
    const s_iter_t *it = (const s_iter_t *)iter;
    return it->ops->iter_key(it->inner, klen);
}

static const uint8_t *s_iter_value(const lt_kv_iter_t *iter, size_t *vlen)
{
    const s_iter_t *it = (const s_iter_t *)iter;
    return it->ops->iter_value(it->inner, vlen);
}

static lt_err_t s_iter_status(const lt_kv_iter_t *iter)
{
    const s_iter_t *it = (const s_iter_t *)iter;
    return it->ops->iter_status(it->inner);
}

static void s_iter_free(lt_kv_iter_t *iter)
{
    if (!iter)
        return;
    s_iter_t *it = (s_iter_t *)iter;
    it->ops->iter_free(it->inner);
    free(it);
}

static lt_err_t s_flush(void *self)
{
    s_wrap_t *f = self;
    f->hook_msg = false;
    if (!f->hooks->flush)
        return f->inner->ops->flush(f->inner->self);
    lt_err_t rc = f->hooks->flush(f->ctx, f->inner);
    f->hook_msg = rc != LT_OK;
    return rc;
}

static lt_err_t s_bulk(void *self, bool on)
{
    s_wrap_t *f = self;
    f->hook_msg = false;
    return lt_kv_bulk(f->inner, on);
}

static void s_close(void *self)
{
    s_wrap_t *f = self;
    if (f->hooks->close)
        f->hooks->close(f->ctx);
    lt_kv_close(&f->inner);
    free(f);
}

static const char *s_errmsg(void *self)
{
    s_wrap_t *f = self;
    const char *m = f->hook_msg && f->hooks->errmsg ? f->hooks->errmsg(f->ctx) : NULL;
    return m && *m ? m : lt_kv_errmsg(f->inner);
}

static const lt_kv_ops_t s_template = {
    .version = LT_KV_OPS_VERSION,
    .get = s_get,
    .write = s_write,
    .snapshot_new = s_snapshot_new,
    .snapshot_release = s_snapshot_release,
    .iter_new = s_iter_new,
    .iter_seek = s_iter_seek,
    .iter_seek_for_prev = s_iter_seek_for_prev,
    .iter_seek_first = s_iter_seek_first,
    .iter_seek_last = s_iter_seek_last,
    .iter_next = s_iter_next,
    .iter_prev = s_iter_prev,
    .iter_valid = s_iter_valid,
    .iter_key = s_iter_key,
    .iter_value = s_iter_value,
    .iter_status = s_iter_status,
    .iter_free = s_iter_free,
    .flush = s_flush,
    .close = s_close,
    .errmsg = s_errmsg,
    .bulk = s_bulk,
};

lt_err_t lt_kv_wrap(lt_kv_t *inner, const lt_kv_wrap_hooks_t *hooks, void *ctx, lt_kv_t **out)
{
    *out = NULL;
    if (!inner || !hooks || !hooks->write)
        return LT_EINVAL;
    s_wrap_t *f = calloc(1, sizeof *f);
    lt_kv_t *kv = malloc(sizeof *kv);
    if (!f || !kv) {
        free(f);
        free(kv);
        return LT_ENOMEM;
    }
    f->ops = s_template;
    f->ops.name = hooks->name;
    f->inner = inner;
    f->hooks = hooks;
    f->ctx = ctx;
    kv->ops = &f->ops;
    kv->self = f;
    *out = kv;
    return LT_OK;
}

void *lt_kv_wrap_ctx(const lt_kv_t *kv, const lt_kv_wrap_hooks_t *hooks)
{
    if (!kv || kv->ops->close != s_close)
        return NULL;
    const s_wrap_t *f = kv->self;
    return f->hooks == hooks ? f->ctx : NULL;
}
