#include "ipc/service_main.h"

#include "ipc/process.h"
#include "store/store.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int s_usage_error(const lt_service_main_t *m, const char *fmt, ...) LT_PRINTF(2, 3);
static int s_usage_error(const lt_service_main_t *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "lattice-%s: ", m->name);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n\n%s", m->usage);
    return LT_PROCESS_EXIT_USAGE;
}

int lt_service_main(int argc, char **argv, const lt_service_main_t *m)
{
    const char *home = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        char err[200] = "";
        int took = 0;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(m->usage, stdout);
            return LT_PROCESS_EXIT_OK;
        } else if (strcmp(a, "--version") == 0) {
            printf("lattice-%s %s\n", m->name, LT_VERSION);
            return LT_PROCESS_EXIT_OK;
        } else if (strcmp(a, "--home") == 0) {
            if (i + 1 == argc)
                return s_usage_error(m, "%s needs a directory", a);
            home = argv[++i];
        } else if (strncmp(a, "--home=", 7) == 0) {
            home = a + 7;
        } else if (m->option && (took = m->option(m->cfg, argc, argv, &i, err, sizeof err)) != 0) {
            if (took < 0)
                return s_usage_error(m, "%s", err);
        } else if (a[0] == '-') {
            return s_usage_error(m, "unknown option '%s'", a);
        } else {
            return s_usage_error(m, "unexpected argument '%s'", a);
        }
    }
    char def[4096];
    if (!home) {
        if (lt_home_default(def, sizeof def) != LT_OK) {
            fprintf(stderr, "lattice-%s: no home: pass --home DIR or set LATTICE_HOME\n", m->name);
            return LT_PROCESS_EXIT_USAGE;
        }
        home = def;
    }
    if (!*home)
        return s_usage_error(m, "--home needs a directory");
    lt_process_log_t log;
    lt_process_log_open(&log, home, LT_LOG_INFO);
    lt_process_opts_t opts = {.home = home, .log = &log.logger, .proto = m->proto};
    int code = lt_process_run(m->ops, m->cfg, &opts);
    lt_process_log_close(&log);
    return code;
}
