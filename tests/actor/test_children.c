/* Child stores between nodes in one process (testnet.h): a store made with
 * a parent on one node is opened by every node that holds the parent, fills
 * and replicates through the peers it inherits (nobody joins it), its own
 * children likewise, and closes everywhere when it is removed; a child
 * answers its own active peers and its parent's, less those it revokes, and
 * nobody else (DESIGN.md §7). */
#include "testnet.h"

#include "gossip/gossip_actor.h"
#include "support/testutil.h"

#include "gossip.pb.h"
#include "sync.pb.h"

#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

static void s_ref(lt_buf_t *b, const lt_store_id_t *sid)
{
    lattice_store_StoreRef m = lattice_store_StoreRef_init_zero;
    m.store.size = LT_STORE_ID_LEN;
    memcpy(m.store.bytes, sid->b, LT_STORE_ID_LEN);
    tn_enc(lattice_store_StoreRef_fields, &m, b);
}

/* Whether node i holds store sid (STORE_LIST). */
static bool s_holds(int i, const lt_store_id_t *sid)
{
    tn_reply_t *r = tn_ask(i, "store", lattice_store_StoreMsgType_STORE_LIST, NULL);
    cr_assert_eq(r->status, LT_OK);
    return lt_test_store_list_has(r->body, r->len, sid);
}

static lattice_store_StoreInfo s_info(int i, const lt_store_id_t *sid)
{
    lt_buf_t b = LT_BUF_INIT;
    s_ref(&b, sid);
    tn_reply_t *r = tn_ask(i, "store", lattice_store_StoreMsgType_STORE_INFO, &b);
    lt_buf_free(&b);
    cr_assert_eq(r->status, LT_OK, "info on node %d: %s", i, lt_errname(r->status));
    lattice_store_StoreInfo si = lattice_store_StoreInfo_init_zero;
    cr_assert_eq(lt_pb_decode_static(lattice_store_StoreInfo_fields, &si, r->body, r->len), LT_OK);
    return si;
}

static void s_remove(int i, const lt_store_id_t *sid)
{
    lt_buf_t b = LT_BUF_INIT;
    s_ref(&b, sid);
    tn_reply_t *r = tn_ask(i, "store", lattice_store_StoreMsgType_STORE_REMOVE, &b);
    cr_assert_eq(r->status, LT_OK, "remove: %s", lt_errname(r->status));
    lt_buf_free(&b);
    tn_settle();
}

/* Node `as` asks node i's store for an intention of sid by hash (FETCH);
 * the status (a hash not held is no error: only who asks matters here). */
static lt_err_t s_fetch_as(int i, int as, const lt_store_id_t *sid)
{
    lattice_store_Fetch m = lattice_store_Fetch_init_zero;
    m.store.size = LT_STORE_ID_LEN;
    memcpy(m.store.bytes, sid->b, LT_STORE_ID_LEN);
    lt_buf_t b = LT_BUF_INIT;
    tn_enc(lattice_store_Fetch_fields, &m, &b);
    uint8_t h[LT_HASH_LEN];
    memset(h, 0x5a, sizeof h);
    cr_assert_eq(lt_pb_append_bytes(&b, lattice_store_Fetch_hashes_tag, h, sizeof h), LT_OK);
    tn_reply_t *r = tn_ask_as(i, as, "store", lattice_store_StoreMsgType_FETCH, &b);
    lt_buf_free(&b);
    return r->status;
}

/* Node `as` reads node i's witness log of sid (CLONE_READ); the status. */
static lt_err_t s_clone_as(int i, int as, const lt_store_id_t *sid)
{
    lattice_store_CloneRead m = lattice_store_CloneRead_init_zero;
    m.store.size = LT_STORE_ID_LEN;
    memcpy(m.store.bytes, sid->b, LT_STORE_ID_LEN);
    m.from_seq = 1;
    lt_buf_t b = LT_BUF_INIT;
    tn_enc(lattice_store_CloneRead_fields, &m, &b);
    tn_reply_t *r = tn_ask_as(i, as, "store", lattice_store_StoreMsgType_CLONE_READ, &b);
    lt_buf_free(&b);
    return r->status;
}

typedef struct {
    size_t n;
    lt_pubkey_t key[TN_NODES * 2];
    lattice_store_PeerState state[TN_NODES * 2];
    bool inherited[TN_NODES * 2];
} s_peers_t;

