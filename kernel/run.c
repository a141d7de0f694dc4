/* The node's kernel (DESIGN.md §2, kernel/README.md), as latticed and
 * lattice-nano run it (kernel/run.h). This file is the lifecycle — the home
 * (lock, pid file, log), the node key, the socket, the services — and the
 * one poll loop that drives the router, the supervisor, the peer links and
 * the in-process services. Signals arrive through a signalfd: no work
 * happens in a signal handler. */
#include "kernel/run.h"

#include "kernel/control.h"
#include "kernel/home.h"
#include "kernel/inproc.h"
#include "kernel/router.h"
#include "kernel/supervisor.h"
#include "weaver/identity.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define S_TAG "kernel"
/* Messages routed per loop turn before signals and timers get a look. */
#define S_RECV_BUDGET 256
/* Messages the in-process services handle per loop turn (the tick budget):
 * then the sockets get their turn again. */
#define S_INPROC_BUDGET 256

uint64_t lt_kernel_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t lt_kernel_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

lt_ksvc_t *lt_kernel_service(lt_kernel_t *k, const char *name)
{
    for (size_t i = 0; i < k->nsvcs; i++)
        if (strcmp(k->svcs[i].name, name) == 0)
            return &k->svcs[i];
    return NULL;
}

/* A process started with a standard descriptor closed would hand it to
 * the first file it opens (the lock, the log), and a child's dup2 onto it
 * would then misbehave: keep 0, 1 and 2 open. */
static void s_standard_fds(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
            continue;
        int nul = open("/dev/null", O_RDWR);
        if (nul >= 0 && nul != fd) {
            dup2(nul, fd);
            close(nul);
        }
    }
}

/* Reads every pending signal. Returns false when the node must stop. */
static bool s_signals(lt_kernel_t *k, int sfd)
{
    bool run = true;
    for (;;) {
        struct signalfd_siginfo si;
        ssize_t n = read(sfd, &si, sizeof si);
        if (n != (ssize_t)sizeof si)
            break;
        if (si.ssi_signo == SIGCHLD) {
            lt_sup_reap(k);
        } else {
            lt_log_info(&k->log, S_TAG, "%s received", strsignal((int)si.ssi_signo));
            run = false;
        }
    }
    return run;
}

static int s_run(lt_kernel_t *k, int sfd)
{
    lt_sup_start(k);
    for (;;) {
        /* Input before timers: after a stall (the kernel stopped in a
         * debugger, a starved CPU) the heartbeats waiting in the socket
         * must be read before anyone is declared dead. */
        lt_router_recv(k, S_RECV_BUDGET);
        lt_links_recv(k, S_RECV_BUDGET);
        bool busy = lt_inproc_run(k, S_INPROC_BUDGET);
        uint64_t now = lt_kernel_mono_ms();
        lt_sup_tick(k, now);
        lt_router_tick(k, now);
        if (k->stopping && lt_sup_stopped(k))
            return 0;
        uint64_t next = lt_router_next_deadline(k, now);
        uint64_t beat = lt_links_tick(k, now);
        if (beat < next)
            next = beat;
        uint64_t sup = lt_sup_next_deadline(k, now);
        if (sup < next)
            next = sup;
        uint64_t hosted = lt_inproc_next_deadline(k, now);
        if (hosted < next)
            next = hosted;
        /* Asked last: the ticks above may have delivered to the hosted
         * services. */
        busy = busy || lt_inproc_pending(k);
        long timeout = busy || next <= now ? 0 : (long)(next - now);
        zmq_pollitem_t items[2 + 2 + 2 * LT_LINKS_MAX_OUT] = {
            {.socket = k->router, .events = ZMQ_POLLIN},
            {.fd = sfd, .events = ZMQ_POLLIN},
        };
        size_t nitems = 2 + lt_links_pollitems(k, items + 2, sizeof items / sizeof *items - 2);
        if (zmq_poll(items, (int)nitems, timeout) < 0 && errno != EINTR) {
            lt_log_error(&k->log, S_TAG, "poll failed: %s", zmq_strerror(errno));
            return 1;
        }
        if ((items[1].revents & ZMQ_POLLIN) && !s_signals(k, sfd))
            lt_sup_stop(k);
    }
}

