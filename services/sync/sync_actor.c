/* The sync actor: see sync_actor.h. Everything it does is a chain of
 * requests (to the local store, to a peer's sync actor, to a peer's store);
 * each outstanding one is a call that names the job or session it serves,
 * and a reply for a call no longer wanted is dropped. */
#include "sync/sync_actor.h"

#include "ipc/calls.h"
#include "ipc/frame.h"
#include "store/ops_codec.h"
#include "store/store_proto.h"
#include "weaver/intention.h"
#include "sync/fpindex.h"
#include "sync/item.h"
#include "sync/peerlist.h"
#include "weaver/buf.h"

#include "kernel.pb.h"
#include "store.pb.h"
#include "sync.pb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_TAG "sync"
/* The most bytes of a session message: a frame body less room for Recon's
 * other fields. */
#define S_RECON_FRAME (LT_FRAME_MAX_BODY - 1024)
/* Hashes per FETCH request (the store takes up to LT_STORE_FETCH_MAX). */
#define S_FETCH_HASHES 1024
/* Concurrent jobs (SYNC_NOW requests and periodic rounds). */
#define S_MAX_JOBS 16
/* A SYNC_ITEMS record: wall_ms u64 LE, counter u32 LE, hash. */
#define S_ITEM_RECORD LT_STORE_SYNC_ITEM_LEN

enum { S_TIMER_SWEEP = 1, S_TIMER_PERIOD = 2, S_TIMER_CHECK = 3 };
#define S_SWEEP_MS 1000u
/* A reconciling session holds its store's index (s_idx_t), and sessions
 * that need the index updated wait for it. One whose peer has said nothing
 * for this long while others wait is ended then, not at the call timeout
 * (30 s): a silent peer must not hold up sessions with the others. Its
 * store is reconciled again at the next round. */
#define S_RECON_PATIENCE_MS 5000u
/* Clones running (or kept over, for their last answer) at once. */
#define S_MAX_CLONES 4
/* Requests waiting on one clone's progress. */
#define S_CLONE_WAITERS 4
/* A waiting request is answered after this long, progress or not. */
#define S_CLONE_POLL_MS 2000u
/* An ended clone's outcome is kept this long for the next request. */
#define S_CLONE_KEEP_MS 60000u
/* Signatures checked per turn while the store ingests (each ~50 us). */
#define S_CHECK_SLICE 8
/* Chunks in a row that bring nothing new before a clone gives up (a peer
 * that claims a log without end). */
#define S_CLONE_IDLE_CHUNKS 64
/* A read the peer's side refused for now (no link yet, a full link) is
 * tried again after this, doubling, for at most the call timeout. */
#define S_CLONE_RETRY_MS 250u

typedef enum {
    C_NODE_INFO,    /* store: which node this is */
    C_STORES,       /* store: STORE_LIST, for a periodic round (job) */
    C_PEERS,        /* store: PEER_LIST, the peers a job syncs with (job) */
    C_AUTH,         /* store: PEER_LIST, whether a responder's peer is active (session) */
    C_ITEMS,        /* store: SYNC_ITEMS, an index update (store index) */
    C_RECON,        /* peer's sync: SYNC_RECON (session) */
    C_FETCH,        /* peer's store: FETCH (session) */
    C_INGEST,       /* store: INGEST_BATCH (session) */
    C_CLONE_READ,   /* peer's store: CLONE_READ (clone) */
    C_CLONE_INGEST, /* store: INGEST_BATCH (clone) */
} s_call_kind_t;

typedef struct {
    s_call_kind_t kind;
    uint32_t ref; /* job or session id; 0 for the node info and index calls */
    lt_store_id_t store;
} s_call_t;

/* A store's index. Sessions reconciling borrow it and it must not change
 * under them: what an update reads meanwhile is held (stash) and put in
 * when the last of them is done, and sessions starting meanwhile wait for
 * it (so that a stream of overlapping sessions cannot keep the index old). */
typedef struct s_idx {
    lt_store_id_t id;
    lt_fpindex_t *x;
    uint64_t next_seq; /* the next witness seq to read */
    bool refreshing;
    unsigned in_recon; /* sessions borrowing the index */
    lt_sync_item_t *stash;
    size_t nstash;
    uint64_t stash_next_seq;
    bool stash_more; /* the store has more after the stash */
    struct s_idx *next;
} s_idx_t;

typedef enum {
    P_AUTH,   /* responder: asking the store whether the peer is active */
    P_INDEX,  /* waiting for the index update */
    P_RECON,  /* reconciling */
    P_FETCH,  /* fetching what this node lacks */
    P_INGEST, /* ingesting a fetched chunk */
} s_phase_t;

typedef struct {
    uint32_t id; /* 0: a free slot */
    bool initiator;
    uint64_t sid; /* the session id on the wire */
    lt_pubkey_t peer;
    char peer_hex[2 * LT_KEY_LEN + 1];
    lt_store_id_t store;
    s_idx_t *idx; /* from P_INDEX on */
    lt_recon_t *recon;
    s_phase_t phase;
    /* responder: the request to answer once the session can */
    bool pending;
    char pending_from[LT_ADDR_MAX];
    uint64_t pending_corr;
    lt_buf_t pending_msg;
    /* fetch */
    lt_hash_t *need;
    size_t nneed, pos;
    uint32_t job; /* initiator: the job to report to */
    uint64_t received, peer_lacks, bytes;
    uint32_t rounds;
    uint64_t last_ms;
} s_sess_t;

typedef struct {
    uint32_t id; /* 0: a free slot */
    bool has_origin;
    char from[LT_ADDR_MAX];
    uint64_t corr;
    unsigned waiting; /* calls and sessions still to end */
    bool only_one;    /* sync with `only` alone (a link came up) */
    lt_pubkey_t only;
    lattice_sync_PeerReport *reports;
    size_t nreports;
} s_job_t;

typedef struct {
    bool used;
    char from[LT_ADDR_MAX];
    uint64_t corr, seen, since;
} s_waiter_t;

/* A clone (sync.proto, Clone): one chunk ingesting, the next one held (its
 * signatures checked a slice at a time until the store is free), the one
 * after it being read. */
typedef struct {
    uint32_t id; /* 0: a free slot */
    lt_store_id_t store;
    lt_pubkey_t peer;
    char peer_hex[2 * LT_KEY_LEN + 1];
    uint64_t from;  /* the next witness seq to read */
    uint64_t total; /* the peer's witnessed count when the clone began */
    bool known;     /* total is known (a first chunk came) */
    uint64_t cloned, checked_here;
    unsigned idle_chunks; /* chunks in a row that brought nothing new */
    bool reading, ingesting, eof;
    uint64_t retry_at, failing_since, backoff; /* a read refused for now */
    /* the chunk held: a copy of the CloneChunk and views into it */
    bool held;
    lt_buf_t chunk;
    lt_view_t *views;
    size_t nviews, checked;
    size_t ningest; /* in the batch being ingested */
    bool over;      /* done, or failed (status, error) */
    lt_err_t status;
    char error[200];
    uint64_t over_ms;
    s_waiter_t waiters[S_CLONE_WAITERS];
} s_clone_t;

typedef struct {
    lt_ctx_t *ctx;
    lt_sync_actor_config_t cfg;
    lt_recon_config_t recon;
    bool have_self, asking_self;
    lt_pubkey_t self;
    s_idx_t *idx;
    lt_calls_t calls; /* of s_call_t */
    s_sess_t sess[LT_SYNC_MAX_SESSIONS];
    s_job_t jobs[S_MAX_JOBS];
    s_clone_t clones[S_MAX_CLONES];
    bool checking; /* the S_TIMER_CHECK timer is set */
    uint32_t next_id;
} s_actor_t;

/* ---- small helpers ---- */

static uint32_t s_new_id(s_actor_t *a)
{
    if (++a->next_id == 0)
        a->next_id = 1;
    return a->next_id;
}

static void s_reply_error(s_actor_t *a, const char *to, uint64_t corr, lt_err_t status,
                          const char *why)
{
    if (lt_ctx_reply_error(a->ctx, to, corr, status, why) != LT_OK)
        lt_log_warn(a->ctx->log, S_TAG, "cannot answer %s", to);
}

static void s_reply(s_actor_t *a, const char *to, uint64_t corr, uint32_t type, const lt_buf_t *b)
{
    if (lt_ctx_reply_to(a->ctx, to, corr, LT_OK, type, b->data, b->len) != LT_OK)
        lt_log_warn(a->ctx->log, S_TAG, "cannot answer %s", to);
}

/* Sends a request and records the call; false (logged) when it cannot be
 * sent. */
