/* The multi-node harness of testnet.h. */
#include "testnet.h"

#include "gossip/gossip_actor.h"
#include "ipc/frame.h"
#include "store/kv.h"
#include "store/store_actor.h"
#include "store/tables.h"
#include "support/testutil.h"
#include "sync/sync_actor.h"

#include "kernel.pb.h"
#include "sync.pb.h"

#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

tn_world_t tn_w;
static tn_opts_t s_opts;

void tn_link_up(int i, int peer)
{
    lattice_kernel_LinkUp m = lattice_kernel_LinkUp_init_zero;
    m.key.size = LT_KEY_LEN;
    memcpy(m.key.bytes, tn_w.n[peer].id.pk.b, LT_KEY_LEN);
    lt_buf_t b = LT_BUF_INIT;
    tn_enc(lattice_kernel_LinkUp_fields, &m, &b);
    cr_assert_eq(tn_ask(i, "kernel", LT_SIM_KERNEL_SAY_LINK_UP, &b)->status, LT_OK);
    lt_buf_free(&b);
}

static uint64_t s_clock(void *ctx)
{
    return *(uint64_t *)ctx;
}

static void s_prng(void *ctx, void *buf, size_t n)
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

/* A draw in [0, n) from the network's generator. */
static uint64_t s_net_draw(uint64_t n)
{
    uint64_t x;
    s_prng(&tn_w.net_seed, &x, sizeof x);
    return n ? x % n : 0;
}

static int s_node_of(const char *hex)
{
    for (int i = 0; i < tn_w.count; i++)
        if (strcmp(tn_w.n[i].hex, hex) == 0)
            return i;
    return -1;
}

static void s_capture(tn_node_t *n, const lt_msg_t *m)
{
    free(n->reply.body);
    n->reply.kind = m->kind;
    n->reply.corr = m->corr;
    n->reply.type = m->type;
    n->reply.status = m->status;
    n->reply.len = m->len;
    n->reply.body = malloc(m->len + 1);
    cr_assert(n->reply.body);
    if (m->len)
        memcpy(n->reply.body, m->body, m->len);
    n->reply.got = true;
}

static lt_err_t s_external(void *ctx, const char *to, const lt_msg_t *m)
{
    (void)to;
    s_capture(ctx, m);
    return LT_OK;
}

/* What an actor of node ctx sends to another node: queued on the network. */
static lt_err_t s_remote(void *ctx, const char *to, const lt_msg_t *m)
{
    tn_node_t *src = ctx;
    const char *at = strchr(to, '@');
    cr_assert(at && (size_t)(at - to) < LT_NAME_MAX, "bad remote address %s", to);
    int dst = s_node_of(at + 1);
    if (dst < 0)
        return LT_EUNAVAILABLE;
    if (src->congested)
        return LT_EFULL;
    cr_assert_lt(tn_w.nnet, TN_NET_MAX, "the network is full");
    tn_packet_t *p = &tn_w.net[tn_w.nnet++];
    p->node = dst;
    p->due = tn_w.clock + tn_w.link.latency_ms + s_net_draw(tn_w.link.jitter_ms + 1);
    memcpy(p->to, to, (size_t)(at - to));
    p->to[at - to] = '\0';
    snprintf(p->from, sizeof p->from, "%s@%s", m->from, src->hex);
    p->msg = *m;
    p->body = malloc(m->len + 1);
    cr_assert(p->body);
    if (m->len)
        memcpy(p->body, m->body, m->len);
    p->msg.body = p->body;
    return LT_OK;
}

