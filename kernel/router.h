/* The router: the kernel's ROUTER socket on <home>/kernel.sock and the
 * LTK/1 rules of kernel/README.md — decode strictly, register services by
 * READY, rewrite the address to the sender, forward or queue, heartbeat the
 * registered services, and answer what cannot be delivered (ENOTFOUND,
 * UNAVAILABLE) with an Error body.
 *
 * The router asks the supervisor what a service's state allows (deliver,
 * queue, refuse) and tells it when a registration starts or ends; it never
 * touches processes. */
#ifndef LT_KERNEL_ROUTER_H
#define LT_KERNEL_ROUTER_H

#include "kernel/kernel.h"

#include <stdint.h>

/* Creates the ROUTER (ROUTER_MANDATORY, MAXMSGSIZE, bounded HWMs, ZMTP
 * heartbeats, IPC_FILTER_UID = our uid), binds it to the home's socket and
 * makes the socket 0600. Call with the home locked: a bind steals the path
 * from whoever had it. */
LT_NODISCARD lt_err_t lt_router_open(lt_kernel_t *k, lt_errbuf_t *eb);
void lt_router_close(lt_kernel_t *k);

/* Reads and routes up to budget waiting messages; returns how many. */
size_t lt_router_recv(lt_kernel_t *k, size_t budget);

/* Time-driven work: heartbeats out, liveness of registered services, queue
 * deadlines, and draining queues into services that can take messages. */
void lt_router_tick(lt_kernel_t *k, uint64_t now_ms);

/* The earliest monotonic time lt_router_tick has work to do. */
uint64_t lt_router_next_deadline(const lt_kernel_t *k, uint64_t now_ms);

/* Delivers s's queue when its state allows it (called when it becomes
 * READY). */
void lt_router_drain(lt_kernel_t *k, lt_ksvc_t *s);

/* s's connection is no longer its registration (the process exited, was
 * killed, or said DISCONNECT): forget it and answer every request in flight
 * to it LT_EUNAVAILABLE, naming why. No-op when s is not registered. */
void lt_router_forget(lt_kernel_t *k, lt_ksvc_t *s, const char *why);

/* Answers every queued request with status (LT_EFAILED: s failed;
 * LT_EUNAVAILABLE: the node is stopping) and the line why, and drops queued
 * events. */
void lt_router_flush_queue(lt_kernel_t *k, lt_ksvc_t *s, lt_err_t status, const char *why);

/* Routes a frame that came over a peer link, from `from` (SRC@NODE), as
 * the router routes its own (links.c has checked what links may carry). */
void lt_router_from_link(lt_kernel_t *k, const char *from, const lt_frame_t *f);

/* Routes a message a hosted service (s->inproc) sent out of the runtime:
 * as a frame from that service's process would be. */
void lt_router_from_hosted(lt_kernel_t *k, lt_ksvc_t *sender, const lt_frame_t *f);

/* The hosted service s has started: it is registered (no connection, no
 * heartbeats), its queue is delivered, and it hears what a newly
 * registered process would (the store is asked who may open links, the
 * sync service learns the links up). */
void lt_router_hosted(lt_kernel_t *k, lt_ksvc_t *s);

/* Sends an EVENT from "kernel" (corr 0) to the local service `to` if it is
 * registered; nothing is queued. 0, or the errno: EHOSTUNREACH when `to` is
 * not registered, EAGAIN when its pipe is full. */
int lt_router_event(lt_kernel_t *k, const char *to, uint32_t type, const uint8_t *body, size_t len);

/* Sends a REPLY to `to` (a client or service address) carrying `from` (the
 * address the request was sent to), with a body. Dropped with a debug line
 * when `to` is gone. */
void lt_router_reply(lt_kernel_t *k, const char *to, const char *from, uint64_t corr, uint32_t type,
                     lt_err_t status, const uint8_t *body, size_t len);

/* The same with status != LT_OK and a kernel.proto Error body holding one
 * line. */
void lt_router_reply_error(lt_kernel_t *k, const char *to, const char *from, uint64_t corr,
                           uint32_t type, lt_err_t status, const char *fmt, ...) LT_PRINTF(7, 8);

#endif
