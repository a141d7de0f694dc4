/* The gossip actor: see gossip_actor.h. */
#include "gossip/gossip_actor.h"

#include "ipc/calls.h"
#include "store/ops_codec.h"
#include "sync/peerlist.h"
#include "weaver/intention.h"

#include "gossip.pb.h"
#include "store.pb.h"
#include "sync.pb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_TAG "gossip"
/* Bytes of pushes a store may hold while its peers are being listed, and
 * all stores together; stores known at once (a peer may name any id). */
#define S_PENDING_BYTES     (4u << 20)
#define S_PENDING_ALL_BYTES (16u << 20)
#define S_MAX_STORES        4096u
/* A store is handed to the sync service at most this often. */
#define S_RECONCILE_MS      5000u
#define S_INVALID_WINDOW_MS 60000u

enum { S_TIMER_REWATCH = 1 };

typedef enum {
    C_NODE_INFO,
    C_WATCH,
    C_UNWATCH,
    C_PEERS,        /* PEER_LIST of a store */
    C_INGEST,       /* INGEST_BATCH of a push (peer) */
    C_CHAIN,        /* CHAIN_READ to a peer's store */
    C_CHAIN_INGEST, /* INGEST_BATCH of a chain read */
    C_SYNC,         /* SYNC_NOW: nothing to do with the answer */
} s_call_kind_t;

typedef struct {
    s_call_kind_t kind;
    uint16_t peer; /* 1-based index in peers, or 0 */
    uint32_t round;
    lt_store_id_t store;
    lt_hash_t *hashes; /* C_INGEST: what the push held, to forget on failure */
    size_t nhashes;
} s_call_t;

typedef struct {
    lt_pubkey_t key;
    char hex[2 * LT_KEY_LEN + 1];
    lt_buf_t *queue; /* pushes the runtime refused for now, oldest first */
    size_t nqueue, capqueue, qbytes;
    uint32_t invalid;
    uint64_t invalid_since, ignored_until;
} s_peer_t;

typedef struct {
    uint16_t peer; /* 1-based */
    lt_buf_t body;
} s_pending_t;

typedef struct s_store {
    lt_store_id_t id;
    uint16_t *peers; /* active peers but this node */
    size_t npeers;
    bool have_peers, listing;
    uint64_t peers_at, reconciled_at;
    s_pending_t *pending; /* pushes in (peer != 0) and out (0) awaiting the list */
    size_t npending, pending_bytes;
    struct s_store *next;
} s_store_t;

typedef struct {
    lt_hash_t hash;
    uint16_t origin; /* the peer it came from, 0: this node or unknown */
    bool used, pushed;
} s_seen_t;

typedef struct {
    lt_ctx_t *ctx;
    uint32_t queue_bytes;
    bool have_self;
    lt_pubkey_t self;
    uint64_t watch_corr, old_watch_corr;
    uint64_t reconciled_all_at;
    s_peer_t *peers;
    size_t npeers;
    s_store_t *stores;
    size_t nstores, pending_all;
    lt_calls_t calls; /* of s_call_t */
    s_seen_t *seen;
    lattice_gossip_GossipStatus st;
} s_actor_t;

/* ---- small helpers ---- */

static bool s_call(s_actor_t *a, const char *to, uint32_t type, const lt_buf_t *body,
                   const s_call_t *proto)
{
    lt_err_t rc = lt_calls_request(&a->calls, a->ctx, to, type, body ? body->data : NULL,
                                   body ? body->len : 0, proto);
    if (rc)
        lt_log_warn(a->ctx->log, S_TAG, "cannot send to %s: %s", to, lt_strerror(rc));
    return rc == LT_OK;
}

static s_peer_t *s_peer(s_actor_t *a, uint16_t idx)
{
    return idx && idx <= a->npeers ? &a->peers[idx - 1] : NULL;
}

/* The 1-based index of key in the peer table (added when new); 0 when the
 * table cannot grow. */
static uint16_t s_peer_idx(s_actor_t *a, const lt_pubkey_t *key)
{
    for (size_t i = 0; i < a->npeers; i++)
        if (lt_pubkey_cmp(&a->peers[i].key, key) == 0)
            return (uint16_t)(i + 1);
    if (a->npeers >= UINT16_MAX)
        return 0;
    s_peer_t *p = realloc(a->peers, (a->npeers + 1) * sizeof *p);
    if (!p)
        return 0;
    a->peers = p;
    p = &a->peers[a->npeers++];
    memset(p, 0, sizeof *p);
    p->key = *key;
    lt_hex(key->b, LT_KEY_LEN, p->hex);
    return (uint16_t)a->npeers;
}

