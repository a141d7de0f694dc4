/* Damaged databases (DESIGN.md §4-5): a node that opens a store checks its
 * witness chain from the last point known good, and `store verify` checks it
 * all. Here records are damaged behind the store's back, through the backend
 * opened directly (or by cutting RocksDB's files), and every reopen must fail
 * with LT_ECORRUPT (or LT_EIO for files RocksDB cannot read) and a message
 * that names the sequence number where the chain breaks. Nothing may crash,
 * and a failed open must not change the database. */
#include "store/kv_state.h"
#include "store/tables.h"
#include "support/testutil.h"
#include "weaver/witness.h"

#include <criterion/criterion.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_T0 1700000000000ull

static const lt_store_id_t s_sid = {
    {0xc0, 0x44, 0x0b, 0x7e, 0x00, 0x01, 0x40, 0x00, 0x80, 0x00, 0, 0, 0, 0, 0, 0x05}};

/* Offsets of the fields of a witness record (weaver/witness.h). */
enum {
    S_W_VERSION = 0,
    S_W_STORE = 1,
    S_W_SEQ = 17,
    S_W_INTENTION = 25,
    S_W_WALL = 57,
    S_W_PREV = 65,
};

static struct {
    char *dir;
    lt_identity_t id;
    uint64_t clock;
} s_fx;

static void s_teardown(void)
{
    lt_test_rmtree(&s_fx.dir);
}

TestSuite(corruption, .fini = s_teardown, .timeout = 300);

static void s_store_path(char *out, size_t cap)
{
    snprintf(out, cap, "%s/store.rdb", s_fx.dir);
}

/* A RocksDB db with one KV store of n records, committed `group` at a time
 * (each commit signs its last record). Closed on return. */
static void s_make(unsigned n, unsigned group, bool flush)
{
    lt_test_identity(&s_fx.id, 9);
    s_fx.clock = S_T0;
    lt_db_t *db = lt_test_db_open(LT_TEST_ROCKSDB, &s_fx.id, &s_fx.clock, &s_fx.dir);
    lt_store_t *st;
    cr_assert_eq(lt_store_create(db, "core:kvstore", &s_sid, &st), LT_OK);
    char k[32], v[64];
    for (unsigned i = 1; i <= n; i++) {
        s_fx.clock++;
        snprintf(k, sizeof k, "key-%u", i % 17);
        snprintf(v, sizeof v, "value number %u, long enough to fill some blocks", i);
        cr_assert_eq(
            lt_kvstore_put(st, (const uint8_t *)k, strlen(k), (const uint8_t *)v, strlen(v), NULL),
            LT_OK);
        if (i % group == 0 || i == n)
            cr_assert_eq(lt_db_commit(db), LT_OK, "%s", lt_db_errmsg(db));
    }
    cr_assert_eq(lt_store_witnessed_count(st), n);
    if (flush) {
        lt_kv_t *kv = lt_db_kv(db);
        cr_assert_eq(kv->ops->flush(kv->self), LT_OK, "flush: %s", lt_kv_errmsg(kv));
    }
    lt_db_close(&db);
}

/* The backend, opened directly (the db must be closed). */
static lt_kv_t *s_raw_open(void)
{
    char path[4096];
    s_store_path(path, sizeof path);
    lt_kv_rocksdb_opts_t opts = {.create_if_missing = false, .paranoid = true};
    lt_errbuf_t eb = {{0}};
    lt_kv_t *kv = NULL;
    lt_err_t rc = lt_kv_rocksdb_open(path, lt_cf_names, LT_CF_COUNT, &opts, &eb, &kv);
    cr_assert_eq(rc, LT_OK, "raw open: %s: %s", lt_errname(rc), eb.msg);
    return kv;
}

static void s_raw_put(lt_kv_t *kv, unsigned cf, const uint8_t *k, size_t kl, const uint8_t *v,
                      size_t vl)
{
    lt_kv_op_t op = {(uint8_t)cf, false, k, kl, v, vl};
    lt_kv_batch_t b = {&op, 1};
    cr_assert_eq(lt_kv_write(kv, &b, true), LT_OK);
}

