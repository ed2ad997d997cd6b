/*  The lxd provider's network API (lxd_network.c) against the real daemon
    (LXD 5.0.2, the unix socket).

    The group set-up makes two managed bridges of its own, ennt<pid hex>a
    and ...b, each on a free /24 of 10.209.0.0/16 (no NAT, no IPv6, DHCP
    on), and one busybox container (image environs/busybox, pool default,
    from scripts/lxd-setup.sh) with a NIC on each, whose device keys sort
    the other way round from their interface names: nic-b is eth0 on
    bridge a (DHCP in the image), nic-a is eth1 on bridge b (no address).
    Two NICs of one instance cannot share a managed bridge in 5.0.2
    (`Instance DNS name "<n>" already used on network`). It polls the
    container's state with a deadline until eth0 has its address. Only
    those bridges and that container are ever contacted; the group
    teardown, which cmocka runs after a failed set-up too, removes them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "providers/lxd/lxd_private.h"

#define S_IMAGE "environs/busybox"
#define S_POOL "default"
#define S_ADDRESS_DEADLINE_MS 30000

typedef struct {
    char name[16];
    char gateway[32]; // 10.209.<n>.1
    char cidr[32];    // 10.209.<n>.0/24
    bool made;
} s_bridge_t;

typedef struct {
    en_lxd_t *lxd;
    en_compute_t conn;
    s_bridge_t bridges[2]; // eth0's (nic-b), eth1's (nic-a); names in that order
    char instance[64];
    char address[32]; // eth0's, by DHCP
    char zone[256];   // environment.server_name
    bool instance_made;
} fixture_t;

static fixture_t s_fx;

static void
s_ok(int rc, const en_err_t *err, const char *what)
{
    if (rc != 0)
        fail_msg("%s: %s: %s", what, en_kind_name(err->kind), err->message);
}

static long
s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

//  Set-up failures: said on stderr, the set-up then undoes what it made.
static int
s_setup_failed(const char *what, const en_err_t *err)
{
    fprintf(stderr, "set-up: %s: %s\n", what, err ? err->message : "");
    return -1;
}

//  The third octets of 10.209.x.0/24 some network already uses.
static int
s_taken_octets(bool taken[256])
{
    json_t *nets = NULL;
    en_err_t err;
    if (en_lxd_call(s_fx.lxd, "GET", "/1.0/networks?recursion=1", NULL, &nets, NULL, 0, &err))
        return s_setup_failed("list networks", &err);
    size_t i;
    json_t *net;
    json_array_foreach(nets, i, net)
    {
        const char *a =
            json_string_value(json_object_get(json_object_get(net, "config"), "ipv4.address"));
        int x;
        if (a && sscanf(a, "10.209.%d.", &x) == 1 && x >= 0 && x < 256)
            taken[x] = true;
    }
    json_decref(nets);
    return 0;
}

static int
s_make_bridge(s_bridge_t *b)
{
    bool taken[256] = {false};
    if (s_taken_octets(taken))
        return -1;
    en_err_t err = {0};
    int start = 10 + (int)(getpid() % 200);
    for (int k = 0; k < 200; k++) {
        int x = 10 + (start - 10 + k) % 200;
        if (taken[x])
            continue;
        snprintf(b->gateway, sizeof b->gateway, "10.209.%d.1", x);
        snprintf(b->cidr, sizeof b->cidr, "10.209.%d.0/24", x);
        char addr[40];
        snprintf(addr, sizeof addr, "%s/24", b->gateway);
        json_t *body =
            json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s}}", "name", b->name, "type", "bridge",
                      "description", "environs lxd network test", "config", "ipv4.address", addr,
                      "ipv4.nat", "false", "ipv6.address", "none", "ipv4.dhcp", "true");
        int rc = en_lxd_call(s_fx.lxd, "POST", "/1.0/networks", body, NULL, NULL, 0, &err);
        json_decref(body);
        if (rc == 0) {
            b->made = true;
            return 0;
        }
        // another network took that /24 meanwhile: the next one
    }
    return s_setup_failed("no bridge made in 10.209.0.0/16", &err);
}

static int
s_make_instance(void)
{
    en_err_t err;
    json_t *body = json_pack(
        "{s:s, s:{s:s, s:s}, s:[], s:{s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s}}}",
        "name", s_fx.instance, "source", "type", "image", "alias", S_IMAGE, "profiles", "devices",
        "nic-b", "type", "nic", "network", s_fx.bridges[0].name, "name", "eth0", "nic-a", "type",
        "nic", "network", s_fx.bridges[1].name, "name", "eth1", "root", "type", "disk", "path", "/",
        "pool", S_POOL);
    int rc = en_lxd_call(s_fx.lxd, "POST", "/1.0/instances", body, NULL, NULL, 120000, &err);
    json_decref(body);
    if (rc)
        return s_setup_failed("create the container", &err);
    s_fx.instance_made = true;
    char path[128];
    snprintf(path, sizeof path, "/1.0/instances/%s/state", s_fx.instance);
    body = json_pack("{s:s, s:i}", "action", "start", "timeout", 30);
    rc = en_lxd_call(s_fx.lxd, "PUT", path, body, NULL, NULL, 60000, &err);
    json_decref(body);
    return rc ? s_setup_failed("start the container", &err) : 0;
}

//  Poll the state (with a deadline) until eth0 has a global IPv4 address.
static int
s_wait_address(void)
{
    char path[128];
    snprintf(path, sizeof path, "/1.0/instances/%s/state", s_fx.instance);
    long deadline = s_now_ms() + S_ADDRESS_DEADLINE_MS;
    for (;;) {
        json_t *state = NULL;
        en_err_t err;
        if (en_lxd_call(s_fx.lxd, "GET", path, NULL, &state, NULL, 0, &err))
            return s_setup_failed("state", &err);
        json_t *addrs = json_object_get(json_object_get(json_object_get(state, "network"), "eth0"),
                                        "addresses");
        size_t i;
        json_t *a;
        json_array_foreach(addrs, i, a)
        {
            if (strcmp(json_string_value(json_object_get(a, "family")), "inet") == 0 &&
                strcmp(json_string_value(json_object_get(a, "scope")), "global") == 0)
                snprintf(s_fx.address, sizeof s_fx.address, "%s",
                         json_string_value(json_object_get(a, "address")));
        }
        json_decref(state);
        if (*s_fx.address)
            return 0;
        if (s_now_ms() > deadline)
            return s_setup_failed("no address on eth0 within 30 s", NULL);
        struct timespec poll = {0, 50 * 1000000L};
        nanosleep(&poll, NULL);
    }
}

static int
s_group_setup(void **state)
{
    (void)state;
    en_err_t err;
    en_lxd_config_t cfg = {0};
    s_fx.lxd = en_lxd_new(&cfg, &err);
    if (!s_fx.lxd) {
        fprintf(stderr, "en_lxd_new: %s\n", err.message);
        return -1;
    }
    const json_t *server = NULL;
    if (en_lxd_server(s_fx.lxd, &server, &err)) {
        fprintf(stderr, "GET /1.0: %s\n", err.message);
        return -1;
    }
    snprintf(
        s_fx.zone, sizeof s_fx.zone, "%s",
        json_string_value(json_object_get(json_object_get(server, "environment"), "server_name")));
    s_fx.conn.lxd = s_fx.lxd;
    s_fx.conn.region = "localhost";
    // eth0's bridge sorts first
    snprintf(s_fx.bridges[0].name, 16, "ennt%xa", (unsigned)getpid() & 0xfffffu);
    snprintf(s_fx.bridges[1].name, 16, "ennt%xb", (unsigned)getpid() & 0xfffffu);
    snprintf(s_fx.instance, sizeof s_fx.instance, "en-nettest-%d", (int)getpid());
    // on failure cmocka still runs the group teardown, which undoes it
    if (s_make_bridge(&s_fx.bridges[0]) || s_make_bridge(&s_fx.bridges[1]) || s_make_instance() ||
        s_wait_address())
        return -1;
    return 0;
}

static int
s_group_teardown(void **state)
{
    (void)state;
    if (!s_fx.lxd)
        return 0;
    en_err_t err;
    char path[128];
    int rc = 0;
    if (s_fx.instance_made) {
        snprintf(path, sizeof path, "/1.0/instances/%s/state", s_fx.instance);
        json_t *body = json_pack("{s:s, s:b, s:i}", "action", "stop", "force", 1, "timeout", 30);
        en_lxd_call(s_fx.lxd, "PUT", path, body, NULL, NULL, 60000, &err);
        json_decref(body);
        snprintf(path, sizeof path, "/1.0/instances/%s", s_fx.instance);
        if (en_lxd_call(s_fx.lxd, "DELETE", path, NULL, NULL, NULL, 60000, &err) &&
            err.kind != EN_NOT_FOUND) {
            fprintf(stderr, "delete %s: %s\n", s_fx.instance, err.message);
            rc = -1;
        }
        s_fx.instance_made = false;
    }
    for (int i = 0; i < 2; i++) {
        if (!s_fx.bridges[i].made)
            continue;
        snprintf(path, sizeof path, "/1.0/networks/%s", s_fx.bridges[i].name);
        if (en_lxd_call(s_fx.lxd, "DELETE", path, NULL, NULL, NULL, 0, &err) &&
            err.kind != EN_NOT_FOUND) {
            fprintf(stderr, "delete %s: %s\n", s_fx.bridges[i].name, err.message);
            rc = -1;
        }
        s_fx.bridges[i].made = false;
    }
    en_lxd_destroy(&s_fx.lxd);
    return rc;
}

//  --------------------------------------------------------------------------

static void
flags_say_no_spaces_and_no_container_addresses(void **state)
{
    (void)state;
    assert_false(lxd_network_ops.spaces);
    assert_false(lxd_network_ops.space_discovery);
    assert_false(lxd_network_ops.container_addresses);
    assert_null(lxd_network_ops.spaces_list);
    assert_null(lxd_network_ops.allocate_container);
    assert_null(lxd_network_ops.release_container);
    assert_non_null(lxd_network_ops.subnets);
    assert_non_null(lxd_network_ops.interfaces);
}

static void
subnets_are_the_managed_bridges_by_name(void **state)
{
    (void)state;
    en_subnet_t *subnets = NULL;
    size_t n = 0;
    en_err_t err;
    s_ok(lxd_network_ops.subnets(&s_fx.conn, NULL, &subnets, &n, &err), &err, "subnets");
    const en_subnet_t *ours[2] = {NULL, NULL};
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            assert_true(strcmp(subnets[i - 1].id, subnets[i].id) < 0);
        assert_string_not_equal(subnets[i].id, "eth0"); // the unmanaged physical NIC
        assert_string_not_equal(subnets[i].id, "lo");
        assert_int_equal(subnets[i].zone_count, 1);
        assert_string_equal(subnets[i].zones[0], s_fx.zone);
        assert_string_equal(subnets[i].space_id, "");
        assert_int_equal(subnets[i].vlan_tag, 0);
        for (int k = 0; k < 2; k++)
            if (strcmp(subnets[i].id, s_fx.bridges[k].name) == 0)
                ours[k] = &subnets[i];
    }
    for (int k = 0; k < 2; k++) {
        assert_non_null(ours[k]);
        assert_string_equal(ours[k]->cidr, s_fx.bridges[k].cidr);
    }
    en_subnets_free(&subnets, n);
}

static void
subnets_of_an_instance_are_its_nics_networks(void **state)
{
    (void)state;
    en_subnet_t *subnets = NULL;
    size_t n = 0;
    en_err_t err;
    s_ok(lxd_network_ops.subnets(&s_fx.conn, s_fx.instance, &subnets, &n, &err), &err,
         "subnets of the instance");
    assert_int_equal(n, 2);
    for (int k = 0; k < 2; k++) {
        assert_string_equal(subnets[k].id, s_fx.bridges[k].name);
        assert_string_equal(subnets[k].cidr, s_fx.bridges[k].cidr);
        assert_int_equal(subnets[k].zone_count, 1);
        assert_string_equal(subnets[k].zones[0], s_fx.zone);
    }
    en_subnets_free(&subnets, n);
}

static void
interfaces_follow_interface_names(void **state)
{
    (void)state;
    en_nic_t *nics = NULL;
    size_t n = 0;
    en_err_t err;
    s_ok(lxd_network_ops.interfaces(&s_fx.conn, s_fx.instance, &nics, &n, &err), &err,
         "interfaces");
    assert_int_equal(n, 2);

    // what LXD says about the devices, to compare with
    json_t *inst = NULL, *st = NULL;
    char path[128];
    snprintf(path, sizeof path, "/1.0/instances/%s", s_fx.instance);
    s_ok(en_lxd_call(s_fx.lxd, "GET", path, NULL, &inst, NULL, 0, &err), &err, "instance");
    snprintf(path, sizeof path, "/1.0/instances/%s/state", s_fx.instance);
    s_ok(en_lxd_call(s_fx.lxd, "GET", path, NULL, &st, NULL, 0, &err), &err, "state");
    const json_t *config = json_object_get(inst, "config");
    const json_t *net = json_object_get(st, "network");

    const char *devices[] = {"nic-b", "nic-a"};
    const char *ifnames[] = {"eth0", "eth1"};
    for (int i = 0; i < 2; i++) {
        const en_nic_t *nic = &nics[i];
        char key[64], id[128];
        snprintf(key, sizeof key, "volatile.%s.hwaddr", devices[i]);
        snprintf(id, sizeof id, "%s/%s", s_fx.instance, devices[i]);
        assert_int_equal(nic->device_index, i);
        assert_string_equal(nic->interface_name, ifnames[i]);
        assert_string_equal(nic->provider_id, id);
        assert_string_equal(nic->mac, json_string_value(json_object_get(config, key)));
        assert_string_equal(nic->mac, json_string_value(json_object_get(
                                          json_object_get(net, ifnames[i]), "hwaddr")));
        const s_bridge_t *b = &s_fx.bridges[i];
        assert_string_equal(nic->subnet_id, b->name);
        assert_string_equal(nic->parent_interface_name, b->name);
        assert_string_equal(nic->cidr, b->cidr);
        assert_string_equal(nic->interface_type, "ethernet");
        assert_string_equal(nic->config_type, "dhcp");
        assert_string_equal(nic->gateway, b->gateway);
        assert_int_equal(nic->dns_server_count, 1);
        assert_string_equal(nic->dns_servers[0], b->gateway);
        assert_int_equal(nic->zone_count, 1);
        assert_string_equal(nic->zones[0], s_fx.zone);
        assert_int_equal(nic->mtu, 1500);
        assert_string_equal(nic->space_id, "");
        assert_string_equal(nic->vlan_id, "");
        assert_string_equal(nic->address_id, "");
        assert_int_equal(nic->vlan_tag, 0);
        assert_false(nic->disabled);
        assert_false(nic->no_auto_start);
    }
    assert_string_equal(nics[0].address, s_fx.address); // DHCP on eth0 only
    assert_string_equal(nics[1].address, "");
    assert_string_not_equal(nics[0].mac, nics[1].mac);
    json_decref(inst);
    json_decref(st);
    en_nics_free(&nics, n);
}

//  Stopped, the instance has no network state; its eth0 keeps the address
//  of its DHCP lease (dnsmasq keeps the lease), eth1 (no DHCP in the
//  image) has none. Last: the instance stays stopped.
static void
interfaces_of_a_stopped_instance_come_from_the_leases(void **state)
{
    (void)state;
    en_err_t err;
    char path[128];
    snprintf(path, sizeof path, "/1.0/instances/%s/state", s_fx.instance);
    json_t *body = json_pack("{s:s, s:b, s:i}", "action", "stop", "force", 1, "timeout", 30);
    s_ok(en_lxd_call(s_fx.lxd, "PUT", path, body, NULL, NULL, 60000, &err), &err, "stop");
    json_decref(body);
    json_t *st = NULL;
    s_ok(en_lxd_call(s_fx.lxd, "GET", path, NULL, &st, NULL, 0, &err), &err, "state");
    assert_string_equal(json_string_value(json_object_get(st, "status")), "Stopped");
    assert_true(json_object_size(json_object_get(st, "network")) == 0);
    json_decref(st);

    en_nic_t *nics = NULL;
    size_t n = 0;
    s_ok(lxd_network_ops.interfaces(&s_fx.conn, s_fx.instance, &nics, &n, &err), &err,
         "interfaces");
    assert_int_equal(n, 2);
    assert_string_equal(nics[0].interface_name, "eth0");
    assert_string_equal(nics[0].address, s_fx.address);
    assert_string_equal(nics[1].address, "");
    assert_int_equal(nics[0].mtu, 0); // unknown while stopped
    en_nics_free(&nics, n);
}

static void
unknown_instances_are_not_found(void **state)
{
    (void)state;
    en_err_t err;
    en_subnet_t *subnets = NULL;
    en_nic_t *nics = NULL;
    size_t n = 7;
    const char *id = "en-nettest-none";
    assert_int_equal(lxd_network_ops.subnets(&s_fx.conn, id, &subnets, &n, &err), -1);
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_string_equal(err.message, "instance \"en-nettest-none\" not found");
    assert_null(subnets);
    assert_int_equal(n, 0);
    assert_int_equal(lxd_network_ops.interfaces(&s_fx.conn, id, &nics, &n, &err), -1);
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_string_equal(err.message, "instance \"en-nettest-none\" not found");
    assert_null(nics);
    // a name that needs escaping is looked up as itself
    assert_int_equal(lxd_network_ops.interfaces(&s_fx.conn, "a b/../c", &nics, &n, &err), -1);
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_string_equal(err.message, "instance \"a b/../c\" not found");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(flags_say_no_spaces_and_no_container_addresses),
        cmocka_unit_test(subnets_are_the_managed_bridges_by_name),
        cmocka_unit_test(subnets_of_an_instance_are_its_nics_networks),
        cmocka_unit_test(interfaces_follow_interface_names),
        cmocka_unit_test(unknown_instances_are_not_found),
        cmocka_unit_test(interfaces_of_a_stopped_instance_come_from_the_leases),
    };
    return cmocka_run_group_tests(tests, s_group_setup, s_group_teardown);
}