static void s_node_start(int i)
{
    tn_node_t *n = &tn_w.n[i];
    lt_test_identity(&n->id, (uint8_t)(10 + i));
    lt_hex(n->id.pk.b, LT_KEY_LEN, n->hex);
    lt_coop_config_t cc = {.now = s_clock,
                           .now_ctx = &tn_w.clock,
                           .random = s_prng,
                           .random_ctx = &tn_w.seed,
                           .node = n->hex,
                           .mailbox_cap = 64,
                           .max_body = LT_FRAME_MAX_BODY,
                           .max_actors = 5,
                           .remote_send = s_remote,
                           .remote_ctx = n,
                           .external = s_external,
                           .external_ctx = n};
    cr_assert_eq(lt_coop_new(&cc, &n->rt), LT_OK);
    cr_assert_eq(lt_coop_add(n->rt, &lt_sim_kernel, NULL), LT_OK);
    lt_store_actor_config_t sc = {.identity = n->id};
    cr_assert_eq(lt_kv_mem_open(LT_CF_COUNT, &sc.kv), LT_OK);
    cr_assert_eq(lt_coop_add(n->rt, &lt_store_actor, &sc), LT_OK);
    lt_recon_config_t rc;
    lt_recon_config_default(&rc);
    rc.frame_limit = s_opts.recon_frame_limit;
    lt_sync_actor_config_t yc = {
        .no_periodic = !s_opts.periodic, .period_ms = s_opts.period_ms, .recon = &rc};
    cr_assert_eq(lt_coop_add(n->rt, &lt_sync_actor, &yc), LT_OK);
    lt_gossip_actor_config_t gc = {.queue_bytes = s_opts.gossip_queue_bytes};
    if (s_opts.gossip)
        cr_assert_eq(lt_coop_add(n->rt, &lt_gossip_actor, &gc), LT_OK);
}

void tn_setup(int count, const tn_opts_t *opts)
{
    cr_assert_leq(count, TN_NODES);
    s_opts = opts ? *opts : (tn_opts_t){0};
    memset(&tn_w, 0, sizeof tn_w);
    tn_w.clock = TN_T0;
    tn_w.seed = 7;
    tn_w.net_seed = s_opts.net_seed ? s_opts.net_seed : 1;
    tn_w.corr = 1;
    tn_w.count = count;
    for (int i = 0; i < count; i++)
        s_node_start(i);
}

void tn_teardown(void)
{
    for (int i = 0; i < tn_w.count; i++) {
        lt_coop_destroy(&tn_w.n[i].rt);
        free(tn_w.n[i].reply.body);
        tn_w.n[i].reply.body = NULL;
    }
    tn_w.count = 0; /* a second teardown (the suite's, after a test's) frees nothing */
    for (size_t i = 0; i < tn_w.nnet; i++)
        free(tn_w.net[i].body);
    tn_w.nnet = 0;
}

static void s_deliver_once(tn_packet_t *p)
{
    tn_node_t *dst = &tn_w.n[p->node];
    if (strcmp(p->to, TN_TESTER) == 0) {
        s_capture(dst, &p->msg);
    } else {
        lt_err_t rc = lt_coop_inject(dst->rt, p->to, &p->msg, p->from);
        cr_assert_eq(rc, LT_OK, "deliver to %s: %s", p->to, lt_errname(rc));
    }
    tn_w.delivered++;
}

/* One packet at its destination, unless a node is down, the network loses
 * it, or the tamper hook drops it; maybe twice. */
static void s_deliver(tn_packet_t *p)
{
    int src = s_node_of(strchr(p->from, '@') + 1);
    if (tn_w.n[p->node].down || tn_w.n[src].down)
        return;
    if (tn_w.link.loss_permille && s_net_draw(1000) < tn_w.link.loss_permille) {
        tn_w.lost++;
        return;
    }
    if (tn_w.tamper && !tn_w.tamper(p, tn_w.tamper_ctx))
        return;
    s_deliver_once(p);
    if (tn_w.link.dup_permille && s_net_draw(1000) < tn_w.link.dup_permille) {
        tn_w.duplicated++;
        s_deliver_once(p);
    }
}

/* Runs every node and the network until nothing moves; the clock advances
 * 1 ms a turn (timers fire). */
