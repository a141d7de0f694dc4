/* Reader for the known-answer vector files under tests/vectors/ (shared by the
 * weaver unit tests; header-only so each test executable stays one file).
 *
 * Format: UTF-8 text, one `key = value` per line; '#' starts a comment line;
 * a blank line ends a record. Values are decimal integers or lowercase hex;
 * an empty value is allowed (empty ops). A key may repeat within a record
 * (`dep`), in which case the occurrences are read in order.
 *
 * The directory comes from $LT_VECTORS (set by tests/unit/weaver/meson.build);
 * failing that, from the location of this source file. */
#ifndef LT_TEST_VECTORS_H
#define LT_TEST_VECTORS_H

#include "weaver/types.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VEC_MAX_FIELDS  48
#define VEC_MAX_RECORDS 16

typedef struct {
    char key[32];
    char *val; /* malloc'd */
} vec_field_t;

typedef struct {
    vec_field_t f[VEC_MAX_FIELDS];
    int n;
} vec_record_t;

typedef struct {
    vec_record_t r[VEC_MAX_RECORDS];
    int n;
} vec_file_t;

static inline char *vec_trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

static inline void vec_path(const char *name, char *out, size_t cap)
{
    const char *dir = getenv("LT_VECTORS");
    int n;
    if (dir && *dir) {
        n = snprintf(out, cap, "%s/%s", dir, name);
    } else {
        /* __FILE__ is .../tests/unit/weaver/vectors.h */
        char here[4096];
        snprintf(here, sizeof here, "%s", __FILE__);
        char *slash = strstr(here, "unit/weaver/vectors.h");
        cr_assert(slash, "set LT_VECTORS to the tests/vectors directory");
        *slash = '\0';
        n = snprintf(out, cap, "%svectors/%s", here, name);
    }
    cr_assert(n > 0 && (size_t)n < cap, "vector path too long");
}

/* Loads every record of tests/vectors/<name>; aborts the test on any error. */
static inline void vec_load(const char *name, vec_file_t *vf)
{
    char path[4096];
    vec_path(name, path, sizeof path);
    FILE *f = fopen(path, "r");
    cr_assert(f, "cannot open vector file %s: %s", path, strerror(errno));
    memset(vf, 0, sizeof *vf);
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0;
    vec_record_t *cur = NULL;
    while (getline(&line, &cap, f) >= 0) {
        lineno++;
        char *s = vec_trim(line);
        if (*s == '#')
            continue;
        if (*s == '\0') {
            cur = NULL;
            continue;
        }
        if (!cur) {
            cr_assert(vf->n < VEC_MAX_RECORDS, "%s: too many records", path);
            cur = &vf->r[vf->n++];
        }
        char *eq = strchr(s, '=');
        cr_assert(eq, "%s:%d: expected key = value", path, lineno);
        *eq = '\0';
        char *key = vec_trim(s), *val = vec_trim(eq + 1);
        cr_assert(strlen(key) > 0 && strlen(key) < sizeof cur->f[0].key, "%s:%d: bad key", path,
                  lineno);
        cr_assert(cur->n < VEC_MAX_FIELDS, "%s:%d: too many fields", path, lineno);
        vec_field_t *fd = &cur->f[cur->n++];
        strcpy(fd->key, key);
        fd->val = strdup(val);
        cr_assert(fd->val);
    }
    free(line);
    fclose(f);
    cr_assert(vf->n > 0, "%s: no records", path);
}

static inline void vec_free(vec_file_t *vf)
{
    for (int i = 0; i < vf->n; i++)
        for (int j = 0; j < vf->r[i].n; j++)
            free(vf->r[i].f[j].val);
    vf->n = 0;
}

/* The idx-th occurrence of key in r, or NULL. */
static inline const char *vec_find(const vec_record_t *r, const char *key, int idx)
{
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->f[i].key, key) == 0 && idx-- == 0)
            return r->f[i].val;
    return NULL;
}

static inline int vec_count(const vec_record_t *r, const char *key)
{
    int n = 0;
    while (vec_find(r, key, n))
        n++;
    return n;
}

static inline const char *vec_str(const vec_record_t *r, const char *key)
{
    const char *v = vec_find(r, key, 0);
    cr_assert(v, "vector %s: missing field %s", vec_find(r, "name", 0), key);
    return v;
}

static inline uint64_t vec_u64(const vec_record_t *r, const char *key)
{
    const char *v = vec_str(r, key);
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    cr_assert(*v && *end == '\0' && errno == 0, "field %s: not a decimal integer: %s", key, v);
    return (uint64_t)x;
}

/* Hex value of any length into a malloc'd buffer (NULL-safe for length 0). */
static inline uint8_t *vec_hex_any(const char *v, size_t *len)
{
    size_t n = strlen(v);
    cr_assert(n % 2 == 0, "odd-length hex: %s", v);
    uint8_t *p = malloc(n / 2 + 1);
    cr_assert(p);
    cr_assert(lt_unhex(v, p, n / 2), "bad hex: %s", v);
    *len = n / 2;
    return p;
}

static inline uint8_t *vec_hex(const vec_record_t *r, const char *key, size_t *len)
{
    return vec_hex_any(vec_str(r, key), len);
}

/* Fixed-width hex field: exactly n bytes. */
static inline void vec_fixed_any(const char *v, uint8_t *out, size_t n)
{
    cr_assert(strlen(v) == 2 * n && lt_unhex(v, out, n), "expected %zu hex bytes: %s", n, v);
}

static inline void vec_fixed(const vec_record_t *r, const char *key, uint8_t *out, size_t n)
{
    vec_fixed_any(vec_str(r, key), out, n);
}

#endif
