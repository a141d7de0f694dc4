/* The node child process, /proc and the build's programs
 * (bench_ipc_common.h). */

/* nftw() is an XSI function. */
#define _XOPEN_SOURCE 700

#include "bench_ipc_common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define S_MAX_ARGS 16

double lt_bench_proc_cpu_s(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    unsigned long long total = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char stat[sizeof path + sizeof e->d_name + 16];
        snprintf(stat, sizeof stat, "%s/%s/schedstat", path, e->d_name);
        FILE *f = fopen(stat, "r");
        unsigned long long ns = 0;
        if (f && fscanf(f, "%llu", &ns) == 1)
            total += ns;
        if (f)
            fclose(f);
    }
    closedir(d);
    return (double)total * 1e-9;
}

long long lt_bench_proc_mem_bytes(pid_t pid, const char *file, const char *field)
{
    char path[96];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t flen = strlen(field);
    long long kb = -1;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
            if (sscanf(line + flen + 1, "%lld", &kb) != 1)
                kb = -1;
            break;
        }
    }
    fclose(f);
    return kb < 0 ? -1 : kb * 1024;
}

bool lt_bench_ipc_endpoint(const char *dir, const char *name, char *out, size_t cap)
{
    struct sockaddr_un sun;
    int len = snprintf(out, cap, "ipc://%s/%s", dir, name);
    if (len < 0 || (size_t)len >= cap || (size_t)len - 6 >= sizeof sun.sun_path) {
        lt_bench_note("socket path %s/%s is too long for AF_UNIX (at most %zu bytes): "
                      "use a shorter --home-dir",
                      dir, name, sizeof sun.sun_path - 1);
        return false;
    }
    return true;
}

/* ---- the node child ---- */

static void s_describe_status(int wstatus, char *out, size_t cap)
{
    if (WIFEXITED(wstatus))
        snprintf(out, cap, "exit %d", WEXITSTATUS(wstatus));
    else if (WIFSIGNALED(wstatus))
        snprintf(out, cap, "signal %d", WTERMSIG(wstatus));
    else
        snprintf(out, cap, "status 0x%x", (unsigned)wstatus);
}

bool lt_bench_node_alive(lt_bench_node_t *node)
{
    if (node->pid <= 0)
        return false;
    int st;
    pid_t r = waitpid(node->pid, &st, WNOHANG);
    if (r == node->pid || (r < 0 && errno == ECHILD)) {
        node->wstatus = r == node->pid ? st : 0;
        node->pid = 0;
        return false;
    }
    return true;
}

void lt_bench_node_log_tail(lt_bench_node_t *node)
{
    if (node->log_shown)
        return;
    node->log_shown = true;
    char path[LT_BENCH_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/latticed.log", node->home);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(path, sizeof path, "%s", node->log);
        f = fopen(path, "r");
    }
    if (!f)
        return;
    char buf[4096];
    long start = 0;
    if (fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        start = size > (long)sizeof buf - 1 ? size - (long)sizeof buf + 1 : 0;
    }
    size_t n = 0;
    if (fseek(f, start, SEEK_SET) == 0)
        n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = buf;
    if (start > 0) { /* skip the partial first line */
        char *nl = strchr(p, '\n');
        p = nl ? nl + 1 : p + n;
    }
    if (*p == '\0')
        return;
    lt_bench_note("last lines of %s:", path);
    for (char *line = strtok(p, "\n"); line; line = strtok(NULL, "\n"))
        fprintf(stderr, "  | %s\n", line);
}

static int s_node_fail(lt_bench_node_t *node)
{
    lt_bench_node_log_tail(node);
    (void)lt_bench_node_stop(node);
    return -1;
}

int lt_bench_node_start_in(lt_bench_node_t *node, const char *prog, const char *base,
                           const char *label, const char *const *args, uint32_t timeout_ms,
                           lt_client_t **client)
{
    char home[LT_BENCH_PATH_MAX], log[LT_BENCH_PATH_MAX], sock[LT_BENCH_PATH_MAX];
    snprintf(home, sizeof home, "%s/%s", base, label);
    snprintf(log, sizeof log, "%s/%s.out", base, label);
    if (!lt_bench_ipc_endpoint(home, "kernel.sock", sock, sizeof sock))
        return -1;
    return lt_bench_node_start(node, prog, home, log, args, timeout_ms, client);
}

