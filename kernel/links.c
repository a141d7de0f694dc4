/* Peer links: the CURVE listener and the kernel's ZAP handler (links.h). */
#include "kernel/links.h"

#include "ipc/frame.h"
#include "kernel/kernel.h"
#include "kernel/router.h"

#include "kernel.pb.h"

#include <pb_decode.h>
#include <pb_encode.h>
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
/* Log at most one refusal line per interval (and a few dropped messages). */
#define S_REFUSE_LOG_MS    1000
#define S_DROP_LINES_PER_S 10
/* A recorded peer's link that the far side refused is opened again after
 * this, doubled at each refusal in a row up to the maximum: a node that has
 * just started refuses every key until its store has said who may link. */
#define S_RETRY_FIRST_MS 1000
#define S_RETRY_MAX_MS   (300 * 1000)
/* An inbound link counts as connected while heard within this. */
#define S_IN_ALIVE_MS 10000

_Static_assert(LT_LINKS_FILE_MAX_PEERS == LT_LINKS_MAX_OUT,
               "<home>/links holds one line per outbound link");

static lt_links_out_t *s_out(lt_links_t *l, const lt_pubkey_t *key);

bool lt_links_active(const lt_kernel_t *k)
{
    return k->links.peer != NULL || k->links.nout > 0;
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

static int s_key_cmp(const void *a, const void *b)
{
    return lt_pubkey_cmp(a, b);
}

/* Whether key was revoked in a store held here (and is active in none): on
 * every link message, so by the key itself, no conversion. */
static bool s_is_revoked(const lt_links_t *l, const lt_pubkey_t *key)
{
    return l->nrevoked &&
           bsearch(key, l->revoked_keys, l->nrevoked, sizeof *l->revoked_keys, s_key_cmp) != NULL;
}

bool lt_links_admits(const lt_kernel_t *k, const lt_pubkey_t *key)
{
    uint8_t x[32];
    return crypto_sign_ed25519_pk_to_curve25519(x, key->b) == 0 && s_admitted_x(&k->links, x);
}

/* Closes outbound link i and removes it from the table. */
static void s_out_drop(lt_links_t *l, size_t i)
{
    if (l->out[i].sock)
        zmq_close(l->out[i].sock);
    if (l->out[i].monitor)
        zmq_close(l->out[i].monitor);
    memmove(&l->out[i], &l->out[i + 1], (l->nout - i - 1) * sizeof l->out[0]);
    l->nout--;
}

/* ---- <home>/links ---- */

static void s_kept_path(const lt_kernel_t *k, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", k->home->dir, LT_LINKS_FILE_NAME);
}

/* Writes the recorded peers to <home>/links; a failure is a warning (the
 * links stay open, they are just not opened again after a restart). */
static void s_kept_save(lt_kernel_t *k)
{
    if (!k->home)
        return;
    char path[LT_KCONFIG_PATH_MAX + 16];
    s_kept_path(k, path, sizeof path);
    lt_errbuf_t eb = {{0}};
    if (lt_links_file_write(path, &k->links.kept, &eb) != LT_OK)
        lt_log_warn(&k->log, S_TAG, "%s; peer links will not be opened again after a restart",
                    eb.msg);
}

/* Records key at addrs (those a link may be opened to) in <home>/links. */
static void s_keep(lt_kernel_t *k, const lt_pubkey_t *key, const char (*addrs)[LT_KCONFIG_ADDR_MAX],
                   size_t naddrs)
{
    char ok[LT_LINKS_FILE_MAX_ADDRS][LT_KCONFIG_ADDR_MAX];
    size_t n = 0;
    for (size_t i = 0; i < naddrs && n < LT_LINKS_FILE_MAX_ADDRS; i++) {
        const char *why = NULL;
        if (lt_kconfig_listen_ok(addrs[i], &why))
            snprintf(ok[n++], sizeof ok[0], "%s", addrs[i]);
    }
    const lt_links_file_peer_t *have = lt_links_file_find(&k->links.kept, key);
    if (have && have->naddrs == n) {
        bool same = true;
        for (size_t i = 0; i < n && same; i++)
            same = strcmp(have->addrs[i], ok[i]) == 0;
        if (same)
            return; /* nothing new to write */
    }
    lt_err_t rc = lt_links_file_put(&k->links.kept, key, (const char(*)[LT_KCONFIG_ADDR_MAX])ok, n);
    if (rc != LT_OK) {
        char hex[2 * LT_KEY_LEN + 1];
        lt_hex(key->b, LT_KEY_LEN, hex);
        lt_log_warn(&k->log, S_TAG, "cannot record the link to %.16s: %s", hex,
                    rc == LT_EFULL ? "too many peers recorded" : "no address to record");
        return;
    }
    s_kept_save(k);
}

/* ---- link-up events ---- */

/* Tells LT_LINKS_UP_SERVICE, when it is registered, that the link to key
 * is up (KERNEL_LINK_UP). Nothing is queued: a service that registers
 * later hears of the links up then (lt_links_announce). */
static void s_link_up(lt_kernel_t *k, const lt_pubkey_t *key)
{
    lattice_kernel_LinkUp m = lattice_kernel_LinkUp_init_zero;
    m.key.size = LT_KEY_LEN;
    memcpy(m.key.bytes, key->b, LT_KEY_LEN);
    uint8_t body[lattice_kernel_LinkUp_size];
    pb_ostream_t os = pb_ostream_from_buffer(body, sizeof body);
    if (!pb_encode(&os, lattice_kernel_LinkUp_fields, &m))
        return; /* cannot happen: a fixed-size message */
    int rc = lt_router_event(k, LT_LINKS_UP_SERVICE, lattice_kernel_KernelMsgType_KERNEL_LINK_UP,
                             body, os.bytes_written);
    char hex[2 * LT_KEY_LEN + 1];
    lt_hex(key->b, LT_KEY_LEN, hex);
    if (rc == 0)
        lt_log_debug(&k->log, S_TAG, "told %s: link to %.16s up", LT_LINKS_UP_SERVICE, hex);
    else if (rc != EHOSTUNREACH)
        lt_log_warn(&k->log, S_TAG, "cannot tell %s the link to %.16s is up: %s",
                    LT_LINKS_UP_SERVICE, hex, zmq_strerror(rc));
}

/* ZAP admitted key as a peer: a new connection (or a reconnection) whose
 * first message says the link is up. */
static void s_fresh_add(lt_links_t *l, const lt_pubkey_t *key)
{
    for (size_t i = 0; i < l->nfresh; i++)
        if (lt_pubkey_cmp(&l->fresh[i], key) == 0)
            return;
    if (l->nfresh == LT_LINKS_MAX_IN) {
        memmove(&l->fresh[0], &l->fresh[1], (LT_LINKS_MAX_IN - 1) * sizeof l->fresh[0]);
        l->nfresh--;
    }
    l->fresh[l->nfresh++] = *key;
}

/* Whether key was admitted by ZAP and not heard from since; forgets it. */
static bool s_fresh_take(lt_links_t *l, const lt_pubkey_t *key)
{
    for (size_t i = 0; i < l->nfresh; i++) {
        if (lt_pubkey_cmp(&l->fresh[i], key) == 0) {
            memmove(&l->fresh[i], &l->fresh[i + 1], (l->nfresh - i - 1) * sizeof l->fresh[0]);
            l->nfresh--;
            return true;
        }
    }
    return false;
}

typedef struct {
    lt_links_peer_t *peers;
    lt_hash_t *invites;
    uint8_t (*revoked)[32];
    lt_pubkey_t *revoked_keys;
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
        memcpy(set->revoked_keys[set->nrevoked++].b, ed, LT_KEY_LEN);
    return true;
}

static void s_set_free(s_set_t *set)
{
    free(set->peers);
    free(set->invites);
    free(set->revoked);
    free(set->revoked_keys);
}

lt_err_t lt_links_set_admitted(lt_kernel_t *k, const uint8_t *body, size_t len, lt_errbuf_t *eb)
{
    lt_links_t *l = &k->links;
    s_set_t set = {calloc(LT_LINKS_MAX_ADMITTED, sizeof *set.peers),
                   calloc(LT_LINKS_MAX_ADMITTED, sizeof *set.invites),
                   calloc(LT_LINKS_MAX_ADMITTED, sizeof *set.revoked),
                   calloc(LT_LINKS_MAX_ADMITTED, sizeof *set.revoked_keys),
                   0,
                   0,
                   0,
                   NULL};
    if (!set.peers || !set.invites || !set.revoked || !set.revoked_keys) {
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
    qsort(set.revoked_keys, set.nrevoked, sizeof *set.revoked_keys, s_key_cmp);
    bool first = !l->told;
    bool changed =
        l->nadmitted != set.npeers || l->ninvites != set.ninvites || l->nrevoked != set.nrevoked;
    free(l->admitted);
    free(l->invites);
    free(l->revoked);
    free(l->revoked_keys);
    l->admitted = set.peers;
    l->nadmitted = set.npeers;
    l->invites = set.invites;
    l->ninvites = set.ninvites;
    l->revoked = set.revoked;
    l->revoked_keys = set.revoked_keys;
    l->nrevoked = set.nrevoked;
    l->told = true;
    /* A revoked node's link goes (DESIGN.md §7): the one this node opened
     * is closed; what it sends on its own is dropped from now on, and ZAP
     * refuses it a new one. */
    for (size_t i = 0; i < l->nout; i++) {
        if (!s_is_revoked(l, &l->out[i].key))
            continue;
        char hex[2 * LT_KEY_LEN + 1];
        lt_hex(l->out[i].key.b, LT_KEY_LEN, hex);
        lt_log_info(&k->log, S_TAG, "link to %.16s dropped: revoked", hex);
        s_out_drop(l, i--);
    }
    /* ... and it is not opened again at the next start. */
    bool forgot = false;
    for (size_t i = 0; i < l->kept.npeers; i++) {
        if (!s_is_revoked(l, &l->kept.peers[i].key))
            continue;
        char hex[2 * LT_KEY_LEN + 1];
        lt_hex(l->kept.peers[i].key.b, LT_KEY_LEN, hex);
        lt_log_info(&k->log, S_TAG, "forgetting the link to %.16s: revoked", hex);
        lt_pubkey_t gone = l->kept.peers[i].key;
        (void)lt_links_file_remove(&l->kept, &gone);
        i--;
        forgot = true;
    }
    if (forgot)
        s_kept_save(k);
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
    if (crypto_sign_ed25519_sk_to_curve25519(l->curve_sk, id->sk) != 0 ||
        crypto_sign_ed25519_pk_to_curve25519(l->curve_pk, id->pk.b) != 0)
        return lt_fail(eb, LT_EINVAL, "the node key has no CURVE form");
    l->self = id->pk;
    l->keyed = true;
    if (k->cfg->nlisten == 0)
        return LT_OK;
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
    (void)zmq_setsockopt(l->peer, ZMQ_CURVE_SECRETKEY, l->curve_sk, sizeof l->curve_sk);
    (void)zmq_setsockopt(l->peer, ZMQ_ZAP_DOMAIN, S_ZAP_DOMAIN, strlen(S_ZAP_DOMAIN));
    (void)zmq_setsockopt(l->peer, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    s_set_int(l->peer, ZMQ_ROUTER_MANDATORY, 1);
    /* A peer reconnecting (its routing id is its key) takes its link over. */
    s_set_int(l->peer, ZMQ_ROUTER_HANDOVER, 1);
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
    if (rc)
        lt_links_close(k);
    return rc;
}

void lt_links_close(lt_kernel_t *k)
{
    lt_links_t *l = &k->links;
    while (l->nout)
        s_out_drop(l, l->nout - 1);
    if (l->peer)
        zmq_close(l->peer);
    if (l->zap)
        zmq_close(l->zap);
    free(l->admitted);
    free(l->invites);
    free(l->revoked);
    free(l->revoked_keys);
    sodium_memzero(l, sizeof *l);
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
            s_fresh_add(l, &key);
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

static lt_links_out_t *s_out(lt_links_t *l, const lt_pubkey_t *key)
{
    for (size_t i = 0; i < l->nout; i++)
        if (lt_pubkey_cmp(&l->out[i].key, key) == 0)
            return &l->out[i];
    return NULL;
}

static void s_pending_done(lt_links_out_t *o, const char *from, uint64_t corr)
{
    for (size_t i = 0; o && i < o->npending; i++) {
        if (o->pending[i].corr == corr && strcmp(o->pending[i].from, from) == 0) {
            memmove(&o->pending[i], &o->pending[i + 1],
                    (o->npending - i - 1) * sizeof o->pending[0]);
            o->npending--;
            return;
        }
    }
}

/* Why a node refused this node's link, as a requester reads it. */
static void s_refusal_text(const char *hex, char *out, size_t cap)
{
    snprintf(out, cap,
             "node %.16s refused this node's link: it is no peer of a store there, and no "
             "invite there is open for it (a used or expired token, or a revoked node)",
             hex);
}

/* The far side refused the link (its ZAP said no): what waits for that node
 * is answered LT_EREFUSED, and the link is closed (a later request for it,
 * after a new invite say, opens a new one). A recorded peer's link is
 * opened again after a backoff instead: the far side may have just started
 * and not know its peers yet. True when link i left the table. */
static bool s_out_refused(lt_kernel_t *k, size_t i)
{
    lt_links_t *l = &k->links;
    lt_links_out_t *o = &l->out[i];
    lt_links_pending_t pending[LT_LINKS_PENDING];
    size_t npending = o->npending;
    memcpy(pending, o->pending, npending * sizeof pending[0]);
    char hex[2 * LT_KEY_LEN + 1];
    lt_hex(o->key.b, LT_KEY_LEN, hex);
    bool retry = o->peer && lt_links_file_find(&l->kept, &o->key);
    if (retry) {
        uint64_t wait = S_RETRY_FIRST_MS;
        for (uint32_t j = 0; j < o->refusals && wait < S_RETRY_MAX_MS; j++)
            wait *= 2;
        if (wait > S_RETRY_MAX_MS)
            wait = S_RETRY_MAX_MS;
        o->refusals++;
        lt_log_warn(&k->log, S_TAG, "node %.16s at %s refused the link; trying again in %llu s",
                    hex, o->addr, (unsigned long long)(wait / 1000));
        zmq_close(o->sock);
        zmq_close(o->monitor);
        o->sock = o->monitor = NULL;
        o->up = false;
        o->npending = 0;
        o->retry_ms = lt_kernel_mono_ms() + wait;
    } else {
        lt_log_warn(&k->log, S_TAG, "node %.16s at %s refused the link", hex, o->addr);
        s_out_drop(l, i);
    }
    /* Requests that come after the link is gone get the same answer. */
    l->refused_lately[l->next_refused].key = o->key;
    l->refused_lately[l->next_refused].until_ms = lt_kernel_mono_ms() + LT_LINKS_REFUSED_MS;
    l->next_refused = (l->next_refused + 1) % LT_LINKS_REFUSED_KEPT;
    char why[256];
    s_refusal_text(hex, why, sizeof why);
    for (size_t j = 0; j < npending; j++)
        lt_router_reply_error(k, pending[j].from, pending[j].to, pending[j].corr, pending[j].type,
                              LT_EREFUSED, "%s", why);
    return !retry;
}

bool lt_links_refused_lately(lt_kernel_t *k, const char *to, char *why, size_t cap)
{
    lt_pubkey_t key;
    if (!lt_addr_remote(to, &key, NULL, 0))
        return false;
    uint64_t now = lt_kernel_mono_ms();
    for (size_t i = 0; i < LT_LINKS_REFUSED_KEPT; i++) {
        const lt_links_t *l = &k->links;
        if (l->refused_lately[i].until_ms > now &&
            lt_pubkey_cmp(&l->refused_lately[i].key, &key) == 0) {
            char hex[2 * LT_KEY_LEN + 1];
            lt_hex(key.b, LT_KEY_LEN, hex);
            s_refusal_text(hex, why, cap);
            return true;
        }
    }
    return false;
}

/* Reads the monitor of outbound link i; true when the link was closed. */
static bool s_out_events(lt_kernel_t *k, size_t i)
{
    lt_links_out_t *o = &k->links.out[i];
    while (o->monitor) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, o->monitor, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return false;
        }
        uint16_t ev = 0;
        if (zmq_msg_size(&m) >= sizeof ev)
            memcpy(&ev, zmq_msg_data(&m), sizeof ev);
        bool more = zmq_msg_more(&m);
        zmq_msg_close(&m);
        while (more) { /* the endpoint part */
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, o->monitor, 0) < 0)
                more = false;
            else
                more = zmq_msg_more(&m);
            zmq_msg_close(&m);
        }
        if (ev == ZMQ_EVENT_HANDSHAKE_SUCCEEDED && !o->up) {
            o->up = true;
            o->up_ms = lt_kernel_wall_ms();
            o->refusals = 0;
            char hex[2 * LT_KEY_LEN + 1];
            lt_hex(o->key.b, LT_KEY_LEN, hex);
            lt_log_info(&k->log, S_TAG, "linked to %.16s at %s", hex, o->addr);
            /* A sign of life at once, so the far side sees the link up
             * without waiting for the next round of heartbeats. */
            lt_frame_t beat = {.cmd = LT_FRAME_HEARTBEAT, .addr = LT_FRAME_KERNEL_ADDR};
            (void)lt_links_send(k, &o->key, LT_FRAME_KERNEL_ADDR, &beat);
            if (o->peer)
                s_link_up(k, &o->key);
        } else if (ev == ZMQ_EVENT_DISCONNECTED && o->up) {
            o->up = false; /* libzmq reconnects; the next handshake says when */
            char hex[2 * LT_KEY_LEN + 1];
            lt_hex(o->key.b, LT_KEY_LEN, hex);
            lt_log_info(&k->log, S_TAG, "link to %.16s lost; reconnecting", hex);
        } else if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ||
                   ev == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) {
            return s_out_refused(k, i);
        }
    }
    return false;
}

