/* The kernel framing codec (ipc/frame.h): every command round-trips, every
 * rejection has its own reason and code, and a REQUEST and a READY encode
 * to known bytes (the layout of kernel/README.md). */
#include "ipc/frame.h"

#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#define NODE_KEY "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static const uint8_t *s_b(const char *s)
{
    return (const uint8_t *)s;
}

static lt_frame_part_t s_text(const char *s)
{
    return (lt_frame_part_t){s_b(s), strlen(s)};
}

/* A well-formed message of cmd, to be broken by each rejection test. */
static size_t s_good(lt_frame_cmd_t cmd, lt_frame_part_t parts[8], uint8_t *cmdbyte)
{
    static const uint8_t corr[8] = {1, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t u32[4] = {0, 0, 0, 0};
    *cmdbyte = (uint8_t)cmd;
    parts[0] = s_text("LTK1");
    parts[1] = (lt_frame_part_t){cmdbyte, 1};
    switch (cmd) {
    case LT_FRAME_READY:
        parts[2] = s_text("store");
        parts[3] = (lt_frame_part_t){u32, 4};
        parts[4] = (lt_frame_part_t){u32, 4};
        return 5;
    case LT_FRAME_REQUEST:
    case LT_FRAME_REPLY:
    case LT_FRAME_EVENT:
        parts[2] = s_text("store");
        parts[3] = (lt_frame_part_t){corr, 8};
        parts[4] = (lt_frame_part_t){u32, 4};
        parts[5] = (lt_frame_part_t){u32, 4};
        parts[6] = s_text("body");
        return 7;
    case LT_FRAME_HEARTBEAT:
    case LT_FRAME_DISCONNECT:
        return 2;
    }
    return 0;
}

/* Decodes and expects a rejection with this code and reason, and a message
 * that starts with "frame:". */
static void s_expect_reject(const lt_frame_part_t *parts, size_t n, lt_err_t code,
                            lt_frame_reject_t reason)
{
    lt_frame_t f;
    lt_frame_reject_t why = LT_FRAME_ACCEPTED;
    lt_errbuf_t eb = {{0}};
    lt_err_t rc = lt_frame_decode(parts, n, &f, &why, &eb);
    cr_expect_eq(rc, code, "code %s, expected %s (%s)", lt_errname(rc), lt_errname(code), eb.msg);
    cr_expect_eq(why, reason, "reason %s, expected %s (%s)", lt_frame_reject_name(why),
                 lt_frame_reject_name(reason), eb.msg);
    cr_expect(strncmp(eb.msg, "frame: ", 7) == 0, "message: \"%s\"", eb.msg);
}

/* Encodes f, checks the decoder gives back the same frame, and re-encodes
 * to the same parts. */
static void s_round_trip(const lt_frame_t *f)
{
    lt_frame_part_t parts[LT_FRAME_MAX_PARTS];
    size_t n = 0;
    lt_frame_scratch_t scratch;
    lt_errbuf_t eb = {{0}};
    cr_assert_eq(lt_frame_encode(f, parts, &n, &scratch, &eb), LT_OK, "%s", eb.msg);

    lt_frame_t g;
    lt_frame_reject_t why;
    cr_assert_eq(lt_frame_decode(parts, n, &g, &why, &eb), LT_OK, "%s", eb.msg);
    cr_assert_eq(why, LT_FRAME_ACCEPTED);
    cr_expect_eq(g.cmd, f->cmd);
    switch (f->cmd) {
    case LT_FRAME_READY:
        cr_expect_str_eq(g.name, f->name);
        cr_expect_eq(g.proto, f->proto);
        cr_expect_eq(g.pid, f->pid);
        break;
    case LT_FRAME_REQUEST:
    case LT_FRAME_REPLY:
    case LT_FRAME_EVENT:
        cr_expect_str_eq(g.addr, f->addr);
        cr_expect_eq(g.corr, f->corr);
        cr_expect_eq(g.type, f->type);
        cr_expect_eq(g.status, f->status);
        cr_assert_eq(g.len, f->len);
        if (f->len)
            cr_expect_arr_eq(g.body, f->body, f->len);
        break;
    case LT_FRAME_HEARTBEAT:
    case LT_FRAME_DISCONNECT:
        break;
    }

    lt_frame_part_t again[LT_FRAME_MAX_PARTS];
    size_t m = 0;
    lt_frame_scratch_t scratch2;
    cr_assert_eq(lt_frame_encode(&g, again, &m, &scratch2, NULL), LT_OK);
    cr_assert_eq(m, n);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(again[i].len, parts[i].len, "part %zu", i);
        if (parts[i].len)
            cr_expect_arr_eq(again[i].p, parts[i].p, parts[i].len, "part %zu", i);
    }
}

