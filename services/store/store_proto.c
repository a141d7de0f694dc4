/* The store service protocol: strict request decoding with zero-copy views,
 * and the nanopb helpers for replies (see store_proto.h). */
#include "store/store_proto.h"

#include <pb_decode.h>
#include <pb_encode.h>

#include <stdio.h>
#include <stdlib.h>

lt_err_t lt_store_error_encode(const char *message, lt_buf_t *out)
{
    lattice_store_Error e = lattice_store_Error_init_zero;
    snprintf(e.message, sizeof e.message, "%s", message ? message : "");
    return lt_pb_encode_static(lattice_store_Error_fields, &e, out);
}

bool lt_store_msg_is_write(uint32_t type)
{
    switch (type) {
    case lattice_store_StoreMsgType_STORE_CREATE:
    case lattice_store_StoreMsgType_STORE_REMOVE:
    case lattice_store_StoreMsgType_KV_PUT:
    case lattice_store_StoreMsgType_KV_DEL:
    case lattice_store_StoreMsgType_KV_BATCH:
    case lattice_store_StoreMsgType_LOG_APPEND:
    case lattice_store_StoreMsgType_INGEST:
    case lattice_store_StoreMsgType_PEER_INVITE:
    case lattice_store_StoreMsgType_PEER_REVOKE:
    case lattice_store_StoreMsgType_PEER_JOIN:
    case lattice_store_StoreMsgType_PEER_JOINED:
    case lattice_store_StoreMsgType_INGEST_BATCH:
        return true;
    default:
        return false;
    }
}

/* ---- request decoding ---- */

typedef struct {
    lt_store_req_t *req;
    const lt_pb_input_t *in;
    lt_errbuf_t *eb;
    bool failed;
} s_batch_t;

static bool s_entry_cb(pb_istream_t *stream, const pb_field_t *field, void **arg)
{
    (void)field;
    s_batch_t *b = *arg;
    if (!lt_pb_reads_input(stream, b->in))
        return false;
    lattice_store_KvBatchEntry msg = lattice_store_KvBatchEntry_init_zero;
    lt_kv_entry_t e = {{NULL, 0}, {NULL, 0}, false};
    lt_pb_view_arg_t k = {&e.key, b->in}, v = {&e.value, b->in};
    lt_pb_bind_view(&msg.key, &k);
    lt_pb_bind_view(&msg.value, &v);
    if (!pb_decode(stream, lattice_store_KvBatchEntry_fields, &msg))
        return false;
    e.del = msg.delete;
    if (e.key.len == 0 || (e.del && e.value.len)) {
        lt_fail(b->eb, LT_EINVAL, "batch entry %zu: %s", b->req->nentries + 1,
                e.key.len == 0 ? "empty key" : "a delete with a value");
        b->failed = true;
        return false;
    }
    if (!e.value.p)
        e.value.p = (const uint8_t *)"";
    lt_store_req_t *r = b->req;
    if ((r->nentries & (r->nentries - 1)) == 0) { /* 0, 1, 2, 4...: grow to the next power */
        size_t cap = r->nentries ? r->nentries * 2 : 1;
        lt_kv_entry_t *ne = realloc(r->entries, cap * sizeof *ne);
        if (!ne)
            return false;
        r->entries = ne;
    }
    r->entries[r->nentries++] = e;
    return true;
}

/* Copies a fixed-size bytes field: absent is fine when optional. */
static lt_err_t s_fixed(const pb_bytes_array_t *f, size_t want, uint8_t *out, bool *has,
                        bool required, const char *what, lt_errbuf_t *eb)
{
    if (f->size == 0 && !required) {
        if (has)
            *has = false;
        return LT_OK;
    }
    if (f->size != want)
        return lt_fail(eb, LT_EINVAL, "%s must be %zu bytes, not %u", what, want,
                       (unsigned)f->size);
    memcpy(out, f->bytes, want);
    if (has)
        *has = true;
    return LT_OK;
}

#define S_STORE(msg, req, eb)                                                                      \
    s_fixed((const pb_bytes_array_t *)&(msg).store, LT_STORE_ID_LEN, (req)->store.b,               \
            &(req)->has_store, true, "the store id", eb)
#define S_RID(msg, req, eb)                                                                        \
    s_fixed((const pb_bytes_array_t *)&(msg).request_id, LT_REQUEST_ID_LEN, (req)->request_id,     \
            &(req)->has_request_id, false, "the request id", eb)

