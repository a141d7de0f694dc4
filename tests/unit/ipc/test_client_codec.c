/* liblattice-client (ipc/client.h) without a node. First the pure helpers:
 * hex, service state names, the default home, and ops payloads (built with
 * the store's own encoders) as S-expressions. Then the client's side of the
 * protocol against a fake kernel: a ROUTER in a thread, bound in a
 * temporary home, that answers with crafted frames. It shows that replies
 * are decoded strictly (every malformed body is LT_EINVAL "malformed reply
 * from store"), that errors read as one line, that LT_EUNAVAILABLE and
 * silence are retried with the same request id and nothing else is, that
 * stale replies are dropped, and that events arriving during a call are
 * kept for next_event. Every request the client sends is decoded with the
 * store's own strict request decoder. */
#include "ipc/client.h"
#include "ipc/client_decode.h"
#include "ipc/frame.h"
#include "store/ops_codec.h"
#include "store/store_proto.h"
#include "support/testutil.h"

#include "kernel.pb.h"
#include "store.pb.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <sodium.h>
#include <zmq.h>

static bool s_is_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

#define assert_rc(expr, want)                                                                      \
    do {                                                                                           \
        lt_err_t rc_ = (expr);                                                                     \
        cr_assert_eq(rc_, (want), "%s: got %s, want %s", #expr, lt_errname(rc_),                   \
                     lt_errname(want));                                                            \
    } while (0)

static lt_client_store_id_t s_store_id(void)
{
    lt_client_store_id_t id;
    for (int i = 0; i < 16; i++)
        id.b[i] = (uint8_t)(0xa0 + i);
    return id;
}

/* ---- hex, names, home ---- */

Test(client_hex, round_trips_and_parses_exactly)
{
    const uint8_t b[4] = {0x00, 0x7f, 0xa5, 0xff};
    char hex[9];
    lt_client_hex(b, 4, hex);
    cr_assert_str_eq(hex, "007fa5ff");
    uint8_t back[4];
    assert_rc(lt_client_unhex("007FA5ff", back, 4), LT_OK);
    cr_assert_arr_eq(back, b, 4);
    assert_rc(lt_client_unhex("007fa5f", back, 4), LT_EINVAL);
    assert_rc(lt_client_unhex("007fa5ff00", back, 4), LT_EINVAL);
    assert_rc(lt_client_unhex("007fa5fg", back, 4), LT_EINVAL);
    assert_rc(lt_client_unhex("", back, 0), LT_OK);
}

Test(client_names, every_service_state_has_a_name)
{
    cr_assert_str_eq(lt_client_service_state_name(LT_SERVICE_STARTING), "starting");
    cr_assert_str_eq(lt_client_service_state_name(LT_SERVICE_READY), "ready");
    cr_assert_str_eq(lt_client_service_state_name(LT_SERVICE_BACKOFF), "backoff");
    cr_assert_str_eq(lt_client_service_state_name(LT_SERVICE_FAILED), "failed");
    cr_assert_str_eq(lt_client_service_state_name(LT_SERVICE_STOPPED), "stopped");
    cr_assert_str_eq(lt_client_service_state_name(LT_SERVICE_WAITING), "waiting");
    cr_assert_str_eq(lt_client_service_state_name(0), "unknown");
    cr_assert_str_eq(lt_client_service_state_name(99), "unknown");
}

Test(client_home, lattice_home_then_xdg_then_home)
{
    char out[256];
    setenv("LATTICE_HOME", "/a/lh", 1);
    setenv("XDG_DATA_HOME", "/b/xdg", 1);
    setenv("HOME", "/c/home", 1);
    assert_rc(lt_client_default_home(out, sizeof out), LT_OK);
    cr_assert_str_eq(out, "/a/lh");
    setenv("LATTICE_HOME", "", 1); /* empty counts as unset */
    assert_rc(lt_client_default_home(out, sizeof out), LT_OK);
    cr_assert_str_eq(out, "/b/xdg/lattice");
    unsetenv("XDG_DATA_HOME");
    assert_rc(lt_client_default_home(out, sizeof out), LT_OK);
    cr_assert_str_eq(out, "/c/home/.local/share/lattice");
    assert_rc(lt_client_default_home(out, 8), LT_EINVAL);
    unsetenv("HOME");
    unsetenv("LATTICE_HOME");
    assert_rc(lt_client_default_home(out, sizeof out), LT_EINVAL);
}

/* ---- ops as S-expressions ---- */

static char *s_sexpr(const lt_buf_t *uop, int type)
{
    char *s = NULL;
    assert_rc(lt_client_ops_sexpr(uop->data, uop->len, type, &s), LT_OK);
    return s;
}

static void s_kv_uop(const lt_kv_entry_t *e, size_t n, lt_buf_t *uop)
{
    lt_buf_t app = LT_BUF_INIT;
    assert_rc(lt_kvop_encode(e, n, &app), LT_OK);
    assert_rc(lt_uop_encode_app(app.data, app.len, uop), LT_OK);
    lt_buf_free(&app);
}

static lt_view_t s_v(const char *s, size_t n)
{
    return (lt_view_t){(const uint8_t *)s, n};
}

/* ---- invite tokens ---- */

static lt_client_invite_t s_invite(size_t naddrs)
{
    lt_client_invite_t inv;
    memset(&inv, 0, sizeof inv);
    for (size_t i = 0; i < sizeof inv.store.b; i++)
        inv.store.b[i] = (uint8_t)(0x10 + i);
    for (size_t i = 0; i < sizeof inv.inviter.b; i++)
        inv.inviter.b[i] = (uint8_t)(0x80 + i);
    for (size_t i = 0; i < sizeof inv.secret; i++)
        inv.secret[i] = (uint8_t)(0xc0 ^ i);
    inv.expires_ms = 1795517505419ull;
    inv.naddrs = naddrs;
    for (size_t i = 0; i < naddrs; i++)
        snprintf(inv.addrs[i], sizeof inv.addrs[i], "tcp://10.0.0.%zu:7%03zu", i + 1, i);
    return inv;
}

Test(client_invite, a_token_round_trips_with_and_without_addresses)
{
    for (size_t naddrs = 0; naddrs <= LT_CLIENT_INVITE_MAX_ADDRS; naddrs += 4) {
        lt_client_invite_t inv = s_invite(naddrs), back;
        char tok[LT_CLIENT_INVITE_TOKEN_MAX], msg[160];
        assert_rc(lt_client_invite_token_encode(&inv, tok, sizeof tok), LT_OK);
        cr_assert_eq(strncmp(tok, "lt1.", 4), 0);
        cr_assert_eq(strcspn(tok, " \t\n+/="), strlen(tok), "one URL-safe word: %s", tok);
        assert_rc(lt_client_invite_token_decode(tok, &back, msg, sizeof msg), LT_OK);
        cr_assert_eq(memcmp(&inv, &back, sizeof inv), 0, "naddrs %zu", naddrs);
    }
    /* The longest token fits the documented bound. */
    lt_client_invite_t big = s_invite(LT_CLIENT_INVITE_MAX_ADDRS);
    for (size_t i = 0; i < big.naddrs; i++)
        memset(big.addrs[i], 'a', LT_CLIENT_INVITE_ADDR_MAX);
    char tok[LT_CLIENT_INVITE_TOKEN_MAX];
    assert_rc(lt_client_invite_token_encode(&big, tok, sizeof tok), LT_OK);
    assert_rc(lt_client_invite_token_encode(&big, tok, 40), LT_EFULL);
}