static bool s_call(s_actor_t *a, const char *to, uint32_t type, const lt_buf_t *body,
                   s_call_kind_t kind, uint32_t ref, const lt_store_id_t *store)
{
    s_call_t c = {.kind = kind, .ref = ref};
    if (store)
        c.store = *store;
    lt_err_t rc = lt_calls_request(&a->calls, a->ctx, to, type, body ? body->data : NULL,
                                   body ? body->len : 0, &c);
    if (rc)
        lt_log_warn(a->ctx->log, S_TAG, "cannot send to %s: %s", to, lt_strerror(rc));
    return rc == LT_OK;
}

/* The one-line reason of a failed reply (an Error body), or its status. */
static void s_reason(const lt_msg_t *m, char *out, size_t cap)
{
    lattice_sync_Error e = lattice_sync_Error_init_zero;
    if (m->len && lt_pb_decode_static(lattice_sync_Error_fields, &e, m->body, m->len) == LT_OK &&
        e.message[0])
        snprintf(out, cap, "%s", e.message);
    else
        snprintf(out, cap, "%s", lt_strerror(m->status));
}

static lt_err_t s_store_ref(const lt_store_id_t *id, lt_buf_t *out)
{
    lattice_store_StoreRef m = lattice_store_StoreRef_init_zero;
    m.store.size = LT_STORE_ID_LEN;
    memcpy(m.store.bytes, id->b, LT_STORE_ID_LEN);
    return lt_pb_encode_static(lattice_store_StoreRef_fields, &m, out);
}

/* ---- indexes ---- */

static s_idx_t *s_idx_get(s_actor_t *a, const lt_store_id_t *id, bool create)
{
    for (s_idx_t *x = a->idx; x; x = x->next)
        if (memcmp(x->id.b, id->b, LT_STORE_ID_LEN) == 0)
            return x;
    if (!create)
        return NULL;
    s_idx_t *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->x = lt_fpindex_new();
    if (!x->x) {
        free(x);
        return NULL;
    }
    x->id = *id;
    x->next_seq = 1;
    x->next = a->idx;
    a->idx = x;
    return x;
}

static bool s_idx_read(s_actor_t *a, s_idx_t *x)
{
    lattice_store_CloneRead m = lattice_store_CloneRead_init_zero;
    m.store.size = LT_STORE_ID_LEN;
    memcpy(m.store.bytes, x->id.b, LT_STORE_ID_LEN);
    m.from_seq = x->next_seq;
    lt_buf_t b = LT_BUF_INIT;
    bool ok = lt_pb_encode_static(lattice_store_CloneRead_fields, &m, &b) == LT_OK &&
              s_call(a, "store", lattice_store_StoreMsgType_SYNC_ITEMS, &b, C_ITEMS, 0, &x->id);
    lt_buf_free(&b);
    return ok;
}

/* ---- sessions ---- */

static s_sess_t *s_sess_find(s_actor_t *a, uint32_t id)
{
    for (size_t i = 0; id && i < LT_SYNC_MAX_SESSIONS; i++)
        if (a->sess[i].id == id)
            return &a->sess[i];
    return NULL;
}

static s_sess_t *s_sess_wire(s_actor_t *a, const lt_pubkey_t *peer, uint64_t sid)
{
    for (size_t i = 0; i < LT_SYNC_MAX_SESSIONS; i++) {
        s_sess_t *s = &a->sess[i];
        if (s->id && !s->initiator && s->sid == sid && lt_pubkey_cmp(&s->peer, peer) == 0)
            return s;
    }
    return NULL;
}

static s_sess_t *s_sess_new(s_actor_t *a, bool initiator, const lt_pubkey_t *peer,
                            const lt_store_id_t *store)
{
    for (size_t i = 0; i < LT_SYNC_MAX_SESSIONS; i++) {
        s_sess_t *s = &a->sess[i];
        if (s->id)
            continue;
        memset(s, 0, sizeof *s);
        s->id = s_new_id(a);
        s->initiator = initiator;
        s->peer = *peer;
        lt_hex(peer->b, LT_KEY_LEN, s->peer_hex);
        s->store = *store;
        s->last_ms = lt_ctx_now(a->ctx);
        s->pending_msg = (lt_buf_t)LT_BUF_INIT;
        return s;
    }
    return NULL;
}

static void s_job_done(s_actor_t *a, s_job_t *j);
static void s_idx_release(s_actor_t *a, s_idx_t *x);

static s_job_t *s_job_find(s_actor_t *a, uint32_t id)
{
    for (size_t i = 0; id && i < S_MAX_JOBS; i++)
        if (a->jobs[i].id == id)
            return &a->jobs[i];
    return NULL;
}

/* One fewer thing the job waits for; it answers when nothing is left. */
static void s_job_release(s_actor_t *a, uint32_t id)
{
    s_job_t *j = s_job_find(a, id);
    if (j && --j->waiting == 0)
        s_job_done(a, j);
}

/* A new report of job j about peer (NULL when out of memory). */
static lattice_sync_PeerReport *s_job_note(s_job_t *j, const lt_pubkey_t *peer, const char *error)
{
    lattice_sync_PeerReport *r = realloc(j->reports, (j->nreports + 1) * sizeof *j->reports);
    if (!r)
        return NULL;
    j->reports = r;
    lattice_sync_PeerReport *p = &r[j->nreports++];
    *p = (lattice_sync_PeerReport)lattice_sync_PeerReport_init_zero;
    p->peer.size = LT_KEY_LEN;
    memcpy(p->peer.bytes, peer->b, LT_KEY_LEN);
    snprintf(p->error, sizeof p->error, "%s", error ? error : "");
    return p;
}

static void s_job_report(s_actor_t *a, const s_sess_t *s, const char *error)
{
    s_job_t *j = s_job_find(a, s->job);
    if (!j)
        return;
    lattice_sync_PeerReport *p = s_job_note(j, &s->peer, error);
    if (!p)
        return;
    p->reached = s->phase >= P_FETCH;
    p->received = s->received;
    p->peer_lacks = s->peer_lacks;
    p->rounds = s->rounds;
    p->bytes = s->bytes;
}

/* Ends a session: reports it to its job, answers a waiting peer with the
 * error, and frees it. */
static void s_sess_end(s_actor_t *a, s_sess_t *s, lt_err_t status, const char *error)
{
    if (error)
        lt_log_info(a->ctx->log, S_TAG, "session with %.16s: %s", s->peer_hex, error);
    if (s->pending)
        s_reply_error(a, s->pending_from, s->pending_corr, status ? status : LT_EFAILED,
                      error ? error : "the session ended");
    s_idx_t *release = s->phase == P_RECON ? s->idx : NULL;
    uint32_t job = s->initiator ? s->job : 0;
    if (job)
        s_job_report(a, s, error);
    lt_recon_destroy(&s->recon);
    lt_buf_free(&s->pending_msg);
    free(s->need);
    memset(s, 0, sizeof *s);
    if (release)
        s_idx_release(a, release);
    if (job)
        s_job_release(a, job);
}

static void s_fetch_next(s_actor_t *a, s_sess_t *s);

/* The reconciliation is over: fetch what this node lacks. */
static void s_recon_done(s_actor_t *a, s_sess_t *s)
{
    s->phase = P_FETCH;
    size_t nhave = 0, nneed = 0;
    (void)lt_recon_have(s->recon, &nhave);
    const lt_hash_t *need = lt_recon_need(s->recon, &nneed);
    lt_recon_stats_t st;
    lt_recon_stats(s->recon, &st);
    s->peer_lacks = nhave;
    s->rounds = st.messages_sent;
    s->bytes = st.bytes_sent + st.bytes_received;
    lt_err_t rc = LT_OK;
    if (nneed) {
        s->need = malloc(nneed * sizeof *s->need);
        if (s->need) {
            memcpy(s->need, need, nneed * sizeof *need);
            s->nneed = nneed;
        } else {
            rc = LT_ENOMEM;
        }
    }
    lt_recon_destroy(&s->recon);
    /* Done with the index on every path (an update may wait for it). */
    uint32_t id = s->id;
    s_idx_release(a, s->idx);
    s = s_sess_find(a, id); /* only sessions waiting for the index can end in there */
    if (s && rc)
        s_sess_end(a, s, rc, "out of memory");
    else if (s)
        s_fetch_next(a, s);
}

/* After a session message was received and answered: go on. */
static void s_recon_after(s_actor_t *a, s_sess_t *s)
{
    if (lt_recon_state(s->recon) == LT_RECON_DONE)
        s_recon_done(a, s);
}

