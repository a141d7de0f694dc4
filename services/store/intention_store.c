/* The intention store of one store: ingest, floating, witnessing with its
 * cascade, author tips and forks, the witness chain, and the projection
 * cursor (DESIGN.md §4-5).
 *
 * Every step writes through the db's pending transaction, so the intention,
 * its witness record, the indexes and the projection move together in one
 * atomic batch. The in-memory fields of lt_store (seq, last record hash,
 * cursor) mirror the pending state and are reloaded if a commit fails.
 *
 * Per-store meta rows (CF_META, key store|tag):
 *   "cursor"      u64le  projection applied up to this seq
 *   "verified"    u64le  witness chain verified up to this seq
 *   "clk" author  u64le  clock faults counted against author */
#include "store/store_impl.h"

#include "store/ops_codec.h"
#include "weaver/witness.h"

#include <stdio.h>
#include <stdlib.h>

#define S_TAG     "store"
#define S_KEY_MAX (LT_STORE_ID_LEN + 2 * LT_HASH_LEN + 8)

/* ---- small helpers ---- */

static void s_sid_hex(const lt_store_t *st, char out[2 * LT_STORE_ID_LEN + 1])
{
    lt_hex(st->id.b, LT_STORE_ID_LEN, out);
}

static lt_err_t s_corrupt(lt_store_t *st, uint64_t seq, uint64_t *bad_seq, const char *what)
{
    char sid[33];
    s_sid_hex(st, sid);
    if (bad_seq)
        *bad_seq = seq;
    lt_log_error(st->db->log, S_TAG, "store %s: witness record %llu is corrupt: %s", sid,
                 (unsigned long long)seq, what);
    return lt_fail(&st->db->eb, LT_ECORRUPT, "store %s: witness record %llu is corrupt: %s", sid,
                   (unsigned long long)seq, what);
}

static lt_err_t s_meta_get_u64(lt_store_t *st, const char *tag, uint64_t *v)
{
    uint8_t key[S_KEY_MAX];
    size_t klen = lt_key2(key, &st->id, tag, strlen(tag), NULL, 0);
    uint8_t raw[8];
    lt_buf_t b = LT_BUF_INIT;
    lt_err_t rc = lt_txn_get(st->db->txn, LT_CF_META, key, klen, &b);
    if (rc == LT_ENOTFOUND) {
        *v = 0;
        return LT_OK;
    }
    if (rc == LT_OK && b.len != 8)
        rc = LT_ECORRUPT;
    if (rc == LT_OK) {
        memcpy(raw, b.data, 8);
        *v = lt_get_u64le(raw);
    }
    lt_buf_free(&b);
    return rc;
}

static lt_err_t s_meta_put_u64(lt_store_t *st, const char *tag, uint64_t v)
{
    uint8_t key[S_KEY_MAX], raw[8];
    size_t klen = lt_key2(key, &st->id, tag, strlen(tag), NULL, 0);
    lt_put_u64le(raw, v);
    return lt_txn_put(st->db->txn, LT_CF_META, key, klen, raw, 8);
}

/* Reads witness record `seq` into *w (LT_ENOTFOUND if absent). */
static lt_err_t s_read_record(lt_store_t *st, uint64_t seq, lt_witness_t *w, lt_buf_t *scratch)
{
    uint8_t key[S_KEY_MAX];
    size_t klen = lt_key_seq(key, &st->id, seq);
    lt_err_t rc = lt_txn_read(st->db->txn, LT_CF_WITNESS, key, klen, scratch);
    if (rc)
        return rc;
    return lt_witness_decode(scratch->data, scratch->len, w) ? LT_ECORRUPT : LT_OK;
}

/* windex lookup: seq and author of a witnessed intention. cache: keep the
 * row in the transaction (the write path asks again; a walk does not). */
static lt_err_t s_windex(lt_store_t *st, const lt_hash_t *h, uint64_t *seq, lt_pubkey_t *author,
                         bool cache)
{
    uint8_t key[S_KEY_MAX];
    size_t klen = lt_key2(key, &st->id, h->b, LT_HASH_LEN, NULL, 0);
    lt_buf_t b = LT_BUF_INIT;
    lt_err_t rc = (cache ? lt_txn_get : lt_txn_read)(st->db->txn, LT_CF_WINDEX, key, klen, &b);
    if (rc == LT_OK && b.len != 8 + LT_KEY_LEN)
        rc = LT_ECORRUPT;
    if (rc == LT_OK) {
        if (seq)
            *seq = lt_get_u64be(b.data);
        if (author)
            memcpy(author->b, b.data + 8, LT_KEY_LEN);
    }
    lt_buf_free(&b);
    return rc;
}

/* Hash lists (n x 32 bytes) kept sorted and unique. */
static lt_err_t s_list_get(lt_store_t *st, unsigned cf, const uint8_t *key, size_t klen,
                           lt_buf_t *out)
{
    lt_err_t rc = lt_txn_get(st->db->txn, cf, key, klen, out);
    if (rc == LT_ENOTFOUND) {
        out->len = 0;
        return LT_OK;
    }
    if (rc == LT_OK && out->len % LT_HASH_LEN)
        return LT_ECORRUPT;
    return rc;
}

static void s_list_remove(lt_buf_t *l, const lt_hash_t *h)
{
    for (size_t o = 0; o < l->len; o += LT_HASH_LEN) {
        if (memcmp(l->data + o, h->b, LT_HASH_LEN) == 0) {
            memmove(l->data + o, l->data + o + LT_HASH_LEN, l->len - o - LT_HASH_LEN);
            l->len -= LT_HASH_LEN;
            return;
        }
    }
}

static lt_err_t s_list_insert(lt_buf_t *l, const lt_hash_t *h)
{
    size_t o = 0;
    while (o < l->len && memcmp(l->data + o, h->b, LT_HASH_LEN) < 0)
        o += LT_HASH_LEN;
    if (o < l->len && memcmp(l->data + o, h->b, LT_HASH_LEN) == 0)
        return LT_OK;
    lt_err_t rc = lt_buf_reserve(l, LT_HASH_LEN);
    if (rc)
        return rc;
    memmove(l->data + o + LT_HASH_LEN, l->data + o, l->len - o);
    memcpy(l->data + o, h->b, LT_HASH_LEN);
    l->len += LT_HASH_LEN;
    return LT_OK;
}

/* ---- state ---- */