Test(client_invite, bad_tokens_are_refused_with_a_reason)
{
    lt_client_invite_t inv = s_invite(2), back;
    char tok[LT_CLIENT_INVITE_TOKEN_MAX], bad[LT_CLIENT_INVITE_TOKEN_MAX + 8], msg[160];
    assert_rc(lt_client_invite_token_encode(&inv, tok, sizeof tok), LT_OK);
    size_t len = strlen(tok);
    const char *cases[] = {"", "lt1.", "lt2.AAAA", "hello", "lt1.!!!!", "lt1.AAAA\306AAAi98", NULL};
    for (int i = 0; cases[i]; i++) {
        assert_rc(lt_client_invite_token_decode(cases[i], &back, msg, sizeof msg), LT_EINVAL);
        cr_assert(strstr(msg, "not a valid invite token"), "%s", msg);
    }
    /* Every cut of the token is refused (base64 or a field cut short). */
    for (size_t cut = 4; cut < len; cut++) {
        memcpy(bad, tok, cut);
        bad[cut] = '\0';
        cr_assert_eq(lt_client_invite_token_decode(bad, &back, msg, sizeof msg), LT_EINVAL,
                     "cut at %zu", cut);
        cr_assert(s_is_zero(&back, sizeof back), "nothing is handed back");
    }
    /* Trailing bytes, another version, a non-printable address. */
    uint8_t bin[512];
    size_t n = 0;
    cr_assert_eq(sodium_base642bin(bin, sizeof bin, tok + 4, len - 4, NULL, &n, NULL,
                                   sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                 0);
    uint8_t mod[513];
    struct {
        size_t at;
        int delta; /* byte changed at `at`, or appended when at == n */
        const char *why;
    } muts[] = {{n, 0, "after its last field"},
                {0, 1, "another version"},
                {1 + 16 + 32 + 32 + 8 + 1 + 1, -100, "not printable"},
                {1 + 16 + 32 + 32 + 8, 7, "too many"}};
    for (size_t i = 0; i < sizeof muts / sizeof muts[0]; i++) {
        memcpy(mod, bin, n);
        size_t mn = n;
        if (muts[i].at == n)
            mod[mn++] = 0;
        else
            mod[muts[i].at] = (uint8_t)(mod[muts[i].at] + muts[i].delta);
        memcpy(bad, "lt1.", 4);
        sodium_bin2base64(bad + 4, sizeof bad - 4, mod, mn,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        assert_rc(lt_client_invite_token_decode(bad, &back, msg, sizeof msg), LT_EINVAL);
        cr_assert(strstr(msg, muts[i].why), "%s: %s", muts[i].why, msg);
    }
    /* An address that would not print refuses to encode. */
    inv.addrs[1][3] = '\n';
    assert_rc(lt_client_invite_token_encode(&inv, tok, sizeof tok), LT_EINVAL);
}

Test(client_invite, invited_and_peer_list_replies_decode_strictly)
{
    lattice_store_Invited m = lattice_store_Invited_init_zero;
    m.secret.size = 32;
    memset(m.secret.bytes, 7, 32);
    m.expires_ms = 99;
    lt_buf_t b = LT_BUF_INIT;
    cr_assert_eq(lt_pb_encode_static(lattice_store_Invited_fields, &m, &b), LT_OK);
    lt_client_invite_t inv;
    memset(&inv, 0, sizeof inv);
    lt_errbuf_t eb = {""};
    assert_rc(lt_client_decode_invited(b.data, b.len, &inv, &eb), LT_OK);
    cr_assert_eq(inv.expires_ms, 99);
    cr_assert_eq(inv.secret[31], 7);
    m.secret.size = 31;
    cr_assert_eq(lt_pb_encode_static(lattice_store_Invited_fields, &m, &b), LT_OK);
    assert_rc(lt_client_decode_invited(b.data, b.len, &inv, &eb), LT_EINVAL);
    cr_assert(strstr(eb.msg, "malformed"));

    lattice_store_PeerItem it = lattice_store_PeerItem_init_zero;
    it.key.size = 32;
    memset(it.key.bytes, 3, 32);
    it.state = lattice_store_PeerState_PEER_STATE_REVOKED;
    lt_buf_reset(&b);
    cr_assert_eq(lt_pb_append_field(&b, lattice_store_PeerList_peers_tag,
                                    lattice_store_PeerItem_fields, &it),
                 LT_OK);
    lt_client_peer_t *peers = NULL;
    size_t n = 0;
    assert_rc(lt_client_decode_peer_list(b.data, b.len, &peers, &n, &eb), LT_OK);
    cr_assert_eq(n, 1);
    cr_assert_eq(peers[0].state, LT_CLIENT_PEER_REVOKED);
    cr_assert_str_eq(lt_client_peer_state_name(peers[0].state), "revoked");
    cr_assert_not(peers[0].inherited);
    lt_client_free(peers);
    /* A child store's inherited peer says so. */
    it.state = lattice_store_PeerState_PEER_STATE_ACTIVE;
    it.inherited = true;
    cr_assert_eq(lt_pb_append_field(&b, lattice_store_PeerList_peers_tag,
                                    lattice_store_PeerItem_fields, &it),
                 LT_OK);
    assert_rc(lt_client_decode_peer_list(b.data, b.len, &peers, &n, &eb), LT_OK);
    cr_assert_eq(n, 2);
    cr_assert_not(peers[0].inherited);
    cr_assert(peers[1].inherited);
    cr_assert_eq(peers[1].state, LT_CLIENT_PEER_ACTIVE);
    lt_client_free(peers);
    it.inherited = false;
    it.state = (lattice_store_PeerState)9;
    lt_buf_reset(&b);
    cr_assert_eq(lt_pb_append_field(&b, lattice_store_PeerList_peers_tag,
                                    lattice_store_PeerItem_fields, &it),
                 LT_OK);
    assert_rc(lt_client_decode_peer_list(b.data, b.len, &peers, &n, &eb), LT_EINVAL);
    cr_assert_null(peers);
    cr_assert_eq(n, 0);
    lt_buf_free(&b);
}

Test(client_sexpr, kv_puts_and_deletes_read_as_kv_forms)
{
    lt_kv_entry_t e[2] = {{s_v("k", 1), s_v("v", 1), false}, {s_v("x", 1), s_v("", 0), true}};
    lt_buf_t uop = LT_BUF_INIT;
    s_kv_uop(e, 2, &uop);
    char *s = s_sexpr(&uop, LT_CLIENT_STORE_KV);
    cr_assert_str_eq(s, "(kv (put \"k\" \"v\") (del \"x\"))");
    free(s);
    lt_buf_free(&uop);
}

Test(client_sexpr, strings_are_escaped_and_other_bytes_are_hex)
{
    lt_kv_entry_t e[3] = {
        {s_v("a\"b\\c", 5), s_v("line\n\ttab\r", 10), false},
        {s_v("\x00\x01\xff", 3), s_v("caf\xc3\xa9", 5), false},       /* binary key, UTF-8 value */
        {s_v("bad\xc3", 4), s_v("\xe0\x80\x80 overlong", 12), false}, /* invalid UTF-8 */
    };
    lt_buf_t uop = LT_BUF_INIT;
    s_kv_uop(e, 3, &uop);
    char *s = s_sexpr(&uop, LT_CLIENT_STORE_KV);
    cr_assert_str_eq(s, "(kv (put \"a\\\"b\\\\c\" \"line\\n\\ttab\\r\")"
                        " (put #x0001ff \"caf\xc3\xa9\")"
                        " (put #x626164c3 #xe08080206f7665726c6f6e67))");
    free(s);
    lt_buf_free(&uop);

    /* Control characters, DEL and C1 controls are not text. */
    lt_kv_entry_t c[3] = {{s_v("\x1b[2J", 4), s_v("\x7f", 1), false},
                          {s_v("\xc2\x85", 2), s_v("", 0), false},
                          {s_v(" ", 1), s_v("", 0), true}};
    s_kv_uop(c, 3, &uop);
    s = s_sexpr(&uop, LT_CLIENT_STORE_KV);
    cr_assert_str_eq(s, "(kv (put #x1b5b324a #x7f) (put #xc285 \"\") (del \" \"))");
    free(s);
    lt_buf_free(&uop);
}

Test(client_sexpr, a_log_entry_reads_as_an_append)
{
    lt_buf_t app = LT_BUF_INIT, uop = LT_BUF_INIT;
    assert_rc(lt_logentry_encode((const uint8_t *)"hello \"you\"", 11, &app), LT_OK);
    assert_rc(lt_uop_encode_app(app.data, app.len, &uop), LT_OK);
    char *s = s_sexpr(&uop, LT_CLIENT_STORE_LOG);
    cr_assert_str_eq(s, "(log (append \"hello \\\"you\\\"\"))");
    free(s);
    lt_buf_free(&app);
    lt_buf_free(&uop);
}

static char *s_system(const lattice_SystemOp *op, int type)
{
    lt_buf_t uop = LT_BUF_INIT;
    assert_rc(lt_uop_encode_system(op, &uop), LT_OK);
    char *s = s_sexpr(&uop, type);
    lt_buf_free(&uop);
    return s;
}

Test(client_sexpr, system_ops_read_as_system_forms_whatever_the_store)
{
    lattice_SystemOp op = lattice_SystemOp_init_zero;
    op.which_op = lattice_SystemOp_peer_tag;
    op.op.peer.key.size = 32;
    memset(op.op.peer.key.bytes, 0xab, 32);
    op.op.peer.status = lattice_PeerStatus_PEER_ACTIVE;
    char *s = s_system(&op, LT_CLIENT_STORE_LOG);
    char want[128];
    snprintf(want, sizeof want, "(system (peer #x%s active))",
             "abababababababababababababababababababababababababababababababab");
    cr_assert_str_eq(s, want);
    free(s);

    memset(&op, 0, sizeof op);
    op.which_op = lattice_SystemOp_invite_tag;
    op.op.invite.secret_hash.size = 2;
    op.op.invite.secret_hash.bytes[0] = 0x01;
    op.op.invite.secret_hash.bytes[1] = 0x02;
    op.op.invite.status = lattice_InviteStatus_INVITE_CONSUMED;
    op.op.invite.expires_ms = 1700000000000ull;
    op.op.invite.invitee.size = 1;
    op.op.invite.invitee.bytes[0] = 0xee;
    s = s_system(&op, LT_CLIENT_STORE_KV);
    cr_assert_str_eq(s, "(system (invite #x0102 consumed 1700000000000 #xee))");
    free(s);

    memset(&op, 0, sizeof op);
    op.which_op = lattice_SystemOp_child_tag;
    op.op.child.store_id.size = 2;
    op.op.child.store_id.bytes[0] = 0xc0;
    op.op.child.store_id.bytes[1] = 0xde;
    snprintf(op.op.child.type, sizeof op.op.child.type, "core:kvstore");
    snprintf(op.op.child.name, sizeof op.op.child.name, "docs");
    op.op.child.status = lattice_ChildStatus_CHILD_REMOVED;
    s = s_system(&op, 0);
    cr_assert_str_eq(s, "(system (child #xc0de \"core:kvstore\" \"docs\" removed))");
    free(s);

    memset(&op, 0, sizeof op);
    op.which_op = lattice_SystemOp_name_tag;
    snprintf(op.op.name, sizeof op.op.name, "my \"notes\"");
    s = s_system(&op, LT_CLIENT_STORE_KV);
    cr_assert_str_eq(s, "(system (name \"my \\\"notes\\\"\"))");
    free(s);

    memset(&op, 0, sizeof op);
    op.which_op = lattice_SystemOp_strategy_tag;
    op.op.strategy = lattice_PeerStrategy_STRATEGY_SNAPSHOT;
    s = s_system(&op, LT_CLIENT_STORE_KV);
    cr_assert_str_eq(s, "(system (strategy snapshot))");
    free(s);

    memset(&op, 0, sizeof op);
    op.which_op = lattice_SystemOp_strategy_tag;
    op.op.strategy = (lattice_PeerStrategy)9; /* from a newer peer */
    s = s_system(&op, LT_CLIENT_STORE_KV);
    cr_assert_str_eq(s, "(system (strategy 9))");
    free(s);
}

Test(client_sexpr, without_the_store_type_app_bytes_are_not_guessed)
{
    lt_kv_entry_t e = {s_v("k", 1), s_v("v", 1), false};
    lt_buf_t uop = LT_BUF_INIT;
    s_kv_uop(&e, 1, &uop);
    char *s = s_sexpr(&uop, 0);
    cr_assert_str_eq(s, "(app #x0a060a016b120176)");
    free(s);
    lt_buf_free(&uop);
}

Test(client_sexpr, payloads_that_do_not_decode_are_refused)
{
    char *s = (char *)"untouched";
    /* not a UniversalOp */
    static const uint8_t junk[] = {0xff, 0xff, 0xff};
    assert_rc(lt_client_ops_sexpr(junk, sizeof junk, LT_CLIENT_STORE_KV, &s), LT_EPAYLOAD);
    cr_assert_null(s);
    /* an app payload that is no KvOp */
    lt_buf_t uop = LT_BUF_INIT;
    assert_rc(lt_uop_encode_app(junk, sizeof junk, &uop), LT_OK);
    assert_rc(lt_client_ops_sexpr(uop.data, uop.len, LT_CLIENT_STORE_KV, &s), LT_EPAYLOAD);
    assert_rc(lt_client_ops_sexpr(uop.data, uop.len, LT_CLIENT_STORE_LOG, &s), LT_EPAYLOAD);
    assert_rc(lt_client_ops_sexpr(uop.data, uop.len, 7, &s), LT_ETYPE);
    /* a KvOp entry with an empty key */
    static const uint8_t empty_key[] = {0x0a, 0x02, 0x12, 0x00};
    lt_buf_reset(&uop);
    assert_rc(lt_uop_encode_app(empty_key, sizeof empty_key, &uop), LT_OK);
    assert_rc(lt_client_ops_sexpr(uop.data, uop.len, LT_CLIENT_STORE_KV, &s), LT_EPAYLOAD);
    lt_buf_free(&uop);
}

/* ---- a fake kernel ---- */

#define F_SEEN_MAX 128

typedef struct s_fake s_fake_t;
/* Answers one request to "store" (runs on the fake's thread). */
typedef void (*s_fake_fn)(s_fake_t *f, const lt_frame_t *req, const lt_store_req_t *r,
                          lt_err_t decoded);

typedef struct {
    uint64_t corr;
    uint32_t type;
    lt_err_t decoded; /* what the store's decoder said of the body */
    bool has_request_id;
    uint8_t request_id[LT_REQUEST_ID_LEN];
} s_seen_t;

struct s_fake {
    char *home;
    void *zctx, *router;
    pthread_t thread;
    atomic_bool stop;
    atomic_bool silent;    /* answer nothing at all */
    atomic_uint store_pid; /* what KERNEL_STATUS says */
    s_fake_fn fn;          /* NULL: store requests get no answer */
    uint8_t peer[256];     /* routing id of the sender being answered */
    size_t peer_len;
    pthread_mutex_t mu;        /* guards the fields below */
    s_seen_t seen[F_SEEN_MAX]; /* store requests, in order */
    size_t nseen;
    /* what the test's fn uses */
    uint32_t reply_status;
    uint8_t reply[1024];
    size_t reply_len;
    uint64_t watch_corr;
    int count;
};

static void s_fake_send(s_fake_t *f, lt_frame_cmd_t cmd, const char *addr, uint64_t corr,
                        uint32_t type, uint32_t status, const void *body, size_t len)
{
    lt_frame_t fr = {
        .cmd = cmd, .corr = corr, .type = type, .status = status, .body = body, .len = len};
    snprintf(fr.addr, sizeof fr.addr, "%s", addr);
    lt_frame_part_t parts[LT_FRAME_MAX_PARTS];
    size_t n;
    lt_frame_scratch_t scratch;
    if (lt_frame_encode(&fr, parts, &n, &scratch, NULL) != LT_OK)
        abort();
    zmq_send(f->router, f->peer, f->peer_len, ZMQ_SNDMORE);
    for (size_t i = 0; i < n; i++)
        zmq_send(f->router, parts[i].p, parts[i].len, i + 1 < n ? ZMQ_SNDMORE : 0);
}

static void s_fake_reply(s_fake_t *f, const lt_frame_t *req, uint32_t status, const void *body,
                         size_t len)
{
    s_fake_send(f, LT_FRAME_REPLY, req->addr, req->corr, req->type, status, body, len);
}

static void s_fake_kernel(s_fake_t *f, const lt_frame_t *req)
{
    if (req->type == lattice_kernel_KernelMsgType_KERNEL_STATUS) {
        lattice_kernel_NodeStatus st = lattice_kernel_NodeStatus_init_zero;
        st.node_key.size = 32;
        memset(st.node_key.bytes, 0x11, 32);
        st.pid = 100;
        snprintf(st.version, sizeof st.version, "0.1.0");
        snprintf(st.home, sizeof st.home, "%s", f->home);
        st.services_count = 1;
        snprintf(st.services[0].name, sizeof st.services[0].name, "store");
        st.services[0].state = lattice_kernel_ServiceState_SERVICE_READY;
        st.services[0].pid = atomic_load(&f->store_pid);
        lt_buf_t b = LT_BUF_INIT;
        if (lt_pb_encode_static(lattice_kernel_NodeStatus_fields, &st, &b) != LT_OK)
            abort();
        s_fake_reply(f, req, LT_OK, b.data, b.len);
        lt_buf_free(&b);
        return;
    }
    s_fake_reply(f, req, LT_OK, NULL, 0); /* PING and the rest: an empty success */
}

static void s_fake_handle(s_fake_t *f, zmq_msg_t *msgs, size_t n)
{
    if (n < 2 || zmq_msg_size(&msgs[0]) > sizeof f->peer)
        return;
    f->peer_len = zmq_msg_size(&msgs[0]);
    memcpy(f->peer, zmq_msg_data(&msgs[0]), f->peer_len);
    lt_frame_part_t parts[LT_FRAME_MAX_PARTS];
    if (n - 1 > LT_FRAME_MAX_PARTS)
        return;
    for (size_t i = 1; i < n; i++)
        parts[i - 1] = (lt_frame_part_t){zmq_msg_data(&msgs[i]), zmq_msg_size(&msgs[i])};
    lt_frame_t req;
    if (lt_frame_decode(parts, n - 1, &req, NULL, NULL) != LT_OK || req.cmd != LT_FRAME_REQUEST)
        return;
    if (atomic_load(&f->silent))
        return;
    if (strcmp(req.addr, "kernel") == 0) {
        s_fake_kernel(f, &req);
        return;
    }
    lt_store_req_t r;
    lt_err_t decoded = lt_store_req_decode(req.type, req.body, req.len, &r, NULL);
    pthread_mutex_lock(&f->mu);
    if (f->nseen < F_SEEN_MAX) {
        s_seen_t *s = &f->seen[f->nseen++];
        s->corr = req.corr;
        s->type = req.type;
        s->decoded = decoded;
        s->has_request_id = decoded == LT_OK && r.has_request_id;
        if (s->has_request_id)
            memcpy(s->request_id, r.request_id, LT_REQUEST_ID_LEN);
    }
    if (f->fn)
        f->fn(f, &req, &r, decoded);
    pthread_mutex_unlock(&f->mu);
    if (decoded == LT_OK)
        lt_store_req_free(&r);
}

static void *s_fake_main(void *arg)
{
    s_fake_t *f = arg;
    while (!atomic_load(&f->stop)) {
        zmq_pollitem_t item = {f->router, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, 20) <= 0)
            continue;
        zmq_msg_t msgs[9];
        size_t n = 0;
        int more = 1;
        while (more) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, f->router, 0) < 0) {
                zmq_msg_close(&m);
                break;
            }
            more = zmq_msg_more(&m);
            if (n < 9)
                msgs[n++] = m;
            else
                zmq_msg_close(&m);
        }
        s_fake_handle(f, msgs, n);
        for (size_t i = 0; i < n; i++)
            zmq_msg_close(&msgs[i]);
    }
    return NULL;
}

