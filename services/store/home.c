/* Where a node's home is (DESIGN.md §8). Opening the RocksDB database in
 * it is home_rocksdb.c's, so a program without RocksDB (lattice-nano, the
 * simulator) links this file alone. */
#include "store/store_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *s_env(const char *name)
{
    const char *v = getenv(name);
    return v && v[0] ? v : NULL;
}

lt_err_t lt_home_default(char *out, size_t cap)
{
    const char *v;
    int n;
    if ((v = s_env("LATTICE_HOME")))
        n = snprintf(out, cap, "%s", v);
    else if ((v = s_env("XDG_DATA_HOME")))
        n = snprintf(out, cap, "%s/lattice", v);
    else if ((v = s_env("HOME")))
        n = snprintf(out, cap, "%s/.local/share/lattice", v);
    else
        n = -1;
    if (n < 0 || (size_t)n >= cap) {
        if (cap)
            out[0] = '\0';
        return LT_EINVAL;
    }
    return LT_OK;
}
