/* The integration harness (tests/support/node.h). */
#define _GNU_SOURCE /* pipe2 */
#include "support/node.h"

#include "support/testutil.h"

#include "kernel.pb.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pb_decode.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

extern char **environ;

/* Between two looks at a polled condition. */
#define S_POLL_NS (5 * 1000 * 1000)

static uint64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint32_t s_timeout(uint32_t ms)
{
    return ms ? ms : LT_NODE_TIMEOUT_MS;
}

static void s_pause(void)
{
    struct timespec ts = {0, S_POLL_NS};
    nanosleep(&ts, NULL);
}

const char *lt_test_env_path(const char *name)
{
    const char *v = getenv(name);
    cr_assert(v && v[0], "%s is not set (run the integration suite through meson test)", name);
    return v;
}

/* ---- environment and spawning ---- */

/* environ with extra "NAME=value" entries added or replacing; a malloc'd
 * array of borrowed strings. */
static char **s_envp(const char *const *extra)
{
    size_t n = 0, m = 0;
    while (environ[n])
        n++;
    while (extra && extra[m])
        m++;
    char **envp = calloc(n + m + 1, sizeof *envp);
    cr_assert(envp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(environ[i], '=');
        size_t klen = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
        bool replaced = false;
        for (size_t j = 0; j < m; j++)
            if (strncmp(extra[j], environ[i], klen) == 0 && extra[j][klen] == '=')
                replaced = true;
        if (!replaced)
            envp[k++] = environ[i];
    }
    for (size_t j = 0; j < m; j++)
        envp[k++] = (char *)extra[j];
    envp[k] = NULL;
    return envp;
}

/* fork + exec with stdin from in_fd (or /dev/null), stdout and stderr to
 * out_fd/err_fd; only async-signal-safe calls after the fork (the test
 * process has libzmq threads). */
static pid_t s_spawn(const char *path, char *const argv[], char *const envp[], int in_fd,
                     int out_fd, int err_fd, bool pdeathsig)
{
    pid_t parent = getpid();
    int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
    cr_assert(nul >= 0);
    pid_t pid = fork();
    cr_assert(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        if (pdeathsig) {
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            if (getppid() != parent)
                _exit(127);
        }
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        dup2(in_fd >= 0 ? in_fd : nul, STDIN_FILENO);
        dup2(out_fd, STDOUT_FILENO);
        dup2(err_fd, STDERR_FILENO);
        execve(path, argv, envp);
        _exit(127);
    }
    close(nul);
    return pid;
}

static int s_decode_status(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return -1;
}

/* ---- programs ---- */

static void s_append(char **buf, size_t *len, size_t *cap, const char *p, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 4096;
        while (c < *len + n + 1)
            c *= 2;
        *buf = realloc(*buf, c);
        cr_assert(*buf);
        *cap = c;
    }
    memcpy(*buf + *len, p, n);
    *len += n;
    (*buf)[*len] = '\0';
}

