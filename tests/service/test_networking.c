/*  test_networking.c — the networking service in process, on the sim
    cloud: every method, every error it words itself (with the exact
    message), malformed requests, and a provider without networking (lxd).

    A real gateway and registry (harness processes) hold the models; the
    service runs in process, one dispatcher. Hosts are made through the sim
    cloud's API directly (en_sim_cloud_create_placed), so each test places
    its NICs in the subnets it wants; what the service answers is checked
    against the cloud's own view (its API and operator console). */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bus/envelope.h"
#include "bus/mdp.h"
#include "bus.pb-c.h"
#include "harness.h"
#include "networking.h"
#include "providers/sim/sim_cloud.h"

#define REGION "sim-east"
#define SUBNET(zone, space) "subnet-" REGION "-" zone "-" space

typedef struct {
    harness_t h;
    networking_t *nw;
    en_dispatcher_t *d;
    en_sim_cloud_t *sim;
    char *model;     // on the sim cloud
    char *lxd_model; // on localhost (lxd): no network driver
} fx_t;

#define FREE(m)                                                                                    \
    do {                                                                                           \
        if (m)                                                                                     \
            protobuf_c_message_free_unpacked((ProtobufCMessage *)(m), NULL);                       \
    } while (0)

#define ASSERT_ERR(err, k, msg)                                                                    \
    do {                                                                                           \
        assert_string_equal(en_kind_name((err).kind), en_kind_name(k));                            \
        assert_string_equal((err).message, (msg));                                                 \
    } while (0)

static char *
s_open(fx_t *fx, const char *name, const char *cloud)
{
    En__OpenRequest req = EN__OPEN_REQUEST__INIT;
    En__ConfigAttrs cfg = EN__CONFIG_ATTRS__INIT;
    cfg.json = "{}";
    req.name = (char *)name;
    req.cloud_name = (char *)cloud;
    req.config = &cfg;
    ProtobufCMessage *res = NULL;
    en_err_t err;
    en_client_call(fx->h.client, EN_PUBLIC_SERVICE, "Open", NULL, &req.base,
                   &en__open_result__descriptor, &res, 15000, &err);
    if (!res)
        fail_msg("Open %s: %s", name, err.message);
    char *uuid = strdup(((En__OpenResult *)res)->model->uuid);
    FREE(res);
    return uuid;
}

static int
s_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    assert_int_equal(harness_init(&fx->h), 0);
    harness_start(&fx->h, "gateway", 0);
    harness_start(&fx->h, "registry", 0);
    assert_int_equal(harness_wait_service(&fx->h, "registry", 20000), 0);
    en_err_t err;
    fx->nw = networking_new(fx->h.home, fx->h.endpoint, &err);
    assert_non_null(fx->nw);
    fx->d = en_dispatcher_new(networking_service(fx->nw), &err);
    assert_non_null(fx->d);
    fx->sim = harness_sim(&fx->h, &err);
    assert_non_null(fx->sim);
    fx->model = s_open(fx, "net", "sim");
    fx->lxd_model = s_open(fx, "bridged", "localhost");
    *state = fx;
    return 0;
}

static int
s_teardown(void **state)
{
    fx_t *fx = *state;
    free(fx->model);
    free(fx->lxd_model);
    en_sim_cloud_close(&fx->sim);
    en_dispatcher_destroy(&fx->d);
    networking_destroy(&fx->nw);
    int rc = harness_fini(&fx->h);
    free(fx);
    return rc;
}

//  One call; the result (free with FREE) or NULL with err set.
static void *
s_call(fx_t *fx, const char *method, const char *model, const void *req, en_err_t *err)
{
    ProtobufCMessage *res = NULL;
    en_err_clear(err);
    en_dispatcher_call(fx->d, method, model, req, &res, err);
    if (!res)
        assert_int_not_equal(err->kind, EN_OK); // every failure has a kind
    if (!res)
        assert_true(err->message[0] != '\0'); // and a message
    return res;
}

