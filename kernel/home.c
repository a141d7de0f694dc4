/* The node's home as the kernel holds it (kernel/home.h). */
#include "kernel/home.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

lt_err_t lt_home_resolve(const char *given, char *out, size_t cap, lt_errbuf_t *eb)
{
    if (given && given[0]) {
        int n = snprintf(out, cap, "%s", given);
        if (n < 0 || (size_t)n >= cap)
            return lt_fail(eb, LT_EINVAL, "home path is too long");
        return LT_OK;
    }
    if (lt_home_default(out, cap) != LT_OK)
        return lt_fail(eb, LT_EINVAL,
                       "no home for the node: pass --home DIR or set LATTICE_HOME or HOME "
                       "(or the path they make is too long)");
    return LT_OK;
}

/* mkdir -p with 0700 for every directory it creates (XDG asks 0700 for
 * directories it makes under the data home). */
static lt_err_t s_mkdirs(const char *dir, lt_errbuf_t *eb)
{
    char tmp[LT_KCONFIG_PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", dir) >= (int)sizeof tmp)
        return lt_fail(eb, LT_EINVAL, "home path is too long: %s", dir);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
            return lt_fail(eb, LT_EIO, "cannot create %s: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
        return lt_fail(eb, LT_EIO, "cannot create home %s: %s", tmp, strerror(errno));
    return LT_OK;
}

lt_err_t lt_home_open(lt_home_t *h, const char *dir, lt_errbuf_t *eb)
{
    memset(h, 0, sizeof *h);
    h->lock_fd = -1;
    h->log_fd = -1;
    lt_err_t rc = s_mkdirs(dir, eb);
    if (rc)
        return rc;
    struct stat st;
    if (stat(dir, &st) != 0)
        return lt_fail(eb, LT_EIO, "cannot stat home %s: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return lt_fail(eb, LT_EINVAL, "home %s is not a directory", dir);
    if (st.st_uid != geteuid())
        return lt_fail(eb, LT_EINVAL, "home %s belongs to uid %u, not to you (uid %u)", dir,
                       (unsigned)st.st_uid, (unsigned)geteuid());
    /* Refused rather than fixed: a wider mode means someone chose it, and
     * the kernel socket must not be reachable by other users (a second bind
     * of the same ipc path would also steal it). */
    if (st.st_mode & 077)
        return lt_fail(eb, LT_EINVAL,
                       "home %s has mode %04o; it must be 0700 so that only you can reach the "
                       "node (run: chmod 700 %s)",
                       dir, (unsigned)(st.st_mode & 07777), dir);
    char abs[PATH_MAX];
    if (!realpath(dir, abs))
        return lt_fail(eb, LT_EIO, "cannot resolve home %s: %s", dir, strerror(errno));
    if (strlen(abs) + strlen("/kernel.sock") >= sizeof h->sock)
        return lt_fail(eb, LT_EINVAL,
                       "home path %s is too long for its socket (a unix socket path has at "
                       "most %d bytes); choose a shorter --home",
                       abs, LT_HOME_SOCK_MAX - 1);
    memcpy(h->dir, abs, strlen(abs) + 1);
    if (snprintf(h->sock, sizeof h->sock, "%s/kernel.sock", h->dir) >= (int)sizeof h->sock)
        return lt_fail(eb, LT_EINVAL, "home path %s is too long for its socket", abs);
    snprintf(h->endpoint, sizeof h->endpoint, "ipc://%s", h->sock);
    return LT_OK;
}

static void s_path(const lt_home_t *h, const char *leaf, char *out, size_t cap)
{
    /* h->dir is short (a socket path), so every leaf used here fits. */
    snprintf(out, cap, "%s/%s", h->dir, leaf);
}

static pid_t s_read_pid(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    long v = 0;
    int n = fscanf(f, "%ld", &v);
    fclose(f);
    if (n != 1 || v <= 0 || v > INT_MAX)
        return 0;
    return (pid_t)v;
}

lt_err_t lt_home_lock(lt_home_t *h, lt_errbuf_t *eb)
{
    char path[LT_KCONFIG_PATH_MAX + 32];
    s_path(h, "latticed.lock", path, sizeof path);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return lt_fail(eb, LT_EIO, "cannot open %s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        if (e != EWOULDBLOCK)
            return lt_fail(eb, LT_EIO, "cannot lock %s: %s", path, strerror(e));
        char pidpath[LT_KCONFIG_PATH_MAX + 32];
        s_path(h, "latticed.pid", pidpath, sizeof pidpath);
        pid_t other = s_read_pid(pidpath);
        if (other > 0)
            return lt_fail(eb, LT_ELOCKED,
                           "another latticed (pid %d) is running on home %s; stop it first or "
                           "use another --home",
                           (int)other, h->dir);
        return lt_fail(eb, LT_ELOCKED,
                       "another latticed is running on home %s; stop it first or use another "
                       "--home",
                       h->dir);
    }
    h->lock_fd = fd;
    return LT_OK;
}

/* Writes "<pid>\n" to path through a temporary file and a rename, so a
 * reader never sees a half-written number. */
static lt_err_t s_write_pid_file(const char *path, pid_t pid, lt_errbuf_t *eb)
{
    char tmp[LT_KCONFIG_PATH_MAX + 64];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return lt_fail(eb, LT_EIO, "cannot create %s: %s", tmp, strerror(errno));
    char line[32];
    int n = snprintf(line, sizeof line, "%d\n", (int)pid);
    ssize_t w = write(fd, line, (size_t)n);
    int e = errno;
    close(fd);
    if (w != n) {
        unlink(tmp);
        return lt_fail(eb, LT_EIO, "cannot write %s: %s", tmp, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        e = errno;
        unlink(tmp);
        return lt_fail(eb, LT_EIO, "cannot rename %s: %s", tmp, strerror(e));
    }
    return LT_OK;
}

lt_err_t lt_home_write_pid(lt_home_t *h, lt_errbuf_t *eb)
{
    char path[LT_KCONFIG_PATH_MAX + 32];
    s_path(h, "latticed.pid", path, sizeof path);
    lt_err_t rc = s_write_pid_file(path, getpid(), eb);
    if (rc == LT_OK)
        h->pid_written = true;
    return rc;
}

lt_err_t lt_home_open_log(lt_home_t *h, lt_errbuf_t *eb)
{
    char path[LT_KCONFIG_PATH_MAX + 32];
    s_path(h, "latticed.log", path, sizeof path);
    /* O_APPEND: services append to the same file; each line is one write. */
    h->log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (h->log_fd < 0)
        return lt_fail(eb, LT_EIO, "cannot open %s: %s", path, strerror(errno));
    return LT_OK;
}

void lt_home_close(lt_home_t *h)
{
    char path[LT_KCONFIG_PATH_MAX + 32];
    if (h->lock_fd >= 0) {
        /* Only the lock holder may remove these: another kernel could own
         * them otherwise. */
        unlink(h->sock);
        if (h->pid_written) {
            s_path(h, "latticed.pid", path, sizeof path);
            unlink(path);
            h->pid_written = false;
        }
    }
    if (h->log_fd >= 0) {
        close(h->log_fd);
        h->log_fd = -1;
    }
    if (h->lock_fd >= 0) {
        close(h->lock_fd);
        h->lock_fd = -1;
    }
}

void lt_home_log_sink(void *ctx, lt_log_level_t level, const char *tag, const char *line)
{
    const lt_home_t *h = ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char buf[768];
    /* The process runtime's layout, so the file reads as one log. */
    int n = snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%d] %s: %s: %s\n",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, h && h->program ? h->program : "latticed", (int)getpid(),
                     lt_log_level_name(level), tag, line);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1;
    if (len == sizeof buf - 1)
        buf[len - 1] = '\n';
    /* Best effort: a log that cannot be written must not stop the node. */
    ssize_t w = write(STDERR_FILENO, buf, len);
    if (h && h->log_fd >= 0)
        w = write(h->log_fd, buf, len);
    (void)w;
}

static lt_err_t s_service_pid_path(const lt_home_t *h, const char *name, char *out, size_t cap,
                                   lt_errbuf_t *eb)
{
    if (snprintf(out, cap, "%s/services/%s.pid", h->dir, name) >= (int)cap)
        return lt_fail(eb, LT_EINVAL, "service pid path too long");
    return LT_OK;
}

lt_err_t lt_home_service_pid_write(const lt_home_t *h, const char *name, pid_t pid, lt_errbuf_t *eb)
{
    char dir[LT_KCONFIG_PATH_MAX + 32];
    s_path(h, "services", dir, sizeof dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return lt_fail(eb, LT_EIO, "cannot create %s: %s", dir, strerror(errno));
    char path[LT_KCONFIG_PATH_MAX + 64];
    lt_err_t rc = s_service_pid_path(h, name, path, sizeof path, eb);
    if (rc)
        return rc;
    return s_write_pid_file(path, pid, eb);
}

pid_t lt_home_service_pid_read(const lt_home_t *h, const char *name)
{
    char path[LT_KCONFIG_PATH_MAX + 64];
    if (s_service_pid_path(h, name, path, sizeof path, NULL))
        return 0;
    return s_read_pid(path);
}

void lt_home_service_pid_remove(const lt_home_t *h, const char *name)
{
    char path[LT_KCONFIG_PATH_MAX + 64];
    if (s_service_pid_path(h, name, path, sizeof path, NULL) == LT_OK)
        unlink(path);
}
