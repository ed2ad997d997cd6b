/*  query.c — what the cloud's network is: SupportsNetworking,
    SupportsSpaces, SupportsSpaceDiscovery, SupportsContainerAddresses,
    Subnets, NetworkInterfaces and Spaces (statements 79-84, 86 of
    docs/juju-environs.md).

    The flags never fail for a provider without networking: they answer
    false (SupportsNetworking, SupportsSpaceDiscovery) or Juju's
    NOT_SUPPORTED (SupportsSpaces, SupportsContainerAddresses), so that a
    caller can tell "no" from "the cloud failed". Where Juju's providers
    disagree this follows EC2's stricter choice: unknown subnet ids fail
    the call, naming them (82), and an instance without NICs is an error
    (83). Space names are Juju names (ConvertSpaceName, §5.1), in the
    provider's order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/spacename.h"
#include "networking.h"

#define S_SPACES_NOT_SUPPORTED "spaces not supported"
#define S_CONTAINERS_NOT_SUPPORTED "container address allocation not supported"

static int
s_supports_networking(en_call_t *call, const ProtobufCMessage *req, ProtobufCMessage *res_,
                      en_err_t *err)
{
    (void)req;
    En__SupportsNetworkingResult *res = (void *)res_;
    nw_model_t m;
    if (nw_model(call, &m, err))
        return -1;
    res->supported = m.ops != NULL;
    return 0;
}

static int
s_supports_spaces(en_call_t *call, const ProtobufCMessage *req, ProtobufCMessage *res_,
                  en_err_t *err)
{
    (void)req;
    En__SupportsSpacesResult *res = (void *)res_;
    nw_model_t m;
    if (nw_model(call, &m, err))
        return -1;
    if (!m.ops || !m.ops->spaces)
        return en_err_set(err, EN_NOT_SUPPORTED, S_SPACES_NOT_SUPPORTED);
    res->supported = true;
    return 0;
}

static int
s_supports_space_discovery(en_call_t *call, const ProtobufCMessage *req, ProtobufCMessage *res_,
                           en_err_t *err)
{
    (void)req;
    En__SupportsSpaceDiscoveryResult *res = (void *)res_;
    nw_model_t m;
    if (nw_model(call, &m, err))
        return -1;
    res->supported = m.ops && m.ops->space_discovery;
    return 0;
}

static int
s_supports_container_addresses(en_call_t *call, const ProtobufCMessage *req, ProtobufCMessage *res_,
                               en_err_t *err)
{
    (void)req;
    En__SupportsContainerAddressesResult *res = (void *)res_;
    nw_model_t m;
    if (nw_model(call, &m, err))
        return -1;
    if (!m.ops || !m.ops->container_addresses)
        return en_err_set(err, EN_NOT_SUPPORTED, S_CONTAINERS_NOT_SUPPORTED);
    res->supported = true;
    return 0;
}

//  --------------------------------------------------------------------------
//  Subnets

static bool
s_wanted(const En__SubnetsRequest *req, const char *id, bool *found)
{
    bool wanted = false;
    for (size_t i = 0; i < req->n_subnet_ids; i++)
        if (strcmp(req->subnet_ids[i], id) == 0) {
            found[i] = true;
            wanted = true;
        }
    return wanted;
}

//  EC2's `failed to find the following subnet ids: [a b]`, Go's %v of the
//  missing ids in the order asked.
static int
s_missing(const En__SubnetsRequest *req, const bool *found, en_err_t *err)
{
    char list[EN_ERR_MSG_MAX];
    size_t used = 0;
    list[0] = '\0';
    for (size_t i = 0; i < req->n_subnet_ids && used < sizeof list; i++)
        if (!found[i])
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", used ? " " : "",
                                     req->subnet_ids[i]);
    return en_err_set(err, EN_NOT_FOUND, "failed to find the following subnet ids: [%s]", list);
}

static int
s_subnets(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res_, en_err_t *err)
{
    const En__SubnetsRequest *req = (const void *)req_;
    En__SubnetsResult *res = (void *)res_;
    nw_model_t m;
    if (nw_model(call, &m, err))
        return -1;
    if (!m.ops || !m.ops->subnets)
        return en_err_set(err, EN_NOT_SUPPORTED, "subnets not supported");
    en_subnet_t *subnets = NULL;
    size_t n = 0;
    const char *instance = req->instance_id && *req->instance_id ? req->instance_id : NULL;
    if (m.ops->subnets(m.base.conn, instance, &subnets, &n, err))
        return -1;
    bool *found = calloc(req->n_subnet_ids ? req->n_subnet_ids : 1, sizeof(bool));
    res->subnets = en_arena_array(call->arena, n ? n : 1, sizeof(En__SubnetInfo *));
    for (size_t i = 0; i < n; i++)
        if (req->n_subnet_ids == 0 || s_wanted(req, subnets[i].id, found))
            res->subnets[res->n_subnets++] = nw_subnet_to(call->arena, &subnets[i]);
    en_subnets_free(&subnets, n);
    int rc = 0;
    for (size_t i = 0; i < req->n_subnet_ids; i++)
        if (!found[i]) {
            res->n_subnets = 0;
            rc = s_missing(req, found, err);
            break;
        }
    free(found);
    return rc;
}

//  --------------------------------------------------------------------------
//  NetworkInterfaces

static int
s_network_interfaces(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res_,
                     en_err_t *err)
{
    const En__NetworkInterfacesRequest *req = (const void *)req_;
    En__NetworkInterfacesResult *res = (void *)res_;
    if (!req->instance_id || !*req->instance_id)
        return en_err_set(err, EN_NOT_VALID, "cannot get network interfaces: no instance id");
    nw_model_t m;
    if (nw_model(call, &m, err))
        return -1;
    if (!m.ops || !m.ops->interfaces)
        return en_err_set(err, EN_NOT_SUPPORTED, "network interfaces not supported");
    en_nic_t *nics = NULL;
    size_t n = 0;
    if (m.ops->interfaces(m.base.conn, req->instance_id, &nics, &n, err))
        return -1;
    if (n == 0)
        return en_err_set(err, EN_NOT_FOUND,
                          "cannot get instance \"%s\" network interfaces: no interfaces found",
                          req->instance_id);
    res->interfaces = en_arena_array(call->arena, n, sizeof(En__InterfaceInfo *));
    for (size_t i = 0; i < n; i++)
        res->interfaces[res->n_interfaces++] = nw_nic_to(call->arena, &nics[i]);
    en_nics_free(&nics, n);
    return 0;
}

//  --------------------------------------------------------------------------
//  Spaces

static int
s_spaces(en_call_t *call, const ProtobufCMessage *req, ProtobufCMessage *res_, en_err_t *err)
{
    (void)req;
    En__SpacesResult *res = (void *)res_;
    nw_model_t m;
    if (nw_model(call, &m, err))
        return -1;
    if (!m.ops || !m.ops->spaces || !m.ops->spaces_list)
        return en_err_set(err, EN_NOT_SUPPORTED, S_SPACES_NOT_SUPPORTED);
    en_space_t *spaces = NULL;
    size_t n = 0;
    if (m.ops->spaces_list(m.base.conn, &spaces, &n, err))
        return -1;
    res->spaces = en_arena_array(call->arena, n ? n : 1, sizeof(En__SpaceInfo *));
    // each name unique among those given before it, as Juju converts them
    const char **taken = en_arena_array(call->arena, n ? n : 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        En__SpaceInfo *s = en_arena_alloc(call->arena, sizeof *s);
        en__space_info__init(s);
        char *name = en_space_name_convert(spaces[i].name, taken, i);
        s->name = en_arena_strdup(call->arena, name);
        free(name);
        taken[i] = s->name;
        s->provider_id = en_arena_strdup(call->arena, spaces[i].id ? spaces[i].id : "");
        s->subnets =
            en_arena_array(call->arena, spaces[i].subnet_count ? spaces[i].subnet_count : 1,
                           sizeof(En__SubnetInfo *));
        for (size_t k = 0; k < spaces[i].subnet_count; k++)
            s->subnets[s->n_subnets++] = nw_subnet_to(call->arena, &spaces[i].subnets[k]);
        res->spaces[res->n_spaces++] = s;
    }
    en_spaces_free(&spaces, n);
    return 0;
}

#define S_ROUTE(method, fn)                                                                        \
    {                                                                                              \
        &en__environ__descriptor, method, fn, 0                                                    \
    }

const en_route_t nw_query_routes[] = {
    S_ROUTE("SupportsNetworking", s_supports_networking),
    S_ROUTE("SupportsSpaces", s_supports_spaces),
    S_ROUTE("SupportsSpaceDiscovery", s_supports_space_discovery),
    S_ROUTE("SupportsContainerAddresses", s_supports_container_addresses),
    S_ROUTE("Subnets", s_subnets),
    S_ROUTE("NetworkInterfaces", s_network_interfaces),
    S_ROUTE("Spaces", s_spaces),
};
const size_t nw_query_route_count = sizeof nw_query_routes / sizeof nw_query_routes[0];
