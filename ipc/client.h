/* liblattice-client: the C API of a Lattice node (DESIGN.md §8). It speaks
 * LTK/1 (kernel/README.md) over one DEALER to <home>/kernel.sock and the
 * store and kernel protocols (schemas/store.proto, schemas/kernel.proto) in
 * the bodies. The `lattice` CLI is written on this API and nothing else.
 *
 * Calls are synchronous: each sends one request and waits for its reply up
 * to the client's timeout (LT_ETIMEDOUT past it). A handle is used by one
 * thread at a time; open one per thread.
 *
 * Errors. Every call returns an lt_err_t; on failure lt_client_errmsg()
 * holds one line for the user (the service's Error message when it sent one,
 * prefixed with the store's short id when the message does not name it;
 * else a sentence naming what failed), e.g. "store 3fa2c1d0: no such key".
 * Codes a caller should expect besides a service's own: LT_EUNAVAILABLE (the
 * service is restarting past its queue; retry later), LT_EFAILED (the
 * service has failed and is not restarted: `lattice node restart` it),
 * LT_ETIMEDOUT (no reply in time), LT_ENOTFOUND from connect (no node runs
 * at that home), LT_EIO (the socket failed), LT_EINVAL for a malformed reply
 * ("malformed reply from store: ...": the client never trusts a reply's
 * sizes) or a bad argument (an empty key, a name too long).
 *
 * Retries. Writes carry a fresh random request id. When a write is answered
 * LT_EUNAVAILABLE (the store died while it was in flight, or is restarting),
 * the client sends it again with the same request id, with backoff, until
 * the timeout: the store applies it at most once and answers a retry of a
 * write it already made with the first reply. So a write that returns LT_OK
 * is durable, and one that fails may or may not have been applied. Reads are
 * retried the same way. A request that stays unanswered for a second
 * (doubling each time) is sent again as well, with the same request id: a
 * request that reached a store process which then died is answered by
 * nobody. Whatever answer comes first, to any of the attempts, ends the
 * call. Other errors are never retried.
 *
 * Memory. Results a call allocates (lists, values) belong to the caller and
 * are released with the matching *_free function; byte values are
 * NUL-terminated for convenience (len excludes the NUL). */
#ifndef LT_CLIENT_H
#define LT_CLIENT_H

#include "weaver/errors.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LT_CLIENT_DEFAULT_TIMEOUT_MS 10000

typedef struct lt_client lt_client_t;

typedef struct {
    uint8_t b[16];
} lt_client_store_id_t;
typedef struct {
    uint8_t b[32];
} lt_client_hash_t;
typedef struct {
    uint8_t b[32];
} lt_client_key_t; /* an Ed25519 public key */

typedef struct {
    const char *home;    /* NULL: lt_client_default_home() */
    uint32_t timeout_ms; /* per call, retries included; 0: LT_CLIENT_DEFAULT_TIMEOUT_MS */
} lt_client_opts_t;

/* Connects to the node at opts->home. Checks that a kernel answers (a
 * KERNEL_PING within the timeout): LT_ENOTFOUND with "no node is running at
 * HOME (start it with: latticed --home HOME)" when the socket is missing or
 * nothing answers. eb (may be NULL) gets the line on failure. */
LT_NODISCARD lt_err_t lt_client_connect(const lt_client_opts_t *opts, lt_client_t **out,
                                        lt_errbuf_t *eb);
void lt_client_close(lt_client_t **c_p);
/* One line about the last failure of this handle ("" after a success). */
const char *lt_client_errmsg(const lt_client_t *c);
/* The home this handle talks to. */
const char *lt_client_home(const lt_client_t *c);
void lt_client_set_timeout(lt_client_t *c, uint32_t timeout_ms);

/* $LATTICE_HOME, else $XDG_DATA_HOME/lattice, else $HOME/.local/share/lattice. */
LT_NODISCARD lt_err_t lt_client_default_home(char *out, size_t cap);

/* ---- the node (requests to "kernel") ---- */

typedef enum {
    LT_SERVICE_STARTING = 1,
    LT_SERVICE_READY = 2,
    LT_SERVICE_BACKOFF = 3,
    LT_SERVICE_FAILED = 4,
    LT_SERVICE_STOPPED = 5,
    LT_SERVICE_WAITING = 6,
} lt_client_service_state_t;

