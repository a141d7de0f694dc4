/* core:kvstore (store/kv_state.h): put, get, delete, batches, listing by
 * prefix, the heads of a key, conflicts between nodes and their resolution,
 * and watch events. A "node" here is one lt_db_t with its own identity and
 * virtual clock; nodes exchange intentions by hand with
 * lt_store_get_intention + lt_store_ingest, as sync would. */
#include "store/kv_state.h"
#include "store/tables.h"
#include "support/testutil.h"

#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_T0 1700000000000ull

static const lt_store_id_t s_sid = {{0x6b, 0x76, 0x73, 0x74, 0x6f, 0x72, 0x40, 0x01, 0x80, 0x01,
                                     0x02, 0x03, 0x04, 0x05, 0x06, 0x07}};

typedef lt_test_node_t s_node_t;

static s_node_t s_nodes[3];

static void s_node_open(s_node_t *n, uint8_t seed, lt_test_backend_t backend, uint64_t t0)
{
    lt_test_node_open(n, seed, backend, t0, "core:kvstore", &s_sid);
}

static void s_teardown(void)
{
    for (size_t i = 0; i < sizeof s_nodes / sizeof *s_nodes; i++)
        lt_test_node_close(&s_nodes[i]);
}

TestSuite(kv_state, .fini = s_teardown, .timeout = 60);

#define s_b lt_test_b

static lt_hash_t s_put(s_node_t *n, const char *k, const char *v)
{
    lt_hash_t h;
    lt_err_t rc = lt_kvstore_put(n->st, s_b(k), strlen(k), s_b(v), strlen(v), &h);
    cr_assert_eq(rc, LT_OK, "put %s: %s: %s", k, lt_errname(rc), lt_db_errmsg(n->db));
    return h;
}

static lt_hash_t s_del(s_node_t *n, const char *k)
{
    lt_hash_t h;
    lt_err_t rc = lt_kvstore_del(n->st, s_b(k), strlen(k), &h);
    cr_assert_eq(rc, LT_OK, "del %s: %s: %s", k, lt_errname(rc), lt_db_errmsg(n->db));
    return h;
}

static void s_commit(s_node_t *n)
{
    lt_err_t rc = lt_db_commit(n->db);
    cr_assert_eq(rc, LT_OK, "commit: %s: %s", lt_errname(rc), lt_db_errmsg(n->db));
}

/* Asserts get(k): v (NULL: not found) and the conflicted flag. */
static void s_expect(s_node_t *n, const char *k, const char *v, bool conflicted)
{
    lt_buf_t b = LT_BUF_INIT;
    bool c = !conflicted;
    lt_err_t rc = lt_kvstore_get(n->st, s_b(k), strlen(k), &b, &c);
    if (v) {
        cr_assert_eq(rc, LT_OK, "get %s: %s", k, lt_errname(rc));
        cr_assert_eq(b.len, strlen(v), "get %s: '%.*s', expected '%s'", k, (int)b.len,
                     (const char *)b.data, v);
        cr_assert(b.len == 0 || memcmp(b.data, v, b.len) == 0, "get %s: '%.*s', expected '%s'", k,
                  (int)b.len, (const char *)b.data, v);
    } else {
        cr_assert_eq(rc, LT_ENOTFOUND, "get %s: expected not found, got %s '%.*s'", k,
                     lt_errname(rc), (int)b.len, b.data ? (const char *)b.data : "");
    }
    cr_assert_eq(c, conflicted, "get %s: conflicted is %d", k, c);
    lt_buf_free(&b);
}

static unsigned s_nheads(s_node_t *n, const char *k)
{
    lt_heads_t h = LT_HEADS_INIT;
    lt_buf_t storage = LT_BUF_INIT;
    lt_err_t rc = lt_kvstore_inspect(n->st, s_b(k), strlen(k), &h, &storage);
    unsigned count = rc == LT_OK ? h.n : 0;
    cr_assert(rc == LT_OK || rc == LT_ENOTFOUND, "inspect %s: %s", k, lt_errname(rc));
    lt_heads_free(&h);
    lt_buf_free(&storage);
    return count;
}

