/*  ss_httpd.c — see ss_httpd.h.

    One mutex guards the path table, the counters and the connection list;
    one condition variable (on CLOCK_MONOTONIC) is broadcast on every
    change so waits for hits, for idleness and delayed answers all use
    it. The acceptor polls the listening socket and a wake pipe, so
    destroy can stop it without a timeout. */
#include "ss_httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define S_MAX_PATHS 256
#define S_MAX_REQUEST 16384

typedef struct {
    char path[512];
    int status;         //  0 = serve the file
    char location[512]; //  "" = no redirect
    int64_t delay_ms;
    size_t body_size; //  0 = serve the file
    bool with_length;
    int hits;
    size_t body_bytes;
} s_path_t;

typedef struct s_conn {
    ss_httpd_t *server;
    int fd;
    pthread_t thread;
    struct s_conn *next;
} s_conn_t;

struct ss_httpd {
    char *root;
    int listen_fd;
    int wake[2];
    int port;
    pthread_t acceptor;
    bool acceptor_started;
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    bool stop;
    int active;
    s_conn_t *conns;
    s_path_t paths[S_MAX_PATHS];
    size_t path_count;
    char url[1024];
};

static int64_t
s_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

//  Wait on the condition until deadline (monotonic ms); caller holds the mutex.
static void
s_wait_until(ss_httpd_t *self, int64_t deadline)
{
    struct timespec ts = {.tv_sec = deadline / 1000, .tv_nsec = (deadline % 1000) * 1000000};
    pthread_cond_timedwait(&self->cond, &self->mutex, &ts);
}

//  The entry for path, created when missing; caller holds the mutex.
//  NULL when the table is full.
static s_path_t *
s_path(ss_httpd_t *self, const char *path)
{
    for (size_t i = 0; i < self->path_count; i++)
        if (strcmp(self->paths[i].path, path) == 0)
            return &self->paths[i];
    if (self->path_count == S_MAX_PATHS)
        return NULL;
    s_path_t *p = &self->paths[self->path_count++];
    memset(p, 0, sizeof *p);
    snprintf(p->path, sizeof p->path, "%s", path);
    return p;
}

static int
s_send_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static void
s_count_body(ss_httpd_t *self, const char *path, size_t n)
{
    pthread_mutex_lock(&self->mutex);
    s_path_t *p = s_path(self, path);
    if (p)
        p->body_bytes += n;
    pthread_mutex_unlock(&self->mutex);
}

static void
s_send_simple(int fd, int status, const char *reason, const char *extra)
{
    char buf[2048];
    char body[128];
    int blen = snprintf(body, sizeof body, "%d %s\n", status, reason);
    int n = snprintf(buf, sizeof buf,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                     "%sConnection: close\r\n\r\n%s",
                     status, reason, blen, extra ? extra : "", body);
    s_send_all(fd, buf, (size_t)n);
}

static const char *
s_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Status";
    }
}

//  The value of header `name` in the request head, copied into out.
static bool
s_header(const char *head, const char *name, char *out, size_t size)
{
    size_t nl = strlen(name);
    for (const char *l = strstr(head, "\r\n"); l && l[2]; l = strstr(l + 2, "\r\n")) {
        const char *line = l + 2;
        if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            const char *end = strstr(v, "\r\n");
            size_t len = end ? (size_t)(end - v) : strlen(v);
            snprintf(out, size, "%.*s", (int)len, v);
            return true;
        }
    }
    return false;
}