/* "starting", "ready", "backoff", "failed", "stopped", "waiting", "unknown". */
const char *lt_client_service_state_name(int state);

typedef struct {
    char name[32];
    int state; /* lt_client_service_state_t */
    uint32_t pid;
    uint32_t restarts;
    uint32_t proto;
    bool attached;
    bool in_process; /* runs in the kernel's own thread (lattice-nano) */
    uint64_t since_ms;
    uint32_t queued;   /* messages the kernel holds for it */
    uint32_t inflight; /* requests forwarded to it and not answered yet */
    char last_exit[64];
    char fail_reason[160]; /* LT_SERVICE_FAILED: why the supervisor gave up */
} lt_client_service_t;

/* A link to another node (DESIGN.md §7), as the kernel sees it. */
typedef struct {
    lt_client_key_t key;
    char address[128]; /* outbound: where it was opened to; inbound: "" */
    bool outbound;     /* this node opened it */
    bool connected;    /* outbound: handshake done; inbound: heard within 10 s */
    bool joining;      /* inbound: admitted for the join exchange only */
    uint64_t since_ms, last_seen_ms, bytes_in, bytes_out;
} lt_client_link_t;

typedef struct {
    lt_client_key_t node_key;
    char home[1024];
    uint64_t uptime_ms;
    uint32_t pid;
    char version[32];
    size_t nservices;
    lt_client_service_t services[16];
    size_t nlisten; /* where the node accepts peer links (latticed --listen), as bound */
    char listen[8][128];
    size_t nlinks;
    lt_client_link_t links[32];
} lt_client_node_status_t;

LT_NODISCARD lt_err_t lt_client_ping(lt_client_t *c);
LT_NODISCARD lt_err_t lt_client_node_status(lt_client_t *c, lt_client_node_status_t *out);
/* services[] up to cap; *n = how many the node has (may exceed cap). */
LT_NODISCARD lt_err_t lt_client_node_services(lt_client_t *c, lt_client_service_t *services,
                                              size_t cap, size_t *n);
LT_NODISCARD lt_err_t lt_client_node_restart(lt_client_t *c, const char *service);
/* Asks the node to stop and waits, up to the timeout, until the kernel
 * process has exited (its services stopped, its lock released: a new
 * latticed may start on the home at once). LT_ETIMEDOUT when it is still
 * running at the deadline. */
LT_NODISCARD lt_err_t lt_client_node_stop(lt_client_t *c);

/* ---- stores ---- */

typedef enum {
    LT_CLIENT_STORE_KV = 1,
    LT_CLIENT_STORE_LOG = 2,
} lt_client_store_type_t;

typedef struct {
    lt_client_store_id_t id;
    int type; /* lt_client_store_type_t */
    char name[257];
} lt_client_store_t;

typedef struct {
    lt_client_store_id_t id;
    int type;
    char name[257];
    uint64_t witnessed;
    uint64_t floating;
    uint32_t forks;
    uint32_t peers;
    uint32_t children;
} lt_client_store_info_t;

/* name may be NULL or ""; parent may be NULL. */
LT_NODISCARD lt_err_t lt_client_store_create(lt_client_t *c, lt_client_store_type_t type,
                                             const char *name, const lt_client_store_id_t *parent,
                                             lt_client_store_id_t *out);
/* *out is an array of *n stores (free with lt_client_free). */
LT_NODISCARD lt_err_t lt_client_store_list(lt_client_t *c, lt_client_store_t **out, size_t *n);
LT_NODISCARD lt_err_t lt_client_store_info(lt_client_t *c, const lt_client_store_id_t *id,
                                           lt_client_store_info_t *out);
LT_NODISCARD lt_err_t lt_client_store_remove(lt_client_t *c, const lt_client_store_id_t *id);
/* Checks the store's whole witness chain and the signature of every
 * intention in it (`lattice store verify`); *records is how many records
 * were checked. The store checks a slice at a time and answers at the end:
 * a large store takes its time (some 60 us a record), so give the handle a
 * timeout to match (lt_client_set_timeout). LT_ECORRUPT with the record
 * named in lt_client_errmsg when the chain or a signature is broken. One
 * verify runs at a time on a node: a second waits for the first (until the
 * timeout). */
