/* The bounded per-service queue (kernel/queue.h). */
#include "kernel/queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lt_kqueue_init(lt_kqueue_t *q, size_t max_count, uint64_t max_bytes)
{
    memset(q, 0, sizeof *q);
    q->max_count = max_count;
    q->max_bytes = max_bytes;
}

lt_err_t lt_kqueue_push(lt_kqueue_t *q, lt_frame_cmd_t cmd, const char *from, uint64_t corr,
                        uint32_t type, const uint8_t *body, size_t len, uint64_t now_ms)
{
    if (q->count >= q->max_count || q->bytes + len > q->max_bytes)
        return LT_EFULL;
    lt_kmsg_t *m = malloc(sizeof *m + len);
    if (!m)
        return LT_ENOMEM;
    m->next = NULL;
    m->cmd = cmd;
    snprintf(m->from, sizeof m->from, "%s", from);
    m->corr = corr;
    m->type = type;
    m->queued_ms = now_ms;
    m->len = len;
    if (len)
        memcpy(m->body, body, len);
    if (q->tail)
        q->tail->next = m;
    else
        q->head = m;
    q->tail = m;
    q->count++;
    q->bytes += len;
    return LT_OK;
}

lt_kmsg_t *lt_kqueue_pop(lt_kqueue_t *q)
{
    lt_kmsg_t *m = q->head;
    if (!m)
        return NULL;
    q->head = m->next;
    if (!q->head)
        q->tail = NULL;
    q->count--;
    q->bytes -= m->len;
    m->next = NULL;
    return m;
}

void lt_kqueue_clear(lt_kqueue_t *q)
{
    lt_kmsg_t *m;
    while ((m = lt_kqueue_pop(q)))
        free(m);
}
