/* Fuzz target: what the gossip actor (services/gossip/gossip_actor.c)
 * decodes from outside, driven through the whole actor. One node in the
 * cooperative runtime (boards/coop.h) holds a store actor on the memory
 * backend, the gossip actor, and stubs of the kernel and the sync service;
 * it made a store that node B (a key, no node here) joined, so B is an
 * active peer of it. Each input then goes in three times, each run to idle:
 *
 *   - a GOSSIP_PUSH event from gossip@<B>: an active peer, so a push naming
 *     the store is decoded, its intentions hashed against the seen cache and
 *     handed to the store (INGEST_BATCH), whose answer may lead to a chain
 *     read from B's store;
 *   - a GOSSIP_PUSH event from gossip@<a stranger>: held until the store
 *     lists its peers, then refused;
 *   - a WITNESSED event from "store" on the gossip actor's own watch: its
 *     intentions are fanned out to B (or held while the peers are listed
 *     again, when one is a system op).
 *
 * Pushes to B are taken by the network, or refused LT_EFULL when the
 * input's length is odd (so that they queue). Then GOSSIP_STATUS must
 * answer, and the runtime is destroyed: ASan reports anything left.
 *
 * The setup is deterministic (a virtual clock, a seeded random source,
 * seeded keys), so the store's id is the same in every run and a seed can
 * name it. `LT_FUZZ_WRITE_SEEDS=DIR fuzz_gossip_push` writes the seed
 * corpus to DIR and exits: the push the node itself sends B after the join,
 * and a push from B of a write B made on the store (a second node for
 * that), each with the store id, among hand-made malformed ones. */
#include "boards/coop.h"
#include "gossip/gossip_actor.h"
#include "store/kv.h"
#include "store/ops_codec.h"
#include "store/store_actor.h"
#include "store/tables.h"
#include "weaver/identity.h"

#include "gossip.pb.h"
#include "store.pb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define S_T0 1700000000000ull
/* From the fuzzer to the store wrapper: send this body to the gossip actor
 * as a WITNESSED event on its watch. Not a store.proto type. */
#define S_SAY_WITNESSED 0x7f0001u
#define S_FUZZ_FROM     "ext:fuzz"
/* The runtime allocates mailboxes x bodies up front, and ASan poisons all
 * of it at each run: small, so that a run costs milliseconds. A larger
 * input is refused by lt_coop_inject (LT_EINVAL), as a frame over the
 * limit would be by the kernel. */
#define S_MAX_BODY (16u << 10)

typedef struct {
    lt_coop_t *rt;
    lt_identity_t id;
    char hex[2 * LT_KEY_LEN + 1];
    uint64_t prng;
    bool congested; /* pushes to other nodes are refused LT_EFULL */
    /* The last reply to S_FUZZ_FROM, and to "tester@..." (a request this
     * test made as another node). */
    bool got;
    lt_err_t status;
    lt_buf_t reply;
    bool remote_got;
    lt_err_t remote_status;
    lt_buf_t remote_reply;
    /* The last GOSSIP_PUSH sent to another node. */
    lt_buf_t push;
} s_node_t;

static uint64_t s_clock;
static uint64_t s_corr = 1;

/* ---- the node's actors ---- */

/* The kernel and the sync service: every request answered with success. */
static lt_err_t s_stub_start(lt_ctx_t *ctx, const void *cfg, void **self)
{
    (void)ctx;
    (void)cfg;
    *self = NULL;
    return LT_OK;
}

static void s_stub_receive(void *self, lt_ctx_t *ctx, const lt_msg_t *msg)
{
    (void)self;
    if (msg->kind != LT_MSG_REQUEST)
        return;
    /* A reply that cannot be sent is the asker's timeout, as in a node. */
    lt_err_t rc = lt_ctx_reply(ctx, msg, LT_OK, msg->type, NULL, 0);
    (void)rc;
}

