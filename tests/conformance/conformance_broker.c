/*  conformance_broker.c — statements of §1 C (InstanceBroker and
    Instances), D (ControllerInstances) and I (validator and precheck),
    against the broker behind the gateway, on the sim cloud whose database
    the broker keeps at <home>/sim/sim.db. The test reads that database as
    the cloud's operator would, to see what the API must not show:
    terminated instances, other models' instances. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "bus/envelope.h"
#include "bus/mdp.h"
#include "common/paths.h"
#include "conformance.h"
#include "providers/sim/sim_cloud.h"

#define CTRL_UUID "c0ffee00-0000-4000-8000-000000000001"

static char *
s_model(const char *name, const char *json)
{
    en_err_t err;
    En__Model *m = conf_open(name, "sim", json, &err);
    CHECK(m != NULL, "Open %s: %s", name, err.message);
    if (!m)
        return NULL;
    char *uuid = strdup(m->uuid);
    FREE(m);
    return uuid;
}

//  The cloud itself, as its operator sees it (for what the API must not
//  show: terminated instances, other models' instances, knobs).
static en_sim_cloud_t *
s_sim(void)
{
    en_err_t err;
    en_sim_cloud_t *c = harness_sim(&H, &err);
    CHECK(c != NULL, "open the sim cloud: %s", err.message);
    return c;
}

typedef struct {
    const char *machine_id;
    const char *nonce;
    const char *controller_uuid;
    bool is_controller;
    const char *placement;
    En__Constraints *cons;
    char **group;
    size_t n_group;
} start_t;

static En__StartInstanceResult *
s_start(const char *model, const start_t *a, en_err_t *err)
{
    En__StartInstanceRequest req = EN__START_INSTANCE_REQUEST__INIT;
    En__StartInstanceParams p = EN__START_INSTANCE_PARAMS__INIT;
    p.machine_id = (char *)(a->machine_id ? a->machine_id : "0");
    p.machine_nonce = (char *)(a->nonce ? a->nonce : "");
    p.controller_uuid = (char *)(a->controller_uuid ? a->controller_uuid : "");
    p.is_controller = a->is_controller;
    p.placement = (char *)(a->placement ? a->placement : "");
    p.constraints = a->cons;
    p.distribution_group = a->group;
    p.n_distribution_group = a->n_group;
    req.params = &p;
    return conf_call("StartInstance", model, &req, &en__start_instance_result__descriptor, err);
}

//  Start machine `id` and return its instance id (malloc'd), or NULL.
static char *
s_start_id(const char *model, const char *machine_id)
{
    start_t a = {.machine_id = machine_id, .nonce = "nonce", .controller_uuid = CTRL_UUID};
    en_err_t err;
    En__StartInstanceResult *r = s_start(model, &a, &err);
    CHECK(r && r->instance, "StartInstance %s: %s", machine_id, err.message);
    char *id = r && r->instance ? strdup(r->instance->id) : NULL;
    FREE(r);
    return id;
}

static En__InstancesResult *
s_instances(const char *model, char **ids, size_t n, en_err_t *err)
{
    En__InstancesRequest req = EN__INSTANCES_REQUEST__INIT;
    req.ids = ids;
    req.n_ids = n;
    return conf_call("Instances", model, &req, &en__instances_result__descriptor, err);
}

static En__AllInstancesResult *
s_all(const char *model, en_err_t *err)
{
    En__AllInstancesRequest req = EN__ALL_INSTANCES_REQUEST__INIT;
    return conf_call("AllInstances", model, &req, &en__all_instances_result__descriptor, err);
}

static en_err_t
s_stop(const char *model, char **ids, size_t n)
{
    En__StopInstancesRequest req = EN__STOP_INSTANCES_REQUEST__INIT;
    req.ids = ids;
    req.n_ids = n;
    en_err_t err;
    void *r = conf_call("StopInstances", model, &req, &en__stop_instances_result__descriptor, &err);
    FREE(r);
    return err;
}

static const char *
s_tag(const En__Instance *inst, const char *key)
{
    for (size_t i = 0; inst && i < inst->n_tags; i++)
        if (strcmp(inst->tags[i]->key, key) == 0)
            return inst->tags[i]->value;
    return NULL;
}

//  Live instances of a model as the cloud sees them.
static size_t
s_cloud_live(const char *model)
{
    en_sim_cloud_t *c = s_sim();
    if (!c)
        return 0;
    en_sim_tag_t f = {"juju-model-uuid", model};
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

//  14. Instances of no ids: no error, nothing.
void
s014_instances_empty_ids(void)
{
    char *m = s_model("s014", NULL);
    en_err_t err;
    En__InstancesResult *r = s_instances(m, NULL, 0, &err);
    CHECK(r && err.kind == EN_OK && r->n_slots == 0, "empty ids: %s", err.message);
    FREE(r);
    free(m);
}

//  15. StartInstance gives an id and hardware with arch, mem and cores.
void
s015_start_instance_gives_id_and_hardware(void)
{
    char *m = s_model("s015", NULL);
    start_t a = {.machine_id = "0", .nonce = "n0", .controller_uuid = CTRL_UUID};
    en_err_t err;
    En__StartInstanceResult *r = s_start(m, &a, &err);
    CHECK(r && r->instance && r->instance->id && *r->instance->id, "instance id: %s", err.message);
    CHECK(r && r->hardware && r->hardware->_arch_case && r->hardware->_mem_case &&
              r->hardware->_cpu_cores_case,
          "hardware has arch, mem and cores");
    CHECK(r && r->hardware && r->hardware->mem >= 1024 && r->hardware->_availability_zone_case,
          "the 1024 MiB heuristic and a zone");
    FREE(r);
    free(m);
}

//  16. Instances answers in the order asked, one slot per id.
void
s016_instances_order_and_length(void)
{
    char *m = s_model("s016", NULL);
    char *id0 = s_start_id(m, "0"), *id1 = s_start_id(m, "1");
    char *ids[] = {id1, id0};
    en_err_t err;
    En__InstancesResult *r = s_instances(m, ids, 2, &err);
    CHECK(r && r->n_slots == 2, "two slots: %s", err.message);
    CHECK(r && r->n_slots == 2 && r->slots[0]->found && r->slots[1]->found &&
              !strcmp(r->slots[0]->instance->id, id1) && !strcmp(r->slots[1]->instance->id, id0),
          "same order as asked");
    FREE(r);
    free(id0);
    free(id1);
    free(m);
}

//  17. Duplicate ids are answered per position.
void
s017_instances_duplicates(void)
{
    char *m = s_model("s017", NULL);
    char *id0 = s_start_id(m, "0");
    char *ids[] = {id0, id0};
    en_err_t err;
    En__InstancesResult *r = s_instances(m, ids, 2, &err);
    CHECK(r && r->n_slots == 2 && r->slots[0]->found && r->slots[1]->found &&
              !strcmp(r->slots[0]->instance->id, id0) && !strcmp(r->slots[1]->instance->id, id0),
          "[a, a] gives [a, a]: %s", err.message);
    FREE(r);
    free(id0);
    free(m);
}

//  18. Partial: every slot is there, missing ones not found (our reply
//  carries a body or an error, so PARTIAL_INSTANCES is the result's
//  not-found slots); the empty id counts as missing.
void
s018_instances_partial(void)
{
    char *m = s_model("s018", NULL);
    char *id0 = s_start_id(m, "0"), *id1 = s_start_id(m, "1");
    en_err_t err = s_stop(m, &id0, 1);
    CHECK(err.kind == EN_OK, "stop: %s", err.message);
    char *ids[] = {id0, id1};
    En__InstancesResult *r = s_instances(m, ids, 2, &err);
    CHECK(r && r->n_slots == 2 && !r->slots[0]->found && !r->slots[0]->instance &&
              r->slots[1]->found && !strcmp(r->slots[1]->instance->id, id1),
          "stopped slot missing, other found: %s", err.message);
    FREE(r);
    char *with_empty[] = {id1, ""};
    r = s_instances(m, with_empty, 2, &err);
    CHECK(r && r->n_slots == 2 && r->slots[0]->found && !r->slots[1]->found,
          "the empty id is missing: %s", err.message);
    FREE(r);
    free(id0);
    free(id1);
    free(m);
}

//  19. None found: NO_INSTANCES and no slots.
void
s019_instances_none_found(void)
{
    char *m = s_model("s019", NULL);
    char *ids[] = {"i-0000000000000000", ""};
    en_err_t err;
    En__InstancesResult *r = s_instances(m, ids, 2, &err);
    CHECK(!r, "no result when nothing is found");
    CHECK_ERR(err, EN_NO_INSTANCES, "instances not found");
    FREE(r);
    free(m);
}

//  20. AllInstances: this model's live instances only, each once.
void
s020_all_instances_only_this_model(void)
{
    char *m = s_model("s020", NULL), *other = s_model("s020-other", NULL);
    en_err_t err;
    En__AllInstancesResult *r = s_all(m, &err);
    CHECK(r && r->n_instances == 0, "empty model, empty list: %s", err.message);
    FREE(r);
    char *id0 = s_start_id(m, "0"), *id1 = s_start_id(m, "1"), *ido = s_start_id(other, "0");
    r = s_all(m, &err);
    CHECK(r && r->n_instances == 2, "two instances: %s", err.message);
    for (size_t i = 0; r && i < r->n_instances; i++)
        CHECK(strcmp(r->instances[i]->id, ido) != 0, "another model's instance listed");
    CHECK(r && r->n_instances == 2 && strcmp(r->instances[0]->id, r->instances[1]->id) != 0,
          "each once");
    FREE(r);
    free(id0);
    free(id1);
    free(ido);
    free(m);
    free(other);
}

//  21. Stopped instances disappear from AllInstances and Instances.
void
s021_stopped_instances_disappear(void)
{
    char *m = s_model("s021", NULL);
    char *id0 = s_start_id(m, "0"), *id1 = s_start_id(m, "1");
    en_err_t err = s_stop(m, &id0, 1);
    CHECK(err.kind == EN_OK, "stop: %s", err.message);
    En__AllInstancesResult *r = s_all(m, &err);
    CHECK(r && r->n_instances == 1 && !strcmp(r->instances[0]->id, id1),
          "only the live one is listed: %s", err.message);
    FREE(r);
    En__InstancesResult *ir = s_instances(m, &id0, 1, &err);
    CHECK(!ir, "stopped instance not found");
    CHECK_ERR(err, EN_NO_INSTANCES, "instances not found");
    FREE(ir);
    free(id0);
    free(id1);
    free(m);
}

//  22. StopInstances ignores unknown ids, and never touches another model.
void
s022_stop_ignores_unknown_and_foreign(void)
{
    char *m = s_model("s022", NULL), *other = s_model("s022-other", NULL);
    char *ido = s_start_id(other, "0");
    char *ids[] = {"i-00000000deadbeef", ido};
    en_err_t err = s_stop(m, ids, 2);
    CHECK(err.kind == EN_OK, "unknown ids ignored: %s", err.message);
    CHECK(s_cloud_live(other) == 1, "another model's instance survives");
    En__InstancesResult *r = s_instances(other, &ido, 1, &err);
    CHECK(r && r->n_slots == 1 && r->slots[0]->found, "still there for its own model");
    FREE(r);
    free(ido);
    free(m);
    free(other);
}

//  23. StopInstances of nothing is a no-op.
void
s023_stop_nothing(void)
{
    char *m = s_model("s023", NULL);
    char *id0 = s_start_id(m, "0");
    en_err_t err = s_stop(m, NULL, 0);
    CHECK(err.kind == EN_OK, "no ids: %s", err.message);
    CHECK(s_cloud_live(m) == 1, "nothing stopped");
    free(id0);
    free(m);
}

//  24. A missing nonce fails with Juju's text and leaves nothing running.
void
s024_missing_nonce(void)
{
    char *m = s_model("s024", NULL);
    start_t a = {.machine_id = "0", .nonce = "", .controller_uuid = CTRL_UUID};
    en_err_t err;
    En__StartInstanceResult *r = s_start(m, &a, &err);
    CHECK(!r, "no result");
    CHECK_ERR(err, EN_NOT_VALID, "cannot start instance: missing machine nonce");
    FREE(r);
    CHECK(s_cloud_live(m) == 0, "no instance left running");
    free(m);
}

//  26. A missing controller UUID fails.
void
s026_missing_controller_uuid(void)
{
    char *m = s_model("s026", NULL);
    start_t a = {.machine_id = "0", .nonce = "n", .controller_uuid = ""};
    en_err_t err;
    En__StartInstanceResult *r = s_start(m, &a, &err);
    CHECK(!r, "no result");
    CHECK_ERR(err, EN_NOT_VALID, "missing controller UUID");
    FREE(r);
    CHECK(s_cloud_live(m) == 0, "no instance left running");
    free(m);
}

//  27. Instances carry the user's resource tags and the ownership tags,
//  juju-is-controller only on controllers.
void
s027_instance_tags(void)
{
    char *m = s_model("s027", "{\"resource-tags\":\"owner=ops team=db\"}");
    start_t a = {
        .machine_id = "0", .nonce = "n0", .controller_uuid = CTRL_UUID, .is_controller = true};
    en_err_t err;
    En__StartInstanceResult *r = s_start(m, &a, &err);
    CHECK(r && r->instance, "start controller: %s", err.message);
    const En__Instance *i = r ? r->instance : NULL;
    CHECK(s_tag(i, "juju-model-uuid") && !strcmp(s_tag(i, "juju-model-uuid"), m), "model tag");
    CHECK(s_tag(i, "juju-controller-uuid") && !strcmp(s_tag(i, "juju-controller-uuid"), CTRL_UUID),
          "controller tag");
    CHECK(s_tag(i, "juju-is-controller") && !strcmp(s_tag(i, "juju-is-controller"), "true"),
          "is-controller tag");
    CHECK(s_tag(i, "owner") && !strcmp(s_tag(i, "owner"), "ops") && s_tag(i, "team"),
          "user resource tags");
    CHECK(r && r->hardware && r->hardware->mem >= 3584, "controller default mem 3584 MiB");
    FREE(r);
    a = (start_t){.machine_id = "1", .nonce = "n1", .controller_uuid = CTRL_UUID};
    r = s_start(m, &a, &err);
    CHECK(r && r->instance && !s_tag(r->instance, "juju-is-controller"),
          "no is-controller tag on a worker: %s", err.message);
    FREE(r);
    free(m);
}

//  28. The juju- prefix is reserved for resource tags.
void
s028_reserved_tag_prefix(void)
{
    en_err_t err;
    En__Model *m = conf_open("s028", "sim", "{\"resource-tags\":\"a=b juju-x=y\"}", &err);
    CHECK(!m, "config with a reserved tag refused");
    CHECK_ERR(err, EN_NOT_VALID, "tag \"juju-x\" uses reserved prefix \"juju-\"");
    FREE(m);
}

//  29. A started instance reports an address (the sim assigns it at
//  create; Instances reports it too).
void
s029_addresses_appear(void)
{
    char *m = s_model("s029", NULL);
    char *id = s_start_id(m, "0");
    en_err_t err;
    En__InstancesResult *r = s_instances(m, &id, 1, &err);
    CHECK(r && r->n_slots == 1 && r->slots[0]->found && r->slots[0]->instance->n_addresses >= 1 &&
              *r->slots[0]->instance->addresses[0]->value,
          "an address: %s", err.message);
    FREE(r);
    free(id);
    free(m);
}

//  30. Status is {status, message}: pending is "allocating", running is
//  "running", the message the cloud's raw state.
static void
s_check_status(const char *m, char *id, const char *status, const char *message)
{
    en_err_t err;
    En__InstancesResult *r = s_instances(m, &id, 1, &err);
    CHECK(r && r->n_slots == 1 && r->slots[0]->found, "found: %s", err.message);
    if (r && r->n_slots == 1 && r->slots[0]->found) {
        const En__InstanceStatus *st = r->slots[0]->instance->status;
        CHECK(!strcmp(st->status, status) && !strcmp(st->message, message), "want %s/%s, got %s/%s",
              status, message, st->status, st->message);
    }
    FREE(r);
}

void
s030_status(void)
{
    char *m = s_model("s030", NULL);
    en_sim_cloud_t *c = s_sim();
    en_err_t err;
    CHECK(c && en_sim_cloud_knob_set(c, "running_delay_ms", "60000", &err) == 0, "knob");
    char *id = s_start_id(m, "0");
    s_check_status(m, id, "allocating", "pending");
    if (c)
        en_sim_cloud_knob_set(c, "running_delay_ms", NULL, &err);
    s_check_status(m, id, "running", "running");
    en_sim_cloud_close(&c);
    free(id);
    free(m);
}

//  32. Hardware reports the actual instance type's values and the zone.
void
s032_hardware_is_the_instance_types(void)
{
    char *m = s_model("s032", NULL);
    En__Constraints cons = EN__CONSTRAINTS__INIT;
    cons._instance_type_case = EN__CONSTRAINTS___INSTANCE_TYPE_INSTANCE_TYPE;
    cons.instance_type = "c1.large";
    start_t a = {.machine_id = "0", .nonce = "n", .controller_uuid = CTRL_UUID, .cons = &cons};
    en_err_t err;
    En__StartInstanceResult *r = s_start(m, &a, &err);
    const En__HardwareCharacteristics *h = r ? r->hardware : NULL;
    CHECK(h && h->_arch_case && !strcmp(h->arch, "amd64") && h->cpu_cores == 4 && h->mem == 4096 &&
              h->_root_disk_case && h->root_disk == 32768 && h->_cpu_power_case &&
              h->cpu_power == 500 && h->_availability_zone_case,
          "c1.large: amd64, 4 cores, 4096M, 32768M disk, power 500, a zone: %s", err.message);
    FREE(r);
    free(m);
}

//  31. An instance created by a call that then fails is removed: a start
//  whose deadline passes while the cloud creates the instance.
void
s031_failed_start_removes_instance(void)
{
    // mode none: no group to make first, so the broker's create is the
    // only slow step and the one that outlasts the deadline
    char *m = s_model("s031", "{\"firewall-mode\":\"none\"}");
    char *warm = s_start_id(m, "0"); // the broker has its connection and catalogue
    en_sim_cloud_t *c = s_sim();
    en_err_t err;
    // every call is slow: even the create alone (all a warm broker thread
    // makes) outlasts the start's deadline
    CHECK(c && en_sim_cloud_knob_set(c, "latency_ms", "800", &err) == 0, "knob: %s", err.message);
    En__StartInstanceRequest req = EN__START_INSTANCE_REQUEST__INIT;
    En__StartInstanceParams p = EN__START_INSTANCE_PARAMS__INIT;
    p.machine_id = "1";
    p.machine_nonce = "n1";
    p.controller_uuid = CTRL_UUID;
    req.params = &p;
    ProtobufCMessage *res = NULL;
    en_client_call(H.client, EN_PUBLIC_SERVICE, "StartInstance", m, &req.base,
                   &en__start_instance_result__descriptor, &res, 500, &err);
    CHECK(!res && err.kind == EN_TIMEOUT, "the start fails: %s %s", en_kind_name(err.kind),
          err.message);
    FREE(res);
    // wait for the broker to finish: the instance it made must go
    bool made = false, gone = false;
    // (the console's list is slow too: bound the wait by time, not turns)
    int64_t until = zclock_mono() + 10000;
    while (!(made && gone) && zclock_mono() < until) {
        en_sim_tag_t f = {"juju-machine-id", "1"};
        en_sim_tag_t fs[] = {{"juju-model-uuid", m}, f};
        en_sim_instance_t *insts = NULL;
        size_t n = 0;
        if (c && en_sim_cloud_list(c, "sim-east", fs, 2, true, &insts, &n, &err) == 0) {
            made = n > 0;
            gone = made;
            for (size_t k = 0; k < n; k++)
                gone &=
                    insts[k].state == EN_SIM_TERMINATED || insts[k].state == EN_SIM_SHUTTING_DOWN;
        }
        en_sim_instances_free(&insts, n);
        if (!(made && gone))
            zclock_sleep(100);
    }
    CHECK(made, "the cloud created the instance");
    CHECK(gone, "and it was removed when the call failed");
    if (c)
        en_sim_cloud_knob_set(c, "latency_ms", NULL, &err);
    en_sim_cloud_close(&c);
    free(warm);
    free(m);
}

//  33. MaintainInstance is a no-op.
void
s033_maintain_instance_noop(void)
{
    char *m = s_model("s033", NULL);
    En__MaintainInstanceRequest req = EN__MAINTAIN_INSTANCE_REQUEST__INIT;
    En__StartInstanceParams p = EN__START_INSTANCE_PARAMS__INIT;
    p.machine_id = "0";
    req.params = &p;
    en_err_t err;
    void *r =
        conf_call("MaintainInstance", m, &req, &en__maintain_instance_result__descriptor, &err);
    CHECK(r && err.kind == EN_OK, "no-op: %s %s", en_kind_name(err.kind), err.message);
    FREE(r);
    CHECK(s_cloud_live(m) == 0, "nothing started");
    free(m);
}

static En__ControllerInstancesResult *
s_controllers(const char *model, const char *uuid, en_err_t *err)
{
    En__ControllerInstancesRequest req = EN__CONTROLLER_INSTANCES_REQUEST__INIT;
    req.controller_uuid = (char *)uuid;
    return conf_call("ControllerInstances", model, &req,
                     &en__controller_instances_result__descriptor, err);
}

//  35. Before bootstrap: NOT_BOOTSTRAPPED, not NO_INSTANCES.
void
s035_controller_instances_not_bootstrapped(void)
{
    char *m = s_model("s035", NULL);
    char *worker = s_start_id(m, "0"); // a non-controller instance does not count
    en_err_t err;
    En__ControllerInstancesResult *r = s_controllers(m, CTRL_UUID, &err);
    CHECK(!r, "no result");
    CHECK_ERR(err, EN_NOT_BOOTSTRAPPED, "model is not bootstrapped");
    FREE(r);
    free(worker);
    free(m);
}

//  36. Only live instances tagged with this controller AND is-controller.
void
s036_controller_instances_only_matching(void)
{
    char *m = s_model("s036", NULL);
    start_t ctl = {
        .machine_id = "0", .nonce = "n0", .controller_uuid = CTRL_UUID, .is_controller = true};
    start_t other = {.machine_id = "1",
                     .nonce = "n1",
                     .controller_uuid = "c0ffee00-0000-4000-8000-000000000002",
                     .is_controller = true};
    start_t worker = {.machine_id = "2", .nonce = "n2", .controller_uuid = CTRL_UUID};
    start_t dead = {
        .machine_id = "3", .nonce = "n3", .controller_uuid = CTRL_UUID, .is_controller = true};
    en_err_t err;
    En__StartInstanceResult *a = s_start(m, &ctl, &err);
    En__StartInstanceResult *b = s_start(m, &other, &err);
    En__StartInstanceResult *c = s_start(m, &worker, &err);
    En__StartInstanceResult *d = s_start(m, &dead, &err);
    CHECK(a && b && c && d, "starts: %s", err.message);
    if (a && b && c && d) {
        char *dead_id = d->instance->id;
        s_stop(m, &dead_id, 1);
        En__ControllerInstancesResult *r = s_controllers(m, CTRL_UUID, &err);
        CHECK(r && r->n_ids == 1 && !strcmp(r->ids[0], a->instance->id),
              "exactly the live controller of this uuid: %s", err.message);
        FREE(r);
    }
    FREE(a);
    FREE(b);
    FREE(c);
    FREE(d);
    free(m);
}

//  37. Discovery is stateless: any broker, restarted or not, answers the
//  same set.
void
s037_controller_instances_stateless(void)
{
    char *m = s_model("s037", NULL);
    start_t ctl = {
        .machine_id = "0", .nonce = "n0", .controller_uuid = CTRL_UUID, .is_controller = true};
    en_err_t err;
    En__StartInstanceResult *a = s_start(m, &ctl, &err);
    CHECK(a, "start: %s", err.message);
    En__ControllerInstancesResult *r1 = s_controllers(m, CTRL_UUID, &err);
    // replace the broker with a fresh process: nothing in memory survives
    for (int i = 0; i < H.count; i++)
        if (!strcmp(H.names[i], "broker"))
            harness_kill(&H, i, SIGTERM);
    harness_start(&H, "broker", 1);
    CHECK(harness_wait_service(&H, "broker", 20000) == 0, "second broker up");
    En__ControllerInstancesResult *r2 = s_controllers(m, CTRL_UUID, &err);
    CHECK(r1 && r2 && r1->n_ids == 1 && r2->n_ids == 1 && !strcmp(r1->ids[0], r2->ids[0]),
          "the same set from a new process: %s", err.message);
    FREE(r1);
    FREE(r2);
    FREE(a);
    free(m);
}

//  A retried start (same machine, same nonce) adopts the first instance.
static void
s_adopt_check(const char *m)
{
    start_t a = {.machine_id = "7", .nonce = "same", .controller_uuid = CTRL_UUID};
    en_err_t err;
    En__StartInstanceResult *r1 = s_start(m, &a, &err), *r2 = s_start(m, &a, &err);
    CHECK(r1 && r2 && !strcmp(r1->instance->id, r2->instance->id), "a resent start adopts: %s",
          err.message);
    FREE(r1);
    FREE(r2);
}

static En__ValidateConstraintsResult *
s_validate_cons(const char *m, const char *arch, const char *itype, bool virt, en_err_t *err)
{
    En__ValidateConstraintsRequest req = EN__VALIDATE_CONSTRAINTS_REQUEST__INIT;
    En__Constraints c = EN__CONSTRAINTS__INIT;
    if (arch)
        c._arch_case = EN__CONSTRAINTS___ARCH_ARCH, c.arch = (char *)arch;
    if (itype)
        c._instance_type_case = EN__CONSTRAINTS___INSTANCE_TYPE_INSTANCE_TYPE,
        c.instance_type = (char *)itype;
    if (virt)
        c._virt_type_case = EN__CONSTRAINTS___VIRT_TYPE_VIRT_TYPE, c.virt_type = "kvm";
    req.constraints = &c;
    return conf_call("ValidateConstraints", m, &req, &en__validate_constraints_result__descriptor,
                     err);
}

static en_err_t
s_precheck(const char *m, const char *placement, const char *itype, const char *arch)
{
    En__PrecheckInstanceRequest req = EN__PRECHECK_INSTANCE_REQUEST__INIT;
    En__Constraints c = EN__CONSTRAINTS__INIT;
    if (arch)
        c._arch_case = EN__CONSTRAINTS___ARCH_ARCH, c.arch = (char *)arch;
    if (itype)
        c._instance_type_case = EN__CONSTRAINTS___INSTANCE_TYPE_INSTANCE_TYPE,
        c.instance_type = (char *)itype;
    req.constraints = &c;
    req.placement = (char *)(placement ? placement : "");
    req.series = "jammy";
    en_err_t err;
    void *r =
        conf_call("PrecheckInstance", m, &req, &en__precheck_instance_result__descriptor, &err);
    FREE(r);
    return err;
}

//  88. Empty constraints pass the precheck (and a resent start adopts).
void
s088_empty_constraints_pass_precheck(void)
{
    char *m = s_model("s088", NULL);
    en_err_t err = s_precheck(m, NULL, NULL, NULL);
    CHECK(err.kind == EN_OK, "empty precheck: %s", err.message);
    s_adopt_check(m);
    free(m);
}

//  89. Placement: only zone=<name>; unknown zone refused; an unavailable
//  zone passes the precheck but fails StartInstance.
void
s089_placement_directives(void)
{
    char *m = s_model("s089", NULL);
    en_err_t err = s_precheck(m, "foo=bar", NULL, NULL);
    CHECK_ERR(err, EN_NOT_VALID, "unknown placement directive: foo=bar");
    err = s_precheck(m, "zone=nowhere", NULL, NULL);
    CHECK_ERR(err, EN_NOT_VALID, "invalid availability zone \"nowhere\"");
    en_sim_cloud_t *c = s_sim();
    CHECK(c && en_sim_cloud_set_zone_available(c, "sim-east-b", false, &err) == 0, "zone off");
    en_sim_cloud_close(&c);
    err = s_precheck(m, "zone=sim-east-b", NULL, NULL);
    CHECK(err.kind == EN_OK, "an unavailable zone passes the precheck: %s", err.message);
    start_t a = {.machine_id = "0",
                 .nonce = "n",
                 .controller_uuid = CTRL_UUID,
                 .placement = "zone=sim-east-b"};
    En__StartInstanceResult *r = s_start(m, &a, &err);
    CHECK(!r && strcmp(err.message, "availability zone \"sim-east-b\" is unavailable") == 0,
          "but fails StartInstance: %s", err.message);
    FREE(r);
    a.placement = "zone=sim-east-c";
    r = s_start(m, &a, &err);
    CHECK(r && r->hardware && r->hardware->availability_zone &&
              !strcmp(r->hardware->availability_zone, "sim-east-c"),
          "zone placement honoured: %s", err.message);
    FREE(r);
    free(m);
}

//  90. Instance-type prechecks: unknown type, and a type without the arch.
void
s090_instance_type_precheck(void)
{
    char *m = s_model("s090", NULL);
    en_err_t err = s_precheck(m, NULL, "m1.invalid", NULL);
    CHECK_ERR(err, EN_NOT_VALID, "invalid sim instance type \"m1.invalid\" specified");
    err = s_precheck(m, NULL, "s1.small", "arm64");
    CHECK_ERR(err, EN_NOT_VALID,
              "invalid sim instance type \"s1.small\" and arch \"arm64\" specified");
    err = s_precheck(m, NULL, "a1.small", "arm64");
    CHECK(err.kind == EN_OK, "a matching type passes: %s", err.message);
    free(m);
}

//  91. The sim's (EC2's) validator: conflicts, unsupported, vocabularies.
void
s091_validator(void)
{
    char *m = s_model("s091", NULL);
    En__ConstraintsValidatorRequest vreq = EN__CONSTRAINTS_VALIDATOR_REQUEST__INIT;
    en_err_t err;
    En__ConstraintsValidatorResult *v = conf_call(
        "ConstraintsValidator", m, &vreq, &en__constraints_validator_result__descriptor, &err);
    CHECK(v && v->n_unsupported == 2 && !strcmp(v->unsupported[0], "tags") &&
              !strcmp(v->unsupported[1], "virt-type"),
          "unsupported tags, virt-type: %s", err.message);
    CHECK(v && v->n_conflicts == 1 && v->conflicts[0]->n_blues == 3, "instance-type conflicts");
    FREE(v);
    En__ValidateConstraintsResult *r = s_validate_cons(m, NULL, NULL, true, &err);
    CHECK(r && r->n_unsupported == 1 && !strcmp(r->unsupported[0], "virt-type"),
          "unsupported is a warning: %s", err.message);
    FREE(r);
    r = s_validate_cons(m, "ppc64el", NULL, false, &err);
    CHECK(!r, "bad arch refused");
    CHECK_ERR(err, EN_NOT_VALID,
              "invalid constraint value: arch=ppc64el\nvalid values are: [amd64 arm64]");
    FREE(r);
    r = s_validate_cons(m, NULL, "t2.nope", false, &err);
    CHECK(!r && err.kind == EN_NOT_VALID &&
              !strncmp(err.message, "invalid constraint value: instance-type=t2.nope", 46),
          "instance-type vocabulary: %s", err.message);
    FREE(r);
    free(m);
}

//  92. Merge: conflicting fallback values dropped, unsupported kept.
void
s092_merge(void)
{
    char *m = s_model("s092", NULL);
    En__MergeConstraintsRequest req = EN__MERGE_CONSTRAINTS_REQUEST__INIT;
    En__Constraints fb = EN__CONSTRAINTS__INIT, c = EN__CONSTRAINTS__INIT;
    En__StringList tags = EN__STRING_LIST__INIT;
    char *bar[] = {"bar"};
    tags.values = bar;
    tags.n_values = 1;
    fb._arch_case = EN__CONSTRAINTS___ARCH_ARCH, fb.arch = "amd64";
    fb._mem_case = EN__CONSTRAINTS___MEM_MEM, fb.mem = 1024;
    fb._cpu_power_case = EN__CONSTRAINTS___CPU_POWER_CPU_POWER, fb.cpu_power = 10;
    fb._cpu_cores_case = EN__CONSTRAINTS___CPU_CORES_CPU_CORES, fb.cpu_cores = 2;
    fb.tags = &tags;
    c._arch_case = EN__CONSTRAINTS___ARCH_ARCH, c.arch = "arm64";
    c._instance_type_case = EN__CONSTRAINTS___INSTANCE_TYPE_INSTANCE_TYPE;
    c.instance_type = "a1.small";
    req.cons_fallback = &fb;
    req.cons = &c;
    en_err_t err;
    En__MergeConstraintsResult *r =
        conf_call("MergeConstraints", m, &req, &en__merge_constraints_result__descriptor, &err);
    const En__Constraints *o = r ? r->constraints : NULL;
    CHECK(o && o->_arch_case && !strcmp(o->arch, "arm64") && o->_instance_type_case &&
              !o->_mem_case && !o->_cpu_power_case && !o->_cpu_cores_case && o->tags &&
              o->tags->n_values == 1,
          "arch=arm64 instance-type=a1.small tags=bar: %s", err.message);
    FREE(r);
    free(m);
}

static const char *
s_zone_of(const En__StartInstanceResult *r)
{
    return r && r->hardware && r->hardware->_availability_zone_case
               ? r->hardware->availability_zone
               : "";
}

//  95 and 96. Without placement, a start goes to the least-populated
//  available zone, ties by name; only available zones count. With a
//  distribution group, the group's instances are what is counted.
void
s095_zone_allocation(void)
{
    char *m = s_model("s095", NULL);
    const char *want[] = {"sim-east-a", "sim-east-b", "sim-east-c", "sim-east-a"};
    char *ids[4] = {0};
    en_err_t err;
    for (int i = 0; i < 4; i++) {
        char mid[16];
        snprintf(mid, sizeof mid, "%d", i);
        start_t a = {.machine_id = mid, .nonce = "n", .controller_uuid = CTRL_UUID};
        En__StartInstanceResult *r = s_start(m, &a, &err);
        CHECK(r && !strcmp(s_zone_of(r), want[i]), "machine %d in %s, got %s (%s)", i, want[i],
              s_zone_of(r), err.message);
        ids[i] = r ? strdup(r->instance->id) : NULL;
        FREE(r);
    }
    // the group {0 (a), 3 (a), 2 (c)}: b holds none of it
    char *group[] = {ids[0], ids[3], ids[2]};
    start_t a4 = {.machine_id = "4",
                  .nonce = "n",
                  .controller_uuid = CTRL_UUID,
                  .group = group,
                  .n_group = 3};
    En__StartInstanceResult *r = s_start(m, &a4, &err);
    CHECK(r && !strcmp(s_zone_of(r), "sim-east-b"), "machine 4 in sim-east-b, got %s (%s)",
          s_zone_of(r), err.message);
    FREE(r);
    // c, the least populated (a 2, b 2, c 1), is unavailable: a, by name
    en_sim_cloud_t *c = s_sim();
    CHECK(c && en_sim_cloud_set_zone_available(c, "sim-east-c", false, &err) == 0, "zone off");
    start_t a5 = {.machine_id = "5", .nonce = "n", .controller_uuid = CTRL_UUID};
    r = s_start(m, &a5, &err);
    CHECK(r && !strcmp(s_zone_of(r), "sim-east-a"), "machine 5 in sim-east-a, got %s (%s)",
          s_zone_of(r), err.message);
    FREE(r);
    en_sim_cloud_close(&c);
    for (int i = 0; i < 4; i++)
        free(ids[i]);
    free(m);
}

//  97. A zone-constrained failure moves on to the next zone; any other
//  error stops at once with `cannot run instances: ...`; a region without
//  an available zone fails with `failed to determine availability zones`.
void
s097_start_zone_selection(void)
{
    char *m = s_model("s097", NULL);
    en_sim_cloud_t *c = s_sim();
    en_err_t err;
    CHECK(c && en_sim_cloud_knob_set(c, "fail.create", "INTERNAL boom", &err) == 0, "knob");
    CHECK(c && en_sim_cloud_reset_counters(c, &err) == 0, "counters");
    start_t a = {.machine_id = "0", .nonce = "n", .controller_uuid = CTRL_UUID};
    En__StartInstanceResult *r = s_start(m, &a, &err);
    CHECK_ERR(err, EN_INTERNAL, "cannot run instances: boom");
    CHECK(c && en_sim_cloud_call_count(c, "create", &err) == 1, "one create, no other zone");
    FREE(r);
    CHECK(c && en_sim_cloud_knob_set(c, "fail.create", NULL, &err) == 0, "knob off");
    // sim-east-a goes down after the broker has seen it up
    CHECK(c && en_sim_cloud_set_zone_available(c, "sim-east-a", false, &err) == 0, "zone off");
    r = s_start(m, &a, &err);
    CHECK(r && !strcmp(s_zone_of(r), "sim-east-b"), "next zone: got %s (%s)", s_zone_of(r),
          err.message);
    FREE(r);
    CHECK(c && en_sim_cloud_set_zone_available(c, "sim-east-a", true, &err) == 0, "zone on");
    // a region whose every zone is down
    const char *west[] = {"sim-west-a", "sim-west-b"};
    for (int i = 0; i < 2; i++)
        CHECK(c && en_sim_cloud_set_zone_available(c, west[i], false, &err) == 0, "west off");
    En__OpenRequest oq = EN__OPEN_REQUEST__INIT;
    En__ConfigAttrs cfg = EN__CONFIG_ATTRS__INIT;
    cfg.json = "{}";
    oq.name = "s097-west";
    oq.cloud_name = "sim";
    oq.region_name = "sim-west";
    oq.config = &cfg;
    En__OpenResult *o = conf_call("Open", NULL, &oq, &en__open_result__descriptor, &err);
    CHECK(o && o->model, "open in sim-west: %s", err.message);
    if (o && o->model) {
        r = s_start(o->model->uuid, &a, &err);
        CHECK_ERR(err, EN_UNAVAILABLE, "failed to determine availability zones");
        FREE(r);
    }
    FREE(o);
    en_sim_cloud_close(&c);
    free(m);
}
