/* The system wall clock: the one place the weaver reads the OS time. */
#include "weaver/hlc.h"

#include <time.h>

uint64_t lt_system_now_ms(void *unused)
{
    (void)unused;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