static s_store_t *s_store(s_actor_t *a, const lt_store_id_t *id)
{
    for (s_store_t *s = a->stores; s; s = s->next)
        if (memcmp(s->id.b, id->b, LT_STORE_ID_LEN) == 0)
            return s;
    s_store_t *s = a->nstores < S_MAX_STORES ? calloc(1, sizeof *s) : NULL;
    if (!s)
        return NULL;
    s->id = *id;
    s->next = a->stores;
    a->stores = s;
    a->nstores++;
    return s;
}

static void s_unpend(s_actor_t *a, s_store_t *s)
{
    for (size_t i = 0; i < s->npending; i++)
        lt_buf_free(&s->pending[i].body);
    a->pending_all -= s->pending_bytes;
    s->npending = s->pending_bytes = 0;
}

/* Forgets a store this node does not hold (what waited for it goes). */
static void s_store_drop(s_actor_t *a, s_store_t *s)
{
    for (s_store_t **pp = &a->stores; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    }
    s_unpend(a, s);
    free(s->pending);
    free(s->peers);
    free(s);
    a->nstores--;
}

static bool s_has_peer(const s_store_t *s, uint16_t idx)
{
    for (size_t i = 0; i < s->npeers; i++)
        if (s->peers[i] == idx)
            return true;
    return false;
}

static void s_hash_of(const lt_view_t *v, lt_hash_t *h)
{
    if (v->len > LT_SIG_LEN)
        lt_intention_hash(v->p, v->len - LT_SIG_LEN, h);
    else
        memset(h, 0, sizeof *h);
}

static s_seen_t *s_seen_slot(s_actor_t *a, const lt_hash_t *h)
{
    uint32_t i = (uint32_t)h->b[0] | (uint32_t)h->b[1] << 8 | (uint32_t)h->b[2] << 16;
    return &a->seen[i % LT_GOSSIP_SEEN_SLOTS];
}

static s_seen_t *s_seen_find(s_actor_t *a, const lt_hash_t *h)
{
    s_seen_t *s = s_seen_slot(a, h);
    return s->used && lt_hash_cmp(&s->hash, h) == 0 ? s : NULL;
}

/* Records h as seen (from origin, when it is new); the slot. */
static s_seen_t *s_seen_add(s_actor_t *a, const lt_hash_t *h, uint16_t origin)
{
    s_seen_t *s = s_seen_find(a, h);
    if (s)
        return s;
    s = s_seen_slot(a, h);
    s->used = true;
    s->hash = *h;
    s->origin = origin;
    s->pushed = false;
    return s;
}

static void s_seen_forget(s_actor_t *a, const lt_hash_t *h)
{
    s_seen_t *s = s_seen_find(a, h);
    if (s)
        s->used = false;
}

static void s_store_ref_body(const lt_store_id_t *id, lt_buf_t *b)
{
    lattice_store_StoreRef m = lattice_store_StoreRef_init_zero;
    m.store.size = LT_STORE_ID_LEN;
    memcpy(m.store.bytes, id->b, LT_STORE_ID_LEN);
    if (lt_pb_encode_static(lattice_store_StoreRef_fields, &m, b) != LT_OK)
        lt_buf_reset(b);
}

/* Hands a store (s), or every store (NULL), to the sync service, at most
 * every S_RECONCILE_MS. */
static void s_reconcile(s_actor_t *a, s_store_t *s)
{
    uint64_t now = lt_ctx_now(a->ctx), *at = s ? &s->reconciled_at : &a->reconciled_all_at;
    if (*at && now - *at < S_RECONCILE_MS)
        return;
    *at = now;
    lattice_sync_SyncNow m = lattice_sync_SyncNow_init_zero;
    if (s) {
        m.store.size = LT_STORE_ID_LEN;
        memcpy(m.store.bytes, s->id.b, LT_STORE_ID_LEN);
    }
    lt_buf_t b = LT_BUF_INIT;
    s_call_t c = {.kind = C_SYNC};
    if (lt_pb_encode_static(lattice_sync_SyncNow_fields, &m, &b) == LT_OK &&
        s_call(a, "sync", lattice_sync_SyncMsgType_SYNC_NOW, &b, &c))
        a->st.reconciliations++;
    lt_buf_free(&b);
}

/* Asks the store for the store's peers, unless it is being asked. */
static void s_list_peers(s_actor_t *a, s_store_t *s)
{
    if (s->listing)
        return;
    lt_buf_t b = LT_BUF_INIT;
    s_store_ref_body(&s->id, &b);
    s_call_t c = {.kind = C_PEERS, .store = s->id};
    s->listing = b.len && s_call(a, "store", lattice_store_StoreMsgType_PEER_LIST, &b, &c);
    lt_buf_free(&b);
}

