/* Encoding and decoding of intention payloads (schemas/ops.proto) with
 * nanopb. Decoders are strict and bounds-checked: any malformed payload is
 * LT_EPAYLOAD, never a crash. Byte fields come back as zero-copy views into
 * the input, valid as long as the input is. */
#ifndef LT_OPS_CODEC_H
#define LT_OPS_CODEC_H

#include "weaver/buf.h"
#include "weaver/errors.h"

#include "ops.pb.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const uint8_t *p;
    size_t len;
} lt_view_t;

/* ---- nanopb helpers (every protocol of the project uses them) ----
 *
 * Large byte fields are callbacks. On decode a callback records a zero-copy
 * view of the field inside the input and checks that the view lies in that
 * input: nanopb copies fields that arrive with a varint or fixed wire type to
 * its own stack, and a view of that copy would dangle, so such a field is
 * malformed. */

/* The bytes a decode reads from: views must lie inside. */
typedef struct {
    uintptr_t lo, hi;
} lt_pb_input_t;

lt_pb_input_t lt_pb_input(const uint8_t *buf, size_t len);
/* Whether a callback's stream reads the input itself (not a copy). */
bool lt_pb_reads_input(const pb_istream_t *stream, const lt_pb_input_t *in);

/* Binds a bytes/string callback field for decoding into a view. `v` and `in`
 * must outlive the pb_decode call. A present field sets v->p (non-NULL even
 * when empty). */
typedef struct {
    lt_view_t *view;
    const lt_pb_input_t *in;
} lt_pb_view_arg_t;
void lt_pb_bind_view(pb_callback_t *cb, lt_pb_view_arg_t *arg);

/* Binds a repeated callback field for decoding: collects a view of each
 * element (a submessage's bytes, or a bytes value), in order. Free with
 * lt_pb_views_free. */
typedef struct {
    lt_view_t *v;
    size_t n, cap;
    const lt_pb_input_t *in;
} lt_pb_views_t;
void lt_pb_bind_views(pb_callback_t *cb, lt_pb_views_t *views);
void lt_pb_views_free(lt_pb_views_t *views);

/* Binds a bytes callback field for encoding from a view (not written when
 * empty, as proto3 does). */
void lt_pb_bind_write(pb_callback_t *cb, const lt_view_t *v);

/* Appends `msg` to out as field `field` (a length-delimited submessage):
 * builds a repeated field one element at a time, since a message is the
 * concatenation of its fields. */
LT_NODISCARD lt_err_t lt_pb_append_field(lt_buf_t *out, uint32_t field, const pb_msgdesc_t *fields,
                                         const void *msg);
/* Appends a bytes value as field `field` (repeated bytes, one at a time). */
LT_NODISCARD lt_err_t lt_pb_append_bytes(lt_buf_t *out, uint32_t field, const uint8_t *p,
                                         size_t len);

/* A decoded UniversalOp: exactly one of system / app. */
typedef struct {
    bool is_system;
    lattice_SystemOp system;
    lt_view_t app;
} lt_uop_t;

LT_NODISCARD lt_err_t lt_uop_decode(const uint8_t *buf, size_t len, lt_uop_t *out);
LT_NODISCARD lt_err_t lt_uop_encode_app(const uint8_t *app, size_t len, lt_buf_t *out);
LT_NODISCARD lt_err_t lt_uop_encode_system(const lattice_SystemOp *op, lt_buf_t *out);

/* One entry of a KvOp. */
typedef struct {
    lt_view_t key;
    lt_view_t value;
    bool del;
} lt_kv_entry_t;

/* Decodes a KvOp, calling fn for each entry in order. fn returns LT_OK to go
 * on; any other value stops decoding and is returned. Keys must be non-empty. */
typedef lt_err_t (*lt_kv_entry_fn)(void *ctx, const lt_kv_entry_t *e);
LT_NODISCARD lt_err_t lt_kvop_decode(const uint8_t *buf, size_t len, lt_kv_entry_fn fn, void *ctx);
LT_NODISCARD lt_err_t lt_kvop_encode(const lt_kv_entry_t *entries, size_t n, lt_buf_t *out);

LT_NODISCARD lt_err_t lt_logentry_decode(const uint8_t *buf, size_t len, lt_view_t *text);
LT_NODISCARD lt_err_t lt_logentry_encode(const uint8_t *text, size_t len, lt_buf_t *out);

/* Encodes any nanopb message with static fields only (system sub-messages). */
LT_NODISCARD lt_err_t lt_pb_encode_static(const pb_msgdesc_t *fields, const void *msg,
                                          lt_buf_t *out);
LT_NODISCARD lt_err_t lt_pb_decode_static(const pb_msgdesc_t *fields, void *msg, const uint8_t *buf,
                                          size_t len);

#endif
