/* The simulator (DESIGN.md §2.1, runtime 3): N whole nodes in one thread on
 * one virtual clock. Each node is a cooperative runtime (boards/coop.h)
 * hosting the very actors the processes run (store on the memory backend,
 * sync, gossip); a simulated network carries what one node's actors send to
 * another's ("name@<node key>"): per-link latency and jitter (so packets
 * overtake one another), loss, duplication, bandwidth caps, and partitions
 * into two halves that heal on a schedule. Only the links of the topology
 * exist: a node sends to a non-neighbour as a kernel with no link would
 * answer (LT_EUNAVAILABLE).
 *
 * A run: node 0 creates a KV store; the others join it through a neighbour
 * already holding it (invite, join, joined; before the clock starts, on a
 * perfect network), except `late` nodes, which join at late_at_ms and
 * clone. Then the workload writes on random nodes at a fixed rate (some
 * writes made twice at once on two nodes: conflicts), the faults play, and
 * the run goes on until every node that holds the store holds the same
 * witnessed intentions and the same state, or the deadline.
 *
 * Deterministic: everything random draws from generators seeded by `seed`
 * (node keys, the runtimes' random bytes, the network, the workload), so
 * the same config gives the same result, byte for byte.
 *
 * Portable: no OS headers (the program around it, main.c, does the I/O). */
#ifndef LT_SIM_H
#define LT_SIM_H

#include "ipc/actor.h"
#include "weaver/buf.h"
#include "weaver/errors.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LT_SIM_MAX_NODES      256
#define LT_SIM_MAX_PARTITIONS 16

typedef enum {
    LT_SIM_FULL,     /* every node linked to every other */
    LT_SIM_RING,     /* i -- i+1, and the last to the first */
    LT_SIM_KREGULAR, /* random, every node with `degree` links */
    LT_SIM_STAR,     /* node 0 in the middle */
    LT_SIM_LINE,     /* i -- i+1 */
} lt_sim_topology_t;

typedef struct {
    uint64_t at_ms, heal_ms; /* cut between nodes [0, n/2) and [n/2, n) */
} lt_sim_partition_t;

typedef struct {
    unsigned nodes; /* 0: 24 */
    uint64_t seed;
    lt_sim_topology_t topology;
    unsigned degree; /* LT_SIM_KREGULAR; 0: 4 */
    /* Every link, each way. */
    uint32_t latency_ms, jitter_ms;
    uint32_t loss_ppm, dup_ppm; /* per million packets */
    uint32_t bandwidth_kbps;    /* 0: no cap (kbit/s, queued per link) */
    /* The workload. */
    unsigned writes;      /* puts in all */
    uint32_t rate_per_s;  /* 0: 200 */
    unsigned keys;        /* 0: 64 */
    uint32_t conflict_pm; /* of 1000 writes, this many are made on two nodes at once */
    unsigned value_bytes; /* 0: 32 */
    /* Faults. */
    lt_sim_partition_t partitions[LT_SIM_MAX_PARTITIONS];
    unsigned npartitions;
    unsigned late;       /* the last `late` nodes join at late_at_ms */
    uint64_t late_at_ms; /* since the workload began */
    /* The actors. */
    uint32_t sync_period_ms; /* 0: 10 000 */
    /* The run. */
    uint64_t deadline_ms; /* virtual, since the workload began; 0: 10 minutes */
    uint32_t sample_ms;   /* how often convergence is looked at; 0: 250 */
} lt_sim_config_t;

typedef struct {
    uint64_t at_ms;     /* since the workload began */
    unsigned caught_up; /* nodes holding as many intentions as the node holding most */
    unsigned holders;   /* nodes holding the store */
    double held;        /* mean over the holders of (what it holds / what the most holds) */
} lt_sim_sample_t;

typedef struct {
    bool converged;
    uint64_t virtual_ms_to_converge; /* since the workload began */
    uint64_t virtual_ms;             /* when the run stopped */
    uint64_t writes_ok, writes_failed;
    uint64_t messages, bytes;  /* packets between nodes, and their bodies */
    uint64_t lost, duplicated; /* by the network (loss, partitions) */
    uint64_t mailbox_full;     /* arrived at a full mailbox: dropped */
    uint64_t no_link;          /* sends to a node with no link to it */
    uint64_t gossip_rounds;    /* gossip pushes sent */
    uint64_t gap_recoveries;   /* gossip chain reads (a push that floated) */
    uint64_t reconciliations;  /* sync sessions started */
    uint64_t clones;           /* clones the late joiners ran */
    uint64_t events;           /* handler calls, all nodes */
    uint64_t witnessed;        /* intentions each node holds at the end (node 0's) */
    unsigned nodes;
    char (*state_hash)[65]; /* per node, hex BLAKE2b of its KV state; "" if it holds nothing */
    uint64_t *node_witnessed;
    lt_sim_sample_t *samples;
    size_t nsamples;
} lt_sim_result_t;

/* The kernel of a simulated node, as far as its actors talk to it: it
 * answers every request (the store's admitted set: the links are the
 * host's) and, asked LT_SIM_KERNEL_SAY_LINK_UP with a kernel.proto LinkUp
 * body, tells the node's sync actor that link came up (KERNEL_LINK_UP). */
#define LT_SIM_KERNEL_SAY_LINK_UP 0x7001
extern const lt_actor_ops_t lt_sim_kernel;

void lt_sim_config_default(lt_sim_config_t *cfg);
/* Runs the simulation; LT_EINVAL (why in err) for a config it cannot run. */
LT_NODISCARD lt_err_t lt_sim_run(const lt_sim_config_t *cfg, lt_sim_result_t *out, char *err,
                                 size_t cap);
void lt_sim_result_free(lt_sim_result_t *r);
/* The topology's name ("full", "ring", "kregular", "star", "line"), and back. */
const char *lt_sim_topology_name(lt_sim_topology_t t);
bool lt_sim_topology_parse(const char *s, lt_sim_topology_t *out);
/* The result as one JSON object on one line (no newline), config first. */
LT_NODISCARD lt_err_t lt_sim_json(const lt_sim_config_t *cfg, const lt_sim_result_t *r,
                                  lt_buf_t *out);
/* A plot of the samples: nodes caught up over virtual time. */
LT_NODISCARD lt_err_t lt_sim_svg(const lt_sim_config_t *cfg, const lt_sim_result_t *r,
                                 lt_buf_t *out);

#endif
