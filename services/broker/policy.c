/*  policy.c — the constraints validator and PrecheckInstance (§1 I).

    The sim is an EC2-like cloud, so its validator is EC2's (statement 91):
    instance-type conflicts with mem, cores and cpu-power; tags and
    virt-type are unsupported (reported, never an error); the arch and
    instance-type vocabularies come from the region's catalogue. Precheck
    follows EC2 too (statements 89, 90): only `zone=<name>` placement,
    known zones, known instance types that support the asked arch.

    A driver may name its own policy (en_compute_policy_t): LXD's catalogue
    is synthesized from the host, so instance-type is unsupported and a
    precheck with one fails `LXD does not support instance types (got
    "<t>")`, and any placement is an unknown directive (statements 89, 90,
    93). */
#include <stdlib.h>
#include <string.h>

#include "broker.h"

//  EC2's policy, the sim's.
static const en_compute_policy_t s_ec2_policy = {
    .name = "sim",
    .unsupported = (const char *const[]){"tags", "virt-type", NULL},
    .instance_types = true,
    .zone_placement = true,
};

const en_compute_policy_t *
broker_policy(const broker_model_t *m)
{
    return m->ops->policy ? m->ops->policy : &s_ec2_policy;
}

static int
s_cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

en_cons_validator_t *
broker_validator(broker_model_t *m, en_err_t *err)
{
    const en_instance_type_t *types = NULL;
    size_t n = 0;
    if (m->ops->instance_types(m->conn, &types, &n, err))
        return NULL;
    en_cons_validator_t *v = en_cons_validator_new();
    if (!v) {
        en_err_set(err, EN_INTERNAL, "out of memory");
        return NULL;
    }
    const en_compute_policy_t *policy = broker_policy(m);
    const char *reds[] = {"instance-type"};
    const char *blues[] = {"mem", "cores", "cpu-power"};
    size_t n_unsupported = 0;
    while (policy->unsupported[n_unsupported])
        n_unsupported++;
    const char **arches = calloc(n ? n : 1, sizeof(char *));
    const char **names = calloc(n ? n : 1, sizeof(char *));
    size_t n_arches = 0;
    for (size_t i = 0; i < n; i++) {
        names[i] = types[i].name;
        for (size_t a = 0; a < types[i].arch_count; a++) {
            bool seen = false;
            for (size_t k = 0; k < n_arches && !seen; k++)
                seen = strcmp(arches[k], types[i].arches[a]) == 0;
            if (!seen && n_arches < n)
                arches[n_arches++] = types[i].arches[a];
        }
    }
    qsort(arches, n_arches, sizeof(char *), s_cmp_str);
    int rc = (policy->instance_types &&
              en_cons_validator_register_conflicts(v, reds, 1, blues, 3, err)) ||
             en_cons_validator_register_unsupported(v, (const char **)policy->unsupported,
                                                    n_unsupported, err) ||
             en_cons_validator_register_vocabulary(v, "arch", arches, n_arches, err) ||
             (policy->instance_types &&
              en_cons_validator_register_vocabulary(v, "instance-type", names, n, err));
    free(arches);
    free(names);
    if (rc)
        en_cons_validator_destroy(&v);
    return v;
}

//  The attribute names of a set, as arena strings.
static char **
s_names(en_arena_t *a, en_cons_attrs_t attrs, size_t *count)
{
    char **r = en_arena_array(a, EN_CONS_ATTR_COUNT, sizeof(char *));
    *count = 0;
    for (int i = 0; i < EN_CONS_ATTR_COUNT; i++)
        if (attrs & en_cons_bit((en_cons_attr_t)i))
            r[(*count)++] = en_arena_strdup(a, en_cons_attr_name((en_cons_attr_t)i));
    qsort(r, *count, sizeof(char *), s_cmp_str);
    return r;
}

//  The validator of the call's model.
static en_cons_validator_t *
s_call_validator(en_call_t *call, en_err_t *err)
{
    broker_model_t m;
    if (broker_model(call, &m, err))
        return NULL;
    return broker_validator(&m, err);
}

