/* lattice-demo: the embedded demo that `tools/start` runs until the kernel
 * exists. Opens a node home, creates a KV store and a log store, writes to
 * both, reads everything back and says what happened. */
#include "store/kv_state.h"
#include "store/log_state.h"
#include "store/store.h"
#include "store/system_table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void s_usage(FILE *f)
{
    fprintf(f, "usage: lattice-demo [--home DIR]\n"
               "Opens the node at DIR (default: $LATTICE_HOME, else $XDG_DATA_HOME/lattice,\n"
               "else ~/.local/share/lattice), creates a KV store and a log store, writes to\n"
               "them, reads everything back and prints what happened.\n");
}

static int s_fail(lt_db_t *db, const char *what, lt_err_t rc)
{
    fprintf(stderr, "lattice-demo: %s: %s%s%s\n", what, lt_strerror(rc), db ? ": " : "",
            db ? lt_db_errmsg(db) : "");
    return 1;
}

static lt_err_t s_print_entry(void *ctx, lt_hlc_t hlc, const lt_pubkey_t *author,
                              const lt_hash_t *hash, const uint8_t *text, size_t len)
{
    (void)ctx;
    (void)author;
    char h[65];
    lt_hex(hash->b, LT_HASH_LEN, h);
    printf("    [%llu.%u] %.12s  %.*s\n", (unsigned long long)hlc.wall_ms, hlc.counter, h, (int)len,
           (const char *)text);
    return LT_OK;
}

static lt_err_t s_print_key(void *ctx, const uint8_t *key, size_t klen, const lt_heads_t *heads)
{
    (void)ctx;
    printf("    %.*s = %.*s%s\n", (int)klen, (const char *)key, (int)heads->v[0].value.len,
           (const char *)heads->v[0].value.p, heads->n > 1 ? "  (conflicted)" : "");
    return LT_OK;
}

int main(int argc, char **argv)
{
    const char *home = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            s_usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--home") == 0 && i + 1 < argc) {
            home = argv[++i];
        } else {
            fprintf(stderr, "lattice-demo: unknown argument '%s'\n", argv[i]);
            s_usage(stderr);
            return 2;
        }
    }
    char buf[4096];
    if (!home && lt_home_default(buf, sizeof buf) == LT_OK)
        home = buf;
    if (!home) {
        fprintf(stderr, "lattice-demo: no home directory: pass --home DIR\n");
        return 2;
    }

    lt_errbuf_t eb = {{0}};
    lt_db_t *db = NULL;
    lt_logger_t log = {lt_log_stderr_sink, NULL, LT_LOG_WARN};
    lt_err_t rc = lt_db_open_home(home, &log, &db, &eb);
    if (rc) {
        fprintf(stderr, "lattice-demo: cannot open node at %s: %s\n", home,
                eb.msg[0] ? eb.msg : lt_strerror(rc));
        return 1;
    }
    char key[65];
    lt_hex(lt_db_node_key(db)->b, LT_KEY_LEN, key);
    printf("node %s\n  home %s, %zu store(s) already there\n", key, home, lt_db_store_count(db));

    lt_store_t *kv, *logst;
    if ((rc = lt_store_create(db, "core:kvstore", NULL, &kv)) ||
        (rc = lt_system_set_name(kv, "demo-kv", NULL)) ||
        (rc = lt_store_create(db, "core:logstore", NULL, &logst)) ||
        (rc = lt_system_set_name(logst, "demo-log", NULL)) || (rc = lt_db_commit(db)))
        return s_fail(db, "creating stores", rc);
    char sid[33];
    lt_hex(lt_store_id(kv)->b, LT_STORE_ID_LEN, sid);
    printf("created core:kvstore  %s (demo-kv)\n", sid);
    lt_hex(lt_store_id(logst)->b, LT_STORE_ID_LEN, sid);
    printf("created core:logstore %s (demo-log)\n", sid);

    const char *pairs[][2] = {{"greeting", "hello"}, {"color", "blue"}, {"greeting", "hi"}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        lt_hash_t h;
        rc = lt_kvstore_put(kv, (const uint8_t *)pairs[i][0], strlen(pairs[i][0]),
                            (const uint8_t *)pairs[i][1], strlen(pairs[i][1]), &h);
        if (rc == LT_OK)
            rc = lt_db_commit(db);
        if (rc)
            return s_fail(db, "put", rc);
        char hh[65];
        lt_hex(h.b, LT_HASH_LEN, hh);
        printf("put %s = %s  -> intention %.12s\n", pairs[i][0], pairs[i][1], hh);
    }
    const char *lines[] = {"first entry", "second entry"};
    for (size_t i = 0; i < 2; i++) {
        if ((rc = lt_logstore_append(logst, (const uint8_t *)lines[i], strlen(lines[i]), NULL)) ||
            (rc = lt_db_commit(db)))
            return s_fail(db, "append", rc);
        printf("append \"%s\"\n", lines[i]);
    }

    lt_buf_t v = LT_BUF_INIT;
    bool conflicted;
    rc = lt_kvstore_get(kv, (const uint8_t *)"greeting", 8, &v, &conflicted);
    if (rc)
        return s_fail(db, "get", rc);
    printf("get greeting -> %.*s%s\n", (int)v.len, (const char *)v.data,
           conflicted ? " (conflicted)" : "");
    lt_buf_free(&v);
    printf("list demo-kv:\n");
    if ((rc = lt_kvstore_list(kv, NULL, 0, s_print_key, NULL)))
        return s_fail(db, "list", rc);
    printf("read demo-log:\n");
    if ((rc = lt_logstore_read(logst, 0, s_print_entry, NULL)))
        return s_fail(db, "read", rc);
    uint64_t bad;
    if ((rc = lt_store_verify(kv, true, &bad)) || (rc = lt_store_verify(logst, true, &bad)))
        return s_fail(db, "verify", rc);
    printf("witness chains verified: demo-kv %llu records, demo-log %llu records\n",
           (unsigned long long)lt_store_witnessed_count(kv),
           (unsigned long long)lt_store_witnessed_count(logst));
    lt_db_close(&db);
    printf("closed; the data stays in %s/store.rdb\n", home);
    return 0;
}
