/* Filling a node's KV store from several clients at once (bench_fill.h). */

#include "bench_fill.h"

#include "bench_util.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_PROGRESS_S 5.0

/* Shared by the writers: each takes the next index until n. */
typedef struct {
    const char *home, *name;
    lt_client_store_id_t store;
    const uint8_t *pool;
    size_t pool_len;
    uint64_t n;
    atomic_uint_fast64_t next, done;
    atomic_bool failed;
    pthread_mutex_t mu;
    char err[256]; /* the first failure */
} s_fill_t;

/* "c/" and the index in 14 decimal digits: LT_BENCH_FILL_KEY_LEN bytes for
 * an index below LT_BENCH_FILL_MAX_N. key holds 32 bytes. */
static void s_fill_key(char *key, uint64_t i)
{
    snprintf(key, 32, "c/%014" PRIu64, i);
}

static void s_fill_fail(s_fill_t *f, const char *what, const char *why)
{
    pthread_mutex_lock(&f->mu);
    if (!f->err[0])
        snprintf(f->err, sizeof f->err, "%s: %s", what, why);
    pthread_mutex_unlock(&f->mu);
    atomic_store(&f->failed, true);
}

static void *s_writer_main(void *arg)
{
    s_fill_t *f = arg;
    char what[96];
    lt_client_opts_t opts = {.home = f->home, .timeout_ms = LT_BENCH_FILL_CALL_MS};
    lt_errbuf_t eb = {{0}};
    lt_client_t *c = NULL;
    if (lt_client_connect(&opts, &c, &eb) != LT_OK) {
        snprintf(what, sizeof what, "connecting a writer to %s", f->name);
        s_fill_fail(f, what, eb.msg);
        return NULL;
    }
    while (!atomic_load(&f->failed)) {
        uint64_t i = atomic_fetch_add(&f->next, 1);
        if (i >= f->n)
            break;
        char key[32];
        s_fill_key(key, i);
        lt_client_hash_t h;
        const uint8_t *value = f->pool + (i * 37) % (f->pool_len - LT_BENCH_FILL_VALUE_LEN);
        if (lt_client_put(c, &f->store, key, LT_BENCH_FILL_KEY_LEN, value, LT_BENCH_FILL_VALUE_LEN,
                          &h) != LT_OK) {
            snprintf(what, sizeof what, "a put on %s", f->name);
            s_fill_fail(f, what, lt_client_errmsg(c));
            break;
        }
        atomic_fetch_add(&f->done, 1);
    }
    lt_client_close(&c);
    return NULL;
}

int lt_bench_fill(lt_bench_node_t *node, const char *name, const lt_client_store_id_t *store,
                  const uint8_t *pool, size_t pool_len, uint64_t n, uint32_t clients, double *secs)
{
    assert(pool_len > LT_BENCH_FILL_VALUE_LEN);
    assert(n <= LT_BENCH_FILL_MAX_N);
    assert(clients >= 1 && clients <= LT_BENCH_FILL_MAX_CLIENTS);
    s_fill_t *f = calloc(1, sizeof *f);
    if (!f) {
        lt_bench_note("out of memory");
        return -1;
    }
    f->home = node->home;
    f->name = name;
    f->store = *store;
    f->pool = pool;
    f->pool_len = pool_len;
    f->n = n;
    atomic_init(&f->next, 0);
    atomic_init(&f->done, 0);
    atomic_init(&f->failed, false);
    pthread_mutex_init(&f->mu, NULL);
    lt_bench_note("building %s's store: %" PRIu64 " puts of %d-byte keys and %d-byte values "
                  "from %u clients",
                  name, n, LT_BENCH_FILL_KEY_LEN, LT_BENCH_FILL_VALUE_LEN, clients);
    pthread_t th[LT_BENCH_FILL_MAX_CLIENTS];
    uint32_t started = 0;
    double t0 = lt_bench_now(), last = t0;
    for (; started < clients; started++)
        if (pthread_create(&th[started], NULL, s_writer_main, f) != 0) {
            s_fill_fail(f, "starting the writers", strerror(errno));
            break;
        }
    /* Progress: poll the count the writers keep. */
    while (started > 0 && !atomic_load(&f->failed) && atomic_load(&f->done) < n) {
        lt_bench_pause_ms(100);
        double t = lt_bench_now();
        if (t - last >= S_PROGRESS_S) {
            uint64_t d = atomic_load(&f->done);
            lt_bench_note("  %" PRIu64 " / %" PRIu64 " (%.0f puts/s)", d, n, (double)d / (t - t0));
            last = t;
        }
        if (!lt_bench_node_alive(node)) {
            char what[96], why[96];
            snprintf(what, sizeof what, "node %s", name);
            snprintf(why, sizeof why, "%s exited", node->prog);
            s_fill_fail(f, what, why);
            break;
        }
    }
    for (uint32_t i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    *secs = lt_bench_now() - t0;
    pthread_mutex_destroy(&f->mu);
    int ret = 0;
    if (atomic_load(&f->failed)) {
        lt_bench_note("building %s's store failed: %s", name, f->err);
        ret = -1;
    } else {
        lt_bench_note("  %" PRIu64 " puts in %.1f s (%.0f puts/s)", n, *secs, (double)n / *secs);
    }
    free(f);
    return ret;
}
