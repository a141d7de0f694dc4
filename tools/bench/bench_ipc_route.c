/* bench-ipc: the routing measurement (bench_ipc_route.h).
 *
 * Who runs where. latticed is a child process with its own ZeroMQ context,
 * so the two brokers compared here get the same treatment: the bare
 * forwarder runs in a thread with a context (and I/O thread) of its own, the
 * three echo services share a second context and the client a third. Every
 * path therefore crosses the same number of I/O threads and differs only in
 * what sits in the middle: nothing (direct), a loop that moves ZeroMQ
 * message parts and swaps one routing frame (bare), or the kernel (route),
 * which also validates the frame and rewrites its address.
 *
 * The echoes all run the same code: decode the request with lt_frame_decode,
 * encode the REPLY (same corr and type, status 0, empty body) with
 * lt_frame_encode. The one registered with the kernel speaks LTK/1 as a
 * service does (READY as "store", heartbeats, READY again on DISCONNECT);
 * the other two get the requester's routing id as a first frame (from their
 * own ROUTER, or from the forwarder) and put it back in front of the reply. */

/* sched_setaffinity and the CPU_* macros are GNU extensions. */
#define _GNU_SOURCE

#include "bench_ipc_route.h"
#include "bench_ipc_common.h"

#include "ipc/frame.h"
#include "kernel.pb.h"

#include <zmq.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define S_ECHO_TYPE   1    /* the echo does not read it; any type will do */
#define S_RCVTIMEO_MS 5000 /* a lost round trip is an error, not a hang */
#define S_ROUNDS      20   /* the paths take turns this many times */
/* A routing id, the frame's parts, and one more to notice a longer message. */
#define S_MAX_PARTS (1 + LT_FRAME_MAX_PARTS + 1)

/* The paths. The first four end at an echo of their own; ping ends at the
 * kernel and shares the route path's socket. */
enum { S_ROUTE, S_DIRECT, S_BARE, S_BARE_PROC, S_PING, S_NPATHS };
#define S_NECHOS S_PING
static const char *const s_path_name[S_NPATHS] = {"route", "direct", "bare", "bare-process",
                                                  "ping"};

/* The parts of one received message. */
typedef struct {
    zmq_msg_t m[S_MAX_PARTS];
    size_t n;
    bool overflow; /* more parts than S_MAX_PARTS: dropped */
} s_parts_t;

static void s_parts_close(s_parts_t *p)
{
    for (size_t i = 0; i < p->n; i++)
        zmq_msg_close(&p->m[i]);
    p->n = 0;
}

/* Receives one whole message; the first part with `flags` (ZMQ_DONTWAIT to
 * poll), the others are there already (ZeroMQ delivers messages whole).
 * -1 with errno on failure. */
static int s_recv_parts(void *sock, s_parts_t *p, int flags)
{
    p->n = 0;
    p->overflow = false;
    for (;;) {
        zmq_msg_t extra;
        zmq_msg_t *m = p->n < S_MAX_PARTS ? &p->m[p->n] : &extra;
        zmq_msg_init(m);
        if (zmq_msg_recv(m, sock, flags) < 0) {
            int e = errno;
            zmq_msg_close(m);
            s_parts_close(p);
            errno = e;
            return -1;
        }
        bool more = zmq_msg_more(m);
        if (m == &extra) {
            zmq_msg_close(&extra);
            p->overflow = true;
        } else {
            p->n++;
        }
        if (!more)
            return 0;
        flags = 0;
    }
}

/* Decodes parts[skip..n) as an LTK/1 frame. */
static lt_err_t s_decode(const s_parts_t *p, size_t skip, lt_frame_t *f, lt_errbuf_t *eb)
{
    lt_frame_part_t parts[S_MAX_PARTS];
    if (p->overflow || p->n < skip)
        return lt_fail(eb, LT_EINVAL, "a message of more than %d parts", S_MAX_PARTS);
    for (size_t i = skip; i < p->n; i++) {
        parts[i - skip].p = zmq_msg_data((zmq_msg_t *)&p->m[i]);
        parts[i - skip].len = zmq_msg_size((zmq_msg_t *)&p->m[i]);
    }
    return lt_frame_decode(parts, p->n - skip, f, NULL, eb);
}

/* Sends f, after the routing id `envelope` when it is not NULL. -1 with
 * errno (EINVAL when f does not encode). */
