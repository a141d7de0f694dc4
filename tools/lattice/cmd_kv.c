/* The key-value commands (core:kvstore): put, get, del, list, batch,
 * inspect, watch. */
#include "commands.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

void lt_cli_print_written(const lt_cli_call_t *call, const lt_client_hash_t *hash)
{
    char hex[65];
    lt_client_hex(hash->b, sizeof hash->b, hex);
    if (call->json) {
        lt_json_t j;
        lt_json_init(&j, stdout);
        lt_json_begin_object(&j);
        lt_json_field_str(&j, "hash", hex);
        lt_json_end_object(&j);
        lt_json_end_line(&j);
    } else {
        printf("%s\n", hex);
    }
}

/* KEY (the first argument) must not be empty: the store refuses it. */
int lt_cli_check_key(const lt_cli_t *cli, const lt_cli_call_t *call)
{
    if (call->pos[0].len == 0)
        return lt_cli_usage(cli, call->cmd, "KEY must not be empty");
    return LT_CLI_EXIT_OK;
}

int lt_cli_cmd_put(lt_cli_t *cli, const lt_cli_call_t *call)
{
    const lt_cli_arg_t *key = &call->pos[0], *val = &call->pos[1];
    int rc = 0;
    lt_client_t *c = lt_cli_client(cli, &rc);
    if (!c)
        return rc;
    lt_client_hash_t hash;
    lt_err_t err = lt_client_put(c, &call->store, key->s, key->len, val->s, val->len, &hash);
    if (err != LT_OK) {
        char q[LT_CLI_LABEL_MAX];
        lt_cli_quote(q, sizeof q, key->s, key->len);
        return lt_cli_fail(cli, err, "put %s in %s", q, call->store_label);
    }
    lt_cli_print_written(call, &hash);
    return LT_CLI_EXIT_OK;
}

int lt_cli_cmd_get(lt_cli_t *cli, const lt_cli_call_t *call)
{
    const lt_cli_arg_t *key = &call->pos[0];
    int rc = 0;
    lt_client_t *c = lt_cli_client(cli, &rc);
    if (!c)
        return rc;
    char q[LT_CLI_LABEL_MAX];
    lt_cli_quote(q, sizeof q, key->s, key->len);
    lt_client_item_t item;
    memset(&item, 0, sizeof item);
    lt_err_t err = lt_client_get(c, &call->store, key->s, key->len, &item);
    if (err != LT_OK)
        return lt_cli_fail(cli, err, "get %s in %s", q, call->store_label);
    if (call->json) {
        lt_json_t j;
        lt_json_init(&j, stdout);
        lt_json_begin_object(&j);
        lt_json_field_bytes(&j, "key", key->s, key->len);
        lt_json_field_bytes(&j, "value", item.value, item.value_len);
        lt_json_field_bool(&j, "conflicted", item.conflicted);
        lt_json_end_object(&j);
        lt_json_end_line(&j);
    } else {
        lt_cli_show(stdout, item.value, item.value_len, LT_CLI_SHOW_RAW);
        putchar('\n');
        if (item.conflicted)
            lt_cli_say(0, "note: %s has concurrent values; this is the winner (see: inspect)", q);
    }
    lt_client_item_clear(&item);
    return LT_CLI_EXIT_OK;
}

int lt_cli_cmd_del(lt_cli_t *cli, const lt_cli_call_t *call)
{
    const lt_cli_arg_t *key = &call->pos[0];
    int rc = 0;
    lt_client_t *c = lt_cli_client(cli, &rc);
    if (!c)
        return rc;
    lt_client_hash_t hash;
    lt_err_t err = lt_client_del(c, &call->store, key->s, key->len, &hash);
    if (err != LT_OK) {
        char q[LT_CLI_LABEL_MAX];
        lt_cli_quote(q, sizeof q, key->s, key->len);
        return lt_cli_fail(cli, err, "del %s in %s", q, call->store_label);
    }
    lt_cli_print_written(call, &hash);
    return LT_CLI_EXIT_OK;
}

int lt_cli_cmd_list(lt_cli_t *cli, const lt_cli_call_t *call)
{
    const char *prefix = call->npos ? call->pos[0].s : "";
    size_t prefix_len = call->npos ? call->pos[0].len : 0;
    int rc = 0;
    lt_client_t *c = lt_cli_client(cli, &rc);
    if (!c)
        return rc;
    lt_client_item_t *items = NULL;
    size_t n = 0;
    lt_err_t err = lt_client_list(c, &call->store, prefix, prefix_len, &items, &n);
    if (err != LT_OK)
        return lt_cli_fail(cli, err, "list %s", call->store_label);
    lt_json_t j;
    lt_json_init(&j, stdout);
    if (call->json)
        lt_json_begin_array(&j);
    for (size_t i = 0; i < n; i++) {
        const lt_client_item_t *it = &items[i];
        if (call->json) {
            lt_json_begin_object(&j);
            lt_json_field_bytes(&j, "key", it->key, it->key_len);
            lt_json_field_bytes(&j, "value", it->value, it->value_len);
            lt_json_field_bool(&j, "conflicted", it->conflicted);
            lt_json_field_bool(&j, "deleted", it->deleted);
            lt_json_end_object(&j);
            continue;
        }
        lt_cli_show(stdout, it->key, it->key_len, LT_CLI_SHOW_WORD);
        if (it->deleted) {
            fputs(" (deleted)", stdout);
        } else {
            fputs(" = ", stdout);
            lt_cli_show(stdout, it->value, it->value_len, LT_CLI_SHOW_LINE);
        }
        fputs(it->conflicted ? " (conflicted)\n" : "\n", stdout);
    }
    if (call->json) {
        lt_json_end_array(&j);
        lt_json_end_line(&j);
    }
    lt_client_items_free(items, n);
    return LT_CLI_EXIT_OK;
}

