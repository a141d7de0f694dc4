/* The cooperative runtime: a static actor table, fixed rings of mailbox
 * slots, a fixed timer table, all allocated by lt_coop_new; a round-robin
 * step() that lends the oldest slot of the next actor with mail to its
 * handler. See coop.h for the contract. */
#include "boards/coop.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define S_TAG "coop"

typedef enum {
    S_FREE,     /* slot unused */
    S_LIVE,     /* addressable: from the start of start() until remove */
    S_STOPPING, /* inside stop(): may still send, receives nothing */
} s_state_t;

typedef struct {
    /* fixed for the life of the runtime */
    lt_coop_t *rt;
    lt_msg_t *ring;  /* mailbox_cap slots; ring[i].body points into bodies */
    uint8_t *bodies; /* mailbox_cap * max_body bytes */
    /* reset when the slot is freed */
    s_state_t state;
    const lt_actor_ops_t *ops;
    void *self;
    lt_ctx_t ctx;
    char name[LT_NAME_MAX];
    uint64_t added; /* add order: destroy stops the newest first */
    uint64_t next_corr;
    size_t head;      /* oldest message: the next to deliver */
    size_t count;     /* messages in the ring, the one being handled included */
    bool full_logged; /* one warning per burst that hits a full mailbox */
    lt_coop_actor_stats_t st;
} s_actor_t;

typedef struct {
    bool used;
    size_t actor; /* index in the actor table */
    uint64_t token;
    uint64_t deadline;
    uint64_t seq; /* when it was set: breaks deadline ties */
} s_timer_t;

struct lt_coop {
    lt_coop_config_t cfg; /* sizes resolved; cfg.node points at node */
    char node[65];
    s_actor_t *actors;
    lt_msg_t *rings;
    uint8_t *bodies;
    s_timer_t *timers;
    size_t rr;        /* where the round-robin looks first */
    size_t nactors;   /* live actors */
    size_t pending;   /* messages in all rings */
    size_t ntimers;   /* timers in use */
    uint64_t adds;    /* lt_coop_add calls that succeeded */
    uint64_t tseq;    /* next timer sequence number */
    bool dispatching; /* inside a handler or hook: host calls are misuse */
    uint64_t steps;
    uint64_t dropped_full;
    uint64_t timers_fired;
};

/* ---- helpers --------------------------------------------------------------- */

static bool s_mul(size_t a, size_t b, size_t *out)
{
    if (a && b > SIZE_MAX / a)
        return false;
    *out = a * b;
    return true;
}

static bool s_has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* A non-empty address of printable ASCII that fits a message's `from`. */
static bool s_printable(const char *addr)
{
    size_t n = 0;
    for (; addr[n]; n++)
        if (addr[n] <= ' ' || addr[n] > '~' || n + 1 >= LT_ADDR_MAX)
            return false;
    return n > 0;
}

static bool s_node_valid(const char *node)
{
    size_t n = 0;
    for (; node[n]; n++)
        if (!((node[n] >= '0' && node[n] <= '9') || (node[n] >= 'a' && node[n] <= 'f')))
            return false;
    return n == 64;
}

static bool s_kind_valid(lt_msg_kind_t kind)
{
    return kind == LT_MSG_REQUEST || kind == LT_MSG_REPLY || kind == LT_MSG_EVENT;
}

/* Whether a well-formed address names this node; if so, *name_len is the
 * length of its service name. */
static bool s_is_local(const lt_coop_t *rt, const char *addr, size_t *name_len)
{
    const char *at = strchr(addr, '@');
    if (at && !(rt->node[0] && strcmp(at + 1, rt->node) == 0))
        return false;
    *name_len = at ? (size_t)(at - addr) : strlen(addr);
    return true;
}

static s_actor_t *s_find(const lt_coop_t *rt, const char *name, size_t len)
{
    for (size_t i = 0; i < rt->cfg.max_actors; i++) {
        s_actor_t *a = &rt->actors[i];
        if (a->state == S_LIVE && strlen(a->name) == len && memcmp(a->name, name, len) == 0)
            return a;
    }
    return NULL;
}

