/* bench-sync --nodes: two real nodes on loopback (bench_sync_nodes.h).
 *
 * The phase, in order: the 2-core verify bound (before any node runs, so
 * that nothing else competes for the cores); A and B started and their
 * services store, sync and gossip READY; A's store built by several clients
 * at once (only so that building it is quick: it is not timed as a figure);
 * B's join and clone, timed together; B's link to A connected; gossip
 * warmed up (a first write on A seen by B); then the gossip samples, one at
 * a time. Every wait polls the state, with a deadline. */

/* mkdtemp() is POSIX 2008. */
#define _XOPEN_SOURCE 700

#include "bench_sync_nodes.h"

#include "bench_fill.h"
#include "bench_ipc_common.h"
#include "bench_util.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define S_CALL_MS         30000  /* client timeout of ordinary calls */
#define S_CLONE_CALL_MS   120000 /* ... of the join and of each chunk of the clone */
#define S_VALUE_LEN       LT_BENCH_FILL_VALUE_LEN
#define S_POOL_LEN        65536
#define S_VERIFY_THREADS  2
#define S_VERIFY_S        1.0
#define S_LINK_MS         15000 /* B's link to A must show connected by then */
#define S_WARMUP_MS       20000 /* a first write must reach B by then */
#define S_WARMUP_EACH_MS  1000  /* a fresh warm-up write after this long */
#define S_GOSSIP_WAIT_MS  5000  /* a sample not delivered by then is lost */
#define S_GOSSIP_LOST_RUN 3     /* lost in a row: gossip is not delivering, stop */
#define S_GOSSIP_MAX_WARM (S_WARMUP_MS / S_WARMUP_EACH_MS + 1)
#define S_PROGRESS_S      5.0
#define S_WATCH_PREFIX    "g/"
#define S_CLONE_TARGET    0.6
#define S_GOSSIP_P50_GOAL 5.0

/* ---- the verify bound: two threads verifying at once ---- */

typedef struct {
    pthread_barrier_t *start;
    const unsigned char *pk;
    uint8_t (*msgs)[32];
    uint8_t (*sigs)[crypto_sign_BYTES];
    uint64_t n, bad;
    double secs;
} s_verifier_t;

static void *s_verifier_main(void *arg)
{
    s_verifier_t *v = arg;
    pthread_barrier_wait(v->start);
    double t0 = lt_bench_now(), t;
    do {
        for (int i = 0; i < 64; i++, v->n++)
            v->bad += crypto_sign_verify_detached(v->sigs[i], v->msgs[i], 32, v->pk) != 0;
        t = lt_bench_now();
    } while (t - t0 < S_VERIFY_S);
    v->secs = t - t0;
    return NULL;
}

/* Ed25519 verifications of 32-byte messages per second, S_VERIFY_THREADS
 * threads for about S_VERIFY_S each, summed. 0 on failure. Adds the
 * verifications made to *n_out. */
static double s_verify_bound(uint64_t *n_out)
{
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    static uint8_t msgs[64][32], sigs[64][crypto_sign_BYTES];
    crypto_sign_keypair(pk, sk);
    randombytes_buf(msgs, sizeof msgs);
    for (int i = 0; i < 64; i++)
        crypto_sign_detached(sigs[i], NULL, msgs[i], 32, sk);
    sodium_memzero(sk, sizeof sk);
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, S_VERIFY_THREADS);
    s_verifier_t v[S_VERIFY_THREADS];
    pthread_t th[S_VERIFY_THREADS];
    int started = 0;
    for (int i = 0; i < S_VERIFY_THREADS; i++) {
        v[i] = (s_verifier_t){.start = &start, .pk = pk, .msgs = msgs, .sigs = sigs};
        if (pthread_create(&th[i], NULL, s_verifier_main, &v[i]) != 0)
            break;
        started++;
    }
    if (started < S_VERIFY_THREADS) {
        /* The barrier would never open: nothing has run yet, so exit. */
        lt_bench_note("cannot start the verifier threads");
        exit(1);
    }
    double rate = 0;
    uint64_t n = 0, bad = 0;
    for (int i = 0; i < S_VERIFY_THREADS; i++) {
        pthread_join(th[i], NULL);
        rate += (double)v[i].n / v[i].secs;
        n += v[i].n;
        bad += v[i].bad;
    }
    pthread_barrier_destroy(&start);
    *n_out += n;
    if (bad) {
        lt_bench_note("%" PRIu64 " of %" PRIu64 " valid signatures did not verify", bad, n);
        return 0;
    }
    return rate;
}

