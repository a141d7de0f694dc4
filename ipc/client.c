/* liblattice-client (see client.h): one DEALER to <home>/kernel.sock, LTK/1
 * frames from ipc/frame.h, nanopb bodies of schemas/store.proto and
 * schemas/kernel.proto with the view helpers of services/store/ops_codec.h.
 *
 * A call. Every call sends one REQUEST with a fresh corr and pumps the
 * socket until a REPLY to it arrives or the call's deadline passes. While it
 * waits, EVENTs of this handle's streams are queued for
 * lt_client_next_event, and replies to corrs it no longer waits for (an
 * earlier call that timed out) are dropped. A call may send its request more
 * than once (attempts): again with backoff when the store answers
 * LT_EUNAVAILABLE, and again after a silence when the request is idempotent,
 * because a request that reached a store process that then died is answered
 * by nobody. Writes carry one random request id for all their attempts, so
 * the store applies them once; a reply to any attempt of the call ends it.
 *
 * Streams. The store keeps watches in memory, tied to the corr of the
 * request and to this connection's client address: a store restart or a
 * kernel restart (the client reconnects under a new address) silently ends
 * them. So each stream remembers the pids of the kernel and of the store
 * process that accepted it, and while streams are open next_event asks the
 * kernel for its status about once a second; a pid that changed means the
 * stream is gone, which next_event reports as LT_EUNAVAILABLE.
 *
 * Replies are decoded strictly by ipc/client_decode.h: every fixed-size
 * field has its exact size, byte fields are copied out of the message into
 * owned NUL-terminated buffers, and anything that does not decode is
 * LT_EINVAL "malformed reply from store: ...". */
#include "ipc/client.h"

#include "ipc/client_decode.h"
#include "ipc/frame.h"
#include "store/ops_codec.h"
#include "store/store.h"
#include "weaver/types.h"

#include "kernel.pb.h"
#include "store.pb.h"
#include "sync.pb.h"

#include <pb_encode.h>
#include <sodium.h>
#include <zmq.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define S_STORE             "store"
#define S_SYNC              "sync"
#define S_SOCKET_NAME       "/kernel.sock"
#define S_REQUEST_ID_LEN    16
#define S_EVENTS_MAX        4096
#define S_EVENT_BYTES_MAX   (64u << 20)
#define S_BACKOFF_FIRST_MS  10
#define S_BACKOFF_MAX_MS    200
#define S_RESEND_FIRST_MS   1000
#define S_RESEND_MAX_MS     8000
#define S_ATTEMPTS_MAX      64
#define S_STREAMS_MAX       256
#define S_PROBE_INTERVAL_MS 1000
#define S_FOREVER           UINT64_MAX
#define S_NAME_MAX          255 /* StoreCreate.name, StoreResolve.query: char[256] */
#define S_SUN_PATH_MAX      (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)
#define S_SHORT_ID_HEX      8

typedef struct {
    uint64_t corr;
    uint32_t type;
    uint8_t *body;
    size_t len;
} s_event_t;

typedef struct {
    uint64_t id; /* the corr of the request the store acknowledged */
    int kind;    /* lt_client_event_kind_t */
    lt_client_store_id_t store;
    /* The processes that hold it (0: unknown, never checked). */
    uint32_t kernel_pid, store_pid;
} s_stream_t;

struct lt_client {
    void *zctx;
    void *sock;
    char home[1024];
    uint32_t timeout_ms;
    uint64_t next_corr;
    lt_errbuf_t eb;
    /* The call in progress: the corrs of its attempts. */
    uint64_t attempts[S_ATTEMPTS_MAX];
    size_t nattempts;
    /* The reply that ended the last wait: its corr, status and body. */
    bool replied;
    uint64_t reply_corr;
    uint32_t reply_status;
    lt_buf_t reply;
    /* Events waiting for next_event: a ring. */
    s_event_t *events;
    size_t ev_head, ev_count, ev_bytes;
    uint64_t ev_dropped;
    s_stream_t streams[S_STREAMS_MAX];
    size_t nstreams;
    /* The liveness probe of the streams' processes (a KERNEL_STATUS). */
    uint64_t probe_corr, probe_deadline, last_probe;
    bool streams_lost;
    char lost_why[200];
};

/* ---- small helpers ---- */

static uint64_t s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t s_min(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static uint64_t s_deadline(uint64_t now, uint64_t ms)
{
    return ms >= S_FOREVER - now ? S_FOREVER : now + ms;
}

static void s_short_id(const lt_client_store_id_t *id, char out[S_SHORT_ID_HEX + 1])
{
    lt_hex(id->b, S_SHORT_ID_HEX / 2, out);
}

/* Sets a fixed-size bytes field of a request. */
#define S_SET(field, src, n)                                                                       \
    do {                                                                                           \
        (field).size = (pb_size_t)(n);                                                             \
        memcpy((field).bytes, (src), (n));                                                         \
    } while (0)

static lt_err_t s_malformed(lt_client_t *c, const char *addr, const char *what)
{
    return lt_fail(&c->eb, LT_EINVAL, "malformed reply from %s: %s", addr, what);
}

/* ---- hex, names, home ---- */

void lt_client_hex(const uint8_t *b, size_t n, char *out)
{
    lt_hex(b, n, out);
}

lt_err_t lt_client_unhex(const char *s, uint8_t *b, size_t n)
{
    if (!s || strlen(s) != 2 * n)
        return LT_EINVAL;
    return lt_unhex(s, b, n) ? LT_OK : LT_EINVAL;
}

const char *lt_client_service_state_name(int state)
{
    switch (state) {
    case LT_SERVICE_STARTING:
        return "starting";
    case LT_SERVICE_READY:
        return "ready";
    case LT_SERVICE_BACKOFF:
        return "backoff";
    case LT_SERVICE_FAILED:
        return "failed";
    case LT_SERVICE_STOPPED:
        return "stopped";
    case LT_SERVICE_WAITING:
        return "waiting";
    default:
        return "unknown";
    }
}

lt_err_t lt_client_default_home(char *out, size_t cap)
{
    return lt_home_default(out, cap);
}

const char *lt_client_errmsg(const lt_client_t *c)
{
    return c ? c->eb.msg : "";
}

const char *lt_client_home(const lt_client_t *c)
{
    return c->home;
}

void lt_client_set_timeout(lt_client_t *c, uint32_t timeout_ms)
{
    c->timeout_ms = timeout_ms ? timeout_ms : LT_CLIENT_DEFAULT_TIMEOUT_MS;
}

int lt_client_fd(lt_client_t *c)
{
    int fd = -1;
    size_t sz = sizeof fd;
    if (zmq_getsockopt(c->sock, ZMQ_FD, &fd, &sz) != 0)
        return -1;
    return fd;
}

/* ---- events and streams ---- */

static s_stream_t *s_stream_find(lt_client_t *c, uint64_t id)
{
    for (size_t i = 0; i < c->nstreams; i++)
        if (c->streams[i].id == id)
            return &c->streams[i];
    return NULL;
}

static void s_stream_forget(lt_client_t *c, size_t i)
{
    c->streams[i] = c->streams[--c->nstreams];
}

static void s_event_pop(lt_client_t *c, s_event_t *out)
{
    *out = c->events[c->ev_head];
    c->ev_head = (c->ev_head + 1) % S_EVENTS_MAX;
    c->ev_count--;
    c->ev_bytes -= out->len;
}

/* Queues an event (the body is copied). A full queue drops its oldest: a
 * reader that does not keep up loses events rather than the node's memory,
 * and learns it from next_event (LT_EFULL). */
static void s_event_push(lt_client_t *c, uint64_t corr, uint32_t type, const uint8_t *body,
                         size_t len)
{
    while (c->ev_count && (c->ev_count == S_EVENTS_MAX || c->ev_bytes + len > S_EVENT_BYTES_MAX)) {
        s_event_t old;
        s_event_pop(c, &old);
        free(old.body);
        c->ev_dropped++;
    }
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) {
        c->ev_dropped++;
        return;
    }
    if (len)
        memcpy(copy, body, len);
    size_t tail = (c->ev_head + c->ev_count) % S_EVENTS_MAX;
    c->events[tail] = (s_event_t){corr, type, copy, len};
    c->ev_count++;
    c->ev_bytes += len;
}

/* Drops the queued events of one stream (0: of every stream). */
static void s_event_purge(lt_client_t *c, uint64_t stream)
{
    size_t n = c->ev_count;
    for (size_t i = 0; i < n; i++) {
        s_event_t e;
        s_event_pop(c, &e);
        if (stream == 0 || e.corr == stream) {
            free(e.body);
            continue;
        }
        size_t tail = (c->ev_head + c->ev_count) % S_EVENTS_MAX;
        c->events[tail] = e;
        c->ev_count++;
        c->ev_bytes += e.len;
    }
}

/* Whether an event with this corr may belong to a stream of this handle:
 * one it holds, or one the call in progress is starting. */
static bool s_event_wanted(const lt_client_t *c, uint64_t corr)
{
    for (size_t i = 0; i < c->nstreams; i++)
        if (c->streams[i].id == corr)
            return true;
    for (size_t i = 0; i < c->nattempts; i++)
        if (c->attempts[i] == corr)
            return true;
    return false;
}

static void s_streams_lost(lt_client_t *c, size_t i, const char *why)
{
    s_stream_forget(c, i);
    c->streams_lost = true;
    snprintf(c->lost_why, sizeof c->lost_why, "%s", why);
}

/* The answer to a liveness probe: streams held by a process that is gone
 * are gone too. */
