/* The log backend: see kv_log.h. An OS port (files, fsync, flock); the
 * replay (lt_kv_log_replay) is pure. */
#include "store/kv_log.h"

#include "store/kv_wrap.h"
#include "weaver/hash.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_MAGIC         "LTKVLOG1"
#define S_HEADER        16
#define S_PERSONAL      "lt-kvlog-record1"
#define S_KIND_BATCH    1
#define S_MAX_RECORD    (256u << 20) /* a batch larger than this is damage */
#define S_COMPACT_MIN   (4u << 20)
#define S_COMPACT_CHUNK (1u << 20) /* bytes of live data per record a compaction writes */

typedef struct {
    int fd, lock_fd;
    char path[PATH_MAX];
    unsigned ncf;
    uint64_t size;  /* of the file */
    uint64_t live;  /* bytes of the live data, at the last compaction */
    uint64_t since; /* appended since */
    bool poisoned;  /* the file and memory may disagree: refuse writes */
    lt_kv_log_stats_t st;
    lt_buf_t rec;
    lt_errbuf_t eb;
} s_log_t;

/* ---- replay ---- */

static uint32_t s_u32(const uint8_t *p)
{
    return lt_get_u32le(p);
}

/* Decodes one payload into ops (views into p); LT_ECORRUPT when it breaks
 * the format. */
static lt_err_t s_decode(const uint8_t *p, size_t n, unsigned ncf, lt_kv_op_t **ops, size_t *nops,
                         lt_errbuf_t *eb)
{
    if (n < 5 || p[0] != S_KIND_BATCH)
        return lt_fail(eb, LT_ECORRUPT, "a record of an unknown kind");
    uint32_t count = s_u32(p + 1);
    /* Each op takes at least 10 bytes: bound the count before allocating. */
    if (count > (n - 5) / 10)
        return lt_fail(eb, LT_ECORRUPT, "a record claims %u ops in %zu bytes", count, n);
    lt_kv_op_t *v = count ? calloc(count, sizeof *v) : NULL;
    if (count && !v)
        return lt_fail(eb, LT_ENOMEM, "out of memory");
    size_t at = 5;
    for (uint32_t i = 0; i < count; i++) {
        if (n - at < 10) {
            free(v);
            return lt_fail(eb, LT_ECORRUPT, "op %u is cut short", i);
        }
        uint8_t cf = p[at], del = p[at + 1];
        uint32_t klen = s_u32(p + at + 2);
        at += 6;
        if (cf >= ncf || del > 1 || klen > n - at || n - at - klen < 4) {
            free(v);
            return lt_fail(eb, LT_ECORRUPT, "op %u is malformed", i);
        }
        v[i].cf = cf;
        v[i].del = del;
        v[i].key = p + at;
        v[i].klen = klen;
        at += klen;
        uint32_t vlen = s_u32(p + at);
        at += 4;
        if (vlen > n - at || (del && vlen)) {
            free(v);
            return lt_fail(eb, LT_ECORRUPT, "op %u is malformed", i);
        }
        v[i].value = p + at;
        v[i].vlen = vlen;
        at += vlen;
    }
    if (at != n) {
        free(v);
        return lt_fail(eb, LT_ECORRUPT, "a record has %zu bytes after its ops", n - at);
    }
    *ops = v;
    *nops = count;
    return LT_OK;
}

