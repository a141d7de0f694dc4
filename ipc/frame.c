/* The kernel framing codec (ipc/frame.h, kernel/README.md). Portable: no
 * ZeroMQ or OS headers; the process runtime maps zmsg_t parts onto
 * lt_frame_part_t. */
#include "ipc/frame.h"

#include <string.h>

/* Parts per command, signature and command frame included. */
static size_t s_nparts(lt_frame_cmd_t cmd)
{
    switch (cmd) {
    case LT_FRAME_READY:
        return 5;
    case LT_FRAME_REQUEST:
    case LT_FRAME_REPLY:
    case LT_FRAME_EVENT:
        return 7;
    case LT_FRAME_HEARTBEAT:
    case LT_FRAME_DISCONNECT:
        return 2;
    }
    return 0;
}

static const char *s_cmd_name(lt_frame_cmd_t cmd)
{
    switch (cmd) {
    case LT_FRAME_READY:
        return "READY";
    case LT_FRAME_REQUEST:
        return "REQUEST";
    case LT_FRAME_REPLY:
        return "REPLY";
    case LT_FRAME_HEARTBEAT:
        return "HEARTBEAT";
    case LT_FRAME_DISCONNECT:
        return "DISCONNECT";
    case LT_FRAME_EVENT:
        return "EVENT";
    }
    return "?";
}

static const char *const s_reject_names[LT_FRAME_R_COUNT] = {
    [LT_FRAME_ACCEPTED] = "LT_FRAME_ACCEPTED",
    [LT_FRAME_R_NOPARTS] = "LT_FRAME_R_NOPARTS",
    [LT_FRAME_R_SIGNATURE] = "LT_FRAME_R_SIGNATURE",
    [LT_FRAME_R_VERSION] = "LT_FRAME_R_VERSION",
    [LT_FRAME_R_COMMAND] = "LT_FRAME_R_COMMAND",
    [LT_FRAME_R_MISSING] = "LT_FRAME_R_MISSING",
    [LT_FRAME_R_EXTRA] = "LT_FRAME_R_EXTRA",
    [LT_FRAME_R_FIELD_SIZE] = "LT_FRAME_R_FIELD_SIZE",
    [LT_FRAME_R_ADDRESS] = "LT_FRAME_R_ADDRESS",
    [LT_FRAME_R_NAME] = "LT_FRAME_R_NAME",
    [LT_FRAME_R_STATUS] = "LT_FRAME_R_STATUS",
    [LT_FRAME_R_BODY_SIZE] = "LT_FRAME_R_BODY_SIZE",
};

static const lt_err_t s_reject_codes[LT_FRAME_R_COUNT] = {
    [LT_FRAME_ACCEPTED] = LT_OK,        [LT_FRAME_R_NOPARTS] = LT_ETRUNCATED,
    [LT_FRAME_R_SIGNATURE] = LT_EINVAL, [LT_FRAME_R_VERSION] = LT_EVERSION,
    [LT_FRAME_R_COMMAND] = LT_EINVAL,   [LT_FRAME_R_MISSING] = LT_ETRUNCATED,
    [LT_FRAME_R_EXTRA] = LT_ETRAILING,  [LT_FRAME_R_FIELD_SIZE] = LT_EINVAL,
    [LT_FRAME_R_ADDRESS] = LT_EINVAL,   [LT_FRAME_R_NAME] = LT_EINVAL,
    [LT_FRAME_R_STATUS] = LT_EINVAL,    [LT_FRAME_R_BODY_SIZE] = LT_EINVAL,
};

const char *lt_frame_reject_name(lt_frame_reject_t why)
{
    if ((unsigned)why >= LT_FRAME_R_COUNT)
        return "LT_FRAME_R_?";
    return s_reject_names[why];
}

/* Sets *why and returns its code, so that a rejection is one statement (the
 * message goes to eb through lt_fail). */
