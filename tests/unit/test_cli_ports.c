/*  The port commands of the CLI without a gateway: PORTRANGE and --cidr
    read as Juju's ParsePortRanges and NewIngressRule read them, the wire's
    rules read back and sorted as Juju sorts them, and the `ports` table
    and JSON/YAML views; the words and options the three commands take. */
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

//  --------------------------------------------------------------------------
//  PORTRANGE and --cidr

static void
port_ranges_parse_like_juju(void **state)
{
    (void)state;
    en_ingress_rule_t *rules;
    size_t count;
    en_err_t err;
    assert_int_equal(
        cli_port_rules_parse("80, 8000-8080/UDP ,icmp,53/udp", NULL, 0, &rules, &count, &err), 0);
    assert_int_equal(count, 4);
    const en_port_range_t want[] = {
        {80, 80, "tcp"}, {8000, 8080, "udp"}, {-1, -1, "icmp"}, {53, 53, "udp"}};
    for (size_t i = 0; i < count; i++) {
        assert_int_equal(rules[i].range.from, want[i].from);
        assert_int_equal(rules[i].range.to, want[i].to);
        assert_string_equal(rules[i].range.protocol, want[i].protocol);
        assert_int_equal(rules[i].cidr_count, 0);
    }
    en_ingress_rules_free(&rules, count);
    assert_null(rules);
}

static void
every_cidr_applies_to_every_range_in_canonical_form(void **state)
{
    (void)state;
    const char *cidrs[] = {"10.0.0.1/8", "192.168.0.0/16", "10.0.0.0/8"};
    en_ingress_rule_t *rules;
    size_t count;
    en_err_t err;
    assert_int_equal(cli_port_rules_parse("22,icmp", cidrs, 3, &rules, &count, &err), 0);
    assert_int_equal(count, 2);
    for (size_t i = 0; i < count; i++) {
        assert_int_equal(rules[i].cidr_count, 2); // one network spelt twice is one
        assert_string_equal(rules[i].cidrs[0], "10.0.0.0/8");
        assert_string_equal(rules[i].cidrs[1], "192.168.0.0/16");
    }
    en_ingress_rules_free(&rules, count);
}

static void
bad_port_ranges_fail_with_juju_messages(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *message;
    } cases[] = {
        {"80-90-100", "invalid port range \"80-90-100\""},
        {"80/sctp", "invalid protocol \"sctp\", expected \"tcp\", \"udp\", or \"icmp\""},
        {"0", "invalid port range 0-0/tcp"},
        {"90-80", "invalid port range 90-80/tcp"},
        {"80,70000/udp", "invalid port range 70000-70000/udp"},
        {"http", "invalid port \"http\": strconv.Atoi: parsing \"http\": invalid syntax"},
        {"80,,90", "invalid port \"\": strconv.Atoi: parsing \"\": invalid syntax"},
        {"8/icmp", "protocol \"icmp\" doesn't support any ports; got \"8\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        en_ingress_rule_t *rules = (en_ingress_rule_t *)&rules; // must be reset
        size_t count = 7;
        en_err_t err;
        assert_int_equal(cli_port_rules_parse(cases[i].text, NULL, 0, &rules, &count, &err), -1);
        assert_int_equal(err.kind, EN_NOT_VALID);
        assert_string_equal(err.message, cases[i].message);
        assert_null(rules);
        assert_int_equal(count, 0);
    }
    const char *bad[] = {"10.0.0.0/8", "10.0.0/33"};
    en_ingress_rule_t *rules;
    size_t count;
    en_err_t err;
    assert_int_equal(cli_port_rules_parse("80,443", bad, 2, &rules, &count, &err), -1);
    assert_string_equal(err.message, "invalid CIDR address: 10.0.0/33");
}

//  --------------------------------------------------------------------------
//  Rules from the wire, views and table

typedef struct {
    En__IngressRule rule;
    En__PortRange range;
} wire_rule_t;

static En__IngressRule *
s_wire(wire_rule_t *w, int from, int to, const char *protocol, char **cidrs, size_t n)
{
    en__ingress_rule__init(&w->rule);
    en__port_range__init(&w->range);
    w->range.from_port = from;
    w->range.to_port = to;
    w->range.protocol = (char *)protocol;
    w->rule.port_range = &w->range;
    w->rule.source_cidrs = cidrs;
    w->rule.n_source_cidrs = n;
    return &w->rule;
}

