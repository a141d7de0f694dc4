/* nanopb glue. Byte fields are callbacks: on decode the callback records a
 * view of the field inside the input buffer and skips it, so nothing is copied
 * and no field has a size limit beyond the payload's own (LT_MAX_OPS). This
 * relies on pb_istream_from_buffer keeping its read position in `state`, as
 * nanopb documents for memory streams. */
#include "store/ops_codec.h"

#include <pb_decode.h>
#include <pb_encode.h>

/* The bounds of the payload being decoded. nanopb calls a field callback with
 * a stream over the input when the field is length-delimited, but when a field
 * arrives with a varint or fixed-width wire type it copies the value to its own
 * stack and hands over a stream over that copy. A view of the copy would dangle
 * once the callback returns, so the callbacks accept only streams that read
 * from the input: a bytes or message field sent any other way is malformed. */
typedef struct {
    uintptr_t lo, hi;
} s_input_t;

static s_input_t s_input(const uint8_t *buf, size_t len)
{
    s_input_t in = {(uintptr_t)buf, (uintptr_t)buf + len};
    return in;
}

static bool s_reads_input(const pb_istream_t *stream, const s_input_t *in)
{
    uintptr_t p = (uintptr_t)stream->state;
    return p >= in->lo && p <= in->hi && stream->bytes_left <= in->hi - p;
}

typedef struct {
    lt_view_t *view;
    const s_input_t *in;
} s_view_arg_t;

static bool s_view_cb(pb_istream_t *stream, const pb_field_t *field, void **arg)
{
    (void)field;
    const s_view_arg_t *a = *arg;
    if (!s_reads_input(stream, a->in))
        return false;
    a->view->p = stream->state;
    a->view->len = stream->bytes_left;
    return pb_read(stream, NULL, stream->bytes_left);
}

static bool s_write_bytes_cb(pb_ostream_t *stream, const pb_field_t *field, void *const *arg)
{
    const lt_view_t *v = *arg;
    if (!v || !v->p || v->len == 0)
        return true; /* proto3: empty bytes are not written */
    return pb_encode_tag_for_field(stream, field) && pb_encode_string(stream, v->p, v->len);
}

/* Encodes msg into out, sizing first so the output is written once. */
static lt_err_t s_encode(const pb_msgdesc_t *fields, const void *msg, lt_buf_t *out)
{
    size_t size;
    if (!pb_get_encoded_size(&size, fields, msg))
        return LT_EINVAL;
    if (size == 0)
        return LT_OK; /* all defaults: nothing to write (and out->data may be NULL) */
    lt_err_t rc = lt_buf_reserve(out, size);
    if (rc)
        return rc;
    pb_ostream_t os = pb_ostream_from_buffer(out->data + out->len, size);
    if (!pb_encode(&os, fields, msg))
        return LT_EINVAL;
    out->len += os.bytes_written;
    return LT_OK;
}

lt_err_t lt_pb_encode_static(const pb_msgdesc_t *fields, const void *msg, lt_buf_t *out)
{
    return s_encode(fields, msg, out);
}

lt_err_t lt_pb_decode_static(const pb_msgdesc_t *fields, void *msg, const uint8_t *buf, size_t len)
{
    pb_istream_t is = pb_istream_from_buffer(buf, len);
    return pb_decode(&is, fields, msg) ? LT_OK : LT_EPAYLOAD;
}

lt_err_t lt_uop_decode(const uint8_t *buf, size_t len, lt_uop_t *out)
{
    lattice_UniversalOp msg = lattice_UniversalOp_init_zero;
    out->app.p = NULL;
    out->app.len = 0;
    s_input_t in = s_input(buf, len);
    s_view_arg_t app = {&out->app, &in};
    msg.app.funcs.decode = s_view_cb;
    msg.app.arg = &app;
    pb_istream_t is = pb_istream_from_buffer(buf, len);
    if (!pb_decode(&is, lattice_UniversalOp_fields, &msg))
        return LT_EPAYLOAD;
    /* Exactly one of the two; the app callback ran iff the field was present
     * (even empty). */
    bool has_app = out->app.p != NULL;
    if (msg.has_system == has_app)
        return LT_EPAYLOAD;
    out->is_system = msg.has_system;
    out->system = msg.system;
    return LT_OK;
}

/* The app field is written even when empty: its presence is what tells an
 * app op from a system op. */
static bool s_write_present_cb(pb_ostream_t *stream, const pb_field_t *field, void *const *arg)
{
    const lt_view_t *v = *arg;
    return pb_encode_tag_for_field(stream, field) && pb_encode_string(stream, v->p, v->len);
}

lt_err_t lt_uop_encode_app(const uint8_t *app, size_t len, lt_buf_t *out)
{
    lattice_UniversalOp msg = lattice_UniversalOp_init_zero;
    lt_view_t v = {app ? app : (const uint8_t *)"", len};
    msg.app.funcs.encode = s_write_present_cb;
    msg.app.arg = &v;
    return s_encode(lattice_UniversalOp_fields, &msg, out);
}

