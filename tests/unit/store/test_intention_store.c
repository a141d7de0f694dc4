/* The intention store (store/store.h, intention_store.c): validation on
 * ingest, duplicates, floating intentions and the witnessing cascade, author
 * tips and forks, the projection (rebuilt, or caught up after it is deleted
 * under the store), clock faults, malformed payloads, several stores in one
 * db, and recovery from a failed commit.
 *
 * Remote intentions are either written by another node (another lt_db_t with
 * its own identity) or signed here by hand with lt_intention_sign, which lets
 * a test pick store_prev, deps and timestamps freely. */
#include "store/kv_faulty.h"
#include "store/kv_state.h"
#include "store/log_state.h"
#include "store/ops_codec.h"
#include "store/system_table.h"
#include "store/tables.h"
#include "support/testutil.h"

#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_T0 1700000000000ull

static const lt_store_id_t s_sid = {{0x1a, 0x7e, 0x57, 0x74, 0x6f, 0x72, 0x40, 0x04, 0x80, 0x01,
                                     0x02, 0x03, 0x04, 0x05, 0x06, 0x07}};

typedef lt_test_node_t s_node_t;

static s_node_t s_nodes[4];

static void s_node_open(s_node_t *n, uint8_t seed, lt_test_backend_t backend, uint64_t t0)
{
    lt_test_node_open(n, seed, backend, t0, "core:kvstore", &s_sid);
}

static void s_node_reopen(s_node_t *n)
{
    lt_test_node_reopen(n);
}

static void s_teardown(void)
{
    for (size_t i = 0; i < sizeof s_nodes / sizeof *s_nodes; i++)
        lt_test_node_close(&s_nodes[i]);
}

TestSuite(intention_store, .fini = s_teardown, .timeout = 120);

#define s_b lt_test_b

static void s_commit(s_node_t *n)
{
    lt_err_t rc = lt_db_commit(n->db);
    cr_assert_eq(rc, LT_OK, "commit: %s: %s", lt_errname(rc), lt_db_errmsg(n->db));
}

static lt_hash_t s_put(s_node_t *n, const char *k, const char *v)
{
    lt_hash_t h;
    lt_err_t rc = lt_kvstore_put(n->st, s_b(k), strlen(k), s_b(v), strlen(v), &h);
    cr_assert_eq(rc, LT_OK, "put %s: %s: %s", k, lt_errname(rc), lt_db_errmsg(n->db));
    return h;
}

static uint64_t s_floating(s_node_t *n)
{
    uint64_t f;
    cr_assert_eq(lt_store_floating_count(n->st, &f), LT_OK);
    return f;
}

/* A signed intention built by hand. */
typedef struct {
    lt_buf_t bytes;
    lt_hash_t hash;
} s_int_t;

/* The ops of a put of k=v (a UniversalOp carrying a KvOp). */
static void s_put_ops(const char *k, const char *v, lt_buf_t *out)
{
    lt_kv_entry_t e = {{s_b(k), strlen(k)}, {s_b(v), strlen(v)}, false};
    lt_buf_t kvop = LT_BUF_INIT;
    cr_assert_eq(lt_kvop_encode(&e, 1, &kvop), LT_OK);
    cr_assert_eq(lt_uop_encode_app(kvop.data, kvop.len, out), LT_OK);
    lt_buf_free(&kvop);
}

static s_int_t s_sign(const lt_identity_t *author, const lt_store_id_t *sid, uint64_t wall,
                      const lt_hash_t *prev, const lt_hash_t *deps, unsigned ndeps,
                      const uint8_t *ops, size_t len)
{
    lt_intention_t in = {.version = LT_INTENTION_VERSION,
                         .author = author->pk,
                         .hlc = {wall, 0},
                         .store_id = *sid,
                         .ops_len = (uint32_t)len,
                         .ops = ops};
    if (prev)
        in.store_prev = *prev;
    for (unsigned i = 0; i < ndeps; i++)
        in.deps[i] = deps[i];
    in.ndeps = (uint8_t)ndeps;
    lt_deps_normalize(in.deps, &in.ndeps);
    s_int_t s = {LT_BUF_INIT, {{0}}};
    cr_assert_eq(lt_intention_sign(&in, author, &s.bytes, &s.hash), LT_OK);
    return s;
}

/* A signed put of k=v by author. */
static s_int_t s_sign_put(const lt_identity_t *author, uint64_t wall, const lt_hash_t *prev,
                          const lt_hash_t *deps, unsigned ndeps, const char *k, const char *v)
{
    lt_buf_t ops = LT_BUF_INIT;
    s_put_ops(k, v, &ops);
    s_int_t s = s_sign(author, &s_sid, wall, prev, deps, ndeps, ops.data, ops.len);
    lt_buf_free(&ops);
    return s;
}

static lt_ingest_result_t s_ingest(s_node_t *n, const s_int_t *s, lt_ingest_status_t want)
{
    lt_ingest_result_t res;
    lt_err_t rc = lt_store_ingest(n->st, s->bytes.data, s->bytes.len, &res);
    cr_assert_eq(rc, LT_OK, "ingest: %s: %s", lt_errname(rc), lt_db_errmsg(n->db));
    cr_assert_eq(res.status, want, "ingest status %d, expected %d", res.status, want);
    cr_assert(lt_hash_eq(&res.hash, &s->hash));
    return res;
}

static void s_expect_value(s_node_t *n, const char *k, const char *v)
{
    lt_buf_t b = LT_BUF_INIT;
    lt_err_t rc = lt_kvstore_get(n->st, s_b(k), strlen(k), &b, NULL);
    if (!v) {
        cr_assert_eq(rc, LT_ENOTFOUND, "get %s: %s", k, lt_errname(rc));
    } else {
        cr_assert_eq(rc, LT_OK, "get %s: %s", k, lt_errname(rc));
        cr_assert(b.len == strlen(v) && (b.len == 0 || memcmp(b.data, v, b.len) == 0),
                  "get %s: '%.*s', expected '%s'", k, (int)b.len, (const char *)b.data, v);
    }
    lt_buf_free(&b);
}

/* Rows of one table that belong to the store, as "hex(key)=hex(value)" lines. */
static void s_dump_cf(lt_db_t *db, const lt_store_id_t *sid, unsigned cf, lt_buf_t *out)
{
    lt_kv_t *kv = lt_db_kv(db);
    lt_kv_iter_t *it;
    cr_assert_eq(lt_kv_iter_new(kv, cf, &it), LT_OK);
    char line[8192];
    int n = snprintf(line, sizeof line, "[%s]\n", lt_cf_names[cf]);
    cr_assert_eq(lt_buf_append(out, line, (size_t)n), LT_OK);
    for (kv->ops->iter_seek(it, sid->b, LT_STORE_ID_LEN);
         lt_kv_iter_has_prefix(kv, it, sid->b, LT_STORE_ID_LEN); kv->ops->iter_next(it)) {
        size_t kl, vl;
        const uint8_t *k = kv->ops->iter_key(it, &kl);
        const uint8_t *v = kv->ops->iter_value(it, &vl);
        cr_assert_lt(2 * (kl + vl) + 2, sizeof line);
        lt_hex(k, kl, line);
        line[2 * kl] = '=';
        lt_hex(v, vl, line + 2 * kl + 1);
        size_t len = 2 * kl + 1 + 2 * vl;
        line[len++] = '\n';
        cr_assert_eq(lt_buf_append(out, line, len), LT_OK);
    }
    cr_assert_eq(kv->ops->iter_status(it), LT_OK);
    kv->ops->iter_free(it);
}