/* XORs one byte of a stored value with mask (apply twice to restore). */
static void s_flip_kv(lt_kv_t *kv, unsigned cf, const uint8_t *key, size_t klen, size_t off,
                      uint8_t mask)
{
    lt_buf_t v = LT_BUF_INIT;
    cr_assert_eq(lt_kv_get(kv, cf, key, klen, &v), LT_OK, "the row to damage is not there");
    cr_assert_lt(off, v.len);
    v.data[off] ^= mask;
    s_raw_put(kv, cf, key, klen, v.data, v.len);
    lt_buf_free(&v);
}

static void s_flip(unsigned cf, const uint8_t *key, size_t klen, size_t off, uint8_t mask)
{
    lt_kv_t *kv = s_raw_open();
    s_flip_kv(kv, cf, key, klen, off, mask);
    lt_kv_close(&kv);
}

static void s_flip_record(uint64_t seq, size_t off)
{
    uint8_t key[LT_STORE_ID_LEN + 8];
    lt_key_seq(key, &s_sid, seq);
    s_flip(LT_CF_WITNESS, key, sizeof key, off, 0x40);
}

/* The intentions-table key of the intention that record seq witnesses;
 * returns the length of its stored value. */
static size_t s_intention_row(uint64_t seq, uint8_t key[LT_STORE_ID_LEN + LT_HASH_LEN])
{
    lt_kv_t *kv = s_raw_open();
    uint8_t rk[LT_STORE_ID_LEN + 8];
    lt_key_seq(rk, &s_sid, seq);
    lt_buf_t v = LT_BUF_INIT;
    cr_assert_eq(lt_kv_get(kv, LT_CF_WITNESS, rk, sizeof rk, &v), LT_OK);
    lt_witness_t w;
    cr_assert_eq(lt_witness_decode(v.data, v.len, &w), LT_OK);
    cr_assert_eq(w.seq, seq);
    lt_key2(key, &s_sid, w.intention.b, LT_HASH_LEN, NULL, 0);
    cr_assert_eq(lt_kv_get(kv, LT_CF_INTENTIONS, key, LT_STORE_ID_LEN + LT_HASH_LEN, &v), LT_OK);
    size_t len = v.len;
    lt_buf_free(&v);
    lt_kv_close(&kv);
    return len;
}

/* Every row of every table: the logical content of the database. */
static void s_snapshot_kv(lt_kv_t *kv, lt_buf_t *out)
{
    out->len = 0;
    for (unsigned cf = 0; cf < LT_CF_COUNT; cf++) {
        lt_kv_iter_t *it;
        cr_assert_eq(lt_kv_iter_new(kv, cf, &it), LT_OK);
        for (kv->ops->iter_seek_first(it); kv->ops->iter_valid(it); kv->ops->iter_next(it)) {
            size_t kl, vl;
            const uint8_t *k = kv->ops->iter_key(it, &kl);
            const uint8_t *v = kv->ops->iter_value(it, &vl);
            uint8_t hdr[9] = {(uint8_t)cf};
            lt_put_u32le(hdr + 1, (uint32_t)kl);
            lt_put_u32le(hdr + 5, (uint32_t)vl);
            cr_assert_eq(lt_buf_append(out, hdr, sizeof hdr), LT_OK);
            cr_assert_eq(lt_buf_append(out, k, kl), LT_OK);
            cr_assert_eq(lt_buf_append(out, v, vl), LT_OK);
        }
        cr_assert_eq(kv->ops->iter_status(it), LT_OK);
        kv->ops->iter_free(it);
    }
}

static void s_snapshot(lt_buf_t *out)
{
    lt_kv_t *kv = s_raw_open();
    s_snapshot_kv(kv, out);
    lt_kv_close(&kv);
}

/* Whether msg holds the decimal number n as a token of its own. */
static bool s_names(const char *msg, uint64_t n)
{
    for (const char *p = msg; *p; p++) {
        if (!isdigit((unsigned char)*p) || (p > msg && isalnum((unsigned char)p[-1])))
            continue;
        char *end;
        unsigned long long v = strtoull(p, &end, 10);
        if (v == n && !isalnum((unsigned char)*end))
            return true;
        p = end - 1;
    }
    return false;
}

