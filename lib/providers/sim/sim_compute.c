/*  sim_compute.c — the sim provider's compute, firewall and network
    drivers (en_compute_ops_t, en_firewall_ops_t, en_network_ops_t: one
    connection serves all three).

    A connection is a sim cloud handle plus the spec's region. The cloud's
    database is the spec's endpoint when set, else
    $ENVIRONS_HOME/sim/<cloud-name>.db, so every service process that
    opens a model of one sim cloud sees the same instances. Opening never
    makes an API call (the handle is the operator's console until a call is
    made); the catalogue is read once per connection and kept, because a
    cloud's instance types do not change under a running service. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/paths.h"
#include "providers/provider.h"
#include "providers/sim/sim_cloud.h"
#include "providers/sim/sim_private.h"

struct en_compute {
    en_sim_cloud_t *cloud;
    char *region;
    en_sim_instance_type_t *rows; // the catalogue as the cloud gave it
    en_instance_type_t *types;    // the same, borrowing rows' strings
    const char **arches;          // one per type: types[i].arches = &arches[i]
    size_t type_count;
};

int
sim_spec_db_path(const en_cloud_spec_t *spec, const char *home, char *path, size_t size,
                 en_err_t *err)
{
    char dir[4200], home_buf[4096];
    if (spec->endpoint && *spec->endpoint) {
        if ((size_t)snprintf(path, size, "%s", spec->endpoint) >= size)
            return en_err_set(err, EN_NOT_VALID, "sim database path too long");
        return 0;
    }
    if ((!home || !*home) && en_home(home_buf, sizeof home_buf) == 0)
        home = home_buf;
    if (!home || !*home)
        return en_err_set(err, EN_NOT_VALID, "no state directory for the sim cloud");
    if (strlen(home) >= sizeof home_buf)
        return en_err_set(err, EN_NOT_VALID, "state directory path too long");
    snprintf(dir, sizeof dir, "%.4096s/sim", home);
    if (en_mkdirs(dir, 0700) != 0)
        return en_err_set(err, EN_INTERNAL, "cannot create %s", dir);
    if ((size_t)snprintf(path, size, "%s/%.3000s.db", dir, spec->name ? spec->name : "sim") >=
        size)
        return en_err_set(err, EN_NOT_VALID, "sim database path too long");
    return 0;
}

static en_compute_t *
s_open(const en_cloud_spec_t *spec, const char *home, en_err_t *err)
{
    char path[8192];
    if (sim_spec_db_path(spec, home, path, sizeof path, err))
        return NULL;
    en_sim_cloud_t *cloud = en_sim_cloud_open(path, err);
    if (!cloud)
        return NULL;
    en_compute_t *self = calloc(1, sizeof *self);
    if (!self) {
        en_sim_cloud_close(&cloud);
        en_err_set(err, EN_INTERNAL, "out of memory");
        return NULL;
    }
    self->cloud = cloud;
    self->region = strdup(spec->region ? spec->region : "");
    return self;
}

static void
s_close(en_compute_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    en_compute_t *self = *self_p;
    en_sim_cloud_close(&self->cloud);
    free(self->region);
    free(self->rows);
    free(self->types);
    free(self->arches);
    free(self);
    *self_p = NULL;
}

static int
s_zones(en_compute_t *self, en_zone_t **zones, size_t *count, en_err_t *err)
{
    en_sim_zone_t *rows = NULL;
    size_t n = 0;
    if (en_sim_cloud_zones(self->cloud, self->region, &rows, &n, err))
        return -1;
    *zones = calloc(n ? n : 1, sizeof(en_zone_t));
    for (size_t i = 0; i < n; i++) {
        (*zones)[i].name = strdup(rows[i].name);
        (*zones)[i].available = rows[i].available;
    }
    *count = n;
    free(rows);
    return 0;
}

static int
s_instance_types(en_compute_t *self, const en_instance_type_t **types, size_t *count, en_err_t *err)
{
    if (!self->types) {
        size_t n = 0;
        if (en_sim_cloud_instance_types(self->cloud, self->region, &self->rows, &n, err))
            return -1;
        self->types = calloc(n ? n : 1, sizeof(en_instance_type_t));
        self->arches = calloc(n ? n : 1, sizeof(char *));
        for (size_t i = 0; i < n; i++) {
            en_sim_instance_type_t *r = &self->rows[i];
            self->arches[i] = r->arch;
            self->types[i] = (en_instance_type_t){
                .id = r->name,
                .name = r->name,
                .arches = &self->arches[i],
                .arch_count = 1,
                .cpu_cores = r->cores,
                .mem = r->mem_mib,
                .root_disk = r->root_disk_mib,
                .cost = r->cost,
                .has_cpu_power = r->cpu_power > 0,
                .cpu_power = r->cpu_power,
                .virt_type = r->virt_type[0] ? r->virt_type : NULL,
                .deprecated = r->deprecated,
            };
        }
        self->type_count = n;
    }
    *types = self->types;
    *count = self->type_count;
    return 0;
}

//  The sim's states as Juju instance statuses (EC2's mapping): pending is
//  allocating, running is running, anything else has no status; the
//  message is always the raw state.
static void
s_convert(en_instance_t *dst, const en_sim_instance_t *src)
{
    memset(dst, 0, sizeof *dst);
    dst->id = strdup(src->id);
    dst->name = strdup(src->name ? src->name : "");
    dst->status = strdup(src->state == EN_SIM_PENDING   ? "allocating"
                         : src->state == EN_SIM_RUNNING ? "running"
                                                        : "");
    dst->status_message = strdup(en_sim_state_name(src->state));
    dst->live = src->state == EN_SIM_PENDING || src->state == EN_SIM_RUNNING;
    dst->addresses = calloc(src->address_count ? src->address_count : 1, sizeof(char *));
    for (size_t i = 0; i < src->address_count; i++)
        dst->addresses[i] = strdup(src->addresses[i]);
    dst->address_count = src->address_count;
    dst->arch = strdup(src->arch ? src->arch : "");
    dst->mem = src->mem_mib;
    dst->root_disk = src->root_disk_mib;
    dst->cpu_cores = src->cores;
    dst->cpu_power = src->cpu_power;
    dst->zone = strdup(src->zone ? src->zone : "");
    dst->instance_type = strdup(src->instance_type ? src->instance_type : "");
    for (size_t i = 0; i < src->tag_count; i++)
        en_kvlist_set(&dst->tags, src->tags[i].key, src->tags[i].value, EN_YAML_STR);
}

static int
s_convert_all(en_sim_instance_t *rows, size_t n, en_instance_t **out, size_t *count)
{
    *out = calloc(n ? n : 1, sizeof(en_instance_t));
    for (size_t i = 0; i < n; i++) {
        s_convert(&(*out)[i], &rows[i]);
        en_sim_instance_clear(&rows[i]); // its memory serves the next conversion
    }
    *count = n;
    en_sim_instances_free(&rows, n);
    return 0;
}

//  en_tag_t and en_sim_tag_t have the same shape; keep them apart anyway
//  so the driver table does not depend on the sim's header.
static en_sim_tag_t *
s_tags(const en_tag_t *tags, size_t n)
{
    en_sim_tag_t *t = calloc(n ? n : 1, sizeof *t);
    for (size_t i = 0; i < n; i++)
        t[i] = (en_sim_tag_t){tags[i].key, tags[i].value};
    return t;
}

static int
s_create(en_compute_t *self, const en_create_args_t *a, en_instance_t *out, en_err_t *err)
{
    en_sim_tag_t *t = s_tags(a->tags, a->tag_count);
    en_sim_instance_t inst = {0};
    int rc = en_sim_cloud_create_placed(self->cloud, self->region, a->zone, a->type, a->name, t,
                                        a->tag_count, a->groups, a->group_count, a->subnets,
                                        a->subnet_count, &inst, err);
    free(t);
    if (rc == 0) {
        s_convert(out, &inst);
        en_sim_instance_clear(&inst);
    }
    return rc;
}

static int
s_describe(en_compute_t *self, const char *const *ids, size_t id_count, en_instance_t **out,
           size_t *count, en_err_t *err)
{
    en_sim_instance_t *rows = NULL;
    size_t n = 0;
    if (en_sim_cloud_describe(self->cloud, self->region, ids, id_count, &rows, &n, err))
        return -1;
    return s_convert_all(rows, n, out, count);
}

static int
s_list(en_compute_t *self, const en_tag_t *filters, size_t filter_count, en_instance_t **out,
       size_t *count, en_err_t *err)
{
    en_sim_tag_t *f = s_tags(filters, filter_count);
    en_sim_instance_t *rows = NULL;
    size_t n = 0;
    int rc = en_sim_cloud_list(self->cloud, self->region, f, filter_count, false, &rows, &n, err);
    free(f);
    if (rc)
        return -1;
    return s_convert_all(rows, n, out, count);
}

static int
s_terminate(en_compute_t *self, const char *const *ids, size_t id_count, en_err_t *err)
{
    return en_sim_cloud_terminate(self->cloud, self->region, ids, id_count, err);
}

static int
s_set_tags(en_compute_t *self, const char *id, const en_tag_t *tags, size_t tag_count,
           en_err_t *err)
{
    en_sim_tag_t *t = s_tags(tags, tag_count);
    int rc = en_sim_cloud_set_tags(self->cloud, self->region, id, t, tag_count, err);
    free(t);
    return rc;
}

//  The cloud's max_concurrent knob, read on the operator's console: the
//  sim's request limit is its configuration, not something a call finds out.
static int
s_concurrency(en_compute_t *self, int *limit, en_err_t *err)
{
    char *v = en_sim_cloud_knob_get(self->cloud, "max_concurrent", err);
    if (!v)
        return -1;
    long n = strtol(v, NULL, 10);
    free(v);
    *limit = n > 0 && n < 1000000 ? (int)n : 0;
    return 0;
}

const en_compute_ops_t en_sim_compute = {
    .open = s_open,
    .close = s_close,
    .zones = s_zones,
    .instance_types = s_instance_types,
    .create = s_create,
    .describe = s_describe,
    .list = s_list,
    .terminate = s_terminate,
    .set_tags = s_set_tags,
    .concurrency = s_concurrency,
};

//  --- firewall: the cloud's security groups, in the connection's region ---

static int
s_ensure_group(en_compute_t *self, const char *name, const en_tag_t *tags, size_t tag_count,
               en_err_t *err)
{
    en_sim_tag_t *t = s_tags(tags, tag_count);
    int rc = en_sim_cloud_ensure_group(self->cloud, self->region, name, t, tag_count, err);
    free(t);
    return rc;
}

static int
s_delete_group(en_compute_t *self, const char *name, en_err_t *err)
{
    return en_sim_cloud_delete_group(self->cloud, self->region, name, err);
}

static int
s_list_groups(en_compute_t *self, const en_tag_t *filters, size_t filter_count, char ***names,
              size_t *count, en_err_t *err)
{
    en_sim_tag_t *f = s_tags(filters, filter_count);
    int rc =
        en_sim_cloud_list_groups(self->cloud, self->region, f, filter_count, names, count, err);
    free(f);
    return rc;
}

static int
s_authorize(en_compute_t *self, const char *group, const en_ingress_rule_t *rules, size_t n,
            en_err_t *err)
{
    return en_sim_cloud_authorize(self->cloud, self->region, group, rules, n, err);
}

static int
s_revoke(en_compute_t *self, const char *group, const en_ingress_rule_t *rules, size_t n,
         en_err_t *err)
{
    return en_sim_cloud_revoke(self->cloud, self->region, group, rules, n, err);
}

static int
s_rules(en_compute_t *self, const char *group, en_ingress_rule_t **rules, size_t *n,
        en_err_t *err)
{
    return en_sim_cloud_rules(self->cloud, self->region, group, rules, n, err);
}

static int
s_instance_rules(en_compute_t *self, const en_fw_instance_op_t *op, bool *member,
                 en_ingress_rule_t **rules, size_t *n, en_err_t *err)
{
    en_sim_tag_t *t = s_tags(op->tags, op->tag_count);
    en_sim_instance_rules_t sim_op = {
        .group = op->group,
        .instance_id = op->instance_id,
        .tags = t,
        .tag_count = op->tag_count,
        .authorize = op->authorize,
        .authorize_count = op->authorize_count,
        .revoke = op->revoke,
        .revoke_count = op->revoke_count,
    };
    int rc = en_sim_cloud_instance_rules(self->cloud, self->region, &sim_op, member, rules, n, err);
    free(t);
    return rc;
}

const en_firewall_ops_t en_sim_firewall = {
    .ensure_group = s_ensure_group,
    .delete_group = s_delete_group,
    .list_groups = s_list_groups,
    .authorize = s_authorize,
    .revoke = s_revoke,
    .rules = s_rules,
    .instance_rules = s_instance_rules,
};

//  --- network: the cloud's spaces, subnets and NICs, in the connection's
//  region. Sim rows are flat; the driver's structs own every string, none
//  NULL. ---

static char **
s_strv1(const char *value, size_t *count)
{
    char **v = calloc(1, sizeof *v);
    v[0] = strdup(value);
    *count = 1;
    return v;
}

static void
s_subnet_convert(en_subnet_t *dst, const en_sim_subnet_t *src)
{
    *dst = (en_subnet_t){
        .id = strdup(src->id),
        .cidr = strdup(src->cidr),
        .vlan_tag = src->vlan_tag,
        .space_id = strdup(src->space_id),
    };
    dst->zones = s_strv1(src->zone, &dst->zone_count);
}

static en_subnet_t *
s_subnets_convert(const en_sim_subnet_t *rows, size_t n)
{
    en_subnet_t *out = calloc(n ? n : 1, sizeof *out);
    for (size_t i = 0; i < n; i++)
        s_subnet_convert(&out[i], &rows[i]);
    return out;
}

static int
s_net_subnets(en_compute_t *self, const char *instance_id, en_subnet_t **out, size_t *count,
              en_err_t *err)
{
    en_sim_subnet_t *rows;
    size_t n;
    if (en_sim_cloud_subnets(self->cloud, self->region,
                             instance_id && *instance_id ? instance_id : NULL, &rows, &n, err))
        return -1;
    *out = s_subnets_convert(rows, n);
    *count = n;
    free(rows);
    return 0;
}

static int
s_net_spaces(en_compute_t *self, en_space_t **out, size_t *count, en_err_t *err)
{
    en_sim_space_t *rows;
    size_t n;
    if (en_sim_cloud_spaces(self->cloud, self->region, &rows, &n, err))
        return -1;
    *out = calloc(n ? n : 1, sizeof **out);
    for (size_t i = 0; i < n; i++) {
        (*out)[i].id = strdup(rows[i].id);
        (*out)[i].name = strdup(rows[i].name);
        (*out)[i].subnets = s_subnets_convert(rows[i].subnets, rows[i].subnet_count);
        (*out)[i].subnet_count = rows[i].subnet_count;
    }
    *count = n;
    en_sim_spaces_free(&rows, n);
    return 0;
}

static void
s_nic_convert(en_nic_t *dst, const en_sim_nic_t *src)
{
    const en_sim_subnet_t *sub = &src->subnet;
    char vlan_id[32] = "";
    if (sub->vlan_tag)
        snprintf(vlan_id, sizeof vlan_id, "vlan-%d", sub->vlan_tag);
    *dst = (en_nic_t){
        .device_index = src->device_index,
        .mac = strdup(src->mac),
        .cidr = strdup(sub->cidr),
        .provider_id = strdup(src->id),
        .subnet_id = strdup(sub->id),
        .space_id = strdup(sub->space_id),
        .vlan_id = strdup(vlan_id),
        .address_id = strdup(""),
        .vlan_tag = sub->vlan_tag,
        .interface_name = strdup(src->interface_name),
        .parent_interface_name = strdup(src->parent_interface_name),
        .interface_type = strdup(src->interface_type),
        .disabled = src->disabled,
        .no_auto_start = src->no_auto_start,
        .config_type = strdup(src->config_type),
        .address = strdup(src->address),
        .mtu = src->mtu,
        .gateway = strdup(sub->gateway),
    };
    dst->zones = s_strv1(sub->zone, &dst->zone_count);
    dst->dns_servers = s_strv1(sub->dns, &dst->dns_server_count);
    dst->dns_search_domains = s_strv1(sub->dns_search_domain, &dst->dns_search_domain_count);
}

static en_nic_t *
s_nics_convert(en_sim_nic_t *rows, size_t n)
{
    en_nic_t *out = calloc(n ? n : 1, sizeof *out);
    for (size_t i = 0; i < n; i++)
        s_nic_convert(&out[i], &rows[i]);
    free(rows);
    return out;
}

static int
s_net_interfaces(en_compute_t *self, const char *instance_id, en_nic_t **out, size_t *count,
                 en_err_t *err)
{
    en_sim_nic_t *rows;
    if (en_sim_cloud_interfaces(self->cloud, self->region, instance_id, &rows, count, err))
        return -1;
    *out = s_nics_convert(rows, *count);
    return 0;
}

static int
s_net_allocate_container(en_compute_t *self, const char *host_id, const char *container_tag,
                         const en_nic_t *prepared, size_t prepared_count, en_nic_t **out,
                         size_t *count, en_err_t *err)
{
    en_sim_prepared_nic_t *p = calloc(prepared_count ? prepared_count : 1, sizeof *p);
    for (size_t i = 0; i < prepared_count; i++)
        p[i] = (en_sim_prepared_nic_t){
            .interface_name = prepared[i].interface_name,
            .mac = prepared[i].mac,
            .subnet_id = prepared[i].subnet_id,
            .cidr = prepared[i].cidr,
            .parent_interface_name = prepared[i].parent_interface_name,
            .mtu = prepared[i].mtu > 0 ? prepared[i].mtu : 0,
            .disabled = prepared[i].disabled,
            .no_auto_start = prepared[i].no_auto_start,
        };
    en_sim_nic_t *rows;
    int rc = en_sim_cloud_allocate_container_addresses(self->cloud, self->region, host_id,
                                                       container_tag, prepared ? p : NULL,
                                                       prepared_count, &rows, count, err);
    free(p);
    if (rc == 0)
        *out = s_nics_convert(rows, *count);
    return rc;
}

static int
s_net_release_container(en_compute_t *self, const en_nic_ref_t *refs, size_t n, en_err_t *err)
{
    en_sim_nic_ref_t *r = calloc(n ? n : 1, sizeof *r);
    for (size_t i = 0; i < n; i++)
        r[i] = (en_sim_nic_ref_t){refs[i].provider_id, refs[i].mac};
    int rc = en_sim_cloud_release_container_addresses(self->cloud, self->region, refs ? r : NULL, n,
                                                      err);
    free(r);
    return rc;
}

const en_network_ops_t en_sim_network = {
    .spaces = true,
    .space_discovery = true,
    .container_addresses = true,
    .subnets = s_net_subnets,
    .spaces_list = s_net_spaces,
    .interfaces = s_net_interfaces,
    .allocate_container = s_net_allocate_container,
    .release_container = s_net_release_container,
};
