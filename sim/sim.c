/* The simulator: see sim.h. */
#include "sim/sim.h"

#include "boards/coop.h"
#include "ipc/frame.h"
#include "gossip/gossip_actor.h"
#include "store/kv.h"
#include "store/ops_codec.h"
#include "store/store_actor.h"
#include "store/tables.h"
#include "sync/sync_actor.h"
#include "weaver/hash.h"
#include "weaver/identity.h"

#include "gossip.pb.h"
#include "kernel.pb.h"
#include "store.pb.h"
#include "sync.pb.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_T0        1700000000000ull /* the virtual clock at the start */
#define S_SIM_NAME  "sim"            /* the replies to requests made as another node */
#define S_EXT       "ext:sim"
#define S_WRITER    "ext:w"
#define S_MAILBOX   64
#define S_RUN_SLICE 1000000u
#define S_SETUP_MS  600000u /* the most virtual time the setup may take */

/* ---- generators ---- */

static uint64_t s_next(uint64_t *x)
{
    /* xorshift64* */
    *x ^= *x >> 12;
    *x ^= *x << 25;
    *x ^= *x >> 27;
    return *x * 0x2545F4914F6CDD1DULL;
}

static uint64_t s_draw(uint64_t *x, uint64_t n)
{
    return n ? s_next(x) % n : 0;
}

static void s_random(void *ctx, void *buf, size_t n)
{
    uint8_t *out = buf;
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)(s_next(ctx) >> 56);
}

static uint64_t s_clock(void *ctx)
{
    return *(const uint64_t *)ctx;
}

/* ---- the world ---- */

typedef struct s_world s_world_t;

typedef struct {
    s_world_t *w;
    int idx;
    lt_coop_t *rt;
    lt_identity_t id;
    char hex[2 * LT_KEY_LEN + 1];
    uint64_t rng; /* the runtime's random bytes */
    bool holds;   /* holds the store */
    /* the reply to the simulator's last request to or as this node */
    bool got;
    uint64_t want_corr;
    lt_err_t status;
    lt_buf_t reply;
} s_node_t;

typedef struct {
    uint64_t due, seq;
    int src, dst;
    char to[LT_NAME_MAX];
    char from[LT_ADDR_MAX];
    lt_msg_t msg;
    uint8_t *body;
} s_packet_t;

struct s_world {
    lt_sim_config_t cfg;
    uint64_t clock;
    bool live;   /* the workload runs: the faults play */
    uint64_t t0; /* when it began */
    uint64_t net_rng, work_rng;
    s_node_t *n;
    unsigned count;
    uint8_t *adj;        /* count x count */
    uint64_t *link_free; /* count x count: when the link is free again (bandwidth) */
    /* the network: a heap on (due, seq) */
    s_packet_t **heap;
    size_t nheap, capheap;
    uint64_t seq;
    uint64_t corr;
    lt_store_id_t sid;
    /* reconciliation sessions seen: (src, session) */
    uint64_t *sessions;
    size_t nsessions, capsessions;
    lt_sim_result_t *res;
    lt_errbuf_t eb;
};

/* ---- the network ---- */

static bool s_heap_less(const s_packet_t *a, const s_packet_t *b)
{
    return a->due != b->due ? a->due < b->due : a->seq < b->seq;
}

static lt_err_t s_heap_push(s_world_t *w, s_packet_t *p)
{
    if (w->nheap == w->capheap) {
        size_t cap = w->capheap ? w->capheap * 2 : 256;
        s_packet_t **v = realloc(w->heap, cap * sizeof *v);
        if (!v)
            return LT_ENOMEM;
        w->heap = v;
        w->capheap = cap;
    }
    size_t i = w->nheap++;
    w->heap[i] = p;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!s_heap_less(w->heap[i], w->heap[up]))
            break;
        s_packet_t *t = w->heap[i];
        w->heap[i] = w->heap[up];
        w->heap[up] = t;
        i = up;
    }
    return LT_OK;
}

static s_packet_t *s_heap_pop(s_world_t *w)
{
    s_packet_t *top = w->heap[0];
    w->heap[0] = w->heap[--w->nheap];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < w->nheap && s_heap_less(w->heap[l], w->heap[m]))
            m = l;
        if (r < w->nheap && s_heap_less(w->heap[r], w->heap[m]))
            m = r;
        if (m == i)
            break;
        s_packet_t *t = w->heap[i];
        w->heap[i] = w->heap[m];
        w->heap[m] = t;
        i = m;
    }
    return top;
}

static int s_node_of(const s_world_t *w, const char *hex)
{
    for (unsigned i = 0; i < w->count; i++)
        if (memcmp(w->n[i].hex, hex, 2 * LT_KEY_LEN) == 0 && hex[2 * LT_KEY_LEN] == '\0')
            return (int)i;
    return -1;
}

/* Whether nodes a and b are on opposite sides of a partition now. */
static bool s_cut(const s_world_t *w, int a, int b)
{
    if (!w->live)
        return false;
    uint64_t t = w->clock - w->t0;
    unsigned half = w->count / 2;
    if (((unsigned)a < half) == ((unsigned)b < half))
        return false;
    for (unsigned i = 0; i < w->cfg.npartitions; i++)
        if (t >= w->cfg.partitions[i].at_ms && t < w->cfg.partitions[i].heal_ms)
            return true;
    return false;
}

/* Counts a new reconciliation session (its first SYNC_RECON). */
static void s_note_session(s_world_t *w, int src, const lt_msg_t *m)
{
    lattice_sync_Recon r = lattice_sync_Recon_init_zero;
    lt_pb_input_t in = lt_pb_input(m->body, m->len);
    lt_view_t body = {NULL, 0};
    lt_pb_view_arg_t arg = {&body, &in};
    lt_pb_bind_view(&r.msg, &arg);
    if (lt_pb_decode_static(lattice_sync_Recon_fields, &r, m->body, m->len) != LT_OK)
        return;
    uint64_t key = r.session ^ ((uint64_t)src * 0x9E3779B97F4A7C15ULL);
    for (size_t i = 0; i < w->nsessions; i++)
        if (w->sessions[i] == key)
            return;
    if (w->nsessions == w->capsessions) {
        size_t cap = w->capsessions ? w->capsessions * 2 : 64;
        uint64_t *v = realloc(w->sessions, cap * sizeof *v);
        if (!v)
            return;
        w->sessions = v;
        w->capsessions = cap;
    }
    w->sessions[w->nsessions++] = key;
    w->res->reconciliations++;
}

