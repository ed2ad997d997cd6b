/*  start.c — StartInstance, and ComputeLimits (the window in which the
    gateway fans StartInstances out to the broker).

    In order: the required parameters (statements 24, 26); the tags, user
    resource tags first and then the ownership tags, all written by the
    create call itself (27, 28); constraints, the model's merged with the
    machine's through the validator, plus the controller default (§3.4);
    the cheapest matching instance type with Juju's arch preference (§3.3,
    one image per catalogue arch); the zone order (placement, else the
    least-populated available zones first, §1 J); the security groups
    (the model's, and the machine's or the global one as firewall-mode
    says, §4.4; the gateway has the firewaller make them first); then
    create, which tags the instance and puts it in its groups at once.

    Idempotency: the name is deterministic (juju-<model uuid[0:6]>-<machine
    id>), so a resent call's create fails ALREADY_EXISTS; the live instance
    of that name is then adopted when its nonce is ours (waiting a little,
    as the first attempt's instance may still be invisible to listings),
    else the call fails ALREADY_EXISTS.

    Cost: one cloud API call, the create, on the happy path. Nothing is
    listed before creating (the name makes a duplicate impossible, see
    above); the catalogue is the connection's (read once), and the zones
    and the model's per-zone population come from the thread's caches
    (broker_zones, broker_population: short TTLs, the population updated
    here on each create, the zones dropped when a create finds a zone
    constrained). A distribution group is still described on every call:
    its members' zones are the whole point and a cache could not know them.

    An instance this call created is terminated if the call then fails
    (statement 31): today the only failure after creation is the call's
    deadline passing, when the caller has already been told TIMEOUT and a
    kept instance would be a leak nobody knows about. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "broker.h"
#include "broker.pb-c.h"
#include "bus/modelcache.h"
#include "common/clock.h"
#include "common/fwgroup.h"
#include "common/instancetype.h"
#include "common/log.h"

typedef struct {
    en_tag_t *items;
    size_t count;
    size_t cap;
} s_tags_t;

static int
s_tag_add(en_arena_t *a, s_tags_t *tags, const char *key, const char *value, bool user,
          en_err_t *err)
{
    if (user && strncmp(key, "juju-", 5) == 0)
        return en_err_set(err, EN_NOT_VALID, "tag \"%s\" uses reserved prefix \"juju-\"", key);
    for (size_t i = 0; i < tags->count; i++)
        if (strcmp(tags->items[i].key, key) == 0) {
            tags->items[i].value = en_arena_strdup(a, value);
            return 0;
        }
    if (tags->count == tags->cap) {
        size_t cap = tags->cap ? tags->cap * 2 : 16;
        en_tag_t *bigger = en_arena_array(a, cap, sizeof(en_tag_t));
        if (tags->count)
            memcpy(bigger, tags->items, tags->count * sizeof(en_tag_t));
        tags->items = bigger;
        tags->cap = cap;
    }
    tags->items[tags->count++] = (en_tag_t){en_arena_strdup(a, key), en_arena_strdup(a, value)};
    return 0;
}

//  Model config `resource-tags`: Juju accepts "k1=v1 k2=v2" or a map.
static int
s_config_tags(en_arena_t *a, json_t *cfg, s_tags_t *tags, en_err_t *err)
{
    json_t *rt = json_object_get(cfg, "resource-tags");
    if (json_is_object(rt)) {
        const char *k;
        json_t *v;
        json_object_foreach(rt, k, v)
        {
            if (s_tag_add(a, tags, k, json_is_string(v) ? json_string_value(v) : "", true, err))
                return -1;
        }
        return 0;
    }
    if (!json_is_string(rt))
        return 0;
    char *s = en_arena_strdup(a, json_string_value(rt)), *save = NULL;
    for (char *kv = strtok_r(s, " ", &save); kv; kv = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq)
            return en_err_set(err, EN_NOT_VALID, "expected \"key=value\", got %s", kv);
        *eq = '\0';
        if (s_tag_add(a, tags, kv, eq + 1, true, err))
            return -1;
    }
    return 0;
}

static int
s_tags_build(en_call_t *call, const broker_model_t *m, const En__StartInstanceParams *p,
             json_t *cfg, s_tags_t *tags, en_err_t *err)
{
    en_arena_t *a = call->arena;
    if (s_config_tags(a, cfg, tags, err))
        return -1;
    for (size_t i = 0; i < p->n_resource_tags; i++)
        if (s_tag_add(a, tags, p->resource_tags[i]->key, p->resource_tags[i]->value, true, err))
            return -1;
    s_tag_add(a, tags, "juju-model-uuid", m->uuid, false, err);
    s_tag_add(a, tags, "juju-controller-uuid", p->controller_uuid, false, err);
    if (p->is_controller)
        s_tag_add(a, tags, "juju-is-controller", "true", false, err);
    s_tag_add(a, tags, "juju-machine-id", p->machine_id ? p->machine_id : "", false, err);
    s_tag_add(a, tags, "juju-machine-nonce", p->machine_nonce, false, err);
    return 0;
}

//  The constraints to select with: model (config key `constraints`, until
//  Bootstrap stores them with the model) merged under the machine's.
static int
s_constraints(broker_model_t *m, const En__StartInstanceParams *p, json_t *cfg,
              en_constraints_t *out, en_err_t *err)
{
    en_cons_validator_t *v = broker_validator(m, err);
    if (!v)
        return -1;
    en_constraints_t model, machine;
    en_constraints_init(&model);
    en_constraints_init(&machine);
    int rc = 0;
    json_t *mc = json_object_get(cfg, "constraints");
    if (json_is_string(mc))
        rc = en_constraints_parse(&model, json_string_value(mc), err);
    if (rc == 0)
        rc = en_constraints_from_proto(p->constraints, &machine, err);
    if (rc == 0)
        rc = en_cons_validator_merge(v, &model, &machine, out, err);
    if (rc == 0 && p->is_controller)
        en_controller_default_constraints(out);
    en_constraints_reset(&model);
    en_constraints_reset(&machine);
    en_cons_validator_destroy(&v);
    return rc;
}

//  FindInstanceSpec over the catalogue. With the images the gateway's
//  imagemeta step found (StartInstanceParams.image_metadata: those of
//  this region, or naming none), the type and the image are chosen
//  together and no image means Juju's `no "jammy" images in sim-east with
//  arches [...]`; without, one image per catalogue arch, so the cheapest
//  type wins and Juju's arch preference (64-bit, then name) breaks ties
//  between arches.
static int
s_spec(broker_model_t *m, const en_constraints_t *cons, const En__StartInstanceParams *p,
       en_instance_spec_t *spec, en_image_t *images, size_t cap, en_err_t *err)
{
    const char *series = p->series;
    const en_instance_type_t *types = NULL;
    size_t n = 0;
    if (m->ops->instance_types(m->conn, &types, &n, err))
        return -1;
    size_t n_images = 0;
    const char *arches[16];
    if (p->n_image_metadata > 0) {
        for (size_t i = 0; i < p->n_image_metadata && n_images < cap; i++) {
            const En__ImageMetadata *md = p->image_metadata[i];
            if (!md || !md->id || !md->arch ||
                (md->region_name && *md->region_name && strcmp(md->region_name, m->region) != 0))
                continue;
            images[n_images++] = (en_image_t){
                .id = md->id, .arch = md->arch, .virt_type = md->virt_type};
        }
        size_t n_arches = 0;
        for (size_t i = 0; i < p->n_image_metadata && n_arches < 16; i++) {
            const char *a = p->image_metadata[i] ? p->image_metadata[i]->arch : NULL;
            bool seen = !a;
            for (size_t k = 0; k < n_arches && !seen; k++)
                seen = strcmp(arches[k], a) == 0;
            if (!seen)
                arches[n_arches++] = a;
        }
        en_instance_constraint_t ic = {
            .region = m->region,
            .series = series && *series ? series : "jammy",
            .arches = arches,
            .arch_count = n_arches,
            .cons = cons,
        };
        return en_find_instance_spec(images, n_images, &ic, types, n, spec, err);
    }
    for (size_t i = 0; i < n; i++)
        for (size_t a = 0; a < types[i].arch_count; a++) {
            bool seen = false;
            for (size_t k = 0; k < n_images && !seen; k++)
                seen = strcmp(images[k].arch, types[i].arches[a]) == 0;
            if (!seen && n_images < cap) {
                images[n_images] =
                    (en_image_t){.id = types[i].arches[a], .arch = types[i].arches[a]};
                arches[n_images] = types[i].arches[a];
                n_images++;
            }
        }
    en_instance_constraint_t ic = {
        .region = m->region,
        .series = series && *series ? series : "jammy",
        .arches = arches,
        .arch_count = n_images,
        .cons = cons,
    };
    return en_find_instance_spec(images, n_images, &ic, types, n, spec, err);
}

//  The security groups the instance is created in (§4.4): none in mode
//  none or on a cloud without a firewall, else the model's group and the
//  machine's own (instance mode) or the global one. The gateway had the
//  firewaller make them before this call.
static int
s_groups(const broker_model_t *m, json_t *cfg, const char *machine_id,
         char names[2][EN_FW_GROUP_MAX], const char *groups[2], size_t *count, en_err_t *err)
{
    *count = 0;
    if (!m->firewall)
        return 0;
    json_t *v = json_object_get(cfg, "firewall-mode");
    const char *text = json_is_string(v) ? json_string_value(v) : NULL;
    int mode = en_fw_mode_parse(text);
    if (mode < 0)
        return en_err_set(err, EN_NOT_VALID, "unknown firewall-mode \"%s\"", text);
    *count = en_fw_groups_for((en_fw_mode_t)mode, m->uuid, machine_id, names);
    for (size_t i = 0; i < *count; i++)
        groups[i] = names[i];
    return 0;
}

typedef struct {
    const char *name;
    size_t population;
} s_alloc_t;

static bool
s_zone_constrained(const en_err_t *err)
{
    // the sim's zone errors; EC2's capacity errors map to the same
    if (err->kind != EN_UNAVAILABLE)
        return false;
    return (strncmp(err->message, "zone \"", 6) == 0 &&
            strstr(err->message, "is unavailable") != NULL) ||
           strncmp(err->message, "insufficient free addresses in subnet", 37) == 0;
}

//  A placement into an unavailable zone: waiting does not help, so the
//  caller is told not to retry (a batch retries UNAVAILABLE items).
static int
s_zone_unavailable(en_err_t *err, const char *zone)
{
    en_err_set(err, EN_UNAVAILABLE, "availability zone \"%s\" is unavailable", zone);
    err->retryable = false;
    return -1;
}

static int
s_cmp_population(const void *a_, const void *b_)
{
    const s_alloc_t *a = a_, *b = b_;
    if (a->population != b->population)
        return a->population < b->population ? -1 : 1;
    return strcmp(a->name, b->name);
}

//  The placement's zone (`zone=<name>`), checked against the zones; a
//  cached answer that would refuse it is checked again with the cloud.
static int
s_placement_zone(en_call_t *call, broker_model_t *m, const char *placement,
                 const en_constraints_t *cons, const broker_netplan_t *plan, const char ***order,
                 size_t *count, en_err_t *err)
{
    if (strncmp(placement, "zone=", 5) != 0)
        return en_err_set(err, EN_NOT_VALID, "unknown placement directive: %s", placement);
    const char *z = placement + 5;
    const en_zone_t *found = NULL;
    for (int fresh = 0; fresh < 2 && !(found && found->available); fresh++) {
        en_zone_t *zones = NULL;
        size_t nz = 0;
        if (broker_zones(m, call->arena, fresh, &zones, &nz, err))
            return -1;
        found = NULL;
        for (size_t i = 0; i < nz && !found; i++)
            if (strcmp(zones[i].name, z) == 0)
                found = &zones[i];
    }
    if (!found)
        return en_err_set(err, EN_NOT_VALID, "invalid availability zone \"%s\"", z);
    if (!found->available)
        return s_zone_unavailable(err, z);
    if (!broker_zone_allowed(cons, z)) {
        en_err_set(err, EN_NOT_VALID, "availability zone \"%s\" is not in the zones constraint",
                   z);
        err->retryable = false;
        return -1;
    }
    const char *const *subnets;
    size_t ns;
    if (!broker_netplan_zone(plan, z, &subnets, &ns))
        return broker_netplan_unmet(plan, z, err);
    *order = en_arena_array(call->arena, 1, sizeof(char *));
    (*order)[0] = en_arena_strdup(call->arena, z);
    *count = 1;
    return 0;
}

//  The zones to try, in order (§1 J, statement 97): the placement's zone,
//  or the available zones sorted by how many of the group's (or, without
//  a group, the model's) live instances they hold, then by name. Zones
//  the zones constraint leaves out, or with no subnet for the network
//  plan, are skipped before they are tallied (97: "a zone with no subnet
//  matching the spaces constraint is skipped").
static int
s_zone_order(en_call_t *call, broker_model_t *m, const En__StartInstanceParams *p,
             const en_constraints_t *cons, const broker_netplan_t *plan, const char ***order,
             size_t *count, en_err_t *err, const char **reserved)
{
    const char *placement = p->placement ? p->placement : "";
    if (*placement)
        return s_placement_zone(call, m, placement, cons, plan, order, count, err);
    size_t available = 0, in_constraint = 0;
    en_zone_t *zones = NULL;
    size_t nz = 0;
    s_alloc_t *alloc = NULL;
    size_t na = 0;
    // a cached "nothing available" is checked again with the cloud
    for (int fresh = 0; fresh < 2 && na == 0; fresh++) {
        if (broker_zones(m, call->arena, fresh, &zones, &nz, err))
            return -1;
        alloc = en_arena_array(call->arena, nz + 1, sizeof(s_alloc_t));
        available = in_constraint = 0;
        for (size_t i = 0; i < nz; i++) {
            if (!zones[i].available) // only available zones are tallied
                continue;
            available++;
            if (!broker_zone_allowed(cons, zones[i].name))
                continue;
            in_constraint++;
            const char *const *subnets;
            size_t ns;
            if (broker_netplan_zone(plan, zones[i].name, &subnets, &ns))
                alloc[na++] = (s_alloc_t){zones[i].name, 0};
        }
    }
    if (available == 0)
        return en_err_set(err, EN_UNAVAILABLE, "failed to determine availability zones");
    if (in_constraint == 0) {
        en_err_set(err, EN_NOT_VALID, "no available zone in the zones constraint");
        err->retryable = false;
        return -1;
    }
    if (na == 0)
        return broker_netplan_unmet(plan, NULL, err);
    if (p->n_distribution_group) {
        en_instance_t *group = NULL;
        size_t ng = 0;
        if (broker_describe(m, (const char *const *)p->distribution_group, p->n_distribution_group,
                            false, &group, &ng, err))
            return -1;
        for (size_t i = 0; i < na; i++)
            for (size_t g = 0; g < ng; g++)
                if (group[g].live && group[g].zone && strcmp(group[g].zone, alloc[i].name) == 0)
                    alloc[i].population++;
        en_instances_free(&group, ng);
    } else {
        const char **names = en_arena_array(call->arena, na, sizeof(char *));
        size_t *counts = en_arena_array(call->arena, na, sizeof(size_t));
        for (size_t i = 0; i < na; i++)
            names[i] = alloc[i].name;
        if (broker_population(m, names, na, counts, reserved, err))
            return -1;
        for (size_t i = 0; i < na; i++)
            alloc[i].population = counts[i];
    }
    qsort(alloc, na, sizeof(s_alloc_t), s_cmp_population);
    *order = en_arena_array(call->arena, na, sizeof(char *));
    for (size_t i = 0; i < na; i++)
        (*order)[i] = alloc[i].name;
    *count = na;
    return 0;
}

//  A live instance of this model named `name`: 1 and *out filled when its
//  nonce is ours, 0 when there is none, -1 with ALREADY_EXISTS when it
//  belongs to another start of the same machine.
static int
s_existing(broker_model_t *m, const char *name, const char *machine_id, const char *nonce,
           en_instance_t *out, en_err_t *err)
{
    en_tag_t filters[] = {{"juju-model-uuid", m->uuid}, {"juju-machine-id", machine_id}};
    en_instance_t *found = NULL;
    size_t count = 0;
    if (m->ops->list(m->conn, filters, 2, &found, &count, err))
        return -1;
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        if (!found[i].live || strcmp(found[i].name, name) != 0)
            continue;
        if (broker_has_tag(&found[i], "juju-machine-nonce", nonce)) {
            *out = found[i];
            memset(&found[i], 0, sizeof found[i]);
            rc = 1;
        } else
            rc = en_err_set(err, EN_ALREADY_EXISTS, "instance \"%s\" already exists", name);
    }
    en_instances_free(&found, count);
    return rc;
}

//  The dying mark as the registry has it now (the model cache lags it).
static int
s_fresh_refuse_dying(en_call_t *call, const broker_model_t *m, en_err_t *err)
{
    broker_thread_t *t = call->state;
    int64_t left = call->deadline_ms ? call->deadline_ms - en_now_ms() : 5000;
    return en_model_fresh_refuse_dying(t->client, m->uuid, *m->name ? m->name : m->uuid,
                                       "cannot start instance",
                                       (int)(left > 5000 ? 5000 : left > 0 ? left : 1), err);
}

static int
s_start_instance(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res_,
                 en_err_t *err)
{
    const En__StartInstanceRequest *req = (const En__StartInstanceRequest *)req_;
    const En__StartInstanceParams *p = req->params;
    if (!p || !p->machine_nonce || !*p->machine_nonce)
        return en_err_set(err, EN_NOT_VALID, "cannot start instance: missing machine nonce");
    if (!p->controller_uuid || !*p->controller_uuid)
        return en_err_set(err, EN_NOT_VALID, "missing controller UUID");
    broker_model_t m;
    if (broker_model(call, &m, err))
        return -1;
    const char *name = *m.name ? m.name : m.uuid;
    //  the cache's view first; the registry's own after the create (one
    //  call: one before as well would only save the work in a rare race)
    if (en_model_refuse_dying(m.dying, name, "cannot start instance", err))
        return -1;
    En__StartInstanceResult *res = (En__StartInstanceResult *)res_;
    if (broker_start_instance(call, &m, p, res, err))
        return -1;
    if (s_fresh_refuse_dying(call, &m, err) == 0)
        return 0;
    //  Destroy began while this instance was made, after its listing maybe:
    //  the instance goes, and so do the model's resources it may have made
    //  again (a no-op while Destroy still has instances to remove)
    en_log(EN_LOG_INFO, call->request_id, "model %s is being destroyed: removing %s again",
           m.uuid, res->instance && res->instance->id ? res->instance->id : "");
    en_err_t ignored;
    const char *id = res->instance ? res->instance->id : NULL;
    if (id && *id)
        m.ops->terminate(m.conn, &id, 1, &ignored);
    en_tag_t filter = {"juju-model-uuid", m.uuid};
    if (m.ops->release_model)
        m.ops->release_model(m.conn, &filter, 1, &ignored);
    return -1;
}

int
broker_start_instance(en_call_t *call, broker_model_t *mp, const En__StartInstanceParams *p,
                      En__StartInstanceResult *res, en_err_t *err)
{
    if (!p || !p->machine_nonce || !*p->machine_nonce)
        return en_err_set(err, EN_NOT_VALID, "cannot start instance: missing machine nonce");
    if (!p->controller_uuid || !*p->controller_uuid)
        return en_err_set(err, EN_NOT_VALID, "missing controller UUID");
    broker_model_t m = *mp;
    const char *machine_id = p->machine_id && *p->machine_id ? p->machine_id : "0";
    json_t *cfg = json_loads(m.config_json, 0, NULL);
    s_tags_t tags = {0};
    en_constraints_t cons;
    en_constraints_init(&cons);
    en_instance_t inst = {0};
    // the zone this start is counted in until it knows where it landed, so
    // that concurrent starts spread instead of all taking the same zone
    // (set before any goto: cleanup reads it)
    const char *reserved = NULL;
    int rc = -1;
    if (s_tags_build(call, &m, p, cfg, &tags, err) || s_constraints(&m, p, cfg, &cons, err))
        goto cleanup;
    en_image_t images[64];
    en_instance_spec_t spec;
    if (s_spec(&m, &cons, p, &spec, images, 64, err))
        goto cleanup;
    if (p->n_image_metadata > 0)
        en_log(EN_LOG_INFO, call->request_id, "StartInstance: type %s, image %s (%s)",
               spec.itype.type->name, spec.image->id, spec.image->arch);
    char group_names[2][EN_FW_GROUP_MAX];
    const char *groups[2];
    size_t ngroups = 0;
    if (s_groups(&m, cfg, machine_id, group_names, groups, &ngroups, err))
        goto cleanup;
    // deterministic name: machine ids of containers contain '/'
    char *name = en_arena_printf(call->arena, "juju-%.6s-%s", m.uuid, machine_id);
    for (char *c = name; *c; c++)
        if (*c == '/')
            *c = '-';
    const char **zones = NULL;
    size_t nz = 0;
    broker_netplan_t plan;
    if (broker_netplan(call, &m, &cons, p, &plan, err) ||
        s_zone_order(call, &m, p, &cons, &plan, &zones, &nz, err, &reserved))
        goto cleanup;
    int cr = -1;
    bool refused = false; // the placement's zone turned out unavailable
    bool placed = p->placement && *p->placement;
    en_progress_t *progress = ((broker_thread_t *)call->state)->progress;
    const char **tried = en_arena_array(call->arena, nz + 1, sizeof(char *));
    size_t ntried = 0;
    for (int round = 0; round < 2; round++) {
        if (round == 1) {
            // every zone the cached list offered was refused as
            // unavailable: ask the cloud once which zones are left
            if (cr == 0 || placed || !s_zone_constrained(err) ||
                !strstr(err->message, "is unavailable"))
                break;
            if (reserved)
                broker_population_move(&m, reserved, NULL);
            reserved = NULL;
            if (s_zone_order(call, &m, p, &cons, &plan, &zones, &nz, err, &reserved))
                goto cleanup;
            const char **more = en_arena_array(call->arena, ntried + nz + 1, sizeof(char *));
            memcpy(more, tried, ntried * sizeof(char *));
            tried = more;
        }
        for (size_t i = 0; i < nz && !refused; i++) {
            bool seen = false;
            for (size_t t = 0; t < ntried && !seen; t++)
                seen = strcmp(tried[t], zones[i]) == 0;
            if (seen)
                continue;
            tried[ntried++] = zones[i];
            // the StatusCallback of Juju's StartInstanceParams
            en_progress_send(progress, call->request_id, "allocating",
                             "Starting instance of type %s in zone %s", spec.itype.type->name,
                             zones[i]);
            const char *const *subnets;
            size_t nsubnets;
            broker_netplan_zone(&plan, zones[i], &subnets, &nsubnets);
            en_create_args_t args = {
                .name = name,
                .zone = zones[i],
                .type = spec.itype.type->name,
                // without ImageMetadata the "images" are the catalogue's arches
                .image = p->n_image_metadata > 0 ? spec.image->id : NULL,
                .cons = &cons,
                .tags = tags.items,
                .tag_count = tags.count,
                .groups = groups,
                .group_count = ngroups,
                .subnets = subnets,
                .subnet_count = nsubnets,
            };
            cr = m.ops->create(m.conn, &args, &inst, err);
            if (cr == 0 || !s_zone_constrained(err))
                break;
            // the cached zones said otherwise: ask the cloud next time
            broker_zones_forget(&m);
            if (placed) {
                refused = s_zone_unavailable(err, zones[i]) != 0;
                continue;
            }
            en_log(EN_LOG_INFO, call->request_id, "StartInstance: %s; trying the next zone",
                   err->message);
        }
    }
    bool created = cr == 0;
    if (!created && err->kind == EN_ALREADY_EXISTS) {
        // a resend, or our earlier attempt's instance not yet listed
        en_err_t first = *err;
        int found = 0;
        for (size_t attempt = 0; found == 0; attempt++) {
            found = s_existing(&m, name, machine_id, p->machine_nonce, &inst, err);
            if (found == 0 && !broker_retry_wait(attempt)) {
                *err = first;
                found = -1;
            }
        }
        if (found < 0)
            goto cleanup;
    } else if (!created) {
        if (!s_zone_constrained(err) && !refused)
            en_err_annotate(err, "cannot run instances");
        goto cleanup;
    }
    if (created && call->deadline_ms && en_now_ms() > call->deadline_ms) {
        // the caller has been told TIMEOUT: keeping it would leak it
        const char *id = inst.id;
        en_err_t ignored;
        if (m.ops->terminate(m.conn, &id, 1, &ignored))
            en_log(EN_LOG_WARN, call->request_id, "cannot remove instance %s: %s", id,
                   ignored.message);
        en_err_set(err, EN_TIMEOUT, "cannot start instance: deadline passed");
        goto cleanup;
    }
    if (created) {
        broker_population_move(&m, reserved, inst.zone);
        reserved = NULL;
    }
    en_progress_send(progress, call->request_id, inst.status ? inst.status : "",
                     "Instance %s %s in zone %s", inst.id, created ? "started" : "adopted",
                     inst.zone ? inst.zone : "");
    res->instance = broker_instance_to(call->arena, &inst);
    res->hardware = broker_hardware_to(call->arena, &inst);
    rc = 0;
cleanup:
    if (reserved)
        broker_population_move(&m, reserved, NULL); // nothing of ours landed
    en_instance_clear(&inst);
    en_constraints_reset(&cons);
    json_decref(cfg);
    return rc;
}

//  ComputeLimits (broker.proto): how many calls the gateway keeps in flight
//  when it fans a batch out to the broker. No cloud API call.
static int
s_compute_limits(en_call_t *call, const ProtobufCMessage *req, ProtobufCMessage *res_,
                 en_err_t *err)
{
    (void)req;
    En__ComputeLimitsResult *res = (En__ComputeLimitsResult *)res_;
    broker_model_t m;
    if (broker_model(call, &m, err))
        return -1;
    int limit = 0;
    if (m.ops->concurrency && m.ops->concurrency(m.conn, &limit, err))
        return -1;
    res->concurrency = limit > 0 ? (uint32_t)limit : 0;
    return 0;
}

#define S_ROUTE(method, fn)                                                                        \
    {                                                                                              \
        &en__environ__descriptor, method, fn, 0                                                    \
    }

const en_route_t broker_start_routes[] = {
    S_ROUTE("StartInstance", s_start_instance),
    {&en__broker__descriptor, "ComputeLimits", s_compute_limits, 0},
};
const size_t broker_start_route_count = sizeof broker_start_routes / sizeof broker_start_routes[0];
