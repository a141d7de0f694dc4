/* Several nodes in one process for the actor tests of replication: each
 * node is a cooperative runtime (boards/coop.h) holding a store actor on the
 * memory backend, a sync actor and, when asked, a gossip actor, all on one
 * virtual clock; a scripted network carries what an actor of one node sends
 * to "name@<key>" of another, and can cut a node off. The test plays the
 * clients through the store protocol. */
#ifndef LT_TESTNET_H
#define LT_TESTNET_H

#include "boards/coop.h"
#include "sim/sim.h"
#include "store/ops_codec.h"
#include "weaver/identity.h"

#include "store.pb.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TN_NODES   8
#define TN_NET_MAX 4096
#define TN_TESTER  "tester"
#define TN_T0      1700000000000ull

typedef struct {
    int node;     /* destination */
    uint64_t due; /* the virtual ms it arrives at */
    char to[LT_NAME_MAX];
    char from[LT_ADDR_MAX + 2 * LT_KEY_LEN + 2];
    lt_msg_t msg;
    uint8_t *body;
} tn_packet_t;

typedef struct {
    int kind;
    uint64_t corr;
    uint32_t type;
    lt_err_t status;
    uint8_t *body;
    size_t len;
    bool got;
} tn_reply_t;

typedef struct {
    lt_coop_t *rt;
    lt_identity_t id;
    char hex[2 * LT_KEY_LEN + 1];
    tn_reply_t reply; /* the last reply to the tester */
    bool down;        /* the network drops what goes to or from it */
    bool congested;   /* what its actors send to other nodes is refused LT_EFULL */
} tn_node_t;

/* The network between nodes (tn_w.link, changed at any time): a packet
 * takes latency_ms plus up to jitter_ms (drawn per packet, so packets
 * overtake one another), is lost with probability loss_permille / 1000 and
 * delivered twice with probability dup_permille / 1000. */
typedef struct {
    uint32_t latency_ms, jitter_ms, loss_permille, dup_permille;
} tn_link_t;

/* May change a packet about to be delivered (a hostile or broken network);
 * false drops it. */
typedef bool (*tn_tamper_fn)(tn_packet_t *p, void *ctx);

typedef struct {
    tn_node_t n[TN_NODES];
    int count;
    uint64_t clock;
    uint64_t seed;
    uint64_t net_seed; /* the network's own draws (loss, jitter, duplicates) */
    tn_link_t link;
    tn_packet_t net[TN_NET_MAX];
    size_t nnet;
    uint64_t corr;
    uint64_t delivered, lost, duplicated;
    tn_tamper_fn tamper;
    void *tamper_ctx;
} tn_world_t;

extern tn_world_t tn_w;

typedef struct {
    bool gossip;   /* run a gossip actor on every node */
    bool periodic; /* the sync actors reconcile on their own every period_ms */
    uint32_t period_ms;
    uint32_t gossip_queue_bytes; /* 0: the default */
    uint32_t recon_frame_limit;  /* the sync actors' session frame limit; 0: theirs */
    uint64_t net_seed;           /* the network's draws (0: 1) */
} tn_opts_t;

/* count nodes (at most TN_NODES), seeds 10, 11, ... */
void tn_setup(int count, const tn_opts_t *opts);
void tn_teardown(void);
/* Runs every node and the network until nothing moves (the clock advances
 * 1 ms a turn, so timers due meanwhile fire). */
void tn_settle(void);
/* Moves the virtual clock to ms, firing every timer due on the way (and
 * settling after each). */
void tn_advance_to(uint64_t ms);
/* A request from the tester to actor `to` of node i, as an external client,
 * or as "tester@<key of from_node>" when from_node >= 0; the reply. When
 * nothing moves and no reply came, the clock jumps to the next timer, for at
 * most 10 virtual minutes. */
tn_reply_t *tn_ask_as(int i, int from_node, const char *to, uint32_t type, const lt_buf_t *b);
tn_reply_t *tn_ask(int i, const char *to, uint32_t type, const lt_buf_t *b);
void tn_enc(const pb_msgdesc_t *f, const void *m, lt_buf_t *b);
/* A KV store made on node i; _in: a child of parent (NULL: none), named
 * name (NULL: none). */
lt_store_id_t tn_create(int i);
lt_store_id_t tn_create_in(int i, const lt_store_id_t *parent, const char *name);
/* Node i reconciles sid with its peers now (SYNC_NOW, which must succeed);
 * the reply (a SyncReport). */
tn_reply_t *tn_sync_now(int i, const lt_store_id_t *sid);
/* Node j joins store sid held by node i (invite, join, joined). */
void tn_join(int i, int j, const lt_store_id_t *sid);
void tn_put(int i, const lt_store_id_t *sid, const char *k, const char *v);
/* The value of k on node i ("" when absent), and whether it is conflicted. */
void tn_get(int i, const lt_store_id_t *sid, const char *k, char *out, size_t cap,
            bool *conflicted);
uint64_t tn_witnessed(int i, const lt_store_id_t *sid);
/* Node i's kernel says a link to node `peer` came up (KERNEL_LINK_UP to its
 * sync actor); settles. */
void tn_link_up(int i, int peer);
void tn_expect_value(int i, const lt_store_id_t *sid, const char *k, const char *want);

#endif
