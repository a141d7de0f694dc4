/* The payload codecs (schemas/ops.proto through nanopb): UniversalOp with
 * exactly one of system / app, KvOp batches in order, LogEntry, and the
 * system sub-messages; malformed bytes are LT_EPAYLOAD, never a crash. */
#include "store/ops_codec.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#define assert_rc(expr, want)                                                                      \
    do {                                                                                           \
        lt_err_t rc_ = (expr);                                                                     \
        cr_assert_eq(rc_, (want), "%s: got %s, want %s", #expr, lt_errname(rc_),                   \
                     lt_errname(want));                                                            \
    } while (0)

static lt_view_t s_view(const char *s)
{
    lt_view_t v = {(const uint8_t *)s, strlen(s)};
    return v;
}

static bool s_view_is(lt_view_t v, const void *p, size_t n)
{
    return v.len == n && (n == 0 || memcmp(v.p, p, n) == 0);
}

/* The view lies inside [buf, buf+len). */
static void s_assert_inside(lt_view_t v, const uint8_t *buf, size_t len)
{
    cr_assert(v.p >= buf && v.p + v.len <= buf + len, "view is not inside the input");
}

/* ---- UniversalOp -------------------------------------------------------- */

Test(uop, an_app_payload_round_trips)
{
    static const uint8_t app[] = {0x0a, 0x03, 'k', 'e', 'y', 0x00, 0xff};
    lt_buf_t b = LT_BUF_INIT;
    assert_rc(lt_uop_encode_app(app, sizeof app, &b), LT_OK);
    lt_uop_t op;
    assert_rc(lt_uop_decode(b.data, b.len, &op), LT_OK);
    cr_assert_not(op.is_system);
    cr_assert(s_view_is(op.app, app, sizeof app));
    s_assert_inside(op.app, b.data, b.len);
    lt_buf_free(&b);
}

Test(uop, an_empty_app_payload_is_still_an_app_op)
{
    lt_buf_t b = LT_BUF_INIT;
    assert_rc(lt_uop_encode_app(NULL, 0, &b), LT_OK);
    cr_assert_eq(b.len, 2, "the empty app field is written: tag and zero length");
    lt_uop_t op;
    assert_rc(lt_uop_decode(b.data, b.len, &op), LT_OK);
    cr_assert_not(op.is_system);
    cr_assert_eq(op.app.len, 0);
    cr_assert_not_null(op.app.p);

    lt_buf_reset(&b);
    assert_rc(lt_uop_encode_app((const uint8_t *)"", 0, &b), LT_OK);
    assert_rc(lt_uop_decode(b.data, b.len, &op), LT_OK);
    cr_assert_not(op.is_system);
    lt_buf_free(&b);
}

Test(uop, a_large_app_payload_round_trips)
{
    size_t n = 131072 - 8;
    uint8_t *app = malloc(n);
    cr_assert(app);
    for (size_t i = 0; i < n; i++)
        app[i] = (uint8_t)(i ^ (i >> 8));
    lt_buf_t b = LT_BUF_INIT;
    assert_rc(lt_uop_encode_app(app, n, &b), LT_OK);
    lt_uop_t op;
    assert_rc(lt_uop_decode(b.data, b.len, &op), LT_OK);
    cr_assert_not(op.is_system);
    cr_assert(s_view_is(op.app, app, n));
    lt_buf_free(&b);
    free(app);
}

static void s_system_round_trip(const lattice_SystemOp *in, lattice_SystemOp *out)
{
    lt_buf_t b = LT_BUF_INIT;
    assert_rc(lt_uop_encode_system(in, &b), LT_OK);
    lt_uop_t op;
    assert_rc(lt_uop_decode(b.data, b.len, &op), LT_OK);
    cr_assert(op.is_system);
    cr_assert_eq(op.app.len, 0);
    *out = op.system;
    cr_assert_eq(out->which_op, in->which_op);
    lt_buf_free(&b);
}

