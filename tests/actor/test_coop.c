/* The cooperative runtime (boards/coop.h) driven through small actors
 * defined here: an echo service, a counter that groups its work until idle,
 * a timer client, a driver that performs whatever context call a test asks
 * of it, and a chatter that uses every hook at random for the determinism
 * check. Every actor writes one line per handler call into a trace, so a test
 * states what must happen as the text of that trace. All clocks are virtual
 * and all randomness is seeded. */
#include "boards/coop.h"

#include <criterion/criterion.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_NODE_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define S_NODE_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

/* ---- observations shared by the actors and the host hooks ----------------- */

typedef struct {
    char text[65536];
    size_t len;
    int stops; /* stop() calls, all actors together */
    lt_err_t last_rc;
    int accepted, refused; /* outcomes of a driver's flood */
    lt_err_t fail_start;   /* the failing actor's start() returns this */
} s_obs_t;

static void s_tracef(s_obs_t *o, const char *fmt, ...) LT_PRINTF(2, 3);
static void s_tracef(s_obs_t *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->text + o->len, sizeof o->text - o->len, fmt, ap);
    va_end(ap);
    cr_assert(n >= 0 && (size_t)n + 1 < sizeof o->text - o->len, "trace overflow");
    o->len += (size_t)n;
    o->text[o->len++] = '\n';
    o->text[o->len] = '\0';
}

static void s_trace_clear(s_obs_t *o)
{
    o->len = 0;
    o->text[0] = '\0';
}

static const char *s_kind(lt_msg_kind_t k)
{
    return k == LT_MSG_REQUEST ? "req" : k == LT_MSG_REPLY ? "rep" : "evt";
}

/* ---- host side: clock, randomness, hooks ---------------------------------- */

static uint64_t s_clock(void *ms)
{
    return *(uint64_t *)ms;
}

/* xorshift64*: a seeded stand-in for randombytes_buf. */
static void s_prng(void *state, void *buf, size_t n)
{
    uint64_t *x = state;
    uint8_t *out = buf;
    for (size_t i = 0; i < n; i++) {
        *x ^= *x >> 12;
        *x ^= *x << 25;
        *x ^= *x >> 27;
        out[i] = (uint8_t)((*x * 0x2545F4914F6CDD1DULL) >> 56);
    }
}

static lt_err_t s_hook(s_obs_t *o, const char *which, const char *to, const lt_msg_t *m)
{
    s_tracef(o, "%s %s <- %s %s corr=%" PRIu64 " type=%u status=%s body=%.*s", which, to, m->from,
             s_kind(m->kind), m->corr, m->type, lt_errname(m->status), (int)m->len,
             (const char *)m->body);
    return LT_OK;
}

static lt_err_t s_external(void *ctx, const char *to, const lt_msg_t *m)
{
    return s_hook(ctx, "ext", to, m);
}

static lt_err_t s_remote(void *ctx, const char *to, const lt_msg_t *m)
{
    return s_hook(ctx, "remote", to, m);
}

/* ---- echo: replies to each request with the same body --------------------- */

typedef struct {
    s_obs_t *obs;
} s_echo_t;

static lt_err_t s_echo_start(lt_ctx_t *ctx, const void *cfg, void **self)
{
    (void)ctx;
    s_echo_t *e = calloc(1, sizeof *e);
    if (!e)
        return LT_ENOMEM;
    e->obs = (void *)cfg;
    *self = e;
    return LT_OK;
}

static void s_echo_receive(void *self, lt_ctx_t *ctx, const lt_msg_t *m)
{
    s_echo_t *e = self;
    s_tracef(e->obs, "%s %s from=%s corr=%" PRIu64 " body=%.*s", ctx->name, s_kind(m->kind),
             m->from, m->corr, (int)m->len, (const char *)m->body);
    if (m->kind != LT_MSG_REQUEST)
        return;
    lt_err_t rc = lt_ctx_reply(ctx, m, LT_OK, m->type, m->body, m->len);
    if (rc != LT_OK)
        s_tracef(e->obs, "%s reply failed: %s", ctx->name, lt_errname(rc));
}

static void s_stop(void *self)
{
    s_echo_t *e = self; /* every actor's state starts with its s_obs_t */
    e->obs->stops++;
    free(self);
}

static const lt_actor_ops_t s_echo_ops = {
    .abi = LT_ACTOR_ABI,
    .name = "echo",
    .start = s_echo_start,
    .receive = s_echo_receive,
    .stop = s_stop,
};

/* ---- counter: counts receives, reports the burst when idle ---------------- */

typedef struct {
    s_obs_t *obs;
    int burst, total;
} s_counter_t;

static lt_err_t s_counter_start(lt_ctx_t *ctx, const void *cfg, void **self)
{
    (void)ctx;
    s_counter_t *c = calloc(1, sizeof *c);
    if (!c)
        return LT_ENOMEM;
    c->obs = (void *)cfg;
    *self = c;
    return LT_OK;
}

static void s_counter_receive(void *self, lt_ctx_t *ctx, const lt_msg_t *m)
{
    s_counter_t *c = self;
    c->burst++;
    c->total++;
    s_tracef(c->obs, "%s recv %.*s from=%s", ctx->name, (int)m->len, (const char *)m->body,
             m->from);
}

static void s_counter_idle(void *self, lt_ctx_t *ctx)
{
    s_counter_t *c = self;
    s_tracef(c->obs, "%s idle burst=%d total=%d", ctx->name, c->burst, c->total);
    c->burst = 0;
}

static const lt_actor_ops_t s_counter_ops = {
    .abi = LT_ACTOR_ABI,
    .name = "counter",
    .start = s_counter_start,
    .receive = s_counter_receive,
    .idle = s_counter_idle,
    .stop = s_stop,
};

/* ---- timer: sets and cancels timers on request ---------------------------- */

enum { S_TIMER_SET = 1, S_TIMER_CANCEL = 2 };
/* Firing this token sets S_TOKEN_CHAINED from inside the handler. */
#define S_TOKEN_CHAIN   100
#define S_TOKEN_CHAINED 101

typedef struct {
    uint64_t after_ms, token;
} s_timer_cmd_t;

static void s_timer_receive(void *self, lt_ctx_t *ctx, const lt_msg_t *m)
{
    s_echo_t *t = self;
    s_timer_cmd_t cmd;
    cr_assert_eq(m->len, sizeof cmd);
    memcpy(&cmd, m->body, sizeof cmd);
    if (m->type == S_TIMER_SET) {
        lt_err_t rc = lt_ctx_timer(ctx, cmd.after_ms, cmd.token);
        s_tracef(t->obs, "timer set %" PRIu64 " +%" PRIu64 " at %" PRIu64 ": %s", cmd.token,
                 cmd.after_ms, lt_ctx_now(ctx), lt_errname(rc));
    } else {
        ctx->ops->timer_cancel(ctx->rt, cmd.token);
        s_tracef(t->obs, "timer cancel %" PRIu64, cmd.token);
    }
}

