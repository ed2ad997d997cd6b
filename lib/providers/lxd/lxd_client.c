/*  lxd_client.c — the LXD REST client (lxd_client.h) with libcurl and
    jansson.

    One client holds one libcurl easy handle. Each request resets the
    handle's options (curl_easy_reset keeps live connections, so the unix
    socket or the TLS session stays open between calls) and sets them
    again from the client's configuration: the unix socket through
    CURLOPT_UNIX_SOCKET_PATH with the URL "http://lxd/1.0/...", or HTTPS
    with the client certificate and key as PEM blobs.

    lxd_perform is the only place that talks to LXD: it sends one request and
    collects status, body and the two headers we care about (ETag,
    X-LXD-type). Everything above it speaks LXD's envelope: sync answers
    give their metadata, async answers are waited for through the
    operation's /wait endpoint, and every failure goes through
    en_lxd_classify, whose rules are one table of substrings plus the HTTP
    status rules of the header. The file API, whose bodies are not JSON,
    is lxd_files.c; both share lxd_client_private.h.

    A server certificate, when configured, is pinned: the client trusts
    nothing but it (CURLOPT_CAINFO_BLOB, with libcurl's default CA file and
    CA directory cleared: Debian's libcurl would otherwise also trust every
    public CA) and requires the server's public key to be that
    certificate's (CURLOPT_PINNEDPUBLICKEY, computed once in en_lxd_new),
    so a certificate that merely chains to it is refused too. The host name
    is not checked (what lxc does: LXD's certificate names the host it was
    generated on, not the address a client dials).

    Finished operations are discarded by LXD about 5 s after they end. A
    wait that finds its operation gone (404) answers NOT_FOUND with a
    message saying so; it cannot know the outcome, and re-reading the
    object the operation worked on is the caller's job. A failed operation
    always reports status 400, so the classifier reads its text first: a
    transient database error inside one is UNAVAILABLE, not NOT_VALID. A
    cancelled operation (401) is classified from its text, and is
    UNAVAILABLE when the text says nothing more. Only a 404 or one of
    LXD's whole-object texts ("Instance not found", ...) is NOT_FOUND: a
    failure that mentions a sub-resource not found must not make a caller
    believe the object it asked about is gone. */
#include "providers/lxd/lxd_client.h"
#include "providers/lxd/lxd_client_private.h"

#include <ctype.h>
#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_SOCKET_DEFAULT "/var/lib/lxd/unix.socket"
#define S_TIMEOUT_DEFAULT_MS 30000L

//  LXD's operation status codes (shared/api/status_code.go).
#define S_OP_SUCCESS 200
#define S_OP_FAILURE 400
#define S_OP_CANCELLED 401

struct en_lxd {
    CURL *curl;
    char *base;        // "http://lxd" or "https://host:port"
    char *socket_path; // NULL for HTTPS
    char *where;       // "unix:<socket>" or the endpoint
    char *client_cert; // PEM text or NULL
    char *client_key;
    char *server_cert;
    char *pin;     // "sha256//<base64>" of server_cert's public key
    char *project; // escaped, NULL for the default project
    long timeout_ms;
    size_t file_max;
    json_t *server; // cached GET /1.0
    char curl_error[CURL_ERROR_SIZE];
};

static pthread_once_t s_curl_once = PTHREAD_ONCE_INIT;
static CURLcode s_curl_init_rc;