/* Reopens expecting LT_ECORRUPT naming one of seq_a..seq_b. */
static void s_reopen_corrupt(uint64_t seq_a, uint64_t seq_b, const char *what)
{
    lt_db_t *db = NULL;
    lt_errbuf_t eb = {{0}};
    lt_err_t rc = lt_test_db_reopen(s_fx.dir, &s_fx.id, &s_fx.clock, &db, &eb);
    if (rc == LT_OK)
        lt_db_close(&db);
    cr_assert_eq(rc, LT_ECORRUPT, "%s: reopen gave %s (%s)", what, lt_errname(rc), eb.msg);
    bool named = false;
    for (uint64_t s = seq_a; s <= seq_b && !named; s++)
        named = s_names(eb.msg, s);
    cr_assert(named, "%s: the message does not name record %llu%s: '%s'", what,
              (unsigned long long)seq_a, seq_b > seq_a ? " or the next" : "", eb.msg);
}

static void s_assert_same(const lt_buf_t *before, const lt_buf_t *after, const char *what)
{
    cr_assert(before->len == after->len && memcmp(before->data, after->data, before->len) == 0,
              "%s: the failed open modified the database", what);
}

/* Reopens the damaged database expecting LT_ECORRUPT naming seq_a..seq_b,
 * and checks that the failed open changed nothing. */
static void s_expect_corrupt(uint64_t seq_a, uint64_t seq_b, const char *what)
{
    lt_buf_t before = LT_BUF_INIT, after = LT_BUF_INIT;
    s_snapshot(&before);
    s_reopen_corrupt(seq_a, seq_b, what);
    s_snapshot(&after);
    s_assert_same(&before, &after, what);
    lt_buf_free(&before);
    lt_buf_free(&after);
}

/* Flips one byte of a row, expects the reopen to fail as s_expect_corrupt
 * does, and flips it back (one backend open on each side of the reopen). */
static void s_flip_expect(unsigned cf, const uint8_t *key, size_t klen, size_t off, uint64_t seq_a,
                          uint64_t seq_b, const char *what)
{
    lt_buf_t before = LT_BUF_INIT, after = LT_BUF_INIT;
    lt_kv_t *kv = s_raw_open();
    s_flip_kv(kv, cf, key, klen, off, 0x40);
    s_snapshot_kv(kv, &before);
    lt_kv_close(&kv);
    s_reopen_corrupt(seq_a, seq_b, what);
    kv = s_raw_open();
    s_snapshot_kv(kv, &after);
    s_flip_kv(kv, cf, key, klen, off, 0x40);
    lt_kv_close(&kv);
    s_assert_same(&before, &after, what);
    lt_buf_free(&before);
    lt_buf_free(&after);
}

static void s_record_expect(uint64_t seq, size_t off, uint64_t seq_a, uint64_t seq_b,
                            const char *what)
{
    uint8_t key[LT_STORE_ID_LEN + 8];
    lt_key_seq(key, &s_sid, seq);
    s_flip_expect(LT_CF_WITNESS, key, sizeof key, off, seq_a, seq_b, what);
}

static void s_expect_open_ok(void)
{
    lt_db_t *db = NULL;
    lt_errbuf_t eb = {{0}};
    lt_err_t rc = lt_test_db_reopen(s_fx.dir, &s_fx.id, &s_fx.clock, &db, &eb);
    cr_assert_eq(rc, LT_OK, "reopen: %s: %s", lt_errname(rc), eb.msg);
    lt_store_t *st = lt_db_store(db, &s_sid);
    cr_assert_not_null(st);
    uint64_t bad = 0;
    rc = lt_store_verify(st, true, &bad);
    cr_assert_eq(rc, LT_OK, "full verify: %s at %llu: %s", lt_errname(rc), (unsigned long long)bad,
                 lt_db_errmsg(db));
    lt_db_close(&db);
}

/* ---- (a) a damaged witness record ---- */

