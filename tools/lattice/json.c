/* The CLI's JSON writer (json.h): compact output, RFC 8259 escaping, and
 * the UTF-8 validation that decides how bytes are shown. */
#include "json.h"

#include <assert.h>
#include <inttypes.h>
#include <string.h>

size_t lt_utf8_seq_len(const uint8_t *b, size_t n)
{
    if (n == 0)
        return 0;
    uint8_t c = b[0];
    if (c < 0x80)
        return 1;
    size_t len;
    uint8_t lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        if (c == 0xED)
            hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        if (c == 0xF4)
            hi = 0x8F; /* past U+10FFFF */
    } else {
        return 0;
    }
    if (n < len || b[1] < lo || b[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((b[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

bool lt_utf8_valid(const void *b, size_t n)
{
    const uint8_t *p = b;
    size_t i = 0;
    while (i < n) {
        size_t len = lt_utf8_seq_len(p + i, n - i);
        if (len == 0)
            return false;
        i += len;
    }
    return true;
}

void lt_json_init(lt_json_t *j, FILE *f)
{
    memset(j, 0, sizeof *j);
    j->f = f;
    j->first[0] = true;
}

/* Separates a value from what came before it in its container. */
static void s_before_value(lt_json_t *j)
{
    if (j->after_key) {
        j->after_key = false;
        return;
    }
    if (!j->first[j->depth])
        fputc(',', j->f);
    j->first[j->depth] = false;
}

static void s_open(lt_json_t *j, char c)
{
    s_before_value(j);
    assert(j->depth + 1 < LT_JSON_MAX_DEPTH);
    fputc(c, j->f);
    j->depth++;
    j->first[j->depth] = true;
}

static void s_close(lt_json_t *j, char c)
{
    assert(j->depth > 0 && !j->after_key);
    fputc(c, j->f);
    j->depth--;
}

void lt_json_begin_object(lt_json_t *j)
{
    s_open(j, '{');
}

void lt_json_end_object(lt_json_t *j)
{
    s_close(j, '}');
}

void lt_json_begin_array(lt_json_t *j)
{
    s_open(j, '[');
}

void lt_json_end_array(lt_json_t *j)
{
    s_close(j, ']');
}

void lt_json_end_line(lt_json_t *j)
{
    assert(j->depth == 0);
    fputc('\n', j->f);
    fflush(j->f);
    j->first[0] = true;
}

static void s_escaped(FILE *f, const uint8_t *b, size_t n)
{
    fputc('"', f);
    size_t i = 0;
    while (i < n) {
        uint8_t c = b[i];
        size_t len = lt_utf8_seq_len(b + i, n - i);
        if (len == 0) {
            fputs("\xEF\xBF\xBD", f); /* U+FFFD for one invalid byte */
            i++;
            continue;
        }
        if (len > 1) {
            fwrite(b + i, 1, len, f);
        } else if (c == '"' || c == '\\') {
            fputc('\\', f);
            fputc(c, f);
        } else if (c == '\n') {
            fputs("\\n", f);
        } else if (c == '\t') {
            fputs("\\t", f);
        } else if (c == '\r') {
            fputs("\\r", f);
        } else if (c < 0x20 || c == 0x7F) {
            fprintf(f, "\\u%04x", c);
        } else {
            fputc(c, f);
        }
        i += len;
    }
    fputc('"', f);
}

void lt_json_key(lt_json_t *j, const char *key)
{
    assert(j->depth > 0 && !j->after_key);
    s_before_value(j);
    s_escaped(j->f, (const uint8_t *)key, strlen(key));
    fputc(':', j->f);
    j->after_key = true;
}

void lt_json_string(lt_json_t *j, const char *s)
{
    lt_json_string_n(j, s, strlen(s));
}

void lt_json_string_n(lt_json_t *j, const void *b, size_t n)
{
    s_before_value(j);
    s_escaped(j->f, b, n);
}

void lt_json_hex(lt_json_t *j, const void *b, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    const uint8_t *p = b;
    s_before_value(j);
    fputc('"', j->f);
    for (size_t i = 0; i < n; i++) {
        fputc(digits[p[i] >> 4], j->f);
        fputc(digits[p[i] & 15], j->f);
    }
    fputc('"', j->f);
}

void lt_json_u64(lt_json_t *j, uint64_t v)
{
    s_before_value(j);
    fprintf(j->f, "%" PRIu64, v);
}

void lt_json_bool(lt_json_t *j, bool v)
{
    s_before_value(j);
    fputs(v ? "true" : "false", j->f);
}

void lt_json_null(lt_json_t *j)
{
    s_before_value(j);
    fputs("null", j->f);
}

void lt_json_field_str(lt_json_t *j, const char *key, const char *s)
{
    lt_json_key(j, key);
    lt_json_string(j, s);
}

void lt_json_field_hex(lt_json_t *j, const char *key, const void *b, size_t n)
{
    lt_json_key(j, key);
    lt_json_hex(j, b, n);
}

void lt_json_field_u64(lt_json_t *j, const char *key, uint64_t v)
{
    lt_json_key(j, key);
    lt_json_u64(j, v);
}

void lt_json_field_bool(lt_json_t *j, const char *key, bool v)
{
    lt_json_key(j, key);
    lt_json_bool(j, v);
}

void lt_json_field_bytes(lt_json_t *j, const char *key, const void *b, size_t n)
{
    lt_json_key(j, key);
    lt_json_string_n(j, b, n);
    if (!lt_utf8_valid(b, n)) {
        char hexkey[64];
        snprintf(hexkey, sizeof hexkey, "%s_hex", key);
        lt_json_field_hex(j, hexkey, b, n);
    }
}
