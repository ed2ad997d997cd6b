/*  bootstrap.c — Bootstrap, PrepareForBootstrap, Create, Destroy,
    DestroyController, APIInfo and CheckProviderAPI.

    Bootstrap is common.Bootstrap with its Finalize run here, since a remote
    caller cannot be handed a callback (§7.3): series, constraints (model
    merged under bootstrap, then the controller default), the zone loop of
    2.3 (statement 43), the controller instance started through the same
    path as StartInstance (machine "0", the bootstrap nonce, every ownership
    tag plus juju-is-controller=true in the create call), then WaitSSH's
    address polling (statement 53) and the nonce check (54). Progress goes
    out as Progress events under the caller's request id with Juju's lines
    (statement 44). A bootstrap that fails after its instance exists
    removes that instance unless keep_broken.

    What stands in for SSH. On a cloud with a file API (lxd) the nonce
    file is read from inside the machine, where the create call wrote it
    as cloud-init would. The sim has no machines to log in to; its nonce
    check is made against the instance's juju-machine-nonce tag, which the
    create call wrote and only the cloud can report back. The lines and
    the errors are Juju's, with the file Juju's script would test.

    Destroy is common.Destroy (56, 59): every instance of the model,
    NO_INSTANCES counting as success; the sim has no environ-scoped
    storage (57); a cloud's model-level resources (lxd's bridge and
    profile) are released once the instances are gone. DestroyController (62) destroys the model and then every
    instance tagged with the controller's uuid, in any model; without a
    model in the envelope it finds the cloud through the registry's
    controller store alone, so a controller whose model records are gone
    can still be killed. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "common/clock.h"
#include "common/log.h"
#include "registry.pb-c.h"

//  agent.BootstrapNonce
#define S_BOOTSTRAP_NONCE "user-admin:bootstrap"
//  Where Juju's check script looks for the nonce (<DataDir>/nonce.txt).
#define S_NONCE_FILE "/var/lib/juju/nonce.txt"
#define S_DEFAULT_SERIES "jammy"
#define S_API_PORT 17070

//  --------------------------------------------------------------------------
//  Small pieces

//  A number from a JSON config object: seconds (int or float) to ms.
static int64_t
s_config_seconds(const json_t *cfg, const char *key, int64_t fallback_ms)
{
    const json_t *v = cfg ? json_object_get(cfg, key) : NULL;
    if (json_is_number(v) && json_number_value(v) >= 0)
        return (int64_t) (json_number_value(v) * 1000.0);
    if (json_is_string(v)) {
        char *end;
        double d = strtod(json_string_value(v), &end);
        if (end != json_string_value(v) && *end == '\0' && d >= 0)
            return (int64_t) (d * 1000.0);
    }
    return fallback_ms;
}

//  formatHardware (statement 44): arch, mem, cores; absent or zero skipped.
static void
s_format_hardware(const En__HardwareCharacteristics *hw, char *out, size_t size)
{
    size_t n = 0;
    out[0] = '\0';
    if (!hw)
        return;
    if (hw->_arch_case && hw->arch && *hw->arch)
        n += (size_t) snprintf(out + n, size - n, "arch=%s", hw->arch);
    uint64_t mem_mib = hw->_mem_case ? hw->mem : 0, cores = hw->_cpu_cores_case ? hw->cpu_cores : 0;
    if (mem_mib && n < size) {
        char mem[32];
        if (mem_mib < 1024)
            snprintf(mem, sizeof mem, "%" PRIu64 "M", mem_mib);
        else {
            snprintf(mem, sizeof mem, "%.1f", (double) mem_mib / 1024.0);
            size_t l = strlen(mem);
            if (l > 2 && strcmp(mem + l - 2, ".0") == 0)
                mem[l - 2] = '\0';
            strcat(mem, "G");
        }
        n += (size_t) snprintf(out + n, size - n, "%smem=%s", n ? " " : "", mem);
    }
    if (cores && n < size)
        snprintf(out + n, size - n, "%scores=%" PRIu64, n ? " " : "", cores);
}

//  IsAvailabilityZoneIndependent: errors no other zone can cure. Every
//  other error is zone-specific (statement 43: the default).
static bool
s_zone_independent(const en_err_t *err)
{
    switch (err->kind) {
    case EN_NOT_VALID:
    case EN_NOT_SUPPORTED:
    case EN_NOT_FOUND:
    case EN_UNAUTHORIZED:
    case EN_NOT_IMPLEMENTED:
    case EN_ALREADY_EXISTS:
    case EN_TIMEOUT:
        return true;
    default:
        return false;
    }
}

static int
s_terminate(broker_model_t *m, const char *const *ids, size_t n, en_err_t *err)
{
    return n ? m->ops->terminate(m->conn, ids, n, err) : 0;
}

//  The live instances carrying every filter tag.
static int
s_list(broker_model_t *m, const en_tag_t *filters, size_t nf, en_arena_t *a, const char ***ids,
       size_t *count, en_err_t *err)
{
    en_instance_t *found = NULL;
    size_t n = 0;
    if (m->ops->list(m->conn, filters, nf, &found, &n, err))
        return -1;
    *ids = en_arena_array(a, n + 1, sizeof(char *));
    *count = 0;
    for (size_t i = 0; i < n; i++)
        if (found[i].live)
            (*ids)[(*count)++] = en_arena_strdup(a, found[i].id);
    en_instances_free(&found, n);
    return 0;
}

//  --------------------------------------------------------------------------
//  Bootstrap

//  The 2.3 zone loop (statement 43) around StartInstance.
static int
s_start_bootstrap_instance(en_call_t *call, broker_model_t *m, En__StartInstanceParams *p,
                           En__StartInstanceResult *res, en_err_t *err)
{
    if (p->placement && *p->placement) {
        if (broker_start_instance(call, m, p, res, err))
            return en_err_annotate(err, "cannot start bootstrap instance");
        return 0;
    }
    en_zone_t *zones = NULL;
    size_t nz = 0;
    if (m->ops->zones(m->conn, &zones, &nz, err))
        return en_err_annotate(err, "cannot start bootstrap instance");
    char tried[EN_ERR_MSG_MAX] = "";
    size_t ntried = 0;
    en_err_t last = {0};
    int rc = -1;
    for (size_t i = 0; i < nz; i++) {
        if (!zones[i].available)
            continue;
        p->placement = en_arena_printf(call->arena, "zone=%s", zones[i].name);
        if (broker_start_instance(call, m, p, res, err) == 0) {
            rc = 0;
            goto done;
        }
        if (s_zone_independent(err)) {
            en_err_annotate(err, "cannot start bootstrap instance");
            goto done;
        }
        en_log(EN_LOG_INFO, call->request_id, "bootstrap instance not started in zone %s: %s",
               zones[i].name, err->message);
        size_t used = strlen(tried);
        snprintf(tried + used, sizeof tried - used, "%s%s", ntried ? ", " : "", zones[i].name);
        ntried++;
        last = *err;
    }
    if (ntried == 0)
        en_err_set(err, EN_UNAVAILABLE, "no usable availability zones");
    else if (ntried == 1)
        en_err_set(err, last.kind, "cannot start bootstrap instance in availability zone \"%s\": %s",
                   tried, last.message);
    else
        en_err_set(err, last.kind, "cannot start bootstrap instance in any availability zone (%s)",
                   tried);
done:
    p->placement = NULL;
    en_zones_free(&zones, nz);
    return rc;
}

//  The check script of statement 54: the nonce file inside the machine,
//  read through the cloud's file API where it has one (lxd), else the
//  juju-machine-nonce tag the create call wrote, which only the cloud can
//  report back (sim).
static int
s_check_nonce(broker_model_t *m, const en_instance_t *inst, const char *nonce, en_err_t *err)
{
    if (m->ops->read_file) {
        char *data = NULL;
        size_t len = 0;
        if (m->ops->read_file(m->conn, inst->id, S_NONCE_FILE, &data, &len, err)) {
            if (err->kind == EN_NOT_FOUND)
                return en_err_set(err, EN_NOT_FOUND, "%s does not exist", S_NONCE_FILE);
            return en_err_annotate(err, "reading %s", S_NONCE_FILE);
        }
        // the script compares the file's first line
        size_t n = strcspn(data, "\n");
        bool same = n == strlen(nonce) && strncmp(data, nonce, n) == 0;
        free(data);
        if (!same)
            return en_err_set(err, EN_NOT_VALID, "%s contents do not match machine nonce",
                              S_NONCE_FILE);
        return 0;
    }
    const char *tag = en_kvlist_get(&inst->tags, "juju-machine-nonce");
    if (!tag)
        return en_err_set(err, EN_NOT_FOUND, "%s does not exist", S_NONCE_FILE);
    if (strcmp(tag, nonce) != 0)
        return en_err_set(err, EN_NOT_VALID, "%s contents do not match machine nonce",
                          S_NONCE_FILE);
    return 0;
}

//  WaitSSH's address loop (statement 53) and the nonce check (54): poll
//  the instance every `delay` until it has an address, printing each new
//  one; ProvisioningError ends it at once.
static int
s_wait_address(en_call_t *call, broker_model_t *m, const char *id, const char *nonce,
               int64_t timeout_ms, int64_t delay_ms, en_instance_t *out, en_err_t *err)
{
    broker_thread_t *t = call->state;
    en_progress_send(t->progress, call->request_id, NULL, "Waiting for address");
    int64_t start = en_mono_ms();
    char seen[8][64];
    size_t nseen = 0;
    for (;;) {
        en_instance_t *found = NULL;
        size_t count = 0;
        if (broker_describe(m, &id, 1, true, &found, &count, err))
            return en_err_annotate(err, "refreshing addresses");
        if (count != 1 || !found[0].live) {
            en_instances_free(&found, count);
            return en_err_set(err, EN_NOT_FOUND, "refreshing addresses: instance %s not found",
                              id);
        }
        en_instance_t *inst = &found[0];
        if (inst->status && strcmp(inst->status, "provisioning error") == 0) {
            if (inst->status_message && *inst->status_message)
                en_err_set(err, EN_INTERNAL, "instance provisioning failed (%s)",
                           inst->status_message);
            else
                en_err_set(err, EN_INTERNAL, "instance provisioning failed");
            en_instances_free(&found, count);
            return -1;
        }
        for (size_t a = 0; a < inst->address_count; a++) {
            bool known = false;
            for (size_t s = 0; s < nseen && !known; s++)
                known = strcmp(seen[s], inst->addresses[a]) == 0;
            if (!known && nseen < 8) {
                snprintf(seen[nseen++], sizeof seen[0], "%s", inst->addresses[a]);
                en_progress_send(t->progress, call->request_id, NULL,
                                 "Attempting to connect to %s:22", inst->addresses[a]);
            }
        }
        if (inst->address_count) {
            if (s_check_nonce(m, inst, nonce, err)) {
                en_instances_free(&found, count);
                return -1;
            }
            *out = *inst;
            memset(inst, 0, sizeof *inst);
            en_instances_free(&found, count);
            return 0;
        }
        en_instances_free(&found, count);
        int64_t elapsed = en_mono_ms() - start;
        bool past_deadline = call->deadline_ms && en_now_ms() + delay_ms >= call->deadline_ms;
        if (elapsed + delay_ms > timeout_ms || past_deadline) {
            char d[32];
            en_duration_format(timeout_ms, d, sizeof d);
            return en_err_set(err, EN_TIMEOUT, "waited for %s without getting any addresses", d);
        }
        broker_sleep_ms(delay_ms);
    }
}

static int
s_bootstrap(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res_, en_err_t *err)
{
    const En__BootstrapRequest *req = (const void *) req_;
    En__BootstrapResult *res = (void *) res_;
    broker_thread_t *t = call->state;
    broker_model_t m;
    if (broker_model(call, &m, err))
        return -1;
    if (!*m.controller_uuid)
        return en_err_set(err, EN_NOT_VALID,
                          "validating bootstrap parameters: controller configuration has no "
                          "controller UUID");
    json_t *cfg = json_loads(m.config_json, 0, NULL);
    json_t *ctl = NULL;
    if (req->controller_config && req->controller_config->json &&
        *req->controller_config->json) {
        ctl = json_loads(req->controller_config->json, 0, NULL);
        if (!json_is_object(ctl)) {
            json_decref(ctl);
            json_decref(cfg);
            return en_err_set(err, EN_NOT_VALID, "controller config is not a JSON object");
        }
    }
    int rc = -1;
    en_cons_validator_t *v = NULL;
    en_constraints_t model_cons, boot_cons, merged;
    en_constraints_init(&model_cons);
    en_constraints_init(&boot_cons);
    en_constraints_init(&merged);
    en_instance_t inst = {0};
    bool started = false;
    const char *id = NULL;

    // statement 39: the series asked for, else default-series, else LTS
    const char *series = req->bootstrap_series && *req->bootstrap_series ? req->bootstrap_series
                         : json_is_string(json_object_get(cfg, "default-series")) &&
                                 *json_string_value(json_object_get(cfg, "default-series"))
                             ? json_string_value(json_object_get(cfg, "default-series"))
                             : S_DEFAULT_SERIES;
    // §7.2 step 6: bootstrap constraints win over the model's
    v = broker_validator(&m, err);
    if (!v || en_constraints_from_proto(req->model_constraints, &model_cons, err) ||
        en_constraints_from_proto(req->bootstrap_constraints, &boot_cons, err) ||
        en_cons_validator_merge(v, &model_cons, &boot_cons, &merged, err))
        goto cleanup;
    const char *cloud = req->cloud_name && *req->cloud_name ? req->cloud_name : "";
    const char *region = req->cloud_region && *req->cloud_region ? req->cloud_region : m.region;
    en_progress_send(t->progress, call->request_id, NULL,
                     "Launching controller instance(s) on %s%s%s...", cloud,
                     *cloud && region && *region ? "/" : "", region ? region : "");

    En__StartInstanceParams p = EN__START_INSTANCE_PARAMS__INIT;
    p.controller_uuid = (char *) m.controller_uuid;
    p.constraints = en_constraints_to_proto(call->arena, &merged);
    p.placement = req->placement && *req->placement ? req->placement : NULL;
    p.machine_id = "0";
    p.machine_nonce = S_BOOTSTRAP_NONCE;
    p.is_controller = true;
    p.series = (char *) series;
    p.n_image_metadata = req->n_image_metadata;
    p.image_metadata = req->image_metadata;
    En__StartInstanceResult started_res = EN__START_INSTANCE_RESULT__INIT;
    if (s_start_bootstrap_instance(call, &m, &p, &started_res, err))
        goto cleanup;
    started = true;
    id = started_res.instance->id;

    // statement 44's line, padded the way Juju pads it
    char hw[256], line[512];
    s_format_hardware(started_res.hardware, hw, sizeof hw);
    int len = snprintf(line, sizeof line, " - %s (%s)", id, hw);
    if (len >= 0 && len < 40)
        snprintf(line + len, sizeof line - (size_t) len, "%*s", 40 - len - 1, "");
    en_progress_send(t->progress, call->request_id, "allocating", "%s", line);

    // Finalize: addresses and the nonce (statements 53, 54), with the
    // bootstrap-only timings (§7.3; BootstrapDialOpts)
    int64_t timeout = s_config_seconds(ctl, "bootstrap-timeout",
                                       s_config_seconds(cfg, "bootstrap-timeout", 1200000));
    int64_t delay = s_config_seconds(
        ctl, "bootstrap-addresses-delay",
        s_config_seconds(cfg, "bootstrap-addresses-delay", 10000));
    if (s_wait_address(call, &m, id, S_BOOTSTRAP_NONCE, timeout, delay, &inst, err))
        goto cleanup;

    int64_t api_port = S_API_PORT;
    const json_t *port = ctl ? json_object_get(ctl, "api-port") : NULL;
    if (json_is_integer(port) && json_integer_value(port) > 0 && json_integer_value(port) < 65536)
        api_port = json_integer_value(port);
    res->arch = started_res.hardware && started_res.hardware->_arch_case
                    ? started_res.hardware->arch
                    : en_arena_strdup(call->arena, inst.arch ? inst.arch : "");
    res->series = en_arena_strdup(call->arena, series);
    res->instance_id = en_arena_strdup(call->arena, id);
    res->controller_uuid = en_arena_strdup(call->arena, m.controller_uuid);
    res->model_uuid = en_arena_strdup(call->arena, m.uuid);
    res->hardware = started_res.hardware;
    En__Instance *pi = broker_instance_to(call->arena, &inst);
    res->n_addresses = pi->n_addresses;
    res->addresses = pi->addresses;
    res->api_endpoints = en_arena_array(call->arena, inst.address_count + 1, sizeof(char *));
    for (size_t i = 0; i < inst.address_count; i++)
        res->api_endpoints[res->n_api_endpoints++] =
            en_arena_printf(call->arena, "%s:%" PRId64, inst.addresses[i], api_port);
    en_progress_send(t->progress, call->request_id, "running", "Bootstrap agent now started");
    rc = 0;
cleanup:
    if (rc != 0 && started) {
        if (req->keep_broken)
            en_log(EN_LOG_INFO, call->request_id,
                   "bootstrap failed; instance %s kept (keep-broken)", id);
        else {
            // the failed bootstrap's instance is not left behind
            en_err_t ignored;
            if (s_terminate(&m, &id, 1, &ignored))
                en_log(EN_LOG_WARN, call->request_id, "cannot remove bootstrap instance %s: %s",
                       id, ignored.message);
        }
    }
    en_instance_clear(&inst);
    en_constraints_reset(&model_cons);
    en_constraints_reset(&boot_cons);
    en_constraints_reset(&merged);
    en_cons_validator_destroy(&v);
    json_decref(ctl);
    json_decref(cfg);
    return rc;
}

//  PrepareForBootstrap and Create: prove the cloud answers with this
//  model's credential before anything is started (EC2 verifies its
//  credentials here; the sim's zones call is its cheapest API call).
static int
s_check_cloud(en_call_t *call, en_err_t *err)
{
    broker_model_t m;
    if (broker_model(call, &m, err))
        return -1;
    en_zone_t *zones = NULL;
    size_t nz = 0;
    if (m.ops->zones(m.conn, &zones, &nz, err))
        return en_err_annotate(err, "cannot reach the cloud");
    en_zones_free(&zones, nz);
    return 0;
}

static int
s_prepare_for_bootstrap(en_call_t *call, const ProtobufCMessage *req, ProtobufCMessage *res,
                        en_err_t *err)
{
    (void) req, (void) res;
    return s_check_cloud(call, err);
}

static int
s_create(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res, en_err_t *err)
{
    const En__CreateRequest *req = (const void *) req_;
    (void) res;
    if (!req->controller_uuid || !*req->controller_uuid)
        return en_err_set(err, EN_NOT_VALID, "missing controller UUID");
    return s_check_cloud(call, err);
}

//  --------------------------------------------------------------------------
//  Destroy

//  The model-level resources of a cloud that keeps any (lxd: the model's
//  bridge and profile), once the instances are gone. A resource still in
//  use (an instance not yet gone from the cloud's view) is retried with
//  backoff until the call's deadline comes near.
static int
s_release(en_call_t *call, broker_model_t *m, const en_tag_t *filter, en_err_t *err)
{
    if (!m->ops->release_model)
        return 0;
    for (size_t attempt = 0;; attempt++) {
        if (m->ops->release_model(m->conn, filter, 1, err) == 0)
            return 0;
        bool near = call->deadline_ms && en_now_ms() + 1000 >= call->deadline_ms;
        if (!err->retryable || near || !broker_retry_wait(attempt))
            return en_err_annotate(err, "releasing model resources");
        en_log(EN_LOG_INFO, call->request_id, "%s; trying again", err->message);
    }
}

//  common.Destroy (statements 56, 59).
static int
s_destroy_model(en_call_t *call, broker_model_t *m, en_err_t *err)
{
    const char **ids = NULL;
    size_t n = 0;
    en_tag_t filter = {"juju-model-uuid", m->uuid};
    if (s_list(m, &filter, 1, call->arena, &ids, &n, err) || s_terminate(m, ids, n, err))
        return en_err_annotate(err, "destroying instances");
    if (n)
        en_log(EN_LOG_INFO, call->request_id, "destroyed %zu instances of model %s", n, m->uuid);
    return s_release(call, m, &filter, err);
}

static int
s_destroy(en_call_t *call, const ProtobufCMessage *req, ProtobufCMessage *res, en_err_t *err)
{
    (void) req, (void) res;
    broker_model_t m;
    if (broker_model(call, &m, err))
        return -1;
    return s_destroy_model(call, &m, err);
}

static int
s_destroy_controller(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res,
                     en_err_t *err)
{
    const En__DestroyControllerRequest *req = (const void *) req_;
    (void) res;
    broker_thread_t *t = call->state;
    const char *uuid = req->controller_uuid ? req->controller_uuid : "";
    broker_model_t m;
    En__GetControllerForServiceResult *found = NULL;
    int rc = -1;
    if (call->model_uuid && *call->model_uuid) {
        if (broker_model(call, &m, err))
            return -1;
        if (!*uuid)
            uuid = m.controller_uuid;
        if (s_destroy_model(call, &m, err))
            return -1;
    } else {
        // no model: the controller store names the cloud (kill-controller
        // of a controller whose model records are gone)
        if (!*uuid)
            return en_err_set(err, EN_NOT_VALID, "missing controller UUID");
        if (!t->client)
            return en_err_set(err, EN_UNAVAILABLE, "no registry to find controller %s", uuid);
        En__GetControllerForServiceRequest q = EN__GET_CONTROLLER_FOR_SERVICE_REQUEST__INIT;
        q.key_case = EN__GET_CONTROLLER_FOR_SERVICE_REQUEST__KEY_UUID;
        q.uuid = (char *) uuid;
        int64_t left = call->deadline_ms ? call->deadline_ms - en_now_ms() : 30000;
        if (en_client_call(t->client, "registry", "GetControllerForService", NULL, &q.base,
                           &en__get_controller_for_service_result__descriptor,
                           (ProtobufCMessage **) &found, (int) (left > 0 ? left : 1), err))
            return -1;
        if (!found->cloud) {
            en_err_set(err, EN_INTERNAL, "controller %s has no cloud spec", uuid);
            goto cleanup;
        }
        if (broker_connect(call, found->cloud, &m, err))
            goto cleanup;
    }
    // statement 62: every instance tagged with this controller, hosted
    // models included
    const char **ids = NULL;
    size_t n = 0;
    en_tag_t filter = {"juju-controller-uuid", uuid};
    if (s_list(&m, &filter, 1, call->arena, &ids, &n, err) || s_terminate(&m, ids, n, err)) {
        en_err_annotate(err, "destroying managed environs");
        goto cleanup;
    }
    if (s_release(call, &m, &filter, err))
        goto cleanup;
    en_log(EN_LOG_INFO, call->request_id, "controller %s destroyed (%zu instances)", uuid, n);
    rc = 0;
cleanup:
    if (found)
        protobuf_c_message_free_unpacked(&found->base, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  APIInfo and CheckProviderAPI (statements 98, 99)

static int
s_api_info(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res_, en_err_t *err)
{
    const En__APIInfoRequest *req = (const void *) req_;
    En__APIInfoResult *res = (void *) res_;
    broker_model_t m;
    if (broker_model(call, &m, err))
        return -1;
    const char *uuid =
        req->controller_uuid && *req->controller_uuid ? req->controller_uuid : m.controller_uuid;
    const char **ids = NULL;
    size_t n = 0;
    en_tag_t filters[] = {{"juju-controller-uuid", uuid}, {"juju-is-controller", "true"}};
    if (s_list(&m, filters, 2, call->arena, &ids, &n, err))
        return -1;
    if (n == 0)
        return en_err_set(err, EN_NOT_BOOTSTRAPPED, "model is not bootstrapped");
    uint32_t port = req->api_port ? req->api_port : S_API_PORT;
    // AddressesRefreshAttempt: 3 min in all, 1 s apart (scaled for tests)
    double scale = broker_retry_scale();
    int64_t total = (int64_t) (180000 * scale), delay = (int64_t) (1000 * scale);
    int64_t start = en_mono_ms();
    for (;;) {
        en_instance_t *found = NULL;
        size_t count = 0;
        // ErrPartialInstances is tolerated: missing ones are just skipped
        if (m.ops->describe(m.conn, ids, n, &found, &count, err))
            return -1;
        res->addrs = en_arena_array(call->arena, 16, sizeof(char *));
        for (size_t i = 0; i < count; i++)
            for (size_t a = 0; found[i].live && a < found[i].address_count && res->n_addrs < 16;
                 a++)
                res->addrs[res->n_addrs++] =
                    en_arena_printf(call->arena, "%s:%u", found[i].addresses[a], port);
        en_instances_free(&found, count);
        if (res->n_addrs)
            break;
        bool past_deadline = call->deadline_ms && en_now_ms() + delay >= call->deadline_ms;
        if (en_mono_ms() - start + delay > total || past_deadline) {
            char list[EN_ERR_MSG_MAX] = "";
            for (size_t i = 0; i < n; i++) {
                size_t used = strlen(list);
                snprintf(list + used, sizeof list - used, "%s%s", i ? " " : "", ids[i]);
            }
            return en_err_set(err, EN_NOT_FOUND, "addresses for [%s] not found", list);
        }
        broker_sleep_ms(delay);
    }
    res->ca_cert = req->ca_cert ? req->ca_cert : "";
    const char *model = req->model_uuid && *req->model_uuid ? req->model_uuid : m.uuid;
    res->model_tag = en_arena_printf(call->arena, "model-%s", model);
    return 0;
}

static int
s_check_provider_api(en_call_t *call, const ProtobufCMessage *req, ProtobufCMessage *res,
                     en_err_t *err)
{
    (void) req, (void) res;
    broker_model_t m;
    if (broker_model(call, &m, err))
        return -1;
    const char **ids = NULL;
    size_t n = 0;
    en_tag_t filter = {"juju-model-uuid", m.uuid};
    // an empty listing is NO_INSTANCES to Juju, which counts as success
    if (s_list(&m, &filter, 1, call->arena, &ids, &n, err))
        return en_err_annotate(err, "cannot make API call to provider");
    return 0;
}

#define S_ROUTE(method, fn) {&en__environ__descriptor, method, fn, 0}

const en_route_t broker_bootstrap_routes[] = {
    S_ROUTE("PrepareForBootstrap", s_prepare_for_bootstrap),
    S_ROUTE("Bootstrap", s_bootstrap),
    S_ROUTE("Create", s_create),
    S_ROUTE("Destroy", s_destroy),
    S_ROUTE("DestroyController", s_destroy_controller),
    S_ROUTE("APIInfo", s_api_info),
    S_ROUTE("CheckProviderAPI", s_check_provider_api),
};
const size_t broker_bootstrap_route_count =
    sizeof broker_bootstrap_routes / sizeof broker_bootstrap_routes[0];