//  A host instance with one NIC per subnet (device 0 the first); its id.
static char *
s_host(fx_t *fx, const char *name, const char *const *subnets, size_t n)
{
    en_sim_instance_t inst;
    en_err_t err;
    if (en_sim_cloud_create_placed(fx->sim, REGION, NULL, "s1.small", name, NULL, 0, NULL, 0,
                                   subnets, n, &inst, &err))
        fail_msg("create %s: %s", name, err.message);
    char *id = strdup(inst.id);
    en_sim_instance_clear(&inst);
    return id;
}

//  Whether addr lies in cidr (IPv4).
static bool
s_in_cidr(const char *addr, const char *cidr)
{
    char net[64];
    snprintf(net, sizeof net, "%s", cidr);
    char *slash = strchr(net, '/');
    if (!slash)
        return false;
    *slash = '\0';
    int prefix = atoi(slash + 1);
    struct in_addr a, n;
    if (inet_pton(AF_INET, addr, &a) != 1 || inet_pton(AF_INET, net, &n) != 1)
        return false;
    uint32_t mask = prefix == 0 ? 0 : htonl(~0u << (32 - prefix));
    return (a.s_addr & mask) == (n.s_addr & mask);
}

//  --------------------------------------------------------------------------
//  Flags (79, 80, 81, 86)

static void
flags_on_sim_say_what_the_driver_has(void **state)
{
    fx_t *fx = *state;
    const en_network_ops_t *ops = en_provider_builtin("sim")->network;
    assert_non_null(ops);
    en_err_t err;
    En__SupportsNetworkingRequest q1 = EN__SUPPORTS_NETWORKING_REQUEST__INIT;
    En__SupportsNetworkingResult *r1 = s_call(fx, "SupportsNetworking", fx->model, &q1, &err);
    assert_non_null(r1);
    assert_true(r1->supported);
    FREE(r1);
    En__SupportsSpacesRequest q2 = EN__SUPPORTS_SPACES_REQUEST__INIT;
    En__SupportsSpacesResult *r2 = s_call(fx, "SupportsSpaces", fx->model, &q2, &err);
    assert_non_null(r2);
    assert_true(r2->supported);
    FREE(r2);
    En__SupportsSpaceDiscoveryRequest q3 = EN__SUPPORTS_SPACE_DISCOVERY_REQUEST__INIT;
    En__SupportsSpaceDiscoveryResult *r3 =
        s_call(fx, "SupportsSpaceDiscovery", fx->model, &q3, &err);
    assert_non_null(r3);
    assert_int_equal(r3->supported, ops->space_discovery);
    FREE(r3);
    En__SupportsContainerAddressesRequest q4 = EN__SUPPORTS_CONTAINER_ADDRESSES_REQUEST__INIT;
    En__SupportsContainerAddressesResult *r4 =
        s_call(fx, "SupportsContainerAddresses", fx->model, &q4, &err);
    assert_non_null(r4);
    assert_true(r4->supported);
    FREE(r4);
}

