/* In-process services (kernel/inproc.h): the cooperative runtime in the
 * kernel's loop, wired to the router. */
#include "kernel/inproc.h"

#include "boards/coop.h"
#include "kernel/router.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define S_TAG "inproc"
/* Mailbox slots per hosted actor. Each slot holds the largest frame
 * (LT_FRAME_MAX_BODY), reserved up front and touched only as far as the
 * messages it carried reached. */
#define S_MAILBOX 32
#define S_TIMERS  64
/* Beyond its mailbox, what the router delivers to a hosted service waits in
 * its overflow, in order, up to this many messages: the depth of a service
 * process's pipe (router.c's high-water mark). Past it the service is a
 * full pipe: the router queues requests, and drops what it would drop for
 * a process. */
#define S_INBOX_MAX 4096
/* What the actors send out of the runtime waits here until their turn of
 * the loop has ended (the router runs then, outside any handler): at most
 * this many messages and bytes, past which a send is LT_EFULL, as a
 * process's full pipe to the kernel would be. */
#define S_OUTBOX_MAX   4096
#define S_OUTBOX_BYTES ((size_t)64 << 20)

/* A message copied out of a handler's or the router's hands. */
typedef struct s_item {
    struct s_item *next;
    char to[LT_ADDR_MAX];
    char from[LT_ADDR_MAX];
    lt_msg_kind_t kind;
    uint64_t corr;
    uint32_t type;
    lt_err_t status;
    size_t len;
    uint8_t body[];
} s_item_t;

typedef struct {
    s_item_t *head, *tail;
    size_t n, bytes;
} s_fifo_t;

struct lt_inproc {
    lt_coop_t *rt;
    const lt_inproc_service_t *svcs;
    size_t n;
    s_fifo_t inbox[LT_KCONFIG_MAX_SERVICES]; /* per hosted service, as svcs */
    s_fifo_t outbox;
};

static uint64_t s_now(void *ctx)
{
    (void)ctx;
    return lt_kernel_wall_ms();
}

static void s_random(void *ctx, void *buf, size_t n)
{
    (void)ctx;
    randombytes_buf(buf, n);
}

/* ---- the queues ---- */

static s_item_t *s_item_new(const char *to, const char *from, const lt_msg_t *m)
{
    s_item_t *it = malloc(sizeof *it + m->len);
    if (!it)
        return NULL;
    it->next = NULL;
    snprintf(it->to, sizeof it->to, "%s", to);
    snprintf(it->from, sizeof it->from, "%s", from);
    it->kind = m->kind;
    it->corr = m->corr;
    it->type = m->type;
    it->status = m->status;
    it->len = m->len;
    if (m->len)
        memcpy(it->body, m->body, m->len);
    return it;
}

static void s_push(s_fifo_t *q, s_item_t *it)
{
    if (q->tail)
        q->tail->next = it;
    else
        q->head = it;
    q->tail = it;
    q->n++;
    q->bytes += it->len;
}

static s_item_t *s_pop(s_fifo_t *q)
{
    s_item_t *it = q->head;
    if (!it)
        return NULL;
    q->head = it->next;
    if (!q->head)
        q->tail = NULL;
    q->n--;
    q->bytes -= it->len;
    return it;
}

static void s_clear(s_fifo_t *q)
{
    s_item_t *it;
    while ((it = s_pop(q)))
        free(it);
}

static lt_msg_t s_msg_of(const s_item_t *it)
{
    return (lt_msg_t){.kind = it->kind,
                      .corr = it->corr,
                      .type = it->type,
                      .status = it->status,
                      .body = it->len ? it->body : NULL,
                      .len = it->len};
}

/* A message a hosted actor sent out of the runtime: to the kernel, a
 * client, a service that runs as a process, or another node. It waits in
 * the outbox until the runtime's turn ends (s_flush_out): the router may
 * then do anything, stop or restart a hosted actor included, which it must
 * not do from inside a handler. */
