/* The property the whole design rests on: a replica's state depends on the
 * set of intentions it holds, never on the order in which they arrived.
 *
 * A seeded workload runs K = 4 authors, each on its own node (a db on the
 * memory backend), writing puts, deletes, batches and system ops on a few
 * overlapping keys of a KV store, and appends to a log store. Between rounds
 * each node receives a random part of the others' intentions, so its next
 * writes cite some heads and not others (true conflicts, partial
 * resolutions). A fifth node runs author 0's key too and writes on the same
 * store_prev as author 0 at least once: an author fork.
 *
 * Every signed intention of both stores is then fed to fresh replicas (a db
 * with a fifth identity) in many random orders, with duplicates injected and
 * some intentions withheld and delivered last. Each replica must end with the
 * same canonical state: the KV register of every key (value, heads, conflict
 * flag), the system tables, the log order, the set of witnessed hashes, the
 * author tips and the fork report, with nothing left floating. The state is
 * compared as a BLAKE2b digest of a canonical text, and the text is diffed on
 * a mismatch. The seed comes from LT_SEED when set and is printed on failure. */
#include "store/heads.h"
#include "store/kv_state.h"
#include "store/log_state.h"
#include "store/system_table.h"
#include "store/tables.h"
#include "support/testutil.h"

#include <criterion/criterion.h>
#include <sodium.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define S_T0        1700000000000ull
#define S_AUTHORS   4
#define S_NODES     (S_AUTHORS + 1) /* the last node is author 0's second device */
#define S_FORK_NODE S_AUTHORS
#define S_MAX_INT   2048
#define S_KV        0
#define S_LOG       1

static const lt_store_id_t s_sids[2] = {
    {{0x0d, 0xe1, 0x1e, 0x4e, 0x00, 0x01, 0x40, 0x00, 0x80, 0x00, 0, 0, 0, 0, 0, 0x01}},
    {{0x0d, 0xe1, 0x1e, 0x4e, 0x00, 0x02, 0x40, 0x00, 0x80, 0x00, 0, 0, 0, 0, 0, 0x02}},
};
static const char *const s_types[2] = {"core:kvstore", "core:logstore"};
static const char *const s_keys[] = {"a", "b", "c", "d", "p/x", "p/y", "q"};
#define S_NKEYS (sizeof s_keys / sizeof *s_keys)

/* ---- seeded randomness (splitmix64) ---- */

typedef struct {
    uint64_t s;
} s_rng_t;

