/*  conformance_bootstrap.c — statements of §1 B (Prepare), E (Bootstrap),
    F (Destroy) and K (APIInfo, CheckProviderAPI) against the gateway's
    Bootstrap and DestroyControllerByName compositions and the broker, on
    the sim cloud at <home>/sim/sim.db. controllers.yaml is read from the
    registry's home as a user's client would read it. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "bus/envelope.h"
#include "bus/mdp.h"
#include "bus/progress.h"
#include "common/cert.h"
#include "common/clock.h"
#include "common/cloudfile.h"
#include "common/paths.h"
#include "conformance.h"
#include "providers/sim/sim_cloud.h"

static en_sim_cloud_t *
s_sim(void)
{
    en_err_t err;
    en_sim_cloud_t *c = harness_sim(&H, &err);
    CHECK(c != NULL, "open the sim cloud: %s", err.message);
    return c;
}

static void
s_knob(const char *key, const char *value)
{
    en_sim_cloud_t *c = s_sim();
    en_err_t err;
    CHECK(c && en_sim_cloud_knob_set(c, key, value, &err) == 0, "knob %s: %s", key,
          c ? err.message : "");
    en_sim_cloud_close(&c);
}

//  Live instances carrying tag key=value, as the cloud's operator sees them.
static size_t
s_cloud_live(const char *key, const char *value)
{
    en_sim_cloud_t *c = s_sim();
    if (!c)
        return 0;
    en_sim_tag_t f = {key, value};
    en_sim_instance_t *insts = NULL;
    size_t n = 0, live = 0;
    en_err_t err;
    if (en_sim_cloud_list(c, "sim-east", &f, 1, false, &insts, &n, &err) == 0)
        for (size_t i = 0; i < n; i++)
            live += insts[i].state == EN_SIM_PENDING || insts[i].state == EN_SIM_RUNNING;
    en_sim_instances_free(&insts, n);
    en_sim_cloud_close(&c);
    return live;
}

static en_controller_t *
s_stored(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/controllers.yaml", H.home);
    en_err_t err;
    en_controllers_t *all = en_controllers_load(path, &err);
    en_controller_t *c = all ? en_controllers_find(all, name) : NULL;
    en_controller_t *copy = c ? en_controller_dup(c) : NULL;
    en_controllers_destroy(&all);
    return copy;
}

typedef struct {
    const char *name;
    const char *config;      // model config JSON, NULL: {}
    const char *ctl_config;  // controller config JSON, NULL: none
    bool keep_broken;
    En__Constraints *bootstrap_cons;
    En__Constraints *model_cons;
} boot_t;

static En__BootstrapResult *
s_bootstrap(const boot_t *b, en_err_t *err)
{
    En__BootstrapRequest req = EN__BOOTSTRAP_REQUEST__INIT;
    req.controller_name = (char *) b->name;
    req.cloud_name = "sim";
    req.cloud_region = "sim-east";
    En__ConfigAttrs mc = EN__CONFIG_ATTRS__INIT, cc = EN__CONFIG_ATTRS__INIT;
    mc.json = (char *) (b->config ? b->config : "{}");
    req.model_config = &mc;
    if (b->ctl_config) {
        cc.json = (char *) b->ctl_config;
        req.controller_config = &cc;
    }
    req.keep_broken = b->keep_broken;
    req.bootstrap_constraints = b->bootstrap_cons;
    req.model_constraints = b->model_cons;
    ProtobufCMessage *res = NULL;
    en_err_clear(err);
    en_client_call(H.client, EN_PUBLIC_SERVICE, "Bootstrap", NULL, &req.base,
                   &en__bootstrap_result__descriptor, &res, 60000, err);
    return (En__BootstrapResult *) res;
}

static en_err_t
s_destroy_by_name(const char *name)
{
    En__DestroyControllerByNameRequest req = EN__DESTROY_CONTROLLER_BY_NAME_REQUEST__INIT;
    req.controller_name = (char *) name;
    en_err_t err;
    void *r = conf_call("DestroyControllerByName", NULL, &req,
                        &en__destroy_controller_by_name_result__descriptor, &err);
    FREE(r);
    return err;
}

static char *
s_start(const char *model, const char *controller_uuid, const char *machine, bool is_controller)
{
    En__StartInstanceRequest req = EN__START_INSTANCE_REQUEST__INIT;
    En__StartInstanceParams p = EN__START_INSTANCE_PARAMS__INIT;
    p.machine_id = (char *) machine;
    p.machine_nonce = "nonce";
    p.controller_uuid = (char *) controller_uuid;
    p.is_controller = is_controller;
    req.params = &p;
    en_err_t err;
    En__StartInstanceResult *r =
        conf_call("StartInstance", model, &req, &en__start_instance_result__descriptor, &err);
    CHECK(r && r->instance, "StartInstance %s: %s", machine, err.message);
    char *id = r && r->instance ? strdup(r->instance->id) : NULL;
    FREE(r);
    return id;
}

//  8. Prepare validates its parameters in order, before anything exists.
void
s008_prepare_validation_order(void)
{
    boot_t b = {.name = ""};
    en_err_t err;
    En__BootstrapResult *r = s_bootstrap(&b, &err);
    CHECK_ERR(err, EN_NOT_VALID, "empty controller name not valid");
    FREE(r);
    En__BootstrapRequest req = EN__BOOTSTRAP_REQUEST__INIT;
    req.controller_name = "c";
    r = conf_call("Bootstrap", NULL, &req, &en__bootstrap_result__descriptor, &err);
    CHECK_ERR(err, EN_NOT_VALID, "empty cloud name not valid");
    FREE(r);
    en_controller_t *c = s_stored("c");
    CHECK(c == NULL, "nothing stored");
    en_controller_destroy(&c);
}

//  9. A second bootstrap under the same name fails with AlreadyExists and
//  changes nothing: not the store, not the cloud.
void
s009_bootstrap_twice(void)
{
    boot_t b = {.name = "dev"};
    en_err_t err;
    En__BootstrapResult *first = s_bootstrap(&b, &err);
    CHECK(first != NULL, "first bootstrap: %s", err.message);
    en_controller_t *before = s_stored("dev");
    En__BootstrapResult *second = s_bootstrap(&b, &err);
    CHECK(second == NULL, "second bootstrap refused");
    CHECK_ERR(err, EN_ALREADY_EXISTS, "controller \"dev\" already exists");
    en_controller_t *after = s_stored("dev");
    CHECK(before && after && en_controller_equal(before, after), "store untouched");
    if (first)
        CHECK(s_cloud_live("juju-controller-uuid", first->controller_uuid) == 1,
              "one controller instance");
    en_controller_destroy(&before);
    en_controller_destroy(&after);
    FREE(first);
    FREE(second);
}

//  39 and 50. Arch from the instance's hardware; series from the request,
//  else default-series, else the LTS. The store has the controller with
//  its CA and API endpoints (§7.1), the CA is a real one, and the
//  controller instance is found by ControllerInstances.
void
s039_bootstrap_result(void)
{
    boot_t b = {.name = "c39", .config = "{\"default-series\": \"focal\"}"};
    en_err_t err;
    En__BootstrapResult *r = s_bootstrap(&b, &err);
    CHECK(r != NULL, "bootstrap: %s", err.message);
    if (!r)
        return;
    CHECK(r->hardware && r->hardware->_arch_case && !strcmp(r->arch, r->hardware->arch) &&
              !strcmp(r->arch, "amd64"),
          "arch from hardware: %s", r->arch);
    CHECK(!strcmp(r->series, "focal"), "default-series: %s", r->series);
    CHECK(r->hardware->_mem_case && r->hardware->mem >= 3584, "controller default mem: %llu",
          (unsigned long long) r->hardware->mem);
    CHECK(r->n_addresses >= 1 && r->n_api_endpoints == r->n_addresses, "addresses");
    en_controller_t *c = s_stored("c39");
    CHECK(c && !strcmp(c->uuid, r->controller_uuid) && !strcmp(c->cloud, "sim") &&
              !strcmp(c->region, "sim-east"),
          "controllers.yaml entry");
    if (c && r->n_api_endpoints) {
        char want[128];
        snprintf(want, sizeof want, "%s:17070", r->addresses[0]->value);
        CHECK(c->api_endpoint_count == 1 && !strcmp(c->api_endpoints[0], want),
              "api endpoint %s", want);
        CHECK(!strcmp(c->ca_cert, r->ca_cert), "CA stored");
    }
    en_err_t ce;
    CHECK(en_ca_check(r->ca_cert, NULL, &ce) == 0, "a CA certificate: %s", ce.message);
    En__ControllerInstancesRequest q = EN__CONTROLLER_INSTANCES_REQUEST__INIT;
    q.controller_uuid = r->controller_uuid;
    En__ControllerInstancesResult *ci = conf_call(
        "ControllerInstances", r->model_uuid, &q, &en__controller_instances_result__descriptor,
        &err);
    CHECK(ci && ci->n_ids == 1 && !strcmp(ci->ids[0], r->instance_id), "controller instance: %s",
          err.message);
    FREE(ci);
    en_controller_destroy(&c);
    FREE(r);
}

//  49. Model constraints are stored with the controller model in canonical
//  form; the bootstrap constraints win for the controller instance but are
//  not stored.
void
s049_model_constraints_stored(void)
{
    En__Constraints mc = EN__CONSTRAINTS__INIT, bc = EN__CONSTRAINTS__INIT;
    mc._mem_case = EN__CONSTRAINTS___MEM_MEM;
    mc.mem = 2048;
    bc._cpu_cores_case = EN__CONSTRAINTS___CPU_CORES_CPU_CORES;
    bc.cpu_cores = 4;
    boot_t b = {.name = "c49", .model_cons = &mc, .bootstrap_cons = &bc};
    en_err_t err;
    En__BootstrapResult *r = s_bootstrap(&b, &err);
    CHECK(r != NULL, "bootstrap: %s", err.message);
    if (!r)
        return;
    CHECK(r->hardware && r->hardware->cpu_cores >= 4 && r->hardware->mem >= 2048,
          "instance has both: cores %llu mem %llu",
          (unsigned long long) (r->hardware ? r->hardware->cpu_cores : 0),
          (unsigned long long) (r->hardware ? r->hardware->mem : 0));
    En__ConfigRequest q = EN__CONFIG_REQUEST__INIT;
    En__ConfigResult *c = conf_call("Config", r->model_uuid, &q, &en__config_result__descriptor,
                                    &err);
    CHECK(c && c->config && strstr(c->config->json, "\"constraints\":\"mem=2048M\""),
          "stored constraints: %s", c && c->config ? c->config->json : err.message);
    FREE(c);
    FREE(r);
}

//  43. The zone loop: zone-specific failures move on; one zone or several
//  give their own messages; no zone at all is its own error; a failure no
//  zone can cure stops at once.
void
s043_bootstrap_zone_loop(void)
{
    en_err_t err;
    s_knob("fail.create", "UNAVAILABLE out of capacity");
    boot_t b = {.name = "z1"};
    En__BootstrapResult *r = s_bootstrap(&b, &err);
    CHECK_ERR(err, EN_UNAVAILABLE,
              "cannot start bootstrap instance in any availability zone (sim-east-a, sim-east-b, "
              "sim-east-c)");
    FREE(r);
    en_sim_cloud_t *c = s_sim();
    CHECK(c && en_sim_cloud_set_zone_available(c, "sim-east-b", false, &err) == 0 &&
              en_sim_cloud_set_zone_available(c, "sim-east-c", false, &err) == 0,
          "zones down");
    b.name = "z2";
    r = s_bootstrap(&b, &err);
    CHECK_ERR(err, EN_UNAVAILABLE,
              "cannot start bootstrap instance in availability zone \"sim-east-a\": cannot run "
              "instances: out of capacity");
    FREE(r);
    CHECK(c && en_sim_cloud_set_zone_available(c, "sim-east-a", false, &err) == 0, "zone down");
    b.name = "z3";
    r = s_bootstrap(&b, &err);
    CHECK_ERR(err, EN_UNAVAILABLE, "no usable availability zones");
    FREE(r);
    for (int i = 0; c && i < 3; i++) {
        const char *z[] = {"sim-east-a", "sim-east-b", "sim-east-c"};
        en_sim_cloud_set_zone_available(c, z[i], true, &err);
    }
    s_knob("fail.create", "NOT_VALID image not allowed");
    b.name = "z4";
    r = s_bootstrap(&b, &err);
    CHECK_ERR(err, EN_NOT_VALID,
              "cannot start bootstrap instance: cannot run instances: image not allowed");
    FREE(r);
    s_knob("fail.create", NULL);
    // failed bootstraps leave nothing: not in the store, not in the cloud
    const char *names[] = {"z1", "z2", "z3", "z4"};
    for (int i = 0; i < 4; i++) {
        en_controller_t *s = s_stored(names[i]);
        CHECK(s == NULL, "%s not in the store", names[i]);
        en_controller_destroy(&s);
    }
    CHECK(s_cloud_live("juju-is-controller", "true") == 0, "no controller instance left");
    en_sim_cloud_close(&c);
}

//  44 and 53. Progress lines reach a subscriber in Juju's order and form:
//  the launch line, the padded instance line with formatHardware, then
//  WaitSSH's lines while the address is not there yet.
void
s044_bootstrap_progress(void)
{
    s_knob("running_delay_ms", "700");
    const char *id = "conformance-s044-progress";
    en_err_t err;
    void *sub = en_progress_subscribe(H.endpoint, id, 5000, &err);
    CHECK(sub != NULL, "subscribe: %s", err.message);
    En__BootstrapRequest req = EN__BOOTSTRAP_REQUEST__INIT;
    req.controller_name = "c44";
    req.cloud_name = "sim";
    En__ConfigAttrs cc = EN__CONFIG_ATTRS__INIT;
    cc.json = "{\"bootstrap-addresses-delay\": 0.1}";
    req.controller_config = &cc;
    char rid[33];
    CHECK(en_client_start(H.client, EN_PUBLIC_SERVICE, "Bootstrap", NULL, &req.base,
                          en_now_ms() + 60000, id, NULL, rid, &err) == 0,
          "start: %s", err.message);
    char lines[16][256];
    size_t n = 0;
    en_result_t res = {0};
    bool done = false;
    // every line is published before the reply, but travels another path
    // (the gateway's event proxy): after the reply, wait for the last one
    bool last = false;
    while (!done || (!last && n < 16)) {
        if (!done && en_client_wait(H.client, 50, &res) == 0)
            done = true;
        uint32_t seq;
        char status[32], msg[256];
        int got;
        while (sub && n < 16 &&
               (got = en_progress_recv(sub, done ? 5000 : 0, &seq, status, sizeof status, msg,
                                       sizeof msg)) >= 0) {
            if (got == 1 && seq == n + 1) {
                snprintf(lines[n++], sizeof lines[0], "%s", msg);
                last = strcmp(msg, "Bootstrap agent now started") == 0;
            }
            if (last)
                break;
        }
        if (done && !last && sub)
            break; // five quiet seconds after the reply: the rest is lost
    }
    CHECK(res.err.kind == EN_OK, "bootstrap: %s", res.err.message);
    // Juju's lines in Juju's order; StartInstance's status lines (42) come
    // between the launch line and the instance line
    int at[5] = {-1, -1, -1, -1, -1};
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(lines[i], "Launching controller instance(s) on sim/sim-east..."))
            at[0] = (int) i;
        else if (!strncmp(lines[i], " - i-", 5)) {
            at[1] = (int) i;
            CHECK(strstr(lines[i], " (arch=amd64 mem=") && strstr(lines[i], " cores=") &&
                      strlen(lines[i]) >= 39,
                  "instance line: '%s'", lines[i]);
        }
        else if (!strcmp(lines[i], "Waiting for address"))
            at[2] = (int) i;
        else if (!strncmp(lines[i], "Attempting to connect to 10.", 28) &&
                 !strcmp(lines[i] + strlen(lines[i]) - 3, ":22"))
            at[3] = (int) i;
        else if (!strcmp(lines[i], "Bootstrap agent now started"))
            at[4] = (int) i;
    }
    CHECK(at[0] == 0, "the launch line first");
    for (int k = 1; k < 5; k++)
        CHECK(at[k] > at[k - 1], "line %d in order (%d after %d)", k, at[k], at[k - 1]);
    CHECK(at[4] == (int) n - 1, "the agent line last");
    en_result_clear(&res);
    en_progress_unsubscribe(&sub);
    s_knob("running_delay_ms", NULL);
}

//  42 (StatusCallback). StartInstance reports its progress to a caller
//  that subscribed under the call's request id: the zone and type it
//  starts in, then the instance it got.
void
s042_start_instance_status(void)
{
    en_err_t err;
    En__Model *m = conf_open("s042", "sim", NULL, &err);
    CHECK(m != NULL, "open: %s", err.message);
    if (!m)
        return;
    const char *id = "conformance-s042-status";
    void *sub = en_progress_subscribe(H.endpoint, id, 5000, &err);
    CHECK(sub != NULL, "subscribe: %s", err.message);
    En__StartInstanceRequest req = EN__START_INSTANCE_REQUEST__INIT;
    En__StartInstanceParams p = EN__START_INSTANCE_PARAMS__INIT;
    p.machine_id = "0";
    p.machine_nonce = "n";
    p.controller_uuid = "c0ffee00-0000-4000-8000-000000000042";
    p.placement = "zone=sim-east-b";
    req.params = &p;
    char rid[33];
    CHECK(en_client_start(H.client, EN_PUBLIC_SERVICE, "StartInstance", m->uuid, &req.base,
                          en_now_ms() + 30000, id, NULL, rid, &err) == 0,
          "start: %s", err.message);
    en_result_t res = {0};
    CHECK(en_client_wait(H.client, 30000, &res) == 0 && res.err.kind == EN_OK, "StartInstance: %s",
          res.err.message);
    char lines[4][256], statuses[4][32];
    size_t n = 0;
    uint32_t seq;
    // both lines were published before the reply was sent; a late probe
    // of the subscription (seq 0, answered 0) is not a line
    for (int got = 0; sub && n < 2 && got >= 0;) {
        got = en_progress_recv(sub, 2000, &seq, statuses[n], sizeof statuses[0], lines[n],
                               sizeof lines[0]);
        n += got > 0;
    }
    CHECK(n == 2, "two lines, got %zu", n);
    if (n == 2) {
        CHECK(!strcmp(statuses[0], "allocating") &&
                  !strncmp(lines[0], "Starting instance of type ", 26) &&
                  strstr(lines[0], " in zone sim-east-b"),
              "%s: %s", statuses[0], lines[0]);
        CHECK(!strncmp(lines[1], "Instance i-", 11) && strstr(lines[1], " started in zone sim-east-b"),
              "%s", lines[1]);
    }
    en_result_clear(&res);
    en_progress_unsubscribe(&sub);
    FREE(m);
}

//  53 (timeout) and §7.1 step 5. No address within bootstrap-timeout fails
//  with WaitSSH's message; the failed bootstrap is destroyed (instance
//  gone, controller not in the store) unless keep_broken, which keeps both.
void
s053_bootstrap_address_timeout(void)
{
    s_knob("running_delay_ms", "600000");
    boot_t b = {.name = "t53",
                .ctl_config = "{\"bootstrap-timeout\": 0.3, \"bootstrap-addresses-delay\": 0.05}"};
    en_err_t err;
    En__BootstrapResult *r = s_bootstrap(&b, &err);
    CHECK_ERR(err, EN_TIMEOUT, "waited for 300ms without getting any addresses");
    FREE(r);
    en_controller_t *c = s_stored("t53");
    CHECK(c == NULL, "failed controller removed from the store");
    en_controller_destroy(&c);
    CHECK(s_cloud_live("juju-is-controller", "true") == 0, "failed instance removed");

    b.name = "k53";
    b.keep_broken = true;
    r = s_bootstrap(&b, &err);
    CHECK_ERR(err, EN_TIMEOUT, "waited for 300ms without getting any addresses");
    FREE(r);
    c = s_stored("k53");
    CHECK(c != NULL, "keep-broken keeps the controller in the store");
    CHECK(c && s_cloud_live("juju-controller-uuid", c->uuid) == 1, "and its instance");
    s_knob("running_delay_ms", NULL);
    // kill-controller cleans up what keep-broken kept
    err = s_destroy_by_name("k53");
    CHECK(err.kind == EN_OK, "destroy k53: %s", err.message);
    CHECK(c && s_cloud_live("juju-controller-uuid", c->uuid) == 0, "instance gone");
    en_controller_destroy(&c);
}

//  47. Environ.Bootstrap on a model that belongs to no controller.
void
s047_bootstrap_needs_controller_uuid(void)
{
    en_err_t err;
    En__Model *m = conf_open("plain", "sim", NULL, &err);
    CHECK(m != NULL, "open: %s", err.message);
    if (!m)
        return;
    En__BootstrapRequest req = EN__BOOTSTRAP_REQUEST__INIT;
    void *r = conf_call("Bootstrap", m->uuid, &req, &en__bootstrap_result__descriptor, &err);
    CHECK_ERR(err, EN_NOT_VALID,
              "validating bootstrap parameters: controller configuration has no controller UUID");
    FREE(r);
    FREE(m);
}

//  56 and 59. Destroy removes every instance of the model and nothing
//  else; again, it succeeds and does nothing.
void
s056_destroy_model(void)
{
    en_err_t err;
    En__Model *a = conf_open("d56a", "sim", NULL, &err);
    En__Model *b = conf_open("d56b", "sim", NULL, &err);
    CHECK(a && b, "open: %s", err.message);
    if (!a || !b)
        goto done;
    const char *ctl = "c0ffee00-0000-4000-8000-000000000056";
    char *ids[3] = {s_start(a->uuid, ctl, "0", false), s_start(a->uuid, ctl, "1", false),
                    s_start(b->uuid, ctl, "0", false)};
    for (int round = 0; round < 2; round++) {
        En__DestroyRequest req = EN__DESTROY_REQUEST__INIT;
        void *r = conf_call("Destroy", a->uuid, &req, &en__destroy_result__descriptor, &err);
        CHECK(err.kind == EN_OK, "destroy (round %d): %s", round, err.message);
        FREE(r);
        CHECK(s_cloud_live("juju-model-uuid", a->uuid) == 0, "model a empty");
        CHECK(s_cloud_live("juju-model-uuid", b->uuid) == 1, "model b untouched");
    }
    for (int i = 0; i < 3; i++)
        free(ids[i]);
done:
    FREE(a);
    FREE(b);
}

//  61 and 62. environs.Destroy by name: an unknown controller is success
//  with nothing destroyed (2.3); a known one loses every instance tagged
//  with its uuid, hosted models included, other controllers untouched,
//  and leaves the store. It works from the cloud's tags alone, with the
//  controller's model records gone.
void
s062_destroy_controller(void)
{
    en_err_t err = s_destroy_by_name("never-bootstrapped");
    CHECK(err.kind == EN_OK, "unknown controller: %s", err.message);
    boot_t b = {.name = "c62"};
    En__BootstrapResult *r = s_bootstrap(&b, &err);
    boot_t other = {.name = "o62"};
    En__BootstrapResult *o = s_bootstrap(&other, &err);
    CHECK(r && o, "bootstraps: %s", err.message);
    if (!r || !o)
        goto done;
    // a hosted model of c62 with two machines
    En__OpenRequest oq = EN__OPEN_REQUEST__INIT;
    oq.name = "hosted";
    oq.cloud_name = "sim";
    oq.controller_uuid = r->controller_uuid;
    En__OpenResult *hosted = conf_call("Open", NULL, &oq, &en__open_result__descriptor, &err);
    CHECK(hosted && hosted->model, "hosted model: %s", err.message);
    if (hosted && hosted->model) {
        free(s_start(hosted->model->uuid, r->controller_uuid, "0", false));
        free(s_start(hosted->model->uuid, r->controller_uuid, "1", false));
    }
    FREE(hosted);
    CHECK(s_cloud_live("juju-controller-uuid", r->controller_uuid) == 3, "three instances");

    // the registry loses the controller's model records (kill-controller's
    // case): only controllers.yaml and the cloud's tags are left
    char path[512];
    snprintf(path, sizeof path, "%s/registry.db", H.home);
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK, "open registry db");
    sqlite3_busy_timeout(db, 5000);
    char *sql = sqlite3_mprintf("DELETE FROM models WHERE controller_uuid = %Q", r->controller_uuid);
    CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK, "delete models");
    sqlite3_free(sql);
    sqlite3_close(db);

    err = s_destroy_by_name("c62");
    CHECK(err.kind == EN_OK, "destroy c62: %s", err.message);
    CHECK(s_cloud_live("juju-controller-uuid", r->controller_uuid) == 0, "c62 instances gone");
    CHECK(s_cloud_live("juju-controller-uuid", o->controller_uuid) == 1, "o62 untouched");
    en_controller_t *gone = s_stored("c62"), *kept = s_stored("o62");
    CHECK(gone == NULL && kept != NULL, "store: c62 removed, o62 kept");
    en_controller_destroy(&gone);
    en_controller_destroy(&kept);
    // 48: the name can be bootstrapped again
    En__BootstrapResult *again = s_bootstrap(&b, &err);
    CHECK(again != NULL, "rebootstrap after destroy: %s", err.message);
    FREE(again);
done:
    FREE(r);
    FREE(o);
}

//  98. APIInfo: controller addresses joined with the API port, the CA
//  given, the model tag, and no credentials; NOT_BOOTSTRAPPED without a
//  controller; NOT_FOUND naming the ids when no address appears.
void
s098_api_info(void)
{
    boot_t b = {.name = "c98"};
    en_err_t err;
    En__BootstrapResult *r = s_bootstrap(&b, &err);
    CHECK(r != NULL, "bootstrap: %s", err.message);
    if (!r)
        return;
    En__APIInfoRequest q = EN__APIINFO_REQUEST__INIT;
    q.controller_uuid = r->controller_uuid;
    q.model_uuid = r->model_uuid;
    q.ca_cert = r->ca_cert;
    q.api_port = 17777;
    En__APIInfoResult *a = conf_call("APIInfo", r->model_uuid, &q,
                                     &en__apiinfo_result__descriptor, &err);
    char want[128];
    snprintf(want, sizeof want, "%s:17777", r->n_addresses ? r->addresses[0]->value : "?");
    CHECK(a && a->n_addrs == 1 && !strcmp(a->addrs[0], want), "addrs: %s", err.message);
    char tag[128];
    snprintf(tag, sizeof tag, "model-%s", r->model_uuid);
    CHECK(a && !strcmp(a->model_tag, tag) && !strcmp(a->ca_cert, r->ca_cert), "tag and CA");
    FREE(a);

    // a model with no controller instance
    En__Model *m = conf_open("api98", "sim", NULL, &err);
    q.controller_uuid = "c0ffee00-0000-4000-8000-000000000098";
    a = m ? conf_call("APIInfo", m->uuid, &q, &en__apiinfo_result__descriptor, &err) : NULL;
    CHECK_ERR(err, EN_NOT_BOOTSTRAPPED, "model is not bootstrapped");
    FREE(a);
    // a controller instance that never gets an address
    s_knob("running_delay_ms", "600000");
    char *id = m ? s_start(m->uuid, q.controller_uuid, "0", true) : NULL;
    a = m ? conf_call("APIInfo", m->uuid, &q, &en__apiinfo_result__descriptor, &err) : NULL;
    char msg[256];
    snprintf(msg, sizeof msg, "addresses for [%s] not found", id ? id : "");
    CHECK_ERR(err, EN_NOT_FOUND, msg);
    FREE(a);
    s_knob("running_delay_ms", NULL);
    free(id);
    FREE(m);
    FREE(r);
}

//  99. CheckProviderAPI: success for an empty model and a populated one;
//  a cloud failure is `cannot make API call to provider: ...`.
void
s099_check_provider_api(void)
{
    en_err_t err;
    En__Model *m = conf_open("chk99", "sim", NULL, &err);
    CHECK(m != NULL, "open: %s", err.message);
    if (!m)
        return;
    En__CheckProviderAPIRequest q = EN__CHECK_PROVIDER_APIREQUEST__INIT;
    void *r = conf_call("CheckProviderAPI", m->uuid, &q,
                        &en__check_provider_apiresult__descriptor, &err);
    CHECK(err.kind == EN_OK, "empty model: %s", err.message);
    FREE(r);
    free(s_start(m->uuid, "c0ffee00-0000-4000-8000-000000000099", "0", false));
    r = conf_call("CheckProviderAPI", m->uuid, &q, &en__check_provider_apiresult__descriptor,
                  &err);
    CHECK(err.kind == EN_OK, "populated model: %s", err.message);
    FREE(r);
    s_knob("fail.list", "UNAUTHORIZED credential revoked");
    r = conf_call("CheckProviderAPI", m->uuid, &q, &en__check_provider_apiresult__descriptor,
                  &err);
    CHECK_ERR(err, EN_UNAUTHORIZED, "cannot make API call to provider: credential revoked");
    FREE(r);
    s_knob("fail.list", NULL);
    FREE(m);
}