static size_t s_index(const lt_coop_t *rt, const s_actor_t *a)
{
    return (size_t)(a - rt->actors);
}

/* ---- mailboxes ---------------------------------------------------------- */

static lt_err_t s_enqueue(lt_coop_t *rt, s_actor_t *dst, const lt_msg_t *msg, const char *from)
{
    size_t cap = rt->cfg.mailbox_cap;
    if (dst->count == cap) {
        dst->st.dropped_full++;
        rt->dropped_full++;
        if (!dst->full_logged) {
            lt_log_warn(rt->cfg.log, S_TAG, "mailbox of %s full (%zu messages): refusing from %s",
                        dst->name, cap, from);
            dst->full_logged = true;
        }
        return LT_EFULL;
    }
    size_t i = (dst->head + dst->count) % cap;
    lt_msg_t *slot = &dst->ring[i];
    size_t from_len = strlen(from);
    assert(from_len < sizeof slot->from);
    memcpy(slot->from, from, from_len + 1);
    slot->kind = msg->kind;
    slot->corr = msg->corr;
    slot->type = msg->type;
    slot->status = msg->status;
    slot->len = msg->len;
    if (msg->len)
        memcpy(dst->bodies + i * rt->cfg.max_body, msg->body, msg->len);
    dst->count++;
    rt->pending++;
    return LT_OK;
}

/* Drops the mail and the timers of an actor. */
static void s_clear(lt_coop_t *rt, s_actor_t *a)
{
    rt->pending -= a->count;
    a->count = 0;
    a->head = 0;
    size_t idx = s_index(rt, a);
    for (size_t i = 0; i < rt->cfg.max_timers; i++) {
        s_timer_t *t = &rt->timers[i];
        if (t->used && t->actor == idx) {
            t->used = false;
            rt->ntimers--;
        }
    }
}

static void s_free_slot(s_actor_t *a)
{
    lt_coop_t *rt = a->rt;
    lt_msg_t *ring = a->ring;
    uint8_t *bodies = a->bodies;
    memset(a, 0, sizeof *a);
    a->rt = rt;
    a->ring = ring;
    a->bodies = bodies;
    a->state = S_FREE;
}

/* Routes a message from an actor (or, by lt_coop_inject, from outside). */
static lt_err_t s_route(lt_coop_t *rt, const char *to, const lt_msg_t *msg, const char *from)
{
    if (msg->len > rt->cfg.max_body || (msg->len && !msg->body))
        return LT_EINVAL;
    lt_err_t (*hook)(void *, const char *, const lt_msg_t *) = NULL;
    void *hook_ctx = NULL;
    size_t name_len = 0;
    if (s_has_prefix(to, LT_COOP_EXT_PREFIX)) {
        if (strlen(to) >= LT_ADDR_MAX)
            return LT_EINVAL;
        hook = rt->cfg.external;
        hook_ctx = rt->cfg.external_ctx;
    } else if (!lt_addr_valid(to)) {
        if (!rt->cfg.host || !s_printable(to))
            return LT_EINVAL;
        hook = rt->cfg.host;
        hook_ctx = rt->cfg.host_ctx;
    } else if (!s_is_local(rt, to, &name_len)) {
        hook = rt->cfg.remote_send;
        hook_ctx = rt->cfg.remote_ctx;
    } else {
        s_actor_t *dst = s_find(rt, to, name_len);
        if (dst)
            return s_enqueue(rt, dst, msg, from);
        hook = rt->cfg.host;
        hook_ctx = rt->cfg.host_ctx;
    }
    if (!hook)
        return LT_ENOTFOUND;
    /* Copy semantics for the host: its own copy of the header with `from`
     * filled in, and a body it may read during the call only. */
    lt_msg_t out = *msg;
    size_t from_len = strlen(from);
    assert(from_len < sizeof out.from);
    memcpy(out.from, from, from_len + 1);
    return hook(hook_ctx, to, &out);
}