static lt_err_t s_decode(const pb_msgdesc_t *fields, void *msg, const uint8_t *body, size_t len,
                         lt_errbuf_t *eb)
{
    pb_istream_t is = pb_istream_from_buffer(body, len);
    if (!pb_decode(&is, fields, msg))
        return lt_fail(eb, LT_EINVAL, "malformed request body: %s", PB_GET_ERROR(&is));
    return LT_OK;
}

static lt_err_t s_need_key(const lt_view_t *key, lt_errbuf_t *eb)
{
    return key->len ? LT_OK : lt_fail(eb, LT_EINVAL, "the key is missing or empty");
}

/* The hashes of a Fetch or ChainRead (rc: the decode so far): 1..max of
 * them, each LT_HASH_LEN bytes; on success req owns the views, else they are
 * freed. */
static lt_err_t s_take_hashes(lt_err_t rc, lt_pb_views_t *vs, size_t max, const char *what,
                              lt_store_req_t *req, lt_errbuf_t *eb)
{
    if (rc == LT_OK && vs->n == 0)
        rc = lt_fail(eb, LT_EINVAL, "a %s needs at least one hash", what);
    if (rc == LT_OK && vs->n > max)
        rc = lt_fail(eb, LT_EINVAL, "a %s asks for at most %zu hashes, not %zu", what, max, vs->n);
    for (size_t i = 0; rc == LT_OK && i < vs->n; i++)
        if (vs->v[i].len != LT_HASH_LEN)
            rc = lt_fail(eb, LT_EINVAL, "hash %zu of the %s must be %d bytes, not %zu", i + 1, what,
                         LT_HASH_LEN, vs->v[i].len);
    if (rc == LT_OK) {
        req->views = vs->v; /* owned: lt_store_req_free */
        req->nviews = vs->n;
    } else {
        lt_pb_views_free(vs);
    }
    return rc;
}

