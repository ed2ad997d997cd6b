/*  commands_ports.c — `open-port`, `close-port` and `ports`.

    Juju's firewall has two levels, chosen by the model's immutable
    firewall-mode: in "global" mode one set of ingress rules serves every
    machine of the model (OpenPorts, ClosePorts, Ports); in "instance" mode
    each machine has its own (OpenInstancePorts, CloseInstancePorts,
    InstancePorts, which name the instance and the machine it was started
    for). The commands pick the level by whether a MACHINE is given; the
    mode itself is checked by the service, whose error (`invalid firewall
    mode "instance" for opening ports on model`) is printed unchanged.

    PORTRANGE is Juju's ParsePortRanges form ("80", "8000-8080/tcp",
    "53/udp", "icmp", several joined by commas) and every --cidr applies to
    each range; both are checked here, before any call, so a typo is a
    usage error that never reaches the cloud. A machine is the instance
    tagged juju-machine-id=<id>, found through AllInstances as
    remove-machine finds it.

    `ports` converts the wire's rules to common/portrange.h's and sorts
    them as Juju does (protocol icmp < tcp < udp, then from, then to, then
    the sources); the table shows one rule a row, the JSON/YAML view the
    same rules with their text form. */
#include "cli.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"

//  --------------------------------------------------------------------------
//  Parsing and conversion

int
cli_port_rules_parse(const char *text, const char *const *cidrs, size_t cidr_count,
                     en_ingress_rule_t **rules_p, size_t *count, en_err_t *err)
{
    *rules_p = NULL;
    *count = 0;
    size_t items = 1;
    for (const char *p = text; *p; p++)
        items += *p == ',';
    en_ingress_rule_t *rules = calloc(items, sizeof *rules);
    char *copy = strdup(text);
    size_t n = 0;
    int rc = -1;
    char *next = NULL;
    //  strtok_r would skip empty items; an empty one is an error like any
    //  other malformed range, so split by hand.
    for (char *item = copy; item; item = next) {
        next = strchr(item, ',');
        if (next)
            *next++ = '\0';
        while (isspace((unsigned char)*item))
            item++;
        char *end = item + strlen(item);
        while (end > item && isspace((unsigned char)end[-1]))
            *--end = '\0';
        en_port_range_t range;
        if (en_port_range_parse(item, &range, err) ||
            en_ingress_rule_init(&rules[n], &range, cidrs, cidr_count, err))
            goto cleanup;
        n++;
    }
    *rules_p = rules;
    *count = n;
    rules = NULL;
    rc = 0;
cleanup:
    if (rules) // a failed item may be half-built: clear it too
        en_ingress_rules_free(&rules, n + 1);
    free(copy);
    return rc;
}

int
cli_port_rules_from_proto(En__IngressRule *const *wire, size_t count, en_ingress_rule_t **rules_p,
                          en_err_t *err)
{
    en_ingress_rule_t *rules = calloc(count ? count : 1, sizeof *rules);
    for (size_t i = 0; i < count; i++) {
        const En__PortRange *pr = wire[i]->port_range;
        en_port_range_t range = {0};
        if (pr) {
            range.from = pr->from_port;
            range.to = pr->to_port;
            snprintf(range.protocol, sizeof range.protocol, "%s", pr->protocol);
        }
        if (en_ingress_rule_init(&rules[i], &range, (const char *const *)wire[i]->source_cidrs,
                                 wire[i]->n_source_cidrs, err)) {
            en_ingress_rules_free(&rules, i + 1); // rules[i] may be half-built
            return -1;
        }
    }
    *rules_p = rules;
    return 0;
}

//  Arena copies of rules, for a request.
static En__IngressRule **
s_rules_to_proto(en_arena_t *a, const en_ingress_rule_t *rules, size_t count)
{
    En__IngressRule **wire = en_arena_array(a, count, sizeof *wire);
    for (size_t i = 0; i < count; i++) {
        En__PortRange *pr = en_arena_alloc(a, sizeof *pr);
        en__port_range__init(pr);
        pr->from_port = rules[i].range.from;
        pr->to_port = rules[i].range.to;
        pr->protocol = en_arena_strdup(a, rules[i].range.protocol);
        wire[i] = en_arena_alloc(a, sizeof *wire[i]);
        en__ingress_rule__init(wire[i]);
        wire[i]->port_range = pr;
        wire[i]->source_cidrs = rules[i].cidrs;
        wire[i]->n_source_cidrs = rules[i].cidr_count;
    }
    return wire;
}

//  --------------------------------------------------------------------------
//  Views

//  A rule without sources is open to everyone, and reads back that way.
static const char *const s_anywhere[] = {"0.0.0.0/0"};

static char *
s_sources(const en_ingress_rule_t *r)
{
    return r->cidr_count ? cli_join(r->cidrs, r->cidr_count, ",") : strdup(s_anywhere[0]);
}

