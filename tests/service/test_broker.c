/*  test_broker.c — the broker's handlers in process, on the sim cloud.

    The broker needs the registry for its models, so each test starts a
    real gateway and registry (harness) and runs the broker itself in
    process: one dispatcher, i.e. one worker thread, whose calls go through
    en_dispatcher_call (real decoding, routing, error replies, encoding).
    The sim cloud's database is <home>/sim/sim.db; tests turn its knobs
    (eventual consistency, zone availability) through the operator's
    console. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker.h"
#include "bus/envelope.h"
#include "bus/mdp.h"
#include "bus/modelcache.h"
#include "common/paths.h"
#include "harness.h"
#include "common/consproto.h"
#include "common/fwgroup.h"
#include <stdio.h>
#include "providers/sim/sim_cloud.h"

#define CTRL_UUID "c0ffee00-0000-4000-8000-000000000001"

typedef struct {
    harness_t h;
    broker_t *broker;
    en_dispatcher_t *d;
    en_sim_cloud_t *sim;
    char *model;
} fx_t;

#define FREE(m)                                                                                    \
    do {                                                                                           \
        if (m)                                                                                     \
            protobuf_c_message_free_unpacked((ProtobufCMessage *)(m), NULL);                       \
    } while (0)

static char *
s_open(fx_t *fx, const char *name, const char *json)
{
    En__OpenRequest req = EN__OPEN_REQUEST__INIT;
    En__ConfigAttrs cfg = EN__CONFIG_ATTRS__INIT;
    // no firewaller here to make groups: the broker alone runs in mode
    // none unless a test says otherwise
    cfg.json = (char *)(json ? json : "{\"firewall-mode\":\"none\"}");
    req.name = (char *)name;
    req.cloud_name = "sim";
    req.config = &cfg;
    ProtobufCMessage *res = NULL;
    en_err_t err;
    en_client_call(fx->h.client, EN_PUBLIC_SERVICE, "Open", NULL, &req.base,
                   &en__open_result__descriptor, &res, 15000, &err);
    if (!res)
        fail_msg("Open %s: %s", name, err.message);
    char *uuid = strdup(((En__OpenResult *)res)->model->uuid);
    FREE(res);
    return uuid;
}

static int
s_setup(void **state)
{
    setenv("ENVIRONS_RETRY_SCALE", "0.05", 1);
    fx_t *fx = calloc(1, sizeof *fx);
    assert_int_equal(harness_init(&fx->h), 0);
    harness_start(&fx->h, "gateway", 0);
    harness_start(&fx->h, "registry", 0);
    assert_int_equal(harness_wait_service(&fx->h, "registry", 20000), 0);
    en_err_t err;
    fx->broker = broker_new(fx->h.home, fx->h.endpoint, &err);
    assert_non_null(fx->broker);
    fx->d = en_dispatcher_new(broker_service(fx->broker), &err);
    assert_non_null(fx->d);
    char path[512];
    snprintf(path, sizeof path, "%s/sim", fx->h.home);
    en_mkdirs(path, 0700);
    snprintf(path, sizeof path, "%s/sim/sim.db", fx->h.home);
    fx->sim = en_sim_cloud_open(path, &err);
    assert_non_null(fx->sim);
    fx->model = s_open(fx, "m", NULL);
    *state = fx;
    return 0;
}

static int
s_teardown(void **state)
{
    fx_t *fx = *state;
    en_sim_cloud_close(&fx->sim);
    en_dispatcher_destroy(&fx->d);
    broker_destroy(&fx->broker);
    free(fx->model);
    int rc = harness_fini(&fx->h);
    free(fx);
    return rc;
}

static void *
s_call(fx_t *fx, const char *method, const char *model, const void *req, en_err_t *err)
{
    ProtobufCMessage *res = NULL;
    en_err_clear(err);
    en_dispatcher_call(fx->d, method, model, req, &res, err);
    return res;
}

static En__StartInstanceResult *
s_start(fx_t *fx, const char *model, const char *machine, const char *nonce, bool controller,
        En__Constraints *cons, en_err_t *err)
{
    En__StartInstanceRequest req = EN__START_INSTANCE_REQUEST__INIT;
    En__StartInstanceParams p = EN__START_INSTANCE_PARAMS__INIT;
    p.machine_id = (char *)machine;
    p.machine_nonce = (char *)nonce;
    p.controller_uuid = CTRL_UUID;
    p.is_controller = controller;
    p.constraints = cons;
    req.params = &p;
    return s_call(fx, "StartInstance", model, &req, err);
}

static const char *
s_tag(const En__Instance *inst, const char *key)
{
    for (size_t i = 0; inst && i < inst->n_tags; i++)
        if (strcmp(inst->tags[i]->key, key) == 0)
            return inst->tags[i]->value;
    return NULL;
}

//  A dying model (MarkModelDying, which the gateway's Destroy sends first):
//  StartInstance refuses before the cloud is asked, so a late or resent
//  start cannot make again what Destroy removes.
static void
start_refuses_a_dying_model(void **state)
{
    fx_t *fx = *state;
    char *model = s_open(fx, "doomed", NULL);
    en_err_t err;
    //  alive: the registry's own view says so, and a machine starts (the
    //  broker's model cache now holds the model as alive)
    assert_int_equal(
        en_model_fresh_refuse_dying(fx->h.client, model, "doomed", "starting", 15000, &err), 0);
    En__StartInstanceResult *r = s_start(fx, model, "0", "nonce-0", false, NULL, &err);
    if (!r)
        fail_msg("StartInstance: %s", err.message);
    FREE(r);
    En__MarkModelDyingRequest req = EN__MARK_MODEL_DYING_REQUEST__INIT;
    req.uuid = model;
    ProtobufCMessage *res = NULL;
    if (en_client_call(fx->h.client, "registry", "MarkModelDying", NULL, &req.base,
                       &en__mark_model_dying_result__descriptor, &res, 15000, &err))
        fail_msg("MarkModelDying: %s", err.message);
    FREE(res);
    //  the registry's view at once, whatever a cache still holds
    assert_int_equal(
        en_model_fresh_refuse_dying(fx->h.client, model, "doomed", "starting", 15000, &err), -1);
    assert_string_equal(err.message, "starting: model \"doomed\" is being destroyed");
    assert_int_equal(en_model_fresh_refuse_dying(NULL, model, "doomed", "starting", 15000, &err),
                     0); // no registry: the cached view stands
    r = s_start(fx, model, "1", "nonce-1", false, NULL, &err);
    assert_null(r);
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message, "cannot start instance: model \"doomed\" is being destroyed");
    En__AllInstancesRequest all = EN__ALL_INSTANCES_REQUEST__INIT;
    En__AllInstancesResult *a = s_call(fx, "AllInstances", model, &all, &err);
    assert_non_null(a);
    assert_int_equal(a->n_instances, 1); // machine 0's, not machine 1's
    FREE(a);
    free(model);
}

//  Name and tags are set by the create call; a resend adopts, another
//  nonce for the same machine is refused.
static void
start_is_idempotent_by_name_and_nonce(void **state)
{
    fx_t *fx = *state;
    en_err_t err;
    En__StartInstanceResult *a = s_start(fx, fx->model, "3", "n3", false, NULL, &err);
    assert_non_null(a);
    char want_name[32];
    snprintf(want_name, sizeof want_name, "juju-%.6s-3", fx->model);
    assert_string_equal(s_tag(a->instance, "juju-machine-id"), "3");
    assert_string_equal(s_tag(a->instance, "juju-machine-nonce"), "n3");
    En__StartInstanceResult *b = s_start(fx, fx->model, "3", "n3", false, NULL, &err);
    assert_non_null(b);
    assert_string_equal(a->instance->id, b->instance->id);
    En__StartInstanceResult *c = s_start(fx, fx->model, "3", "other", false, NULL, &err);
    assert_null(c);
    assert_int_equal(err.kind, EN_ALREADY_EXISTS);
    // exactly one instance in the cloud, with the deterministic name
    en_sim_tag_t f = {"juju-model-uuid", fx->model};
    en_sim_instance_t *insts = NULL;
    size_t n = 0;
    assert_int_equal(en_sim_cloud_list(fx->sim, "sim-east", &f, 1, false, &insts, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(insts[0].name, want_name);
    en_sim_instances_free(&insts, n);
    FREE(a);
    FREE(b);
}

//  A resend whose first attempt's instance is not yet listed (eventual
//  consistency) hits ALREADY_EXISTS and adopts it once it shows.
static void
start_adopts_an_instance_not_yet_visible(void **state)
{
    fx_t *fx = *state;
    setenv("ENVIRONS_RETRY_SCALE", "1", 1);
    en_err_t err;
    assert_int_equal(en_sim_cloud_knob_set(fx->sim, "consistency_delay_ms", "600", &err), 0);
    En__StartInstanceResult *a = s_start(fx, fx->model, "4", "n4", false, NULL, &err);
    assert_non_null(a);
    En__StartInstanceResult *b = s_start(fx, fx->model, "4", "n4", false, NULL, &err);
    if (!b)
        fail_msg("resend: %s", err.message);
    assert_string_equal(a->instance->id, b->instance->id);
    // Instances retries too: a just-created id is found
    En__StartInstanceResult *c = s_start(fx, fx->model, "5", "n5", false, NULL, &err);
    assert_non_null(c);
    En__InstancesRequest req = EN__INSTANCES_REQUEST__INIT;
    req.ids = &c->instance->id;
    req.n_ids = 1;
    En__InstancesResult *r = s_call(fx, "Instances", fx->model, &req, &err);
    if (!r)
        fail_msg("Instances of a new id: %s", err.message);
    assert_true(r->slots[0]->found);
    FREE(r);
    FREE(a);
    FREE(b);
    FREE(c);
    setenv("ENVIRONS_RETRY_SCALE", "0.05", 1);
}

static En__Constraints *
s_cons(En__Constraints *c, const char *arch, uint64_t cores)
{
    en__constraints__init(c);
    if (arch) {
        c->_arch_case = EN__CONSTRAINTS___ARCH_ARCH;
        c->arch = (char *)arch;
    }
    if (cores) {
        c->_cpu_cores_case = EN__CONSTRAINTS___CPU_CORES_CPU_CORES;
        c->cpu_cores = cores;
    }
    return c;
}

static const char *
s_type_of(fx_t *fx, const char *id)
{
    static char type[64];
    en_err_t err;
    en_sim_instance_t *insts = NULL;
    size_t n = 0;
    type[0] = '\0';
    if (en_sim_cloud_describe(fx->sim, "sim-east", &id, 1, &insts, &n, &err) == 0 && n == 1)
        snprintf(type, sizeof type, "%s", insts[0].instance_type);
    en_sim_instances_free(&insts, n);
    return type;
}

//  The cheapest matching type, amd64 before arm64 (Juju's image arch
//  preference), 1024 MiB heuristic, controller default, model constraints.
static void
start_picks_the_cheapest_matching_type(void **state)
{
    fx_t *fx = *state;
    en_err_t err;
    En__Constraints c;
    struct {
        const char *machine, *arch;
        uint64_t cores;
        bool controller;
        const char *want;
    } cases[] = {
        {"10", NULL, 0, false, "s1.small"}, // a1.small is cheaper but arm64
        {"11", "arm64", 0, false, "a1.small"},
        {"12", NULL, 4, false, "c1.large"}, // cost 70 beats s1.large's 80
        {"13", NULL, 0, true, "s1.medium"}, // 3584 MiB for controllers
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        En__StartInstanceResult *r =
            s_start(fx, fx->model, cases[i].machine, "n", cases[i].controller,
                    s_cons(&c, cases[i].arch, cases[i].cores), &err);
        if (!r)
            fail_msg("case %zu: %s", i, err.message);
        assert_string_equal(s_type_of(fx, r->instance->id), cases[i].want);
        FREE(r);
    }
    char *big = s_open(fx, "big", "{\"constraints\":\"mem=8G\",\"firewall-mode\":\"none\"}");
    En__StartInstanceResult *r = s_start(fx, big, "0", "n", false, NULL, &err);
    if (!r)
        fail_msg("model constraints: %s", err.message);
    assert_string_equal(s_type_of(fx, r->instance->id), "s1.large");
    FREE(r);
    free(big);
}

//  Without placement, instances go to the least-populated available zone.
static void
start_spreads_across_available_zones(void **state)
{
    fx_t *fx = *state;
    en_err_t err;
    assert_int_equal(en_sim_cloud_set_zone_available(fx->sim, "sim-east-a", false, &err), 0);
    char *zones[4] = {0};
    for (int i = 0; i < 4; i++) {
        char machine[16];
        snprintf(machine, sizeof machine, "%d", 20 + i);
        En__StartInstanceResult *r = s_start(fx, fx->model, machine, "n", false, NULL, &err);
        if (!r)
            fail_msg("start %d: %s", i, err.message);
        zones[i] = strdup(r->hardware->availability_zone);
        FREE(r);
    }
    assert_string_equal(zones[0], "sim-east-b"); // ties break by name
    assert_string_equal(zones[1], "sim-east-c");
    assert_string_equal(zones[2], "sim-east-b");
    assert_string_equal(zones[3], "sim-east-c");
    for (int i = 0; i < 4; i++)
        free(zones[i]);
}

static En__StartInstanceResult *
s_start_in_group(fx_t *fx, const char *machine, char **group, size_t n, en_err_t *err)
{
    En__StartInstanceRequest req = EN__START_INSTANCE_REQUEST__INIT;
    En__StartInstanceParams p = EN__START_INSTANCE_PARAMS__INIT;
    p.machine_id = (char *)machine;
    p.machine_nonce = "n";
    p.controller_uuid = CTRL_UUID;
    p.distribution_group = group;
    p.n_distribution_group = n;
    req.params = &p;
    return s_call(fx, "StartInstance", fx->model, &req, err);
}

//  A distribution group is spread over: the new instance goes to the zone
//  where the group has fewest live instances (§1 J), whatever the rest of
//  the model holds.
static void
start_spreads_a_distribution_group(void **state)
{
    fx_t *fx = *state;
    en_err_t err;
    // the model has one instance per zone; the group is the one in a
    En__StartInstanceResult *a = s_start(fx, fx->model, "40", "n", false, NULL, &err);
    En__StartInstanceResult *b = s_start(fx, fx->model, "41", "n", false, NULL, &err);
    En__StartInstanceResult *c = s_start(fx, fx->model, "42", "n", false, NULL, &err);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_string_equal(a->hardware->availability_zone, "sim-east-a");
    char *group[] = {a->instance->id};
    En__StartInstanceResult *r = s_start_in_group(fx, "43", group, 1, &err);
    if (!r)
        fail_msg("start in group: %s", err.message);
    // counting the whole model would tie and pick a; the group says b
    assert_string_equal(r->hardware->availability_zone, "sim-east-b");
    FREE(r);
    FREE(a);
    FREE(b);
    FREE(c);
}

//  A zone-constrained failure moves on to the next zone; any other
//  failure aborts with `cannot run instances: ...` and leaves nothing.
static void
start_moves_zones_only_on_zone_errors(void **state)
{
    fx_t *fx = *state;
    en_err_t err;
    assert_int_equal(en_sim_cloud_knob_set(fx->sim, "fail.create",
                                           "UNAVAILABLE count 1 zone \"sim-east-a\" is unavailable",
                                           &err),
                     0);
    En__StartInstanceResult *r = s_start(fx, fx->model, "50", "n", false, NULL, &err);
    if (!r)
        fail_msg("start after a zone error: %s", err.message);
    assert_string_equal(r->hardware->availability_zone, "sim-east-b");
    FREE(r);
    assert_int_equal(en_sim_cloud_knob_set(fx->sim, "fail.create", "INTERNAL count 1 boom", &err),
                     0);
    r = s_start(fx, fx->model, "51", "n", false, NULL, &err);
    assert_null(r);
    assert_int_equal(err.kind, EN_INTERNAL);
    assert_string_equal(err.message, "cannot run instances: boom");
    en_sim_tag_t f[] = {{"juju-model-uuid", fx->model}, {"juju-machine-id", "51"}};
    en_sim_instance_t *insts = NULL;
    size_t n = 0;
    assert_int_equal(en_sim_cloud_list(fx->sim, "sim-east", f, 2, true, &insts, &n, &err), 0);
    assert_int_equal(n, 0);
    en_sim_instances_free(&insts, n);
}

//  TagInstance replaces the named tags and keeps the others; another
//  model's instance is not found.
static void
tag_instance_replaces_named_tags(void **state)
{
    fx_t *fx = *state;
    en_err_t err;
    En__StartInstanceResult *a = s_start(fx, fx->model, "30", "n", false, NULL, &err);
    assert_non_null(a);
    En__TagInstanceRequest req = EN__TAG_INSTANCE_REQUEST__INIT;
    En__TagInstanceRequest__TagsEntry e1 = EN__TAG_INSTANCE_REQUEST__TAGS_ENTRY__INIT;
    En__TagInstanceRequest__TagsEntry *entries[] = {&e1};
    e1.key = "juju-machine-nonce";
    e1.value = "replaced";
    req.id = a->instance->id;
    req.tags = entries;
    req.n_tags = 1;
    void *r = s_call(fx, "TagInstance", fx->model, &req, &err);
    if (!r)
        fail_msg("TagInstance: %s", err.message);
    FREE(r);
    En__InstancesRequest ireq = EN__INSTANCES_REQUEST__INIT;
    ireq.ids = &a->instance->id;
    ireq.n_ids = 1;
    En__InstancesResult *ir = s_call(fx, "Instances", fx->model, &ireq, &err);
    assert_non_null(ir);
    assert_string_equal(s_tag(ir->slots[0]->instance, "juju-machine-nonce"), "replaced");
    assert_string_equal(s_tag(ir->slots[0]->instance, "juju-machine-id"), "30");
    FREE(ir);
    char *other = s_open(fx, "other", NULL);
    r = s_call(fx, "TagInstance", other, &req, &err);
    assert_null(r);
    assert_int_equal(err.kind, EN_NOT_FOUND);
    free(other);
    FREE(a);
}

static int64_t
s_calls(fx_t *fx, const char *method)
{
    en_err_t err;
    return en_sim_cloud_call_count(fx->sim, method, &err);
}

//  On the happy path a start makes one cloud call, the create: the zones
//  and the model's zone population come from the thread's caches (kept
//  up to date by its own creates, so the spread is still
//  least-populated-first), and nothing is listed before creating. A
//  resend costs the create that finds the name taken and one listing.
static void
start_costs_one_cloud_call(void **state)
{
    fx_t *fx = *state;
    en_err_t err;
    En__StartInstanceResult *r = s_start(fx, fx->model, "60", "n60", false, NULL, &err);
    if (!r)
        fail_msg("warm-up start: %s", err.message);
    assert_string_equal(r->hardware->availability_zone, "sim-east-a");
    FREE(r);
    assert_int_equal(en_sim_cloud_reset_counters(fx->sim, &err), 0);
    const char *want[] = {"sim-east-b", "sim-east-c", "sim-east-a", "sim-east-b"};
    for (int i = 0; i < 4; i++) {
        char machine[16];
        snprintf(machine, sizeof machine, "%d", 61 + i);
        r = s_start(fx, fx->model, machine, "n", false, NULL, &err);
        if (!r)
            fail_msg("start %s: %s", machine, err.message);
        assert_string_equal(r->hardware->availability_zone, want[i]);
        FREE(r);
    }
    assert_int_equal(s_calls(fx, "create"), 4);
    assert_int_equal(s_calls(fx, "zones"), 0);
    assert_int_equal(s_calls(fx, "instance_types"), 0);
    assert_int_equal(s_calls(fx, "list"), 0);
    assert_int_equal(s_calls(fx, "describe"), 0);
    r = s_start(fx, fx->model, "60", "n60", false, NULL, &err);
    assert_non_null(r);
    FREE(r);
    assert_int_equal(s_calls(fx, "create"), 5);
    assert_int_equal(s_calls(fx, "list"), 1);
}

//  StopInstances reports the ids the cloud would not stop, with its
//  error, and ignores unknown ids; a refusal that may pass (throttling)
//  fails the whole call so the caller retries it.
static void
stop_reports_ids_the_cloud_did_not_stop(void **state)
{
    fx_t *fx = *state;
    en_err_t err;
    En__StartInstanceResult *a = s_start(fx, fx->model, "70", "n", false, NULL, &err);
    En__StartInstanceResult *b = s_start(fx, fx->model, "71", "n", false, NULL, &err);
    assert_non_null(a);
    assert_non_null(b);
    char *ids[] = {a->instance->id, "i-00000000deadbeef", b->instance->id};
    En__StopInstancesRequest req = EN__STOP_INSTANCES_REQUEST__INIT;
    req.ids = ids;
    req.n_ids = 3;
    assert_int_equal(
        en_sim_cloud_knob_set(fx->sim, "fail.terminate", "INTERNAL count 1 boom", &err), 0);
    En__StopInstancesResult *r = s_call(fx, "StopInstances", fx->model, &req, &err);
    if (!r)
        fail_msg("StopInstances: %s", err.message);
    assert_int_equal(r->n_failed, 2);
    assert_string_equal(r->failed[0]->id, ids[0]);
    assert_string_equal(r->failed[1]->id, ids[2]);
    assert_int_equal(r->failed[0]->error->kind, EN__ERROR_KIND__INTERNAL);
    assert_string_equal(r->failed[1]->error->message, "boom");
    FREE(r);
    assert_int_equal(en_sim_cloud_knob_set(fx->sim, "fail.terminate",
                                           "UNAVAILABLE count 1 request limit exceeded", &err),
                     0);
    r = s_call(fx, "StopInstances", fx->model, &req, &err);
    assert_null(r);
    assert_int_equal(err.kind, EN_UNAVAILABLE);
    assert_true(err.retryable);
    r = s_call(fx, "StopInstances", fx->model, &req, &err);
    if (!r)
        fail_msg("StopInstances: %s", err.message);
    assert_int_equal(r->n_failed, 0);
    FREE(r);
    FREE(a);
    FREE(b);
}

//  A call without a model is NOT_VALID.
static void
calls_without_a_model_are_refused(void **state)
{
    fx_t *fx = *state;
    En__AllInstancesRequest req = EN__ALL_INSTANCES_REQUEST__INIT;
    en_err_t err;
    void *r = s_call(fx, "AllInstances", NULL, &req, &err);
    assert_null(r);
    assert_int_equal(err.kind, EN_NOT_VALID);
}

//  Instance mode: the instance is created in the model's group and its
//  machine's, which must exist already (the firewaller makes them first
//  when the gateway composes StartInstance); StopInstances names the
//  machines it stopped, so the gateway can delete their groups.
static void
start_creates_the_instance_in_its_groups(void **state)
{
    fx_t *fx = *state;
    char *model = s_open(fx, "fw", "{\"firewall-mode\":\"instance\"}");
    en_err_t err;
    char model_group[EN_FW_GROUP_MAX], machine_group[EN_FW_GROUP_MAX];
    en_fw_group_model(model, model_group);
    en_fw_group_machine(model, "0/lxd/3", machine_group);
    En__StartInstanceResult *r = s_start(fx, model, "0/lxd/3", "n", false, NULL, &err);
    assert_null(r);
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_non_null(strstr(err.message, "security group"));
    assert_int_equal(en_sim_cloud_ensure_group(fx->sim, "sim-east", model_group, NULL, 0, &err), 0);
    assert_int_equal(en_sim_cloud_ensure_group(fx->sim, "sim-east", machine_group, NULL, 0, &err),
                     0);
    r = s_start(fx, model, "0/lxd/3", "n", false, NULL, &err);
    if (!r)
        fail_msg("StartInstance: %s", err.message);
    char **names = NULL;
    size_t n = 0;
    assert_int_equal(en_sim_cloud_instance_groups(fx->sim, r->instance->id, &names, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(names[0], model_group);
    assert_string_equal(names[1], machine_group);
    en_sim_names_free(&names, n);

    En__StopInstancesRequest stop = EN__STOP_INSTANCES_REQUEST__INIT;
    char *ids[] = {r->instance->id};
    stop.ids = ids;
    stop.n_ids = 1;
    En__StopInstancesResult *s = s_call(fx, "StopInstances", model, &stop, &err);
    assert_non_null(s);
    assert_int_equal(s->n_stopped_machine_ids, 1);
    assert_string_equal(s->stopped_machine_ids[0], "0/lxd/3");
    FREE(s);
    // a resend finds it stopped and still names its machine
    s = s_call(fx, "StopInstances", model, &stop, &err);
    assert_non_null(s);
    assert_int_equal(s->n_stopped_machine_ids, 1);
    FREE(s);
    FREE(r);
    free(model);
}

//  --------------------------------------------------------------------------
//  Spaces, zones, SubnetsToZones and EndpointBindings (spaces.c). The sim's
//  sim-east: internal 10.1.0.0/18 a, 10.1.64.0/18 b, 10.1.128.0/18 c; dmz
//  10.1.192.0/20 a, 10.1.208.0/20 b; storage 10.1.224.0/20 c, 10.1.240.0/20 a.

static en_arena_t *s_arena;

static En__Constraints *
s_parse(const char *text)
{
    if (!s_arena)
        s_arena = en_arena_new();
    en_constraints_t c;
    en_constraints_init(&c);
    en_err_t err;
    if (en_constraints_parse(&c, text, &err))
        fail_msg("constraints %s: %s", text, err.message);
    En__Constraints *out = en_constraints_to_proto(s_arena, &c);
    en_constraints_reset(&c);
    return out;
}

//  Whether dotted address a is inside cidr.
static bool
s_in_cidr(const char *a, const char *cidr)
{
    unsigned x[4], y[4], bits;
    if (sscanf(a, "%u.%u.%u.%u", &x[0], &x[1], &x[2], &x[3]) != 4 ||
        sscanf(cidr, "%u.%u.%u.%u/%u", &y[0], &y[1], &y[2], &y[3], &bits) != 5)
        return false;
    uint32_t ax = x[0] << 24 | x[1] << 16 | x[2] << 8 | x[3];
    uint32_t cy = y[0] << 24 | y[1] << 16 | y[2] << 8 | y[3];
    uint32_t mask = bits ? ~0u << (32 - bits) : 0;
    return (ax & mask) == (cy & mask);
}

static En__StartInstanceResult *
s_start_net(fx_t *fx, const char *machine, const char *cons, const char *placement,
            En__StartInstanceParams *extra, en_err_t *err)
{
    En__StartInstanceRequest req = EN__START_INSTANCE_REQUEST__INIT;
    En__StartInstanceParams p = EN__START_INSTANCE_PARAMS__INIT;
    if (extra)
        p = *extra;
    p.machine_id = (char *)machine;
    p.machine_nonce = "nonce";
    p.controller_uuid = CTRL_UUID;
    p.constraints = cons ? s_parse(cons) : NULL;
    p.placement = (char *)placement;
    req.params = &p;
    return s_call(fx, "StartInstance", fx->model, &req, err);
}

static size_t
s_live(fx_t *fx)
{
    en_sim_instance_t *all = NULL;
    size_t n = 0;
    en_err_t err;
    assert_int_equal(en_sim_cloud_list(fx->sim, "sim-east", NULL, 0, false, &all, &n, &err), 0);
    en_sim_instances_free(&all, n);
    return n;
}

//  A NIC in each positive space, the primary in the first; only zones
//  with a subnet of every space are used (statement 97's skip).
static void
start_places_nics_in_the_spaces_asked_for(void **state)
{
    fx_t *fx = *state;
    en_err_t err;
    En__StartInstanceResult *r = s_start_net(fx, "1", "spaces=dmz", NULL, NULL, &err);
    assert_non_null(r);
    assert_int_equal(r->instance->n_addresses, 1);
    const char *a = r->instance->addresses[0]->value;
    assert_true(s_in_cidr(a, "10.1.192.0/20") || s_in_cidr(a, "10.1.208.0/20"));
    FREE(r);
    // only sim-east-a has both dmz and storage
    for (int i = 0; i < 3; i++) {
        char machine[8];
        snprintf(machine, sizeof machine, "%d", 2 + i);
        r = s_start_net(fx, machine, "spaces=dmz,storage", NULL, NULL, &err);
        assert_non_null(r);
        assert_string_equal(r->hardware->availability_zone, "sim-east-a");
        assert_int_equal(r->instance->n_addresses, 2);
        assert_true(s_in_cidr(r->instance->addresses[0]->value, "10.1.192.0/20"));
        assert_true(s_in_cidr(r->instance->addresses[1]->value, "10.1.240.0/20"));
        FREE(r);
    }
    // negative spaces alone: the zone's largest subnet outside them
    r = s_start_net(fx, "9", "spaces=^internal", "zone=sim-east-c", NULL, &err);
    assert_non_null(r);
    assert_int_equal(r->instance->n_addresses, 1);
    assert_true(s_in_cidr(r->instance->addresses[0]->value, "10.1.224.0/20"));
    FREE(r);
    // without a network ask: the zone's default (internal) subnet
    r = s_start_net(fx, "10", NULL, "zone=sim-east-b", NULL, &err);
    assert_non_null(r);
    assert_true(s_in_cidr(r->instance->addresses[0]->value, "10.1.64.0/18"));
    FREE(r);
}

static void
start_refuses_spaces_no_zone_can_meet(void **state)
{
    fx_t *fx = *state;
    en_err_t err;
    assert_null(s_start_net(fx, "1", "spaces=nosuch", NULL, NULL, &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message, "space \"nosuch\" not found");
    assert_null(s_start_net(fx, "1", "spaces=storage", "zone=sim-east-b", NULL, &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message,
                        "availability zone \"sim-east-b\" has no subnet in each of spaces [storage]");
    assert_null(s_start_net(fx, "1", "spaces=dmz,^dmz", NULL, NULL, &err));
    assert_string_equal(err.message, "space \"dmz\" is both required and excluded");
    // the one zone with dmz and storage is down
    assert_int_equal(en_sim_cloud_set_zone_available(fx->sim, "sim-east-a", false, &err), 0);
    assert_null(s_start_net(fx, "1", "spaces=dmz,storage", NULL, NULL, &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_false(err.retryable);
    assert_string_equal(err.message,
                        "no available zone has a subnet in each of spaces [dmz storage]");
    assert_int_equal(s_live(fx), 0); // nothing was made for any of them
}

static void
start_honours_the_zones_constraint(void **state)
{
    fx_t *fx = *state;
    en_err_t err;
    for (int i = 0; i < 3; i++) {
        char machine[8];
        snprintf(machine, sizeof machine, "%d", i);
        En__StartInstanceResult *r = s_start_net(fx, machine, "zones=sim-east-c", NULL, NULL, &err);
        assert_non_null(r);
        assert_string_equal(r->hardware->availability_zone, "sim-east-c");
        FREE(r);
    }
    assert_null(s_start_net(fx, "5", "zones=sim-east-b spaces=storage", NULL, NULL, &err));
    assert_string_equal(err.message, "no available zone has a subnet in each of spaces [storage]");
    assert_null(s_start_net(fx, "5", "zones=sim-east-b", "zone=sim-east-a", NULL, &err));
    assert_string_equal(err.message,
                        "availability zone \"sim-east-a\" is not in the zones constraint");
}

static void
start_honours_subnets_to_zones_and_endpoint_bindings(void **state)
{
    fx_t *fx = *state;
    en_err_t err;
    // the provisioner's SubnetsToZones for the first positive space
    En__StartInstanceParams p = EN__START_INSTANCE_PARAMS__INIT;
    En__StringList zones = EN__STRING_LIST__INIT;
    char *zb[] = {"sim-east-b"};
    zones.values = zb;
    zones.n_values = 1;
    En__StartInstanceParams__SubnetsToZonesEntry e =
        EN__START_INSTANCE_PARAMS__SUBNETS_TO_ZONES_ENTRY__INIT;
    e.key = "subnet-sim-east-b-dmz";
    e.value = &zones;
    En__StartInstanceParams__SubnetsToZonesEntry *entries[] = {&e};
    p.subnets_to_zones = entries;
    p.n_subnets_to_zones = 1;
    En__StartInstanceResult *r = s_start_net(fx, "1", "spaces=dmz", NULL, &p, &err);
    assert_non_null(r);
    assert_string_equal(r->hardware->availability_zone, "sim-east-b");
    assert_true(s_in_cidr(r->instance->addresses[0]->value, "10.1.208.0/20"));
    FREE(r);
    e.key = "subnet-nowhere";
    assert_null(s_start_net(fx, "2", "spaces=dmz", NULL, &p, &err));
    assert_string_equal(err.message, "subnet \"subnet-nowhere\" not found");

    // an endpoint bound to a space needs a NIC in it
    En__StartInstanceParams q = EN__START_INSTANCE_PARAMS__INIT;
    En__StartInstanceParams__EndpointBindingsEntry b =
        EN__START_INSTANCE_PARAMS__ENDPOINT_BINDINGS_ENTRY__INIT;
    b.key = "db";
    b.value = "sp-sim-east-storage";
    En__StartInstanceParams__EndpointBindingsEntry *bindings[] = {&b};
    q.endpoint_bindings = bindings;
    q.n_endpoint_bindings = 1;
    r = s_start_net(fx, "3", "spaces=dmz", NULL, &q, &err);
    assert_non_null(r);
    assert_string_equal(r->hardware->availability_zone, "sim-east-a");
    assert_int_equal(r->instance->n_addresses, 2);
    assert_true(s_in_cidr(r->instance->addresses[1]->value, "10.1.240.0/20"));
    FREE(r);
    b.value = "sp-unknown";
    assert_null(s_start_net(fx, "4", NULL, NULL, &q, &err));
    assert_string_equal(err.message, "endpoint \"db\" is bound to unknown space \"sp-unknown\"");
}

static void
precheck_refuses_spaces_no_zone_can_meet(void **state)
{
    fx_t *fx = *state;
    en_err_t err;
    En__PrecheckInstanceRequest req = EN__PRECHECK_INSTANCE_REQUEST__INIT;
    req.constraints = s_parse("spaces=dmz,storage");
    void *r = s_call(fx, "PrecheckInstance", fx->model, &req, &err);
    assert_non_null(r);
    FREE(r);
    req.placement = "zone=sim-east-c";
    assert_null(s_call(fx, "PrecheckInstance", fx->model, &req, &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message,
                        "availability zone \"sim-east-c\" has no subnet in each of spaces [dmz storage]");
    req.placement = NULL;
    assert_int_equal(en_sim_cloud_set_zone_available(fx->sim, "sim-east-a", false, &err), 0);
    assert_null(s_call(fx, "PrecheckInstance", fx->model, &req, &err));
    assert_string_equal(err.message,
                        "no available zone has a subnet in each of spaces [dmz storage]");
    req.constraints = s_parse("spaces=nosuch");
    assert_null(s_call(fx, "PrecheckInstance", fx->model, &req, &err));
    assert_string_equal(err.message, "space \"nosuch\" not found");
    req.constraints = s_parse("zones=nowhere");
    assert_null(s_call(fx, "PrecheckInstance", fx->model, &req, &err));
    assert_string_equal(err.message, "no available zone in the zones constraint");
}

//  The images imagemeta found choose the arch with the type: only an
//  arm64 image makes an arm64 instance; images of another region are not
//  this region's, and none left is Juju's no-images error.
static void
start_uses_the_image_metadata_it_is_given(void **state)
{
    fx_t *fx = *state;
    en_err_t err;
    En__ImageMetadata arm = EN__IMAGE_METADATA__INIT;
    arm.id = "img-arm";
    arm.arch = "arm64";
    arm.region_name = "sim-east";
    arm.virt_type = "hvm";
    En__ImageMetadata west = EN__IMAGE_METADATA__INIT;
    west.id = "img-west";
    west.arch = "amd64";
    west.region_name = "sim-west";
    En__ImageMetadata *both[] = {&arm, &west};
    En__StartInstanceParams p = EN__START_INSTANCE_PARAMS__INIT;
    p.image_metadata = both;
    p.n_image_metadata = 2;
    p.series = "jammy";
    En__StartInstanceResult *r = s_start_net(fx, "1", NULL, NULL, &p, &err);
    assert_non_null(r);
    assert_string_equal(r->hardware->arch, "arm64");
    FREE(r);
    En__ImageMetadata *only_west[] = {&west};
    p.image_metadata = only_west;
    p.n_image_metadata = 1;
    assert_null(s_start_net(fx, "2", NULL, NULL, &p, &err));
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_string_equal(err.message, "no \"jammy\" images in sim-east with arches [amd64]");
    assert_int_equal(s_live(fx), 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(start_is_idempotent_by_name_and_nonce, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(start_adopts_an_instance_not_yet_visible, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(start_picks_the_cheapest_matching_type, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(start_spreads_across_available_zones, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(start_spreads_a_distribution_group, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(start_moves_zones_only_on_zone_errors, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(tag_instance_replaces_named_tags, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(start_costs_one_cloud_call, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(stop_reports_ids_the_cloud_did_not_stop, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(calls_without_a_model_are_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(start_creates_the_instance_in_its_groups, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(start_places_nics_in_the_spaces_asked_for, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(start_refuses_spaces_no_zone_can_meet, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(start_honours_the_zones_constraint, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(start_honours_subnets_to_zones_and_endpoint_bindings,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(precheck_refuses_spaces_no_zone_can_meet, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(start_refuses_a_dying_model, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(start_uses_the_image_metadata_it_is_given, s_setup,
                                        s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