static void s_probe_answered(lt_client_t *c, uint32_t status, const uint8_t *body, size_t len)
{
    c->probe_corr = 0;
    uint32_t kernel_pid, store_pid;
    if (status != LT_OK || !lt_client_decode_pids(body, len, S_STORE, &kernel_pid, &store_pid))
        return; /* a kernel that cannot tell: nothing is known to have changed */
    for (size_t i = c->nstreams; i-- > 0;) {
        const s_stream_t *s = &c->streams[i];
        if (s->kernel_pid && s->kernel_pid != kernel_pid)
            s_streams_lost(
                c, i, "the node restarted: its watches and follows are gone; start them again");
        else if (s->store_pid && s->store_pid != store_pid)
            s_streams_lost(c, i,
                           "the store service restarted: its watches and follows are gone; start "
                           "them again");
    }
}

/* ---- the socket ---- */

/* What a pump waits for besides a reply to the call in progress. */
typedef enum {
    S_UNTIL_REPLY = 0,
    S_UNTIL_EVENT = 1, /* also stop once any message arrived */
} s_until_t;

/* Handles one decoded message. */
static void s_dispatch(lt_client_t *c, const lt_frame_t *f)
{
    if (f->cmd == LT_FRAME_EVENT) {
        if (s_event_wanted(c, f->corr))
            s_event_push(c, f->corr, f->type, f->body, f->len);
        return;
    }
    if (f->cmd != LT_FRAME_REPLY)
        return; /* a kernel says nothing else to a client; ignore what it may add */
    if (c->probe_corr && f->corr == c->probe_corr) {
        s_probe_answered(c, f->status, f->body, f->len);
        return;
    }
    for (size_t i = 0; i < c->nattempts && !c->replied; i++) {
        if (c->attempts[i] != f->corr)
            continue;
        lt_buf_reset(&c->reply);
        if (lt_buf_append(&c->reply, f->body, f->len) != LT_OK) {
            /* Not enough memory to keep it: as if it were lost (a retry or
             * the deadline follows). */
            return;
        }
        c->replied = true;
        c->reply_corr = f->corr;
        c->reply_status = f->status;
        return;
    }
    /* A reply to a call that has ended (it timed out): stale. */
}

/* Receives one message if one is waiting. *got says whether one was read
 * (it may have been dropped). LT_EIO when the socket fails. */
static lt_err_t s_recv_one(lt_client_t *c, bool *got)
{
    zmq_msg_t msgs[LT_FRAME_MAX_PARTS];
    lt_frame_part_t parts[LT_FRAME_MAX_PARTS];
    size_t n = 0;
    bool extra = false, more = true;
    lt_err_t rc = LT_OK;
    *got = false;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        int r = zmq_msg_recv(&m, c->sock, n == 0 && !extra ? ZMQ_DONTWAIT : 0);
        if (r < 0) {
            zmq_msg_close(&m);
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN && n == 0 && !extra)
                break;
            rc = lt_fail(&c->eb, LT_EIO, "receiving from the node failed: %s", zmq_strerror(errno));
            break;
        }
        more = zmq_msg_more(&m);
        if (n < LT_FRAME_MAX_PARTS) {
            msgs[n] = m;
            parts[n] = (lt_frame_part_t){zmq_msg_data(&msgs[n]), zmq_msg_size(&msgs[n])};
            n++;
        } else {
            extra = true; /* too many parts: drain and drop the message */
            zmq_msg_close(&m);
        }
    }
    if (rc == LT_OK && n > 0) {
        *got = true;
        /* Parts of a message arrive together, so the loop above ends only
         * at its last part; a message that breaks LTK/1 is dropped. */
        lt_frame_t f;
        if (!extra && lt_frame_decode(parts, n, &f, NULL, NULL) == LT_OK)
            s_dispatch(c, &f);
    }
    for (size_t i = 0; i < n; i++)
        zmq_msg_close(&msgs[i]);
    return rc;
}

/* Reads what is waiting, then waits up to `until` for a reply to the call
 * in progress (or for an event, per `what`). LT_OK when that arrived,
 * LT_ETIMEDOUT when `until` passed first, LT_EIO when the socket failed. */
static lt_err_t s_pump(lt_client_t *c, uint64_t until, s_until_t what)
{
    for (;;) {
        bool got = true, any = false;
        while (got) {
            lt_err_t rc = s_recv_one(c, &got);
            if (rc)
                return rc;
            if (c->replied)
                return LT_OK;
            any |= got;
        }
        /* Waiting for events: whatever arrived (an event, a probe's
         * answer) may change what the caller does next. */
        if (what == S_UNTIL_EVENT && any)
            return LT_OK;
        uint64_t now = s_now();
        if (now >= until)
            return LT_ETIMEDOUT;
        uint64_t wait = until - now;
        zmq_pollitem_t item = {c->sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, wait > 60000 ? 60000 : (long)wait) < 0 && errno != EINTR)
            return lt_fail(&c->eb, LT_EIO, "waiting for the node failed: %s", zmq_strerror(errno));
    }
}

/* Sends one REQUEST, waiting until `deadline` for room in the socket. */
static lt_err_t s_send(lt_client_t *c, const char *addr, uint64_t corr, uint32_t type,
                       const uint8_t *body, size_t len, uint64_t deadline)
{
    lt_frame_t f = {.cmd = LT_FRAME_REQUEST, .corr = corr, .type = type, .body = body, .len = len};
    snprintf(f.addr, sizeof f.addr, "%s", addr);
    lt_frame_part_t parts[LT_FRAME_MAX_PARTS];
    size_t n = 0;
    lt_frame_scratch_t scratch;
    lt_errbuf_t eb = {""};
    if (lt_frame_encode(&f, parts, &n, &scratch, &eb) != LT_OK)
        return lt_fail(&c->eb, LT_EINVAL, "the request cannot be sent: %s", eb.msg);
    for (size_t i = 0; i < n;) {
        int flags = (i + 1 < n ? ZMQ_SNDMORE : 0) | (i == 0 ? ZMQ_DONTWAIT : 0);
        if (zmq_send(c->sock, parts[i].p, parts[i].len, flags) >= 0) {
            i++;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN || i > 0)
            return lt_fail(&c->eb, LT_EIO, "sending to the node failed: %s", zmq_strerror(errno));
        /* The first part decides: once it is queued, the others are too. */
        uint64_t now = s_now();
        if (now >= deadline)
            return LT_ETIMEDOUT;
        zmq_pollitem_t item = {c->sock, 0, ZMQ_POLLOUT, 0};
        uint64_t wait = deadline - now;
        if (zmq_poll(&item, 1, wait > 60000 ? 60000 : (long)wait) < 0 && errno != EINTR)
            return lt_fail(&c->eb, LT_EIO, "waiting to send to the node failed: %s",
                           zmq_strerror(errno));
    }
    return LT_OK;
}

/* ---- calls ---- */

typedef struct {
    const char *addr; /* S_STORE, S_SYNC or LT_FRAME_KERNEL_ADDR */
    uint32_t type;
    const lt_buf_t *body;
    bool retry;                        /* answered LT_EUNAVAILABLE: send again after a backoff */
    bool resend;                       /* idempotent: send again when no answer came for a while */
    const lt_client_store_id_t *store; /* named in error messages (may be NULL) */
} s_call_t;

static const char *s_who(const s_call_t *k)
{
    if (strcmp(k->addr, LT_FRAME_KERNEL_ADDR) == 0)
        return "the node";
    return strcmp(k->addr, S_SYNC) == 0 ? "the sync service" : "the store service";
}

/* Sets the handle's message for a failed reply. */
static lt_err_t s_reply_failed(lt_client_t *c, const s_call_t *k, lt_err_t status)
{
    char msg[sizeof((lattice_store_Error *)0)->message];
    bool has = lt_client_decode_error(c->reply.data, c->reply.len, msg, sizeof msg);
    char idhex[2 * LT_STORE_ID_LEN + 1], sid[S_SHORT_ID_HEX + 1];
    if (has && k->store) {
        lt_hex(k->store->b, LT_STORE_ID_LEN, idhex);
        s_short_id(k->store, sid);
        if (strstr(msg, idhex))
            return lt_fail(&c->eb, status, "%s", msg);
        return lt_fail(&c->eb, status, "store %s: %s", sid, msg);
    }
    if (has)
        return lt_fail(&c->eb, status, "%s", msg);
    switch (status) {
    case LT_EUNAVAILABLE:
        return lt_fail(&c->eb, status, "%s is unavailable (restarting); try again later", s_who(k));
    case LT_EFAILED:
        return lt_fail(&c->eb, status,
                       "%s has failed and is not being restarted (see: lattice node services)",
                       s_who(k));
    case LT_ENOTFOUND:
        if (strcmp(k->addr, LT_FRAME_KERNEL_ADDR) == 0)
            return lt_fail(&c->eb, status, "the node does not know this request (type %u)",
                           (unsigned)k->type);
        return lt_fail(&c->eb, status, "this node runs no %s service (see: lattice node services)",
                       k->addr);
    default:
        return lt_fail(&c->eb, status, "%s failed: %s", s_who(k), lt_strerror(status));
    }
}

/* Sends k and waits for its answer until the handle's timeout, with the
 * attempts the header of this file describes. On LT_OK the reply body is in
 * c->reply and c->reply_corr names the attempt answered. */