//  lxd has networking (subnets and NICs, read from the daemon: tests/lxd)
//  but neither spaces nor container addresses; none of these calls
//  reaches the daemon.
static void
lxd_answers_spaces_and_container_addresses_not_supported(void **state)
{
    fx_t *fx = *state;
    const char *m = fx->lxd_model;
    en_err_t err;
    En__SupportsNetworkingRequest q1 = EN__SUPPORTS_NETWORKING_REQUEST__INIT;
    En__SupportsNetworkingResult *r1 = s_call(fx, "SupportsNetworking", m, &q1, &err);
    assert_non_null(r1); // no error either way (79)
    assert_true(r1->supported);
    FREE(r1);
    En__SupportsSpaceDiscoveryRequest q3 = EN__SUPPORTS_SPACE_DISCOVERY_REQUEST__INIT;
    En__SupportsSpaceDiscoveryResult *r3 = s_call(fx, "SupportsSpaceDiscovery", m, &q3, &err);
    assert_non_null(r3); // (false, nil) (81)
    assert_false(r3->supported);
    FREE(r3);
    En__SupportsSpacesRequest q2 = EN__SUPPORTS_SPACES_REQUEST__INIT;
    assert_null(s_call(fx, "SupportsSpaces", m, &q2, &err));
    ASSERT_ERR(err, EN_NOT_SUPPORTED, "spaces not supported");
    En__SpacesRequest q5 = EN__SPACES_REQUEST__INIT;
    assert_null(s_call(fx, "Spaces", m, &q5, &err));
    ASSERT_ERR(err, EN_NOT_SUPPORTED, "spaces not supported");
    En__SupportsContainerAddressesRequest q4 = EN__SUPPORTS_CONTAINER_ADDRESSES_REQUEST__INIT;
    assert_null(s_call(fx, "SupportsContainerAddresses", m, &q4, &err));
    ASSERT_ERR(err, EN_NOT_SUPPORTED, "container address allocation not supported");
    En__InterfaceInfo eth0 = EN__INTERFACE_INFO__INIT;
    eth0.interface_name = "eth0";
    En__InterfaceInfo *prepared[] = {&eth0};
    En__AllocateContainerAddressesRequest q8 = EN__ALLOCATE_CONTAINER_ADDRESSES_REQUEST__INIT;
    q8.host_instance_id = "juju-1";
    q8.container_tag = "machine-1-lxd-0";
    q8.prepared = prepared;
    q8.n_prepared = 1;
    assert_null(s_call(fx, "AllocateContainerAddresses", m, &q8, &err));
    ASSERT_ERR(err, EN_NOT_SUPPORTED, "container address allocation not supported");
    En__ProviderInterfaceInfo ref = EN__PROVIDER_INTERFACE_INFO__INIT;
    ref.mac_address = "02:00:00:00:00:01";
    En__ProviderInterfaceInfo *refs[] = {&ref};
    En__ReleaseContainerAddressesRequest q9 = EN__RELEASE_CONTAINER_ADDRESSES_REQUEST__INIT;
    q9.interfaces = refs;
    q9.n_interfaces = 1;
    assert_null(s_call(fx, "ReleaseContainerAddresses", m, &q9, &err));
    ASSERT_ERR(err, EN_NOT_SUPPORTED, "container address allocation not supported");
}

//  --------------------------------------------------------------------------
//  Subnets (82)

static En__SubnetsResult *
s_subnets(fx_t *fx, const char *instance, char **ids, size_t n, en_err_t *err)
{
    En__SubnetsRequest q = EN__SUBNETS_REQUEST__INIT;
    q.instance_id = (char *)(instance ? instance : "");
    q.subnet_ids = ids;
    q.n_subnet_ids = n;
    return s_call(fx, "Subnets", fx->model, &q, err);
}

