/* The store actor (DESIGN.md §2, §2.1): the "store" service. It owns the
 * node database (store.h) and serves the store protocol (schemas/store.proto,
 * store_proto.h) to the CLI, clients and other actors.
 *
 * Group commit. Writes go into the db's pending transaction as they arrive
 * and their replies wait; when the mailbox drains (idle()), one synced commit
 * makes the whole burst durable and every waiting reply goes out; if the
 * commit fails, every write of the burst is answered with the error and
 * nothing of it is visible. A burst longer than max_group writes commits
 * early. Reads that arrive while writes wait are answered after the commit,
 * in arrival order, so no reply ever shows data that is not durable.
 *
 * Idempotency. A write with a request id records its reply in the same
 * commit (lt_db_request_record); a retry with that id is answered from the
 * record, also after a restart, and writes nothing.
 *
 * Backpressure. A reply the runtime refuses for now (LT_EFULL: the kernel
 * is not reading) waits in a bounded queue, with every later reply behind
 * it, and is sent again on a timer. A list, log read or history that would
 * not fit one message (LT_FRAME_MAX_BODY) stops early and says `truncated`.
 *
 * Watch and follow. Events go to the `from` of the watch request as
 * LT_MSG_EVENT with its corr, after the commit that made them durable. A
 * watcher that cannot be reached (its queue full, its address gone) loses its
 * watch, with one log line; removing a store ends its watches. A witness
 * watch (WITNESS_WATCH, local only, a few per node) is for every store: after
 * each commit, one WITNESSED event per store touched, with the signed
 * intentions the commit witnessed there, in witness order.
 *
 * Child stores (DESIGN.md §6, §7; store.proto StoreCreate). A store held
 * here whose system table declares a child active makes this node hold the
 * child: the actor opens it empty (same id and type) right after the
 * commit that made the declaration visible (a local write or an ingest:
 * only commits that wrote or witnessed a system op cost the scan) and at
 * start, then asks the sync service to fill it; a declaration that becomes
 * removed closes it here as STORE_REMOVE would (watches end, the kernel is
 * told who may link). A child's child is found the same way once the
 * child's own table arrives. STORE_REMOVE of a child whose parent is held
 * here first writes the removal into the parent. A child answers, and
 * PEER_LIST lists (marked inherited), its effective active peers: its own
 * active ones plus its parent's effective ones (up to 8 generations), less
 * those its own table revokes; PEER_REVOKE may revoke an inherited one in
 * the child alone. The kernel's admitted set needs nothing more: the
 * parent, held here, lists the peers a child inherits.
 *
 * Portable: the backend and the node key come in through the config; the
 * process main opens RocksDB. */
#ifndef LT_STORE_ACTOR_H
#define LT_STORE_ACTOR_H

#include "ipc/actor.h"
#include "store/kv.h"
#include "weaver/hlc.h"
#include "weaver/identity.h"

#include <stddef.h>

#define LT_STORE_ACTOR_DEFAULT_MAX_GROUP 256

typedef struct {
    /* The open backend with LT_CF_COUNT column families (tables.h). The
     * actor owns it once start() succeeds (it closes it on stop) and the
     * caller must forget it; on failure the caller still owns it. */
    lt_kv_t *kv;
    lt_identity_t identity; /* the node key (copied) */
    /* Wall clock for the HLC; NULL: the runtime's now(). */
    lt_now_fn now;
    void *now_ctx;
    size_t max_group; /* writes per commit group; 0: LT_STORE_ACTOR_DEFAULT_MAX_GROUP */
} lt_store_actor_config_t;

/* name "store"; cfg is a const lt_store_actor_config_t *. */
extern const lt_actor_ops_t lt_store_actor;

#endif
