/*  conformance_network.c — statements of §1 H (Networking, 79-87) against
    the networking service behind the gateway, on the sim cloud at
    <home>/sim/sim.db, and on a model of the built-in lxd cloud
    (localhost), whose provider has no network driver. What the API
    reports is checked against the cloud's own view (its API, read as the
    operator would).

    Where Juju's providers disagree the choices are EC2's: unknown subnet
    ids fail the call naming them (82), an instance without NICs is an
    error (83). Container addresses (85) are Juju 2.x MAAS's behaviour on
    the sim, and Juju's NOT_SUPPORTED on a provider without them. The
    broken-method harness (87) is the sim's fail.<method> knobs. */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/spacename.h"
#include "conformance.h"
#include "providers/provider.h"
#include "providers/sim/sim_cloud.h"

#define CTRL_UUID "c0ffee00-0000-4000-8000-000000000085"
#define REGION "sim-east"
#define SUBNET(zone, space) "subnet-" REGION "-" zone "-" space

static char *
s_model(const char *name, const char *cloud)
{
    en_err_t err;
    En__Model *m = conf_open(name, cloud, NULL, &err);
    CHECK(m != NULL, "Open %s on %s: %s", name, cloud, err.message);
    char *uuid = m ? strdup(m->uuid) : NULL;
    FREE(m);
    return uuid;
}

static en_sim_cloud_t *
s_sim(void)
{
    en_err_t err;
    en_sim_cloud_t *c = harness_sim(&H, &err);
    CHECK(c != NULL, "open the sim cloud: %s", err.message);
    return c;
}

//  An instance through the gateway (broker): one NIC in its zone's
//  default subnet. Its id (malloc'd) or NULL.
static char *
s_start(const char *model, const char *machine_id)
{
    En__StartInstanceRequest req = EN__START_INSTANCE_REQUEST__INIT;
    En__StartInstanceParams p = EN__START_INSTANCE_PARAMS__INIT;
    p.machine_id = (char *)machine_id;
    p.machine_nonce = "nonce";
    p.controller_uuid = CTRL_UUID;
    req.params = &p;
    en_err_t err;
    En__StartInstanceResult *r =
        conf_call("StartInstance", model, &req, &en__start_instance_result__descriptor, &err);
    CHECK(r && r->instance, "StartInstance %s: %s", machine_id, err.message);
    char *id = r && r->instance ? strdup(r->instance->id) : NULL;
    FREE(r);
    return id;
}

//  A host with one NIC per subnet, made with the cloud's own API.
static char *
s_host(en_sim_cloud_t *sim, const char *name, const char *const *subnets, size_t n)
{
    en_sim_instance_t inst;
    en_err_t err;
    if (!sim || en_sim_cloud_create_placed(sim, REGION, NULL, "s1.small", name, NULL, 0, NULL, 0,
                                           subnets, n, &inst, &err)) {
        CHECK(false, "create %s: %s", name, sim ? err.message : "no sim");
        return NULL;
    }
    char *id = strdup(inst.id);
    en_sim_instance_clear(&inst);
    return id;
}

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

static En__SupportsNetworkingResult *
s_supports_networking(const char *model, en_err_t *err)
{
    En__SupportsNetworkingRequest q = EN__SUPPORTS_NETWORKING_REQUEST__INIT;
    return conf_call("SupportsNetworking", model, &q, &en__supports_networking_result__descriptor,
                     err);
}

//  79. SupportsNetworking is a plain "does the environ have networking":
//  yes on the sim and on lxd (subnets and NICs, without spaces), no error
//  either way.
void
s079_supports_networking(void)
{
    char *sim = s_model("net79", "sim"), *lxd = s_model("lxd79", "localhost");
    en_err_t err;
    En__SupportsNetworkingResult *r = s_supports_networking(sim, &err);
    CHECK(r && r->supported, "sim supports networking: %s", r ? "false" : err.message);
    FREE(r);
    r = s_supports_networking(lxd, &err);
    CHECK(r && r->supported, "lxd has networking: %s", r ? "false" : err.message);
    FREE(r);
    free(sim);
    free(lxd);
}

