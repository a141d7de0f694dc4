/* The integration harness: real latticed (and service, CLI) processes in
 * temporary homes, driven from Criterion tests.
 *
 * A node. lt_node_start runs $LT_LATTICED --home <home> <args...> in a
 * fresh directory (lt_test_tmpdir; the home is <dir>/home, created by
 * latticed itself unless opts.home names another), its stdout and stderr
 * appended to <dir>/latticed.out, and returns once the kernel answers
 * KERNEL_PING and every service in opts.ready is READY (SERVICES) — or
 * fails the test at the deadline, printing the node's log. latticed gets
 * SIGTERM if the test process dies (PR_SET_PDEATHSIG), so a failed test
 * leaves no kernel behind; lt_node_destroy (call it from a .fini) kills
 * what is left, services included, and removes the directory (kept when
 * $LT_TEST_KEEP is set).
 *
 * Waiting. Every wait polls a condition against a deadline (never a fixed
 * sleep): lt_node_wait_service for a service's state, pid or restart
 * count, lt_test_wait_gone for a process, lt_node_wait_log for a log line.
 * Timeouts are in milliseconds; 0 means LT_NODE_TIMEOUT_MS.
 *
 * Raw protocol. lt_node_conn_t is a DEALER on the node's kernel.sock that
 * sends and receives LTK/1 frames through ipc/frame.h: requests to any
 * address, malformed parts, or a fake service (send READY, answer
 * REQUESTs). lt_node_request uses the node's own connection.
 *
 * Programs. lt_test_run runs a program with arguments, extra environment
 * and stdin, and captures stdout, stderr and the exit status (for the CLI).
 *
 * Everything asserts (cr_assert) on harness failures: a test reads as the
 * scenario, not as error handling. */
#ifndef LT_TEST_NODE_H
#define LT_TEST_NODE_H

#include "ipc/frame.h"
#include "weaver/errors.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Default deadline of every wait (generous: sanitizer builds are slow). */
#define LT_NODE_TIMEOUT_MS 20000

/* kernel.proto ServiceState values, for waits and checks. */
enum {
    LT_NODE_STARTING = 1,
    LT_NODE_READY = 2,
    LT_NODE_BACKOFF = 3,
    LT_NODE_FAILED = 4,
    LT_NODE_STOPPED = 5,
    LT_NODE_WAITING = 6,
};

/* ---- programs ---- */

typedef struct {
    char *out; /* stdout, NUL-terminated (malloc'd) */
    size_t out_len;
    char *err; /* stderr, NUL-terminated (malloc'd) */
    size_t err_len;
    int status;     /* exit code, or 128 + signal */
    bool timed_out; /* killed at the deadline */
} lt_test_run_t;

/* Runs argv[0] (a path) with argv, env entries ("NAME=value", NULL-ended,
 * may be NULL) added to this process's environment, stdin_data (may be
 * NULL: empty stdin) on stdin; waits up to timeout_ms (0: the default).
 * Release with lt_test_run_free. */
void lt_test_run(const char *const argv[], const char *const env[], const char *stdin_data,
                 uint32_t timeout_ms, lt_test_run_t *out);
void lt_test_run_free(lt_test_run_t *r);

/* A path from the environment the integration suite sets (LT_LATTICED,
 * LT_LATTICE_STORE, LT_LATTICE_CLI, LT_BUILD_ROOT); fails the test when
 * unset. */
const char *lt_test_env_path(const char *name);

/* ---- processes ---- */

/* Whether pid runs (a zombie does not). */
bool lt_test_alive(pid_t pid);
/* Waits until pid no longer runs; false at the deadline. */
bool lt_test_wait_gone(pid_t pid, uint32_t timeout_ms);
/* SIGKILL, then waits until it is gone (reaps it when it is our child). */
void lt_test_kill9(pid_t pid);

/* ---- frames ---- */

/* A received frame with owned copies of its fields. */
typedef struct {
    lt_frame_cmd_t cmd;
    char addr[LT_ADDR_MAX];
    uint64_t corr;
    uint32_t type;
    uint32_t status;
    uint8_t *body; /* malloc'd (NULL when empty) */
    size_t len;
    char name[LT_NAME_MAX];
    uint32_t proto;
    uint32_t pid;
} lt_node_frame_t;
void lt_node_frame_clear(lt_node_frame_t *f);

/* The one line of an Error body (kernel.proto and store.proto share the
 * shape) into out; "" when the body holds none. */
void lt_node_error_text(const lt_node_frame_t *reply, char *out, size_t cap);

/* ---- raw connections ---- */

typedef struct lt_node_conn lt_node_conn_t;

/* A DEALER connected to the kernel socket of home. */
lt_node_conn_t *lt_node_conn_open(const char *home);
void lt_node_conn_close(lt_node_conn_t **c_p);
/* Sends an encoded frame (asserts it encodes). */
void lt_node_conn_send(lt_node_conn_t *c, const lt_frame_t *f);
/* Sends arbitrary parts as one message (malformed input). */
void lt_node_conn_send_parts(lt_node_conn_t *c, const lt_frame_part_t *parts, size_t n);
/* Receives the next frame. LT_ETIMEDOUT at the deadline; a message that
 * does not decode fails the test. */