/* The store's projection: the app and system tables (committed). */
static void s_dump_projection(s_node_t *n, lt_buf_t *out)
{
    out->len = 0;
    s_dump_cf(n->db, &s_sid, LT_CF_APP, out);
    s_dump_cf(n->db, &s_sid, LT_CF_SYSTEM, out);
}

static void s_assert_same(const lt_buf_t *a, const lt_buf_t *b, const char *what)
{
    cr_assert(a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0),
              "%s differs:\n--- before\n%.*s\n--- after\n%.*s", what, (int)a->len,
              (const char *)a->data, (int)b->len, (const char *)b->data);
}

static void s_exchange(s_node_t *from, s_node_t *to)
{
    lt_test_node_exchange(from, to);
}

/* Asserts that nothing about the store changed after a rejection. */
static void s_expect_nothing_written(s_node_t *n, const lt_hash_t *h)
{
    s_commit(n);
    cr_assert_eq(lt_store_witnessed_count(n->st), 0);
    cr_assert_eq(s_floating(n), 0);
    lt_buf_t b = LT_BUF_INIT;
    cr_assert_eq(lt_store_get_intention(n->st, h, &b), LT_ENOTFOUND);
    lt_buf_free(&b);
}

/* ---- validation ---- */

Test(intention_store, a_valid_remote_intention_is_witnessed)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_MEM, S_T0);
    lt_identity_t other;
    lt_test_identity(&other, 30);
    s_int_t s = s_sign_put(&other, S_T0, NULL, NULL, 0, "k", "remote");
    lt_ingest_result_t r = s_ingest(n, &s, LT_INGEST_WITNESSED);
    cr_assert_eq(r.witnessed, 1);
    cr_assert_eq(r.nmissing, 0);
    s_commit(n);
    s_expect_value(n, "k", "remote");
    uint64_t seq;
    cr_assert_eq(lt_store_witness_seq(n->st, &s.hash, &seq), LT_OK);
    cr_assert_eq(seq, 1);
    lt_buf_t b = LT_BUF_INIT;
    cr_assert_eq(lt_store_get_intention(n->st, &s.hash, &b), LT_OK);
    cr_assert(b.len == s.bytes.len && memcmp(b.data, s.bytes.data, b.len) == 0,
              "the stored bytes are not the ingested bytes");
    lt_buf_free(&b);
    lt_hash_t unknown = s.hash;
    unknown.b[0] ^= 1;
    cr_assert_eq(lt_store_witness_seq(n->st, &unknown, &seq), LT_ENOTFOUND);
    lt_buf_free(&s.bytes);
}

Test(intention_store, a_bad_signature_is_rejected_with_nothing_written)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_MEM, S_T0);
    lt_identity_t other, liar;
    lt_test_identity(&other, 30);
    lt_test_identity(&liar, 31);
    s_int_t s = s_sign_put(&other, S_T0, NULL, NULL, 0, "k", "v");

    s.bytes.data[s.bytes.len - 1] ^= 0x01; /* in the signature */
    cr_assert_eq(lt_store_ingest(n->st, s.bytes.data, s.bytes.len, NULL), LT_ESIGNATURE);
    cr_assert_neq(lt_db_errmsg(n->db)[0], '\0', "a rejection has a message");
    s_expect_nothing_written(n, &s.hash);
    s.bytes.data[s.bytes.len - 1] ^= 0x01;

    s.bytes.data[s.bytes.len - LT_SIG_LEN - 1] ^= 0x20; /* in the ops: a new hash */
    cr_assert_eq(lt_store_ingest(n->st, s.bytes.data, s.bytes.len, NULL), LT_ESIGNATURE);
    s.bytes.data[s.bytes.len - LT_SIG_LEN - 1] ^= 0x20;

    /* Signed by another key than the author it names. */
    lt_signed_t parsed;
    cr_assert_eq(lt_signed_parse(s.bytes.data, s.bytes.len, &parsed), LT_OK);
    lt_sig_t forged;
    lt_identity_sign(&liar, &parsed.hash, &forged);
    memcpy(s.bytes.data + s.bytes.len - LT_SIG_LEN, forged.b, LT_SIG_LEN);
    cr_assert_eq(lt_store_ingest(n->st, s.bytes.data, s.bytes.len, NULL), LT_ESIGNATURE);
    s_expect_nothing_written(n, &s.hash);
    lt_buf_free(&s.bytes);
}

Test(intention_store, an_intention_of_another_store_is_rejected)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_MEM, S_T0);
    lt_identity_t other;
    lt_test_identity(&other, 30);
    lt_store_id_t elsewhere = s_sid;
    elsewhere.b[0] ^= 0xff;
    lt_buf_t ops = LT_BUF_INIT;
    s_put_ops("k", "v", &ops);
    s_int_t s = s_sign(&other, &elsewhere, S_T0, NULL, NULL, 0, ops.data, ops.len);
    cr_assert_eq(lt_store_ingest(n->st, s.bytes.data, s.bytes.len, NULL), LT_EWRONGSTORE);
    s_expect_nothing_written(n, &s.hash);
    lt_buf_free(&ops);
    lt_buf_free(&s.bytes);
}

Test(intention_store, malformed_bytes_are_rejected_with_nothing_written)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_MEM, S_T0);
    lt_identity_t other;
    lt_test_identity(&other, 30);
    s_int_t s = s_sign_put(&other, S_T0, NULL, NULL, 0, "k", "v");
    const uint8_t *p = s.bytes.data;
    size_t len = s.bytes.len;

    cr_assert_eq(lt_store_ingest(n->st, p, 0, NULL), LT_ETRUNCATED);
    cr_assert_eq(lt_store_ingest(n->st, p, 10, NULL), LT_ETRUNCATED);
    for (size_t cut = 1; cut < len; cut += 7) {
        lt_err_t rc = lt_store_ingest(n->st, p, len - cut, NULL);
        cr_assert(rc != LT_OK, "a signed intention cut by %zu bytes was accepted", cut);
    }
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, p, len);
    longer[len] = 0;
    cr_assert_neq(lt_store_ingest(n->st, longer, len + 1, NULL), LT_OK,
                  "a trailing byte was accepted");
    free(longer);

    uint8_t *v2 = malloc(len);
    memcpy(v2, p, len);
    v2[0] = 2;
    cr_assert_eq(lt_store_ingest(n->st, v2, len, NULL), LT_EVERSION);
    free(v2);

    lt_buf_t junk = LT_BUF_INIT;
    for (size_t i = 0; i < 300; i++)
        cr_assert_eq(lt_buf_put_u8(&junk, (uint8_t)(i * 37 + 11)), LT_OK);
    cr_assert_neq(lt_store_ingest(n->st, junk.data, junk.len, NULL), LT_OK);
    lt_buf_free(&junk);

    s_expect_nothing_written(n, &s.hash);
    /* The intact intention is still accepted. */
    s_ingest(n, &s, LT_INGEST_WITNESSED);
    lt_buf_free(&s.bytes);
}

Test(intention_store, a_store_prev_by_another_author_is_rejected)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_MEM, S_T0);
    lt_identity_t a, b;
    lt_test_identity(&a, 30);
    lt_test_identity(&b, 31);
    s_int_t x = s_sign_put(&a, S_T0, NULL, NULL, 0, "k", "a1");
    s_ingest(n, &x, LT_INGEST_WITNESSED);
    s_commit(n);
    s_int_t y = s_sign_put(&b, S_T0 + 1, &x.hash, NULL, 0, "k", "b-claims-a");
    cr_assert_eq(lt_store_ingest(n->st, y.bytes.data, y.bytes.len, NULL), LT_EPREVAUTHOR);
    s_commit(n);
    cr_assert_eq(lt_store_witnessed_count(n->st), 1);
    lt_buf_t tmp = LT_BUF_INIT;
    cr_assert_eq(lt_store_get_intention(n->st, &y.hash, &tmp), LT_ENOTFOUND);
    lt_buf_free(&tmp);
    s_expect_value(n, "k", "a1");
    lt_buf_free(&x.bytes);
    lt_buf_free(&y.bytes);
}

