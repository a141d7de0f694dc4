/* The sync actor (services/sync/sync_actor.h) between nodes in one process:
 * each node is a cooperative runtime holding a store actor (memory backend)
 * and a sync actor, on one virtual clock, and a scripted network carries
 * what one node's actors send to "name@<key>" of another. The test plays
 * the clients: it makes stores, invites and joins through the store
 * protocol, writes, asks a node to sync (SYNC_NOW), and compares what the
 * stores hold afterwards. */
#include "boards/coop.h"
#include "ipc/frame.h"
#include "store/kv.h"
#include "store/ops_codec.h"
#include "store/store_actor.h"
#include "store/tables.h"
#include "support/testutil.h"
#include "sync/sync_actor.h"

#include "store.pb.h"
#include "sync.pb.h"

#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_NODES   4
#define S_NET_MAX 4096
#define S_TESTER  "tester"
#define S_T0      1700000000000ull

typedef struct {
    int node; /* destination */
    char to[LT_NAME_MAX];
    char from[LT_ADDR_MAX + 2 * LT_KEY_LEN + 2];
    lt_msg_t msg;
    uint8_t *body;
} s_packet_t;

typedef struct {
    int kind;
    uint64_t corr;
    uint32_t type;
    lt_err_t status;
    uint8_t *body;
    size_t len;
    bool got;
} s_reply_t;

typedef struct {
    lt_coop_t *rt;
    lt_identity_t id;
    char hex[2 * LT_KEY_LEN + 1];
    s_reply_t reply; /* the last reply to the tester */
    bool down;       /* the network drops what goes to or from it */
} s_node_t;

static struct {
    s_node_t n[S_NODES];
    int count;
    uint64_t clock;
    uint64_t seed;
    s_packet_t net[S_NET_MAX];
    size_t nnet;
    uint64_t corr;
    uint64_t delivered;
} s_w;

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

static int s_node_of(const char *hex)
{
    for (int i = 0; i < s_w.count; i++)
        if (strcmp(s_w.n[i].hex, hex) == 0)
            return i;
    return -1;
}

static void s_capture(s_node_t *n, const lt_msg_t *m)
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
    s_node_t *src = ctx;
    const char *at = strchr(to, '@');
    cr_assert(at && (size_t)(at - to) < LT_NAME_MAX, "bad remote address %s", to);
    int dst = s_node_of(at + 1);
    if (dst < 0)
        return LT_EUNAVAILABLE;
    cr_assert_lt(s_w.nnet, S_NET_MAX, "the network is full");
    s_packet_t *p = &s_w.net[s_w.nnet++];
    p->node = dst;
    memcpy(p->to, to, (size_t)(at - to));
    p->to[at - to] = '\0';
    snprintf(p->from, sizeof p->from, "%s@%s", m->from, src->hex);
    p->msg = *m;
    p->body = malloc(m->len + 1);
    cr_assert(p->body);
    if (m->len)
        memcpy(p->body, m->body, m->len);
    p->msg.body = p->body;
    (void)src;
    return LT_OK;
}

static void s_node_start(int i)
{
    s_node_t *n = &s_w.n[i];
    lt_test_identity(&n->id, (uint8_t)(10 + i));
    lt_hex(n->id.pk.b, LT_KEY_LEN, n->hex);
    lt_coop_config_t cc = {.now = s_clock,
                           .now_ctx = &s_w.clock,
                           .random = s_prng,
                           .random_ctx = &s_w.seed,
                           .node = n->hex,
                           .mailbox_cap = 256,
                           .max_body = LT_FRAME_MAX_BODY,
                           .max_actors = 4,
                           .remote_send = s_remote,
                           .remote_ctx = n,
                           .external = s_external,
                           .external_ctx = n};
    cr_assert_eq(lt_coop_new(&cc, &n->rt), LT_OK);
    lt_store_actor_config_t sc = {.identity = n->id};
    cr_assert_eq(lt_kv_mem_open(LT_CF_COUNT, &sc.kv), LT_OK);
    cr_assert_eq(lt_coop_add(n->rt, &lt_store_actor, &sc), LT_OK);
    lt_sync_actor_config_t yc = {.no_periodic = true};
    cr_assert_eq(lt_coop_add(n->rt, &lt_sync_actor, &yc), LT_OK);
}

static void s_setup(int count)
{
    memset(&s_w, 0, sizeof s_w);
    s_w.clock = S_T0;
    s_w.seed = 7;
    s_w.corr = 1;
    s_w.count = count;
    for (int i = 0; i < count; i++)
        s_node_start(i);
}

