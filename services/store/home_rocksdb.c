/* Opening a node from its home directory with the RocksDB backend: the
 * OS-facing part of the db (directories, the identity file, the database
 * path). Its own library (lt-store-rocksdb), so that programs without
 * RocksDB link the rest of the store. */
#include "store/store_impl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

lt_err_t lt_home_open_kv(const char *home, lt_kv_t **kv_out, lt_identity_t *id, lt_errbuf_t *eb)
{
    if (!home || !*home)
        return lt_fail(eb, LT_EINVAL, "no home directory given");
    if (mkdir(home, 0700) != 0 && errno != EEXIST)
        return lt_fail(eb, LT_EIO, "cannot create home %s: %s", home, strerror(errno));
    char path[4096];
    if (snprintf(path, sizeof path, "%s/identity.key", home) >= (int)sizeof path)
        return lt_fail(eb, LT_EINVAL, "home path too long: %s", home);
    lt_err_t rc = lt_crypto_init();
    if (rc)
        return lt_fail(eb, rc, "libsodium failed to initialize");
    /* A home lattice-nano keeps its data in (the log backend) would look
     * empty to RocksDB: refuse it rather than start a second, empty node. */
    char logpath[4096 + 16];
    snprintf(logpath, sizeof logpath, "%s/" LT_HOME_LOG_FILE, home);
    if (access(logpath, F_OK) == 0)
        return lt_fail(eb, LT_EINVAL,
                       "home %s holds a lattice-nano node (%s): run lattice-nano on it, or "
                       "use another home",
                       home, LT_HOME_LOG_FILE);
    /* The database first: its lock makes this process the only one on this
     * home before the identity key can be created. */
    char dbpath[4096 + 16];
    snprintf(dbpath, sizeof dbpath, "%s/" LT_HOME_RDB_DIR, home);
    lt_kv_rocksdb_opts_t opts = {
        .create_if_missing = true, .paranoid = false, .bloom_cfs = LT_CF_BLOOM_MASK};
    lt_kv_t *kv;
    rc = lt_kv_rocksdb_open(dbpath, lt_cf_names, LT_CF_COUNT, &opts, eb, &kv);
    if (rc == LT_ELOCKED) {
        /* eb holds RocksDB's text: copy it out before formatting over it */
        char why[sizeof eb->msg];
        snprintf(why, sizeof why, "%s", eb ? eb->msg : "locked");
        return lt_fail(eb, rc, "home %s is in use by another process (%s)", home, why);
    }
    if (rc)
        return rc;
    rc = lt_identity_load_or_create(path, id, eb);
    if (rc) {
        lt_kv_close(&kv);
        return rc;
    }
    *kv_out = kv;
    return LT_OK;
}

lt_err_t lt_db_open_home(const char *home, const lt_logger_t *log, lt_db_t **out, lt_errbuf_t *eb)
{
    lt_kv_t *kv;
    lt_identity_t id;
    lt_err_t rc = lt_home_open_kv(home, &kv, &id, eb);
    if (rc)
        return rc;
    lt_db_config_t cfg = {.kv = kv, .identity = &id, .log = log};
    rc = lt_db_open(&cfg, out, eb);
    lt_identity_wipe(&id);
    if (rc)
        lt_kv_close(&kv);
    return rc;
}
