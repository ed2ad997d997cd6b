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
    core.* keys should. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
        cmocka_unit_test(no_server_is_unavailable),
    };
    return cmocka_run_group_tests(tests, s_group_setup, s_group_teardown);
}