static void s_teardown(void)
{
    for (int i = 0; i < s_w.count; i++) {
        lt_coop_destroy(&s_w.n[i].rt);
        free(s_w.n[i].reply.body);
    }
    for (size_t i = 0; i < s_w.nnet; i++)
        free(s_w.net[i].body);
    s_w.nnet = 0;
}

/* Runs every node and the network until nothing moves; the clock advances
 * 1 ms a turn (timers fire). */
static void s_settle(void)
{
    for (int turn = 0; turn < 100000; turn++) {
        bool moved = false;
        for (int i = 0; i < s_w.count; i++)
            moved |= lt_coop_run(s_w.n[i].rt, 100000) > 0;
        size_t n = s_w.nnet;
        for (size_t k = 0; k < n; k++) {
            s_packet_t *p = &s_w.net[k];
            s_node_t *dst = &s_w.n[p->node];
            int src = s_node_of(strchr(p->from, '@') + 1);
            if (!dst->down && !s_w.n[src].down) {
                if (strcmp(p->to, S_TESTER) == 0) {
                    s_capture(dst, &p->msg);
                } else {
                    lt_err_t rc = lt_coop_inject(dst->rt, p->to, &p->msg, p->from);
                    cr_assert_eq(rc, LT_OK, "deliver to %s: %s", p->to, lt_errname(rc));
                }
                s_w.delivered++;
            }
            free(p->body);
        }
        memmove(s_w.net, s_w.net + n, (s_w.nnet - n) * sizeof *s_w.net);
        s_w.nnet -= n;
        moved |= n > 0;
        if (!moved)
            return;
        s_w.clock++;
        for (int i = 0; i < s_w.count; i++)
            lt_coop_advance(s_w.n[i].rt, s_w.clock);
    }
    cr_assert_fail("the nodes never settled");
}

/* A request from the tester to actor `to` of node i ("ext:" client, or
 * "tester@<key of from_node>" when from_node >= 0); returns the reply. */
static s_reply_t *s_ask_as(int i, int from_node, const char *to, uint32_t type, const lt_buf_t *b)
{
    s_node_t *n = from_node >= 0 ? &s_w.n[from_node] : &s_w.n[i];
    n->reply.got = false;
    lt_msg_t m = {.kind = LT_MSG_REQUEST,
                  .corr = s_w.corr++,
                  .type = type,
                  .body = b ? b->data : NULL,
                  .len = b ? b->len : 0};
    char from[LT_ADDR_MAX];
    if (from_node >= 0)
        snprintf(from, sizeof from, "%s@%s", S_TESTER, s_w.n[from_node].hex);
    else
        snprintf(from, sizeof from, "ext:tester");
    cr_assert_eq(lt_coop_inject(s_w.n[i].rt, to, &m, from), LT_OK);
    /* Until the reply: when nothing moves, the clock jumps to the next
     * timer (a timeout, say), for at most 10 virtual minutes. */
    uint64_t limit = s_w.clock + 600000;
    for (s_settle(); !n->reply.got && s_w.clock < limit; s_settle()) {
        uint64_t next = UINT64_MAX, d;
        for (int k = 0; k < s_w.count; k++)
            if (lt_coop_next_deadline(s_w.n[k].rt, &d) && d < next)
                next = d;
        cr_assert_neq(next, UINT64_MAX, "no reply from %s and nothing left to happen", to);
        s_w.clock = next > s_w.clock ? next : s_w.clock;
        for (int k = 0; k < s_w.count; k++)
            lt_coop_advance(s_w.n[k].rt, s_w.clock);
    }
    cr_assert(n->reply.got, "no reply from %s", to);
    cr_assert_eq(n->reply.corr, m.corr);
    return &n->reply;
}

static s_reply_t *s_ask(int i, const char *to, uint32_t type, const lt_buf_t *b)
{
    return s_ask_as(i, -1, to, type, b);
}

static void s_enc(const pb_msgdesc_t *f, const void *m, lt_buf_t *b)
{
    lt_buf_reset(b);
    cr_assert_eq(lt_pb_encode_static(f, m, b), LT_OK);
}

static lt_store_id_t s_create(int i)
{
    lattice_store_StoreCreate m = lattice_store_StoreCreate_init_zero;
    m.type = lattice_store_StoreType_STORE_TYPE_KV;
    lt_buf_t b = LT_BUF_INIT;
    s_enc(lattice_store_StoreCreate_fields, &m, &b);
    s_reply_t *r = s_ask(i, "store", lattice_store_StoreMsgType_STORE_CREATE, &b);
    cr_assert_eq(r->status, LT_OK);
    lattice_store_StoreCreated c = lattice_store_StoreCreated_init_zero;
    cr_assert_eq(lt_pb_decode_static(lattice_store_StoreCreated_fields, &c, r->body, r->len),
                 LT_OK);
    lt_store_id_t id;
    memcpy(id.b, c.store.bytes, LT_STORE_ID_LEN);
    lt_buf_free(&b);
    return id;
}