static lt_err_t s_enqueue(s_world_t *w, int src, int dst, const char *to, size_t tolen,
                          const char *from, const lt_msg_t *m, uint64_t due)
{
    s_packet_t *p = calloc(1, sizeof *p);
    if (!p)
        return LT_ENOMEM;
    p->body = malloc(m->len ? m->len : 1);
    if (!p->body) {
        free(p);
        return LT_ENOMEM;
    }
    p->src = src;
    p->dst = dst;
    p->due = due;
    p->seq = w->seq++;
    memcpy(p->to, to, tolen);
    p->to[tolen] = '\0';
    snprintf(p->from, sizeof p->from, "%s", from);
    p->msg = *m;
    if (m->len)
        memcpy(p->body, m->body, m->len);
    p->msg.body = p->body;
    lt_err_t rc = s_heap_push(w, p);
    if (rc) {
        free(p->body);
        free(p);
    }
    return rc;
}

/* What an actor of a node sends to another node: onto the network. */
static lt_err_t s_remote(void *ctx, const char *to, const lt_msg_t *m)
{
    s_node_t *src = ctx;
    s_world_t *w = src->w;
    const char *at = strchr(to, '@');
    if (!at || (size_t)(at - to) >= LT_NAME_MAX)
        return LT_EINVAL;
    int dst = s_node_of(w, at + 1);
    if (dst < 0 || !w->adj[src->idx * w->count + (unsigned)dst]) {
        w->res->no_link++;
        return LT_EUNAVAILABLE; /* no link to it: what the kernel would say */
    }
    char from[LT_ADDR_MAX + 2 * LT_KEY_LEN + 2];
    snprintf(from, sizeof from, "%s@%s", m->from, src->hex);
    if (strlen(from) >= LT_ADDR_MAX)
        return LT_EINVAL; /* a reply-to address too long to carry */
    size_t tolen = (size_t)(at - to);
    if (tolen == strlen(S_SIM_NAME) && memcmp(to, S_SIM_NAME, tolen) == 0)
        return s_enqueue(w, src->idx, dst, to, tolen, from, m, w->clock); /* the simulator's */
    {
        w->res->messages++;
        w->res->bytes += m->len;
        if (m->kind == LT_MSG_EVENT && m->type == lattice_gossip_GossipMsgType_GOSSIP_PUSH)
            w->res->gossip_rounds++;
        if (m->kind == LT_MSG_REQUEST && m->type == lattice_sync_SyncMsgType_SYNC_RECON)
            s_note_session(w, src->idx, m);
    }
    /* The link: queued behind what it carries already, then the flight. */
    uint64_t *free_at = &w->link_free[src->idx * w->count + (unsigned)dst];
    uint64_t start = *free_at > w->clock ? *free_at : w->clock;
    if (w->cfg.bandwidth_kbps) {
        uint64_t ms = ((uint64_t)m->len * 8 + w->cfg.bandwidth_kbps - 1) / w->cfg.bandwidth_kbps;
        *free_at = start + ms;
        start += ms;
    }
    uint64_t due = start + w->cfg.latency_ms + s_draw(&w->net_rng, w->cfg.jitter_ms + 1ull);
    if (w->live && w->cfg.loss_ppm && s_draw(&w->net_rng, 1000000) < w->cfg.loss_ppm) {
        w->res->lost++;
        return LT_OK;
    }
    lt_err_t rc = s_enqueue(w, src->idx, dst, to, tolen, from, m, due);
    if (rc == LT_OK && w->live && w->cfg.dup_ppm && s_draw(&w->net_rng, 1000000) < w->cfg.dup_ppm) {
        w->res->duplicated++;
        rc = s_enqueue(w, src->idx, dst, to, tolen, from, m,
                       due + s_draw(&w->net_rng, w->cfg.jitter_ms + 1ull));
    }
    return rc;
}

static void s_capture(s_node_t *n, const lt_msg_t *m)
{
    if (m->kind != LT_MSG_REPLY || m->corr != n->want_corr)
        return;
    n->got = true;
    n->status = m->status;
    if (lt_buf_set(&n->reply, m->body, m->len) != LT_OK)
        n->status = LT_ENOMEM;
}

/* Replies to the simulator's own requests ("ext:sim"); the writers' replies
 * are counted. */
static lt_err_t s_external(void *ctx, const char *to, const lt_msg_t *m)
{
    s_node_t *n = ctx;
    if (strcmp(to, S_WRITER) == 0) {
        if (m->kind == LT_MSG_REPLY) {
            if (m->status == LT_OK)
                n->w->res->writes_ok++;
            else
                n->w->res->writes_failed++;
        }
        return LT_OK;
    }
    s_capture(n, m);
    return LT_OK;
}

/* Delivers the packets due now; how many. */
static size_t s_deliver_due(s_world_t *w)
{
    size_t n = 0;
    while (w->nheap && w->heap[0]->due <= w->clock) {
        s_packet_t *p = s_heap_pop(w);
        s_node_t *dst = &w->n[p->dst];
        bool control = strcmp(p->to, S_SIM_NAME) == 0;
        if (control) {
            s_capture(dst, &p->msg);
        } else if (!s_cut(w, p->src, p->dst)) {
            /* A full mailbox drops it, as a congested link would. */
            if (lt_coop_inject(dst->rt, p->to, &p->msg, p->from) != LT_OK)
                w->res->mailbox_full++;
        } else {
            w->res->lost++;
        }
        free(p->body);
        free(p);
        n++;
    }
    return n;
}

/* ---- the kernel, as far as the actors talk to it ---- */

static lt_err_t s_kernel_start(lt_ctx_t *ctx, const void *cfg, void **self)
{
    (void)ctx;
    (void)cfg;
    *self = NULL;
    return LT_OK;
}

/* Takes the store's admitted set (every request answered) and nothing else
 * (the links are the host's), and says a link came up when the host asks. */
static void s_kernel_receive(void *self, lt_ctx_t *ctx, const lt_msg_t *msg)
{
    (void)self;
    if (msg->kind != LT_MSG_REQUEST)
        return;
    lt_err_t rc = LT_OK;
    if (msg->type == LT_SIM_KERNEL_SAY_LINK_UP)
        rc = lt_ctx_event(ctx, "sync", lattice_kernel_KernelMsgType_KERNEL_LINK_UP, msg->body,
                          msg->len);
    if (lt_ctx_reply(ctx, msg, rc, msg->type, NULL, 0) != LT_OK)
        lt_log_warn(ctx->log, "kernel", "cannot answer %s", msg->from);
}