static int s_send_frame(void *sock, zmq_msg_t *envelope, const lt_frame_t *f)
{
    lt_frame_part_t parts[LT_FRAME_MAX_PARTS];
    lt_frame_scratch_t scratch;
    size_t n = 0;
    lt_errbuf_t eb = {{0}};
    if (lt_frame_encode(f, parts, &n, &scratch, &eb) != LT_OK) {
        lt_bench_note("cannot encode a frame: %s", eb.msg);
        errno = EINVAL;
        return -1;
    }
    if (envelope && zmq_send(sock, zmq_msg_data(envelope), zmq_msg_size(envelope), ZMQ_SNDMORE) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const void *data = parts[i].len ? (const void *)parts[i].p : "";
        if (zmq_send(sock, data, parts[i].len, i + 1 < n ? ZMQ_SNDMORE : 0) < 0)
            return -1;
    }
    return 0;
}

/* ---- the echo service ---- */

typedef struct {
    void *sock;
    bool kernel; /* registered with latticed: READY, heartbeats, no envelope */
    bool hello;  /* behind the forwarder: announce itself so it learns our id */
    pthread_t thread;
    bool started;
    char why[256]; /* set when the thread failed */
} s_echo_t;

static int s_echo_ready(s_echo_t *e)
{
    lt_frame_t f = {.cmd = LT_FRAME_READY, .proto = 1, .pid = (uint32_t)getpid()};
    snprintf(f.name, sizeof f.name, "store");
    return s_send_frame(e->sock, NULL, &f);
}

static int s_echo_heartbeat(s_echo_t *e)
{
    lt_frame_t f = {.cmd = LT_FRAME_HEARTBEAT};
    return s_send_frame(e->sock, NULL, &f);
}

/* Answers one message. -1 with errno when a send failed. */
static int s_echo_handle(s_echo_t *e, s_parts_t *p, double *last_sent)
{
    lt_frame_t f;
    lt_errbuf_t eb = {{0}};
    size_t skip = e->kernel ? 0 : 1;
    if (s_decode(p, skip, &f, &eb) != LT_OK)
        return 0; /* not for us: dropped, as the kernel would */
    int rc = 0;
    switch (f.cmd) {
    case LT_FRAME_REQUEST: {
        lt_frame_t r = {.cmd = LT_FRAME_REPLY, .corr = f.corr, .type = f.type};
        memcpy(r.addr, f.addr, sizeof r.addr);
        rc = s_send_frame(e->sock, skip ? &p->m[0] : NULL, &r);
        break;
    }
    case LT_FRAME_HEARTBEAT:
        if (e->kernel)
            rc = s_echo_heartbeat(e);
        break;
    case LT_FRAME_DISCONNECT:
        if (e->kernel)
            rc = s_echo_ready(e);
        break;
    default:
        return 0;
    }
    if (rc == 0)
        *last_sent = lt_bench_now();
    return rc;
}

static void *s_echo_main(void *arg)
{
    s_echo_t *e = arg;
    const double hb = LT_FRAME_HEARTBEAT_MS / 1000.0;
    double last_sent = lt_bench_now();
    if ((e->kernel || e->hello) && s_echo_ready(e) != 0) {
        snprintf(e->why, sizeof e->why, "echo: sending READY: %s", zmq_strerror(errno));
        goto out;
    }
    for (;;) {
        long timeout = -1;
        if (e->kernel) {
            double left = last_sent + hb - lt_bench_now();
            timeout = left > 0 ? (long)(left * 1000) + 1 : 0;
        }
        zmq_pollitem_t item = {e->sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, timeout) < 0) {
            if (errno == EINTR)
                continue;
            if (errno != ETERM)
                snprintf(e->why, sizeof e->why, "echo: poll: %s", zmq_strerror(errno));
            goto out;
        }
        /* Any message sent counts as a sign of life (kernel/README.md). */
        if (e->kernel && lt_bench_now() - last_sent >= hb) {
            if (s_echo_heartbeat(e) != 0 && errno != EAGAIN)
                break;
            last_sent = lt_bench_now();
        }
        s_parts_t p;
        while (s_recv_parts(e->sock, &p, ZMQ_DONTWAIT) == 0) {
            int rc = s_echo_handle(e, &p, &last_sent);
            s_parts_close(&p);
            if (rc != 0 && errno != EHOSTUNREACH && errno != EAGAIN)
                break;
        }
        if (errno == ETERM)
            goto out;
        if (errno != EAGAIN && errno != EHOSTUNREACH && errno != EINTR) {
            snprintf(e->why, sizeof e->why, "echo: %s", zmq_strerror(errno));
            goto out;
        }
    }
    if (errno != ETERM)
        snprintf(e->why, sizeof e->why, "echo: sending: %s", zmq_strerror(errno));
out:
    zmq_close(e->sock);
    e->sock = NULL;
    return NULL;
}

/* ---- the bare forwarder ---- */

