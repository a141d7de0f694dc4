/* Error names and messages for lt_err_t. */
#include "weaver/errors.h"

#include <stdio.h>

static const struct {
    const char *name;
    const char *text;
} s_errors[LT_ECOUNT] = {
    [LT_OK] = {"LT_OK", "success"},
    [LT_ENOMEM] = {"LT_ENOMEM", "out of memory"},
    [LT_EINVAL] = {"LT_EINVAL", "invalid argument"},
    [LT_EIO] = {"LT_EIO", "storage backend I/O error"},
    [LT_ECORRUPT] = {"LT_ECORRUPT", "stored data is corrupt"},
    [LT_ENOTFOUND] = {"LT_ENOTFOUND", "not found"},
    [LT_EEXIST] = {"LT_EEXIST", "already exists"},
    [LT_EFULL] = {"LT_EFULL", "queue or buffer is full"},
    [LT_ELOCKED] = {"LT_ELOCKED", "database is locked by another process"},
    [LT_ETRUNCATED] = {"LT_ETRUNCATED", "record is truncated"},
    [LT_ETRAILING] = {"LT_ETRAILING", "trailing bytes after the record"},
    [LT_EVERSION] = {"LT_EVERSION", "unknown record version"},
    [LT_ETOOMANYDEPS] = {"LT_ETOOMANYDEPS", "more than 16 causal dependencies"},
    [LT_EDEPSORDER] = {"LT_EDEPSORDER", "causal dependencies are not sorted ascending"},
    [LT_EDEPSDUP] = {"LT_EDEPSDUP", "a causal dependency is listed twice"},
    [LT_EOPSTOOLARGE] = {"LT_EOPSTOOLARGE", "ops payload is larger than 131072 bytes"},
    [LT_ESIGNATURE] = {"LT_ESIGNATURE", "signature does not verify for the author key"},
    [LT_EWRONGSTORE] = {"LT_EWRONGSTORE", "intention belongs to another store"},
    [LT_EPREVAUTHOR] = {"LT_EPREVAUTHOR", "store_prev names an intention by another author"},
    [LT_EPAYLOAD] = {"LT_EPAYLOAD", "ops payload is malformed for the state machine"},
    [LT_ETYPE] = {"LT_ETYPE", "unknown or mismatched store type"},
    [LT_EUNAVAILABLE] = {"LT_EUNAVAILABLE", "service unavailable (down or restarting)"},
    [LT_ETIMEDOUT] = {"LT_ETIMEDOUT", "no reply before the deadline"},
    [LT_EFAILED] = {"LT_EFAILED", "service failed (not being restarted)"},
    [LT_EREFUSED] = {"LT_EREFUSED", "refused"},
};

const char *lt_strerror(lt_err_t err)
{
    if ((unsigned)err >= LT_ECOUNT || !s_errors[err].text)
        return "unknown error";
    return s_errors[err].text;
}

const char *lt_errname(lt_err_t err)
{
    if ((unsigned)err >= LT_ECOUNT || !s_errors[err].name)
        return "LT_E?";
    return s_errors[err].name;
}

lt_err_t lt_fail(lt_errbuf_t *eb, lt_err_t code, const char *fmt, ...)
{
    if (eb) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(eb->msg, sizeof eb->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

void lt_errbuf_clear(lt_errbuf_t *eb)
{
    if (eb)
        eb->msg[0] = '\0';
}
