/* The supervisor: runs each enabled service as a process and keeps it
 * running (OTP one_for_one), as an explicit state machine per service
 * (lt_ksvc_state_t in kernel.h; the transitions are the handlers below and
 * the table in kernel/README.md, "Supervision").
 *
 * - It spawns `lattice-<name> --home HOME` from the libexec directory, in
 *   its own session (a terminal's ^C or a killed kernel does not reach it),
 *   stdin /dev/null, stdout and stderr the kernel's stderr (the process
 *   runtime appends the service's lines to <home>/latticed.log itself).
 * - It reaps children on SIGCHLD (main.c reads a signalfd and calls
 *   lt_sup_reap) and reads exit codes as STYLE.md says: 100 is permanent
 *   (FAILED at once), anything else unasked is a crash, restarted at once
 *   the first time in a window and with exponential backoff after; more
 *   than max_restarts crashes in restart_window_s is FAILED.
 * - A service that stops heartbeating is killed (SIGKILL), then restarted
 *   as a crash.
 * - A service left running by an earlier kernel (its pid file names a live
 *   lattice-<name> on this home) is re-adopted when it registers again, and
 *   watched by heartbeats and kill(pid, 0) since it is not our child.
 * - An attached slot (--attach) spawns nothing: a hand-started process
 *   registers, and when it goes the slot waits again.
 * - Stopping the node stops services in reverse start order (SIGTERM, then
 *   SIGKILL after stop_timeout_ms). */
#ifndef LT_KERNEL_SUPERVISOR_H
#define LT_KERNEL_SUPERVISOR_H

#include "kernel/kernel.h"

#include <stdbool.h>
#include <stdint.h>

/* Sets up the service slots from the configuration and finds the libexec
 * directory. */
LT_NODISCARD lt_err_t lt_sup_init(lt_kernel_t *k, lt_errbuf_t *eb);
void lt_sup_fini(lt_kernel_t *k);

/* Starts every service in order: adopts what an earlier kernel left
 * running, spawns the rest, leaves attached slots WAITING. */
void lt_sup_start(lt_kernel_t *k);

/* Reaps every child that exited (after SIGCHLD). */
void lt_sup_reap(lt_kernel_t *k);

/* Timers: backoff ends, adoption bounds, SIGKILL escalation, liveness of
 * processes that are not our children. */
void lt_sup_tick(lt_kernel_t *k, uint64_t now_ms);
uint64_t lt_sup_next_deadline(const lt_kernel_t *k, uint64_t now_ms);

/* A READY for s from a process that says it is pid: whether the
 * supervisor accepts it as s's registration (and moves s to READY). */
bool lt_sup_on_ready(lt_kernel_t *k, lt_ksvc_t *s, uint32_t pid);

/* The router forgot s's registration: the service said DISCONNECT, or
 * (heartbeat_lost) it was silent for LT_FRAME_LIVENESS intervals. */
void lt_sup_on_unregistered(lt_kernel_t *k, lt_ksvc_t *s, bool heartbeat_lost);

/* KERNEL_RESTART: SIGTERM the service and start it again once it exited,
 * without counting against the restart intensity; a FAILED service starts
 * afresh. LT_EINVAL for an attached slot, LT_EUNAVAILABLE while the node
 * stops; eb holds the line. */
LT_NODISCARD lt_err_t lt_sup_restart(lt_kernel_t *k, lt_ksvc_t *s, lt_errbuf_t *eb);

/* Starts the ordered stop of the node (idempotent). */
void lt_sup_stop(lt_kernel_t *k);
/* Whether every service is STOPPED (the node may exit). */
bool lt_sup_stopped(const lt_kernel_t *k);

/* What the router may do with a message for s. */
typedef enum {
    LT_SUP_DELIVER, /* registered: forward */
    LT_SUP_QUEUE,   /* coming (starting, restarting, waiting for attach): queue */
    LT_SUP_FAILED,  /* given up: unavailable at once */
    LT_SUP_STOPPED, /* the node is stopping: unavailable at once */
} lt_sup_route_t;
lt_sup_route_t lt_sup_route(const lt_ksvc_t *s);

/* kernel.proto ServiceState of s. */
int lt_sup_public_state(const lt_ksvc_t *s);

/* One line on why s failed, for replies ("crashed 6 times in 60 s, last:
 * signal 9"). */
const char *lt_sup_fail_reason(const lt_ksvc_t *s);

#endif