/* A ROUTER for clients, a ROUTER for the one echo behind it. Client to echo:
 * the client's routing id stays as the first part and the echo's goes in
 * front of it; echo to client: the echo's id comes off. Nothing is decoded
 * and the parts are moved, not copied: the least a ZeroMQ broker can do. */
typedef struct {
    void *front, *back;
    pthread_t thread;
    bool started;
    char why[256];
} s_fwd_t;

/* Reads and drops the rest of the message whose part `m` was just read
 * from `from`; closes m. Keeps errno. */
static void s_drop_rest(void *from, zmq_msg_t *m)
{
    int e = errno;
    bool more = zmq_msg_more(m);
    zmq_msg_close(m);
    while (more) {
        zmq_msg_init(m);
        if (zmq_msg_recv(m, from, 0) < 0)
            more = false;
        else
            more = zmq_msg_more(m);
        zmq_msg_close(m);
    }
    errno = e;
}

/* Moves the message whose part `m` was just read from `from` to `to`, from
 * m on. -1 with errno (the rest of the message is dropped). */
static int s_forward_rest(void *from, void *to, zmq_msg_t *m)
{
    for (;;) {
        bool more = zmq_msg_more(m);
        if (zmq_msg_send(m, to, more ? ZMQ_SNDMORE : 0) < 0) {
            s_drop_rest(from, m);
            return -1;
        }
        if (!more)
            return 0;
        zmq_msg_init(m);
        if (zmq_msg_recv(m, from, 0) < 0) {
            zmq_msg_close(m);
            return -1;
        }
    }
}