static void s_exchange(s_node_t *from, s_node_t *to)
{
    lt_test_node_exchange(from, to);
}

/* ---- single node ---- */

Test(kv_state, a_put_is_readable_at_once_and_after_commit)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_MEM, S_T0);
    s_put(n, "greeting", "hello");
    s_expect(n, "greeting", "hello", false);
    s_commit(n);
    s_expect(n, "greeting", "hello", false);
    cr_assert_eq(s_nheads(n, "greeting"), 1);
    cr_assert_eq(lt_store_witnessed_count(n->st), 1);
}

Test(kv_state, a_missing_key_is_not_found)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_MEM, S_T0);
    s_expect(n, "nothing", NULL, false);
    lt_heads_t h = LT_HEADS_INIT;
    lt_buf_t storage = LT_BUF_INIT;
    cr_assert_eq(lt_kvstore_inspect(n->st, s_b("nothing"), 7, &h, &storage), LT_ENOTFOUND);
    lt_heads_free(&h);
    lt_buf_free(&storage);
}

Test(kv_state, an_empty_value_is_a_value)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_MEM, S_T0);
    s_put(n, "empty", "");
    s_commit(n);
    s_expect(n, "empty", "", false);
}

Test(kv_state, a_second_put_by_the_same_node_replaces_the_first)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_MEM, S_T0);
    s_put(n, "k", "one");
    s_commit(n);
    n->clock++;
    s_put(n, "k", "two");
    s_commit(n);
    s_expect(n, "k", "two", false);
    cr_assert_eq(s_nheads(n, "k"), 1, "the second put cites the first: one head");
    /* Also within one commit group and within one millisecond. */
    s_put(n, "k", "three");
    s_put(n, "k", "four");
    s_commit(n);
    s_expect(n, "k", "four", false);
    cr_assert_eq(s_nheads(n, "k"), 1);
}

Test(kv_state, a_write_to_another_key_in_between_does_not_matter)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_MEM, S_T0);
    s_put(n, "k", "one");
    s_put(n, "other", "x");
    s_put(n, "k", "two");
    s_commit(n);
    s_expect(n, "k", "two", false);
    cr_assert_eq(s_nheads(n, "k"), 1);
}

Test(kv_state, a_delete_hides_the_key_and_leaves_a_tombstone_head)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_MEM, S_T0);
    s_put(n, "k", "v");
    s_commit(n);
    n->clock++;
    lt_hash_t d = s_del(n, "k");
    s_commit(n);
    s_expect(n, "k", NULL, false);
    lt_heads_t h = LT_HEADS_INIT;
    lt_buf_t storage = LT_BUF_INIT;
    cr_assert_eq(lt_kvstore_inspect(n->st, s_b("k"), 1, &h, &storage), LT_OK);
    cr_assert_eq(h.n, 1, "the delete cites the put: one head, got %u", h.n);
    cr_assert(h.v[0].tombstone);
    cr_assert(lt_hash_eq(&h.v[0].hash, &d));
    lt_heads_free(&h);
    lt_buf_free(&storage);
    /* A put after the delete brings the key back. */
    n->clock++;
    s_put(n, "k", "back");
    s_commit(n);
    s_expect(n, "k", "back", false);
    cr_assert_eq(s_nheads(n, "k"), 1);
}

Test(kv_state, a_delete_of_a_missing_key_is_harmless)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_MEM, S_T0);
    s_del(n, "never");
    s_commit(n);
    s_expect(n, "never", NULL, false);
}