static void
s_curl_global_init(void)
{
    s_curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static long
s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
lxd_answer_free(lxd_answer_t *answer)
{
    free(answer->body);
    free(answer->etag);
    free(answer->lxd_type);
    memset(answer, 0, sizeof *answer);
}

static char *
s_strdup_or_null(const char *text)
{
    return text && *text ? strdup(text) : NULL;
}

//  ------------------------------------------------------------------------
//  The classifier

//  What a retry may cure. 5.0.2 sends most of these untyped (500, a 400,
//  or inside a failed operation), so the text decides, matched without
//  case. This is the only place that knows them: callers retry what is
//  UNAVAILABLE and retryable, and never read LXD's text themselves.
static const char *const s_transient[] = {
    //  the database and its transactions
    "database is locked",
    "transaction timeout",
    "context deadline exceeded",
    "database is busy",
    "no available dqlite leader server found",
    "connection refused",
    //  an instance busy with another operation ("already running" is not
    //  one: a repeated start finds the state it asked for, NOT_VALID, and
    //  the caller reads the status)
    "is busy running a",
    "operation in progress",
    //  the file API's helper process, unreachable under parallel load:
    //  `dial unix /proc/self/fd/N/forkfile.sock: connect: no such file or
    //  directory`
    "forkfile.sock",
    //  GET /1.0/resources in parallel (`...: readdirent /sys/...: bad file
    //  descriptor`)
    "Failed to retrieve GPU information",
    "Failed to retrieve network information",
    "Failed to retrieve CPU information",
    "Failed to retrieve memory information",
    "Failed to retrieve storage information",
    "bad file descriptor",
    //  concurrent updates of one bridge: each re-makes it (nft chains, its
    //  address, dnsmasq) and LXD reverts the one that clashed
    "Failed clearing firewall",
    "Failed clearing nftables rules",
    "The DNS and DHCP service exited prematurely",
    "Address already assigned", // `ip -4 addr add ...`
    //  an ACL's rules applied to a bridge whose nft chains are not made
    //  yet (a PUT right after the bridge's POST): `Failed to run: nft -f
    //  -: exit status 1 (/dev/stdin:2:22-38: Error: No such file or
    //  directory; ... flush chain inet lxd acl.<bridge> ...)`
    "flush chain inet lxd acl.",
    //  still used, while a racer detaches or deletes what uses it
    "Cannot delete an ACL that is in use",
    "Profile is currently in use",
    "The network is currently in use",
    NULL,
};

//  LXD's texts for an object that is not there at all. Only these, as the
//  whole text, say NOT_FOUND without a 404: "Failed ...: Storage volume not
//  found" inside an instance's DELETE, or "...: Profile not found" inside a
//  create, name a sub-resource, not the object the caller asked about.
static const char *const s_not_found[] = {
    "Instance not found",    "Image not found",   "Network not found",
    "Network ACL not found", "Profile not found", "Storage pool not found",
    "Operation not found",   "not found",         NULL,
};

static bool
s_equals_any(const char *text, const char *const *words)
{
    if (!text)
        return false;
    while (isspace((unsigned char)*text))
        text++;
    size_t len = strlen(text);
    while (len > 0 && isspace((unsigned char)text[len - 1]))
        len--;
    for (size_t i = 0; words[i]; i++)
        if (strlen(words[i]) == len && strncasecmp(text, words[i], len) == 0)
            return true;
    return false;
}

static bool
s_contains_any(const char *text, const char *const *needles)
{
    if (!text)
        return false;
    for (size_t i = 0; needles[i]; i++)
        if (strcasestr(text, needles[i]))
            return true;
    return false;
}

static en_kind_t
s_transport_kind(int curl_code, const char *message)
{
    switch ((CURLcode)curl_code) {
    case CURLE_OPERATION_TIMEDOUT:
        return EN_TIMEOUT;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_CERTPROBLEM: // our own certificate or key is unusable
        return EN_NOT_VALID;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_RECV_ERROR:
        // a server that refuses our certificate sends a TLS alert
        if (message && strcasestr(message, "alert") && strcasestr(message, "certificate"))
            return EN_UNAUTHORIZED;
        return EN_UNAVAILABLE;
    default:
        return EN_UNAVAILABLE;
    }
}

static en_kind_t
s_answer_kind(long http_status, int error_code, const char *message)
{
    // an operation's status_code (400 Failure) counts when the HTTP
    // exchange itself succeeded
    long code = error_code ? error_code : http_status;
    //  a 404 that is a race, not an absence: an ACL read or written while
    //  another ACL or a network (anyone's) is being deleted (`Failed
    //  getting ACL usage: Network ACL not found`, `Failed getting ACL
    //  network usage: Failed to get network config for "x": Network not
    //  found`)
    if (message && (strcasestr(message, "Failed getting ACL usage") ||
                    strcasestr(message, "Failed getting ACL network usage")))
        return EN_UNAVAILABLE;
    if (http_status == 404 || code == 404 || s_equals_any(message, s_not_found))
        return EN_NOT_FOUND;
    if (http_status == 409 || code == 409 || (message && strcasestr(message, "already exists")) ||
        (message && strcasestr(message, "UNIQUE constraint failed")))
        return EN_ALREADY_EXISTS;
    if (code == 401 || code == 403 || http_status == 401 || http_status == 403)
        return EN_UNAUTHORIZED;
    if (code == 412 || http_status == 412)
        return EN_UNAVAILABLE;
    // transient text counts whatever the code: a failed operation always
    // reports 400, however transient its cause
    if (s_contains_any(message, s_transient))
        return EN_UNAVAILABLE;
    if (code >= 400 && code < 500)
        return EN_NOT_VALID;
    return EN_INTERNAL;
}

int
en_lxd_classify(long http_status, int curl_code, int error_code, const char *message,
                const char *context, en_err_t *err)
{
    en_kind_t kind;
    char fallback[64];
    if (http_status == 0) {
        kind = s_transport_kind(curl_code, message);
        if (!message || !*message)
            message = curl_easy_strerror((CURLcode)curl_code);
    } else {
        kind = s_answer_kind(http_status, error_code, message);
        if (!message || !*message) {
            snprintf(fallback, sizeof fallback, "HTTP %ld", http_status);
            message = fallback;
        }
    }
    if (context && *context)
        return en_err_set(err, kind, "lxd: %s: %s", context, message);
    return en_err_set(err, kind, "lxd: %s", message);
}

//  ------------------------------------------------------------------------
//  Escaping

char *
en_lxd_escape(const char *text)
{
    static const char hex[] = "0123456789ABCDEF";
    if (!text)
        text = "";
    size_t len = strlen(text);
    char *out = malloc(3 * len + 1);
    if (!out)
        return NULL;
    char *p = out;
    for (const unsigned char *s = (const unsigned char *)text; *s; s++) {
        if (isalnum(*s) || *s == '-' || *s == '.' || *s == '_' || *s == '~') {
            *p++ = (char)*s;
        } else {
            *p++ = '%';
            *p++ = hex[*s >> 4];
            *p++ = hex[*s & 15];
        }
    }
    *p = '\0';
    return out;
}

//  ------------------------------------------------------------------------
//  Construction

static bool
s_is_pem(const char *text, const char *kind)
{
    return text && strstr(text, "-----BEGIN ") && strstr(text, kind);
}

char *
lxd_spki_pin(const char *pem)
{
    BIO *bio = pem ? BIO_new_mem_buf(pem, -1) : NULL;
    X509 *cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    unsigned char *der = NULL;
    int der_len = cert ? i2d_PUBKEY(X509_get0_pubkey(cert), &der) : -1;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    char *pin = NULL;
    if (der_len > 0 && EVP_Digest(der, (size_t)der_len, md, &md_len, EVP_sha256(), NULL) == 1 &&
        (pin = malloc(8 + 4 * ((md_len + 2) / 3) + 1))) {
        memcpy(pin, "sha256//", 8);
        EVP_EncodeBlock((unsigned char *)pin + 8, md, (int)md_len);
    }
    OPENSSL_free(der);
    X509_free(cert);
    BIO_free(bio);
    ERR_clear_error();
    return pin;
}

static int
s_check_config(const en_lxd_config_t *cfg, en_err_t *err)
{
    const char *endpoint = cfg->endpoint;
    if (endpoint && *endpoint && strncmp(endpoint, "https://", 8) != 0)
        return en_err_set(err, EN_NOT_VALID, "lxd: endpoint \"%s\" is not an https:// URL",
                          endpoint);
    if (endpoint && *endpoint && !endpoint[8])
        return en_err_set(err, EN_NOT_VALID, "lxd: endpoint \"%s\" has no host", endpoint);
    bool has_cert = cfg->client_cert && *cfg->client_cert;
    bool has_key = cfg->client_key && *cfg->client_key;
    if (has_cert && !has_key)
        return en_err_set(err, EN_NOT_VALID, "lxd: client certificate without its key");
    if (has_key && !has_cert)
        return en_err_set(err, EN_NOT_VALID, "lxd: client key without its certificate");
    if (has_cert && !s_is_pem(cfg->client_cert, "CERTIFICATE-----"))
        return en_err_set(err, EN_NOT_VALID, "lxd: client certificate is not PEM text");
    if (has_key && !s_is_pem(cfg->client_key, "PRIVATE KEY-----"))
        return en_err_set(err, EN_NOT_VALID, "lxd: client key is not PEM text");
    if (cfg->server_cert && *cfg->server_cert && !s_is_pem(cfg->server_cert, "CERTIFICATE-----"))
        return en_err_set(err, EN_NOT_VALID, "lxd: server certificate is not PEM text");
    if (cfg->timeout_ms < 0)
        return en_err_set(err, EN_NOT_VALID, "lxd: timeout %ld ms is negative", cfg->timeout_ms);
    return 0;
}

//  $LXD_SOCKET, else $LXD_DIR/unix.socket, else Debian's path.
static char *
s_default_socket(void)
{
    const char *socket = getenv("LXD_SOCKET");
    if (socket && *socket)
        return strdup(socket);
    const char *dir = getenv("LXD_DIR");
    if (dir && *dir) {
        char *path = NULL;
        if (asprintf(&path, "%s/unix.socket", dir) < 0)
            return NULL;
        return path;
    }
    return strdup(S_SOCKET_DEFAULT);
}

en_lxd_t *
en_lxd_new(const en_lxd_config_t *cfg, en_err_t *err)
{
    static const en_lxd_config_t defaults = {0};
    if (!cfg)
        cfg = &defaults;
    if (s_check_config(cfg, err) < 0)
        return NULL;
    pthread_once(&s_curl_once, s_curl_global_init);
    if (s_curl_init_rc != CURLE_OK) {
        en_err_set(err, EN_INTERNAL, "lxd: cannot initialise libcurl: %s",
                   curl_easy_strerror(s_curl_init_rc));
        return NULL;
    }
    en_lxd_t *self = calloc(1, sizeof *self);
    if (!self) {
        en_err_set(err, EN_INTERNAL, "lxd: out of memory");
        return NULL;
    }
    self->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : S_TIMEOUT_DEFAULT_MS;
    self->file_max = cfg->file_max > 0 ? cfg->file_max : EN_LXD_FILE_MAX_DEFAULT;
    self->curl = curl_easy_init();
    bool ok = self->curl != NULL;
    if (cfg->endpoint && *cfg->endpoint) {
        self->base = strdup(cfg->endpoint);
        // "https://h:8443/" and "https://h:8443" are the same endpoint
        size_t len = self->base ? strlen(self->base) : 0;
        while (len > 8 && self->base[len - 1] == '/')
            self->base[--len] = '\0';
        self->where = s_strdup_or_null(self->base);
        self->client_cert = s_strdup_or_null(cfg->client_cert);
        self->client_key = s_strdup_or_null(cfg->client_key);
        self->server_cert = s_strdup_or_null(cfg->server_cert);
        ok = ok && self->base && self->where;
        if (ok && self->server_cert && !(self->pin = lxd_spki_pin(self->server_cert))) {
            en_lxd_destroy(&self);
            en_err_set(err, EN_NOT_VALID, "lxd: server certificate cannot be parsed");
            return NULL;
        }
    } else {
        self->base = strdup("http://lxd");
        self->socket_path =
            cfg->socket_path && *cfg->socket_path ? strdup(cfg->socket_path) : s_default_socket();
        if (self->socket_path && asprintf(&self->where, "unix:%s", self->socket_path) < 0)
            self->where = NULL;
        ok = ok && self->base && self->socket_path && self->where;
    }
    if (cfg->project && *cfg->project) {
        self->project = en_lxd_escape(cfg->project);
        ok = ok && self->project;
    }
    if (!ok) {
        en_lxd_destroy(&self);
        en_err_set(err, EN_INTERNAL, "lxd: cannot create a client (out of memory?)");
        return NULL;
    }
    return self;
}

void
en_lxd_destroy(en_lxd_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    en_lxd_t *self = *self_p;
    if (self->curl)
        curl_easy_cleanup(self->curl);
    free(self->base);
    free(self->socket_path);
    free(self->where);
    free(self->client_cert);
    free(self->client_key);
    free(self->server_cert);
    free(self->pin);
    free(self->project);
    json_decref(self->server);
    free(self);
    *self_p = NULL;
}

const char *
en_lxd_where(const en_lxd_t *self)
{
    return self->where;
}

size_t
lxd_file_max(const en_lxd_t *self)
{
    return self->file_max;
}

//  ------------------------------------------------------------------------
//  One HTTP exchange

//  What the body callback writes into, and its cap.
typedef struct {
    lxd_answer_t *answer;
    size_t max; // 0: none
} s_sink_t;

static size_t
s_on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    s_sink_t *sink = arg;
    lxd_answer_t *answer = sink->answer;
    size_t n = size * nmemb;
    if (sink->max && n > sink->max - answer->len) {
        answer->too_large = true;
        return 0; // CURLE_WRITE_ERROR: stop reading
    }
    char *grown = realloc(answer->body, answer->len + n + 1);
    if (!grown)
        return 0; // libcurl fails the transfer with CURLE_WRITE_ERROR
    memcpy(grown + answer->len, data, n);
    answer->len += n;
    grown[answer->len] = '\0';
    answer->body = grown;
    return n;
}