static const lt_actor_ops_t s_kernel = {
    .abi = LT_ACTOR_ABI, .name = "kernel", .start = s_stub_start, .receive = s_stub_receive};
static const lt_actor_ops_t s_sync = {
    .abi = LT_ACTOR_ABI, .name = "sync", .start = s_stub_start, .receive = s_stub_receive};

/* The store actor, as "store", but for S_SAY_WITNESSED: the runtime lets
 * no one outside speak for a local actor, so it is the store that sends the
 * fuzzer's WITNESSED event, with the corr of the gossip actor's latest
 * WITNESS_WATCH (the one its reply made current). */
typedef struct {
    void *store;
    uint64_t watch_corr;
} s_wrap_t;

static lt_err_t s_wrap_start(lt_ctx_t *ctx, const void *cfg, void **self)
{
    s_wrap_t *w = calloc(1, sizeof *w);
    if (!w)
        return LT_ENOMEM;
    lt_err_t rc = lt_store_actor.start(ctx, cfg, &w->store);
    if (rc) {
        free(w);
        return rc;
    }
    *self = w;
    return LT_OK;
}

static void s_wrap_receive(void *self, lt_ctx_t *ctx, const lt_msg_t *msg)
{
    s_wrap_t *w = self;
    if (msg->kind == LT_MSG_REQUEST && msg->type == lattice_store_StoreMsgType_WITNESS_WATCH &&
        strcmp(msg->from, "gossip") == 0)
        w->watch_corr = msg->corr;
    if (msg->kind == LT_MSG_REQUEST && msg->type == S_SAY_WITNESSED &&
        strcmp(msg->from, S_FUZZ_FROM) == 0) {
        lt_msg_t ev = {.kind = LT_MSG_EVENT,
                       .corr = w->watch_corr,
                       .type = lattice_store_StoreMsgType_WITNESSED,
                       .body = msg->body,
                       .len = msg->len};
        if (ctx->ops->send(ctx->rt, "gossip", &ev) != LT_OK)
            abort();
        return;
    }
    lt_store_actor.receive(w->store, ctx, msg);
}

static void s_wrap_idle(void *self, lt_ctx_t *ctx)
{
    s_wrap_t *w = self;
    if (lt_store_actor.idle)
        lt_store_actor.idle(w->store, ctx);
}

static void s_wrap_timer(void *self, lt_ctx_t *ctx, uint64_t token)
{
    s_wrap_t *w = self;
    if (lt_store_actor.timer)
        lt_store_actor.timer(w->store, ctx, token);
}

static void s_wrap_stop(void *self)
{
    s_wrap_t *w = self;
    lt_store_actor.stop(w->store);
    free(w);
}

static const lt_actor_ops_t s_store = {.abi = LT_ACTOR_ABI,
                                       .name = "store",
                                       .start = s_wrap_start,
                                       .receive = s_wrap_receive,
                                       .idle = s_wrap_idle,
                                       .timer = s_wrap_timer,
                                       .stop = s_wrap_stop};

/* ---- the runtime's hooks ---- */

static uint64_t s_now(void *ctx)
{
    (void)ctx;
    return s_clock;
}

static void s_random(void *ctx, void *buf, size_t n)
{
    uint64_t *x = ctx;
    uint8_t *out = buf;
    for (size_t i = 0; i < n; i++) {
        *x ^= *x >> 12;
        *x ^= *x << 25;
        *x ^= *x >> 27;
        out[i] = (uint8_t)((*x * 0x2545F4914F6CDD1DULL) >> 56);
    }
}

static void s_keep(lt_buf_t *b, const lt_msg_t *m)
{
    lt_buf_reset(b);
    if (lt_buf_append(b, m->body, m->len) != LT_OK)
        abort();
}

static lt_err_t s_external(void *ctx, const char *to, const lt_msg_t *m)
{
    s_node_t *n = ctx;
    (void)to;
    if (m->kind == LT_MSG_REPLY) {
        n->got = true;
        n->status = m->status;
        s_keep(&n->reply, m);
    }
    return LT_OK;
}

