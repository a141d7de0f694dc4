/* lattice-sync: the sync service as a process (DESIGN.md §2, §7). It runs
 * the sync actor (sync_actor.h) in the process runtime (ipc/process.h),
 * which registers it with the kernel; the actor reaches the node's store and
 * its peers through the kernel only. This file parses the command line. */
#include "ipc/process.h"
#include "store/store.h"
#include "sync/sync_actor.h"

#include <stdarg.h>
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

static int s_usage_error(const char *fmt, ...) LT_PRINTF(1, 2);
static int s_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("lattice-sync: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n\n%s", s_usage);
    return LT_PROCESS_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    const char *home = NULL;
    lt_sync_actor_config_t cfg = {.period_ms = 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(s_usage, stdout);
            return LT_PROCESS_EXIT_OK;
        } else if (strcmp(a, "--version") == 0) {
            printf("lattice-sync %s\n", LT_VERSION);
            return LT_PROCESS_EXIT_OK;
        } else if (strcmp(a, "--home") == 0) {
            if (i + 1 == argc)
                return s_usage_error("%s needs a directory", a);
            home = argv[++i];
        } else if (strncmp(a, "--home=", 7) == 0) {
            home = a + 7;
        } else if (strcmp(a, "--period") == 0) {
            if (i + 1 == argc)
                return s_usage_error("%s needs a number of seconds", a);
            char *end;
            const char *v = argv[++i];
            unsigned long sec = strtoul(v, &end, 10);
            if (!*v || *end || v[0] == '-' || sec > 86400)
                return s_usage_error("--period: '%s' is not a number of seconds (0..86400)", v);
            cfg.no_periodic = sec == 0;
            cfg.period_ms = (uint32_t)(sec * 1000);
        } else if (a[0] == '-') {
            return s_usage_error("unknown option '%s'", a);
        } else {
            return s_usage_error("unexpected argument '%s'", a);
        }
    }
    char def[4096];
    if (!home) {
        if (lt_home_default(def, sizeof def) != LT_OK) {
            fputs("lattice-sync: no home: pass --home DIR or set LATTICE_HOME\n", stderr);
            return LT_PROCESS_EXIT_USAGE;
        }
        home = def;
    }
    if (!*home)
        return s_usage_error("--home needs a directory");
    lt_process_log_t log;
    lt_process_log_open(&log, home, LT_LOG_INFO);
    lt_process_opts_t opts = {.home = home, .log = &log.logger, .proto = S_SYNC_PROTO};
    int code = lt_process_run(&lt_sync_actor, &cfg, &opts);
    lt_process_log_close(&log);
    return code;
}
