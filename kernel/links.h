/* Peer links (DESIGN.md §7): the TCP side of the kernel. latticed --listen
 * binds a ROUTER there with CURVE encryption, keyed by the X25519 form of
 * the node's Ed25519 identity, behind a ZAP handler the kernel itself
 * serves (bound before any CURVE socket exists: libzmq's CURVE server
 * admits every client when no handler is bound, and the handler lives and
 * dies with the kernel's thread).
 *
 * Admission: a connecting key is admitted only when it is in the kernel's
 * set of admitted keys. The stores fill that set (the active peers of the
 * stores this node holds, and invite joins); until they do, every key is
 * refused with one rate-limited log line. */
#ifndef LT_KERNEL_LINKS_H
#define LT_KERNEL_LINKS_H

#include "kernel/config.h"
#include "weaver/errors.h"
#include "weaver/identity.h"
#include "weaver/types.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LT_LINKS_MAX_ADMITTED 4096

typedef struct {
    void *zap;  /* REP on inproc://zeromq.zap.01 */
    void *peer; /* ROUTER, CURVE server, on the --listen addresses */
    char bound[LT_KCONFIG_MAX_LISTEN][LT_KCONFIG_ADDR_MAX]; /* as bound (PORT 0 resolved) */
    size_t nbound;
    lt_pubkey_t *admitted; /* Ed25519 keys, sorted */
    size_t nadmitted;
    uint64_t refused;        /* ZAP refusals since start */
    uint64_t refused_logged; /* refusals when the last line was logged */
    uint64_t refuse_log_ms;  /* monotonic time of that line */
    uint64_t dropped;        /* frames from the link socket nobody could take */
} lt_links_t;

struct lt_kernel;

/* Binds the ZAP handler and the link socket on every --listen address.
 * Nothing to do without --listen. id is the node's identity (its secret
 * key is turned into the CURVE key and not kept). On failure nothing stays
 * bound and eb says which address and why. */
LT_NODISCARD lt_err_t lt_links_open(struct lt_kernel *k, const lt_identity_t *id, lt_errbuf_t *eb);
void lt_links_close(struct lt_kernel *k);
/* Whether the link sockets exist (the poll loop watches them then). */
bool lt_links_active(const struct lt_kernel *k);
/* Serves pending ZAP requests and drains the link socket (at most budget
 * messages each). */
void lt_links_recv(struct lt_kernel *k, int budget);
/* Whether an Ed25519 key may open a link. */
bool lt_links_admits(const struct lt_kernel *k, const lt_pubkey_t *key);

#endif
