/*  ssfetch.h — fetching simplestreams documents over file://, http://
    and https:// (docs/simplestreams.md §8.3, §15.1).

    One fetcher owns one libcurl easy handle, so connections to a mirror
    are reused between the index, mirrors and products GETs of a lookup. A
    fetcher is NOT thread-safe: use one per thread (they are cheap).

    Behaviour follows Juju's urlDataSource.Fetch, with the limits a
    long-running service needs on top:

      200            body (and the response's ETag / Last-Modified)
      304            not_modified, no body (caller sent validators)
      404            NOT_FOUND     `cannot find URL "<url>"`
      401, 403       UNAUTHORIZED  `unauthorised access to URL "<url>"`
                                   (403 adds `, "403 Forbidden"`)
      other status   UNAVAILABLE   `cannot access URL "<url>", "500 Internal Server Error"`
      refused, DNS   UNAVAILABLE   `cannot access URL "<url>": <curl's reason>`
      timeout        TIMEOUT       `cannot access URL "<url>": timed out after 2s (...)`
      redirects      NOT_VALID     `cannot access URL "<url>": stopped after 10 redirects`
      certificate    NOT_VALID     `cannot access URL "<url>": SSL certificate problem: ...`
                                   (untrusted, wrong name, unreadable CA file: a retry
                                   cannot change the answer)
      size           NOT_VALID     `URL "<url>": body exceeds the size limit of N bytes`
      file:// gone   NOT_FOUND     `cannot find URL "file:///..."`

    Retries: `attempts` tries (default 3) with waits of 1 s doubling to at
    most 5 s, each multiplied by en_retry_scale(). Only UNAVAILABLE and
    TIMEOUT are retried: never 404/401/403, the size or redirect limits or
    file:// errors, whose answer would not change. */
#ifndef EN_SSFETCH_H
#define EN_SSFETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

//  Zero (or a NULL opts) means the default shown.
typedef struct {
    const char *ca_file;        //  extra/alternative CA bundle (PEM); NULL = system default
    bool insecure;              //  skip TLS peer and host verification (Juju's
                                //  per-source "hostname verification" off)
    int64_t connect_timeout_ms; //  10 000
    int64_t timeout_ms;         //  whole transfer, per attempt: 120 000
    int max_redirects;          //  10; negative = follow none
    size_t max_size;            //  64 MiB (§13)
    int attempts;               //  3
    const char *user_agent;     //  "environs-simplestreams/<version>"
} en_ssfetch_opts_t;

typedef struct en_ssfetch en_ssfetch_t;

//  A fetcher with copies of opts; NULL with err when curl cannot start.
en_ssfetch_t *en_ssfetch_new(const en_ssfetch_opts_t *opts, en_err_t *err);
//  Free the fetcher and its handle; NULLs *self_p; idempotent.
void en_ssfetch_destroy(en_ssfetch_t **self_p);

//  Validators from an earlier 200, sent as If-None-Match /
//  If-Modified-Since. Either may be NULL.
typedef struct {
    const char *etag;
    const char *last_modified;
} en_ssfetch_validators_t;

typedef struct {
    char *body; //  malloc'd, NUL-terminated (not counted in len); NULL when not_modified
    size_t len;
    bool not_modified; //  the server answered 304 to the validators
    long status;       //  200 or 304 (0 for file://)
    char *etag;        //  validators to keep (on 304: the new ones, else the old); NULL if none
    char *last_modified;
    char *effective_url; //  after redirects
    int attempts;        //  GETs made, retries included (also when the fetch failed)
} en_ssfetch_result_t;

//  GET url. On success fills *out (free with en_ssfetch_result_free) and
//  returns 0; on error *out is left empty and err says why (table above).
int en_ssfetch_get(en_ssfetch_t *self, const char *url, const en_ssfetch_validators_t *prev,
                   en_ssfetch_result_t *out, en_err_t *err);
//  Free what a result owns and zero it; safe on a zeroed result.
void en_ssfetch_result_free(en_ssfetch_result_t *r);

//  Juju's urlJoin: base + path with one "/" between them when base does not
//  end in "/"; path is used verbatim (no normalisation, no query handling).
//  Malloc'd; NULL only when out of memory.
char *en_ssfetch_url_join(const char *base, const char *path);

#endif
