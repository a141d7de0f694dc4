/* The pure parts of the lattice CLI (tools/lattice): shell-like line
 * splitting, the JSON writer with its UTF-8 rules, and the lane layout that
 * `lattice history` draws. No node, no client. */
#include "tools/lattice/args.h"
#include "tools/lattice/dag.h"
#include "tools/lattice/json.h"

#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- splitting ---- */

static lt_cli_words_t s_split_ok(const char *line)
{
    lt_cli_words_t w = {0};
    lt_errbuf_t eb = {{0}};
    cr_assert_eq(lt_cli_split(line, &w, &eb), LT_OK, "split of [%s]: %s", line, eb.msg);
    return w;
}

static void s_word_is(const lt_cli_words_t *w, size_t i, const char *s, size_t len)
{
    cr_assert_lt(i, w->n);
    cr_assert_eq(w->v[i].len, len, "word %zu has %zu bytes, not %zu", i, w->v[i].len, len);
    cr_assert_eq(memcmp(w->v[i].s, s, len), 0, "word %zu", i);
    cr_assert_eq(w->v[i].s[len], '\0');
}

Test(cli_split, blanks_separate_words)
{
    lt_cli_words_t w = s_split_ok("  put \tk  v ");
    cr_assert_eq(w.n, 3);
    s_word_is(&w, 0, "put", 3);
    s_word_is(&w, 1, "k", 1);
    s_word_is(&w, 2, "v", 1);
    lt_cli_words_clear(&w);
}

Test(cli_split, quotes_keep_blanks_and_join_inside_a_word)
{
    lt_cli_words_t w = s_split_ok("put \"a b\" 'c  d' x\"y z\"w");
    cr_assert_eq(w.n, 4);
    s_word_is(&w, 1, "a b", 3);
    s_word_is(&w, 2, "c  d", 4);
    s_word_is(&w, 3, "xy zw", 5);
    lt_cli_words_clear(&w);
}

Test(cli_split, empty_quotes_make_empty_words)
{
    lt_cli_words_t w = s_split_ok("put k \"\" ''");
    cr_assert_eq(w.n, 4);
    s_word_is(&w, 2, "", 0);
    s_word_is(&w, 3, "", 0);
    lt_cli_words_clear(&w);
}

Test(cli_split, backslash_escapes_work_bare_and_in_double_quotes)
{
    lt_cli_words_t w = s_split_ok("a\\ b \"q\\\"\\\\\" \"\\n\\t\\r\" \\x41\\x00z '\\n'");
    cr_assert_eq(w.n, 5);
    s_word_is(&w, 0, "a b", 3);
    s_word_is(&w, 1, "q\"\\", 3);
    s_word_is(&w, 2, "\n\t\r", 3);
    s_word_is(&w, 3, "A\0z", 3);
    s_word_is(&w, 4, "\\n", 2); /* single quotes take everything literally */
    lt_cli_words_clear(&w);
}

Test(cli_split, blank_lines_and_comments_hold_nothing)
{
    cr_assert(lt_cli_line_is_blank(""));
    cr_assert(lt_cli_line_is_blank("   \t"));
    cr_assert(lt_cli_line_is_blank("  # put a b"));
    cr_assert_not(lt_cli_line_is_blank(" put a #b"));
    lt_cli_words_t w = s_split_ok("   ");
    cr_assert_eq(w.n, 0);
    lt_cli_words_clear(&w);
}

Test(cli_split, malformed_lines_are_refused_with_a_column)
{
    const char *bad[] = {"put 'a", "put \"a", "put a\\", "put \\x4", "put \"\\xZ1\""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        lt_cli_words_t w = {0};
        lt_errbuf_t eb = {{0}};
        cr_assert_eq(lt_cli_split(bad[i], &w, &eb), LT_EINVAL, "[%s]", bad[i]);
        cr_assert_eq(w.n, 0);
        cr_assert(strstr(eb.msg, "column"), "[%s] -> %s", bad[i], eb.msg);
    }
}

Test(cli_split, numbers_are_strict_decimals)
{
    uint64_t v;
    uint32_t u;
    cr_assert(lt_cli_parse_u64("0", &v) && v == 0);
    cr_assert(lt_cli_parse_u64("18446744073709551615", &v) && v == UINT64_MAX);
    cr_assert_not(lt_cli_parse_u64("18446744073709551616", &v));
    cr_assert_not(lt_cli_parse_u64("-1", &v));
    cr_assert_not(lt_cli_parse_u64("+1", &v));
    cr_assert_not(lt_cli_parse_u64(" 1", &v));
    cr_assert_not(lt_cli_parse_u64("1x", &v));
    cr_assert_not(lt_cli_parse_u64("", &v));
    cr_assert(lt_cli_parse_u32("4294967295", &u) && u == UINT32_MAX);
    cr_assert_not(lt_cli_parse_u32("4294967296", &u));
}