static lt_err_t s_call(lt_client_t *c, const s_call_t *k)
{
    const uint8_t *body = k->body ? k->body->data : NULL;
    size_t len = k->body ? k->body->len : 0;
    if (len > LT_FRAME_MAX_BODY)
        return lt_fail(&c->eb, LT_EINVAL, "the request is too large (%zu bytes; at most %d)", len,
                       LT_FRAME_MAX_BODY);
    uint64_t now = s_now();
    uint64_t deadline = s_deadline(now, c->timeout_ms);
    uint64_t next_send = now, latest = 0;
    uint64_t backoff = S_BACKOFF_FIRST_MS, resend = S_RESEND_FIRST_MS;
    bool unavailable = false, refused = false;
    lt_errbuf_t unavailable_eb = {""};
    lt_err_t rc;
    c->nattempts = 0;
    c->replied = false;
    for (;;) {
        now = s_now();
        if (now >= deadline)
            break;
        if (next_send <= now) {
            /* A resend after a silence waits longer each time; one after a
             * refusal follows the backoff instead. */
            bool silence = latest != 0 && !refused;
            refused = false;
            if (silence)
                resend = s_min(resend * 2, S_RESEND_MAX_MS);
            latest = c->next_corr++;
            if (c->nattempts == S_ATTEMPTS_MAX) {
                memmove(c->attempts, c->attempts + 1, (S_ATTEMPTS_MAX - 1) * sizeof *c->attempts);
                c->nattempts--;
            }
            c->attempts[c->nattempts++] = latest;
            rc = s_send(c, k->addr, latest, k->type, body, len, deadline);
            if (rc == LT_ETIMEDOUT)
                break;
            if (rc)
                goto out;
            next_send = k->resend ? s_deadline(s_now(), resend) : S_FOREVER;
        }
        rc = s_pump(c, s_min(deadline, next_send), S_UNTIL_REPLY);
        if (rc == LT_ETIMEDOUT)
            continue;
        if (rc)
            goto out;
        lt_err_t status = (lt_err_t)c->reply_status;
        if (status == LT_EUNAVAILABLE && k->retry) {
            unavailable = true;
            (void)s_reply_failed(c, k, status);
            unavailable_eb = c->eb;
            c->replied = false;
            /* Only the newest attempt's refusal says to send again; an older
             * one's means the newest is still on its way. */
            if (c->reply_corr == latest) {
                refused = true;
                next_send = s_deadline(s_now(), backoff);
                backoff = s_min(backoff * 2, S_BACKOFF_MAX_MS);
            }
            continue;
        }
        if (status == LT_OK)
            lt_errbuf_clear(&c->eb); /* a refusal before may have left its line */
        rc = status == LT_OK ? LT_OK : s_reply_failed(c, k, status);
        goto out;
    }
    if (unavailable) {
        c->eb = unavailable_eb;
        rc = LT_EUNAVAILABLE;
    } else if (strcmp(k->addr, LT_FRAME_KERNEL_ADDR) == 0) {
        rc = lt_fail(&c->eb, LT_ETIMEDOUT, "no reply from the node at %s within %u ms", c->home,
                     (unsigned)c->timeout_ms);
    } else {
        rc = lt_fail(&c->eb, LT_ETIMEDOUT, "no reply from the %s service within %u ms", k->addr,
                     (unsigned)c->timeout_ms);
    }
out:
    c->nattempts = 0;
    c->replied = false;
    return rc;
}

static lt_err_t s_encode(lt_client_t *c, const pb_msgdesc_t *fields, const void *msg, lt_buf_t *out)
{
    lt_err_t rc = lt_pb_encode_static(fields, msg, out);
    if (rc)
        return lt_fail(&c->eb, rc, "encoding the request failed: %s", lt_strerror(rc));
    return LT_OK;
}

static void s_request_id(pb_bytes_array_t *f)
{
    f->size = S_REQUEST_ID_LEN;
    randombytes_buf(f->bytes, S_REQUEST_ID_LEN);
}
#define S_RID(field) s_request_id((pb_bytes_array_t *)&(field))

/* A store call: reads and writes are retried alike (writes are safe to
 * retry by their request id). */
static lt_err_t s_store_call(lt_client_t *c, uint32_t type, const lt_buf_t *body,
                             const lt_client_store_id_t *store)
{
    s_call_t k = {S_STORE, type, body, true, true, store};
    return s_call(c, &k);
}

/* Encodes msg and calls the store with it. */
static lt_err_t s_store_request(lt_client_t *c, uint32_t type, const pb_msgdesc_t *fields,
                                const void *msg, const lt_client_store_id_t *store)
{
    lt_buf_t b = LT_BUF_INIT;
    lt_err_t rc = s_encode(c, fields, msg, &b);
    if (rc == LT_OK)
        rc = s_store_call(c, type, &b, store);
    lt_buf_free(&b);
    return rc;
}

static lt_err_t s_expect_empty(lt_client_t *c, const char *addr)
{
    return c->reply.len == 0 ? LT_OK : s_malformed(c, addr, "a body where none was expected");
}

/* ---- connecting ---- */

/* Whether something listens on the socket at path: a refused connection is
 * the file of a node that is gone (it crashed or was killed), which libzmq
 * would otherwise retry silently until the timeout. */
static bool s_refused(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path));
    bool refused = connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 && errno == ECONNREFUSED;
    close(fd);
    return refused;
}

static lt_err_t s_no_node(lt_errbuf_t *eb, const char *home)
{
    return lt_fail(eb, LT_ENOTFOUND, "no node is running at %s (start it with: latticed --home %s)",
                   home, home);
}

/* One ZeroMQ context for every handle of the process (as CZMQ's zsys
 * does): each context runs an I/O thread, and 16 handles in 16 threads
 * with 16 I/O threads cost more wakeups than the requests themselves on a
 * small machine. The last handle closed ends it. The process-wide state of
 * a library, so behind a mutex; a child of fork() must not use the handles
 * of its parent (a ZeroMQ rule). */
static pthread_mutex_t s_ctx_mu = PTHREAD_MUTEX_INITIALIZER;
static void *s_ctx;
static unsigned s_ctx_refs;

static void *s_ctx_acquire(void)
{
    pthread_mutex_lock(&s_ctx_mu);
    if (!s_ctx)
        s_ctx = zmq_ctx_new();
    void *ctx = s_ctx;
    if (ctx)
        s_ctx_refs++;
    pthread_mutex_unlock(&s_ctx_mu);
    return ctx;
}

/* After the handle's socket is closed (zmq_ctx_term waits for sockets). */
static void s_ctx_release(void)
{
    pthread_mutex_lock(&s_ctx_mu);
    if (s_ctx_refs && --s_ctx_refs == 0) {
        zmq_ctx_term(s_ctx);
        s_ctx = NULL;
    }
    pthread_mutex_unlock(&s_ctx_mu);
}