lt_err_t lt_node_conn_recv(lt_node_conn_t *c, uint32_t timeout_ms, lt_node_frame_t *out);
/* Sends a REQUEST (fresh corr) to `to` and waits for the REPLY with its
 * corr; other frames that arrive meanwhile are dropped. LT_ETIMEDOUT. */
lt_err_t lt_node_conn_request(lt_node_conn_t *c, const char *to, uint32_t type, const void *body,
                              size_t len, uint32_t timeout_ms, lt_node_frame_t *reply);
/* Registers the connection as service `name` (READY with proto and pid). */
void lt_node_conn_ready(lt_node_conn_t *c, const char *name, uint32_t proto, uint32_t pid);

/* ---- nodes ---- */

typedef struct {
    const char *const *args;  /* extra latticed arguments, NULL-ended; may be NULL */
    const char *const *env;   /* extra environment "NAME=value", NULL-ended; may be NULL */
    const char *const *ready; /* services to wait READY for, NULL-ended; NULL: none */
    const char *home;         /* an existing home to reuse; NULL: <dir>/home */
    const char *program;      /* the kernel to run; NULL: $LT_LATTICED ($LT_LATTICE_NANO...) */
    bool no_wait;             /* return once spawned: do not wait for PING */
    uint32_t timeout_ms;      /* 0: LT_NODE_TIMEOUT_MS */
} lt_node_opts_t;

typedef struct {
    char *dir;       /* the temporary directory (owned) */
    char home[256];  /* the node's home */
    pid_t pid;       /* latticed, while running (0 after stop/kill) */
    int exit_status; /* after it exited */
    bool owns_dir;   /* destroy removes dir */
    lt_node_conn_t *conn;
} lt_node_t;

lt_node_t *lt_node_start(const lt_node_opts_t *opts);
/* Runs another latticed on the same home as n (for lock and re-adoption
 * tests); a fresh lt_node_t whose dir is not owned (destroying it keeps
 * the directory). */
lt_node_t *lt_node_start_on(const lt_node_t *n, const lt_node_opts_t *opts);
/* SIGTERM, then waits for the exit; returns the exit status (128 + signal
 * for a signal; the test fails when it does not exit in time). */
int lt_node_stop(lt_node_t *n);
/* Waits for latticed to exit by itself; returns its status. */
int lt_node_wait_exit(lt_node_t *n, uint32_t timeout_ms);
/* kill -9 of latticed (services keep running). */
void lt_node_kill9(lt_node_t *n);
/* Kills what still runs (latticed, the services its pid files name) and
 * removes the directory it owns. Idempotent; *n_p becomes NULL. */
void lt_node_destroy(lt_node_t **n_p);

/* A request on the node's own connection. */
lt_err_t lt_node_request(lt_node_t *n, const char *to, uint32_t type, const void *body, size_t len,
                         uint32_t timeout_ms, lt_node_frame_t *reply);
/* KERNEL_PING: LT_OK when the kernel answered. */
lt_err_t lt_node_ping(lt_node_t *n, uint32_t timeout_ms);

typedef struct {
    char name[32];
    int state; /* LT_NODE_READY, ... */
    uint32_t pid;
    uint32_t restarts;
    uint32_t proto;
    bool attached;
    uint64_t since_ms;
    uint32_t queued;
    uint32_t inflight;
    char last_exit[64];
} lt_node_service_t;

/* KERNEL_SERVICES: fills out[0..cap), returns how many services the node
 * has. Fails the test when the kernel does not answer. */
size_t lt_node_services(lt_node_t *n, lt_node_service_t *out, size_t cap);
/* The entry of one service; false when the node has no such service. */
bool lt_node_service(lt_node_t *n, const char *name, lt_node_service_t *out);

/* What lt_node_wait_service waits for: every field set must hold. */
typedef struct {
    int state;             /* 0: any */
    uint32_t pid_not;      /* 0: any; else a pid other than this one (and not 0) */
    uint32_t min_restarts; /* 0: any */
} lt_node_want_t;

/* Polls SERVICES until name matches want; fills out (may be NULL) with the
 * last answer. False at the deadline. */
bool lt_node_wait_service(lt_node_t *n, const char *name, const lt_node_want_t *want,
                          uint32_t timeout_ms, lt_node_service_t *out);
/* The pid of a READY service (waits for READY; fails the test otherwise). */
uint32_t lt_node_service_pid(lt_node_t *n, const char *name);

/* Whether <home>/latticed.log holds text; the wait polls it. */
bool lt_node_log_contains(const lt_node_t *n, const char *text);
bool lt_node_wait_log(const lt_node_t *n, const char *text, uint32_t timeout_ms);
/* Prints the node's log and latticed's output to stderr (on failures). */
void lt_node_dump(const lt_node_t *n);

#endif
