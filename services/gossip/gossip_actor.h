/* The gossip actor (DESIGN.md §7): the "gossip" service. It watches the
 * node's store for newly witnessed intentions (WITNESS_WATCH) and pushes
 * each one, as it happens, to the gossip actors of the store's active peers;
 * it ingests what peers push to it. The protocol is schemas/gossip.proto.
 *
 * Bounded. A push that the runtime cannot take now (LT_EFULL) waits in the
 * peer's queue; a queue past its bound is dropped and the store is handed to
 * the sync service to reconcile, so a slow peer never blocks writers. A push
 * to a peer with no link is dropped: reconciliation covers it when the link
 * is back. Seen hashes are kept in a fixed-size cache, so duplicates are
 * dropped without asking the store (which drops any that get through).
 *
 * Trust. A push is taken only from an active peer of its store (the store's
 * PEER_LIST, refreshed at most every few seconds); the store checks every
 * intention. A push the store rejects counts against its sender, and a
 * sender past the limit is ignored for a while.
 *
 * The watch is renewed periodically, so a restarted store (which forgets its
 * watchers, as does one that could not deliver an event) is watched again
 * within LT_GOSSIP_REWATCH_MS; what was witnessed while no watch held (or
 * before this actor started) is handed to the sync service to reconcile,
 * for every store.
 *
 * Portable: the actor context only. */
#ifndef LT_GOSSIP_ACTOR_H
#define LT_GOSSIP_ACTOR_H

#include "ipc/actor.h"

#include <stdint.h>

#define LT_GOSSIP_REWATCH_MS    10000u
#define LT_GOSSIP_PEERS_TTL_MS  5000u
#define LT_GOSSIP_QUEUE_BYTES   (4u << 20) /* per peer */
#define LT_GOSSIP_INVALID_LIMIT 3u         /* rejected pushes per minute before ... */
#define LT_GOSSIP_IGNORE_MS     300000u    /* ... the peer is ignored this long */
#define LT_GOSSIP_CHAIN_ROUNDS  3u
/* Intentions one chain read asks for: the hole and a few of its ancestors
 * (mostly held already); a longer gap takes the next round, then sync. */
#define LT_GOSSIP_CHAIN_MAX  32
#define LT_GOSSIP_SEEN_SLOTS 32768u

typedef struct {
    /* Bytes of pushes a peer's queue holds before it overflows; 0:
     * LT_GOSSIP_QUEUE_BYTES. */
    uint32_t queue_bytes;
} lt_gossip_actor_config_t;

/* name "gossip"; cfg may be NULL. */
extern const lt_actor_ops_t lt_gossip_actor;

#endif
