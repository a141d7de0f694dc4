/* bench-core: the core benchmark of the intention store. One run measures the
 * crypto bounds (Ed25519 sign and verify alone), local writes (sign + store +
 * witness + apply) with group commits and with one commit per write, ingest of
 * foreign intentions (verify + store + witness + apply) and a projection
 * rebuild, all on the RocksDB backend with synced commits, and prints ONE JSON
 * object on ONE line of stdout. Progress goes to stderr. tools/bench/README.md
 * says what each figure means and which targets they are held to.
 *
 * Why the ratios: a local write costs at least one signature (the intention)
 * and an ingest at least one verification; each commit adds one node signature
 * over the witness chain's tail. The ratios say how much of the time goes to
 * the store rather than to the cryptography it cannot avoid. */

#include "bench_util.h"
#include "store/kv_state.h"
#include "store/store.h"
#include "store/tables.h"

#include <sodium.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef LT_BENCH_VERSION
#define LT_BENCH_VERSION "unknown"
#endif

#define S_FORMAT         "bench-core/1" /* bump when a field changes meaning */
#define S_KEY_LEN        16
#define S_VALUE_LEN      100
#define S_LOCAL_GROUP    64  /* local writes per commit */
#define S_INGEST_GROUP   100 /* ingested intentions per commit */
#define S_N_FULL         50000
#define S_N_QUICK        5000
#define S_SYNC_N_FULL    2000
#define S_SYNC_N_QUICK   200
#define S_SYNC_MAX_S     20.0 /* stop the commit-per-write phase early on slow disks */
#define S_CRYPTO_FULL_S  2.0
#define S_CRYPTO_QUICK_S 0.5
#define S_POOL_LEN       4096 /* random bytes the values are cut from */

typedef struct {
    const char *base; /* where the run directory is made */
    uint64_t n;       /* writes and ingests */
    uint64_t sync_n;  /* writes of the commit-per-write phase */
    double crypto_s;  /* duration of each crypto loop */
    bool quick;
} s_opts_t;

typedef struct {
    double sign_per_s, verify_per_s;
    uint64_t sign_n, verify_n;
    double local_per_s, local_sync_per_s, ingest_per_s, rebuild_per_s;
    uint64_t local_n, local_sync_n, ingest_n, rebuild_n;
    double local_commit_share, ingest_commit_share; /* of the phase's wall time */
    double prepare_s, total_s;
} s_results_t;

/* Intentions signed beforehand by a foreign identity, in witness order. */
typedef struct {
    lt_store_id_t store;
    lt_buf_t bytes;
    size_t *off; /* n + 1 offsets into bytes */
    uint64_t n;
} s_foreign_t;

static void s_usage(FILE *f)
{
    fprintf(f,
            "usage: bench-core [--quick] [--n N] [--dir DIR]\n"
            "Measures Ed25519 sign/verify, local writes, ingest of foreign intentions and a\n"
            "projection rebuild on the RocksDB backend with synced commits, and prints one\n"
            "JSON object on one line of stdout (progress on stderr).\n"
            "  --quick    N = %d, shorter crypto loops (CI smoke test)\n"
            "  --n N      writes and ingests per phase (default %d)\n"
            "  --dir DIR  make the run directory (a fresh bench-core.XXXXXX, removed at the\n"
            "             end) under DIR instead of /tmp: choose the disk being measured\n"
            "  --help     this text\n",
            S_N_QUICK, S_N_FULL);
}

static double s_rate(uint64_t n, double secs)
{
    return secs > 0 ? (double)n / secs : 0;
}

static int s_fail(lt_db_t *db, const char *what, lt_err_t rc)
{
    lt_bench_note("%s: %s%s%s", what, lt_strerror(rc), db ? ": " : "", db ? lt_db_errmsg(db) : "");
    return 1;
}

/* A 16-byte key: an 8-byte phase tag, then the index big-endian. */
static void s_key(uint8_t key[S_KEY_LEN], const char tag[8], uint64_t i)
{
    memcpy(key, tag, 8);
    lt_put_u64be(key + 8, i);
}

