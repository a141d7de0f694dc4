/* The memory backend of the storage port: one ordered map per column family,
 * in RAM. Tests, the simulator and merge replays use it where RocksDB would be
 * slow to set up or cannot run, so it has to behave like the RocksDB backend
 * (same key order, atomic batches, the same view through snapshots and
 * iterators) and stay fast with hundreds of thousands of keys.
 *
 * Ordered map. Each column family is a skiplist (Pugh, p = 1/4) with a
 * backward pointer at level 0, so prev, seek_for_prev and seek_last need no
 * second structure; seek and insert are O(log n). Tower heights come from a
 * per-instance xorshift64* generator with a fixed seed: the same writes build
 * the same lists, which keeps simulator runs reproducible.
 *
 * Versions. Every committed batch gets the next sequence number. A node (one
 * per key) holds a chain of versions, newest first: (seq, value) or (seq,
 * tombstone). A reader at sequence S sees, for each key, the newest version
 * with seq <= S, and skips the key when that version is a tombstone or when
 * there is none. A snapshot is a sequence number, so taking one is O(1). An
 * iterator reads at the sequence current when it was created (RocksDB gives
 * its iterators the same implicit snapshot), a get without snapshot reads at
 * the latest sequence.
 *
 * Why iterators survive writes. Nodes are never unlinked or freed, and
 * versions never freed, while any reader (snapshot or iterator) is open: the
 * backend counts open readers. An iterator therefore keeps a pointer to its
 * node without re-seeking: the node stays linked, nodes inserted around it
 * carry versions newer than the iterator's sequence and are skipped, and a
 * key deleted after the iterator was created still shows it the old version.
 * Borrowed key and value views stay valid for the same reason.
 *
 * Garbage. A write that shadows a version or writes a tombstone puts the node
 * on its family's dirty list. When no reader is open, the end of the write
 * sweeps that list (drops all but the newest version, unlinks nodes whose
 * newest version is a tombstone); otherwise the sweep runs when the last
 * reader is released. Garbage thus accumulates only while a snapshot or an
 * iterator stays open, and the sweep costs O(log n) per key it unlinks, paid
 * once per write that created the garbage.
 *
 * Atomicity. write() validates the batch and allocates, before touching the
 * lists, a version for every op and a node for every put (whether the key
 * exists is only known when the op is applied, after the earlier ops of the
 * batch); it then applies the ops in order, which cannot fail, and frees the
 * nodes of puts whose key already had one. A malloc and free per overwrite
 * is cheaper than a second search. On ENOMEM nothing has changed.
 *
 * Single-threaded, like every backend behind the port: the store calls it from
 * one thread. */
#include "store/kv.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* With p = 1/4, 16 levels keep searches logarithmic well past 10^9 keys. */
#define S_MAX_HEIGHT 16
/* Any nonzero seed works; fixed so that tower heights are reproducible. */
#define S_RNG_SEED 0x9E3779B97F4A7C15ULL

typedef struct s_version {
    struct s_version *older;
    uint64_t seq;
    bool del;
    size_t vlen;
    uint8_t value[];
} s_version_t;

typedef struct s_node {
    const uint8_t *key; /* stored after the tower, in the same allocation */
    size_t klen;
    s_version_t *newest;
    struct s_node *prev;       /* level-0 predecessor; NULL for the first node */
    struct s_node *dirty_next; /* next on the family's dirty list */
    bool dirty;
    unsigned height;
    struct s_node *next[];
} s_node_t;

typedef struct {
    s_node_t *head;  /* sentinel of height S_MAX_HEIGHT, without key */
    unsigned height; /* levels in use, >= 1 */
    s_node_t *dirty; /* nodes holding garbage, swept when no reader is open */
} s_list_t;

typedef struct {
    unsigned ncf;
    s_list_t cf[LT_KV_MAX_CF];
    uint64_t seq;   /* of the last committed batch */
    uint64_t rng;   /* xorshift64* state for tower heights */
    size_t readers; /* open snapshots and iterators */
    lt_errbuf_t err;
} s_mem_t;

typedef struct {
    s_mem_t *mem;
    uint64_t seq;
} s_snap_t;