/* ---- the context actors see ------------------------------------------- */

static lt_err_t s_ctx_send(void *p, const char *to, const lt_msg_t *msg)
{
    s_actor_t *a = p;
    assert(a->state != S_FREE);
    assert(to && msg && s_kind_valid(msg->kind));
    return s_route(a->rt, to, msg, a->name);
}

static lt_err_t s_ctx_timer_set(void *p, uint64_t after_ms, uint64_t token)
{
    s_actor_t *a = p;
    lt_coop_t *rt = a->rt;
    if (a->state != S_LIVE || !a->ops->timer)
        return LT_EINVAL;
    uint64_t now = rt->cfg.now(rt->cfg.now_ctx);
    uint64_t deadline = after_ms > UINT64_MAX - now ? UINT64_MAX : now + after_ms;
    size_t idx = s_index(rt, a);
    s_timer_t *slot = NULL;
    for (size_t i = 0; i < rt->cfg.max_timers; i++) {
        s_timer_t *t = &rt->timers[i];
        if (t->used && t->actor == idx && t->token == token) {
            slot = t; /* replaced: it now fires at the new deadline */
            break;
        }
        if (!t->used && !slot)
            slot = t;
    }
    if (!slot) {
        lt_log_warn(rt->cfg.log, S_TAG, "timer table full (%zu): refusing a timer of %s",
                    rt->cfg.max_timers, a->name);
        return LT_EFULL;
    }
    if (!slot->used) {
        slot->used = true;
        rt->ntimers++;
    }
    slot->actor = idx;
    slot->token = token;
    slot->deadline = deadline;
    slot->seq = rt->tseq++;
    return LT_OK;
}

static void s_ctx_timer_cancel(void *p, uint64_t token)
{
    s_actor_t *a = p;
    lt_coop_t *rt = a->rt;
    size_t idx = s_index(rt, a);
    for (size_t i = 0; i < rt->cfg.max_timers; i++) {
        s_timer_t *t = &rt->timers[i];
        if (t->used && t->actor == idx && t->token == token) {
            t->used = false;
            rt->ntimers--;
            return;
        }
    }
}

static uint64_t s_ctx_now(void *p)
{
    const s_actor_t *a = p;
    return a->rt->cfg.now(a->rt->cfg.now_ctx);
}

static void s_ctx_random(void *p, void *buf, size_t n)
{
    const s_actor_t *a = p;
    a->rt->cfg.random(a->rt->cfg.random_ctx, buf, n);
}

static uint64_t s_ctx_next_corr(void *p)
{
    s_actor_t *a = p;
    return a->next_corr++;
}

static const lt_ctx_ops_t s_ctx_ops = {
    .abi = LT_ACTOR_ABI,
    .send = s_ctx_send,
    .timer_set = s_ctx_timer_set,
    .timer_cancel = s_ctx_timer_cancel,
    .now = s_ctx_now,
    .random = s_ctx_random,
    .next_corr = s_ctx_next_corr,
};

/* ---- life cycle ---------------------------------------------------------- */