/* Values are 100-byte windows of a random pool, so they neither repeat nor
 * compress, and making one costs nothing next to a write. */
static const uint8_t *s_value(const uint8_t *pool, uint64_t i)
{
    return pool + (i * 37) % (S_POOL_LEN - S_VALUE_LEN);
}

/* ---- the run directory ---- */

/* ---- crypto bounds ---- */

/* Signs 32-byte hashes for about `secs`; returns signatures per second. */
static double s_bench_sign(double secs, uint64_t *n_out)
{
    lt_identity_t id;
    lt_identity_generate(&id);
    uint8_t hashes[64][LT_HASH_LEN], sig[LT_SIG_LEN];
    randombytes_buf(hashes, sizeof hashes);
    uint64_t n = 0;
    double t0 = lt_bench_now(), t;
    do {
        for (int i = 0; i < 64; i++, n++)
            crypto_sign_detached(sig, NULL, hashes[i], LT_HASH_LEN, id.sk);
        t = lt_bench_now();
    } while (t - t0 < secs);
    lt_identity_wipe(&id);
    *n_out = n;
    return s_rate(n, t - t0);
}

/* Verifies signatures over 32-byte hashes for about `secs`. */
static double s_bench_verify(double secs, uint64_t *n_out)
{
    lt_identity_t id;
    lt_identity_generate(&id);
    uint8_t hashes[64][LT_HASH_LEN], sigs[64][LT_SIG_LEN];
    randombytes_buf(hashes, sizeof hashes);
    for (int i = 0; i < 64; i++)
        crypto_sign_detached(sigs[i], NULL, hashes[i], LT_HASH_LEN, id.sk);
    uint64_t n = 0, bad = 0;
    double t0 = lt_bench_now(), t;
    do {
        for (int i = 0; i < 64; i++, n++)
            bad += crypto_sign_verify_detached(sigs[i], hashes[i], LT_HASH_LEN, id.pk.b) != 0;
        t = lt_bench_now();
    } while (t - t0 < secs);
    lt_identity_wipe(&id);
    *n_out = n;
    if (bad) {
        lt_bench_note("%" PRIu64 " of %" PRIu64 " valid signatures did not verify", bad, n);
        return 0;
    }
    return s_rate(n, t - t0);
}

/* ---- foreign intentions ---- */

typedef struct {
    lt_store_t *st;
    s_foreign_t *f;
    lt_buf_t scratch;
} s_collect_t;

static lt_err_t s_collect(void *ctx, uint64_t seq, const lt_hash_t *h)
{
    s_collect_t *c = ctx;
    (void)seq;
    lt_err_t rc = lt_store_get_intention(c->st, h, &c->scratch);
    if (rc == LT_OK)
        rc = lt_buf_append(&c->f->bytes, c->scratch.data, c->scratch.len);
    if (rc == LT_OK)
        c->f->off[++c->f->n] = c->f->bytes.len;
    return rc;
}

/* Another identity writes n puts into a store of a memory-backed db; its
 * signed intentions are kept in witness order, ready to be ingested. */
