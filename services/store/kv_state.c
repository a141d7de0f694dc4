/* core:kvstore. App rows: store|'k'|key -> heads register. */
#include "store/kv_state.h"

#include "store/store_impl.h"

#include <stdlib.h>

#define S_TAG "kvstore"

static const char s_description[] =
    "core:kvstore - key-value store with visible conflicts\n"
    "  ops: KvOp { repeated KvEntry { bytes key; bytes value; bool delete } }\n"
    "  commands: put KEY VALUE, del KEY, batch (put/del lines)\n"
    "  queries: get KEY -> value, conflicted; list PREFIX; inspect KEY -> heads\n"
    "  winner: highest (HLC, author); deps of a write = current heads of its keys\n";

static size_t s_row_key(lt_buf_t *k, const lt_store_id_t *sid, const uint8_t *key, size_t klen,
                        lt_err_t *rc)
{
    k->len = 0;
    *rc = lt_buf_append(k, sid->b, LT_STORE_ID_LEN);
    if (*rc == LT_OK)
        *rc = lt_buf_put_u8(k, 'k');
    if (*rc == LT_OK)
        *rc = lt_buf_append(k, key, klen);
    return k->len;
}

typedef struct {
    lt_kv_entry_t *v;
    size_t n, cap;
} s_entries_t;

static lt_err_t s_collect(void *ctx, const lt_kv_entry_t *e)
{
    s_entries_t *es = ctx;
    if (es->n == es->cap) {
        size_t cap = es->cap ? es->cap * 2 : 16;
        lt_kv_entry_t *v = realloc(es->v, cap * sizeof *v);
        if (!v)
            return LT_ENOMEM;
        es->v = v;
        es->cap = cap;
    }
    es->v[es->n++] = *e;
    return LT_OK;
}

static int s_view_cmp(const lt_view_t *a, const lt_view_t *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->p, b->p, n);
    if (c)
        return c;
    return a->len < b->len ? -1 : a->len > b->len;
}

/* Sorts by key, keeping the original order among equal keys (mergesort is
 * stable; qsort is not), so that the last op of a repeated key can be found. */
static void s_sort(lt_kv_entry_t *v, lt_kv_entry_t *tmp, size_t n)
{
    if (n < 2)
        return;
    size_t h = n / 2;
    s_sort(v, tmp, h);
    s_sort(v + h, tmp, n - h);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = s_view_cmp(&v[j].key, &v[i].key) < 0 ? v[j++] : v[i++];
    while (i < h)
        tmp[k++] = v[i++];
    while (j < n)
        tmp[k++] = v[j++];
    memcpy(v, tmp, n * sizeof *v);
}

/* Decodes a KvOp into its final entries: one per key, the last op wins. */
static lt_err_t s_final_entries(const uint8_t *app, size_t len, s_entries_t *es)
{
    lt_err_t rc = lt_kvop_decode(app, len, s_collect, es);
    if (rc || es->n < 2)
        return rc;
    lt_kv_entry_t *tmp = malloc(es->n * sizeof *tmp);
    if (!tmp)
        return LT_ENOMEM;
    s_sort(es->v, tmp, es->n);
    free(tmp);
    size_t w = 0;
    for (size_t i = 0; i < es->n; i++) {
        if (i + 1 < es->n && s_view_cmp(&es->v[i].key, &es->v[i + 1].key) == 0)
            continue; /* a later op on the same key follows */
        es->v[w++] = es->v[i];
    }
    es->n = w;
    return LT_OK;
}