/* ---- the two nodes ---- */

typedef struct {
    lt_bench_node_t node;
    lt_client_t *c;
    uint32_t store_pid, sync_pid, gossip_pid;
} s_node_t;

static int s_node_start(s_node_t *n, const char *latticed, const char *base, const char *name,
                        const char *const *args)
{
    if (lt_bench_node_start_in(&n->node, latticed, base, name, args, S_CALL_MS, &n->c) != 0)
        return -1;
    if (lt_bench_node_wait_service(&n->node, n->c, "store", 0, LT_BENCH_SERVICE_MS,
                                   &n->store_pid) != 0 ||
        lt_bench_node_wait_service(&n->node, n->c, "sync", 0, LT_BENCH_SERVICE_MS, &n->sync_pid) !=
            0 ||
        lt_bench_node_wait_service(&n->node, n->c, "gossip", 0, LT_BENCH_SERVICE_MS,
                                   &n->gossip_pid) != 0)
        return -1;
    return 0;
}

static void s_node_stop(s_node_t *n, bool failed)
{
    if (failed)
        lt_bench_node_log_tail(&n->node);
    lt_client_close(&n->c);
    (void)lt_bench_node_stop(&n->node);
}

/* CPU seconds of each process group of both nodes, for the clone's split. */
typedef struct {
    double b_store, a_store, kernels, sync_gossip;
} s_cpu_t;

static void s_cpu_read(const s_node_t *a, const s_node_t *b, s_cpu_t *out)
{
    out->b_store = lt_bench_proc_cpu_s((pid_t)b->store_pid);
    out->a_store = lt_bench_proc_cpu_s((pid_t)a->store_pid);
    out->kernels = lt_bench_proc_cpu_s(a->node.pid) + lt_bench_proc_cpu_s(b->node.pid);
    out->sync_gossip =
        lt_bench_proc_cpu_s((pid_t)a->sync_pid) + lt_bench_proc_cpu_s((pid_t)a->gossip_pid) +
        lt_bench_proc_cpu_s((pid_t)b->sync_pid) + lt_bench_proc_cpu_s((pid_t)b->gossip_pid);
}

/* ---- join and clone ---- */

typedef struct {
    double t0, last;
} s_progress_t;

static void s_clone_progress(void *ctx, uint64_t done, uint64_t total)
{
    s_progress_t *p = ctx;
    double t = lt_bench_now();
    if (t - p->last < S_PROGRESS_S && done < total)
        return;
    p->last = t;
    lt_bench_note("  cloned %" PRIu64 " / %" PRIu64 " (%.0f/s)", done, total,
                  (double)done / (t - p->t0));
}