lt_err_t lt_coop_new(const lt_coop_config_t *cfg, lt_coop_t **out)
{
    assert(cfg && out);
    *out = NULL;
    if (!cfg->now || !cfg->random)
        return LT_EINVAL;
    if (cfg->node && !s_node_valid(cfg->node))
        return LT_EINVAL;
    lt_coop_config_t c = *cfg;
    c.mailbox_cap = c.mailbox_cap ? c.mailbox_cap : LT_COOP_DEFAULT_MAILBOX;
    c.max_body = c.max_body ? c.max_body : LT_COOP_DEFAULT_MAX_BODY;
    c.max_actors = c.max_actors ? c.max_actors : LT_COOP_DEFAULT_MAX_ACTORS;
    c.max_timers = c.max_timers ? c.max_timers : LT_COOP_DEFAULT_MAX_TIMERS;
    size_t nslots, slot_bytes, body_bytes;
    if (!s_mul(c.max_actors, c.mailbox_cap, &nslots) ||
        !s_mul(nslots, sizeof(lt_msg_t), &slot_bytes) || !s_mul(nslots, c.max_body, &body_bytes))
        return LT_EINVAL;

    lt_coop_t *rt = calloc(1, sizeof *rt);
    if (!rt)
        return LT_ENOMEM;
    rt->actors = calloc(c.max_actors, sizeof *rt->actors);
    rt->rings = calloc(1, slot_bytes);
    rt->bodies = malloc(body_bytes);
    rt->timers = calloc(c.max_timers, sizeof *rt->timers);
    if (!rt->actors || !rt->rings || !rt->bodies || !rt->timers) {
        lt_coop_destroy(&rt);
        return LT_ENOMEM;
    }
    if (cfg->node)
        memcpy(rt->node, cfg->node, sizeof rt->node);
    c.node = rt->node[0] ? rt->node : NULL;
    rt->cfg = c;
    for (size_t i = 0; i < c.max_actors; i++) {
        s_actor_t *a = &rt->actors[i];
        a->rt = rt;
        a->ring = rt->rings + i * c.mailbox_cap;
        a->bodies = rt->bodies + i * c.mailbox_cap * c.max_body;
        for (size_t j = 0; j < c.mailbox_cap; j++)
            a->ring[j].body = a->bodies + j * c.max_body;
        a->state = S_FREE;
    }
    *out = rt;
    return LT_OK;
}

/* Stops an actor and frees its slot: mail and timers first, so that nothing
 * reaches it once stop() has begun. */
static void s_stop(lt_coop_t *rt, s_actor_t *a)
{
    s_clear(rt, a);
    a->state = S_STOPPING;
    lt_log_info(rt->cfg.log, S_TAG, "actor %s stopped", a->name);
    if (a->ops->stop) {
        rt->dispatching = true;
        a->ops->stop(a->self);
        rt->dispatching = false;
    }
    s_free_slot(a);
    rt->nactors--;
}

void lt_coop_destroy(lt_coop_t **rt_p)
{
    if (!rt_p || !*rt_p)
        return;
    lt_coop_t *rt = *rt_p;
    assert(!rt->dispatching);
    while (rt->actors && rt->nactors) {
        s_actor_t *newest = NULL;
        for (size_t i = 0; i < rt->cfg.max_actors; i++) {
            s_actor_t *a = &rt->actors[i];
            if (a->state == S_LIVE && (!newest || a->added > newest->added))
                newest = a;
        }
        assert(newest);
        s_stop(rt, newest);
    }
    free(rt->actors);
    free(rt->rings);
    free(rt->bodies);
    free(rt->timers);
    free(rt);
    *rt_p = NULL;
}

lt_err_t lt_coop_add(lt_coop_t *rt, const lt_actor_ops_t *ops, const void *cfg)
{
    assert(rt && ops);
    assert(!rt->dispatching);
    if (ops->abi != LT_ACTOR_ABI || !ops->start || !ops->receive || !ops->name ||
        strchr(ops->name, '@') || !lt_addr_valid(ops->name)) {
        lt_log_error(rt->cfg.log, S_TAG, "refusing actor %s: bad ops table (abi %u, want %u)",
                     ops->name ? ops->name : "(unnamed)", (unsigned)ops->abi, LT_ACTOR_ABI);
        return LT_EINVAL;
    }
    if (s_find(rt, ops->name, strlen(ops->name)))
        return LT_EEXIST;
    s_actor_t *a = NULL;
    for (size_t i = 0; i < rt->cfg.max_actors && !a; i++)
        if (rt->actors[i].state == S_FREE)
            a = &rt->actors[i];
    if (!a) {
        lt_log_error(rt->cfg.log, S_TAG, "refusing actor %s: actor table full (%zu)", ops->name,
                     rt->cfg.max_actors);
        return LT_EFULL;
    }
    a->state = S_LIVE;
    a->ops = ops;
    memcpy(a->name, ops->name, strlen(ops->name) + 1);
    a->ctx = (lt_ctx_t){.ops = &s_ctx_ops, .rt = a, .log = rt->cfg.log, .name = a->name};
    a->added = rt->adds;
    a->next_corr = 1;
    rt->nactors++;

    rt->dispatching = true;
    lt_err_t rc = ops->start(&a->ctx, cfg, &a->self);
    rt->dispatching = false;
    if (rc != LT_OK) {
        lt_log_error(rt->cfg.log, S_TAG, "actor %s failed to start: %s", a->name, lt_strerror(rc));
        s_clear(rt, a);
        s_free_slot(a);
        rt->nactors--;
        return rc;
    }
    rt->adds++;
    lt_log_info(rt->cfg.log, S_TAG, "actor %s started", a->name);
    return LT_OK;
}