static int
s_constraints_validator(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res_,
                        en_err_t *err)
{
    (void)req_;
    En__ConstraintsValidatorResult *res = (En__ConstraintsValidatorResult *)res_;
    en_cons_validator_t *v = s_call_validator(call, err);
    if (!v)
        return -1;
    en_arena_t *a = call->arena;
    // vocabularies, sorted by attribute name
    const char *vocab_attrs[] = {"arch", "instance-type"};
    res->vocabularies = en_arena_array(a, 2, sizeof(En__ConstraintVocabulary *));
    for (size_t i = 0; i < 2; i++) {
        size_t n = 0;
        const char *const *vals =
            en_cons_validator_vocabulary(v, en_cons_attr_from_name(vocab_attrs[i]), &n);
        En__ConstraintVocabulary *cv = en_arena_alloc(a, sizeof *cv);
        en__constraint_vocabulary__init(cv);
        cv->attribute = (char *)vocab_attrs[i];
        cv->values = en_arena_array(a, n, sizeof(char *));
        for (size_t k = 0; k < n; k++)
            cv->values[cv->n_values++] = en_arena_strdup(a, vals[k]);
        res->vocabularies[res->n_vocabularies++] = cv;
    }
    En__ConstraintConflict *cc = en_arena_alloc(a, sizeof *cc);
    en__constraint_conflict__init(cc);
    cc->reds = s_names(a, en_cons_bit(EN_CONS_INSTANCE_TYPE), &cc->n_reds);
    cc->blues = s_names(a, en_cons_validator_conflicts(v, EN_CONS_INSTANCE_TYPE), &cc->n_blues);
    res->conflicts = en_arena_array(a, 1, sizeof(En__ConstraintConflict *));
    res->conflicts[res->n_conflicts++] = cc;
    res->unsupported = s_names(a, en_cons_validator_unsupported(v), &res->n_unsupported);
    en_cons_validator_destroy(&v);
    return 0;
}

static int
s_validate_constraints(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res_,
                       en_err_t *err)
{
    const En__ValidateConstraintsRequest *req = (const En__ValidateConstraintsRequest *)req_;
    En__ValidateConstraintsResult *res = (En__ValidateConstraintsResult *)res_;
    en_cons_validator_t *v = s_call_validator(call, err);
    if (!v)
        return -1;
    en_constraints_t cons;
    en_constraints_init(&cons);
    en_cons_attrs_t unsupported = 0;
    int rc = en_constraints_from_proto(req->constraints, &cons, err);
    if (rc == 0)
        rc = en_cons_validator_validate(v, &cons, &unsupported, err);
    if (rc == 0) {
        res->constraints = en_constraints_to_proto(call->arena, &cons);
        res->unsupported = s_names(call->arena, unsupported, &res->n_unsupported);
    }
    en_constraints_reset(&cons);
    en_cons_validator_destroy(&v);
    return rc;
}

static int
s_merge_constraints(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res_,
                    en_err_t *err)
{
    const En__MergeConstraintsRequest *req = (const En__MergeConstraintsRequest *)req_;
    En__MergeConstraintsResult *res = (En__MergeConstraintsResult *)res_;
    en_cons_validator_t *v = s_call_validator(call, err);
    if (!v)
        return -1;
    en_constraints_t fallback, cons, out;
    en_constraints_init(&fallback);
    en_constraints_init(&cons);
    en_constraints_init(&out);
    int rc = en_constraints_from_proto(req->cons_fallback, &fallback, err);
    if (rc == 0)
        rc = en_constraints_from_proto(req->cons, &cons, err);
    if (rc == 0)
        rc = en_cons_validator_merge(v, &fallback, &cons, &out, err);
    if (rc == 0)
        res->constraints = en_constraints_to_proto(call->arena, &out);
    en_constraints_reset(&fallback);
    en_constraints_reset(&cons);
    en_constraints_reset(&out);
    en_cons_validator_destroy(&v);
    return rc;
}

