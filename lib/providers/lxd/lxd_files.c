/*  lxd_files.c — the LXD client's file API (lxd_client.h):
    GET and POST /1.0/instances/<name>/files?path=<path>.

    Its bodies are a file's bytes, not JSON, so it works one level below
    the rest of the client: lxd_perform for the exchange, and the envelope
    only when LXD answers an error (lxd_client_private.h). A GET answers
    the file with X-LXD-type: file (a directory answers its listing, which
    we refuse); a POST writes a file or makes a directory as root, and
    answers a sync envelope. Failures are classified as every other call's
    (en_lxd_classify); 5.0.2's forkfile failures under parallel load are
    among the transient ones there.

    A GET reads at most the client's file_max bytes (16 MiB by default):
    the file is the instance's, and whoever controls the instance controls
    its size. libcurl refuses a larger Content-Length before the body, and
    the body callback stops at the cap when no length was announced. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "providers/lxd/lxd_client.h"
#include "providers/lxd/lxd_client_private.h"

static char *
s_files_path(const char *instance, const char *path)
{
    char *instance_escaped = en_lxd_escape(instance);
    char *path_escaped = en_lxd_escape(path);
    char *out = NULL;
    if (instance_escaped && path_escaped &&
        asprintf(&out, "/1.0/instances/%s/files?path=%s", instance_escaped, path_escaped) < 0)
        out = NULL;
    free(instance_escaped);
    free(path_escaped);
    return out;
}

int
en_lxd_file_get(en_lxd_t *self, const char *instance, const char *path, char **data, size_t *len,
                en_err_t *err)
{
    *data = NULL;
    *len = 0;
    char *files = s_files_path(instance, path);
    if (!files)
        return en_err_set(err, EN_INTERNAL, "lxd: out of memory");
    char context[400];
    snprintf(context, sizeof context, "GET %s", files);
    size_t max = lxd_file_max(self);
    lxd_request_t req = {.method = "GET", .path = files, .max_body = max};
    lxd_answer_t answer;
    int rc = lxd_perform(self, &req, &answer, err);
    if (rc < 0)
        goto cleanup;
    if (answer.too_large) {
        rc = en_err_set(err, EN_NOT_VALID, "lxd: %s: file larger than %zu bytes", context, max);
    } else if (answer.status != 200) {
        json_t *envelope = NULL;
        rc = lxd_envelope(&answer, context, &envelope, err);
        json_decref(envelope);
        if (rc == 0) // an error status whose body claimed success
            rc = en_lxd_classify(answer.status, 0, 0, NULL, context, err);
    } else if (answer.lxd_type && strcmp(answer.lxd_type, "file") != 0) {
        rc = en_err_set(err, EN_NOT_VALID, "lxd: %s: \"%s\" is a %s, not a file", context, path,
                        answer.lxd_type);
    } else {
        // lxd_perform keeps the body NUL-ended; an empty file has none
        *data = answer.body ? answer.body : strdup("");
        *len = answer.len;
        answer.body = NULL;
        if (!*data)
            rc = en_err_set(err, EN_INTERNAL, "lxd: out of memory");
    }
    lxd_answer_free(&answer);
cleanup:
    free(files);
    return rc;
}

//  POST to the file API: a file's bytes, or a directory (data NULL).
static int
s_file_post(en_lxd_t *self, const char *instance, const char *path, const char *type,
            const void *data, size_t len, int mode, en_err_t *err)
{
    char *files = s_files_path(instance, path);
    if (!files)
        return en_err_set(err, EN_INTERNAL, "lxd: out of memory");
    char context[400], type_header[64], mode_header[64];
    snprintf(context, sizeof context, "POST %s", files);
    snprintf(type_header, sizeof type_header, "X-LXD-type: %s", type);
    snprintf(mode_header, sizeof mode_header, "X-LXD-mode: %04o", (unsigned)mode & 07777);
    struct curl_slist *headers = NULL;
    headers = curl_slist_append(headers, "Content-Type: application/octet-stream");
    headers = curl_slist_append(headers, "Expect:");
    headers = curl_slist_append(headers, type_header);
    headers = curl_slist_append(headers, mode_header);
    headers = curl_slist_append(headers, "X-LXD-uid: 0");
    headers = curl_slist_append(headers, "X-LXD-gid: 0");
    headers = curl_slist_append(headers, "X-LXD-write: overwrite");
    lxd_request_t req = {.method = "POST",
                         .path = files,
                         .body = data ? data : "",
                         .body_len = data ? len : 0,
                         .headers = headers};
    lxd_answer_t answer;
    json_t *envelope = NULL;
    int rc = lxd_perform(self, &req, &answer, err);
    if (rc == 0) {
        rc = lxd_envelope(&answer, context, &envelope, err);
        lxd_answer_free(&answer);
    }
    json_decref(envelope);
    curl_slist_free_all(headers);
    free(files);
    return rc;
}

int
en_lxd_file_put(en_lxd_t *self, const char *instance, const char *path, const void *data,
                size_t len, int mode, en_err_t *err)
{
    return s_file_post(self, instance, path, "file", data ? data : "", data ? len : 0, mode, err);
}

int
en_lxd_mkdir(en_lxd_t *self, const char *instance, const char *path, int mode, en_err_t *err)
{
    return s_file_post(self, instance, path, "directory", NULL, 0, mode, err);
}
