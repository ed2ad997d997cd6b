/*  ssfetch: status mapping, retries, limits, revalidation and file://,
    against the loopback test server serving testdata/simplestreams/; and
    https:// against a real TLS server, `openssl s_server -WWW`, started as
    a child with throwaway self-signed certificates (see "HTTPS" below). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "simplestreams/ssfetch.h"
#include "ss_httpd.h"
#include "unit/ssfetch_data.h"

#define INDEX_2016 "/real/cloud-images.ubuntu.com/releases-20161104/streams/v1/index.sjson"

typedef struct {
    ss_httpd_t *httpd;
    en_ssfetch_t *fetch;
    char root[1024];
} fixture_t;

static int
setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    const char *shared = getenv("EN_SHARED_DIR");
    snprintf(f->root, sizeof f->root, "%s/testdata/simplestreams", shared ? shared : "../shared");
    f->httpd = ss_httpd_new(f->root, 0);
    assert_non_null(f->httpd);
    en_err_t err = {0};
    f->fetch = en_ssfetch_new(NULL, &err);
    assert_non_null(f->fetch);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture_t *f = *state;
    en_ssfetch_destroy(&f->fetch);
    ss_httpd_destroy(&f->httpd);
    free(f);
    return 0;
}

static char *
url_of(fixture_t *f, const char *path)
{
    return strdup(ss_httpd_url(f->httpd, path));
}

static void
fetch_200_returns_body_and_validators(void **state)
{
    fixture_t *f = *state;
    size_t len;
    char *want = ss_read(INDEX_2016 + 1, &len);
    char *url = url_of(f, INDEX_2016);
    en_ssfetch_result_t r;
    en_err_t err = {0};
    assert_int_equal(en_ssfetch_get(f->fetch, url, NULL, &r, &err), 0);
    assert_int_equal(r.status, 200);
    assert_false(r.not_modified);
    assert_int_equal(r.len, len);
    assert_memory_equal(r.body, want, len);
    assert_non_null(r.etag);
    assert_non_null(r.last_modified);
    assert_string_equal(r.effective_url, url);
    assert_int_equal(r.attempts, 1);
    assert_int_equal(ss_httpd_hits(f->httpd, INDEX_2016), 1);
    en_ssfetch_result_free(&r);
    assert_null(r.body);
    free(url);
    free(want);
}

static void
fetch_404_is_not_found_and_not_retried(void **state)
{
    fixture_t *f = *state;
    char *url = url_of(f, "/streams/v1/nope.json");
    en_ssfetch_result_t r;
    en_err_t err = {0};
    assert_int_equal(en_ssfetch_get(f->fetch, url, NULL, &r, &err), -1);
    assert_int_equal(err.kind, EN_NOT_FOUND);
    char want[600];
    snprintf(want, sizeof want, "cannot find URL \"%s\"", url);
    assert_string_equal(err.message, want);
    assert_null(r.body);
    assert_int_equal(ss_httpd_hits(f->httpd, "/streams/v1/nope.json"), 1);
    free(url);
}

static void
fetch_401_and_403_are_unauthorized_and_not_retried(void **state)
{
    fixture_t *f = *state;
    ss_httpd_set_status(f->httpd, "/private/401.json", 401);
    ss_httpd_set_status(f->httpd, "/private/403.json", 403);
    en_ssfetch_result_t r;
    en_err_t err = {0};
    char want[600];

    char *url = url_of(f, "/private/401.json");
    assert_int_equal(en_ssfetch_get(f->fetch, url, NULL, &r, &err), -1);
    assert_int_equal(err.kind, EN_UNAUTHORIZED);
    snprintf(want, sizeof want, "unauthorised access to URL \"%s\"", url);
    assert_string_equal(err.message, want);
    assert_int_equal(ss_httpd_hits(f->httpd, "/private/401.json"), 1);
    free(url);

    url = url_of(f, "/private/403.json");
    assert_int_equal(en_ssfetch_get(f->fetch, url, NULL, &r, &err), -1);
    assert_int_equal(err.kind, EN_UNAUTHORIZED);
    snprintf(want, sizeof want, "unauthorised access to URL \"%s\", \"403 Forbidden\"", url);
    assert_string_equal(err.message, want);
    assert_int_equal(ss_httpd_hits(f->httpd, "/private/403.json"), 1);
    free(url);
}

static void
fetch_500_is_retried_three_times_then_unavailable(void **state)
{
    fixture_t *f = *state;
    ss_httpd_set_status(f->httpd, "/broken.json", 500);
    char *url = url_of(f, "/broken.json");
    en_ssfetch_result_t r;
    en_err_t err = {0};
    assert_int_equal(en_ssfetch_get(f->fetch, url, NULL, &r, &err), -1);
    assert_int_equal(err.kind, EN_UNAVAILABLE);
    assert_true(err.retryable);
    char want[600];
    snprintf(want, sizeof want, "cannot access URL \"%s\", \"500 Internal Server Error\"", url);
    assert_string_equal(err.message, want);
    assert_int_equal(ss_httpd_hits(f->httpd, "/broken.json"), 3);
    free(url);
}

static void
fetch_attempts_option_limits_retries(void **state)
{
    fixture_t *f = *state;
    //  attempts = 1: one GET, no retry; the same fetcher works once the path recovers
    en_ssfetch_opts_t o = {.attempts = 1};
    en_err_t err = {0};
    en_ssfetch_t *once = en_ssfetch_new(&o, &err);
    ss_httpd_set_status(f->httpd, INDEX_2016, 503);
    char *url = url_of(f, INDEX_2016);
    en_ssfetch_result_t r;
    assert_int_equal(en_ssfetch_get(once, url, NULL, &r, &err), -1);
    assert_int_equal(ss_httpd_hits(f->httpd, INDEX_2016), 1);
    ss_httpd_set_status(f->httpd, INDEX_2016, 0);
    assert_int_equal(en_ssfetch_get(once, url, NULL, &r, &err), 0);
    assert_int_equal(r.attempts, 1);
    en_ssfetch_result_free(&r);
    en_ssfetch_destroy(&once);
    free(url);
}

static void
fetch_file_url_reads_and_maps_missing_to_not_found(void **state)
{
    fixture_t *f = *state;
    size_t len;
    char *want = ss_read(INDEX_2016 + 1, &len);
    char url[1200];
    snprintf(url, sizeof url, "file://%s%s", f->root, INDEX_2016);
    en_ssfetch_result_t r;
    en_err_t err = {0};
    assert_int_equal(en_ssfetch_get(f->fetch, url, NULL, &r, &err), 0);
    assert_int_equal(r.len, len);
    assert_memory_equal(r.body, want, len);
    en_ssfetch_result_free(&r);

    snprintf(url, sizeof url, "file://%s/streams/v1/missing.sjson", f->root);
    assert_int_equal(en_ssfetch_get(f->fetch, url, NULL, &r, &err), -1);
    assert_int_equal(err.kind, EN_NOT_FOUND);
    char msg[1300];
    snprintf(msg, sizeof msg, "cannot find URL \"%s\"", url);
    assert_string_equal(err.message, msg);
    free(want);
}

//  /hop0 -> /hop1 -> ... -> /hop<n-1> -> INDEX_2016
static void
make_chain(fixture_t *f, int n)
{
    for (int i = 0; i < n; i++) {
        char path[32], next[32];
        snprintf(path, sizeof path, "/hop%d", i);
        snprintf(next, sizeof next, "/hop%d", i + 1);
        ss_httpd_set_redirect(f->httpd, path, i + 1 < n ? next : INDEX_2016);
    }
}

static void
fetch_follows_redirects_up_to_the_limit(void **state)
{
    fixture_t *f = *state;
    make_chain(f, 5);
    en_ssfetch_opts_t o = {.max_redirects = 3};
    en_err_t err = {0};
    en_ssfetch_t *strict = en_ssfetch_new(&o, &err);
    char *url = url_of(f, "/hop0");
    en_ssfetch_result_t r;
    assert_int_equal(en_ssfetch_get(strict, url, NULL, &r, &err), -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
    char want[600];
    snprintf(want, sizeof want, "cannot access URL \"%s\": stopped after 3 redirects", url);
    assert_string_equal(err.message, want);
    assert_int_equal(ss_httpd_hits(f->httpd, "/hop0"), 1); //  not retried
    assert_int_equal(ss_httpd_hits(f->httpd, "/hop3"), 1);
    assert_int_equal(ss_httpd_hits(f->httpd, "/hop4"), 0);

    //  the default limit (10) gets through the same chain
    assert_int_equal(en_ssfetch_get(f->fetch, url, NULL, &r, &err), 0);
    assert_int_equal(r.status, 200);
    char *final = url_of(f, INDEX_2016);
    assert_string_equal(r.effective_url, final);
    en_ssfetch_result_free(&r);
    en_ssfetch_destroy(&strict);
    free(final);
    free(url);
}

static void
fetch_size_limit_aborts_the_transfer(void **state)
{
    fixture_t *f = *state;
    const size_t limit = 1 << 20;
    en_ssfetch_opts_t o = {.max_size = limit};
    en_err_t err = {0};
    en_ssfetch_t *small = en_ssfetch_new(&o, &err);
    en_ssfetch_result_t r;
    char want[600];

    //  declared too big: refused from Content-Length
    ss_httpd_set_body_size(f->httpd, "/big-declared.json", 4 << 20, 1);
    char *url = url_of(f, "/big-declared.json");
    assert_int_equal(en_ssfetch_get(small, url, NULL, &r, &err), -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
    snprintf(want, sizeof want, "URL \"%s\": body exceeds the size limit of 1048576 bytes", url);
    assert_string_equal(err.message, want);
    assert_int_equal(ss_httpd_hits(f->httpd, "/big-declared.json"), 1);
    free(url);

    //  no length: cut off once the bytes pass the limit, long before the end
    const size_t huge = (size_t)256 << 20;
    ss_httpd_set_body_size(f->httpd, "/big-streamed.json", huge, 0);
    url = url_of(f, "/big-streamed.json");
    assert_int_equal(en_ssfetch_get(small, url, NULL, &r, &err), -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
    snprintf(want, sizeof want, "URL \"%s\": body exceeds the size limit of 1048576 bytes", url);
    assert_string_equal(err.message, want);
    assert_int_equal(ss_httpd_wait_idle(f->httpd, 10000), 0);
    assert_true(ss_httpd_body_bytes(f->httpd, "/big-streamed.json") < huge / 4);
    free(url);

    //  a body right at the limit is fine
    ss_httpd_set_body_size(f->httpd, "/at-limit.json", limit, 0);
    url = url_of(f, "/at-limit.json");
    assert_int_equal(en_ssfetch_get(small, url, NULL, &r, &err), 0);
    assert_int_equal(r.len, limit);
    en_ssfetch_result_free(&r);
    free(url);
    en_ssfetch_destroy(&small);
}

static void
fetch_times_out_and_retries(void **state)
{
    fixture_t *f = *state;
    ss_httpd_set_delay(f->httpd, "/slow.json", 30000);
    en_ssfetch_opts_t o = {.timeout_ms = 300};
    en_err_t err = {0};
    en_ssfetch_t *quick = en_ssfetch_new(&o, &err);
    char *url = url_of(f, "/slow.json");
    en_ssfetch_result_t r;
    int64_t t0 = en_mono_ms();
    assert_int_equal(en_ssfetch_get(quick, url, NULL, &r, &err), -1);
    int64_t took = en_mono_ms() - t0;
    assert_int_equal(err.kind, EN_TIMEOUT);
    char want[600];
    snprintf(want, sizeof want, "cannot access URL \"%s\": timed out after 300ms", url);
    assert_memory_equal(err.message, want, strlen(want));
    assert_int_equal(ss_httpd_hits(f->httpd, "/slow.json"), 3);
    assert_true(took >= 900 && took < 10000);
    en_ssfetch_destroy(&quick);
    free(url);
}

static void
fetch_revalidates_with_etag_and_last_modified(void **state)
{
    fixture_t *f = *state;
    char *url = url_of(f, INDEX_2016);
    en_ssfetch_result_t first, r;
    en_err_t err = {0};
    assert_int_equal(en_ssfetch_get(f->fetch, url, NULL, &first, &err), 0);

    en_ssfetch_validators_t by_etag = {.etag = first.etag};
    assert_int_equal(en_ssfetch_get(f->fetch, url, &by_etag, &r, &err), 0);
    assert_true(r.not_modified);
    assert_int_equal(r.status, 304);
    assert_null(r.body);
    assert_int_equal(r.len, 0);
    assert_string_equal(r.etag, first.etag);
    en_ssfetch_result_free(&r);

    en_ssfetch_validators_t by_date = {.last_modified = first.last_modified};
    assert_int_equal(en_ssfetch_get(f->fetch, url, &by_date, &r, &err), 0);
    assert_true(r.not_modified);
    assert_null(r.body);
    assert_string_equal(r.last_modified, first.last_modified);
    en_ssfetch_result_free(&r);

    //  a stale ETag gets the body and the current validators
    en_ssfetch_validators_t stale = {.etag = "\"stale\"", .last_modified = first.last_modified};
    assert_int_equal(en_ssfetch_get(f->fetch, url, &stale, &r, &err), 0);
    assert_false(r.not_modified);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, first.len);
    assert_string_equal(r.etag, first.etag);
    en_ssfetch_result_free(&r);

    //  an old date gets the body too
    en_ssfetch_validators_t old = {.last_modified = "Thu, 01 Jan 1970 00:00:00 GMT"};
    assert_int_equal(en_ssfetch_get(f->fetch, url, &old, &r, &err), 0);
    assert_false(r.not_modified);
    assert_int_equal(r.len, first.len);
    en_ssfetch_result_free(&r);

    assert_int_equal(ss_httpd_hits(f->httpd, INDEX_2016), 5);
    en_ssfetch_result_free(&first);
    free(url);
}

//  A loopback port that was free a moment ago.
static int
s_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

static void
fetch_unreachable_port_is_unavailable(void **state)
{
    fixture_t *f = *state;
    //  no listener there
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/streams/v1/index.json", s_free_port());
    en_ssfetch_result_t r;
    en_err_t err = {0};
    assert_int_equal(en_ssfetch_get(f->fetch, url, NULL, &r, &err), -1);
    assert_int_equal(err.kind, EN_UNAVAILABLE);
    char want[200];
    snprintf(want, sizeof want, "cannot access URL \"%s\": ", url);
    assert_memory_equal(err.message, want, strlen(want));
    assert_non_null(strstr(err.message, "onnect")); //  curl's reason
}

static void
url_join_matches_juju(void **state)
{
    (void)state;
    struct {
        const char *base, *path, *want;
    } cases[] = {
        {"http://h/releases", "streams/v1/index.json", "http://h/releases/streams/v1/index.json"},
        {"http://h/releases/", "streams/v1/index.json", "http://h/releases/streams/v1/index.json"},
        {"file:///srv/images", "streams/v1/x.sjson", "file:///srv/images/streams/v1/x.sjson"},
        {"http://h", "", "http://h/"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = en_ssfetch_url_join(cases[i].base, cases[i].path);
        assert_string_equal(got, cases[i].want);
        free(got);
    }
}

/*  HTTPS. Each test gets a temporary directory holding certificates made
    with `openssl req`, server logs, and www/, which `openssl s_server -WWW`
    serves (it resolves paths against its working directory) on a free
    loopback port. openssl is a test dependency installed by
    scripts/deps.sh: when it is missing each test fails loudly, none
    skips. */

