/* The lane layout behind `lattice history` (dag.h).
 *
 * Walking the rows newest first, each lane holds the intention it waits
 * for (a parent of something drawn above). An intention takes the lane
 * waiting for it, or a free one when nothing above points at it (a head).
 * After its row, a parent that some lane already awaits is never given a
 * second lane: the edge is drawn across into that lane at once (├─┤ into a
 * lane to the left; a lane to the right instead ends and joins this one,
 * ├─┘, as git draws |/). The first parent no lane awaits continues this
 * lane straight down; each further one starts a new lane to the right
 * (├─┐). So no intention is ever awaited by two lanes, and the picture
 * needs only two kinds of line: the node line and, when edges cross lanes,
 * one connecting line below it. */
#include "dag.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Reduction keeps an n*n bit matrix; past this many rows it is skipped. */
#define S_REDUCE_MAX 4096

enum { S_EMPTY = -1, S_DANGLING = -2 };

/* One glyph per display column of a line. */
enum {
    G_SPACE,
    G_NODE,
    G_VERT,
    G_HORZ,
    G_CROSS,  /* ┼ */
    G_TEE_R,  /* ├ */
    G_TEE_L,  /* ┤ */
    G_DOWN_L, /* ┐ */
    G_DOWN_R, /* ┌ */
    G_DOWN_T, /* ┬ */
    G_UP_L,   /* ┘ */
    G_UP_R,   /* └ */
    G_UP_T,   /* ┴ */
};

static const char *const s_glyphs[] = {
    " ", "●", "│", "─", "┼", "├", "┤", "┐", "┌", "┬", "┘", "└", "┴",
};

typedef struct {
    const uint8_t *hash;
    size_t index;
} s_entry_t;

static int s_entry_cmp(const void *a, const void *b)
{
    return memcmp(((const s_entry_t *)a)->hash, ((const s_entry_t *)b)->hash, LT_DAG_HASH_LEN);
}

/* Index of hash in the window, or -1. */
static long s_find(const s_entry_t *sorted, size_t n, const uint8_t *hash)
{
    s_entry_t key = {.hash = hash};
    const s_entry_t *e = bsearch(&key, sorted, n, sizeof *sorted, s_entry_cmp);
    return e ? (long)e->index : -1;
}

/* The parents each row draws: indices into the window, or S_DANGLING. */
typedef struct {
    long *v;
    size_t n;
} s_parents_t;

static bool s_bit(const uint64_t *m, size_t words, size_t row, size_t col)
{
    return (m[row * words + col / 64] >> (col % 64)) & 1;
}

/* Fills drawn[i] for every row: in-window parents not implied by another
 * parent, or one dangling edge for a row with no parent inside. */
