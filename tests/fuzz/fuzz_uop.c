/* Fuzz target: the UniversalOp decoder. Protobuf has many encodings of one
 * message, so instead of a byte-exact round trip: an app view must lie inside
 * the input, and decode(encode(op)) must encode to the same bytes again. */
#include "store/ops_codec.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void s_assert_inside(lt_view_t v, const uint8_t *data, size_t size)
{
    if (v.len && (v.p < data || v.p + v.len > data + size))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lt_uop_t op;
    if (lt_uop_decode(data, size, &op) != LT_OK)
        return 0;
    lt_buf_t first = LT_BUF_INIT, second = LT_BUF_INIT;
    if (op.is_system) {
        if (lt_uop_encode_system(&op.system, &first) != LT_OK)
            abort();
    } else {
        if (!op.app.p)
            abort();
        s_assert_inside(op.app, data, size);
        if (lt_uop_encode_app(op.app.p, op.app.len, &first) != LT_OK)
            abort();
    }
    lt_uop_t again;
    if (lt_uop_decode(first.data, first.len, &again) != LT_OK || again.is_system != op.is_system)
        abort();
    lt_err_t rc = again.is_system ? lt_uop_encode_system(&again.system, &second)
                                  : lt_uop_encode_app(again.app.p, again.app.len, &second);
    if (rc != LT_OK || second.len != first.len || memcmp(second.data, first.data, first.len) != 0)
        abort();
    if (!op.is_system && (again.app.len != op.app.len ||
                          (op.app.len && memcmp(again.app.p, op.app.p, op.app.len) != 0)))
        abort();
    lt_buf_free(&first);
    lt_buf_free(&second);
    return 0;
}
