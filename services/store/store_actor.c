/* The store actor: the store protocol over the node database, with group
 * commit, deferred replies, request-id idempotency and watches (see
 * store_actor.h for the contract).
 *
 * The burst. Between two commits the actor holds a queue of what it owes
 * (`pending`): the replies of writes already staged in the db's transaction,
 * and reads that arrived after them, kept as copies of their requests. A
 * flush commits, then walks the queue in order: a write's reply goes out with
 * its own result or, if the commit failed, the commit's error; a read is
 * served only now, from durable data. While the queue is empty a read is
 * answered at once. */
#include "store/store_actor.h"

#include "ipc/frame.h"
#include "store/kv_state.h"
#include "store/log_state.h"
#include "store/store_proto.h"
#include "store/system_table.h"

#include "kernel.pb.h"
#include "sync.pb.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

#define S_TAG "store"
/* Watches and follows held at once, all clients together. */
#define S_MAX_WATCHES     1024
#define S_HISTORY_DEFAULT 50
#define S_GROUP_MAX_BYTES (64u << 20) /* also commit early past this much staged data */
#define S_KV_TYPE         "core:kvstore"
#define S_LOG_TYPE        "core:logstore"
#define S_WATCH_KV        1
#define S_WATCH_LOG       2
/* Witness watches (every intention witnessed, in every store) held at once:
 * each costs a read of every intention a commit witnessed, so few. */
#define S_MAX_WITNESS_WATCHES 8
/* One (store id, hash) pair a witness watch is told about after the commit. */
#define S_WITNESSED_LEN (LT_STORE_ID_LEN + LT_HASH_LEN)
/* The kernel's address, and the most keys and invites one AdmitSet lists
 * (kernel/links.h: LT_LINKS_MAX_ADMITTED). */
#define LT_ADMIT_KERNEL "kernel"
#define LT_ADMIT_MAX    4096
/* Lists, log reads and histories stop growing past this many bytes and say
 * they were cut (`truncated`), so a reply always fits one message. */
#define S_REPLY_MAX (LT_FRAME_MAX_BODY - 1024)
/* The sender whose IngestBatch.verified and quiet are honoured. */
#define S_SYNC_SERVICE "sync"
/* Bytes a row adds beyond its key, value or text: tags, lengths, fixed
 * fields (a history item is all fixed fields). */
#define S_ROW_OVERHEAD 1024
/* Replies the transport refused for now (LT_EFULL: the kernel is not
 * reading) wait here, in order, and are sent again on a timer. */
#define S_RESEND_MAX   4096
#define S_RESEND_MS    5
#define S_TIMER_RESEND 1
/* STORE_VERIFY checks this many records per turn (each an Ed25519 verify
 * and a few reads: some 15 ms), then lets other requests in. */
#define S_TIMER_VERIFY 2
#define S_VERIFY_SLICE 256
/* The records an open passed over (lt_store_open_check) are checked right
 * after it, this many per turn (no signatures: some 15 ms). */
#define S_TIMER_GAP 3
#define S_GAP_SLICE 1024
/* A clone's chunks (quiet batches from the sync service) put the backend
 * in bulk mode (kv.h, lt_kv_bulk); it ends this long after the last one. */
#define S_TIMER_BULK   4
#define S_BULK_IDLE_MS 1000
/* Generations a child store inherits peers through (a cycle of
 * declarations ends here too). */
#define S_KIN_DEPTH 8

typedef struct s_actor s_actor_t;

/* A chain check run a slice per turn of a timer (s_check_turn). */
typedef struct {
    bool active;
    lt_store_id_t id;
    lt_store_verify_t v;
    uint64_t slice; /* records per turn */
    uint64_t token; /* its timer */
} s_check_t;

/* A child store and the held store that declares it active. */
typedef struct {
    lt_store_id_t child, parent;
} s_kin_t;

/* Who a reply goes to. */
typedef struct {
    char to[LT_ADDR_MAX];
    uint64_t corr;
    uint32_t type;
} s_origin_t;

/* One thing owed to a client until the next commit. */
typedef struct {
    s_origin_t o;
    bool is_read;    /* body is the request, to serve after the commit */
    bool on_commit;  /* a write's success reply: replaced by the commit's error if it fails */
    lt_err_t status; /* replies: their status */
    lt_buf_t body;   /* the reply body, or the read's request body */
} s_owed_t;

typedef struct {
    s_actor_t *a;
    char to[LT_ADDR_MAX];
    uint64_t corr;
    lt_store_id_t store;
    int kind; /* S_WATCH_KV / S_WATCH_LOG */
    unsigned sub;
    bool dead;
} s_watch_t;

/* A witness watch: who gets WITNESSED events, with which corr. */
typedef struct {
    char to[LT_ADDR_MAX];
    uint64_t corr;
    bool dead;
} s_wwatch_t;

struct s_actor {
    lt_db_t *db;
    lt_ctx_t *ctx; /* of the handler running now (events are sent from inside it) */
    const lt_logger_t *log;
    const lt_ctx_ops_t *rt_ops; /* for the default clock */
    void *rt;
    size_t max_group;
    bool bulk;             /* the backend is in bulk mode */
    bool bulk_refused;     /* the backend said no once: not asked again */
    uint64_t bulk_last_ms; /* the last quiet batch */
    size_t nwrites;        /* writes staged since the last commit */
    s_owed_t *owed;
    size_t nowed, capowed;
    bool flushing;
    s_watch_t **watches;
    size_t nwatches;
    /* Witness watches, and the one db subscription they share while there
     * are any: it gathers the commit's witnessed intentions in `witnessed`
     * (S_WITNESSED_LEN per intention, in witness order), told after it. */
    s_wwatch_t wwatches[S_MAX_WITNESS_WATCHES];
    size_t nwwatches;
    unsigned wsub;
    lt_buf_t witnessed;
    size_t witnessed_lost; /* intentions not gathered (out of memory) */
    s_owed_t *resend;      /* replies waiting for the transport, oldest first */
    size_t nresend, capresend;
    bool resend_armed;
    /* Peers or invites may have changed since the kernel was last told
     * who may open links (s_admit_push). */
    bool admit_dirty;
    /* A system table may have changed since the child stores were last
     * looked at (s_children_sync): set with every write or ingest of a
     * system op, so that only those commits cost a scan. */
    bool system_dirty;
    /* Which held store declares each child active, by child id (held here
     * or not): the parent a child inherits peers from. Rebuilt by
     * s_children_sync. */
    s_kin_t *kin;
    size_t nkin;
    /* The STORE_VERIFY running, if any (one at a time), and who asked. */
    s_check_t verify;
    s_origin_t verify_o;
    /* The check of an open's gap running, if any (one store at a time). */
    s_check_t gap;
};

/* ---- sending ---- */

/* Keeps a reply the transport refused for now, to send again from the
 * timer; past S_RESEND_MAX it is dropped (the client's deadline answers). */
static void s_resend_later(s_actor_t *a, const s_origin_t *o, lt_err_t status, const uint8_t *body,
                           size_t len)
{
    if (a->nresend == a->capresend) {
        size_t cap = a->capresend ? a->capresend * 2 : 16;
        s_owed_t *v = cap <= S_RESEND_MAX ? realloc(a->resend, cap * sizeof *v) : NULL;
        if (!v) {
            lt_log_warn(a->log, S_TAG, "reply to %s (corr %llu) dropped: %zu replies wait already",
                        o->to, (unsigned long long)o->corr, a->nresend);
            return;
        }
        a->resend = v;
        a->capresend = cap;
    }
    s_owed_t *w = &a->resend[a->nresend];
    memset(w, 0, sizeof *w);
    w->o = *o;
    w->status = status;
    if (lt_buf_append(&w->body, body, len) != LT_OK) {
        lt_buf_free(&w->body);
        lt_log_warn(a->log, S_TAG, "reply to %s (corr %llu) dropped: out of memory", o->to,
                    (unsigned long long)o->corr);
        return;
    }
    a->nresend++;
    if (!a->resend_armed && lt_ctx_timer(a->ctx, S_RESEND_MS, S_TIMER_RESEND) == LT_OK)
        a->resend_armed = true;
}

static lt_err_t s_send_now(s_actor_t *a, const s_origin_t *o, lt_err_t status, const uint8_t *body,
                           size_t len)
{
    lt_msg_t m = {.kind = LT_MSG_REPLY,
                  .corr = o->corr,
                  .type = o->type,
                  .status = status,
                  .body = body,
                  .len = len};
    return a->ctx->ops->send(a->ctx->rt, o->to, &m);
}

/* Sends a reply now; one the transport refuses as too large becomes an
 * error reply that says so. LT_EFULL: try again later. */
static lt_err_t s_send_or_explain(s_actor_t *a, const s_origin_t *o, lt_err_t status,
                                  const uint8_t *body, size_t len)
{
    lt_err_t rc = s_send_now(a, o, status, body, len);
    if (rc == LT_EINVAL && len) {
        /* Most likely past the transport's message size: say so instead. */
        lt_buf_t e = LT_BUF_INIT;
        char why[128];
        snprintf(why, sizeof why, "the reply (%zu bytes) is larger than a message may be", len);
        if (lt_store_error_encode(why, &e) == LT_OK)
            rc = s_send_now(a, o, LT_EFULL, e.data, e.len);
        lt_buf_free(&e);
    }
    return rc;
}

static void s_send_reply(s_actor_t *a, const s_origin_t *o, lt_err_t status, const uint8_t *body,
                         size_t len)
{
    /* Behind replies that wait for the transport, in order. */
    lt_err_t rc = a->nresend ? LT_EFULL : s_send_or_explain(a, o, status, body, len);
    if (rc == LT_EFULL)
        s_resend_later(a, o, status, body, len);
    else if (rc)
        lt_log_warn(a->log, S_TAG, "reply to %s (corr %llu) not delivered: %s", o->to,
                    (unsigned long long)o->corr, lt_strerror(rc));
}

/* The resend timer: sends what waits, in order, until the transport refuses
 * again. */
static void s_resend(s_actor_t *a)
{
    size_t i = 0;
    for (; i < a->nresend; i++) {
        s_owed_t *w = &a->resend[i];
        lt_err_t rc = s_send_or_explain(a, &w->o, w->status, w->body.data, w->body.len);
        if (rc == LT_EFULL)
            break;
        if (rc)
            lt_log_warn(a->log, S_TAG, "reply to %s (corr %llu) not delivered: %s", w->o.to,
                        (unsigned long long)w->o.corr, lt_strerror(rc));
        lt_buf_free(&w->body);
    }
    memmove(a->resend, a->resend + i, (a->nresend - i) * sizeof *a->resend);
    a->nresend -= i;
    if (a->nresend && lt_ctx_timer(a->ctx, S_RESEND_MS, S_TIMER_RESEND) == LT_OK)
        a->resend_armed = true;
}

static lt_err_t s_owe(s_actor_t *a, const s_origin_t *o, bool is_read, bool on_commit,
                      lt_err_t status, const uint8_t *body, size_t len)
{
    if (a->nowed == a->capowed) {
        size_t cap = a->capowed ? a->capowed * 2 : 64;
        s_owed_t *v = realloc(a->owed, cap * sizeof *v);
        if (!v)
            return LT_ENOMEM;
        a->owed = v;
        a->capowed = cap;
    }
    s_owed_t *w = &a->owed[a->nowed];
    memset(w, 0, sizeof *w);
    w->o = *o;
    w->is_read = is_read;
    w->on_commit = on_commit;
    w->status = status;
    lt_err_t rc = lt_buf_append(&w->body, body, len);
    if (rc) {
        lt_buf_free(&w->body);
        return rc;
    }
    a->nowed++;
    return LT_OK;
}

/* A reply, now or after the commit: it waits when it answers a write (it
 * must not precede its durability) or when anything before it waits. */
static void s_reply(s_actor_t *a, const s_origin_t *o, lt_err_t status, bool on_commit,
                    const lt_buf_t *body)
{
    const uint8_t *p = body ? body->data : NULL;
    size_t len = body ? body->len : 0;
    if (!a->flushing && (on_commit || a->nowed)) {
        if (s_owe(a, o, false, on_commit, status, p, len) == LT_OK)
            return;
        lt_log_error(a->log, S_TAG, "out of memory queueing a reply");
        if (on_commit) { /* it cannot wait: fail it, and its group with it */
            status = LT_ENOMEM, p = NULL, len = 0;
            lt_db_poison(a->db, LT_ENOMEM);
        }
    }
    s_send_reply(a, o, status, p, len);
}

static void s_reply_error(s_actor_t *a, const s_origin_t *o, lt_err_t status, const char *why)
{
    lt_buf_t e = LT_BUF_INIT;
    if (lt_store_error_encode(why ? why : lt_strerror(status), &e) != LT_OK)
        lt_buf_reset(&e);
    s_reply(a, o, status, false, &e);
    lt_buf_free(&e);
}

/* The error of a db call, with the db's detail when it has one. */
static void s_reply_db_error(s_actor_t *a, const s_origin_t *o, lt_err_t rc)
{
    const char *m = lt_db_errmsg(a->db);
    s_reply_error(a, o, rc, m && m[0] ? m : lt_strerror(rc));
}

/* ---- watches ---- */

static void s_on_event(void *ctx, const lt_event_t *ev)
{
    s_watch_t *w = ctx;
    s_actor_t *a = w->a;
    if (w->dead)
        return;
    lt_buf_t body = LT_BUF_INIT;
    lt_err_t rc;
    uint32_t type;
    if (ev->kind == LT_EV_KV) {
        lattice_store_KvChange m = lattice_store_KvChange_init_zero;
        lt_view_t key = {ev->key, ev->klen}, val = {ev->value, ev->vlen};
        m.store.size = LT_STORE_ID_LEN;
        memcpy(m.store.bytes, ev->store.b, LT_STORE_ID_LEN);
        lt_pb_bind_write(&m.key, &key);
        lt_pb_bind_write(&m.value, &val);
        m.deleted = ev->deleted;
        m.conflicted = ev->conflicted;
        m.hash.size = LT_HASH_LEN;
        memcpy(m.hash.bytes, ev->hash.b, LT_HASH_LEN);
        type = lattice_store_StoreMsgType_KV_CHANGE;
        rc = lt_pb_encode_static(lattice_store_KvChange_fields, &m, &body);
    } else {
        lattice_store_LogItem m = lattice_store_LogItem_init_zero;
        lt_view_t text = {ev->value, ev->vlen};
        m.store.size = LT_STORE_ID_LEN;
        memcpy(m.store.bytes, ev->store.b, LT_STORE_ID_LEN);
        m.wall_ms = ev->hlc.wall_ms;
        m.counter = ev->hlc.counter;
        m.author.size = LT_KEY_LEN;
        memcpy(m.author.bytes, ev->author.b, LT_KEY_LEN);
        m.hash.size = LT_HASH_LEN;
        memcpy(m.hash.bytes, ev->hash.b, LT_HASH_LEN);
        lt_pb_bind_write(&m.text, &text);
        type = lattice_store_StoreMsgType_LOG_ENTRY;
        rc = lt_pb_encode_static(lattice_store_LogItem_fields, &m, &body);
    }
    if (rc == LT_OK) {
        lt_msg_t m = {.kind = LT_MSG_EVENT,
                      .corr = w->corr,
                      .type = type,
                      .status = LT_OK,
                      .body = body.data,
                      .len = body.len};
        rc = a->ctx->ops->send(a->ctx->rt, w->to, &m);
    }
    lt_buf_free(&body);
    if (rc) {
        lt_log_warn(a->log, S_TAG, "%s %llu of %s cancelled: an event could not be sent (%s)",
                    w->kind == S_WATCH_KV ? "watch" : "follow", (unsigned long long)w->corr, w->to,
                    lt_strerror(rc));
        w->dead = true;
        lt_db_unsubscribe(a->db, w->sub);
    }
}

/* Frees the watches cancelled during a delivery (the db no longer calls
 * them once it returns). */
static void s_reap_watches(s_actor_t *a)
{
    size_t k = 0;
    for (size_t i = 0; i < a->nwatches; i++) {
        if (a->watches[i]->dead)
            free(a->watches[i]);
        else
            a->watches[k++] = a->watches[i];
    }
    a->nwatches = k;
}

/* Ends the watches and follows of a store that is gone (the caller reaps
 * them). */
