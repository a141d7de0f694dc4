/* bench-ipc: the benchmark of the real path of a request: a client
 * (liblattice-client), the kernel socket, latticed, the lattice-store process
 * and RocksDB with synced group commits, and back. It starts latticed in
 * temporary homes, measures put and get latency, put throughput with 1, 4 and
 * 16 concurrent clients, the most that shape can carry on this machine
 * with no work at its end, what the kernel's routing costs against a bare
 * ZeroMQ forwarder (bench_ipc_route.c), and how long the store takes to come
 * back after kill -9, then prints ONE JSON object on ONE line of stdout.
 * Progress goes to stderr. tools/bench/README.md says what each figure means
 * and which targets they are held to. */

#include "bench_ipc_common.h"
#include "bench_ipc_route.h"

#include "ipc/client.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef LT_BENCH_VERSION
#define LT_BENCH_VERSION "unknown"
#endif

#define S_FORMAT         "bench-ipc/1" /* bump when a field changes meaning */
#define S_VALUE_LEN      100
#define S_POOL_LEN       4096
#define S_N_FULL         2000
#define S_N_QUICK        200
#define S_RTT_PER_PUT    10 /* routing round trips per put of N: 20 000 by default */
#define S_TRIALS_FULL    10
#define S_TRIALS_QUICK   3
#define S_PUTS_S_FULL    3.0 /* duration of each concurrency level */
#define S_PUTS_S_QUICK   1.0
#define S_NLEVELS        3
#define S_CALL_MS        10000 /* client timeout of ordinary calls */
#define S_RESTART_GAP_S  1.2   /* between kills: more than the restart window */
#define S_RESTART_MAX_MS 15000
#define S_CEIL_BODY_LEN  150 /* about the body of a put's request (100-byte value) */
#define S_SYSCALLS       200000

/* Targets (tools/bench/README.md). */
#define S_PUTS_16_TARGET     10000.0
#define S_ROUTE_RATIO_TARGET 1.25
#define S_RESTART_MED_TARGET 50.0
#define S_RESTART_MAX_TARGET 250.0

static const unsigned s_levels[S_NLEVELS] = {1, 4, 16};

typedef struct {
    const char *base_dir; /* where the run directory is made */
    const char *latticed;
    uint64_t n;
    uint64_t trials;
    double puts_s;
    bool quick;
    bool pin; /* the routing phase on one CPU */
} s_opts_t;

/* One concurrency level of the throughput phase. CPU time is per
 * acknowledged put, split by process: the bench (the clients), latticed and
 * lattice-store (RocksDB's threads included). */
typedef struct {
    double puts_per_s;
    uint64_t n;
    double cpu_us_client, cpu_us_kernel, cpu_us_store;
} s_level_t;

typedef struct {
    double put_p50_us, put_p99_us, get_p50_us, get_p99_us;
    uint64_t put_n;
    s_level_t level[S_NLEVELS];
    double restart_ms_median, restart_ms_max, restart_ms_first;
    uint64_t restart_trials;
    lt_bench_route_result_t route;
    lt_bench_ceiling_result_t ceiling; /* 16 clients */
    double syscall_ns;
    double total_s;
} s_results_t;