Test(intention_store, a_floating_intention_whose_prev_turns_out_foreign_is_dropped)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_MEM, S_T0);
    lt_identity_t a, b;
    lt_test_identity(&a, 30);
    lt_test_identity(&b, 31);
    s_int_t x = s_sign_put(&a, S_T0, NULL, NULL, 0, "k", "a1");
    s_int_t y = s_sign_put(&b, S_T0 + 1, &x.hash, NULL, 0, "k", "b-claims-a");
    s_ingest(n, &y, LT_INGEST_FLOATING);
    s_commit(n);
    cr_assert_eq(s_floating(n), 1);
    lt_ingest_result_t r = s_ingest(n, &x, LT_INGEST_WITNESSED);
    cr_assert_eq(r.witnessed, 1, "the impostor was witnessed by the cascade");
    s_commit(n);
    cr_assert_eq(s_floating(n), 0, "the impostor still floats");
    cr_assert_eq(lt_store_witnessed_count(n->st), 1);
    s_expect_value(n, "k", "a1");
    cr_assert_eq(lt_store_ingest(n->st, y.bytes.data, y.bytes.len, NULL), LT_EPREVAUTHOR);
    lt_buf_free(&x.bytes);
    lt_buf_free(&y.bytes);
}

/* ---- duplicates, floating, cascade ---- */

Test(intention_store, a_duplicate_is_reported_and_changes_nothing)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_MEM, S_T0);
    lt_identity_t a;
    lt_test_identity(&a, 30);
    s_int_t x = s_sign_put(&a, S_T0, NULL, NULL, 0, "k", "v1");
    s_int_t y = s_sign_put(&a, S_T0 + 1, &x.hash, NULL, 0, "k", "v2");
    s_ingest(n, &x, LT_INGEST_WITNESSED);
    s_ingest(n, &x, LT_INGEST_DUPLICATE); /* in the same commit group */
    s_commit(n);
    s_ingest(n, &x, LT_INGEST_DUPLICATE); /* after the commit */
    s_commit(n);
    cr_assert_eq(lt_store_witnessed_count(n->st), 1);

    /* A duplicate of a floating intention. */
    s_int_t z = s_sign_put(&a, S_T0 + 2, &y.hash, NULL, 0, "k", "v3");
    s_ingest(n, &z, LT_INGEST_FLOATING);
    s_ingest(n, &z, LT_INGEST_DUPLICATE);
    s_commit(n);
    s_ingest(n, &z, LT_INGEST_DUPLICATE);
    cr_assert_eq(s_floating(n), 1);
    lt_ingest_result_t r = s_ingest(n, &y, LT_INGEST_WITNESSED);
    cr_assert_eq(r.witnessed, 2);
    s_commit(n);
    cr_assert_eq(lt_store_witnessed_count(n->st), 3);
    cr_assert_eq(s_floating(n), 0);
    s_expect_value(n, "k", "v3");
    lt_buf_free(&x.bytes);
    lt_buf_free(&y.bytes);
    lt_buf_free(&z.bytes);
}

/* An intention that extends its author's tip yet waits for a dep: the tip
 * alone does not make it new (ingest's shortcut must also ask the floating
 * rows). */
Test(intention_store, a_duplicate_floating_on_a_dep_past_the_tip_is_reported)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_MEM, S_T0);
    lt_identity_t a, b;
    lt_test_identity(&a, 31);
    lt_test_identity(&b, 32);
    s_int_t x = s_sign_put(&a, S_T0, NULL, NULL, 0, "k", "v1");
    s_int_t d = s_sign_put(&b, S_T0 + 1, NULL, NULL, 0, "j", "w1");
    s_int_t z = s_sign_put(&a, S_T0 + 2, &x.hash, &d.hash, 1, "k", "v2");
    s_ingest(n, &x, LT_INGEST_WITNESSED);
    s_ingest(n, &z, LT_INGEST_FLOATING);
    s_ingest(n, &z, LT_INGEST_DUPLICATE); /* in the same commit group */
    s_commit(n);
    s_ingest(n, &z, LT_INGEST_DUPLICATE); /* after the commit */
    lt_ingest_result_t r = s_ingest(n, &d, LT_INGEST_WITNESSED);
    cr_assert_eq(r.witnessed, 2);
    s_ingest(n, &z, LT_INGEST_DUPLICATE); /* witnessed now */
    s_commit(n);
    cr_assert_eq(lt_store_witnessed_count(n->st), 3);
    cr_assert_eq(s_floating(n), 0);
    s_expect_value(n, "k", "v2");
    lt_buf_free(&x.bytes);
    lt_buf_free(&d.bytes);
    lt_buf_free(&z.bytes);
}

Test(intention_store, a_chain_delivered_in_reverse_floats_then_cascades)
{
    enum { N = 50 };
    s_node_t *author = &s_nodes[0], *n = &s_nodes[1];
    s_node_open(author, 1, LT_TEST_MEM, S_T0);
    s_node_open(n, 2, LT_TEST_MEM, S_T0 + 100);
    lt_hash_t h[N];
    char k[16], v[16];
    for (int i = 0; i < N; i++) {
        author->clock += (uint64_t)(i % 2);
        snprintf(k, sizeof k, "key%d", i % 7);
        snprintf(v, sizeof v, "v%d", i);
        h[i] = s_put(author, k, v);
        if (i % 5 == 4)
            s_commit(author);
    }
    s_commit(author);

    for (int i = N - 1; i >= 0; i--) {
        lt_buf_t b = LT_BUF_INIT;
        cr_assert_eq(lt_store_get_intention(author->st, &h[i], &b), LT_OK);
        lt_ingest_result_t r;
        cr_assert_eq(lt_store_ingest(n->st, b.data, b.len, &r), LT_OK, "%s", lt_db_errmsg(n->db));
        if (i > 0) {
            cr_assert_eq(r.status, LT_INGEST_FLOATING, "intention %d did not float", i);
            cr_assert_eq(r.witnessed, 0);
            cr_assert_geq(r.nmissing, 1);
            bool prev_missing = false;
            for (unsigned m = 0; m < r.nmissing; m++)
                prev_missing |= lt_hash_eq(&r.missing[m], &h[i - 1]);
            cr_assert(prev_missing, "intention %d: its store_prev is not reported missing", i);
        } else {
            cr_assert_eq(r.status, LT_INGEST_WITNESSED);
            cr_assert_eq(r.witnessed, N, "the cascade witnessed %u of %d", r.witnessed, N);
        }
        lt_buf_free(&b);
        if (i % 7 == 0)
            s_commit(n); /* the floating set crosses commits */
        if (i == N / 2) {
            s_commit(n);
            cr_assert_eq(lt_store_witnessed_count(n->st), 0);
            cr_assert_eq(s_floating(n), (uint64_t)(N - i), "every intention so far floats");
        }
    }
    s_commit(n);
    cr_assert_eq(lt_store_witnessed_count(n->st), N);
    cr_assert_eq(s_floating(n), 0);
    for (int i = 0; i < N; i++) {
        uint64_t seq;
        cr_assert_eq(lt_store_witness_seq(n->st, &h[i], &seq), LT_OK);
        cr_assert_eq(seq, (uint64_t)i + 1, "the cascade witnessed out of chain order");
    }
    lt_buf_t da = LT_BUF_INIT, dn = LT_BUF_INIT;
    s_dump_projection(author, &da);
    s_dump_projection(n, &dn);
    s_assert_same(&da, &dn, "the projection of the author and of the receiver");
    cr_assert_eq(lt_store_verify(n->st, true, NULL), LT_OK);
    lt_buf_free(&da);
    lt_buf_free(&dn);
}

