/* The cooperative runtime (DESIGN.md §2.1, runtime 2): every actor of one
 * node in one thread, scheduled run-to-completion from a loop the host owns.
 * Modelled on Contiki's process table and RIOT's msg queues: a static table
 * of actors, a fixed-size mailbox per actor, step() delivers one message, and
 * a full mailbox is LT_EFULL to the sender, who decides what to do.
 *
 * Memory. lt_coop_new allocates everything the runtime will ever use: the
 * actor table, one ring of mailbox_cap slots per table entry, each slot with
 * a body buffer of max_body bytes, and the timer table. Nothing on the
 * message path allocates (what an actor's own start() allocates is its
 * business): a send copies into a slot, a delivery lends the slot to the
 * handler. A message stays in its slot until its handler returns, so it counts
 * against the mailbox while it is being handled.
 *
 * Addresses. An actor's address is its service name. "name@<node key hex>"
 * goes to the host's remote_send hook (the network), unless it names this
 * node (config.node). "ext:<anything>" is an external client (a test, the
 * host program, a CLI connection): messages to it go to the host's external
 * hook at send time.
 *
 * Scheduling is deterministic: the same sequence of host calls, the same
 * clock readings and the same random bytes give the same sequence of handler
 * calls. Delivery is round-robin over the actors that have mail; an actor's
 * idle() runs right after the delivery that drains its mailbox, so work
 * grouped over a burst (the store's group commit) is finished once per burst.
 * Timers fire from lt_coop_advance in deadline order, ties in the order they
 * were set.
 *
 * Everything runs on the host's thread. The host calls lt_coop_* from its
 * loop, never from inside a handler or a hook (asserted), except
 * lt_coop_inject, which a hook may call (a loopback client, say), and the
 * read-only queries. */
#ifndef LT_COOP_H
#define LT_COOP_H

#include "ipc/actor.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Used for a config field left at 0. */
#define LT_COOP_DEFAULT_MAILBOX    32   /* messages per actor */
#define LT_COOP_DEFAULT_MAX_BODY   4096 /* bytes per message */
#define LT_COOP_DEFAULT_MAX_ACTORS 8
#define LT_COOP_DEFAULT_MAX_TIMERS 32 /* for the whole runtime */

/* Prefix of the reply-to addresses of external clients. */
#define LT_COOP_EXT_PREFIX "ext:"

typedef struct lt_coop lt_coop_t;

typedef struct {
    /* Wall-clock milliseconds (required). A virtual clock is a function that
     * reads a variable the host advances. */
    uint64_t (*now)(void *ctx);
    void *now_ctx;
    /* Random bytes (required): libsodium's randombytes_buf in production, a
     * seeded generator in tests and the simulator. */
    void (*random)(void *ctx, void *buf, size_t n);
    void *random_ctx;
    /* Handed to every actor as ctx->log and used by the runtime (tag "coop").
     * Borrowed: it must outlive the runtime. NULL drops everything. */
    const lt_logger_t *log;
    /* This node's key in 64 lowercase hex digits, or NULL. "name@<node>"
     * is then delivered locally instead of through remote_send. Copied. */
    const char *node;
    /* Sizes of the static tables; 0 selects the LT_COOP_DEFAULT_*. */
    size_t mailbox_cap; /* messages an actor's mailbox holds */
    size_t max_body;    /* largest body a message may carry, in bytes */
    size_t max_actors;  /* actors hosted at once */
    size_t max_timers;  /* timers pending at once, all actors together */
    /* Messages to "name@<node key>" (may be NULL: such a send is then
     * LT_ENOTFOUND). Called at send time; msg->from is the sending actor's
     * name and the body is valid for the call only. Its result is the
     * sender's (LT_EFULL for a congested link, say). */
    lt_err_t (*remote_send)(void *ctx, const char *to, const lt_msg_t *msg);
    void *remote_ctx;
    /* Messages to "ext:..." addresses (may be NULL: such a send is then
     * LT_ENOTFOUND). Same terms as remote_send. */
    lt_err_t (*external)(void *ctx, const char *to, const lt_msg_t *msg);
    void *external_ctx;
    /* Messages to every other address (may be NULL): a name on this node
     * that no hosted actor holds ("kernel", a service run as a process) or
     * an address form this runtime does not parse itself (a kernel's
     * "client:..." reply-to addresses). Same terms as remote_send. Set when
     * the runtime lives inside a kernel that routes the rest (lattice-nano);
     * without it such a send is LT_ENOTFOUND for a name and LT_EINVAL for
     * anything else. */
    lt_err_t (*host)(void *ctx, const char *to, const lt_msg_t *msg);
    void *host_ctx;
} lt_coop_config_t;

/* Counters of one actor; they start at zero when it is added. */
typedef struct {
    uint64_t delivered;    /* receive() calls */
    uint64_t dropped_full; /* messages refused (LT_EFULL) because its mailbox was full */
    uint64_t idles;        /* idle() calls (bursts), counted even when idle is NULL */
    uint64_t timers_fired; /* timer() calls */
    size_t pending;        /* messages in its mailbox now */
} lt_coop_actor_stats_t;