/* The Recon body of session s carrying msg (maybe empty). */
static lt_err_t s_recon_body(const s_sess_t *s, const lt_buf_t *msg, lt_buf_t *out)
{
    lattice_sync_Recon m = lattice_sync_Recon_init_zero;
    m.store.size = LT_STORE_ID_LEN;
    memcpy(m.store.bytes, s->store.b, LT_STORE_ID_LEN);
    m.session = s->sid;
    lt_view_t v = {msg->data, msg->len};
    lt_pb_bind_write(&m.msg, &v);
    return lt_pb_encode_static(lattice_sync_Recon_fields, &m, out);
}

static bool s_send_recon(s_actor_t *a, s_sess_t *s, const lt_buf_t *msg)
{
    lt_buf_t b = LT_BUF_INIT;
    char to[LT_ADDR_MAX];
    snprintf(to, sizeof to, "sync@%s", s->peer_hex);
    bool ok = s_recon_body(s, msg, &b) == LT_OK &&
              s_call(a, to, lattice_sync_SyncMsgType_SYNC_RECON, &b, C_RECON, s->id, NULL);
    lt_buf_free(&b);
    return ok;
}

/* Answers the responder's pending request with msg (maybe empty). */
static void s_answer(s_actor_t *a, s_sess_t *s, const lt_buf_t *msg)
{
    lt_buf_t b = LT_BUF_INIT;
    if (s_recon_body(s, msg, &b) == LT_OK)
        s_reply(a, s->pending_from, s->pending_corr, lattice_sync_SyncMsgType_SYNC_RECON, &b);
    s->pending = false;
    lt_buf_free(&b);
}

/* The responder's turn: the peer's message in pending_msg. */
static void s_respond(s_actor_t *a, s_sess_t *s)
{
    lt_buf_t out = LT_BUF_INIT;
    lt_err_t rc = lt_recon_receive(s->recon, s->pending_msg.data, s->pending_msg.len, &out);
    if (rc) {
        char why[200];
        snprintf(why, sizeof why, "a malformed session message: %s", lt_recon_errmsg(s->recon));
        lt_buf_free(&out);
        s_sess_end(a, s, LT_EINVAL, why);
        return;
    }
    s_answer(a, s, &out);
    lt_buf_free(&out);
    s_recon_after(a, s);
}

/* The index is up to date (or borrowed as it is): start reconciling. */
static void s_sess_ready(s_actor_t *a, s_sess_t *s)
{
    lt_err_t rc = lt_recon_new(s->idx->x, &a->recon, &s->recon);
    if (rc) {
        s_sess_end(a, s, rc, "cannot start a session");
        return;
    }
    s->phase = P_RECON;
    s->idx->in_recon++;
    s->last_ms = lt_ctx_now(a->ctx); /* its waiting for the index is over */
    if (!s->initiator) {
        s_respond(a, s);
        return;
    }
    lt_buf_t out = LT_BUF_INIT;
    rc = lt_recon_initiate(s->recon, &out);
    if (rc || !s_send_recon(a, s, &out))
        s_sess_end(a, s, rc ? rc : LT_EUNAVAILABLE, "cannot reach the peer's sync service");
    lt_buf_free(&out);
}

/* Brings the session's index up to date, or borrows it as it is when other
 * sessions are using it. */
static void s_sess_index(s_actor_t *a, s_sess_t *s)
{
    s_idx_t *x = s->idx = s_idx_get(a, &s->store, true);
    s->phase = P_INDEX;
    if (!x) {
        s_sess_end(a, s, LT_ENOMEM, "out of memory");
        return;
    }
    if (x->refreshing)
        return;
    x->refreshing = true;
    if (!s_idx_read(a, x)) {
        x->refreshing = false;
        s_sess_end(a, s, LT_EUNAVAILABLE, "cannot reach the store service");
    }
}

/* The index update ended (error: why it failed, or NULL): every session
 * waiting for it goes on. */
static void s_idx_updated(s_actor_t *a, s_idx_t *x, const char *error)
{
    x->refreshing = false;
    for (size_t i = 0; i < LT_SYNC_MAX_SESSIONS; i++) {
        s_sess_t *s = &a->sess[i];
        if (!s->id || s->idx != x || s->phase != P_INDEX)
            continue;
        if (error)
            s_sess_end(a, s, LT_EFAILED, error);
        else
            s_sess_ready(a, s);
    }
}

/* The update read a chunk: read on, or let the waiting sessions start. */
static void s_idx_go_on(s_actor_t *a, s_idx_t *x, bool more)
{
    if (more && !s_idx_read(a, x))
        s_idx_updated(a, x, "cannot reach the store service");
    else if (!more)
        s_idx_updated(a, x, NULL);
}

static void s_item_of(const uint8_t *p, lt_sync_item_t *it)
{
    it->ts = lt_sync_ts_of_hlc(lt_get_u64le(p), lt_get_u32le(p + 8));
    memcpy(it->hash.b, p + 12, LT_HASH_LEN);
}

/* A session is done with the index; the last one puts the stash in. */
static void s_idx_release(s_actor_t *a, s_idx_t *x)
{
    if (x->in_recon)
        x->in_recon--;
    if (x->in_recon || !x->stash)
        return;
    lt_err_t rc = LT_OK;
    for (size_t i = 0; i < x->nstash && (rc == LT_OK || rc == LT_EEXIST); i++)
        rc = lt_fpindex_insert(x->x, &x->stash[i]);
    free(x->stash);
    x->stash = NULL;
    x->nstash = 0;
    if (rc != LT_OK && rc != LT_EEXIST) {
        char why[120];
        snprintf(why, sizeof why, "cannot index the store: %s", lt_strerror(rc));
        s_idx_updated(a, x, why);
        return;
    }
    x->next_seq = x->stash_next_seq;
    s_idx_go_on(a, x, x->stash_more);
}

/* ---- fetching and ingesting ---- */

static void s_fetch_next(s_actor_t *a, s_sess_t *s)
{
    if (s->pos >= s->nneed) {
        s_sess_end(a, s, LT_OK, NULL);
        return;
    }
    size_t n = s->nneed - s->pos;
    if (n > S_FETCH_HASHES)
        n = S_FETCH_HASHES;
    lattice_store_Fetch m = lattice_store_Fetch_init_zero;
    m.store.size = LT_STORE_ID_LEN;
    memcpy(m.store.bytes, s->store.b, LT_STORE_ID_LEN);
    lt_buf_t b = LT_BUF_INIT;
    lt_err_t rc = lt_pb_encode_static(lattice_store_Fetch_fields, &m, &b);
    for (size_t i = 0; rc == LT_OK && i < n; i++)
        rc = lt_pb_append_bytes(&b, lattice_store_Fetch_hashes_tag, s->need[s->pos + i].b,
                                LT_HASH_LEN);
    char to[LT_ADDR_MAX];
    snprintf(to, sizeof to, "store@%s", s->peer_hex);
    s->phase = P_FETCH;
    if (rc || !s_call(a, to, lattice_store_StoreMsgType_FETCH, &b, C_FETCH, s->id, NULL))
        s_sess_end(a, s, rc ? rc : LT_EUNAVAILABLE, "cannot ask the peer's store");
    lt_buf_free(&b);
}

typedef struct {
    uint64_t ts;
    lt_view_t v;
} s_fetched_t;

static int s_fetched_cmp(const void *pa, const void *pb)
{
    const s_fetched_t *x = pa, *y = pb;
    return x->ts < y->ts ? -1 : x->ts > y->ts;
}

/* The ts of a signed intention from its header; 0 when it is too short (the
 * store refuses it at ingest anyway). */
static uint64_t s_intention_ts(const lt_view_t *v)
{
    if (v->len < 1 + LT_KEY_LEN + 12)
        return 0;
    const uint8_t *p = v->p + 1 + LT_KEY_LEN;
    return lt_sync_ts_of_hlc(lt_get_u64le(p), lt_get_u32le(p + 8));
}

