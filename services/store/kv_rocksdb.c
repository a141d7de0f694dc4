/* The RocksDB backend of the storage port, over RocksDB's C API.
 *
 * This adapter is the one place where RocksDB's errors (the errptr strings of
 * the C API) become lt_err_t: a lock held by another process or by another
 * open of the same path is LT_ELOCKED, damaged files are LT_ECORRUPT, a
 * missing database without create_if_missing is LT_ENOTFOUND, the rest is
 * LT_EIO. RocksDB's text is kept for errmsg().
 *
 * Column families. RocksDB refuses to open a database unless every family it
 * holds is named, "default" included. The caller names only the families it
 * uses, so the open also names "default" and any family found on disk that
 * the caller did not ask for (one a newer version created, say); those extra
 * handles are kept only to be destroyed at close.
 *
 * The seal. RocksDB reads a MANIFEST whose end is cut as a torn last write:
 * it silently rolls back to the version before, then deletes the table files
 * that version does not list. To refuse that instead of serving (and
 * destroying) an older database, the adapter keeps a file LATTICE-SEAL in the
 * database directory with RocksDB's last sequence number, rewritten
 * atomically at every open and close. When a seal is there, the database is
 * first opened read-only (which deletes nothing) and must have reached the
 * sealed sequence number; otherwise the open fails with LT_ECORRUPT and the
 * files stay as they are. Sequence numbers only grow, so a crash (which
 * leaves an older seal) never trips it. A restart's latency is mostly this
 * open (bench-ipc restart_ms), so cheaper proofs of the same answer come
 * first (s_seal_check): after a crash, the seal written at the last open
 * names the MANIFEST that recorded the sealed number and hashes what it held
 * then, and when that MANIFEST is still there unchanged, no read-only open
 * is needed; otherwise the read-only open first leaves the write-ahead log
 * out, and replays it only if the MANIFEST alone falls short. What the seal
 * vouches for is the state at the last open or close: a MANIFEST cut in what
 * it gained since (tables flushed after the open, whose log is gone) is not
 * found by it: RocksDB drops those tables, and what remains is for the
 * store's witness check to refuse.
 *
 * Tuning: one LRU block cache per backend shared by its families, a full bloom
 * filter, 8 MiB memtables, a 2 MiB write-ahead log (which bounds what a
 * restart replays), no compression in levels 0-1, level 0 compacted at 8
 * files, paranoid checks when opening. The numbers suit a single
 * store on a desktop or server; boards get the flash-log backend instead. */
#include "store/kv.h"

#include "weaver/hash.h"

#include <rocksdb/c.h>

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_BLOCK_CACHE_BYTES     ((size_t)64 << 20)
#define S_WRITE_BUFFER_BYTES    ((size_t)8 << 20)
#define S_DB_WRITE_BUFFER_BYTES ((size_t)128 << 20)
#define S_MAX_WAL_BYTES         ((uint64_t)2 << 20)
#define S_BULK_WAL_BYTES        ((uint64_t)64 << 20)
#define S_BLOOM_BITS_PER_KEY    10.0
#define S_L0_COMPACTION_TRIGGER 8
#define S_NUM_LEVELS            7 /* RocksDB's default */
#define S_INFO_LOG_FILES        4
#define S_INFO_LOG_BYTES        ((size_t)4 << 20)
/* The seal hashes the MANIFEST recovery has just written (a few KB); one
 * that large is not a new one, and the seal then leaves it out. */
#define S_SEAL_MANIFEST_MAX ((size_t)1 << 20)
#define S_SEAL_PERSONAL     "lattice:seal:v1\0"

typedef struct {
    rocksdb_t *db;
    rocksdb_options_t *options;
    rocksdb_options_t *options_bloom; /* families in bloom_cfs, read-write opens */
    rocksdb_options_t *options_nowal; /* the seal check's open without the log */
    uint32_t bloom_cfs;
    rocksdb_cache_t *cache;
    rocksdb_readoptions_t *ro;
    rocksdb_writeoptions_t *wo;        /* sync = false */
    rocksdb_writeoptions_t *wo_sync;   /* sync = true */
    rocksdb_flushoptions_t *fo;        /* wait = true */
    rocksdb_flushoptions_t *fo_nowait; /* wait = false */
    bool bulk;                         /* kv.h: lt_kv_bulk */
    uint64_t logged; /* bytes written to the log since the last flush of every family */
    unsigned ncf;
    rocksdb_column_family_handle_t *cf[LT_KV_MAX_CF];
    rocksdb_column_family_handle_t **extra; /* opened only because RocksDB insists */
    size_t nextra;
    bool paranoid;
    size_t readers;  /* open snapshots and iterators, which must go before close */
    char *dir;       /* the database directory */
    char *seal_path; /* dir/LATTICE-SEAL */
    lt_errbuf_t err;
} s_rdb_t;

typedef struct {
    s_rdb_t *rdb;
    const rocksdb_snapshot_t *snap;
    rocksdb_readoptions_t *ro; /* reads at snap */
} s_snap_t;

typedef struct {
    s_rdb_t *rdb;
    rocksdb_iterator_t *it;
} s_iter_t;

/* The lock messages are matched precisely: a bare "lock" would also match
 * "block checksum mismatch", which is corruption. */