static void s_ask_self(s_actor_t *a)
{
    s_call_t c = {.kind = C_NODE_INFO};
    if (!a->have_self)
        (void)s_call(a, "store", lattice_store_StoreMsgType_NODE_INFO, NULL, &c);
}

/* ---- pushing ---- */

/* Sends one push to a peer, or queues it behind what waits already. */
static void s_send_push(s_actor_t *a, s_store_t *s, s_peer_t *p, lt_buf_t *body, size_t n)
{
    char to[LT_ADDR_MAX];
    snprintf(to, sizeof to, "gossip@%s", p->hex);
    lt_err_t rc = LT_EFULL;
    if (p->nqueue == 0)
        rc = lt_ctx_event(a->ctx, to, lattice_gossip_GossipMsgType_GOSSIP_PUSH, body->data,
                          body->len);
    if (rc == LT_OK) {
        a->st.pushes_sent++;
        a->st.intentions_sent += n;
        return;
    }
    if (rc != LT_EFULL)
        return; /* no link to it: reconciliation covers it when there is one */
    if (p->qbytes + body->len > a->queue_bytes) {
        for (size_t i = 0; i < p->nqueue; i++)
            lt_buf_free(&p->queue[i]);
        p->nqueue = p->qbytes = 0;
        a->st.overflows++;
        lt_log_info(a->ctx->log, S_TAG, "pushes to %.16s overflowed; reconciling instead", p->hex);
        s_reconcile(a, s);
        return;
    }
    if (p->nqueue == p->capqueue) {
        size_t cap = p->capqueue ? 2 * p->capqueue : 8;
        lt_buf_t *q = realloc(p->queue, cap * sizeof *q);
        if (!q)
            return;
        p->queue = q;
        p->capqueue = cap;
    }
    p->queue[p->nqueue++] = *body;
    p->qbytes += body->len;
    *body = (lt_buf_t)LT_BUF_INIT;
}

/* Sends what the peers' queues hold, oldest first, until the runtime
 * refuses again. */
static void s_drain(s_actor_t *a)
{
    for (size_t i = 0; i < a->npeers; i++) {
        s_peer_t *p = &a->peers[i];
        char to[LT_ADDR_MAX];
        snprintf(to, sizeof to, "gossip@%s", p->hex);
        size_t sent = 0;
        while (sent < p->nqueue) {
            lt_buf_t *b = &p->queue[sent];
            lt_err_t rc =
                lt_ctx_event(a->ctx, to, lattice_gossip_GossipMsgType_GOSSIP_PUSH, b->data, b->len);
            if (rc == LT_EFULL)
                break;
            if (rc == LT_OK)
                a->st.pushes_sent++;
            p->qbytes -= b->len;
            lt_buf_free(b);
            sent++;
        }
        if (sent == 0)
            continue;
        memmove(p->queue, p->queue + sent, (p->nqueue - sent) * sizeof *p->queue);
        p->nqueue -= sent;
    }
}

/* Newly witnessed intentions of store s: push them to every peer of the
 * store but the one each came from. */
static void s_fanout(s_actor_t *a, s_store_t *s, const lt_view_t *v, size_t n)
{
    lt_hash_t *h = malloc((n ? n : 1) * sizeof *h);
    uint16_t *origin = malloc((n ? n : 1) * sizeof *origin);
    bool *skip = calloc(n ? n : 1, sizeof *skip);
    if (!h || !origin || !skip)
        goto out;
    for (size_t i = 0; i < n; i++) {
        s_hash_of(&v[i], &h[i]);
        s_seen_t *seen = s_seen_add(a, &h[i], 0);
        skip[i] = seen->pushed;
        origin[i] = seen->origin;
        seen->pushed = true;
    }
    for (size_t k = 0; k < s->npeers; k++) {
        s_peer_t *p = s_peer(a, s->peers[k]);
        if (!p)
            continue;
        lattice_gossip_Push m = lattice_gossip_Push_init_zero;
        m.store.size = LT_STORE_ID_LEN;
        memcpy(m.store.bytes, s->id.b, LT_STORE_ID_LEN);
        lt_buf_t b = LT_BUF_INIT;
        size_t count = 0;
        lt_err_t rc = lt_pb_encode_static(lattice_gossip_Push_fields, &m, &b);
        for (size_t i = 0; rc == LT_OK && i < n; i++) {
            if (skip[i] || origin[i] == s->peers[k])
                continue;
            rc = lt_pb_append_bytes(&b, lattice_gossip_Push_intentions_tag, v[i].p, v[i].len);
            count++;
        }
        if (rc == LT_OK && count)
            s_send_push(a, s, p, &b, count);
        lt_buf_free(&b);
    }
out:
    free(h);
    free(origin);
    free(skip);
}