Test(intention_store, every_missing_link_is_reported)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_MEM, S_T0);
    lt_identity_t a, b, c;
    lt_test_identity(&a, 30);
    lt_test_identity(&b, 31);
    lt_test_identity(&c, 32);
    s_int_t p = s_sign_put(&a, S_T0, NULL, NULL, 0, "x", "a1");
    s_int_t d1 = s_sign_put(&b, S_T0, NULL, NULL, 0, "y", "b1");
    s_int_t d2 = s_sign_put(&c, S_T0, NULL, NULL, 0, "z", "c1");
    lt_hash_t deps[2] = {d1.hash, d2.hash};
    s_int_t x = s_sign_put(&a, S_T0 + 1, &p.hash, deps, 2, "w", "a2");

    lt_ingest_result_t r = s_ingest(n, &x, LT_INGEST_FLOATING);
    cr_assert_eq(r.nmissing, 3, "%u missing links reported", r.nmissing);
    const lt_hash_t *want[3] = {&p.hash, &d1.hash, &d2.hash};
    for (int w = 0; w < 3; w++) {
        bool found = false;
        for (unsigned m = 0; m < r.nmissing; m++)
            found |= lt_hash_eq(&r.missing[m], want[w]);
        cr_assert(found, "missing link %d is not reported", w);
    }
    s_commit(n);

    r = s_ingest(n, &d2, LT_INGEST_WITNESSED);
    cr_assert_eq(r.witnessed, 1);
    s_commit(n);
    r = s_ingest(n, &p, LT_INGEST_WITNESSED);
    cr_assert_eq(r.witnessed, 1, "x was witnessed before d1 arrived");
    s_commit(n);
    cr_assert_eq(s_floating(n), 1);
    r = s_ingest(n, &d1, LT_INGEST_WITNESSED);
    cr_assert_eq(r.witnessed, 2, "the cascade did not release x");
    s_commit(n);
    cr_assert_eq(s_floating(n), 0);
    cr_assert_eq(lt_store_witnessed_count(n->st), 4);
    s_expect_value(n, "w", "a2");

    /* Once its links are known, an intention is witnessed at once. */
    s_int_t y = s_sign_put(&b, S_T0 + 2, &d1.hash, &x.hash, 1, "y", "b2");
    r = s_ingest(n, &y, LT_INGEST_WITNESSED);
    cr_assert_eq(r.nmissing, 0);
    lt_buf_free(&p.bytes);
    lt_buf_free(&d1.bytes);
    lt_buf_free(&d2.bytes);
    lt_buf_free(&x.bytes);
    lt_buf_free(&y.bytes);
}

/* Whether h is among v[0..n). */
static bool s_has_hash(const lt_hash_t *v, unsigned n, const lt_hash_t *h)
{
    for (unsigned i = 0; i < n; i++)
        if (lt_hash_eq(&v[i], h))
            return true;
    return false;
}

Test(intention_store, missing_deps_name_the_holes_below_what_floats_each_once)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_MEM, S_T0);
    lt_identity_t a, b;
    lt_test_identity(&a, 30);
    lt_test_identity(&b, 31);
    /* a1 <- a2 <- a3 (a's chain), a3 also citing d (by b); a1 and d are
     * not here yet. */
    s_int_t a1 = s_sign_put(&a, S_T0, NULL, NULL, 0, "x", "1");
    s_int_t a2 = s_sign_put(&a, S_T0 + 1, &a1.hash, NULL, 0, "x", "2");
    s_int_t d = s_sign_put(&b, S_T0, NULL, NULL, 0, "y", "1");
    s_int_t a3 = s_sign_put(&a, S_T0 + 2, &a2.hash, &d.hash, 1, "x", "3");
    lt_hash_t out[8];
    unsigned nout = 99;
    /* Nothing floats: nothing is missing, whatever is asked. */
    cr_assert_eq(lt_store_missing_deps(n->st, &a3.hash, 1, out, 8, &nout), LT_OK);
    cr_assert_eq(nout, 0);

    s_ingest(n, &a3, LT_INGEST_FLOATING);
    s_ingest(n, &a2, LT_INGEST_FLOATING);
    /* a3 waits for a2, which is held: what a2 misses (a1) and d. */
    cr_assert_eq(lt_store_missing_deps(n->st, &a3.hash, 1, out, 8, &nout), LT_OK);
    cr_assert_eq(nout, 2, "%u holes", nout);
    cr_assert(s_has_hash(out, nout, &a1.hash) && s_has_hash(out, nout, &d.hash));
    cr_assert_not(s_has_hash(out, nout, &a2.hash), "a held link is not a hole");
    /* Both floating ones asked: the same holes, each once; the pending
     * transaction is seen, and so is the committed state. */
    lt_hash_t both[3] = {a2.hash, a3.hash, a2.hash};
    cr_assert_eq(lt_store_missing_deps(n->st, both, 3, out, 8, &nout), LT_OK);
    cr_assert_eq(nout, 2);
    s_commit(n);
    cr_assert_eq(lt_store_missing_deps(n->st, &a2.hash, 1, out, 8, &nout), LT_OK);
    cr_assert_eq(nout, 1, "a2 misses a1 only");
    cr_assert(lt_hash_eq(&out[0], &a1.hash));
    /* cap bounds what is written. */
    cr_assert_eq(lt_store_missing_deps(n->st, &a3.hash, 1, out, 1, &nout), LT_OK);
    cr_assert_eq(nout, 1);
    /* A hash not held adds nothing: it is what is asked, not a link. */
    cr_assert_eq(lt_store_missing_deps(n->st, &a1.hash, 1, out, 8, &nout), LT_OK);
    cr_assert_eq(nout, 0);

    /* a1 arrives: a2 is witnessed, a3 still waits for d. */
    s_ingest(n, &a1, LT_INGEST_WITNESSED);
    cr_assert_eq(lt_store_missing_deps(n->st, both, 3, out, 8, &nout), LT_OK);
    cr_assert_eq(nout, 1);
    cr_assert(lt_hash_eq(&out[0], &d.hash));
    s_ingest(n, &d, LT_INGEST_WITNESSED);
    cr_assert_eq(lt_store_missing_deps(n->st, both, 3, out, 8, &nout), LT_OK);
    cr_assert_eq(nout, 0, "everything is witnessed");
    s_commit(n);
    cr_assert_eq(s_floating(n), 0);
    lt_buf_free(&a1.bytes);
    lt_buf_free(&a2.bytes);
    lt_buf_free(&a3.bytes);
    lt_buf_free(&d.bytes);
}

typedef struct {
    lt_hash_t h[16];
    uint64_t seq[16];
    unsigned n, stop_after;
} s_found_t;

static lt_err_t s_found_fn(void *ctx, const lt_hash_t *h, uint64_t seq, const uint8_t *bytes,
                           size_t len)
{
    s_found_t *f = ctx;
    lt_signed_t s;
    cr_assert_eq(lt_signed_parse(bytes, len, &s), LT_OK);
    cr_assert(lt_hash_eq(&s.hash, h), "the bytes are not the intention's");
    cr_assert_lt(f->n, 16);
    f->h[f->n] = *h;
    f->seq[f->n++] = seq;
    return f->stop_after && f->n == f->stop_after ? LT_EFULL : LT_OK;
}