/* ---- batch ---- */

typedef struct {
    lt_cli_words_t *lines; /* the words of each entry line */
    size_t n, cap;
} s_batch_t;

static void s_batch_clear(s_batch_t *b)
{
    for (size_t i = 0; i < b->n; i++)
        lt_cli_words_clear(&b->lines[i]);
    free(b->lines);
    memset(b, 0, sizeof *b);
}

static bool s_word_eq(const lt_cli_arg_t *a, const char *w)
{
    return a->len == strlen(w) && memcmp(a->s, w, a->len) == 0;
}

/* Reads entry lines up to `end` or end of input. Returns an exit code. */
static int s_batch_read(lt_cli_t *cli, s_batch_t *b)
{
    char *line;
    for (size_t lineno = 1; (line = cli->read_line(cli->read_ctx, "batch> ")) != NULL; lineno++) {
        lt_cli_words_t w = {0};
        lt_errbuf_t eb = {{0}};
        if (lt_cli_line_is_blank(line)) {
            free(line);
            continue;
        }
        lt_err_t err = lt_cli_split(line, &w, &eb);
        free(line);
        if (err != LT_OK)
            return lt_cli_say(LT_CLI_EXIT_USAGE, "batch: line %zu: %s; nothing was written", lineno,
                              eb.msg);
        if (w.n == 1 && s_word_eq(&w.v[0], "end")) {
            lt_cli_words_clear(&w);
            break;
        }
        bool put = w.n == 3 && s_word_eq(&w.v[0], "put");
        bool del = w.n == 2 && s_word_eq(&w.v[0], "del");
        const char *why = NULL;
        if (!put && !del)
            why = "expected `put KEY VALUE` or `del KEY`";
        else if (w.v[1].len == 0)
            why = "KEY must not be empty";
        if (why) {
            lt_cli_words_clear(&w);
            return lt_cli_say(LT_CLI_EXIT_USAGE, "batch: line %zu: %s; nothing was written", lineno,
                              why);
        }
        if (b->n == b->cap) {
            size_t cap = b->cap ? b->cap * 2 : 16;
            lt_cli_words_t *v = realloc(b->lines, cap * sizeof *v);
            if (!v) {
                lt_cli_words_clear(&w);
                return lt_cli_say(LT_CLI_EXIT_FAILED, "batch: out of memory");
            }
            b->lines = v;
            b->cap = cap;
        }
        b->lines[b->n++] = w;
    }
    return LT_CLI_EXIT_OK;
}

int lt_cli_cmd_batch(lt_cli_t *cli, const lt_cli_call_t *call)
{
    s_batch_t b = {0};
    int rc = s_batch_read(cli, &b);
    lt_client_batch_entry_t *entries = NULL;
    if (rc == LT_CLI_EXIT_OK && b.n == 0)
        rc = lt_cli_say(LT_CLI_EXIT_USAGE,
                        "batch: no entries on input (lines: put KEY VALUE, del KEY)");
    if (rc == LT_CLI_EXIT_OK) {
        entries = calloc(b.n, sizeof *entries);
        if (!entries)
            rc = lt_cli_say(LT_CLI_EXIT_FAILED, "batch: out of memory");
    }
    lt_client_t *c = NULL;
    if (rc == LT_CLI_EXIT_OK)
        c = lt_cli_client(cli, &rc);
    if (c) {
        for (size_t i = 0; i < b.n; i++) {
            const lt_cli_words_t *w = &b.lines[i];
            entries[i].key = (const uint8_t *)w->v[1].s;
            entries[i].key_len = w->v[1].len;
            entries[i].del = w->n == 2;
            if (w->n == 3) {
                entries[i].value = (const uint8_t *)w->v[2].s;
                entries[i].value_len = w->v[2].len;
            }
        }
        lt_client_hash_t hash;
        lt_err_t err = lt_client_batch(c, &call->store, entries, b.n, &hash);
        if (err != LT_OK) {
            rc = lt_cli_fail(cli, err, "batch of %zu in %s", b.n, call->store_label);
        } else if (call->json) {
            char hex[65];
            lt_client_hex(hash.b, sizeof hash.b, hex);
            lt_json_t j;
            lt_json_init(&j, stdout);
            lt_json_begin_object(&j);
            lt_json_field_str(&j, "hash", hex);
            lt_json_field_u64(&j, "entries", b.n);
            lt_json_end_object(&j);
            lt_json_end_line(&j);
        } else {
            lt_cli_print_written(call, &hash);
        }
    }
    free(entries);
    s_batch_clear(&b);
    return rc;
}