/* ---- receiving ---- */

static bool s_ignored(s_actor_t *a, s_peer_t *p)
{
    return p->ignored_until && lt_ctx_now(a->ctx) < p->ignored_until;
}

/* A push the store rejected: one more against its sender. */
static void s_invalid(s_actor_t *a, uint16_t idx, const char *why)
{
    s_peer_t *p = s_peer(a, idx);
    if (!p)
        return;
    a->st.invalid++;
    uint64_t now = lt_ctx_now(a->ctx);
    if (!p->invalid_since || now - p->invalid_since > S_INVALID_WINDOW_MS) {
        p->invalid_since = now;
        p->invalid = 0;
    }
    if (++p->invalid >= LT_GOSSIP_INVALID_LIMIT && !s_ignored(a, p)) {
        p->ignored_until = now + LT_GOSSIP_IGNORE_MS;
        lt_log_warn(a->ctx->log, S_TAG,
                    "ignoring pushes from %.16s for %u s: %u rejected in a minute (last: %s)",
                    p->hex, LT_GOSSIP_IGNORE_MS / 1000, p->invalid, why);
    }
}

static void s_ingest(s_actor_t *a, s_store_t *s, uint16_t from, const lt_view_t *v, size_t n,
                     bool reversed, s_call_kind_t kind, uint32_t round)
{
    lattice_store_IngestBatch ib = lattice_store_IngestBatch_init_zero;
    ib.store.size = LT_STORE_ID_LEN;
    memcpy(ib.store.bytes, s->id.b, LT_STORE_ID_LEN);
    lt_buf_t b = LT_BUF_INIT;
    lt_err_t rc = lt_pb_encode_static(lattice_store_IngestBatch_fields, &ib, &b);
    for (size_t i = 0; rc == LT_OK && i < n; i++) {
        const lt_view_t *x = &v[reversed ? n - 1 - i : i];
        rc = lt_pb_append_bytes(&b, lattice_store_IngestBatch_intentions_tag, x->p, x->len);
    }
    s_call_t c = {.kind = kind, .peer = from, .round = round, .store = s->id};
    if (kind == C_INGEST && (c.hashes = malloc(n * sizeof *c.hashes))) {
        for (size_t i = 0; i < n; i++)
            s_hash_of(&v[i], &c.hashes[i]);
        c.nhashes = n;
    }
    if (rc != LT_OK || !s_call(a, "store", lattice_store_StoreMsgType_INGEST_BATCH, &b, &c)) {
        for (size_t i = 0; i < c.nhashes; i++)
            s_seen_forget(a, &c.hashes[i]);
        free(c.hashes);
    }
    lt_buf_free(&b);
}

/* A push from peer `from` whose store's peers are known. */
static void s_take_push(s_actor_t *a, s_store_t *s, uint16_t from, const uint8_t *body, size_t len)
{
    s_peer_t *p = s_peer(a, from);
    if (!p || !s_has_peer(s, from) || s_ignored(a, p)) {
        a->st.refused++;
        return;
    }
    lt_pb_input_t in = lt_pb_input(body, len);
    lt_pb_views_t views = {.in = &in};
    lattice_gossip_Push m = lattice_gossip_Push_init_zero;
    lt_pb_bind_views(&m.intentions, &views);
    if (lt_pb_decode_static(lattice_gossip_Push_fields, &m, body, len) != LT_OK) {
        lt_pb_views_free(&views);
        s_invalid(a, from, "a push that does not decode");
        return;
    }
    a->st.pushes_received++;
    size_t kept = 0;
    for (size_t i = 0; i < views.n; i++) {
        lt_hash_t h;
        s_hash_of(&views.v[i], &h);
        if (s_seen_find(a, &h)) {
            a->st.duplicates++;
            continue;
        }
        s_seen_add(a, &h, from);
        views.v[kept++] = views.v[i];
    }
    if (kept)
        s_ingest(a, s, from, views.v, kept, false, C_INGEST, 0);
    lt_pb_views_free(&views);
}

/* Keeps a push in (from a peer) or out (peer 0) until the store's peers are
 * known; false past S_PENDING_BYTES or out of memory. */