TestSuite(frame);

/* --- round trips ------------------------------------------------------- */

Test(frame, ready_round_trips)
{
    lt_frame_t f = {.cmd = LT_FRAME_READY, .name = "store", .proto = 3, .pid = 4242};
    s_round_trip(&f);
    lt_frame_t longest = {.cmd = LT_FRAME_READY, .proto = UINT32_MAX, .pid = UINT32_MAX};
    memset(longest.name, 'z', LT_NAME_MAX - 1);
    s_round_trip(&longest);
}

Test(frame, request_reply_and_event_round_trip)
{
    static uint8_t big[LT_FRAME_MAX_BODY];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 7);
    const lt_frame_cmd_t cmds[] = {LT_FRAME_REQUEST, LT_FRAME_REPLY, LT_FRAME_EVENT};
    const char *addrs[] = {"store", ("store@" NODE_KEY), "client:0080000001", "a"};
    for (size_t c = 0; c < 3; c++) {
        for (size_t a = 0; a < 4; a++) {
            lt_frame_t f = {.cmd = cmds[c], .corr = UINT64_MAX - a, .type = 0xdeadbeef};
            strcpy(f.addr, addrs[a]);
            if (cmds[c] == LT_FRAME_REPLY)
                f.status = a == 0 ? LT_ENOTFOUND : LT_FRAME_STATUS_MAX;
            s_round_trip(&f); /* empty body */
            f.body = s_b("hello");
            f.len = 5;
            s_round_trip(&f);
            f.body = big;
            f.len = sizeof big;
            s_round_trip(&f);
        }
    }
}

Test(frame, heartbeat_and_disconnect_round_trip)
{
    lt_frame_t hb = {.cmd = LT_FRAME_HEARTBEAT};
    s_round_trip(&hb);
    lt_frame_t bye = {.cmd = LT_FRAME_DISCONNECT};
    s_round_trip(&bye);
}

Test(frame, every_command_has_its_part_count)
{
    const struct {
        lt_frame_cmd_t cmd;
        size_t n;
    } want[] = {{LT_FRAME_READY, 5},     {LT_FRAME_REQUEST, 7},    {LT_FRAME_REPLY, 7},
                {LT_FRAME_HEARTBEAT, 2}, {LT_FRAME_DISCONNECT, 2}, {LT_FRAME_EVENT, 7}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        lt_frame_t f = {.cmd = want[i].cmd, .name = "store"};
        strcpy(f.addr, "store");
        lt_frame_part_t parts[LT_FRAME_MAX_PARTS];
        size_t n = 0;
        lt_frame_scratch_t scratch;
        cr_assert_eq(lt_frame_encode(&f, parts, &n, &scratch, NULL), LT_OK);
        cr_expect_eq(n, want[i].n, "command %d", (int)want[i].cmd);
        cr_expect_eq(parts[1].len, 1);
        cr_expect_eq(parts[1].p[0], (uint8_t)want[i].cmd);
    }
}

/* --- known answers ----------------------------------------------------- */

Test(frame, request_has_the_documented_byte_layout)
{
    lt_frame_t f = {.cmd = LT_FRAME_REQUEST,
                    .addr = "store",
                    .corr = 0x0102030405060708u,
                    .type = 7,
                    .body = s_b("hi"),
                    .len = 2};
    lt_frame_part_t parts[LT_FRAME_MAX_PARTS];
    size_t n = 0;
    lt_frame_scratch_t scratch;
    cr_assert_eq(lt_frame_encode(&f, parts, &n, &scratch, NULL), LT_OK);
    cr_assert_eq(n, 7);
    const uint8_t corr[] = {0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01};
    const uint8_t type[] = {0x07, 0x00, 0x00, 0x00};
    const uint8_t status[] = {0x00, 0x00, 0x00, 0x00};
    const lt_frame_part_t want[] = {{s_b("LTK1"), 4}, {s_b("\x02"), 1}, {s_b("store"), 5},
                                    {corr, 8},        {type, 4},        {status, 4},
                                    {s_b("hi"), 2}};
    for (size_t i = 0; i < 7; i++) {
        cr_assert_eq(parts[i].len, want[i].len, "part %zu", i);
        cr_expect_arr_eq(parts[i].p, want[i].p, want[i].len, "part %zu", i);
    }
}