static lt_err_t s_apply(const lt_apply_t *a, const uint8_t *app, size_t len)
{
    s_entries_t es = {NULL, 0, 0};
    lt_err_t rc = s_final_entries(app, len, &es);
    lt_buf_t rk = LT_BUF_INIT, old = LT_BUF_INIT, enc = LT_BUF_INIT;
    lt_heads_t heads = LT_HEADS_INIT;
    for (size_t i = 0; rc == LT_OK && i < es.n; i++) {
        const lt_kv_entry_t *e = &es.v[i];
        size_t klen = s_row_key(&rk, &a->st->id, e->key.p, e->key.len, &rc);
        if (rc)
            break;
        rc = lt_txn_get(a->txn, LT_CF_APP, rk.data, klen, &old);
        heads.n = 0;
        if (rc == LT_OK)
            rc = lt_heads_decode(old.data, old.len, &heads);
        else if (rc == LT_ENOTFOUND)
            rc = LT_OK;
        if (rc)
            break;
        lt_head_t w = {a->in->hash, a->in->in.hlc, a->in->in.author, e->del, e->value};
        lt_hash_t cited[LT_MAX_DEPS + 1];
        unsigned ncited = lt_intention_cited(&a->in->in, cited);
        rc = lt_heads_apply(&heads, &w, cited, ncited);
        enc.len = 0;
        if (rc == LT_OK)
            rc = lt_heads_encode(&heads, &enc);
        if (rc == LT_OK)
            rc = lt_txn_put(a->txn, LT_CF_APP, rk.data, klen, enc.data, enc.len);
        if (rc == LT_OK) {
            const lt_head_t *win = &heads.v[0];
            lt_event_t ev = {.kind = LT_EV_KV,
                             .store = a->st->id,
                             .seq = a->seq,
                             .hash = a->in->hash,
                             .author = a->in->in.author,
                             .hlc = a->in->in.hlc,
                             .key = e->key.p,
                             .klen = e->key.len,
                             .value = win->tombstone ? NULL : win->value.p,
                             .vlen = win->tombstone ? 0 : win->value.len,
                             .deleted = win->tombstone,
                             .conflicted = heads.n > 1,
                             .nheads = heads.n};
            rc = lt_db_emit(a->st->db, &ev);
        }
    }
    free(es.v);
    lt_buf_free(&rk);
    lt_buf_free(&old);
    lt_buf_free(&enc);
    lt_heads_free(&heads);
    return rc;
}

const lt_sm_type_t lt_kvstore_type = {
    .name = "core:kvstore",
    .description = s_description,
    .apply = s_apply,
};

static lt_err_t s_check_type(lt_store_t *st)
{
    if (st->type != &lt_kvstore_type)
        return lt_fail(&st->db->eb, LT_ETYPE, "store is a %s, not a core:kvstore", st->type->name);
    return LT_OK;
}

lt_err_t lt_kvstore_batch(lt_store_t *st, const lt_kv_entry_t *entries, size_t n,
                          lt_hash_t *hash_out)
{
    lt_err_t rc = s_check_type(st);
    if (rc)
        return rc;
    if (n == 0)
        return lt_fail(&st->db->eb, LT_EINVAL, "a batch needs at least one entry");
    for (size_t i = 0; i < n; i++)
        if (entries[i].key.len == 0)
            return lt_fail(&st->db->eb, LT_EINVAL, "keys must not be empty");
    /* deps = the current heads of every key touched. */
    lt_hash_t deps[LT_MAX_DEPS];
    unsigned ndeps = 0;
    lt_buf_t rk = LT_BUF_INIT, old = LT_BUF_INIT, ops = LT_BUF_INIT, uop = LT_BUF_INIT;
    lt_heads_t heads = LT_HEADS_INIT;
    for (size_t i = 0; rc == LT_OK && i < n; i++) {
        size_t klen = s_row_key(&rk, &st->id, entries[i].key.p, entries[i].key.len, &rc);
        if (rc)
            break;
        rc = lt_txn_get(st->db->txn, LT_CF_APP, rk.data, klen, &old);
        if (rc == LT_ENOTFOUND) {
            rc = LT_OK;
            continue;
        }
        if (rc == LT_OK)
            rc = lt_heads_decode(old.data, old.len, &heads);
        for (unsigned j = 0; rc == LT_OK && j < heads.n; j++) {
            bool seen = false;
            for (unsigned d = 0; d < ndeps && !seen; d++)
                seen = lt_hash_eq(&deps[d], &heads.v[j].hash);
            if (seen)
                continue;
            if (ndeps == LT_MAX_DEPS)
                rc = lt_fail(&st->db->eb, LT_ETOOMANYDEPS,
                             "the keys of this batch have more than %d heads between them: "
                             "split the batch",
                             LT_MAX_DEPS);
            else
                deps[ndeps++] = heads.v[j].hash;
        }
    }
    if (rc == LT_OK)
        rc = lt_kvop_encode(entries, n, &ops);
    if (rc == LT_OK)
        rc = lt_uop_encode_app(ops.data, ops.len, &uop);
    if (rc == LT_OK)
        rc = lt_store_write(st, uop.data, uop.len, deps, ndeps, hash_out);
    lt_buf_free(&rk);
    lt_buf_free(&old);
    lt_buf_free(&ops);
    lt_buf_free(&uop);
    lt_heads_free(&heads);
    return rc;
}