static int s_join_clone(s_node_t *a, s_node_t *b, const lt_client_store_id_t *store,
                        uint64_t a_witnessed, lt_client_key_t *inviter, lt_bench_nodes_result_t *r)
{
    lt_client_invite_t inv;
    if (lt_client_peer_invite(a->c, store, 0, &inv) != LT_OK) {
        lt_bench_note("peer invite on A: %s", lt_client_errmsg(a->c));
        return -1;
    }
    if (inv.naddrs == 0) {
        lt_bench_note("A's invite carries no address (it listens nowhere)");
        return -1;
    }
    *inviter = inv.inviter;
    lt_bench_note("B joins at %s and clones %" PRIu64 " intentions", inv.addrs[0], a_witnessed);
    lt_client_set_timeout(b->c, S_CLONE_CALL_MS);
    s_cpu_t c0, c1;
    s_cpu_read(a, b, &c0);
    lt_client_store_id_t joined;
    double t0 = lt_bench_now();
    lt_err_t rc = lt_client_peer_join(b->c, &inv, &joined);
    sodium_memzero(&inv, sizeof inv);
    if (rc != LT_OK) {
        lt_bench_note("peer join on B: %s", lt_client_errmsg(b->c));
        return -1;
    }
    double t_join = lt_bench_now();
    s_progress_t prog = {t0, t0};
    uint64_t count = 0;
    rc = lt_client_clone(b->c, &joined, inviter, s_clone_progress, &prog, &count);
    double t1 = lt_bench_now();
    s_cpu_read(a, b, &c1);
    lt_client_set_timeout(b->c, S_CALL_MS);
    if (rc != LT_OK) {
        lt_bench_note("clone on B stopped after %" PRIu64 " intentions: %s", count,
                      lt_client_errmsg(b->c));
        return -1;
    }
    if (memcmp(joined.b, store->b, sizeof joined.b) != 0) {
        lt_bench_note("B joined another store than A's");
        return -1;
    }
    lt_client_store_info_t info;
    if (lt_client_store_info(b->c, &joined, &info) != LT_OK) {
        lt_bench_note("store info on B: %s", lt_client_errmsg(b->c));
        return -1;
    }
    /* A's store also holds what the join wrote there, hence >=. */
    if (info.witnessed < a_witnessed || count < a_witnessed) {
        lt_bench_note("after the clone B holds %" PRIu64 " witnessed intentions and read %" PRIu64
                      ", A held %" PRIu64 " before the join",
                      info.witnessed, count, a_witnessed);
        return -1;
    }
    r->clone_intentions = count;
    r->join_s = t_join - t0;
    r->clone_s = t1 - t0;
    r->clone_per_s = (double)count / r->clone_s;
    double us = 1e6 / (double)count;
    r->clone_cpu_us_b_store = (c1.b_store - c0.b_store) * us;
    r->clone_cpu_us_a_store = (c1.a_store - c0.a_store) * us;
    r->clone_cpu_us_kernels = (c1.kernels - c0.kernels) * us;
    r->clone_cpu_us_sync_gossip = (c1.sync_gossip - c0.sync_gossip) * us;
    lt_bench_note("  join %.2f s, join + clone %.2f s: %.0f intentions/s; CPU per intention: "
                  "B store %.1f us, A store %.1f us, kernels %.1f us, sync + gossip %.1f us",
                  r->join_s, r->clone_s, r->clone_per_s, r->clone_cpu_us_b_store,
                  r->clone_cpu_us_a_store, r->clone_cpu_us_kernels, r->clone_cpu_us_sync_gossip);
    return 0;
}

/* Polls B's status until its link to A shows connected. */
static int s_wait_link(s_node_t *b, const lt_client_key_t *a_key, double *ms)
{
    static lt_client_node_status_t st; /* large */
    double t0 = lt_bench_now();
    for (;;) {
        if (lt_client_node_status(b->c, &st) == LT_OK)
            for (size_t i = 0; i < st.nlinks && i < sizeof st.links / sizeof st.links[0]; i++)
                if (st.links[i].connected && memcmp(st.links[i].key.b, a_key->b, 32) == 0) {
                    *ms = (lt_bench_now() - t0) * 1e3;
                    return 0;
                }
        if (!lt_bench_node_alive(&b->node)) {
            lt_bench_note("B's latticed exited");
            return -1;
        }
        if (lt_bench_now() - t0 > S_LINK_MS / 1000.0) {
            lt_bench_note("B's link to A not connected within %d ms", S_LINK_MS);
            return -1;
        }
        lt_bench_pause_ms(5);
    }
}

/* ---- gossip: B's watch, on a thread of its own ---- */

/* The thread owns B's second handle and takes every event as it comes, so
 * an arrival is timed when the event reaches the bench, not when the main
 * thread next looks. Keys are S_WATCH_PREFIX and an index; arrived[index]
 * is when it came (0: not yet). */
typedef struct {
    lt_client_t *c;
    lt_client_store_id_t store;
    uint64_t stream;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    double *arrived;
    size_t cap;
    bool stop;
} s_watch_t;

static bool s_key_index(const uint8_t *key, size_t len, size_t *out)
{
    size_t plen = sizeof S_WATCH_PREFIX - 1;
    if (len <= plen || len > plen + 9 || memcmp(key, S_WATCH_PREFIX, plen) != 0)
        return false;
    size_t v = 0;
    for (size_t i = plen; i < len; i++) {
        if (key[i] < '0' || key[i] > '9')
            return false;
        v = v * 10 + (size_t)(key[i] - '0');
    }
    *out = v;
    return true;
}

