/* A small streaming JSON writer for the CLI's --json output: compact (one
 * value per line, so `watch --json` prints one object per line), strings
 * escaped per RFC 8259, nesting checked by assertions.
 *
 * Bytes that are not UTF-8. Keys, values and log text are bytes. A field
 * written with lt_json_field_bytes("value", b, n) is always a string: the
 * text itself when b is valid UTF-8 (NUL and control characters escaped as
 * \u00XX, so the string decodes back to exactly b), otherwise the bytes with
 * every invalid byte replaced by U+FFFD, plus a sibling field "value_hex"
 * holding the exact bytes in lowercase hex. So "<name>_hex" is present if
 * and only if the bytes are not UTF-8, and then it is the truth. */
#ifndef LT_CLI_JSON_H
#define LT_CLI_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define LT_JSON_MAX_DEPTH 16

typedef struct {
    FILE *f;
    int depth;
    bool first[LT_JSON_MAX_DEPTH]; /* no member written yet at this depth */
    bool after_key;                /* a key was written; its value comes next */
} lt_json_t;

void lt_json_init(lt_json_t *j, FILE *f);
void lt_json_begin_object(lt_json_t *j);
void lt_json_end_object(lt_json_t *j);
void lt_json_begin_array(lt_json_t *j);
void lt_json_end_array(lt_json_t *j);
/* Writes a newline after a complete top-level value and flushes. */
void lt_json_end_line(lt_json_t *j);

void lt_json_key(lt_json_t *j, const char *key);
/* Values. lt_json_string takes text; invalid UTF-8 is replaced (U+FFFD). */
void lt_json_string(lt_json_t *j, const char *s);
void lt_json_string_n(lt_json_t *j, const void *b, size_t n);
void lt_json_hex(lt_json_t *j, const void *b, size_t n);
void lt_json_u64(lt_json_t *j, uint64_t v);
void lt_json_bool(lt_json_t *j, bool v);
void lt_json_null(lt_json_t *j);

/* key + value in one call. */
void lt_json_field_str(lt_json_t *j, const char *key, const char *s);
void lt_json_field_hex(lt_json_t *j, const char *key, const void *b, size_t n);
void lt_json_field_u64(lt_json_t *j, const char *key, uint64_t v);
void lt_json_field_bool(lt_json_t *j, const char *key, bool v);
/* "key": text, and "key_hex" when the bytes are not UTF-8 (see above). */
void lt_json_field_bytes(lt_json_t *j, const char *key, const void *b, size_t n);

/* True when b[0..n) is well-formed UTF-8 (no overlongs, no surrogates, at
 * most U+10FFFF). */
bool lt_utf8_valid(const void *b, size_t n);
/* Length of the well-formed UTF-8 sequence at b (1..4), or 0 when b[0]
 * does not start one within n bytes. */
size_t lt_utf8_seq_len(const uint8_t *b, size_t n);

#endif
