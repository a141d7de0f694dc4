/* A reconciliation session: symmetric range-based set reconciliation
 * (DESIGN.md §7) between this node's fingerprint index and a peer's, in the
 * style of Meyer's range-based set reconciliation and of Negentropy, except
 * that one session teaches BOTH sides what they lack. At the end each side
 * holds `have` (ids it has that the peer lacks) and `need` (ids the peer has
 * that it lacks). The wire messages are in schemas/sync.md.
 *
 * Pure and in-process: the caller carries the messages (lt_recon_initiate
 * produces the first, lt_recon_receive answers each one received). The index
 * is borrowed for the whole session and must not change during it.
 *
 * States (lt_recon_state_t) and transitions:
 *
 *   IDLE --initiate--> AWAITING                 (the initiator's first message)
 *   IDLE, AWAITING --receive--> AWAITING        (our reply asks for an answer)
 *   IDLE, AWAITING --receive--> DONE            (the peer's message was final, or
 *                                                our reply is: send it, if any)
 *   IDLE, AWAITING --receive(bad)--> FAILED     (malformed or not following the
 *                                                protocol; an error is returned)
 *
 * A message asks for an answer when it holds a FINGERPRINT, IDLIST or
 * IDRESP_PART range; one that does not is final, and nothing answers it.
 *
 * How it keeps the bytes near the ids that differ and the rounds few:
 * - a range whose fingerprints differ is split into `branching` parts (more
 *   when `max_rounds` asks for it: with r messages left to split in, a range
 *   of n items is cut into at least (n / idlist_threshold)^(1/r) parts, so
 *   that ids are listed by the last message that may still get an answer;
 *   under a frame limit, only until that message); ranges of at most
 *   `idlist_threshold` items are sent as id lists;
 * - the range holding a side's newest item is cut just after that item, and
 *   the part beyond it goes as an empty id list: a peer holding newer items
 *   answers with their ids at once. When every range before it matched (a
 *   peer that was offline), that range is sent as one fingerprint instead of
 *   being split, which settles it in one step when the difference is all in
 *   the newest items;
 * - a range whose peer fingerprint is that of an empty set is answered with
 *   all our ids in it, final;
 * - with a frame limit, a message that would grow past it ends early with one
 *   fingerprint of everything not yet handled, and the session goes on from
 *   there; an id answer too long for the frame is cut (IDRESP_PART) and
 *   continued. */
#ifndef LT_SYNC_RECON_H
#define LT_SYNC_RECON_H

#include "sync/fpindex.h"
#include "weaver/buf.h"
#include "weaver/errors.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The smallest frame limit: room for the largest single step (a bitmap of
 * LT_SYNC_MAX_IDLIST bits with one id, or a split in two) and the rest. */
#define LT_RECON_MIN_FRAME 1024

#define LT_RECON_DEFAULT_BRANCHING  4
#define LT_RECON_DEFAULT_THRESHOLD  2
#define LT_RECON_DEFAULT_MAX_ROUNDS 4

typedef struct {
    uint32_t branching;        /* parts per split of a differing range: >= 2 */
    uint32_t idlist_threshold; /* ranges of at most this many items go as id lists:
                                  1..LT_SYNC_MAX_IDLIST */
    uint32_t max_rounds;       /* round trips the split sizes aim to finish in; 0 = no aim */
    uint32_t frame_limit;      /* most bytes per message; 0 = none, else >= LT_RECON_MIN_FRAME */
} lt_recon_config_t;

typedef enum {
    LT_RECON_IDLE,     /* new: initiate makes it the initiator, receive the responder */
    LT_RECON_AWAITING, /* our last message asked for an answer */
    LT_RECON_DONE,     /* have and need are complete */
    LT_RECON_FAILED,   /* a message was refused; the session is over */
} lt_recon_state_t;

typedef struct {
    uint64_t bytes_sent, bytes_received;
    uint32_t messages_sent, messages_received;
} lt_recon_stats_t;

typedef struct lt_recon lt_recon_t;

void lt_recon_config_default(lt_recon_config_t *cfg);

/* A session over idx (borrowed; it must outlive the session and not change
 * during it). cfg NULL = the defaults. LT_EINVAL for a config out of range,
 * LT_ENOMEM. */
LT_NODISCARD lt_err_t lt_recon_new(const lt_fpindex_t *idx, const lt_recon_config_t *cfg,
                                   lt_recon_t **out);
/* Frees the session and sets *r_p to NULL; idempotent. */
void lt_recon_destroy(lt_recon_t **r_p);

/* The initiator's first message into out (emptied first). IDLE only (else
 * LT_EINVAL); LT_ENOMEM. */
LT_NODISCARD lt_err_t lt_recon_initiate(lt_recon_t *r, lt_buf_t *out);
/* Handles one message from the peer and writes the reply into out (emptied
 * first). When out->len is 0 there is nothing to send. Errors: those of
 * lt_sync_reader_next for a malformed message, LT_EINVAL for one that breaks
 * the protocol (an IDRESP bitmap that does not match our items, an id listed
 * twice, an IDRESP offering an id we have) or arrives after the session ended;
 * the session is then FAILED and lt_recon_errmsg says what was wrong. */
LT_NODISCARD lt_err_t lt_recon_receive(lt_recon_t *r, const uint8_t *msg, size_t len,
                                       lt_buf_t *out);

lt_recon_state_t lt_recon_state(const lt_recon_t *r);
bool lt_recon_is_initiator(const lt_recon_t *r);
/* Ids we have that the peer lacks, and ids the peer has that we lack, sorted
 * by hash bytes, each once. Complete in DONE; borrowed until the next call. */
const lt_hash_t *lt_recon_have(const lt_recon_t *r, size_t *n);
const lt_hash_t *lt_recon_need(const lt_recon_t *r, size_t *n);
void lt_recon_stats(const lt_recon_t *r, lt_recon_stats_t *out);
/* What was wrong with the last refused message ("" if nothing was). */
const char *lt_recon_errmsg(const lt_recon_t *r);

#endif
