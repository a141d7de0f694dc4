/* bench-sync: the reconciliation benchmark (services/sync). Two sets of N
 * random items are reconciled in-process, A initiating, for N = 100 000 and
 * 1 000 000 and d = 0.1 %, 1 % and 10 % of the items differing, spread
 * uniformly or all among the newest items, and each run is checked against
 * the differences the sets were made with. It also measures the fingerprint
 * index itself. Prints ONE JSON object on ONE line of stdout (progress on
 * stderr); tools/bench/README.md says what each figure means and the targets
 * it is held to.
 *
 * The bytes are compared with a lower bound: the d·N ids that differ, 32
 * bytes each, which any protocol that names what differs must send.
 *
 * With --nodes it then runs two real nodes on loopback and adds the clone
 * and gossip figures to the same object (bench_sync_nodes.h). */

#include "bench_ipc_common.h"
#include "bench_sync_nodes.h"
#include "bench_util.h"
#include "sync/fpindex.h"
#include "sync/recon.h"
#include "sync/wire.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef LT_BENCH_VERSION
#define LT_BENCH_VERSION "unknown"
#endif

#define S_FORMAT       "bench-sync/1" /* bump when a field changes meaning */
#define S_N_QUICK      20000
#define S_MAX_MESSAGES 100000 /* a session longer than this is a bug */
#define S_TS_START     1700000000000ull
#define S_TS_GAP       50 /* ms between items: uniform in [0, S_TS_GAP), so some share one */
#define S_ROUNDS_GOAL  4
#define S_RECENT_GOAL  1.2
#define S_FRAME_CASE   16384 /* the frame limit of the frame-limited case */
#define S_MAX_CASES    32

typedef enum { S_UNIFORM, S_RECENT_B_BEHIND, S_RECENT_A_BEHIND } s_dist_t;

static const char *const s_dist_name[] = {"uniform", "recent_b_behind", "recent_a_behind"};

typedef struct {
    bool quick;
    uint64_t seed;
    size_t only_n; /* --n: this N alone */
    lt_recon_config_t cfg;
    bool nodes; /* --nodes: the real-node phase too */
    lt_bench_nodes_opts_t nodes_opts;
} s_opts_t;

typedef struct {
    size_t n;
    double d;
    s_dist_t dist;
    uint32_t frame_limit;
    size_t diff; /* items in the symmetric difference */
    uint32_t rounds, messages;
    uint64_t bytes_ab, bytes_ba;
    double ms, build_ms;
    double over_lb;
    double target;   /* bytes_over_lower_bound may not exceed this */
    int rounds_goal; /* 0: none */
    bool verified, ok;
} s_case_t;

typedef struct {
    size_t n;
    double bytes_per_item, build_ms, insert_per_s, range_fp_us;
} s_index_res_t;

/* ---- deterministic randomness: splitmix64 ---- */

static uint64_t s_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int s_item_cmp(const void *a, const void *b)
{
    return lt_sync_item_cmp(a, b);
}

/* n random items in ascending order: increasing timestamps some of which
 * repeat, random hashes. */
static lt_sync_item_t *s_make_items(size_t n, uint64_t *rng)
{
    lt_sync_item_t *v = malloc((n ? n : 1) * sizeof *v);
    if (!v)
        return NULL;
    uint64_t ts = S_TS_START;
    for (size_t i = 0; i < n; i++) {
        ts += s_rand(rng) % S_TS_GAP;
        v[i].ts = ts;
        for (int j = 0; j < 4; j++)
            lt_put_u64le(v[i].hash.b + 8 * j, s_rand(rng));
    }
    qsort(v, n, sizeof *v, s_item_cmp); /* only equal timestamps move */
    return v;
}

static int s_hash_cmp(const void *a, const void *b)
{
    return memcmp(a, b, LT_HASH_LEN);
}

typedef struct {
    lt_sync_item_t *a, *b;
    size_t na, nb;
    lt_hash_t *a_only, *b_only; /* sorted by hash */
    size_t n_a_only, n_b_only;
} s_sets_t;