Test(corruption, a_flipped_byte_in_a_signed_record_names_its_seq)
{
    s_make(12, 1, false);
    static const struct {
        size_t off;
        const char *field;
    } fields[] = {
        {S_W_VERSION, "version"},         {S_W_STORE + 3, "store id"}, {S_W_SEQ + 7, "seq"},
        {S_W_INTENTION + 9, "intention"}, {S_W_WALL + 1, "wall time"}, {S_W_PREV + 30, "prev"},
    };
    /* Each field is damaged once in the first or a middle record, and every
     * field in the last one (the record the open reads first). */
    for (size_t f = 0; f < sizeof fields / sizeof *fields; f++) {
        const uint64_t seqs[2] = {f % 2 ? 6 : 1, 12};
        for (int i = 0; i < 2; i++) {
            char what[64];
            snprintf(what, sizeof what, "record %llu, %s byte", (unsigned long long)seqs[i],
                     fields[f].field);
            s_record_expect(seqs[i], fields[f].off, seqs[i], seqs[i], what);
        }
    }
    s_expect_open_ok(); /* restored: the failed opens left nothing behind */
}

Test(corruption, a_flipped_byte_in_an_unsigned_record_breaks_the_chain_there)
{
    /* Commits of 4 sign records 4, 8 and 12 only; a change to record 6 is
     * seen where the chain breaks: at 6 or at 7, whose prev no longer
     * matches. */
    s_make(12, 4, false);
    s_record_expect(6, S_W_WALL + 2, 6, 7, "unsigned record 6");
    s_record_expect(6, S_W_PREV, 6, 6, "the prev of record 6");
    s_expect_open_ok();
}

Test(corruption, a_missing_record_is_corruption)
{
    s_make(10, 1, false);
    uint8_t key[LT_STORE_ID_LEN + 8];
    lt_key_seq(key, &s_sid, 4);
    lt_kv_t *kv = s_raw_open();
    lt_kv_op_t op = {LT_CF_WITNESS, true, key, sizeof key, NULL, 0};
    lt_kv_batch_t b = {&op, 1};
    cr_assert_eq(lt_kv_write(kv, &b, true), LT_OK);
    lt_kv_close(&kv);
    s_expect_corrupt(4, 5, "a deleted record");
}

/* ---- (b) a damaged intention ---- */

Test(corruption, a_flipped_byte_in_a_stored_intention_names_its_seq)
{
    s_make(12, 3, false);
    /* One intention inside a commit, and the last: damage to the signed
     * part (version, author, store id, the last ops byte) changes its hash. */
    uint8_t key[2][LT_STORE_ID_LEN + LT_HASH_LEN];
    size_t len[2];
    const uint64_t seqs[2] = {2, 12};
    for (int i = 0; i < 2; i++)
        len[i] = s_intention_row(seqs[i], key[i]);
    const struct {
        int which;
        size_t off;
    } cases[] = {
        {0, 0},
        {0, 5},
        {1, 1 + LT_KEY_LEN + 12 + 3},
        {1, len[1] - LT_SIG_LEN - 1},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        int w = cases[c].which;
        char what[64];
        snprintf(what, sizeof what, "intention of record %llu, byte %zu",
                 (unsigned long long)seqs[w], cases[c].off);
        s_flip_expect(LT_CF_INTENTIONS, key[w], sizeof key[w], cases[c].off, seqs[w], seqs[w],
                      what);
    }
    s_expect_open_ok();
}

Test(corruption, a_missing_intention_names_its_seq)
{
    s_make(6, 2, false);
    uint8_t key[LT_STORE_ID_LEN + LT_HASH_LEN];
    s_intention_row(3, key);
    lt_kv_t *kv = s_raw_open();
    lt_kv_op_t op = {LT_CF_INTENTIONS, true, key, sizeof key, NULL, 0};
    lt_kv_batch_t b = {&op, 1};
    cr_assert_eq(lt_kv_write(kv, &b, true), LT_OK);
    lt_kv_close(&kv);
    s_expect_corrupt(3, 3, "a deleted intention");
}

