/* The system table (store/system_table.h): peers, invites (kept by the hash
 * of their secret), child store declarations, the store name and the peer
 * strategy, each a last-writer-wins register; convergence of concurrent
 * writes on two nodes and their resolution by a write that saw both. */
#include "store/heads.h"
#include "store/log_state.h"
#include "store/system_table.h"
#include "store/tables.h"
#include "support/testutil.h"

#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#define S_T0 1700000000000ull

static const lt_store_id_t s_sid = {{0x5a, 0x59, 0x57, 0x74, 0x6f, 0x72, 0x40, 0x03, 0x80, 0x01,
                                     0x02, 0x03, 0x04, 0x05, 0x06, 0x07}};

typedef lt_test_node_t s_node_t;

static s_node_t s_nodes[2];

static void s_node_open(s_node_t *n, uint8_t seed, lt_test_backend_t backend, uint64_t t0)
{
    lt_test_node_open(n, seed, backend, t0, "core:kvstore", &s_sid);
}

static void s_teardown(void)
{
    for (size_t i = 0; i < sizeof s_nodes / sizeof *s_nodes; i++)
        lt_test_node_close(&s_nodes[i]);
}

TestSuite(system_table, .fini = s_teardown, .timeout = 60);

static void s_commit(s_node_t *n)
{
    lt_err_t rc = lt_db_commit(n->db);
    cr_assert_eq(rc, LT_OK, "commit: %s: %s", lt_errname(rc), lt_db_errmsg(n->db));
}

static void s_ok(s_node_t *n, lt_err_t rc, const char *what)
{
    cr_assert_eq(rc, LT_OK, "%s: %s: %s", what, lt_errname(rc), lt_db_errmsg(n->db));
}

/* Number of heads of a raw system table row (class + id). */
static unsigned s_row_heads(s_node_t *n, char cls, const uint8_t *id, size_t idlen)
{
    uint8_t k[LT_STORE_ID_LEN + 1 + 64];
    memcpy(k, s_sid.b, LT_STORE_ID_LEN);
    k[LT_STORE_ID_LEN] = (uint8_t)cls;
    if (idlen)
        memcpy(k + LT_STORE_ID_LEN + 1, id, idlen);
    lt_buf_t b = LT_BUF_INIT;
    lt_err_t rc = lt_kv_get(lt_db_kv(n->db), LT_CF_SYSTEM, k, LT_STORE_ID_LEN + 1 + idlen, &b);
    cr_assert_eq(rc, LT_OK, "system row '%c' not found", cls);
    lt_heads_t h = LT_HEADS_INIT;
    cr_assert_eq(lt_heads_decode(b.data, b.len, &h), LT_OK);
    unsigned count = h.n;
    lt_heads_free(&h);
    lt_buf_free(&b);
    return count;
}

static void s_exchange(s_node_t *from, s_node_t *to);

/* ---- peers ---- */

typedef struct {
    unsigned n;
    lt_pubkey_t key[8];
    lattice_PeerStatus status[8];
} s_peers_t;

static lt_err_t s_peer_fn(void *ctx, const lt_pubkey_t *peer, lattice_PeerStatus status)
{
    s_peers_t *p = ctx;
    cr_assert_lt(p->n, 8);
    p->key[p->n] = *peer;
    p->status[p->n] = status;
    p->n++;
    return LT_OK;
}

