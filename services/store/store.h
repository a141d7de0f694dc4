/* The intention store: a node database holding many stores (DESIGN.md §4-6).
 *
 * lt_db_t is one node's database: a storage backend, the node key, the HLC,
 * and the open stores. Writes of every store go into one pending transaction
 * that lt_db_commit() makes durable in one atomic batch (group commit): call
 * it once per group of writes; nothing is acknowledged before it returns.
 * Events (watch, follow, fork) are delivered after the commit that made them
 * durable. If a commit fails, every write since the previous commit is
 * forgotten and the stores reload their committed state.
 *
 * No globals, no printing, no blocking beyond backend calls: this is the
 * library the store actor wraps. Every call returns lt_err_t; the text of the
 * last failure is lt_db_errmsg(). */
#ifndef LT_STORE_H
#define LT_STORE_H

#include "store/kv.h"
#include "weaver/hlc.h"
#include "weaver/identity.h"
#include "weaver/intention.h"
#include "weaver/log.h"

typedef struct lt_db lt_db_t;
typedef struct lt_store lt_store_t;

/* ---- events ---- */
typedef enum {
    LT_EV_WITNESSED, /* hash, seq, author, hlc */
    LT_EV_KV,        /* key, value (winner; absent when deleted), conflicted, nheads */
    LT_EV_LOG,       /* hlc, author, hash, value = text */
    LT_EV_SYSTEM,    /* key = system table key */
    LT_EV_FORK,      /* author, hash = the intention that forked its chain */
} lt_event_kind_t;

typedef struct {
    lt_event_kind_t kind;
    lt_store_id_t store;
    uint64_t seq;
    lt_hash_t hash;
    lt_pubkey_t author;
    lt_hlc_t hlc;
    const uint8_t *key;
    size_t klen;
    const uint8_t *value;
    size_t vlen;
    bool deleted;
    bool conflicted;
    unsigned nheads;
} lt_event_t;

typedef void (*lt_event_fn)(void *ctx, const lt_event_t *ev);

/* ---- the node database ---- */
typedef struct {
    lt_kv_t *kv;                   /* ownership passes to the db on success */
    const lt_identity_t *identity; /* copied */
    lt_now_fn now;                 /* NULL: system clock */
    void *now_ctx;
    uint64_t max_drift_ms;  /* 0: LT_DEFAULT_MAX_DRIFT_MS */
    const lt_logger_t *log; /* may be NULL */
    /* Random bytes for new store ids; NULL: libsodium. The simulator passes
     * its seeded generator so that runs repeat exactly. */
    void (*random)(void *ctx, void *buf, size_t n);
    void *random_ctx;
} lt_db_config_t;

LT_NODISCARD lt_err_t lt_db_open(const lt_db_config_t *cfg, lt_db_t **out, lt_errbuf_t *eb);
/* Opens the node at home: creates the directory (0700), the identity key
 * (home/identity.key) and the RocksDB database (home/store.rdb) as needed. */
LT_NODISCARD lt_err_t lt_db_open_home(const char *home, const lt_logger_t *log, lt_db_t **out,
                                      lt_errbuf_t *eb);
/* The default home (DESIGN.md §8): $LATTICE_HOME, else
 * $XDG_DATA_HOME/lattice, else $HOME/.local/share/lattice (empty variables
 * count as unset). LT_EINVAL when none is set or the path does not fit cap
 * (out is then ""). Every program and the client library use this one. */
LT_NODISCARD lt_err_t lt_home_default(char *out, size_t cap);

/* What a home holds: latticed's RocksDB database, or lattice-nano's log
 * (kv_log.h). A home holds one or the other; each program refuses the
 * other's. */
#define LT_HOME_RDB_DIR  "store.rdb"
#define LT_HOME_LOG_FILE "store.log"

/* The OS half of lt_db_open_home, for a caller that hands the backend on
 * (the lattice-store process gives it to the store actor): creates the home
 * (0700) if missing, opens home/store.rdb with every column family (tables.h)
 * and loads or creates home/identity.key, in that order, so the database lock
 * is held before a key is created. On success the caller owns *kv (close it
 * with lt_kv_close) and should lt_identity_wipe(id) when done. LT_ELOCKED
 * when another process holds the home; LT_EINVAL for a home lattice-nano
 * keeps (home/store.log); LT_ECORRUPT, LT_EIO, LT_EINVAL (a missing or too
 * long path) otherwise, with one line in eb. In lt-store-rocksdb, with
 * lt_db_open_home. */