static void s_timer_fired(void *self, lt_ctx_t *ctx, uint64_t token)
{
    s_echo_t *t = self;
    s_tracef(t->obs, "timer fired %" PRIu64 " at %" PRIu64, token, lt_ctx_now(ctx));
    if (token == S_TOKEN_CHAIN) {
        lt_err_t rc = lt_ctx_timer(ctx, 0, S_TOKEN_CHAINED);
        s_tracef(t->obs, "timer set %d +0 from the handler: %s", S_TOKEN_CHAINED, lt_errname(rc));
    }
}

static const lt_actor_ops_t s_timer_ops = {
    .abi = LT_ACTOR_ABI,
    .name = "timer",
    .start = s_echo_start,
    .receive = s_timer_receive,
    .timer = s_timer_fired,
    .stop = s_stop,
};

/* ---- driver: performs the context call a command names -------------------- *
 * Commands come from outside as events whose body is "to|payload". Replies and
 * events from actors are traced. */

enum { S_DO_SEND = 1, S_DO_REQUEST, S_DO_FLOOD, S_DO_FORGE, S_DO_CORR, S_DO_TIMER, S_DO_SEND_N };

static void s_driver_receive(void *self, lt_ctx_t *ctx, const lt_msg_t *m)
{
    s_echo_t *d = self;
    s_obs_t *o = d->obs;
    if (strncmp(m->from, "ext:", 4) != 0) {
        s_tracef(o, "driver got %s from=%s corr=%" PRIu64 " status=%s body=%.*s", s_kind(m->kind),
                 m->from, m->corr, lt_errname(m->status), (int)m->len, (const char *)m->body);
        return;
    }
    char to[LT_ADDR_MAX] = "";
    const char *sep = memchr(m->body, '|', m->len);
    cr_assert_not_null(sep, "driver command without '|'");
    size_t to_len = (size_t)(sep - (const char *)m->body);
    cr_assert_lt(to_len, sizeof to);
    memcpy(to, m->body, to_len);
    /* The body is not NUL-terminated: numbers are read from a copy. */
    const char *payload = sep + 1;
    size_t plen = m->len - to_len - 1;
    char num[32] = "";
    memcpy(num, payload, plen < sizeof num - 1 ? plen : sizeof num - 1);
    lt_err_t rc = LT_OK;
    uint64_t corr = 0;
    switch (m->type) {
    case S_DO_SEND:
        rc = lt_ctx_event(ctx, to, 0, payload, plen);
        s_tracef(o, "driver event -> %s: %s", to, lt_errname(rc));
        break;
    case S_DO_REQUEST:
        rc = lt_ctx_request(ctx, to, 7, payload, plen, &corr);
        s_tracef(o, "driver request corr=%" PRIu64 " -> %s: %s", corr, to, lt_errname(rc));
        break;
    case S_DO_FLOOD: {
        int n = atoi(num);
        o->accepted = o->refused = 0;
        for (int i = 0; i < n; i++) {
            char body[16];
            int len = snprintf(body, sizeof body, "m%d", i);
            rc = lt_ctx_event(ctx, to, 0, body, (size_t)len);
            if (rc == LT_OK)
                o->accepted++;
            else if (rc == LT_EFULL)
                o->refused++;
            else
                cr_assert_fail("flood: %s", lt_errname(rc));
        }
        s_tracef(o, "driver flood -> %s: %d accepted, %d refused", to, o->accepted, o->refused);
        break;
    }
    case S_DO_FORGE: {
        lt_msg_t f = {.kind = LT_MSG_EVENT, .body = (const uint8_t *)payload, .len = plen};
        snprintf(f.from, sizeof f.from, "forged");
        rc = ctx->ops->send(ctx->rt, to, &f);
        s_tracef(o, "driver forged event -> %s: %s", to, lt_errname(rc));
        break;
    }
    case S_DO_SEND_N: { /* an event of atoi(payload) bytes */
        static const char zs[256] = {0};
        size_t len = (size_t)atoi(num);
        cr_assert_leq(len, sizeof zs);
        rc = lt_ctx_event(ctx, to, 0, zs, len);
        s_tracef(o, "driver %zu bytes -> %s: %s", len, to, lt_errname(rc));
        break;
    }
    case S_DO_TIMER:
        rc = lt_ctx_timer(ctx, 10, 1);
        s_tracef(o, "driver timer: %s", lt_errname(rc));
        break;
    case S_DO_CORR:
        s_tracef(o, "driver next_corr %" PRIu64, ctx->ops->next_corr(ctx->rt));
        break;
    default:
        cr_assert_fail("driver: unknown command %u", m->type);
    }
    o->last_rc = rc;
}

static const lt_actor_ops_t s_driver_ops = {
    .abi = LT_ACTOR_ABI,
    .name = "driver",
    .start = s_echo_start,
    .receive = s_driver_receive,
    .stop = s_stop,
};

/* ---- chatter: random choices through every hook (determinism) ------------- */

static uint64_t s_rand64(lt_ctx_t *ctx)
{
    uint64_t r;
    ctx->ops->random(ctx->rt, &r, sizeof r);
    return r;
}

static void s_chatter_act(s_obs_t *o, lt_ctx_t *ctx, const char *why)
{
    uint64_t r = s_rand64(ctx);
    char body[24];
    int len = snprintf(body, sizeof body, "%" PRIx64, r & 0xffff);
    lt_err_t rc;
    switch (r % 4) {
    case 0:
        rc = lt_ctx_event(ctx, "counter", 1, body, (size_t)len);
        break;
    case 1:
        rc = lt_ctx_request(ctx, "echo", 2, body, (size_t)len, NULL);
        break;
    case 2:
        rc = lt_ctx_timer(ctx, (r >> 8) % 40, (r >> 16) % 4);
        break;
    default:
        rc = lt_ctx_event(ctx, "ext:out", 3, body, (size_t)len);
        break;
    }
    s_tracef(o, "chatter %s at %" PRIu64 " r=%" PRIx64 " action=%d: %s", why, lt_ctx_now(ctx), r,
             (int)(r % 4), lt_errname(rc));
}

static void s_chatter_receive(void *self, lt_ctx_t *ctx, const lt_msg_t *m)
{
    s_echo_t *c = self;
    s_tracef(c->obs, "chatter %s from=%s corr=%" PRIu64 " type=%u", s_kind(m->kind), m->from,
             m->corr, m->type);
    if (m->kind != LT_MSG_REPLY)
        s_chatter_act(c->obs, ctx, "recv");
}