Test(frame, reply_status_is_little_endian)
{
    lt_frame_t f = {.cmd = LT_FRAME_REPLY, .addr = "client:00deadbeef", .status = 0x0102};
    lt_frame_part_t parts[LT_FRAME_MAX_PARTS];
    size_t n = 0;
    lt_frame_scratch_t scratch;
    cr_assert_eq(lt_frame_encode(&f, parts, &n, &scratch, NULL), LT_OK);
    const uint8_t status[] = {0x02, 0x01, 0x00, 0x00};
    cr_assert_eq(parts[5].len, 4);
    cr_expect_arr_eq(parts[5].p, status, 4);
    cr_expect_eq(parts[1].p[0], 0x03);
    cr_expect_eq(parts[6].len, 0);
    cr_expect_not_null(parts[6].p);
}

Test(frame, ready_has_the_documented_byte_layout)
{
    lt_frame_t f = {.cmd = LT_FRAME_READY, .name = "store", .proto = 1, .pid = 4242};
    lt_frame_part_t parts[LT_FRAME_MAX_PARTS];
    size_t n = 0;
    lt_frame_scratch_t scratch;
    cr_assert_eq(lt_frame_encode(&f, parts, &n, &scratch, NULL), LT_OK);
    cr_assert_eq(n, 5);
    const uint8_t proto[] = {0x01, 0x00, 0x00, 0x00};
    const uint8_t pid[] = {0x92, 0x10, 0x00, 0x00};
    const lt_frame_part_t want[] = {
        {s_b("LTK1"), 4}, {s_b("\x01"), 1}, {s_b("store"), 5}, {proto, 4}, {pid, 4}};
    for (size_t i = 0; i < 5; i++) {
        cr_assert_eq(parts[i].len, want[i].len, "part %zu", i);
        cr_expect_arr_eq(parts[i].p, want[i].p, want[i].len, "part %zu", i);
    }
}

Test(frame, known_request_bytes_decode)
{
    const uint8_t corr[] = {0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01};
    const uint8_t type[] = {0x07, 0x00, 0x00, 0x00};
    const uint8_t status[] = {0x00, 0x00, 0x00, 0x00};
    const lt_frame_part_t parts[] = {{s_b("LTK1"), 4}, {s_b("\x02"), 1}, {s_b("store"), 5},
                                     {corr, 8},        {type, 4},        {status, 4},
                                     {s_b("hi"), 2}};
    lt_frame_t f;
    cr_assert_eq(lt_frame_decode(parts, 7, &f, NULL, NULL), LT_OK);
    cr_expect_eq(f.cmd, LT_FRAME_REQUEST);
    cr_expect_str_eq(f.addr, "store");
    cr_expect_eq(f.corr, 0x0102030405060708u);
    cr_expect_eq(f.type, 7);
    cr_expect_eq(f.status, 0);
    cr_expect_eq(f.len, 2);
    cr_expect_eq(f.body, parts[6].p, "the body is borrowed, not copied");
}

/* --- rejections -------------------------------------------------------- */

Test(frame, too_few_parts_for_a_header_are_truncated)
{
    lt_frame_part_t parts[8];
    uint8_t c;
    s_good(LT_FRAME_HEARTBEAT, parts, &c);
    s_expect_reject(parts, 0, LT_ETRUNCATED, LT_FRAME_R_NOPARTS);
    s_expect_reject(parts, 1, LT_ETRUNCATED, LT_FRAME_R_NOPARTS);
}

Test(frame, a_wrong_signature_is_refused)
{
    const char *bad[] = {"MDPC", "LTK", "LTK12", "ltk1", "", "MDPW02"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lt_frame_part_t parts[8];
        uint8_t c;
        size_t n = s_good(LT_FRAME_REQUEST, parts, &c);
        parts[0] = s_text(bad[i]);
        s_expect_reject(parts, n, LT_EINVAL, LT_FRAME_R_SIGNATURE);
    }
}

