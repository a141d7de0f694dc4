/* The sync actor (services/sync/sync_actor.h) between nodes in one process
 * (testnet.h): the test makes stores, invites and joins through the store
 * protocol, writes, asks a node to sync (SYNC_NOW), and compares what the
 * stores hold afterwards. */
#include "testnet.h"

#include "sync/recon.h"

#include "sync.pb.h"

#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

typedef struct {
    size_t n;
    lattice_sync_PeerReport p[TN_NODES];
} s_report_t;

/* Node i syncs sid with its peers now; the report. */
static s_report_t s_sync(int i, const lt_store_id_t *sid)
{
    tn_reply_t *r = tn_sync_now(i, sid);
    s_report_t rep = {0};
    lt_pb_input_t in = lt_pb_input(r->body, r->len);
    lt_pb_views_t views = {.in = &in};
    lattice_sync_SyncReport sr = lattice_sync_SyncReport_init_zero;
    lt_pb_bind_views(&sr.peers, &views);
    cr_assert_eq(lt_pb_decode_static(lattice_sync_SyncReport_fields, &sr, r->body, r->len), LT_OK);
    cr_assert_leq(views.n, TN_NODES);
    for (size_t k = 0; k < views.n; k++) {
        lattice_sync_PeerReport *p = &rep.p[rep.n++];
        *p = (lattice_sync_PeerReport)lattice_sync_PeerReport_init_zero;
        cr_assert_eq(
            lt_pb_decode_static(lattice_sync_PeerReport_fields, p, views.v[k].p, views.v[k].len),
            LT_OK);
    }
    lt_pb_views_free(&views);
    return rep;
}

TestSuite(sync_actor, .fini = tn_teardown, .timeout = 120);

Test(sync_actor, a_sync_teaches_both_sides_what_they_lack)
{
    tn_setup(2, NULL);
    lt_store_id_t sid = tn_create(0);
    tn_join(0, 1, &sid);
    char k[32], v[64];
    for (int i = 0; i < 40; i++) {
        snprintf(k, sizeof k, "a%02d", i);
        snprintf(v, sizeof v, "from node 0, number %d", i);
        tn_put(0, &sid, k, v);
    }
    for (int i = 0; i < 7; i++) {
        snprintf(k, sizeof k, "b%02d", i);
        snprintf(v, sizeof v, "from node 1, number %d", i);
        tn_put(1, &sid, k, v);
    }
    uint64_t w0 = tn_witnessed(0, &sid), w1 = tn_witnessed(1, &sid);
    cr_assert_gt(w0, w1, "node 0 holds more before the sync");

    s_report_t rep = s_sync(1, &sid);
    cr_assert_eq(rep.n, 1, "one peer reported, not %zu", rep.n);
    cr_assert(rep.p[0].reached, "the session failed: %s", rep.p[0].error);
    cr_assert_eq(memcmp(rep.p[0].peer.bytes, tn_w.n[0].id.pk.b, LT_KEY_LEN), 0);
    /* Node 1's seven puts, and what its joining wrote. */
    cr_assert_geq(rep.p[0].peer_lacks, 7, "node 0 lacked %llu",
                  (unsigned long long)rep.p[0].peer_lacks);

    /* Both hold the union: node 1 fetched, and node 0 (the responder)
     * fetched what it lacked too. */
    cr_assert_eq(tn_witnessed(0, &sid), tn_witnessed(1, &sid));
    cr_assert_geq(rep.p[0].received, 40, "fetched %llu", (unsigned long long)rep.p[0].received);
    for (int i = 0; i < 40; i += 13) {
        snprintf(k, sizeof k, "a%02d", i);
        snprintf(v, sizeof v, "from node 0, number %d", i);
        tn_expect_value(1, &sid, k, v);
    }
    for (int i = 0; i < 7; i += 3) {
        snprintf(k, sizeof k, "b%02d", i);
        snprintf(v, sizeof v, "from node 1, number %d", i);
        tn_expect_value(0, &sid, k, v);
    }

    /* Nothing differs now: a second sync fetches nothing. */
    rep = s_sync(0, &sid);
    cr_assert_eq(rep.n, 1);
    cr_assert(rep.p[0].reached, "%s", rep.p[0].error);
    cr_assert_eq(rep.p[0].received, 0);
    cr_assert_eq(rep.p[0].peer_lacks, 0);
}

