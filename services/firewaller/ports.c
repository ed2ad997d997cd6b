/*  ports.c — OpenPorts, ClosePorts and Ports (global mode, Juju's
    environs.Firewaller) and OpenInstancePorts, CloseInstancePorts and
    InstancePorts (instance mode, instance.InstanceFirewaller): statements
    64-78 of docs/juju-environs.md.

    Each method states the mode it needs; the wrong mode is Juju's error,
    word for word (64, 65), and mode none serves no port call at all (75:
    Juju's worker does not even run). Rules are validated before the cloud
    is touched, and given to it exactly as they came (73): the cloud keeps
    one rule per range and CIDR set and ignores a duplicate, which makes
    opening idempotent (68, 69) and closing an absent rule harmless (70).
    A rule without CIDRs is handed over as 0.0.0.0/0, the way the cloud
    reads it back (78), so that open, close and read all compare alike.

    Global rules are in the group juju-<model>-global; an instance's are in
    its machine's group juju-<model>-<machine> (76), so two instances never
    share a rule (72), and the model group, whatever it holds, is never
    reported (66). At instance level a rule whose range is already open
    with other CIDRs replaces that rule (78: Juju keys instance rules by
    range): the new rule is added before the old one goes, so the port is
    never closed in between.

    An instance method costs one cloud call when the instance is where it
    should be (the guarded call, below), so opening a port on a thousand
    machines costs a thousand calls, not three thousand (BENCHMARKS.md,
    issue 4); anything unusual takes the checked path, which describes the
    instance first, as Juju's providers do. */
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "firewaller.h"

//  What a port method needs and how Juju words its mode error.
typedef struct {
    en_fw_mode_t mode;
    const char *doing;     // "opening ports on"
    const char *juju_name; // for the machine id mismatch: "OpenPorts"
} s_method_t;

static const s_method_t s_open_global = {EN_FW_GLOBAL, "opening ports on", "OpenPorts"};
static const s_method_t s_close_global = {EN_FW_GLOBAL, "closing ports on", "ClosePorts"};
static const s_method_t s_read_global = {EN_FW_GLOBAL, "retrieving ingress rules from",
                                         "IngressRules"};
static const s_method_t s_open_instance = {EN_FW_INSTANCE, "opening ports on", "OpenPorts"};
static const s_method_t s_close_instance = {EN_FW_INSTANCE, "closing ports on", "ClosePorts"};
static const s_method_t s_read_instance = {EN_FW_INSTANCE, "retrieving ingress rules from",
                                           "IngressRules"};

//  The model, checked for the method's mode and for a firewall driver.
static int
s_model(en_call_t *call, const s_method_t *method, fw_model_t *m, en_err_t *err)
{
    if (fw_model(call, m, err))
        return -1;
    if (m->mode == EN_FW_NONE)
        return en_err_set(err, EN_NOT_SUPPORTED,
                          "firewall-mode is \"none\": ports are not managed for model %s",
                          *m->name ? m->name : m->uuid);
    if (m->mode != method->mode)
        return en_err_set(err, EN_NOT_VALID, "invalid firewall mode \"%s\" for %s %s",
                          en_fw_mode_name(m->mode), method->doing,
                          method->mode == EN_FW_GLOBAL ? "model" : "instance");
    //  closing and reading stay possible: Destroy's own clean-up needs no
    //  port opened
    if ((method == &s_open_global || method == &s_open_instance) &&
        (en_model_refuse_dying(m->dying, *m->name ? m->name : m->uuid, method->doing, err) ||
         fw_fresh_refuse_dying(call, m, method->doing, err)))
        return -1;
    return fw_require_driver(m, err);
}

//  The group's rules; a group the cloud does not know has none.
static int
s_rules(const fw_model_t *m, const char *group, en_ingress_rule_t **rules, size_t *n, en_err_t *err)
{
    *rules = NULL;
    *n = 0;
    if (m->ops->rules(m->conn, group, rules, n, err) == 0)
        return 0;
    return err->kind == EN_NOT_FOUND ? 0 : -1;
}

static int
s_revoke(const fw_model_t *m, const char *group, const en_ingress_rule_t *rules, size_t n,
         en_err_t *err)
{
    if (n == 0 || m->ops->revoke(m->conn, group, rules, n, err) == 0)
        return 0;
    return err->kind == EN_NOT_FOUND ? 0 : -1; // no group: nothing was open
}