static void s_sets_free(s_sets_t *s)
{
    free(s->a);
    free(s->b);
    free(s->a_only);
    free(s->b_only);
    memset(s, 0, sizeof *s);
}

/* Makes A and B for a case. Uniform: n + diff/2 items, diff of them chosen
 * uniformly at random, half given to A alone and half to B alone, so both
 * hold n. Recent: n items; the side behind lacks the newest diff. */
static bool s_make_sets(size_t n, size_t diff, s_dist_t dist, uint64_t *rng, s_sets_t *s)
{
    memset(s, 0, sizeof *s);
    size_t u = dist == S_UNIFORM ? n + diff / 2 : n;
    lt_sync_item_t *all = s_make_items(u, rng);
    uint8_t *owner = calloc(u ? u : 1, 1); /* 0 both, 1 A only, 2 B only */
    s->a = malloc((u ? u : 1) * sizeof *s->a);
    s->b = malloc((u ? u : 1) * sizeof *s->b);
    s->a_only = malloc((diff ? diff : 1) * sizeof *s->a_only);
    s->b_only = malloc((diff ? diff : 1) * sizeof *s->b_only);
    if (!all || !owner || !s->a || !s->b || !s->a_only || !s->b_only) {
        free(all);
        free(owner);
        s_sets_free(s);
        return false;
    }
    if (dist == S_UNIFORM) {
        for (size_t k = 0; k < diff;) {
            size_t i = (size_t)(s_rand(rng) % u);
            if (owner[i])
                continue;
            owner[i] = (uint8_t)(k % 2 ? 2 : 1);
            k++;
        }
    } else {
        for (size_t i = u - diff; i < u; i++)
            owner[i] = dist == S_RECENT_B_BEHIND ? 1 : 2;
    }
    for (size_t i = 0; i < u; i++) {
        if (owner[i] != 2)
            s->a[s->na++] = all[i];
        if (owner[i] != 1)
            s->b[s->nb++] = all[i];
        if (owner[i] == 1)
            s->a_only[s->n_a_only++] = all[i].hash;
        if (owner[i] == 2)
            s->b_only[s->n_b_only++] = all[i].hash;
    }
    qsort(s->a_only, s->n_a_only, sizeof *s->a_only, s_hash_cmp);
    qsort(s->b_only, s->n_b_only, sizeof *s->b_only, s_hash_cmp);
    free(all);
    free(owner);
    return true;
}

static bool s_same(const lt_hash_t *got, size_t n_got, const lt_hash_t *want, size_t n_want)
{
    return n_got == n_want && (n_got == 0 || memcmp(got, want, n_got * sizeof *got) == 0);
}

/* One session, A initiating; the messages go back and forth until one side
 * has nothing to send. */
static lt_err_t s_session(const lt_fpindex_t *ia, const lt_fpindex_t *ib,
                          const lt_recon_config_t *cfg, lt_recon_t **ra, lt_recon_t **rb)
{
    lt_buf_t to_b = LT_BUF_INIT, to_a = LT_BUF_INIT;
    lt_err_t rc = lt_recon_new(ia, cfg, ra);
    if (!rc)
        rc = lt_recon_new(ib, cfg, rb);
    if (!rc)
        rc = lt_recon_initiate(*ra, &to_b);
    for (int m = 0; !rc && to_b.len; m++) {
        if (m > S_MAX_MESSAGES) {
            rc = LT_EINVAL;
            break;
        }
        rc = lt_recon_receive(*rb, to_b.data, to_b.len, &to_a);
        lt_buf_reset(&to_b);
        if (!rc && to_a.len)
            rc = lt_recon_receive(*ra, to_a.data, to_a.len, &to_b);
    }
    lt_buf_free(&to_b);
    lt_buf_free(&to_a);
    if (!rc && (lt_recon_state(*ra) != LT_RECON_DONE || lt_recon_state(*rb) != LT_RECON_DONE))
        rc = LT_EINVAL;
    return rc;
}