static int s_prepare_foreign(const s_opts_t *o, const uint8_t *pool, s_foreign_t *f)
{
    lt_identity_t id;
    lt_identity_generate(&id);
    lt_kv_t *kv = NULL;
    lt_db_t *db = NULL;
    lt_errbuf_t eb = {{0}};
    lt_err_t rc = lt_kv_mem_open(LT_CF_COUNT, &kv);
    if (rc)
        return s_fail(NULL, "opening the memory backend", rc);
    lt_db_config_t cfg = {.kv = kv, .identity = &id};
    rc = lt_db_open(&cfg, &db, &eb);
    lt_identity_wipe(&id);
    if (rc) {
        lt_kv_close(&kv);
        lt_bench_note("opening the foreign db: %s", eb.msg[0] ? eb.msg : lt_strerror(rc));
        return 1;
    }
    lt_store_t *st;
    rc = lt_store_create(db, "core:kvstore", NULL, &st);
    if (rc == LT_OK)
        rc = lt_db_commit_ex(db, false);
    for (uint64_t i = 0; rc == LT_OK && i < o->n; i++) {
        uint8_t key[S_KEY_LEN];
        s_key(key, "bench-f-", i);
        rc = lt_kvstore_put(st, key, sizeof key, s_value(pool, i), S_VALUE_LEN, NULL);
        if (rc == LT_OK && (i + 1) % S_LOCAL_GROUP == 0)
            rc = lt_db_commit_ex(db, false);
    }
    if (rc == LT_OK)
        rc = lt_db_commit_ex(db, false);
    if (rc) {
        int ret = s_fail(db, "writing the foreign intentions", rc);
        lt_db_close(&db);
        return ret;
    }
    f->store = *lt_store_id(st);
    f->off = calloc(o->n + 1, sizeof *f->off);
    s_collect_t c = {st, f, LT_BUF_INIT};
    rc = f->off ? lt_store_scan_witness(st, 1, s_collect, &c) : LT_ENOMEM;
    lt_buf_free(&c.scratch);
    if (rc == LT_OK && f->n != o->n)
        rc = LT_ECORRUPT;
    int ret = rc ? s_fail(db, "collecting the foreign intentions", rc) : 0;
    lt_db_close(&db);
    return ret;
}

static void s_foreign_free(s_foreign_t *f)
{
    lt_buf_free(&f->bytes);
    free(f->off);
    f->off = NULL;
    f->n = 0;
}

/* ---- store phases ---- */

/* What one timed phase did: items, wall time, the part of it spent in
 * lt_db_commit (tail signature, batch, RocksDB write, fsync) and the CPU
 * time of this thread (the rest of the wall time is waiting, mostly fsync;
 * RocksDB's background threads are not counted). */
typedef struct {
    uint64_t n;
    double wall, commit, cpu;
} s_phase_t;

static double s_thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void s_phase_start(s_phase_t *p)
{
    memset(p, 0, sizeof *p);
    p->wall = lt_bench_now();
    p->cpu = s_thread_cpu();
}

static void s_phase_stop(s_phase_t *p)
{
    p->wall = lt_bench_now() - p->wall;
    p->cpu = s_thread_cpu() - p->cpu;
}

static lt_err_t s_commit(lt_db_t *db, s_phase_t *p)
{
    double t0 = lt_bench_now();
    lt_err_t rc = lt_db_commit(db);
    p->commit += lt_bench_now() - t0;
    return rc;
}

static void s_phase_note(const s_phase_t *p, const char *unit)
{
    char commit[32] = "";
    if (p->commit > 0)
        snprintf(commit, sizeof commit, "in commit %.0f%%, ", 100 * p->commit / p->wall);
    lt_bench_note("  %.0f %s/s (%" PRIu64 " in %.2f s; %sthread CPU %.0f%%)", s_rate(p->n, p->wall),
                  unit, p->n, p->wall, commit, 100 * p->cpu / p->wall);
}

/* n puts of distinct keys, one synced commit every `group` writes; stops
 * early (at a commit) after max_s seconds when max_s > 0. Kept out of line,
 * as is s_ingest_all, so that profiles can attribute samples to the phase. */
__attribute__((noinline)) static lt_err_t s_local_writes(lt_db_t *db, lt_store_t *st,
                                                         const char tag[8], uint64_t n,
                                                         unsigned group, double max_s,
                                                         const uint8_t *pool, s_phase_t *p)
{
    lt_err_t rc = LT_OK;
    s_phase_start(p);
    double t0 = lt_bench_now();
    while (rc == LT_OK && p->n < n) {
        uint8_t key[S_KEY_LEN];
        s_key(key, tag, p->n);
        rc = lt_kvstore_put(st, key, sizeof key, s_value(pool, p->n), S_VALUE_LEN, NULL);
        p->n++;
        if (rc == LT_OK && p->n % group == 0) {
            rc = s_commit(db, p);
            if (max_s > 0 && lt_bench_now() - t0 > max_s)
                break;
        }
    }
    if (rc == LT_OK)
        rc = s_commit(db, p);
    s_phase_stop(p);
    return rc;
}

