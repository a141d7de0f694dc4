/* The in-flight request table of one service (kernel/inflight.h). Open
 * addressing with linear probing; deletion shifts the following entries
 * back (no tombstones), so lookups stay short however long the node runs. */
#include "kernel/inflight.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

lt_err_t lt_kinflight_init(lt_kinflight_t *t, size_t max)
{
    memset(t, 0, sizeof *t);
    size_t cap = 16;
    while (cap < 2 * max)
        cap *= 2;
    t->slots = calloc(cap, sizeof *t->slots);
    if (!t->slots)
        return LT_ENOMEM;
    t->cap = cap;
    t->max = max;
    return LT_OK;
}

void lt_kinflight_fini(lt_kinflight_t *t)
{
    free(t->slots);
    memset(t, 0, sizeof *t);
}

/* FNV-1a over the address, then the corr mixed in (splitmix64 finalizer). */
static size_t s_hash(const char *from, uint64_t corr)
{
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)from; *p; p++) {
        h ^= *p;
        h *= 1099511628211ull;
    }
    h ^= corr + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return (size_t)h;
}

lt_err_t lt_kinflight_add(lt_kinflight_t *t, const char *from, uint64_t corr, uint32_t type)
{
    if (t->count >= t->max)
        return LT_EFULL;
    size_t mask = t->cap - 1;
    size_t i = s_hash(from, corr) & mask;
    while (t->slots[i].used)
        i = (i + 1) & mask;
    lt_kinflight_entry_t *e = &t->slots[i];
    e->used = true;
    e->corr = corr;
    e->type = type;
    snprintf(e->from, sizeof e->from, "%s", from);
    t->count++;
    return LT_OK;
}

bool lt_kinflight_remove(lt_kinflight_t *t, const char *from, uint64_t corr)
{
    if (t->count == 0)
        return false;
    size_t mask = t->cap - 1;
    size_t i = s_hash(from, corr) & mask;
    for (;;) {
        lt_kinflight_entry_t *e = &t->slots[i];
        if (!e->used)
            return false;
        if (e->corr == corr && strcmp(e->from, from) == 0)
            break;
        i = (i + 1) & mask;
    }
    /* Backward-shift deletion: move later entries of the probe run into
     * the hole when their home slot allows it. */
    size_t hole = i;
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!t->slots[j].used)
            break;
        size_t home = s_hash(t->slots[j].from, t->slots[j].corr) & mask;
        /* Entry j may fill the hole when its home is not in (hole, j]. */
        bool between = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
        if (!between) {
            t->slots[hole] = t->slots[j];
            hole = j;
        }
    }
    t->slots[hole].used = false;
    t->count--;
    return true;
}

void lt_kinflight_drain(lt_kinflight_t *t, lt_kinflight_fn fn, void *ctx)
{
    for (size_t i = 0; i < t->cap && t->count; i++) {
        lt_kinflight_entry_t *e = &t->slots[i];
        if (!e->used)
            continue;
        fn(ctx, e->from, e->corr, e->type);
        e->used = false;
        t->count--;
    }
    for (size_t i = 0; i < t->cap; i++)
        t->slots[i].used = false;
    t->count = 0;
}
