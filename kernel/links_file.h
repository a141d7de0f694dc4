/* <home>/links: the peers this node links to, kept across restarts. A
 * kernel records a peer when it opens an outbound link to it as an admitted
 * peer (KERNEL_LINK with renew; never the one-shot join link), forgets it
 * when the peer is revoked, and opens a link to every recorded peer when it
 * starts: the node that joined may be the only one of the two that can
 * dial the other (kernel/README.md, "Peer links").
 *
 * The format is text, one line per peer after a version line:
 *
 *   lattice-links 1
 *   <64 lowercase hex digits: the peer's Ed25519 key> <address> [<address>...]
 *
 * with single spaces between the fields and a newline after each line;
 * addresses are tcp://HOST:PORT, 1..LT_LINKS_FILE_MAX_ADDRS of them. The
 * file is written whole (a temporary file, fsync, rename; mode 0600), so a
 * reader sees the old list or the new one. The reader trusts nothing: a
 * file that is not a links file is refused as a whole, and a line that is
 * too long, holds a bad key or address, repeats a key or is one peer too
 * many is skipped (counted, the first reason kept) while the others are
 * used. This file does no ZeroMQ and logs nothing: the caller logs. */
#ifndef LT_KERNEL_LINKS_FILE_H
#define LT_KERNEL_LINKS_FILE_H

#include "kernel/config.h"
#include "weaver/errors.h"
#include "weaver/types.h"

#include <stdbool.h>
#include <stddef.h>

#define LT_LINKS_FILE_NAME  "links"
#define LT_LINKS_FILE_MAGIC "lattice-links 1"
/* One per outbound link the kernel can hold (LT_LINKS_MAX_OUT). */
#define LT_LINKS_FILE_MAX_PEERS 64
/* As many as a LinkTo carries. */
#define LT_LINKS_FILE_MAX_ADDRS 8
/* A key and LT_LINKS_FILE_MAX_ADDRS addresses of the longest kind fit
 * (64 + 8 × 128 bytes), with room to spare. */
#define LT_LINKS_FILE_LINE_MAX 1200
/* A larger file is refused unread. */
#define LT_LINKS_FILE_MAX_BYTES (LT_LINKS_FILE_MAX_PEERS * LT_LINKS_FILE_LINE_MAX + 64)

typedef struct {
    lt_pubkey_t key;
    char addrs[LT_LINKS_FILE_MAX_ADDRS][LT_KCONFIG_ADDR_MAX];
    size_t naddrs;
} lt_links_file_peer_t;

typedef struct {
    lt_links_file_peer_t peers[LT_LINKS_FILE_MAX_PEERS];
    size_t npeers;
    /* From the parser: lines it skipped, and the first one's reason
     * ("line 3: a key that is not 64 hex digits"). */
    size_t skipped;
    char skip_why[128];
} lt_links_file_t;

/* Parses len bytes of text (anything: it need not end in NUL or newline)
 * into f. LT_OK with every well-formed line in f and the others counted in
 * f->skipped; LT_EINVAL (eb says why) when the first line is not
 * LT_LINKS_FILE_MAGIC: f is then empty. Reads nothing past len. */
LT_NODISCARD lt_err_t lt_links_file_parse(const char *text, size_t len, lt_links_file_t *f,
                                          lt_errbuf_t *eb);

/* The text of f into out (cap bytes, NUL-terminated); returns its length
 * without the NUL, or 0 when it does not fit. */
size_t lt_links_file_format(const lt_links_file_t *f, char *out, size_t cap);

/* Reads and parses the file at path. LT_ENOTFOUND when there is none;
 * LT_EIO when it cannot be read or is not a regular file, LT_EINVAL when it
 * is larger than LT_LINKS_FILE_MAX_BYTES or not a links file (eb names the
 * path and says why); f is empty then. */
LT_NODISCARD lt_err_t lt_links_file_read(const char *path, lt_links_file_t *f, lt_errbuf_t *eb);

/* Writes f to path: path.tmp (mode 0600), fsync, rename over path, fsync of
 * the directory. On failure path is unchanged and the temporary file gone. */
LT_NODISCARD lt_err_t lt_links_file_write(const char *path, const lt_links_file_t *f,
                                          lt_errbuf_t *eb);

/* Records key at the given addresses, replacing the ones recorded for it
 * (its line keeps its place). Addresses that do not fit (too long, past
 * LT_LINKS_FILE_MAX_ADDRS, holding a space or a control byte) are left
 * out. LT_EINVAL when none is left, LT_EFULL when f holds
 * LT_LINKS_FILE_MAX_PEERS other peers; f is unchanged then. */
LT_NODISCARD lt_err_t lt_links_file_put(lt_links_file_t *f, const lt_pubkey_t *key,
                                        const char (*addrs)[LT_KCONFIG_ADDR_MAX], size_t naddrs);

/* Forgets key; false when it was not recorded. */
bool lt_links_file_remove(lt_links_file_t *f, const lt_pubkey_t *key);

/* The entry for key, or NULL. */
const lt_links_file_peer_t *lt_links_file_find(const lt_links_file_t *f, const lt_pubkey_t *key);

#endif
