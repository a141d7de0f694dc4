/* The supervisor (kernel/supervisor.h). One state machine per service,
 * driven by five kinds of events: the process exited (s_on_exit), it
 * registered (lt_sup_on_ready), its registration ended
 * (lt_sup_on_unregistered), a timer expired (lt_sup_tick), and a command
 * (lt_sup_restart, lt_sup_stop). Each handler switches on the state; the
 * table of transitions is in kernel/README.md. */
#define _GNU_SOURCE /* POSIX_SPAWN_SETSID */
#include "kernel/supervisor.h"

#include "kernel/inproc.h"
#include "kernel/router.h"

#include "kernel.pb.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define S_TAG "supervisor"
/* Backoff between restarts of a crash loop: doubles from the first value
 * up to the cap. A process that lived at least S_STABLE_MS was not in a
 * loop: it is restarted at once (the restart intensity still counts it). */
#define S_BACKOFF_FIRST_MS 10
#define S_BACKOFF_MAX_MS   5000
#define S_STABLE_MS        1000
/* How often processes that are not our children (re-adopted, attached) are
 * checked with kill(pid, 0): we get no SIGCHLD for them. */
#define S_POLL_MS 100

static const char *s_state_name(lt_ksvc_state_t st)
{
    switch (st) {
    case LT_KSVC_WAITING:
        return "waiting";
    case LT_KSVC_STARTING:
        return "starting";
    case LT_KSVC_ADOPTING:
        return "adopting";
    case LT_KSVC_READY:
        return "ready";
    case LT_KSVC_KILLING:
        return "killing";
    case LT_KSVC_BACKOFF:
        return "backoff";
    case LT_KSVC_FAILED:
        return "failed";
    case LT_KSVC_STOPPING:
        return "stopping";
    case LT_KSVC_STOPPED:
        return "stopped";
    }
    return "?";
}

static void s_set(lt_kernel_t *k, lt_ksvc_t *s, lt_ksvc_state_t st)
{
    if (s->state != st)
        lt_log_debug(&k->log, s->name, "%s -> %s", s_state_name(s->state), s_state_name(st));
    /* The start timeout runs from here: a READY service that goes back to
     * STARTING (a DISCONNECT, a new socket) gets the whole of it again. */
    if (st == LT_KSVC_STARTING && s->state != LT_KSVC_STARTING)
        s->starting_ms = lt_kernel_mono_ms();
    s->state = st;
    s->since_ms = lt_kernel_wall_ms();
}

int lt_sup_public_state(const lt_ksvc_t *s)
{
    switch (s->state) {
    case LT_KSVC_WAITING:
        return lattice_kernel_ServiceState_SERVICE_WAITING;
    case LT_KSVC_STARTING:
    case LT_KSVC_ADOPTING:
        return lattice_kernel_ServiceState_SERVICE_STARTING;
    case LT_KSVC_READY:
        return lattice_kernel_ServiceState_SERVICE_READY;
    case LT_KSVC_KILLING:
    case LT_KSVC_BACKOFF:
        return lattice_kernel_ServiceState_SERVICE_BACKOFF;
    case LT_KSVC_FAILED:
        return lattice_kernel_ServiceState_SERVICE_FAILED;
    case LT_KSVC_STOPPING:
    case LT_KSVC_STOPPED:
        return lattice_kernel_ServiceState_SERVICE_STOPPED;
    }
    return lattice_kernel_ServiceState_SERVICE_STATE_NONE;
}

lt_sup_route_t lt_sup_route(const lt_ksvc_t *s)
{
    switch (s->state) {
    case LT_KSVC_READY:
        return LT_SUP_DELIVER;
    case LT_KSVC_WAITING:
    case LT_KSVC_STARTING:
    case LT_KSVC_ADOPTING:
    case LT_KSVC_KILLING:
    case LT_KSVC_BACKOFF:
        return LT_SUP_QUEUE;
    case LT_KSVC_FAILED:
        return LT_SUP_FAILED;
    case LT_KSVC_STOPPING:
    case LT_KSVC_STOPPED:
        return LT_SUP_STOPPED;
    }
    return LT_SUP_STOPPED;
}

const char *lt_sup_fail_reason(const lt_ksvc_t *s)
{
    return s->fail_reason[0] ? s->fail_reason : "unknown reason";
}

/* ---- processes ---- */

/* Whether pid is a process that has not exited: kill(pid, 0) succeeds on a
 * zombie too, which has exited and released its locks, so /proc tells. */