static void *s_watch_main(void *arg)
{
    s_watch_t *w = arg;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        bool stop = w->stop;
        pthread_mutex_unlock(&w->mu);
        if (stop)
            break;
        lt_client_event_t ev;
        memset(&ev, 0, sizeof ev);
        lt_err_t rc = lt_client_next_event(w->c, 100, &ev);
        double t = lt_bench_now();
        size_t idx;
        if (rc == LT_OK) {
            if (ev.kind == LT_CLIENT_EV_KV_CHANGE && s_key_index(ev.key, ev.key_len, &idx) &&
                idx < w->cap) {
                pthread_mutex_lock(&w->mu);
                if (w->arrived[idx] == 0) {
                    w->arrived[idx] = t;
                    pthread_cond_broadcast(&w->cv);
                }
                pthread_mutex_unlock(&w->mu);
            }
            lt_client_event_clear(&ev);
        } else if (rc == LT_EUNAVAILABLE) {
            /* B's store or kernel restarted: its streams are gone. */
            lt_bench_note("B's watch was lost (%s): watching again", lt_client_errmsg(w->c));
            if (lt_client_watch(w->c, &w->store, S_WATCH_PREFIX, sizeof S_WATCH_PREFIX - 1,
                                &w->stream) != LT_OK) {
                lt_bench_note("watching again: %s", lt_client_errmsg(w->c));
                lt_bench_pause_ms(100); /* pacing the retries */
            }
        } else if (rc != LT_ETIMEDOUT && rc != LT_EFULL) {
            lt_bench_note("B's watch: %s", lt_client_errmsg(w->c));
            lt_bench_pause_ms(100); /* pacing: the loop polls again */
        }
    }
    return NULL;
}

/* Waits until any key in [lo, hi] has arrived, up to the deadline (on
 * lt_bench_now's clock). Its arrival time, or 0. */
static double s_wait_arrival(s_watch_t *w, size_t lo, size_t hi, double deadline)
{
    double got = 0;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        for (size_t i = lo; i <= hi && i < w->cap; i++)
            if (w->arrived[i] != 0 && (got == 0 || w->arrived[i] < got))
                got = w->arrived[i];
        double left = deadline - lt_bench_now();
        if (got != 0 || left <= 0)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        long long ns = (long long)ts.tv_nsec + (long long)(left * 1e9);
        ts.tv_sec += (time_t)(ns / 1000000000LL);
        ts.tv_nsec = (long)(ns % 1000000000LL);
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
    }
    pthread_mutex_unlock(&w->mu);
    return got;
}

/* One write on A of key index idx: its start time, and *put_s how long the
 * call took; -1 when it failed. */
static double s_gossip_put(s_node_t *a, const lt_client_store_id_t *store, size_t idx,
                           const uint8_t *pool, double *put_s)
{
    char key[32];
    int klen = snprintf(key, sizeof key, S_WATCH_PREFIX "%zu", idx);
    lt_client_hash_t h;
    double t0 = lt_bench_now();
    if (lt_client_put(a->c, store, key, (size_t)klen,
                      pool + (idx * 53) % (S_POOL_LEN - S_VALUE_LEN), S_VALUE_LEN, &h) != LT_OK) {
        lt_bench_note("gossip write on A: %s", lt_client_errmsg(a->c));
        return -1;
    }
    *put_s = lt_bench_now() - t0;
    return t0;
}

