/* Fuzz target: the LogEntry decoder. The text is a view inside the input (or
 * empty) and survives an encode/decode round trip. */
#include "store/ops_codec.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lt_view_t text;
    if (lt_logentry_decode(data, size, &text) != LT_OK)
        return 0;
    if (!text.p || (text.len && (text.p < data || text.p + text.len > data + size)))
        abort();
    lt_buf_t enc = LT_BUF_INIT;
    if (lt_logentry_encode(text.p, text.len, &enc) != LT_OK)
        abort();
    lt_view_t again;
    if (lt_logentry_decode(enc.data, enc.len, &again) != LT_OK || again.len != text.len ||
        (text.len && memcmp(again.p, text.p, text.len) != 0))
        abort();
    lt_buf_free(&enc);
    return 0;
}
