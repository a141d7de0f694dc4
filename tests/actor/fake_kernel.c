/* The test kernel (fake_kernel.h): a ROUTER driven by the test, with
 * deadlines from zmq_poll, and forked service processes awaited through a
 * pipe that closes when they exit (poll instead of sleep-and-retry). */
#include "fake_kernel.h"

#include <criterion/criterion.h>
#include <zmq.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

uint64_t lt_test_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int s_left(uint64_t deadline)
{
    uint64_t now = lt_test_mono_ms();
    return now >= deadline ? 0 : (int)(deadline - now);
}

void lt_test_kernel_bind(lt_test_kernel_t *k, const char *endpoint)
{
    if (!k->zctx) {
        k->zctx = zmq_ctx_new();
        cr_assert_not_null(k->zctx);
    }
    cr_assert_null(k->router, "already bound");
    snprintf(k->endpoint, sizeof k->endpoint, "%s", endpoint);
    k->router = zmq_socket(k->zctx, ZMQ_ROUTER);
    cr_assert_not_null(k->router);
    int one = 1, zero = 0;
    int64_t maxmsg = LT_FRAME_MAX_PART + 64;
    cr_assert_eq(zmq_setsockopt(k->router, ZMQ_ROUTER_MANDATORY, &one, sizeof one), 0);
    cr_assert_eq(zmq_setsockopt(k->router, ZMQ_LINGER, &zero, sizeof zero), 0);
    cr_assert_eq(zmq_setsockopt(k->router, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg), 0);
    cr_assert_eq(zmq_bind(k->router, endpoint), 0, "bind %s: %s", endpoint, zmq_strerror(errno));
}

void lt_test_kernel_unbind(lt_test_kernel_t *k)
{
    if (k->router)
        zmq_close(k->router);
    k->router = NULL;
}

void lt_test_kernel_destroy(lt_test_kernel_t *k)
{
    lt_test_kernel_unbind(k);
    if (k->zctx)
        zmq_ctx_term(k->zctx);
    k->zctx = NULL;
}

void lt_test_kmsg_free(lt_test_kmsg_t *m)
{
    free(m->body);
    m->body = NULL;
}

bool lt_test_kernel_recv(lt_test_kernel_t *k, int timeout_ms, lt_test_kmsg_t *m)
{
    cr_assert_not_null(k->router);
    zmq_pollitem_t item = {.socket = k->router, .events = ZMQ_POLLIN};
    uint64_t deadline = lt_test_mono_ms() + (uint64_t)timeout_ms;
    for (;;) {
        int rc = zmq_poll(&item, 1, s_left(deadline));
        if (rc < 0 && errno == EINTR)
            continue;
        cr_assert_geq(rc, 0, "zmq_poll: %s", zmq_strerror(errno));
        if (rc > 0)
            break;
        if (s_left(deadline) == 0)
            return false;
    }
    enum { MAXP = LT_FRAME_MAX_PARTS + 2 };
    zmq_msg_t msgs[MAXP];
    size_t n = 0;
    int more = 1;
    while (more) {
        cr_assert_lt(n, MAXP, "too many parts");
        zmq_msg_init(&msgs[n]);
        cr_assert_geq(zmq_msg_recv(&msgs[n], k->router, 0), 0);
        more = zmq_msg_more(&msgs[n]);
        n++;
    }
    cr_assert_geq(n, 2);
    lt_test_kmsg_free(m);
    m->rid_len = zmq_msg_size(&msgs[0]);
    cr_assert_leq(m->rid_len, sizeof m->rid);
    memcpy(m->rid, zmq_msg_data(&msgs[0]), m->rid_len);
    lt_frame_part_t parts[MAXP];
    for (size_t i = 1; i < n; i++)
        parts[i - 1] = (lt_frame_part_t){zmq_msg_data(&msgs[i]), zmq_msg_size(&msgs[i])};
    lt_errbuf_t eb = {""};
    lt_err_t rc = lt_frame_decode(parts, n - 1, &m->f, NULL, &eb);
    cr_assert_eq(rc, LT_OK, "the service sent a malformed message: %s", eb.msg);
    m->body = malloc(m->f.len + 1);
    cr_assert_not_null(m->body);
    if (m->f.len)
        memcpy(m->body, m->f.body, m->f.len);
    m->f.body = m->body;
    for (size_t i = 0; i < n; i++)
        zmq_msg_close(&msgs[i]);
    return true;
}

