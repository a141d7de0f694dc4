/* Peer links: the CURVE listener and the kernel's ZAP handler (links.h). */
#include "kernel/links.h"

#include "ipc/frame.h"
#include "kernel/kernel.h"

#include "kernel.pb.h"

#include <pb_decode.h>
#include <sodium.h>
#include <zmq.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_TAG "links"
/* ZAP (ZeroMQ RFC 27): the handler's endpoint, its version, the domain the
 * link socket asks in. */
#define S_ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define S_ZAP_VERSION  "1.0"
#define S_ZAP_DOMAIN   "lattice"
/* A ZAP request has 7 frames for CURVE (version, request id, domain,
 * address, routing id, mechanism, the client's key); anything longer is
 * refused. */
#define S_ZAP_FRAMES    8
#define S_ZAP_FRAME_MAX 256
/* What a peer may send in one message: a frame body plus routing. */
#define S_LINK_MSG_MAX ((int64_t)LT_FRAME_MAX_BODY + 4096)
#define S_LINK_HWM     1000
/* Log at most one refusal line per interval. */
#define S_REFUSE_LOG_MS 1000

bool lt_links_active(const lt_kernel_t *k)
{
    return k->links.peer != NULL;
}

static int s_x_cmp(const void *a, const void *b)
{
    return memcmp(a, b, 32); /* lt_links_peer_t starts with its x25519 */
}

static int s_hash_cmp(const void *a, const void *b)
{
    return memcmp(a, b, LT_HASH_LEN);
}

/* The admitted peer whose CURVE key is x, or NULL. */
static const lt_links_peer_t *s_admitted_x(const lt_links_t *l, const uint8_t x[32])
{
    return l->nadmitted ? bsearch(x, l->admitted, l->nadmitted, sizeof *l->admitted, s_x_cmp)
                        : NULL;
}

bool lt_links_admits(const lt_kernel_t *k, const lt_pubkey_t *key)
{
    uint8_t x[32];
    return crypto_sign_ed25519_pk_to_curve25519(x, key->b) == 0 && s_admitted_x(&k->links, x);
}

typedef struct {
    lt_links_peer_t *peers;
    lt_hash_t *invites;
    uint8_t (*revoked)[32];
    size_t npeers, ninvites, nrevoked;
    const char *bad;
} s_set_t;

static bool s_peer_cb(pb_istream_t *stream, const pb_field_t *field, void **arg)
{
    (void)field;
    s_set_t *set = *arg;
    if (stream->bytes_left != LT_KEY_LEN) {
        set->bad = "a peer key is not 32 bytes";
        return false;
    }
    if (set->npeers == LT_LINKS_MAX_ADMITTED) {
        set->bad = "more peers than a kernel admits";
        return false;
    }
    lt_links_peer_t *p = &set->peers[set->npeers];
    if (!pb_read(stream, p->key.b, LT_KEY_LEN))
        return false;
    if (crypto_sign_ed25519_pk_to_curve25519(p->x25519, p->key.b) != 0)
        return true; /* not a point: no CURVE key can match it; skip */
    set->npeers++;
    return true;
}

static bool s_invite_cb(pb_istream_t *stream, const pb_field_t *field, void **arg)
{
    (void)field;
    s_set_t *set = *arg;
    if (stream->bytes_left != LT_HASH_LEN) {
        set->bad = "an invite hash is not 32 bytes";
        return false;
    }
    if (set->ninvites == LT_LINKS_MAX_ADMITTED) {
        set->bad = "more invites than a kernel admits";
        return false;
    }
    return pb_read(stream, set->invites[set->ninvites++].b, LT_HASH_LEN);
}

static bool s_revoked_cb(pb_istream_t *stream, const pb_field_t *field, void **arg)
{
    (void)field;
    s_set_t *set = *arg;
    uint8_t ed[LT_KEY_LEN];
    if (stream->bytes_left != LT_KEY_LEN) {
        set->bad = "a revoked key is not 32 bytes";
        return false;
    }
    if (set->nrevoked == LT_LINKS_MAX_ADMITTED) {
        set->bad = "more revoked keys than a kernel keeps";
        return false;
    }
    if (!pb_read(stream, ed, LT_KEY_LEN))
        return false;
    if (crypto_sign_ed25519_pk_to_curve25519(set->revoked[set->nrevoked], ed) == 0)
        set->nrevoked++;
    return true;
}

