/* The storage port's contract, checked against every backend: the same suite
 * runs on memory, RocksDB, the log and the failure-injecting wrapper (over
 * memory), so
 * the simulator's backend cannot drift from production's. Backend-specific
 * behaviour (persistence, locking, injected failures) follows, then a
 * randomized differential test against a plain sorted-array model. */
#include "store/kv.h"
#include "store/kv_faulty.h"
#include "store/kv_log.h"
#include "support/testutil.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define S_NCF 3

typedef enum { S_MEMORY, S_ROCKSDB, S_FAULTY, S_LOG } s_kind_t;

static const char *const s_cf_names[S_NCF] = {"alpha", "beta", "gamma"};

/* Criterion runs each test in its own process and gives .fini no argument,
 * so what a test opened is recorded here for the teardown to close. */
static struct {
    lt_kv_t *kv[3];
    char dir[PATH_MAX];
} s_fx;

/* ---- temporary directories ---------------------------------------------- */

static void s_mkdir_p(const char *path)
{
    char buf[PATH_MAX];
    int n = snprintf(buf, sizeof buf, "%s", path);
    cr_assert(n > 0 && (size_t)n < sizeof buf, "path too long: %s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        cr_assert(mkdir(buf, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", buf, strerror(errno));
        *p = '/';
    }
    cr_assert(mkdir(buf, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", buf, strerror(errno));
}

static void s_rm_rf(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        const struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char sub[PATH_MAX];
            if (snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) < (int)sizeof sub)
                s_rm_rf(sub);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* Creates the test's directory (removed by s_fx_close). */
static const char *s_fx_tmpdir(void)
{
    const char *base = getenv("LT_TEST_TMP");
    if (!base || !*base)
        base = "/tmp";
    s_mkdir_p(base);
    int n = snprintf(s_fx.dir, sizeof s_fx.dir, "%s/test-kv-XXXXXX", base);
    cr_assert(n > 0 && (size_t)n < sizeof s_fx.dir);
    cr_assert_not_null(mkdtemp(s_fx.dir), "mkdtemp under %s: %s", base, strerror(errno));
    return s_fx.dir;
}

static void s_path(char *out, const char *name)
{
    int n = snprintf(out, PATH_MAX, "%s/%s", s_fx.dir, name);
    cr_assert(n > 0 && n < PATH_MAX);
}

static void s_fx_close(void)
{
    for (size_t i = 0; i < sizeof s_fx.kv / sizeof s_fx.kv[0]; i++)
        lt_kv_close(&s_fx.kv[i]);
    if (s_fx.dir[0])
        s_rm_rf(s_fx.dir);
    s_fx.dir[0] = '\0';
}

static lt_kv_t *s_open_rocksdb(const char *path, bool create)
{
    lt_kv_rocksdb_opts_t opts = {.create_if_missing = create, .paranoid = true};
    lt_errbuf_t eb;
    lt_kv_t *kv = NULL;
    lt_err_t rc = lt_kv_rocksdb_open(path, s_cf_names, S_NCF, &opts, &eb, &kv);
    cr_assert_eq(rc, LT_OK, "open %s: %s: %s", path, lt_errname(rc), eb.msg);
    return kv;
}

static lt_kv_t *s_open_log(const char *path, bool create)
{
    lt_kv_log_opts_t opts = {.create_if_missing = create};
    lt_errbuf_t eb = {""};
    lt_kv_t *kv = NULL;
    lt_err_t rc = lt_kv_log_open(path, S_NCF, &opts, &eb, &kv);
    cr_assert_eq(rc, LT_OK, "open %s: %s: %s", path, lt_errname(rc), eb.msg);
    return kv;
}

static lt_kv_t *s_open(s_kind_t kind)
{
    lt_kv_t *kv = NULL;
    switch (kind) {
    case S_MEMORY:
        cr_assert_eq(lt_kv_mem_open(S_NCF, &kv), LT_OK);
        break;
    case S_ROCKSDB: {
        char path[PATH_MAX];
        s_fx_tmpdir();
        s_path(path, "db");
        kv = s_open_rocksdb(path, true);
        break;
    }
    case S_LOG: {
        char path[PATH_MAX];
        s_fx_tmpdir();
        s_path(path, "log");
        kv = s_open_log(path, true);
        break;
    }
    case S_FAULTY: {
        lt_kv_t *inner = NULL;
        cr_assert_eq(lt_kv_mem_open(S_NCF, &inner), LT_OK);
        cr_assert_eq(lt_kv_faulty_wrap(inner, &kv), LT_OK);
        break;
    }
    }
    return kv;
}

static lt_kv_t *s_fx_open(s_kind_t kind)
{
    s_fx.kv[0] = s_open(kind);
    return s_fx.kv[0];
}

/* A behaviour test, run once per backend. */
#define KV_TEST(name)                                                                              \
    static void s_test_##name(lt_kv_t *kv);                                                        \
    ParameterizedTestParameters(kv, name)                                                          \
    {                                                                                              \
        static s_kind_t kinds[] = {S_MEMORY, S_ROCKSDB, S_FAULTY, S_LOG};                          \
        return cr_make_param_array(s_kind_t, kinds, sizeof kinds / sizeof kinds[0]);               \
    }                                                                                              \
    ParameterizedTest(s_kind_t *kind, kv, name, .fini = s_fx_close)                                \
    {                                                                                              \
        s_test_##name(s_fx_open(*kind));                                                           \
    }                                                                                              \
    static void s_test_##name(lt_kv_t *kv)

/* ---- helpers ------------------------------------------------------------- */

static lt_kv_op_t s_op(unsigned cf, const void *k, size_t klen, const char *v)
{
    lt_kv_op_t op = {.cf = (uint8_t)cf, .del = v == NULL, .key = k, .klen = klen};
    if (v) {
        op.value = (const uint8_t *)v;
        op.vlen = strlen(v);
    }
    return op;
}

static void s_apply(lt_kv_t *kv, const lt_kv_op_t *ops, size_t n)
{
    lt_kv_batch_t b = {ops, n};
    lt_err_t rc = lt_kv_write(kv, &b, false);
    cr_assert_eq(rc, LT_OK, "%s: write: %s: %s", kv->ops->name, lt_errname(rc), lt_kv_errmsg(kv));
}

static void s_putn(lt_kv_t *kv, unsigned cf, const void *k, size_t klen, const char *v)
{
    lt_kv_op_t op = s_op(cf, k, klen, v);
    s_apply(kv, &op, 1);
}

static void s_put(lt_kv_t *kv, unsigned cf, const char *k, const char *v)
{
    s_putn(kv, cf, k, strlen(k), v);
}

static void s_del(lt_kv_t *kv, unsigned cf, const char *k)
{
    s_putn(kv, cf, k, strlen(k), NULL);
}

/* Checks the value of k (NULL: absent) through snap. */
static void s_expect_at(lt_kv_t *kv, const lt_kv_snapshot_t *snap, unsigned cf, const char *k,
                        const char *v)
{
    lt_buf_t out = LT_BUF_INIT;
    lt_err_t rc = kv->ops->get(kv->self, snap, cf, (const uint8_t *)k, strlen(k), &out);
    if (!v) {
        cr_assert_eq(rc, LT_ENOTFOUND, "%s: cf %u key '%s' should be absent, got %s", kv->ops->name,
                     cf, k, lt_errname(rc));
    } else {
        cr_assert_eq(rc, LT_OK, "%s: cf %u key '%s': %s", kv->ops->name, cf, k, lt_errname(rc));
        cr_assert(out.len == strlen(v) && (out.len == 0 || memcmp(out.data, v, out.len) == 0),
                  "%s: cf %u key '%s': got '%.*s', want '%s'", kv->ops->name, cf, k, (int)out.len,
                  out.data ? (const char *)out.data : "", v);
    }
    lt_buf_free(&out);
}

static void s_expect(lt_kv_t *kv, unsigned cf, const char *k, const char *v)
{
    s_expect_at(kv, NULL, cf, k, v);
}

/* Printable form of a byte string: bytes outside 0x21..0x7e as \xHH. */
static void s_repr(lt_buf_t *out, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char tmp[5];
        int len = p[i] > 0x20 && p[i] < 0x7f && p[i] != '\\' && p[i] != '=' && p[i] != ';'
                      ? snprintf(tmp, sizeof tmp, "%c", p[i])
                      : snprintf(tmp, sizeof tmp, "\\x%02x", p[i]);
        cr_assert_eq(lt_buf_append(out, tmp, (size_t)len), LT_OK);
    }
}