int lt_bench_node_start(lt_bench_node_t *node, const char *latticed, const char *home,
                        const char *log, const char *const *args, uint32_t timeout_ms,
                        lt_client_t **client)
{
    memset(node, 0, sizeof *node);
    *client = NULL;
    const char *base = strrchr(latticed, '/');
    snprintf(node->prog, sizeof node->prog, "%s", base ? base + 1 : latticed);
    if (snprintf(node->home, sizeof node->home, "%s", home) >= (int)sizeof node->home ||
        snprintf(node->log, sizeof node->log, "%s", log) >= (int)sizeof node->log) {
        lt_bench_note("path too long: %s", home);
        return -1;
    }
    if (mkdir(home, 0700) != 0) {
        lt_bench_note("cannot make the home %s: %s", home, strerror(errno));
        return -1;
    }

    const char *argv[S_MAX_ARGS + 4] = {latticed, "--home", home};
    size_t argc = 3;
    for (size_t i = 0; args && args[i]; i++) {
        if (i == S_MAX_ARGS) {
            lt_bench_note("too many %s arguments", node->prog);
            return -1;
        }
        argv[argc++] = args[i];
    }
    argv[argc] = NULL;

    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0) {
        lt_bench_note("posix_spawn_file_actions_init failed");
        return -1;
    }
    int rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (rc == 0)
        rc = posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (rc == 0)
        rc = posix_spawn_file_actions_adddup2(&fa, 1, 2);
    if (rc == 0) {
        /* posix_spawn takes char *const argv[]; it does not write them. */
        char *const *av = (char *const *)(void *)argv;
        rc = strchr(latticed, '/') ? posix_spawn(&node->pid, latticed, &fa, NULL, av, environ)
                                   : posix_spawnp(&node->pid, latticed, &fa, NULL, av, environ);
    }
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        node->pid = 0;
        lt_bench_note("cannot start %s: %s", latticed, strerror(rc));
        return -1;
    }

    /* Ready = answers a ping. Poll until it does, it exits, or the deadline. */
    double deadline = lt_bench_now() + LT_BENCH_START_MS / 1000.0;
    lt_client_opts_t copts = {.home = node->home, .timeout_ms = 250};
    lt_errbuf_t eb = {{0}};
    for (;;) {
        if (!lt_bench_node_alive(node)) {
            char why[64];
            s_describe_status(node->wstatus, why, sizeof why);
            lt_bench_note("%s exited (%s) before it answered a ping", latticed, why);
            return s_node_fail(node);
        }
        lt_client_t *c = NULL;
        lt_errbuf_clear(&eb);
        if (lt_client_connect(&copts, &c, &eb) == LT_OK) {
            lt_client_set_timeout(c, timeout_ms);
            *client = c;
            return 0;
        }
        if (lt_bench_now() > deadline) {
            lt_bench_note("%s did not answer a ping within %d ms: %s", latticed, LT_BENCH_START_MS,
                          eb.msg[0] ? eb.msg : "no answer");
            return s_node_fail(node);
        }
        lt_bench_pause_ms(10);
    }
}

int lt_bench_node_wait_service(lt_bench_node_t *node, lt_client_t *c, const char *name,
                               uint32_t not_pid, uint32_t timeout_ms, uint32_t *pid)
{
    double deadline = lt_bench_now() + timeout_ms / 1000.0;
    lt_client_service_t svc[16];
    const char *state = "absent";
    lt_err_t rc = LT_OK;
    for (;;) {
        size_t n = 0;
        rc = lt_client_node_services(c, svc, sizeof svc / sizeof svc[0], &n);
        if (rc == LT_OK) {
            state = "absent";
            for (size_t i = 0; i < n && i < sizeof svc / sizeof svc[0]; i++) {
                if (strcmp(svc[i].name, name) != 0)
                    continue;
                state = lt_client_service_state_name(svc[i].state);
                if (svc[i].state == LT_SERVICE_READY && (not_pid == 0 || svc[i].pid != not_pid)) {
                    *pid = svc[i].pid;
                    return 0;
                }
            }
        }
        if (!lt_bench_node_alive(node)) {
            lt_bench_note("%s exited while waiting for service %s", node->prog, name);
            return s_node_fail(node);
        }
        if (lt_bench_now() > deadline) {
            if (rc != LT_OK)
                lt_bench_note("service %s: listing the node's services: %s", name,
                              lt_client_errmsg(c));
            else
                lt_bench_note("service %s not READY%s within %u ms (it is %s)", name,
                              not_pid ? " with a new pid" : "", timeout_ms, state);
            lt_bench_node_log_tail(node);
            return -1;
        }
        lt_bench_pause_ms(2);
    }
}

int lt_bench_node_stop(lt_bench_node_t *node)
{
    if (node->pid <= 0)
        return 0;
    pid_t pid = node->pid;
    kill(pid, SIGTERM);
    double deadline = lt_bench_now() + LT_BENCH_STOP_MS / 1000.0;
    while (lt_bench_node_alive(node)) {
        if (lt_bench_now() > deadline) {
            lt_bench_note("%s (pid %d) did not stop within %d ms of SIGTERM: killing it",
                          node->prog, (int)pid, LT_BENCH_STOP_MS);
            kill(pid, SIGKILL);
            int st;
            waitpid(pid, &st, 0);
            node->pid = 0;
            return -1;
        }
        lt_bench_pause_ms(5);
    }
    if (!WIFEXITED(node->wstatus) || WEXITSTATUS(node->wstatus) != 0) {
        char why[64];
        s_describe_status(node->wstatus, why, sizeof why);
        lt_bench_note("%s (pid %d) ended with %s after SIGTERM", node->prog, (int)pid, why);
        return -1;
    }
    return 0;
}

bool lt_bench_build_program(const char *rel, char *out, size_t cap)
{
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        for (int up = 0; up < 3; up++) { /* the executable, bench, tools */
            char *slash = strrchr(exe, '/');
            if (!slash)
                break;
            *slash = '\0';
        }
        int n = snprintf(out, cap, "%s/%s", exe, rel);
        if (n > 0 && (size_t)n < cap && access(out, X_OK) == 0)
            return true;
    }
    const char *base = strrchr(rel, '/');
    snprintf(out, cap, "%s", base ? base + 1 : rel);
    return false;
}