/* The network: replies to "tester@..." and pushes are kept, everything
 * else (chain reads of B's store) is lost on the way. */
static lt_err_t s_remote(void *ctx, const char *to, const lt_msg_t *m)
{
    s_node_t *n = ctx;
    if (m->kind == LT_MSG_REPLY && strncmp(to, "tester@", 7) == 0) {
        n->remote_got = true;
        n->remote_status = m->status;
        s_keep(&n->remote_reply, m);
    } else if (m->type == lattice_gossip_GossipMsgType_GOSSIP_PUSH &&
               strncmp(to, "gossip@", 7) == 0) {
        if (n->congested)
            return LT_EFULL;
        s_keep(&n->push, m);
    }
    return LT_OK;
}

/* ---- driving a node ---- */

/* Runs until nothing moves; the clock advances 1 ms a turn. */
static void s_settle(s_node_t *n)
{
    for (int turn = 0; turn < 10000; turn++) {
        if (lt_coop_run(n->rt, 100000) == 0)
            return;
        s_clock++;
        (void)lt_coop_advance(n->rt, s_clock);
    }
    abort(); /* never idle: a loop */
}

static lt_err_t s_inject(s_node_t *n, const char *to, lt_msg_kind_t kind, uint32_t type,
                         const uint8_t *body, size_t len, const char *from)
{
    lt_msg_t m = {.kind = kind, .corr = s_corr++, .type = type, .body = body, .len = len};
    lt_err_t rc = lt_coop_inject(n->rt, to, &m, from);
    if (rc == LT_OK)
        s_settle(n);
    return rc;
}

/* A request from S_FUZZ_FROM; the reply's status (its body in n->reply). */
static lt_err_t s_ask(s_node_t *n, const char *to, uint32_t type, const pb_msgdesc_t *f,
                      const void *msg)
{
    lt_buf_t b = LT_BUF_INIT;
    if (f && lt_pb_encode_static(f, msg, &b) != LT_OK)
        abort();
    n->got = false;
    if (s_inject(n, to, LT_MSG_REQUEST, type, b.data, b.len, S_FUZZ_FROM) != LT_OK || !n->got)
        abort();
    lt_buf_free(&b);
    return n->status;
}

static void s_node_start(s_node_t *n, uint8_t seed)
{
    memset(n, 0, sizeof *n);
    uint8_t s[LT_SEED_LEN];
    memset(s, seed, sizeof s);
    lt_identity_from_seed(&n->id, s);
    lt_hex(n->id.pk.b, LT_KEY_LEN, n->hex);
    n->prng = seed;
    lt_coop_config_t cc = {.now = s_now,
                           .random = s_random,
                           .random_ctx = &n->prng,
                           .node = n->hex,
                           .mailbox_cap = 16,
                           .max_body = S_MAX_BODY,
                           .max_actors = 4,
                           .remote_send = s_remote,
                           .remote_ctx = n,
                           .external = s_external,
                           .external_ctx = n};
    lt_store_actor_config_t sc = {.identity = n->id};
    if (lt_coop_new(&cc, &n->rt) != LT_OK || lt_coop_add(n->rt, &s_kernel, NULL) != LT_OK ||
        lt_kv_mem_open(LT_CF_COUNT, &sc.kv) != LT_OK ||
        lt_coop_add(n->rt, &s_store, &sc) != LT_OK || lt_coop_add(n->rt, &s_sync, NULL) != LT_OK ||
        lt_coop_add(n->rt, &lt_gossip_actor, NULL) != LT_OK)
        abort();
    s_settle(n);
}

static void s_node_stop(s_node_t *n)
{
    lt_coop_destroy(&n->rt);
    lt_buf_free(&n->reply);
    lt_buf_free(&n->remote_reply);
    lt_buf_free(&n->push);
}

