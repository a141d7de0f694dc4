/* lattice-gossip: the gossip service as a process (DESIGN.md §2, §7): the
 * gossip actor (gossip_actor.h) in the process runtime. */
#include "gossip/gossip_actor.h"
#include "ipc/service_main.h"

/* Version of the gossip protocol's bodies (schemas/gossip.proto). */
#define S_GOSSIP_PROTO 1

static const char s_usage[] =
    "usage: lattice-gossip [--home DIR]\n"
    "       lattice-gossip --help | --version\n"
    "\n"
    "The gossip service of a Lattice node: pushes each intention the node's\n"
    "store witnesses to the store's active peers as it happens, and ingests\n"
    "what they push, through the kernel socket DIR/kernel.sock. latticed starts\n"
    "it; start it by hand only for a node run with `latticed --attach gossip`.\n"
    "\n"
    "  --home DIR     the node's home (default: $LATTICE_HOME, else\n"
    "                 $XDG_DATA_HOME/lattice, else $HOME/.local/share/lattice)\n"
    "  --help         print this text and exit\n"
    "  --version      print the version and exit\n"
    "\n"
    "It logs to stderr and to DIR/latticed.log, and stops on SIGTERM or SIGINT,\n"
    "or after 60 s without a kernel. Exit status: 0 stopped, 1 failed (worth a\n"
    "restart), 2 bad arguments.\n";

int main(int argc, char **argv)
{
    lt_gossip_actor_config_t cfg = {0};
    lt_service_main_t m = {.name = "gossip",
                           .usage = s_usage,
                           .ops = &lt_gossip_actor,
                           .cfg = &cfg,
                           .proto = S_GOSSIP_PROTO};
    return lt_service_main(argc, argv, &m);
}
