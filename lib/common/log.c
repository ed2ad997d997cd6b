/*  log.c — line-at-a-time logging to stderr (see log.h). The ident and level
    are set once at start-up, before threads exist, so reading them without a
    lock is safe. */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char s_ident[64] = "environs";
static en_log_level_t s_level = EN_LOG_INFO;
static int s_level_read = 0;
static const char *s_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

void
en_log_set_ident(const char *ident)
{
    snprintf(s_ident, sizeof s_ident, "%s", ident);
}

void
en_log_set_level(en_log_level_t level)
{
    s_level = level;
    s_level_read = 1;
}

void
en_log(en_log_level_t level, const char *request_id, const char *fmt, ...)
{
    if (!s_level_read) {
        if (getenv("ENVIRONS_DEBUG"))
            s_level = EN_LOG_DEBUG;
        s_level_read = 1;
    }
    if (level < s_level)
        return;
    char line[2048];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, s_names[level], s_ident);
    if (request_id && *request_id)
        n += snprintf(line + n, sizeof line - (size_t) n, "[%s] ", request_id);
    va_list ap;
    va_start(ap, fmt);
    if (n < (int) sizeof line)
        n += vsnprintf(line + n, sizeof line - (size_t) n, fmt, ap);
    va_end(ap);
    if (n > (int) sizeof line - 2)
        n = (int) sizeof line - 2;
    line[n++] = '\n';
    ssize_t rc = write(STDERR_FILENO, line, (size_t) n);
    (void) rc;
}
