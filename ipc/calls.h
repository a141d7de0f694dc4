/* The requests an actor has sent and not yet seen answered: each recorded
 * under its correlation id with a caller-defined record (what the reply is
 * for), found again, and removed, when the reply comes. Replies that match
 * no call (answered after the caller gave up) are the caller's to drop.
 * Portable, like the actor interface. */
#ifndef LT_CALLS_H
#define LT_CALLS_H

#include "ipc/actor.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    size_t item;   /* bytes of one record */
    size_t stride; /* bytes per slot: corr, sent time, record */
    uint8_t *v;
    size_t n, cap;
} lt_calls_t;

void lt_calls_init(lt_calls_t *c, size_t item_size);
void lt_calls_free(lt_calls_t *c);

/* Sends a request and records item (item_size bytes, copied) under its
 * corr. LT_ENOMEM, or the send's error (nothing is recorded then). */
LT_NODISCARD lt_err_t lt_calls_request(lt_calls_t *c, lt_ctx_t *ctx, const char *to, uint32_t type,
                                       const void *body, size_t len, const void *item);
/* The call corr answers: its record into item, and the call forgotten.
 * False when no call has that corr. */
bool lt_calls_take(lt_calls_t *c, uint64_t corr, void *item);

/* Walking the calls (for timeouts): the i-th record and when it was sent;
 * lt_calls_remove moves the last call into slot i. */
static inline size_t lt_calls_count(const lt_calls_t *c)
{
    return c->n;
}
void *lt_calls_at(const lt_calls_t *c, size_t i, uint64_t *sent_ms);
void lt_calls_remove(lt_calls_t *c, size_t i);

#endif