#define TLS_PATH "/hello.bin"
#define TLS_MAX_SERVERS 2
//  binary-safe: a NUL and a CRLF must come back byte for byte
static const char s_tls_body[] = "hello over TLS\0with a NUL\r\nand a CRLF\n";
#define TLS_BODY_LEN (sizeof s_tls_body - 1)

typedef struct {
    pid_t pid;
    int port;
    char log[320];
} tls_server_t;

typedef struct {
    char dir[256]; //  mkdtemp: <name>.pem, <name>.key, *.log, www/
    tls_server_t servers[TLS_MAX_SERVERS];
    int nservers;
} tls_fixture_t;

//  fork + execvp argv in cwd, stdin from /dev/null, stdout and stderr
//  appended to log; the child's pid. The child dies with the test
//  (PDEATHSIG), so a crashed test leaves no server behind. A failed exec
//  (openssl not installed) fails the test: the child sends its errno back
//  over a close-on-exec pipe, whose EOF means the exec happened.
static pid_t
s_spawn(char *const argv[], const char *cwd, const char *log)
{
    int pfd[2];
    assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
    pid_t p = fork();
    assert_true(p >= 0);
    if (p == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        int in = open("/dev/null", O_RDONLY);
        if (out >= 0 && in >= 0 && dup2(in, 0) >= 0 && dup2(out, 1) >= 0 && dup2(out, 2) >= 0 &&
            chdir(cwd) == 0)
            execvp(argv[0], argv);
        int e = errno;
        ssize_t w = write(pfd[1], &e, sizeof e);
        (void)w;
        _exit(127);
    }
    close(pfd[1]);
    int e = 0;
    ssize_t n;
    do
        n = read(pfd[0], &e, sizeof e);
    while (n < 0 && errno == EINTR);
    close(pfd[0]);
    if (n == (ssize_t)sizeof e) {
        waitpid(p, NULL, 0);
        fail_msg("cannot run %s (%s): it is a test dependency, install it with scripts/deps.sh",
                 argv[0], strerror(e));
    }
    return p;
}