static void s_chatter_timer(void *self, lt_ctx_t *ctx, uint64_t token)
{
    s_echo_t *c = self;
    s_tracef(c->obs, "chatter timer %" PRIu64, token);
    s_chatter_act(c->obs, ctx, "timer");
}

static void s_chatter_idle(void *self, lt_ctx_t *ctx)
{
    s_echo_t *c = self;
    s_tracef(c->obs, "chatter idle at %" PRIu64, lt_ctx_now(ctx));
}

static const lt_actor_ops_t s_chatter_ops = {
    .abi = LT_ACTOR_ABI,
    .name = "chatter",
    .start = s_echo_start,
    .receive = s_chatter_receive,
    .idle = s_chatter_idle,
    .timer = s_chatter_timer,
    .stop = s_stop,
};

/* ---- an actor whose start fails (after it sent and set a timer) ----------- */

static lt_err_t s_failing_start(lt_ctx_t *ctx, const void *cfg, void **self)
{
    const s_obs_t *o = cfg;
    lt_err_t rc = lt_ctx_event(ctx, "failing", 0, "to myself", 9);
    cr_assert_eq(rc, LT_OK, "an actor is addressable during its start");
    cr_assert_eq(lt_ctx_timer(ctx, 5, 1), LT_OK);
    if (o->fail_start != LT_OK)
        return o->fail_start;
    return s_counter_start(ctx, cfg, self);
}

static const lt_actor_ops_t s_failing_ops = {
    .abi = LT_ACTOR_ABI,
    .name = "failing",
    .start = s_failing_start,
    .receive = s_counter_receive,
    .timer = s_timer_fired,
    .stop = s_stop,
};

/* ---- fixture ------------------------------------------------------------------ */

typedef struct {
    lt_coop_t *rt;
    s_obs_t obs;
    uint64_t now;
    uint64_t seed;
} s_node_t;

/* Every test's runtime: hooks on, small tables so limits are reachable. */
static void s_node_open(s_node_t *n, size_t mailbox_cap, size_t max_body, size_t max_timers)
{
    memset(n, 0, sizeof *n);
    n->now = 1000;
    n->seed = 42;
    lt_coop_config_t cfg = {.now = s_clock,
                            .now_ctx = &n->now,
                            .random = s_prng,
                            .random_ctx = &n->seed,
                            .mailbox_cap = mailbox_cap,
                            .max_body = max_body,
                            .max_actors = 6,
                            .max_timers = max_timers,
                            .remote_send = s_remote,
                            .remote_ctx = &n->obs,
                            .external = s_external,
                            .external_ctx = &n->obs};
    cr_assert_eq(lt_coop_new(&cfg, &n->rt), LT_OK);
}

static void s_add(s_node_t *n, const lt_actor_ops_t *ops)
{
    lt_err_t rc = lt_coop_add(n->rt, ops, &n->obs);
    cr_assert_eq(rc, LT_OK, "add %s: %s", ops->name, lt_errname(rc));
}

static lt_err_t s_inject(s_node_t *n, const char *to, lt_msg_kind_t kind, uint32_t type,
                         const char *body, const char *from)
{
    lt_msg_t m = {
        .kind = kind, .corr = 0, .type = type, .body = (const uint8_t *)body, .len = strlen(body)};
    return lt_coop_inject(n->rt, to, &m, from);
}

static lt_coop_actor_stats_t s_stats(s_node_t *n, const char *name)
{
    lt_coop_actor_stats_t st;
    cr_assert_eq(lt_coop_actor_stats(n->rt, name, &st), LT_OK);
    return st;
}

/* Steps until the actor `name` has handled everything in its mailbox now
 * (and, in round-robin order, whatever other actors have ahead of it). */
static void s_step_through(s_node_t *n, const char *name)
{
    lt_coop_actor_stats_t st = s_stats(n, name);
    uint64_t target = st.delivered + st.pending;
    while (s_stats(n, name).delivered < target)
        cr_assert(lt_coop_step(n->rt));
}

/* Injects a command for the driver and steps until the driver has handled
 * it (delivering, in round-robin order, whatever is ahead of it). Returns
 * the result of the context call the command asked for. */
static lt_err_t s_drive(s_node_t *n, uint32_t what, const char *to, const char *payload)
{
    char body[256];
    snprintf(body, sizeof body, "%s|%s", to, payload);
    cr_assert_eq(s_inject(n, "driver", LT_MSG_EVENT, what, body, "ext:test"), LT_OK);
    s_step_through(n, "driver");
    return n->obs.last_rc;
}

static void s_timer_cmd(s_node_t *n, uint32_t what, uint64_t after_ms, uint64_t token)
{
    s_timer_cmd_t cmd = {after_ms, token};
    lt_msg_t m = {
        .kind = LT_MSG_EVENT, .type = what, .body = (const uint8_t *)&cmd, .len = sizeof cmd};
    cr_assert_eq(lt_coop_inject(n->rt, "timer", &m, "ext:test"), LT_OK);
    s_step_through(n, "timer");
}

static void s_expect(s_node_t *n, const char *want)
{
    cr_assert_str_eq(n->obs.text, want);
    s_trace_clear(&n->obs);
}

/* ---- configuration and the actor table ------------------------------------ */

Test(coop, new_refuses_a_config_without_clock_or_randomness)
{
    uint64_t now = 0, seed = 1;
    lt_coop_t *rt = (lt_coop_t *)&now; /* must be reset to NULL */
    lt_coop_config_t cfg = {.random = s_prng, .random_ctx = &seed};
    cr_assert_eq(lt_coop_new(&cfg, &rt), LT_EINVAL);
    cr_assert_null(rt);
    cfg = (lt_coop_config_t){.now = s_clock, .now_ctx = &now};
    cr_assert_eq(lt_coop_new(&cfg, &rt), LT_EINVAL);
    cfg.random = s_prng;
    cfg.random_ctx = &seed;
    cfg.node = "not-a-key";
    cr_assert_eq(lt_coop_new(&cfg, &rt), LT_EINVAL);
    cfg.node = NULL;
    cfg.mailbox_cap = SIZE_MAX / 2;
    cfg.max_actors = 4;
    cr_assert_eq(lt_coop_new(&cfg, &rt), LT_EINVAL, "sizes that overflow are refused");
    cfg.mailbox_cap = 0; /* defaults */
    cr_assert_eq(lt_coop_new(&cfg, &rt), LT_OK);
    lt_coop_destroy(&rt);
    cr_assert_null(rt);
    lt_coop_destroy(&rt); /* idempotent */
    lt_coop_destroy(NULL);
}

