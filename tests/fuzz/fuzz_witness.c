/* Fuzz target: the witness record decoder. Whatever it accepts must
 * re-encode to exactly the same bytes. */
#include "weaver/witness.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lt_witness_t w;
    if (lt_witness_decode(data, size, &w) != LT_OK)
        return 0;
    uint8_t again[LT_WITNESS_LEN];
    lt_witness_encode(&w, again);
    if (size != LT_WITNESS_LEN || memcmp(again, data, size) != 0)
        abort();
    lt_hash_t h;
    lt_witness_hash(&w, &h);
    return 0;
}
