/* The node's home directory as the kernel holds it: the checks that keep it
 * private (0700, ours), the lock that makes one kernel per home, the pid
 * files (the kernel's and one per spawned service, which a restarted kernel
 * reads to re-adopt services), and the log file that the kernel and its
 * services append to.
 *
 * Layout (kernel/README.md, "Files in the home"):
 *   <home>/latticed.lock        flock'd by the running kernel for its life
 *   <home>/latticed.pid         the running kernel's pid
 *   <home>/latticed.log         kernel and service log lines, appended
 *   <home>/kernel.sock          the ROUTER's ipc endpoint (router.c)
 *   <home>/identity.key         the node key (weaver/identity.h)
 *   <home>/services/<name>.pid  the pid of each service the kernel spawned
 *   <home>/links                the peers to link to again at start (links_file.h) */
#ifndef LT_KERNEL_HOME_H
#define LT_KERNEL_HOME_H

#include "kernel/config.h"
#include "weaver/errors.h"
#include "weaver/log.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* AF_UNIX paths: sun_path is 108 bytes with its NUL. */
#define LT_HOME_SOCK_MAX 108

typedef struct {
    /* absolute; short, since <dir>/kernel.sock must fit a unix socket path */
    char dir[LT_HOME_SOCK_MAX];
    char sock[LT_HOME_SOCK_MAX];         /* <dir>/kernel.sock */
    char endpoint[LT_HOME_SOCK_MAX + 6]; /* ipc://<sock> */
    int lock_fd;                         /* -1: not locked */
    int log_fd;                          /* -1: no log file (stderr only) */
    bool pid_written;
    const char *program; /* names the log lines; NULL: "latticed" */
} lt_home_t;

/* The home to use: `given` when not empty, else $LATTICE_HOME, else
 * $XDG_DATA_HOME/lattice, else $HOME/.local/share/lattice. LT_EINVAL (with
 * eb) when none is set or the path does not fit cap. */
LT_NODISCARD lt_err_t lt_home_resolve(const char *given, char *out, size_t cap, lt_errbuf_t *eb);

/* Makes h describe dir: creates it (and missing parents) 0700 when absent;
 * refuses a home that is not a directory, belongs to another user, or is
 * open to the group or others (mode wider than 0700) — the kernel socket
 * inside it must be reachable by its owner only — and a path too long for
 * the socket. Nothing is locked or written yet. */
LT_NODISCARD lt_err_t lt_home_open(lt_home_t *h, const char *dir, lt_errbuf_t *eb);

/* Takes <home>/latticed.lock for the life of the process (the descriptor
 * is close-on-exec, so services never inherit it). LT_ELOCKED when another
 * process holds it, with a message naming its pid when the pid file has it. */
LT_NODISCARD lt_err_t lt_home_lock(lt_home_t *h, lt_errbuf_t *eb);

/* Writes <home>/latticed.pid (atomically: temporary file, rename). Call
 * with the lock held. */
LT_NODISCARD lt_err_t lt_home_write_pid(lt_home_t *h, lt_errbuf_t *eb);

/* Opens <home>/latticed.log for appending (0600). */
LT_NODISCARD lt_err_t lt_home_open_log(lt_home_t *h, lt_errbuf_t *eb);

/* Removes the socket path and the pid file, closes the log and releases
 * the lock, in that order (the socket and pid file go while the lock still
 * says they are ours). Idempotent. */
void lt_home_close(lt_home_t *h);

/* Log sink (weaver/log.h) with ctx = the lt_home_t: one line
 * "<UTC time> <program>[<pid>] <level>: <tag>: <line>" to stderr and, when open, appended to
 * the log file in one write (so lines of concurrent processes never mix). */
void lt_home_log_sink(void *ctx, lt_log_level_t level, const char *tag, const char *line);

/* <home>/services/<name>.pid: written when the kernel spawns name, removed
 * when the node stops it on purpose. */
LT_NODISCARD lt_err_t lt_home_service_pid_write(const lt_home_t *h, const char *name, pid_t pid,
                                                lt_errbuf_t *eb);
/* The pid recorded for name, or 0 when there is none (or it is garbage). */
pid_t lt_home_service_pid_read(const lt_home_t *h, const char *name);
void lt_home_service_pid_remove(const lt_home_t *h, const char *name);

#endif