static int s_run_case(const s_opts_t *o, s_case_t *c, uint64_t *rng)
{
    c->diff = (size_t)((double)c->n * c->d + 0.5);
    if (c->dist == S_UNIFORM)
        c->diff &= ~(size_t)1; /* half on each side */
    s_sets_t s;
    if (!s_make_sets(c->n, c->diff, c->dist, rng, &s)) {
        lt_bench_note("out of memory making the sets");
        return 1;
    }
    lt_fpindex_t *ia = lt_fpindex_new(), *ib = lt_fpindex_new();
    lt_recon_t *ra = NULL, *rb = NULL;
    int ret = 1;
    double t0 = lt_bench_now();
    if (!ia || !ib || lt_fpindex_build(ia, s.a, s.na) || lt_fpindex_build(ib, s.b, s.nb)) {
        lt_bench_note("building the indexes failed");
        goto done;
    }
    c->build_ms = (lt_bench_now() - t0) * 1e3 / 2;
    lt_recon_config_t cfg = o->cfg;
    cfg.frame_limit = c->frame_limit;
    t0 = lt_bench_now();
    lt_err_t rc = s_session(ia, ib, &cfg, &ra, &rb);
    c->ms = (lt_bench_now() - t0) * 1e3;
    if (rc) {
        lt_bench_note("session failed: %s (%s%s%s)", lt_strerror(rc), ra ? lt_recon_errmsg(ra) : "",
                      rb ? " / " : "", rb ? lt_recon_errmsg(rb) : "");
        goto done;
    }
    lt_recon_stats_t sa, sb;
    lt_recon_stats(ra, &sa);
    lt_recon_stats(rb, &sb);
    c->rounds = sa.messages_sent;
    c->messages = sa.messages_sent + sb.messages_sent;
    c->bytes_ab = sa.bytes_sent;
    c->bytes_ba = sb.bytes_sent;
    double lb = (double)c->diff * LT_HASH_LEN;
    c->over_lb = lb > 0 ? (double)(c->bytes_ab + c->bytes_ba) / lb : 0;
    size_t n1, n2, n3, n4;
    const lt_hash_t *a_have = lt_recon_have(ra, &n1), *a_need = lt_recon_need(ra, &n2);
    const lt_hash_t *b_have = lt_recon_have(rb, &n3), *b_need = lt_recon_need(rb, &n4);
    c->verified =
        s_same(a_have, n1, s.a_only, s.n_a_only) && s_same(a_need, n2, s.b_only, s.n_b_only) &&
        s_same(b_have, n3, s.b_only, s.n_b_only) && s_same(b_need, n4, s.a_only, s.n_a_only);
    if (c->dist == S_UNIFORM) {
        c->target = c->d < 0.005 ? 40 : c->d < 0.05 ? 30 : 15;
        c->rounds_goal = c->frame_limit ? 0 : S_ROUNDS_GOAL;
    } else {
        c->target = S_RECENT_GOAL;
    }
    c->ok = c->verified && c->over_lb <= c->target &&
            (!c->rounds_goal || c->rounds <= (uint32_t)c->rounds_goal);
    lt_bench_note("  n %zu d %g %s%s: %u rounds, %" PRIu64 " + %" PRIu64
                  " bytes, %.2f x lower bound (target %.1f), %.0f ms, %s",
                  c->n, c->d, s_dist_name[c->dist], c->frame_limit ? " framed" : "", c->rounds,
                  c->bytes_ab, c->bytes_ba, c->over_lb, c->target, c->ms,
                  c->verified ? "verified" : "WRONG RESULT");
    ret = c->verified ? 0 : 1;
done:
    lt_recon_destroy(&ra);
    lt_recon_destroy(&rb);
    lt_fpindex_destroy(&ia);
    lt_fpindex_destroy(&ib);
    s_sets_free(&s);
    return ret;
}

/* The index alone: bulk build, inserts in random order, range fingerprints
 * between random bounds. */
