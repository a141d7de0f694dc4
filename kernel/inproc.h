/* In-process services: the cooperative runtime (boards/coop.h) inside the
 * kernel's loop, so that one thread runs a whole node (lattice-nano).
 *
 * The kernel's routing becomes a function of the runtime. Between the
 * hosted actors, messages go mailbox to mailbox, as in the simulator (a full
 * mailbox is LT_EFULL to the sending actor, the runtime's contract). What
 * they send anywhere else — the kernel itself, a client, a peer's service —
 * leaves through the runtime's host and remote hooks into an outbox, which
 * the router routes once the actors' turn has ended, exactly as it routes
 * frames from a service process (in-flight bounds, queues, links, errors
 * for what cannot be delivered). What the router delivers to a hosted
 * service goes into its mailbox, and when that is full into an overflow
 * that holds what a process's pipe would (4096 messages), in order.
 *
 * The supervisor keeps the same slots for them (kernel.h, inproc true): a
 * hosted service is READY from its start until it is stopped, never
 * heartbeats, and `node restart` stops its actor and starts it again. */
#ifndef LT_KERNEL_INPROC_H
#define LT_KERNEL_INPROC_H

#include "ipc/actor.h"
#include "ipc/frame.h"
#include "kernel/kernel.h"

#include <stdbool.h>
#include <stdint.h>

/* How to start one hosted service. config() makes the actor's start
 * configuration each time it starts (the store opens its backend there);
 * unconfig() releases it when start() failed (the actor did not take it).
 * Both borrow ctx. */
typedef struct {
    const char *name;
    const lt_actor_ops_t *ops;
    lt_err_t (*config)(void *ctx, const void **cfg, lt_errbuf_t *eb);
    void (*unconfig)(void *ctx);
    void *ctx;
} lt_inproc_service_t;

/* Creates the runtime in k->inproc for the services given (borrowed; they
 * must outlive it), each of which must be a slot of k with inproc set.
 * Needs k->node_key. LT_EINVAL, LT_ENOMEM with a line in eb. */
LT_NODISCARD lt_err_t lt_inproc_open(lt_kernel_t *k, const lt_inproc_service_t *svcs, size_t n,
                                     lt_errbuf_t *eb);
/* Stops every actor still hosted and frees the runtime. */
void lt_inproc_close(lt_kernel_t *k);

/* Starts s's actor. LT_ENOTFOUND when s is not hosted here; else what its
 * configuration or start returned, with a line in eb. */
LT_NODISCARD lt_err_t lt_inproc_start(lt_kernel_t *k, lt_ksvc_t *s, lt_errbuf_t *eb);
/* Stops s's actor (its pending mail and timers are dropped). */
void lt_inproc_stop(lt_kernel_t *k, lt_ksvc_t *s);

/* Delivers a REQUEST, REPLY or EVENT frame the router forwards to the
 * hosted service s (f->addr is the sender): into its mailbox, or when that
 * is full into its overflow, in order. 0, or the errno the router reads off
 * a socket: EAGAIN when the overflow is full too (S_INBOX_MAX: a full pipe),
 * EHOSTUNREACH when its actor is not running, EINVAL for what the runtime
 * refuses. */
int lt_inproc_send(lt_kernel_t *k, lt_ksvc_t *s, const lt_frame_t *f);

/* One turn of the hosted actors: fills mailboxes from the overflows, fires
 * the timers that are due, delivers up to budget messages, then routes
 * what the actors sent out (outside any handler: the router may stop or
 * restart an actor). Returns lt_inproc_pending. */
bool lt_inproc_run(lt_kernel_t *k, unsigned budget);

/* Whether anything waits for a turn: mail, an overflow, the outbox. The
 * loop must not sleep then; ask it last, after everything that may deliver
 * (the router's and the supervisor's ticks). */
bool lt_inproc_pending(const lt_kernel_t *k);

/* Bytes the runtime reserved for mailbox bodies (lt_coop_stats_t), 0
 * without one. */
size_t lt_inproc_body_bytes(const lt_kernel_t *k);

/* The monotonic time of the next timer of a hosted actor, or UINT64_MAX. */
uint64_t lt_inproc_next_deadline(const lt_kernel_t *k, uint64_t now_mono_ms);

#endif
