/* latticed's command line (kernel/config.h). Options only: the kernel reads
 * no configuration file yet, so every knob has a default that suits one
 * node on one machine. */
#include "kernel/config.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

/* The services this build can run, in start order: a service starts after
 * the ones it depends on (sync, gossip and cas will need the store), and the
 * node stops them in the reverse order. */
static const char *const s_known[] = {"store", "sync", "gossip"};
#define S_NKNOWN (sizeof s_known / sizeof s_known[0])

bool lt_kconfig_known(const char *name)
{
    for (size_t i = 0; i < S_NKNOWN; i++)
        if (strcmp(s_known[i], name) == 0)
            return true;
    return false;
}

const char *lt_kconfig_known_list(void)
{
    /* Joined by hand: keep it in step with s_known. */
    return "store, sync, gossip";
}

static void s_usage(FILE *out)
{
    fprintf(out,
            "usage: latticed [options]\n"
            "Runs a Lattice node in the foreground until SIGTERM or SIGINT: routes messages\n"
            "between its services and clients on <home>/kernel.sock and supervises the\n"
            "service processes.\n"
            "\n"
            "  --home DIR              node home (default: $LATTICE_HOME, else\n"
            "                          $XDG_DATA_HOME/lattice, else ~/.local/share/lattice)\n"
            "  --services LIST         services to run, comma-separated, or '' / none\n"
            "                          (default: all; known: %s)\n"
            "  --attach NAME           do not start NAME: wait for a hand-started\n"
            "                          lattice-NAME --home DIR to register (repeatable)\n"
            "  --max-restarts N        restart intensity: more than N crashes ... (default %d)\n"
            "  --restart-window SEC    ... within SEC seconds and the service is failed\n"
            "                          (default %d)\n"
            "  --queue-max N           messages queued per service while it is not ready\n"
            "                          (default %d)\n"
            "  --queue-bytes BYTES     bytes of bodies queued per service (default %u)\n"
            "  --queue-deadline MS     a queued request waits at most MS, then is answered\n"
            "                          'unavailable' (default %d)\n"
            "  --inflight-max N        requests forwarded to a service and not answered yet;\n"
            "                          past it requests queue (default %d)\n"
            "  --stop-timeout MS       SIGTERM to SIGKILL when stopping a service (default %d)\n"
            "  --adopt-timeout MS      time a service left by a previous kernel has to\n"
            "                          register again (default %d)\n"
            "  --start-timeout MS      time a started service has to register before it is\n"
            "                          killed as hung (default %d)\n"
            "  --listen tcp://HOST:PORT  accept peer links there (repeatable, at most %d;\n"
            "                          PORT 0 picks a free port; `lattice node status`\n"
            "                          shows the address bound). Default: none\n"
            "  --log-level LEVEL       error, warn, info or debug (default info)\n"
            "  --help                  this text\n"
            "  --version               the version\n"
            "\n"
            "Exit status: 0 stopped on request, 1 failed to start or run, 2 bad usage.\n",
            lt_kconfig_known_list(), LT_KCONFIG_MAX_RESTARTS, LT_KCONFIG_RESTART_WINDOW_S,
            LT_KCONFIG_QUEUE_MAX, LT_KCONFIG_QUEUE_BYTES, LT_KCONFIG_QUEUE_DEADLINE_MS,
            LT_KCONFIG_INFLIGHT_MAX, LT_KCONFIG_STOP_TIMEOUT_MS, LT_KCONFIG_ADOPT_TIMEOUT_MS,
            LT_KCONFIG_START_TIMEOUT_MS, LT_KCONFIG_MAX_LISTEN);
}