/* Answers LT_EUNAVAILABLE, from a, every request still in a's mailbox:
 * whoever sent one would otherwise wait for a reply that cannot come. With
 * a host hook, only those from other hosted actors: the host answers what
 * it injected itself (a kernel holds those in flight). */
static void s_refuse_pending(lt_coop_t *rt, s_actor_t *a)
{
    size_t n = a->count;
    for (size_t k = 0; k < n; k++) {
        const lt_msg_t *m = &a->ring[(a->head + k) % rt->cfg.mailbox_cap];
        size_t len = 0;
        bool local = lt_addr_valid(m->from) && s_is_local(rt, m->from, &len);
        const s_actor_t *sender = local ? s_find(rt, m->from, len) : NULL;
        if (m->kind != LT_MSG_REQUEST || sender == a || (rt->cfg.host && !sender))
            continue;
        char to[LT_ADDR_MAX];
        memcpy(to, m->from, sizeof to);
        lt_msg_t r = {
            .kind = LT_MSG_REPLY, .corr = m->corr, .type = m->type, .status = LT_EUNAVAILABLE};
        if (s_route(rt, to, &r, a->name) != LT_OK)
            lt_log_debug(rt->cfg.log, S_TAG, "%s: the refusal of a pending request to %s was lost",
                         a->name, to);
    }
}

lt_err_t lt_coop_remove(lt_coop_t *rt, const char *name)
{
    assert(rt && name);
    assert(!rt->dispatching);
    s_actor_t *a = s_find(rt, name, strlen(name));
    if (!a)
        return LT_ENOTFOUND;
    s_refuse_pending(rt, a);
    s_stop(rt, a);
    return LT_OK;
}

/* ---- messages from outside ----------------------------------------------- */

lt_err_t lt_coop_inject(lt_coop_t *rt, const char *to, const lt_msg_t *msg, const char *from)
{
    assert(rt);
    if (!to || !msg || !from || !s_kind_valid(msg->kind))
        return LT_EINVAL;
    size_t name_len;
    if (s_has_prefix(from, LT_COOP_EXT_PREFIX)) {
        if (strlen(from) >= LT_ADDR_MAX)
            return LT_EINVAL;
    } else if (rt->cfg.host) {
        /* The host routes what is not ours; it may not speak for an actor
         * hosted here. */
        if (!s_printable(from) ||
            (lt_addr_valid(from) && s_is_local(rt, from, &name_len) && s_find(rt, from, name_len)))
            return LT_EINVAL;
    } else if (!lt_addr_valid(from) || s_is_local(rt, from, &name_len)) {
        return LT_EINVAL; /* outside code may not speak for a local actor */
    }
    if (msg->len > rt->cfg.max_body || (msg->len && !msg->body) || !lt_addr_valid(to))
        return LT_EINVAL;
    if (!s_is_local(rt, to, &name_len))
        return LT_ENOTFOUND;
    s_actor_t *dst = s_find(rt, to, name_len);
    return dst ? s_enqueue(rt, dst, msg, from) : LT_ENOTFOUND;
}

/* ---- scheduling ------------------------------------------------------------ */

