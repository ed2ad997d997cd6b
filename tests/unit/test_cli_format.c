/*  The environs CLI without a gateway: argument parsing, typed key=value
    words, table alignment, YAML/JSON views (models, machines), progress
    lines, finding the gateway and the current controller and model, and —
    running the built binary — the errors and exit statuses a user sees
    when there is no gateway. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>
#include <cmocka.h>

#include <czmq.h>

#include "cli/cli.h"

#define ARGC(a) ((int)(sizeof(a) / sizeof(a)[0]))

//  --------------------------------------------------------------------------
//  Arguments

static void
args_options_anywhere_and_repeatable(void **state)
{
    (void)state;
    char *argv[] = {"environs",        "--timeout",    "500", "add-model",   "foo",
                    "aws/us-east-1",   "--credential", "bob", "--config",    "a=1",
                    "--config=b=true", "-m",           "x",   "-fcreds.yaml"};
    cli_args_t args;
    en_err_t err;
    assert_int_equal(cli_args_parse(ARGC(argv), argv, &args, &err), 0);
    assert_string_equal(args.command, "add-model");
    assert_int_equal(args.word_count, 2);
    assert_string_equal(args.words[0], "foo");
    assert_string_equal(args.words[1], "aws/us-east-1");
    assert_string_equal(cli_args_value(&args, CLI_OPT_TIMEOUT), "500");
    assert_string_equal(cli_args_value(&args, CLI_OPT_CREDENTIAL), "bob");
    assert_int_equal(args.value_count[CLI_OPT_CONFIG], 2);
    assert_string_equal(args.values[CLI_OPT_CONFIG][0], "a=1");
    assert_string_equal(args.values[CLI_OPT_CONFIG][1], "b=true");
    assert_string_equal(cli_args_value(&args, CLI_OPT_MODEL), "x");
    assert_string_equal(cli_args_value(&args, CLI_OPT_FILE), "creds.yaml");
    assert_true(cli_args_has(&args, CLI_OPT_CONFIG));
    assert_false(cli_args_has(&args, CLI_OPT_REPLACE));
    cli_args_clear(&args);
}

static void
args_double_dash_ends_options(void **state)
{
    (void)state;
    char *argv[] = {"environs", "model-config", "--replace", "--", "--odd=1", "-m"};
    cli_args_t args;
    en_err_t err;
    assert_int_equal(cli_args_parse(ARGC(argv), argv, &args, &err), 0);
    assert_true(cli_args_has(&args, CLI_OPT_REPLACE));
    assert_int_equal(args.word_count, 2);
    assert_string_equal(args.words[0], "--odd=1");
    assert_string_equal(args.words[1], "-m");
    cli_args_clear(&args);
}

static void
args_unknown_or_incomplete_options_are_usage_errors(void **state)
{
    (void)state;
    cli_args_t args;
    en_err_t err;
    char *unknown[] = {"environs", "clouds", "--bogus"};
    assert_int_equal(cli_args_parse(ARGC(unknown), unknown, &args, &err), -1);
    assert_string_equal(err.message, "option provided but not defined: --bogus");
    char *missing[] = {"environs", "clouds", "--format"};
    assert_int_equal(cli_args_parse(ARGC(missing), missing, &args, &err), -1);
    assert_string_equal(err.message, "option needs an argument: --format");
    char *flag_value[] = {"environs", "add-credential", "--replace=yes"};
    assert_int_equal(cli_args_parse(ARGC(flag_value), flag_value, &args, &err), -1);
    assert_string_equal(err.message, "option does not take a value: --replace=yes");
}

//  Parse argv and check it against its command's row.
static int
s_check(int argc, char **argv, cli_t *cli, en_err_t *err)
{
    cli_args_t args;
    if (cli_args_parse(argc, argv, &args, err))
        return -1;
    const cli_command_t *command = cli_command_find(args.command);
    assert_non_null(command);
    int rc = cli_args_check(&args, command, cli, err);
    cli_args_clear(&args);
    return rc;
}

static void
args_check_against_the_command_row(void **state)
{
    (void)state;
    cli_t cli = {0};
    en_err_t err;
    char *other_option[] = {"environs", "regions", "aws", "--credential", "x"};
    assert_int_equal(s_check(ARGC(other_option), other_option, &cli, &err), -1);
    assert_string_equal(err.message, "option provided but not defined: --credential");
    char *no_cloud[] = {"environs", "regions"};
    assert_int_equal(s_check(ARGC(no_cloud), no_cloud, &cli, &err), -1);
    assert_string_equal(err.message, "missing argument: CLOUD");
    char *extra[] = {"environs", "clouds", "a", "b"};
    assert_int_equal(s_check(ARGC(extra), extra, &cli, &err), -1);
    assert_string_equal(err.message, "unrecognized args: [\"a\" \"b\"]");
    char *xml[] = {"environs", "models", "--format", "xml"};
    assert_int_equal(s_check(ARGC(xml), xml, &cli, &err), -1);
    assert_string_equal(err.message,
                        "invalid value \"xml\" for option --format: unknown format \"xml\"");
    char *show_tabular[] = {"environs", "show-model", "--format", "tabular"};
    assert_int_equal(s_check(ARGC(show_tabular), show_tabular, &cli, &err), -1);
    char *bad_timeout[] = {"environs", "clouds", "--timeout", "soon"};
    assert_int_equal(s_check(ARGC(bad_timeout), bad_timeout, &cli, &err), -1);
    assert_string_equal(err.message, "invalid value \"soon\" for option --timeout");

    char *defaults[] = {"environs", "models"};
    assert_int_equal(s_check(ARGC(defaults), defaults, &cli, &err), 0);
    assert_int_equal(cli.format, CLI_FORMAT_TABULAR);
    assert_int_equal(cli.timeout_ms, CLI_DEFAULT_TIMEOUT_MS);
    char *show[] = {"environs", "show-model", "-m", "m1", "--timeout", "2s"};
    assert_int_equal(s_check(ARGC(show), show, &cli, &err), 0);
    assert_int_equal(cli.format, CLI_FORMAT_YAML);
    assert_int_equal(cli.timeout_ms, 2000);
    char *json[] = {"environs", "--format=json", "credentials", "aws"};
    assert_int_equal(s_check(ARGC(json), json, &cli, &err), 0);
    assert_int_equal(cli.format, CLI_FORMAT_JSON);
}

static void
args_of_the_machine_and_controller_commands(void **state)
{
    (void)state;
    cli_t cli = {0};
    en_err_t err;
    char *no_cloud[] = {"environs", "bootstrap"};
    assert_int_equal(s_check(ARGC(no_cloud), no_cloud, &cli, &err), -1);
    assert_string_equal(err.message, "missing argument: CLOUD");
    char *bootstrap[] = {"environs",
                         "bootstrap",
                         "sim/sim-east",
                         "c1",
                         "--constraints",
                         "mem=4G",
                         "--keep-broken",
                         "--config",
                         "default-series=noble",
                         "--bootstrap-constraints=cores=2"};
    assert_int_equal(s_check(ARGC(bootstrap), bootstrap, &cli, &err), 0);
    char *broken[] = {"environs", "add-machine", "--keep-broken"};
    assert_int_equal(s_check(ARGC(broken), broken, &cli, &err), -1);
    assert_string_equal(err.message, "option provided but not defined: --keep-broken");
    char *add[] = {"environs", "add-machine", "-n3",       "--constraints",
                   "cores=2",  "-m",          "c1:default"};
    assert_int_equal(s_check(ARGC(add), add, &cli, &err), 0);
    char *no_ids[] = {"environs", "remove-machine"};
    assert_int_equal(s_check(ARGC(no_ids), no_ids, &cli, &err), -1);
    assert_string_equal(err.message, "missing argument: ID");
    char *ids[] = {"environs", "remove-machine", "1", "2", "3"};
    assert_int_equal(s_check(ARGC(ids), ids, &cli, &err), 0);
    char *destroy[] = {"environs", "destroy-controller", "c1", "--destroy-all-models"};
    assert_int_equal(s_check(ARGC(destroy), destroy, &cli, &err), 0);
    char *kill_all[] = {"environs", "kill-controller", "c1", "--destroy-all-models"};
    assert_int_equal(s_check(ARGC(kill_all), kill_all, &cli, &err), -1);
    char *machines[] = {"environs", "machines", "--format", "yaml"};
    assert_int_equal(s_check(ARGC(machines), machines, &cli, &err), 0);
    assert_int_equal(cli.format, CLI_FORMAT_YAML);
}

//  Commands that make machines wait long unless --timeout says otherwise.
static void
long_commands_take_their_own_default_timeout(void **state)
{
    (void)state;
    cli_t cli = {0};
    en_err_t err;
    cli_args_t args;
    char *plain[] = {"environs", "bootstrap", "sim"};
    assert_int_equal(cli_args_parse(ARGC(plain), plain, &args, &err), 0);
    assert_int_equal(cli_args_check(&args, cli_command_find("bootstrap"), &cli, &err), 0);
    assert_int_equal(cli_timeout_or(&cli, &args, CLI_BOOTSTRAP_TIMEOUT_MS),
                     CLI_BOOTSTRAP_TIMEOUT_MS);
    cli_args_clear(&args);
    char *given[] = {"environs", "bootstrap", "sim", "--timeout", "90s"};
    assert_int_equal(cli_args_parse(ARGC(given), given, &args, &err), 0);
    assert_int_equal(cli_args_check(&args, cli_command_find("bootstrap"), &cli, &err), 0);
    assert_int_equal(cli_timeout_or(&cli, &args, CLI_BOOTSTRAP_TIMEOUT_MS), 90000);
    cli_args_clear(&args);
}

static void
constraints_options_parse_like_juju(void **state)
{
    (void)state;
    en_err_t err;
    cli_args_t args;
    en_constraints_t cons;
    en_constraints_init(&cons);
    char *two[] = {"environs", "add-machine",   "--constraints",
                   "mem=4G",   "--constraints", "cores=2 zones=a,b"};
    assert_int_equal(cli_args_parse(ARGC(two), two, &args, &err), 0);
    assert_int_equal(cli_constraints_arg(&args, CLI_OPT_CONSTRAINTS, &cons, &err), 0);
    char *text = en_constraints_string(&cons);
    assert_string_equal(text, "cores=2 mem=4096M zones=a,b");
    free(text);
    assert_int_equal(cli_constraints_arg(&args, CLI_OPT_BOOTSTRAP_CONSTRAINTS, &cons, &err), 0);
    assert_true(en_constraints_is_empty(&cons));
    cli_args_clear(&args);
    char *bad[] = {"environs", "add-machine", "--constraints", "mem=lots"};
    assert_int_equal(cli_args_parse(ARGC(bad), bad, &args, &err), 0);
    assert_int_equal(cli_constraints_arg(&args, CLI_OPT_CONSTRAINTS, &cons, &err), -1);
    assert_non_null(strstr(err.message, "invalid value \"mem=lots\" for option --constraints: "
                                        "bad \"mem\" constraint"));
    cli_args_clear(&args);
    en_constraints_reset(&cons);
}

static void
timeout_units(void **state)
{
    (void)state;
    assert_int_equal(cli_timeout_parse("500"), 500);
    assert_int_equal(cli_timeout_parse("500ms"), 500);
    assert_int_equal(cli_timeout_parse("30s"), 30000);
    assert_int_equal(cli_timeout_parse("0"), -1);
    assert_int_equal(cli_timeout_parse("-5"), -1);
    assert_int_equal(cli_timeout_parse("5m"), -1);
    assert_int_equal(cli_timeout_parse(""), -1);
}

//  --------------------------------------------------------------------------
//  key=value typing

static void
kv_values_are_typed_like_model_config(void **state)
{
    (void)state;
    json_t *obj = json_object();
    en_err_t err;
    const char *words[] = {"t=true",    "f=false", "n=42",   "neg=-7", "big=99999999999999999999",
                           "float=1.5", "s=hello", "empty=", "eq=a=b", "caps=True"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        assert_int_equal(cli_kv_set(obj, words[i], true, &err), 0);
    char *text = cli_json_render(obj);
    assert_string_equal(text, "{\"big\":\"99999999999999999999\",\"caps\":\"True\",\"empty\":\"\","
                              "\"eq\":\"a=b\",\"f\":false,\"float\":\"1.5\",\"n\":42,\"neg\":-7,"
                              "\"s\":\"hello\",\"t\":true}\n");
    free(text);
    json_decref(obj);
}

static void
kv_untyped_values_stay_strings(void **state)
{
    (void)state;
    json_t *obj = json_object();
    en_err_t err;
    assert_int_equal(cli_kv_set(obj, "port=8080", false, &err), 0);
    assert_string_equal(json_string_value(json_object_get(obj, "port")), "8080");
    json_decref(obj);
}

static void
kv_needs_a_key_and_an_equals_sign(void **state)
{
    (void)state;
    json_t *obj = json_object();
    en_err_t err;
    assert_int_equal(cli_kv_set(obj, "novalue", true, &err), -1);
    assert_string_equal(err.message, "expected \"key=value\", got \"novalue\"");
    assert_int_equal(cli_kv_set(obj, "=v", true, &err), -1);
    assert_int_equal(json_object_size(obj), 0);
    json_decref(obj);
}

//  --------------------------------------------------------------------------
//  Tables

static void
table_columns_align_like_juju(void **state)
{
    (void)state;
    cli_table_t *t =
        cli_table_new((const char *[]){"Cloud", "Regions", "Default", "Type", "Description", NULL});
    cli_table_align_right(t, 1);
    cli_table_row(t, "aws", "11", "us-east-1", "ec2", "Amazon Web Services");
    cli_table_row(t, "localhost", "1", "localhost", "lxd", "LXD Container Hypervisor");
    cli_table_row(t, "mine", "0", NULL, "sim", ""); // empty trailing cells: no trailing blanks
    assert_int_equal(cli_table_rows(t), 3);
    char *text = cli_table_render(t);
    assert_string_equal(text, "Cloud      Regions  Default    Type  Description\n"
                              "aws             11  us-east-1  ec2   Amazon Web Services\n"
                              "localhost        1  localhost  lxd   LXD Container Hypervisor\n"
                              "mine             0             sim\n");
    free(text);
    cli_table_destroy(&t);
    cli_table_destroy(&t); // idempotent
}

static void
table_width_counts_characters_not_bytes(void **state)
{
    (void)state;
    cli_table_t *t = cli_table_new((const char *[]){"Name", "X", NULL});
    cli_table_row(t, "caf\xc3\xa9", "1"); // "café": 5 bytes, 4 columns
    cli_table_row(t, "ab", "2");
    char *text = cli_table_render(t);
    assert_string_equal(text, "Name  X\ncaf\xc3\xa9  1\nab    2\n");
    free(text);
    cli_table_destroy(&t);
}

//  --------------------------------------------------------------------------
//  Views: a fixed model list as YAML and JSON

static void
s_models_fixture(En__Model *m, En__CloudSpec *spec, En__Model *m2, En__CloudSpec *spec2)
{
    en__model__init(m);
    en__cloud_spec__init(spec);
    spec->type = "sim";
    spec->name = "sim";
    spec->region = "r1";
    m->uuid = "1111";
    m->name = "default";
    m->owner = "admin";
    m->cloud = spec;
    m->controller_uuid = "c1";
    m->created_ms = 1764090000000ULL; // 2025-11-25T17:00:00Z
    m->credential_name = "bob";
    en__model__init(m2);
    en__cloud_spec__init(spec2);
    spec2->type = "lxd";
    spec2->name = "localhost";
    m2->uuid = "9a3e";
    m2->name = "true"; // a name YAML would read as a bool
    m2->owner = "admin";
    m2->cloud = spec2;
}

static void
models_view_as_yaml(void **state)
{
    (void)state;
    En__Model m, m2;
    En__CloudSpec spec, spec2;
    s_models_fixture(&m, &spec, &m2, &spec2);
    En__Model *models[] = {&m, &m2};
    json_t *view = cli_models_view(models, 2, "default");
    char *text = cli_yaml_render(view);
    assert_string_equal(text, "models:\n"
                              "- name: default\n"
                              "  model-uuid: \"1111\"\n"
                              "  controller-uuid: c1\n"
                              "  owner: admin\n"
                              "  cloud: sim\n"
                              "  region: r1\n"
                              "  type: sim\n"
                              "  credential: bob\n"
                              "  created: \"2025-11-25T17:00:00Z\"\n"
                              "- name: \"true\"\n"
                              "  model-uuid: 9a3e\n"
                              "  owner: admin\n"
                              "  cloud: localhost\n"
                              "  type: lxd\n"
                              "current-model: default\n");
    free(text);
    json_decref(view);
}

static void
models_view_as_json(void **state)
{
    (void)state;
    En__Model m, m2;
    En__CloudSpec spec, spec2;
    s_models_fixture(&m, &spec, &m2, &spec2);
    En__Model *models[] = {&m, &m2};
    json_t *view = cli_models_view(models, 2, NULL);
    char *text = cli_json_render(view);
    assert_string_equal(text, "{\"models\":[{\"cloud\":\"sim\",\"controller-uuid\":\"c1\","
                              "\"created\":\"2025-11-25T17:00:00Z\",\"credential\":\"bob\","
                              "\"model-uuid\":\"1111\",\"name\":\"default\",\"owner\":\"admin\","
                              "\"region\":\"r1\",\"type\":\"sim\"},{\"cloud\":\"localhost\","
                              "\"model-uuid\":\"9a3e\",\"name\":\"true\",\"owner\":\"admin\","
                              "\"type\":\"lxd\"}]}\n");
    free(text);
    json_decref(view);
}

static void
models_table_marks_the_current_model(void **state)
{
    (void)state;
    En__Model m, m2;
    En__CloudSpec spec, spec2;
    s_models_fixture(&m, &spec, &m2, &spec2);
    En__Model *models[] = {&m, &m2};
    cli_table_t *t = cli_models_table(models, 2, "default");
    char *text = cli_table_render(t);
    assert_string_equal(text, "Model     Cloud/Region  Type  Credential  Owner\n"
                              "default*  sim/r1        sim   bob         admin\n"
                              "true      localhost     lxd               admin\n");
    free(text);
    cli_table_destroy(&t);
}

static void
yaml_quotes_what_would_read_back_as_another_type(void **state)
{
    (void)state;
    json_t *v = json_pack("{s:s, s:s, s:s, s:s, s:s, s:[], s:{}, s:[i,s,b], s:[{s:s}], s:n, s:f}",
                          "a", "true", "b", "123", "c", "", "d", "-----BEGIN\nabc\n", "e",
                          "plain text", "f", "g", "h", 1, "two", 0, "i", "k", "v", "j", "k", 2.5);
    char *text = cli_yaml_render(v);
    assert_string_equal(text, "a: \"true\"\n"
                              "b: \"123\"\n"
                              "c: \"\"\n"
                              "d: |\n"
                              "  -----BEGIN\n"
                              "  abc\n"
                              "e: plain text\n"
                              "f: []\n"
                              "g: {}\n"
                              "h: [1, two, false]\n"
                              "i:\n"
                              "- k: v\n"
                              "j: null\n"
                              "k: 2.5\n");
    free(text);
    json_decref(v);
}

static void
yaml_resolves_scalars_like_go_yaml(void **state)
{
    (void)state;
    assert_int_equal(cli_yaml_resolve("~"), CLI_YAML_NULL);
    assert_int_equal(cli_yaml_resolve(""), CLI_YAML_NULL);
    assert_int_equal(cli_yaml_resolve("yes"), CLI_YAML_BOOL);
    assert_int_equal(cli_yaml_resolve("OFF"), CLI_YAML_BOOL);
    assert_int_equal(cli_yaml_resolve("0x1F"), CLI_YAML_INT);
    assert_int_equal(cli_yaml_resolve("-1_000"), CLI_YAML_INT);
    assert_int_equal(cli_yaml_resolve("1e3"), CLI_YAML_FLOAT);
    assert_int_equal(cli_yaml_resolve(".5"), CLI_YAML_FLOAT);
    assert_int_equal(cli_yaml_resolve(".inf"), CLI_YAML_FLOAT);
    assert_int_equal(cli_yaml_resolve("2025-1-2"), CLI_YAML_TIMESTAMP);
    assert_int_equal(cli_yaml_resolve("us-east-1"), CLI_YAML_STR);
    assert_int_equal(cli_yaml_resolve("1.2.3"), CLI_YAML_STR);
    assert_int_equal(cli_yaml_resolve("0x"), CLI_YAML_STR);
}

//  --------------------------------------------------------------------------
//  Machines: hardware text, order, status view and table

static void
hardware_text_in_juju_order_without_absent_fields(void **state)
{
    (void)state;
    En__HardwareCharacteristics hw = EN__HARDWARE_CHARACTERISTICS__INIT;
    char *tags[] = {"a", "b"};
    hw._arch_case = EN__HARDWARE_CHARACTERISTICS___ARCH_ARCH;
    hw.arch = "amd64";
    hw._cpu_cores_case = EN__HARDWARE_CHARACTERISTICS___CPU_CORES_CPU_CORES;
    hw.cpu_cores = 2;
    hw._cpu_power_case = EN__HARDWARE_CHARACTERISTICS___CPU_POWER_CPU_POWER;
    hw.cpu_power = 100;
    hw._mem_case = EN__HARDWARE_CHARACTERISTICS___MEM_MEM;
    hw.mem = 4096;
    hw._root_disk_case = EN__HARDWARE_CHARACTERISTICS___ROOT_DISK_ROOT_DISK;
    hw.root_disk = 8192;
    hw.tags = tags;
    hw.n_tags = 2;
    hw._availability_zone_case = EN__HARDWARE_CHARACTERISTICS___AVAILABILITY_ZONE_AVAILABILITY_ZONE;
    hw.availability_zone = "z1";
    char *text = cli_hardware_text(&hw);
    assert_string_equal(text, "arch=amd64 cores=2 cpu-power=100 mem=4096M root-disk=8192M "
                              "tags=a,b availability-zone=z1");
    free(text);
    //  set to zero is present; unset is absent
    En__HardwareCharacteristics some = EN__HARDWARE_CHARACTERISTICS__INIT;
    some._mem_case = EN__HARDWARE_CHARACTERISTICS___MEM_MEM;
    some.mem = 0;
    some._availability_zone_case =
        EN__HARDWARE_CHARACTERISTICS___AVAILABILITY_ZONE_AVAILABILITY_ZONE;
    some.availability_zone = "z2";
    text = cli_hardware_text(&some);
    assert_string_equal(text, "mem=0M availability-zone=z2");
    free(text);
    text = cli_hardware_text(NULL);
    assert_string_equal(text, "");
    free(text);
}

//  One instance as the broker returns it: running, amd64 with 2 cores,
//  4 GiB and 8 GiB of disk, in `zone`, at a cloud-local address.
typedef struct {
    En__Instance inst;
    En__InstanceStatus status;
    En__HardwareCharacteristics hw;
    En__Instance__TagsEntry tag[2];
    En__Instance__TagsEntry *tags[2];
    En__Address address;
    En__Address *addresses[1];
} machine_fixture_t;

static En__Instance *
s_machine(machine_fixture_t *f, const char *machine_id, const char *instance_id, const char *zone,
          const char *ip)
{
    en__instance__init(&f->inst);
    f->inst.id = (char *)instance_id;
    en__instance_status__init(&f->status);
    f->status.status = "running";
    f->status.message = "running";
    f->inst.status = &f->status;
    en__hardware_characteristics__init(&f->hw);
    f->hw._arch_case = EN__HARDWARE_CHARACTERISTICS___ARCH_ARCH;
    f->hw.arch = "amd64";
    f->hw._cpu_cores_case = EN__HARDWARE_CHARACTERISTICS___CPU_CORES_CPU_CORES;
    f->hw.cpu_cores = 2;
    f->hw._mem_case = EN__HARDWARE_CHARACTERISTICS___MEM_MEM;
    f->hw.mem = 4096;
    f->hw._root_disk_case = EN__HARDWARE_CHARACTERISTICS___ROOT_DISK_ROOT_DISK;
    f->hw.root_disk = 8192;
    f->hw._availability_zone_case =
        EN__HARDWARE_CHARACTERISTICS___AVAILABILITY_ZONE_AVAILABILITY_ZONE;
    f->hw.availability_zone = (char *)zone;
    f->inst.hardware = &f->hw;
    en__instance__tags_entry__init(&f->tag[0]);
    f->tag[0].key = "juju-model-uuid";
    f->tag[0].value = "1111";
    en__instance__tags_entry__init(&f->tag[1]);
    f->tag[1].key = "juju-machine-id";
    f->tag[1].value = (char *)machine_id;
    f->tags[0] = &f->tag[0];
    f->tags[1] = &f->tag[1];
    f->inst.tags = f->tags;
    f->inst.n_tags = machine_id ? 2 : 1;
    en__address__init(&f->address);
    f->address.value = (char *)ip;
    f->address.type = "ipv4";
    f->address.scope = "local-cloud";
    f->addresses[0] = &f->address;
    f->inst.addresses = f->addresses;
    f->inst.n_addresses = 1;
    return &f->inst;
}

static void
machines_sort_by_id_numerically_part_by_part(void **state)
{
    (void)state;
    machine_fixture_t f[5];
    En__Instance *list[] = {
        s_machine(&f[0], "10", "i-10", "z1", "10.0.0.10"),
        s_machine(&f[1], NULL, "i-x", "z1", "10.0.0.99"),
        s_machine(&f[2], "2", "i-2", "z1", "10.0.0.2"),
        s_machine(&f[3], "0/lxd/1", "i-0-1", "z1", "10.0.0.3"),
        s_machine(&f[4], "0", "i-0", "z1", "10.0.0.1"),
    };
    cli_machines_sort(list, 5);
    const char *order[] = {"i-0", "i-0-1", "i-2", "i-10", "i-x"};
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(list[i]->id, order[i]);
}

//  Machines 0, 2 and 10 of model "default", plus an instance that is no
//  machine (it has no machine id), in id order.
static void
s_machines_fixture(machine_fixture_t *f, En__Instance **list, En__Model *m, En__CloudSpec *spec)
{
    list[0] = s_machine(&f[0], "0", "i-0", "sim-east-a", "10.0.0.1");
    list[1] = s_machine(&f[1], "2", "i-2", "sim-east-b", "10.0.0.2");
    list[2] = s_machine(&f[2], "10", "i-10", "sim-east-a", "10.0.0.10");
    list[3] = s_machine(&f[3], NULL, "i-x", "sim-east-a", "10.0.0.99");
    f[1].status.status = "allocating";
    f[1].status.message = "pending";
    f[1].hw._cpu_cores_case = 0; // not known yet
    en__model__init(m);
    en__cloud_spec__init(spec);
    spec->name = "sim";
    spec->region = "sim-east";
    m->name = "default";
    m->cloud = spec;
}

static void
machines_view_as_json_like_juju_status(void **state)
{
    (void)state;
    machine_fixture_t f[4];
    En__Instance *list[4];
    En__Model m;
    En__CloudSpec spec;
    s_machines_fixture(f, list, &m, &spec);
    json_t *view = cli_machines_view(&m, list, 4);
    char *text = cli_json_render(view);
    assert_string_equal(
        text, "{\"machines\":{"
              "\"0\":{\"availability-zone\":\"sim-east-a\",\"dns-name\":\"10.0.0.1\","
              "\"hardware\":\"arch=amd64 cores=2 mem=4096M root-disk=8192M "
              "availability-zone=sim-east-a\",\"instance-id\":\"i-0\","
              "\"ip-addresses\":[\"10.0.0.1\"],"
              "\"machine-status\":{\"current\":\"running\",\"message\":\"running\"}},"
              "\"10\":{\"availability-zone\":\"sim-east-a\",\"dns-name\":\"10.0.0.10\","
              "\"hardware\":\"arch=amd64 cores=2 mem=4096M root-disk=8192M "
              "availability-zone=sim-east-a\",\"instance-id\":\"i-10\","
              "\"ip-addresses\":[\"10.0.0.10\"],"
              "\"machine-status\":{\"current\":\"running\",\"message\":\"running\"}},"
              "\"2\":{\"availability-zone\":\"sim-east-b\",\"dns-name\":\"10.0.0.2\","
              "\"hardware\":\"arch=amd64 mem=4096M root-disk=8192M "
              "availability-zone=sim-east-b\",\"instance-id\":\"i-2\","
              "\"ip-addresses\":[\"10.0.0.2\"],"
              "\"machine-status\":{\"current\":\"allocating\",\"message\":\"pending\"}}},"
              "\"model\":{\"cloud\":\"sim\",\"name\":\"default\",\"region\":\"sim-east\"}}\n");
    free(text);
    json_decref(view);
}

//  YAML keeps the machines in id order, and quotes the ids (they read as
//  numbers), as Juju's status does.
static void
machines_view_as_yaml_in_id_order(void **state)
{
    (void)state;
    machine_fixture_t f[4];
    En__Instance *list[4];
    En__Model m;
    En__CloudSpec spec;
    s_machines_fixture(f, list, &m, &spec);
    f[0].inst.n_addresses = 0; // no address yet: no dns-name, no ip-addresses
    f[0].status.status = "";   // no status: unknown
    f[0].status.message = "";
    json_t *view = cli_machines_view(&m, list, 2);
    char *text = cli_yaml_render(view);
    assert_string_equal(text, "model:\n"
                              "  name: default\n"
                              "  cloud: sim\n"
                              "  region: sim-east\n"
                              "machines:\n"
                              "  \"0\":\n"
                              "    instance-id: i-0\n"
                              "    machine-status:\n"
                              "      current: unknown\n"
                              "    hardware: arch=amd64 cores=2 mem=4096M root-disk=8192M "
                              "availability-zone=sim-east-a\n"
                              "    availability-zone: sim-east-a\n"
                              "  \"2\":\n"
                              "    instance-id: i-2\n"
                              "    machine-status:\n"
                              "      current: allocating\n"
                              "      message: pending\n"
                              "    dns-name: 10.0.0.2\n"
                              "    ip-addresses: [10.0.0.2]\n"
                              "    hardware: arch=amd64 mem=4096M root-disk=8192M "
                              "availability-zone=sim-east-b\n"
                              "    availability-zone: sim-east-b\n");
    free(text);
    json_decref(view);
}

static void
machines_table_like_juju(void **state)
{
    (void)state;
    machine_fixture_t f[4];
    En__Instance *list[4];
    En__Model m;
    En__CloudSpec spec;
    s_machines_fixture(f, list, &m, &spec);
    cli_table_t *t = cli_machines_table(list, 4);
    char *text = cli_table_render(t);
    assert_string_equal(text,
                        "Machine  State       Address    Inst id  Series  AZ          Message\n"
                        "0        running     10.0.0.1   i-0              sim-east-a  running\n"
                        "2        allocating  10.0.0.2   i-2              sim-east-b  pending\n"
                        "10       running     10.0.0.10  i-10             sim-east-a  running\n");
    free(text);
    cli_table_destroy(&t);
}

//  --------------------------------------------------------------------------
//  Progress lines

static zframe_t *
s_progress(const char *request_id, uint32_t seq, const char *status, const char *message)
{
    En__Progress ev = EN__PROGRESS__INIT;
    ev.request_id = (char *)request_id;
    ev.seq = seq;
    ev.status = (char *)status;
    ev.message = (char *)message;
    size_t size = en__progress__get_packed_size(&ev);
    uint8_t *buf = malloc(size ? size : 1);
    en__progress__pack(&ev, buf);
    zframe_t *frame = zframe_new(buf, size);
    free(buf);
    return frame;
}

//  Every gateway relays every line, and every publishing thread numbers
//  its own: a line is printed the first time (seq, status, message) is
//  heard, and lines of other calls or of no call are not printed.
static void
progress_lines_are_printed_once(void **state)
{
    (void)state;
    en_err_t err;
    cli_progress_t *w = cli_progress_new(NULL, "abc", &err);
    assert_non_null(w);
    struct {
        const char *id;
        uint32_t seq;
        const char *status, *message, *printed;
    } heard[] = {
        {"abc", 1, "", "Launching controller instance(s) on sim/sim-east...",
         "Launching controller instance(s) on sim/sim-east..."},
        {"abc", 1, "", "Launching controller instance(s) on sim/sim-east...", NULL},
        {"abc", 2, "", " - i-1 (arch=amd64 mem=3.5G cores=1)",
         " - i-1 (arch=amd64 mem=3.5G cores=1)"},
        {"abc", 1, "", "Waiting for address", "Waiting for address"}, // another publisher
        {"other", 3, "", "not ours", NULL},
        {"abc", 3, "running", "", "running"},
        {"abc", 2, "", " - i-1 (arch=amd64 mem=3.5G cores=1)", NULL},
    };
    for (size_t i = 0; i < sizeof heard / sizeof heard[0]; i++) {
        zframe_t *f = s_progress(heard[i].id, heard[i].seq, heard[i].status, heard[i].message);
        const char *line = cli_progress_line(w, zframe_data(f), zframe_size(f));
        if (heard[i].printed)
            assert_string_equal(line, heard[i].printed);
        else
            assert_null(line);
        zframe_destroy(&f);
    }
    assert_null(cli_progress_line(w, "\xff\xff\xff", 3));  // not an en.Progress
    assert_int_equal(cli_progress_print(w, stderr, 0), 0); // no socket, nothing to print
    cli_progress_destroy(&w);
    cli_progress_destroy(&w);
}

//  --------------------------------------------------------------------------
//  Gateway and current model

static char s_tmp[64];

static int
s_tmp_home(void **state)
{
    (void)state;
    snprintf(s_tmp, sizeof s_tmp, "/tmp/environs-cli-XXXXXX");
    assert_non_null(mkdtemp(s_tmp));
    setenv("ENVIRONS_HOME", s_tmp, 1);
    unsetenv("ENVIRONS_GATEWAY");
    return 0;
}

static int
s_tmp_home_remove(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", s_tmp);
    assert_int_equal(system(cmd), 0);
    unsetenv("ENVIRONS_HOME");
    return 0;
}

static void
gateway_from_environment_then_endpoint_file(void **state)
{
    (void)state;
    en_err_t err;
    assert_null(cli_gateway_find(&err));
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_string_equal(err.message,
                        "cannot find the gateway: set ENVIRONS_GATEWAY or start environs-local");
    char path[128];
    snprintf(path, sizeof path, "%s/gateway.endpoint", s_tmp);
    FILE *f = fopen(path, "w");
    fputs("  tcp://127.0.0.1:5555 \nsecond line\n", f);
    fclose(f);
    char *ep = cli_gateway_find(&err);
    assert_string_equal(ep, "tcp://127.0.0.1:5555");
    free(ep);
    setenv("ENVIRONS_GATEWAY", "tcp://10.0.0.1:1", 1);
    ep = cli_gateway_find(&err);
    assert_string_equal(ep, "tcp://10.0.0.1:1");
    free(ep);
    unsetenv("ENVIRONS_GATEWAY");
}

static void
current_model_round_trips_through_the_home(void **state)
{
    (void)state;
    assert_null(cli_current_model());
    char home[128];
    snprintf(home, sizeof home, "%s/nested/home", s_tmp); // made on demand
    setenv("ENVIRONS_HOME", home, 1);
    en_err_t err;
    assert_int_equal(cli_set_current_model("dev", &err), 0);
    assert_int_equal(cli_set_current_model("prod", &err), 0);
    char *name = cli_current_model();
    assert_string_equal(name, "prod");
    free(name);
    assert_int_equal(cli_set_current_controller("c1", &err), 0);
    name = cli_current_controller();
    assert_string_equal(name, "c1");
    free(name);
    //  NULL forgets, and forgetting twice is fine
    assert_int_equal(cli_set_current_controller(NULL, &err), 0);
    assert_int_equal(cli_set_current_controller(NULL, &err), 0);
    assert_null(cli_current_controller());
    assert_int_equal(cli_set_current_model(NULL, &err), 0);
    assert_null(cli_current_model());
    setenv("ENVIRONS_HOME", s_tmp, 1);
}

//  --------------------------------------------------------------------------
//  The built binary, with no gateway

//  Run the binary with `env` and `args`; returns its exit status and leaves
//  its stderr in *err_text (caller frees).
static int
s_run(const char *env, const char *args, char **err_text)
{
    const char *build = getenv("EN_BUILD_DIR");
    assert_non_null(build);
    char errfile[128];
    snprintf(errfile, sizeof errfile, "%s/stderr", s_tmp);
    char *cmd = NULL;
    assert_true(asprintf(&cmd,
                         "env -u ENVIRONS_GATEWAY ENVIRONS_HOME=%s %s %s/cli/environs %s "
                         ">/dev/null 2>%s",
                         s_tmp, env, build, args, errfile) > 0);
    int status = system(cmd);
    free(cmd);
    assert_true(WIFEXITED(status));
    FILE *f = fopen(errfile, "r");
    assert_non_null(f);
    char buf[1024] = "";
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    *err_text = strdup(buf);
    return WEXITSTATUS(status);
}

//  A loopback port nobody listens on: bind one, note it, close it.
static int
s_unused_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
    close(fd);
    return ntohs(addr.sin_port);
}

static void
binary_without_gateway_answering_exits_1(void **state)
{
    (void)state;
    int port = s_unused_port();
    char env[64], expected[128];
    snprintf(env, sizeof env, "ENVIRONS_GATEWAY=tcp://127.0.0.1:%d", port);
    snprintf(expected, sizeof expected, "ERROR gateway tcp://127.0.0.1:%d not answering\n", port);
    char *text;
    assert_int_equal(s_run(env, "--timeout 500 models", &text), 1);
    assert_string_equal(text, expected);
    free(text);
    assert_int_equal(s_run(env, "clouds --timeout 500 --format json", &text), 1);
    assert_string_equal(text, expected);
    free(text);
}

static void
binary_without_gateway_endpoint_exits_1(void **state)
{
    (void)state;
    char *text;
    assert_int_equal(s_run("", "clouds", &text), 1);
    assert_string_equal(text, "ERROR cannot find the gateway: set ENVIRONS_GATEWAY or start "
                              "environs-local\n");
    free(text);
}

static void
binary_usage_errors_exit_2_before_any_call(void **state)
{
    (void)state;
    char *text;
    assert_int_equal(s_run("", "regions", &text), 2);
    assert_string_equal(text, "ERROR missing argument: CLOUD\n");
    free(text);
    assert_int_equal(s_run("", "frobnicate", &text), 2);
    assert_string_equal(text, "ERROR unrecognized command: environs frobnicate\n");
    free(text);
    assert_int_equal(s_run("", "add-credential aws", &text), 2);
    assert_string_equal(text, "ERROR add-credential needs -f FILE, or --name and --auth-type\n");
    free(text);
    assert_int_equal(s_run("", "model-config a b=1", &text), 2);
    assert_string_equal(text, "ERROR cannot set and retrieve model values simultaneously\n");
    free(text);
    assert_int_equal(s_run("", "add-machine -n 0", &text), 2);
    assert_string_equal(text, "ERROR invalid value \"0\" for option -n: expected 1 to 1000\n");
    free(text);
    assert_int_equal(s_run("", "add-machine -n 2 --to zone=a", &text), 2);
    assert_string_equal(text, "ERROR cannot use -n when specifying a placement directive\n");
    free(text);
    assert_int_equal(s_run("", "bootstrap sim c1 --bootstrap-constraints cores=many", &text), 2);
    assert_non_null(strstr(text, "ERROR invalid value \"cores=many\" for option "
                                 "--bootstrap-constraints: bad \"cores\" constraint"));
    free(text);
    assert_int_equal(s_run("", "bootstrap sim c1 --config novalue", &text), 2);
    assert_string_equal(text, "ERROR invalid --config: expected \"key=value\", got \"novalue\"\n");
    free(text);
    assert_int_equal(s_run("", "open-port 80-x 0", &text), 2);
    assert_string_equal(text,
                        "ERROR invalid port \"x\": strconv.Atoi: parsing \"x\": invalid syntax\n");
    free(text);
    assert_int_equal(s_run("", "close-port 80 --cidr 10.0.0.0/33", &text), 2);
    assert_string_equal(text, "ERROR invalid CIDR address: 10.0.0.0/33\n");
    free(text);
    assert_int_equal(s_run("", "help", &text), 0);
    assert_string_equal(text, "");
    free(text);
    assert_int_equal(s_run("", "version", &text), 0);
    free(text);
}

//  add-credential -f reads and checks the whole file before it looks for
//  the gateway: these fail with the file's error, not "cannot find the
//  gateway".
static void
binary_add_credential_checks_the_file_first(void **state)
{
    (void)state;
    char path[128], args[256];
    snprintf(path, sizeof path, "%s/creds.yaml", s_tmp);
    FILE *f = fopen(path, "w");
    fputs("credentials:\n  aws:\n    bob:\n      access-key: x\n", f);
    fclose(f);
    char *text;
    snprintf(args, sizeof args, "add-credential aws -f %s", path);
    assert_int_equal(s_run("", args, &text), 1);
    assert_string_equal(text, "ERROR credentials.aws.bob: missing auth-type\n");
    free(text);
    f = fopen(path, "w");
    fputs("credentials:\n  aws:\n    bob:\n      auth-type: access-key\n", f);
    fclose(f);
    snprintf(args, sizeof args, "add-credential google -f %s", path);
    assert_int_equal(s_run("", args, &text), 1);
    char expected[256];
    snprintf(expected, sizeof expected, "ERROR no credentials for cloud google exist in file %s\n",
             path);
    assert_string_equal(text, expected);
    free(text);
    snprintf(args, sizeof args, "add-credential aws -f %s/missing.yaml", s_tmp);
    assert_int_equal(s_run("", args, &text), 1);
    snprintf(expected, sizeof expected, "ERROR open %s/missing.yaml: No such file or directory\n",
             s_tmp);
    assert_string_equal(text, expected);
    free(text);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(args_options_anywhere_and_repeatable),
        cmocka_unit_test(args_double_dash_ends_options),
        cmocka_unit_test(args_unknown_or_incomplete_options_are_usage_errors),
        cmocka_unit_test(args_check_against_the_command_row),
        cmocka_unit_test(args_of_the_machine_and_controller_commands),
        cmocka_unit_test(long_commands_take_their_own_default_timeout),
        cmocka_unit_test(constraints_options_parse_like_juju),
        cmocka_unit_test(timeout_units),
        cmocka_unit_test(kv_values_are_typed_like_model_config),
        cmocka_unit_test(kv_untyped_values_stay_strings),
        cmocka_unit_test(kv_needs_a_key_and_an_equals_sign),
        cmocka_unit_test(table_columns_align_like_juju),
        cmocka_unit_test(table_width_counts_characters_not_bytes),
        cmocka_unit_test(models_view_as_yaml),
        cmocka_unit_test(models_view_as_json),
        cmocka_unit_test(models_table_marks_the_current_model),
        cmocka_unit_test(yaml_quotes_what_would_read_back_as_another_type),
        cmocka_unit_test(yaml_resolves_scalars_like_go_yaml),
        cmocka_unit_test(hardware_text_in_juju_order_without_absent_fields),
        cmocka_unit_test(machines_sort_by_id_numerically_part_by_part),
        cmocka_unit_test(machines_view_as_json_like_juju_status),
        cmocka_unit_test(machines_view_as_yaml_in_id_order),
        cmocka_unit_test(machines_table_like_juju),
        cmocka_unit_test(progress_lines_are_printed_once),
        cmocka_unit_test_setup_teardown(gateway_from_environment_then_endpoint_file, s_tmp_home,
                                        s_tmp_home_remove),
        cmocka_unit_test_setup_teardown(current_model_round_trips_through_the_home, s_tmp_home,
                                        s_tmp_home_remove),
        cmocka_unit_test_setup_teardown(binary_without_gateway_answering_exits_1, s_tmp_home,
                                        s_tmp_home_remove),
        cmocka_unit_test_setup_teardown(binary_without_gateway_endpoint_exits_1, s_tmp_home,
                                        s_tmp_home_remove),
        cmocka_unit_test_setup_teardown(binary_usage_errors_exit_2_before_any_call, s_tmp_home,
                                        s_tmp_home_remove),
        cmocka_unit_test_setup_teardown(binary_add_credential_checks_the_file_first, s_tmp_home,
                                        s_tmp_home_remove),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
