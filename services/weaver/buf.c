/* Growable byte buffer. */
#include "weaver/buf.h"

#include <stdlib.h>
#include <string.h>

lt_err_t lt_buf_reserve(lt_buf_t *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len)
        return LT_ENOMEM;
    size_t need = b->len + extra;
    if (need <= b->cap)
        return LT_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *p = realloc(b->data, cap);
    if (!p)
        return LT_ENOMEM;
    b->data = p;
    b->cap = cap;
    return LT_OK;
}

lt_err_t lt_buf_append(lt_buf_t *b, const void *p, size_t n)
{
    if (n == 0)
        return LT_OK;
    lt_err_t rc = lt_buf_reserve(b, n);
    if (rc)
        return rc;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return LT_OK;
}

lt_err_t lt_buf_set(lt_buf_t *b, const void *p, size_t n)
{
    b->len = 0;
    return lt_buf_append(b, p, n);
}

lt_err_t lt_buf_put_u8(lt_buf_t *b, uint8_t v)
{
    return lt_buf_append(b, &v, 1);
}

lt_err_t lt_buf_put_u32le(lt_buf_t *b, uint32_t v)
{
    uint8_t t[4];
    lt_put_u32le(t, v);
    return lt_buf_append(b, t, 4);
}

lt_err_t lt_buf_put_u64le(lt_buf_t *b, uint64_t v)
{
    uint8_t t[8];
    lt_put_u64le(t, v);
    return lt_buf_append(b, t, 8);
}

lt_err_t lt_buf_put_u64be(lt_buf_t *b, uint64_t v)
{
    uint8_t t[8];
    lt_put_u64be(t, v);
    return lt_buf_append(b, t, 8);
}

void lt_buf_reset(lt_buf_t *b)
{
    b->len = 0;
}

void lt_buf_free(lt_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