static lt_err_t s_classify(const char *msg)
{
    if (strstr(msg, "Corruption"))
        return LT_ECORRUPT;
    if (strstr(msg, "While lock") || strstr(msg, "lock hold by current process") ||
        strstr(msg, "Resource temporarily unavailable") || strstr(msg, "No locks available"))
        return LT_ELOCKED;
    if (strstr(msg, "does not exist (create_if_missing is false)"))
        return LT_ENOTFOUND;
    return LT_EIO;
}

/* Translates and frees a RocksDB error string. rdb and eb may be NULL. */
static lt_err_t s_fail(s_rdb_t *rdb, lt_errbuf_t *eb, char *errptr, const char *what)
{
    lt_err_t code = s_classify(errptr);
    if (rdb)
        lt_fail(&rdb->err, code, "%s: %s", what, errptr);
    lt_fail(eb, code, "%s: %s", what, errptr);
    rocksdb_free(errptr);
    return code;
}

static const rocksdb_readoptions_t *s_readopts(const s_rdb_t *rdb, const lt_kv_snapshot_t *snap)
{
    if (!snap)
        return rdb->ro;
    const s_snap_t *s = (const s_snap_t *)snap;
    assert(s->rdb == rdb && "snapshot of another backend");
    return s->ro;
}

static lt_err_t s_get(void *self, const lt_kv_snapshot_t *snap, unsigned cf, const uint8_t *key,
                      size_t klen, lt_buf_t *out)
{
    s_rdb_t *rdb = self;
    if (cf >= rdb->ncf)
        return lt_fail(&rdb->err, LT_EINVAL, "get: column family %u out of range (%u)", cf,
                       rdb->ncf);
    char *err = NULL;
    rocksdb_pinnableslice_t *ps = rocksdb_get_pinned_cf(rdb->db, s_readopts(rdb, snap), rdb->cf[cf],
                                                        (const char *)key, klen, &err);
    if (err)
        return s_fail(rdb, NULL, err, "get");
    if (!ps)
        return LT_ENOTFOUND;
    lt_err_t rc = LT_OK;
    if (out) {
        size_t vlen = 0;
        const char *v = rocksdb_pinnableslice_value(ps, &vlen);
        if (lt_buf_set(out, v, vlen) != LT_OK)
            rc = lt_fail(&rdb->err, LT_ENOMEM, "get: no memory for a %zu-byte value", vlen);
    }
    rocksdb_pinnableslice_destroy(ps);
    return rc;
}

/* The write-ahead log's bound. A restart replays the log into memtables
 * (some 20 ms a MB on a small VM) and is most of a store's restart
 * (bench-ipc restart_ms), so outside a bulk run every family is flushed once
 * 2 MB have been written since the last time: a crash in the middle of heavy
 * writes replays 2 to 3 MB, not the 28 MB that a 32 MB bound let bench-ipc's
 * put phase leave (0.7 s of replay). At 4 MB the first restart after the put
 * phase took 168 and 324 ms in two runs, at 2 MB 171 and 116.
 *
 * During a bulk run (a clone) the bound is RocksDB's own, 64 MB
 * (max_total_wal_size: the C API cannot change it on an open database, so
 * it is set at open and the 2 MB bound is kept here). At 2 MB a clone (some
 * 100 MB of writes for 200 000 intentions) cut each family's memtable into
 * many small level-0 tables, and compacting them into level 1 again and
 * again was most of the background threads' work (bench-sync: B's store
 * 46.6 -> 37.9 us of CPU per cloned intention). The price: a crash in the
 * middle of a clone replays up to 64 MB at the next open, and memtables hold
 * that much more memory meanwhile. */
static void s_flush_all_nowait(s_rdb_t *rdb)
{
    /* Each call switches the family's memtable at once and leaves the
     * flush to the background threads; it waits only while the family's
     * previous flush is still pending (RocksDB will not stall writes for
     * it), as a write did at RocksDB's own bound. A flush refused is tried
     * again at the next bound; a real I/O failure shows in the next write. */
    for (unsigned cf = 0; cf < rdb->ncf; cf++) {
        char *err = NULL;
        rocksdb_flush_cf(rdb->db, rdb->fo_nowait, rdb->cf[cf], &err);
        rocksdb_free(err);
    }
    rdb->logged = 0;
}

static lt_err_t s_bulk(void *self, bool on)
{
    s_rdb_t *rdb = self;
    /* Ending a run flushes what it left only in the log, in the background:
     * a crash after a clone then replays little even if nothing follows. */
    if (rdb->bulk && !on && rdb->logged)
        s_flush_all_nowait(rdb);
    rdb->bulk = on;
    return LT_OK;
}

