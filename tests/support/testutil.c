/* Shared test helpers. */
#define _XOPEN_SOURCE 700 /* nftw */
#include "support/testutil.h"

#include "store/ops_codec.h"
#include "store/tables.h"

#include "store.pb.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void s_mkdirs(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(tmp, 0700);
            *p = '/';
        }
    }
    mkdir(tmp, 0700);
}

char *lt_test_tmpdir(const char *tag)
{
    const char *base = getenv("LT_TEST_TMP");
    if (!base || !*base)
        base = "/tmp";
    s_mkdirs(base);
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/lt-%s-XXXXXX", base, tag);
    char *dir = mkdtemp(tmpl);
    cr_assert(dir, "mkdtemp %s: %s", tmpl, strerror(errno));
    return strdup(dir);
}

static int s_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void lt_test_rmtree(char **path_p)
{
    if (!*path_p)
        return;
    nftw(*path_p, s_rm, 16, FTW_DEPTH | FTW_PHYS);
    free(*path_p);
    *path_p = NULL;
}

uint64_t lt_test_clock_now(void *ms)
{
    return *(uint64_t *)ms;
}

void lt_test_identity(lt_identity_t *id, uint8_t seed)
{
    uint8_t s[LT_SEED_LEN];
    memset(s, seed, sizeof s);
    lt_identity_from_seed(id, s);
}

lt_err_t lt_test_db_reopen(const char *dir, const lt_identity_t *id, uint64_t *clock_ms,
                           lt_db_t **out, lt_errbuf_t *eb)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/store.rdb", dir);
    lt_kv_rocksdb_opts_t opts = {.create_if_missing = true, .paranoid = true};
    lt_kv_t *kv;
    lt_err_t rc = lt_kv_rocksdb_open(path, lt_cf_names, LT_CF_COUNT, &opts, eb, &kv);
    if (rc)
        return rc;
    lt_db_config_t cfg = {
        .kv = kv, .identity = id, .now = clock_ms ? lt_test_clock_now : NULL, .now_ctx = clock_ms};
    rc = lt_db_open(&cfg, out, eb);
    if (rc)
        lt_kv_close(&kv);
    return rc;
}

lt_db_t *lt_test_db_open(lt_test_backend_t backend, const lt_identity_t *id, uint64_t *clock_ms,
                         char **dir)
{
    cr_assert_eq(lt_crypto_init(), LT_OK);
    lt_errbuf_t eb = {{0}};
    lt_db_t *db = NULL;
    *dir = NULL;
    if (backend == LT_TEST_ROCKSDB) {
        *dir = lt_test_tmpdir("db");
        lt_err_t rc = lt_test_db_reopen(*dir, id, clock_ms, &db, &eb);
        cr_assert_eq(rc, LT_OK, "open rocksdb db: %s: %s", lt_strerror(rc), eb.msg);
        return db;
    }
    lt_kv_t *kv;
    cr_assert_eq(lt_kv_mem_open(LT_CF_COUNT, &kv), LT_OK);
    lt_db_config_t cfg = {
        .kv = kv, .identity = id, .now = clock_ms ? lt_test_clock_now : NULL, .now_ctx = clock_ms};
    lt_err_t rc = lt_db_open(&cfg, &db, &eb);
    cr_assert_eq(rc, LT_OK, "open memory db: %s: %s", lt_strerror(rc), eb.msg);
    return db;
}

void lt_test_node_open(lt_test_node_t *n, uint8_t seed, lt_test_backend_t backend, uint64_t t0,
                       const char *type, const lt_store_id_t *sid)
{
    lt_test_identity(&n->id, seed);
    n->clock = t0;
    n->sid = *sid;
    n->db = lt_test_db_open(backend, &n->id, &n->clock, &n->dir);
    cr_assert_eq(lt_store_create(n->db, type, sid, &n->st), LT_OK);
    cr_assert_eq(lt_db_commit(n->db), LT_OK);
}

void lt_test_node_reopen(lt_test_node_t *n)
{
    lt_db_close(&n->db);
    lt_errbuf_t eb = {{0}};
    lt_err_t rc = lt_test_db_reopen(n->dir, &n->id, &n->clock, &n->db, &eb);
    cr_assert_eq(rc, LT_OK, "reopen: %s: %s", lt_errname(rc), eb.msg);
    n->st = lt_db_store(n->db, &n->sid);
    cr_assert_not_null(n->st, "the store is not there after a reopen");
}

void lt_test_node_close(lt_test_node_t *n)
{
    lt_db_close(&n->db);
    lt_test_rmtree(&n->dir);
}

typedef struct {
    lt_test_node_t *from, *to;
} s_xfer_t;

static lt_err_t s_xfer_one(void *ctx, uint64_t seq, const lt_hash_t *h)
{
    (void)seq;
    s_xfer_t *x = ctx;
    lt_buf_t b = LT_BUF_INIT;
    cr_assert_eq(lt_store_get_intention(x->from->st, h, &b), LT_OK);
    lt_ingest_result_t res;
    lt_err_t rc = lt_store_ingest(x->to->st, b.data, b.len, &res);
    cr_assert_eq(rc, LT_OK, "ingest: %s: %s", lt_errname(rc), lt_db_errmsg(x->to->db));
    cr_assert(res.status == LT_INGEST_WITNESSED || res.status == LT_INGEST_DUPLICATE,
              "an intention sent in witness order floats (status %d)", res.status);
    lt_buf_free(&b);
    return LT_OK;
}

void lt_test_node_exchange(lt_test_node_t *from, lt_test_node_t *to)
{
    s_xfer_t x = {from, to};
    cr_assert_eq(lt_store_scan_witness(from->st, 1, s_xfer_one, &x), LT_OK);
    lt_err_t rc = lt_db_commit(to->db);
    cr_assert_eq(rc, LT_OK, "commit: %s: %s", lt_errname(rc), lt_db_errmsg(to->db));
}

bool lt_test_store_list_has(const uint8_t *body, size_t len, const lt_store_id_t *sid)
{
    lt_pb_input_t in = lt_pb_input(body, len);
    lt_pb_views_t views = {.in = &in};
    lattice_store_StoreList sl = lattice_store_StoreList_init_zero;
    lt_pb_bind_views(&sl.stores, &views);
    cr_assert_eq(lt_pb_decode_static(lattice_store_StoreList_fields, &sl, body, len), LT_OK);
    bool found = false;
    for (size_t k = 0; k < views.n && !found; k++) {
        lattice_store_StoreSummary ss = lattice_store_StoreSummary_init_zero;
        cr_assert_eq(lt_pb_decode_static(lattice_store_StoreSummary_fields, &ss, views.v[k].p,
                                         views.v[k].len),
                     LT_OK);
        found = memcmp(ss.store.bytes, sid->b, LT_STORE_ID_LEN) == 0;
    }
    lt_pb_views_free(&views);
    return found;
}

uint64_t lt_test_rocksdb_log_bytes(const char *db)
{
    DIR *d = opendir(db);
    cr_assert_not_null(d, "%s: %s", db, strerror(errno));
    uint64_t total = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        char file[4096];
        struct stat st;
        if (n > 4 && strcmp(e->d_name + n - 4, ".log") == 0 &&
            snprintf(file, sizeof file, "%s/%s", db, e->d_name) < (int)sizeof file &&
            stat(file, &st) == 0)
            total += (uint64_t)st.st_size;
    }
    closedir(d);
    return total;
}