lt_err_t lt_store_reload(lt_store_t *st)
{
    st->dirty = false;
    st->seq = 0;
    memset(&st->last_rec, 0, sizeof st->last_rec);
    /* The last record is the highest seq key of this store. */
    lt_kv_t *kv = st->db->kv;
    lt_kv_iter_t *it;
    lt_err_t rc = lt_kv_iter_new(kv, LT_CF_WITNESS, &it);
    if (rc)
        return rc;
    uint8_t key[S_KEY_MAX];
    size_t klen = lt_key_seq(key, &st->id, UINT64_MAX);
    kv->ops->iter_seek_for_prev(it, key, klen);
    if (lt_kv_iter_has_prefix(kv, it, st->id.b, LT_STORE_ID_LEN)) {
        size_t n, vlen;
        const uint8_t *k = kv->ops->iter_key(it, &n);
        const uint8_t *v = kv->ops->iter_value(it, &vlen);
        lt_witness_t w;
        if (n != LT_STORE_ID_LEN + 8 || lt_witness_decode(v, vlen, &w) != LT_OK ||
            w.seq != lt_get_u64be(k + LT_STORE_ID_LEN)) {
            uint64_t seq = n == LT_STORE_ID_LEN + 8 ? lt_get_u64be(k + LT_STORE_ID_LEN) : 0;
            kv->ops->iter_free(it);
            return s_corrupt(st, seq, NULL, "the last record does not decode");
        }
        st->seq = w.seq;
        lt_witness_hash(&w, &st->last_rec);
    }
    rc = kv->ops->iter_status(it);
    kv->ops->iter_free(it);
    if (rc)
        return lt_fail(&st->db->eb, rc, "reading the witness log: %s", lt_kv_errmsg(kv));
    rc = lt_store_floating_count(st, &st->nfloating);
    if (rc)
        return lt_fail(&st->db->eb, rc, "counting floating intentions: %s", lt_kv_errmsg(kv));
    return s_meta_get_u64(st, "cursor", &st->cursor);
}

lt_err_t lt_store_load(lt_db_t *db, const lt_store_id_t *id, const char *type, lt_store_t **out)
{
    const lt_sm_type_t *t = lt_registry_find(&db->registry, type);
    if (!t) {
        char sid[33];
        lt_hex(id->b, LT_STORE_ID_LEN, sid);
        return lt_fail(&db->eb, LT_ETYPE, "store %s has unknown type '%s'", sid, type);
    }
    lt_store_t *st = calloc(1, sizeof *st);
    if (!st)
        return LT_ENOMEM;
    st->db = db;
    st->id = *id;
    st->type = t;
    lt_err_t rc = lt_store_reload(st);
    if (rc) {
        free(st);
        return rc;
    }
    *out = st;
    return LT_OK;
}

void lt_store_free(lt_store_t **st_p)
{
    free(*st_p);
    *st_p = NULL;
}

const lt_store_id_t *lt_store_id(const lt_store_t *st)
{
    return &st->id;
}

const char *lt_store_type(const lt_store_t *st)
{
    return st->type->name;
}

lt_db_t *lt_store_db(lt_store_t *st)
{
    return st->db;
}

uint64_t lt_store_witnessed_count(const lt_store_t *st)
{
    return st->seq;
}

/* ---- projection ---- */

static lt_err_t s_project(lt_store_t *st, const lt_signed_t *s, uint64_t seq)
{
    lt_uop_t uop;
    lt_apply_t a = {st, st->db->txn, s, seq};
    lt_err_t rc = lt_uop_decode(s->in.ops, s->in.ops_len, &uop);
    if (rc == LT_OK)
        rc = uop.is_system ? lt_system_apply(&a, &uop.system)
                           : st->type->apply(&a, uop.app.p, uop.app.len);
    if (rc == LT_EPAYLOAD) {
        /* Deterministic: every node skips the same payload. */
        char hex[65];
        lt_hex(s->hash.b, LT_HASH_LEN, hex);
        lt_log_warn(st->db->log, S_TAG, "intention %s: payload is malformed; it changes nothing",
                    hex);
        rc = LT_OK;
    }
    if (rc)
        return rc;
    st->cursor = seq;
    return s_meta_put_u64(st, "cursor", seq);
}

/* ---- witnessing ---- */

/* Links of an intention not yet witnessed; *bad when store_prev names an
 * intention of another author (it can never be witnessed). */
static lt_err_t s_links(lt_store_t *st, const lt_intention_t *in, lt_hash_t *missing,
                        unsigned *nmissing, bool *bad)
{
    *nmissing = 0;
    *bad = false;
    if (!lt_hash_is_zero(&in->store_prev)) {
        lt_pubkey_t author;
        lt_err_t rc = s_windex(st, &in->store_prev, NULL, &author, true);
        if (rc == LT_ENOTFOUND)
            missing[(*nmissing)++] = in->store_prev;
        else if (rc)
            return rc;
        else if (lt_pubkey_cmp(&author, &in->author) != 0)
            *bad = true;
    }
    for (unsigned i = 0; i < in->ndeps; i++) {
        lt_err_t rc = s_windex(st, &in->deps[i], NULL, NULL, true);
        if (rc == LT_ENOTFOUND)
            missing[(*nmissing)++] = in->deps[i];
        else if (rc)
            return rc;
    }
    return LT_OK;
}

static lt_err_t s_float(lt_store_t *st, const lt_hash_t *h, const lt_hash_t *awaited)
{
    uint8_t key[S_KEY_MAX];
    size_t klen = lt_key2(key, &st->id, h->b, LT_HASH_LEN, NULL, 0);
    lt_err_t rc = lt_txn_put(st->db->txn, LT_CF_FLOATING, key, klen, awaited->b, LT_HASH_LEN);
    if (rc)
        return rc;
    klen = lt_key2(key, &st->id, awaited->b, LT_HASH_LEN, NULL, 0);
    lt_buf_t l = LT_BUF_INIT;
    rc = s_list_get(st, LT_CF_FINDEX, key, klen, &l);
    if (rc == LT_OK)
        rc = s_list_insert(&l, h);
    if (rc == LT_OK)
        rc = lt_txn_put(st->db->txn, LT_CF_FINDEX, key, klen, l.data, l.len);
    lt_buf_free(&l);
    return rc;
}

/* Moves the author's tips past h. *prev_was_tip tells whether store_prev was
 * a tip (for a first intention: whether the author had no tip yet), in which
 * case it cannot have a witnessed child yet: a child removes it from the tips,
 * and nothing puts it back. */
static lt_err_t s_update_tips(lt_store_t *st, const lt_intention_t *in, const lt_hash_t *h,
                              bool *prev_was_tip)
{
    uint8_t key[S_KEY_MAX];
    size_t klen = lt_key2(key, &st->id, in->author.b, LT_KEY_LEN, NULL, 0);
    lt_buf_t l = LT_BUF_INIT;
    lt_err_t rc = s_list_get(st, LT_CF_TIPS, key, klen, &l);
    if (rc == LT_OK) {
        size_t before = l.len;
        s_list_remove(&l, &in->store_prev);
        *prev_was_tip = lt_hash_is_zero(&in->store_prev) ? before == 0 : l.len < before;
        /* A later intention that cites all branch heads (store_prev + deps)
         * joins the author's forked chain back into one tip. */
        s_list_remove(&l, &in->store_prev);
        for (unsigned i = 0; i < in->ndeps; i++)
            s_list_remove(&l, &in->deps[i]);
        rc = s_list_insert(&l, h);
    }
    if (rc == LT_OK)
        rc = lt_txn_put(st->db->txn, LT_CF_TIPS, key, klen, l.data, l.len);
    lt_buf_free(&l);
    return rc;
}

/* Records h as a child of its store_prev; more than one child is a fork.
 * first_child: store_prev is known to have no child yet (skips the read). */