lt_err_t lt_uop_encode_system(const lattice_SystemOp *op, lt_buf_t *out)
{
    lattice_UniversalOp msg = lattice_UniversalOp_init_zero;
    msg.has_system = true;
    msg.system = *op;
    return s_encode(lattice_UniversalOp_fields, &msg, out);
}

typedef struct {
    lt_kv_entry_fn fn;
    void *ctx;
    lt_err_t rc;
    s_input_t in;
} s_kvdec_t;

static bool s_entry_cb(pb_istream_t *stream, const pb_field_t *field, void **arg)
{
    (void)field;
    s_kvdec_t *d = *arg;
    if (!s_reads_input(stream, &d->in)) {
        d->rc = LT_EPAYLOAD;
        return false;
    }
    lattice_KvEntry msg = lattice_KvEntry_init_zero;
    lt_kv_entry_t e = {{NULL, 0}, {NULL, 0}, false};
    s_view_arg_t key = {&e.key, &d->in}, value = {&e.value, &d->in};
    msg.key.funcs.decode = s_view_cb;
    msg.key.arg = &key;
    msg.value.funcs.decode = s_view_cb;
    msg.value.arg = &value;
    if (!pb_decode(stream, lattice_KvEntry_fields, &msg)) {
        d->rc = LT_EPAYLOAD;
        return false;
    }
    e.del = msg.delete;
    if (e.key.len == 0 || (e.del && e.value.len)) {
        d->rc = LT_EPAYLOAD;
        return false;
    }
    if (!e.value.p)
        e.value.p = (const uint8_t *)"";
    d->rc = d->fn(d->ctx, &e);
    return d->rc == LT_OK;
}

lt_err_t lt_kvop_decode(const uint8_t *buf, size_t len, lt_kv_entry_fn fn, void *ctx)
{
    s_kvdec_t d = {fn, ctx, LT_OK, s_input(buf, len)};
    lattice_KvOp msg = lattice_KvOp_init_zero;
    msg.entries.funcs.decode = s_entry_cb;
    msg.entries.arg = &d;
    pb_istream_t is = pb_istream_from_buffer(buf, len);
    if (!pb_decode(&is, lattice_KvOp_fields, &msg))
        return d.rc ? d.rc : LT_EPAYLOAD;
    return d.rc;
}

typedef struct {
    const lt_kv_entry_t *entries;
    size_t n;
} s_kvenc_t;

static bool s_entries_enc_cb(pb_ostream_t *stream, const pb_field_t *field, void *const *arg)
{
    const s_kvenc_t *k = *arg;
    for (size_t i = 0; i < k->n; i++) {
        lattice_KvEntry msg = lattice_KvEntry_init_zero;
        msg.key.funcs.encode = s_write_bytes_cb;
        msg.key.arg = (void *)&k->entries[i].key;
        msg.value.funcs.encode = s_write_bytes_cb;
        msg.value.arg = (void *)&k->entries[i].value;
        msg.delete = k->entries[i].del;
        if (!pb_encode_tag_for_field(stream, field) ||
            !pb_encode_submessage(stream, lattice_KvEntry_fields, &msg))
            return false;
    }
    return true;
}

lt_err_t lt_kvop_encode(const lt_kv_entry_t *entries, size_t n, lt_buf_t *out)
{
    for (size_t i = 0; i < n; i++)
        if (entries[i].key.len == 0 || (entries[i].del && entries[i].value.len))
            return LT_EINVAL;
    s_kvenc_t k = {entries, n};
    lattice_KvOp msg = lattice_KvOp_init_zero;
    msg.entries.funcs.encode = s_entries_enc_cb;
    msg.entries.arg = &k;
    return s_encode(lattice_KvOp_fields, &msg, out);
}

lt_err_t lt_logentry_decode(const uint8_t *buf, size_t len, lt_view_t *text)
{
    lattice_LogEntry msg = lattice_LogEntry_init_zero;
    text->p = (const uint8_t *)"";
    text->len = 0;
    s_input_t in = s_input(buf, len);
    s_view_arg_t arg = {text, &in};
    msg.text.funcs.decode = s_view_cb;
    msg.text.arg = &arg;
    pb_istream_t is = pb_istream_from_buffer(buf, len);
    return pb_decode(&is, lattice_LogEntry_fields, &msg) ? LT_OK : LT_EPAYLOAD;
}

lt_err_t lt_logentry_encode(const uint8_t *text, size_t len, lt_buf_t *out)
{
    lattice_LogEntry msg = lattice_LogEntry_init_zero;
    lt_view_t v = {text, len};
    msg.text.funcs.encode = s_write_bytes_cb;
    msg.text.arg = &v;
    return s_encode(lattice_LogEntry_fields, &msg, out);
}