static void s_usage(FILE *f)
{
    fprintf(
        f,
        "usage: bench-ipc [--quick] [--n N] [--puts-s S] [--home-dir DIR] [--latticed PATH] "
        "[--no-pin]\n"
        "Measures the real path of a request (liblattice-client, latticed, lattice-store,\n"
        "RocksDB with synced commits): put and get latency, put throughput with 1, 4 and 16\n"
        "clients and the ceiling of that path's shape (16 clients through a bare ZeroMQ\n"
        "forwarder process to an echo process), the kernel's routing overhead against a\n"
        "bare ZeroMQ forwarder, and the store's restart after kill -9. Prints one JSON\n"
        "object on one line of stdout (progress on stderr).\n"
        "  --quick          N = %d, %d restart trials, %.0f s per concurrency level (CI smoke)\n"
        "  --n N            puts and gets timed one by one (default %d); the routing round\n"
        "                   trips per path are %d x N\n"
        "  --puts-s S       seconds of putting per concurrency level (default %.0f)\n"
        "  --home-dir DIR   make the run directory (a fresh bench-ipc.XXXXXX holding the\n"
        "                   nodes' homes, removed at the end) under DIR instead of /tmp\n"
        "  --latticed PATH  the kernel to run (default: kernel/latticed of the build tree\n"
        "                   this executable is in, else latticed from PATH)\n"
        "  --no-pin         run the routing phase on every CPU (default: on one CPU, so\n"
        "                   that its paths compare by their work, not by thread placement)\n"
        "  --help           this text\n",
        S_N_QUICK, S_TRIALS_QUICK, S_PUTS_S_QUICK, S_N_FULL, S_RTT_PER_PUT, S_PUTS_S_FULL);
}

/* Values are 100-byte windows of a random pool: distinct, incompressible. */
static void s_fill_pool(uint8_t *pool, size_t n)
{
    uint64_t x = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        pool[i] = (uint8_t)(x >> 32);
    }
}

static const uint8_t *s_value(const uint8_t *pool, uint64_t i)
{
    return pool + (i * 37) % (S_POOL_LEN - S_VALUE_LEN);
}

static int s_key(char *key, size_t cap, const char *tag, uint64_t a, uint64_t i)
{
    return snprintf(key, cap, "%s-%02" PRIu64 "-%08" PRIu64, tag, a, i);
}

/* Reads a key back and compares it, so that a store that dropped writes
 * cannot post a good figure. */
static int s_check(lt_client_t *c, const lt_client_store_id_t *store, const char *key,
                   const uint8_t *value)
{
    lt_client_item_t item = {0};
    lt_err_t rc = lt_client_get(c, store, key, strlen(key), &item);
    if (rc != LT_OK) {
        lt_bench_note("reading back %s: %s", key, lt_client_errmsg(c));
        return -1;
    }
    bool same = item.value_len == S_VALUE_LEN && memcmp(item.value, value, S_VALUE_LEN) == 0;
    lt_client_item_clear(&item);
    if (!same) {
        lt_bench_note("reading back %s: not the value written", key);
        return -1;
    }
    return 0;
}

/* ---- latency: one client, one call at a time ---- */

static int s_latency(lt_client_t *c, const lt_client_store_id_t *store, const s_opts_t *o,
                     const uint8_t *pool, s_results_t *r)
{
    double *us = calloc(o->n, sizeof *us);
    if (!us) {
        lt_bench_note("out of memory");
        return -1;
    }
    char key[64];
    lt_client_hash_t hash;
    uint64_t warmup = o->n / 10 < 100 ? o->n / 10 : 100;
    lt_bench_note("latency: %" PRIu64 " puts (after %" PRIu64 " to warm up), then %" PRIu64
                  " gets, one client",
                  o->n, warmup, o->n);
    for (uint64_t i = 0; i < warmup; i++) {
        s_key(key, sizeof key, "w", 0, i);
        if (lt_client_put(c, store, key, strlen(key), s_value(pool, i), S_VALUE_LEN, &hash)) {
            lt_bench_note("put %s: %s", key, lt_client_errmsg(c));
            goto fail;
        }
    }
    for (uint64_t i = 0; i < o->n; i++) {
        s_key(key, sizeof key, "l", 0, i);
        double t0 = lt_bench_now();
        if (lt_client_put(c, store, key, strlen(key), s_value(pool, i), S_VALUE_LEN, &hash)) {
            lt_bench_note("put %s: %s", key, lt_client_errmsg(c));
            goto fail;
        }
        us[i] = (lt_bench_now() - t0) * 1e6;
    }
    r->put_n = o->n;
    r->put_p50_us = lt_bench_quantile(us, o->n, 0.5);
    r->put_p99_us = lt_bench_quantile(us, o->n, 0.99);
    for (uint64_t i = 0; i < o->n; i++) {
        s_key(key, sizeof key, "l", 0, i);
        lt_client_item_t item = {0};
        double t0 = lt_bench_now();
        lt_err_t rc = lt_client_get(c, store, key, strlen(key), &item);
        us[i] = (lt_bench_now() - t0) * 1e6;
        bool same = rc == LT_OK && item.value_len == S_VALUE_LEN &&
                    memcmp(item.value, s_value(pool, i), S_VALUE_LEN) == 0;
        lt_client_item_clear(&item);
        if (rc != LT_OK || !same) {
            lt_bench_note("get %s: %s", key, rc ? lt_client_errmsg(c) : "not the value written");
            goto fail;
        }
    }
    r->get_p50_us = lt_bench_quantile(us, o->n, 0.5);
    r->get_p99_us = lt_bench_quantile(us, o->n, 0.99);
    lt_bench_note("  put p50 %.0f us, p99 %.0f us; get p50 %.0f us, p99 %.0f us", r->put_p50_us,
                  r->put_p99_us, r->get_p50_us, r->get_p99_us);
    free(us);
    return 0;
fail:
    free(us);
    return -1;
}