Test(system_table, peers_are_recorded_listed_and_updated)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_MEM, S_T0);
    lt_identity_t a, b, c;
    lt_test_identity(&a, 40);
    lt_test_identity(&b, 41);
    lt_test_identity(&c, 42);
    lattice_PeerStatus st;
    cr_assert_eq(lt_system_get_peer(n->st, &a.pk, &st), LT_ENOTFOUND);
    s_ok(n, lt_system_set_peer(n->st, &a.pk, lattice_PeerStatus_PEER_ACTIVE, NULL), "set a");
    s_ok(n, lt_system_set_peer(n->st, &b.pk, lattice_PeerStatus_PEER_REVOKED, NULL), "set b");
    s_commit(n);
    s_ok(n, lt_system_get_peer(n->st, &a.pk, &st), "get a");
    cr_assert_eq(st, lattice_PeerStatus_PEER_ACTIVE);
    s_ok(n, lt_system_get_peer(n->st, &b.pk, &st), "get b");
    cr_assert_eq(st, lattice_PeerStatus_PEER_REVOKED);
    cr_assert_eq(lt_system_get_peer(n->st, &c.pk, &st), LT_ENOTFOUND);

    s_peers_t p = {0};
    s_ok(n, lt_system_list_peers(n->st, s_peer_fn, &p), "list");
    cr_assert_eq(p.n, 2);
    bool a_first = lt_pubkey_cmp(&a.pk, &b.pk) < 0;
    cr_assert_eq(lt_pubkey_cmp(&p.key[a_first ? 0 : 1], &a.pk), 0, "peers listed in key order");
    cr_assert_eq(p.status[a_first ? 0 : 1], lattice_PeerStatus_PEER_ACTIVE);

    n->clock++;
    s_ok(n, lt_system_set_peer(n->st, &a.pk, lattice_PeerStatus_PEER_DORMANT, NULL), "update a");
    s_commit(n);
    s_ok(n, lt_system_get_peer(n->st, &a.pk, &st), "get a");
    cr_assert_eq(st, lattice_PeerStatus_PEER_DORMANT);
    cr_assert_eq(s_row_heads(n, 'p', a.pk.b, LT_KEY_LEN), 1,
                 "an update by the same node cites the value it replaces");
    memset(&p, 0, sizeof p);
    s_ok(n, lt_system_list_peers(n->st, s_peer_fn, &p), "list");
    cr_assert_eq(p.n, 2);
}

/* ---- invites ---- */

Test(system_table, invites_are_found_by_the_hash_of_their_secret)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_MEM, S_T0);
    static const uint8_t secret[] = "correct horse battery staple";
    lt_hash_t sh;
    lt_invite_secret_hash(secret, sizeof secret - 1, &sh);
    lattice_InviteSet inv = lattice_InviteSet_init_zero;
    inv.secret_hash.size = LT_HASH_LEN;
    memcpy(inv.secret_hash.bytes, sh.b, LT_HASH_LEN);
    inv.status = lattice_InviteStatus_INVITE_OPEN;
    inv.expires_ms = S_T0 + 3600000;
    s_ok(n, lt_system_set_invite(n->st, &inv, NULL), "set invite");
    s_commit(n);

    lattice_InviteSet got = lattice_InviteSet_init_zero;
    s_ok(n, lt_system_get_invite(n->st, &sh, &got), "get invite");
    cr_assert_eq(got.status, lattice_InviteStatus_INVITE_OPEN);
    cr_assert_eq(got.expires_ms, S_T0 + 3600000);
    cr_assert_eq(got.secret_hash.size, LT_HASH_LEN);
    cr_assert_arr_eq(got.secret_hash.bytes, sh.b, LT_HASH_LEN);

    lt_hash_t other;
    lt_invite_secret_hash((const uint8_t *)"wrong", 5, &other);
    cr_assert_eq(lt_system_get_invite(n->st, &other, &got), LT_ENOTFOUND);

    /* Consuming the invite records who used it. */
    lt_identity_t joiner;
    lt_test_identity(&joiner, 50);
    n->clock++;
    inv.status = lattice_InviteStatus_INVITE_CONSUMED;
    inv.invitee.size = LT_KEY_LEN;
    memcpy(inv.invitee.bytes, joiner.pk.b, LT_KEY_LEN);
    s_ok(n, lt_system_set_invite(n->st, &inv, NULL), "consume invite");
    s_commit(n);
    s_ok(n, lt_system_get_invite(n->st, &sh, &got), "get invite");
    cr_assert_eq(got.status, lattice_InviteStatus_INVITE_CONSUMED);
    cr_assert_arr_eq(got.invitee.bytes, joiner.pk.b, LT_KEY_LEN);
    cr_assert_eq(s_row_heads(n, 'i', sh.b, LT_HASH_LEN), 1);
}

static bool s_memmem(const uint8_t *hay, size_t hlen, const uint8_t *needle, size_t nlen)
{
    for (size_t i = 0; i + nlen <= hlen; i++)
        if (memcmp(hay + i, needle, nlen) == 0)
            return true;
    return false;
}

/* Scans every row of every table for a byte string. */
static bool s_db_contains(s_node_t *n, const uint8_t *needle, size_t len)
{
    lt_kv_t *kv = lt_db_kv(n->db);
    for (unsigned cf = 0; cf < LT_CF_COUNT; cf++) {
        lt_kv_iter_t *it;
        cr_assert_eq(lt_kv_iter_new(kv, cf, &it), LT_OK);
        bool found = false;
        for (kv->ops->iter_seek_first(it); !found && kv->ops->iter_valid(it);
             kv->ops->iter_next(it)) {
            size_t kl, vl;
            const uint8_t *k = kv->ops->iter_key(it, &kl);
            const uint8_t *v = kv->ops->iter_value(it, &vl);
            found = s_memmem(k, kl, needle, len) || s_memmem(v, vl, needle, len);
        }
        kv->ops->iter_free(it);
        if (found)
            return true;
    }
    return false;
}