Test(coop, names_are_unique_and_the_table_is_bounded)
{
    s_node_t n;
    s_node_open(&n, 4, 64, 4);
    s_add(&n, &s_echo_ops);
    cr_assert_eq(lt_coop_add(n.rt, &s_echo_ops, &n.obs), LT_EEXIST);

    lt_actor_ops_t bad = s_counter_ops;
    bad.abi = LT_ACTOR_ABI + 1;
    cr_assert_eq(lt_coop_add(n.rt, &bad, &n.obs), LT_EINVAL, "wrong ABI");
    bad = s_counter_ops;
    bad.name = "Counter";
    cr_assert_eq(lt_coop_add(n.rt, &bad, &n.obs), LT_EINVAL, "malformed name");
    bad.name = "counter@" S_NODE_A;
    cr_assert_eq(lt_coop_add(n.rt, &bad, &n.obs), LT_EINVAL, "a name is not an address");
    bad = s_counter_ops;
    bad.receive = NULL;
    cr_assert_eq(lt_coop_add(n.rt, &bad, &n.obs), LT_EINVAL, "no receive hook");

    static const char *const names[] = {"c1", "c2", "c3", "c4", "c5"};
    lt_actor_ops_t ops[5];
    for (int i = 0; i < 5; i++) {
        ops[i] = s_counter_ops;
        ops[i].name = names[i];
        lt_err_t rc = lt_coop_add(n.rt, &ops[i], &n.obs);
        cr_assert_eq(rc, LT_OK, "%s: %s", names[i], lt_errname(rc));
    }
    lt_actor_ops_t extra = s_counter_ops;
    cr_assert_eq(lt_coop_add(n.rt, &extra, &n.obs), LT_EFULL, "six actors fill the table");
    lt_coop_stats_t st;
    lt_coop_stats(n.rt, &st);
    cr_assert_eq(st.actors, 6);

    /* A freed slot is reused. */
    cr_assert_eq(lt_coop_remove(n.rt, "c3"), LT_OK);
    s_add(&n, &extra);
    lt_coop_destroy(&n.rt);
    cr_assert_eq(n.obs.stops, 7, "destroy stops every actor once");
}

Test(coop, a_failed_start_leaves_nothing_behind)
{
    s_node_t n;
    s_node_open(&n, 4, 64, 4);
    n.obs.fail_start = LT_EIO;
    cr_assert_eq(lt_coop_add(n.rt, &s_failing_ops, &n.obs), LT_EIO);
    lt_coop_stats_t st;
    lt_coop_stats(n.rt, &st);
    cr_assert_eq(st.actors, 0);
    cr_assert_eq(st.pending, 0, "the mail it sent itself is dropped");
    cr_assert_eq(st.timers, 0, "the timer it set is dropped");
    cr_assert(lt_coop_idle(n.rt));
    uint64_t ms;
    cr_assert_not(lt_coop_next_deadline(n.rt, &ms));
    cr_assert_eq(n.obs.stops, 0, "stop is not called after a failed start");

    n.obs.fail_start = LT_OK;
    s_add(&n, &s_failing_ops);
    cr_assert_eq(lt_coop_run(n.rt, 10), 1);
    s_expect(&n, "failing recv to myself from=failing\n");
    lt_coop_destroy(&n.rt);
}

/* ---- messaging ----------------------------------------------------------------- */

Test(coop, echo_replies_to_each_request_with_the_same_body)
{
    s_node_t n;
    s_node_open(&n, 4, 64, 4);
    s_add(&n, &s_echo_ops);
    lt_msg_t m = {
        .kind = LT_MSG_REQUEST, .corr = 77, .type = 9, .body = (const uint8_t *)"ping", .len = 4};
    cr_assert_eq(lt_coop_inject(n.rt, "echo", &m, "ext:cli-1"), LT_OK);
    m.corr = 78;
    m.body = (const uint8_t *)"pong";
    cr_assert_eq(lt_coop_inject(n.rt, "echo", &m, "ext:cli-2"), LT_OK);
    cr_assert_eq(lt_coop_run(n.rt, 10), 2);
    s_expect(&n, "echo req from=ext:cli-1 corr=77 body=ping\n"
                 "ext ext:cli-1 <- echo rep corr=77 type=9 status=LT_OK body=ping\n"
                 "echo req from=ext:cli-2 corr=78 body=pong\n"
                 "ext ext:cli-2 <- echo rep corr=78 type=9 status=LT_OK body=pong\n");
    cr_assert_eq(s_stats(&n, "echo").delivered, 2);
    lt_coop_destroy(&n.rt);
    cr_assert_eq(n.obs.stops, 1);
}

Test(coop, request_and_reply_between_two_actors_echo_corr_and_name_the_sender)
{
    s_node_t n;
    s_node_open(&n, 4, 64, 4);
    s_add(&n, &s_driver_ops);
    s_add(&n, &s_echo_ops);
    cr_assert_eq(s_drive(&n, S_DO_REQUEST, "echo", "hello"), LT_OK);
    cr_assert_eq(s_drive(&n, S_DO_REQUEST, "echo", "again"), LT_OK);
    /* The second command waited its turn behind echo's first request. */
    cr_assert_eq(lt_coop_run(n.rt, 10), 3);
    s_expect(&n, "driver request corr=1 -> echo: LT_OK\n"
                 "echo req from=driver corr=1 body=hello\n"
                 "driver request corr=2 -> echo: LT_OK\n"
                 "echo req from=driver corr=2 body=again\n"
                 "driver got rep from=echo corr=1 status=LT_OK body=hello\n"
                 "driver got rep from=echo corr=2 status=LT_OK body=again\n");
    /* next_corr is per actor and keeps counting. */
    cr_assert_eq(s_drive(&n, S_DO_CORR, "-", ""), LT_OK);
    s_expect(&n, "driver next_corr 3\n");
    lt_coop_destroy(&n.rt);
}

Test(coop, the_runtime_sets_from_whatever_the_sender_wrote)
{
    s_node_t n;
    s_node_open(&n, 4, 64, 4);
    s_add(&n, &s_driver_ops);
    s_add(&n, &s_counter_ops);
    cr_assert_eq(s_drive(&n, S_DO_FORGE, "counter", "x"), LT_OK);
    cr_assert(lt_coop_step(n.rt));
    s_expect(&n, "driver forged event -> counter: LT_OK\n"
                 "counter recv x from=driver\n"
                 "counter idle burst=1 total=1\n");
    lt_coop_destroy(&n.rt);
}