LT_NODISCARD lt_err_t lt_client_store_verify(lt_client_t *c, const lt_client_store_id_t *id,
                                             uint64_t *records);
/* A full hex id, a unique hex prefix, or a name -> id. LT_ENOTFOUND when
 * nothing matches, LT_EEXIST when several stores do. */
LT_NODISCARD lt_err_t lt_client_store_resolve(lt_client_t *c, const char *query,
                                              lt_client_store_id_t *out);

/* ---- core:kvstore ---- */

typedef struct {
    uint8_t *key; /* NUL-terminated copies */
    size_t key_len;
    uint8_t *value;
    size_t value_len;
    bool conflicted;
    bool deleted; /* list only: a visible delete of a conflicted key */
} lt_client_item_t;

typedef struct {
    lt_client_hash_t hash;
    lt_client_key_t author;
    uint64_t wall_ms;
    uint32_t counter;
    bool tombstone;
    uint8_t *value;
    size_t value_len;
} lt_client_head_t;

typedef struct {
    const uint8_t *key;
    size_t key_len;
    const uint8_t *value; /* ignored when del */
    size_t value_len;
    bool del;
} lt_client_batch_entry_t;

/* Writes return the hash of the intention that carries them. */
LT_NODISCARD lt_err_t lt_client_put(lt_client_t *c, const lt_client_store_id_t *store,
                                    const void *key, size_t key_len, const void *value,
                                    size_t value_len, lt_client_hash_t *hash);
/* LT_ENOTFOUND when the key is absent or deleted. Release with
 * lt_client_item_clear. */
LT_NODISCARD lt_err_t lt_client_get(lt_client_t *c, const lt_client_store_id_t *store,
                                    const void *key, size_t key_len, lt_client_item_t *out);
LT_NODISCARD lt_err_t lt_client_del(lt_client_t *c, const lt_client_store_id_t *store,
                                    const void *key, size_t key_len, lt_client_hash_t *hash);
/* Every key starting with prefix (may be empty), in key order. Release with
 * lt_client_items_free. */
LT_NODISCARD lt_err_t lt_client_list(lt_client_t *c, const lt_client_store_id_t *store,
                                     const void *prefix, size_t prefix_len, lt_client_item_t **out,
                                     size_t *n);
/* One intention for all entries (n >= 1). */
LT_NODISCARD lt_err_t lt_client_batch(lt_client_t *c, const lt_client_store_id_t *store,
                                      const lt_client_batch_entry_t *entries, size_t n,
                                      lt_client_hash_t *hash);
/* Every head of key, the winner first. Release with lt_client_heads_free. */
LT_NODISCARD lt_err_t lt_client_inspect(lt_client_t *c, const lt_client_store_id_t *store,
                                        const void *key, size_t key_len, lt_client_head_t **out,
                                        size_t *n);

void lt_client_item_clear(lt_client_item_t *item);
void lt_client_items_free(lt_client_item_t *items, size_t n);
void lt_client_heads_free(lt_client_head_t *heads, size_t n);

/* ---- core:logstore ---- */

typedef struct {
    uint64_t wall_ms;
    uint32_t counter;
    lt_client_key_t author;
    lt_client_hash_t hash;
    uint8_t *text; /* NUL-terminated copy */
    size_t text_len;
} lt_client_log_entry_t;

LT_NODISCARD lt_err_t lt_client_append(lt_client_t *c, const lt_client_store_id_t *store,
                                       const void *text, size_t len, lt_client_hash_t *hash);
/* The last `tail` entries (0: all), oldest first. */
LT_NODISCARD lt_err_t lt_client_read(lt_client_t *c, const lt_client_store_id_t *store,
                                     uint64_t tail, lt_client_log_entry_t **out, size_t *n);
void lt_client_log_entries_free(lt_client_log_entry_t *entries, size_t n);

/* ---- streams: watch and follow ----
 *
 * A stream is a request that the store acknowledges, then events carrying the
 * request's corr. Start one, then take events with lt_client_next_event (it
 * also sees events of every stream this handle started), stop it with
 * lt_client_stream_stop. A handle may hold several streams; ordinary calls
 * in between keep events that arrive meanwhile for next_event. */