void tn_settle(void)
{
    for (int turn = 0; turn < 100000; turn++) {
        bool moved = false;
        for (int i = 0; i < tn_w.count; i++)
            moved |= lt_coop_run(tn_w.n[i].rt, 100000) > 0;
        /* What is due now, in the order sent; the rest waits (and is
         * overtaken by what is due sooner). */
        size_t n = tn_w.nnet, keep = 0;
        for (size_t k = 0; k < n; k++) {
            tn_packet_t *p = &tn_w.net[k];
            if (p->due > tn_w.clock) {
                tn_w.net[keep++] = *p;
                continue;
            }
            s_deliver(p);
            free(p->body);
        }
        memmove(tn_w.net + keep, tn_w.net + n, (tn_w.nnet - n) * sizeof *tn_w.net);
        tn_w.nnet -= n - keep;
        moved |= n > 0;
        if (!moved)
            return;
        tn_w.clock++;
        for (int i = 0; i < tn_w.count; i++)
            lt_coop_advance(tn_w.n[i].rt, tn_w.clock);
    }
    cr_assert_fail("the nodes never settled");
}

/* A request from the tester to actor `to` of node i ("ext:" client, or
 * "tester@<key of from_node>" when from_node >= 0); returns the reply. */
void tn_advance_to(uint64_t ms)
{
    tn_settle();
    while (tn_w.clock < ms) {
        uint64_t next = ms, d;
        for (int k = 0; k < tn_w.count; k++)
            if (lt_coop_next_deadline(tn_w.n[k].rt, &d) && d < next)
                next = d;
        tn_w.clock = next > tn_w.clock ? next : tn_w.clock + 1;
        for (int k = 0; k < tn_w.count; k++)
            lt_coop_advance(tn_w.n[k].rt, tn_w.clock);
        tn_settle();
    }
}

tn_reply_t *tn_ask_as(int i, int from_node, const char *to, uint32_t type, const lt_buf_t *b)
{
    tn_node_t *n = from_node >= 0 ? &tn_w.n[from_node] : &tn_w.n[i];
    n->reply.got = false;
    lt_msg_t m = {.kind = LT_MSG_REQUEST,
                  .corr = tn_w.corr++,
                  .type = type,
                  .body = b ? b->data : NULL,
                  .len = b ? b->len : 0};
    char from[LT_ADDR_MAX];
    if (from_node >= 0)
        snprintf(from, sizeof from, "%s@%s", TN_TESTER, tn_w.n[from_node].hex);
    else
        snprintf(from, sizeof from, "ext:tester");
    cr_assert_eq(lt_coop_inject(tn_w.n[i].rt, to, &m, from), LT_OK);
    /* Until the reply: when nothing moves, the clock jumps to the next
     * timer (a timeout, say), for at most 10 virtual minutes. */
    uint64_t limit = tn_w.clock + 600000;
    for (tn_settle(); !n->reply.got && tn_w.clock < limit; tn_settle()) {
        uint64_t next = UINT64_MAX, d;
        for (int k = 0; k < tn_w.count; k++)
            if (lt_coop_next_deadline(tn_w.n[k].rt, &d) && d < next)
                next = d;
        cr_assert_neq(next, UINT64_MAX, "no reply from %s and nothing left to happen", to);
        tn_w.clock = next > tn_w.clock ? next : tn_w.clock;
        for (int k = 0; k < tn_w.count; k++)
            lt_coop_advance(tn_w.n[k].rt, tn_w.clock);
    }
    cr_assert(n->reply.got, "no reply from %s", to);
    cr_assert_eq(n->reply.corr, m.corr);
    return &n->reply;
}

tn_reply_t *tn_ask(int i, const char *to, uint32_t type, const lt_buf_t *b)
{
    return tn_ask_as(i, -1, to, type, b);
}

void tn_enc(const pb_msgdesc_t *f, const void *m, lt_buf_t *b)
{
    lt_buf_reset(b);
    cr_assert_eq(lt_pb_encode_static(f, m, b), LT_OK);
}