//  The value of header `name` in line, trimmed and malloc'd, or NULL.
static char *
s_header_value(const char *line, size_t len, const char *name)
{
    size_t name_len = strlen(name);
    if (len <= name_len || strncasecmp(line, name, name_len) != 0 || line[name_len] != ':')
        return NULL;
    const char *start = line + name_len + 1;
    const char *end = line + len;
    while (start < end && (*start == ' ' || *start == '\t'))
        start++;
    while (end > start && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    return strndup(start, (size_t)(end - start));
}

static size_t
s_on_header(char *data, size_t size, size_t nmemb, void *arg)
{
    lxd_answer_t *answer = arg;
    size_t n = size * nmemb;
    char *value;
    if ((value = s_header_value(data, n, "ETag"))) {
        free(answer->etag);
        answer->etag = value;
    } else if ((value = s_header_value(data, n, "X-LXD-type"))) {
        free(answer->lxd_type);
        answer->lxd_type = value;
    }
    return n;
}

//  The URL of path with the project added to its query.
static char *
s_url(const en_lxd_t *self, const char *path)
{
    char *url = NULL;
    int rc;
    if (self->project)
        rc = asprintf(&url, "%s%s%cproject=%s", self->base, path, strchr(path, '?') ? '&' : '?',
                      self->project);
    else
        rc = asprintf(&url, "%s%s", self->base, path);
    return rc < 0 ? NULL : url;
}

static void
s_set_transport(en_lxd_t *self)
{
    CURL *curl = self->curl;
    if (self->socket_path) {
        curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, self->socket_path);
        return;
    }
    if (self->client_cert) {
        struct curl_blob cert = {self->client_cert, strlen(self->client_cert), CURL_BLOB_COPY};
        struct curl_blob key = {self->client_key, strlen(self->client_key), CURL_BLOB_COPY};
        curl_easy_setopt(curl, CURLOPT_SSLCERT_BLOB, &cert);
        curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM");
        curl_easy_setopt(curl, CURLOPT_SSLKEY_BLOB, &key);
        curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM");
    }
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    if (self->server_cert) {
        // the pinned certificate is the only anchor (libcurl's default CA
        // file and directory, the public CAs, are cleared) and the server
        // must present its very key; its names are the server's own host
        // name, not the address we dial (as lxc does)
        struct curl_blob ca = {self->server_cert, strlen(self->server_cert), CURL_BLOB_COPY};
        curl_easy_setopt(curl, CURLOPT_CAINFO, NULL);
        curl_easy_setopt(curl, CURLOPT_CAPATH, NULL);
        curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &ca);
        curl_easy_setopt(curl, CURLOPT_PINNEDPUBLICKEY, self->pin);
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    } else {
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
    }
}