static s_peers_t s_peers(int i, const lt_store_id_t *sid)
{
    lt_buf_t b = LT_BUF_INIT;
    s_ref(&b, sid);
    tn_reply_t *r = tn_ask(i, "store", lattice_store_StoreMsgType_PEER_LIST, &b);
    lt_buf_free(&b);
    cr_assert_eq(r->status, LT_OK);
    s_peers_t p = {0};
    lt_pb_input_t in = lt_pb_input(r->body, r->len);
    lt_pb_views_t views = {.in = &in};
    lattice_store_PeerList pl = lattice_store_PeerList_init_zero;
    lt_pb_bind_views(&pl.peers, &views);
    cr_assert_eq(lt_pb_decode_static(lattice_store_PeerList_fields, &pl, r->body, r->len), LT_OK);
    cr_assert_leq(views.n, TN_NODES * 2);
    for (size_t k = 0; k < views.n; k++) {
        lattice_store_PeerItem it = lattice_store_PeerItem_init_zero;
        cr_assert_eq(
            lt_pb_decode_static(lattice_store_PeerItem_fields, &it, views.v[k].p, views.v[k].len),
            LT_OK);
        memcpy(p.key[p.n].b, it.key.bytes, LT_KEY_LEN);
        p.state[p.n] = it.state;
        p.inherited[p.n] = it.inherited;
        p.n++;
    }
    lt_pb_views_free(&views);
    return p;
}

/* The row of node `node`'s key in a peer list (-1: none); the first one. */
static int s_row_of(const s_peers_t *p, int node)
{
    for (size_t k = 0; k < p->n; k++)
        if (lt_pubkey_cmp(&p->key[k], &tn_w.n[node].id.pk) == 0)
            return (int)k;
    return -1;
}

/* Node i syncs sid (SYNC_NOW) and the network settles. */
static void s_sync(int i, const lt_store_id_t *sid)
{
    (void)tn_sync_now(i, sid);
    tn_settle();
}

static void s_revoke(int i, const lt_store_id_t *sid, int peer, lt_err_t want)
{
    lattice_store_PeerRef m = lattice_store_PeerRef_init_zero;
    m.store.size = LT_STORE_ID_LEN;
    memcpy(m.store.bytes, sid->b, LT_STORE_ID_LEN);
    m.key.size = LT_KEY_LEN;
    memcpy(m.key.bytes, tn_w.n[peer].id.pk.b, LT_KEY_LEN);
    lt_buf_t b = LT_BUF_INIT;
    tn_enc(lattice_store_PeerRef_fields, &m, &b);
    tn_reply_t *r = tn_ask(i, "store", lattice_store_StoreMsgType_PEER_REVOKE, &b);
    cr_assert_eq(r->status, want, "revoke: %s, not %s", lt_errname(r->status), lt_errname(want));
    lt_buf_free(&b);
}

static lattice_gossip_GossipStatus s_gossip_status(int i)
{
    tn_reply_t *r = tn_ask(i, "gossip", lattice_gossip_GossipMsgType_GOSSIP_STATUS, NULL);
    cr_assert_eq(r->status, LT_OK);
    lattice_gossip_GossipStatus st = lattice_gossip_GossipStatus_init_zero;
    cr_assert_eq(lt_pb_decode_static(lattice_gossip_GossipStatus_fields, &st, r->body, r->len),
                 LT_OK);
    return st;
}

TestSuite(children, .fini = tn_teardown, .timeout = 120);

Test(children, a_child_made_on_one_node_opens_on_its_peer_and_replicates_without_a_join)
{
    tn_opts_t o = {.gossip = true};
    tn_setup(2, &o);
    lt_store_id_t root = tn_create(0);
    tn_join(0, 1, &root);
    lt_store_id_t child = tn_create_in(0, &root, "kid");
    tn_settle();
    cr_assert(s_holds(1, &child), "node 1 did not open the child its root declares");
    lattice_store_StoreInfo si = s_info(1, &child);
    cr_assert_str_eq(si.name, "kid");
    cr_assert_eq(si.type, lattice_store_StoreType_STORE_TYPE_KV);
    cr_assert_eq(s_info(1, &root).children, 1);

    /* Nobody joined the child: both ways through the root's peers. */
    tn_put(0, &child, "k", "from zero");
    tn_expect_value(1, &child, "k", "from zero");
    tn_put(1, &child, "k2", "from one");
    tn_expect_value(0, &child, "k2", "from one");
    cr_assert_eq(tn_witnessed(0, &child), tn_witnessed(1, &child));

    /* The child lists the peer it inherits, after its own (none). */
    s_peers_t p = s_peers(0, &child);
    int row = s_row_of(&p, 1);
    cr_assert_geq(row, 0, "node 0's child does not list node 1");
    cr_assert(p.inherited[row]);
    cr_assert_eq(p.state[row], lattice_store_PeerState_PEER_STATE_ACTIVE);
    p = s_peers(1, &child);
    row = s_row_of(&p, 0);
    cr_assert_geq(row, 0, "node 1's child does not list node 0");
    cr_assert(p.inherited[row]);
    /* The root's own peers are its own. */
    p = s_peers(0, &root);
    row = s_row_of(&p, 1);
    cr_assert_geq(row, 0);
    cr_assert_not(p.inherited[row]);
}