bool lt_test_kernel_expect(lt_test_kernel_t *k, lt_frame_cmd_t cmd, int timeout_ms,
                           lt_test_kmsg_t *m)
{
    uint64_t deadline = lt_test_mono_ms() + (uint64_t)timeout_ms;
    for (;;) {
        if (!lt_test_kernel_recv(k, s_left(deadline), m))
            return false;
        if (m->f.cmd == cmd)
            return true;
        cr_assert_eq(m->f.cmd, LT_FRAME_HEARTBEAT, "expected command %d, got %d", (int)cmd,
                     (int)m->f.cmd);
        k->heartbeats++;
        if (k->answer_heartbeats) {
            lt_frame_t hb = {.cmd = LT_FRAME_HEARTBEAT};
            lt_test_kernel_send(k, m->rid, m->rid_len, &hb);
        }
    }
}

void lt_test_kernel_send_raw(lt_test_kernel_t *k, const uint8_t *rid, size_t rid_len,
                             const lt_frame_part_t *parts, size_t n)
{
    cr_assert_not_null(k->router);
    int rc = zmq_send(k->router, rid, rid_len, ZMQ_SNDMORE);
    cr_assert_eq(rc, (int)rid_len, "send to the service: %s", zmq_strerror(errno));
    for (size_t i = 0; i < n; i++) {
        const void *p = parts[i].len ? (const void *)parts[i].p : "";
        rc = zmq_send(k->router, p, parts[i].len, i + 1 < n ? ZMQ_SNDMORE : 0);
        cr_assert_eq(rc, (int)parts[i].len);
    }
}

void lt_test_kernel_send(lt_test_kernel_t *k, const uint8_t *rid, size_t rid_len,
                         const lt_frame_t *f)
{
    lt_frame_part_t parts[LT_FRAME_MAX_PARTS];
    size_t n;
    lt_frame_scratch_t scratch;
    lt_errbuf_t eb = {""};
    cr_assert_eq(lt_frame_encode(f, parts, &n, &scratch, &eb), LT_OK, "encode: %s", eb.msg);
    lt_test_kernel_send_raw(k, rid, rid_len, parts, n);
}

void lt_test_child_spawn(lt_test_child_t *c, int (*fn)(void *), void *arg)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    fflush(NULL); /* nothing buffered is written twice */
    pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        close(fds[0]);
        /* fds[1] stays open until the child is gone. _exit: the test
         * framework's exit handlers belong to the parent. */
        _exit(fn(arg));
    }
    close(fds[1]);
    c->pid = pid;
    c->exit_fd = fds[0];
}

int lt_test_child_wait(lt_test_child_t *c, int timeout_ms)
{
    uint64_t deadline = lt_test_mono_ms() + (uint64_t)timeout_ms;
    struct pollfd pfd = {.fd = c->exit_fd, .events = POLLIN};
    for (;;) {
        int rc = poll(&pfd, 1, s_left(deadline));
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc > 0)
            break;
        if (s_left(deadline) == 0) {
            kill(c->pid, SIGKILL);
            waitpid(c->pid, NULL, 0);
            close(c->exit_fd);
            return -1;
        }
    }
    int status = 0;
    pid_t got;
    while ((got = waitpid(c->pid, &status, 0)) < 0 && errno == EINTR)
        ;
    close(c->exit_fd);
    cr_assert_eq(got, c->pid);
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}