Test(system_table, an_invite_secret_is_never_written)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_MEM, S_T0);
    static const uint8_t secret[] = "a very secret invite secret!";
    lt_hash_t sh;
    lt_invite_secret_hash(secret, sizeof secret - 1, &sh);
    lattice_InviteSet inv = lattice_InviteSet_init_zero;
    inv.secret_hash.size = LT_HASH_LEN;
    memcpy(inv.secret_hash.bytes, sh.b, LT_HASH_LEN);
    inv.status = lattice_InviteStatus_INVITE_OPEN;
    s_ok(n, lt_system_set_invite(n->st, &inv, NULL), "set invite");
    s_commit(n);
    cr_assert(s_db_contains(n, sh.b, LT_HASH_LEN), "the scan does not work");
    cr_assert_not(s_db_contains(n, secret, sizeof secret - 1), "the secret is on disk");
}

Test(system_table, a_malformed_entry_is_refused)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_MEM, S_T0);
    lattice_InviteSet inv = lattice_InviteSet_init_zero;
    inv.secret_hash.size = 5; /* not a hash */
    cr_assert_eq(lt_system_set_invite(n->st, &inv, NULL), LT_EINVAL);
    lattice_ChildSet child = lattice_ChildSet_init_zero;
    child.store_id.size = 3;
    cr_assert_eq(lt_system_set_child(n->st, &child, NULL), LT_EINVAL);
    s_commit(n);
    cr_assert_eq(lt_store_witnessed_count(n->st), 0);
}

/* ---- children ---- */

typedef struct {
    unsigned n;
    lattice_ChildSet c[8];
} s_children_t;

static lt_err_t s_child_fn(void *ctx, const lattice_ChildSet *child)
{
    s_children_t *c = ctx;
    cr_assert_lt(c->n, 8);
    c->c[c->n++] = *child;
    return LT_OK;
}

static lattice_ChildSet s_child(uint8_t tag, const char *type, const char *name,
                                lattice_ChildStatus status)
{
    lattice_ChildSet c = lattice_ChildSet_init_zero;
    c.store_id.size = LT_STORE_ID_LEN;
    memset(c.store_id.bytes, tag, LT_STORE_ID_LEN);
    snprintf(c.type, sizeof c.type, "%s", type);
    snprintf(c.name, sizeof c.name, "%s", name);
    c.status = status;
    return c;
}

Test(system_table, children_are_declared_listed_and_removed)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_MEM, S_T0);
    lattice_ChildSet c1 = s_child(0x22, "core:kvstore", "docs", lattice_ChildStatus_CHILD_ACTIVE);
    lattice_ChildSet c2 =
        s_child(0x11, "core:logstore", "events", lattice_ChildStatus_CHILD_ACTIVE);
    s_ok(n, lt_system_set_child(n->st, &c1, NULL), "child 1");
    s_ok(n, lt_system_set_child(n->st, &c2, NULL), "child 2");
    s_commit(n);
    s_children_t l = {0};
    s_ok(n, lt_system_list_children(n->st, s_child_fn, &l), "list");
    cr_assert_eq(l.n, 2);
    cr_assert_str_eq(l.c[0].name, "events", "children listed in store id order");
    cr_assert_str_eq(l.c[0].type, "core:logstore");
    cr_assert_str_eq(l.c[1].name, "docs");
    cr_assert_eq(l.c[1].status, lattice_ChildStatus_CHILD_ACTIVE);

    n->clock++;
    c1.status = lattice_ChildStatus_CHILD_REMOVED;
    s_ok(n, lt_system_set_child(n->st, &c1, NULL), "remove child 1");
    s_commit(n);
    memset(&l, 0, sizeof l);
    s_ok(n, lt_system_list_children(n->st, s_child_fn, &l), "list");
    cr_assert_eq(l.n, 2);
    cr_assert_eq(l.c[1].status, lattice_ChildStatus_CHILD_REMOVED);
}