LT_NODISCARD lt_err_t lt_home_open_kv(const char *home, lt_kv_t **kv, lt_identity_t *id,
                                      lt_errbuf_t *eb);
/* Commits pending writes (synced); then delivers their events. */
LT_NODISCARD lt_err_t lt_db_commit(lt_db_t *db);
/* Same, choosing whether the batch is synced (tests, bulk loads). */
LT_NODISCARD lt_err_t lt_db_commit_ex(lt_db_t *db, bool sync);
/* Bytes held by the pending transaction (staged writes and cached reads):
 * lets a caller bound a commit group. */
size_t lt_db_pending_bytes(const lt_db_t *db);
/* Marks the pending commit group failed: later writes are refused and the
 * next commit discards the group and returns `why`. For a caller that staged
 * part of an operation and cannot finish it. */
void lt_db_poison(lt_db_t *db, lt_err_t why);
/* Forgets pending writes. */
void lt_db_abort(lt_db_t *db);
/* Closes the stores and the backend (pending writes are forgotten). */
void lt_db_close(lt_db_t **db_p);
const char *lt_db_errmsg(const lt_db_t *db);
const lt_pubkey_t *lt_db_node_key(const lt_db_t *db);
/* The node's wall clock (the clock its intentions are stamped with), ms. */
uint64_t lt_db_now_ms(const lt_db_t *db);
lt_kv_t *lt_db_kv(lt_db_t *db);
/* Which events a subscription receives. */
typedef struct {
    bool any_store; /* false: only events of `store` */
    lt_store_id_t store;
    unsigned kinds;        /* bit mask of 1u << lt_event_kind_t; 0: all kinds */
    const uint8_t *prefix; /* only events whose key starts with it (copied) */
    size_t plen;
} lt_sub_filter_t;

/* Subscribes fn to committed events; returns an id for lt_db_unsubscribe.
 * Watch = LT_EV_KV with a key prefix; follow = LT_EV_LOG. */
/* A mark in the events of the pending transaction, and dropping the events
 * of the kinds given (a mask of 1u << lt_event_kind_t) emitted since it:
 * a write whose events some subscribers are not to see (a quiet batch). */
size_t lt_db_events_mark(const lt_db_t *db);
void lt_db_events_drop(lt_db_t *db, size_t mark, unsigned kinds);
LT_NODISCARD lt_err_t lt_db_subscribe(lt_db_t *db, const lt_sub_filter_t *filter, lt_event_fn fn,
                                      void *ctx, unsigned *id);
void lt_db_unsubscribe(lt_db_t *db, unsigned id);

/* ---- request ids ----
 * Clients retry idempotently by request id (DESIGN.md §2): the caller records
 * the reply of each write request under its 16-byte id in the same pending
 * transaction as the write, so the two commit (or fail) together, and answers
 * a retry from the record without writing again. The node keeps the last
 * LT_REQUEST_KEEP ids; recording one more forgets the oldest. */
#define LT_REQUEST_ID_LEN 16
#define LT_REQUEST_KEEP   65536u

/* The reply recorded for `rid` (pending records included) into *reply.
 * LT_ENOTFOUND when the id is unknown (never seen, or forgotten). */
LT_NODISCARD lt_err_t lt_db_request_lookup(lt_db_t *db, const uint8_t rid[LT_REQUEST_ID_LEN],
                                           lt_buf_t *reply);
/* Records `reply` (opaque bytes, may be empty) under `rid` in the pending
 * transaction; replaces an earlier record of the same id. */
LT_NODISCARD lt_err_t lt_db_request_record(lt_db_t *db, const uint8_t rid[LT_REQUEST_ID_LEN],
                                           const uint8_t *reply, size_t len);

/* ---- invites (DESIGN.md §7) ----
 * An invite is a random secret; only its hash (lt_invite_secret_hash) is
 * written to the store's system table, with its expiry. */
#define LT_INVITE_SECRET_LEN     32
#define LT_INVITE_TTL_DEFAULT_MS (24ull * 3600 * 1000)
#define LT_INVITE_TTL_MAX_MS     (365ull * 24 * 3600 * 1000)

/* ---- stores ---- */
/* Creates a store of the registered type ("core:kvstore", "core:logstore").
 * id NULL: a random id. The store is open on return; commit to persist. */
LT_NODISCARD lt_err_t lt_store_create(lt_db_t *db, const char *type, const lt_store_id_t *id,
                                      lt_store_t **out);
