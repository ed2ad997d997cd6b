/*  sqlbusy.c — see sqlbusy.h. */
#include "common/sqlbusy.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "common/clock.h"

static void
s_sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

int
en_sqlite_exec_busy(sqlite3 *db, const char *sql, int64_t timeout_ms, unsigned *seed)
{
    int64_t deadline = en_mono_ms() + timeout_ms;
    int64_t backoff = 1;
    while (true) {
        int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
        int primary = rc & 0xff;
        if ((primary != SQLITE_BUSY && primary != SQLITE_LOCKED) || en_mono_ms() >= deadline)
            return rc;
        s_sleep_ms(backoff + rand_r(seed) % (backoff + 1));
        if (backoff < 32)
            backoff *= 2;
    }
}