bool lt_kconfig_listen_ok(const char *text, const char **why)
{
    static const char prefix[] = "tcp://";
    size_t len = strlen(text);
    if (strncmp(text, prefix, sizeof prefix - 1) != 0) {
        *why = "it must start with tcp://";
        return false;
    }
    if (len >= LT_KCONFIG_ADDR_MAX) {
        *why = "it is too long";
        return false;
    }
    const char *host = text + sizeof prefix - 1;
    const char *colon = strrchr(host, ':');
    if (!colon || colon == host) {
        *why = "it needs a HOST and a :PORT";
        return false;
    }
    for (const char *p = host; p < colon; p++) {
        if (*p <= ' ' || *p > '~' || *p == '/' || *p == ';') {
            *why = "the host has a character no address has";
            return false;
        }
    }
    const char *port = colon + 1;
    size_t plen = strlen(port);
    unsigned long v = 0;
    for (size_t i = 0; i < plen; i++) {
        if (port[i] < '0' || port[i] > '9' || plen > 5) {
            *why = "the port must be a number from 0 to 65535";
            return false;
        }
        v = v * 10 + (unsigned long)(port[i] - '0');
    }
    if (plen == 0 || v > 65535) {
        *why = "the port must be a number from 0 to 65535";
        return false;
    }
    return true;
}

/* A decimal number in [lo, hi]; false (with a message) otherwise. */
static bool s_number(const char *opt, const char *text, uint64_t lo, uint64_t hi, uint64_t *out,
                     FILE *err)
{
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || !end || end == text || *end != '\0' || text[0] == '-' || v < lo || v > hi) {
        fprintf(err, "latticed: %s needs a whole number from %llu to %llu, not '%s'\n", opt,
                (unsigned long long)lo, (unsigned long long)hi, text);
        return false;
    }
    *out = v;
    return true;
}

static lt_kconfig_service_t *s_find(lt_kconfig_t *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nservices; i++)
        if (strcmp(cfg->services[i].name, name) == 0)
            return &cfg->services[i];
    return NULL;
}

/* Parses --services into wanted[] (indexed like s_known). */
static bool s_parse_services(const char *list, bool wanted[S_NKNOWN], FILE *err)
{
    memset(wanted, 0, S_NKNOWN * sizeof wanted[0]);
    if (strcmp(list, "none") == 0)
        return true;
    const char *p = list;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char name[LT_NAME_MAX];
        if (n == 0) {
            p = comma ? comma + 1 : p + n;
            continue;
        }
        if (n >= sizeof name) {
            fprintf(err, "latticed: no service named '%.*s' (known: %s)\n", (int)n, p,
                    lt_kconfig_known_list());
            return false;
        }
        memcpy(name, p, n);
        name[n] = '\0';
        bool found = false;
        for (size_t i = 0; i < S_NKNOWN; i++) {
            if (strcmp(s_known[i], name) == 0) {
                wanted[i] = true;
                found = true;
            }
        }
        if (!found) {
            fprintf(err, "latticed: no service named '%s' (known: %s)\n", name,
                    lt_kconfig_known_list());
            return false;
        }
        p = comma ? comma + 1 : p + n;
    }
    return true;
}

bool lt_kconfig_add_listen(lt_kconfig_t *cfg, const char *text, const char *prog, FILE *err)
{
    const char *why = NULL;
    if (!lt_kconfig_listen_ok(text, &why)) {
        fprintf(err, "%s: --listen '%s': %s (e.g. tcp://0.0.0.0:7400)\n", prog, text, why);
        return false;
    }
    if (cfg->nlisten == LT_KCONFIG_MAX_LISTEN) {
        fprintf(err, "%s: --listen: at most %d addresses\n", prog, LT_KCONFIG_MAX_LISTEN);
        return false;
    }
    snprintf(cfg->listen[cfg->nlisten++], LT_KCONFIG_ADDR_MAX, "%s", text);
    return true;
}

bool lt_kconfig_set_log_level(lt_kconfig_t *cfg, const char *text, const char *prog, FILE *err)
{
    static const char *const levels[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(text, levels[i]) == 0) {
            cfg->log_level = (lt_log_level_t)i;
            return true;
        }
    }
    fprintf(err, "%s: --log-level is one of error, warn, info, debug\n", prog);
    return false;
}