typedef enum {
    LT_CLIENT_EV_KV_CHANGE = 1,
    LT_CLIENT_EV_LOG_ENTRY = 2,
} lt_client_event_kind_t;

typedef struct {
    int kind;        /* lt_client_event_kind_t */
    uint64_t stream; /* the id lt_client_watch/follow returned */
    lt_client_store_id_t store;
    /* KV_CHANGE */
    uint8_t *key;
    size_t key_len;
    uint8_t *value; /* empty when deleted */
    size_t value_len;
    bool deleted;
    bool conflicted;
    /* both: the intention that made the change */
    lt_client_hash_t hash;
    /* LOG_ENTRY */
    lt_client_log_entry_t entry;
} lt_client_event_t;

LT_NODISCARD lt_err_t lt_client_watch(lt_client_t *c, const lt_client_store_id_t *store,
                                      const void *prefix, size_t prefix_len, uint64_t *stream);
LT_NODISCARD lt_err_t lt_client_follow(lt_client_t *c, const lt_client_store_id_t *store,
                                       uint64_t *stream);
/* Waits up to timeout_ms (0: do not wait; UINT32_MAX: forever) for the next
 * event. LT_ETIMEDOUT when none came. LT_EUNAVAILABLE (once) when the store
 * or the kernel restarted since streams were started: those streams are
 * gone and forgotten (start them again); the client notices it by asking
 * the kernel for its status about once a second while it waits here with
 * streams open. LT_EFULL (once) when events were dropped because more than
 * 4096 (or 64 MiB) waited: the oldest go first; the next call goes on with
 * the rest. LT_EINVAL for an event that does not decode (it is consumed).
 * Release with lt_client_event_clear. */
LT_NODISCARD lt_err_t lt_client_next_event(lt_client_t *c, uint32_t timeout_ms,
                                           lt_client_event_t *out);
void lt_client_event_clear(lt_client_event_t *ev);
/* Stops a stream. The handle forgets it (and drops its queued events)
 * whatever the store answers; a store that no longer knows it (it
 * restarted) is LT_OK. LT_ENOTFOUND for a stream this handle does not hold. */
LT_NODISCARD lt_err_t lt_client_stream_stop(lt_client_t *c, uint64_t stream);
/* A file descriptor that becomes readable when a message may be waiting
 * (ZMQ_FD semantics: edge-triggered), for a caller's own poll loop (the
 * REPL). Every call of the handle may read messages and queue events
 * without the fd firing again, so: call next_event with 0 until it returns
 * LT_ETIMEDOUT after the fd fires and after any other call, before polling
 * again, and at least once a second while streams are open (the restart
 * check above runs inside next_event). */
int lt_client_fd(lt_client_t *c);

/* ---- peers (DESIGN.md §7) ---- */

typedef enum {
    LT_CLIENT_PEER_UNSET = 0,
    LT_CLIENT_PEER_ACTIVE = 1,
    LT_CLIENT_PEER_REVOKED = 2,
    LT_CLIENT_PEER_DORMANT = 3,
} lt_client_peer_state_t;

/* "active", "revoked", "dormant", "unset". */
const char *lt_client_peer_state_name(int state);

typedef struct {
    lt_client_key_t key;
    int state;      /* lt_client_peer_state_t */
    bool inherited; /* a child store's: an active peer of its parent, not in its own table */
} lt_client_peer_t;

#define LT_CLIENT_INVITE_SECRET_LEN 32
#define LT_CLIENT_INVITE_MAX_ADDRS  8
#define LT_CLIENT_INVITE_ADDR_MAX   127 /* bytes of one address */

/* What an invite token carries: enough for a node with nothing to find the
 * inviter, prove the secret and name the store. */
typedef struct {
    lt_client_store_id_t store;
    lt_client_key_t inviter; /* the inviting node's key */
    uint8_t secret[LT_CLIENT_INVITE_SECRET_LEN];
    uint64_t expires_ms; /* wall clock, ms since the epoch */
    size_t naddrs;
    char addrs[LT_CLIENT_INVITE_MAX_ADDRS][LT_CLIENT_INVITE_ADDR_MAX + 1]; /* tcp://host:port */
} lt_client_invite_t;

