/*  clock.h — the two clocks environs uses: wall-clock milliseconds for
    deadlines that cross processes (absolute, since the Unix epoch), and
    monotonic milliseconds for timers inside one process. */
#ifndef EN_CLOCK_H
#define EN_CLOCK_H

#include <stddef.h>
#include <stdint.h>

int64_t en_now_ms(void);
int64_t en_mono_ms(void);

//  A duration the way Go's time.Duration prints it, which Juju's messages
//  quote: "500ms", "2s", "1.5s", "1m30s", "20m0s", "1h0m0s", "0s".
void en_duration_format(int64_t ms, char *out, size_t size);

//  ENVIRONS_RETRY_SCALE (default 1; tests shorten every retry wait with,
//  say, 0.01): the factor services apply to their backoff waits.
double en_retry_scale(void);
//  Sleep ms milliseconds (a backoff wait, never a way to synchronise);
//  non-positive times return at once.
void en_sleep_ms(int64_t ms);

#endif