/* ---- throughput: concurrent clients, each a thread with its own handle ---- */

/* The start line: the clients connect first, then all start together. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool go;
    atomic_bool stop;
} s_start_t;

typedef struct {
    lt_client_t *c;
    const lt_client_store_id_t *store;
    const uint8_t *pool;
    s_start_t *start;
    uint64_t level, idx;
    uint64_t n;    /* puts acknowledged */
    char err[300]; /* why it stopped early */
} s_worker_t;

static void *s_worker_main(void *arg)
{
    s_worker_t *w = arg;
    char key[64];
    lt_client_hash_t hash;
    pthread_mutex_lock(&w->start->mu);
    while (!w->start->go)
        pthread_cond_wait(&w->start->cv, &w->start->mu);
    pthread_mutex_unlock(&w->start->mu);
    while (!atomic_load_explicit(&w->start->stop, memory_order_relaxed)) {
        s_key(key, sizeof key, w->level == 1 ? "t1" : w->level == 4 ? "t4" : "t16", w->idx, w->n);
        if (lt_client_put(w->c, w->store, key, strlen(key), s_value(w->pool, w->n), S_VALUE_LEN,
                          &hash) != LT_OK) {
            snprintf(w->err, sizeof w->err, "client %" PRIu64 ": put %s: %s", w->idx, key,
                     lt_client_errmsg(w->c));
            break;
        }
        w->n++;
    }
    return NULL;
}