static lt_err_t s_write(void *self, const lt_kv_batch_t *batch, bool sync)
{
    s_rdb_t *rdb = self;
    /* Not even a WAL sync for nothing. */
    if (batch->nops == 0)
        return LT_OK;
    for (size_t i = 0; i < batch->nops; i++) {
        if (batch->ops[i].cf >= rdb->ncf)
            return lt_fail(&rdb->err, LT_EINVAL,
                           "write: op %zu: column family %u out of range (%u)", i, batch->ops[i].cf,
                           rdb->ncf);
    }
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    for (size_t i = 0; i < batch->nops; i++) {
        const lt_kv_op_t *op = &batch->ops[i];
        if (op->del)
            rocksdb_writebatch_delete_cf(wb, rdb->cf[op->cf], (const char *)op->key, op->klen);
        else
            rocksdb_writebatch_put_cf(wb, rdb->cf[op->cf], (const char *)op->key, op->klen,
                                      (const char *)op->value, op->vlen);
    }
    char *err = NULL;
    size_t len = 0;
    (void)rocksdb_writebatch_data(wb, &len);
    rocksdb_write(rdb->db, sync ? rdb->wo_sync : rdb->wo, wb, &err);
    rocksdb_writebatch_destroy(wb);
    if (err)
        return s_fail(rdb, NULL, err, "write");
    rdb->logged += len;
    if (!rdb->bulk && rdb->logged >= S_MAX_WAL_BYTES)
        s_flush_all_nowait(rdb);
    return LT_OK;
}

static lt_err_t s_snapshot_new(void *self, lt_kv_snapshot_t **out)
{
    s_rdb_t *rdb = self;
    s_snap_t *s = malloc(sizeof *s);
    if (!s)
        return lt_fail(&rdb->err, LT_ENOMEM, "snapshot: out of memory");
    s->rdb = rdb;
    s->snap = rocksdb_create_snapshot(rdb->db);
    s->ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_verify_checksums(s->ro, rdb->paranoid);
    rocksdb_readoptions_set_snapshot(s->ro, s->snap);
    rdb->readers++;
    *out = (lt_kv_snapshot_t *)s;
    return LT_OK;
}

static void s_snapshot_release(void *self, lt_kv_snapshot_t *snap)
{
    s_rdb_t *rdb = self;
    if (!snap)
        return;
    s_snap_t *s = (s_snap_t *)snap;
    assert(s->rdb == rdb && "snapshot of another backend");
    rocksdb_readoptions_destroy(s->ro);
    rocksdb_release_snapshot(rdb->db, s->snap);
    free(s);
    assert(rdb->readers > 0);
    rdb->readers--;
}

static lt_err_t s_iter_new(void *self, const lt_kv_snapshot_t *snap, unsigned cf,
                           lt_kv_iter_t **out)
{
    s_rdb_t *rdb = self;
    if (cf >= rdb->ncf)
        return lt_fail(&rdb->err, LT_EINVAL, "iter: column family %u out of range (%u)", cf,
                       rdb->ncf);
    s_iter_t *it = malloc(sizeof *it);
    if (!it)
        return lt_fail(&rdb->err, LT_ENOMEM, "iter: out of memory");
    it->rdb = rdb;
    /* RocksDB copies the read options into the iterator. */
    it->it = rocksdb_create_iterator_cf(rdb->db, s_readopts(rdb, snap), rdb->cf[cf]);
    rdb->readers++;
    *out = (lt_kv_iter_t *)it;
    return LT_OK;
}

static void s_iter_seek(lt_kv_iter_t *iter, const uint8_t *key, size_t klen)
{
    s_iter_t *it = (s_iter_t *)iter;
    rocksdb_iter_seek(it->it, (const char *)key, klen);
}

static void s_iter_seek_for_prev(lt_kv_iter_t *iter, const uint8_t *key, size_t klen)
{
    s_iter_t *it = (s_iter_t *)iter;
    rocksdb_iter_seek_for_prev(it->it, (const char *)key, klen);
}

static void s_iter_seek_first(lt_kv_iter_t *iter)
{
    s_iter_t *it = (s_iter_t *)iter;
    rocksdb_iter_seek_to_first(it->it);
}

static void s_iter_seek_last(lt_kv_iter_t *iter)
{
    s_iter_t *it = (s_iter_t *)iter;
    rocksdb_iter_seek_to_last(it->it);
}

/* RocksDB only asserts validity in its debug builds; a packaged library would
 * read freed memory, so the check is ours. */
static void s_iter_next(lt_kv_iter_t *iter)
{
    s_iter_t *it = (s_iter_t *)iter;
    assert(rocksdb_iter_valid(it->it) && "next on an invalid iterator");
    rocksdb_iter_next(it->it);
}

static void s_iter_prev(lt_kv_iter_t *iter)
{
    s_iter_t *it = (s_iter_t *)iter;
    assert(rocksdb_iter_valid(it->it) && "prev on an invalid iterator");
    rocksdb_iter_prev(it->it);
}

static bool s_iter_valid(const lt_kv_iter_t *iter)
{
    const s_iter_t *it = (const s_iter_t *)iter;
    return rocksdb_iter_valid(it->it) != 0;
}

static const uint8_t *s_iter_key(const lt_kv_iter_t *iter, size_t *klen)
{
    const s_iter_t *it = (const s_iter_t *)iter;
    assert(rocksdb_iter_valid(it->it) && "key of an invalid iterator");
    return (const uint8_t *)rocksdb_iter_key(it->it, klen);
}

static const uint8_t *s_iter_value(const lt_kv_iter_t *iter, size_t *vlen)
{
    const s_iter_t *it = (const s_iter_t *)iter;
    assert(rocksdb_iter_valid(it->it) && "value of an invalid iterator");
    return (const uint8_t *)rocksdb_iter_value(it->it, vlen);
}