static int s_bench_index(size_t n, uint64_t *rng, s_index_res_t *res)
{
    res->n = n;
    lt_sync_item_t *v = s_make_items(n, rng);
    lt_fpindex_t *x = lt_fpindex_new(), *y = lt_fpindex_new();
    int ret = 1;
    if (!v || !x || !y)
        goto done;
    double t0 = lt_bench_now();
    if (lt_fpindex_build(x, v, n))
        goto done;
    res->build_ms = (lt_bench_now() - t0) * 1e3;
    res->bytes_per_item = (double)lt_fpindex_memory(x) / (double)(n ? n : 1);
    /* inserts in random order: shuffle a copy */
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(s_rand(rng) % i);
        lt_sync_item_t t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
    t0 = lt_bench_now();
    for (size_t i = 0; i < n; i++)
        if (lt_fpindex_insert(y, &v[i]))
            goto done;
    res->insert_per_s = (double)n / (lt_bench_now() - t0);
    size_t q = n < 100000 ? n : 100000;
    volatile uint8_t sink = 0;
    t0 = lt_bench_now();
    for (size_t i = 0; i < q; i++) {
        lt_sync_bound_t lo, hi;
        lt_sync_item_t a, b;
        size_t ra = (size_t)(s_rand(rng) % n), rb = (size_t)(s_rand(rng) % n);
        if (ra > rb) {
            size_t t = ra;
            ra = rb;
            rb = t;
        }
        if (!lt_fpindex_select(x, ra, &a) || !lt_fpindex_select(x, rb, &b))
            goto done;
        lt_sync_bound_at(&a, &lo);
        lt_sync_bound_at(&b, &hi);
        lt_sync_fp_t fp;
        if (lt_fpindex_range(x, &lo, &hi, &fp) != rb - ra)
            goto done;
        sink ^= fp.b[0];
    }
    (void)sink;
    /* includes the two selects that make the bounds */
    res->range_fp_us = (lt_bench_now() - t0) * 1e6 / (double)(q ? q : 1);
    ret = 0;
done:
    if (ret)
        lt_bench_note("index benchmark failed");
    free(v);
    lt_fpindex_destroy(&x);
    lt_fpindex_destroy(&y);
    return ret;
}

static void s_print_json(const s_opts_t *o, const s_index_res_t *ix, const s_case_t *cases,
                         size_t n_cases, const lt_bench_nodes_result_t *nodes, double total_s)
{
    bool all_ok = true;
    for (size_t i = 0; i < n_cases; i++)
        if (cases[i].n >= 100000 || !cases[i].verified)
            all_ok &= cases[i].ok;
    printf("{\"format\":\"%s\",\"version\":\"%s\",\"cores\":%ld,\"quick\":%s,\"seed\":%" PRIu64
           ",\"branching\":%u,\"idlist_threshold\":%u,\"max_rounds\":%u,"
           "\"index_n\":%zu,\"index_bytes_per_item\":%.1f,\"index_build_ms\":%.1f,"
           "\"index_insert_per_s\":%.0f,\"index_range_fp_us\":%.2f,\"recon\":[",
           S_FORMAT, LT_BENCH_VERSION, sysconf(_SC_NPROCESSORS_ONLN), o->quick ? "true" : "false",
           o->seed, o->cfg.branching, o->cfg.idlist_threshold, o->cfg.max_rounds, ix->n,
           ix->bytes_per_item, ix->build_ms, ix->insert_per_s, ix->range_fp_us);
    for (size_t i = 0; i < n_cases; i++) {
        const s_case_t *c = &cases[i];
        printf("%s{\"n\":%zu,\"d\":%g,\"dist\":\"%s\",\"frame_limit\":%u,\"diff\":%zu,"
               "\"rounds\":%u,\"messages\":%u,\"bytes_a_to_b\":%" PRIu64
               ",\"bytes_b_to_a\":%" PRIu64 ",\"lower_bound\":%zu,\"bytes_over_lower_bound\":%.3f,"
               "\"ms\":%.1f,\"build_ms\":%.1f,\"target\":%.1f,\"rounds_target\":%d,"
               "\"verified\":%s,\"ok\":%s}",
               i ? "," : "", c->n, c->d, s_dist_name[c->dist], c->frame_limit, c->diff, c->rounds,
               c->messages, c->bytes_ab, c->bytes_ba, c->diff * LT_HASH_LEN, c->over_lb, c->ms,
               c->build_ms, c->target, c->rounds_goal, c->verified ? "true" : "false",
               c->ok ? "true" : "false");
    }
    printf("],\"recon_targets_met\":%s,", all_ok ? "true" : "false");
    if (nodes)
        lt_bench_nodes_print_json(nodes);
    else
        printf("\"nodes\":false,");
    printf("\"total_s\":%.2f}\n", total_s);
    fflush(stdout);
}