int
lxd_perform(en_lxd_t *self, const lxd_request_t *req, lxd_answer_t *answer, en_err_t *err)
{
    memset(answer, 0, sizeof *answer);
    char *url = s_url(self, req->path);
    if (!url)
        return en_err_set(err, EN_INTERNAL, "lxd: out of memory");
    CURL *curl = self->curl;
    curl_easy_reset(curl); // keeps the live connection
    self->curl_error[0] = '\0';
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, self->curl_error);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                     req->timeout_ms > 0 ? req->timeout_ms : self->timeout_ms);
    s_sink_t sink = {.answer = answer, .max = req->max_body};
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
    if (req->max_body)
        curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)req->max_body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, s_on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, answer);
    s_set_transport(self);
    if (strcmp(req->method, "GET") == 0) {
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req->method);
        if (req->body || strcmp(req->method, "DELETE") != 0) {
            curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
            curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        }
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, req->headers);
    CURLcode rc = curl_easy_perform(curl);
    free(url);
    if (req->max_body && (rc == CURLE_FILESIZE_EXCEEDED || answer->too_large)) {
        // an answer, too large to read: the caller says what it was
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &answer->status);
        free(answer->body);
        answer->body = NULL;
        answer->len = 0;
        answer->too_large = true;
        return 0;
    }
    if (rc != CURLE_OK) {
        const char *why = self->curl_error[0] ? self->curl_error : curl_easy_strerror(rc);
        en_lxd_classify(0, rc, 0, why, NULL, err);
        if (err)
            snprintf(err->message, sizeof err->message, "cannot connect to LXD at %s: %s",
                     self->where, why);
        lxd_answer_free(answer);
        return -1;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &answer->status);
    return 0;
}