static lt_err_t s_decode_req(uint32_t type, const uint8_t *body, size_t len, lt_store_req_t *req,
                             const lt_pb_input_t *in, lt_errbuf_t *eb)
{
    lt_err_t rc;
    lt_pb_view_arg_t key = {&req->key, in}, value = {&req->value, in};
    switch (type) {
    case lattice_store_StoreMsgType_STORE_LIST:
    case lattice_store_StoreMsgType_NODE_INFO:
    case lattice_store_StoreMsgType_WITNESS_WATCH:
        return len == 0 ? LT_OK : lt_fail(eb, LT_EINVAL, "this request takes no body");
    case lattice_store_StoreMsgType_STORE_CREATE: {
        lattice_store_StoreCreate m = lattice_store_StoreCreate_init_zero;
        rc = s_decode(lattice_store_StoreCreate_fields, &m, body, len, eb);
        if (rc == LT_OK && (m.type < lattice_store_StoreType_STORE_TYPE_DEFAULT ||
                            m.type > lattice_store_StoreType_STORE_TYPE_LOG))
            rc = lt_fail(eb, LT_EINVAL, "unknown store type %d", (int)m.type);
        if (rc == LT_OK)
            rc = s_fixed((const pb_bytes_array_t *)&m.parent, LT_STORE_ID_LEN, req->parent.b,
                         &req->has_parent, false, "the parent store id", eb);
        if (rc == LT_OK)
            rc = S_RID(m, req, eb);
        if (rc == LT_OK) {
            req->store_type = m.type == lattice_store_StoreType_STORE_TYPE_LOG
                                  ? lattice_store_StoreType_STORE_TYPE_LOG
                                  : lattice_store_StoreType_STORE_TYPE_KV;
            snprintf(req->name, sizeof req->name, "%s", m.name);
        }
        return rc;
    }
    case lattice_store_StoreMsgType_STORE_INFO:
    case lattice_store_StoreMsgType_STORE_REMOVE:
    case lattice_store_StoreMsgType_STORE_VERIFY:
    case lattice_store_StoreMsgType_LOG_FOLLOW:
    case lattice_store_StoreMsgType_PEER_LIST: {
        lattice_store_StoreRef m = lattice_store_StoreRef_init_zero;
        rc = s_decode(lattice_store_StoreRef_fields, &m, body, len, eb);
        if (rc == LT_OK)
            rc = S_STORE(m, req, eb);
        if (rc == LT_OK)
            rc = S_RID(m, req, eb);
        return rc;
    }
    case lattice_store_StoreMsgType_STORE_RESOLVE: {
        lattice_store_StoreResolve m = lattice_store_StoreResolve_init_zero;
        rc = s_decode(lattice_store_StoreResolve_fields, &m, body, len, eb);
        if (rc == LT_OK && m.query[0] == '\0')
            rc = lt_fail(eb, LT_EINVAL, "the store to resolve is empty");
        if (rc == LT_OK)
            snprintf(req->name, sizeof req->name, "%s", m.query);
        return rc;
    }
    case lattice_store_StoreMsgType_KV_PUT: {
        lattice_store_KvPut m = lattice_store_KvPut_init_zero;
        lt_pb_bind_view(&m.key, &key);
        lt_pb_bind_view(&m.value, &value);
        rc = s_decode(lattice_store_KvPut_fields, &m, body, len, eb);
        if (rc == LT_OK)
            rc = S_STORE(m, req, eb);
        if (rc == LT_OK)
            rc = S_RID(m, req, eb);
        if (rc == LT_OK)
            rc = s_need_key(&req->key, eb);
        return rc;
    }
    case lattice_store_StoreMsgType_KV_GET:
    case lattice_store_StoreMsgType_KV_DEL:
    case lattice_store_StoreMsgType_KV_INSPECT: {
        lattice_store_KvKey m = lattice_store_KvKey_init_zero;
        lt_pb_bind_view(&m.key, &key);
        rc = s_decode(lattice_store_KvKey_fields, &m, body, len, eb);
        if (rc == LT_OK)
            rc = S_STORE(m, req, eb);
        if (rc == LT_OK)
            rc = S_RID(m, req, eb);
        if (rc == LT_OK)
            rc = s_need_key(&req->key, eb);
        return rc;
    }
    case lattice_store_StoreMsgType_KV_LIST:
    case lattice_store_StoreMsgType_KV_WATCH: {
        lattice_store_KvPrefix m = lattice_store_KvPrefix_init_zero;
        lt_pb_bind_view(&m.prefix, &key);
        rc = s_decode(lattice_store_KvPrefix_fields, &m, body, len, eb);
        return rc ? rc : S_STORE(m, req, eb);
    }
    case lattice_store_StoreMsgType_KV_BATCH: {
        lattice_store_KvBatch m = lattice_store_KvBatch_init_zero;
        s_batch_t b = {req, in, eb, false};
        m.entries.funcs.decode = s_entry_cb;
        m.entries.arg = &b;
        pb_istream_t is = pb_istream_from_buffer(body, len);
        if (!pb_decode(&is, lattice_store_KvBatch_fields, &m))
            return b.failed
                       ? LT_EINVAL
                       : lt_fail(eb, LT_EINVAL, "malformed request body: %s", PB_GET_ERROR(&is));
        rc = S_STORE(m, req, eb);
        if (rc == LT_OK)
            rc = S_RID(m, req, eb);
        if (rc == LT_OK && req->nentries == 0)
            rc = lt_fail(eb, LT_EINVAL, "a batch needs at least one entry");
        return rc;
    }
    case lattice_store_StoreMsgType_KV_UNWATCH:
    case lattice_store_StoreMsgType_LOG_UNFOLLOW:
    case lattice_store_StoreMsgType_WITNESS_UNWATCH: {
        lattice_store_Unwatch m = lattice_store_Unwatch_init_zero;
        rc = s_decode(lattice_store_Unwatch_fields, &m, body, len, eb);
        req->num = m.corr;
        return rc;
    }
    case lattice_store_StoreMsgType_LOG_APPEND: {
        lattice_store_LogAppend m = lattice_store_LogAppend_init_zero;
        lt_pb_bind_view(&m.text, &value);
        rc = s_decode(lattice_store_LogAppend_fields, &m, body, len, eb);
        if (rc == LT_OK)
            rc = S_STORE(m, req, eb);
        if (rc == LT_OK)
            rc = S_RID(m, req, eb);
        if (rc == LT_OK && !req->value.p)
            req->value.p = (const uint8_t *)"";
        return rc;
    }
    case lattice_store_StoreMsgType_LOG_READ: {
        lattice_store_LogRead m = lattice_store_LogRead_init_zero;
        rc = s_decode(lattice_store_LogRead_fields, &m, body, len, eb);
        req->num = m.tail;
        return rc ? rc : S_STORE(m, req, eb);
    }
    case lattice_store_StoreMsgType_HISTORY: {
        lattice_store_History m = lattice_store_History_init_zero;
        rc = s_decode(lattice_store_History_fields, &m, body, len, eb);
        req->num = m.limit;
        return rc ? rc : S_STORE(m, req, eb);
    }
    case lattice_store_StoreMsgType_DEBUG: {
        lattice_store_Debug m = lattice_store_Debug_init_zero;
        rc = s_decode(lattice_store_Debug_fields, &m, body, len, eb);
        if (rc == LT_OK)
            rc = S_STORE(m, req, eb);
        if (rc == LT_OK)
            rc = s_fixed((const pb_bytes_array_t *)&m.hash, LT_HASH_LEN, req->hash.b, NULL, true,
                         "the intention hash", eb);
        return rc;
    }
    case lattice_store_StoreMsgType_INGEST: {
        lattice_store_Ingest m = lattice_store_Ingest_init_zero;
        lt_pb_bind_view(&m.signed_bytes, &value);
        rc = s_decode(lattice_store_Ingest_fields, &m, body, len, eb);
        if (rc == LT_OK)
            rc = S_STORE(m, req, eb);
        if (rc == LT_OK)
            rc = S_RID(m, req, eb);
        if (rc == LT_OK && req->value.len == 0)
            rc = lt_fail(eb, LT_EINVAL, "the signed intention is missing");
        return rc;
    }
    case lattice_store_StoreMsgType_PEER_INVITE: {
        lattice_store_PeerInvite m = lattice_store_PeerInvite_init_zero;
        rc = s_decode(lattice_store_PeerInvite_fields, &m, body, len, eb);
        if (rc == LT_OK)
            rc = S_STORE(m, req, eb);
        if (rc == LT_OK)
            rc = S_RID(m, req, eb);
        if (rc == LT_OK && m.ttl_ms > LT_INVITE_TTL_MAX_MS)
            rc = lt_fail(eb, LT_EINVAL, "an invite lives at most %llu days",
                         (unsigned long long)(LT_INVITE_TTL_MAX_MS / 86400000u));
        req->num = m.ttl_ms;
        return rc;
    }
    case lattice_store_StoreMsgType_PEER_REVOKE: {
        lattice_store_PeerRef m = lattice_store_PeerRef_init_zero;
        rc = s_decode(lattice_store_PeerRef_fields, &m, body, len, eb);
        if (rc == LT_OK)
            rc = S_STORE(m, req, eb);
        if (rc == LT_OK)
            rc = S_RID(m, req, eb);
        if (rc == LT_OK)
            rc = s_fixed((const pb_bytes_array_t *)&m.key, LT_KEY_LEN, req->peer.b, NULL, true,
                         "the peer key", eb);
        return rc;
    }
    case lattice_store_StoreMsgType_CLONE_READ:
    case lattice_store_StoreMsgType_SYNC_ITEMS: {
        lattice_store_CloneRead m = lattice_store_CloneRead_init_zero;
        rc = s_decode(lattice_store_CloneRead_fields, &m, body, len, eb);
        req->num = m.from_seq;
        /* SyncItems reads from the start when from_seq is left out (proto3
         * cannot tell 0 from absent); a clone names where it goes on. */
        if (rc == LT_OK && m.from_seq == 0 && type == lattice_store_StoreMsgType_SYNC_ITEMS)
            req->num = 1;
        else if (rc == LT_OK && m.from_seq == 0)
            rc = lt_fail(eb, LT_EINVAL, "witness sequence numbers start at 1");
        return rc ? rc : S_STORE(m, req, eb);
    }
    case lattice_store_StoreMsgType_FETCH: {
        lattice_store_Fetch m = lattice_store_Fetch_init_zero;
        lt_pb_views_t vs = {.in = in};
        lt_pb_bind_views(&m.hashes, &vs);
        rc = s_decode(lattice_store_Fetch_fields, &m, body, len, eb);
        if (rc == LT_OK)
            rc = S_STORE(m, req, eb);
        return s_take_hashes(rc, &vs, LT_STORE_FETCH_MAX, "fetch", req, eb);
    }
    case lattice_store_StoreMsgType_CHAIN_READ: {
        lattice_store_ChainRead m = lattice_store_ChainRead_init_zero;
        lt_pb_views_t vs = {.in = in};
        lt_pb_bind_views(&m.hashes, &vs);
        rc = s_decode(lattice_store_ChainRead_fields, &m, body, len, eb);
        if (rc == LT_OK)
            rc = S_STORE(m, req, eb);
        req->num = m.max;
        return s_take_hashes(rc, &vs, LT_STORE_CHAIN_READ_MAX, "chain read", req, eb);
    }
    case lattice_store_StoreMsgType_INGEST_BATCH: {
        lattice_store_IngestBatch m = lattice_store_IngestBatch_init_zero;
        lt_pb_views_t vs = {.in = in};
        lt_pb_bind_views(&m.intentions, &vs);
        rc = s_decode(lattice_store_IngestBatch_fields, &m, body, len, eb);
        if (rc == LT_OK)
            rc = S_STORE(m, req, eb);
        if (rc == LT_OK)
            rc = S_RID(m, req, eb);
        if (rc == LT_OK && vs.n == 0)
            rc = lt_fail(eb, LT_EINVAL, "a batch needs at least one intention");
        if (rc == LT_OK && m.verified > vs.n)
            rc = lt_fail(eb, LT_EINVAL, "a batch says more intentions are verified than it holds");
        if (rc == LT_OK) {
            req->verified = m.verified;
            req->quiet = m.quiet;
            req->views = vs.v; /* owned: lt_store_req_free */
            req->nviews = vs.n;
        } else {
            lt_pb_views_free(&vs);
        }
        return rc;
    }
    case lattice_store_StoreMsgType_PEER_JOIN: {
        lattice_store_PeerJoin m = lattice_store_PeerJoin_init_zero;
        rc = s_decode(lattice_store_PeerJoin_fields, &m, body, len, eb);
        if (rc == LT_OK)
            rc = S_STORE(m, req, eb);
        if (rc == LT_OK)
            rc = S_RID(m, req, eb);
        if (rc == LT_OK)
            rc = s_fixed((const pb_bytes_array_t *)&m.secret, sizeof req->secret, req->secret, NULL,
                         true, "the invite secret", eb);
        return rc;
    }
    case lattice_store_StoreMsgType_PEER_JOINED: {
        lattice_store_Joined m = lattice_store_Joined_init_zero;
        rc = s_decode(lattice_store_Joined_fields, &m, body, len, eb);
        if (rc == LT_OK)
            rc = S_STORE(m, req, eb);
        if (rc == LT_OK)
            rc = S_RID(m, req, eb);
        if (rc == LT_OK)
            rc = s_fixed((const pb_bytes_array_t *)&m.inviter, LT_KEY_LEN, req->peer.b, NULL, true,
                         "the inviter's key", eb);
        if (rc == LT_OK && m.type != lattice_store_StoreType_STORE_TYPE_KV &&
            m.type != lattice_store_StoreType_STORE_TYPE_LOG)
            rc = lt_fail(eb, LT_EINVAL, "unknown store type %d", (int)m.type);
        if (rc == LT_OK) {
            req->store_type = m.type;
            snprintf(req->name, sizeof req->name, "%s", m.name);
        }
        return rc;
    }
    default:
        return lt_fail(eb, LT_EINVAL, "unknown request type %u", (unsigned)type);
    }
}

lt_err_t lt_store_req_decode(uint32_t type, const uint8_t *body, size_t len, lt_store_req_t *req,
                             lt_errbuf_t *eb)
{
    memset(req, 0, sizeof *req);
    req->type = (lattice_store_StoreMsgType)type;
    if (!body && len)
        return lt_fail(eb, LT_EINVAL, "a request body without bytes");
    if (!body)
        body = (const uint8_t *)"";
    lt_pb_input_t in = lt_pb_input(body, len);
    lt_err_t rc = s_decode_req(type, body, len, req, &in, eb);
    if (rc)
        lt_store_req_free(req);
    return rc;
}

void lt_store_req_free(lt_store_req_t *req)
{
    free(req->views);
    req->views = NULL;
    req->nviews = 0;
    free(req->entries);
    req->entries = NULL;
    req->nentries = 0;
}