static void
s_serve_generated(ss_httpd_t *self, int fd, const char *path, size_t bytes, bool with_length,
                  bool head)
{
    char hdr[256];
    int n = with_length ? snprintf(hdr, sizeof hdr,
                                   "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: "
                                   "close\r\n\r\n",
                                   bytes)
                        : snprintf(hdr, sizeof hdr, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
    if (s_send_all(fd, hdr, (size_t)n) < 0 || head)
        return;
    enum { CHUNK = 65536 };
    char *xs = malloc(CHUNK);
    if (!xs)
        return;
    memset(xs, 'x', CHUNK);
    for (size_t sent = 0; sent < bytes;) {
        size_t k = bytes - sent < CHUNK ? bytes - sent : CHUNK;
        if (s_send_all(fd, xs, k) < 0)
            break;
        sent += k;
        s_count_body(self, path, k);
    }
    free(xs);
}

static void
s_serve_file(ss_httpd_t *self, int fd, const char *path, const char *head_text, bool head)
{
    char file[4096];
    snprintf(file, sizeof file, "%s%s", self->root, path);
    int ffd = strstr(path, "..") ? -1 : open(file, O_RDONLY);
    struct stat st;
    if (ffd < 0 || fstat(ffd, &st) < 0 || !S_ISREG(st.st_mode)) {
        if (ffd >= 0)
            close(ffd);
        s_send_simple(fd, 404, "Not Found", NULL);
        return;
    }
    char etag[96], lm[64], want[512];
    snprintf(etag, sizeof etag, "\"%llx-%llx\"", (unsigned long long)st.st_size,
             (unsigned long long)st.st_mtim.tv_sec * 1000000000ull +
                 (unsigned long long)st.st_mtim.tv_nsec);
    struct tm tm;
    gmtime_r(&st.st_mtim.tv_sec, &tm);
    strftime(lm, sizeof lm, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    bool not_modified = false;
    if (s_header(head_text, "If-None-Match", want, sizeof want))
        not_modified = strcmp(want, etag) == 0 || strcmp(want, "*") == 0;
    else if (s_header(head_text, "If-Modified-Since", want, sizeof want)) {
        struct tm ims = {0};
        const char *end = strptime(want, "%a, %d %b %Y %H:%M:%S GMT", &ims);
        not_modified = end && st.st_mtim.tv_sec <= timegm(&ims);
    }
    char hdr[512];
    int n;
    if (not_modified) {
        n = snprintf(hdr, sizeof hdr,
                     "HTTP/1.1 304 Not Modified\r\nETag: %s\r\nLast-Modified: %s\r\n"
                     "Connection: close\r\n\r\n",
                     etag, lm);
        s_send_all(fd, hdr, (size_t)n);
        close(ffd);
        return;
    }
    n = snprintf(hdr, sizeof hdr,
                 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %lld\r\n"
                 "ETag: %s\r\nLast-Modified: %s\r\nConnection: close\r\n\r\n",
                 (long long)st.st_size, etag, lm);
    if (s_send_all(fd, hdr, (size_t)n) == 0 && !head) {
        char buf[65536];
        ssize_t k;
        while ((k = read(ffd, buf, sizeof buf)) > 0) {
            if (s_send_all(fd, buf, (size_t)k) < 0)
                break;
            s_count_body(self, path, (size_t)k);
        }
    }
    close(ffd);
}

//  Read the request head (up to the blank line); false on EOF, error,
//  overflow or server stop.
static bool
s_read_head(ss_httpd_t *self, int fd, char *buf, size_t size)
{
    size_t len = 0;
    while (len + 1 < size) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, 100);
        if (__atomic_load_n(&self->stop, __ATOMIC_SEQ_CST))
            return false;
        if (r <= 0)
            continue;
        ssize_t n = recv(fd, buf + len, size - 1 - len, 0);
        if (n <= 0)
            return false;
        len += (size_t)n;
        buf[len] = '\0';
        if (strstr(buf, "\r\n\r\n"))
            return true;
    }
    return false;
}