static void s_deliver(lt_coop_t *rt, s_actor_t *a)
{
    rt->dispatching = true;
    a->ops->receive(a->self, &a->ctx, &a->ring[a->head]);
    /* Only now is the slot free: the handler may have sent to itself. */
    a->head = (a->head + 1) % rt->cfg.mailbox_cap;
    a->count--;
    rt->pending--;
    a->st.delivered++;
    rt->steps++;
    if (a->count == 0) {
        a->st.idles++;
        a->full_logged = false;
        if (a->ops->idle)
            a->ops->idle(a->self, &a->ctx);
    }
    rt->dispatching = false;
}

bool lt_coop_step(lt_coop_t *rt)
{
    assert(rt);
    assert(!rt->dispatching);
    if (rt->pending == 0)
        return false;
    size_t n = rt->cfg.max_actors;
    for (size_t k = 0; k < n; k++) {
        size_t i = (rt->rr + k) % n;
        s_actor_t *a = &rt->actors[i];
        if (a->state != S_LIVE || a->count == 0)
            continue;
        rt->rr = (i + 1) % n;
        s_deliver(rt, a);
        return true;
    }
    assert(false && "pending mail but no actor has any");
    return false;
}

unsigned lt_coop_run(lt_coop_t *rt, unsigned budget)
{
    unsigned steps = 0;
    while (steps < budget && lt_coop_step(rt))
        steps++;
    return steps;
}

unsigned lt_coop_advance(lt_coop_t *rt, uint64_t now_ms)
{
    assert(rt);
    assert(!rt->dispatching);
    uint64_t horizon = rt->tseq; /* timers set from here on wait for the next call */
    unsigned fired = 0;
    for (;;) {
        s_timer_t *due = NULL;
        for (size_t i = 0; i < rt->cfg.max_timers; i++) {
            s_timer_t *t = &rt->timers[i];
            if (!t->used || t->deadline > now_ms || t->seq >= horizon)
                continue;
            if (!due || t->deadline < due->deadline ||
                (t->deadline == due->deadline && t->seq < due->seq))
                due = t;
        }
        if (!due)
            break;
        /* Free the entry first: the handler may set the same token again. */
        due->used = false;
        rt->ntimers--;
        s_actor_t *a = &rt->actors[due->actor];
        uint64_t token = due->token;
        a->st.timers_fired++;
        rt->timers_fired++;
        fired++;
        rt->dispatching = true;
        a->ops->timer(a->self, &a->ctx, token);
        rt->dispatching = false;
    }
    return fired;
}

bool lt_coop_next_deadline(const lt_coop_t *rt, uint64_t *ms)
{
    assert(rt && ms);
    bool any = false;
    uint64_t min = UINT64_MAX;
    for (size_t i = 0; i < rt->cfg.max_timers; i++) {
        const s_timer_t *t = &rt->timers[i];
        if (t->used && t->deadline <= min) {
            min = t->deadline;
            any = true;
        }
    }
    if (any)
        *ms = min;
    return any;
}

bool lt_coop_idle(const lt_coop_t *rt)
{
    assert(rt);
    return rt->pending == 0;
}

/* ---- counters -------------------------------------------------------------- */

lt_err_t lt_coop_actor_stats(const lt_coop_t *rt, const char *name, lt_coop_actor_stats_t *out)
{
    assert(rt && name && out);
    const s_actor_t *a = s_find(rt, name, strlen(name));
    if (!a)
        return LT_ENOTFOUND;
    *out = a->st;
    out->pending = a->count;
    return LT_OK;
}

void lt_coop_stats(const lt_coop_t *rt, lt_coop_stats_t *out)
{
    assert(rt && out);
    *out = (lt_coop_stats_t){.steps = rt->steps,
                             .dropped_full = rt->dropped_full,
                             .timers_fired = rt->timers_fired,
                             .actors = rt->nactors,
                             .pending = rt->pending,
                             .timers = rt->ntimers,
                             .body_bytes =
                                 rt->cfg.max_actors * rt->cfg.mailbox_cap * rt->cfg.max_body};
}