static char *s_buf_str(lt_buf_t *b)
{
    cr_assert_eq(lt_buf_append(b, "", 1), LT_OK);
    return (char *)b->data;
}

/* Lists the family as "k=v;k=v;" scanning with it in the given direction,
 * always in ascending key order (a backward scan is listed reversed). */
static char *s_listing(lt_kv_t *kv, lt_kv_iter_t *it, bool forward)
{
    size_t n = 0, cap = 16;
    lt_buf_t *entries = calloc(cap, sizeof *entries);
    cr_assert_not_null(entries);
    if (forward)
        kv->ops->iter_seek_first(it);
    else
        kv->ops->iter_seek_last(it);
    while (kv->ops->iter_valid(it)) {
        if (n == cap) {
            cap *= 2;
            lt_buf_t *grown = realloc(entries, cap * sizeof *entries);
            cr_assert_not_null(grown);
            entries = grown;
        }
        lt_buf_t e = LT_BUF_INIT;
        size_t klen, vlen;
        const uint8_t *k = kv->ops->iter_key(it, &klen);
        const uint8_t *v = kv->ops->iter_value(it, &vlen);
        s_repr(&e, k, klen);
        cr_assert_eq(lt_buf_append(&e, "=", 1), LT_OK);
        s_repr(&e, v, vlen);
        cr_assert_eq(lt_buf_append(&e, ";", 1), LT_OK);
        entries[n++] = e;
        if (forward)
            kv->ops->iter_next(it);
        else
            kv->ops->iter_prev(it);
    }
    cr_assert_eq(kv->ops->iter_status(it), LT_OK);
    lt_buf_t all = LT_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        const lt_buf_t *e = &entries[forward ? i : n - 1 - i];
        cr_assert_eq(lt_buf_append(&all, e->data, e->len), LT_OK);
    }
    for (size_t i = 0; i < n; i++)
        lt_buf_free(&entries[i]);
    free(entries);
    return s_buf_str(&all);
}

/* Checks a whole family, scanned both ways, through snap (NULL: latest). */
static void s_expect_scan_at(lt_kv_t *kv, const lt_kv_snapshot_t *snap, unsigned cf,
                             const char *want)
{
    lt_kv_iter_t *it = NULL;
    cr_assert_eq(kv->ops->iter_new(kv->self, snap, cf, &it), LT_OK);
    cr_assert_not(kv->ops->iter_valid(it), "%s: a new iterator is unpositioned", kv->ops->name);
    char *fwd = s_listing(kv, it, true);
    char *back = s_listing(kv, it, false);
    kv->ops->iter_free(it);
    cr_assert_str_eq(fwd, want, "%s: cf %u forward scan", kv->ops->name, cf);
    cr_assert_str_eq(back, want, "%s: cf %u backward scan", kv->ops->name, cf);
    free(fwd);
    free(back);
}

static void s_expect_scan(lt_kv_t *kv, unsigned cf, const char *want)
{
    s_expect_scan_at(kv, NULL, cf, want);
}

/* The iterator's current key, printable ("<end>" when invalid). */
static char *s_at(lt_kv_t *kv, const lt_kv_iter_t *it)
{
    lt_buf_t b = LT_BUF_INIT;
    if (!kv->ops->iter_valid(it)) {
        cr_assert_eq(lt_buf_append(&b, "<end>", 5), LT_OK);
    } else {
        size_t klen;
        const uint8_t *k = kv->ops->iter_key(it, &klen);
        s_repr(&b, k, klen);
    }
    return s_buf_str(&b);
}

static void s_expect_at_key(lt_kv_t *kv, const lt_kv_iter_t *it, const char *want, const char *what)
{
    char *got = s_at(kv, it);
    cr_assert_str_eq(got, want, "%s: %s", kv->ops->name, what);
    free(got);
}

/* ---- point reads and writes ---------------------------------------------- */

KV_TEST(put_then_get_returns_the_value)
{
    s_put(kv, 0, "apple", "red");
    s_put(kv, 0, "banana", "yellow");
    s_expect(kv, 0, "apple", "red");
    s_expect(kv, 0, "banana", "yellow");
}

KV_TEST(absent_key_is_not_found)
{
    s_expect(kv, 0, "nothing", NULL);
    s_put(kv, 0, "something", "x");
    s_expect(kv, 0, "nothing", NULL);
    s_expect(kv, 0, "somethin", NULL);
    s_expect(kv, 0, "somethingg", NULL);
    s_expect(kv, 1, "something", NULL);
}

KV_TEST(get_with_null_out_tells_existence)
{
    s_put(kv, 0, "k", "v");
    cr_assert_eq(kv->ops->get(kv->self, NULL, 0, (const uint8_t *)"k", 1, NULL), LT_OK);
    cr_assert_eq(kv->ops->get(kv->self, NULL, 0, (const uint8_t *)"x", 1, NULL), LT_ENOTFOUND);
}

KV_TEST(get_replaces_the_contents_of_out)
{
    s_put(kv, 0, "k", "new");
    lt_buf_t out = LT_BUF_INIT;
    cr_assert_eq(lt_buf_set(&out, "old contents", 12), LT_OK);
    cr_assert_eq(lt_kv_get(kv, 0, (const uint8_t *)"k", 1, &out), LT_OK);
    cr_assert(out.len == 3 && memcmp(out.data, "new", 3) == 0);
    lt_buf_free(&out);
}

KV_TEST(delete_removes_the_key_and_tolerates_absent_keys)
{
    s_put(kv, 0, "a", "1");
    s_put(kv, 0, "b", "2");
    s_del(kv, 0, "a");
    s_del(kv, 0, "never-there");
    s_expect(kv, 0, "a", NULL);
    s_expect(kv, 0, "b", "2");
    s_expect_scan(kv, 0, "b=2;");
}

KV_TEST(overwrite_replaces_the_value_and_empty_keys_and_values_work)
{
    s_put(kv, 0, "k", "first");
    s_put(kv, 0, "k", "second");
    s_put(kv, 0, "", "empty key");
    s_put(kv, 0, "e", "");
    s_expect(kv, 0, "k", "second");
    s_expect(kv, 0, "", "empty key");
    s_expect(kv, 0, "e", "");
    s_expect_scan(kv, 0, "=empty\\x20key;e=;k=second;");
}

KV_TEST(batch_applies_its_ops_in_order_so_the_later_op_on_a_key_wins)
{
    s_put(kv, 0, "gone", "x");
    s_put(kv, 0, "back", "x");
    lt_kv_op_t ops[] = {
        s_op(0, "a", 1, "1"),     s_op(0, "a", 1, "2"),     s_op(0, "b", 1, NULL),
        s_op(0, "b", 1, "3"),     s_op(0, "c", 1, "4"),     s_op(0, "c", 1, NULL),
        s_op(0, "gone", 4, NULL), s_op(0, "back", 4, NULL), s_op(0, "back", 4, "again"),
        s_op(1, "a", 1, "other"), s_op(0, "new", 3, "n1"),  s_op(0, "new", 3, "n2"),
    };
    s_apply(kv, ops, sizeof ops / sizeof ops[0]);
    s_expect_scan(kv, 0, "a=2;b=3;back=again;new=n2;");
    s_expect_scan(kv, 1, "a=other;");
}

KV_TEST(empty_batch_is_a_no_op)
{
    s_put(kv, 0, "k", "v");
    lt_kv_batch_t empty = {NULL, 0};
    cr_assert_eq(lt_kv_write(kv, &empty, true), LT_OK);
    cr_assert_eq(lt_kv_write(kv, &empty, false), LT_OK);
    s_expect_scan(kv, 0, "k=v;");
}

KV_TEST(synced_batches_are_read_back)
{
    lt_kv_op_t ops[] = {s_op(0, "s", 1, "synced"), s_op(2, "t", 1, "too")};
    lt_kv_batch_t b = {ops, 2};
    cr_assert_eq(lt_kv_write(kv, &b, true), LT_OK);
    s_expect(kv, 0, "s", "synced");
    s_expect(kv, 2, "t", "too");
    cr_assert_eq(kv->ops->flush(kv->self), LT_OK);
    s_expect(kv, 0, "s", "synced");
}