Test(system_table, a_child_declaration_is_read_by_its_id_pending_or_committed)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_MEM, S_T0);
    lattice_ChildSet c = s_child(0x33, "core:kvstore", "kid", lattice_ChildStatus_CHILD_ACTIVE);
    lt_store_id_t id;
    memset(id.b, 0x33, LT_STORE_ID_LEN);
    lattice_ChildSet got = lattice_ChildSet_init_zero;
    cr_assert_eq(lt_system_get_child(n->st, &id, &got), LT_ENOTFOUND);
    s_ok(n, lt_system_set_child(n->st, &c, NULL), "declare");
    s_ok(n, lt_system_get_child(n->st, &id, &got), "read it pending");
    cr_assert_str_eq(got.name, "kid");
    s_commit(n);
    n->clock++;
    c.status = lattice_ChildStatus_CHILD_REMOVED;
    s_ok(n, lt_system_set_child(n->st, &c, NULL), "remove");
    s_commit(n);
    s_ok(n, lt_system_get_child(n->st, &id, &got), "read it");
    cr_assert_eq(got.status, lattice_ChildStatus_CHILD_REMOVED, "the later declaration wins");
    cr_assert_str_eq(got.type, "core:kvstore");
    cr_assert_eq(memcmp(got.store_id.bytes, id.b, LT_STORE_ID_LEN), 0);
    memset(id.b, 0x44, LT_STORE_ID_LEN);
    cr_assert_eq(lt_system_get_child(n->st, &id, &got), LT_ENOTFOUND);
}

/* ---- name and strategy ---- */

Test(system_table, the_store_name_is_set_and_read)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_MEM, S_T0);
    char name[300];
    cr_assert_eq(lt_system_get_name(n->st, name, sizeof name), LT_ENOTFOUND);
    s_ok(n, lt_system_set_name(n->st, "family photos", NULL), "set name");
    s_commit(n);
    s_ok(n, lt_system_get_name(n->st, name, sizeof name), "get name");
    cr_assert_str_eq(name, "family photos");
    n->clock++;
    s_ok(n, lt_system_set_name(n->st, "photos", NULL), "rename");
    s_commit(n);
    s_ok(n, lt_system_get_name(n->st, name, sizeof name), "get name");
    cr_assert_str_eq(name, "photos");
    cr_assert_eq(s_row_heads(n, 'n', NULL, 0), 1);

    char longname[300];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    cr_assert_eq(lt_system_set_name(n->st, longname, NULL), LT_EINVAL);
}

Test(system_table, the_peer_strategy_is_set_and_read)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_MEM, S_T0);
    lattice_PeerStrategy s;
    cr_assert_eq(lt_system_get_strategy(n->st, &s), LT_ENOTFOUND);
    s_ok(n, lt_system_set_strategy(n->st, lattice_PeerStrategy_STRATEGY_INHERITED, NULL), "set");
    s_commit(n);
    s_ok(n, lt_system_get_strategy(n->st, &s), "get");
    cr_assert_eq(s, lattice_PeerStrategy_STRATEGY_INHERITED);
    s_ok(n, lt_system_set_strategy(n->st, lattice_PeerStrategy_STRATEGY_SNAPSHOT, NULL), "set");
    s_commit(n);
    s_ok(n, lt_system_get_strategy(n->st, &s), "get");
    cr_assert_eq(s, lattice_PeerStrategy_STRATEGY_SNAPSHOT);
}

Test(system_table, every_store_type_has_a_system_table)
{
    s_node_t *n = &s_nodes[0];
    lt_test_identity(&n->id, 1);
    n->clock = S_T0;
    n->db = lt_test_db_open(LT_TEST_MEM, &n->id, &n->clock, &n->dir);
    lt_store_t *log;
    cr_assert_eq(lt_store_create(n->db, "core:logstore", NULL, &log), LT_OK);
    cr_assert_eq(lt_system_set_name(log, "journal", NULL), LT_OK);
    cr_assert_eq(lt_logstore_append(log, (const uint8_t *)"entry", 5, NULL), LT_OK);
    cr_assert_eq(lt_db_commit(n->db), LT_OK);
    char name[64];
    cr_assert_eq(lt_system_get_name(log, name, sizeof name), LT_OK);
    cr_assert_str_eq(name, "journal");
}