static bool s_alive(pid_t pid)
{
    if (pid <= 0)
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
    /* "pid (comm) S ...": comm may hold spaces and parentheses. */
    const char *rp = strrchr(buf, ')');
    if (!rp || rp[1] != ' ')
        return true;
    return rp[2] != 'Z' && rp[2] != 'X';
}

/* Whether pid runs lattice-<name> on our home: its program (argv[0] or the
 * executable) is called lattice-<name> and its arguments hold --home HOME.
 * The pid file alone cannot tell: the pid may have been reused. */
static bool s_is_our_service(const lt_kernel_t *k, const lt_ksvc_t *s, pid_t pid)
{
    if (!s_alive(pid))
        return false;
    char want[LT_NAME_MAX + 16];
    snprintf(want, sizeof want, "lattice-%s", s->name);
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    bool named = false;
    bool home = false;
    size_t argc = 0;
    const char *prev = NULL;
    for (size_t i = 0; i < n; i += strlen(buf + i) + 1, argc++) {
        const char *arg = buf + i;
        if (argc == 0) {
            const char *base = strrchr(arg, '/');
            named = strcmp(base ? base + 1 : arg, want) == 0;
        }
        if (prev && strcmp(prev, "--home") == 0 && strcmp(arg, k->home->dir) == 0)
            home = true;
        prev = arg;
    }
    if (!named) {
        char exe[LT_KCONFIG_PATH_MAX];
        snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
        ssize_t len = readlink(path, exe, sizeof exe - 1);
        if (len > 0) {
            exe[len] = '\0';
            /* A rebuilt binary shows as "path (deleted)". */
            char *del = strstr(exe, " (deleted)");
            if (del)
                *del = '\0';
            const char *base = strrchr(exe, '/');
            named = strcmp(base ? base + 1 : exe, want) == 0;
        }
    }
    return named && home;
}

static void s_describe_status(int status, char *out, size_t cap)
{
    if (WIFEXITED(status))
        snprintf(out, cap, "exit %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(out, cap, "signal %d", WTERMSIG(status));
    else
        snprintf(out, cap, "status 0x%x", (unsigned)status);
}

static void s_fail(lt_kernel_t *k, lt_ksvc_t *s, const char *fmt, ...) LT_PRINTF(3, 4);

static void s_fail(lt_kernel_t *k, lt_ksvc_t *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->fail_reason, sizeof s->fail_reason, fmt, ap);
    va_end(ap);
    s->pid = 0;
    s->child = false;
    s_set(k, s, LT_KSVC_FAILED);
    lt_log_error(&k->log, s->name,
                 "failed: %s; not restarting it (`lattice node restart %s` tries again)",
                 s->fail_reason, s->name);
    char why[LT_KCONFIG_PATH_MAX + 256];
    snprintf(why, sizeof why, "service %s has failed (%s); see %s/latticed.log", s->name,
             s->fail_reason, k->home->dir);
    lt_router_flush_queue(k, s, LT_EFAILED, why);
}

static void s_flush_stopping(lt_kernel_t *k, lt_ksvc_t *s)
{
    char why[LT_NAME_MAX + 64];
    snprintf(why, sizeof why, "service %s is unavailable: the node is stopping", s->name);
    lt_router_flush_queue(k, s, LT_EUNAVAILABLE, why);
}

/* Spawns lattice-<name> --home HOME: STARTING, or FAILED when it cannot be
 * run at all (no such program: retrying would not help). */
