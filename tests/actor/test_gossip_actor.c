/* The gossip actor (services/gossip/gossip_actor.h) between nodes in one
 * process (testnet.h): writes reach peers by pushes alone (no sync asked),
 * gaps are filled by chain reads, forwarding carries writes along a line,
 * and a bad or slow peer costs what the bounds say and no more. */
#include "testnet.h"

#include "gossip/gossip_actor.h"

#include "gossip.pb.h"
#include "weaver/intention.h"

#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

static lattice_gossip_GossipStatus s_status(int i)
{
    tn_reply_t *r = tn_ask(i, "gossip", lattice_gossip_GossipMsgType_GOSSIP_STATUS, NULL);
    cr_assert_eq(r->status, LT_OK);
    lattice_gossip_GossipStatus st = lattice_gossip_GossipStatus_init_zero;
    cr_assert_eq(lt_pb_decode_static(lattice_gossip_GossipStatus_fields, &st, r->body, r->len),
                 LT_OK);
    return st;
}

/* A GOSSIP_PUSH of intentions into node i's gossip actor, as if from node
 * `from`'s. */
static void s_push_as(int i, int from, const lt_store_id_t *sid, const lt_view_t *v, size_t n)
{
    lattice_gossip_Push m = lattice_gossip_Push_init_zero;
    m.store.size = LT_STORE_ID_LEN;
    memcpy(m.store.bytes, sid->b, LT_STORE_ID_LEN);
    lt_buf_t b = LT_BUF_INIT;
    tn_enc(lattice_gossip_Push_fields, &m, &b);
    for (size_t k = 0; k < n; k++)
        cr_assert_eq(lt_pb_append_bytes(&b, lattice_gossip_Push_intentions_tag, v[k].p, v[k].len),
                     LT_OK);
    lt_msg_t msg = {.kind = LT_MSG_EVENT,
                    .type = lattice_gossip_GossipMsgType_GOSSIP_PUSH,
                    .body = b.data,
                    .len = b.len};
    char fromaddr[LT_ADDR_MAX];
    snprintf(fromaddr, sizeof fromaddr, "gossip@%s", tn_w.n[from].hex);
    cr_assert_eq(lt_coop_inject(tn_w.n[i].rt, "gossip", &msg, fromaddr), LT_OK);
    lt_buf_free(&b);
    tn_settle();
}

TestSuite(gossip_actor, .fini = tn_teardown, .timeout = 120);

Test(gossip_actor, a_write_reaches_the_peer_by_pushes_alone)
{
    tn_opts_t o = {.gossip = true};
    tn_setup(2, &o);
    lt_store_id_t sid = tn_create(0);
    tn_join(0, 1, &sid);
    /* Node 1 holds the store empty (no clone here): the first push floats
     * there until a chain read from node 0's store fills the gap. */
    /* (Each gossip actor handed every store to sync once, when it began
     * watching: what it could not have pushed. Nothing more after that.) */
    uint64_t rec0 = s_status(1).reconciliations;
    cr_assert_eq(rec0, 1);
    tn_put(0, &sid, "k", "pushed");
    tn_expect_value(1, &sid, "k", "pushed");
    lattice_gossip_GossipStatus s0 = s_status(0), s1 = s_status(1);
    cr_assert_geq(s0.pushes_sent, 1);
    cr_assert_geq(s1.chain_reads, 1, "the gap was not filled by a chain read");
    cr_assert_eq(s1.reconciliations, rec0, "gossip fell back to the sync service");
    cr_assert_eq(tn_witnessed(0, &sid), tn_witnessed(1, &sid));

    /* The other way, and many writes in a row. */
    char k[16], v[32];
    for (int i = 0; i < 20; i++) {
        snprintf(k, sizeof k, "n%d", i);
        snprintf(v, sizeof v, "from one %d", i);
        tn_put(1, &sid, k, v);
    }
    tn_expect_value(0, &sid, "n19", "from one 19");
    tn_expect_value(0, &sid, "n0", "from one 0");
    cr_assert_eq(tn_witnessed(0, &sid), tn_witnessed(1, &sid));
    s1 = s_status(1);
    cr_assert_eq(s1.reconciliations, rec0);
}

