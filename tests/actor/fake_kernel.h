/* A kernel for tests of the process runtime: a ROUTER the test binds and
 * drives by hand (it speaks LTK/1 through the frame codec), and service
 * processes forked from the test whose exit is awaited with a deadline. */
#ifndef LT_TEST_FAKE_KERNEL_H
#define LT_TEST_FAKE_KERNEL_H

#include "ipc/frame.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define LT_TEST_RID_MAX 256

typedef struct {
    void *zctx;
    void *router; /* NULL while unbound */
    char endpoint[256];
    /* Answer each HEARTBEAT with one (a kernel keeping a service alive). */
    bool answer_heartbeats;
    unsigned heartbeats; /* HEARTBEATs seen by lt_test_kernel_expect */
} lt_test_kernel_t;

/* One message the kernel received: the sender's routing id and the decoded
 * frame, whose body points into `body` (owned, freed by the next receive
 * into the same struct or lt_test_kmsg_free). */
typedef struct {
    uint8_t rid[LT_TEST_RID_MAX];
    size_t rid_len;
    lt_frame_t f;
    uint8_t *body;
} lt_test_kmsg_t;

/* Binds a new ROUTER at endpoint ("ipc://..."); asserts on failure. */
void lt_test_kernel_bind(lt_test_kernel_t *k, const char *endpoint);
/* Closes the ROUTER (the kernel went away); the context stays. */
void lt_test_kernel_unbind(lt_test_kernel_t *k);
/* Closes everything; idempotent. */
void lt_test_kernel_destroy(lt_test_kernel_t *k);

/* The next message within timeout_ms; false on timeout. A message that does
 * not decode fails the test. */
bool lt_test_kernel_recv(lt_test_kernel_t *k, int timeout_ms, lt_test_kmsg_t *m);
/* The next message with command cmd within timeout_ms, skipping (and
 * counting, and maybe answering) heartbeats; any other command fails the
 * test. False on timeout. */
bool lt_test_kernel_expect(lt_test_kernel_t *k, lt_frame_cmd_t cmd, int timeout_ms,
                           lt_test_kmsg_t *m);
/* Sends f to the peer with routing id rid. */
void lt_test_kernel_send(lt_test_kernel_t *k, const uint8_t *rid, size_t rid_len,
                         const lt_frame_t *f);
/* Sends raw parts (malformed messages) to rid. */
void lt_test_kernel_send_raw(lt_test_kernel_t *k, const uint8_t *rid, size_t rid_len,
                             const lt_frame_part_t *parts, size_t n);
void lt_test_kmsg_free(lt_test_kmsg_t *m);

/* Monotonic milliseconds, for deadlines. */
uint64_t lt_test_mono_ms(void);

/* A forked child running fn(arg); its exit status is fn's result. */
typedef struct {
    pid_t pid;
    int exit_fd; /* read end of a pipe only the child holds open: EOF = gone */
} lt_test_child_t;

void lt_test_child_spawn(lt_test_child_t *c, int (*fn)(void *), void *arg);
/* Waits up to timeout_ms for the child to exit; returns its exit code, 128 +
 * the signal when a signal ended it, or -1 on timeout (it is then killed). */
int lt_test_child_wait(lt_test_child_t *c, int timeout_ms);

#endif
