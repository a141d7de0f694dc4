/* A multi-value register: the heads of one key (DESIGN.md §6). Each write
 * removes the heads it cites and becomes a head itself, so heads
 * are the writes to the key that no later write to the key has seen. Heads are
 * kept sorted by (HLC, author) descending: head 0 is the winner, and the
 * encoding is the same on every node whatever the arrival order.
 *
 * "Cites" means lists in its deps or extends as its store_prev.
 *
 * Encoding: count u16le, then per head: hash 32 | wall u64le | counter u32le |
 * author 32 | flags u8 (bit 0: tombstone) | vlen u32le | value. */
#ifndef LT_HEADS_H
#define LT_HEADS_H

#include "store/ops_codec.h"
#include "weaver/buf.h"
#include "weaver/types.h"

typedef struct {
    lt_hash_t hash;
    lt_hlc_t hlc;
    lt_pubkey_t author;
    bool tombstone;
    lt_view_t value;
} lt_head_t;

typedef struct {
    lt_head_t *v;
    unsigned n;
    unsigned cap;
} lt_heads_t;

#define LT_HEADS_INIT                                                                              \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* Decodes an encoded register; the values are views into buf. */
LT_NODISCARD lt_err_t lt_heads_decode(const uint8_t *buf, size_t len, lt_heads_t *out);
LT_NODISCARD lt_err_t lt_heads_encode(const lt_heads_t *h, lt_buf_t *out);
/* Applies a write: drops the heads whose hash is in `cited` (what the write's
 * intention cites directly: lt_intention_cited), adds `w` (unless a head with
 * its hash is already there), keeps the order. */
LT_NODISCARD lt_err_t lt_heads_apply(lt_heads_t *h, const lt_head_t *w, const lt_hash_t *deps,
                                     unsigned ndeps);
void lt_heads_free(lt_heads_t *h);

#endif
