/* Fuzz target: the log backend's replay (store/kv_log.h), over the records
 * of a log file after its header. It applies a valid prefix to a memory
 * backend and says how long it is: never longer than the input; a torn end
 * is cut, damage before the end is LT_ECORRUPT. Replaying the valid prefix
 * alone again gives the same length and no error. */
#include "store/kv.h"
#include "store/kv_log.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lt_kv_t *mem = NULL;
    if (lt_kv_mem_open(3, &mem) != LT_OK)
        abort();
    size_t good = 0;
    lt_errbuf_t eb = {""};
    lt_err_t rc = lt_kv_log_replay(data, size, 3, mem, &good, &eb);
    if (good > size || (rc != LT_OK && rc != LT_ECORRUPT && rc != LT_ENOMEM))
        abort();
    if (rc != LT_OK && !eb.msg[0])
        abort(); /* every refusal says why */
    lt_kv_close(&mem);
    if (lt_kv_mem_open(3, &mem) != LT_OK)
        abort();
    size_t again = 0;
    if (lt_kv_log_replay(data, good, 3, mem, &again, &eb) != LT_OK || again != good)
        abort();
    lt_kv_close(&mem);
    return 0;
}