static void
s_dump(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    fprintf(stderr, "---- %s\n", path);
    char line[512];
    while (fgets(line, sizeof line, f))
        fputs(line, stderr);
    fclose(f);
}

//  Run openssl with args (argv[0] is "openssl") to completion; fails the
//  test unless it exits 0.
static void
s_openssl(tls_fixture_t *t, char *const argv[])
{
    char log[320];
    snprintf(log, sizeof log, "%s/openssl.log", t->dir);
    pid_t pid = s_spawn(argv, t->dir, log);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        s_dump(log);
        fail_msg("openssl %s failed (wait status %d)", argv[1], status);
    }
}

//  A self-signed P-256 certificate <dir>/<name>.pem (and .key) for cn, with
//  san as its subjectAltName, valid for a day.
static void
s_make_cert(tls_fixture_t *t, const char *name, const char *cn, const char *san)
{
    char subj[64], ext[96], key[320], crt[320];
    snprintf(subj, sizeof subj, "/CN=%s", cn);
    snprintf(ext, sizeof ext, "subjectAltName=%s", san);
    snprintf(key, sizeof key, "%s/%s.key", t->dir, name);
    snprintf(crt, sizeof crt, "%s/%s.pem", t->dir, name);
    char *argv[] = {
        "openssl", "req",   "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes",  "-days", "1",     "-subj",   subj, "-addext",  ext,
        "-keyout", key,     "-out",  crt,       NULL};
    s_openssl(t, argv);
}