/* Node j joins store sid held by node i (invite, join, joined). */
static void s_join(int i, int j, const lt_store_id_t *sid)
{
    lt_buf_t b = LT_BUF_INIT;
    lattice_store_PeerInvite inv = lattice_store_PeerInvite_init_zero;
    inv.store.size = LT_STORE_ID_LEN;
    memcpy(inv.store.bytes, sid->b, LT_STORE_ID_LEN);
    s_enc(lattice_store_PeerInvite_fields, &inv, &b);
    s_reply_t *r = s_ask(i, "store", lattice_store_StoreMsgType_PEER_INVITE, &b);
    cr_assert_eq(r->status, LT_OK);
    lattice_store_Invited got = lattice_store_Invited_init_zero;
    cr_assert_eq(lt_pb_decode_static(lattice_store_Invited_fields, &got, r->body, r->len), LT_OK);

    lattice_store_PeerJoin pj = lattice_store_PeerJoin_init_zero;
    pj.store.size = LT_STORE_ID_LEN;
    memcpy(pj.store.bytes, sid->b, LT_STORE_ID_LEN);
    pj.secret.size = 32;
    memcpy(pj.secret.bytes, got.secret.bytes, 32);
    s_enc(lattice_store_PeerJoin_fields, &pj, &b);
    r = s_ask_as(i, j, "store", lattice_store_StoreMsgType_PEER_JOIN, &b);
    cr_assert_eq(r->status, LT_OK, "join: %s", lt_errname(r->status));
    lt_buf_reset(&b);
    cr_assert_eq(lt_buf_append(&b, r->body, r->len), LT_OK);
    r = s_ask(j, "store", lattice_store_StoreMsgType_PEER_JOINED, &b);
    cr_assert_eq(r->status, LT_OK, "joined: %s", lt_errname(r->status));
    lt_buf_free(&b);
}

static void s_put(int i, const lt_store_id_t *sid, const char *k, const char *v)
{
    lattice_store_KvPut m = lattice_store_KvPut_init_zero;
    m.store.size = LT_STORE_ID_LEN;
    memcpy(m.store.bytes, sid->b, LT_STORE_ID_LEN);
    lt_view_t kv = {(const uint8_t *)k, strlen(k)}, vv = {(const uint8_t *)v, strlen(v)};
    lt_pb_bind_write(&m.key, &kv);
    lt_pb_bind_write(&m.value, &vv);
    lt_buf_t b = LT_BUF_INIT;
    s_enc(lattice_store_KvPut_fields, &m, &b);
    s_reply_t *r = s_ask(i, "store", lattice_store_StoreMsgType_KV_PUT, &b);
    cr_assert_eq(r->status, LT_OK, "put: %s", lt_errname(r->status));
    lt_buf_free(&b);
    s_w.clock += 3;
}

