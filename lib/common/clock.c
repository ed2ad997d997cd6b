/*  clock.c — see clock.h. */
#include "common/clock.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

void
en_duration_format(int64_t ms, char *out, size_t size)
{
    if (ms == 0) {
        snprintf(out, size, "0s");
        return;
    }
    const char *sign = ms < 0 ? "-" : "";
    uint64_t v = ms < 0 ? (uint64_t) -ms : (uint64_t) ms;
    if (v < 1000) {
        snprintf(out, size, "%s%" PRIu64 "ms", sign, v);
        return;
    }
    // seconds with the fraction Go keeps, trailing zeros trimmed
    char secs[32];
    uint64_t s = v / 1000 % 60, frac = v % 1000;
    if (frac) {
        snprintf(secs, sizeof secs, "%" PRIu64 ".%03" PRIu64, s, frac);
        size_t n = strlen(secs);
        while (secs[n - 1] == '0')
            secs[--n] = '\0';
    } else
        snprintf(secs, sizeof secs, "%" PRIu64, s);
    uint64_t m = v / 60000 % 60, h = v / 3600000;
    if (h)
        snprintf(out, size, "%s%" PRIu64 "h%" PRIu64 "m%ss", sign, h, m, secs);
    else if (m)
        snprintf(out, size, "%s%" PRIu64 "m%ss", sign, m, secs);
    else
        snprintf(out, size, "%s%ss", sign, secs);
}

double
en_retry_scale(void)
{
    const char *s = getenv("ENVIRONS_RETRY_SCALE");
    double v = s && *s ? strtod(s, NULL) : 1.0;
    return v >= 0 && v <= 100 ? v : 1.0;
}

void
en_sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}
