/* Peer links (DESIGN.md §7): the TCP side of the kernel. latticed --listen
 * binds a ROUTER there with CURVE encryption, keyed by the X25519 form of
 * the node's Ed25519 identity, behind a ZAP handler the kernel itself
 * serves (bound before any CURVE socket exists: libzmq's CURVE server
 * admits every client when no handler is bound, and the handler lives and
 * dies with the kernel's thread).
 *
 * Admission (ZAP): a connecting CURVE key is admitted when it is the X25519
 * form of an active peer of a store this node holds. An unknown key is
 * admitted for the join exchange alone, at most LT_LINKS_JOINS_PER_MIN a
 * minute and only while the node has an open invite: ZAP sees nothing but
 * the key, so the joiner presents the invite in its first message and
 * nothing else is taken from that link. The store sends the sets
 * (KERNEL_ADMIT) when it registers and after each change; until then every
 * key is refused. Refusals are logged at most once a second.
 *
 * Outbound links (KERNEL_LINK): a link opened as an admitted peer's (renew)
 * is recorded in <home>/links (links_file.h) and opened again when the
 * kernel starts (lt_links_restore), since the far side may have no way to
 * dial this node; a revoked peer is forgotten. Each time a link to a peer
 * comes up, the local service LT_LINKS_UP_SERVICE is told (KERNEL_LINK_UP)
 * when it is registered. */
#ifndef LT_KERNEL_LINKS_H
#define LT_KERNEL_LINKS_H

#include "ipc/frame.h"
#include "kernel/config.h"
#include "kernel/links_file.h"
#include "weaver/errors.h"
#include "weaver/identity.h"
#include "weaver/types.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LT_LINKS_MAX_ADMITTED 4096
/* The one service whose KERNEL_ADMIT the kernel takes. */
#define LT_LINKS_ADMIT_SERVICE "store"
/* The one service the kernel tells when a link to a peer comes up
 * (KERNEL_LINK_UP events). */
#define LT_LINKS_UP_SERVICE "sync"
/* Join admissions (an unknown key presenting an invite) per minute. */
#define LT_LINKS_JOINS_PER_MIN 10

/* The ZAP user id of a join connection: this prefix, then its CURVE
 * (X25519) key in hex; an admitted peer's is its Ed25519 key in hex. */
#define LT_LINKS_JOIN_USER "join:"

/* Outbound links at most (one per remote node). */
#define LT_LINKS_MAX_OUT 64
/* The store request type a join link may send, and nothing else
 * (schemas/store.proto PEER_JOIN). */
#define LT_LINKS_JOIN_TYPE 53

/* Requests sent over an outbound link and not answered yet, kept so that a
 * link the far side refuses can answer them at once (at most this many;
 * older ones are forgotten and left to the requester's deadline). */
#define LT_LINKS_PENDING 32

#define LT_LINKS_REFUSED_KEPT 8
#define LT_LINKS_REFUSED_MS   30000

typedef struct {
    char from[LT_ADDR_MAX]; /* the local requester */
    uint64_t corr;
    uint32_t type;
    char to[LT_ADDR_MAX]; /* the destination, name@node */
} lt_links_pending_t;

/* A link this node opened to another (a DEALER, CURVE client). A recorded
 * peer's link that the far side refused waits with no socket (sock and
 * monitor NULL) until retry_ms, then opens again. */
typedef struct {
    lt_pubkey_t key;
    void *sock;
    void *monitor;     /* PAIR on the socket's monitor: handshake outcomes */
    uint64_t since_ms; /* wall ms it was opened */
    char addr[LT_KCONFIG_ADDR_MAX];
    bool peer;         /* opened as an admitted peer's (renew), not to join */
    bool up;           /* a handshake succeeded */
    uint64_t retry_ms; /* no socket: monotonic time to open it again */
    uint32_t refusals; /* refused in a row: the retry backoff step */
    uint64_t up_ms, last_seen_ms, bytes_in, bytes_out;
    lt_links_pending_t pending[LT_LINKS_PENDING];
    size_t npending;
} lt_links_out_t;

/* A node that linked to this one (the listening side), as last seen. */
#define LT_LINKS_MAX_IN 64
typedef struct {
    lt_pubkey_t key;
    bool joining;
    uint64_t first_ms, last_seen_ms, bytes_in, bytes_out;
} lt_links_in_t;

/* One admitted peer: its Ed25519 key and the X25519 form CURVE shows. */
typedef struct {
    uint8_t x25519[32];
    lt_pubkey_t key;
} lt_links_peer_t;

