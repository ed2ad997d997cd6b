/*  lxd_network.c — the lxd provider's network API: a managed bridge
    network is a subnet, an instance's nic devices are its interfaces.

    LXD has no spaces, and no addresses for containers nested in an
    instance, so the flags say so and those entries stay NULL: the
    networking service answers Juju's NOT_SUPPORTED `spaces not supported`
    and `container address allocation not supported`.

    A subnet is a managed network of type bridge (GET /1.0/networks): its
    id is the network's name, which is what create's subnets name; its
    CIDR the network of the bridge's ipv4.address; its one zone the server
    (a standalone server is one zone: environment.server_name of GET
    /1.0). An instance's interfaces come from two reads: its expanded
    devices (profile devices included) say which nic is on which network,
    under which interface name, with which MAC (volatile.<dev>.hwaddr);
    its state says what the container has now (address, MTU, and the MAC
    when volatile has none yet). The bridge's own address is the gateway
    and DNS server, as LXD's dnsmasq serves both. A NIC whose state has no
    address (the instance is stopped, or its state lags) gets the one the
    bridge's DHCP leases give its MAC (GET /1.0/networks/<bridge>/leases:
    dnsmasq keeps a dynamic lease after the instance stops). Reads are not
    atomic across calls; an instance deleted between them is NOT_FOUND. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "providers/lxd/lxd_private.h"

#define S_ADDR_MAX 64

//  A managed bridge as a subnet sees it.
typedef struct {
    const char *name; // borrowed from the networks list
    char cidr[S_ADDR_MAX];
    char gateway[S_ADDR_MAX];
} s_bridge_t;

//  One nic device of an instance.
typedef struct {
    const char *device;  // "eth0", the device's key
    const char *ifname;  // its `name`, else the device key
    const char *network; // `network`, else `parent`; "" when neither
} s_nic_dev_t;

//  Copies for the answer; *oom set when one fails (the caller then
//  clears what it filled and answers INTERNAL).
static char *
s_dup(const char *text, bool *oom)
{
    char *copy = strdup(text ? text : "");
    *oom = *oom || !copy;
    return copy;
}

//  A malloc'd array of one copy of text; NULL (and *oom) when out of memory.
static char **
s_one(const char *text, bool *oom)
{
    char **array = calloc(1, sizeof *array);
    if (array && !(array[0] = strdup(text ? text : ""))) {
        free(array);
        array = NULL;
    }
    *oom = *oom || !array;
    return array;
}

static int
s_oom(en_err_t *err)
{
    return en_err_set(err, EN_INTERNAL, "out of memory");
}

//  "10.208.3.1/24" → cidr "10.208.3.0/24", gateway "10.208.3.1". Anything
//  else ("none", absent, IPv6, garbage) leaves both "".
static void
s_ipv4_network(const char *address, char cidr[S_ADDR_MAX], char gateway[S_ADDR_MAX])
{
    cidr[0] = gateway[0] = '\0';
    uint32_t addr;
    unsigned prefix;
    if (!lxd_ipv4_cidr(address, &addr, &prefix))
        return;
    uint32_t mask = prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);
    struct in_addr host = {.s_addr = htonl(addr)}, net = {.s_addr = htonl(addr & mask)};
    char text[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &net, text, sizeof text);
    snprintf(cidr, S_ADDR_MAX, "%s/%u", text, prefix);
    inet_ntop(AF_INET, &host, gateway, S_ADDR_MAX);
}

//  The zone every subnet is in: the server's name.
static int
s_zone(en_compute_t *self, const char **zone, en_err_t *err)
{
    const json_t *env = NULL;
    if (lxd_environment(self, &env, err))
        return -1;
    *zone = lxd_str(env, "server_name");
    return 0;
}

static int
s_bridge_cmp(const void *a, const void *b)
{
    return strcmp(((const s_bridge_t *)a)->name, ((const s_bridge_t *)b)->name);
}

//  The managed bridges, sorted by name. *networks holds the strings the
//  bridges borrow (json_decref it after).
static int
s_bridges(en_compute_t *self, json_t **networks, s_bridge_t **out, size_t *count, en_err_t *err)
{
    *out = NULL;
    *count = 0;
    if (en_lxd_call(self->lxd, "GET", "/1.0/networks?recursion=1", NULL, networks, NULL, 0, err))
        return -1;
    size_t n = json_array_size(*networks);
    *out = calloc(n ? n : 1, sizeof **out);
    if (!*out) {
        json_decref(*networks);
        *networks = NULL;
        return s_oom(err);
    }
    size_t i;
    json_t *net;
    json_array_foreach(*networks, i, net)
    {
        if (!json_is_true(json_object_get(net, "managed")) ||
            strcmp(lxd_str(net, "type"), "bridge") != 0 || !*lxd_str(net, "name"))
            continue;
        s_bridge_t *b = &(*out)[(*count)++];
        b->name = lxd_str(net, "name");
        s_ipv4_network(lxd_str(json_object_get(net, "config"), "ipv4.address"), b->cidr,
                       b->gateway);
    }
    qsort(*out, *count, sizeof **out, s_bridge_cmp);
    return 0;
}

static const s_bridge_t *
s_bridge_find(const s_bridge_t *bridges, size_t count, const char *name)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(bridges[i].name, name) == 0)
            return &bridges[i];
    return NULL;
}

//  GET path for an instance; LXD's 404 becomes Juju's wording, and so does
//  its 400 `Invalid instance name` (5.0.2, for a name with '/'): an
//  instance that cannot exist is not found.
static int
s_instance_get(en_compute_t *self, const char *id, const char *suffix, json_t **out, en_err_t *err)
{
    *out = NULL;
    if (!id || !*id)
        return en_err_set(err, EN_NOT_FOUND, "instance \"\" not found");
    char *name = en_lxd_escape(id);
    size_t len = name ? strlen(name) + strlen(suffix) + 32 : 0;
    char *path = name ? malloc(len) : NULL;
    if (!path) {
        free(name);
        return s_oom(err);
    }
    snprintf(path, len, "/1.0/instances/%s%s", name, suffix);
    int rc = en_lxd_call(self->lxd, "GET", path, NULL, out, NULL, 0, err);
    if (rc && err && (err->kind == EN_NOT_FOUND || err->kind == EN_NOT_VALID))
        en_err_set(err, EN_NOT_FOUND, "instance \"%s\" not found", id);
    free(path);
    free(name);
    return rc;
}

//  Interface names in their natural order: eth2 before eth10.
static int
s_nic_dev_cmp(const void *a, const void *b)
{
    return lxd_ifname_cmp(((const s_nic_dev_t *)a)->ifname, ((const s_nic_dev_t *)b)->ifname);
}

//  The nic devices of an instance (borrowing from inst), in interface
//  name order: their index is the device index. NULL: out of memory.
static s_nic_dev_t *
s_nic_devs(const json_t *inst, size_t *count)
{
    const json_t *devices = json_object_get(inst, "expanded_devices");
    s_nic_dev_t *devs = calloc(json_object_size(devices) + 1, sizeof *devs);
    *count = 0;
    if (!devs)
        return NULL;
    const char *key;
    json_t *dev;
    json_object_foreach((json_t *)devices, key, dev)
    {
        if (strcmp(lxd_str(dev, "type"), "nic") != 0)
            continue;
        s_nic_dev_t *d = &devs[(*count)++];
        d->device = key;
        d->ifname = *lxd_str(dev, "name") ? lxd_str(dev, "name") : key;
        d->network = *lxd_str(dev, "network") ? lxd_str(dev, "network") : lxd_str(dev, "parent");
    }
    qsort(devs, *count, sizeof *devs, s_nic_dev_cmp);
    return devs;
}

static int
s_subnet_fill(en_subnet_t *subnet, const s_bridge_t *bridge, const char *zone, en_err_t *err)
{
    bool oom = false;
    subnet->id = s_dup(bridge->name, &oom);
    subnet->cidr = s_dup(bridge->cidr, &oom);
    subnet->space_id = s_dup("", &oom);
    subnet->zones = s_one(zone, &oom);
    subnet->zone_count = subnet->zones ? 1 : 0;
    if (!oom)
        return 0;
    en_subnet_clear(subnet);
    return s_oom(err);
}

static int
s_subnets(en_compute_t *self, const char *instance_id, en_subnet_t **out, size_t *count,
          en_err_t *err)
{
    *out = NULL;
    *count = 0;
    json_t *inst = NULL, *networks = NULL;
    s_bridge_t *bridges = NULL;
    s_nic_dev_t *devs = NULL;
    size_t bridge_count = 0, dev_count = 0;
    const char *zone = NULL;
    int rc = -1;
    if (instance_id && s_instance_get(self, instance_id, "", &inst, err))
        goto cleanup;
    if (s_bridges(self, &networks, &bridges, &bridge_count, err) || s_zone(self, &zone, err))
        goto cleanup;
    if (inst && !(devs = s_nic_devs(inst, &dev_count))) {
        s_oom(err);
        goto cleanup;
    }
    if (!(*out = calloc(bridge_count ? bridge_count : 1, sizeof **out))) {
        s_oom(err);
        goto cleanup;
    }
    // bridges are sorted by name, so the subnets are too, each once
    for (size_t i = 0; i < bridge_count; i++) {
        bool wanted = !inst;
        for (size_t k = 0; k < dev_count && !wanted; k++)
            wanted = strcmp(devs[k].network, bridges[i].name) == 0;
        if (!wanted)
            continue;
        if (s_subnet_fill(&(*out)[*count], &bridges[i], zone, err)) {
            en_subnets_free(out, *count);
            *count = 0;
            goto cleanup;
        }
        (*count)++;
    }
    rc = 0;
cleanup:
    free(devs);
    free(bridges);
    json_decref(networks);
    json_decref(inst);
    return rc;
}

static int
s_nic_fill(en_nic_t *nic, int index, const char *instance_id, const s_nic_dev_t *dev,
           const json_t *inst, const json_t *state, const s_bridge_t *bridge, const char *zone,
           en_err_t *err)
{
    bool oom = false;
    const json_t *ifstate = json_object_get(json_object_get(state, "network"), dev->ifname);
    char key[256];
    snprintf(key, sizeof key, "volatile.%s.hwaddr", dev->device);
    const char *mac = lxd_str(json_object_get(inst, "config"), key);
    char provider_id[512];
    snprintf(provider_id, sizeof provider_id, "%s/%s", instance_id, dev->device);
    const char *gateway = bridge ? bridge->gateway : "";

    nic->device_index = index;
    nic->mac = s_dup(*mac ? mac : lxd_str(ifstate, "hwaddr"), &oom);
    nic->cidr = s_dup(bridge ? bridge->cidr : "", &oom);
    nic->provider_id = s_dup(provider_id, &oom);
    nic->subnet_id = s_dup(dev->network, &oom);
    nic->space_id = s_dup("", &oom);
    nic->vlan_id = s_dup("", &oom);
    nic->address_id = s_dup("", &oom);
    nic->zones = s_one(zone, &oom);
    nic->zone_count = nic->zones ? 1 : 0;
    nic->interface_name = s_dup(dev->ifname, &oom);
    nic->parent_interface_name = s_dup(dev->network, &oom);
    nic->interface_type = s_dup("ethernet", &oom);
    nic->config_type = s_dup("dhcp", &oom);
    nic->address = s_dup(lxd_if_ipv4(ifstate, 0), &oom); // the first, or ""
    if (*gateway) {
        nic->dns_servers = s_one(gateway, &oom);
        nic->dns_server_count = nic->dns_servers ? 1 : 0;
    }
    nic->mtu = (int)json_integer_value(json_object_get(ifstate, "mtu"));
    nic->gateway = s_dup(gateway, &oom);
    if (!oom)
        return 0;
    en_nic_clear(nic);
    return s_oom(err);
}

//  The IPv4 address bridge's DHCP leases give mac (a dynamic lease or a
//  static allocation), copied into nic->address; nothing when the leases
//  cannot be read or name none (the address stays unknown, "").
static int
s_lease_address(en_compute_t *self, const char *bridge, en_nic_t *nic, en_err_t *err)
{
    if (!bridge || !*bridge || !nic->mac || !*nic->mac)
        return 0;
    char path[256];
    lxd_path(path, sizeof path, "/1.0/networks/", bridge, "/leases");
    json_t *leases = NULL;
    en_err_t ignored;
    if (lxd_call(self, "GET", path, NULL, &leases, 0, &ignored))
        return 0;
    size_t i;
    json_t *lease;
    const char *found = NULL;
    json_array_foreach(leases, i, lease)
    {
        const char *type = lxd_str(lease, "type"), *address = lxd_str(lease, "address");
        struct in_addr a;
        if (!found && strcasecmp(lxd_str(lease, "hwaddr"), nic->mac) == 0 &&
            (strcmp(type, "dynamic") == 0 || strcmp(type, "static") == 0) &&
            inet_pton(AF_INET, address, &a) == 1)
            found = address;
    }
    int rc = 0;
    if (found) {
        char *copy = strdup(found);
        if (!copy)
            rc = s_oom(err);
        else {
            free(nic->address);
            nic->address = copy;
        }
    }
    json_decref(leases);
    return rc;
}

static int
s_interfaces(en_compute_t *self, const char *instance_id, en_nic_t **out, size_t *count,
             en_err_t *err)
{
    *out = NULL;
    *count = 0;
    json_t *inst = NULL, *state = NULL, *networks = NULL;
    s_bridge_t *bridges = NULL;
    s_nic_dev_t *devs = NULL;
    size_t bridge_count = 0, dev_count = 0;
    const char *zone = NULL;
    int rc = -1;
    if (s_instance_get(self, instance_id, "", &inst, err) ||
        s_instance_get(self, instance_id, "/state", &state, err) ||
        s_bridges(self, &networks, &bridges, &bridge_count, err) || s_zone(self, &zone, err))
        goto cleanup;
    if (!(devs = s_nic_devs(inst, &dev_count)) ||
        !(*out = calloc(dev_count ? dev_count : 1, sizeof **out))) {
        s_oom(err);
        goto cleanup;
    }
    for (size_t i = 0; i < dev_count; i++) {
        const s_bridge_t *bridge = s_bridge_find(bridges, bridge_count, devs[i].network);
        en_nic_t *nic = &(*out)[i];
        if (s_nic_fill(nic, (int)i, instance_id, &devs[i], inst, state, bridge, zone, err)) {
            en_nics_free(out, i);
            goto cleanup;
        }
        if (!*nic->address && bridge && s_lease_address(self, bridge->name, nic, err)) {
            en_nics_free(out, i + 1);
            goto cleanup;
        }
    }
    *count = dev_count;
    rc = 0;
cleanup:
    free(devs);
    free(bridges);
    json_decref(networks);
    json_decref(state);
    json_decref(inst);
    return rc;
}

const en_network_ops_t lxd_network_ops = {
    .spaces = false,
    .space_discovery = false,
    .container_addresses = false,
    .subnets = s_subnets,
    .interfaces = s_interfaces,
    // spaces_list, allocate_container, release_container: NULL (see above)
};