void lt_test_run(const char *const argv[], const char *const env[], const char *stdin_data,
                 uint32_t timeout_ms, lt_test_run_t *out)
{
    memset(out, 0, sizeof *out);
    int in[2], o[2], e[2];
    cr_assert(pipe2(in, O_CLOEXEC) == 0 && pipe2(o, O_CLOEXEC) == 0 && pipe2(e, O_CLOEXEC) == 0);
    char **envp = s_envp(env);
    pid_t pid = s_spawn(argv[0], (char *const *)argv, envp, in[0], o[1], e[1], true);
    free(envp);
    close(in[0]);
    close(o[1]);
    close(e[1]);
    size_t in_len = stdin_data ? strlen(stdin_data) : 0, in_off = 0;
    if (in_len == 0) {
        close(in[1]);
        in[1] = -1;
    } else {
        fcntl(in[1], F_SETFL, O_NONBLOCK);
    }
    size_t ocap = 0, ecap = 0;
    s_append(&out->out, &out->out_len, &ocap, "", 0);
    s_append(&out->err, &out->err_len, &ecap, "", 0);
    uint64_t deadline = s_now_ms() + s_timeout(timeout_ms);
    int ofd = o[0], efd = e[0];
    while (ofd >= 0 || efd >= 0) {
        uint64_t now = s_now_ms();
        if (now >= deadline) {
            kill(pid, SIGKILL);
            out->timed_out = true;
            break;
        }
        struct pollfd p[3] = {{ofd, POLLIN, 0}, {efd, POLLIN, 0}, {in[1], POLLOUT, 0}};
        if (poll(p, 3, (int)(deadline - now)) < 0 && errno != EINTR)
            break;
        char buf[4096];
        for (int i = 0; i < 2; i++) {
            int *fd = i == 0 ? &ofd : &efd;
            if (*fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t n = read(*fd, buf, sizeof buf);
            if (n > 0) {
                if (i == 0)
                    s_append(&out->out, &out->out_len, &ocap, buf, (size_t)n);
                else
                    s_append(&out->err, &out->err_len, &ecap, buf, (size_t)n);
            } else if (n == 0 || errno != EINTR) {
                close(*fd);
                *fd = -1;
            }
        }
        if (in[1] >= 0 && (p[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t n = write(in[1], stdin_data + in_off, in_len - in_off);
            if (n > 0)
                in_off += (size_t)n;
            if (n < 0 || in_off == in_len) {
                close(in[1]);
                in[1] = -1;
            }
        }
    }
    if (ofd >= 0)
        close(ofd);
    if (efd >= 0)
        close(efd);
    if (in[1] >= 0)
        close(in[1]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    out->status = s_decode_status(status);
}

void lt_test_run_free(lt_test_run_t *r)
{
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof *r);
}

/* ---- processes ---- */

bool lt_test_alive(pid_t pid)
{
    if (pid <= 0)
        return false;
    /* Reap it when it is our child, so that it does not linger as a
     * zombie. */
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid)
        return false;
    if (kill(pid, 0) != 0 && errno == ESRCH)
        return false;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    char buf[512];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *rp = strrchr(buf, ')');
    return !(rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X'));
}

bool lt_test_wait_gone(pid_t pid, uint32_t timeout_ms)
{
    uint64_t deadline = s_now_ms() + s_timeout(timeout_ms);
    while (lt_test_alive(pid)) {
        if (s_now_ms() >= deadline)
            return false;
        s_pause();
    }
    return true;
}

void lt_test_kill9(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGKILL);
    cr_assert(lt_test_wait_gone(pid, 0), "pid %d survived SIGKILL", (int)pid);
}

/* ---- frames ---- */

void lt_node_frame_clear(lt_node_frame_t *f)
{
    free(f->body);
    memset(f, 0, sizeof *f);
}

void lt_node_error_text(const lt_node_frame_t *reply, char *out, size_t cap)
{
    lattice_kernel_Error e = lattice_kernel_Error_init_zero;
    out[0] = '\0';
    if (!reply->len)
        return;
    pb_istream_t is = pb_istream_from_buffer(reply->body, reply->len);
    if (pb_decode(&is, lattice_kernel_Error_fields, &e))
        snprintf(out, cap, "%s", e.message);
}

/* ---- raw connections ---- */

struct lt_node_conn {
    void *ctx;
    void *sock;
    uint64_t next_corr;
};

lt_node_conn_t *lt_node_conn_open(const char *home)
{
    lt_node_conn_t *c = calloc(1, sizeof *c);
    cr_assert(c);
    c->ctx = zmq_ctx_new();
    cr_assert(c->ctx);
    c->sock = zmq_socket(c->ctx, ZMQ_DEALER);
    cr_assert(c->sock);
    int linger = 0, reconnect = 10;
    int64_t maxmsg = LT_FRAME_MAX_PART;
    zmq_setsockopt(c->sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(c->sock, ZMQ_RECONNECT_IVL, &reconnect, sizeof reconnect);
    zmq_setsockopt(c->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    char ep[512];
    snprintf(ep, sizeof ep, "ipc://%s/kernel.sock", home);
    cr_assert(zmq_connect(c->sock, ep) == 0, "connect %s: %s", ep, zmq_strerror(errno));
    /* Corrs unique per connection, and not 0. */
    c->next_corr = ((uint64_t)getpid() << 32) | 1;
    return c;
}

void lt_node_conn_close(lt_node_conn_t **c_p)
{
    lt_node_conn_t *c = *c_p;
    if (!c)
        return;
    zmq_close(c->sock);
    zmq_ctx_term(c->ctx);
    free(c);
    *c_p = NULL;
}

void lt_node_conn_send_parts(lt_node_conn_t *c, const lt_frame_part_t *parts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int flags = i + 1 < n ? ZMQ_SNDMORE : 0;
        const void *p = parts[i].len ? (const void *)parts[i].p : "";
        cr_assert(zmq_send(c->sock, p, parts[i].len, flags) >= 0, "send: %s", zmq_strerror(errno));
    }
}

void lt_node_conn_send(lt_node_conn_t *c, const lt_frame_t *f)
{
    lt_frame_part_t parts[LT_FRAME_MAX_PARTS];
    size_t n = 0;
    lt_frame_scratch_t scratch;
    lt_errbuf_t eb = {{0}};
    cr_assert(lt_frame_encode(f, parts, &n, &scratch, &eb) == LT_OK, "encode: %s", eb.msg);
    lt_node_conn_send_parts(c, parts, n);
}

lt_err_t lt_node_conn_recv(lt_node_conn_t *c, uint32_t timeout_ms, lt_node_frame_t *out)
{
    memset(out, 0, sizeof *out);
    zmq_pollitem_t it = {.socket = c->sock, .events = ZMQ_POLLIN};
    uint64_t deadline = s_now_ms() + s_timeout(timeout_ms);
    for (;;) {
        uint64_t now = s_now_ms();
        if (now >= deadline)
            return LT_ETIMEDOUT;
        int rc = zmq_poll(&it, 1, (long)(deadline - now));
        if (rc < 0 && errno == EINTR)
            continue;
        cr_assert(rc >= 0, "poll: %s", zmq_strerror(errno));
        if (rc > 0)
            break;
    }
    zmq_msg_t msgs[LT_FRAME_MAX_PARTS + 1];
    lt_frame_part_t parts[LT_FRAME_MAX_PARTS + 1];
    size_t n = 0;
    for (;;) {
        cr_assert(n < LT_FRAME_MAX_PARTS + 1, "a message with too many parts from the kernel");
        zmq_msg_init(&msgs[n]);
        cr_assert(zmq_msg_recv(&msgs[n], c->sock, 0) >= 0, "recv: %s", zmq_strerror(errno));
        parts[n].p = zmq_msg_data(&msgs[n]);
        parts[n].len = zmq_msg_size(&msgs[n]);
        bool more = zmq_msg_more(&msgs[n]);
        n++;
        if (!more)
            break;
    }
    lt_frame_t f;
    lt_errbuf_t eb = {{0}};
    lt_err_t rc = lt_frame_decode(parts, n, &f, NULL, &eb);
    cr_assert(rc == LT_OK, "the kernel sent a frame that does not decode: %s", eb.msg);
    out->cmd = f.cmd;
    snprintf(out->addr, sizeof out->addr, "%s", f.addr);
    out->corr = f.corr;
    out->type = f.type;
    out->status = f.status;
    if (f.len) {
        out->body = malloc(f.len);
        cr_assert(out->body);
        memcpy(out->body, f.body, f.len);
    }
    out->len = f.len;
    snprintf(out->name, sizeof out->name, "%s", f.name);
    out->proto = f.proto;
    out->pid = f.pid;
    for (size_t i = 0; i < n; i++)
        zmq_msg_close(&msgs[i]);
    return LT_OK;
}

lt_err_t lt_node_conn_request(lt_node_conn_t *c, const char *to, uint32_t type, const void *body,
                              size_t len, uint32_t timeout_ms, lt_node_frame_t *reply)
{
    lt_frame_t f = {
        .cmd = LT_FRAME_REQUEST, .corr = c->next_corr++, .type = type, .body = body, .len = len};
    snprintf(f.addr, sizeof f.addr, "%s", to);
    lt_node_conn_send(c, &f);
    uint64_t deadline = s_now_ms() + s_timeout(timeout_ms);
    for (;;) {
        uint64_t now = s_now_ms();
        if (now >= deadline)
            return LT_ETIMEDOUT;
        lt_err_t rc = lt_node_conn_recv(c, (uint32_t)(deadline - now), reply);
        if (rc)
            return rc;
        if (reply->cmd == LT_FRAME_REPLY && reply->corr == f.corr)
            return LT_OK;
        lt_node_frame_clear(reply);
    }
}

void lt_node_conn_ready(lt_node_conn_t *c, const char *name, uint32_t proto, uint32_t pid)
{
    lt_frame_t f = {.cmd = LT_FRAME_READY, .proto = proto, .pid = pid};
    snprintf(f.name, sizeof f.name, "%s", name);
    lt_node_conn_send(c, &f);
}

/* ---- nodes ---- */

static void s_cat(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return;
    char buf[4096];
    size_t n;
    fprintf(stderr, "---- %s ----\n", path);
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        fwrite(buf, 1, n, stderr);
    fclose(f);
}

void lt_node_dump(const lt_node_t *n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/latticed.out", n->dir);
    s_cat(path);
}

static void s_launch(lt_node_t *n, const lt_node_opts_t *opts)
{
    const char *latticed = opts && opts->program ? opts->program : lt_test_env_path("LT_LATTICED");
    const char *argv[64];
    size_t argc = 0;
    argv[argc++] = latticed;
    argv[argc++] = "--home";
    argv[argc++] = n->home;
    for (size_t i = 0; opts && opts->args && opts->args[i]; i++) {
        cr_assert(argc < 62, "too many latticed arguments");
        argv[argc++] = opts->args[i];
    }
    argv[argc] = NULL;
    char out[512];
    snprintf(out, sizeof out, "%s/latticed.out", n->dir);
    int fd = open(out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    cr_assert(fd >= 0, "open %s: %s", out, strerror(errno));
    char **envp = s_envp(opts ? opts->env : NULL);
    n->pid = s_spawn(latticed, (char *const *)argv, envp, -1, fd, fd, true);
    free(envp);
    close(fd);
}

static void s_kill_services(const lt_node_t *n);

/* A node that did not come up: print what it said, kill what it started
 * (the test cannot clean up a node it never got), keep the directory. */
static void s_fail_start(lt_node_t *n)
{
    lt_node_dump(n);
    if (n->pid > 0)
        lt_node_kill9(n);
    s_kill_services(n);
    fprintf(stderr, "node directory kept: %s\n", n->dir);
}

/* Waits for PING and the READY services of opts. */
static void s_wait_up(lt_node_t *n, const lt_node_opts_t *opts)
{
    uint32_t timeout = s_timeout(opts ? opts->timeout_ms : 0);
    uint64_t deadline = s_now_ms() + timeout;
    for (;;) {
        int status;
        if (waitpid(n->pid, &status, WNOHANG) == n->pid) {
            n->pid = 0;
            s_fail_start(n);
            cr_assert_fail("latticed exited during start (status %d)", s_decode_status(status));
        }
        if (lt_node_ping(n, 200) == LT_OK)
            break;
        if (s_now_ms() >= deadline) {
            s_fail_start(n);
            cr_assert_fail("latticed did not answer PING within %u ms", timeout);
        }
    }
    for (size_t i = 0; opts && opts->ready && opts->ready[i]; i++) {
        lt_node_want_t want = {.state = LT_NODE_READY};
        uint64_t now = s_now_ms();
        uint32_t left = now < deadline ? (uint32_t)(deadline - now) : 1;
        if (!lt_node_wait_service(n, opts->ready[i], &want, left, NULL)) {
            s_fail_start(n);
            cr_assert_fail("service %s not READY within %u ms", opts->ready[i], timeout);
        }
    }
}

static lt_node_t *s_start(lt_node_t *n, const lt_node_opts_t *opts)
{
    s_launch(n, opts);
    n->conn = lt_node_conn_open(n->home);
    if (!opts || !opts->no_wait)
        s_wait_up(n, opts);
    return n;
}

lt_node_t *lt_node_start(const lt_node_opts_t *opts)
{
    lt_node_t *n = calloc(1, sizeof *n);
    cr_assert(n);
    n->dir = lt_test_tmpdir("node");
    n->owns_dir = true;
    if (opts && opts->home)
        snprintf(n->home, sizeof n->home, "%s", opts->home);
    else
        snprintf(n->home, sizeof n->home, "%s/home", n->dir);
    return s_start(n, opts);
}

lt_node_t *lt_node_start_on(const lt_node_t *other, const lt_node_opts_t *opts)
{
    lt_node_t *n = calloc(1, sizeof *n);
    cr_assert(n);
    n->dir = strdup(other->dir);
    cr_assert(n->dir);
    n->owns_dir = false;
    snprintf(n->home, sizeof n->home, "%s", other->home);
    return s_start(n, opts);
}

int lt_node_wait_exit(lt_node_t *n, uint32_t timeout_ms)
{
    if (n->pid <= 0)
        return n->exit_status;
    uint64_t deadline = s_now_ms() + s_timeout(timeout_ms);
    for (;;) {
        int status;
        pid_t r = waitpid(n->pid, &status, WNOHANG);
        if (r == n->pid) {
            n->pid = 0;
            n->exit_status = s_decode_status(status);
            return n->exit_status;
        }
        if (s_now_ms() >= deadline) {
            lt_node_dump(n);
            cr_assert_fail("latticed (pid %d) did not exit within %u ms", (int)n->pid,
                           s_timeout(timeout_ms));
        }
        s_pause();
    }
}

int lt_node_stop(lt_node_t *n)
{
    if (n->pid <= 0)
        return n->exit_status;
    kill(n->pid, SIGTERM);
    return lt_node_wait_exit(n, 0);
}

void lt_node_kill9(lt_node_t *n)
{
    if (n->pid <= 0)
        return;
    kill(n->pid, SIGKILL);
    int status;
    while (waitpid(n->pid, &status, 0) < 0 && errno == EINTR)
        ;
    n->pid = 0;
}

/* Kills the services the home's pid files name, when they run on this
 * home (a test that killed the kernel leaves them running). */
static void s_kill_services(const lt_node_t *n)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/services", n->home);
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".pid") != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "re");
        if (!f)
            continue;
        int pid = 0;
        if (fscanf(f, "%d", &pid) != 1)
            pid = 0;
        fclose(f);
        if (pid <= 0 || !lt_test_alive(pid))
            continue;
        char cmd[64], args[4096];
        snprintf(cmd, sizeof cmd, "/proc/%d/cmdline", pid);
        FILE *c = fopen(cmd, "re");
        if (!c)
            continue;
        size_t m = fread(args, 1, sizeof args - 1, c);
        fclose(c);
        bool ours = false;
        for (size_t i = 0; i < m; i += strlen(args + i) + 1)
            if (strcmp(args + i, n->home) == 0)
                ours = true;
        if (ours)
            kill(pid, SIGKILL);
    }
    closedir(d);
}

