/*  test_portrange.c — network.PortRange and network.IngressRule with Juju
    2.3's cases and messages (docs/juju-environs.md §4.2, §4.3, statements
    67 and 78). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/portrange.h"

static en_port_range_t
s_range(int from, int to, const char *proto)
{
    en_port_range_t r = {.from = from, .to = to};
    snprintf(r.protocol, sizeof r.protocol, "%s", proto);
    return r;
}

static void
validate_accepts_tcp_udp_and_bare_icmp(void **state)
{
    (void)state;
    en_err_t err;
    en_port_range_t ok[] = {s_range(80, 80, "tcp"), s_range(80, 100, "tcp"),
                            s_range(1, 65535, "udp"), s_range(-1, -1, "icmp"),
                            s_range(80, 80, "TCP")};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        assert_int_equal(en_port_range_validate(&ok[i], &err), 0);
}

static void
validate_reports_juju_messages(void **state)
{
    (void)state;
    const struct {
        en_port_range_t range;
        const char *message;
    } cases[] = {
        {s_range(0, 0, "tcp"), "invalid port range 0-0/tcp"},
        {s_range(90, 80, "tcp"), "invalid port range 90-80/tcp"},
        {s_range(80, 65536, "udp"), "invalid port range 80-65536/udp"},
        {s_range(-1, 80, "tcp"), "invalid port range -1-80/tcp"},
        {s_range(80, 80, "foo"),
         "invalid protocol \"foo\", expected \"tcp\", \"udp\", or \"icmp\""},
        {s_range(80, 80, "FOO"),
         "invalid protocol \"foo\", expected \"tcp\", \"udp\", or \"icmp\""},
        {s_range(80, 80, "icmp"), "protocol \"icmp\" doesn't support any ports; got \"80\""},
        {s_range(-1, 0, "icmp"), "protocol \"icmp\" doesn't support any ports; got \"-1\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        en_err_t err = {0};
        assert_int_equal(en_port_range_validate(&cases[i].range, &err), -1);
        assert_int_equal(err.kind, EN_NOT_VALID);
        assert_string_equal(err.message, cases[i].message);
    }
}

static void
parse_forms_and_default_protocol(void **state)
{
    (void)state;
    const struct {
        const char *text;
        int from, to;
        const char *proto;
    } cases[] = {
        {"80", 80, 80, "tcp"},
        {"80/tcp", 80, 80, "tcp"},
        {"80/TCP", 80, 80, "tcp"},
        {"80-100/udp", 80, 100, "udp"},
        {"80-100", 80, 100, "tcp"},
        {"icmp", -1, -1, "icmp"},
        {"65535/udp", 65535, 65535, "udp"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        en_port_range_t r;
        en_err_t err = {0};
        assert_int_equal(en_port_range_parse(cases[i].text, &r, &err), 0);
        assert_int_equal(r.from, cases[i].from);
        assert_int_equal(r.to, cases[i].to);
        assert_string_equal(r.protocol, cases[i].proto);
    }
}

static void
parse_errors_and_filled_result(void **state)
{
    (void)state;
    const struct {
        const char *text;
        const char *message;
    } cases[] = {
        {"1-2-3/tcp", "invalid port range \"1-2-3\""},
        {"x/tcp", "invalid port \"x\": strconv.Atoi: parsing \"x\": invalid syntax"},
        {"80-y", "invalid port \"y\": strconv.Atoi: parsing \"y\": invalid syntax"},
        {"", "invalid port \"\": strconv.Atoi: parsing \"\": invalid syntax"},
        {"99999999999999999999", "invalid port \"99999999999999999999\": strconv.Atoi: parsing "
                                 "\"99999999999999999999\": value out of range"},
        {"0/tcp", "invalid port range 0-0/tcp"},
        {"90-80/tcp", "invalid port range 90-80/tcp"},
        {"80/foo", "invalid protocol \"foo\", expected \"tcp\", \"udp\", or \"icmp\""},
        {"80/sctpsctpsctp",
         "invalid protocol \"sctpsctpsctp\", expected \"tcp\", \"udp\", or \"icmp\""},
        {"80/icmp", "protocol \"icmp\" doesn't support any ports; got \"80\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        en_port_range_t r;
        en_err_t err = {0};
        assert_int_equal(en_port_range_parse(cases[i].text, &r, &err), -1);
        assert_int_equal(err.kind, EN_NOT_VALID);
        assert_string_equal(err.message, cases[i].message);
    }
    //  The parsed value comes back even when it does not validate.
    en_port_range_t r;
    en_err_t err;
    assert_int_equal(en_port_range_parse("90-80/udp", &r, &err), -1);
    assert_int_equal(r.from, 90);
    assert_int_equal(r.to, 80);
    assert_string_equal(r.protocol, "udp");
}

static void
format_is_juju_string(void **state)
{
    (void)state;
    char buf[64];
    en_port_range_t r = s_range(80, 80, "TCP");
    en_port_range_format(&r, buf, sizeof buf);
    assert_string_equal(buf, "80/tcp");
    r = s_range(80, 100, "tcp");
    en_port_range_format(&r, buf, sizeof buf);
    assert_string_equal(buf, "80-100/tcp");
    r = s_range(-1, -1, "icmp");
    en_port_range_format(&r, buf, sizeof buf);
    assert_string_equal(buf, "icmp");
}

static void
conflicts_when_same_protocol_and_overlap(void **state)
{
    (void)state;
    en_port_range_t a = s_range(100, 200, "tcp"), b = s_range(201, 240, "tcp"),
                    c = s_range(200, 240, "tcp"), d = s_range(150, 150, "udp");
    assert_false(en_port_range_conflicts(&a, &b));
    assert_true(en_port_range_conflicts(&a, &c));
    assert_true(en_port_range_conflicts(&c, &a));
    assert_true(en_port_range_conflicts(&a, &a));
    assert_false(en_port_range_conflicts(&a, &d));
}

static void
sort_is_protocol_then_from_then_to(void **state)
{
    (void)state;
    //  Statement 67: [67/udp, 45/tcp, 80-100/tcp] → [45/tcp, 80-100/tcp, 67/udp].
    en_ingress_rule_t rules[4] = {0};
    en_port_range_t ranges[] = {s_range(67, 67, "udp"), s_range(45, 45, "tcp"),
                                s_range(80, 100, "tcp"), s_range(-1, -1, "icmp")};
    en_err_t err;
    for (int i = 0; i < 4; i++)
        assert_int_equal(en_ingress_rule_init(&rules[i], &ranges[i], NULL, 0, &err), 0);
    en_ingress_rules_sort(rules, 4);
    const char *want[] = {"icmp", "45/tcp", "80-100/tcp", "67/udp"};
    for (int i = 0; i < 4; i++) {
        char buf[64];
        en_ingress_rule_format(&rules[i], buf, sizeof buf);
        assert_string_equal(buf, want[i]);
        en_ingress_rule_clear(&rules[i]);
    }
    en_port_range_t a = s_range(80, 90, "tcp"), b = s_range(80, 100, "tcp");
    assert_true(en_port_range_cmp(&a, &b) < 0);
    assert_true(en_port_range_cmp(&b, &a) > 0);
    assert_int_equal(en_port_range_cmp(&a, &a), 0);
}

static void
rule_keeps_canonical_cidrs_once_in_order(void **state)
{
    (void)state;
    en_port_range_t r = s_range(80, 80, "tcp");
    const char *cidrs[] = {"192.168.1.7/16", "10.0.0.1/8",  "10.0.0.0/8", "2001:DB8:0:0::1/32",
                           "::/0",           "fe80::1/128", "0.0.0.0/0",  "1.2.3.4/32"};
    en_ingress_rule_t rule;
    en_err_t err;
    assert_int_equal(en_ingress_rule_init(&rule, &r, cidrs, 8, &err), 0);
    const char *want[] = {"192.168.0.0/16", "10.0.0.0/8", "2001:db8::/32", "::/0",
                          "fe80::1/128",    "0.0.0.0/0",  "1.2.3.4/32"};
    assert_int_equal(rule.cidr_count, 7);
    for (int i = 0; i < 7; i++)
        assert_string_equal(rule.cidrs[i], want[i]);
    en_ingress_rule_t copy;
    assert_int_equal(en_ingress_rule_copy(&copy, &rule, &err), 0);
    assert_int_equal(en_ingress_rule_cmp(&copy, &rule), 0);
    assert_ptr_not_equal(copy.cidrs[0], rule.cidrs[0]);
    en_ingress_rule_clear(&rule);
    en_ingress_rule_clear(&copy);
    assert_null(rule.cidrs);
    assert_int_equal(rule.cidr_count, 0);
}

static void
rule_refuses_bad_cidr_and_bad_range(void **state)
{
    (void)state;
    const char *bad[] = {"10.0.0.0",  "10.0.0.0/33", "10.0.0/8",    "010.0.0.0/8",
                         "10.0.0.0/", "::1/129",     "zz::/16",     "10.0.0.0/8x",
                         "/8",        "10.0.0.0/-1", "1.2.3.4/0032"};
    en_port_range_t r = s_range(80, 80, "tcp");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *cidrs[] = {"10.0.0.0/8", bad[i]};
        en_ingress_rule_t rule;
        en_err_t err = {0};
        assert_int_equal(en_ingress_rule_init(&rule, &r, cidrs, 2, &err), -1);
        assert_int_equal(err.kind, EN_NOT_VALID);
        char want[128];
        snprintf(want, sizeof want, "invalid CIDR address: %s", bad[i]);
        assert_string_equal(err.message, want);
        assert_null(rule.cidrs);
    }
    en_port_range_t zero = s_range(0, 0, "tcp");
    en_ingress_rule_t rule;
    en_err_t err;
    assert_int_equal(en_ingress_rule_init(&rule, &zero, NULL, 0, &err), -1);
    assert_string_equal(err.message, "invalid port range 0-0/tcp");
}

static void
rule_string_hides_only_the_whole_world(void **state)
{
    (void)state;
    const struct {
        en_port_range_t range;
        const char *cidrs[2];
        size_t n;
        const char *text;
    } cases[] = {
        {s_range(80, 80, "tcp"), {NULL}, 0, "80/tcp"},
        {s_range(80, 80, "tcp"), {"0.0.0.0/0"}, 1, "80/tcp"},
        {s_range(80, 80, "tcp"),
         {"10.0.0.0/8", "192.168.0.0/16"},
         2,
         "80/tcp from 10.0.0.0/8,192.168.0.0/16"},
        {s_range(80, 80, "tcp"),
         {"0.0.0.0/0", "10.0.0.0/8"},
         2,
         "80/tcp from 0.0.0.0/0,10.0.0.0/8"},
        {s_range(-1, -1, "icmp"), {"10.0.0.0/8"}, 1, "icmp from 10.0.0.0/8"},
        {s_range(8000, 8080, "udp"), {"2001:db8::/32"}, 1, "8000-8080/udp from 2001:db8::/32"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        en_ingress_rule_t rule;
        en_err_t err;
        assert_int_equal(
            en_ingress_rule_init(&rule, &cases[i].range, cases[i].cidrs, cases[i].n, &err), 0);
        char buf[128];
        en_ingress_rule_format(&rule, buf, sizeof buf);
        assert_string_equal(buf, cases[i].text);
        en_ingress_rule_clear(&rule);
    }
}

static void
rules_sort_by_range_then_joined_cidrs(void **state)
{
    (void)state;
    en_port_range_t r80 = s_range(80, 80, "tcp"), r22 = s_range(22, 22, "tcp");
    const char *set_b[] = {"10.0.0.0/8", "192.168.0.0/16"};
    const char *set_a[] = {"10.0.0.0/8"};
    const char *set_c[] = {"10.0.0.0/16"};
    en_ingress_rule_t *rules = calloc(5, sizeof *rules);
    en_err_t err;
    assert_int_equal(en_ingress_rule_init(&rules[0], &r80, set_b, 2, &err), 0);
    assert_int_equal(en_ingress_rule_init(&rules[1], &r80, set_c, 1, &err), 0);
    assert_int_equal(en_ingress_rule_init(&rules[2], &r80, set_a, 1, &err), 0);
    assert_int_equal(en_ingress_rule_init(&rules[3], &r22, set_b, 2, &err), 0);
    assert_int_equal(en_ingress_rule_init(&rules[4], &r80, NULL, 0, &err), 0);
    en_ingress_rules_sort(rules, 5);
    //  "" < "10.0.0.0/16" < "10.0.0.0/8" < "10.0.0.0/8,192.168.0.0/16"
    const char *want[] = {"22/tcp from 10.0.0.0/8,192.168.0.0/16", "80/tcp",
                          "80/tcp from 10.0.0.0/16", "80/tcp from 10.0.0.0/8",
                          "80/tcp from 10.0.0.0/8,192.168.0.0/16"};
    for (int i = 0; i < 5; i++) {
        char buf[128];
        en_ingress_rule_format(&rules[i], buf, sizeof buf);
        assert_string_equal(buf, want[i]);
    }
    en_ingress_rules_free(&rules, 5);
    assert_null(rules);
    en_ingress_rules_free(&rules, 5);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(validate_accepts_tcp_udp_and_bare_icmp),
        cmocka_unit_test(validate_reports_juju_messages),
        cmocka_unit_test(parse_forms_and_default_protocol),
        cmocka_unit_test(parse_errors_and_filled_result),
        cmocka_unit_test(format_is_juju_string),
        cmocka_unit_test(conflicts_when_same_protocol_and_overlap),
        cmocka_unit_test(sort_is_protocol_then_from_then_to),
        cmocka_unit_test(rule_keeps_canonical_cidrs_once_in_order),
        cmocka_unit_test(rule_refuses_bad_cidr_and_bad_range),
        cmocka_unit_test(rule_string_hides_only_the_whole_world),
        cmocka_unit_test(rules_sort_by_range_then_joined_cidrs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
