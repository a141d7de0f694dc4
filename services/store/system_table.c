/* System table rows: store|class|id -> heads register whose values are the
 * encoded sub-message (PeerSet, InviteSet, ChildSet) or the raw name /
 * strategy byte. Classes: 'p' peer, 'i' invite, 'c' child, 'n' name,
 * 's' strategy. */
#include "store/system_table.h"

#include "store/heads.h"
#include "store/ops_codec.h"
#include "store/store_impl.h"
#include "weaver/hash.h"

#include <stdio.h>

#define S_KEY_MAX (LT_STORE_ID_LEN + 1 + LT_KEY_LEN)

static size_t s_row_key(uint8_t *k, const lt_store_id_t *sid, char cls, const uint8_t *id,
                        size_t idlen)
{
    memcpy(k, sid->b, LT_STORE_ID_LEN);
    k[LT_STORE_ID_LEN] = (uint8_t)cls;
    if (idlen)
        memcpy(k + LT_STORE_ID_LEN + 1, id, idlen);
    return LT_STORE_ID_LEN + 1 + idlen;
}

/* The row a system op writes and the value it stores. */
typedef struct {
    char cls;
    const uint8_t *id;
    size_t idlen;
    lt_buf_t value;
} s_row_t;

static lt_err_t s_row_of(const lattice_SystemOp *op, s_row_t *r)
{
    switch (op->which_op) {
    case lattice_SystemOp_peer_tag:
        if (op->op.peer.key.size != LT_KEY_LEN)
            return LT_EPAYLOAD;
        r->cls = 'p';
        r->id = op->op.peer.key.bytes;
        r->idlen = LT_KEY_LEN;
        return lt_pb_encode_static(lattice_PeerSet_fields, &op->op.peer, &r->value);
    case lattice_SystemOp_invite_tag:
        if (op->op.invite.secret_hash.size != LT_HASH_LEN)
            return LT_EPAYLOAD;
        r->cls = 'i';
        r->id = op->op.invite.secret_hash.bytes;
        r->idlen = LT_HASH_LEN;
        return lt_pb_encode_static(lattice_InviteSet_fields, &op->op.invite, &r->value);
    case lattice_SystemOp_child_tag:
        if (op->op.child.store_id.size != LT_STORE_ID_LEN)
            return LT_EPAYLOAD;
        r->cls = 'c';
        r->id = op->op.child.store_id.bytes;
        r->idlen = LT_STORE_ID_LEN;
        return lt_pb_encode_static(lattice_ChildSet_fields, &op->op.child, &r->value);
    case lattice_SystemOp_name_tag:
        r->cls = 'n';
        r->idlen = 0;
        return lt_buf_set(&r->value, op->op.name, strlen(op->op.name));
    case lattice_SystemOp_strategy_tag:
        r->cls = 's';
        r->idlen = 0;
        return lt_buf_put_u8(&r->value, (uint8_t)op->op.strategy);
    default:
        return LT_EPAYLOAD;
    }
}

lt_err_t lt_system_apply(const lt_apply_t *a, const lattice_SystemOp *op)
{
    s_row_t r = {0, NULL, 0, LT_BUF_INIT};
    lt_buf_t old = LT_BUF_INIT, enc = LT_BUF_INIT;
    lt_heads_t heads = LT_HEADS_INIT;
    uint8_t k[S_KEY_MAX];
    lt_err_t rc = s_row_of(op, &r);
    size_t klen = rc ? 0 : s_row_key(k, &a->st->id, r.cls, r.id, r.idlen);
    if (rc == LT_OK) {
        rc = lt_txn_get(a->txn, LT_CF_SYSTEM, k, klen, &old);
        if (rc == LT_OK)
            rc = lt_heads_decode(old.data, old.len, &heads);
        else if (rc == LT_ENOTFOUND)
            rc = LT_OK;
    }
    if (rc == LT_OK) {
        lt_head_t w = {a->in->hash,
                       a->in->in.hlc,
                       a->in->in.author,
                       false,
                       {r.value.data ? r.value.data : (const uint8_t *)"", r.value.len}};
        lt_hash_t cited[LT_MAX_DEPS + 1];
        unsigned ncited = lt_intention_cited(&a->in->in, cited);
        rc = lt_heads_apply(&heads, &w, cited, ncited);
    }
    if (rc == LT_OK)
        rc = lt_heads_encode(&heads, &enc);
    if (rc == LT_OK)
        rc = lt_txn_put(a->txn, LT_CF_SYSTEM, k, klen, enc.data, enc.len);
    if (rc == LT_OK) {
        lt_event_t ev = {.kind = LT_EV_SYSTEM,
                         .store = a->st->id,
                         .seq = a->seq,
                         .hash = a->in->hash,
                         .author = a->in->in.author,
                         .hlc = a->in->in.hlc,
                         .key = k + LT_STORE_ID_LEN,
                         .klen = klen - LT_STORE_ID_LEN,
                         .conflicted = heads.n > 1,
                         .nheads = heads.n};
        rc = lt_db_emit(a->st->db, &ev);
    }
    lt_buf_free(&r.value);
    lt_buf_free(&old);
    lt_buf_free(&enc);
    lt_heads_free(&heads);
    return rc;
}

