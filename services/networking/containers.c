/*  containers.c — AllocateContainerAddresses and ReleaseContainerAddresses
    (statement 85, §5.3).

    The request is checked before the cloud is asked, with the
    provisioner's words where Juju has them (`cannot prepare network config
    for "<tag>": not a container`); then a provider without container
    addressing answers Juju's NOT_SUPPORTED `container address allocation
    not supported`, which tells the caller to leave the container on the
    host bridge with DHCP.

    Exactly-once lives in the cloud: the driver records each allocation
    under (host, container tag, interface name) and answers the recorded
    NICs when asked again, so a resent request, a second replica or a
    restarted service hands out the same addresses, never new ones. */
#include <string.h>

#include "networking.h"

static int
s_require_containers(const nw_model_t *m, bool release, en_err_t *err)
{
    bool driver = m->ops && (release ? m->ops->release_container != NULL
                                     : m->ops->allocate_container != NULL);
    if (!driver || !m->ops->container_addresses)
        return en_err_set(err, EN_NOT_SUPPORTED, "container address allocation not supported");
    return 0;
}

static int
s_allocate(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res_, en_err_t *err)
{
    const En__AllocateContainerAddressesRequest *req = (const void *)req_;
    En__AllocateContainerAddressesResult *res = (void *)res_;
    if (!req->host_instance_id || !*req->host_instance_id)
        return en_err_set(err, EN_NOT_VALID,
                          "cannot prepare container network config: no host instance id");
    if (!req->container_tag || !*req->container_tag)
        return en_err_set(err, EN_NOT_VALID,
                          "cannot prepare container network config: no container tag");
    if (!nw_container_tag(req->container_tag))
        return en_err_set(err, EN_NOT_VALID,
                          "cannot prepare network config for \"%s\": not a container",
                          req->container_tag);
    nw_model_t m;
    if (nw_model(call, &m, err) || s_require_containers(&m, false, err))
        return -1;
    en_nic_t *prepared =
        en_arena_alloc(call->arena, (req->n_prepared ? req->n_prepared : 1) * sizeof(en_nic_t));
    for (size_t i = 0; i < req->n_prepared; i++)
        nw_nic_from(call->arena, req->prepared[i], &prepared[i]);
    en_nic_t *nics = NULL;
    size_t n = 0;
    if (m.ops->allocate_container(m.base.conn, req->host_instance_id, req->container_tag, prepared,
                                  req->n_prepared, &nics, &n, err))
        return -1;
    res->interfaces = en_arena_array(call->arena, n ? n : 1, sizeof(En__InterfaceInfo *));
    for (size_t i = 0; i < n; i++)
        res->interfaces[res->n_interfaces++] = nw_nic_to(call->arena, &nics[i]);
    en_nics_free(&nics, n);
    return 0;
}

static int
s_release(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res, en_err_t *err)
{
    (void)res;
    const En__ReleaseContainerAddressesRequest *req = (const void *)req_;
    for (size_t i = 0; i < req->n_interfaces; i++) {
        const En__ProviderInterfaceInfo *r = req->interfaces[i];
        if ((!r->provider_id || !*r->provider_id) && (!r->mac_address || !*r->mac_address))
            return en_err_set(err, EN_NOT_VALID,
                              "cannot release container addresses: interface %zu has neither "
                              "a provider id nor a MAC address",
                              i);
    }
    nw_model_t m;
    if (nw_model(call, &m, err) || s_require_containers(&m, true, err))
        return -1;
    if (req->n_interfaces == 0)
        return 0;
    en_nic_ref_t *refs = en_arena_alloc(call->arena, req->n_interfaces * sizeof *refs);
    for (size_t i = 0; i < req->n_interfaces; i++)
        refs[i] = (en_nic_ref_t){.interface_name = req->interfaces[i]->interface_name,
                                 .provider_id = req->interfaces[i]->provider_id,
                                 .mac = req->interfaces[i]->mac_address};
    return m.ops->release_container(m.base.conn, refs, req->n_interfaces, err);
}

#define S_ROUTE(method, fn)                                                                        \
    {                                                                                              \
        &en__environ__descriptor, method, fn, 0                                                    \
    }

const en_route_t nw_container_routes[] = {
    S_ROUTE("AllocateContainerAddresses", s_allocate),
    S_ROUTE("ReleaseContainerAddresses", s_release),
};
const size_t nw_container_route_count = sizeof nw_container_routes / sizeof nw_container_routes[0];
