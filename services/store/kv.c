/* The backend-independent part of the storage port: closing a backend and the
 * prefix-iteration helper. Everything else goes through the ops table. */
#include "store/kv.h"

#include <stdlib.h>
#include <string.h>

void lt_kv_close(lt_kv_t **kv_p)
{
    if (!kv_p || !*kv_p)
        return;
    lt_kv_t *kv = *kv_p;
    kv->ops->close(kv->self);
    free(kv);
    *kv_p = NULL;
}

bool lt_kv_iter_has_prefix(const lt_kv_t *kv, const lt_kv_iter_t *it, const uint8_t *prefix,
                           size_t plen)
{
    if (!kv->ops->iter_valid(it))
        return false;
    size_t klen = 0;
    const uint8_t *key = kv->ops->iter_key(it, &klen);
    /* memcmp with a zero length may still not be passed NULL. */
    return klen >= plen && (plen == 0 || memcmp(key, prefix, plen) == 0);
}
