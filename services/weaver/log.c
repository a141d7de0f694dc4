/* Formatting front end of the logger. */
#include "weaver/log.h"

#include <stdio.h>

void lt_log(const lt_logger_t *lg, lt_log_level_t level, const char *tag, const char *fmt, ...)
{
    if (!lg || !lg->sink || level > lg->max_level)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    lg->sink(lg->ctx, level, tag, line);
}

const char *lt_log_level_name(lt_log_level_t level)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    return (unsigned)level < 4 ? names[level] : "?";
}

void lt_log_stderr_sink(void *ctx, lt_log_level_t level, const char *tag, const char *line)
{
    (void)ctx;
    fprintf(stderr, "%s %s: %s\n", lt_log_level_name(level), tag, line);
}