static void s_end_watches(s_actor_t *a, const lt_store_id_t *id)
{
    for (size_t i = 0; i < a->nwatches; i++) {
        s_watch_t *w = a->watches[i];
        if (!w->dead && memcmp(w->store.b, id->b, LT_STORE_ID_LEN) == 0) {
            lt_db_unsubscribe(a->db, w->sub);
            w->dead = true;
            lt_log_info(a->log, S_TAG, "%s %llu of %s ended: its store was removed",
                        w->kind == S_WATCH_KV ? "watch" : "follow", (unsigned long long)w->corr,
                        w->to);
        }
    }
}

/* ---- witness watches ---- */

/* The db's subscription: keeps what the commit witnessed until s_flush tells
 * the watchers (after the commit, from the actor, where it can read). */
static void s_on_witnessed(void *ctx, const lt_event_t *ev)
{
    s_actor_t *a = ctx;
    if (lt_buf_append(&a->witnessed, ev->store.b, LT_STORE_ID_LEN) != LT_OK ||
        lt_buf_append(&a->witnessed, ev->hash.b, LT_HASH_LEN) != LT_OK) {
        a->witnessed.len -= a->witnessed.len % S_WITNESSED_LEN;
        a->witnessed_lost++;
    }
}

/* Sends one Witnessed event to every live witness watch; one that cannot
 * take it loses its watch (as a KV watch does). */
static void s_witness_send(s_actor_t *a, const lt_buf_t *body)
{
    for (size_t i = 0; i < a->nwwatches; i++) {
        s_wwatch_t *w = &a->wwatches[i];
        if (w->dead)
            continue;
        lt_msg_t m = {.kind = LT_MSG_EVENT,
                      .corr = w->corr,
                      .type = lattice_store_StoreMsgType_WITNESSED,
                      .status = LT_OK,
                      .body = body->data,
                      .len = body->len};
        lt_err_t rc = a->ctx->ops->send(a->ctx->rt, w->to, &m);
        if (rc) {
            lt_log_warn(a->log, S_TAG,
                        "witness watch %llu of %s cancelled: an event could not be sent (%s)",
                        (unsigned long long)w->corr, w->to, lt_strerror(rc));
            w->dead = true;
        }
    }
}

/* Drops the cancelled witness watches; the last one gone ends the db
 * subscription (events are then not even copied). */
static void s_reap_wwatches(s_actor_t *a)
{
    size_t k = 0;
    for (size_t i = 0; i < a->nwwatches; i++)
        if (!a->wwatches[i].dead)
            a->wwatches[k++] = a->wwatches[i];
    a->nwwatches = k;
    if (k == 0 && a->wsub) {
        lt_db_unsubscribe(a->db, a->wsub);
        a->wsub = 0;
    }
}

/* Tells the witness watches about the intentions of store `id` among the
 * gathered ones, from index i on, marking them told: their signed bytes in
 * witness order, in as many events as the reply size needs. */
static lt_err_t s_witness_tell_store(s_actor_t *a, const lt_store_id_t *id, size_t i, bool *told,
                                     lt_buf_t *body, lt_buf_t *one)
{
    const uint8_t *v = a->witnessed.data;
    size_t n = a->witnessed.len / S_WITNESSED_LEN;
    lt_store_t *st = lt_db_store(a->db, id);
    lt_buf_reset(body);
    lt_err_t rc =
        lt_pb_append_bytes(body, lattice_store_Witnessed_store_tag, id->b, LT_STORE_ID_LEN);
    size_t head = body->len;
    for (size_t j = i; j < n; j++) {
        const uint8_t *e = v + j * S_WITNESSED_LEN;
        if (told[j] || memcmp(e, id->b, LT_STORE_ID_LEN) != 0)
            continue;
        told[j] = true;
        if (rc || !st)
            continue; /* a store removed since: nobody can read it */
        lt_hash_t h;
        memcpy(h.b, e + LT_STORE_ID_LEN, LT_HASH_LEN);
        lt_buf_reset(one);
        rc = lt_store_get_intention(st, &h, one);
        if (rc == LT_OK && body->len > head &&
            body->len + one->len + S_ROW_OVERHEAD > S_REPLY_MAX) {
            s_witness_send(a, body);
            body->len = head;
        }
        if (rc == LT_OK)
            rc = lt_pb_append_bytes(body, lattice_store_Witnessed_intentions_tag, one->data,
                                    one->len);
    }
    if (body->len > head)
        s_witness_send(a, body);
    return rc;
}

/* Tells the witness watches what the commit just made durable: one event
 * (or several, in order) per store, in the order the stores were first
 * touched. */
static void s_witness_deliver(s_actor_t *a)
{
    size_t n = a->witnessed.len / S_WITNESSED_LEN;
    bool *told = n ? calloc(n, sizeof *told) : NULL;
    if (a->witnessed_lost || (n && !told))
        lt_log_error(a->log, S_TAG, "out of memory: witnessed intentions not told to %zu watches",
                     a->nwwatches);
    lt_buf_t body = LT_BUF_INIT, one = LT_BUF_INIT;
    for (size_t i = 0; told && i < n; i++) {
        if (told[i])
            continue;
        lt_store_id_t id;
        memcpy(id.b, a->witnessed.data + i * S_WITNESSED_LEN, LT_STORE_ID_LEN);
        lt_err_t rc = s_witness_tell_store(a, &id, i, told, &body, &one);
        if (rc) {
            char hex[2 * LT_STORE_ID_LEN + 1];
            lt_hex(id.b, LT_STORE_ID_LEN, hex);
            lt_log_error(a->log, S_TAG, "store %s: witnessed intentions not all told: %s", hex,
                         lt_strerror(rc));
        }
    }
    free(told);
    lt_buf_free(&body);
    lt_buf_free(&one);
    lt_buf_reset(&a->witnessed);
    a->witnessed_lost = 0;
    s_reap_wwatches(a);
}

static void s_witness_watch(s_actor_t *a, const s_origin_t *o)
{
    lt_pubkey_t k;
    if (lt_addr_remote(o->to, &k, NULL, 0)) {
        s_reply_error(a, o, LT_EREFUSED, "not served to other nodes");
        return;
    }
    for (size_t i = 0; i < a->nwwatches; i++)
        if (a->wwatches[i].corr == o->corr && strcmp(a->wwatches[i].to, o->to) == 0) {
            s_reply_error(a, o, LT_EEXIST, "a watch with this corr exists already");
            return;
        }
    if (a->nwwatches == S_MAX_WITNESS_WATCHES) {
        char why[128];
        snprintf(why, sizeof why, "this node serves at most %d witness watches; cancel one first",
                 S_MAX_WITNESS_WATCHES);
        s_reply_error(a, o, LT_EFULL, why);
        return;
    }
    if (!a->wsub) {
        lt_sub_filter_t f = {.any_store = true, .kinds = 1u << LT_EV_WITNESSED};
        lt_err_t rc = lt_db_subscribe(a->db, &f, s_on_witnessed, a, &a->wsub);
        if (rc) {
            a->wsub = 0;
            s_reply_error(a, o, rc, "subscribing failed");
            return;
        }
    }
    s_wwatch_t *w = &a->wwatches[a->nwwatches++];
    memset(w, 0, sizeof *w);
    memcpy(w->to, o->to, sizeof w->to);
    w->corr = o->corr;
    s_reply(a, o, LT_OK, false, NULL);
}

static void s_witness_unwatch(s_actor_t *a, const s_origin_t *o, const lt_store_req_t *r)
{
    for (size_t i = 0; i < a->nwwatches; i++) {
        s_wwatch_t *w = &a->wwatches[i];
        if (w->corr == r->num && strcmp(w->to, o->to) == 0) {
            w->dead = true;
            s_reap_wwatches(a);
            s_reply(a, o, LT_OK, false, NULL);
            return;
        }
    }
    s_reply_error(a, o, LT_ENOTFOUND, "no such watch (watches are cancelled by their own client)");
}

/* ---- the commit ---- */

static void s_serve_read(s_actor_t *a, const s_origin_t *o, const uint8_t *body, size_t len);

/* ---- who may open links: the kernel's admitted set ---- */

/* Whether an ingest may have changed who may link: the intention is a
 * system op, or witnessing it released others (which may be). Keeps the
 * admitted set's scan of every store off the ordinary ingest. */
static bool s_may_change_peers(const uint8_t *signed_bytes, size_t len,
                               const lt_ingest_result_t *res)
{
    if (res->status != LT_INGEST_WITNESSED)
        return false;
    if (res->witnessed > 1)
        return true;
    /* The intention alone, without the signature or the hash that
     * lt_signed_parse would compute again: ingest checked both. */
    lt_intention_t in;
    lt_uop_t u;
    return len >= LT_SIG_LEN && lt_intention_decode(signed_bytes, len - LT_SIG_LEN, &in) == LT_OK &&
           lt_uop_decode(in.ops, in.ops_len, &u) == LT_OK && u.is_system;
}

static int s_key_cmp(const void *x, const void *y)
{
    return memcmp(x, y, LT_KEY_LEN);
}

typedef struct {
    lt_buf_t *peers, *invites, *revoked;
    size_t npeers, ninvites, nrevoked;
    uint64_t now;
} s_admit_t;

static lt_err_t s_admit_peer(void *ctx, const lt_pubkey_t *peer, lattice_PeerStatus status)
{
    s_admit_t *ad = ctx;
    if (status == lattice_PeerStatus_PEER_ACTIVE && ad->npeers < LT_ADMIT_MAX) {
        ad->npeers++;
        return lt_buf_append(ad->peers, peer->b, LT_KEY_LEN);
    }
    if (status == lattice_PeerStatus_PEER_REVOKED && ad->nrevoked < LT_ADMIT_MAX) {
        ad->nrevoked++;
        return lt_buf_append(ad->revoked, peer->b, LT_KEY_LEN);
    }
    return LT_OK;
}

/* Sorts n keys and drops repeats; returns how many are left. */
static size_t s_sort_keys(lt_buf_t *keys, size_t n)
{
    if (n < 2)
        return n;
    qsort(keys->data, n, LT_KEY_LEN, s_key_cmp);
    size_t w = 1;
    for (size_t i = 1; i < n; i++)
        if (memcmp(keys->data + i * LT_KEY_LEN, keys->data + (w - 1) * LT_KEY_LEN, LT_KEY_LEN))
            memmove(keys->data + w++ * LT_KEY_LEN, keys->data + i * LT_KEY_LEN, LT_KEY_LEN);
    return w;
}

static bool s_has_key(const lt_buf_t *keys, size_t n, const uint8_t *k)
{
    return n && bsearch(k, keys->data, n, LT_KEY_LEN, s_key_cmp) != NULL;
}

static lt_err_t s_admit_invite(void *ctx, const lattice_InviteSet *inv)
{
    s_admit_t *ad = ctx;
    if (inv->status != lattice_InviteStatus_INVITE_OPEN || inv->expires_ms <= ad->now ||
        inv->secret_hash.size != LT_HASH_LEN || ad->ninvites >= LT_ADMIT_MAX)
        return LT_OK;
    ad->ninvites++;
    return lt_buf_append(ad->invites, inv->secret_hash.bytes, LT_HASH_LEN);
}

/* Tells the kernel who may open a peer link to this node (kernel.proto
 * AdmitSet): the active peers of every store held here, and the open
 * invites. The peers a child store inherits are its parent's, listed
 * through the parent (held here: that is how the child is known as one);
 * a key a child revokes may still link as a peer of the parent, and the
 * child refuses it (s_local_or_active_peer). */
static void s_admit_push(s_actor_t *a)
{
    lt_buf_t peers = LT_BUF_INIT, invites = LT_BUF_INIT, revoked = LT_BUF_INIT, body = LT_BUF_INIT;
    s_admit_t ad = {&peers, &invites, &revoked, 0, 0, 0, lt_db_now_ms(a->db)};
    lt_err_t rc = LT_OK;
    for (size_t i = 0; rc == LT_OK && i < lt_db_store_count(a->db); i++) {
        lt_store_t *st = lt_db_store_at(a->db, i);
        rc = lt_system_list_peers(st, s_admit_peer, &ad);
        if (rc == LT_OK)
            rc = lt_system_list_invites(st, s_admit_invite, &ad);
    }
    /* A key listed by several stores is listed once; a key active in one
     * store and revoked in another is a peer (of the first). */
    ad.npeers = s_sort_keys(&peers, ad.npeers);
    ad.nrevoked = s_sort_keys(&revoked, ad.nrevoked);
    for (size_t i = 0; rc == LT_OK && i < ad.npeers; i++)
        rc = lt_pb_append_bytes(&body, lattice_kernel_AdmitSet_peers_tag,
                                peers.data + i * LT_KEY_LEN, LT_KEY_LEN);
    for (size_t i = 0; rc == LT_OK && i < ad.nrevoked; i++)
        if (!s_has_key(&peers, ad.npeers, revoked.data + i * LT_KEY_LEN))
            rc = lt_pb_append_bytes(&body, lattice_kernel_AdmitSet_revoked_tag,
                                    revoked.data + i * LT_KEY_LEN, LT_KEY_LEN);
    for (size_t i = 0; rc == LT_OK && i < ad.ninvites; i++)
        rc = lt_pb_append_bytes(&body, lattice_kernel_AdmitSet_invites_tag,
                                invites.data + i * LT_HASH_LEN, LT_HASH_LEN);
    uint64_t corr = 0;
    if (rc == LT_OK)
        rc = lt_ctx_request(a->ctx, LT_ADMIT_KERNEL, lattice_kernel_KernelMsgType_KERNEL_ADMIT,
                            body.data, body.len, &corr);
    if (rc == LT_OK) {
        a->admit_dirty = false;
        lt_log_debug(a->log, S_TAG, "told the kernel: %zu peers, %zu open invites", ad.npeers,
                     ad.ninvites);
    } else if (rc == LT_ENOTFOUND) {
        a->admit_dirty = false; /* a runtime without a kernel (cooperative, tests) */
    } else {
        lt_log_warn(a->log, S_TAG, "cannot tell the kernel who may link: %s", lt_strerror(rc));
    }
    lt_buf_free(&peers);
    lt_buf_free(&invites);
    lt_buf_free(&revoked);
    lt_buf_free(&body);
}

static void s_children_sync(s_actor_t *a, bool ask_sync);

/* Commits the burst and pays everything owed, in order. */
static void s_flush(s_actor_t *a)
{
    lt_err_t rc = LT_OK;
    char why[sizeof(lt_errbuf_t)] = "";
    if (a->nwrites) {
        rc = lt_db_commit(a->db);
        if (rc)
            snprintf(why, sizeof why, "%s", lt_db_errmsg(a->db));
    }
    /* Child stores the commit declared or removed are opened or closed
     * before anyone hears of it (witness watchers, replies): whoever reacts
     * to the declaration finds the child there. */
    if (a->system_dirty) {
        a->system_dirty = false;
        if (rc == LT_OK)
            s_children_sync(a, true);
    }
    s_witness_deliver(a);
    s_reap_watches(a);
    a->nwrites = 0;
    /* The kernel learns of new peers and invites before anyone hears that
     * they were written: a joiner handed the token at once is let in. */
    if (a->admit_dirty && rc == LT_OK)
        s_admit_push(a);
    a->flushing = true;
    /* Serving a read may not add to the queue (flushing), so n is fixed. */
    for (size_t i = 0; i < a->nowed; i++) {
        s_owed_t *w = &a->owed[i];
        if (w->is_read) {
            s_serve_read(a, &w->o, w->body.data, w->body.len);
        } else if (w->on_commit && rc) {
            lt_buf_t e = LT_BUF_INIT;
            if (lt_store_error_encode(why[0] ? why : lt_strerror(rc), &e) != LT_OK)
                lt_buf_reset(&e);
            s_send_reply(a, &w->o, rc, e.data, e.len);
            lt_buf_free(&e);
        } else {
            s_send_reply(a, &w->o, w->status, w->body.data, w->body.len);
        }
        lt_buf_free(&w->body);
    }
    a->nowed = 0;
    a->flushing = false;
    s_reap_watches(a);
}

/* ---- helpers ---- */