KV_TEST(batch_naming_an_unknown_column_family_applies_nothing)
{
    lt_kv_op_t ops[] = {s_op(0, "a", 1, "1"), s_op(S_NCF, "b", 1, "2")};
    lt_kv_batch_t b = {ops, 2};
    cr_assert_eq(lt_kv_write(kv, &b, false), LT_EINVAL);
    cr_assert_neq(lt_kv_errmsg(kv)[0], '\0', "%s: errmsg says why", kv->ops->name);
    s_expect(kv, 0, "a", NULL);
    cr_assert_eq(lt_kv_get(kv, S_NCF, (const uint8_t *)"a", 1, NULL), LT_EINVAL);
    lt_kv_iter_t *it = NULL;
    cr_assert_eq(lt_kv_iter_new(kv, S_NCF, &it), LT_EINVAL);
}

/* ---- order and iteration -------------------------------------------------- */

KV_TEST(keys_sort_bytewise_unsigned_with_a_prefix_first)
{
    static const struct {
        const char *k;
        size_t klen;
    } keys[] = {
        {"\xff\x00", 2}, {"ab", 2},  {"\x80", 1}, {"", 0},     {"a\x00", 2}, {"b", 1},
        {"\x7f", 1},     {"abc", 3}, {"\xff", 1}, {"\x00", 1}, {"a", 1},     {"\x00\x00", 2},
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        s_putn(kv, 1, keys[i].k, keys[i].klen, "v");
    s_expect_scan(kv, 1,
                  "=v;\\x00=v;\\x00\\x00=v;a=v;a\\x00=v;ab=v;abc=v;b=v;\\x7f=v;\\x80=v;"
                  "\\xff=v;\\xff\\x00=v;");
}

KV_TEST(seeks_land_on_the_right_neighbours)
{
    lt_kv_iter_t *it = NULL;
    cr_assert_eq(lt_kv_iter_new(kv, 0, &it), LT_OK);
    kv->ops->iter_seek_first(it);
    s_expect_at_key(kv, it, "<end>", "seek_first on an empty family");
    kv->ops->iter_seek_last(it);
    s_expect_at_key(kv, it, "<end>", "seek_last on an empty family");
    kv->ops->iter_free(it);

    s_put(kv, 0, "b", "1");
    s_put(kv, 0, "d", "2");
    s_put(kv, 0, "d\x01", "3");
    s_put(kv, 0, "f", "4");
    cr_assert_eq(lt_kv_iter_new(kv, 0, &it), LT_OK);
    const struct {
        const char *key;
        size_t klen;
        const char *ge; /* seek */
        const char *le; /* seek_for_prev */
    } cases[] = {
        {"", 0, "b", "<end>"},
        {"a", 1, "b", "<end>"},
        {"b", 1, "b", "b"},
        {"c", 1, "d", "b"},
        {"d", 1, "d", "d"},
        {"d\x00", 2, "d\\x01", "d"},
        {"d\x01", 2, "d\\x01", "d\\x01"},
        {"e", 1, "f", "d\\x01"},
        {"f", 1, "f", "f"},
        {"g", 1, "<end>", "f"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kv->ops->iter_seek(it, (const uint8_t *)cases[i].key, cases[i].klen);
        s_expect_at_key(kv, it, cases[i].ge, "seek");
        kv->ops->iter_seek_for_prev(it, (const uint8_t *)cases[i].key, cases[i].klen);
        s_expect_at_key(kv, it, cases[i].le, "seek_for_prev");
    }
    kv->ops->iter_seek(it, (const uint8_t *)"c", 1);
    kv->ops->iter_prev(it);
    s_expect_at_key(kv, it, "b", "prev after seek");
    kv->ops->iter_prev(it);
    s_expect_at_key(kv, it, "<end>", "prev before the first key");
    kv->ops->iter_seek_for_prev(it, (const uint8_t *)"e", 1);
    kv->ops->iter_next(it);
    s_expect_at_key(kv, it, "f", "next after seek_for_prev");
    kv->ops->iter_next(it);
    s_expect_at_key(kv, it, "<end>", "next after the last key");
    kv->ops->iter_seek_last(it);
    s_expect_at_key(kv, it, "f", "seek_last");
    kv->ops->iter_seek_first(it);
    s_expect_at_key(kv, it, "b", "seek_first");
    cr_assert_eq(kv->ops->iter_status(it), LT_OK);
    kv->ops->iter_free(it);
}

KV_TEST(column_families_are_independent)
{
    s_put(kv, 0, "k", "zero");
    s_put(kv, 1, "k", "one");
    s_put(kv, 1, "m", "one-m");
    s_put(kv, 0, "a", "zero-a");
    s_del(kv, 2, "k");
    s_expect_scan(kv, 0, "a=zero-a;k=zero;");
    s_expect_scan(kv, 1, "k=one;m=one-m;");
    s_expect_scan(kv, 2, "");
    s_del(kv, 1, "k");
    s_expect(kv, 0, "k", "zero");

    lt_kv_iter_t *it = NULL;
    cr_assert_eq(lt_kv_iter_new(kv, 1, &it), LT_OK);
    kv->ops->iter_seek(it, (const uint8_t *)"a", 1);
    s_expect_at_key(kv, it, "m", "seek in family 1 ignores family 0");
    kv->ops->iter_seek_for_prev(it, (const uint8_t *)"l", 1);
    s_expect_at_key(kv, it, "<end>", "seek_for_prev in family 1 ignores family 0");
    kv->ops->iter_free(it);
}

KV_TEST(prefix_iteration_stops_where_the_prefix_ends)
{
    const char *keys[] = {"a", "ab", "ab\x01", "ab\xff", "abc", "abd\x80", "ac", "b"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        s_put(kv, 0, keys[i], keys[i]);
    lt_kv_iter_t *it = NULL;
    cr_assert_eq(lt_kv_iter_new(kv, 0, &it), LT_OK);
    cr_assert_not(lt_kv_iter_has_prefix(kv, it, (const uint8_t *)"ab", 2),
                  "an unpositioned iterator has no prefix");

    lt_buf_t seen = LT_BUF_INIT;
    for (kv->ops->iter_seek(it, (const uint8_t *)"ab", 2);
         lt_kv_iter_has_prefix(kv, it, (const uint8_t *)"ab", 2); kv->ops->iter_next(it)) {
        size_t klen;
        const uint8_t *k = kv->ops->iter_key(it, &klen);
        s_repr(&seen, k, klen);
        cr_assert_eq(lt_buf_append(&seen, ",", 1), LT_OK);
    }
    cr_assert_str_eq(s_buf_str(&seen), "ab,ab\\x01,abc,abd\\x80,ab\\xff,");
    lt_buf_free(&seen);

    size_t n = 0;
    for (kv->ops->iter_seek(it, NULL, 0); lt_kv_iter_has_prefix(kv, it, NULL, 0);
         kv->ops->iter_next(it))
        n++;
    cr_assert_eq(n, sizeof keys / sizeof keys[0], "the empty prefix matches every key");

    kv->ops->iter_seek(it, (const uint8_t *)"abz", 3);
    cr_assert_not(lt_kv_iter_has_prefix(kv, it, (const uint8_t *)"abz", 3));
    kv->ops->iter_seek(it, (const uint8_t *)"z", 1);
    cr_assert_not(lt_kv_iter_has_prefix(kv, it, (const uint8_t *)"z", 1));
    kv->ops->iter_free(it);
}

/* ---- snapshots and iterators across writes -------------------------------- */

KV_TEST(snapshot_does_not_see_later_writes)
{
    s_put(kv, 0, "a", "1");
    s_put(kv, 0, "c", "3");
    s_put(kv, 1, "x", "x1");
    lt_kv_snapshot_t *snap = NULL;
    cr_assert_eq(kv->ops->snapshot_new(kv->self, &snap), LT_OK);

    s_put(kv, 0, "a", "2");
    s_put(kv, 0, "b", "new");
    s_del(kv, 0, "c");
    s_del(kv, 1, "x");
    s_put(kv, 1, "x", "x2");

    s_expect_at(kv, snap, 0, "a", "1");
    s_expect_at(kv, snap, 0, "b", NULL);
    s_expect_at(kv, snap, 0, "c", "3");
    s_expect_at(kv, snap, 1, "x", "x1");
    s_expect_scan_at(kv, snap, 0, "a=1;c=3;");
    s_expect_scan_at(kv, snap, 1, "x=x1;");
    s_expect_scan(kv, 0, "a=2;b=new;");
    s_expect_scan(kv, 1, "x=x2;");

    /* A second snapshot sees the state at its own moment. */
    lt_kv_snapshot_t *snap2 = NULL;
    cr_assert_eq(kv->ops->snapshot_new(kv->self, &snap2), LT_OK);
    s_del(kv, 0, "a");
    s_expect_scan_at(kv, snap2, 0, "a=2;b=new;");
    s_expect_scan_at(kv, snap, 0, "a=1;c=3;");
    kv->ops->snapshot_release(kv->self, snap);
    s_expect_scan_at(kv, snap2, 0, "a=2;b=new;");
    kv->ops->snapshot_release(kv->self, snap2);
    s_expect_scan(kv, 0, "b=new;");
}

KV_TEST(iterator_reads_the_data_as_of_its_creation)
{
    s_put(kv, 0, "k1", "v1");
    s_put(kv, 0, "k2", "v2");
    s_put(kv, 0, "k3", "v3");
    s_put(kv, 0, "k4", "v4");
    lt_kv_iter_t *it = NULL;
    cr_assert_eq(lt_kv_iter_new(kv, 0, &it), LT_OK);
    kv->ops->iter_seek(it, (const uint8_t *)"k2", 2);
    s_expect_at_key(kv, it, "k2", "seek");

    /* Churn around and under the iterator's position. */
    s_del(kv, 0, "k2");
    s_del(kv, 0, "k3");
    s_put(kv, 0, "k2a", "new");
    s_put(kv, 0, "k4", "changed");
    s_put(kv, 0, "k0", "new");
    for (int i = 0; i < 200; i++) {
        char k[16];
        snprintf(k, sizeof k, "k2-%03d", i);
        s_put(kv, 0, k, "filler");
        if (i % 3)
            s_del(kv, 0, k);
    }

    size_t vlen;
    const uint8_t *v = kv->ops->iter_value(it, &vlen);
    cr_assert(vlen == 2 && memcmp(v, "v2", 2) == 0, "%s: the view survives writes", kv->ops->name);
    kv->ops->iter_next(it);
    s_expect_at_key(kv, it, "k3", "next after writes");
    kv->ops->iter_next(it);
    s_expect_at_key(kv, it, "k4", "next after writes");
    v = kv->ops->iter_value(it, &vlen);
    cr_assert(vlen == 2 && memcmp(v, "v4", 2) == 0);
    kv->ops->iter_prev(it);
    kv->ops->iter_prev(it);
    kv->ops->iter_prev(it);
    s_expect_at_key(kv, it, "k1", "prev after writes");
    char *all = s_listing(kv, it, true);
    cr_assert_str_eq(all, "k1=v1;k2=v2;k3=v3;k4=v4;");
    free(all);
    kv->ops->iter_free(it);

    lt_kv_iter_t *fresh = NULL;
    cr_assert_eq(lt_kv_iter_new(kv, 0, &fresh), LT_OK);
    kv->ops->iter_seek_first(fresh);
    s_expect_at_key(kv, fresh, "k0", "a new iterator sees the writes");
    kv->ops->iter_free(fresh);
    s_expect(kv, 0, "k2", NULL);
    s_expect(kv, 0, "k4", "changed");
}

KV_TEST(many_iterators_and_snapshots_can_be_open_together)
{
    s_put(kv, 0, "a", "1");
    lt_kv_iter_t *its[4];
    lt_kv_snapshot_t *snaps[4];
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(kv->ops->snapshot_new(kv->self, &snaps[i]), LT_OK);
        cr_assert_eq(lt_kv_iter_new(kv, 0, &its[i]), LT_OK);
        char v[2] = {(char)('2' + i), 0};
        s_put(kv, 0, "a", v);
    }
    for (int i = 0; i < 4; i++) {
        char v[2] = {(char)('1' + i), 0};
        kv->ops->iter_seek_first(its[i]);
        size_t vlen;
        const uint8_t *got = kv->ops->iter_value(its[i], &vlen);
        cr_assert(vlen == 1 && got[0] == v[0], "%s: iterator %d", kv->ops->name, i);
        s_expect_at(kv, snaps[i], 0, "a", v);
    }
    /* Released out of order. */
    int order[] = {2, 0, 3, 1};
    for (int i = 0; i < 4; i++) {
        kv->ops->iter_free(its[order[i]]);
        kv->ops->snapshot_release(kv->self, snaps[order[(i + 1) % 4]]);
    }
    s_expect(kv, 0, "a", "5");
    s_expect_scan(kv, 0, "a=5;");
}

/* ---- closing --------------------------------------------------------------- */

Test(kv, close_is_idempotent, .fini = s_fx_close)
{
    lt_kv_t *kv = NULL;
    cr_assert_eq(lt_kv_mem_open(1, &kv), LT_OK);
    lt_kv_close(&kv);
    cr_assert_null(kv);
    lt_kv_close(&kv);
    lt_kv_close(NULL);
}

Test(kv, memory_backend_rejects_bad_family_counts)
{
    lt_kv_t *kv = (lt_kv_t *)1;
    cr_assert_eq(lt_kv_mem_open(0, &kv), LT_EINVAL);
    cr_assert_null(kv);
    cr_assert_eq(lt_kv_mem_open(LT_KV_MAX_CF + 1, &kv), LT_EINVAL);
}

/* ---- RocksDB -------------------------------------------------------------- */

/* A persistent backend (opened by `open` at a path, created or not) keeps
 * synced and unsynced batches and deletes across close and reopen. */
static lt_kv_t *s_survives_reopen(lt_kv_t *(*open)(const char *path, bool create), const char *name)
{
    char path[PATH_MAX];
    s_fx_tmpdir();
    s_path(path, name);
    lt_kv_t *kv = s_fx.kv[0] = open(path, true);
    s_put(kv, 0, "unsynced", "u");
    lt_kv_op_t ops[] = {s_op(1, "synced", 6, "s"), s_op(2, "\x80\xff", 2, "high")};
    lt_kv_batch_t b = {ops, 2};
    cr_assert_eq(lt_kv_write(kv, &b, true), LT_OK);
    lt_kv_close(&s_fx.kv[0]);

    kv = s_fx.kv[0] = open(path, false);
    s_expect(kv, 0, "unsynced", "u");
    s_expect(kv, 1, "synced", "s");
    s_expect(kv, 2, "\x80\xff", "high");
    s_del(kv, 0, "unsynced");
    cr_assert_eq(kv->ops->flush(kv->self), LT_OK);
    lt_kv_close(&s_fx.kv[0]);

    kv = s_fx.kv[0] = open(path, false);
    s_expect(kv, 0, "unsynced", NULL);
    s_expect_scan(kv, 1, "synced=s;");
    return kv;
}

Test(kv, rocksdb_data_survives_close_and_reopen, .fini = s_fx_close)
{
    (void)s_survives_reopen(s_open_rocksdb, "db");
}

/* Waits for the background flushes to shrink the log below `bound`; false
 * when they have not within some 15 s. RocksDB tells nothing when a flush
 * ends, so the directory is watched. */
static bool s_log_shrinks(const char *path, uint64_t bound)
{
    for (int i = 0; i < 15000; i++) {
        if (lt_test_rocksdb_log_bytes(path) < bound)
            return true;
        nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    }
    return false;
}

#define S_LOG_CHUNK (64u << 10)
#define S_LOG_MB    (1u << 20)

/* Writes `mb` MB of unsynced batches of S_LOG_CHUNK, spread over the three
 * families; key prefix `tag`. */
static void s_write_mb(lt_kv_t *kv, const char *tag, unsigned mb)
{
    static uint8_t value[S_LOG_CHUNK];
    memset(value, 0x5a, sizeof value);
    for (unsigned i = 0; i < mb * (S_LOG_MB / S_LOG_CHUNK); i++) {
        char key[32];
        int klen = snprintf(key, sizeof key, "%s%05u", tag, i);
        lt_kv_op_t op = {.cf = (uint8_t)(i % S_NCF),
                         .key = (const uint8_t *)key,
                         .klen = (size_t)klen,
                         .value = value,
                         .vlen = sizeof value};
        cr_assert_eq(lt_kv_write(kv, &(lt_kv_batch_t){&op, 1}, false), LT_OK);
    }
}

/* The log's bound (kv_rocksdb.c): 2 MB outside a bulk run, RocksDB's 64 MB
 * in one, and a run's end flushes what it left only in the log. */
Test(kv, rocksdb_log_is_bounded_outside_bulk_runs_and_flushed_when_one_ends, .fini = s_fx_close)
{
    char path[PATH_MAX];
    s_fx_tmpdir();
    s_path(path, "db");
    lt_kv_t *kv = s_fx.kv[0] = s_open_rocksdb(path, true);

    /* Outside a run, 6 MB leave at most the last 2 in the log. */
    s_write_mb(kv, "plain", 6);
    cr_assert(s_log_shrinks(path, 2 * S_LOG_MB + S_LOG_CHUNK), "the log kept %llu bytes",
              (unsigned long long)lt_test_rocksdb_log_bytes(path));

    /* In a run, nothing is flushed: all 6 MB stay in the log ... */
    cr_assert_eq(lt_kv_bulk(kv, true), LT_OK);
    s_write_mb(kv, "bulk", 6);
    cr_assert_geq(lt_test_rocksdb_log_bytes(path), 6 * S_LOG_MB, "flushed during a bulk run");
    /* ... until it ends. */
    cr_assert_eq(lt_kv_bulk(kv, false), LT_OK);
    cr_assert(s_log_shrinks(path, S_LOG_MB), "the log kept %llu bytes after the run",
              (unsigned long long)lt_test_rocksdb_log_bytes(path));

    /* Every write reads back, before and after a reopen. */
    for (int pass = 0; pass < 2; pass++) {
        for (unsigned i = 0; i < 6 * (S_LOG_MB / S_LOG_CHUNK); i++) {
            char key[32];
            for (int t = 0; t < 2; t++) {
                int klen = snprintf(key, sizeof key, "%s%05u", t ? "bulk" : "plain", i);
                lt_buf_t v = LT_BUF_INIT;
                cr_assert_eq(lt_kv_get(kv, i % S_NCF, (const uint8_t *)key, (size_t)klen, &v),
                             LT_OK, "%s lost (pass %d)", key, pass);
                cr_assert_eq(v.len, S_LOG_CHUNK);
                lt_buf_free(&v);
            }
        }
        lt_kv_close(&s_fx.kv[0]);
        kv = s_fx.kv[0] = s_open_rocksdb(path, false);
    }
}

/* Backends with nothing to tune take the hint and change nothing. */
Test(kv, memory_backend_takes_the_bulk_hint)
{
    lt_kv_t *kv;
    cr_assert_eq(lt_kv_mem_open(S_NCF, &kv), LT_OK);
    cr_assert_eq(lt_kv_bulk(kv, true), LT_OK);
    s_put(kv, 0, "k", "v");
    cr_assert_eq(lt_kv_bulk(kv, false), LT_OK);
    s_expect(kv, 0, "k", "v");
    lt_kv_close(&kv);
}

Test(kv, rocksdb_opened_twice_is_locked, .fini = s_fx_close)
{
    char path[PATH_MAX];
    s_fx_tmpdir();
    s_path(path, "db");
    s_fx.kv[0] = s_open_rocksdb(path, true);

    lt_kv_rocksdb_opts_t opts = {.create_if_missing = true};
    lt_errbuf_t eb;
    lt_err_t rc = lt_kv_rocksdb_open(path, s_cf_names, S_NCF, &opts, &eb, &s_fx.kv[1]);
    cr_assert_eq(rc, LT_ELOCKED, "got %s: %s", lt_errname(rc), eb.msg);
    cr_assert_null(s_fx.kv[1]);
    cr_assert(strstr(eb.msg, "lock") != NULL, "errbuf carries RocksDB's text: %s", eb.msg);

    /* The first handle is unaffected. */
    s_put(s_fx.kv[0], 0, "still", "works");
    s_expect(s_fx.kv[0], 0, "still", "works");
}

Test(kv, rocksdb_missing_database_without_create_is_not_found, .fini = s_fx_close)
{
    char path[PATH_MAX];
    s_fx_tmpdir();
    s_path(path, "nothing-here");
    lt_kv_rocksdb_opts_t opts = {.create_if_missing = false};
    lt_errbuf_t eb;
    lt_kv_t *kv = NULL;
    lt_err_t rc = lt_kv_rocksdb_open(path, s_cf_names, S_NCF, &opts, &eb, &kv);
    cr_assert_eq(rc, LT_ENOTFOUND, "got %s: %s", lt_errname(rc), eb.msg);
    cr_assert_null(kv);
    cr_assert_neq(eb.msg[0], '\0');
    struct stat st;
    cr_assert_neq(stat(path, &st), 0, "a failed open leaves nothing behind");

    /* An existing but empty directory is no database either. */
    cr_assert_eq(mkdir(path, 0755), 0);
    rc = lt_kv_rocksdb_open(path, s_cf_names, S_NCF, &opts, &eb, &kv);
    cr_assert_eq(rc, LT_ENOTFOUND, "got %s: %s", lt_errname(rc), eb.msg);
}

Test(kv, rocksdb_damaged_current_file_is_corrupt, .fini = s_fx_close)
{
    char path[PATH_MAX], current[PATH_MAX];
    s_fx_tmpdir();
    s_path(path, "db");
    s_fx.kv[0] = s_open_rocksdb(path, true);
    s_put(s_fx.kv[0], 0, "k", "v");
    lt_kv_close(&s_fx.kv[0]);

    s_path(current, "db/CURRENT");
    FILE *f = fopen(current, "w");
    cr_assert_not_null(f);
    fputs("MANIFEST-garbage", f); /* no newline: RocksDB calls that corruption */
    fclose(f);

    lt_kv_rocksdb_opts_t opts = {.create_if_missing = false};
    lt_errbuf_t eb;
    lt_err_t rc = lt_kv_rocksdb_open(path, s_cf_names, S_NCF, &opts, &eb, &s_fx.kv[0]);
    cr_assert_eq(rc, LT_ECORRUPT, "got %s: %s", lt_errname(rc), eb.msg);
}

Test(kv, rocksdb_reopens_with_fewer_families_than_on_disk, .fini = s_fx_close)
{
    char path[PATH_MAX];
    s_fx_tmpdir();
    s_path(path, "db");
    s_fx.kv[0] = s_open_rocksdb(path, true);
    s_put(s_fx.kv[0], 0, "in-alpha", "a");
    s_put(s_fx.kv[0], 2, "in-gamma", "g");
    lt_kv_close(&s_fx.kv[0]);

    /* Only "alpha", and "default" named explicitly: "beta" and "gamma" stay
     * on disk untouched. */
    const char *const names[] = {"default", "alpha"};
    lt_kv_rocksdb_opts_t opts = {.create_if_missing = false};
    lt_errbuf_t eb;
    lt_err_t rc = lt_kv_rocksdb_open(path, names, 2, &opts, &eb, &s_fx.kv[0]);
    cr_assert_eq(rc, LT_OK, "%s: %s", lt_errname(rc), eb.msg);
    s_expect(s_fx.kv[0], 1, "in-alpha", "a");
    s_expect(s_fx.kv[0], 0, "in-alpha", NULL);
    lt_kv_close(&s_fx.kv[0]);

    s_fx.kv[0] = s_open_rocksdb(path, false);
    s_expect(s_fx.kv[0], 2, "in-gamma", "g");
}

Test(kv, rocksdb_rejects_repeated_family_names)
{
    const char *const names[] = {"a", "b", "a"};
    lt_kv_rocksdb_opts_t opts = {.create_if_missing = true};
    lt_errbuf_t eb;
    lt_kv_t *kv = NULL;
    cr_assert_eq(lt_kv_rocksdb_open("/nonexistent/never", names, 3, &opts, &eb, &kv), LT_EINVAL);
    cr_assert_null(kv);
}

/* ---- failure injection ----------------------------------------------------- */

Test(kv, faulty_wrapper_fails_exactly_the_write_after_n, .fini = s_fx_close)
{
    lt_kv_t *kv = s_fx.kv[0] = s_open(S_FAULTY);
    lt_kv_faulty_fail_writes_after(kv, 3, LT_EIO);
    s_put(kv, 0, "w1", "1");
    s_put(kv, 0, "w2", "2");
    lt_kv_batch_t empty = {NULL, 0};
    cr_assert_eq(lt_kv_write(kv, &empty, false), LT_OK); /* the third write */

    lt_kv_op_t ops[] = {s_op(0, "w4", 2, "4"), s_op(0, "w1", 2, NULL), s_op(1, "x", 1, "x")};
    lt_kv_batch_t b = {ops, 3};
    cr_assert_eq(lt_kv_write(kv, &b, true), LT_EIO);
    cr_assert(strstr(lt_kv_errmsg(kv), "injected") != NULL, "errmsg: %s", lt_kv_errmsg(kv));
    cr_assert_eq(lt_kv_write(kv, &b, false), LT_EIO, "every later write fails too");
    cr_assert_eq(lt_kv_faulty_writes(kv), 5);
    s_expect_scan(kv, 0, "w1=1;w2=2;");
    s_expect_scan(kv, 1, "");

    lt_kv_faulty_fail_writes_after(kv, -1, LT_OK);
    s_apply(kv, ops, 3);
    s_expect_scan(kv, 0, "w2=2;w4=4;");
    cr_assert_eq(lt_kv_faulty_writes(kv), 6);

    lt_kv_faulty_fail_writes_after(kv, 0, LT_ENOMEM);
    cr_assert_eq(lt_kv_write(kv, &b, false), LT_ENOMEM, "n = 0 fails the next write");
}

Test(kv, faulty_wrapper_only_counts_successful_writes_towards_n, .fini = s_fx_close)
{
    lt_kv_t *kv = s_fx.kv[0] = s_open(S_FAULTY);
    lt_kv_faulty_fail_writes_after(kv, 1, LT_EIO);
    lt_kv_op_t bad = s_op(S_NCF, "k", 1, "v");
    lt_kv_batch_t b = {&bad, 1};
    cr_assert_eq(lt_kv_write(kv, &b, false), LT_EINVAL, "the inner backend's own error");
    cr_assert_neq(lt_kv_errmsg(kv)[0], '\0');
    s_put(kv, 0, "k", "v");
    lt_kv_op_t good = s_op(0, "k2", 2, "v");
    b.ops = &good;
    cr_assert_eq(lt_kv_write(kv, &b, false), LT_EIO);
    s_expect(kv, 0, "k2", NULL);
    cr_assert_eq(lt_kv_faulty_writes(kv), 3);
}

/* ---- scale ------------------------------------------------------------------ */

static uint64_t s_xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

Test(kv, memory_backend_handles_hundreds_of_thousands_of_keys, .fini = s_fx_close, .timeout = 120)
{
    enum { N = 300000, BATCH = 1000 };
    lt_kv_t *kv = s_fx.kv[0] = s_open(S_MEMORY);
    uint8_t(*keys)[4] = malloc(sizeof(uint8_t[4]) * BATCH);
    lt_kv_op_t *ops = malloc(sizeof *ops * BATCH);
    cr_assert(keys && ops);
    /* i * odd constant mod 2^32 visits distinct keys in a scrambled order. */
    for (uint32_t base = 0; base < N; base += BATCH) {
        for (uint32_t j = 0; j < BATCH; j++) {
            lt_put_u32be(keys[j], (base + j) * 2654435761u);
            ops[j] = (lt_kv_op_t){.cf = 0, .key = keys[j], .klen = 4, .value = keys[j], .vlen = 4};
        }
        s_apply(kv, ops, BATCH);
    }

    lt_kv_iter_t *it = NULL;
    cr_assert_eq(lt_kv_iter_new(kv, 0, &it), LT_OK);
    size_t n = 0;
    uint32_t last = 0;
    for (kv->ops->iter_seek_first(it); kv->ops->iter_valid(it); kv->ops->iter_next(it), n++) {
        size_t klen;
        uint32_t k = lt_get_u32be(kv->ops->iter_key(it, &klen));
        cr_assert(n == 0 || k > last, "ascending at %zu", n);
        last = k;
    }
    cr_assert_eq(n, N);
    uint64_t rng = 42;
    for (int i = 0; i < 100000; i++) {
        uint8_t probe[4];
        uint32_t idx = (uint32_t)(s_xorshift(&rng) % N);
        lt_put_u32be(probe, idx * 2654435761u);
        kv->ops->iter_seek(it, probe, 4);
        size_t klen;
        cr_assert(kv->ops->iter_valid(it) && memcmp(kv->ops->iter_key(it, &klen), probe, 4) == 0);
    }
    kv->ops->iter_free(it);

    /* Delete every other key; the backward scan sees exactly the rest. */
    for (uint32_t base = 0; base < N; base += BATCH) {
        for (uint32_t j = 0; j < BATCH; j++) {
            lt_put_u32be(keys[j], (base + j) * 2654435761u);
            ops[j] = (lt_kv_op_t){.cf = 0,
                                  .del = (j % 2) == 0,
                                  .key = keys[j],
                                  .klen = 4,
                                  .value = (const uint8_t *)"kept",
                                  .vlen = 4};
        }
        s_apply(kv, ops, BATCH);
    }
    cr_assert_eq(lt_kv_iter_new(kv, 0, &it), LT_OK);
    n = 0;
    for (kv->ops->iter_seek_last(it); kv->ops->iter_valid(it); kv->ops->iter_prev(it), n++) {
        size_t vlen;
        cr_assert(memcmp(kv->ops->iter_value(it, &vlen), "kept", 4) == 0);
    }
    cr_assert_eq(n, N / 2);
    kv->ops->iter_free(it);
    free(keys);
    free(ops);
}

/* ---- randomized differential test ------------------------------------------ */

#define S_RKEY_MAX 5
#define S_RVAL_MAX 8

typedef struct {
    uint8_t k[S_RKEY_MAX];
    size_t klen;
    uint8_t v[S_RVAL_MAX];
    size_t vlen;
} s_entry_t;

/* The reference model: a sorted array, as obviously right as possible. */
typedef struct {
    s_entry_t *e;
    size_t n, cap;
} s_model_t;

static int s_keycmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    for (size_t i = 0; i < alen && i < blen; i++) {
        if (a[i] != b[i])
            return a[i] < b[i] ? -1 : 1;
    }
    return alen == blen ? 0 : alen < blen ? -1 : 1;
}

/* Index of the first entry with key >= k. */
static size_t s_model_lower(const s_model_t *m, const uint8_t *k, size_t klen)
{
    size_t i = 0;
    while (i < m->n && s_keycmp(m->e[i].k, m->e[i].klen, k, klen) < 0)
        i++;
    return i;
}

static void s_model_put(s_model_t *m, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen)
{
    size_t i = s_model_lower(m, k, klen);
    if (i == m->n || s_keycmp(m->e[i].k, m->e[i].klen, k, klen) != 0) {
        if (m->n == m->cap) {
            m->cap = m->cap ? 2 * m->cap : 64;
            m->e = realloc(m->e, m->cap * sizeof *m->e);
            cr_assert_not_null(m->e);
        }
        memmove(&m->e[i + 1], &m->e[i], (m->n - i) * sizeof *m->e);
        m->n++;
        memcpy(m->e[i].k, k, klen);
        m->e[i].klen = klen;
    }
    memcpy(m->e[i].v, v, vlen);
    m->e[i].vlen = vlen;
}

static void s_model_del(s_model_t *m, const uint8_t *k, size_t klen)
{
    size_t i = s_model_lower(m, k, klen);
    if (i < m->n && s_keycmp(m->e[i].k, m->e[i].klen, k, klen) == 0) {
        memmove(&m->e[i], &m->e[i + 1], (m->n - i - 1) * sizeof *m->e);
        m->n--;
    }
}

static s_model_t s_model_copy(const s_model_t *m)
{
    s_model_t c = {NULL, m->n, m->n};
    if (m->n) {
        c.e = malloc(m->n * sizeof *c.e);
        cr_assert_not_null(c.e);
        memcpy(c.e, m->e, m->n * sizeof *c.e);
    }
    return c;
}

static void s_assert_entry(lt_kv_t *kv, const lt_kv_iter_t *it, const s_entry_t *want,
                           const char *what)
{
    if (!want) {
        cr_assert_not(kv->ops->iter_valid(it), "%s: %s: expected the end", kv->ops->name, what);
        return;
    }
    cr_assert(kv->ops->iter_valid(it), "%s: %s: ended early", kv->ops->name, what);
    size_t klen, vlen;
    const uint8_t *k = kv->ops->iter_key(it, &klen);
    const uint8_t *v = kv->ops->iter_value(it, &vlen);
    cr_assert(s_keycmp(k, klen, want->k, want->klen) == 0, "%s: %s: wrong key", kv->ops->name,
              what);
    cr_assert(vlen == want->vlen && (vlen == 0 || memcmp(v, want->v, vlen) == 0),
              "%s: %s: wrong value", kv->ops->name, what);
}

/* Full forward and backward scans of it against m. */
static void s_assert_scan(lt_kv_t *kv, lt_kv_iter_t *it, const s_model_t *m, const char *what)
{
    kv->ops->iter_seek_first(it);
    for (size_t i = 0; i < m->n; i++, kv->ops->iter_next(it))
        s_assert_entry(kv, it, &m->e[i], what);
    s_assert_entry(kv, it, NULL, what);
    kv->ops->iter_seek_last(it);
    for (size_t i = m->n; i-- > 0; kv->ops->iter_prev(it))
        s_assert_entry(kv, it, &m->e[i], what);
    s_assert_entry(kv, it, NULL, what);
    cr_assert_eq(kv->ops->iter_status(it), LT_OK);
}

static void s_assert_family(lt_kv_t *kv, const lt_kv_snapshot_t *snap, unsigned cf,
                            const s_model_t *m, const char *what)
{
    lt_kv_iter_t *it = NULL;
    cr_assert_eq(kv->ops->iter_new(kv->self, snap, cf, &it), LT_OK);
    s_assert_scan(kv, it, m, what);
    kv->ops->iter_free(it);
}

/* Keys from a small alphabet with the bytes that trip signed comparisons and
 * NUL handling, short enough that prefixes of each other are common. */
static size_t s_random_key(uint64_t *rng, uint8_t *k, size_t max)
{
    static const uint8_t alphabet[] = {0x00, 0x01, 0x7f, 0x80, 0xff};
    size_t klen = (size_t)(s_xorshift(rng) % (max + 1));
    for (size_t i = 0; i < klen; i++)
        k[i] = alphabet[s_xorshift(rng) % sizeof alphabet];
    return klen;
}

Test(kv, random_batches_agree_with_a_reference_model, .fini = s_fx_close, .timeout = 240)
{
    enum { ROUNDS = 5000, NBACKENDS = 3, CHECK_EVERY = 100 };
    const uint64_t seed = 0x1a771ce5eedULL;
    uint64_t rng = seed;
    lt_kv_t *kvs[NBACKENDS] = {
        s_fx.kv[0] = s_open(S_MEMORY),
        s_fx.kv[1] = s_open(S_ROCKSDB),
        s_fx.kv[2] = s_open(S_FAULTY),
    };
    s_model_t model[S_NCF] = {{0}};

    /* Snapshots and iterators opened mid-run must keep their view while the
     * run churns on. */
    const int snap_round = ROUNDS / 3, iter_round = ROUNDS / 2;
    lt_kv_snapshot_t *snaps[NBACKENDS] = {0};
    lt_kv_iter_t *iters[NBACKENDS] = {0};
    s_model_t at_snap[S_NCF] = {{0}}, at_iter = {0};

    for (int round = 0; round < ROUNDS; round++) {
        if (round == snap_round) {
            for (int b = 0; b < NBACKENDS; b++)
                cr_assert_eq(kvs[b]->ops->snapshot_new(kvs[b]->self, &snaps[b]), LT_OK);
            for (unsigned cf = 0; cf < S_NCF; cf++)
                at_snap[cf] = s_model_copy(&model[cf]);
        }
        if (round == iter_round) {
            for (int b = 0; b < NBACKENDS; b++)
                cr_assert_eq(lt_kv_iter_new(kvs[b], 1, &iters[b]), LT_OK);
            at_iter = s_model_copy(&model[1]);
        }

        lt_kv_op_t ops[6];
        uint8_t keys[6][S_RKEY_MAX], vals[6][S_RVAL_MAX];
        size_t nops = 1 + (size_t)(s_xorshift(&rng) % 6);
        for (size_t i = 0; i < nops; i++) {
            size_t klen = s_random_key(&rng, keys[i], 4);
            size_t vlen = (size_t)(s_xorshift(&rng) % (S_RVAL_MAX + 1));
            for (size_t j = 0; j < vlen; j++)
                vals[i][j] = (uint8_t)s_xorshift(&rng);
            ops[i] = (lt_kv_op_t){.cf = (uint8_t)(s_xorshift(&rng) % S_NCF),
                                  .del = s_xorshift(&rng) % 10 < 3,
                                  .key = keys[i],
                                  .klen = klen,
                                  .value = vals[i],
                                  .vlen = vlen};
        }
        bool sync = round % 97 == 0;
        for (int b = 0; b < NBACKENDS; b++) {
            lt_kv_batch_t batch = {ops, nops};
            lt_err_t rc = lt_kv_write(kvs[b], &batch, sync);
            cr_assert_eq(rc, LT_OK, "seed %#llx round %d: %s: %s", (unsigned long long)seed, round,
                         kvs[b]->ops->name, lt_kv_errmsg(kvs[b]));
        }
        for (size_t i = 0; i < nops; i++) {
            if (ops[i].del)
                s_model_del(&model[ops[i].cf], ops[i].key, ops[i].klen);
            else
                s_model_put(&model[ops[i].cf], ops[i].key, ops[i].klen, ops[i].value, ops[i].vlen);
        }

        /* Point reads and seeks on every round, full scans now and then. */
        for (int b = 0; b < NBACKENDS; b++) {
            lt_kv_t *kv = kvs[b];
            unsigned cf = (unsigned)(s_xorshift(&rng) % S_NCF);
            uint8_t probe[S_RKEY_MAX];
            size_t plen = s_random_key(&rng, probe, S_RKEY_MAX);
            const s_model_t *m = &model[cf];
            size_t lo = s_model_lower(m, probe, plen);
            bool present = lo < m->n && s_keycmp(m->e[lo].k, m->e[lo].klen, probe, plen) == 0;

            lt_buf_t out = LT_BUF_INIT;
            lt_err_t rc = lt_kv_get(kv, cf, probe, plen, &out);
            cr_assert_eq(rc, present ? LT_OK : LT_ENOTFOUND, "seed %#llx round %d: %s get",
                         (unsigned long long)seed, round, kv->ops->name);
            if (present)
                cr_assert(out.len == m->e[lo].vlen &&
                          (out.len == 0 || memcmp(out.data, m->e[lo].v, out.len) == 0));
            lt_buf_free(&out);

            lt_kv_iter_t *it = NULL;
            cr_assert_eq(lt_kv_iter_new(kv, cf, &it), LT_OK);
            kv->ops->iter_seek(it, probe, plen);
            s_assert_entry(kv, it, lo < m->n ? &m->e[lo] : NULL, "seek");
            if (lo < m->n) {
                kv->ops->iter_prev(it);
                s_assert_entry(kv, it, lo > 0 ? &m->e[lo - 1] : NULL, "prev after seek");
            }
            size_t le = present ? lo + 1 : lo; /* entries <= probe */
            kv->ops->iter_seek_for_prev(it, probe, plen);
            s_assert_entry(kv, it, le > 0 ? &m->e[le - 1] : NULL, "seek_for_prev");
            if (le > 0) {
                kv->ops->iter_next(it);
                s_assert_entry(kv, it, le < m->n ? &m->e[le] : NULL, "next after seek_for_prev");
            }
            kv->ops->iter_free(it);

            if (round % CHECK_EVERY == CHECK_EVERY - 1) {
                for (unsigned c = 0; c < S_NCF; c++)
                    s_assert_family(kv, NULL, c, &model[c], "full scan");
            }
        }
    }

    for (int b = 0; b < NBACKENDS; b++) {
        for (unsigned cf = 0; cf < S_NCF; cf++) {
            s_assert_family(kvs[b], NULL, cf, &model[cf], "final scan");
            s_assert_family(kvs[b], snaps[b], cf, &at_snap[cf], "scan through the snapshot");
        }
        s_assert_scan(kvs[b], iters[b], &at_iter, "iterator opened mid-run");
        kvs[b]->ops->iter_free(iters[b]);
        kvs[b]->ops->snapshot_release(kvs[b]->self, snaps[b]);
        /* Garbage swept once the last reader went: still the same data. */
        for (unsigned cf = 0; cf < S_NCF; cf++)
            s_assert_family(kvs[b], NULL, cf, &model[cf], "scan after release");
    }
    for (unsigned cf = 0; cf < S_NCF; cf++) {
        free(model[cf].e);
        free(at_snap[cf].e);
    }
    free(at_iter.e);
}

/* ---- the log backend ---- */

static long s_file_size(const char *path)
{
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0, "%s: %s", path, strerror(errno));
    return (long)sb.st_size;
}