const lt_actor_ops_t lt_sim_kernel = {
    .abi = LT_ACTOR_ABI, .name = "kernel", .start = s_kernel_start, .receive = s_kernel_receive};

/* ---- running ---- */

/* Runs every node and the network until nothing is left to do now. */
static void s_settle(s_world_t *w)
{
    for (;;) {
        bool moved = false;
        for (unsigned i = 0; i < w->count; i++)
            moved |= lt_coop_run(w->n[i].rt, S_RUN_SLICE) > 0;
        moved |= s_deliver_due(w) > 0;
        if (!moved)
            return;
    }
}

/* The next time something is due after now (a packet, a timer), or `limit`. */
static uint64_t s_next_event(const s_world_t *w, uint64_t limit)
{
    uint64_t next = limit, d;
    if (w->nheap && w->heap[0]->due < next)
        next = w->heap[0]->due;
    for (unsigned i = 0; i < w->count; i++)
        if (lt_coop_next_deadline(w->n[i].rt, &d) && d < next)
            next = d;
    return next;
}

/* Moves the clock to t (>= now), settling at every event on the way. */
static void s_advance_to(s_world_t *w, uint64_t t)
{
    s_settle(w);
    while (w->clock < t) {
        uint64_t next = s_next_event(w, t);
        w->clock = next > w->clock ? next : w->clock + 1;
        for (unsigned i = 0; i < w->count; i++)
            lt_coop_advance(w->n[i].rt, w->clock);
        s_settle(w);
    }
}

/* A request from the simulator to actor `to` of node i; as node `as`'s
 * "sim" when as >= 0 (the reply then travels back over the network). Runs
 * the world until the reply, for at most S_SETUP_MS. */
static lt_err_t s_ask(s_world_t *w, int i, int as, const char *to, uint32_t type, const lt_buf_t *b)
{
    s_node_t *rn = as >= 0 ? &w->n[as] : &w->n[i];
    lt_msg_t m = {.kind = LT_MSG_REQUEST,
                  .corr = w->corr++,
                  .type = type,
                  .body = b ? b->data : NULL,
                  .len = b ? b->len : 0};
    char from[LT_ADDR_MAX];
    if (as >= 0)
        snprintf(from, sizeof from, "%s@%s", S_SIM_NAME, w->n[as].hex);
    else
        snprintf(from, sizeof from, "%s", S_EXT);
    rn->got = false;
    rn->want_corr = m.corr;
    lt_err_t rc = lt_coop_inject(w->n[i].rt, to, &m, from);
    if (rc)
        return rc;
    uint64_t limit = w->clock + S_SETUP_MS;
    s_settle(w);
    while (!rn->got && w->clock < limit) {
        uint64_t next = s_next_event(w, limit);
        w->clock = next > w->clock ? next : w->clock + 1;
        for (unsigned k = 0; k < w->count; k++)
            lt_coop_advance(w->n[k].rt, w->clock);
        s_settle(w);
    }
    return rn->got ? rn->status : LT_ETIMEDOUT;
}

/* Sends a request to node i and does not wait (its reply goes to `from`). */
static lt_err_t s_tell(s_world_t *w, int i, const char *to, uint32_t type, const lt_buf_t *b,
                       const char *from)
{
    lt_msg_t m = {
        .kind = LT_MSG_REQUEST, .corr = w->corr++, .type = type, .body = b->data, .len = b->len};
    return lt_coop_inject(w->n[i].rt, to, &m, from);
}

static lt_err_t s_enc(const pb_msgdesc_t *f, const void *m, lt_buf_t *b)
{
    lt_buf_reset(b);
    return lt_pb_encode_static(f, m, b);
}

#define S_SET(field, src, n)                                                                       \
    do {                                                                                           \
        (field).size = (n);                                                                        \
        memcpy((field).bytes, (src), (n));                                                         \
    } while (0)

/* Node j joins the store through node i (invite, join, joined). */
static lt_err_t s_join(s_world_t *w, int i, int j)
{
    lt_buf_t b = LT_BUF_INIT;
    lattice_store_PeerInvite inv = lattice_store_PeerInvite_init_zero;
    S_SET(inv.store, w->sid.b, LT_STORE_ID_LEN);
    lt_err_t rc = s_enc(lattice_store_PeerInvite_fields, &inv, &b);
    if (rc == LT_OK)
        rc = s_ask(w, i, -1, "store", lattice_store_StoreMsgType_PEER_INVITE, &b);
    lattice_store_Invited got = lattice_store_Invited_init_zero;
    if (rc == LT_OK && lt_pb_decode_static(lattice_store_Invited_fields, &got, w->n[i].reply.data,
                                           w->n[i].reply.len) != LT_OK)
        rc = LT_EINVAL;
    lattice_store_PeerJoin pj = lattice_store_PeerJoin_init_zero;
    S_SET(pj.store, w->sid.b, LT_STORE_ID_LEN);
    S_SET(pj.secret, got.secret.bytes, got.secret.size);
    if (rc == LT_OK)
        rc = s_enc(lattice_store_PeerJoin_fields, &pj, &b);
    if (rc == LT_OK)
        rc = s_ask(w, i, j, "store", lattice_store_StoreMsgType_PEER_JOIN, &b);
    if (rc == LT_OK)
        rc = lt_buf_set(&b, w->n[j].reply.data, w->n[j].reply.len);
    if (rc == LT_OK)
        rc = s_ask(w, j, -1, "store", lattice_store_StoreMsgType_PEER_JOINED, &b);
    lt_buf_free(&b);
    if (rc == LT_OK)
        w->n[j].holds = true;
    else
        lt_fail(&w->eb, rc, "node %d could not join through node %d: %s", j, i, lt_strerror(rc));
    return rc;
}