static lt_store_t *s_store(s_actor_t *a, const s_origin_t *o, const lt_store_id_t *id,
                           const char *type)
{
    lt_store_t *st = lt_db_store(a->db, id);
    char hex[2 * LT_STORE_ID_LEN + 1], why[160];
    if (!st) {
        lt_hex(id->b, LT_STORE_ID_LEN, hex);
        snprintf(why, sizeof why, "no store %s on this node", hex);
        s_reply_error(a, o, LT_ENOTFOUND, why);
        return NULL;
    }
    if (type && strcmp(lt_store_type(st), type) != 0) {
        lt_hex(id->b, LT_STORE_ID_LEN, hex);
        snprintf(why, sizeof why, "store %s is a %s store, not a %s store", hex,
                 strcmp(lt_store_type(st), S_KV_TYPE) == 0 ? "kv" : "log",
                 strcmp(type, S_KV_TYPE) == 0 ? "kv" : "log");
        s_reply_error(a, o, LT_ETYPE, why);
        return NULL;
    }
    return st;
}

static lattice_store_StoreType s_type_of(const lt_store_t *st)
{
    return strcmp(lt_store_type(st), S_LOG_TYPE) == 0 ? lattice_store_StoreType_STORE_TYPE_LOG
                                                      : lattice_store_StoreType_STORE_TYPE_KV;
}

static void s_set_fixed(pb_bytes_array_t *f, const void *p, size_t n)
{
    f->size = (pb_size_t)n;
    memcpy(f->bytes, p, n);
}
#define S_SET(field, p, n) s_set_fixed((pb_bytes_array_t *)&(field), (p), (n))

/* Printable form of a key for summaries: the text, or hex. */
static void s_printable(const uint8_t *p, size_t len, char *out, size_t n)
{
    bool text = len > 0;
    for (size_t i = 0; i < len && text; i++)
        text = p[i] >= 0x20 && p[i] < 0x7f;
    if (text) {
        snprintf(out, n, "%.*s%s", (int)(len > 40 ? 40 : len), (const char *)p,
                 len > 40 ? "..." : "");
        return;
    }
    char hex[2 * 16 + 1];
    size_t m = len > 16 ? 16 : len;
    lt_hex(p, m, hex);
    snprintf(out, n, "0x%s%s", hex, len > m ? "..." : "");
}

typedef struct {
    unsigned n;
    lt_kv_entry_t first;
} s_kvsum_t;

static lt_err_t s_kvsum_cb(void *ctx, const lt_kv_entry_t *e)
{
    s_kvsum_t *s = ctx;
    if (s->n++ == 0)
        s->first = *e;
    return LT_OK;
}

static const char *s_peer_word(lattice_PeerStatus v)
{
    static const char *const w[] = {"unset", "active", "revoked", "dormant"};
    return (unsigned)v < sizeof w / sizeof w[0] ? w[v] : "?";
}

static const char *s_invite_word(lattice_InviteStatus v)
{
    static const char *const w[] = {"unset", "open", "consumed", "cancelled"};
    return (unsigned)v < sizeof w / sizeof w[0] ? w[v] : "?";
}

static const char *s_child_word(lattice_ChildStatus v)
{
    static const char *const w[] = {"unset", "active", "removed"};
    return (unsigned)v < sizeof w / sizeof w[0] ? w[v] : "?";
}

/* ---- child stores ----
 * A store's system table declares its children (ChildSet). Every node that
 * holds a store holds the children it declares active: it opens them empty
 * (their history arrives by sync and gossip, as any store's does) and
 * closes them when their declaration becomes removed. A child inherits its
 * parent's peers (s_peer_effective, s_inherited_peers). Which held store
 * declares which child is kept in `kin`, rebuilt whenever a commit may have
 * changed a system table and at start; a child declared by several held
 * stores takes the first of them (in id order) for its parent. */

/* One declaration of a child, as a scan of the system tables finds it. */
typedef struct {
    lt_store_id_t child, parent;
    lattice_ChildStatus status;
    char type[sizeof(((lattice_ChildSet *)0)->type)];
} s_decl_t;

typedef struct {
    s_decl_t *v;
    size_t n, cap;
    lt_store_id_t parent; /* the store being scanned */
} s_decls_t;

static lt_err_t s_decl_row(void *ctx, const lattice_ChildSet *c)
{
    s_decls_t *d = ctx;
    if (d->n == d->cap) {
        size_t cap = d->cap ? 2 * d->cap : 16;
        s_decl_t *v = realloc(d->v, cap * sizeof *v);
        if (!v)
            return LT_ENOMEM;
        d->v = v;
        d->cap = cap;
    }
    s_decl_t *x = &d->v[d->n++];
    memcpy(x->child.b, c->store_id.bytes, LT_STORE_ID_LEN); /* the table checked the size */
    x->parent = d->parent;
    x->status = c->status;
    snprintf(x->type, sizeof x->type, "%s", c->type);
    return LT_OK;
}

static int s_decl_cmp(const void *x, const void *y)
{
    const s_decl_t *p = x, *q = y;
    int c = memcmp(p->child.b, q->child.b, LT_STORE_ID_LEN);
    return c ? c : memcmp(p->parent.b, q->parent.b, LT_STORE_ID_LEN);
}

/* Every child declaration of every held store, by (child, parent). A store
 * whose table cannot be read is passed over, with one log line. */
static void s_decls_scan(s_actor_t *a, s_decls_t *d)
{
    d->n = 0;
    for (size_t i = 0; i < lt_db_store_count(a->db); i++) {
        lt_store_t *st = lt_db_store_at(a->db, i);
        d->parent = *lt_store_id(st);
        size_t before = d->n;
        lt_err_t rc = lt_system_list_children(st, s_decl_row, d);
        if (rc) {
            char hex[2 * LT_STORE_ID_LEN + 1];
            lt_hex(d->parent.b, LT_STORE_ID_LEN, hex);
            lt_log_error(a->log, S_TAG, "store %s: its child stores cannot be read: %s", hex,
                         lt_strerror(rc));
            d->n = before;
        }
    }
    if (d->n > 1)
        qsort(d->v, d->n, sizeof *d->v, s_decl_cmp);
}

/* Whether another declaration of the same child (they sit next to each
 * other) is active: a child declared removed by one parent and active by
 * another stays. */
static bool s_decl_active_elsewhere(const s_decls_t *d, size_t i)
{
    for (size_t k = i; k-- > 0 && lt_store_id_eq(&d->v[k].child, &d->v[i].child);)
        if (d->v[k].status == lattice_ChildStatus_CHILD_ACTIVE)
            return true;
    for (size_t k = i + 1; k < d->n && lt_store_id_eq(&d->v[k].child, &d->v[i].child); k++)
        if (d->v[k].status == lattice_ChildStatus_CHILD_ACTIVE)
            return true;
    return false;
}

/* The first active declaration of each child whose parent is still held,
 * a store never its own parent. */
static void s_kin_rebuild(s_actor_t *a, const s_decls_t *d)
{
    free(a->kin);
    a->kin = d->n ? malloc(d->n * sizeof *a->kin) : NULL;
    a->nkin = 0;
    if (d->n && !a->kin) {
        lt_log_error(a->log, S_TAG, "out of memory: child stores inherit no peers for now");
        return;
    }
    for (size_t i = 0; i < d->n; i++) {
        const s_decl_t *x = &d->v[i];
        if (x->status != lattice_ChildStatus_CHILD_ACTIVE ||
            lt_store_id_eq(&x->child, &x->parent) || !lt_db_store(a->db, &x->parent) ||
            (a->nkin && lt_store_id_eq(&a->kin[a->nkin - 1].child, &x->child)))
            continue;
        a->kin[a->nkin++] = (s_kin_t){x->child, x->parent};
    }
}

static int s_kin_cmp(const void *key, const void *elem)
{
    return memcmp(key, ((const s_kin_t *)elem)->child.b, LT_STORE_ID_LEN);
}

/* The held store that declares st an active child, or NULL. */
static lt_store_t *s_kin_parent(s_actor_t *a, const lt_store_t *st)
{
    const s_kin_t *k =
        a->nkin ? bsearch(lt_store_id(st)->b, a->kin, a->nkin, sizeof *a->kin, s_kin_cmp) : NULL;
    return k ? lt_db_store(a->db, &k->parent) : NULL;
}

/* Asks the sync service to reconcile store `id` (NULL: every store) now:
 * children just opened are empty until then. Best effort: the periodic
 * round and gossip bring their history anyway. */
static void s_ask_sync(s_actor_t *a, const lt_store_id_t *id)
{
    lattice_sync_SyncNow m = lattice_sync_SyncNow_init_zero;
    if (id)
        S_SET(m.store, id->b, LT_STORE_ID_LEN);
    lt_buf_t b = LT_BUF_INIT;
    uint64_t corr = 0;
    lt_err_t rc = lt_pb_encode_static(lattice_sync_SyncNow_fields, &m, &b);
    if (rc == LT_OK)
        rc =
            lt_ctx_request(a->ctx, "sync", lattice_sync_SyncMsgType_SYNC_NOW, b.data, b.len, &corr);
    if (rc)
        lt_log_debug(a->log, S_TAG, "the sync service was not asked to sync: %s", lt_strerror(rc));
    lt_buf_free(&b);
}

/* Removes the child of declaration x here: its parent declares it removed. */
static void s_close_child(s_actor_t *a, const s_decl_t *x)
{
    char hex[2 * LT_STORE_ID_LEN + 1], phex[2 * LT_STORE_ID_LEN + 1];
    lt_hex(x->child.b, LT_STORE_ID_LEN, hex);
    lt_hex(x->parent.b, LT_STORE_ID_LEN, phex);
    lt_err_t rc = lt_store_remove(a->db, &x->child);
    if (rc) {
        lt_log_warn(a->log, S_TAG, "store %s not closed (store %s declares it removed): %s", hex,
                    phex, lt_db_errmsg(a->db));
        return;
    }
    s_end_watches(a, &x->child);
    s_reap_watches(a);
    a->admit_dirty = true; /* its peers and invites are gone with it */
    lt_log_info(a->log, S_TAG, "store %s closed: its parent %.8s declares it removed", hex, phex);
}

/* Makes the stores held here match the child declarations of the stores
 * held here: a child declared removed is removed (unless another held store
 * declares it active), a child declared active and not held is opened
 * empty, and `kin` is rebuilt. Runs right after a commit (nothing staged):
 * removals and openings commit on their own. ask_sync: ask the sync
 * service to fill what was opened. */
static void s_children_sync(s_actor_t *a, bool ask_sync)
{
    s_decls_t d = {NULL, 0, 0, {{0}}};
    s_decls_scan(a, &d);
    /* Removals first: each commits by itself (lt_store_remove). */
    for (size_t i = 0; i < d.n; i++) {
        const s_decl_t *x = &d.v[i];
        if (x->status == lattice_ChildStatus_CHILD_REMOVED && lt_db_store(a->db, &x->child) &&
            !lt_store_id_eq(&x->child, &x->parent) && lt_db_store(a->db, &x->parent) &&
            !s_decl_active_elsewhere(&d, i))
            s_close_child(a, x);
    }
    size_t opened = 0;
    lt_store_id_t last = {{0}};
    char hex[2 * LT_STORE_ID_LEN + 1], phex[2 * LT_STORE_ID_LEN + 1];
    for (size_t i = 0; i < d.n; i++) {
        const s_decl_t *x = &d.v[i];
        if (x->status != lattice_ChildStatus_CHILD_ACTIVE || lt_db_store(a->db, &x->child) ||
            !lt_db_store(a->db, &x->parent))
            continue;
        lt_hex(x->child.b, LT_STORE_ID_LEN, hex);
        lt_hex(x->parent.b, LT_STORE_ID_LEN, phex);
        lt_err_t rc = lt_store_create(a->db, x->type, &x->child, NULL);
        if (rc == LT_ETYPE || rc == LT_EINVAL) {
            /* Refused before anything was staged: this one alone. */
            lt_log_warn(a->log, S_TAG, "child %s of store %.8s not opened: %s", hex, phex,
                        lt_db_errmsg(a->db));
            continue;
        }
        if (rc) {
            lt_log_error(a->log, S_TAG, "child %s of store %.8s not opened: %s", hex, phex,
                         lt_db_errmsg(a->db));
            lt_db_abort(a->db); /* none of them: the pending state may be half made */
            opened = 0;
            break;
        }
        lt_log_info(a->log, S_TAG, "store %s opened: a child of %.8s", hex, phex);
        opened++;
        last = x->child;
    }
    if (opened && lt_db_commit(a->db) != LT_OK) {
        lt_log_error(a->log, S_TAG, "%zu child stores not opened: %s", opened, lt_db_errmsg(a->db));
        opened = 0;
    }
    s_kin_rebuild(a, &d);
    free(d.v);
    if (opened && ask_sync)
        s_ask_sync(a, opened == 1 ? &last : NULL);
}

/* A store's name; for a child held empty (its history has not arrived
 * yet), the name its parent declared. LT_ENOTFOUND: none. */
static lt_err_t s_store_name(s_actor_t *a, lt_store_t *st, char *out, size_t cap)
{
    lt_err_t rc = lt_system_get_name(st, out, cap);
    lt_store_t *parent = rc == LT_ENOTFOUND ? s_kin_parent(a, st) : NULL;
    lattice_ChildSet c = lattice_ChildSet_init_zero;
    if (parent && lt_system_get_child(parent, lt_store_id(st), &c) == LT_OK && c.name[0]) {
        snprintf(out, cap, "%s", c.name);
        rc = LT_OK;
    }
    return rc;
}

/* ---- peers: who a store answers ---- */

/* Whether `peer` is an effective active peer of st: active in its own
 * system table; or, unless revoked there, an effective active peer of its
 * parent (S_KIN_DEPTH generations up at most). */
static lt_err_t s_peer_effective(s_actor_t *a, lt_store_t *st, const lt_pubkey_t *peer,
                                 bool *active)
{
    *active = false;
    for (unsigned depth = 0; st && depth <= S_KIN_DEPTH; depth++) {
        lattice_PeerStatus ps = lattice_PeerStatus_PEER_UNSET;
        lt_err_t rc = lt_system_get_peer(st, peer, &ps);
        if (rc != LT_OK && rc != LT_ENOTFOUND)
            return rc;
        if (ps == lattice_PeerStatus_PEER_ACTIVE) {
            *active = true;
            return LT_OK;
        }
        if (ps == lattice_PeerStatus_PEER_REVOKED)
            return LT_OK;
        st = s_kin_parent(a, st);
    }
    return LT_OK;
}

/* The active and revoked keys of one system table. */
typedef struct {
    lt_buf_t active, revoked;
    size_t nactive, nrevoked;
} s_level_t;

static lt_err_t s_level_row(void *ctx, const lt_pubkey_t *peer, lattice_PeerStatus status)
{
    s_level_t *l = ctx;
    if (status == lattice_PeerStatus_PEER_ACTIVE) {
        l->nactive++;
        return lt_buf_append(&l->active, peer->b, LT_KEY_LEN);
    }
    if (status == lattice_PeerStatus_PEER_REVOKED) {
        l->nrevoked++;
        return lt_buf_append(&l->revoked, peer->b, LT_KEY_LEN);
    }
    return LT_OK;
}

static lt_err_t s_level_read(lt_store_t *st, s_level_t *l)
{
    lt_buf_reset(&l->active);
    lt_buf_reset(&l->revoked);
    l->nactive = l->nrevoked = 0;
    return lt_system_list_peers(st, s_level_row, l);
}

/* The keys st inherits (sorted, each once, *n of them into out): the
 * effective active peers of its parent that its own table neither holds
 * active nor revokes. A key revoked by a generation in between is not
 * inherited past it. */
