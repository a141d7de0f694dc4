/* latticed: the node's kernel with one process per service (DESIGN.md §2,
 * kernel/README.md). The lifecycle and the loop are kernel/run.c's; this
 * file is the command line. Exit status: kernel/run.h, 2 for a bad command
 * line. */
#include "kernel/config.h"
#include "kernel/run.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    static lt_kconfig_t cfg;
    switch (lt_kconfig_parse(&cfg, argc, argv, stdout, stderr)) {
    case LT_KCONFIG_RUN:
        break;
    case LT_KCONFIG_EXIT:
        return 0;
    case LT_KCONFIG_USAGE:
        return 2;
    }
    lt_kernel_program_t prog = {.name = "latticed"};
    return lt_kernel_main(&cfg, &prog);
}
