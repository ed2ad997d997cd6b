/*  commands_machines.c — `add-machine`, `machines` and `remove-machine`.

    A machine is an instance of the model tagged juju-machine-id=<id>.
    There is no machine record anywhere else — the cloud is the source of
    truth — so `machines` is AllInstances seen through that tag, and
    remove-machine finds a machine's instances by it.

    add-machine takes N ids from the registry (NextMachineId, one call per
    id) and starts the N instances in one StartInstances call, which the
    gateway fans out. Each machine's nonce is fixed for the run
    ("machine-<id>:<random hex>"), and the session resends a call with its
    first request id after a gateway restart, so a start that is resent
    adopts the instance its first attempt made instead of making another;
    the services answer each request id once.

    Output follows Juju: add-machine and remove-machine report each
    machine on stderr (`created machine 3`, `removing machine 3`);
    `machines` has the shape of Juju's status for yaml and json, and Juju's
    machine table, in machine id order. */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "bus/envelope.h"
#include "common/arena.h"
#include "common/consproto.h"

//  --------------------------------------------------------------------------
//  Views

const char *
cli_instance_tag(const En__Instance *inst, const char *key)
{
    for (size_t i = 0; i < inst->n_tags; i++)
        if (strcmp(inst->tags[i]->key, key) == 0)
            return inst->tags[i]->value;
    return NULL;
}

static const char *
s_machine_id(const En__Instance *inst)
{
    const char *id = cli_instance_tag(inst, "juju-machine-id");
    return id && *id ? id : NULL;
}

//  One `key=value` of the hardware text, a space before all but the first.
static void
s_put(FILE *out, bool *first, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (!*first)
        fputc(' ', out);
    vfprintf(out, fmt, ap);
    *first = false;
    va_end(ap);
}

char *
cli_hardware_text(const En__HardwareCharacteristics *hw)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    bool first = true;
    if (hw && hw->_arch_case)
        s_put(out, &first, "arch=%s", hw->arch);
    if (hw && hw->_cpu_cores_case)
        s_put(out, &first, "cores=%llu", (unsigned long long)hw->cpu_cores);
    if (hw && hw->_cpu_power_case)
        s_put(out, &first, "cpu-power=%llu", (unsigned long long)hw->cpu_power);
    if (hw && hw->_mem_case)
        s_put(out, &first, "mem=%lluM", (unsigned long long)hw->mem);
    if (hw && hw->_root_disk_case)
        s_put(out, &first, "root-disk=%lluM", (unsigned long long)hw->root_disk);
    if (hw && hw->n_tags) {
        char *tags = cli_join(hw->tags, hw->n_tags, ",");
        s_put(out, &first, "tags=%s", tags);
        free(tags);
    }
    if (hw && hw->_availability_zone_case)
        s_put(out, &first, "availability-zone=%s", hw->availability_zone);
    fclose(out);
    return text;
}

//  Machine ids compare part by part ("0/lxd/1"), numbers as numbers.
static int
s_compare_ids(const char *a, const char *b)
{
    while (*a && *b) {
        size_t na = strcspn(a, "/"), nb = strcspn(b, "/");
        bool numbers = strspn(a, "0123456789") >= na && strspn(b, "0123456789") >= nb;
        int c = numbers && na != nb ? (na < nb ? -1 : 1) : strncmp(a, b, na < nb ? na : nb);
        if (c == 0 && na != nb)
            c = na < nb ? -1 : 1;
        if (c)
            return c;
        a += na + (a[na] == '/');
        b += nb + (b[nb] == '/');
    }
    return (*a != '\0') - (*b != '\0');
}

static int
s_compare_instances(const void *x, const void *y)
{
    const char *a = s_machine_id(*(En__Instance *const *)x);
    const char *b = s_machine_id(*(En__Instance *const *)y);
    if (!a || !b)
        return (a == NULL) - (b == NULL); // instances that are no machine go last
    return s_compare_ids(a, b);
}

void
cli_machines_sort(En__Instance **instances, size_t count)
{
    if (count > 1)
        qsort(instances, count, sizeof *instances, s_compare_instances);
}

//  The address to show: a public one, else one of the cloud, else any.
static const char *
s_address(const En__Instance *inst)
{
    static const char *const scopes[] = {"public", "local-cloud", NULL};
    for (size_t s = 0; scopes[s]; s++)
        for (size_t i = 0; i < inst->n_addresses; i++)
            if (strcmp(inst->addresses[i]->scope, scopes[s]) == 0)
                return inst->addresses[i]->value;
    return inst->n_addresses ? inst->addresses[0]->value : NULL;
}

