/*  ssfetch.c — see ssfetch.h.

    Design: the easy handle is configured once in _new (protocols, TLS,
    timeouts, redirect policy, size cap) and each GET only sets the URL and
    the conditional headers, so libcurl keeps its connection cache across
    the GETs of a lookup. A GET is a loop of attempts; one attempt resets
    the per-request state (body buffer, status line, validators), performs,
    and turns curl's code plus the HTTP status into one en_err_t. The
    header callback sees the headers of every hop of a redirect chain, so
    it starts afresh at each status line and what is left at the end
    belongs to the final response.

    The size cap is enforced twice: CURLOPT_MAXFILESIZE refuses a body
    whose Content-Length is already too big, and the write callback stops
    the transfer the moment the bytes received pass the cap (chunked or
    close-delimited bodies, and gzip-decoded bytes). */
#include "simplestreams/ssfetch.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/clock.h"

#define S_DEFAULT_CONNECT_MS 10000
#define S_DEFAULT_TIMEOUT_MS 120000
#define S_DEFAULT_REDIRECTS 10
#define S_DEFAULT_MAX_SIZE ((size_t)64 << 20)
#define S_DEFAULT_ATTEMPTS 3
#define S_FIRST_DELAY_MS 1000
#define S_MAX_DELAY_MS 5000

//  What one attempt collects; reset before each attempt.
typedef struct {
    char *body;
    size_t len, cap, max;
    bool overflow;
    char status_text[128]; //  "500 Internal Server Error", Go's resp.Status
    char *etag;
    char *last_modified;
} s_req_t;

struct en_ssfetch {
    CURL *curl;
    en_ssfetch_opts_t opts;
    char *ca_file;
    char *user_agent;
    char errbuf[CURL_ERROR_SIZE];
    s_req_t req;
};

static pthread_once_t s_curl_once = PTHREAD_ONCE_INIT;
static CURLcode s_curl_init_rc;

static void
s_curl_global_init(void)
{
    s_curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void
s_req_reset(s_req_t *req, size_t max)
{
    free(req->body);
    free(req->etag);
    free(req->last_modified);
    memset(req, 0, sizeof *req);
    req->max = max;
}

static size_t
s_on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    s_req_t *req = arg;
    size_t n = size * nmemb;
    if (n > req->max - req->len) {
        req->overflow = true;
        return 0; //  aborts the transfer with CURLE_WRITE_ERROR
    }
    if (req->len + n + 1 > req->cap) {
        size_t cap = req->cap ? req->cap : 16384;
        while (cap < req->len + n + 1)
            cap *= 2;
        char *body = realloc(req->body, cap);
        if (!body)
            return 0;
        req->body = body;
        req->cap = cap;
    }
    memcpy(req->body + req->len, data, n);
    req->len += n;
    req->body[req->len] = '\0';
    return n;
}

//  A header value without surrounding blanks and CRLF, malloc'd.
static char *
s_header_value(const char *line, size_t n, size_t name_len)
{
    const char *v = line + name_len, *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    return strndup(v, (size_t)(end - v));
}

static size_t
s_on_header(char *line, size_t size, size_t nmemb, void *arg)
{
    s_req_t *req = arg;
    size_t n = size * nmemb;
    if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        //  a new response (first, or the next hop of a redirect)
        free(req->etag);
        free(req->last_modified);
        req->etag = req->last_modified = NULL;
        const char *sp = memchr(line, ' ', n);
        size_t rest = sp ? n - (size_t)(sp + 1 - line) : 0;
        while (rest && (sp[rest] == '\r' || sp[rest] == '\n'))
            rest--;
        snprintf(req->status_text, sizeof req->status_text, "%.*s", (int)rest, sp ? sp + 1 : "");
    } else if (n > 5 && strncasecmp(line, "ETag:", 5) == 0) {
        free(req->etag);
        req->etag = s_header_value(line, n, 5);
    } else if (n > 14 && strncasecmp(line, "Last-Modified:", 14) == 0) {
        free(req->last_modified);
        req->last_modified = s_header_value(line, n, 14);
    }
    return n;
}