static bool s_pend(s_actor_t *a, s_store_t *s, uint16_t peer, const uint8_t *body, size_t len)
{
    if (s->pending_bytes + len > S_PENDING_BYTES || a->pending_all + len > S_PENDING_ALL_BYTES)
        return false;
    s_pending_t *pd = realloc(s->pending, (s->npending + 1) * sizeof *pd);
    if (!pd)
        return false;
    s->pending = pd;
    pd = &s->pending[s->npending];
    pd->peer = peer;
    pd->body = (lt_buf_t)LT_BUF_INIT;
    if (lt_buf_append(&pd->body, body, len) != LT_OK)
        return false;
    s->npending++;
    s->pending_bytes += len;
    a->pending_all += len;
    return true;
}

static void s_push_in(s_actor_t *a, const lt_msg_t *msg)
{
    lt_pubkey_t key;
    if (!lt_addr_remote(msg->from, &key, NULL, 0)) {
        a->st.refused++;
        return;
    }
    uint16_t from = s_peer_idx(a, &key);
    s_peer_t *p = s_peer(a, from);
    if (!p || s_ignored(a, p)) {
        a->st.refused++;
        return;
    }
    /* The store id alone (the intentions, a callback left unbound, are
     * skipped): which store's peers decide. s_take_push reads the rest. */
    lattice_gossip_Push m = lattice_gossip_Push_init_zero;
    lt_err_t rc = lt_pb_decode_static(lattice_gossip_Push_fields, &m, msg->body, msg->len);
    if (rc != LT_OK || m.store.size != LT_STORE_ID_LEN) {
        s_invalid(a, from, "a push that does not decode");
        return;
    }
    lt_store_id_t id;
    memcpy(id.b, m.store.bytes, LT_STORE_ID_LEN);
    s_store_t *s = s_store(a, &id);
    if (!s)
        return;
    uint64_t now = lt_ctx_now(a->ctx);
    bool stale = !s->have_peers || (!s_has_peer(s, from) && now - s->peers_at > 1000);
    if (!stale) {
        s_take_push(a, s, from, msg->body, msg->len);
        return;
    }
    /* Hold it until the store says who its peers are. */
    if (!s_pend(a, s, from, msg->body, msg->len)) {
        a->st.refused++;
        s_reconcile(a, s);
        return;
    }
    s_list_peers(a, s);
}

/* Whether any of the intentions is a system op (it may change the store's
 * peers: their list is read again before pushing). */
static bool s_any_system(const lt_view_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        lt_intention_t in;
        lt_uop_t op;
        if (v[i].len > LT_SIG_LEN &&
            lt_intention_decode(v[i].p, v[i].len - LT_SIG_LEN, &in) == LT_OK &&
            lt_uop_decode(in.ops, in.ops_len, &op) == LT_OK && op.is_system)
            return true;
    }
    return false;
}

/* A WITNESSED event from the store. */
static void s_witnessed(s_actor_t *a, const lt_msg_t *msg)
{
    if (msg->corr != a->watch_corr && msg->corr != a->old_watch_corr)
        return;
    lt_pb_input_t in = lt_pb_input(msg->body, msg->len);
    lt_pb_views_t views = {.in = &in};
    lattice_store_Witnessed m = lattice_store_Witnessed_init_zero;
    lt_pb_bind_views(&m.intentions, &views);
    if (lt_pb_decode_static(lattice_store_Witnessed_fields, &m, msg->body, msg->len) != LT_OK ||
        m.store.size != LT_STORE_ID_LEN) {
        lt_pb_views_free(&views);
        lt_log_warn(a->ctx->log, S_TAG, "the store sent a malformed WITNESSED event");
        return;
    }
    lt_store_id_t id;
    memcpy(id.b, m.store.bytes, LT_STORE_ID_LEN);
    s_store_t *s = s_store(a, &id);
    uint64_t now = lt_ctx_now(a->ctx);
    bool relist = s && s->have_peers && s_any_system(views.v, views.n);
    if (s && s->have_peers && !relist && s->npending == 0) {
        if (now - s->peers_at > LT_GOSSIP_PEERS_TTL_MS)
            s_list_peers(a, s);
        s_fanout(a, s, views.v, views.n);
    } else if (s && s_pend(a, s, 0, msg->body, msg->len)) {
        s_list_peers(a, s);
    } else if (s) {
        s_reconcile(a, s);
    }
    lt_pb_views_free(&views);
}