Test(kv_state, a_batch_is_one_intention_for_all_its_entries)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_MEM, S_T0);
    s_put(n, "doomed", "x");
    s_commit(n);
    lt_kv_entry_t e[] = {
        {{s_b("a"), 1}, {s_b("1"), 1}, false},
        {{s_b("b"), 1}, {s_b("2"), 1}, false},
        {{s_b("doomed"), 6}, {NULL, 0}, true},
    };
    lt_hash_t h;
    cr_assert_eq(lt_kvstore_batch(n->st, e, 3, &h), LT_OK);
    s_commit(n);
    cr_assert_eq(lt_store_witnessed_count(n->st), 2, "one intention for the whole batch");
    s_expect(n, "a", "1", false);
    s_expect(n, "b", "2", false);
    s_expect(n, "doomed", NULL, false);
    lt_heads_t hd = LT_HEADS_INIT;
    lt_buf_t storage = LT_BUF_INIT;
    cr_assert_eq(lt_kvstore_inspect(n->st, s_b("a"), 1, &hd, &storage), LT_OK);
    cr_assert(lt_hash_eq(&hd.v[0].hash, &h), "every key's head is the batch intention");
    lt_heads_free(&hd);
    lt_buf_free(&storage);
}

Test(kv_state, a_key_repeated_in_a_batch_keeps_its_last_op)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_MEM, S_T0);
    s_put(n, "d", "old");
    s_commit(n);
    lt_kv_entry_t e[] = {
        {{s_b("a"), 1}, {s_b("1"), 1}, false},   {{s_b("b"), 1}, {s_b("2"), 1}, false},
        {{s_b("a"), 1}, {s_b("3"), 1}, false},   {{s_b("c"), 1}, {s_b("x"), 1}, false},
        {{s_b("c"), 1}, {NULL, 0}, true},        {{s_b("d"), 1}, {NULL, 0}, true},
        {{s_b("d"), 1}, {s_b("new"), 3}, false}, {{s_b("a"), 1}, {s_b("last"), 4}, false},
    };
    cr_assert_eq(lt_kvstore_batch(n->st, e, sizeof e / sizeof *e, NULL), LT_OK);
    s_commit(n);
    s_expect(n, "a", "last", false);
    s_expect(n, "b", "2", false);
    s_expect(n, "c", NULL, false);
    s_expect(n, "d", "new", false);
    cr_assert_eq(s_nheads(n, "a"), 1, "a repeated key is one head, not one per op");
    cr_assert_eq(s_nheads(n, "d"), 1);
}

Test(kv_state, empty_keys_and_empty_batches_are_refused)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_MEM, S_T0);
    cr_assert_eq(lt_kvstore_put(n->st, s_b(""), 0, s_b("v"), 1, NULL), LT_EINVAL);
    cr_assert_eq(lt_kvstore_batch(n->st, NULL, 0, NULL), LT_EINVAL);
    lt_kv_entry_t e[] = {{{s_b("ok"), 2}, {s_b("1"), 1}, false}, {{s_b(""), 0}, {NULL, 0}, true}};
    cr_assert_eq(lt_kvstore_batch(n->st, e, 2, NULL), LT_EINVAL);
    s_commit(n);
    cr_assert_eq(lt_store_witnessed_count(n->st), 0, "a refused write writes nothing");
    s_expect(n, "ok", NULL, false);
}

Test(kv_state, kv_calls_on_a_log_store_are_refused)
{
    s_node_t *n = &s_nodes[0];
    lt_test_identity(&n->id, 1);
    n->clock = S_T0;
    n->db = lt_test_db_open(LT_TEST_MEM, &n->id, &n->clock, &n->dir);
    cr_assert_eq(lt_store_create(n->db, "core:logstore", NULL, &n->st), LT_OK);
    cr_assert_eq(lt_kvstore_put(n->st, s_b("k"), 1, s_b("v"), 1, NULL), LT_ETYPE);
    lt_buf_t b = LT_BUF_INIT;
    cr_assert_eq(lt_kvstore_get(n->st, s_b("k"), 1, &b, NULL), LT_ETYPE);
    lt_buf_free(&b);
}

/* ---- listing ---- */

typedef struct {
    char keys[16][32];
    char values[16][32];
    bool conflicted[16];
    unsigned n;
} s_listing_t;