//  80. SupportsSpaces: (true) or NOT_SUPPORTED `spaces not supported`.
void
s080_supports_spaces(void)
{
    char *sim = s_model("net80", "sim"), *lxd = s_model("lxd80", "localhost");
    En__SupportsSpacesRequest q = EN__SUPPORTS_SPACES_REQUEST__INIT;
    en_err_t err;
    En__SupportsSpacesResult *r =
        conf_call("SupportsSpaces", sim, &q, &en__supports_spaces_result__descriptor, &err);
    CHECK(r && r->supported, "sim supports spaces: %s", r ? "false" : err.message);
    FREE(r);
    r = conf_call("SupportsSpaces", lxd, &q, &en__supports_spaces_result__descriptor, &err);
    CHECK(!r, "lxd: no result");
    CHECK_ERR(err, EN_NOT_SUPPORTED, "spaces not supported");
    FREE(r);
    free(sim);
    free(lxd);
}

//  81. SupportsSpaceDiscovery: (bool) and never an error.
void
s081_supports_space_discovery(void)
{
    char *sim = s_model("net81", "sim"), *lxd = s_model("lxd81", "localhost");
    En__SupportsSpaceDiscoveryRequest q = EN__SUPPORTS_SPACE_DISCOVERY_REQUEST__INIT;
    en_err_t err;
    En__SupportsSpaceDiscoveryResult *r = conf_call(
        "SupportsSpaceDiscovery", sim, &q, &en__supports_space_discovery_result__descriptor, &err);
    bool want = en_provider_builtin("sim")->network->space_discovery;
    CHECK(r && r->supported == want, "sim: %s", r ? "the driver's flag" : err.message);
    FREE(r);
    r = conf_call("SupportsSpaceDiscovery", lxd, &q,
                  &en__supports_space_discovery_result__descriptor, &err);
    CHECK(r && !r->supported, "lxd: (false, nil): %s", r ? "true" : err.message);
    FREE(r);
    free(sim);
    free(lxd);
}

static En__SubnetsResult *
s_subnets(const char *model, const char *instance, char **ids, size_t n, en_err_t *err)
{
    En__SubnetsRequest q = EN__SUBNETS_REQUEST__INIT;
    q.instance_id = (char *)(instance ? instance : "");
    q.subnet_ids = ids;
    q.n_subnet_ids = n;
    return conf_call("Subnets", model, &q, &en__subnets_result__descriptor, err);
}

//  82. Subnets: all, scoped to an instance's NICs, or those named in the
//  provider's order; unknown ids fail naming them (EC2's choice).
void
s082_subnets(void)
{
    char *m = s_model("net82", "sim");
    en_sim_cloud_t *sim = s_sim();
    en_sim_subnet_t *cloud = NULL;
    size_t cn = 0;
    en_err_t err;
    CHECK(sim && en_sim_cloud_subnets(sim, REGION, NULL, &cloud, &cn, &err) == 0 && cn >= 3,
          "the cloud's subnets");
    En__SubnetsResult *r = s_subnets(m, NULL, NULL, 0, &err);
    CHECK(r && r->n_subnets == cn, "all subnets: %s", r ? "count" : err.message);
    for (size_t i = 0; r && i < r->n_subnets && i < cn; i++)
        CHECK(strcmp(r->subnets[i]->provider_id, cloud[i].id) == 0 &&
                  strcmp(r->subnets[i]->cidr, cloud[i].cidr) == 0,
              "subnet %zu is the cloud's %s", i, cloud[i].id);
    FREE(r);
    if (cn >= 3) {
        char *ids[] = {cloud[2].id, cloud[0].id};
        r = s_subnets(m, NULL, ids, 2, &err);
        CHECK(r && r->n_subnets == 2 && strcmp(r->subnets[0]->provider_id, cloud[0].id) == 0 &&
                  strcmp(r->subnets[1]->provider_id, cloud[2].id) == 0,
              "named subnets in the provider's order: %s", r ? "order" : err.message);
        FREE(r);
        char *missing[] = {cloud[1].id, "Missing", "foo-bar"};
        r = s_subnets(m, NULL, missing, 3, &err);
        CHECK(!r, "unknown ids give no result");
        CHECK_ERR(err, EN_NOT_FOUND, "failed to find the following subnet ids: [Missing foo-bar]");
        FREE(r);
    }
    // an instance started through the gateway: its zone's default subnet
    char *id = s_start(m, "0");
    r = id ? s_subnets(m, id, NULL, 0, &err) : NULL;
    CHECK(r && r->n_subnets == 1, "the instance's subnets: %s", r ? "count" : err.message);
    En__NetworkInterfacesRequest q = EN__NETWORK_INTERFACES_REQUEST__INIT;
    q.instance_id = id;
    En__NetworkInterfacesResult *nics =
        id ? conf_call("NetworkInterfaces", m, &q, &en__network_interfaces_result__descriptor, &err)
           : NULL;
    CHECK(r && nics && nics->n_interfaces == 1 && r->n_subnets == 1 &&
              strcmp(r->subnets[0]->provider_id, nics->interfaces[0]->provider_subnet_id) == 0,
          "the instance's subnet is its NIC's");
    FREE(nics);
    FREE(r);
    r = s_subnets(m, "i-0000000000000bad", NULL, 0, &err);
    CHECK(!r, "unknown instance");
    CHECK_ERR(err, EN_NOT_FOUND, "instance \"i-0000000000000bad\" not found");
    FREE(r);
    free(id);
    free(cloud);
    en_sim_cloud_close(&sim);
    free(m);
}

