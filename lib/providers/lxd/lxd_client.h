/*  lxd_client.h — a client of the LXD REST API (LXD 5.0, Debian bookworm's
    5.0.2), with libcurl, over the daemon's unix socket or over HTTPS with
    a TLS client certificate.

    One client is one libcurl easy handle with its connection kept alive:
    not thread-safe, one per thread (like every en_compute_t). Every call
    answers LXD's response envelope:
      - sync   {"type":"sync","status_code":200,"metadata":...}
      - async  {"type":"async","status_code":100,"operation":"/1.0/operations/<id>",...}
      - error  {"type":"error","error_code":404,"error":"Instance not found"}
    and every failure, whether HTTP status, envelope error, failed
    operation or transport, goes through one classifier (en_lxd_classify)
    so that callers see environs' error kinds, never LXD's strings alone. */
#ifndef EN_LXD_CLIENT_H
#define EN_LXD_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

typedef struct en_lxd en_lxd_t;

typedef struct {
    //  "https://host:8443" for HTTPS; NULL or "": the unix socket.
    const char *endpoint;
    //  The unix socket; NULL: $LXD_SOCKET, else $LXD_DIR/unix.socket, else
    //  /var/lib/lxd/unix.socket (Debian's LXD).
    const char *socket_path;
    //  HTTPS: the client certificate and key (PEM text, not file names),
    //  and the server certificate to trust (PEM; NULL: the system CAs).
    //  A server certificate is pinned: the server must present exactly
    //  that certificate's public key (CURLOPT_PINNEDPUBLICKEY), the system
    //  CAs are not consulted, and the host name is not checked (LXD's
    //  certificate names the host it was made on, not the address dialled).
    const char *client_cert;
    const char *client_key;
    const char *server_cert;
    //  LXD project; NULL or "": "default" (no ?project= is sent).
    const char *project;
    //  Per-request timeout; 0: 30 s.
    long timeout_ms;
    //  The largest file en_lxd_file_get reads; 0: EN_LXD_FILE_MAX_DEFAULT.
    size_t file_max;
} en_lxd_config_t;

#define EN_LXD_FILE_MAX_DEFAULT ((size_t)16 * 1024 * 1024)

//  A client; never talks to LXD. NOT_VALID for a bad config (an endpoint
//  that is not https://, a certificate without its key, a server
//  certificate that does not parse: its public key is the pin).
en_lxd_t *en_lxd_new(const en_lxd_config_t *cfg, en_err_t *err);
void en_lxd_destroy(en_lxd_t **self_p);

//  "unix:/var/lib/lxd/unix.socket" or the https endpoint, for messages.
const char *en_lxd_where(const en_lxd_t *self);

//  One request. method "GET", "POST", "PUT", "PATCH", "DELETE"; path
//  starts with "/1.0" and may carry a query ("?recursion=1&filter=...",
//  already escaped: see en_lxd_escape); body NULL or borrowed. The project
//  is added to the query when configured.
//  - sync answer: *metadata gets its metadata (a new reference, json null
//    when absent); etag, when not NULL, gets the ETag header (malloc'd,
//    NULL when none).
//  - async answer: the operation is waited for (en_lxd_wait, with
//    timeout_ms; 0: the client's timeout) and *metadata gets the
//    operation's metadata.metadata (exec's return code, ...).
//  - error answer, failed operation, transport failure: -1 and err set by
//    en_lxd_classify, with the method and path as context:
//    `lxd: POST /1.0/instances: Instance "x" already exists` style.
//  metadata may be NULL when the caller wants nothing back.
int en_lxd_call(en_lxd_t *self, const char *method, const char *path, json_t *body,
                json_t **metadata, char **etag, long timeout_ms, en_err_t *err);

//  Like en_lxd_call with an If-Match header (etag NULL: none), for
//  read-modify-write of a network ACL or a network: a lost race answers
//  412, classified as UNAVAILABLE (retry with a fresh read).
int en_lxd_call_if_match(en_lxd_t *self, const char *method, const char *path, json_t *body,
                         const char *if_match, json_t **metadata, long timeout_ms, en_err_t *err);

//  A request whose operation is not waited for yet (en_lxd_call_async).
typedef struct {
    char *operation;   // "/1.0/operations/<id>", malloc'd; NULL: nothing to wait for
    char context[400]; // "<method> <path>", for the wait's errors
} en_lxd_pending_t;

//  Like en_lxd_call, but an async answer is not waited for: it is left in
//  *pending, so that other requests go out while LXD works, and waited
//  for with en_lxd_pending_wait (whose failures read as en_lxd_call's
//  would: `lxd: PUT /1.0/instances/x/state: ...`). A sync answer leaves
//  nothing to wait for. en_lxd_pending_clear drops it unwaited.
int en_lxd_call_async(en_lxd_t *self, const char *method, const char *path, json_t *body,
                      en_lxd_pending_t *pending, en_err_t *err);
int en_lxd_pending_wait(en_lxd_t *self, en_lxd_pending_t *pending, long timeout_ms, json_t **metadata,
                        en_err_t *err);
void en_lxd_pending_clear(en_lxd_pending_t *pending);

