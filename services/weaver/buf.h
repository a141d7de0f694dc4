/* A growable byte buffer: the one way bytes are handed back to callers. */
#ifndef LT_BUF_H
#define LT_BUF_H

#include "weaver/errors.h"

#include <stdint.h>
#include <stddef.h>

typedef struct {
    uint8_t *data;
    size_t len;
    size_t cap;
} lt_buf_t;

#define LT_BUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* Ensures room for `extra` more bytes past len. */
LT_NODISCARD lt_err_t lt_buf_reserve(lt_buf_t *b, size_t extra);
/* Appends n bytes (n may be 0; p may then be NULL). */
LT_NODISCARD lt_err_t lt_buf_append(lt_buf_t *b, const void *p, size_t n);
/* Replaces the contents with n bytes. */
LT_NODISCARD lt_err_t lt_buf_set(lt_buf_t *b, const void *p, size_t n);
LT_NODISCARD lt_err_t lt_buf_put_u8(lt_buf_t *b, uint8_t v);
LT_NODISCARD lt_err_t lt_buf_put_u32le(lt_buf_t *b, uint32_t v);
LT_NODISCARD lt_err_t lt_buf_put_u64le(lt_buf_t *b, uint64_t v);
LT_NODISCARD lt_err_t lt_buf_put_u64be(lt_buf_t *b, uint64_t v);
void lt_buf_reset(lt_buf_t *b); /* len = 0, keeps memory */
void lt_buf_free(lt_buf_t *b);  /* frees memory; idempotent */

/* Fixed-width integer helpers for canonical encodings. */
static inline void lt_put_u32le(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void lt_put_u64le(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void lt_put_u64be(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * (7 - i)));
}
static inline void lt_put_u32be(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * (3 - i)));
}
static inline uint32_t lt_get_u32le(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}
static inline uint64_t lt_get_u64le(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}
static inline uint64_t lt_get_u64be(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}
static inline uint32_t lt_get_u32be(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v = (v << 8) | p[i];
    return v;
}

#endif