//  What a provider reads back: unrestricted rules as 0.0.0.0/0, in no
//  particular order. Sorted: icmp < tcp < udp, then from, then to, then
//  the sources.
static en_ingress_rule_t *
s_sorted_fixture(size_t *count)
{
    static char *anywhere[] = {"0.0.0.0/0"};
    static char *private[] = {"10.0.0.0/8", "192.168.0.0/16"};
    wire_rule_t w[6];
    En__IngressRule *wire[] = {
        s_wire(&w[0], 67, 67, "udp", anywhere, 1), s_wire(&w[1], 80, 100, "tcp", anywhere, 1),
        s_wire(&w[2], 45, 45, "tcp", NULL, 0),     s_wire(&w[3], -1, -1, "icmp", anywhere, 1),
        s_wire(&w[4], 80, 100, "tcp", private, 2), s_wire(&w[5], 80, 80, "tcp", anywhere, 1),
    };
    en_ingress_rule_t *rules;
    en_err_t err;
    assert_int_equal(cli_port_rules_from_proto(wire, 6, &rules, &err), 0);
    en_ingress_rules_sort(rules, 6);
    *count = 6;
    return rules;
}

static void
wire_rules_that_are_not_valid_are_an_error(void **state)
{
    (void)state;
    static char *cidrs[] = {"10.0.0.0/8", "nowhere"};
    wire_rule_t w[2];
    En__IngressRule *wire[] = {s_wire(&w[0], 22, 22, "tcp", NULL, 0),
                               s_wire(&w[1], 80, 80, "tcp", cidrs, 2)};
    en_ingress_rule_t *rules = NULL;
    en_err_t err;
    assert_int_equal(cli_port_rules_from_proto(wire, 2, &rules, &err), -1);
    assert_string_equal(err.message, "invalid CIDR address: nowhere");
    wire[1] = s_wire(&w[1], 0, 0, "tcp", NULL, 0);
    assert_int_equal(cli_port_rules_from_proto(wire, 2, &rules, &err), -1);
    assert_string_equal(err.message, "invalid port range 0-0/tcp");
    assert_int_equal(cli_port_rules_from_proto(wire, 0, &rules, &err), 0);
    en_ingress_rules_free(&rules, 0);
}

static void
ports_table_sorted_like_juju(void **state)
{
    (void)state;
    size_t count;
    en_ingress_rule_t *rules = s_sorted_fixture(&count);
    cli_table_t *table = cli_ports_table(rules, count);
    char *text = cli_table_render(table);
    assert_string_equal(text, "Protocol  Ports   Source\n"
                              "icmp      -       0.0.0.0/0\n"
                              "tcp       45      0.0.0.0/0\n"
                              "tcp       80      0.0.0.0/0\n"
                              "tcp       80-100  0.0.0.0/0\n"
                              "tcp       80-100  10.0.0.0/8,192.168.0.0/16\n"
                              "udp       67      0.0.0.0/0\n");
    free(text);
    cli_table_destroy(&table);
    en_ingress_rules_free(&rules, count);
}

static void
ports_view_as_json(void **state)
{
    (void)state;
    size_t count;
    en_ingress_rule_t *rules = s_sorted_fixture(&count);
    json_t *view = cli_ports_view(rules, 3);
    char *text = cli_json_render(view);
    assert_string_equal(text, "[{\"from-port\":-1,\"port-range\":\"icmp\",\"protocol\":\"icmp\","
                              "\"source-cidrs\":[\"0.0.0.0/0\"],\"to-port\":-1},"
                              "{\"from-port\":45,\"port-range\":\"45/tcp\",\"protocol\":\"tcp\","
                              "\"source-cidrs\":[\"0.0.0.0/0\"],\"to-port\":45},"
                              "{\"from-port\":80,\"port-range\":\"80/tcp\",\"protocol\":\"tcp\","
                              "\"source-cidrs\":[\"0.0.0.0/0\"],\"to-port\":80}]\n");
    free(text);
    json_decref(view);
    view = cli_ports_view(rules, 0);
    text = cli_json_render(view);
    assert_string_equal(text, "[]\n");
    free(text);
    json_decref(view);
    en_ingress_rules_free(&rules, count);
}

