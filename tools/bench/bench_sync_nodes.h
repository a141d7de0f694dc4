/* bench-sync --nodes: the half of bench-sync between two real nodes on
 * loopback. Node A (`latticed --listen tcp://127.0.0.1:0`) gets a KV store
 * of N intentions; node B (`latticed`, listening nowhere) joins it and clones
 * it, timed, against the rate at which two cores verify Ed25519 signatures
 * (measured in the same run, before the nodes start); then single writes on
 * A are timed until B's watch delivers them (gossip). The nodes run in a
 * temporary directory, are stopped with SIGTERM and removed at the end,
 * failure included. tools/bench/README.md says what each figure means. */
#ifndef LT_BENCH_SYNC_NODES_H
#define LT_BENCH_SYNC_NODES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LT_BENCH_NODES_CLONE_N        200000 /* intentions in A's store */
#define LT_BENCH_NODES_CLONE_N_QUICK  2000
#define LT_BENCH_NODES_GOSSIP_N       200 /* gossip samples */
#define LT_BENCH_NODES_GOSSIP_N_QUICK 50

typedef struct {
    const char *latticed; /* a path, or a bare name looked up in PATH */
    const char *home_dir; /* the run directory is made under it */
    uint64_t clone_n;
    uint32_t gossip_n;
    bool keep; /* leave the run directory (homes, logs) in place */
} lt_bench_nodes_opts_t;

typedef struct {
    char fs[32]; /* the file system of the homes */
    /* building A's store (not a figure of the issue: how long it took) */
    uint64_t clone_n;
    uint32_t build_clients;
    double build_s;
    /* Ed25519 verifications per second, two threads together: measured
     * before the nodes start and again just before the join (the nodes
     * idle); the bound is the higher, since other load only lowers one */
    double verify_bound_per_s, verify_bound_runs[2];
    uint64_t verify_bound_n;
    /* join + clone on B */
    uint64_t clone_intentions; /* what lt_client_clone read */
    double join_s, clone_s, clone_per_s;
    /* CPU per cloned intention, microseconds, by process group */
    double clone_cpu_us_b_store, clone_cpu_us_a_store, clone_cpu_us_kernels,
        clone_cpu_us_sync_gossip;
    /* gossip */
    double link_ms;   /* end of the clone until B's link to A shows connected */
    double warmup_ms; /* link up until a first warm-up write reached B's watch */
    uint32_t warmup_writes;
    uint32_t gossip_n, gossip_lost;
    bool gossip_stopped; /* gave up after several samples lost in a row */
    double gossip_p50_ms, gossip_p90_ms, gossip_p99_ms, gossip_max_ms;
    double gossip_put_p50_ms; /* the put call on A alone */
    double nodes_s;           /* the whole phase */
} lt_bench_nodes_result_t;

/* Runs the phase. 0 with *r filled, or -1 after a note on stderr saying what
 * failed (with the tail of the node's latticed.log). Lost gossip samples
 * are a result, not a failure. */
int lt_bench_nodes_run(const lt_bench_nodes_opts_t *o, lt_bench_nodes_result_t *r);

/* Prints the phase's fields as `"name":value,` pairs, each followed by a
 * comma, for the caller's JSON object. */
void lt_bench_nodes_print_json(const lt_bench_nodes_result_t *r);

#endif