/* Tells node i's sync that its link to node j is up (as its kernel would). */
static void s_link_up(s_world_t *w, int i, int j)
{
    lattice_kernel_LinkUp m = lattice_kernel_LinkUp_init_zero;
    S_SET(m.key, w->n[j].id.pk.b, LT_KEY_LEN);
    lt_buf_t b = LT_BUF_INIT;
    if (s_enc(lattice_kernel_LinkUp_fields, &m, &b) != LT_OK ||
        s_tell(w, i, "kernel", LT_SIM_KERNEL_SAY_LINK_UP, &b, S_WRITER "k") != LT_OK)
        w->res->mailbox_full++;
    lt_buf_free(&b);
}

/* Node i's witnessed count and KV state hash (hex; "" without the store). */
static lt_err_t s_state(s_world_t *w, int i, uint64_t *witnessed, char hash[65])
{
    *witnessed = 0;
    if (hash)
        hash[0] = '\0';
    if (!w->n[i].holds)
        return LT_OK;
    lattice_store_StoreRef ref = lattice_store_StoreRef_init_zero;
    S_SET(ref.store, w->sid.b, LT_STORE_ID_LEN);
    lt_buf_t b = LT_BUF_INIT;
    lt_err_t rc = s_enc(lattice_store_StoreRef_fields, &ref, &b);
    if (rc == LT_OK)
        rc = s_ask(w, i, -1, "store", lattice_store_StoreMsgType_STORE_INFO, &b);
    lattice_store_StoreInfo si = lattice_store_StoreInfo_init_zero;
    if (rc == LT_OK && lt_pb_decode_static(lattice_store_StoreInfo_fields, &si, w->n[i].reply.data,
                                           w->n[i].reply.len) != LT_OK)
        rc = LT_EINVAL;
    *witnessed = si.witnessed;
    if (hash) {
        lattice_store_KvPrefix kp = lattice_store_KvPrefix_init_zero;
        S_SET(kp.store, w->sid.b, LT_STORE_ID_LEN);
        if (rc == LT_OK)
            rc = s_enc(lattice_store_KvPrefix_fields, &kp, &b);
        if (rc == LT_OK)
            rc = s_ask(w, i, -1, "store", lattice_store_StoreMsgType_KV_LIST, &b);
        if (rc == LT_OK) {
            lt_hash_t h;
            lt_hash_personal("lattice-sim-st1\0", w->n[i].reply.data, w->n[i].reply.len, &h);
            lt_hex(h.b, LT_HASH_LEN, hash);
        }
    }
    lt_buf_free(&b);
    return rc;
}

/* ---- topology ---- */

static void s_link(s_world_t *w, unsigned a, unsigned b)
{
    if (a == b)
        return;
    w->adj[a * w->count + b] = 1;
    w->adj[b * w->count + a] = 1;
}

/* A random k-regular graph: k link ends per node, paired at random (the
 * configuration model), drawn again until the graph is simple and connected
 * (at most 1000 draws). */
static bool s_kregular(s_world_t *w, unsigned k)
{
    unsigned n = w->count;
    unsigned *ends = malloc((size_t)n * k * sizeof *ends);
    if (!ends)
        return false;
    for (int attempt = 0; attempt < 1000; attempt++) {
        memset(w->adj, 0, (size_t)n * n);
        size_t ns = 0;
        for (unsigned i = 0; i < n; i++)
            for (unsigned j = 0; j < k; j++)
                ends[ns++] = i;
        bool ok = true;
        while (ns > 0 && ok) {
            size_t x = s_draw(&w->work_rng, ns);
            unsigned a = ends[x];
            ends[x] = ends[--ns];
            size_t y = s_draw(&w->work_rng, ns);
            unsigned b = ends[y];
            ends[y] = ends[--ns];
            ok = a != b && !w->adj[a * n + b];
            if (ok)
                s_link(w, a, b);
        }
        if (!ok)
            continue;
        /* connected? */
        unsigned char *seen = calloc(n, 1);
        unsigned *q = malloc(n * sizeof *q);
        size_t qh = 0, qt = 0, reached = 0;
        if (seen && q) {
            q[qt++] = 0;
            seen[0] = 1;
            while (qh < qt) {
                unsigned a = q[qh++];
                reached++;
                for (unsigned b = 0; b < n; b++)
                    if (w->adj[a * n + b] && !seen[b]) {
                        seen[b] = 1;
                        q[qt++] = b;
                    }
            }
        }
        free(seen);
        free(q);
        if (reached == n) {
            free(ends);
            return true;
        }
    }
    free(ends);
    return false;
}

static bool s_topology(s_world_t *w)
{
    unsigned n = w->count;
    switch (w->cfg.topology) {
    case LT_SIM_FULL:
        for (unsigned a = 0; a < n; a++)
            for (unsigned b = a + 1; b < n; b++)
                s_link(w, a, b);
        return true;
    case LT_SIM_RING:
    case LT_SIM_LINE:
        for (unsigned a = 0; a + 1 < n; a++)
            s_link(w, a, a + 1);
        if (w->cfg.topology == LT_SIM_RING && n > 2)
            s_link(w, n - 1, 0);
        return true;
    case LT_SIM_STAR:
        for (unsigned a = 1; a < n; a++)
            s_link(w, 0, a);
        return true;
    case LT_SIM_KREGULAR:
        return s_kregular(w, w->cfg.degree);
    }
    return false;
}

/* ---- setup ---- */

static lt_err_t s_node_start(s_world_t *w, unsigned i)
{
    s_node_t *n = &w->n[i];
    n->w = w;
    n->idx = (int)i;
    n->reply = (lt_buf_t)LT_BUF_INIT;
    uint8_t seed[LT_SEED_LEN];
    uint64_t x = w->cfg.seed * 0x9E3779B97F4A7C15ULL + i + 1;
    s_random(&x, seed, sizeof seed);
    lt_identity_from_seed(&n->id, seed);
    lt_hex(n->id.pk.b, LT_KEY_LEN, n->hex);
    n->rng = w->cfg.seed ^ (0xA5A5A5A5ULL * (i + 1)) ^ 0x1234567ULL;
    if (!n->rng)
        n->rng = 1;
    lt_coop_config_t cc = {.now = s_clock,
                           .now_ctx = &w->clock,
                           .random = s_random,
                           .random_ctx = &n->rng,
                           .node = n->hex,
                           .mailbox_cap = S_MAILBOX,
                           .max_body = LT_FRAME_MAX_BODY,
                           .max_actors = 4,
                           .max_timers = 64,
                           .remote_send = s_remote,
                           .remote_ctx = n,
                           .external = s_external,
                           .external_ctx = n};
    lt_err_t rc = lt_coop_new(&cc, &n->rt);
    if (rc == LT_OK)
        rc = lt_coop_add(n->rt, &lt_sim_kernel, NULL);
    lt_store_actor_config_t sc = {.identity = n->id};
    if (rc == LT_OK)
        rc = lt_kv_mem_open(LT_CF_COUNT, &sc.kv);
    if (rc == LT_OK) {
        rc = lt_coop_add(n->rt, &lt_store_actor, &sc);
        if (rc)
            lt_kv_close(&sc.kv);
    }
    lt_sync_actor_config_t yc = {.period_ms = w->cfg.sync_period_ms};
    if (rc == LT_OK)
        rc = lt_coop_add(n->rt, &lt_sync_actor, &yc);
    lt_gossip_actor_config_t gc = {0};
    if (rc == LT_OK)
        rc = lt_coop_add(n->rt, &lt_gossip_actor, &gc);
    if (rc)
        lt_fail(&w->eb, rc, "node %u: cannot start its actors: %s", i, lt_strerror(rc));
    return rc;
}