Test(gossip_actor, writes_travel_a_line_of_three_through_the_middle)
{
    tn_opts_t o = {.gossip = true};
    tn_setup(3, &o);
    lt_store_id_t sid = tn_create(0);
    tn_join(0, 1, &sid);
    tn_join(1, 2, &sid);
    tn_put(0, &sid, "from0", "zero");
    tn_expect_value(2, &sid, "from0", "zero");
    tn_put(2, &sid, "from2", "two");
    tn_expect_value(0, &sid, "from2", "two");
    /* (Node 2 joined without a clone here, so what was written before it
     * joined reaches it only by chain reads of what it needs, or by a
     * reconciliation: the witnessed sets need not be equal yet.) */
}

Test(gossip_actor, duplicates_are_dropped_and_a_stranger_is_refused)
{
    tn_opts_t o = {.gossip = true};
    tn_setup(3, &o);
    lt_store_id_t sid = tn_create(0);
    tn_join(0, 1, &sid);
    tn_put(0, &sid, "k", "v");
    tn_expect_value(1, &sid, "k", "v");
    /* The intention of that put, pushed again by node 0: seen already. */
    lattice_gossip_GossipStatus before = s_status(1);
    tn_put(0, &sid, "k2", "v2");
    lattice_gossip_GossipStatus after = s_status(1);
    cr_assert_gt(after.pushes_received, before.pushes_received);
    /* Node 2 is no peer of the store: its pushes are refused unread. */
    lt_view_t junk = {(const uint8_t *)"not an intention", 16};
    s_push_as(1, 2, &sid, &junk, 1);
    lattice_gossip_GossipStatus s = s_status(1);
    cr_assert_eq(s.refused, after.refused + 1);
    cr_assert_eq(s.invalid, after.invalid, "a stranger's push reached the store");

    /* A peer naming stores this node does not hold costs nothing lasting:
     * each is asked about once and forgotten. */
    for (int i = 0; i < 50; i++) {
        lt_store_id_t other = sid;
        other.b[15] ^= (uint8_t)(i + 1);
        s_push_as(1, 0, &other, &junk, 1);
    }
    cr_assert_eq(s_status(1).stores, 1, "unknown stores were kept");
}

Test(gossip_actor, a_peer_that_pushes_invalid_data_is_ignored_for_a_while)
{
    tn_opts_t o = {.gossip = true};
    tn_setup(2, &o);
    lt_store_id_t sid = tn_create(0);
    tn_join(0, 1, &sid);
    /* Node 1 is an active peer of node 0's store; its pushes of junk are
     * rejected by node 0's store, and after the limit node 0 stops
     * listening to it. */
    uint8_t junk[200];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(i * 7 + 1);
    for (uint32_t k = 0; k < LT_GOSSIP_INVALID_LIMIT; k++) {
        junk[0] = (uint8_t)k;
        lt_view_t v = {junk, sizeof junk};
        s_push_as(0, 1, &sid, &v, 1);
    }
    lattice_gossip_GossipStatus s = s_status(0);
    cr_assert_eq(s.invalid, LT_GOSSIP_INVALID_LIMIT);
    cr_assert_eq(s.ignored_peers, 1);
    /* A real write of node 1 now goes unheard by gossip... */
    tn_put(1, &sid, "after", "ignored");
    char got[64];
    tn_get(0, &sid, "after", got, sizeof got, NULL);
    cr_assert_str_eq(got, "", "an ignored peer's push was taken");
    /* ... until the time is up (sync would have brought it meanwhile). */
    tn_advance_to(tn_w.clock + LT_GOSSIP_IGNORE_MS + 1);
    cr_assert_eq(s_status(0).ignored_peers, 0);
    tn_put(1, &sid, "later", "heard");
    tn_expect_value(0, &sid, "later", "heard");
}

