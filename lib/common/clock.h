/*  clock.h — the two clocks environs uses: wall-clock milliseconds for
    deadlines that cross processes (absolute, since the Unix epoch), and
    monotonic milliseconds for timers inside one process. */
#ifndef EN_CLOCK_H
#define EN_CLOCK_H

#include <stdint.h>

int64_t en_now_ms(void);
int64_t en_mono_ms(void);

#endif
