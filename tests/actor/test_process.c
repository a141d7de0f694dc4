/* The process runtime (ipc/process.h) against a kernel played by the test:
 * registration, delivery, idle and timers, heartbeats, re-registration after
 * a DISCONNECT, a silent kernel or a new kernel on the same socket, the exit
 * codes of a signal, a failed start and an orphan. The service runs in a
 * forked child; every wait has a deadline (zmq_poll, poll), none sleeps. */
#include "fake_kernel.h"
#include "ipc/process.h"
#include "support/testutil.h"

#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_CLIENT "client:0a0b0c0d"
#define S_PROTO  7
/* Deadlines say when to give up on a broken service, not how long things
 * take (milliseconds here; much more under sanitizers on a loaded machine).
 * Lower bounds on timings are measured from before the fork, which no
 * deadline of the service can precede. */
#define S_DEADLINE_MS 20000

/* ---- a small actor: echo, deferred replies, timers -------------------------- */

enum {
    S_ECHO = 1,     /* reply with the body at once */
    S_AT_IDLE = 2,  /* reply with the body from idle() */
    S_TIMER = 3,    /* body: u8 milliseconds; reply when the timer fires */
    S_EARLY_EV = 9, /* type of the event start() sends */
};

typedef struct {
    bool fail_start;
    bool send_in_start;
} s_echo_cfg_t;

typedef struct {
    lt_msg_t held; /* S_AT_IDLE / S_TIMER request waiting */
    uint8_t body[64];
    bool holding;
    lt_ctx_t *ctx;
} s_echo_t;

static lt_err_t s_echo_start(lt_ctx_t *ctx, const void *cfgp, void **self)
{
    const s_echo_cfg_t *cfg = cfgp;
    if (cfg->fail_start)
        return LT_EINVAL;
    s_echo_t *e = calloc(1, sizeof *e);
    if (!e)
        return LT_ENOMEM;
    if (cfg->send_in_start && lt_ctx_event(ctx, S_CLIENT, S_EARLY_EV, "early", 5) != LT_OK) {
        free(e);
        return LT_EIO;
    }
    *self = e;
    return LT_OK;
}

/* A lost reply shows as a missing one in the test; say why in the log. */
static void s_reply(lt_ctx_t *ctx, const lt_msg_t *m, lt_err_t status, const void *body, size_t len)
{
    lt_err_t rc = lt_ctx_reply(ctx, m, status, m->type, body, len);
    if (rc)
        lt_log_warn(ctx->log, "echo", "reply to %llu not sent: %s", (unsigned long long)m->corr,
                    lt_errname(rc));
}

static void s_echo_hold(s_echo_t *e, const lt_msg_t *m)
{
    e->held = *m;
    e->held.len = m->len < sizeof e->body ? m->len : sizeof e->body;
    memcpy(e->body, m->body, e->held.len);
    e->held.body = e->body;
    e->holding = true;
}

static void s_echo_release(s_echo_t *e, lt_ctx_t *ctx)
{
    if (!e->holding)
        return;
    e->holding = false;
    s_reply(ctx, &e->held, LT_OK, e->held.body, e->held.len);
}

static void s_echo_receive(void *self, lt_ctx_t *ctx, const lt_msg_t *m)
{
    s_echo_t *e = self;
    if (m->kind != LT_MSG_REQUEST)
        return;
    switch (m->type) {
    case S_ECHO:
        s_reply(ctx, m, LT_OK, m->body, m->len);
        return;
    case S_AT_IDLE:
        s_echo_hold(e, m);
        return;
    case S_TIMER:
        s_echo_hold(e, m);
        if (lt_ctx_timer(ctx, m->len ? m->body[0] : 0, 77) != LT_OK)
            s_reply(ctx, m, LT_EFULL, NULL, 0);
        return;
    default:
        s_reply(ctx, m, LT_EINVAL, NULL, 0);
    }
}

static void s_echo_idle(void *self, lt_ctx_t *ctx)
{
    s_echo_t *e = self;
    if (e->holding && e->held.type == S_AT_IDLE)
        s_echo_release(e, ctx);
}

