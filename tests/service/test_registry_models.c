/*  The registry service in process: model config (PrepareConfig,
    Validate, UpgradeConfig, Schema — §4.1, §1 A statement 13), stored
    models (Open, Model, Models, SetConfig, Config, NextMachineId,
    GetModelForService). Replays of a request id are in
    test_registry_replay.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/registry_fixture.h"

#define FX ((fx_t *)*state)
#define UUID1 "11111111-2222-4333-8444-555555555555"

static En__PrepareConfigResult *
s_prepare(fx_t *fx, const char *type, const char *endpoint, const char *json, en_err_t *err)
{
    En__CloudSpec spec = EN__CLOUD_SPEC__INIT;
    spec.type = (char *)type;
    spec.name = (char *)(strcmp(type, "lxd") == 0 ? "localhost" : type);
    spec.endpoint = (char *)endpoint;
    En__ConfigAttrs cfg = EN__CONFIG_ATTRS__INIT;
    cfg.json = (char *)json;
    En__PrepareConfigRequest req = EN__PREPARE_CONFIG_REQUEST__INIT;
    req.cloud = &spec;
    req.config = &cfg;
    return fx_call(fx, "PrepareConfig", NULL, &req, err);
}

//  --------------------------------------------------------------------------
//  Config (PrepareConfig, Validate, UpgradeConfig, Schema)

static void
prepare_config_is_deterministic_and_fills_defaults(void **state)
{
    en_err_t err;
    const char *in = "{\"uuid\":\"" UUID1 "\",\"name\":\"m\",\"use-floating-ip\":true}";
    En__PrepareConfigResult *a = s_prepare(FX, "sim", "", in, &err);
    assert_non_null(a);
    En__PrepareConfigResult *b = s_prepare(FX, "sim", "", in, &err);
    assert_non_null(b);
    assert_string_equal(a->config->json, b->config->json);
    const char *j = a->config->json;
    assert_string_equal(fx_json_get(j, "type"), "\"sim\"");
    assert_string_equal(fx_json_get(j, "firewall-mode"), "\"instance\"");
    assert_string_equal(fx_json_get(j, "development"), "false");
    assert_string_equal(fx_json_get(j, "image-stream"), "\"released\"");
    assert_string_equal(fx_json_get(j, "agent-stream"), "\"released\"");
    assert_string_equal(fx_json_get(j, "enable-os-upgrade"), "true");
    assert_string_equal(fx_json_get(j, "provisioner-harvest-mode"), "\"destroyed\"");
    // keys the schema does not know pass through
    assert_string_equal(fx_json_get(j, "use-floating-ip"), "true");
    assert_string_equal(fx_json_get(j, "uuid"), "\"" UUID1 "\"");
    FX_FREE(a);
    FX_FREE(b);
}

static void
prepare_config_refuses_bad_input(void **state)
{
    en_err_t err;
    assert_null(s_prepare(FX, "sim", "", "{\"name\":\"m\"}", &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message, "uuid: expected string, got nothing");
    assert_null(s_prepare(FX, "sim", "", "{\"name\":\"m\",\"uuid\":\"not-a-uuid\"}", &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message, "uuid: expected uuid, got string(\"not-a-uuid\")");
    assert_null(s_prepare(FX, "sim", "", "[1,2]", &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_null(s_prepare(FX, "", "", "{}", &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message, "validating cloud spec: empty Type not valid");
    assert_null(s_prepare(FX, "x", "", "{}", &err));
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_string_equal(err.message, "no registered provider for \"x\"");
}

//  Statement 13 for LXD 2.3+ (lxd_provider.c): the unix socket ("" or
//  unix:<path>) needs no credential, https needs a certificate one, and
//  anything else is refused naming the accepted forms.
static void
prepare_config_lxd_validates_the_endpoint(void **state)
{
    en_err_t err;
    const char *cfg = "{\"uuid\":\"" UUID1 "\",\"name\":\"m\"}";
    assert_null(s_prepare(FX, "lxd", "1.2.3.4", cfg, &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message,
                        "validating cloud spec: endpoint \"1.2.3.4\" not valid: expected "
                        "\"https://<host>[:<port>]\" or \"unix:<socket path>\"");
    assert_null(s_prepare(FX, "lxd", "https://127.0.0.1:8443", cfg, &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message, "validating cloud spec: endpoint \"https://127.0.0.1:8443\" "
                                     "needs a \"certificate\" credential, got \"empty\"");
    En__PrepareConfigResult *ok = s_prepare(FX, "lxd", "", cfg, &err);
    assert_non_null(ok);
    assert_string_equal(fx_json_get(ok->config->json, "type"), "\"lxd\"");
    FX_FREE(ok);
    ok = s_prepare(FX, "lxd", "unix:/var/lib/lxd/unix.socket", cfg, &err);
    assert_non_null(ok);
    FX_FREE(ok);
}

static En__ValidateResult *
s_validate(fx_t *fx, const char *json, const char *old_json, en_err_t *err)
{
    En__ConfigAttrs cfg = EN__CONFIG_ATTRS__INIT, old = EN__CONFIG_ATTRS__INIT;
    cfg.json = (char *)json;
    old.json = (char *)old_json;
    En__ValidateRequest req = EN__VALIDATE_REQUEST__INIT;
    req.provider_type = "sim";
    req.config = &cfg;
    req.old_config = old_json ? &old : NULL;
    return fx_call(fx, "Validate", NULL, &req, err);
}

static void
validate_checks_immutables_values_and_types(void **state)
{
    en_err_t err;
#define BASE "\"uuid\":\"" UUID1 "\",\"name\":\"m\",\"type\":\"sim\""
    const char *old = "{" BASE ",\"firewall-mode\":\"instance\"}";
    assert_null(s_validate(FX, "{" BASE ",\"firewall-mode\":\"global\"}", old, &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message, "cannot change firewall-mode from \"instance\" to \"global\"");
    // the default counts as the new value: leaving it out is a change too
    old = "{" BASE ",\"firewall-mode\":\"global\"}";
    assert_null(s_validate(FX, "{" BASE "}", old, &err));
    assert_string_equal(err.message, "cannot change firewall-mode from \"global\" to \"instance\"");
    // without an old config, any mode is fine
    En__ValidateResult *ok = s_validate(FX, "{" BASE ",\"firewall-mode\":\"global\"}", NULL, &err);
    assert_non_null(ok);
    assert_string_equal(fx_json_get(ok->config->json, "firewall-mode"), "\"global\"");
    FX_FREE(ok);

    assert_null(s_validate(FX, "{" BASE ",\"firewall-mode\":\"sometimes\"}", NULL, &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message, "invalid firewall mode in model configuration: \"sometimes\"");
    assert_null(s_validate(FX, "{" BASE ",\"development\":\"x\"}", NULL, &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message, "development: expected bool, got string(\"x\")");
    assert_null(s_validate(FX, "{" BASE ",\"default-series\":7}", NULL, &err));
    assert_string_equal(err.message, "default-series: expected string, got int(7)");
    assert_null(s_validate(FX, "{" BASE ",\"image-stream\":\"nightly\"}", NULL, &err));
    assert_string_equal(err.message, "image-stream: unexpected value \"nightly\"");
    // the name and uuid cannot change either
    assert_null(s_validate(FX, "{" BASE "}", "{\"uuid\":\"" UUID1 "\",\"name\":\"n\"}", &err));
    assert_string_equal(err.message, "cannot change name from \"n\" to \"m\"");
#undef BASE
}

static void
upgrade_config_renames_deprecated_keys_idempotently(void **state)
{
    en_err_t err;
    En__ConfigAttrs cfg = EN__CONFIG_ATTRS__INIT;
    cfg.json = "{\"tools-metadata-url\":\"https://tools.example.com\",\"tools-stream\":\"devel\","
               "\"agent-stream\":\"proposed\",\"name\":\"m\"}";
    En__UpgradeConfigRequest req = EN__UPGRADE_CONFIG_REQUEST__INIT;
    req.config = &cfg;
    En__UpgradeConfigResult *once = fx_call(FX, "UpgradeConfig", NULL, &req, &err);
    assert_non_null(once);
    // the new key wins when both are given
    assert_string_equal(once->config->json, "{\"agent-metadata-url\":\"https://tools.example.com\","
                                            "\"agent-stream\":\"proposed\",\"name\":\"m\"}");
    cfg.json = once->config->json;
    En__UpgradeConfigResult *twice = fx_call(FX, "UpgradeConfig", NULL, &req, &err);
    assert_non_null(twice);
    assert_string_equal(twice->config->json, once->config->json);
    FX_FREE(once);
    FX_FREE(twice);
}

static void
schema_is_sorted_and_marks_firewall_mode_immutable(void **state)
{
    en_err_t err;
    En__SchemaRequest req = EN__SCHEMA_REQUEST__INIT;
    req.provider_type = "sim";
    En__SchemaResult *res = fx_call(FX, "Schema", NULL, &req, &err);
    assert_non_null(res);
    assert_true(res->n_fields > 3);
    bool fw = false;
    for (size_t i = 0; i < res->n_fields; i++) {
        if (i > 0)
            assert_true(strcmp(res->fields[i - 1]->name, res->fields[i]->name) < 0);
        if (strcmp(res->fields[i]->name, "firewall-mode") == 0) {
            fw = true;
            assert_true(res->fields[i]->immutable);
            assert_string_equal(res->fields[i]->type, "string");
            assert_string_equal(res->fields[i]->default_json, "\"instance\"");
        }
        if (strcmp(res->fields[i]->name, "development") == 0)
            assert_false(res->fields[i]->immutable);
    }
    assert_true(fw);
    FX_FREE(res);
    req.provider_type = "x";
    assert_null(fx_call(FX, "Schema", NULL, &req, &err));
    assert_int_equal(err.kind, EN_NOT_FOUND);
}

//  --------------------------------------------------------------------------
//  Models

static void
open_stores_a_model_found_by_uuid_and_by_name(void **state)
{
    en_err_t err;
    En__OpenResult *a = fx_open(FX, "alpha", "", "sim", "", "{\"development\":true}", &err);
    assert_non_null(a);
    const En__Model *m = a->model;
    char uuid[64], quoted[80];
    snprintf(uuid, sizeof uuid, "%s", m->uuid);
    snprintf(quoted, sizeof quoted, "\"%s\"", m->uuid);
    assert_int_equal(strlen(uuid), 36);
    assert_string_equal(m->name, "alpha");
    assert_string_equal(m->owner, "admin");
    assert_int_equal(m->version, 1);
    assert_true(m->created_ms > 0);
    assert_string_equal(m->cloud->type, "sim");
    assert_string_equal(m->cloud->name, "sim");
    assert_string_equal(m->cloud->region, "sim-east"); // the first region
    assert_null(m->cloud->credential);
    assert_string_equal(m->credential_name, "");
    assert_string_equal(fx_json_get(m->config->json, "uuid"), quoted);
    assert_string_equal(fx_json_get(m->config->json, "name"), "\"alpha\"");
    assert_string_equal(fx_json_get(m->config->json, "type"), "\"sim\"");
    assert_string_equal(fx_json_get(m->config->json, "development"), "true");
    assert_string_equal(fx_json_get(m->config->json, "firewall-mode"), "\"instance\"");
    FX_FREE(a);

    En__ModelResult *got;
    En__Model *byuuid = fx_model(FX, uuid, &got, &err);
    assert_non_null(byuuid);
    assert_string_equal(byuuid->name, "alpha");
    FX_FREE(got);

    // the same name under another owner, on a controller
    En__ConfigAttrs cfg = EN__CONFIG_ATTRS__INIT;
    cfg.json = "{}";
    En__OpenRequest oreq = EN__OPEN_REQUEST__INIT;
    oreq.name = "alpha";
    oreq.owner = "bob";
    oreq.cloud_name = "sim";
    oreq.region_name = "SIM-WEST";
    oreq.controller_uuid = "ctrl-1";
    oreq.config = &cfg;
    En__OpenResult *b = fx_call(FX, "Open", NULL, &oreq, &err);
    assert_non_null(b);
    assert_string_equal(b->model->cloud->region, "SIM-WEST");
    assert_string_not_equal(b->model->uuid, uuid);
    FX_FREE(b);

    En__ModelRequest req = EN__MODEL_REQUEST__INIT;
    req.key_case = EN__MODEL_REQUEST__KEY_NAME;
    req.name = "alpha";
    assert_null(fx_call(FX, "Model", NULL, &req, &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message, "model name \"alpha\" is ambiguous: name its owner or "
                                     "controller");
    req.owner = "admin";
    got = fx_call(FX, "Model", NULL, &req, &err);
    assert_non_null(got);
    assert_string_equal(got->model->uuid, uuid);
    FX_FREE(got);
    req.owner = "";
    req.controller_uuid = "ctrl-1";
    got = fx_call(FX, "Model", NULL, &req, &err);
    assert_non_null(got);
    assert_string_equal(got->model->owner, "bob");
    FX_FREE(got);
    req.name = "nope";
    assert_null(fx_call(FX, "Model", NULL, &req, &err));
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_string_equal(err.message, "model \"nope\" not found");
    assert_null(fx_model(FX, "nope", &got, &err));
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_string_equal(err.message, "model \"nope\" not found");
    En__ModelRequest none = EN__MODEL_REQUEST__INIT;
    assert_null(fx_call(FX, "Model", NULL, &none, &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message, "a model is named by uuid or name");

    // Models: by owner then name, narrowed by controller
    En__ModelsRequest lreq = EN__MODELS_REQUEST__INIT;
    En__ModelsResult *all = fx_call(FX, "Models", NULL, &lreq, &err);
    assert_non_null(all);
    assert_int_equal(all->n_models, 2);
    assert_string_equal(all->models[0]->owner, "admin");
    assert_string_equal(all->models[1]->owner, "bob");
    for (size_t i = 0; i < all->n_models; i++)
        assert_null(all->models[i]->cloud->credential);
    FX_FREE(all);
    lreq.controller_uuid = "ctrl-1";
    all = fx_call(FX, "Models", NULL, &lreq, &err);
    assert_non_null(all);
    assert_int_equal(all->n_models, 1);
    FX_FREE(all);
}

static void
open_refuses_bad_requests_and_stores_nothing(void **state)
{
    en_err_t err;
    assert_null(fx_open(FX, "", "", "sim", "", NULL, &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message, "empty model name not valid");
    assert_null(fx_open(FX, "m", "", "", "", NULL, &err));
    assert_string_equal(err.message, "empty cloud name not valid");
    assert_null(fx_open(FX, "m", "", "nowhere", "", NULL, &err));
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_string_equal(err.message, "cloud nowhere not found");
    assert_null(fx_open(FX, "m", "", "sim", "bob", NULL, &err));
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_string_equal(err.message, "credential \"bob\" for cloud \"sim\" not found");
    assert_null(fx_open(FX, "m", "", "sim", "", "{\"firewall-mode\":\"sometimes\"}", &err));
    assert_string_equal(err.message, "invalid firewall mode in model configuration: \"sometimes\"");
    assert_null(fx_open(FX, "m", "", "sim", "", "{\"uuid\":\"x\"}", &err));
    assert_string_equal(err.message, "uuid: expected uuid, got string(\"x\")");
    assert_null(fx_open(FX, "m", "", "sim", "", "not json", &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_int_equal(fx_model_count(FX), 0);

    En__OpenResult *ok = fx_open(FX, "m", "", "sim", "", NULL, &err);
    assert_non_null(ok);
    FX_FREE(ok);
    assert_null(fx_open(FX, "m", "", "sim", "", NULL, &err));
    assert_int_equal(err.kind, EN_ALREADY_EXISTS);
    assert_string_equal(err.message, "model \"admin/m\" already exists");
    assert_int_equal(fx_model_count(FX), 1);
    // a uuid chosen by the caller that another model has
    ok = fx_open(FX, "u1", "", "sim", "", "{\"uuid\":\"" UUID1 "\"}", &err);
    assert_non_null(ok);
    assert_string_equal(ok->model->uuid, UUID1);
    FX_FREE(ok);
    assert_null(fx_open(FX, "u2", "", "sim", "", "{\"uuid\":\"" UUID1 "\"}", &err));
    assert_int_equal(err.kind, EN_ALREADY_EXISTS);
    assert_string_equal(err.message, "model with uuid \"" UUID1 "\" already exists");
    assert_int_equal(fx_model_count(FX), 2);
}

static void
open_takes_cloud_then_region_defaults_under_the_callers_values(void **state)
{
    en_err_t err;
    fx_write(FX, "clouds.yaml", FX_CLOUDS_YAML);
    // personal sim: first region zulu with its own endpoints
    En__OpenResult *a = fx_open(FX, "a", "", "sim", "", NULL, &err);
    assert_non_null(a);
    assert_string_equal(a->model->cloud->region, "zulu");
    assert_string_equal(a->model->cloud->endpoint, "https://zulu.sim.example.com");
    assert_string_equal(a->model->cloud->storage_endpoint, "https://store.zulu.sim.example.com");
    const char *j = a->model->config->json;
    assert_string_equal(fx_json_get(j, "logging-config"), "\"<root>=DEBUG\"");
    assert_string_equal(fx_json_get(j, "development"), "true");
    // numbers keep their YAML type: `ratio: 2.0` is a float, not "2.0"
    assert_string_equal(fx_json_get(j, "ratio"), "2.0");
    assert_true(strtod(fx_json_get(j, "pi"), NULL) == 3.14159265);
    FX_FREE(a);
    // region alpha: its region-config wins over the cloud's config, and the
    // caller's values win over both
    En__ConfigAttrs cfg = EN__CONFIG_ATTRS__INIT;
    cfg.json = "{\"development\":false}";
    En__OpenRequest req = EN__OPEN_REQUEST__INIT;
    req.name = "b";
    req.cloud_name = "sim";
    req.region_name = "alpha";
    req.config = &cfg;
    En__OpenResult *b = fx_call(FX, "Open", NULL, &req, &err);
    assert_non_null(b);
    assert_string_equal(b->model->cloud->endpoint, "https://sim.example.com");
    j = b->model->config->json;
    assert_string_equal(fx_json_get(j, "development"), "false");
    assert_string_equal(fx_json_get(j, "logging-config"), "\"<root>=TRACE\"");
    FX_FREE(b);
}

static void
set_config_merges_resets_to_defaults_and_bumps_the_version(void **state)
{
    en_err_t err;
    char uuid[64];
    fx_open_uuid(FX, "m", uuid);

    En__SetConfigResult *r =
        fx_set_config(FX, uuid,
                      "{\"development\":true,\"logging-config\":\"<root>=WARNING\","
                      "\"custom\":\"x\"}",
                      &err);
    assert_non_null(r);
    assert_string_equal(fx_json_get(r->config->json, "development"), "true");
    assert_string_equal(fx_json_get(r->config->json, "custom"), "\"x\"");
    assert_string_equal(fx_json_get(r->config->json, "name"), "\"m\""); // untouched keys stay
    FX_FREE(r);
    assert_int_equal(fx_version(FX, uuid), 2);

    // null: back to the default (or gone, for a key with none)
    r = fx_set_config(FX, uuid, "{\"development\":null,\"custom\":null}", &err);
    assert_non_null(r);
    assert_string_equal(fx_json_get(r->config->json, "development"), "false");
    assert_string_equal(fx_json_get(r->config->json, "custom"), "");
    assert_string_equal(fx_json_get(r->config->json, "logging-config"), "\"<root>=WARNING\"");
    char *last = strdup(r->config->json);
    FX_FREE(r);
    assert_int_equal(fx_version(FX, uuid), 3);
    char *now = fx_config_json(FX, uuid);
    assert_string_equal(now, last);
    free(now);

    // refused changes leave config and version as they were
    assert_null(fx_set_config(FX, uuid, "{\"firewall-mode\":\"global\"}", &err));
    assert_string_equal(err.message, "cannot change firewall-mode from \"instance\" to \"global\"");
    assert_null(fx_set_config(FX, uuid, "{\"name\":null}", &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_null(fx_set_config(FX, uuid, "{\"development\":\"x\"}", &err));
    assert_string_equal(err.message, "development: expected bool, got string(\"x\")");
    assert_null(fx_set_config(FX, uuid, "[]", &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    now = fx_config_json(FX, uuid);
    assert_string_equal(now, last);
    free(now);
    free(last);
    assert_int_equal(fx_version(FX, uuid), 3);

    assert_null(fx_set_config(FX, UUID1, "{}", &err));
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_string_equal(err.message, "model \"" UUID1 "\" not found");
    En__ConfigRequest creq = EN__CONFIG_REQUEST__INIT;
    assert_null(fx_call(FX, "Config", UUID1, &creq, &err));
    assert_int_equal(err.kind, EN_NOT_FOUND);
}

static void
next_machine_id_counts_per_model(void **state)
{
    en_err_t err;
    char a[64], b[64];
    fx_open_uuid(FX, "a", a);
    fx_open_uuid(FX, "b", b);
    const char *want[][2] = {{a, "0"}, {a, "1"}, {b, "0"}, {a, "2"}, {b, "1"}};
    for (int i = 0; i < 5; i++) {
        char *id = fx_next_id(FX, want[i][0], &err);
        assert_non_null(id);
        assert_string_equal(id, want[i][1]);
        free(id);
    }
    assert_null(fx_next_id(FX, UUID1, &err));
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_string_equal(err.message, "model \"" UUID1 "\" not found");
}

static int
s_add_userpass(fx_t *fx, const char *name, const char *password, bool replace, en_err_t *err)
{
    fx_cred_t c;
    fx_cred(&c, name, "userpass", 2, (const char *[]){"username", name, "password", password});
    return fx_add_credential(fx, "sim", &c, replace, err);
}

static void
get_model_for_service_joins_the_credential_public_calls_never_do(void **state)
{
    en_err_t err;
    assert_int_equal(s_add_userpass(FX, "alice", "pa55-secret-1", false, &err), 0);
    En__OpenResult *o = fx_open(FX, "m", "", "sim", "alice", NULL, &err);
    assert_non_null(o);
    char uuid[64];
    snprintf(uuid, sizeof uuid, "%s", o->model->uuid);
    assert_string_equal(o->model->credential_name, "alice");
    assert_null(o->model->cloud->credential);
    FX_FREE(o);

    En__ModelResult *mr;
    En__Model *m = fx_model(FX, uuid, &mr, &err);
    assert_non_null(m);
    assert_string_equal(m->credential_name, "alice");
    assert_null(m->cloud->credential);
    assert_null(strstr(m->config->json, "pa55"));
    FX_FREE(mr);
    En__ModelsRequest lreq = EN__MODELS_REQUEST__INIT;
    En__ModelsResult *all = fx_call(FX, "Models", NULL, &lreq, &err);
    assert_non_null(all);
    assert_int_equal(all->n_models, 1);
    assert_null(all->models[0]->cloud->credential);
    FX_FREE(all);

    En__GetModelForServiceRequest req = EN__GET_MODEL_FOR_SERVICE_REQUEST__INIT;
    req.uuid = uuid;
    En__GetModelForServiceResult *g = fx_call(FX, "GetModelForService", NULL, &req, &err);
    assert_non_null(g);
    assert_null(g->model->cloud->credential);
    assert_non_null(g->cloud);
    assert_string_equal(g->cloud->type, "sim");
    assert_string_equal(g->cloud->region, "sim-east");
    assert_non_null(g->cloud->credential);
    assert_string_equal(g->cloud->credential->name, "alice");
    assert_string_equal(g->cloud->credential->auth_type, "userpass");
    assert_string_equal(fx_attr(g->cloud->credential, "username"), "alice");
    assert_string_equal(fx_attr(g->cloud->credential, "password"), "pa55-secret-1");
    FX_FREE(g);

    // the credential is read when asked for, so a replaced one is seen
    assert_int_equal(s_add_userpass(FX, "alice", "pa55-secret-2", true, &err), 0);
    g = fx_call(FX, "GetModelForService", NULL, &req, &err);
    assert_non_null(g);
    assert_string_equal(fx_attr(g->cloud->credential, "password"), "pa55-secret-2");
    FX_FREE(g);

    req.uuid = UUID1;
    assert_null(fx_call(FX, "GetModelForService", NULL, &req, &err));
    assert_int_equal(err.kind, EN_NOT_FOUND);

    // models and stored replies live in the database: no secret there
    const char *db_files[] = {"registry.db", "registry.db-wal", "registry.db-shm"};
    for (int i = 0; i < 3; i++) {
        assert_false(fx_file_contains(FX, db_files[i], "pa55-secret-1"));
        assert_false(fx_file_contains(FX, db_files[i], "pa55-secret-2"));
    }
}

//  MarkModelDying (Destroy's first step): the model reads dying from then
//  on, to services and to public calls; its version moves once; a second
//  mark changes nothing; an unknown model is NOT_FOUND.
static void
mark_model_dying_is_for_good_and_idempotent(void **state)
{
    en_err_t err;
    En__OpenResult *a = fx_open(FX, "doomed", "", "sim", "", NULL, &err);
    assert_non_null(a);
    char uuid[64];
    snprintf(uuid, sizeof uuid, "%s", a->model->uuid);
    assert_false(a->model->dying);
    FX_FREE(a);
    En__MarkModelDyingRequest req = EN__MARK_MODEL_DYING_REQUEST__INIT;
    req.uuid = uuid;
    for (int i = 0; i < 2; i++) {
        En__MarkModelDyingResult *r = fx_call(FX, "MarkModelDying", NULL, &req, &err);
        if (!r)
            fail_msg("MarkModelDying: %s", err.message);
        assert_true(r->model->dying);
        assert_int_equal(r->model->version, 2);
        FX_FREE(r);
    }
    En__GetModelForServiceRequest g = EN__GET_MODEL_FOR_SERVICE_REQUEST__INIT;
    g.uuid = uuid;
    En__GetModelForServiceResult *got = fx_call(FX, "GetModelForService", NULL, &g, &err);
    assert_non_null(got);
    assert_true(got->model->dying);
    FX_FREE(got);
    En__ModelResult *mr;
    En__Model *m = fx_model(FX, uuid, &mr, &err);
    assert_non_null(m);
    assert_true(m->dying);
    assert_int_equal(m->version, 2);
    FX_FREE(mr);
    req.uuid = UUID1;
    assert_null(fx_call(FX, "MarkModelDying", NULL, &req, &err));
    assert_int_equal(err.kind, EN_NOT_FOUND);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(prepare_config_is_deterministic_and_fills_defaults),
        T(prepare_config_refuses_bad_input),
        T(prepare_config_lxd_validates_the_endpoint),
        T(validate_checks_immutables_values_and_types),
        T(upgrade_config_renames_deprecated_keys_idempotently),
        T(schema_is_sorted_and_marks_firewall_mode_immutable),
        T(open_stores_a_model_found_by_uuid_and_by_name),
        T(open_refuses_bad_requests_and_stores_nothing),
        T(open_takes_cloud_then_region_defaults_under_the_callers_values),
        T(set_config_merges_resets_to_defaults_and_bumps_the_version),
        T(next_machine_id_counts_per_model),
        T(get_model_for_service_joins_the_credential_public_calls_never_do),
        T(mark_model_dying_is_for_good_and_idempotent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