//  ------------------------------------------------------------------------
//  The envelope

int
lxd_envelope(const lxd_answer_t *answer, const char *context, json_t **envelope, en_err_t *err)
{
    json_error_t jerr;
    json_t *root = answer->body ? json_loadb(answer->body, answer->len, 0, &jerr) : NULL;
    if (!json_is_object(root)) {
        json_decref(root);
        if (answer->status >= 400) {
            // not LXD's envelope (a proxy?): classify from the status
            char text[200];
            snprintf(text, sizeof text, "HTTP %ld: %.160s", answer->status,
                     answer->body ? answer->body : "");
            return en_lxd_classify(answer->status, 0, 0, text, context, err);
        }
        return en_err_set(err, EN_INTERNAL, "lxd: %s: answer (HTTP %ld) is not a JSON envelope",
                          context, answer->status);
    }
    const char *type = json_string_value(json_object_get(root, "type"));
    if (answer->status >= 400 || (type && strcmp(type, "error") == 0)) {
        int code = (int)json_integer_value(json_object_get(root, "error_code"));
        const char *text = json_string_value(json_object_get(root, "error"));
        en_lxd_classify(answer->status, 0, code, text, context, err);
        json_decref(root);
        return -1;
    }
    *envelope = root;
    return 0;
}

static json_t *
s_metadata_ref(json_t *object)
{
    json_t *metadata = json_object_get(object, "metadata");
    return metadata ? json_incref(metadata) : json_null();
}

