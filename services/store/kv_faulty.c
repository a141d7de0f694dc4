/* Failure injection for the storage port: a wrapper (kv_wrap.h) whose
 * write() can be told to start failing after a number of successes. An
 * injected failure happens before the inner backend is called, so it applies
 * nothing, like a RocksDB write that fails. */
#include "store/kv_faulty.h"

#include "store/kv_wrap.h"

#include <assert.h>
#include <stdlib.h>

typedef struct {
    long remaining; /* successful writes left before failing; < 0: never fail */
    lt_err_t code;
    long writes;
    lt_errbuf_t err; /* the injected failure's text; empty after inner's */
} s_faulty_t;

static lt_err_t s_write(void *ctx, lt_kv_t *inner, const lt_kv_batch_t *batch, bool sync)
{
    s_faulty_t *f = ctx;
    f->writes++;
    if (f->remaining == 0)
        return lt_fail(&f->err, f->code, "injected failure of write %ld", f->writes);
    lt_errbuf_clear(&f->err);
    lt_err_t rc = lt_kv_write(inner, batch, sync);
    if (rc == LT_OK && f->remaining > 0)
        f->remaining--;
    return rc;
}

static void s_close(void *ctx)
{
    free(ctx);
}

static const char *s_errmsg(void *ctx)
{
    return ((s_faulty_t *)ctx)->err.msg;
}

static const lt_kv_wrap_hooks_t s_hooks = {
    .name = "faulty", .write = s_write, .close = s_close, .errmsg = s_errmsg};

lt_err_t lt_kv_faulty_wrap(lt_kv_t *inner, lt_kv_t **out)
{
    assert(inner);
    *out = NULL;
    s_faulty_t *f = calloc(1, sizeof *f);
    if (!f)
        return LT_ENOMEM;
    f->remaining = -1;
    f->code = LT_EIO;
    lt_err_t rc = lt_kv_wrap(inner, &s_hooks, f, out);
    if (rc)
        free(f);
    return rc;
}

static s_faulty_t *s_self(const lt_kv_t *faulty)
{
    s_faulty_t *f = lt_kv_wrap_ctx(faulty, &s_hooks);
    assert(f && "not a faulty wrapper");
    return f;
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