static void s_truncate(const char *path, long size)
{
    cr_assert_eq(truncate(path, size), 0, "%s: %s", path, strerror(errno));
}

static void s_copy_file(const char *from, const char *to)
{
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    cr_assert(a && b);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, a)) > 0)
        cr_assert_eq(fwrite(buf, 1, n, b), n);
    fclose(a);
    cr_assert_eq(fclose(b), 0);
}

Test(kv, log_data_survives_close_and_reopen, .fini = s_fx_close)
{
    lt_kv_t *kv = s_survives_reopen(s_open_log, "log");
    lt_kv_log_stats_t st;
    lt_kv_log_stats(kv, &st);
    cr_assert_eq(st.torn_bytes_cut, 0);
}

Test(kv, log_opened_twice_is_locked_and_a_missing_one_is_not_found, .fini = s_fx_close)
{
    char path[PATH_MAX];
    s_fx_tmpdir();
    s_path(path, "log");
    lt_kv_log_opts_t opts = {.create_if_missing = false};
    lt_errbuf_t eb = {""};
    cr_assert_eq(lt_kv_log_open(path, S_NCF, &opts, &eb, &s_fx.kv[1]), LT_ENOTFOUND);
    cr_assert(strstr(eb.msg, "no log"), "%s", eb.msg);
    s_fx.kv[0] = s_open_log(path, true);
    opts.create_if_missing = true;
    cr_assert_eq(lt_kv_log_open(path, S_NCF, &opts, &eb, &s_fx.kv[1]), LT_ELOCKED);
    cr_assert(strstr(eb.msg, "in use"), "%s", eb.msg);
    s_put(s_fx.kv[0], 0, "still", "works");
    s_expect(s_fx.kv[0], 0, "still", "works");
}