static void
ports_view_as_yaml_in_field_order(void **state)
{
    (void)state;
    size_t count;
    en_ingress_rule_t *rules = s_sorted_fixture(&count);
    json_t *view = cli_ports_view(rules + 4, 2);
    char *text = cli_yaml_render(view);
    assert_string_equal(text, "- port-range: 80-100/tcp\n"
                              "  protocol: tcp\n"
                              "  from-port: 80\n"
                              "  to-port: 100\n"
                              "  source-cidrs: [10.0.0.0/8, 192.168.0.0/16]\n"
                              "- port-range: 67/udp\n"
                              "  protocol: udp\n"
                              "  from-port: 67\n"
                              "  to-port: 67\n"
                              "  source-cidrs: [0.0.0.0/0]\n");
    free(text);
    json_decref(view);
    en_ingress_rules_free(&rules, count);
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
port_commands_take_a_range_a_machine_and_cidrs(void **state)
{
    (void)state;
    cli_t cli = {0};
    cli_args_t args;
    en_err_t err;
    char *open[] = {"environs", "open-port", "80/udp", "--cidr",     "10.0.0.0/8",
                    "3",        "-m",        "m1",     "--cidr=::/0"};
    assert_int_equal(s_check(ARGC(open), open, &cli, &args, &err), 0);
    assert_int_equal(args.word_count, 2);
    assert_string_equal(args.words[0], "80/udp");
    assert_string_equal(args.words[1], "3");
    assert_int_equal(args.value_count[CLI_OPT_CIDR], 2);
    assert_string_equal(args.values[CLI_OPT_CIDR][0], "10.0.0.0/8");
    assert_string_equal(args.values[CLI_OPT_CIDR][1], "::/0");
    cli_args_clear(&args);

    char *none[] = {"environs", "close-port"};
    assert_int_equal(s_check(ARGC(none), none, &cli, &args, &err), -1);
    assert_string_equal(err.message, "missing argument: PORTRANGE");
    cli_args_clear(&args);
    char *extra[] = {"environs", "open-port", "80", "0", "1"};
    assert_int_equal(s_check(ARGC(extra), extra, &cli, &args, &err), -1);
    assert_string_equal(err.message, "unrecognized args: [\"1\"]");
    cli_args_clear(&args);
    char *format[] = {"environs", "open-port", "80", "--format", "json"};
    assert_int_equal(s_check(ARGC(format), format, &cli, &args, &err), -1);
    assert_string_equal(err.message, "option provided but not defined: --format");
    cli_args_clear(&args);

    char *ports[] = {"environs", "ports", "0", "--format", "yaml"};
    assert_int_equal(s_check(ARGC(ports), ports, &cli, &args, &err), 0);
    assert_int_equal(cli.format, CLI_FORMAT_YAML);
    cli_args_clear(&args);
    char *tabular[] = {"environs", "ports"};
    assert_int_equal(s_check(ARGC(tabular), tabular, &cli, &args, &err), 0);
    assert_int_equal(cli.format, CLI_FORMAT_TABULAR);
    cli_args_clear(&args);
    char *cidr[] = {"environs", "ports", "--cidr", "10.0.0.0/8"};
    assert_int_equal(s_check(ARGC(cidr), cidr, &cli, &args, &err), -1);
    assert_string_equal(err.message, "option provided but not defined: --cidr");
    cli_args_clear(&args);
    char *two[] = {"environs", "ports", "0", "1"};
    assert_int_equal(s_check(ARGC(two), two, &cli, &args, &err), -1);
    assert_string_equal(err.message, "unrecognized args: [\"1\"]");
    cli_args_clear(&args);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(port_ranges_parse_like_juju),
        cmocka_unit_test(every_cidr_applies_to_every_range_in_canonical_form),
        cmocka_unit_test(bad_port_ranges_fail_with_juju_messages),
        cmocka_unit_test(wire_rules_that_are_not_valid_are_an_error),
        cmocka_unit_test(ports_table_sorted_like_juju),
        cmocka_unit_test(ports_view_as_json),
        cmocka_unit_test(ports_view_as_yaml_in_field_order),
        cmocka_unit_test(port_commands_take_a_range_a_machine_and_cidrs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