static lt_err_t s_inherited_peers(s_actor_t *a, lt_store_t *st, lt_buf_t *out, size_t *n)
{
    lt_buf_t excl = LT_BUF_INIT; /* sorted: held or revoked below the generation read */
    size_t nexcl = 0;
    s_level_t l = {LT_BUF_INIT, LT_BUF_INIT, 0, 0};
    lt_buf_reset(out);
    *n = 0;
    lt_err_t rc = s_level_read(st, &l);
    if (rc == LT_OK)
        rc = lt_buf_append(&excl, l.active.data, l.active.len);
    if (rc == LT_OK)
        rc = lt_buf_append(&excl, l.revoked.data, l.revoked.len);
    if (rc == LT_OK)
        nexcl = s_sort_keys(&excl, l.nactive + l.nrevoked);
    lt_store_t *p = s_kin_parent(a, st);
    for (unsigned depth = 1; rc == LT_OK && p && depth <= S_KIN_DEPTH; depth++) {
        rc = s_level_read(p, &l);
        size_t added = 0;
        for (size_t i = 0; rc == LT_OK && i < l.nactive; i++) {
            const uint8_t *k = l.active.data + i * LT_KEY_LEN;
            if (s_has_key(&excl, nexcl, k) || s_has_key(out, *n, k))
                continue;
            out->len = (*n + added) * LT_KEY_LEN; /* past what a sort left behind */
            rc = lt_buf_append(out, k, LT_KEY_LEN);
            if (rc == LT_OK)
                added++;
        }
        *n = s_sort_keys(out, *n + added);
        excl.len = nexcl * LT_KEY_LEN;
        if (rc == LT_OK)
            rc = lt_buf_append(&excl, l.revoked.data, l.revoked.len);
        if (rc == LT_OK)
            nexcl = s_sort_keys(&excl, nexcl + l.nrevoked);
        p = s_kin_parent(a, p);
    }
    out->len = *n * LT_KEY_LEN;
    lt_buf_free(&excl);
    lt_buf_free(&l.active);
    lt_buf_free(&l.revoked);
    return rc;
}

/* A short description of an intention's ops, for history and debug. */
static void s_summary(const lt_store_t *st, const uint8_t *ops, size_t len, char *out, size_t n)
{
    lt_uop_t u;
    char k[64];
    if (lt_uop_decode(ops, len, &u) != LT_OK) {
        snprintf(out, n, "undecodable ops (%zu bytes)", len);
        return;
    }
    if (u.is_system) {
        const lattice_SystemOp *s = &u.system;
        switch (s->which_op) {
        case lattice_SystemOp_peer_tag:
            s_printable(s->op.peer.key.bytes, s->op.peer.key.size, k, sizeof k);
            snprintf(out, n, "system: peer %.16s %s", k, s_peer_word(s->op.peer.status));
            break;
        case lattice_SystemOp_invite_tag:
            s_printable(s->op.invite.secret_hash.bytes, s->op.invite.secret_hash.size, k, sizeof k);
            snprintf(out, n, "system: invite %.16s %s", k, s_invite_word(s->op.invite.status));
            break;
        case lattice_SystemOp_child_tag:
            s_printable(s->op.child.store_id.bytes, s->op.child.store_id.size, k, sizeof k);
            snprintf(out, n, "system: child %.32s %.20s '%.40s' %s", k, s->op.child.type,
                     s->op.child.name, s_child_word(s->op.child.status));
            break;
        case lattice_SystemOp_name_tag:
            snprintf(out, n, "system: name '%.64s'", s->op.name);
            break;
        case lattice_SystemOp_strategy_tag:
            snprintf(out, n, "system: strategy %d", (int)s->op.strategy);
            break;
        default:
            snprintf(out, n, "system: unknown op");
        }
        return;
    }
    if (strcmp(lt_store_type(st), S_LOG_TYPE) == 0) {
        lt_view_t text;
        if (lt_logentry_decode(u.app.p, u.app.len, &text) == LT_OK)
            snprintf(out, n, "append %zu bytes", text.len);
        else
            snprintf(out, n, "malformed log entry");
        return;
    }
    s_kvsum_t s = {0, {{NULL, 0}, {NULL, 0}, false}};
    if (lt_kvop_decode(u.app.p, u.app.len, s_kvsum_cb, &s) != LT_OK) {
        snprintf(out, n, "malformed kv op");
    } else if (s.n == 1) {
        s_printable(s.first.key.p, s.first.key.len, k, sizeof k);
        if (s.first.del)
            snprintf(out, n, "del %s", k);
        else
            snprintf(out, n, "put %s (%zu bytes)", k, s.first.value.len);
    } else {
        snprintf(out, n, "batch of %u ops", s.n);
    }
}

/* ---- reads ---- */

static void s_node_info(s_actor_t *a, const s_origin_t *o)
{
    lattice_store_NodeInfo m = lattice_store_NodeInfo_init_zero;
    S_SET(m.node_key, lt_db_node_key(a->db)->b, LT_KEY_LEN);
    m.stores = (uint32_t)lt_db_store_count(a->db);
    lt_buf_t b = LT_BUF_INIT;
    lt_err_t rc = lt_pb_encode_static(lattice_store_NodeInfo_fields, &m, &b);
    if (rc)
        s_reply_error(a, o, rc, "encoding the reply failed");
    else
        s_reply(a, o, LT_OK, false, &b);
    lt_buf_free(&b);
}

static void s_store_list(s_actor_t *a, const s_origin_t *o)
{
    lt_buf_t b = LT_BUF_INIT;
    lt_err_t rc = LT_OK;
    for (size_t i = 0; rc == LT_OK && i < lt_db_store_count(a->db); i++) {
        lt_store_t *st = lt_db_store_at(a->db, i);
        lattice_store_StoreSummary s = lattice_store_StoreSummary_init_zero;
        S_SET(s.store, lt_store_id(st)->b, LT_STORE_ID_LEN);
        s.type = s_type_of(st);
        if (s_store_name(a, st, s.name, sizeof s.name) != LT_OK)
            s.name[0] = '\0';
        rc = lt_pb_append_field(&b, lattice_store_StoreList_stores_tag,
                                lattice_store_StoreSummary_fields, &s);
    }
    if (rc)
        s_reply_error(a, o, rc, "encoding the store list failed");
    else
        s_reply(a, o, LT_OK, false, &b);
    lt_buf_free(&b);
}

static lt_err_t s_count_peer(void *ctx, const lt_pubkey_t *peer, lattice_PeerStatus status)
{
    (void)peer;
    (void)status;
    (*(uint32_t *)ctx)++;
    return LT_OK;
}

static lt_err_t s_count_child(void *ctx, const lattice_ChildSet *child)
{
    if (child->status == lattice_ChildStatus_CHILD_ACTIVE)
        (*(uint32_t *)ctx)++;
    return LT_OK;
}

static void s_store_info(s_actor_t *a, const s_origin_t *o, const lt_store_req_t *r)
{
    lt_store_t *st = s_store(a, o, &r->store, NULL);
    if (!st)
        return;
    lattice_store_StoreInfo m = lattice_store_StoreInfo_init_zero;
    S_SET(m.store, r->store.b, LT_STORE_ID_LEN);
    m.type = s_type_of(st);
    if (s_store_name(a, st, m.name, sizeof m.name) != LT_OK)
        m.name[0] = '\0';
    m.witnessed = lt_store_witnessed_count(st);
    unsigned forks = 0;
    lt_err_t rc = lt_store_floating_count(st, &m.floating);
    if (rc == LT_OK)
        rc = lt_store_forks(st, NULL, NULL, &forks);
    if (rc == LT_OK)
        rc = lt_system_list_peers(st, s_count_peer, &m.peers);
    if (rc == LT_OK)
        rc = lt_system_list_children(st, s_count_child, &m.children);
    m.forks = forks;
    lt_buf_t b = LT_BUF_INIT;
    if (rc == LT_OK)
        rc = lt_pb_encode_static(lattice_store_StoreInfo_fields, &m, &b);
    if (rc)
        s_reply_db_error(a, o, rc);
    else
        s_reply(a, o, LT_OK, false, &b);
    lt_buf_free(&b);
}

/* ---- the open's gap ---- */

/* Starts checking the gap of the next store the open left one in. */
static void s_gap_next(s_actor_t *a)
{
    a->gap.active = false;
    for (size_t i = 0; i < lt_db_store_count(a->db); i++) {
        lt_store_t *st = lt_db_store_at(a->db, i);
        uint64_t from, to;
        if (!lt_store_open_gap(st, &from, &to))
            continue;
        char sid[2 * LT_STORE_ID_LEN + 1];
        lt_hex(lt_store_id(st)->b, LT_STORE_ID_LEN, sid);
        if (lt_store_verify_range(st, from, to, false, &a->gap.v, NULL) != LT_OK ||
            lt_ctx_timer(a->ctx, 0, S_TIMER_GAP) != LT_OK) {
            lt_log_error(a->log, S_TAG, "store %s: cannot check records %llu to %llu: %s", sid,
                         (unsigned long long)from, (unsigned long long)to, lt_db_errmsg(a->db));
            continue;
        }
        lt_log_info(a->log, S_TAG,
                    "store %s: checking records %llu to %llu, which the open passed over", sid,
                    (unsigned long long)from, (unsigned long long)to);
        a->gap.active = true;
        a->gap.id = *lt_store_id(st);
        a->gap.slice = S_GAP_SLICE;
        a->gap.token = S_TIMER_GAP;
        return;
    }
}

/* One turn of a running check: its next slice of records. Returns false
 * while it goes on (its timer is set again); true once it has ended, with
 * *rc LT_OK when the whole range chained (finish included), LT_ENOTFOUND
 * when the store was removed meanwhile, else the break or the failure. */
static bool s_check_turn(s_actor_t *a, s_check_t *c, lt_err_t *rc)
{
    c->active = false;
    lt_store_t *st = lt_db_store(a->db, &c->id);
    if (!st) {
        *rc = LT_ENOTFOUND;
        return true;
    }
    *rc = lt_store_verify_step(st, &c->v, c->slice, NULL);
    if (*rc == LT_OK && c->v.next <= c->v.end) {
        *rc = lt_ctx_timer(a->ctx, 0, c->token);
        c->active = *rc == LT_OK;
        return !c->active;
    }
    if (*rc == LT_OK)
        *rc = lt_store_verify_finish(st, &c->v, false, NULL);
    return true;
}

static void s_gap_slice(s_actor_t *a)
{
    lt_err_t rc;
    if (!a->gap.active || !s_check_turn(a, &a->gap, &rc))
        return;
    lt_store_t *st = lt_db_store(a->db, &a->gap.id);
    if (st && rc == LT_OK)
        rc = lt_store_open_gap_done(st, true);
    if (st && rc == LT_OK) {
        a->nwrites++; /* the verified point, committed with what is staged */
        s_flush(a);
    } else if (st) {
        /* The verified point stays: the next open checks from there (and
         * `lattice store verify` names the same record). */
        char sid[2 * LT_STORE_ID_LEN + 1];
        lt_hex(a->gap.id.b, LT_STORE_ID_LEN, sid);
        lt_log_error(a->log, S_TAG, "store %s: the check after opening failed: %s", sid,
                     lt_db_errmsg(a->db));
        if (lt_store_open_gap_done(st, false) != LT_OK)
            lt_log_debug(a->log, S_TAG, "store %s: its gap was not forgotten", sid);
    }
    s_gap_next(a);
}

/* ---- STORE_VERIFY ---- */

/* One slice of the running verify, and the answer once it has ended. */
static void s_verify_slice(s_actor_t *a)
{
    lt_err_t rc;
    if (!a->verify.active || !s_check_turn(a, &a->verify, &rc))
        return;
    if (rc == LT_ENOTFOUND) {
        s_reply_error(a, &a->verify_o, rc, "the store was removed during its verify");
        return;
    }
    if (rc) {
        s_reply_db_error(a, &a->verify_o, rc);
        return;
    }
    lattice_store_StoreVerified m = lattice_store_StoreVerified_init_zero;
    m.records = a->verify.v.end;
    lt_buf_t b = LT_BUF_INIT;
    rc = lt_pb_encode_static(lattice_store_StoreVerified_fields, &m, &b);
    if (rc)
        s_reply_error(a, &a->verify_o, rc, "cannot encode the verify's result");
    else
        s_reply(a, &a->verify_o, LT_OK, false, &b);
    lt_buf_free(&b);
}

static void s_store_verify(s_actor_t *a, const s_origin_t *o, const lt_store_req_t *r)
{
    if (a->verify.active) {
        char sid[2 * LT_STORE_ID_LEN + 1];
        lt_hex(a->verify.id.b, LT_STORE_ID_LEN, sid);
        char why[256];
        snprintf(why, sizeof why,
                 "a verify of store %s is running (record %llu of %llu); this one waits for it",
                 sid, (unsigned long long)a->verify.v.next, (unsigned long long)a->verify.v.end);
        s_reply_error(a, o, LT_EUNAVAILABLE, why);
        return;
    }
    lt_store_t *st = s_store(a, o, &r->store, NULL);
    if (!st)
        return;
    lt_err_t rc = lt_store_verify_begin(st, true, &a->verify.v, NULL);
    if (rc) {
        s_reply_db_error(a, o, rc);
        return;
    }
    a->verify = (s_check_t){.active = true,
                            .id = r->store,
                            .v = a->verify.v,
                            .slice = S_VERIFY_SLICE,
                            .token = S_TIMER_VERIFY};
    a->verify_o = *o;
    s_verify_slice(a);
}

static bool s_is_hex(const char *s)
{
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') || (*s >= 'A' && *s <= 'F')))
            return false;
    return true;
}

static void s_store_resolve(s_actor_t *a, const s_origin_t *o, const lt_store_req_t *r)
{
    const char *q = r->name;
    size_t qlen = strlen(q);
    size_t n = lt_db_store_count(a->db);
    const lt_store_t *found = NULL;
    unsigned by_name = 0, by_prefix = 0;
    const lt_store_t *name_hit = NULL, *prefix_hit = NULL;
    char lower[2 * LT_STORE_ID_LEN + 1] = "";
    bool hex = qlen <= 2 * LT_STORE_ID_LEN && s_is_hex(q);
    for (size_t i = 0; hex && i < qlen; i++)
        lower[i] = (char)(q[i] >= 'A' && q[i] <= 'F' ? q[i] - 'A' + 'a' : q[i]);
    for (size_t i = 0; i < n; i++) {
        lt_store_t *st = lt_db_store_at(a->db, i);
        char name[256], id[2 * LT_STORE_ID_LEN + 1];
        lt_hex(lt_store_id(st)->b, LT_STORE_ID_LEN, id);
        if (hex && qlen == 2 * LT_STORE_ID_LEN && strcmp(id, lower) == 0)
            found = st;
        if (s_store_name(a, st, name, sizeof name) == LT_OK && strcmp(name, q) == 0)
            by_name++, name_hit = st;
        if (hex && strncmp(id, lower, qlen) == 0)
            by_prefix++, prefix_hit = st;
    }
    char why[400];
    if (!found && by_name == 1)
        found = name_hit;
    if (!found && by_name > 1) {
        snprintf(why, sizeof why, "%u stores are named '%s': use an id", by_name, q);
        s_reply_error(a, o, LT_EEXIST, why);
        return;
    }
    if (!found && by_prefix == 1)
        found = prefix_hit;
    if (!found && by_prefix > 1) {
        snprintf(why, sizeof why, "'%s' is a prefix of %u store ids: type more of it", q,
                 by_prefix);
        s_reply_error(a, o, LT_EEXIST, why);
        return;
    }
    if (!found) {
        snprintf(why, sizeof why, "no store named or with an id starting with '%s'", q);
        s_reply_error(a, o, LT_ENOTFOUND, why);
        return;
    }
    lattice_store_StoreRef m = lattice_store_StoreRef_init_zero;
    S_SET(m.store, lt_store_id(found)->b, LT_STORE_ID_LEN);
    lt_buf_t b = LT_BUF_INIT;
    lt_err_t rc = lt_pb_encode_static(lattice_store_StoreRef_fields, &m, &b);
    if (rc)
        s_reply_error(a, o, rc, "encoding the reply failed");
    else
        s_reply(a, o, LT_OK, false, &b);
    lt_buf_free(&b);
}

static void s_kv_get(s_actor_t *a, const s_origin_t *o, const lt_store_req_t *r)
{
    lt_store_t *st = s_store(a, o, &r->store, S_KV_TYPE);
    if (!st)
        return;
    lt_buf_t v = LT_BUF_INIT, b = LT_BUF_INIT;
    bool conflicted = false;
    lt_err_t rc = lt_kvstore_get(st, r->key.p, r->key.len, &v, &conflicted);
    if (rc == LT_OK) {
        lattice_store_KvItem m = lattice_store_KvItem_init_zero;
        lt_view_t val = {v.data, v.len};
        lt_pb_bind_write(&m.key, &r->key);
        lt_pb_bind_write(&m.value, &val);
        m.conflicted = conflicted;
        rc = lt_pb_encode_static(lattice_store_KvItem_fields, &m, &b);
    }
    if (rc == LT_ENOTFOUND)
        s_reply_error(a, o, rc, "no such key");
    else if (rc)
        s_reply_db_error(a, o, rc);
    else
        s_reply(a, o, LT_OK, false, &b);
    lt_buf_free(&v);
    lt_buf_free(&b);
}