typedef struct {
    s_mem_t *mem;
    const s_list_t *list;
    uint64_t seq;
    const s_node_t *cur;    /* NULL when not valid */
    const s_version_t *ver; /* the version of cur visible at seq */
} s_iter_t;

/* Per-op allocations made before a batch touches the lists. */
typedef struct {
    s_version_t *ver;
    s_node_t *node; /* puts only: used if the key has no node yet */
} s_prep_t;

static int s_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    /* memcmp must not see a NULL pointer even for a zero length. */
    int c = n ? memcmp(a, b, n) : 0;
    if (c)
        return c;
    return alen < blen ? -1 : alen > blen;
}

static uint64_t s_rand(s_mem_t *m)
{
    uint64_t x = m->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    m->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static unsigned s_random_height(s_mem_t *m)
{
    uint64_t r = s_rand(m);
    unsigned h = 1;
    while (h < S_MAX_HEIGHT && (r & 3) == 0) {
        h++;
        r >>= 2;
    }
    return h;
}

static s_node_t *s_node_new(unsigned height, const uint8_t *key, size_t klen)
{
    size_t tower = height * sizeof(s_node_t *);
    if (klen > SIZE_MAX - sizeof(s_node_t) - tower)
        return NULL;
    s_node_t *n = malloc(sizeof *n + tower + klen);
    if (!n)
        return NULL;
    uint8_t *kcopy = (uint8_t *)&n->next[height];
    if (klen)
        memcpy(kcopy, key, klen);
    n->key = kcopy;
    n->klen = klen;
    n->newest = NULL;
    n->prev = NULL;
    n->dirty_next = NULL;
    n->dirty = false;
    n->height = height;
    for (unsigned lv = 0; lv < height; lv++)
        n->next[lv] = NULL;
    return n;
}

static void s_versions_free(s_version_t *v)
{
    while (v) {
        s_version_t *older = v->older;
        free(v);
        v = older;
    }
}

static void s_node_free(s_node_t *n)
{
    if (!n)
        return;
    s_versions_free(n->newest);
    free(n);
}

static s_version_t *s_version_new(bool del, const uint8_t *value, size_t vlen)
{
    if (vlen > SIZE_MAX - sizeof(s_version_t))
        return NULL;
    s_version_t *v = malloc(sizeof *v + vlen);
    if (!v)
        return NULL;
    v->older = NULL;
    v->seq = 0;
    v->del = del;
    v->vlen = vlen;
    if (vlen)
        memcpy(v->value, value, vlen);
    return v;
}

/* First node with a key >= key, or NULL. When update is given, update[lv]
 * receives the last node < key at each level in use (the head if none). */
static s_node_t *s_find_ge(const s_list_t *l, const uint8_t *key, size_t klen, s_node_t **update)
{
    s_node_t *x = l->head;
    for (unsigned lv = l->height; lv-- > 0;) {
        while (x->next[lv] && s_cmp(x->next[lv]->key, x->next[lv]->klen, key, klen) < 0)
            x = x->next[lv];
        if (update)
            update[lv] = x;
    }
    return x->next[0];
}

/* Exact match or NULL. */
static s_node_t *s_find_eq(const s_list_t *l, const uint8_t *key, size_t klen)
{
    s_node_t *n = s_find_ge(l, key, klen, NULL);
    return n && s_cmp(n->key, n->klen, key, klen) == 0 ? n : NULL;
}

/* Last node with a key <= key, or NULL. */
static s_node_t *s_find_le(const s_list_t *l, const uint8_t *key, size_t klen)
{
    s_node_t *x = l->head;
    for (unsigned lv = l->height; lv-- > 0;) {
        while (x->next[lv] && s_cmp(x->next[lv]->key, x->next[lv]->klen, key, klen) <= 0)
            x = x->next[lv];
    }
    return x == l->head ? NULL : x;
}

static s_node_t *s_find_last(const s_list_t *l)
{
    s_node_t *x = l->head;
    for (unsigned lv = l->height; lv-- > 0;) {
        while (x->next[lv])
            x = x->next[lv];
    }
    return x == l->head ? NULL : x;
}

/* Links n after update[] (as filled by s_find_ge for n's key). */
static void s_link(s_list_t *l, s_node_t *n, s_node_t **update)
{
    for (unsigned lv = l->height; lv < n->height; lv++)
        update[lv] = l->head;
    if (n->height > l->height)
        l->height = n->height;
    for (unsigned lv = 0; lv < n->height; lv++) {
        n->next[lv] = update[lv]->next[lv];
        update[lv]->next[lv] = n;
    }
    n->prev = update[0] == l->head ? NULL : update[0];
    if (n->next[0])
        n->next[0]->prev = n;
}

static void s_unlink(s_list_t *l, s_node_t *n)
{
    s_node_t *update[S_MAX_HEIGHT];
    s_node_t *found = s_find_ge(l, n->key, n->klen, update);
    assert(found == n);
    (void)found;
    /* n's key is the smallest >= itself, so at every level of n's tower the
     * last node before the key links straight to n. */
    for (unsigned lv = 0; lv < n->height; lv++)
        update[lv]->next[lv] = n->next[lv];
    if (n->next[0])
        n->next[0]->prev = n->prev;
    while (l->height > 1 && !l->head->next[l->height - 1])
        l->height--;
}

static void s_mark_dirty(s_list_t *l, s_node_t *n)
{
    if (n->dirty)
        return;
    n->dirty = true;
    n->dirty_next = l->dirty;
    l->dirty = n;
}

/* Drops every version no reader can see. Only valid with no reader open. */
static void s_sweep(s_mem_t *m)
{
    assert(m->readers == 0);
    for (unsigned cf = 0; cf < m->ncf; cf++) {
        s_list_t *l = &m->cf[cf];
        while (l->dirty) {
            s_node_t *n = l->dirty;
            l->dirty = n->dirty_next;
            n->dirty_next = NULL;
            n->dirty = false;
            s_versions_free(n->newest->older);
            n->newest->older = NULL;
            if (n->newest->del) {
                s_unlink(l, n);
                s_node_free(n);
            }
        }
    }
}

static void s_reader_done(s_mem_t *m)
{
    assert(m->readers > 0);
    if (--m->readers == 0)
        s_sweep(m);
}

/* The version of n visible at seq, or NULL if the key is absent there. */
static const s_version_t *s_visible(const s_node_t *n, uint64_t seq)
{
    const s_version_t *v = n->newest;
    while (v && v->seq > seq)
        v = v->older;
    return v && !v->del ? v : NULL;
}

static uint64_t s_snap_seq(const s_mem_t *m, const lt_kv_snapshot_t *snap)
{
    if (!snap)
        return m->seq;
    const s_snap_t *s = (const s_snap_t *)snap;
    assert(s->mem == m && "snapshot of another backend");
    return s->seq;
}

static lt_err_t s_get(void *self, const lt_kv_snapshot_t *snap, unsigned cf, const uint8_t *key,
                      size_t klen, lt_buf_t *out)
{
    s_mem_t *m = self;
    if (cf >= m->ncf)
        return lt_fail(&m->err, LT_EINVAL, "get: column family %u out of range (%u)", cf, m->ncf);
    const s_node_t *n = s_find_eq(&m->cf[cf], key, klen);
    const s_version_t *v = n ? s_visible(n, s_snap_seq(m, snap)) : NULL;
    if (!v)
        return LT_ENOTFOUND;
    if (out && lt_buf_set(out, v->value, v->vlen) != LT_OK)
        return lt_fail(&m->err, LT_ENOMEM, "get: no memory for a %zu-byte value", v->vlen);
    return LT_OK;
}

static lt_err_t s_check_batch(s_mem_t *m, const lt_kv_batch_t *batch)
{
    for (size_t i = 0; i < batch->nops; i++) {
        const lt_kv_op_t *op = &batch->ops[i];
        if (op->cf >= m->ncf)
            return lt_fail(&m->err, LT_EINVAL, "write: op %zu: column family %u out of range (%u)",
                           i, op->cf, m->ncf);
        if ((!op->key && op->klen) || (!op->del && !op->value && op->vlen))
            return lt_fail(&m->err, LT_EINVAL, "write: op %zu: NULL key or value with a length", i);
    }
    return LT_OK;
}

static void s_prep_free(s_prep_t *prep, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(prep[i].ver);
        s_node_free(prep[i].node);
    }
    free(prep);
}