/* ---- JSON ---- */

/* Runs fn on a writer over a memory stream; returns what it wrote. */
static char *s_json(void (*fn)(lt_json_t *j))
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    lt_json_t j;
    lt_json_init(&j, f);
    fn(&j);
    fclose(f);
    return buf;
}

static void s_nested(lt_json_t *j)
{
    lt_json_begin_object(j);
    lt_json_field_str(j, "a", "x");
    lt_json_key(j, "list");
    lt_json_begin_array(j);
    lt_json_u64(j, 1);
    lt_json_bool(j, false);
    lt_json_null(j);
    lt_json_begin_object(j);
    lt_json_end_object(j);
    lt_json_begin_array(j);
    lt_json_end_array(j);
    lt_json_end_array(j);
    lt_json_field_u64(j, "n", UINT64_MAX);
    lt_json_end_object(j);
    lt_json_end_line(j);
}

Test(cli_json, commas_and_nesting_are_placed_right)
{
    char *s = s_json(s_nested);
    cr_assert_str_eq(s, "{\"a\":\"x\",\"list\":[1,false,null,{},[]],\"n\":18446744073709551615}\n");
    free(s);
}

static void s_escapes(lt_json_t *j)
{
    lt_json_string_n(j, "q\"b\\n\n\t\r\x01\x1f\x7f/", 12);
}

Test(cli_json, strings_escape_quotes_backslashes_and_controls)
{
    char *s = s_json(s_escapes);
    cr_assert_str_eq(s, "\"q\\\"b\\\\n\\n\\t\\r\\u0001\\u001f\\u007f/\"");
    free(s);
}

static void s_nul(lt_json_t *j)
{
    lt_json_begin_object(j);
    lt_json_field_bytes(j, "key", "a\0b", 3);
    lt_json_end_object(j);
}

Test(cli_json, a_nul_byte_is_text_escaped_exactly)
{
    char *s = s_json(s_nul);
    cr_assert_str_eq(s, "{\"key\":\"a\\u0000b\"}");
    free(s);
}

static void s_utf8(lt_json_t *j)
{
    lt_json_begin_object(j);
    lt_json_field_bytes(j, "value", "h\xc3\xa9llo \xe2\x97\x8f \xf0\x9f\x98\x80", 15);
    lt_json_end_object(j);
}

Test(cli_json, utf8_text_passes_through_without_a_hex_field)
{
    char *s = s_json(s_utf8);
    cr_assert_str_eq(s, "{\"value\":\"h\xc3\xa9llo \xe2\x97\x8f \xf0\x9f\x98\x80\"}");
    free(s);
}

static void s_binary(lt_json_t *j)
{
    lt_json_begin_object(j);
    lt_json_field_bytes(j, "value", "a\xff\xc3", 3);
    lt_json_end_object(j);
}

Test(cli_json, bytes_that_are_not_utf8_get_replacements_and_a_hex_field)
{
    char *s = s_json(s_binary);
    cr_assert_str_eq(s, "{\"value\":\"a\xef\xbf\xbd\xef\xbf\xbd\",\"value_hex\":\"61ffc3\"}");
    free(s);
}

Test(cli_json, utf8_validation_refuses_overlongs_surrogates_and_truncation)
{
    cr_assert(lt_utf8_valid("", 0));
    cr_assert(lt_utf8_valid("\xf4\x8f\xbf\xbf", 4)); /* U+10FFFF */
    cr_assert(lt_utf8_valid("\xed\x9f\xbf", 3));     /* U+D7FF */
    cr_assert_not(lt_utf8_valid("\xc0\x80", 2));     /* overlong NUL */
    cr_assert_not(lt_utf8_valid("\xe0\x80\x80", 3)); /* overlong */
    cr_assert_not(lt_utf8_valid("\xed\xa0\x80", 3)); /* surrogate */
    cr_assert_not(lt_utf8_valid("\xf4\x90\x80\x80", 4));
    cr_assert_not(lt_utf8_valid("\xe2\x97", 2)); /* truncated */
    cr_assert_not(lt_utf8_valid("\x80", 1));
    cr_assert_not(lt_utf8_valid("\xf8\x88\x80\x80\x80", 5));
}

/* ---- DAG layout ---- */

#define S_MAXN 16

/* A window: parents[i] lists indices (or 100+ for outside the window),
 * terminated by -1. Returns the lines the history would print (node lines
 * with "n<i>" as text, connecting lines as they are), joined by '\n'. */
