/* The process runtime (DESIGN.md §2.1, runtime 1): one actor per process,
 * a DEALER to the kernel socket, a poll loop. This is production: every
 * service binary's main() parses its options, prepares the actor's config and
 * hands both to lt_process_run.
 *
 * The loop. lt_process_run connects a DEALER (ZMQ_MAXMSGSIZE =
 * LT_FRAME_MAX_PART, bounded high-water marks, a short reconnect interval) to
 * ipc://<home>/kernel.sock, starts the actor, sends READY (name, proto, pid)
 * and then delivers each REQUEST, REPLY and EVENT from the kernel to
 * receive(); when no message is waiting any more it calls idle(), so a
 * burst is grouped (the store's group commit). Timers fire from the same
 * loop. Sends are non-blocking: a full high-water mark is LT_EFULL to the
 * actor, never a blocked loop.
 *
 * Heartbeats (kernel/README.md): a HEARTBEAT every LT_FRAME_HEARTBEAT_MS when
 * nothing else was sent; when the kernel is silent for LT_FRAME_LIVENESS
 * intervals, or sends DISCONNECT, the runtime closes the socket, connects a
 * new one and sends READY again, so a service survives a kernel restart and
 * is re-adopted. Messages the actor sends while no kernel is there wait in
 * the socket (bounded) and go out on reconnect.
 *
 * Stopping. SIGTERM or SIGINT ends the loop after the current handler; the
 * runtime sends DISCONNECT, calls stop() and returns 0. A service whose
 * kernel has been gone for orphan_ms exits the same way (its supervisor is
 * not coming back).
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

typedef struct {
    /* The node's home: the kernel socket is <home>/kernel.sock. */
    const char *home;
    /* Overrides the endpoint ("ipc:///path", tests); NULL: from home. */
    const char *endpoint;
    /* Where the runtime and the actor log (tag = the actor's name); NULL:
     * stderr at info level. Borrowed. */
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
    /* Without a kernel for this long after losing it, exit 0; 0: the
     * default, UINT64_MAX: never. */
    uint64_t orphan_ms;
} lt_process_opts_t;

/* Runs ops as this process's actor until it is told to stop. Returns the
 * process exit code (LT_PROCESS_EXIT_*). cfg goes to ops->start unchanged. */
int lt_process_run(const lt_actor_ops_t *ops, const void *cfg, const lt_process_opts_t *opts);

/* The kernel socket path of a home: "<home>/kernel.sock" into out (capacity
 * cap). LT_EINVAL when it does not fit (AF_UNIX paths are short: 107 bytes). */
LT_NODISCARD lt_err_t lt_process_socket_path(const char *home, char *out, size_t cap);

/* The default home (DESIGN.md §8): $LATTICE_HOME, else
 * $XDG_DATA_HOME/lattice, else $HOME/.local/share/lattice. LT_EINVAL when
 * none is set or the path does not fit. */
LT_NODISCARD lt_err_t lt_process_default_home(char *out, size_t cap);

#endif