//  Sorted (67) onto the wire.
static void
s_result(en_call_t *call, en_ingress_rule_t *rules, size_t n, En__IngressRule ***out, size_t *n_out)
{
    en_ingress_rules_sort(rules, n);
    *out = fw_rules_to(call->arena, rules, n);
    *n_out = n;
}

//  --------------------------------------------------------------------------
//  Global mode

//  OpenPorts and ClosePorts: the global group gains or loses the rules.
static int
s_change_global(en_call_t *call, const s_method_t *method, En__IngressRule *const *in, size_t n,
                en_err_t *err)
{
    fw_model_t m;
    en_ingress_rule_t *rules = NULL;
    if (s_model(call, method, &m, err) || fw_rules_from(in, n, &rules, err))
        return -1;
    char group[EN_FW_GROUP_MAX];
    en_fw_group_global(m.uuid, group);
    en_tag_t tags[3];
    size_t nt = fw_group_tags(&m, NULL, NULL, tags);
    int rc = method == &s_open_global ? fw_authorize(call, &m, group, tags, nt, rules, n, err)
                                      : s_revoke(&m, group, rules, n, err);
    en_ingress_rules_free(&rules, n);
    return rc;
}

static int
s_open_ports(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res, en_err_t *err)
{
    const En__OpenPortsRequest *req = (const void *)req_;
    (void)res;
    return s_change_global(call, &s_open_global, req->rules, req->n_rules, err);
}

static int
s_close_ports(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res, en_err_t *err)
{
    const En__ClosePortsRequest *req = (const void *)req_;
    (void)res;
    return s_change_global(call, &s_close_global, req->rules, req->n_rules, err);
}

static int
s_ports(en_call_t *call, const ProtobufCMessage *req, ProtobufCMessage *res_, en_err_t *err)
{
    (void)req;
    En__PortsResult *res = (void *)res_;
    fw_model_t m;
    if (s_model(call, &s_read_global, &m, err))
        return -1;
    char group[EN_FW_GROUP_MAX];
    en_fw_group_global(m.uuid, group);
    en_ingress_rule_t *rules = NULL;
    size_t n = 0;
    if (s_rules(&m, group, &rules, &n, err))
        return -1;
    s_result(call, rules, n, &res->rules, &res->n_rules);
    en_ingress_rules_free(&rules, n);
    return 0;
}

//  --------------------------------------------------------------------------
//  Instance mode
//
//  The common path is one cloud call per method: the driver's
//  instance_rules changes (or reads) the machine's group only while the
//  instance is a member of it and the group is tagged with the model and
//  the machine id. That is statement 76's check without a describe: the
//  broker created the instance for machine M of model U in the group
//  juju-U-M, which EnsureGroups tagged juju-model-uuid U and
//  juju-machine-id M. When the guard does not hold (a wrong machine id,
//  another model's instance, one the cloud does not show yet, a machine
//  started before its group existed) or the driver has no instance_rules,
//  the call takes the checked path: describe words the error, or finds
//  the pairing right, and the separate entries do the work as before.

//  The instance must be the model's and started for machine_id (76);
//  its machine's group goes into group. A just-started instance may not
//  be visible yet (eventual consistency): a few short retries.
static int
s_instance_group(en_call_t *call, const s_method_t *method, const fw_model_t *m,
                 const char *instance_id, const char *machine_id, char group[EN_FW_GROUP_MAX],
                 en_err_t *err)
{
    if (!instance_id || !*instance_id)
        return en_err_set(err, EN_NOT_VALID, "%s: no instance named", method->juju_name);
    en_instance_t *found = NULL;
    size_t count = 0;
    int64_t until = en_now_ms() + 5000;
    if (call->deadline_ms && call->deadline_ms < until)
        until = call->deadline_ms;
    for (size_t attempt = 0;; attempt++) {
        if (m->compute->describe(m->conn, &instance_id, 1, &found, &count, err))
            return -1;
        if (count == 1 || attempt == 3 || !fw_backoff(call, attempt, until))
            break;
        en_instances_free(&found, count);
    }
    const char *model = count == 1 ? en_kvlist_get(&found[0].tags, "juju-model-uuid") : NULL;
    if (count != 1 || !found[0].live || !model || strcmp(model, m->uuid) != 0) {
        en_instances_free(&found, count);
        return en_err_set(err, EN_NOT_FOUND, "instance \"%s\" not found", instance_id);
    }
    const char *tagged = en_kvlist_get(&found[0].tags, "juju-machine-id");
    const char *given = machine_id ? machine_id : "";
    if (!tagged || strcmp(tagged, given) != 0) {
        en_err_set(err, EN_NOT_VALID, "%s with mismatched machine id, expected \"%s\" got \"%s\"",
                   method->juju_name, tagged ? tagged : "", given);
        en_instances_free(&found, count);
        return -1;
    }
    en_instances_free(&found, count);
    en_fw_group_machine(m->uuid, given, group);
    return 0;
}

