/* The kernel framing layer: the multipart messages a DEALER (a service or a
 * client) and the kernel's ROUTER exchange, as kernel/README.md specifies
 * them. This is the codec only, and it is portable: it works on arrays of
 * frame parts (pointer + length), never on zmsg_t or sockets, so the process
 * runtime wraps its ZeroMQ parts around it and tests and fuzzers drive it
 * with plain bytes.
 *
 * Every message starts with the signature frame "LTK1" (protocol and
 * version) and a one-byte command frame; the parts that follow are fixed
 * per command:
 *
 *   READY       sig cmd name proto(u32le) pid(u32le)                   5 parts
 *   REQUEST     sig cmd addr corr(u64le) type(u32le) status(u32le) body 7 parts
 *   REPLY       (as REQUEST)                                            7 parts
 *   EVENT       (as REQUEST)                                            7 parts
 *   HEARTBEAT   sig cmd                                                 2 parts
 *   DISCONNECT  sig cmd                                                 2 parts
 *
 * The decoder is strict: exact part counts, exact field sizes, valid
 * addresses, bounded bodies. Whatever decodes re-encodes to identical parts
 * (the fuzz target checks it). Decoded frames borrow the body from the
 * caller's parts; the address and name are copied. */
#ifndef LT_FRAME_H
#define LT_FRAME_H

#include "ipc/actor.h"
#include "weaver/errors.h"
#include "weaver/intention.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The signature frame: "LTK" names the protocol, the fourth byte its
 * version. A peer speaking "LTK" with another version gets LT_EVERSION. */
#define LT_FRAME_SIGNATURE     "LTK1"
#define LT_FRAME_SIGNATURE_LEN 4
#define LT_FRAME_VERSION       '1'

/* Largest body: a maximal intention's ops plus room for its envelope. The
 * process runtime sets ZMQ_MAXMSGSIZE to LT_FRAME_MAX_PART (libzmq applies
 * it to each part; the body is the largest one). */
#define LT_FRAME_MAX_BODY  (LT_MAX_OPS + 65536)
#define LT_FRAME_MAX_PART  LT_FRAME_MAX_BODY
#define LT_FRAME_MAX_PARTS 7

/* Reply-to addresses of clients: "client:" and the lowercase hex of the
 * ROUTER routing id the kernel assigned to the client's connection. */
#define LT_FRAME_CLIENT_PREFIX     "client:"
#define LT_FRAME_CLIENT_PREFIX_LEN 7
#define LT_FRAME_CLIENT_ID_MAX     ((LT_ADDR_MAX - 1 - LT_FRAME_CLIENT_PREFIX_LEN) / 2)

/* The kernel answers requests addressed to itself (node status, services,
 * restart, stop); no service may register under this name. */
#define LT_FRAME_KERNEL_ADDR "kernel"

/* Replies carry an lt_err_t; values up to this bound pass through even when
 * this build does not know them (a newer peer), larger ones are refused so
 * that every accepted status fits the enum. */
#define LT_FRAME_STATUS_MAX 0xffffu

/* Heartbeats between the kernel and each registered service (both ways):
 * one every interval; a peer silent for LIVENESS intervals is dead. */
#define LT_FRAME_HEARTBEAT_MS 1000
#define LT_FRAME_LIVENESS     3

/* Commands: the numbers of Majordomo (RFC 7) where the meaning is the same. */
typedef enum {
    LT_FRAME_READY = 1,      /* service -> kernel: register a name */
    LT_FRAME_REQUEST = 2,    /* either way: expects a REPLY with its corr */
    LT_FRAME_REPLY = 3,      /* either way: answers corr, with a status */
    LT_FRAME_HEARTBEAT = 4,  /* kernel <-> service */
    LT_FRAME_DISCONNECT = 5, /* kernel <-> service: goodbye / re-register */
    LT_FRAME_EVENT = 6,      /* either way: one-way */
} lt_frame_cmd_t;

/* Why the decoder refused a message: one reason per check, each mapped to
 * the lt_err_t that lt_frame_decode returns (in brackets). */
typedef enum {
    LT_FRAME_ACCEPTED = 0,
    LT_FRAME_R_NOPARTS,    /* [LT_ETRUNCATED] fewer than signature + command */
    LT_FRAME_R_SIGNATURE,  /* [LT_EINVAL] not the "LTK" protocol */
    LT_FRAME_R_VERSION,    /* [LT_EVERSION] "LTK" with another version */
    LT_FRAME_R_COMMAND,    /* [LT_EINVAL] command frame not one known byte */
    LT_FRAME_R_MISSING,    /* [LT_ETRUNCATED] fewer parts than the command has */
    LT_FRAME_R_EXTRA,      /* [LT_ETRAILING] more parts than the command has */
    LT_FRAME_R_FIELD_SIZE, /* [LT_EINVAL] a fixed-width field of the wrong size */
    LT_FRAME_R_ADDRESS,    /* [LT_EINVAL] address not a service or client form */
    LT_FRAME_R_NAME,       /* [LT_EINVAL] READY name not a plain service name */
    LT_FRAME_R_STATUS,     /* [LT_EINVAL] status set on a request or an event,
                              or beyond LT_FRAME_STATUS_MAX on a reply */
    LT_FRAME_R_BODY_SIZE,  /* [LT_EINVAL] body larger than LT_FRAME_MAX_BODY */
    LT_FRAME_R_COUNT       /* number of reasons; not a reason */
} lt_frame_reject_t;

