/* bench-ipc: what the kernel's routing costs. Measures, in one run and with
 * the same echo service at the far end, the round trip of an empty REQUEST
 * and its REPLY over three paths:
 *
 *   route   client DEALER -> latticed -> echo registered as "store" -> back
 *   direct  client DEALER -> the echo's own ROUTER -> back
 *   bare    client DEALER -> a bare ROUTER-to-ROUTER forwarder -> echo -> back
 *   bare-process  the same with the forwarder in a process of its own
 *
 * and a REQUEST to "kernel" (KERNEL_PING), which the kernel answers itself.
 * The paths take turns in rounds, so drift of the machine (frequency, other
 * load) spreads over all of them. route - direct is what the kernel adds;
 * bare - direct is what the cheapest possible ZeroMQ broker adds. */
#ifndef LT_BENCH_IPC_ROUTE_H
#define LT_BENCH_IPC_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *latticed; /* path or name in PATH */
    const char *base;     /* the run directory: homes, logs and sockets go here */
    uint64_t n;           /* round trips per path */
    uint64_t warmup;      /* round trips per path before measuring */
    /* Run the whole phase (latticed, the forwarder process, every thread)
     * on one CPU: see lt_bench_route_run. */
    bool pin;
} lt_bench_route_opts_t;

typedef struct {
    double route_us, direct_us, bare_us, bare_proc_us, ping_us; /* medians */
    double route_p99_us, direct_p99_us, bare_p99_us;
    /* CPU time of the process in the middle per round trip (all its
     * threads): latticed on the route and ping paths, the forwarder process
     * on its path. Less sensitive to scheduling than the wall times. */
    double route_cpu_us, ping_cpu_us, bare_proc_cpu_us;
    uint64_t n;
    int cpu; /* the CPU the phase ran on; -1: not pinned */
} lt_bench_route_result_t;

/* The hidden first argument that makes bench-ipc the forwarder process:
 * bench-ipc LT_BENCH_FORWARDER_ARG FRONT_ENDPOINT BACK_ENDPOINT. */
#define LT_BENCH_FORWARDER_ARG "--bare-forwarder-process"

/* The forwarder as a process of its own (a diagnostic beside the thread of
 * the bare path: the kernel is a process, so the difference between the two
 * is what crossing a process costs). Binds both endpoints and forwards until
 * SIGTERM, or until its parent dies. Returns an exit status on failure. */
int lt_bench_route_forwarder_main(const char *front, const char *back);

/* Starts its own latticed (--services store --attach store) in
 * <base>/route, runs the measurement, stops everything. 0, or -1 after a
 * note on stderr.
 *
 * With o->pin, the calling thread is bound to one CPU (the last it may run
 * on) before anything of the phase starts, so that latticed, the forwarder
 * process and every thread inherit it, and its own mask is restored at the
 * end. Every hop is then a wakeup on the same CPU: the paths compare by the
 * work they do, not by where the scheduler happened to place their threads
 * (on a small virtual machine, cross-CPU wakeups are costly and their
 * number varies from run to run). */
int lt_bench_route_run(const lt_bench_route_opts_t *o, lt_bench_route_result_t *r);

/* The ceiling of the shape a put travels (clients, a broker process, a
 * service process) on this machine: `clients` threads, each with a ZeroMQ
 * context of its own as each liblattice-client handle has, make REQUEST and
 * REPLY round trips as fast as they can for `secs`, through the bare
 * forwarder as a process to the echo as a process, which does no work. No
 * real path of that shape can beat it, whatever its work. */
#define LT_BENCH_CEILING_MAX_CLIENTS 64
#define LT_BENCH_CEILING_MAX_BODY    4096

typedef struct {
    const char *base; /* where the sockets go */
    unsigned clients;
    double secs;
    size_t body_len; /* each REQUEST's body; the REPLY's is empty */
} lt_bench_ceiling_opts_t;

typedef struct {
    double per_s;  /* round trips per second, all clients */
    double cpu_us; /* CPU per round trip: the clients' process, forwarder and echo */
    uint64_t n;
} lt_bench_ceiling_result_t;

/* The hidden first argument that makes bench-ipc the echo process:
 * bench-ipc LT_BENCH_ECHO_ARG BACK_ENDPOINT. Connects to the forwarder's
 * back end and answers until SIGTERM or its parent's death. */
#define LT_BENCH_ECHO_ARG "--bare-echo-process"
int lt_bench_route_echo_main(const char *back);

/* 0, or -1 after a note on stderr. */
int lt_bench_route_ceiling(const lt_bench_ceiling_opts_t *o, lt_bench_ceiling_result_t *r);

#endif