static int s_gossip(s_node_t *a, s_node_t *b, const lt_client_store_id_t *store,
                    const uint8_t *pool, uint32_t samples, lt_bench_nodes_result_t *r)
{
    static s_watch_t w; /* shared with the watch thread */
    memset(&w, 0, sizeof w);
    w.store = *store;
    w.cap = S_GOSSIP_MAX_WARM + samples;
    w.arrived = calloc(w.cap, sizeof *w.arrived);
    double *lat = calloc(samples ? samples : 1, sizeof *lat);
    double *put = calloc(samples ? samples : 1, sizeof *put);
    lt_client_opts_t opts = {.home = b->node.home, .timeout_ms = S_CALL_MS};
    lt_errbuf_t eb = {{0}};
    int ret = -1;
    bool thread = false;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w.cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&w.mu, NULL);
    if (!w.arrived || !lat || !put) {
        lt_bench_note("out of memory");
        goto done;
    }
    if (lt_client_connect(&opts, &w.c, &eb) != LT_OK) {
        lt_bench_note("connecting B's watcher: %s", eb.msg);
        goto done;
    }
    if (lt_client_watch(w.c, store, S_WATCH_PREFIX, sizeof S_WATCH_PREFIX - 1, &w.stream) !=
        LT_OK) {
        lt_bench_note("watch on B: %s", lt_client_errmsg(w.c));
        goto done;
    }
    pthread_t th;
    if (pthread_create(&th, NULL, s_watch_main, &w) != 0) {
        lt_bench_note("cannot start the watch thread");
        goto done;
    }
    thread = true;

    /* Warm-up: write on A until a write reaches B, a fresh one every
     * S_WARMUP_EACH_MS; the gossip service may learn of its new peer only
     * when it next reads the store's peers. */
    double t0 = lt_bench_now(), put_s;
    size_t idx = 0;
    for (;;) {
        if (idx >= S_GOSSIP_MAX_WARM || lt_bench_now() - t0 > S_WARMUP_MS / 1000.0) {
            lt_bench_note("no write on A reached B's watch within %d ms (%zu writes): "
                          "measuring anyway",
                          S_WARMUP_MS, idx);
            break;
        }
        if (s_gossip_put(a, store, idx, pool, &put_s) < 0)
            goto done;
        idx++;
        double got = s_wait_arrival(&w, 0, idx - 1, lt_bench_now() + S_WARMUP_EACH_MS / 1000.0);
        if (got != 0) {
            r->warmup_ms = (got - t0) * 1e3;
            break;
        }
    }
    r->warmup_writes = (uint32_t)idx;
    lt_bench_note("gossip: warm-up %.1f ms (%u writes); %u samples, one at a time", r->warmup_ms,
                  r->warmup_writes, samples);

    size_t base = S_GOSSIP_MAX_WARM, n = 0;
    uint32_t lost_run = 0;
    for (uint32_t s = 0; s < samples; s++) {
        double start = s_gossip_put(a, store, base + s, pool, &put_s);
        if (start < 0)
            goto done;
        r->gossip_n++;
        double got = s_wait_arrival(&w, base + s, base + s, start + S_GOSSIP_WAIT_MS / 1000.0);
        if (got == 0) {
            r->gossip_lost++;
            lt_bench_note("  sample %u: not on B within %d ms: lost", s, S_GOSSIP_WAIT_MS);
            if (++lost_run == S_GOSSIP_LOST_RUN && s + 1 < samples) {
                lt_bench_note("  %d samples lost in a row: gossip is not delivering; stopping",
                              S_GOSSIP_LOST_RUN);
                r->gossip_stopped = true;
                break;
            }
            continue;
        }
        lost_run = 0;
        lat[n] = (got - start) * 1e3;
        put[n] = put_s * 1e3;
        n++;
    }
    if (n > 0) {
        r->gossip_p50_ms = lt_bench_quantile(lat, n, 0.5);
        r->gossip_p90_ms = lt_bench_quantile(lat, n, 0.9);
        r->gossip_p99_ms = lt_bench_quantile(lat, n, 0.99);
        r->gossip_max_ms = lt_bench_quantile(lat, n, 1.0);
        r->gossip_put_p50_ms = lt_bench_quantile(put, n, 0.5);
    }
    lt_bench_note("  p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms (the put on A alone: "
                  "p50 %.2f ms); %u of %u lost",
                  r->gossip_p50_ms, r->gossip_p90_ms, r->gossip_p99_ms, r->gossip_max_ms,
                  r->gossip_put_p50_ms, r->gossip_lost, r->gossip_n);
    ret = 0;
done:
    if (thread) {
        pthread_mutex_lock(&w.mu);
        w.stop = true;
        pthread_mutex_unlock(&w.mu);
        pthread_join(th, NULL);
        if (lt_client_stream_stop(w.c, w.stream) != LT_OK)
            lt_bench_note("stopping B's watch: %s", lt_client_errmsg(w.c));
    }
    lt_client_close(&w.c);
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    free(w.arrived);
    free(lat);
    free(put);
    return ret;
}