static lt_err_t s_update_chain(lt_store_t *st, const lt_signed_t *s, bool first_child)
{
    uint8_t key[S_KEY_MAX];
    size_t klen =
        lt_key2(key, &st->id, s->in.author.b, LT_KEY_LEN, s->in.store_prev.b, LT_HASH_LEN);
    lt_buf_t l = LT_BUF_INIT;
    lt_err_t rc = first_child ? LT_OK : s_list_get(st, LT_CF_CHAIN, key, klen, &l);
    if (rc == LT_OK)
        rc = s_list_insert(&l, &s->hash);
    if (rc == LT_OK)
        rc = lt_txn_put(st->db->txn, LT_CF_CHAIN, key, klen, l.data, l.len);
    if (rc == LT_OK && l.len > LT_HASH_LEN) {
        char sid[33], author[65];
        s_sid_hex(st, sid);
        lt_hex(s->in.author.b, LT_KEY_LEN, author);
        lt_log_warn(st->db->log, S_TAG,
                    "store %s: author %s forked its chain (%zu intentions on one store_prev): "
                    "its key is used from two places",
                    sid, author, l.len / LT_HASH_LEN);
        lt_event_t ev = {.kind = LT_EV_FORK,
                         .store = st->id,
                         .hash = s->hash,
                         .author = s->in.author,
                         .hlc = s->in.hlc};
        rc = lt_db_emit(st->db, &ev);
    }
    lt_buf_free(&l);
    return rc;
}

static lt_err_t s_count_clock_fault(lt_store_t *st, const lt_pubkey_t *author)
{
    char tag[4 + 2 * LT_KEY_LEN + 1];
    memcpy(tag, "clk:", 4);
    lt_hex(author->b, LT_KEY_LEN, tag + 4);
    uint64_t n;
    lt_err_t rc = s_meta_get_u64(st, tag, &n);
    return rc ? rc : s_meta_put_u64(st, tag, n + 1);
}

/* Witnesses s (whose links are met): record, indexes, tips, projection.
 * was_floating: s has a floating row to remove. */
static lt_err_t s_witness(lt_store_t *st, const lt_signed_t *s, bool was_floating)
{
    lt_db_t *db = st->db;
    lt_witness_t w = {st->id, st->seq + 1, s->hash, lt_clock_now_ms(&db->clock), st->last_rec};
    uint8_t rec[LT_WITNESS_LEN], key[S_KEY_MAX], val[8 + LT_KEY_LEN];
    lt_witness_encode(&w, rec);
    size_t klen = lt_key_seq(key, &st->id, w.seq);
    lt_err_t rc = lt_txn_put(db->txn, LT_CF_WITNESS, key, klen, rec, sizeof rec);
    if (rc)
        return rc;
    klen = lt_key2(key, &st->id, s->hash.b, LT_HASH_LEN, NULL, 0);
    lt_put_u64be(val, w.seq);
    memcpy(val + 8, s->in.author.b, LT_KEY_LEN);
    rc = lt_txn_put(db->txn, LT_CF_WINDEX, key, klen, val, sizeof val);
    if (rc == LT_OK && was_floating) {
        rc = lt_txn_del(db->txn, LT_CF_FLOATING, key, klen);
        st->nfloating--;
    }
    bool prev_was_tip = false;
    if (rc == LT_OK)
        rc = s_update_tips(st, &s->in, &s->hash, &prev_was_tip);
    if (rc == LT_OK)
        rc = s_update_chain(st, s, prev_was_tip);
    if (rc == LT_OK && !lt_clock_observe(&db->clock, s->in.hlc)) {
        char author[65];
        lt_hex(s->in.author.b, LT_KEY_LEN, author);
        lt_log_warn(db->log, S_TAG, "author %s: timestamp %llu ms is past the maximum drift",
                    author, (unsigned long long)s->in.hlc.wall_ms);
        rc = s_count_clock_fault(st, &s->in.author);
    }
    if (rc)
        return rc;
    st->seq = w.seq;
    lt_witness_hash(&w, &st->last_rec);
    st->dirty = true;
    if (st->cursor == w.seq - 1) {
        rc = s_project(st, s, w.seq);
        if (rc)
            return rc;
    }
    lt_event_t ev = {.kind = LT_EV_WITNESSED,
                     .store = st->id,
                     .seq = w.seq,
                     .hash = s->hash,
                     .author = s->in.author,
                     .hlc = s->in.hlc};
    return lt_db_emit(db, &ev);
}

/* Witnesses the floating intentions that waited for h, and so on. */
static lt_err_t s_cascade(lt_store_t *st, const lt_hash_t *first, unsigned *witnessed)
{
    lt_buf_t work = LT_BUF_INIT, waiters = LT_BUF_INIT, bytes = LT_BUF_INIT;
    lt_err_t rc = lt_buf_append(&work, first->b, LT_HASH_LEN);
    while (rc == LT_OK && work.len) {
        lt_hash_t h;
        work.len -= LT_HASH_LEN;
        memcpy(h.b, work.data + work.len, LT_HASH_LEN);
        uint8_t key[S_KEY_MAX];
        size_t klen = lt_key2(key, &st->id, h.b, LT_HASH_LEN, NULL, 0);
        rc = s_list_get(st, LT_CF_FINDEX, key, klen, &waiters);
        if (rc || waiters.len == 0)
            continue;
        rc = lt_txn_del(st->db->txn, LT_CF_FINDEX, key, klen);
        for (size_t o = 0; rc == LT_OK && o < waiters.len; o += LT_HASH_LEN) {
            lt_hash_t wh;
            memcpy(wh.b, waiters.data + o, LT_HASH_LEN);
            if (s_windex(st, &wh, NULL, NULL, true) == LT_OK)
                continue; /* witnessed already */
            klen = lt_key2(key, &st->id, wh.b, LT_HASH_LEN, NULL, 0);
            rc = lt_txn_get(st->db->txn, LT_CF_INTENTIONS, key, klen, &bytes);
            if (rc == LT_ENOTFOUND) {
                rc = LT_OK; /* dropped earlier */
                continue;
            }
            lt_signed_t s;
            if (rc == LT_OK && lt_signed_parse(bytes.data, bytes.len, &s) != LT_OK)
                rc = lt_fail(&st->db->eb, LT_ECORRUPT, "a stored floating intention is corrupt");
            if (rc)
                break;
            lt_hash_t missing[LT_MAX_DEPS + 1];
            unsigned nmissing;
            bool bad;
            rc = s_links(st, &s.in, missing, &nmissing, &bad);
            if (rc)
                break;
            if (bad) {
                char hex[65];
                lt_hex(wh.b, LT_HASH_LEN, hex);
                lt_log_warn(st->db->log, S_TAG,
                            "intention %s dropped: its store_prev is by another author", hex);
                rc = lt_txn_del(st->db->txn, LT_CF_INTENTIONS, key, klen);
                if (rc == LT_OK)
                    rc = lt_txn_del(st->db->txn, LT_CF_FLOATING, key, klen);
                st->nfloating--;
            } else if (nmissing) {
                rc = s_float(st, &wh, &missing[0]);
            } else {
                rc = s_witness(st, &s, true);
                if (rc == LT_OK) {
                    (*witnessed)++;
                    rc = lt_buf_append(&work, wh.b, LT_HASH_LEN);
                }
            }
        }
    }
    lt_buf_free(&work);
    lt_buf_free(&waiters);
    lt_buf_free(&bytes);
    return rc;
}