static void s_spawn(lt_kernel_t *k, lt_ksvc_t *s)
{
    char path[LT_KCONFIG_PATH_MAX + LT_NAME_MAX + 16];
    snprintf(path, sizeof path, "%s/lattice-%s", k->libexec, s->name);
    char *argv[] = {path, "--home", k->home->dir, NULL};

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    /* The process runtime appends its lines to <home>/latticed.log itself
     * and writes them to stderr too: the service shares the kernel's
     * stderr (a terminal shows the whole node), stdout included, and
     * ignores SIGPIPE so a vanished reader cannot kill it. */
    posix_spawn_file_actions_adddup2(&fa, STDERR_FILENO, STDOUT_FILENO);
    /* Its own session: a terminal's ^C (SIGINT to the foreground process
     * group) reaches the kernel only, which stops services in order, and a
     * killed kernel leaves them running to be re-adopted. The kernel's
     * blocked signals and ignored SIGPIPE are not the service's business. */
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGHUP);
    sigaddset(&defaults, SIGCHLD);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr,
                             POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid = 0;
    int rc = posix_spawn(&pid, path, &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        s_fail(k, s, "cannot run %s: %s", path, strerror(rc));
        return;
    }
    s->pid = pid;
    s->child = true;
    s->killed = false;
    s->spawned_ms = lt_kernel_mono_ms();
    s->starting_ms = s->spawned_ms;
    s_set(k, s, LT_KSVC_STARTING);
    lt_errbuf_t eb = {{0}};
    if (lt_home_service_pid_write(k->home, s->name, pid, &eb) != LT_OK)
        lt_log_warn(&k->log, s->name, "%s (a restarted kernel will not re-adopt it)", eb.msg);
    if (s->spawned_once)
        lt_log_info(&k->log, s->name, "restarted as pid %d (restart %u)", (int)pid, s->restarts);
    else
        lt_log_info(&k->log, s->name, "started as pid %d", (int)pid);
    s->spawned_once = true;
}

/* Starts the actor of a hosted service: READY at once, or FAILED with why
 * (its configuration cannot be opened; `lattice node restart` tries again).
 * Returns whether it started. */
static bool s_host(lt_kernel_t *k, lt_ksvc_t *s)
{
    lt_errbuf_t eb = {{0}};
    if (lt_inproc_start(k, s, &eb) != LT_OK) {
        s_fail(k, s, "cannot start in-process: %s", eb.msg);
        return false;
    }
    lt_log_info(&k->log, s->name, "running in-process");
    s->spawned_once = true;
    s_set(k, s, LT_KSVC_READY);
    lt_router_hosted(k, s);
    return true;
}

/* Stops the actor of a hosted service; the requests the router holds in
 * flight for it are answered unavailable, naming why. */
static void s_unhost(lt_kernel_t *k, lt_ksvc_t *s, const char *why)
{
    lt_inproc_stop(k, s);
    lt_router_forget(k, s, why);
}

static void s_respawn(lt_kernel_t *k, lt_ksvc_t *s)
{
    s->restarts++;
    s_spawn(k, s);
}

/* A crash (any exit the supervisor did not ask for, but 100): give up past
 * the restart intensity; otherwise restart at once, unless the process is
 * in a crash loop (it died within S_STABLE_MS of its start, and not for the
 * first time in a row): then after a doubling backoff. */
static void s_crashed(lt_kernel_t *k, lt_ksvc_t *s)
{
    uint64_t now = lt_kernel_mono_ms();
    uint64_t window = (uint64_t)k->cfg->restart_window_s * 1000;
    size_t kept = 0;
    for (size_t i = 0; i < s->ncrashes; i++)
        if (now - s->crashes[i] < window)
            s->crashes[kept++] = s->crashes[i];
    s->ncrashes = kept;
    if (s->ncrashes >= k->cfg->max_restarts) {
        s_fail(k, s, "more than %u restarts in %u s, last: %s", k->cfg->max_restarts,
               k->cfg->restart_window_s, s->last_exit);
        return;
    }
    s->crashes[s->ncrashes++] = now;
    if (now - s->spawned_ms >= S_STABLE_MS)
        s->quick_crashes = 0;
    uint64_t delay = 0;
    if (s->quick_crashes > 0) {
        delay = S_BACKOFF_FIRST_MS;
        for (uint32_t i = 1; i < s->quick_crashes && delay < S_BACKOFF_MAX_MS; i++)
            delay *= 2;
        if (delay > S_BACKOFF_MAX_MS)
            delay = S_BACKOFF_MAX_MS;
    }
    s->quick_crashes++;
    if (delay == 0) {
        lt_log_info(&k->log, s->name, "down (%s); restarting", s->last_exit);
        s_respawn(k, s);
        return;
    }
    lt_log_info(&k->log, s->name, "down (%s); restarting in %llu ms (backoff)", s->last_exit,
                (unsigned long long)delay);
    s->deadline_ms = now + delay;
    s_set(k, s, LT_KSVC_BACKOFF);
}

static void s_stop_next(lt_kernel_t *k);