/* Ingests the foreign intentions in witness order, one synced commit every
 * S_INGEST_GROUP. */
__attribute__((noinline)) static lt_err_t s_ingest_all(lt_db_t *db, lt_store_t *st,
                                                       const s_foreign_t *f, s_phase_t *p)
{
    lt_err_t rc = LT_OK;
    s_phase_start(p);
    for (uint64_t i = 0; rc == LT_OK && i < f->n; i++) {
        lt_ingest_result_t res;
        rc = lt_store_ingest(st, f->bytes.data + f->off[i], f->off[i + 1] - f->off[i], &res);
        if (rc == LT_OK && res.status != LT_INGEST_WITNESSED)
            rc = LT_ECORRUPT; /* in witness order, every one must be witnessed at once */
        if (rc == LT_OK)
            p->n++;
        if (rc == LT_OK && p->n % S_INGEST_GROUP == 0)
            rc = s_commit(db, p);
    }
    if (rc == LT_OK)
        rc = s_commit(db, p);
    s_phase_stop(p);
    return rc;
}

/* Reads back one key, so that a store that silently dropped writes cannot
 * post a good figure. */
static lt_err_t s_check_value(lt_store_t *st, const char tag[8], uint64_t i, const uint8_t *pool)
{
    uint8_t key[S_KEY_LEN];
    s_key(key, tag, i);
    lt_buf_t v = LT_BUF_INIT;
    lt_err_t rc = lt_kvstore_get(st, key, sizeof key, &v, NULL);
    if (rc == LT_OK && (v.len != S_VALUE_LEN || memcmp(v.data, s_value(pool, i), v.len) != 0))
        rc = LT_ECORRUPT;
    lt_buf_free(&v);
    return rc;
}

static int s_run_store(const char *path, const s_opts_t *o, const uint8_t *pool,
                       const s_foreign_t *f, s_results_t *r)
{
    lt_identity_t id;
    lt_identity_generate(&id);
    lt_logger_t log = {lt_log_stderr_sink, NULL, LT_LOG_WARN};
    lt_kv_rocksdb_opts_t kopts = {
        .create_if_missing = true, .paranoid = false, .bloom_cfs = LT_CF_BLOOM_MASK};
    lt_errbuf_t eb = {{0}};
    lt_kv_t *kv = NULL;
    lt_db_t *db = NULL;
    lt_err_t rc = lt_kv_rocksdb_open(path, lt_cf_names, LT_CF_COUNT, &kopts, &eb, &kv);
    if (rc) {
        lt_identity_wipe(&id);
        lt_bench_note("opening RocksDB at %s: %s", path, eb.msg[0] ? eb.msg : lt_strerror(rc));
        return 1;
    }
    lt_db_config_t cfg = {.kv = kv, .identity = &id, .log = &log};
    rc = lt_db_open(&cfg, &db, &eb);
    lt_identity_wipe(&id);
    if (rc) {
        lt_kv_close(&kv);
        lt_bench_note("opening the db: %s", eb.msg[0] ? eb.msg : lt_strerror(rc));
        return 1;
    }
    int ret = 0;
    s_phase_t p;
    lt_store_t *local, *foreign;

    lt_bench_note("local writes: %" PRIu64 ", a synced commit every %d", o->n, S_LOCAL_GROUP);
    rc = lt_store_create(db, "core:kvstore", NULL, &local);
    if (rc == LT_OK)
        rc = lt_db_commit(db);
    if (rc == LT_OK)
        rc = s_local_writes(db, local, "bench-k-", o->n, S_LOCAL_GROUP, 0, pool, &p);
    if (rc == LT_OK)
        rc = s_check_value(local, "bench-k-", p.n - 1, pool);
    if (rc) {
        ret = s_fail(db, "local writes", rc);
        goto done;
    }
    s_phase_note(&p, "writes");
    r->local_n = p.n;
    r->local_per_s = s_rate(p.n, p.wall);
    r->local_commit_share = p.commit / p.wall;

    lt_bench_note("local writes, a synced commit each: %" PRIu64 " (at most %.0f s)", o->sync_n,
                  S_SYNC_MAX_S);
    rc = s_local_writes(db, local, "bench-s-", o->sync_n, 1, S_SYNC_MAX_S, pool, &p);
    if (rc == LT_OK)
        rc = s_check_value(local, "bench-s-", p.n - 1, pool);
    if (rc) {
        ret = s_fail(db, "local writes with a commit each", rc);
        goto done;
    }
    s_phase_note(&p, "writes");
    r->local_sync_n = p.n;
    r->local_sync_per_s = s_rate(p.n, p.wall);

    lt_bench_note("ingest: %" PRIu64 " foreign intentions, a synced commit every %d", f->n,
                  S_INGEST_GROUP);
    rc = lt_store_create(db, "core:kvstore", &f->store, &foreign);
    if (rc == LT_OK)
        rc = lt_db_commit(db);
    if (rc == LT_OK)
        rc = s_ingest_all(db, foreign, f, &p);
    if (rc == LT_OK && lt_store_witnessed_count(foreign) != f->n)
        rc = LT_ECORRUPT;
    if (rc == LT_OK)
        rc = s_check_value(foreign, "bench-f-", f->n - 1, pool);
    if (rc) {
        ret = s_fail(db, "ingest", rc);
        goto done;
    }
    s_phase_note(&p, "intentions");
    r->ingest_n = p.n;
    r->ingest_per_s = s_rate(p.n, p.wall);
    r->ingest_commit_share = p.commit / p.wall;

    lt_bench_note("rebuild of the ingested store's projection");
    s_phase_start(&p);
    rc = lt_store_rebuild(foreign);
    s_phase_stop(&p);
    if (rc == LT_OK)
        rc = s_check_value(foreign, "bench-f-", f->n - 1, pool);
    if (rc) {
        ret = s_fail(db, "rebuild", rc);
        goto done;
    }
    p.n = lt_store_witnessed_count(foreign);
    s_phase_note(&p, "intentions");
    r->rebuild_n = p.n;
    r->rebuild_per_s = s_rate(p.n, p.wall);
done:
    lt_db_close(&db);
    return ret;
}