Test(coop, a_full_mailbox_refuses_the_sender_and_loses_nothing_it_accepted)
{
    s_node_t n;
    s_node_open(&n, 4, 64, 4);
    s_add(&n, &s_driver_ops);
    s_add(&n, &s_counter_ops);
    cr_assert_eq(s_drive(&n, S_DO_FLOOD, "counter", "7"), LT_EFULL);
    cr_assert_eq(n.obs.accepted, 4);
    cr_assert_eq(n.obs.refused, 3);
    /* Outside clients get the same answer. */
    cr_assert_eq(s_inject(&n, "counter", LT_MSG_EVENT, 0, "late", "ext:test"), LT_EFULL);
    lt_coop_actor_stats_t st = s_stats(&n, "counter");
    cr_assert_eq(st.dropped_full, 4);
    cr_assert_eq(st.pending, 4);
    s_trace_clear(&n.obs);
    cr_assert_eq(lt_coop_run(n.rt, 100), 4);
    s_expect(&n, "counter recv m0 from=driver\n"
                 "counter recv m1 from=driver\n"
                 "counter recv m2 from=driver\n"
                 "counter recv m3 from=driver\n"
                 "counter idle burst=4 total=4\n");
    lt_coop_stats_t rs;
    lt_coop_stats(n.rt, &rs);
    cr_assert_eq(rs.dropped_full, 4);
    /* Room again once drained. */
    cr_assert_eq(s_inject(&n, "counter", LT_MSG_EVENT, 0, "late", "ext:test"), LT_OK);
    lt_coop_destroy(&n.rt);
}

Test(coop, a_message_holds_its_slot_until_its_handler_returns)
{
    s_node_t n;
    s_node_open(&n, 1, 64, 4);
    s_add(&n, &s_driver_ops);
    cr_assert_eq(s_drive(&n, S_DO_SEND, "driver", "self"), LT_EFULL,
                 "a mailbox of one is full while its message is handled");
    lt_coop_destroy(&n.rt);
}

Test(coop, a_body_larger_than_a_slot_is_invalid)
{
    s_node_t n;
    s_node_open(&n, 4, 16, 4);
    s_add(&n, &s_driver_ops);
    s_add(&n, &s_counter_ops);
    cr_assert_eq(s_inject(&n, "counter", LT_MSG_EVENT, 0, "0123456789abcdefg", "ext:test"),
                 LT_EINVAL);
    cr_assert_eq(s_inject(&n, "counter", LT_MSG_EVENT, 0, "0123456789abcdef", "ext:test"), LT_OK);
    cr_assert_eq(s_drive(&n, S_DO_SEND_N, "counter", "17"), LT_EINVAL);
    cr_assert_eq(s_drive(&n, S_DO_SEND_N, "ext:x", "17"), LT_EINVAL,
                 "the limit holds whatever the destination");
    cr_assert_eq(s_drive(&n, S_DO_SEND_N, "counter", "16"), LT_OK);
    lt_coop_actor_stats_t st = s_stats(&n, "counter");
    cr_assert_eq(st.delivered + st.pending, 2, "only the two that fit went through");
    lt_coop_destroy(&n.rt);
}

Test(coop, an_unknown_address_is_not_found_and_a_malformed_one_is_invalid)
{
    s_node_t n;
    s_node_open(&n, 4, 64, 4);
    s_add(&n, &s_driver_ops);
    cr_assert_eq(s_drive(&n, S_DO_SEND, "nobody", "x"), LT_ENOTFOUND);
    cr_assert_eq(s_drive(&n, S_DO_SEND, "No Body", "x"), LT_EINVAL);
    cr_assert_eq(s_drive(&n, S_DO_SEND, "nobody@123", "x"), LT_EINVAL);
    cr_assert_eq(s_inject(&n, "nobody", LT_MSG_EVENT, 0, "x", "ext:test"), LT_ENOTFOUND);
    cr_assert_eq(s_inject(&n, "driver", LT_MSG_EVENT, 0, "x", "driver"), LT_EINVAL,
                 "outside code may not speak for a local actor");
    cr_assert_eq(s_inject(&n, "driver", LT_MSG_EVENT, 0, "x", "client"), LT_EINVAL);
    cr_assert_eq(s_inject(&n, "driver", 0, 0, "x", "ext:test"), LT_EINVAL, "no such kind");
    cr_assert_eq(s_inject(&n, "echo@" S_NODE_B, LT_MSG_EVENT, 0, "x", "ext:test"), LT_ENOTFOUND,
                 "inject reaches local actors only");
    cr_assert(lt_coop_idle(n.rt));
    lt_coop_destroy(&n.rt);
}

Test(coop, remote_addresses_go_to_the_remote_hook)
{
    s_node_t n;
    s_node_open(&n, 4, 128, 4);
    s_add(&n, &s_driver_ops);
    s_add(&n, &s_echo_ops);
    cr_assert_eq(s_drive(&n, S_DO_REQUEST, "echo@" S_NODE_B, "far"), LT_OK);
    s_expect(&n, "remote echo@" S_NODE_B " <- driver req corr=1 type=7 status=LT_OK body=far\n"
                 "driver request corr=1 -> echo@" S_NODE_B ": LT_OK\n");

    /* What the network brings in from a peer is answered through the hook. */
    lt_msg_t m = {.kind = LT_MSG_REQUEST, .corr = 5, .body = (const uint8_t *)"hi", .len = 2};
    cr_assert_eq(lt_coop_inject(n.rt, "echo", &m, "sync@" S_NODE_B), LT_OK);
    cr_assert(lt_coop_step(n.rt));
    s_expect(&n, "echo req from=sync@" S_NODE_B " corr=5 body=hi\n"
                 "remote sync@" S_NODE_B " <- echo rep corr=5 type=0 status=LT_OK body=hi\n");
    lt_coop_destroy(&n.rt);
}

static lt_err_t s_host(void *ctx, const char *to, const lt_msg_t *m)
{
    return s_hook(ctx, "host", to, m);
}