static void s_usage(FILE *f)
{
    fprintf(f,
            "usage: bench-sync [--quick] [--n N] [--seed S] [--branching B] [--threshold T]\n"
            "                  [--rounds R] [--nodes] [--clone-n N] [--gossip-n K]\n"
            "                  [--home-dir DIR] [--keep] [--latticed PATH]\n"
            "Reconciles two sets of N random items in-process (N = 100 000 and 1 000 000,\n"
            "d = 0.1, 1 and 10 %% differing, uniformly or among the newest items), checks\n"
            "every result, measures the fingerprint index, and prints one JSON object on\n"
            "one line of stdout (progress on stderr).\n"
            "  --quick          N = %d only (CI smoke test, a few seconds)\n"
            "  --n N            this N only\n"
            "  --seed S         the random sets (default 1)\n"
            "  --branching B, --threshold T, --rounds R\n"
            "                   the session's config (defaults %d, %d, %d)\n"
            "  --nodes          then two latticed nodes on loopback: B joins and clones A's\n"
            "                   store (against the 2-core verify bound), then gossip latency\n"
            "  --clone-n N      intentions in A's store (default %d, with --quick %d);\n"
            "                   implies --nodes\n"
            "  --gossip-n K     gossip samples (default %d, with --quick %d); implies --nodes\n"
            "  --home-dir DIR   the nodes' run directory goes under DIR (default /tmp)\n"
            "  --keep           leave the nodes' run directory (homes, latticed.log) in place\n"
            "  --latticed PATH  the kernel to run (default: kernel/latticed of the build tree\n"
            "                   this executable is in, else latticed from PATH)\n"
            "  --help           this text\n",
            S_N_QUICK, LT_RECON_DEFAULT_BRANCHING, LT_RECON_DEFAULT_THRESHOLD,
            LT_RECON_DEFAULT_MAX_ROUNDS, LT_BENCH_NODES_CLONE_N, LT_BENCH_NODES_CLONE_N_QUICK,
            LT_BENCH_NODES_GOSSIP_N, LT_BENCH_NODES_GOSSIP_N_QUICK);
}

