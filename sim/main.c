/* lattice-sim: runs the simulator (sim.h) from the command line; JSON on
 * stdout (one line, the last), a plot with --svg, wall time on stderr. */
#include "sim/sim.h"

#include "weaver/identity.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char s_usage[] =
    "usage: lattice-sim [options]\n"
    "Runs N whole Lattice nodes (store, sync and gossip actors) in one thread on a\n"
    "virtual clock over a simulated network, writes on them, plays faults, and\n"
    "prints one line of JSON when every node holds the same intentions and the\n"
    "same state, or at the deadline. The same options give the same output.\n"
    "\n"
    "  --nodes N          nodes (default 24, at most 256)\n"
    "  --seed S           every random draw (default 1)\n"
    "  --topology T       full, ring, kregular, star or line (default kregular)\n"
    "  --degree K         links per node of kregular (default 4)\n"
    "  --loss P           probability a packet is lost (default 0)\n"
    "  --dup P            probability a packet arrives twice (default 0)\n"
    "  --latency MS       one-way latency of every link (default 10)\n"
    "  --jitter MS        plus up to this, drawn per packet: reordering (default 10)\n"
    "  --bandwidth KBPS   cap per link and direction, kbit/s (default none)\n"
    "  --writes W         puts in all (default 1000)\n"
    "  --rate R           puts per virtual second (default 200)\n"
    "  --keys K           distinct keys written (default 64)\n"
    "  --conflict P       share of puts made on two nodes at once (default 0.05)\n"
    "  --value-bytes B    size of each value (default 32)\n"
    "  --partition A:H    cut the nodes in two halves at A ms, heal at H ms\n"
    "                     (since the writes began; repeatable)\n"
    "  --late N           the last N nodes join late and clone (default 0)\n"
    "  --late-at MS       when they join (default 1000)\n"
    "  --sync-period MS   every node reconciles this often (default 10000)\n"
    "  --deadline MS      give up after this much virtual time (default 600000)\n"
    "  --sample MS        look at convergence this often (default 250)\n"
    "  --svg FILE         plot replicas caught up over virtual time\n"
    "  --help             this text\n"
    "\n"
    "Exit status: 0 converged, 1 not converged by the deadline, 2 bad usage,\n"
    "3 the simulation could not run.\n";

static int s_bad(const char *what)
{
    fprintf(stderr, "lattice-sim: %s (see --help)\n", what);
    return 2;
}

static bool s_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (!s || !*s || *s == '-')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return false;
    *out = v;
    return true;
}

static bool s_prob(const char *s, uint32_t scale, uint32_t *out)
{
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !(v >= 0.0 && v <= 1.0))
        return false;
    *out = (uint32_t)(v * scale + 0.5);
    return true;
}

