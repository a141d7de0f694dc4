/* lattice-sync: the sync service as a process (DESIGN.md §2, §7): the sync
 * actor (sync_actor.h) in the process runtime; it reaches the node's store
 * and its peers through the kernel only. */
#include "ipc/service_main.h"
#include "sync/sync_actor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Version of the sync protocol's bodies (schemas/sync.proto), sent in READY. */
#define S_SYNC_PROTO 1

static const char s_usage[] =
    "usage: lattice-sync [--home DIR] [--period SEC]\n"
    "       lattice-sync --help | --version\n"
    "\n"
    "The sync service of a Lattice node: reconciles every store the node holds\n"
    "with the store's active peers (on `lattice sync STORE`, every --period\n"
    "seconds, and whenever a peer starts a session) and fetches what the node\n"
    "lacks, through the kernel socket DIR/kernel.sock. latticed starts it; start\n"
    "it by hand only for a node run with `latticed --attach sync`.\n"
    "\n"
    "  --home DIR     the node's home (default: $LATTICE_HOME, else\n"
    "                 $XDG_DATA_HOME/lattice, else $HOME/.local/share/lattice)\n"
    "  --period SEC   reconcile every store this often (default 60; 0: never,\n"
    "                 only on request and as a responder)\n"
    "  --help         print this text and exit\n"
    "  --version      print the version and exit\n"
    "\n"
    "It logs to stderr and to DIR/latticed.log, and stops on SIGTERM or SIGINT,\n"
    "or after 60 s without a kernel. Exit status: 0 stopped, 1 failed (worth a\n"
    "restart), 2 bad arguments.\n";

static int s_option(void *cfg, int argc, char **argv, int *i, char *err, size_t cap)
{
    lt_sync_actor_config_t *c = cfg;
    if (strcmp(argv[*i], "--period") != 0)
        return 0;
    if (*i + 1 == argc) {
        snprintf(err, cap, "--period needs a number of seconds");
        return -1;
    }
    const char *v = argv[++*i];
    char *end;
    unsigned long sec = strtoul(v, &end, 10);
    if (!*v || *end || v[0] == '-' || sec > 86400) {
        snprintf(err, cap, "--period: '%s' is not a number of seconds (0..86400)", v);
        return -1;
    }
    c->no_periodic = sec == 0;
    c->period_ms = (uint32_t)(sec * 1000);
    return 1;
}

int main(int argc, char **argv)
{
    lt_sync_actor_config_t cfg = {.period_ms = 0};
    lt_service_main_t m = {.name = "sync",
                           .usage = s_usage,
                           .ops = &lt_sync_actor,
                           .cfg = &cfg,
                           .proto = S_SYNC_PROTO,
                           .option = s_option};
    return lt_service_main(argc, argv, &m);
}
