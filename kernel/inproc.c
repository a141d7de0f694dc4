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
 * messages it carried reached: a full mailbox is what the router sees as a
 * full pipe, and queues behind. */
#define S_MAILBOX 32
#define S_TIMERS  64

struct lt_inproc {
    lt_coop_t *rt;
    const lt_inproc_service_t *svcs;
    size_t n;
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

/* A message a hosted actor sent out of the runtime: to the kernel, a
 * client, a service that runs as a process, or another node. The router
 * takes it as it takes a frame from a service process; what it cannot
 * deliver it answers (an error reply injected back) or drops. */
static lt_err_t s_out(void *ctx, const char *to, const lt_msg_t *msg)
{
    lt_kernel_t *k = ctx;
    lt_ksvc_t *sender = lt_kernel_service(k, msg->from);
    lt_frame_t f;
    if (!sender || !sender->inproc || lt_frame_from_msg(&f, to, msg) != LT_OK)
        return LT_EINVAL;
    lt_router_from_hosted(k, sender, &f);
    return LT_OK;
}

static const lt_inproc_service_t *s_svc(const lt_kernel_t *k, const char *name)
{
    const struct lt_inproc *ip = k->inproc;
    for (size_t i = 0; ip && i < ip->n; i++)
        if (strcmp(ip->svcs[i].name, name) == 0)
            return &ip->svcs[i];
    return NULL;
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
    free(ip);
    k->inproc = NULL;
}

lt_err_t lt_inproc_start(lt_kernel_t *k, lt_ksvc_t *s, lt_errbuf_t *eb)
{
    const lt_inproc_service_t *svc = s_svc(k, s->name);
    if (!svc)
        return lt_fail(eb, LT_ENOTFOUND, "service %s is not hosted in-process", s->name);
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
    if (k->inproc && lt_coop_remove(k->inproc->rt, s->name) != LT_OK)
        lt_log_debug(&k->log, S_TAG, "%s was not running", s->name);
}

int lt_inproc_send(lt_kernel_t *k, lt_ksvc_t *s, const lt_frame_t *f)
{
    lt_msg_t m;
    if (!k->inproc || lt_frame_to_msg(f, &m) != LT_OK)
        return EINVAL;
    switch (lt_coop_inject(k->inproc->rt, s->name, &m, m.from)) {
    case LT_OK:
        return 0;
    case LT_EFULL:
        return EAGAIN;
    case LT_ENOTFOUND:
        return EHOSTUNREACH;
    default:
        return EINVAL;
    }
}

bool lt_inproc_run(lt_kernel_t *k, unsigned budget)
{
    if (!k->inproc)
        return false;
    lt_coop_t *rt = k->inproc->rt;
    lt_coop_advance(rt, lt_kernel_wall_ms());
    lt_coop_run(rt, budget);
    return !lt_coop_idle(rt);
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
