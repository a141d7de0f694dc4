/* The write transaction (store/txn.h): an overlay of staged puts and deletes
 * over a backend, read-your-writes through lt_txn_get, one atomic batch on
 * commit, nothing on abort, and a failed commit that keeps the overlay so the
 * caller can retry or abort. Runs on the memory backend, wrapped by the
 * failure-injecting backend where a test needs a write to fail. */
#include "store/kv_faulty.h"
#include "store/tables.h"
#include "store/txn.h"

#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

static lt_kv_t *s_kv;
static lt_txn_t *s_txn;

static void s_setup(void)
{
    cr_assert_eq(lt_kv_mem_open(LT_CF_COUNT, &s_kv), LT_OK);
    s_txn = lt_txn_new(s_kv);
    cr_assert_not_null(s_txn);
}

static void s_teardown(void)
{
    lt_txn_destroy(&s_txn);
    lt_kv_close(&s_kv);
}

/* Wraps the backend so that writes can be made to fail. */
static void s_setup_faulty(void)
{
    s_teardown(); /* Criterion ran the suite's .init first */
    lt_kv_t *inner;
    cr_assert_eq(lt_kv_mem_open(LT_CF_COUNT, &inner), LT_OK);
    cr_assert_eq(lt_kv_faulty_wrap(inner, &s_kv), LT_OK);
    s_txn = lt_txn_new(s_kv);
    cr_assert_not_null(s_txn);
}

TestSuite(txn, .init = s_setup, .fini = s_teardown);

static const uint8_t *s_b(const char *s)
{
    return (const uint8_t *)s;
}

static void s_put(unsigned cf, const char *k, const char *v)
{
    cr_assert_eq(lt_txn_put(s_txn, cf, s_b(k), strlen(k), s_b(v), strlen(v)), LT_OK);
}

static void s_del(unsigned cf, const char *k)
{
    cr_assert_eq(lt_txn_del(s_txn, cf, s_b(k), strlen(k)), LT_OK);
}

/* Asserts the value seen through the transaction (NULL: absent). */
static void s_expect_txn(unsigned cf, const char *k, const char *v)
{
    lt_buf_t b = LT_BUF_INIT;
    lt_err_t rc = lt_txn_get(s_txn, cf, s_b(k), strlen(k), &b);
    if (!v) {
        cr_assert_eq(rc, LT_ENOTFOUND, "txn get %s: expected absent, got %s", k, lt_errname(rc));
    } else {
        cr_assert_eq(rc, LT_OK, "txn get %s: %s", k, lt_errname(rc));
        cr_assert_eq(b.len, strlen(v), "txn get %s: length %zu", k, b.len);
        cr_assert(b.len == 0 || memcmp(b.data, v, b.len) == 0, "txn get %s: wrong value", k);
    }
    lt_buf_free(&b);
}

/* Asserts the committed value in the backend (NULL: absent). */
static void s_expect_kv(unsigned cf, const char *k, const char *v)
{
    lt_buf_t b = LT_BUF_INIT;
    lt_err_t rc = lt_kv_get(s_kv, cf, s_b(k), strlen(k), &b);
    if (!v) {
        cr_assert_eq(rc, LT_ENOTFOUND, "kv get %s: expected absent, got %s", k, lt_errname(rc));
    } else {
        cr_assert_eq(rc, LT_OK, "kv get %s: %s", k, lt_errname(rc));
        cr_assert_eq(b.len, strlen(v), "kv get %s: length %zu", k, b.len);
        cr_assert(b.len == 0 || memcmp(b.data, v, b.len) == 0, "kv get %s: wrong value", k);
    }
    lt_buf_free(&b);
}

/* Writes straight to the backend, bypassing the transaction. */
static void s_kv_put(unsigned cf, const char *k, const char *v)
{
    lt_kv_op_t op = {(uint8_t)cf, false, s_b(k), strlen(k), s_b(v), strlen(v)};
    lt_kv_batch_t b = {&op, 1};
    cr_assert_eq(lt_kv_write(s_kv, &b, true), LT_OK);
}

Test(txn, reads_its_own_writes_before_commit)
{
    s_put(LT_CF_APP, "alpha", "1");
    s_expect_txn(LT_CF_APP, "alpha", "1");
    s_expect_kv(LT_CF_APP, "alpha", NULL);
    cr_assert_eq(lt_txn_get(s_txn, LT_CF_APP, s_b("alpha"), 5, NULL), LT_OK,
                 "existence test with a NULL buffer");
    s_put(LT_CF_APP, "alpha", "22");
    s_expect_txn(LT_CF_APP, "alpha", "22");
    cr_assert_eq(lt_txn_size(s_txn), 1, "a key written twice is staged once");
}