lt_err_t lt_kv_log_replay(const uint8_t *p, size_t n, unsigned ncf, lt_kv_t *into, size_t *good,
                          lt_errbuf_t *eb)
{
    size_t at = 0;
    *good = 0;
    while (at < n) {
        size_t left = n - at;
        if (left < 4)
            break; /* a torn length */
        uint32_t len = s_u32(p + at);
        if (len > S_MAX_RECORD)
            return lt_fail(eb, LT_ECORRUPT, "a record at offset %zu claims %u bytes", at, len);
        if (left < 4 + (size_t)len + LT_HASH_LEN)
            break; /* a torn record: it runs past the end */
        lt_hash_t h;
        lt_hash_personal(S_PERSONAL, p + at, 4 + (size_t)len, &h);
        bool last = left == 4 + (size_t)len + LT_HASH_LEN;
        if (memcmp(h.b, p + at + 4 + len, LT_HASH_LEN) != 0) {
            if (last)
                break; /* torn: its bytes did not all reach the disk */
            return lt_fail(eb, LT_ECORRUPT, "the record at offset %zu fails its hash", at);
        }
        lt_kv_op_t *ops = NULL;
        size_t nops = 0;
        lt_err_t rc = s_decode(p + at + 4, len, ncf, &ops, &nops, eb);
        if (rc == LT_OK && nops) {
            lt_kv_batch_t b = {ops, nops};
            rc = lt_kv_write(into, &b, false);
            if (rc)
                lt_fail(eb, rc, "replaying a record: %s", lt_kv_errmsg(into));
        }
        free(ops);
        if (rc)
            return rc;
        at += 4 + (size_t)len + LT_HASH_LEN;
        *good = at;
    }
    return LT_OK;
}

/* ---- records ---- */

static lt_err_t s_encode(const lt_kv_op_t *ops, size_t nops, lt_buf_t *out)
{
    lt_buf_reset(out);
    lt_err_t rc = lt_buf_put_u32le(out, 0); /* the length, set below */
    if (rc == LT_OK)
        rc = lt_buf_put_u8(out, S_KIND_BATCH);
    if (rc == LT_OK)
        rc = lt_buf_put_u32le(out, (uint32_t)nops);
    for (size_t i = 0; rc == LT_OK && i < nops; i++) {
        const lt_kv_op_t *o = &ops[i];
        size_t vlen = o->del ? 0 : o->vlen;
        if (o->klen > UINT32_MAX || vlen > UINT32_MAX)
            return LT_EINVAL;
        rc = lt_buf_put_u8(out, o->cf);
        if (rc == LT_OK)
            rc = lt_buf_put_u8(out, o->del ? 1 : 0);
        if (rc == LT_OK)
            rc = lt_buf_put_u32le(out, (uint32_t)o->klen);
        if (rc == LT_OK)
            rc = lt_buf_append(out, o->key, o->klen);
        if (rc == LT_OK)
            rc = lt_buf_put_u32le(out, (uint32_t)vlen);
        if (rc == LT_OK && vlen)
            rc = lt_buf_append(out, o->value, vlen);
    }
    if (rc)
        return rc;
    if (out->len - 4 > S_MAX_RECORD)
        return LT_EINVAL;
    lt_put_u32le(out->data, (uint32_t)(out->len - 4));
    lt_hash_t h;
    lt_hash_personal(S_PERSONAL, out->data, out->len, &h);
    return lt_buf_append(out, h.b, LT_HASH_LEN);
}

static lt_err_t s_write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return LT_EIO;
        p += w;
        n -= (size_t)w;
    }
    return LT_OK;
}

static lt_err_t s_sync_dir(const char *path)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return LT_EIO;
    int r = fsync(fd);
    close(fd);
    return r == 0 ? LT_OK : LT_EIO;
}

static lt_err_t s_header(int fd, unsigned ncf)
{
    uint8_t h[S_HEADER] = {0};
    memcpy(h, S_MAGIC, 8);
    lt_put_u32le(h + 8, ncf);
    return s_write_all(fd, h, sizeof h);
}

/* ---- compaction ---- */

/* Appends the live data of mem to fd as batch records of about
 * S_COMPACT_CHUNK bytes each, so that a compaction holds one chunk in
 * memory, not a copy of the store (replaying the records one after the
 * other gives the same data). *bytes is what was written. */
