/* The process runtime (process.h): one actor, one DEALER to the kernel, one
 * zmq_poll loop. The loop waits for the earliest of: a message from the
 * kernel, the next timer, the next heartbeat to send, the end of the
 * kernel's liveness window, the orphan deadline. Frames go through the
 * portable codec (frame.h); this file only maps them onto ZeroMQ parts and
 * owns the clocks, the signals and the log.
 *
 * The mutable globals are the stop flag the signal handlers set and the
 * write end of a self-pipe they wake the loop with: a handler cannot reach
 * anything else. A signal that lands between the flag check and zmq_poll
 * would not interrupt the poll; its byte in the pipe does, so a stop is
 * seen at once, not one heartbeat later. */
#include "ipc/process.h"
#include "ipc/frame.h"

#include <sodium.h>
#include <zmq.h>

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define S_ENDPOINT_MAX 4096
#define S_LINGER_MS    100 /* on the way out: DISCONNECT and the last replies */
#define S_SUN_PATH     sizeof(((struct sockaddr_un *)0)->sun_path)

/* Set by the SIGTERM/SIGINT handler; read by the loop. */
static volatile sig_atomic_t s_stop_signal;
/* The self-pipe: the handler writes a byte, the loop polls the read end. */
static int s_wake_fd[2] = {-1, -1};

typedef struct {
    bool used;
    uint64_t token;
    uint64_t deadline; /* on the runtime clock */
    uint64_t seq;      /* when it was set: breaks deadline ties */
} s_timer_t;

/* A message the actor sent from start(), held until READY is out. */
typedef struct {
    char to[LT_ADDR_MAX];
    lt_msg_t msg; /* msg.body points at body */
    uint8_t *body;
} s_early_t;

typedef struct {
    const lt_actor_ops_t *ops;
    const lt_process_opts_t *opts;
    void *self;
    lt_ctx_t ctx;
    const lt_logger_t *log;
    const char *tag; /* the actor's name */
    char endpoint[S_ENDPOINT_MAX];
    uint32_t pid;
    void *zctx;
    void *sock; /* NULL after a replacement socket could not be made */
    bool ready_sent;
    uint64_t next_corr;
    /* monotonic milliseconds */
    uint64_t hb_ms;
    uint64_t liveness_ms;
    uint64_t orphan_ms;  /* UINT64_MAX: never */
    uint64_t last_sent;  /* anything sent (or a heartbeat attempted) */
    uint64_t last_heard; /* start of the current liveness window */
    uint64_t last_alive; /* last message from a kernel (or the start) */
    uint64_t last_ready; /* READY sent on the current socket */
    bool registered;     /* the kernel took our READY: it spoke on this socket */
    unsigned refusals;   /* DISCONNECTs in a row that answered our READY */
    bool reregister;     /* a DISCONNECT asked for READY; due at last_ready + hb_ms */
    s_timer_t timers[LT_PROCESS_MAX_TIMERS];
    size_t ntimers;
    uint64_t tseq;
    s_early_t early[LT_PROCESS_MAX_EARLY];
    size_t nearly;
} s_proc_t;

/* ---- clocks ---------------------------------------------------------------- */

static uint64_t s_clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t s_mono(void)
{
    return s_clock_ms(CLOCK_MONOTONIC);
}

static uint64_t s_sat_add(uint64_t a, uint64_t b)
{
    return b > UINT64_MAX - a ? UINT64_MAX : a + b;
}

/* The actor's clock: injected, or the wall clock. */
static uint64_t s_rt_now(const s_proc_t *p)
{
    if (p->opts->now)
        return p->opts->now(p->opts->now_ctx);
    return s_clock_ms(CLOCK_REALTIME);
}

/* ---- the log --------------------------------------------------------------- */

static void s_log_sink(void *ctx, lt_log_level_t level, const char *tag, const char *line)
{
    const lt_process_log_t *lg = ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char buf[768];
    int n = snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%u] %s: %s\n",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, tag ? tag : "?", (unsigned)lg->pid,
                     lt_log_level_name(level), line);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof buf) { /* cut, but keep the line a line */
        n = (int)sizeof buf - 1;
        buf[n - 1] = '\n';
    }
    /* One write() per line and per destination: O_APPEND makes each line
     * land whole even with the kernel and other services appending too. */
    ssize_t w = write(STDERR_FILENO, buf, (size_t)n);
    if (lg->fd >= 0)
        w = write(lg->fd, buf, (size_t)n);
    (void)w; /* nowhere left to report a failing log */
}