static lt_links_in_t *s_in(lt_links_t *l, const lt_pubkey_t *key, bool add)
{
    size_t oldest = 0;
    for (size_t i = 0; i < l->nin; i++) {
        if (lt_pubkey_cmp(&l->in[i].key, key) == 0)
            return &l->in[i];
        if (l->in[i].last_seen_ms < l->in[oldest].last_seen_ms)
            oldest = i;
    }
    if (!add)
        return NULL;
    lt_links_in_t *e = l->nin < LT_LINKS_MAX_IN ? &l->in[l->nin++] : &l->in[oldest];
    memset(e, 0, sizeof *e);
    e->key = *key;
    e->first_ms = lt_kernel_wall_ms();
    return e;
}

/* ---- link messages ----
 * On the wire: [routing id (server side only)] [SRC] [the LTK/1 parts of a
 * frame whose address is the destination on the receiving node]. SRC is the
 * sender's address on its own node (a service or a client). */

/* Logs a dropped message: a reason not logged in the last second is logged
 * at once, a repeated one once a second, and never more than
 * S_DROP_LINES_PER_S lines a second in all (a peer decides what it sends). */
static void s_refuse(lt_kernel_t *k, const char *why, const char *who)
{
    lt_links_t *l = &k->links;
    l->dropped++;
    uint64_t now = lt_kernel_mono_ms();
    if (now - l->drop_window_ms >= S_REFUSE_LOG_MS) {
        l->drop_window_ms = now;
        l->drop_lines = 0;
    }
    bool fresh = strcmp(why, l->drop_last_why) != 0 || now - l->drop_log_ms >= S_REFUSE_LOG_MS;
    if (!fresh || l->drop_lines >= S_DROP_LINES_PER_S)
        return;
    lt_log_warn(&k->log, S_TAG, "dropped a message from %.24s: %s", who, why);
    snprintf(l->drop_last_why, sizeof l->drop_last_why, "%s", why);
    l->drop_log_ms = now;
    l->drop_lines++;
}