static uint64_t s_next(s_rng_t *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static unsigned s_below(s_rng_t *r, unsigned n)
{
    return (unsigned)(s_next(r) % n);
}

static bool s_chance(s_rng_t *r, unsigned percent)
{
    return s_below(r, 100) < percent;
}

static void s_shuffle(s_rng_t *r, size_t *v, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = s_below(r, (unsigned)i);
        size_t t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}

static uint64_t s_seed(void)
{
    const char *env = getenv("LT_SEED");
    if (env && *env)
        return strtoull(env, NULL, 0);
    s_rng_t r = {(uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32)};
    return s_next(&r) % 1000000000ull;
}

/* ---- the workload ---- */

typedef struct {
    lt_identity_t id;
    uint64_t clock;
    lt_db_t *db;
    lt_store_t *st[2];
    char *dir;
} s_node_t;

typedef struct {
    int store;
    int origin; /* the node that wrote it */
    lt_hash_t hash;
    lt_buf_t bytes;
} s_int_t;

typedef struct {
    uint64_t seed;
    unsigned rounds;
    s_node_t nodes[S_NODES];
    s_int_t ints[S_MAX_INT];
    size_t nints;
    size_t per_store[2];
    bool delivered[S_NODES][S_MAX_INT];
} s_world_t;

static s_world_t s_world;
/* The seed a test started from: LT_SEED=<it> replays the whole test. */
static uint64_t s_base_seed;

/* Fails the test naming the workload and the seed that replays it. */
#define S_FAIL(w, fmt, ...)                                                                        \
    cr_assert_fail("workload seed %llu (rerun with LT_SEED=%llu): " fmt,                           \
                   (unsigned long long)(w)->seed, (unsigned long long)s_base_seed, __VA_ARGS__)

static void s_fail_ctx(const s_world_t *w, const char *what, lt_err_t rc, lt_db_t *db)
{
    S_FAIL(w, "%s: %s: %s", what, lt_errname(rc), db ? lt_db_errmsg(db) : "");
}

static void s_check(const s_world_t *w, lt_err_t rc, const char *what, lt_db_t *db)
{
    if (rc != LT_OK)
        s_fail_ctx(w, what, rc, db);
}

static void s_record(s_world_t *w, int node, int store, const lt_hash_t *h)
{
    cr_assert_lt(w->nints, S_MAX_INT, "the workload outgrew S_MAX_INT");
    s_int_t *in = &w->ints[w->nints];
    in->store = store;
    in->origin = node;
    in->hash = *h;
    in->bytes = (lt_buf_t)LT_BUF_INIT;
    s_check(w, lt_store_get_intention(w->nodes[node].st[store], h, &in->bytes),
            "reading back a written intention", w->nodes[node].db);
    w->delivered[node][w->nints] = true;
    w->per_store[store]++;
    w->nints++;
}

static void s_deliver(s_world_t *w, int node, size_t i)
{
    s_node_t *n = &w->nodes[node];
    s_int_t *in = &w->ints[i];
    lt_ingest_result_t res;
    lt_err_t rc = lt_store_ingest(n->st[in->store], in->bytes.data, in->bytes.len, &res);
    s_check(w, rc, "delivering an intention to a writer node", n->db);
    w->delivered[node][i] = true;
}

/* One KV write of a random kind; false when it needs more deps than fit. */
static void s_kv_write(s_world_t *w, s_rng_t *r, int node, bool plain_put)
{
    s_node_t *n = &w->nodes[node];
    lt_store_t *st = n->st[S_KV];
    char val[32];
    snprintf(val, sizeof val, "n%d-%u", node, s_below(r, 1000));
    const char *key = s_keys[s_below(r, S_NKEYS)];
    unsigned kind = plain_put ? 0 : s_below(r, 100);
    lt_hash_t h;
    lt_err_t rc;
    if (kind < 50) {
        rc = lt_kvstore_put(st, (const uint8_t *)key, strlen(key), (const uint8_t *)val,
                            strlen(val), &h);
    } else if (kind < 65) {
        rc = lt_kvstore_del(st, (const uint8_t *)key, strlen(key), &h);
    } else if (kind < 92) {
        lt_kv_entry_t e[5];
        char vals[5][32];
        unsigned ne = 2 + s_below(r, 4);
        for (unsigned i = 0; i < ne; i++) {
            const char *k = s_keys[s_below(r, S_NKEYS)];
            snprintf(vals[i], sizeof vals[i], "n%d-b%u", node, s_below(r, 1000));
            bool del = s_chance(r, 20);
            e[i] = (lt_kv_entry_t){{(const uint8_t *)k, strlen(k)},
                                   {(const uint8_t *)vals[i], del ? 0 : strlen(vals[i])},
                                   del};
        }
        rc = lt_kvstore_batch(st, e, ne, &h);
    } else if (kind < 96) {
        snprintf(val, sizeof val, "name-%d-%u", node, s_below(r, 100));
        rc = lt_system_set_name(st, val, &h);
    } else {
        lt_identity_t peer;
        lt_test_identity(&peer, (uint8_t)(0x70 + s_below(r, 3)));
        rc = lt_system_set_peer(st, &peer.pk, (lattice_PeerStatus)(1 + s_below(r, 3)), &h);
    }
    if (rc == LT_ETOOMANYDEPS)
        return; /* a batch over many conflicted keys: refused, nothing written */
    s_check(w, rc, "a kv write", n->db);
    s_record(w, node, S_KV, &h);
}

static void s_log_write(s_world_t *w, s_rng_t *r, int node)
{
    s_node_t *n = &w->nodes[node];
    char text[32];
    snprintf(text, sizeof text, "log n%d %u", node, s_below(r, 100000));
    lt_hash_t h;
    s_check(w, lt_logstore_append(n->st[S_LOG], (const uint8_t *)text, strlen(text), &h),
            "a log append", n->db);
    s_record(w, node, S_LOG, &h);
}

static void s_node_setup(s_world_t *w, int node, uint8_t seed, lt_test_backend_t backend)
{
    s_node_t *n = &w->nodes[node];
    lt_test_identity(&n->id, seed);
    n->db = lt_test_db_open(backend, &n->id, &n->clock, &n->dir);
    for (int s = 0; s < 2; s++)
        s_check(w, lt_store_create(n->db, s_types[s], &s_sids[s], &n->st[s]), "create store",
                n->db);
    s_check(w, lt_db_commit(n->db), "commit", n->db);
}

static void s_node_close(s_node_t *n)
{
    lt_db_close(&n->db);
    lt_test_rmtree(&n->dir);
}

/* Builds the workload of `seed`: rounds of writes and partial deliveries. */
static void s_world_build(s_world_t *w, uint64_t seed, unsigned rounds)
{
    memset(w, 0, sizeof *w);
    w->seed = seed;
    w->rounds = rounds;
    s_rng_t r = {seed};
    const unsigned fork_round = 1 + s_below(&r, rounds / 3 + 1);
    const unsigned fork_last = fork_round + 2 + s_below(&r, 3);
    for (int i = 0; i < S_NODES; i++) {
        w->nodes[i].clock = S_T0 + s_below(&r, 40);
        /* The fork node runs author 0's key. */
        s_node_setup(w, i, (uint8_t)(0x41 + (i == S_FORK_NODE ? 0 : i)), LT_TEST_MEM);
    }
    for (unsigned round = 0; round < rounds; round++) {
        bool fork_active = round >= fork_round && round <= fork_last;
        if (round == fork_round) {
            /* The second device starts from author 0's chain as it stands, so
             * its first writes extend the same store_prev as author 0's. */
            for (size_t i = 0; i < w->nints; i++)
                if (!w->delivered[S_FORK_NODE][i] && (w->ints[i].origin == 0 || s_chance(&r, 50)))
                    s_deliver(w, S_FORK_NODE, i);
            s_check(w, lt_db_commit(w->nodes[S_FORK_NODE].db), "commit", w->nodes[S_FORK_NODE].db);
        }
        size_t order[S_NODES], nactive = 0;
        for (int i = 0; i < S_NODES; i++)
            if (i != S_FORK_NODE || fork_active)
                order[nactive++] = (size_t)i;
        s_shuffle(&r, order, nactive);
        for (size_t o = 0; o < nactive; o++) {
            int node = (int)order[o];
            s_node_t *n = &w->nodes[node];
            unsigned step = s_below(&r, 10);
            if (step < 3)
                ; /* same millisecond */
            else if (step < 8)
                n->clock += 1 + s_below(&r, 3);
            else if (step < 9)
                n->clock += s_below(&r, 50);
            else
                n->clock -= s_below(&r, 20); /* a wall clock stepping back */
            bool forking = round == fork_round && (node == 0 || node == S_FORK_NODE);
            unsigned nkv = 1 + s_below(&r, 3), nlog = s_below(&r, 3);
            if (forking && nlog == 0)
                nlog = 1;
            for (unsigned k = 0; k < nkv; k++)
                s_kv_write(w, &r, node, forking && k == 0);
            for (unsigned k = 0; k < nlog; k++)
                s_log_write(w, &r, node);
            s_check(w, lt_db_commit_ex(n->db, false), "commit", n->db);
        }
        /* Partial deliveries: each node hears a random part of the rest. */
        for (int node = 0; node < S_NODES; node++) {
            if (node == S_FORK_NODE && round < fork_round)
                continue;
            size_t cand[S_MAX_INT], nc = 0;
            for (size_t i = 0; i < w->nints; i++)
                if (!w->delivered[node][i] && s_chance(&r, 35))
                    cand[nc++] = i;
            s_shuffle(&r, cand, nc);
            for (size_t c = 0; c < nc; c++)
                s_deliver(w, node, cand[c]);
            s_check(w, lt_db_commit_ex(w->nodes[node].db, false), "commit", w->nodes[node].db);
        }
    }
    /* One node hears everything and rewrites a few keys: those end resolved
     * (one head) on every replica, the rest stay conflicted. */
    int last = (int)s_below(&r, S_AUTHORS);
    for (size_t i = 0; i < w->nints; i++)
        if (!w->delivered[last][i])
            s_deliver(w, last, i);
    w->nodes[last].clock += 5;
    for (unsigned k = 0; k < 3; k++)
        s_kv_write(w, &r, last, true);
    s_check(w, lt_db_commit(w->nodes[last].db), "commit", w->nodes[last].db);
}

static void s_world_free(s_world_t *w)
{
    for (int i = 0; i < S_NODES; i++)
        s_node_close(&w->nodes[i]);
    for (size_t i = 0; i < w->nints; i++)
        lt_buf_free(&w->ints[i].bytes);
    w->nints = 0;
}

/* ---- the canonical state ---- */

static void s_line(lt_buf_t *out, const char *fmt, ...) LT_PRINTF(2, 3);

static void s_line(lt_buf_t *out, const char *fmt, ...)
{
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    cr_assert(n >= 0 && (size_t)n < sizeof line - 1);
    line[n++] = '\n';
    cr_assert_eq(lt_buf_append(out, line, (size_t)n), LT_OK);
}

static void s_hexs(const uint8_t *p, size_t n, char *out, size_t cap)
{
    cr_assert_lt(2 * n, cap);
    lt_hex(p, n, out);
}

/* One register (KV key or system row): every head in order. */
static void s_heads_lines(lt_buf_t *out, const uint8_t *v, size_t vlen)
{
    lt_heads_t h = LT_HEADS_INIT;
    cr_assert_eq(lt_heads_decode(v, vlen, &h), LT_OK, "a register does not decode");
    for (unsigned i = 0; i < h.n; i++) {
        char hash[65], author[65], val[1025];
        lt_hex(h.v[i].hash.b, LT_HASH_LEN, hash);
        lt_hex(h.v[i].author.b, LT_KEY_LEN, author);
        s_hexs(h.v[i].value.p, h.v[i].value.len, val, sizeof val);
        s_line(out, "  head %s hlc=%llu.%u author=%s tomb=%d value=%s", hash,
               (unsigned long long)h.v[i].hlc.wall_ms, h.v[i].hlc.counter, author, h.v[i].tombstone,
               val);
    }
    lt_heads_free(&h);
}

/* Every row of a projection table of store s, decoded as registers. */
static void s_registers(lt_buf_t *out, lt_db_t *db, lt_store_t *st, unsigned cf, char tag)
{
    lt_kv_t *kv = lt_db_kv(db);
    lt_kv_iter_t *it;
    cr_assert_eq(lt_kv_iter_new(kv, cf, &it), LT_OK);
    uint8_t prefix[LT_STORE_ID_LEN + 1];
    memcpy(prefix, lt_store_id(st)->b, LT_STORE_ID_LEN);
    prefix[LT_STORE_ID_LEN] = (uint8_t)tag;
    size_t plen = tag ? sizeof prefix : LT_STORE_ID_LEN;
    for (kv->ops->iter_seek(it, prefix, plen); lt_kv_iter_has_prefix(kv, it, prefix, plen);
         kv->ops->iter_next(it)) {
        size_t kl, vl;
        const uint8_t *k = kv->ops->iter_key(it, &kl);
        const uint8_t *v = kv->ops->iter_value(it, &vl);
        char key[1025];
        s_hexs(k + LT_STORE_ID_LEN, kl - LT_STORE_ID_LEN, key, sizeof key);
        if (cf == LT_CF_APP) {
            /* The public API must agree with the register. */
            lt_buf_t got = LT_BUF_INIT;
            bool conflicted = false;
            lt_err_t rc = lt_kvstore_get(st, k + plen, kl - plen, &got, &conflicted);
            cr_assert(rc == LT_OK || rc == LT_ENOTFOUND);
            char gv[1025] = "NOTFOUND";
            if (rc == LT_OK)
                s_hexs(got.data, got.len, gv, sizeof gv);
            s_line(out, "key %s get=%s conflicted=%d", key, gv, conflicted);
            lt_buf_free(&got);
        } else {
            s_line(out, "row %s", key);
        }
        s_heads_lines(out, v, vl);
    }
    cr_assert_eq(kv->ops->iter_status(it), LT_OK);
    kv->ops->iter_free(it);
}

static lt_err_t s_list_fn(void *ctx, const uint8_t *key, size_t klen, const lt_heads_t *heads)
{
    char k[1025], h[65];
    s_hexs(key, klen, k, sizeof k);
    lt_hex(heads->v[0].hash.b, LT_HASH_LEN, h);
    s_line(ctx, "list %s winner=%s nheads=%u", k, h, heads->n);
    return LT_OK;
}

static lt_err_t s_log_fn(void *ctx, lt_hlc_t hlc, const lt_pubkey_t *author, const lt_hash_t *hash,
                         const uint8_t *text, size_t len)
{
    char a[65], h[65];
    lt_hex(author->b, LT_KEY_LEN, a);
    lt_hex(hash->b, LT_HASH_LEN, h);
    s_line(ctx, "log %llu.%u %s %s %.*s", (unsigned long long)hlc.wall_ms, hlc.counter, a, h,
           (int)len, (const char *)text);
    return LT_OK;
}

typedef struct {
    lt_hash_t *v;
    size_t n, cap;
} s_hashes_t;

static lt_err_t s_collect_fn(void *ctx, uint64_t seq, const lt_hash_t *h)
{
    (void)seq;
    s_hashes_t *hs = ctx;
    if (hs->n == hs->cap) {
        hs->cap = hs->cap ? hs->cap * 2 : 256;
        hs->v = realloc(hs->v, hs->cap * sizeof *hs->v);
        cr_assert_not_null(hs->v);
    }
    hs->v[hs->n++] = *h;
    return LT_OK;
}

static int s_hash_qcmp(const void *a, const void *b)
{
    return lt_hash_cmp(a, b);
}

typedef struct {
    char lines[64][200];
    unsigned n;
} s_forklines_t;

static void s_fork_fn(void *ctx, const lt_pubkey_t *author, const lt_hash_t *prev,
                      unsigned nchildren)
{
    s_forklines_t *f = ctx;
    cr_assert_lt(f->n, 64);
    char a[65], p[65];
    lt_hex(author->b, LT_KEY_LEN, a);
    lt_hex(prev->b, LT_HASH_LEN, p);
    snprintf(f->lines[f->n++], sizeof f->lines[0], "fork author=%s prev=%s children=%u", a, p,
             nchildren);
}

static int s_str_qcmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* The canonical text of one store; returns its number of fork points. */
static unsigned s_canon_store(lt_buf_t *out, lt_db_t *db, lt_store_t *st, const s_world_t *w)
{
    char sid[33];
    lt_hex(lt_store_id(st)->b, LT_STORE_ID_LEN, sid);
    s_line(out, "== store %s %s", sid, lt_store_type(st));
    uint64_t floating;
    cr_assert_eq(lt_store_floating_count(st, &floating), LT_OK);
    s_line(out, "witnessed=%llu floating=%llu", (unsigned long long)lt_store_witnessed_count(st),
           (unsigned long long)floating);
    if (st == lt_db_store(db, &s_sids[S_KV])) {
        s_registers(out, db, st, LT_CF_APP, 'k');
        cr_assert_eq(lt_kvstore_list(st, NULL, 0, s_list_fn, out), LT_OK);
    } else {
        cr_assert_eq(lt_logstore_read(st, 0, s_log_fn, out), LT_OK);
    }
    s_line(out, "-- system");
    s_registers(out, db, st, LT_CF_SYSTEM, 0);

    s_hashes_t hs = {NULL, 0, 0};
    cr_assert_eq(lt_store_scan_witness(st, 1, s_collect_fn, &hs), LT_OK);
    if (hs.n)
        qsort(hs.v, hs.n, sizeof *hs.v, s_hash_qcmp);
    for (size_t i = 0; i < hs.n; i++) {
        char h[65];
        lt_hex(hs.v[i].b, LT_HASH_LEN, h);
        s_line(out, "witnessed %s", h);
    }
    free(hs.v);

    for (int a = 0; a < S_AUTHORS; a++) {
        lt_hash_t tips[32];
        unsigned nt;
        cr_assert_eq(lt_store_author_tips(st, &w->nodes[a].id.pk, tips, 32, &nt), LT_OK);
        cr_assert_leq(nt, 32);
        if (nt)
            qsort(tips, nt, sizeof *tips, s_hash_qcmp);
        for (unsigned i = 0; i < nt; i++) {
            char h[65];
            lt_hex(tips[i].b, LT_HASH_LEN, h);
            s_line(out, "tip author%d %s", a, h);
        }
    }

    static s_forklines_t f;
    f.n = 0;
    unsigned count;
    cr_assert_eq(lt_store_forks(st, s_fork_fn, &f, &count), LT_OK);
    cr_assert_eq(count, f.n);
    qsort(f.lines, f.n, sizeof f.lines[0], s_str_qcmp);
    for (unsigned i = 0; i < f.n; i++)
        s_line(out, "%s", f.lines[i]);
    return count;
}

typedef struct {
    lt_buf_t text;
    uint8_t digest[32];
    unsigned forks[2];
    uint64_t witnessed[2], floating[2];
} s_canon_t;

static void s_canon(s_canon_t *c, lt_db_t *db, const s_world_t *w)
{
    c->text.len = 0;
    for (int s = 0; s < 2; s++) {
        lt_store_t *st = lt_db_store(db, &s_sids[s]);
        cr_assert_not_null(st);
        c->forks[s] = s_canon_store(&c->text, db, st, w);
        c->witnessed[s] = lt_store_witnessed_count(st);
        cr_assert_eq(lt_store_floating_count(st, &c->floating[s]), LT_OK);
    }
    crypto_generichash(c->digest, sizeof c->digest, c->text.data, c->text.len, NULL, 0);
    cr_assert_eq(lt_buf_reserve(&c->text, 1), LT_OK);
    c->text.data[c->text.len] = '\0'; /* a C string too, not counted in len */
}

/* Prints the first difference between two canonical texts. */
static void s_diff(const lt_buf_t *a, const lt_buf_t *b)
{
    size_t i = 0, line = 1, start = 0;
    while (i < a->len && i < b->len && a->data[i] == b->data[i]) {
        if (a->data[i] == '\n') {
            line++;
            start = i + 1;
        }
        i++;
    }
    fprintf(stderr, "first difference at line %zu:\n", line);
    for (int side = 0; side < 2; side++) {
        const lt_buf_t *t = side ? b : a;
        size_t end = start;
        for (int l = 0; l < 8 && end < t->len; end++)
            if (t->data[end] == '\n')
                l++;
        fprintf(stderr, "--- %s\n%.*s", side ? "this replica" : "reference", (int)(end - start),
                (const char *)t->data + start);
    }
}

static void s_expect_same(const s_world_t *w, const s_canon_t *ref, const s_canon_t *got,
                          const char *what, int index)
{
    for (int s = 0; s < 2; s++) {
        if (got->floating[s])
            S_FAIL(w, "%s %d: %llu intentions of store %d still float", what, index,
                   (unsigned long long)got->floating[s], s);
        if (got->witnessed[s] != w->per_store[s])
            S_FAIL(w, "%s %d: store %d witnessed %llu of %zu intentions", what, index, s,
                   (unsigned long long)got->witnessed[s], w->per_store[s]);
    }
    if (memcmp(ref->digest, got->digest, sizeof ref->digest) != 0) {
        fprintf(stderr, "workload seed %llu (LT_SEED=%llu): %s %d converged to another state\n",
                (unsigned long long)w->seed, (unsigned long long)s_base_seed, what, index);
        s_diff(&ref->text, &got->text);
        S_FAIL(w, "%s %d: the canonical state differs from the reference (diff on stderr)", what,
               index);
    }
}

/* ---- replaying into fresh replicas ---- */

typedef struct {
    lt_identity_t id;
    uint64_t clock;
    lt_db_t *db;
    lt_store_t *st[2];
    char *dir;
} s_replica_t;

static void s_replica_stores(s_replica_t *rp, const s_world_t *w)
{
    for (int s = 0; s < 2; s++) {
        rp->st[s] = lt_db_store(rp->db, &s_sids[s]);
        if (!rp->st[s])
            S_FAIL(w, "store %d missing after reopen", s);
    }
}

static void s_commit_replica(s_replica_t *rp, const s_world_t *w, s_rng_t *r)
{
    s_check(w, lt_db_commit_ex(rp->db, s_chance(r, 30)), "replica commit", rp->db);
}

/* Feeds every intention of w to a fresh replica in a random order of r, with
 * duplicates and late deliveries; returns its canonical state in c. With
 * `reopen`, the replica (RocksDB) is closed and reopened halfway. */
static void s_replay(const s_world_t *w, s_rng_t *r, lt_test_backend_t backend, bool shuffle,
                     bool reopen, s_canon_t *c)
{
    s_replica_t rp = {0};
    lt_test_identity(&rp.id, 0x55);
    rp.clock = S_T0 + s_below(r, 1000);
    rp.db = lt_test_db_open(backend, &rp.id, &rp.clock, &rp.dir);
    for (int s = 0; s < 2; s++)
        s_check(w, lt_store_create(rp.db, s_types[s], &s_sids[s], &rp.st[s]), "create", rp.db);
    s_check(w, lt_db_commit(rp.db), "commit", rp.db);

    size_t *order = malloc(w->nints * sizeof *order);
    bool *seen = calloc(w->nints, sizeof *seen);
    cr_assert(order && seen);
    size_t n = 0, nlate = 0;
    for (size_t i = 0; i < w->nints; i++)
        order[n++] = i;
    if (shuffle) {
        s_shuffle(r, order, n);
        /* Withhold about a tenth and deliver it last, in its own order. */
        nlate = n / 10 + s_below(r, 3);
        size_t *late = order + n - nlate;
        s_shuffle(r, late, nlate);
    }
    uint64_t witnessed[2] = {0, 0};
    size_t delivered = 0;
    for (size_t o = 0; o < n; o++) {
        size_t i = order[o];
        const s_int_t *in = &w->ints[i];
        lt_ingest_result_t res;
        lt_err_t rc = lt_store_ingest(rp.st[in->store], in->bytes.data, in->bytes.len, &res);
        s_check(w, rc, "replica ingest", rp.db);
        if (res.status == LT_INGEST_DUPLICATE)
            S_FAIL(w, "%s", "a first delivery reported a duplicate");
        witnessed[in->store] += res.witnessed;
        seen[i] = true;
        delivered++;
        if (shuffle && s_chance(r, 10)) {
            /* Re-deliver something already held. */
            size_t j;
            do
                j = order[s_below(r, (unsigned)delivered)];
            while (!seen[j]);
            const s_int_t *dup = &w->ints[j];
            rc = lt_store_ingest(rp.st[dup->store], dup->bytes.data, dup->bytes.len, &res);
            s_check(w, rc, "replica ingest of a duplicate", rp.db);
            if (res.status != LT_INGEST_DUPLICATE || res.witnessed != 0)
                S_FAIL(w, "a duplicate was reported as status %d", res.status);
        }
        if (s_chance(r, 8))
            s_commit_replica(&rp, w, r);
        if (reopen && o == n / 2) {
            s_check(w, lt_db_commit(rp.db), "commit", rp.db);
            lt_db_close(&rp.db);
            lt_errbuf_t eb = {{0}};
            lt_err_t orc = lt_test_db_reopen(rp.dir, &rp.id, &rp.clock, &rp.db, &eb);
            if (orc)
                S_FAIL(w, "reopen: %s: %s", lt_errname(orc), eb.msg);
            s_replica_stores(&rp, w);
        }
    }
    s_check(w, lt_db_commit(rp.db), "commit", rp.db);
    for (int s = 0; s < 2; s++) {
        if (witnessed[s] != w->per_store[s])
            S_FAIL(w, "ingest results counted %llu witnessed in store %d, expected %zu",
                   (unsigned long long)witnessed[s], s, w->per_store[s]);
        uint64_t bad = 0;
        lt_err_t vrc = lt_store_verify(rp.st[s], true, &bad);
        if (vrc)
            S_FAIL(w, "the replica's witness chain does not verify at %llu: %s",
                   (unsigned long long)bad, lt_db_errmsg(rp.db));
    }
    s_canon(c, rp.db, w);
    free(order);
    free(seen);
    lt_db_close(&rp.db);
    lt_test_rmtree(&rp.dir);
}

/* Delivers whatever each writer node still lacks; every node must then hold
 * the reference state too (its own writes included). */
static void s_writers_converge(s_world_t *w, s_rng_t *r, const s_canon_t *ref)
{
    for (int node = 0; node < S_NODES; node++) {
        size_t cand[S_MAX_INT], nc = 0;
        for (size_t i = 0; i < w->nints; i++)
            if (!w->delivered[node][i])
                cand[nc++] = i;
        s_shuffle(r, cand, nc);
        for (size_t c = 0; c < nc; c++)
            s_deliver(w, node, cand[c]);
        s_check(w, lt_db_commit(w->nodes[node].db), "commit", w->nodes[node].db);
        s_canon_t got = {LT_BUF_INIT, {0}, {0}, {0}, {0}};
        s_canon(&got, w->nodes[node].db, w);
        s_expect_same(w, ref, &got, "writer node", node);
        lt_buf_free(&got.text);
    }
}

static void s_run(uint64_t seed, unsigned rounds, lt_test_backend_t backend, unsigned perms,
                  bool check_writers)
{
    s_world_t *w = &s_world;
    s_world_build(w, seed, rounds);
    s_rng_t r = {seed ^ 0x5eed5eed5eedull};

    s_canon_t ref = {LT_BUF_INIT, {0}, {0}, {0}, {0}};
    s_replay(w, &r, LT_TEST_MEM, false, false, &ref);
    s_expect_same(w, &ref, &ref, "reference", 0);
    for (int s = 0; s < 2; s++)
        if (ref.forks[s] == 0)
            S_FAIL(w, "the workload has no author fork in store %d", s);

    unsigned conflicted = 0;
    for (const char *t = (const char *)ref.text.data; t && (t = strstr(t, "conflicted=1")); t++)
        conflicted++;
    cr_log_info("seed %llu: %zu kv + %zu log intentions, %u + %u fork points, %u conflicted keys",
                (unsigned long long)seed, w->per_store[S_KV], w->per_store[S_LOG], ref.forks[0],
                ref.forks[1], conflicted);
    for (unsigned p = 0; p < perms; p++) {
        s_canon_t got = {LT_BUF_INIT, {0}, {0}, {0}, {0}};
        s_replay(w, &r, backend, true, backend == LT_TEST_ROCKSDB && p % 2 == 0, &got);
        s_expect_same(w, &ref, &got, "permutation", (int)p);
        lt_buf_free(&got.text);
    }
    if (check_writers)
        s_writers_converge(w, &r, &ref);
    lt_buf_free(&ref.text);
    s_world_free(w);
}

TestSuite(order_independence, .timeout = 600);

Test(order_independence, every_arrival_order_gives_the_same_state_in_memory)
{
    s_base_seed = s_seed();
    s_run(s_base_seed, 12, LT_TEST_MEM, 30, true);
}

Test(order_independence, every_arrival_order_gives_the_same_state_on_rocksdb)
{
    s_base_seed = s_seed();
    s_run(s_base_seed, 12, LT_TEST_ROCKSDB, 5, false);
}

Test(order_independence, many_small_workloads_converge)
{
    s_base_seed = s_seed();
    for (uint64_t i = 0; i < 16; i++)
        s_run(s_base_seed * 1000 + i, 4 + (unsigned)(i % 5), LT_TEST_MEM, 4, i % 4 == 0);
}