static lt_err_t s_iter_status(const lt_kv_iter_t *iter)
{
    const s_iter_t *it = (const s_iter_t *)iter;
    char *err = NULL;
    rocksdb_iter_get_error(it->it, &err);
    if (!err)
        return LT_OK;
    return s_fail(it->rdb, NULL, err, "iterator");
}

static void s_iter_free(lt_kv_iter_t *iter)
{
    if (!iter)
        return;
    s_iter_t *it = (s_iter_t *)iter;
    rocksdb_iter_destroy(it->it);
    assert(it->rdb->readers > 0);
    it->rdb->readers--;
    free(it);
}

static lt_err_t s_flush(void *self)
{
    s_rdb_t *rdb = self;
    for (unsigned cf = 0; cf < rdb->ncf; cf++) {
        char *err = NULL;
        rocksdb_flush_cf(rdb->db, rdb->fo, rdb->cf[cf], &err);
        if (err)
            return s_fail(rdb, NULL, err, "flush");
    }
    return LT_OK;
}

/* Closes the database and its family handles (handles go first). */
static void s_close_db(s_rdb_t *rdb)
{
    for (unsigned cf = 0; cf < rdb->ncf; cf++) {
        if (rdb->cf[cf])
            rocksdb_column_family_handle_destroy(rdb->cf[cf]);
        rdb->cf[cf] = NULL;
    }
    for (size_t i = 0; i < rdb->nextra; i++) {
        if (rdb->extra[i])
            rocksdb_column_family_handle_destroy(rdb->extra[i]);
    }
    free(rdb->extra);
    rdb->extra = NULL;
    rdb->nextra = 0;
    if (rdb->db)
        rocksdb_close(rdb->db);
    rdb->db = NULL;
}

/* What a seal holds. A seal written at open also names the MANIFEST and the
 * length and hash of what it held then (see s_seal_check). */
typedef struct {
    uint64_t sequence;
    bool has_manifest;
    char manifest[64]; /* "MANIFEST-000045" */
    uint64_t manifest_len;
    lt_hash_t manifest_hash;
} s_seal_t;

/* Reads the first len bytes of the file at path (all of it when len is 0, up
 * to max) into a new buffer, and sets len to what it read; NULL on any
 * failure, a shorter file included. */
static uint8_t *s_read_file(const char *path, size_t *len, size_t max)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    uint8_t *buf = NULL;
    if (fstat(fd, &st) == 0 && st.st_size > 0) {
        size_t size = (size_t)st.st_size, n = *len ? *len : size;
        if (n <= size && n <= max && (buf = malloc(n)) && pread(fd, buf, n, 0) != (ssize_t)n) {
            free(buf);
            buf = NULL;
        }
        if (buf)
            *len = n;
    }
    close(fd);
    return buf;
}

/* The name of the MANIFEST that CURRENT points to, in out; false when
 * CURRENT cannot be read or does not hold a plain MANIFEST name. */
static bool s_current_manifest(const char *dir, char *out, size_t cap)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/CURRENT", dir);
    size_t len = 0;
    char *text = (char *)s_read_file(path, &len, cap);
    if (!text)
        return false;
    bool ok = len > 1 && text[len - 1] == '\n' && strncmp(text, "MANIFEST-", 9) == 0;
    for (size_t i = 0; ok && i < len - 1; i++)
        ok = text[i] != '/' && text[i] != '\0' && text[i] != '\n';
    if (ok) {
        memcpy(out, text, len - 1);
        out[len - 1] = '\0';
    }
    free(text);
    return ok;
}

/* The hash of the first *len bytes of the MANIFEST `name` in dir (of all of
 * it when *len is 0, setting *len); false when it is shorter, larger than
 * S_SEAL_MANIFEST_MAX, or cannot be read. */
static bool s_manifest_hash(const char *dir, const char *name, uint64_t *len, lt_hash_t *out)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (*len > S_SEAL_MANIFEST_MAX)
        return false;
    size_t n = (size_t)*len;
    uint8_t *data = s_read_file(path, &n, S_SEAL_MANIFEST_MAX);
    if (!data)
        return false;
    lt_hash_personal(S_SEAL_PERSONAL, data, n, out);
    free(data);
    *len = n;
    return true;
}

/* Writes the seal: seq, a sequence number RocksDB has made durable, via a
 * synced temporary file renamed over the old seal. With_manifest (at open
 * only, seq being what recovery has just recorded in a new MANIFEST) adds the
 * MANIFEST's name, length and hash; it is left out when they cannot be read. */