static void
s_handle(ss_httpd_t *self, int fd)
{
    char head[S_MAX_REQUEST];
    if (!s_read_head(self, fd, head, sizeof head))
        return;
    char method[16], target[1024];
    if (sscanf(head, "%15s %1023s", method, target) != 2) {
        s_send_simple(fd, 400, "Bad Request", NULL);
        return;
    }
    bool is_head = strcmp(method, "HEAD") == 0;
    if (!is_head && strcmp(method, "GET") != 0) {
        s_send_simple(fd, 405, "Method Not Allowed", NULL);
        return;
    }
    char *q = strchr(target, '?');
    if (q)
        *q = '\0';

    //  count, and copy the override, under the lock
    s_path_t ov = {0};
    pthread_mutex_lock(&self->mutex);
    s_path_t *p = s_path(self, target);
    if (p) {
        p->hits++;
        ov = *p;
    }
    pthread_cond_broadcast(&self->cond);
    if (ov.delay_ms > 0) {
        int64_t deadline = s_mono_ms() + ov.delay_ms;
        while (!self->stop && s_mono_ms() < deadline)
            s_wait_until(self, deadline);
    }
    bool stopping = self->stop;
    pthread_mutex_unlock(&self->mutex);
    if (stopping)
        return;

    if (ov.location[0]) {
        char extra[600];
        snprintf(extra, sizeof extra, "Location: %s\r\n", ov.location);
        s_send_simple(fd, 302, "Found", extra);
    } else if (ov.status)
        s_send_simple(fd, ov.status, s_reason(ov.status), NULL);
    else if (ov.body_size)
        s_serve_generated(self, fd, target, ov.body_size, ov.with_length, is_head);
    else
        s_serve_file(self, fd, target, head, is_head);
}

static void *
s_conn_main(void *arg)
{
    s_conn_t *c = arg;
    ss_httpd_t *self = c->server;
    s_handle(self, c->fd);
    shutdown(c->fd, SHUT_WR);
    close(c->fd);
    pthread_mutex_lock(&self->mutex);
    self->active--;
    pthread_cond_broadcast(&self->cond);
    pthread_mutex_unlock(&self->mutex);
    return NULL;
}