/* The neighbour of j that holds the store, lowest first; -1: none. */
static int s_holder_next_to(const s_world_t *w, unsigned j)
{
    for (unsigned i = 0; i < w->count; i++)
        if (w->adj[j * w->count + i] && w->n[i].holds)
            return (int)i;
    return -1;
}

/* Node 0 creates the store; the others join through a holding neighbour, in
 * order of distance from node 0 (all but the late ones). */
static lt_err_t s_setup(s_world_t *w)
{
    lattice_store_StoreCreate m = lattice_store_StoreCreate_init_zero;
    m.type = lattice_store_StoreType_STORE_TYPE_KV;
    snprintf(m.name, sizeof m.name, "sim");
    lt_buf_t b = LT_BUF_INIT;
    lt_err_t rc = s_enc(lattice_store_StoreCreate_fields, &m, &b);
    if (rc == LT_OK)
        rc = s_ask(w, 0, -1, "store", lattice_store_StoreMsgType_STORE_CREATE, &b);
    lt_buf_free(&b);
    lattice_store_StoreCreated sc = lattice_store_StoreCreated_init_zero;
    if (rc == LT_OK && (lt_pb_decode_static(lattice_store_StoreCreated_fields, &sc,
                                            w->n[0].reply.data, w->n[0].reply.len) != LT_OK ||
                        sc.store.size != LT_STORE_ID_LEN))
        rc = LT_EINVAL;
    if (rc)
        return lt_fail(&w->eb, rc, "node 0 could not create the store: %s", lt_strerror(rc));
    memcpy(w->sid.b, sc.store.bytes, LT_STORE_ID_LEN);
    w->n[0].holds = true;
    unsigned early = w->count - w->cfg.late;
    for (bool more = true; more;) {
        more = false;
        for (unsigned j = 1; j < early; j++) {
            if (w->n[j].holds)
                continue;
            int i = s_holder_next_to(w, j);
            if (i < 0)
                continue;
            if ((rc = s_join(w, i, (int)j)) != LT_OK)
                return rc;
            more = true;
        }
    }
    for (unsigned j = 1; j < early; j++)
        if (!w->n[j].holds)
            return lt_fail(&w->eb, LT_EINVAL, "node %u is not reachable from node 0", j);
    /* Everyone learns every peer: reconcile along the links until all hold
     * the same system table (no faults yet). */
    for (unsigned i = 0; i < early; i++)
        for (unsigned j = 0; j < early; j++)
            if (w->adj[i * w->count + j])
                s_link_up(w, (int)i, (int)j);
    s_advance_to(w, w->clock + 2 * (uint64_t)(w->cfg.sync_period_ms + 1000));
    return LT_OK;
}

/* ---- the run ---- */

static lt_err_t s_write(s_world_t *w, unsigned node, unsigned key, uint64_t nr)
{
    char k[24], v[512];
    snprintf(k, sizeof k, "k%u", key);
    size_t vlen = w->cfg.value_bytes < sizeof v ? w->cfg.value_bytes : sizeof v - 1;
    memset(v, 'v', vlen);
    int h = snprintf(v, vlen + 1, "w%llu@%u:", (unsigned long long)nr, node);
    if (h > 0 && (size_t)h < vlen)
        v[h] = 'v';
    lattice_store_KvPut m = lattice_store_KvPut_init_zero;
    S_SET(m.store, w->sid.b, LT_STORE_ID_LEN);
    lt_view_t kv = {(const uint8_t *)k, strlen(k)}, vv = {(const uint8_t *)v, vlen};
    lt_pb_bind_write(&m.key, &kv);
    lt_pb_bind_write(&m.value, &vv);
    lt_buf_t b = LT_BUF_INIT;
    lt_err_t rc = lt_pb_encode_static(lattice_store_KvPut_fields, &m, &b);
    if (rc == LT_OK)
        rc = s_tell(w, (int)node, "store", lattice_store_StoreMsgType_KV_PUT, &b, S_WRITER);
    lt_buf_free(&b);
    if (rc)
        w->res->writes_failed++;
    return LT_OK;
}

/* A random node holding the store, other than `not` (-1: any). */
static int s_writer(s_world_t *w, int not )
{
    unsigned tries = 0;
    for (;;) {
        unsigned i = (unsigned)s_draw(&w->work_rng, w->count);
        if (w->n[i].holds && (int)i != not )
            return (int)i;
        if (++tries > 4 * w->count)
            return not == 0 ? -1 : 0;
    }
}

/* The late joiners join through a neighbour holding the store and clone. */
static lt_err_t s_late_join(s_world_t *w)
{
    for (unsigned j = w->count - w->cfg.late; j < w->count; j++) {
        int i = s_holder_next_to(w, j);
        if (i < 0)
            continue; /* not yet: a neighbour of it is late too */
        lt_err_t rc = s_join(w, i, (int)j);
        if (rc)
            return rc;
        lattice_sync_Clone c = lattice_sync_Clone_init_zero;
        S_SET(c.store, w->sid.b, LT_STORE_ID_LEN);
        S_SET(c.peer, w->n[i].id.pk.b, LT_KEY_LEN);
        lt_buf_t b = LT_BUF_INIT;
        rc = s_enc(lattice_sync_Clone_fields, &c, &b);
        if (rc == LT_OK)
            rc = s_tell(w, (int)j, "sync", lattice_sync_SyncMsgType_SYNC_CLONE, &b, S_WRITER "c");
        lt_buf_free(&b);
        if (rc)
            return lt_fail(&w->eb, rc, "node %u: cannot start its clone", j);
        w->res->clones++;
        for (unsigned k = 0; k < w->count; k++)
            if (w->adj[j * w->count + k] && w->n[k].holds) {
                s_link_up(w, (int)j, (int)k);
                s_link_up(w, (int)k, (int)j);
            }
    }
    return LT_OK;
}