static lt_err_t s_drawn_parents(const lt_dag_node_t *nodes, size_t n, s_parents_t *drawn)
{
    s_entry_t *sorted = malloc((n ? n : 1) * sizeof *sorted);
    long *all = NULL;
    size_t *start = malloc((n + 1) * sizeof *start);
    uint64_t *reach = NULL;
    lt_err_t err = LT_ENOMEM;
    if (!sorted || !start)
        goto done;
    for (size_t i = 0; i < n; i++)
        sorted[i] = (s_entry_t){.hash = nodes[i].hash, .index = i};
    qsort(sorted, n, sizeof *sorted, s_entry_cmp);

    /* In-window parents of each row, deduplicated, in the given order. A
     * parent that is not below its child (malformed input) is treated as
     * outside the window so the walk can never loop. */
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += nodes[i].nparents;
    all = malloc((total ? total : 1) * sizeof *all);
    if (!all)
        goto done;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        start[i] = k;
        for (size_t p = 0; p < nodes[i].nparents; p++) {
            long idx = s_find(sorted, n, nodes[i].parents + p * LT_DAG_HASH_LEN);
            if (idx <= (long)i)
                continue;
            bool dup = false;
            for (size_t q = start[i]; q < k; q++)
                dup = dup || all[q] == idx;
            if (!dup)
                all[k++] = idx;
        }
    }
    start[n] = k;

    /* reach[i] = every row reachable from i; rows below come first. */
    size_t words = (n + 63) / 64;
    bool reduce = n <= S_REDUCE_MAX;
    if (reduce) {
        reach = calloc(n > 0 ? n * words : 1, sizeof *reach);
        if (!reach)
            goto done;
        for (size_t i = n; i-- > 0;) {
            for (size_t q = start[i]; q < start[i + 1]; q++) {
                size_t p = (size_t)all[q];
                reach[i * words + p / 64] |= (uint64_t)1 << (p % 64);
                for (size_t w = 0; w < words; w++)
                    reach[i * words + w] |= reach[p * words + w];
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        size_t cnt = start[i + 1] - start[i];
        drawn[i].v = malloc((cnt ? cnt : 1) * sizeof(long));
        drawn[i].n = 0;
        if (!drawn[i].v)
            goto done;
        for (size_t q = start[i]; q < start[i + 1]; q++) {
            bool implied = false;
            for (size_t r = start[i]; reduce && r < start[i + 1] && !implied; r++)
                implied = r != q && s_bit(reach, words, (size_t)all[r], (size_t)all[q]);
            if (!implied)
                drawn[i].v[drawn[i].n++] = all[q];
        }
        if (drawn[i].n == 0 && nodes[i].nparents > 0)
            drawn[i].v[drawn[i].n++] = S_DANGLING;
    }
    err = LT_OK;
done:
    free(sorted);
    free(all);
    free(start);
    free(reach);
    return err;
}

/* A line being built: one glyph per display column. */
typedef struct {
    unsigned char *g;
    size_t len;
} s_line_t;

static char *s_render(const unsigned char *g, size_t len, size_t width)
{
    char *out = malloc(width * 3 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t c = 0; c < width; c++) {
        const char *s = s_glyphs[c < len ? g[c] : G_SPACE];
        size_t sl = strlen(s);
        memcpy(out + o, s, sl);
        o += sl;
    }
    out[o] = '\0';
    return out;
}

typedef struct {
    long *lane;
    size_t n;
    size_t cap;
} s_lanes_t;

static bool s_lanes_grow(s_lanes_t *l, size_t n)
{
    if (n <= l->cap) {
        while (l->n < n)
            l->lane[l->n++] = S_EMPTY;
        return true;
    }
    size_t cap = l->cap ? l->cap * 2 : 8;
    while (cap < n)
        cap *= 2;
    long *v = realloc(l->lane, cap * sizeof *v);
    if (!v)
        return false;
    l->lane = v;
    l->cap = cap;
    while (l->n < n)
        l->lane[l->n++] = S_EMPTY;
    return true;
}

/* What happens at a column the connecting line reaches: a lane that goes
 * on (receives the edge), one that starts there, one that ends there. */
typedef enum { T_NONE, T_EXISTING, T_NEW, T_ENDING } s_target_t;

/* The connecting line below a node at `col`: edges from col to every
 * target column; `origin_continues` when col's lane goes on down. */
static void s_connect_line(const s_lanes_t *before_after, const s_target_t *target, size_t width,
                           size_t col, bool origin_continues, unsigned char *g)
{
    size_t lo = col, hi = col;
    for (size_t c = 0; c < width; c++) {
        if (target[c] != T_NONE) {
            lo = c < lo ? c : lo;
            hi = c > hi ? c : hi;
        }
    }
    for (size_t c = 0; c < width; c++) {
        unsigned char x;
        bool active = c < before_after->n && before_after->lane[c] != S_EMPTY;
        if (c == col) {
            bool l = lo<col, r = hi> col;
            if (origin_continues)
                x = l && r ? G_CROSS : r ? G_TEE_R : G_TEE_L;
            else
                x = l && r ? G_UP_T : r ? G_UP_R : G_UP_L;
        } else if (target[c] == T_EXISTING) {
            x = c == hi ? G_TEE_L : c == lo ? G_TEE_R : G_CROSS;
        } else if (target[c] == T_NEW) {
            x = c == hi ? G_DOWN_L : c == lo ? G_DOWN_R : G_DOWN_T;
        } else if (target[c] == T_ENDING) {
            x = c == hi ? G_UP_L : c == lo ? G_UP_R : G_UP_T;
        } else if (c > lo && c < hi) {
            x = active ? G_CROSS : G_HORZ;
        } else {
            x = active ? G_VERT : G_SPACE;
        }
        g[2 * c] = x;
        if (2 * c + 1 < 2 * width)
            g[2 * c + 1] = c >= lo && c < hi ? G_HORZ : G_SPACE;
    }
}

lt_err_t lt_dag_layout(const lt_dag_node_t *nodes, size_t n, lt_dag_row_t **rows_out)
{
    *rows_out = NULL;
    lt_dag_row_t *rows = calloc(n ? n : 1, sizeof *rows);
    s_parents_t *drawn = calloc(n ? n : 1, sizeof *drawn);
    s_line_t *node_g = calloc(n ? n : 1, sizeof *node_g);
    s_line_t *after_g = calloc(n ? n : 1, sizeof *after_g);
    s_lanes_t lanes = {0};
    s_target_t *target = NULL;
    lt_err_t err = LT_ENOMEM;
    if (!rows || !drawn || !node_g || !after_g)
        goto done;
    if (s_drawn_parents(nodes, n, drawn) != LT_OK)
        goto done;

    size_t width = 1; /* lanes, the widest any line needs */
    for (size_t i = 0; i < n; i++) {
        /* The lane waiting for row i, else the first free one. */
        size_t col = lanes.n;
        for (size_t c = 0; c < lanes.n && col == lanes.n; c++)
            if (lanes.lane[c] == (long)i)
                col = c;
        if (col == lanes.n)
            for (size_t c = 0; c < lanes.n && col == lanes.n; c++)
                if (lanes.lane[c] == S_EMPTY)
                    col = c;
        if (!s_lanes_grow(&lanes, col + 1))
            goto done;
        lanes.lane[col] = (long)i;

        /* The node line. */
        node_g[i].len = 2 * lanes.n;
        node_g[i].g = malloc(node_g[i].len);
        if (!node_g[i].g)
            goto done;
        for (size_t c = 0; c < lanes.n; c++) {
            node_g[i].g[2 * c] = c == col ? G_NODE : lanes.lane[c] == S_EMPTY ? G_SPACE : G_VERT;
            node_g[i].g[2 * c + 1] = G_SPACE;
        }
        width = lanes.n > width ? lanes.n : width;

        /* Where its parents go. */
        size_t maxw = lanes.n + drawn[i].n;
        free(target);
        target = calloc(maxw, sizeof *target);
        if (!target)
            goto done;
        bool continues = false;
        bool any = false;
        lanes.lane[col] = S_EMPTY;
        for (size_t p = 0; p < drawn[i].n; p++) {
            long want = drawn[i].v[p];
            size_t at = lanes.n;
            for (size_t c = 0; want >= 0 && c < lanes.n && at == lanes.n; c++)
                if (lanes.lane[c] == want)
                    at = c;
            if (at < lanes.n && at > col && !continues) {
                /* Awaited further right: that lane joins this one, which
                 * goes on down (git's |/), keeping the graph to the left. */
                lanes.lane[at] = S_EMPTY;
                lanes.lane[col] = want;
                target[at] = T_ENDING;
                continues = true;
                any = true;
                continue;
            }
            if (at < lanes.n) {
                target[at] = T_EXISTING;
                any = true;
                continue;
            }
            if (!continues) {
                /* The first parent no lane awaits goes straight down. */
                lanes.lane[col] = want;
                continues = true;
                continue;
            }
            size_t slot = lanes.n;
            for (size_t c = col + 1; c < lanes.n && slot == lanes.n; c++)
                if (lanes.lane[c] == S_EMPTY && target[c] == T_NONE)
                    slot = c;
            if (!s_lanes_grow(&lanes, slot + 1))
                goto done;
            lanes.lane[slot] = want;
            target[slot] = T_NEW;
            any = true;
        }
        if (any) {
            size_t w = lanes.n;
            after_g[i].len = 2 * w;
            after_g[i].g = malloc(after_g[i].len);
            if (!after_g[i].g)
                goto done;
            s_connect_line(&lanes, target, w, col, continues, after_g[i].g);
            width = w > width ? w : width;
        }
        while (lanes.n > 0 && lanes.lane[lanes.n - 1] == S_EMPTY)
            lanes.n--;
    }

    /* Render, every node line padded to the widest graph. */
    size_t cols = 2 * width;
    for (size_t i = 0; i < n; i++) {
        rows[i].node = s_render(node_g[i].g, node_g[i].len, cols);
        if (!rows[i].node)
            goto done;
        if (after_g[i].g) {
            size_t len = after_g[i].len;
            while (len > 0 && after_g[i].g[len - 1] == G_SPACE)
                len--;
            rows[i].after = s_render(after_g[i].g, len, len);
            if (!rows[i].after)
                goto done;
        }
    }
    *rows_out = rows;
    rows = NULL;
    err = LT_OK;
done:
    for (size_t i = 0; i < n && drawn; i++)
        free(drawn[i].v);
    for (size_t i = 0; i < n && node_g; i++)
        free(node_g[i].g);
    for (size_t i = 0; i < n && after_g; i++)
        free(after_g[i].g);
    free(drawn);
    free(node_g);
    free(after_g);
    free(lanes.lane);
    free(target);
    if (rows)
        lt_dag_rows_free(&rows, n);
    return err;
}

void lt_dag_rows_free(lt_dag_row_t **rows_p, size_t n)
{
    lt_dag_row_t *rows = *rows_p;
    if (!rows)
        return;
    for (size_t i = 0; i < n; i++) {
        free(rows[i].node);
        free(rows[i].after);
    }
    free(rows);
    *rows_p = NULL;
}