/* The process of s is gone: reaped (child) or found dead (not a child). */
static void s_on_exit(lt_kernel_t *k, lt_ksvc_t *s, const char *desc, bool permanent)
{
    lt_router_forget(k, s, desc);
    pid_t pid = s->pid;
    s->pid = 0;
    s->child = false;
    if (s->state == LT_KSVC_KILLING && s->then == LT_KSVC_THEN_CRASH && s->kill_why)
        snprintf(s->last_exit, sizeof s->last_exit, "%s", s->kill_why);
    else
        snprintf(s->last_exit, sizeof s->last_exit, "%s", desc);
    s->kill_why = NULL;

    if (s->attached) {
        lt_log_info(&k->log, s->name, "attached pid %d is gone (%s); waiting for another", (int)pid,
                    desc);
        s_set(k, s, k->stopping ? LT_KSVC_STOPPED : LT_KSVC_WAITING);
        return;
    }
    if (s->state == LT_KSVC_STOPPING || k->stopping) {
        lt_log_info(&k->log, s->name, "stopped (%s)", desc);
        lt_home_service_pid_remove(k->home, s->name);
        s_set(k, s, LT_KSVC_STOPPED);
        s_flush_stopping(k, s);
        s_stop_next(k);
        return;
    }
    switch (s->state) {
    case LT_KSVC_KILLING:
        if (s->then == LT_KSVC_THEN_RESPAWN) {
            lt_log_info(&k->log, s->name, "down (%s); starting it again", desc);
            s_respawn(k, s);
        } else {
            s_crashed(k, s);
        }
        return;
    case LT_KSVC_STARTING:
    case LT_KSVC_ADOPTING:
    case LT_KSVC_READY:
        if (permanent) {
            s_fail(k, s, "%s, a permanent error (configuration or version)", desc);
            return;
        }
        s_crashed(k, s);
        return;
    case LT_KSVC_WAITING:
    case LT_KSVC_BACKOFF:
    case LT_KSVC_FAILED:
    case LT_KSVC_STOPPING:
    case LT_KSVC_STOPPED:
        /* No process in these states: nothing to do. */
        return;
    }
}

void lt_sup_reap(lt_kernel_t *k)
{
    for (;;) {
        int status = 0;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            return;
        lt_ksvc_t *s = NULL;
        for (size_t i = 0; i < k->nsvcs; i++)
            if (k->svcs[i].child && k->svcs[i].pid == pid)
                s = &k->svcs[i];
        if (!s)
            continue; /* a child we already gave up on */
        char desc[64];
        s_describe_status(status, desc, sizeof desc);
        bool permanent = WIFEXITED(status) && WEXITSTATUS(status) == 100;
        s_on_exit(k, s, desc, permanent);
    }
}

/* Sends sig to s's process; SIGKILL marks the escalation done. */
static void s_signal(lt_kernel_t *k, lt_ksvc_t *s, int sig)
{
    if (s->pid <= 0)
        return;
    if (kill(s->pid, sig) != 0 && errno != ESRCH)
        lt_log_warn(&k->log, s->name, "cannot signal pid %d: %s", (int)s->pid, strerror(errno));
    if (sig == SIGKILL)
        s->killed = true;
}

/* ---- the ordered stop ---- */

static void s_stop_next(lt_kernel_t *k)
{
    for (size_t i = k->nsvcs; i-- > 0;) {
        lt_ksvc_t *s = &k->svcs[i];
        switch (s->state) {
        case LT_KSVC_STOPPED:
            continue;
        case LT_KSVC_STOPPING:
            return; /* one at a time, in order */
        case LT_KSVC_STARTING:
        case LT_KSVC_ADOPTING:
        case LT_KSVC_READY:
        case LT_KSVC_KILLING:
            if (s->inproc) {
                lt_log_info(&k->log, s->name, "stopping (in-process)");
                s_unhost(k, s, "the node is stopping");
                break;
            }
            if (!s->attached && s->pid > 0) {
                lt_log_info(&k->log, s->name, "stopping pid %d", (int)s->pid);
                if (!s->killed)
                    s_signal(k, s, SIGTERM);
                s->deadline_ms = lt_kernel_mono_ms() + k->cfg->stop_timeout_ms;
                s_set(k, s, LT_KSVC_STOPPING);
                return;
            }
            /* An attached process is the developer's: the kernel only
             * stops talking to it. */
            lt_router_forget(k, s, "the node is stopping");
            break;
        case LT_KSVC_WAITING:
        case LT_KSVC_BACKOFF:
        case LT_KSVC_FAILED:
            break;
        }
        s->pid = 0;
        s->child = false;
        lt_home_service_pid_remove(k->home, s->name);
        s_set(k, s, LT_KSVC_STOPPED);
        s_flush_stopping(k, s);
    }
}