Test(system_table, entries_survive_a_reopen_on_rocksdb)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_ROCKSDB, S_T0);
    lt_identity_t a;
    lt_test_identity(&a, 40);
    s_ok(n, lt_system_set_peer(n->st, &a.pk, lattice_PeerStatus_PEER_ACTIVE, NULL), "peer");
    s_ok(n, lt_system_set_name(n->st, "persisted", NULL), "name");
    s_commit(n);
    lt_db_close(&n->db);
    lt_errbuf_t eb;
    cr_assert_eq(lt_test_db_reopen(n->dir, &n->id, &n->clock, &n->db, &eb), LT_OK, "%s", eb.msg);
    n->st = lt_db_store(n->db, &s_sid);
    cr_assert_not_null(n->st);
    lattice_PeerStatus ps;
    s_ok(n, lt_system_get_peer(n->st, &a.pk, &ps), "get peer");
    cr_assert_eq(ps, lattice_PeerStatus_PEER_ACTIVE);
    char name[64];
    s_ok(n, lt_system_get_name(n->st, name, sizeof name), "get name");
    cr_assert_str_eq(name, "persisted");
}

/* ---- two nodes ---- */

static void s_exchange(s_node_t *from, s_node_t *to)
{
    lt_test_node_exchange(from, to);
}

static void s_expect_name(s_node_t *n, const char *want, unsigned heads)
{
    char name[64];
    s_ok(n, lt_system_get_name(n->st, name, sizeof name), "get name");
    cr_assert_str_eq(name, want);
    cr_assert_eq(s_row_heads(n, 'n', NULL, 0), heads);
}

Test(system_table, concurrent_writes_on_two_nodes_converge_to_the_last_writer)
{
    s_node_open(&s_nodes[0], 1, LT_TEST_MEM, S_T0);
    s_node_open(&s_nodes[1], 2, LT_TEST_MEM, S_T0 + 7);
    s_ok(&s_nodes[0], lt_system_set_name(s_nodes[0].st, "alpha", NULL), "name 1");
    s_ok(&s_nodes[1], lt_system_set_name(s_nodes[1].st, "beta", NULL), "name 2");
    lt_identity_t p;
    lt_test_identity(&p, 60);
    /* Node 2 revokes a peer that node 1 (earlier) makes active. */
    s_ok(&s_nodes[0],
         lt_system_set_peer(s_nodes[0].st, &p.pk, lattice_PeerStatus_PEER_ACTIVE, NULL), "peer 1");
    s_ok(&s_nodes[1],
         lt_system_set_peer(s_nodes[1].st, &p.pk, lattice_PeerStatus_PEER_REVOKED, NULL), "peer 2");
    s_commit(&s_nodes[0]);
    s_commit(&s_nodes[1]);
    s_exchange(&s_nodes[0], &s_nodes[1]);
    s_exchange(&s_nodes[1], &s_nodes[0]);
    for (int i = 0; i < 2; i++) {
        s_expect_name(&s_nodes[i], "beta", 2);
        lattice_PeerStatus ps;
        s_ok(&s_nodes[i], lt_system_get_peer(s_nodes[i].st, &p.pk, &ps), "get peer");
        cr_assert_eq(ps, lattice_PeerStatus_PEER_REVOKED, "node %d: the later write wins", i);
    }

    /* Node 1, behind in time, writes after seeing both: it wins everywhere
     * and leaves one head. */
    s_ok(&s_nodes[0], lt_system_set_name(s_nodes[0].st, "gamma", NULL), "name 1 again");
    s_commit(&s_nodes[0]);
    s_exchange(&s_nodes[0], &s_nodes[1]);
    for (int i = 0; i < 2; i++)
        s_expect_name(&s_nodes[i], "gamma", 1);
}

Test(system_table, a_tie_in_time_is_broken_by_the_author_key)
{
    s_node_open(&s_nodes[0], 1, LT_TEST_MEM, S_T0);
    s_node_open(&s_nodes[1], 2, LT_TEST_MEM, S_T0);
    s_ok(&s_nodes[0], lt_system_set_name(s_nodes[0].st, "one", NULL), "name 1");
    s_ok(&s_nodes[1], lt_system_set_name(s_nodes[1].st, "two", NULL), "name 2");
    s_commit(&s_nodes[0]);
    s_commit(&s_nodes[1]);
    s_exchange(&s_nodes[1], &s_nodes[0]);
    s_exchange(&s_nodes[0], &s_nodes[1]);
    const char *want = lt_pubkey_cmp(&s_nodes[0].id.pk, &s_nodes[1].id.pk) > 0 ? "one" : "two";
    for (int i = 0; i < 2; i++)
        s_expect_name(&s_nodes[i], want, 2);
}