/* Whether the store surely does not hold the intention in (whose key in
 * the intention and floating families is key), judged without looking it
 * up among those held: that lookup is a miss in every table for a new
 * intention, and most of what a clone ingests is new, each one extending
 * its author's tip.
 *
 * Why it holds. Witnessing Y removes Y.store_prev from its author's tips
 * and inserts Y, and a hash is witnessed once: a hash still in an author's
 * tips is no witnessed intention's store_prev for that author, and an
 * author without tips has witnessed nothing. So when in.store_prev is one
 * of its author's tips (or in has none and the author no tips), in is not
 * witnessed; and what is held and not witnessed floats. The tips row is
 * the one the witness step reads next (the transaction keeps it); the
 * floating row is looked up only while something floats, in a family that
 * small. Any doubt (a row that does not read) answers false: the caller
 * looks the intention up. */
static bool s_surely_new(lt_store_t *st, const lt_intention_t *in, const uint8_t *key, size_t klen)
{
    uint8_t tkey[S_KEY_MAX];
    size_t tklen = lt_key2(tkey, &st->id, in->author.b, LT_KEY_LEN, NULL, 0);
    lt_buf_t l = LT_BUF_INIT;
    bool sure = false;
    if (s_list_get(st, LT_CF_TIPS, tkey, tklen, &l) == LT_OK) {
        if (lt_hash_is_zero(&in->store_prev))
            sure = l.len == 0;
        for (size_t o = 0; !sure && o < l.len; o += LT_HASH_LEN)
            sure = memcmp(l.data + o, in->store_prev.b, LT_HASH_LEN) == 0;
    }
    lt_buf_free(&l);
    if (sure && st->nfloating)
        sure = lt_txn_read(st->db->txn, LT_CF_FLOATING, key, klen, NULL) == LT_ENOTFOUND;
    return sure;
}

/* Stores and witnesses (or floats) a validated intention. A failure here
 * leaves the pending transaction half-written: the caller poisons the db. */
static lt_err_t s_accept(lt_store_t *st, const lt_signed_t *s, const uint8_t *key, size_t klen,
                         lt_ingest_result_t *res)
{
    lt_err_t rc = lt_txn_put(st->db->txn, LT_CF_INTENTIONS, key, klen, s->bytes, s->len);
    if (rc)
        return rc;
    if (res->nmissing) {
        res->status = LT_INGEST_FLOATING;
        st->nfloating++;
        return s_float(st, &s->hash, &res->missing[0]);
    }
    rc = s_witness(st, s, false);
    if (rc)
        return rc;
    res->status = LT_INGEST_WITNESSED;
    res->witnessed = 1;
    /* Nothing floats: nothing can be waiting for s. */
    return st->nfloating ? s_cascade(st, &s->hash, &res->witnessed) : LT_OK;
}

static lt_err_t s_ingest(lt_store_t *st, const uint8_t *bytes, size_t len, bool trusted,
                         lt_ingest_result_t *res)
{
    lt_db_t *db = st->db;
    lt_signed_t s;
    memset(res, 0, sizeof *res);
    if (db->poisoned)
        return lt_fail(&db->eb, db->poisoned,
                       "an earlier write of this commit group failed; commit or abort first");
    lt_err_t rc = lt_signed_parse(bytes, len, &s);
    if (rc)
        return lt_fail(&db->eb, rc, "intention rejected: %s", lt_strerror(rc));
    res->hash = s.hash;
    char hex[2 * LT_HASH_LEN + 1];
    lt_hex(s.hash.b, LT_HASH_LEN, hex);
    if (!lt_store_id_eq(&s.in.store_id, &st->id)) {
        char want[33], got[33];
        lt_hex(st->id.b, LT_STORE_ID_LEN, want);
        lt_hex(s.in.store_id.b, LT_STORE_ID_LEN, got);
        return lt_fail(&db->eb, LT_EWRONGSTORE,
                       "intention %.16s rejected: it belongs to store %s, not %s", hex, got, want);
    }
    uint8_t key[S_KEY_MAX];
    size_t klen = lt_key2(key, &st->id, s.hash.b, LT_HASH_LEN, NULL, 0);
    rc = s_surely_new(st, &s.in, key, klen)
             ? LT_ENOTFOUND
             : lt_txn_get(db->txn, LT_CF_INTENTIONS, key, klen, NULL);
    if (rc == LT_OK) {
        res->status = LT_INGEST_DUPLICATE;
        return LT_OK;
    }
    if (rc != LT_ENOTFOUND)
        return lt_fail(&db->eb, rc, "reading intentions: %s", lt_kv_errmsg(db->kv));
    if (!trusted && lt_signed_verify(&s) != LT_OK)
        return lt_fail(&db->eb, LT_ESIGNATURE, "intention %.16s rejected: %s", hex,
                       lt_strerror(LT_ESIGNATURE));
    bool bad;
    rc = s_links(st, &s.in, res->missing, &res->nmissing, &bad);
    if (rc)
        return lt_fail(&db->eb, rc, "intention %.16s: reading its links: %s", hex,
                       lt_kv_errmsg(db->kv));
    if (bad)
        return lt_fail(&db->eb, LT_EPREVAUTHOR, "intention %.16s rejected: %s", hex,
                       lt_strerror(LT_EPREVAUTHOR));
    lt_errbuf_clear(&db->eb);
    rc = s_accept(st, &s, key, klen, res);
    if (rc) {
        if (!db->eb.msg[0])
            lt_fail(&db->eb, rc, "storing intention %.16s: %s", hex, lt_strerror(rc));
        lt_db_poison(db, rc);
    }
    return rc;
}

lt_err_t lt_store_ingest(lt_store_t *st, const uint8_t *signed_bytes, size_t len,
                         lt_ingest_result_t *res)
{
    lt_ingest_result_t tmp;
    return s_ingest(st, signed_bytes, len, false, res ? res : &tmp);
}

lt_err_t lt_store_ingest_verified(lt_store_t *st, const uint8_t *signed_bytes, size_t len,
                                  lt_ingest_result_t *res)
{
    lt_ingest_result_t tmp;
    return s_ingest(st, signed_bytes, len, true, res ? res : &tmp);
}

lt_err_t lt_store_author_tips(lt_store_t *st, const lt_pubkey_t *author, lt_hash_t *tips,
                              unsigned max, unsigned *n)
{
    uint8_t key[S_KEY_MAX];
    size_t klen = lt_key2(key, &st->id, author->b, LT_KEY_LEN, NULL, 0);
    lt_buf_t l = LT_BUF_INIT;
    lt_err_t rc = s_list_get(st, LT_CF_TIPS, key, klen, &l);
    *n = 0;
    for (size_t o = 0; rc == LT_OK && o < l.len; o += LT_HASH_LEN) {
        if (*n < max)
            memcpy(tips[*n].b, l.data + o, LT_HASH_LEN);
        (*n)++;
    }
    lt_buf_free(&l);
    return rc;
}