static void s_echo_timer(void *self, lt_ctx_t *ctx, uint64_t token)
{
    s_echo_t *e = self;
    if (token == 77 && e->holding && e->held.type == S_TIMER)
        s_echo_release(e, ctx);
}

static void s_echo_stop(void *self)
{
    free(self);
}

static const lt_actor_ops_t s_echo_actor = {
    .abi = LT_ACTOR_ABI,
    .name = "echo",
    .start = s_echo_start,
    .receive = s_echo_receive,
    .idle = s_echo_idle,
    .timer = s_echo_timer,
    .stop = s_echo_stop,
};

/* ---- the service process ------------------------------------------------------ */

static const lt_logger_t s_quiet = {.sink = lt_log_stderr_sink, .max_level = LT_LOG_WARN};

typedef struct {
    s_echo_cfg_t cfg;
    lt_process_opts_t opts;
} s_run_t;

static int s_child(void *arg)
{
    const s_run_t *r = arg;
    return lt_process_run(&s_echo_actor, &r->cfg, &r->opts);
}

typedef struct {
    char *dir;
    char endpoint[256];
    lt_test_kernel_t k;
    lt_test_child_t child;
    lt_test_kmsg_t m;
    s_run_t run;
    uint64_t spawned; /* monotonic ms just before the fork */
} s_env_t;

static void s_env_init(s_env_t *env, uint32_t heartbeat_ms)
{
    memset(env, 0, sizeof *env);
    env->dir = lt_test_tmpdir("process");
    snprintf(env->endpoint, sizeof env->endpoint, "ipc://%s/kernel.sock", env->dir);
    env->run.opts = (lt_process_opts_t){.home = env->dir,
                                        .endpoint = env->endpoint,
                                        .log = &s_quiet,
                                        .proto = S_PROTO,
                                        .orphan_ms = 2 * S_DEADLINE_MS,
                                        .heartbeat_ms = heartbeat_ms};
}

/* Forks the service, then binds the kernel: the service finds it through
 * its reconnect interval, as a service started before its kernel does. */
static void s_env_start(s_env_t *env)
{
    env->spawned = lt_test_mono_ms();
    lt_test_child_spawn(&env->child, s_child, &env->run);
    lt_test_kernel_bind(&env->k, env->endpoint);
}

static void s_env_fini(s_env_t *env)
{
    lt_test_kmsg_free(&env->m);
    lt_test_kernel_destroy(&env->k);
    lt_test_rmtree(&env->dir);
}

static void s_expect_ready(s_env_t *env, int timeout_ms)
{
    cr_assert(lt_test_kernel_expect(&env->k, LT_FRAME_READY, timeout_ms, &env->m), "no READY");
    cr_assert_str_eq(env->m.f.name, "echo");
    cr_assert_eq(env->m.f.proto, S_PROTO);
    cr_assert_eq(env->m.f.pid, (uint32_t)env->child.pid);
}

/* SIGTERM: a DISCONNECT, then exit 0. */
static void s_stop_child(s_env_t *env)
{
    cr_assert_eq(kill(env->child.pid, SIGTERM), 0);
    cr_assert(lt_test_kernel_expect(&env->k, LT_FRAME_DISCONNECT, S_DEADLINE_MS, &env->m),
              "no DISCONNECT after SIGTERM");
    cr_assert_eq(lt_test_child_wait(&env->child, S_DEADLINE_MS), LT_PROCESS_EXIT_OK);
}

static void s_request(s_env_t *env, uint64_t corr, uint32_t type, const void *body, size_t len)
{
    lt_frame_t f = {.cmd = LT_FRAME_REQUEST, .corr = corr, .type = type, .body = body, .len = len};
    snprintf(f.addr, sizeof f.addr, "%s", S_CLIENT);
    lt_test_kernel_send(&env->k, env->m.rid, env->m.rid_len, &f);
}

