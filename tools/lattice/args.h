/* Words of a command line typed into the REPL or fed to `lattice batch`:
 * shell-like splitting, plus the number parsing every command shares.
 *
 * Splitting rules (the REPL's `help` repeats them): words are separated by
 * blanks; 'single quotes' take everything literally; "double quotes" and
 * bare words take backslash escapes: \n \t \r \0 \xHH (one byte), and a
 * backslash before any other character stands for that character (\" \\
 * \' \ ). Quotes may join inside a word (a"b c"d is one word) and "" is an
 * empty word. A word may therefore hold any byte, NUL included: each word
 * carries its length. */
#ifndef LT_CLI_ARGS_H
#define LT_CLI_ARGS_H

#include "weaver/errors.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One argument: bytes and their length; s is NUL-terminated too. */
typedef struct {
    const char *s;
    size_t len;
} lt_cli_arg_t;

/* The words of one line. Owns its memory (lt_cli_words_clear). */
typedef struct {
    lt_cli_arg_t *v;
    size_t n;
    size_t cap;
} lt_cli_words_t;

/* Splits line into *out (which must be zeroed or cleared). LT_EINVAL with
 * a sentence in eb (may be NULL) for an unterminated quote, a trailing
 * backslash or a malformed \x escape; LT_ENOMEM when memory runs out. On
 * failure *out holds no words. */
LT_NODISCARD lt_err_t lt_cli_split(const char *line, lt_cli_words_t *out, lt_errbuf_t *eb);
void lt_cli_words_clear(lt_cli_words_t *w);

/* True when a line holds nothing to run: only blanks, or a comment (its
 * first non-blank character is '#'). */
bool lt_cli_line_is_blank(const char *line);

/* Decimal without sign, no trailing characters, within the type. */
bool lt_cli_parse_u64(const char *s, uint64_t *out);
bool lt_cli_parse_u32(const char *s, uint32_t *out);

#endif
