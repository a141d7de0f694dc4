/* The router (kernel/router.h): the ROUTER socket and the LTK/1 routing
 * rules of kernel/README.md. Frames are decoded and encoded by ipc/frame.h
 * only; this file maps them onto libzmq parts and decides where they go. */
#include "kernel/router.h"

#include "kernel.pb.h"

#include "ipc/frame.h"
#include "kernel/control.h"
#include "kernel/inproc.h"
#include "kernel/supervisor.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define S_TAG "router"

/* Messages per peer pipe in each direction. A service never holds more than
 * inflight_max requests, so this bounds what one slow client can make the
 * kernel hold for it. */
#define S_HWM 4096
/* ZMTP heartbeats on every connection: dead client connections are closed
 * by libzmq even when they never speak again. */
#define S_ZMTP_HEARTBEAT_MS 2000
/* Retry interval for a service whose pipe was full. */
#define S_BLOCKED_RETRY_MS 5
/* How long the last replies may take to leave when the node stops. */
#define S_CLOSE_LINGER_MS 500
/* A misbehaving peer can repeat these at will: one line per interval. */
#define S_WARN_INTERVAL_MS 1000

#ifndef ZMQ_IPC_FILTER_UID
/* Deprecated in libzmq 4.3 but still honoured by its ipc listener (checked
 * with SO_PEERCRED); 4.3.4's zmq.h keeps the number. */
#define ZMQ_IPC_FILTER_UID 59
#endif

/* ---- sending ---- */

/* Sends the parts of f to the connection rid. Returns 0, or the errno:
 * EHOSTUNREACH (no such connection), EAGAIN (its pipe is full). */
