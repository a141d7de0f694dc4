/* The context conveniences of ipc/actor.h that build bodies themselves:
 * lt_ctx_reply_error writes the Error message every service protocol shares,
 * and a protocol's own decoder (the store's, here) reads it back. */
#include "ipc/actor.h"
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