Test(frame, another_version_is_refused_as_a_version_error)
{
    const char *bad[] = {"LTK2", "LTK0", "LTK\xff"};
    for (size_t i = 0; i < 3; i++) {
        lt_frame_part_t parts[8];
        uint8_t c;
        size_t n = s_good(LT_FRAME_HEARTBEAT, parts, &c);
        parts[0] = s_text(bad[i]);
        s_expect_reject(parts, n, LT_EVERSION, LT_FRAME_R_VERSION);
    }
}

Test(frame, an_unknown_or_malformed_command_is_refused)
{
    lt_frame_part_t parts[8];
    uint8_t c;
    size_t n = s_good(LT_FRAME_HEARTBEAT, parts, &c);
    const uint8_t unknown[] = {0, 7, 0xff};
    for (size_t i = 0; i < 3; i++) {
        parts[1] = (lt_frame_part_t){&unknown[i], 1};
        s_expect_reject(parts, n, LT_EINVAL, LT_FRAME_R_COMMAND);
    }
    parts[1] = (lt_frame_part_t){s_b("\x04\x04"), 2};
    s_expect_reject(parts, n, LT_EINVAL, LT_FRAME_R_COMMAND);
    parts[1] = (lt_frame_part_t){s_b(""), 0};
    s_expect_reject(parts, n, LT_EINVAL, LT_FRAME_R_COMMAND);
}

Test(frame, missing_and_extra_parts_are_refused_for_every_command)
{
    const lt_frame_cmd_t cmds[] = {LT_FRAME_READY,     LT_FRAME_REQUEST,    LT_FRAME_REPLY,
                                   LT_FRAME_HEARTBEAT, LT_FRAME_DISCONNECT, LT_FRAME_EVENT};
    for (size_t i = 0; i < 6; i++) {
        lt_frame_part_t parts[8];
        uint8_t c;
        size_t n = s_good(cmds[i], parts, &c);
        lt_frame_t f;
        cr_assert_eq(lt_frame_decode(parts, n, &f, NULL, NULL), LT_OK, "command %d", (int)cmds[i]);
        for (size_t m = 2; m < n; m++)
            s_expect_reject(parts, m, LT_ETRUNCATED, LT_FRAME_R_MISSING);
        parts[n] = s_text("extra");
        s_expect_reject(parts, n + 1, LT_ETRAILING, LT_FRAME_R_EXTRA);
        parts[n] = s_text("");
        s_expect_reject(parts, n + 1, LT_ETRAILING, LT_FRAME_R_EXTRA);
    }
}

Test(frame, fixed_width_fields_of_the_wrong_size_are_refused)
{
    const uint8_t zeros[9] = {0};
    const lt_frame_cmd_t msgs[] = {LT_FRAME_REQUEST, LT_FRAME_REPLY, LT_FRAME_EVENT};
    const size_t sizes[] = {0, 3, 5, 7, 9};
    for (size_t c = 0; c < 3; c++) {
        for (size_t field = 3; field <= 5; field++) {
            size_t want = field == 3 ? 8 : 4;
            for (size_t s = 0; s < 5; s++) {
                if (sizes[s] == want)
                    continue;
                lt_frame_part_t parts[8];
                uint8_t cb;
                size_t n = s_good(msgs[c], parts, &cb);
                parts[field] = (lt_frame_part_t){zeros, sizes[s]};
                s_expect_reject(parts, n, LT_EINVAL, LT_FRAME_R_FIELD_SIZE);
            }
        }
    }
    for (size_t field = 3; field <= 4; field++) {
        lt_frame_part_t parts[8];
        uint8_t cb;
        size_t n = s_good(LT_FRAME_READY, parts, &cb);
        parts[field] = (lt_frame_part_t){zeros, 8};
        s_expect_reject(parts, n, LT_EINVAL, LT_FRAME_R_FIELD_SIZE);
    }
}