//  One guarded call on the machine's group (see above): authorize add,
//  revoke drop and, unless rules is NULL, read the rules back. -1 only for
//  a cloud error; *member false when the call was not made or its guard
//  did not hold, and the checked path must decide.
static int
s_guarded(const fw_model_t *m, const char *instance_id, const char *machine_id,
          const en_ingress_rule_t *add, size_t nadd, const en_ingress_rule_t *drop, size_t ndrop,
          bool *member, en_ingress_rule_t **rules, size_t *n, en_err_t *err)
{
    *member = false;
    if (!m->ops->instance_rules || !instance_id || !*instance_id || !machine_id || !*machine_id)
        return 0; // the checked path says what is missing
    char group[EN_FW_GROUP_MAX];
    en_fw_group_machine(m->uuid, machine_id, group);
    const en_tag_t tags[] = {{"juju-model-uuid", m->uuid}, {"juju-machine-id", machine_id}};
    const en_fw_instance_op_t op = {
        .group = group,
        .instance_id = instance_id,
        .tags = tags,
        .tag_count = sizeof tags / sizeof tags[0],
        .authorize = add,
        .authorize_count = nadd,
        .revoke = drop,
        .revoke_count = ndrop,
    };
    return m->ops->instance_rules(m->conn, &op, member, rules, n, err);
}

//  Whether two rules allow the same sources: the cloud keeps a rule's
//  CIDRs as a set (canonical, each once), in its own order.
static bool
s_same_cidrs(const en_ingress_rule_t *a, const en_ingress_rule_t *b)
{
    if (a->cidr_count != b->cidr_count)
        return false;
    for (size_t i = 0; i < a->cidr_count; i++) {
        bool found = false;
        for (size_t j = 0; j < b->cidr_count && !found; j++)
            found = strcmp(a->cidrs[i], b->cidrs[j]) == 0;
        if (!found)
            return false;
    }
    return true;
}

//  Whether a later rule of the same request opens the same range (the
//  last one wins, as with Juju's map keyed by range).
static bool
s_superseded(const en_ingress_rule_t *rules, size_t n, size_t i)
{
    for (size_t j = i + 1; j < n; j++)
        if (en_port_range_cmp(&rules[i].range, &rules[j].range) == 0)
            return true;
    return false;
}

//  What opening want (no range twice) does to a group that holds have:
//  adds, the rules not open as they are; drops, the rules of the same
//  ranges with other CIDRs, which the new ones replace (78). Shallow
//  copies, into arrays of n and nhave.
static void
s_diff(const en_ingress_rule_t *want, size_t n, const en_ingress_rule_t *have, size_t nhave,
       en_ingress_rule_t *adds, size_t *nadd, en_ingress_rule_t *drops, size_t *ndrop)
{
    *nadd = *ndrop = 0;
    for (size_t i = 0; i < n; i++) {
        bool open = false;
        for (size_t h = 0; h < nhave; h++) {
            bool same_range = en_port_range_cmp(&want[i].range, &have[h].range) == 0;
            bool same_rule = same_range && s_same_cidrs(&want[i], &have[h]);
            open |= same_rule;
            if (same_range && !same_rule)
                drops[(*ndrop)++] = have[h];
        }
        if (!open)
            adds[(*nadd)++] = want[i];
    }
}