static lt_err_t s_write_live(int fd, lt_kv_t *mem, unsigned ncf, lt_buf_t *rec, uint64_t *bytes)
{
    lt_kv_op_t *ops = NULL;
    size_t n = 0, cap = 0, pending = 0;
    lt_err_t rc = LT_OK;
    *bytes = 0;
    for (unsigned cf = 0; rc == LT_OK && cf < ncf; cf++) {
        lt_kv_iter_t *it = NULL;
        rc = lt_kv_iter_new(mem, cf, &it);
        if (rc)
            break;
        mem->ops->iter_seek_first(it);
        for (bool more = true; rc == LT_OK && more;) {
            more = mem->ops->iter_valid(it);
            lt_kv_op_t o = {.cf = (uint8_t)cf};
            if (more) {
                o.key = mem->ops->iter_key(it, &o.klen);
                o.value = mem->ops->iter_value(it, &o.vlen);
            }
            /* A chunk is written when the next op would take it past
             * S_COMPACT_CHUNK, and at the end of each family (the keys and
             * values point into its iterator). */
            size_t size = o.klen + o.vlen + 10;
            if (n && (!more || pending + size > S_COMPACT_CHUNK)) {
                rc = s_encode(ops, n, rec);
                if (rc == LT_OK)
                    rc = s_write_all(fd, rec->data, rec->len);
                *bytes += rc == LT_OK ? rec->len : 0;
                n = pending = 0;
            }
            if (!more || rc)
                break;
            if (n == cap) {
                cap = cap ? cap * 2 : 256;
                lt_kv_op_t *v = realloc(ops, cap * sizeof *v);
                if (!v) {
                    rc = LT_ENOMEM;
                    break;
                }
                ops = v;
            }
            ops[n++] = o;
            pending += size;
            mem->ops->iter_next(it);
        }
        if (rc == LT_OK)
            rc = mem->ops->iter_status(it);
        mem->ops->iter_free(it);
    }
    free(ops);
    return rc;
}

/* Rewrites the file as its live data. On failure the old file stays. */
static lt_err_t s_compact(s_log_t *l, lt_kv_t *mem)
{
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", l->path);
    uint64_t live = 0;
    lt_err_t rc = LT_OK;
    int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        rc = LT_EIO;
    if (rc == LT_OK)
        rc = s_header(fd, l->ncf);
    if (rc == LT_OK)
        rc = s_write_live(fd, mem, l->ncf, &l->rec, &live);
    if (rc == LT_OK && fsync(fd) != 0)
        rc = LT_EIO;
    if (rc == LT_OK && rename(tmp, l->path) != 0)
        rc = LT_EIO;
    if (rc) {
        if (fd >= 0)
            close(fd);
        unlink(tmp);
        return rc;
    }
    /* Renamed: the new file is the log from now on, whatever follows (the
     * old one is unlinked; appending to it would lose the appends). */
    close(l->fd);
    l->fd = fd;
    l->size = S_HEADER + live;
    l->live = live;
    l->since = 0;
    l->st.compactions++;
    if (s_sync_dir(l->path) != LT_OK && s_sync_dir(l->path) != LT_OK) {
        /* The rename may not survive a crash, and the old file it would
         * bring back lacks what is appended from now on: refuse to append
         * until the store is reopened. */
        l->poisoned = true;
        return LT_EIO;
    }
    return LT_OK;
}

/* ---- the wrapper's hooks ---- */

