/*  lxd_client_private.h — what the two files of the LXD client share, and
    nobody else: lxd_client.c (the HTTP exchange, the envelope, waits,
    the classifier) and lxd_files.c (the file API, whose bodies are a
    file's bytes, not JSON, so it needs the exchange below the envelope).
    en_lxd_t itself stays opaque, even here. */
#ifndef EN_LXD_CLIENT_PRIVATE_H
#define EN_LXD_CLIENT_PRIVATE_H

#include <curl/curl.h>
#include <jansson.h>
#include <stddef.h>

#include "common/err.h"
#include "providers/lxd/lxd_client.h"

//  What one request answered.
typedef struct {
    long status;
    char *body; // NUL-ended when not NULL; len excludes the NUL
    size_t len;
    char *etag;
    char *lxd_type; // X-LXD-type of the file API
} lxd_answer_t;

//  One request to send. body may hold any bytes; headers are extra.
typedef struct {
    const char *method;
    const char *path; // the caller's path, query included
    const char *body;
    size_t body_len;
    struct curl_slist *headers;
    long timeout_ms; // 0: the client's
} lxd_request_t;

//  Send one request; 0 with answer filled for any HTTP answer, -1 for a
//  transport failure (`cannot connect to LXD at <where>: <curl error>`).
int lxd_perform(en_lxd_t *self, const lxd_request_t *req, lxd_answer_t *answer, en_err_t *err);

//  Parse an answer's envelope; -1 classified when it is an error or is
//  not an envelope at all.
int lxd_envelope(const lxd_answer_t *answer, const char *context, json_t **envelope, en_err_t *err);

void lxd_answer_free(lxd_answer_t *answer);

#endif