static void s_set_free(s_set_t *set)
{
    free(set->peers);
    free(set->invites);
    free(set->revoked);
}

lt_err_t lt_links_set_admitted(lt_kernel_t *k, const uint8_t *body, size_t len, lt_errbuf_t *eb)
{
    lt_links_t *l = &k->links;
    s_set_t set = {calloc(LT_LINKS_MAX_ADMITTED, sizeof *set.peers),
                   calloc(LT_LINKS_MAX_ADMITTED, sizeof *set.invites),
                   calloc(LT_LINKS_MAX_ADMITTED, sizeof *set.revoked),
                   0,
                   0,
                   0,
                   NULL};
    if (!set.peers || !set.invites || !set.revoked) {
        s_set_free(&set);
        return lt_fail(eb, LT_ENOMEM, "out of memory");
    }
    lattice_kernel_AdmitSet m = lattice_kernel_AdmitSet_init_zero;
    m.peers.funcs.decode = s_peer_cb;
    m.peers.arg = &set;
    m.invites.funcs.decode = s_invite_cb;
    m.invites.arg = &set;
    m.revoked.funcs.decode = s_revoked_cb;
    m.revoked.arg = &set;
    pb_istream_t is = pb_istream_from_buffer(body ? body : (const uint8_t *)"", body ? len : 0);
    if (!pb_decode(&is, lattice_kernel_AdmitSet_fields, &m)) {
        lt_err_t rc = lt_fail(eb, LT_EINVAL, "malformed admitted set: %s",
                              set.bad ? set.bad : PB_GET_ERROR(&is));
        s_set_free(&set);
        return rc;
    }
    qsort(set.peers, set.npeers, sizeof *set.peers, s_x_cmp);
    qsort(set.invites, set.ninvites, sizeof *set.invites, s_hash_cmp);
    qsort(set.revoked, set.nrevoked, sizeof *set.revoked, s_x_cmp);
    bool first = !l->told;
    bool changed =
        l->nadmitted != set.npeers || l->ninvites != set.ninvites || l->nrevoked != set.nrevoked;
    free(l->admitted);
    free(l->invites);
    free(l->revoked);
    l->admitted = set.peers;
    l->nadmitted = set.npeers;
    l->invites = set.invites;
    l->ninvites = set.ninvites;
    l->revoked = set.revoked;
    l->nrevoked = set.nrevoked;
    l->told = true;
    if (first || changed) {
        char rev[32] = "";
        if (l->nrevoked)
            snprintf(rev, sizeof rev, " (%zu revoked)", l->nrevoked);
        lt_log_info(&k->log, S_TAG, "admitting %zu peers and %zu open invites%s", l->nadmitted,
                    l->ninvites, rev);
    }
    return LT_OK;
}

static void s_set_int(void *s, int opt, int v)
{
    (void)zmq_setsockopt(s, opt, &v, sizeof v);
}