/* A FETCH reply: ingest its intentions in HLC order (so that few float). */
static void s_fetched(s_actor_t *a, s_sess_t *s, const lt_msg_t *m)
{
    lt_pb_input_t in = lt_pb_input(m->body, m->len);
    lt_pb_views_t views = {.in = &in};
    lattice_store_Fetched f = lattice_store_Fetched_init_zero;
    lt_pb_bind_views(&f.intentions, &views);
    if (lt_pb_decode_static(lattice_store_Fetched_fields, &f, m->body, m->len) != LT_OK ||
        f.done == 0 || f.done > s->nneed - s->pos) {
        lt_pb_views_free(&views);
        s_sess_end(a, s, LT_EINVAL, "the peer's store sent a malformed FETCH reply");
        return;
    }
    s->pos += f.done;
    if (views.n == 0) {
        lt_pb_views_free(&views);
        s_fetch_next(a, s);
        return;
    }
    s_fetched_t *order = malloc(views.n * sizeof *order);
    if (!order) {
        lt_pb_views_free(&views);
        s_sess_end(a, s, LT_ENOMEM, "out of memory");
        return;
    }
    for (size_t i = 0; i < views.n; i++) {
        order[i].v = views.v[i];
        order[i].ts = s_intention_ts(&views.v[i]);
    }
    qsort(order, views.n, sizeof *order, s_fetched_cmp);
    lattice_store_IngestBatch ib = lattice_store_IngestBatch_init_zero;
    ib.store.size = LT_STORE_ID_LEN;
    memcpy(ib.store.bytes, s->store.b, LT_STORE_ID_LEN);
    lt_buf_t b = LT_BUF_INIT;
    lt_err_t rc = lt_pb_encode_static(lattice_store_IngestBatch_fields, &ib, &b);
    for (size_t i = 0; rc == LT_OK && i < views.n; i++)
        rc = lt_pb_append_bytes(&b, lattice_store_IngestBatch_intentions_tag, order[i].v.p,
                                order[i].v.len);
    free(order);
    lt_pb_views_free(&views);
    s->phase = P_INGEST;
    if (rc ||
        !s_call(a, "store", lattice_store_StoreMsgType_INGEST_BATCH, &b, C_INGEST, s->id, NULL))
        s_sess_end(a, s, rc ? rc : LT_EUNAVAILABLE, "cannot reach the store service");
    lt_buf_free(&b);
}

static void s_ingested(s_actor_t *a, s_sess_t *s, const lt_msg_t *m)
{
    lattice_store_IngestedBatch r = lattice_store_IngestedBatch_init_zero;
    if (lt_pb_decode_static(lattice_store_IngestedBatch_fields, &r, m->body, m->len) == LT_OK)
        s->received += (uint64_t)r.witnessed + r.floating;
    s_fetch_next(a, s);
}

/* ---- jobs ---- */

static bool s_cloning(s_actor_t *a, const lt_store_id_t *store);

static int s_report_cmp(const void *pa, const void *pb)
{
    const lattice_sync_PeerReport *x = pa, *y = pb;
    return memcmp(x->peer.bytes, y->peer.bytes, LT_KEY_LEN);
}

static void s_job_done(s_actor_t *a, s_job_t *j)
{
    if (j->has_origin) {
        if (j->nreports)
            qsort(j->reports, j->nreports, sizeof *j->reports, s_report_cmp);
        lt_buf_t b = LT_BUF_INIT;
        lt_err_t rc = LT_OK;
        for (size_t i = 0; rc == LT_OK && i < j->nreports; i++)
            rc = lt_pb_append_field(&b, lattice_sync_SyncReport_peers_tag,
                                    lattice_sync_PeerReport_fields, &j->reports[i]);
        if (rc)
            s_reply_error(a, j->from, j->corr, rc, "cannot encode the report");
        else
            s_reply(a, j->from, j->corr, lattice_sync_SyncMsgType_SYNC_NOW, &b);
        lt_buf_free(&b);
    }
    free(j->reports);
    memset(j, 0, sizeof *j);
}

static s_job_t *s_job_new(s_actor_t *a)
{
    for (size_t i = 0; i < S_MAX_JOBS; i++) {
        s_job_t *j = &a->jobs[i];
        if (j->id)
            continue;
        memset(j, 0, sizeof *j);
        j->id = s_new_id(a);
        return j;
    }
    return NULL;
}

/* Asks the store which node this is (once answered, never again). */
static void s_ask_self(s_actor_t *a)
{
    if (a->have_self || a->asking_self)
        return;
    a->asking_self =
        s_call(a, "store", lattice_store_StoreMsgType_NODE_INFO, NULL, C_NODE_INFO, 0, NULL);
}

/* The job syncs store `id` with its active peers: ask who they are. */
static bool s_job_store(s_actor_t *a, s_job_t *j, const lt_store_id_t *id)
{
    s_ask_self(a);
    lt_buf_t b = LT_BUF_INIT;
    bool ok = s_store_ref(id, &b) == LT_OK &&
              s_call(a, "store", lattice_store_StoreMsgType_PEER_LIST, &b, C_PEERS, j->id, id);
    lt_buf_free(&b);
    if (ok)
        j->waiting++;
    return ok;
}

/* Whether this node already runs a session it started with peer on store. */
static bool s_initiated(const s_actor_t *a, const lt_pubkey_t *peer, const lt_store_id_t *store)
{
    for (size_t i = 0; i < LT_SYNC_MAX_SESSIONS; i++) {
        const s_sess_t *s = &a->sess[i];
        if (s->id && s->initiator && lt_pubkey_cmp(&s->peer, peer) == 0 &&
            memcmp(s->store.b, store->b, LT_STORE_ID_LEN) == 0)
            return true;
    }
    return false;
}

typedef struct {
    lt_pubkey_t *keys;
    size_t n;
} s_peers_t;

/* The active peers in a PeerList reply. */
static bool s_active_peers(const lt_msg_t *m, s_peers_t *out)
{
    return lt_peerlist_active(m->body, m->len, &out->keys, &out->n) == LT_OK;
}

static void s_peers_reply(s_actor_t *a, const s_call_t *c, const lt_msg_t *m)
{
    s_job_t *j = s_job_find(a, c->ref);
    if (!j)
        return;
    s_peers_t peers;
    if (m->status != LT_OK || !s_active_peers(m, &peers)) {
        char why[256];
        s_reason(m, why, sizeof why);
        lt_log_warn(a->ctx->log, S_TAG, "cannot list the peers of a store: %s", why);
        s_job_release(a, j->id);
        return;
    }
    for (size_t i = 0; a->have_self && i < peers.n; i++) {
        if (lt_pubkey_cmp(&peers.keys[i], &a->self) == 0 ||
            (j->only_one && lt_pubkey_cmp(&peers.keys[i], &j->only) != 0) ||
            s_initiated(a, &peers.keys[i], &c->store))
            continue;
        if (s_cloning(a, &c->store)) {
            (void)s_job_note(j, &peers.keys[i], "this node is cloning the store; try later");
            continue;
        }
        s_sess_t *s = s_sess_new(a, true, &peers.keys[i], &c->store);
        if (!s) {
            lt_log_warn(a->ctx->log, S_TAG, "too many sessions: %d at once", LT_SYNC_MAX_SESSIONS);
            break;
        }
        a->ctx->ops->random(a->ctx->rt, &s->sid, sizeof s->sid);
        s->job = j->id;
        j->waiting++;
        s_sess_index(a, s);
    }
    if (!a->have_self)
        lt_log_warn(a->ctx->log, S_TAG, "the store service did not say which node this is");
    free(peers.keys);
    s_job_release(a, j->id);
}

static void s_stores_reply(s_actor_t *a, const s_call_t *c, const lt_msg_t *m)
{
    s_job_t *j = s_job_find(a, c->ref);
    if (!j)
        return;
    lt_pb_input_t in = lt_pb_input(m->body, m->len);
    lt_pb_views_t views = {.in = &in};
    lattice_store_StoreList sl = lattice_store_StoreList_init_zero;
    lt_pb_bind_views(&sl.stores, &views);
    if (m->status == LT_OK &&
        lt_pb_decode_static(lattice_store_StoreList_fields, &sl, m->body, m->len) == LT_OK) {
        for (size_t i = 0; i < views.n; i++) {
            lattice_store_StoreSummary ss = lattice_store_StoreSummary_init_zero;
            if (lt_pb_decode_static(lattice_store_StoreSummary_fields, &ss, views.v[i].p,
                                    views.v[i].len) != LT_OK ||
                ss.store.size != LT_STORE_ID_LEN)
                continue;
            lt_store_id_t id;
            memcpy(id.b, ss.store.bytes, LT_STORE_ID_LEN);
            (void)s_job_store(a, j, &id);
        }
    }
    lt_pb_views_free(&views);
    s_job_release(a, j->id);
}

/* ---- clones ---- */

static s_clone_t *s_clone_find(s_actor_t *a, const lt_store_id_t *store)
{
    for (size_t i = 0; i < S_MAX_CLONES; i++)
        if (a->clones[i].id && memcmp(a->clones[i].store.b, store->b, LT_STORE_ID_LEN) == 0)
            return &a->clones[i];
    return NULL;
}

static s_clone_t *s_clone_by_id(s_actor_t *a, uint32_t id)
{
    for (size_t i = 0; id && i < S_MAX_CLONES; i++)
        if (a->clones[i].id == id)
            return &a->clones[i];
    return NULL;
}

static bool s_cloning(s_actor_t *a, const lt_store_id_t *store)
{
    s_clone_t *c = s_clone_find(a, store);
    return c && !c->over;
}

static void s_clone_drop_held(s_clone_t *c)
{
    free(c->views);
    c->views = NULL;
    c->nviews = c->checked = 0;
    c->held = false;
}