/* A crash at any byte of an append: the log opens with every batch before it
 * whole, and the cut one either whole or absent; never part of it. */
Test(kv, log_cut_at_any_byte_of_its_last_record_keeps_every_batch_whole, .fini = s_fx_close)
{
    char path[PATH_MAX], copy[PATH_MAX];
    s_fx_tmpdir();
    s_path(path, "log");
    s_path(copy, "cut");
    lt_kv_t *kv = s_fx.kv[0] = s_open_log(path, true);
    s_put(kv, 0, "first", "1");
    long before = s_file_size(path);
    lt_kv_op_t ops[] = {s_op(0, "a", 1, "A"), s_op(1, "b", 1, "B"), s_op(2, "c", 1, "C")};
    lt_kv_batch_t b = {ops, 3};
    cr_assert_eq(lt_kv_write(kv, &b, true), LT_OK);
    long after = s_file_size(path);
    lt_kv_close(&s_fx.kv[0]);
    for (long cut = before; cut <= after; cut++) {
        char cpath[PATH_MAX + 8];
        snprintf(cpath, sizeof cpath, "%s.lock", copy);
        unlink(cpath);
        s_copy_file(path, copy);
        s_truncate(copy, cut);
        lt_kv_t *c = s_fx.kv[1] = s_open_log(copy, false);
        s_expect(c, 0, "first", "1");
        lt_buf_t v = LT_BUF_INIT;
        bool has_a = lt_kv_get(c, 0, (const uint8_t *)"a", 1, &v) == LT_OK;
        bool has_c = lt_kv_get(c, 2, (const uint8_t *)"c", 1, &v) == LT_OK;
        lt_buf_free(&v);
        cr_assert_eq(has_a, has_c, "cut at %ld: half a batch", cut);
        cr_assert_eq(has_a, cut == after, "cut at %ld: the batch %s", cut,
                     has_a ? "survived its own cut" : "was lost whole");
        lt_kv_log_stats_t st;
        lt_kv_log_stats(c, &st);
        cr_assert_eq(st.torn_bytes_cut, (uint64_t)(cut - before) * (cut != after), "cut at %ld",
                     cut);
        /* And the log goes on from there. */
        s_put(c, 1, "later", "L");
        lt_kv_close(&s_fx.kv[1]);
        c = s_fx.kv[1] = s_open_log(copy, false);
        s_expect(c, 1, "later", "L");
        lt_kv_close(&s_fx.kv[1]);
    }
}