lt_err_t lt_links_open(lt_kernel_t *k, const lt_identity_t *id, lt_errbuf_t *eb)
{
    lt_links_t *l = &k->links;
    if (k->cfg->nlisten == 0)
        return LT_OK;
    uint8_t curve_sk[crypto_scalarmult_curve25519_BYTES];
    if (crypto_sign_ed25519_sk_to_curve25519(curve_sk, id->sk) != 0)
        return lt_fail(eb, LT_EINVAL, "the node key has no CURVE form");
    lt_err_t rc = LT_OK;
    /* The handler first: a CURVE socket bound without one admits anyone. */
    l->zap = zmq_socket(k->zctx, ZMQ_REP);
    if (!l->zap || zmq_bind(l->zap, S_ZAP_ENDPOINT) != 0) {
        rc = lt_fail(eb, LT_EIO, "cannot bind the ZAP handler: %s", zmq_strerror(errno));
        goto out;
    }
    s_set_int(l->zap, ZMQ_LINGER, 0);
    l->peer = zmq_socket(k->zctx, ZMQ_ROUTER);
    if (!l->peer) {
        rc = lt_fail(eb, LT_EIO, "cannot create the link socket: %s", zmq_strerror(errno));
        goto out;
    }
    int64_t maxmsg = S_LINK_MSG_MAX;
    s_set_int(l->peer, ZMQ_CURVE_SERVER, 1);
    (void)zmq_setsockopt(l->peer, ZMQ_CURVE_SECRETKEY, curve_sk, sizeof curve_sk);
    (void)zmq_setsockopt(l->peer, ZMQ_ZAP_DOMAIN, S_ZAP_DOMAIN, strlen(S_ZAP_DOMAIN));
    (void)zmq_setsockopt(l->peer, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    s_set_int(l->peer, ZMQ_ROUTER_MANDATORY, 1);
    s_set_int(l->peer, ZMQ_SNDHWM, S_LINK_HWM);
    s_set_int(l->peer, ZMQ_RCVHWM, S_LINK_HWM);
    s_set_int(l->peer, ZMQ_LINGER, 0);
    s_set_int(l->peer, ZMQ_HANDSHAKE_IVL, 5000);
    s_set_int(l->peer, ZMQ_HEARTBEAT_IVL, 1000);
    s_set_int(l->peer, ZMQ_HEARTBEAT_TIMEOUT, 5000);
    for (size_t i = 0; i < k->cfg->nlisten; i++) {
        const char *addr = k->cfg->listen[i];
        if (zmq_bind(l->peer, addr) != 0) {
            rc = lt_fail(eb, LT_EIO, "cannot listen on %s: %s", addr, zmq_strerror(errno));
            goto out;
        }
        size_t len = sizeof l->bound[0];
        if (zmq_getsockopt(l->peer, ZMQ_LAST_ENDPOINT, l->bound[l->nbound], &len) != 0)
            snprintf(l->bound[l->nbound], sizeof l->bound[0], "%s", addr);
        lt_log_info(&k->log, S_TAG, "accepting peer links on %s", l->bound[l->nbound]);
        l->nbound++;
    }
out:
    sodium_memzero(curve_sk, sizeof curve_sk);
    if (rc)
        lt_links_close(k);
    return rc;
}

void lt_links_close(lt_kernel_t *k)
{
    lt_links_t *l = &k->links;
    if (l->peer)
        zmq_close(l->peer);
    if (l->zap)
        zmq_close(l->zap);
    free(l->admitted);
    free(l->invites);
    free(l->revoked);
    memset(l, 0, sizeof *l);
}

/* Reads one multipart message into frames; false when there was none.
 * Frames past max (or longer than S_ZAP_FRAME_MAX) make *over true. */
static bool s_recv_parts(void *s, zmq_msg_t *parts, size_t max, size_t *n, bool *over)
{
    *n = 0;
    *over = false;
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, s, *n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            zmq_msg_close(&m);
            return *n > 0;
        }
        bool more = zmq_msg_more(&m);
        if (*n < max && zmq_msg_size(&m) <= S_ZAP_FRAME_MAX)
            parts[(*n)++] = m;
        else {
            *over = true;
            zmq_msg_close(&m);
        }
        if (!more)
            return true;
    }
}

static void s_send_str(void *s, const void *p, size_t len, bool more)
{
    (void)zmq_send(s, p, len, more ? ZMQ_SNDMORE : 0);
}

/* An unknown key may link for the join exchange alone while this node has
 * an open invite, at most LT_LINKS_JOINS_PER_MIN a minute: ZAP sees nothing
 * but the key, so the invite is presented in the first message (KERNEL_JOIN)
 * and nothing else is taken from such a link. NULL when admitted, else why
 * not. */
static const char *s_join_check(lt_kernel_t *k, const uint8_t x[32])
{
    lt_links_t *l = &k->links;
    if (l->nrevoked && bsearch(x, l->revoked, l->nrevoked, sizeof *l->revoked, s_x_cmp))
        return "its key was revoked";
    if (l->ninvites == 0)
        return "its key is not a peer of any store this node holds";
    uint64_t now = lt_kernel_mono_ms();
    if (now - l->join_window_ms >= 60000) {
        l->join_window_ms = now;
        l->joins_in_window = 0;
    }
    if (l->joins_in_window >= LT_LINKS_JOINS_PER_MIN)
        return "an unknown key, and too many joins this minute";
    l->joins_in_window++;
    return NULL;
}

/* One ZAP request: 200 for an admitted CURVE key or a join, 400 for anything
 * else. */