en_ssfetch_t *
en_ssfetch_new(const en_ssfetch_opts_t *opts, en_err_t *err)
{
    pthread_once(&s_curl_once, s_curl_global_init);
    if (s_curl_init_rc != CURLE_OK) {
        en_err_set(err, EN_INTERNAL, "cannot initialise libcurl: %s",
                   curl_easy_strerror(s_curl_init_rc));
        return NULL;
    }
    en_ssfetch_t *self = calloc(1, sizeof *self);
    if (!self) {
        en_err_set(err, EN_INTERNAL, "out of memory");
        return NULL;
    }
    if (opts)
        self->opts = *opts;
    en_ssfetch_opts_t *o = &self->opts;
    if (o->connect_timeout_ms <= 0)
        o->connect_timeout_ms = S_DEFAULT_CONNECT_MS;
    if (o->timeout_ms <= 0)
        o->timeout_ms = S_DEFAULT_TIMEOUT_MS;
    if (o->max_redirects == 0)
        o->max_redirects = S_DEFAULT_REDIRECTS;
    if (o->max_size == 0)
        o->max_size = S_DEFAULT_MAX_SIZE;
    if (o->attempts <= 0)
        o->attempts = S_DEFAULT_ATTEMPTS;
    self->ca_file = o->ca_file ? strdup(o->ca_file) : NULL;
    self->user_agent = strdup(o->user_agent ? o->user_agent : "environs-simplestreams/0.1");
    o->ca_file = self->ca_file;
    o->user_agent = self->user_agent;
    self->curl = curl_easy_init();
    if (!self->curl || !self->user_agent || (opts && opts->ca_file && !self->ca_file)) {
        en_err_set(err, EN_INTERNAL, "cannot create a libcurl handle");
        en_ssfetch_destroy(&self);
        return NULL;
    }
    CURL *c = self->curl;
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, self->errbuf);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "file,http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https"); //  never into file://
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, o->max_redirects > 0 ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, (long)(o->max_redirects > 0 ? o->max_redirects : 0));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)o->connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)o->timeout_ms);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_size);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(c, CURLOPT_USERAGENT, self->user_agent);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &self->req);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, s_on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &self->req);
    if (self->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, self->ca_file);
    if (o->insecure) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    return self;
}

void
en_ssfetch_destroy(en_ssfetch_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    en_ssfetch_t *self = *self_p;
    if (self->curl)
        curl_easy_cleanup(self->curl);
    s_req_reset(&self->req, 0);
    free(self->ca_file);
    free(self->user_agent);
    free(self);
    *self_p = NULL;
}

void
en_ssfetch_result_free(en_ssfetch_result_t *r)
{
    if (!r)
        return;
    free(r->body);
    free(r->etag);
    free(r->last_modified);
    free(r->effective_url);
    memset(r, 0, sizeof *r);
}

static bool
s_is_file_url(const char *url)
{
    return strncasecmp(url, "file:", 5) == 0;
}

//  Go's http.StatusText for the codes a mirror plausibly sends, used when
//  the status line carries no reason phrase (HTTP/2).
static const char *
s_status_text(long status)
{
    static const struct {
        long code;
        const char *text;
    } table[] = {
        {301, "Moved Permanently"}, {302, "Found"},
        {304, "Not Modified"},      {400, "Bad Request"},
        {401, "Unauthorized"},      {403, "Forbidden"},
        {404, "Not Found"},         {410, "Gone"},
        {429, "Too Many Requests"}, {500, "Internal Server Error"},
        {502, "Bad Gateway"},       {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].code == status)
            return table[i].text;
    return "";
}

//  The error for a transfer that curl itself failed.
static int
s_curl_error(en_ssfetch_t *self, const char *url, CURLcode rc, en_err_t *err)
{
    const char *why = self->errbuf[0] ? self->errbuf : curl_easy_strerror(rc);
    switch (rc) {
    case CURLE_FILESIZE_EXCEEDED:
        return en_err_set(err, EN_NOT_VALID, "URL \"%s\": body exceeds the size limit of %zu bytes",
                          url, self->opts.max_size);
    case CURLE_WRITE_ERROR:
        if (self->req.overflow)
            return en_err_set(err, EN_NOT_VALID,
                              "URL \"%s\": body exceeds the size limit of %zu bytes", url,
                              self->opts.max_size);
        return en_err_set(err, EN_INTERNAL, "cannot read URL \"%s\": out of memory", url);
    case CURLE_TOO_MANY_REDIRECTS:
        return en_err_set(err, EN_NOT_VALID, "cannot access URL \"%s\": stopped after %d redirects",
                          url, self->opts.max_redirects);
    case CURLE_OPERATION_TIMEDOUT: {
        char d[32];
        en_duration_format(self->opts.timeout_ms, d, sizeof d);
        return en_err_set(err, EN_TIMEOUT, "cannot access URL \"%s\": timed out after %s (%s)", url,
                          d, why);
    }
    case CURLE_FILE_COULDNT_READ_FILE:
        return en_err_set(err, EN_NOT_FOUND, "cannot find URL \"%s\"", url);
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    // the server's certificate, or our CA file: the same on every attempt
    // (a failed handshake itself, CURLE_SSL_CONNECT_ERROR, may be a dropped
    // connection and stays retryable)
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
        return en_err_set(err, EN_NOT_VALID, "cannot access URL \"%s\": %s", url, why);
    default:
        return en_err_set(err, EN_UNAVAILABLE, "cannot access URL \"%s\": %s", url, why);
    }
}