Test(sync_actor, a_conflict_made_apart_shows_the_same_on_both_and_a_later_write_resolves_it)
{
    tn_setup(2, NULL);
    lt_store_id_t sid = tn_create(0);
    tn_join(0, 1, &sid);
    tn_put(0, &sid, "seed", "x");
    (void)s_sync(1, &sid);
    tn_put(0, &sid, "k", "from zero");
    tn_put(1, &sid, "k", "from one");
    s_report_t rep = s_sync(0, &sid);
    cr_assert(rep.p[0].reached, "%s", rep.p[0].error);
    char a[64], b[64];
    bool ca, cb;
    tn_get(0, &sid, "k", a, sizeof a, &ca);
    tn_get(1, &sid, "k", b, sizeof b, &cb);
    cr_assert_str_eq(a, b, "the nodes show different winners");
    cr_assert(ca && cb, "the conflict is not visible on both");
    tn_put(1, &sid, "k", "settled");
    (void)s_sync(1, &sid);
    tn_get(0, &sid, "k", a, sizeof a, &ca);
    cr_assert_str_eq(a, "settled");
    cr_assert(!ca, "the later write did not resolve the conflict");
}

Test(sync_actor, three_nodes_in_a_line_converge_through_the_middle)
{
    /* 0 invites 1, 1 invites 2: 2 knows only 1, and 0 only 1. */
    tn_setup(3, NULL);
    lt_store_id_t sid = tn_create(0);
    tn_join(0, 1, &sid);
    tn_join(1, 2, &sid);
    tn_put(0, &sid, "from0", "zero");
    tn_put(2, &sid, "from2", "two");
    (void)s_sync(1, &sid); /* 1 with 0, and with 2 when it holds 2's invite */
    (void)s_sync(1, &sid);
    tn_expect_value(2, &sid, "from0", "zero");
    tn_expect_value(0, &sid, "from2", "two");
    cr_assert_eq(tn_witnessed(0, &sid), tn_witnessed(2, &sid));
}

Test(sync_actor, a_node_that_is_not_an_active_peer_is_refused)
{
    tn_setup(3, NULL);
    lt_store_id_t sid = tn_create(0);
    tn_join(0, 1, &sid);
    tn_put(0, &sid, "secret", "for peers only");
    /* Node 2 holds the store id and claims node 0 as its peer, but node 0
     * never admitted it. */
    lattice_store_Joined j = lattice_store_Joined_init_zero;
    j.store.size = LT_STORE_ID_LEN;
    memcpy(j.store.bytes, sid.b, LT_STORE_ID_LEN);
    j.type = lattice_store_StoreType_STORE_TYPE_KV;
    j.inviter.size = LT_KEY_LEN;
    memcpy(j.inviter.bytes, tn_w.n[0].id.pk.b, LT_KEY_LEN);
    lt_buf_t b = LT_BUF_INIT;
    tn_enc(lattice_store_Joined_fields, &j, &b);
    cr_assert_eq(tn_ask(2, "store", lattice_store_StoreMsgType_PEER_JOINED, &b)->status, LT_OK);
    lt_buf_free(&b);
    s_report_t rep = s_sync(2, &sid);
    cr_assert_eq(rep.n, 1);
    cr_assert(!rep.p[0].reached, "node 0 answered a node that is not its peer");
    cr_assert(strstr(rep.p[0].error, "not an active peer"), "the reason: %s", rep.p[0].error);
    char got[64];
    tn_get(2, &sid, "secret", got, sizeof got, NULL);
    cr_assert_str_eq(got, "", "node 2 got data it may not have");
}

Test(sync_actor, an_unreachable_peer_is_reported_and_the_sync_still_answers)
{
    tn_setup(2, NULL);
    lt_store_id_t sid = tn_create(0);
    tn_join(0, 1, &sid);
    tn_w.n[0].down = true;
    tn_put(1, &sid, "k", "v");
    /* The request is lost on the way: the session gives up after the
     * timeout, on the virtual clock. */
    s_report_t rep = s_sync(1, &sid);
    cr_assert_eq(rep.n, 1);
    cr_assert(!rep.p[0].reached);
    cr_assert(strstr(rep.p[0].error, "stopped answering"), "the reason: %s", rep.p[0].error);
    tn_w.n[0].down = false;
    rep = s_sync(1, &sid);
    cr_assert(rep.p[0].reached, "%s", rep.p[0].error);
    tn_expect_value(0, &sid, "k", "v");
}

