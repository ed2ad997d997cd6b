/*  clock.c — see clock.h. */
#include "common/clock.h"

#include <time.h>

static int64_t
s_ms(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
en_now_ms(void)
{
    return s_ms(CLOCK_REALTIME);
}

int64_t
en_mono_ms(void)
{
    return s_ms(CLOCK_MONOTONIC);
}
