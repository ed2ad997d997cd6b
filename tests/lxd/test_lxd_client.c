/*  The LXD client against the real daemon (LXD 5.0.2, unix socket
    /var/lib/lxd/unix.socket, or $LXD_SOCKET).

    Everything the tests make is named en-ct-<pid>-... and removed at the
    end: a profile, a project, a `dir` storage pool of their own, an empty
    container (source "none": no image needed) and, for HTTPS, the
    daemon's core.https_address on loopback and a trusted client
    certificate, both restored in the group teardown.

    The pinning tests need a TLS server that is not LXD: `openssl s_server`
    on a free loopback port, presenting a certificate signed by a test CA
    (made with the openssl CLI), answering any request with its -www status
    page. What they assert is the TLS decision (refused: NOT_VALID `cannot
    connect ...`; accepted: the HTTP answer is then not LXD's JSON).

    An empty container has no rootfs directory in 5.0.2, so the file API
    answers 500 "open .../rootfs: no such file or directory" until one
    exists; the file tests make it in the test pool's directory (the test
    runs as root, like the daemon). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "providers/lxd/lxd_client.h"

#define S_HTTPS_ADDRESS "127.0.0.1:18443"
#define S_HTTPS_ENDPOINT "https://" S_HTTPS_ADDRESS

typedef struct {
    en_lxd_t *lxd; // over the unix socket
    char profile[64];
    char project[64];
    char pool[64];
    char instance[64];
    char cert_name[64];
    char tmpdir[64];
    char *old_https_address; // NULL: was unset
    char *server_cert;       // PEM from environment.certificate
    char *trusted_cert, *trusted_key;
    char *untrusted_cert, *untrusted_key;
    char *ca_cert, *tls_cert; // the test CA, and the s_server's leaf it signed
    pid_t tls_server;         // openssl s_server, 0: none
    char tls_endpoint[64];    // https://127.0.0.1:<port>
} fixture_t;

static fixture_t s_fx;

//  --------------------------------------------------------------------------
//  Helpers

static void
s_assert_ok(int rc, const en_err_t *err)
{
    if (rc != 0)
        fail_msg("unexpected failure: %s: %s", en_kind_name(err->kind), err->message);
}

static void
s_assert_fails(int rc, const en_err_t *err, en_kind_t kind, bool retryable, const char *prefix)
{
    if (rc != -1 || err->kind != kind)
        fail_msg("want %s, got rc %d %s: %s", en_kind_name(kind), rc, en_kind_name(err->kind),
                 err->message);
    assert_int_equal(err->retryable, retryable);
    if (prefix && strncmp(err->message, prefix, strlen(prefix)) != 0)
        fail_msg("message \"%s\" does not start with \"%s\"", err->message, prefix);
}

static char *
s_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *text = calloc(1, 16384);
    size_t n = fread(text, 1, 16383, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

//  A client of endpoint with the test's defaults and certificates.
static en_lxd_t *
s_client_at(const char *endpoint, const char *cert, const char *key, const char *server_cert)
{
    en_lxd_config_t cfg = {.endpoint = endpoint,
                           .client_cert = cert,
                           .client_key = key,
                           .server_cert = server_cert,
                           .timeout_ms = 10000};
    en_err_t err;
    en_lxd_t *lxd = en_lxd_new(&cfg, &err);
    if (!lxd)
        fail_msg("en_lxd_new: %s", err.message);
    return lxd;
}

static en_lxd_t *
s_https_client(const char *cert, const char *key, const char *server_cert)
{
    return s_client_at(S_HTTPS_ENDPOINT, cert, key, server_cert);
}

//  A self-signed client certificate made with the openssl CLI.
static int
s_make_cert(const char *name, char **cert, char **key)
{
    char cmd[512], crt_path[128], key_path[128];
    snprintf(crt_path, sizeof crt_path, "%s/%s.crt", s_fx.tmpdir, name);
    snprintf(key_path, sizeof key_path, "%s/%s.key", s_fx.tmpdir, name);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:secp384r1 -nodes "
             "-keyout %s -out %s -days 2 -subj /CN=%s -addext extendedKeyUsage=clientAuth "
             ">/dev/null 2>&1",
             key_path, crt_path, name);
    if (system(cmd) != 0)
        return -1;
    *cert = s_read_file(crt_path);
    *key = s_read_file(key_path);
    return *cert && *key ? 0 : -1;
}

//  A test CA, and a server certificate for 127.0.0.1 it signed (tmpdir's
//  ca.crt, tls.crt and tls.key).
static int
s_make_ca_and_leaf(void)
{
    char cmd[1536];
    snprintf(cmd, sizeof cmd,
             "(cd %s && "
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout ca.key -out ca.crt -days 2 -subj /CN=en-ct-ca "
             "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign && "
             "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout tls.key -out tls.csr -subj /CN=127.0.0.1 && "
             "printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' > tls.ext && "
             "openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
             "-out tls.crt -extfile tls.ext) >/dev/null 2>&1",
             s_fx.tmpdir);
    if (system(cmd) != 0)
        return -1;
    char path[128];
    snprintf(path, sizeof path, "%s/ca.crt", s_fx.tmpdir);
    s_fx.ca_cert = s_read_file(path);
    snprintf(path, sizeof path, "%s/tls.crt", s_fx.tmpdir);
    s_fx.tls_cert = s_read_file(path);
    return s_fx.ca_cert && s_fx.tls_cert ? 0 : -1;
}

//  A loopback port nobody listens on (the kernel's pick, released).
static int
s_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
        getsockname(fd, (struct sockaddr *)&addr, &len) == 0)
        port = ntohs(addr.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static bool
s_port_answers(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_port = htons((uint16_t)port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

//  openssl s_server presenting tls.crt on 127.0.0.1, until the teardown.
static int
s_start_tls_server(void)
{
    int port = s_free_port();
    if (port < 0)
        return -1;
    char accept[32], cert[128], key[128];
    snprintf(accept, sizeof accept, "127.0.0.1:%d", port);
    snprintf(cert, sizeof cert, "%s/tls.crt", s_fx.tmpdir);
    snprintf(key, sizeof key, "%s/tls.key", s_fx.tmpdir);
    char *argv[] = {"openssl", "s_server", "-quiet", "-www", "-accept", accept,
                    "-cert",   cert,       "-key",   key,    NULL};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    extern char **environ;
    int rc = posix_spawnp(&s_fx.tls_server, "openssl", &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
        s_fx.tls_server = 0;
        return -1;
    }
    snprintf(s_fx.tls_endpoint, sizeof s_fx.tls_endpoint, "https://127.0.0.1:%d", port);
    for (int i = 0; i < 100; i++) { // 10 s
        if (s_port_answers(port))
            return 0;
        usleep(100 * 1000);
    }
    return -1;
}

//  The base64 DER of a PEM certificate: its body without lines.
static char *
s_pem_body(const char *pem)
{
    const char *start = strstr(pem, "-----\n");
    const char *end = strstr(pem, "\n-----END");
    if (!start || !end)
        return NULL;
    char *out = calloc(1, (size_t)(end - start) + 1);
    char *p = out;
    for (const char *s = start + 6; s < end; s++)
        if (*s != '\n' && *s != '\r')
            *p++ = *s;
    return out;
}

static int
s_set_https_address(const char *address, en_err_t *err)
{
    json_t *body = json_pack("{s:{s:s}}", "config", "core.https_address", address);
    int rc = en_lxd_call(s_fx.lxd, "PATCH", "/1.0", body, NULL, NULL, 0, err);
    json_decref(body);
    return rc;
}

//  The listener starts as the PATCH returns; poll with a deadline anyway.
static int
s_https_ready(void)
{
    en_lxd_t *probe = s_https_client(NULL, NULL, s_fx.server_cert);
    en_err_t err;
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int rc;
    do {
        rc = en_lxd_call(probe, "GET", "/1.0", NULL, NULL, NULL, 0, &err);
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while (rc < 0 && err.kind == EN_UNAVAILABLE && now.tv_sec - start.tv_sec < 10);
    en_lxd_destroy(&probe);
    return rc;
}

//  --------------------------------------------------------------------------
//  Group: the unix socket

//  Names and a client over the socket; fails without a daemon.
static int
s_client_setup(void)
{
    int pid = (int)getpid();
    snprintf(s_fx.profile, sizeof s_fx.profile, "en-ct-%d-profile", pid);
    snprintf(s_fx.project, sizeof s_fx.project, "en-ct-%d-project", pid);
    snprintf(s_fx.pool, sizeof s_fx.pool, "en-ct-%d", pid);
    snprintf(s_fx.instance, sizeof s_fx.instance, "en-ct-%d-c1", pid);
    snprintf(s_fx.cert_name, sizeof s_fx.cert_name, "en-ct-%d-trusted", pid);
    en_err_t err;
    s_fx.lxd = en_lxd_new(&(en_lxd_config_t){.timeout_ms = 60000}, &err);
    if (!s_fx.lxd) {
        fprintf(stderr, "en_lxd_new: %s\n", err.message);
        return -1;
    }
    const json_t *server;
    if (en_lxd_server(s_fx.lxd, &server, &err) < 0) {
        fprintf(stderr, "the lxd tests need a running LXD daemon: %s\n", err.message);
        return -1;
    }
    return 0;
}

static int
s_setup(void **state)
{
    (void)state;
    if (s_client_setup() < 0)
        return -1;
    en_err_t err;
    // a storage pool of our own for the container
    json_t *pool = json_pack("{s:s,s:s}", "name", s_fx.pool, "driver", "dir");
    int rc = en_lxd_call(s_fx.lxd, "POST", "/1.0/storage-pools", pool, NULL, NULL, 0, &err);
    json_decref(pool);
    if (rc < 0) {
        fprintf(stderr, "cannot create the test pool: %s\n", err.message);
        return -1;
    }
    return 0;
}

static int
s_teardown(void **state)
{
    (void)state;
    char path[160];
    en_err_t err;
    snprintf(path, sizeof path, "/1.0/instances/%s", s_fx.instance);
    en_lxd_call(s_fx.lxd, "DELETE", path, NULL, NULL, NULL, 60000, &err);
    snprintf(path, sizeof path, "/1.0/profiles/%s", s_fx.profile);
    en_lxd_call(s_fx.lxd, "DELETE", path, NULL, NULL, NULL, 0, &err);
    en_lxd_t *in_project = en_lxd_new(&(en_lxd_config_t){.project = s_fx.project}, &err);
    snprintf(path, sizeof path, "/1.0/instances/%s", s_fx.instance);
    en_lxd_call(in_project, "DELETE", path, NULL, NULL, NULL, 60000, &err);
    snprintf(path, sizeof path, "/1.0/profiles/%s", s_fx.profile);
    en_lxd_call(in_project, "DELETE", path, NULL, NULL, NULL, 0, &err);
    en_lxd_destroy(&in_project);
    snprintf(path, sizeof path, "/1.0/projects/%s", s_fx.project);
    en_lxd_call(s_fx.lxd, "DELETE", path, NULL, NULL, NULL, 0, &err);
    snprintf(path, sizeof path, "/1.0/storage-pools/%s", s_fx.pool);
    if (en_lxd_call(s_fx.lxd, "DELETE", path, NULL, NULL, NULL, 0, &err) < 0 &&
        err.kind != EN_NOT_FOUND)
        fprintf(stderr, "cannot delete the test pool: %s\n", err.message);
    en_lxd_destroy(&s_fx.lxd);
    return 0;
}

static void
server_is_read_once_and_lists_extensions(void **state)
{
    (void)state;
    en_err_t err;
    const json_t *first, *second;
    s_assert_ok(en_lxd_server(s_fx.lxd, &first, &err), &err);
    s_assert_ok(en_lxd_server(s_fx.lxd, &second, &err), &err);
    assert_ptr_equal(first, second); // cached, not fetched again
    assert_string_equal(json_string_value(json_object_get(first, "auth")), "trusted");
    const char *version =
        json_string_value(json_object_get(json_object_get(first, "environment"), "server_version"));
    assert_non_null(version);
    assert_true(strncmp(version, "5.", 2) == 0);
    bool has = false;
    s_assert_ok(en_lxd_has_extension(s_fx.lxd, "network_acl", &has, &err), &err);
    assert_true(has);
    s_assert_ok(en_lxd_has_extension(s_fx.lxd, "no_such_ext", &has, &err), &err);
    assert_false(has);
}

static void
missing_socket_is_unavailable_and_names_it(void **state)
{
    (void)state;
    char socket[128];
    snprintf(socket, sizeof socket, "/nonexistent/en-ct-%d.socket", (int)getpid());
    en_err_t err;
    en_lxd_t *lxd = en_lxd_new(&(en_lxd_config_t){.socket_path = socket}, &err);
    assert_non_null(lxd);
    char prefix[200];
    snprintf(prefix, sizeof prefix, "cannot connect to LXD at unix:%s: ", socket);
    int rc = en_lxd_call(lxd, "GET", "/1.0", NULL, NULL, NULL, 0, &err);
    s_assert_fails(rc, &err, EN_UNAVAILABLE, true, prefix);
    const json_t *server;
    rc = en_lxd_server(lxd, &server, &err);
    s_assert_fails(rc, &err, EN_UNAVAILABLE, true, prefix);
    en_lxd_destroy(&lxd);
}

static void
profile_create_conflict_etag_and_delete(void **state)
{
    (void)state;
    en_err_t err;
    char path[160], message[300];
    snprintf(path, sizeof path, "/1.0/profiles/%s", s_fx.profile);
    json_t *body = json_pack("{s:s,s:s}", "name", s_fx.profile, "description", "one");
    s_assert_ok(en_lxd_call(s_fx.lxd, "POST", "/1.0/profiles", body, NULL, NULL, 0, &err), &err);
    // 5.0.2 answers 500 "Error inserting ... The profile already exists"
    int rc = en_lxd_call(s_fx.lxd, "POST", "/1.0/profiles", body, NULL, NULL, 0, &err);
    s_assert_fails(rc, &err, EN_ALREADY_EXISTS, false, "lxd: POST /1.0/profiles: ");
    json_decref(body);

    json_t *profile = NULL;
    char *etag = NULL;
    s_assert_ok(en_lxd_call(s_fx.lxd, "GET", path, NULL, &profile, &etag, 0, &err), &err);
    assert_non_null(etag);
    assert_string_equal(json_string_value(json_object_get(profile, "description")), "one");
    json_decref(profile);

    json_t *update = json_pack("{s:s,s:{},s:{}}", "description", "two", "config", "devices");
    s_assert_ok(en_lxd_call_if_match(s_fx.lxd, "PUT", path, update, etag, NULL, 0, &err), &err);
    // the etag read before the update is stale now: 412, retry after a read
    json_object_set_new(update, "description", json_string("three"));
    rc = en_lxd_call_if_match(s_fx.lxd, "PUT", path, update, etag, NULL, 0, &err);
    snprintf(message, sizeof message, "lxd: PUT %s: ETag doesn't match", path);
    s_assert_fails(rc, &err, EN_UNAVAILABLE, true, message);
    json_decref(update);
    free(etag);

    s_assert_ok(en_lxd_call(s_fx.lxd, "GET", path, NULL, &profile, NULL, 0, &err), &err);
    assert_string_equal(json_string_value(json_object_get(profile, "description")), "two");
    json_decref(profile);

    s_assert_ok(en_lxd_call(s_fx.lxd, "DELETE", path, NULL, NULL, NULL, 0, &err), &err);
    rc = en_lxd_call(s_fx.lxd, "DELETE", path, NULL, NULL, NULL, 0, &err);
    snprintf(message, sizeof message, "lxd: DELETE %s: Profile not found", path);
    s_assert_fails(rc, &err, EN_NOT_FOUND, false, message);
    assert_string_equal(err.message, message);
}

static void
project_is_added_to_the_query(void **state)
{
    (void)state;
    en_err_t err;
    json_t *body =
        json_pack("{s:s,s:{s:s}}", "name", s_fx.project, "config", "features.profiles", "true");
    s_assert_ok(en_lxd_call(s_fx.lxd, "POST", "/1.0/projects", body, NULL, NULL, 0, &err), &err);
    json_decref(body);
    en_lxd_t *in_project =
        en_lxd_new(&(en_lxd_config_t){.project = s_fx.project, .timeout_ms = 10000}, &err);
    assert_non_null(in_project);

    body = json_pack("{s:s}", "name", s_fx.profile);
    int rc = en_lxd_call(in_project, "POST", "/1.0/profiles", body, NULL, NULL, 0, &err);
    json_decref(body);
    s_assert_ok(rc, &err);
    char path[160];
    snprintf(path, sizeof path, "/1.0/profiles/%s", s_fx.profile);
    // the profile lives in the project only
    rc = en_lxd_call(s_fx.lxd, "GET", path, NULL, NULL, NULL, 0, &err);
    s_assert_fails(rc, &err, EN_NOT_FOUND, false, NULL);
    json_t *profiles = NULL;
    // a path with a query gets &project=
    s_assert_ok(
        en_lxd_call(in_project, "GET", "/1.0/profiles?recursion=1", NULL, &profiles, NULL, 0, &err),
        &err);
    bool seen = false;
    size_t i;
    json_t *profile;
    json_array_foreach(profiles, i, profile)
    {
        seen =
            seen || strcmp(json_string_value(json_object_get(profile, "name")), s_fx.profile) == 0;
    }
    json_decref(profiles);
    assert_true(seen);

    s_assert_ok(en_lxd_call(in_project, "DELETE", path, NULL, NULL, NULL, 0, &err), &err);

    // an async create and its operation wait, in the project
    body = json_pack("{s:s,s:{s:s},s:{s:{s:s,s:s,s:s}}}", "name", s_fx.instance, "source", "type",
                     "none", "devices", "root", "type", "disk", "path", "/", "pool", s_fx.pool);
    rc = en_lxd_call(in_project, "POST", "/1.0/instances", body, NULL, NULL, 60000, &err);
    json_decref(body);
    s_assert_ok(rc, &err);
    snprintf(path, sizeof path, "/1.0/instances/%s", s_fx.instance);
    s_assert_ok(en_lxd_call(in_project, "GET", path, NULL, NULL, NULL, 0, &err), &err);
    rc = en_lxd_call(s_fx.lxd, "GET", path, NULL, NULL, NULL, 0, &err);
    s_assert_fails(rc, &err, EN_NOT_FOUND, false, NULL);
    s_assert_ok(en_lxd_call(in_project, "DELETE", path, NULL, NULL, NULL, 60000, &err), &err);
    en_lxd_destroy(&in_project);
    snprintf(path, sizeof path, "/1.0/projects/%s", s_fx.project);
    s_assert_ok(en_lxd_call(s_fx.lxd, "DELETE", path, NULL, NULL, NULL, 0, &err), &err);
}

static void
container_create_waits_for_the_operation(void **state)
{
    (void)state;
    en_err_t err;
    json_t *body =
        json_pack("{s:s,s:s,s:{s:s},s:{s:s},s:{s:{s:s,s:s,s:s}}}", "name", s_fx.instance, "type",
                  "container", "source", "type", "none", "config", "user.en-test", "client",
                  "devices", "root", "type", "disk", "path", "/", "pool", s_fx.pool);
    json_t *metadata = NULL;
    int rc = en_lxd_call(s_fx.lxd, "POST", "/1.0/instances", body, &metadata, NULL, 60000, &err);
    s_assert_ok(rc, &err);
    assert_non_null(metadata); // the operation's metadata: null for a create
    json_decref(metadata);

    // the create has ended: the instance is there, stopped, tagged
    char path[160];
    snprintf(path, sizeof path, "/1.0/instances/%s", s_fx.instance);
    json_t *instance = NULL;
    s_assert_ok(en_lxd_call(s_fx.lxd, "GET", path, NULL, &instance, NULL, 0, &err), &err);
    assert_string_equal(json_string_value(json_object_get(instance, "status")), "Stopped");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(instance, "config"), "user.en-test")),
        "client");
    json_decref(instance);

    // a second create fails inside its operation: "Failed creating
    // instance record: ... This "instances" entry already exists"
    rc = en_lxd_call(s_fx.lxd, "POST", "/1.0/instances", body, NULL, NULL, 60000, &err);
    s_assert_fails(rc, &err, EN_ALREADY_EXISTS, false, "lxd: POST /1.0/instances: ");
    assert_non_null(strstr(err.message, "already exists"));
    json_decref(body);
}

static void
files_mkdir_put_and_get_round_trip(void **state)
{
    (void)state;
    en_err_t err;
    // an empty container has no rootfs (see the file's comment)
    char rootfs[256];
    snprintf(rootfs, sizeof rootfs, "/var/lib/lxd/storage-pools/%s/containers/%s/rootfs", s_fx.pool,
             s_fx.instance);
    if (mkdir(rootfs, 0755) != 0)
        fail_msg("mkdir %s failed", rootfs);

    s_assert_ok(en_lxd_mkdir(s_fx.lxd, s_fx.instance, "/var", 0755, &err), &err);
    s_assert_ok(en_lxd_mkdir(s_fx.lxd, s_fx.instance, "/var/lib juju", 0750, &err), &err);
    // an existing directory is success
    s_assert_ok(en_lxd_mkdir(s_fx.lxd, s_fx.instance, "/var/lib juju", 0750, &err), &err);

    static const char bytes[] = "nonce\0with a NUL\n";
    size_t len = sizeof bytes - 1;
    s_assert_ok(
        en_lxd_file_put(s_fx.lxd, s_fx.instance, "/var/lib juju/nonce.txt", bytes, len, 0640, &err),
        &err);
    char *data = NULL;
    size_t got = 0;
    s_assert_ok(
        en_lxd_file_get(s_fx.lxd, s_fx.instance, "/var/lib juju/nonce.txt", &data, &got, &err),
        &err);
    assert_int_equal(got, len);
    assert_memory_equal(data, bytes, len);
    assert_int_equal(data[got], '\0');
    free(data);
    struct stat st;
    char host_path[320];
    snprintf(host_path, sizeof host_path, "%s/var/lib juju/nonce.txt", rootfs);
    assert_int_equal(stat(host_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    assert_int_equal(st.st_size, len);

    // overwrite with something shorter, and with nothing
    s_assert_ok(
        en_lxd_file_put(s_fx.lxd, s_fx.instance, "/var/lib juju/nonce.txt", "ab", 2, 0644, &err),
        &err);
    s_assert_ok(
        en_lxd_file_get(s_fx.lxd, s_fx.instance, "/var/lib juju/nonce.txt", &data, &got, &err),
        &err);
    assert_int_equal(got, 2);
    assert_string_equal(data, "ab");
    free(data);
    s_assert_ok(
        en_lxd_file_put(s_fx.lxd, s_fx.instance, "/var/lib juju/empty", NULL, 0, 0644, &err), &err);
    s_assert_ok(en_lxd_file_get(s_fx.lxd, s_fx.instance, "/var/lib juju/empty", &data, &got, &err),
                &err);
    assert_int_equal(got, 0);
    assert_string_equal(data, "");
    free(data);

    // 5.0.2 keeps an existing file's mode when it overwrites it
    assert_int_equal(stat(host_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    snprintf(host_path, sizeof host_path, "%s/var/lib juju", rootfs);
    assert_int_equal(stat(host_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0750);
}

static void
files_missing_are_not_found(void **state)
{
    (void)state;
    en_err_t err;
    char *data = (char *)"x";
    size_t len = 1;
    int rc = en_lxd_file_get(s_fx.lxd, s_fx.instance, "/var/none", &data, &len, &err);
    s_assert_fails(rc, &err, EN_NOT_FOUND, false, "lxd: GET /1.0/instances/");
    assert_null(data);
    assert_int_equal(len, 0);
    rc = en_lxd_file_put(s_fx.lxd, s_fx.instance, "/no/parent", "x", 1, 0644, &err);
    s_assert_fails(rc, &err, EN_NOT_FOUND, false, "lxd: POST /1.0/instances/");
    rc = en_lxd_file_get(s_fx.lxd, "en-ct-no-such-instance", "/etc/hosts", &data, &len, &err);
    s_assert_fails(rc, &err, EN_NOT_FOUND, false, NULL);
    assert_non_null(strstr(err.message, "Instance not found"));
    // a directory is not a file
    rc = en_lxd_file_get(s_fx.lxd, s_fx.instance, "/var", &data, &len, &err);
    s_assert_fails(rc, &err, EN_NOT_VALID, false, NULL);
    assert_non_null(strstr(err.message, "is a directory"));
}

static void
files_larger_than_the_cap_are_not_valid(void **state)
{
    (void)state;
    en_err_t err;
    size_t big = 2 * 1024 * 1024;
    char *bytes = malloc(big);
    assert_non_null(bytes);
    for (size_t i = 0; i < big; i++)
        bytes[i] = (char)('a' + i % 26);
    s_assert_ok(en_lxd_file_put(s_fx.lxd, s_fx.instance, "/var/big", bytes, big, 0644, &err), &err);
    en_lxd_t *capped = en_lxd_new(&(en_lxd_config_t){.file_max = 1024 * 1024}, &err);
    assert_non_null(capped);
    char *data = (char *)"x";
    size_t len = 1;
    int rc = en_lxd_file_get(capped, s_fx.instance, "/var/big", &data, &len, &err);
    char message[300];
    snprintf(message, sizeof message,
             "lxd: GET /1.0/instances/%s/files?path=%%2Fvar%%2Fbig: file larger than 1048576 bytes",
             s_fx.instance);
    s_assert_fails(rc, &err, EN_NOT_VALID, false, message);
    assert_string_equal(err.message, message);
    assert_null(data);
    assert_int_equal(len, 0);
    // the client still works after the transfer it cut short
    s_assert_ok(
        en_lxd_file_get(capped, s_fx.instance, "/var/lib juju/nonce.txt", &data, &len, &err), &err);
    free(data);
    en_lxd_destroy(&capped);

    // a file of exactly the cap is read, and the default cap is 16 MiB
    capped = en_lxd_new(&(en_lxd_config_t){.file_max = big}, &err);
    s_assert_ok(en_lxd_file_get(capped, s_fx.instance, "/var/big", &data, &len, &err), &err);
    assert_int_equal(len, big);
    assert_memory_equal(data, bytes, big);
    free(data);
    en_lxd_destroy(&capped);
    s_assert_ok(en_lxd_file_get(s_fx.lxd, s_fx.instance, "/var/big", &data, &len, &err), &err);
    assert_int_equal(len, big);
    free(data);
    free(bytes);
}

static void
container_delete_then_not_found(void **state)
{
    (void)state;
    en_err_t err;
    char path[160];
    snprintf(path, sizeof path, "/1.0/instances/%s", s_fx.instance);
    s_assert_ok(en_lxd_call(s_fx.lxd, "DELETE", path, NULL, NULL, NULL, 60000, &err), &err);
    int rc = en_lxd_call(s_fx.lxd, "GET", path, NULL, NULL, NULL, 0, &err);
    char message[200];
    snprintf(message, sizeof message, "lxd: GET %s: Instance not found", path);
    s_assert_fails(rc, &err, EN_NOT_FOUND, false, message);
    rc = en_lxd_call(s_fx.lxd, "DELETE", path, NULL, NULL, NULL, 60000, &err);
    s_assert_fails(rc, &err, EN_NOT_FOUND, false, NULL);
}

//  A push migration's sink waits for its source to connect, and fails
//  after about 10 s without one: an operation that runs long enough to
//  time out a wait, then ends in Failure.
static void
wait_times_out_then_sees_the_failure(void **state)
{
    (void)state;
    en_err_t err;
    char name[80];
    snprintf(name, sizeof name, "en-ct-%d-sink", (int)getpid());
    json_t *body =
        json_pack("{s:s,s:s,s:s,s:{s:s,s:s},s:{s:{s:s,s:s,s:s}}}", "name", name, "type",
                  "container", "architecture", "x86_64", "source", "type", "migration", "mode",
                  "push", "devices", "root", "type", "disk", "path", "/", "pool", s_fx.pool);
    int rc = en_lxd_call(s_fx.lxd, "POST", "/1.0/instances", body, NULL, NULL, 1500, &err);
    json_decref(body);
    s_assert_fails(rc, &err, EN_TIMEOUT, true, "lxd: operation ");
    char id[64] = "";
    assert_int_equal(sscanf(err.message, "lxd: operation %63s still running after 1500 ms", id), 1);
    assert_non_null(strstr(err.message, " still running after 1500 ms"));

    json_t *metadata = NULL;
    rc = en_lxd_wait(s_fx.lxd, id, 60000, &metadata, &err);
    char prefix[160];
    snprintf(prefix, sizeof prefix, "lxd: operation %s: ", id);
    s_assert_fails(rc, &err, EN_NOT_VALID, false, prefix);
    assert_non_null(strstr(err.message, "Timed out waiting for migration connections"));
    assert_null(metadata);
    char path[160];
    snprintf(path, sizeof path, "/1.0/instances/%s", name);
    en_lxd_call(s_fx.lxd, "DELETE", path, NULL, NULL, NULL, 60000, &err); // LXD removes it
}

static void
wait_for_a_vanished_operation_is_not_found(void **state)
{
    (void)state;
    en_err_t err;
    json_t *metadata = NULL;
    int rc = en_lxd_wait(s_fx.lxd, "/1.0/operations/00000000-0000-0000-0000-000000000000", 5000,
                         &metadata, &err);
    s_assert_fails(rc, &err, EN_NOT_FOUND, false,
                   "lxd: operation 00000000-0000-0000-0000-000000000000: operation "
                   "00000000-0000-0000-0000-000000000000 not found");
    assert_null(metadata);
}

//  --------------------------------------------------------------------------
//  Group: HTTPS on loopback

static int
s_https_setup(void **state)
{
    (void)state;
    if (s_client_setup() < 0)
        return -1;
    en_err_t err;
    snprintf(s_fx.tmpdir, sizeof s_fx.tmpdir, "/tmp/en-ct-%d-XXXXXX", (int)getpid());
    if (!mkdtemp(s_fx.tmpdir) || s_make_cert("trusted", &s_fx.trusted_cert, &s_fx.trusted_key) ||
        s_make_cert("untrusted", &s_fx.untrusted_cert, &s_fx.untrusted_key) ||
        s_make_ca_and_leaf()) {
        fprintf(stderr, "cannot make certificates with openssl\n");
        return -1;
    }
    if (s_start_tls_server() < 0) {
        fprintf(stderr, "cannot start openssl s_server on loopback\n");
        return -1;
    }
    const json_t *server;
    if (en_lxd_server(s_fx.lxd, &server, &err) < 0)
        return -1;
    const char *old =
        json_string_value(json_object_get(json_object_get(server, "config"), "core.https_address"));
    s_fx.old_https_address = old ? strdup(old) : NULL;
    s_fx.server_cert = strdup(
        json_string_value(json_object_get(json_object_get(server, "environment"), "certificate")));

    char *der = s_pem_body(s_fx.trusted_cert);
    json_t *body =
        json_pack("{s:s,s:s,s:s}", "type", "client", "name", s_fx.cert_name, "certificate", der);
    int rc = en_lxd_call(s_fx.lxd, "POST", "/1.0/certificates", body, NULL, NULL, 0, &err);
    json_decref(body);
    free(der);
    if (rc < 0 || s_set_https_address(S_HTTPS_ADDRESS, &err) < 0) {
        fprintf(stderr, "cannot set up HTTPS: %s\n", err.message);
        return -1;
    }
    if (s_https_ready() < 0) {
        fprintf(stderr, "LXD does not answer on %s\n", S_HTTPS_ENDPOINT);
        return -1;
    }
    return 0;
}

static int
s_https_teardown(void **state)
{
    en_err_t err;
    json_t *certs = NULL;
    if (en_lxd_call(s_fx.lxd, "GET", "/1.0/certificates?recursion=1", NULL, &certs, NULL, 0,
                    &err) == 0) {
        size_t i;
        json_t *cert;
        json_array_foreach(certs, i, cert)
        {
            if (strcmp(json_string_value(json_object_get(cert, "name")), s_fx.cert_name) != 0)
                continue;
            char path[160];
            snprintf(path, sizeof path, "/1.0/certificates/%s",
                     json_string_value(json_object_get(cert, "fingerprint")));
            if (en_lxd_call(s_fx.lxd, "DELETE", path, NULL, NULL, NULL, 0, &err) < 0)
                fprintf(stderr, "cannot remove the trust entry: %s\n", err.message);
        }
        json_decref(certs);
    }
    if (s_set_https_address(s_fx.old_https_address ? s_fx.old_https_address : "", &err) < 0)
        fprintf(stderr, "cannot restore core.https_address: %s\n", err.message);
    if (s_fx.tls_server > 0) {
        kill(s_fx.tls_server, SIGTERM);
        waitpid(s_fx.tls_server, NULL, 0);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", s_fx.tmpdir);
    if (s_fx.tmpdir[0] && system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", s_fx.tmpdir);
    free(s_fx.old_https_address);
    free(s_fx.server_cert);
    free(s_fx.trusted_cert);
    free(s_fx.trusted_key);
    free(s_fx.untrusted_cert);
    free(s_fx.untrusted_key);
    free(s_fx.ca_cert);
    free(s_fx.tls_cert);
    return s_teardown(state);
}

static void
https_trusted_cert_with_pinned_server_cert(void **state)
{
    (void)state;
    en_err_t err;
    en_lxd_t *lxd = s_https_client(s_fx.trusted_cert, s_fx.trusted_key, s_fx.server_cert);
    assert_string_equal(en_lxd_where(lxd), S_HTTPS_ENDPOINT);
    const json_t *server;
    s_assert_ok(en_lxd_server(lxd, &server, &err), &err);
    assert_string_equal(json_string_value(json_object_get(server, "auth")), "trusted");
    json_t *instances = NULL;
    s_assert_ok(en_lxd_call(lxd, "GET", "/1.0/instances", NULL, &instances, NULL, 0, &err), &err);
    assert_true(json_is_array(instances));
    json_decref(instances);
    en_lxd_destroy(&lxd);
}

static void
https_untrusted_cert_reads_only_the_server(void **state)
{
    (void)state;
    en_err_t err;
    en_lxd_t *lxd = s_https_client(s_fx.untrusted_cert, s_fx.untrusted_key, s_fx.server_cert);
    const json_t *server;
    s_assert_ok(en_lxd_server(lxd, &server, &err), &err);
    assert_string_equal(json_string_value(json_object_get(server, "auth")), "untrusted");
    int rc = en_lxd_call(lxd, "GET", "/1.0/instances", NULL, NULL, NULL, 0, &err);
    s_assert_fails(rc, &err, EN_UNAUTHORIZED, false, "lxd: GET /1.0/instances: not authorized");
    en_lxd_destroy(&lxd);
}

static void
https_wrong_server_cert_is_not_valid(void **state)
{
    (void)state;
    en_err_t err;
    // pin a certificate that is not the server's
    en_lxd_t *lxd = s_https_client(s_fx.trusted_cert, s_fx.trusted_key, s_fx.untrusted_cert);
    int rc = en_lxd_call(lxd, "GET", "/1.0", NULL, NULL, NULL, 0, &err);
    s_assert_fails(rc, &err, EN_NOT_VALID, false,
                   "cannot connect to LXD at " S_HTTPS_ENDPOINT ": ");
    en_lxd_destroy(&lxd);
    // no pin: the system CAs do not know LXD's self-signed certificate
    lxd = s_https_client(s_fx.trusted_cert, s_fx.trusted_key, NULL);
    rc = en_lxd_call(lxd, "GET", "/1.0", NULL, NULL, NULL, 0, &err);
    s_assert_fails(rc, &err, EN_NOT_VALID, false, NULL);
    en_lxd_destroy(&lxd);
}

//  The TLS decision against the s_server: refused is a transport failure
//  (NOT_VALID, `cannot connect ...`); accepted, the request goes through
//  and its answer (s_server's HTML status page) is not LXD's JSON.
static void
s_assert_refused(const char *server_cert)
{
    en_err_t err;
    en_lxd_t *lxd = s_client_at(s_fx.tls_endpoint, NULL, NULL, server_cert);
    int rc = en_lxd_call(lxd, "GET", "/1.0", NULL, NULL, NULL, 0, &err);
    char prefix[160];
    snprintf(prefix, sizeof prefix, "cannot connect to LXD at %s: ", s_fx.tls_endpoint);
    s_assert_fails(rc, &err, EN_NOT_VALID, false, prefix);
    en_lxd_destroy(&lxd);
}

static void
https_pin_refuses_a_server_with_another_certificate(void **state)
{
    (void)state;
    // LXD's certificate pinned, another server answering
    s_assert_refused(s_fx.server_cert);
}

static void
https_pin_refuses_a_certificate_that_only_chains_to_it(void **state)
{
    (void)state;
    // the CA that signed the server's certificate is a trust anchor that
    // would verify it; a pin is that very key, so it is refused
    s_assert_refused(s_fx.ca_cert);
}

static void
https_pin_accepts_the_pinned_server(void **state)
{
    (void)state;
    en_err_t err;
    en_lxd_t *lxd = s_client_at(s_fx.tls_endpoint, NULL, NULL, s_fx.tls_cert);
    int rc = en_lxd_call(lxd, "GET", "/1.0", NULL, NULL, NULL, 0, &err);
    // past TLS: s_server's page is no envelope
    s_assert_fails(rc, &err, EN_INTERNAL, false, "lxd: GET /1.0: answer (HTTP 200) is not a JSON");
    en_lxd_destroy(&lxd);
}

int
main(void)
{
    const struct CMUnitTest unix_tests[] = {
        cmocka_unit_test(server_is_read_once_and_lists_extensions),
        cmocka_unit_test(missing_socket_is_unavailable_and_names_it),
        cmocka_unit_test(profile_create_conflict_etag_and_delete),
        cmocka_unit_test(project_is_added_to_the_query),
        cmocka_unit_test(container_create_waits_for_the_operation),
        cmocka_unit_test(files_mkdir_put_and_get_round_trip),
        cmocka_unit_test(files_missing_are_not_found),
        cmocka_unit_test(files_larger_than_the_cap_are_not_valid),
        cmocka_unit_test(container_delete_then_not_found),
        cmocka_unit_test(wait_for_a_vanished_operation_is_not_found),
        cmocka_unit_test(wait_times_out_then_sees_the_failure),
    };
    const struct CMUnitTest https_tests[] = {
        cmocka_unit_test(https_trusted_cert_with_pinned_server_cert),
        cmocka_unit_test(https_untrusted_cert_reads_only_the_server),
        cmocka_unit_test(https_wrong_server_cert_is_not_valid),
        cmocka_unit_test(https_pin_refuses_a_server_with_another_certificate),
        cmocka_unit_test(https_pin_refuses_a_certificate_that_only_chains_to_it),
        cmocka_unit_test(https_pin_accepts_the_pinned_server),
    };
    int failed = cmocka_run_group_tests_name("lxd_client_unix", unix_tests, s_setup, s_teardown);
    memset(&s_fx, 0, sizeof s_fx);
    failed += cmocka_run_group_tests_name("lxd_client_https", https_tests, s_https_setup,
                                          s_https_teardown);
    return failed;
}