static void *s_fwd_main(void *arg)
{
    s_fwd_t *w = arg;
    uint8_t echo_id[256];
    size_t echo_len = 0;
    s_parts_t hello;
    /* The echo's hello tells its routing id; clients wait until then. */
    if (s_recv_parts(w->back, &hello, 0) != 0) {
        if (errno != ETERM)
            snprintf(w->why, sizeof w->why, "forwarder: %s", zmq_strerror(errno));
        goto out;
    }
    echo_len = zmq_msg_size(&hello.m[0]);
    if (echo_len > sizeof echo_id)
        echo_len = sizeof echo_id;
    memcpy(echo_id, zmq_msg_data(&hello.m[0]), echo_len);
    s_parts_close(&hello);

    zmq_pollitem_t items[2] = {{w->front, 0, ZMQ_POLLIN, 0}, {w->back, 0, ZMQ_POLLIN, 0}};
    for (;;) {
        if (zmq_poll(items, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            if (errno != ETERM)
                snprintf(w->why, sizeof w->why, "forwarder: poll: %s", zmq_strerror(errno));
            goto out;
        }
        zmq_msg_t m;
        if (items[0].revents & ZMQ_POLLIN) {
            zmq_msg_init(&m);
            while (zmq_msg_recv(&m, w->front, ZMQ_DONTWAIT) >= 0) {
                int rc = zmq_send(w->back, echo_id, echo_len, ZMQ_SNDMORE);
                if (rc < 0)
                    s_drop_rest(w->front, &m);
                else
                    rc = s_forward_rest(w->front, w->back, &m);
                if (rc < 0 && errno == ETERM)
                    goto out;
                zmq_msg_init(&m);
            }
            int e = errno;
            zmq_msg_close(&m);
            if (e == ETERM)
                goto out;
        }
        if (items[1].revents & ZMQ_POLLIN) {
            zmq_msg_init(&m);
            while (zmq_msg_recv(&m, w->back, ZMQ_DONTWAIT) >= 0) {
                bool more = zmq_msg_more(&m);
                zmq_msg_close(&m); /* the echo's routing id */
                zmq_msg_init(&m);
                if (more && zmq_msg_recv(&m, w->back, 0) >= 0 &&
                    s_forward_rest(w->back, w->front, &m) != 0 && errno == ETERM)
                    goto out;
                zmq_msg_init(&m);
            }
            int e = errno;
            zmq_msg_close(&m);
            if (e == ETERM)
                goto out;
        }
    }
out:
    zmq_close(w->front);
    zmq_close(w->back);
    w->front = w->back = NULL;
    return NULL;
}

/* ---- the client side ---- */

typedef struct {
    void *sock;
    const char *addr; /* the REQUEST's address */
    uint32_t type;
    const uint8_t *body; /* the REQUEST's body (none when NULL) */
    size_t body_len;
    double *us; /* samples */
    size_t n;
} s_path_t;

/* One REQUEST and its REPLY; adds the time in microseconds to the path's
 * samples when `keep`. -1 after a note. */
static int s_round_trip(s_path_t *path, const char *name, uint64_t corr, bool keep)
{
    lt_frame_t f = {.cmd = LT_FRAME_REQUEST,
                    .corr = corr,
                    .type = path->type,
                    .body = path->body,
                    .len = path->body_len};
    snprintf(f.addr, sizeof f.addr, "%s", path->addr);
    double t0 = lt_bench_now();
    if (s_send_frame(path->sock, NULL, &f) != 0) {
        lt_bench_note("%s: sending a request: %s", name, zmq_strerror(errno));
        return -1;
    }
    for (;;) {
        s_parts_t p;
        if (s_recv_parts(path->sock, &p, 0) != 0) {
            lt_bench_note("%s: no reply within %d ms (%s)", name, S_RCVTIMEO_MS,
                          zmq_strerror(errno));
            return -1;
        }
        lt_frame_t r;
        lt_errbuf_t eb = {{0}};
        lt_err_t rc = s_decode(&p, 0, &r, &eb);
        s_parts_close(&p);
        if (rc != LT_OK) {
            lt_bench_note("%s: a reply that does not decode: %s", name, eb.msg);
            return -1;
        }
        if (r.cmd != LT_FRAME_REPLY || r.corr != corr)
            continue; /* a late reply to an earlier request */
        if (r.status != LT_OK) {
            lt_bench_note("%s: the request was answered %s", name,
                          r.status < LT_ECOUNT ? lt_errname((lt_err_t)r.status) : "(unknown)");
            return -1;
        }
        break;
    }
    if (keep)
        path->us[path->n++] = (lt_bench_now() - t0) * 1e6;
    return 0;
}

static void *s_socket(void *ctx, int type, bool client)
{
    void *s = zmq_socket(ctx, type);
    if (!s)
        return NULL;
    int zero = 0, one = 1, tmo = S_RCVTIMEO_MS;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    if (type == ZMQ_ROUTER)
        zmq_setsockopt(s, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    if (client) {
        zmq_setsockopt(s, ZMQ_RCVTIMEO, &tmo, sizeof tmo);
        zmq_setsockopt(s, ZMQ_SNDTIMEO, &tmo, sizeof tmo);
    }
    return s;
}

/* ---- the forwarder as a process of its own ---- */

int lt_bench_route_forwarder_main(const char *front, const char *back)
{
    /* Ends with the bench even if the bench dies first. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() == 1)
        return 1;
    void *ctx = zmq_ctx_new();
    s_fwd_t w = {0};
    if (ctx) {
        w.front = s_socket(ctx, ZMQ_ROUTER, false);
        w.back = s_socket(ctx, ZMQ_ROUTER, false);
    }
    if (!w.front || !w.back || zmq_bind(w.front, front) != 0 || zmq_bind(w.back, back) != 0) {
        lt_bench_note("forwarder process: %s", zmq_strerror(errno));
        return 1;
    }
    s_fwd_main(&w); /* until SIGTERM ends the process */
    if (w.why[0])
        lt_bench_note("%s", w.why);
    zmq_ctx_term(ctx);
    return 1;
}

/* ---- the echo as a process of its own (the ceiling's far end) ---- */

int lt_bench_route_echo_main(const char *back)
{
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() == 1)
        return 1;
    void *ctx = zmq_ctx_new();
    s_echo_t e = {.hello = true};
    if (ctx)
        e.sock = s_socket(ctx, ZMQ_DEALER, false);
    if (!e.sock || zmq_connect(e.sock, back) != 0) {
        lt_bench_note("echo process: %s", zmq_strerror(errno));
        return 1;
    }
    s_echo_main(&e); /* until SIGTERM ends the process */
    if (e.why[0])
        lt_bench_note("%s", e.why);
    zmq_ctx_term(ctx);
    return 1;
}

/* ---- setting up and taking down ---- */

/* Everything the measurement set up, so one function can take down whatever
 * part of it exists. echo[] and cli[] are indexed by path. */
typedef struct {
    lt_bench_node_t node;
    lt_client_t *client;
    void *echo_ctx, *fwd_ctx, *cli_ctx;
    s_echo_t echo[S_NECHOS];
    s_fwd_t fwd;
    pid_t fwd_pid;
    void *cli[S_NECHOS];
    double *samples;
} s_setup_t;

/* Stops a process started by s_spawn_self, if any. */
static void s_reap(pid_t *pid)
{
    if (*pid > 0) {
        int st;
        kill(*pid, SIGTERM);
        waitpid(*pid, &st, 0);
    }
    *pid = 0;
}

static int s_teardown(s_setup_t *s)
{
    int ret = 0;
    for (int i = 0; i < S_NECHOS; i++)
        if (s->cli[i])
            zmq_close(s->cli[i]);
    if (s->cli_ctx)
        zmq_ctx_term(s->cli_ctx);
    /* Shutting a context down makes the threads' calls fail with ETERM. */
    if (s->echo_ctx)
        zmq_ctx_shutdown(s->echo_ctx);
    if (s->fwd_ctx)
        zmq_ctx_shutdown(s->fwd_ctx);
    for (int i = 0; i < S_NECHOS; i++) {
        if (s->echo[i].started)
            pthread_join(s->echo[i].thread, NULL);
        else if (s->echo[i].sock)
            zmq_close(s->echo[i].sock);
        if (s->echo[i].why[0]) {
            lt_bench_note("%s", s->echo[i].why);
            ret = -1;
        }
    }
    if (s->fwd.started) {
        pthread_join(s->fwd.thread, NULL);
    } else {
        if (s->fwd.front)
            zmq_close(s->fwd.front);
        if (s->fwd.back)
            zmq_close(s->fwd.back);
    }
    if (s->fwd.why[0]) {
        lt_bench_note("%s", s->fwd.why);
        ret = -1;
    }
    if (s->echo_ctx)
        zmq_ctx_term(s->echo_ctx);
    if (s->fwd_ctx)
        zmq_ctx_term(s->fwd_ctx);
    s_reap(&s->fwd_pid);
    lt_client_close(&s->client);
    if (lt_bench_node_stop(&s->node) != 0)
        ret = -1;
    free(s->samples);
    return ret;
}

/* Starts this executable again with argv (a hidden mode of bench-ipc). */
static int s_spawn_self(const char *const *argv, pid_t *pid, const char *what)
{
    char exe[LT_BENCH_PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) {
        lt_bench_note("cannot find this executable: %s", strerror(errno));
        return -1;
    }
    exe[len] = '\0';
    int rc = posix_spawn(pid, exe, NULL, NULL, (char *const *)(void *)argv, environ);
    if (rc != 0) {
        *pid = 0;
        lt_bench_note("cannot start the %s process: %s", what, strerror(rc));
        return -1;
    }
    return 0;
}

static int s_spawn_forwarder(pid_t *pid, const char *front, const char *back)
{
    const char *argv[] = {"bench-ipc", LT_BENCH_FORWARDER_ARG, front, back, NULL};
    return s_spawn_self(argv, pid, "forwarder");
}

static int s_setup(const lt_bench_route_opts_t *o, s_setup_t *s)
{
    /* Where each path's client connects, and its echo binds (direct) or
     * connects (the others). */
    char cli_ep[S_NECHOS][LT_BENCH_PATH_MAX], echo_ep[S_NECHOS][LT_BENCH_PATH_MAX];
    char home[LT_BENCH_PATH_MAX], log[LT_BENCH_PATH_MAX];
    snprintf(home, sizeof home, "%s/route", o->base);
    snprintf(log, sizeof log, "%s/latticed-route.log", o->base);
    if (!lt_bench_ipc_endpoint(home, "kernel.sock", cli_ep[S_ROUTE], LT_BENCH_PATH_MAX) ||
        !lt_bench_ipc_endpoint(o->base, "echo.sock", cli_ep[S_DIRECT], LT_BENCH_PATH_MAX) ||
        !lt_bench_ipc_endpoint(o->base, "fwd-front.sock", cli_ep[S_BARE], LT_BENCH_PATH_MAX) ||
        !lt_bench_ipc_endpoint(o->base, "fwd-back.sock", echo_ep[S_BARE], LT_BENCH_PATH_MAX) ||
        !lt_bench_ipc_endpoint(o->base, "pfwd-front.sock", cli_ep[S_BARE_PROC],
                               LT_BENCH_PATH_MAX) ||
        !lt_bench_ipc_endpoint(o->base, "pfwd-back.sock", echo_ep[S_BARE_PROC], LT_BENCH_PATH_MAX))
        return -1;
    memcpy(echo_ep[S_ROUTE], cli_ep[S_ROUTE], LT_BENCH_PATH_MAX);
    memcpy(echo_ep[S_DIRECT], cli_ep[S_DIRECT], LT_BENCH_PATH_MAX);

    lt_bench_note("routing: latticed --services store --attach store in %s", home);
    static const char *const args[] = {"--services", "store", "--attach", "store", NULL};
    if (lt_bench_node_start(&s->node, o->latticed, home, log, args, 5000, &s->client) != 0)
        return -1;
    if (s_spawn_forwarder(&s->fwd_pid, cli_ep[S_BARE_PROC], echo_ep[S_BARE_PROC]) != 0)
        return -1;

    s->echo_ctx = zmq_ctx_new();
    s->fwd_ctx = zmq_ctx_new();
    s->cli_ctx = zmq_ctx_new();
    if (!s->echo_ctx || !s->fwd_ctx || !s->cli_ctx) {
        lt_bench_note("zmq_ctx_new: %s", zmq_strerror(errno));
        return -1;
    }
    s->fwd.front = s_socket(s->fwd_ctx, ZMQ_ROUTER, false);
    s->fwd.back = s_socket(s->fwd_ctx, ZMQ_ROUTER, false);
    if (!s->fwd.front || !s->fwd.back) {
        lt_bench_note("zmq_socket: %s", zmq_strerror(errno));
        return -1;
    }
    if (zmq_bind(s->fwd.front, cli_ep[S_BARE]) != 0 || zmq_bind(s->fwd.back, echo_ep[S_BARE])) {
        lt_bench_note("binding the forwarder: %s", zmq_strerror(errno));
        return -1;
    }
    for (int i = 0; i < S_NECHOS; i++) {
        s_echo_t *e = &s->echo[i];
        e->kernel = i == S_ROUTE;
        e->hello = i == S_BARE || i == S_BARE_PROC;
        e->sock = s_socket(s->echo_ctx, i == S_DIRECT ? ZMQ_ROUTER : ZMQ_DEALER, false);
        s->cli[i] = s_socket(s->cli_ctx, ZMQ_DEALER, true);
        if (!e->sock || !s->cli[i]) {
            lt_bench_note("zmq_socket: %s", zmq_strerror(errno));
            return -1;
        }
        int rc = i == S_DIRECT ? zmq_bind(e->sock, echo_ep[i]) : zmq_connect(e->sock, echo_ep[i]);
        if (rc != 0 || zmq_connect(s->cli[i], cli_ep[i]) != 0) {
            lt_bench_note("%s path: %s", s_path_name[i], zmq_strerror(errno));
            return -1;
        }
    }
    for (int i = 0; i < S_NECHOS; i++) {
        if (pthread_create(&s->echo[i].thread, NULL, s_echo_main, &s->echo[i]) != 0) {
            lt_bench_note("cannot start an echo thread");
            return -1;
        }
        s->echo[i].started = true;
    }
    if (pthread_create(&s->fwd.thread, NULL, s_fwd_main, &s->fwd) != 0) {
        lt_bench_note("cannot start the forwarder thread");
        return -1;
    }
    s->fwd.started = true;

    /* The echo is the service only once the kernel lists it READY, with our pid. */
    uint32_t pid = 0;
    if (lt_bench_node_wait_service(&s->node, s->client, "store", 0, LT_BENCH_SERVICE_MS, &pid) != 0)
        return -1;
    if (pid != (uint32_t)getpid()) {
        lt_bench_note("the kernel lists store with pid %u, not the echo's %d", pid, (int)getpid());
        return -1;
    }
    return 0;
}

/* ---- the measurement ---- */

static void s_summary(s_path_t *p, double *median, double *p99)
{
    *median = lt_bench_quantile(p->us, p->n, 0.5);
    if (p99)
        *p99 = lt_bench_quantile(p->us, p->n, 0.99);
}

/* Binds the calling thread to the last CPU of its mask; *old gets the mask
 * to restore. Returns the CPU, or -1 (not pinned). */
static int s_pin(cpu_set_t *old)
{
    if (sched_getaffinity(0, sizeof *old, old) != 0)
        return -1;
    int cpu = -1;
    for (int i = 0; i < CPU_SETSIZE; i++)
        if (CPU_ISSET(i, old))
            cpu = i;
    cpu_set_t one;
    CPU_ZERO(&one);
    if (cpu >= 0)
        CPU_SET(cpu, &one);
    if (cpu < 0 || sched_setaffinity(0, sizeof one, &one) != 0) {
        lt_bench_note("cannot pin the routing phase to a CPU: %s; running it unpinned",
                      strerror(errno));
        return -1;
    }
    return cpu;
}

int lt_bench_route_run(const lt_bench_route_opts_t *o, lt_bench_route_result_t *r)
{
    memset(r, 0, sizeof *r);
    cpu_set_t old_mask;
    r->cpu = o->pin ? s_pin(&old_mask) : -1;
    if (r->cpu >= 0)
        lt_bench_note("routing: pinned to CPU %d with everything it starts", r->cpu);
    s_setup_t s = {0};
    s_path_t path[S_NPATHS];
    int ret = s_setup(o, &s);
    if (ret == 0) {
        s.samples = calloc(S_NPATHS * o->n, sizeof *s.samples);
        if (!s.samples) {
            lt_bench_note("out of memory");
            ret = -1;
        }
    }
    if (ret == 0) {
        for (int i = 0; i < S_NPATHS; i++) {
            bool ping = i == S_PING;
            path[i] = (s_path_t){
                .sock = s.cli[ping ? S_ROUTE : i],
                .addr = ping ? LT_FRAME_KERNEL_ADDR : "store",
                .type = ping ? lattice_kernel_KernelMsgType_KERNEL_PING : S_ECHO_TYPE,
                .us = s.samples + (size_t)i * o->n,
            };
        }
        lt_bench_note("routing: %" PRIu64 " warm-up and %" PRIu64
                      " measured round trips per path, %d rounds",
                      o->warmup, o->n, S_ROUNDS);
    }
    uint64_t corr = 1;
    for (int i = 0; ret == 0 && i < S_NPATHS; i++)
        for (uint64_t k = 0; ret == 0 && k < o->warmup; k++)
            ret = s_round_trip(&path[i], s_path_name[i], corr++, false);
    /* Rounds: each path does its share in turn, the first path rotating.
     * The CPU time latticed and the forwarder process spend on their own
     * paths is taken around each share (outside the timed round trips). */
    double cpu[S_NPATHS] = {0};
    for (uint64_t round = 0; ret == 0 && round < S_ROUNDS; round++) {
        uint64_t share = o->n / S_ROUNDS + (round < o->n % S_ROUNDS ? 1 : 0);
        for (int j = 0; ret == 0 && j < S_NPATHS; j++) {
            int i = (int)((round + (uint64_t)j) % S_NPATHS);
            pid_t middle = i == S_BARE_PROC ? s.fwd_pid : s.node.pid;
            double cpu0 = lt_bench_proc_cpu_s(middle);
            for (uint64_t k = 0; ret == 0 && k < share; k++)
                ret = s_round_trip(&path[i], s_path_name[i], corr++, true);
            cpu[i] += lt_bench_proc_cpu_s(middle) - cpu0;
        }
    }
    if (ret == 0) {
        r->n = path[S_ROUTE].n;
        s_summary(&path[S_ROUTE], &r->route_us, &r->route_p99_us);
        s_summary(&path[S_DIRECT], &r->direct_us, &r->direct_p99_us);
        s_summary(&path[S_BARE], &r->bare_us, &r->bare_p99_us);
        s_summary(&path[S_BARE_PROC], &r->bare_proc_us, NULL);
        s_summary(&path[S_PING], &r->ping_us, NULL);
        r->route_cpu_us = cpu[S_ROUTE] * 1e6 / (double)path[S_ROUTE].n;
        r->ping_cpu_us = cpu[S_PING] * 1e6 / (double)path[S_PING].n;
        r->bare_proc_cpu_us = cpu[S_BARE_PROC] * 1e6 / (double)path[S_BARE_PROC].n;
        lt_bench_note("  median round trip: route %.1f us, direct %.1f us, bare %.1f us, "
                      "bare as a process %.1f us, kernel ping %.1f us",
                      r->route_us, r->direct_us, r->bare_us, r->bare_proc_us, r->ping_us);
        lt_bench_note("  CPU per round trip in the middle: latticed %.1f us (ping %.1f us), "
                      "forwarder process %.1f us",
                      r->route_cpu_us, r->ping_cpu_us, r->bare_proc_cpu_us);
    }
    if (s_teardown(&s) != 0)
        ret = -1;
    if (r->cpu >= 0)
        sched_setaffinity(0, sizeof old_mask, &old_mask);
    return ret;
}

/* ---- the ceiling: concurrent clients through the bare forwarder process ---- */

#define S_CEIL_WARMUP 20 /* round trips per client before the timing */

/* The start line: each client reports ready after its warm-up and waits for
 * go; stop ends the run (also one whose start failed). */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned ready;
    bool go;
    atomic_bool stop;
} s_ceil_start_t;