static void
subnets_all_by_id_and_per_instance(void **state)
{
    fx_t *fx = *state;
    en_sim_subnet_t *cloud = NULL;
    size_t cn = 0;
    en_err_t err;
    assert_int_equal(en_sim_cloud_subnets(fx->sim, REGION, NULL, &cloud, &cn, &err), 0);
    assert_true(cn >= 3);

    // all, in the provider's order, every field from the cloud
    En__SubnetsResult *r = s_subnets(fx, NULL, NULL, 0, &err);
    assert_non_null(r);
    assert_int_equal(r->n_subnets, cn);
    for (size_t i = 0; i < cn; i++) {
        assert_string_equal(r->subnets[i]->provider_id, cloud[i].id);
        assert_string_equal(r->subnets[i]->cidr, cloud[i].cidr);
        assert_int_equal(r->subnets[i]->vlan_tag, cloud[i].vlan_tag);
        assert_string_equal(r->subnets[i]->space_provider_id, cloud[i].space_id);
        assert_int_equal(r->subnets[i]->n_availability_zones, 1);
        assert_string_equal(r->subnets[i]->availability_zones[0], cloud[i].zone);
    }
    FREE(r);

    // by id: the provider's order, not the request's; a duplicate once
    char *ids[] = {cloud[2].id, cloud[0].id, cloud[2].id};
    r = s_subnets(fx, NULL, ids, 3, &err);
    assert_non_null(r);
    assert_int_equal(r->n_subnets, 2);
    assert_string_equal(r->subnets[0]->provider_id, cloud[0].id);
    assert_string_equal(r->subnets[1]->provider_id, cloud[2].id);
    FREE(r);

    // unknown ids: EC2's error naming them, in the order asked
    char *missing[] = {"nope-1", cloud[1].id, "nope-2"};
    assert_null(s_subnets(fx, NULL, missing, 3, &err));
    ASSERT_ERR(err, EN_NOT_FOUND, "failed to find the following subnet ids: [nope-1 nope-2]");

    // per instance: only the subnets its NICs are in
    const char *placed[] = {SUBNET("a", "internal"), SUBNET("a", "dmz")};
    char *host = s_host(fx, "subnets-host", placed, 2);
    r = s_subnets(fx, host, NULL, 0, &err);
    assert_non_null(r);
    assert_int_equal(r->n_subnets, 2);
    bool internal = false, dmz = false;
    for (size_t i = 0; i < r->n_subnets; i++) {
        internal |= strcmp(r->subnets[i]->provider_id, placed[0]) == 0;
        dmz |= strcmp(r->subnets[i]->provider_id, placed[1]) == 0;
    }
    assert_true(internal && dmz);
    FREE(r);
    char *one[] = {(char *)placed[1]};
    r = s_subnets(fx, host, one, 1, &err);
    assert_non_null(r);
    assert_int_equal(r->n_subnets, 1);
    assert_string_equal(r->subnets[0]->provider_id, placed[1]);
    FREE(r);
    // a subnet of the region the instance is not in counts as unknown
    char *other[] = {(char *)SUBNET("b", "internal")};
    assert_null(s_subnets(fx, host, other, 1, &err));
    ASSERT_ERR(err, EN_NOT_FOUND,
               "failed to find the following subnet ids: [" SUBNET("b", "internal") "]");
    assert_null(s_subnets(fx, "i-0000000000000bad", NULL, 0, &err));
    ASSERT_ERR(err, EN_NOT_FOUND, "instance \"i-0000000000000bad\" not found");
    free(host);
    free(cloud);
}

//  --------------------------------------------------------------------------
//  NetworkInterfaces (83)

static void
network_interfaces_fill_every_field(void **state)
{
    fx_t *fx = *state;
    const char *placed[] = {SUBNET("c", "internal"), SUBNET("c", "storage")};
    char *host = s_host(fx, "nics-host", placed, 2);
    en_sim_nic_t *cloud = NULL;
    size_t cn = 0;
    en_err_t err;
    assert_int_equal(en_sim_cloud_interfaces(fx->sim, REGION, host, &cloud, &cn, &err), 0);
    assert_int_equal(cn, 2);

    En__NetworkInterfacesRequest q = EN__NETWORK_INTERFACES_REQUEST__INIT;
    q.instance_id = host;
    En__NetworkInterfacesResult *r = s_call(fx, "NetworkInterfaces", fx->model, &q, &err);
    assert_non_null(r);
    assert_int_equal(r->n_interfaces, 2);
    for (size_t i = 0; i < cn; i++) {
        const En__InterfaceInfo *got = r->interfaces[i];
        const en_sim_nic_t *want = &cloud[i];
        assert_int_equal(got->device_index, (int)i); // 0 the primary
        assert_int_equal(got->device_index, want->device_index);
        assert_string_equal(got->mac_address, want->mac);
        assert_string_equal(got->cidr, want->subnet.cidr);
        assert_string_equal(got->provider_id, want->id);
        assert_string_equal(got->provider_subnet_id, want->subnet.id);
        assert_string_equal(got->provider_subnet_id, placed[i]);
        assert_string_equal(got->provider_space_id, want->subnet.space_id);
        assert_int_equal(got->n_availability_zones, 1);
        assert_string_equal(got->availability_zones[0], want->subnet.zone);
        assert_int_equal(got->vlan_tag, want->subnet.vlan_tag);
        assert_string_equal(got->interface_name, want->interface_name);
        assert_string_equal(got->interface_type, want->interface_type);
        assert_string_equal(got->config_type, want->config_type);
        assert_int_equal(got->disabled, want->disabled);
        assert_int_equal(got->no_auto_start, want->no_auto_start);
        assert_int_equal(got->mtu, want->mtu);
        assert_non_null(got->address);
        assert_string_equal(got->address->value, want->address);
        assert_string_equal(got->address->type, "ipv4");
        assert_string_equal(got->address->scope, "local-cloud");
        assert_true(s_in_cidr(got->address->value, got->cidr));
        assert_int_equal(got->n_dns_servers, 1);
        assert_string_equal(got->dns_servers[0]->value, want->subnet.dns);
        assert_int_equal(got->n_dns_search_domains, 1);
        assert_string_equal(got->dns_search_domains[0], want->subnet.dns_search_domain);
        assert_non_null(got->gateway_address);
        assert_string_equal(got->gateway_address->value, want->subnet.gateway);
    }
    // the storage subnet is a VLAN with jumbo frames
    assert_int_equal(r->interfaces[1]->vlan_tag, 42);
    assert_int_equal(r->interfaces[1]->mtu, 9000);
    FREE(r);
    free(cloud);

    q.instance_id = "i-0000000000000bad";
    assert_null(s_call(fx, "NetworkInterfaces", fx->model, &q, &err));
    ASSERT_ERR(err, EN_NOT_FOUND, "instance \"i-0000000000000bad\" not found");
    q.instance_id = "";
    assert_null(s_call(fx, "NetworkInterfaces", fx->model, &q, &err));
    ASSERT_ERR(err, EN_NOT_VALID, "cannot get network interfaces: no instance id");
    free(host);
}