void lt_sup_stop(lt_kernel_t *k)
{
    if (k->stopping)
        return;
    k->stopping = true;
    if (k->on_stopping)
        k->on_stopping(k, k->on_stopping_ctx);
    lt_log_info(&k->log, S_TAG, "stopping services in reverse start order");
    s_stop_next(k);
}

bool lt_sup_stopped(const lt_kernel_t *k)
{
    for (size_t i = 0; i < k->nsvcs; i++)
        if (k->svcs[i].state != LT_KSVC_STOPPED)
            return false;
    return true;
}

/* ---- registration ---- */

bool lt_sup_on_ready(lt_kernel_t *k, lt_ksvc_t *s, uint32_t pid)
{
    if (k->stopping || s->inproc)
        return false;
    if (s->attached) {
        if (s->state != LT_KSVC_WAITING && s->state != LT_KSVC_READY)
            return false;
        if (s->state == LT_KSVC_WAITING || s->pid != (pid_t)pid)
            lt_log_info(&k->log, s->name, "registered (attached, pid %u)", pid);
        s->pid = (pid_t)pid;
        s->child = false;
        s_set(k, s, LT_KSVC_READY);
        return true;
    }
    if (pid == 0 || s->pid != (pid_t)pid)
        return false;
    switch (s->state) {
    case LT_KSVC_STARTING:
        lt_log_info(&k->log, s->name, "ready (pid %u)", pid);
        s_set(k, s, LT_KSVC_READY);
        return true;
    case LT_KSVC_ADOPTING:
        lt_log_info(&k->log, s->name, "re-adopted pid %u, left running by the previous kernel",
                    pid);
        s_set(k, s, LT_KSVC_READY);
        return true;
    case LT_KSVC_READY:
        return true; /* the same process on a new connection */
    case LT_KSVC_WAITING:
    case LT_KSVC_KILLING:
    case LT_KSVC_BACKOFF:
    case LT_KSVC_FAILED:
    case LT_KSVC_STOPPING:
    case LT_KSVC_STOPPED:
        return false;
    }
    return false;
}

void lt_sup_on_unregistered(lt_kernel_t *k, lt_ksvc_t *s, bool heartbeat_lost)
{
    if (s->state != LT_KSVC_READY)
        return;
    if (s->attached) {
        lt_log_info(&k->log, s->name, "attached pid %d %s; waiting for it to register again",
                    (int)s->pid, heartbeat_lost ? "stopped heartbeating" : "disconnected");
        s->pid = 0;
        s_set(k, s, LT_KSVC_WAITING);
        return;
    }
    if (heartbeat_lost) {
        /* ZMTP pings are answered by libzmq's I/O thread even when the
         * service's loop is stuck: a silent service is hung. Kill it and
         * restart it as a crash. */
        lt_log_warn(&k->log, s->name, "hung (no heartbeat); killing pid %d", (int)s->pid);
        s->then = LT_KSVC_THEN_CRASH;
        s->kill_why = "heartbeat lost";
        s->deadline_ms = lt_kernel_mono_ms() + k->cfg->stop_timeout_ms;
        s_set(k, s, LT_KSVC_KILLING);
        s_signal(k, s, SIGKILL);
        return;
    }
    /* It said goodbye but is still running: it either exits (and the exit
     * code decides) or registers again. */
    lt_log_info(&k->log, s->name, "disconnected (pid %d still running)", (int)s->pid);
    s_set(k, s, LT_KSVC_STARTING);
}

/* ---- commands ---- */

