/*  ss_httpd.h — a small loopback HTTP/1.1 server for simplestreams tests.

    Serves a directory on 127.0.0.1 (port 0 → the kernel picks; ask
    ss_httpd_port). Every file answers GET with an ETag and a
    Last-Modified and answers 304 to a matching If-None-Match or a not
    older If-Modified-Since. Per-path overrides make a path misbehave:
    a fixed status, a redirect, a delay before the answer, or a generated
    oversized body. The server counts requests per path and signals a
    condition variable on each, so tests wait on the server's own state
    (ss_httpd_wait_hits, ss_httpd_wait_idle) and never sleep.

    It runs as an acceptor thread plus one thread per connection (so a
    slow path does not hold up the others); every response closes its
    connection. Tests only: no TLS, GET and HEAD only, paths are matched
    after the query is dropped and before percent-decoding (tests use
    plain names). */
#ifndef EN_SS_HTTPD_H
#define EN_SS_HTTPD_H

#include <stddef.h>
#include <stdint.h>

typedef struct ss_httpd ss_httpd_t;

//  Start serving root (a directory) on 127.0.0.1:port (0 = any free
//  port). NULL when the socket or thread cannot be made.
ss_httpd_t *ss_httpd_new(const char *root, int port);
//  Stop, wake delayed responses, join every thread, free. Idempotent.
void ss_httpd_destroy(ss_httpd_t **self_p);

int ss_httpd_port(ss_httpd_t *self);
//  "http://127.0.0.1:<port>" + path (path should start with "/"); the
//  buffer is the server's and is overwritten by the next call.
const char *ss_httpd_url(ss_httpd_t *self, const char *path);

//  Overrides for one exact request path ("/streams/v1/index.json"). A
//  later call for the same path updates the same entry.
//  Answer with this status (and a short text body) instead of the file.
void ss_httpd_set_status(ss_httpd_t *self, const char *path, int status);
//  Answer 302 with Location: location (a path or a full URL).
void ss_httpd_set_redirect(ss_httpd_t *self, const char *path, const char *location);
//  Wait delay_ms before answering (the wait ends early when the server
//  stops).
void ss_httpd_set_delay(ss_httpd_t *self, const char *path, int64_t delay_ms);
//  Answer 200 with `bytes` bytes of 'x'; with_length = 0 sends no
//  Content-Length (the body ends when the connection closes).
void ss_httpd_set_body_size(ss_httpd_t *self, const char *path, size_t bytes, int with_length);

//  Requests received for path so far (counted when the request line is
//  read, before the answer).
int ss_httpd_hits(ss_httpd_t *self, const char *path);
//  Bytes of body written for path so far (all requests).
size_t ss_httpd_body_bytes(ss_httpd_t *self, const char *path);
//  Reset every counter.
void ss_httpd_reset_counts(ss_httpd_t *self);
//  Wait until path has at least n hits: 0, or -1 after timeout_ms.
int ss_httpd_wait_hits(ss_httpd_t *self, const char *path, int n, int64_t timeout_ms);
//  Wait until no connection is being served: 0, or -1 after timeout_ms.
int ss_httpd_wait_idle(ss_httpd_t *self, int64_t timeout_ms);

#endif