static lt_err_t s_out(void *ctx, const char *to, const lt_msg_t *msg)
{
    lt_kernel_t *k = ctx;
    struct lt_inproc *ip = k->inproc;
    lt_ksvc_t *sender = lt_kernel_service(k, msg->from);
    lt_frame_t f;
    if (!sender || !sender->inproc || lt_frame_from_msg(&f, to, msg) != LT_OK)
        return LT_EINVAL;
    if (ip->outbox.n >= S_OUTBOX_MAX || ip->outbox.bytes + msg->len > S_OUTBOX_BYTES)
        return LT_EFULL;
    s_item_t *it = s_item_new(to, msg->from, msg);
    if (!it)
        return LT_ENOMEM;
    s_push(&ip->outbox, it);
    return LT_OK;
}

/* Routes what the actors sent, oldest first (what the router injects back
 * meanwhile is delivered at the next turn). */
static void s_flush_out(lt_kernel_t *k)
{
    struct lt_inproc *ip = k->inproc;
    s_item_t *it;
    while ((it = s_pop(&ip->outbox))) {
        lt_msg_t m = s_msg_of(it);
        lt_frame_t f;
        lt_ksvc_t *sender = lt_kernel_service(k, it->from);
        if (sender && lt_frame_from_msg(&f, it->to, &m) == LT_OK)
            lt_router_from_hosted(k, sender, &f);
        free(it);
    }
}