static double s_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    lt_sim_config_t c;
    lt_sim_config_default(&c);
    c.late_at_ms = 1000;
    const char *svg = NULL;
    char why[160];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(s_usage, stdout);
            return 0;
        }
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t x = 0;
        if (!v) {
            snprintf(why, sizeof why, "%s needs a value", a);
            return s_bad(strncmp(a, "--", 2) == 0 ? why : "unknown argument");
        }
        i++;
        bool ok = true;
        if (strcmp(a, "--nodes") == 0 && (ok = s_u64(v, LT_SIM_MAX_NODES, &x)))
            c.nodes = (unsigned)x;
        else if (strcmp(a, "--seed") == 0)
            ok = s_u64(v, UINT64_MAX, &c.seed);
        else if (strcmp(a, "--topology") == 0)
            ok = lt_sim_topology_parse(v, &c.topology);
        else if (strcmp(a, "--degree") == 0 && (ok = s_u64(v, LT_SIM_MAX_NODES, &x)))
            c.degree = (unsigned)x;
        else if (strcmp(a, "--loss") == 0)
            ok = s_prob(v, 1000000, &c.loss_ppm);
        else if (strcmp(a, "--dup") == 0)
            ok = s_prob(v, 1000000, &c.dup_ppm);
        else if (strcmp(a, "--latency") == 0 && (ok = s_u64(v, 600000, &x)))
            c.latency_ms = (uint32_t)x;
        else if (strcmp(a, "--jitter") == 0 && (ok = s_u64(v, 600000, &x)))
            c.jitter_ms = (uint32_t)x;
        else if (strcmp(a, "--bandwidth") == 0 && (ok = s_u64(v, UINT32_MAX, &x)))
            c.bandwidth_kbps = (uint32_t)x;
        else if (strcmp(a, "--writes") == 0 && (ok = s_u64(v, 100000000, &x)))
            c.writes = (unsigned)x;
        else if (strcmp(a, "--rate") == 0 && (ok = s_u64(v, 1000, &x) && x > 0))
            c.rate_per_s = (uint32_t)x;
        else if (strcmp(a, "--keys") == 0 && (ok = s_u64(v, 100000000, &x) && x > 0))
            c.keys = (unsigned)x;
        else if (strcmp(a, "--conflict") == 0)
            ok = s_prob(v, 1000, &c.conflict_pm);
        else if (strcmp(a, "--value-bytes") == 0 && (ok = s_u64(v, 500, &x)))
            c.value_bytes = (unsigned)x;
        else if (strcmp(a, "--partition") == 0) {
            const char *colon = strchr(v, ':');
            char at[32];
            uint64_t heal = 0;
            ok = colon && (size_t)(colon - v) < sizeof at && c.npartitions < LT_SIM_MAX_PARTITIONS;
            if (ok) {
                memcpy(at, v, (size_t)(colon - v));
                at[colon - v] = '\0';
                ok = s_u64(at, UINT32_MAX, &x) && s_u64(colon + 1, UINT32_MAX, &heal) && heal > x;
            }
            if (ok)
                c.partitions[c.npartitions++] = (lt_sim_partition_t){x, heal};
        } else if (strcmp(a, "--late") == 0 && (ok = s_u64(v, LT_SIM_MAX_NODES, &x)))
            c.late = (unsigned)x;
        else if (strcmp(a, "--late-at") == 0)
            ok = s_u64(v, UINT32_MAX, &c.late_at_ms);
        else if (strcmp(a, "--sync-period") == 0 && (ok = s_u64(v, 86400000, &x) && x > 0))
            c.sync_period_ms = (uint32_t)x;
        else if (strcmp(a, "--deadline") == 0)
            ok = s_u64(v, UINT32_MAX, &c.deadline_ms);
        else if (strcmp(a, "--sample") == 0 && (ok = s_u64(v, 600000, &x) && x > 0))
            c.sample_ms = (uint32_t)x;
        else if (strcmp(a, "--svg") == 0)
            svg = v;
        else if (ok) {
            snprintf(why, sizeof why, "unknown option %s", a);
            return s_bad(why);
        }
        if (!ok) {
            snprintf(why, sizeof why, "%s: '%s' is not a valid value", a, v);
            return s_bad(why);
        }
    }
    if (lt_crypto_init() != LT_OK) {
        fprintf(stderr, "lattice-sim: libsodium did not initialise\n");
        return 3;
    }
    lt_sim_result_t r;
    char err[256] = "";
    double t0 = s_wall();
    lt_err_t rc = lt_sim_run(&c, &r, err, sizeof err);
    double wall = s_wall() - t0;
    if (rc) {
        fprintf(stderr, "lattice-sim: %s\n", err);
        lt_sim_result_free(&r);
        return rc == LT_EINVAL ? 2 : 3;
    }
    fprintf(stderr,
            "lattice-sim: %s after %.1f virtual s; %.2f wall s, %" PRIu64
            " events (%.0f events/s)\n",
            r.converged ? "converged" : "NOT converged", r.virtual_ms / 1000.0, wall, r.events,
            wall > 0 ? r.events / wall : 0.0);
    lt_buf_t b = LT_BUF_INIT;
    int status = 3;
    if (svg && lt_sim_svg(&c, &r, &b) == LT_OK) {
        FILE *f = fopen(svg, "w");
        if (!f || fwrite(b.data, 1, b.len, f) != b.len || fclose(f) != 0) {
            fprintf(stderr, "lattice-sim: cannot write %s: %s\n", svg, strerror(errno));
            lt_buf_free(&b);
            lt_sim_result_free(&r);
            return 3;
        }
    }
    lt_buf_reset(&b);
    if (lt_sim_json(&c, &r, &b) == LT_OK) {
        printf("%.*s\n", (int)b.len, (const char *)b.data);
        status = r.converged ? 0 : 1;
    }
    lt_buf_free(&b);
    lt_sim_result_free(&r);
    return status;
}