Test(frame, bad_addresses_are_refused)
{
    static char too_long[LT_ADDR_MAX + 1];
    memset(too_long, 'a', LT_ADDR_MAX);
    const char *bad[] = {"",
                         "Store",
                         "store@",
                         "store@abc",
                         ("store@" NODE_KEY "0"),
                         "store@0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
                         ("@" NODE_KEY),
                         "sto re",
                         "client:",
                         "client:0",
                         "client:0g",
                         "client:00AB",
                         "Client:00",
                         "abcdefghijklmnopqrstuvwxyz0123456",
                         too_long};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lt_frame_part_t parts[8];
        uint8_t c;
        size_t n = s_good(LT_FRAME_REQUEST, parts, &c);
        parts[2] = s_text(bad[i]);
        s_expect_reject(parts, n, LT_EINVAL, LT_FRAME_R_ADDRESS);
    }
    /* A NUL inside the address would make the routed address differ from
     * the received bytes. */
    lt_frame_part_t parts[8];
    uint8_t c;
    size_t n = s_good(LT_FRAME_EVENT, parts, &c);
    parts[2] = (lt_frame_part_t){s_b("store\0x"), 7};
    s_expect_reject(parts, n, LT_EINVAL, LT_FRAME_R_ADDRESS);
}

Test(frame, ready_names_must_be_plain_service_names)
{
    const char *bad[] = {"", ("store@" NODE_KEY), "client:00", "STORE",
                         "abcdefghijklmnopqrstuvwxyz012345"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lt_frame_part_t parts[8];
        uint8_t c;
        size_t n = s_good(LT_FRAME_READY, parts, &c);
        parts[2] = s_text(bad[i]);
        s_expect_reject(parts, n, LT_EINVAL, LT_FRAME_R_NAME);
    }
}

Test(frame, status_is_only_for_replies_and_bounded)
{
    const uint8_t one[4] = {1, 0, 0, 0};
    const uint8_t big[4] = {0, 0, 1, 0}; /* 0x10000 */
    const uint8_t max[4] = {0xff, 0xff, 0, 0};
    const lt_frame_cmd_t no_status[] = {LT_FRAME_REQUEST, LT_FRAME_EVENT};
    for (size_t i = 0; i < 2; i++) {
        lt_frame_part_t parts[8];
        uint8_t c;
        size_t n = s_good(no_status[i], parts, &c);
        parts[5] = (lt_frame_part_t){one, 4};
        s_expect_reject(parts, n, LT_EINVAL, LT_FRAME_R_STATUS);
    }
    lt_frame_part_t parts[8];
    uint8_t c;
    size_t n = s_good(LT_FRAME_REPLY, parts, &c);
    parts[5] = (lt_frame_part_t){big, 4};
    s_expect_reject(parts, n, LT_EINVAL, LT_FRAME_R_STATUS);
    parts[5] = (lt_frame_part_t){max, 4};
    lt_frame_t f;
    cr_expect_eq(lt_frame_decode(parts, n, &f, NULL, NULL), LT_OK,
                 "codes this build does not know pass through");
    cr_expect_eq(f.status, 0xffff);
}

Test(frame, an_oversized_body_is_refused)
{
    uint8_t *body = calloc(1, LT_FRAME_MAX_BODY + 1);
    cr_assert_not_null(body);
    lt_frame_part_t parts[8];
    uint8_t c;
    size_t n = s_good(LT_FRAME_REQUEST, parts, &c);
    parts[6] = (lt_frame_part_t){body, LT_FRAME_MAX_BODY + 1};
    s_expect_reject(parts, n, LT_EINVAL, LT_FRAME_R_BODY_SIZE);
    parts[6].len = LT_FRAME_MAX_BODY;
    lt_frame_t f;
    cr_expect_eq(lt_frame_decode(parts, n, &f, NULL, NULL), LT_OK);
    free(body);
}

Test(frame, rejections_without_out_parameters_still_return_the_code)
{
    lt_frame_part_t parts[8];
    uint8_t c;
    size_t n = s_good(LT_FRAME_READY, parts, &c);
    parts[0] = s_text("LTK9");
    lt_frame_t f;
    cr_expect_eq(lt_frame_decode(parts, n, &f, NULL, NULL), LT_EVERSION);
}

Test(frame, every_reason_has_a_name)
{
    for (int r = 0; r < LT_FRAME_R_COUNT; r++)
        cr_expect(strncmp(lt_frame_reject_name((lt_frame_reject_t)r), "LT_FRAME_", 9) == 0);
    cr_expect_str_eq(lt_frame_reject_name(LT_FRAME_R_COUNT), "LT_FRAME_R_?");
}

