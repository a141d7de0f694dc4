/* Lays out a window of the intention DAG for `lattice history`: one row per
 * intention, newest first, with lanes drawn in Unicode box-drawing
 * characters the way `git log --graph` draws commits.
 *
 * Input: the intentions in display order (newest first, which is a reverse
 * topological order: every parent comes after its children) and each one's
 * parents (store_prev first, then deps). Rules:
 *  - An edge implied by others is not drawn (transitive reduction inside the
 *    window): a KV write depends on the heads of the keys it touches, so
 *    one author's chain would otherwise sprout an edge per key.
 *  - A parent outside the window is drawn only for an intention with no
 *    parent inside it: its lane then runs on to the bottom (the history
 *    continues below).
 *
 * Glyphs: ● an intention; │ a lane; ├ ┤ ┼ a lane that branches or receives
 * an edge; ┐ ┌ ┬ a lane that starts (a second parent); ┘ └ ┴ a lane that
 * ends by joining another; ─ an edge across. Each lane takes two columns.
 * Every row's graph is padded to the same width so the text lines up. */
#ifndef LT_CLI_DAG_H
#define LT_CLI_DAG_H

#include "weaver/errors.h"

#include <stddef.h>
#include <stdint.h>

#define LT_DAG_HASH_LEN 32

typedef struct {
    const uint8_t *hash;    /* LT_DAG_HASH_LEN bytes */
    const uint8_t *parents; /* nparents * LT_DAG_HASH_LEN bytes */
    size_t nparents;
} lt_dag_node_t;

typedef struct {
    char *node;  /* the graph left of this intention's text (UTF-8) */
    char *after; /* a connecting line to print after it, or NULL */
} lt_dag_row_t;

/* *rows gets n rows (free with lt_dag_rows_free). LT_ENOMEM only. */
LT_NODISCARD lt_err_t lt_dag_layout(const lt_dag_node_t *nodes, size_t n, lt_dag_row_t **rows);
void lt_dag_rows_free(lt_dag_row_t **rows_p, size_t n);

#endif