/* The open store with this id, or NULL. All stores are opened by lt_db_open. */
lt_store_t *lt_db_store(lt_db_t *db, const lt_store_id_t *id);
/* Number of open stores and the i-th one (in id order). */
size_t lt_db_store_count(const lt_db_t *db);
lt_store_t *lt_db_store_at(lt_db_t *db, size_t i);
/* Deletes a store and all of its data (committed with the next commit). */
LT_NODISCARD lt_err_t lt_store_remove(lt_db_t *db, const lt_store_id_t *id);

const lt_store_id_t *lt_store_id(const lt_store_t *st);
const char *lt_store_type(const lt_store_t *st);
lt_db_t *lt_store_db(lt_store_t *st);

/* ---- the intention store ---- */
typedef enum {
    LT_INGEST_WITNESSED, /* witnessed now (with any cascade it released) */
    LT_INGEST_FLOATING,  /* stored; waits for `missing` */
    LT_INGEST_DUPLICATE, /* already held (witnessed or floating) */
} lt_ingest_status_t;

typedef struct {
    lt_ingest_status_t status;
    lt_hash_t hash;
    unsigned nmissing; /* FLOATING: the links not yet witnessed */
    lt_hash_t missing[LT_MAX_DEPS + 1];
    unsigned witnessed; /* intentions witnessed by this call, cascade included */
} lt_ingest_result_t;

/* Validates (strict decode, store id, signature, limits) and stores a signed
 * intention from anywhere; witnesses it when its links are met. Rejections
 * return their code with nothing written. */
LT_NODISCARD lt_err_t lt_store_ingest(lt_store_t *st, const uint8_t *signed_bytes, size_t len,
                                      lt_ingest_result_t *res);
/* lt_store_ingest for an intention whose signature the caller has verified
 * (a service of this node that split the checks of a batch with the store):
 * every other check is made. */
LT_NODISCARD lt_err_t lt_store_ingest_verified(lt_store_t *st, const uint8_t *signed_bytes,
                                               size_t len, lt_ingest_result_t *res);
/* Authors an intention by this node carrying `ops`, citing `deps` (besides the
 * author chain), and ingests it. hash_out may be NULL. */
LT_NODISCARD lt_err_t lt_store_write(lt_store_t *st, const uint8_t *ops, size_t len,
                                     const lt_hash_t *deps, unsigned ndeps, lt_hash_t *hash_out);

/* The signed bytes of an intention held by this store (witnessed or floating). */
LT_NODISCARD lt_err_t lt_store_get_intention(lt_store_t *st, const lt_hash_t *h, lt_buf_t *out);
/* The witness sequence number of h, or LT_ENOTFOUND. */
LT_NODISCARD lt_err_t lt_store_witness_seq(lt_store_t *st, const lt_hash_t *h, uint64_t *seq);
/* Number of witnessed intentions (= last seq). */
uint64_t lt_store_witnessed_count(const lt_store_t *st);
/* Number of floating intentions (scans; for status and tests). */
LT_NODISCARD lt_err_t lt_store_floating_count(lt_store_t *st, uint64_t *n);
/* The author's current branch heads (one unless the author forked). */
LT_NODISCARD lt_err_t lt_store_author_tips(lt_store_t *st, const lt_pubkey_t *author,
                                           lt_hash_t *tips, unsigned max, unsigned *n);
/* Authors whose chain forked, each with the number of intentions on one
 * store_prev; fn is called once per fork point. */
typedef void (*lt_fork_fn)(void *ctx, const lt_pubkey_t *author, const lt_hash_t *prev,
                           unsigned nchildren);
LT_NODISCARD lt_err_t lt_store_forks(lt_store_t *st, lt_fork_fn fn, void *ctx, unsigned *count);
/* Calls fn for every witnessed intention in witness order, from seq `from`. */
typedef lt_err_t (*lt_witness_fn)(void *ctx, uint64_t seq, const lt_hash_t *h);
LT_NODISCARD lt_err_t lt_store_scan_witness(lt_store_t *st, uint64_t from, lt_witness_fn fn,
                                            void *ctx);

/* ---- walks over the links (store_prev and deps) ----
 * Both walks go breadth-first from the hashes given and look each hash up
 * once, at most LT_STORE_WALK_MAX of them (the hashes given included): a
 * request from outside cannot make the store walk its whole history. They
 * see the pending transaction. */
#define LT_STORE_WALK_MAX 4096

