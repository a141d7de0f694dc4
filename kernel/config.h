/* The kernel's configuration: the command line of latticed, its defaults,
 * and the table of services this build knows how to run. main.c parses it
 * once; every other part of the kernel reads it and never changes it. */
#ifndef LT_KERNEL_CONFIG_H
#define LT_KERNEL_CONFIG_H

#include "ipc/actor.h"
#include "weaver/log.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Most services one node runs (the size of kernel.proto's lists). */
#define LT_KCONFIG_MAX_SERVICES 16
#define LT_KCONFIG_PATH_MAX     4096

/* Defaults of the knobs (kernel/README.md, "Supervision" and "Queues"). */
#define LT_KCONFIG_MAX_RESTARTS      5
#define LT_KCONFIG_RESTART_WINDOW_S  60
#define LT_KCONFIG_QUEUE_MAX         1024
#define LT_KCONFIG_QUEUE_BYTES       (16u * 1024 * 1024)
#define LT_KCONFIG_QUEUE_DEADLINE_MS 5000
#define LT_KCONFIG_INFLIGHT_MAX      1024
#define LT_KCONFIG_STOP_TIMEOUT_MS   5000
#define LT_KCONFIG_ADOPT_TIMEOUT_MS  3000
#define LT_KCONFIG_START_TIMEOUT_MS  60000
/* --listen: how many addresses, and the longest one. */
#define LT_KCONFIG_MAX_LISTEN 8
#define LT_KCONFIG_ADDR_MAX   128

typedef struct {
    char name[LT_NAME_MAX];
    bool attached; /* --attach: the kernel never spawns it */
    bool inproc;   /* hosted in the kernel's thread (lattice-nano) */
} lt_kconfig_service_t;

typedef struct {
    /* --home as given; empty: the default (lt_home_resolve). */
    char home[LT_KCONFIG_PATH_MAX];
    /* Enabled services in start order (stop order is the reverse). */
    lt_kconfig_service_t services[LT_KCONFIG_MAX_SERVICES];
    size_t nservices;
    /* Restart intensity: more than max_restarts crashes within
     * restart_window_s seconds and the service is FAILED. */
    uint32_t max_restarts;
    uint32_t restart_window_s;
    /* Per-service queue while it is not READY (and past the in-flight
     * bound): messages, bytes of bodies, and how long a request may wait. */
    uint32_t queue_max;
    uint64_t queue_bytes;
    uint32_t queue_deadline_ms;
    /* Requests forwarded to one service and not answered yet. */
    uint32_t inflight_max;
    /* SIGTERM to SIGKILL when stopping a service. */
    uint32_t stop_timeout_ms;
    /* How long a service left running by a previous kernel has to register
     * before it is killed and started afresh. */
    uint32_t adopt_timeout_ms;
    /* How long a spawned service has to send READY (it opens its database
     * first) before it is taken for hung: killed and counted as a crash. */
    uint32_t start_timeout_ms;
    lt_log_level_t log_level;
    /* --listen: TCP addresses peer links are accepted on (DESIGN.md §7),
     * "tcp://HOST:PORT" (PORT 0: any free port). */
    char listen[LT_KCONFIG_MAX_LISTEN][LT_KCONFIG_ADDR_MAX];
    size_t nlisten;
} lt_kconfig_t;

/* Whether text is a listen address latticed accepts: tcp://HOST:PORT with
 * a non-empty HOST (a name, an IPv4 address, [IPv6] or *) and PORT 0..65535.
 * On false, why says what is wrong. */
bool lt_kconfig_listen_ok(const char *text, const char **why);

typedef enum {
    LT_KCONFIG_RUN,   /* start the node */
    LT_KCONFIG_EXIT,  /* --help or --version printed: exit 0 */
    LT_KCONFIG_USAGE, /* bad command line, message printed: exit 2 */
} lt_kconfig_result_t;

/* Every knob at its default, no services, no listen address. */
void lt_kconfig_defaults(lt_kconfig_t *cfg);

/* Options latticed and lattice-nano share: each checks text, prints one
 * line to err naming prog when it is wrong (false), else sets cfg. */
bool lt_kconfig_add_listen(lt_kconfig_t *cfg, const char *text, const char *prog, FILE *err);
bool lt_kconfig_set_log_level(lt_kconfig_t *cfg, const char *text, const char *prog, FILE *err);

/* Fills cfg from argv (defaults first). Prints --help/--version to out and
 * a one-line error (plus a hint) to err. */
lt_kconfig_result_t lt_kconfig_parse(lt_kconfig_t *cfg, int argc, char **argv, FILE *out,
                                     FILE *err);

/* Whether this build knows a service called name (it has a lattice-<name>
 * program to run). */
bool lt_kconfig_known(const char *name);

/* Comma-separated names of the known services, for messages. */
const char *lt_kconfig_known_list(void);

#endif