/* ---- the phase ---- */

static int s_phase(const lt_bench_nodes_opts_t *o, const char *base, s_node_t *a, s_node_t *b,
                   lt_bench_nodes_result_t *r)
{
    static uint8_t pool[S_POOL_LEN];
    randombytes_buf(pool, sizeof pool);

    static const char *const a_args[] = {"--listen", "tcp://127.0.0.1:0", NULL};
    lt_bench_note("node A: latticed --listen tcp://127.0.0.1:0; node B: latticed (in %s)", base);
    if (s_node_start(a, o->latticed, base, "A", a_args) != 0 ||
        s_node_start(b, o->latticed, base, "B", NULL) != 0)
        return -1;

    lt_client_store_id_t store;
    if (lt_client_store_create(a->c, LT_CLIENT_STORE_KV, "bench-sync", NULL, &store) != LT_OK) {
        lt_bench_note("creating a KV store on A: %s", lt_client_errmsg(a->c));
        return -1;
    }
    /* The store groups concurrent writes into one commit. */
    r->build_clients = LT_BENCH_FILL_CLIENTS;
    if (lt_bench_fill(&a->node, "A", &store, pool, sizeof pool, o->clone_n, r->build_clients,
                      &r->build_s) != 0)
        return -1;
    lt_client_store_info_t info;
    if (lt_client_store_info(a->c, &store, &info) != LT_OK) {
        lt_bench_note("store info on A: %s", lt_client_errmsg(a->c));
        return -1;
    }
    if (info.witnessed < o->clone_n) {
        lt_bench_note("A's store holds %" PRIu64 " witnessed intentions after %" PRIu64 " puts",
                      info.witnessed, o->clone_n);
        return -1;
    }

    /* The second measurement of the bound: the nodes are up and idle. */
    r->verify_bound_runs[1] = s_verify_bound(&r->verify_bound_n);
    if (r->verify_bound_runs[1] <= 0)
        return -1;
    if (r->verify_bound_runs[1] > r->verify_bound_per_s)
        r->verify_bound_per_s = r->verify_bound_runs[1];
    lt_bench_note("verify bound again, the nodes idle: %.0f verifications/s (bound %.0f)",
                  r->verify_bound_runs[1], r->verify_bound_per_s);

    lt_client_key_t a_key;
    if (s_join_clone(a, b, &store, info.witnessed, &a_key, r) != 0)
        return -1;
    if (s_wait_link(b, &a_key, &r->link_ms) != 0)
        return -1;
    lt_bench_note("B's link to A connected %.1f ms after the clone", r->link_ms);
    return s_gossip(a, b, &store, pool, o->gossip_n, r);
}

int lt_bench_nodes_run(const lt_bench_nodes_opts_t *o, lt_bench_nodes_result_t *r)
{
    memset(r, 0, sizeof *r);
    r->clone_n = o->clone_n;
    double t0 = lt_bench_now();
    if (sodium_init() < 0) {
        lt_bench_note("sodium_init failed");
        return -1;
    }
    /* A client whose kernel went away must not kill the benchmark. */
    signal(SIGPIPE, SIG_IGN);

    lt_bench_note("verify bound: Ed25519 verifications of 32-byte messages, %d threads, %.1f s",
                  S_VERIFY_THREADS, S_VERIFY_S);
    r->verify_bound_runs[0] = s_verify_bound(&r->verify_bound_n);
    if (r->verify_bound_runs[0] <= 0)
        return -1;
    r->verify_bound_per_s = r->verify_bound_runs[0];
    lt_bench_note("  %.0f verifications/s", r->verify_bound_runs[0]);

    char base[LT_BENCH_PATH_MAX / 2];
    if (snprintf(base, sizeof base, "%s/bench-sync.XXXXXX", o->home_dir) >= (int)sizeof base) {
        lt_bench_note("--home-dir path too long");
        return -1;
    }
    if (!mkdtemp(base)) {
        lt_bench_note("cannot make a directory under %s: %s", o->home_dir, strerror(errno));
        return -1;
    }
    lt_bench_fs_name(base, r->fs, sizeof r->fs);
    s_node_t a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    int ret = s_phase(o, base, &a, &b, r);
    s_node_stop(&b, ret != 0);
    s_node_stop(&a, ret != 0);
    if (o->keep)
        lt_bench_note("kept the nodes' homes and logs in %s", base);
    else
        lt_bench_rm_tree(base);
    r->nodes_s = lt_bench_now() - t0;
    return ret;
}