lt_err_t lt_client_connect(const lt_client_opts_t *opts, lt_client_t **out, lt_errbuf_t *eb)
{
    *out = NULL;
    char home[sizeof((lt_client_t *)0)->home];
    if (opts && opts->home && opts->home[0]) {
        if (strlen(opts->home) >= sizeof home)
            return lt_fail(eb, LT_EINVAL, "the home path is too long (%zu bytes)",
                           strlen(opts->home));
        snprintf(home, sizeof home, "%s", opts->home);
    } else if (lt_client_default_home(home, sizeof home) != LT_OK) {
        return lt_fail(eb, LT_EINVAL,
                       "no home: set LATTICE_HOME (or XDG_DATA_HOME or HOME), or pass one");
    }
    char path[sizeof home + sizeof S_SOCKET_NAME];
    snprintf(path, sizeof path, "%s%s", home, S_SOCKET_NAME);
    if (strlen(path) > S_SUN_PATH_MAX)
        return lt_fail(eb, LT_EINVAL,
                       "the home %s is too long for the node's socket (%s: %zu bytes, at most "
                       "%zu)",
                       home, path, strlen(path), (size_t)S_SUN_PATH_MAX);
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return s_no_node(eb, home);
        return lt_fail(eb, LT_EIO, "cannot reach the node at %s: %s: %s", home, path,
                       strerror(errno));
    }
    if (!S_ISSOCK(st.st_mode) || s_refused(path))
        return s_no_node(eb, home);
    if (sodium_init() < 0)
        return lt_fail(eb, LT_EIO, "libsodium failed to initialise");

    lt_client_t *c = calloc(1, sizeof *c);
    if (!c || !(c->events = calloc(S_EVENTS_MAX, sizeof *c->events))) {
        free(c);
        return lt_fail(eb, LT_ENOMEM, "out of memory");
    }
    snprintf(c->home, sizeof c->home, "%s", home);
    lt_client_set_timeout(c, opts ? opts->timeout_ms : 0);
    c->next_corr = 1;
    lt_err_t rc = LT_OK;
    int64_t maxmsg = LT_FRAME_MAX_PART;
    int linger = 0;
    char endpoint[sizeof path + 8];
    snprintf(endpoint, sizeof endpoint, "ipc://%s", path);
    c->zctx = s_ctx_acquire();
    if (c->zctx)
        c->sock = zmq_socket(c->zctx, ZMQ_DEALER);
    if (!c->sock || zmq_setsockopt(c->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0 ||
        zmq_setsockopt(c->sock, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_connect(c->sock, endpoint) != 0)
        rc = lt_fail(eb, LT_EIO, "cannot open a socket to %s: %s", endpoint, zmq_strerror(errno));
    if (rc == LT_OK) {
        rc = lt_client_ping(c);
        if (rc == LT_ETIMEDOUT)
            rc = s_no_node(eb, home);
        else if (rc)
            lt_fail(eb, rc, "%s", c->eb.msg);
    }
    if (rc) {
        lt_client_close(&c);
        return rc;
    }
    *out = c;
    return LT_OK;
}

void lt_client_close(lt_client_t **c_p)
{
    lt_client_t *c = c_p ? *c_p : NULL;
    if (!c)
        return;
    if (c->sock)
        zmq_close(c->sock);
    if (c->zctx)
        s_ctx_release();
    if (c->events) {
        s_event_purge(c, 0);
        free(c->events);
    }
    lt_buf_free(&c->reply);
    free(c);
    *c_p = NULL;
}

/* ---- the node ---- */

static lt_err_t s_kernel_call(lt_client_t *c, uint32_t type, const lt_buf_t *body, bool idempotent)
{
    s_call_t k = {LT_FRAME_KERNEL_ADDR, type, body, false, idempotent, NULL};
    return s_call(c, &k);
}

lt_err_t lt_client_ping(lt_client_t *c)
{
    lt_errbuf_clear(&c->eb);
    lt_err_t rc = s_kernel_call(c, lattice_kernel_KernelMsgType_KERNEL_PING, NULL, true);
    return rc ? rc : s_expect_empty(c, "the node");
}

lt_err_t lt_client_node_status(lt_client_t *c, lt_client_node_status_t *out)
{
    lt_errbuf_clear(&c->eb);
    memset(out, 0, sizeof *out);
    lt_err_t rc = s_kernel_call(c, lattice_kernel_KernelMsgType_KERNEL_STATUS, NULL, true);
    if (rc)
        return rc;
    return lt_client_decode_node_status(c->reply.data, c->reply.len, out, &c->eb);
}

lt_err_t lt_client_node_services(lt_client_t *c, lt_client_service_t *services, size_t cap,
                                 size_t *n)
{
    lt_errbuf_clear(&c->eb);
    *n = 0;
    lt_err_t rc = s_kernel_call(c, lattice_kernel_KernelMsgType_KERNEL_SERVICES, NULL, true);
    if (rc)
        return rc;
    return lt_client_decode_services(c->reply.data, c->reply.len, services, cap, n, &c->eb);
}

lt_err_t lt_client_node_restart(lt_client_t *c, const char *service)
{
    lt_errbuf_clear(&c->eb);
    lattice_kernel_ServiceRef m = lattice_kernel_ServiceRef_init_zero;
    if (!service || !service[0] || strlen(service) >= sizeof m.name)
        return lt_fail(&c->eb, LT_EINVAL, "a service name has 1 to %zu characters",
                       sizeof m.name - 1);
    snprintf(m.name, sizeof m.name, "%s", service);
    lt_buf_t b = LT_BUF_INIT;
    lt_err_t rc = s_encode(c, lattice_kernel_ServiceRef_fields, &m, &b);
    if (rc == LT_OK)
        rc = s_kernel_call(c, lattice_kernel_KernelMsgType_KERNEL_RESTART, &b, false);
    lt_buf_free(&b);
    return rc ? rc : s_expect_empty(c, "the node");
}

/* Whether process pid has exited: gone, or a zombie its parent has not
 * reaped yet (it holds no files, no lock any more). */
static bool s_exited(uint32_t pid)
{
    if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
        return true;
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%u/stat", (unsigned)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return true;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *paren = strrchr(buf, ')'); /* the name may hold anything */
    return paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
}

lt_err_t lt_client_node_stop(lt_client_t *c)
{
    lt_errbuf_clear(&c->eb);
    lt_client_node_status_t *st = malloc(sizeof *st);
    if (!st)
        return lt_fail(&c->eb, LT_ENOMEM, "out of memory");
    lt_err_t rc = lt_client_node_status(c, st);
    uint32_t pid = st->pid;
    free(st);
    if (rc)
        return rc;
    uint64_t deadline = s_deadline(s_now(), c->timeout_ms);
    rc = s_kernel_call(c, lattice_kernel_KernelMsgType_KERNEL_STOP, NULL, false);
    if (rc == LT_OK)
        rc = s_expect_empty(c, "the node");
    if (rc)
        return rc;
    /* Stopping takes the services' own stop time; then the process ends.
     * A pidfd becomes readable when it does; without one (an old kernel),
     * look every 10 ms. */
    int pfd = -1;
#ifdef SYS_pidfd_open
    if (pid)
        pfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
#endif
    while (pid && !s_exited(pid)) {
        uint64_t now = s_now();
        if (now >= deadline) {
            if (pfd >= 0)
                close(pfd);
            return lt_fail(&c->eb, LT_ETIMEDOUT,
                           "the node (pid %u) is still stopping after %u ms; it goes on", pid,
                           (unsigned)c->timeout_ms);
        }
        uint64_t wait = s_min(deadline - now, pfd >= 0 ? 1000 : 10);
        struct pollfd p = {.fd = pfd, .events = POLLIN};
        if (pfd < 0 || poll(&p, 1, (int)wait) < 0) {
            struct timespec ts = {0, (long)wait * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    if (pfd >= 0)
        close(pfd);
    return LT_OK;
}

/* The pids of the kernel and of the store process now (0 when unknown):
 * a stream started after this is held by them or by later ones. Should a
 * restart fall between this and the stream's request, the probe reports a
 * stream lost that is not: a false alarm costs the caller a restart of the
 * stream, where a missed loss would cost it every event after. */
static void s_incarnation(lt_client_t *c, uint32_t *kernel_pid, uint32_t *store_pid)
{
    lt_client_node_status_t *st = malloc(sizeof *st);
    *kernel_pid = *store_pid = 0;
    if (st && lt_client_node_status(c, st) == LT_OK) {
        *kernel_pid = st->pid;
        for (size_t i = 0; i < st->nservices; i++)
            if (strcmp(st->services[i].name, S_STORE) == 0)
                *store_pid = st->services[i].pid;
    }
    free(st);
    lt_errbuf_clear(&c->eb);
}

/* ---- stores ---- */

lt_err_t lt_client_store_create(lt_client_t *c, lt_client_store_type_t type, const char *name,
                                const lt_client_store_id_t *parent, lt_client_store_id_t *out)
{
    lt_errbuf_clear(&c->eb);
    lattice_store_StoreCreate m = lattice_store_StoreCreate_init_zero;
    if (type != LT_CLIENT_STORE_KV && type != LT_CLIENT_STORE_LOG)
        return lt_fail(&c->eb, LT_EINVAL, "unknown store type %d", (int)type);
    if (name && strlen(name) > S_NAME_MAX)
        return lt_fail(&c->eb, LT_EINVAL, "a store name has at most %d bytes", S_NAME_MAX);
    m.type = type == LT_CLIENT_STORE_LOG ? lattice_store_StoreType_STORE_TYPE_LOG
                                         : lattice_store_StoreType_STORE_TYPE_KV;
    snprintf(m.name, sizeof m.name, "%s", name ? name : "");
    if (parent)
        S_SET(m.parent, parent->b, LT_STORE_ID_LEN);
    S_RID(m.request_id);
    lt_err_t rc = s_store_request(c, lattice_store_StoreMsgType_STORE_CREATE,
                                  lattice_store_StoreCreate_fields, &m, parent);
    if (rc)
        return rc;
    return lt_client_decode_store_created(c->reply.data, c->reply.len, out, &c->eb);
}

lt_err_t lt_client_store_list(lt_client_t *c, lt_client_store_t **out, size_t *n)
{
    lt_errbuf_clear(&c->eb);
    *out = NULL;
    *n = 0;
    lt_err_t rc = s_store_call(c, lattice_store_StoreMsgType_STORE_LIST, NULL, NULL);
    if (rc)
        return rc;
    return lt_client_decode_store_list(c->reply.data, c->reply.len, out, n, &c->eb);
}

/* Encodes a StoreRef body (with a request id for writes). */
static lt_err_t s_store_ref(lt_client_t *c, const lt_client_store_id_t *id, bool write, lt_buf_t *b)
{
    lattice_store_StoreRef m = lattice_store_StoreRef_init_zero;
    S_SET(m.store, id->b, LT_STORE_ID_LEN);
    if (write)
        S_RID(m.request_id);
    return s_encode(c, lattice_store_StoreRef_fields, &m, b);
}

lt_err_t lt_client_store_info(lt_client_t *c, const lt_client_store_id_t *id,
                              lt_client_store_info_t *out)
{
    lt_errbuf_clear(&c->eb);
    memset(out, 0, sizeof *out);
    lt_buf_t b = LT_BUF_INIT;
    lt_err_t rc = s_store_ref(c, id, false, &b);
    if (rc == LT_OK)
        rc = s_store_call(c, lattice_store_StoreMsgType_STORE_INFO, &b, id);
    lt_buf_free(&b);
    if (rc)
        return rc;
    return lt_client_decode_store_info(c->reply.data, c->reply.len, out, &c->eb);
}

lt_err_t lt_client_store_verify(lt_client_t *c, const lt_client_store_id_t *id, uint64_t *records)
{
    lt_errbuf_clear(&c->eb);
    *records = 0;
    lt_buf_t b = LT_BUF_INIT;
    lt_err_t rc = s_store_ref(c, id, false, &b);
    /* Not resent after a silence: the answer comes at the end, and a copy
     * would wait behind the first. Sent again when refused for now (a
     * restarting store, another verify running). */
    s_call_t k = {S_STORE, lattice_store_StoreMsgType_STORE_VERIFY, &b, true, false, id};
    if (rc == LT_OK)
        rc = s_call(c, &k);
    lt_buf_free(&b);
    if (rc)
        return rc;
    return lt_client_decode_store_verified(c->reply.data, c->reply.len, records, &c->eb);
}

lt_err_t lt_client_store_remove(lt_client_t *c, const lt_client_store_id_t *id)
{
    lt_errbuf_clear(&c->eb);
    lt_buf_t b = LT_BUF_INIT;
    lt_err_t rc = s_store_ref(c, id, true, &b);
    if (rc == LT_OK)
        rc = s_store_call(c, lattice_store_StoreMsgType_STORE_REMOVE, &b, id);
    lt_buf_free(&b);
    return rc ? rc : s_expect_empty(c, S_STORE);
}

lt_err_t lt_client_store_resolve(lt_client_t *c, const char *query, lt_client_store_id_t *out)
{
    lt_errbuf_clear(&c->eb);
    lattice_store_StoreResolve m = lattice_store_StoreResolve_init_zero;
    if (!query || !query[0])
        return lt_fail(&c->eb, LT_EINVAL, "which store? give an id, an id prefix or a name");
    if (strlen(query) > S_NAME_MAX)
        return lt_fail(&c->eb, LT_ENOTFOUND,
                       "no store named '%.40s...' (names are at most %d bytes)", query, S_NAME_MAX);
    snprintf(m.query, sizeof m.query, "%s", query);
    lt_err_t rc = s_store_request(c, lattice_store_StoreMsgType_STORE_RESOLVE,
                                  lattice_store_StoreResolve_fields, &m, NULL);
    if (rc)
        return rc;
    return lt_client_decode_store_ref(c->reply.data, c->reply.len, out, &c->eb);
}

/* ---- peers ---- */

lt_err_t lt_client_peer_invite(lt_client_t *c, const lt_client_store_id_t *store, uint64_t ttl_ms,
                               lt_client_invite_t *out)
{
    lt_errbuf_clear(&c->eb);
    memset(out, 0, sizeof *out);
    lattice_store_PeerInvite m = lattice_store_PeerInvite_init_zero;
    S_SET(m.store, store->b, LT_STORE_ID_LEN);
    m.ttl_ms = ttl_ms;
    S_RID(m.request_id);
    lt_err_t rc = s_store_request(c, lattice_store_StoreMsgType_PEER_INVITE,
                                  lattice_store_PeerInvite_fields, &m, store);
    if (rc == LT_OK)
        rc = lt_client_decode_invited(c->reply.data, c->reply.len, out, &c->eb);
    sodium_memzero(c->reply.data, c->reply.len);
    if (rc)
        return rc;
    out->store = *store;
    /* The inviter's key: the node's own, from its status. */
    lt_client_node_status_t st;
    rc = lt_client_node_status(c, &st);
    if (rc) {
        sodium_memzero(out, sizeof *out);
        return rc;
    }
    out->inviter = st.node_key;
    for (size_t i = 0; i < st.nlisten && out->naddrs < LT_CLIENT_INVITE_MAX_ADDRS; i++)
        if (strlen(st.listen[i]) <= LT_CLIENT_INVITE_ADDR_MAX)
            snprintf(out->addrs[out->naddrs++], sizeof out->addrs[0], "%s", st.listen[i]);
    return LT_OK;
}

lt_err_t lt_client_peer_list(lt_client_t *c, const lt_client_store_id_t *store,
                             lt_client_peer_t **out, size_t *n)
{
    lt_errbuf_clear(&c->eb);
    *out = NULL;
    *n = 0;
    lt_buf_t b = LT_BUF_INIT;
    lt_err_t rc = s_store_ref(c, store, false, &b);
    if (rc == LT_OK)
        rc = s_store_call(c, lattice_store_StoreMsgType_PEER_LIST, &b, store);
    lt_buf_free(&b);
    if (rc)
        return rc;
    return lt_client_decode_peer_list(c->reply.data, c->reply.len, out, n, &c->eb);
}

lt_err_t lt_client_sync(lt_client_t *c, const lt_client_store_id_t *store,
                        lt_client_sync_peer_t **out, size_t *n)
{
    lt_errbuf_clear(&c->eb);
    *out = NULL;
    *n = 0;
    lattice_sync_SyncNow m = lattice_sync_SyncNow_init_zero;
    S_SET(m.store, store->b, LT_STORE_ID_LEN);
    lt_buf_t b = LT_BUF_INIT;
    lt_err_t rc = s_encode(c, lattice_sync_SyncNow_fields, &m, &b);
    /* Not resent on silence: a session with a slow peer takes a while, and
     * a second request would start a second round. */
    s_call_t k = {S_SYNC, lattice_sync_SyncMsgType_SYNC_NOW, &b, true, false, store};
    if (rc == LT_OK)
        rc = s_call(c, &k);
    lt_buf_free(&b);
    if (rc)
        return rc;
    return lt_client_decode_sync_report(c->reply.data, c->reply.len, out, n, &c->eb);
}

lt_err_t lt_client_peer_revoke(lt_client_t *c, const lt_client_store_id_t *store,
                               const lt_client_key_t *peer, lt_client_hash_t *hash)
{
    lt_errbuf_clear(&c->eb);
    lattice_store_PeerRef m = lattice_store_PeerRef_init_zero;
    S_SET(m.store, store->b, LT_STORE_ID_LEN);
    S_SET(m.key, peer->b, LT_KEY_LEN);
    S_RID(m.request_id);
    lt_err_t rc = s_store_request(c, lattice_store_StoreMsgType_PEER_REVOKE,
                                  lattice_store_PeerRef_fields, &m, store);
    return rc ? rc : lt_client_decode_written(c->reply.data, c->reply.len, hash, &c->eb);
}

static uint64_t s_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

lt_err_t lt_client_peer_join(lt_client_t *c, const lt_client_invite_t *inv,
                             lt_client_store_id_t *out)
{
    lt_errbuf_clear(&c->eb);
    if (inv->expires_ms <= s_wall_ms())
        return lt_fail(&c->eb, LT_EREFUSED, "the token has expired: ask for a new one");
    if (inv->naddrs == 0)
        return lt_fail(&c->eb, LT_EINVAL,
                       "the token names no address of the inviting node (it listens nowhere: "
                       "it must run latticed --listen)");
    lt_client_node_status_t st;
    lt_err_t rc = lt_client_node_status(c, &st);
    if (rc)
        return rc;
    if (memcmp(st.node_key.b, inv->inviter.b, LT_KEY_LEN) == 0)
        return lt_fail(&c->eb, LT_EINVAL, "this node made the token: give it to another node");
    lt_client_store_info_t info;
    rc = lt_client_store_info(c, &inv->store, &info);
    if (rc == LT_OK)
        return lt_fail(&c->eb, LT_EEXIST, "this node holds the store already");
    if (rc != LT_ENOTFOUND)
        return rc;
    lt_errbuf_clear(&c->eb);

    /* A link to the inviter, then the secret to its store over it. */
    lattice_kernel_LinkTo lm = lattice_kernel_LinkTo_init_zero;
    S_SET(lm.key, inv->inviter.b, LT_KEY_LEN);
    for (size_t i = 0; i < inv->naddrs && lm.addrs_count < 8; i++)
        snprintf(lm.addrs[lm.addrs_count++], sizeof lm.addrs[0], "%s", inv->addrs[i]);
    lt_buf_t b = LT_BUF_INIT;
    rc = s_encode(c, lattice_kernel_LinkTo_fields, &lm, &b);
    if (rc == LT_OK)
        rc = s_kernel_call(c, lattice_kernel_KernelMsgType_KERNEL_LINK, &b, true);
    lt_buf_free(&b);
    if (rc)
        return rc;
    char addr[LT_ADDR_MAX];
    char hex[2 * LT_KEY_LEN + 1];
    lt_client_hex(inv->inviter.b, LT_KEY_LEN, hex);
    snprintf(addr, sizeof addr, "%s@%s", S_STORE, hex);
    lattice_store_PeerJoin jm = lattice_store_PeerJoin_init_zero;
    S_SET(jm.store, inv->store.b, LT_STORE_ID_LEN);
    S_SET(jm.secret, inv->secret, LT_CLIENT_INVITE_SECRET_LEN);
    S_RID(jm.request_id);
    rc = s_encode(c, lattice_store_PeerJoin_fields, &jm, &b);
    sodium_memzero(&jm, sizeof jm);
    if (rc == LT_OK) {
        s_call_t k = {addr, lattice_store_StoreMsgType_PEER_JOIN, &b, true, true, &inv->store};
        rc = s_call(c, &k);
    }
    sodium_memzero(b.data, b.len);
    lt_buf_free(&b);
    if (rc)
        return rc;
    lattice_store_Joined joined = lattice_store_Joined_init_zero;
    if (lt_pb_decode_static(lattice_store_Joined_fields, &joined, c->reply.data, c->reply.len) ||
        joined.store.size != LT_STORE_ID_LEN ||
        memcmp(joined.store.bytes, inv->store.b, LT_STORE_ID_LEN) != 0 ||
        joined.inviter.size != LT_KEY_LEN ||
        memcmp(joined.inviter.bytes, inv->inviter.b, LT_KEY_LEN) != 0)
        return s_malformed(c, addr, "the answer to the join does not match the token");

    /* Joined: this node holds the store from now on. */
    S_RID(joined.request_id);
    rc = s_store_request(c, lattice_store_StoreMsgType_PEER_JOINED, lattice_store_Joined_fields,
                         &joined, &inv->store);
    if (rc)
        return rc;
    rc = lt_client_decode_store_created(c->reply.data, c->reply.len, out, &c->eb);
    if (rc)
        return rc;
    /* The link was admitted for joining only: open it again, as a peer's. */
    lm.renew = true;
    rc = s_encode(c, lattice_kernel_LinkTo_fields, &lm, &b);
    if (rc == LT_OK)
        rc = s_kernel_call(c, lattice_kernel_KernelMsgType_KERNEL_LINK, &b, true);
    lt_buf_free(&b);
    return rc;
}

lt_err_t lt_client_clone(lt_client_t *c, const lt_client_store_id_t *store,
                         const lt_client_key_t *peer, lt_client_progress_fn fn, void *ctx,
                         uint64_t *count)
{
    lt_errbuf_clear(&c->eb);
    *count = 0;
    lt_buf_t b = LT_BUF_INIT;
    lt_err_t rc = LT_OK;
    uint64_t seen = 0;
    for (;;) {
        lattice_sync_Clone m = lattice_sync_Clone_init_zero;
        S_SET(m.store, store->b, LT_STORE_ID_LEN);
        S_SET(m.peer, peer->b, LT_KEY_LEN);
        m.seen = seen;
        lt_buf_reset(&b);
        rc = s_encode(c, lattice_sync_Clone_fields, &m, &b);
        /* Not resent on silence: the sync service answers within about
         * 2 s, progress or not. Refused (it restarted), it is asked again
         * and, naming the peer, starts the clone anew (all duplicates up to
         * where the last one was). */
        s_call_t k = {S_SYNC, lattice_sync_SyncMsgType_SYNC_CLONE, &b, true, false, store};
        if (rc == LT_OK)
            rc = s_call(c, &k);
        lattice_sync_CloneProgress p = lattice_sync_CloneProgress_init_zero;
        if (rc == LT_OK && lt_pb_decode_static(lattice_sync_CloneProgress_fields, &p, c->reply.data,
                                               c->reply.len) != LT_OK)
            rc = s_malformed(c, S_SYNC, "the clone's progress does not decode");
        if (rc)
            break;
        *count = seen = p.cloned;
        if (fn)
            fn(ctx, p.cloned, p.total > p.cloned ? p.total : p.cloned);
        if (p.done)
            break;
    }
    lt_buf_free(&b);
    return rc;
}

/* ---- core:kvstore ---- */

static lt_err_t s_need_key(lt_client_t *c, const void *key, size_t len)
{
    if (!key || len == 0)
        return lt_fail(&c->eb, LT_EINVAL, "the key is empty");
    return LT_OK;
}

static lt_err_t s_written(lt_client_t *c, lt_client_hash_t *hash)
{
    return lt_client_decode_written(c->reply.data, c->reply.len, hash, &c->eb);
}

lt_err_t lt_client_put(lt_client_t *c, const lt_client_store_id_t *store, const void *key,
                       size_t key_len, const void *value, size_t value_len, lt_client_hash_t *hash)
{
    lt_errbuf_clear(&c->eb);
    lt_err_t rc = s_need_key(c, key, key_len);
    if (rc)
        return rc;
    lattice_store_KvPut m = lattice_store_KvPut_init_zero;
    lt_view_t k = {key, key_len}, v = {value, value ? value_len : 0};
    S_SET(m.store, store->b, LT_STORE_ID_LEN);
    lt_pb_bind_write(&m.key, &k);
    lt_pb_bind_write(&m.value, &v);
    S_RID(m.request_id);
    rc = s_store_request(c, lattice_store_StoreMsgType_KV_PUT, lattice_store_KvPut_fields, &m,
                         store);
    return rc ? rc : s_written(c, hash);
}

/* Encodes a KvKey (a request id for a delete). */
static lt_err_t s_kv_key(lt_client_t *c, const lt_client_store_id_t *store, const void *key,
                         size_t len, bool write, lt_buf_t *b)
{
    lt_err_t rc = s_need_key(c, key, len);
    if (rc)
        return rc;
    lattice_store_KvKey m = lattice_store_KvKey_init_zero;
    lt_view_t k = {key, len};
    S_SET(m.store, store->b, LT_STORE_ID_LEN);
    lt_pb_bind_write(&m.key, &k);
    if (write)
        S_RID(m.request_id);
    return s_encode(c, lattice_store_KvKey_fields, &m, b);
}

lt_err_t lt_client_get(lt_client_t *c, const lt_client_store_id_t *store, const void *key,
                       size_t key_len, lt_client_item_t *out)
{
    lt_errbuf_clear(&c->eb);
    memset(out, 0, sizeof *out);
    lt_buf_t b = LT_BUF_INIT;
    lt_err_t rc = s_kv_key(c, store, key, key_len, false, &b);
    if (rc == LT_OK)
        rc = s_store_call(c, lattice_store_StoreMsgType_KV_GET, &b, store);
    lt_buf_free(&b);
    return rc ? rc : lt_client_decode_item(c->reply.data, c->reply.len, out, &c->eb);
}

lt_err_t lt_client_del(lt_client_t *c, const lt_client_store_id_t *store, const void *key,
                       size_t key_len, lt_client_hash_t *hash)
{
    lt_errbuf_clear(&c->eb);
    lt_buf_t b = LT_BUF_INIT;
    lt_err_t rc = s_kv_key(c, store, key, key_len, true, &b);
    if (rc == LT_OK)
        rc = s_store_call(c, lattice_store_StoreMsgType_KV_DEL, &b, store);
    lt_buf_free(&b);
    return rc ? rc : s_written(c, hash);
}

static lt_err_t s_kv_prefix(lt_client_t *c, const lt_client_store_id_t *store, const void *prefix,
                            size_t len, lt_buf_t *b)
{
    lattice_store_KvPrefix m = lattice_store_KvPrefix_init_zero;
    lt_view_t p = {prefix, prefix ? len : 0};
    S_SET(m.store, store->b, LT_STORE_ID_LEN);
    lt_pb_bind_write(&m.prefix, &p);
    return s_encode(c, lattice_store_KvPrefix_fields, &m, b);
}

lt_err_t lt_client_list(lt_client_t *c, const lt_client_store_id_t *store, const void *prefix,
                        size_t prefix_len, lt_client_item_t **out, size_t *n)
{
    lt_errbuf_clear(&c->eb);
    *out = NULL;
    *n = 0;
    lt_buf_t b = LT_BUF_INIT;
    lt_err_t rc = s_kv_prefix(c, store, prefix, prefix_len, &b);
    if (rc == LT_OK)
        rc = s_store_call(c, lattice_store_StoreMsgType_KV_LIST, &b, store);
    lt_buf_free(&b);
    if (rc)
        return rc;
    return lt_client_decode_items(c->reply.data, c->reply.len, out, n, &c->eb);
}

lt_err_t lt_client_batch(lt_client_t *c, const lt_client_store_id_t *store,
                         const lt_client_batch_entry_t *entries, size_t n, lt_client_hash_t *hash)
{
    lt_errbuf_clear(&c->eb);
    if (!entries || n == 0)
        return lt_fail(&c->eb, LT_EINVAL, "a batch needs at least one entry");
    lattice_store_KvBatch m = lattice_store_KvBatch_init_zero;
    S_SET(m.store, store->b, LT_STORE_ID_LEN);
    S_RID(m.request_id);
    lt_buf_t b = LT_BUF_INIT;
    /* A message is the concatenation of its fields: the fixed ones, then
     * each entry appended as one more field 2. */
    lt_err_t rc = s_encode(c, lattice_store_KvBatch_fields, &m, &b);
    for (size_t i = 0; rc == LT_OK && i < n; i++) {
        const lt_client_batch_entry_t *e = &entries[i];
        if (!e->key || e->key_len == 0) {
            rc = lt_fail(&c->eb, LT_EINVAL, "batch entry %zu: the key is empty", i + 1);
            break;
        }
        lattice_store_KvBatchEntry be = lattice_store_KvBatchEntry_init_zero;
        lt_view_t k = {e->key, e->key_len};
        lt_view_t v = {e->value, e->del || !e->value ? 0 : e->value_len};
        lt_pb_bind_write(&be.key, &k);
        lt_pb_bind_write(&be.value, &v);
        be.delete = e->del;
        rc = lt_pb_append_field(&b, lattice_store_KvBatch_entries_tag,
                                lattice_store_KvBatchEntry_fields, &be);
        if (rc)
            rc = lt_fail(&c->eb, rc, "encoding the batch failed: %s", lt_strerror(rc));
    }
    if (rc == LT_OK)
        rc = s_store_call(c, lattice_store_StoreMsgType_KV_BATCH, &b, store);
    lt_buf_free(&b);
    return rc ? rc : s_written(c, hash);
}

lt_err_t lt_client_inspect(lt_client_t *c, const lt_client_store_id_t *store, const void *key,
                           size_t key_len, lt_client_head_t **out, size_t *n)
{
    lt_errbuf_clear(&c->eb);
    *out = NULL;
    *n = 0;
    lt_buf_t b = LT_BUF_INIT;
    lt_err_t rc = s_kv_key(c, store, key, key_len, false, &b);
    if (rc == LT_OK)
        rc = s_store_call(c, lattice_store_StoreMsgType_KV_INSPECT, &b, store);
    lt_buf_free(&b);
    if (rc)
        return rc;
    return lt_client_decode_heads(c->reply.data, c->reply.len, key, key_len, out, n, &c->eb);
}

/* ---- core:logstore ---- */

lt_err_t lt_client_append(lt_client_t *c, const lt_client_store_id_t *store, const void *text,
                          size_t len, lt_client_hash_t *hash)
{
    lt_errbuf_clear(&c->eb);
    lattice_store_LogAppend m = lattice_store_LogAppend_init_zero;
    lt_view_t t = {text, text ? len : 0};
    S_SET(m.store, store->b, LT_STORE_ID_LEN);
    lt_pb_bind_write(&m.text, &t);
    S_RID(m.request_id);
    lt_err_t rc = s_store_request(c, lattice_store_StoreMsgType_LOG_APPEND,
                                  lattice_store_LogAppend_fields, &m, store);
    return rc ? rc : s_written(c, hash);
}

lt_err_t lt_client_read(lt_client_t *c, const lt_client_store_id_t *store, uint64_t tail,
                        lt_client_log_entry_t **out, size_t *n)
{
    lt_errbuf_clear(&c->eb);
    *out = NULL;
    *n = 0;
    lattice_store_LogRead m = lattice_store_LogRead_init_zero;
    S_SET(m.store, store->b, LT_STORE_ID_LEN);
    m.tail = tail;
    lt_err_t rc = s_store_request(c, lattice_store_StoreMsgType_LOG_READ,
                                  lattice_store_LogRead_fields, &m, store);
    if (rc)
        return rc;
    return lt_client_decode_log_entries(c->reply.data, c->reply.len, tail, out, n, &c->eb);
}

/* ---- streams ---- */

static lt_err_t s_stream_start(lt_client_t *c, uint32_t type, int kind,
                               const lt_client_store_id_t *store, const lt_buf_t *body,
                               uint64_t *stream)
{
    if (c->nstreams == S_STREAMS_MAX)
        return lt_fail(&c->eb, LT_EFULL, "this handle holds %d streams already: stop some first",
                       S_STREAMS_MAX);
    s_stream_t s = {.kind = kind, .store = *store};
    s_incarnation(c, &s.kernel_pid, &s.store_pid);
    /* Not resent after a silence: two attempts that both arrived would
     * leave two watches in the store. A refusal (LT_EUNAVAILABLE) means the
     * attempt reached no live store, so it is retried. */
    s_call_t k = {S_STORE, type, body, true, false, store};
    lt_err_t rc = s_call(c, &k);
    if (rc == LT_OK)
        rc = s_expect_empty(c, S_STORE);
    if (rc)
        return rc;
    s.id = c->reply_corr;
    c->streams[c->nstreams++] = s;
    *stream = s.id;
    if (c->last_probe == 0)
        c->last_probe = s_now();
    return LT_OK;
}

lt_err_t lt_client_watch(lt_client_t *c, const lt_client_store_id_t *store, const void *prefix,
                         size_t prefix_len, uint64_t *stream)
{
    lt_errbuf_clear(&c->eb);
    lt_buf_t b = LT_BUF_INIT;
    lt_err_t rc = s_kv_prefix(c, store, prefix, prefix_len, &b);
    if (rc == LT_OK)
        rc = s_stream_start(c, lattice_store_StoreMsgType_KV_WATCH, LT_CLIENT_EV_KV_CHANGE, store,
                            &b, stream);
    lt_buf_free(&b);
    return rc;
}

lt_err_t lt_client_follow(lt_client_t *c, const lt_client_store_id_t *store, uint64_t *stream)
{
    lt_errbuf_clear(&c->eb);
    lt_buf_t b = LT_BUF_INIT;
    lt_err_t rc = s_store_ref(c, store, false, &b);
    if (rc == LT_OK)
        rc = s_stream_start(c, lattice_store_StoreMsgType_LOG_FOLLOW, LT_CLIENT_EV_LOG_ENTRY, store,
                            &b, stream);
    lt_buf_free(&b);
    return rc;
}

lt_err_t lt_client_stream_stop(lt_client_t *c, uint64_t stream)
{
    lt_errbuf_clear(&c->eb);
    size_t i = 0;
    while (i < c->nstreams && c->streams[i].id != stream)
        i++;
    if (i == c->nstreams)
        return lt_fail(&c->eb, LT_ENOTFOUND, "no stream %llu on this handle",
                       (unsigned long long)stream);
    s_stream_t s = c->streams[i];
    /* Forgotten first, whatever the store answers: no event of it is
     * delivered any more. */
    s_stream_forget(c, i);
    s_event_purge(c, stream);
    lattice_store_Unwatch m = lattice_store_Unwatch_init_zero;
    m.corr = stream;
    lt_buf_t b = LT_BUF_INIT;
    lt_err_t rc = s_encode(c, lattice_store_Unwatch_fields, &m, &b);
    if (rc == LT_OK)
        rc =
            s_store_call(c,
                         s.kind == LT_CLIENT_EV_KV_CHANGE ? lattice_store_StoreMsgType_KV_UNWATCH
                                                          : lattice_store_StoreMsgType_LOG_UNFOLLOW,
                         &b, &s.store);
    lt_buf_free(&b);
    /* A store that no longer knows it restarted since: the stream is gone,
     * which is what was asked. */
    if (rc == LT_ENOTFOUND) {
        lt_errbuf_clear(&c->eb);
        return LT_OK;
    }
    return rc ? rc : s_expect_empty(c, S_STORE);
}

/* Keeps the liveness probe going while streams are open; returns when it
 * next needs a turn (S_FOREVER: not while nothing is known to check). */
static uint64_t s_probe_tick(lt_client_t *c, uint64_t now)
{
    bool known = false;
    for (size_t i = 0; i < c->nstreams && !known; i++)
        known = c->streams[i].kernel_pid || c->streams[i].store_pid;
    if (!known) {
        c->probe_corr = 0;
        return S_FOREVER;
    }
    if (c->probe_corr && now >= c->probe_deadline) {
        c->probe_corr = 0;
        for (size_t i = c->nstreams; i-- > 0;)
            s_streams_lost(c, i,
                           "the node stopped answering: the watches and follows of this handle "
                           "are gone; start them again");
        return S_FOREVER;
    }
    if (c->probe_corr)
        return c->probe_deadline;
    if (now - c->last_probe < S_PROBE_INTERVAL_MS)
        return c->last_probe + S_PROBE_INTERVAL_MS;
    uint64_t corr = c->next_corr++;
    /* Non-blocking: a full socket just skips this probe. */
    if (s_send(c, LT_FRAME_KERNEL_ADDR, corr, lattice_kernel_KernelMsgType_KERNEL_STATUS, NULL, 0,
               0) == LT_OK) {
        c->probe_corr = corr;
        c->probe_deadline = s_deadline(now, c->timeout_ms);
    }
    c->last_probe = now;
    lt_errbuf_clear(&c->eb);
    return c->probe_corr ? c->probe_deadline : now + S_PROBE_INTERVAL_MS;
}

lt_err_t lt_client_next_event(lt_client_t *c, uint32_t timeout_ms, lt_client_event_t *out)
{
    lt_errbuf_clear(&c->eb);
    memset(out, 0, sizeof *out);
    uint64_t deadline =
        timeout_ms == UINT32_MAX ? S_FOREVER : s_deadline(s_now(), (uint64_t)timeout_ms);
    for (;;) {
        if (c->ev_dropped) {
            unsigned long long n = (unsigned long long)c->ev_dropped;
            c->ev_dropped = 0;
            return lt_fail(&c->eb, LT_EFULL,
                           "%llu events were dropped: they were not taken in time (at most %d "
                           "wait)",
                           n, S_EVENTS_MAX);
        }
        while (c->ev_count) {
            s_event_t e;
            s_event_pop(c, &e);
            const s_stream_t *s = s_stream_find(c, e.corr);
            if (!s) { /* of a stream stopped or never started */
                free(e.body);
                continue;
            }
            lt_err_t rc = lt_client_decode_event(e.type, s->kind, e.body, e.len, out, &c->eb);
            free(e.body);
            if (rc == LT_OK)
                out->stream = s->id;
            return rc;
        }
        if (c->streams_lost) {
            c->streams_lost = false;
            return lt_fail(&c->eb, LT_EUNAVAILABLE, "%s", c->lost_why);
        }
        uint64_t wake = s_probe_tick(c, s_now());
        if (c->streams_lost)
            continue;
        lt_err_t rc = s_pump(c, s_min(deadline, wake), S_UNTIL_EVENT);
        if (rc && rc != LT_ETIMEDOUT)
            return rc;
        if (!c->ev_count && !c->ev_dropped && !c->streams_lost && s_now() >= deadline)
            return lt_fail(&c->eb, LT_ETIMEDOUT, "no event within %u ms", (unsigned)timeout_ms);
    }
}

/* ---- intentions ---- */

lt_err_t lt_client_history(lt_client_t *c, const lt_client_store_id_t *store, uint32_t limit,
                           lt_client_history_item_t **out, size_t *n)
{
    lt_errbuf_clear(&c->eb);
    *out = NULL;
    *n = 0;
    lattice_store_History m = lattice_store_History_init_zero;
    S_SET(m.store, store->b, LT_STORE_ID_LEN);
    m.limit = limit;
    lt_err_t rc = s_store_request(c, lattice_store_StoreMsgType_HISTORY,
                                  lattice_store_History_fields, &m, store);
    if (rc)
        return rc;
    return lt_client_decode_history(c->reply.data, c->reply.len, limit, out, n, &c->eb);
}

lt_err_t lt_client_debug(lt_client_t *c, const lt_client_store_id_t *store,
                         const lt_client_hash_t *hash, lt_client_intention_t *out)
{
    lt_errbuf_clear(&c->eb);
    memset(out, 0, sizeof *out);
    lattice_store_Debug m = lattice_store_Debug_init_zero;
    S_SET(m.store, store->b, LT_STORE_ID_LEN);
    S_SET(m.hash, hash->b, LT_HASH_LEN);
    lt_err_t rc =
        s_store_request(c, lattice_store_StoreMsgType_DEBUG, lattice_store_Debug_fields, &m, store);
    if (rc)
        return rc;
    if ((rc = lt_client_decode_intention(c->reply.data, c->reply.len, hash, out, &c->eb)) != LT_OK)
        return rc;
    /* The state machine the ops are for, so that lt_client_ops_sexpr can
     * decode them: one more round trip, for a debug view only. */
    lt_client_store_info_t info;
    if (lt_client_store_info(c, store, &info) == LT_OK)
        out->store_type = info.type;
    lt_errbuf_clear(&c->eb);
    return LT_OK;
}

/* ---- ops as an S-expression ---- */

/* Whether bytes are text to show quoted: valid UTF-8 without control
 * characters other than tab, newline and carriage return (which are
 * escaped). Anything else shows as hex, so nothing the terminal would
 * interpret reaches it. */
static bool s_is_text(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len;) {
        uint8_t b = p[i];
        if (b < 0x80) {
            if ((b < 0x20 && b != '\t' && b != '\n' && b != '\r') || b == 0x7f)
                return false;
            i++;
            continue;
        }
        size_t n;
        uint32_t cp;
        if (b >= 0xc2 && b <= 0xdf)
            n = 1, cp = b & 0x1f;
        else if (b >= 0xe0 && b <= 0xef)
            n = 2, cp = b & 0x0f;
        else if (b >= 0xf0 && b <= 0xf4)
            n = 3, cp = b & 0x07;
        else
            return false;
        if (len - i <= n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        /* overlong forms, surrogates, beyond Unicode, C1 controls */
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
            return false;
        i += n + 1;
    }
    return true;
}

static lt_err_t s_sx(lt_buf_t *b, const char *s)
{
    return lt_buf_append(b, s, strlen(s));
}

static lt_err_t s_sx_hex(lt_buf_t *b, const uint8_t *p, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    lt_err_t rc = s_sx(b, "#x");
    for (size_t i = 0; rc == LT_OK && i < len; i++) {
        char h[2] = {digits[p[i] >> 4], digits[p[i] & 15]};
        rc = lt_buf_append(b, h, 2);
    }
    return rc;
}

/* Bytes as "quoted text" or #x<hex>. */
static lt_err_t s_sx_bytes(lt_buf_t *b, const uint8_t *p, size_t len)
{
    if (!s_is_text(p, len))
        return s_sx_hex(b, p, len);
    lt_err_t rc = s_sx(b, "\"");
    for (size_t i = 0; rc == LT_OK && i < len; i++) {
        switch (p[i]) {
        case '"':
            rc = s_sx(b, "\\\"");
            break;
        case '\\':
            rc = s_sx(b, "\\\\");
            break;
        case '\n':
            rc = s_sx(b, "\\n");
            break;
        case '\t':
            rc = s_sx(b, "\\t");
            break;
        case '\r':
            rc = s_sx(b, "\\r");
            break;
        default:
            rc = lt_buf_append(b, &p[i], 1);
        }
    }
    return rc == LT_OK ? s_sx(b, "\"") : rc;
}

static lt_err_t s_sx_str(lt_buf_t *b, const char *s)
{
    return s_sx_bytes(b, (const uint8_t *)s, strlen(s));
}

/* An enum value by name, or its number when this build does not know it. */
static lt_err_t s_sx_enum(lt_buf_t *b, int v, const char *const *names, int count)
{
    if (v >= 0 && v < count)
        return s_sx(b, names[v]);
    char num[16];
    snprintf(num, sizeof num, "%d", v);
    return s_sx(b, num);
}

static lt_err_t s_sx_system(lt_buf_t *b, const lattice_SystemOp *s)
{
    static const char *const peer[] = {"unset", "active", "revoked", "dormant"};
    static const char *const invite[] = {"unset", "open", "consumed", "cancelled"};
    static const char *const child[] = {"unset", "active", "removed"};
    static const char *const strategy[] = {"unset", "independent", "inherited", "snapshot"};
    lt_err_t rc = s_sx(b, "(system");
    char num[32];
    switch (s->which_op) {
    case lattice_SystemOp_peer_tag:
        rc = rc ? rc : s_sx(b, " (peer ");
        rc = rc ? rc : s_sx_hex(b, s->op.peer.key.bytes, s->op.peer.key.size);
        rc = rc ? rc : s_sx(b, " ");
        rc = rc ? rc : s_sx_enum(b, s->op.peer.status, peer, 4);
        rc = rc ? rc : s_sx(b, ")");
        break;
    case lattice_SystemOp_invite_tag:
        snprintf(num, sizeof num, " %llu", (unsigned long long)s->op.invite.expires_ms);
        rc = rc ? rc : s_sx(b, " (invite ");
        rc = rc ? rc : s_sx_hex(b, s->op.invite.secret_hash.bytes, s->op.invite.secret_hash.size);
        rc = rc ? rc : s_sx(b, " ");
        rc = rc ? rc : s_sx_enum(b, s->op.invite.status, invite, 4);
        rc = rc ? rc : s_sx(b, num);
        if (s->op.invite.invitee.size) {
            rc = rc ? rc : s_sx(b, " ");
            rc = rc ? rc : s_sx_hex(b, s->op.invite.invitee.bytes, s->op.invite.invitee.size);
        }
        rc = rc ? rc : s_sx(b, ")");
        break;
    case lattice_SystemOp_child_tag:
        rc = rc ? rc : s_sx(b, " (child ");
        rc = rc ? rc : s_sx_hex(b, s->op.child.store_id.bytes, s->op.child.store_id.size);
        rc = rc ? rc : s_sx(b, " ");
        rc = rc ? rc : s_sx_str(b, s->op.child.type);
        rc = rc ? rc : s_sx(b, " ");
        rc = rc ? rc : s_sx_str(b, s->op.child.name);
        rc = rc ? rc : s_sx(b, " ");
        rc = rc ? rc : s_sx_enum(b, s->op.child.status, child, 3);
        rc = rc ? rc : s_sx(b, ")");
        break;
    case lattice_SystemOp_name_tag:
        rc = rc ? rc : s_sx(b, " (name ");
        rc = rc ? rc : s_sx_str(b, s->op.name);
        rc = rc ? rc : s_sx(b, ")");
        break;
    case lattice_SystemOp_strategy_tag:
        rc = rc ? rc : s_sx(b, " (strategy ");
        rc = rc ? rc : s_sx_enum(b, s->op.strategy, strategy, 4);
        rc = rc ? rc : s_sx(b, ")");
        break;
    default: /* an empty system op, or one this build does not know */
        break;
    }
    return rc ? rc : s_sx(b, ")");
}

static lt_err_t s_sx_kv_entry(void *ctx, const lt_kv_entry_t *e)
{
    lt_buf_t *b = ctx;
    lt_err_t rc = s_sx(b, e->del ? " (del " : " (put ");
    rc = rc ? rc : s_sx_bytes(b, e->key.p, e->key.len);
    if (!e->del) {
        rc = rc ? rc : s_sx(b, " ");
        rc = rc ? rc : s_sx_bytes(b, e->value.p, e->value.len);
    }
    return rc ? rc : s_sx(b, ")");
}

lt_err_t lt_client_ops_sexpr(const uint8_t *ops, size_t len, int store_type, char **out)
{
    *out = NULL;
    if (store_type != 0 && store_type != LT_CLIENT_STORE_KV && store_type != LT_CLIENT_STORE_LOG)
        return LT_ETYPE;
    if (!ops && len)
        return LT_EINVAL;
    lt_uop_t u;
    lt_err_t rc = lt_uop_decode(ops ? ops : (const uint8_t *)"", len, &u);
    if (rc)
        return LT_EPAYLOAD;
    lt_buf_t b = LT_BUF_INIT;
    if (u.is_system) {
        rc = s_sx_system(&b, &u.system);
    } else if (store_type == LT_CLIENT_STORE_KV) {
        rc = s_sx(&b, "(kv");
        /* A decode error may leave part of the text: it is discarded. */
        rc = rc ? rc : lt_kvop_decode(u.app.p, u.app.len, s_sx_kv_entry, &b);
        rc = rc ? rc : s_sx(&b, ")");
    } else if (store_type == LT_CLIENT_STORE_LOG) {
        lt_view_t text;
        rc = lt_logentry_decode(u.app.p, u.app.len, &text);
        rc = rc ? rc : s_sx(&b, "(log (append ");
        rc = rc ? rc : s_sx_bytes(&b, text.p, text.len);
        rc = rc ? rc : s_sx(&b, "))");
    } else {
        /* The payload alone does not say its state machine: a KvOp and a
         * LogEntry can be the same bytes. Without the type, no guess. */
        rc = s_sx(&b, "(app ");
        rc = rc ? rc : s_sx_hex(&b, u.app.p, u.app.len);
        rc = rc ? rc : s_sx(&b, ")");
    }
    if (rc == LT_OK)
        rc = lt_buf_append(&b, "", 1);
    if (rc) {
        lt_buf_free(&b);
        return rc == LT_ENOMEM ? rc : LT_EPAYLOAD;
    }
    *out = (char *)b.data;
    return LT_OK;
}