static s_fake_t *s_fake_start(s_fake_fn fn)
{
    s_fake_t *f = calloc(1, sizeof *f);
    cr_assert(f);
    f->home = lt_test_tmpdir("client");
    f->fn = fn;
    atomic_store(&f->store_pid, 4242);
    pthread_mutex_init(&f->mu, NULL);
    f->zctx = zmq_ctx_new();
    f->router = zmq_socket(f->zctx, ZMQ_ROUTER);
    /* Nothing the fake sends may be dropped (the event flood test counts
     * them): no send limit, and block rather than drop. */
    int linger = 0, hwm = 0, mandatory = 1;
    zmq_setsockopt(f->router, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(f->router, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(f->router, ZMQ_ROUTER_MANDATORY, &mandatory, sizeof mandatory);
    char ep[512];
    snprintf(ep, sizeof ep, "ipc://%s/kernel.sock", f->home);
    cr_assert_eq(zmq_bind(f->router, ep), 0, "bind %s: %s", ep, zmq_strerror(errno));
    cr_assert_eq(pthread_create(&f->thread, NULL, s_fake_main, f), 0);
    return f;
}

static void s_fake_stop(s_fake_t **f_p)
{
    s_fake_t *f = *f_p;
    atomic_store(&f->stop, true);
    pthread_join(f->thread, NULL);
    zmq_close(f->router);
    zmq_ctx_term(f->zctx);
    pthread_mutex_destroy(&f->mu);
    lt_test_rmtree(&f->home);
    free(f);
    *f_p = NULL;
}

static lt_client_t *s_connect(s_fake_t *f, uint32_t timeout_ms)
{
    lt_client_opts_t o = {.home = f->home, .timeout_ms = timeout_ms};
    lt_client_t *c = NULL;
    lt_errbuf_t eb = {""};
    assert_rc(lt_client_connect(&o, &c, &eb), LT_OK);
    cr_assert_not_null(c);
    cr_assert_str_eq(lt_client_home(c), f->home);
    return c;
}

static size_t s_nseen(s_fake_t *f)
{
    pthread_mutex_lock(&f->mu);
    size_t n = f->nseen;
    pthread_mutex_unlock(&f->mu);
    return n;
}

/* Answers every store request with the test's canned status and body. */
static void s_canned(s_fake_t *f, const lt_frame_t *req, const lt_store_req_t *r, lt_err_t decoded)
{
    (void)r;
    (void)decoded;
    s_fake_reply(f, req, f->reply_status, f->reply, f->reply_len);
}

static void s_set_reply(s_fake_t *f, uint32_t status, const lt_buf_t *body)
{
    pthread_mutex_lock(&f->mu);
    f->reply_status = status;
    f->reply_len = body ? body->len : 0;
    cr_assert_leq(f->reply_len, sizeof f->reply);
    if (f->reply_len)
        memcpy(f->reply, body->data, body->len);
    pthread_mutex_unlock(&f->mu);
}

static void s_set_reply_bytes(s_fake_t *f, uint32_t status, const void *p, size_t n)
{
    lt_buf_t b = {(uint8_t *)p, n, n};
    s_set_reply(f, status, &b);
}

/* ---- connecting ---- */

Test(client_connect, a_home_without_a_node_is_enotfound_with_the_line)
{
    char *home = lt_test_tmpdir("client-none");
    lt_client_opts_t o = {.home = home};
    lt_client_t *c = NULL;
    lt_errbuf_t eb = {""};
    assert_rc(lt_client_connect(&o, &c, &eb), LT_ENOTFOUND);
    cr_assert_null(c);
    char want[1024];
    snprintf(want, sizeof want, "no node is running at %s (start it with: latticed --home %s)",
             home, home);
    cr_assert_str_eq(eb.msg, want);
    lt_test_rmtree(&home);
}

Test(client_connect, a_socket_left_by_a_dead_node_is_enotfound)
{
    char *home = lt_test_tmpdir("client-stale");
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s/kernel.sock", home);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    close(fd); /* the file stays, nothing listens */
    lt_client_opts_t o = {.home = home};
    lt_client_t *c = NULL;
    lt_errbuf_t eb = {""};
    assert_rc(lt_client_connect(&o, &c, &eb), LT_ENOTFOUND);
    cr_assert(strstr(eb.msg, "no node is running at "));
    lt_test_rmtree(&home);
}

Test(client_connect, a_node_that_does_not_answer_is_enotfound)
{
    s_fake_t *f = s_fake_start(NULL);
    atomic_store(&f->silent, true);
    lt_client_opts_t o = {.home = f->home, .timeout_ms = 200};
    lt_client_t *c = NULL;
    lt_errbuf_t eb = {""};
    assert_rc(lt_client_connect(&o, &c, &eb), LT_ENOTFOUND);
    cr_assert(strstr(eb.msg, "no node is running at "), "%s", eb.msg);
    s_fake_stop(&f);
}

Test(client_connect, a_home_too_long_for_a_socket_is_einval)
{
    char home[200];
    memset(home, 'h', sizeof home - 1);
    home[0] = '/';
    home[sizeof home - 1] = '\0';
    lt_client_opts_t o = {.home = home};
    lt_client_t *c = NULL;
    lt_errbuf_t eb = {""};
    assert_rc(lt_client_connect(&o, &c, &eb), LT_EINVAL);
    cr_assert(strstr(eb.msg, "too long"), "%s", eb.msg);
}

/* ---- replies ---- */

Test(client_reply, a_call_nobody_answers_times_out)
{
    s_fake_t *f = s_fake_start(NULL);
    lt_client_t *c = s_connect(f, 300);
    lt_client_store_id_t id = s_store_id();
    lt_client_item_t it;
    assert_rc(lt_client_get(c, &id, "k", 1, &it), LT_ETIMEDOUT);
    cr_assert_str_eq(lt_client_errmsg(c), "no reply from the store service within 300 ms");
    assert_rc(lt_client_ping(c), LT_OK);
    cr_assert_str_eq(lt_client_errmsg(c), "");
    lt_client_close(&c);
    lt_client_close(&c); /* idempotent */
    s_fake_stop(&f);
}

/* One malformed reply and the call it answers. */
typedef struct {
    const char *what;
    int call;
    uint8_t body[128];
    size_t len;
} s_bad_t;

enum {
    C_PUT,
    C_CREATE,
    C_GET,
    C_LIST,
    C_STORES,
    C_INSPECT,
    C_READ,
    C_HISTORY,
    C_DEBUG,
    C_REMOVE,
    C_RESOLVE,
    C_INFO,
    C_WATCH
};

static lt_err_t s_do_call(lt_client_t *c, int call)
{
    lt_client_store_id_t id = s_store_id(), out;
    lt_client_hash_t h = {{0}};
    lt_err_t rc = LT_OK;
    switch (call) {
    case C_PUT:
        return lt_client_put(c, &id, "k", 1, "v", 1, &h);
    case C_CREATE:
        return lt_client_store_create(c, LT_CLIENT_STORE_KV, "n", NULL, &out);
    case C_GET: {
        lt_client_item_t it;
        rc = lt_client_get(c, &id, "k", 1, &it);
        if (rc == LT_OK)
            lt_client_item_clear(&it);
        return rc;
    }
    case C_LIST: {
        lt_client_item_t *v;
        size_t n;
        rc = lt_client_list(c, &id, "", 0, &v, &n);
        if (rc == LT_OK)
            lt_client_items_free(v, n);
        return rc;
    }
    case C_STORES: {
        lt_client_store_t *v;
        size_t n;
        rc = lt_client_store_list(c, &v, &n);
        if (rc == LT_OK)
            lt_client_free(v);
        return rc;
    }
    case C_INSPECT: {
        lt_client_head_t *v;
        size_t n;
        rc = lt_client_inspect(c, &id, "k", 1, &v, &n);
        if (rc == LT_OK)
            lt_client_heads_free(v, n);
        return rc;
    }
    case C_READ: {
        lt_client_log_entry_t *v;
        size_t n;
        rc = lt_client_read(c, &id, 0, &v, &n);
        if (rc == LT_OK)
            lt_client_log_entries_free(v, n);
        return rc;
    }
    case C_HISTORY: {
        lt_client_history_item_t *v;
        size_t n;
        rc = lt_client_history(c, &id, 0, &v, &n);
        if (rc == LT_OK)
            lt_client_free(v);
        return rc;
    }
    case C_DEBUG: {
        lt_client_intention_t in;
        rc = lt_client_debug(c, &id, &h, &in);
        if (rc == LT_OK)
            lt_client_intention_clear(&in);
        return rc;
    }
    case C_REMOVE:
        return lt_client_store_remove(c, &id);
    case C_RESOLVE:
        return lt_client_store_resolve(c, "abc", &out);
    case C_INFO: {
        lt_client_store_info_t info;
        return lt_client_store_info(c, &id, &info);
    }
    case C_WATCH: {
        uint64_t s;
        return lt_client_watch(c, &id, "", 0, &s);
    }
    }
    return LT_EINVAL;
}

/* Bytes of a protobuf field: tag (field << 3 | 2), length, then n bytes of v. */
#define LEN(field, n) (uint8_t)((field) << 3 | 2), (uint8_t)(n)

static const s_bad_t s_bad[] = {
    {"Written hash of 31 bytes", C_PUT, {LEN(1, 31)}, 2 + 31},
    {"Written without a hash", C_PUT, {0}, 0},
    {"a body that is not protobuf", C_PUT, {0xff, 0xff, 0xff}, 3},
    {"a field longer than the body", C_GET, {LEN(1, 40), 'k'}, 3},
    {"StoreCreated id of 15 bytes", C_CREATE, {LEN(1, 15)}, 2 + 15},
    {"KvItem without a key", C_GET, {LEN(2, 1), 'v'}, 3},
    {"KvItem key as a varint", C_GET, {0x08, 0x01}, 2},
    {"KvList item that is not a KvItem", C_LIST, {LEN(1, 2), 0xff, 0xff}, 4},
    {"StoreList of an unknown type", C_STORES, {LEN(1, 20), LEN(1, 16), [20] = 0x10, 9}, 22},
    {"KvHeads of another key", C_INSPECT, {LEN(1, 1), 'x'}, 3},
    {"KvHeads without heads", C_INSPECT, {LEN(1, 1), 'k'}, 3},
    {"Head author of 31 bytes",
     C_INSPECT,
     {LEN(1, 1), 'k', LEN(2, 2 + 32 + 2 + 31), LEN(1, 32), [39] = LEN(2, 31)},
     3 + 2 + 67},
    {"LogItem hash of 33 bytes", C_READ, {LEN(1, 35), LEN(5, 33)}, 4 + 33},
    {"HistoryItem without a hash", C_HISTORY, {LEN(1, 2), 0x08, 0x01}, 4},
    {"DebugIntention with nothing", C_DEBUG, {0x18, 0x01}, 2},
    {"a body for StoreRemove", C_REMOVE, {0x08, 0x01}, 2},
    {"StoreRef of 17 bytes", C_RESOLVE, {LEN(1, 17)}, 2 + 17},
    {"StoreInfo without an id", C_INFO, {0x10, 0x01}, 2},
    {"a body for KvWatch", C_WATCH, {0x08, 0x01}, 2},
};

Test(client_reply, every_malformed_reply_is_einval_and_named)
{
    s_fake_t *f = s_fake_start(s_canned);
    lt_client_t *c = s_connect(f, 2000);
    for (size_t i = 0; i < sizeof s_bad / sizeof s_bad[0]; i++) {
        s_set_reply_bytes(f, LT_OK, s_bad[i].body, s_bad[i].len);
        lt_err_t rc = s_do_call(c, s_bad[i].call);
        cr_assert_eq(rc, LT_EINVAL, "%s: got %s", s_bad[i].what, lt_errname(rc));
        cr_assert(strncmp(lt_client_errmsg(c), "malformed reply from store: ", 28) == 0, "%s: %s",
                  s_bad[i].what, lt_client_errmsg(c));
    }
    /* Every request the client sent decoded with the store's decoder. */
    for (size_t i = 0; i < s_nseen(f); i++)
        assert_rc(f->seen[i].decoded, LT_OK);
    lt_client_close(&c);
    s_fake_stop(&f);
}

Test(client_reply, well_formed_replies_are_copied_out)
{
    s_fake_t *f = s_fake_start(s_canned);
    lt_client_t *c = s_connect(f, 2000);
    lt_client_store_id_t id = s_store_id();
    /* a KvItem with a binary value */
    lt_buf_t b = LT_BUF_INIT;
    lattice_store_KvItem it = lattice_store_KvItem_init_zero;
    lt_view_t k = {(const uint8_t *)"k", 1}, v = {(const uint8_t *)"v\0w", 3};
    lt_pb_bind_write(&it.key, &k);
    lt_pb_bind_write(&it.value, &v);
    it.conflicted = true;
    assert_rc(lt_pb_encode_static(lattice_store_KvItem_fields, &it, &b), LT_OK);
    s_set_reply(f, LT_OK, &b);
    lt_client_item_t got;
    assert_rc(lt_client_get(c, &id, "k", 1, &got), LT_OK);
    cr_assert_eq(got.key_len, 1);
    cr_assert_eq(got.value_len, 3);
    cr_assert_arr_eq(got.value, "v\0w", 4, "the value is NUL-terminated");
    cr_assert(got.conflicted);
    lt_client_item_clear(&got);

    /* a list of two items */
    lt_buf_reset(&b);
    assert_rc(
        lt_pb_append_field(&b, lattice_store_KvList_items_tag, lattice_store_KvItem_fields, &it),
        LT_OK);
    it.conflicted = false;
    assert_rc(
        lt_pb_append_field(&b, lattice_store_KvList_items_tag, lattice_store_KvItem_fields, &it),
        LT_OK);
    s_set_reply(f, LT_OK, &b);
    lt_client_item_t *items;
    size_t n;
    assert_rc(lt_client_list(c, &id, "k", 1, &items, &n), LT_OK);
    cr_assert_eq(n, 2);
    cr_assert(items[0].conflicted && !items[1].conflicted);
    cr_assert_str_eq((char *)items[1].key, "k");
    lt_client_items_free(items, n);
    lt_buf_free(&b);
    lt_client_close(&c);
    s_fake_stop(&f);
}

Test(client_reply, an_error_body_becomes_the_message)
{
    s_fake_t *f = s_fake_start(s_canned);
    lt_client_t *c = s_connect(f, 2000);
    lt_client_store_id_t id = s_store_id();
    lt_buf_t b = LT_BUF_INIT;
    assert_rc(lt_store_error_encode("no such key", &b), LT_OK);
    s_set_reply(f, LT_ENOTFOUND, &b);
    lt_client_item_t it;
    assert_rc(lt_client_get(c, &id, "k", 1, &it), LT_ENOTFOUND);
    cr_assert_str_eq(lt_client_errmsg(c), "store a0a1a2a3: no such key");

    /* A message that names the store already is kept as it is. */
    lt_buf_reset(&b);
    assert_rc(lt_store_error_encode("no store a0a1a2a3a4a5a6a7a8a9aaabacadaeaf on this node", &b),
              LT_OK);
    s_set_reply(f, LT_ENOTFOUND, &b);
    assert_rc(lt_client_get(c, &id, "k", 1, &it), LT_ENOTFOUND);
    cr_assert_str_eq(lt_client_errmsg(c), "no store a0a1a2a3a4a5a6a7a8a9aaabacadaeaf on this node");

    /* No body: a sentence from the code. */
    s_set_reply(f, LT_ENOTFOUND, NULL);
    assert_rc(lt_client_get(c, &id, "k", 1, &it), LT_ENOTFOUND);
    cr_assert(strstr(lt_client_errmsg(c), "no store service"), "%s", lt_client_errmsg(c));
    s_set_reply(f, LT_EIO, NULL);
    assert_rc(lt_client_get(c, &id, "k", 1, &it), LT_EIO);
    cr_assert_str_eq(lt_client_errmsg(c), "the store service failed: storage backend I/O error");
    lt_buf_free(&b);
    lt_client_close(&c);
    s_fake_stop(&f);
}

Test(client_reply, bad_arguments_are_refused_before_sending)
{
    s_fake_t *f = s_fake_start(s_canned);
    lt_client_t *c = s_connect(f, 2000);
    lt_client_store_id_t id = s_store_id(), out;
    lt_client_hash_t h;
    assert_rc(lt_client_put(c, &id, "", 0, "v", 1, &h), LT_EINVAL);
    assert_rc(lt_client_batch(c, &id, NULL, 0, &h), LT_EINVAL);
    char name[300];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    assert_rc(lt_client_store_create(c, LT_CLIENT_STORE_KV, name, NULL, &out), LT_EINVAL);
    assert_rc(lt_client_store_resolve(c, "", &out), LT_EINVAL);
    assert_rc(lt_client_stream_stop(c, 12345), LT_ENOTFOUND);
    /* too large for one frame */
    size_t big = LT_FRAME_MAX_BODY + 1;
    uint8_t *v = calloc(1, big);
    assert_rc(lt_client_put(c, &id, "k", 1, v, big, &h), LT_EINVAL);
    cr_assert(strstr(lt_client_errmsg(c), "too large"), "%s", lt_client_errmsg(c));
    free(v);
    cr_assert_eq(s_nseen(f), 0, "nothing was sent");
    lt_client_close(&c);
    s_fake_stop(&f);
}

/* ---- retries ---- */

static void s_written_reply(s_fake_t *f, const lt_frame_t *req, uint8_t fill)
{
    lattice_store_Written w = lattice_store_Written_init_zero;
    w.hash.size = 32;
    memset(w.hash.bytes, fill, 32);
    lt_buf_t b = LT_BUF_INIT;
    if (lt_pb_encode_static(lattice_store_Written_fields, &w, &b) != LT_OK)
        abort();
    s_fake_reply(f, req, LT_OK, b.data, b.len);
    lt_buf_free(&b);
}

/* Refuses the first two requests as unavailable, then writes. */
static void s_unavailable_twice(s_fake_t *f, const lt_frame_t *req, const lt_store_req_t *r,
                                lt_err_t decoded)
{
    (void)r;
    (void)decoded;
    if (f->count++ < 2)
        s_fake_reply(f, req, LT_EUNAVAILABLE, NULL, 0);
    else
        s_written_reply(f, req, 0x77);
}

Test(client_retry, an_unavailable_write_is_sent_again_with_the_same_request_id)
{
    s_fake_t *f = s_fake_start(s_unavailable_twice);
    lt_client_t *c = s_connect(f, 5000);
    lt_client_store_id_t id = s_store_id();
    lt_client_hash_t h;
    assert_rc(lt_client_put(c, &id, "k", 1, "v", 1, &h), LT_OK);
    cr_assert_eq(h.b[0], 0x77);
    cr_assert_str_eq(lt_client_errmsg(c), "");
    cr_assert_eq(s_nseen(f), 3);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(f->seen[i].type, lattice_store_StoreMsgType_KV_PUT);
        cr_assert(f->seen[i].has_request_id);
        cr_assert_arr_eq(f->seen[i].request_id, f->seen[0].request_id, LT_REQUEST_ID_LEN);
    }
    cr_assert_neq(f->seen[0].corr, f->seen[1].corr);
    cr_assert_neq(f->seen[1].corr, f->seen[2].corr);

    /* The next write has a fresh id. */
    f->count = 0;
    assert_rc(lt_client_del(c, &id, "k", 1, &h), LT_OK);
    cr_assert_eq(s_nseen(f), 6);
    cr_assert(f->seen[3].has_request_id);
    cr_assert(memcmp(f->seen[3].request_id, f->seen[0].request_id, LT_REQUEST_ID_LEN) != 0);
    lt_client_close(&c);
    s_fake_stop(&f);
}

Test(client_retry, a_store_that_stays_unavailable_is_eunavailable_at_the_deadline)
{
    s_fake_t *f = s_fake_start(s_canned);
    s_set_reply(f, LT_EUNAVAILABLE, NULL);
    lt_client_t *c = s_connect(f, 400);
    lt_client_store_id_t id = s_store_id();
    lt_client_hash_t h;
    assert_rc(lt_client_append(c, &id, "t", 1, &h), LT_EUNAVAILABLE);
    cr_assert_str_eq(lt_client_errmsg(c),
                     "the store service is unavailable (restarting); try again later");
    size_t n = s_nseen(f);
    cr_assert_geq(n, 3, "retried with backoff (%zu attempts)", n);
    cr_assert_leq(n, 40, "with backoff, not in a busy loop (%zu attempts)", n);
    lt_client_close(&c);
    s_fake_stop(&f);
}

Test(client_retry, a_failed_store_is_reported_at_once_without_retries)
{
    s_fake_t *f = s_fake_start(s_canned);
    s_set_reply(f, LT_EFAILED, NULL);
    lt_client_t *c = s_connect(f, 5000);
    lt_client_store_id_t id = s_store_id();
    lt_client_hash_t h;
    assert_rc(lt_client_append(c, &id, "t", 1, &h), LT_EFAILED);
    cr_assert(strstr(lt_client_errmsg(c), "has failed"), "%s", lt_client_errmsg(c));
    cr_assert_eq(s_nseen(f), 1, "a failed service is not asked again");
    lt_client_close(&c);
    s_fake_stop(&f);
}

/* Says nothing to the first request (as a store killed while serving it),
 * then writes. */
static void s_drop_first(s_fake_t *f, const lt_frame_t *req, const lt_store_req_t *r,
                         lt_err_t decoded)
{
    (void)r;
    (void)decoded;
    if (f->count++ > 0)
        s_written_reply(f, req, 0x55);
}

Test(client_retry, a_write_nobody_answered_is_resent_with_the_same_request_id)
{
    s_fake_t *f = s_fake_start(s_drop_first);
    lt_client_t *c = s_connect(f, 5000);
    lt_client_store_id_t id = s_store_id();
    lt_client_batch_entry_t e[2] = {{(const uint8_t *)"a", 1, (const uint8_t *)"1", 1, false},
                                    {(const uint8_t *)"b", 1, NULL, 0, true}};
    lt_client_hash_t h;
    assert_rc(lt_client_batch(c, &id, e, 2, &h), LT_OK);
    cr_assert_eq(h.b[31], 0x55);
    cr_assert_eq(s_nseen(f), 2);
    assert_rc(f->seen[0].decoded, LT_OK);
    cr_assert_arr_eq(f->seen[0].request_id, f->seen[1].request_id, LT_REQUEST_ID_LEN);
    lt_client_close(&c);
    s_fake_stop(&f);
}

Test(client_retry, other_errors_are_not_retried)
{
    s_fake_t *f = s_fake_start(s_canned);
    s_set_reply(f, LT_ETYPE, NULL);
    lt_client_t *c = s_connect(f, 2000);
    lt_client_store_id_t id = s_store_id();
    lt_client_hash_t h;
    assert_rc(lt_client_put(c, &id, "k", 1, "v", 1, &h), LT_ETYPE);
    cr_assert_eq(s_nseen(f), 1);
    lt_client_close(&c);
    s_fake_stop(&f);
}

/* First a reply with a corr nobody waits for, then the real one. */
static void s_stale_first(s_fake_t *f, const lt_frame_t *req, const lt_store_req_t *r,
                          lt_err_t decoded)
{
    (void)r;
    (void)decoded;
    lt_frame_t other = *req;
    other.corr = req->corr + 1000;
    s_written_reply(f, &other, 0x01);
    s_written_reply(f, req, 0x02);
}

Test(client_retry, stale_replies_are_dropped)
{
    s_fake_t *f = s_fake_start(s_stale_first);
    lt_client_t *c = s_connect(f, 2000);
    lt_client_store_id_t id = s_store_id();
    lt_client_hash_t h;
    assert_rc(lt_client_put(c, &id, "k", 1, "v", 1, &h), LT_OK);
    cr_assert_eq(h.b[0], 0x02);
    lt_client_close(&c);
    s_fake_stop(&f);
}

/* ---- streams ---- */

static void s_kv_event(s_fake_t *f, uint64_t corr, const char *key, size_t hash_len)
{
    lattice_store_KvChange m = lattice_store_KvChange_init_zero;
    m.store.size = 16;
    lt_client_store_id_t id = s_store_id();
    memcpy(m.store.bytes, id.b, 16);
    lt_view_t k = {(const uint8_t *)key, strlen(key)}, v = {(const uint8_t *)"val", 3};
    lt_pb_bind_write(&m.key, &k);
    lt_pb_bind_write(&m.value, &v);
    m.hash.size = (pb_size_t)hash_len;
    memset(m.hash.bytes, 0x33, hash_len);
    lt_buf_t b = LT_BUF_INIT;
    if (lt_pb_encode_static(lattice_store_KvChange_fields, &m, &b) != LT_OK)
        abort();
    s_fake_send(f, LT_FRAME_EVENT, "store", corr, lattice_store_StoreMsgType_KV_CHANGE, 0, b.data,
                b.len);
    lt_buf_free(&b);
}

/* Accepts watches; answers a get with events first (one of the watch, one
 * of no stream, one malformed), then "no such key"; answers an unwatch. */
static void s_watcher(s_fake_t *f, const lt_frame_t *req, const lt_store_req_t *r, lt_err_t decoded)
{
    (void)decoded;
    switch (req->type) {
    case lattice_store_StoreMsgType_KV_WATCH:
        f->watch_corr = req->corr;
        s_fake_reply(f, req, LT_OK, NULL, 0);
        break;
    case lattice_store_StoreMsgType_KV_GET: {
        s_kv_event(f, f->watch_corr, "w/1", 32);
        s_kv_event(f, 999999, "nobody", 32);
        s_kv_event(f, f->watch_corr, "w/bad", 31);
        s_kv_event(f, f->watch_corr, "w/2", 32);
        lt_buf_t b = LT_BUF_INIT;
        if (lt_store_error_encode("no such key", &b) != LT_OK)
            abort();
        s_fake_reply(f, req, LT_ENOTFOUND, b.data, b.len);
        lt_buf_free(&b);
        break;
    }
    case lattice_store_StoreMsgType_KV_UNWATCH:
        s_fake_reply(f, req, r->num == f->watch_corr ? LT_OK : LT_ENOTFOUND, NULL, 0);
        break;
    case lattice_store_StoreMsgType_KV_PUT:
        /* events flood: past the client's queue */
        for (int i = 0; i < 4100; i++)
            s_kv_event(f, f->watch_corr, "flood", 32);
        s_written_reply(f, req, 0x09);
        break;
    default:
        s_fake_reply(f, req, LT_EINVAL, NULL, 0);
    }
}

Test(client_stream, events_that_arrive_during_a_call_are_kept)
{
    s_fake_t *f = s_fake_start(s_watcher);
    lt_client_t *c = s_connect(f, 2000);
    cr_assert_geq(lt_client_fd(c), 0);
    lt_client_store_id_t id = s_store_id();
    uint64_t stream = 0;
    assert_rc(lt_client_watch(c, &id, "w/", 2, &stream), LT_OK);
    cr_assert_eq(stream, f->watch_corr, "the stream id is the watch request's corr");
    lt_client_item_t it;
    assert_rc(lt_client_get(c, &id, "k", 1, &it), LT_ENOTFOUND);

    lt_client_event_t ev;
    assert_rc(lt_client_next_event(c, 0, &ev), LT_OK);
    cr_assert_eq(ev.kind, LT_CLIENT_EV_KV_CHANGE);
    cr_assert_eq(ev.stream, stream);
    cr_assert_str_eq((char *)ev.key, "w/1");
    cr_assert_str_eq((char *)ev.value, "val");
    cr_assert_eq(ev.hash.b[0], 0x33);
    cr_assert_arr_eq(ev.store.b, id.b, 16);
    lt_client_event_clear(&ev);
    /* The malformed one is reported and consumed; the one of no stream
     * never shows. */
    assert_rc(lt_client_next_event(c, 0, &ev), LT_EINVAL);
    cr_assert(strstr(lt_client_errmsg(c), "malformed event from store"), "%s", lt_client_errmsg(c));
    assert_rc(lt_client_next_event(c, 0, &ev), LT_OK);
    cr_assert_str_eq((char *)ev.key, "w/2");
    lt_client_event_clear(&ev);
    assert_rc(lt_client_next_event(c, 0, &ev), LT_ETIMEDOUT);
    assert_rc(lt_client_next_event(c, 50, &ev), LT_ETIMEDOUT);

    /* Stopped: its queued events go with it. */
    assert_rc(lt_client_get(c, &id, "k", 1, &it), LT_ENOTFOUND);
    assert_rc(lt_client_stream_stop(c, stream), LT_OK);
    assert_rc(lt_client_next_event(c, 0, &ev), LT_ETIMEDOUT);
    assert_rc(lt_client_stream_stop(c, stream), LT_ENOTFOUND);
    lt_client_close(&c);
    s_fake_stop(&f);
}

Test(client_stream, events_past_the_queue_are_dropped_and_reported_once)
{
    s_fake_t *f = s_fake_start(s_watcher);
    lt_client_t *c = s_connect(f, 5000);
    lt_client_store_id_t id = s_store_id();
    uint64_t stream = 0;
    assert_rc(lt_client_watch(c, &id, "", 0, &stream), LT_OK);
    lt_client_hash_t h;
    assert_rc(lt_client_put(c, &id, "k", 1, "v", 1, &h), LT_OK);
    lt_client_event_t ev;
    assert_rc(lt_client_next_event(c, 0, &ev), LT_EFULL);
    cr_assert(strstr(lt_client_errmsg(c), "4 events were dropped"), "%s", lt_client_errmsg(c));
    size_t n = 0;
    while (lt_client_next_event(c, 0, &ev) == LT_OK) {
        n++;
        lt_client_event_clear(&ev);
    }
    cr_assert_eq(n, 4096);
    lt_client_close(&c);
    s_fake_stop(&f);
}

Test(client_stream, a_store_restart_ends_its_streams)
{
    s_fake_t *f = s_fake_start(s_watcher);
    lt_client_t *c = s_connect(f, 2000);
    lt_client_store_id_t id = s_store_id();
    uint64_t stream = 0;
    assert_rc(lt_client_watch(c, &id, "", 0, &stream), LT_OK);
    lt_client_event_t ev;
    assert_rc(lt_client_next_event(c, 1200, &ev), LT_ETIMEDOUT); /* probed: same store */
    atomic_store(&f->store_pid, 4343);
    assert_rc(lt_client_next_event(c, 5000, &ev), LT_EUNAVAILABLE);
    cr_assert(strstr(lt_client_errmsg(c), "the store service restarted"), "%s",
              lt_client_errmsg(c));
    /* Forgotten: stopping it is ENOTFOUND, and nothing more is reported. */
    assert_rc(lt_client_stream_stop(c, stream), LT_ENOTFOUND);
    assert_rc(lt_client_next_event(c, 0, &ev), LT_ETIMEDOUT);
    lt_client_close(&c);
    s_fake_stop(&f);
}

/* ---- the node ---- */

Test(client_node, status_and_services_are_decoded)
{
    s_fake_t *f = s_fake_start(NULL);
    lt_client_t *c = s_connect(f, 2000);
    lt_client_node_status_t *st = calloc(1, sizeof *st);
    assert_rc(lt_client_node_status(c, st), LT_OK);
    cr_assert_eq(st->pid, 100);
    cr_assert_str_eq(st->version, "0.1.0");
    cr_assert_eq(st->node_key.b[5], 0x11);
    cr_assert_eq(st->nservices, 1);
    cr_assert_str_eq(st->services[0].name, "store");
    cr_assert_eq(st->services[0].state, LT_SERVICE_READY);
    cr_assert_eq(st->services[0].pid, 4242);
    free(st);
    /* The fake answers SERVICES with an empty success: an empty list. */
    lt_client_service_t sv[4];
    size_t n = 99;
    assert_rc(lt_client_node_services(c, sv, 4, &n), LT_OK);
    cr_assert_eq(n, 0);
    assert_rc(lt_client_node_restart(c, "store"), LT_OK);
    assert_rc(lt_client_node_restart(c, ""), LT_EINVAL);
    lt_client_close(&c);
    s_fake_stop(&f);
}