/* The index of a hosted service in svcs, or -1. */
static int s_index_of(const struct lt_inproc *ip, const char *name)
{
    for (size_t i = 0; ip && i < ip->n; i++)
        if (strcmp(ip->svcs[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* Whether the actor's mailbox has room for one more. */
static bool s_room(const struct lt_inproc *ip, const char *name)
{
    lt_coop_actor_stats_t st;
    return lt_coop_actor_stats(ip->rt, name, &st) == LT_OK && st.pending < S_MAILBOX;
}

/* Moves what waits in each overflow into its mailbox, as room allows. A
 * message the runtime refuses otherwise (its actor is gone) is dropped: the
 * router answers the requests among them (lt_router_forget). */
static void s_drain_in(struct lt_inproc *ip)
{
    for (size_t i = 0; i < ip->n; i++) {
        s_fifo_t *q = &ip->inbox[i];
        while (q->head && s_room(ip, ip->svcs[i].name)) {
            lt_msg_t m = s_msg_of(q->head);
            if (lt_coop_inject(ip->rt, ip->svcs[i].name, &m, q->head->from) == LT_EFULL)
                break;
            free(s_pop(q));
        }
    }
}

lt_err_t lt_inproc_open(lt_kernel_t *k, const lt_inproc_service_t *svcs, size_t n, lt_errbuf_t *eb)
{
    for (size_t i = 0; i < n; i++) {
        lt_ksvc_t *s = lt_kernel_service(k, svcs[i].name);
        if (!s || !s->inproc || strcmp(svcs[i].ops->name, svcs[i].name) != 0)
            return lt_fail(eb, LT_EINVAL, "service %s is not configured to run in-process",
                           svcs[i].name);
    }
    struct lt_inproc *ip = calloc(1, sizeof *ip);
    if (!ip)
        return lt_fail(eb, LT_ENOMEM, "out of memory");
    char node[2 * LT_KEY_LEN + 1];
    lt_hex(k->node_key.b, LT_KEY_LEN, node);
    lt_coop_config_t cfg = {.now = s_now,
                            .random = s_random,
                            .log = &k->log,
                            .node = node,
                            .mailbox_cap = S_MAILBOX,
                            .max_body = LT_FRAME_MAX_BODY,
                            .max_actors = n ? n : 1,
                            .max_timers = S_TIMERS,
                            .remote_send = s_out,
                            .remote_ctx = k,
                            .host = s_out,
                            .host_ctx = k};
    lt_err_t rc = lt_coop_new(&cfg, &ip->rt);
    if (rc) {
        free(ip);
        return lt_fail(eb, rc, "cannot create the runtime of the in-process services: %s",
                       lt_strerror(rc));
    }
    ip->svcs = svcs;
    ip->n = n;
    k->inproc = ip;
    return LT_OK;
}

void lt_inproc_close(lt_kernel_t *k)
{
    struct lt_inproc *ip = k->inproc;
    if (!ip)
        return;
    lt_coop_destroy(&ip->rt);
    for (size_t i = 0; i < ip->n; i++)
        s_clear(&ip->inbox[i]);
    s_clear(&ip->outbox);
    free(ip);
    k->inproc = NULL;
}

lt_err_t lt_inproc_start(lt_kernel_t *k, lt_ksvc_t *s, lt_errbuf_t *eb)
{
    int i = s_index_of(k->inproc, s->name);
    if (i < 0)
        return lt_fail(eb, LT_ENOTFOUND, "service %s is not hosted in-process", s->name);
    const lt_inproc_service_t *svc = &k->inproc->svcs[i];
    const void *cfg = NULL;
    lt_err_t rc = svc->config ? svc->config(svc->ctx, &cfg, eb) : LT_OK;
    if (rc)
        return rc;
    rc = lt_coop_add(k->inproc->rt, svc->ops, cfg);
    if (rc) {
        if (svc->unconfig)
            svc->unconfig(svc->ctx);
        return lt_fail(eb, rc, "its actor did not start: %s", lt_strerror(rc));
    }
    return LT_OK;
}

void lt_inproc_stop(lt_kernel_t *k, lt_ksvc_t *s)
{
    struct lt_inproc *ip = k->inproc;
    if (!ip)
        return;
    if (lt_coop_remove(ip->rt, s->name) != LT_OK)
        lt_log_debug(&k->log, S_TAG, "%s was not running", s->name);
    /* What waited for it goes with it: the router answers the requests
     * among it, which it holds in flight (lt_router_forget). */
    int i = s_index_of(ip, s->name);
    if (i >= 0)
        s_clear(&ip->inbox[i]);
}

int lt_inproc_send(lt_kernel_t *k, lt_ksvc_t *s, const lt_frame_t *f)
{
    struct lt_inproc *ip = k->inproc;
    lt_msg_t m;
    int i = s_index_of(ip, s->name);
    if (i < 0 || lt_frame_to_msg(f, &m) != LT_OK)
        return EINVAL;
    s_fifo_t *q = &ip->inbox[i];
    if (q->n == 0 && s_room(ip, s->name)) {
        switch (lt_coop_inject(ip->rt, s->name, &m, m.from)) {
        case LT_OK:
            return 0;
        case LT_ENOTFOUND:
            return EHOSTUNREACH;
        case LT_EFULL:
            break;
        default:
            return EINVAL;
        }
    }
    if (q->n >= S_INBOX_MAX)
        return EAGAIN;
    s_item_t *it = s_item_new(s->name, m.from, &m);
    if (!it)
        return EAGAIN;
    s_push(q, it);
    return 0;
}

bool lt_inproc_pending(const lt_kernel_t *k)
{
    const struct lt_inproc *ip = k->inproc;
    if (!ip)
        return false;
    if (!lt_coop_idle(ip->rt) || ip->outbox.n)
        return true;
    for (size_t i = 0; i < ip->n; i++)
        if (ip->inbox[i].n)
            return true;
    return false;
}

bool lt_inproc_run(lt_kernel_t *k, unsigned budget)
{
    struct lt_inproc *ip = k->inproc;
    if (!ip)
        return false;
    s_drain_in(ip);
    lt_coop_advance(ip->rt, lt_kernel_wall_ms());
    lt_coop_run(ip->rt, budget);
    s_flush_out(k);
    s_drain_in(ip);
    return lt_inproc_pending(k);
}

size_t lt_inproc_body_bytes(const lt_kernel_t *k)
{
    if (!k->inproc)
        return 0;
    lt_coop_stats_t st;
    lt_coop_stats(k->inproc->rt, &st);
    return st.body_bytes;
}

uint64_t lt_inproc_next_deadline(const lt_kernel_t *k, uint64_t now_mono_ms)
{
    uint64_t at;
    if (!k->inproc || !lt_coop_next_deadline(k->inproc->rt, &at))
        return UINT64_MAX;
    uint64_t wall = lt_kernel_wall_ms();
    return at <= wall ? now_mono_ms : now_mono_ms + (at - wall);
}
