/* Fuzz target: the KvOp decoder. Every entry it hands out must be valid (a
 * non-empty key, no value on a delete) with views inside the input; the
 * entries re-encode and decode to the same sequence. */
#include "store/ops_codec.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    lt_kv_entry_t *v;
    size_t n, cap;
    const uint8_t *lo, *hi; /* where the views must point, or NULL for anywhere */
} s_entries_t;

static lt_err_t s_collect(void *ctx, const lt_kv_entry_t *e)
{
    s_entries_t *es = ctx;
    if (e->key.len == 0 || !e->key.p || !e->value.p || (e->del && e->value.len))
        abort();
    if (es->lo && (e->key.p < es->lo || e->key.p + e->key.len > es->hi))
        abort();
    if (es->lo && e->value.len && (e->value.p < es->lo || e->value.p + e->value.len > es->hi))
        abort();
    /* Touch every byte so the sanitizer sees a bad view. */
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < e->key.len; i++)
        sink ^= e->key.p[i];
    for (size_t i = 0; i < e->value.len; i++)
        sink ^= e->value.p[i];
    (void)sink;
    if (es->n == es->cap) {
        size_t cap = es->cap ? es->cap * 2 : 8;
        lt_kv_entry_t *v = realloc(es->v, cap * sizeof *v);
        if (!v)
            return LT_ENOMEM;
        es->v = v;
        es->cap = cap;
    }
    es->v[es->n++] = *e;
    return LT_OK;
}

static bool s_view_eq(lt_view_t a, lt_view_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    s_entries_t first = {NULL, 0, 0, data, data ? data + size : NULL};
    lt_err_t rc = lt_kvop_decode(data, size, s_collect, &first);
    if (rc == LT_OK) {
        lt_buf_t enc = LT_BUF_INIT;
        if (lt_kvop_encode(first.v, first.n, &enc) != LT_OK)
            abort();
        /* An empty batch encodes to nothing: enc.data may be NULL. */
        s_entries_t second = {NULL, 0, 0, enc.data, enc.data ? enc.data + enc.len : NULL};
        if (lt_kvop_decode(enc.data, enc.len, s_collect, &second) != LT_OK || second.n != first.n)
            abort();
        for (size_t i = 0; i < first.n; i++)
            if (!s_view_eq(first.v[i].key, second.v[i].key) ||
                !s_view_eq(first.v[i].value, second.v[i].value) ||
                first.v[i].del != second.v[i].del)
                abort();
        free(second.v);
        lt_buf_free(&enc);
    } else if (rc != LT_EPAYLOAD && rc != LT_ENOMEM) {
        abort();
    }
    free(first.v);
    return 0;
}