lt_err_t lt_sup_restart(lt_kernel_t *k, lt_ksvc_t *s, lt_errbuf_t *eb)
{
    if (k->stopping)
        return lt_fail(eb, LT_EUNAVAILABLE, "the node is stopping");
    if (s->inproc) {
        lt_log_info(&k->log, s->name, "restart requested (in-process)");
        if (s->state == LT_KSVC_READY)
            s_unhost(k, s, "restarted");
        s->restarts++;
        s->fail_reason[0] = '\0';
        if (!s_host(k, s))
            return lt_fail(eb, LT_EFAILED, "service %s did not start: %s", s->name,
                           lt_sup_fail_reason(s));
        return LT_OK;
    }
    if (s->attached)
        return lt_fail(eb, LT_EINVAL,
                       "service %s is attached (--attach): the kernel does not start it; "
                       "restart it by hand",
                       s->name);
    switch (s->state) {
    case LT_KSVC_STARTING:
    case LT_KSVC_ADOPTING:
    case LT_KSVC_READY:
        lt_log_info(&k->log, s->name, "restart requested; stopping pid %d", (int)s->pid);
        s->then = LT_KSVC_THEN_RESPAWN;
        s->kill_why = NULL;
        s->killed = false;
        s->deadline_ms = lt_kernel_mono_ms() + k->cfg->stop_timeout_ms;
        s_set(k, s, LT_KSVC_KILLING);
        s_signal(k, s, SIGTERM);
        return LT_OK;
    case LT_KSVC_KILLING:
        s->then = LT_KSVC_THEN_RESPAWN;
        return LT_OK;
    case LT_KSVC_FAILED:
        lt_log_info(&k->log, s->name, "restart requested after failure");
        s->ncrashes = 0;
        s->quick_crashes = 0;
        s->fail_reason[0] = '\0';
        s_respawn(k, s);
        return LT_OK;
    case LT_KSVC_BACKOFF:
        lt_log_info(&k->log, s->name, "restart requested; not waiting out the backoff");
        s_respawn(k, s);
        return LT_OK;
    case LT_KSVC_WAITING:
    case LT_KSVC_STOPPING:
    case LT_KSVC_STOPPED:
        break;
    }
    return lt_fail(eb, LT_EUNAVAILABLE, "service %s cannot be restarted now", s->name);
}

/* ---- time ---- */

void lt_sup_tick(lt_kernel_t *k, uint64_t now)
{
    for (size_t i = 0; i < k->nsvcs; i++) {
        lt_ksvc_t *s = &k->svcs[i];
        /* Processes that are not our children send no SIGCHLD: look every
         * S_POLL_MS (not on every pass of the loop, which runs per message:
         * kill() and /proc reads on the routing path cost a third of a
         * hop). */
        if (s->pid > 0 && !s->child && now >= s->alive_check_ms) {
            s->alive_check_ms = now + S_POLL_MS;
            if (!s_alive(s->pid)) {
                s_on_exit(k, s, "gone", false);
                continue;
            }
        }
        switch (s->state) {
        case LT_KSVC_BACKOFF:
            if (now >= s->deadline_ms) {
                if (k->stopping) {
                    s_set(k, s, LT_KSVC_STOPPED);
                    s_stop_next(k);
                } else {
                    s_respawn(k, s);
                }
            }
            break;
        case LT_KSVC_ADOPTING:
            if (now >= s->deadline_ms) {
                lt_log_warn(&k->log, s->name,
                            "pid %d, left by the previous kernel, did not register within %u "
                            "ms; killing it and starting a new one",
                            (int)s->pid, k->cfg->adopt_timeout_ms);
                s->then = LT_KSVC_THEN_RESPAWN;
                s->kill_why = NULL;
                s->deadline_ms = now + k->cfg->stop_timeout_ms;
                s_set(k, s, LT_KSVC_KILLING);
                s_signal(k, s, SIGKILL);
            }
            break;
        case LT_KSVC_KILLING:
        case LT_KSVC_STOPPING:
            if (!s->killed && now >= s->deadline_ms) {
                lt_log_warn(&k->log, s->name,
                            "pid %d still running %u ms after SIGTERM; "
                            "sending SIGKILL",
                            (int)s->pid, k->cfg->stop_timeout_ms);
                s_signal(k, s, SIGKILL);
            }
            break;
        case LT_KSVC_STARTING:
            if (s->child && now >= s->starting_ms + k->cfg->start_timeout_ms) {
                lt_log_warn(&k->log, s->name, "pid %d did not register within %u ms; killing it",
                            (int)s->pid, k->cfg->start_timeout_ms);
                s->then = LT_KSVC_THEN_CRASH;
                s->kill_why = "no READY in time";
                s->deadline_ms = now + k->cfg->stop_timeout_ms;
                s_set(k, s, LT_KSVC_KILLING);
                s_signal(k, s, SIGKILL);
            }
            break;
        case LT_KSVC_WAITING:
        case LT_KSVC_READY:
        case LT_KSVC_FAILED:
        case LT_KSVC_STOPPED:
            break;
        }
    }
}

