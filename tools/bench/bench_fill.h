/* Filling a node's KV store quickly: N puts of distinct keys from several
 * clients at once, so that the store groups the writes that arrive together
 * into few commits. bench-sync --nodes builds the store it clones with it,
 * bench-nano the store whose memory it measures. Keys are
 * LT_BENCH_FILL_KEY_LEN bytes, "c/" and the index in 14 decimal digits;
 * values are LT_BENCH_FILL_VALUE_LEN-byte windows of a random pool
 * (distinct, incompressible). Progress lines go to stderr. */
#ifndef LT_BENCH_FILL_H
#define LT_BENCH_FILL_H

#include "bench_ipc_common.h"

#include <stddef.h>
#include <stdint.h>

#define LT_BENCH_FILL_KEY_LEN     16
#define LT_BENCH_FILL_VALUE_LEN   100
#define LT_BENCH_FILL_MAX_N       100000000 /* the keys' 14 digits hold it */
#define LT_BENCH_FILL_CLIENTS     16        /* what both benches use */
#define LT_BENCH_FILL_MAX_CLIENTS 64
#define LT_BENCH_FILL_CALL_MS     30000 /* each writer's client timeout */

/* Puts n keys (indexes 0..n-1) into `store` on `node` from `clients`
 * writers (1..LT_BENCH_FILL_MAX_CLIENTS), each with its own connection to
 * the node's home, and waits until all are acknowledged. `name` names the
 * node in the notes ("A": "building A's store", "a put on A"). `pool` is
 * borrowed for the call; pool_len > LT_BENCH_FILL_VALUE_LEN. Sets *secs to
 * the time from the first writer's start to the last one's end. 0, or -1
 * after a note saying what failed (the first failure stops every writer;
 * the node dying is noticed within 100 ms). */
int lt_bench_fill(lt_bench_node_t *node, const char *name, const lt_client_store_id_t *store,
                  const uint8_t *pool, size_t pool_len, uint64_t n, uint32_t clients, double *secs);

#endif