//  83. NetworkInterfaces: one InterfaceInfo per NIC, device 0 the
//  primary, every field filled from the cloud.
void
s083_network_interfaces(void)
{
    char *m = s_model("net83", "sim");
    en_sim_cloud_t *sim = s_sim();
    const char *placed[] = {SUBNET("a", "internal"), SUBNET("a", "dmz"), SUBNET("a", "storage")};
    char *host = s_host(sim, "nics83", placed, 3);
    En__NetworkInterfacesRequest q = EN__NETWORK_INTERFACES_REQUEST__INIT;
    q.instance_id = host;
    en_err_t err;
    En__NetworkInterfacesResult *r =
        host ? conf_call("NetworkInterfaces", m, &q, &en__network_interfaces_result__descriptor,
                         &err)
             : NULL;
    CHECK(r && r->n_interfaces == 3, "three NICs: %s", r ? "count" : err.message);
    for (size_t i = 0; r && i < r->n_interfaces; i++) {
        const En__InterfaceInfo *n = r->interfaces[i];
        CHECK(n->device_index == (int)i, "device index %zu", i);
        CHECK(strcmp(n->provider_subnet_id, placed[i]) == 0, "NIC %zu in %s", i, placed[i]);
        CHECK(*n->mac_address && *n->cidr && *n->provider_id && *n->provider_space_id &&
                  *n->interface_name && *n->interface_type && *n->config_type &&
                  n->n_availability_zones == 1 && n->mtu > 0 && n->n_dns_servers > 0 &&
                  n->gateway_address && n->address,
              "NIC %zu has every field", i);
        CHECK(n->address && s_in_cidr(n->address->value, n->cidr) &&
                  strcmp(n->address->type, "ipv4") == 0 &&
                  strcmp(n->address->scope, "local-cloud") == 0,
              "NIC %zu's address is a cloud-local IPv4 of its subnet", i);
    }
    CHECK(r && r->n_interfaces == 3 && r->interfaces[2]->vlan_tag == 42,
          "the storage NIC is on its VLAN");
    FREE(r);
    q.instance_id = "i-0000000000000bad";
    r = conf_call("NetworkInterfaces", m, &q, &en__network_interfaces_result__descriptor, &err);
    CHECK(!r, "unknown instance");
    CHECK_ERR(err, EN_NOT_FOUND, "instance \"i-0000000000000bad\" not found");
    FREE(r);
    free(host);
    en_sim_cloud_close(&sim);
    free(m);
}

//  84. Spaces: the cloud's spaces under Juju names, each with its
//  subnets; NOT_SUPPORTED `spaces not supported` without spaces.
void
s084_spaces(void)
{
    char *m = s_model("net84", "sim"), *lxd = s_model("lxd84", "localhost");
    En__SpacesRequest q = EN__SPACES_REQUEST__INIT;
    en_err_t err;
    En__SpacesResult *r = conf_call("Spaces", m, &q, &en__spaces_result__descriptor, &err);
    CHECK(r && r->n_spaces == 3, "three spaces in %s: %s", REGION, r ? "count" : err.message);
    for (size_t i = 0; r && i < r->n_spaces; i++) {
        const En__SpaceInfo *s = r->spaces[i];
        char *juju = en_space_name_convert(s->name, NULL, 0);
        CHECK(strcmp(juju, s->name) == 0, "space %s has a Juju name", s->name);
        free(juju);
        CHECK(*s->provider_id && s->n_subnets > 0, "space %s has an id and subnets", s->name);
        for (size_t k = 0; k < s->n_subnets; k++)
            CHECK(strcmp(s->subnets[k]->space_provider_id, s->provider_id) == 0,
                  "subnet %s is in space %s", s->subnets[k]->provider_id, s->name);
    }
    FREE(r);
    r = conf_call("Spaces", lxd, &q, &en__spaces_result__descriptor, &err);
    CHECK(!r, "lxd has no spaces");
    CHECK_ERR(err, EN_NOT_SUPPORTED, "spaces not supported");
    FREE(r);
    free(m);
    free(lxd);
}