static lt_err_t s_seal_write(s_rdb_t *rdb, uint64_t seq, bool with_manifest, lt_errbuf_t *eb)
{
    char tmp[4200], text[256];
    snprintf(tmp, sizeof tmp, "%s.tmp", rdb->seal_path);
    int len =
        snprintf(text, sizeof text, "lattice-seal 1\nsequence %llu\n", (unsigned long long)seq);
    char name[64];
    uint64_t mlen = 0;
    lt_hash_t mhash;
    if (with_manifest && s_current_manifest(rdb->dir, name, sizeof name) &&
        s_manifest_hash(rdb->dir, name, &mlen, &mhash)) {
        char hex[2 * sizeof mhash.b + 1];
        lt_hex(mhash.b, sizeof mhash.b, hex);
        len += snprintf(text + len, sizeof text - (size_t)len, "manifest %s %llu %s\n", name,
                        (unsigned long long)mlen, hex);
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return lt_fail(eb, LT_EIO, "cannot write %s: %s", tmp, strerror(errno));
    bool ok = write(fd, text, (size_t)len) == len && fsync(fd) == 0;
    int e = errno;
    close(fd);
    if (!ok || rename(tmp, rdb->seal_path) != 0) {
        e = ok ? errno : e;
        unlink(tmp);
        return lt_fail(eb, LT_EIO, "cannot write %s: %s", rdb->seal_path, strerror(e));
    }
    return LT_OK;
}

static bool s_unhex(const char *hex, uint8_t *out, size_t n)
{
    if (strlen(hex) != 2 * n)
        return false;
    for (size_t i = 0; i < 2 * n; i++) {
        char c = hex[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0)
            return false;
        out[i / 2] = (uint8_t)(i % 2 ? out[i / 2] | v : v << 4);
    }
    return true;
}

/* The seal at path; false when there is no (readable) seal. A manifest line
 * that does not parse is ignored: the check then asks RocksDB. */
static bool s_seal_read(const char *path, s_seal_t *seal)
{
    memset(seal, 0, sizeof *seal);
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    unsigned long long seq = 0, mlen = 0;
    char hex[2 * sizeof seal->manifest_hash.b + 2];
    bool ok = fscanf(f, "lattice-seal 1 sequence %llu", &seq) == 1;
    if (ok && fscanf(f, " manifest %63s %llu %65s", seal->manifest, &mlen, hex) == 3 &&
        s_unhex(hex, seal->manifest_hash.b, sizeof seal->manifest_hash.b)) {
        seal->has_manifest = true;
        seal->manifest_len = mlen;
    }
    fclose(f);
    seal->sequence = seq;
    return ok;
}

/* Frees whatever s_open got to; every field may still be NULL. */
static void s_destroy(s_rdb_t *rdb)
{
    if (!rdb)
        return;
    s_close_db(rdb);
    free(rdb->seal_path);
    free(rdb->dir);
    if (rdb->fo)
        rocksdb_flushoptions_destroy(rdb->fo);
    if (rdb->fo_nowait)
        rocksdb_flushoptions_destroy(rdb->fo_nowait);
    if (rdb->wo_sync)
        rocksdb_writeoptions_destroy(rdb->wo_sync);
    if (rdb->wo)
        rocksdb_writeoptions_destroy(rdb->wo);
    if (rdb->ro)
        rocksdb_readoptions_destroy(rdb->ro);
    if (rdb->options)
        rocksdb_options_destroy(rdb->options);
    if (rdb->options_bloom)
        rocksdb_options_destroy(rdb->options_bloom);
    if (rdb->options_nowal)
        rocksdb_options_destroy(rdb->options_nowal);
    /* The table factory holds its own reference to the cache. */
    if (rdb->cache)
        rocksdb_cache_destroy(rdb->cache);
    free(rdb);
}

static void s_close(void *self)
{
    s_rdb_t *rdb = self;
    assert(rdb->readers == 0 && "closing with open snapshots or iterators");
    /* The seal must never claim more than survives a power loss: make the
     * WAL durable first (unsynced batches are in it). A seal that cannot be
     * written leaves the older one, which is still a true lower bound. */
    char *err = NULL;
    rocksdb_flush_wal(rdb->db, 1, &err);
    if (err)
        rocksdb_free(err);
    else
        (void)s_seal_write(rdb, rocksdb_get_latest_sequence_number(rdb->db), false, NULL);
    s_destroy(rdb);
}

static const char *s_errmsg(void *self)
{
    s_rdb_t *rdb = self;
    return rdb->err.msg;
}

static const lt_kv_ops_t s_rocksdb_ops = {
    .version = LT_KV_OPS_VERSION,
    .name = "rocksdb",
    .get = s_get,
    .write = s_write,
    .snapshot_new = s_snapshot_new,
    .snapshot_release = s_snapshot_release,
    .iter_new = s_iter_new,
    .iter_seek = s_iter_seek,
    .iter_seek_for_prev = s_iter_seek_for_prev,
    .iter_seek_first = s_iter_seek_first,
    .iter_seek_last = s_iter_seek_last,
    .iter_next = s_iter_next,
    .iter_prev = s_iter_prev,
    .iter_valid = s_iter_valid,
    .iter_key = s_iter_key,
    .iter_value = s_iter_value,
    .iter_status = s_iter_status,
    .iter_free = s_iter_free,
    .flush = s_flush,
    .close = s_close,
    .errmsg = s_errmsg,
    .bulk = s_bulk,
};

static void s_set_options(s_rdb_t *rdb, const lt_kv_rocksdb_opts_t *opts)
{
    rocksdb_options_t *o = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(o, opts->create_if_missing);
    rocksdb_options_set_create_missing_column_families(o, 1);
    rocksdb_options_set_paranoid_checks(o, 1);
    rocksdb_options_set_write_buffer_size(o, S_WRITE_BUFFER_BYTES);
    rocksdb_options_set_db_write_buffer_size(o, S_DB_WRITE_BUFFER_BYTES);
    rocksdb_options_set_keep_log_file_num(o, S_INFO_LOG_FILES);
    rocksdb_options_set_max_log_file_size(o, S_INFO_LOG_BYTES);
    /* The store writes from one thread: single-writer inserts skip the
     * concurrent-insert machinery. */
    rocksdb_options_set_allow_concurrent_memtable_write(o, 0);
    /* Opening loads every family's table handlers with this many threads,
     * started and joined per family (16 by default): with 13 families and
     * a read-only open before the real one, some 400 threads for a few
     * table files. One is faster here, and a restart's latency is the
     * store's open (bench-ipc restart_ms). */
    rocksdb_options_set_max_file_opening_threads(o, 1);
    /* Reading every table file's stats at open only tunes compaction. */
    rocksdb_options_set_skip_stats_update_on_db_open(o, 1);
    /* No compression in levels 0 and 1, Snappy below (the default for all).
     * Every byte written is flushed to level 0 and compacted into level 1
     * again and again, so compressing there is paid many times over, and
     * most of what the store writes (hashes, keys, signatures) does not
     * compress: Snappy was some 15% of the background threads' time in a
     * clone (bench-sync). Levels 0-1 are a small part of a large database;
     * tables record their own compression, so files written before or
     * after the change read alike. */
    int per_level[S_NUM_LEVELS];
    for (int i = 0; i < S_NUM_LEVELS; i++)
        per_level[i] = i < 2 ? rocksdb_no_compression : rocksdb_snappy_compression;
    rocksdb_options_set_num_levels(o, S_NUM_LEVELS);
    rocksdb_options_set_compression_per_level(o, per_level, S_NUM_LEVELS);
    /* Level 0 is compacted into level 1 at 8 files, not 4. The store's
     * families are keyed by hashes, so each such compaction rewrites all of
     * level 1: under a steady stream of writes (a clone) half as many of
     * them halve what compaction rewrites and its CPU (bench-sync: 0.52 s
     * to 0.24 s of a 100 000-intention clone). A read that misses then
     * asks up to 8 level-0 bloom filters, not 4; the slowdown and stop
     * triggers (20, 36) stay far above. */
    rocksdb_options_set_level0_file_num_compaction_trigger(o, S_L0_COMPACTION_TRIGGER);

    rocksdb_block_based_table_options_t *bbo = rocksdb_block_based_options_create();
    rdb->cache = rocksdb_cache_create_lru(S_BLOCK_CACHE_BYTES);
    rocksdb_block_based_options_set_block_cache(bbo, rdb->cache);
    /* The table options take ownership of the filter policy. */
    rocksdb_block_based_options_set_filter_policy(
        bbo, rocksdb_filterpolicy_create_bloom_full(S_BLOOM_BITS_PER_KEY));
    /* The factory copies the table options. */
    rocksdb_options_set_block_based_table_factory(o, bbo);
    rocksdb_block_based_options_destroy(bbo);
    /* The log's bound during a bulk run, and a backstop: s_write keeps the
     * usual one. Recovery without the flush that follows a replay
     * (avoid_flush_during_recovery) was tried: each restart then replays
     * every earlier restart's log again, and repeated restarts got slower.
     * Memtables stay far below the write buffer size outside a bulk run,
     * which is kept small for the filters below. */
    rocksdb_options_set_max_total_wal_size(o, S_BULK_WAL_BYTES);
    rdb->options = o;
    /* Families where most lookups miss (new hashes) get a memtable bloom
     * filter, which answers a miss without a skiplist search. Only those:
     * each memtable allocates and zeroes its filter (a ratio of the write
     * buffer size), at every open and every flush; 1.6 MB a family at 0.05
     * of 32 MB made opening 13 families twice cost 200 ms of a restart, and
     * 0.01 of 32 MB still cost 5 ms. 0.01 of 8 MB gives these families well
     * over 25 bits per key of a memtable that the 2 MB log bound fills. */
    rdb->bloom_cfs = opts->bloom_cfs;
    if (rdb->bloom_cfs) {
        rdb->options_bloom = rocksdb_options_create_copy(o);
        rocksdb_options_set_memtable_prefix_bloom_size_ratio(rdb->options_bloom, 0.01);
        rocksdb_options_set_memtable_whole_key_filtering(rdb->options_bloom, 1);
    }

    rdb->ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_verify_checksums(rdb->ro, opts->paranoid);
    rdb->wo = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(rdb->wo, 0);
    rdb->wo_sync = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(rdb->wo_sync, 1);
    rdb->fo = rocksdb_flushoptions_create();
    rocksdb_flushoptions_set_wait(rdb->fo, 1);
    rdb->fo_nowait = rocksdb_flushoptions_create();
    rocksdb_flushoptions_set_wait(rdb->fo_nowait, 0);
    rdb->paranoid = opts->paranoid;
}

static bool s_named(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], name) == 0)
            return true;
    }
    return false;
}