void lt_node_destroy(lt_node_t **n_p)
{
    lt_node_t *n = *n_p;
    if (!n)
        return;
    lt_node_conn_close(&n->conn);
    if (n->pid > 0)
        lt_node_kill9(n);
    s_kill_services(n);
    if (!n->owns_dir || getenv("LT_TEST_KEEP")) {
        free(n->dir);
        n->dir = NULL;
    } else {
        lt_test_rmtree(&n->dir);
    }
    free(n);
    *n_p = NULL;
}

lt_err_t lt_node_request(lt_node_t *n, const char *to, uint32_t type, const void *body, size_t len,
                         uint32_t timeout_ms, lt_node_frame_t *reply)
{
    return lt_node_conn_request(n->conn, to, type, body, len, timeout_ms, reply);
}

lt_err_t lt_node_ping(lt_node_t *n, uint32_t timeout_ms)
{
    lt_node_frame_t r;
    lt_err_t rc = lt_node_request(n, LT_FRAME_KERNEL_ADDR, lattice_kernel_KernelMsgType_KERNEL_PING,
                                  NULL, 0, timeout_ms, &r);
    if (rc == LT_OK && r.status != LT_OK)
        rc = (lt_err_t)r.status;
    lt_node_frame_clear(&r);
    return rc;
}