static double s_self_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int s_throughput_level(const char *home, const lt_client_store_id_t *store,
                              const s_opts_t *o, const uint8_t *pool, unsigned level,
                              pid_t kernel_pid, pid_t store_pid, s_level_t *out)
{
    uint64_t *total = &out->n;
    s_worker_t w[16];
    pthread_t th[16];
    s_start_t start = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    atomic_init(&start.stop, false);
    memset(w, 0, sizeof w);
    int ret = 0;
    unsigned started = 0;
    lt_client_opts_t copts = {.home = home, .timeout_ms = S_CALL_MS};
    for (unsigned i = 0; i < level; i++) {
        lt_errbuf_t eb = {{0}};
        if (lt_client_connect(&copts, &w[i].c, &eb) != LT_OK) {
            lt_bench_note("connecting client %u: %s", i, eb.msg);
            ret = -1;
            goto done;
        }
        w[i].store = store;
        w[i].pool = pool;
        w[i].start = &start;
        w[i].level = level;
        w[i].idx = i;
    }
    for (; started < level; started++) {
        if (pthread_create(&th[started], NULL, s_worker_main, &w[started]) != 0) {
            lt_bench_note("cannot start a client thread");
            atomic_store(&start.stop, true);
            ret = -1;
            break;
        }
    }
    pthread_mutex_lock(&start.mu);
    start.go = true;
    pthread_cond_broadcast(&start.cv);
    pthread_mutex_unlock(&start.mu);
    double t0 = lt_bench_now();
    double cpu0[3] = {s_self_cpu_s(), lt_bench_proc_cpu_s(kernel_pid),
                      lt_bench_proc_cpu_s(store_pid)};
    if (ret == 0)
        lt_bench_pause_ms((unsigned)(o->puts_s * 1000)); /* the timed phase itself */
    atomic_store(&start.stop, true);
    for (unsigned i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    double secs = lt_bench_now() - t0;
    double cpu1[3] = {s_self_cpu_s(), lt_bench_proc_cpu_s(kernel_pid),
                      lt_bench_proc_cpu_s(store_pid)};
    if (ret != 0)
        goto done;
    *total = 0;
    for (unsigned i = 0; i < level; i++) {
        *total += w[i].n;
        if (w[i].err[0]) {
            lt_bench_note("%s", w[i].err);
            ret = -1;
        }
    }
    out->puts_per_s = secs > 0 ? (double)*total / secs : 0;
    double per = *total ? 1e6 / (double)*total : 0;
    out->cpu_us_client = (cpu1[0] - cpu0[0]) * per;
    out->cpu_us_kernel = cpu0[1] >= 0 && cpu1[1] >= 0 ? (cpu1[1] - cpu0[1]) * per : 0;
    out->cpu_us_store = cpu0[2] >= 0 && cpu1[2] >= 0 ? (cpu1[2] - cpu0[2]) * per : 0;
    /* The last put of each client must read back. */
    for (unsigned i = 0; ret == 0 && i < level; i++) {
        char key[64];
        if (w[i].n == 0) {
            lt_bench_note("client %u made no put in %.1f s", i, secs);
            ret = -1;
            break;
        }
        s_key(key, sizeof key, level == 1 ? "t1" : level == 4 ? "t4" : "t16", i, w[i].n - 1);
        ret = s_check(w[i].c, store, key, s_value(pool, w[i].n - 1));
    }
    if (ret == 0)
        lt_bench_note("  %2u client%s %.0f puts/s (%" PRIu64 " in %.2f s); CPU per put: "
                      "clients %.0f us, latticed %.0f us, lattice-store %.0f us",
                      level, level > 1 ? "s:" : ": ", out->puts_per_s, *total, secs,
                      out->cpu_us_client, out->cpu_us_kernel, out->cpu_us_store);
done:
    for (unsigned i = 0; i < level; i++)
        lt_client_close(&w[i].c);
    return ret;
}

/* ---- restart: kill -9 the store, time until a request is answered ---- */

/* One get of a key written earlier, retried while the answer is
 * unavailable or late (the client itself resends a request that went
 * unanswered for a second), until it reads back as written. */
static int s_get_after_kill(lt_client_t *c, const lt_client_store_id_t *store, const char *key,
                            const uint8_t *value, double t0)
{
    for (;;) {
        lt_client_item_t item = {0};
        lt_err_t rc = lt_client_get(c, store, key, strlen(key), &item);
        bool same = rc == LT_OK && item.value_len == S_VALUE_LEN &&
                    memcmp(item.value, value, S_VALUE_LEN) == 0;
        lt_client_item_clear(&item);
        if (same)
            return 0;
        if (rc == LT_OK) {
            lt_bench_note("after kill -9: %s does not read back as written", key);
            return -1;
        }
        if (rc != LT_ETIMEDOUT && rc != LT_EUNAVAILABLE) {
            lt_bench_note("get %s after kill -9: %s", key, lt_client_errmsg(c));
            return -1;
        }
        if (lt_bench_now() - t0 > S_RESTART_MAX_MS / 1000.0) {
            lt_bench_note("no answer %d ms after kill -9 of the store: %s", S_RESTART_MAX_MS,
                          lt_client_errmsg(c));
            return -1;
        }
    }
}

static int s_restart(lt_bench_node_t *node, lt_client_t *c, const lt_client_store_id_t *store,
                     const s_opts_t *o, const uint8_t *pool, s_results_t *r)
{
    double *ms = calloc(o->trials, sizeof *ms);
    if (!ms) {
        lt_bench_note("out of memory");
        return -1;
    }
    int ret = 0;
    char key[64];
    s_key(key, sizeof key, "l", 0, 0); /* written and read in the latency phase */
    lt_bench_note("restart: %" PRIu64 " trials of kill -9 of lattice-store, %.1f s apart, each "
                  "timed until a get is answered",
                  o->trials, S_RESTART_GAP_S);
    double last_kill = 0;
    for (uint64_t t = 0; ret == 0 && t < o->trials; t++) {
        uint32_t pid = 0, new_pid = 0;
        if (lt_bench_node_wait_service(node, c, "store", 0, LT_BENCH_SERVICE_MS, &pid) != 0) {
            ret = -1;
            break;
        }
        if (pid == 0 || (pid_t)pid == node->pid || (pid_t)pid == getpid()) {
            lt_bench_note("the node lists store with pid %u: not a process to kill", pid);
            ret = -1;
            break;
        }
        /* Pacing, not synchronization: outside the restart window of the
         * previous kill, so that this one is a first crash. */
        double wait = last_kill + S_RESTART_GAP_S - lt_bench_now();
        if (t > 0 && wait > 0)
            lt_bench_pause_ms((unsigned)(wait * 1000) + 1);
        double t0 = lt_bench_now();
        if (kill((pid_t)pid, SIGKILL) != 0) {
            lt_bench_note("kill -9 %u: %s", pid, strerror(errno));
            ret = -1;
            break;
        }
        last_kill = t0;
        if (s_get_after_kill(c, store, key, s_value(pool, 0), t0) != 0) {
            ret = -1;
            break;
        }
        ms[t] = (lt_bench_now() - t0) * 1e3;
        r->restart_trials++;
        if (lt_bench_node_wait_service(node, c, "store", pid, LT_BENCH_SERVICE_MS, &new_pid) != 0)
            ret = -1;
        else
            lt_bench_note("  trial %" PRIu64 ": %.1f ms (pid %u -> %u)", t + 1, ms[t], pid,
                          new_pid);
    }
    if (ret == 0) {
        r->restart_ms_first = ms[0];
        r->restart_ms_median = lt_bench_quantile(ms, r->restart_trials, 0.5);
        r->restart_ms_max = lt_bench_quantile(ms, r->restart_trials, 1.0);
    }
    free(ms);
    return ret;
}

/* ---- the store node ---- */

static int s_run_store(const s_opts_t *o, const char *base, const uint8_t *pool, s_results_t *r)
{
    char home[LT_BENCH_PATH_MAX], log[LT_BENCH_PATH_MAX];
    snprintf(home, sizeof home, "%s/store", base);
    snprintf(log, sizeof log, "%s/latticed-store.log", base);
    lt_bench_note("store: latticed --services store --restart-window 1 in %s", home);
    lt_bench_node_t node;
    lt_client_t *c = NULL;
    /* The restart trials crash the store on purpose: with a window of one
     * second and the kills further apart, each is the first crash in its
     * window, restarted at once rather than after a growing backoff, and the
     * restart intensity is never reached. */
    static const char *const args[] = {"--services", "store", "--restart-window", "1", NULL};
    if (lt_bench_node_start(&node, o->latticed, home, log, args, S_CALL_MS, &c) != 0)
        return -1;
    int ret = 0;
    uint32_t pid = 0;
    lt_client_store_id_t store;
    if (lt_bench_node_wait_service(&node, c, "store", 0, LT_BENCH_SERVICE_MS, &pid) != 0) {
        ret = -1;
    } else if (lt_client_store_create(c, LT_CLIENT_STORE_KV, "bench-ipc", NULL, &store) != LT_OK) {
        lt_bench_note("creating a KV store: %s", lt_client_errmsg(c));
        ret = -1;
    }
    if (ret == 0)
        ret = s_latency(c, &store, o, pool, r);
    if (ret == 0)
        lt_bench_note("throughput: 1, 4 and 16 clients putting for %.1f s each", o->puts_s);
    for (int i = 0; ret == 0 && i < S_NLEVELS; i++)
        ret = s_throughput_level(node.home, &store, o, pool, s_levels[i], node.pid, (pid_t)pid,
                                 &r->level[i]);
    if (ret == 0)
        ret = s_restart(&node, c, &store, o, pool, r);
    if (ret != 0)
        lt_bench_node_log_tail(&node);
    lt_client_close(&c);
    if (lt_bench_node_stop(&node) != 0)
        ret = -1;
    return ret;
}

/* ---- the machine ---- */

/* What one system call that does nothing costs here, in nanoseconds: every
 * ZeroMQ message costs several (a send, a wakeup, a poll), so this is the
 * unit the throughput figures are made of on this machine. */
static double s_syscall_ns(void)
{
    double t0 = lt_bench_now();
    for (int i = 0; i < S_SYSCALLS; i++)
        (void)syscall(SYS_getppid);
    return (lt_bench_now() - t0) * 1e9 / S_SYSCALLS;
}

/* ---- output ---- */

static const char *s_bool(bool b)
{
    return b ? "true" : "false";
}

static void s_print_json(const s_opts_t *o, const s_results_t *r, const char *fs)
{
    const lt_bench_route_result_t *rt = &r->route;
    double route = rt->route_us - rt->direct_us;
    double bare = rt->bare_us - rt->direct_us;
    double bare_proc = rt->bare_proc_us - rt->direct_us;
    double ratio = bare > 0 ? route / bare : 0;
    const s_level_t *l = r->level, *l16 = &r->level[S_NLEVELS - 1];
    printf("{\"format\":\"%s\",\"version\":\"%s\",\"backend\":\"rocksdb\",\"sync\":true,"
           "\"fs\":\"%s\",\"cores\":%ld,\"quick\":%s,\"n\":%" PRIu64 ",",
           S_FORMAT, LT_BENCH_VERSION, fs, sysconf(_SC_NPROCESSORS_ONLN), s_bool(o->quick), o->n);
    printf("\"put_p50_us\":%.1f,\"put_p99_us\":%.1f,\"get_p50_us\":%.1f,\"get_p99_us\":%.1f,",
           r->put_p50_us, r->put_p99_us, r->get_p50_us, r->get_p99_us);
    printf("\"puts_per_s_1\":%.1f,\"puts_per_s_4\":%.1f,\"puts_per_s_16\":%.1f,"
           "\"puts_n_1\":%" PRIu64 ",\"puts_n_4\":%" PRIu64 ",\"puts_n_16\":%" PRIu64 ","
           "\"puts_s\":%.1f,\"puts_per_s_16_target\":%.0f,\"puts_per_s_16_ok\":%s,",
           l[0].puts_per_s, l[1].puts_per_s, l[2].puts_per_s, l[0].n, l[1].n, l[2].n, o->puts_s,
           S_PUTS_16_TARGET, s_bool(l16->puts_per_s >= S_PUTS_16_TARGET));
    printf("\"cpu_us_per_put_16\":%.1f,\"cpu_us_per_put_16_client\":%.1f,"
           "\"cpu_us_per_put_16_kernel\":%.1f,\"cpu_us_per_put_16_store\":%.1f,",
           l16->cpu_us_client + l16->cpu_us_kernel + l16->cpu_us_store, l16->cpu_us_client,
           l16->cpu_us_kernel, l16->cpu_us_store);
    const lt_bench_ceiling_result_t *ce = &r->ceiling;
    printf("\"bare_rt_per_s_16\":%.1f,\"bare_rt_cpu_us_16\":%.1f,\"bare_rt_body_len\":%d,"
           "\"puts_16_vs_bare_rt_16\":%.3f,\"puts_16_target_vs_bare_rt_16\":%.3f,"
           "\"null_syscall_ns\":%.0f,",
           ce->per_s, ce->cpu_us, S_CEIL_BODY_LEN, ce->per_s > 0 ? l16->puts_per_s / ce->per_s : 0,
           ce->per_s > 0 ? S_PUTS_16_TARGET / ce->per_s : 0, r->syscall_ns);
    printf("\"rtt_pinned\":%s,", s_bool(rt->cpu >= 0));
    printf("\"rtt_n\":%" PRIu64 ",\"route_rtt_us\":%.1f,\"direct_rtt_us\":%.1f,"
           "\"bare_rtt_us\":%.1f,\"bare_process_rtt_us\":%.1f,\"kernel_ping_rtt_us\":%.1f,"
           "\"route_rtt_p99_us\":%.1f,\"direct_rtt_p99_us\":%.1f,\"bare_rtt_p99_us\":%.1f,",
           rt->n, rt->route_us, rt->direct_us, rt->bare_us, rt->bare_proc_us, rt->ping_us,
           rt->route_p99_us, rt->direct_p99_us, rt->bare_p99_us);
    printf("\"route_overhead_us\":%.1f,\"bare_forward_overhead_us\":%.1f,"
           "\"route_vs_bare_ratio\":%.3f,\"route_vs_bare_ratio_target\":%.2f,"
           "\"route_vs_bare_ratio_ok\":%s,"
           "\"bare_process_forward_overhead_us\":%.1f,\"route_vs_bare_process_ratio\":%.3f,"
           "\"route_cpu_us\":%.1f,\"kernel_ping_cpu_us\":%.1f,\"bare_process_cpu_us\":%.1f,"
           "\"route_vs_bare_process_cpu_ratio\":%.3f,",
           route, bare, ratio, S_ROUTE_RATIO_TARGET,
           s_bool(bare > 0 && ratio <= S_ROUTE_RATIO_TARGET), bare_proc,
           bare_proc > 0 ? route / bare_proc : 0, rt->route_cpu_us, rt->ping_cpu_us,
           rt->bare_proc_cpu_us,
           rt->bare_proc_cpu_us > 0 ? rt->route_cpu_us / rt->bare_proc_cpu_us : 0);
    printf("\"restart_trials\":%" PRIu64 ",\"restart_ms_median\":%.1f,\"restart_ms_max\":%.1f,"
           "\"restart_ms_first\":%.1f,"
           "\"restart_ms_median_target\":%.0f,\"restart_ms_median_ok\":%s,"
           "\"restart_ms_max_target\":%.0f,\"restart_ms_max_ok\":%s,",
           r->restart_trials, r->restart_ms_median, r->restart_ms_max, r->restart_ms_first,
           S_RESTART_MED_TARGET, s_bool(r->restart_ms_median <= S_RESTART_MED_TARGET),
           S_RESTART_MAX_TARGET, s_bool(r->restart_ms_max <= S_RESTART_MAX_TARGET));
    printf("\"value_len\":%d,\"total_s\":%.2f}\n", S_VALUE_LEN, r->total_s);
    fflush(stdout);
}

static bool s_parse_n(const char *s, uint64_t *n)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || v < 20 || v > 10000000ull || s[0] == '-')
        return false;
    *n = v;
    return true;
}

