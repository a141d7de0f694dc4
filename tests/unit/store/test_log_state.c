/* core:logstore (store/log_state.h): append, read all or the last N in
 * (HLC, author) order, appends that share a millisecond, merging the logs of
 * two nodes, and follow events. Nodes run on virtual clocks. */
#include "store/kv_state.h"
#include "store/log_state.h"
#include "support/testutil.h"

#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#define S_T0 1700000000000ull

static const lt_store_id_t s_sid = {{0x10, 0x67, 0x57, 0x74, 0x6f, 0x72, 0x40, 0x02, 0x80, 0x01,
                                     0x02, 0x03, 0x04, 0x05, 0x06, 0x07}};

typedef lt_test_node_t s_node_t;

static s_node_t s_nodes[2];

static void s_node_open(s_node_t *n, uint8_t seed, lt_test_backend_t backend, uint64_t t0)
{
    lt_test_node_open(n, seed, backend, t0, "core:logstore", &s_sid);
}

static void s_teardown(void)
{
    for (size_t i = 0; i < sizeof s_nodes / sizeof *s_nodes; i++)
        lt_test_node_close(&s_nodes[i]);
}

TestSuite(log_state, .fini = s_teardown, .timeout = 60);

static lt_hash_t s_append(s_node_t *n, const char *text)
{
    lt_hash_t h;
    lt_err_t rc = lt_logstore_append(n->st, (const uint8_t *)text, strlen(text), &h);
    cr_assert_eq(rc, LT_OK, "append: %s: %s", lt_errname(rc), lt_db_errmsg(n->db));
    return h;
}

static void s_commit(s_node_t *n)
{
    lt_err_t rc = lt_db_commit(n->db);
    cr_assert_eq(rc, LT_OK, "commit: %s: %s", lt_errname(rc), lt_db_errmsg(n->db));
}

#define S_MAX 64

typedef struct {
    unsigned n;
    char text[S_MAX][32];
    lt_hlc_t hlc[S_MAX];
    lt_pubkey_t author[S_MAX];
    lt_hash_t hash[S_MAX];
} s_read_t;

static lt_err_t s_read_fn(void *ctx, lt_hlc_t hlc, const lt_pubkey_t *author, const lt_hash_t *hash,
                          const uint8_t *text, size_t len)
{
    s_read_t *r = ctx;
    cr_assert_lt(r->n, S_MAX);
    snprintf(r->text[r->n], sizeof r->text[0], "%.*s", (int)len, (const char *)text);
    r->hlc[r->n] = hlc;
    r->author[r->n] = *author;
    r->hash[r->n] = *hash;
    r->n++;
    return LT_OK;
}

static void s_read(s_node_t *n, uint64_t tail, s_read_t *r)
{
    memset(r, 0, sizeof *r);
    lt_err_t rc = lt_logstore_read(n->st, tail, s_read_fn, r);
    cr_assert_eq(rc, LT_OK, "read: %s", lt_errname(rc));
}

/* Every entry strictly after the one before it in (HLC, author) order. */
static void s_assert_ordered(const s_read_t *r)
{
    for (unsigned i = 1; i < r->n; i++)
        cr_assert_lt(lt_hlc_author_cmp(r->hlc[i - 1], &r->author[i - 1], r->hlc[i], &r->author[i]),
                     0, "entries %u and %u are out of order", i - 1, i);
}

Test(log_state, appends_are_read_back_in_order)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_MEM, S_T0);
    const char *texts[] = {"one", "two", "three", "four"};
    lt_hash_t h[4];
    for (int i = 0; i < 4; i++) {
        n->clock += 3;
        h[i] = s_append(n, texts[i]);
    }
    s_commit(n);
    s_read_t r;
    s_read(n, 0, &r);
    cr_assert_eq(r.n, 4);
    for (int i = 0; i < 4; i++) {
        cr_assert_str_eq(r.text[i], texts[i]);
        cr_assert(lt_hash_eq(&r.hash[i], &h[i]), "entry %d: wrong hash", i);
        cr_assert_eq(lt_pubkey_cmp(&r.author[i], &n->id.pk), 0);
    }
    s_assert_ordered(&r);
    cr_assert_eq(r.hlc[0].wall_ms, S_T0 + 3);
}

Test(log_state, reads_see_committed_entries)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_MEM, S_T0);
    s_read_t r;
    s_read(n, 0, &r);
    cr_assert_eq(r.n, 0, "an empty log reads as nothing");
    s_read(n, 3, &r);
    cr_assert_eq(r.n, 0, "the tail of an empty log is nothing");
    s_append(n, "a");
    s_commit(n);
    s_read(n, 0, &r);
    cr_assert_eq(r.n, 1);
}