Test(intention_store, an_ancestor_walk_finds_each_held_ancestor_once_nearest_first)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_MEM, S_T0);
    lt_identity_t a, b;
    lt_test_identity(&a, 30);
    lt_test_identity(&b, 31);
    /* a1 <- a2 <- a3 <- a4, a4 citing d, d citing a1; a floating a6 on an
     * absent a5. */
    s_int_t a1 = s_sign_put(&a, S_T0, NULL, NULL, 0, "x", "1");
    s_int_t a2 = s_sign_put(&a, S_T0 + 1, &a1.hash, NULL, 0, "x", "2");
    s_int_t a3 = s_sign_put(&a, S_T0 + 2, &a2.hash, NULL, 0, "x", "3");
    s_int_t d = s_sign_put(&b, S_T0, NULL, &a1.hash, 1, "y", "1");
    s_int_t a4 = s_sign_put(&a, S_T0 + 3, &a3.hash, &d.hash, 1, "x", "4");
    s_int_t a5 = s_sign_put(&a, S_T0 + 4, &a4.hash, NULL, 0, "x", "5");
    s_int_t a6 = s_sign_put(&a, S_T0 + 5, &a5.hash, NULL, 0, "x", "6");
    const s_int_t *all[] = {&a1, &a2, &a3, &d, &a4};
    for (size_t i = 0; i < 5; i++)
        s_ingest(n, all[i], LT_INGEST_WITNESSED);
    s_ingest(n, &a6, LT_INGEST_FLOATING);
    s_commit(n);

    s_found_t f = {.n = 0};
    cr_assert_eq(lt_store_walk_ancestors(n->st, &a4.hash, 1, s_found_fn, &f), LT_OK);
    /* Breadth-first, store_prev before deps: a4; a3, d; a2, a1 (d's dep,
     * found before a2's store_prev); each once. */
    cr_assert_eq(f.n, 5);
    const lt_hash_t *want[5] = {&a4.hash, &a3.hash, &d.hash, &a2.hash, &a1.hash};
    for (unsigned i = 0; i < 5; i++)
        cr_assert(lt_hash_eq(&f.h[i], want[i]), "intention %u out of order", i);
    cr_assert_eq(f.seq[0], 5, "a4 was witnessed fifth");
    cr_assert_eq(f.seq[4], 1);

    /* A floating start: seq 0; the walk stops at the hole (a5). Both
     * starts, one given twice: each once, the starts first. */
    lt_hash_t starts[3] = {a6.hash, a2.hash, a6.hash};
    f = (s_found_t){.n = 0};
    cr_assert_eq(lt_store_walk_ancestors(n->st, starts, 3, s_found_fn, &f), LT_OK);
    cr_assert_eq(f.n, 3);
    cr_assert(lt_hash_eq(&f.h[0], &a6.hash) && f.seq[0] == 0);
    cr_assert(lt_hash_eq(&f.h[1], &a2.hash) && lt_hash_eq(&f.h[2], &a1.hash));

    /* The callback stops it. */
    f = (s_found_t){.stop_after = 2};
    cr_assert_eq(lt_store_walk_ancestors(n->st, &a4.hash, 1, s_found_fn, &f), LT_EFULL);
    cr_assert_eq(f.n, 2);
    s_int_t *mine[] = {&a1, &a2, &a3, &d, &a4, &a5, &a6};
    for (size_t i = 0; i < 7; i++)
        lt_buf_free(&mine[i]->bytes);
}

/* ---- tips and forks ---- */

static unsigned s_tips(s_node_t *n, const lt_pubkey_t *author, lt_hash_t *tips)
{
    unsigned count;
    cr_assert_eq(lt_store_author_tips(n->st, author, tips, 8, &count), LT_OK);
    return count;
}

Test(intention_store, the_author_tip_follows_the_chain)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_MEM, S_T0);
    lt_hash_t tips[8];
    cr_assert_eq(s_tips(n, &n->id.pk, tips), 0);
    s_put(n, "a", "1");
    s_commit(n);
    s_put(n, "b", "2");
    lt_hash_t last = s_put(n, "c", "3");
    cr_assert_eq(s_tips(n, &n->id.pk, tips), 1, "tips are visible before the commit");
    s_commit(n);
    cr_assert_eq(s_tips(n, &n->id.pk, tips), 1);
    cr_assert(lt_hash_eq(&tips[0], &last));
    lt_identity_t stranger;
    lt_test_identity(&stranger, 99);
    cr_assert_eq(s_tips(n, &stranger.pk, tips), 0);
    unsigned forks = 99;
    cr_assert_eq(lt_store_forks(n->st, NULL, NULL, &forks), LT_OK);
    cr_assert_eq(forks, 0);
}

typedef struct {
    unsigned n;
    lt_pubkey_t author;
    lt_hash_t prev;
    unsigned nchildren;
} s_forks_t;

static void s_fork_fn(void *ctx, const lt_pubkey_t *author, const lt_hash_t *prev,
                      unsigned nchildren)
{
    s_forks_t *f = ctx;
    f->n++;
    f->author = *author;
    f->prev = *prev;
    f->nchildren = nchildren;
}

static void s_expect_fork(s_node_t *n, const lt_pubkey_t *author, const lt_hash_t *prev)
{
    s_forks_t f = {0};
    unsigned count;
    cr_assert_eq(lt_store_forks(n->st, s_fork_fn, &f, &count), LT_OK);
    cr_assert_eq(count, 1, "%u forks reported", count);
    cr_assert_eq(f.n, 1);
    cr_assert_eq(lt_pubkey_cmp(&f.author, author), 0);
    cr_assert(lt_hash_eq(&f.prev, prev));
    cr_assert_eq(f.nchildren, 2);
}

static unsigned s_fork_events;

static void s_fork_event_fn(void *ctx, const lt_event_t *ev)
{
    (void)ctx;
    cr_assert_eq(ev->kind, LT_EV_FORK);
    s_fork_events++;
}