int main(int argc, char **argv)
{
    s_opts_t o = {.base_dir = "/tmp", .pin = true};
    char latticed[PATH_MAX];
    if (argc == 4 && strcmp(argv[1], LT_BENCH_FORWARDER_ARG) == 0)
        return lt_bench_route_forwarder_main(argv[2], argv[3]);
    if (argc == 3 && strcmp(argv[1], LT_BENCH_ECHO_ARG) == 0)
        return lt_bench_route_echo_main(argv[2]);
    (void)lt_bench_build_program("kernel/latticed", latticed, sizeof latticed);
    o.latticed = latticed;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            s_usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--quick") == 0) {
            o.quick = true;
        } else if (strcmp(argv[i], "--no-pin") == 0) {
            o.pin = false;
        } else if (strcmp(argv[i], "--home-dir") == 0 && i + 1 < argc) {
            o.base_dir = argv[++i];
        } else if (strcmp(argv[i], "--latticed") == 0 && i + 1 < argc) {
            o.latticed = argv[++i];
        } else if (strcmp(argv[i], "--puts-s") == 0 && i + 1 < argc) {
            char *end = NULL;
            o.puts_s = strtod(argv[++i], &end);
            if (!end || *end != '\0' || !(o.puts_s >= 0.5 && o.puts_s <= 600)) {
                lt_bench_note("--puts-s wants seconds from 0.5 to 600, not '%s'", argv[i]);
                return 2;
            }
        } else if (strcmp(argv[i], "--n") == 0 && i + 1 < argc) {
            if (!s_parse_n(argv[++i], &o.n)) {
                lt_bench_note("--n wants a count from 20 to 10000000, not '%s'", argv[i]);
                return 2;
            }
        } else {
            lt_bench_note("unknown argument '%s' (try --help)", argv[i]);
            return 2;
        }
    }
    if (o.n == 0)
        o.n = o.quick ? S_N_QUICK : S_N_FULL;
    o.trials = o.quick ? S_TRIALS_QUICK : S_TRIALS_FULL;
    if (o.puts_s == 0)
        o.puts_s = o.quick ? S_PUTS_S_QUICK : S_PUTS_S_FULL;
    /* A client whose kernel went away must not kill the benchmark. */
    signal(SIGPIPE, SIG_IGN);

    char base[LT_BENCH_PATH_MAX / 2], fs[32]; /* room for what goes inside it */
    if (snprintf(base, sizeof base, "%s/bench-ipc.XXXXXX", o.base_dir) >= (int)sizeof base) {
        lt_bench_note("--home-dir path too long");
        return 2;
    }
    if (!mkdtemp(base)) {
        lt_bench_note("cannot make a directory under %s: %s", o.base_dir, strerror(errno));
        return 1;
    }
    lt_bench_fs_name(base, fs, sizeof fs);
    lt_bench_note("run directory %s (%s), latticed %s, n = %" PRIu64 "%s", base, fs, o.latticed,
                  o.n, o.quick ? " (quick)" : "");

    double t_start = lt_bench_now();
    s_results_t r = {0};
    static uint8_t pool[S_POOL_LEN];
    s_fill_pool(pool, sizeof pool);
    int ret = s_run_store(&o, base, pool, &r);
    if (ret == 0) {
        lt_bench_note("ceiling: %d clients through a bare forwarder process to an echo "
                      "process (no work, %d-byte requests) for %.1f s",
                      16, S_CEIL_BODY_LEN, o.puts_s);
        lt_bench_ceiling_opts_t co = {
            .base = base, .clients = 16, .secs = o.puts_s, .body_len = S_CEIL_BODY_LEN};
        ret = lt_bench_route_ceiling(&co, &r.ceiling);
        r.syscall_ns = s_syscall_ns();
        lt_bench_note("  a system call that does nothing: %.0f ns", r.syscall_ns);
    }
    if (ret == 0) {
        lt_bench_route_opts_t ro = {.latticed = o.latticed,
                                    .base = base,
                                    .n = o.n * S_RTT_PER_PUT,
                                    .warmup = o.n * S_RTT_PER_PUT / 10,
                                    .pin = o.pin};
        ret = lt_bench_route_run(&ro, &r.route);
    }
    lt_bench_rm_tree(base);
    r.total_s = lt_bench_now() - t_start;
    if (ret == 0)
        s_print_json(&o, &r, fs);
    return ret == 0 ? 0 : 1;
}
