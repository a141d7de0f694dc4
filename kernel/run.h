/* The kernel's lifecycle and loop, shared by the programs that are a node's
 * kernel: latticed (service processes) and lattice-nano (every service in
 * its own thread, kernel/inproc.h).
 *
 * Exit status of both: 0 stopped on request (SIGTERM, SIGINT, SIGHUP,
 * KERNEL_STOP), 1 could not start or run (home refused or locked, socket,
 * storage, ...); their main() returns 2 for a bad command line. */
#ifndef LT_KERNEL_RUN_H
#define LT_KERNEL_RUN_H

#include "kernel/config.h"
#include "kernel/kernel.h"
#include "weaver/identity.h"

typedef struct {
    const char *name; /* the program, for messages */
    /* Called once the home is locked, the node key exists and the service
     * slots are set up, before any service starts (may be NULL): where
     * lattice-nano hosts its services (lt_inproc_open). id is wiped after
     * the call; copy what is needed. A failure stops the node (status 1),
     * with the line in eb logged. */
    lt_err_t (*setup)(lt_kernel_t *k, const lt_identity_t *id, void *ctx, lt_errbuf_t *eb);
    /* Called once when the node begins to stop, before any service stops
     * (may be NULL). */
    void (*stopping)(lt_kernel_t *k, void *ctx);
    void *ctx; /* handed to both */
} lt_kernel_program_t;

/* Runs the node in the foreground until it is stopped; returns the exit
 * status. cfg is borrowed for the run. Call it before any thread exists. */
int lt_kernel_main(const lt_kconfig_t *cfg, const lt_kernel_program_t *prog);

#endif
