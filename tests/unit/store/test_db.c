/* The node database around the stores: failed writes inside a commit group,
 * event delivery to subscribers that write back, store removal, and what the
 * pending transaction keeps in memory. */
#include "store/kv_state.h"
#include "store/store.h"
#include "store/tables.h"
#include "support/testutil.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static lt_identity_t s_id;
static uint64_t s_clock = 1700000000000ull;
static lt_db_t *s_db;
static char *s_dir;

static void s_setup(void)
{
    lt_test_identity(&s_id, 7);
    s_db = lt_test_db_open(LT_TEST_MEM, &s_id, &s_clock, &s_dir);
}

static void s_teardown(void)
{
    lt_db_close(&s_db);
    lt_test_rmtree(&s_dir);
}

TestSuite(db, .init = s_setup, .fini = s_teardown, .timeout = 60);

static const uint8_t *s_b(const char *s)
{
    return (const uint8_t *)s;
}

static lt_store_t *s_kv_store(void)
{
    lt_store_t *st;
    cr_assert_eq(lt_store_create(s_db, "core:kvstore", NULL, &st), LT_OK);
    cr_assert_eq(lt_db_commit(s_db), LT_OK);
    return st;
}

static void s_put(lt_store_t *st, const char *k, const char *v)
{
    cr_assert_eq(lt_kvstore_put(st, s_b(k), strlen(k), s_b(v), strlen(v), NULL), LT_OK,
                 "put %s: %s", k, lt_db_errmsg(s_db));
}

static bool s_has(lt_store_t *st, const char *k)
{
    return lt_kvstore_get(st, s_b(k), strlen(k), NULL, NULL) == LT_OK;
}

/* A remote intention, signed by another key, that puts k = v. */
static void s_remote_put(lt_store_t *st, uint8_t seed, const char *k, const char *v, lt_buf_t *out)
{
    lt_identity_t other;
    lt_test_identity(&other, seed);
    lt_kv_entry_t e = {{s_b(k), strlen(k)}, {s_b(v), strlen(v)}, false};
    lt_buf_t ops = LT_BUF_INIT, uop = LT_BUF_INIT;
    cr_assert_eq(lt_kvop_encode(&e, 1, &ops), LT_OK);
    cr_assert_eq(lt_uop_encode_app(ops.data, ops.len, &uop), LT_OK);
    lt_intention_t in = {.version = LT_INTENTION_VERSION,
                         .author = other.pk,
                         .hlc = {s_clock, 0},
                         .store_id = *lt_store_id(st),
                         .ops_len = (uint32_t)uop.len,
                         .ops = uop.data};
    lt_hash_t h;
    cr_assert_eq(lt_intention_sign(&in, &other, out, &h), LT_OK);
    lt_buf_free(&ops);
    lt_buf_free(&uop);
}

Test(db, a_write_that_fails_halfway_discards_its_commit_group)
{
    lt_store_t *st = s_kv_store();
    s_put(st, "kept", "1");
    cr_assert_eq(lt_db_commit(s_db), LT_OK);
    uint64_t seq = lt_store_witnessed_count(st);

    /* Damage the heads row of "bad": applying a write to it fails after the
     * write's intention and witness record were staged. */
    uint8_t key[LT_STORE_ID_LEN + 4];
    memcpy(key, lt_store_id(st)->b, LT_STORE_ID_LEN);
    memcpy(key + LT_STORE_ID_LEN, "kbad", 4);
    lt_kv_op_t op = {
        .cf = LT_CF_APP, .key = key, .klen = sizeof key, .value = s_b("\x05"), .vlen = 1};
    lt_kv_batch_t batch = {&op, 1};
    cr_assert_eq(lt_kv_write(lt_db_kv(s_db), &batch, true), LT_OK);

    s_put(st, "lost", "2"); /* same group as the failing write */
    lt_buf_t bytes = LT_BUF_INIT;
    s_remote_put(st, 9, "bad", "x", &bytes);
    lt_err_t rc = lt_store_ingest(st, bytes.data, bytes.len, NULL);
    cr_assert_neq(rc, LT_OK, "applying to a corrupt row must fail");
    cr_assert_gt(strlen(lt_db_errmsg(s_db)), 0, "the failure has no message");
    /* Further writes of the group are refused, and the commit discards it. */
    cr_assert_neq(lt_kvstore_put(st, s_b("also"), 4, s_b("3"), 1, NULL), LT_OK);
    cr_assert_neq(lt_db_commit(s_db), LT_OK);
    cr_assert_eq(lt_store_witnessed_count(st), seq, "the failed group left records behind");
    cr_assert(s_has(st, "kept"));
    cr_assert_not(s_has(st, "lost"));

    /* The db works again after the failed group, and the chain is whole. */
    s_put(st, "after", "4");
    cr_assert_eq(lt_db_commit(s_db), LT_OK);
    cr_assert(s_has(st, "after"));
    cr_assert_eq(lt_store_witnessed_count(st), seq + 1);
    cr_assert_eq(lt_store_verify(st, true, NULL), LT_OK, "%s", lt_db_errmsg(s_db));
    lt_buf_free(&bytes);
}

