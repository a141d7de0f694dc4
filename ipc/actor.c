/* Context conveniences and address checks. */
#include "ipc/actor.h"

#include <string.h>

lt_err_t lt_ctx_request(lt_ctx_t *ctx, const char *to, uint32_t type, const void *body, size_t len,
                        uint64_t *corr)
{
    lt_msg_t m = {.kind = LT_MSG_REQUEST,
                  .corr = ctx->ops->next_corr(ctx->rt),
                  .type = type,
                  .status = LT_OK,
                  .body = body,
                  .len = len};
    lt_err_t rc = ctx->ops->send(ctx->rt, to, &m);
    if (rc == LT_OK && corr)
        *corr = m.corr;
    return rc;
}

lt_err_t lt_ctx_reply(lt_ctx_t *ctx, const lt_msg_t *req, lt_err_t status, uint32_t type,
                      const void *body, size_t len)
{
    lt_msg_t m = {.kind = LT_MSG_REPLY,
                  .corr = req->corr,
                  .type = type,
                  .status = status,
                  .body = body,
                  .len = len};
    return ctx->ops->send(ctx->rt, req->from, &m);
}

lt_err_t lt_ctx_reply_to(lt_ctx_t *ctx, const char *to, uint64_t corr, lt_err_t status,
                         uint32_t type, const void *body, size_t len)
{
    lt_msg_t m = {.kind = LT_MSG_REPLY,
                  .corr = corr,
                  .type = type,
                  .status = status,
                  .body = body,
                  .len = len};
    return ctx->ops->send(ctx->rt, to, &m);
}

lt_err_t lt_ctx_reply_error(lt_ctx_t *ctx, const char *to, uint64_t corr, lt_err_t status,
                            const char *why)
{
    /* Field 1, wire type 2 (0x0a), a one- or two-byte length, the text. */
    uint8_t body[3 + LT_ERROR_MSG_MAX];
    size_t n = why ? strnlen(why, LT_ERROR_MSG_MAX) : 0, len = 0;
    if (n) {
        body[len++] = 0x0a;
        if (n < 0x80) {
            body[len++] = (uint8_t)n;
        } else {
            body[len++] = (uint8_t)(0x80 | (n & 0x7f));
            body[len++] = (uint8_t)(n >> 7);
        }
        memcpy(body + len, why, n);
        len += n;
    }
    return lt_ctx_reply_to(ctx, to, corr, status, 0, body, len);
}

lt_err_t lt_ctx_event(lt_ctx_t *ctx, const char *to, uint32_t type, const void *body, size_t len)
{
    lt_msg_t m = {.kind = LT_MSG_EVENT, .type = type, .status = LT_OK, .body = body, .len = len};
    return ctx->ops->send(ctx->rt, to, &m);
}

static bool s_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

bool lt_addr_valid(const char *addr)
{
    size_t n = 0;
    while (addr[n] && addr[n] != '@') {
        if (!s_name_char(addr[n]))
            return false;
        n++;
    }
    if (n == 0 || n >= LT_NAME_MAX)
        return false;
    if (addr[n] == '\0')
        return true;
    const char *key = addr + n + 1;
    size_t k = 0;
    for (; key[k]; k++)
        if (!((key[k] >= '0' && key[k] <= '9') || (key[k] >= 'a' && key[k] <= 'f')))
            return false;
    return k == 64;
}

bool lt_addr_remote(const char *addr, lt_pubkey_t *node, char *local, size_t cap)
{
    const char *at = strchr(addr, '@');
    if (!at || !lt_unhex(at + 1, node->b, LT_KEY_LEN))
        return false;
    for (const char *h = at + 1; *h; h++)
        if (*h >= 'A' && *h <= 'F')
            return false; /* addresses are compared as text: one spelling */
    if (local) {
        size_t n = (size_t)(at - addr);
        if (n >= cap)
            return false;
        memcpy(local, addr, n);
        local[n] = '\0';
    }
    return true;
}