static lt_err_t s_write(void *ctx, lt_kv_t *inner, const lt_kv_batch_t *batch, bool sync)
{
    s_log_t *l = ctx;
    lt_errbuf_clear(&l->eb);
    if (l->poisoned)
        return lt_fail(&l->eb, LT_EIO, "an earlier write failed half-way: reopen the store");
    if (batch->nops == 0)
        return LT_OK;
    for (size_t i = 0; i < batch->nops; i++)
        if (batch->ops[i].cf >= l->ncf)
            return lt_fail(&l->eb, LT_EINVAL, "no column family %u", batch->ops[i].cf);
    lt_err_t rc = s_encode(batch->ops, batch->nops, &l->rec);
    if (rc)
        return lt_fail(&l->eb, rc, "the batch cannot be recorded (%s)", lt_strerror(rc));
    rc = s_write_all(l->fd, l->rec.data, l->rec.len);
    if (rc == LT_OK && sync && fdatasync(l->fd) != 0)
        rc = LT_EIO;
    if (rc) {
        int e = errno;
        /* Take the partial record back off, or refuse every later write. */
        if (ftruncate(l->fd, (off_t)l->size) != 0 || lseek(l->fd, 0, SEEK_END) < 0)
            l->poisoned = true;
        return lt_fail(&l->eb, LT_EIO, "appending to %s: %s", l->path, strerror(e));
    }
    l->size += l->rec.len;
    l->since += l->rec.len;
    rc = lt_kv_write(inner, batch, false);
    if (rc) {
        l->poisoned = true; /* recorded but not applied: memory is behind the file */
        return lt_fail(&l->eb, rc, "applying a recorded batch: %s", lt_kv_errmsg(inner));
    }
    if (l->since > S_COMPACT_MIN && l->since > l->live && s_compact(l, inner) != LT_OK) {
        /* The file in use holds everything (a compaction that fails after
         * its rename refuses later writes instead): try again after as
         * much again. */
        l->since = 0;
    }
    l->st.file_bytes = l->size;
    return LT_OK;
}

static lt_err_t s_flush(void *ctx, lt_kv_t *inner)
{
    (void)inner;
    s_log_t *l = ctx;
    lt_errbuf_clear(&l->eb);
    if (fdatasync(l->fd) != 0)
        return lt_fail(&l->eb, LT_EIO, "syncing %s: %s", l->path, strerror(errno));
    return LT_OK;
}

static void s_close(void *ctx)
{
    s_log_t *l = ctx;
    if (l->fd >= 0)
        close(l->fd);
    if (l->lock_fd >= 0)
        close(l->lock_fd);
    lt_buf_free(&l->rec);
    free(l);
}

static const char *s_errmsg(void *ctx)
{
    return ((s_log_t *)ctx)->eb.msg;
}

static const lt_kv_wrap_hooks_t s_hooks = {
    .name = "log", .write = s_write, .flush = s_flush, .close = s_close, .errmsg = s_errmsg};

/* ---- open ---- */