/* Counters of the runtime. */
typedef struct {
    uint64_t steps;        /* messages delivered, all actors together */
    uint64_t dropped_full; /* LT_EFULL refusals, all actors together */
    uint64_t timers_fired;
    size_t actors;  /* actors hosted now */
    size_t pending; /* messages waiting in all mailboxes */
    size_t timers;  /* timers set and not yet fired */
    /* Bytes of mailbox bodies lt_coop_new allocated (every slot of every
     * actor, max_body each): memory that is resident only as far as
     * messages have reached into it. */
    size_t body_bytes;
} lt_coop_stats_t;

/* Creates a runtime with no actors and allocates all of its tables.
 * LT_EINVAL for a missing now or random hook, a malformed node key or sizes
 * whose product overflows; LT_ENOMEM. */
LT_NODISCARD lt_err_t lt_coop_new(const lt_coop_config_t *cfg, lt_coop_t **out);

/* Stops every actor (the most recently added first), then frees the runtime.
 * Pending messages and timers are dropped. Sets *rt_p to NULL; NULL or a
 * pointer to NULL is a no-op. */
void lt_coop_destroy(lt_coop_t **rt_p);

/* Registers an actor under ops->name and starts it: calls ops->start with a
 * context whose ops are this runtime's, and cfg passed through. The actor is
 * addressable during start (it may send and set timers there). ops is
 * borrowed and must outlive the actor. LT_EINVAL for a wrong ABI, a missing
 * start or receive hook or a malformed name; LT_EEXIST when the name is taken;
 * LT_EFULL when the table is full; else start's result (on failure nothing
 * of the actor is left: its timers and mail are dropped, stop is not
 * called). */
LT_NODISCARD lt_err_t lt_coop_add(lt_coop_t *rt, const lt_actor_ops_t *ops, const void *cfg);

/* Stops the actor `name` (calls its stop once) and frees its slot. The
 * requests still in its mailbox are answered LT_EUNAVAILABLE (an empty
 * body), as a kernel answers those held by a process that went away; with a
 * host hook, only those from other hosted actors (the host answers what it
 * injected). The rest of its mail and its timers are dropped. LT_ENOTFOUND
 * when no such actor. */
LT_NODISCARD lt_err_t lt_coop_remove(lt_coop_t *rt, const char *name);

/* Puts a message from outside into the mailbox of the local actor `to` (its
 * name, or name@<config.node>). `from` is where the reply goes:
 * "ext:<anything>" for an external client (replies reach the external hook),
 * or "name@<node key>" for a peer's service (replies reach remote_send: how
 * the network delivers what arrives from other nodes). With a host hook,
 * `from` may also be any other address of fewer than LT_ADDR_MAX printable
 * characters that names no hosted actor (replies reach the host hook: a
 * kernel's clients and its own address). msg->from is ignored;
 * the body is copied. LT_EINVAL for a malformed message, `from` or `to`, or a
 * body over max_body; LT_ENOTFOUND when no such actor here (an address on
 * another node included); LT_EFULL when its mailbox is full. */
LT_NODISCARD lt_err_t lt_coop_inject(lt_coop_t *rt, const char *to, const lt_msg_t *msg,
                                     const char *from);

/* Delivers exactly one message: the oldest in the mailbox of the next actor,
 * round-robin, that has mail. When that delivery empties the mailbox, calls
 * the actor's idle() before returning. Returns false when there was nothing
 * to deliver. */
bool lt_coop_step(lt_coop_t *rt);

/* Steps until no mail is left or `budget` messages were delivered (the tick
 * budget: a board bounds the time spent before it services anything else).
 * Returns the number of messages delivered. */
unsigned lt_coop_run(lt_coop_t *rt, unsigned budget);

/* Fires every timer whose deadline is at or before now_ms, in deadline order,
 * ties in the order they were set, by calling its actor's timer(). The host
 * passes its clock's reading (a virtual clock: the value it just advanced
 * to). A timer set by a handler during this call fires at a later call, even
 * when it is already due, so a handler that re-arms with 0 cannot starve the
 * host. Returns the number of timers fired. */
unsigned lt_coop_advance(lt_coop_t *rt, uint64_t now_ms);

/* The earliest timer deadline, so the host can sleep until then. Returns
 * false (and leaves *ms alone) when no timer is set. */
bool lt_coop_next_deadline(const lt_coop_t *rt, uint64_t *ms);

/* Whether no message is waiting in any mailbox. */
bool lt_coop_idle(const lt_coop_t *rt);

/* Counters of the actor `name`; LT_ENOTFOUND when no such actor. */
LT_NODISCARD lt_err_t lt_coop_actor_stats(const lt_coop_t *rt, const char *name,
                                          lt_coop_actor_stats_t *out);
void lt_coop_stats(const lt_coop_t *rt, lt_coop_stats_t *out);

#endif