size_t lt_node_services(lt_node_t *n, lt_node_service_t *out, size_t cap)
{
    lt_node_frame_t r;
    lt_err_t rc = lt_node_request(n, LT_FRAME_KERNEL_ADDR,
                                  lattice_kernel_KernelMsgType_KERNEL_SERVICES, NULL, 0, 5000, &r);
    cr_assert(rc == LT_OK, "SERVICES: no answer (%s)", lt_errname(rc));
    cr_assert(r.status == LT_OK, "SERVICES: status %u", r.status);
    lattice_kernel_ServiceList list = lattice_kernel_ServiceList_init_zero;
    pb_istream_t is = pb_istream_from_buffer(r.body, r.len);
    cr_assert(pb_decode(&is, lattice_kernel_ServiceList_fields, &list), "SERVICES: bad body");
    lt_node_frame_clear(&r);
    for (size_t i = 0; i < list.services_count && i < cap; i++) {
        const lattice_kernel_ServiceInfo *in = &list.services[i];
        lt_node_service_t *o = &out[i];
        memset(o, 0, sizeof *o);
        snprintf(o->name, sizeof o->name, "%s", in->name);
        o->state = (int)in->state;
        o->pid = in->pid;
        o->restarts = in->restarts;
        o->proto = in->proto;
        o->attached = in->attached;
        o->since_ms = in->since_ms;
        o->queued = in->queued;
        o->inflight = in->inflight;
        snprintf(o->last_exit, sizeof o->last_exit, "%s", in->last_exit);
    }
    return list.services_count;
}