/* Writes a system op citing the current heads of its row. */
static lt_err_t s_write(lt_store_t *st, const lattice_SystemOp *op, lt_hash_t *hash_out)
{
    s_row_t r = {0, NULL, 0, LT_BUF_INIT};
    lt_buf_t old = LT_BUF_INIT, uop = LT_BUF_INIT;
    lt_heads_t heads = LT_HEADS_INIT;
    lt_hash_t deps[LT_MAX_DEPS];
    unsigned ndeps = 0;
    uint8_t k[S_KEY_MAX];
    lt_err_t rc = s_row_of(op, &r);
    if (rc == LT_EPAYLOAD)
        rc = lt_fail(&st->db->eb, LT_EINVAL, "malformed system table entry");
    if (rc == LT_OK) {
        size_t klen = s_row_key(k, &st->id, r.cls, r.id, r.idlen);
        rc = lt_txn_get(st->db->txn, LT_CF_SYSTEM, k, klen, &old);
        if (rc == LT_OK)
            rc = lt_heads_decode(old.data, old.len, &heads);
        else if (rc == LT_ENOTFOUND)
            rc = LT_OK;
    }
    for (unsigned i = 0; rc == LT_OK && i < heads.n; i++) {
        if (ndeps == LT_MAX_DEPS)
            rc = lt_fail(&st->db->eb, LT_ETOOMANYDEPS, "system entry has too many heads");
        else
            deps[ndeps++] = heads.v[i].hash;
    }
    if (rc == LT_OK) {
        uint8_t nd = (uint8_t)ndeps;
        lt_deps_normalize(deps, &nd);
        ndeps = nd;
        rc = lt_uop_encode_system(op, &uop);
    }
    if (rc == LT_OK)
        rc = lt_store_write(st, uop.data, uop.len, deps, ndeps, hash_out);
    lt_buf_free(&r.value);
    lt_buf_free(&old);
    lt_buf_free(&uop);
    lt_heads_free(&heads);
    return rc;
}

/* The winner's value of a row (LT_ENOTFOUND if never written). */
static lt_err_t s_read(lt_store_t *st, char cls, const uint8_t *id, size_t idlen, lt_buf_t *out)
{
    uint8_t k[S_KEY_MAX];
    size_t klen = s_row_key(k, &st->id, cls, id, idlen);
    lt_buf_t raw = LT_BUF_INIT;
    lt_heads_t heads = LT_HEADS_INIT;
    lt_err_t rc = lt_txn_get(st->db->txn, LT_CF_SYSTEM, k, klen, &raw);
    if (rc == LT_OK)
        rc = lt_heads_decode(raw.data, raw.len, &heads);
    if (rc == LT_OK && heads.n == 0)
        rc = LT_ENOTFOUND;
    if (rc == LT_OK)
        rc = lt_buf_set(out, heads.v[0].value.p, heads.v[0].value.len);
    lt_buf_free(&raw);
    lt_heads_free(&heads);
    return rc;
}

typedef lt_err_t (*s_winner_fn)(void *ctx, const uint8_t *id, size_t idlen, const uint8_t *v,
                                size_t vlen);

