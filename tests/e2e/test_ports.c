/*  e2e: the firewall through the `environs` CLI — open-port, close-port
    and ports at model level (firewall-mode global) and at machine level
    (firewall-mode instance), and the wrong mode refused with Juju's words
    — against real gateway, registry, broker and firewaller processes on
    loopback and the sim cloud.

    The tests run in order and share one set of processes and one home:
    the first bootstraps controller c1 on the sim cloud, whose "default"
    model is in instance mode, and adds model "g" in global mode; each
    later test starts from what the previous ones left. Every check reads
    back through the CLI, the way a user would (statements 64-73 of
    docs/juju-environs.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <czmq.h>
#include <jansson.h>

#include "common/paths.h"
#include "harness.h"

static harness_t H;

static int
setup(void **state)
{
    (void)state;
    setenv("ENVIRONS_RETRY_SCALE", "0.05", 1);
    zsys_handler_set(NULL);
    if (harness_init(&H))
        return -1;
    static const char *const services[] = {"registry", "broker", "firewaller", "imagemeta", NULL};
    if (harness_up(&H, services))
        return -1;
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    return harness_fini(&H);
}

//  The command succeeds and prints nothing at all (open-port, close-port).
static void
s_quiet(const char *args)
{
    char *out, *err;
    int rc = harness_cli(&H, &out, &err, "%s", args);
    if (rc != 0 || *out || *err)
        fail_msg("environs %s: exit %d, stdout \"%s\", stderr \"%s\"", args, rc, out, err);
    free(out);
    free(err);
}

//  The command fails (exit 1) with exactly `message` on stderr.
static void
s_fails(const char *args, const char *message)
{
    char *out, *err;
    int rc = harness_cli(&H, &out, &err, "%s", args);
    if (rc != 1 || strcmp(err, message) != 0)
        fail_msg("environs %s: exit %d, stderr \"%s\", wanted exit 1 and \"%s\"", args, rc, err,
                 message);
    assert_string_equal(out, "");
    free(out);
    free(err);
}

//  The table `ports <args>` prints (asserts exit 0). Caller frees.
static char *
s_ports(const char *args)
{
    char *out, *err;
    int rc = harness_cli(&H, &out, &err, "ports %s", args);
    if (rc != 0)
        fail_msg("environs ports %s: exit %d: %s", args, rc, err);
    free(err);
    return out;
}

//  The text forms ("80/tcp") of `ports <args> --format json`, joined by
//  spaces, checking each item's fields agree with its text. Caller frees.
static char *
s_ports_json(const char *args)
{
    char *out, *err;
    int rc = harness_cli(&H, &out, &err, "ports %s --format json", args);
    if (rc != 0)
        fail_msg("environs ports %s --format json: exit %d: %s", args, rc, err);
    json_t *doc = json_loads(out, 0, NULL);
    if (!json_is_array(doc))
        fail_msg("environs ports %s: not a JSON list: %s", args, out);
    char *texts = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&texts, &size);
    size_t i;
    json_t *item;
    json_array_foreach(doc, i, item)
    {
        const char *text = json_string_value(json_object_get(item, "port-range"));
        const char *protocol = json_string_value(json_object_get(item, "protocol"));
        json_int_t from = json_integer_value(json_object_get(item, "from-port"));
        json_int_t to = json_integer_value(json_object_get(item, "to-port"));
        assert_non_null(text);
        assert_non_null(protocol);
        char want[64];
        if (strcmp(protocol, "icmp") == 0)
            snprintf(want, sizeof want, "icmp");
        else if (from == to)
            snprintf(want, sizeof want, "%lld/%s", (long long)from, protocol);
        else
            snprintf(want, sizeof want, "%lld-%lld/%s", (long long)from, (long long)to, protocol);
        assert_string_equal(text, want);
        assert_true(json_array_size(json_object_get(item, "source-cidrs")) >= 1);
        fprintf(f, "%s%s", i ? " " : "", text);
    }
    fclose(f);
    json_decref(doc);
    free(out);
    free(err);
    return texts;
}

//  --------------------------------------------------------------------------
//  Models in each mode

static void
bootstrap_and_a_global_model_show_their_firewall_modes(void **state)
{
    (void)state;
    char *out, *err;
    assert_int_equal(harness_cli(&H, &out, &err, "bootstrap sim/sim-east c1"), 0);
    free(out);
    free(err);
    assert_int_equal(harness_cli(&H, &out, &err, "show-model -m default"), 0);
    assert_non_null(strstr(out, "\n  firewall-mode: instance\n"));
    free(out);
    free(err);
    assert_int_equal(harness_cli(&H, &out, &err, "add-model g --config firewall-mode=global"), 0);
    free(out);
    free(err);
    assert_int_equal(harness_cli(&H, &out, &err, "show-model -m g --format json"), 0);
    json_t *doc = json_loads(out, 0, NULL);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(doc, "g"), "firewall-mode")), "global");
    json_decref(doc);
    free(out);
    free(err);
}

//  --------------------------------------------------------------------------
//  Global mode: the model's ports

static void
global_model_opens_and_lists_ports_sorted_like_juju(void **state)
{
    (void)state;
    char *out, *err;
    assert_int_equal(harness_cli(&H, &out, &err, "ports -m g"), 0);
    assert_string_equal(out, "");
    assert_string_equal(err, "No open ports.\n"); // nothing open initially (66)
    free(out);
    free(err);
    s_quiet("open-port 67/udp,45,80-100 -m g");
    s_quiet("open-port 80 -m g");
    s_quiet("open-port icmp --cidr 10.0.0.1/8 --cidr 192.168.0.0/16 -m g");
    s_quiet("open-port 80,45 -m g"); // opening again changes nothing (68, 69)
    char *table = s_ports("-m g");
    assert_string_equal(table, "Protocol  Ports   Source\n"
                               "icmp      -       10.0.0.0/8,192.168.0.0/16\n"
                               "tcp       45      0.0.0.0/0\n"
                               "tcp       80      0.0.0.0/0\n"
                               "tcp       80-100  0.0.0.0/0\n"
                               "udp       67      0.0.0.0/0\n");
    free(table);
    char *texts = s_ports_json("-m g");
    assert_string_equal(texts, "icmp 45/tcp 80/tcp 80-100/tcp 67/udp");
    free(texts);
    assert_int_equal(harness_cli(&H, &out, &err, "ports -m g --format yaml"), 0);
    assert_non_null(strstr(out, "- port-range: 45/tcp\n  protocol: tcp\n  from-port: 45\n"
                                "  to-port: 45\n  source-cidrs: [0.0.0.0/0]\n"));
    free(out);
    free(err);
}

static void
global_model_closes_exactly_the_ranges_given(void **state)
{
    (void)state;
    //  80/tcp goes, 80-100/tcp stays (73); closing what is not open is
    //  fine (70); one call closes several protocols (71)
    s_quiet("close-port 80,67/udp,1000-2000 -m g");
    s_quiet("close-port icmp --cidr 10.0.0.0/8 --cidr 192.168.0.0/16 -m g");
    char *texts = s_ports_json("-m g");
    assert_string_equal(texts, "45/tcp 80-100/tcp");
    free(texts);
}

static void
global_model_refuses_machine_ports(void **state)
{
    (void)state;
    char *out, *err;
    assert_int_equal(harness_cli(&H, &out, &err, "add-machine -m g"), 0);
    assert_string_equal(err, "created machine 0\n");
    free(out);
    free(err);
    s_fails("open-port 80 0 -m g",
            "ERROR invalid firewall mode \"global\" for opening ports on instance\n");
    s_fails("close-port 80 0 -m g",
            "ERROR invalid firewall mode \"global\" for closing ports on instance\n");
    s_fails("ports 0 -m g",
            "ERROR invalid firewall mode \"global\" for retrieving ingress rules from instance\n");
    char *texts = s_ports_json("-m g");
    assert_string_equal(texts, "45/tcp 80-100/tcp");
    free(texts);
}

//  --------------------------------------------------------------------------
//  Instance mode: each machine's ports

static void
instance_model_opens_ports_on_one_machine_only(void **state)
{
    (void)state;
    char *out, *err;
    assert_int_equal(harness_cli(&H, &out, &err, "add-machine -n 2 -m default"), 0);
    assert_non_null(strstr(err, "created machine 0\n"));
    assert_non_null(strstr(err, "created machine 1\n"));
    free(out);
    free(err);
    char *table = s_ports("0 -m default");
    assert_string_equal(table, ""); // nothing open initially (66)
    free(table);
    s_quiet("open-port 80 0 -m default");
    s_quiet("open-port 53/udp,8000-8080 --cidr 192.168.1.0/24 0 -m default");
    table = s_ports("0 -m default");
    assert_string_equal(table, "Protocol  Ports      Source\n"
                               "tcp       80         0.0.0.0/0\n"
                               "tcp       8000-8080  192.168.1.0/24\n"
                               "udp       53         192.168.1.0/24\n");
    free(table);
    //  no crosstalk (72)
    assert_int_equal(harness_cli(&H, &out, &err, "ports 1 -m default"), 0);
    assert_string_equal(out, "");
    assert_string_equal(err, "No open ports.\n");
    free(out);
    free(err);
    char *texts = s_ports_json("1 -m default");
    assert_string_equal(texts, "");
    free(texts);
    //  the other model's ports are its own
    texts = s_ports_json("-m g");
    assert_string_equal(texts, "45/tcp 80-100/tcp");
    free(texts);
}

static void
instance_model_closes_on_the_machine_named(void **state)
{
    (void)state;
    s_quiet("open-port 80 1 -m default");
    //  a rule is closed by its range and sources together (78): without
    //  --cidr, 8000-8080 from 192.168.1.0/24 stays
    s_quiet("close-port 80,8000-8080 0 -m default");
    char *texts = s_ports_json("0 -m default");
    assert_string_equal(texts, "8000-8080/tcp 53/udp");
    free(texts);
    s_quiet("close-port 53/udp,8000-8080 --cidr 192.168.1.0/24 0 -m default");
    texts = s_ports_json("0 -m default");
    assert_string_equal(texts, "");
    free(texts);
    texts = s_ports_json("1 -m default");
    assert_string_equal(texts, "80/tcp");
    free(texts);
}

static void
instance_model_refuses_model_ports(void **state)
{
    (void)state;
    s_fails("open-port 80 -m default",
            "ERROR invalid firewall mode \"instance\" for opening ports on model\n");
    s_fails("close-port 80 -m default",
            "ERROR invalid firewall mode \"instance\" for closing ports on model\n");
    s_fails("ports -m default",
            "ERROR invalid firewall mode \"instance\" for retrieving ingress rules from model\n");
}

static void
unknown_machines_and_bad_ranges_fail_before_the_firewall(void **state)
{
    (void)state;
    s_fails("open-port 80 9 -m default", "ERROR machine 9 not found\n");
    s_fails("ports 9 -m default", "ERROR machine 9 not found\n");
    char *out, *err;
    assert_int_equal(harness_cli(&H, &out, &err, "open-port 80-90/sctp 0 -m default"), 2);
    assert_string_equal(
        err, "ERROR invalid protocol \"sctp\", expected \"tcp\", \"udp\", or \"icmp\"\n");
    free(out);
    free(err);
    char *texts = s_ports_json("1 -m default");
    assert_string_equal(texts, "80/tcp");
    free(texts);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bootstrap_and_a_global_model_show_their_firewall_modes),
        cmocka_unit_test(global_model_opens_and_lists_ports_sorted_like_juju),
        cmocka_unit_test(global_model_closes_exactly_the_ranges_given),
        cmocka_unit_test(global_model_refuses_machine_ports),
        cmocka_unit_test(instance_model_opens_ports_on_one_machine_only),
        cmocka_unit_test(instance_model_closes_on_the_machine_named),
        cmocka_unit_test(instance_model_refuses_model_ports),
        cmocka_unit_test(unknown_machines_and_bad_ranges_fail_before_the_firewall),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