lt_err_t lt_store_write(lt_store_t *st, const uint8_t *ops, size_t len, const lt_hash_t *deps,
                        unsigned ndeps, lt_hash_t *hash_out)
{
    lt_db_t *db = st->db;
    if (db->poisoned)
        return lt_fail(&db->eb, db->poisoned,
                       "an earlier write of this commit group failed; commit or abort first");
    if (len > LT_MAX_OPS)
        return lt_fail(&db->eb, LT_EOPSTOOLARGE, "write of %zu bytes: %s", len,
                       lt_strerror(LT_EOPSTOOLARGE));
    /* A local write may only cite what this node has witnessed: anything else
     * would float, and the next write would fork our own chain. */
    for (unsigned i = 0; i < ndeps; i++) {
        lt_err_t rc = s_windex(st, &deps[i], NULL, NULL, true);
        if (rc) {
            char hex[2 * LT_HASH_LEN + 1];
            lt_hex(deps[i].b, LT_HASH_LEN, hex);
            return lt_fail(&db->eb, rc == LT_ENOTFOUND ? LT_ENOTFOUND : rc,
                           "write cites intention %.16s, which this store has not witnessed", hex);
        }
    }
    lt_intention_t in = {.version = LT_INTENTION_VERSION,
                         .author = db->id.pk,
                         .store_id = st->id,
                         .ops_len = (uint32_t)len,
                         .ops = ops};
    /* Our own chain: extend the first tip; cite the others (after a fork of
     * our own key, e.g. a restored backup) so this write joins them. */
    lt_hash_t tips[LT_MAX_DEPS + 1], all[2 * LT_MAX_DEPS + 1];
    unsigned ntips;
    lt_err_t rc = lt_store_author_tips(st, &db->id.pk, tips, LT_MAX_DEPS + 1, &ntips);
    if (rc)
        return rc;
    if (ntips > LT_MAX_DEPS + 1)
        return lt_fail(&db->eb, LT_ETOOMANYDEPS,
                       "this node's own chain has %u branch heads, more than one write can "
                       "join (%d)",
                       ntips, LT_MAX_DEPS + 1);
    if (ndeps + (ntips ? ntips - 1 : 0) > 2 * LT_MAX_DEPS)
        return lt_fail(&db->eb, LT_ETOOMANYDEPS, "write cites more than %d intentions",
                       LT_MAX_DEPS);
    unsigned n = 0;
    for (unsigned i = 0; i < ndeps; i++)
        all[n++] = deps[i];
    for (unsigned i = 1; i < ntips; i++)
        all[n++] = tips[i];
    if (ntips)
        in.store_prev = tips[0];
    uint8_t nd = (uint8_t)n;
    lt_deps_normalize(all, &nd);
    /* store_prev is implied; listing it again would waste a slot. */
    unsigned k = 0;
    for (unsigned i = 0; i < nd; i++)
        if (!ntips || !lt_hash_eq(&all[i], &in.store_prev))
            all[k++] = all[i];
    if (k > LT_MAX_DEPS)
        return lt_fail(&db->eb, LT_ETOOMANYDEPS,
                       "write cites %u intentions, more than %d: split the batch", k, LT_MAX_DEPS);
    in.ndeps = (uint8_t)k;
    memcpy(in.deps, all, k * sizeof *all);
    in.hlc = lt_clock_tick(&db->clock);
    lt_buf_t b = LT_BUF_INIT;
    lt_hash_t h;
    rc = lt_intention_sign(&in, &db->id, &b, &h);
    lt_ingest_result_t res;
    if (rc == LT_OK)
        rc = s_ingest(st, b.data, b.len, true, &res);
    lt_buf_free(&b);
    if (rc == LT_OK && res.status != LT_INGEST_WITNESSED) {
        /* Its links were all checked above: only damaged state gets here. */
        rc = lt_fail(&db->eb, LT_ECORRUPT, "a local write could not be witnessed");
        lt_db_poison(db, rc);
    }
    if (rc == LT_OK && hash_out)
        *hash_out = h;
    return rc;
}

lt_err_t lt_store_get_intention(lt_store_t *st, const lt_hash_t *h, lt_buf_t *out)
{
    uint8_t key[S_KEY_MAX];
    size_t klen = lt_key2(key, &st->id, h->b, LT_HASH_LEN, NULL, 0);
    return lt_txn_read(st->db->txn, LT_CF_INTENTIONS, key, klen, out);
}

lt_err_t lt_store_witness_seq(lt_store_t *st, const lt_hash_t *h, uint64_t *seq)
{
    return s_windex(st, h, seq, NULL, false);
}

/* Calls fn(key, value) for each committed row of cf with the store prefix. */
typedef lt_err_t (*s_row_fn)(void *ctx, const uint8_t *k, size_t klen, const uint8_t *v,
                             size_t vlen);

static lt_err_t s_scan_prefix(lt_store_t *st, unsigned cf, s_row_fn fn, void *ctx)
{
    lt_kv_t *kv = st->db->kv;
    lt_kv_iter_t *it;
    lt_err_t rc = lt_kv_iter_new(kv, cf, &it);
    if (rc)
        return rc;
    kv->ops->iter_seek(it, st->id.b, LT_STORE_ID_LEN);
    while (rc == LT_OK && lt_kv_iter_has_prefix(kv, it, st->id.b, LT_STORE_ID_LEN)) {
        size_t klen, vlen;
        const uint8_t *k = kv->ops->iter_key(it, &klen);
        const uint8_t *v = kv->ops->iter_value(it, &vlen);
        rc = fn(ctx, k, klen, v, vlen);
        kv->ops->iter_next(it);
    }
    if (rc == LT_OK)
        rc = kv->ops->iter_status(it);
    kv->ops->iter_free(it);
    return rc;
}

static lt_err_t s_count_row(void *ctx, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen)
{
    (void)k;
    (void)klen;
    (void)v;
    (void)vlen;
    (*(uint64_t *)ctx)++;
    return LT_OK;
}

lt_err_t lt_store_floating_count(lt_store_t *st, uint64_t *n)
{
    *n = 0;
    return s_scan_prefix(st, LT_CF_FLOATING, s_count_row, n);
}

typedef struct {
    lt_fork_fn fn;
    void *ctx;
    unsigned count;
} s_forks_t;

static lt_err_t s_fork_row(void *ctx, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen)
{
    s_forks_t *f = ctx;
    (void)v;
    if (klen != LT_STORE_ID_LEN + LT_KEY_LEN + LT_HASH_LEN || vlen % LT_HASH_LEN)
        return LT_ECORRUPT;
    if (vlen > LT_HASH_LEN) {
        lt_pubkey_t author;
        lt_hash_t prev;
        memcpy(author.b, k + LT_STORE_ID_LEN, LT_KEY_LEN);
        memcpy(prev.b, k + LT_STORE_ID_LEN + LT_KEY_LEN, LT_HASH_LEN);
        if (f->fn)
            f->fn(f->ctx, &author, &prev, (unsigned)(vlen / LT_HASH_LEN));
        f->count++;
    }
    return LT_OK;
}