//  The operation id from "/1.0/operations/<id>" or a bare id.
static const char *
s_operation_id(const char *operation)
{
    const char *slash = strrchr(operation, '/');
    return slash ? slash + 1 : operation;
}

//  Wait for an operation; context names the call that started it.
static int
s_wait(en_lxd_t *self, const char *operation, long timeout_ms, const char *context,
       json_t **metadata, en_err_t *err)
{
    if (metadata)
        *metadata = NULL;
    const char *id = s_operation_id(operation);
    char *id_escaped = en_lxd_escape(id);
    if (!id_escaped)
        return en_err_set(err, EN_INTERNAL, "lxd: out of memory");
    if (timeout_ms <= 0)
        timeout_ms = self->timeout_ms;
    long started = s_now_ms();
    long deadline = started + timeout_ms;
    int rc = -1;
    for (;;) {
        // LXD waits in whole seconds; never less than one
        long remaining = deadline - s_now_ms();
        long seconds = remaining > 1000 ? remaining / 1000 : 1;
        char path[256];
        snprintf(path, sizeof path, "/1.0/operations/%s/wait?timeout=%ld", id_escaped, seconds);
        lxd_request_t req = {
            .method = "GET", .path = path, .timeout_ms = seconds * 1000 + self->timeout_ms};
        lxd_answer_t answer;
        if (lxd_perform(self, &req, &answer, err) < 0)
            break;
        if (answer.status == 404) {
            en_err_set(err, EN_NOT_FOUND,
                       "lxd: %s: operation %s not found: LXD discards an operation about 5 s "
                       "after it ends, so its outcome is unknown; re-read the object",
                       context, id);
            lxd_answer_free(&answer);
            break;
        }
        json_t *envelope = NULL;
        int parsed = lxd_envelope(&answer, context, &envelope, err);
        lxd_answer_free(&answer);
        if (parsed < 0)
            break;
        json_t *op = json_object_get(envelope, "metadata");
        if (!json_is_object(op)) {
            en_err_set(err, EN_INTERNAL, "lxd: %s: operation %s: answer without an operation",
                       context, id);
            json_decref(envelope);
            break;
        }
        int status = (int)json_integer_value(json_object_get(op, "status_code"));
        const char *text = json_string_value(json_object_get(op, "err"));
        if (status == S_OP_SUCCESS) {
            if (metadata)
                *metadata = s_metadata_ref(op);
            rc = 0;
        } else if (status == S_OP_FAILURE) {
            en_lxd_classify(200, 0, S_OP_FAILURE, text && *text ? text : "operation failed",
                            context, err);
        } else if (status == S_OP_CANCELLED) {
            // nothing wrong with the request: unless the text says
            // otherwise, someone cancelled it and a retry may succeed
            en_lxd_classify(200, 0, 0, text && *text ? text : "operation cancelled", context, err);
            if (err && err->kind == EN_INTERNAL) {
                err->kind = EN_UNAVAILABLE;
                err->retryable = true;
            }
        } else if (s_now_ms() < deadline) {
            json_decref(envelope);
            continue; // still running (103), pending (105) or cancelling
        } else {
            en_err_set(err, EN_TIMEOUT, "lxd: operation %s still running after %ld ms", id,
                       timeout_ms);
        }
        json_decref(envelope);
        break;
    }
    free(id_escaped);
    return rc;
}