Test(db, a_local_write_citing_an_unwitnessed_intention_is_refused_and_stages_nothing)
{
    lt_store_t *st = s_kv_store();
    s_put(st, "a", "1");
    cr_assert_eq(lt_db_commit(s_db), LT_OK);
    lt_hash_t ghost;
    memset(ghost.b, 0x42, sizeof ghost.b);
    lt_buf_t uop = LT_BUF_INIT;
    cr_assert_eq(lt_uop_encode_app(s_b("x"), 1, &uop), LT_OK);
    lt_err_t rc = lt_store_write(st, uop.data, uop.len, &ghost, 1, NULL);
    cr_assert_eq(rc, LT_ENOTFOUND, "got %s", lt_errname(rc));
    cr_assert(strstr(lt_db_errmsg(s_db), "not witnessed"), "message: %s", lt_db_errmsg(s_db));
    s_put(st, "b", "2");
    cr_assert_eq(lt_db_commit(s_db), LT_OK);
    unsigned forks = 99;
    cr_assert_eq(lt_store_forks(st, NULL, NULL, &forks), LT_OK);
    cr_assert_eq(forks, 0, "our own chain forked");
    uint64_t floating = 99;
    cr_assert_eq(lt_store_floating_count(st, &floating), LT_OK);
    cr_assert_eq(floating, 0);
    lt_buf_free(&uop);
}

/* A subscriber that writes and commits from inside its callback. */
typedef struct {
    lt_store_t *st;
    unsigned seen[8];
    unsigned nseen;
    unsigned writes_left;
} s_writer_t;

static void s_writer_cb(void *ctx, const lt_event_t *ev)
{
    s_writer_t *w = ctx;
    if (ev->kind != LT_EV_KV)
        return;
    cr_assert_lt(w->nseen, 8, "too many events: delivered twice?");
    w->seen[w->nseen++] = ev->value ? ev->value[0] : 0;
    if (w->writes_left) {
        w->writes_left--;
        char v[2] = {(char)('0' + w->nseen), 0};
        s_put(w->st, "echo", v);
        cr_assert_eq(lt_db_commit(s_db), LT_OK);
    }
}

typedef struct {
    unsigned n;
    char last[16];
} s_reader_t;

static void s_reader_cb(void *ctx, const lt_event_t *ev)
{
    s_reader_t *r = ctx;
    if (ev->kind != LT_EV_KV)
        return;
    r->n++;
    /* Reading the event after another subscriber wrote must still be valid. */
    snprintf(r->last, sizeof r->last, "%.*s", (int)ev->klen, (const char *)ev->key);
}

Test(db, subscribers_that_write_and_commit_get_every_event_once_in_order)
{
    lt_store_t *st = s_kv_store();
    s_writer_t w = {.st = st, .writes_left = 2};
    s_reader_t r = {0};
    unsigned wid, rid;
    cr_assert_eq(lt_db_subscribe(s_db, NULL, s_writer_cb, &w, &wid), LT_OK);
    cr_assert_eq(lt_db_subscribe(s_db, NULL, s_reader_cb, &r, &rid), LT_OK);
    s_put(st, "a", "A");
    s_put(st, "b", "B");
    cr_assert_eq(lt_db_commit(s_db), LT_OK);
    /* a, b, then the two echoes written from the callbacks, each once. */
    cr_assert_eq(w.nseen, 4, "writer saw %u events", w.nseen);
    cr_assert_eq(w.seen[0], 'A');
    cr_assert_eq(w.seen[1], 'B');
    cr_assert_eq(w.seen[2], '1');
    cr_assert_eq(w.seen[3], '2');
    cr_assert_eq(r.n, 4, "reader saw %u events", r.n);
    cr_assert_str_eq(r.last, "echo");
    lt_db_unsubscribe(s_db, wid);
    lt_db_unsubscribe(s_db, rid);
}

