/*  spaces.c — where an instance's NICs go: the spaces and zones
    constraints, EndpointBindings and SubnetsToZones (§2.1, §5.4, §1 J
    statement 97).

    The plan says, for each zone of the region, the subnets the instance is
    created in (one NIC each, the first the primary), or that the zone
    cannot take it:
      - every positive space of the constraint, then every space an
        endpoint is bound to (by provider id), needs a NIC in one of its
        subnets in the zone: the first subnet by id, as the cloud lists
        them, so the choice is the same on every replica;
      - the first positive space's subnet comes from SubnetsToZones when
        the caller gave it (Juju's provisioner fills it for that space
        only, and EC2 reads only that space);
      - no NIC is in a negative space; with negative spaces alone the zone's
        largest subnet outside them is used (the cloud's default subnet is
        its largest);
      - a space both asked for and excluded is an error, as is an unknown
        positive space, binding or subnet: they could never be met.
    With none of these the plan is inactive and the cloud puts the
    instance in the zone's default subnet.

    Cost: one cloud API call (the spaces with their subnets), made only
    when the call has a network ask. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"

//  The prefix length of "a.b.c.d/n"; 33 when unknown (sorts last).
static int
s_prefix(const char *cidr)
{
    const char *slash = cidr ? strchr(cidr, '/') : NULL;
    if (!slash)
        return 33;
    int n = atoi(slash + 1);
    return n >= 0 && n <= 32 ? n : 33;
}

static bool
s_in_zone(const en_subnet_t *s, const char *zone)
{
    for (size_t i = 0; i < s->zone_count; i++)
        if (strcmp(s->zones[i], zone) == 0)
            return true;
    return false;
}

static bool
s_listed(const char *const *list, size_t n, const char *item)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], item) == 0)
            return true;
    return false;
}

//  SubnetsToZones allows subnet s in zone (an entry without zones allows
//  every zone of the subnet).
static bool
s_stz_allows(const En__StartInstanceParams *p, const en_subnet_t *s, const char *zone)
{
    for (size_t i = 0; i < p->n_subnets_to_zones; i++) {
        const En__StartInstanceParams__SubnetsToZonesEntry *e = p->subnets_to_zones[i];
        if (!e->key || strcmp(e->key, s->id) != 0)
            continue;
        if (!e->value || e->value->n_values == 0)
            return true;
        return s_listed((const char *const *)e->value->values, e->value->n_values, zone);
    }
    return false;
}

static const en_space_t *
s_space_by_name(const en_space_t *spaces, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(spaces[i].name, name) == 0)
            return &spaces[i];
    return NULL;
}

static const en_space_t *
s_space_by_id(const en_space_t *spaces, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(spaces[i].id, id) == 0)
            return &spaces[i];
    return NULL;
}

static bool
s_subnet_known(const en_space_t *spaces, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < spaces[i].subnet_count; k++)
            if (strcmp(spaces[i].subnets[k].id, id) == 0)
                return true;
    return false;
}

//  "[a b]" of names, as Go prints a slice.
static char *
s_names(en_arena_t *a, const char *const *names, size_t n)
{
    size_t len = 3;
    for (size_t i = 0; i < n; i++)
        len += strlen(names[i]) + 1;
    char *out = en_arena_alloc(a, len);
    char *w = out;
    *w++ = '[';
    for (size_t i = 0; i < n; i++)
        w += sprintf(w, "%s%s", i ? " " : "", names[i]);
    *w++ = ']';
    *w = '\0';
    return out;
}

//  The subnets of zone for the plan's spaces; false when the zone has none
//  for one of them.
static bool
s_plan_zone(en_arena_t *a, const En__StartInstanceParams *p, const en_space_t *const *pos,
            size_t npos, const en_space_t *spaces, size_t nspaces, const char *const *neg,
            size_t nneg, const char *zone, const char ***out, size_t *count)
{
    const char **chosen = en_arena_array(a, npos + 1, sizeof(char *));
    size_t n = 0;
    bool stz = p && p->n_subnets_to_zones > 0;
    for (size_t i = 0; i < npos; i++) {
        const en_subnet_t *pick = NULL;
        for (size_t k = 0; k < pos[i]->subnet_count && !pick; k++) {
            const en_subnet_t *s = &pos[i]->subnets[k];
            if (!s_in_zone(s, zone) || s_listed(chosen, n, s->id))
                continue;
            if (i == 0 && stz && !s_stz_allows(p, s, zone))
                continue;
            if (!pick || strcmp(s->id, pick->id) < 0)
                pick = s;
        }
        if (!pick)
            return false;
        chosen[n++] = en_arena_strdup(a, pick->id);
    }
    if (npos == 0) {
        // negative spaces or SubnetsToZones alone: the zone's largest
        // allowed subnet
        const en_subnet_t *pick = NULL;
        for (size_t i = 0; i < nspaces; i++) {
            if (s_listed(neg, nneg, spaces[i].name))
                continue;
            for (size_t k = 0; k < spaces[i].subnet_count; k++) {
                const en_subnet_t *s = &spaces[i].subnets[k];
                if (!s_in_zone(s, zone) || (stz && !s_stz_allows(p, s, zone)))
                    continue;
                int d = pick ? s_prefix(s->cidr) - s_prefix(pick->cidr) : -1;
                if (!pick || d < 0 || (d == 0 && strcmp(s->id, pick->id) < 0))
                    pick = s;
            }
        }
        if (!pick)
            return false;
        chosen[n++] = en_arena_strdup(a, pick->id);
    }
    *out = chosen;
    *count = n;
    return true;
}

int
broker_netplan(en_call_t *call, broker_model_t *m, const en_constraints_t *cons,
               const En__StartInstanceParams *p, broker_netplan_t *plan, en_err_t *err)
{
    en_arena_t *a = call->arena;
    memset(plan, 0, sizeof *plan);
    size_t ninc = en_constraints_spaces(cons, false, NULL, 0);
    size_t nneg = en_constraints_spaces(cons, true, NULL, 0);
    const char **inc = en_arena_array(a, ninc + 1, sizeof(char *));
    const char **neg = en_arena_array(a, nneg + 1, sizeof(char *));
    en_constraints_spaces(cons, false, inc, ninc);
    en_constraints_spaces(cons, true, neg, nneg);
    size_t nbind = p ? p->n_endpoint_bindings : 0;
    size_t nstz = p ? p->n_subnets_to_zones : 0;
    if (ninc == 0 && nneg == 0 && nbind == 0 && nstz == 0)
        return 0;
    plan->active = true;
    if (!m->net || !m->net->spaces || !m->net->spaces_list)
        return en_err_set(err, EN_NOT_SUPPORTED, "spaces not supported");

    en_space_t *spaces = NULL;
    size_t nspaces = 0;
    if (m->net->spaces_list(m->conn, &spaces, &nspaces, err))
        return -1;
    int rc = -1;
    // the positive spaces: the constraint's, then the bindings' (each once)
    const en_space_t **pos = en_arena_array(a, ninc + nbind + 1, sizeof(en_space_t *));
    size_t npos = 0;
    const char **pos_names = en_arena_array(a, ninc + nbind + 1, sizeof(char *));
    for (size_t i = 0; i < ninc; i++) {
        const en_space_t *s = s_space_by_name(spaces, nspaces, inc[i]);
        if (!s) {
            en_err_set(err, EN_NOT_VALID, "space \"%s\" not found", inc[i]);
            goto cleanup;
        }
        if (!s_listed(pos_names, npos, s->name)) {
            pos_names[npos] = en_arena_strdup(a, s->name);
            pos[npos++] = s;
        }
    }
    for (size_t i = 0; i < nbind; i++) {
        const En__StartInstanceParams__EndpointBindingsEntry *b = p->endpoint_bindings[i];
        const char *id = b->value ? b->value : "";
        if (!*id)
            continue; // bound to the default space: no NIC of its own
        const en_space_t *s = s_space_by_id(spaces, nspaces, id);
        if (!s) {
            en_err_set(err, EN_NOT_VALID, "endpoint \"%s\" is bound to unknown space \"%s\"",
                       b->key ? b->key : "", id);
            goto cleanup;
        }
        if (!s_listed(pos_names, npos, s->name)) {
            pos_names[npos] = en_arena_strdup(a, s->name);
            pos[npos++] = s;
        }
    }
    for (size_t i = 0; i < npos; i++)
        if (s_listed(neg, nneg, pos_names[i])) {
            en_err_set(err, EN_NOT_VALID, "space \"%s\" is both required and excluded",
                       pos_names[i]);
            goto cleanup;
        }
    for (size_t i = 0; i < nstz; i++) {
        const char *id = p->subnets_to_zones[i]->key ? p->subnets_to_zones[i]->key : "";
        if (!s_subnet_known(spaces, nspaces, id)) {
            en_err_set(err, EN_NOT_VALID, "subnet \"%s\" not found", id);
            goto cleanup;
        }
    }
    plan->spaces = s_names(a, pos_names, npos);
    plan->excluded = s_names(a, neg, nneg);

    en_zone_t *zones = NULL;
    size_t nz = 0;
    if (broker_zones(m, a, false, &zones, &nz, err))
        goto cleanup;
    plan->zones = en_arena_array(a, nz + 1, sizeof(char *));
    plan->subnets = en_arena_array(a, nz + 1, sizeof(char **));
    plan->subnet_counts = en_arena_array(a, nz + 1, sizeof(size_t));
    for (size_t z = 0; z < nz; z++) {
        const char **chosen = NULL;
        size_t n = 0;
        if (!s_plan_zone(a, p, pos, npos, spaces, nspaces, neg, nneg, zones[z].name, &chosen, &n))
            continue;
        plan->zones[plan->zone_count] = zones[z].name;
        plan->subnets[plan->zone_count] = chosen;
        plan->subnet_counts[plan->zone_count] = n;
        plan->zone_count++;
    }
    rc = 0;
cleanup:
    en_spaces_free(&spaces, nspaces);
    return rc;
}

bool
broker_netplan_zone(const broker_netplan_t *plan, const char *zone, const char *const **subnets,
                    size_t *count)
{
    *subnets = NULL;
    *count = 0;
    if (!plan->active)
        return true;
    for (size_t i = 0; i < plan->zone_count; i++)
        if (strcmp(plan->zones[i], zone) == 0) {
            *subnets = plan->subnets[i];
            *count = plan->subnet_counts[i];
            return true;
        }
    return false;
}

int
broker_netplan_unmet(const broker_netplan_t *plan, const char *zone, en_err_t *err)
{
    const char *what = strcmp(plan->spaces, "[]") != 0     ? "in each of spaces"
                       : strcmp(plan->excluded, "[]") != 0 ? "outside spaces"
                                                           : "among those asked for";
    const char *names = strcmp(plan->spaces, "[]") != 0     ? plan->spaces
                        : strcmp(plan->excluded, "[]") != 0 ? plan->excluded
                                                            : "";
    if (zone)
        en_err_set(err, EN_NOT_VALID, "availability zone \"%s\" has no subnet %s%s%s", zone, what,
                   *names ? " " : "", names);
    else
        en_err_set(err, EN_NOT_VALID, "no available zone has a subnet %s%s%s", what,
                   *names ? " " : "", names);
    err->retryable = false;
    return -1;
}

bool
broker_zone_allowed(const en_constraints_t *cons, const char *zone)
{
    if (!en_constraints_has(cons, EN_CONS_ZONES))
        return true;
    return s_listed((const char *const *)cons->zones.items, cons->zones.count, zone);
}