Test(gossip_actor, a_congested_peer_overflows_into_a_reconciliation_and_writers_never_wait)
{
    tn_opts_t o = {.gossip = true, .gossip_queue_bytes = 4096};
    tn_setup(2, &o);
    lt_store_id_t sid = tn_create(0);
    tn_join(0, 1, &sid);
    tn_w.n[0].congested = true;
    char k[16], v[200];
    memset(v, 'x', sizeof v - 1);
    v[sizeof v - 1] = '\0';
    for (int i = 0; i < 60; i++) {
        snprintf(k, sizeof k, "c%d", i);
        tn_put(0, &sid, k, v); /* every write is answered */
    }
    lattice_gossip_GossipStatus s = s_status(0);
    cr_assert_geq(s.overflows, 1, "the queue never overflowed");
    cr_assert_geq(s.reconciliations, 2, "the overflow did not hand the store to sync");
    tn_w.n[0].congested = false;
    /* Sync (asked again once the link drains) brings the rest. */
    tn_advance_to(tn_w.clock + 6000);
    tn_put(0, &sid, "final", "after the jam");
    tn_expect_value(1, &sid, "final", "after the jam");
}

/* Four nodes over a faulty network, one of them cut off for the last
 * rounds of writes; the network's draws from seed. */
static void s_lossy_run(uint64_t seed)
{
    tn_opts_t o = {.gossip = true, .periodic = true, .period_ms = 5000, .net_seed = seed};
    tn_setup(4, &o);
    lt_store_id_t sid = tn_create(0);
    for (int j = 1; j < 4; j++)
        tn_join(0, j, &sid);
    /* From here on: 5..25 ms a packet, one in ten lost, one in twenty
     * twice. */
    tn_w.link =
        (tn_link_t){.latency_ms = 5, .jitter_ms = 20, .loss_permille = 100, .dup_permille = 50};
    char k[16], v[32];
    for (int round = 0; round < 12; round++) {
        /* Node 3 is cut off for the last rounds, writing on its own:
         * nothing written after them lets gossip notice the gap. */
        tn_w.n[3].down = round >= 8;
        for (int i = 0; i < 4; i++) {
            snprintf(k, sizeof k, "n%d.%d", i, round);
            snprintf(v, sizeof v, "from %d in round %d", i, round);
            tn_put(i, &sid, k, v);
            /* Everybody also writes one shared key: conflicts to settle. */
            tn_put(i, &sid, "shared", v);
        }
        tn_advance_to(tn_w.clock + 300);
    }
    tn_w.n[3].down = false;
    /* Periodic syncs mend what gossip could not carry (sessions whose
     * messages are lost time out and run again next period). */
    tn_advance_to(tn_w.clock + 5 * 60000);
    cr_assert_gt(tn_w.lost, 0, "seed %llu: the network lost nothing", (unsigned long long)seed);
    cr_assert_gt(tn_w.duplicated, 0, "the network duplicated nothing");
    uint64_t w0 = tn_witnessed(0, &sid);
    char want[64], got[64];
    bool c0, ci;
    tn_get(0, &sid, "shared", want, sizeof want, &c0);
    for (int i = 1; i < 4; i++) {
        cr_assert_eq(tn_witnessed(i, &sid), w0, "seed %llu: node %d holds %llu, node 0 %llu",
                     (unsigned long long)seed, i, (unsigned long long)tn_witnessed(i, &sid),
                     (unsigned long long)w0);
        tn_get(i, &sid, "shared", got, sizeof got, &ci);
        cr_assert_str_eq(got, want, "node %d shows another winner", i);
        cr_assert_eq(ci, c0);
    }
    for (int round = 0; round < 12; round += 5)
        for (int i = 0; i < 4; i++) {
            snprintf(k, sizeof k, "n%d.%d", i, round);
            snprintf(v, sizeof v, "from %d in round %d", i, round);
            for (int j = 0; j < 4; j++)
                tn_expect_value(j, &sid, k, v);
        }
}

Test(gossip_actor, over_a_network_that_loses_delays_reorders_and_duplicates_every_node_converges)
{
    /* Sessions overlap and stall on lost messages here: a sync index that
     * was never brought up to date under them once left a node behind
     * (seed 18). */
    for (uint64_t seed = 15; seed < 23; seed++) {
        s_lossy_run(seed);
        tn_teardown();
    }
}