/* --- the encoder refuses what the decoder would ------------------------ */

Test(frame, encode_refuses_frames_that_would_not_decode)
{
    lt_frame_part_t parts[LT_FRAME_MAX_PARTS];
    size_t n = 0;
    lt_frame_scratch_t scratch;
    lt_errbuf_t eb = {{0}};

    lt_frame_t unknown = {.cmd = (lt_frame_cmd_t)9};
    cr_expect_eq(lt_frame_encode(&unknown, parts, &n, &scratch, &eb), LT_EINVAL);
    lt_frame_t bad_addr = {.cmd = LT_FRAME_REQUEST, .addr = "No"};
    cr_expect_eq(lt_frame_encode(&bad_addr, parts, &n, &scratch, &eb), LT_EINVAL);
    lt_frame_t event_status = {.cmd = LT_FRAME_EVENT, .addr = "store", .status = 1};
    cr_expect_eq(lt_frame_encode(&event_status, parts, &n, &scratch, &eb), LT_EINVAL);
    lt_frame_t big = {.cmd = LT_FRAME_REPLY, .addr = "store", .status = 0x10000};
    cr_expect_eq(lt_frame_encode(&big, parts, &n, &scratch, &eb), LT_EINVAL);
    lt_frame_t body = {.cmd = LT_FRAME_REPLY, .addr = "store", .len = 1};
    cr_expect_eq(lt_frame_encode(&body, parts, &n, &scratch, &eb), LT_EINVAL);
    lt_frame_t huge = {
        .cmd = LT_FRAME_REPLY, .addr = "store", .body = s_b("x"), .len = LT_FRAME_MAX_BODY + 1};
    cr_expect_eq(lt_frame_encode(&huge, parts, &n, &scratch, &eb), LT_EINVAL);
    lt_frame_t bad_name = {.cmd = LT_FRAME_READY, .name = "store@x"};
    cr_expect_eq(lt_frame_encode(&bad_name, parts, &n, &scratch, &eb), LT_EINVAL);
    lt_frame_t unterminated = {.cmd = LT_FRAME_READY};
    memset(unterminated.name, 'a', sizeof unterminated.name);
    cr_expect_eq(lt_frame_encode(&unterminated, parts, &n, &scratch, &eb), LT_EINVAL);
}

/* --- client addresses --------------------------------------------------- */

Test(frame, client_addresses_round_trip_routing_ids)
{
    const uint8_t id[] = {0x00, 0x80, 0x00, 0x41, 0xa7};
    char addr[LT_ADDR_MAX];
    cr_assert_eq(lt_frame_client_addr(id, sizeof id, addr), LT_OK);
    cr_expect_str_eq(addr, "client:00800041a7");
    cr_expect(lt_frame_client_addr_valid(addr));
    cr_expect(lt_frame_addr_valid(addr));
    cr_expect_not(lt_addr_valid(addr), "a client is not a service address");
    uint8_t back[LT_FRAME_CLIENT_ID_MAX];
    size_t len = 0;
    cr_assert_eq(lt_frame_client_id(addr, back, sizeof back, &len), LT_OK);
    cr_assert_eq(len, sizeof id);
    cr_expect_arr_eq(back, id, sizeof id);
    cr_expect_eq(lt_frame_client_id(addr, back, 4, &len), LT_EINVAL, "capacity too short");
    cr_expect_eq(lt_frame_client_id("store", back, sizeof back, &len), LT_EINVAL);
}

Test(frame, client_addresses_are_bounded)
{
    uint8_t id[LT_FRAME_CLIENT_ID_MAX + 1];
    memset(id, 0xab, sizeof id);
    char addr[LT_ADDR_MAX];
    cr_expect_eq(lt_frame_client_addr(id, 0, addr), LT_EINVAL);
    cr_expect_eq(lt_frame_client_addr(id, sizeof id, addr), LT_EINVAL);
    cr_assert_eq(lt_frame_client_addr(id, LT_FRAME_CLIENT_ID_MAX, addr), LT_OK);
    cr_expect_eq(strlen(addr), LT_ADDR_MAX - 1);
    lt_frame_t f = {.cmd = LT_FRAME_REPLY};
    strcpy(f.addr, addr);
    s_round_trip(&f);
}

/* --- lt_msg_t conversions ----------------------------------------------- */