//  --------------------------------------------------------------------------
//  Spaces (84)

static void
spaces_are_the_clouds_with_juju_names(void **state)
{
    fx_t *fx = *state;
    en_sim_space_t *cloud = NULL;
    size_t cn = 0;
    en_err_t err;
    assert_int_equal(en_sim_cloud_spaces(fx->sim, REGION, &cloud, &cn, &err), 0);
    assert_int_equal(cn, 3); // internal, dmz, storage
    En__SpacesRequest q = EN__SPACES_REQUEST__INIT;
    En__SpacesResult *r = s_call(fx, "Spaces", fx->model, &q, &err);
    assert_non_null(r);
    assert_int_equal(r->n_spaces, cn);
    for (size_t i = 0; i < cn; i++) {
        assert_string_equal(r->spaces[i]->name, cloud[i].name);
        assert_string_equal(r->spaces[i]->provider_id, cloud[i].id);
        assert_int_equal(r->spaces[i]->n_subnets, cloud[i].subnet_count);
        for (size_t k = 0; k < cloud[i].subnet_count; k++) {
            assert_string_equal(r->spaces[i]->subnets[k]->provider_id, cloud[i].subnets[k].id);
            assert_string_equal(r->spaces[i]->subnets[k]->space_provider_id, cloud[i].id);
        }
    }
    FREE(r);
    en_sim_spaces_free(&cloud, cn);
}

//  --------------------------------------------------------------------------
//  Container addresses (85)

static En__AllocateContainerAddressesResult *
s_allocate(fx_t *fx, const char *host, const char *tag, En__InterfaceInfo **prepared, size_t n,
           en_err_t *err)
{
    En__AllocateContainerAddressesRequest q = EN__ALLOCATE_CONTAINER_ADDRESSES_REQUEST__INIT;
    q.host_instance_id = (char *)host;
    q.container_tag = (char *)tag;
    q.prepared = prepared;
    q.n_prepared = n;
    return s_call(fx, "AllocateContainerAddresses", fx->model, &q, err);
}

static size_t
s_container_nics(fx_t *fx, const char *tag)
{
    en_sim_nic_t *nics = NULL;
    size_t n = 0, count = 0;
    en_err_t err;
    assert_int_equal(en_sim_cloud_container_nics(fx->sim, REGION, &nics, &n, &err), 0);
    for (size_t i = 0; i < n; i++)
        count += !tag || strcmp(nics[i].container_tag, tag) == 0;
    free(nics);
    return count;
}