Test(coop, a_host_hook_takes_unhosted_names_and_foreign_address_forms)
{
    s_node_t n;
    memset(&n, 0, sizeof n);
    n.seed = 7;
    lt_coop_config_t cfg = {.now = s_clock,
                            .now_ctx = &n.now,
                            .random = s_prng,
                            .random_ctx = &n.seed,
                            .node = S_NODE_A,
                            .remote_send = s_remote,
                            .remote_ctx = &n.obs,
                            .host = s_host,
                            .host_ctx = &n.obs};
    cr_assert_eq(lt_coop_new(&cfg, &n.rt), LT_OK);
    s_add(&n, &s_driver_ops);
    s_add(&n, &s_echo_ops);
    /* A name no actor holds and a form the runtime does not parse go to the
     * host; hosted names, this node's own key and other nodes do not. */
    cr_assert_eq(s_drive(&n, S_DO_REQUEST, "kernel", "k"), LT_OK);
    cr_assert_eq(s_drive(&n, S_DO_SEND, "client:00ff", "c"), LT_OK);
    cr_assert_eq(s_drive(&n, S_DO_SEND, "echo@" S_NODE_B, "r"), LT_OK);
    cr_assert_eq(s_drive(&n, S_DO_SEND, "bad addr", "x"), LT_EINVAL, "not printable");
    s_expect(&n, "host kernel <- driver req corr=1 type=7 status=LT_OK body=k\n"
                 "driver request corr=1 -> kernel: LT_OK\n"
                 "host client:00ff <- driver evt corr=0 type=0 status=LT_OK body=c\n"
                 "driver event -> client:00ff: LT_OK\n"
                 "remote echo@" S_NODE_B " <- driver evt corr=0 type=0 status=LT_OK body=r\n"
                 "driver event -> echo@" S_NODE_B ": LT_OK\n"
                 "driver event -> bad addr: LT_EINVAL\n");

    /* What the host injects on behalf of its clients is answered through
     * it; it still cannot speak for a hosted actor. */
    lt_msg_t m = {.kind = LT_MSG_REQUEST, .corr = 9, .body = (const uint8_t *)"q", .len = 1};
    cr_assert_eq(lt_coop_inject(n.rt, "echo", &m, "client:0a0b"), LT_OK);
    cr_assert_eq(lt_coop_inject(n.rt, "echo", &m, "kernel"), LT_OK);
    cr_assert_eq(lt_coop_inject(n.rt, "echo", &m, "driver"), LT_EINVAL);
    cr_assert_eq(lt_coop_inject(n.rt, "echo", &m, "echo@" S_NODE_A), LT_EINVAL);
    cr_assert_eq(lt_coop_inject(n.rt, "echo", &m, "two words"), LT_EINVAL);
    cr_assert_eq(lt_coop_inject(n.rt, "echo", &m, ""), LT_EINVAL);
    cr_assert_eq(lt_coop_run(n.rt, 10), 2);
    s_expect(&n, "echo req from=client:0a0b corr=9 body=q\n"
                 "host client:0a0b <- echo rep corr=9 type=0 status=LT_OK body=q\n"
                 "echo req from=kernel corr=9 body=q\n"
                 "host kernel <- echo rep corr=9 type=0 status=LT_OK body=q\n");
    lt_coop_destroy(&n.rt);
}

Test(coop, without_hooks_remote_and_external_addresses_are_not_found)
{
    uint64_t now = 0, seed = 1;
    s_obs_t *obs = calloc(1, sizeof *obs);
    lt_coop_config_t cfg = {.now = s_clock, .now_ctx = &now, .random = s_prng, .random_ctx = &seed};
    lt_coop_t *rt;
    cr_assert_eq(lt_coop_new(&cfg, &rt), LT_OK);
    cr_assert_eq(lt_coop_add(rt, &s_echo_ops, obs), LT_OK);
    lt_msg_t m = {.kind = LT_MSG_REQUEST, .body = (const uint8_t *)"x", .len = 1};
    cr_assert_eq(lt_coop_inject(rt, "echo", &m, "ext:gone"), LT_OK);
    cr_assert_eq(lt_coop_inject(rt, "echo", &m, "peer@" S_NODE_B), LT_OK);
    cr_assert_eq(lt_coop_run(rt, 10), 2);
    cr_assert_str_eq(obs->text, "echo req from=ext:gone corr=0 body=x\n"
                                "echo reply failed: LT_ENOTFOUND\n"
                                "echo req from=peer@" S_NODE_B " corr=0 body=x\n"
                                "echo reply failed: LT_ENOTFOUND\n");
    lt_coop_destroy(&rt);
    free(obs);
}

Test(coop, this_nodes_own_key_is_delivered_locally)
{
    uint64_t now = 0, seed = 1;
    s_obs_t *obs = calloc(1, sizeof *obs);
    lt_coop_config_t cfg = {.now = s_clock,
                            .now_ctx = &now,
                            .random = s_prng,
                            .random_ctx = &seed,
                            .node = S_NODE_A,
                            .remote_send = s_remote,
                            .remote_ctx = obs};
    lt_coop_t *rt;
    cr_assert_eq(lt_coop_new(&cfg, &rt), LT_OK);
    cr_assert_eq(lt_coop_add(rt, &s_counter_ops, obs), LT_OK);
    lt_msg_t m = {.kind = LT_MSG_EVENT, .body = (const uint8_t *)"x", .len = 1};
    cr_assert_eq(lt_coop_inject(rt, "counter@" S_NODE_A, &m, "ext:me"), LT_OK);
    cr_assert_eq(lt_coop_inject(rt, "counter", &m, "sync@" S_NODE_A), LT_EINVAL,
                 "a peer address naming this node would impersonate a local actor");
    cr_assert_eq(lt_coop_run(rt, 10), 1);
    cr_assert_str_eq(obs->text, "counter recv x from=ext:me\n"
                                "counter idle burst=1 total=1\n");
    lt_coop_destroy(&rt);
    free(obs);
}

/* ---- scheduling --------------------------------------------------------------- */

Test(coop, idle_is_called_once_per_burst_not_per_message)
{
    s_node_t n;
    s_node_open(&n, 8, 64, 4);
    s_add(&n, &s_counter_ops);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(s_inject(&n, "counter", LT_MSG_EVENT, 0, "a", "ext:t"), LT_OK);
    cr_assert_eq(lt_coop_run(n.rt, 100), 5);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(s_inject(&n, "counter", LT_MSG_EVENT, 0, "b", "ext:t"), LT_OK);
    cr_assert_eq(lt_coop_run(n.rt, 100), 3);
    s_expect(&n, "counter recv a from=ext:t\n"
                 "counter recv a from=ext:t\n"
                 "counter recv a from=ext:t\n"
                 "counter recv a from=ext:t\n"
                 "counter recv a from=ext:t\n"
                 "counter idle burst=5 total=5\n"
                 "counter recv b from=ext:t\n"
                 "counter recv b from=ext:t\n"
                 "counter recv b from=ext:t\n"
                 "counter idle burst=3 total=8\n");
    lt_coop_actor_stats_t st = s_stats(&n, "counter");
    cr_assert_eq(st.delivered, 8);
    cr_assert_eq(st.idles, 2);
    lt_coop_destroy(&n.rt);
}

Test(coop, flooded_actors_take_turns)
{
    s_node_t n;
    s_node_open(&n, 8, 64, 4);
    lt_actor_ops_t a = s_counter_ops, b = s_counter_ops;
    a.name = "a";
    b.name = "b";
    s_add(&n, &a);
    s_add(&n, &b);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(s_inject(&n, "a", LT_MSG_EVENT, 0, "x", "ext:t"), LT_OK);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(s_inject(&n, "b", LT_MSG_EVENT, 0, "y", "ext:t"), LT_OK);
    cr_assert_eq(lt_coop_run(n.rt, 100), 8);
    s_expect(&n, "a recv x from=ext:t\n"
                 "b recv y from=ext:t\n"
                 "a recv x from=ext:t\n"
                 "b recv y from=ext:t\n"
                 "a recv x from=ext:t\n"
                 "b recv y from=ext:t\n"
                 "b idle burst=3 total=3\n"
                 "a recv x from=ext:t\n"
                 "a recv x from=ext:t\n"
                 "a idle burst=5 total=5\n");
    lt_coop_destroy(&n.rt);
}