lt_err_t lt_store_forks(lt_store_t *st, lt_fork_fn fn, void *ctx, unsigned *count)
{
    s_forks_t f = {fn, ctx, 0};
    lt_err_t rc = s_scan_prefix(st, LT_CF_CHAIN, s_fork_row, &f);
    if (count)
        *count = f.count;
    return rc;
}

/* The committed witness record at the iterator when it is the one of seq
 * (the iterator then moves past it); false otherwise, the iterator left
 * where it is. */
static bool s_iter_record(lt_store_t *st, lt_kv_iter_t *it, uint64_t seq, lt_witness_t *w)
{
    lt_kv_t *kv = st->db->kv;
    if (!it || !lt_kv_iter_has_prefix(kv, it, st->id.b, LT_STORE_ID_LEN))
        return false;
    size_t klen, vlen;
    const uint8_t *k = kv->ops->iter_key(it, &klen);
    if (klen != LT_STORE_ID_LEN + 8 || lt_get_u64be(k + LT_STORE_ID_LEN) != seq)
        return false;
    const uint8_t *v = kv->ops->iter_value(it, &vlen);
    if (lt_witness_decode(v, vlen, w) != LT_OK)
        return false;
    kv->ops->iter_next(it);
    return true;
}

lt_err_t lt_store_scan_witness(lt_store_t *st, uint64_t from, lt_witness_fn fn, void *ctx)
{
    /* The records are consecutive keys: one iterator reads them in order
     * for a fraction of a point read each (a clone or a sync index reads
     * the whole log). It sees committed rows only, so it is used only
     * while nothing is staged (as when the store actor serves a read);
     * a record it does not hold as expected is read the old way, through
     * the transaction, which also reports a missing or damaged one. */
    lt_kv_t *kv = st->db->kv;
    lt_kv_iter_t *it = NULL;
    uint64_t seq = from ? from : 1;
    if (seq <= st->seq && lt_txn_size(st->db->txn) == 0 &&
        lt_kv_iter_new(kv, LT_CF_WITNESS, &it) == LT_OK) {
        uint8_t key[S_KEY_MAX];
        size_t klen = lt_key_seq(key, &st->id, seq);
        kv->ops->iter_seek(it, key, klen);
    }
    lt_buf_t scratch = LT_BUF_INIT;
    lt_err_t rc = LT_OK;
    for (; rc == LT_OK && seq <= st->seq; seq++) {
        lt_witness_t w;
        if (!s_iter_record(st, it, seq, &w))
            rc = s_read_record(st, seq, &w, &scratch);
        if (rc == LT_OK)
            rc = fn(ctx, seq, &w.intention);
        else
            rc = s_corrupt(st, seq, NULL, "the record is missing or does not decode");
    }
    if (it)
        kv->ops->iter_free(it);
    lt_buf_free(&scratch);
    return rc;
}

/* ---- walks over the links ---- */

/* A breadth-first walk: the queue of every hash queued so far (the walk
 * reads it from `head` on and never drops one), and an index over it to
 * queue each hash once: open addressing on a hash's first 8 bytes (hashes
 * are uniform), slots holding queue positions + 1, kept at most half full. */
typedef struct {
    lt_hash_t *queue;
    size_t head, n, cap;
    uint32_t *slots;
    size_t nslots;
} s_walk_t;

static void s_walk_free(s_walk_t *w)
{
    free(w->queue);
    free(w->slots);
    memset(w, 0, sizeof *w);
}

static size_t s_walk_slot(const s_walk_t *w, const lt_hash_t *h)
{
    size_t i = (size_t)lt_get_u64le(h->b) & (w->nslots - 1);
    while (w->slots[i] && !lt_hash_eq(&w->queue[w->slots[i] - 1], h))
        i = (i + 1) & (w->nslots - 1);
    return i;
}

static lt_err_t s_walk_grow(s_walk_t *w)
{
    size_t cap = w->cap ? 2 * w->cap : 32;
    lt_hash_t *q = realloc(w->queue, cap * sizeof *q);
    if (!q)
        return LT_ENOMEM;
    w->queue = q;
    w->cap = cap;
    uint32_t *slots = calloc(2 * cap, sizeof *slots);
    if (!slots)
        return LT_ENOMEM;
    free(w->slots);
    w->slots = slots;
    w->nslots = 2 * cap;
    for (size_t k = 0; k < w->n; k++)
        w->slots[s_walk_slot(w, &w->queue[k])] = (uint32_t)(k + 1);
    return LT_OK;
}

/* Queues h unless it was queued before or the walk is at its bound. */
static lt_err_t s_walk_push(s_walk_t *w, const lt_hash_t *h)
{
    if (w->n == LT_STORE_WALK_MAX)
        return LT_OK;
    if (w->n == w->cap) {
        lt_err_t rc = s_walk_grow(w);
        if (rc)
            return rc;
    }
    size_t i = s_walk_slot(w, h);
    if (w->slots[i])
        return LT_OK;
    w->queue[w->n++] = *h;
    w->slots[i] = (uint32_t)w->n;
    return LT_OK;
}

static lt_err_t s_walk_push_links(s_walk_t *w, const lt_intention_t *in)
{
    lt_err_t rc = LT_OK;
    if (!lt_hash_is_zero(&in->store_prev))
        rc = s_walk_push(w, &in->store_prev);
    for (unsigned i = 0; rc == LT_OK && i < in->ndeps; i++)
        rc = s_walk_push(w, &in->deps[i]);
    return rc;
}

/* The signed bytes of h into bytes, parsed into *s. LT_ENOTFOUND: not held. */
static lt_err_t s_read_signed(lt_store_t *st, const lt_hash_t *h, lt_buf_t *bytes, lt_signed_t *s)
{
    uint8_t key[S_KEY_MAX];
    size_t klen = lt_key2(key, &st->id, h->b, LT_HASH_LEN, NULL, 0);
    lt_buf_reset(bytes);
    lt_err_t rc = lt_txn_read(st->db->txn, LT_CF_INTENTIONS, key, klen, bytes);
    if (rc == LT_OK && lt_signed_parse(bytes->data, bytes->len, s) != LT_OK) {
        char hex[2 * LT_HASH_LEN + 1];
        lt_hex(h->b, LT_HASH_LEN, hex);
        rc = lt_fail(&st->db->eb, LT_ECORRUPT, "stored intention %.16s does not parse", hex);
    }
    return rc;
}