void lt_bench_nodes_print_json(const lt_bench_nodes_result_t *r)
{
    double ratio = r->verify_bound_per_s > 0 ? r->clone_per_s / r->verify_bound_per_s : 0;
    printf("\"nodes\":true,\"nodes_fs\":\"%s\",\"clone_n\":%" PRIu64
           ",\"clone_intentions\":%" PRIu64 ",\"build_clients\":%u,\"build_s\":%.2f,"
           "\"join_s\":%.3f,\"clone_s\":%.3f,\"clone_per_s\":%.1f,"
           "\"verify_bound_per_s\":%.1f,\"verify_bound_runs_per_s\":[%.1f,%.1f],"
           "\"verify_bound_threads\":%d,\"verify_bound_n\":%" PRIu64
           ",\"clone_vs_verify_bound\":%.3f,\"clone_vs_verify_bound_target\":%.1f,"
           "\"clone_vs_verify_bound_ok\":%s,",
           r->fs, r->clone_n, r->clone_intentions, r->build_clients, r->build_s, r->join_s,
           r->clone_s, r->clone_per_s, r->verify_bound_per_s, r->verify_bound_runs[0],
           r->verify_bound_runs[1], S_VERIFY_THREADS, r->verify_bound_n, ratio, S_CLONE_TARGET,
           ratio >= S_CLONE_TARGET ? "true" : "false");
    /* What the target leaves: at 0.6 of the bound, the CPU per intention
     * that both cores, fully busy, can give; and what one verification
     * costs at the bound, which every intention needs. */
    double cpu = r->clone_cpu_us_b_store + r->clone_cpu_us_a_store + r->clone_cpu_us_kernels +
                 r->clone_cpu_us_sync_gossip;
    double verify_us =
        r->verify_bound_per_s > 0 ? S_VERIFY_THREADS * 1e6 / r->verify_bound_per_s : 0;
    double budget_us = verify_us / S_CLONE_TARGET;
    printf("\"clone_cpu_us_b_store\":%.1f,\"clone_cpu_us_a_store\":%.1f,"
           "\"clone_cpu_us_kernels\":%.1f,\"clone_cpu_us_sync_gossip\":%.1f,"
           "\"clone_cpu_us\":%.1f,\"clone_verify_us\":%.1f,\"clone_cpu_budget_us\":%.1f,",
           r->clone_cpu_us_b_store, r->clone_cpu_us_a_store, r->clone_cpu_us_kernels,
           r->clone_cpu_us_sync_gossip, cpu, verify_us, budget_us);
    bool gossip_ok =
        r->gossip_n > 0 && r->gossip_lost == 0 && r->gossip_p50_ms <= S_GOSSIP_P50_GOAL;
    printf("\"link_ms\":%.1f,\"gossip_warmup_ms\":%.1f,\"gossip_warmup_writes\":%u,"
           "\"gossip_n\":%u,\"gossip_lost\":%u,\"gossip_stopped\":%s,"
           "\"gossip_p50_ms\":%.3f,\"gossip_p90_ms\":%.3f,\"gossip_p99_ms\":%.3f,"
           "\"gossip_max_ms\":%.3f,\"gossip_put_p50_ms\":%.3f,"
           "\"gossip_p50_ms_target\":%.1f,\"gossip_p50_ms_ok\":%s,\"nodes_s\":%.2f,",
           r->link_ms, r->warmup_ms, r->warmup_writes, r->gossip_n, r->gossip_lost,
           r->gossip_stopped ? "true" : "false", r->gossip_p50_ms, r->gossip_p90_ms,
           r->gossip_p99_ms, r->gossip_max_ms, r->gossip_put_p50_ms, S_GOSSIP_P50_GOAL,
           gossip_ok ? "true" : "false", r->nodes_s);
}