static void s_clone_free(s_clone_t *c)
{
    s_clone_drop_held(c);
    lt_buf_free(&c->chunk);
    memset(c, 0, sizeof *c);
}

/* Answers waiter w with the clone's progress, or its error. */
static void s_clone_answer(s_actor_t *a, s_clone_t *c, s_waiter_t *w)
{
    if (c->over && c->status) {
        /* LT_EUNAVAILABLE would have the client ask again, for ever. */
        s_reply_error(a, w->from, w->corr, c->status == LT_EUNAVAILABLE ? LT_EFAILED : c->status,
                      c->error);
    } else {
        lattice_sync_CloneProgress m = lattice_sync_CloneProgress_init_zero;
        m.cloned = c->cloned;
        m.total = !c->known ? 0 : c->total > c->cloned ? c->total : c->cloned;
        m.done = c->over;
        m.checked_here = c->checked_here;
        lt_buf_t b = LT_BUF_INIT;
        if (lt_pb_encode_static(lattice_sync_CloneProgress_fields, &m, &b) == LT_OK)
            s_reply(a, w->from, w->corr, lattice_sync_SyncMsgType_SYNC_CLONE, &b);
        else
            s_reply_error(a, w->from, w->corr, LT_ENOMEM, "cannot encode the progress");
        lt_buf_free(&b);
    }
    w->used = false;
}

/* Answers the waiters with news for them (all of them when force). */
static void s_clone_tell(s_actor_t *a, s_clone_t *c, bool force)
{
    for (size_t i = 0; i < S_CLONE_WAITERS; i++) {
        s_waiter_t *w = &c->waiters[i];
        if (w->used && (force || c->over || c->cloned > w->seen))
            s_clone_answer(a, c, w);
    }
}

static void s_clone_over(s_actor_t *a, s_clone_t *c, lt_err_t status, const char *why)
{
    if (c->over)
        return;
    c->over = true;
    c->status = status;
    c->over_ms = lt_ctx_now(a->ctx);
    s_clone_drop_held(c);
    lt_buf_free(&c->chunk);
    char sid[2 * LT_STORE_ID_LEN + 1];
    lt_hex(c->store.b, LT_STORE_ID_LEN, sid);
    if (status) {
        snprintf(c->error, sizeof c->error,
                 "the clone from %.16s stopped after %llu intentions: %s", c->peer_hex,
                 (unsigned long long)c->cloned, why);
        lt_log_warn(a->ctx->log, S_TAG, "store %.16s: %s", sid, c->error);
    } else {
        lt_log_info(a->ctx->log, S_TAG,
                    "store %.16s: cloned %llu intentions from %.16s (%llu signatures checked here)",
                    sid, (unsigned long long)c->cloned, c->peer_hex,
                    (unsigned long long)c->checked_here);
    }
    s_clone_tell(a, c, true);
}

/* A read refused for now (no link yet, a full one): true when it is to be
 * tried again later, false when it has been refused too long. */
static bool s_clone_later(s_actor_t *a, s_clone_t *c, lt_err_t status)
{
    uint64_t now = lt_ctx_now(a->ctx);
    if ((status != LT_EUNAVAILABLE && status != LT_EFULL) ||
        (c->failing_since && now - c->failing_since >= a->cfg.timeout_ms))
        return false;
    if (!c->failing_since)
        c->failing_since = now;
    c->backoff = c->backoff ? c->backoff * 2 : S_CLONE_RETRY_MS;
    if (c->backoff > 4000)
        c->backoff = 4000;
    c->retry_at = now + c->backoff;
    return true;
}

static void s_clone_read(s_actor_t *a, s_clone_t *c)
{
    lattice_store_CloneRead m = lattice_store_CloneRead_init_zero;
    m.store.size = LT_STORE_ID_LEN;
    memcpy(m.store.bytes, c->store.b, LT_STORE_ID_LEN);
    m.from_seq = c->from;
    char to[LT_ADDR_MAX];
    snprintf(to, sizeof to, "store@%s", c->peer_hex);
    lt_buf_t b = LT_BUF_INIT;
    lt_err_t rc = lt_pb_encode_static(lattice_store_CloneRead_fields, &m, &b);
    if (rc == LT_OK) {
        s_call_t call = {.kind = C_CLONE_READ, .ref = c->id, .store = c->store};
        rc = lt_calls_request(&a->calls, a->ctx, to, lattice_store_StoreMsgType_CLONE_READ, b.data,
                              b.len, &call);
    }
    lt_buf_free(&b);
    c->reading = rc == LT_OK;
    if (rc && !s_clone_later(a, c, rc))
        s_clone_over(a, c, rc, "cannot ask the peer's store");
}

/* Reads on, ingests the held chunk, or ends: whatever the clone can do now. */
static void s_clone_step(s_actor_t *a, s_clone_t *c);

/* Hands the held chunk to the store, with the signatures checked so far. */
static void s_clone_ingest(s_actor_t *a, s_clone_t *c)
{
    lattice_store_IngestBatch ib = lattice_store_IngestBatch_init_zero;
    ib.store.size = LT_STORE_ID_LEN;
    memcpy(ib.store.bytes, c->store.b, LT_STORE_ID_LEN);
    ib.verified = (uint32_t)c->checked;
    ib.quiet = true;
    lt_buf_t b = LT_BUF_INIT;
    lt_err_t rc = lt_pb_encode_static(lattice_store_IngestBatch_fields, &ib, &b);
    for (size_t i = 0; rc == LT_OK && i < c->nviews; i++)
        rc = lt_pb_append_bytes(&b, lattice_store_IngestBatch_intentions_tag, c->views[i].p,
                                c->views[i].len);
    c->ningest = c->nviews;
    c->checked_here += c->checked;
    c->ingesting = rc == LT_OK && s_call(a, "store", lattice_store_StoreMsgType_INGEST_BATCH, &b,
                                         C_CLONE_INGEST, c->id, &c->store);
    lt_buf_free(&b);
    s_clone_drop_held(c);
    if (!c->ingesting)
        s_clone_over(a, c, rc ? rc : LT_EUNAVAILABLE, "cannot reach the store service");
}

static void s_clone_step(s_actor_t *a, s_clone_t *c)
{
    if (c->over)
        return;
    if (c->held && !c->ingesting)
        s_clone_ingest(a, c);
    if (c->over)
        return;
    bool more = !c->known || (!c->eof && c->from <= c->total);
    if (more && !c->reading && !c->held && !c->retry_at)
        s_clone_read(a, c);
    else if (!more && !c->reading && !c->held && !c->ingesting)
        s_clone_over(a, c, LT_OK, NULL);
}

/* Checks a slice of the held chunks' signatures; true while some are left. */
static bool s_clone_check(s_actor_t *a)
{
    bool left = false;
    for (size_t i = 0; i < S_MAX_CLONES; i++) {
        s_clone_t *c = &a->clones[i];
        if (!c->id || c->over || !c->held)
            continue;
        for (unsigned k = 0; k < S_CHECK_SLICE && c->checked < c->nviews; k++) {
            lt_signed_t sg;
            const lt_view_t *v = &c->views[c->checked];
            lt_err_t rc = lt_signed_parse(v->p, v->len, &sg);
            if (rc == LT_OK)
                rc = lt_signed_verify(&sg);
            if (rc) {
                char why[120];
                snprintf(why, sizeof why, "the peer sent an intention that is not valid (%s)",
                         lt_strerror(rc));
                s_clone_over(a, c, LT_ESIGNATURE, why);
                break;
            }
            c->checked++;
        }
        left |= !c->over && c->held && c->checked < c->nviews;
    }
    return left;
}

static void s_clone_arm_check(s_actor_t *a)
{
    if (!a->checking)
        a->checking = lt_ctx_timer(a->ctx, 0, S_TIMER_CHECK) == LT_OK;
}