/* One part of a multipart message, borrowed. */
typedef struct {
    const uint8_t *p;
    size_t len;
} lt_frame_part_t;

typedef struct {
    lt_frame_cmd_t cmd;
    /* REQUEST, REPLY, EVENT: the destination on the way to the kernel, the
     * sender on the way from it (the kernel rewrites it). */
    char addr[LT_ADDR_MAX];
    uint64_t corr;
    uint32_t type;
    uint32_t status; /* REPLY: an lt_err_t; 0 otherwise */
    const uint8_t *body;
    size_t len;
    /* READY */
    char name[LT_NAME_MAX];
    uint32_t proto; /* version of the service's own body protocol */
    uint32_t pid;   /* the service's process id (0: not a process) */
} lt_frame_t;

/* Scratch storage for the fixed-width fields of an encoded message; the
 * parts lt_frame_encode produces point into it (and into the frame). */
typedef struct {
    uint8_t cmd[1];
    uint8_t corr[8];
    uint8_t type[4];
    uint8_t status[4];
    uint8_t proto[4];
    uint8_t pid[4];
} lt_frame_scratch_t;

/* Decodes the parts of one message (the ROUTER's routing-id part already
 * removed) into out. On failure returns the code listed above for the
 * reason, sets *why (when not NULL) and a one-line explanation in eb (when
 * not NULL); out is then unspecified. out->body borrows from parts. */
LT_NODISCARD lt_err_t lt_frame_decode(const lt_frame_part_t *parts, size_t nparts, lt_frame_t *out,
                                      lt_frame_reject_t *why, lt_errbuf_t *eb);

/* Fills parts[0..*nparts) with the message for f, pointing into f, scratch
 * and static storage: all must outlive the parts. Refuses (LT_EINVAL, with
 * eb) a frame the decoder would refuse, so whatever is sent decodes. */
LT_NODISCARD lt_err_t lt_frame_encode(const lt_frame_t *f,
                                      lt_frame_part_t parts[LT_FRAME_MAX_PARTS], size_t *nparts,
                                      lt_frame_scratch_t *scratch, lt_errbuf_t *eb);

/* Short symbolic name of a reason ("LT_FRAME_R_VERSION"), never NULL. */
const char *lt_frame_reject_name(lt_frame_reject_t why);

/* Builds the REQUEST, REPLY or EVENT frame that carries msg with address
 * addr (msg->from is ignored: the address frame holds the destination or the
 * sender, depending on the direction). The body stays borrowed from msg.
 * LT_EINVAL for a bad address, kind, status or body size. */
LT_NODISCARD lt_err_t lt_frame_from_msg(lt_frame_t *out, const char *addr, const lt_msg_t *msg);

/* The lt_msg_t a runtime hands to an actor for a decoded REQUEST, REPLY or
 * EVENT: from = the frame's address (the sender, as the kernel rewrote it).
 * The body stays borrowed from f. LT_EINVAL for another command. */
LT_NODISCARD lt_err_t lt_frame_to_msg(const lt_frame_t *f, lt_msg_t *out);

/* Whether addr may appear in an address frame: a service address
 * (lt_addr_valid), a client reply-to address, or a client of another node
 * ("client:<hex>@<64 hex>", lt_frame_remote_client_addr_valid). */
bool lt_frame_addr_valid(const char *addr);
/* Whether addr is a client reply-to address followed by "@" and the 64
 * lowercase hex digits of a node key. */
bool lt_frame_remote_client_addr_valid(const char *addr);

/* Whether addr is a client reply-to address: "client:" then 2 to
 * 2*LT_FRAME_CLIENT_ID_MAX lowercase hex digits, an even count. */
bool lt_frame_client_addr_valid(const char *addr);

/* Writes the client address for a routing id (1..LT_FRAME_CLIENT_ID_MAX
 * bytes) into out. LT_EINVAL for an empty or longer id. */
LT_NODISCARD lt_err_t lt_frame_client_addr(const uint8_t *id, size_t len, char out[LT_ADDR_MAX]);

/* Recovers the routing id from a client address into id (capacity cap);
 * sets *len. LT_EINVAL when addr is not a client address or cap is short. */
LT_NODISCARD lt_err_t lt_frame_client_id(const char *addr, uint8_t *id, size_t cap, size_t *len);

#endif