Test(log_state, tail_returns_the_last_n_entries)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_MEM, S_T0);
    char t[16];
    for (int i = 0; i < 10; i++) {
        n->clock++;
        snprintf(t, sizeof t, "e%d", i);
        s_append(n, t);
    }
    s_commit(n);
    s_read_t r;
    s_read(n, 1, &r);
    cr_assert_eq(r.n, 1);
    cr_assert_str_eq(r.text[0], "e9");
    s_read(n, 3, &r);
    cr_assert_eq(r.n, 3);
    cr_assert_str_eq(r.text[0], "e7");
    cr_assert_str_eq(r.text[1], "e8");
    cr_assert_str_eq(r.text[2], "e9");
    s_read(n, 10, &r);
    cr_assert_eq(r.n, 10, "tail N = count is everything");
    cr_assert_str_eq(r.text[0], "e0");
    s_read(n, 25, &r);
    cr_assert_eq(r.n, 10, "tail N > count is everything");
    cr_assert_str_eq(r.text[0], "e0");
    cr_assert_str_eq(r.text[9], "e9");
    s_read(n, 0, &r);
    cr_assert_eq(r.n, 10, "tail 0 means all");
}

Test(log_state, the_tail_does_not_reach_into_another_store)
{
    /* Two log stores in one db whose rows are adjacent in the table. */
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_MEM, S_T0);
    lt_store_id_t before = s_sid, after = s_sid;
    before.b[15]--;
    after.b[15]++;
    lt_store_t *sb, *sa;
    cr_assert_eq(lt_store_create(n->db, "core:logstore", &before, &sb), LT_OK);
    cr_assert_eq(lt_store_create(n->db, "core:logstore", &after, &sa), LT_OK);
    cr_assert_eq(lt_logstore_append(sb, (const uint8_t *)"b1", 2, NULL), LT_OK);
    cr_assert_eq(lt_logstore_append(sa, (const uint8_t *)"a1", 2, NULL), LT_OK);
    s_append(n, "mine1");
    s_append(n, "mine2");
    s_commit(n);
    s_read_t r;
    s_read(n, 5, &r);
    cr_assert_eq(r.n, 2);
    cr_assert_str_eq(r.text[0], "mine1");
    cr_assert_str_eq(r.text[1], "mine2");
    s_read(n, 0, &r);
    cr_assert_eq(r.n, 2);
}

Test(log_state, two_appends_in_one_millisecond_are_both_kept_in_order)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_MEM, S_T0); /* the clock never moves */
    lt_hash_t a = s_append(n, "first");
    lt_hash_t b = s_append(n, "second");
    s_commit(n);
    lt_hash_t c = s_append(n, "third"); /* next commit, same millisecond */
    s_commit(n);
    s_read_t r;
    s_read(n, 0, &r);
    cr_assert_eq(r.n, 3, "an append in the same millisecond was lost");
    cr_assert_str_eq(r.text[0], "first");
    cr_assert_str_eq(r.text[1], "second");
    cr_assert_str_eq(r.text[2], "third");
    cr_assert(lt_hash_eq(&r.hash[0], &a) && lt_hash_eq(&r.hash[1], &b) &&
              lt_hash_eq(&r.hash[2], &c));
    for (unsigned i = 0; i < 3; i++)
        cr_assert_eq(r.hlc[i].wall_ms, S_T0);
    s_assert_ordered(&r);
    cr_assert_lt(r.hlc[0].counter, r.hlc[1].counter);
}

Test(log_state, the_clock_never_goes_back_across_a_reopen)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_ROCKSDB, S_T0);
    s_append(n, "before");
    s_commit(n);
    lt_db_close(&n->db);
    n->clock = S_T0 - 1000; /* the wall clock stepped back */
    lt_errbuf_t eb;
    cr_assert_eq(lt_test_db_reopen(n->dir, &n->id, &n->clock, &n->db, &eb), LT_OK, "%s", eb.msg);
    n->st = lt_db_store(n->db, &s_sid);
    cr_assert_not_null(n->st);
    s_append(n, "after");
    s_commit(n);
    s_read_t r;
    s_read(n, 0, &r);
    cr_assert_eq(r.n, 2);
    cr_assert_str_eq(r.text[0], "before");
    cr_assert_str_eq(r.text[1], "after");
}