static En__AllocateContainerAddressesResult *
s_allocate(const char *model, const char *host, const char *tag, en_err_t *err)
{
    En__InterfaceInfo eth0 = EN__INTERFACE_INFO__INIT;
    eth0.interface_name = "eth0";
    En__InterfaceInfo *prepared[] = {&eth0};
    En__AllocateContainerAddressesRequest q = EN__ALLOCATE_CONTAINER_ADDRESSES_REQUEST__INIT;
    q.host_instance_id = (char *)host;
    q.container_tag = (char *)tag;
    q.prepared = prepared;
    q.n_prepared = 1;
    return conf_call("AllocateContainerAddresses", model, &q,
                     &en__allocate_container_addresses_result__descriptor, err);
}

static En__ReleaseContainerAddressesResult *
s_release(const char *model, const char *provider_id, en_err_t *err)
{
    En__ProviderInterfaceInfo ref = EN__PROVIDER_INTERFACE_INFO__INIT;
    ref.interface_name = "eth0";
    ref.provider_id = (char *)provider_id;
    En__ProviderInterfaceInfo *refs[] = {&ref};
    En__ReleaseContainerAddressesRequest q = EN__RELEASE_CONTAINER_ADDRESSES_REQUEST__INIT;
    q.interfaces = refs;
    q.n_interfaces = 1;
    return conf_call("ReleaseContainerAddresses", model, &q,
                     &en__release_container_addresses_result__descriptor, err);
}

static size_t
s_container_nics(en_sim_cloud_t *sim)
{
    en_sim_nic_t *nics = NULL;
    size_t n = 0;
    en_err_t err;
    if (!sim || en_sim_cloud_container_nics(sim, REGION, &nics, &n, &err))
        return SIZE_MAX;
    free(nics);
    return n;
}

//  85. AllocateContainerAddresses / ReleaseContainerAddresses: static
//  addresses from the host's subnets on the sim, the same ones when asked
//  again; NOT_SUPPORTED `container address allocation not supported`
//  where the provider has none (the caller falls back to DHCP).
void
s085_container_addresses(void)
{
    char *m = s_model("net85", "sim"), *lxd = s_model("lxd85", "localhost");
    en_sim_cloud_t *sim = s_sim();
    char *host = s_start(m, "4");
    en_err_t err;
    En__AllocateContainerAddressesResult *r =
        host ? s_allocate(m, host, "machine-4-lxd-0", &err) : NULL;
    CHECK(r && r->n_interfaces == 1, "one NIC for the container: %s", r ? "count" : err.message);
    const En__InterfaceInfo *n = r && r->n_interfaces ? r->interfaces[0] : NULL;
    CHECK(n && n->address && s_in_cidr(n->address->value, n->cidr) &&
              strcmp(n->config_type, "static") == 0 && n->device_index == 0 &&
              strcmp(n->interface_name, "eth0") == 0,
          "a static address in the subnet");
    En__AllocateContainerAddressesResult *again =
        host ? s_allocate(m, host, "machine-4-lxd-0", &err) : NULL;
    CHECK(n && again && again->n_interfaces == 1 &&
              strcmp(again->interfaces[0]->address->value, n->address->value) == 0,
          "asked again, the same address");
    FREE(again);
    CHECK(s_container_nics(sim) == 1, "one container NIC in the cloud");
    En__ReleaseContainerAddressesResult *rel = n ? s_release(m, n->provider_id, &err) : NULL;
    CHECK(rel != NULL, "release: %s", err.message);
    FREE(rel);
    CHECK(s_container_nics(sim) == 0, "none left after release");
    rel = n ? s_release(m, n->provider_id, &err) : NULL;
    CHECK(rel != NULL, "releasing twice is fine: %s", err.message);
    FREE(rel);
    FREE(r);
    r = s_allocate(m, host ? host : "i-x", "machine-4", &err);
    CHECK(!r, "a machine is not a container");
    CHECK_ERR(err, EN_NOT_VALID,
              "cannot prepare network config for \"machine-4\": not a container");
    FREE(r);
    r = s_allocate(lxd, "juju-1", "machine-1-lxd-0", &err);
    CHECK(!r, "lxd allocates nothing");
    CHECK_ERR(err, EN_NOT_SUPPORTED, "container address allocation not supported");
    FREE(r);
    rel = s_release(lxd, "eni-1", &err);
    CHECK(!rel, "lxd releases nothing");
    CHECK_ERR(err, EN_NOT_SUPPORTED, "container address allocation not supported");
    FREE(rel);
    free(host);
    en_sim_cloud_close(&sim);
    free(m);
    free(lxd);
}

