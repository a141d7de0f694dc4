/* The simulator (sim/sim.h): whole nodes over a simulated network converge,
 * whatever the network does, and a run is a function of its config. */
#include "sim/sim.h"
#include "weaver/identity.h"

#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

static void s_setup(void)
{
    cr_assert_eq(lt_crypto_init(), LT_OK);
}

TestSuite(sim, .init = s_setup, .timeout = 600);

/* Runs cfg; asserts it converged with one state on every node. */
static lt_sim_result_t s_converges(const lt_sim_config_t *cfg)
{
    lt_sim_result_t r;
    char err[256] = "";
    lt_err_t rc = lt_sim_run(cfg, &r, err, sizeof err);
    cr_assert_eq(rc, LT_OK, "the run failed: %s", err);
    cr_assert(r.converged, "seed %llu: not converged after %llu virtual ms",
              (unsigned long long)cfg->seed, (unsigned long long)r.virtual_ms);
    cr_assert_eq(strlen(r.state_hash[0]), 64);
    for (unsigned i = 1; i < r.nodes; i++) {
        cr_assert_str_eq(r.state_hash[i], r.state_hash[0], "seed %llu: node %u differs",
                         (unsigned long long)cfg->seed, i);
        cr_assert_eq(r.node_witnessed[i], r.node_witnessed[0]);
    }
    cr_assert_eq(r.writes_ok, cfg->writes, "%llu of %u writes succeeded",
                 (unsigned long long)r.writes_ok, cfg->writes);
    /* Every write is held everywhere (plus the store's creation and joins). */
    cr_assert_geq(r.witnessed, cfg->writes);
    return r;
}

static char *s_json(const lt_sim_config_t *cfg)
{
    lt_sim_result_t r;
    char err[256] = "";
    cr_assert_eq(lt_sim_run(cfg, &r, err, sizeof err), LT_OK, "%s", err);
    lt_buf_t b = LT_BUF_INIT;
    cr_assert_eq(lt_sim_json(cfg, &r, &b), LT_OK);
    cr_assert_eq(lt_buf_put_u8(&b, 0), LT_OK);
    lt_sim_result_free(&r);
    return (char *)b.data;
}

Test(sim, twenty_four_nodes_random_4_regular_ten_percent_loss_and_a_healed_partition_converge)
{
    lt_sim_config_t c;
    lt_sim_config_default(&c);
    c.nodes = 24;
    c.topology = LT_SIM_KREGULAR;
    c.degree = 4;
    c.loss_ppm = 100000;
    c.writes = 600;
    c.partitions[c.npartitions++] = (lt_sim_partition_t){500, 2500};
    lt_sim_result_t r = s_converges(&c);
    cr_assert_gt(r.lost, 0, "the network lost nothing");
    cr_assert_gt(r.virtual_ms_to_converge, 2500, "converged before the heal");
    cr_assert_gt(r.gap_recoveries + r.reconciliations, 0, "nothing had to be recovered");
    /* The plot covers the run. */
    lt_buf_t svg = LT_BUF_INIT;
    cr_assert_eq(lt_sim_svg(&c, &r, &svg), LT_OK);
    cr_assert_gt(r.nsamples, 4);
    cr_assert_eq(r.samples[r.nsamples - 1].caught_up, 24);
    lt_buf_free(&svg);
    lt_sim_result_free(&r);
}

Test(sim, fifty_nodes_in_a_line_converge)
{
    lt_sim_config_t c;
    lt_sim_config_default(&c);
    c.nodes = 50;
    c.topology = LT_SIM_LINE;
    c.writes = 150;
    lt_sim_result_t r = s_converges(&c);
    /* An intention written at one end crosses 49 links: not before 49 x
     * the latency. */
    cr_assert_geq(r.virtual_ms_to_converge, 49 * c.latency_ms);
    lt_sim_result_free(&r);
}

Test(sim, nodes_that_join_late_clone_and_converge)
{
    lt_sim_config_t c;
    lt_sim_config_default(&c);
    c.nodes = 12;
    c.writes = 400;
    c.late = 2;
    c.late_at_ms = 1500;
    c.loss_ppm = 20000;
    lt_sim_result_t r = s_converges(&c);
    cr_assert_eq(r.clones, 2);
    lt_sim_result_free(&r);
}

Test(sim, the_same_run_twice_prints_the_same_and_another_seed_does_not)
{
    lt_sim_config_t c;
    lt_sim_config_default(&c);
    c.nodes = 10;
    c.writes = 200;
    c.loss_ppm = 100000;
    c.dup_ppm = 50000;
    c.partitions[c.npartitions++] = (lt_sim_partition_t){300, 900};
    char *a = s_json(&c), *b = s_json(&c);
    cr_assert_str_eq(a, b, "two runs of one config differ");
    c.seed = 2;
    char *d = s_json(&c);
    cr_assert_str_neq(a, d, "another seed gave the same trace");
    cr_assert(strstr(a, "\"converged\":true"), "%s", a);
    free(a);
    free(b);
    free(d);
}

Test(sim, random_workloads_and_faults_always_converge_to_one_state)
{
    static const lt_sim_topology_t topo[] = {LT_SIM_FULL, LT_SIM_RING, LT_SIM_KREGULAR, LT_SIM_STAR,
                                             LT_SIM_LINE};
    uint64_t x = 0x5eed;
    for (uint64_t seed = 1; seed <= 16; seed++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        lt_sim_config_t c;
        lt_sim_config_default(&c);
        c.seed = seed;
        c.nodes = 4 + (unsigned)(x % 7);
        c.topology = topo[(x >> 8) % 5];
        c.degree = 2 + (unsigned)((x >> 12) % 2);
        if (c.topology == LT_SIM_KREGULAR && (c.degree * c.nodes) % 2)
            c.degree = 2;
        c.loss_ppm = (uint32_t)((x >> 16) % 200000);
        c.dup_ppm = (uint32_t)((x >> 24) % 100000);
        c.jitter_ms = (uint32_t)((x >> 32) % 40);
        c.writes = 40 + (unsigned)((x >> 36) % 160);
        c.keys = 1 + (unsigned)((x >> 44) % 16);
        c.conflict_pm = (uint32_t)((x >> 48) % 400);
        c.late = (x >> 56) % 3 == 0 ? 1 : 0;
        c.late_at_ms = 200;
        if ((x >> 58) % 2)
            c.partitions[c.npartitions++] = (lt_sim_partition_t){100, 100 + (x >> 40) % 3000};
        lt_sim_result_t r = s_converges(&c);
        lt_sim_result_free(&r);
    }
}

Test(sim, a_config_that_cannot_run_is_refused_with_a_reason)
{
    lt_sim_config_t c;
    lt_sim_config_default(&c);
    c.nodes = 5;
    c.degree = 3; /* 5 x 3 is odd: no such graph */
    lt_sim_result_t r;
    char err[256] = "";
    cr_assert_eq(lt_sim_run(&c, &r, err, sizeof err), LT_EINVAL);
    cr_assert(strstr(err, "3-regular"), "%s", err);
    lt_sim_result_free(&r);
}
