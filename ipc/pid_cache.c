/* getpid() for the node's programs, answered from memory.
 *
 * libzmq checks on every signal between its threads whether the process has
 * forked (signaler.cpp: pid != getpid()), and glibc has not cached the pid
 * since 2.25: every message a socket moves costs several getpid system
 * calls, in the application thread and in libzmq's I/O thread. Under a
 * hypervisor that makes system calls dear, bench-ipc found them at 10-15 %
 * of the CPU of latticed and lattice-store (`perf report`, symbol
 * __getpid). The programs that run a node's loop define getpid here:
 * symbols an executable defines take precedence over libc's for every
 * shared library it loads, so libzmq's checks read a variable.
 *
 * The value is read at start (a constructor, before any thread exists) and
 * forgotten in the child of a fork() (pthread_atfork), which reads its own
 * on first use. posix_spawn's child does not run the handlers but execs at
 * once, and glibc's own calls inside it do not come here (they use its
 * internal alias). Linked into executables only, never into
 * liblattice-client: a library must not replace its host's getpid. */
#include <pthread.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

static pid_t s_pid;

static void s_forget(void)
{
    __atomic_store_n(&s_pid, 0, __ATOMIC_RELAXED);
}

__attribute__((constructor)) static void s_pid_cache_init(void)
{
    __atomic_store_n(&s_pid, (pid_t)syscall(SYS_getpid), __ATOMIC_RELAXED);
    (void)pthread_atfork(NULL, NULL, s_forget);
}

pid_t getpid(void)
{
    pid_t p = __atomic_load_n(&s_pid, __ATOMIC_RELAXED);
    if (p == 0) {
        p = (pid_t)syscall(SYS_getpid);
        __atomic_store_n(&s_pid, p, __ATOMIC_RELAXED);
    }
    return p;
}