static void s_clone_read_reply(s_actor_t *a, s_clone_t *c, const lt_msg_t *m)
{
    c->reading = false;
    if (c->over)
        return;
    char why[256];
    if (m->status != LT_OK && s_clone_later(a, c, m->status))
        return; /* not now (no link yet, a full one): again in a while */
    if (m->status != LT_OK) {
        s_reason(m, why, sizeof why);
        s_clone_over(a, c, m->status, why);
        return;
    }
    c->failing_since = c->backoff = 0;
    if (lt_buf_set(&c->chunk, m->body, m->len) != LT_OK) {
        s_clone_over(a, c, LT_ENOMEM, "out of memory");
        return;
    }
    lt_pb_input_t in = lt_pb_input(c->chunk.data, c->chunk.len);
    lt_pb_views_t views = {.in = &in};
    lattice_store_CloneChunk ch = lattice_store_CloneChunk_init_zero;
    lt_pb_bind_views(&ch.intentions, &views);
    if (lt_pb_decode_static(lattice_store_CloneChunk_fields, &ch, c->chunk.data, c->chunk.len) !=
            LT_OK ||
        /* Each intention moves the next read on by one; none: it stays. */
        (views.n ? ch.next_seq != c->from + views.n : ch.next_seq != c->from && ch.next_seq)) {
        lt_pb_views_free(&views);
        s_clone_over(a, c, LT_EINVAL, "the peer's store sent a malformed CLONE_READ reply");
        return;
    }
    if (views.n)
        c->from = ch.next_seq;
    if (!c->known) {
        /* What the peer holds now is what the clone reads; what it
         * witnesses later reaches this node as any new write does. */
        c->total = ch.total;
        c->known = true;
    }
    if (views.n == 0) {
        lt_pb_views_free(&views);
        c->eof = true;
    } else {
        c->views = views.v;
        c->nviews = views.n;
        c->checked = 0;
        c->held = true;
    }
    s_clone_step(a, c);
    if (c->held)
        s_clone_arm_check(a);
}

static void s_clone_ingest_reply(s_actor_t *a, s_clone_t *c, const lt_msg_t *m)
{
    c->ingesting = false;
    if (c->over)
        return;
    if (m->status != LT_OK) {
        char why[256];
        s_reason(m, why, sizeof why);
        s_clone_over(a, c, m->status, why);
        return;
    }
    c->cloned += c->ningest;
    c->ningest = 0;
    lattice_store_IngestedBatch r = lattice_store_IngestedBatch_init_zero;
    bool fresh =
        lt_pb_decode_static(lattice_store_IngestedBatch_fields, &r, m->body, m->len) == LT_OK &&
        r.witnessed + r.floating > 0;
    c->idle_chunks = fresh ? 0 : c->idle_chunks + 1;
    if (c->idle_chunks >= S_CLONE_IDLE_CHUNKS) {
        s_clone_over(a, c, LT_EFAILED,
                     "the peer's log brought nothing new for 64 chunks in a row "
                     "('lattice sync' fetches what is left)");
        return;
    }
    s_clone_step(a, c);
    s_clone_tell(a, c, false);
}

/* SYNC_CLONE: starts a clone or joins the running one; answered with its
 * progress (sync.proto). */
static void s_clone_request(s_actor_t *a, const lt_msg_t *msg)
{
    lt_pubkey_t k;
    if (lt_addr_remote(msg->from, &k, NULL, 0)) {
        s_reply_error(a, msg->from, msg->corr, LT_EREFUSED, "not served to other nodes");
        return;
    }
    lattice_sync_Clone m = lattice_sync_Clone_init_zero;
    if (lt_pb_decode_static(lattice_sync_Clone_fields, &m, msg->body, msg->len) != LT_OK ||
        m.store.size != LT_STORE_ID_LEN || (m.peer.size != 0 && m.peer.size != LT_KEY_LEN)) {
        s_reply_error(a, msg->from, msg->corr, LT_EINVAL,
                      "Clone: a 16-byte store id and a 32-byte peer key are needed");
        return;
    }
    lt_store_id_t id;
    memcpy(id.b, m.store.bytes, LT_STORE_ID_LEN);
    s_clone_t *c = s_clone_find(a, &id);
    if (c && c->over && m.seen == 0) {
        s_clone_free(c);
        c = NULL;
    }
    if (!c) {
        if (m.peer.size != LT_KEY_LEN) {
            s_reply_error(a, msg->from, msg->corr, LT_ENOTFOUND,
                          "no clone of that store is running (name the peer to start one)");
            return;
        }
        for (size_t i = 0; i < S_MAX_CLONES && !c; i++)
            if (!a->clones[i].id)
                c = &a->clones[i];
        /* Else the one that ended first (its outcome was kept for a while). */
        for (size_t i = 0; i < S_MAX_CLONES && !c; i++) {
            s_clone_t *o = &a->clones[i];
            if (o->over && (!c || o->over_ms < c->over_ms))
                c = o;
        }
        if (c && c->id)
            s_clone_free(c);
        if (!c) {
            s_reply_error(a, msg->from, msg->corr, LT_EFULL,
                          "too many clones running at once; try again when one ends");
            return;
        }
        memset(c, 0, sizeof *c);
        c->id = s_new_id(a);
        c->store = id;
        memcpy(c->peer.b, m.peer.bytes, LT_KEY_LEN);
        lt_hex(c->peer.b, LT_KEY_LEN, c->peer_hex);
        c->from = 1;
        c->chunk = (lt_buf_t)LT_BUF_INIT;
        /* Sessions on the store would fetch what the clone brings. */
        for (size_t i = 0; i < LT_SYNC_MAX_SESSIONS; i++) {
            s_sess_t *s = &a->sess[i];
            if (s->id && memcmp(s->store.b, id.b, LT_STORE_ID_LEN) == 0)
                s_sess_end(a, s, LT_EUNAVAILABLE, "a clone of the store began");
        }
        char sid[2 * LT_STORE_ID_LEN + 1];
        lt_hex(id.b, LT_STORE_ID_LEN, sid);
        lt_log_info(a->ctx->log, S_TAG, "store %.16s: cloning from %.16s", sid, c->peer_hex);
        s_clone_step(a, c);
    }
    s_waiter_t *w = NULL;
    /* One request per requester: a new one replaces its last. */
    for (size_t i = 0; i < S_CLONE_WAITERS && !w; i++)
        if (c->waiters[i].used && strcmp(c->waiters[i].from, msg->from) == 0)
            w = &c->waiters[i];
    for (size_t i = 0; i < S_CLONE_WAITERS && !w; i++)
        if (!c->waiters[i].used)
            w = &c->waiters[i];
    s_waiter_t now = {.used = true};
    if (!w)
        w = &now; /* answered at once */
    w->used = true;
    snprintf(w->from, sizeof w->from, "%s", msg->from);
    w->corr = msg->corr;
    w->seen = m.seen;
    w->since = lt_ctx_now(a->ctx);
    if (w == &now || c->over || c->cloned > m.seen)
        s_clone_answer(a, c, w);
}

/* The sweep's part: waiters answered after S_CLONE_POLL_MS, ended clones
 * forgotten after S_CLONE_KEEP_MS. */
static void s_clone_sweep(s_actor_t *a, uint64_t now)
{
    for (size_t i = 0; i < S_MAX_CLONES; i++) {
        s_clone_t *c = &a->clones[i];
        if (!c->id)
            continue;
        if (c->over && now - c->over_ms > S_CLONE_KEEP_MS) {
            s_clone_free(c);
            continue;
        }
        if (c->retry_at && now >= c->retry_at) {
            c->retry_at = 0;
            s_clone_step(a, c);
        }
        for (size_t k = 0; k < S_CLONE_WAITERS; k++)
            if (c->waiters[k].used && now - c->waiters[k].since >= S_CLONE_POLL_MS)
                s_clone_answer(a, c, &c->waiters[k]);
    }
}

/* ---- requests ---- */

static s_job_t *s_round(s_actor_t *a, const lt_pubkey_t *only);

static void s_sync_now(s_actor_t *a, const lt_msg_t *msg)
{
    lt_pubkey_t k;
    if (lt_addr_remote(msg->from, &k, NULL, 0)) {
        s_reply_error(a, msg->from, msg->corr, LT_EREFUSED, "not served to other nodes");
        return;
    }
    lattice_sync_SyncNow m = lattice_sync_SyncNow_init_zero;
    if (lt_pb_decode_static(lattice_sync_SyncNow_fields, &m, msg->body, msg->len) != LT_OK ||
        (m.store.size != 0 && m.store.size != LT_STORE_ID_LEN)) {
        s_reply_error(a, msg->from, msg->corr, LT_EINVAL,
                      "SyncNow: the store id is 16 bytes (or none: every store)");
        return;
    }
    if (m.store.size == 0) {
        s_job_t *all = s_round(a, NULL);
        if (!all) {
            s_reply_error(a, msg->from, msg->corr, LT_EFULL, "too many syncs running; try again");
            return;
        }
        all->has_origin = true;
        snprintf(all->from, sizeof all->from, "%s", msg->from);
        all->corr = msg->corr;
        return;
    }
    s_job_t *j = s_job_new(a);
    if (!j) {
        s_reply_error(a, msg->from, msg->corr, LT_EFULL, "too many syncs running; try again");
        return;
    }
    j->has_origin = true;
    snprintf(j->from, sizeof j->from, "%s", msg->from);
    j->corr = msg->corr;
    lt_store_id_t id;
    memcpy(id.b, m.store.bytes, LT_STORE_ID_LEN);
    j->waiting = 1;
    if (!s_job_store(a, j, &id))
        s_reply_error(a, msg->from, msg->corr, LT_EUNAVAILABLE, "cannot reach the store service");
    s_job_release(a, j->id);
}