Test(txn, reads_through_to_committed_data)
{
    s_kv_put(LT_CF_META, "k", "committed");
    s_expect_txn(LT_CF_META, "k", "committed");
    s_put(LT_CF_META, "k", "staged");
    s_expect_txn(LT_CF_META, "k", "staged");
    s_expect_kv(LT_CF_META, "k", "committed");
}

Test(txn, keeps_column_families_apart)
{
    s_put(LT_CF_APP, "same", "app");
    s_put(LT_CF_SYSTEM, "same", "system");
    s_expect_txn(LT_CF_APP, "same", "app");
    s_expect_txn(LT_CF_SYSTEM, "same", "system");
    s_expect_txn(LT_CF_META, "same", NULL);
    cr_assert_eq(lt_txn_commit(s_txn, true), LT_OK);
    s_expect_kv(LT_CF_APP, "same", "app");
    s_expect_kv(LT_CF_SYSTEM, "same", "system");
    s_expect_kv(LT_CF_META, "same", NULL);
}

Test(txn, a_staged_delete_hides_a_committed_key)
{
    s_kv_put(LT_CF_APP, "gone", "v");
    s_del(LT_CF_APP, "gone");
    s_expect_txn(LT_CF_APP, "gone", NULL);
    cr_assert_eq(lt_txn_get(s_txn, LT_CF_APP, s_b("gone"), 4, NULL), LT_ENOTFOUND);
    s_expect_kv(LT_CF_APP, "gone", "v");
    cr_assert_eq(lt_txn_commit(s_txn, true), LT_OK);
    s_expect_kv(LT_CF_APP, "gone", NULL);
    s_expect_txn(LT_CF_APP, "gone", NULL);
}

Test(txn, a_put_after_a_delete_in_one_transaction_wins)
{
    s_kv_put(LT_CF_APP, "k", "old");
    s_del(LT_CF_APP, "k");
    s_put(LT_CF_APP, "k", "new");
    s_expect_txn(LT_CF_APP, "k", "new");
    cr_assert_eq(lt_txn_commit(s_txn, true), LT_OK);
    s_expect_kv(LT_CF_APP, "k", "new");
}

Test(txn, an_empty_value_is_a_value_not_a_delete)
{
    s_put(LT_CF_APP, "empty", "");
    s_expect_txn(LT_CF_APP, "empty", "");
    cr_assert_eq(lt_txn_commit(s_txn, false), LT_OK);
    s_expect_kv(LT_CF_APP, "empty", "");
}

Test(txn, commit_writes_every_staged_change)
{
    /* Enough keys to grow the table several times (it starts at 256 slots). */
    enum { N = 3000 };
    char k[32], v[32];
    for (int i = 0; i < N; i++) {
        snprintf(k, sizeof k, "key-%05d", i);
        snprintf(v, sizeof v, "value-%d", i * 7);
        s_put(LT_CF_INTENTIONS + (unsigned)(i % 5), k, v);
    }
    for (int i = 0; i < N; i += 3) {
        snprintf(k, sizeof k, "key-%05d", i);
        s_del(LT_CF_INTENTIONS + (unsigned)(i % 5), k);
    }
    cr_assert_eq(lt_txn_size(s_txn), N);
    cr_assert_gt(lt_txn_bytes(s_txn), 0);
    for (int i = 0; i < N; i++) {
        snprintf(k, sizeof k, "key-%05d", i);
        snprintf(v, sizeof v, "value-%d", i * 7);
        s_expect_txn(LT_CF_INTENTIONS + (unsigned)(i % 5), k, i % 3 ? v : NULL);
    }
    cr_assert_eq(lt_txn_commit(s_txn, true), LT_OK);
    cr_assert_eq(lt_txn_size(s_txn), 0, "a commit empties the overlay");
    cr_assert_eq(lt_txn_bytes(s_txn), 0);
    for (int i = 0; i < N; i++) {
        snprintf(k, sizeof k, "key-%05d", i);
        snprintf(v, sizeof v, "value-%d", i * 7);
        s_expect_kv(LT_CF_INTENTIONS + (unsigned)(i % 5), k, i % 3 ? v : NULL);
    }
}