int
en_lxd_wait(en_lxd_t *self, const char *operation, long timeout_ms, json_t **metadata,
            en_err_t *err)
{
    char context[160];
    snprintf(context, sizeof context, "operation %s", s_operation_id(operation));
    return s_wait(self, operation, timeout_ms, context, metadata, err);
}

//  A JSON request: sync metadata, or the async operation's metadata.
//  pending not NULL: an async answer is not waited for but left in
//  *pending (its operation stays NULL after a sync answer).
static int
s_call(en_lxd_t *self, const char *method, const char *path, json_t *body, const char *if_match,
       json_t **metadata, char **etag, en_lxd_pending_t *pending, long timeout_ms, en_err_t *err)
{
    char context[sizeof pending->context];
    snprintf(context, sizeof context, "%s %s", method, path);
    if (metadata)
        *metadata = NULL;
    if (etag)
        *etag = NULL;
    if (pending) {
        pending->operation = NULL;
        snprintf(pending->context, sizeof pending->context, "%s", context);
    }
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    if (body && !text)
        return en_err_set(err, EN_NOT_VALID, "lxd: %s: body cannot be encoded", context);
    struct curl_slist *headers = NULL;
    char if_match_header[256];
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Expect:");
    if (if_match) {
        snprintf(if_match_header, sizeof if_match_header, "If-Match: %s", if_match);
        headers = curl_slist_append(headers, if_match_header);
    }
    lxd_request_t req = {.method = method,
                         .path = path,
                         .body = text,
                         .body_len = text ? strlen(text) : 0,
                         .headers = headers};
    lxd_answer_t answer;
    json_t *envelope = NULL;
    int rc = lxd_perform(self, &req, &answer, err);
    curl_slist_free_all(headers);
    free(text);
    if (rc < 0)
        return -1;
    rc = lxd_envelope(&answer, context, &envelope, err);
    if (rc < 0)
        goto cleanup;
    const char *type = json_string_value(json_object_get(envelope, "type"));
    if (type && strcmp(type, "async") == 0) {
        const char *operation = json_string_value(json_object_get(envelope, "operation"));
        if (!operation || !*operation)
            operation =
                json_string_value(json_object_get(json_object_get(envelope, "metadata"), "id"));
        if (!operation) {
            rc =
                en_err_set(err, EN_INTERNAL, "lxd: %s: async answer without an operation", context);
            goto cleanup;
        }
        if (pending) {
            if (!(pending->operation = strdup(operation)))
                rc = en_err_set(err, EN_INTERNAL, "out of memory");
            goto cleanup;
        }
        rc = s_wait(self, operation, timeout_ms, context, metadata, err);
        goto cleanup;
    }
    if (metadata)
        *metadata = s_metadata_ref(envelope);
    if (etag && answer.etag)
        *etag = strdup(answer.etag);
cleanup:
    json_decref(envelope);
    lxd_answer_free(&answer);
    return rc;
}