Test(frame, messages_convert_to_frames_and_back)
{
    const lt_msg_kind_t kinds[] = {LT_MSG_REQUEST, LT_MSG_REPLY, LT_MSG_EVENT};
    const lt_frame_cmd_t cmds[] = {LT_FRAME_REQUEST, LT_FRAME_REPLY, LT_FRAME_EVENT};
    for (size_t i = 0; i < 3; i++) {
        lt_msg_t m = {.kind = kinds[i],
                      .from = "ignored",
                      .corr = 42,
                      .type = 9,
                      .status = kinds[i] == LT_MSG_REPLY ? LT_ENOTFOUND : LT_OK,
                      .body = s_b("abc"),
                      .len = 3};
        lt_frame_t f;
        cr_assert_eq(lt_frame_from_msg(&f, "store@" NODE_KEY, &m), LT_OK);
        cr_expect_eq(f.cmd, cmds[i]);
        cr_expect_str_eq(f.addr, "store@" NODE_KEY);
        cr_expect_eq(f.body, m.body);
        s_round_trip(&f);

        lt_msg_t back;
        cr_assert_eq(lt_frame_to_msg(&f, &back), LT_OK);
        cr_expect_eq(back.kind, m.kind);
        cr_expect_str_eq(back.from, "store@" NODE_KEY, "from is the frame's address");
        cr_expect_eq(back.corr, 42);
        cr_expect_eq(back.type, 9);
        cr_expect_eq(back.status, m.status);
        cr_expect_eq(back.body, m.body);
        cr_expect_eq(back.len, 3);
    }
}

Test(frame, conversions_refuse_what_cannot_travel)
{
    lt_frame_t f;
    lt_msg_t m = {.kind = LT_MSG_REQUEST};
    cr_expect_eq(lt_frame_from_msg(&f, "Bad", &m), LT_EINVAL);
    cr_expect_eq(lt_frame_from_msg(&f, "client:0", &m), LT_EINVAL);
    m.status = LT_ENOTFOUND;
    cr_expect_eq(lt_frame_from_msg(&f, "store", &m), LT_EINVAL, "a request has no status");
    m.status = LT_OK;
    m.kind = (lt_msg_kind_t)0;
    cr_expect_eq(lt_frame_from_msg(&f, "store", &m), LT_EINVAL);
    m.kind = LT_MSG_EVENT;
    m.len = LT_FRAME_MAX_BODY + 1;
    m.body = s_b("x");
    cr_expect_eq(lt_frame_from_msg(&f, "store", &m), LT_EINVAL);
    m.len = 1;
    m.body = NULL;
    cr_expect_eq(lt_frame_from_msg(&f, "store", &m), LT_EINVAL);

    lt_frame_t hb = {.cmd = LT_FRAME_HEARTBEAT};
    lt_msg_t out;
    cr_expect_eq(lt_frame_to_msg(&hb, &out), LT_EINVAL);
    lt_frame_t ready = {.cmd = LT_FRAME_READY, .name = "store"};
    cr_expect_eq(lt_frame_to_msg(&ready, &out), LT_EINVAL);
}

Test(frame, a_client_of_another_node_is_an_address)
{
    cr_assert(lt_frame_addr_valid("client:0080000001@" NODE_KEY));
    cr_assert(lt_frame_remote_client_addr_valid("client:0080000001@" NODE_KEY));
    cr_assert_not(lt_frame_remote_client_addr_valid("client:0080000001"));
    cr_assert_not(lt_frame_addr_valid("client:0080000001@" NODE_KEY "0"));
    cr_assert_not(lt_frame_addr_valid("client:008@" NODE_KEY));
    cr_assert_not(lt_frame_addr_valid("client:0080000001@@" NODE_KEY));
    cr_assert_not(lt_frame_addr_valid(
        "client:0080000001@0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"));
    lt_pubkey_t node;
    char local[LT_ADDR_MAX];
    cr_assert(lt_addr_remote("store@" NODE_KEY, &node, local, sizeof local));
    cr_assert_str_eq(local, "store");
    cr_assert_eq(node.b[0], 0x01);
    cr_assert_not(lt_addr_remote("store", &node, NULL, 0));
    cr_assert_not(lt_frame_client_addr_valid("client:0080000001@" NODE_KEY),
                  "a local client address never names a node");
}
