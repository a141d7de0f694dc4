/* core:logstore. App rows: store|'l'|wall be64|counter be32|author|hash -> text,
 * so key order is (HLC, author) order (hash breaks the tie of a forked key). */
#include "store/log_state.h"

#include "store/ops_codec.h"
#include "store/store_impl.h"

#define S_ROW_LEN (LT_STORE_ID_LEN + 1 + 8 + 4 + LT_KEY_LEN + LT_HASH_LEN)

static const char s_description[] = "core:logstore - append-only log\n"
                                    "  ops: LogEntry { bytes text }\n"
                                    "  commands: append TEXT\n"
                                    "  queries: read [--tail N] in (HLC, author) order; follow\n";

static void s_row_key(uint8_t *k, const lt_store_id_t *sid, lt_hlc_t hlc, const lt_pubkey_t *author,
                      const lt_hash_t *h)
{
    memcpy(k, sid->b, LT_STORE_ID_LEN);
    k += LT_STORE_ID_LEN;
    *k++ = 'l';
    lt_put_u64be(k, hlc.wall_ms);
    lt_put_u32be(k + 8, hlc.counter);
    memcpy(k + 12, author->b, LT_KEY_LEN);
    memcpy(k + 12 + LT_KEY_LEN, h->b, LT_HASH_LEN);
}

static lt_err_t s_apply(const lt_apply_t *a, const uint8_t *app, size_t len)
{
    lt_view_t text;
    lt_err_t rc = lt_logentry_decode(app, len, &text);
    if (rc)
        return rc;
    uint8_t k[S_ROW_LEN];
    s_row_key(k, &a->st->id, a->in->in.hlc, &a->in->in.author, &a->in->hash);
    rc = lt_txn_put(a->txn, LT_CF_APP, k, sizeof k, text.p, text.len);
    if (rc)
        return rc;
    lt_event_t ev = {.kind = LT_EV_LOG,
                     .store = a->st->id,
                     .seq = a->seq,
                     .hash = a->in->hash,
                     .author = a->in->in.author,
                     .hlc = a->in->in.hlc,
                     .value = text.p,
                     .vlen = text.len};
    return lt_db_emit(a->st->db, &ev);
}

const lt_sm_type_t lt_logstore_type = {
    .name = "core:logstore",
    .description = s_description,
    .apply = s_apply,
};

lt_err_t lt_logstore_append(lt_store_t *st, const uint8_t *text, size_t len, lt_hash_t *hash_out)
{
    if (st->type != &lt_logstore_type)
        return lt_fail(&st->db->eb, LT_ETYPE, "store is a %s, not a core:logstore", st->type->name);
    lt_buf_t entry = LT_BUF_INIT, uop = LT_BUF_INIT;
    lt_err_t rc = lt_logentry_encode(text, len, &entry);
    if (rc == LT_OK)
        rc = lt_uop_encode_app(entry.data, entry.len, &uop);
    if (rc == LT_OK)
        rc = lt_store_write(st, uop.data, uop.len, NULL, 0, hash_out);
    lt_buf_free(&entry);
    lt_buf_free(&uop);
    return rc;
}

lt_err_t lt_logstore_read(lt_store_t *st, uint64_t tail, lt_logstore_fn fn, void *ctx)
{
    if (st->type != &lt_logstore_type)
        return lt_fail(&st->db->eb, LT_ETYPE, "store is a %s, not a core:logstore", st->type->name);
    lt_kv_t *kv = st->db->kv;
    lt_kv_iter_t *it;
    lt_err_t rc = lt_kv_iter_new(kv, LT_CF_APP, &it);
    if (rc)
        return rc;
    uint8_t prefix[LT_STORE_ID_LEN + 1];
    memcpy(prefix, st->id.b, LT_STORE_ID_LEN);
    prefix[LT_STORE_ID_LEN] = 'l';
    if (tail == 0) {
        kv->ops->iter_seek(it, prefix, sizeof prefix);
    } else {
        /* Step back `tail` entries from the end, then read forward. */
        uint8_t last[S_ROW_LEN];
        memcpy(last, prefix, sizeof prefix);
        memset(last + sizeof prefix, 0xff, sizeof last - sizeof prefix);
        kv->ops->iter_seek_for_prev(it, last, sizeof last);
        uint64_t n = 1;
        while (n < tail && lt_kv_iter_has_prefix(kv, it, prefix, sizeof prefix)) {
            kv->ops->iter_prev(it);
            n++;
        }
        if (!lt_kv_iter_has_prefix(kv, it, prefix, sizeof prefix))
            kv->ops->iter_seek(it, prefix, sizeof prefix);
    }
    while (rc == LT_OK && lt_kv_iter_has_prefix(kv, it, prefix, sizeof prefix)) {
        size_t klen, vlen;
        const uint8_t *k = kv->ops->iter_key(it, &klen);
        const uint8_t *v = kv->ops->iter_value(it, &vlen);
        if (klen != S_ROW_LEN) {
            rc = lt_fail(&st->db->eb, LT_ECORRUPT, "a log row has a malformed key");
            break;
        }
        const uint8_t *p = k + sizeof prefix;
        lt_hlc_t hlc = {lt_get_u64be(p), lt_get_u32be(p + 8)};
        lt_pubkey_t author;
        lt_hash_t h;
        memcpy(author.b, p + 12, LT_KEY_LEN);
        memcpy(h.b, p + 12 + LT_KEY_LEN, LT_HASH_LEN);
        rc = fn(ctx, hlc, &author, &h, v, vlen);
        kv->ops->iter_next(it);
    }
    if (rc == LT_OK)
        rc = kv->ops->iter_status(it);
    kv->ops->iter_free(it);
    return rc;
}
