/* The requests one service holds: every REQUEST the kernel forwarded to it,
 * by (sender address, corr), until the service's REPLY for it passes back.
 * When the service dies or disconnects, each entry is answered
 * LT_EUNAVAILABLE at once instead of leaving its requester to time out
 * (clients then retry by request id: ipc/client.h).
 *
 * Bounded: at most max entries. The router stops forwarding to a service
 * whose table is full and queues instead, so a slow service pushes back on
 * its requesters rather than growing the kernel. A hash table with linear
 * probing, allocated once: add and remove are O(1). */
#ifndef LT_KERNEL_INFLIGHT_H
#define LT_KERNEL_INFLIGHT_H

#include "ipc/actor.h"
#include "weaver/errors.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    bool used;
    uint64_t corr;
    uint32_t type;
    char from[LT_ADDR_MAX];
} lt_kinflight_entry_t;

typedef struct {
    lt_kinflight_entry_t *slots;
    size_t cap; /* a power of two, at least twice max */
    size_t count;
    size_t max;
} lt_kinflight_t;

LT_NODISCARD lt_err_t lt_kinflight_init(lt_kinflight_t *t, size_t max);
void lt_kinflight_fini(lt_kinflight_t *t);

static inline bool lt_kinflight_full(const lt_kinflight_t *t)
{
    return t->count >= t->max;
}

/* Records a forwarded request. LT_EFULL at the bound. The same (from, corr)
 * may be recorded twice (a requester that reuses a corr); each reply
 * removes one. */
LT_NODISCARD lt_err_t lt_kinflight_add(lt_kinflight_t *t, const char *from, uint64_t corr,
                                       uint32_t type);

/* Forgets the request a reply answers; false when none matched (a reply to
 * a request forwarded by an earlier kernel, or a service replying twice). */
bool lt_kinflight_remove(lt_kinflight_t *t, const char *from, uint64_t corr);

typedef void (*lt_kinflight_fn)(void *ctx, const char *from, uint64_t corr, uint32_t type);

/* Calls fn for every entry, in no particular order, then empties the
 * table. fn must not touch the table. */
void lt_kinflight_drain(lt_kinflight_t *t, lt_kinflight_fn fn, void *ctx);

#endif