static char *s_layout(size_t n, const int parents[][5])
{
    uint8_t hashes[S_MAXN][32];
    uint8_t pbuf[S_MAXN][5 * 32];
    lt_dag_node_t nodes[S_MAXN];
    for (size_t i = 0; i < n; i++) {
        memset(hashes[i], 0, 32);
        hashes[i][0] = (uint8_t)(i + 1);
        nodes[i].hash = hashes[i];
        nodes[i].parents = pbuf[i];
        nodes[i].nparents = 0;
        for (size_t k = 0; k < 5 && parents[i][k] >= 0; k++) {
            memset(pbuf[i] + 32 * k, 0, 32);
            pbuf[i][32 * k] = (uint8_t)(parents[i][k] + 1);
            nodes[i].nparents++;
        }
    }
    lt_dag_row_t *rows = NULL;
    cr_assert_eq(lt_dag_layout(nodes, n, &rows), LT_OK);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "%sn%zu\n", rows[i].node, i);
        if (rows[i].after)
            fprintf(f, "%s\n", rows[i].after);
    }
    fclose(f);
    lt_dag_rows_free(&rows, n);
    cr_assert_null(rows);
    return out;
}

static void s_layout_is(size_t n, const int parents[][5], const char *want)
{
    char *got = s_layout(n, parents);
    cr_assert_str_eq(got, want, "got:\n%s\nwant:\n%s", got, want);
    free(got);
}

Test(cli_dag, a_chain_is_one_straight_lane)
{
    const int p[][5] = {{1, -1}, {2, -1}, {3, -1}, {-1}};
    s_layout_is(4, p, "● n0\n● n1\n● n2\n● n3\n");
}

Test(cli_dag, edges_implied_by_others_are_not_drawn)
{
    /* One author's chain whose writes also depend on older key heads. */
    const int p[][5] = {{1, 3, -1}, {2, 3, -1}, {3, -1}, {-1}};
    s_layout_is(4, p, "● n0\n● n1\n● n2\n● n3\n");
}

Test(cli_dag, a_merge_opens_a_lane_that_ends_at_its_root)
{
    /* n0 merges n1 (its chain) and n2 (another author's, from n3). */
    const int p[][5] = {{1, 2, -1}, {3, -1}, {3, -1}, {-1}};
    s_layout_is(4, p,
                "●   n0\n"
                "├─┐\n"
                "● │ n1\n"
                "│ ● n2\n"
                "├─┘\n"
                "●   n3\n");
}

Test(cli_dag, a_concurrent_head_without_parents_just_ends)
{
    const int p[][5] = {{1, 2, -1}, {-1}, {-1}};
    s_layout_is(3, p,
                "●   n0\n"
                "├─┐\n"
                "● │ n1\n"
                "  ● n2\n");
}

Test(cli_dag, two_heads_run_side_by_side)
{
    const int p[][5] = {{2, -1}, {3, -1}, {-1}, {-1}};
    s_layout_is(4, p,
                "●   n0\n"
                "│ ● n1\n"
                "● │ n2\n"
                "  ● n3\n");
}

Test(cli_dag, an_edge_crosses_lanes_it_passes)
{
    const int p[][5] = {{4, -1}, {5, -1}, {4, -1}, {5, -1}, {-1}, {-1}};
    s_layout_is(6, p,
                "●     n0\n"
                "│ ●   n1\n"
                "│ │ ● n2\n"
                "├─┼─┘\n"
                "│ │ ● n3\n"
                "│ ├─┘\n"
                "● │   n4\n"
                "  ●   n5\n");
}

Test(cli_dag, a_lane_to_the_right_joins_the_left_one)
{
    const int p[][5] = {{3, -1}, {2, -1}, {4, -1}, {4, -1}, {-1}};
    s_layout_is(5, p,
                "●   n0\n"
                "│ ● n1\n"
                "│ ● n2\n"
                "● │ n3\n"
                "├─┘\n"
                "●   n4\n");
}

Test(cli_dag, three_parents_fan_out)
{
    const int p[][5] = {{1, 2, 3, -1}, {4, -1}, {4, -1}, {4, -1}, {-1}};
    s_layout_is(5, p,
                "●     n0\n"
                "├─┬─┐\n"
                "● │ │ n1\n"
                "│ ● │ n2\n"
                "├─┘ │\n"
                "│   ● n3\n"
                "├───┘\n"
                "●     n4\n");
}

Test(cli_dag, a_parent_outside_the_window_keeps_only_a_lane_with_nothing_inside)
{
    /* n1's parent is outside (100); n0 has n1 inside, so its outside dep is
     * dropped; the window ends with n1's lane running on. */
    const int p[][5] = {{1, 100, -1}, {100, -1}};
    s_layout_is(2, p, "● n0\n● n1\n");
}

Test(cli_dag, an_empty_window_lays_out_nothing)
{
    lt_dag_row_t *rows = NULL;
    cr_assert_eq(lt_dag_layout(NULL, 0, &rows), LT_OK);
    lt_dag_rows_free(&rows, 0);
}