/* What waited for the store's peers goes on, in arrival order. */
static void s_flush_pending(s_actor_t *a, s_store_t *s)
{
    for (size_t i = 0; i < s->npending; i++) {
        s_pending_t *pd = &s->pending[i];
        if (pd->peer) {
            s_take_push(a, s, pd->peer, pd->body.data, pd->body.len);
        } else {
            lt_pb_input_t in = lt_pb_input(pd->body.data, pd->body.len);
            lt_pb_views_t views = {.in = &in};
            lattice_store_Witnessed m = lattice_store_Witnessed_init_zero;
            lt_pb_bind_views(&m.intentions, &views);
            if (lt_pb_decode_static(lattice_store_Witnessed_fields, &m, pd->body.data,
                                    pd->body.len) == LT_OK)
                s_fanout(a, s, views.v, views.n);
            lt_pb_views_free(&views);
        }
        lt_buf_free(&pd->body);
    }
    a->pending_all -= s->pending_bytes;
    s->npending = s->pending_bytes = 0;
}

static void s_peers_reply(s_actor_t *a, const s_call_t *c, const lt_msg_t *m)
{
    s_store_t *s = s_store(a, &c->store);
    if (!s)
        return;
    s->listing = false;
    lt_pubkey_t *keys = NULL;
    size_t n = 0;
    if (m->status != LT_OK || lt_peerlist_active(m->body, m->len, &keys, &n) != LT_OK) {
        /* No such store here (removed, or never held: a peer may name any
         * id): forget it, and what waited for it. */
        s_store_drop(a, s);
        return;
    }
    uint16_t *idx = malloc((n ? n : 1) * sizeof *idx);
    size_t k = 0;
    for (size_t i = 0; idx && i < n; i++) {
        if (a->have_self && lt_pubkey_cmp(&keys[i], &a->self) == 0)
            continue;
        uint16_t x = s_peer_idx(a, &keys[i]);
        if (x)
            idx[k++] = x;
    }
    free(keys);
    if (!idx)
        return;
    free(s->peers);
    s->peers = idx;
    s->npeers = k;
    s->have_peers = true;
    s->peers_at = lt_ctx_now(a->ctx);
    s_flush_pending(a, s);
}

static void s_chain_read(s_actor_t *a, s_store_t *s, uint16_t from,
                         const lattice_store_IngestedBatch *r, uint32_t round)
{
    s_peer_t *p = s_peer(a, from);
    if (!p || round > LT_GOSSIP_CHAIN_ROUNDS) {
        s_reconcile(a, s);
        return;
    }
    lattice_store_ChainRead m = lattice_store_ChainRead_init_zero;
    m.store.size = LT_STORE_ID_LEN;
    memcpy(m.store.bytes, s->id.b, LT_STORE_ID_LEN);
    m.max = LT_GOSSIP_CHAIN_MAX;
    lt_buf_t b = LT_BUF_INIT;
    lt_err_t rc = lt_pb_encode_static(lattice_store_ChainRead_fields, &m, &b);
    for (size_t i = 0; rc == LT_OK && i < r->missing_count; i++)
        rc = lt_pb_append_bytes(&b, lattice_store_ChainRead_hashes_tag, r->missing[i].bytes,
                                r->missing[i].size);
    char to[LT_ADDR_MAX];
    snprintf(to, sizeof to, "store@%s", p->hex);
    s_call_t c = {.kind = C_CHAIN, .peer = from, .round = round, .store = s->id};
    if (rc == LT_OK && s_call(a, to, lattice_store_StoreMsgType_CHAIN_READ, &b, &c))
        a->st.chain_reads++;
    else
        s_reconcile(a, s);
    lt_buf_free(&b);
}

/* An INGEST_BATCH answered: a push, or a chain read. */
static void s_ingested(s_actor_t *a, const s_call_t *c, const lt_msg_t *m)
{
    s_store_t *s = s_store(a, &c->store);
    if (!s)
        return;
    if (m->status != LT_OK) {
        char why[LT_ERROR_MSG_MAX + 1] = "";
        lattice_store_Error e = lattice_store_Error_init_zero;
        if (lt_pb_decode_static(lattice_store_Error_fields, &e, m->body, m->len) == LT_OK)
            snprintf(why, sizeof why, "%s", e.message);
        for (size_t i = 0; i < c->nhashes; i++)
            s_seen_forget(a, &c->hashes[i]);
        switch (m->status) {
        case LT_EUNAVAILABLE:
        case LT_ETIMEDOUT:
        case LT_EFAILED:
        case LT_EIO:
        case LT_ENOMEM:
        case LT_EFULL:
            s_reconcile(a, s); /* the store's trouble, not the sender's */
            break;
        case LT_ENOTFOUND:
            /* This node no longer holds the store (a child store closed
             * here while the peer still wrote in it): not the sender's
             * fault. Its peers are asked again should it come back. */
            s->have_peers = false;
            break;
        default:
            s_invalid(a, c->peer, why[0] ? why : lt_strerror(m->status));
            break;
        }
        return;
    }
    lattice_store_IngestedBatch r = lattice_store_IngestedBatch_init_zero;
    if (lt_pb_decode_static(lattice_store_IngestedBatch_fields, &r, m->body, m->len) == LT_OK) {
        if (c->kind == C_INGEST)
            a->st.intentions_received += (uint64_t)r.witnessed + r.floating;
        if (r.missing_count)
            s_chain_read(a, s, c->peer, &r, c->round + 1);
    }
}

