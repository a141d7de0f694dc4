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