typedef struct {
    void *zap;  /* REP on inproc://zeromq.zap.01 */
    void *peer; /* ROUTER, CURVE server, on the --listen addresses */
    char bound[LT_KCONFIG_MAX_LISTEN][LT_KCONFIG_ADDR_MAX]; /* as bound (PORT 0 resolved) */
    size_t nbound;
    lt_links_peer_t *admitted; /* sorted by x25519 */
    size_t nadmitted;
    lt_hash_t *invites; /* hashes of open invites' secrets, sorted */
    size_t ninvites;
    /* Keys revoked in a store held here and active in none: by X25519 form
     * (ZAP: never a joiner) and by key (links: nothing to or from them). */
    uint8_t (*revoked)[32];
    lt_pubkey_t *revoked_keys;
    size_t nrevoked;
    bool told;               /* the store has sent a set since the kernel started */
    uint64_t join_window_ms; /* monotonic start of the current minute of joins */
    uint32_t joins_in_window;
    uint64_t refused;                     /* ZAP refusals since start */
    uint64_t refused_logged;              /* refusals when the last line was logged */
    uint64_t refuse_log_ms;               /* monotonic time of that line */
    uint64_t dropped;                     /* link messages refused (malformed, not allowed) */
    char drop_last_why[128];              /* the reason of the last logged drop */
    uint64_t drop_log_ms, drop_window_ms; /* monotonic: that line; this second's start */
    uint32_t drop_lines;                  /* lines logged this second */
    /* The node's own keys: its Ed25519 key (the routing id of its outbound
     * links, so the far side knows who connects) and its CURVE pair. */
    lt_pubkey_t self;
    uint8_t curve_pk[32], curve_sk[32];
    bool keyed;
    lt_links_out_t out[LT_LINKS_MAX_OUT];
    size_t nout;
    unsigned monitor_seq;              /* names the monitors' inproc endpoints */
    lt_links_in_t in[LT_LINKS_MAX_IN]; /* least recently heard replaced first */
    size_t nin;
    /* Admitted peers ZAP let connect (a new connection or a reconnection)
     * and not heard from since: the first message on such a connection
     * tells LT_LINKS_UP_SERVICE. Oldest dropped first when full. */
    lt_pubkey_t fresh[LT_LINKS_MAX_IN];
    size_t nfresh;
    /* The peers recorded in <home>/links (the links to open at start). */
    lt_links_file_t kept;
    uint64_t beat_ms; /* monotonic time of the last heartbeat round */
    /* Nodes whose far side refused a link lately (a join link, closed at
     * once): a request to such a node gets the refusal, not "no link",
     * while LT_LINKS_REFUSED_MS last. Oldest replaced first. */
    struct {
        lt_pubkey_t key;
        uint64_t until_ms; /* monotonic */
    } refused_lately[LT_LINKS_REFUSED_KEPT];
    size_t next_refused;
} lt_links_t;

struct lt_kernel;

/* Keeps the node's CURVE key pair (from its identity id, whose Ed25519
 * secret is not kept) and, with --listen, binds the ZAP handler and the link
 * socket on every address. On failure nothing stays bound and eb says which
 * address and why. */
LT_NODISCARD lt_err_t lt_links_open(struct lt_kernel *k, const lt_identity_t *id, lt_errbuf_t *eb);
void lt_links_close(struct lt_kernel *k);
/* Whether the link sockets exist (the poll loop watches them then). */
bool lt_links_active(const struct lt_kernel *k);
/* Serves pending ZAP requests and routes what links bring (at most budget
 * messages per socket): a message from node K, sent by its local address
 * SRC, reaches its destination here from SRC@K. */
void lt_links_recv(struct lt_kernel *k, int budget);
/* Heartbeats on the links (every LT_LINKS_HEARTBEAT_MS, both directions),
 * so each side knows whether the other is there; returns the next
 * monotonic time it has work to do. */
#define LT_LINKS_HEARTBEAT_MS 3000
uint64_t lt_links_tick(struct lt_kernel *k, uint64_t now_ms);
/* Fills items with the sockets to poll (at most cap); returns how many. */
size_t lt_links_pollitems(struct lt_kernel *k, void *items, size_t cap);
/* The links for node status: at most cap into out, both directions. */
struct _lattice_kernel_LinkInfo;
size_t lt_links_info(const struct lt_kernel *k, struct _lattice_kernel_LinkInfo *out, size_t cap);
/* Opens (or keeps) an outbound link to node key at the given addresses;
 * renew: close the one there is first (what waited on it is dropped). A
 * link opened with renew is a peer's: it is recorded in <home>/links (its
 * addresses replace those recorded for the key; a failure to write is a
 * warning, the link stays open), and its coming up is told to
 * LT_LINKS_UP_SERVICE. Without renew it is the one-shot join link: neither. */
LT_NODISCARD lt_err_t lt_links_connect(struct lt_kernel *k, const lt_pubkey_t *key,
                                       const char (*addrs)[LT_KCONFIG_ADDR_MAX], size_t naddrs,
                                       bool renew, lt_errbuf_t *eb);
/* Opens a link, as KERNEL_LINK with renew does, to every peer recorded in
 * <home>/links, and logs "re-linking to N peers". Call after lt_links_open.
 * A file that cannot be read or is not a links file is one warning and is
 * ignored (the next recorded link replaces it); skipped lines and peers
 * that cannot be linked to are warnings too. Never fails the start. */
void lt_links_restore(struct lt_kernel *k);
/* Tells LT_LINKS_UP_SERVICE (KERNEL_LINK_UP) of every link to a peer that is
 * up now: called when that service registers. */
void lt_links_announce(struct lt_kernel *k);
/* Sends f (f->addr: the local sender) to dst_local on node key, over the
 * link to it. 0, or an errno (EHOSTUNREACH: no link to that node). */
int lt_links_send(struct lt_kernel *k, const lt_pubkey_t *key, const char *dst_local,
                  const lt_frame_t *f);
/* Whether an Ed25519 key may open a link. */
bool lt_links_admits(const struct lt_kernel *k, const lt_pubkey_t *key);
/* Replaces the admitted set with a kernel.proto AdmitSet body (from the
 * store). LT_EINVAL (eb says why) for a body that does not decode, a key or
 * hash of the wrong size, or more than LT_LINKS_MAX_ADMITTED of either; the
 * set is then unchanged. The links to and from a revoked key are closed
 * and it leaves <home>/links. */
LT_NODISCARD lt_err_t lt_links_set_admitted(struct lt_kernel *k, const uint8_t *body, size_t len,
                                            lt_errbuf_t *eb);

/* Whether node `to` ("service@<key>") refused this node's link within the
 * last LT_LINKS_REFUSED_MS; its reason into why when it did. */
bool lt_links_refused_lately(struct lt_kernel *k, const char *to, char *why, size_t cap);

#endif