/* Who sent a message on the listening socket: its key, checked against
 * what ZAP admitted (the User-Id), and whether the link is for joining
 * only. False when they disagree. */
static bool s_inbound_sender(zmq_msg_t *rid, zmq_msg_t *first, lt_pubkey_t *key, bool *join)
{
    /* The ROUTER makes the routing-id part itself: the connection's
     * metadata comes with the parts the peer sent. */
    const char *user = zmq_msg_gets(first, "User-Id");
    if (!user || zmq_msg_size(rid) != LT_KEY_LEN)
        return false;
    memcpy(key->b, zmq_msg_data(rid), LT_KEY_LEN);
    char hex[2 * LT_KEY_LEN + 1];
    size_t jl = sizeof LT_LINKS_JOIN_USER - 1;
    *join = strncmp(user, LT_LINKS_JOIN_USER, jl) == 0;
    if (*join) {
        /* The joiner names its Ed25519 key as its routing id: it must be
         * the key its CURVE key (which the handshake proved) comes from. */
        uint8_t x[32];
        if (crypto_sign_ed25519_pk_to_curve25519(x, key->b) != 0)
            return false;
        lt_hex(x, 32, hex);
        return strcmp(user + jl, hex) == 0;
    }
    lt_hex(key->b, LT_KEY_LEN, hex);
    return strcmp(user, hex) == 0;
}