/* A session message from a peer's sync actor. */
static void s_recon_request(s_actor_t *a, const lt_msg_t *msg)
{
    lt_pubkey_t peer;
    if (!lt_addr_remote(msg->from, &peer, NULL, 0)) {
        s_reply_error(a, msg->from, msg->corr, LT_EREFUSED, "sessions come from other nodes");
        return;
    }
    lt_view_t body = {NULL, 0};
    lt_pb_input_t in = lt_pb_input(msg->body, msg->len);
    lt_pb_view_arg_t arg = {&body, &in};
    lattice_sync_Recon m = lattice_sync_Recon_init_zero;
    lt_pb_bind_view(&m.msg, &arg);
    if (lt_pb_decode_static(lattice_sync_Recon_fields, &m, msg->body, msg->len) != LT_OK ||
        m.store.size != LT_STORE_ID_LEN || body.len == 0) {
        s_reply_error(a, msg->from, msg->corr, LT_EINVAL,
                      "Recon: a 16-byte store id and a message are needed");
        return;
    }
    s_sess_t *s = s_sess_wire(a, &peer, m.session);
    if (s && (s->pending || s->phase != P_RECON ||
              memcmp(s->store.b, m.store.bytes, LT_STORE_ID_LEN) != 0)) {
        s_reply_error(a, msg->from, msg->corr, LT_EINVAL, "a session message out of turn");
        return;
    }
    if (!s) {
        lt_store_id_t id;
        memcpy(id.b, m.store.bytes, LT_STORE_ID_LEN);
        if (s_cloning(a, &id)) {
            s_reply_error(a, msg->from, msg->corr, LT_EUNAVAILABLE,
                          "this node is cloning that store; try later");
            return;
        }
        s = s_sess_new(a, false, &peer, &id);
        if (!s) {
            s_reply_error(a, msg->from, msg->corr, LT_EFULL, "too many sessions; try later");
            return;
        }
        s->sid = m.session;
    }
    s->last_ms = lt_ctx_now(a->ctx);
    s->pending = true;
    snprintf(s->pending_from, sizeof s->pending_from, "%s", msg->from);
    s->pending_corr = msg->corr;
    lt_buf_reset(&s->pending_msg);
    if (lt_buf_append(&s->pending_msg, body.p, body.len) != LT_OK) {
        s_sess_end(a, s, LT_ENOMEM, "out of memory");
        return;
    }
    if (s->phase == P_RECON) {
        s_respond(a, s);
        return;
    }
    /* A new session: is the peer an active peer of the store here? */
    s->phase = P_AUTH;
    lt_buf_t b = LT_BUF_INIT;
    bool ok = s_store_ref(&s->store, &b) == LT_OK &&
              s_call(a, "store", lattice_store_StoreMsgType_PEER_LIST, &b, C_AUTH, s->id, NULL);
    lt_buf_free(&b);
    if (!ok)
        s_sess_end(a, s, LT_EUNAVAILABLE, "the node's store service is not reachable");
}

static void s_auth_reply(s_actor_t *a, s_sess_t *s, const lt_msg_t *m)
{
    if (m->status == LT_ENOTFOUND) {
        s_sess_end(a, s, LT_EREFUSED, "this node does not hold that store");
        return;
    }
    s_peers_t peers;
    if (m->status != LT_OK || !s_active_peers(m, &peers)) {
        s_sess_end(a, s, LT_EUNAVAILABLE, "cannot list the store's peers");
        return;
    }
    bool active = false;
    for (size_t i = 0; i < peers.n && !active; i++)
        active = lt_pubkey_cmp(&peers.keys[i], &s->peer) == 0;
    free(peers.keys);
    if (!active)
        s_sess_end(a, s, LT_EREFUSED, "not an active peer of this store");
    else
        s_sess_index(a, s);
}

static void s_items_reply(s_actor_t *a, const s_call_t *c, const lt_msg_t *m)
{
    s_idx_t *x = s_idx_get(a, &c->store, false);
    if (!x)
        return;
    char why[256];
    if (m->status != LT_OK) {
        s_reason(m, why, sizeof why);
        s_idx_updated(a, x, why);
        return;
    }
    lt_view_t items = {NULL, 0};
    lt_pb_input_t in = lt_pb_input(m->body, m->len);
    lt_pb_view_arg_t arg = {&items, &in};
    lattice_store_SyncItems r = lattice_store_SyncItems_init_zero;
    lt_pb_bind_view(&r.items, &arg);
    if (lt_pb_decode_static(lattice_store_SyncItems_fields, &r, m->body, m->len) != LT_OK ||
        items.len % S_ITEM_RECORD != 0 || r.next_seq < x->next_seq) {
        s_idx_updated(a, x, "the store sent a malformed SYNC_ITEMS reply");
        return;
    }
    size_t n = items.len / S_ITEM_RECORD;
    bool more = n && r.next_seq <= r.total;
    if (n && x->in_recon) {
        /* Borrowed: held until the sessions using it are done. */
        x->stash = malloc(n * sizeof *x->stash);
        if (!x->stash) {
            s_idx_updated(a, x, "out of memory");
            return;
        }
        for (size_t i = 0; i < n; i++)
            s_item_of(items.p + i * S_ITEM_RECORD, &x->stash[i]);
        x->nstash = n;
        x->stash_next_seq = r.next_seq;
        x->stash_more = more;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        lt_sync_item_t it;
        s_item_of(items.p + i * S_ITEM_RECORD, &it);
        lt_err_t rc = lt_fpindex_insert(x->x, &it);
        if (rc != LT_OK && rc != LT_EEXIST) {
            snprintf(why, sizeof why, "cannot index the store: %s", lt_strerror(rc));
            s_idx_updated(a, x, why);
            return;
        }
    }
    x->next_seq = r.next_seq;
    s_idx_go_on(a, x, more);
}

static void s_reply_in(s_actor_t *a, const lt_msg_t *m)
{
    s_call_t c;
    if (!lt_calls_take(&a->calls, m->corr, &c))
        return;
    char why[256];
    if (c.kind == C_NODE_INFO) {
        a->asking_self = false;
        lattice_store_NodeInfo ni = lattice_store_NodeInfo_init_zero;
        if (m->status == LT_OK &&
            lt_pb_decode_static(lattice_store_NodeInfo_fields, &ni, m->body, m->len) == LT_OK &&
            ni.node_key.size == LT_KEY_LEN) {
            memcpy(a->self.b, ni.node_key.bytes, LT_KEY_LEN);
            a->have_self = true;
        }
        return;
    }
    if (c.kind == C_STORES) {
        s_stores_reply(a, &c, m);
        return;
    }
    if (c.kind == C_PEERS) {
        s_peers_reply(a, &c, m);
        return;
    }
    if (c.kind == C_ITEMS) {
        s_items_reply(a, &c, m);
        return;
    }
    if (c.kind == C_CLONE_READ || c.kind == C_CLONE_INGEST) {
        s_clone_t *cl = s_clone_by_id(a, c.ref);
        if (cl && c.kind == C_CLONE_READ)
            s_clone_read_reply(a, cl, m);
        else if (cl)
            s_clone_ingest_reply(a, cl, m);
        return;
    }
    s_sess_t *s = s_sess_find(a, c.ref);
    if (!s)
        return;
    s->last_ms = lt_ctx_now(a->ctx);
    if (m->status != LT_OK) {
        s_reason(m, why, sizeof why);
        s_sess_end(a, s, m->status, why);
        return;
    }
    switch (c.kind) {
    case C_AUTH:
        s_auth_reply(a, s, m);
        break;
    case C_RECON: {
        lt_view_t body = {NULL, 0};
        lt_pb_input_t in = lt_pb_input(m->body, m->len);
        lt_pb_view_arg_t arg = {&body, &in};
        lattice_sync_Recon r = lattice_sync_Recon_init_zero;
        lt_pb_bind_view(&r.msg, &arg);
        if (lt_pb_decode_static(lattice_sync_Recon_fields, &r, m->body, m->len) != LT_OK) {
            s_sess_end(a, s, LT_EINVAL, "the peer sent a malformed Recon reply");
            break;
        }
        if (body.len == 0) {
            /* Nothing to answer: our message was final. */
            if (lt_recon_state(s->recon) == LT_RECON_DONE)
                s_recon_done(a, s);
            else
                s_sess_end(a, s, LT_EINVAL, "the peer ended the session early");
            break;
        }
        lt_buf_t out = LT_BUF_INIT;
        lt_err_t rc = lt_recon_receive(s->recon, body.p, body.len, &out);
        if (rc) {
            snprintf(why, sizeof why, "the peer sent a malformed session message: %s",
                     lt_recon_errmsg(s->recon));
            s_sess_end(a, s, LT_EINVAL, why);
        } else if (out.len && !s_send_recon(a, s, &out)) {
            s_sess_end(a, s, LT_EUNAVAILABLE, "cannot reach the peer's sync service");
        } else if (out.len == 0) {
            s_recon_after(a, s);
        }
        lt_buf_free(&out);
        break;
    }
    case C_FETCH:
        s_fetched(a, s, m);
        break;
    case C_INGEST:
        s_ingested(a, s, m);
        break;
    default:
        break;
    }
}