/* A nanopb fixed-size bytes field set to a store id. */
#define S_SET_STORE(f, id)                                                                         \
    do {                                                                                           \
        (f).size = LT_STORE_ID_LEN;                                                                \
        memcpy((f).bytes, (id)->b, LT_STORE_ID_LEN);                                               \
    } while (0)

/* Node a (seed 10) makes a store and node b's key (seed 11) joins it; the
 * Joined body is left in a->remote_reply, and a->push holds what a pushed
 * to b after the join. */
static lt_store_id_t s_node_a(s_node_t *a, const lt_pubkey_t *b)
{
    s_clock = S_T0;
    s_node_start(a, 10);
    lattice_store_StoreCreate cr = lattice_store_StoreCreate_init_zero;
    cr.type = lattice_store_StoreType_STORE_TYPE_KV;
    if (s_ask(a, "store", lattice_store_StoreMsgType_STORE_CREATE, lattice_store_StoreCreate_fields,
              &cr) != LT_OK)
        abort();
    lattice_store_StoreCreated made = lattice_store_StoreCreated_init_zero;
    if (lt_pb_decode_static(lattice_store_StoreCreated_fields, &made, a->reply.data,
                            a->reply.len) != LT_OK ||
        made.store.size != LT_STORE_ID_LEN)
        abort();
    lt_store_id_t sid;
    memcpy(sid.b, made.store.bytes, LT_STORE_ID_LEN);

    lattice_store_PeerInvite inv = lattice_store_PeerInvite_init_zero;
    S_SET_STORE(inv.store, &sid);
    if (s_ask(a, "store", lattice_store_StoreMsgType_PEER_INVITE, lattice_store_PeerInvite_fields,
              &inv) != LT_OK)
        abort();
    lattice_store_Invited got = lattice_store_Invited_init_zero;
    if (lt_pb_decode_static(lattice_store_Invited_fields, &got, a->reply.data, a->reply.len) !=
            LT_OK ||
        got.secret.size != 32)
        abort();

    lattice_store_PeerJoin pj = lattice_store_PeerJoin_init_zero;
    S_SET_STORE(pj.store, &sid);
    pj.secret.size = 32;
    memcpy(pj.secret.bytes, got.secret.bytes, 32);
    lt_buf_t body = LT_BUF_INIT;
    if (lt_pb_encode_static(lattice_store_PeerJoin_fields, &pj, &body) != LT_OK)
        abort();
    char from[LT_ADDR_MAX];
    char bhex[2 * LT_KEY_LEN + 1];
    lt_hex(b->b, LT_KEY_LEN, bhex);
    snprintf(from, sizeof from, "tester@%s", bhex);
    a->remote_got = false;
    if (s_inject(a, "store", LT_MSG_REQUEST, lattice_store_StoreMsgType_PEER_JOIN, body.data,
                 body.len, from) != LT_OK ||
        !a->remote_got || a->remote_status != LT_OK)
        abort();
    lt_buf_free(&body);
    return sid;
}

/* ---- the target ---- */

static lt_pubkey_t s_b, s_stranger;

static void s_keys(void)
{
    static bool done;
    if (done)
        return;
    if (lt_crypto_init() != LT_OK)
        abort();
    uint8_t s[LT_SEED_LEN];
    lt_identity_t id;
    memset(s, 11, sizeof s);
    lt_identity_from_seed(&id, s);
    s_b = id.pk;
    memset(s, 12, sizeof s);
    lt_identity_from_seed(&id, s);
    s_stranger = id.pk;
    done = true;
}