lt_err_t lt_store_missing_deps(lt_store_t *st, const lt_hash_t *hs, size_t n, lt_hash_t *out,
                               unsigned cap, unsigned *nout)
{
    *nout = 0;
    if (st->nfloating == 0)
        return LT_OK; /* nothing floats: nothing is missing */
    s_walk_t w = {0};
    lt_buf_t bytes = LT_BUF_INIT;
    lt_err_t rc = LT_OK;
    for (size_t i = 0; rc == LT_OK && i < n; i++)
        rc = s_walk_push(&w, &hs[i]);
    /* The hashes given are intentions to explain; every later one is a link
     * of a floating intention: a hole when not held. */
    size_t given = w.n;
    for (; rc == LT_OK && w.head < w.n; w.head++) {
        const lt_hash_t *h = &w.queue[w.head];
        lt_signed_t s;
        rc = s_windex(st, h, NULL, NULL, false);
        if (rc == LT_OK)
            continue; /* witnessed: nothing is missing below it */
        if (rc == LT_ENOTFOUND)
            rc = s_read_signed(st, h, &bytes, &s);
        if (rc == LT_ENOTFOUND) {
            rc = LT_OK;
            if (w.head >= given && *nout < cap)
                out[(*nout)++] = *h;
            continue;
        }
        if (rc == LT_OK)
            rc = s_walk_push_links(&w, &s.in);
    }
    s_walk_free(&w);
    lt_buf_free(&bytes);
    return rc;
}

lt_err_t lt_store_walk_ancestors(lt_store_t *st, const lt_hash_t *hs, size_t n, lt_ancestor_fn fn,
                                 void *ctx)
{
    s_walk_t w = {0};
    lt_buf_t bytes = LT_BUF_INIT;
    lt_err_t rc = LT_OK;
    for (size_t i = 0; rc == LT_OK && i < n; i++)
        rc = s_walk_push(&w, &hs[i]);
    for (; rc == LT_OK && w.head < w.n; w.head++) {
        const lt_hash_t *h = &w.queue[w.head];
        uint64_t seq = 0;
        lt_signed_t s;
        rc = s_read_signed(st, h, &bytes, &s);
        if (rc == LT_ENOTFOUND) {
            rc = LT_OK;
            continue;
        }
        if (rc == LT_OK)
            rc = s_windex(st, h, &seq, NULL, false);
        if (rc == LT_ENOTFOUND)
            rc = LT_OK; /* floating */
        if (rc == LT_OK)
            rc = fn(ctx, h, seq, bytes.data, bytes.len);
        if (rc == LT_OK)
            rc = s_walk_push_links(&w, &s.in);
    }
    s_walk_free(&w);
    lt_buf_free(&bytes);
    return rc;
}

/* ---- commit, verification, catch-up ---- */

lt_err_t lt_store_sign_tail(lt_store_t *st)
{
    if (!st->dirty)
        return LT_OK;
    lt_sig_t sig;
    lt_identity_sign(&st->db->id, &st->last_rec, &sig);
    uint8_t key[S_KEY_MAX];
    size_t klen = lt_key_seq(key, &st->id, st->seq);
    lt_err_t rc = lt_txn_put(st->db->txn, LT_CF_WSIG, key, klen, sig.b, LT_SIG_LEN);
    if (rc == LT_OK)
        st->dirty = false;
    return rc;
}

static lt_err_t s_check_sig(lt_store_t *st, uint64_t seq, const lt_hash_t *rec_hash, bool required,
                            uint64_t *bad_seq)
{
    uint8_t key[S_KEY_MAX];
    size_t klen = lt_key_seq(key, &st->id, seq);
    lt_buf_t b = LT_BUF_INIT;
    lt_err_t rc = lt_txn_read(st->db->txn, LT_CF_WSIG, key, klen, &b);
    if (rc == LT_ENOTFOUND && !required) {
        rc = LT_OK;
    } else if (rc == LT_ENOTFOUND) {
        rc = s_corrupt(st, seq, bad_seq, "the last record has no node signature");
    } else if (rc == LT_OK) {
        lt_sig_t sig;
        if (b.len != LT_SIG_LEN) {
            rc = s_corrupt(st, seq, bad_seq, "its node signature has the wrong size");
        } else {
            memcpy(sig.b, b.data, LT_SIG_LEN);
            if (lt_sig_verify(&st->db->id.pk, rec_hash, &sig) != LT_OK)
                rc = s_corrupt(st, seq, bad_seq, "its node signature does not verify");
        }
    }
    lt_buf_free(&b);
    return rc;
}

lt_err_t lt_store_verify_range(lt_store_t *st, uint64_t from, uint64_t to, bool full,
                               lt_store_verify_t *v, uint64_t *bad_seq)
{
    memset(v, 0, sizeof *v);
    v->full = full;
    if (to > st->seq)
        to = st->seq;
    if (from == 0)
        from = 1;
    v->next = from;
    v->end = from <= to ? to : 0;
    v->tail = to == st->seq;
    if (v->end == 0) {
        v->next = 1; /* nothing to check */
        return LT_OK;
    }
    if (from > 1) {
        /* The record before anchors the chain; re-hash it. */
        lt_buf_t scratch = LT_BUF_INIT;
        lt_witness_t w;
        lt_err_t rc = s_read_record(st, from - 1, &w, &scratch);
        if (rc == LT_OK)
            lt_witness_hash(&w, &v->prev);
        lt_buf_free(&scratch);
        if (rc)
            return s_corrupt(st, from - 1, bad_seq, "the record is missing or does not decode");
    }
    return LT_OK;
}

/* Where a check from the last verified point starts: the record after it,
 * or the last record itself when that is the point (it is checked again:
 * it anchors the rest). */
static lt_err_t s_verified_from(lt_store_t *st, uint64_t *from)
{
    uint64_t mark;
    lt_err_t rc = s_meta_get_u64(st, "verified", &mark);
    if (rc == LT_OK)
        *from = mark >= st->seq ? st->seq : mark + 1;
    return rc;
}

lt_err_t lt_store_verify_begin(lt_store_t *st, bool full, lt_store_verify_t *v, uint64_t *bad_seq)
{
    uint64_t from = 1;
    lt_err_t rc = full ? LT_OK : s_verified_from(st, &from);
    if (rc)
        return rc;
    return lt_store_verify_range(st, from, st->seq, full, v, bad_seq);
}

lt_err_t lt_store_verify_step(lt_store_t *st, lt_store_verify_t *v, uint64_t max, uint64_t *bad_seq)
{
    lt_buf_t scratch = LT_BUF_INIT, ib = LT_BUF_INIT;
    lt_err_t rc = LT_OK;
    for (uint64_t n = 0; rc == LT_OK && n < max && v->next <= v->end; n++, v->next++) {
        uint64_t seq = v->next;
        lt_witness_t w;
        rc = s_read_record(st, seq, &w, &scratch);
        if (rc) {
            rc = s_corrupt(st, seq, bad_seq, "the record is missing or does not decode");
            break;
        }
        if (w.seq != seq || !lt_store_id_eq(&w.store_id, &st->id)) {
            rc = s_corrupt(st, seq, bad_seq, "its sequence number or store id is wrong");
            break;
        }
        if (!lt_hash_eq(&w.prev, &v->prev)) {
            rc = s_corrupt(st, seq, bad_seq, "it does not chain to the record before it");
            break;
        }
        uint64_t iseq;
        if (s_windex(st, &w.intention, &iseq, NULL, false) != LT_OK || iseq != seq) {
            rc = s_corrupt(st, seq, bad_seq, "the witness index does not point back to it");
            break;
        }
        lt_signed_t s;
        if (lt_store_get_intention(st, &w.intention, &ib) != LT_OK ||
            lt_signed_parse(ib.data, ib.len, &s) != LT_OK || !lt_hash_eq(&s.hash, &w.intention)) {
            rc = s_corrupt(st, seq, bad_seq, "its intention is missing or altered");
            break;
        }
        /* The signature is outside the hash the chain covers: a damaged one
         * would be served to peers, who reject it. Checking it costs an
         * Ed25519 verify per record, so only the full verify pays it. */
        if (v->full && lt_signed_verify(&s) != LT_OK) {
            rc = s_corrupt(st, seq, bad_seq, "its intention's signature does not verify");
            break;
        }
        lt_witness_hash(&w, &v->prev);
        /* The last record of a commit carries the node's signature: the
         * last record there is must have one. */
        rc = s_check_sig(st, seq, &v->prev, v->tail && seq == v->end, bad_seq);
    }
    lt_buf_free(&scratch);
    lt_buf_free(&ib);
    return rc;
}