static void s_print_json(const s_opts_t *o, const s_results_t *r, const char *fs)
{
    /* The bounds budget one node signature per intention on top of the
     * intention's own signature (local) or verification (ingest). With group
     * commit the store signs the witness chain once per commit, not once per
     * record, so its true crypto floor is lower and a ratio above 1 is
     * possible: the ratios are targets, not efficiencies. */
    double verify_bound = r->verify_per_s > 0 && r->sign_per_s > 0
                              ? 1.0 / (1.0 / r->verify_per_s + 1.0 / r->sign_per_s)
                              : 0;
    double sign_bound = r->sign_per_s / 2;
    printf("{\"format\":\"%s\",\"version\":\"%s\",\"backend\":\"rocksdb\",\"sync\":true,"
           "\"fs\":\"%s\",\"cores\":%ld,\"quick\":%s,"
           "\"sign_per_s\":%.1f,\"sign_n\":%" PRIu64 ","
           "\"verify_per_s\":%.1f,\"verify_n\":%" PRIu64 ","
           "\"local_writes_per_s\":%.1f,\"local_writes_n\":%" PRIu64 ","
           "\"local_writes_commit_every\":%d,"
           "\"local_writes_sync_each_per_s\":%.1f,\"local_writes_sync_each_n\":%" PRIu64 ","
           "\"ingest_per_s\":%.1f,\"ingest_n\":%" PRIu64 ",\"ingest_commit_every\":%d,"
           "\"rebuild_per_s\":%.1f,\"rebuild_n\":%" PRIu64 ","
           "\"ingest_vs_verify_bound\":%.3f,\"local_vs_sign_bound\":%.3f,"
           "\"local_writes_commit_share\":%.3f,\"ingest_commit_share\":%.3f,"
           "\"key_len\":%d,\"value_len\":%d,\"prepare_s\":%.2f,\"total_s\":%.2f}\n",
           S_FORMAT, LT_BENCH_VERSION, fs, sysconf(_SC_NPROCESSORS_ONLN),
           o->quick ? "true" : "false", r->sign_per_s, r->sign_n, r->verify_per_s, r->verify_n,
           r->local_per_s, r->local_n, S_LOCAL_GROUP, r->local_sync_per_s, r->local_sync_n,
           r->ingest_per_s, r->ingest_n, S_INGEST_GROUP, r->rebuild_per_s, r->rebuild_n,
           verify_bound > 0 ? r->ingest_per_s / verify_bound : 0,
           sign_bound > 0 ? r->local_per_s / sign_bound : 0, r->local_commit_share,
           r->ingest_commit_share, S_KEY_LEN, S_VALUE_LEN, r->prepare_s, r->total_s);
    fflush(stdout);
}