static void s_expect_reply(s_env_t *env, uint64_t corr, const char *body)
{
    cr_assert(lt_test_kernel_expect(&env->k, LT_FRAME_REPLY, S_DEADLINE_MS, &env->m),
              "no reply to %llu", (unsigned long long)corr);
    cr_assert_str_eq(env->m.f.addr, S_CLIENT);
    cr_assert_eq(env->m.f.corr, corr);
    cr_assert_eq(env->m.f.status, LT_OK);
    cr_assert_eq(env->m.f.len, strlen(body));
    cr_assert_eq(memcmp(env->m.f.body, body, env->m.f.len), 0);
}

/* ---- tests -------------------------------------------------------------------- */

Test(process, registers_then_serves_requests_idle_and_timers)
{
    s_env_t env;
    s_env_init(&env, 0);
    env.run.cfg.send_in_start = true;
    env.k.answer_heartbeats = true;
    s_env_start(&env);
    s_expect_ready(&env, S_DEADLINE_MS);
    /* what start() sent comes right after READY, from the service */
    cr_assert(lt_test_kernel_expect(&env.k, LT_FRAME_EVENT, S_DEADLINE_MS, &env.m));
    cr_assert_str_eq(env.m.f.addr, S_CLIENT);
    cr_assert_eq(env.m.f.type, S_EARLY_EV);

    s_request(&env, 1, S_ECHO, "hello", 5);
    s_expect_reply(&env, 1, "hello");
    s_request(&env, 2, S_AT_IDLE, "later", 5);
    s_expect_reply(&env, 2, "later");
    uint8_t ms = 20;
    uint64_t t0 = lt_test_mono_ms();
    s_request(&env, 3, S_TIMER, &ms, 1);
    s_expect_reply(&env, 3, "\x14");
    cr_assert_geq(lt_test_mono_ms() - t0, 19, "the timer fired early");
    /* an error reply keeps its status */
    s_request(&env, 4, 1234, NULL, 0);
    cr_assert(lt_test_kernel_expect(&env.k, LT_FRAME_REPLY, S_DEADLINE_MS, &env.m));
    cr_assert_eq(env.m.f.status, LT_EINVAL);

    /* a malformed message is dropped; the service goes on */
    const uint8_t junk[] = {'L', 'T', 'K', '9'};
    lt_frame_part_t bad[2] = {{junk, 4}, {junk, 1}};
    lt_test_kernel_send_raw(&env.k, env.m.rid, env.m.rid_len, bad, 2);
    s_request(&env, 5, S_ECHO, "still", 5);
    s_expect_reply(&env, 5, "still");
    s_stop_child(&env);
    s_env_fini(&env);
}

Test(process, sends_heartbeats_when_idle)
{
    s_env_t env;
    s_env_init(&env, 0); /* the kernel's interval: LT_FRAME_HEARTBEAT_MS */
    s_env_start(&env);
    s_expect_ready(&env, S_DEADLINE_MS);
    cr_assert(lt_test_kernel_expect(&env.k, LT_FRAME_HEARTBEAT, S_DEADLINE_MS, &env.m),
              "no HEARTBEAT");
    uint64_t waited = lt_test_mono_ms() - env.spawned;
    cr_assert_geq(waited, LT_FRAME_HEARTBEAT_MS - 2, "a HEARTBEAT %llu ms after the start",
                  (unsigned long long)waited);
    s_stop_child(&env);
    s_env_fini(&env);
}

Test(process, a_disconnect_from_the_kernel_brings_ready_again)
{
    s_env_t env;
    s_env_init(&env, 100);
    env.k.answer_heartbeats = true;
    s_env_start(&env);
    s_expect_ready(&env, S_DEADLINE_MS);
    uint8_t first[LT_TEST_RID_MAX];
    size_t first_len = env.m.rid_len;
    memcpy(first, env.m.rid, first_len);
    lt_frame_t bye = {.cmd = LT_FRAME_DISCONNECT};
    lt_test_kernel_send(&env.k, first, first_len, &bye);
    s_expect_ready(&env, S_DEADLINE_MS);
    /* on a new connection */
    cr_assert(env.m.rid_len != first_len || memcmp(env.m.rid, first, first_len) != 0);
    s_request(&env, 1, S_ECHO, "again", 5);
    s_expect_reply(&env, 1, "again");
    s_stop_child(&env);
    s_env_fini(&env);
}

