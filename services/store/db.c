/* The node database: backend, node key, clock, the open stores, the pending
 * transaction (group commit) and event delivery.
 *
 * Node rows in CF_META use the all-zero store id, which no store can have
 * (store ids are random UUIDv4, whose version bits are never zero):
 *   0^16|"S"|store id  -> type name        (the store directory)
 *   0^16|"H"           -> wall u64le | counter u32le  (the clock, at last commit)
 *   0^16|"Q"|request id -> seq u64le | reply        (request ids: lt_db_request_*)
 *   0^16|"q"|seq(be64)  -> request id               (the same, in recording order)
 *   0^16|"R"            -> next seq u64le           (request ids ever recorded) */
#include "store/store_impl.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

#define S_TAG "db"

const char *const lt_cf_names[LT_CF_COUNT] = {
    "default", "intentions", "witness", "wsig", "windex", "floating",
    "findex",  "tips",       "chain",   "meta", "system", "app",
};

static const lt_store_id_t s_node_id; /* all zero */

static size_t s_dir_key(uint8_t *k, const lt_store_id_t *sid)
{
    return lt_key2(k, &s_node_id, "S", 1, sid->b, LT_STORE_ID_LEN);
}

const char *lt_db_errmsg(const lt_db_t *db)
{
    return db->eb.msg;
}

const lt_pubkey_t *lt_db_node_key(const lt_db_t *db)
{
    return &db->id.pk;
}

uint64_t lt_db_now_ms(const lt_db_t *db)
{
    return lt_clock_now_ms(&db->clock);
}

size_t lt_db_pending_bytes(const lt_db_t *db)
{
    return lt_txn_bytes(db->txn);
}

lt_kv_t *lt_db_kv(lt_db_t *db)
{
    return db->kv;
}

size_t lt_db_store_count(const lt_db_t *db)
{
    return db->nstores;
}

lt_store_t *lt_db_store_at(lt_db_t *db, size_t i)
{
    return i < db->nstores ? db->stores[i] : NULL;
}

