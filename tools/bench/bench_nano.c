/* bench-nano: the memory of lattice-nano, a whole node in one thread,
 * holding a store of N intentions. For each of its storages (log, memory)
 * it starts lattice-nano in a fresh home with --memory-report, waits for
 * store, sync and gossip READY, makes a KV store, writes N puts of distinct
 * keys from several clients at once (so that the store groups them into
 * few commits), stops the node with SIGTERM and reads the report the node
 * wrote as it began to stop: peak RSS, heap in use, and the part of the heap
 * reserved for mailbox bodies. The same writes on latticed, the full node
 * (the kernel and its lattice-store, lattice-sync and lattice-gossip
 * processes), give the reference: the peak RSS (VmHWM) of the four
 * processes, summed, read just before it stops.
 *
 * Prints ONE JSON object on ONE line of stdout, progress on stderr;
 * tools/bench/README.md says what each figure means. Exit status: 0 done,
 * 1 a node failed or a figure could not be read (no JSON), 2 bad usage. */

/* mkdtemp() is POSIX 2008. */
#define _XOPEN_SOURCE 700

#include "bench_fill.h"
#include "bench_ipc_common.h"
#include "bench_util.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef LT_BENCH_VERSION
#define LT_BENCH_VERSION "unknown"
#endif

#define S_FORMAT     "bench-nano/1" /* bump when a field changes meaning */
#define S_N          10000
#define S_N_QUICK    1000
#define S_POOL_LEN   65536
#define S_CALL_MS    30000
#define S_REPORT_MAX 4096

typedef enum { S_LOG, S_MEMORY, S_NSTORAGES } s_storage_t;

static const char *const s_storage_name[S_NSTORAGES] = {"log", "memory"};

typedef struct {
    bool quick;
    uint64_t n;
    uint32_t clients;
    bool storage[S_NSTORAGES]; /* which to run */
    const char *nano, *latticed, *home_dir;
    bool keep;
} s_opts_t;

/* What the writes cost and what the node held afterwards, either program. */
typedef struct {
    double write_s, puts_per_s;
    uint64_t witnessed;
} s_writes_t;

typedef struct {
    bool ran;
    s_writes_t w;
    /* from the node's own report */
    long long peak_rss_bytes, heap_in_use_bytes, mailbox_body_bytes;
    /* from /proc: VmRSS once READY (before the store was made); VmHWM and
     * Pss just before the stop */
    long long start_rss_bytes, vm_hwm_bytes, pss_bytes;
    long long store_log_bytes; /* <home>/store.log after the stop; log only */
} s_nano_res_t;

/* The kernel and its three service processes. */
enum { S_KERNEL, S_STORE, S_SYNC, S_GOSSIP, S_NPROCS };
static const char *const s_proc_name[S_NPROCS] = {"kernel", "store", "sync", "gossip"};

typedef struct {
    s_writes_t w;
    long long hwm[S_NPROCS], hwm_sum;             /* VmHWM just before the stop */
    long long pss[S_NPROCS], pss_sum;             /* Pss then */
    long long start_rss[S_NPROCS], start_rss_sum; /* VmRSS once READY */
} s_latticed_res_t;

/* ---- one node: start, fill, stop ---- */

typedef struct {
    lt_bench_node_t node;
    lt_client_t *c;
    pid_t pids[S_NPROCS]; /* lattice-nano: the same pid four times */
} s_node_t;

static int s_start(s_node_t *n, const char *prog, const char *base, const char *label,
                   const char *const *args)
{
    if (lt_bench_node_start_in(&n->node, prog, base, label, args, S_CALL_MS, &n->c) != 0)
        return -1;
    n->pids[S_KERNEL] = n->node.pid;
    for (int i = S_STORE; i < S_NPROCS; i++) {
        uint32_t pid = 0;
        if (lt_bench_node_wait_service(&n->node, n->c, s_proc_name[i], 0, LT_BENCH_SERVICE_MS,
                                       &pid) != 0)
            return -1;
        n->pids[i] = (pid_t)pid;
    }
    return 0;
}

/* Makes a KV store and writes n puts into it; checks the store witnessed
 * them all. */