/* Opens an invite to store, valid for ttl_ms (0: 24 hours): fills *out with
 * the store, this node's key, the fresh secret, the expiry and the
 * addresses the node accepts links on (lt_client_node_status_t.listen;
 * none when it listens nowhere: a joiner could not reach it). Only the
 * secret's hash is written to the store. */
LT_NODISCARD lt_err_t lt_client_peer_invite(lt_client_t *c, const lt_client_store_id_t *store,
                                            uint64_t ttl_ms, lt_client_invite_t *out);
/* The peers of store's system table, revoked ones included, in key order;
 * then, for a child store, the peers it inherits from its parent (active,
 * `inherited` set), in key order. *out is an array of *n (free with
 * lt_client_free). */
LT_NODISCARD lt_err_t lt_client_peer_list(lt_client_t *c, const lt_client_store_id_t *store,
                                          lt_client_peer_t **out, size_t *n);
/* Revokes a peer of store (LT_ENOTFOUND: not a peer; LT_EINVAL: this node). */
LT_NODISCARD lt_err_t lt_client_peer_revoke(lt_client_t *c, const lt_client_store_id_t *store,
                                            const lt_client_key_t *peer, lt_client_hash_t *hash);

/* What one reconciliation with a peer did (lt_client_sync). */
typedef struct {
    lt_client_key_t peer;
    bool reached;        /* the session ran to its end */
    char error[161];     /* why not (or why fetching failed); "" otherwise */
    uint64_t received;   /* intentions fetched from the peer and ingested here */
    uint64_t peer_lacks; /* intentions the peer lacked (it fetches them itself) */
    uint32_t rounds;     /* session messages this node sent */
    uint64_t bytes;      /* session bytes both ways */
} lt_client_sync_peer_t;

/* Reconciles store with each of its active peers now (the sync service,
 * DESIGN.md §7), each side then fetching what it lacks. *out is an array of
 * *n reports, one per peer but this node, in key order (free with
 * lt_client_free; NULL when the store has no other peer). A peer that
 * cannot be reached is a report with reached false, not an error. */
LT_NODISCARD lt_err_t lt_client_sync(lt_client_t *c, const lt_client_store_id_t *store,
                                     lt_client_sync_peer_t **out, size_t *n);

/* Joins the store of an invite (DESIGN.md §7): links to the inviting node
 * at the token's addresses, presents the secret to its store, which records
 * this node as an active peer, then holds the store here (empty until its
 * history arrives; the inviter an active peer) and sets *out to its id.
 * LT_EREFUSED for an expired or used token or a revoked node (the inviter's
 * reason in lt_client_errmsg), LT_ENOTFOUND for a token the inviter does not
 * know, LT_EEXIST when this node holds the store already, LT_EINVAL for this
 * node's own token or one without addresses, LT_EUNAVAILABLE / LT_ETIMEDOUT
 * when the inviter cannot be reached within the timeout. */
LT_NODISCARD lt_err_t lt_client_peer_join(lt_client_t *c, const lt_client_invite_t *inv,
                                          lt_client_store_id_t *out);

/* Reports progress of long work: done of total (total may grow). */
typedef void (*lt_client_progress_fn)(void *ctx, uint64_t done, uint64_t total);
/* Clones store from node peer: this node's sync service reads the peer's
 * witness log in chunks, in witness order, and ingests each chunk in one
 * commit, until this node holds all the peer held (schemas/sync.proto,
 * Clone); this call follows it. *count: intentions cloned. fn (may be NULL)
 * as the clone goes on (about every chunk, at least every 2 s). The store
 * must be held here (lt_client_peer_join) and this node an active peer
 * there (LT_EREFUSED otherwise). Interrupted, the clone goes on in the sync
 * service; calling again follows it. */
LT_NODISCARD lt_err_t lt_client_clone(lt_client_t *c, const lt_client_store_id_t *store,
                                      const lt_client_key_t *peer, lt_client_progress_fn fn,
                                      void *ctx, uint64_t *count);

/* The one-line text form of an invite: "lt1." and URL-safe base64 of the
 * fields. out must hold LT_CLIENT_INVITE_TOKEN_MAX bytes. */
