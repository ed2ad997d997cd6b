/*  e2e: the cloud's networks through the `environs` CLI — spaces, subnets
    filtered by space and by zone, and a machine's NICs in show-machine —
    against real gateway, registry, broker, firewaller and networking
    processes on loopback and the sim cloud.

    The tests run in order and share one set of processes and one home:
    the first bootstraps controller c1 on sim/sim-east and adds two
    machines to its "default" model, the second in zone sim-east-b; the
    others read. sim-east (10.1.0.0/16) has three spaces: internal (one
    /18 per zone, each zone's default subnet), dmz (a /20 in zones a and
    b) and storage (a /20 on VLAN 42 in zones c and a). The last test
    replaces the networking service with one in this process that answers
    as a cloud without spaces does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <czmq.h>
#include <jansson.h>
#include <signal.h>

#include "common/log.h"
#include "common/paths.h"
#include "environ.pb-c.h"
#include "harness.h"
#include "harness_must.h"
#include "service/bus_fixture.h"

static harness_t H;
static int NETWORKING; // harness index, to replace it with a cloud without spaces

static int
setup(void **state)
{
    (void)state;
    setenv("ENVIRONS_RETRY_SCALE", "0.05", 1);
    zsys_handler_set(NULL);
    if (harness_init(&H))
        return -1;
    static const char *const services[] = {"registry",  "broker",     "firewaller",
                                           "imagemeta", "networking", NULL};
    if (harness_up(&H, services))
        return -1;
    NETWORKING = harness_find(&H, "networking");
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    return harness_fini(&H);
}

//  What `environs <args>` prints on stdout; asserts exit 0 and a quiet
//  stderr. Caller frees.
static char *
s_ok(const char *args)
{
    return harness_must_ok(&H, true, "%s", args);
}

//  The JSON `environs <args> --format json` prints. Caller json_decrefs.
static json_t *
s_json(const char *args)
{
    return harness_must_json(&H, true, args);
}

//  The command fails with exit `rc`, nothing on stdout and exactly
//  `message` on stderr.
static void
s_fails(const char *args, int want_rc, const char *message)
{
    char *out, *err;
    int rc = harness_cli(&H, &out, &err, "%s", args);
    if (rc != want_rc || strcmp(err, message) != 0)
        fail_msg("environs %s: exit %d, stderr \"%s\", wanted exit %d and \"%s\"", args, rc, err,
                 want_rc, message);
    assert_string_equal(out, "");
    free(out);
    free(err);
}

static const char *
s_text(const json_t *object, const char *key)
{
    const char *text = json_string_value(json_object_get(object, key));
    if (!text)
        fail_msg("no text \"%s\" in %s", key, json_dumps(object, JSON_COMPACT));
    return text;
}

//  The strings of a JSON array joined by ",". Caller frees.
static char *
s_list(const json_t *array)
{
    assert_true(json_is_array(array));
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    size_t i;
    json_t *item;
    json_array_foreach(array, i, item)
    {
        fprintf(f, "%s%s", i ? "," : "", json_string_value(item));
    }
    fclose(f);
    return text;
}

//  One subnet of a subnets/spaces view: its fields as expected.
static void
s_subnet(const json_t *subnets, const char *cidr, const char *provider_id, const char *space,
         int vlan, const char *zones)
{
    const json_t *s = json_object_get(subnets, cidr);
    if (!s)
        fail_msg("no subnet %s in %s", cidr, json_dumps(subnets, JSON_COMPACT));
    assert_string_equal(s_text(s, "provider-id"), provider_id);
    assert_string_equal(s_text(s, "type"), "ipv4");
    assert_int_equal(json_integer_value(json_object_get(s, "vlan-tag")), vlan);
    char *list = s_list(json_object_get(s, "zones"));
    assert_string_equal(list, zones);
    free(list);
    if (space) { // a subnets view: the space's name and id
        assert_string_equal(s_text(s, "space"), space);
        char id[64];
        snprintf(id, sizeof id, "sp-sim-east-%s", space);
        assert_string_equal(s_text(s, "provider-space-id"), id);
    }
}

//  Whether address is inside cidr (IPv4).
static bool
s_in_cidr(const char *address, const char *cidr)
{
    char network[32];
    int prefix;
    struct in_addr a, n;
    if (sscanf(cidr, "%31[^/]/%d", network, &prefix) != 2 || inet_pton(AF_INET, network, &n) != 1 ||
        inet_pton(AF_INET, address, &a) != 1 || prefix < 1 || prefix > 32)
        return false;
    uint32_t mask = 0xffffffffu << (32 - prefix);
    return (ntohl(a.s_addr) & mask) == (ntohl(n.s_addr) & mask);
}

//  --------------------------------------------------------------------------
//  A controller with machines

static void
bootstrap_and_two_machines(void **state)
{
    (void)state;
    char *out, *err;
    assert_int_equal(harness_cli(&H, &out, &err, "bootstrap sim/sim-east c1"), 0);
    free(out);
    free(err);
    assert_int_equal(harness_cli(&H, &out, &err, "add-machine"), 0);
    assert_string_equal(err, "created machine 0\n");
    free(out);
    free(err);
    assert_int_equal(harness_cli(&H, &out, &err, "add-machine --to zone=sim-east-b"), 0);
    assert_string_equal(err, "created machine 1\n");
    free(out);
    free(err);
}

//  --------------------------------------------------------------------------
//  spaces

static void
spaces_lists_the_regions_spaces_with_their_subnets(void **state)
{
    (void)state;
    char *table = s_ok("spaces");
    assert_string_equal(table, "Name      Space ID              Subnets\n"
                               "dmz       sp-sim-east-dmz       10.1.192.0/20\n"
                               "                                10.1.208.0/20\n"
                               "internal  sp-sim-east-internal  10.1.0.0/18\n"
                               "                                10.1.64.0/18\n"
                               "                                10.1.128.0/18\n"
                               "storage   sp-sim-east-storage   10.1.224.0/20\n"
                               "                                10.1.240.0/20\n");
    free(table);
    json_t *doc = s_json("spaces");
    json_t *spaces = json_object_get(doc, "spaces");
    assert_int_equal(json_array_size(spaces), 3);
    static const char *const names[] = {"dmz", "internal", "storage"};
    static const size_t counts[] = {2, 3, 2};
    for (size_t i = 0; i < 3; i++) {
        json_t *space = json_array_get(spaces, i);
        char id[64];
        snprintf(id, sizeof id, "sp-sim-east-%s", names[i]);
        assert_string_equal(s_text(space, "name"), names[i]);
        assert_string_equal(s_text(space, "id"), id);
        assert_int_equal(json_object_size(json_object_get(space, "subnets")), counts[i]);
    }
    json_t *dmz = json_object_get(json_array_get(spaces, 0), "subnets");
    s_subnet(dmz, "10.1.192.0/20", "subnet-sim-east-a-dmz", NULL, 0, "sim-east-a");
    s_subnet(dmz, "10.1.208.0/20", "subnet-sim-east-b-dmz", NULL, 0, "sim-east-b");
    json_t *storage = json_object_get(json_array_get(spaces, 2), "subnets");
    s_subnet(storage, "10.1.224.0/20", "subnet-sim-east-c-storage", NULL, 42, "sim-east-c");
    s_subnet(storage, "10.1.240.0/20", "subnet-sim-east-a-storage", NULL, 42, "sim-east-a");
    json_decref(doc);
    //  YAML: the same view in Juju's field order
    char *yaml = s_ok("spaces --format yaml");
    assert_non_null(strstr(yaml, "spaces:\n- id: sp-sim-east-dmz\n  name: dmz\n  subnets:\n"
                                 "    10.1.192.0/20:\n      type: ipv4\n"
                                 "      provider-id: subnet-sim-east-a-dmz\n"
                                 "      vlan-tag: 0\n      zones: [sim-east-a]\n"));
    free(yaml);
}

//  --------------------------------------------------------------------------
//  subnets

static void
subnets_of_one_space(void **state)
{
    (void)state;
    json_t *doc = s_json("subnets --space dmz");
    json_t *subnets = json_object_get(doc, "subnets");
    assert_int_equal(json_object_size(subnets), 2);
    s_subnet(subnets, "10.1.192.0/20", "subnet-sim-east-a-dmz", "dmz", 0, "sim-east-a");
    s_subnet(subnets, "10.1.208.0/20", "subnet-sim-east-b-dmz", "dmz", 0, "sim-east-b");
    json_decref(doc);
    char *table = s_ok("subnets --space dmz");
    assert_string_equal(table, "Subnet         Provider ID            Space  VLAN  Zones\n"
                               "10.1.192.0/20  subnet-sim-east-a-dmz  dmz       0  sim-east-a\n"
                               "10.1.208.0/20  subnet-sim-east-b-dmz  dmz       0  sim-east-b\n");
    free(table);
}

static void
subnets_of_one_zone(void **state)
{
    (void)state;
    json_t *doc = s_json("subnets --zone sim-east-b");
    json_t *subnets = json_object_get(doc, "subnets");
    assert_int_equal(json_object_size(subnets), 2);
    s_subnet(subnets, "10.1.64.0/18", "subnet-sim-east-b-internal", "internal", 0, "sim-east-b");
    s_subnet(subnets, "10.1.208.0/20", "subnet-sim-east-b-dmz", "dmz", 0, "sim-east-b");
    json_decref(doc);
    char *table = s_ok("subnets --zone sim-east-b");
    assert_string_equal(table,
                        "Subnet         Provider ID                 Space     VLAN  Zones\n"
                        "10.1.64.0/18   subnet-sim-east-b-internal  internal     0  sim-east-b\n"
                        "10.1.208.0/20  subnet-sim-east-b-dmz       dmz          0  sim-east-b\n");
    free(table);
    //  both filters at once
    doc = s_json("subnets --zone sim-east-a --space storage");
    subnets = json_object_get(doc, "subnets");
    assert_int_equal(json_object_size(subnets), 1);
    s_subnet(subnets, "10.1.240.0/20", "subnet-sim-east-a-storage", "storage", 42, "sim-east-a");
    json_decref(doc);
}

static void
subnets_without_a_filter_are_the_whole_region(void **state)
{
    (void)state;
    json_t *doc = s_json("subnets");
    json_t *subnets = json_object_get(doc, "subnets");
    assert_int_equal(json_object_size(subnets), 7);
    s_subnet(subnets, "10.1.0.0/18", "subnet-sim-east-a-internal", "internal", 0, "sim-east-a");
    s_subnet(subnets, "10.1.128.0/18", "subnet-sim-east-c-internal", "internal", 0, "sim-east-c");
    s_subnet(subnets, "10.1.224.0/20", "subnet-sim-east-c-storage", "storage", 42, "sim-east-c");
    json_decref(doc);
}

static void
subnets_of_an_unknown_space_or_none_matching(void **state)
{
    (void)state;
    s_fails("subnets --space nope", 1, "ERROR space \"nope\" not found\n");
    //  a known space with nothing in the zone: a note, exit 0, every format
    s_fails("subnets --space storage --zone sim-east-b", 0, "No subnets to display.\n");
    s_fails("subnets --zone mars --format json", 0, "No subnets to display.\n");
}

//  --------------------------------------------------------------------------
//  show-machine

//  Machine `id`'s view and its eth0, checked against the zone's default
//  (internal) subnet. Returns the machine's zone (static).
static const char *
s_machine_eth0(const char *id)
{
    static char zone[64];
    char args[64];
    snprintf(args, sizeof args, "show-machine %s", id);
    json_t *doc = s_json(args);
    json_t *machine = json_object_get(json_object_get(doc, "machines"), id);
    if (!machine)
        fail_msg("show-machine %s: no machine in the view", id);
    snprintf(zone, sizeof zone, "%s", s_text(machine, "availability-zone"));
    const char *instance = s_text(machine, "instance-id");
    json_t *nics = json_object_get(machine, "network-interfaces");
    assert_int_equal(json_object_size(nics), 1);
    json_t *eth0 = json_object_get(nics, "eth0");
    assert_non_null(eth0);
    char subnet[96], cidr[32];
    snprintf(subnet, sizeof subnet, "subnet-%s-internal", zone);
    snprintf(cidr, sizeof cidr, "10.1.%d.0/18", (zone[strlen(zone) - 1] - 'a') * 64);
    assert_int_equal(json_integer_value(json_object_get(eth0, "device-index")), 0);
    assert_int_equal(strlen(s_text(eth0, "mac-address")), 17); // aa:bb:cc:dd:ee:ff
    assert_string_equal(s_text(eth0, "cidr"), cidr);
    assert_string_equal(s_text(eth0, "provider-subnet-id"), subnet);
    assert_string_equal(s_text(eth0, "space"), "internal");
    assert_string_equal(s_text(eth0, "provider-space-id"), "sp-sim-east-internal");
    assert_int_equal(json_integer_value(json_object_get(eth0, "vlan-tag")), 0);
    assert_int_equal(json_integer_value(json_object_get(eth0, "mtu")), 1500);
    assert_string_equal(s_text(eth0, "config-type"), "dhcp");
    assert_true(s_in_cidr(s_text(eth0, "gateway"), cidr));
    json_t *dns = json_object_get(eth0, "dns-nameservers");
    assert_true(json_array_size(dns) >= 1);
    assert_true(s_in_cidr(json_string_value(json_array_get(dns, 0)), cidr));
    assert_true(json_is_false(json_object_get(eth0, "disabled")));
    assert_true(json_is_false(json_object_get(eth0, "no-auto-start")));
    assert_non_null(s_text(eth0, "provider-id"));
    //  the NIC's address is the machine's, in the subnet
    json_t *addresses = json_object_get(eth0, "ip-addresses");
    assert_int_equal(json_array_size(addresses), 1);
    const char *address = json_string_value(json_array_get(addresses, 0));
    assert_true(s_in_cidr(address, cidr));
    char *machine_addresses = s_list(json_object_get(machine, "ip-addresses"));
    assert_non_null(strstr(machine_addresses, address));
    free(machine_addresses);
    //  and it is the instance `machines` lists for this id
    json_t *all = s_json("machines");
    json_t *listed = json_object_get(json_object_get(all, "machines"), id);
    assert_string_equal(s_text(listed, "instance-id"), instance);
    json_decref(all);
    json_decref(doc);
    return zone;
}

static void
show_machine_shows_the_nic_in_its_zones_default_subnet(void **state)
{
    (void)state;
    const char *zone = s_machine_eth0("0");
    assert_non_null(strstr(zone, "sim-east-"));
    assert_string_equal(s_machine_eth0("1"), "sim-east-b");
    //  YAML by default, the NICs under the machine
    char *yaml = s_ok("show-machine 1");
    assert_non_null(strstr(yaml, "machines:\n  \"1\":\n"));
    assert_non_null(
        strstr(yaml, "    network-interfaces:\n      eth0:\n        device-index: 0\n"));
    assert_non_null(strstr(yaml, "        cidr: 10.1.64.0/18\n"
                                 "        provider-subnet-id: subnet-sim-east-b-internal\n"
                                 "        space: internal\n"
                                 "        provider-space-id: sp-sim-east-internal\n"
                                 "        vlan-tag: 0\n"));
    //  tabular is the same YAML
    char *tabular = s_ok("show-machine 1 --format tabular");
    assert_string_equal(tabular, yaml);
    free(tabular);
    free(yaml);
}

static void
show_machine_of_an_unknown_machine_fails(void **state)
{
    (void)state;
    s_fails("show-machine 9", 1, "ERROR machine \"9\" not found\n");
    s_fails("show-machine 9 --format json", 1, "ERROR machine \"9\" not found\n");
}

//  --------------------------------------------------------------------------
//  A cloud without spaces

static int
s_no_spaces(en_call_t *call, const ProtobufCMessage *req, ProtobufCMessage *res, en_err_t *err)
{
    (void)call;
    (void)req;
    (void)res;
    return en_err_set(err, EN_NOT_SUPPORTED, "spaces not supported");
}

//  One subnet, in no space.
static int
s_one_subnet(en_call_t *call, const ProtobufCMessage *req, ProtobufCMessage *res, en_err_t *err)
{
    (void)req;
    (void)err;
    En__SubnetsResult *result = (En__SubnetsResult *)res;
    En__SubnetInfo *subnet = en_arena_alloc(call->arena, sizeof *subnet);
    en__subnet_info__init(subnet);
    subnet->cidr = "192.168.0.0/24";
    subnet->provider_id = "subnet-flat";
    result->subnets = en_arena_alloc(call->arena, sizeof *result->subnets);
    result->subnets[0] = subnet;
    result->n_subnets = 1;
    return 0;
}

static const en_route_t s_no_spaces_routes[] = {
    {&en__environ__descriptor, "Spaces", s_no_spaces, 0},
    {&en__environ__descriptor, "Subnets", s_one_subnet, 0},
};

static void
a_cloud_without_spaces_says_so_and_still_lists_subnets(void **state)
{
    (void)state;
    en_log_set_level(EN_LOG_WARN); // its refusals are the point, not news
    harness_kill(&H, NETWORKING, SIGTERM);
    //  The networking service of a cloud without spaces, until destroyed.
    bx_worker_spec_t spec = {
        .gateways = H.endpoint,
        .def = {.name = "networking", .routes = s_no_spaces_routes, .route_count = 2},
    };
    zactor_t *fake = zactor_new(bx_worker_actor, &spec);
    assert_int_equal(harness_wait_service(&H, "networking", 20000), 0);
    s_fails("spaces", 1, "ERROR spaces not supported\n");
    s_fails("spaces --format json", 1, "ERROR spaces not supported\n");
    //  subnets go on without space names, so no space is known
    char *table = s_ok("subnets");
    assert_string_equal(table, "Subnet          Provider ID  Space  VLAN  Zones\n"
                               "192.168.0.0/24  subnet-flat            0\n");
    free(table);
    s_fails("subnets --space dmz", 1, "ERROR space \"dmz\" not found\n");
    zactor_destroy(&fake);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bootstrap_and_two_machines),
        cmocka_unit_test(spaces_lists_the_regions_spaces_with_their_subnets),
        cmocka_unit_test(subnets_of_one_space),
        cmocka_unit_test(subnets_of_one_zone),
        cmocka_unit_test(subnets_without_a_filter_are_the_whole_region),
        cmocka_unit_test(subnets_of_an_unknown_space_or_none_matching),
        cmocka_unit_test(show_machine_shows_the_nic_in_its_zones_default_subnet),
        cmocka_unit_test(show_machine_of_an_unknown_machine_fails),
        cmocka_unit_test(a_cloud_without_spaces_says_so_and_still_lists_subnets),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