static void
allocate_is_exactly_once_and_release_frees(void **state)
{
    fx_t *fx = *state;
    const char *placed[] = {SUBNET("b", "internal"), SUBNET("b", "dmz")};
    char *host = s_host(fx, "containers-host", placed, 2);
    En__InterfaceInfo eth0 = EN__INTERFACE_INFO__INIT, eth1 = EN__INTERFACE_INFO__INIT;
    eth0.interface_name = "eth0";
    eth0.config_type = "static";
    eth1.interface_name = "eth1";
    eth1.provider_subnet_id = (char *)placed[1];
    En__InterfaceInfo *prepared[] = {&eth0, &eth1};
    en_err_t err;
    En__AllocateContainerAddressesResult *r =
        s_allocate(fx, host, "machine-3-lxd-0", prepared, 2, &err);
    assert_non_null(r);
    assert_int_equal(r->n_interfaces, 2);
    assert_string_equal(r->interfaces[0]->interface_name, "eth0");
    assert_int_equal(r->interfaces[0]->device_index, 0);
    assert_string_equal(r->interfaces[0]->provider_subnet_id, placed[0]); // the host's primary
    assert_string_equal(r->interfaces[1]->provider_subnet_id, placed[1]);
    for (size_t i = 0; i < 2; i++) {
        assert_non_null(r->interfaces[i]->address);
        assert_true(s_in_cidr(r->interfaces[i]->address->value, r->interfaces[i]->cidr));
        assert_string_equal(r->interfaces[i]->config_type, "static");
        assert_true(r->interfaces[i]->provider_id[0] != '\0');
        assert_true(r->interfaces[i]->mac_address[0] != '\0');
    }
    assert_int_equal(s_container_nics(fx, "machine-3-lxd-0"), 2);

    // asked again (a resend, another replica): the same NICs, nothing new
    En__AllocateContainerAddressesResult *again =
        s_allocate(fx, host, "machine-3-lxd-0", prepared, 2, &err);
    assert_non_null(again);
    assert_int_equal(again->n_interfaces, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_string_equal(again->interfaces[i]->address->value, r->interfaces[i]->address->value);
        assert_string_equal(again->interfaces[i]->provider_id, r->interfaces[i]->provider_id);
    }
    FREE(again);
    assert_int_equal(s_container_nics(fx, "machine-3-lxd-0"), 2);

    // another container (nested) gets other addresses
    En__AllocateContainerAddressesResult *nested =
        s_allocate(fx, host, "machine-3-lxd-0-kvm-1", prepared, 1, &err);
    assert_non_null(nested);
    assert_int_equal(nested->n_interfaces, 1);
    assert_string_not_equal(nested->interfaces[0]->address->value,
                            r->interfaces[0]->address->value);

    // release by provider id (one) and by MAC (the other); twice is fine
    En__ProviderInterfaceInfo a = EN__PROVIDER_INTERFACE_INFO__INIT;
    En__ProviderInterfaceInfo b = EN__PROVIDER_INTERFACE_INFO__INIT;
    En__ProviderInterfaceInfo c = EN__PROVIDER_INTERFACE_INFO__INIT;
    a.interface_name = "eth0";
    a.provider_id = r->interfaces[0]->provider_id;
    b.interface_name = "eth1";
    b.mac_address = r->interfaces[1]->mac_address;
    c.provider_id = nested->interfaces[0]->provider_id;
    En__ProviderInterfaceInfo *refs[] = {&a, &b, &c};
    En__ReleaseContainerAddressesRequest rq = EN__RELEASE_CONTAINER_ADDRESSES_REQUEST__INIT;
    rq.interfaces = refs;
    rq.n_interfaces = 3;
    for (int pass = 0; pass < 2; pass++) {
        En__ReleaseContainerAddressesResult *rr =
            s_call(fx, "ReleaseContainerAddresses", fx->model, &rq, &err);
        assert_non_null(rr);
        FREE(rr);
        assert_int_equal(s_container_nics(fx, "machine-3-lxd-0"), 0);
        assert_int_equal(s_container_nics(fx, "machine-3-lxd-0-kvm-1"), 0);
    }
    // nothing to release is not an error
    rq.n_interfaces = 0;
    En__ReleaseContainerAddressesResult *rr =
        s_call(fx, "ReleaseContainerAddresses", fx->model, &rq, &err);
    assert_non_null(rr);
    FREE(rr);
    // a ref naming nothing is refused before the cloud is asked
    En__ProviderInterfaceInfo empty = EN__PROVIDER_INTERFACE_INFO__INIT;
    empty.interface_name = "eth0";
    En__ProviderInterfaceInfo *bad[] = {&a, &empty};
    rq.interfaces = bad;
    rq.n_interfaces = 2;
    assert_null(s_call(fx, "ReleaseContainerAddresses", fx->model, &rq, &err));
    ASSERT_ERR(err, EN_NOT_VALID,
               "cannot release container addresses: interface 1 has neither a provider id nor "
               "a MAC address");
    FREE(nested);
    FREE(r);
    free(host);
}

