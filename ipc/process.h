/* The process runtime (DESIGN.md §2.1, runtime 1): one actor per process,
 * a DEALER to the kernel socket, a poll loop. This is production: every
 * service binary's main() parses its options, prepares the actor's config and
 * hands both to lt_process_run.
 *
 * The loop. lt_process_run starts the actor, connects a DEALER
 * (ZMQ_MAXMSGSIZE = LT_FRAME_MAX_PART, bounded high-water marks, a short
 * reconnect interval) to ipc://<home>/kernel.sock, sends READY (name, proto,
 * pid) and then delivers each REQUEST, REPLY and EVENT from the kernel to
 * receive(); when no message is waiting any more it calls idle(), so a
 * burst is grouped (the store's group commit). A burst is cut after
 * LT_PROCESS_BURST messages (idle() runs there too) so that a flood cannot
 * hold replies or heartbeats back. Timers fire from the same loop. Sends are
 * non-blocking: a full high-water mark is LT_EFULL to the actor, never a
 * blocked loop. What the actor sends from start() goes out right after READY
 * (the kernel would take it for a client's before it).
 *
 * Heartbeats (kernel/README.md): a HEARTBEAT every heartbeat interval when
 * nothing else was sent; when the kernel is silent for LT_FRAME_LIVENESS
 * intervals, or sends DISCONNECT, the runtime closes the socket, connects a
 * new one and sends READY again, so a service survives a kernel restart and
 * is re-adopted. Messages the actor sends while no kernel is there wait in
 * the socket (bounded) and go out when one binds; those still queued in a
 * socket that is replaced are dropped (clients retry by request id).
 *
 * Clocks. Heartbeats and liveness run on the monotonic clock. The runtime
 * clock (opts->now) is the actor's: the runtime reads it only when the actor
 * calls now() or timer_set(), and while a timer is pending, so an injected
 * deterministic clock sees the same reads as in the cooperative runtime.
 *
 * Stopping. SIGTERM or SIGINT ends the loop after the current handler (and
 * the idle() of its burst); the runtime sends DISCONNECT, calls stop() and
 * returns 0. A service whose kernel has been gone for orphan_ms exits the
 * same way (its supervisor is not coming back). SIGPIPE is ignored. The
 * previous dispositions of these signals are restored on return.
 *
 * This file and process.c are the only ones in ipc/ that use ZeroMQ and
 * POSIX (tools/check-portable names them as ports). */
#ifndef LT_PROCESS_H
#define LT_PROCESS_H

#include "ipc/actor.h"

#include <stddef.h>
#include <stdint.h>

/* Exit codes of a service process, which the supervisor reads. */
#define LT_PROCESS_EXIT_OK     0   /* stopped on purpose (signal, DISCONNECT on stop) */
#define LT_PROCESS_EXIT_ERROR  1   /* the runtime failed (socket, memory) */
#define LT_PROCESS_EXIT_USAGE  2   /* bad command line */
#define LT_PROCESS_EXIT_CONFIG 100 /* start() failed: permanent, do not restart */
#define LT_PROCESS_EXIT_RETRY  111 /* temporary (the home is locked): retry with backoff */

#define LT_PROCESS_DEFAULT_ORPHAN_MS 60000

/* Bounds of the runtime's tables and socket queues. */
#define LT_PROCESS_HWM          10000 /* messages queued per direction in the socket */
#define LT_PROCESS_BURST        256   /* messages delivered before idle() and a heartbeat check */
#define LT_PROCESS_MAX_TIMERS   256   /* timers pending at once */
#define LT_PROCESS_MAX_EARLY    256   /* messages start() may send (held until READY) */
#define LT_PROCESS_RECONNECT_MS 10    /* ZMQ_RECONNECT_IVL: a restarted kernel is found at once */

typedef struct {
    /* The node's home: the kernel socket is <home>/kernel.sock and the
     * default log <home>/latticed.log. */
    const char *home;
    /* Overrides the endpoint ("ipc:///path", tests); NULL: from home. */
    const char *endpoint;
    /* Where the runtime and the actor log (tag = the actor's name); NULL:
     * an lt_process_log_t on home at info level. Borrowed. */
    const lt_logger_t *log;
    /* Clock for now(); NULL: CLOCK_REALTIME milliseconds. A test injects a
     * deterministic clock here (the cross-runtime test). */
    uint64_t (*now)(void *ctx);
    void *now_ctx;
    /* Random bytes; NULL: libsodium's randombytes_buf. */
    void (*random)(void *ctx, void *buf, size_t n);
    void *random_ctx;
    /* Version of the actor's body protocol, sent in READY. */
    uint32_t proto;
    /* Without a message from a kernel for this long (counted from the last
     * one heard, or from the start when none was), exit 0; 0: the default,
     * UINT64_MAX: never. Never shorter than the liveness window. */
    uint64_t orphan_ms;
    /* Heartbeat interval; 0: LT_FRAME_HEARTBEAT_MS (the kernel's). Tests
     * shorten it to see liveness and reconnection quickly. */
    uint32_t heartbeat_ms;
} lt_process_opts_t;

/* Runs ops as this process's actor until it is told to stop. Returns the
 * process exit code (LT_PROCESS_EXIT_*). cfg goes to ops->start unchanged.
 *
 * Ownership of what cfg hands to the actor: LT_PROCESS_EXIT_CONFIG means the
 * actor did not start (start() failed, or the options are unusable: no home,
 * a bad endpoint, a malformed actor name) and the caller still holds what a
 * failed start() leaves it. Every other code is returned after start()
 * succeeded and stop() was called: the actor has released its config. */
int lt_process_run(const lt_actor_ops_t *ops, const void *cfg, const lt_process_opts_t *opts);

/* The kernel socket path of a home: "<home>/kernel.sock" into out (capacity
 * cap). LT_EINVAL when it does not fit (AF_UNIX paths are short: 107 bytes). */
LT_NODISCARD lt_err_t lt_process_socket_path(const char *home, char *out, size_t cap);

/* The log of a service process: each line goes, in one write(), to stderr
 * and appended to <home>/latticed.log (the kernel's log, so a service's lines
 * survive a kernel restart and sit beside the kernel's), as
 *   2026-11-24T07:00:00.123Z store[1234] info: store up: node 3fa2..., 2 stores
 * with the tag as the program name. The caller owns the struct; the logger
 * in it is what opts->log takes. */
typedef struct {
    lt_logger_t logger;
    int fd;       /* the log file, or -1 when it could not be opened (stderr only) */
    uint32_t pid; /* in every line */
} lt_process_log_t;

/* Opens home/latticed.log for appending (0600, created if missing); when
 * home is NULL or the file cannot be opened, logs to stderr only. Lines above
 * max_level are dropped. Never fails. */
void lt_process_log_open(lt_process_log_t *lg, const char *home, lt_log_level_t max_level);
/* Closes the file; idempotent. */
void lt_process_log_close(lt_process_log_t *lg);

#endif