Test(uop, a_peer_system_op_round_trips)
{
    lattice_SystemOp in = lattice_SystemOp_init_zero, out;
    in.which_op = lattice_SystemOp_peer_tag;
    in.op.peer.key.size = 32;
    for (int i = 0; i < 32; i++)
        in.op.peer.key.bytes[i] = (uint8_t)(200 + i);
    in.op.peer.status = lattice_PeerStatus_PEER_REVOKED;
    s_system_round_trip(&in, &out);
    cr_assert_eq(out.op.peer.key.size, 32);
    cr_assert(memcmp(out.op.peer.key.bytes, in.op.peer.key.bytes, 32) == 0);
    cr_assert_eq(out.op.peer.status, lattice_PeerStatus_PEER_REVOKED);
}

Test(uop, an_invite_system_op_round_trips)
{
    lattice_SystemOp in = lattice_SystemOp_init_zero, out;
    in.which_op = lattice_SystemOp_invite_tag;
    in.op.invite.secret_hash.size = 32;
    memset(in.op.invite.secret_hash.bytes, 0x5a, 32);
    in.op.invite.status = lattice_InviteStatus_INVITE_CONSUMED;
    in.op.invite.expires_ms = 0x0123456789abcdefull;
    in.op.invite.invitee.size = 32;
    memset(in.op.invite.invitee.bytes, 0xa5, 32);
    s_system_round_trip(&in, &out);
    cr_assert_eq(out.op.invite.secret_hash.size, 32);
    cr_assert(memcmp(out.op.invite.secret_hash.bytes, in.op.invite.secret_hash.bytes, 32) == 0);
    cr_assert_eq(out.op.invite.status, lattice_InviteStatus_INVITE_CONSUMED);
    cr_assert_eq(out.op.invite.expires_ms, 0x0123456789abcdefull);
    cr_assert_eq(out.op.invite.invitee.size, 32);
    cr_assert(memcmp(out.op.invite.invitee.bytes, in.op.invite.invitee.bytes, 32) == 0);
}

Test(uop, a_child_system_op_round_trips)
{
    lattice_SystemOp in = lattice_SystemOp_init_zero, out;
    in.which_op = lattice_SystemOp_child_tag;
    in.op.child.store_id.size = 16;
    memset(in.op.child.store_id.bytes, 0x16, 16);
    strcpy(in.op.child.type, "core:kvstore");
    memset(in.op.child.name, 'n', sizeof in.op.child.name - 1); /* the longest name */
    in.op.child.status = lattice_ChildStatus_CHILD_ACTIVE;
    s_system_round_trip(&in, &out);
    cr_assert_eq(out.op.child.store_id.size, 16);
    cr_assert(memcmp(out.op.child.store_id.bytes, in.op.child.store_id.bytes, 16) == 0);
    cr_assert_str_eq(out.op.child.type, "core:kvstore");
    cr_assert_str_eq(out.op.child.name, in.op.child.name);
    cr_assert_eq(out.op.child.status, lattice_ChildStatus_CHILD_ACTIVE);
}

Test(uop, name_and_strategy_system_ops_round_trip)
{
    lattice_SystemOp in = lattice_SystemOp_init_zero, out;
    in.which_op = lattice_SystemOp_name_tag;
    strcpy(in.op.name, "photos");
    s_system_round_trip(&in, &out);
    cr_assert_str_eq(out.op.name, "photos");

    lattice_SystemOp st = lattice_SystemOp_init_zero;
    st.which_op = lattice_SystemOp_strategy_tag;
    st.op.strategy = lattice_PeerStrategy_STRATEGY_SNAPSHOT;
    s_system_round_trip(&st, &out);
    cr_assert_eq(out.op.strategy, lattice_PeerStrategy_STRATEGY_SNAPSHOT);
}

Test(uop, a_payload_with_neither_system_nor_app_is_rejected)
{
    lt_uop_t op;
    static const uint8_t none = 0;
    assert_rc(lt_uop_decode(&none, 0, &op), LT_EPAYLOAD);
    /* Only an unknown field (tag 3, varint 1): still neither. */
    static const uint8_t unknown[] = {0x18, 0x01};
    assert_rc(lt_uop_decode(unknown, sizeof unknown, &op), LT_EPAYLOAD);
}