static lt_err_t s_write(void *self, const lt_kv_batch_t *batch, bool sync)
{
    /* Memory has no stable storage: a returned write is as durable as it gets. */
    (void)sync;
    s_mem_t *m = self;
    if (batch->nops == 0)
        return LT_OK;
    lt_err_t rc = s_check_batch(m, batch);
    if (rc)
        return rc;

    s_prep_t *prep = calloc(batch->nops, sizeof *prep);
    if (!prep)
        return lt_fail(&m->err, LT_ENOMEM, "write: no memory for a batch of %zu ops", batch->nops);
    for (size_t i = 0; i < batch->nops; i++) {
        const lt_kv_op_t *op = &batch->ops[i];
        prep[i].ver = s_version_new(op->del, op->value, op->del ? 0 : op->vlen);
        if (!op->del)
            prep[i].node = s_node_new(s_random_height(m), op->key, op->klen);
        if (!prep[i].ver || (!op->del && !prep[i].node)) {
            s_prep_free(prep, i + 1);
            return lt_fail(&m->err, LT_ENOMEM, "write: no memory for a batch of %zu ops",
                           batch->nops);
        }
    }

    /* From here on nothing can fail. */
    uint64_t seq = m->seq + 1;
    for (size_t i = 0; i < batch->nops; i++) {
        const lt_kv_op_t *op = &batch->ops[i];
        s_list_t *l = &m->cf[op->cf];
        s_node_t *update[S_MAX_HEIGHT];
        s_node_t *n = s_find_ge(l, op->key, op->klen, update);
        if (!n || s_cmp(n->key, n->klen, op->key, op->klen) != 0) {
            if (op->del)
                continue; /* deleting an absent key: nothing to record */
            n = prep[i].node;
            prep[i].node = NULL;
            s_link(l, n, update);
        }
        s_version_t *v = prep[i].ver;
        prep[i].ver = NULL;
        v->seq = seq;
        v->older = n->newest;
        n->newest = v;
        if (v->older || v->del)
            s_mark_dirty(l, n);
    }
    m->seq = seq;
    s_prep_free(prep, batch->nops); /* only the allocations left unused */
    if (m->readers == 0)
        s_sweep(m);
    return LT_OK;
}

