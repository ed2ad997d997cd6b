/*  networking.c — the networking service's object, model resolution,
    conversions between the driver's structs (provider.h) and the wire's
    SubnetInfo, InterfaceInfo and Address, and the route table (the
    handlers live in query.c and containers.c). */
#include "networking.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

//  --------------------------------------------------------------------------
//  Models

int
nw_model(en_call_t *call, nw_model_t *model, en_err_t *err)
{
    // a provider without compute (lxd today) has no network either: its
    // model still answers the flags, with "no"
    if (en_modelsvc_resolve_any(call->state, call, &model->base, err))
        return -1;
    const en_provider_t *p = model->base.provider;
    model->ops = p && model->base.conn ? p->network : NULL;
    return 0;
}

//  --------------------------------------------------------------------------
//  Conversions

static char **
s_strings_to(en_arena_t *a, char *const *in, size_t n, size_t *n_out)
{
    char **out = en_arena_array(a, n ? n : 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        out[i] = en_arena_strdup(a, in[i] ? in[i] : "");
    *n_out = n;
    return out;
}

En__SubnetInfo *
nw_subnet_to(en_arena_t *a, const en_subnet_t *s)
{
    En__SubnetInfo *out = en_arena_alloc(a, sizeof *out);
    en__subnet_info__init(out);
    out->provider_id = en_arena_strdup(a, s->id ? s->id : "");
    out->cidr = en_arena_strdup(a, s->cidr ? s->cidr : "");
    out->vlan_tag = s->vlan_tag;
    out->availability_zones = s_strings_to(a, s->zones, s->zone_count, &out->n_availability_zones);
    out->space_provider_id = en_arena_strdup(a, s->space_id ? s->space_id : "");
    return out;
}

//  Juju's scope of an IP (network.NewAddress): private ranges are
//  local-cloud, loopback local-machine, link-local link-local, the rest
//  public.
static const char *
s_scope4(const unsigned char b[4])
{
    if (b[0] == 10 || (b[0] == 172 && (b[1] & 0xf0) == 16) || (b[0] == 192 && b[1] == 168))
        return "local-cloud";
    if (b[0] == 127)
        return "local-machine";
    if (b[0] == 169 && b[1] == 254)
        return "link-local";
    return "public";
}

static const char *
s_scope6(const unsigned char b[16])
{
    static const unsigned char loopback[16] = {[15] = 1};
    if (memcmp(b, loopback, 16) == 0)
        return "local-machine";
    if ((b[0] & 0xfe) == 0xfc)
        return "local-cloud";
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
        return "link-local";
    return "public";
}

En__Address *
nw_address_to(en_arena_t *a, const char *value)
{
    if (!value || !*value)
        return NULL;
    En__Address *out = en_arena_alloc(a, sizeof *out);
    en__address__init(out);
    out->value = en_arena_strdup(a, value);
    unsigned char b[16];
    if (inet_pton(AF_INET, value, b) == 1) {
        out->type = "ipv4";
        out->scope = (char *)s_scope4(b);
    } else if (inet_pton(AF_INET6, value, b) == 1) {
        out->type = "ipv6";
        out->scope = (char *)s_scope6(b);
    } else
        out->type = "hostname"; // scope unknown: ""
    return out;
}

#define S_STR(a, s) en_arena_strdup((a), (s) ? (s) : "")

En__InterfaceInfo *
nw_nic_to(en_arena_t *a, const en_nic_t *nic)
{
    En__InterfaceInfo *out = en_arena_alloc(a, sizeof *out);
    en__interface_info__init(out);
    out->device_index = nic->device_index;
    out->mac_address = S_STR(a, nic->mac);
    out->cidr = S_STR(a, nic->cidr);
    out->provider_id = S_STR(a, nic->provider_id);
    out->provider_subnet_id = S_STR(a, nic->subnet_id);
    out->provider_space_id = S_STR(a, nic->space_id);
    out->provider_vlan_id = S_STR(a, nic->vlan_id);
    out->provider_address_id = S_STR(a, nic->address_id);
    out->availability_zones =
        s_strings_to(a, nic->zones, nic->zone_count, &out->n_availability_zones);
    out->vlan_tag = nic->vlan_tag;
    out->interface_name = S_STR(a, nic->interface_name);
    out->parent_interface_name = S_STR(a, nic->parent_interface_name);
    out->interface_type = S_STR(a, nic->interface_type);
    out->disabled = nic->disabled;
    out->no_auto_start = nic->no_auto_start;
    out->config_type = S_STR(a, nic->config_type);
    out->address = nw_address_to(a, nic->address);
    out->dns_servers =
        en_arena_array(a, nic->dns_server_count ? nic->dns_server_count : 1, sizeof(void *));
    for (size_t i = 0; i < nic->dns_server_count; i++) {
        En__Address *d = nw_address_to(a, nic->dns_servers[i]);
        if (d)
            out->dns_servers[out->n_dns_servers++] = d;
    }
    out->dns_search_domains = s_strings_to(a, nic->dns_search_domains, nic->dns_search_domain_count,
                                           &out->n_dns_search_domains);
    out->mtu = nic->mtu;
    out->gateway_address = nw_address_to(a, nic->gateway);
    return out;
}

static char *
s_address_from(const En__Address *in)
{
    return in && in->value ? in->value : "";
}

void
nw_nic_from(en_arena_t *a, const En__InterfaceInfo *in, en_nic_t *out)
{
    memset(out, 0, sizeof *out);
    out->device_index = in->device_index;
    out->mac = in->mac_address;
    out->cidr = in->cidr;
    out->provider_id = in->provider_id;
    out->subnet_id = in->provider_subnet_id;
    out->space_id = in->provider_space_id;
    out->vlan_id = in->provider_vlan_id;
    out->address_id = in->provider_address_id;
    out->zones = in->availability_zones;
    out->zone_count = in->n_availability_zones;
    out->vlan_tag = in->vlan_tag;
    out->interface_name = in->interface_name;
    out->parent_interface_name = in->parent_interface_name;
    out->interface_type = in->interface_type;
    out->disabled = in->disabled;
    out->no_auto_start = in->no_auto_start;
    out->config_type = in->config_type;
    out->address = s_address_from(in->address);
    out->dns_servers = en_arena_array(a, in->n_dns_servers ? in->n_dns_servers : 1, sizeof(char *));
    for (size_t i = 0; i < in->n_dns_servers; i++)
        out->dns_servers[i] = s_address_from(in->dns_servers[i]);
    out->dns_server_count = in->n_dns_servers;
    out->dns_search_domains = in->dns_search_domains;
    out->dns_search_domain_count = in->n_dns_search_domains;
    out->mtu = in->mtu;
    out->gateway = s_address_from(in->gateway_address);
}

//  --------------------------------------------------------------------------
//  Container tags

//  A machine number at *p (0, or no leading zero), advancing p.
static bool
s_number(const char **p)
{
    const char *s = *p;
    if (*s == '0') {
        *p = s + 1;
        return true;
    }
    if (*s < '1' || *s > '9')
        return false;
    while (*s >= '0' && *s <= '9')
        s++;
    *p = s;
    return true;
}

bool
nw_container_tag(const char *tag)
{
    if (!tag || strncmp(tag, "machine-", 8) != 0)
        return false;
    const char *p = tag + 8;
    if (!s_number(&p))
        return false;
    size_t levels = 0;
    while (*p) {
        if (strncmp(p, "-lxd-", 5) != 0 && strncmp(p, "-kvm-", 5) != 0)
            return false;
        p += 5;
        if (!s_number(&p))
            return false;
        levels++;
    }
    return levels > 0;
}

//  --------------------------------------------------------------------------
//  Service

static void *
s_thread_init(void *service, en_err_t *err)
{
    networking_t *self = service;
    return en_modelsvc_new(self->base.home, self->base.gateways, "networking", err);
}

static void
s_thread_fini(void *service, void *state)
{
    (void)service;
    en_modelsvc_t *svc = state;
    en_modelsvc_destroy(&svc);
}

networking_t *
networking_new(const char *home, const char *gateways, en_err_t *err)
{
    networking_t *self = calloc(1, sizeof *self);
    const en_route_group_t groups[] = {
        {nw_query_routes, nw_query_route_count},
        {nw_container_routes, nw_container_route_count},
    };
    if (en_service_base_init(&self->base, "networking", home, gateways, groups,
                             sizeof groups / sizeof groups[0], self, s_thread_init, s_thread_fini,
                             err)) {
        free(self);
        return NULL;
    }
    return self;
}

void
networking_destroy(networking_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    networking_t *self = *self_p;
    en_service_base_fini(&self->base);
    free(self);
    *self_p = NULL;
}

const en_service_def_t *
networking_service(networking_t *self)
{
    return &self->base.def;
}