static int s_fill(s_node_t *n, const char *label, const s_opts_t *o, const uint8_t *pool,
                  s_writes_t *w)
{
    lt_client_store_id_t store;
    if (lt_client_store_create(n->c, LT_CLIENT_STORE_KV, "bench-nano", NULL, &store) != LT_OK) {
        lt_bench_note("creating a KV store on %s: %s", label, lt_client_errmsg(n->c));
        return -1;
    }
    if (lt_bench_fill(&n->node, label, &store, pool, S_POOL_LEN, o->n, o->clients, &w->write_s) !=
        0)
        return -1;
    w->puts_per_s = (double)o->n / w->write_s;
    lt_client_store_info_t info;
    if (lt_client_store_info(n->c, &store, &info) != LT_OK) {
        lt_bench_note("store info on %s: %s", label, lt_client_errmsg(n->c));
        return -1;
    }
    if (info.witnessed < o->n) {
        lt_bench_note("%s's store holds %" PRIu64 " witnessed intentions after %" PRIu64 " puts",
                      label, info.witnessed, o->n);
        return -1;
    }
    w->witnessed = info.witnessed;
    return 0;
}

/* Reads a field of /proc/<pid>/<file> of the first nprocs processes into
 * out (lattice-nano: the first only) and returns their sum, or -1 with a
 * note. */
static long long s_read_procs(const s_node_t *n, int nprocs, const char *file, const char *field,
                              long long *out)
{
    long long sum = 0;
    for (int i = 0; i < nprocs; i++) {
        out[i] = lt_bench_proc_mem_bytes(n->pids[i], file, field);
        if (out[i] < 0) {
            lt_bench_note("cannot read %s of %s (pid %d) from /proc/%d/%s", field, s_proc_name[i],
                          (int)n->pids[i], (int)n->pids[i], file);
            return -1;
        }
        sum += out[i];
    }
    return sum;
}

static int s_stop(s_node_t *n, bool failed)
{
    if (failed)
        lt_bench_node_log_tail(&n->node);
    lt_client_close(&n->c);
    int rc = lt_bench_node_stop(&n->node);
    if (rc != 0 && !failed)
        lt_bench_node_log_tail(&n->node);
    return rc;
}

/* ---- lattice-nano's report ---- */

/* The integer after "field": in a flat JSON object. */
static bool s_json_ll(const char *text, const char *field, long long *out)
{
    char key[64];
    snprintf(key, sizeof key, "\"%s\":", field);
    const char *p = strstr(text, key);
    if (!p)
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(p + strlen(key), &end, 10);
    if (errno || end == p + strlen(key) || v < 0)
        return false;
    *out = v;
    return true;
}

static int s_read_report(const char *path, const char *storage, s_nano_res_t *r)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        lt_bench_note("no memory report %s: %s", path, strerror(errno));
        return -1;
    }
    char text[S_REPORT_MAX];
    size_t len = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[len] = '\0';
    char want[64];
    snprintf(want, sizeof want, "\"storage\":\"%s\"", storage);
    if (!s_json_ll(text, "peak_rss_bytes", &r->peak_rss_bytes) ||
        !s_json_ll(text, "heap_in_use_bytes", &r->heap_in_use_bytes) ||
        !s_json_ll(text, "mailbox_body_bytes", &r->mailbox_body_bytes) || !strstr(text, want)) {
        lt_bench_note("the memory report %s is not what lattice-nano writes: %s", path, text);
        return -1;
    }
    return 0;
}