Test(kv, log_damaged_before_its_end_is_corrupt_and_left_as_it_is, .fini = s_fx_close)
{
    char path[PATH_MAX];
    s_fx_tmpdir();
    s_path(path, "log");
    lt_kv_t *kv = s_fx.kv[0] = s_open_log(path, true);
    s_put(kv, 0, "first", "value one");
    s_put(kv, 0, "second", "value two");
    lt_kv_close(&s_fx.kv[0]);
    long size = s_file_size(path);
    /* A byte of the first record's value flipped. */
    FILE *f = fopen(path, "r+b");
    cr_assert(f);
    cr_assert_eq(fseek(f, 16 + 4 + 20, SEEK_SET), 0);
    int ch = fgetc(f);
    cr_assert_eq(fseek(f, 16 + 4 + 20, SEEK_SET), 0);
    fputc(ch ^ 0x20, f);
    cr_assert_eq(fclose(f), 0);
    lt_kv_log_opts_t opts = {0};
    lt_errbuf_t eb = {""};
    cr_assert_eq(lt_kv_log_open(path, S_NCF, &opts, &eb, &s_fx.kv[0]), LT_ECORRUPT);
    cr_assert(strstr(eb.msg, "fails its hash"), "%s", eb.msg);
    cr_assert_eq(s_file_size(path), size, "the open changed a damaged log");
    /* Another family count, or not a log at all. */
    lt_kv_t *other = NULL;
    char path2[PATH_MAX];
    s_path(path2, "log2");
    s_fx.kv[1] = s_open_log(path2, true);
    lt_kv_close(&s_fx.kv[1]);
    cr_assert_eq(lt_kv_log_open(path2, S_NCF - 1, &opts, &eb, &other), LT_ECORRUPT);
    cr_assert(strstr(eb.msg, "column families"), "%s", eb.msg);
    f = fopen(path2, "r+b");
    cr_assert(f);
    fputc('X', f);
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(lt_kv_log_open(path2, S_NCF, &opts, &eb, &other), LT_ECORRUPT);
    cr_assert(strstr(eb.msg, "not a Lattice log"), "%s", eb.msg);
}