json_t *
cli_ports_view(const en_ingress_rule_t *rules, size_t count)
{
    json_t *list = json_array();
    for (size_t i = 0; i < count; i++) {
        const en_ingress_rule_t *r = &rules[i];
        char text[64];
        en_port_range_format(&r->range, text, sizeof text);
        json_t *item = json_object();
        json_object_set_new(item, "port-range", json_string(text));
        json_object_set_new(item, "protocol", json_string(r->range.protocol));
        json_object_set_new(item, "from-port", json_integer(r->range.from));
        json_object_set_new(item, "to-port", json_integer(r->range.to));
        json_object_set_new(item, "source-cidrs",
                            r->cidr_count ? cli_json_strings(r->cidrs, r->cidr_count)
                                          : cli_json_strings((char *const *)s_anywhere, 1));
        json_array_append_new(list, item);
    }
    return list;
}

cli_table_t *
cli_ports_table(const en_ingress_rule_t *rules, size_t count)
{
    cli_table_t *table = cli_table_new((const char *[]){"Protocol", "Ports", "Source", NULL});
    for (size_t i = 0; i < count; i++) {
        const en_port_range_t *range = &rules[i].range;
        char ports[32] = "-"; // icmp has none
        if (range->from == range->to && range->from > 0)
            snprintf(ports, sizeof ports, "%d", range->from);
        else if (range->from > 0)
            snprintf(ports, sizeof ports, "%d-%d", range->from, range->to);
        char *sources = s_sources(&rules[i]);
        cli_table_row(table, range->protocol, ports, sources);
        free(sources);
    }
    return table;
}

//  --------------------------------------------------------------------------
//  The calls

//  What a port command acts on: the model of -m and, with a MACHINE, the
//  instance tagged with its id (borrowed from all; NULL = the model).
typedef struct {
    En__ModelResult *model;
    En__AllInstancesResult *all;
    const En__Instance *inst;
    const char *machine;
} target_t;

//  NOT_FOUND `machine <id> not found` when no instance carries the id.
static int
s_target(cli_t *cli, const cli_args_t *args, const char *machine, target_t *t, en_err_t *err)
{
    t->machine = machine;
    if (!(t->model = cli_model_find(cli, args, err)))
        return -1;
    if (!machine)
        return 0;
    if (!(t->all = cli_all_instances(cli, t->model->model->uuid, err)))
        return -1;
    t->inst = cli_machine_find(t->all, machine);
    return t->inst ? 0 : en_err_set(err, EN_NOT_FOUND, "machine %s not found", machine);
}

static void
s_target_clear(target_t *t)
{
    if (t->all)
        en__all_instances_result__free_unpacked(t->all, NULL);
    if (t->model)
        en__model_result__free_unpacked(t->model, NULL);
    memset(t, 0, sizeof *t);
}

//  Open or close rules on the target: the model, or one machine.
static int
s_change(cli_t *cli, bool open, const target_t *t, En__IngressRule **rules, size_t count,
         en_err_t *err)
{
    const char *uuid = t->model->model->uuid;
    const En__Instance *inst = t->inst;
    char *machine = (char *)t->machine;
    ProtobufCMessage *res = NULL;
    int rc;
    if (inst && open) {
        En__OpenInstancePortsRequest req = EN__OPEN_INSTANCE_PORTS_REQUEST__INIT;
        req.instance_id = inst->id;
        req.machine_id = machine;
        req.rules = rules;
        req.n_rules = count;
        rc = cli_call(cli, "OpenInstancePorts", uuid, &req.base,
                      &en__open_instance_ports_result__descriptor, &res, err);
    } else if (inst) {
        En__CloseInstancePortsRequest req = EN__CLOSE_INSTANCE_PORTS_REQUEST__INIT;
        req.instance_id = inst->id;
        req.machine_id = machine;
        req.rules = rules;
        req.n_rules = count;
        rc = cli_call(cli, "CloseInstancePorts", uuid, &req.base,
                      &en__close_instance_ports_result__descriptor, &res, err);
    } else if (open) {
        En__OpenPortsRequest req = EN__OPEN_PORTS_REQUEST__INIT;
        req.rules = rules;
        req.n_rules = count;
        rc = cli_call(cli, "OpenPorts", uuid, &req.base, &en__open_ports_result__descriptor, &res,
                      err);
    } else {
        En__ClosePortsRequest req = EN__CLOSE_PORTS_REQUEST__INIT;
        req.rules = rules;
        req.n_rules = count;
        rc = cli_call(cli, "ClosePorts", uuid, &req.base, &en__close_ports_result__descriptor, &res,
                      err);
    }
    if (res)
        protobuf_c_message_free_unpacked(res, NULL);
    return rc;
}