Test(uop, a_payload_with_both_system_and_app_is_rejected)
{
    lattice_SystemOp sys = lattice_SystemOp_init_zero;
    sys.which_op = lattice_SystemOp_name_tag;
    strcpy(sys.op.name, "x");
    lt_buf_t b = LT_BUF_INIT, app = LT_BUF_INIT;
    assert_rc(lt_uop_encode_system(&sys, &b), LT_OK);
    assert_rc(lt_uop_encode_app((const uint8_t *)"abc", 3, &app), LT_OK);
    /* Concatenated protobuf messages merge: system then app, and app then system. */
    lt_buf_t both = LT_BUF_INIT;
    assert_rc(lt_buf_append(&both, b.data, b.len), LT_OK);
    assert_rc(lt_buf_append(&both, app.data, app.len), LT_OK);
    lt_uop_t op;
    assert_rc(lt_uop_decode(both.data, both.len, &op), LT_EPAYLOAD);
    lt_buf_reset(&both);
    assert_rc(lt_buf_append(&both, app.data, app.len), LT_OK);
    assert_rc(lt_buf_append(&both, b.data, b.len), LT_OK);
    assert_rc(lt_uop_decode(both.data, both.len, &op), LT_EPAYLOAD);
    /* Even an empty app field next to a system op. */
    lt_buf_reset(&both);
    assert_rc(lt_buf_append(&both, b.data, b.len), LT_OK);
    static const uint8_t empty_app[] = {0x12, 0x00};
    assert_rc(lt_buf_append(&both, empty_app, sizeof empty_app), LT_OK);
    assert_rc(lt_uop_decode(both.data, both.len, &op), LT_EPAYLOAD);
    lt_buf_free(&both);
    lt_buf_free(&app);
    lt_buf_free(&b);
}

Test(uop, oversized_system_fields_are_rejected)
{
    /* UniversalOp{system{peer{key: 33 bytes}}}: key is at most 32. */
    uint8_t buf[64];
    size_t n = 0;
    buf[n++] = 0x0a; /* system, len */
    buf[n++] = 2 + 2 + 33;
    buf[n++] = 0x0a; /* peer, len */
    buf[n++] = 2 + 33;
    buf[n++] = 0x0a; /* key, len 33 */
    buf[n++] = 33;
    memset(buf + n, 0x01, 33);
    n += 33;
    lt_uop_t op;
    assert_rc(lt_uop_decode(buf, n, &op), LT_EPAYLOAD);
}

/* ---- garbage ------------------------------------------------------------ */

static lt_err_t s_count_entry(void *ctx, const lt_kv_entry_t *e)
{
    (void)e;
    (*(unsigned *)ctx)++;
    return LT_OK;
}