Test(process, a_new_kernel_on_the_same_socket_gets_ready)
{
    s_env_t env;
    s_env_init(&env, 100);
    env.k.answer_heartbeats = true;
    s_env_start(&env);
    s_expect_ready(&env, S_DEADLINE_MS);
    s_request(&env, 1, S_ECHO, "old", 3);
    s_expect_reply(&env, 1, "old");

    /* The kernel restarts: a new ROUTER on the same path. As a real one, it
     * answers a HEARTBEAT from a connection it does not know with
     * DISCONNECT; the service may also notice the silence first. Either
     * way it registers again. */
    lt_test_kernel_unbind(&env.k);
    lt_test_kernel_bind(&env.k, env.endpoint);
    uint64_t deadline = lt_test_mono_ms() + S_DEADLINE_MS;
    bool ready = false;
    while (!ready && lt_test_mono_ms() < deadline) {
        if (!lt_test_kernel_recv(&env.k, (int)(deadline - lt_test_mono_ms()), &env.m))
            break;
        if (env.m.f.cmd == LT_FRAME_HEARTBEAT) {
            lt_frame_t bye = {.cmd = LT_FRAME_DISCONNECT};
            lt_test_kernel_send(&env.k, env.m.rid, env.m.rid_len, &bye);
        } else {
            cr_assert_eq(env.m.f.cmd, LT_FRAME_READY, "command %d before READY", (int)env.m.f.cmd);
            ready = true;
        }
    }
    cr_assert(ready, "no READY at the new kernel");
    cr_assert_str_eq(env.m.f.name, "echo");
    s_request(&env, 2, S_ECHO, "new", 3);
    s_expect_reply(&env, 2, "new");
    s_stop_child(&env);
    s_env_fini(&env);
}

Test(process, a_silent_kernel_gets_ready_on_a_new_socket)
{
    s_env_t env;
    s_env_init(&env, 100);
    env.k.answer_heartbeats = false; /* hung: never a word */
    s_env_start(&env);
    s_expect_ready(&env, S_DEADLINE_MS);
    uint8_t first[LT_TEST_RID_MAX];
    size_t first_len = env.m.rid_len;
    memcpy(first, env.m.rid, first_len);
    s_expect_ready(&env, S_DEADLINE_MS);
    uint64_t waited = lt_test_mono_ms() - env.spawned;
    cr_assert(env.m.rid_len != first_len || memcmp(env.m.rid, first, first_len) != 0);
    /* the liveness window: LT_FRAME_LIVENESS intervals of 100 ms */
    cr_assert_geq(waited, 100 * LT_FRAME_LIVENESS - 2, "READY again %llu ms after the start",
                  (unsigned long long)waited);
    s_stop_child(&env);
    s_env_fini(&env);
}

Test(process, a_failed_start_exits_100_without_registering)
{
    s_env_t env;
    s_env_init(&env, 0);
    env.run.cfg.fail_start = true;
    s_env_start(&env);
    cr_assert_eq(lt_test_child_wait(&env.child, S_DEADLINE_MS), LT_PROCESS_EXIT_CONFIG);
    cr_assert_not(lt_test_kernel_recv(&env.k, 0, &env.m), "a failed service said something");
    s_env_fini(&env);
}

Test(process, an_orphan_stops_by_itself)
{
    s_env_t env;
    s_env_init(&env, 50);
    env.run.opts.orphan_ms = 300;
    uint64_t t0 = lt_test_mono_ms();
    lt_test_child_spawn(&env.child, s_child, &env.run); /* no kernel, ever */
    cr_assert_eq(lt_test_child_wait(&env.child, S_DEADLINE_MS), LT_PROCESS_EXIT_OK);
    cr_assert_geq(lt_test_mono_ms() - t0, 300 - 2);
    s_env_fini(&env);
}