static lt_err_t s_list_fn(void *ctx, const uint8_t *key, size_t klen, const lt_heads_t *heads)
{
    s_listing_t *l = ctx;
    cr_assert_lt(l->n, 16);
    snprintf(l->keys[l->n], sizeof l->keys[0], "%.*s", (int)klen, (const char *)key);
    if (heads->v[0].tombstone)
        snprintf(l->values[l->n], sizeof l->values[0], "<deleted>");
    else
        snprintf(l->values[l->n], sizeof l->values[0], "%.*s", (int)heads->v[0].value.len,
                 (const char *)heads->v[0].value.p);
    l->conflicted[l->n] = heads->n > 1;
    l->n++;
    return LT_OK;
}

static void s_list(s_node_t *n, const char *prefix, s_listing_t *l)
{
    memset(l, 0, sizeof *l);
    cr_assert_eq(lt_kvstore_list(n->st, s_b(prefix), strlen(prefix), s_list_fn, l), LT_OK);
}

Test(kv_state, list_returns_the_keys_with_a_prefix_in_key_order)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_MEM, S_T0);
    s_put(n, "user/carol", "3");
    s_put(n, "user/alice", "1");
    s_put(n, "users", "not under user/");
    s_put(n, "user/bob", "2");
    s_put(n, "user/dave", "4");
    s_put(n, "group/x", "g");
    s_commit(n);
    s_del(n, "user/dave");
    s_commit(n);

    s_listing_t l;
    s_list(n, "user/", &l);
    cr_assert_eq(l.n, 3, "deleted keys are skipped: got %u keys", l.n);
    cr_assert_str_eq(l.keys[0], "user/alice");
    cr_assert_str_eq(l.keys[1], "user/bob");
    cr_assert_str_eq(l.keys[2], "user/carol");
    cr_assert_str_eq(l.values[0], "1");
    cr_assert_str_eq(l.values[2], "3");
    for (unsigned i = 0; i < l.n; i++)
        cr_assert_not(l.conflicted[i]);

    s_list(n, "", &l);
    cr_assert_eq(l.n, 5);
    cr_assert_str_eq(l.keys[0], "group/x");
    cr_assert_str_eq(l.keys[4], "users");

    s_list(n, "zzz", &l);
    cr_assert_eq(l.n, 0);
}

static lt_err_t s_stop_fn(void *ctx, const uint8_t *key, size_t klen, const lt_heads_t *heads)
{
    (void)key;
    (void)klen;
    (void)heads;
    (*(int *)ctx)++;
    return LT_EFULL;
}

Test(kv_state, list_stops_when_the_callback_says_so)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_MEM, S_T0);
    s_put(n, "a", "1");
    s_put(n, "b", "2");
    s_commit(n);
    int calls = 0;
    cr_assert_eq(lt_kvstore_list(n->st, NULL, 0, s_stop_fn, &calls), LT_EFULL);
    cr_assert_eq(calls, 1);
}

Test(kv_state, contents_survive_a_reopen_on_rocksdb)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_ROCKSDB, S_T0);
    s_put(n, "a", "1");
    s_put(n, "b", "2");
    s_commit(n);
    s_del(n, "b");
    s_put(n, "a", "11");
    s_commit(n);
    lt_db_close(&n->db);
    lt_errbuf_t eb;
    cr_assert_eq(lt_test_db_reopen(n->dir, &n->id, &n->clock, &n->db, &eb), LT_OK, "%s", eb.msg);
    n->st = lt_db_store(n->db, &s_sid);
    cr_assert_not_null(n->st);
    s_expect(n, "a", "11", false);
    s_expect(n, "b", NULL, false);
    cr_assert_eq(s_nheads(n, "a"), 1);
    n->clock++;
    s_put(n, "a", "111");
    s_commit(n);
    s_expect(n, "a", "111", false);
    cr_assert_eq(s_nheads(n, "a"), 1);
}

/* ---- two nodes ---- */

