/* Write transaction: an open-addressing hash table of staged (cf, key) ->
 * value-or-tombstone entries over the backend. Entries live in one arena per
 * transaction; the table stores offsets, so growth never invalidates them.
 *
 * The table also caches what it read from the backend (values and misses):
 * the write path reads the same rows several times per commit group (a key's
 * heads, an author's tips, the witness index of recent deps). The cache is
 * dropped with the transaction, so it never outlives the committed state it
 * was read from (the store is the backend's only writer). */
#include "store/txn.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t hash; /* 0 marks an empty slot */
    size_t off;    /* entry offset in the arena */
} s_slot_t;

/* Arena entry layout: cf u8 | kind u8 | klen u32 | vlen u32 | key | value */
#define S_HDR 10

enum { S_PUT, S_DEL, S_CACHED, S_CACHED_ABSENT, S_CACHED_PRESENT };

struct lt_txn {
    lt_kv_t *kv;
    s_slot_t *slots;
    size_t nslots; /* power of two */
    size_t count;  /* entries in the table */
    size_t ndirty; /* of which staged writes */
    lt_buf_t arena;
};

static uint64_t s_hash(unsigned cf, const uint8_t *key, size_t klen)
{
    uint64_t h = 0xcbf29ce484222325ull ^ cf;
    for (size_t i = 0; i < klen; i++) {
        h ^= key[i];
        h *= 0x100000001b3ull;
    }
    h ^= h >> 29;
    return h ? h : 1;
}

lt_txn_t *lt_txn_new(lt_kv_t *kv)
{
    lt_txn_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->kv = kv;
    t->nslots = 256;
    t->slots = calloc(t->nslots, sizeof *t->slots);
    if (!t->slots) {
        free(t);
        return NULL;
    }
    return t;
}

void lt_txn_destroy(lt_txn_t **txn_p)
{
    lt_txn_t *t = *txn_p;
    if (!t)
        return;
    free(t->slots);
    lt_buf_free(&t->arena);
    free(t);
    *txn_p = NULL;
}

lt_kv_t *lt_txn_kv(lt_txn_t *txn)
{
    return txn->kv;
}

size_t lt_txn_size(const lt_txn_t *txn)
{
    return txn->ndirty;
}

size_t lt_txn_bytes(const lt_txn_t *txn)
{
    return txn->arena.len;
}

static const uint8_t *s_entry(const lt_txn_t *t, size_t off)
{
    return t->arena.data + off;
}

static bool s_match(const lt_txn_t *t, size_t off, unsigned cf, const uint8_t *key, size_t klen)
{
    const uint8_t *e = s_entry(t, off);
    return e[0] == cf && lt_get_u32le(e + 2) == klen && memcmp(e + S_HDR, key, klen) == 0;
}

/* Index of the slot holding (cf, key), or of the empty slot where it goes. */
static size_t s_find(const lt_txn_t *t, uint64_t h, unsigned cf, const uint8_t *key, size_t klen)
{
    size_t mask = t->nslots - 1;
    size_t i = (size_t)h & mask;
    while (t->slots[i].hash) {
        if (t->slots[i].hash == h && s_match(t, t->slots[i].off, cf, key, klen))
            return i;
        i = (i + 1) & mask;
    }
    return i;
}

static lt_err_t s_grow(lt_txn_t *t)
{
    size_t n = t->nslots * 2;
    s_slot_t *slots = calloc(n, sizeof *slots);
    if (!slots)
        return LT_ENOMEM;
    for (size_t i = 0; i < t->nslots; i++) {
        if (!t->slots[i].hash)
            continue;
        size_t j = (size_t)t->slots[i].hash & (n - 1);
        while (slots[j].hash)
            j = (j + 1) & (n - 1);
        slots[j] = t->slots[i];
    }
    free(t->slots);
    t->slots = slots;
    t->nslots = n;
    return LT_OK;
}

static lt_err_t s_stage(lt_txn_t *t, unsigned cf, int kind, const uint8_t *key, size_t klen,
                        const uint8_t *val, size_t vlen)
{
    if (cf >= LT_KV_MAX_CF || klen > UINT32_MAX || vlen > UINT32_MAX)
        return LT_EINVAL;
    if ((t->count + 1) * 4 > t->nslots * 3) {
        lt_err_t rc = s_grow(t);
        if (rc)
            return rc;
    }
    size_t off = t->arena.len;
    lt_err_t rc = lt_buf_reserve(&t->arena, S_HDR + klen + vlen);
    if (rc)
        return rc;
    uint8_t *e = t->arena.data + off;
    e[0] = (uint8_t)cf;
    e[1] = (uint8_t)kind;
    lt_put_u32le(e + 2, (uint32_t)klen);
    lt_put_u32le(e + 6, (uint32_t)vlen);
    memcpy(e + S_HDR, key, klen);
    if (vlen)
        memcpy(e + S_HDR + klen, val, vlen);
    t->arena.len += S_HDR + klen + vlen;
    /* A key written twice keeps its newest entry; the old bytes stay in the
     * arena until the transaction ends (commit groups are bounded). */
    uint64_t h = s_hash(cf, key, klen);
    size_t i = s_find(t, h, cf, key, klen);
    bool dirty = kind == S_PUT || kind == S_DEL;
    if (!t->slots[i].hash) {
        t->slots[i].hash = h;
        t->count++;
        t->ndirty += dirty;
    } else if (dirty && s_entry(t, t->slots[i].off)[1] >= S_CACHED) {
        t->ndirty++;
    }
    t->slots[i].off = off;
    return LT_OK;
}