Test(intention_store, an_author_fork_is_witnessed_and_reported_on_every_node)
{
    /* Nodes 0 and 1 share one key (a copied identity); node 2 watches. */
    s_node_t *a = &s_nodes[0], *a2 = &s_nodes[1], *w = &s_nodes[2];
    s_node_open(a, 7, LT_TEST_MEM, S_T0);
    s_node_open(a2, 7, LT_TEST_MEM, S_T0 + 3);
    s_node_open(w, 8, LT_TEST_MEM, S_T0);
    lt_sub_filter_t f = {.any_store = true, .kinds = 1u << LT_EV_FORK};
    unsigned sub;
    cr_assert_eq(lt_db_subscribe(w->db, &f, s_fork_event_fn, NULL, &sub), LT_OK);

    lt_hash_t base = s_put(a, "k", "base");
    s_commit(a);
    s_exchange(a, a2);
    lt_hash_t left = s_put(a, "k", "left");
    lt_hash_t right = s_put(a2, "k", "right");
    s_commit(a);
    s_commit(a2);

    s_exchange(a, w);
    cr_assert_eq(s_fork_events, 0);
    s_exchange(a2, w);
    cr_assert_eq(lt_store_witnessed_count(w->st), 3, "both branches are witnessed");
    cr_assert_eq(s_fork_events, 1, "%u fork events", s_fork_events);
    s_exchange(a, a2);
    s_exchange(a2, a);
    for (int i = 0; i < 3; i++) {
        s_node_t *n = &s_nodes[i];
        s_expect_fork(n, &a->id.pk, &base);
        lt_hash_t tips[8];
        cr_assert_eq(s_tips(n, &a->id.pk, tips), 2, "node %d: both branch heads are tips", i);
        bool l = lt_hash_eq(&tips[0], &left) || lt_hash_eq(&tips[1], &left);
        bool r = lt_hash_eq(&tips[0], &right) || lt_hash_eq(&tips[1], &right);
        cr_assert(l && r);
        lt_buf_t v = LT_BUF_INIT;
        bool conflicted = false;
        cr_assert_eq(lt_kvstore_get(n->st, s_b("k"), 1, &v, &conflicted), LT_OK);
        cr_assert(conflicted, "node %d: the branches are concurrent writes", i);
        cr_assert(v.len == 5 && memcmp(v.data, "right", 5) == 0, "the later branch wins");
        lt_buf_free(&v);
    }

    /* The next write of the key joins the branches: one tip, one head. */
    a->clock += 10;
    lt_hash_t join = s_put(a, "k", "joined");
    s_commit(a);
    s_exchange(a, w);
    s_exchange(a, a2);
    for (int i = 0; i < 3; i++) {
        s_node_t *n = &s_nodes[i];
        lt_hash_t tips[8];
        cr_assert_eq(s_tips(n, &a->id.pk, tips), 1, "node %d: the join leaves one tip", i);
        cr_assert(lt_hash_eq(&tips[0], &join));
        lt_buf_t v = LT_BUF_INIT;
        bool conflicted = true;
        cr_assert_eq(lt_kvstore_get(n->st, s_b("k"), 1, &v, &conflicted), LT_OK);
        cr_assert_not(conflicted);
        lt_buf_free(&v);
        s_expect_fork(n, &a->id.pk, &base); /* history keeps the fork */
    }
}

Test(intention_store, two_first_intentions_of_one_author_are_a_fork)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_MEM, S_T0);
    lt_identity_t a;
    lt_test_identity(&a, 30);
    s_int_t x = s_sign_put(&a, S_T0, NULL, NULL, 0, "k", "x");
    s_int_t y = s_sign_put(&a, S_T0, NULL, NULL, 0, "k", "y");
    s_ingest(n, &x, LT_INGEST_WITNESSED);
    s_ingest(n, &y, LT_INGEST_WITNESSED);
    s_commit(n);
    lt_hash_t zero = {{0}};
    s_expect_fork(n, &a.pk, &zero);
    lt_buf_free(&x.bytes);
    lt_buf_free(&y.bytes);
}

/* ---- the projection ---- */

/* A node with some history: puts, deletes, a batch, a conflict, system ops. */
static void s_build_history(s_node_t *n, s_node_t *peer)
{
    s_put(n, "a", "1");
    s_put(n, "b", "2");
    s_put(n, "c", "3");
    s_commit(n);
    n->clock++;
    cr_assert_eq(lt_kvstore_del(n->st, s_b("b"), 1, NULL), LT_OK);
    lt_kv_entry_t e[] = {{{s_b("d"), 1}, {s_b("4"), 1}, false},
                         {{s_b("a"), 1}, {s_b("11"), 2}, false}};
    cr_assert_eq(lt_kvstore_batch(n->st, e, 2, NULL), LT_OK);
    cr_assert_eq(lt_system_set_name(n->st, "history", NULL), LT_OK);
    s_commit(n);
    s_put(peer, "c", "peer");
    s_put(peer, "e", "5");
    cr_assert_eq(lt_system_set_name(peer->st, "peer name", NULL), LT_OK);
    s_commit(peer);
    s_exchange(peer, n);
}

Test(intention_store, rebuild_gives_the_same_contents)
{
    for (int backend = 0; backend < 2; backend++) {
        s_node_t *n = &s_nodes[0], *peer = &s_nodes[1];
        s_node_open(n, 1, backend ? LT_TEST_ROCKSDB : LT_TEST_MEM, S_T0);
        s_node_open(peer, 2, LT_TEST_MEM, S_T0);
        s_build_history(n, peer);
        lt_buf_t before = LT_BUF_INIT, after = LT_BUF_INIT;
        s_dump_projection(n, &before);
        bool conflicted = false;
        cr_assert_eq(lt_kvstore_get(n->st, s_b("c"), 1, NULL, &conflicted), LT_OK);
        cr_assert(conflicted, "the history should hold a conflict");
        cr_assert_eq(lt_store_rebuild(n->st), LT_OK, "%s", lt_db_errmsg(n->db));
        s_dump_projection(n, &after);
        s_assert_same(&before, &after, "the projection after a rebuild");
        s_expect_value(n, "a", "11");
        s_expect_value(n, "b", NULL);
        cr_assert_eq(lt_store_verify(n->st, true, NULL), LT_OK);
        lt_buf_free(&before);
        lt_buf_free(&after);
        s_teardown();
    }
}

Test(intention_store, deleting_the_projection_and_reopening_gives_the_same_state)
{
    s_node_t *n = &s_nodes[0], *peer = &s_nodes[1];
    s_node_open(n, 1, LT_TEST_ROCKSDB, S_T0);
    s_node_open(peer, 2, LT_TEST_MEM, S_T0);
    s_build_history(n, peer);
    lt_buf_t before = LT_BUF_INIT, after = LT_BUF_INIT, other = LT_BUF_INIT;
    s_dump_projection(n, &before);

    /* Another store in the same db must come through untouched. */
    lt_store_id_t sid2 = s_sid;
    sid2.b[15] ^= 0x55;
    lt_store_t *st2;
    cr_assert_eq(lt_store_create(n->db, "core:kvstore", &sid2, &st2), LT_OK);
    cr_assert_eq(lt_kvstore_put(st2, s_b("other"), 5, s_b("x"), 1, NULL), LT_OK);
    s_commit(n);
    s_dump_cf(n->db, &sid2, LT_CF_APP, &other);

    /* Delete every app and system row of the store, and its cursor. */
    lt_kv_t *kv = lt_db_kv(n->db);
    lt_buf_t keys = LT_BUF_INIT;
    size_t offs[256], lens[256];
    uint8_t cfs[256];
    size_t nops = 0;
    unsigned cf_list[2] = {LT_CF_APP, LT_CF_SYSTEM};
    for (int c = 0; c < 2; c++) {
        lt_kv_iter_t *it;
        cr_assert_eq(lt_kv_iter_new(kv, cf_list[c], &it), LT_OK);
        for (kv->ops->iter_seek(it, s_sid.b, LT_STORE_ID_LEN);
             lt_kv_iter_has_prefix(kv, it, s_sid.b, LT_STORE_ID_LEN); kv->ops->iter_next(it)) {
            size_t kl;
            const uint8_t *k = kv->ops->iter_key(it, &kl);
            cr_assert_lt(nops, 255);
            offs[nops] = keys.len;
            lens[nops] = kl;
            cfs[nops] = (uint8_t)cf_list[c];
            nops++;
            cr_assert_eq(lt_buf_append(&keys, k, kl), LT_OK);
        }
        kv->ops->iter_free(it);
    }
    cr_assert_gt(nops, 5, "the projection has rows");
    uint8_t cursor_key[LT_STORE_ID_LEN + 6];
    lt_key2(cursor_key, &s_sid, "cursor", 6, NULL, 0);
    cr_assert_eq(lt_kv_get(kv, LT_CF_META, cursor_key, sizeof cursor_key, NULL), LT_OK,
                 "the cursor row is not where intention_store.c says it is");
    lt_kv_op_t ops[257];
    for (size_t i = 0; i < nops; i++)
        ops[i] = (lt_kv_op_t){cfs[i], true, keys.data + offs[i], lens[i], NULL, 0};
    ops[nops++] = (lt_kv_op_t){LT_CF_META, true, cursor_key, sizeof cursor_key, NULL, 0};
    lt_kv_batch_t batch = {ops, nops};
    cr_assert_eq(lt_kv_write(kv, &batch, true), LT_OK);
    lt_buf_free(&keys);
    s_dump_projection(n, &after);
    cr_assert_lt(after.len, before.len, "the projection was not deleted");

    s_node_reopen(n);
    s_dump_projection(n, &after);
    s_assert_same(&before, &after, "the projection caught up after a reopen");
    s_expect_value(n, "a", "11");
    char name[64];
    cr_assert_eq(lt_system_get_name(n->st, name, sizeof name), LT_OK);
    lt_buf_t o2 = LT_BUF_INIT;
    s_dump_cf(n->db, &sid2, LT_CF_APP, &o2);
    s_assert_same(&other, &o2, "the other store");
    cr_assert_eq(lt_store_verify(n->st, true, NULL), LT_OK);
    /* The store keeps working from there. */
    n->clock += 5;
    s_put(n, "a", "after");
    s_commit(n);
    s_expect_value(n, "a", "after");
    lt_buf_free(&before);
    lt_buf_free(&after);
    lt_buf_free(&other);
    lt_buf_free(&o2);
}