static lt_err_t s_snapshot_new(void *self, lt_kv_snapshot_t **out)
{
    s_mem_t *m = self;
    s_snap_t *s = malloc(sizeof *s);
    if (!s)
        return lt_fail(&m->err, LT_ENOMEM, "snapshot: out of memory");
    s->mem = m;
    s->seq = m->seq;
    m->readers++;
    *out = (lt_kv_snapshot_t *)s;
    return LT_OK;
}

static void s_snapshot_release(void *self, lt_kv_snapshot_t *snap)
{
    s_mem_t *m = self;
    if (!snap)
        return;
    s_snap_t *s = (s_snap_t *)snap;
    assert(s->mem == m && "snapshot of another backend");
    free(s);
    s_reader_done(m);
}

static lt_err_t s_iter_new(void *self, const lt_kv_snapshot_t *snap, unsigned cf,
                           lt_kv_iter_t **out)
{
    s_mem_t *m = self;
    if (cf >= m->ncf)
        return lt_fail(&m->err, LT_EINVAL, "iter: column family %u out of range (%u)", cf, m->ncf);
    s_iter_t *it = malloc(sizeof *it);
    if (!it)
        return lt_fail(&m->err, LT_ENOMEM, "iter: out of memory");
    it->mem = m;
    it->list = &m->cf[cf];
    it->seq = s_snap_seq(m, snap);
    it->cur = NULL;
    it->ver = NULL;
    m->readers++;
    *out = (lt_kv_iter_t *)it;
    return LT_OK;
}

/* Positions on n or, if the key is absent at the iterator's sequence, on the
 * next (forward) or previous (backward) node that is present. */
static void s_settle(s_iter_t *it, const s_node_t *n, bool forward)
{
    const s_version_t *v = NULL;
    while (n && !(v = s_visible(n, it->seq)))
        n = forward ? n->next[0] : n->prev;
    it->cur = n;
    it->ver = n ? v : NULL;
}