//  The error (or 0) for the final HTTP status of a completed transfer.
static int
s_status_error(en_ssfetch_t *self, const char *url, long status, bool conditional, en_err_t *err)
{
    if (status == 200 || (status == 304 && conditional))
        return 0;
    char text[160];
    if (strchr(self->req.status_text, ' '))
        snprintf(text, sizeof text, "%s", self->req.status_text);
    else
        snprintf(text, sizeof text, "%ld %s", status, s_status_text(status));
    switch (status) {
    case 404:
        return en_err_set(err, EN_NOT_FOUND, "cannot find URL \"%s\"", url);
    case 401:
        return en_err_set(err, EN_UNAUTHORIZED, "unauthorised access to URL \"%s\"", url);
    case 403:
        return en_err_set(err, EN_UNAUTHORIZED, "unauthorised access to URL \"%s\", \"%s\"", url,
                          text);
    default:
        return en_err_set(err, EN_UNAVAILABLE, "cannot access URL \"%s\", \"%s\"", url, text);
    }
}

static char *
s_dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int
s_attempt(en_ssfetch_t *self, const char *url, const en_ssfetch_validators_t *prev,
          en_ssfetch_result_t *out, en_err_t *err)
{
    s_req_reset(&self->req, self->opts.max_size);
    self->errbuf[0] = '\0';
    bool is_file = s_is_file_url(url);
    struct curl_slist *headers = NULL;
    int rc = -1;
    char line[1024];
    if (!is_file && prev && prev->etag && *prev->etag) {
        snprintf(line, sizeof line, "If-None-Match: %s", prev->etag);
        headers = curl_slist_append(headers, line);
    }
    if (!is_file && prev && prev->last_modified && *prev->last_modified) {
        snprintf(line, sizeof line, "If-Modified-Since: %s", prev->last_modified);
        headers = curl_slist_append(headers, line);
    }
    bool conditional = headers != NULL;
    curl_easy_setopt(self->curl, CURLOPT_URL, url);
    curl_easy_setopt(self->curl, CURLOPT_HTTPHEADER, headers);
    CURLcode crc = curl_easy_perform(self->curl);
    if (crc != CURLE_OK) {
        s_curl_error(self, url, crc, err);
        goto cleanup;
    }
    long status = 0;
    curl_easy_getinfo(self->curl, CURLINFO_RESPONSE_CODE, &status);
    if (!is_file && s_status_error(self, url, status, conditional, err) < 0)
        goto cleanup;
    char *effective = NULL;
    curl_easy_getinfo(self->curl, CURLINFO_EFFECTIVE_URL, &effective);
    out->status = status;
    out->effective_url = strdup(effective ? effective : url);
    if (status == 304) {
        out->not_modified = true;
        out->etag = self->req.etag ? self->req.etag : s_dup_or_null(prev->etag);
        out->last_modified =
            self->req.last_modified ? self->req.last_modified : s_dup_or_null(prev->last_modified);
    } else {
        out->body = self->req.body ? self->req.body : strdup("");
        out->len = self->req.len;
        out->etag = self->req.etag;
        out->last_modified = self->req.last_modified;
        self->req.body = NULL;
    }
    self->req.etag = self->req.last_modified = NULL; //  now owned by out
    rc = 0;
cleanup:
    curl_easy_setopt(self->curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(headers);
    return rc;
}

int
en_ssfetch_get(en_ssfetch_t *self, const char *url, const en_ssfetch_validators_t *prev,
               en_ssfetch_result_t *out, en_err_t *err)
{
    memset(out, 0, sizeof *out);
    en_err_t local;
    int64_t delay = S_FIRST_DELAY_MS;
    int attempt = 1;
    for (;; attempt++) {
        en_err_clear(&local);
        if (s_attempt(self, url, prev, out, &local) == 0) {
            out->attempts = attempt;
            return 0;
        }
        en_ssfetch_result_free(out);
        bool again = (local.kind == EN_UNAVAILABLE || local.kind == EN_TIMEOUT) &&
                     !s_is_file_url(url) && attempt < self->opts.attempts;
        if (!again)
            break;
        en_sleep_ms((int64_t)((double)delay * en_retry_scale()));
        delay = delay * 2 < S_MAX_DELAY_MS ? delay * 2 : S_MAX_DELAY_MS;
    }
    out->attempts = attempt; // what a failure cost, too
    if (err)
        *err = local;
    return -1;
}

char *
en_ssfetch_url_join(const char *base, const char *path)
{
    size_t bl = strlen(base), pl = strlen(path);
    bool slash = bl > 0 && base[bl - 1] == '/';
    char *out = malloc(bl + pl + 2);
    if (!out)
        return NULL;
    memcpy(out, base, bl);
    if (!slash)
        out[bl++] = '/';
    memcpy(out + bl, path, pl + 1);
    return out;
}