void lt_kconfig_defaults(lt_kconfig_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->max_restarts = LT_KCONFIG_MAX_RESTARTS;
    cfg->restart_window_s = LT_KCONFIG_RESTART_WINDOW_S;
    cfg->queue_max = LT_KCONFIG_QUEUE_MAX;
    cfg->queue_bytes = LT_KCONFIG_QUEUE_BYTES;
    cfg->queue_deadline_ms = LT_KCONFIG_QUEUE_DEADLINE_MS;
    cfg->inflight_max = LT_KCONFIG_INFLIGHT_MAX;
    cfg->stop_timeout_ms = LT_KCONFIG_STOP_TIMEOUT_MS;
    cfg->adopt_timeout_ms = LT_KCONFIG_ADOPT_TIMEOUT_MS;
    cfg->start_timeout_ms = LT_KCONFIG_START_TIMEOUT_MS;
    cfg->log_level = LT_LOG_INFO;
}

lt_kconfig_result_t lt_kconfig_parse(lt_kconfig_t *cfg, int argc, char **argv, FILE *out, FILE *err)
{
    lt_kconfig_defaults(cfg);

    enum {
        O_HOME = 256,
        O_SERVICES,
        O_ATTACH,
        O_MAX_RESTARTS,
        O_RESTART_WINDOW,
        O_QUEUE_MAX,
        O_QUEUE_BYTES,
        O_QUEUE_DEADLINE,
        O_INFLIGHT_MAX,
        O_STOP_TIMEOUT,
        O_ADOPT_TIMEOUT,
        O_START_TIMEOUT,
        O_LOG_LEVEL,
        O_LISTEN,
        O_HELP,
        O_VERSION,
    };
    static const struct option opts[] = {
        {"home", required_argument, NULL, O_HOME},
        {"services", required_argument, NULL, O_SERVICES},
        {"attach", required_argument, NULL, O_ATTACH},
        {"max-restarts", required_argument, NULL, O_MAX_RESTARTS},
        {"restart-window", required_argument, NULL, O_RESTART_WINDOW},
        {"queue-max", required_argument, NULL, O_QUEUE_MAX},
        {"queue-bytes", required_argument, NULL, O_QUEUE_BYTES},
        {"queue-deadline", required_argument, NULL, O_QUEUE_DEADLINE},
        {"inflight-max", required_argument, NULL, O_INFLIGHT_MAX},
        {"stop-timeout", required_argument, NULL, O_STOP_TIMEOUT},
        {"adopt-timeout", required_argument, NULL, O_ADOPT_TIMEOUT},
        {"start-timeout", required_argument, NULL, O_START_TIMEOUT},
        {"log-level", required_argument, NULL, O_LOG_LEVEL},
        {"listen", required_argument, NULL, O_LISTEN},
        {"help", no_argument, NULL, O_HELP},
        {"version", no_argument, NULL, O_VERSION},
        {NULL, 0, NULL, 0},
    };

    bool wanted[S_NKNOWN];
    for (size_t i = 0; i < S_NKNOWN; i++)
        wanted[i] = true;
    bool attach[S_NKNOWN] = {false};

    opterr = 0;
    optind = 1;
    for (;;) {
        int longindex = 0;
        int c = getopt_long(argc, argv, ":", opts, &longindex);
        if (c == -1)
            break;
        uint64_t v = 0;
        switch (c) {
        case O_HOME:
            if (optarg[0] == '\0' || strlen(optarg) >= sizeof cfg->home) {
                fprintf(err, "latticed: --home needs a directory path\n");
                return LT_KCONFIG_USAGE;
            }
            snprintf(cfg->home, sizeof cfg->home, "%s", optarg);
            break;
        case O_SERVICES:
            if (!s_parse_services(optarg, wanted, err))
                return LT_KCONFIG_USAGE;
            break;
        case O_ATTACH: {
            bool found = false;
            for (size_t i = 0; i < S_NKNOWN; i++) {
                if (strcmp(s_known[i], optarg) == 0) {
                    attach[i] = true;
                    found = true;
                }
            }
            if (!found) {
                fprintf(err, "latticed: --attach: no service named '%s' (known: %s)\n", optarg,
                        lt_kconfig_known_list());
                return LT_KCONFIG_USAGE;
            }
            break;
        }
        case O_MAX_RESTARTS:
            if (!s_number("--max-restarts", optarg, 0, 1000, &v, err))
                return LT_KCONFIG_USAGE;
            cfg->max_restarts = (uint32_t)v;
            break;
        case O_RESTART_WINDOW:
            if (!s_number("--restart-window", optarg, 1, 86400, &v, err))
                return LT_KCONFIG_USAGE;
            cfg->restart_window_s = (uint32_t)v;
            break;
        case O_QUEUE_MAX:
            if (!s_number("--queue-max", optarg, 0, 1000000, &v, err))
                return LT_KCONFIG_USAGE;
            cfg->queue_max = (uint32_t)v;
            break;
        case O_QUEUE_BYTES:
            if (!s_number("--queue-bytes", optarg, 0, (uint64_t)1 << 40, &v, err))
                return LT_KCONFIG_USAGE;
            cfg->queue_bytes = v;
            break;
        case O_QUEUE_DEADLINE:
            if (!s_number("--queue-deadline", optarg, 1, 3600000, &v, err))
                return LT_KCONFIG_USAGE;
            cfg->queue_deadline_ms = (uint32_t)v;
            break;
        case O_INFLIGHT_MAX:
            if (!s_number("--inflight-max", optarg, 1, 1000000, &v, err))
                return LT_KCONFIG_USAGE;
            cfg->inflight_max = (uint32_t)v;
            break;
        case O_STOP_TIMEOUT:
            if (!s_number("--stop-timeout", optarg, 1, 3600000, &v, err))
                return LT_KCONFIG_USAGE;
            cfg->stop_timeout_ms = (uint32_t)v;
            break;
        case O_ADOPT_TIMEOUT:
            if (!s_number("--adopt-timeout", optarg, 1, 3600000, &v, err))
                return LT_KCONFIG_USAGE;
            cfg->adopt_timeout_ms = (uint32_t)v;
            break;
        case O_START_TIMEOUT:
            if (!s_number("--start-timeout", optarg, 1, 3600000, &v, err))
                return LT_KCONFIG_USAGE;
            cfg->start_timeout_ms = (uint32_t)v;
            break;
        case O_LISTEN:
            if (!lt_kconfig_add_listen(cfg, optarg, "latticed", err))
                return LT_KCONFIG_USAGE;
            break;
        case O_LOG_LEVEL:
            if (!lt_kconfig_set_log_level(cfg, optarg, "latticed", err))
                return LT_KCONFIG_USAGE;
            break;
        case O_HELP:
            s_usage(out);
            return LT_KCONFIG_EXIT;
        case O_VERSION:
            fprintf(out, "latticed %s\n", LT_VERSION);
            return LT_KCONFIG_EXIT;
        case ':':
            fprintf(err, "latticed: %s needs a value (see latticed --help)\n", argv[optind - 1]);
            return LT_KCONFIG_USAGE;
        default:
            fprintf(err, "latticed: unknown option '%s' (see latticed --help)\n", argv[optind - 1]);
            return LT_KCONFIG_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(err, "latticed: unexpected argument '%s' (see latticed --help)\n", argv[optind]);
        return LT_KCONFIG_USAGE;
    }
    /* An attached service is enabled whatever --services said: attaching
     * is asking for it. */
    for (size_t i = 0; i < S_NKNOWN; i++) {
        if (!wanted[i] && !attach[i])
            continue;
        if (!s_find(cfg, s_known[i])) {
            lt_kconfig_service_t *s = &cfg->services[cfg->nservices++];
            snprintf(s->name, sizeof s->name, "%s", s_known[i]);
            s->attached = attach[i];
        }
    }
    return LT_KCONFIG_RUN;
}