Test(sync_actor, a_link_coming_up_reconciles_with_that_peer)
{
    tn_setup(3, NULL);
    lt_store_id_t sid = tn_create(0);
    tn_join(0, 1, &sid);
    tn_join(0, 2, &sid);
    tn_w.n[1].down = true;
    tn_put(0, &sid, "while", "apart");
    tn_w.n[1].down = false;
    /* Nobody asks for a sync: the kernel's word that the link to node 0 is
     * up is enough, and only that peer is visited. */
    tn_link_up(1, 0);
    tn_expect_value(1, &sid, "while", "apart");
    char got[64];
    tn_get(2, &sid, "while", got, sizeof got, NULL);
    cr_assert_str_eq(got, "", "node 2 was not part of it");
}

Test(sync_actor, a_silent_peer_does_not_hold_up_a_session_with_another_for_long)
{
    tn_setup(3, NULL);
    lt_store_id_t sid = tn_create(0);
    tn_join(0, 1, &sid);
    tn_join(0, 2, &sid);
    (void)s_sync(0, &sid);
    /* Node 0 starts reconciling with node 1, which has gone silent: that
     * session holds node 0's index of the store. */
    tn_w.n[1].down = true;
    tn_link_up(0, 1);
    uint64_t t0 = tn_w.clock;
    /* A new write, then a session with node 2: it needs the index updated,
     * and waits for the silent session to let go of it. */
    tn_put(0, &sid, "later", "write");
    tn_link_up(0, 2);
    char got[64];
    tn_get(2, &sid, "later", got, sizeof got, NULL);
    cr_assert_str_eq(got, "", "node 2 got it before the index was free");
    /* The silent session is ended after some 5 s of silence, not at the
     * 30 s call timeout, and the waiting one goes on. */
    tn_advance_to(t0 + 7000);
    tn_expect_value(2, &sid, "later", "write");
    tn_get(1, &sid, "later", got, sizeof got, NULL);
    cr_assert_str_eq(got, "");
}

Test(sync_actor, a_large_difference_is_settled_within_the_frame_limit)
{
    /* The smallest frame limit: the ids are listed over many rounds, and
     * every message of the session still fits. */
    tn_opts_t o = {.recon_frame_limit = LT_RECON_MIN_FRAME};
    tn_setup(2, &o);
    lt_store_id_t sid = tn_create(0);
    tn_join(0, 1, &sid);
    char k[16];
    for (int i = 0; i < 300; i++) {
        snprintf(k, sizeof k, "k%03d", i);
        tn_put(0, &sid, k, "v");
    }
    s_report_t rep = s_sync(1, &sid);
    cr_assert(rep.p[0].reached, "%s", rep.p[0].error);
    cr_assert_gt(rep.p[0].rounds, 3, "%u rounds: the limit did not bite", rep.p[0].rounds);
    cr_assert_eq(tn_witnessed(0, &sid), tn_witnessed(1, &sid));
    tn_expect_value(1, &sid, "k299", "v");
}

/* ---- clone (SYNC_CLONE) ---- */

/* Node i asks its sync actor about a clone of sid from node `from` (-1: no
 * peer named), having seen `seen`; the reply. */
static tn_reply_t *s_clone(int i, const lt_store_id_t *sid, int from, uint64_t seen)
{
    lattice_sync_Clone m = lattice_sync_Clone_init_zero;
    m.store.size = LT_STORE_ID_LEN;
    memcpy(m.store.bytes, sid->b, LT_STORE_ID_LEN);
    if (from >= 0) {
        m.peer.size = LT_KEY_LEN;
        memcpy(m.peer.bytes, tn_w.n[from].id.pk.b, LT_KEY_LEN);
    }
    m.seen = seen;
    lt_buf_t b = LT_BUF_INIT;
    tn_enc(lattice_sync_Clone_fields, &m, &b);
    tn_reply_t *r = tn_ask(i, "sync", lattice_sync_SyncMsgType_SYNC_CLONE, &b);
    lt_buf_free(&b);
    return r;
}

