/* Fuzz target: the stored multi-value register. Whatever decodes must
 * re-encode to exactly the same bytes. */
#include "store/heads.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lt_heads_t h = LT_HEADS_INIT;
    lt_err_t rc = lt_heads_decode(data, size, &h);
    if (rc == LT_OK) {
        lt_buf_t enc = LT_BUF_INIT;
        if (lt_heads_encode(&h, &enc) != LT_OK)
            abort();
        if (enc.len != size || memcmp(enc.data, data, size) != 0)
            abort();
        lt_buf_free(&enc);
    } else if (rc != LT_ECORRUPT && rc != LT_ENOMEM) {
        abort();
    }
    lt_heads_free(&h);
    return 0;
}