/* Index of the first store whose id is >= id. */
static size_t s_store_pos(const lt_db_t *db, const lt_store_id_t *id)
{
    size_t lo = 0, hi = db->nstores;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (memcmp(db->stores[mid]->id.b, id->b, LT_STORE_ID_LEN) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

lt_store_t *lt_db_store(lt_db_t *db, const lt_store_id_t *id)
{
    size_t i = s_store_pos(db, id);
    return i < db->nstores && lt_store_id_eq(&db->stores[i]->id, id) ? db->stores[i] : NULL;
}

static lt_err_t s_insert_store(lt_db_t *db, lt_store_t *st)
{
    if (db->nstores == db->cap_stores) {
        size_t cap = db->cap_stores ? db->cap_stores * 2 : 8;
        lt_store_t **v = realloc(db->stores, cap * sizeof *v);
        if (!v)
            return LT_ENOMEM;
        db->stores = v;
        db->cap_stores = cap;
    }
    size_t i = s_store_pos(db, &st->id);
    memmove(&db->stores[i + 1], &db->stores[i], (db->nstores - i) * sizeof *db->stores);
    db->stores[i] = st;
    db->nstores++;
    return LT_OK;
}

/* Opens every store of the directory (committed state); a store already open
 * keeps its object (callers may hold it) and reloads its state. Sets `found`
 * on every store the directory lists. */
static lt_err_t s_load_stores(lt_db_t *db)
{
    uint8_t prefix[LT_STORE_ID_LEN + 1];
    lt_key2(prefix, &s_node_id, "S", 1, NULL, 0);
    lt_kv_iter_t *it;
    lt_err_t rc = lt_kv_iter_new(db->kv, LT_CF_META, &it);
    if (rc)
        return lt_fail(&db->eb, rc, "reading the store directory: %s", lt_kv_errmsg(db->kv));
    db->kv->ops->iter_seek(it, prefix, sizeof prefix);
    while (rc == LT_OK && lt_kv_iter_has_prefix(db->kv, it, prefix, sizeof prefix)) {
        size_t klen, vlen;
        const uint8_t *k = db->kv->ops->iter_key(it, &klen);
        const uint8_t *v = db->kv->ops->iter_value(it, &vlen);
        char type[65];
        if (klen != sizeof prefix + LT_STORE_ID_LEN || vlen == 0 || vlen >= sizeof type) {
            rc = lt_fail(&db->eb, LT_ECORRUPT, "the store directory has a malformed entry");
            break;
        }
        lt_store_id_t sid;
        memcpy(sid.b, k + sizeof prefix, LT_STORE_ID_LEN);
        memcpy(type, v, vlen);
        type[vlen] = '\0';
        lt_store_t *st = lt_db_store(db, &sid);
        if (st) {
            rc = lt_store_reload(st);
        } else {
            rc = lt_store_load(db, &sid, type, &st);
            if (rc == LT_OK) {
                rc = s_insert_store(db, st);
                if (rc)
                    lt_store_free(&st);
            }
        }
        if (rc == LT_OK)
            st->found = true;
        db->kv->ops->iter_next(it);
    }
    if (rc == LT_OK && db->kv->ops->iter_status(it) != LT_OK)
        rc = lt_fail(&db->eb, db->kv->ops->iter_status(it), "reading the store directory: %s",
                     lt_kv_errmsg(db->kv));
    db->kv->ops->iter_free(it);
    return rc;
}

/* After a failed commit: forget the pending state and reload what is
 * durable. Stores that exist on disk keep their objects; a store created
 * since the last commit is closed (its pointer is no longer valid). */
static void s_recover(lt_db_t *db)
{
    lt_txn_abort(db->txn);
    db->poisoned = LT_OK;
    db->pending.n = 0;
    lt_buf_reset(&db->pending.arena);
    lt_errbuf_t keep = db->eb;
    for (size_t i = 0; i < db->nstores; i++)
        db->stores[i]->found = false;
    lt_err_t rc = s_load_stores(db);
    size_t w = 0;
    for (size_t i = 0; i < db->nstores; i++) {
        if (db->stores[i]->found || rc)
            db->stores[w++] = db->stores[i];
        else
            lt_store_free(&db->stores[i]);
    }
    db->nstores = w;
    if (rc)
        lt_log_error(db->log, S_TAG, "reloading stores after a failed commit: %s", db->eb.msg);
    db->eb = keep;
}

void lt_db_abort(lt_db_t *db)
{
    s_recover(db);
}

static lt_err_t s_load_clock(lt_db_t *db)
{
    uint8_t k[LT_STORE_ID_LEN + 1];
    size_t klen = lt_key2(k, &s_node_id, "H", 1, NULL, 0);
    lt_buf_t v = LT_BUF_INIT;
    lt_err_t rc = lt_kv_get(db->kv, LT_CF_META, k, klen, &v);
    if (rc == LT_OK && v.len == 12) {
        db->clock.last.wall_ms = lt_get_u64le(v.data);
        db->clock.last.counter = lt_get_u32le(v.data + 8);
    } else if (rc == LT_OK) {
        rc = lt_fail(&db->eb, LT_ECORRUPT, "the stored clock is malformed");
    } else if (rc == LT_ENOTFOUND) {
        rc = LT_OK;
    }
    lt_buf_free(&v);
    return rc;
}

static lt_err_t s_save_clock(lt_db_t *db)
{
    uint8_t k[LT_STORE_ID_LEN + 1], v[12];
    size_t klen = lt_key2(k, &s_node_id, "H", 1, NULL, 0);
    lt_put_u64le(v, db->clock.last.wall_ms);
    lt_put_u32le(v + 8, db->clock.last.counter);
    return lt_txn_put(db->txn, LT_CF_META, k, klen, v, sizeof v);
}

void lt_db_poison(lt_db_t *db, lt_err_t why)
{
    if (!db->poisoned)
        db->poisoned = why;
}

static bool s_sub_matches(const lt_sub_t *sub, const lt_event_t *ev)
{
    if (!sub->fn)
        return false; /* unsubscribed during delivery */
    if (!sub->any_store && !lt_store_id_eq(&sub->store, &ev->store))
        return false;
    if (sub->kinds && !(sub->kinds & (1u << ev->kind)))
        return false;
    return !sub->plen || (ev->klen >= sub->plen && memcmp(ev->key, sub->prefix, sub->plen) == 0);
}

static void s_batch_free(lt_ev_batch_t *b)
{
    free(b->v);
    lt_buf_free(&b->arena);
}

static void s_compact_subs(lt_db_t *db)
{
    size_t w = 0;
    for (size_t i = 0; i < db->nsubs; i++) {
        if (db->subs[i].fn)
            db->subs[w++] = db->subs[i];
        else
            free(db->subs[i].prefix);
    }
    db->nsubs = w;
}

/* Delivers committed events in commit order. Subscribers may write, commit
 * (their events join the queue and are delivered after the current ones,
 * never re-entrantly), subscribe or unsubscribe: nothing is held across a
 * subscriber call but the detached batch being delivered. */
static void s_deliver(lt_db_t *db)
{
    if (db->delivering)
        return;
    db->delivering = true;
    while (db->ready) {
        lt_ev_batch_t *b = db->ready;
        db->ready = b->next;
        if (!db->ready)
            db->ready_tail = NULL;
        for (size_t i = 0; i < b->n; i++) {
            lt_event_t ev = b->v[i].ev;
            ev.key = ev.klen ? b->arena.data + b->v[i].key_off : NULL;
            ev.value = ev.vlen ? b->arena.data + b->v[i].val_off : NULL;
            for (size_t s = 0; s < db->nsubs; s++) {
                if (!s_sub_matches(&db->subs[s], &ev))
                    continue;
                lt_event_fn fn = db->subs[s].fn;
                void *ctx = db->subs[s].ctx;
                fn(ctx, &ev);
            }
        }
        s_batch_free(b);
        free(b);
    }
    db->delivering = false;
    s_compact_subs(db);
}

lt_err_t lt_db_commit_ex(lt_db_t *db, bool sync)
{
    lt_err_t rc = db->poisoned;
    if (rc) {
        char why[sizeof db->eb.msg];
        snprintf(why, sizeof why, "%s", db->eb.msg[0] ? db->eb.msg : lt_strerror(rc));
        lt_fail(&db->eb, rc,
                "commit refused: a write of this group failed (%s); the group's "
                "writes were discarded",
                why);
        lt_log_error(db->log, S_TAG, "%s", db->eb.msg);
        s_recover(db);
        return rc;
    }
    for (size_t i = 0; rc == LT_OK && i < db->nstores; i++)
        rc = lt_store_sign_tail(db->stores[i]);
    if (rc == LT_OK && lt_txn_size(db->txn))
        rc = s_save_clock(db);
    if (rc == LT_OK)
        rc = lt_txn_commit(db->txn, sync);
    if (rc) {
        lt_fail(&db->eb, rc, "commit failed: %s",
                rc == LT_EIO || rc == LT_ECORRUPT ? lt_kv_errmsg(db->kv) : lt_strerror(rc));
        lt_log_error(db->log, S_TAG, "%s", db->eb.msg);
        s_recover(db);
        return rc;
    }
    if (db->pending.n) {
        lt_ev_batch_t *b = malloc(sizeof *b);
        if (!b) {
            lt_log_error(db->log, S_TAG, "out of memory: %zu committed events not delivered",
                         db->pending.n);
            db->pending.n = 0;
            lt_buf_reset(&db->pending.arena);
        } else {
            *b = db->pending;
            b->next = NULL;
            memset(&db->pending, 0, sizeof db->pending);
            if (db->ready_tail)
                db->ready_tail->next = b;
            else
                db->ready = b;
            db->ready_tail = b;
        }
    }
    s_deliver(db);
    return LT_OK;
}

lt_err_t lt_db_commit(lt_db_t *db)
{
    return lt_db_commit_ex(db, true);
}

lt_err_t lt_db_emit(lt_db_t *db, const lt_event_t *ev)
{
    if (db->nsubs == 0)
        return LT_OK; /* nobody listens: skip the copies */
    lt_ev_batch_t *b = &db->pending;
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        lt_pending_event_t *v = realloc(b->v, cap * sizeof *v);
        if (!v)
            return LT_ENOMEM;
        b->v = v;
        b->cap = cap;
    }
    lt_pending_event_t *pe = &b->v[b->n];
    pe->ev = *ev;
    pe->key_off = b->arena.len;
    lt_err_t rc = lt_buf_append(&b->arena, ev->key, ev->klen);
    pe->val_off = b->arena.len;
    if (rc == LT_OK)
        rc = lt_buf_append(&b->arena, ev->value, ev->vlen);
    if (rc == LT_OK)
        b->n++;
    return rc;
}

size_t lt_db_events_mark(const lt_db_t *db)
{
    return db->pending.n;
}

void lt_db_events_drop(lt_db_t *db, size_t mark, unsigned kinds)
{
    lt_ev_batch_t *b = &db->pending;
    size_t k = mark;
    for (size_t i = mark; i < b->n; i++)
        if (!(kinds & (1u << b->v[i].ev.kind)))
            b->v[k++] = b->v[i];
    if (mark <= b->n)
        b->n = k; /* the arena keeps their bytes until the commit frees it */
}

lt_err_t lt_db_subscribe(lt_db_t *db, const lt_sub_filter_t *filter, lt_event_fn fn, void *ctx,
                         unsigned *id)
{
    lt_sub_t *v = realloc(db->subs, (db->nsubs + 1) * sizeof *v);
    if (!v)
        return LT_ENOMEM;
    db->subs = v;
    lt_sub_t *s = &db->subs[db->nsubs];
    memset(s, 0, sizeof *s);
    s->fn = fn;
    s->ctx = ctx;
    s->id = ++db->next_sub;
    s->any_store = !filter || filter->any_store;
    if (filter) {
        s->store = filter->store;
        s->kinds = filter->kinds;
        if (filter->plen) {
            s->prefix = malloc(filter->plen);
            if (!s->prefix)
                return LT_ENOMEM;
            memcpy(s->prefix, filter->prefix, filter->plen);
            s->plen = filter->plen;
        }
    }
    db->nsubs++;
    if (id)
        *id = s->id;
    return LT_OK;
}

void lt_db_unsubscribe(lt_db_t *db, unsigned id)
{
    for (size_t i = 0; i < db->nsubs; i++)
        if (db->subs[i].id == id)
            db->subs[i].fn = NULL; /* removed now, or after the delivery loop */
    if (!db->delivering)
        s_compact_subs(db);
}

lt_err_t lt_db_open(const lt_db_config_t *cfg, lt_db_t **out, lt_errbuf_t *eb)
{
    if (!cfg || !cfg->kv || !cfg->identity)
        return lt_fail(eb, LT_EINVAL, "lt_db_open needs a backend and an identity");
    lt_err_t rc = lt_crypto_init();
    if (rc)
        return lt_fail(eb, rc, "libsodium failed to initialize");
    lt_db_t *db = calloc(1, sizeof *db);
    if (!db)
        return LT_ENOMEM;
    db->kv = cfg->kv;
    db->id = *cfg->identity;
    db->log = cfg->log;
    db->random = cfg->random;
    db->random_ctx = cfg->random_ctx;
    lt_clock_init(&db->clock, cfg->now, cfg->now_ctx,
                  cfg->max_drift_ms ? cfg->max_drift_ms : LT_DEFAULT_MAX_DRIFT_MS);
    db->txn = lt_txn_new(db->kv);
    rc = db->txn ? lt_registry_add_core(&db->registry) : LT_ENOMEM;
    if (rc == LT_OK)
        rc = s_load_clock(db);
    if (rc == LT_OK)
        rc = s_load_stores(db);
    /* Check each chain from its last verified point (its newest records
     * at most: lt_store_open_check), then catch up. */
    for (size_t i = 0; rc == LT_OK && i < db->nstores; i++) {
        rc = lt_store_open_check(db->stores[i], NULL);
        if (rc == LT_OK)
            rc = lt_store_catch_up(db->stores[i]);
    }
    if (rc == LT_OK)
        rc = lt_db_commit(db);
    if (rc) {
        if (eb)
            *eb = db->eb;
        db->kv = NULL; /* the caller keeps the backend on failure */
        lt_db_close(&db);
        return rc;
    }
    *out = db;
    return LT_OK;
}

void lt_db_close(lt_db_t **db_p)
{
    lt_db_t *db = *db_p;
    if (!db)
        return;
    for (size_t i = 0; i < db->nstores; i++)
        lt_store_free(&db->stores[i]);
    free(db->stores);
    lt_txn_destroy(&db->txn);
    s_batch_free(&db->pending);
    while (db->ready) {
        lt_ev_batch_t *b = db->ready;
        db->ready = b->next;
        s_batch_free(b);
        free(b);
    }
    for (size_t i = 0; i < db->nsubs; i++)
        free(db->subs[i].prefix);
    free(db->subs);
    lt_kv_close(&db->kv);
    lt_identity_wipe(&db->id);
    free(db);
    *db_p = NULL;
}

/* ---- store directory ---- */

lt_err_t lt_store_create(lt_db_t *db, const char *type, const lt_store_id_t *id, lt_store_t **out)
{
    const lt_sm_type_t *t = lt_registry_find(&db->registry, type);
    if (!t)
        return lt_fail(&db->eb, LT_ETYPE, "unknown store type '%s'", type);
    lt_store_id_t sid;
    if (id) {
        sid = *id;
    } else {
        if (db->random)
            db->random(db->random_ctx, sid.b, sizeof sid.b);
        else
            randombytes_buf(sid.b, sizeof sid.b);
        sid.b[6] = (uint8_t)((sid.b[6] & 0x0f) | 0x40); /* UUID version 4 */
        sid.b[8] = (uint8_t)((sid.b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    }
    if (lt_store_id_eq(&sid, &s_node_id))
        return lt_fail(&db->eb, LT_EINVAL, "the all-zero store id is reserved");
    if (lt_db_store(db, &sid))
        return lt_fail(&db->eb, LT_EEXIST, "store already exists");
    uint8_t k[LT_STORE_ID_LEN + 1 + LT_STORE_ID_LEN];
    size_t klen = s_dir_key(k, &sid);
    lt_err_t rc =
        lt_txn_put(db->txn, LT_CF_META, k, klen, (const uint8_t *)t->name, strlen(t->name));
    lt_store_t *st = NULL;
    if (rc == LT_OK)
        rc = lt_store_load(db, &sid, t->name, &st);
    if (rc == LT_OK) {
        rc = s_insert_store(db, st);
        if (rc)
            lt_store_free(&st);
    }
    if (rc == LT_OK && out)
        *out = st;
    return rc;
}

lt_err_t lt_store_remove(lt_db_t *db, const lt_store_id_t *id)
{
    size_t i = s_store_pos(db, id);
    if (i == db->nstores || !lt_store_id_eq(&db->stores[i]->id, id))
        return lt_fail(&db->eb, LT_ENOTFOUND, "no such store");
    /* Range deletes read committed rows: commit what is pending first. The
     * removal commits by itself too, so that nothing (a re-created store with
     * the same id, say) ever reads around staged deletes. */
    lt_err_t rc = lt_db_commit(db);
    if (rc)
        return rc;
    lt_store_t *st = db->stores[i];
    rc = lt_store_delete_all(st);
    uint8_t k[LT_STORE_ID_LEN + 1 + LT_STORE_ID_LEN];
    size_t klen = s_dir_key(k, id);
    if (rc == LT_OK)
        rc = lt_txn_del(db->txn, LT_CF_META, k, klen);
    if (rc) {
        lt_fail(&db->eb, rc, "removing a store: %s", lt_strerror(rc));
        s_recover(db);
        return rc;
    }
    st->dirty = false; /* nothing of it is left to sign */
    rc = lt_db_commit(db);
    if (rc)
        return rc; /* recovered: the store is still there */
    i = s_store_pos(db, id);
    memmove(&db->stores[i], &db->stores[i + 1], (db->nstores - i - 1) * sizeof *db->stores);
    db->nstores--;
    lt_store_free(&st);
    return LT_OK;
}

/* ---- request ids ----
 * Each record gets the next sequence number; recording number n forgets
 * number n - LT_REQUEST_KEEP through the "q" index, so the table holds at
 * most LT_REQUEST_KEEP ids at a cost of a few point operations per write. */

#define S_RID_KEY_MAX (LT_STORE_ID_LEN + 1 + LT_REQUEST_ID_LEN)

static size_t s_rid_key(uint8_t *k, const uint8_t *rid)
{
    return lt_key2(k, &s_node_id, "Q", 1, rid, LT_REQUEST_ID_LEN);
}

static size_t s_rid_seq_key(uint8_t *k, uint64_t seq)
{
    uint8_t be[8];
    lt_put_u64be(be, seq);
    return lt_key2(k, &s_node_id, "q", 1, be, sizeof be);
}

lt_err_t lt_db_request_lookup(lt_db_t *db, const uint8_t rid[LT_REQUEST_ID_LEN], lt_buf_t *reply)
{
    uint8_t k[S_RID_KEY_MAX];
    size_t klen = s_rid_key(k, rid);
    lt_buf_t v = LT_BUF_INIT;
    lt_err_t rc = lt_txn_get(db->txn, LT_CF_META, k, klen, &v);
    if (rc == LT_OK && v.len < 8)
        rc = lt_fail(&db->eb, LT_ECORRUPT, "a request id record is malformed");
    if (rc == LT_OK)
        rc = lt_buf_set(reply, v.data + 8, v.len - 8);
    lt_buf_free(&v);
    return rc;
}

lt_err_t lt_db_request_record(lt_db_t *db, const uint8_t rid[LT_REQUEST_ID_LEN],
                              const uint8_t *reply, size_t len)
{
    uint8_t k[S_RID_KEY_MAX], qk[S_RID_KEY_MAX], ck[LT_STORE_ID_LEN + 1], num[8];
    size_t cklen = lt_key2(ck, &s_node_id, "R", 1, NULL, 0);
    lt_buf_t v = LT_BUF_INIT;
    uint64_t seq = 0;
    lt_err_t rc = lt_txn_get(db->txn, LT_CF_META, ck, cklen, &v);
    if (rc == LT_OK && v.len == 8)
        seq = lt_get_u64le(v.data);
    else if (rc == LT_OK)
        rc = lt_fail(&db->eb, LT_ECORRUPT, "the request id counter is malformed");
    else if (rc == LT_ENOTFOUND)
        rc = LT_OK;
    /* Forget the oldest id, unless it was recorded again since. */
    if (rc == LT_OK && seq >= LT_REQUEST_KEEP) {
        size_t qlen = s_rid_seq_key(qk, seq - LT_REQUEST_KEEP);
        rc = lt_txn_get(db->txn, LT_CF_META, qk, qlen, &v);
        if (rc == LT_OK && v.len == LT_REQUEST_ID_LEN) {
            size_t klen = s_rid_key(k, v.data);
            rc = lt_txn_get(db->txn, LT_CF_META, k, klen, &v);
            if (rc == LT_OK && v.len >= 8 && lt_get_u64le(v.data) == seq - LT_REQUEST_KEEP)
                rc = lt_txn_del(db->txn, LT_CF_META, k, klen);
            else if (rc == LT_ENOTFOUND || rc == LT_OK)
                rc = LT_OK;
        } else if (rc == LT_ENOTFOUND) {
            rc = LT_OK;
        }
        if (rc == LT_OK)
            rc = lt_txn_del(db->txn, LT_CF_META, qk, qlen);
    }
    if (rc == LT_OK) {
        lt_buf_reset(&v);
        rc = lt_buf_put_u64le(&v, seq);
        if (rc == LT_OK)
            rc = lt_buf_append(&v, reply, len);
    }
    if (rc == LT_OK) {
        size_t klen = s_rid_key(k, rid);
        rc = lt_txn_put(db->txn, LT_CF_META, k, klen, v.data, v.len);
    }
    if (rc == LT_OK) {
        size_t qlen = s_rid_seq_key(qk, seq);
        rc = lt_txn_put(db->txn, LT_CF_META, qk, qlen, rid, LT_REQUEST_ID_LEN);
    }
    if (rc == LT_OK) {
        lt_put_u64le(num, seq + 1);
        rc = lt_txn_put(db->txn, LT_CF_META, ck, cklen, num, sizeof num);
    }
    lt_buf_free(&v);
    if (rc)
        lt_db_poison(db, rc); /* part of the record may be staged */
    return rc;
}