/* ---- the actor ---- */

/* Every store with its peers (or with `only`, when not NULL). */
static s_job_t *s_round(s_actor_t *a, const lt_pubkey_t *only)
{
    s_job_t *j = s_job_new(a);
    if (!j)
        return NULL;
    if (only) {
        j->only_one = true;
        j->only = *only;
    }
    s_ask_self(a);
    if (s_call(a, "store", lattice_store_StoreMsgType_STORE_LIST, NULL, C_STORES, j->id, NULL)) {
        j->waiting = 1;
        return j;
    }
    memset(j, 0, sizeof *j);
    return NULL;
}

/* Whether a session waits for index x to be updated. */
static bool s_idx_awaited(const s_actor_t *a, const s_idx_t *x)
{
    for (size_t i = 0; i < LT_SYNC_MAX_SESSIONS; i++)
        if (a->sess[i].id && a->sess[i].idx == x && a->sess[i].phase == P_INDEX)
            return true;
    return false;
}

static void s_sweep(s_actor_t *a)
{
    uint64_t now = lt_ctx_now(a->ctx);
    s_clone_sweep(a, now);
    for (size_t i = 0; i < LT_SYNC_MAX_SESSIONS; i++) {
        s_sess_t *s = &a->sess[i];
        uint64_t quiet = s->id && now > s->last_ms ? now - s->last_ms : 0;
        if (quiet > a->cfg.timeout_ms)
            s_sess_end(a, s, LT_ETIMEDOUT,
                       s->phase == P_INDEX ? "the store's index stayed busy (sessions with "
                                             "slower peers, or the store service)"
                                           : "the peer stopped answering");
        else if (quiet > S_RECON_PATIENCE_MS && s->phase == P_RECON && s_idx_awaited(a, s->idx))
            s_sess_end(a, s, LT_ETIMEDOUT,
                       "the peer stopped answering while other sessions waited for the "
                       "store's index");
    }
    /* Index updates the store never answered: the sessions waiting for
     * them end after the loop (ending one may add calls). */
    s_idx_t *late[16];
    size_t nlate = 0;
    /* Calls never answered: forget them (their sessions ended above). */
    for (size_t i = 0; i < lt_calls_count(&a->calls);) {
        uint64_t sent;
        s_call_t *c = lt_calls_at(&a->calls, i, &sent);
        if (now - sent > a->cfg.timeout_ms) {
            if (c->kind == C_ITEMS) {
                s_idx_t *x = s_idx_get(a, &c->store, false);
                if (x && nlate < sizeof late / sizeof *late)
                    late[nlate++] = x;
                else if (x)
                    x->refreshing = false;
            } else if (c->kind == C_NODE_INFO) {
                a->asking_self = false;
            } else if (c->kind == C_CLONE_READ || c->kind == C_CLONE_INGEST) {
                s_clone_t *cl = s_clone_by_id(a, c->ref);
                if (cl) {
                    cl->reading = cl->ingesting = false;
                    s_clone_over(a, cl, LT_ETIMEDOUT,
                                 c->kind == C_CLONE_READ ? "the peer's store stopped answering"
                                                         : "the store service stopped answering");
                }
            }
            uint32_t job = c->kind == C_PEERS || c->kind == C_STORES ? c->ref : 0;
            lt_calls_remove(&a->calls, i);
            if (job)
                s_job_release(a, job);
            continue;
        }
        i++;
    }
    for (size_t i = 0; i < nlate; i++)
        s_idx_updated(a, late[i], "the store service did not answer the index update");
}

static lt_err_t s_start(lt_ctx_t *ctx, const void *cfg, void **self)
{
    s_actor_t *a = calloc(1, sizeof *a);
    if (!a)
        return LT_ENOMEM;
    a->ctx = ctx;
    lt_calls_init(&a->calls, sizeof(s_call_t));
    if (cfg)
        a->cfg = *(const lt_sync_actor_config_t *)cfg;
    if (!a->cfg.period_ms)
        a->cfg.period_ms = LT_SYNC_DEFAULT_PERIOD_MS;
    if (!a->cfg.timeout_ms)
        a->cfg.timeout_ms = LT_SYNC_DEFAULT_TIMEOUT_MS;
    if (a->cfg.recon)
        a->recon = *a->cfg.recon;
    else
        lt_recon_config_default(&a->recon);
    /* A session message travels in one frame, with the Recon around it: a
     * large difference is listed over more rounds instead. */
    if (a->recon.frame_limit == 0 || a->recon.frame_limit > S_RECON_FRAME)
        a->recon.frame_limit = S_RECON_FRAME;
    a->cfg.recon = NULL;
    lt_err_t rc = lt_ctx_timer(ctx, S_SWEEP_MS, S_TIMER_SWEEP);
    if (rc == LT_OK && !a->cfg.no_periodic)
        rc = lt_ctx_timer(ctx, a->cfg.period_ms, S_TIMER_PERIOD);
    if (rc) {
        free(a);
        return rc;
    }
    s_ask_self(a);
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
    if (msg->kind == LT_MSG_EVENT && msg->type == lattice_kernel_KernelMsgType_KERNEL_LINK_UP &&
        strcmp(msg->from, "kernel") == 0) {
        /* A link to a peer came up: what happened while it was down. */
        lattice_kernel_LinkUp m = lattice_kernel_LinkUp_init_zero;
        if (lt_pb_decode_static(lattice_kernel_LinkUp_fields, &m, msg->body, msg->len) == LT_OK &&
            m.key.size == LT_KEY_LEN) {
            lt_pubkey_t k;
            memcpy(k.b, m.key.bytes, LT_KEY_LEN);
            (void)s_round(a, &k);
        }
        return;
    }
    if (msg->kind != LT_MSG_REQUEST)
        return;
    switch (msg->type) {
    case lattice_sync_SyncMsgType_SYNC_NOW:
        s_sync_now(a, msg);
        break;
    case lattice_sync_SyncMsgType_SYNC_RECON:
        s_recon_request(a, msg);
        break;
    case lattice_sync_SyncMsgType_SYNC_CLONE:
        s_clone_request(a, msg);
        break;
    default:
        s_reply_error(a, msg->from, msg->corr, LT_EINVAL, "unknown sync request type");
        break;
    }
}

static void s_timer(void *self, lt_ctx_t *ctx, uint64_t token)
{
    s_actor_t *a = self;
    a->ctx = ctx;
    if (token == S_TIMER_SWEEP) {
        s_sweep(a);
        (void)lt_ctx_timer(ctx, S_SWEEP_MS, S_TIMER_SWEEP);
    } else if (token == S_TIMER_CHECK) {
        a->checking = false;
        if (s_clone_check(a))
            s_clone_arm_check(a);
    } else if (token == S_TIMER_PERIOD) {
        (void)s_round(a, NULL);
        (void)lt_ctx_timer(ctx, a->cfg.period_ms, S_TIMER_PERIOD);
    }
}

static void s_stop(void *self)
{
    s_actor_t *a = self;
    for (size_t i = 0; i < LT_SYNC_MAX_SESSIONS; i++) {
        s_sess_t *s = &a->sess[i];
        if (!s->id)
            continue;
        lt_recon_destroy(&s->recon);
        lt_buf_free(&s->pending_msg);
        free(s->need);
    }
    for (size_t i = 0; i < S_MAX_JOBS; i++)
        free(a->jobs[i].reports);
    for (size_t i = 0; i < S_MAX_CLONES; i++)
        s_clone_free(&a->clones[i]);
    while (a->idx) {
        s_idx_t *x = a->idx;
        a->idx = x->next;
        lt_fpindex_destroy(&x->x);
        free(x->stash);
        free(x);
    }
    lt_calls_free(&a->calls);
    free(a);
}

const lt_actor_ops_t lt_sync_actor = {
    .abi = LT_ACTOR_ABI,
    .name = "sync",
    .start = s_start,
    .receive = s_receive,
    .idle = NULL,
    .timer = s_timer,
    .stop = s_stop,
};