Test(coop, step_delivers_one_message_and_run_respects_its_budget)
{
    s_node_t n;
    s_node_open(&n, 16, 64, 4);
    s_add(&n, &s_counter_ops);
    cr_assert_not(lt_coop_step(n.rt), "nothing to do");
    cr_assert_eq(lt_coop_run(n.rt, 5), 0);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(s_inject(&n, "counter", LT_MSG_EVENT, 0, "x", "ext:t"), LT_OK);
    cr_assert(lt_coop_step(n.rt));
    cr_assert_eq(s_stats(&n, "counter").pending, 9);
    cr_assert_eq(lt_coop_run(n.rt, 3), 3);
    cr_assert_eq(s_stats(&n, "counter").pending, 6);
    cr_assert_not(lt_coop_idle(n.rt));
    cr_assert_eq(lt_coop_run(n.rt, 0), 0);
    cr_assert_eq(lt_coop_run(n.rt, 100), 6);
    cr_assert(lt_coop_idle(n.rt));
    cr_assert_eq(lt_coop_run(n.rt, 100), 0);
    lt_coop_stats_t st;
    lt_coop_stats(n.rt, &st);
    cr_assert_eq(st.steps, 10);
    cr_assert_eq(s_stats(&n, "counter").idles, 1, "the budget split one burst");
    lt_coop_destroy(&n.rt);
}

Test(coop, remove_answers_the_requests_left_in_the_mailbox_unavailable)
{
    s_node_t n;
    s_node_open(&n, 8, 64, 4);
    s_add(&n, &s_driver_ops);
    s_add(&n, &s_echo_ops);
    /* A request from the driver, one from outside, and an event: queued
     * for echo, which goes before it handles them. */
    cr_assert_eq(s_drive(&n, S_DO_REQUEST, "echo", "a"), LT_OK);
    lt_msg_t m = {.kind = LT_MSG_REQUEST, .corr = 77, .body = (const uint8_t *)"b", .len = 1};
    cr_assert_eq(lt_coop_inject(n.rt, "echo", &m, "ext:far"), LT_OK);
    cr_assert_eq(s_inject(&n, "echo", LT_MSG_EVENT, 0, "c", "ext:far"), LT_OK);
    s_trace_clear(&n.obs);
    cr_assert_eq(lt_coop_remove(n.rt, "echo"), LT_OK);
    s_step_through(&n, "driver");
    s_expect(&n, "ext ext:far <- echo rep corr=77 type=0 status=LT_EUNAVAILABLE body=\n"
                 "driver got rep from=echo corr=1 status=LT_EUNAVAILABLE body=\n");
    lt_coop_destroy(&n.rt);
}

Test(coop, with_a_host_remove_answers_only_the_requests_of_hosted_actors)
{
    s_node_t n;
    memset(&n, 0, sizeof n);
    n.seed = 3;
    lt_coop_config_t cfg = {.now = s_clock,
                            .now_ctx = &n.now,
                            .random = s_prng,
                            .random_ctx = &n.seed,
                            .host = s_host,
                            .host_ctx = &n.obs};
    cr_assert_eq(lt_coop_new(&cfg, &n.rt), LT_OK);
    s_add(&n, &s_driver_ops);
    s_add(&n, &s_echo_ops);
    cr_assert_eq(s_drive(&n, S_DO_REQUEST, "echo", "a"), LT_OK);
    lt_msg_t m = {.kind = LT_MSG_REQUEST, .corr = 5, .body = (const uint8_t *)"b", .len = 1};
    cr_assert_eq(lt_coop_inject(n.rt, "echo", &m, "client:0a0b"), LT_OK);
    s_trace_clear(&n.obs);
    cr_assert_eq(lt_coop_remove(n.rt, "echo"), LT_OK);
    s_step_through(&n, "driver");
    /* The client's request is the host's to answer: nothing reached it. */
    s_expect(&n, "driver got rep from=echo corr=1 status=LT_EUNAVAILABLE body=\n");
    lt_coop_destroy(&n.rt);
}

Test(coop, remove_drops_pending_messages_and_calls_stop_once)
{
    s_node_t n;
    s_node_open(&n, 8, 64, 4);
    s_add(&n, &s_counter_ops);
    s_add(&n, &s_timer_ops);
    s_timer_cmd(&n, S_TIMER_SET, 10, 1);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(s_inject(&n, "counter", LT_MSG_EVENT, 0, "x", "ext:t"), LT_OK);
    cr_assert_eq(lt_coop_remove(n.rt, "timer"), LT_OK);
    cr_assert_eq(lt_coop_remove(n.rt, "counter"), LT_OK);
    cr_assert_eq(n.obs.stops, 2);
    cr_assert_eq(lt_coop_remove(n.rt, "counter"), LT_ENOTFOUND);
    cr_assert(lt_coop_idle(n.rt));
    cr_assert_not(lt_coop_step(n.rt));
    uint64_t ms;
    cr_assert_not(lt_coop_next_deadline(n.rt, &ms), "its timers went with it");
    cr_assert_eq(lt_coop_advance(n.rt, 5000), 0);
    cr_assert_eq(s_inject(&n, "counter", LT_MSG_EVENT, 0, "x", "ext:t"), LT_ENOTFOUND);
    lt_coop_actor_stats_t st;
    cr_assert_eq(lt_coop_actor_stats(n.rt, "counter", &st), LT_ENOTFOUND);
    s_expect(&n, "timer set 1 +10 at 1000: LT_OK\n");
    lt_coop_destroy(&n.rt);
    cr_assert_eq(n.obs.stops, 2, "destroy does not stop them again");
}

/* ---- timers --------------------------------------------------------------------- */