void lt_process_log_open(lt_process_log_t *lg, const char *home, lt_log_level_t max_level)
{
    lg->fd = -1;
    lg->pid = (uint32_t)getpid();
    lg->logger = (lt_logger_t){.sink = s_log_sink, .ctx = lg, .max_level = max_level};
    if (!home)
        return;
    char path[S_ENDPOINT_MAX];
    if (snprintf(path, sizeof path, "%s/latticed.log", home) >= (int)sizeof path)
        return;
    lg->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
}

void lt_process_log_close(lt_process_log_t *lg)
{
    if (lg->fd >= 0)
        close(lg->fd);
    lg->fd = -1;
}

/* ---- paths ----------------------------------------------------------------- */

lt_err_t lt_process_socket_path(const char *home, char *out, size_t cap)
{
    if (!home || !*home || !out)
        return LT_EINVAL;
    int n = snprintf(out, cap, "%s/kernel.sock", home);
    if (n < 0 || (size_t)n >= cap || (size_t)n >= S_SUN_PATH) {
        if (cap)
            out[0] = '\0';
        return LT_EINVAL;
    }
    return LT_OK;
}

/* ---- signals --------------------------------------------------------------- */

static void s_on_signal(int sig)
{
    s_stop_signal = sig;
    int saved = errno;
    if (s_wake_fd[1] >= 0 && write(s_wake_fd[1], "", 1) < 0) {
        /* Full or closed: the flag alone still stops the loop. */
    }
    errno = saved;
}

typedef struct {
    struct sigaction term, intr, pipe;
} s_sigsave_t;

static void s_signals_install(s_sigsave_t *old)
{
    if (s_wake_fd[0] < 0 && pipe(s_wake_fd) == 0) {
        for (int i = 0; i < 2; i++) {
            fcntl(s_wake_fd[i], F_SETFL, fcntl(s_wake_fd[i], F_GETFL) | O_NONBLOCK);
            fcntl(s_wake_fd[i], F_SETFD, FD_CLOEXEC);
        }
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: the signal must interrupt zmq_poll. */
    sa.sa_handler = s_on_signal;
    sigaction(SIGTERM, &sa, &old->term);
    sigaction(SIGINT, &sa, &old->intr);
    /* A peer gone mid-write is an error code, not a death. */
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, &old->pipe);
}

static void s_signals_restore(const s_sigsave_t *old)
{
    sigaction(SIGTERM, &old->term, NULL);
    sigaction(SIGINT, &old->intr, NULL);
    sigaction(SIGPIPE, &old->pipe, NULL);
}

/* ---- the socket ------------------------------------------------------------ */

/* Sends one encoded frame without blocking. A full queue (the high-water
 * mark, the kernel not draining) is LT_EFULL. */
static lt_err_t s_send_frame(s_proc_t *p, const lt_frame_t *f)
{
    if (!p->sock)
        return LT_EFULL;
    lt_frame_part_t parts[LT_FRAME_MAX_PARTS];
    size_t n;
    lt_frame_scratch_t scratch;
    lt_errbuf_t eb = {""};
    lt_err_t rc = lt_frame_encode(f, parts, &n, &scratch, &eb);
    if (rc) {
        lt_log_debug(p->log, p->tag, "not sent: %s", eb.msg);
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        int flags = ZMQ_DONTWAIT | (i + 1 < n ? ZMQ_SNDMORE : 0);
        const void *data = parts[i].len ? (const void *)parts[i].p : "";
        if (zmq_send(p->sock, data, parts[i].len, flags) < 0) {
            if (i == 0 && errno == EAGAIN)
                return LT_EFULL;
            /* libzmq takes the rest of a message once it took its first
             * part, so this is a socket failure, not backpressure. */
            lt_log_error(p->log, p->tag, "sending to the kernel failed: %s", zmq_strerror(errno));
            return LT_EIO;
        }
    }
    p->last_sent = s_mono();
    return LT_OK;
}

static lt_err_t s_send_cmd(s_proc_t *p, lt_frame_cmd_t cmd)
{
    lt_frame_t f = {.cmd = cmd};
    return s_send_frame(p, &f);
}

