/*  e2e: the real gateway and registry processes on loopback, driven
    through the public API (environ.v1) by the async client over TCP. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <czmq.h>
#include <signal.h>

#include "bus.pb-c.h"
#include "bus/envelope.h"
#include "bus/mdp.h"
#include "bus/modelcache.h"
#include "environ.pb-c.h"
#include "harness.h"
#include "registry.pb-c.h"

static harness_t H;

static int
setup(void **state)
{
    (void) state;
    zsys_handler_set(NULL);
    if (harness_init(&H))
        return -1;
    harness_start(&H, "gateway", 0);
    harness_start(&H, "registry", 0);
    return harness_wait_service(&H, "registry", 20000);
}

static int
teardown(void **state)
{
    (void) state;
    return harness_fini(&H);
}

//  One call through the public service within timeout_ms; returns the
//  result or NULL with err.
static void *
s_call_within(const char *method, const char *model, const ProtobufCMessage *req,
              const ProtobufCMessageDescriptor *rd, int timeout_ms, en_err_t *err)
{
    ProtobufCMessage *res = NULL;
    en_err_clear(err);
    en_client_call(H.client, EN_PUBLIC_SERVICE, method, model, req, rd, &res, timeout_ms, err);
    return res;
}

static void *
s_call(const char *method, const char *model, const ProtobufCMessage *req,
       const ProtobufCMessageDescriptor *rd, en_err_t *err)
{
    return s_call_within(method, model, req, rd, 15000, err);
}

//  A call to a service with no worker: the gateway holds it until its
//  deadline, then answers UNAVAILABLE; a short deadline keeps the test
//  short.
#define S_NO_WORKER_MS 1500

#define FREE(m) protobuf_c_message_free_unpacked((ProtobufCMessage *) (m), NULL)

static void
registered_providers_are_sim_and_lxd_without_aliases(void **state)
{
    (void) state;
    En__RegisteredProvidersRequest req = EN__REGISTERED_PROVIDERS_REQUEST__INIT;
    en_err_t err;
    En__RegisteredProvidersResult *res = s_call("RegisteredProviders", NULL, &req.base,
                                                &en__registered_providers_result__descriptor, &err);
    assert_non_null(res);
    bool sim = false, lxd = false;
    for (size_t i = 0; i < res->n_names; i++) {
        sim |= strcmp(res->names[i], "sim") == 0;
        lxd |= strcmp(res->names[i], "lxd") == 0;
    }
    assert_true(sim && lxd);
    FREE(res);
}

static void
register_provider_refuses_duplicates_with_juju_messages(void **state)
{
    (void) state;
    en_err_t err;
    char *aliases[] = {"alias-one", "alias-two"};
    En__RegisterProviderRequest req = EN__REGISTER_PROVIDER_REQUEST__INIT;
    req.name = "testprov";
    req.n_aliases = 2;
    req.aliases = aliases;
    void *res = s_call("RegisterProvider", NULL, &req.base,
                       &en__register_provider_result__descriptor, &err);
    assert_non_null(res);
    FREE(res);

    // the same name again
    req.n_aliases = 0;
    assert_null(s_call("RegisterProvider", NULL, &req.base,
                       &en__register_provider_result__descriptor, &err));
    assert_int_equal(err.kind, EN_ALREADY_EXISTS);
    assert_string_equal(err.message, "duplicate provider name \"testprov\"");

    // a name that is somebody's alias
    req.name = "alias-two";
    assert_null(s_call("RegisterProvider", NULL, &req.base,
                       &en__register_provider_result__descriptor, &err));
    assert_string_equal(err.message, "duplicate provider name \"alias-two\"");

    // an alias equal to the provider's own name
    char *self_alias[] = {"providerName"};
    req.name = "providerName";
    req.n_aliases = 1;
    req.aliases = self_alias;
    assert_null(s_call("RegisterProvider", NULL, &req.base,
                       &en__register_provider_result__descriptor, &err));
    assert_string_equal(err.message, "duplicate provider alias \"providerName\"");

    // an alias repeated within the call
    char *twice[] = {"x-one", "x-one"};
    req.name = "fresh";
    req.n_aliases = 2;
    req.aliases = twice;
    assert_null(s_call("RegisterProvider", NULL, &req.base,
                       &en__register_provider_result__descriptor, &err));
    assert_string_equal(err.message, "duplicate provider alias \"x-one\"");

    // nothing of the failed calls was registered
    En__ProviderRequest preq = EN__PROVIDER_REQUEST__INIT;
    preq.type = "fresh";
    assert_null(s_call("Provider", NULL, &preq.base, &en__provider_result__descriptor, &err));
    assert_int_equal(err.kind, EN_NOT_FOUND);
}

static void
provider_resolves_aliases_and_reports_unknown_types(void **state)
{
    (void) state;
    en_err_t err;
    En__ProviderRequest req = EN__PROVIDER_REQUEST__INIT;
    req.type = "alias-one";
    En__ProviderResult *res =
        s_call("Provider", NULL, &req.base, &en__provider_result__descriptor, &err);
    assert_non_null(res);
    assert_string_equal(res->provider->name, "testprov");
    assert_int_equal(res->provider->n_aliases, 2);
    FREE(res);

    req.type = "no-such";
    assert_null(s_call("Provider", NULL, &req.base, &en__provider_result__descriptor, &err));
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_string_equal(err.message, "no registered provider for \"no-such\"");

    // RegisteredProviders lists names, never aliases
    En__RegisteredProvidersRequest rreq = EN__REGISTERED_PROVIDERS_REQUEST__INIT;
    En__RegisteredProvidersResult *list = s_call(
        "RegisteredProviders", NULL, &rreq.base, &en__registered_providers_result__descriptor, &err);
    assert_non_null(list);
    for (size_t i = 0; i < list->n_names; i++)
        assert_true(strncmp(list->names[i], "alias-", 6) != 0);
    FREE(list);
}

static void
clouds_include_builtin_sim_with_two_regions(void **state)
{
    (void) state;
    en_err_t err;
    En__CloudRequest req = EN__CLOUD_REQUEST__INIT;
    req.name = "sim";
    En__CloudResult *res = s_call("Cloud", NULL, &req.base, &en__cloud_result__descriptor, &err);
    assert_non_null(res);
    assert_string_equal(res->cloud->type, "sim");
    assert_true(res->cloud->n_regions >= 2);
    FREE(res);

    req.name = "nowhere";
    assert_null(s_call("Cloud", NULL, &req.base, &en__cloud_result__descriptor, &err));
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_string_equal(err.message, "cloud nowhere not found");
}

static void
make_cloud_spec_finds_regions_case_insensitively(void **state)
{
    (void) state;
    en_err_t err;
    En__MakeCloudSpecRequest req = EN__MAKE_CLOUD_SPEC_REQUEST__INIT;
    req.cloud_name = "sim";
    req.region_name = "SIM-WEST";
    En__MakeCloudSpecResult *res =
        s_call("MakeCloudSpec", NULL, &req.base, &en__make_cloud_spec_result__descriptor, &err);
    assert_non_null(res);
    // Juju keeps the region name as given; the lookup alone ignores case
    assert_string_equal(res->cloud_spec->region, "SIM-WEST");
    assert_string_equal(res->cloud_spec->type, "sim");
    FREE(res);

    req.region_name = "mars";
    assert_null(
        s_call("MakeCloudSpec", NULL, &req.base, &en__make_cloud_spec_result__descriptor, &err));
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_string_equal(err.message, "getting cloud region definition: region \"mars\" not found "
                                     "(expected one of [\"sim-east\" \"sim-west\"])");
}

static char s_model_uuid[64];

static void
open_stores_a_prepared_model(void **state)
{
    (void) state;
    en_err_t err;
    En__OpenRequest req = EN__OPEN_REQUEST__INIT;
    En__ConfigAttrs cfg = EN__CONFIG_ATTRS__INIT;
    cfg.json = "{\"default-series\":\"noble\"}";
    req.name = "default";
    req.cloud_name = "sim";
    req.config = &cfg;
    En__OpenResult *res = s_call("Open", NULL, &req.base, &en__open_result__descriptor, &err);
    assert_non_null(res);
    snprintf(s_model_uuid, sizeof s_model_uuid, "%s", res->model->uuid);
    assert_string_equal(res->model->cloud->region, "sim-east"); // first region is the default
    assert_non_null(strstr(res->model->config->json, "\"firewall-mode\":\"instance\""));
    assert_non_null(strstr(res->model->config->json, "\"default-series\":\"noble\""));
    FREE(res);

    // the same name again is refused
    assert_null(s_call("Open", NULL, &req.base, &en__open_result__descriptor, &err));
    assert_int_equal(err.kind, EN_ALREADY_EXISTS);
    assert_string_equal(err.message, "model \"admin/default\" already exists");

    // a bad firewall mode is refused before anything is stored
    cfg.json = "{\"firewall-mode\":\"sometimes\"}";
    req.name = "other";
    assert_null(s_call("Open", NULL, &req.base, &en__open_result__descriptor, &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
}

static void
set_config_refuses_changing_firewall_mode(void **state)
{
    (void) state;
    en_err_t err;
    En__SetConfigRequest req = EN__SET_CONFIG_REQUEST__INIT;
    En__ConfigAttrs cfg = EN__CONFIG_ATTRS__INIT;
    cfg.json = "{\"firewall-mode\":\"global\"}";
    req.config = &cfg;
    assert_null(s_call("SetConfig", s_model_uuid, &req.base, &en__set_config_result__descriptor,
                       &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message, "cannot change firewall-mode from \"instance\" to \"global\"");

    cfg.json = "{\"development\":true}";
    En__SetConfigResult *res = s_call("SetConfig", s_model_uuid, &req.base,
                                      &en__set_config_result__descriptor, &err);
    assert_non_null(res);
    FREE(res);
    En__ConfigRequest creq = EN__CONFIG_REQUEST__INIT;
    En__ConfigResult *got =
        s_call("Config", s_model_uuid, &creq.base, &en__config_result__descriptor, &err);
    assert_non_null(got);
    assert_non_null(strstr(got->config->json, "\"development\":true"));
    assert_non_null(strstr(got->config->json, "\"firewall-mode\":\"instance\""));
    FREE(got);

    // a wrong type names the key and what it got, as Juju's schema does
    cfg.json = "{\"development\":\"yes\"}";
    assert_null(s_call("SetConfig", s_model_uuid, &req.base, &en__set_config_result__descriptor,
                       &err));
    assert_string_equal(err.message, "development: expected bool, got string(\"yes\")");
}

static void
model_changes_are_published(void **state)
{
    (void) state;
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", H.port + 2);
    zsock_t *sub = zsock_new_sub(ep, "model.");
    assert_non_null(sub);
    zsock_set_rcvtimeo(sub, 300);
    En__SetConfigRequest req = EN__SET_CONFIG_REQUEST__INIT;
    En__ConfigAttrs cfg = EN__CONFIG_ATTRS__INIT;
    req.config = &cfg;
    en_err_t err;
    // subscriptions propagate asynchronously: keep changing until one
    // event arrives, bounded by a deadline
    En__ModelChanged *ev = NULL;
    int64_t until = en_mono_ms() + 10000;
    for (int i = 0; !ev && en_mono_ms() < until; i++) {
        cfg.json = i % 2 ? "{\"logging-config\":\"<root>=INFO\"}" : "{\"logging-config\":\"\"}";
        void *res = s_call("SetConfig", s_model_uuid, &req.base,
                           &en__set_config_result__descriptor, &err);
        assert_non_null(res);
        FREE(res);
        zmsg_t *msg = zmsg_recv(sub);
        if (msg && zmsg_size(msg) == 2) {
            char *topic = zmsg_popstr(msg);
            zframe_t *body = zmsg_pop(msg);
            assert_int_equal(strncmp(topic, "model.", 6), 0);
            ev = en__model_changed__unpack(NULL, zframe_size(body), zframe_data(body));
            free(topic);
            zframe_destroy(&body);
        }
        zmsg_destroy(&msg);
    }
    assert_non_null(ev);
    assert_string_equal(ev->uuid, s_model_uuid);
    assert_int_equal(ev->kind, EN__MODEL_CHANGED__KIND__UPDATED);
    assert_true(ev->version > 1);
    en__model_changed__free_unpacked(ev, NULL);
    zsock_destroy(&sub);
}

static void
service_model_cache_drops_a_model_when_it_changes(void **state)
{
    (void) state;
    en_err_t err;
    en_modelcache_t *cache = en_modelcache_new(H.endpoint, H.client, &err);
    assert_non_null(cache);
    const En__GetModelForServiceResult *m = en_modelcache_get(cache, s_model_uuid, &err);
    assert_non_null(m);
    assert_string_equal(m->cloud->type, "sim");
    uint64_t before = m->model->version;
    assert_int_equal(en_modelcache_size(cache), 1);
    // a second lookup is served from the cache
    assert_ptr_equal(en_modelcache_get(cache, s_model_uuid, &err), m);

    En__SetConfigRequest req = EN__SET_CONFIG_REQUEST__INIT;
    En__ConfigAttrs cfg = EN__CONFIG_ATTRS__INIT;
    req.config = &cfg;
    int dropped = 0;
    int64_t until = en_mono_ms() + 10000;
    for (int i = 0; !dropped && en_mono_ms() < until; i++) {
        cfg.json = i % 2 ? "{\"default-series\":\"focal\"}" : "{\"default-series\":\"jammy\"}";
        void *res = s_call("SetConfig", s_model_uuid, &req.base,
                           &en__set_config_result__descriptor, &err);
        assert_non_null(res);
        FREE(res);
        // the event travels registry -> gateway proxy -> us; wait for it
        int64_t wait_until = en_mono_ms() + 300;
        zpoller_t *poller = zpoller_new(en_modelcache_events(cache), NULL);
        while (!dropped && en_mono_ms() < wait_until) {
            zpoller_wait(poller, (int) (wait_until - en_mono_ms()));
            dropped = en_modelcache_drain(cache);
        }
        zpoller_destroy(&poller);
    }
    assert_int_equal(dropped, 1);
    assert_int_equal(en_modelcache_size(cache), 0);
    m = en_modelcache_get(cache, s_model_uuid, &err);
    assert_non_null(m);
    assert_true(m->model->version > before);
    en_modelcache_destroy(&cache);
}

static void
next_machine_id_is_exactly_once_per_request(void **state)
{
    (void) state;
    En__NextMachineIdRequest req = EN__NEXT_MACHINE_ID_REQUEST__INIT;
    en_err_t err;
    En__NextMachineIdResult *a = s_call("NextMachineId", s_model_uuid, &req.base,
                                        &en__next_machine_id_result__descriptor, &err);
    assert_non_null(a);
    assert_string_equal(a->id, "0");
    FREE(a);
    // the same request id twice (a resend) gets the first answer again
    char id[33];
    for (int round = 0; round < 2; round++) {
        assert_int_equal(en_client_start(H.client, EN_PUBLIC_SERVICE, "NextMachineId",
                                         s_model_uuid, &req.base, en_now_ms() + 10000,
                                         "fixed-request-id-0001", NULL, id, &err),
                         0);
        en_result_t r;
        assert_int_equal(en_client_wait(H.client, 10000, &r), 0);
        assert_int_equal(r.err.kind, EN_OK);
        En__NextMachineIdResult *b = en__next_machine_id_result__unpack(NULL, r.size, r.body);
        assert_string_equal(b->id, "1");
        en__next_machine_id_result__free_unpacked(b, NULL);
        en_result_clear(&r);
    }
    En__NextMachineIdResult *c = s_call("NextMachineId", s_model_uuid, &req.base,
                                        &en__next_machine_id_result__descriptor, &err);
    assert_string_equal(c->id, "2");
    FREE(c);
}

static void
methods_of_services_not_running_answer_unavailable(void **state)
{
    (void) state;
    en_err_t err;
    En__StartInstanceRequest req = EN__START_INSTANCE_REQUEST__INIT;
    assert_null(s_call_within("StartInstance", s_model_uuid, &req.base,
                              &en__start_instance_result__descriptor, S_NO_WORKER_MS, &err));
    // the broker has landed but this test runs none: no worker for it
    assert_int_equal(err.kind, EN_UNAVAILABLE);
    // StartInstance is composed: the registry step runs first, so a model
    // that does not exist is reported as such before any broker is asked
    assert_null(s_call("StartInstance", "0b1d5a54-2f43-4a6c-9d33-000000000000", &req.base,
                       &en__start_instance_result__descriptor, &err));
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_string_equal(err.message, "model \"0b1d5a54-2f43-4a6c-9d33-000000000000\" not found");
    // the firewaller has landed too, and runs here no more than the broker
    En__OpenPortsRequest oreq = EN__OPEN_PORTS_REQUEST__INIT;
    assert_null(s_call_within("OpenPorts", s_model_uuid, &oreq.base,
                              &en__open_ports_result__descriptor, S_NO_WORKER_MS, &err));
    assert_int_equal(err.kind, EN_UNAVAILABLE);
    // and the networking service
    En__SupportsSpacesRequest sreq = EN__SUPPORTS_SPACES_REQUEST__INIT;
    assert_null(s_call_within("SupportsSpaces", s_model_uuid, &sreq.base,
                              &en__supports_spaces_result__descriptor, S_NO_WORKER_MS, &err));
    assert_int_equal(err.kind, EN_UNAVAILABLE);
    // and the imagemeta service: every method of the API has its service
    // or composition now, and none of those runs here
    En__ImageMetadataSourcesRequest ireq = EN__IMAGE_METADATA_SOURCES_REQUEST__INIT;
    assert_null(s_call_within("ImageMetadataSources", s_model_uuid, &ireq.base,
                              &en__image_metadata_sources_result__descriptor, S_NO_WORKER_MS,
                              &err));
    assert_int_equal(err.kind, EN_UNAVAILABLE);
}

//  Raw frames straight at the gateway's ROUTER.
static zmsg_t *
s_raw(zsock_t *dealer, int frames, ...)
{
    va_list ap;
    va_start(ap, frames);
    zmsg_t *msg = zmsg_new();
    for (int i = 0; i < frames; i++) {
        const char *data = va_arg(ap, const char *);
        size_t size = va_arg(ap, size_t);
        zmsg_addmem(msg, data, size);
    }
    va_end(ap);
    if (zmsg_send(&msg, dealer))
        zmsg_destroy(&msg);
    return NULL;
}

static En__Reply *
s_raw_reply(zsock_t *dealer)
{
    zmsg_t *msg = zmsg_recv(dealer);
    if (!msg)
        return NULL;
    En__Reply *reply = NULL;
    if (zmsg_size(msg) == 4) {
        zframe_t *body = zmsg_last(msg);
        reply = en__reply__unpack(NULL, zframe_size(body), zframe_data(body));
    }
    zmsg_destroy(&msg);
    return reply;
}

static zframe_t *
s_envelope(const char *method, const uint8_t *body, size_t size)
{
    En__Request env = EN__REQUEST__INIT;
    env.request_id = "raw";
    env.method = (char *) method;
    env.body.data = (uint8_t *) body;
    env.body.len = size;
    return en_frame_pack(&env.base);
}

static void
malformed_input_gets_not_valid_and_everyone_keeps_serving(void **state)
{
    (void) state;
    zsock_t *d = zsock_new_dealer(H.endpoint);
    zsock_set_rcvtimeo(d, 5000);
    // short message, wrong header, bad worker command: dropped
    s_raw(d, 1, "x", (size_t) 1);
    s_raw(d, 3, "", (size_t) 0, "MDPX99", (size_t) 6, "registry", (size_t) 8);
    s_raw(d, 4, "", (size_t) 0, MDPW_WORKER, (size_t) 6, "\x09", (size_t) 1, "z", (size_t) 1);
    // a body that is not an en.Request: NOT_VALID from the gateway
    s_raw(d, 4, "", (size_t) 0, MDPC_CLIENT, (size_t) 6, "registry", (size_t) 8, "\xff\xff\xff",
          (size_t) 3);
    En__Reply *r = s_raw_reply(d);
    assert_non_null(r);
    assert_int_equal(r->error->kind, EN__ERROR_KIND__NOT_VALID);
    en__reply__free_unpacked(r, NULL);
    // an oversized body: NOT_VALID naming the limit
    size_t big = EN_MAX_BODY + 10;
    char *huge = calloc(1, big);
    s_raw(d, 4, "", (size_t) 0, MDPC_CLIENT, (size_t) 6, "registry", (size_t) 8, huge, big);
    free(huge);
    r = s_raw_reply(d);
    assert_non_null(r);
    assert_int_equal(r->error->kind, EN__ERROR_KIND__NOT_VALID);
    assert_non_null(strstr(r->error->message, "exceeds the limit"));
    en__reply__free_unpacked(r, NULL);
    // to the registry service itself: an unknown method...
    zframe_t *env = s_envelope("NoSuchMethod", NULL, 0);
    s_raw(d, 4, "", (size_t) 0, MDPC_CLIENT, (size_t) 6, "registry", (size_t) 8,
          (const char *) zframe_data(env), zframe_size(env));
    zframe_destroy(&env);
    r = s_raw_reply(d);
    assert_non_null(r);
    assert_int_equal(r->error->kind, EN__ERROR_KIND__NOT_VALID);
    assert_string_equal(r->error->message,
                        "unknown method \"NoSuchMethod\" for service \"registry\"");
    en__reply__free_unpacked(r, NULL);
    // ...and bytes that are not the method's request message
    env = s_envelope("Provider", (const uint8_t *) "\xff\xff\xff\xff", 4);
    s_raw(d, 4, "", (size_t) 0, MDPC_CLIENT, (size_t) 6, "registry", (size_t) 8,
          (const char *) zframe_data(env), zframe_size(env));
    zframe_destroy(&env);
    r = s_raw_reply(d);
    assert_non_null(r);
    assert_int_equal(r->error->kind, EN__ERROR_KIND__NOT_VALID);
    assert_non_null(strstr(r->error->message, "not a valid"));
    en__reply__free_unpacked(r, NULL);
    // a public method that does not exist
    env = s_envelope("Frobnicate", NULL, 0);
    s_raw(d, 4, "", (size_t) 0, MDPC_CLIENT, (size_t) 6, EN_PUBLIC_SERVICE,
          strlen(EN_PUBLIC_SERVICE), (const char *) zframe_data(env), zframe_size(env));
    zframe_destroy(&env);
    r = s_raw_reply(d);
    assert_non_null(r);
    assert_int_equal(r->error->kind, EN__ERROR_KIND__NOT_VALID);
    en__reply__free_unpacked(r, NULL);
    zsock_destroy(&d);
    // both still answer
    registered_providers_are_sim_and_lxd_without_aliases(state);
    assert_int_equal(harness_wait_service(&H, "registry", 5000), 0);
}

static void
killed_replica_loses_no_call_and_duplicates_no_effect(void **state)
{
    (void) state;
    // a second replica, then SIGKILL the first while calls are in flight
    int second = harness_start(&H, "registry", 1);
    (void) second;
    en_err_t err;
    En__NextMachineIdRequest req = EN__NEXT_MACHINE_ID_REQUEST__INIT;
    assert_int_equal(harness_wait_service(&H, "registry", 10000), 0);
    enum { N = 3000 };
    for (int i = 0; i < N; i++)
        assert_int_equal(en_client_start(H.client, EN_PUBLIC_SERVICE, "NextMachineId",
                                         s_model_uuid, &req.base, en_now_ms() + 60000, NULL, NULL,
                                         NULL, &err),
                         0);
    static bool seen[N + 3];
    for (int i = 0; i < N; i++) {
        en_result_t r;
        // kill the first registry (process index 1) while most calls are
        // still queued or in its hands
        if (i == 100)
            harness_kill(&H, 1, SIGKILL);
        assert_int_equal(en_client_wait(H.client, 60000, &r), 0);
        assert_int_equal(r.err.kind, EN_OK);
        En__NextMachineIdResult *b = en__next_machine_id_result__unpack(NULL, r.size, r.body);
        int id = atoi(b->id);
        // ids 0..2 were taken earlier; these are 3..N+2, each exactly once
        assert_true(id >= 3 && id < N + 3);
        assert_false(seen[id]);
        seen[id] = true;
        en__next_machine_id_result__free_unpacked(b, NULL);
        en_result_clear(&r);
    }
    // and the sequence continues without a gap
    En__NextMachineIdResult *c = s_call("NextMachineId", s_model_uuid, &req.base,
                                        &en__next_machine_id_result__descriptor, &err);
    assert_non_null(c);
    assert_int_equal(atoi(c->id), N + 3);
    FREE(c);
}

static void
a_registry_that_cannot_open_its_state_exits_at_once(void **state)
{
    (void) state;
    char *out, *err;
    // no signal is needed to end it: it says why and exits non-zero
    int rc = harness_run(&H, &out, &err, "timeout 20 %s --gateway %s --home /dev/null/x",
                         harness_bin("services/registry/environs-registry"), H.endpoint);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(err, "cannot create /dev/null/x"));
    free(out);
    free(err);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(registered_providers_are_sim_and_lxd_without_aliases),
        cmocka_unit_test(register_provider_refuses_duplicates_with_juju_messages),
        cmocka_unit_test(provider_resolves_aliases_and_reports_unknown_types),
        cmocka_unit_test(clouds_include_builtin_sim_with_two_regions),
        cmocka_unit_test(make_cloud_spec_finds_regions_case_insensitively),
        cmocka_unit_test(open_stores_a_prepared_model),
        cmocka_unit_test(set_config_refuses_changing_firewall_mode),
        cmocka_unit_test(model_changes_are_published),
        cmocka_unit_test(service_model_cache_drops_a_model_when_it_changes),
        cmocka_unit_test(next_machine_id_is_exactly_once_per_request),
        cmocka_unit_test(methods_of_services_not_running_answer_unavailable),
        cmocka_unit_test(malformed_input_gets_not_valid_and_everyone_keeps_serving),
        cmocka_unit_test(killed_replica_loses_no_call_and_duplicates_no_effect),
        cmocka_unit_test(a_registry_that_cannot_open_its_state_exits_at_once),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