//  OpenInstancePorts. Guarded, the rules go in first and the group's
//  rules come back with them, so the diff finds nothing to add and only
//  the rare replaced CIDRs (78) cost a second call, a revoke: the new
//  rule is in before the old one goes, so the port is never closed in
//  between. Checked, it is read, authorize, revoke, as it always was.
static int
s_open_instance_ports(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res,
                      en_err_t *err)
{
    const En__OpenInstancePortsRequest *req = (const void *)req_;
    (void)res;
    fw_model_t m;
    char group[EN_FW_GROUP_MAX];
    en_ingress_rule_t *rules = NULL, *have = NULL;
    size_t n = req->n_rules, nhave = 0;
    if (s_model(call, &s_open_instance, &m, err) || fw_rules_from(req->rules, n, &rules, err))
        return -1;
    // want, adds and drops are shallow copies: rules and have own the strings
    en_ingress_rule_t *want = calloc(n + 1, sizeof *want), *adds = NULL, *drops = NULL;
    size_t nwant = 0, nadd = 0, ndrop = 0;
    for (size_t i = 0; i < n; i++)
        if (!s_superseded(rules, n, i))
            want[nwant++] = rules[i];
    bool member;
    int rc = -1;
    if (s_guarded(&m, req->instance_id, req->machine_id, want, nwant, NULL, 0, &member, &have,
                  &nhave, err))
        goto cleanup;
    if (member)
        en_fw_group_machine(m.uuid, req->machine_id, group);
    else if (s_instance_group(call, &s_open_instance, &m, req->instance_id, req->machine_id, group,
                              err) ||
             s_rules(&m, group, &have, &nhave, err))
        goto cleanup;
    adds = calloc(nwant + 1, sizeof *adds);
    drops = calloc(nhave + 1, sizeof *drops);
    s_diff(want, nwant, have, nhave, adds, &nadd, drops, &ndrop);
    en_tag_t tags[3];
    size_t nt = fw_group_tags(&m, NULL, req->machine_id, tags);
    if (fw_authorize(call, &m, group, tags, nt, adds, nadd, err) ||
        s_revoke(&m, group, drops, ndrop, err))
        goto cleanup;
    rc = 0;
cleanup:
    free(want);
    free(adds);
    free(drops);
    en_ingress_rules_free(&rules, n);
    en_ingress_rules_free(&have, nhave);
    return rc;
}

static int
s_close_instance_ports(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res,
                       en_err_t *err)
{
    const En__CloseInstancePortsRequest *req = (const void *)req_;
    (void)res;
    fw_model_t m;
    char group[EN_FW_GROUP_MAX];
    en_ingress_rule_t *rules = NULL;
    size_t n = req->n_rules;
    if (s_model(call, &s_close_instance, &m, err) || fw_rules_from(req->rules, n, &rules, err))
        return -1;
    bool member;
    int rc = s_guarded(&m, req->instance_id, req->machine_id, NULL, 0, rules, n, &member, NULL,
                       NULL, err);
    if (rc == 0 && !member &&
        (s_instance_group(call, &s_close_instance, &m, req->instance_id, req->machine_id, group,
                          err) ||
         s_revoke(&m, group, rules, n, err)))
        rc = -1;
    en_ingress_rules_free(&rules, n);
    return rc;
}

static int
s_instance_ports(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res_,
                 en_err_t *err)
{
    const En__InstancePortsRequest *req = (const void *)req_;
    En__InstancePortsResult *res = (void *)res_;
    fw_model_t m;
    char group[EN_FW_GROUP_MAX];
    en_ingress_rule_t *rules = NULL;
    size_t n = 0;
    bool member;
    if (s_model(call, &s_read_instance, &m, err) ||
        s_guarded(&m, req->instance_id, req->machine_id, NULL, 0, NULL, 0, &member, &rules, &n,
                  err))
        return -1;
    if (!member && (s_instance_group(call, &s_read_instance, &m, req->instance_id, req->machine_id,
                                     group, err) ||
                    s_rules(&m, group, &rules, &n, err)))
        return -1;
    s_result(call, rules, n, &res->rules, &res->n_rules);
    en_ingress_rules_free(&rules, n);
    return 0;
}

#define S_ROUTE(method, fn)                                                                        \
    {                                                                                              \
        &en__environ__descriptor, method, fn, 0                                                    \
    }

const en_route_t fw_port_routes[] = {
    S_ROUTE("OpenPorts", s_open_ports),
    S_ROUTE("ClosePorts", s_close_ports),
    S_ROUTE("Ports", s_ports),
    S_ROUTE("OpenInstancePorts", s_open_instance_ports),
    S_ROUTE("CloseInstancePorts", s_close_instance_ports),
    S_ROUTE("InstancePorts", s_instance_ports),
};
const size_t fw_port_route_count = sizeof fw_port_routes / sizeof fw_port_routes[0];