static lt_err_t s_read_all(int fd, lt_buf_t *out, uint64_t size)
{
    lt_err_t rc = lt_buf_reserve(out, size);
    while (rc == LT_OK && out->len < size) {
        ssize_t r = pread(fd, out->data + out->len, size - out->len, (off_t)out->len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return LT_EIO;
        out->len += (size_t)r;
    }
    return rc;
}

static lt_err_t s_open_file(s_log_t *l, const lt_kv_log_opts_t *opts, lt_kv_t *mem)
{
    char lock[PATH_MAX + 8];
    snprintf(lock, sizeof lock, "%s.lock", l->path);
    struct stat sb;
    bool exists = stat(l->path, &sb) == 0;
    if (!exists && !(opts && opts->create_if_missing))
        return lt_fail(&l->eb, LT_ENOTFOUND, "no log at %s", l->path);
    l->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (l->lock_fd < 0)
        return lt_fail(&l->eb, LT_EIO, "%s: %s", lock, strerror(errno));
    if (flock(l->lock_fd, LOCK_EX | LOCK_NB) != 0)
        return lt_fail(&l->eb, errno == EWOULDBLOCK ? LT_ELOCKED : LT_EIO,
                       "%s is in use by another process", l->path);
    l->fd = open(l->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (l->fd < 0 || fstat(l->fd, &sb) != 0)
        return lt_fail(&l->eb, LT_EIO, "%s: %s", l->path, strerror(errno));
    if (sb.st_size == 0) {
        if (s_header(l->fd, l->ncf) != LT_OK || fsync(l->fd) != 0 || s_sync_dir(l->path))
            return lt_fail(&l->eb, LT_EIO, "creating %s: %s", l->path, strerror(errno));
        l->size = S_HEADER;
        return LT_OK;
    }
    lt_buf_t all = LT_BUF_INIT;
    lt_err_t rc = s_read_all(l->fd, &all, (uint64_t)sb.st_size);
    if (rc) {
        lt_buf_free(&all);
        return lt_fail(&l->eb, rc, "reading %s: %s", l->path, strerror(errno));
    }
    if (all.len < S_HEADER || memcmp(all.data, S_MAGIC, 8) != 0) {
        lt_buf_free(&all);
        return lt_fail(&l->eb, LT_ECORRUPT, "%s is not a Lattice log (bad header)", l->path);
    }
    if (lt_get_u32le(all.data + 8) != l->ncf) {
        unsigned had = lt_get_u32le(all.data + 8);
        lt_buf_free(&all);
        return lt_fail(&l->eb, LT_ECORRUPT, "%s has %u column families, not %u", l->path, had,
                       l->ncf);
    }
    size_t good = 0;
    rc = lt_kv_log_replay(all.data + S_HEADER, all.len - S_HEADER, l->ncf, mem, &good, &l->eb);
    uint64_t size = all.len;
    lt_buf_free(&all);
    if (rc)
        return rc;
    l->size = S_HEADER + good;
    if (l->size < size) {
        l->st.torn_bytes_cut = size - l->size;
        if (ftruncate(l->fd, (off_t)l->size) != 0 || fsync(l->fd) != 0)
            return lt_fail(&l->eb, LT_EIO, "cutting the torn end of %s: %s", l->path,
                           strerror(errno));
    }
    if (lseek(l->fd, 0, SEEK_END) < 0)
        return lt_fail(&l->eb, LT_EIO, "%s: %s", l->path, strerror(errno));
    l->live = l->size - S_HEADER;
    return LT_OK;
}

lt_err_t lt_kv_log_open(const char *path, unsigned ncf, const lt_kv_log_opts_t *opts,
                        lt_errbuf_t *eb, lt_kv_t **out)
{
    *out = NULL;
    if (!path || ncf == 0 || ncf > LT_KV_MAX_CF || strlen(path) >= PATH_MAX - 8)
        return lt_fail(eb, LT_EINVAL, "a path and 1..%d column families are needed", LT_KV_MAX_CF);
    s_log_t *l = calloc(1, sizeof *l);
    if (!l)
        return lt_fail(eb, LT_ENOMEM, "out of memory");
    l->fd = l->lock_fd = -1;
    l->ncf = ncf;
    l->rec = (lt_buf_t)LT_BUF_INIT;
    snprintf(l->path, sizeof l->path, "%s", path);
    lt_kv_t *mem = NULL;
    lt_err_t rc = lt_kv_mem_open(ncf, &mem);
    if (rc == LT_OK)
        rc = s_open_file(l, opts, mem);
    if (rc == LT_OK)
        rc = lt_kv_wrap(mem, &s_hooks, l, out);
    if (rc) {
        if (eb)
            *eb = l->eb.msg[0] ? l->eb : (lt_errbuf_t){""};
        if (eb && !eb->msg[0])
            lt_fail(eb, rc, "opening %s: %s", path, lt_strerror(rc));
        lt_kv_close(&mem);
        s_close(l);
        return rc;
    }
    l->st.file_bytes = l->size;
    return LT_OK;
}

void lt_kv_log_stats(const lt_kv_t *kv, lt_kv_log_stats_t *out)
{
    const s_log_t *l = lt_kv_wrap_ctx(kv, &s_hooks);
    memset(out, 0, sizeof *out);
    if (l)
        *out = l->st;
}
