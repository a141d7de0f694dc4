/* lattice-nano: a whole node in one executable and one thread (DESIGN.md
 * §2.1, boards/README.md). The kernel of latticed (kernel/run.h) with its services —
 * store, sync, gossip, the very same actor objects the service processes run
 * — hosted in its own loop by the cooperative runtime (kernel/inproc.h), and
 * a storage backend that needs no RocksDB: the append-only log file
 * (store/kv_log.h) or memory. It speaks the same peer protocol and serves the
 * same kernel socket, so the lattice CLI drives it and it joins stores held
 * by latticed nodes.
 *
 * Threads: the node's work runs on the main thread only. libzmq moves bytes
 * on its own I/O thread (the host's link transport); a board build replaces
 * that transport, not the node. */
#include "gossip/gossip_actor.h"
#include "kernel/config.h"
#include "kernel/inproc.h"
#include "kernel/run.h"
#include "store/kv_log.h"
#include "store/store.h"
#include "store/store_actor.h"
#include "store/tables.h"
#include "sync/sync_actor.h"

#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

typedef enum { S_STORAGE_LOG, S_STORAGE_MEMORY } s_storage_t;

typedef struct {
    lt_kconfig_t kcfg;
    s_storage_t storage;
    const char *report; /* --memory-report FILE, or NULL */
    const lt_kernel_t *k;
    lt_store_actor_config_t store;
    lt_sync_actor_config_t sync;
    lt_gossip_actor_config_t gossip;
    lt_inproc_service_t svcs[3];
} s_nano_t;

static void s_usage(FILE *out)
{
    fprintf(out,
            "usage: lattice-nano [options]\n"
            "Runs a whole Lattice node — kernel, store, sync and gossip — in one thread,\n"
            "without RocksDB, in the foreground until SIGTERM, SIGINT, SIGHUP or\n"
            "`lattice node stop`. The lattice CLI reaches it on <home>/kernel.sock as it\n"
            "reaches latticed, and it links to other nodes (latticed or lattice-nano)\n"
            "with the same peer protocol.\n"
            "\n"
            "  --home DIR              node home (default: $LATTICE_HOME, else\n"
            "                          $XDG_DATA_HOME/lattice, else ~/.local/share/lattice);\n"
            "                          not one latticed keeps (store.rdb)\n"
            "  --storage log|memory    log: every write is appended to <home>/store.log and\n"
            "                          the file is replayed at start (default); memory:\n"
            "                          nothing outlives the process\n"
            "  --listen tcp://HOST:PORT  accept peer links there (repeatable, at most %d;\n"
            "                          PORT 0 picks a free port). Default: none\n"
            "  --sync-period SEC       reconcile every store with its peers this often\n"
            "                          (default 60; 0: only on request and as a responder)\n"
            "  --memory-report FILE    when the node stops, write its peak RSS, heap in use\n"
            "                          and mailbox reserve (measured before the services\n"
            "                          stop) to FILE as one JSON object\n"
            "  --log-level LEVEL       error, warn, info or debug (default info)\n"
            "  --help                  this text\n"
            "  --version               the version\n"
            "\n"
            "Exit status: 0 stopped on request, 1 failed to start or run, 2 bad usage.\n",
            LT_KCONFIG_MAX_LISTEN);
}

static int s_bad(const char *fmt, const char *arg)
{
    fputs("lattice-nano: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\n(see lattice-nano --help)\n", stderr);
    return 2;
}