typedef struct {
    const char *front;
    const lt_bench_ceiling_opts_t *o;
    const uint8_t *body;
    s_ceil_start_t *start;
    uint64_t n;
    int failed; /* set when a round trip failed */
} s_ceil_client_t;

/* One client: a context of its own (as liblattice-client gives each handle),
 * a DEALER, and round trips until told to stop. */
static void *s_ceil_client_main(void *arg)
{
    s_ceil_client_t *c = arg;
    s_ceil_start_t *st = c->start;
    void *ctx = zmq_ctx_new();
    void *sock = ctx ? s_socket(ctx, ZMQ_DEALER, true) : NULL;
    if (!sock || zmq_connect(sock, c->front) != 0)
        c->failed = 1;
    s_path_t path = {.sock = sock,
                     .addr = "store",
                     .type = S_ECHO_TYPE,
                     .body = c->body,
                     .body_len = c->o->body_len};
    /* A few round trips first: the echo may still be connecting. */
    uint64_t corr = 1;
    for (; !c->failed && corr <= S_CEIL_WARMUP; corr++)
        c->failed = s_round_trip(&path, "ceiling", corr, false) != 0;
    pthread_mutex_lock(&st->mu);
    st->ready++;
    pthread_cond_broadcast(&st->cv);
    while (!st->go)
        pthread_cond_wait(&st->cv, &st->mu);
    pthread_mutex_unlock(&st->mu);
    for (; !c->failed && !atomic_load_explicit(&st->stop, memory_order_relaxed); corr++) {
        if (s_round_trip(&path, "ceiling", corr, false) != 0)
            c->failed = 1;
        else
            c->n++;
    }
    if (sock)
        zmq_close(sock);
    if (ctx)
        zmq_ctx_term(ctx);
    return NULL;
}

