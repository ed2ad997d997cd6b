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

#endif
