/*  harness_must.h — the harness's CLI helpers for cmocka tests: the
    command must succeed, or the test fails saying what it did. Include
    after <cmocka.h>; one copy per test, as every function is static. */
#ifndef EN_HARNESS_MUST_H
#define EN_HARNESS_MUST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include "harness.h"

//  stdout of `environs <args>` (args printf-formatted; malloc'd): it must
//  exit 0 and, with quiet, print nothing on stderr.
static inline char *
harness_must_vok(harness_t *h, bool quiet, const char *fmt, va_list ap)
{
    char args[4096], why[8192];
    vsnprintf(args, sizeof args, fmt, ap);
    char *out = harness_cli_ok(h, quiet, why, sizeof why, args);
    if (!out)
        fail_msg("%s", why);
    return out;
}

static inline char *harness_must_ok(harness_t *h, bool quiet, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline char *
harness_must_ok(harness_t *h, bool quiet, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *out = harness_must_vok(h, quiet, fmt, ap);
    va_end(ap);
    return out;
}

//  The JSON object `environs <args> --format json` prints (a new
//  reference), as harness_must_ok.
static inline json_t *
harness_must_json(harness_t *h, bool quiet, const char *args)
{
    char why[8192];
    json_t *doc = harness_cli_json(h, quiet, why, sizeof why, args);
    if (!doc)
        fail_msg("%s", why);
    return doc;
}

#endif