Test(intention_store, an_intention_two_hours_ahead_is_witnessed_and_superseded_by_deps)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_MEM, S_T0);
    lt_identity_t fast;
    lt_test_identity(&fast, 30);
    uint64_t ahead = S_T0 + 2 * 3600 * 1000;
    s_int_t f = s_sign_put(&fast, ahead, NULL, NULL, 0, "k", "from the future");
    lt_ingest_result_t r = s_ingest(n, &f, LT_INGEST_WITNESSED);
    cr_assert_eq(r.witnessed, 1);
    s_commit(n);
    s_expect_value(n, "k", "from the future");

    /* The clock fault is counted against the author... */
    char tag[4 + 2 * LT_KEY_LEN + 1];
    memcpy(tag, "clk:", 4);
    lt_hex(fast.pk.b, LT_KEY_LEN, tag + 4);
    uint8_t key[LT_STORE_ID_LEN + sizeof tag];
    size_t klen = lt_key2(key, &s_sid, tag, strlen(tag), NULL, 0);
    lt_buf_t v = LT_BUF_INIT;
    cr_assert_eq(lt_kv_get(lt_db_kv(n->db), LT_CF_META, key, klen, &v), LT_OK,
                 "no clock fault recorded");
    cr_assert_eq(v.len, 8);
    cr_assert_eq(lt_get_u64le(v.data), 1);
    lt_buf_free(&v);

    /* ...the local clock does not jump ahead... */
    n->clock++;
    lt_hash_t local = s_put(n, "k", "local");
    s_commit(n);
    lt_buf_t b = LT_BUF_INIT;
    lt_signed_t s;
    cr_assert_eq(lt_store_get_intention(n->st, &local, &b), LT_OK);
    cr_assert_eq(lt_signed_parse(b.data, b.len, &s), LT_OK);
    cr_assert_lt(s.in.hlc.wall_ms, ahead, "the clock adopted a time past the maximum drift");
    lt_buf_free(&b);
    /* ...and the later write, citing the future one, wins. */
    s_expect_value(n, "k", "local");
    bool conflicted = true;
    cr_assert_eq(lt_kvstore_get(n->st, s_b("k"), 1, NULL, &conflicted), LT_OK);
    cr_assert_not(conflicted);
    lt_buf_free(&f.bytes);
}

Test(intention_store, an_intention_within_the_drift_moves_the_clock)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_MEM, S_T0);
    lt_identity_t fast;
    lt_test_identity(&fast, 30);
    uint64_t ahead = S_T0 + 60 * 1000;
    s_int_t f = s_sign_put(&fast, ahead, NULL, NULL, 0, "other", "x");
    s_ingest(n, &f, LT_INGEST_WITNESSED);
    s_commit(n);
    lt_hash_t local = s_put(n, "k", "local");
    s_commit(n);
    lt_buf_t b = LT_BUF_INIT;
    lt_signed_t s;
    cr_assert_eq(lt_store_get_intention(n->st, &local, &b), LT_OK);
    cr_assert_eq(lt_signed_parse(b.data, b.len, &s), LT_OK);
    cr_assert(s.in.hlc.wall_ms == ahead && s.in.hlc.counter == 1,
              "the local write is not after the remote one it saw");
    lt_buf_free(&b);
    lt_buf_free(&f.bytes);
}

Test(intention_store, a_malformed_payload_is_witnessed_and_changes_nothing)
{
    s_node_t *n = &s_nodes[0], *peer = &s_nodes[1];
    s_node_open(n, 1, LT_TEST_MEM, S_T0);
    s_node_open(peer, 2, LT_TEST_MEM, S_T0);
    s_put(n, "k", "v");
    s_commit(n);
    lt_buf_t before = LT_BUF_INIT, after = LT_BUF_INIT;
    s_dump_projection(n, &before);

    /* An app payload that is not a KvOp, and ops that are not a UniversalOp. */
    static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x08};
    lt_buf_t uop = LT_BUF_INIT;
    cr_assert_eq(lt_uop_encode_app(garbage, sizeof garbage, &uop), LT_OK);
    lt_hash_t h1, h2;
    cr_assert_eq(lt_store_write(n->st, uop.data, uop.len, NULL, 0, &h1), LT_OK);
    cr_assert_eq(lt_store_write(n->st, garbage, sizeof garbage, NULL, 0, &h2), LT_OK);
    s_commit(n);
    cr_assert_eq(lt_store_witnessed_count(n->st), 3);
    s_dump_projection(n, &after);
    s_assert_same(&before, &after, "the projection after malformed payloads");

    /* A remote node does the same with them. */
    s_exchange(n, peer);
    cr_assert_eq(lt_store_witnessed_count(peer->st), 3);
    lt_buf_t pd = LT_BUF_INIT;
    s_dump_projection(peer, &pd);
    s_assert_same(&before, &pd, "the peer's projection");

    /* The store goes on, and a rebuild skips them the same way. */
    n->clock++;
    s_put(n, "k", "v2");
    s_commit(n);
    s_expect_value(n, "k", "v2");
    cr_assert_eq(lt_store_rebuild(n->st), LT_OK);
    s_expect_value(n, "k", "v2");
    cr_assert_eq(lt_store_verify(n->st, true, NULL), LT_OK);
    lt_buf_free(&uop);
    lt_buf_free(&before);
    lt_buf_free(&after);
    lt_buf_free(&pd);
}

