/* lattice-store: the store service as a process (DESIGN.md §2). It opens the
 * node's RocksDB database and key from the home and runs the store actor
 * (store_actor.h) in the process runtime (ipc/process.h), which registers it
 * with the kernel. This file only parses the command line, opens the home and
 * turns what went wrong into the exit code the supervisor reads. */
#include "ipc/process.h"
#include "store/store.h"
#include "store/store_actor.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Version of the store protocol's bodies (schemas/store.proto), sent in
 * READY and shown by `lattice node services`. */
#define S_STORE_PROTO 1
#define S_TAG         "store"

static const char s_usage[] =
    "usage: lattice-store [--home DIR]\n"
    "       lattice-store --help | --version\n"
    "\n"
    "The store service of a Lattice node: serves the node database (DIR/store.rdb)\n"
    "and signs with the node key (DIR/identity.key), both created when missing,\n"
    "through the kernel socket DIR/kernel.sock. latticed starts it; start it by\n"
    "hand only for a node run with `latticed --attach store` (under a debugger,\n"
    "say): it registers with the kernel like a spawned one.\n"
    "\n"
    "  --home DIR   the node's home (default: $LATTICE_HOME, else\n"
    "               $XDG_DATA_HOME/lattice, else $HOME/.local/share/lattice)\n"
    "  --help       print this text and exit\n"
    "  --version    print the version and exit\n"
    "\n"
    "It logs to stderr and to DIR/latticed.log, and stops on SIGTERM or SIGINT,\n"
    "or after 60 s without a kernel. Exit status: 0 stopped, 1 failed (worth a\n"
    "restart), 2 bad arguments, 100 the database or the key cannot be used (do\n"
    "not restart: it needs a person), 111 the home is in use by another process\n"
    "(retry later).\n";

static int s_usage_error(const char *fmt, ...) LT_PRINTF(1, 2);
static int s_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("lattice-store: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n\n%s", s_usage);
    return LT_PROCESS_EXIT_USAGE;
}

/* What a failure to open the home means for the supervisor. */
static int s_open_exit(lt_err_t rc, const char **hint)
{
    switch (rc) {
    case LT_ELOCKED:
        *hint = "; stop the other process (latticed or lattice-store) first";
        return LT_PROCESS_EXIT_RETRY;
    case LT_EIO:
    case LT_ENOMEM:
        *hint = "";
        return LT_PROCESS_EXIT_ERROR;
    default: /* corrupt data, a bad key file, a bad path: a person must look */
        *hint = "; this needs a person: it will not go away on a restart";
        return LT_PROCESS_EXIT_CONFIG;
    }
}

int main(int argc, char **argv)
{
    const char *home = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(s_usage, stdout);
            return LT_PROCESS_EXIT_OK;
        } else if (strcmp(a, "--version") == 0) {
            printf("lattice-store %s\n", LT_VERSION);
            return LT_PROCESS_EXIT_OK;
        } else if (strcmp(a, "--home") == 0) {
            if (i + 1 == argc)
                return s_usage_error("%s needs a directory", a);
            home = argv[++i];
        } else if (strncmp(a, "--home=", 7) == 0) {
            home = a + 7;
        } else if (a[0] == '-') {
            return s_usage_error("unknown option '%s'", a);
        } else {
            return s_usage_error("unexpected argument '%s'", a);
        }
    }
    char def[4096];
    if (!home) {
        if (lt_home_default(def, sizeof def) != LT_OK) {
            fputs("lattice-store: no home: pass --home DIR or set LATTICE_HOME\n", stderr);
            return LT_PROCESS_EXIT_USAGE;
        }
        home = def;
    }
    if (!*home)
        return s_usage_error("--home needs a directory");

    lt_store_actor_config_t cfg = {.kv = NULL};
    lt_errbuf_t eb = {""};
    lt_err_t rc = lt_home_open_kv(home, &cfg.kv, &cfg.identity, &eb);
    /* After the home exists, so the log file can be created in it; a
     * failure to open is then in latticed.log too, where the supervisor's
     * owner looks. */
    lt_process_log_t log;
    lt_process_log_open(&log, home, LT_LOG_INFO);
    if (rc) {
        const char *hint;
        int code = s_open_exit(rc, &hint);
        lt_log_error(&log.logger, S_TAG, "cannot open the node at %s: %s%s", home,
                     eb.msg[0] ? eb.msg : lt_strerror(rc), hint);
        lt_process_log_close(&log);
        return code;
    }
    lt_process_opts_t opts = {.home = home, .log = &log.logger, .proto = S_STORE_PROTO};
    int code = lt_process_run(&lt_store_actor, &cfg, &opts);
    if (code == LT_PROCESS_EXIT_CONFIG) /* not started: the backend is still ours */
        lt_kv_close(&cfg.kv);
    lt_identity_wipe(&cfg.identity);
    lt_process_log_close(&log);
    return code;
}