static void s_zap_one(lt_kernel_t *k, zmq_msg_t *parts, size_t n, bool over)
{
    lt_links_t *l = &k->links;
    const char *why = NULL;
    lt_pubkey_t key;
    bool ok = false;
    char addr[64] = "?";
    if (over || n != 7)
        why = "a malformed ZAP request";
    else if (zmq_msg_size(&parts[0]) != 3 || memcmp(zmq_msg_data(&parts[0]), S_ZAP_VERSION, 3))
        why = "another ZAP version";
    else if (zmq_msg_size(&parts[5]) != 5 || memcmp(zmq_msg_data(&parts[5]), "CURVE", 5))
        why = "not a CURVE connection";
    else if (zmq_msg_size(&parts[6]) != crypto_box_PUBLICKEYBYTES)
        why = "a client key of the wrong size";
    if (n >= 4) {
        size_t al = zmq_msg_size(&parts[3]);
        snprintf(addr, sizeof addr, "%.*s", (int)(al < 63 ? al : 63),
                 (const char *)zmq_msg_data(&parts[3]));
    }
    bool join = false;
    if (!why) {
        /* The CURVE key is the X25519 form of the peer's Ed25519 key; the
         * admitted set is kept by that form. */
        const uint8_t *x = zmq_msg_data(&parts[6]);
        const lt_links_peer_t *p = s_admitted_x(l, x);
        if (p) {
            ok = true;
            key = p->key;
        } else {
            why = s_join_check(k, x);
            ok = join = why == NULL;
        }
    }
    /* Reply: version, request id, status code, status text, user id,
     * metadata. The user id carries the peer's Ed25519 key in hex, which
     * libzmq attaches to every message of the connection. */
    char user[sizeof LT_LINKS_JOIN_USER + 2 * LT_KEY_LEN] = "";
    if (ok && join) {
        memcpy(user, LT_LINKS_JOIN_USER, sizeof LT_LINKS_JOIN_USER - 1);
        lt_hex(zmq_msg_data(&parts[6]), 32, user + sizeof LT_LINKS_JOIN_USER - 1);
    } else if (ok) {
        lt_hex(key.b, LT_KEY_LEN, user);
    }
    s_send_str(l->zap, S_ZAP_VERSION, 3, true);
    if (n >= 2)
        s_send_str(l->zap, zmq_msg_data(&parts[1]), zmq_msg_size(&parts[1]), true);
    else
        s_send_str(l->zap, "", 0, true);
    s_send_str(l->zap, ok ? "200" : "400", 3, true);
    s_send_str(l->zap, ok ? "OK" : why, strlen(ok ? "OK" : why), true);
    s_send_str(l->zap, user, strlen(user), true);
    s_send_str(l->zap, "", 0, false);
    if (ok) {
        lt_log_info(&k->log, S_TAG, "%s %.16s linked from %s", join ? "joiner" : "peer",
                    user + (join ? sizeof LT_LINKS_JOIN_USER - 1 : 0), addr);
        return;
    }
    l->refused++;
    uint64_t now = lt_kernel_mono_ms();
    if (l->refuse_log_ms == 0 || now - l->refuse_log_ms >= S_REFUSE_LOG_MS) {
        uint64_t more = l->refused - l->refused_logged - 1;
        lt_log_warn(&k->log, S_TAG, "refused a link from %s: %s%s", addr, why,
                    more ? " (and earlier refusals not logged)" : "");
        l->refuse_log_ms = now;
        l->refused_logged = l->refused;
    }
}

void lt_links_recv(lt_kernel_t *k, int budget)
{
    lt_links_t *l = &k->links;
    if (!l->peer)
        return;
    for (int i = 0; i < budget; i++) {
        zmq_msg_t parts[S_ZAP_FRAMES];
        size_t n = 0;
        bool over = false;
        if (!s_recv_parts(l->zap, parts, S_ZAP_FRAMES, &n, &over))
            break;
        s_zap_one(k, parts, n, over);
        for (size_t j = 0; j < n; j++)
            zmq_msg_close(&parts[j]);
    }
    /* Admitted peers have nothing to say to this node yet (the sync and
     * gossip services come next): their frames are dropped and counted. */
    for (int i = 0; i < budget; i++) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        int rc = zmq_msg_recv(&m, l->peer, ZMQ_DONTWAIT);
        bool more = rc >= 0 && zmq_msg_more(&m);
        zmq_msg_close(&m);
        if (rc < 0)
            break;
        if (!more)
            l->dropped++;
    }
}