Test(corruption, a_flipped_signature_byte_of_a_stored_intention_is_found_by_full_verify)
{
    /* The signature is not part of the hash the chain covers; only a full
     * verify, which re-checks signatures, can see it. */
    s_make(6, 2, false);
    uint8_t key[LT_STORE_ID_LEN + LT_HASH_LEN];
    size_t len = s_intention_row(4, key);
    s_flip(LT_CF_INTENTIONS, key, sizeof key, len - 10, 0x01);
    lt_db_t *db = NULL;
    lt_errbuf_t eb = {{0}};
    lt_err_t rc = lt_test_db_reopen(s_fx.dir, &s_fx.id, &s_fx.clock, &db, &eb);
    if (rc == LT_OK) {
        uint64_t bad = 0;
        rc = lt_store_verify(lt_db_store(db, &s_sid), true, &bad);
        cr_assert_eq(rc, LT_ECORRUPT, "full verify passed over a bad intention signature");
        cr_assert_eq(bad, 4);
        cr_assert(s_names(lt_db_errmsg(db), 4), "'%s'", lt_db_errmsg(db));
        lt_db_close(&db);
    } else {
        cr_assert_eq(rc, LT_ECORRUPT, "%s", eb.msg);
        cr_assert(s_names(eb.msg, 4), "'%s'", eb.msg);
    }
}

/* ---- (c) a missing witness signature ---- */

Test(corruption, a_removed_signature_on_the_last_record_is_corruption)
{
    s_make(9, 3, false);
    uint8_t key[LT_STORE_ID_LEN + 8];
    lt_key_seq(key, &s_sid, 9);
    lt_kv_t *kv = s_raw_open();
    lt_buf_t sig = LT_BUF_INIT;
    cr_assert_eq(lt_kv_get(kv, LT_CF_WSIG, key, sizeof key, &sig), LT_OK,
                 "the last record of a commit is not signed");
    lt_kv_op_t op = {LT_CF_WSIG, true, key, sizeof key, NULL, 0};
    lt_kv_batch_t b = {&op, 1};
    cr_assert_eq(lt_kv_write(kv, &b, true), LT_OK);
    lt_kv_close(&kv);
    s_expect_corrupt(9, 9, "the last record without its signature");

    /* A signature by another key is no better. */
    lt_identity_t other;
    lt_test_identity(&other, 10);
    lt_witness_t w;
    kv = s_raw_open();
    lt_buf_t rec = LT_BUF_INIT;
    cr_assert_eq(lt_kv_get(kv, LT_CF_WITNESS, key, sizeof key, &rec), LT_OK);
    cr_assert_eq(lt_witness_decode(rec.data, rec.len, &w), LT_OK);
    lt_hash_t rh;
    lt_witness_hash(&w, &rh);
    lt_sig_t forged;
    lt_identity_sign(&other, &rh, &forged);
    s_raw_put(kv, LT_CF_WSIG, key, sizeof key, forged.b, LT_SIG_LEN);
    lt_kv_close(&kv);
    s_expect_corrupt(9, 9, "the last record signed by another key");

    /* A truncated signature. */
    kv = s_raw_open();
    s_raw_put(kv, LT_CF_WSIG, key, sizeof key, sig.data, LT_SIG_LEN - 1);
    lt_kv_close(&kv);
    s_expect_corrupt(9, 9, "a truncated signature");

    /* Put back, it opens. */
    kv = s_raw_open();
    s_raw_put(kv, LT_CF_WSIG, key, sizeof key, sig.data, sig.len);
    lt_kv_close(&kv);
    s_expect_open_ok();
    lt_buf_free(&sig);
    lt_buf_free(&rec);
}

/* ---- (d), (e) damaged RocksDB files ---- */

/* Path of the largest file in store.rdb whose name ends with suffix (or starts
 * with prefix when suffix is NULL). */
