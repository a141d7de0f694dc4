/* What every benchmark in tools/bench shares: the clock, progress lines on
 * stderr, percentiles, the run directory. */
#ifndef LT_BENCH_UTIL_H
#define LT_BENCH_UTIL_H

#include "weaver/errors.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One line on stderr, prefixed with the program's name. */
void lt_bench_note(const char *fmt, ...) LT_PRINTF(1, 2);

/* A decimal option value in lo..hi into *out; false for anything else (a
 * sign, trailing text, out of range). */
bool lt_bench_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);

/* CLOCK_MONOTONIC in seconds. */
double lt_bench_now(void);

/* Sleeps ms milliseconds: only for pacing a poll or a timed phase, never to
 * wait for something to happen. */
void lt_bench_pause_ms(unsigned ms);

/* Sorts v[0..n) and returns its p-quantile (0 < p <= 1) by nearest rank; 0
 * for n == 0. */
double lt_bench_quantile(double *v, size_t n, double p);

/* Removes a directory tree; notes what it cannot remove. */
void lt_bench_rm_tree(const char *dir);

/* The file system dir is on ("ext4", "tmpfs", ...): fsync costs depend on it. */
void lt_bench_fs_name(const char *dir, char *out, size_t len);

#endif