/* Ends a list reply that stopped at S_REPLY_MAX with `truncated = true`
 * (field 2, a varint, in KvList, LogEntries and HistoryList). */
static lt_err_t s_mark_truncated(lt_buf_t *b)
{
    static const uint8_t flag[2] = {(2u << 3) | 0u, 1};
    return lt_buf_append(b, flag, sizeof flag);
}

/* The result of a listing walk: LT_EFULL from a row callback means the reply
 * reached S_REPLY_MAX, which is not an error. */
static lt_err_t s_end_listing(lt_buf_t *b, lt_err_t rc)
{
    return rc == LT_EFULL ? s_mark_truncated(b) : rc;
}

static lt_err_t s_list_row(void *ctx, const uint8_t *key, size_t klen, const lt_heads_t *heads)
{
    lt_buf_t *b = ctx;
    size_t vlen = heads->n ? heads->v[0].value.len : 0;
    if (b->len + klen + vlen + S_ROW_OVERHEAD > S_REPLY_MAX)
        return LT_EFULL;
    lattice_store_KvItem m = lattice_store_KvItem_init_zero;
    lt_view_t k = {key, klen}, v = {NULL, 0};
    if (heads->n) {
        v = heads->v[0].value;
        m.deleted = heads->v[0].tombstone;
    }
    m.conflicted = heads->n > 1;
    lt_pb_bind_write(&m.key, &k);
    lt_pb_bind_write(&m.value, &v);
    return lt_pb_append_field(b, lattice_store_KvList_items_tag, lattice_store_KvItem_fields, &m);
}

static void s_kv_list(s_actor_t *a, const s_origin_t *o, const lt_store_req_t *r)
{
    lt_store_t *st = s_store(a, o, &r->store, S_KV_TYPE);
    if (!st)
        return;
    lt_buf_t b = LT_BUF_INIT;
    lt_err_t rc = s_end_listing(&b, lt_kvstore_list(st, r->key.p, r->key.len, s_list_row, &b));
    if (rc)
        s_reply_db_error(a, o, rc);
    else
        s_reply(a, o, LT_OK, false, &b);
    lt_buf_free(&b);
}

static lattice_store_PeerState s_peer_state(lattice_PeerStatus st)
{
    switch (st) {
    case lattice_PeerStatus_PEER_ACTIVE:
        return lattice_store_PeerState_PEER_STATE_ACTIVE;
    case lattice_PeerStatus_PEER_REVOKED:
        return lattice_store_PeerState_PEER_STATE_REVOKED;
    case lattice_PeerStatus_PEER_DORMANT:
        return lattice_store_PeerState_PEER_STATE_DORMANT;
    default:
        return lattice_store_PeerState_PEER_STATE_UNSET;
    }
}

static lt_err_t s_peer_item(lt_buf_t *b, const uint8_t *key, lattice_PeerStatus status,
                            bool inherited)
{
    if (b->len + S_ROW_OVERHEAD > S_REPLY_MAX)
        return LT_EFULL;
    lattice_store_PeerItem m = lattice_store_PeerItem_init_zero;
    S_SET(m.key, key, LT_KEY_LEN);
    m.state = s_peer_state(status);
    m.inherited = inherited;
    return lt_pb_append_field(b, lattice_store_PeerList_peers_tag, lattice_store_PeerItem_fields,
                              &m);
}

static lt_err_t s_peer_row(void *ctx, const lt_pubkey_t *peer, lattice_PeerStatus status)
{
    return s_peer_item(ctx, peer->b, status, false);
}

/* The store's own peers, then those it inherits (store.proto PeerList). */
static void s_peer_list(s_actor_t *a, const s_origin_t *o, const lt_store_req_t *r)
{
    lt_store_t *st = s_store(a, o, &r->store, NULL);
    if (!st)
        return;
    lt_buf_t b = LT_BUF_INIT, inh = LT_BUF_INIT;
    size_t ninh = 0;
    lt_err_t rc = lt_system_list_peers(st, s_peer_row, &b);
    if (rc == LT_OK)
        rc = s_inherited_peers(a, st, &inh, &ninh);
    for (size_t i = 0; rc == LT_OK && i < ninh; i++)
        rc = s_peer_item(&b, inh.data + i * LT_KEY_LEN, lattice_PeerStatus_PEER_ACTIVE, true);
    lt_buf_free(&inh);
    rc = s_end_listing(&b, rc);
    if (rc)
        s_reply_db_error(a, o, rc);
    else
        s_reply(a, o, LT_OK, false, &b);
    lt_buf_free(&b);
}

typedef struct {
    lt_store_t *st;
    lt_buf_t *b;
    lt_buf_t one;
    uint64_t next;
} s_clone_t;

static lt_err_t s_clone_row(void *ctx, uint64_t seq, const lt_hash_t *h)
{
    s_clone_t *c = ctx;
    lt_buf_reset(&c->one);
    lt_err_t rc = lt_store_get_intention(c->st, h, &c->one);
    if (rc)
        return rc;
    /* At least one intention per chunk; then stop short of the frame. */
    if (c->b->len && c->b->len + c->one.len + S_ROW_OVERHEAD > S_REPLY_MAX)
        return LT_EFULL;
    rc = lt_pb_append_bytes(c->b, lattice_store_CloneChunk_intentions_tag, c->one.data, c->one.len);
    if (rc == LT_OK)
        c->next = seq + 1;
    return rc;
}

/* Whether the sender may read the store's intentions (CloneRead, Fetch,
 * ChainRead): the node itself, or an effective active peer of the store
 * (for a child store, its parent's active peers count unless the child
 * revokes them: DESIGN.md §7). When not, answers LT_EREFUSED (also when the
 * peer's state cannot be read) and returns false. */
static bool s_local_or_active_peer(s_actor_t *a, const s_origin_t *o, lt_store_t *st)
{
    lt_pubkey_t peer;
    if (!lt_addr_remote(o->to, &peer, NULL, 0))
        return true;
    bool active = false;
    lt_err_t rc = s_peer_effective(a, st, &peer, &active);
    if (rc != LT_OK || !active) {
        s_reply_error(a, o, LT_EREFUSED, "not an active peer of this store");
        return false;
    }
    return true;
}

/* Ends a CloneChunk whose intentions b holds (next_seq, the store's count)
 * and sends it; or the error rc that stopped it. */
static void s_reply_chunk(s_actor_t *a, const s_origin_t *o, lt_store_t *st, lt_err_t rc,
                          uint64_t next_seq, lt_buf_t *b)
{
    if (rc == LT_OK) {
        lattice_store_CloneChunk m = lattice_store_CloneChunk_init_zero;
        m.next_seq = next_seq;
        m.total = lt_store_witnessed_count(st);
        lt_buf_t tail = LT_BUF_INIT;
        rc = lt_pb_encode_static(lattice_store_CloneChunk_fields, &m, &tail);
        if (rc == LT_OK)
            rc = lt_buf_append(b, tail.data, tail.len);
        lt_buf_free(&tail);
    }
    if (rc)
        s_reply_db_error(a, o, rc);
    else
        s_reply(a, o, LT_OK, false, b);
}

/* A chunk of the witness log from r->num on, for a node that clones the
 * store: the node itself or an active peer of the store. */
static void s_clone_read(s_actor_t *a, const s_origin_t *o, const lt_store_req_t *r)
{
    lt_store_t *st = s_store(a, o, &r->store, NULL);
    if (!st || !s_local_or_active_peer(a, o, st))
        return;
    lt_buf_t b = LT_BUF_INIT;
    s_clone_t c = {st, &b, LT_BUF_INIT, r->num};
    lt_err_t rc = lt_store_scan_witness(st, r->num, s_clone_row, &c);
    if (rc == LT_EFULL)
        rc = LT_OK;
    s_reply_chunk(a, o, st, rc, c.next, &b);
    lt_buf_free(&c.one);
    lt_buf_free(&b);
}

/* The author's HLC of a stored signed intention, from its header alone
 * (version u8 | author | wall_ms u64 LE | counter u32 LE: intention.h):
 * the hash is known already and the rest is not needed. LT_ECORRUPT when
 * the bytes are too short for it or of another version. */
static lt_err_t s_intention_hlc(const uint8_t *p, size_t len, lt_hlc_t *hlc)
{
    if (len < 1 + LT_KEY_LEN + 8 + 4 || p[0] != LT_INTENTION_VERSION)
        return LT_ECORRUPT;
    hlc->wall_ms = lt_get_u64le(p + 1 + LT_KEY_LEN);
    hlc->counter = lt_get_u32le(p + 1 + LT_KEY_LEN + 8);
    return LT_OK;
}

typedef struct {
    lt_store_t *st;
    lt_buf_t items; /* the records so far */
    lt_buf_t one;   /* the intention being read */
    uint64_t next;  /* the seq after the last record */
    uint64_t bad;   /* the seq whose intention is missing or does not decode */
} s_sync_items_t;

static lt_err_t s_sync_item_row(void *ctx, uint64_t seq, const lt_hash_t *h)
{
    s_sync_items_t *c = ctx;
    /* As a clone chunk: stop short of the frame. */
    if (c->items.len && c->items.len + LT_STORE_SYNC_ITEM_LEN + S_ROW_OVERHEAD > S_REPLY_MAX)
        return LT_EFULL;
    lt_buf_reset(&c->one);
    lt_hlc_t hlc;
    lt_err_t rc = lt_store_get_intention(c->st, h, &c->one);
    if (rc == LT_ENOTFOUND) /* witnessed, yet not held: damaged */
        rc = LT_ECORRUPT;
    if (rc == LT_OK)
        rc = s_intention_hlc(c->one.data, c->one.len, &hlc);
    if (rc == LT_ECORRUPT)
        c->bad = seq;
    if (rc)
        return rc;
    uint8_t rec[LT_STORE_SYNC_ITEM_LEN];
    lt_put_u64le(rec, hlc.wall_ms);
    lt_put_u32le(rec + 8, hlc.counter);
    memcpy(rec + 12, h->b, LT_HASH_LEN);
    rc = lt_buf_append(&c->items, rec, sizeof rec);
    if (rc == LT_OK)
        c->next = seq + 1;
    return rc;
}

/* The sync service's view of the witness log from r->num on: (HLC, hash)
 * records in witness order, as many as fit one reply (SyncItems). Local
 * only: a peer reconciles through its own sync actor. */
static void s_sync_items(s_actor_t *a, const s_origin_t *o, const lt_store_req_t *r)
{
    lt_pubkey_t k;
    if (lt_addr_remote(o->to, &k, NULL, 0)) {
        s_reply_error(a, o, LT_EREFUSED, "not served to other nodes");
        return;
    }
    lt_store_t *st = s_store(a, o, &r->store, NULL);
    if (!st)
        return;
    s_sync_items_t c = {st, LT_BUF_INIT, LT_BUF_INIT, r->num, 0};
    lt_err_t rc = lt_store_scan_witness(st, r->num, s_sync_item_row, &c);
    if (rc == LT_EFULL)
        rc = LT_OK;
    lt_buf_t b = LT_BUF_INIT;
    if (rc == LT_OK) {
        lattice_store_SyncItems m = lattice_store_SyncItems_init_zero;
        lt_view_t items = {c.items.data, c.items.len};
        lt_pb_bind_write(&m.items, &items);
        m.next_seq = c.next;
        m.total = lt_store_witnessed_count(st);
        rc = lt_pb_encode_static(lattice_store_SyncItems_fields, &m, &b);
    }
    if (c.bad) {
        char hex[2 * LT_STORE_ID_LEN + 1], why[160];
        lt_hex(r->store.b, LT_STORE_ID_LEN, hex);
        snprintf(why, sizeof why,
                 "store %s: the intention at witness seq %llu is missing or does not decode", hex,
                 (unsigned long long)c.bad);
        lt_log_error(a->log, S_TAG, "%s", why);
        s_reply_error(a, o, rc, why);
    } else if (rc) {
        s_reply_db_error(a, o, rc);
    } else {
        s_reply(a, o, LT_OK, false, &b);
    }
    lt_buf_free(&c.items);
    lt_buf_free(&c.one);
    lt_buf_free(&b);
}

/* Intentions by hash, in the order asked, as many as fit one reply
 * (Fetched): for the node itself or an active peer of the store. A hash not
 * held is skipped; `done` tells the requester where to ask again. */
static void s_fetch(s_actor_t *a, const s_origin_t *o, const lt_store_req_t *r)
{
    lt_store_t *st = s_store(a, o, &r->store, NULL);
    if (!st || !s_local_or_active_peer(a, o, st))
        return;
    lt_buf_t b = LT_BUF_INIT, one = LT_BUF_INIT;
    lt_err_t rc = LT_OK;
    size_t done = 0;
    while (done < r->nviews) {
        lt_hash_t h;
        memcpy(h.b, r->views[done].p, LT_HASH_LEN); /* the decoder checked the size */
        lt_buf_reset(&one);
        rc = lt_store_get_intention(st, &h, &one);
        if (rc == LT_ENOTFOUND) {
            rc = LT_OK;
            done++;
            continue;
        }
        if (rc)
            break;
        /* At least one intention per reply; then stop short of the frame. */
        if (b.len && b.len + one.len + S_ROW_OVERHEAD > S_REPLY_MAX)
            break;
        rc = lt_pb_append_bytes(&b, lattice_store_Fetched_intentions_tag, one.data, one.len);
        if (rc)
            break;
        done++;
    }
    if (rc == LT_OK) {
        lattice_store_Fetched m = lattice_store_Fetched_init_zero;
        m.done = (uint32_t)done; /* at most LT_STORE_FETCH_MAX */
        lt_buf_t tail = LT_BUF_INIT;
        rc = lt_pb_encode_static(lattice_store_Fetched_fields, &m, &tail);
        if (rc == LT_OK)
            rc = lt_buf_append(&b, tail.data, tail.len);
        lt_buf_free(&tail);
    }
    if (rc)
        s_reply_db_error(a, o, rc);
    else
        s_reply(a, o, LT_OK, false, &b);
    lt_buf_free(&one);
    lt_buf_free(&b);
}

/* One intention a chain read found: where its bytes are kept, its witness
 * seq (0: floating) and when the walk found it. */
typedef struct {
    size_t off, len;
    uint64_t seq;
    size_t found;
} s_chain_item_t;

typedef struct {
    s_chain_item_t *v;
    size_t n, cap;
    lt_buf_t bytes; /* the intentions found, back to back */
    uint64_t max;   /* 0: as many as fit */
} s_chain_t;

static lt_err_t s_chain_row(void *ctx, const lt_hash_t *h, uint64_t seq, const uint8_t *p,
                            size_t len)
{
    (void)h;
    s_chain_t *c = ctx;
    /* Enough: `max` of them, or more than one reply holds (the order below
     * decides which of them go). */
    if ((c->max && c->n >= c->max) || c->bytes.len > S_REPLY_MAX)
        return LT_EFULL;
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 64;
        s_chain_item_t *v = realloc(c->v, cap * sizeof *v);
        if (!v)
            return LT_ENOMEM;
        c->v = v;
        c->cap = cap;
    }
    c->v[c->n] = (s_chain_item_t){c->bytes.len, len, seq, c->n};
    lt_err_t rc = lt_buf_append(&c->bytes, p, len);
    if (rc == LT_OK)
        c->n++;
    return rc;
}

/* Nearest first, and every intention before its own ancestors: the
 * floating ones as found (no witnessed intention descends from one), then
 * the witnessed ones newest first (a witnessed intention's links were
 * witnessed before it). */
static int s_chain_cmp(const void *x, const void *y)
{
    const s_chain_item_t *p = x, *q = y;
    if ((p->seq == 0) != (q->seq == 0))
        return p->seq == 0 ? -1 : 1;
    if (p->seq != q->seq)
        return p->seq > q->seq ? -1 : 1;
    return p->found < q->found ? -1 : p->found > q->found;
}

/* Intentions named and their ancestors, nearest first, in one CloneChunk
 * (next_seq 0): for the node itself or an active peer of the store, to
 * fill a gap in one round trip. */
