/* One project-wide error enum. Every verb returns lt_err_t; every rejection of
 * outside input has its own code so a caller (or a test) can tell exactly what
 * was wrong, and lt_strerror() names it in one line. */
#ifndef LT_ERRORS_H
#define LT_ERRORS_H

#include <stdarg.h>
#include <stddef.h>

#define LT_NODISCARD    __attribute__((warn_unused_result))
#define LT_PRINTF(a, b) __attribute__((format(printf, a, b)))

typedef enum {
    LT_OK = 0,
    /* generic */
    LT_ENOMEM,    /* out of memory */
    LT_EINVAL,    /* bad argument from a caller */
    LT_EIO,       /* the storage backend failed */
    LT_ECORRUPT,  /* stored data fails its checks */
    LT_ENOTFOUND, /* no such key / store / intention */
    LT_EEXIST,    /* already exists */
    LT_EFULL,     /* a bounded queue or buffer is full */
    LT_ELOCKED,   /* the database is in use by another process */
    /* decoding canonical records (intentions, witness records) */
    LT_ETRUNCATED,   /* input ends before the record does */
    LT_ETRAILING,    /* bytes after the end of the record */
    LT_EVERSION,     /* unknown record version */
    LT_ETOOMANYDEPS, /* more causal dependencies than LT_MAX_DEPS */
    LT_EDEPSORDER,   /* dependencies not in ascending order */
    LT_EDEPSDUP,     /* the same dependency listed twice */
    LT_EOPSTOOLARGE, /* ops payload larger than LT_MAX_OPS */
    LT_ESIGNATURE,   /* the signature does not verify */
    LT_EWRONGSTORE,  /* the intention belongs to another store */
    LT_EPREVAUTHOR,  /* store_prev names an intention by another author */
    LT_EPAYLOAD,     /* the ops payload does not decode for its state machine */
    LT_ETYPE,        /* unknown or mismatched state machine type */
    /* messaging (values travel in kernel frames: append, never renumber) */
    LT_EUNAVAILABLE, /* the service is down or restarting past its queue or deadline */
    LT_ETIMEDOUT,    /* no reply before the caller's deadline */
    LT_EFAILED,      /* the service has failed: the supervisor gave up restarting it */
    LT_EREFUSED,     /* refused by policy: a used or expired invite, a revoked peer */
    LT_ECOUNT        /* number of codes; not an error */
} lt_err_t;

/* Returns a static one-line description of err (never NULL). */
const char *lt_strerror(lt_err_t err);

/* Returns the short symbolic name of err ("LT_EDEPSORDER"). */
const char *lt_errname(lt_err_t err);

/* A place for a detailed message about the last failure of an object
 * (which key, which sequence number). Objects that deal with outside input own
 * one and expose it with a *_errmsg() accessor. */
typedef struct {
    char msg[256];
} lt_errbuf_t;

/* Formats a message into eb (when eb is not NULL) and returns code, so that
 * `return lt_fail(eb, LT_ECORRUPT, "...", ...)` reads as one statement. */
lt_err_t lt_fail(lt_errbuf_t *eb, lt_err_t code, const char *fmt, ...) LT_PRINTF(3, 4);
void lt_errbuf_clear(lt_errbuf_t *eb);

#endif