/* Whether path holds a database, judged by its CURRENT file. Checked before
 * opening because RocksDB creates the directory and a LOCK file even when it
 * then refuses to create the database. */
static lt_err_t s_check_exists(const char *path, lt_errbuf_t *eb)
{
    size_t len = strlen(path) + sizeof "/CURRENT";
    char *current = malloc(len);
    if (!current)
        return lt_fail(eb, LT_ENOMEM, "open %s: out of memory", path);
    snprintf(current, len, "%s/CURRENT", path);
    struct stat st;
    int rc = stat(current, &st);
    int e = errno;
    free(current);
    if (rc == 0 || (e != ENOENT && e != ENOTDIR))
        return LT_OK; /* present, or let RocksDB report the real problem */
    return lt_fail(eb, LT_ENOTFOUND, "open %s: no database there (create_if_missing is false)",
                   path);
}

typedef enum {
    S_READ_WRITE,
    S_READ_ONLY,     /* replays the write-ahead log into memory, writes nothing */
    S_MANIFEST_ONLY, /* read-only and without the log: rdb->options_nowal */
} s_mode_t;

/* Opens the database with the requested families first, then "default" and
 * any family on disk the caller did not name. */
static lt_err_t s_open_db(s_rdb_t *rdb, const char *path, const char *const *cf_names,
                          s_mode_t mode, lt_errbuf_t *eb)
{
    bool read_only = mode != S_READ_WRITE;
    char *err = NULL;
    size_t nlisted = 0;
    char **listed = rocksdb_list_column_families(rdb->options, path, &nlisted, &err);
    if (err) {
        /* A new database has nothing to list; any other problem is reported
         * by the open itself. The (empty) list is still allocated. */
        rocksdb_free(err);
        err = NULL;
        nlisted = 0;
    }

    size_t cap = rdb->ncf + 1 + nlisted;
    const char **names = calloc(cap, sizeof *names);
    const rocksdb_options_t **cfopts = calloc(cap, sizeof *cfopts);
    rocksdb_column_family_handle_t **handles = calloc(cap, sizeof *handles);
    lt_err_t rc = LT_OK;
    if (!names || !cfopts || !handles) {
        rc = lt_fail(eb, LT_ENOMEM, "open %s: out of memory", path);
        goto done;
    }
    size_t n = 0;
    for (unsigned i = 0; i < rdb->ncf; i++)
        names[n++] = cf_names[i];
    if (!s_named(names, n, "default"))
        names[n++] = "default";
    for (size_t i = 0; i < nlisted; i++) {
        if (!s_named(names, n, listed[i]))
            names[n++] = listed[i];
    }
    /* The read-only open only reads the sequence number: no filters. */
    for (size_t i = 0; i < n; i++)
        cfopts[i] = !read_only && i < rdb->ncf && i < 32 && (rdb->bloom_cfs >> i & 1u)
                        ? rdb->options_bloom
                        : rdb->options;

    if (read_only)
        rdb->db = rocksdb_open_for_read_only_column_families(
            mode == S_MANIFEST_ONLY ? rdb->options_nowal : rdb->options, path, (int)n, names,
            cfopts, handles, 0, &err);
    else
        rdb->db =
            rocksdb_open_column_families(rdb->options, path, (int)n, names, cfopts, handles, &err);
    if (err) {
        rc = s_fail(rdb, eb, err, "open");
        goto done;
    }
    for (unsigned i = 0; i < rdb->ncf; i++)
        rdb->cf[i] = handles[i];
    if (n > rdb->ncf) {
        rdb->extra = calloc(n - rdb->ncf, sizeof *rdb->extra);
        if (!rdb->extra) {
            for (size_t i = rdb->ncf; i < n; i++)
                rocksdb_column_family_handle_destroy(handles[i]);
            rc = lt_fail(eb, LT_ENOMEM, "open %s: out of memory", path);
            goto done;
        }
        for (size_t i = rdb->ncf; i < n; i++)
            rdb->extra[rdb->nextra++] = handles[i];
    }

done:
    free(names);
    free(cfopts);
    free(handles);
    if (listed)
        rocksdb_list_column_families_destroy(listed, nlisted);
    return rc;
}