lt_err_t lt_txn_put(lt_txn_t *txn, unsigned cf, const uint8_t *key, size_t klen, const uint8_t *val,
                    size_t vlen)
{
    return s_stage(txn, cf, S_PUT, key, klen, val, vlen);
}

lt_err_t lt_txn_del(lt_txn_t *txn, unsigned cf, const uint8_t *key, size_t klen)
{
    return s_stage(txn, cf, S_DEL, key, klen, NULL, 0);
}

/* Looks (cf, key) up in the table: returns 1 with *rc set when the table
 * answers, 0 when the backend must be asked. */
static int s_lookup(lt_txn_t *txn, unsigned cf, const uint8_t *key, size_t klen, lt_buf_t *out,
                    lt_err_t *rc)
{
    if (!txn->count)
        return 0;
    uint64_t h = s_hash(cf, key, klen);
    size_t i = s_find(txn, h, cf, key, klen);
    if (!txn->slots[i].hash)
        return 0;
    const uint8_t *e = s_entry(txn, txn->slots[i].off);
    if (e[1] == S_DEL || e[1] == S_CACHED_ABSENT) {
        *rc = LT_ENOTFOUND;
        return 1;
    }
    if (!out) {
        *rc = LT_OK;
        return 1;
    }
    if (e[1] == S_CACHED_PRESENT)
        return 0; /* known to exist, value not cached */
    *rc = lt_buf_set(out, e + S_HDR + klen, lt_get_u32le(e + 6));
    return 1;
}

lt_err_t lt_txn_get(lt_txn_t *txn, unsigned cf, const uint8_t *key, size_t klen, lt_buf_t *out)
{
    lt_err_t rc;
    if (s_lookup(txn, cf, key, klen, out, &rc))
        return rc;
    rc = lt_kv_get(txn->kv, cf, key, klen, out);
    /* Remember the answer (only presence when the value was not asked for);
     * failing to cache only costs a later read. */
    if (rc == LT_OK)
        (void)s_stage(txn, cf, out ? S_CACHED : S_CACHED_PRESENT, key, klen, out ? out->data : NULL,
                      out ? out->len : 0);
    else if (rc == LT_ENOTFOUND)
        (void)s_stage(txn, cf, S_CACHED_ABSENT, key, klen, NULL, 0);
    return rc;
}

lt_err_t lt_txn_read(lt_txn_t *txn, unsigned cf, const uint8_t *key, size_t klen, lt_buf_t *out)
{
    lt_err_t rc;
    if (s_lookup(txn, cf, key, klen, out, &rc))
        return rc;
    return lt_kv_get(txn->kv, cf, key, klen, out);
}

static int s_op_cmp(const void *pa, const void *pb)
{
    const lt_kv_op_t *a = pa, *b = pb;
    if (a->cf != b->cf)
        return a->cf < b->cf ? -1 : 1;
    size_t n = a->klen < b->klen ? a->klen : b->klen;
    int c = memcmp(a->key, b->key, n);
    if (c)
        return c;
    return a->klen < b->klen ? -1 : a->klen > b->klen;
}

lt_err_t lt_txn_commit(lt_txn_t *txn, bool sync)
{
    if (txn->ndirty == 0) {
        lt_txn_abort(txn); /* drop the read cache */
        return LT_OK;
    }
    lt_kv_op_t *ops = malloc(txn->ndirty * sizeof *ops);
    if (!ops)
        return LT_ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < txn->nslots; i++) {
        if (!txn->slots[i].hash)
            continue;
        const uint8_t *e = s_entry(txn, txn->slots[i].off);
        if (e[1] >= S_CACHED)
            continue;
        size_t klen = lt_get_u32le(e + 2);
        ops[n].cf = e[0];
        ops[n].del = e[1] == S_DEL;
        ops[n].key = e + S_HDR;
        ops[n].klen = klen;
        ops[n].value = e + S_HDR + klen;
        ops[n].vlen = lt_get_u32le(e + 6);
        n++;
    }
    /* Key order lets the backend insert each family's keys with one moving
     * search position (RocksDB's memtable splice) instead of n fresh
     * searches. */
    qsort(ops, n, sizeof *ops, s_op_cmp);
    lt_kv_batch_t batch = {ops, n};
    lt_err_t rc = lt_kv_write(txn->kv, &batch, sync);
    free(ops);
    if (rc == LT_OK)
        lt_txn_abort(txn);
    return rc;
}

void lt_txn_abort(lt_txn_t *txn)
{
    if (txn->count)
        memset(txn->slots, 0, txn->nslots * sizeof *txn->slots);
    txn->count = 0;
    txn->ndirty = 0;
    lt_buf_reset(&txn->arena);
}