static double s_ceil_cpu_s(pid_t fwd, pid_t echo)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9 + lt_bench_proc_cpu_s(fwd) +
           lt_bench_proc_cpu_s(echo);
}

int lt_bench_route_ceiling(const lt_bench_ceiling_opts_t *o, lt_bench_ceiling_result_t *r)
{
    memset(r, 0, sizeof *r);
    char front[LT_BENCH_PATH_MAX], back[LT_BENCH_PATH_MAX];
    if (o->clients == 0 || o->clients > LT_BENCH_CEILING_MAX_CLIENTS ||
        o->body_len > LT_BENCH_CEILING_MAX_BODY) {
        lt_bench_note("ceiling: 1 to %d clients and a body of at most %d bytes",
                      LT_BENCH_CEILING_MAX_CLIENTS, LT_BENCH_CEILING_MAX_BODY);
        return -1;
    }
    if (!lt_bench_ipc_endpoint(o->base, "cfwd-front.sock", front, sizeof front) ||
        !lt_bench_ipc_endpoint(o->base, "cfwd-back.sock", back, sizeof back))
        return -1;
    pid_t fwd = 0, echo = 0;
    const char *echo_argv[] = {"bench-ipc", LT_BENCH_ECHO_ARG, back, NULL};
    if (s_spawn_forwarder(&fwd, front, back) != 0 || s_spawn_self(echo_argv, &echo, "echo") != 0) {
        s_reap(&fwd);
        return -1;
    }
    static uint8_t body[LT_BENCH_CEILING_MAX_BODY];
    memset(body, 0xa5, sizeof body);
    s_ceil_client_t c[LT_BENCH_CEILING_MAX_CLIENTS];
    pthread_t th[LT_BENCH_CEILING_MAX_CLIENTS];
    s_ceil_start_t start = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    atomic_init(&start.stop, false);
    unsigned started = 0;
    for (; started < o->clients; started++) {
        c[started] = (s_ceil_client_t){.front = front, .o = o, .body = body, .start = &start};
        if (pthread_create(&th[started], NULL, s_ceil_client_main, &c[started]) != 0)
            break;
    }
    int ret = 0;
    if (started < o->clients) {
        lt_bench_note("ceiling: cannot start %u client threads", o->clients);
        atomic_store(&start.stop, true);
        ret = -1;
    }
    /* The timing starts once every client is through its warm-up. */
    pthread_mutex_lock(&start.mu);
    while (ret == 0 && start.ready < started)
        pthread_cond_wait(&start.cv, &start.mu);
    start.go = true;
    pthread_cond_broadcast(&start.cv);
    pthread_mutex_unlock(&start.mu);
    double t0 = lt_bench_now(), cpu0 = s_ceil_cpu_s(fwd, echo);
    if (ret == 0)
        lt_bench_pause_ms((unsigned)(o->secs * 1000));
    atomic_store(&start.stop, true);
    /* Read before the clients take their contexts down: that is not the
     * round trips' work. */
    double secs = lt_bench_now() - t0, cpu1 = s_ceil_cpu_s(fwd, echo);
    uint64_t n = 0;
    unsigned failed = 0;
    for (unsigned i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
        n += c[i].n;
        failed += c[i].failed != 0;
    }
    s_reap(&echo);
    s_reap(&fwd);
    if (failed)
        lt_bench_note("ceiling: %u of %u clients failed", failed, started);
    else if (ret == 0 && n == 0)
        lt_bench_note("ceiling: no round trip in %.1f s", secs);
    if (ret != 0 || failed || n == 0)
        return -1;
    r->n = n;
    r->per_s = (double)n / secs;
    r->cpu_us = (cpu1 - cpu0) * 1e6 / (double)n;
    lt_bench_note("  ceiling: %u clients, %.0f round trips/s (%" PRIu64 " in %.2f s); CPU per "
                  "round trip, all three processes: %.0f us",
                  o->clients, r->per_s, n, secs, r->cpu_us);
    return 0;
}