/* RocksDB's last sequence number as the MANIFEST alone has it, without
 * replaying the write-ahead log: a read-only open whose log directory is an
 * empty one of ours (rmdir first: it only removes an empty directory, and
 * one that is not empty is not ours to use). False when that cannot be
 * arranged or the open fails; the caller then asks the full open. */
static bool s_manifest_seq(s_rdb_t *rdb, const char *path, const char *const *cf_names,
                           uint64_t *seq)
{
    size_t len = strlen(path) + sizeof "/LATTICE-NOWAL";
    char *dir = malloc(len);
    if (!dir)
        return false;
    snprintf(dir, len, "%s/LATTICE-NOWAL", path);
    bool ok = false;
    if ((rmdir(dir) == 0 || errno == ENOENT) && mkdir(dir, 0700) == 0) {
        if (!rdb->options_nowal)
            rdb->options_nowal = rocksdb_options_create_copy(rdb->options);
        rocksdb_options_set_wal_dir(rdb->options_nowal, dir);
        ok = s_open_db(rdb, path, cf_names, S_MANIFEST_ONLY, NULL) == LT_OK;
        if (ok)
            *seq = rocksdb_get_latest_sequence_number(rdb->db);
        s_close_db(rdb);
        rmdir(dir);
    }
    free(dir);
    return ok;
}

/* Whether the MANIFEST that CURRENT names is the one the seal names and
 * still begins with the bytes the seal hashed. */