/* ---- inspect ---- */

int lt_cli_cmd_inspect(lt_cli_t *cli, const lt_cli_call_t *call)
{
    const lt_cli_arg_t *key = &call->pos[0];
    int rc = 0;
    lt_client_t *c = lt_cli_client(cli, &rc);
    if (!c)
        return rc;
    lt_client_head_t *heads = NULL;
    size_t n = 0;
    lt_err_t err = lt_client_inspect(c, &call->store, key->s, key->len, &heads, &n);
    if (err != LT_OK) {
        char q[LT_CLI_LABEL_MAX];
        lt_cli_quote(q, sizeof q, key->s, key->len);
        return lt_cli_fail(cli, err, "inspect %s in %s", q, call->store_label);
    }
    lt_json_t j;
    lt_json_init(&j, stdout);
    if (call->json) {
        lt_json_begin_object(&j);
        lt_json_field_bytes(&j, "key", key->s, key->len);
        lt_json_field_bool(&j, "conflicted", n > 1);
        lt_json_key(&j, "heads");
        lt_json_begin_array(&j);
    }
    for (size_t i = 0; i < n; i++) {
        const lt_client_head_t *h = &heads[i];
        char time[48];
        if (call->json) {
            lt_cli_time(time, sizeof time, h->wall_ms, true);
            lt_json_begin_object(&j);
            lt_json_field_hex(&j, "hash", h->hash.b, sizeof h->hash.b);
            lt_json_field_hex(&j, "author", h->author.b, sizeof h->author.b);
            lt_json_field_u64(&j, "wall_ms", h->wall_ms);
            lt_json_field_u64(&j, "counter", h->counter);
            lt_json_field_str(&j, "time", time);
            lt_json_field_bool(&j, "tombstone", h->tombstone);
            lt_json_field_bytes(&j, "value", h->value, h->value_len);
            lt_json_end_object(&j);
            continue;
        }
        char hs[9], as[9];
        lt_cli_short(hs, h->hash.b);
        lt_cli_short(as, h->author.b);
        lt_cli_time(time, sizeof time, h->wall_ms, false);
        printf("%c %s  %s  %s #%" PRIu32 "  ", i == 0 ? '*' : ' ', hs, as, time, h->counter);
        if (h->tombstone)
            fputs("(deleted)", stdout);
        else
            lt_cli_show(stdout, h->value, h->value_len, LT_CLI_SHOW_LINE);
        putchar('\n');
    }
    if (call->json) {
        lt_json_end_array(&j);
        lt_json_end_object(&j);
        lt_json_end_line(&j);
    }
    lt_client_heads_free(heads, n);
    return LT_CLI_EXIT_OK;
}

/* ---- watch ---- */

static void s_print_change(const lt_cli_call_t *call, const lt_client_event_t *ev)
{
    if (call->json) {
        char sid[33];
        lt_client_hex(ev->store.b, sizeof ev->store.b, sid);
        lt_json_t j;
        lt_json_init(&j, stdout);
        lt_json_begin_object(&j);
        lt_json_field_str(&j, "store", sid);
        lt_json_field_bytes(&j, "key", ev->key, ev->key_len);
        lt_json_field_bytes(&j, "value", ev->value, ev->value_len);
        lt_json_field_bool(&j, "deleted", ev->deleted);
        lt_json_field_bool(&j, "conflicted", ev->conflicted);
        lt_json_field_hex(&j, "hash", ev->hash.b, sizeof ev->hash.b);
        lt_json_end_object(&j);
        lt_json_end_line(&j);
        return;
    }
    fputs(ev->deleted ? "del " : "put ", stdout);
    lt_cli_show(stdout, ev->key, ev->key_len, LT_CLI_SHOW_WORD);
    if (!ev->deleted) {
        fputs(" = ", stdout);
        lt_cli_show(stdout, ev->value, ev->value_len, LT_CLI_SHOW_LINE);
    }
    fputs(ev->conflicted ? " (conflicted)\n" : "\n", stdout);
    fflush(stdout);
}

static lt_err_t s_watch_start(lt_client_t *c, const lt_cli_call_t *call, uint64_t *stream)
{
    const char *prefix = call->npos ? call->pos[0].s : "";
    size_t len = call->npos ? call->pos[0].len : 0;
    return lt_client_watch(c, &call->store, prefix, len, stream);
}

int lt_cli_cmd_watch(lt_cli_t *cli, const lt_cli_call_t *call)
{
    static const lt_cli_stream_t spec = {"watch", s_watch_start, s_print_change};
    return lt_cli_stream_run(cli, call, &spec);
}
