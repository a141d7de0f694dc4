#include "ipc/calls.h"

#include <stdlib.h>
#include <string.h>

#define S_HEAD (2 * sizeof(uint64_t)) /* corr, sent_ms */

void lt_calls_init(lt_calls_t *c, size_t item_size)
{
    memset(c, 0, sizeof *c);
    c->item = item_size;
    c->stride = S_HEAD + (item_size + 7) / 8 * 8;
}

void lt_calls_free(lt_calls_t *c)
{
    free(c->v);
    c->v = NULL;
    c->n = c->cap = 0;
}

lt_err_t lt_calls_request(lt_calls_t *c, lt_ctx_t *ctx, const char *to, uint32_t type,
                          const void *body, size_t len, const void *item)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 16;
        uint8_t *v = realloc(c->v, cap * c->stride);
        if (!v)
            return LT_ENOMEM;
        c->v = v;
        c->cap = cap;
    }
    uint64_t corr = 0;
    lt_err_t rc = lt_ctx_request(ctx, to, type, body, len, &corr);
    if (rc)
        return rc;
    uint8_t *slot = c->v + c->n++ * c->stride;
    uint64_t head[2] = {corr, lt_ctx_now(ctx)};
    memcpy(slot, head, sizeof head);
    memcpy(slot + S_HEAD, item, c->item);
    return LT_OK;
}

bool lt_calls_take(lt_calls_t *c, uint64_t corr, void *item)
{
    for (size_t i = 0; i < c->n; i++) {
        uint8_t *slot = c->v + i * c->stride;
        uint64_t got;
        memcpy(&got, slot, sizeof got);
        if (got == corr) {
            memcpy(item, slot + S_HEAD, c->item);
            lt_calls_remove(c, i);
            return true;
        }
    }
    return false;
}

void *lt_calls_at(const lt_calls_t *c, size_t i, uint64_t *sent_ms)
{
    uint8_t *slot = c->v + i * c->stride;
    if (sent_ms)
        memcpy(sent_ms, slot + sizeof(uint64_t), sizeof *sent_ms);
    return slot + S_HEAD;
}

void lt_calls_remove(lt_calls_t *c, size_t i)
{
    if (i + 1 < c->n)
        memcpy(c->v + i * c->stride, c->v + (c->n - 1) * c->stride, c->stride);
    c->n--;
}