//  Wait for an operation ("/1.0/operations/<id>" or the bare id) to end:
//  GET .../wait?timeout=<s>; Success → 0 and *metadata (may be NULL) the
//  operation's metadata object; Failure/Cancelled → -1 classified from its
//  err text; not done by timeout_ms → TIMEOUT `lxd: operation <id> still
//  running after <n> ms`.
int en_lxd_wait(en_lxd_t *self, const char *operation, long timeout_ms, json_t **metadata,
                en_err_t *err);

//  GET /1.0 once per client (cached): the server's api_extensions,
//  environment (server_version, architectures, kernel, ...) and auth
//  ("trusted"/"untrusted"). Borrowed; valid until en_lxd_destroy.
int en_lxd_server(en_lxd_t *self, const json_t **server, en_err_t *err);
//  Whether api_extensions lists name (from the cached GET /1.0).
int en_lxd_has_extension(en_lxd_t *self, const char *name, bool *has, en_err_t *err);

//  The file API (lxd_files.c), whose bodies are a file's bytes, not JSON.
//  GET /1.0/instances/<instance>/files?path=<path>: *data malloc'd and
//  NUL-ended (len without the NUL); NOT_FOUND when the file or the
//  instance is not there. At most the config's file_max bytes are read (16
//  MiB by default): a larger file is NOT_VALID `lxd: GET <path>: file larger
//  than <n> bytes` and nothing is returned, so a file an instance's user can
//  write cannot make us allocate without bound.
int en_lxd_file_get(en_lxd_t *self, const char *instance, const char *path, char **data,
                    size_t *len, en_err_t *err);
//  POST the same URL with X-LXD-type: file, X-LXD-uid/gid 0 and
//  X-LXD-mode (e.g. 0644), X-LXD-write: overwrite. Parent directories must
//  exist (make them with en_lxd_mkdir).
int en_lxd_file_put(en_lxd_t *self, const char *instance, const char *path, const void *data,
                    size_t len, int mode, en_err_t *err);
//  X-LXD-type: directory; an existing directory is success.
int en_lxd_mkdir(en_lxd_t *self, const char *instance, const char *path, int mode, en_err_t *err);

//  Percent-escape text for a path segment or a query value (malloc'd).
char *en_lxd_escape(const char *text);

//  The one classifier. http_status: the HTTP status (0 when the request
//  never got an answer; then curl_code is libcurl's CURLcode); error_code:
//  the envelope's error_code, or the operation's status_code (400 for
//  Failure), 0 when none; message: LXD's text (may be NULL). Sets err's
//  kind, retryable and message (`lxd: <context>: <message>`, context may
//  be NULL) and returns -1.
//    404 (the HTTP status or the envelope's error_code), or a text that is
//    exactly one of LXD's whole-object messages, without case: "Instance
//    not found", "Image not found", "Network not found", "Network ACL not
//    found", "Profile not found", "Storage pool not found", "Operation not
//    found", "not found"                         NOT_FOUND
//      (a text that only mentions something not found, such as a failed
//      operation's "Failed ...: Storage volume not found" inside a DELETE
//      of an instance, is about a sub-resource, not the object asked for:
//      it follows the rules below, NOT_VALID or INTERNAL)
//    409, or "already exists", "UNIQUE constraint failed"
//                                                ALREADY_EXISTS
//    403, 401                                    UNAUTHORIZED
//    412 (ETag mismatch)                         UNAVAILABLE, retryable
//    any other status (5.0.2 sends these as 500, 400 or a failed
//    operation) whose text names one of LXD's transient failures, matched without
//    case; the one list of them, which callers never repeat:
//      - the database: "database is locked", "Transaction timeout",
//        "context deadline exceeded", "database is busy", "no available
//        dqlite leader server found", "connection refused"
//      - an instance busy: "is busy running a ...", "operation in
//        progress" ("The instance is already running" is a state, not a
//        transient failure: NOT_VALID, and the caller reads the status)
//      - the file API under parallel load: "dial unix /proc/self/fd/N/
//        forkfile.sock: connect: no such file or directory"
//      - GET /1.0/resources in parallel: "Failed to retrieve GPU
//        information: ... bad file descriptor", "Failed to retrieve
//        network information"
//      - concurrent updates of one bridge: "Failed clearing firewall",
//        "Failed clearing nftables rules", "The DNS and DHCP service
//        exited prematurely", "ip -4 addr add ...: Address already
//        assigned"
//      - in use while a racer detaches it: "Cannot delete an ACL that is
//        in use", "Profile is currently in use", "The network is
//        currently in use"
//                                                UNAVAILABLE, retryable
//    400 and other 4xx                           NOT_VALID
//    other 5xx                                   INTERNAL
//    no answer: socket missing, connection refused, timeout, TLS failure
//                                                UNAVAILABLE (retryable;
//                                                TIMEOUT for a timeout;
//                                                UNAUTHORIZED for a
//                                                certificate the server
//                                                refused; NOT_VALID for a
//                                                server certificate that
//                                                does not verify)
int en_lxd_classify(long http_status, int curl_code, int error_code, const char *message,
                    const char *context, en_err_t *err);

#endif