Test(intention_store, many_stores_in_one_db_are_independent)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_ROCKSDB, S_T0);
    lt_store_id_t ids[4];
    lt_store_t *st[4];
    st[0] = n->st;
    ids[0] = s_sid;
    for (int i = 1; i < 4; i++) {
        cr_assert_eq(
            lt_store_create(n->db, i == 3 ? "core:logstore" : "core:kvstore", NULL, &st[i]), LT_OK);
        ids[i] = *lt_store_id(st[i]);
    }
    cr_assert_eq(lt_store_create(n->db, "core:kvstore", &s_sid, NULL), LT_EEXIST);
    cr_assert_eq(lt_store_create(n->db, "no:such", NULL, NULL), LT_ETYPE);
    char v[16];
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j <= i; j++) {
            snprintf(v, sizeof v, "s%d-%d", i, j);
            cr_assert_eq(lt_kvstore_put(st[i], s_b("k"), 1, s_b(v), strlen(v), NULL), LT_OK);
        }
    }
    cr_assert_eq(lt_logstore_append(st[3], s_b("line"), 4, NULL), LT_OK);
    s_commit(n);
    cr_assert_eq(lt_db_store_count(n->db), 4);

    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 3; i++) {
            lt_store_t *s = lt_db_store(n->db, &ids[i]);
            cr_assert_not_null(s);
            cr_assert_eq(lt_store_witnessed_count(s), (uint64_t)i + 1);
            lt_buf_t b = LT_BUF_INIT;
            bool conflicted = true;
            cr_assert_eq(lt_kvstore_get(s, s_b("k"), 1, &b, &conflicted), LT_OK);
            snprintf(v, sizeof v, "s%d-%d", i, i);
            cr_assert(b.len == strlen(v) && memcmp(b.data, v, b.len) == 0);
            cr_assert_not(conflicted);
            cr_assert_eq(lt_store_verify(s, true, NULL), LT_OK);
            lt_buf_free(&b);
        }
        cr_assert_eq(lt_store_witnessed_count(lt_db_store(n->db, &ids[3])), 1);
        if (round == 0)
            s_node_reopen(n);
    }
    cr_assert_eq(lt_db_store_count(n->db), 4);
    for (size_t i = 1; i < lt_db_store_count(n->db); i++)
        cr_assert_lt(memcmp(lt_store_id(lt_db_store_at(n->db, i - 1))->b,
                            lt_store_id(lt_db_store_at(n->db, i))->b, LT_STORE_ID_LEN),
                     0, "stores are not in id order");

    /* Removing one store leaves the others whole. */
    cr_assert_eq(lt_store_remove(n->db, &ids[1]), LT_OK);
    s_commit(n);
    cr_assert_null(lt_db_store(n->db, &ids[1]));
    cr_assert_eq(lt_store_remove(n->db, &ids[1]), LT_ENOTFOUND);
    s_node_reopen(n);
    cr_assert_eq(lt_db_store_count(n->db), 3);
    cr_assert_null(lt_db_store(n->db, &ids[1]));
    lt_buf_t rows = LT_BUF_INIT;
    for (unsigned cf = LT_CF_INTENTIONS; cf < LT_CF_COUNT; cf++) {
        rows.len = 0;
        s_dump_cf(n->db, &ids[1], cf, &rows);
        cr_assert_eq(memchr(rows.data, '\n', rows.len), rows.data + rows.len - 1,
                     "table %s still has rows of the removed store: %.*s", lt_cf_names[cf],
                     (int)rows.len, (const char *)rows.data);
    }
    lt_buf_free(&rows);
    cr_assert_eq(lt_store_witnessed_count(lt_db_store(n->db, &ids[2])), 3);
    s_expect_value(n, "k", "s0-0");
}

/* ---- failures ---- */

Test(intention_store, a_failed_commit_forgets_the_group_and_the_store_goes_on)
{
    s_node_t *n = &s_nodes[0];
    lt_test_identity(&n->id, 1);
    n->clock = S_T0;
    cr_assert_eq(lt_crypto_init(), LT_OK);
    lt_kv_t *inner, *faulty;
    cr_assert_eq(lt_kv_mem_open(LT_CF_COUNT, &inner), LT_OK);
    cr_assert_eq(lt_kv_faulty_wrap(inner, &faulty), LT_OK);
    lt_db_config_t cfg = {
        .kv = faulty, .identity = &n->id, .now = lt_test_clock_now, .now_ctx = &n->clock};
    lt_errbuf_t eb;
    cr_assert_eq(lt_db_open(&cfg, &n->db, &eb), LT_OK, "%s", eb.msg);
    cr_assert_eq(lt_store_create(n->db, "core:kvstore", &s_sid, &n->st), LT_OK);
    s_put(n, "a", "1");
    s_commit(n);

    n->clock++;
    s_put(n, "b", "2");
    s_put(n, "a", "changed");
    cr_assert_eq(lt_store_witnessed_count(n->st), 3);
    lt_kv_faulty_fail_writes_after(faulty, 0, LT_EIO);
    cr_assert_eq(lt_db_commit(n->db), LT_EIO);
    cr_assert_neq(lt_db_errmsg(n->db)[0], '\0');
    lt_kv_faulty_fail_writes_after(faulty, -1, LT_EIO);

    n->st = lt_db_store(n->db, &s_sid);
    cr_assert_not_null(n->st, "the committed store was closed by the failure");
    cr_assert_eq(lt_store_witnessed_count(n->st), 1, "the failed group is still counted");
    s_expect_value(n, "b", NULL);
    s_expect_value(n, "a", "1");
    lt_hash_t tips[8];
    cr_assert_eq(s_tips(n, &n->id.pk, tips), 1);

    n->clock++;
    s_put(n, "c", "3");
    s_commit(n);
    cr_assert_eq(lt_store_witnessed_count(n->st), 2);
    cr_assert_eq(lt_store_verify(n->st, true, NULL), LT_OK, "%s", lt_db_errmsg(n->db));
    s_expect_value(n, "c", "3");

    /* A store created in the failed group is gone. */
    lt_store_id_t fresh = s_sid;
    fresh.b[15] ^= 0x11;
    cr_assert_eq(lt_store_create(n->db, "core:kvstore", &fresh, NULL), LT_OK);
    lt_kv_faulty_fail_writes_after(faulty, 0, LT_EIO);
    cr_assert_eq(lt_db_commit(n->db), LT_EIO);
    lt_kv_faulty_fail_writes_after(faulty, -1, LT_EIO);
    cr_assert_null(lt_db_store(n->db, &fresh));
    cr_assert_eq(lt_db_store_count(n->db), 1);
}

/* ---- events ---- */

static unsigned s_witnessed_events;

static void s_witnessed_fn(void *ctx, const lt_event_t *ev)
{
    (void)ctx;
    cr_assert_eq(ev->kind, LT_EV_WITNESSED);
    s_witnessed_events++;
    cr_assert_eq(ev->seq, s_witnessed_events, "witness events out of order");
}

Test(intention_store, witnessed_events_follow_the_witness_order)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_MEM, S_T0);
    lt_sub_filter_t f = {.store = s_sid, .kinds = 1u << LT_EV_WITNESSED};
    unsigned id;
    cr_assert_eq(lt_db_subscribe(n->db, &f, s_witnessed_fn, NULL, &id), LT_OK);
    s_put(n, "a", "1");
    s_put(n, "b", "2");
    cr_assert_eq(s_witnessed_events, 0);
    s_commit(n);
    cr_assert_eq(s_witnessed_events, 2);
}

Test(intention_store, verify_passes_on_a_healthy_store)
{
    s_node_t *n = &s_nodes[0];
    s_node_open(n, 1, LT_TEST_ROCKSDB, S_T0);
    cr_assert_eq(lt_store_verify(n->st, true, NULL), LT_OK, "an empty store verifies");
    for (int i = 0; i < 20; i++) {
        char k[8];
        snprintf(k, sizeof k, "k%d", i % 3);
        s_put(n, k, "v");
        if (i % 4 == 0)
            s_commit(n);
    }
    s_commit(n);
    uint64_t bad = 12345;
    cr_assert_eq(lt_store_verify(n->st, true, &bad), LT_OK, "%s", lt_db_errmsg(n->db));
    cr_assert_eq(lt_store_verify(n->st, false, &bad), LT_OK, "%s", lt_db_errmsg(n->db));
    s_node_reopen(n);
    cr_assert_eq(lt_store_verify(n->st, true, &bad), LT_OK, "%s", lt_db_errmsg(n->db));
    cr_assert_eq(lt_store_witnessed_count(n->st), 20);
}