/* Reads one message from a link socket and routes it. out_key: the node an
 * outbound link goes to (NULL: the listening socket). False when there was
 * nothing to read. */
static bool s_link_in(lt_kernel_t *k, void *sock, const lt_pubkey_t *out_key)
{
    if (!sock)
        return false;
    enum { S_MAX = 2 + LT_FRAME_MAX_PARTS + 1 };
    zmq_msg_t msgs[S_MAX];
    size_t n = 0;
    bool over = false;
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, n == 0 && !over ? ZMQ_DONTWAIT : 0) < 0) {
            zmq_msg_close(&m);
            break;
        }
        bool more = zmq_msg_more(&m);
        if (n < S_MAX)
            msgs[n++] = m;
        else {
            over = true;
            zmq_msg_close(&m);
        }
        if (!more)
            break;
    }
    if (n == 0 && !over)
        return false;
    lt_pubkey_t key;
    bool join = false;
    size_t at = 0;
    const char *why = NULL;
    if (out_key) {
        key = *out_key;
    } else if (n < 2 || !s_inbound_sender(&msgs[0], &msgs[1], &key, &join)) {
        memset(&key, 0, sizeof key);
        why = "its routing id is not the key it linked with";
    } else {
        at = 1;
    }
    char src[LT_ADDR_MAX] = "";
    lt_frame_t f;
    lt_errbuf_t eb = {{0}};
    if (!why && over)
        why = "too many parts";
    if (!why && (n < at + 2 || zmq_msg_size(&msgs[at]) >= sizeof src))
        why = "no sender address";
    if (!why) {
        memcpy(src, zmq_msg_data(&msgs[at]), zmq_msg_size(&msgs[at]));
        src[zmq_msg_size(&msgs[at])] = '\0';
        if (strchr(src, '@') || !lt_frame_addr_valid(src))
            why = "a sender address that is not a local one";
    }
    lt_frame_part_t parts[S_MAX];
    for (size_t i = at + 1; !why && i < n; i++) {
        parts[i - at - 1].p = zmq_msg_data(&msgs[i]);
        parts[i - at - 1].len = zmq_msg_size(&msgs[i]);
    }
    if (!why && lt_frame_decode(parts, n - at - 1, &f, NULL, &eb) != LT_OK)
        why = eb.msg;
    /* What a link may carry: requests to services (never to the kernel or a
     * client), replies and events to anyone here; a join link, the join
     * request alone. */
    bool beat = !why && f.cmd == LT_FRAME_HEARTBEAT;
    if (!why && !beat && f.cmd != LT_FRAME_REQUEST && f.cmd != LT_FRAME_REPLY &&
        f.cmd != LT_FRAME_EVENT)
        why = "a command links do not carry";
    if (!why && !beat && strchr(f.addr, '@'))
        why = "a destination on yet another node";
    if (!why && !beat && f.cmd == LT_FRAME_REQUEST &&
        (strcmp(f.addr, LT_FRAME_KERNEL_ADDR) == 0 || !lt_addr_valid(f.addr)))
        why = "a request to something other than a service";
    if (!why && !beat && join &&
        (f.cmd != LT_FRAME_REQUEST || strcmp(f.addr, LT_LINKS_ADMIT_SERVICE) != 0 ||
         f.type != LT_LINKS_JOIN_TYPE))
        why = "a join link may only ask to join";
    if (!why && s_is_revoked(&k->links, &key))
        why = "a node revoked since it linked";
    char hex[2 * LT_KEY_LEN + 1];
    lt_hex(key.b, LT_KEY_LEN, hex);
    bool up = false;
    if (out_key || at == 1) {
        size_t bytes = 0;
        for (size_t i = at; i < n; i++)
            bytes += zmq_msg_size(&msgs[i]);
        uint64_t now = lt_kernel_wall_ms();
        lt_links_out_t *o = out_key ? s_out(&k->links, out_key) : NULL;
        lt_links_in_t *e = out_key ? NULL : s_in(&k->links, &key, true);
        if (o) {
            o->bytes_in += bytes;
            o->last_seen_ms = now;
        } else if (e) {
            /* An admitted peer's link is up when it is first heard after
             * ZAP let it (re)connect, or after a silence long enough for
             * node status to call it not connected. */
            bool quiet = e->last_seen_ms == 0 || now - e->last_seen_ms > S_IN_ALIVE_MS;
            bool fresh = !join && s_fresh_take(&k->links, &key);
            up = !why && !join && (fresh || quiet);
            e->bytes_in += bytes;
            e->last_seen_ms = now;
            e->joining = join;
        }
    }
    if (up)
        s_link_up(k, &key);
    if (why) {
        s_refuse(k, why, hex);
    } else if (beat) {
        /* Counted above as a sign of life; nothing to route. */
    } else {
        if (out_key && f.cmd == LT_FRAME_REPLY)
            s_pending_done(s_out(&k->links, out_key), f.addr, f.corr);
        char from[LT_ADDR_MAX];
        if (snprintf(from, sizeof from, "%s@%s", src, hex) >= (int)sizeof from)
            s_refuse(k, "a sender address too long to answer", hex);
        else
            lt_router_from_link(k, from, &f);
    }
    for (size_t i = 0; i < n; i++)
        zmq_msg_close(&msgs[i]);
    return true;
}