static int s_send_rid(lt_kernel_t *k, const uint8_t *rid, size_t rid_len, const lt_frame_t *f)
{
    lt_frame_part_t parts[LT_FRAME_MAX_PARTS];
    size_t n = 0;
    lt_frame_scratch_t scratch;
    lt_errbuf_t eb;
    if (lt_frame_encode(f, parts, &n, &scratch, &eb) != LT_OK) {
        /* Only our own bug can get here: every field was checked on the
         * way in. */
        lt_log_error(&k->log, S_TAG, "cannot encode a frame: %s", eb.msg);
        return EINVAL;
    }
    if (zmq_send(k->router, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return errno;
    for (size_t i = 0; i < n; i++) {
        int flags = ZMQ_DONTWAIT | (i + 1 < n ? ZMQ_SNDMORE : 0);
        /* Once the routing id is accepted the rest of the message is. */
        if (zmq_send(k->router, parts[i].p, parts[i].len, flags) < 0)
            return errno;
    }
    return 0;
}

static int s_send_svc(lt_kernel_t *k, lt_ksvc_t *s, const lt_frame_t *f)
{
    int rc = s->inproc ? lt_inproc_send(k, s, f) : s_send_rid(k, s->rid, s->rid_len, f);
    if (rc == 0)
        s->last_sent_ms = lt_kernel_mono_ms();
    return rc;
}

static void s_send_bare(lt_kernel_t *k, const uint8_t *rid, size_t rid_len, lt_frame_cmd_t cmd)
{
    lt_frame_t f = {.cmd = cmd};
    int rc = s_send_rid(k, rid, rid_len, &f);
    if (rc)
        lt_log_debug(&k->log, S_TAG, "cannot send command %d: %s", (int)cmd, zmq_strerror(rc));
}

/* The registered service holding connection rid, or NULL. */
static lt_ksvc_t *s_by_rid(lt_kernel_t *k, const uint8_t *rid, size_t len)
{
    for (size_t i = 0; i < k->nsvcs; i++) {
        lt_ksvc_t *s = &k->svcs[i];
        if (s->registered && s->rid_len == len && memcmp(s->rid, rid, len) == 0)
            return s;
    }
    return NULL;
}

/* Sends f to an address: a client's connection or a registered service.
 * Returns 0 or the errno (EHOSTUNREACH also when a service is not
 * registered). */
static int s_send_addr(lt_kernel_t *k, const char *to, const lt_frame_t *f)
{
    lt_pubkey_t key;
    char local[LT_ADDR_MAX];
    if (lt_addr_remote(to, &key, local, sizeof local))
        return lt_links_send(k, &key, local, f);
    if (lt_frame_client_addr_valid(to)) {
        uint8_t rid[LT_FRAME_CLIENT_ID_MAX];
        size_t len = 0;
        if (lt_frame_client_id(to, rid, sizeof rid, &len) != LT_OK)
            return EHOSTUNREACH;
        return s_send_rid(k, rid, len, f);
    }
    lt_ksvc_t *s = lt_kernel_service(k, to);
    if (!s || !s->registered)
        return EHOSTUNREACH;
    return s_send_svc(k, s, f);
}

int lt_router_event(lt_kernel_t *k, const char *to, uint32_t type, const uint8_t *body, size_t len)
{
    lt_ksvc_t *s = lt_kernel_service(k, to);
    if (!s || !s->registered)
        return EHOSTUNREACH;
    lt_frame_t f = {.cmd = LT_FRAME_EVENT, .type = type, .body = body, .len = len};
    snprintf(f.addr, sizeof f.addr, "%s", LT_FRAME_KERNEL_ADDR);
    return s_send_svc(k, s, &f);
}

void lt_router_reply(lt_kernel_t *k, const char *to, const char *from, uint64_t corr, uint32_t type,
                     lt_err_t status, const uint8_t *body, size_t len)
{
    lt_frame_t f = {.cmd = LT_FRAME_REPLY,
                    .corr = corr,
                    .type = type,
                    .status = (uint32_t)status,
                    .body = body,
                    .len = len};
    snprintf(f.addr, sizeof f.addr, "%s", from);
    int rc = s_send_addr(k, to, &f);
    if (rc)
        lt_log_debug(&k->log, S_TAG, "reply to %s dropped: %s", to, zmq_strerror(rc));
}

static void s_reply_errorv(lt_kernel_t *k, const char *to, const char *from, uint64_t corr,
                           uint32_t type, lt_err_t status, const char *fmt, va_list ap)
{
    char line[256];
    vsnprintf(line, sizeof line, fmt, ap);
    uint8_t body[300];
    size_t len = lt_control_error_body(line, body, sizeof body);
    lt_router_reply(k, to, from, corr, type, status, body, len);
}

void lt_router_reply_error(lt_kernel_t *k, const char *to, const char *from, uint64_t corr,
                           uint32_t type, lt_err_t status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_reply_errorv(k, to, from, corr, type, status, fmt, ap);
    va_end(ap);
}

/* ---- the socket ---- */

lt_err_t lt_router_open(lt_kernel_t *k, lt_errbuf_t *eb)
{
    k->router = zmq_socket(k->zctx, ZMQ_ROUTER);
    if (!k->router)
        return lt_fail(eb, LT_EIO, "cannot create the kernel socket: %s", zmq_strerror(errno));
    int one = 1;
    int zero = 0;
    int hwm = S_HWM;
    int64_t maxmsg = LT_FRAME_MAX_PART;
    int hb = S_ZMTP_HEARTBEAT_MS;
    int hb_timeout = 3 * S_ZMTP_HEARTBEAT_MS;
    int uid = (int)geteuid();
    struct {
        int opt;
        const void *val;
        size_t len;
        const char *name;
    } opts[] = {
        {ZMQ_ROUTER_MANDATORY, &one, sizeof one, "ZMQ_ROUTER_MANDATORY"},
        {ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg, "ZMQ_MAXMSGSIZE"},
        {ZMQ_SNDHWM, &hwm, sizeof hwm, "ZMQ_SNDHWM"},
        {ZMQ_RCVHWM, &hwm, sizeof hwm, "ZMQ_RCVHWM"},
        {ZMQ_LINGER, &zero, sizeof zero, "ZMQ_LINGER"},
        {ZMQ_HEARTBEAT_IVL, &hb, sizeof hb, "ZMQ_HEARTBEAT_IVL"},
        {ZMQ_HEARTBEAT_TIMEOUT, &hb_timeout, sizeof hb_timeout, "ZMQ_HEARTBEAT_TIMEOUT"},
        /* The listener checks each connecting peer's uid with SO_PEERCRED
         * and closes connections from any other user. */
        {ZMQ_IPC_FILTER_UID, &uid, sizeof uid, "ZMQ_IPC_FILTER_UID"},
    };
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        if (zmq_setsockopt(k->router, opts[i].opt, opts[i].val, opts[i].len) != 0)
            return lt_fail(eb, LT_EIO, "cannot set %s on the kernel socket: %s", opts[i].name,
                           zmq_strerror(errno));
    }
    /* The socket is created by bind with the umask's mode: make it private
     * from the start, then set 0600 explicitly (the umask is process-wide,
     * so it is restored at once). */
    mode_t old = umask(077);
    int rc = zmq_bind(k->router, k->home->endpoint);
    int e = errno;
    umask(old);
    if (rc != 0)
        return lt_fail(eb, LT_EIO, "cannot bind %s: %s", k->home->endpoint, zmq_strerror(e));
    if (chmod(k->home->sock, 0600) != 0)
        return lt_fail(eb, LT_EIO, "cannot chmod %s: %s", k->home->sock, strerror(errno));
    return LT_OK;
}

void lt_router_close(lt_kernel_t *k)
{
    if (k->router) {
        /* Replies already accepted (the one to KERNEL_STOP, the last
         * unavailable answers) get a moment to leave. */
        int linger = S_CLOSE_LINGER_MS;
        zmq_setsockopt(k->router, ZMQ_LINGER, &linger, sizeof linger);
        zmq_close(k->router);
        k->router = NULL;
    }
}

/* ---- registration ---- */

typedef struct {
    lt_kernel_t *k;
    const lt_ksvc_t *s;
    const char *why;
} s_flush_ctx_t;

static void s_flush_inflight_one(void *ctx, const char *from, uint64_t corr, uint32_t type)
{
    s_flush_ctx_t *c = ctx;
    lt_router_reply_error(c->k, from, c->s->name, corr, type, LT_EUNAVAILABLE,
                          "service %s went away before answering (%s); retry", c->s->name, c->why);
}

void lt_router_forget(lt_kernel_t *k, lt_ksvc_t *s, const char *why)
{
    if (!s->registered)
        return;
    s->registered = false;
    s->rid_len = 0;
    s->drain_blocked = false;
    if (s->inflight.count)
        lt_log_debug(&k->log, s->name, "answering %zu requests in flight: unavailable (%s)",
                     s->inflight.count, why);
    s_flush_ctx_t c = {k, s, why};
    lt_kinflight_drain(&s->inflight, s_flush_inflight_one, &c);
}

/* Rate-limited warning for refused READY frames: a refused service keeps
 * asking (it re-registers on every DISCONNECT and heartbeat). */
static bool s_may_warn(uint64_t *last)
{
    uint64_t now = lt_kernel_mono_ms();
    if (*last && now - *last < 60000)
        return false;
    *last = now;
    return true;
}

static void s_registered(lt_kernel_t *k, lt_ksvc_t *s)
{
    s->registered = true;
    s->last_heard_ms = lt_kernel_mono_ms();
    s->last_sent_ms = 0; /* heartbeat it at once: it learns the kernel is here */
    s->drain_blocked = false;
    lt_router_drain(k, s);
    /* The store keeps who may open peer links: ask it for the set now (a
     * new kernel, or a new store process). */
    if (lt_links_active(k) && strcmp(s->name, LT_LINKS_ADMIT_SERVICE) == 0) {
        lt_frame_t ev = {.cmd = LT_FRAME_EVENT,
                         .type = lattice_kernel_KernelMsgType_KERNEL_ADMIT_WANTED};
        snprintf(ev.addr, sizeof ev.addr, "%s", LT_FRAME_KERNEL_ADDR);
        if (s_send_svc(k, s, &ev) != 0)
            lt_log_warn(&k->log, s->name, "cannot ask it who may open peer links");
    }
    /* The sync service hears of each link to a peer as it comes up: the
     * ones up already, now (a new sync process, or links opened before it
     * registered). */
    if (lt_links_active(k) && strcmp(s->name, LT_LINKS_UP_SERVICE) == 0)
        lt_links_announce(k);
}

static void s_on_ready(lt_kernel_t *k, const uint8_t *rid, size_t rid_len, const lt_frame_t *f)
{
    lt_ksvc_t *s = lt_kernel_service(k, f->name);
    if (!s) {
        if (s_may_warn(&k->refused_logged_ms))
            lt_log_warn(&k->log, S_TAG,
                        "READY from '%s' (pid %u) refused: this node does not run a service of "
                        "that name (see latticed --services and --attach)",
                        f->name, f->pid);
        return;
    }
    /* A connection registers one name: one that re-registers under another
     * name leaves the first. */
    lt_ksvc_t *prev = s_by_rid(k, rid, rid_len);
    if (prev && prev != s) {
        lt_router_forget(k, prev, "it registered as another service");
        lt_sup_on_unregistered(k, prev, false);
    }
    if (!lt_sup_on_ready(k, s, f->pid)) {
        if (s->inproc && s_may_warn(&k->refused_logged_ms))
            lt_log_warn(&k->log, s->name,
                        "READY from pid %u refused: this node runs %s in its own thread", f->pid,
                        s->name);
        else if (s_may_warn(&k->refused_logged_ms))
            lt_log_warn(&k->log, s->name,
                        "READY from pid %u refused: the kernel runs %s itself%s (use latticed "
                        "--attach %s to run it by hand)",
                        f->pid, s->name, s->pid ? " as another process" : "", s->name);
        return;
    }
    bool same = s->registered && s->rid_len == rid_len && memcmp(s->rid, rid, rid_len) == 0;
    if (s->registered && !same) {
        /* The newest READY wins (a restarted process, or the same process
         * on a new connection after it lost the kernel): the old connection
         * is told, and what it held in flight will not be answered. */
        lt_log_info(&k->log, s->name,
                    "a new connection registered (pid %u); the previous one "
                    "is told to disconnect",
                    f->pid);
        uint8_t old[LT_KERNEL_RID_MAX];
        size_t old_len = s->rid_len;
        memcpy(old, s->rid, old_len);
        lt_router_forget(k, s, "replaced by a new connection");
        s_send_bare(k, old, old_len, LT_FRAME_DISCONNECT);
    }
    memcpy(s->rid, rid, rid_len);
    s->rid_len = rid_len;
    s->proto = f->proto;
    s->ready_pid = f->pid;
    s_registered(k, s);
}

void lt_router_hosted(lt_kernel_t *k, lt_ksvc_t *s)
{
    s->rid_len = 0;
    s->proto = 0;
    s->ready_pid = 0;
    s_registered(k, s);
}

/* ---- delivery ---- */

static const char *s_coming_why(const lt_ksvc_t *s)
{
    switch (s->state) {
    case LT_KSVC_WAITING:
        return "waiting to be attached";
    case LT_KSVC_READY:
        return "busy";
    default:
        return "restarting";
    }
}

/* Builds the frame of a message the kernel forwards (address = sender). */
static void s_fill(lt_frame_t *f, lt_frame_cmd_t cmd, const char *from, uint64_t corr,
                   uint32_t type, const uint8_t *body, size_t len)
{
    memset(f, 0, sizeof *f);
    f->cmd = cmd;
    snprintf(f->addr, sizeof f->addr, "%s", from);
    f->corr = corr;
    f->type = type;
    f->body = body;
    f->len = len;
}

/* Forwards one message to the registered service s. Returns 0, EAGAIN when
 * its pipe is full (the caller queues), or another errno when the
 * connection is gone (the registration is then forgotten). */
static int s_forward(lt_kernel_t *k, lt_ksvc_t *s, lt_frame_cmd_t cmd, const char *from,
                     uint64_t corr, uint32_t type, const uint8_t *body, size_t len)
{
    lt_frame_t f;
    s_fill(&f, cmd, from, corr, type, body, len);
    int rc = s_send_svc(k, s, &f);
    if (rc == 0) {
        if (cmd == LT_FRAME_REQUEST && lt_kinflight_add(&s->inflight, from, corr, type) != LT_OK)
            lt_log_error(&k->log, s->name, "in-flight table full after a check (a bug)");
        return 0;
    }
    if (rc == EAGAIN) {
        s->drain_blocked = true;
        return rc;
    }
    if (s->inproc) {
        /* Hosted: no connection to lose. The runtime refused this one
         * message (a bug on one side or the other): answer it. */
        lt_log_warn(&k->log, s->name, "the runtime refused a message from %s (%s)", from,
                    zmq_strerror(rc));
        if (cmd == LT_FRAME_REQUEST)
            lt_router_reply_error(k, from, s->name, corr, type, LT_EUNAVAILABLE,
                                  "service %s could not take the request", s->name);
        return 0;
    }
    /* The connection vanished without DISCONNECT (EHOSTUNREACH): the
     * process is gone or going; the supervisor will hear of its exit. */
    lt_log_info(&k->log, s->name, "its connection is gone (%s)", zmq_strerror(rc));
    lt_router_forget(k, s, "connection lost");
    lt_sup_on_unregistered(k, s, false);
    return rc;
}

static void s_refuse(lt_kernel_t *k, lt_ksvc_t *s, lt_frame_cmd_t cmd, const char *from,
                     uint64_t corr, uint32_t type, lt_sup_route_t route)
{
    if (cmd != LT_FRAME_REQUEST)
        return;
    if (route == LT_SUP_FAILED)
        lt_router_reply_error(k, from, s->name, corr, type, LT_EFAILED,
                              "service %s has failed (%s); see %s/latticed.log", s->name,
                              lt_sup_fail_reason(s), k->home->dir);
    else
        lt_router_reply_error(k, from, s->name, corr, type, LT_EUNAVAILABLE,
                              "service %s is unavailable: the node is stopping", s->name);
}

/* Delivers a REQUEST or EVENT for service s: forwards it when s can take
 * it now, queues it otherwise, answers or drops it when neither works. */
static void s_deliver(lt_kernel_t *k, lt_ksvc_t *s, lt_frame_cmd_t cmd, const char *from,
                      uint64_t corr, uint32_t type, const uint8_t *body, size_t len)
{
    lt_sup_route_t route = lt_sup_route(s);
    if (route == LT_SUP_FAILED || route == LT_SUP_STOPPED) {
        s_refuse(k, s, cmd, from, corr, type, route);
        return;
    }
    /* Straight through only when nothing is queued ahead of it (order) and
     * the service has room. */
    if (route == LT_SUP_DELIVER && s->registered && s->queue.count == 0 && !s->drain_blocked &&
        (cmd == LT_FRAME_EVENT || !lt_kinflight_full(&s->inflight))) {
        if (s_forward(k, s, cmd, from, corr, type, body, len) == 0)
            return;
    }
    lt_err_t rc = lt_kqueue_push(&s->queue, cmd, from, corr, type, body, len, lt_kernel_mono_ms());
    if (rc == LT_OK)
        return;
    /* Events are dropped silently past the bound (kernel/README.md). */
    if (cmd == LT_FRAME_REQUEST)
        lt_router_reply_error(k, from, s->name, corr, type, LT_EUNAVAILABLE,
                              "service %s is %s and its queue is full; retry later", s->name,
                              s_coming_why(s));
}

void lt_router_drain(lt_kernel_t *k, lt_ksvc_t *s)
{
    if (lt_sup_route(s) != LT_SUP_DELIVER || !s->registered)
        return;
    s->drain_blocked = false;
    const lt_kmsg_t *m;
    while (s->registered && (m = lt_kqueue_peek(&s->queue))) {
        if (m->cmd == LT_FRAME_REQUEST && lt_kinflight_full(&s->inflight))
            break;
        if (s_forward(k, s, m->cmd, m->from, m->corr, m->type, m->body, m->len) != 0)
            break;
        free(lt_kqueue_pop(&s->queue));
    }
}

void lt_router_flush_queue(lt_kernel_t *k, lt_ksvc_t *s, lt_err_t status, const char *why)
{
    lt_kmsg_t *m;
    while ((m = lt_kqueue_pop(&s->queue))) {
        if (m->cmd == LT_FRAME_REQUEST)
            lt_router_reply_error(k, m->from, s->name, m->corr, m->type, status, "%s", why);
        free(m);
    }
}

/* ---- routing one message ---- */

static void s_route(lt_kernel_t *k, lt_ksvc_t *sender, const char *from, const lt_frame_t *f)
{
    const char *to = f->addr;
    /* A reply from a service settles the request it holds for `to`. */
    if (sender && f->cmd == LT_FRAME_REPLY && lt_kinflight_remove(&sender->inflight, to, f->corr))
        lt_router_drain(k, sender);

    if (strcmp(to, LT_FRAME_KERNEL_ADDR) == 0) {
        if (f->cmd == LT_FRAME_REQUEST)
            lt_control_request(k, from, f);
        else
            lt_log_debug(&k->log, S_TAG, "%s to the kernel from %s dropped",
                         f->cmd == LT_FRAME_REPLY ? "REPLY" : "EVENT", from);
        return;
    }
    if (strchr(to, '@')) {
        /* To another node: over the link to it, the sender as it is known
         * here. Nothing is relayed from one node to a third. */
        int rc = strchr(from, '@') ? EPERM : EHOSTUNREACH;
        lt_frame_t out = *f;
        snprintf(out.addr, sizeof out.addr, "%s", from);
        if (rc != EPERM)
            rc = s_send_addr(k, to, &out);
        if (rc == 0)
            return;
        char why[256];
        if (f->cmd == LT_FRAME_REQUEST && rc == EHOSTUNREACH &&
            lt_links_refused_lately(k, to, why, sizeof why))
            lt_router_reply_error(k, from, to, f->corr, f->type, LT_EREFUSED, "%s", why);
        else if (f->cmd == LT_FRAME_REQUEST)
            lt_router_reply_error(k, from, to, f->corr, f->type, LT_EUNAVAILABLE, "%s: %s", to,
                                  rc == EPERM    ? "a node does not relay between other nodes"
                                  : rc == EAGAIN ? "the link to that node is full; retry later"
                                                 : "no link to that node");
        else
            lt_log_debug(&k->log, S_TAG, "message for %s dropped: %s", to, zmq_strerror(rc));
        return;
    }
    if (lt_frame_client_addr_valid(to)) {
        lt_frame_t out = *f;
        snprintf(out.addr, sizeof out.addr, "%s", from);
        int rc = s_send_addr(k, to, &out);
        if (rc == 0)
            return;
        lt_log_debug(&k->log, S_TAG, "message for %s dropped: %s", to, zmq_strerror(rc));
        if (f->cmd == LT_FRAME_REQUEST)
            lt_router_reply_error(k, from, to, f->corr, f->type,
                                  rc == EAGAIN ? LT_EUNAVAILABLE : LT_ENOTFOUND,
                                  rc == EAGAIN ? "client %s is not reading its messages"
                                               : "client %s is not connected",
                                  to);
        return;
    }
    lt_ksvc_t *s = lt_kernel_service(k, to);
    if (!s) {
        if (f->cmd == LT_FRAME_REQUEST)
            lt_router_reply_error(k, from, to, f->corr, f->type, LT_ENOTFOUND,
                                  "no service named %s on this node", to);
        else
            lt_log_debug(&k->log, S_TAG, "message for unknown %s dropped", to);
        return;
    }
    if (f->cmd == LT_FRAME_REPLY) {
        /* The request it answers was made by the service's earlier process
         * when it is not registered now: nobody waits for it. */
        lt_frame_t out = *f;
        snprintf(out.addr, sizeof out.addr, "%s", from);
        int rc = s->registered ? s_send_svc(k, s, &out) : EHOSTUNREACH;
        if (rc)
            lt_log_debug(&k->log, s->name, "reply from %s dropped: %s", from, zmq_strerror(rc));
        return;
    }
    s_deliver(k, s, f->cmd, from, f->corr, f->type, f->body, f->len);
}

void lt_router_from_link(lt_kernel_t *k, const char *from, const lt_frame_t *f)
{
    s_route(k, NULL, from, f);
}

void lt_router_from_hosted(lt_kernel_t *k, lt_ksvc_t *sender, const lt_frame_t *f)
{
    sender->last_heard_ms = lt_kernel_mono_ms();
    s_route(k, sender, sender->name, f);
}

/* ---- receiving ---- */

static void s_reject(lt_kernel_t *k, const uint8_t *rid, size_t rid_len, const char *why)
{
    uint64_t now = lt_kernel_mono_ms();
    if (k->reject_logged_ms && now - k->reject_logged_ms < S_WARN_INTERVAL_MS) {
        k->reject_suppressed++;
        return;
    }
    char hex[2 * 16 + 1];
    size_t n = rid_len < 16 ? rid_len : 16;
    for (size_t i = 0; i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", rid[i]);
    hex[2 * n] = '\0';
    lt_log_warn(&k->log, S_TAG, "message from connection %s dropped: %s%s", hex, why,
                k->reject_suppressed ? " (and earlier ones not logged)" : "");
    k->reject_logged_ms = now;
    k->reject_suppressed = 0;
}

/* One message: the routing id, then up to one part more than any command
 * has (so that the decoder sees, and names, a message with too many). */
#define S_MAX_IN (1 + LT_FRAME_MAX_PARTS + 1)

static void s_handle(lt_kernel_t *k, zmq_msg_t *msgs, size_t n)
{
    const uint8_t *rid = zmq_msg_data(&msgs[0]);
    size_t rid_len = zmq_msg_size(&msgs[0]);
    lt_frame_part_t parts[S_MAX_IN - 1];
    for (size_t i = 1; i < n; i++) {
        parts[i - 1].p = zmq_msg_data(&msgs[i]);
        parts[i - 1].len = zmq_msg_size(&msgs[i]);
    }
    lt_frame_t f;
    lt_frame_reject_t why;
    lt_errbuf_t eb = {{0}};
    if (lt_frame_decode(parts, n - 1, &f, &why, &eb) != LT_OK) {
        char line[320];
        snprintf(line, sizeof line, "%s (%s)", eb.msg, lt_frame_reject_name(why));
        s_reject(k, rid, rid_len, line);
        return;
    }
    lt_ksvc_t *sender = s_by_rid(k, rid, rid_len);
    if (sender)
        sender->last_heard_ms = lt_kernel_mono_ms();
    switch (f.cmd) {
    case LT_FRAME_READY:
        s_on_ready(k, rid, rid_len, &f);
        return;
    case LT_FRAME_HEARTBEAT:
        /* A service that survived a kernel restart heartbeats a connection
         * the kernel does not know: tell it to register. */
        if (!sender)
            s_send_bare(k, rid, rid_len, LT_FRAME_DISCONNECT);
        return;
    case LT_FRAME_DISCONNECT:
        if (sender) {
            lt_log_debug(&k->log, sender->name, "said DISCONNECT");
            lt_router_forget(k, sender, "it disconnected");
            lt_sup_on_unregistered(k, sender, false);
        }
        return;
    case LT_FRAME_REQUEST:
    case LT_FRAME_REPLY:
    case LT_FRAME_EVENT:
        break;
    }
    char from[LT_ADDR_MAX];
    if (sender) {
        snprintf(from, sizeof from, "%s", sender->name);
    } else if (lt_frame_client_addr(rid, rid_len, from) != LT_OK) {
        s_reject(k, rid, rid_len, "its routing id is too long to address a reply to");
        return;
    }
    s_route(k, sender, from, &f);
}

size_t lt_router_recv(lt_kernel_t *k, size_t budget)
{
    size_t done = 0;
    while (done < budget) {
        zmq_msg_t msgs[S_MAX_IN];
        size_t n = 0;
        bool failed = false;
        for (;;) {
            zmq_msg_t extra;
            zmq_msg_t *m = n < S_MAX_IN ? &msgs[n] : &extra;
            zmq_msg_init(m);
            if (zmq_msg_recv(m, k->router, ZMQ_DONTWAIT) < 0) {
                int e = errno;
                zmq_msg_close(m);
                if (n == 0 && e == EAGAIN)
                    return done;
                /* Parts of one message arrive together: this is the socket
                 * failing, not a peer. */
                lt_log_warn(&k->log, S_TAG, "receive failed: %s", zmq_strerror(e));
                failed = true;
                break;
            }
            bool more = zmq_msg_more(m);
            if (m == &extra)
                zmq_msg_close(m);
            else
                n++;
            if (!more)
                break;
        }
        if (!failed && n >= 1)
            s_handle(k, msgs, n);
        for (size_t i = 0; i < n; i++)
            zmq_msg_close(&msgs[i]);
        done++;
    }
    return done;
}

/* ---- time ---- */

void lt_router_tick(lt_kernel_t *k, uint64_t now)
{
    const uint64_t dead_after = (uint64_t)LT_FRAME_LIVENESS * LT_FRAME_HEARTBEAT_MS;
    for (size_t i = 0; i < k->nsvcs; i++) {
        lt_ksvc_t *s = &k->svcs[i];
        /* Hosted services share the kernel's thread: nothing to watch. */
        if (s->registered && !s->inproc && now - s->last_heard_ms > dead_after) {
            lt_log_warn(&k->log, s->name, "no heartbeat for %llu ms",
                        (unsigned long long)(now - s->last_heard_ms));
            lt_router_forget(k, s, "heartbeat lost");
            lt_sup_on_unregistered(k, s, true);
        }
        if (s->registered && !s->inproc && now - s->last_sent_ms >= LT_FRAME_HEARTBEAT_MS) {
            s_send_bare(k, s->rid, s->rid_len, LT_FRAME_HEARTBEAT);
            s->last_sent_ms = now;
        }
        /* Queue deadlines: the oldest message is at the head. */
        const lt_kmsg_t *m;
        while ((m = lt_kqueue_peek(&s->queue)) && now - m->queued_ms >= k->cfg->queue_deadline_ms) {
            lt_kmsg_t *old = lt_kqueue_pop(&s->queue);
            if (old->cmd == LT_FRAME_REQUEST)
                lt_router_reply_error(k, old->from, s->name, old->corr, old->type, LT_EUNAVAILABLE,
                                      "service %s is %s: the request waited %u ms in its queue; "
                                      "retry later",
                                      s->name, s_coming_why(s), k->cfg->queue_deadline_ms);
            free(old);
        }
        if (s->queue.count)
            lt_router_drain(k, s);
    }
}

uint64_t lt_router_next_deadline(const lt_kernel_t *k, uint64_t now)
{
    const uint64_t dead_after = (uint64_t)LT_FRAME_LIVENESS * LT_FRAME_HEARTBEAT_MS;
    uint64_t next = now + LT_FRAME_HEARTBEAT_MS;
    for (size_t i = 0; i < k->nsvcs; i++) {
        const lt_ksvc_t *s = &k->svcs[i];
        if (s->registered && !s->inproc) {
            uint64_t hb = s->last_sent_ms + LT_FRAME_HEARTBEAT_MS;
            uint64_t dead = s->last_heard_ms + dead_after + 1;
            next = hb < next ? hb : next;
            next = dead < next ? dead : next;
        }
        const lt_kmsg_t *m = lt_kqueue_peek(&s->queue);
        if (m) {
            uint64_t due = m->queued_ms + k->cfg->queue_deadline_ms;
            next = due < next ? due : next;
        }
        if (s->drain_blocked && now + S_BLOCKED_RETRY_MS < next)
            next = now + S_BLOCKED_RETRY_MS;
    }
    return next;
}