Test(children, a_child_opens_after_a_sync_of_its_parent_and_its_history_follows)
{
    tn_setup(2, NULL); /* no gossip: sync alone */
    lt_store_id_t root = tn_create(0);
    tn_join(0, 1, &root);
    lt_store_id_t child = tn_create_in(0, &root, "kid");
    tn_put(0, &child, "early", "before node 1 knew");
    cr_assert_not(s_holds(1, &child));
    /* Node 1 learns of the child from the root; it opens it and asks its
     * sync service to fill it. */
    s_sync(1, &root);
    cr_assert(s_holds(1, &child), "node 1 did not open the child after the sync");
    tn_expect_value(1, &child, "early", "before node 1 knew");
    cr_assert_eq(tn_witnessed(0, &child), tn_witnessed(1, &child));
    /* A write on node 1 goes back by sync, to the inherited peer. */
    tn_put(1, &child, "late", "from one");
    s_sync(1, &child);
    tn_expect_value(0, &child, "late", "from one");
}

/* Three nodes holding a root (made on node 0, joined by 1 and 2), its
 * child "kid" and the child's "grandkid", all made on node 0. */
static void s_family(lt_store_id_t *root, lt_store_id_t *child, lt_store_id_t *grand)
{
    tn_opts_t o = {.gossip = true};
    tn_setup(3, &o);
    *root = tn_create(0);
    tn_join(0, 1, root);
    tn_join(0, 2, root);
    *child = tn_create_in(0, root, "kid");
    tn_settle();
    *grand = tn_create_in(0, child, "grandkid");
    tn_settle();
}

Test(children, a_grandchild_is_discovered_like_a_child)
{
    lt_store_id_t root, child, grand;
    s_family(&root, &child, &grand);
    for (int i = 1; i < 3; i++) {
        cr_assert(s_holds(i, &child), "node %d does not hold the child", i);
        cr_assert(s_holds(i, &grand), "node %d does not hold the grandchild", i);
    }
    tn_put(1, &grand, "g", "from one");
    tn_expect_value(0, &grand, "g", "from one");
    tn_expect_value(2, &grand, "g", "from one");
    /* A grandchild made on another node travels the other way. */
    lt_store_id_t other = tn_create_in(2, &child, "from two");
    tn_settle();
    cr_assert(s_holds(0, &other) && s_holds(1, &other));
    tn_put(0, &other, "x", "y");
    tn_expect_value(2, &other, "x", "y");
    /* The grandchild inherits through its parent: the root's peers. */
    s_peers_t p = s_peers(0, &grand);
    cr_assert(s_row_of(&p, 1) >= 0 && s_row_of(&p, 2) >= 0);
    cr_assert(p.inherited[s_row_of(&p, 1)] && p.inherited[s_row_of(&p, 2)]);
}

Test(children, removing_a_child_closes_it_on_every_node_that_holds_its_parent)
{
    lt_store_id_t root, child, grand;
    s_family(&root, &child, &grand);
    for (int i = 0; i < 3; i++)
        cr_assert(s_holds(i, &child) && s_holds(i, &grand), "node %d", i);

    s_remove(0, &child);
    for (int i = 0; i < 3; i++) {
        cr_assert_not(s_holds(i, &child), "node %d still holds the removed child", i);
        cr_assert_eq(s_info(i, &root).children, 0, "node %d: the root still declares it", i);
        /* A removed store's own children stay (store.proto StoreCreate). */
        cr_assert(s_holds(i, &grand), "node %d dropped the grandchild", i);
        cr_assert(s_holds(i, &root));
    }

    /* Any node that holds the parent may remove a child: node 1 removes
     * one that node 0 made. */
    lt_store_id_t second = tn_create_in(0, &root, "second");
    tn_settle();
    cr_assert(s_holds(1, &second));
    s_remove(1, &second);
    for (int i = 0; i < 3; i++)
        cr_assert_not(s_holds(i, &second), "node %d still holds the second child", i);
}

