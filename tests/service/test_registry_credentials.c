/*  The registry service in process: credentials and regions
    (docs/juju-environs.md §8.1, §8.2). Schemas and FinalizeCredential
    with Juju's exact messages; credentials.yaml written private and once;
    secrets hidden from listings and never kept in the registry's
    database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"

#include "service/registry_fixture.h"

#define FX ((fx_t *)*state)

//  --------------------------------------------------------------------------
//  Credentials (§8.1, §8.2)

static void
credential_schemas_of_sim_and_lxd(void **state)
{
    en_err_t err;
    En__CredentialSchemasRequest req = EN__CREDENTIAL_SCHEMAS_REQUEST__INIT;
    req.provider_type = "sim";
    En__CredentialSchemasResult *res = fx_call(FX, "CredentialSchemas", NULL, &req, &err);
    assert_non_null(res);
    assert_int_equal(res->n_schemas, 2);
    assert_string_equal(res->schemas[0]->auth_type, "empty");
    assert_int_equal(res->schemas[0]->n_attrs, 0);
    const En__CredentialSchema *up = res->schemas[1];
    assert_string_equal(up->auth_type, "userpass");
    assert_int_equal(up->n_attrs, 2);
    assert_string_equal(up->attrs[0]->name, "username");
    assert_false(up->attrs[0]->hidden);
    assert_false(up->attrs[0]->optional);
    assert_string_equal(up->attrs[0]->description, "The username to authenticate with.");
    assert_string_equal(up->attrs[1]->name, "password");
    assert_true(up->attrs[1]->hidden);
    assert_string_equal(up->attrs[1]->description, "The password for the specified username.");
    FX_FREE(res);

    // LXD 2.3+: the socket's empty, a client certificate, and interactive
    // (a trust password or token that FinalizeCredential trades for one)
    req.provider_type = "lxd";
    res = fx_call(FX, "CredentialSchemas", NULL, &req, &err);
    assert_non_null(res);
    assert_int_equal(res->n_schemas, 3);
    assert_string_equal(res->schemas[0]->auth_type, "empty");
    assert_int_equal(res->schemas[0]->n_attrs, 0);
    const En__CredentialSchema *cert = res->schemas[1];
    assert_string_equal(cert->auth_type, "certificate");
    assert_int_equal(cert->n_attrs, 3);
    assert_string_equal(cert->attrs[0]->name, "server-cert");
    assert_string_equal(cert->attrs[1]->name, "client-cert");
    assert_string_equal(cert->attrs[2]->name, "client-key");
    assert_true(cert->attrs[2]->hidden);
    assert_string_equal(cert->attrs[2]->file_attr, "client-key-file");
    assert_string_equal(res->schemas[2]->auth_type, "interactive");
    // trust-password, token and the server-fingerprint to check first
    assert_int_equal(res->schemas[2]->n_attrs, 3);
    assert_true(res->schemas[2]->attrs[0]->optional);
    assert_string_equal(res->schemas[2]->attrs[2]->name, "server-fingerprint");
    assert_false(res->schemas[2]->attrs[2]->hidden);
    FX_FREE(res);

    req.provider_type = "x";
    assert_null(fx_call(FX, "CredentialSchemas", NULL, &req, &err));
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_string_equal(err.message, "no registered provider for \"x\"");
    // a provider registered without a driver has no schemas to give
    assert_int_equal(fx_register(FX, "openstack", 0, NULL, &err), 0);
    req.provider_type = "openstack";
    assert_null(fx_call(FX, "CredentialSchemas", NULL, &req, &err));
    assert_int_equal(err.kind, EN_NOT_SUPPORTED);
    assert_string_equal(err.message, "provider \"openstack\" has no credential schemas");
}

static void
detect_credentials_gives_sim_an_empty_default_and_lxd_its_socket(void **state)
{
    en_err_t err;
    En__DetectCredentialsRequest req = EN__DETECT_CREDENTIALS_REQUEST__INIT;
    // Juju's NewEmptyCloudCredential, for the dummy-like sim
    req.provider_type = "sim";
    En__DetectCredentialsResult *res = fx_call(FX, "DetectCredentials", NULL, &req, &err);
    if (!res)
        fail_msg("DetectCredentials sim: %s", err.message);
    assert_int_equal(res->n_credentials, 1);
    assert_string_equal(res->credentials[0]->name, "default");
    assert_string_equal(res->credentials[0]->auth_type, "empty");
    assert_int_equal(res->credentials[0]->n_attributes, 0);
    FX_FREE(res);
    // lxd: `localhost` (empty) only when its unix socket is there, and no
    // lxc client configuration here (tests/unit/test_lxd_provider.c reads one)
    char path[512];
    snprintf(path, sizeof path, "%s/lxd.socket", FX->home);
    setenv("LXD_SOCKET", path, 1);
    setenv("LXD_CONF", FX->home, 1);
    req.provider_type = "lxd";
    assert_null(fx_call(FX, "DetectCredentials", NULL, &req, &err));
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_string_equal(err.message, "credentials not found");
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    assert_true(strlen(path) < sizeof addr.sun_path);
    memcpy(addr.sun_path, path, strlen(path) + 1);
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    close(fd);
    res = fx_call(FX, "DetectCredentials", NULL, &req, &err);
    if (!res)
        fail_msg("DetectCredentials lxd: %s", err.message);
    assert_int_equal(res->n_credentials, 1);
    assert_string_equal(res->credentials[0]->name, "localhost");
    assert_string_equal(res->credentials[0]->auth_type, "empty");
    FX_FREE(res);
    unlink(path);
    unsetenv("LXD_SOCKET");
    unsetenv("LXD_CONF");
}

static void
finalize_credential_uses_a_strict_schema(void **state)
{
    en_err_t err;
    fx_cred_t c;
    En__FinalizeCredentialRequest req = EN__FINALIZE_CREDENTIAL_REQUEST__INIT;
    req.provider_type = "sim";
    req.credential = &c.cred;

    fx_cred(&c, "x", "userpass", 3,
            (const char *[]){"username", "u", "password", "p", "access-key", "access-key"});
    assert_null(fx_call(FX, "FinalizeCredential", NULL, &req, &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message, "unknown key \"access-key\" (value \"access-key\")");

    fx_cred(&c, "x", "userpass", 1, (const char *[]){"password", "p"});
    assert_null(fx_call(FX, "FinalizeCredential", NULL, &req, &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message, "username: expected string, got nothing");

    fx_cred(&c, "x", "oauth2", 0, NULL);
    assert_null(fx_call(FX, "FinalizeCredential", NULL, &req, &err));
    assert_int_equal(err.kind, EN_NOT_SUPPORTED);
    assert_string_equal(err.message, "auth-type \"oauth2\" not supported");

    // a good one comes back whole, in schema order
    fx_cred(&c, "x", "userpass", 2, (const char *[]){"password", "p", "username", "u"});
    En__FinalizeCredentialResult *res = fx_call(FX, "FinalizeCredential", NULL, &req, &err);
    assert_non_null(res);
    assert_string_equal(res->credential->auth_type, "userpass");
    assert_int_equal(res->credential->n_attributes, 2);
    assert_string_equal(res->credential->attributes[0]->key, "username");
    assert_string_equal(res->credential->attributes[1]->key, "password");
    assert_string_equal(res->credential->attributes[1]->value, "p");
    FX_FREE(res);

    req.credential = NULL;
    assert_null(fx_call(FX, "FinalizeCredential", NULL, &req, &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message, "no credential to finalize");

    // then the provider's own step: lxd's interactive needs an https
    // endpoint to trade its secret for a certificate (tests/lxd does that)
    req.provider_type = "lxd";
    req.credential = &c.cred;
    fx_cred(&c, "x", "interactive", 1, (const char *[]){"trust-password", "pw"});
    req.cloud_endpoint = "";
    assert_null(fx_call(FX, "FinalizeCredential", NULL, &req, &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message,
                        "finalizing credential \"x\": the \"interactive\" auth-type needs an "
                        "https:// endpoint, got \"\" (the unix socket needs no credential: use "
                        "\"empty\")");
    fx_cred(&c, "x", "empty", 0, NULL);
    res = fx_call(FX, "FinalizeCredential", NULL, &req, &err);
    assert_non_null(res);
    assert_string_equal(res->credential->auth_type, "empty");
    FX_FREE(res);
}

static void
add_credential_writes_a_private_file_once(void **state)
{
    en_err_t err;
    fx_cred_t c;
    fx_cred(&c, "alice", "userpass", 2,
            (const char *[]){"username", "alice", "password", "s3cret"});
    assert_int_equal(fx_add_credential(FX, "sim", &c, false, &err), 0);
    struct stat st;
    char path[512];
    snprintf(path, sizeof path, "%s/credentials.yaml", FX->home);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char *text = fx_read(FX, "credentials.yaml", NULL);
    assert_string_equal(text, "credentials:\n"
                              "  sim:\n"
                              "    alice:\n"
                              "      auth-type: userpass\n"
                              "      username: alice\n"
                              "      password: s3cret\n");
    free(text);

    // the identical credential again (a resend) succeeds
    assert_int_equal(fx_add_credential(FX, "sim", &c, false, &err), 0);
    // so does one already in a file Juju wrote (go-yaml sorts the keys)
    fx_write(FX, "credentials.yaml",
             "credentials:\n"
             "  sim:\n"
             "    alice:\n"
             "      auth-type: userpass\n"
             "      password: s3cret\n"
             "      username: alice\n");
    if (fx_add_credential(FX, "sim", &c, false, &err))
        fail_msg("AddCredential over Juju's file: %s", err.message);
    // a different one under the same name does not...
    fx_cred(&c, "alice", "userpass", 2, (const char *[]){"username", "alice", "password", "new"});
    assert_int_equal(fx_add_credential(FX, "sim", &c, false, &err), -1);
    assert_int_equal(err.kind, EN_ALREADY_EXISTS);
    assert_string_equal(err.message, "credential \"alice\" for cloud \"sim\" already exists");
    assert_true(fx_file_contains(FX, "credentials.yaml", "s3cret"));
    // ...unless asked to replace
    assert_int_equal(fx_add_credential(FX, "sim", &c, true, &err), 0);
    assert_false(fx_file_contains(FX, "credentials.yaml", "s3cret"));
    assert_true(fx_file_contains(FX, "credentials.yaml", "password: new"));
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    // refused before anything is written: schema, reserved names, clouds
    fx_cred(&c, "bob", "userpass", 1, (const char *[]){"username", "bob"});
    assert_int_equal(fx_add_credential(FX, "sim", &c, false, &err), -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message, "password: expected string, got nothing");
    fx_cred(&c, "default-region", "empty", 0, NULL);
    assert_int_equal(fx_add_credential(FX, "sim", &c, false, &err), -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message, "credential name \"default-region\" not valid");
    fx_cred(&c, "carol", "", 0, NULL);
    assert_int_equal(fx_add_credential(FX, "sim", &c, false, &err), -1);
    assert_string_equal(err.message, "credentials.sim.carol: missing auth-type");
    fx_cred(&c, "dave", "empty", 0, NULL);
    assert_int_equal(fx_add_credential(FX, "nowhere", &c, false, &err), -1);
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_string_equal(err.message, "cloud nowhere not found");
    assert_false(fx_file_contains(FX, "credentials.yaml", "bob"));
    assert_false(fx_file_contains(FX, "credentials.yaml", "dave"));
}

static void
credentials_listing_hides_secrets_and_the_database_never_holds_them(void **state)
{
    en_err_t err;
    fx_write(FX, "clouds.yaml", FX_CLOUDS_YAML);
    fx_cred_t c;
    fx_cred(&c, "alice", "userpass", 2,
            (const char *[]){"username", "alice", "password", "hunter2-secret"});
    assert_int_equal(fx_add_credential(FX, "sim", &c, false, &err), 0);
    fx_cred(&c, "anon", "empty", 0, NULL);
    assert_int_equal(fx_add_credential(FX, "localhost", &c, false, &err), 0);

    En__CredentialsRequest req = EN__CREDENTIALS_REQUEST__INIT;
    En__CredentialsResult *res = fx_call(FX, "Credentials", NULL, &req, &err);
    assert_non_null(res);
    assert_int_equal(res->n_clouds, 2);
    assert_string_equal(res->clouds[0]->cloud_name, "sim");
    assert_string_equal(res->clouds[1]->cloud_name, "localhost");
    FX_FREE(res);

    req.cloud_name = "sim";
    res = fx_call(FX, "Credentials", NULL, &req, &err);
    assert_non_null(res);
    assert_int_equal(res->n_clouds, 1);
    assert_int_equal(res->clouds[0]->n_credentials, 1);
    const En__Credential *alice = res->clouds[0]->credentials[0];
    assert_string_equal(alice->name, "alice");
    assert_string_equal(alice->auth_type, "userpass");
    assert_string_equal(fx_attr(alice, "username"), "alice");
    assert_null(fx_attr(alice, "password"));
    assert_int_equal(alice->n_attributes, 1);
    FX_FREE(res);

    // a named credential resolves into a spec for a service...
    En__MakeCloudSpecRequest sreq = EN__MAKE_CLOUD_SPEC_REQUEST__INIT;
    sreq.cloud_name = "sim";
    sreq.credential_source_case = EN__MAKE_CLOUD_SPEC_REQUEST__CREDENTIAL_SOURCE_CREDENTIAL_NAME;
    sreq.credential_name = "alice";
    En__MakeCloudSpecResult *spec = fx_call(FX, "MakeCloudSpec", NULL, &sreq, &err);
    assert_non_null(spec);
    assert_string_equal(fx_attr(spec->cloud_spec->credential, "password"), "hunter2-secret");
    FX_FREE(spec);
    // ...but no secret is ever kept in the registry's database (replies of
    // committed changes are stored there for resends)
    const char *db_files[] = {"registry.db", "registry.db-wal", "registry.db-shm"};
    for (int i = 0; i < 3; i++)
        assert_false(fx_file_contains(FX, db_files[i], "hunter2-secret"));
}

//  --------------------------------------------------------------------------
//  Regions

static void
detect_regions_default_first(void **state)
{
    en_err_t err;
    En__DetectRegionsRequest req = EN__DETECT_REGIONS_REQUEST__INIT;
    req.provider_type = "sim";
    En__DetectRegionsResult *res = fx_call(FX, "DetectRegions", NULL, &req, &err);
    assert_non_null(res);
    assert_int_equal(res->n_regions, 2);
    assert_string_equal(res->regions[0]->name, "sim-east");
    assert_string_equal(res->regions[1]->name, "sim-west");
    FX_FREE(res);
    req.provider_type = "lxd";
    res = fx_call(FX, "DetectRegions", NULL, &req, &err);
    assert_non_null(res);
    assert_int_equal(res->n_regions, 1);
    assert_string_equal(res->regions[0]->name, "localhost");
    FX_FREE(res);
    req.provider_type = "x";
    assert_null(fx_call(FX, "DetectRegions", NULL, &req, &err));
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_string_equal(err.message, "no registered provider for \"x\"");
}

//  Everything the service logs while fn runs, at every level.
static char *
s_logged(fx_t *fx, void (*fn)(fx_t *))
{
    char path[512];
    snprintf(path, sizeof path, "%s/log.txt", fx->home);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
    en_log_set_level(EN_LOG_DEBUG);
    fn(fx);
    en_log_set_level(EN_LOG_INFO);
    dup2(saved, STDERR_FILENO);
    close(saved);
    return fx_read(fx, "log.txt", NULL);
}

static void
s_credential_traffic(fx_t *fx)
{
    en_err_t err;
    fx_cred_t c;
    fx_cred(&c, "alice", "userpass", 2,
            (const char *[]){"username", "alice", "password", "Sekrit-1"});
    assert_int_equal(fx_add_credential(fx, "sim", &c, false, &err), 0);
    // refused: a duplicate, a misspelt (unknown) key holding the secret
    fx_cred(&c, "alice", "userpass", 2,
            (const char *[]){"username", "alice", "password", "Sekrit-2"});
    assert_int_equal(fx_add_credential(fx, "sim", &c, false, &err), -1);
    fx_cred(&c, "bob", "userpass", 1, (const char *[]){"password", "Sekrit-3"});
    assert_int_equal(fx_add_credential(fx, "sim", &c, false, &err), -1);
    assert_string_equal(err.message, "username: expected string, got nothing");
    // a misspelt key: Juju's message quotes the value back to the caller
    fx_cred(&c, "erin", "userpass", 2,
            (const char *[]){"username", "erin", "pasword", "Sekrit-4"});
    assert_int_equal(fx_add_credential(fx, "sim", &c, false, &err), -1);
    assert_string_equal(err.message, "unknown key \"pasword\" (value \"Sekrit-4\")");
    // read back for a service
    En__MakeCloudSpecRequest sreq = EN__MAKE_CLOUD_SPEC_REQUEST__INIT;
    sreq.cloud_name = "sim";
    sreq.credential_source_case = EN__MAKE_CLOUD_SPEC_REQUEST__CREDENTIAL_SOURCE_CREDENTIAL_NAME;
    sreq.credential_name = "alice";
    void *spec = fx_call(fx, "MakeCloudSpec", NULL, &sreq, &err);
    assert_non_null(spec);
    FX_FREE(spec);
    // a hand-edited file whose password YAML reads as a number
    fx_write(fx, "credentials.yaml",
             "credentials:\n  sim:\n    carol:\n      auth-type: userpass\n"
             "      username: carol\n      password: 40961234\n");
    // every call that reads it says where and what, not the value
    En__CredentialsRequest lreq = EN__CREDENTIALS_REQUEST__INIT;
    assert_null(fx_call(fx, "Credentials", NULL, &lreq, &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message, "credentials.sim.carol.password: expected string, got int");
    assert_null(fx_call(fx, "MakeCloudSpec", NULL, &sreq, &err));
    assert_string_equal(err.message, "credentials.sim.carol.password: expected string, got int");
    fx_cred(&c, "dave", "empty", 0, NULL);
    assert_int_equal(fx_add_credential(fx, "sim", &c, false, &err), -1);
    assert_string_equal(err.message, "credentials.sim.carol.password: expected string, got int");
    En__OpenRequest oreq = EN__OPEN_REQUEST__INIT;
    oreq.name = "m";
    oreq.cloud_name = "sim";
    assert_null(fx_call(fx, "Open", NULL, &oreq, &err));
    assert_string_equal(err.message, "credentials.sim.carol.password: expected string, got int");
}

static void
no_secret_reaches_the_log(void **state)
{
    char *log = s_logged(FX, s_credential_traffic);
    assert_non_null(log);
    // the calls were logged...
    assert_non_null(strstr(log, "registry.AddCredential"));
    // ...but no secret, even from refused calls or a broken file
    const char *secrets[] = {"Sekrit-1", "Sekrit-2", "Sekrit-3", "Sekrit-4", "40961234"};
    for (int i = 0; i < 5; i++)
        if (strstr(log, secrets[i]))
            fail_msg("secret %s logged:\n%s", secrets[i], log);
    free(log);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(credential_schemas_of_sim_and_lxd),
        T(detect_credentials_gives_sim_an_empty_default_and_lxd_its_socket),
        T(finalize_credential_uses_a_strict_schema),
        T(add_credential_writes_a_private_file_once),
        T(credentials_listing_hides_secrets_and_the_database_never_holds_them),
        T(no_secret_reaches_the_log),
        T(detect_regions_default_first),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
