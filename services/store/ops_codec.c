/* nanopb glue. Byte fields are callbacks: on decode the callback records a
 * view of the field inside the input buffer and skips it, so nothing is copied
 * and no field has a size limit beyond the payload's own (LT_MAX_OPS). This
 * relies on pb_istream_from_buffer keeping its read position in `state`, as
 * nanopb documents for memory streams. */
#include "store/ops_codec.h"

#include <pb_decode.h>
#include <pb_encode.h>

#include <stdlib.h>

lt_pb_input_t lt_pb_input(const uint8_t *buf, size_t len)
{
    lt_pb_input_t in = {(uintptr_t)buf, (uintptr_t)buf + len};
    return in;
}

/* Whether the stream reads from the input itself (see the header). */
bool lt_pb_reads_input(const pb_istream_t *stream, const lt_pb_input_t *in)
{
    uintptr_t p = (uintptr_t)stream->state;
    return in && p >= in->lo && p <= in->hi && stream->bytes_left <= in->hi - p;
}

static bool s_view_cb(pb_istream_t *stream, const pb_field_t *field, void **arg)
{
    (void)field;
    const lt_pb_view_arg_t *a = *arg;
    if (!lt_pb_reads_input(stream, a->in))
        return false;
    a->view->p = stream->state;
    a->view->len = stream->bytes_left;
    return pb_read(stream, NULL, stream->bytes_left);
}

void lt_pb_bind_view(pb_callback_t *cb, lt_pb_view_arg_t *arg)
{
    cb->funcs.decode = s_view_cb;
    cb->arg = arg;
}

static bool s_views_cb(pb_istream_t *stream, const pb_field_t *field, void **arg)
{
    (void)field;
    lt_pb_views_t *vs = *arg;
    if (!lt_pb_reads_input(stream, vs->in))
        return false;
    if (vs->n == vs->cap) {
        size_t cap = vs->cap ? vs->cap * 2 : 16;
        lt_view_t *v = realloc(vs->v, cap * sizeof *v);
        if (!v)
            return false;
        vs->v = v;
        vs->cap = cap;
    }
    vs->v[vs->n].p = stream->state;
    vs->v[vs->n].len = stream->bytes_left;
    vs->n++;
    return pb_read(stream, NULL, stream->bytes_left);
}

void lt_pb_bind_views(pb_callback_t *cb, lt_pb_views_t *views)
{
    cb->funcs.decode = s_views_cb;
    cb->arg = views;
}

void lt_pb_views_free(lt_pb_views_t *views)
{
    free(views->v);
    views->v = NULL;
    views->n = views->cap = 0;
}

static bool s_write_cb(pb_ostream_t *stream, const pb_field_t *field, void *const *arg)
{
    const lt_view_t *v = *arg;
    if (!v || !v->p || v->len == 0)
        return true;
    return pb_encode_tag_for_field(stream, field) && pb_encode_string(stream, v->p, v->len);
}

void lt_pb_bind_write(pb_callback_t *cb, const lt_view_t *v)
{
    cb->funcs.encode = s_write_cb;
    cb->arg = (void *)v;
}

/* Appends a varint (protobuf base-128). */
static lt_err_t s_put_varint(lt_buf_t *out, uint64_t v)
{
    uint8_t b[10];
    size_t n = 0;
    do {
        b[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            b[n] |= 0x80;
        n++;
    } while (v);
    return lt_buf_append(out, b, n);
}

lt_err_t lt_pb_append_bytes(lt_buf_t *out, uint32_t field, const uint8_t *p, size_t len)
{
    lt_err_t rc = s_put_varint(out, ((uint64_t)field << 3) | PB_WT_STRING);
    if (rc == LT_OK)
        rc = s_put_varint(out, len);
    if (rc == LT_OK)
        rc = lt_buf_append(out, p, len);
    return rc;
}

lt_err_t lt_pb_append_field(lt_buf_t *out, uint32_t field, const pb_msgdesc_t *fields,
                            const void *msg)
{
    size_t size;
    if (!pb_get_encoded_size(&size, fields, msg))
        return LT_EINVAL;
    lt_err_t rc = s_put_varint(out, ((uint64_t)field << 3) | PB_WT_STRING);
    if (rc == LT_OK)
        rc = s_put_varint(out, size);
    if (rc == LT_OK && size)
        rc = lt_buf_reserve(out, size);
    if (rc || size == 0)
        return rc;
    pb_ostream_t os = pb_ostream_from_buffer(out->data + out->len, size);
    if (!pb_encode(&os, fields, msg) || os.bytes_written != size)
        return LT_EINVAL;
    out->len += size;
    return LT_OK;
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
    lt_pb_input_t in = lt_pb_input(buf, len);
    lt_pb_view_arg_t app = {&out->app, &in};
    lt_pb_bind_view(&msg.app, &app);
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
    lt_pb_input_t in;
} s_kvdec_t;

static bool s_entry_cb(pb_istream_t *stream, const pb_field_t *field, void **arg)
{
    (void)field;
    s_kvdec_t *d = *arg;
    if (!lt_pb_reads_input(stream, &d->in)) {
        d->rc = LT_EPAYLOAD;
        return false;
    }
    lattice_KvEntry msg = lattice_KvEntry_init_zero;
    lt_kv_entry_t e = {{NULL, 0}, {NULL, 0}, false};
    lt_pb_view_arg_t key = {&e.key, &d->in}, value = {&e.value, &d->in};
    lt_pb_bind_view(&msg.key, &key);
    lt_pb_bind_view(&msg.value, &value);
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
    s_kvdec_t d = {fn, ctx, LT_OK, lt_pb_input(buf, len)};
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
        lt_pb_bind_write(&msg.key, &k->entries[i].key);
        lt_pb_bind_write(&msg.value, &k->entries[i].value);
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
    lt_pb_input_t in = lt_pb_input(buf, len);
    lt_pb_view_arg_t arg = {text, &in};
    lt_pb_bind_view(&msg.text, &arg);
    pb_istream_t is = pb_istream_from_buffer(buf, len);
    return pb_decode(&is, lattice_LogEntry_fields, &msg) ? LT_OK : LT_EPAYLOAD;
}

lt_err_t lt_logentry_encode(const uint8_t *text, size_t len, lt_buf_t *out)
{
    lattice_LogEntry msg = lattice_LogEntry_init_zero;
    lt_view_t v = {text, len};
    lt_pb_bind_write(&msg.text, &v);
    return s_encode(lattice_LogEntry_fields, &msg, out);
}