//  The rules open on the target (the model, or one machine), as wire
//  rules; *res owns them (caller frees).
static int
s_list(cli_t *cli, const target_t *t, ProtobufCMessage **res, En__IngressRule ***rules,
       size_t *count, en_err_t *err)
{
    const char *uuid = t->model->model->uuid;
    if (t->inst) {
        En__InstancePortsRequest req = EN__INSTANCE_PORTS_REQUEST__INIT;
        req.instance_id = t->inst->id;
        req.machine_id = (char *)t->machine;
        if (cli_call(cli, "InstancePorts", uuid, &req.base, &en__instance_ports_result__descriptor,
                     res, err))
            return -1;
        *rules = ((En__InstancePortsResult *)*res)->rules;
        *count = ((En__InstancePortsResult *)*res)->n_rules;
        return 0;
    }
    En__PortsRequest req = EN__PORTS_REQUEST__INIT;
    if (cli_call(cli, "Ports", uuid, &req.base, &en__ports_result__descriptor, res, err))
        return -1;
    *rules = ((En__PortsResult *)*res)->rules;
    *count = ((En__PortsResult *)*res)->n_rules;
    return 0;
}

//  --------------------------------------------------------------------------
//  open-port / close-port PORTRANGE [--cidr CIDR]... [MACHINE] [-m MODEL]

static int
s_open_or_close(cli_t *cli, const cli_args_t *args, bool open)
{
    en_err_t err;
    en_ingress_rule_t *rules = NULL;
    size_t count = 0;
    if (cli_port_rules_parse(args->words[0], args->values[CLI_OPT_CIDR],
                             args->value_count[CLI_OPT_CIDR], &rules, &count, &err))
        return cli_usage("%s", err.message);
    en_arena_t *arena = en_arena_new();
    target_t t = {0};
    int rc = CLI_EXIT_OK;
    if (s_target(cli, args, args->word_count > 1 ? args->words[1] : NULL, &t, &err) ||
        s_change(cli, open, &t, s_rules_to_proto(arena, rules, count), count, &err))
        rc = cli_fail(&err);
    s_target_clear(&t);
    en_arena_destroy(&arena);
    en_ingress_rules_free(&rules, count);
    return rc;
}

static int
s_open_port(cli_t *cli, const cli_args_t *args)
{
    return s_open_or_close(cli, args, true);
}

static int
s_close_port(cli_t *cli, const cli_args_t *args)
{
    return s_open_or_close(cli, args, false);
}

//  --------------------------------------------------------------------------
//  ports [MACHINE] [-m MODEL]

static int
s_ports(cli_t *cli, const cli_args_t *args)
{
    en_err_t err;
    target_t t = {0};
    ProtobufCMessage *res = NULL;
    En__IngressRule **wire = NULL;
    en_ingress_rule_t *rules = NULL;
    size_t count = 0;
    int rc;
    if (s_target(cli, args, args->word_count ? args->words[0] : NULL, &t, &err) ||
        s_list(cli, &t, &res, &wire, &count, &err) ||
        cli_port_rules_from_proto(wire, count, &rules, &err))
        rc = cli_fail(&err); // rules stays NULL
    else {
        en_ingress_rules_sort(rules, count);
        rc = cli_print(cli, cli_ports_view(rules, count), cli_ports_table(rules, count),
                       "No open ports.");
        en_ingress_rules_free(&rules, count);
    }
    if (res)
        protobuf_c_message_free_unpacked(res, NULL);
    s_target_clear(&t);
    return rc;
}

static const char s_change_details[] =
    "PORTRANGE is PORT[-PORT][/PROTOCOL] (tcp by default, or udp) or icmp;\n"
    "several may be joined with commas. --cidr limits the sources (default\n"
    "0.0.0.0/0). With MACHINE the ports are the machine's own (firewall-mode\n"
    "instance); without, the model's (firewall-mode global).";

const cli_command_t cli_port_commands[] = {
    {.name = "open-port",
     .handler = s_open_port,
     .usage = "PORTRANGE [MACHINE]",
     .summary = "Opens ports in the firewall of a model or a machine.",
     .details = s_change_details,
     .options = CLI_OPT(CLI_OPT_CIDR) | CLI_OPT(CLI_OPT_MODEL),
     .min_words = 1,
     .max_words = 2,
     .required = "PORTRANGE"},
    {.name = "close-port",
     .handler = s_close_port,
     .usage = "PORTRANGE [MACHINE]",
     .summary = "Closes ports in the firewall of a model or a machine.",
     .details = s_change_details,
     .options = CLI_OPT(CLI_OPT_CIDR) | CLI_OPT(CLI_OPT_MODEL),
     .min_words = 1,
     .max_words = 2,
     .required = "PORTRANGE"},
    {.name = "ports",
     .handler = s_ports,
     .usage = "[MACHINE]",
     .summary = "Lists the open ports of a model or a machine.",
     .details = "With MACHINE, the machine's own rules (firewall-mode instance); without,\n"
                "the model's (firewall-mode global). Sorted by protocol, then port.",
     .options = CLI_OPT(CLI_OPT_FORMAT) | CLI_OPT(CLI_OPT_MODEL),
     .max_words = 1},
    {.name = NULL},
};