lt_store_id_t tn_create_in(int i, const lt_store_id_t *parent, const char *name)
{
    lattice_store_StoreCreate m = lattice_store_StoreCreate_init_zero;
    m.type = lattice_store_StoreType_STORE_TYPE_KV;
    if (name)
        snprintf(m.name, sizeof m.name, "%s", name);
    if (parent) {
        m.parent.size = LT_STORE_ID_LEN;
        memcpy(m.parent.bytes, parent->b, LT_STORE_ID_LEN);
    }
    lt_buf_t b = LT_BUF_INIT;
    tn_enc(lattice_store_StoreCreate_fields, &m, &b);
    tn_reply_t *r = tn_ask(i, "store", lattice_store_StoreMsgType_STORE_CREATE, &b);
    cr_assert_eq(r->status, LT_OK, "create: %s", lt_errname(r->status));
    lattice_store_StoreCreated c = lattice_store_StoreCreated_init_zero;
    cr_assert_eq(lt_pb_decode_static(lattice_store_StoreCreated_fields, &c, r->body, r->len),
                 LT_OK);
    lt_store_id_t id;
    memcpy(id.b, c.store.bytes, LT_STORE_ID_LEN);
    lt_buf_free(&b);
    return id;
}

lt_store_id_t tn_create(int i)
{
    return tn_create_in(i, NULL, NULL);
}

tn_reply_t *tn_sync_now(int i, const lt_store_id_t *sid)
{
    lattice_sync_SyncNow m = lattice_sync_SyncNow_init_zero;
    m.store.size = LT_STORE_ID_LEN;
    memcpy(m.store.bytes, sid->b, LT_STORE_ID_LEN);
    lt_buf_t b = LT_BUF_INIT;
    tn_enc(lattice_sync_SyncNow_fields, &m, &b);
    tn_reply_t *r = tn_ask(i, "sync", lattice_sync_SyncMsgType_SYNC_NOW, &b);
    lt_buf_free(&b);
    cr_assert_eq(r->status, LT_OK, "sync: %s", lt_errname(r->status));
    return r;
}

/* Node j joins store sid held by node i (invite, join, joined). */
void tn_join(int i, int j, const lt_store_id_t *sid)
{
    lt_buf_t b = LT_BUF_INIT;
    lattice_store_PeerInvite inv = lattice_store_PeerInvite_init_zero;
    inv.store.size = LT_STORE_ID_LEN;
    memcpy(inv.store.bytes, sid->b, LT_STORE_ID_LEN);
    tn_enc(lattice_store_PeerInvite_fields, &inv, &b);
    tn_reply_t *r = tn_ask(i, "store", lattice_store_StoreMsgType_PEER_INVITE, &b);
    cr_assert_eq(r->status, LT_OK);
    lattice_store_Invited got = lattice_store_Invited_init_zero;
    cr_assert_eq(lt_pb_decode_static(lattice_store_Invited_fields, &got, r->body, r->len), LT_OK);

    lattice_store_PeerJoin pj = lattice_store_PeerJoin_init_zero;
    pj.store.size = LT_STORE_ID_LEN;
    memcpy(pj.store.bytes, sid->b, LT_STORE_ID_LEN);
    pj.secret.size = 32;
    memcpy(pj.secret.bytes, got.secret.bytes, 32);
    tn_enc(lattice_store_PeerJoin_fields, &pj, &b);
    r = tn_ask_as(i, j, "store", lattice_store_StoreMsgType_PEER_JOIN, &b);
    cr_assert_eq(r->status, LT_OK, "join: %s", lt_errname(r->status));
    lt_buf_reset(&b);
    cr_assert_eq(lt_buf_append(&b, r->body, r->len), LT_OK);
    r = tn_ask(j, "store", lattice_store_StoreMsgType_PEER_JOINED, &b);
    cr_assert_eq(r->status, LT_OK, "joined: %s", lt_errname(r->status));
    lt_buf_free(&b);
}