static lt_err_t s_send_ready(s_proc_t *p)
{
    lt_frame_t f = {.cmd = LT_FRAME_READY, .proto = p->opts->proto, .pid = p->pid};
    snprintf(f.name, sizeof f.name, "%s", p->tag);
    lt_err_t rc = s_send_frame(p, &f);
    p->last_ready = s_mono();
    p->reregister = false;
    return rc;
}

static void s_socket_close(s_proc_t *p, int linger)
{
    if (!p->sock)
        return;
    zmq_setsockopt(p->sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(p->sock);
    p->sock = NULL;
}

/* A new DEALER connected to the kernel endpoint (not yet registered). */
static lt_err_t s_socket_open(s_proc_t *p)
{
    void *s = zmq_socket(p->zctx, ZMQ_DEALER);
    if (!s) {
        lt_log_error(p->log, p->tag, "cannot create a socket: %s", zmq_strerror(errno));
        return LT_EIO;
    }
    int64_t maxmsg = LT_FRAME_MAX_PART;
    int hwm = LT_PROCESS_HWM, reconnect = LT_PROCESS_RECONNECT_MS, linger = 0;
    int hb_ivl = p->hb_ms > INT_MAX ? INT_MAX : (int)p->hb_ms;
    int hb_timeout = p->liveness_ms > INT_MAX ? INT_MAX : (int)p->liveness_ms;
    const char *what = "an option";
    int rc = zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    rc = rc ? rc : zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    rc = rc ? rc : zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
    rc = rc ? rc : zmq_setsockopt(s, ZMQ_RECONNECT_IVL, &reconnect, sizeof reconnect);
    rc = rc ? rc : zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    /* ZMTP pings notice a vanished peer on transports that do not; they
     * say nothing about a hung service (libzmq's I/O thread answers them),
     * which is what the LTK heartbeats are for. */
    rc = rc ? rc : zmq_setsockopt(s, ZMQ_HEARTBEAT_IVL, &hb_ivl, sizeof hb_ivl);
    rc = rc ? rc : zmq_setsockopt(s, ZMQ_HEARTBEAT_TIMEOUT, &hb_timeout, sizeof hb_timeout);
    if (rc == 0) {
        what = "connect";
        rc = zmq_connect(s, p->endpoint);
    }
    if (rc) {
        lt_log_error(p->log, p->tag, "socket to %s: %s failed: %s", p->endpoint, what,
                     zmq_strerror(errno));
        zmq_close(s);
        return LT_EIO;
    }
    p->sock = s;
    return LT_OK;
}

/* Drops the socket and registers on a new one: the kernel restarted, hung,
 * or told us it does not know us. */
static void s_replace_socket(s_proc_t *p)
{
    p->reregister = false; /* a failure here is retried by the liveness check */
    p->registered = false;
    s_socket_close(p, 0);
    uint64_t now = s_mono();
    p->last_heard = now; /* a fresh liveness window for the new socket */
    p->last_sent = now;
    if (s_socket_open(p) != LT_OK)
        return; /* tried again when this window runs out */
    if (s_send_ready(p) != LT_OK)
        lt_log_warn(p->log, p->tag, "READY could not be queued on the new socket");
}

/* Any message from the kernel is a sign of life. */
static void s_heard(s_proc_t *p)
{
    uint64_t now = s_mono();
    p->last_heard = now;
    p->last_alive = now;
}

/* Anything but DISCONNECT after READY means the kernel took it (it sends a
 * HEARTBEAT at once to a service that registers). */
static void s_registered(s_proc_t *p)
{
    if (p->registered)
        return;
    p->registered = true;
    p->refusals = 0;
    lt_log_info(p->log, p->tag, "registered with the kernel at %s", p->endpoint);
}

/* ---- the context the actor sees --------------------------------------------- */

static lt_err_t s_early_add(s_proc_t *p, const char *to, const lt_msg_t *msg)
{
    if (p->nearly == LT_PROCESS_MAX_EARLY)
        return LT_EFULL;
    s_early_t *e = &p->early[p->nearly];
    e->body = NULL;
    if (msg->len) {
        e->body = malloc(msg->len);
        if (!e->body)
            return LT_ENOMEM;
        memcpy(e->body, msg->body, msg->len);
    }
    snprintf(e->to, sizeof e->to, "%s", to);
    e->msg = *msg;
    e->msg.body = e->body;
    p->nearly++;
    return LT_OK;
}

static void s_early_free(s_proc_t *p)
{
    for (size_t i = 0; i < p->nearly; i++)
        free(p->early[i].body);
    p->nearly = 0;
}

static lt_err_t s_ctx_send(void *rt, const char *to, const lt_msg_t *msg)
{
    s_proc_t *p = rt;
    assert(to && msg);
    lt_frame_t f;
    lt_err_t rc = lt_frame_from_msg(&f, to, msg);
    if (rc)
        return rc;
    if (!p->ready_sent)
        return s_early_add(p, to, msg);
    return s_send_frame(p, &f);
}

static lt_err_t s_ctx_timer_set(void *rt, uint64_t after_ms, uint64_t token)
{
    s_proc_t *p = rt;
    if (!p->ops->timer)
        return LT_EINVAL;
    s_timer_t *slot = NULL;
    for (size_t i = 0; i < LT_PROCESS_MAX_TIMERS; i++) {
        s_timer_t *t = &p->timers[i];
        if (t->used && t->token == token) {
            slot = t; /* replaced: it now fires at the new deadline */
            break;
        }
        if (!t->used && !slot)
            slot = t;
    }
    if (!slot) {
        lt_log_warn(p->log, p->tag, "timer table full (%d): refusing a timer",
                    LT_PROCESS_MAX_TIMERS);
        return LT_EFULL;
    }
    if (!slot->used) {
        slot->used = true;
        p->ntimers++;
    }
    slot->token = token;
    slot->deadline = s_sat_add(s_rt_now(p), after_ms);
    slot->seq = p->tseq++;
    return LT_OK;
}

static void s_ctx_timer_cancel(void *rt, uint64_t token)
{
    s_proc_t *p = rt;
    for (size_t i = 0; i < LT_PROCESS_MAX_TIMERS; i++) {
        s_timer_t *t = &p->timers[i];
        if (t->used && t->token == token) {
            t->used = false;
            p->ntimers--;
            return;
        }
    }
}

static uint64_t s_ctx_now(void *rt)
{
    return s_rt_now(rt);
}

static void s_ctx_random(void *rt, void *buf, size_t n)
{
    const s_proc_t *p = rt;
    if (p->opts->random)
        p->opts->random(p->opts->random_ctx, buf, n);
    else
        randombytes_buf(buf, n);
}

static uint64_t s_ctx_next_corr(void *rt)
{
    s_proc_t *p = rt;
    return p->next_corr++;
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

/* ---- the loop -------------------------------------------------------------- */

typedef enum {
    S_RECV_NONE,      /* nothing waiting */
    S_RECV_DELIVERED, /* a message went to receive() */
    S_RECV_OTHER,     /* a heartbeat, or something dropped */
    S_RECV_REPLACED,  /* the socket was replaced: stop draining it */
} s_recv_t;

static void s_dispatch(s_proc_t *p, const lt_frame_part_t *parts, size_t n, s_recv_t *out)
{
    lt_frame_t f;
    lt_frame_reject_t why = LT_FRAME_ACCEPTED;
    lt_errbuf_t eb = {""};
    if (lt_frame_decode(parts, n, &f, &why, &eb) != LT_OK) {
        lt_log_warn(p->log, p->tag, "dropped a malformed message from the kernel (%s): %s",
                    lt_frame_reject_name(why), eb.msg);
        return;
    }
    if (f.cmd != LT_FRAME_DISCONNECT)
        s_registered(p);
    switch (f.cmd) {
    case LT_FRAME_REQUEST:
    case LT_FRAME_REPLY:
    case LT_FRAME_EVENT: {
        lt_msg_t m;
        if (lt_frame_to_msg(&f, &m) != LT_OK)
            return;
        p->ops->receive(p->self, &p->ctx, &m);
        *out = S_RECV_DELIVERED;
        return;
    }
    case LT_FRAME_HEARTBEAT:
        return;
    case LT_FRAME_DISCONNECT:
        /* "Not registered here": a restarted kernel, a takeover, a kernel
         * stopping, or our READY refused. READY again, but not more than
         * once an interval, so that a refused service does not spin and two
         * holders of one name cannot take it from each other at full
         * speed. One line per change of state: a refusal that repeats is
         * worth one warning, not one line a second. */
        if (p->registered)
            lt_log_info(p->log, p->tag, "the kernel asked for READY again (DISCONNECT)");
        else if (++p->refusals == 2)
            lt_log_warn(p->log, p->tag,
                        "the kernel at %s answers READY with DISCONNECT (does it run '%s'?): "
                        "trying again every %llu ms",
                        p->endpoint, p->tag, (unsigned long long)p->hb_ms);
        p->reregister = true;
        if (s_mono() >= s_sat_add(p->last_ready, p->hb_ms)) {
            s_replace_socket(p);
            *out = S_RECV_REPLACED;
        }
        return;
    case LT_FRAME_READY:
        break;
    }
    lt_log_debug(p->log, p->tag, "ignored a READY from the kernel");
}

/* Receives and handles one message, if one is waiting. */
static s_recv_t s_recv_one(s_proc_t *p)
{
    /* One part more than any command has, so the decoder sees an extra
     * part; beyond that they are only counted and dropped. */
    zmq_msg_t msgs[LT_FRAME_MAX_PARTS + 1];
    lt_frame_part_t parts[LT_FRAME_MAX_PARTS + 1];
    size_t n = 0;
    bool more = true, any = false;
    while (more) {
        zmq_msg_t spill, *m = n < LT_FRAME_MAX_PARTS + 1 ? &msgs[n] : &spill;
        zmq_msg_init(m);
        if (zmq_msg_recv(m, p->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(m);
            break; /* EAGAIN before a message; a message's parts come together */
        }
        any = true;
        more = zmq_msg_more(m);
        if (m == &spill) {
            zmq_msg_close(m);
            continue;
        }
        parts[n].p = zmq_msg_data(m);
        parts[n].len = zmq_msg_size(m);
        n++;
    }
    if (!any)
        return S_RECV_NONE;
    s_heard(p);
    s_recv_t r = S_RECV_OTHER;
    s_dispatch(p, parts, n, &r);
    for (size_t i = 0; i < n; i++)
        zmq_msg_close(&msgs[i]);
    return r;
}

/* Delivers what is waiting, up to a burst, then idle(). */
static void s_drain(s_proc_t *p)
{
    unsigned delivered = 0;
    for (unsigned i = 0; i < LT_PROCESS_BURST && p->sock && !s_stop_signal; i++) {
        s_recv_t r = s_recv_one(p);
        if (r == S_RECV_NONE || r == S_RECV_REPLACED)
            break;
        delivered += r == S_RECV_DELIVERED;
    }
    if (delivered && p->ops->idle)
        p->ops->idle(p->self, &p->ctx);
}

static s_timer_t *s_next_timer(s_proc_t *p, uint64_t before_seq)
{
    s_timer_t *best = NULL;
    for (size_t i = 0; i < LT_PROCESS_MAX_TIMERS; i++) {
        s_timer_t *t = &p->timers[i];
        if (!t->used || t->seq >= before_seq)
            continue;
        if (!best || t->deadline < best->deadline ||
            (t->deadline == best->deadline && t->seq < best->seq))
            best = t;
    }
    return best;
}

/* Fires due timers in deadline order; one set by a handler here waits for
 * the next turn of the loop, so re-arming with 0 cannot starve the socket. */
static void s_fire_timers(s_proc_t *p)
{
    if (!p->ntimers)
        return;
    uint64_t now = s_rt_now(p), horizon = p->tseq;
    s_timer_t *t;
    while (!s_stop_signal && (t = s_next_timer(p, horizon)) && t->deadline <= now) {
        uint64_t token = t->token;
        t->used = false; /* first: the handler may set the same token again */
        p->ntimers--;
        p->ops->timer(p->self, &p->ctx, token);
    }
}

/* Milliseconds zmq_poll may wait. */
static long s_poll_timeout(s_proc_t *p)
{
    uint64_t due = s_sat_add(p->last_sent, p->hb_ms);
    uint64_t live = s_sat_add(p->last_heard, p->liveness_ms);
    uint64_t orphan = s_sat_add(p->last_alive, p->orphan_ms);
    due = live < due ? live : due;
    due = orphan < due ? orphan : due;
    if (p->reregister) {
        uint64_t rr = s_sat_add(p->last_ready, p->hb_ms);
        due = rr < due ? rr : due;
    }
    uint64_t mono = s_mono();
    uint64_t wait = due > mono ? due - mono : 0;
    if (p->ntimers) {
        const s_timer_t *t = s_next_timer(p, UINT64_MAX);
        uint64_t now = s_rt_now(p);
        uint64_t tw = t->deadline > now ? t->deadline - now : 0;
        wait = tw < wait ? tw : wait;
    }
    return (long)wait; /* at most one heartbeat interval */
}

/* The runtime's own deadlines after a wake-up. Returns false when the
 * service is orphaned and should stop. */
static bool s_housekeeping(s_proc_t *p)
{
    uint64_t now = s_mono();
    if (now - p->last_alive >= p->orphan_ms && p->orphan_ms != UINT64_MAX) {
        lt_log_info(p->log, p->tag, "no kernel for %llu ms: stopping",
                    (unsigned long long)(now - p->last_alive));
        return false;
    }
    if (now - p->last_heard >= p->liveness_ms) {
        /* One line when a kernel we knew goes quiet; retries are quiet. */
        if (p->registered)
            lt_log_info(p->log, p->tag, "no word from the kernel for %llu ms: reconnecting",
                        (unsigned long long)(now - p->last_heard));
        else
            lt_log_debug(p->log, p->tag, "still no kernel at %s: reconnecting", p->endpoint);
        s_replace_socket(p);
    } else if (p->reregister && now >= s_sat_add(p->last_ready, p->hb_ms)) {
        s_replace_socket(p);
    }
    if (p->sock && now - p->last_sent >= p->hb_ms) {
        /* Attempted counts as sent: with the queue full the next try is one
         * interval away, not a busy loop. */
        if (s_send_cmd(p, LT_FRAME_HEARTBEAT) != LT_OK)
            lt_log_debug(p->log, p->tag, "heartbeat not queued");
        p->last_sent = now;
    }
    return true;
}

static void s_loop(s_proc_t *p)
{
    while (!s_stop_signal) {
        /* The socket (when there is one) and the self-pipe. */
        zmq_pollitem_t items[2] = {{.socket = p->sock, .events = ZMQ_POLLIN},
                                   {.fd = s_wake_fd[0], .events = ZMQ_POLLIN}};
        zmq_pollitem_t *first = p->sock ? &items[0] : &items[1];
        int n = (p->sock ? 1 : 0) + (s_wake_fd[0] >= 0 ? 1 : 0);
        int rc = zmq_poll(first, n, s_poll_timeout(p));
        if (rc < 0 && errno != EINTR) {
            /* Only our own misuse makes zmq_poll fail on our own socket. */
            lt_log_error(p->log, p->tag, "zmq_poll: %s", zmq_strerror(errno));
            abort();
        }
        if (rc > 0 && p->sock && (items[0].revents & ZMQ_POLLIN))
            s_drain(p);
        if (s_stop_signal)
            break;
        s_fire_timers(p);
        if (!s_housekeeping(p))
            break;
    }
}

/* ---- setup ------------------------------------------------------------------ */

static bool s_name_valid(const char *name)
{
    return name && lt_addr_valid(name) && !strchr(name, '@') &&
           strcmp(name, LT_FRAME_KERNEL_ADDR) != 0;
}

/* Fills the fixed parts of p from the options; false with one log line when
 * they are unusable. */
static bool s_configure(s_proc_t *p, const lt_actor_ops_t *ops, const lt_process_opts_t *opts)
{
    if (!ops || ops->abi != LT_ACTOR_ABI || !ops->start || !ops->receive ||
        !s_name_valid(ops->name)) {
        lt_log_error(p->log, p->tag, "not a runnable actor (abi, hooks or name)");
        return false;
    }
    if (opts->endpoint) {
        if (snprintf(p->endpoint, sizeof p->endpoint, "%s", opts->endpoint) >=
            (int)sizeof p->endpoint) {
            lt_log_error(p->log, p->tag, "endpoint too long");
            return false;
        }
    } else {
        char path[S_SUN_PATH];
        if (lt_process_socket_path(opts->home, path, sizeof path) != LT_OK) {
            lt_log_error(p->log, p->tag,
                         "no usable kernel socket path in home %s (at most %zu bytes)",
                         opts->home ? opts->home : "(none)", sizeof path - 1);
            return false;
        }
        snprintf(p->endpoint, sizeof p->endpoint, "ipc://%s", path);
    }
    p->hb_ms = opts->heartbeat_ms ? opts->heartbeat_ms : LT_FRAME_HEARTBEAT_MS;
    p->liveness_ms = p->hb_ms * LT_FRAME_LIVENESS;
    p->orphan_ms = opts->orphan_ms ? opts->orphan_ms : LT_PROCESS_DEFAULT_ORPHAN_MS;
    if (p->orphan_ms < p->liveness_ms)
        p->orphan_ms = p->liveness_ms;
    p->pid = (uint32_t)getpid();
    /* Correlation ids must not repeat across restarts of the service (the
     * kernel may still hold replies to the previous run): start from the
     * wall clock in microseconds, which a run cannot outpace. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    p->next_corr = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
    return true;
}

/* Connects, registers, and sends what start() sent. */
static bool s_go_online(s_proc_t *p)
{
    p->zctx = zmq_ctx_new();
    if (!p->zctx) {
        lt_log_error(p->log, p->tag, "cannot create a ZeroMQ context: %s", zmq_strerror(errno));
        return false;
    }
    if (s_socket_open(p) != LT_OK)
        return false;
    uint64_t now = s_mono();
    p->last_heard = p->last_alive = p->last_sent = now;
    if (s_send_ready(p) != LT_OK)
        return false;
    p->ready_sent = true;
    for (size_t i = 0; i < p->nearly; i++) {
        lt_frame_t f;
        lt_err_t rc = lt_frame_from_msg(&f, p->early[i].to, &p->early[i].msg);
        rc = rc ? rc : s_send_frame(p, &f);
        if (rc)
            lt_log_warn(p->log, p->tag, "a message sent during start to %s was lost: %s",
                        p->early[i].to, lt_errname(rc));
    }
    s_early_free(p);
    lt_log_info(p->log, p->tag, "READY for the kernel at %s (pid %u, protocol %u)", p->endpoint,
                (unsigned)p->pid, (unsigned)p->opts->proto);
    return true;
}

int lt_process_run(const lt_actor_ops_t *ops, const void *cfg, const lt_process_opts_t *opts)
{
    static const lt_process_opts_t no_opts;
    if (!opts)
        opts = &no_opts;
    lt_process_log_t own_log;
    const lt_logger_t *log = opts->log;
    if (!log) {
        lt_process_log_open(&own_log, opts->home, LT_LOG_INFO);
        log = &own_log.logger;
    }
    s_sigsave_t saved;
    s_proc_t *p = calloc(1, sizeof *p);
    int code = LT_PROCESS_EXIT_CONFIG;
    if (!p) {
        lt_log_error(log, ops && ops->name ? ops->name : "process", "out of memory");
        goto out_log;
    }
    p->ops = ops;
    p->opts = opts;
    p->log = log;
    p->tag = ops && ops->name ? ops->name : "process";
    if (!s_configure(p, ops, opts))
        goto out_free;
    if (sodium_init() < 0) {
        lt_log_error(p->log, p->tag, "libsodium failed to initialize");
        goto out_free;
    }

    s_stop_signal = 0;
    s_signals_install(&saved);
    p->ctx = (lt_ctx_t){.ops = &s_ctx_ops, .rt = p, .log = log, .name = ops->name};
    lt_err_t rc = ops->start(&p->ctx, cfg, &p->self);
    if (rc) {
        lt_log_error(p->log, p->tag, "start failed: %s", lt_strerror(rc));
        s_early_free(p);
        s_signals_restore(&saved);
        goto out_free;
    }

    code = LT_PROCESS_EXIT_OK;
    if (s_go_online(p))
        s_loop(p);
    else
        code = LT_PROCESS_EXIT_ERROR;
    if (s_stop_signal)
        lt_log_info(p->log, p->tag, "stopping on signal %d", (int)s_stop_signal);
    if (p->sock && p->ready_sent && s_send_cmd(p, LT_FRAME_DISCONNECT) != LT_OK)
        lt_log_debug(p->log, p->tag, "DISCONNECT not queued");
    if (ops->stop)
        ops->stop(p->self);
    s_early_free(p);
    s_socket_close(p, S_LINGER_MS);
    if (p->zctx)
        zmq_ctx_term(p->zctx);
    s_signals_restore(&saved);
    lt_log_info(p->log, p->tag, "stopped");

out_free:
    free(p);
out_log:
    if (log == &own_log.logger)
        lt_process_log_close(&own_log);
    return code;
}