static char *
s_cert_path(tls_fixture_t *t, const char *name)
{
    char *path = malloc(320);
    snprintf(path, 320, "%s/%s.pem", t->dir, name);
    return path;
}

static bool
s_connects(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

//  Poll connect() until the server accepts, at most timeout_ms. Between
//  tries the wait is a poll on the server's pidfd, so a server that exits
//  (port taken, bad key) fails the test at once with its log.
static void
s_wait_accepting(tls_server_t *s, int timeout_ms)
{
    int pidfd = (int)syscall(SYS_pidfd_open, s->pid, 0);
    assert_true(pidfd >= 0);
    int64_t deadline = en_mono_ms() + timeout_ms;
    while (!s_connects(s->port)) {
        struct pollfd p = {.fd = pidfd, .events = POLLIN};
        bool exited = poll(&p, 1, 10) > 0;
        if (exited || en_mono_ms() > deadline) {
            close(pidfd);
            s_dump(s->log);
            fail_msg("openssl s_server on 127.0.0.1:%d %s", s->port,
                     exited ? "exited before accepting" : "not accepting in time");
        }
    }
    close(pidfd);
}

//  Start `openssl s_server -WWW` on a free port with <cert>.pem/.key,
//  serving <dir>/www.
static tls_server_t *
s_tls_serve(tls_fixture_t *t, const char *cert)
{
    assert_true(t->nservers < TLS_MAX_SERVERS);
    tls_server_t *s = &t->servers[t->nservers];
    s->port = s_free_port();
    char accept[32], key[320], crt[320], www[300];
    snprintf(accept, sizeof accept, "127.0.0.1:%d", s->port);
    snprintf(key, sizeof key, "%s/%s.key", t->dir, cert);
    snprintf(crt, sizeof crt, "%s/%s.pem", t->dir, cert);
    snprintf(www, sizeof www, "%s/www", t->dir);
    char log[sizeof s->log]; //  via a local: gcc cannot tell cert from *t (-Wrestrict)
    snprintf(log, sizeof log, "%s/s_server-%s.log", t->dir, cert);
    memcpy(s->log, log, sizeof log);
    char *argv[] = {"openssl", "s_server", "-WWW", "-accept", accept,
                    "-cert",   crt,        "-key", key,       NULL};
    s->pid = s_spawn(argv, www, s->log);
    t->nservers++;
    s_wait_accepting(s, 10000);
    return s;
}

static char *
s_tls_url(const char *host, tls_server_t *s, const char *path)
{
    char *url = malloc(128);
    snprintf(url, 128, "https://%s:%d%s", host, s->port, path);
    return url;
}

//  How many times needle occurs in the file at path.
static int
s_count_in_file(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int n = 0;
    char line[1024];
    while (fgets(line, sizeof line, f))
        if (strstr(line, needle))
            n++;
    fclose(f);
    return n;
}

//  The usual server: a certificate for 127.0.0.1 ("ip") served on one port.
//  Started by the test, not the setup, so that a failure (no openssl)
//  still runs the teardown that removes the directory.
static tls_server_t *
s_tls_start(tls_fixture_t *t)
{
    s_make_cert(t, "ip", "127.0.0.1", "IP:127.0.0.1");
    return s_tls_serve(t, "ip");
}

static int
tls_setup(void **state)
{
    tls_fixture_t *t = calloc(1, sizeof *t);
    assert_non_null(t);
    *state = t;
    const char *tmp = getenv("TMPDIR");
    snprintf(t->dir, sizeof t->dir, "%s/ssfetch-tls-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(t->dir));
    char path[320];
    snprintf(path, sizeof path, "%s/www", t->dir);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/www%s", t->dir, TLS_PATH);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(s_tls_body, 1, TLS_BODY_LEN, f), TLS_BODY_LEN);
    fclose(f);
    return 0;
}

static int
s_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int
tls_teardown(void **state)
{
    tls_fixture_t *t = *state;
    for (int i = 0; i < t->nservers; i++) {
        kill(t->servers[i].pid, SIGTERM);
        waitpid(t->servers[i].pid, NULL, 0);
    }
    if (t->dir[0])
        nftw(t->dir, s_rm, 8, FTW_DEPTH | FTW_PHYS);
    free(t);
    return 0;
}

static en_ssfetch_t *
s_tls_fetcher(const en_ssfetch_opts_t *o)
{
    en_err_t err = {0};
    en_ssfetch_t *fetch = en_ssfetch_new(o, &err);
    if (!fetch)
        fail_msg("en_ssfetch_new: %s", err.message);
    return fetch;
}

static void
https_with_ca_file_returns_exact_bytes(void **state)
{
    tls_fixture_t *t = *state;
    tls_server_t *s = s_tls_start(t);
    char *ca = s_cert_path(t, "ip");
    en_ssfetch_opts_t o = {.ca_file = ca};
    en_ssfetch_t *fetch = s_tls_fetcher(&o);
    char *url = s_tls_url("127.0.0.1", s, TLS_PATH);
    en_ssfetch_result_t r;
    en_err_t err = {0};
    int rc = en_ssfetch_get(fetch, url, NULL, &r, &err);
    if (rc != 0)
        fail_msg("GET %s: %s", url, err.message);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, TLS_BODY_LEN);
    assert_memory_equal(r.body, s_tls_body, TLS_BODY_LEN);
    assert_string_equal(r.effective_url, url);
    assert_int_equal(r.attempts, 1);
    en_ssfetch_result_free(&r);
    en_ssfetch_destroy(&fetch);
    free(url);
    free(ca);
}

static void
https_untrusted_cert_fails_naming_the_url(void **state)
{
    tls_fixture_t *t = *state;
    tls_server_t *s = s_tls_start(t);
    en_ssfetch_t *fetch = s_tls_fetcher(NULL); //  system CAs only
    char *url = s_tls_url("127.0.0.1", s, TLS_PATH);
    en_ssfetch_result_t r;
    en_err_t err = {0};
    assert_int_equal(en_ssfetch_get(fetch, url, NULL, &r, &err), -1);
    assert_null(r.body);
    char want[200];
    snprintf(want, sizeof want, "cannot access URL \"%s\": ", url);
    assert_memory_equal(err.message, want, strlen(want));
    assert_non_null(strstr(err.message, "SSL certificate problem: self-signed certificate"));
    //  A certificate failure is not an outage: the answer cannot change
    //  between attempts, so it is NOT_VALID and tried once — one
    //  handshake, refused by the client with an "unknown ca" alert that
    //  the server logs.
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_false(err.retryable);
    assert_int_equal(r.attempts, 1);
    //  the server logs the alert after the client has gone: wait for it
    int64_t deadline = en_mono_ms() + 5000;
    while (s_count_in_file(s->log, "alert unknown ca") < 1 && en_mono_ms() < deadline)
        poll(NULL, 0, 10);
    assert_int_equal(s_count_in_file(s->log, "alert unknown ca"), 1);
    en_ssfetch_destroy(&fetch);
    free(url);
}

static void
https_insecure_skips_verification(void **state)
{
    tls_fixture_t *t = *state;
    tls_server_t *s = s_tls_start(t);
    en_ssfetch_opts_t o = {.insecure = true};
    en_ssfetch_t *fetch = s_tls_fetcher(&o);
    char *url = s_tls_url("127.0.0.1", s, TLS_PATH);
    en_ssfetch_result_t r;
    en_err_t err = {0};
    int rc = en_ssfetch_get(fetch, url, NULL, &r, &err);
    if (rc != 0)
        fail_msg("GET %s: %s", url, err.message);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, TLS_BODY_LEN);
    assert_memory_equal(r.body, s_tls_body, TLS_BODY_LEN);
    en_ssfetch_result_free(&r);
    en_ssfetch_destroy(&fetch);
    free(url);
}

