/* Fuzz target: the static nanopb codec on the system sub-messages. The first
 * byte picks the message (PeerSet, InviteSet, ChildSet, SystemOp), the rest is
 * decoded; whatever decodes must encode, and encode the same after another
 * decode (nanopb may drop what it cannot represent, e.g. text after a NUL,
 * but only once). */
#include "store/ops_codec.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const pb_msgdesc_t *const types[4] = {
        lattice_PeerSet_fields,
        lattice_InviteSet_fields,
        lattice_ChildSet_fields,
        lattice_SystemOp_fields,
    };
    const pb_msgdesc_t *fields = types[data[0] % 4];
    union {
        lattice_PeerSet peer;
        lattice_InviteSet invite;
        lattice_ChildSet child;
        lattice_SystemOp system;
    } msg, again;
    memset(&msg, 0, sizeof msg);
    if (lt_pb_decode_static(fields, &msg, data + 1, size - 1) != LT_OK)
        return 0;
    lt_buf_t first = LT_BUF_INIT, second = LT_BUF_INIT;
    if (lt_pb_encode_static(fields, &msg, &first) != LT_OK)
        abort();
    memset(&again, 0, sizeof again);
    if (lt_pb_decode_static(fields, &again, first.data, first.len) != LT_OK)
        abort();
    if (lt_pb_encode_static(fields, &again, &second) != LT_OK)
        abort();
    if (second.len != first.len || (first.len && memcmp(first.data, second.data, first.len) != 0))
        abort();
    lt_buf_free(&first);
    lt_buf_free(&second);
    return 0;
}