static void s_find_file(const char *prefix, const char *suffix, char *out, size_t cap)
{
    char dir[4096];
    s_store_path(dir, sizeof dir);
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "opendir %s: %s", dir, strerror(errno));
    off_t best = -1;
    const struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        bool match = suffix
                         ? n > strlen(suffix) && strcmp(e->d_name + n - strlen(suffix), suffix) == 0
                         : prefix && strncmp(e->d_name, prefix, strlen(prefix)) == 0;
        if (!match)
            continue;
        char path[4096 + 256];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (stat(path, &sb) == 0 && sb.st_size > best) {
            best = sb.st_size;
            snprintf(out, cap, "%s", path);
        }
    }
    closedir(d);
    cr_assert_geq(best, 0, "no file %s* %s in %s", prefix ? prefix : "", suffix ? suffix : "", dir);
}

static off_t s_size(const char *path)
{
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0, "stat %s: %s", path, strerror(errno));
    return sb.st_size;
}

/* Reopens a database whose files were cut: a clear error, not a crash. */
static void s_expect_clear_error(const char *what, const char *cut)
{
    off_t size = s_size(cut);
    lt_db_t *db = NULL;
    lt_errbuf_t eb = {{0}};
    lt_err_t rc = lt_test_db_reopen(s_fx.dir, &s_fx.id, &s_fx.clock, &db, &eb);
    if (rc == LT_OK)
        lt_db_close(&db);
    cr_assert(rc == LT_ECORRUPT || rc == LT_EIO, "%s: reopen gave %s (%s)", what, lt_errname(rc),
              eb.msg);
    cr_assert_gt(strlen(eb.msg), 10, "%s: the error has no message", what);
    cr_assert_eq(s_size(cut), size, "%s: the failed open rewrote the damaged file", what);
}

Test(corruption, a_truncated_table_file_is_a_clear_error)
{
    s_make(400, 20, true);
    char sst[4096 + 256];
    s_find_file(NULL, ".sst", sst, sizeof sst);
    off_t size = s_size(sst);
    cr_assert_eq(truncate(sst, size / 2), 0, "truncate %s: %s", sst, strerror(errno));
    s_expect_clear_error("a table file cut in half", sst);
}

Test(corruption, a_truncated_manifest_is_a_clear_error)
{
    /* RocksDB reads a cut MANIFEST as a torn last write and rolls back to the
     * version before it; the flushed tables it no longer lists are then
     * deleted. An open must refuse that, or else lose nothing. */
    s_make(50, 10, true);
    char manifest[4096 + 256];
    s_find_file("MANIFEST-", NULL, manifest, sizeof manifest);
    cr_assert_eq(truncate(manifest, s_size(manifest) / 2), 0, "truncate: %s", strerror(errno));
    lt_db_t *db = NULL;
    lt_errbuf_t eb = {{0}};
    lt_err_t rc = lt_test_db_reopen(s_fx.dir, &s_fx.id, &s_fx.clock, &db, &eb);
    if (rc == LT_OK) {
        lt_store_t *st = lt_db_store(db, &s_sid);
        uint64_t n = st ? lt_store_witnessed_count(st) : 0;
        lt_db_close(&db);
        cr_assert(st && n == 50,
                  "a MANIFEST cut in half opened without an error and lost data: the store "
                  "is %s with %llu of 50 records",
                  st ? "there" : "gone", (unsigned long long)n);
    } else {
        cr_assert(rc == LT_ECORRUPT || rc == LT_EIO, "reopen gave %s (%s)", lt_errname(rc), eb.msg);
        cr_assert_gt(strlen(eb.msg), 10, "the error has no message");
    }
}

/* Copies the files of the database directory `from` into `to` (created):
 * what a crash leaves on disk, taken while the database is open. */
static void s_copy_db(const char *from, const char *to)
{
    cr_assert_eq(mkdir(to, 0700), 0, "mkdir %s: %s", to, strerror(errno));
    DIR *d = opendir(from);
    cr_assert_not_null(d, "opendir %s: %s", from, strerror(errno));
    const struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char src[8192], dst[8192];
        snprintf(src, sizeof src, "%s/%s", from, e->d_name);
        snprintf(dst, sizeof dst, "%s/%s", to, e->d_name);
        struct stat sb;
        if (stat(src, &sb) != 0 || !S_ISREG(sb.st_mode))
            continue;
        FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
        cr_assert(in && out, "copy %s: %s", src, strerror(errno));
        char buf[65536];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, in)) > 0)
            cr_assert_eq(fwrite(buf, 1, n, out), n, "copy %s: %s", dst, strerror(errno));
        fclose(in);
        cr_assert_eq(fclose(out), 0, "copy %s: %s", dst, strerror(errno));
    }
    closedir(d);
}

