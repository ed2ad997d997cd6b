/*  The network commands of the CLI without a gateway: `spaces` and
    `subnets` views and tables, the subnets' --space/--zone selection and
    its errors, show-machine's NICs, and the words and options the three
    commands take. The wire results are built by hand, in an order the
    commands must not rely on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cli/cli.h"

#define ARGC(a) ((int)(sizeof(a) / sizeof(a)[0]))
#define COUNT(a) (sizeof(a) / sizeof(a)[0])

//  --------------------------------------------------------------------------
//  Fixture: sim-east's spaces, out of order

static char *s_zone_a[] = {"sim-east-a"};
static char *s_zone_b[] = {"sim-east-b"};
static char *s_zones_ab[] = {"sim-east-a", "sim-east-b"};

#define SUBNET_BASE PROTOBUF_C_MESSAGE_INIT(&en__subnet_info__descriptor)
static En__SubnetInfo s_internal_b = {.base = SUBNET_BASE,
                                      .cidr = "10.1.64.0/18",
                                      .provider_id = "subnet-sim-east-b-internal",
                                      .n_availability_zones = 1,
                                      .availability_zones = s_zone_b,
                                      .space_provider_id = "space-internal"};
static En__SubnetInfo s_internal_a = {.base = SUBNET_BASE,
                                      .cidr = "10.1.0.0/18",
                                      .provider_id = "subnet-sim-east-a-internal",
                                      .n_availability_zones = 1,
                                      .availability_zones = s_zone_a,
                                      .space_provider_id = "space-internal"};
//  No space id: its space is the one that lists it.
static En__SubnetInfo s_dmz_a = {.base = SUBNET_BASE,
                                 .cidr = "10.1.128.0/20",
                                 .provider_id = "subnet-sim-east-a-dmz",
                                 .vlan_tag = 42,
                                 .n_availability_zones = 2,
                                 .availability_zones = s_zones_ab,
                                 .space_provider_id = ""};
//  In no space at all.
static En__SubnetInfo s_loose = {.base = SUBNET_BASE,
                                 .cidr = "192.168.9.0/24",
                                 .provider_id = "subnet-loose",
                                 .n_availability_zones = 1,
                                 .availability_zones = s_zone_b,
                                 .space_provider_id = ""};

static En__SubnetInfo *s_internal_subnets[] = {&s_internal_b, &s_internal_a};
static En__SubnetInfo *s_dmz_subnets[] = {&s_dmz_a};
#define SPACE_BASE PROTOBUF_C_MESSAGE_INIT(&en__space_info__descriptor)
static En__SpaceInfo s_internal = {.base = SPACE_BASE,
                                   .name = "internal",
                                   .provider_id = "space-internal",
                                   .n_subnets = 2,
                                   .subnets = s_internal_subnets};
static En__SpaceInfo s_dmz = {.base = SPACE_BASE,
                              .name = "dmz",
                              .provider_id = "space-dmz",
                              .n_subnets = 1,
                              .subnets = s_dmz_subnets};
static En__SpaceInfo s_storage = {
    .base = SPACE_BASE, .name = "storage", .provider_id = "space-storage"};
static En__SpaceInfo *s_spaces[] = {&s_storage, &s_internal, &s_dmz};
//  What Subnets answers: every subnet, in no particular order.
static En__SubnetInfo *s_subnets[] = {&s_loose, &s_internal_b, &s_dmz_a, &s_internal_a};

static char *
s_json(json_t *view)
{
    char *text = cli_json_render(view);
    json_decref(view);
    return text;
}

static char *
s_yaml(json_t *view)
{
    char *text = cli_yaml_render(view);
    json_decref(view);
    return text;
}

static char *
s_table(cli_table_t *table)
{
    char *text = cli_table_render(table);
    cli_table_destroy(&table);
    return text;
}

//  --------------------------------------------------------------------------
//  Order

static void
natural_order_compares_numbers_as_numbers(void **state)
{
    (void)state;
    assert_true(cli_compare_natural("10.1.64.0/18", "10.1.128.0/18") < 0);
    assert_true(cli_compare_natural("10.1.128.0/18", "10.1.64.0/18") > 0);
    assert_true(cli_compare_natural("10.1.0.0/18", "10.1.0.0/24") < 0);
    assert_true(cli_compare_natural("eth2", "eth10") < 0);
    assert_true(cli_compare_natural("dmz", "internal") < 0);
    assert_true(cli_compare_natural("a", "ab") < 0);
    assert_int_equal(cli_compare_natural("10.0.0.0/8", "10.0.0.0/8"), 0);
    assert_true(cli_compare_natural("01", "1") != 0); // equal numbers, different text
}

//  --------------------------------------------------------------------------
//  spaces

static void
spaces_table_lists_subnets_under_their_space(void **state)
{
    (void)state;
    char *text = s_table(cli_spaces_table(s_spaces, COUNT(s_spaces)));
    assert_string_equal(text, "Name      Space ID        Subnets\n"
                              "dmz       space-dmz       10.1.128.0/20\n"
                              "internal  space-internal  10.1.0.0/18\n"
                              "                          10.1.64.0/18\n"
                              "storage   space-storage\n");
    free(text);
}

static void
spaces_view_as_json_by_name_then_cidr(void **state)
{
    (void)state;
    char *text = s_json(cli_spaces_view(s_spaces, COUNT(s_spaces)));
    assert_string_equal(
        text, "{\"spaces\":["
              "{\"id\":\"space-dmz\",\"name\":\"dmz\",\"subnets\":{\"10.1.128.0/20\":"
              "{\"provider-id\":\"subnet-sim-east-a-dmz\",\"type\":\"ipv4\",\"vlan-tag\":42,"
              "\"zones\":[\"sim-east-a\",\"sim-east-b\"]}}},"
              "{\"id\":\"space-internal\",\"name\":\"internal\",\"subnets\":{"
              "\"10.1.0.0/18\":{\"provider-id\":\"subnet-sim-east-a-internal\",\"type\":\"ipv4\","
              "\"vlan-tag\":0,\"zones\":[\"sim-east-a\"]},"
              "\"10.1.64.0/18\":{\"provider-id\":\"subnet-sim-east-b-internal\",\"type\":\"ipv4\","
              "\"vlan-tag\":0,\"zones\":[\"sim-east-b\"]}}},"
              "{\"id\":\"space-storage\",\"name\":\"storage\",\"subnets\":{}}]}\n");
    free(text);
    text = s_json(cli_spaces_view(NULL, 0));
    assert_string_equal(text, "{\"spaces\":[]}\n");
    free(text);
}

static void
spaces_view_as_yaml_in_field_order(void **state)
{
    (void)state;
    En__SpaceInfo *internal[] = {&s_internal};
    char *text = s_yaml(cli_spaces_view(internal, 1));
    assert_string_equal(text, "spaces:\n"
                              "- id: space-internal\n"
                              "  name: internal\n"
                              "  subnets:\n"
                              "    10.1.0.0/18:\n"
                              "      type: ipv4\n"
                              "      provider-id: subnet-sim-east-a-internal\n"
                              "      vlan-tag: 0\n"
                              "      zones: [sim-east-a]\n"
                              "    10.1.64.0/18:\n"
                              "      type: ipv4\n"
                              "      provider-id: subnet-sim-east-b-internal\n"
                              "      vlan-tag: 0\n"
                              "      zones: [sim-east-b]\n");
    free(text);
}

//  --------------------------------------------------------------------------
//  subnets

//  The keys of the selection joined by spaces, each "cidr=space". Caller frees.
static char *
s_selection(const char *space, const char *zone, int want_rc, en_err_t *err)
{
    cli_subnet_t *out = (cli_subnet_t *)&out; // must be reset
    size_t count = 99;
    int rc = cli_subnets_select(s_subnets, COUNT(s_subnets), s_spaces, COUNT(s_spaces), space, zone,
                                &out, &count, err);
    assert_int_equal(rc, want_rc);
    if (rc) {
        assert_null(out);
        assert_int_equal(count, 0);
        return NULL;
    }
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    for (size_t i = 0; i < count; i++)
        fprintf(f, "%s%s=%s", i ? " " : "", out[i].info->cidr, out[i].space);
    fclose(f);
    free(out);
    return text;
}

static void
subnets_are_named_by_space_and_ordered_by_cidr(void **state)
{
    (void)state;
    en_err_t err;
    char *text = s_selection(NULL, NULL, 0, &err);
    assert_string_equal(text, "10.1.0.0/18=internal 10.1.64.0/18=internal 10.1.128.0/20=dmz "
                              "192.168.9.0/24=");
    free(text);
}

static void
subnets_filter_by_space_and_zone(void **state)
{
    (void)state;
    en_err_t err;
    char *text = s_selection("dmz", NULL, 0, &err);
    assert_string_equal(text, "10.1.128.0/20=dmz");
    free(text);
    text = s_selection(NULL, "sim-east-b", 0, &err);
    assert_string_equal(text, "10.1.64.0/18=internal 10.1.128.0/20=dmz 192.168.9.0/24=");
    free(text);
    text = s_selection("internal", "sim-east-b", 0, &err);
    assert_string_equal(text, "10.1.64.0/18=internal");
    free(text);
    //  a known space with nothing in it, or a zone nobody is in: no subnets
    text = s_selection("storage", NULL, 0, &err);
    assert_string_equal(text, "");
    free(text);
    text = s_selection(NULL, "sim-east-z", 0, &err);
    assert_string_equal(text, "");
    free(text);
}

static void
subnets_of_an_unknown_space_are_not_found(void **state)
{
    (void)state;
    en_err_t err;
    assert_null(s_selection("x", NULL, -1, &err));
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_string_equal(err.message, "space \"x\" not found");
    //  names are exact
    assert_null(s_selection("DMZ", "sim-east-a", -1, &err));
    assert_string_equal(err.message, "space \"DMZ\" not found");
    //  a cloud without spaces knows none
    cli_subnet_t *out;
    size_t count;
    assert_int_equal(
        cli_subnets_select(s_subnets, COUNT(s_subnets), NULL, 0, "dmz", NULL, &out, &count, &err),
        -1);
    assert_string_equal(err.message, "space \"dmz\" not found");
    assert_int_equal(
        cli_subnets_select(s_subnets, COUNT(s_subnets), NULL, 0, NULL, NULL, &out, &count, &err),
        0);
    assert_int_equal(count, 4);
    for (size_t i = 0; i < count; i++)
        assert_string_equal(out[i].space, "");
    free(out);
}

static void
subnets_view_and_table(void **state)
{
    (void)state;
    en_err_t err;
    cli_subnet_t *out;
    size_t count;
    assert_int_equal(cli_subnets_select(s_subnets, COUNT(s_subnets), s_spaces, COUNT(s_spaces),
                                        NULL, NULL, &out, &count, &err),
                     0);
    char *text = s_table(cli_subnets_table(out, count));
    assert_string_equal(text,
                        "Subnet          Provider ID                 Space     VLAN  Zones\n"
                        "10.1.0.0/18     subnet-sim-east-a-internal  internal     0  sim-east-a\n"
                        "10.1.64.0/18    subnet-sim-east-b-internal  internal     0  sim-east-b\n"
                        "10.1.128.0/20   subnet-sim-east-a-dmz       dmz         42  "
                        "sim-east-a,sim-east-b\n"
                        "192.168.9.0/24  subnet-loose                             0  sim-east-b\n");
    free(text);
    text = s_json(cli_subnets_view(out + 1, 3));
    assert_string_equal(
        text, "{\"subnets\":{"
              "\"10.1.128.0/20\":{\"provider-id\":\"subnet-sim-east-a-dmz\",\"space\":\"dmz\","
              "\"type\":\"ipv4\",\"vlan-tag\":42,\"zones\":[\"sim-east-a\",\"sim-east-b\"]},"
              "\"10.1.64.0/18\":{\"provider-id\":\"subnet-sim-east-b-internal\","
              "\"provider-space-id\":\"space-internal\",\"space\":\"internal\",\"type\":\"ipv4\","
              "\"vlan-tag\":0,\"zones\":[\"sim-east-b\"]},"
              "\"192.168.9.0/24\":{\"provider-id\":\"subnet-loose\",\"space\":\"\","
              "\"type\":\"ipv4\",\"vlan-tag\":0,\"zones\":[\"sim-east-b\"]}}}\n");
    free(text);
    text = s_yaml(cli_subnets_view(out + 1, 1));
    assert_string_equal(text, "subnets:\n"
                              "  10.1.64.0/18:\n"
                              "    type: ipv4\n"
                              "    provider-id: subnet-sim-east-b-internal\n"
                              "    space: internal\n"
                              "    provider-space-id: space-internal\n"
                              "    vlan-tag: 0\n"
                              "    zones: [sim-east-b]\n");
    free(text);
    free(out);
}

static void
subnet_without_cidr_is_keyed_by_provider_id(void **state)
{
    (void)state;
    En__SubnetInfo v6 = EN__SUBNET_INFO__INIT;
    v6.cidr = "2001:db8::/64";
    v6.provider_id = "subnet-v6";
    En__SubnetInfo unknown = EN__SUBNET_INFO__INIT;
    unknown.provider_id = "subnet-unknown";
    cli_subnet_t rows[] = {{&unknown, ""}, {&v6, ""}};
    char *text = s_json(cli_subnets_view(rows, 2));
    assert_string_equal(text, "{\"subnets\":{"
                              "\"2001:db8::/64\":{\"provider-id\":\"subnet-v6\",\"space\":\"\","
                              "\"type\":\"ipv6\",\"vlan-tag\":0,\"zones\":[]},"
                              "\"subnet-unknown\":{\"provider-id\":\"subnet-unknown\","
                              "\"space\":\"\",\"vlan-tag\":0,\"zones\":[]}}}\n");
    free(text);
}

//  --------------------------------------------------------------------------
//  show-machine

#define ADDRESS_BASE PROTOBUF_C_MESSAGE_INIT(&en__address__descriptor)
static En__Address s_gateway = {.base = ADDRESS_BASE, .value = "10.1.0.1", .space = ""};
static En__Address s_dns = {.base = ADDRESS_BASE, .value = "10.1.0.2", .space = ""};
static En__Address s_eth0_address = {.base = ADDRESS_BASE, .value = "10.1.0.4", .space = ""};
static En__Address s_eth1_address = {
    .base = ADDRESS_BASE, .value = "10.1.128.5", .space = "dmz-by-address"};

//  eth0 in internal; the second NIC has no name and its space only on
//  its address; both given second-first.
static void
s_nics(En__InterfaceInfo *eth0, En__InterfaceInfo *eth1, En__Address **dns)
{
    en__interface_info__init(eth0);
    eth0->device_index = 0;
    eth0->mac_address = "52:54:00:00:00:01";
    eth0->cidr = "10.1.0.0/18";
    eth0->provider_id = "nic-i-1-0";
    eth0->provider_subnet_id = "subnet-sim-east-a-internal";
    eth0->provider_space_id = "space-internal";
    eth0->interface_name = "eth0";
    eth0->interface_type = "ethernet";
    eth0->config_type = "static";
    eth0->address = &s_eth0_address;
    dns[0] = &s_dns;
    eth0->dns_servers = dns;
    eth0->n_dns_servers = 1;
    eth0->mtu = 1500;
    eth0->gateway_address = &s_gateway;
    en__interface_info__init(eth1);
    eth1->device_index = 1;
    eth1->mac_address = "52:54:00:00:00:02";
    eth1->cidr = "10.1.128.0/20";
    eth1->provider_subnet_id = "subnet-sim-east-a-dmz";
    eth1->provider_space_id = "space-unknown";
    eth1->vlan_tag = 42;
    eth1->config_type = "dhcp";
    eth1->address = &s_eth1_address;
    eth1->disabled = true;
    eth1->no_auto_start = true;
}

static En__Instance *
s_instance(void)
{
    static En__Instance__TagsEntry tag = {
        .base = PROTOBUF_C_MESSAGE_INIT(&en__instance__tags_entry__descriptor),
        .key = "juju-machine-id",
        .value = "0"};
    static En__Instance__TagsEntry *tags[] = {&tag};
    static En__Instance inst;
    en__instance__init(&inst);
    inst.id = "i-1";
    inst.tags = tags;
    inst.n_tags = 1;
    return &inst;
}

static void
show_machine_lists_nics_by_device_index_with_space_names(void **state)
{
    (void)state;
    En__InterfaceInfo eth0, eth1;
    En__Address *dns[1];
    s_nics(&eth0, &eth1, dns);
    En__InterfaceInfo *nics[] = {&eth1, &eth0};
    json_t *view = cli_show_machine_view(NULL, s_instance(), nics, 2, s_spaces, COUNT(s_spaces));
    json_t *machine = json_object_get(json_object_get(view, "machines"), "0");
    assert_string_equal(json_string_value(json_object_get(machine, "instance-id")), "i-1");
    json_t *nic = json_object_get(machine, "network-interfaces");
    assert_int_equal(json_object_size(nic), 2);
    char *text = cli_json_render(json_object_get(nic, "eth0"));
    assert_string_equal(text, "{\"cidr\":\"10.1.0.0/18\",\"config-type\":\"static\","
                              "\"device-index\":0,\"disabled\":false,"
                              "\"dns-nameservers\":[\"10.1.0.2\"],\"gateway\":\"10.1.0.1\","
                              "\"interface-type\":\"ethernet\",\"ip-addresses\":[\"10.1.0.4\"],"
                              "\"mac-address\":\"52:54:00:00:00:01\",\"mtu\":1500,"
                              "\"no-auto-start\":false,\"provider-id\":\"nic-i-1-0\","
                              "\"provider-space-id\":\"space-internal\","
                              "\"provider-subnet-id\":\"subnet-sim-east-a-internal\","
                              "\"space\":\"internal\",\"vlan-tag\":0}\n");
    free(text);
    //  no name: eth<index>; space not among the spaces: the address's
    text = cli_json_render(json_object_get(nic, "eth1"));
    assert_string_equal(text, "{\"cidr\":\"10.1.128.0/20\",\"config-type\":\"dhcp\","
                              "\"device-index\":1,\"disabled\":true,"
                              "\"ip-addresses\":[\"10.1.128.5\"],"
                              "\"mac-address\":\"52:54:00:00:00:02\",\"no-auto-start\":true,"
                              "\"provider-space-id\":\"space-unknown\","
                              "\"provider-subnet-id\":\"subnet-sim-east-a-dmz\","
                              "\"space\":\"dmz-by-address\",\"vlan-tag\":42}\n");
    free(text);
    //  YAML keeps device order and field order
    text = s_yaml(view);
    assert_non_null(strstr(text, "machines:\n  \"0\":\n    instance-id: i-1\n"));
    const char *first = strstr(text, "      eth0:\n        device-index: 0\n"
                                     "        interface-type: ethernet\n"
                                     "        mac-address: 52:54:00:00:00:01\n"
                                     "        ip-addresses: [10.1.0.4]\n");
    assert_non_null(first);
    assert_non_null(strstr(first, "      eth1:\n        device-index: 1\n"));
    assert_non_null(strstr(text, "        disabled: true\n        no-auto-start: true\n"));
    free(text);
}

static void
show_machine_without_nics_leaves_them_out(void **state)
{
    (void)state;
    En__Model model = EN__MODEL__INIT;
    model.name = "default";
    char *text = s_yaml(cli_show_machine_view(&model, s_instance(), NULL, 0, NULL, 0));
    assert_string_equal(text, "model:\n"
                              "  name: default\n"
                              "machines:\n"
                              "  \"0\":\n"
                              "    instance-id: i-1\n"
                              "    machine-status:\n"
                              "      current: unknown\n");
    free(text);
}

//  --------------------------------------------------------------------------
//  Words and options

static int
s_check(int argc, char **argv, cli_t *cli, cli_args_t *args, en_err_t *err)
{
    if (cli_args_parse(argc, argv, args, err))
        return -1;
    const cli_command_t *command = cli_command_find(args->command);
    assert_non_null(command);
    return cli_args_check(args, command, cli, err);
}

static void
network_commands_take_their_words_and_options(void **state)
{
    (void)state;
    cli_t cli = {0};
    cli_args_t args;
    en_err_t err;
    char *subnets[] = {"environs", "subnets", "--space", "dmz", "--zone=sim-east-b", "-m", "m1"};
    assert_int_equal(s_check(ARGC(subnets), subnets, &cli, &args, &err), 0);
    assert_string_equal(cli_args_value(&args, CLI_OPT_SPACE), "dmz");
    assert_string_equal(cli_args_value(&args, CLI_OPT_ZONE), "sim-east-b");
    assert_int_equal(cli.format, CLI_FORMAT_TABULAR);
    cli_args_clear(&args);
    char *word[] = {"environs", "subnets", "dmz"};
    assert_int_equal(s_check(ARGC(word), word, &cli, &args, &err), -1);
    assert_string_equal(err.message, "unrecognized args: [\"dmz\"]");
    cli_args_clear(&args);

    char *spaces[] = {"environs", "spaces", "--format", "json"};
    assert_int_equal(s_check(ARGC(spaces), spaces, &cli, &args, &err), 0);
    assert_int_equal(cli.format, CLI_FORMAT_JSON);
    cli_args_clear(&args);
    char *space[] = {"environs", "spaces", "--space", "dmz"};
    assert_int_equal(s_check(ARGC(space), space, &cli, &args, &err), -1);
    assert_string_equal(err.message, "option provided but not defined: --space");
    cli_args_clear(&args);

    char *show[] = {"environs", "show-machine", "0"};
    assert_int_equal(s_check(ARGC(show), show, &cli, &args, &err), 0);
    assert_int_equal(cli.format, CLI_FORMAT_YAML);
    cli_args_clear(&args);
    char *none[] = {"environs", "show-machine"};
    assert_int_equal(s_check(ARGC(none), none, &cli, &args, &err), -1);
    assert_string_equal(err.message, "missing argument: ID");
    cli_args_clear(&args);
    char *two[] = {"environs", "show-machine", "0", "1"};
    assert_int_equal(s_check(ARGC(two), two, &cli, &args, &err), -1);
    assert_string_equal(err.message, "unrecognized args: [\"1\"]");
    cli_args_clear(&args);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(natural_order_compares_numbers_as_numbers),
        cmocka_unit_test(spaces_table_lists_subnets_under_their_space),
        cmocka_unit_test(spaces_view_as_json_by_name_then_cidr),
        cmocka_unit_test(spaces_view_as_yaml_in_field_order),
        cmocka_unit_test(subnets_are_named_by_space_and_ordered_by_cidr),
        cmocka_unit_test(subnets_filter_by_space_and_zone),
        cmocka_unit_test(subnets_of_an_unknown_space_are_not_found),
        cmocka_unit_test(subnets_view_and_table),
        cmocka_unit_test(subnet_without_cidr_is_keyed_by_provider_id),
        cmocka_unit_test(show_machine_lists_nics_by_device_index_with_space_names),
        cmocka_unit_test(show_machine_without_nics_leaves_them_out),
        cmocka_unit_test(network_commands_take_their_words_and_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