Test(coop, timers_fire_in_deadline_order_on_a_virtual_clock)
{
    s_node_t n;
    s_node_open(&n, 8, 64, 8);
    s_add(&n, &s_timer_ops);
    s_timer_cmd(&n, S_TIMER_SET, 30, 3);
    s_timer_cmd(&n, S_TIMER_SET, 10, 1);
    s_timer_cmd(&n, S_TIMER_SET, 20, 2);
    s_timer_cmd(&n, S_TIMER_SET, 10, 4); /* same deadline as 1, set later */
    s_trace_clear(&n.obs);
    uint64_t ms = 0;
    cr_assert(lt_coop_next_deadline(n.rt, &ms));
    cr_assert_eq(ms, 1010);
    n.now = 1009;
    cr_assert_eq(lt_coop_advance(n.rt, n.now), 0);
    n.now = 1025;
    cr_assert_eq(lt_coop_advance(n.rt, n.now), 3);
    s_expect(&n, "timer fired 1 at 1025\n"
                 "timer fired 4 at 1025\n"
                 "timer fired 2 at 1025\n");
    cr_assert(lt_coop_next_deadline(n.rt, &ms));
    cr_assert_eq(ms, 1030);
    n.now = 1030;
    cr_assert_eq(lt_coop_advance(n.rt, n.now), 1);
    s_expect(&n, "timer fired 3 at 1030\n");
    cr_assert_not(lt_coop_next_deadline(n.rt, &ms));
    cr_assert_eq(s_stats(&n, "timer").timers_fired, 4);
    lt_coop_destroy(&n.rt);
}

Test(coop, setting_a_token_again_replaces_its_timer_and_cancel_removes_it)
{
    s_node_t n;
    s_node_open(&n, 8, 64, 8);
    s_add(&n, &s_timer_ops);
    s_timer_cmd(&n, S_TIMER_SET, 10, 1);
    s_timer_cmd(&n, S_TIMER_SET, 20, 2);
    s_timer_cmd(&n, S_TIMER_SET, 50, 1); /* replaces: now due at 1050 */
    s_timer_cmd(&n, S_TIMER_CANCEL, 0, 2);
    s_timer_cmd(&n, S_TIMER_CANCEL, 0, 99); /* unknown: nothing happens */
    lt_coop_stats_t st;
    lt_coop_stats(n.rt, &st);
    cr_assert_eq(st.timers, 1);
    s_trace_clear(&n.obs);
    n.now = 1040;
    cr_assert_eq(lt_coop_advance(n.rt, n.now), 0);
    n.now = 1050;
    cr_assert_eq(lt_coop_advance(n.rt, n.now), 1);
    s_expect(&n, "timer fired 1 at 1050\n");
    lt_coop_destroy(&n.rt);
}

Test(coop, a_timer_set_from_a_timer_handler_fires_at_the_next_advance)
{
    s_node_t n;
    s_node_open(&n, 8, 64, 8);
    s_add(&n, &s_timer_ops);
    s_timer_cmd(&n, S_TIMER_SET, 5, S_TOKEN_CHAIN);
    s_trace_clear(&n.obs);
    n.now = 1005;
    cr_assert_eq(lt_coop_advance(n.rt, n.now), 1, "a re-armed timer cannot starve the host");
    uint64_t ms;
    cr_assert(lt_coop_next_deadline(n.rt, &ms));
    cr_assert_eq(ms, 1005);
    cr_assert_eq(lt_coop_advance(n.rt, n.now), 1);
    s_expect(&n, "timer fired 100 at 1005\n"
                 "timer set 101 +0 from the handler: LT_OK\n"
                 "timer fired 101 at 1005\n");
    lt_coop_destroy(&n.rt);
}

Test(coop, the_timer_table_is_bounded)
{
    s_node_t n;
    s_node_open(&n, 8, 64, 2);
    s_add(&n, &s_timer_ops);
    s_timer_cmd(&n, S_TIMER_SET, 10, 1);
    s_timer_cmd(&n, S_TIMER_SET, 10, 2);
    s_timer_cmd(&n, S_TIMER_SET, 10, 3);
    s_timer_cmd(&n, S_TIMER_SET, 30, 2); /* replacing needs no room */
    s_expect(&n, "timer set 1 +10 at 1000: LT_OK\n"
                 "timer set 2 +10 at 1000: LT_OK\n"
                 "timer set 3 +10 at 1000: LT_EFULL\n"
                 "timer set 2 +30 at 1000: LT_OK\n");
    /* An actor without a timer hook cannot set one. */
    s_add(&n, &s_driver_ops);
    cr_assert_eq(s_drive(&n, S_DO_TIMER, "-", ""), LT_EINVAL);
    lt_coop_destroy(&n.rt);
}

/* ---- determinism ---------------------------------------------------------------- */

/* One scripted run: messages, partial runs and clock advances interleaved;
 * the chatter draws from the seeded generator at every turn. */
static void s_script(s_node_t *n, uint64_t seed)
{
    s_node_open(n, 4, 64, 8);
    n->seed = seed;
    s_add(n, &s_chatter_ops);
    s_add(n, &s_echo_ops);
    s_add(n, &s_counter_ops);
    for (uint32_t i = 0; i < 60; i++) {
        lt_msg_t m = {.kind = i % 3 ? LT_MSG_EVENT : LT_MSG_REQUEST, .corr = i, .type = i};
        lt_err_t rc = lt_coop_inject(n->rt, "chatter", &m, "ext:script");
        s_tracef(&n->obs, "inject %u: %s", i, lt_errname(rc));
        if (i % 4 == 0)
            s_tracef(&n->obs, "run: %u", lt_coop_run(n->rt, 3));
        if (i % 7 == 0) {
            n->now += 13;
            s_tracef(&n->obs, "advance to %" PRIu64 ": %u", n->now, lt_coop_advance(n->rt, n->now));
        }
    }
    for (int i = 0; i < 10; i++) {
        s_tracef(&n->obs, "run: %u", lt_coop_run(n->rt, 1000));
        n->now += 50;
        s_tracef(&n->obs, "advance to %" PRIu64 ": %u", n->now, lt_coop_advance(n->rt, n->now));
    }
    lt_coop_stats_t st;
    lt_coop_stats(n->rt, &st);
    s_tracef(&n->obs, "steps=%" PRIu64 " full=%" PRIu64 " timers=%" PRIu64, st.steps,
             st.dropped_full, st.timers_fired);
    lt_coop_destroy(&n->rt);
}

Test(coop, the_same_script_gives_the_same_trace)
{
    s_node_t *a = calloc(3, sizeof *a);
    cr_assert_not_null(a);
    s_script(&a[0], 7);
    s_script(&a[1], 7);
    s_script(&a[2], 8);
    cr_assert_gt(a[0].obs.len, 4000, "the script exercises the runtime");
    cr_assert(strstr(a[0].obs.text, "chatter timer"), "timers fired");
    cr_assert(strstr(a[0].obs.text, "ext ext:out"), "external events went out");
    cr_assert(strstr(a[0].obs.text, "chatter rep from=echo"), "replies came back");
    cr_assert(strstr(a[0].obs.text, "counter idle"), "idle ran");
    cr_assert_str_eq(a[0].obs.text, a[1].obs.text);
    cr_assert_str_neq(a[0].obs.text, a[2].obs.text, "the trace depends on the seed");
    free(a);
}
