/* Logging through a sink the runtime provides: library and actor code never
 * writes to stderr itself. A NULL logger drops everything. */
#ifndef LT_LOG_H
#define LT_LOG_H

#include "weaver/errors.h"

typedef enum { LT_LOG_ERROR, LT_LOG_WARN, LT_LOG_INFO, LT_LOG_DEBUG } lt_log_level_t;

typedef struct lt_logger {
    void (*sink)(void *ctx, lt_log_level_t level, const char *tag, const char *line);
    void *ctx;
    lt_log_level_t max_level; /* lines above this level are dropped */
} lt_logger_t;

void lt_log(const lt_logger_t *lg, lt_log_level_t level, const char *tag, const char *fmt, ...)
    LT_PRINTF(4, 5);
#define lt_log_error(lg, tag, ...) lt_log((lg), LT_LOG_ERROR, (tag), __VA_ARGS__)
#define lt_log_warn(lg, tag, ...)  lt_log((lg), LT_LOG_WARN, (tag), __VA_ARGS__)
#define lt_log_info(lg, tag, ...)  lt_log((lg), LT_LOG_INFO, (tag), __VA_ARGS__)
#define lt_log_debug(lg, tag, ...) lt_log((lg), LT_LOG_DEBUG, (tag), __VA_ARGS__)

/* A sink that writes "LEVEL tag: line" to stderr (for mains and tools). */
void lt_log_stderr_sink(void *ctx, lt_log_level_t level, const char *tag, const char *line);
const char *lt_log_level_name(lt_log_level_t level);

#endif
