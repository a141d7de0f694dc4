/* The bounded queue of messages waiting for one service: filled while the
 * service is not READY (starting, restarting, attached and not started yet)
 * or while it already holds as many requests as the kernel lets it have in
 * flight; drained in order when it can take them again.
 *
 * Each entry owns a copy of what the kernel must forward: the command
 * (REQUEST or EVENT), the sender's address (already rewritten), corr, type
 * and body, plus the time it was queued for the deadline. Bounded by a
 * message count and a byte count of bodies; a push past either bound is
 * LT_EFULL and the caller answers or drops (STYLE.md: every queue has a
 * capacity). Plain memory, no sockets: the router does the sending. */
#ifndef LT_KERNEL_QUEUE_H
#define LT_KERNEL_QUEUE_H

#include "ipc/frame.h"

#include <stddef.h>
#include <stdint.h>

typedef struct lt_kmsg {
    struct lt_kmsg *next;
    lt_frame_cmd_t cmd; /* LT_FRAME_REQUEST or LT_FRAME_EVENT */
    char from[LT_ADDR_MAX];
    uint64_t corr;
    uint32_t type;
    uint64_t queued_ms; /* monotonic */
    size_t len;
    uint8_t body[]; /* len bytes */
} lt_kmsg_t;

typedef struct {
    lt_kmsg_t *head, *tail;
    size_t count;
    uint64_t bytes;
    size_t max_count;
    uint64_t max_bytes;
} lt_kqueue_t;

void lt_kqueue_init(lt_kqueue_t *q, size_t max_count, uint64_t max_bytes);

/* Appends a copy of the message. LT_EFULL past a bound, LT_ENOMEM. */
LT_NODISCARD lt_err_t lt_kqueue_push(lt_kqueue_t *q, lt_frame_cmd_t cmd, const char *from,
                                     uint64_t corr, uint32_t type, const uint8_t *body, size_t len,
                                     uint64_t now_ms);

/* The oldest message, or NULL; it stays queued. */
static inline const lt_kmsg_t *lt_kqueue_peek(const lt_kqueue_t *q)
{
    return q->head;
}

/* Removes the oldest message and hands it to the caller (free() it), or
 * NULL when the queue is empty. */
lt_kmsg_t *lt_kqueue_pop(lt_kqueue_t *q);

/* Frees every message. */
void lt_kqueue_clear(lt_kqueue_t *q);

#endif
