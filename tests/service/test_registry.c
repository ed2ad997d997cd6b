/*  The registry service in process: the provider registry, clouds and
    cloud specs (docs/juju-environs.md §1 A statements 1–3, 6–7; §8.2).
    Every test has its own state directory; calls go through the real
    dispatcher, so kinds and messages are the ones a client gets.

    tests/e2e/test_registry.c drives the same service over real processes;
    this file goes deeper on each behaviour (exact messages, file contents
    and modes, races between replicas). Credentials and regions are in
    test_registry_credentials.c, models in test_registry_models.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "service/registry_fixture.h"

#define FX ((fx_t *)*state)

//  --------------------------------------------------------------------------
//  Provider registry (statements 1–3)

static void
register_provider_checks_names_and_aliases_against_both(void **state)
{
    en_err_t err;
    char *a1[] = {"os", "ostack"};
    assert_int_equal(fx_register(FX, "openstack", 2, a1, &err), 0);

    // a name that is already an alias
    assert_int_equal(fx_register(FX, "ostack", 0, NULL, &err), -1);
    assert_int_equal(err.kind, EN_ALREADY_EXISTS);
    assert_string_equal(err.message, "duplicate provider name \"ostack\"");
    // an alias that is already a name (a built-in one, too)
    char *a2[] = {"fresh-alias", "sim"};
    assert_int_equal(fx_register(FX, "maas", 2, a2, &err), -1);
    assert_int_equal(err.kind, EN_ALREADY_EXISTS);
    assert_string_equal(err.message, "duplicate provider alias \"sim\"");
    // an alias that is already someone else's alias
    char *a3[] = {"os"};
    assert_int_equal(fx_register(FX, "maas", 1, a3, &err), -1);
    assert_string_equal(err.message, "duplicate provider alias \"os\"");
    // alias = own name (Juju's TestRegisterProvider)
    char *a4[] = {"providerName"};
    assert_int_equal(fx_register(FX, "providerName", 1, a4, &err), -1);
    assert_int_equal(err.kind, EN_ALREADY_EXISTS);
    assert_string_equal(err.message, "duplicate provider alias \"providerName\"");
    // an empty name
    assert_int_equal(fx_register(FX, "", 0, NULL, &err), -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message, "empty provider name not valid");

    // an empty alias: proto3 cannot tell "" from absent, so a provider
    // owning "" would answer every call that names no provider
    char *a6[] = {""};
    assert_int_equal(fx_register(FX, "maas", 1, a6, &err), -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message, "empty provider alias not valid");

    // a failed registration leaves nothing behind: neither the name nor
    // the aliases that came before the clash
    En__ProviderRequest preq = EN__PROVIDER_REQUEST__INIT;
    const char *gone[] = {"maas", "fresh-alias", "providerName", ""};
    for (int i = 0; i < 4; i++) {
        preq.type = (char *)gone[i];
        assert_null(fx_call(FX, "Provider", NULL, &preq, &err));
        assert_int_equal(err.kind, EN_NOT_FOUND);
    }
    char *a5[] = {"fresh-alias"};
    assert_int_equal(fx_register(FX, "maas", 1, a5, &err), 0);
}

static void
registered_providers_lists_names_never_aliases(void **state)
{
    en_err_t err;
    char *aliases[] = {"zz-alias", "aa-alias"};
    assert_int_equal(fx_register(FX, "openstack", 2, aliases, &err), 0);
    En__RegisteredProvidersRequest req = EN__REGISTERED_PROVIDERS_REQUEST__INIT;
    En__RegisteredProvidersResult *res = fx_call(FX, "RegisteredProviders", NULL, &req, &err);
    assert_non_null(res);
    assert_int_equal(res->n_names, 3);
    assert_string_equal(res->names[0], "lxd");
    assert_string_equal(res->names[1], "openstack");
    assert_string_equal(res->names[2], "sim");
    FX_FREE(res);
}

static void
provider_resolves_an_alias_to_the_provider(void **state)
{
    en_err_t err;
    En__RegisterProviderRequest reg = EN__REGISTER_PROVIDER_REQUEST__INIT;
    char *aliases[] = {"os2", "os1"};
    char *auth[] = {"userpass", "access-key"};
    reg.name = "openstack";
    reg.n_aliases = 2;
    reg.aliases = aliases;
    reg.n_auth_types = 2;
    reg.auth_types = auth;
    void *r = fx_call(FX, "RegisterProvider", NULL, &reg, &err);
    assert_non_null(r);
    FX_FREE(r);

    En__ProviderRequest req = EN__PROVIDER_REQUEST__INIT;
    req.type = "os1";
    En__ProviderResult *res = fx_call(FX, "Provider", NULL, &req, &err);
    assert_non_null(res);
    assert_string_equal(res->provider->name, "openstack");
    assert_int_equal(res->provider->n_aliases, 2);
    assert_string_equal(res->provider->aliases[0], "os1");
    assert_string_equal(res->provider->aliases[1], "os2");
    assert_int_equal(res->provider->n_auth_types, 2);
    assert_string_equal(res->provider->auth_types[0], "userpass");
    assert_string_equal(res->provider->auth_types[1], "access-key");
    FX_FREE(res);

    // a built-in answers with its driver's auth types
    req.type = "sim";
    res = fx_call(FX, "Provider", NULL, &req, &err);
    assert_non_null(res);
    assert_string_equal(res->provider->name, "sim");
    assert_int_equal(res->provider->n_aliases, 0);
    assert_int_equal(res->provider->n_auth_types, 2);
    assert_string_equal(res->provider->auth_types[0], "empty");
    assert_string_equal(res->provider->auth_types[1], "userpass");
    FX_FREE(res);

    req.type = "x";
    assert_null(fx_call(FX, "Provider", NULL, &req, &err));
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_string_equal(err.message, "no registered provider for \"x\"");
}

//  Two replicas on one home, one worker thread each, started together.
typedef struct {
    en_dispatcher_t *d;
    int round;
    bool alias_side; // register "<round>-b" with alias "<round>-a" instead
    en_err_t err;
    int rc;
} racer_t;

static void *
s_racer(void *arg)
{
    racer_t *r = arg;
    char name[32], alias[32];
    snprintf(name, sizeof name, "race-%d-%s", r->round, r->alias_side ? "b" : "a");
    snprintf(alias, sizeof alias, "race-%d-a", r->round);
    char *aliases[] = {alias};
    En__RegisterProviderRequest req = EN__REGISTER_PROVIDER_REQUEST__INIT;
    req.name = name;
    req.n_aliases = r->alias_side ? 1 : 0;
    req.aliases = aliases;
    ProtobufCMessage *res = NULL;
    en_err_clear(&r->err);
    r->rc = en_dispatcher_call(r->d, "RegisterProvider", NULL, &req.base, &res, &r->err);
    FX_FREE(res);
    return NULL;
}

static void
two_replicas_racing_for_one_name_exactly_one_wins(void **state)
{
    en_err_t err;
    en_dispatcher_t *d2 = fx_replica(FX);
    enum { ROUNDS = 40 };
    for (int round = 0; round < ROUNDS; round++) {
        // even rounds: both register the same name; odd rounds: one
        // registers a name the other wants as an alias
        racer_t a = {.d = FX->d, .round = round};
        racer_t b = {.d = d2, .round = round, .alias_side = round % 2};
        fx_together(s_racer, &a, &b);
        assert_int_equal((a.rc == 0) + (b.rc == 0), 1);
        racer_t *loser = a.rc ? &a : &b;
        assert_int_equal(loser->err.kind, EN_ALREADY_EXISTS);
        char want[96];
        if (round % 2 == 0)
            snprintf(want, sizeof want, "duplicate provider name \"race-%d-a\"", round);
        else if (loser == &a)
            snprintf(want, sizeof want, "duplicate provider name \"race-%d-a\"", round);
        else
            snprintf(want, sizeof want, "duplicate provider alias \"race-%d-a\"", round);
        assert_string_equal(loser->err.message, want);
    }
    // both replicas see the same registry: 2 built-ins + one per round
    en_dispatcher_t *ds[] = {FX->d, d2};
    for (int i = 0; i < 2; i++) {
        En__RegisteredProvidersRequest req = EN__REGISTERED_PROVIDERS_REQUEST__INIT;
        ProtobufCMessage *res = NULL;
        assert_int_equal(
            en_dispatcher_call(ds[i], "RegisteredProviders", NULL, &req.base, &res, &err), 0);
        assert_int_equal(((En__RegisteredProvidersResult *)res)->n_names, 2 + ROUNDS);
        FX_FREE(res);
    }
}

//  --------------------------------------------------------------------------
//  Clouds

static const En__Cloud *
s_find_cloud(const En__CloudsResult *res, const char *name)
{
    for (size_t i = 0; i < res->n_clouds; i++)
        if (strcmp(res->clouds[i]->name, name) == 0)
            return res->clouds[i];
    return NULL;
}

static void
clouds_yaml_is_listed_in_order_over_builtins(void **state)
{
    en_err_t err;
    fx_write(FX, "clouds.yaml", FX_CLOUDS_YAML);
    En__CloudsRequest req = EN__CLOUDS_REQUEST__INIT;
    En__CloudsResult *res = fx_call(FX, "Clouds", NULL, &req, &err);
    assert_non_null(res);
    // built-in localhost, then the personal clouds in file order; the
    // personal sim replaces the built-in one
    assert_int_equal(res->n_clouds, 3);
    assert_string_equal(res->clouds[0]->name, "localhost");
    assert_string_equal(res->clouds[1]->name, "mystack");
    assert_string_equal(res->clouds[2]->name, "sim");

    const En__Cloud *os = s_find_cloud(res, "mystack");
    assert_string_equal(os->type, "openstack");
    assert_int_equal(os->n_auth_types, 2);
    assert_string_equal(os->auth_types[0], "userpass");
    assert_string_equal(os->auth_types[1], "access-key");
    assert_string_equal(os->endpoint, "https://keystone.example.com:5000/v2.0");
    assert_int_equal(os->n_regions, 2);
    assert_string_equal(os->regions[0]->name, "RegionOne");
    // a blank region endpoint inherits the cloud's (denormaliseMetadata)
    assert_string_equal(os->regions[0]->endpoint, "https://keystone.example.com:5000/v2.0");
    assert_string_equal(os->regions[1]->name, "RegionTwo");
    assert_string_equal(os->regions[1]->endpoint, "https://keystone2.example.com:5000/v2.0");
    assert_string_equal(os->config_json, "{\"use-floating-ip\":true}");
    assert_string_equal(os->region_config_json, "{\"RegionOne\":{\"network\":\"private-net\"}}");

    const En__Cloud *sim = s_find_cloud(res, "sim");
    assert_string_equal(sim->endpoint, "https://sim.example.com");
    assert_int_equal(sim->n_regions, 3);
    assert_string_equal(sim->regions[0]->name, "zulu");
    assert_string_equal(sim->regions[1]->name, "alpha");
    assert_string_equal(sim->regions[2]->name, "mike");
    assert_string_equal(sim->regions[1]->endpoint, "https://sim.example.com");
    FX_FREE(res);

    // Cloud answers the personal definition too
    En__CloudRequest creq = EN__CLOUD_REQUEST__INIT;
    creq.name = "sim";
    En__CloudResult *one = fx_call(FX, "Cloud", NULL, &creq, &err);
    assert_non_null(one);
    assert_string_equal(one->cloud->regions[0]->name, "zulu");
    assert_string_equal(one->cloud->regions[0]->storage_endpoint,
                        "https://store.zulu.sim.example.com");
    FX_FREE(one);
    creq.name = "localhost";
    one = fx_call(FX, "Cloud", NULL, &creq, &err);
    assert_non_null(one);
    assert_string_equal(one->cloud->type, "lxd");
    assert_string_equal(one->cloud->regions[0]->name, "localhost");
    FX_FREE(one);
}

static void
s_region(En__Region *r, const char *name, const char *endpoint)
{
    en__region__init(r);
    r->name = (char *)name;
    r->endpoint = (char *)endpoint;
}

static void
add_cloud_round_trips_and_refuses_a_different_definition(void **state)
{
    en_err_t err;
    En__Region r1, r2;
    s_region(&r1, "north", "https://north.example.com");
    s_region(&r2, "south", "");
    En__Region *regions[] = {&r1, &r2};
    char *auth[] = {"userpass", "empty"};
    En__Cloud cloud = EN__CLOUD__INIT;
    cloud.name = "mycloud";
    cloud.type = "sim";
    cloud.description = "My own sim";
    cloud.n_auth_types = 2;
    cloud.auth_types = auth;
    cloud.endpoint = "https://example.com";
    cloud.n_regions = 2;
    cloud.regions = regions;
    cloud.config_json = "{\"development\":true,\"ratio\":2.5,\"retries\":3,\"tag\":\"x\"}";
    cloud.region_config_json = "{\"north\":{\"network\":\"n-net\",\"use-floating-ip\":false}}";
    En__AddCloudRequest req = EN__ADD_CLOUD_REQUEST__INIT;
    req.cloud = &cloud;
    void *ok = fx_call(FX, "AddCloud", NULL, &req, &err);
    assert_non_null(ok);
    FX_FREE(ok);

    struct stat st;
    char path[512];
    snprintf(path, sizeof path, "%s/clouds.yaml", FX->home);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    En__CloudRequest creq = EN__CLOUD_REQUEST__INIT;
    creq.name = "mycloud";
    En__CloudResult *got = fx_call(FX, "Cloud", NULL, &creq, &err);
    assert_non_null(got);
    const En__Cloud *c = got->cloud;
    assert_string_equal(c->name, "mycloud");
    assert_string_equal(c->type, "sim");
    assert_string_equal(c->description, "My own sim");
    assert_int_equal(c->n_auth_types, 2);
    assert_string_equal(c->auth_types[0], "userpass");
    assert_string_equal(c->auth_types[1], "empty");
    assert_string_equal(c->endpoint, "https://example.com");
    assert_int_equal(c->n_regions, 2);
    assert_string_equal(c->regions[0]->name, "north");
    assert_string_equal(c->regions[0]->endpoint, "https://north.example.com");
    assert_string_equal(c->regions[1]->name, "south");
    assert_string_equal(c->regions[1]->endpoint, "https://example.com");
    assert_string_equal(c->config_json,
                        "{\"development\":true,\"ratio\":2.5,\"retries\":3,\"tag\":\"x\"}");
    assert_string_equal(c->region_config_json,
                        "{\"north\":{\"network\":\"n-net\",\"use-floating-ip\":false}}");
    FX_FREE(got);
    assert_true(fx_file_contains(FX, "clouds.yaml", "region-config:"));

    // the identical definition again (a resend) succeeds
    ok = fx_call(FX, "AddCloud", NULL, &req, &err);
    assert_non_null(ok);
    FX_FREE(ok);
    // a different one under the same name does not...
    cloud.endpoint = "https://elsewhere.example.com";
    assert_null(fx_call(FX, "AddCloud", NULL, &req, &err));
    assert_int_equal(err.kind, EN_ALREADY_EXISTS);
    assert_string_equal(err.message, "cloud \"mycloud\" already exists");
    // ...unless asked to replace
    req.replace = true;
    ok = fx_call(FX, "AddCloud", NULL, &req, &err);
    assert_non_null(ok);
    FX_FREE(ok);
    got = fx_call(FX, "Cloud", NULL, &creq, &err);
    assert_non_null(got);
    assert_string_equal(got->cloud->endpoint, "https://elsewhere.example.com");
    // south inherits the new cloud endpoint
    assert_string_equal(got->cloud->regions[1]->endpoint, "https://elsewhere.example.com");
    FX_FREE(got);
}

static void
add_cloud_resent_as_is_stays_idempotent(void **state)
{
    // Juju decodes numbers in config as float64 (`k2: 2.0`); a whole float
    // must come back a float, and the same request again must match
    en_err_t err;
    En__Cloud cloud = EN__CLOUD__INIT;
    cloud.name = "floaty";
    cloud.type = "sim";
    cloud.config_json = "{\"k2\":2.0}";
    En__AddCloudRequest req = EN__ADD_CLOUD_REQUEST__INIT;
    req.cloud = &cloud;
    for (int i = 0; i < 2; i++) {
        void *ok = fx_call(FX, "AddCloud", NULL, &req, &err);
        if (!ok)
            fail_msg("AddCloud #%d: %s", i + 1, err.message);
        FX_FREE(ok);
    }
    // a cloud the file gives defaults to (an lxd cloud's description)
    cloud.name = "mylxd";
    cloud.type = "lxd";
    cloud.config_json = "";
    for (int i = 0; i < 2; i++) {
        void *ok = fx_call(FX, "AddCloud", NULL, &req, &err);
        if (!ok)
            fail_msg("AddCloud mylxd #%d: %s", i + 1, err.message);
        FX_FREE(ok);
    }
    En__CloudRequest creq = EN__CLOUD_REQUEST__INIT;
    creq.name = "floaty";
    En__CloudResult *got = fx_call(FX, "Cloud", NULL, &creq, &err);
    assert_non_null(got);
    assert_string_equal(got->cloud->config_json, "{\"k2\":2.0}");
    FX_FREE(got);
}

static void
a_cloud_read_back_is_an_identical_add_cloud(void **state)
{
    // what Cloud answers, sent back to AddCloud, is the same cloud: YAML
    // key order, number text (`ratio: 2.0`) and region-config survive
    en_err_t err;
    fx_write(FX, "clouds.yaml", FX_CLOUDS_YAML);
    En__CloudRequest creq = EN__CLOUD_REQUEST__INIT;
    creq.name = "sim";
    En__CloudResult *got = fx_call(FX, "Cloud", NULL, &creq, &err);
    assert_non_null(got);
    assert_string_equal(got->cloud->config_json, "{\"development\":true,\"logging-config\":"
                                                 "\"<root>=DEBUG\",\"pi\":3.1415926500000002,"
                                                 "\"ratio\":2.0}");
    assert_string_equal(got->cloud->region_config_json,
                        "{\"alpha\":{\"logging-config\":\"<root>=TRACE\"}}");
    En__AddCloudRequest req = EN__ADD_CLOUD_REQUEST__INIT;
    req.cloud = got->cloud;
    void *ok = fx_call(FX, "AddCloud", NULL, &req, &err);
    if (!ok)
        fail_msg("AddCloud of Cloud's answer: %s", err.message);
    FX_FREE(ok);
    // nothing needed writing
    char *text = fx_read(FX, "clouds.yaml", NULL);
    assert_string_equal(text, FX_CLOUDS_YAML);
    free(text);

    // replacing it with itself keeps every value: precision included
    req.replace = true;
    ok = fx_call(FX, "AddCloud", NULL, &req, &err);
    assert_non_null(ok);
    FX_FREE(ok);
    FX_FREE(got);
    got = fx_call(FX, "Cloud", NULL, &creq, &err);
    assert_non_null(got);
    assert_string_equal(got->cloud->config_json, "{\"development\":true,\"logging-config\":"
                                                 "\"<root>=DEBUG\",\"pi\":3.1415926500000002,"
                                                 "\"ratio\":2.0}");
    assert_string_equal(got->cloud->region_config_json,
                        "{\"alpha\":{\"logging-config\":\"<root>=TRACE\"}}");
    FX_FREE(got);
    assert_true(fx_file_contains(FX, "clouds.yaml", "pi: 3.14159265\n"));
}

//  One replica adding its own clouds while another adds others.
typedef struct {
    en_dispatcher_t *d;
    const char *prefix;
    int failures;
} adder_t;

enum { ADDS = 15 };

static void *
s_adder(void *arg)
{
    adder_t *a = arg;
    for (int i = 0; i < ADDS; i++) {
        char name[32];
        snprintf(name, sizeof name, "%s-%d", a->prefix, i);
        En__Cloud cloud = EN__CLOUD__INIT;
        cloud.name = name;
        cloud.type = "sim";
        En__AddCloudRequest req = EN__ADD_CLOUD_REQUEST__INIT;
        req.cloud = &cloud;
        ProtobufCMessage *res = NULL;
        en_err_t err;
        if (en_dispatcher_call(a->d, "AddCloud", NULL, &req.base, &res, &err))
            a->failures++;
        FX_FREE(res);
    }
    return NULL;
}

static void
replicas_adding_clouds_together_lose_none(void **state)
{
    // clouds.yaml is read, changed and written back under the file lock,
    // so neither replica's write drops the other's cloud
    en_err_t err;
    adder_t a = {.d = FX->d, .prefix = "left"};
    adder_t b = {.d = fx_replica(FX), .prefix = "right"};
    fx_together(s_adder, &a, &b);
    assert_int_equal(a.failures + b.failures, 0);
    En__CloudsRequest req = EN__CLOUDS_REQUEST__INIT;
    En__CloudsResult *res = fx_call(FX, "Clouds", NULL, &req, &err);
    assert_non_null(res);
    assert_int_equal(res->n_clouds, 2 + 2 * ADDS); // + sim, localhost
    FX_FREE(res);
}

static void
add_cloud_refuses_unknown_types_and_bad_names(void **state)
{
    en_err_t err;
    En__Cloud cloud = EN__CLOUD__INIT;
    cloud.name = "c1";
    cloud.type = "x";
    En__AddCloudRequest req = EN__ADD_CLOUD_REQUEST__INIT;
    req.cloud = &cloud;
    assert_null(fx_call(FX, "AddCloud", NULL, &req, &err));
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_string_equal(err.message, "no registered provider for \"x\"");
    cloud.type = "";
    assert_null(fx_call(FX, "AddCloud", NULL, &req, &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message, "cloud \"c1\": empty Type not valid");
    cloud.type = "sim";
    cloud.name = "bad name";
    assert_null(fx_call(FX, "AddCloud", NULL, &req, &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message, "cloud name \"bad name\" not valid");
    req.cloud = NULL;
    assert_null(fx_call(FX, "AddCloud", NULL, &req, &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message, "cloud has no name");
    // nothing was written
    assert_null(fx_read(FX, "clouds.yaml", NULL));

    // a type known by alias only is accepted
    char *aliases[] = {"os"};
    assert_int_equal(fx_register(FX, "openstack", 1, aliases, &err), 0);
    req.cloud = &cloud;
    cloud.name = "c1";
    cloud.type = "os";
    void *ok = fx_call(FX, "AddCloud", NULL, &req, &err);
    assert_non_null(ok);
    FX_FREE(ok);
}

static void
malformed_clouds_yaml_is_not_valid_and_other_calls_still_answer(void **state)
{
    en_err_t err;
    fx_write(FX, "clouds.yaml", "clouds:\n  broken: [unclosed\n");
    En__CloudsRequest lreq = EN__CLOUDS_REQUEST__INIT;
    assert_null(fx_call(FX, "Clouds", NULL, &lreq, &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_memory_equal(err.message, "cannot unmarshal yaml cloud metadata: ", 38);
    En__CloudRequest creq = EN__CLOUD_REQUEST__INIT;
    creq.name = "sim";
    assert_null(fx_call(FX, "Cloud", NULL, &creq, &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_non_null(strstr(err.message, "cannot unmarshal yaml cloud metadata"));
    // AddCloud refuses too and leaves the file as it was
    En__Cloud cloud = EN__CLOUD__INIT;
    cloud.name = "c1";
    cloud.type = "sim";
    En__AddCloudRequest areq = EN__ADD_CLOUD_REQUEST__INIT;
    areq.cloud = &cloud;
    assert_null(fx_call(FX, "AddCloud", NULL, &areq, &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    char *text = fx_read(FX, "clouds.yaml", NULL);
    assert_string_equal(text, "clouds:\n  broken: [unclosed\n");
    free(text);

    // calls that do not read clouds.yaml answer as before
    En__RegisteredProvidersRequest preq = EN__REGISTERED_PROVIDERS_REQUEST__INIT;
    En__RegisteredProvidersResult *names = fx_call(FX, "RegisteredProviders", NULL, &preq, &err);
    assert_non_null(names);
    assert_int_equal(names->n_names, 2);
    FX_FREE(names);
    En__DetectRegionsRequest dreq = EN__DETECT_REGIONS_REQUEST__INIT;
    dreq.provider_type = "sim";
    void *regions = fx_call(FX, "DetectRegions", NULL, &dreq, &err);
    assert_non_null(regions);
    FX_FREE(regions);
    // and once the file is fixed, clouds answer again
    fx_write(FX, "clouds.yaml", FX_CLOUDS_YAML);
    En__CloudsResult *list = fx_call(FX, "Clouds", NULL, &lreq, &err);
    assert_non_null(list);
    assert_int_equal(list->n_clouds, 3);
    FX_FREE(list);
}

//  --------------------------------------------------------------------------
//  MakeCloudSpec (statements 6–7)

static En__CloudSpec *
s_spec(fx_t *fx, const char *cloud, const char *region, En__MakeCloudSpecResult **res,
       en_err_t *err)
{
    En__MakeCloudSpecRequest req = EN__MAKE_CLOUD_SPEC_REQUEST__INIT;
    req.cloud_name = (char *)cloud;
    req.region_name = (char *)region;
    *res = fx_call(fx, "MakeCloudSpec", NULL, &req, err);
    return *res ? (*res)->cloud_spec : NULL;
}

static void
make_cloud_spec_validates_type_and_cloud_name(void **state)
{
    en_err_t err;
    char yaml[4096];
    snprintf(yaml, sizeof yaml,
             "%s"
             "  untyped:\n"
             "    endpoint: https://untyped.example.com\n"
             "  bad!name:\n"
             "    type: sim\n",
             FX_CLOUDS_YAML);
    fx_write(FX, "clouds.yaml", yaml);
    En__MakeCloudSpecResult *res;
    assert_null(s_spec(FX, "untyped", "", &res, &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message, "empty Type not valid");
    assert_null(s_spec(FX, "bad!name", "", &res, &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message, "cloud name \"bad!name\" not valid");
    assert_null(s_spec(FX, "nowhere", "", &res, &err));
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_string_equal(err.message, "cloud nowhere not found");
}

static void
make_cloud_spec_takes_the_region_endpoints(void **state)
{
    en_err_t err;
    fx_write(FX, "clouds.yaml", FX_CLOUDS_YAML);
    En__MakeCloudSpecResult *res;
    // no region: the cloud-level endpoints
    En__CloudSpec *s = s_spec(FX, "mystack", "", &res, &err);
    assert_non_null(s);
    assert_string_equal(s->type, "openstack");
    assert_string_equal(s->name, "mystack");
    assert_string_equal(s->region, "");
    assert_string_equal(s->endpoint, "https://keystone.example.com:5000/v2.0");
    assert_null(s->credential);
    FX_FREE(res);
    // a region with its own endpoint replaces the cloud's, found
    // case-insensitively and kept as given
    s = s_spec(FX, "mystack", "regiontwo", &res, &err);
    assert_non_null(s);
    assert_string_equal(s->region, "regiontwo");
    assert_string_equal(s->endpoint, "https://keystone2.example.com:5000/v2.0");
    FX_FREE(res);
    // every endpoint is the region's: storage set, identity blank
    s = s_spec(FX, "sim", "Zulu", &res, &err);
    assert_non_null(s);
    assert_string_equal(s->endpoint, "https://zulu.sim.example.com");
    assert_string_equal(s->storage_endpoint, "https://store.zulu.sim.example.com");
    assert_string_equal(s->identity_endpoint, "");
    FX_FREE(res);
    // a null region inherits the cloud's
    s = s_spec(FX, "sim", "alpha", &res, &err);
    assert_non_null(s);
    assert_string_equal(s->endpoint, "https://sim.example.com");
    assert_string_equal(s->storage_endpoint, "");
    FX_FREE(res);
}

static void
make_cloud_spec_names_unknown_regions_and_credentials(void **state)
{
    en_err_t err;
    fx_write(FX, "clouds.yaml", FX_CLOUDS_YAML);
    En__MakeCloudSpecResult *res;
    assert_null(s_spec(FX, "sim", "nowhere", &res, &err));
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_string_equal(err.message, "getting cloud region definition: region \"nowhere\" not "
                                     "found (expected one of [\"alpha\" \"mike\" \"zulu\"])");
    assert_null(s_spec(FX, "mystack", "RegionThree", &res, &err));
    assert_string_equal(err.message,
                        "getting cloud region definition: region \"RegionThree\" not found "
                        "(expected one of [\"RegionOne\" \"RegionTwo\"])");

    En__MakeCloudSpecRequest req = EN__MAKE_CLOUD_SPEC_REQUEST__INIT;
    req.cloud_name = "sim";
    req.region_name = "mike";
    req.credential_source_case = EN__MAKE_CLOUD_SPEC_REQUEST__CREDENTIAL_SOURCE_CREDENTIAL_NAME;
    req.credential_name = "bob";
    assert_null(fx_call(FX, "MakeCloudSpec", NULL, &req, &err));
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_string_equal(err.message, "credential \"bob\" for cloud \"sim\" not found");

    // an inline credential travels in the spec as given
    fx_cred_t c;
    fx_cred(&c, "inline", "userpass", 2, (const char *[]){"username", "u", "password", "p"});
    req.credential_source_case = EN__MAKE_CLOUD_SPEC_REQUEST__CREDENTIAL_SOURCE_CREDENTIAL;
    req.credential = &c.cred;
    res = fx_call(FX, "MakeCloudSpec", NULL, &req, &err);
    assert_non_null(res);
    assert_non_null(res->cloud_spec->credential);
    assert_string_equal(res->cloud_spec->credential->auth_type, "userpass");
    assert_string_equal(fx_attr(res->cloud_spec->credential, "password"), "p");
    FX_FREE(res);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(register_provider_checks_names_and_aliases_against_both),
        T(registered_providers_lists_names_never_aliases),
        T(provider_resolves_an_alias_to_the_provider),
        T(two_replicas_racing_for_one_name_exactly_one_wins),
        T(clouds_yaml_is_listed_in_order_over_builtins),
        T(add_cloud_round_trips_and_refuses_a_different_definition),
        T(add_cloud_resent_as_is_stays_idempotent),
        T(a_cloud_read_back_is_an_identical_add_cloud),
        T(replicas_adding_clouds_together_lose_none),
        T(add_cloud_refuses_unknown_types_and_bad_names),
        T(malformed_clouds_yaml_is_not_valid_and_other_calls_still_answer),
        T(make_cloud_spec_validates_type_and_cloud_name),
        T(make_cloud_spec_takes_the_region_endpoints),
        T(make_cloud_spec_names_unknown_regions_and_credentials),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