/* Winners of every committed row of a class. */
static lt_err_t s_scan(lt_store_t *st, char cls, s_winner_fn fn, void *ctx)
{
    uint8_t prefix[LT_STORE_ID_LEN + 1];
    s_row_key(prefix, &st->id, cls, NULL, 0);
    lt_kv_t *kv = st->db->kv;
    lt_kv_iter_t *it;
    lt_err_t rc = lt_kv_iter_new(kv, LT_CF_SYSTEM, &it);
    if (rc)
        return rc;
    lt_heads_t heads = LT_HEADS_INIT;
    kv->ops->iter_seek(it, prefix, sizeof prefix);
    while (rc == LT_OK && lt_kv_iter_has_prefix(kv, it, prefix, sizeof prefix)) {
        size_t klen, vlen;
        const uint8_t *k = kv->ops->iter_key(it, &klen);
        const uint8_t *v = kv->ops->iter_value(it, &vlen);
        rc = lt_heads_decode(v, vlen, &heads);
        if (rc == LT_OK && heads.n)
            rc = fn(ctx, k + sizeof prefix, klen - sizeof prefix, heads.v[0].value.p,
                    heads.v[0].value.len);
        kv->ops->iter_next(it);
    }
    if (rc == LT_OK)
        rc = kv->ops->iter_status(it);
    kv->ops->iter_free(it);
    lt_heads_free(&heads);
    return rc;
}

lt_err_t lt_system_set_peer(lt_store_t *st, const lt_pubkey_t *peer, lattice_PeerStatus status,
                            lt_hash_t *hash_out)
{
    lattice_SystemOp op = lattice_SystemOp_init_zero;
    op.which_op = lattice_SystemOp_peer_tag;
    op.op.peer.key.size = LT_KEY_LEN;
    memcpy(op.op.peer.key.bytes, peer->b, LT_KEY_LEN);
    op.op.peer.status = status;
    return s_write(st, &op, hash_out);
}

lt_err_t lt_system_get_peer(lt_store_t *st, const lt_pubkey_t *peer, lattice_PeerStatus *status)
{
    lt_buf_t v = LT_BUF_INIT;
    lt_err_t rc = s_read(st, 'p', peer->b, LT_KEY_LEN, &v);
    lattice_PeerSet ps = lattice_PeerSet_init_zero;
    if (rc == LT_OK && lt_pb_decode_static(lattice_PeerSet_fields, &ps, v.data, v.len) != LT_OK)
        rc = LT_ECORRUPT;
    if (rc == LT_OK)
        *status = ps.status;
    lt_buf_free(&v);
    return rc;
}

typedef struct {
    lt_system_peer_fn fn;
    void *ctx;
} s_peers_t;

static lt_err_t s_peer_row(void *ctx, const uint8_t *id, size_t idlen, const uint8_t *v,
                           size_t vlen)
{
    s_peers_t *p = ctx;
    lattice_PeerSet ps = lattice_PeerSet_init_zero;
    if (idlen != LT_KEY_LEN || lt_pb_decode_static(lattice_PeerSet_fields, &ps, v, vlen))
        return LT_ECORRUPT;
    lt_pubkey_t key;
    memcpy(key.b, id, LT_KEY_LEN);
    return p->fn(p->ctx, &key, ps.status);
}

lt_err_t lt_system_list_peers(lt_store_t *st, lt_system_peer_fn fn, void *ctx)
{
    s_peers_t p = {fn, ctx};
    return s_scan(st, 'p', s_peer_row, &p);
}

void lt_invite_secret_hash(const uint8_t *secret, size_t len, lt_hash_t *out)
{
    lt_hash_personal(LT_PERSONAL_SECRET, secret, len, out);
}

lt_err_t lt_system_set_invite(lt_store_t *st, const lattice_InviteSet *invite, lt_hash_t *hash_out)
{
    lattice_SystemOp op = lattice_SystemOp_init_zero;
    op.which_op = lattice_SystemOp_invite_tag;
    op.op.invite = *invite;
    return s_write(st, &op, hash_out);
}

typedef struct {
    lt_system_invite_fn fn;
    void *ctx;
} s_invites_t;

static lt_err_t s_invite_row(void *ctx, const uint8_t *id, size_t idlen, const uint8_t *v,
                             size_t vlen)
{
    s_invites_t *p = ctx;
    lattice_InviteSet inv = lattice_InviteSet_init_zero;
    if (idlen != LT_HASH_LEN || lt_pb_decode_static(lattice_InviteSet_fields, &inv, v, vlen) ||
        inv.secret_hash.size != LT_HASH_LEN || memcmp(inv.secret_hash.bytes, id, LT_HASH_LEN))
        return LT_ECORRUPT; /* a row is keyed by the hash it holds */
    return p->fn(p->ctx, &inv);
}

lt_err_t lt_system_list_invites(lt_store_t *st, lt_system_invite_fn fn, void *ctx)
{
    s_invites_t p = {fn, ctx};
    return s_scan(st, 'i', s_invite_row, &p);
}