Test(log_state, logs_of_two_nodes_merge_in_the_same_order)
{
    s_node_open(&s_nodes[0], 1, LT_TEST_MEM, S_T0);
    s_node_open(&s_nodes[1], 2, LT_TEST_MEM, S_T0);
    char t[16];
    /* Interleaved clocks, with ties in time between the nodes. */
    for (int i = 0; i < 6; i++) {
        s_node_t *n = &s_nodes[i % 2];
        n->clock += (uint64_t)(i % 3);
        snprintf(t, sizeof t, "n%d-%d", i % 2, i);
        s_append(n, t);
        s_commit(n);
    }
    for (int from = 0; from < 2; from++) {
        s_node_t *src = &s_nodes[from], *dst = &s_nodes[1 - from];
        s_read_t r;
        s_read(src, 0, &r);
        for (unsigned i = 0; i < r.n; i++) {
            if (lt_pubkey_cmp(&r.author[i], &src->id.pk) != 0)
                continue;
            lt_buf_t b = LT_BUF_INIT;
            cr_assert_eq(lt_store_get_intention(src->st, &r.hash[i], &b), LT_OK);
            lt_ingest_result_t res;
            cr_assert_eq(lt_store_ingest(dst->st, b.data, b.len, &res), LT_OK);
            lt_buf_free(&b);
        }
        s_commit(dst);
    }
    s_read_t r0, r1;
    s_read(&s_nodes[0], 0, &r0);
    s_read(&s_nodes[1], 0, &r1);
    cr_assert_eq(r0.n, 6);
    cr_assert_eq(r1.n, 6);
    s_assert_ordered(&r0);
    for (unsigned i = 0; i < 6; i++) {
        cr_assert_str_eq(r0.text[i], r1.text[i], "entry %u differs between the nodes", i);
        cr_assert(lt_hash_eq(&r0.hash[i], &r1.hash[i]));
    }
    s_read(&s_nodes[1], 2, &r1);
    cr_assert_eq(r1.n, 2);
    cr_assert_str_eq(r1.text[0], r0.text[4]);
}

typedef struct {
    unsigned n;
    char text[8][16];
    lt_hash_t hash[8];
} s_follow_t;

static void s_follow_fn(void *ctx, const lt_event_t *ev)
{
    s_follow_t *f = ctx;
    cr_assert_eq(ev->kind, LT_EV_LOG);
    cr_assert_lt(f->n, 8);
    snprintf(f->text[f->n], sizeof f->text[0], "%.*s", (int)ev->vlen, (const char *)ev->value);
    f->hash[f->n] = ev->hash;
    f->n++;
}

Test(log_state, follow_events_arrive_after_commit)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_MEM, S_T0);
    s_node_open(&s_nodes[1], 2, LT_TEST_MEM, S_T0);
    static s_follow_t f;
    lt_sub_filter_t filter = {.store = s_sid, .kinds = 1u << LT_EV_LOG};
    unsigned id;
    cr_assert_eq(lt_db_subscribe(n->db, &filter, s_follow_fn, &f, &id), LT_OK);
    lt_hash_t a = s_append(n, "alpha");
    n->clock++;
    s_append(n, "beta");
    cr_assert_eq(f.n, 0, "events before commit");
    s_commit(n);
    cr_assert_eq(f.n, 2);
    cr_assert_str_eq(f.text[0], "alpha");
    cr_assert_str_eq(f.text[1], "beta");
    cr_assert(lt_hash_eq(&f.hash[0], &a));

    /* A remote append is followed too. */
    lt_hash_t rh = s_append(&s_nodes[1], "remote");
    s_commit(&s_nodes[1]);
    lt_buf_t b = LT_BUF_INIT;
    cr_assert_eq(lt_store_get_intention(s_nodes[1].st, &rh, &b), LT_OK);
    cr_assert_eq(lt_store_ingest(n->st, b.data, b.len, NULL), LT_OK);
    lt_buf_free(&b);
    cr_assert_eq(f.n, 2);
    s_commit(n);
    cr_assert_eq(f.n, 3);
    cr_assert_str_eq(f.text[2], "remote");

    lt_db_unsubscribe(n->db, id);
    s_append(n, "unheard");
    s_commit(n);
    cr_assert_eq(f.n, 3);
}

Test(log_state, kv_and_log_calls_are_refused_on_the_wrong_store_type)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_MEM, S_T0);
    cr_assert_eq(lt_kvstore_put(n->st, (const uint8_t *)"k", 1, (const uint8_t *)"v", 1, NULL),
                 LT_ETYPE);
    lt_store_t *kv;
    cr_assert_eq(lt_store_create(n->db, "core:kvstore", NULL, &kv), LT_OK);
    cr_assert_eq(lt_logstore_append(kv, (const uint8_t *)"x", 1, NULL), LT_ETYPE);
    s_read_t r;
    cr_assert_eq(lt_logstore_read(kv, 0, s_read_fn, &r), LT_ETYPE);
}

Test(log_state, an_empty_entry_is_kept)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_MEM, S_T0);
    s_append(n, "");
    s_commit(n);
    s_read_t r;
    s_read(n, 0, &r);
    cr_assert_eq(r.n, 1);
    cr_assert_str_eq(r.text[0], "");
}