/* Parses the command line into n. -1: run; else the exit status. */
static int s_parse(s_nano_t *n, int argc, char **argv)
{
    enum { O_HOME = 256, O_STORAGE, O_LISTEN, O_PERIOD, O_REPORT, O_LOG, O_HELP, O_VERSION };
    static const struct option opts[] = {
        {"home", required_argument, NULL, O_HOME},
        {"storage", required_argument, NULL, O_STORAGE},
        {"listen", required_argument, NULL, O_LISTEN},
        {"sync-period", required_argument, NULL, O_PERIOD},
        {"memory-report", required_argument, NULL, O_REPORT},
        {"log-level", required_argument, NULL, O_LOG},
        {"help", no_argument, NULL, O_HELP},
        {"version", no_argument, NULL, O_VERSION},
        {NULL, 0, NULL, 0},
    };
    lt_kconfig_t *c = &n->kcfg;
    opterr = 0;
    for (;;) {
        int c_opt = getopt_long(argc, argv, ":", opts, NULL);
        if (c_opt == -1)
            break;
        switch (c_opt) {
        case O_HOME:
            if (!optarg[0] || strlen(optarg) >= sizeof c->home)
                return s_bad("--home needs a directory path%s", "");
            snprintf(c->home, sizeof c->home, "%s", optarg);
            break;
        case O_STORAGE:
            if (strcmp(optarg, "log") == 0)
                n->storage = S_STORAGE_LOG;
            else if (strcmp(optarg, "memory") == 0)
                n->storage = S_STORAGE_MEMORY;
            else
                return s_bad("--storage: '%s' is not log or memory", optarg);
            break;
        case O_LISTEN:
            if (!lt_kconfig_add_listen(c, optarg, "lattice-nano", stderr))
                return 2;
            break;
        case O_PERIOD: {
            char *end;
            errno = 0;
            unsigned long sec = strtoul(optarg, &end, 10);
            if (!optarg[0] || *end || optarg[0] == '-' || errno || sec > 86400)
                return s_bad("--sync-period: '%s' is not a number of seconds (0..86400)", optarg);
            n->sync.no_periodic = sec == 0;
            n->sync.period_ms = (uint32_t)(sec * 1000);
            break;
        }
        case O_REPORT:
            if (!optarg[0])
                return s_bad("--memory-report needs a file%s", "");
            n->report = optarg;
            break;
        case O_LOG:
            if (!lt_kconfig_set_log_level(c, optarg, "lattice-nano", stderr))
                return 2;
            break;
        case O_HELP:
            s_usage(stdout);
            return 0;
        case O_VERSION:
            printf("lattice-nano %s\n", LT_VERSION);
            return 0;
        case ':':
            return s_bad("%s needs a value", argv[optind - 1]);
        default:
            return s_bad("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return s_bad("unexpected argument '%s'", argv[optind]);
    return -1;
}

/* ---- the hosted services ---- */

static lt_err_t s_store_config(void *ctx, const void **cfg, lt_errbuf_t *eb)
{
    s_nano_t *n = ctx;
    const char *home = n->k->home->dir;
    char path[LT_KCONFIG_PATH_MAX + 32];
    lt_err_t rc;
    /* Its node key is that node's too: one home, one node. */
    snprintf(path, sizeof path, "%s/" LT_HOME_RDB_DIR, home);
    if (access(path, F_OK) == 0)
        return lt_fail(eb, LT_EINVAL,
                       "home %s holds a latticed node (%s): run latticed on it, or use "
                       "another home",
                       home, LT_HOME_RDB_DIR);
    if (n->storage == S_STORAGE_MEMORY) {
        rc = lt_kv_mem_open(LT_CF_COUNT, &n->store.kv);
        if (rc)
            return lt_fail(eb, rc, "cannot create the in-memory store: %s", lt_strerror(rc));
    } else {
        snprintf(path, sizeof path, "%s/" LT_HOME_LOG_FILE, home);
        lt_kv_log_opts_t o = {.create_if_missing = true};
        rc = lt_kv_log_open(path, LT_CF_COUNT, &o, eb, &n->store.kv);
        if (rc)
            return rc;
    }
    *cfg = &n->store;
    return LT_OK;
}

static void s_store_unconfig(void *ctx)
{
    s_nano_t *n = ctx;
    lt_kv_close(&n->store.kv);
}

static lt_err_t s_fixed_config(void *ctx, const void **cfg, lt_errbuf_t *eb)
{
    (void)eb;
    *cfg = ctx;
    return LT_OK;
}

static lt_err_t s_setup(lt_kernel_t *k, const lt_identity_t *id, void *ctx, lt_errbuf_t *eb)
{
    s_nano_t *n = ctx;
    n->k = k;
    n->store.identity = *id;
    n->svcs[0] = (lt_inproc_service_t){.name = "store",
                                       .ops = &lt_store_actor,
                                       .config = s_store_config,
                                       .unconfig = s_store_unconfig,
                                       .ctx = n};
    n->svcs[1] = (lt_inproc_service_t){
        .name = "sync", .ops = &lt_sync_actor, .config = s_fixed_config, .ctx = &n->sync};
    n->svcs[2] = (lt_inproc_service_t){
        .name = "gossip", .ops = &lt_gossip_actor, .config = s_fixed_config, .ctx = &n->gossip};
    return lt_inproc_open(k, n->svcs, 3, eb);
}

/* ---- the memory report ---- */

static void s_report(lt_kernel_t *k, void *ctx)
{
    s_nano_t *n = ctx;
    if (!n->report)
        return;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    struct mallinfo2 mi = mallinfo2();
    FILE *f = fopen(n->report, "w");
    if (!f) {
        lt_log_warn(&k->log, "nano", "cannot write the memory report %s: %s", n->report,
                    strerror(errno));
        return;
    }
    /* ru_maxrss is in KiB on Linux. uordblks: bytes in use in the heap's
     * arenas; hblkhd: bytes in blocks malloc took with mmap, the mailbox
     * bodies among them (mailbox_body_bytes: reserved whole, resident only
     * as far as messages reached into them). */
    fprintf(f,
            "{\"peak_rss_bytes\":%llu,\"heap_in_use_bytes\":%zu,\"mailbox_body_bytes\":%zu,"
            "\"storage\":\"%s\"}\n",
            (unsigned long long)ru.ru_maxrss * 1024ULL, mi.uordblks + mi.hblkhd,
            lt_inproc_body_bytes(k), n->storage == S_STORAGE_LOG ? "log" : "memory");
    if (fclose(f) != 0)
        lt_log_warn(&k->log, "nano", "cannot write the memory report %s", n->report);
}

int main(int argc, char **argv)
{
    static s_nano_t n;
    lt_kconfig_defaults(&n.kcfg);
    n.storage = S_STORAGE_LOG;
    int status = s_parse(&n, argc, argv);
    if (status >= 0)
        return status;
    static const char *const names[] = {"store", "sync", "gossip"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(n.kcfg.services[i].name, LT_NAME_MAX, "%s", names[i]);
        n.kcfg.services[i].inproc = true;
    }
    n.kcfg.nservices = 3;
    lt_kernel_program_t prog = {
        .name = "lattice-nano", .setup = s_setup, .stopping = s_report, .ctx = &n};
    status = lt_kernel_main(&n.kcfg, &prog);
    lt_identity_wipe(&n.store.identity);
    return status;
}