static void
https_cert_for_another_name_fails_host_verification(void **state)
{
    tls_fixture_t *t = *state;
    s_make_cert(t, "localhost", "localhost", "DNS:localhost");
    tls_server_t *s = s_tls_serve(t, "localhost");
    char *ca = s_cert_path(t, "localhost");
    en_ssfetch_opts_t o = {.ca_file = ca};
    en_ssfetch_t *fetch = s_tls_fetcher(&o);
    en_ssfetch_result_t r;
    en_err_t err = {0};

    //  trusted, but issued for localhost, not 127.0.0.1
    char *url = s_tls_url("127.0.0.1", s, "/");
    assert_int_equal(en_ssfetch_get(fetch, url, NULL, &r, &err), -1);
    assert_null(r.body);
    assert_int_equal(err.kind, EN_NOT_VALID); //  as for an untrusted cert, see above
    assert_false(err.retryable);
    char want[200];
    snprintf(want, sizeof want, "cannot access URL \"%s\": ", url);
    assert_memory_equal(err.message, want, strlen(want));
    assert_non_null(strstr(err.message, "no alternative certificate subject name matches target "
                                        "host name '127.0.0.1'"));
    free(url);

    //  the control: the same CA and server under the name the cert is for
    url = s_tls_url("localhost", s, TLS_PATH);
    int rc = en_ssfetch_get(fetch, url, NULL, &r, &err);
    if (rc != 0)
        fail_msg("GET %s: %s", url, err.message);
    assert_int_equal(r.len, TLS_BODY_LEN);
    assert_memory_equal(r.body, s_tls_body, TLS_BODY_LEN);
    en_ssfetch_result_free(&r);
    en_ssfetch_destroy(&fetch);
    free(url);
    free(ca);
}

