/* Shell-like splitting of REPL and batch lines into words (args.h), and
 * strict decimal parsing for option values. Pure: no I/O, no client. */
#include "args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A growing byte buffer for the word being read. */
typedef struct {
    char *b;
    size_t len;
    size_t cap;
} s_word_t;

static bool s_word_reserve(s_word_t *w, size_t more)
{
    if (w->len + more + 1 <= w->cap)
        return true;
    size_t cap = w->cap ? w->cap : 32;
    while (cap < w->len + more + 1)
        cap *= 2;
    char *b = realloc(w->b, cap);
    if (!b)
        return false;
    w->b = b;
    w->cap = cap;
    return true;
}

static bool s_word_push(s_word_t *w, char c)
{
    if (!s_word_reserve(w, 1))
        return false;
    w->b[w->len++] = c;
    w->b[w->len] = '\0';
    return true;
}

/* Moves the word (possibly empty) to the end of out. */
static bool s_words_push(lt_cli_words_t *out, s_word_t *w)
{
    if (!s_word_reserve(w, 0))
        return false;
    w->b[w->len] = '\0';
    if (out->n == out->cap) {
        size_t cap = out->cap ? out->cap * 2 : 8;
        lt_cli_arg_t *v = realloc(out->v, cap * sizeof *v);
        if (!v)
            return false;
        out->v = v;
        out->cap = cap;
    }
    out->v[out->n].s = w->b;
    out->v[out->n].len = w->len;
    out->n++;
    w->b = NULL;
    w->len = w->cap = 0;
    return true;
}

static int s_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool s_is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static lt_err_t s_fail(lt_errbuf_t *eb, lt_err_t code, const char *msg, size_t col)
{
    if (eb)
        snprintf(eb->msg, sizeof eb->msg, "%s at column %zu", msg, col + 1);
    return code;
}

/* Reads one backslash escape starting at line[*i] (the character after the
 * backslash); appends its byte and advances *i past it. */
static lt_err_t s_escape(const char *line, size_t *i, s_word_t *w, lt_errbuf_t *eb)
{
    char c = line[*i];
    char out;
    switch (c) {
    case '\0':
        return s_fail(eb, LT_EINVAL, "a backslash ends the line", *i - 1);
    case 'n':
        out = '\n';
        break;
    case 't':
        out = '\t';
        break;
    case 'r':
        out = '\r';
        break;
    case '0':
        out = '\0';
        break;
    case 'x': {
        int hi = s_hexval(line[*i + 1]);
        int lo = hi < 0 ? -1 : s_hexval(line[*i + 2]);
        if (hi < 0 || lo < 0)
            return s_fail(eb, LT_EINVAL, "\\x needs two hex digits", *i - 1);
        out = (char)(hi * 16 + lo);
        *i += 2;
        break;
    }
    default:
        out = c;
        break;
    }
    (*i)++;
    return s_word_push(w, out) ? LT_OK : LT_ENOMEM;
}

lt_err_t lt_cli_split(const char *line, lt_cli_words_t *out, lt_errbuf_t *eb)
{
    s_word_t w = {0};
    bool in_word = false;
    lt_err_t err = LT_OK;
    size_t i = 0;
    while (err == LT_OK) {
        char c = line[i];
        if (c == '\0' || s_is_blank(c)) {
            if (in_word && !s_words_push(out, &w))
                err = LT_ENOMEM;
            in_word = false;
            if (c == '\0')
                break;
            i++;
            continue;
        }
        in_word = true;
        if (c == '\'') {
            size_t open = i++;
            while (err == LT_OK && line[i] != '\'') {
                if (line[i] == '\0')
                    err = s_fail(eb, LT_EINVAL, "unterminated ' quote opened", open);
                else if (!s_word_push(&w, line[i++]))
                    err = LT_ENOMEM;
            }
            i++;
        } else if (c == '"') {
            size_t open = i++;
            while (err == LT_OK && line[i] != '"') {
                if (line[i] == '\0') {
                    err = s_fail(eb, LT_EINVAL, "unterminated \" quote opened", open);
                } else if (line[i] == '\\') {
                    i++;
                    err = s_escape(line, &i, &w, eb);
                } else if (!s_word_push(&w, line[i++])) {
                    err = LT_ENOMEM;
                }
            }
            i++;
        } else if (c == '\\') {
            i++;
            err = s_escape(line, &i, &w, eb);
        } else if (!s_word_push(&w, c)) {
            err = LT_ENOMEM;
        } else {
            i++;
        }
    }
    free(w.b);
    if (err != LT_OK) {
        if (err == LT_ENOMEM && eb)
            snprintf(eb->msg, sizeof eb->msg, "out of memory");
        lt_cli_words_clear(out);
    }
    return err;
}

void lt_cli_words_clear(lt_cli_words_t *w)
{
    for (size_t i = 0; i < w->n; i++)
        free((void *)w->v[i].s);
    free(w->v);
    w->v = NULL;
    w->n = w->cap = 0;
}

bool lt_cli_line_is_blank(const char *line)
{
    while (s_is_blank(*line))
        line++;
    return *line == '\0' || *line == '#';
}

bool lt_cli_parse_u64(const char *s, uint64_t *out)
{
    if (!s || *s < '0' || *s > '9')
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

bool lt_cli_parse_u32(const char *s, uint32_t *out)
{
    uint64_t v;
    if (!lt_cli_parse_u64(s, &v) || v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}
