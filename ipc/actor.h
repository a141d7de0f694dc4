/* The actor interface (DESIGN.md §2.1): every service is a set of handlers
 * over a context, written once and run by three runtimes — one process per
 * actor over ZeroMQ (ipc/), all actors of a node in one thread (boards/), and
 * many nodes on a virtual clock (sim/). Actor code includes this header and
 * the portable libraries only: no ZeroMQ, CZMQ, RocksDB, threads or OS
 * headers (tools/check-portable enforces it).
 *
 * Messages. A message goes to an address: a service name ("store"), the same
 * on another node ("store@<node key hex>"), or a reply-to address the runtime
 * put in `from` (a client, another actor). Requests carry a correlation id
 * that their reply echoes; events are one-way. Bodies are opaque bytes (each
 * service's protocol lives in schemas/); the runtime never decodes them, and
 * they are borrowed for the duration of the handler call only.
 *
 * Handlers run to completion, one at a time per actor; an actor never blocks.
 * After a burst of messages, when its mailbox is empty, the runtime calls
 * idle(): the point where an actor finishes work it grouped (the store
 * commits the writes of the burst in one synced batch and only then sends
 * their replies: group commit). */
#ifndef LT_ACTOR_H
#define LT_ACTOR_H

#include "weaver/errors.h"
#include "weaver/log.h"
#include "weaver/types.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LT_ACTOR_ABI 1
/* "service@" + 64 hex digits of a node key, or a runtime's reply-to form. */
#define LT_ADDR_MAX 128
#define LT_NAME_MAX 32

typedef enum {
    LT_MSG_REQUEST = 1, /* expects a reply with the same corr */
    LT_MSG_REPLY = 2,   /* answers corr; status says whether it succeeded */
    LT_MSG_EVENT = 3,   /* one-way (a watch event, a gossip push) */
} lt_msg_kind_t;

typedef struct {
    lt_msg_kind_t kind;
    char from[LT_ADDR_MAX]; /* where a reply goes; filled by the runtime */
    uint64_t corr;          /* request id, echoed by the reply */
    uint32_t type;          /* message type within the service's protocol */
    lt_err_t status;        /* replies: LT_OK or why the request failed */
    const uint8_t *body;    /* borrowed for the handler call */
    size_t len;
} lt_msg_t;

/* What a runtime provides. Every function is called from the actor's own
 * handler, never concurrently. */
typedef struct {
    uint32_t abi; /* LT_ACTOR_ABI */
    /* Queues msg for `to` (msg->from is ignored: the runtime sets it to this
     * actor's address). LT_EFULL when the destination's bounded queue is full
     * (the caller decides: drop, retry on a timer, or fail its request);
     * LT_ENOTFOUND when no such address exists. The body is copied. */
    lt_err_t (*send)(void *rt, const char *to, const lt_msg_t *msg);
    /* Calls the actor's timer handler with `token` after `after_ms`
     * (relative to now()); tokens are the actor's to choose. */
    lt_err_t (*timer_set)(void *rt, uint64_t after_ms, uint64_t token);
    void (*timer_cancel)(void *rt, uint64_t token);
    /* Wall-clock milliseconds: real in production, virtual in tests. */
    uint64_t (*now)(void *rt);
    /* Cryptographically strong random bytes (or seeded, in the simulator). */
    void (*random)(void *rt, void *buf, size_t n);
    /* A fresh correlation id, unique for this actor's lifetime. */
    uint64_t (*next_corr)(void *rt);
} lt_ctx_ops_t;

/* The context an actor's handlers receive. */
typedef struct lt_ctx {
    const lt_ctx_ops_t *ops;
    void *rt;
    const lt_logger_t *log;
    const char *name; /* this actor's service name */
} lt_ctx_t;

typedef struct lt_actor_ops {
    uint32_t abi;     /* LT_ACTOR_ABI */
    const char *name; /* service name: "store", "sync", ... */
    /* Creates the actor's state from its service-specific config. A failure
     * is permanent for this configuration (the process exits with 100). */
    lt_err_t (*start)(lt_ctx_t *ctx, const void *cfg, void **self);
    void (*receive)(void *self, lt_ctx_t *ctx, const lt_msg_t *msg);
    /* Mailbox drained after one or more receive() calls (may be NULL). */
    void (*idle)(void *self, lt_ctx_t *ctx);
    /* A timer set with timer_set fired (may be NULL). */
    void (*timer)(void *self, lt_ctx_t *ctx, uint64_t token);
    /* Releases the state; no more calls follow. */
    void (*stop)(void *self);
} lt_actor_ops_t;

/* Conveniences over the context. */
LT_NODISCARD lt_err_t lt_ctx_request(lt_ctx_t *ctx, const char *to, uint32_t type, const void *body,
                                     size_t len, uint64_t *corr);
LT_NODISCARD lt_err_t lt_ctx_reply(lt_ctx_t *ctx, const lt_msg_t *req, lt_err_t status,
                                   uint32_t type, const void *body, size_t len);
LT_NODISCARD lt_err_t lt_ctx_event(lt_ctx_t *ctx, const char *to, uint32_t type, const void *body,
                                   size_t len);
/* A reply to a request answered later: its `from` and `corr` were kept. */
LT_NODISCARD lt_err_t lt_ctx_reply_to(lt_ctx_t *ctx, const char *to, uint64_t corr, lt_err_t status,
                                      uint32_t type, const void *body, size_t len);
/* A failed reply whose body is the Error message every service protocol
 * shares (`message Error { string message = 1; }`), holding why (cut at
 * LT_ERROR_MSG_MAX bytes). */
#define LT_ERROR_MSG_MAX 255
LT_NODISCARD lt_err_t lt_ctx_reply_error(lt_ctx_t *ctx, const char *to, uint64_t corr,
                                         lt_err_t status, const char *why);
static inline uint64_t lt_ctx_now(const lt_ctx_t *ctx)
{
    return ctx->ops->now(ctx->rt);
}
static inline lt_err_t lt_ctx_timer(lt_ctx_t *ctx, uint64_t after_ms, uint64_t token)
{
    return ctx->ops->timer_set(ctx->rt, after_ms, token);
}

/* Whether `addr` is a well-formed address: a service name of [a-z0-9_-]
 * (1..LT_NAME_MAX-1 characters), optionally followed by "@" and 64 lowercase
 * hex digits naming a node. */
bool lt_addr_valid(const char *addr);

/* Splits "name@<64 hex>" (a sender or destination on another node) into the
 * node's key and, when local is not NULL, the part before "@" (cap bytes).
 * False for a local address or one that does not have that form. */
bool lt_addr_remote(const char *addr, lt_pubkey_t *node, char *local, size_t cap);

#endif