lt_err_t lt_kvstore_put(lt_store_t *st, const uint8_t *key, size_t klen, const uint8_t *val,
                        size_t vlen, lt_hash_t *hash_out)
{
    lt_kv_entry_t e = {{key, klen}, {val ? val : (const uint8_t *)"", vlen}, false};
    return lt_kvstore_batch(st, &e, 1, hash_out);
}

lt_err_t lt_kvstore_del(lt_store_t *st, const uint8_t *key, size_t klen, lt_hash_t *hash_out)
{
    lt_kv_entry_t e = {{key, klen}, {(const uint8_t *)"", 0}, true};
    return lt_kvstore_batch(st, &e, 1, hash_out);
}

lt_err_t lt_kvstore_inspect(lt_store_t *st, const uint8_t *key, size_t klen, lt_heads_t *heads,
                            lt_buf_t *storage)
{
    lt_err_t rc = s_check_type(st);
    if (rc)
        return rc;
    lt_buf_t rk = LT_BUF_INIT;
    size_t n = s_row_key(&rk, &st->id, key, klen, &rc);
    if (rc == LT_OK)
        rc = lt_txn_get(st->db->txn, LT_CF_APP, rk.data, n, storage);
    lt_buf_free(&rk);
    heads->n = 0;
    if (rc == LT_OK && lt_heads_decode(storage->data, storage->len, heads) != LT_OK)
        rc = lt_fail(&st->db->eb, LT_ECORRUPT, "the heads of a key do not decode");
    return rc;
}

lt_err_t lt_kvstore_get(lt_store_t *st, const uint8_t *key, size_t klen, lt_buf_t *value,
                        bool *conflicted)
{
    lt_heads_t heads = LT_HEADS_INIT;
    lt_buf_t storage = LT_BUF_INIT;
    lt_err_t rc = lt_kvstore_inspect(st, key, klen, &heads, &storage);
    if (rc == LT_OK) {
        if (conflicted)
            *conflicted = heads.n > 1;
        if (heads.n == 0 || heads.v[0].tombstone)
            rc = LT_ENOTFOUND;
        else if (value)
            rc = lt_buf_set(value, heads.v[0].value.p, heads.v[0].value.len);
    } else if (rc == LT_ENOTFOUND && conflicted) {
        *conflicted = false;
    }
    lt_heads_free(&heads);
    lt_buf_free(&storage);
    return rc;
}

lt_err_t lt_kvstore_list(lt_store_t *st, const uint8_t *prefix, size_t plen, lt_kvstore_list_fn fn,
                         void *ctx)
{
    lt_err_t rc = s_check_type(st);
    if (rc)
        return rc;
    lt_buf_t rk = LT_BUF_INIT;
    size_t n = s_row_key(&rk, &st->id, prefix, plen, &rc);
    if (rc)
        return rc;
    lt_kv_t *kv = st->db->kv;
    lt_kv_iter_t *it;
    rc = lt_kv_iter_new(kv, LT_CF_APP, &it);
    if (rc) {
        lt_buf_free(&rk);
        return rc;
    }
    lt_heads_t heads = LT_HEADS_INIT;
    kv->ops->iter_seek(it, rk.data, n);
    while (rc == LT_OK && lt_kv_iter_has_prefix(kv, it, rk.data, n)) {
        size_t klen, vlen;
        const uint8_t *k = kv->ops->iter_key(it, &klen);
        const uint8_t *v = kv->ops->iter_value(it, &vlen);
        rc = lt_heads_decode(v, vlen, &heads);
        if (rc == LT_OK && heads.n && (!heads.v[0].tombstone || heads.n > 1))
            rc = fn(ctx, k + LT_STORE_ID_LEN + 1, klen - LT_STORE_ID_LEN - 1, &heads);
        kv->ops->iter_next(it);
    }
    if (rc == LT_OK)
        rc = kv->ops->iter_status(it);
    kv->ops->iter_free(it);
    lt_heads_free(&heads);
    lt_buf_free(&rk);
    return rc;
}
