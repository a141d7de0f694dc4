/* The kernel's state, shared by its parts: the router (router.c) moves
 * frames between connections, the supervisor (supervisor.c) runs the
 * service processes, the control endpoint (control.c) answers requests to
 * the address "kernel", and main.c owns the lifecycle and the poll loop.
 * Everything runs in one thread; no part blocks.
 *
 * One lt_ksvc_t per enabled service holds both views of it: the process
 * (supervisor) and the connection (router). Each part changes only its own
 * fields and tells the other through the calls declared in router.h and
 * supervisor.h. */
#ifndef LT_KERNEL_KERNEL_H
#define LT_KERNEL_KERNEL_H

#include "kernel/config.h"
#include "kernel/home.h"
#include "kernel/inflight.h"
#include "kernel/links.h"
#include "kernel/queue.h"
#include "weaver/log.h"
#include "weaver/types.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* libzmq routing ids are at most 255 bytes. */
#define LT_KERNEL_RID_MAX 255

/* The supervisor's states of a service (the explicit state machine of
 * supervisor.c). kernel.proto's ServiceState is the public view of them:
 * lt_sup_public_state maps one to the other. */
typedef enum {
    LT_KSVC_WAITING,  /* attached slot, nothing registered */
    LT_KSVC_STARTING, /* our process is running, not registered (yet/again) */
    LT_KSVC_ADOPTING, /* a process left by an earlier kernel: waiting for its READY */
    LT_KSVC_READY,    /* registered */
    LT_KSVC_KILLING,  /* signalled by the supervisor, waiting for it to exit */
    LT_KSVC_BACKOFF,  /* exited; restart timer running */
    LT_KSVC_FAILED,   /* given up: restart intensity, exit 100, or cannot exec */
    LT_KSVC_STOPPING, /* node stopping: SIGTERM sent, waiting for the exit */
    LT_KSVC_STOPPED,  /* node stopping: done */
} lt_ksvc_state_t;

/* What to do once a KILLING service has exited. */
typedef enum {
    LT_KSVC_THEN_CRASH,   /* count it as a crash (heartbeat lost) */
    LT_KSVC_THEN_RESPAWN, /* start it again now, not counted (RESTART, adoption timeout) */
} lt_ksvc_then_t;

typedef struct {
    char name[LT_NAME_MAX];
    bool attached;
    /* Its actor runs in the kernel's own thread (kernel/inproc.h): no
     * process, no heartbeats; "registered" while the actor is hosted. */
    bool inproc;
    /* ---- supervisor ---- */
    lt_ksvc_state_t state;
    pid_t pid;            /* the running process (0: none) */
    bool child;           /* pid is our child (waitpid), else adopted (polled) */
    bool spawned_once;    /* later spawns are restarts */
    bool killed;          /* SIGKILL sent for the current KILLING/STOPPING */
    lt_ksvc_then_t then;  /* KILLING: what follows the exit */
    uint64_t deadline_ms; /* monotonic: backoff end, adoption bound, SIGKILL escalation */
    uint64_t *crashes;    /* monotonic times of counted restarts (up to max_restarts) */
    size_t ncrashes;
    uint64_t spawned_ms;     /* monotonic time of the last spawn */
    uint64_t starting_ms;    /* monotonic time it last entered STARTING */
    uint64_t alive_check_ms; /* monotonic: next kill(pid, 0) of a process not our child */
    uint32_t quick_crashes;  /* consecutive crashes soon after a spawn: the backoff step */
    uint32_t restarts;       /* every respawn since the kernel started */
    uint64_t since_ms;       /* wall time of the last state change */
    char last_exit[64];      /* "exit 3", "signal 9", "heartbeat lost", "" */
    const char *kill_why;    /* KILLING: the reason to report as last_exit */
    char fail_reason[128];   /* FAILED: why, for replies and SERVICES */
    /* ---- router ---- */
    bool registered;
    uint8_t rid[LT_KERNEL_RID_MAX];
    size_t rid_len;
    uint32_t proto;
    uint32_t ready_pid;
    uint64_t last_heard_ms; /* monotonic: anything from the service */
    uint64_t last_sent_ms;  /* monotonic: anything to the service */
    bool drain_blocked;     /* its socket pipe was full: retry soon */
    lt_kqueue_t queue;
    lt_kinflight_t inflight;
} lt_ksvc_t;

typedef struct lt_kernel {
    const lt_kconfig_t *cfg;
    lt_home_t *home;
    lt_logger_t log;
    lt_pubkey_t node_key;
    /* Where lattice-<name> programs are: LATTICE_LIBEXEC or latticed's own
     * directory. */
    char libexec[LT_KCONFIG_PATH_MAX];
    void *zctx;
    void *router;
    lt_links_t links; /* peer links (links.c) */
    /* The services hosted in this thread (inproc.c), or NULL (latticed). */
    struct lt_inproc *inproc;
    /* Called once when the node begins to stop, before any service stops
     * (may be NULL): lattice-nano's memory report. */
    void (*on_stopping)(struct lt_kernel *k, void *ctx);
    void *on_stopping_ctx;
    lt_ksvc_t svcs[LT_KCONFIG_MAX_SERVICES];
    size_t nsvcs;
    uint64_t started_mono_ms;
    /* The node is stopping: services are stopped in reverse order. */
    bool stopping;
    /* Rate limits of warnings a misbehaving peer could repeat at will:
     * refused READY frames and malformed messages. */
    uint64_t refused_logged_ms;
    uint64_t reject_logged_ms;
    uint32_t reject_suppressed;
} lt_kernel_t;

/* Monotonic and wall-clock milliseconds. */
uint64_t lt_kernel_mono_ms(void);
uint64_t lt_kernel_wall_ms(void);

/* The slot of a configured service, or NULL. */
lt_ksvc_t *lt_kernel_service(lt_kernel_t *k, const char *name);

#endif