static bool s_parse_n(const char *s, uint64_t *n)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || v == 0 || v > 100000000ull || s[0] == '-')
        return false;
    *n = v;
    return true;
}

int main(int argc, char **argv)
{
    s_opts_t o = {.base = "/tmp", .n = 0, .crypto_s = S_CRYPTO_FULL_S};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            s_usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--quick") == 0) {
            o.quick = true;
        } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            o.base = argv[++i];
        } else if (strcmp(argv[i], "--n") == 0 && i + 1 < argc) {
            if (!s_parse_n(argv[++i], &o.n)) {
                lt_bench_note("--n wants a count from 1 to 100000000, not '%s'", argv[i]);
                return 2;
            }
        } else {
            lt_bench_note("unknown argument '%s'", argv[i]);
            s_usage(stderr);
            return 2;
        }
    }
    if (o.n == 0)
        o.n = o.quick ? S_N_QUICK : S_N_FULL;
    o.sync_n = o.quick ? S_SYNC_N_QUICK : S_SYNC_N_FULL;
    if (o.sync_n > o.n)
        o.sync_n = o.n;
    if (o.quick)
        o.crypto_s = S_CRYPTO_QUICK_S;
    if (lt_crypto_init() != LT_OK) {
        lt_bench_note("libsodium failed to initialize");
        return 1;
    }

    char dir[4096], path[4096 + 32], fs[32];
    if (snprintf(dir, sizeof dir, "%s/bench-core.XXXXXX", o.base) >= (int)sizeof dir) {
        lt_bench_note("--dir path too long");
        return 2;
    }
    if (!mkdtemp(dir)) {
        lt_bench_note("cannot make a directory under %s: %s", o.base, strerror(errno));
        return 1;
    }
    snprintf(path, sizeof path, "%s/store.rdb", dir);
    lt_bench_fs_name(dir, fs, sizeof fs);
    lt_bench_note("database %s (%s), n = %" PRIu64 "%s", path, fs, o.n, o.quick ? " (quick)" : "");

    double t_start = lt_bench_now();
    s_results_t r = {0};
    uint8_t pool[S_POOL_LEN];
    randombytes_buf(pool, sizeof pool);

    lt_bench_note("Ed25519 sign and verify of 32-byte hashes, %.1f s each", o.crypto_s);
    r.sign_per_s = s_bench_sign(o.crypto_s, &r.sign_n);
    r.verify_per_s = s_bench_verify(o.crypto_s, &r.verify_n);
    lt_bench_note("  sign %.0f/s, verify %.0f/s", r.sign_per_s, r.verify_per_s);
    int ret = r.verify_per_s > 0 ? 0 : 1;

    s_foreign_t f = {.bytes = LT_BUF_INIT};
    if (ret == 0) {
        lt_bench_note("preparing %" PRIu64 " foreign intentions (memory backend)", o.n);
        double t0 = lt_bench_now();
        ret = s_prepare_foreign(&o, pool, &f);
        r.prepare_s = lt_bench_now() - t0;
    }
    if (ret == 0)
        ret = s_run_store(path, &o, pool, &f, &r);
    s_foreign_free(&f);
    lt_bench_rm_tree(dir);
    r.total_s = lt_bench_now() - t_start;
    if (ret == 0)
        s_print_json(&o, &r, fs);
    return ret;
}