//  The spaces and zones constraints must be met by some available zone
//  (the placement's, when given): a machine that could never start is
//  refused before anything is made for it.
static int
s_precheck_network(en_call_t *call, broker_model_t *m, const En__Constraints *c,
                   const char *placement_zone, en_err_t *err)
{
    en_constraints_t cons;
    en_constraints_init(&cons);
    if (en_constraints_from_proto(c, &cons, err))
        return -1;
    int rc = 0;
    broker_netplan_t plan;
    bool zones = en_constraints_has(&cons, EN_CONS_ZONES);
    if (broker_netplan(call, m, &cons, NULL, &plan, err))
        rc = -1;
    else if (plan.active || zones) {
        en_zone_t *all = NULL;
        size_t n = 0;
        rc = broker_zones(m, call->arena, true, &all, &n, err);
        bool met = false, allowed = false;
        for (size_t i = 0; rc == 0 && i < n && !met; i++) {
            if (placement_zone ? strcmp(all[i].name, placement_zone) != 0 : !all[i].available)
                continue;
            if (!broker_zone_allowed(&cons, all[i].name))
                continue;
            allowed = true;
            const char *const *subnets;
            size_t ns;
            met = broker_netplan_zone(&plan, all[i].name, &subnets, &ns);
        }
        if (rc == 0 && !allowed) {
            if (placement_zone)
                en_err_set(err, EN_NOT_VALID,
                           "availability zone \"%s\" is not in the zones constraint",
                           placement_zone);
            else
                en_err_set(err, EN_NOT_VALID, "no available zone in the zones constraint");
            rc = -1;
        } else if (rc == 0 && !met)
            rc = broker_netplan_unmet(&plan, placement_zone, err);
    }
    en_constraints_reset(&cons);
    return rc;
}

static int
s_precheck_instance(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res_,
                    en_err_t *err)
{
    (void)res_;
    const En__PrecheckInstanceRequest *req = (const En__PrecheckInstanceRequest *)req_;
    broker_model_t m;
    if (broker_model(call, &m, err))
        return -1;
    const en_compute_policy_t *policy = broker_policy(&m);
    const char *p = req->placement ? req->placement : "";
    if (*p) {
        if (!policy->zone_placement || strncmp(p, "zone=", 5) != 0)
            return en_err_set(err, EN_NOT_VALID, "unknown placement directive: %s", p);
        en_zone_t *zones = NULL;
        size_t n = 0;
        if (m.ops->zones(m.conn, &zones, &n, err))
            return -1;
        bool known = false;
        for (size_t i = 0; i < n && !known; i++)
            known = strcmp(zones[i].name, p + 5) == 0;
        en_zones_free(&zones, n);
        // an unavailable zone passes here and fails StartInstance
        if (!known)
            return en_err_set(err, EN_NOT_VALID, "invalid availability zone \"%s\"", p + 5);
    }
    const En__Constraints *c = req->constraints;
    if (s_precheck_network(call, &m, c, *p ? p + 5 : NULL, err))
        return -1;
    if (c && c->_instance_type_case && !policy->instance_types)
        return en_err_set(err, EN_NOT_VALID, "%s does not support instance types (got \"%s\")",
                          policy->name, c->instance_type);
    if (c && c->_instance_type_case) {
        const en_instance_type_t *types = NULL;
        size_t n = 0;
        if (m.ops->instance_types(m.conn, &types, &n, err))
            return -1;
        const en_instance_type_t *t = NULL;
        for (size_t i = 0; i < n && !t; i++)
            if (strcmp(types[i].name, c->instance_type) == 0)
                t = &types[i];
        if (!t)
            return en_err_set(err, EN_NOT_VALID, "invalid %s instance type \"%s\" specified",
                              policy->name, c->instance_type);
        if (c->_arch_case) {
            bool ok = false;
            for (size_t a = 0; a < t->arch_count && !ok; a++)
                ok = strcmp(t->arches[a], c->arch) == 0;
            if (!ok)
                return en_err_set(err, EN_NOT_VALID,
                                  "invalid %s instance type \"%s\" and arch \"%s\" specified",
                                  policy->name, c->instance_type, c->arch);
        }
    }
    return 0;
}

#define S_ROUTE(method, fn)                                                                        \
    {                                                                                              \
        &en__environ__descriptor, method, fn, 0                                                    \
    }

const en_route_t broker_policy_routes[] = {
    S_ROUTE("ConstraintsValidator", s_constraints_validator),
    S_ROUTE("ValidateConstraints", s_validate_constraints),
    S_ROUTE("MergeConstraints", s_merge_constraints),
    S_ROUTE("PrecheckInstance", s_precheck_instance),
};
const size_t broker_policy_route_count =
    sizeof broker_policy_routes / sizeof broker_policy_routes[0];
