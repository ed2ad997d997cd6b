/*  err.c — one table of error kinds with one table of names. */
#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *s_kind_names[EN_KIND_COUNT] = {
    [EN_OK] = "OK",
    [EN_NOT_FOUND] = "NOT_FOUND",
    [EN_NOT_SUPPORTED] = "NOT_SUPPORTED",
    [EN_NOT_VALID] = "NOT_VALID",
    [EN_ALREADY_EXISTS] = "ALREADY_EXISTS",
    [EN_UNAUTHORIZED] = "UNAUTHORIZED",
    [EN_NOT_IMPLEMENTED] = "NOT_IMPLEMENTED",
    [EN_TIMEOUT] = "TIMEOUT",
    [EN_UNAVAILABLE] = "UNAVAILABLE",
    [EN_INTERNAL] = "INTERNAL",
    [EN_NOT_BOOTSTRAPPED] = "NOT_BOOTSTRAPPED",
    [EN_NO_INSTANCES] = "NO_INSTANCES",
    [EN_PARTIAL_INSTANCES] = "PARTIAL_INSTANCES",
};

int
en_err_set(en_err_t *err, en_kind_t kind, const char *fmt, ...)
{
    if (!err)
        return -1;
    err->kind = kind;
    err->retryable = en_kind_retryable(kind);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return -1;
}

int
en_err_annotate(en_err_t *err, const char *fmt, ...)
{
    if (!err)
        return -1;
    char prefix[EN_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    // build "<prefix>: <message>" and cut at the bound
    char joined[2 * EN_ERR_MSG_MAX + 2];
    snprintf(joined, sizeof joined, "%s: %s", prefix, err->message);
    joined[EN_ERR_MSG_MAX - 1] = '\0';
    memcpy(err->message, joined, EN_ERR_MSG_MAX);
    return -1;
}

void
en_err_clear(en_err_t *err)
{
    if (!err)
        return;
    err->kind = EN_OK;
    err->retryable = false;
    err->message[0] = '\0';
}

const char *
en_kind_name(en_kind_t kind)
{
    if ((int) kind < 0 || kind >= EN_KIND_COUNT)
        return "UNKNOWN";
    return s_kind_names[kind];
}

en_kind_t
en_kind_from_name(const char *name)
{
    for (int k = 0; k < EN_KIND_COUNT; k++)
        if (name && strcmp(name, s_kind_names[k]) == 0)
            return (en_kind_t) k;
    return EN_KIND_COUNT;
}

bool
en_kind_retryable(en_kind_t kind)
{
    return kind == EN_UNAVAILABLE || kind == EN_TIMEOUT;
}
