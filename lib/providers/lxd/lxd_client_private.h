/*  lxd_client_private.h — what the two files of the LXD client share, and
    nobody else: lxd_client.c (the HTTP exchange, the envelope, waits,
    the classifier) and lxd_files.c (the file API, whose bodies are a
    file's bytes, not JSON, so it needs the exchange below the envelope).
    en_lxd_t itself stays opaque, even here. The unit test of the client
    reads lxd_spki_pin too. */
#ifndef EN_LXD_CLIENT_PRIVATE_H
#define EN_LXD_CLIENT_PRIVATE_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
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
    bool too_large; // the body passed the request's max_body: body NULL
} lxd_answer_t;

//  One request to send. body may hold any bytes; headers are extra.
typedef struct {
    const char *method;
    const char *path; // the caller's path, query included
    const char *body;
    size_t body_len;
    struct curl_slist *headers;
    long timeout_ms; // 0: the client's
    size_t max_body; // 0: no limit; else a larger body sets too_large
} lxd_request_t;

//  Send one request; 0 with answer filled for any HTTP answer (including
//  one whose body was stopped at max_body: too_large), -1 for a transport
//  failure (`cannot connect to LXD at <where>: <curl error>`).
int lxd_perform(en_lxd_t *self, const lxd_request_t *req, lxd_answer_t *answer, en_err_t *err);

//  The client's file_max (en_lxd_config_t), default applied.
size_t lxd_file_max(const en_lxd_t *self);

//  The CURLOPT_PINNEDPUBLICKEY of a PEM certificate: "sha256//" and the
//  base64 of the SHA-256 of its DER SubjectPublicKeyInfo (malloc'd), or
//  NULL when pem is not a certificate.
char *lxd_spki_pin(const char *pem);

//  Parse an answer's envelope; -1 classified when it is an error or is
//  not an envelope at all.
int lxd_envelope(const lxd_answer_t *answer, const char *context, json_t **envelope, en_err_t *err);

void lxd_answer_free(lxd_answer_t *answer);

#endif