/* The holes that keep intentions floating: for every one of hs[0..n) this
 * store holds and has not witnessed, the links it does not hold; a link it
 * holds but has not witnessed (floating too) is followed to what that one
 * misses in turn. Each hole once, in the order found, the first `cap` of
 * them into out; their number into *nout. A hash of hs that is witnessed
 * or not held adds nothing. LT_ECORRUPT when a held intention does not
 * parse. */
LT_NODISCARD lt_err_t lt_store_missing_deps(lt_store_t *st, const lt_hash_t *hs, size_t n,
                                            lt_hash_t *out, unsigned cap, unsigned *nout);

/* Called for each intention an ancestor walk finds held: its hash, its
 * witness seq (0: floating) and its signed bytes (as lt_store_get_intention
 * gives them; valid during the call). LT_OK goes on; anything else stops
 * the walk, which returns it. */
typedef lt_err_t (*lt_ancestor_fn)(void *ctx, const lt_hash_t *h, uint64_t seq,
                                   const uint8_t *bytes, size_t len);
/* Walks from hs[0..n) to their ancestors: fn gets each intention held, the
 * ones of hs first, in the order found (nearest first, each once); one not
 * held is passed over, and what lies beyond it is not reached. */
LT_NODISCARD lt_err_t lt_store_walk_ancestors(lt_store_t *st, const lt_hash_t *hs, size_t n,
                                              lt_ancestor_fn fn, void *ctx);

/* Verifies the witness chain: from the start (full=true), or (full=false)
 * from the last verified point; then records the verified point (staged:
 * the caller commits). A break is LT_ECORRUPT naming the sequence number,
 * also in bad_seq when not NULL. */
LT_NODISCARD lt_err_t lt_store_verify(lt_store_t *st, bool full, uint64_t *bad_seq);

/* The check every open makes (lt_db_open), DESIGN.md §4: from the last
 * verified point, without signatures, but before the store serves over the
 * last LT_STORE_VERIFY_TAIL records at most, so that a node restarted after
 * a long run of writes opens in bounded time. What lies before that window
 * is the open's gap (lt_store_open_gap): the verified point stays where it
 * was until the gap is checked too, right after the open (the store actor
 * does it a slice at a time, lt_store_verify_range, then calls
 * lt_store_open_gap_done). Errors are lt_store_verify's. */
#define LT_STORE_VERIFY_TAIL 4096
LT_NODISCARD lt_err_t lt_store_open_check(lt_store_t *st, uint64_t *bad_seq);
bool lt_store_open_gap(const lt_store_t *st, uint64_t *from, uint64_t *to);
/* The gap is done with: checked, the verified point moves to where the
 * open's check ended (staged: the caller commits); not (a break found in
 * it), the point stays, so that the next open starts from there. */
LT_NODISCARD lt_err_t lt_store_open_gap_done(lt_store_t *st, bool checked);

/* The same check in steps, for a caller that must not stop for the whole of
 * it (the store actor serves STORE_VERIFY a slice at a time): begin fixes
 * the range (as lt_store_verify would check it, up to the last record now;
 * verify_range: records from..to), step checks up to max records of it,
 * finish checks where the chain goes on (at the last record, or into the
 * record after the range) and, with mark, records the range's end as the
 * verified point (staged: the caller commits). Records added since begin
 * are not checked. Errors are lt_store_verify's. */
typedef struct {
    uint64_t next; /* the next record to check; past end when done */
    uint64_t end;  /* the last record to check (0: none) */
    lt_hash_t prev;
    bool full;
    bool tail; /* end was the store's last record when the check began */
} lt_store_verify_t;
LT_NODISCARD lt_err_t lt_store_verify_begin(lt_store_t *st, bool full, lt_store_verify_t *v,
                                            uint64_t *bad_seq);
LT_NODISCARD lt_err_t lt_store_verify_range(lt_store_t *st, uint64_t from, uint64_t to, bool full,
                                            lt_store_verify_t *v, uint64_t *bad_seq);
LT_NODISCARD lt_err_t lt_store_verify_step(lt_store_t *st, lt_store_verify_t *v, uint64_t max,
                                           uint64_t *bad_seq);
LT_NODISCARD lt_err_t lt_store_verify_finish(lt_store_t *st, lt_store_verify_t *v, bool mark,
                                             uint64_t *bad_seq);
/* Drops the projection and rebuilds it from the witness log (commits). */
LT_NODISCARD lt_err_t lt_store_rebuild(lt_store_t *st);

#endif