static int s_run_nano(const s_opts_t *o, const char *base, s_storage_t st, const uint8_t *pool,
                      s_nano_res_t *r)
{
    const char *name = s_storage_name[st];
    char label[32], report[LT_BENCH_PATH_MAX];
    snprintf(label, sizeof label, "nano-%s", name);
    snprintf(report, sizeof report, "%s/mem-%s.json", base, name);
    const char *const args[] = {"--storage", name, "--memory-report", report, NULL};
    lt_bench_note("lattice-nano --storage %s (%s), %" PRIu64 " puts", name, o->nano, o->n);
    s_node_t n;
    memset(&n, 0, sizeof n);
    int ret = -1;
    long long one;
    if (s_start(&n, o->nano, base, label, args) != 0)
        goto done;
    r->start_rss_bytes = s_read_procs(&n, 1, "status", "VmRSS", &one);
    if (r->start_rss_bytes < 0 || s_fill(&n, label, o, pool, &r->w) != 0)
        goto done;
    r->vm_hwm_bytes = s_read_procs(&n, 1, "status", "VmHWM", &one);
    r->pss_bytes = s_read_procs(&n, 1, "smaps_rollup", "Pss", &one);
    if (r->vm_hwm_bytes < 0 || r->pss_bytes < 0)
        goto done;
    ret = 0;
done:
    if (s_stop(&n, ret != 0) != 0 || ret != 0)
        return -1;
    if (s_read_report(report, name, r) != 0)
        return -1;
    r->store_log_bytes = -1;
    if (st == S_LOG) {
        char path[LT_BENCH_PATH_MAX + 16];
        struct stat sb;
        snprintf(path, sizeof path, "%s/store.log", n.node.home);
        if (stat(path, &sb) != 0) {
            lt_bench_note("no %s after the stop: %s", path, strerror(errno));
            return -1;
        }
        r->store_log_bytes = (long long)sb.st_size;
    }
    r->ran = true;
    lt_bench_note("  peak RSS %.1f MiB (VmHWM %.1f MiB, Pss %.1f MiB, %.1f MiB once READY), "
                  "heap in use %.1f MiB of which mailbox bodies %.1f MiB",
                  (double)r->peak_rss_bytes / 1048576, (double)r->vm_hwm_bytes / 1048576,
                  (double)r->pss_bytes / 1048576, (double)r->start_rss_bytes / 1048576,
                  (double)r->heap_in_use_bytes / 1048576, (double)r->mailbox_body_bytes / 1048576);
    if (r->heap_in_use_bytes < r->mailbox_body_bytes)
        lt_bench_note("  the heap in use is less than the mailbox bodies in it: lattice-nano's "
                      "malloc is not glibc's (a sanitizer build?), so mallinfo2 says nothing");
    if (st == S_LOG)
        lt_bench_note("  store.log %.1f MiB (%.0f bytes per put)",
                      (double)r->store_log_bytes / 1048576,
                      (double)r->store_log_bytes / (double)o->n);
    return 0;
}

static int s_run_latticed(const s_opts_t *o, const char *base, const uint8_t *pool,
                          s_latticed_res_t *r)
{
    lt_bench_note("latticed (%s) and its store, sync and gossip processes, %" PRIu64 " puts",
                  o->latticed, o->n);
    s_node_t n;
    memset(&n, 0, sizeof n);
    int ret = -1;
    if (s_start(&n, o->latticed, base, "latticed", NULL) != 0)
        goto done;
    r->start_rss_sum = s_read_procs(&n, S_NPROCS, "status", "VmRSS", r->start_rss);
    if (r->start_rss_sum < 0 || s_fill(&n, "latticed", o, pool, &r->w) != 0)
        goto done;
    r->hwm_sum = s_read_procs(&n, S_NPROCS, "status", "VmHWM", r->hwm);
    r->pss_sum = s_read_procs(&n, S_NPROCS, "smaps_rollup", "Pss", r->pss);
    if (r->hwm_sum < 0 || r->pss_sum < 0)
        goto done;
    ret = 0;
done:
    if (s_stop(&n, ret != 0) != 0 || ret != 0)
        return -1;
    lt_bench_note("  peak RSS %.1f MiB summed (Pss %.1f MiB, %.1f MiB once READY): kernel %.1f, "
                  "store %.1f, sync %.1f, gossip %.1f MiB",
                  (double)r->hwm_sum / 1048576, (double)r->pss_sum / 1048576,
                  (double)r->start_rss_sum / 1048576, (double)r->hwm[S_KERNEL] / 1048576,
                  (double)r->hwm[S_STORE] / 1048576, (double)r->hwm[S_SYNC] / 1048576,
                  (double)r->hwm[S_GOSSIP] / 1048576);
    return 0;
}

/* ---- output ---- */

static void s_print_writes(const s_writes_t *w)
{
    printf("\"witnessed\":%" PRIu64 ",\"write_s\":%.3f,\"puts_per_s\":%.1f", w->witnessed,
           w->write_s, w->puts_per_s);
}

