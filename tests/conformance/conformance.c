/*  conformance.c — the numbered statements of docs/juju-environs.md §1,
    each run as its own CTest test against a freshly started gateway and
    registry, broker, firewaller and networking (real processes,
    loopback). `conformance sNNN` runs one statement; the table at the bottom is the list of statements
    covered. Later issues add their statements to the table; the broker's
    (§1 C, D, I) live in conformance_broker.c, the firewaller's (§1 G) in
    conformance_firewall.c, the networking service's (§1 H) in
    conformance_network.c. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "common/cert.h"
#include "bus/envelope.h"
#include "bus/mdp.h"
#include "conformance.h"
#include "environ.pb-c.h"

harness_t H;
int conf_failures;

void *
conf_call(const char *method, const char *model, const void *req,
          const ProtobufCMessageDescriptor *rd, en_err_t *err)
{
    ProtobufCMessage *res = NULL;
    en_err_clear(err);
    en_client_call(H.client, EN_PUBLIC_SERVICE, method, model, req, rd, &res, 15000, err);
    return res;
}

static en_err_t s_register(const char *name, char **aliases, size_t n)
{
    En__RegisterProviderRequest req = EN__REGISTER_PROVIDER_REQUEST__INIT;
    req.name = (char *) name;
    req.aliases = aliases;
    req.n_aliases = n;
    en_err_t err;
    void *res =
        conf_call("RegisterProvider", NULL, &req, &en__register_provider_result__descriptor, &err);
    FREE(res);
    return err;
}

//  1. RegisterProvider rejects duplicate names and aliases.
static void
s001_register_provider_rejects_duplicates(void)
{
    char *a[] = {"a1", "a2"};
    en_err_t err = s_register("p1", a, 2);
    CHECK(err.kind == EN_OK, "first registration: %s", err.message);
    err = s_register("p1", NULL, 0);
    CHECK_ERR(err, EN_ALREADY_EXISTS, "duplicate provider name \"p1\"");
    err = s_register("a1", NULL, 0);
    CHECK_ERR(err, EN_ALREADY_EXISTS, "duplicate provider name \"a1\"");
    char *same[] = {"providerName"};
    err = s_register("providerName", same, 1);
    CHECK_ERR(err, EN_ALREADY_EXISTS, "duplicate provider alias \"providerName\"");
    char *twice[] = {"b1", "b1"};
    err = s_register("p2", twice, 2);
    CHECK_ERR(err, EN_ALREADY_EXISTS, "duplicate provider alias \"b1\"");
    char *taken[] = {"a2"};
    err = s_register("p3", taken, 1);
    CHECK_ERR(err, EN_ALREADY_EXISTS, "duplicate provider alias \"a2\"");
}

//  2. Provider lookup resolves aliases; unknown is NotFound.
static void
s002_provider_lookup_resolves_aliases(void)
{
    char *a[] = {"alias-x"};
    s_register("px", a, 1);
    En__ProviderRequest req = EN__PROVIDER_REQUEST__INIT;
    req.type = "alias-x";
    en_err_t err;
    En__ProviderResult *res =
        conf_call("Provider", NULL, &req, &en__provider_result__descriptor, &err);
    CHECK(res && strcmp(res->provider->name, "px") == 0, "alias resolves to px");
    FREE(res);
    req.type = "unknown-type";
    res = conf_call("Provider", NULL, &req, &en__provider_result__descriptor, &err);
    CHECK(!res, "unknown type has no provider");
    CHECK_ERR(err, EN_NOT_FOUND, "no registered provider for \"unknown-type\"");
}

//  3. RegisteredProviders returns names, never aliases.
static void
s003_registered_providers_excludes_aliases(void)
{
    char *a[] = {"only-alias"};
    s_register("named", a, 1);
    En__RegisteredProvidersRequest req = EN__REGISTERED_PROVIDERS_REQUEST__INIT;
    en_err_t err;
    En__RegisteredProvidersResult *res = conf_call(
        "RegisteredProviders", NULL, &req, &en__registered_providers_result__descriptor, &err);
    CHECK(res != NULL, "RegisteredProviders: %s", err.message);
    bool named = false, alias = false, sim = false;
    for (size_t i = 0; res && i < res->n_names; i++) {
        named |= !strcmp(res->names[i], "named");
        alias |= !strcmp(res->names[i], "only-alias");
        sim |= !strcmp(res->names[i], "sim");
    }
    CHECK(named && sim && !alias, "names only");
    FREE(res);
}

En__Model *
conf_open(const char *name, const char *cloud, const char *json, en_err_t *err)
{
    En__OpenRequest req = EN__OPEN_REQUEST__INIT;
    En__ConfigAttrs cfg = EN__CONFIG_ATTRS__INIT;
    cfg.json = (char *) (json ? json : "{}");
    req.name = (char *) name;
    req.cloud_name = (char *) cloud;
    req.config = &cfg;
    En__OpenResult *res = conf_call("Open", NULL, &req, &en__open_result__descriptor, err);
    if (!res)
        return NULL;
    En__Model *m = res->model;
    res->model = NULL;
    FREE(res);
    return m;
}

//  4. Open is cheap: it never talks to the cloud. A sim cloud whose
//  database cannot even exist still opens.
static void
s004_open_does_not_touch_the_cloud(void)
{
    En__AddCloudRequest req = EN__ADD_CLOUD_REQUEST__INIT;
    En__Cloud cloud = EN__CLOUD__INIT;
    En__Region region = EN__REGION__INIT;
    En__Region *regions[] = {&region};
    char *auth[] = {"empty"};
    cloud.name = "unreachable";
    cloud.type = "sim";
    cloud.endpoint = "/nonexistent/dir/cloud.db";
    cloud.auth_types = auth;
    cloud.n_auth_types = 1;
    region.name = "r1";
    cloud.regions = regions;
    cloud.n_regions = 1;
    req.cloud = &cloud;
    en_err_t err;
    void *res = conf_call("AddCloud", NULL, &req, &en__add_cloud_result__descriptor, &err);
    CHECK(res != NULL, "AddCloud: %s", err.message);
    FREE(res);
    En__Model *m = conf_open("cheap", "unreachable", NULL, &err);
    CHECK(m != NULL, "Open on an unreachable cloud: %s", err.message);
    FREE(m);
}

//  5. SetConfig then Config returns the new config; an invalid config is
//  refused and leaves the old one in place.
static void
s005_set_config_then_config(void)
{
    en_err_t err;
    En__Model *m = conf_open("cfg", "sim", NULL, &err);
    CHECK(m != NULL, "Open: %s", err.message);
    if (!m)
        return;
    En__SetConfigRequest req = EN__SET_CONFIG_REQUEST__INIT;
    En__ConfigAttrs cfg = EN__CONFIG_ATTRS__INIT;
    req.config = &cfg;
    cfg.json = "{\"default-series\":\"focal\"}";
    void *res = conf_call("SetConfig", m->uuid, &req, &en__set_config_result__descriptor, &err);
    CHECK(res != NULL, "SetConfig: %s", err.message);
    FREE(res);
    cfg.json = "{\"default-series\":\"jammy\",\"development\":\"not-a-bool\"}";
    res = conf_call("SetConfig", m->uuid, &req, &en__set_config_result__descriptor, &err);
    CHECK(!res && err.kind == EN_NOT_VALID, "invalid config refused");
    FREE(res);
    En__ConfigRequest creq = EN__CONFIG_REQUEST__INIT;
    En__ConfigResult *got =
        conf_call("Config", m->uuid, &creq, &en__config_result__descriptor, &err);
    CHECK(got && strstr(got->config->json, "\"default-series\":\"focal\""),
          "the valid change stands and the invalid one left no trace");
    FREE(got);
    FREE(m);
}

static En__PrepareConfigResult *
s_prepare(const char *type, const char *name, const char *endpoint, const char *json,
          en_err_t *err)
{
    En__PrepareConfigRequest req = EN__PREPARE_CONFIG_REQUEST__INIT;
    En__CloudSpec spec = EN__CLOUD_SPEC__INIT;
    En__ConfigAttrs cfg = EN__CONFIG_ATTRS__INIT;
    spec.type = (char *) type;
    spec.name = (char *) name;
    spec.endpoint = (char *) endpoint;
    cfg.json = (char *) json;
    req.cloud = &spec;
    req.config = &cfg;
    return conf_call("PrepareConfig", NULL, &req, &en__prepare_config_result__descriptor, err);
}

#define BASE_CFG "{\"name\":\"m\",\"uuid\":\"0b1d5a54-2f43-4a6c-9d33-6c7f4e2e9f10\"}"

//  6. CloudSpec validation errors.
static void
s006_cloud_spec_validate(void)
{
    en_err_t err;
    En__PrepareConfigResult *res = s_prepare("", "sim", "", BASE_CFG, &err);
    CHECK(!res, "empty type refused");
    CHECK_ERR(err, EN_NOT_VALID, "validating cloud spec: empty Type not valid");
    FREE(res);
    res = s_prepare("sim", "bad/name", "", BASE_CFG, &err);
    CHECK(!res, "bad cloud name refused");
    CHECK_ERR(err, EN_NOT_VALID, "validating cloud spec: cloud name \"bad/name\" not valid");
    FREE(res);
}

//  7. MakeCloudSpec: case-insensitive region lookup, region endpoints
//  replace the cloud's, unknown region names the sorted choices.
static void
s007_make_cloud_spec_regions(void)
{
    En__AddCloudRequest add = EN__ADD_CLOUD_REQUEST__INIT;
    En__Cloud cloud = EN__CLOUD__INIT;
    En__Region ra = EN__REGION__INIT, rb = EN__REGION__INIT;
    En__Region *regions[] = {&rb, &ra};
    char *auth[] = {"empty"};
    cloud.name = "two";
    cloud.type = "sim";
    cloud.endpoint = "/cloud/level.db";
    cloud.auth_types = auth;
    cloud.n_auth_types = 1;
    rb.name = "b";
    rb.endpoint = "/region/b.db";
    ra.name = "a";
    cloud.regions = regions;
    cloud.n_regions = 2;
    add.cloud = &cloud;
    en_err_t err;
    void *r = conf_call("AddCloud", NULL, &add, &en__add_cloud_result__descriptor, &err);
    CHECK(r != NULL, "AddCloud: %s", err.message);
    FREE(r);
    En__MakeCloudSpecRequest req = EN__MAKE_CLOUD_SPEC_REQUEST__INIT;
    req.cloud_name = "two";
    req.region_name = "B";
    En__MakeCloudSpecResult *res =
        conf_call("MakeCloudSpec", NULL, &req, &en__make_cloud_spec_result__descriptor, &err);
    CHECK(res && strcmp(res->cloud_spec->endpoint, "/region/b.db") == 0,
          "region endpoint replaces the cloud's (%s)", err.message);
    FREE(res);
    req.region_name = "a";
    res = conf_call("MakeCloudSpec", NULL, &req, &en__make_cloud_spec_result__descriptor, &err);
    CHECK(res && strcmp(res->cloud_spec->endpoint, "/cloud/level.db") == 0,
          "a blank region endpoint inherits the cloud's");
    FREE(res);
    req.region_name = "c";
    res = conf_call("MakeCloudSpec", NULL, &req, &en__make_cloud_spec_result__descriptor, &err);
    CHECK(!res, "unknown region refused");
    CHECK_ERR(err, EN_NOT_FOUND,
              "getting cloud region definition: region \"c\" not found (expected one of "
              "[\"a\" \"b\"])");
    FREE(res);
}

//  13. PrepareConfig is deterministic and validates the cloud spec.
static void
s013_prepare_config_deterministic_and_validating(void)
{
    en_err_t err;
    En__PrepareConfigResult *a = s_prepare("sim", "sim", "", BASE_CFG, &err);
    En__PrepareConfigResult *b = s_prepare("sim", "sim", "", BASE_CFG, &err);
    CHECK(a && b && strcmp(a->config->json, b->config->json) == 0, "same input, same output");
    FREE(a);
    FREE(b);
    // LXD 2.3+ (not 2.0's "non-empty endpoint"): a malformed endpoint is
    // refused, an https one without a certificate credential too
    En__PrepareConfigResult *c = s_prepare("lxd", "localhost", "1.2.3.4", BASE_CFG, &err);
    CHECK(!c, "lxd with a malformed endpoint refused");
    CHECK_ERR(err, EN_NOT_VALID,
              "validating cloud spec: endpoint \"1.2.3.4\" not valid: expected "
              "\"https://<host>[:<port>]\" or \"unix:<socket path>\"");
    FREE(c);
    c = s_prepare("lxd", "localhost", "https://127.0.0.1:8443", BASE_CFG, &err);
    CHECK(!c, "lxd over https without a certificate credential refused");
    CHECK_ERR(err, EN_NOT_VALID,
              "validating cloud spec: endpoint \"https://127.0.0.1:8443\" needs a "
              "\"certificate\" credential, got \"empty\"");
    FREE(c);
    c = s_prepare("lxd", "localhost", "", BASE_CFG, &err);
    CHECK(c != NULL, "lxd on the unix socket accepted (%s)", err.message);
    FREE(c);
    // and a certificate credential over https is accepted (never contacted)
    char *cert = NULL, *key = NULL;
    CHECK(en_client_cert_generate("conformance", &cert, &key, &err) == 0, "client cert: %s",
          err.message);
    En__Credential__AttributesEntry kv[3], *kvp[3] = {&kv[0], &kv[1], &kv[2]};
    const char *keys[3] = {"server-cert", "client-cert", "client-key"};
    const char *vals[3] = {cert, cert, key};
    for (int i = 0; i < 3; i++) {
        en__credential__attributes_entry__init(&kv[i]);
        kv[i].key = (char *)keys[i];
        kv[i].value = (char *)vals[i];
    }
    En__Credential cred = EN__CREDENTIAL__INIT;
    cred.name = "c";
    cred.auth_type = "certificate";
    cred.attributes = kvp;
    cred.n_attributes = 3;
    En__PrepareConfigRequest req = EN__PREPARE_CONFIG_REQUEST__INIT;
    En__CloudSpec spec = EN__CLOUD_SPEC__INIT;
    En__ConfigAttrs cfg = EN__CONFIG_ATTRS__INIT;
    spec.type = "lxd";
    spec.name = "localhost";
    spec.endpoint = "https://127.0.0.1:8443";
    spec.credential = &cred;
    cfg.json = BASE_CFG;
    req.cloud = &spec;
    req.config = &cfg;
    c = conf_call("PrepareConfig", NULL, &req, &en__prepare_config_result__descriptor, &err);
    CHECK(c != NULL, "lxd over https with a certificate credential accepted (%s)", err.message);
    FREE(c);
    free(cert);
    free(key);
}

static const struct {
    const char *id;
    void (*fn)(void);
} s_statements[] = {
    {"s001", s001_register_provider_rejects_duplicates},
    {"s002", s002_provider_lookup_resolves_aliases},
    {"s003", s003_registered_providers_excludes_aliases},
    {"s004", s004_open_does_not_touch_the_cloud},
    {"s005", s005_set_config_then_config},
    {"s006", s006_cloud_spec_validate},
    {"s007", s007_make_cloud_spec_regions},
    {"s013", s013_prepare_config_deterministic_and_validating},
    {"s014", s014_instances_empty_ids},
    {"s015", s015_start_instance_gives_id_and_hardware},
    {"s016", s016_instances_order_and_length},
    {"s017", s017_instances_duplicates},
    {"s018", s018_instances_partial},
    {"s019", s019_instances_none_found},
    {"s020", s020_all_instances_only_this_model},
    {"s021", s021_stopped_instances_disappear},
    {"s022", s022_stop_ignores_unknown_and_foreign},
    {"s023", s023_stop_nothing},
    {"s024", s024_missing_nonce},
    {"s026", s026_missing_controller_uuid},
    {"s027", s027_instance_tags},
    {"s028", s028_reserved_tag_prefix},
    {"s029", s029_addresses_appear},
    {"s030", s030_status},
    {"s031", s031_failed_start_removes_instance},
    {"s032", s032_hardware_is_the_instance_types},
    {"s033", s033_maintain_instance_noop},
    {"s095", s095_zone_allocation},
    {"s097", s097_start_zone_selection},
    {"s008", s008_prepare_validation_order},
    {"s009", s009_bootstrap_twice},
    {"s039", s039_bootstrap_result},
    {"s042", s042_start_instance_status},
    {"s043", s043_bootstrap_zone_loop},
    {"s049", s049_model_constraints_stored},
    {"s044", s044_bootstrap_progress},
    {"s047", s047_bootstrap_needs_controller_uuid},
    {"s053", s053_bootstrap_address_timeout},
    {"s056", s056_destroy_model},
    {"s062", s062_destroy_controller},
    {"s098", s098_api_info},
    {"s099", s099_check_provider_api},
    {"s035", s035_controller_instances_not_bootstrapped},
    {"s036", s036_controller_instances_only_matching},
    {"s037", s037_controller_instances_stateless},
    {"s088", s088_empty_constraints_pass_precheck},
    {"s089", s089_placement_directives},
    {"s090", s090_instance_type_precheck},
    {"s091", s091_validator},
    {"s092", s092_merge},
    {"s064", s064_global_methods_need_global_mode},
    {"s065", s065_instance_methods_need_instance_mode},
    {"s066", s066_nothing_open_initially},
    {"s067", s067_sort_order},
    {"s068", s068_open_is_idempotent},
    {"s069", s069_mixed_open_adds_only_new},
    {"s070", s070_close_absent_is_fine},
    {"s071", s071_several_ranges_in_one_call},
    {"s072", s072_no_crosstalk},
    {"s073", s073_ranges_stored_exactly},
    {"s074", s074_mode_is_fixed_for_the_model},
    {"s075", s075_mode_none},
    {"s076", s076_instance_calls_carry_the_machine_id},
    {"s078", s078_ingress_rules},
    {"s079", s079_supports_networking},
    {"s080", s080_supports_spaces},
    {"s081", s081_supports_space_discovery},
    {"s082", s082_subnets},
    {"s083", s083_network_interfaces},
    {"s084", s084_spaces},
    {"s085", s085_container_addresses},
    {"s086", s086_supports_container_addresses},
    {"s087", s087_broken_methods},
};

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s sNNN\n", argv[0]);
        return 2;
    }
    zsys_handler_set(NULL);
    // the broker's eventual-consistency retries, shortened for tests
    setenv("ENVIRONS_RETRY_SCALE", "0.05", 1);
    for (size_t i = 0; i < sizeof s_statements / sizeof s_statements[0]; i++) {
        if (strcmp(argv[1], s_statements[i].id) != 0)
            continue;
        if (harness_init(&H))
            return 1;
        harness_start(&H, "gateway", 0);
        harness_start(&H, "registry", 0);
        harness_start(&H, "broker", 0);
        harness_start(&H, "firewaller", 0); // instances' groups, and the port methods
        harness_start(&H, "imagemeta", 0); // the images of each start
        harness_start(&H, "networking", 0);
        if (harness_wait_service(&H, "registry", 20000) != 0 ||
            harness_wait_service(&H, "broker", 20000) != 0 ||
            harness_wait_service(&H, "firewaller", 20000) != 0 ||
            harness_wait_service(&H, "imagemeta", 20000) != 0 ||
            harness_wait_service(&H, "networking", 20000) != 0) {
            fprintf(stderr, "registry, broker, firewaller, imagemeta or networking never came up\n");
            harness_fini(&H);
            return 1;
        }
        s_statements[i].fn();
        if (harness_fini(&H) != 0)
            conf_failures++;
        printf("%s: %s\n", argv[1], conf_failures ? "FAILED" : "passed");
        return conf_failures ? 1 : 0;
    }
    fprintf(stderr, "no statement %s\n", argv[1]);
    return 2;
}