/* A look at convergence: a sample, and whether every holder agrees. */
static lt_err_t s_look(s_world_t *w, uint64_t t, bool *agree)
{
    uint64_t most = 0, *wit = w->res->node_witnessed;
    unsigned holders = 0;
    for (unsigned i = 0; i < w->count; i++) {
        lt_err_t rc = s_state(w, (int)i, &wit[i], NULL);
        if (rc)
            return lt_fail(&w->eb, rc, "node %u: cannot read its state: %s", i, lt_strerror(rc));
        if (w->n[i].holds) {
            holders++;
            if (wit[i] > most)
                most = wit[i];
        }
    }
    unsigned caught = 0;
    double held = 0;
    for (unsigned i = 0; i < w->count; i++) {
        caught += w->n[i].holds && wit[i] == most;
        if (w->n[i].holds && most)
            held += (double)wit[i] / (double)most;
    }
    held = holders ? held / holders : 0;
    lt_sim_result_t *r = w->res;
    lt_sim_sample_t *v = realloc(r->samples, (r->nsamples + 1) * sizeof *v);
    if (!v)
        return LT_ENOMEM;
    r->samples = v;
    r->samples[r->nsamples++] = (lt_sim_sample_t){t, caught, holders, held};
    *agree = false;
    if (caught != w->count)
        return LT_OK;
    /* The same count everywhere: the same state too? */
    char first[65];
    for (unsigned i = 0; i < w->count; i++) {
        lt_err_t rc = s_state(w, (int)i, &wit[i], r->state_hash[i]);
        if (rc)
            return lt_fail(&w->eb, rc, "node %u: cannot read its state: %s", i, lt_strerror(rc));
        if (i == 0)
            memcpy(first, r->state_hash[0], sizeof first);
        else if (strcmp(first, r->state_hash[i]) != 0 || wit[i] != wit[0])
            return LT_OK;
    }
    *agree = true;
    return LT_OK;
}

static lt_err_t s_run(s_world_t *w)
{
    lt_sim_config_t *c = &w->cfg;
    lt_sim_result_t *r = w->res;
    uint64_t t0 = w->t0;
    uint64_t gap = 1000 / (c->rate_per_s ? c->rate_per_s : 1);
    if (gap == 0)
        gap = 1;
    uint64_t nr = 0, next_write = t0, next_look = t0 + c->sample_ms;
    bool late_done = c->late == 0, agree = false, was_cut = false;
    lt_err_t rc = LT_OK;
    while (rc == LT_OK) {
        uint64_t now = w->clock - t0;
        /* A heal: the kernels on both sides see their links come back. */
        bool cut = false;
        for (unsigned i = 0; i < c->npartitions; i++)
            cut |= now >= c->partitions[i].at_ms && now < c->partitions[i].heal_ms;
        if (was_cut && !cut)
            for (unsigned a = 0; a < w->count; a++)
                for (unsigned b = 0; b < w->count; b++)
                    if (w->adj[a * w->count + b] && w->n[a].holds && w->n[b].holds &&
                        (a < w->count / 2) != (b < w->count / 2))
                        s_link_up(w, (int)a, (int)b);
        was_cut = cut;
        if (!late_done && now >= c->late_at_ms) {
            rc = s_late_join(w);
            late_done = true;
        }
        while (rc == LT_OK && nr < c->writes && w->clock >= next_write) {
            int a = s_writer(w, -1);
            unsigned key = (unsigned)s_draw(&w->work_rng, c->keys);
            if (a >= 0)
                rc = s_write(w, (unsigned)a, key, nr++);
            if (rc == LT_OK && nr < c->writes && s_draw(&w->work_rng, 1000) < c->conflict_pm) {
                int b = s_writer(w, a);
                if (b >= 0)
                    rc = s_write(w, (unsigned)b, key, nr++);
            }
            next_write += gap;
        }
        s_settle(w);
        if (rc == LT_OK && w->clock >= next_look) {
            next_look += c->sample_ms;
            bool all_written = nr >= c->writes && late_done;
            rc = s_look(w, now, &agree);
            if (rc == LT_OK && agree && all_written) {
                r->converged = true;
                r->virtual_ms_to_converge = now;
                break;
            }
        }
        if (now >= c->deadline_ms)
            break;
        /* On to the next thing due. */
        uint64_t limit = next_look;
        if (nr < c->writes && next_write < limit)
            limit = next_write;
        if (!late_done && t0 + c->late_at_ms < limit)
            limit = t0 + c->late_at_ms;
        for (unsigned i = 0; i < c->npartitions; i++) {
            uint64_t at = t0 + c->partitions[i].at_ms, heal = t0 + c->partitions[i].heal_ms;
            if (at > w->clock && at < limit)
                limit = at;
            if (heal > w->clock && heal < limit)
                limit = heal;
        }
        uint64_t next = s_next_event(w, limit);
        w->clock = next > w->clock ? next : w->clock + 1;
        for (unsigned i = 0; i < w->count; i++)
            lt_coop_advance(w->n[i].rt, w->clock);
    }
    r->virtual_ms = w->clock - t0;
    return rc;
}

/* Gossip's counters on every node: chain reads are the gap recoveries. */
static void s_gossip_counts(s_world_t *w)
{
    for (unsigned i = 0; i < w->count; i++) {
        if (s_ask(w, (int)i, -1, "gossip", lattice_gossip_GossipMsgType_GOSSIP_STATUS, NULL) !=
            LT_OK)
            continue;
        lattice_gossip_GossipStatus st = lattice_gossip_GossipStatus_init_zero;
        if (lt_pb_decode_static(lattice_gossip_GossipStatus_fields, &st, w->n[i].reply.data,
                                w->n[i].reply.len) == LT_OK)
            w->res->gap_recoveries += st.chain_reads;
    }
}

