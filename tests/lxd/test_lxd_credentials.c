/*  The lxd provider's FinalizeCredential (lxd_provider.c) against the real
    daemon (LXD 5.0.2): an `interactive` credential, with the trust
    password or with a token `lxc config trust add` printed, becomes a
    `certificate` credential the server trusts, which then works through
    en_lxd_new over HTTPS.

    The group set-up turns on HTTPS on loopback only (core.https_address
    127.0.0.1:18444) and sets a random core.trust_password; the teardown
    removes every trust entry the tests made (by the fingerprint of each
    client certificate) and restores both keys. The test takes the CTest
    resource lock lxd_core_config, as every test that changes the daemon's
    core.* keys should.

    One step the daemon cannot be made to fail is the check after the POST
    (GET /1.0 must be trusted and name the certificate presented): that
    test runs against a fake LXD in a thread (OpenSSL on a free loopback
    port, one request per connection) that accepts the POST, then names
    another certificate, and records the DELETE that must follow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "providers/lxd/lxd_client.h"
#include "providers/lxd/lxd_private.h"
#include "providers/provider.h"

#define S_ADDRESS "127.0.0.1:18444"
#define S_ENDPOINT "https://" S_ADDRESS
#define S_MAX_TRUSTED 8

//  lxd_provider.c: where a spec says LXD is (shared with lxd_compute.c).

typedef struct {
    en_lxd_t *lxd;           // the unix socket
    char *old_https_address; // NULL: was unset
    bool password_preset;    // core.trust_password was set before: left alone
    char password[65];
    char server_fp[65]; // the daemon's certificate
    char trusted[S_MAX_TRUSTED][65];
    int trusted_count;
} fixture_t;

static fixture_t s_fx;

static void
s_ok(int rc, const en_err_t *err, const char *what)
{
    if (rc != 0)
        fail_msg("%s: %s: %s", what, en_kind_name(err->kind), err->message);
}

static void
s_fingerprint(const char *pem, char out[65])
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *cert = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    assert_non_null(cert);
    unsigned char md[32];
    unsigned int n = 0;
    assert_int_equal(X509_digest(cert, EVP_sha256(), md, &n), 1);
    X509_free(cert);
    for (unsigned int i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static int
s_set_config(const char *key, const char *value, en_err_t *err)
{
    json_t *body = json_pack("{s:{s:s}}", "config", key, value);
    int rc = en_lxd_call(s_fx.lxd, "PATCH", "/1.0", body, NULL, NULL, 0, err);
    json_decref(body);
    return rc;
}

//  GET /1.0 over the socket, fresh (en_lxd_server caches its answer).
static json_t *
s_server_info(en_err_t *err)
{
    json_t *info = NULL;
    if (en_lxd_call(s_fx.lxd, "GET", "/1.0", NULL, &info, NULL, 0, err))
        return NULL;
    return info;
}

static int
s_group_setup(void **state)
{
    (void)state;
    en_err_t err;
    en_lxd_config_t cfg = {0};
    s_fx.lxd = en_lxd_new(&cfg, &err);
    json_t *info = s_fx.lxd ? s_server_info(&err) : NULL;
    if (!info) {
        fprintf(stderr, "set-up: GET /1.0: %s\n", err.message);
        return -1;
    }
    const json_t *config = json_object_get(info, "config");
    const char *old = json_string_value(json_object_get(config, "core.https_address"));
    s_fx.old_https_address = old ? strdup(old) : NULL;
    s_fx.password_preset = json_object_get(config, "core.trust_password") != NULL;
    s_fingerprint(
        json_string_value(json_object_get(json_object_get(info, "environment"), "certificate")),
        s_fx.server_fp);
    json_decref(info);
    unsigned char raw[16];
    RAND_bytes(raw, sizeof raw);
    for (int i = 0; i < 16; i++)
        snprintf(s_fx.password + 2 * i, 3, "%02x", raw[i]);
    if (s_set_config("core.https_address", S_ADDRESS, &err) ||
        (!s_fx.password_preset && s_set_config("core.trust_password", s_fx.password, &err))) {
        fprintf(stderr, "set-up: PATCH /1.0: %s\n", err.message);
        return -1; // the teardown restores what was changed
    }
    return 0;
}

static int
s_group_teardown(void **state)
{
    (void)state;
    if (!s_fx.lxd)
        return 0;
    en_err_t err;
    int rc = 0;
    for (int i = 0; i < s_fx.trusted_count; i++) {
        char path[128];
        snprintf(path, sizeof path, "/1.0/certificates/%s", s_fx.trusted[i]);
        if (en_lxd_call(s_fx.lxd, "DELETE", path, NULL, NULL, NULL, 0, &err) &&
            err.kind != EN_NOT_FOUND) {
            fprintf(stderr, "teardown: DELETE %s: %s\n", path, err.message);
            rc = -1;
        }
    }
    // what a refused finalize must not have trusted, should it have
    json_t *list = NULL;
    if (en_lxd_call(s_fx.lxd, "GET", "/1.0/certificates?recursion=1", NULL, &list, NULL, 0, &err) ==
        0) {
        size_t i;
        json_t *entry;
        json_array_foreach(list, i, entry)
        {
            const char *name = json_string_value(json_object_get(entry, "name"));
            if (!name || strcmp(name, "environs-fp-bad") != 0)
                continue;
            char path[128];
            snprintf(path, sizeof path, "/1.0/certificates/%s",
                     json_string_value(json_object_get(entry, "fingerprint")));
            en_lxd_call(s_fx.lxd, "DELETE", path, NULL, NULL, NULL, 0, &err);
        }
        json_decref(list);
    }
    if (!s_fx.password_preset && s_set_config("core.trust_password", "", &err)) {
        fprintf(stderr, "teardown: unset core.trust_password: %s\n", err.message);
        rc = -1;
    }
    if (s_set_config("core.https_address", s_fx.old_https_address ? s_fx.old_https_address : "",
                     &err)) {
        fprintf(stderr, "teardown: restore core.https_address: %s\n", err.message);
        rc = -1;
    }
    json_t *info = s_server_info(&err);
    const json_t *config = json_object_get(info, "config");
    if (!info || (!s_fx.password_preset && json_object_get(config, "core.trust_password")) ||
        (!s_fx.old_https_address && json_object_get(config, "core.https_address"))) {
        fprintf(stderr, "teardown: the daemon's config was not restored\n");
        rc = -1;
    }
    json_decref(info);
    free(s_fx.old_https_address);
    en_lxd_destroy(&s_fx.lxd);
    return rc;
}

//  --------------------------------------------------------------------------

//  FinalizeCredential as the registry runs it: the schema, then the hook.
static int
s_finalize(const en_credential_t *in, en_credential_t **out, en_err_t *err)
{
    const en_provider_t *p = en_provider_builtin("lxd");
    en_credential_t *checked = NULL;
    if (en_credential_finalize(in, p->schemas, p->schema_count, &checked, err))
        return -1;
    int rc = p->finalize_credential(checked, S_ENDPOINT, out, err);
    en_credential_destroy(&checked);
    return rc;
}

static int
s_trust_count(void)
{
    json_t *list = NULL;
    en_err_t err;
    s_ok(en_lxd_call(s_fx.lxd, "GET", "/1.0/certificates", NULL, &list, NULL, 0, &err), &err,
         "list certificates");
    int n = (int)json_array_size(list);
    json_decref(list);
    return n;
}

//  The finalized credential is a trusted certificate: remember it for the
//  teardown, check its trust entry's name, and use it over HTTPS.
static void
s_check_trusted(const en_credential_t *cred, const char *name, const char *trust_name)
{
    assert_string_equal(cred->name, name);
    assert_string_equal(cred->auth_type, "certificate");
    assert_int_equal(cred->attrs.count, 3);
    const char *server = en_credential_attr(cred, "server-cert");
    const char *client = en_credential_attr(cred, "client-cert");
    const char *key = en_credential_attr(cred, "client-key");
    assert_non_null(server);
    assert_non_null(client);
    assert_non_null(key);
    char fp[65];
    s_fingerprint(client, fp);
    assert_true(s_fx.trusted_count < S_MAX_TRUSTED);
    memcpy(s_fx.trusted[s_fx.trusted_count++], fp, 65);
    s_fingerprint(server, fp);
    assert_string_equal(fp, s_fx.server_fp);

    // the server's trust store has it, under the name asked for
    json_t *entry = NULL;
    en_err_t err;
    char path[128];
    snprintf(path, sizeof path, "/1.0/certificates/%s", s_fx.trusted[s_fx.trusted_count - 1]);
    s_ok(en_lxd_call(s_fx.lxd, "GET", path, NULL, &entry, NULL, 0, &err), &err, path);
    assert_string_equal(json_string_value(json_object_get(entry, "name")), trust_name);
    assert_string_equal(json_string_value(json_object_get(entry, "type")), "client");
    json_decref(entry);

    // the spec check accepts it, and it works through the client
    en_cloud_spec_t spec = {.type = "lxd",
                            .name = "remote",
                            .endpoint = S_ENDPOINT,
                            .credential = (en_credential_t *)cred};
    en_lxd_config_t cfg;
    s_ok(lxd_spec_config(&spec, &cfg, &err), &err, "spec");
    json_t *cfg_json = json_object();
    s_ok(en_provider_builtin("lxd")->prepare_config(&spec, cfg_json, &err), &err, "prepare_config");
    json_decref(cfg_json);
    en_lxd_t *remote = en_lxd_new(&cfg, &err);
    assert_non_null(remote);
    const json_t *info = NULL;
    s_ok(en_lxd_server(remote, &info, &err), &err, "GET /1.0 over https");
    assert_string_equal(json_string_value(json_object_get(info, "auth")), "trusted");
    json_t *instances = NULL;
    s_ok(en_lxd_call(remote, "GET", "/1.0/instances", NULL, &instances, NULL, 0, &err), &err,
         "GET /1.0/instances over https");
    assert_true(json_is_array(instances));
    json_decref(instances);
    en_lxd_destroy(&remote);
}

static void
trust_password_gives_a_trusted_certificate(void **state)
{
    (void)state;
    if (s_fx.password_preset)
        skip(); // a trust password we do not know, and must not change
    en_credential_t *in = en_credential_new("pw-cred", "interactive");
    en_credential_set_attr(in, "trust-password", s_fx.password);
    en_cloudfile_set_string(&in->label, "my label");
    en_credential_t *out = NULL;
    en_err_t err;
    s_ok(s_finalize(in, &out, &err), &err, "finalize");
    assert_string_equal(out->label, "my label");
    s_check_trusted(out, "pw-cred", "environs-pw-cred");
    en_credential_destroy(&out);
    en_credential_destroy(&in);
}

static void
wrong_trust_password_is_unauthorized(void **state)
{
    (void)state;
    int before = s_trust_count();
    en_credential_t *in = en_credential_new("bad", "interactive");
    en_credential_set_attr(in, "trust-password", "not-the-password");
    en_credential_t *out = NULL;
    en_err_t err;
    assert_int_equal(s_finalize(in, &out, &err), -1);
    assert_null(out);
    assert_int_equal(err.kind, EN_UNAUTHORIZED);
    const char *want = "finalizing credential \"bad\": the server refused the token or trust "
                       "password: lxd: POST /1.0/certificates";
    if (strncmp(err.message, want, strlen(want)) != 0)
        fail_msg("message: %s", err.message);
    assert_int_equal(s_trust_count(), before);
    en_credential_destroy(&in);
}

//  A token from `lxc config trust add --name <name>` (5.0.2 prints it on
//  the last line of its output).
static void
s_lxc_token(const char *name, char *token, size_t size)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "lxc config trust add --name %s 2>&1", name);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char line[4096];
    token[0] = '\0';
    while (fgets(line, sizeof line, p)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (*line)
            snprintf(token, size, "%s", line);
    }
    assert_int_equal(pclose(p), 0);
    assert_true(strlen(token) > 100);
}

static void
token_gives_a_trusted_certificate_once(void **state)
{
    (void)state;
    char name[64], token[4096];
    snprintf(name, sizeof name, "environs-test-token-%d", (int)getpid());
    s_lxc_token(name, token, sizeof token);
    en_credential_t *in = en_credential_new("tok-cred", "interactive");
    en_credential_set_attr(in, "token", token);
    en_credential_t *out = NULL;
    en_err_t err;
    s_ok(s_finalize(in, &out, &err), &err, "finalize with a token");
    s_check_trusted(out, "tok-cred", name); // the token's client name wins
    en_credential_destroy(&out);
    // a token is single use
    assert_int_equal(s_finalize(in, &out, &err), -1);
    assert_int_equal(err.kind, EN_UNAUTHORIZED);
    en_credential_destroy(&in);
}

static void
token_naming_another_server_is_refused_before_trust(void **state)
{
    (void)state;
    int before = s_trust_count();
    const char *json = "{\"client_name\":\"x\",\"fingerprint\":\"0000000000000000000000000000000"
                       "000000000000000000000000000000000\",\"addresses\":[\"" S_ADDRESS
                       "\"],\"secret\":\"00\",\"expires_at\":\"0001-01-01T00:00:00Z\"}";
    char token[1024];
    EVP_EncodeBlock((unsigned char *)token, (const unsigned char *)json, (int)strlen(json));
    en_credential_t *in = en_credential_new("other", "interactive");
    en_credential_set_attr(in, "token", token);
    en_credential_t *out = NULL;
    en_err_t err;
    assert_int_equal(s_finalize(in, &out, &err), -1);
    assert_int_equal(err.kind, EN_UNAUTHORIZED);
    char want[512];
    snprintf(want, sizeof want,
             "finalizing credential \"other\": lxd: " S_ENDPOINT " presented certificate %s, the "
             "token names 0000000000000000000000000000000000000000000000000000000000000000",
             s_fx.server_fp);
    assert_string_equal(err.message, want);
    assert_int_equal(s_trust_count(), before);
    en_credential_destroy(&in);
}

//  server-fingerprint as people write it: upper case, with colons.
static void
s_colon_fingerprint(const char *fp, char *out)
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 3 * i, 4, "%c%c%s", fp[2 * i] - (fp[2 * i] > '9' ? 32 : 0),
                 fp[2 * i + 1] - (fp[2 * i + 1] > '9' ? 32 : 0), i < 31 ? ":" : "");
}

static void
server_fingerprint_mismatch_is_refused_before_trust(void **state)
{
    (void)state;
    if (s_fx.password_preset)
        skip(); // without the password, the test proves nothing
    int before = s_trust_count();
    const char *want = "ab00000000000000000000000000000000000000000000000000000000000000";
    char colons[96];
    s_colon_fingerprint(want, colons);
    en_credential_t *in = en_credential_new("fp-bad", "interactive");
    en_credential_set_attr(in, "trust-password", s_fx.password); // the right one
    en_credential_set_attr(in, "server-fingerprint", colons);
    en_credential_t *out = NULL;
    en_err_t err;
    assert_int_equal(s_finalize(in, &out, &err), -1);
    assert_null(out);
    assert_int_equal(err.kind, EN_NOT_VALID);
    char message[512];
    snprintf(message, sizeof message,
             "finalizing credential \"fp-bad\": lxd: server certificate fingerprint %s does not "
             "match %s",
             s_fx.server_fp, want);
    assert_string_equal(err.message, message);
    assert_int_equal(s_trust_count(), before); // the password was never sent
    en_credential_destroy(&in);
}

static void
server_fingerprint_match_gives_a_trusted_certificate(void **state)
{
    (void)state;
    if (s_fx.password_preset)
        skip();
    char colons[96];
    s_colon_fingerprint(s_fx.server_fp, colons);
    static const char *const forms[] = {"colons", "plain"};
    for (int i = 0; i < 2; i++) {
        char name[32];
        snprintf(name, sizeof name, "fp-%s", forms[i]);
        en_credential_t *in = en_credential_new(name, "interactive");
        en_credential_set_attr(in, "trust-password", s_fx.password);
        en_credential_set_attr(in, "server-fingerprint", i == 0 ? colons : s_fx.server_fp);
        en_credential_t *out = NULL;
        en_err_t err;
        s_ok(s_finalize(in, &out, &err), &err, "finalize with server-fingerprint");
        char trust_name[48];
        snprintf(trust_name, sizeof trust_name, "environs-%s", name);
        s_check_trusted(out, name, trust_name);
        en_credential_destroy(&out);
        en_credential_destroy(&in);
    }
}

//  --------------------------------------------------------------------------
//  A fake LXD (see the file's comment)

typedef struct {
    SSL_CTX *ctx;
    int listener;
    int port;
    char *info;        // GET /1.0's metadata, JSON text
    char posted[65];   // fingerprint of the client that POSTed /1.0/certificates
    char deleted[160]; // path of the last DELETE
    pthread_t thread;
} fake_t;

static int
s_verify_any(int ok, X509_STORE_CTX *ctx)
{
    (void)ok;
    (void)ctx;
    return 1; // ask for the client's certificate, take any
}

static void
s_fake_reply(SSL *ssl, int status, const char *metadata)
{
    char body[8192], head[256];
    snprintf(body, sizeof body,
             "{\"type\":\"%s\",\"status_code\":%d,\"error_code\":%d,"
             "\"error\":\"%s\",\"metadata\":%s}",
             status == 200 ? "sync" : "error", status == 200 ? 200 : 0, status == 200 ? 0 : status,
             status == 200 ? "" : "not found", metadata);
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, strlen(body));
    SSL_write(ssl, head, n);
    SSL_write(ssl, body, (int)strlen(body));
}

//  One request on one connection.
static void
s_fake_serve(fake_t *fake, int fd)
{
    SSL *ssl = SSL_new(fake->ctx);
    SSL_set_fd(ssl, fd);
    char buf[16384] = "";
    size_t len = 0;
    char *end = NULL;
    if (SSL_accept(ssl) != 1)
        goto done;
    while (!(end = strstr(buf, "\r\n\r\n"))) {
        int n = len < sizeof buf - 1 ? SSL_read(ssl, buf + len, (int)(sizeof buf - 1 - len)) : 0;
        if (n <= 0)
            goto done;
        len += (size_t)n;
        buf[len] = '\0';
    }
    const char *cl = strcasestr(buf, "Content-Length:");
    size_t want = (size_t)(end + 4 - buf) + (cl && cl < end ? strtoul(cl + 15, NULL, 10) : 0);
    while (len < want && len < sizeof buf - 1) {
        int n = SSL_read(ssl, buf + len, (int)(sizeof buf - 1 - len));
        if (n <= 0)
            goto done;
        len += (size_t)n;
        buf[len] = '\0';
    }
    char method[16], path[160];
    if (sscanf(buf, "%15s %159s", method, path) != 2)
        goto done;
    if (strcmp(method, "GET") == 0 && strcmp(path, "/1.0") == 0) {
        s_fake_reply(ssl, 200, fake->info);
    } else if (strcmp(method, "POST") == 0 && strcmp(path, "/1.0/certificates") == 0) {
        X509 *peer = SSL_get1_peer_certificate(ssl);
        unsigned char md[32];
        unsigned int n = 0;
        if (peer && X509_digest(peer, EVP_sha256(), md, &n) == 1)
            for (unsigned int i = 0; i < n; i++)
                snprintf(fake->posted + 2 * i, 3, "%02x", md[i]);
        X509_free(peer);
        s_fake_reply(ssl, 200, "{}");
    } else if (strcmp(method, "DELETE") == 0) {
        snprintf(fake->deleted, sizeof fake->deleted, "%s", path);
        s_fake_reply(ssl, 200, "{}");
    } else {
        s_fake_reply(ssl, 404, "null");
    }
done:
    SSL_shutdown(ssl);
    SSL_free(ssl);
    close(fd);
}

static void *
s_fake_run(void *arg)
{
    fake_t *fake = arg;
    int fd;
    while ((fd = accept(fake->listener, NULL, NULL)) >= 0)
        s_fake_serve(fake, fd);
    return NULL; // the listener was shut down
}

//  A fake LXD presenting dir/fake.crt, whose GET /1.0 answers info.
static void
s_fake_start(fake_t *fake, const char *dir, const char *info)
{
    memset(fake, 0, sizeof *fake);
    char cert[128], key[128];
    snprintf(cert, sizeof cert, "%s/fake.crt", dir);
    snprintf(key, sizeof key, "%s/fake.key", dir);
    fake->ctx = SSL_CTX_new(TLS_server_method());
    assert_non_null(fake->ctx);
    assert_int_equal(SSL_CTX_use_certificate_file(fake->ctx, cert, SSL_FILETYPE_PEM), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey_file(fake->ctx, key, SSL_FILETYPE_PEM), 1);
    SSL_CTX_set_verify(fake->ctx, SSL_VERIFY_PEER, s_verify_any);
    // curl resumes its TLS session on the next connection: OpenSSL needs
    // a session id context to resume one with a verified peer
    SSL_CTX_set_session_id_context(fake->ctx, (const unsigned char *)"en-fake", 7);
    fake->info = strdup(info);
    fake->listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    assert_int_equal(bind(fake->listener, (struct sockaddr *)&addr, sizeof addr), 0);
    assert_int_equal(listen(fake->listener, 8), 0);
    assert_int_equal(getsockname(fake->listener, (struct sockaddr *)&addr, &len), 0);
    fake->port = ntohs(addr.sin_port);
    assert_int_equal(pthread_create(&fake->thread, NULL, s_fake_run, fake), 0);
}

static void
s_fake_stop(fake_t *fake)
{
    shutdown(fake->listener, SHUT_RDWR); // accept returns
    pthread_join(fake->thread, NULL);
    close(fake->listener);
    SSL_CTX_free(fake->ctx);
    free(fake->info);
}

static char *
s_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *text = calloc(1, 16384);
    size_t n = fread(text, 1, 16383, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

static void
failure_after_the_post_removes_the_trust_again(void **state)
{
    (void)state;
    char dir[] = "/tmp/en-lxdcred-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "(cd %s && for c in fake other; do openssl req -x509 -newkey ec -pkeyopt "
             "ec_paramgen_curve:prime256v1 -nodes -keyout $c.key -out $c.crt -days 2 "
             "-subj /CN=$c || exit 1; done) >/dev/null 2>&1",
             dir);
    assert_int_equal(system(cmd), 0);
    char path[128];
    snprintf(path, sizeof path, "%s/other.crt", dir);
    char *other = s_slurp(path);
    // trusted, but naming a certificate other than the one presented
    json_t *info =
        json_pack("{s:s,s:{s:s}}", "auth", "trusted", "environment", "certificate", other);
    char *info_text = json_dumps(info, JSON_COMPACT);
    fake_t fake;
    s_fake_start(&fake, dir, info_text); // has read its certificate and key
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);

    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "https://127.0.0.1:%d", fake.port);
    en_credential_t *in = en_credential_new("after", "interactive");
    en_credential_set_attr(in, "trust-password", "pw");
    en_credential_t *out = NULL;
    en_err_t err;
    int rc = en_provider_builtin("lxd")->finalize_credential(in, endpoint, &out, &err);
    s_fake_stop(&fake);

    assert_int_equal(rc, -1);
    assert_null(out);
    if (err.kind != EN_NOT_VALID || !strstr(err.message, "says its certificate is"))
        fail_msg("message: %s", err.message);
    // the POSTed client certificate was deleted by its fingerprint
    assert_int_equal(strlen(fake.posted), 64);
    char want[160];
    snprintf(want, sizeof want, "/1.0/certificates/%s", fake.posted);
    assert_string_equal(fake.deleted, want);

    en_credential_destroy(&in);
    json_decref(info);
    free(info_text);
    free(other);
}

static void
no_server_is_unavailable(void **state)
{
    (void)state;
    en_credential_t *in = en_credential_new("none", "interactive");
    en_credential_set_attr(in, "trust-password", "x");
    en_credential_t *out = NULL;
    en_err_t err;
    // loopback port 1: nothing listens, the connection is refused at once
    assert_int_equal(
        en_provider_builtin("lxd")->finalize_credential(in, "https://127.0.0.1:1", &out, &err), -1);
    assert_null(out);
    if (err.kind != EN_UNAVAILABLE || !err.retryable)
        fail_msg("%s: %s", en_kind_name(err.kind), err.message);
    const char *want = "finalizing credential \"none\": ";
    assert_int_equal(strncmp(err.message, want, strlen(want)), 0);
    en_credential_destroy(&in);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(trust_password_gives_a_trusted_certificate),
        cmocka_unit_test(wrong_trust_password_is_unauthorized),
        cmocka_unit_test(token_gives_a_trusted_certificate_once),
        cmocka_unit_test(token_naming_another_server_is_refused_before_trust),
        cmocka_unit_test(server_fingerprint_mismatch_is_refused_before_trust),
        cmocka_unit_test(server_fingerprint_match_gives_a_trusted_certificate),
        cmocka_unit_test(failure_after_the_post_removes_the_trust_again),
        cmocka_unit_test(no_server_is_unavailable),
    };
    return cmocka_run_group_tests(tests, s_group_setup, s_group_teardown);
}