static const char *
s_status(const En__Instance *inst)
{
    return inst->status && *inst->status->status ? inst->status->status : "unknown";
}

static const char *
s_zone(const En__Instance *inst)
{
    const En__HardwareCharacteristics *hw = inst->hardware;
    return hw && hw->_availability_zone_case ? hw->availability_zone : NULL;
}

static json_t *
s_machine_item(const En__Instance *inst)
{
    json_t *item = json_object();
    json_object_set_new(item, "instance-id", json_string(inst->id));
    json_t *status = json_object();
    json_object_set_new(status, "current", json_string(s_status(inst)));
    cli_json_set_text(status, "message", inst->status ? inst->status->message : NULL);
    json_object_set_new(item, "machine-status", status);
    cli_json_set_text(item, "dns-name", s_address(inst));
    if (inst->n_addresses) {
        json_t *addresses = json_array();
        for (size_t i = 0; i < inst->n_addresses; i++)
            json_array_append_new(addresses, json_string(inst->addresses[i]->value));
        json_object_set_new(item, "ip-addresses", addresses);
    }
    char *hardware = cli_hardware_text(inst->hardware);
    cli_json_set_text(item, "hardware", hardware);
    free(hardware);
    cli_json_set_text(item, "availability-zone", s_zone(inst));
    return item;
}

json_t *
cli_machines_view(const En__Model *model, En__Instance *const *instances, size_t count)
{
    json_t *about = json_object();
    if (model) {
        cli_json_set_text(about, "name", model->name);
        cli_json_set_text(about, "cloud", model->cloud ? model->cloud->name : NULL);
        cli_json_set_text(about, "region", model->cloud ? model->cloud->region : NULL);
    }
    json_t *machines = json_object();
    for (size_t i = 0; i < count; i++)
        if (s_machine_id(instances[i]))
            json_object_set_new(machines, s_machine_id(instances[i]), s_machine_item(instances[i]));
    json_t *view = json_object();
    json_object_set_new(view, "model", about);
    json_object_set_new(view, "machines", machines);
    return view;
}

cli_table_t *
cli_machines_table(En__Instance *const *instances, size_t count)
{
    cli_table_t *table = cli_table_new((const char *[]){"Machine", "State", "Address", "Inst id",
                                                        "Series", "AZ", "Message", NULL});
    for (size_t i = 0; i < count; i++) {
        const En__Instance *inst = instances[i];
        if (!s_machine_id(inst))
            continue;
        cli_table_row(table, s_machine_id(inst), s_status(inst), s_address(inst), inst->id,
                      cli_instance_tag(inst, "juju-series"), s_zone(inst),
                      inst->status ? inst->status->message : NULL);
    }
    return table;
}

const En__Instance *
cli_machine_find(const En__AllInstancesResult *all, const char *id)
{
    for (size_t i = 0; i < all->n_instances; i++) {
        const char *machine = s_machine_id(all->instances[i]);
        if (machine && strcmp(machine, id) == 0)
            return all->instances[i];
    }
    return NULL;
}

//  --------------------------------------------------------------------------
//  machines [-m MODEL]

En__AllInstancesResult *
cli_all_instances(cli_t *cli, const char *model_uuid, en_err_t *err)
{
    En__AllInstancesRequest req = EN__ALL_INSTANCES_REQUEST__INIT;
    ProtobufCMessage *res = NULL;
    if (cli_call(cli, "AllInstances", model_uuid, &req.base, &en__all_instances_result__descriptor,
                 &res, err) == 0)
        return (En__AllInstancesResult *)res;
    if (err->kind != EN_NO_INSTANCES)
        return NULL;
    En__AllInstancesResult *none = calloc(1, sizeof *none);
    en__all_instances_result__init(none);
    return none; // free_unpacked frees it like an unpacked one
}

static int
s_machines(cli_t *cli, const cli_args_t *args)
{
    en_err_t err;
    En__ModelResult *model = cli_model_find(cli, args, &err);
    if (!model)
        return cli_fail(&err);
    En__AllInstancesResult *all = cli_all_instances(cli, model->model->uuid, &err);
    if (!all) {
        en__model_result__free_unpacked(model, NULL);
        return cli_fail(&err);
    }
    cli_machines_sort(all->instances, all->n_instances);
    json_t *view = cli_machines_view(model->model, all->instances, all->n_instances);
    cli_table_t *table = cli_machines_table(all->instances, all->n_instances);
    en__all_instances_result__free_unpacked(all, NULL);
    en__model_result__free_unpacked(model, NULL);
    return cli_print(cli, view, table, "No machines to display.");
}

