/* Helpers shared by the test suites: temporary directories, a virtual clock,
 * deterministic identities, and databases on either backend. */
#ifndef LT_TESTUTIL_H
#define LT_TESTUTIL_H

#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A fresh directory under $LT_TEST_TMP (or /tmp); returns a malloc'd path. */
char *lt_test_tmpdir(const char *tag);
/* rm -rf path and free it; sets *path_p to NULL. */
void lt_test_rmtree(char **path_p);

/* Bytes in the write-ahead log files (*.log) of the RocksDB database in
 * directory db: what its next open replays. Aborts the test when the
 * directory cannot be read. */
uint64_t lt_test_rocksdb_log_bytes(const char *db);

/* A virtual clock: now() returns *ms. */
uint64_t lt_test_clock_now(void *ms);

/* Identity from a small integer seed (seed byte repeated). */
void lt_test_identity(lt_identity_t *id, uint8_t seed);

typedef enum { LT_TEST_MEM, LT_TEST_ROCKSDB } lt_test_backend_t;

/* Opens a db on a fresh backend. For RocksDB, *dir receives the directory
 * (remove with lt_test_rmtree); for memory it is NULL. clock_ms may be NULL
 * (system clock). Aborts the test on failure. */
lt_db_t *lt_test_db_open(lt_test_backend_t backend, const lt_identity_t *id, uint64_t *clock_ms,
                         char **dir);
/* Reopens a RocksDB db at dir (after lt_db_close). Returns the error of
 * lt_db_open, with the db in *out on success. */
lt_err_t lt_test_db_reopen(const char *dir, const lt_identity_t *id, uint64_t *clock_ms,
                           lt_db_t **out, lt_errbuf_t *eb);

/* One node holding one store, as most store tests need: an identity from
 * `seed`, a virtual clock starting at t0, a db on `backend`, and a store of
 * `type` with id `sid` created and committed. */
typedef struct {
    lt_identity_t id;
    uint64_t clock;
    lt_db_t *db;
    lt_store_t *st;
    char *dir;
    lt_store_id_t sid;
} lt_test_node_t;

void lt_test_node_open(lt_test_node_t *n, uint8_t seed, lt_test_backend_t backend, uint64_t t0,
                       const char *type, const lt_store_id_t *sid);
/* Closes and reopens a RocksDB node; n->st is the store again. */
void lt_test_node_reopen(lt_test_node_t *n);
/* Sends every intention `from`'s store holds to `to`'s, in from's witness
 * order (none may float), then commits `to`. */
void lt_test_node_exchange(lt_test_node_t *from, lt_test_node_t *to);
/* Closes the db and removes its directory; safe on a node never opened. */
void lt_test_node_close(lt_test_node_t *n);

/* Whether a StoreList reply body (STORE_LIST) lists store sid; asserts that
 * it decodes. */
bool lt_test_store_list_has(const uint8_t *body, size_t len, const lt_store_id_t *sid);

static inline const uint8_t *lt_test_b(const char *s)
{
    return (const uint8_t *)s;
}

#endif