static void s_chain_read(s_actor_t *a, const s_origin_t *o, const lt_store_req_t *r)
{
    lt_store_t *st = s_store(a, o, &r->store, NULL);
    if (!st || !s_local_or_active_peer(a, o, st))
        return;
    lt_hash_t named[LT_STORE_CHAIN_READ_MAX];
    for (size_t i = 0; i < r->nviews; i++)
        memcpy(named[i].b, r->views[i].p, LT_HASH_LEN); /* the decoder checked the sizes */
    s_chain_t c = {NULL, 0, 0, LT_BUF_INIT, r->num};
    lt_err_t rc = lt_store_walk_ancestors(st, named, r->nviews, s_chain_row, &c);
    if (rc == LT_EFULL)
        rc = LT_OK;
    lt_buf_t b = LT_BUF_INIT;
    if (rc == LT_OK && c.n)
        qsort(c.v, c.n, sizeof *c.v, s_chain_cmp);
    for (size_t i = 0; rc == LT_OK && i < c.n; i++) {
        /* At least one intention per reply; then stop short of the frame. */
        if (b.len && b.len + c.v[i].len + S_ROW_OVERHEAD > S_REPLY_MAX)
            break;
        rc = lt_pb_append_bytes(&b, lattice_store_CloneChunk_intentions_tag,
                                c.bytes.data + c.v[i].off, c.v[i].len);
    }
    s_reply_chunk(a, o, st, rc, 0, &b);
    free(c.v);
    lt_buf_free(&c.bytes);
    lt_buf_free(&b);
}

static void s_kv_inspect(s_actor_t *a, const s_origin_t *o, const lt_store_req_t *r)
{
    lt_store_t *st = s_store(a, o, &r->store, S_KV_TYPE);
    if (!st)
        return;
    lt_heads_t heads = LT_HEADS_INIT;
    lt_buf_t storage = LT_BUF_INIT, b = LT_BUF_INIT;
    lt_err_t rc = lt_kvstore_inspect(st, r->key.p, r->key.len, &heads, &storage);
    if (rc == LT_OK && heads.n == 0)
        rc = LT_ENOTFOUND;
    if (rc == LT_OK)
        rc = lt_pb_append_bytes(&b, lattice_store_KvHeads_key_tag, r->key.p, r->key.len);
    for (unsigned i = 0; rc == LT_OK && i < heads.n; i++) {
        const lt_head_t *h = &heads.v[i];
        lattice_store_Head m = lattice_store_Head_init_zero;
        S_SET(m.hash, h->hash.b, LT_HASH_LEN);
        S_SET(m.author, h->author.b, LT_KEY_LEN);
        m.wall_ms = h->hlc.wall_ms;
        m.counter = h->hlc.counter;
        m.tombstone = h->tombstone;
        lt_pb_bind_write(&m.value, &h->value);
        rc = lt_pb_append_field(&b, lattice_store_KvHeads_heads_tag, lattice_store_Head_fields, &m);
    }
    if (rc == LT_ENOTFOUND)
        s_reply_error(a, o, rc, "no such key");
    else if (rc)
        s_reply_db_error(a, o, rc);
    else
        s_reply(a, o, LT_OK, false, &b);
    lt_heads_free(&heads);
    lt_buf_free(&storage);
    lt_buf_free(&b);
}

static lt_err_t s_log_row(void *ctx, lt_hlc_t hlc, const lt_pubkey_t *author, const lt_hash_t *hash,
                          const uint8_t *text, size_t len)
{
    lt_buf_t *b = ctx;
    if (b->len + len + S_ROW_OVERHEAD > S_REPLY_MAX)
        return LT_EFULL;
    lattice_store_LogItem m = lattice_store_LogItem_init_zero;
    lt_view_t t = {text, len};
    m.wall_ms = hlc.wall_ms;
    m.counter = hlc.counter;
    S_SET(m.author, author->b, LT_KEY_LEN);
    S_SET(m.hash, hash->b, LT_HASH_LEN);
    lt_pb_bind_write(&m.text, &t);
    return lt_pb_append_field(b, lattice_store_LogEntries_entries_tag, lattice_store_LogItem_fields,
                              &m);
}

static void s_log_read(s_actor_t *a, const s_origin_t *o, const lt_store_req_t *r)
{
    lt_store_t *st = s_store(a, o, &r->store, S_LOG_TYPE);
    if (!st)
        return;
    lt_buf_t b = LT_BUF_INIT;
    lt_err_t rc = s_end_listing(&b, lt_logstore_read(st, r->num, s_log_row, &b));
    if (rc)
        s_reply_db_error(a, o, rc);
    else
        s_reply(a, o, LT_OK, false, &b);
    lt_buf_free(&b);
}

static void s_watch(s_actor_t *a, const s_origin_t *o, const lt_store_req_t *r, int kind)
{
    lt_store_t *st = s_store(a, o, &r->store, kind == S_WATCH_KV ? S_KV_TYPE : S_LOG_TYPE);
    if (!st)
        return;
    if (a->nwatches >= S_MAX_WATCHES) {
        s_reply_error(a, o, LT_EFULL, "too many watches on this node; cancel some first");
        return;
    }
    for (size_t i = 0; i < a->nwatches; i++)
        if (!a->watches[i]->dead && a->watches[i]->corr == o->corr &&
            strcmp(a->watches[i]->to, o->to) == 0) {
            s_reply_error(a, o, LT_EEXIST, "a watch with this corr exists already");
            return;
        }
    s_watch_t **v = realloc(a->watches, (a->nwatches + 1) * sizeof *v);
    s_watch_t *w = v ? calloc(1, sizeof *w) : NULL;
    if (v)
        a->watches = v;
    if (!w) {
        s_reply_error(a, o, LT_ENOMEM, "out of memory");
        return;
    }
    w->a = a;
    memcpy(w->to, o->to, sizeof w->to);
    w->corr = o->corr;
    w->store = r->store;
    w->kind = kind;
    lt_sub_filter_t f = {.any_store = false,
                         .store = r->store,
                         .kinds = 1u << (kind == S_WATCH_KV ? LT_EV_KV : LT_EV_LOG),
                         .prefix = kind == S_WATCH_KV ? r->key.p : NULL,
                         .plen = kind == S_WATCH_KV ? r->key.len : 0};
    lt_err_t rc = lt_db_subscribe(a->db, &f, s_on_event, w, &w->sub);
    if (rc) {
        free(w);
        s_reply_error(a, o, rc, "subscribing failed");
        return;
    }
    a->watches[a->nwatches++] = w;
    s_reply(a, o, LT_OK, false, NULL);
}

static void s_unwatch(s_actor_t *a, const s_origin_t *o, const lt_store_req_t *r, int kind)
{
    for (size_t i = 0; i < a->nwatches; i++) {
        s_watch_t *w = a->watches[i];
        if (!w->dead && w->kind == kind && w->corr == r->num && strcmp(w->to, o->to) == 0) {
            lt_db_unsubscribe(a->db, w->sub);
            w->dead = true;
            s_reap_watches(a);
            s_reply(a, o, LT_OK, false, NULL);
            return;
        }
    }
    s_reply_error(a, o, LT_ENOTFOUND, "no such watch (watches are cancelled by their own client)");
}

/* Fills the intention fields shared by HistoryItem and DebugIntention. */
typedef struct {
    lt_signed_t s;
    lt_buf_t bytes;
} s_intention_t;

static lt_err_t s_load_intention(lt_store_t *st, const lt_hash_t *h, s_intention_t *out)
{
    lt_err_t rc = lt_store_get_intention(st, h, &out->bytes);
    if (rc == LT_OK)
        rc = lt_signed_parse(out->bytes.data, out->bytes.len, &out->s);
    return rc;
}

typedef struct {
    lt_hash_t *v;
    size_t n;
} s_hashes_t;

static lt_err_t s_collect_seq(void *ctx, uint64_t seq, const lt_hash_t *h)
{
    (void)seq;
    s_hashes_t *hs = ctx;
    hs->v[hs->n++] = *h;
    return LT_OK;
}

static void s_history(s_actor_t *a, const s_origin_t *o, const lt_store_req_t *r)
{
    lt_store_t *st = s_store(a, o, &r->store, NULL);
    if (!st)
        return;
    uint64_t count = lt_store_witnessed_count(st);
    uint64_t limit = r->num ? r->num : S_HISTORY_DEFAULT;
    if (limit > count)
        limit = count;
    uint64_t from = count - limit + 1;
    s_hashes_t hs = {limit ? calloc((size_t)limit, sizeof *hs.v) : NULL, 0};
    lt_buf_t b = LT_BUF_INIT;
    lt_err_t rc = limit && !hs.v ? LT_ENOMEM : LT_OK;
    if (rc == LT_OK && limit)
        rc = lt_store_scan_witness(st, from, s_collect_seq, &hs);
    for (size_t i = hs.n; rc == LT_OK && i-- > 0;) {
        if (b.len + S_ROW_OVERHEAD > S_REPLY_MAX) {
            rc = s_mark_truncated(&b);
            break;
        }
        s_intention_t in = {.bytes = LT_BUF_INIT};
        rc = s_load_intention(st, &hs.v[i], &in);
        if (rc == LT_OK) {
            const lt_intention_t *x = &in.s.in;
            lattice_store_HistoryItem m = lattice_store_HistoryItem_init_zero;
            m.seq = from + i;
            S_SET(m.hash, in.s.hash.b, LT_HASH_LEN);
            S_SET(m.author, x->author.b, LT_KEY_LEN);
            m.wall_ms = x->hlc.wall_ms;
            m.counter = x->hlc.counter;
            S_SET(m.store_prev, x->store_prev.b, LT_HASH_LEN);
            m.deps_count = x->ndeps;
            for (unsigned d = 0; d < x->ndeps; d++)
                S_SET(m.deps[d], x->deps[d].b, LT_HASH_LEN);
            s_summary(st, x->ops, x->ops_len, m.summary, sizeof m.summary);
            rc = lt_pb_append_field(&b, lattice_store_HistoryList_items_tag,
                                    lattice_store_HistoryItem_fields, &m);
        }
        lt_buf_free(&in.bytes);
    }
    if (rc)
        s_reply_db_error(a, o, rc);
    else
        s_reply(a, o, LT_OK, false, &b);
    free(hs.v);
    lt_buf_free(&b);
}

static void s_debug(s_actor_t *a, const s_origin_t *o, const lt_store_req_t *r)
{
    lt_store_t *st = s_store(a, o, &r->store, NULL);
    if (!st)
        return;
    s_intention_t in = {.bytes = LT_BUF_INIT};
    lt_buf_t b = LT_BUF_INIT;
    lt_err_t rc = s_load_intention(st, &r->hash, &in);
    if (rc == LT_OK) {
        const lt_intention_t *x = &in.s.in;
        lattice_store_DebugIntention m = lattice_store_DebugIntention_init_zero;
        lt_view_t whole = {in.bytes.data, in.bytes.len}, ops = {x->ops, x->ops_len};
        lt_pb_bind_write(&m.signed_bytes, &whole);
        S_SET(m.hash, in.s.hash.b, LT_HASH_LEN);
        m.version = x->version;
        S_SET(m.author, x->author.b, LT_KEY_LEN);
        m.wall_ms = x->hlc.wall_ms;
        m.counter = x->hlc.counter;
        S_SET(m.store, x->store_id.b, LT_STORE_ID_LEN);
        S_SET(m.store_prev, x->store_prev.b, LT_HASH_LEN);
        m.deps_count = x->ndeps;
        for (unsigned d = 0; d < x->ndeps; d++)
            S_SET(m.deps[d], x->deps[d].b, LT_HASH_LEN);
        lt_pb_bind_write(&m.ops, &ops);
        S_SET(m.signature, in.s.sig.b, LT_SIG_LEN);
        if (lt_store_witness_seq(st, &r->hash, &m.seq) != LT_OK)
            m.seq = 0;
        s_summary(st, x->ops, x->ops_len, m.summary, sizeof m.summary);
        rc = lt_pb_encode_static(lattice_store_DebugIntention_fields, &m, &b);
    }
    if (rc == LT_ENOTFOUND)
        s_reply_error(a, o, rc, "this store holds no intention with that hash");
    else if (rc)
        s_reply_db_error(a, o, rc);
    else
        s_reply(a, o, LT_OK, false, &b);
    lt_buf_free(&in.bytes);
    lt_buf_free(&b);
}

/* Serves a read request (also a deferred one, from its copied body). */
static void s_serve_read(s_actor_t *a, const s_origin_t *o, const uint8_t *body, size_t len)
{
    lt_store_req_t r;
    lt_errbuf_t eb = {""};
    lt_err_t rc = lt_store_req_decode(o->type, body, len, &r, &eb);
    if (rc) {
        s_reply_error(a, o, rc, eb.msg);
        return;
    }
    switch (o->type) {
    case lattice_store_StoreMsgType_NODE_INFO:
        s_node_info(a, o);
        break;
    case lattice_store_StoreMsgType_STORE_LIST:
        s_store_list(a, o);
        break;
    case lattice_store_StoreMsgType_STORE_INFO:
        s_store_info(a, o, &r);
        break;
    case lattice_store_StoreMsgType_STORE_VERIFY:
        s_store_verify(a, o, &r);
        break;
    case lattice_store_StoreMsgType_STORE_RESOLVE:
        s_store_resolve(a, o, &r);
        break;
    case lattice_store_StoreMsgType_KV_GET:
        s_kv_get(a, o, &r);
        break;
    case lattice_store_StoreMsgType_KV_LIST:
        s_kv_list(a, o, &r);
        break;
    case lattice_store_StoreMsgType_KV_INSPECT:
        s_kv_inspect(a, o, &r);
        break;
    case lattice_store_StoreMsgType_KV_WATCH:
        s_watch(a, o, &r, S_WATCH_KV);
        break;
    case lattice_store_StoreMsgType_KV_UNWATCH:
        s_unwatch(a, o, &r, S_WATCH_KV);
        break;
    case lattice_store_StoreMsgType_LOG_READ:
        s_log_read(a, o, &r);
        break;
    case lattice_store_StoreMsgType_LOG_FOLLOW:
        s_watch(a, o, &r, S_WATCH_LOG);
        break;
    case lattice_store_StoreMsgType_LOG_UNFOLLOW:
        s_unwatch(a, o, &r, S_WATCH_LOG);
        break;
    case lattice_store_StoreMsgType_HISTORY:
        s_history(a, o, &r);
        break;
    case lattice_store_StoreMsgType_DEBUG:
        s_debug(a, o, &r);
        break;
    case lattice_store_StoreMsgType_PEER_LIST:
        s_peer_list(a, o, &r);
        break;
    case lattice_store_StoreMsgType_CLONE_READ:
        s_clone_read(a, o, &r);
        break;
    case lattice_store_StoreMsgType_SYNC_ITEMS:
        s_sync_items(a, o, &r);
        break;
    case lattice_store_StoreMsgType_FETCH:
        s_fetch(a, o, &r);
        break;
    case lattice_store_StoreMsgType_CHAIN_READ:
        s_chain_read(a, o, &r);
        break;
    case lattice_store_StoreMsgType_WITNESS_WATCH:
        s_witness_watch(a, o);
        break;
    case lattice_store_StoreMsgType_WITNESS_UNWATCH:
        s_witness_unwatch(a, o, &r);
        break;
    default: /* writes never come here; the decoder refused everything else */
        s_reply_error(a, o, LT_EINVAL, "not a read request");
    }
    lt_store_req_free(&r);
}

/* ---- writes ---- */

/* After a write staged successfully: record its reply under the request id
 * (in the same transaction), queue the reply for the commit. */
static void s_written(s_actor_t *a, const s_origin_t *o, const lt_store_req_t *r,
                      const lt_buf_t *reply)
{
    lt_err_t rc = LT_OK;
    if (r->has_request_id)
        rc = lt_db_request_record(a->db, r->request_id, reply->data, reply->len);
    a->nwrites++;
    if (rc) {
        /* The db is poisoned: the commit will fail and answer this one too. */
        s_reply(a, o, rc, true, NULL);
        return;
    }
    s_reply(a, o, LT_OK, true, reply);
}

/* A write that failed while staging. If it left the transaction poisoned
 * (lt_db_commit will refuse the group), the group's other replies get the
 * commit's error anyway; this one gets its own. */
static void s_write_failed(s_actor_t *a, const s_origin_t *o, lt_err_t rc)
{
    a->nwrites++; /* the flush must commit, to discard a poisoned group */
    s_reply_db_error(a, o, rc);
}