/* The value of k on node i ("" when absent), and whether it is conflicted. */
static void s_get(int i, const lt_store_id_t *sid, const char *k, char *out, size_t cap,
                  bool *conflicted)
{
    lattice_store_KvKey m = lattice_store_KvKey_init_zero;
    m.store.size = LT_STORE_ID_LEN;
    memcpy(m.store.bytes, sid->b, LT_STORE_ID_LEN);
    lt_view_t kv = {(const uint8_t *)k, strlen(k)};
    lt_pb_bind_write(&m.key, &kv);
    lt_buf_t b = LT_BUF_INIT;
    s_enc(lattice_store_KvKey_fields, &m, &b);
    s_reply_t *r = s_ask(i, "store", lattice_store_StoreMsgType_KV_GET, &b);
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

static uint64_t s_witnessed(int i, const lt_store_id_t *sid)
{
    lattice_store_StoreRef m = lattice_store_StoreRef_init_zero;
    m.store.size = LT_STORE_ID_LEN;
    memcpy(m.store.bytes, sid->b, LT_STORE_ID_LEN);
    lt_buf_t b = LT_BUF_INIT;
    s_enc(lattice_store_StoreRef_fields, &m, &b);
    s_reply_t *r = s_ask(i, "store", lattice_store_StoreMsgType_STORE_INFO, &b);
    lt_buf_free(&b);
    cr_assert_eq(r->status, LT_OK);
    lattice_store_StoreInfo si = lattice_store_StoreInfo_init_zero;
    cr_assert_eq(lt_pb_decode_static(lattice_store_StoreInfo_fields, &si, r->body, r->len), LT_OK);
    return si.witnessed;
}

typedef struct {
    size_t n;
    lattice_sync_PeerReport p[S_NODES];
} s_report_t;

/* Node i syncs sid with its peers now; the report. */
static s_report_t s_sync(int i, const lt_store_id_t *sid)
{
    lattice_sync_SyncNow m = lattice_sync_SyncNow_init_zero;
    m.store.size = LT_STORE_ID_LEN;
    memcpy(m.store.bytes, sid->b, LT_STORE_ID_LEN);
    lt_buf_t b = LT_BUF_INIT;
    s_enc(lattice_sync_SyncNow_fields, &m, &b);
    s_reply_t *r = s_ask(i, "sync", lattice_sync_SyncMsgType_SYNC_NOW, &b);
    lt_buf_free(&b);
    cr_assert_eq(r->status, LT_OK, "sync: %s", lt_errname(r->status));
    s_report_t rep = {0};
    lt_pb_input_t in = lt_pb_input(r->body, r->len);
    lt_pb_views_t views = {.in = &in};
    lattice_sync_SyncReport sr = lattice_sync_SyncReport_init_zero;
    lt_pb_bind_views(&sr.peers, &views);
    cr_assert_eq(lt_pb_decode_static(lattice_sync_SyncReport_fields, &sr, r->body, r->len), LT_OK);
    cr_assert_leq(views.n, S_NODES);
    for (size_t k = 0; k < views.n; k++) {
        lattice_sync_PeerReport *p = &rep.p[rep.n++];
        *p = (lattice_sync_PeerReport)lattice_sync_PeerReport_init_zero;
        cr_assert_eq(
            lt_pb_decode_static(lattice_sync_PeerReport_fields, p, views.v[k].p, views.v[k].len),
            LT_OK);
    }
    lt_pb_views_free(&views);
    return rep;
}

static void s_expect_value(int i, const lt_store_id_t *sid, const char *k, const char *want)
{
    char got[256];
    s_get(i, sid, k, got, sizeof got, NULL);
    cr_assert_str_eq(got, want, "node %d: %s = '%s', not '%s'", i, k, got, want);
}

TestSuite(sync_actor, .fini = s_teardown, .timeout = 120);

Test(sync_actor, a_sync_teaches_both_sides_what_they_lack)
{
    s_setup(2);
    lt_store_id_t sid = s_create(0);
    s_join(0, 1, &sid);
    char k[32], v[64];
    for (int i = 0; i < 40; i++) {
        snprintf(k, sizeof k, "a%02d", i);
        snprintf(v, sizeof v, "from node 0, number %d", i);
        s_put(0, &sid, k, v);
    }
    for (int i = 0; i < 7; i++) {
        snprintf(k, sizeof k, "b%02d", i);
        snprintf(v, sizeof v, "from node 1, number %d", i);
        s_put(1, &sid, k, v);
    }
    uint64_t w0 = s_witnessed(0, &sid), w1 = s_witnessed(1, &sid);
    cr_assert_gt(w0, w1, "node 0 holds more before the sync");

    s_report_t rep = s_sync(1, &sid);
    cr_assert_eq(rep.n, 1, "one peer reported, not %zu", rep.n);
    cr_assert(rep.p[0].reached, "the session failed: %s", rep.p[0].error);
    cr_assert_eq(memcmp(rep.p[0].peer.bytes, s_w.n[0].id.pk.b, LT_KEY_LEN), 0);
    /* Node 1's seven puts, and what its joining wrote. */
    cr_assert_geq(rep.p[0].peer_lacks, 7, "node 0 lacked %llu",
                  (unsigned long long)rep.p[0].peer_lacks);

    /* Both hold the union: node 1 fetched, and node 0 (the responder)
     * fetched what it lacked too. */
    cr_assert_eq(s_witnessed(0, &sid), s_witnessed(1, &sid));
    cr_assert_geq(rep.p[0].received, 40, "fetched %llu", (unsigned long long)rep.p[0].received);
    for (int i = 0; i < 40; i += 13) {
        snprintf(k, sizeof k, "a%02d", i);
        snprintf(v, sizeof v, "from node 0, number %d", i);
        s_expect_value(1, &sid, k, v);
    }
    for (int i = 0; i < 7; i += 3) {
        snprintf(k, sizeof k, "b%02d", i);
        snprintf(v, sizeof v, "from node 1, number %d", i);
        s_expect_value(0, &sid, k, v);
    }

    /* Nothing differs now: a second sync fetches nothing. */
    rep = s_sync(0, &sid);
    cr_assert_eq(rep.n, 1);
    cr_assert(rep.p[0].reached, "%s", rep.p[0].error);
    cr_assert_eq(rep.p[0].received, 0);
    cr_assert_eq(rep.p[0].peer_lacks, 0);
}

Test(sync_actor, a_conflict_made_apart_shows_the_same_on_both_and_a_later_write_resolves_it)
{
    s_setup(2);
    lt_store_id_t sid = s_create(0);
    s_join(0, 1, &sid);
    s_put(0, &sid, "seed", "x");
    (void)s_sync(1, &sid);
    s_put(0, &sid, "k", "from zero");
    s_put(1, &sid, "k", "from one");
    s_report_t rep = s_sync(0, &sid);
    cr_assert(rep.p[0].reached, "%s", rep.p[0].error);
    char a[64], b[64];
    bool ca, cb;
    s_get(0, &sid, "k", a, sizeof a, &ca);
    s_get(1, &sid, "k", b, sizeof b, &cb);
    cr_assert_str_eq(a, b, "the nodes show different winners");
    cr_assert(ca && cb, "the conflict is not visible on both");
    s_put(1, &sid, "k", "settled");
    (void)s_sync(1, &sid);
    s_get(0, &sid, "k", a, sizeof a, &ca);
    cr_assert_str_eq(a, "settled");
    cr_assert(!ca, "the later write did not resolve the conflict");
}

Test(sync_actor, three_nodes_in_a_line_converge_through_the_middle)
{
    /* 0 invites 1, 1 invites 2: 2 knows only 1, and 0 only 1. */
    s_setup(3);
    lt_store_id_t sid = s_create(0);
    s_join(0, 1, &sid);
    s_join(1, 2, &sid);
    s_put(0, &sid, "from0", "zero");
    s_put(2, &sid, "from2", "two");
    (void)s_sync(1, &sid); /* 1 with 0, and with 2 when it holds 2's invite */
    (void)s_sync(1, &sid);
    s_expect_value(2, &sid, "from0", "zero");
    s_expect_value(0, &sid, "from2", "two");
    cr_assert_eq(s_witnessed(0, &sid), s_witnessed(2, &sid));
}

Test(sync_actor, a_node_that_is_not_an_active_peer_is_refused)
{
    s_setup(3);
    lt_store_id_t sid = s_create(0);
    s_join(0, 1, &sid);
    s_put(0, &sid, "secret", "for peers only");
    /* Node 2 holds the store id and claims node 0 as its peer, but node 0
     * never admitted it. */
    lattice_store_Joined j = lattice_store_Joined_init_zero;
    j.store.size = LT_STORE_ID_LEN;
    memcpy(j.store.bytes, sid.b, LT_STORE_ID_LEN);
    j.type = lattice_store_StoreType_STORE_TYPE_KV;
    j.inviter.size = LT_KEY_LEN;
    memcpy(j.inviter.bytes, s_w.n[0].id.pk.b, LT_KEY_LEN);
    lt_buf_t b = LT_BUF_INIT;
    s_enc(lattice_store_Joined_fields, &j, &b);
    cr_assert_eq(s_ask(2, "store", lattice_store_StoreMsgType_PEER_JOINED, &b)->status, LT_OK);
    lt_buf_free(&b);
    s_report_t rep = s_sync(2, &sid);
    cr_assert_eq(rep.n, 1);
    cr_assert(!rep.p[0].reached, "node 0 answered a node that is not its peer");
    cr_assert(strstr(rep.p[0].error, "not an active peer"), "the reason: %s", rep.p[0].error);
    char got[64];
    s_get(2, &sid, "secret", got, sizeof got, NULL);
    cr_assert_str_eq(got, "", "node 2 got data it may not have");
}

Test(sync_actor, an_unreachable_peer_is_reported_and_the_sync_still_answers)
{
    s_setup(2);
    lt_store_id_t sid = s_create(0);
    s_join(0, 1, &sid);
    s_w.n[0].down = true;
    s_put(1, &sid, "k", "v");
    /* The request is lost on the way: the session gives up after the
     * timeout, on the virtual clock. */
    s_report_t rep = s_sync(1, &sid);
    cr_assert_eq(rep.n, 1);
    cr_assert(!rep.p[0].reached);
    cr_assert(strstr(rep.p[0].error, "stopped answering"), "the reason: %s", rep.p[0].error);
    s_w.n[0].down = false;
    rep = s_sync(1, &sid);
    cr_assert(rep.p[0].reached, "%s", rep.p[0].error);
    s_expect_value(0, &sid, "k", "v");
}