static void
allocate_checks_the_request_first(void **state)
{
    fx_t *fx = *state;
    const char *placed[] = {SUBNET("a", "internal")};
    char *host = s_host(fx, "checks-host", placed, 1);
    En__InterfaceInfo eth0 = EN__INTERFACE_INFO__INIT, eth1 = EN__INTERFACE_INFO__INIT;
    eth0.interface_name = "eth0";
    eth1.interface_name = "eth1";
    En__InterfaceInfo *prepared[] = {&eth0};
    En__InterfaceInfo *no_eth0[] = {&eth1};
    en_err_t err;
    assert_null(s_allocate(fx, "", "machine-0-lxd-0", prepared, 1, &err));
    ASSERT_ERR(err, EN_NOT_VALID, "cannot prepare container network config: no host instance id");
    assert_null(s_allocate(fx, host, "", prepared, 1, &err));
    ASSERT_ERR(err, EN_NOT_VALID, "cannot prepare container network config: no container tag");
    const char *not_containers[] = {"machine-0",      "unit-mysql-0",     "machine-01-lxd-0",
                                    "machine-0-lxd-", "machine-0-lxd-01", "machine-0-docker-1",
                                    "machine--lxd-1", "machine-0-lxd-1-", "machine-0-lxd-1x",
                                    "Machine-0-lxd-1"};
    for (size_t i = 0; i < sizeof not_containers / sizeof not_containers[0]; i++) {
        assert_null(s_allocate(fx, host, not_containers[i], prepared, 1, &err));
        char want[256];
        snprintf(want, sizeof want, "cannot prepare network config for \"%s\": not a container",
                 not_containers[i]);
        ASSERT_ERR(err, EN_NOT_VALID, want);
    }
    assert_int_equal(s_container_nics(fx, NULL), 0); // nothing reached the cloud

    // the driver's own checks, its words unchanged
    assert_null(s_allocate(fx, host, "machine-0-lxd-0", prepared, 0, &err));
    ASSERT_ERR(err, EN_NOT_VALID, "no prepared info to allocate");
    assert_null(s_allocate(fx, host, "machine-0-lxd-0", no_eth0, 1, &err));
    ASSERT_ERR(err, EN_NOT_VALID, "cannot find primary interface for container");
    eth0.provider_subnet_id = SUBNET("b", "dmz");
    assert_null(s_allocate(fx, host, "machine-0-lxd-0", prepared, 1, &err));
    char want[256];
    snprintf(want, sizeof want, "subnet \"%s\" is not on host \"%s\"", SUBNET("b", "dmz"), host);
    ASSERT_ERR(err, EN_NOT_VALID, want);
    eth0.provider_subnet_id = "";
    assert_null(s_allocate(fx, "i-0000000000000bad", "machine-0-kvm-7", prepared, 1, &err));
    ASSERT_ERR(err, EN_NOT_FOUND, "instance \"i-0000000000000bad\" not found");
    assert_int_equal(s_container_nics(fx, NULL), 0);
    free(host);
}