int lt_kernel_main(const lt_kconfig_t *cfg, const lt_kernel_program_t *prog)
{
    const char *me = prog->name;
    /* Before any thread exists (libzmq starts its own): the signals the
     * loop reads from the signalfd must be blocked in every thread, or one
     * of them would take the default action. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    s_standard_fds();

    lt_errbuf_t eb = {{0}};
    char dir[LT_KCONFIG_PATH_MAX];
    static lt_home_t home;
    if (lt_home_resolve(cfg->home, dir, sizeof dir, &eb) != LT_OK ||
        lt_home_open(&home, dir, &eb) != LT_OK) {
        fprintf(stderr, "%s: %s\n", me, eb.msg);
        return 1;
    }
    /* The lock before anything that touches the home's shared files: a
     * second kernel must leave the socket, the pid file and the log of the
     * first one alone. */
    home.program = me;
    if (lt_home_lock(&home, &eb) != LT_OK) {
        fprintf(stderr, "%s: %s\n", me, eb.msg);
        return 1;
    }

    static lt_kernel_t k;
    k.cfg = cfg;
    k.home = &home;
    k.log = (lt_logger_t){.sink = lt_home_log_sink, .ctx = &home, .max_level = cfg->log_level};
    k.started_mono_ms = lt_kernel_mono_ms();
    k.on_stopping = prog->stopping;
    k.on_stopping_ctx = prog->ctx;
    int status = 1;
    int sfd = -1;
    lt_identity_t id; /* its secret lives until the links have their CURVE key */
    memset(&id, 0, sizeof id);

    if (lt_home_open_log(&home, &eb) != LT_OK)
        lt_log_warn(&k.log, S_TAG, "%s; logging to stderr only", eb.msg);
    if (lt_home_write_pid(&home, &eb) != LT_OK) {
        lt_log_error(&k.log, S_TAG, "%s", eb.msg);
        goto out;
    }
    lt_log_info(&k.log, S_TAG, "%s %s starting on %s (pid %d)", me, lt_control_version(), home.dir,
                (int)getpid());

    /* The node key exists before any service starts, so they all find
     * the same one. */
    char keypath[LT_KCONFIG_PATH_MAX + 16];
    snprintf(keypath, sizeof keypath, "%s/identity.key", home.dir);
    if (lt_crypto_init() != LT_OK) {
        lt_log_error(&k.log, S_TAG, "libsodium failed to initialize");
        goto out;
    }
    if (lt_identity_load_or_create(keypath, &id, &eb) != LT_OK) {
        lt_log_error(&k.log, S_TAG, "%s", eb.msg);
        goto out;
    }
    k.node_key = id.pk;

    sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sfd < 0) {
        lt_log_error(&k.log, S_TAG, "signalfd: %s", strerror(errno));
        goto out;
    }
    if (lt_sup_init(&k, &eb) != LT_OK) {
        lt_log_error(&k.log, S_TAG, "%s", eb.msg);
        goto out;
    }
    if (prog->setup && prog->setup(&k, &id, prog->ctx, &eb) != LT_OK) {
        lt_log_error(&k.log, S_TAG, "%s", eb.msg);
        goto out;
    }
    k.zctx = zmq_ctx_new();
    if (!k.zctx) {
        lt_log_error(&k.log, S_TAG, "cannot create a ZeroMQ context: %s", zmq_strerror(errno));
        goto out;
    }
    if (lt_router_open(&k, &eb) != LT_OK) {
        lt_log_error(&k.log, S_TAG, "%s", eb.msg);
        goto out;
    }
    lt_log_info(&k.log, S_TAG, "listening on %s", home.sock);
    lt_err_t lrc = lt_links_open(&k, &id, &eb);
    lt_identity_wipe(&id);
    if (lrc != LT_OK) {
        lt_log_error(&k.log, S_TAG, "%s", eb.msg);
        goto out;
    }
    /* The peers this node linked to before it stopped: the far side may
     * have no way to dial it. */
    lt_links_restore(&k);
    status = s_run(&k, sfd);
    if (status == 0)
        lt_log_info(&k.log, S_TAG, "stopped");

out:
    lt_identity_wipe(&id);
    lt_inproc_close(&k);
    lt_links_close(&k);
    lt_router_close(&k);
    if (k.zctx)
        zmq_ctx_term(k.zctx);
    lt_sup_fini(&k);
    if (sfd >= 0)
        close(sfd);
    lt_home_close(&home);
    return status;
}