/* The intention's (HLC, author), for computing the expected winner. */
static void s_stamp(s_node_t *n, const lt_hash_t *h, lt_hlc_t *hlc, lt_pubkey_t *author)
{
    lt_buf_t b = LT_BUF_INIT;
    lt_signed_t s;
    cr_assert_eq(lt_store_get_intention(n->st, h, &b), LT_OK);
    cr_assert_eq(lt_signed_parse(b.data, b.len, &s), LT_OK);
    *hlc = s.in.hlc;
    *author = s.in.author;
    lt_buf_free(&b);
}

/* Asserts both nodes hold key k as a conflict of exactly these two heads,
 * with the same winner (the higher (HLC, author)) in the same order. */
static void s_expect_conflict(const char *k, const lt_hash_t *h1, const char *v1,
                              const lt_hash_t *h2, const char *v2)
{
    lt_hlc_t t1, t2;
    lt_pubkey_t a1, a2;
    s_stamp(&s_nodes[0], h1, &t1, &a1);
    s_stamp(&s_nodes[0], h2, &t2, &a2);
    bool first_wins = lt_hlc_author_cmp(t1, &a1, t2, &a2) > 0;
    const char *winner = first_wins ? v1 : v2;
    const lt_hash_t *wh = first_wins ? h1 : h2, *lh = first_wins ? h2 : h1;
    for (int i = 0; i < 2; i++) {
        s_node_t *n = &s_nodes[i];
        s_expect(n, k, winner, true);
        lt_heads_t hd = LT_HEADS_INIT;
        lt_buf_t storage = LT_BUF_INIT;
        cr_assert_eq(lt_kvstore_inspect(n->st, s_b(k), strlen(k), &hd, &storage), LT_OK);
        cr_assert_eq(hd.n, 2, "node %d: %u heads", i, hd.n);
        cr_assert(lt_hash_eq(&hd.v[0].hash, wh), "node %d: the winner is not head 0", i);
        cr_assert(lt_hash_eq(&hd.v[1].hash, lh), "node %d: the loser is not head 1", i);
        lt_heads_free(&hd);
        lt_buf_free(&storage);
    }
}

Test(kv_state, concurrent_puts_on_two_nodes_conflict_with_the_same_winner)
{
    s_node_open(&s_nodes[0], 1, LT_TEST_MEM, S_T0);
    s_node_open(&s_nodes[1], 2, LT_TEST_MEM, S_T0 + 5);
    lt_hash_t h1 = s_put(&s_nodes[0], "k", "from-1");
    lt_hash_t h2 = s_put(&s_nodes[1], "k", "from-2");
    s_commit(&s_nodes[0]);
    s_commit(&s_nodes[1]);
    s_exchange(&s_nodes[0], &s_nodes[1]);
    s_exchange(&s_nodes[1], &s_nodes[0]);
    s_expect_conflict("k", &h1, "from-1", &h2, "from-2");
    /* Node 2's clock is ahead: its write is the winner. */
    s_expect(&s_nodes[0], "k", "from-2", true);
}

Test(kv_state, a_tie_in_time_is_broken_by_the_author_key)
{
    s_node_open(&s_nodes[0], 1, LT_TEST_MEM, S_T0);
    s_node_open(&s_nodes[1], 2, LT_TEST_MEM, S_T0);
    lt_hash_t h1 = s_put(&s_nodes[0], "k", "from-1");
    lt_hash_t h2 = s_put(&s_nodes[1], "k", "from-2");
    s_commit(&s_nodes[0]);
    s_commit(&s_nodes[1]);
    s_exchange(&s_nodes[1], &s_nodes[0]);
    s_exchange(&s_nodes[0], &s_nodes[1]);
    lt_hlc_t t1, t2;
    lt_pubkey_t a1, a2;
    s_stamp(&s_nodes[0], &h1, &t1, &a1);
    s_stamp(&s_nodes[0], &h2, &t2, &a2);
    cr_assert_eq(lt_hlc_cmp(t1, t2), 0, "the test needs equal timestamps");
    s_expect_conflict("k", &h1, "from-1", &h2, "from-2");
    const char *expect = lt_pubkey_cmp(&a1, &a2) > 0 ? "from-1" : "from-2";
    s_expect(&s_nodes[1], "k", expect, true);
}

