/* What the benchmarks that run nodes share (bench-ipc, bench-sync --nodes,
 * bench-nano). The clock, progress lines on stderr, percentiles, what /proc
 * says of a process, the build's programs, and a node child process
 * (latticed, or lattice-nano, which serves the same kernel socket) in a
 * temporary home: started, waited for by polling until it answers (never a
 * bare sleep), stopped with SIGTERM. */
#ifndef LT_BENCH_IPC_COMMON_H
#define LT_BENCH_IPC_COMMON_H

#include "ipc/client.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Longest path the bench builds (homes, logs, sockets). AF_UNIX socket
 * paths are shorter still: lt_bench_ipc_endpoint checks those. */
#define LT_BENCH_PATH_MAX 1024

/* How long latticed may take to answer its first ping, a service to
 * become READY, and latticed to exit after SIGTERM. */
#define LT_BENCH_START_MS   15000
#define LT_BENCH_SERVICE_MS 15000
#define LT_BENCH_STOP_MS    15000

/* One line on stderr, prefixed with the program's name ("bench-ipc: "). */
void lt_bench_note(const char *fmt, ...) LT_PRINTF(1, 2);

/* CLOCK_MONOTONIC in seconds. */
double lt_bench_now(void);

/* Sleeps ms milliseconds: only for pacing a poll or a timed phase, never to
 * wait for something to happen. */
void lt_bench_pause_ms(unsigned ms);

/* Sorts v[0..n) and returns its p-quantile (0 < p <= 1) by nearest rank; 0
 * for n == 0. */
double lt_bench_quantile(double *v, size_t n, double p);

/* CPU time a process has run so far, all its live threads together (from
 * /proc/<pid>/task/<tid>/schedstat, nanosecond resolution), in seconds; -1
 * when it cannot be read. */
double lt_bench_proc_cpu_s(pid_t pid);

/* A field given in kB of /proc/<pid>/<file>, in bytes: of "status",
 * "VmHWM" (the peak resident set) or "VmRSS"; of "smaps_rollup", "Pss" (the
 * resident set with each shared page divided among the processes that map
 * it). -1 when it cannot be read. */
long long lt_bench_proc_mem_bytes(pid_t pid, const char *file, const char *field);

/* A program of the build tree this executable is in: `rel` is its path in
 * the tree ("kernel/latticed"). <build>/tools/bench/<bench> -> <build>/<rel>
 * into out and true when that is an executable; else the last part of rel
 * ("latticed", looked up in PATH when run) and false. */
bool lt_bench_build_program(const char *rel, char *out, size_t cap);

/* "ipc://<dir>/<name>" into out; false (with a note) when the path does not
 * fit an AF_UNIX socket address. */
bool lt_bench_ipc_endpoint(const char *dir, const char *name, char *out, size_t cap);

/* Removes a directory tree; notes what it cannot remove. */
void lt_bench_rm_tree(const char *dir);

/* The file system dir is on ("ext4", "tmpfs", ...): fsync costs depend on it. */
void lt_bench_fs_name(const char *dir, char *out, size_t len);

/* A node child process (latticed or lattice-nano) in its own home. */
typedef struct {
    pid_t pid;     /* 0: not running */
    char prog[64]; /* the program's name, for notes ("latticed") */
    int wstatus;   /* waitpid status once it has exited */
    char home[LT_BENCH_PATH_MAX];
    char log[LT_BENCH_PATH_MAX]; /* its stdout and stderr */
    bool log_shown;              /* lt_bench_node_log_tail ran */
} lt_bench_node_t;

/* Makes `home` (0700), starts `latticed --home HOME` followed by the
 * NULL-terminated `args`, with its output appended to `log`, and waits
 * until it answers a ping. On success *client is a connected handle with
 * timeout_ms (the caller closes it) and 0 is returned; on failure the node
 * is stopped, a note says why (with the tail of the log) and -1 is
 * returned. `latticed` is a path, or a bare name looked up in PATH: any
 * program that takes --home and serves the kernel socket there. */
int lt_bench_node_start(lt_bench_node_t *node, const char *latticed, const char *home,
                        const char *log, const char *const *args, uint32_t timeout_ms,
                        lt_client_t **client);

/* lt_bench_node_start in the home base/label, its output in base/label.out;
 * -1 (with a note) also when the home's socket path would not fit. */
int lt_bench_node_start_in(lt_bench_node_t *node, const char *prog, const char *base,
                           const char *label, const char *const *args, uint32_t timeout_ms,
                           lt_client_t **client);

/* Waits until the node reports service `name` READY with a pid other than
 * not_pid (0: any), up to timeout_ms. Sets *pid. 0 or -1 (with a note). */
int lt_bench_node_wait_service(lt_bench_node_t *node, lt_client_t *c, const char *name,
                               uint32_t not_pid, uint32_t timeout_ms, uint32_t *pid);

/* Sends SIGTERM and waits for the exit (SIGKILL past LT_BENCH_STOP_MS).
 * Returns 0 when it exited with status 0, -1 otherwise (with a note).
 * Idempotent. */
int lt_bench_node_stop(lt_bench_node_t *node);

/* Whether the node's process is still running (reaps it when it is not). */
bool lt_bench_node_alive(lt_bench_node_t *node);

/* Copies the last lines of the node's log (<home>/latticed.log, where the
 * kernel and its services write, else its stdout and stderr) to stderr,
 * after a failure; once per node. */
void lt_bench_node_log_tail(lt_bench_node_t *node);

#endif