Test(children, a_child_answers_its_own_and_its_inherited_peers_and_nobody_else)
{
    tn_setup(4, NULL);
    lt_store_id_t root = tn_create(0);
    tn_join(0, 1, &root); /* node 1: a peer of the root */
    lt_store_id_t child = tn_create_in(0, &root, "kid");
    lt_store_id_t grand = tn_create_in(0, &child, "grandkid");
    tn_join(0, 2, &child); /* node 2: a peer of the child only; node 3: nobody */

    cr_assert_eq(s_fetch_as(0, 1, &child), LT_OK, "an inherited peer was refused");
    cr_assert_eq(s_clone_as(0, 1, &child), LT_OK);
    cr_assert_eq(s_fetch_as(0, 1, &grand), LT_OK, "two generations down");
    cr_assert_eq(s_fetch_as(0, 2, &child), LT_OK, "the child's own peer was refused");
    cr_assert_eq(s_fetch_as(0, 2, &grand), LT_OK, "the grandchild inherits the child's peers");
    cr_assert_eq(s_fetch_as(0, 2, &root), LT_EREFUSED, "a child's peer read its parent");
    cr_assert_eq(s_fetch_as(0, 3, &child), LT_EREFUSED, "a stranger read the child");
    cr_assert_eq(s_clone_as(0, 3, &child), LT_EREFUSED);
    cr_assert_eq(s_fetch_as(0, 3, &grand), LT_EREFUSED);
    cr_assert_eq(s_fetch_as(0, 3, &root), LT_EREFUSED);

    /* The child lists its own peer as its own and node 1 as inherited. */
    s_peers_t p = s_peers(0, &child);
    int r1 = s_row_of(&p, 1), r2 = s_row_of(&p, 2);
    cr_assert(r1 >= 0 && r2 >= 0);
    cr_assert(p.inherited[r1]);
    cr_assert_not(p.inherited[r2]);
    cr_assert_lt(r2, r1, "inherited peers come after the store's own");
    cr_assert_eq(s_row_of(&p, 3), -1);
}

Test(children, a_peer_revoked_in_the_child_is_refused_though_active_in_the_root)
{
    tn_setup(3, NULL);
    lt_store_id_t root = tn_create(0);
    tn_join(0, 1, &root);
    lt_store_id_t child = tn_create_in(0, &root, "kid");
    lt_store_id_t grand = tn_create_in(0, &child, "grandkid");
    cr_assert_eq(s_fetch_as(0, 1, &child), LT_OK);

    s_revoke(0, &child, 1, LT_OK); /* inherited, revoked in the child alone */
    cr_assert_eq(s_fetch_as(0, 1, &child), LT_EREFUSED, "a revoked peer read the child");
    cr_assert_eq(s_clone_as(0, 1, &child), LT_EREFUSED);
    cr_assert_eq(s_fetch_as(0, 1, &grand), LT_EREFUSED, "inherited past the revocation");
    cr_assert_eq(s_fetch_as(0, 1, &root), LT_OK, "the root's peer lost the root");

    s_peers_t p = s_peers(0, &child);
    int r1 = s_row_of(&p, 1);
    cr_assert_geq(r1, 0);
    cr_assert_eq(p.state[r1], lattice_store_PeerState_PEER_STATE_REVOKED);
    cr_assert_not(p.inherited[r1]);
    for (size_t k = 0; k < p.n; k++)
        cr_assert(lt_pubkey_cmp(&p.key[k], &tn_w.n[1].id.pk) != 0 || (int)k == r1,
                  "the revoked key is listed again as inherited");
    /* A key neither held nor inherited is no peer to revoke. */
    s_revoke(0, &child, 2, LT_ENOTFOUND);
}

/* A node that has not heard yet that a child was removed goes on writing
 * in it; the pushes that reach a node that closed the child are dropped
 * there without counting against the writer, whose other stores are still
 * heard. */
Test(children, writes_in_a_child_closed_elsewhere_do_not_count_against_the_writer)
{
    tn_opts_t o = {.gossip = true};
    tn_setup(2, &o);
    lt_store_id_t root = tn_create(0);
    tn_join(0, 1, &root);
    lt_store_id_t child = tn_create_in(0, &root, "kid");
    tn_settle();
    tn_put(1, &child, "k", "from one");
    tn_expect_value(0, &child, "k", "from one");

    tn_w.n[1].down = true; /* node 1 misses the removal */
    s_remove(0, &child);
    tn_w.n[1].down = false;
    cr_assert(s_holds(1, &child));
    char k[16];
    for (int i = 0; i < (int)LT_GOSSIP_INVALID_LIMIT + 2; i++) {
        snprintf(k, sizeof k, "late%d", i);
        tn_put(1, &child, k, "unheard");
    }
    lattice_gossip_GossipStatus st = s_gossip_status(0);
    cr_assert_eq(st.invalid, 0, "pushes for a closed child counted as invalid");
    cr_assert_eq(st.ignored_peers, 0);
    cr_assert_not(s_holds(0, &child), "the pushes opened the removed child again");
    tn_put(1, &root, "after", "heard");
    tn_expect_value(0, &root, "after", "heard");
    /* A sync of the root tells node 1: it closes the child too. */
    s_sync(1, &root);
    cr_assert_not(s_holds(1, &child));
}