static void s_push_from(s_node_t *n, const lt_pubkey_t *key, const uint8_t *data, size_t size)
{
    char hex[2 * LT_KEY_LEN + 1], from[LT_ADDR_MAX];
    lt_hex(key->b, LT_KEY_LEN, hex);
    snprintf(from, sizeof from, "gossip@%s", hex);
    lt_err_t rc = s_inject(n, "gossip", LT_MSG_EVENT, lattice_gossip_GossipMsgType_GOSSIP_PUSH,
                           data, size, from);
    if (rc != LT_OK && rc != LT_EINVAL) /* LT_EINVAL: over max_body */
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    s_keys();
    s_node_t a;
    (void)s_node_a(&a, &s_b);
    a.congested = size & 1;
    s_push_from(&a, &s_b, data, size);
    s_push_from(&a, &s_stranger, data, size);
    lt_err_t rc = s_inject(&a, "store", LT_MSG_REQUEST, S_SAY_WITNESSED, data, size, S_FUZZ_FROM);
    if (rc != LT_OK && rc != LT_EINVAL)
        abort();
    if (s_ask(&a, "gossip", lattice_gossip_GossipMsgType_GOSSIP_STATUS, NULL, NULL) != LT_OK)
        abort();
    lattice_gossip_GossipStatus st = lattice_gossip_GossipStatus_init_zero;
    if (lt_pb_decode_static(lattice_gossip_GossipStatus_fields, &st, a.reply.data, a.reply.len) !=
            LT_OK ||
        st.pushes_received > 2 || st.invalid > 2)
        abort();
    s_node_stop(&a);
    return 0;
}

/* ---- writing the seed corpus ---- */

static void s_seed(const char *dir, const char *name, const void *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "wb");
    if (!fp || fwrite(p, 1, n, fp) != n || fclose(fp) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
}

static void s_write_seeds(const char *dir)
{
    s_keys();
    s_node_t a, b;
    lt_store_id_t sid = s_node_a(&a, &s_b);
    if (a.push.len == 0)
        abort();
    s_seed(dir, "push-after-join", a.push.data, a.push.len);

    /* Node b takes the Joined body, writes, and pushes that to a. */
    s_node_start(&b, 11);
    if (s_inject(&b, "store", LT_MSG_REQUEST, lattice_store_StoreMsgType_PEER_JOINED,
                 a.remote_reply.data, a.remote_reply.len, S_FUZZ_FROM) != LT_OK ||
        !b.got || b.status != LT_OK)
        abort();
    lattice_store_KvPut put = lattice_store_KvPut_init_zero;
    S_SET_STORE(put.store, &sid);
    lt_view_t k = {(const uint8_t *)"k", 1}, v = {(const uint8_t *)"from b", 6};
    lt_pb_bind_write(&put.key, &k);
    lt_pb_bind_write(&put.value, &v);
    if (s_ask(&b, "store", lattice_store_StoreMsgType_KV_PUT, lattice_store_KvPut_fields, &put) !=
            LT_OK ||
        b.push.len == 0)
        abort();
    s_seed(dir, "push-of-a-write-by-b", b.push.data, b.push.len);

    /* The store id alone; with an intention too short to hold a
     * signature; with a store id of the wrong size; an empty body. */
    lt_buf_t m = LT_BUF_INIT;
    if (lt_pb_append_bytes(&m, lattice_gossip_Push_store_tag, sid.b, LT_STORE_ID_LEN) != LT_OK)
        abort();
    s_seed(dir, "store-only", m.data, m.len);
    if (lt_pb_append_bytes(&m, lattice_gossip_Push_intentions_tag, (const uint8_t *)"short", 5) !=
        LT_OK)
        abort();
    s_seed(dir, "short-intention", m.data, m.len);
    lt_buf_reset(&m);
    if (lt_pb_append_bytes(&m, lattice_gossip_Push_store_tag, sid.b, LT_STORE_ID_LEN - 1) != LT_OK)
        abort();
    s_seed(dir, "short-store", m.data, m.len);
    s_seed(dir, "empty", "", 0);
    lt_buf_free(&m);
    s_node_stop(&b);
    s_node_stop(&a);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *dir = getenv("LT_FUZZ_WRITE_SEEDS");
    if (dir) {
        s_write_seeds(dir);
        exit(0);
    }
    return 0;
}