static void s_iter_seek(lt_kv_iter_t *iter, const uint8_t *key, size_t klen)
{
    s_iter_t *it = (s_iter_t *)iter;
    s_settle(it, s_find_ge(it->list, key, klen, NULL), true);
}

static void s_iter_seek_for_prev(lt_kv_iter_t *iter, const uint8_t *key, size_t klen)
{
    s_iter_t *it = (s_iter_t *)iter;
    s_settle(it, s_find_le(it->list, key, klen), false);
}

static void s_iter_seek_first(lt_kv_iter_t *iter)
{
    s_iter_t *it = (s_iter_t *)iter;
    s_settle(it, it->list->head->next[0], true);
}

static void s_iter_seek_last(lt_kv_iter_t *iter)
{
    s_iter_t *it = (s_iter_t *)iter;
    s_settle(it, s_find_last(it->list), false);
}

static void s_iter_next(lt_kv_iter_t *iter)
{
    s_iter_t *it = (s_iter_t *)iter;
    assert(it->cur && "next on an invalid iterator");
    s_settle(it, it->cur->next[0], true);
}

static void s_iter_prev(lt_kv_iter_t *iter)
{
    s_iter_t *it = (s_iter_t *)iter;
    assert(it->cur && "prev on an invalid iterator");
    s_settle(it, it->cur->prev, false);
}

static bool s_iter_valid(const lt_kv_iter_t *iter)
{
    const s_iter_t *it = (const s_iter_t *)iter;
    return it->cur != NULL;
}

static const uint8_t *s_iter_key(const lt_kv_iter_t *iter, size_t *klen)
{
    const s_iter_t *it = (const s_iter_t *)iter;
    assert(it->cur && "key of an invalid iterator");
    *klen = it->cur->klen;
    return it->cur->key;
}

static const uint8_t *s_iter_value(const lt_kv_iter_t *iter, size_t *vlen)
{
    const s_iter_t *it = (const s_iter_t *)iter;
    assert(it->cur && "value of an invalid iterator");
    *vlen = it->ver->vlen;
    return it->ver->value;
}

static lt_err_t s_iter_status(const lt_kv_iter_t *iter)
{
    (void)iter;
    return LT_OK;
}

static void s_iter_free(lt_kv_iter_t *iter)
{
    if (!iter)
        return;
    s_iter_t *it = (s_iter_t *)iter;
    s_mem_t *m = it->mem;
    free(it);
    s_reader_done(m);
}

static lt_err_t s_flush(void *self)
{
    (void)self;
    return LT_OK;
}

static void s_close(void *self)
{
    s_mem_t *m = self;
    assert(m->readers == 0 && "closing with open snapshots or iterators");
    for (unsigned cf = 0; cf < m->ncf; cf++) {
        s_node_t *n = m->cf[cf].head;
        while (n) {
            s_node_t *next = n->next[0];
            s_node_free(n);
            n = next;
        }
    }
    free(m);
}

static const char *s_errmsg(void *self)
{
    s_mem_t *m = self;
    return m->err.msg;
}

static const lt_kv_ops_t s_mem_ops = {
    .version = LT_KV_OPS_VERSION,
    .name = "memory",
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
};

lt_err_t lt_kv_mem_open(unsigned ncf, lt_kv_t **out)
{
    *out = NULL;
    if (ncf == 0 || ncf > LT_KV_MAX_CF)
        return LT_EINVAL;
    s_mem_t *m = calloc(1, sizeof *m);
    lt_kv_t *kv = malloc(sizeof *kv);
    if (!m || !kv)
        goto nomem;
    m->ncf = ncf;
    m->rng = S_RNG_SEED;
    for (unsigned cf = 0; cf < ncf; cf++) {
        m->cf[cf].head = s_node_new(S_MAX_HEIGHT, NULL, 0);
        if (!m->cf[cf].head)
            goto nomem;
        m->cf[cf].height = 1;
    }
    kv->ops = &s_mem_ops;
    kv->self = m;
    *out = kv;
    return LT_OK;

nomem:
    if (m) {
        for (unsigned cf = 0; cf < ncf; cf++)
            s_node_free(m->cf[cf].head);
    }
    free(m);
    free(kv);
    return LT_ENOMEM;
}