//  --------------------------------------------------------------------------
//  add-machine [-n N] [--constraints C] [--to PLACEMENT] [-m MODEL]

//  The machines to start: ids from the registry, one fixed nonce each.
static En__StartInstancesRequest *
s_start_request(cli_t *cli, en_arena_t *a, const En__Model *model, int count,
                const en_constraints_t *cons, const char *placement, en_err_t *err)
{
    En__StartInstancesRequest *req = en_arena_alloc(a, sizeof *req);
    en__start_instances_request__init(req);
    req->params = en_arena_array(a, (size_t)count, sizeof(En__StartInstanceParams *));
    char run[33];
    en_request_id_new(run); // 32 random hex digits, for this run's nonces
    for (int i = 0; i < count; i++) {
        En__NextMachineIdRequest idreq = EN__NEXT_MACHINE_ID_REQUEST__INIT;
        ProtobufCMessage *res;
        if (cli_call(cli, "NextMachineId", model->uuid, &idreq.base,
                     &en__next_machine_id_result__descriptor, &res, err))
            return NULL;
        En__StartInstanceParams *p = en_arena_alloc(a, sizeof *p);
        en__start_instance_params__init(p);
        p->machine_id = en_arena_strdup(a, ((En__NextMachineIdResult *)res)->id);
        protobuf_c_message_free_unpacked(res, NULL);
        p->machine_nonce = en_arena_printf(a, "machine-%s:%s", p->machine_id, run);
        p->controller_uuid = model->controller_uuid;
        p->constraints = en_constraints_to_proto(a, cons);
        p->placement = (char *)(placement ? placement : "");
        req->params[req->n_params++] = p;
    }
    return req;
}

static int
s_add_machine(cli_t *cli, const cli_args_t *args)
{
    const char *n = cli_args_value(args, CLI_OPT_NUM_MACHINES);
    const char *placement = cli_args_value(args, CLI_OPT_TO);
    int count = 1;
    if (n) {
        char *end;
        errno = 0;
        long value = strtol(n, &end, 10);
        if (errno || end == n || *end || value < 1 || value > 1000)
            return cli_usage("invalid value \"%s\" for option -n: expected 1 to 1000", n);
        count = (int)value;
    }
    if (count > 1 && placement)
        return cli_usage("cannot use -n when specifying a placement directive");
    en_err_t err;
    en_constraints_t cons;
    en_constraints_init(&cons);
    if (cli_constraints_arg(args, CLI_OPT_CONSTRAINTS, &cons, &err))
        return cli_usage("%s", err.message);
    int rc = CLI_EXIT_FAILURE;
    en_arena_t *arena = en_arena_new();
    En__StartInstancesResult *result = NULL;
    En__ModelResult *model = cli_model_find(cli, args, &err);
    En__StartInstancesRequest *req =
        model ? s_start_request(cli, arena, model->model, count, &cons, placement, &err) : NULL;
    ProtobufCMessage *res;
    if (!req || cli_call_long(cli, "StartInstances", model->model->uuid, &req->base,
                              &en__start_instances_result__descriptor, &res,
                              cli_timeout_or(cli, args, CLI_MACHINES_TIMEOUT_MS), false, &err)) {
        cli_fail(&err);
        goto cleanup;
    }
    result = (En__StartInstancesResult *)res;
    rc = CLI_EXIT_OK;
    for (size_t i = 0; i < req->n_params; i++) {
        const En__StartInstancesItemResult *item = i < result->n_items ? result->items[i] : NULL;
        const En__Error *e = item ? item->error : NULL;
        if (item && item->result && (!e || e->kind == EN__ERROR_KIND__OK)) {
            fprintf(stderr, "created machine %s\n", req->params[i]->machine_id);
            continue;
        }
        fprintf(stderr, "failed to create machine %s: %s\n", req->params[i]->machine_id,
                e && *e->message ? e->message : "no result");
        rc = CLI_EXIT_FAILURE;
    }
cleanup:
    if (result)
        en__start_instances_result__free_unpacked(result, NULL);
    if (model)
        en__model_result__free_unpacked(model, NULL);
    en_arena_destroy(&arena);
    en_constraints_reset(&cons);
    return rc;
}

//  --------------------------------------------------------------------------
//  remove-machine ID... [-m MODEL]