/* The one line of a failed reply (an Error body). */
static const char *s_error_text(const tn_reply_t *r)
{
    static lattice_sync_Error e;
    e = (lattice_sync_Error)lattice_sync_Error_init_zero;
    cr_assert_eq(lt_pb_decode_static(lattice_sync_Error_fields, &e, r->body, r->len), LT_OK);
    return e.message;
}

static lattice_sync_CloneProgress s_progress(const tn_reply_t *r)
{
    cr_assert_eq(r->status, LT_OK, "the clone failed: %s (%s)", lt_errname(r->status),
                 s_error_text(r));
    lattice_sync_CloneProgress p = lattice_sync_CloneProgress_init_zero;
    cr_assert_eq(lt_pb_decode_static(lattice_sync_CloneProgress_fields, &p, r->body, r->len),
                 LT_OK);
    return p;
}

/* Asks node i about its clone of sid from node `from` until it is over;
 * the last reply (progress with done, or the error). */
static tn_reply_t *s_clone_to_end(int i, const lt_store_id_t *sid, int from)
{
    tn_reply_t *r = s_clone(i, sid, from, 0);
    for (int n = 0; r->status == LT_OK && !s_progress(r).done; n++) {
        cr_assert_lt(n, 100000, "the clone never ended");
        r = s_clone(i, sid, from, s_progress(r).cloned);
    }
    return r;
}

/* Node 0 writes n puts of 2000-byte values to sid: several clone chunks. */
static void s_fill(const lt_store_id_t *sid, int n)
{
    static char v[2001];
    char k[16];
    for (int i = 0; i < n; i++) {
        memset(v, 'a' + i % 26, 2000);
        snprintf(v, 16, "value %d;", i);
        v[strlen(v)] = ' ';
        snprintf(k, sizeof k, "c%04d", i);
        tn_put(0, sid, k, v);
    }
}

Test(sync_actor, a_clone_fills_an_empty_store_chunk_by_chunk_and_says_how_far_it_is)
{
    tn_setup(2, NULL);
    lt_store_id_t sid = tn_create(0);
    tn_join(0, 1, &sid);
    s_fill(&sid, 300); /* about 600 KB: several frames */
    uint64_t w0 = tn_witnessed(0, &sid);
    cr_assert_lt(tn_witnessed(1, &sid), w0);

    uint64_t seen = 0;
    int answers = 0;
    lattice_sync_CloneProgress p;
    do {
        p = s_progress(s_clone(1, &sid, 0, seen));
        cr_assert_geq(p.cloned, seen, "the progress went back");
        cr_assert_leq(p.cloned, p.total);
        seen = p.cloned;
        cr_assert_lt(++answers, 1000);
    } while (!p.done);
    cr_assert_geq(answers, 2, "the progress came in one answer");
    cr_assert_eq(p.total, w0, "the peer's count: %llu", (unsigned long long)p.total);
    cr_assert_eq(p.cloned, w0, "every intention of the peer's log, once");
    cr_assert_leq(p.checked_here, p.cloned);
    /* Node 1 lacks nothing of node 0 (node 0 may lack what node 1 wrote
     * joining: the clone only reads). */
    cr_assert_geq(tn_witnessed(1, &sid), w0);
    s_report_t rep = s_sync(1, &sid);
    cr_assert(rep.p[0].reached, "%s", rep.p[0].error);
    cr_assert_eq(rep.p[0].received, 0, "the clone left %llu behind",
                 (unsigned long long)rep.p[0].received);
    uint64_t w1 = tn_witnessed(1, &sid);
    char k[16], got[2100], want[16];
    for (int i = 0; i < 300; i += 37) {
        snprintf(k, sizeof k, "c%04d", i);
        snprintf(want, sizeof want, "value %d;", i);
        tn_get(1, &sid, k, got, sizeof got, NULL);
        cr_assert_eq(strlen(got), 2000, "%s: %zu bytes", k, strlen(got));
        cr_assert_eq(strncmp(got, want, strlen(want)), 0, "%s: %.20s", k, got);
    }

    /* Over: the last answer is kept for the next request (no peer needed)... */
    p = s_progress(s_clone(1, &sid, -1, seen));
    cr_assert(p.done);
    cr_assert_eq(p.cloned, w0);
    /* ...and with seen = 0 a new clone starts: all duplicates now. */
    p = s_progress(s_clone_to_end(1, &sid, 0));
    cr_assert_eq(tn_witnessed(1, &sid), w1);
    /* A clone no one started, without a peer to start it: not found. */
    lt_store_id_t other = tn_create(1);
    cr_assert_eq(s_clone(1, &other, -1, 0)->status, LT_ENOTFOUND);
}