/* Answers a write that produced intention h (when rc is LT_OK): Written
 * after the commit, or the failure. */
static void s_answer_write(s_actor_t *a, const s_origin_t *o, const lt_store_req_t *r, lt_err_t rc,
                           const lt_hash_t *h)
{
    lt_buf_t b = LT_BUF_INIT;
    if (rc == LT_OK) {
        lattice_store_Written m = lattice_store_Written_init_zero;
        S_SET(m.hash, h->b, LT_HASH_LEN);
        rc = lt_pb_encode_static(lattice_store_Written_fields, &m, &b);
    }
    if (rc == LT_OK)
        s_written(a, o, r, &b);
    else
        s_write_failed(a, o, rc);
    lt_buf_free(&b);
}

static void s_store_create(s_actor_t *a, const s_origin_t *o, const lt_store_req_t *r)
{
    const char *type =
        r->store_type == lattice_store_StoreType_STORE_TYPE_LOG ? S_LOG_TYPE : S_KV_TYPE;
    lt_store_t *parent = NULL;
    if (r->has_parent && !(parent = s_store(a, o, &r->parent, NULL)))
        return;
    lt_store_t *st = NULL;
    lt_err_t rc = lt_store_create(a->db, type, NULL, &st);
    if (rc == LT_OK && r->name[0])
        rc = lt_system_set_name(st, r->name, NULL);
    if (rc == LT_OK && parent) {
        lattice_ChildSet c = lattice_ChildSet_init_zero;
        S_SET(c.store_id, lt_store_id(st)->b, LT_STORE_ID_LEN);
        snprintf(c.type, sizeof c.type, "%s", type);
        snprintf(c.name, sizeof c.name, "%.255s", r->name);
        c.status = lattice_ChildStatus_CHILD_ACTIVE;
        rc = lt_system_set_child(parent, &c, NULL);
        a->system_dirty = true; /* the parent's peers now reach the child */
    }
    lt_buf_t b = LT_BUF_INIT;
    if (rc == LT_OK) {
        lattice_store_StoreCreated m = lattice_store_StoreCreated_init_zero;
        S_SET(m.store, lt_store_id(st)->b, LT_STORE_ID_LEN);
        rc = lt_pb_encode_static(lattice_store_StoreCreated_fields, &m, &b);
    }
    /* A failure after lt_store_create (the name or the child declaration
     * refused) must not let the store commit half-made: poison the group,
     * which then fails as a whole. */
    if (rc == LT_OK) {
        s_written(a, o, r, &b);
    } else {
        lt_db_poison(a->db, rc);
        s_write_failed(a, o, rc);
    }
    lt_buf_free(&b);
}

/* A child removed here is removed everywhere: its parent's declaration
 * becomes removed, in a commit of its own, and the witness watchers (the
 * gossip service) hear of it at once. */
static lt_err_t s_declare_removed(s_actor_t *a, lt_store_t *parent, const lt_store_id_t *id)
{
    lattice_ChildSet c = lattice_ChildSet_init_zero;
    lt_err_t rc = lt_system_get_child(parent, id, &c);
    if (rc == LT_OK) {
        c.status = lattice_ChildStatus_CHILD_REMOVED;
        rc = lt_system_set_child(parent, &c, NULL);
    }
    if (rc == LT_OK)
        rc = lt_db_commit(a->db); /* recovers by itself when it fails */
    else
        lt_db_abort(a->db);
    if (rc == LT_OK)
        s_witness_deliver(a);
    return rc;
}

/* Removal commits by itself (store.h): the burst before it commits first.
 * A child of a store held here is declared removed in its parent first
 * (store.proto StoreCreate); a parent's children stay. */
static void s_store_remove(s_actor_t *a, const s_origin_t *o, const lt_store_req_t *r)
{
    s_flush(a);
    lt_store_t *st = s_store(a, o, &r->store, NULL);
    if (!st)
        return;
    lt_store_t *parent = s_kin_parent(a, st);
    lt_err_t rc = parent ? s_declare_removed(a, parent, &r->store) : LT_OK;
    if (rc == LT_OK)
        rc = lt_store_remove(a->db, &r->store);
    if (rc) {
        s_reply_db_error(a, o, rc);
        return;
    }
    /* Its watches end with it. */
    s_end_watches(a, &r->store);
    s_reap_watches(a);
    lt_buf_t b = LT_BUF_INIT;
    if (r->has_request_id) {
        /* The removal is durable already; the record follows in its own
         * commit: if that fails, a retry finds no store (LT_ENOTFOUND). */
        rc = lt_db_request_record(a->db, r->request_id, NULL, 0);
        if (rc == LT_OK)
            rc = lt_db_commit(a->db);
        if (rc) {
            lt_log_warn(a->log, S_TAG, "store removed, but its request id was not recorded: %s",
                        lt_db_errmsg(a->db));
            lt_db_abort(a->db); /* nothing of it may leak into the next group */
        }
    }
    s_reply(a, o, LT_OK, false, &b);
    lt_buf_free(&b);
    s_children_sync(a, false); /* who inherits from whom, without it */
    s_admit_push(a);           /* its peers and invites are gone with it */
}

static void s_kv_write(s_actor_t *a, const s_origin_t *o, const lt_store_req_t *r)
{
    lt_store_t *st = s_store(a, o, &r->store, S_KV_TYPE);
    if (!st)
        return;
    lt_hash_t h;
    lt_err_t rc;
    if (r->type == lattice_store_StoreMsgType_KV_PUT)
        rc = lt_kvstore_put(st, r->key.p, r->key.len, r->value.p, r->value.len, &h);
    else if (r->type == lattice_store_StoreMsgType_KV_DEL)
        rc = lt_kvstore_del(st, r->key.p, r->key.len, &h);
    else
        rc = lt_kvstore_batch(st, r->entries, r->nentries, &h);
    s_answer_write(a, o, r, rc, &h);
}

static void s_log_append(s_actor_t *a, const s_origin_t *o, const lt_store_req_t *r)
{
    lt_store_t *st = s_store(a, o, &r->store, S_LOG_TYPE);
    if (!st)
        return;
    lt_hash_t h;
    lt_err_t rc = lt_logstore_append(st, r->value.p, r->value.len, &h);
    s_answer_write(a, o, r, rc, &h);
}

static void s_ingest(s_actor_t *a, const s_origin_t *o, const lt_store_req_t *r)
{
    lt_store_t *st = s_store(a, o, &r->store, NULL);
    if (!st)
        return;
    lt_ingest_result_t res;
    lt_err_t rc = lt_store_ingest(st, r->value.p, r->value.len, &res);
    if (rc == LT_OK && s_may_change_peers(r->value.p, r->value.len, &res))
        a->admit_dirty = a->system_dirty = true;
    lt_buf_t b = LT_BUF_INIT;
    if (rc == LT_OK) {
        lattice_store_Ingested m = lattice_store_Ingested_init_zero;
        m.status = res.status == LT_INGEST_WITNESSED  ? lattice_store_IngestStatus_INGEST_WITNESSED
                   : res.status == LT_INGEST_FLOATING ? lattice_store_IngestStatus_INGEST_FLOATING
                                                      : lattice_store_IngestStatus_INGEST_DUPLICATE;
        S_SET(m.hash, res.hash.b, LT_HASH_LEN);
        m.witnessed = res.witnessed;
        m.missing_count = (pb_size_t)res.nmissing;
        for (unsigned i = 0; i < res.nmissing; i++)
            S_SET(m.missing[i], res.missing[i].b, LT_HASH_LEN);
        rc = lt_pb_encode_static(lattice_store_Ingested_fields, &m, &b);
    }
    if (rc == LT_OK) {
        s_written(a, o, r, &b);
    } else {
        lt_errbuf_t keep;
        snprintf(keep.msg, sizeof keep.msg, "intention rejected: %.60s (%.160s)", lt_strerror(rc),
                 lt_db_errmsg(a->db));
        a->nwrites++; /* as s_write_failed: an I/O failure may have poisoned the group */
        s_reply_error(a, o, rc, keep.msg);
    }
    lt_buf_free(&b);
}

/* IngestedBatch.missing: what the batch's floating intentions wait for and
 * this node does not hold. Advisory: a failure to work it out leaves it
 * empty, with one log line; the batch stands. */
static void s_batch_missing(s_actor_t *a, lt_store_t *st, const lt_hash_t *waiting, size_t n,
                            lattice_store_IngestedBatch *m)
{
    lt_hash_t missing[LT_STORE_MISSING_MAX];
    unsigned nmissing = 0;
    lt_err_t rc = lt_store_missing_deps(st, waiting, n, missing, LT_STORE_MISSING_MAX, &nmissing);
    if (rc) {
        lt_log_warn(a->log, S_TAG, "what a batch's floating intentions miss is unknown: %s (%s)",
                    lt_strerror(rc), lt_db_errmsg(a->db));
        nmissing = 0;
    }
    m->missing_count = (pb_size_t)nmissing;
    for (unsigned i = 0; i < nmissing; i++)
        S_SET(m->missing[i], missing[i].b, LT_HASH_LEN);
}

/* Bulk mode while a clone's chunks keep coming (S_BULK_IDLE_MS). It is a
 * hint to the backend: one it refuses is logged once, and the clone goes
 * on without it. */
static void s_bulk_begin(s_actor_t *a)
{
    a->bulk_last_ms = lt_ctx_now(a->ctx);
    if (a->bulk || a->bulk_refused)
        return;
    lt_kv_t *kv = lt_db_kv(a->db);
    lt_err_t rc = lt_kv_bulk(kv, true);
    if (rc) {
        lt_log_warn(a->log, S_TAG, "the storage refuses bulk writes: %s (%s)", lt_strerror(rc),
                    lt_kv_errmsg(kv));
        a->bulk_refused = true;
        return;
    }
    rc = lt_ctx_timer(a->ctx, S_BULK_IDLE_MS, S_TIMER_BULK);
    if (rc) { /* without its timer it could not end: not at all */
        lt_log_warn(a->log, S_TAG, "bulk writes not begun: no timer (%s)", lt_strerror(rc));
        (void)lt_kv_bulk(kv, false);
        return;
    }
    a->bulk = true;
}

static void s_bulk_end(s_actor_t *a)
{
    lt_kv_t *kv = lt_db_kv(a->db);
    lt_err_t rc = lt_kv_bulk(kv, false);
    if (rc)
        lt_log_warn(a->log, S_TAG, "bulk writes not ended: %s (%s)", lt_strerror(rc),
                    lt_kv_errmsg(kv));
    a->bulk = false;
}

static void s_bulk_timer(s_actor_t *a)
{
    if (!a->bulk)
        return;
    /* The clock may step back: then it waits a whole period again. */
    uint64_t now = lt_ctx_now(a->ctx);
    uint64_t idle = now > a->bulk_last_ms ? now - a->bulk_last_ms : 0;
    if (idle < S_BULK_IDLE_MS && lt_ctx_timer(a->ctx, S_BULK_IDLE_MS - idle, S_TIMER_BULK) == LT_OK)
        return;
    s_bulk_end(a);
}

/* Many intentions, in order, one commit (a clone's chunk): all or none. */
static void s_ingest_batch(s_actor_t *a, const s_origin_t *o, const lt_store_req_t *r)
{
    lt_pubkey_t k;
    if (lt_addr_remote(o->to, &k, NULL, 0)) {
        s_reply_error(a, o, LT_EREFUSED, "not served to other nodes");
        return;
    }
    lt_store_t *st = s_store(a, o, &r->store, NULL);
    if (!st)
        return;
    lattice_store_IngestedBatch m = lattice_store_IngestedBatch_init_zero;
    /* The intentions not witnessed on arrival (floating, or held already):
     * those still floating after the batch say what they miss. */
    lt_hash_t *waiting = malloc(r->nviews * sizeof *waiting);
    size_t nwaiting = 0;
    if (!waiting) {
        s_reply_error(a, o, LT_ENOMEM, "out of memory");
        return;
    }
    lt_err_t rc = LT_OK;
    size_t i = 0;
    size_t mark = lt_db_events_mark(a->db);
    /* Only this node's sync service is taken at its word (the router names
     * every sender: a client cannot pass for it). */
    bool from_sync = strcmp(o->to, S_SYNC_SERVICE) == 0;
    size_t verified = from_sync ? r->verified : 0;
    for (; rc == LT_OK && i < r->nviews; i++) {
        lt_ingest_result_t res;
        rc = i < verified ? lt_store_ingest_verified(st, r->views[i].p, r->views[i].len, &res)
                          : lt_store_ingest(st, r->views[i].p, r->views[i].len, &res);
        if (rc == LT_OK && s_may_change_peers(r->views[i].p, r->views[i].len, &res))
            a->admit_dirty = a->system_dirty = true;
        if (rc == LT_OK && res.status != LT_INGEST_WITNESSED)
            waiting[nwaiting++] = res.hash;
        if (rc == LT_OK && res.status == LT_INGEST_WITNESSED)
            m.witnessed += res.witnessed;
        else if (rc == LT_OK && res.status == LT_INGEST_FLOATING)
            m.floating++;
        else if (rc == LT_OK)
            m.duplicates++;
    }
    if (rc == LT_OK)
        s_batch_missing(a, st, waiting, nwaiting, &m);
    free(waiting);
    if (r->quiet && from_sync) /* what this batch witnessed, cascades included */
        lt_db_events_drop(a->db, mark, 1u << LT_EV_WITNESSED);
    if (rc) {
        char why[256];
        snprintf(why, sizeof why, "intention %zu of the batch rejected: %.60s (%.100s)", i,
                 lt_strerror(rc), lt_db_errmsg(a->db));
        lt_db_poison(a->db, rc); /* none of the batch commits */
        a->nwrites++;
        s_reply_error(a, o, rc, why);
        return;
    }
    if (r->quiet && from_sync)
        s_bulk_begin(a);
    lt_buf_t b = LT_BUF_INIT;
    rc = lt_pb_encode_static(lattice_store_IngestedBatch_fields, &m, &b);
    if (rc)
        s_write_failed(a, o, rc);
    else
        s_written(a, o, r, &b);
    lt_buf_free(&b);
}

/* Opens an invite: a fresh secret whose hash alone goes to the system table.
 * The secret leaves the node only in the reply (and in the node-local
 * record of the request id, so that a retry gets the same one). */
static void s_peer_invite(s_actor_t *a, const s_origin_t *o, const lt_store_req_t *r)
{
    lt_store_t *st = s_store(a, o, &r->store, NULL);
    if (!st)
        return;
    lattice_store_Invited m = lattice_store_Invited_init_zero;
    a->rt_ops->random(a->rt, m.secret.bytes, LT_INVITE_SECRET_LEN);
    m.secret.size = LT_INVITE_SECRET_LEN;
    m.expires_ms = lt_db_now_ms(a->db) + (r->num ? r->num : LT_INVITE_TTL_DEFAULT_MS);
    lattice_InviteSet inv = lattice_InviteSet_init_zero;
    lt_hash_t sh, h;
    lt_invite_secret_hash(m.secret.bytes, LT_INVITE_SECRET_LEN, &sh);
    S_SET(inv.secret_hash, sh.b, LT_HASH_LEN);
    inv.status = lattice_InviteStatus_INVITE_OPEN;
    inv.expires_ms = m.expires_ms;
    lt_err_t rc = lt_system_set_invite(st, &inv, &h);
    a->admit_dirty = true;
    lt_buf_t b = LT_BUF_INIT;
    if (rc == LT_OK) {
        S_SET(m.hash, h.b, LT_HASH_LEN);
        rc = lt_pb_encode_static(lattice_store_Invited_fields, &m, &b);
    }
    sodium_memzero(&m, sizeof m);
    if (rc == LT_OK)
        s_written(a, o, r, &b);
    else
        s_write_failed(a, o, rc);
    sodium_memzero(b.data, b.len);
    lt_buf_free(&b);
}

/* Revokes a peer: a system op like any other, so it replicates; what the
 * peer wrote before stays valid (DESIGN.md §7). */