Test(kv_state, a_put_that_saw_both_heads_resolves_the_conflict)
{
    s_node_open(&s_nodes[0], 1, LT_TEST_MEM, S_T0);
    s_node_open(&s_nodes[1], 2, LT_TEST_MEM, S_T0 + 5);
    lt_hash_t h1 = s_put(&s_nodes[0], "k", "from-1");
    lt_hash_t h2 = s_put(&s_nodes[1], "k", "from-2");
    s_commit(&s_nodes[0]);
    s_commit(&s_nodes[1]);
    s_exchange(&s_nodes[0], &s_nodes[1]);
    s_exchange(&s_nodes[1], &s_nodes[0]);
    s_expect_conflict("k", &h1, "from-1", &h2, "from-2");

    /* Node 1 resolves; its clock is behind node 2's write, yet it wins
     * because it cites both heads. */
    lt_hash_t r = s_put(&s_nodes[0], "k", "resolved");
    s_commit(&s_nodes[0]);
    lt_buf_t b = LT_BUF_INIT;
    lt_signed_t s;
    cr_assert_eq(lt_store_get_intention(s_nodes[0].st, &r, &b), LT_OK);
    cr_assert_eq(lt_signed_parse(b.data, b.len, &s), LT_OK);
    bool cites1 = lt_hash_eq(&s.in.store_prev, &h1), cites2 = false;
    for (unsigned i = 0; i < s.in.ndeps; i++) {
        cites1 |= lt_hash_eq(&s.in.deps[i], &h1);
        cites2 |= lt_hash_eq(&s.in.deps[i], &h2);
    }
    cr_assert(cites1 && cites2, "the resolving write cites both heads");
    lt_buf_free(&b);

    s_exchange(&s_nodes[0], &s_nodes[1]);
    for (int i = 0; i < 2; i++) {
        s_expect(&s_nodes[i], "k", "resolved", false);
        cr_assert_eq(s_nheads(&s_nodes[i], "k"), 1, "node %d: heads after the resolution", i);
    }
}

Test(kv_state, a_delete_concurrent_with_a_put_is_a_listed_conflict)
{
    s_node_open(&s_nodes[0], 1, LT_TEST_MEM, S_T0);
    s_node_open(&s_nodes[1], 2, LT_TEST_MEM, S_T0);
    s_put(&s_nodes[0], "k", "base");
    s_commit(&s_nodes[0]);
    s_exchange(&s_nodes[0], &s_nodes[1]);
    s_nodes[0].clock += 10; /* the delete is later: it wins */
    s_del(&s_nodes[0], "k");
    s_put(&s_nodes[1], "k", "kept");
    s_commit(&s_nodes[0]);
    s_commit(&s_nodes[1]);
    s_exchange(&s_nodes[0], &s_nodes[1]);
    s_exchange(&s_nodes[1], &s_nodes[0]);
    for (int i = 0; i < 2; i++) {
        s_node_t *n = &s_nodes[i];
        s_expect(n, "k", NULL, true);
        cr_assert_eq(s_nheads(n, "k"), 2, "node %d: the base is cited by both", i);
        s_listing_t l;
        s_list(n, "", &l);
        cr_assert_eq(l.n, 1, "a conflicted deleted key is listed");
        cr_assert_str_eq(l.values[0], "<deleted>");
        cr_assert(l.conflicted[0]);
    }
}

Test(kv_state, three_nodes_converge_whatever_the_delivery_order)
{
    for (int i = 0; i < 3; i++)
        s_node_open(&s_nodes[i], (uint8_t)(i + 1), LT_TEST_MEM, S_T0 + (uint64_t)i);
    lt_hash_t h[3];
    const char *vals[3] = {"v1", "v2", "v3"};
    for (int i = 0; i < 3; i++) {
        h[i] = s_put(&s_nodes[i], "k", vals[i]);
        s_commit(&s_nodes[i]);
    }
    (void)h;
    s_exchange(&s_nodes[2], &s_nodes[0]);
    s_exchange(&s_nodes[1], &s_nodes[0]);
    s_exchange(&s_nodes[0], &s_nodes[1]);
    s_exchange(&s_nodes[0], &s_nodes[2]);
    for (int i = 0; i < 3; i++) {
        s_expect(&s_nodes[i], "k", "v3", true);
        cr_assert_eq(s_nheads(&s_nodes[i], "k"), 3);
    }
}