Test(kv, log_compaction_of_more_than_a_chunk_replays_to_the_same_data, .fini = s_fx_close)
{
    char path[PATH_MAX];
    s_fx_tmpdir();
    s_path(path, "log");
    lt_kv_t *kv = s_fx.kv[0] = s_open_log(path, true);
    static char v[4096];
    memset(v, 'x', sizeof v - 1);
    char k[16];
    /* 1 500 live keys of 4 KiB (6 MB live, several compaction records per
     * family), written three times over. */
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 1500; i++) {
            snprintf(k, sizeof k, "k%04d", i);
            v[0] = (char)('a' + round);
            v[1] = (char)('a' + i % 26);
            s_put(kv, (unsigned)(i % S_NCF), k, v);
        }
    lt_kv_log_stats_t st;
    lt_kv_log_stats(kv, &st);
    cr_assert_geq(st.compactions, 1);
    lt_kv_close(&s_fx.kv[0]);
    kv = s_fx.kv[0] = s_open_log(path, false);
    lt_buf_t got = LT_BUF_INIT;
    for (int i = 0; i < 1500; i++) {
        snprintf(k, sizeof k, "k%04d", i);
        cr_assert_eq(lt_kv_get(kv, (unsigned)(i % S_NCF), (const uint8_t *)k, strlen(k), &got),
                     LT_OK, "%s is missing after the compaction", k);
        cr_assert_eq(got.len, sizeof v - 1);
        cr_assert(got.data[0] == 'c' && got.data[1] == 'a' + i % 26, "%s holds an old value", k);
    }
    lt_buf_free(&got);
}