Test(corruption, a_manifest_cut_after_a_crash_loses_nothing)
{
    /* The node opens (recovery writes a new MANIFEST, which the seal names),
     * writes more (in the write-ahead log only), and crashes. If that
     * MANIFEST is then cut anywhere, the log alone still reaches the sealed
     * sequence number, so the seal's number is no proof: each cut must be
     * refused, or else open with every record. (A cut in what a MANIFEST
     * gained after the last open is beyond what the seal vouches for; see
     * kv_rocksdb.c.) */
    s_make(200, 10, true);
    lt_db_t *db = NULL;
    lt_errbuf_t eb = {{0}};
    lt_err_t rc = lt_test_db_reopen(s_fx.dir, &s_fx.id, &s_fx.clock, &db, &eb);
    cr_assert_eq(rc, LT_OK, "reopen: %s", eb.msg);
    lt_store_t *st = lt_db_store(db, &s_sid);
    cr_assert_not_null(st);
    for (unsigned i = 0; i < 40; i++) {
        s_fx.clock++;
        cr_assert_eq(lt_kvstore_put(st, lt_test_b("after"), 5, lt_test_b("the open"), 8, NULL),
                     LT_OK);
        cr_assert_eq(lt_db_commit(db), LT_OK, "%s", lt_db_errmsg(db));
    }
    char live[4096], image[4096 + 32];
    s_store_path(live, sizeof live);
    char *crash = lt_test_tmpdir("crash");
    snprintf(image, sizeof image, "%s/store.rdb", crash);
    s_copy_db(live, image);
    lt_db_close(&db);
    lt_test_rmtree(&s_fx.dir);

    /* Cut the MANIFEST at many points, each on a fresh copy of the image. */
    char manifest[4096 + 256];
    s_fx.dir = crash;
    s_find_file("MANIFEST-", NULL, manifest, sizeof manifest);
    const char *name = strrchr(manifest, '/') + 1;
    off_t full = s_size(manifest);
    s_fx.dir = NULL;
    unsigned refused = 0, cuts = 48;
    for (unsigned c = 1; c <= cuts; c++) {
        off_t at = full * (off_t)c / (off_t)(cuts + 1);
        s_fx.dir = lt_test_tmpdir("cut");
        char path[4096 + 32], cut[8192];
        s_store_path(path, sizeof path);
        s_copy_db(image, path);
        snprintf(cut, sizeof cut, "%s/%s", path, name);
        cr_assert_eq(truncate(cut, at), 0, "truncate: %s", strerror(errno));
        rc = lt_test_db_reopen(s_fx.dir, &s_fx.id, &s_fx.clock, &db, &eb);
        if (rc == LT_OK) {
            st = lt_db_store(db, &s_sid);
            uint64_t n = st ? lt_store_witnessed_count(st) : 0;
            lt_db_close(&db);
            cr_assert(st && n == 240,
                      "a MANIFEST cut to %lld of %lld bytes after a crash opened without an "
                      "error and lost data: the store is %s with %llu of 240 records",
                      (long long)at, (long long)full, st ? "there" : "gone", (unsigned long long)n);
        } else {
            cr_assert_eq(rc, LT_ECORRUPT, "cut to %lld: reopen gave %s (%s)", (long long)at,
                         lt_errname(rc), eb.msg);
            cr_assert_eq(s_size(cut), at, "the failed open rewrote the MANIFEST");
            refused++;
        }
        lt_test_rmtree(&s_fx.dir);
    }
    s_fx.dir = crash;
    cr_assert_gt(refused, 0, "no cut was refused");
}

