/* The sync actor (DESIGN.md §7): the "sync" service. It reconciles each
 * store this node holds with the store's active peers, by range-based set
 * reconciliation (recon.h) over the store's witnessed intentions, and then
 * fetches what this node lacks from the peer's store and ingests it. Its
 * protocol is schemas/sync.proto.
 *
 * When. On request (SYNC_NOW, `lattice sync STORE`), every `period_ms` for
 * every store, with a peer whose link just came up (the kernel's
 * KERNEL_LINK_UP event), and as a responder whenever a peer's sync actor
 * starts a session.
 *
 * What it keeps. One fingerprint index (fpindex.h) per store, built from the
 * store's witness log (the store request SYNC_ITEMS) and brought up to date
 * before a session starts; a session borrows the index, so sessions running
 * at once share it as it was and an update waits until none is in its
 * reconciliation phase. It keeps nothing on disk: a restarted sync actor
 * builds its indexes again.
 *
 * What it trusts. A responder answers only a sender its store lists as an
 * active peer of the store (PEER_LIST); the peer's store in turn serves
 * FETCH to active peers only, and every fetched intention is checked by this
 * node's store when it is ingested (signature, store, chain).
 *
 * Portable: it talks to the store and to peers through the actor context
 * only, so the same object runs as the lattice-sync process and in the
 * cooperative runtime. */
#ifndef LT_SYNC_ACTOR_H
#define LT_SYNC_ACTOR_H

#include "ipc/actor.h"
#include "sync/recon.h"

#include <stdint.h>

#define LT_SYNC_DEFAULT_PERIOD_MS  60000u
#define LT_SYNC_DEFAULT_TIMEOUT_MS 30000u
/* Sessions (initiated and answered) running at once. */
#define LT_SYNC_MAX_SESSIONS 64

typedef struct {
    /* Every store with every peer, every period_ms; 0: the default; the
     * first round runs period_ms after start. */
    uint32_t period_ms;
    bool no_periodic; /* only on request and as a responder */
    /* A session (or a call it waits on) silent this long is given up. */
    uint32_t timeout_ms;
    /* The reconciliation's parameters; NULL: lt_recon_config_default. The
     * frame limit is at most what one frame carries (also when 0). */
    const lt_recon_config_t *recon;
} lt_sync_actor_config_t;

/* name "sync"; cfg is a const lt_sync_actor_config_t * (NULL: defaults). */
extern const lt_actor_ops_t lt_sync_actor;

#endif