Test(sync_actor, a_clone_holds_off_sessions_and_a_silent_peer_ends_it_with_a_reason)
{
    /* Node 1 joins through node 2; a sync tells node 0 about it. */
    tn_setup(3, NULL);
    lt_store_id_t sid = tn_create(0);
    tn_join(0, 2, &sid);
    tn_join(2, 1, &sid);
    (void)s_sync(2, &sid);
    tn_put(0, &sid, "k", "v");
    tn_w.n[0].down = true;
    lattice_sync_CloneProgress p = s_progress(s_clone(1, &sid, 0, 0));
    cr_assert(!p.done);
    cr_assert_eq(p.cloned, 0, "an answer after 2 s, without progress");
    /* While it runs, node 1 takes no session on the store. */
    s_report_t rep = s_sync(2, &sid);
    bool refused = false;
    for (size_t i = 0; i < rep.n; i++)
        if (memcmp(rep.p[i].peer.bytes, tn_w.n[1].id.pk.b, LT_KEY_LEN) == 0)
            refused = !rep.p[i].reached && strstr(rep.p[i].error, "cloning");
    cr_assert(refused, "node 1 answered a session during its clone");
    /* The peer never answers: the clone ends with the reason, kept. */
    tn_reply_t *r = s_clone_to_end(1, &sid, 0);
    cr_assert_eq(r->status, LT_ETIMEDOUT, "%s", lt_errname(r->status));
    cr_assert(strstr(s_error_text(r), "stopped answering"), "%s", s_error_text(r));
    /* Back up: a new clone gets it all, and sessions run again. */
    tn_w.n[0].down = false;
    p = s_progress(s_clone_to_end(1, &sid, 0));
    tn_expect_value(1, &sid, "k", "v");
    rep = s_sync(2, &sid);
    for (size_t i = 0; i < rep.n; i++)
        cr_assert(rep.p[i].reached, "%s", rep.p[i].error);
}

/* Whether pk is a successful CLONE_READ reply to node 1; its intentions
 * into vs then (free with lt_pb_views_free; they point into pk's body). */
static bool s_chunk_to_1(tn_packet_t *pk, lt_pb_input_t *in, lt_pb_views_t *vs)
{
    if (pk->node != 1 || pk->msg.kind != LT_MSG_REPLY ||
        pk->msg.type != lattice_store_StoreMsgType_CLONE_READ || pk->msg.status != LT_OK)
        return false;
    *in = lt_pb_input(pk->body, pk->msg.len);
    *vs = (lt_pb_views_t){.in = in};
    lattice_store_CloneChunk ch = lattice_store_CloneChunk_init_zero;
    lt_pb_bind_views(&ch.intentions, vs);
    cr_assert_eq(lt_pb_decode_static(lattice_store_CloneChunk_fields, &ch, pk->body, pk->msg.len),
                 LT_OK);
    return true;
}

/* Spoils the signature of the last intention of the first CLONE_READ reply
 * going to node 1. */
static bool s_spoil_chunk(tn_packet_t *pk, void *ctx)
{
    int *done = ctx;
    lt_pb_input_t in;
    lt_pb_views_t vs;
    if (*done || !s_chunk_to_1(pk, &in, &vs))
        return true;
    cr_assert_gt(vs.n, 1);
    const lt_view_t *last = &vs.v[vs.n - 1];
    pk->body[(last->p - pk->body) + last->len - 1] ^= 0x01;
    lt_pb_views_free(&vs);
    *done = 1;
    return true;
}

Test(sync_actor, a_clone_chunk_with_a_forged_signature_stops_the_clone_and_commits_nothing_of_it)
{
    tn_setup(2, NULL);
    lt_store_id_t sid = tn_create(0);
    tn_join(0, 1, &sid);
    s_fill(&sid, 120);
    uint64_t before = tn_witnessed(1, &sid);
    int spoilt = 0;
    tn_w.tamper = s_spoil_chunk;
    tn_w.tamper_ctx = &spoilt;
    tn_reply_t *r = s_clone_to_end(1, &sid, 0);
    cr_assert(spoilt, "no chunk went by");
    /* Whichever process checked it, the sync actor or the store. */
    cr_assert_eq(r->status, LT_ESIGNATURE, "%s", lt_errname(r->status));
    cr_assert_eq(tn_witnessed(1, &sid), before, "part of the forged chunk was committed");
}