//  --------------------------------------------------------------------------
//  Models, malformed requests and the broken-method knobs (87)

static void
calls_need_a_known_model(void **state)
{
    fx_t *fx = *state;
    En__SpacesRequest q = EN__SPACES_REQUEST__INIT;
    en_err_t err;
    assert_null(s_call(fx, "Spaces", NULL, &q, &err));
    ASSERT_ERR(err, EN_NOT_VALID, "Spaces: no model named");
    assert_null(s_call(fx, "Spaces", "0b1d5a54-2f43-4a6c-9d33-000000000000", &q, &err));
    assert_int_equal(err.kind, EN_NOT_FOUND);
}

static void
malformed_requests_are_refused_and_the_service_goes_on(void **state)
{
    fx_t *fx = *state;
    static const uint8_t garbage[] = {0x0a, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x80};
    const char *methods[] = {"Subnets", "NetworkInterfaces", "AllocateContainerAddresses",
                             "ReleaseContainerAddresses", "Spaces"};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        En__Request req = EN__REQUEST__INIT;
        req.request_id = "0123456789abcdef0123456789abcdef";
        req.model_uuid = fx->model;
        req.method = (char *)methods[i];
        req.body.data = (uint8_t *)garbage;
        req.body.len = sizeof garbage;
        zframe_t *in = en_frame_pack(&req.base);
        zframe_t *out = en_dispatcher_handle(fx->d, in);
        zframe_destroy(&in);
        assert_non_null(out);
        En__Reply *reply = en__reply__unpack(NULL, zframe_size(out), zframe_data(out));
        zframe_destroy(&out);
        assert_non_null(reply);
        assert_non_null(reply->error);
        assert_int_equal(reply->error->kind, EN__ERROR_KIND__NOT_VALID);
        assert_true(reply->error->message[0] != '\0');
        en__reply__free_unpacked(reply, NULL);
    }
    // still serving
    En__SupportsNetworkingRequest q = EN__SUPPORTS_NETWORKING_REQUEST__INIT;
    en_err_t err;
    En__SupportsNetworkingResult *r = s_call(fx, "SupportsNetworking", fx->model, &q, &err);
    assert_non_null(r);
    FREE(r);
}

static void
broken_cloud_methods_fail_with_their_kind_and_message(void **state)
{
    fx_t *fx = *state;
    en_err_t err;
    assert_int_equal(en_sim_cloud_knob_set(fx->sim, "fail.subnets", "UNAVAILABLE count 1", &err),
                     0);
    assert_null(s_subnets(fx, NULL, NULL, 0, &err));
    ASSERT_ERR(err, EN_UNAVAILABLE, "sim.subnets is broken");
    En__SubnetsResult *r = s_subnets(fx, NULL, NULL, 0, &err); // count 1: fixed
    assert_non_null(r);
    FREE(r);
    assert_int_equal(
        en_sim_cloud_knob_set(fx->sim, "fail.spaces", "INTERNAL spaces are down", &err), 0);
    En__SpacesRequest q = EN__SPACES_REQUEST__INIT;
    assert_null(s_call(fx, "Spaces", fx->model, &q, &err));
    ASSERT_ERR(err, EN_INTERNAL, "spaces are down");
    assert_int_equal(en_sim_cloud_knob_set(fx->sim, "fail.spaces", NULL, &err), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(flags_on_sim_say_what_the_driver_has),
        cmocka_unit_test(lxd_answers_spaces_and_container_addresses_not_supported),
        cmocka_unit_test(subnets_all_by_id_and_per_instance),
        cmocka_unit_test(network_interfaces_fill_every_field),
        cmocka_unit_test(spaces_are_the_clouds_with_juju_names),
        cmocka_unit_test(allocate_is_exactly_once_and_release_frees),
        cmocka_unit_test(allocate_checks_the_request_first),
        cmocka_unit_test(calls_need_a_known_model),
        cmocka_unit_test(malformed_requests_are_refused_and_the_service_goes_on),
        cmocka_unit_test(broken_cloud_methods_fail_with_their_kind_and_message),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