int
main(void)
{
    setenv("ENVIRONS_RETRY_SCALE", "0.01", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(fetch_200_returns_body_and_validators, setup, teardown),
        cmocka_unit_test_setup_teardown(fetch_404_is_not_found_and_not_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(fetch_401_and_403_are_unauthorized_and_not_retried, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(fetch_500_is_retried_three_times_then_unavailable, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(fetch_attempts_option_limits_retries, setup, teardown),
        cmocka_unit_test_setup_teardown(fetch_file_url_reads_and_maps_missing_to_not_found, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(fetch_follows_redirects_up_to_the_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(fetch_size_limit_aborts_the_transfer, setup, teardown),
        cmocka_unit_test_setup_teardown(fetch_times_out_and_retries, setup, teardown),
        cmocka_unit_test_setup_teardown(fetch_revalidates_with_etag_and_last_modified, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(fetch_unreachable_port_is_unavailable, setup, teardown),
        cmocka_unit_test(url_join_matches_juju),
    };
    const struct CMUnitTest https[] = {
        cmocka_unit_test_setup_teardown(https_with_ca_file_returns_exact_bytes, tls_setup,
                                        tls_teardown),
        cmocka_unit_test_setup_teardown(https_untrusted_cert_fails_naming_the_url, tls_setup,
                                        tls_teardown),
        cmocka_unit_test_setup_teardown(https_insecure_skips_verification, tls_setup, tls_teardown),
        cmocka_unit_test_setup_teardown(https_cert_for_another_name_fails_host_verification,
                                        tls_setup, tls_teardown),
    };
    int failed = cmocka_run_group_tests_name("ssfetch", tests, NULL, NULL);
    return failed + cmocka_run_group_tests_name("ssfetch https", https, NULL, NULL);
}