size_t lt_links_pollitems(lt_kernel_t *k, void *itemsp, size_t cap)
{
    zmq_pollitem_t *items = itemsp;
    lt_links_t *l = &k->links;
    size_t n = 0;
    if (l->zap && n < cap)
        items[n++] = (zmq_pollitem_t){.socket = l->zap, .events = ZMQ_POLLIN};
    if (l->peer && n < cap)
        items[n++] = (zmq_pollitem_t){.socket = l->peer, .events = ZMQ_POLLIN};
    for (size_t i = 0; i < l->nout && n + 1 < cap; i++) {
        if (!l->out[i].sock)
            continue; /* waiting to open again (lt_links_tick) */
        items[n++] = (zmq_pollitem_t){.socket = l->out[i].sock, .events = ZMQ_POLLIN};
        items[n++] = (zmq_pollitem_t){.socket = l->out[i].monitor, .events = ZMQ_POLLIN};
    }
    return n;
}

/* Opens the sockets of outbound link o (a DEALER, CURVE client, and the
 * PAIR on its monitor) to addrs; o->addr becomes the first address taken. */
static lt_err_t s_out_sockets(lt_kernel_t *k, lt_links_out_t *o,
                              const char (*addrs)[LT_KCONFIG_ADDR_MAX], size_t naddrs,
                              lt_errbuf_t *eb)
{
    lt_links_t *l = &k->links;
    uint8_t server[32];
    if (crypto_sign_ed25519_pk_to_curve25519(server, o->key.b) != 0)
        return lt_fail(eb, LT_EINVAL, "that key is not a node key");
    void *d = zmq_socket(k->zctx, ZMQ_DEALER);
    if (!d)
        return lt_fail(eb, LT_EIO, "cannot create a link socket: %s", zmq_strerror(errno));
    int64_t maxmsg = S_LINK_MSG_MAX;
    (void)zmq_setsockopt(d, ZMQ_CURVE_SERVERKEY, server, sizeof server);
    (void)zmq_setsockopt(d, ZMQ_CURVE_PUBLICKEY, l->curve_pk, sizeof l->curve_pk);
    (void)zmq_setsockopt(d, ZMQ_CURVE_SECRETKEY, l->curve_sk, sizeof l->curve_sk);
    (void)zmq_setsockopt(d, ZMQ_ROUTING_ID, l->self.b, LT_KEY_LEN);
    (void)zmq_setsockopt(d, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    s_set_int(d, ZMQ_SNDHWM, S_LINK_HWM);
    s_set_int(d, ZMQ_RCVHWM, S_LINK_HWM);
    s_set_int(d, ZMQ_LINGER, 0);
    s_set_int(d, ZMQ_RECONNECT_IVL, 100);
    s_set_int(d, ZMQ_RECONNECT_IVL_MAX, 5000);
    s_set_int(d, ZMQ_HEARTBEAT_IVL, 1000);
    s_set_int(d, ZMQ_HEARTBEAT_TIMEOUT, 5000);
    /* The handshake's outcome comes from the socket's monitor: a refusal
     * (the far side's ZAP said no) answers what waits for that node. */
    char mon_ep[64];
    snprintf(mon_ep, sizeof mon_ep, "inproc://links-monitor-%u", ++l->monitor_seq);
    void *mon = NULL;
    if (zmq_socket_monitor(d, mon_ep,
                           ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_DISCONNECTED) != 0 ||
        !(mon = zmq_socket(k->zctx, ZMQ_PAIR)) || zmq_connect(mon, mon_ep) != 0) {
        if (mon)
            zmq_close(mon);
        zmq_close(d);
        return lt_fail(eb, LT_EIO, "cannot watch a link socket: %s", zmq_strerror(errno));
    }
    size_t ok = 0;
    for (size_t i = 0; i < naddrs; i++) {
        const char *why = NULL;
        if (!lt_kconfig_listen_ok(addrs[i], &why)) {
            lt_log_warn(&k->log, S_TAG, "not linking to %s: %s", addrs[i], why);
            continue;
        }
        if (zmq_connect(d, addrs[i]) != 0) {
            lt_log_warn(&k->log, S_TAG, "cannot link to %s: %s", addrs[i], zmq_strerror(errno));
            continue;
        }
        if (ok++ == 0)
            snprintf(o->addr, sizeof o->addr, "%s", addrs[i]);
    }
    if (ok == 0) {
        zmq_close(d);
        zmq_close(mon);
        return lt_fail(eb, LT_EINVAL, "none of the node's addresses can be linked to");
    }
    o->sock = d;
    o->monitor = mon;
    o->since_ms = lt_kernel_wall_ms();
    return LT_OK;
}

/* lt_links_connect without recording the link in <home>/links. */
static lt_err_t s_connect(lt_kernel_t *k, const lt_pubkey_t *key,
                          const char (*addrs)[LT_KCONFIG_ADDR_MAX], size_t naddrs, bool renew,
                          lt_errbuf_t *eb)
{
    lt_links_t *l = &k->links;
    if (!l->keyed)
        return lt_fail(eb, LT_EUNAVAILABLE, "the node has no link keys");
    if (lt_pubkey_cmp(key, &l->self) == 0)
        return lt_fail(eb, LT_EINVAL, "that is this node itself");
    lt_links_out_t *have = s_out(l, key);
    if (have && !renew)
        return LT_OK;
    if (have)
        s_out_drop(l, (size_t)(have - l->out));
    if (naddrs == 0)
        return lt_fail(eb, LT_EINVAL, "no address to reach the node at");
    if (l->nout == LT_LINKS_MAX_OUT)
        return lt_fail(eb, LT_EFULL, "this node holds %d outbound links already", LT_LINKS_MAX_OUT);
    lt_links_out_t *o = &l->out[l->nout];
    memset(o, 0, sizeof *o);
    o->key = *key;
    o->peer = renew;
    lt_err_t rc = s_out_sockets(k, o, addrs, naddrs, eb);
    if (rc)
        return rc;
    l->nout++;
    char hex[2 * LT_KEY_LEN + 1];
    lt_hex(key->b, LT_KEY_LEN, hex);
    lt_log_info(&k->log, S_TAG, "linking to %.16s at %s", hex, o->addr);
    return LT_OK;
}

lt_err_t lt_links_connect(lt_kernel_t *k, const lt_pubkey_t *key,
                          const char (*addrs)[LT_KCONFIG_ADDR_MAX], size_t naddrs, bool renew,
                          lt_errbuf_t *eb)
{
    lt_err_t rc = s_connect(k, key, addrs, naddrs, renew, eb);
    /* A peer's link (the join link is opened without renew) is opened again
     * when the kernel starts: the far side may have no way to dial us. */
    if (rc == LT_OK && renew)
        s_keep(k, key, addrs, naddrs);
    return rc;
}

void lt_links_restore(lt_kernel_t *k)
{
    lt_links_t *l = &k->links;
    char path[LT_KCONFIG_PATH_MAX + 16];
    s_kept_path(k, path, sizeof path);
    lt_errbuf_t eb = {{0}};
    lt_err_t rc = lt_links_file_read(path, &l->kept, &eb);
    if (rc == LT_ENOTFOUND)
        return;
    if (rc != LT_OK) {
        lt_log_warn(&k->log, S_TAG, "%s; not re-linking to any peer", eb.msg);
        return;
    }
    if (l->kept.skipped)
        lt_log_warn(&k->log, S_TAG, "%s: skipped %zu line%s (%s)", path, l->kept.skipped,
                    l->kept.skipped == 1 ? "" : "s", l->kept.skip_why);
    lt_log_info(&k->log, S_TAG, "re-linking to %zu peer%s", l->kept.npeers,
                l->kept.npeers == 1 ? "" : "s");
    for (size_t i = 0; i < l->kept.npeers; i++) {
        const lt_links_file_peer_t *p = &l->kept.peers[i];
        if (s_connect(k, &p->key, (const char(*)[LT_KCONFIG_ADDR_MAX])p->addrs, p->naddrs, true,
                      &eb) == LT_OK)
            continue;
        /* Forgotten until it is linked to again (the file keeps it until
         * the next change rewrites it). */
        char hex[2 * LT_KEY_LEN + 1];
        lt_hex(p->key.b, LT_KEY_LEN, hex);
        lt_log_warn(&k->log, S_TAG, "not re-linking to %.16s: %s", hex, eb.msg);
        lt_pubkey_t gone = p->key;
        (void)lt_links_file_remove(&l->kept, &gone);
        i--;
    }
}

void lt_links_announce(lt_kernel_t *k)
{
    lt_links_t *l = &k->links;
    for (size_t i = 0; i < l->nout; i++)
        if (l->out[i].up && l->out[i].peer)
            s_link_up(k, &l->out[i].key);
    uint64_t now = lt_kernel_wall_ms();
    for (size_t i = 0; l->peer && i < l->nin; i++) {
        const lt_links_in_t *e = &l->in[i];
        const lt_links_out_t *o = s_out(l, &e->key);
        if (e->joining || now - e->last_seen_ms > S_IN_ALIVE_MS || s_is_revoked(l, &e->key) ||
            (o && o->up && o->peer))
            continue; /* not up, not a peer's, or told above */
        s_link_up(k, &e->key);
    }
}

int lt_links_send(lt_kernel_t *k, const lt_pubkey_t *key, const char *dst_local,
                  const lt_frame_t *f)
{
    lt_links_t *l = &k->links;
    if (s_is_revoked(l, key))
        return EPERM;
    lt_links_out_t *o = s_out(l, key);
    if (o && !o->sock)
        o = NULL; /* waiting to open again: the peer's own link, if any */
    void *sock = o ? o->sock : l->peer;
    if (!sock)
        return EHOSTUNREACH;
    lt_frame_t g = *f;
    snprintf(g.addr, sizeof g.addr, "%s", dst_local);
    lt_frame_part_t parts[LT_FRAME_MAX_PARTS];
    size_t n = 0;
    lt_frame_scratch_t scratch;
    lt_errbuf_t eb;
    if (lt_frame_encode(&g, parts, &n, &scratch, &eb) != LT_OK)
        return EINVAL;
    /* Inbound, the routing id of a peer's connection is its key. */
    if (!o && zmq_send(sock, key->b, LT_KEY_LEN, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return errno;
    if (zmq_send(sock, f->addr, strlen(f->addr), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return errno;
    for (size_t i = 0; i < n; i++)
        if (zmq_send(sock, parts[i].p, parts[i].len, ZMQ_DONTWAIT | (i + 1 < n ? ZMQ_SNDMORE : 0)) <
            0)
            return errno;
    size_t bytes = strlen(f->addr);
    for (size_t i = 0; i < n; i++)
        bytes += parts[i].len;
    lt_links_in_t *e = o ? NULL : s_in(l, key, false);
    if (o)
        o->bytes_out += bytes;
    else if (e)
        e->bytes_out += bytes;
    if (o && f->cmd == LT_FRAME_REQUEST) {
        if (o->npending == LT_LINKS_PENDING)
            memmove(&o->pending[0], &o->pending[1], (LT_LINKS_PENDING - 1) * sizeof o->pending[0]);
        else
            o->npending++;
        lt_links_pending_t *p = &o->pending[o->npending - 1];
        snprintf(p->from, sizeof p->from, "%s", f->addr);
        p->corr = f->corr;
        p->type = f->type;
        char hex[2 * LT_KEY_LEN + 1];
        lt_hex(key->b, LT_KEY_LEN, hex);
        snprintf(p->to, sizeof p->to, "%s@%s", dst_local, hex);
    }
    return 0;
}

void lt_links_recv(lt_kernel_t *k, int budget)
{
    lt_links_t *l = &k->links;
    for (int i = 0; l->zap && i < budget; i++) {
        zmq_msg_t parts[S_ZAP_FRAMES];
        size_t n = 0;
        bool over = false;
        if (!s_recv_parts(l->zap, parts, S_ZAP_FRAMES, &n, &over))
            break;
        s_zap_one(k, parts, n, over);
        for (size_t j = 0; j < n; j++)
            zmq_msg_close(&parts[j]);
    }
    for (int i = 0; i < budget && s_link_in(k, l->peer, NULL); i++)
        ;
    for (size_t j = 0; j < l->nout; j++) {
        for (int i = 0; i < budget && s_link_in(k, l->out[j].sock, &l->out[j].key); i++)
            ;
        if (s_out_events(k, j))
            j--; /* link j was closed: the next one moved into its place */
    }
}

size_t lt_links_info(const lt_kernel_t *k, lattice_kernel_LinkInfo *out, size_t cap)
{
    const lt_links_t *l = &k->links;
    size_t n = 0;
    uint64_t now = lt_kernel_wall_ms();
    for (size_t i = 0; i < l->nout && n < cap; i++, n++) {
        const lt_links_out_t *o = &l->out[i];
        lattice_kernel_LinkInfo *li = &out[n];
        *li = (lattice_kernel_LinkInfo)lattice_kernel_LinkInfo_init_zero;
        li->key.size = LT_KEY_LEN;
        memcpy(li->key.bytes, o->key.b, LT_KEY_LEN);
        snprintf(li->address, sizeof li->address, "%s", o->addr);
        li->outbound = true;
        li->connected = o->up;
        li->since_ms = o->up_ms;
        li->last_seen_ms = o->last_seen_ms;
        li->bytes_in = o->bytes_in;
        li->bytes_out = o->bytes_out;
    }
    for (size_t i = 0; i < l->nin && n < cap; i++, n++) {
        const lt_links_in_t *e = &l->in[i];
        lattice_kernel_LinkInfo *li = &out[n];
        *li = (lattice_kernel_LinkInfo)lattice_kernel_LinkInfo_init_zero;
        li->key.size = LT_KEY_LEN;
        memcpy(li->key.bytes, e->key.b, LT_KEY_LEN);
        li->connected = now - e->last_seen_ms <= S_IN_ALIVE_MS;
        li->joining = e->joining;
        li->since_ms = e->first_ms;
        li->last_seen_ms = e->last_seen_ms;
        li->bytes_in = e->bytes_in;
        li->bytes_out = e->bytes_out;
    }
    return n;
}

/* Opens again the link of a recorded peer that refused it (s_out_refused),
 * at the addresses recorded for it. */
static void s_out_retry(lt_kernel_t *k, lt_links_out_t *o, uint64_t now_ms)
{
    lt_links_t *l = &k->links;
    char hex[2 * LT_KEY_LEN + 1];
    lt_hex(o->key.b, LT_KEY_LEN, hex);
    const lt_links_file_peer_t *p = lt_links_file_find(&l->kept, &o->key);
    char one[1][LT_KCONFIG_ADDR_MAX];
    snprintf(one[0], sizeof one[0], "%s", o->addr);
    lt_errbuf_t eb = {{0}};
    lt_err_t rc =
        p ? s_out_sockets(k, o, (const char(*)[LT_KCONFIG_ADDR_MAX])p->addrs, p->naddrs, &eb)
          : s_out_sockets(k, o, (const char(*)[LT_KCONFIG_ADDR_MAX])one, 1, &eb);
    if (rc == LT_OK) {
        lt_log_info(&k->log, S_TAG, "linking to %.16s at %s again", hex, o->addr);
        return;
    }
    o->retry_ms = now_ms + S_RETRY_MAX_MS;
    lt_log_warn(&k->log, S_TAG, "cannot link to %.16s again: %s; trying again in %d s", hex, eb.msg,
                S_RETRY_MAX_MS / 1000);
}

uint64_t lt_links_tick(lt_kernel_t *k, uint64_t now_ms)
{
    lt_links_t *l = &k->links;
    if (!lt_links_active(k))
        return UINT64_MAX;
    uint64_t next = UINT64_MAX;
    for (size_t i = 0; i < l->nout; i++) {
        lt_links_out_t *o = &l->out[i];
        if (!o->sock && now_ms >= o->retry_ms)
            s_out_retry(k, o, now_ms);
        if (!o->sock && o->retry_ms < next)
            next = o->retry_ms;
    }
    if (now_ms - l->beat_ms >= LT_LINKS_HEARTBEAT_MS) {
        l->beat_ms = now_ms;
        /* From the kernel to the kernel there; a full pipe just skips one. */
        lt_frame_t beat = {.cmd = LT_FRAME_HEARTBEAT, .addr = LT_FRAME_KERNEL_ADDR};
        for (size_t i = 0; i < l->nout; i++)
            if (l->out[i].up)
                (void)lt_links_send(k, &l->out[i].key, LT_FRAME_KERNEL_ADDR, &beat);
        /* To nodes heard lately on the listener (lt_links_send refuses a
         * revoked one). */
        uint64_t wall = lt_kernel_wall_ms();
        for (size_t i = 0; l->peer && i < l->nin; i++)
            if (wall - l->in[i].last_seen_ms <= 10 * LT_LINKS_HEARTBEAT_MS &&
                !s_out(l, &l->in[i].key))
                (void)lt_links_send(k, &l->in[i].key, LT_FRAME_KERNEL_ADDR, &beat);
    }
    uint64_t beat_next = l->beat_ms + LT_LINKS_HEARTBEAT_MS;
    return beat_next < next ? beat_next : next;
}