//  Why machine `id` could not be stopped, or NULL when it was.
static const char *
s_stop_failure(const En__StopInstancesResult *stopped, const En__AllInstancesResult *all,
               const char *id)
{
    for (size_t f = 0; f < stopped->n_failed; f++)
        for (size_t i = 0; i < all->n_instances; i++) {
            const En__Instance *inst = all->instances[i];
            const char *machine = s_machine_id(inst);
            if (machine && strcmp(machine, id) == 0 &&
                strcmp(inst->id, stopped->failed[f]->id) == 0)
                return stopped->failed[f]->error ? stopped->failed[f]->error->message : "failed";
        }
    return NULL;
}

static int
s_remove_machine(cli_t *cli, const cli_args_t *args)
{
    en_err_t err;
    En__ModelResult *model = cli_model_find(cli, args, &err);
    if (!model)
        return cli_fail(&err);
    En__AllInstancesResult *all = cli_all_instances(cli, model->model->uuid, &err);
    En__StopInstancesResult *stopped = NULL;
    bool *known = calloc(args->word_count + 1, sizeof(bool));
    char **ids = calloc((all ? all->n_instances : 0) + 1, sizeof(char *));
    int rc = CLI_EXIT_FAILURE;
    if (!all) {
        cli_fail(&err);
        goto cleanup;
    }
    //  Every instance of every machine named, each once.
    En__StopInstancesRequest req = EN__STOP_INSTANCES_REQUEST__INIT;
    req.ids = ids;
    for (size_t i = 0; i < all->n_instances; i++) {
        const char *machine = s_machine_id(all->instances[i]);
        bool named = false;
        for (size_t w = 0; machine && w < args->word_count; w++)
            if (strcmp(machine, args->words[w]) == 0)
                named = known[w] = true;
        if (named)
            ids[req.n_ids++] = all->instances[i]->id;
    }
    ProtobufCMessage *res;
    if (req.n_ids &&
        cli_call_long(cli, "StopInstances", model->model->uuid, &req.base,
                      &en__stop_instances_result__descriptor, &res,
                      cli_timeout_or(cli, args, CLI_MACHINES_TIMEOUT_MS), false, &err)) {
        cli_fail(&err);
        goto cleanup;
    }
    stopped = req.n_ids ? (En__StopInstancesResult *)res : NULL;
    rc = CLI_EXIT_OK;
    for (size_t w = 0; w < args->word_count; w++) {
        if (!known[w]) {
            rc = CLI_EXIT_FAILURE;
            continue;
        }
        const char *why = s_stop_failure(stopped, all, args->words[w]);
        if (why) {
            fprintf(stderr, "removing machine %s failed: %s\n", args->words[w], why);
            rc = CLI_EXIT_FAILURE;
        } else
            fprintf(stderr, "removing machine %s\n", args->words[w]);
    }
    //  The unknown ones last, after the others are dealt with.
    for (size_t w = 0; w < args->word_count; w++)
        if (!known[w])
            fprintf(stderr, "ERROR machine %s not found\n", args->words[w]);
cleanup:
    if (stopped)
        en__stop_instances_result__free_unpacked(stopped, NULL);
    if (all)
        en__all_instances_result__free_unpacked(all, NULL);
    en__model_result__free_unpacked(model, NULL);
    free(ids);
    free(known);
    return rc;
}

const cli_command_t cli_machine_commands[] = {
    {.name = "add-machine",
     .handler = s_add_machine,
     .summary = "Starts new machines in a model.",
     .details = "Takes the next machine ids of the model and starts one instance for each,\n"
                "all at once, on the model's cloud. --to zone=Z starts the machine in\n"
                "availability zone Z.",
     .options = CLI_OPT(CLI_OPT_NUM_MACHINES) | CLI_OPT(CLI_OPT_CONSTRAINTS) | CLI_OPT(CLI_OPT_TO) |
                CLI_OPT(CLI_OPT_MODEL),
     .max_words = 0},
    {.name = "machines",
     .handler = s_machines,
     .summary = "Lists the machines of a model.",
     .details = "A machine is an instance of the model that carries a machine id.",
     .options = CLI_OPT(CLI_OPT_FORMAT) | CLI_OPT(CLI_OPT_MODEL),
     .max_words = 0},
    {.name = "remove-machine",
     .handler = s_remove_machine,
     .usage = "ID...",
     .summary = "Stops machines and removes them from a model.",
     .options = CLI_OPT(CLI_OPT_MODEL),
     .min_words = 1,
     .max_words = -1,
     .required = "ID"},
    {.name = NULL},
};