int
en_lxd_call(en_lxd_t *self, const char *method, const char *path, json_t *body, json_t **metadata,
            char **etag, long timeout_ms, en_err_t *err)
{
    return s_call(self, method, path, body, NULL, metadata, etag, NULL, timeout_ms, err);
}

int
en_lxd_call_async(en_lxd_t *self, const char *method, const char *path, json_t *body,
                  en_lxd_pending_t *pending, en_err_t *err)
{
    return s_call(self, method, path, body, NULL, NULL, NULL, pending, 0, err);
}

int
en_lxd_pending_wait(en_lxd_t *self, en_lxd_pending_t *pending, long timeout_ms, json_t **metadata,
                    en_err_t *err)
{
    if (metadata)
        *metadata = NULL;
    if (!pending->operation)
        return 0;
    int rc = s_wait(self, pending->operation, timeout_ms, pending->context, metadata, err);
    free(pending->operation);
    pending->operation = NULL;
    return rc;
}

void
en_lxd_pending_clear(en_lxd_pending_t *pending)
{
    free(pending->operation);
    pending->operation = NULL;
}

int
en_lxd_call_if_match(en_lxd_t *self, const char *method, const char *path, json_t *body,
                     const char *if_match, json_t **metadata, long timeout_ms, en_err_t *err)
{
    return s_call(self, method, path, body, if_match, metadata, NULL, NULL, timeout_ms, err);
}

//  ------------------------------------------------------------------------
//  The server

int
en_lxd_server(en_lxd_t *self, const json_t **server, en_err_t *err)
{
    if (!self->server) {
        json_t *metadata = NULL;
        if (en_lxd_call(self, "GET", "/1.0", NULL, &metadata, NULL, 0, err) < 0)
            return -1;
        if (!json_is_object(metadata)) {
            json_decref(metadata);
            return en_err_set(err, EN_INTERNAL, "lxd: GET /1.0: metadata is not an object");
        }
        self->server = metadata;
    }
    if (server)
        *server = self->server;
    return 0;
}

int
en_lxd_has_extension(en_lxd_t *self, const char *name, bool *has, en_err_t *err)
{
    const json_t *server;
    if (en_lxd_server(self, &server, err) < 0)
        return -1;
    *has = false;
    size_t i;
    json_t *ext;
    json_array_foreach(json_object_get(server, "api_extensions"), i, ext)
    {
        const char *text = json_string_value(ext);
        if (text && strcmp(text, name) == 0) {
            *has = true;
            break;
        }
    }
    return 0;
}