/* ---- watch ---- */

typedef struct {
    unsigned n;
    char key[16][32];
    char value[16][32];
    bool deleted[16];
    bool conflicted[16];
} s_watch_t;

static void s_watch_fn(void *ctx, const lt_event_t *ev)
{
    s_watch_t *w = ctx;
    cr_assert_eq(ev->kind, LT_EV_KV);
    cr_assert_lt(w->n, 16);
    snprintf(w->key[w->n], sizeof w->key[0], "%.*s", (int)ev->klen, (const char *)ev->key);
    snprintf(w->value[w->n], sizeof w->value[0], "%.*s", (int)ev->vlen,
             ev->value ? (const char *)ev->value : "");
    w->deleted[w->n] = ev->deleted;
    w->conflicted[w->n] = ev->conflicted;
    w->n++;
}

Test(kv_state, watch_events_arrive_after_commit_for_matching_keys_only)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_MEM, S_T0);
    s_node_open(&s_nodes[1], 2, LT_TEST_MEM, S_T0 + 5);
    static s_watch_t w, other;
    lt_sub_filter_t f = {
        .store = s_sid, .kinds = 1u << LT_EV_KV, .prefix = s_b("user/"), .plen = 5};
    unsigned id;
    cr_assert_eq(lt_db_subscribe(n->db, &f, s_watch_fn, &w, &id), LT_OK);
    lt_store_id_t elsewhere = s_sid;
    elsewhere.b[15] ^= 1;
    lt_sub_filter_t fo = {.store = elsewhere, .kinds = 1u << LT_EV_KV};
    unsigned oid;
    cr_assert_eq(lt_db_subscribe(n->db, &fo, s_watch_fn, &other, &oid), LT_OK);

    s_put(n, "user/a", "1");
    s_put(n, "other/b", "2");
    lt_kv_entry_t e[] = {{{s_b("user/c"), 6}, {s_b("3"), 1}, false},
                         {{s_b("use"), 3}, {s_b("4"), 1}, false}};
    cr_assert_eq(lt_kvstore_batch(n->st, e, 2, NULL), LT_OK);
    cr_assert_eq(w.n, 0, "events before the commit");
    s_commit(n);
    cr_assert_eq(w.n, 2, "got %u events", w.n);
    cr_assert_str_eq(w.key[0], "user/a");
    cr_assert_str_eq(w.value[0], "1");
    cr_assert_str_eq(w.key[1], "user/c");
    cr_assert_str_eq(w.value[1], "3");
    cr_assert_eq(other.n, 0, "a subscription to another store got events");

    /* An aborted write sends nothing. */
    s_put(n, "user/aborted", "x");
    lt_db_abort(n->db);
    s_commit(n);
    cr_assert_eq(w.n, 2);

    /* Deletes, and writes that arrive from another node. */
    n->clock += 10;
    s_del(n, "user/a");
    s_commit(n);
    cr_assert_eq(w.n, 3);
    cr_assert_str_eq(w.key[2], "user/a");
    cr_assert(w.deleted[2]);
    s_put(&s_nodes[1], "user/c", "remote");
    s_commit(&s_nodes[1]);
    s_exchange(&s_nodes[1], n);
    cr_assert_eq(w.n, 4);
    cr_assert_str_eq(w.key[3], "user/c");
    cr_assert_str_eq(w.value[3], "remote", "the event carries the winner");
    cr_assert(w.conflicted[3]);

    lt_db_unsubscribe(n->db, id);
    s_put(n, "user/z", "after");
    s_commit(n);
    cr_assert_eq(w.n, 4, "an event after unsubscribe");
    cr_assert_eq(other.n, 0);
}