static void *
s_acceptor_main(void *arg)
{
    ss_httpd_t *self = arg;
    for (;;) {
        struct pollfd fds[2] = {{.fd = self->listen_fd, .events = POLLIN},
                                {.fd = self->wake[0], .events = POLLIN}};
        if (poll(fds, 2, -1) < 0 && errno != EINTR)
            break;
        if (fds[1].revents)
            break;
        if (!(fds[0].revents & POLLIN))
            continue;
        int fd = accept(self->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        s_conn_t *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->server = self;
        c->fd = fd;
        pthread_mutex_lock(&self->mutex);
        self->active++;
        if (pthread_create(&c->thread, NULL, s_conn_main, c) != 0) {
            self->active--;
            pthread_mutex_unlock(&self->mutex);
            close(fd);
            free(c);
            continue;
        }
        c->next = self->conns;
        self->conns = c;
        pthread_mutex_unlock(&self->mutex);
    }
    return NULL;
}

ss_httpd_t *
ss_httpd_new(const char *root, int port)
{
    ss_httpd_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->listen_fd = self->wake[0] = self->wake[1] = -1;
    pthread_mutex_init(&self->mutex, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&self->cond, &attr);
    pthread_condattr_destroy(&attr);
    self->root = strdup(root);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    int one = 1;
    self->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (!self->root || self->listen_fd < 0 || pipe2(self->wake, O_CLOEXEC) < 0 ||
        setsockopt(self->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(self->listen_fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        listen(self->listen_fd, 64) < 0 ||
        getsockname(self->listen_fd, (struct sockaddr *)&sa, &sl) < 0)
        goto fail;
    self->port = ntohs(sa.sin_port);
    if (pthread_create(&self->acceptor, NULL, s_acceptor_main, self) != 0)
        goto fail;
    self->acceptor_started = true;
    return self;
fail:
    ss_httpd_destroy(&self);
    return NULL;
}

void
ss_httpd_destroy(ss_httpd_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ss_httpd_t *self = *self_p;
    pthread_mutex_lock(&self->mutex);
    __atomic_store_n(&self->stop, true, __ATOMIC_SEQ_CST);
    pthread_cond_broadcast(&self->cond);
    pthread_mutex_unlock(&self->mutex);
    if (self->acceptor_started) {
        if (write(self->wake[1], "x", 1) < 0) {
            //  the pipe cannot be full: one byte is ever written
        }
        pthread_join(self->acceptor, NULL);
    }
    //  the acceptor is gone, so the list no longer grows
    for (s_conn_t *c = self->conns, *next; c; c = next) {
        next = c->next;
        pthread_join(c->thread, NULL);
        free(c);
    }
    if (self->listen_fd >= 0)
        close(self->listen_fd);
    for (int i = 0; i < 2; i++)
        if (self->wake[i] >= 0)
            close(self->wake[i]);
    pthread_cond_destroy(&self->cond);
    pthread_mutex_destroy(&self->mutex);
    free(self->root);
    free(self);
    *self_p = NULL;
}

int
ss_httpd_port(ss_httpd_t *self)
{
    return self->port;
}

const char *
ss_httpd_url(ss_httpd_t *self, const char *path)
{
    snprintf(self->url, sizeof self->url, "http://127.0.0.1:%d%s", self->port, path);
    return self->url;
}

//  path's entry with the mutex held (NULL when the table is full); the
//  caller ends with s_unlock.
static s_path_t *
s_lock_path(ss_httpd_t *self, const char *path)
{
    pthread_mutex_lock(&self->mutex);
    return s_path(self, path);
}

static void
s_unlock(ss_httpd_t *self)
{
    pthread_mutex_unlock(&self->mutex);
}

void
ss_httpd_set_status(ss_httpd_t *self, const char *path, int status)
{
    s_path_t *p = s_lock_path(self, path);
    if (p)
        p->status = status;
    s_unlock(self);
}

void
ss_httpd_set_redirect(ss_httpd_t *self, const char *path, const char *location)
{
    s_path_t *p = s_lock_path(self, path);
    if (p)
        snprintf(p->location, sizeof p->location, "%s", location);
    s_unlock(self);
}

void
ss_httpd_set_delay(ss_httpd_t *self, const char *path, int64_t delay_ms)
{
    s_path_t *p = s_lock_path(self, path);
    if (p)
        p->delay_ms = delay_ms;
    s_unlock(self);
}

void
ss_httpd_set_body_size(ss_httpd_t *self, const char *path, size_t bytes, int with_length)
{
    s_path_t *p = s_lock_path(self, path);
    if (p) {
        p->body_size = bytes;
        p->with_length = with_length != 0;
    }
    s_unlock(self);
}

int
ss_httpd_hits(ss_httpd_t *self, const char *path)
{
    s_path_t *p = s_lock_path(self, path);
    int n = p ? p->hits : 0;
    s_unlock(self);
    return n;
}

size_t
ss_httpd_body_bytes(ss_httpd_t *self, const char *path)
{
    s_path_t *p = s_lock_path(self, path);
    size_t n = p ? p->body_bytes : 0;
    s_unlock(self);
    return n;
}

void
ss_httpd_reset_counts(ss_httpd_t *self)
{
    pthread_mutex_lock(&self->mutex);
    for (size_t i = 0; i < self->path_count; i++) {
        self->paths[i].hits = 0;
        self->paths[i].body_bytes = 0;
    }
    pthread_mutex_unlock(&self->mutex);
}

int
ss_httpd_wait_hits(ss_httpd_t *self, const char *path, int n, int64_t timeout_ms)
{
    int64_t deadline = s_mono_ms() + timeout_ms;
    int rc = -1;
    pthread_mutex_lock(&self->mutex);
    for (;;) {
        s_path_t *p = s_path(self, path);
        if (p && p->hits >= n) {
            rc = 0;
            break;
        }
        if (s_mono_ms() >= deadline)
            break;
        s_wait_until(self, deadline);
    }
    pthread_mutex_unlock(&self->mutex);
    return rc;
}

int
ss_httpd_wait_idle(ss_httpd_t *self, int64_t timeout_ms)
{
    int64_t deadline = s_mono_ms() + timeout_ms;
    pthread_mutex_lock(&self->mutex);
    while (self->active > 0 && s_mono_ms() < deadline)
        s_wait_until(self, deadline);
    int rc = self->active > 0 ? -1 : 0;
    pthread_mutex_unlock(&self->mutex);
    return rc;
}