static void s_chain_reply(s_actor_t *a, const s_call_t *c, const lt_msg_t *m)
{
    s_store_t *s = s_store(a, &c->store);
    if (!s)
        return;
    lt_pb_input_t in = lt_pb_input(m->body, m->len);
    lt_pb_views_t views = {.in = &in};
    lattice_store_CloneChunk r = lattice_store_CloneChunk_init_zero;
    lt_pb_bind_views(&r.intentions, &views);
    if (m->status != LT_OK ||
        lt_pb_decode_static(lattice_store_CloneChunk_fields, &r, m->body, m->len) != LT_OK ||
        views.n == 0)
        s_reconcile(a, s);
    else /* nearest first: ancestors go in first */
        s_ingest(a, s, c->peer, views.v, views.n, true, C_CHAIN_INGEST, c->round);
    lt_pb_views_free(&views);
}

/* ---- watching ---- */

static void s_watch(s_actor_t *a)
{
    s_call_t c = {.kind = C_WATCH};
    (void)s_call(a, "store", lattice_store_StoreMsgType_WITNESS_WATCH, NULL, &c);
}

static void s_watch_reply(s_actor_t *a, const lt_msg_t *m)
{
    if (m->status != LT_OK) {
        lt_log_warn(a->ctx->log, S_TAG, "the store refused the watch: %s", lt_strerror(m->status));
        return;
    }
    /* The new watch is on: the one before it goes (both deliver meanwhile,
     * and the seen cache drops the overlap). The first one: what was
     * witnessed before it (while this actor was down) reaches the peers by
     * reconciliation. */
    uint64_t old = a->watch_corr;
    a->old_watch_corr = old;
    a->watch_corr = m->corr;
    if (!old) {
        s_reconcile(a, NULL);
        return;
    }
    lattice_store_Unwatch u = lattice_store_Unwatch_init_zero;
    u.corr = old;
    lt_buf_t b = LT_BUF_INIT;
    s_call_t uc = {.kind = C_UNWATCH};
    if (lt_pb_encode_static(lattice_store_Unwatch_fields, &u, &b) == LT_OK)
        (void)s_call(a, "store", lattice_store_StoreMsgType_WITNESS_UNWATCH, &b, &uc);
    lt_buf_free(&b);
}

/* ---- the actor ---- */

static void s_reply_in(s_actor_t *a, const lt_msg_t *m)
{
    s_call_t c;
    if (!lt_calls_take(&a->calls, m->corr, &c))
        return;
    switch (c.kind) {
    case C_NODE_INFO: {
        lattice_store_NodeInfo ni = lattice_store_NodeInfo_init_zero;
        if (m->status == LT_OK &&
            lt_pb_decode_static(lattice_store_NodeInfo_fields, &ni, m->body, m->len) == LT_OK &&
            ni.node_key.size == LT_KEY_LEN) {
            memcpy(a->self.b, ni.node_key.bytes, LT_KEY_LEN);
            a->have_self = true;
        }
        break;
    }
    case C_WATCH:
        s_watch_reply(a, m);
        break;
    case C_PEERS:
        s_peers_reply(a, &c, m);
        break;
    case C_INGEST:
    case C_CHAIN_INGEST:
        s_ingested(a, &c, m);
        break;
    case C_CHAIN:
        s_chain_reply(a, &c, m);
        break;
    case C_UNWATCH:
        /* The store had dropped that watch (it restarted, or could not
         * deliver): what it witnessed meanwhile was never pushed. */
        if (m->status == LT_ENOTFOUND)
            s_reconcile(a, NULL);
        break;
    case C_SYNC:
        break;
    }
    free(c.hashes);
}