/* A deterministic generator (xorshift) for reproducible garbage. */
static uint32_t s_next(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

Test(uop, garbage_is_rejected_without_crashing)
{
    static const uint8_t cases[][6] = {
        {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, /* endless varint */
        {0x12, 0x7f, 'a', 'b', 'c', 'd'},     /* app longer than the input */
        {0x0a, 0x05, 0x0a, 0x09, 0, 0},       /* nested length past the outer one */
        {0x07, 0, 0, 0, 0, 0},                /* wire type 7 */
        {0x12, 0x01, 'x', 0x0b, 0, 0},        /* app, then a start-group */
    };
    for (unsigned i = 0; i < sizeof cases / sizeof *cases; i++) {
        lt_uop_t op;
        assert_rc(lt_uop_decode(cases[i], sizeof cases[i], &op), LT_EPAYLOAD);
        unsigned count = 0;
        cr_assert_neq(lt_kvop_decode(cases[i], sizeof cases[i], s_count_entry, &count), LT_OK,
                      "case %u", i);
    }
    /* Random bytes: any verdict, but never a crash, and a success is self-consistent. */
    uint32_t seed = 0x9e3779b9u;
    uint8_t buf[64];
    for (int round = 0; round < 20000; round++) {
        size_t n = s_next(&seed) % sizeof buf;
        for (size_t i = 0; i < n; i++)
            buf[i] = (uint8_t)s_next(&seed);
        lt_uop_t op;
        lt_err_t rc = lt_uop_decode(buf, n, &op);
        cr_assert(rc == LT_OK || rc == LT_EPAYLOAD, "round %d: %s", round, lt_errname(rc));
        if (rc == LT_OK && !op.is_system)
            s_assert_inside(op.app, buf, n);
        unsigned count = 0;
        rc = lt_kvop_decode(buf, n, s_count_entry, &count);
        cr_assert(rc == LT_OK || rc == LT_EPAYLOAD, "round %d: %s", round, lt_errname(rc));
        lt_view_t text;
        rc = lt_logentry_decode(buf, n, &text);
        cr_assert(rc == LT_OK || rc == LT_EPAYLOAD, "round %d: %s", round, lt_errname(rc));
        if (rc == LT_OK && text.len)
            s_assert_inside(text, buf, n);
    }
}

/* ---- KvOp --------------------------------------------------------------- */

typedef struct {
    lt_kv_entry_t e[16];
    unsigned n;
    const uint8_t *buf;
    size_t len;
} s_collect_t;

static lt_err_t s_collect(void *ctx, const lt_kv_entry_t *e)
{
    s_collect_t *c = ctx;
    cr_assert_lt(c->n, 16);
    s_assert_inside(e->key, c->buf, c->len);
    if (e->value.len)
        s_assert_inside(e->value, c->buf, c->len);
    cr_assert_not_null(e->value.p, "an absent value is an empty view, not NULL");
    c->e[c->n++] = *e;
    return LT_OK;
}

Test(kvop, a_batch_round_trips_in_order_with_repeated_keys)
{
    lt_kv_entry_t in[5] = {
        {s_view("alpha"), s_view("1"), false},
        {s_view("beta"), s_view("two"), false},
        {s_view("alpha"), s_view("3"), false}, /* repeated: order is kept */
        {s_view("beta"), {NULL, 0}, true},
        {s_view("gamma"), {NULL, 0}, false}, /* a put of the empty value */
    };
    lt_buf_t b = LT_BUF_INIT;
    assert_rc(lt_kvop_encode(in, 5, &b), LT_OK);
    s_collect_t c = {.buf = b.data, .len = b.len};
    assert_rc(lt_kvop_decode(b.data, b.len, s_collect, &c), LT_OK);
    cr_assert_eq(c.n, 5);
    for (unsigned i = 0; i < 5; i++) {
        cr_assert(s_view_is(c.e[i].key, in[i].key.p, in[i].key.len), "key %u", i);
        cr_assert(s_view_is(c.e[i].value, in[i].value.p, in[i].value.len), "value %u", i);
        cr_assert_eq(c.e[i].del, in[i].del, "delete %u", i);
    }
    lt_buf_free(&b);
}

Test(kvop, delete_entries_round_trip)
{
    lt_kv_entry_t in[2] = {
        {s_view("gone"), {NULL, 0}, true},
        {s_view("also-gone"), {(const uint8_t *)"", 0}, true},
    };
    lt_buf_t b = LT_BUF_INIT;
    assert_rc(lt_kvop_encode(in, 2, &b), LT_OK);
    s_collect_t c = {.buf = b.data, .len = b.len};
    assert_rc(lt_kvop_decode(b.data, b.len, s_collect, &c), LT_OK);
    cr_assert_eq(c.n, 2);
    cr_assert(c.e[0].del && c.e[1].del);
    cr_assert(s_view_is(c.e[1].key, "also-gone", 9));
    cr_assert_eq(c.e[0].value.len, 0);
    lt_buf_free(&b);
}

Test(kvop, binary_keys_and_values_round_trip)
{
    static const uint8_t key[] = {0, 1, 2, 0xff, 0};
    uint8_t *value = malloc(70000);
    cr_assert(value);
    for (size_t i = 0; i < 70000; i++)
        value[i] = (uint8_t)(i * 7);
    lt_kv_entry_t in = {{key, sizeof key}, {value, 70000}, false};
    lt_buf_t b = LT_BUF_INIT;
    assert_rc(lt_kvop_encode(&in, 1, &b), LT_OK);
    s_collect_t c = {.buf = b.data, .len = b.len};
    assert_rc(lt_kvop_decode(b.data, b.len, s_collect, &c), LT_OK);
    cr_assert_eq(c.n, 1);
    cr_assert(s_view_is(c.e[0].key, key, sizeof key));
    cr_assert(s_view_is(c.e[0].value, value, 70000));
    lt_buf_free(&b);
    free(value);
}

Test(kvop, an_empty_batch_decodes_to_no_entries)
{
    lt_buf_t b = LT_BUF_INIT;
    assert_rc(lt_kvop_encode(NULL, 0, &b), LT_OK);
    cr_assert_eq(b.len, 0);
    s_collect_t c = {.buf = b.data, .len = 0};
    static const uint8_t none = 0;
    assert_rc(lt_kvop_decode(&none, 0, s_collect, &c), LT_OK);
    cr_assert_eq(c.n, 0);
    lt_buf_free(&b);
}

Test(kvop, an_empty_key_is_rejected)
{
    /* KvOp{entries{value "v"}}: no key. */
    static const uint8_t nokey[] = {0x0a, 0x03, 0x12, 0x01, 'v'};
    s_collect_t c = {.buf = nokey, .len = sizeof nokey};
    assert_rc(lt_kvop_decode(nokey, sizeof nokey, s_collect, &c), LT_EPAYLOAD);
    cr_assert_eq(c.n, 0);
    /* KvOp{entries{key ""}} written explicitly. */
    static const uint8_t emptykey[] = {0x0a, 0x02, 0x0a, 0x00};
    assert_rc(lt_kvop_decode(emptykey, sizeof emptykey, s_collect, &c), LT_EPAYLOAD);
    /* The encoder refuses to write one. */
    lt_kv_entry_t in = {{(const uint8_t *)"", 0}, s_view("v"), false};
    lt_buf_t b = LT_BUF_INIT;
    assert_rc(lt_kvop_encode(&in, 1, &b), LT_EINVAL);
    lt_buf_free(&b);
}

Test(kvop, a_delete_with_a_value_is_rejected)
{
    /* KvOp{entries{key "k" value "v" delete true}} */
    static const uint8_t bad[] = {0x0a, 0x08, 0x0a, 0x01, 'k', 0x12, 0x01, 'v', 0x18, 0x01};
    s_collect_t c = {.buf = bad, .len = sizeof bad};
    assert_rc(lt_kvop_decode(bad, sizeof bad, s_collect, &c), LT_EPAYLOAD);
    lt_kv_entry_t in = {s_view("k"), s_view("v"), true};
    lt_buf_t b = LT_BUF_INIT;
    assert_rc(lt_kvop_encode(&in, 1, &b), LT_EINVAL);
    lt_buf_free(&b);
}

static lt_err_t s_stop_at_second(void *ctx, const lt_kv_entry_t *e)
{
    (void)e;
    return ++*(unsigned *)ctx == 2 ? LT_EFULL : LT_OK;
}

Test(kvop, the_callback_error_stops_decoding_and_is_returned)
{
    lt_kv_entry_t in[3] = {
        {s_view("a"), s_view("1"), false},
        {s_view("b"), s_view("2"), false},
        {s_view("c"), s_view("3"), false},
    };
    lt_buf_t b = LT_BUF_INIT;
    assert_rc(lt_kvop_encode(in, 3, &b), LT_OK);
    unsigned calls = 0;
    assert_rc(lt_kvop_decode(b.data, b.len, s_stop_at_second, &calls), LT_EFULL);
    cr_assert_eq(calls, 2);
    lt_buf_free(&b);
}

Test(kvop, a_truncated_batch_is_rejected)
{
    lt_kv_entry_t in[2] = {
        {s_view("key-one"), s_view("value-one"), false},
        {s_view("key-two"), s_view("value-two"), false},
    };
    lt_buf_t b = LT_BUF_INIT;
    assert_rc(lt_kvop_encode(in, 2, &b), LT_OK);
    /* Every cut inside an entry breaks a length; cuts between entries are valid batches. */
    size_t first_end = b.len / 2;
    for (size_t len = 1; len < b.len; len++) {
        unsigned count = 0;
        lt_err_t rc = lt_kvop_decode(b.data, len, s_count_entry, &count);
        if (len == first_end)
            cr_assert_eq(rc, LT_OK, "a cut between entries is one entry");
        else
            cr_assert_eq(rc, LT_EPAYLOAD, "cut at %zu/%zu: %s", len, b.len, lt_errname(rc));
    }
    lt_buf_free(&b);
}

/* ---- LogEntry ----------------------------------------------------------- */

Test(logentry, text_round_trips)
{
    static const char text[] = "the quick brown fox\0with a NUL";
    lt_buf_t b = LT_BUF_INIT;
    assert_rc(lt_logentry_encode((const uint8_t *)text, sizeof text - 1, &b), LT_OK);
    lt_view_t v;
    assert_rc(lt_logentry_decode(b.data, b.len, &v), LT_OK);
    cr_assert(s_view_is(v, text, sizeof text - 1));
    s_assert_inside(v, b.data, b.len);
    lt_buf_free(&b);
}

Test(logentry, empty_text_round_trips)
{
    lt_buf_t b = LT_BUF_INIT;
    assert_rc(lt_logentry_encode(NULL, 0, &b), LT_OK);
    cr_assert_eq(b.len, 0, "proto3 writes nothing for empty bytes");
    lt_view_t v = {(const uint8_t *)"junk", 4};
    static const uint8_t none = 0;
    assert_rc(lt_logentry_decode(&none, 0, &v), LT_OK);
    cr_assert_eq(v.len, 0);
    cr_assert_not_null(v.p);
    /* An explicitly written empty text is the same entry. */
    static const uint8_t explicit_empty[] = {0x0a, 0x00};
    assert_rc(lt_logentry_decode(explicit_empty, sizeof explicit_empty, &v), LT_OK);
    cr_assert_eq(v.len, 0);
    lt_buf_free(&b);
}

Test(logentry, a_truncated_entry_is_rejected)
{
    lt_buf_t b = LT_BUF_INIT;
    assert_rc(lt_logentry_encode((const uint8_t *)"hello", 5, &b), LT_OK);
    for (size_t len = 1; len < b.len; len++) {
        lt_view_t v;
        assert_rc(lt_logentry_decode(b.data, len, &v), LT_EPAYLOAD);
    }
    lt_buf_free(&b);
}

/* ---- fields sent with the wrong wire type ------------------------------- */

/* nanopb hands a bytes callback a field sent as a varint or fixed-width value
 * through a copy on its own stack; a view of it would dangle once decoding
 * returns. Such a payload is malformed. */
Test(uop, an_app_field_sent_as_a_varint_is_rejected)
{
    static const uint8_t varint_app[] = {0x10, 0x05};                  /* app: varint 5 */
    static const uint8_t fixed_app[] = {0x11, 1, 2, 3, 4, 5, 6, 7, 8}; /* app: fixed64 */
    static const uint8_t fixed32_app[] = {0x15, 1, 2, 3, 4};           /* app: fixed32 */
    lt_uop_t op;
    assert_rc(lt_uop_decode(varint_app, sizeof varint_app, &op), LT_EPAYLOAD);
    assert_rc(lt_uop_decode(fixed_app, sizeof fixed_app, &op), LT_EPAYLOAD);
    assert_rc(lt_uop_decode(fixed32_app, sizeof fixed32_app, &op), LT_EPAYLOAD);
}

Test(kvop, a_key_or_value_sent_as_a_varint_is_rejected)
{
    static const uint8_t varint_key[] = {0x0a, 0x02, 0x08, 0x05};
    static const uint8_t varint_value[] = {0x0a, 0x05, 0x0a, 0x01, 'k', 0x10, 0x07};
    /* entries as fixed64 whose 8 bytes read as KvEntry{key "abcdef"} */
    static const uint8_t fixed_entry[] = {0x09, 0x0a, 0x06, 'a', 'b', 'c', 'd', 'e', 'f'};
    s_collect_t c = {.buf = varint_key, .len = sizeof varint_key};
    assert_rc(lt_kvop_decode(varint_key, sizeof varint_key, s_collect, &c), LT_EPAYLOAD);
    c = (s_collect_t){.buf = varint_value, .len = sizeof varint_value};
    assert_rc(lt_kvop_decode(varint_value, sizeof varint_value, s_collect, &c), LT_EPAYLOAD);
    c = (s_collect_t){.buf = fixed_entry, .len = sizeof fixed_entry};
    assert_rc(lt_kvop_decode(fixed_entry, sizeof fixed_entry, s_collect, &c), LT_EPAYLOAD);
    cr_assert_eq(c.n, 0);
}

Test(logentry, text_sent_as_a_varint_is_rejected)
{
    static const uint8_t varint_text[] = {0x08, 0x41};
    lt_view_t v;
    assert_rc(lt_logentry_decode(varint_text, sizeof varint_text, &v), LT_EPAYLOAD);
}

/* ---- system sub-messages through the static codec ----------------------- */

Test(pbstatic, sub_messages_round_trip)
{
    lattice_PeerSet peer = lattice_PeerSet_init_zero, peer2 = lattice_PeerSet_init_zero;
    peer.key.size = 32;
    memset(peer.key.bytes, 0x77, 32);
    peer.status = lattice_PeerStatus_PEER_DORMANT;
    lt_buf_t b = LT_BUF_INIT;
    assert_rc(lt_pb_encode_static(lattice_PeerSet_fields, &peer, &b), LT_OK);
    assert_rc(lt_pb_decode_static(lattice_PeerSet_fields, &peer2, b.data, b.len), LT_OK);
    cr_assert_eq(peer2.key.size, 32);
    cr_assert(memcmp(peer2.key.bytes, peer.key.bytes, 32) == 0);
    cr_assert_eq(peer2.status, lattice_PeerStatus_PEER_DORMANT);

    lattice_ChildSet child = lattice_ChildSet_init_zero, child2 = lattice_ChildSet_init_zero;
    child.store_id.size = 16;
    memset(child.store_id.bytes, 0x01, 16);
    strcpy(child.type, "core:logstore");
    strcpy(child.name, "journal");
    child.status = lattice_ChildStatus_CHILD_REMOVED;
    lt_buf_reset(&b);
    assert_rc(lt_pb_encode_static(lattice_ChildSet_fields, &child, &b), LT_OK);
    assert_rc(lt_pb_decode_static(lattice_ChildSet_fields, &child2, b.data, b.len), LT_OK);
    cr_assert_eq(child2.store_id.size, 16);
    cr_assert_str_eq(child2.type, "core:logstore");
    cr_assert_str_eq(child2.name, "journal");
    cr_assert_eq(child2.status, lattice_ChildStatus_CHILD_REMOVED);

    /* Truncated: a cut between fields is a shorter valid message, and any cut
     * inside a field is LT_EPAYLOAD. Field ends: 2+16, +2+13, +2+7, +2. */
    static const size_t field_ends[] = {18, 33, 42};
    for (size_t len = 1; len < b.len; len++) {
        lattice_ChildSet c3 = lattice_ChildSet_init_zero;
        lt_err_t rc = lt_pb_decode_static(lattice_ChildSet_fields, &c3, b.data, len);
        bool between = len == field_ends[0] || len == field_ends[1] || len == field_ends[2];
        cr_assert_eq(rc, between ? LT_OK : LT_EPAYLOAD, "cut at %zu/%zu: %s", len, b.len,
                     lt_errname(rc));
    }
    cr_assert_eq(b.len, 44);
    lt_buf_free(&b);
}

Test(pbstatic, an_overlong_string_is_rejected)
{
    /* ChildSet{type: 64 bytes}: type holds at most 63 characters plus the NUL. */
    uint8_t buf[2 + 64];
    buf[0] = 0x12;
    buf[1] = 64;
    memset(buf + 2, 't', 64);
    lattice_ChildSet c = lattice_ChildSet_init_zero;
    assert_rc(lt_pb_decode_static(lattice_ChildSet_fields, &c, buf, sizeof buf), LT_EPAYLOAD);
    buf[1] = 63;
    assert_rc(lt_pb_decode_static(lattice_ChildSet_fields, &c, buf, sizeof buf - 1), LT_OK);
    cr_assert_eq(strlen(c.type), 63);
}
