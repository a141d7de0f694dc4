/* Failure injection for the storage port: a backend that forwards every call
 * to the one it wraps, except that write() can be told to start failing after
 * a number of successes. An injected failure happens before the inner backend
 * is called, so it applies nothing, like a RocksDB write that fails. */
#include "store/kv_faulty.h"

#include <assert.h>
#include <stdlib.h>

typedef struct {
    lt_kv_t *inner;
    long remaining; /* successful writes left before failing; < 0: never fail */
    lt_err_t code;
    long writes;
    bool own_msg; /* whether errmsg() is ours rather than inner's */
    lt_errbuf_t err;
} s_faulty_t;

/* Iterators belong to the inner backend; the wrapper remembers whose ops
 * table drives them, since the iterator calls do not receive self. */
typedef struct {
    const lt_kv_ops_t *ops;
    lt_kv_iter_t *inner;
} s_iter_t;

static lt_err_t s_get(void *self, const lt_kv_snapshot_t *snap, unsigned cf, const uint8_t *key,
                      size_t klen, lt_buf_t *out)
{
    s_faulty_t *f = self;
    f->own_msg = false;
    return f->inner->ops->get(f->inner->self, snap, cf, key, klen, out);
}

static lt_err_t s_write(void *self, const lt_kv_batch_t *batch, bool sync)
{
    s_faulty_t *f = self;
    f->writes++;
    if (f->remaining == 0) {
        f->own_msg = true;
        return lt_fail(&f->err, f->code, "injected failure of write %ld", f->writes);
    }
    f->own_msg = false;
    lt_err_t rc = f->inner->ops->write(f->inner->self, batch, sync);
    if (rc == LT_OK && f->remaining > 0)
        f->remaining--;
    return rc;
}

static lt_err_t s_snapshot_new(void *self, lt_kv_snapshot_t **out)
{
    s_faulty_t *f = self;
    f->own_msg = false;
    return f->inner->ops->snapshot_new(f->inner->self, out);
}

static void s_snapshot_release(void *self, lt_kv_snapshot_t *snap)
{
    s_faulty_t *f = self;
    f->inner->ops->snapshot_release(f->inner->self, snap);
}

static lt_err_t s_iter_new(void *self, const lt_kv_snapshot_t *snap, unsigned cf,
                           lt_kv_iter_t **out)
{
    s_faulty_t *f = self;
    f->own_msg = false;
    s_iter_t *it = malloc(sizeof *it);
    if (!it) {
        f->own_msg = true;
        return lt_fail(&f->err, LT_ENOMEM, "iter: out of memory");
    }
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
    s_faulty_t *f = self;
    f->own_msg = false;
    return f->inner->ops->flush(f->inner->self);
}

static void s_close(void *self)
{
    s_faulty_t *f = self;
    lt_kv_close(&f->inner);
    free(f);
}

static const char *s_errmsg(void *self)
{
    s_faulty_t *f = self;
    return f->own_msg ? f->err.msg : lt_kv_errmsg(f->inner);
}

static const lt_kv_ops_t s_faulty_ops = {
    .version = LT_KV_OPS_VERSION,
    .name = "faulty",
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
};

lt_err_t lt_kv_faulty_wrap(lt_kv_t *inner, lt_kv_t **out)
{
    assert(inner);
    *out = NULL;
    s_faulty_t *f = calloc(1, sizeof *f);
    lt_kv_t *kv = malloc(sizeof *kv);
    if (!f || !kv) {
        free(f);
        free(kv);
        return LT_ENOMEM;
    }
    f->inner = inner;
    f->remaining = -1;
    f->code = LT_EIO;
    kv->ops = &s_faulty_ops;
    kv->self = f;
    *out = kv;
    return LT_OK;
}

static s_faulty_t *s_self(const lt_kv_t *faulty)
{
    assert(faulty->ops == &s_faulty_ops && "not a faulty wrapper");
    return faulty->self;
}

void lt_kv_faulty_fail_writes_after(lt_kv_t *faulty, long n, lt_err_t code)
{
    assert(n < 0 || code != LT_OK);
    s_faulty_t *f = s_self(faulty);
    f->remaining = n < 0 ? -1 : n;
    f->code = code;
}

long lt_kv_faulty_writes(const lt_kv_t *faulty)
{
    return s_self(faulty)->writes;
}
