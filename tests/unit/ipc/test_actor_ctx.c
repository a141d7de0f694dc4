/* The context conveniences of ipc/actor.h that build bodies themselves
 * (lt_ctx_reply_error writes the Error message every service protocol
 * shares, and a protocol's own decoder, the store's here, reads it back),
 * and the call table of ipc/calls.h. */
#include "ipc/actor.h"
#include "ipc/calls.h"
#include "store/ops_codec.h"

#include "store.pb.h"

#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

static struct {
    char to[LT_ADDR_MAX];
    lt_msg_t msg;
    uint8_t body[512];
} s_sent;

static lt_err_t s_send(void *rt, const char *to, const lt_msg_t *m)
{
    (void)rt;
    snprintf(s_sent.to, sizeof s_sent.to, "%s", to);
    cr_assert_leq(m->len, sizeof s_sent.body);
    s_sent.msg = *m;
    memcpy(s_sent.body, m->body, m->len);
    s_sent.msg.body = s_sent.body;
    return LT_OK;
}

static const lt_ctx_ops_t s_ops = {.abi = LT_ACTOR_ABI, .send = s_send};

/* Replies with why and decodes the message back. */
static void s_round_trip(const char *why, const char *want)
{
    lt_ctx_t ctx = {.ops = &s_ops};
    cr_assert_eq(lt_ctx_reply_error(&ctx, "client:ab", 77, LT_EREFUSED, why), LT_OK);
    cr_assert_str_eq(s_sent.to, "client:ab");
    cr_assert_eq(s_sent.msg.kind, LT_MSG_REPLY);
    cr_assert_eq(s_sent.msg.corr, 77);
    cr_assert_eq(s_sent.msg.status, LT_EREFUSED);
    lattice_store_Error e = lattice_store_Error_init_zero;
    cr_assert_eq(
        lt_pb_decode_static(lattice_store_Error_fields, &e, s_sent.msg.body, s_sent.msg.len), LT_OK,
        "the body does not decode as Error (%zu bytes)", s_sent.msg.len);
    cr_assert_str_eq(e.message, want);
}

Test(actor_ctx, reply_error_writes_the_shared_error_body)
{
    s_round_trip("not an active peer of this store", "not an active peer of this store");
    s_round_trip("", "");
    /* Lengths that take a two-byte varint, and one past the limit. */
    char long_why[400], want[LT_ERROR_MSG_MAX + 1];
    memset(long_why, 'x', sizeof long_why - 1);
    long_why[sizeof long_why - 1] = '\0';
    long_why[200] = '\0';
    s_round_trip(long_why, long_why);
    long_why[200] = 'x';
    memset(want, 'x', LT_ERROR_MSG_MAX);
    want[LT_ERROR_MSG_MAX] = '\0';
    s_round_trip(long_why, want);
}

static uint64_t s_corr = 100, s_clock_ms = 5000;

static uint64_t s_next_corr(void *rt)
{
    (void)rt;
    return s_corr++;
}

static uint64_t s_now(void *rt)
{
    (void)rt;
    return s_clock_ms;
}

static const lt_ctx_ops_t s_call_ops = {
    .abi = LT_ACTOR_ABI, .send = s_send, .next_corr = s_next_corr, .now = s_now};

typedef struct {
    uint32_t kind;
    char what[11]; /* an odd size: the table pads its slots */
} s_rec_t;

Test(actor_ctx, the_call_table_finds_each_call_by_its_corr_once)
{
    lt_ctx_t ctx = {.ops = &s_call_ops};
    lt_calls_t calls;
    lt_calls_init(&calls, sizeof(s_rec_t));
    uint64_t first = s_corr;
    for (uint32_t i = 0; i < 40; i++) { /* past the first growth */
        s_rec_t r = {.kind = i};
        snprintf(r.what, sizeof r.what, "call %u", (unsigned)i);
        s_clock_ms += 10;
        cr_assert_eq(lt_calls_request(&calls, &ctx, "store", 7, "x", 1, &r), LT_OK);
        cr_assert_eq(s_sent.msg.kind, LT_MSG_REQUEST);
        cr_assert_eq(s_sent.msg.corr, first + i);
    }
    cr_assert_eq(lt_calls_count(&calls), 40);
    s_rec_t got;
    cr_assert(lt_calls_take(&calls, first + 17, &got));
    cr_assert_eq(got.kind, 17);
    cr_assert_str_eq(got.what, "call 17");
    cr_assert_not(lt_calls_take(&calls, first + 17, &got), "a call was answered twice");
    cr_assert_not(lt_calls_take(&calls, 99, &got));
    cr_assert_eq(lt_calls_count(&calls), 39);
    /* Every other call is still there, with when it was sent. */
    bool seen[40] = {false};
    for (size_t i = 0; i < lt_calls_count(&calls); i++) {
        uint64_t sent;
        const s_rec_t *r = lt_calls_at(&calls, i, &sent);
        cr_assert_lt(r->kind, 40);
        cr_assert_eq(sent, 5000 + 10 * (r->kind + 1));
        seen[r->kind] = true;
    }
    for (uint32_t i = 0; i < 40; i++)
        cr_assert_eq(seen[i], i != 17);
    lt_calls_free(&calls);
}