Test(kv, log_compacts_when_it_outgrows_its_live_data, .fini = s_fx_close)
{
    char path[PATH_MAX];
    s_fx_tmpdir();
    s_path(path, "log");
    lt_kv_t *kv = s_fx.kv[0] = s_open_log(path, true);
    static char v[4096];
    memset(v, 'x', sizeof v - 1);
    char k[16];
    /* 64 live keys, each rewritten 40 times: ~10 MB appended, 256 KB live. */
    for (int round = 0; round < 40; round++)
        for (int i = 0; i < 64; i++) {
            snprintf(k, sizeof k, "k%02d", i);
            v[0] = (char)('a' + round % 26);
            s_put(kv, (unsigned)(i % S_NCF), k, v);
        }
    lt_kv_log_stats_t st;
    lt_kv_log_stats(kv, &st);
    cr_assert_geq(st.compactions, 1);
    cr_assert_lt(s_file_size(path), 8L << 20, "the log kept %ld bytes", s_file_size(path));
    lt_kv_close(&s_fx.kv[0]);
    kv = s_fx.kv[0] = s_open_log(path, false);
    lt_buf_t got = LT_BUF_INIT;
    for (int i = 0; i < 64; i++) {
        snprintf(k, sizeof k, "k%02d", i);
        cr_assert_eq(lt_kv_get(kv, (unsigned)(i % S_NCF), (const uint8_t *)k, strlen(k), &got),
                     LT_OK);
        cr_assert_eq(got.len, sizeof v - 1);
        cr_assert_eq(got.data[0], 'a' + 39 % 26, "%s holds an old value", k);
    }
    lt_buf_free(&got);
}
