/*  err.h — the one error vocabulary of environs.

    Every layer (driver, service, bus, wire, CLI) reports failure as an
    en_err_t: a kind from one enum, a bounded message and whether a retry may
    succeed. The kinds are the same numbers as ErrorKind in proto/types.proto,
    so a driver's error travels unchanged to the wire and back. Messages
    follow Juju's wording where Juju has one.

    Functions that can fail take an `en_err_t *err` last and return 0 or -1;
    en_err_set() returns -1 so that `return en_err_set (err, ...)` reads well.
    `err` may be NULL when the caller does not care. */
#ifndef EN_ERR_H
#define EN_ERR_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    EN_OK = 0,
    EN_NOT_FOUND = 1,
    EN_NOT_SUPPORTED = 2,
    EN_NOT_VALID = 3,
    EN_ALREADY_EXISTS = 4,
    EN_UNAUTHORIZED = 5,
    EN_NOT_IMPLEMENTED = 6,
    EN_TIMEOUT = 7,
    EN_UNAVAILABLE = 8,
    EN_INTERNAL = 9,
    EN_NOT_BOOTSTRAPPED = 10,
    EN_NO_INSTANCES = 11,
    EN_PARTIAL_INSTANCES = 12,
    EN_KIND_COUNT
} en_kind_t;

#define EN_ERR_MSG_MAX 512

typedef struct {
    en_kind_t kind;
    bool retryable;
    char message[EN_ERR_MSG_MAX];
} en_err_t;

//  Set kind and message (printf-style); retryable is true only for
//  UNAVAILABLE and TIMEOUT. Returns -1. Safe with err == NULL.
int en_err_set(en_err_t *err, en_kind_t kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

//  Prefix the existing message with "<prefix>: " (Juju's errors.Annotate).
int en_err_annotate(en_err_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

//  Reset to OK with an empty message.
void en_err_clear(en_err_t *err);

//  Upper-case name of a kind, e.g. "NOT_FOUND"; "UNKNOWN" when out of range.
const char *en_kind_name(en_kind_t kind);

//  Parse a kind name back; returns EN_KIND_COUNT when unknown.
en_kind_t en_kind_from_name(const char *name);

//  Whether a kind is worth retrying by default.
bool en_kind_retryable(en_kind_t kind);

#endif