static void s_print_json(const s_opts_t *o, const char *fs, const s_nano_res_t *nano,
                         const s_latticed_res_t *ld, double total_s)
{
    printf("{\"bench\":\"nano\",\"format\":\"%s\",\"version\":\"%s\",\"quick\":%s,"
           "\"intentions\":%" PRIu64 ",\"clients\":%u,\"key_len\":%d,\"value_len\":%d,"
           "\"fs\":\"%s\",\"cores\":%ld",
           S_FORMAT, LT_BENCH_VERSION, o->quick ? "true" : "false", o->n, o->clients,
           LT_BENCH_FILL_KEY_LEN, LT_BENCH_FILL_VALUE_LEN, fs, sysconf(_SC_NPROCESSORS_ONLN));
    for (int st = 0; st < S_NSTORAGES; st++) {
        const s_nano_res_t *r = &nano[st];
        if (!r->ran)
            continue;
        printf(",\"nano_%s\":{\"peak_rss_bytes\":%lld,\"heap_in_use_bytes\":%lld,"
               "\"mailbox_body_bytes\":%lld,",
               s_storage_name[st], r->peak_rss_bytes, r->heap_in_use_bytes, r->mailbox_body_bytes);
        /* null: the heap was not glibc's (s_run_nano said so). */
        if (r->heap_in_use_bytes >= r->mailbox_body_bytes)
            printf("\"heap_less_mailbox_bytes\":%lld,",
                   r->heap_in_use_bytes - r->mailbox_body_bytes);
        else
            printf("\"heap_less_mailbox_bytes\":null,");
        printf("\"vm_hwm_bytes\":%lld,\"pss_bytes\":%lld,\"start_rss_bytes\":%lld,",
               r->vm_hwm_bytes, r->pss_bytes, r->start_rss_bytes);
        if (st == S_LOG)
            printf("\"store_log_bytes\":%lld,", r->store_log_bytes);
        s_print_writes(&r->w);
        printf("}");
    }
    printf(",\"latticed\":{\"peak_rss_bytes_sum\":%lld,\"peak_rss_bytes\":{", ld->hwm_sum);
    for (int i = 0; i < S_NPROCS; i++)
        printf("%s\"%s\":%lld", i ? "," : "", s_proc_name[i], ld->hwm[i]);
    printf("},\"pss_bytes_sum\":%lld,\"start_rss_bytes_sum\":%lld,", ld->pss_sum,
           ld->start_rss_sum);
    s_print_writes(&ld->w);
    printf("},\"total_s\":%.2f}\n", total_s);
    fflush(stdout);
}

/* ---- command line ---- */

static void s_usage(FILE *f)
{
    fprintf(f,
            "usage: bench-nano [--quick] [--intentions N] [--clients C] [--storage log|memory]\n"
            "                  [--home-dir DIR] [--keep] [--nano PATH] [--latticed PATH]\n"
            "Measures the memory of lattice-nano holding a KV store of N intentions: for each\n"
            "storage (log, memory), a fresh node, N puts of distinct keys from C clients at\n"
            "once, then SIGTERM; the node's --memory-report gives its peak RSS and heap in\n"
            "use. The same writes on latticed give the reference: the peak RSS of the kernel\n"
            "and its store, sync and gossip processes, summed. Prints one JSON object on one\n"
            "line of stdout (progress on stderr).\n"
            "  --quick            N = %d (CI smoke run, a few seconds)\n"
            "  --intentions N     puts per node (default %d)\n"
            "  --clients C        concurrent writers (default %d, at most %d)\n"
            "  --storage S        lattice-nano with this storage only (default: both)\n"
            "  --home-dir DIR     the run directory (homes, reports) goes under DIR\n"
            "                     (default /tmp); it is removed at the end\n"
            "  --keep             leave the run directory (homes, latticed.log) in place\n"
            "  --nano PATH        lattice-nano to run (default: the one of the build tree\n"
            "                     this executable is in, else lattice-nano from PATH)\n"
            "  --latticed PATH    latticed to run (default: kernel/latticed of the build\n"
            "                     tree, else latticed from PATH)\n"
            "  --help             this text\n"
            "Exit status: 0 done, 1 a node failed or a figure could not be read, 2 bad usage.\n",
            S_N_QUICK, S_N, LT_BENCH_FILL_CLIENTS, LT_BENCH_FILL_MAX_CLIENTS);
}