static lt_err_t s_reject(lt_frame_reject_t *why, lt_frame_reject_t reason)
{
    if (why)
        *why = reason;
    return s_reject_codes[reason];
}

static void s_put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void s_put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t s_get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t s_get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static bool s_hex_digit(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static int s_hex_value(char c)
{
    return c <= '9' ? c - '0' : c - 'a' + 10;
}

bool lt_frame_client_addr_valid(const char *addr)
{
    if (strncmp(addr, LT_FRAME_CLIENT_PREFIX, LT_FRAME_CLIENT_PREFIX_LEN) != 0)
        return false;
    const char *hex = addr + LT_FRAME_CLIENT_PREFIX_LEN;
    size_t n = 0;
    for (; hex[n]; n++)
        if (!s_hex_digit(hex[n]))
            return false;
    return n >= 2 && n % 2 == 0 && n <= 2 * LT_FRAME_CLIENT_ID_MAX;
}

bool lt_frame_remote_client_addr_valid(const char *addr)
{
    char local[LT_ADDR_MAX];
    lt_pubkey_t node;
    return lt_addr_remote(addr, &node, local, sizeof local) && lt_frame_client_addr_valid(local);
}

bool lt_frame_addr_valid(const char *addr)
{
    return lt_addr_valid(addr) || lt_frame_client_addr_valid(addr) ||
           lt_frame_remote_client_addr_valid(addr);
}

lt_err_t lt_frame_client_addr(const uint8_t *id, size_t len, char out[LT_ADDR_MAX])
{
    static const char digits[] = "0123456789abcdef";
    if (len == 0 || len > LT_FRAME_CLIENT_ID_MAX)
        return LT_EINVAL;
    memcpy(out, LT_FRAME_CLIENT_PREFIX, LT_FRAME_CLIENT_PREFIX_LEN);
    char *hex = out + LT_FRAME_CLIENT_PREFIX_LEN;
    for (size_t i = 0; i < len; i++) {
        hex[2 * i] = digits[id[i] >> 4];
        hex[2 * i + 1] = digits[id[i] & 0xf];
    }
    hex[2 * len] = '\0';
    return LT_OK;
}

lt_err_t lt_frame_client_id(const char *addr, uint8_t *id, size_t cap, size_t *len)
{
    if (!lt_frame_client_addr_valid(addr))
        return LT_EINVAL;
    const char *hex = addr + LT_FRAME_CLIENT_PREFIX_LEN;
    size_t n = strlen(hex) / 2;
    if (n > cap)
        return LT_EINVAL;
    for (size_t i = 0; i < n; i++)
        id[i] = (uint8_t)(s_hex_value(hex[2 * i]) << 4 | s_hex_value(hex[2 * i + 1]));
    *len = n;
    return LT_OK;
}

/* Copies a text part into dst (capacity cap) as a C string. Refuses parts
 * that are empty, do not fit, or hold a NUL (which would make the address
 * the kernel routes differ from the bytes it received). */
static bool s_copy_text(const lt_frame_part_t *part, char *dst, size_t cap)
{
    if (part->len == 0 || part->len >= cap || memchr(part->p, '\0', part->len))
        return false;
    memcpy(dst, part->p, part->len);
    dst[part->len] = '\0';
    return true;
}

static bool s_name_valid(const char *name)
{
    return lt_addr_valid(name) && !strchr(name, '@');
}

/* A fixed-width field: the exact size or a rejection naming the field. */
static lt_err_t s_field(const lt_frame_part_t *part, size_t want, const char *field,
                        lt_frame_cmd_t cmd, lt_frame_reject_t *why, lt_errbuf_t *eb)
{
    if (part->len == want)
        return LT_OK;
    return lt_fail(eb, s_reject(why, LT_FRAME_R_FIELD_SIZE),
                   "frame: %s %s field is %zu bytes, expected %zu", s_cmd_name(cmd), field,
                   part->len, want);
}

static lt_err_t s_decode_ready(const lt_frame_part_t *parts, lt_frame_t *out,
                               lt_frame_reject_t *why, lt_errbuf_t *eb)
{
    if (!s_copy_text(&parts[2], out->name, sizeof out->name) || !s_name_valid(out->name))
        return lt_fail(eb, s_reject(why, LT_FRAME_R_NAME),
                       "frame: READY name (%zu bytes) is not a service name of [a-z0-9_-], "
                       "1 to %d characters",
                       parts[2].len, LT_NAME_MAX - 1);
    lt_err_t rc = s_field(&parts[3], 4, "proto", out->cmd, why, eb);
    if (rc == LT_OK)
        rc = s_field(&parts[4], 4, "pid", out->cmd, why, eb);
    if (rc != LT_OK)
        return rc;
    out->proto = s_get_u32(parts[3].p);
    out->pid = s_get_u32(parts[4].p);
    return LT_OK;
}

static lt_err_t s_decode_message(const lt_frame_part_t *parts, lt_frame_t *out,
                                 lt_frame_reject_t *why, lt_errbuf_t *eb)
{
    if (!s_copy_text(&parts[2], out->addr, sizeof out->addr) || !lt_frame_addr_valid(out->addr))
        return lt_fail(eb, s_reject(why, LT_FRAME_R_ADDRESS),
                       "frame: %s address (%zu bytes) is neither a service address nor a "
                       "client address",
                       s_cmd_name(out->cmd), parts[2].len);
    lt_err_t rc = s_field(&parts[3], 8, "corr", out->cmd, why, eb);
    if (rc == LT_OK)
        rc = s_field(&parts[4], 4, "type", out->cmd, why, eb);
    if (rc == LT_OK)
        rc = s_field(&parts[5], 4, "status", out->cmd, why, eb);
    if (rc != LT_OK)
        return rc;
    out->corr = s_get_u64(parts[3].p);
    out->type = s_get_u32(parts[4].p);
    out->status = s_get_u32(parts[5].p);
    if (out->cmd != LT_FRAME_REPLY && out->status != 0)
        return lt_fail(eb, s_reject(why, LT_FRAME_R_STATUS),
                       "frame: %s carries status %u; only a REPLY has one", s_cmd_name(out->cmd),
                       (unsigned)out->status);
    if (out->status > LT_FRAME_STATUS_MAX)
        return lt_fail(eb, s_reject(why, LT_FRAME_R_STATUS), "frame: REPLY status %u is beyond %u",
                       (unsigned)out->status, LT_FRAME_STATUS_MAX);
    if (parts[6].len > LT_FRAME_MAX_BODY)
        return lt_fail(eb, s_reject(why, LT_FRAME_R_BODY_SIZE),
                       "frame: %s body is %zu bytes, the limit is %d", s_cmd_name(out->cmd),
                       parts[6].len, LT_FRAME_MAX_BODY);
    out->body = parts[6].p;
    out->len = parts[6].len;
    return LT_OK;
}

lt_err_t lt_frame_decode(const lt_frame_part_t *parts, size_t nparts, lt_frame_t *out,
                         lt_frame_reject_t *why, lt_errbuf_t *eb)
{
    memset(out, 0, sizeof *out);
    if (why)
        *why = LT_FRAME_ACCEPTED;
    if (nparts < 2)
        return lt_fail(eb, s_reject(why, LT_FRAME_R_NOPARTS),
                       "frame: %zu parts, a message has at least a signature and a command",
                       nparts);
    const lt_frame_part_t *sig = &parts[0];
    if (sig->len != LT_FRAME_SIGNATURE_LEN || memcmp(sig->p, LT_FRAME_SIGNATURE, 3) != 0)
        return lt_fail(eb, s_reject(why, LT_FRAME_R_SIGNATURE),
                       "frame: the first part (%zu bytes) is not the \"LTK\" signature", sig->len);
    if (sig->p[3] != LT_FRAME_VERSION)
        return lt_fail(eb, s_reject(why, LT_FRAME_R_VERSION),
                       "frame: protocol version 0x%02x, this build speaks \"%s\"", sig->p[3],
                       LT_FRAME_SIGNATURE);
    if (parts[1].len != 1 || s_nparts((lt_frame_cmd_t)parts[1].p[0]) == 0)
        return lt_fail(eb, s_reject(why, LT_FRAME_R_COMMAND),
                       "frame: command part is %zu bytes (0x%02x), expected one of 1..6",
                       parts[1].len, parts[1].len ? parts[1].p[0] : 0);
    out->cmd = (lt_frame_cmd_t)parts[1].p[0];
    size_t want = s_nparts(out->cmd);
    if (nparts < want)
        return lt_fail(eb, s_reject(why, LT_FRAME_R_MISSING),
                       "frame: %s has %zu parts, expected %zu", s_cmd_name(out->cmd), nparts, want);
    if (nparts > want)
        return lt_fail(eb, s_reject(why, LT_FRAME_R_EXTRA), "frame: %s has %zu parts, expected %zu",
                       s_cmd_name(out->cmd), nparts, want);
    switch (out->cmd) {
    case LT_FRAME_READY:
        return s_decode_ready(parts, out, why, eb);
    case LT_FRAME_REQUEST:
    case LT_FRAME_REPLY:
    case LT_FRAME_EVENT:
        return s_decode_message(parts, out, why, eb);
    case LT_FRAME_HEARTBEAT:
    case LT_FRAME_DISCONNECT:
        break;
    }
    return LT_OK;
}

/* The checks of the decoder, on a frame about to be sent. */
static lt_err_t s_check(const lt_frame_t *f, lt_errbuf_t *eb)
{
    if (s_nparts(f->cmd) == 0)
        return lt_fail(eb, LT_EINVAL, "frame: unknown command %d", (int)f->cmd);
    if (f->cmd == LT_FRAME_READY) {
        if (!memchr(f->name, '\0', sizeof f->name) || !s_name_valid(f->name))
            return lt_fail(eb, LT_EINVAL, "frame: READY name is not a service name");
        return LT_OK;
    }
    if (s_nparts(f->cmd) == 2)
        return LT_OK;
    if (!memchr(f->addr, '\0', sizeof f->addr) || !lt_frame_addr_valid(f->addr))
        return lt_fail(eb, LT_EINVAL, "frame: %s address is not valid", s_cmd_name(f->cmd));
    if (f->cmd != LT_FRAME_REPLY && f->status != 0)
        return lt_fail(eb, LT_EINVAL, "frame: %s carries a status", s_cmd_name(f->cmd));
    if (f->status > LT_FRAME_STATUS_MAX)
        return lt_fail(eb, LT_EINVAL, "frame: status %u is beyond %u", (unsigned)f->status,
                       LT_FRAME_STATUS_MAX);
    if (f->len > LT_FRAME_MAX_BODY)
        return lt_fail(eb, LT_EINVAL, "frame: body is %zu bytes, the limit is %d", f->len,
                       LT_FRAME_MAX_BODY);
    if (f->len > 0 && !f->body)
        return lt_fail(eb, LT_EINVAL, "frame: body of %zu bytes has no data", f->len);
    return LT_OK;
}

lt_err_t lt_frame_encode(const lt_frame_t *f, lt_frame_part_t parts[LT_FRAME_MAX_PARTS],
                         size_t *nparts, lt_frame_scratch_t *scratch, lt_errbuf_t *eb)
{
    lt_err_t rc = s_check(f, eb);
    if (rc != LT_OK)
        return rc;
    static const uint8_t empty[1];
    scratch->cmd[0] = (uint8_t)f->cmd;
    parts[0] = (lt_frame_part_t){(const uint8_t *)LT_FRAME_SIGNATURE, LT_FRAME_SIGNATURE_LEN};
    parts[1] = (lt_frame_part_t){scratch->cmd, 1};
    *nparts = s_nparts(f->cmd);
    switch (f->cmd) {
    case LT_FRAME_READY:
        s_put_u32(scratch->proto, f->proto);
        s_put_u32(scratch->pid, f->pid);
        parts[2] = (lt_frame_part_t){(const uint8_t *)f->name, strlen(f->name)};
        parts[3] = (lt_frame_part_t){scratch->proto, 4};
        parts[4] = (lt_frame_part_t){scratch->pid, 4};
        break;
    case LT_FRAME_REQUEST:
    case LT_FRAME_REPLY:
    case LT_FRAME_EVENT:
        s_put_u64(scratch->corr, f->corr);
        s_put_u32(scratch->type, f->type);
        s_put_u32(scratch->status, f->status);
        parts[2] = (lt_frame_part_t){(const uint8_t *)f->addr, strlen(f->addr)};
        parts[3] = (lt_frame_part_t){scratch->corr, 8};
        parts[4] = (lt_frame_part_t){scratch->type, 4};
        parts[5] = (lt_frame_part_t){scratch->status, 4};
        /* An empty body still gets a non-NULL pointer: callers may hand it
         * to APIs that refuse NULL. */
        parts[6] = (lt_frame_part_t){f->len ? f->body : empty, f->len};
        break;
    case LT_FRAME_HEARTBEAT:
    case LT_FRAME_DISCONNECT:
        break;
    }
    return LT_OK;
}

lt_err_t lt_frame_from_msg(lt_frame_t *out, const char *addr, const lt_msg_t *msg)
{
    memset(out, 0, sizeof *out);
    switch (msg->kind) {
    case LT_MSG_REQUEST:
        out->cmd = LT_FRAME_REQUEST;
        break;
    case LT_MSG_REPLY:
        out->cmd = LT_FRAME_REPLY;
        break;
    case LT_MSG_EVENT:
        out->cmd = LT_FRAME_EVENT;
        break;
    default:
        return LT_EINVAL;
    }
    size_t n = strlen(addr);
    if (n >= sizeof out->addr || !lt_frame_addr_valid(addr))
        return LT_EINVAL;
    memcpy(out->addr, addr, n + 1);
    if ((unsigned)msg->status > LT_FRAME_STATUS_MAX)
        return LT_EINVAL;
    if (msg->kind != LT_MSG_REPLY && msg->status != LT_OK)
        return LT_EINVAL;
    if (msg->len > LT_FRAME_MAX_BODY || (msg->len > 0 && !msg->body))
        return LT_EINVAL;
    out->corr = msg->corr;
    out->type = msg->type;
    out->status = (uint32_t)msg->status;
    out->body = msg->body;
    out->len = msg->len;
    return LT_OK;
}

lt_err_t lt_frame_to_msg(const lt_frame_t *f, lt_msg_t *out)
{
    memset(out, 0, sizeof *out);
    switch (f->cmd) {
    case LT_FRAME_REQUEST:
        out->kind = LT_MSG_REQUEST;
        break;
    case LT_FRAME_REPLY:
        out->kind = LT_MSG_REPLY;
        break;
    case LT_FRAME_EVENT:
        out->kind = LT_MSG_EVENT;
        break;
    default:
        return LT_EINVAL;
    }
    const char *end = memchr(f->addr, '\0', sizeof f->addr);
    if (!end || f->status > LT_FRAME_STATUS_MAX)
        return LT_EINVAL;
    memcpy(out->from, f->addr, (size_t)(end - f->addr) + 1);
    out->corr = f->corr;
    out->type = f->type;
    out->status = (lt_err_t)f->status;
    out->body = f->body;
    out->len = f->len;
    return LT_OK;
}