static void s_peer_revoke(s_actor_t *a, const s_origin_t *o, const lt_store_req_t *r)
{
    lt_store_t *st = s_store(a, o, &r->store, NULL);
    if (!st)
        return;
    char hex[2 * LT_KEY_LEN + 1], why[200];
    lt_hex(r->peer.b, LT_KEY_LEN, hex);
    if (lt_pubkey_cmp(&r->peer, lt_db_node_key(a->db)) == 0) {
        s_reply_error(a, o, LT_EINVAL, "a node cannot revoke itself");
        return;
    }
    lattice_PeerStatus now = lattice_PeerStatus_PEER_UNSET;
    lt_err_t rc = lt_system_get_peer(st, &r->peer, &now);
    if (rc == LT_ENOTFOUND) {
        /* Not in its own table: a peer a child inherits may still be
         * revoked in the child alone. */
        bool inherited = false;
        rc = s_peer_effective(a, st, &r->peer, &inherited);
        if (rc == LT_OK && !inherited) {
            snprintf(why, sizeof why, "%s is not a peer of this store", hex);
            s_reply_error(a, o, LT_ENOTFOUND, why);
            return;
        }
    }
    lt_hash_t h;
    if (rc == LT_OK)
        rc = lt_system_set_peer(st, &r->peer, lattice_PeerStatus_PEER_REVOKED, &h);
    if (rc == LT_OK) {
        lt_log_info(a->log, S_TAG, "peer %.16s revoked", hex);
        a->admit_dirty = true;
    }
    s_answer_write(a, o, r, rc, &h);
}

/* A node presents an invite's secret (DESIGN.md §7): the invite must be
 * open and unexpired and the node not revoked; it is then consumed by that
 * node's key, which becomes an active peer. The same node asking again gets
 * the same answer. */
static void s_peer_join(s_actor_t *a, const s_origin_t *o, const lt_store_req_t *r)
{
    lt_pubkey_t joiner;
    if (!lt_addr_remote(o->to, &joiner, NULL, 0)) {
        s_reply_error(a, o, LT_EINVAL, "a join comes from another node, over a link");
        return;
    }
    lt_store_t *st = s_store(a, o, &r->store, NULL);
    if (!st)
        return;
    char hex[2 * LT_KEY_LEN + 1];
    lt_hex(joiner.b, LT_KEY_LEN, hex);
    lt_hash_t sh;
    lt_invite_secret_hash(r->secret, sizeof r->secret, &sh);
    lattice_InviteSet inv = lattice_InviteSet_init_zero;
    lt_err_t rc = lt_system_get_invite(st, &sh, &inv);
    if (rc == LT_ENOTFOUND) {
        s_reply_error(a, o, LT_ENOTFOUND,
                      "this node made no such invite to the store (a token for another store "
                      "or node, or mistyped?)");
        return;
    }
    if (rc) {
        s_reply_db_error(a, o, rc);
        return;
    }
    lattice_PeerStatus ps = lattice_PeerStatus_PEER_UNSET;
    rc = lt_system_get_peer(st, &joiner, &ps);
    if (rc != LT_OK && rc != LT_ENOTFOUND) {
        s_reply_db_error(a, o, rc);
        return;
    }
    bool again = inv.status == lattice_InviteStatus_INVITE_CONSUMED &&
                 inv.invitee.size == LT_KEY_LEN &&
                 memcmp(inv.invitee.bytes, joiner.b, LT_KEY_LEN) == 0;
    const char *refuse = NULL;
    if (ps == lattice_PeerStatus_PEER_REVOKED)
        refuse = "this node was revoked from the store; an invite does not undo that";
    else if (inv.status == lattice_InviteStatus_INVITE_CONSUMED && !again)
        refuse = "this invite was used already (a token works once)";
    else if (inv.status != lattice_InviteStatus_INVITE_OPEN && !again)
        refuse = "this invite was cancelled";
    else if (!again && inv.expires_ms <= lt_db_now_ms(a->db))
        refuse = "this invite has expired (ask for a new token)";
    if (refuse) {
        lt_log_info(a->log, S_TAG, "join by %.16s refused: %s", hex, refuse);
        s_reply_error(a, o, LT_EREFUSED, refuse);
        return;
    }
    if (!again) {
        inv.status = lattice_InviteStatus_INVITE_CONSUMED;
        S_SET(inv.invitee, joiner.b, LT_KEY_LEN);
        rc = lt_system_set_invite(st, &inv, NULL);
        if (rc == LT_OK)
            rc = lt_system_set_peer(st, &joiner, lattice_PeerStatus_PEER_ACTIVE, NULL);
        if (rc) {
            lt_db_poison(a->db, rc); /* half a join must not commit */
            s_write_failed(a, o, rc);
            return;
        }
        a->admit_dirty = true;
        lt_log_info(a->log, S_TAG, "node %.16s joined", hex);
    }
    lattice_store_Joined m = lattice_store_Joined_init_zero;
    S_SET(m.store, lt_store_id(st)->b, LT_STORE_ID_LEN);
    m.type = s_type_of(st);
    if (s_store_name(a, st, m.name, sizeof m.name) != LT_OK)
        m.name[0] = '\0';
    S_SET(m.inviter, lt_db_node_key(a->db)->b, LT_KEY_LEN);
    lt_buf_t b = LT_BUF_INIT;
    rc = lt_pb_encode_static(lattice_store_Joined_fields, &m, &b);
    if (rc)
        s_write_failed(a, o, rc);
    else if (again)
        s_reply(a, o, LT_OK, a->nwrites > 0, &b);
    else
        s_written(a, o, r, &b);
    lt_buf_free(&b);
}

/* This node joined a store on another node (PEER_JOIN answered Joined):
 * hold an empty store of that id, its inviter an active peer, until the
 * store's history arrives. */
static void s_peer_joined(s_actor_t *a, const s_origin_t *o, const lt_store_req_t *r)
{
    lt_pubkey_t k;
    if (lt_addr_remote(o->to, &k, NULL, 0)) {
        s_reply_error(a, o, LT_EREFUSED, "not served to other nodes");
        return;
    }
    if (lt_db_store(a->db, &r->store)) {
        s_reply_error(a, o, LT_EEXIST, "this node holds that store already");
        return;
    }
    if (lt_pubkey_cmp(&r->peer, lt_db_node_key(a->db)) == 0) {
        s_reply_error(a, o, LT_EINVAL, "a node cannot join its own invite");
        return;
    }
    const char *type =
        r->store_type == lattice_store_StoreType_STORE_TYPE_LOG ? S_LOG_TYPE : S_KV_TYPE;
    lt_store_t *st = NULL;
    lt_err_t rc = lt_store_create(a->db, type, &r->store, &st);
    if (rc == LT_OK)
        rc = lt_system_set_peer(st, &r->peer, lattice_PeerStatus_PEER_ACTIVE, NULL);
    lt_buf_t b = LT_BUF_INIT;
    if (rc == LT_OK) {
        lattice_store_StoreCreated m = lattice_store_StoreCreated_init_zero;
        S_SET(m.store, r->store.b, LT_STORE_ID_LEN);
        rc = lt_pb_encode_static(lattice_store_StoreCreated_fields, &m, &b);
    }
    if (rc == LT_OK) {
        a->admit_dirty = true;
        s_written(a, o, r, &b);
    } else {
        lt_db_poison(a->db, rc);
        s_write_failed(a, o, rc);
    }
    lt_buf_free(&b);
}

static void s_serve_write(s_actor_t *a, const s_origin_t *o, const lt_store_req_t *r)
{
    if (r->has_request_id) {
        lt_buf_t prev = LT_BUF_INIT;
        lt_err_t rc = lt_db_request_lookup(a->db, r->request_id, &prev);
        if (rc == LT_OK) {
            /* A retry: the first reply again (after the commit when that
             * first write is still pending: both depend on it). */
            s_reply(a, o, LT_OK, a->nwrites > 0, &prev);
            lt_buf_free(&prev);
            return;
        }
        lt_buf_free(&prev);
        if (rc != LT_ENOTFOUND) {
            s_reply_db_error(a, o, rc);
            return;
        }
    }
    switch (r->type) {
    case lattice_store_StoreMsgType_STORE_CREATE:
        s_store_create(a, o, r);
        break;
    case lattice_store_StoreMsgType_STORE_REMOVE:
        s_store_remove(a, o, r);
        break;
    case lattice_store_StoreMsgType_KV_PUT:
    case lattice_store_StoreMsgType_KV_DEL:
    case lattice_store_StoreMsgType_KV_BATCH:
        s_kv_write(a, o, r);
        break;
    case lattice_store_StoreMsgType_LOG_APPEND:
        s_log_append(a, o, r);
        break;
    case lattice_store_StoreMsgType_INGEST:
        s_ingest(a, o, r);
        break;
    case lattice_store_StoreMsgType_PEER_INVITE:
        s_peer_invite(a, o, r);
        break;
    case lattice_store_StoreMsgType_PEER_REVOKE:
        s_peer_revoke(a, o, r);
        break;
    case lattice_store_StoreMsgType_PEER_JOIN:
        s_peer_join(a, o, r);
        break;
    case lattice_store_StoreMsgType_PEER_JOINED:
        s_peer_joined(a, o, r);
        break;
    case lattice_store_StoreMsgType_INGEST_BATCH:
        s_ingest_batch(a, o, r);
        break;
    default:
        s_reply_error(a, o, LT_EINVAL, "not a write request");
    }
}

/* ---- the actor ---- */

static uint64_t s_runtime_now(void *ctx)
{
    const s_actor_t *a = ctx;
    return a->rt_ops->now(a->rt);
}

static lt_err_t s_start(lt_ctx_t *ctx, const void *cfgp, void **self)
{
    const lt_store_actor_config_t *cfg = cfgp;
    if (!cfg || !cfg->kv)
        return LT_EINVAL;
    s_actor_t *a = calloc(1, sizeof *a);
    if (!a)
        return LT_ENOMEM;
    a->ctx = ctx;
    a->log = ctx->log;
    a->rt_ops = ctx->ops;
    a->rt = ctx->rt;
    a->max_group = cfg->max_group ? cfg->max_group : LT_STORE_ACTOR_DEFAULT_MAX_GROUP;
    lt_db_config_t dc = {.kv = cfg->kv,
                         .identity = &cfg->identity,
                         .now = cfg->now ? cfg->now : s_runtime_now,
                         .now_ctx = cfg->now ? cfg->now_ctx : a,
                         .log = ctx->log,
                         .random = ctx->ops->random,
                         .random_ctx = ctx->rt};
    lt_errbuf_t eb = {""};
    lt_err_t rc = lt_db_open(&dc, &a->db, &eb);
    if (rc) {
        lt_log_error(a->log, S_TAG, "opening the node database failed: %s", eb.msg);
        free(a);
        return rc;
    }
    /* Child stores declared or removed while this node was down (or
     * before a crash let it open them). */
    s_children_sync(a, false);
    char key[2 * LT_KEY_LEN + 1];
    lt_hex(lt_db_node_key(a->db)->b, LT_KEY_LEN, key);
    lt_log_info(a->log, S_TAG, "store up: node %s, %zu stores", key, lt_db_store_count(a->db));
    s_gap_next(a);
    *self = a;
    return LT_OK;
}

/* Reads held behind staged writes bound the burst as writes do: a stream of
 * reads must not hold a write's reply (or memory) without end. */
static void s_bound_owed(s_actor_t *a)
{
    if (a->nowed >= a->max_group)
        s_flush(a);
}

static void s_receive(void *self, lt_ctx_t *ctx, const lt_msg_t *msg)
{
    s_actor_t *a = self;
    a->ctx = ctx;
    if (msg->kind != LT_MSG_REQUEST) {
        if (strcmp(msg->from, LT_ADMIT_KERNEL) == 0 && msg->kind == LT_MSG_EVENT &&
            msg->type == lattice_kernel_KernelMsgType_KERNEL_ADMIT_WANTED) {
            s_flush(a); /* what is staged first, so the set is the committed one */
            s_admit_push(a);
        } else if (strcmp(msg->from, LT_ADMIT_KERNEL) == 0 && msg->kind == LT_MSG_REPLY &&
                   msg->status != LT_OK) {
            lt_log_warn(a->log, S_TAG, "the kernel refused the admitted set: %s",
                        lt_strerror(msg->status));
        } else if (strcmp(msg->from, "sync") == 0 && msg->kind == LT_MSG_REPLY) {
            /* The report of a sync asked for children just opened
             * (s_ask_sync): their history comes in through ingests. */
            lt_log_debug(a->log, S_TAG, "the sync of opened children ended: %s",
                         lt_strerror(msg->status));
        } else {
            lt_log_debug(a->log, S_TAG, "ignored a message of kind %d from %s", (int)msg->kind,
                         msg->from);
        }
        return;
    }
    s_origin_t o = {.corr = msg->corr, .type = msg->type};
    snprintf(o.to, sizeof o.to, "%s", msg->from);
    /* Another node may ask what DESIGN.md §7 lets peers ask, and only that:
     * for now, to join with an invite, to clone, to fetch intentions by hash
     * and to read a chain back from an intention (the last three: active
     * peers). */
    if (strchr(msg->from, '@') && msg->type != lattice_store_StoreMsgType_PEER_JOIN &&
        msg->type != lattice_store_StoreMsgType_CLONE_READ &&
        msg->type != lattice_store_StoreMsgType_FETCH &&
        msg->type != lattice_store_StoreMsgType_CHAIN_READ) {
        s_reply_error(a, &o, LT_EREFUSED, "not served to other nodes");
        return;
    }
    if (!lt_store_msg_is_write(msg->type)) {
        /* Reads see the pending transaction: while anything is staged,
         * they wait for the commit. */
        if (a->nowed == 0 && a->nwrites == 0) {
            s_serve_read(a, &o, msg->body, msg->len);
        } else if (s_owe(a, &o, true, false, LT_OK, msg->body, msg->len) != LT_OK) {
            lt_log_error(a->log, S_TAG, "out of memory queueing a read");
            s_flush(a);
            s_serve_read(a, &o, msg->body, msg->len);
        } else {
            s_bound_owed(a);
        }
        return;
    }
    lt_store_req_t r;
    lt_errbuf_t eb = {""};
    lt_err_t rc = lt_store_req_decode(msg->type, msg->body, msg->len, &r, &eb);
    if (rc) {
        lt_log_debug(a->log, S_TAG, "malformed request from %s: %s", msg->from, eb.msg);
        s_reply_error(a, &o, rc, eb.msg);
        return;
    }
    s_serve_write(a, &o, &r);
    lt_store_req_free(&r);
    if (a->nwrites >= a->max_group || lt_db_pending_bytes(a->db) >= S_GROUP_MAX_BYTES)
        s_flush(a);
}

static void s_idle(void *self, lt_ctx_t *ctx)
{
    s_actor_t *a = self;
    a->ctx = ctx;
    if (a->nwrites || a->nowed)
        s_flush(a);
}

static void s_timer(void *self, lt_ctx_t *ctx, uint64_t token)
{
    s_actor_t *a = self;
    a->ctx = ctx;
    if (token == S_TIMER_RESEND) {
        a->resend_armed = false;
        s_resend(a);
    } else if (token == S_TIMER_VERIFY) {
        s_verify_slice(a);
    } else if (token == S_TIMER_GAP) {
        s_gap_slice(a);
    } else if (token == S_TIMER_BULK) {
        s_bulk_timer(a);
    }
}

static void s_stop(void *self)
{
    s_actor_t *a = self;
    if (!a)
        return;
    for (size_t i = 0; i < a->nresend; i++)
        lt_buf_free(&a->resend[i].body);
    free(a->resend);
    /* Whatever was not committed was never acknowledged: drop it. */
    for (size_t i = 0; i < a->nowed; i++)
        lt_buf_free(&a->owed[i].body);
    free(a->owed);
    for (size_t i = 0; i < a->nwatches; i++)
        free(a->watches[i]);
    free(a->watches);
    lt_buf_free(&a->witnessed);
    free(a->kin);
    if (a->bulk && a->db) {
        /* The next open would replay what only the log holds: flush it. */
        lt_kv_t *kv = lt_db_kv(a->db);
        if (lt_kv_bulk(kv, false) != LT_OK || kv->ops->flush(kv->self) != LT_OK)
            lt_log_warn(a->log, S_TAG, "flushing after bulk writes: %s", lt_kv_errmsg(kv));
    }
    lt_db_close(&a->db);
    free(a);
}

const lt_actor_ops_t lt_store_actor = {
    .abi = LT_ACTOR_ABI,
    .name = "store",
    .start = s_start,
    .receive = s_receive,
    .idle = s_idle,
    .timer = s_timer,
    .stop = s_stop,
};