int main(int argc, char **argv)
{
    s_opts_t o = {.clients = LT_BENCH_FILL_CLIENTS, .home_dir = "/tmp"};
    char nano[PATH_MAX], latticed[PATH_MAX];
    /* Where the build puts lattice-nano: boards/nano, earlier kernel/. */
    if (!lt_bench_build_program("boards/nano/lattice-nano", nano, sizeof nano))
        (void)lt_bench_build_program("kernel/lattice-nano", nano, sizeof nano);
    (void)lt_bench_build_program("kernel/latticed", latticed, sizeof latticed);
    o.nano = nano;
    o.latticed = latticed;
    bool pick = false;
    for (int i = 1; i < argc; i++) {
        uint64_t v = 0;
        const char *a = argv[i];
        bool has_arg = i + 1 < argc;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            s_usage(stdout);
            return 0;
        } else if (strcmp(a, "--quick") == 0) {
            o.quick = true;
        } else if (strcmp(a, "--intentions") == 0 && has_arg &&
                   lt_bench_parse_u64(argv[++i], 1, LT_BENCH_FILL_MAX_N, &v)) {
            o.n = v;
        } else if (strcmp(a, "--clients") == 0 && has_arg &&
                   lt_bench_parse_u64(argv[++i], 1, LT_BENCH_FILL_MAX_CLIENTS, &v)) {
            o.clients = (uint32_t)v;
        } else if (strcmp(a, "--storage") == 0 && has_arg &&
                   (strcmp(argv[i + 1], "log") == 0 || strcmp(argv[i + 1], "memory") == 0)) {
            pick = true;
            o.storage[strcmp(argv[++i], "log") == 0 ? S_LOG : S_MEMORY] = true;
        } else if (strcmp(a, "--home-dir") == 0 && has_arg) {
            o.home_dir = argv[++i];
        } else if (strcmp(a, "--keep") == 0) {
            o.keep = true;
        } else if (strcmp(a, "--nano") == 0 && has_arg) {
            o.nano = argv[++i];
        } else if (strcmp(a, "--latticed") == 0 && has_arg) {
            o.latticed = argv[++i];
        } else {
            lt_bench_note("bad or unknown argument '%s'", a);
            s_usage(stderr);
            return 2;
        }
    }
    if (!pick)
        o.storage[S_LOG] = o.storage[S_MEMORY] = true;
    if (!o.n)
        o.n = o.quick ? S_N_QUICK : S_N;
    if (sodium_init() < 0) {
        lt_bench_note("sodium_init failed");
        return 1;
    }
    /* A client whose kernel went away must not kill the benchmark. */
    signal(SIGPIPE, SIG_IGN);

    double t0 = lt_bench_now();
    char base[LT_BENCH_PATH_MAX / 2];
    if (snprintf(base, sizeof base, "%s/bench-nano.XXXXXX", o.home_dir) >= (int)sizeof base) {
        lt_bench_note("--home-dir path too long");
        return 1;
    }
    if (!mkdtemp(base)) {
        lt_bench_note("cannot make a directory under %s: %s", o.home_dir, strerror(errno));
        return 1;
    }
    char fs[32];
    lt_bench_fs_name(base, fs, sizeof fs);
    static uint8_t pool[S_POOL_LEN];
    randombytes_buf(pool, sizeof pool);
    static s_nano_res_t nano_res[S_NSTORAGES];
    static s_latticed_res_t ld_res;
    int ret = 0;
    for (int st = 0; st < S_NSTORAGES && ret == 0; st++)
        if (o.storage[st])
            ret = s_run_nano(&o, base, (s_storage_t)st, pool, &nano_res[st]);
    if (ret == 0)
        ret = s_run_latticed(&o, base, pool, &ld_res);
    if (o.keep)
        lt_bench_note("kept the homes, logs and reports in %s", base);
    else
        lt_bench_rm_tree(base);
    if (ret != 0)
        return 1;
    s_print_json(&o, fs, nano_res, &ld_res, lt_bench_now() - t0);
    return 0;
}