Test(txn, abort_forgets_every_staged_change)
{
    s_kv_put(LT_CF_APP, "kept", "committed");
    s_put(LT_CF_APP, "new", "staged");
    s_put(LT_CF_APP, "kept", "overwritten");
    s_del(LT_CF_APP, "kept");
    lt_txn_abort(s_txn);
    cr_assert_eq(lt_txn_size(s_txn), 0);
    s_expect_txn(LT_CF_APP, "new", NULL);
    s_expect_txn(LT_CF_APP, "kept", "committed");
    /* A commit after the abort writes nothing of it. */
    cr_assert_eq(lt_txn_commit(s_txn, true), LT_OK);
    s_expect_kv(LT_CF_APP, "new", NULL);
    s_expect_kv(LT_CF_APP, "kept", "committed");
    /* The transaction is usable again. */
    s_put(LT_CF_APP, "after", "x");
    cr_assert_eq(lt_txn_commit(s_txn, true), LT_OK);
    s_expect_kv(LT_CF_APP, "after", "x");
}

Test(txn, an_empty_commit_does_not_write, .init = s_setup_faulty)
{
    long before = lt_kv_faulty_writes(s_kv);
    cr_assert_eq(lt_txn_commit(s_txn, true), LT_OK);
    cr_assert_eq(lt_kv_faulty_writes(s_kv), before, "an empty commit called write()");
}

Test(txn, a_failed_commit_keeps_the_overlay_intact, .init = s_setup_faulty)
{
    s_kv_put(LT_CF_APP, "old", "committed");
    s_put(LT_CF_APP, "a", "1");
    s_put(LT_CF_META, "b", "2");
    s_del(LT_CF_APP, "old");
    size_t size = lt_txn_size(s_txn), bytes = lt_txn_bytes(s_txn);

    lt_kv_faulty_fail_writes_after(s_kv, 0, LT_EIO);
    cr_assert_eq(lt_txn_commit(s_txn, true), LT_EIO);
    /* Nothing reached the backend... */
    s_expect_kv(LT_CF_APP, "a", NULL);
    s_expect_kv(LT_CF_META, "b", NULL);
    s_expect_kv(LT_CF_APP, "old", "committed");
    /* ...and the overlay is exactly as it was. */
    cr_assert_eq(lt_txn_size(s_txn), size);
    cr_assert_eq(lt_txn_bytes(s_txn), bytes);
    s_expect_txn(LT_CF_APP, "a", "1");
    s_expect_txn(LT_CF_META, "b", "2");
    s_expect_txn(LT_CF_APP, "old", NULL);

    /* A second failure changes nothing either; then a retry succeeds. */
    cr_assert_eq(lt_txn_commit(s_txn, false), LT_EIO);
    lt_kv_faulty_fail_writes_after(s_kv, -1, LT_EIO);
    cr_assert_eq(lt_txn_commit(s_txn, true), LT_OK);
    s_expect_kv(LT_CF_APP, "a", "1");
    s_expect_kv(LT_CF_META, "b", "2");
    s_expect_kv(LT_CF_APP, "old", NULL);
    cr_assert_eq(lt_txn_size(s_txn), 0);
}

Test(txn, a_failed_commit_can_be_aborted, .init = s_setup_faulty)
{
    s_put(LT_CF_APP, "a", "1");
    lt_kv_faulty_fail_writes_after(s_kv, 0, LT_ECORRUPT);
    cr_assert_eq(lt_txn_commit(s_txn, true), LT_ECORRUPT);
    lt_txn_abort(s_txn);
    lt_kv_faulty_fail_writes_after(s_kv, -1, LT_EIO);
    s_expect_txn(LT_CF_APP, "a", NULL);
    cr_assert_eq(lt_txn_commit(s_txn, true), LT_OK);
    s_expect_kv(LT_CF_APP, "a", NULL);
}

Test(txn, binary_keys_with_zero_bytes_are_distinct)
{
    const uint8_t k1[] = {0, 1, 2}, k2[] = {0, 1, 3}, k3[] = {0, 1};
    cr_assert_eq(lt_txn_put(s_txn, LT_CF_APP, k1, sizeof k1, s_b("x"), 1), LT_OK);
    cr_assert_eq(lt_txn_put(s_txn, LT_CF_APP, k2, sizeof k2, s_b("y"), 1), LT_OK);
    cr_assert_eq(lt_txn_get(s_txn, LT_CF_APP, k3, sizeof k3, NULL), LT_ENOTFOUND,
                 "a prefix of a staged key is not that key");
    lt_buf_t b = LT_BUF_INIT;
    cr_assert_eq(lt_txn_get(s_txn, LT_CF_APP, k2, sizeof k2, &b), LT_OK);
    cr_assert_eq(b.len, 1);
    cr_assert_eq(b.data[0], 'y');
    lt_buf_free(&b);
    cr_assert_eq(lt_txn_size(s_txn), 2);
}
