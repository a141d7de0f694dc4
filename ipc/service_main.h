/* The main() of a service process whose actor needs nothing opened for it
 * (sync, gossip): the command line every service shares (--home, --help,
 * --version, plus the service's own options), the log, and the process
 * runtime. The store opens the node's database first and has its own. */
#ifndef LT_SERVICE_MAIN_H
#define LT_SERVICE_MAIN_H

#include "ipc/actor.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *name;          /* the service: the program is lattice-<name> */
    const char *usage;         /* the whole --help text */
    const lt_actor_ops_t *ops; /* its actor */
    void *cfg;                 /* handed to ops->start, after option() filled it */
    uint32_t proto;            /* the protocol version sent in READY */
    /* The service's own options (may be NULL): argv[*i] is an option this
     * function has not seen; it returns 1 when it took it (advancing *i past
     * any value), 0 when it does not know it, -1 when its value is wrong
     * (with why in err, one line). */
    int (*option)(void *cfg, int argc, char **argv, int *i, char *err, size_t cap);
} lt_service_main_t;

/* Runs the service; returns the process exit code (LT_PROCESS_EXIT_*). */
int lt_service_main(int argc, char **argv, const lt_service_main_t *m);

#endif