static bool s_manifest_intact(const char *dir, const s_seal_t *seal)
{
    char name[64];
    uint64_t len = seal->manifest_len;
    lt_hash_t hash;
    return seal->has_manifest && len > 0 && s_current_manifest(dir, name, sizeof name) &&
           strcmp(name, seal->manifest) == 0 && s_manifest_hash(dir, name, &len, &hash) &&
           lt_hash_eq(&hash, &seal->manifest_hash);
}

/* The seal check (see the top of this file), before the read-write open can
 * roll anything back: recovery must reach the sealed sequence number. It
 * asks the cheapest witness first and RocksDB itself last:
 *
 * 1. The MANIFEST prefix. A seal written at open follows recovery, which
 *    flushed what it replayed and recorded the sequence number in the new
 *    MANIFEST (every edit RocksDB writes carries the last sequence number);
 *    the seal holds that MANIFEST's name and the hash of what it held then.
 *    A MANIFEST is only ever appended to, and recovery reads all of it, so
 *    when CURRENT still names it and it still begins with those bytes,
 *    recovery reaches the sealed number. A cut MANIFEST, the failure the
 *    seal is for, fails this test; so does any other change to those bytes.
 * 2. The MANIFEST alone (s_manifest_seq): recovery ends at the larger of its
 *    sequence number and the log's last one.
 * 3. A read-only open that replays the log too, as the read-write open will;
 *    needed after a clean close, whose seal also counts what only the log
 *    holds. */
static lt_err_t s_seal_check(s_rdb_t *rdb, const char *path, const char *const *cf_names,
                             const s_seal_t *seal, lt_errbuf_t *eb)
{
    if (s_manifest_intact(path, seal))
        return LT_OK;
    uint64_t seq = 0;
    if (s_manifest_seq(rdb, path, cf_names, &seq) && seq >= seal->sequence)
        return LT_OK;
    lt_err_t rc = s_open_db(rdb, path, cf_names, S_READ_ONLY, eb);
    seq = rc ? 0 : rocksdb_get_latest_sequence_number(rdb->db);
    s_close_db(rdb);
    if (rc == LT_OK && seq < seal->sequence)
        rc = lt_fail(eb, LT_ECORRUPT,
                     "open %s: the database went back to sequence %llu but reached %llu "
                     "before: a damaged MANIFEST or lost files; refusing to open it (the "
                     "files are left as they are)",
                     path, (unsigned long long)seq, (unsigned long long)seal->sequence);
    return rc;
}

lt_err_t lt_kv_rocksdb_open(const char *path, const char *const *cf_names, unsigned ncf,
                            const lt_kv_rocksdb_opts_t *opts, lt_errbuf_t *errbuf, lt_kv_t **out)
{
    *out = NULL;
    lt_errbuf_clear(errbuf);
    if (!path || !cf_names || !opts)
        return lt_fail(errbuf, LT_EINVAL, "open: path, cf_names and opts are required");
    if (ncf == 0 || ncf > LT_KV_MAX_CF)
        return lt_fail(errbuf, LT_EINVAL, "open %s: %u column families (1..%d)", path, ncf,
                       LT_KV_MAX_CF);
    for (unsigned i = 0; i < ncf; i++) {
        if (!cf_names[i] || s_named(cf_names, i, cf_names[i]))
            return lt_fail(errbuf, LT_EINVAL, "open %s: column family %u is unnamed or repeated",
                           path, i);
    }
    if (!opts->create_if_missing) {
        lt_err_t rc = s_check_exists(path, errbuf);
        if (rc)
            return rc;
    }

    s_rdb_t *rdb = calloc(1, sizeof *rdb);
    lt_kv_t *kv = malloc(sizeof *kv);
    if (!rdb || !kv) {
        free(rdb);
        free(kv);
        return lt_fail(errbuf, LT_ENOMEM, "open %s: out of memory", path);
    }
    rdb->ncf = ncf;
    s_set_options(rdb, opts);
    lt_err_t rc = LT_OK;
    size_t plen = strlen(path) + sizeof "/LATTICE-SEAL";
    rdb->seal_path = malloc(plen);
    rdb->dir = strdup(path);
    if (!rdb->seal_path || !rdb->dir)
        rc = lt_fail(errbuf, LT_ENOMEM, "open %s: out of memory", path);
    else
        snprintf(rdb->seal_path, plen, "%s/LATTICE-SEAL", path);
    s_seal_t seal;
    if (rc == LT_OK && s_seal_read(rdb->seal_path, &seal))
        rc = s_seal_check(rdb, path, cf_names, &seal, errbuf);
    if (rc == LT_OK)
        rc = s_open_db(rdb, path, cf_names, S_READ_WRITE, errbuf);
    if (rc == LT_OK) {
        /* What recovery replayed must be durable before the seal says so. */
        char *err = NULL;
        rocksdb_flush_wal(rdb->db, 1, &err);
        rc = err ? s_fail(rdb, errbuf, err, "sync the WAL")
                 : s_seal_write(rdb, rocksdb_get_latest_sequence_number(rdb->db), true, errbuf);
    }
    if (rc) {
        s_destroy(rdb);
        free(kv);
        return rc;
    }
    kv->ops = &s_rocksdb_ops;
    kv->self = rdb;
    *out = kv;
    return LT_OK;
}