static void s_status(s_actor_t *a, const lt_msg_t *msg)
{
    a->st.stores = (uint32_t)a->nstores;
    a->st.ignored_peers = 0;
    for (size_t i = 0; i < a->npeers; i++)
        a->st.ignored_peers += s_ignored(a, &a->peers[i]);
    lt_buf_t b = LT_BUF_INIT;
    lt_err_t rc = lt_pb_encode_static(lattice_gossip_GossipStatus_fields, &a->st, &b);
    if (rc == LT_OK)
        rc = lt_ctx_reply(a->ctx, msg, LT_OK, lattice_gossip_GossipMsgType_GOSSIP_STATUS, b.data,
                          b.len);
    else
        rc = lt_ctx_reply_error(a->ctx, msg->from, msg->corr, LT_ENOMEM, "out of memory");
    if (rc)
        lt_log_warn(a->ctx->log, S_TAG, "cannot answer %s", msg->from);
    lt_buf_free(&b);
}

static lt_err_t s_start(lt_ctx_t *ctx, const void *cfg, void **self)
{
    s_actor_t *a = calloc(1, sizeof *a);
    if (!a)
        return LT_ENOMEM;
    const lt_gossip_actor_config_t *c = cfg;
    a->queue_bytes = c && c->queue_bytes ? c->queue_bytes : LT_GOSSIP_QUEUE_BYTES;
    a->seen = calloc(LT_GOSSIP_SEEN_SLOTS, sizeof *a->seen);
    if (!a->seen) {
        free(a);
        return LT_ENOMEM;
    }
    a->ctx = ctx;
    lt_calls_init(&a->calls, sizeof(s_call_t));
    lt_err_t rc = lt_ctx_timer(ctx, LT_GOSSIP_REWATCH_MS, S_TIMER_REWATCH);
    if (rc) {
        free(a->seen);
        free(a);
        return rc;
    }
    s_ask_self(a);
    s_watch(a);
    *self = a;
    return LT_OK;
}

static void s_receive(void *self, lt_ctx_t *ctx, const lt_msg_t *msg)
{
    s_actor_t *a = self;
    a->ctx = ctx;
    if (msg->kind == LT_MSG_REPLY) {
        s_reply_in(a, msg);
        return;
    }
    if (msg->kind == LT_MSG_EVENT) {
        if (msg->type == lattice_store_StoreMsgType_WITNESSED && !strchr(msg->from, '@'))
            s_witnessed(a, msg);
        else if (msg->type == lattice_gossip_GossipMsgType_GOSSIP_PUSH)
            s_push_in(a, msg);
        return;
    }
    lt_pubkey_t k;
    if (msg->type == lattice_gossip_GossipMsgType_GOSSIP_STATUS &&
        !lt_addr_remote(msg->from, &k, NULL, 0))
        s_status(a, msg);
    else if (lt_ctx_reply_error(ctx, msg->from, msg->corr, LT_EINVAL,
                                "unknown gossip request type") != LT_OK)
        lt_log_warn(ctx->log, S_TAG, "cannot answer %s", msg->from);
}

static void s_idle(void *self, lt_ctx_t *ctx)
{
    s_actor_t *a = self;
    a->ctx = ctx;
    s_drain(a);
}

static void s_timer(void *self, lt_ctx_t *ctx, uint64_t token)
{
    s_actor_t *a = self;
    a->ctx = ctx;
    if (token != S_TIMER_REWATCH)
        return;
    s_ask_self(a);
    s_watch(a);
    s_drain(a);
    (void)lt_ctx_timer(ctx, LT_GOSSIP_REWATCH_MS, S_TIMER_REWATCH);
}

static void s_stop(void *self)
{
    s_actor_t *a = self;
    for (size_t i = 0; i < a->npeers; i++) {
        for (size_t k = 0; k < a->peers[i].nqueue; k++)
            lt_buf_free(&a->peers[i].queue[k]);
        free(a->peers[i].queue);
    }
    while (a->stores) {
        s_store_t *s = a->stores;
        a->stores = s->next;
        for (size_t i = 0; i < s->npending; i++)
            lt_buf_free(&s->pending[i].body);
        free(s->pending);
        free(s->peers);
        free(s);
    }
    for (size_t i = 0; i < lt_calls_count(&a->calls); i++)
        free(((s_call_t *)lt_calls_at(&a->calls, i, NULL))->hashes);
    lt_calls_free(&a->calls);
    free(a->peers);
    free(a->seen);
    free(a);
}

const lt_actor_ops_t lt_gossip_actor = {
    .abi = LT_ACTOR_ABI,
    .name = "gossip",
    .start = s_start,
    .receive = s_receive,
    .idle = s_idle,
    .timer = s_timer,
    .stop = s_stop,
};