void lt_sim_config_default(lt_sim_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->nodes = 24;
    cfg->seed = 1;
    cfg->topology = LT_SIM_KREGULAR;
    cfg->degree = 4;
    cfg->latency_ms = 10;
    cfg->jitter_ms = 10;
    cfg->writes = 1000;
    cfg->rate_per_s = 200;
    cfg->keys = 64;
    cfg->conflict_pm = 50;
    cfg->value_bytes = 32;
    cfg->sync_period_ms = 10000;
    cfg->deadline_ms = 600000;
    cfg->sample_ms = 250;
}

static lt_err_t s_check(const lt_sim_config_t *c, lt_errbuf_t *eb)
{
    if (c->nodes < 2 || c->nodes > LT_SIM_MAX_NODES)
        return lt_fail(eb, LT_EINVAL, "--nodes: 2 to %d", LT_SIM_MAX_NODES);
    if (c->topology == LT_SIM_KREGULAR &&
        (c->degree < 1 || c->degree >= c->nodes || ((uint64_t)c->degree * c->nodes) % 2))
        return lt_fail(eb, LT_EINVAL,
                       "a %u-regular graph of %u nodes does not exist (degree below the node "
                       "count, degree x nodes even)",
                       c->degree, c->nodes);
    if (c->late >= c->nodes)
        return lt_fail(eb, LT_EINVAL, "--late: fewer than the nodes");
    if (c->npartitions > LT_SIM_MAX_PARTITIONS)
        return lt_fail(eb, LT_EINVAL, "at most %d partitions", LT_SIM_MAX_PARTITIONS);
    for (unsigned i = 0; i < c->npartitions; i++)
        if (c->partitions[i].heal_ms <= c->partitions[i].at_ms)
            return lt_fail(eb, LT_EINVAL, "a partition heals after it begins");
    if (c->loss_ppm >= 1000000 || c->dup_ppm > 1000000 || c->conflict_pm > 1000)
        return lt_fail(eb, LT_EINVAL, "loss below 1, duplication and conflicts at most 1");
    if (c->keys == 0 || c->sample_ms == 0 || c->sync_period_ms == 0)
        return lt_fail(eb, LT_EINVAL, "keys, sample and sync period must not be 0");
    return LT_OK;
}

lt_err_t lt_sim_run(const lt_sim_config_t *cfg, lt_sim_result_t *out, char *err, size_t cap)
{
    memset(out, 0, sizeof *out);
    s_world_t *w = calloc(1, sizeof *w);
    if (!w)
        return LT_ENOMEM;
    w->cfg = *cfg;
    lt_err_t rc = s_check(&w->cfg, &w->eb);
    unsigned n = w->cfg.nodes;
    w->count = n;
    w->clock = S_T0;
    w->corr = 1;
    w->net_rng = w->cfg.seed * 0xD1342543DE82EF95ULL + 17;
    w->work_rng = w->cfg.seed * 0xBF58476D1CE4E5B9ULL + 29;
    w->res = out;
    out->nodes = n;
    if (rc == LT_OK) {
        w->n = calloc(n, sizeof *w->n);
        w->adj = calloc((size_t)n * n, 1);
        w->link_free = calloc((size_t)n * n, sizeof *w->link_free);
        out->state_hash = calloc(n, sizeof *out->state_hash);
        out->node_witnessed = calloc(n, sizeof *out->node_witnessed);
        if (!w->n || !w->adj || !w->link_free || !out->state_hash || !out->node_witnessed)
            rc = lt_fail(&w->eb, LT_ENOMEM, "out of memory");
    }
    if (rc == LT_OK && !s_topology(w))
        rc = lt_fail(&w->eb, LT_EINVAL, "no connected %s topology of %u nodes was found",
                     lt_sim_topology_name(w->cfg.topology), n);
    for (unsigned i = 0; rc == LT_OK && i < n; i++)
        rc = s_node_start(w, i);
    if (rc == LT_OK)
        rc = s_setup(w);
    /* The setup's traffic is not the run's; the faults begin now. */
    out->messages = out->bytes = out->gossip_rounds = out->reconciliations = out->no_link = 0;
    w->live = true;
    w->t0 = w->clock;
    if (rc == LT_OK)
        rc = s_run(w);
    if (rc == LT_OK) {
        s_gossip_counts(w);
        for (unsigned i = 0; i < n && w->n[i].rt; i++) {
            lt_coop_stats_t st;
            lt_coop_stats(w->n[i].rt, &st);
            out->events += st.steps + st.timers_fired;
        }
        out->witnessed = out->node_witnessed[0];
    }
    if (rc && err)
        snprintf(err, cap, "%s", w->eb.msg[0] ? w->eb.msg : lt_strerror(rc));
    for (unsigned i = 0; w->n && i < n; i++) {
        lt_coop_destroy(&w->n[i].rt);
        lt_buf_free(&w->n[i].reply);
        lt_identity_wipe(&w->n[i].id);
    }
    while (w->nheap) {
        s_packet_t *p = s_heap_pop(w);
        free(p->body);
        free(p);
    }
    free(w->heap);
    free(w->sessions);
    free(w->n);
    free(w->adj);
    free(w->link_free);
    free(w);
    return rc;
}

void lt_sim_result_free(lt_sim_result_t *r)
{
    free(r->state_hash);
    free(r->node_witnessed);
    free(r->samples);
    memset(r, 0, sizeof *r);
}

static const char *const s_topo_names[] = {"full", "ring", "kregular", "star", "line"};

const char *lt_sim_topology_name(lt_sim_topology_t t)
{
    return (unsigned)t < sizeof s_topo_names / sizeof *s_topo_names ? s_topo_names[t] : "?";
}

bool lt_sim_topology_parse(const char *s, lt_sim_topology_t *out)
{
    for (unsigned i = 0; i < sizeof s_topo_names / sizeof *s_topo_names; i++)
        if (strcmp(s, s_topo_names[i]) == 0) {
            *out = (lt_sim_topology_t)i;
            return true;
        }
    return false;
}

/* ---- output ---- */