#define LT_CLIENT_INVITE_TOKEN_MAX 1536
LT_NODISCARD lt_err_t lt_client_invite_token_encode(const lt_client_invite_t *inv, char *out,
                                                    size_t cap);
/* Parses a token strictly (LT_EINVAL with a reason in msg for anything
 * else: wrong prefix or version, bad base64, a field cut short, trailing
 * bytes, an address that is not printable). msg may be NULL. */
LT_NODISCARD lt_err_t lt_client_invite_token_decode(const char *token, lt_client_invite_t *out,
                                                    char *msg, size_t msg_cap);

/* ---- intentions ---- */

typedef struct {
    uint64_t seq;
    lt_client_hash_t hash;
    lt_client_key_t author;
    uint64_t wall_ms;
    uint32_t counter;
    lt_client_hash_t store_prev; /* all zero: the author's first */
    size_t ndeps;
    lt_client_hash_t deps[16];
    char summary[129];
} lt_client_history_item_t;

/* The witnessed intentions, newest first, at most limit (0: 50). */
LT_NODISCARD lt_err_t lt_client_history(lt_client_t *c, const lt_client_store_id_t *store,
                                        uint32_t limit, lt_client_history_item_t **out, size_t *n);

typedef struct {
    lt_client_hash_t hash;
    uint32_t version;
    lt_client_key_t author;
    uint64_t wall_ms;
    uint32_t counter;
    lt_client_store_id_t store;
    lt_client_hash_t store_prev;
    size_t ndeps;
    lt_client_hash_t deps[16];
    uint8_t *ops; /* the raw ops payload (schemas/ops.proto UniversalOp) */
    size_t ops_len;
    uint8_t signature[64];
    uint64_t seq; /* 0 while floating */
    char summary[129];
    int store_type; /* lt_client_store_type_t of its store (0: unknown), for ops_sexpr */
} lt_client_intention_t;

/* An intention held by the store, by full hash, with its store's type (one
 * more request). Release with lt_client_intention_clear. */
LT_NODISCARD lt_err_t lt_client_debug(lt_client_t *c, const lt_client_store_id_t *store,
                                      const lt_client_hash_t *hash, lt_client_intention_t *out);
void lt_client_intention_clear(lt_client_intention_t *in);

/* The ops payload of an intention (UniversalOp, schemas/ops.proto) as one
 * S-expression with the state machine's ops decoded:
 *   (kv (put "k" "v") (del "x"))                  a KvOp (core:kvstore)
 *   (log (append "text"))                         a LogEntry (core:logstore)
 *   (system (peer #x<key> active))                system ops, whatever the store:
 *   (system (invite #x<secret hash> open <expires_ms> [#x<invitee>]))
 *   (system (child #x<store id> "core:kvstore" "name" active))
 *   (system (name "docs"))  (system (strategy independent))
 *   (app #x<hex>)                                 app bytes of an unknown state machine
 * Strings are quoted with \" \\ \n \t \r escapes when they are valid UTF-8
 * without other control characters; any other bytes appear as #x<hex>.
 *
 * The app bytes alone do not say which state machine they are for (a KvOp
 * and a LogEntry can be the same bytes), so the caller names the store's
 * type: LT_CLIENT_STORE_KV, LT_CLIENT_STORE_LOG, or 0 when it does not
 * know it (app bytes are then shown as (app #x...), never guessed).
 * lt_client_debug fills lt_client_intention_t.store_type for this.
 * *out is malloc'd (free()). LT_EPAYLOAD when the payload does not decode
 * (for that type), LT_ETYPE for another store_type. */
LT_NODISCARD lt_err_t lt_client_ops_sexpr(const uint8_t *ops, size_t len, int store_type,
                                          char **out);

/* Releases an array a call returned (stores, history). */
void lt_client_free(void *p);

/* ---- hex helpers ---- */

/* Lowercase hex of n bytes into out (2n+1 bytes). */
void lt_client_hex(const uint8_t *b, size_t n, char *out);
/* Parses exactly 2n hex digits. */
LT_NODISCARD lt_err_t lt_client_unhex(const char *s, uint8_t *b, size_t n);

#endif