void tn_put(int i, const lt_store_id_t *sid, const char *k, const char *v)
{
    lattice_store_KvPut m = lattice_store_KvPut_init_zero;
    m.store.size = LT_STORE_ID_LEN;
    memcpy(m.store.bytes, sid->b, LT_STORE_ID_LEN);
    lt_view_t kv = {(const uint8_t *)k, strlen(k)}, vv = {(const uint8_t *)v, strlen(v)};
    lt_pb_bind_write(&m.key, &kv);
    lt_pb_bind_write(&m.value, &vv);
    lt_buf_t b = LT_BUF_INIT;
    tn_enc(lattice_store_KvPut_fields, &m, &b);
    tn_reply_t *r = tn_ask(i, "store", lattice_store_StoreMsgType_KV_PUT, &b);
    cr_assert_eq(r->status, LT_OK, "put: %s", lt_errname(r->status));
    lt_buf_free(&b);
    tn_w.clock += 3;
}

/* The value of k on node i ("" when absent), and whether it is conflicted. */
void tn_get(int i, const lt_store_id_t *sid, const char *k, char *out, size_t cap, bool *conflicted)
{
    lattice_store_KvKey m = lattice_store_KvKey_init_zero;
    m.store.size = LT_STORE_ID_LEN;
    memcpy(m.store.bytes, sid->b, LT_STORE_ID_LEN);
    lt_view_t kv = {(const uint8_t *)k, strlen(k)};
    lt_pb_bind_write(&m.key, &kv);
    lt_buf_t b = LT_BUF_INIT;
    tn_enc(lattice_store_KvKey_fields, &m, &b);
    tn_reply_t *r = tn_ask(i, "store", lattice_store_StoreMsgType_KV_GET, &b);
    lt_buf_free(&b);
    out[0] = '\0';
    if (conflicted)
        *conflicted = false;
    if (r->status == LT_ENOTFOUND)
        return;
    cr_assert_eq(r->status, LT_OK);
    lt_view_t v = {NULL, 0};
    lt_pb_input_t in = lt_pb_input(r->body, r->len);
    lt_pb_view_arg_t va = {&v, &in};
    lattice_store_KvItem it = lattice_store_KvItem_init_zero;
    lt_pb_bind_view(&it.value, &va);
    cr_assert_eq(lt_pb_decode_static(lattice_store_KvItem_fields, &it, r->body, r->len), LT_OK);
    cr_assert_lt(v.len, cap);
    if (v.len)
        memcpy(out, v.p, v.len);
    out[v.len] = '\0';
    if (conflicted)
        *conflicted = it.conflicted;
}

uint64_t tn_witnessed(int i, const lt_store_id_t *sid)
{
    lattice_store_StoreRef m = lattice_store_StoreRef_init_zero;
    m.store.size = LT_STORE_ID_LEN;
    memcpy(m.store.bytes, sid->b, LT_STORE_ID_LEN);
    lt_buf_t b = LT_BUF_INIT;
    tn_enc(lattice_store_StoreRef_fields, &m, &b);
    tn_reply_t *r = tn_ask(i, "store", lattice_store_StoreMsgType_STORE_INFO, &b);
    lt_buf_free(&b);
    cr_assert_eq(r->status, LT_OK);
    lattice_store_StoreInfo si = lattice_store_StoreInfo_init_zero;
    cr_assert_eq(lt_pb_decode_static(lattice_store_StoreInfo_fields, &si, r->body, r->len), LT_OK);
    return si.witnessed;
}

void tn_expect_value(int i, const lt_store_id_t *sid, const char *k, const char *want)
{
    char got[256];
    tn_get(i, sid, k, got, sizeof got, NULL);
    cr_assert_str_eq(got, want, "node %d: %s = '%s', not '%s'", i, k, got, want);
}
