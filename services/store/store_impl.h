/* Internals shared by the files of services/store (not an API). */
#ifndef LT_STORE_IMPL_H
#define LT_STORE_IMPL_H

#include "store/registry.h"
#include "store/store.h"
#include "store/tables.h"
#include "store/txn.h"

#include "ops.pb.h"

struct lt_store {
    lt_db_t *db;
    lt_store_id_t id;
    const lt_sm_type_t *type;
    /* Committed-or-pending state; reloaded from the backend after an abort. */
    uint64_t seq;       /* last witnessed sequence number (0: none) */
    lt_hash_t last_rec; /* hash of record `seq` (zero when seq == 0) */
    uint64_t cursor;    /* projection applied up to this seq */
    uint64_t nfloating; /* floating intentions (exact: lets a witness skip the cascade) */
    bool dirty;         /* witnessed in the pending transaction */
    /* Records the open passed over (lt_store_open_check): [gap_from,
     * gap_to], 0 when none, and the verified mark they hold back. */
    uint64_t gap_from, gap_to, gap_mark;
    bool found; /* listed in the directory (used while reloading) */
};

typedef struct {
    lt_event_t ev;
    size_t key_off, val_off; /* into the batch's arena */
} lt_pending_event_t;

/* The events of one commit (or of the pending transaction). */
typedef struct lt_ev_batch {
    lt_pending_event_t *v;
    size_t n, cap;
    lt_buf_t arena;
    struct lt_ev_batch *next;
} lt_ev_batch_t;

typedef struct {
    lt_event_fn fn;
    void *ctx;
    unsigned id;
    bool any_store;
    lt_store_id_t store;
    unsigned kinds;
    uint8_t *prefix;
    size_t plen;
} lt_sub_t;

struct lt_db {
    lt_kv_t *kv;
    lt_txn_t *txn;
    lt_identity_t id;
    lt_clock_t clock;
    const lt_logger_t *log;
    void (*random)(void *ctx, void *buf, size_t n);
    void *random_ctx;
    lt_registry_t registry;
    lt_store_t **stores; /* sorted by id */
    size_t nstores, cap_stores;
    lt_ev_batch_t pending;             /* events of the pending transaction */
    lt_ev_batch_t *ready, *ready_tail; /* committed, not yet delivered */
    bool delivering;                   /* inside the delivery loop */
    lt_sub_t *subs;
    size_t nsubs;
    unsigned next_sub;
    lt_errbuf_t eb;
    /* Set when a write failed after staging part of itself: the pending
     * transaction is inconsistent, so every write is refused and the next
     * commit discards the group (lt_db_poison). */
    lt_err_t poisoned;
};

/* Queues an event for delivery after the commit (key/value are copied). */
LT_NODISCARD lt_err_t lt_db_emit(lt_db_t *db, const lt_event_t *ev);

/* Store-internal steps used by db.c. */
LT_NODISCARD lt_err_t lt_store_load(lt_db_t *db, const lt_store_id_t *id, const char *type,
                                    lt_store_t **out);
LT_NODISCARD lt_err_t lt_store_reload(lt_store_t *st);
LT_NODISCARD lt_err_t lt_store_sign_tail(lt_store_t *st);
LT_NODISCARD lt_err_t lt_store_catch_up(lt_store_t *st);
LT_NODISCARD lt_err_t lt_store_delete_all(lt_store_t *st);
void lt_store_free(lt_store_t **st_p);

/* System table (system_table.c): applies a system op of intention `a->in`. */
LT_NODISCARD lt_err_t lt_system_apply(const lt_apply_t *a, const lattice_SystemOp *op);

#endif