/* A peer that claims a log without end: every CLONE_READ reply to node 1
 * becomes one intention it holds already, the next sequence number after
 * the last, and a total of 2^62. */
typedef struct {
    lt_buf_t first;
    uint64_t next;
} s_endless_t;

static void s_varint(lt_buf_t *b, uint32_t field, uint64_t v)
{
    cr_assert_eq(lt_buf_put_u8(b, (uint8_t)(field << 3)), LT_OK);
    do {
        uint8_t byte = v & 0x7f;
        v >>= 7;
        cr_assert_eq(lt_buf_put_u8(b, byte | (v ? 0x80 : 0)), LT_OK);
    } while (v);
}

static bool s_endless_log(tn_packet_t *pk, void *ctx)
{
    s_endless_t *e = ctx;
    lt_pb_input_t in;
    lt_pb_views_t vs;
    if (!s_chunk_to_1(pk, &in, &vs))
        return true;
    if (e->first.len == 0) {
        cr_assert_gt(vs.n, 0);
        cr_assert_eq(lt_buf_set(&e->first, vs.v[0].p, vs.v[0].len), LT_OK);
    }
    lt_pb_views_free(&vs);
    lt_buf_t b = LT_BUF_INIT;
    cr_assert_eq(lt_pb_append_bytes(&b, lattice_store_CloneChunk_intentions_tag, e->first.data,
                                    e->first.len),
                 LT_OK);
    s_varint(&b, lattice_store_CloneChunk_next_seq_tag, ++e->next);
    s_varint(&b, lattice_store_CloneChunk_total_tag, 1ull << 62);
    free(pk->body);
    pk->body = b.data; /* the network frees it */
    pk->msg.body = b.data;
    pk->msg.len = b.len;
    return true;
}

Test(sync_actor, a_peer_claiming_a_log_without_end_cannot_keep_a_clone_running)
{
    tn_setup(2, NULL);
    lt_store_id_t sid = tn_create(0);
    tn_join(0, 1, &sid);
    tn_put(0, &sid, "k", "v");
    (void)s_sync(1, &sid); /* node 1 holds everything: the peer's lies bring nothing new */
    s_endless_t e = {.first = LT_BUF_INIT, .next = 1};
    tn_w.tamper = s_endless_log;
    tn_w.tamper_ctx = &e;
    tn_reply_t *r = s_clone_to_end(1, &sid, 0);
    cr_assert_eq(r->status, LT_EFAILED, "%s", lt_errname(r->status));
    cr_assert(strstr(s_error_text(r), "nothing new"), "%s", s_error_text(r));
    cr_assert_lt(e.next, 200, "the clone read %llu chunks", (unsigned long long)e.next);
    /* And the store takes sessions again. */
    tn_w.tamper = NULL;
    s_report_t rep = s_sync(1, &sid);
    cr_assert(rep.p[0].reached, "%s", rep.p[0].error);
    lt_buf_free(&e.first);
}

Test(sync_actor, a_clone_whose_reads_are_refused_for_a_while_waits_and_goes_on)
{
    tn_setup(2, NULL);
    lt_store_id_t sid = tn_create(0);
    tn_join(0, 1, &sid);
    s_fill(&sid, 40);
    /* Node 1's link is full: its reads are refused (LT_EFULL) as sent. */
    tn_w.n[1].congested = true;
    lattice_sync_CloneProgress p = s_progress(s_clone(1, &sid, 0, 0));
    cr_assert(!p.done);
    cr_assert_eq(p.cloned, 0);
    cr_assert_eq(p.total, 0, "a total before the peer said one");
    tn_w.n[1].congested = false;
    while (!p.done)
        p = s_progress(s_clone(1, &sid, 0, p.cloned));
    cr_assert_eq(p.cloned, tn_witnessed(0, &sid));
    char got[2100];
    tn_get(1, &sid, "c0039", got, sizeof got, NULL);
    cr_assert_eq(strncmp(got, "value 39;", 9), 0, "%.20s", got);
}
