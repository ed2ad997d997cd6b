/*  The lxd provider's registration (lxd_provider.c): credential schemas,
    regions, the cloud spec check, DetectCredentials from a temporary lxc
    configuration, and the parts of FinalizeCredential that fail before
    talking to a server. No daemon: LXD_SOCKET, LXD_CONF and HOME point
    into a fresh mkdtemp directory per test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/cert.h"
#include "providers/lxd/lxd_client.h"
#include "providers/lxd/lxd_private.h"
#include "providers/provider.h"

//  lxd_provider.c: where a spec says LXD is (shared with lxd_compute.c).

typedef struct {
    char dir[64];
    char *server_cert, *server_key, *client_cert, *client_key;
} fixture_t;

#define FX ((fixture_t *)*state)

static const en_provider_t *
s_lxd(void)
{
    const en_provider_t *p = en_provider_builtin("lxd");
    assert_non_null(p);
    return p;
}

static void
s_write(const char *dir, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int
s_setup(void **state)
{
    fixture_t *fx = calloc(1, sizeof *fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/en-lxdprov-XXXXXX");
    if (!mkdtemp(fx->dir))
        return -1;
    char path[128];
    snprintf(path, sizeof path, "%s/no.socket", fx->dir);
    setenv("LXD_SOCKET", path, 1);
    snprintf(path, sizeof path, "%s/conf", fx->dir);
    mkdir(path, 0700);
    setenv("LXD_CONF", path, 1);
    setenv("HOME", fx->dir, 1);
    en_err_t err;
    if (en_client_cert_generate("server", &fx->server_cert, &fx->server_key, &err) ||
        en_client_cert_generate("client", &fx->client_cert, &fx->client_key, &err))
        return -1;
    *state = fx;
    return 0;
}

static int
s_teardown(void **state)
{
    fixture_t *fx = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx->dir);
    assert_int_equal(system(cmd), 0);
    free(fx->server_cert);
    free(fx->server_key);
    free(fx->client_cert);
    free(fx->client_key);
    free(fx);
    return 0;
}

//  --------------------------------------------------------------------------
//  Schemas and regions

static const en_cred_schema_t *
s_schema(const char *auth_type)
{
    const en_provider_t *p = s_lxd();
    for (size_t i = 0; i < p->schema_count; i++)
        if (strcmp(p->schemas[i].auth_type, auth_type) == 0)
            return &p->schemas[i];
    return NULL;
}

static void
schemas_are_empty_certificate_and_interactive(void **state)
{
    (void)state;
    assert_int_equal(s_lxd()->schema_count, 3);
    assert_string_equal(s_lxd()->schemas[0].auth_type, "empty");
    assert_int_equal(s_schema("empty")->attr_count, 0);

    const en_cred_schema_t *cert = s_schema("certificate");
    assert_non_null(cert);
    assert_int_equal(cert->attr_count, 3);
    const char *names[] = {"server-cert", "client-cert", "client-key"};
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(cert->attrs[i].name, names[i]);
        assert_false(cert->attrs[i].optional);
        assert_true(cert->attrs[i].hidden == (i == 2)); // only the key is a secret
        char file_attr[32];
        snprintf(file_attr, sizeof file_attr, "%s-file", names[i]);
        assert_string_equal(cert->attrs[i].file_attr, file_attr);
    }

    const en_cred_schema_t *inter = s_schema("interactive");
    assert_non_null(inter);
    assert_int_equal(inter->attr_count, 3);
    assert_string_equal(inter->attrs[0].name, "trust-password");
    assert_string_equal(inter->attrs[1].name, "token");
    assert_string_equal(inter->attrs[2].name, "server-fingerprint");
    for (size_t i = 0; i < 3; i++) {
        assert_true(inter->attrs[i].hidden == (i < 2)); // a fingerprint is no secret
        assert_true(inter->attrs[i].optional);
    }
}

static void
certificate_credential_reads_files_and_hides_the_key(void **state)
{
    s_write(FX->dir, "c.crt", FX->client_cert);
    s_write(FX->dir, "c.key", FX->client_key);
    char crt[128], key[128];
    snprintf(crt, sizeof crt, "%s/c.crt", FX->dir);
    snprintf(key, sizeof key, "%s/c.key", FX->dir);
    en_credential_t *in = en_credential_new("mine", "certificate");
    en_credential_set_attr(in, "client-key-file", key);
    en_credential_set_attr(in, "server-cert", FX->server_cert);
    en_credential_set_attr(in, "client-cert-file", crt);
    const en_provider_t *p = s_lxd();
    en_credential_t *out = NULL;
    en_err_t err;
    assert_int_equal(en_credential_finalize(in, p->schemas, p->schema_count, &out, &err), 0);
    assert_int_equal(out->attrs.count, 3);
    assert_string_equal(en_credential_attr(out, "client-cert"), FX->client_cert);
    assert_string_equal(en_credential_attr(out, "client-key"), FX->client_key);
    en_credential_t *shown = en_credential_remove_secrets(out, p->schemas, p->schema_count, &err);
    assert_non_null(shown);
    assert_null(en_credential_attr(shown, "client-key"));
    assert_non_null(en_credential_attr(shown, "client-cert"));
    en_credential_destroy(&shown);
    en_credential_destroy(&out);
    // missing key
    en_credential_t *bad = en_credential_new("mine", "certificate");
    en_credential_set_attr(bad, "server-cert", "x");
    en_credential_set_attr(bad, "client-cert", "y");
    assert_int_equal(en_credential_finalize(bad, p->schemas, p->schema_count, &out, &err), -1);
    assert_string_equal(err.message,
                        "either \"client-key\" or \"client-key-file\" must be specified");
    en_credential_destroy(&bad);
    en_credential_destroy(&in);
}

static void
regions_are_localhost(void **state)
{
    (void)state;
    en_region_t *regions = NULL;
    size_t n = 0;
    en_err_t err;
    assert_int_equal(s_lxd()->detect_regions(&regions, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(regions[0].name, "localhost");
    free(regions[0].name);
    free(regions);
}

//  --------------------------------------------------------------------------
//  Cloud spec

static int
s_prepare(const char *endpoint, const en_credential_t *cred, en_err_t *err)
{
    en_cloud_spec_t spec = {.type = "lxd",
                            .name = "localhost",
                            .endpoint = (char *)endpoint,
                            .credential = (en_credential_t *)cred};
    json_t *cfg = json_object();
    int rc = s_lxd()->prepare_config(&spec, cfg, err);
    json_decref(cfg);
    return rc;
}

static en_credential_t *
s_cert_cred(const char *server, const char *client, const char *key)
{
    en_credential_t *c = en_credential_new("c", "certificate");
    en_credential_set_attr(c, "server-cert", server);
    en_credential_set_attr(c, "client-cert", client);
    en_credential_set_attr(c, "client-key", key);
    return c;
}

static void
spec_unix_socket_needs_no_credential(void **state)
{
    en_err_t err;
    en_credential_t *empty = en_credential_new("e", "empty");
    en_credential_t *cert = s_cert_cred(FX->server_cert, FX->client_cert, FX->client_key);
    assert_int_equal(s_prepare("", NULL, &err), 0);
    assert_int_equal(s_prepare("", empty, &err), 0);
    assert_int_equal(s_prepare("", cert, &err), 0); // accepted, and ignored
    assert_int_equal(s_prepare("unix:/var/lib/lxd/unix.socket", empty, &err), 0);
    en_cloud_spec_t spec = {.type = "lxd", .name = "localhost", .endpoint = "unix:/run/x.socket"};
    en_lxd_config_t cfg;
    assert_int_equal(lxd_spec_config(&spec, &cfg, &err), 0);
    assert_string_equal(cfg.socket_path, "/run/x.socket");
    assert_null(cfg.endpoint);
    spec.endpoint = "unix:///run/y.socket";
    assert_int_equal(lxd_spec_config(&spec, &cfg, &err), 0);
    assert_string_equal(cfg.socket_path, "/run/y.socket");
    spec.endpoint = "";
    spec.credential = cert;
    assert_int_equal(lxd_spec_config(&spec, &cfg, &err), 0);
    assert_null(cfg.socket_path); // the client's default
    assert_null(cfg.client_cert);

    assert_int_equal(s_prepare("unix:lxd.socket", empty, &err), -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message, "validating cloud spec: endpoint \"unix:lxd.socket\" not "
                                     "valid: the socket path must be absolute");
    en_credential_destroy(&empty);
    en_credential_destroy(&cert);
}

static void
spec_https_needs_a_certificate_credential(void **state)
{
    en_err_t err;
    const char *url = "https://127.0.0.1:8443";
    en_credential_t *empty = en_credential_new("e", "empty");
    assert_int_equal(s_prepare(url, empty, &err), -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message, "validating cloud spec: endpoint \"https://127.0.0.1:8443\" "
                                     "needs a \"certificate\" credential, got \"empty\"");
    assert_int_equal(s_prepare(url, NULL, &err), -1);
    assert_int_equal(err.kind, EN_NOT_VALID);

    en_credential_t *cert = s_cert_cred(FX->server_cert, FX->client_cert, FX->client_key);
    assert_int_equal(s_prepare(url, cert, &err), 0);
    en_cloud_spec_t spec = {
        .type = "lxd", .name = "r", .endpoint = (char *)url, .credential = cert};
    en_lxd_config_t cfg;
    assert_int_equal(lxd_spec_config(&spec, &cfg, &err), 0);
    assert_string_equal(cfg.endpoint, url);
    assert_null(cfg.socket_path);
    assert_string_equal(cfg.server_cert, FX->server_cert);
    assert_string_equal(cfg.client_cert, FX->client_cert);
    assert_string_equal(cfg.client_key, FX->client_key);
    assert_int_equal(s_prepare("https://lxd.example.com", cert, &err), 0);

    en_credential_t *bad = s_cert_cred("not pem", FX->client_cert, FX->client_key);
    assert_int_equal(s_prepare(url, bad, &err), -1);
    assert_string_equal(err.message, "validating cloud spec: certificate credential: "
                                     "\"server-cert\" is not a PEM certificate");
    en_credential_destroy(&bad);
    bad = s_cert_cred(FX->server_cert, FX->client_cert, FX->client_cert);
    assert_int_equal(s_prepare(url, bad, &err), -1);
    assert_string_equal(err.message, "validating cloud spec: certificate credential: "
                                     "\"client-key\" is not a PEM private key");
    en_credential_destroy(&bad);
    en_credential_destroy(&empty);
    en_credential_destroy(&cert);
}

static void
spec_refuses_other_endpoints_and_auth_types(void **state)
{
    en_err_t err;
    en_credential_t *cert = s_cert_cred(FX->server_cert, FX->client_cert, FX->client_key);
    const char *bad[] = {"1.2.3.4",    "http://127.0.0.1:8443", "https://",
                         "https:///x", "127.0.0.1:8443",        "https://u@host"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(s_prepare(bad[i], cert, &err), -1);
        assert_int_equal(err.kind, EN_NOT_VALID);
        char want[256];
        snprintf(want, sizeof want,
                 "validating cloud spec: endpoint \"%s\" not valid: expected "
                 "\"https://<host>[:<port>]\" or \"unix:<socket path>\"",
                 bad[i]);
        assert_string_equal(err.message, want);
    }
    en_credential_t *up = en_credential_new("u", "userpass");
    assert_int_equal(s_prepare("", up, &err), -1);
    assert_int_equal(err.kind, EN_NOT_SUPPORTED);
    assert_string_equal(err.message, "validating cloud spec: \"userpass\" auth-type not supported");
    en_credential_t *inter = en_credential_new("i", "interactive");
    assert_int_equal(s_prepare("https://127.0.0.1:8443", inter, &err), -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message,
                        "validating cloud spec: \"interactive\" credential not finalized "
                        "(FinalizeCredential makes it a \"certificate\" credential)");
    en_credential_destroy(&inter);
    en_credential_destroy(&up);
    en_credential_destroy(&cert);
}

//  --------------------------------------------------------------------------
//  DetectCredentials

static void
s_make_socket(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    close(fd); // the file stays: that is all detection looks at
}

static const en_credential_t *
s_find(const en_cloud_credentials_t *cc, const char *name)
{
    return en_cloud_credentials_find((en_cloud_credentials_t *)cc, name);
}

static void
detect_finds_nothing(void **state)
{
    (void)state;
    en_cloud_credentials_t *cc = NULL;
    en_err_t err;
    assert_int_equal(s_lxd()->detect_credentials(&cc, &err), -1);
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_string_equal(err.message, "credentials not found");
    assert_null(cc);
    // a regular file where the socket should be is no daemon
    s_write(FX->dir, "no.socket", "");
    assert_int_equal(s_lxd()->detect_credentials(&cc, &err), -1);
    assert_int_equal(err.kind, EN_NOT_FOUND);
}

static void
detect_local_socket_is_localhost_empty(void **state)
{
    char path[128];
    snprintf(path, sizeof path, "%s/unix.socket", FX->dir);
    s_make_socket(path);
    setenv("LXD_SOCKET", path, 1);
    en_cloud_credentials_t *cc = NULL;
    en_err_t err;
    assert_int_equal(s_lxd()->detect_credentials(&cc, &err), 0);
    assert_int_equal(cc->count, 1);
    assert_string_equal(cc->credentials[0]->name, "localhost");
    assert_string_equal(cc->credentials[0]->auth_type, "empty");
    assert_string_equal(cc->credentials[0]->label, "LXD credential \"localhost\"");
    assert_int_equal(cc->credentials[0]->attrs.count, 0);
    en_cloud_credentials_destroy(&cc);
    // $LXD_DIR/unix.socket when LXD_SOCKET is not set
    unsetenv("LXD_SOCKET");
    setenv("LXD_DIR", FX->dir, 1);
    assert_int_equal(s_lxd()->detect_credentials(&cc, &err), 0);
    assert_int_equal(cc->count, 1);
    en_cloud_credentials_destroy(&cc);
    unsetenv("LXD_DIR");
}

#define S_CONFIG_YML                                                                               \
    "default-remote: far\n"                                                                        \
    "remotes:\n"                                                                                   \
    "  images:\n"                                                                                  \
    "    addr: https://images.linuxcontainers.org\n"                                               \
    "    protocol: simplestreams\n"                                                                \
    "    public: true\n"                                                                           \
    "  local:\n"                                                                                   \
    "    addr: unix://\n"                                                                          \
    "    public: false\n"                                                                          \
    "  far:\n"                                                                                     \
    "    addr: https://192.0.2.10:8443\n"                                                          \
    "    auth_type: tls\n"                                                                         \
    "    protocol: lxd\n"                                                                          \
    "  near:\n"                                                                                    \
    "    addr: https://198.51.100.7:8443\n"                                                        \
    "  nocert:\n"                                                                                  \
    "    addr: https://203.0.113.1:8443\n"                                                         \
    "aliases: {}\n"

static void
s_lxc_conf(fixture_t *fx, const char *base)
{
    char dir[160], sc[192];
    snprintf(dir, sizeof dir, "%s/%s", fx->dir, base);
    snprintf(sc, sizeof sc, "%s/servercerts", dir);
    mkdir(dir, 0700);
    mkdir(sc, 0700);
    s_write(dir, "config.yml", S_CONFIG_YML);
    s_write(dir, "client.crt", fx->client_cert);
    s_write(dir, "client.key", fx->client_key);
    s_write(sc, "far.crt", fx->server_cert);
    s_write(sc, "near.crt", "near's certificate");
    s_write(sc, "images.crt", fx->server_cert); // an image server is no credential
}

static void
s_check_remotes(fixture_t *fx, const en_cloud_credentials_t *cc)
{
    const en_credential_t *far = s_find(cc, "far"), *near = s_find(cc, "near");
    assert_non_null(far);
    assert_non_null(near);
    assert_null(s_find(cc, "images"));
    assert_null(s_find(cc, "local"));
    assert_null(s_find(cc, "nocert")); // its server certificate was never recorded
    assert_string_equal(far->auth_type, "certificate");
    assert_string_equal(far->label, "LXD credential \"far\"");
    assert_string_equal(en_credential_attr(far, "server-cert"), fx->server_cert);
    assert_string_equal(en_credential_attr(far, "client-cert"), fx->client_cert);
    assert_string_equal(en_credential_attr(far, "client-key"), fx->client_key);
    assert_string_equal(en_credential_attr(near, "server-cert"), "near's certificate");
    assert_string_equal(cc->default_credential, "far"); // lxc's default-remote
}

static void
detect_reads_the_lxc_remotes(void **state)
{
    s_lxc_conf(FX, "conf");
    en_cloud_credentials_t *cc = NULL;
    en_err_t err;
    assert_int_equal(s_lxd()->detect_credentials(&cc, &err), 0);
    assert_int_equal(cc->count, 2);
    s_check_remotes(FX, cc);
    en_cloud_credentials_destroy(&cc);
    // with the socket too: three, the remotes first
    char path[128];
    snprintf(path, sizeof path, "%s/unix.socket", FX->dir);
    s_make_socket(path);
    setenv("LXD_SOCKET", path, 1);
    assert_int_equal(s_lxd()->detect_credentials(&cc, &err), 0);
    assert_int_equal(cc->count, 3);
    s_check_remotes(FX, cc);
    assert_string_equal(cc->credentials[2]->name, "localhost");
    en_cloud_credentials_destroy(&cc);
}

static void
detect_uses_home_without_lxd_conf(void **state)
{
    char dir[128];
    snprintf(dir, sizeof dir, "%s/.config", FX->dir);
    mkdir(dir, 0700);
    s_lxc_conf(FX, ".config/lxc");
    unsetenv("LXD_CONF");
    en_cloud_credentials_t *cc = NULL;
    en_err_t err;
    assert_int_equal(s_lxd()->detect_credentials(&cc, &err), 0);
    assert_int_equal(cc->count, 2);
    s_check_remotes(FX, cc);
    en_cloud_credentials_destroy(&cc);
    char conf[128];
    snprintf(conf, sizeof conf, "%s/conf", FX->dir);
    setenv("LXD_CONF", conf, 1);
}

static void
detect_needs_the_client_key_and_yaml(void **state)
{
    s_lxc_conf(FX, "conf");
    char path[160];
    snprintf(path, sizeof path, "%s/conf/client.key", FX->dir);
    unlink(path);
    en_cloud_credentials_t *cc = NULL;
    en_err_t err;
    assert_int_equal(s_lxd()->detect_credentials(&cc, &err), -1);
    assert_int_equal(err.kind, EN_NOT_FOUND);
    // not YAML: skipped, and the socket still counts
    snprintf(path, sizeof path, "%s/conf", FX->dir);
    s_write(path, "client.key", FX->client_key);
    s_write(path, "config.yml", "remotes: [\n  :\n");
    snprintf(path, sizeof path, "%s/unix.socket", FX->dir);
    s_make_socket(path);
    setenv("LXD_SOCKET", path, 1);
    assert_int_equal(s_lxd()->detect_credentials(&cc, &err), 0);
    assert_int_equal(cc->count, 1);
    assert_string_equal(cc->credentials[0]->name, "localhost");
    assert_string_equal(cc->default_credential, "");
    en_cloud_credentials_destroy(&cc);
    // lxc's default remote "local" is the socket
    snprintf(path, sizeof path, "%s/conf", FX->dir);
    s_write(path, "config.yml", "default-remote: local\nremotes: {local: {addr: 'unix://'}}\n");
    assert_int_equal(s_lxd()->detect_credentials(&cc, &err), 0);
    assert_int_equal(cc->count, 1);
    assert_string_equal(cc->default_credential, "localhost");
    en_cloud_credentials_destroy(&cc);
}

//  --------------------------------------------------------------------------
//  FinalizeCredential, up to the point where it would talk to a server

static int
s_finalize(const en_credential_t *in, const char *endpoint, en_credential_t **out, en_err_t *err)
{
    const en_provider_t *p = s_lxd();
    assert_non_null(p->finalize_credential);
    en_credential_t *checked = NULL;
    if (en_credential_finalize(in, p->schemas, p->schema_count, &checked, err))
        return -1;
    int rc = p->finalize_credential(checked, endpoint, out, err);
    en_credential_destroy(&checked);
    return rc;
}

static void
finalize_keeps_final_credentials(void **state)
{
    en_credential_t *cert = s_cert_cred(FX->server_cert, FX->client_cert, FX->client_key);
    en_credential_t *out = NULL;
    en_err_t err;
    assert_int_equal(s_finalize(cert, "https://127.0.0.1:8443", &out, &err), 0);
    assert_true(en_credential_equal(cert, out));
    en_credential_destroy(&out);
    en_credential_t *empty = en_credential_new("e", "empty");
    assert_int_equal(s_finalize(empty, "", &out, &err), 0);
    assert_string_equal(out->auth_type, "empty");
    en_credential_destroy(&out);
    en_credential_destroy(&empty);
    en_credential_destroy(&cert);
}

static void
finalize_interactive_refuses_before_connecting(void **state)
{
    (void)state;
    en_credential_t *in = en_credential_new("x", "interactive");
    en_credential_t *out = NULL;
    en_err_t err;
    en_credential_set_attr(in, "trust-password", "pw");
    assert_int_equal(s_finalize(in, "", &out, &err), -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message,
                        "finalizing credential \"x\": the \"interactive\" auth-type needs an "
                        "https:// endpoint, got \"\" (the unix socket needs no credential: use "
                        "\"empty\")");
    en_credential_set_attr(in, "token", "tok");
    assert_int_equal(s_finalize(in, "https://127.0.0.1:8443", &out, &err), -1);
    assert_string_equal(err.message, "finalizing credential \"x\": specifying both \"token\" and "
                                     "\"trust-password\" not valid");
    en_credential_t *none = en_credential_new("x", "interactive");
    assert_int_equal(s_finalize(none, "https://127.0.0.1:8443", &out, &err), -1);
    assert_string_equal(err.message, "finalizing credential \"x\": either \"token\" or "
                                     "\"trust-password\" must be specified");
    en_credential_t *tok = en_credential_new("x", "interactive");
    en_credential_set_attr(tok, "token", "bm90IGpzb24="); // "not json"
    assert_int_equal(s_finalize(tok, "https://127.0.0.1:8443", &out, &err), -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message,
                        "finalizing credential \"x\": token is not an LXD certificate add token");
    assert_null(out);
    // a server-fingerprint that is not one
    static const char *const bad_fps[] = {
        "abc", "zz00000000000000000000000000000000000000000000000000000000000000",
        "00000000000000000000000000000000000000000000000000000000000000000", // 65
    };
    for (size_t i = 0; i < sizeof bad_fps / sizeof bad_fps[0]; i++) {
        en_credential_t *fp = en_credential_new("x", "interactive");
        en_credential_set_attr(fp, "trust-password", "pw");
        en_credential_set_attr(fp, "server-fingerprint", bad_fps[i]);
        assert_int_equal(s_finalize(fp, "https://127.0.0.1:1", &out, &err), -1);
        assert_int_equal(err.kind, EN_NOT_VALID);
        assert_string_equal(err.message,
                            "finalizing credential \"x\": \"server-fingerprint\" is not a SHA-256 "
                            "fingerprint (64 hex digits, colons allowed)");
        en_credential_destroy(&fp);
    }
    en_credential_destroy(&tok);
    en_credential_destroy(&none);
    en_credential_destroy(&in);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(schemas_are_empty_certificate_and_interactive),
        cmocka_unit_test_setup_teardown(certificate_credential_reads_files_and_hides_the_key,
                                        s_setup, s_teardown),
        cmocka_unit_test(regions_are_localhost),
        cmocka_unit_test_setup_teardown(spec_unix_socket_needs_no_credential, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(spec_https_needs_a_certificate_credential, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(spec_refuses_other_endpoints_and_auth_types, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(detect_finds_nothing, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(detect_local_socket_is_localhost_empty, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(detect_reads_the_lxc_remotes, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(detect_uses_home_without_lxd_conf, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(detect_needs_the_client_key_and_yaml, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(finalize_keeps_final_credentials, s_setup, s_teardown),
        cmocka_unit_test(finalize_interactive_refuses_before_connecting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