Test(process, unusable_options_are_a_config_error)
{
    s_echo_cfg_t cfg = {0};
    char home[200];
    memset(home, 'h', sizeof home - 1);
    home[0] = '/';
    home[sizeof home - 1] = '\0';
    lt_process_opts_t opts = {.home = home, .log = &s_quiet};
    cr_assert_eq(lt_process_run(&s_echo_actor, &cfg, &opts), LT_PROCESS_EXIT_CONFIG);
    opts.home = NULL;
    cr_assert_eq(lt_process_run(&s_echo_actor, &cfg, &opts), LT_PROCESS_EXIT_CONFIG);
    lt_actor_ops_t kernel = s_echo_actor;
    kernel.name = "kernel";
    opts.endpoint = "ipc:///nonexistent/kernel.sock";
    cr_assert_eq(lt_process_run(&kernel, &cfg, &opts), LT_PROCESS_EXIT_CONFIG);
}

Test(process, socket_path_and_default_home)
{
    char out[256];
    cr_assert_eq(lt_process_socket_path("/a/b", out, sizeof out), LT_OK);
    cr_assert_str_eq(out, "/a/b/kernel.sock");
    cr_assert_eq(lt_process_socket_path("/a/b", out, 8), LT_EINVAL);
    char home[120];
    memset(home, 'h', sizeof home - 1);
    home[sizeof home - 1] = '\0';
    cr_assert_eq(lt_process_socket_path(home, out, sizeof out), LT_EINVAL, "over AF_UNIX's limit");

    setenv("LATTICE_HOME", "/l", 1);
    setenv("XDG_DATA_HOME", "/x", 1);
    setenv("HOME", "/h", 1);
    cr_assert_eq(lt_home_default(out, sizeof out), LT_OK);
    cr_assert_str_eq(out, "/l");
    setenv("LATTICE_HOME", "", 1);
    cr_assert_eq(lt_home_default(out, sizeof out), LT_OK);
    cr_assert_str_eq(out, "/x/lattice");
    unsetenv("XDG_DATA_HOME");
    cr_assert_eq(lt_home_default(out, sizeof out), LT_OK);
    cr_assert_str_eq(out, "/h/.local/share/lattice");
    cr_assert_eq(lt_home_default(out, 4), LT_EINVAL);
    unsetenv("HOME");
    cr_assert_eq(lt_home_default(out, sizeof out), LT_EINVAL);
}

Test(process, the_log_appends_one_line_per_event, .init = cr_redirect_stderr)
{
    char *dir = lt_test_tmpdir("process-log");
    lt_process_log_t lg;
    lt_process_log_open(&lg, dir, LT_LOG_INFO);
    cr_assert_geq(lg.fd, 0);
    lt_log_info(&lg.logger, "store", "store up: %d stores", 2);
    lt_log_debug(&lg.logger, "store", "not at info");
    lt_process_log_close(&lg);
    lt_process_log_open(&lg, dir, LT_LOG_INFO); /* appends */
    lt_log_warn(&lg.logger, "sync", "second");
    lt_process_log_close(&lg);
    lt_process_log_close(&lg);

    char path[4096];
    snprintf(path, sizeof path, "%s/latticed.log", dir);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    char line[2][512];
    cr_assert_not_null(fgets(line[0], sizeof line[0], f));
    cr_assert_not_null(fgets(line[1], sizeof line[1], f));
    char extra[8];
    cr_assert_null(fgets(extra, sizeof extra, f));
    fclose(f);
    /* 2026-11-24T07:00:00.123Z store[1234] info: store up: 2 stores */
    int y, mo, d, h, mi, s, ms;
    unsigned pid;
    char rest[256];
    cr_assert_eq(sscanf(line[0], "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ store[%u] %255[^\n]", &y, &mo, &d,
                        &h, &mi, &s, &ms, &pid, rest),
                 9, "line: %s", line[0]);
    cr_assert_eq(pid, (unsigned)getpid());
    cr_assert_str_eq(rest, "info: store up: 2 stores");
    cr_assert_eq(line[0][23], 'Z');
    cr_assert(strstr(line[1], " sync[") && strstr(line[1], "] warn: second\n"), "%s", line[1]);
    lt_test_rmtree(&dir);
}