lt_err_t lt_system_get_invite(lt_store_t *st, const lt_hash_t *secret_hash, lattice_InviteSet *out)
{
    lt_buf_t v = LT_BUF_INIT;
    lt_err_t rc = s_read(st, 'i', secret_hash->b, LT_HASH_LEN, &v);
    lattice_InviteSet inv = lattice_InviteSet_init_zero;
    if (rc == LT_OK && lt_pb_decode_static(lattice_InviteSet_fields, &inv, v.data, v.len))
        rc = LT_ECORRUPT;
    if (rc == LT_OK)
        *out = inv;
    lt_buf_free(&v);
    return rc;
}

lt_err_t lt_system_set_child(lt_store_t *st, const lattice_ChildSet *child, lt_hash_t *hash_out)
{
    lattice_SystemOp op = lattice_SystemOp_init_zero;
    op.which_op = lattice_SystemOp_child_tag;
    op.op.child = *child;
    return s_write(st, &op, hash_out);
}

lt_err_t lt_system_get_child(lt_store_t *st, const lt_store_id_t *id, lattice_ChildSet *out)
{
    lt_buf_t v = LT_BUF_INIT;
    lt_err_t rc = s_read(st, 'c', id->b, LT_STORE_ID_LEN, &v);
    lattice_ChildSet cs = lattice_ChildSet_init_zero;
    if (rc == LT_OK && lt_pb_decode_static(lattice_ChildSet_fields, &cs, v.data, v.len))
        rc = LT_ECORRUPT;
    if (rc == LT_OK)
        *out = cs;
    lt_buf_free(&v);
    return rc;
}

typedef struct {
    lt_system_child_fn fn;
    void *ctx;
} s_children_t;

static lt_err_t s_child_row(void *ctx, const uint8_t *id, size_t idlen, const uint8_t *v,
                            size_t vlen)
{
    s_children_t *c = ctx;
    lattice_ChildSet cs = lattice_ChildSet_init_zero;
    if (idlen != LT_STORE_ID_LEN || lt_pb_decode_static(lattice_ChildSet_fields, &cs, v, vlen) ||
        cs.store_id.size != LT_STORE_ID_LEN || memcmp(cs.store_id.bytes, id, LT_STORE_ID_LEN))
        return LT_ECORRUPT; /* a row is keyed by the id it holds */
    return c->fn(c->ctx, &cs);
}

lt_err_t lt_system_list_children(lt_store_t *st, lt_system_child_fn fn, void *ctx)
{
    s_children_t c = {fn, ctx};
    return s_scan(st, 'c', s_child_row, &c);
}

lt_err_t lt_system_set_name(lt_store_t *st, const char *name, lt_hash_t *hash_out)
{
    lattice_SystemOp op = lattice_SystemOp_init_zero;
    op.which_op = lattice_SystemOp_name_tag;
    if (strlen(name) >= sizeof op.op.name)
        return lt_fail(&st->db->eb, LT_EINVAL, "store name longer than %zu bytes",
                       sizeof op.op.name - 1);
    snprintf(op.op.name, sizeof op.op.name, "%s", name);
    return s_write(st, &op, hash_out);
}

lt_err_t lt_system_get_name(lt_store_t *st, char *out, size_t outlen)
{
    lt_buf_t v = LT_BUF_INIT;
    lt_err_t rc = s_read(st, 'n', NULL, 0, &v);
    if (rc == LT_OK && v.len == 0)
        rc = LT_ENOTFOUND;
    if (rc == LT_OK)
        snprintf(out, outlen, "%.*s", (int)v.len, (const char *)v.data);
    lt_buf_free(&v);
    return rc;
}

lt_err_t lt_system_set_strategy(lt_store_t *st, lattice_PeerStrategy s, lt_hash_t *hash_out)
{
    lattice_SystemOp op = lattice_SystemOp_init_zero;
    op.which_op = lattice_SystemOp_strategy_tag;
    op.op.strategy = s;
    return s_write(st, &op, hash_out);
}

lt_err_t lt_system_get_strategy(lt_store_t *st, lattice_PeerStrategy *out)
{
    lt_buf_t v = LT_BUF_INIT;
    lt_err_t rc = s_read(st, 's', NULL, 0, &v);
    if (rc == LT_OK && v.len != 1)
        rc = LT_ECORRUPT;
    if (rc == LT_OK)
        *out = (lattice_PeerStrategy)v.data[0];
    lt_buf_free(&v);
    return rc;
}