uint64_t lt_sup_next_deadline(const lt_kernel_t *k, uint64_t now)
{
    uint64_t next = UINT64_MAX;
    for (size_t i = 0; i < k->nsvcs; i++) {
        const lt_ksvc_t *s = &k->svcs[i];
        uint64_t due = UINT64_MAX;
        if (s->state == LT_KSVC_STARTING && s->child)
            due = s->starting_ms + k->cfg->start_timeout_ms;
        if (s->state == LT_KSVC_BACKOFF || s->state == LT_KSVC_ADOPTING ||
            ((s->state == LT_KSVC_KILLING || s->state == LT_KSVC_STOPPING) && !s->killed))
            due = s->deadline_ms;
        if (s->pid > 0 && !s->child && s->alive_check_ms < due)
            due = s->alive_check_ms > now ? s->alive_check_ms : now;
        if (due < next)
            next = due;
    }
    return next;
}

/* ---- setup ---- */

/* Where lattice-<name> programs live: LATTICE_LIBEXEC, else the directory
 * of latticed itself (the build puts them side by side; so does install). */
static lt_err_t s_libexec(lt_kernel_t *k, lt_errbuf_t *eb)
{
    const char *env = getenv("LATTICE_LIBEXEC");
    if (env && env[0]) {
        snprintf(k->libexec, sizeof k->libexec, "%s", env);
        return LT_OK;
    }
    char exe[LT_KCONFIG_PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return lt_fail(eb, LT_EIO, "cannot find latticed's own path (/proc/self/exe): %s",
                       strerror(errno));
    exe[n] = '\0';
    snprintf(k->libexec, sizeof k->libexec, "%s", dirname(exe));
    return LT_OK;
}

lt_err_t lt_sup_init(lt_kernel_t *k, lt_errbuf_t *eb)
{
    lt_err_t rc = s_libexec(k, eb);
    if (rc)
        return rc;
    k->nsvcs = k->cfg->nservices;
    for (size_t i = 0; i < k->nsvcs; i++) {
        lt_ksvc_t *s = &k->svcs[i];
        memset(s, 0, sizeof *s);
        snprintf(s->name, sizeof s->name, "%s", k->cfg->services[i].name);
        s->attached = k->cfg->services[i].attached;
        s->inproc = k->cfg->services[i].inproc;
        s->state = LT_KSVC_STOPPED;
        lt_kqueue_init(&s->queue, k->cfg->queue_max, k->cfg->queue_bytes);
        if (lt_kinflight_init(&s->inflight, k->cfg->inflight_max) != LT_OK)
            return lt_fail(eb, LT_ENOMEM, "out of memory");
        if (k->cfg->max_restarts) {
            s->crashes = calloc(k->cfg->max_restarts, sizeof *s->crashes);
            if (!s->crashes)
                return lt_fail(eb, LT_ENOMEM, "out of memory");
        }
    }
    return LT_OK;
}

void lt_sup_fini(lt_kernel_t *k)
{
    for (size_t i = 0; i < k->nsvcs; i++) {
        lt_ksvc_t *s = &k->svcs[i];
        lt_kqueue_clear(&s->queue);
        lt_kinflight_fini(&s->inflight);
        free(s->crashes);
        s->crashes = NULL;
    }
    k->nsvcs = 0;
}

void lt_sup_start(lt_kernel_t *k)
{
    for (size_t i = 0; i < k->nsvcs; i++) {
        lt_ksvc_t *s = &k->svcs[i];
        if (s->inproc) {
            (void)s_host(k, s);
            continue;
        }
        if (s->attached) {
            lt_log_info(&k->log, s->name,
                        "attached: start `lattice-%s --home %s` by hand; it is served once it "
                        "registers",
                        s->name, k->home->dir);
            s_set(k, s, LT_KSVC_WAITING);
            continue;
        }
        pid_t old = lt_home_service_pid_read(k->home, s->name);
        if (old > 0 && s_is_our_service(k, s, old)) {
            lt_log_info(&k->log, s->name,
                        "pid %d from the previous kernel is still running; waiting up to %u ms "
                        "for it to register",
                        (int)old, k->cfg->adopt_timeout_ms);
            s->pid = old;
            s->child = false;
            s->spawned_once = true;
            s->spawned_ms = 0; /* it has been running: not a crash loop */
            s->deadline_ms = lt_kernel_mono_ms() + k->cfg->adopt_timeout_ms;
            s_set(k, s, LT_KSVC_ADOPTING);
            continue;
        }
        s_spawn(k, s);
    }
}