bool lt_node_service(lt_node_t *n, const char *name, lt_node_service_t *out)
{
    lt_node_service_t all[16];
    size_t count = lt_node_services(n, all, 16);
    for (size_t i = 0; i < count && i < 16; i++) {
        if (strcmp(all[i].name, name) == 0) {
            *out = all[i];
            return true;
        }
    }
    return false;
}

static bool s_matches(const lt_node_service_t *s, const lt_node_want_t *w)
{
    if (w->state && s->state != w->state)
        return false;
    if (w->pid_not && (s->pid == 0 || s->pid == w->pid_not))
        return false;
    if (s->restarts < w->min_restarts)
        return false;
    return true;
}

bool lt_node_wait_service(lt_node_t *n, const char *name, const lt_node_want_t *want,
                          uint32_t timeout_ms, lt_node_service_t *out)
{
    uint64_t deadline = s_now_ms() + s_timeout(timeout_ms);
    lt_node_service_t s;
    memset(&s, 0, sizeof s);
    for (;;) {
        bool found = lt_node_service(n, name, &s);
        if (found && s_matches(&s, want)) {
            if (out)
                *out = s;
            return true;
        }
        if (s_now_ms() >= deadline) {
            if (out)
                *out = s;
            return false;
        }
        s_pause();
    }
}

uint32_t lt_node_service_pid(lt_node_t *n, const char *name)
{
    lt_node_want_t want = {.state = LT_NODE_READY};
    lt_node_service_t s;
    cr_assert(lt_node_wait_service(n, name, &want, 0, &s), "%s is not READY (state %d)", name,
              s.state);
    return s.pid;
}

bool lt_node_log_contains(const lt_node_t *n, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/latticed.log", n->home);
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    bool found = false;
    char line[2048];
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, text) != NULL;
    fclose(f);
    return found;
}

bool lt_node_wait_log(const lt_node_t *n, const char *text, uint32_t timeout_ms)
{
    uint64_t deadline = s_now_ms() + s_timeout(timeout_ms);
    while (!lt_node_log_contains(n, text)) {
        if (s_now_ms() >= deadline)
            return false;
        s_pause();
    }
    return true;
}