lt_err_t lt_store_verify_finish(lt_store_t *st, lt_store_verify_t *v, bool mark, uint64_t *bad_seq)
{
    if (v->end == 0)
        return LT_OK;
    if (v->next <= v->end)
        return lt_fail(&st->db->eb, LT_EINVAL, "the verify has not reached record %llu",
                       (unsigned long long)v->end);
    lt_err_t rc = LT_OK;
    if (v->end == st->seq) {
        if (!lt_hash_eq(&v->prev, &st->last_rec))
            rc = s_corrupt(st, st->seq, bad_seq, "the chain does not end at the last record");
    } else {
        /* Records were added since the verify began: the first of them
         * must chain to where it stopped. */
        lt_buf_t scratch = LT_BUF_INIT;
        lt_witness_t w;
        rc = s_read_record(st, v->end + 1, &w, &scratch);
        if (rc || !lt_hash_eq(&w.prev, &v->prev))
            rc = s_corrupt(st, v->end + 1, bad_seq, "it does not chain to the record before it");
        lt_buf_free(&scratch);
    }
    if (rc == LT_OK && mark)
        rc = s_meta_put_u64(st, "verified", v->end);
    return rc;
}

/* The rest of a check begun with rc, at once. */
static lt_err_t s_verify_rest(lt_store_t *st, lt_store_verify_t *v, lt_err_t rc, bool mark,
                              uint64_t *bad_seq)
{
    if (rc == LT_OK)
        rc = lt_store_verify_step(st, v, UINT64_MAX, bad_seq);
    if (rc == LT_OK)
        rc = lt_store_verify_finish(st, v, mark, bad_seq);
    return rc;
}

lt_err_t lt_store_verify(lt_store_t *st, bool full, uint64_t *bad_seq)
{
    lt_store_verify_t v;
    lt_err_t rc = lt_store_verify_begin(st, full, &v, bad_seq);
    return s_verify_rest(st, &v, rc, true, bad_seq);
}

lt_err_t lt_store_open_check(lt_store_t *st, uint64_t *bad_seq)
{
    st->gap_from = st->gap_to = st->gap_mark = 0;
    uint64_t from = 0;
    lt_err_t rc = s_verified_from(st, &from);
    if (rc || st->seq == 0)
        return rc;
    if (st->seq - from >= LT_STORE_VERIFY_TAIL) {
        st->gap_from = from;
        st->gap_to = st->seq - LT_STORE_VERIFY_TAIL;
        st->gap_mark = st->seq;
        from = st->gap_to + 1;
    }
    /* The mark moves only over what was checked: not across a gap. */
    lt_store_verify_t v;
    rc = lt_store_verify_range(st, from, st->seq, false, &v, bad_seq);
    return s_verify_rest(st, &v, rc, st->gap_from == 0, bad_seq);
}

bool lt_store_open_gap(const lt_store_t *st, uint64_t *from, uint64_t *to)
{
    if (st->gap_from == 0)
        return false;
    *from = st->gap_from;
    *to = st->gap_to;
    return true;
}

lt_err_t lt_store_open_gap_done(lt_store_t *st, bool checked)
{
    if (st->gap_from == 0)
        return LT_OK;
    uint64_t mark;
    lt_err_t rc = checked ? s_meta_get_u64(st, "verified", &mark) : LT_OK;
    if (checked && rc == LT_OK && mark < st->gap_mark)
        rc = s_meta_put_u64(st, "verified", st->gap_mark);
    st->gap_from = st->gap_to = st->gap_mark = 0;
    return rc;
}

lt_err_t lt_store_catch_up(lt_store_t *st)
{
    lt_buf_t scratch = LT_BUF_INIT, ib = LT_BUF_INIT;
    lt_err_t rc = LT_OK;
    while (rc == LT_OK && st->cursor < st->seq) {
        uint64_t seq = st->cursor + 1;
        lt_witness_t w;
        lt_signed_t s;
        rc = s_read_record(st, seq, &w, &scratch);
        if (rc == LT_OK)
            rc = lt_store_get_intention(st, &w.intention, &ib);
        if (rc == LT_OK)
            rc = lt_signed_parse(ib.data, ib.len, &s);
        if (rc) {
            rc = s_corrupt(st, seq, NULL, "cannot be replayed into the projection");
            break;
        }
        rc = s_project(st, &s, seq);
        /* Bound the transaction on long replays. */
        if (rc == LT_OK && lt_txn_bytes(st->db->txn) > (8u << 20))
            rc = lt_db_commit_ex(st->db, false);
    }
    lt_buf_free(&scratch);
    lt_buf_free(&ib);
    return rc;
}

typedef struct {
    lt_store_t *st;
    unsigned cf;
    size_t n;
} s_del_t;

static lt_err_t s_del_row(void *ctx, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen)
{
    (void)v;
    (void)vlen;
    s_del_t *d = ctx;
    d->n++;
    return lt_txn_del(d->st->db->txn, d->cf, k, klen);
}

static lt_err_t s_delete_cf(lt_store_t *st, unsigned cf)
{
    s_del_t d = {st, cf, 0};
    return s_scan_prefix(st, cf, s_del_row, &d);
}

lt_err_t lt_store_rebuild(lt_store_t *st)
{
    lt_err_t rc = lt_db_commit(st->db);
    if (rc == LT_OK)
        rc = s_delete_cf(st, LT_CF_APP);
    if (rc == LT_OK)
        rc = s_delete_cf(st, LT_CF_SYSTEM);
    if (rc == LT_OK) {
        st->cursor = 0;
        rc = s_meta_put_u64(st, "cursor", 0);
    }
    if (rc == LT_OK)
        rc = lt_db_commit_ex(st->db, false);
    if (rc == LT_OK)
        rc = lt_store_catch_up(st);
    if (rc == LT_OK)
        rc = lt_db_commit(st->db);
    return rc;
}

lt_err_t lt_store_delete_all(lt_store_t *st)
{
    lt_err_t rc = LT_OK;
    for (unsigned cf = LT_CF_INTENTIONS; rc == LT_OK && cf < LT_CF_COUNT; cf++)
        rc = s_delete_cf(st, cf);
    return rc;
}
