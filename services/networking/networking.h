/*  networking.h — the networking service: subnets, spaces, the NICs of
    instances and static addresses for containers (Juju's
    environs.Networking, docs/juju-environs.md §1 H and §5).

    Stateless like the firewaller: the cloud is the truth. Subnets, spaces
    and NICs are read from it on every call, and container addresses are
    recorded in the cloud by the driver (one allocation per host, container
    tag and interface name), so a restarted service, or a second replica,
    answers exactly what the first would have, and a resent allocation
    never takes a second address.

    Per worker thread: the shared model-service state
    (services/common/modelsvc.h). The call's model (the envelope's uuid)
    names the cloud; its provider's network driver (en_network_ops_t) does
    the work, and a provider without one answers NOT_SUPPORTED in Juju's
    words. Handlers are split by topic: query.c (the Supports* flags,
    Subnets, NetworkInterfaces, Spaces) and containers.c
    (AllocateContainerAddresses, ReleaseContainerAddresses). */
#ifndef EN_NETWORKING_H
#define EN_NETWORKING_H

#include <stdbool.h>

#include "bus/service.h"
#include "environ.pb-c.h"
#include "modelsvc.h"
#include "providers/provider.h"

typedef struct {
    en_service_base_t base; // home, gateways, definition
} networking_t;

//  What a handler needs about the call's model, borrowed until the call
//  ends. `ops` is NULL when the provider has no network driver.
typedef struct {
    en_modelsvc_model_t base;
    const en_network_ops_t *ops;
} nw_model_t;

networking_t *networking_new(const char *home, const char *gateways, en_err_t *err);
void networking_destroy(networking_t **self_p);
const en_service_def_t *networking_service(networking_t *self);

//  Resolve the call's model and its cloud connection (modelsvc.h's
//  errors). A provider without compute or network is not an error: ops
//  NULL.
int nw_model(en_call_t *call, nw_model_t *model, en_err_t *err);

//  Conversions from the driver's structs to the wire, in the call's arena.
En__SubnetInfo *nw_subnet_to(en_arena_t *a, const en_subnet_t *s);
En__InterfaceInfo *nw_nic_to(en_arena_t *a, const en_nic_t *nic);
//  network.Address of an IP (type and scope from the address, as Juju's
//  NewAddress derives them) or a hostname; NULL for "".
En__Address *nw_address_to(en_arena_t *a, const char *value);
//  A prepared InterfaceInfo from the wire as the driver takes it: strings
//  borrowed from `in` (never NULL), arrays in the call's arena.
void nw_nic_from(en_arena_t *a, const En__InterfaceInfo *in, en_nic_t *out);

//  Whether tag names a container machine: machine-<n>-<lxd|kvm>-<m>,
//  possibly nested (machine-0-lxd-1-kvm-2), numbers without leading zeros.
bool nw_container_tag(const char *tag);

//  Route groups
extern const en_route_t nw_query_routes[];
extern const size_t nw_query_route_count;
extern const en_route_t nw_container_routes[];
extern const size_t nw_container_route_count;

#endif