static lt_err_t s_printf(lt_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static lt_err_t s_printf(lt_buf_t *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return LT_EINVAL;
    return lt_buf_append(b, tmp, (size_t)n);
}

lt_err_t lt_sim_json(const lt_sim_config_t *c, const lt_sim_result_t *r, lt_buf_t *out)
{
    lt_err_t rc =
        s_printf(out,
                 "{\"nodes\":%u,\"seed\":%llu,\"topology\":\"%s\",\"degree\":%u,\"latency_ms\":%u,"
                 "\"jitter_ms\":%u,\"loss\":%.6f,\"dup\":%.6f,\"bandwidth_kbps\":%u,\"writes\":%u,"
                 "\"rate_per_s\":%u,\"keys\":%u,\"conflict\":%.3f,\"late\":%u,\"partitions\":%u,",
                 c->nodes, (unsigned long long)c->seed, lt_sim_topology_name(c->topology),
                 c->topology == LT_SIM_KREGULAR ? c->degree : 0, c->latency_ms, c->jitter_ms,
                 c->loss_ppm / 1e6, c->dup_ppm / 1e6, c->bandwidth_kbps, c->writes, c->rate_per_s,
                 c->keys, c->conflict_pm / 1e3, c->late, c->npartitions);
    if (rc == LT_OK)
        rc = s_printf(
            out,
            "\"converged\":%s,\"virtual_ms_to_converge\":%llu,\"virtual_ms\":%llu,"
            "\"writes_ok\":%llu,\"writes_failed\":%llu,\"gossip_rounds\":%llu,\"messages\":%llu,"
            "\"bytes\":%llu,\"lost\":%llu,\"duplicated\":%llu,\"mailbox_full\":%llu,"
            "\"gap_recoveries\":%llu,"
            "\"reconciliations\":%llu,\"clones\":%llu,\"events\":%llu,\"witnessed\":%llu,",
            r->converged ? "true" : "false", (unsigned long long)r->virtual_ms_to_converge,
            (unsigned long long)r->virtual_ms, (unsigned long long)r->writes_ok,
            (unsigned long long)r->writes_failed, (unsigned long long)r->gossip_rounds,
            (unsigned long long)r->messages, (unsigned long long)r->bytes,
            (unsigned long long)r->lost, (unsigned long long)r->duplicated,
            (unsigned long long)r->mailbox_full, (unsigned long long)r->gap_recoveries,
            (unsigned long long)r->reconciliations, (unsigned long long)r->clones,
            (unsigned long long)r->events, (unsigned long long)r->witnessed);
    if (rc == LT_OK)
        rc = s_printf(out, "\"state_hash\":[");
    for (unsigned i = 0; rc == LT_OK && i < r->nodes; i++)
        rc = s_printf(out, "%s\"%s\"", i ? "," : "", r->state_hash ? r->state_hash[i] : "");
    if (rc == LT_OK)
        rc = s_printf(out, "]}");
    return rc;
}

lt_err_t lt_sim_svg(const lt_sim_config_t *c, const lt_sim_result_t *r, lt_buf_t *out)
{
    const double W = 640, H = 360, L = 56, B = 40, T = 30, R = 20;
    uint64_t tmax = r->nsamples ? r->samples[r->nsamples - 1].at_ms : 1;
    if (tmax == 0)
        tmax = 1;
    double ymax = c->nodes;
    lt_err_t rc = s_printf(out,
                           "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
                           "height=\"%.0f\" font-family=\"sans-serif\" font-size=\"12\">\n"
                           "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
                           W, H);
    if (rc == LT_OK)
        rc = s_printf(out,
                      "<text x=\"%.0f\" y=\"18\">lattice-sim: %u nodes, %s, seed %llu, loss "
                      "%.1f%%: replicas caught up</text>\n",
                      L, c->nodes, lt_sim_topology_name(c->topology), (unsigned long long)c->seed,
                      c->loss_ppm / 1e4);
    if (rc == LT_OK)
        rc = s_printf(out,
                      "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"black\"/>\n"
                      "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"black\"/>\n",
                      L, H - B, W - R, H - B, L, T, L, H - B);
    if (rc == LT_OK)
        rc = s_printf(out,
                      "<text x=\"%.0f\" y=\"%.0f\">0</text><text x=\"%.0f\" y=\"%.0f\" "
                      "text-anchor=\"end\">%.1f s (virtual)</text>\n"
                      "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">%u</text>"
                      "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">0</text>\n",
                      L, H - B + 16, W - R, H - B + 16, tmax / 1000.0, L - 6, T + 4, c->nodes,
                      L - 6, H - B);
    for (unsigned i = 0; rc == LT_OK && i < c->npartitions; i++) {
        double x0 = L + (W - L - R) * (double)c->partitions[i].at_ms / (double)tmax;
        double x1 = L + (W - L - R) * (double)c->partitions[i].heal_ms / (double)tmax;
        if (x1 > W - R)
            x1 = W - R;
        if (x0 < W - R)
            rc = s_printf(out,
                          "<rect x=\"%.1f\" y=\"%.0f\" width=\"%.1f\" height=\"%.0f\" "
                          "fill=\"#f4d7d7\"><title>partition</title></rect>\n",
                          x0, T, x1 - x0, H - B - T);
    }
    if (rc == LT_OK)
        rc = s_printf(out,
                      "<polyline fill=\"none\" stroke=\"#1f5fa8\" stroke-width=\"2\" points=\"");
    for (size_t i = 0; rc == LT_OK && i < r->nsamples; i++) {
        double x = L + (W - L - R) * (double)r->samples[i].at_ms / (double)tmax;
        double y = (H - B) - (H - B - T) * r->samples[i].caught_up / ymax;
        rc = s_printf(out, "%.1f,%.1f ", x, y);
    }
    if (rc == LT_OK)
        rc = s_printf(out, "\"/>\n<polyline fill=\"none\" stroke=\"#999999\" "
                           "stroke-dasharray=\"4 3\" points=\"");
    for (size_t i = 0; rc == LT_OK && i < r->nsamples; i++) {
        double x = L + (W - L - R) * (double)r->samples[i].at_ms / (double)tmax;
        double y = (H - B) - (H - B - T) * r->samples[i].held;
        rc = s_printf(out, "%.1f,%.1f ", x, y);
    }
    if (rc == LT_OK)
        rc = s_printf(out,
                      "\"/>\n<text x=\"%.0f\" y=\"%.0f\" fill=\"#1f5fa8\">nodes holding all "
                      "the newest node holds</text>\n<text x=\"%.0f\" y=\"%.0f\" "
                      "fill=\"#777777\">mean share held (of %u)</text>\n</svg>\n",
                      L + 8, T + 16, L + 8, T + 30, c->nodes);
    return rc;
}
