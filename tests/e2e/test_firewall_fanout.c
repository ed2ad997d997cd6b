/*  e2e: firewalling many machines at once, and the lives of their groups.

    OpenPortsMany / ClosePortsMany fan out one firewaller call per machine
    (services/gateway/firewall.c); StartInstance(s) has the firewaller
    make the machines' security groups first, StopInstances and Destroy
    delete them. Real processes on loopback: a gateway, a registry, a
    broker and a firewaller; the sim cloud is <home>/sim/sim.db, and the
    tests read its groups and rules through the operator's console, which
    has no latency and no failures of its own.

    Each test opens its own model, so their groups never mix. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <czmq.h>

#include "bus/envelope.h"
#include "bus/mdp.h"
#include "common/fwgroup.h"
#include "common/paths.h"
#include "environ.pb-c.h"
#include "harness.h"
#include "providers/sim/sim_cloud.h"

#define CTRL_UUID "c0ffee00-0000-4000-8000-0000000000f1"
#define REGION "sim-east"
#define CALL_MS 120000
#define MACHINES 100

typedef struct {
    harness_t h;
    en_sim_cloud_t *sim;
    int firewaller; // harness index
    char model[64];
} fx_t;

#define FREE(m)                                                                                    \
    do {                                                                                           \
        if (m)                                                                                     \
            protobuf_c_message_free_unpacked((ProtobufCMessage *)(m), NULL);                       \
    } while (0)

//  Start a public call; its id in sent.
static void
s_start_call(fx_t *fx, const char *method, const void *req, char sent[33])
{
    en_err_t err;
    if (en_client_start(fx->h.client, EN_PUBLIC_SERVICE, method, fx->model, req,
                        en_now_ms() + CALL_MS, NULL, NULL, sent, &err))
        fail_msg("%s: %s", method, err.message);
}

//  The result of the call `sent` (free with FREE), or NULL with err.
static void *
s_finish_call(fx_t *fx, const char *method, const char *sent, const ProtobufCMessageDescriptor *rd,
              en_err_t *err)
{
    en_err_clear(err);
    en_result_t r;
    while (en_client_wait(fx->h.client, CALL_MS + 5000, &r) == 0) {
        if (strcmp(r.request_id, sent) != 0) {
            en_result_clear(&r);
            continue;
        }
        void *res = NULL;
        if (r.err.kind != EN_OK)
            *err = r.err;
        else if (!(res = protobuf_c_message_unpack(rd, NULL, r.size, r.body)))
            en_err_set(err, EN_INTERNAL, "%s: result does not decode", method);
        en_result_clear(&r);
        return res;
    }
    en_err_set(err, EN_TIMEOUT, "%s: no reply", method);
    return NULL;
}

static void *
s_call(fx_t *fx, const char *method, const void *req, const ProtobufCMessageDescriptor *rd,
       en_err_t *err)
{
    char sent[33];
    s_start_call(fx, method, req, sent);
    return s_finish_call(fx, method, sent, rd, err);
}

//  Open a model named `name` with config `json`; its uuid into fx->model.
static void
s_open(fx_t *fx, const char *name, const char *json)
{
    En__OpenRequest req = EN__OPEN_REQUEST__INIT;
    En__ConfigAttrs cfg = EN__CONFIG_ATTRS__INIT;
    cfg.json = (char *)json;
    req.name = (char *)name;
    req.cloud_name = "sim";
    req.config = &cfg;
    fx->model[0] = '\0';
    en_err_t err;
    En__OpenResult *m = s_call(fx, "Open", &req, &en__open_result__descriptor, &err);
    if (!m)
        fail_msg("Open %s: %s", name, err.message);
    snprintf(fx->model, sizeof fx->model, "%s", m->model->uuid);
    FREE(m);
}

static int
s_setup(void **state)
{
    setenv("ENVIRONS_RETRY_SCALE", "0.05", 1);
    zsys_handler_set(NULL);
    fx_t *fx = calloc(1, sizeof *fx);
    if (harness_init(&fx->h))
        return -1;
    harness_start(&fx->h, "gateway", 0);
    harness_start(&fx->h, "registry", 0);
    harness_start(&fx->h, "broker", 0);
    fx->firewaller = harness_start(&fx->h, "firewaller", 0);
    harness_start(&fx->h, "imagemeta", 0); // the images of each start
    if (harness_wait_service(&fx->h, "registry", 20000) ||
        harness_wait_service(&fx->h, "broker", 20000) ||
        harness_wait_service(&fx->h, "firewaller", 20000) ||
        harness_wait_service(&fx->h, "imagemeta", 20000))
        return -1;
    char path[512];
    snprintf(path, sizeof path, "%s/sim", fx->h.home);
    en_mkdirs(path, 0700);
    snprintf(path, sizeof path, "%s/sim/sim.db", fx->h.home);
    en_err_t err;
    fx->sim = en_sim_cloud_open(path, &err);
    if (!fx->sim)
        return -1;
    *state = fx;
    return 0;
}

static int
s_teardown(void **state)
{
    fx_t *fx = *state;
    en_sim_cloud_close(&fx->sim);
    int rc = harness_fini(&fx->h);
    free(fx);
    return rc;
}

//  --------------------------------------------------------------------------
//  Machines and the console

typedef struct {
    char machine[MACHINES][16];
    char nonce[MACHINES][24];
    char instance[MACHINES][64];
    size_t count;
} machines_t;

//  Start machines first..first+n-1 with StartInstances; every item must
//  succeed.
static void
s_start_machines(fx_t *fx, machines_t *ms, int first, size_t n)
{
    assert_true(n <= MACHINES);
    En__StartInstanceParams *params = calloc(n, sizeof *params);
    En__StartInstanceParams **ptrs = calloc(n, sizeof *ptrs);
    for (size_t i = 0; i < n; i++) {
        en__start_instance_params__init(&params[i]);
        snprintf(ms->machine[i], sizeof ms->machine[i], "%d", first + (int)i);
        snprintf(ms->nonce[i], sizeof ms->nonce[i], "nonce-%d", first + (int)i);
        params[i].machine_id = ms->machine[i];
        params[i].machine_nonce = ms->nonce[i];
        params[i].controller_uuid = CTRL_UUID;
        ptrs[i] = &params[i];
    }
    En__StartInstancesRequest req = EN__START_INSTANCES_REQUEST__INIT;
    req.params = ptrs;
    req.n_params = n;
    en_err_t err;
    En__StartInstancesResult *r =
        s_call(fx, "StartInstances", &req, &en__start_instances_result__descriptor, &err);
    if (!r)
        fail_msg("StartInstances: %s", err.message);
    assert_int_equal(r->n_items, n);
    for (size_t i = 0; i < n; i++) {
        if (r->items[i]->error && r->items[i]->error->kind != EN__ERROR_KIND__OK)
            fail_msg("machine %s: %s", ms->machine[i], r->items[i]->error->message);
        snprintf(ms->instance[i], sizeof ms->instance[i], "%s", r->items[i]->result->instance->id);
    }
    ms->count = n;
    FREE(r);
    free(ptrs);
    free(params);
}

//  The group `name` as the operator sees it: its rules and members; false
//  when the region has no such group.
static bool
s_group(fx_t *fx, const char *name, en_sim_group_t *out)
{
    en_sim_group_t *groups = NULL;
    size_t n = 0;
    en_err_t err;
    assert_int_equal(en_sim_cloud_groups(fx->sim, REGION, &groups, &n, &err), 0);
    bool found = false;
    for (size_t i = 0; i < n && !found; i++)
        if (strcmp(groups[i].name, name) == 0) {
            *out = groups[i];
            memset(&groups[i], 0, sizeof groups[i]);
            found = true;
        }
    en_sim_groups_free(&groups, n);
    return found;
}

static bool
s_group_exists(fx_t *fx, const char *name)
{
    en_sim_group_t g;
    bool found = s_group(fx, name, &g);
    if (found)
        en_sim_group_clear(&g);
    return found;
}

//  Groups of the current model, counted (model group included).
static size_t
s_model_groups(fx_t *fx)
{
    en_sim_group_t *groups = NULL;
    size_t n = 0, mine = 0;
    en_err_t err;
    assert_int_equal(en_sim_cloud_groups(fx->sim, REGION, &groups, &n, &err), 0);
    char prefix[EN_FW_GROUP_MAX];
    en_fw_group_model(fx->model, prefix);
    for (size_t i = 0; i < n; i++)
        mine += strncmp(groups[i].name, prefix, strlen(prefix)) == 0;
    en_sim_groups_free(&groups, n);
    return mine;
}

//  How many times machine i's group holds `rule` ("80/tcp"), and how many
//  rules it holds in all.
static size_t
s_rule_count(fx_t *fx, const char *machine, const char *rule, size_t *all)
{
    char name[EN_FW_GROUP_MAX];
    en_fw_group_machine(fx->model, machine, name);
    en_sim_group_t g;
    if (!s_group(fx, name, &g))
        fail_msg("group %s missing", name);
    size_t hits = 0;
    for (size_t i = 0; i < g.rule_count; i++) {
        char text[128];
        en_ingress_rule_format(&g.rules[i], text, sizeof text);
        hits += strcmp(text, rule) == 0;
    }
    if (all)
        *all = g.rule_count;
    en_sim_group_clear(&g);
    return hits;
}

//  Machines whose group holds `rule`, read in one console pass.
static size_t
s_machines_with(fx_t *fx, const char *rule)
{
    en_sim_group_t *groups = NULL;
    size_t n = 0, with = 0;
    en_err_t err;
    assert_int_equal(en_sim_cloud_groups(fx->sim, REGION, &groups, &n, &err), 0);
    char prefix[EN_FW_GROUP_MAX + 1];
    en_fw_group_model(fx->model, prefix);
    strcat(prefix, "-");
    for (size_t i = 0; i < n; i++) {
        if (strncmp(groups[i].name, prefix, strlen(prefix)) != 0)
            continue;
        for (size_t r = 0; r < groups[i].rule_count; r++) {
            char text[128];
            en_ingress_rule_format(&groups[i].rules[r], text, sizeof text);
            if (strcmp(text, rule) == 0) {
                with++;
                break;
            }
        }
    }
    en_sim_groups_free(&groups, n);
    return with;
}

//  Since the counters were reset, n machines cost n cloud calls: the
//  firewaller's guarded instance_rules each, and no describe, no separate
//  read or change of the rules (issue 4's one call per machine).
static void
s_assert_one_call_each(fx_t *fx, size_t n)
{
    en_err_t err;
    assert_int_equal(en_sim_cloud_call_count(fx->sim, "instance_rules", &err), n);
    const char *none[] = {"describe", "rules", "authorize", "revoke", "ensure_group"};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++)
        if (en_sim_cloud_call_count(fx->sim, none[i], &err) != 0)
            fail_msg("%s called %lld times", none[i],
                     (long long)en_sim_cloud_call_count(fx->sim, none[i], &err));
}

//  --------------------------------------------------------------------------
//  OpenPortsMany / ClosePortsMany requests

typedef struct {
    En__PortRange range;
    En__IngressRule rule;
    En__IngressRule *rules[1];
    En__InstancePortsItem items[MACHINES + 4];
    En__InstancePortsItem *ptrs[MACHINES + 4];
    size_t count;
} ports_t;

static void
s_ports(ports_t *p, int from, int to, const char *protocol)
{
    memset(p, 0, sizeof *p);
    en__port_range__init(&p->range);
    p->range.from_port = from;
    p->range.to_port = to;
    p->range.protocol = (char *)protocol;
    en__ingress_rule__init(&p->rule);
    p->rule.port_range = &p->range;
    p->rules[0] = &p->rule;
}

static void
s_ports_add(ports_t *p, const char *instance, const char *machine)
{
    En__InstancePortsItem *item = &p->items[p->count];
    en__instance_ports_item__init(item);
    item->instance_id = (char *)instance;
    item->machine_id = (char *)machine;
    item->rules = p->rules;
    item->n_rules = 1;
    p->ptrs[p->count++] = item;
}

static En__OpenPortsManyRequest
s_open_req(ports_t *p)
{
    En__OpenPortsManyRequest req = EN__OPEN_PORTS_MANY_REQUEST__INIT;
    req.items = p->ptrs;
    req.n_items = p->count;
    return req;
}

static bool
s_item_ok(const En__InstancePortsItemResult *item)
{
    return !item->error || item->error->kind == EN__ERROR_KIND__OK;
}

//  --------------------------------------------------------------------------
//  Tests

static void
open_many_gives_one_result_per_machine(void **state)
{
    fx_t *fx = *state;
    s_open(fx, "fan-open", "{}");
    machines_t *ms = calloc(1, sizeof *ms);
    s_start_machines(fx, ms, 0, MACHINES);
    ports_t *p = malloc(sizeof *p);
    s_ports(p, 80, 80, "tcp");
    for (size_t i = 0; i < ms->count; i++)
        s_ports_add(p, ms->instance[i], ms->machine[i]);
    En__OpenPortsManyRequest req = s_open_req(p);
    en_err_t err;
    assert_int_equal(en_sim_cloud_reset_counters(fx->sim, &err), 0);
    En__OpenPortsManyResult *r =
        s_call(fx, "OpenPortsMany", &req, &en__open_ports_many_result__descriptor, &err);
    if (!r)
        fail_msg("OpenPortsMany: %s", err.message);
    assert_int_equal(r->n_items, MACHINES);
    for (size_t i = 0; i < r->n_items; i++)
        if (!s_item_ok(r->items[i]))
            fail_msg("machine %s: %s", ms->machine[i], r->items[i]->error->message);
    FREE(r);
    s_assert_one_call_each(fx, MACHINES);
    for (size_t i = 0; i < ms->count; i++) {
        size_t all = 0;
        assert_int_equal(s_rule_count(fx, ms->machine[i], "80/tcp", &all), 1);
        assert_int_equal(all, 1);
    }
    // and closed again, item by item
    En__ClosePortsManyRequest close = EN__CLOSE_PORTS_MANY_REQUEST__INIT;
    close.items = p->ptrs;
    close.n_items = p->count;
    assert_int_equal(en_sim_cloud_reset_counters(fx->sim, &err), 0);
    En__ClosePortsManyResult *c =
        s_call(fx, "ClosePortsMany", &close, &en__close_ports_many_result__descriptor, &err);
    if (!c)
        fail_msg("ClosePortsMany: %s", err.message);
    assert_int_equal(c->n_items, MACHINES);
    for (size_t i = 0; i < c->n_items; i++)
        assert_true(s_item_ok(c->items[i]));
    FREE(c);
    s_assert_one_call_each(fx, MACHINES);
    assert_int_equal(s_machines_with(fx, "80/tcp"), 0);
    free(p);
    free(ms);
}

static void
failing_item_does_not_fail_others(void **state)
{
    fx_t *fx = *state;
    s_open(fx, "fan-fail", "{}");
    machines_t *ms = calloc(1, sizeof *ms);
    s_start_machines(fx, ms, 0, 4);
    ports_t *p = malloc(sizeof *p);
    s_ports(p, 443, 443, "tcp");
    s_ports_add(p, ms->instance[0], ms->machine[0]);
    s_ports_add(p, "i-nowhere", "77"); // no such machine: no group
    s_ports_add(p, ms->instance[1], ms->machine[1]);
    s_ports_add(p, ms->instance[2], ""); // no machine id
    s_ports_add(p, ms->instance[3], ms->machine[3]);
    En__OpenPortsManyRequest req = s_open_req(p);
    en_err_t err;
    En__OpenPortsManyResult *r =
        s_call(fx, "OpenPortsMany", &req, &en__open_ports_many_result__descriptor, &err);
    if (!r)
        fail_msg("OpenPortsMany: %s", err.message);
    assert_int_equal(r->n_items, 5);
    assert_true(s_item_ok(r->items[0]));
    assert_false(s_item_ok(r->items[1]));
    assert_true(s_item_ok(r->items[2]));
    assert_false(s_item_ok(r->items[3]));
    assert_true(s_item_ok(r->items[4]));
    fprintf(stderr, "failed items: %s; %s\n", r->items[1]->error->message,
            r->items[3]->error->message);
    FREE(r);
    assert_int_equal(s_rule_count(fx, ms->machine[0], "443/tcp", NULL), 1);
    assert_int_equal(s_rule_count(fx, ms->machine[1], "443/tcp", NULL), 1);
    assert_int_equal(s_rule_count(fx, ms->machine[2], "443/tcp", NULL), 0);
    assert_int_equal(s_rule_count(fx, ms->machine[3], "443/tcp", NULL), 1);
    free(p);
    free(ms);
}

//  StartInstance: the instance is created in the model's group and its
//  machine's; StopInstances deletes the machine's group; Destroy the rest.
static void
groups_follow_instances_in_instance_mode(void **state)
{
    fx_t *fx = *state;
    s_open(fx, "fan-groups", "{\"firewall-mode\":\"instance\"}");
    En__StartInstanceParams p = EN__START_INSTANCE_PARAMS__INIT;
    p.machine_id = "7";
    p.machine_nonce = "nonce-7";
    p.controller_uuid = CTRL_UUID;
    En__StartInstanceRequest req = EN__START_INSTANCE_REQUEST__INIT;
    req.params = &p;
    en_err_t err;
    En__StartInstanceResult *r =
        s_call(fx, "StartInstance", &req, &en__start_instance_result__descriptor, &err);
    if (!r)
        fail_msg("StartInstance: %s", err.message);
    char id[64];
    snprintf(id, sizeof id, "%s", r->instance->id);
    FREE(r);
    char model_group[EN_FW_GROUP_MAX], machine_group[EN_FW_GROUP_MAX];
    en_fw_group_model(fx->model, model_group);
    en_fw_group_machine(fx->model, "7", machine_group);
    char **names = NULL;
    size_t n = 0;
    assert_int_equal(en_sim_cloud_instance_groups(fx->sim, id, &names, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(names[0], model_group);
    assert_string_equal(names[1], machine_group);
    en_sim_names_free(&names, n);
    en_sim_group_t g;
    assert_true(s_group(fx, machine_group, &g));
    assert_int_equal(g.member_count, 1);
    assert_string_equal(g.members[0], id);
    en_sim_group_clear(&g);

    // StopInstances: the machine's group goes, the model's stays
    En__StopInstancesRequest stop = EN__STOP_INSTANCES_REQUEST__INIT;
    char *ids[] = {id};
    stop.ids = ids;
    stop.n_ids = 1;
    En__StopInstancesResult *s =
        s_call(fx, "StopInstances", &stop, &en__stop_instances_result__descriptor, &err);
    if (!s)
        fail_msg("StopInstances: %s", err.message);
    assert_int_equal(s->n_failed, 0);
    FREE(s);
    assert_false(s_group_exists(fx, machine_group));
    assert_true(s_group_exists(fx, model_group));

    // a second machine, then Destroy: no group of the model is left
    p.machine_id = "8";
    p.machine_nonce = "nonce-8";
    r = s_call(fx, "StartInstance", &req, &en__start_instance_result__descriptor, &err);
    if (!r)
        fail_msg("StartInstance: %s", err.message);
    FREE(r);
    assert_int_equal(s_model_groups(fx), 2);
    En__DestroyRequest d = EN__DESTROY_REQUEST__INIT;
    En__DestroyResult *dr = s_call(fx, "Destroy", &d, &en__destroy_result__descriptor, &err);
    if (!dr)
        fail_msg("Destroy: %s", err.message);
    FREE(dr);
    assert_int_equal(s_model_groups(fx), 0);
    // and Destroy again is no error (statement 59)
    dr = s_call(fx, "Destroy", &d, &en__destroy_result__descriptor, &err);
    if (!dr)
        fail_msg("second Destroy: %s", err.message);
    FREE(dr);
}

//  Destroy marks the model dying first: a StartInstance or OpenPortsMany
//  that comes late (a resend after a broker was killed, a slow client)
//  makes nothing again, neither an instance nor a group nor a rule, and
//  Destroy can still be run again.
static void
destroyed_model_makes_nothing_new(void **state)
{
    fx_t *fx = *state;
    s_open(fx, "fan-dying", "{}");
    machines_t *ms = calloc(1, sizeof *ms);
    s_start_machines(fx, ms, 0, 2);
    assert_int_equal(s_model_groups(fx), 3);
    En__DestroyRequest d = EN__DESTROY_REQUEST__INIT;
    en_err_t err;
    En__DestroyResult *dr = s_call(fx, "Destroy", &d, &en__destroy_result__descriptor, &err);
    if (!dr)
        fail_msg("Destroy: %s", err.message);
    FREE(dr);
    assert_int_equal(s_model_groups(fx), 0);

    En__StartInstanceParams p = EN__START_INSTANCE_PARAMS__INIT;
    p.machine_id = "5";
    p.machine_nonce = "nonce-5";
    p.controller_uuid = CTRL_UUID;
    En__StartInstanceRequest req = EN__START_INSTANCE_REQUEST__INIT;
    req.params = &p;
    En__StartInstanceResult *r =
        s_call(fx, "StartInstance", &req, &en__start_instance_result__descriptor, &err);
    assert_null(r);
    fprintf(stderr, "StartInstance after Destroy: %s\n", err.message);
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message,
                        "cannot create security groups: model \"fan-dying\" is being destroyed");
    assert_int_equal(s_model_groups(fx), 0);

    ports_t *ports = malloc(sizeof *ports);
    s_ports(ports, 80, 80, "tcp");
    s_ports_add(ports, ms->instance[0], ms->machine[0]);
    En__OpenPortsManyRequest oreq = s_open_req(ports);
    En__OpenPortsManyResult *o =
        s_call(fx, "OpenPortsMany", &oreq, &en__open_ports_many_result__descriptor, &err);
    if (!o)
        fail_msg("OpenPortsMany: %s", err.message);
    assert_int_equal(o->n_items, 1);
    assert_false(s_item_ok(o->items[0]));
    assert_non_null(strstr(o->items[0]->error->message, "is being destroyed"));
    FREE(o);
    assert_int_equal(s_model_groups(fx), 0);

    dr = s_call(fx, "Destroy", &d, &en__destroy_result__descriptor, &err);
    if (!dr)
        fail_msg("second Destroy: %s", err.message);
    FREE(dr);
    free(ports);
    free(ms);
}

//  A group the cloud will not delete is not dropped: Destroy fails naming
//  it, in EC2's words, and a later Destroy finishes the job.
static void
destroy_reports_groups_left(void **state)
{
    fx_t *fx = *state;
    s_open(fx, "fan-left", "{}");
    machines_t *ms = calloc(1, sizeof *ms);
    s_start_machines(fx, ms, 0, 2);
    en_err_t err;
    assert_int_equal(
        en_sim_cloud_knob_set(fx->sim, "fail.delete_group", "INTERNAL count 1 boom", &err), 0);
    En__DestroyRequest d = EN__DESTROY_REQUEST__INIT;
    En__DestroyResult *dr = s_call(fx, "Destroy", &d, &en__destroy_result__descriptor, &err);
    assert_null(dr);
    fprintf(stderr, "Destroy: %s\n", err.message);
    assert_non_null(strstr(err.message, "cannot delete security group \"juju-"));
    assert_non_null(strstr(err.message, "consider deleting it manually"));
    assert_int_equal(s_model_groups(fx), 1); // the one the cloud refused
    dr = s_call(fx, "Destroy", &d, &en__destroy_result__descriptor, &err);
    if (!dr)
        fail_msg("second Destroy: %s", err.message);
    FREE(dr);
    assert_int_equal(s_model_groups(fx), 0);
    free(ms);
}

//  Mode none: nothing to make, the instance is in no group.
static void
mode_none_starts_without_groups(void **state)
{
    fx_t *fx = *state;
    s_open(fx, "fan-none", "{\"firewall-mode\":\"none\"}");
    machines_t *ms = calloc(1, sizeof *ms);
    s_start_machines(fx, ms, 0, 3);
    assert_int_equal(s_model_groups(fx), 0);
    char **names = NULL;
    size_t n = 0;
    en_err_t err;
    assert_int_equal(en_sim_cloud_instance_groups(fx->sim, ms->instance[0], &names, &n, &err), 0);
    assert_int_equal(n, 0);
    en_sim_names_free(&names, n);
    free(ms);
}

//  SIGKILL the firewaller while a 100-machine OpenPortsMany is half done,
//  start it again: the call completes, and every machine's group holds
//  the rule exactly once (the gateway requeues what the dead replica
//  held, the items keep their ids, and authorize leaves a rule that is
//  already there alone).
static void
open_many_survives_firewaller_kill(void **state)
{
    fx_t *fx = *state;
    s_open(fx, "fan-kill", "{}");
    machines_t *ms = calloc(1, sizeof *ms);
    s_start_machines(fx, ms, 0, MACHINES);
    en_err_t err;
    // slow enough that the call is still going when the kill comes
    assert_int_equal(en_sim_cloud_knob_set(fx->sim, "latency_ms", "100", &err), 0);
    ports_t *p = malloc(sizeof *p);
    s_ports(p, 8080, 8090, "tcp");
    for (size_t i = 0; i < ms->count; i++)
        s_ports_add(p, ms->instance[i], ms->machine[i]);
    En__OpenPortsManyRequest req = s_open_req(p);
    char sent[33];
    s_start_call(fx, "OpenPortsMany", &req, sent);
    // poll the console (with a deadline) until some machines have it
    size_t at_kill = 0;
    int64_t until = en_mono_ms() + 60000;
    while ((at_kill = s_machines_with(fx, "8080-8090/tcp")) < 10 && en_mono_ms() < until)
        zclock_sleep(5);
    assert_true(at_kill >= 10);
    harness_kill(&fx->h, fx->firewaller, SIGKILL);
    fx->firewaller = harness_start(&fx->h, "firewaller", 0);
    En__OpenPortsManyResult *r =
        s_finish_call(fx, "OpenPortsMany", sent, &en__open_ports_many_result__descriptor, &err);
    assert_int_equal(en_sim_cloud_knob_set(fx->sim, "latency_ms", NULL, &err), 0);
    if (!r)
        fail_msg("OpenPortsMany: %s", err.message);
    fprintf(stderr, "killed the firewaller with %zu of %d machines done\n", at_kill, MACHINES);
    assert_true(at_kill < MACHINES);
    assert_int_equal(r->n_items, MACHINES);
    for (size_t i = 0; i < r->n_items; i++)
        if (!s_item_ok(r->items[i]))
            fail_msg("machine %s: %s", ms->machine[i], r->items[i]->error->message);
    FREE(r);
    for (size_t i = 0; i < ms->count; i++) {
        size_t all = 0;
        assert_int_equal(s_rule_count(fx, ms->machine[i], "8080-8090/tcp", &all), 1);
        assert_int_equal(all, 1);
    }
    free(p);
    free(ms);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(open_many_gives_one_result_per_machine),
        cmocka_unit_test(failing_item_does_not_fail_others),
        cmocka_unit_test(groups_follow_instances_in_instance_mode),
        cmocka_unit_test(mode_none_starts_without_groups),
        cmocka_unit_test(destroy_reports_groups_left),
        cmocka_unit_test(destroyed_model_makes_nothing_new),
        cmocka_unit_test(open_many_survives_firewaller_kill),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