Test(corruption, a_truncated_current_file_is_a_clear_error)
{
    s_make(50, 10, true);
    char current[4096 + 256];
    s_find_file("CURRENT", NULL, current, sizeof current);
    cr_assert_eq(truncate(current, s_size(current) / 2), 0, "truncate: %s", strerror(errno));
    s_expect_clear_error("CURRENT cut in half", current);
    cr_assert_eq(truncate(current, 0), 0);
    s_expect_clear_error("an empty CURRENT", current);
}

/* ---- (f) a full verify finds what the incremental check skips ---- */

Test(corruption, full_verify_finds_damage_the_incremental_check_passed)
{
    s_make(20, 1, false);
    s_expect_open_ok(); /* records 1..20 are now verified */
    s_flip_record(3, S_W_WALL + 4);

    lt_db_t *db = NULL;
    lt_errbuf_t eb = {{0}};
    lt_err_t rc = lt_test_db_reopen(s_fx.dir, &s_fx.id, &s_fx.clock, &db, &eb);
    cr_assert_eq(rc, LT_OK, "the incremental check looked at an old record: %s", eb.msg);
    lt_store_t *st = lt_db_store(db, &s_sid);
    cr_assert_eq(lt_store_verify(st, false, NULL), LT_OK);
    uint64_t bad = 0;
    rc = lt_store_verify(st, true, &bad);
    cr_assert_eq(rc, LT_ECORRUPT, "full verify: %s", lt_errname(rc));
    cr_assert_eq(bad, 3, "full verify reported record %llu", (unsigned long long)bad);
    cr_assert(s_names(lt_db_errmsg(db), 3), "'%s'", lt_db_errmsg(db));

    /* New records still verify incrementally; a full verify still fails. */
    s_fx.clock++;
    cr_assert_eq(lt_kvstore_put(st, (const uint8_t *)"new", 3, (const uint8_t *)"v", 1, NULL),
                 LT_OK);
    cr_assert_eq(lt_db_commit(db), LT_OK);
    cr_assert_eq(lt_store_verify(st, false, NULL), LT_OK);
    cr_assert_eq(lt_store_verify(st, true, &bad), LT_ECORRUPT);
    cr_assert_eq(bad, 3);
    lt_db_close(&db);
}

/* ---- (g) the open's check is bounded ---- */

Test(corruption, the_open_checks_its_newest_records_and_leaves_the_rest_as_its_gap)
{
    /* Never reopened: nothing verified yet, more records than the open
     * looks at. Damage inside its window fails the open (which changes
     * nothing); damage before it passes the open and is found by the check
     * of the open's gap. */
    const unsigned n = LT_STORE_VERIFY_TAIL + 40;
    s_make(n, 64, false);
    s_record_expect(n - 10, S_W_WALL + 4, n - 10, n - 9, "a record inside the window");
    s_flip_record(5, S_W_WALL + 4);
    lt_db_t *db = NULL;
    lt_errbuf_t eb = {{0}};
    lt_err_t rc = lt_test_db_reopen(s_fx.dir, &s_fx.id, &s_fx.clock, &db, &eb);
    cr_assert_eq(rc, LT_OK, "the open looked past its window: %s", eb.msg);
    /* It left what it passed over as its gap, and the verified point where
     * it was: the check from there (what the store actor runs right after
     * the open) finds the damage, and so does the full verify. */
    lt_store_t *st = lt_db_store(db, &s_sid);
    uint64_t gap_from = 0, gap_to = 0;
    cr_assert(lt_store_open_gap(st, &gap_from, &gap_to));
    cr_assert_eq(gap_from, 1);
    cr_assert_eq(gap_to, n - LT_STORE_VERIFY_TAIL);
    uint64_t bad = 0;
    cr_assert_eq(lt_store_verify(st, false, &bad), LT_ECORRUPT);
    cr_assert(bad == 5 || bad == 6, "the check from the verified point reported record %llu",
              (unsigned long long)bad);
    cr_assert_eq(lt_store_verify(lt_db_store(db, &s_sid), true, &bad), LT_ECORRUPT);
    /* Record 5 is unsigned: its change shows where the next one's prev no
     * longer matches. */
    cr_assert(bad == 5 || bad == 6, "full verify reported record %llu", (unsigned long long)bad);
    lt_db_close(&db);
}