int main(int argc, char **argv)
{
    s_opts_t o = {.seed = 1};
    lt_recon_config_default(&o.cfg);
    char latticed[PATH_MAX];
    (void)lt_bench_build_program("kernel/latticed", latticed, sizeof latticed);
    o.nodes_opts.latticed = latticed;
    o.nodes_opts.home_dir = "/tmp";
    for (int i = 1; i < argc; i++) {
        uint64_t v = 0;
        const char *a = argv[i];
        bool has_arg = i + 1 < argc;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            s_usage(stdout);
            return 0;
        } else if (strcmp(a, "--quick") == 0) {
            o.quick = true;
        } else if (strcmp(a, "--n") == 0 && has_arg &&
                   lt_bench_parse_u64(argv[++i], 2, 50000000, &v)) {
            o.only_n = (size_t)v;
        } else if (strcmp(a, "--seed") == 0 && has_arg &&
                   lt_bench_parse_u64(argv[++i], 0, UINT64_MAX, &v)) {
            o.seed = v;
        } else if (strcmp(a, "--branching") == 0 && has_arg &&
                   lt_bench_parse_u64(argv[++i], 2, 65536, &v)) {
            o.cfg.branching = (uint32_t)v;
        } else if (strcmp(a, "--threshold") == 0 && has_arg &&
                   lt_bench_parse_u64(argv[++i], 1, LT_SYNC_MAX_IDLIST, &v)) {
            o.cfg.idlist_threshold = (uint32_t)v;
        } else if (strcmp(a, "--rounds") == 0 && has_arg &&
                   lt_bench_parse_u64(argv[++i], 0, 100, &v)) {
            o.cfg.max_rounds = (uint32_t)v;
        } else if (strcmp(a, "--nodes") == 0) {
            o.nodes = true;
        } else if (strcmp(a, "--clone-n") == 0 && has_arg &&
                   lt_bench_parse_u64(argv[++i], 1, 100000000, &v)) {
            o.nodes = true;
            o.nodes_opts.clone_n = v;
        } else if (strcmp(a, "--gossip-n") == 0 && has_arg &&
                   lt_bench_parse_u64(argv[++i], 1, 1000000, &v)) {
            o.nodes = true;
            o.nodes_opts.gossip_n = (uint32_t)v;
        } else if (strcmp(a, "--keep") == 0) {
            o.nodes_opts.keep = true;
        } else if (strcmp(a, "--home-dir") == 0 && has_arg) {
            o.nodes_opts.home_dir = argv[++i];
        } else if (strcmp(a, "--latticed") == 0 && has_arg) {
            o.nodes_opts.latticed = argv[++i];
        } else {
            lt_bench_note("bad or unknown argument '%s'", a);
            s_usage(stderr);
            return 2;
        }
    }
    size_t sizes[2] = {100000, 1000000};
    size_t n_sizes = 2;
    if (o.quick) {
        sizes[0] = S_N_QUICK;
        n_sizes = 1;
    }
    if (o.only_n) {
        sizes[0] = o.only_n;
        n_sizes = 1;
    }
    if (!o.nodes_opts.clone_n)
        o.nodes_opts.clone_n = o.quick ? LT_BENCH_NODES_CLONE_N_QUICK : LT_BENCH_NODES_CLONE_N;
    if (!o.nodes_opts.gossip_n)
        o.nodes_opts.gossip_n = o.quick ? LT_BENCH_NODES_GOSSIP_N_QUICK : LT_BENCH_NODES_GOSSIP_N;
    static const double ds[] = {0.001, 0.01, 0.1};
    s_case_t cases[S_MAX_CASES];
    size_t n_cases = 0;
    for (size_t i = 0; i < n_sizes; i++) {
        for (int dist = S_UNIFORM; dist <= S_RECENT_A_BEHIND; dist++)
            for (size_t j = 0; j < sizeof ds / sizeof ds[0]; j++)
                cases[n_cases++] = (s_case_t){.n = sizes[i], .d = ds[j], .dist = (s_dist_t)dist};
    }
    /* One case under a frame limit: it must still finish, with more rounds. */
    cases[n_cases++] =
        (s_case_t){.n = sizes[0], .d = 0.01, .dist = S_UNIFORM, .frame_limit = S_FRAME_CASE};

    double t_start = lt_bench_now();
    uint64_t rng = o.seed;
    s_index_res_t ix = {0};
    size_t index_n = sizes[n_sizes - 1];
    lt_bench_note("fingerprint index, %zu items", index_n);
    if (s_bench_index(index_n, &rng, &ix))
        return 1;
    lt_bench_note("  %.1f bytes/item, build %.1f ms, %.0f inserts/s, range fingerprint %.2f us",
                  ix.bytes_per_item, ix.build_ms, ix.insert_per_s, ix.range_fp_us);
    lt_bench_note("reconciliation: branching %u, id list threshold %u, aiming at %u rounds",
                  o.cfg.branching, o.cfg.idlist_threshold, o.cfg.max_rounds);
    int ret = 0;
    for (size_t i = 0; i < n_cases; i++)
        ret |= s_run_case(&o, &cases[i], &rng);
    if (ret)
        return 1;
    lt_bench_nodes_result_t nodes;
    if (o.nodes) {
        lt_bench_note("two nodes (latticed %s): clone of %" PRIu64 " intentions, %u gossip samples",
                      o.nodes_opts.latticed, o.nodes_opts.clone_n, o.nodes_opts.gossip_n);
        if (lt_bench_nodes_run(&o.nodes_opts, &nodes) != 0)
            return 1;
    }
    s_print_json(&o, &ix, cases, n_cases, o.nodes ? &nodes : NULL, lt_bench_now() - t_start);
    return 0;
}