typedef struct {
    unsigned *other_id;
    unsigned n;
} s_unsub_t;

static void s_unsub_cb(void *ctx, const lt_event_t *ev)
{
    (void)ev;
    s_unsub_t *u = ctx;
    u->n++;
    if (u->other_id)
        lt_db_unsubscribe(s_db, *u->other_id);
}

Test(db, unsubscribing_during_delivery_skips_only_the_removed_subscriber)
{
    lt_store_t *st = s_kv_store();
    unsigned id_b = 0, id_a, id_c;
    s_unsub_t a = {&id_b, 0}, b = {NULL, 0}, c = {NULL, 0};
    lt_sub_filter_t kv_only = {.any_store = true, .kinds = 1u << LT_EV_KV};
    cr_assert_eq(lt_db_subscribe(s_db, &kv_only, s_unsub_cb, &a, &id_a), LT_OK);
    cr_assert_eq(lt_db_subscribe(s_db, &kv_only, s_unsub_cb, &b, &id_b), LT_OK);
    cr_assert_eq(lt_db_subscribe(s_db, &kv_only, s_unsub_cb, &c, &id_c), LT_OK);
    s_put(st, "k", "v");
    cr_assert_eq(lt_db_commit(s_db), LT_OK);
    cr_assert_eq(a.n, 1);
    cr_assert_eq(b.n, 0, "an unsubscribed callback was called");
    cr_assert_eq(c.n, 1, "the subscriber after the removed one was skipped");
    lt_db_unsubscribe(s_db, id_a);
    lt_db_unsubscribe(s_db, id_c);
}

Test(db, a_store_removed_and_created_again_with_its_id_starts_a_fresh_chain)
{
    lt_store_t *st = s_kv_store();
    lt_store_id_t sid = *lt_store_id(st);
    s_put(st, "a", "1");
    s_put(st, "b", "2");
    cr_assert_eq(lt_db_commit(s_db), LT_OK);
    cr_assert_eq(lt_store_remove(s_db, &sid), LT_OK, "%s", lt_db_errmsg(s_db));
    cr_assert_null(lt_db_store(s_db, &sid));
    cr_assert_eq(lt_store_create(s_db, "core:kvstore", &sid, &st), LT_OK);
    cr_assert_eq(lt_store_witnessed_count(st), 0);
    cr_assert_not(s_has(st, "a"));
    s_put(st, "c", "3");
    cr_assert_eq(lt_db_commit(s_db), LT_OK);
    cr_assert_eq(lt_store_witnessed_count(st), 1);
    cr_assert_eq(lt_store_verify(st, true, NULL), LT_OK, "%s", lt_db_errmsg(s_db));
}

Test(db, duplicates_and_verification_do_not_fill_the_pending_transaction)
{
    lt_store_t *st = s_kv_store();
    static uint8_t big[100000];
    memset(big, 'v', sizeof big);
    enum { N = 40 };
    lt_buf_t copies[N];
    for (unsigned i = 0; i < N; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%u", i);
        lt_hash_t h;
        cr_assert_eq(lt_kvstore_put(st, s_b(k), strlen(k), big, sizeof big, &h), LT_OK);
        cr_assert_eq(lt_db_commit(s_db), LT_OK);
        copies[i] = (lt_buf_t)LT_BUF_INIT;
        cr_assert_eq(lt_store_get_intention(st, &h, &copies[i]), LT_OK);
    }
    cr_assert_eq(lt_db_commit(s_db), LT_OK);
    lt_ingest_result_t res;
    for (unsigned i = 0; i < N; i++) {
        cr_assert_eq(lt_store_ingest(st, copies[i].data, copies[i].len, &res), LT_OK);
        cr_assert_eq(res.status, LT_INGEST_DUPLICATE);
    }
    cr_assert_eq(lt_store_verify(st, true, NULL), LT_OK);
    /* 4 MB of intentions were read; none of it may stay in the group. */
    size_t pending = lt_db_pending_bytes(s_db);
    cr_assert_lt(pending, (size_t)64 * 1024, "the pending transaction holds %zu bytes", pending);
    cr_assert_eq(lt_db_commit(s_db), LT_OK);
    for (unsigned i = 0; i < N; i++)
        lt_buf_free(&copies[i]);
}
