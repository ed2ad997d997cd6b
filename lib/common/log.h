/*  log.h — one line per event on stderr.

    Format: `2026-11-25T17:00:00.123Z <level> <ident> [<request-id>] message`.
    The ident is set once per process (e.g. "registry/1"). Lines are written
    with a single write(2) so lines from several threads never interleave.
    Credentials must never be passed to these functions. */
#ifndef EN_LOG_H
#define EN_LOG_H

typedef enum { EN_LOG_DEBUG, EN_LOG_INFO, EN_LOG_WARN, EN_LOG_ERROR } en_log_level_t;

void en_log_set_ident(const char *ident);
//  Minimum level printed; default INFO, or DEBUG when ENVIRONS_DEBUG is set.
void en_log_set_level(en_log_level_t level);
void en_log(en_log_level_t level, const char *request_id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define en_info(...) en_log(EN_LOG_INFO, NULL, __VA_ARGS__)
#define en_warn(...) en_log(EN_LOG_WARN, NULL, __VA_ARGS__)
#define en_error(...) en_log(EN_LOG_ERROR, NULL, __VA_ARGS__)
#define en_debug(...) en_log(EN_LOG_DEBUG, NULL, __VA_ARGS__)

#endif