//  86. SupportsContainerAddresses: (true), or NOT_SUPPORTED `container
//  address allocation not supported`.
void
s086_supports_container_addresses(void)
{
    char *m = s_model("net86", "sim"), *lxd = s_model("lxd86", "localhost");
    En__SupportsContainerAddressesRequest q = EN__SUPPORTS_CONTAINER_ADDRESSES_REQUEST__INIT;
    en_err_t err;
    En__SupportsContainerAddressesResult *r =
        conf_call("SupportsContainerAddresses", m, &q,
                  &en__supports_container_addresses_result__descriptor, &err);
    CHECK(r && r->supported, "sim: %s", r ? "false" : err.message);
    FREE(r);
    r = conf_call("SupportsContainerAddresses", lxd, &q,
                  &en__supports_container_addresses_result__descriptor, &err);
    CHECK(!r, "lxd: no result");
    CHECK_ERR(err, EN_NOT_SUPPORTED, "container address allocation not supported");
    FREE(r);
    free(m);
    free(lxd);
}

//  87. The broken-method harness: a cloud method broken with the sim's
//  fail.<method> knob makes the networking method fail with that kind and
//  message, and no result; unbroken, it works again.
void
s087_broken_methods(void)
{
    char *m = s_model("net87", "sim");
    en_sim_cloud_t *sim = s_sim();
    char *host = s_start(m, "7");
    en_err_t err;
    struct {
        const char *knob, *value, *kind_msg;
        en_kind_t kind;
    } cases[] = {
        {"fail.subnets", "NOT_FOUND", "sim.subnets is broken", EN_NOT_FOUND},
        {"fail.interfaces", "INTERNAL", "sim.interfaces is broken", EN_INTERNAL},
        {"fail.spaces", "UNAVAILABLE count 1 spaces are down", "spaces are down", EN_UNAVAILABLE},
        {"fail.allocate_container_addresses", "UNAUTHORIZED",
         "sim.allocate_container_addresses is broken", EN_UNAUTHORIZED},
        {"fail.release_container_addresses", "INTERNAL",
         "sim.release_container_addresses is broken", EN_INTERNAL},
    };
    for (size_t i = 0; sim && host && i < sizeof cases / sizeof cases[0]; i++) {
        CHECK(en_sim_cloud_knob_set(sim, cases[i].knob, cases[i].value, &err) == 0, "%s: %s",
              cases[i].knob, err.message);
        void *r = NULL;
        switch (i) {
        case 0:
            r = s_subnets(m, NULL, NULL, 0, &err);
            break;
        case 1: {
            En__NetworkInterfacesRequest q = EN__NETWORK_INTERFACES_REQUEST__INIT;
            q.instance_id = host;
            r = conf_call("NetworkInterfaces", m, &q, &en__network_interfaces_result__descriptor,
                          &err);
            break;
        }
        case 2: {
            En__SpacesRequest q = EN__SPACES_REQUEST__INIT;
            r = conf_call("Spaces", m, &q, &en__spaces_result__descriptor, &err);
            break;
        }
        case 3:
            r = s_allocate(m, host, "machine-7-lxd-0", &err);
            break;
        default:
            r = s_release(m, "eni-0000000000000000", &err);
        }
        CHECK(!r, "%s: no result", cases[i].knob);
        CHECK_ERR(err, cases[i].kind, cases[i].kind_msg);
        FREE(r);
        en_sim_cloud_knob_set(sim, cases[i].knob, NULL, &err);
    }
    // repaired: the same calls answer
    En__SubnetsResult *s = s_subnets(m, NULL, NULL, 0, &err);
    CHECK(s && s->n_subnets > 0, "Subnets after repair: %s", s ? "empty" : err.message);
    FREE(s);
    En__AllocateContainerAddressesResult *a =
        host ? s_allocate(m, host, "machine-7-lxd-0", &err) : NULL;
    CHECK(a && a->n_interfaces == 1, "allocation after repair: %s", a ? "count" : err.message);
    FREE(a);
    free(host);
    en_sim_cloud_close(&sim);
    free(m);
}
