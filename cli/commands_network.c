/*  commands_network.c — `spaces`, `subnets` and `show-machine`.

    The cloud's networks as Juju's commands of the same names show them.
    `spaces` is the gateway's Spaces as is. `subnets` is Subnets (every
    subnet of the model's region) with each subnet named by its space from
    Spaces, then filtered here by --space (a name) and --zone: the server
    has no filter by name, and one call of each is cheaper than a round
    trip per space. `show-machine` is the machine as `machines` finds and
    shows it (the instance tagged juju-machine-id=<id>) plus its NICs from
    NetworkInterfaces.

    A cloud without spaces answers Spaces NOT_SUPPORTED `spaces not
    supported`: `spaces` prints that as its error, while `subnets` and
    `show-machine`, for which space names are only decoration, go on
    without them. A cloud without networking answers NetworkInterfaces
    NOT_SUPPORTED, and show-machine shows the machine without NICs.

    Output shapes (the views' fields in Juju's order; JSON sorts keys):

      spaces:       {"spaces": [{"id", "name", "subnets": {CIDR: {"type",
                    "provider-id", "vlan-tag", "zones"}}}]}
      subnets:      {"subnets": {CIDR: {"type", "provider-id", "space",
                    "provider-space-id", "vlan-tag", "zones"}}}
      show-machine: {"model": {...}, "machines": {ID: {<as machines>,
                    "network-interfaces": {NAME: {...}}}}}

    Spaces go by name, subnets by CIDR with numbers compared as numbers
    (the order go-yaml gives Juju's map keys), NICs by device index. */
#include "cli.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

//  --------------------------------------------------------------------------
//  Order

int
cli_compare_natural(const char *a, const char *b)
{
    const char *a0 = a, *b0 = b;
    while (*a && *b) {
        if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
            while (*a == '0' && isdigit((unsigned char)a[1]))
                a++;
            while (*b == '0' && isdigit((unsigned char)b[1]))
                b++;
            size_t na = strspn(a, "0123456789"), nb = strspn(b, "0123456789");
            if (na != nb)
                return na < nb ? -1 : 1;
            int c = strncmp(a, b, na);
            if (c)
                return c;
            a += na;
            b += nb;
            continue;
        }
        if (*a != *b)
            return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
        a++;
        b++;
    }
    if (*a || *b)
        return *a ? 1 : -1;
    return strcmp(a0, b0); // "01" and "1": equal as numbers, still apart
}

//  A subnet's key in the views: its CIDR, else its provider id.
static const char *
s_subnet_key(const En__SubnetInfo *s)
{
    return *s->cidr ? s->cidr : s->provider_id;
}

static int
s_compare_spaces(const void *x, const void *y)
{
    return cli_compare_natural((*(En__SpaceInfo *const *)x)->name,
                               (*(En__SpaceInfo *const *)y)->name);
}

static int
s_compare_subnet_infos(const void *x, const void *y)
{
    return cli_compare_natural(s_subnet_key(*(En__SubnetInfo *const *)x),
                               s_subnet_key(*(En__SubnetInfo *const *)y));
}

static int
s_compare_subnets(const void *x, const void *y)
{
    return cli_compare_natural(s_subnet_key(((const cli_subnet_t *)x)->info),
                               s_subnet_key(((const cli_subnet_t *)y)->info));
}

static int
s_compare_nics(const void *x, const void *y)
{
    const En__InterfaceInfo *a = *(En__InterfaceInfo *const *)x;
    const En__InterfaceInfo *b = *(En__InterfaceInfo *const *)y;
    if (a->device_index != b->device_index)
        return a->device_index < b->device_index ? -1 : 1;
    return strcmp(a->interface_name, b->interface_name);
}

//  A sorted copy of an array of pointers (the wire's stay in its order).
static void *
s_sorted(void *const *items, size_t count, int (*compare)(const void *, const void *))
{
    void **copy = calloc(count ? count : 1, sizeof *copy);
    if (count)
        memcpy(copy, items, count * sizeof *copy);
    if (count > 1)
        qsort(copy, count, sizeof *copy, compare);
    return copy;
}

//  --------------------------------------------------------------------------
//  spaces

//  Juju's subnet type, from the CIDR; NULL when there is none.
static const char *
s_subnet_type(const En__SubnetInfo *s)
{
    if (!*s->cidr)
        return NULL;
    return strchr(s->cidr, ':') ? "ipv6" : "ipv4";
}

json_t *
cli_spaces_view(En__SpaceInfo *const *spaces, size_t count)
{
    En__SpaceInfo **sorted = s_sorted((void *const *)spaces, count, s_compare_spaces);
    json_t *list = json_array();
    for (size_t i = 0; i < count; i++) {
        const En__SpaceInfo *space = sorted[i];
        En__SubnetInfo **subnets =
            s_sorted((void *const *)space->subnets, space->n_subnets, s_compare_subnet_infos);
        json_t *items = json_object();
        for (size_t s = 0; s < space->n_subnets; s++) {
            json_t *item = json_object();
            cli_json_set_text(item, "type", s_subnet_type(subnets[s]));
            cli_json_set_text(item, "provider-id", subnets[s]->provider_id);
            json_object_set_new(item, "vlan-tag", json_integer(subnets[s]->vlan_tag));
            json_object_set_new(
                item, "zones",
                cli_json_strings(subnets[s]->availability_zones, subnets[s]->n_availability_zones));
            json_object_set_new(items, s_subnet_key(subnets[s]), item);
        }
        free(subnets);
        json_t *view = json_object();
        json_object_set_new(view, "id", json_string(space->provider_id));
        json_object_set_new(view, "name", json_string(space->name));
        json_object_set_new(view, "subnets", items);
        json_array_append_new(list, view);
    }
    free(sorted);
    json_t *view = json_object();
    json_object_set_new(view, "spaces", list);
    return view;
}

cli_table_t *
cli_spaces_table(En__SpaceInfo *const *spaces, size_t count)
{
    cli_table_t *table = cli_table_new((const char *[]){"Name", "Space ID", "Subnets", NULL});
    En__SpaceInfo **sorted = s_sorted((void *const *)spaces, count, s_compare_spaces);
    for (size_t i = 0; i < count; i++) {
        const En__SpaceInfo *space = sorted[i];
        En__SubnetInfo **subnets =
            s_sorted((void *const *)space->subnets, space->n_subnets, s_compare_subnet_infos);
        if (!space->n_subnets)
            cli_table_row(table, space->name, space->provider_id, "");
        for (size_t s = 0; s < space->n_subnets; s++)
            cli_table_row(table, s ? "" : space->name, s ? "" : space->provider_id,
                          s_subnet_key(subnets[s]));
        free(subnets);
    }
    free(sorted);
    return table;
}

//  --------------------------------------------------------------------------
//  subnets

//  The space a subnet is in: the one its space provider id names, else
//  the one that lists it. NULL when none.
static const En__SpaceInfo *
s_space_of(const En__SubnetInfo *subnet, En__SpaceInfo *const *spaces, size_t count)
{
    for (size_t i = 0; i < count && *subnet->space_provider_id; i++)
        if (strcmp(spaces[i]->provider_id, subnet->space_provider_id) == 0)
            return spaces[i];
    for (size_t i = 0; i < count; i++)
        for (size_t s = 0; s < spaces[i]->n_subnets; s++)
            if (strcmp(spaces[i]->subnets[s]->provider_id, subnet->provider_id) == 0)
                return spaces[i];
    return NULL;
}

static bool
s_in_zone(const En__SubnetInfo *subnet, const char *zone)
{
    for (size_t z = 0; z < subnet->n_availability_zones; z++)
        if (strcmp(subnet->availability_zones[z], zone) == 0)
            return true;
    return false;
}

int
cli_subnets_select(En__SubnetInfo *const *subnets, size_t count, En__SpaceInfo *const *spaces,
                   size_t space_count, const char *space, const char *zone, cli_subnet_t **out,
                   size_t *out_count, en_err_t *err)
{
    *out = NULL;
    *out_count = 0;
    bool known = !space;
    for (size_t i = 0; i < space_count && !known; i++)
        known = strcmp(spaces[i]->name, space) == 0;
    if (!known)
        return en_err_set(err, EN_NOT_FOUND, "space \"%s\" not found", space);
    cli_subnet_t *selected = calloc(count ? count : 1, sizeof *selected);
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        const En__SpaceInfo *in = s_space_of(subnets[i], spaces, space_count);
        const char *name = in ? in->name : "";
        if ((space && strcmp(name, space) != 0) || (zone && !s_in_zone(subnets[i], zone)))
            continue;
        selected[n++] = (cli_subnet_t){.info = subnets[i], .space = name};
    }
    if (n > 1)
        qsort(selected, n, sizeof *selected, s_compare_subnets);
    *out = selected;
    *out_count = n;
    return 0;
}

json_t *
cli_subnets_view(const cli_subnet_t *subnets, size_t count)
{
    json_t *items = json_object();
    for (size_t i = 0; i < count; i++) {
        const En__SubnetInfo *s = subnets[i].info;
        json_t *item = json_object();
        cli_json_set_text(item, "type", s_subnet_type(s));
        cli_json_set_text(item, "provider-id", s->provider_id);
        json_object_set_new(item, "space", json_string(subnets[i].space));
        cli_json_set_text(item, "provider-space-id", s->space_provider_id);
        json_object_set_new(item, "vlan-tag", json_integer(s->vlan_tag));
        json_object_set_new(item, "zones",
                            cli_json_strings(s->availability_zones, s->n_availability_zones));
        json_object_set_new(items, s_subnet_key(s), item);
    }
    json_t *view = json_object();
    json_object_set_new(view, "subnets", items);
    return view;
}

cli_table_t *
cli_subnets_table(const cli_subnet_t *subnets, size_t count)
{
    cli_table_t *table =
        cli_table_new((const char *[]){"Subnet", "Provider ID", "Space", "VLAN", "Zones", NULL});
    cli_table_align_right(table, 3);
    for (size_t i = 0; i < count; i++) {
        const En__SubnetInfo *s = subnets[i].info;
        char vlan[16];
        snprintf(vlan, sizeof vlan, "%d", s->vlan_tag);
        char *zones = cli_join(s->availability_zones, s->n_availability_zones, ",");
        cli_table_row(table, s_subnet_key(s), s->provider_id, subnets[i].space, vlan, zones);
        free(zones);
    }
    return table;
}

//  --------------------------------------------------------------------------
//  show-machine

static const char *
s_address(const En__Address *address)
{
    return address ? address->value : NULL;
}

static json_t *
s_addresses(En__Address *const *addresses, size_t count)
{
    json_t *list = json_array();
    for (size_t i = 0; i < count; i++)
        json_array_append_new(list, json_string(addresses[i]->value));
    return list;
}

//  Set key to list when it has items (Juju's omitempty); takes list.
static void
s_set_list(json_t *object, const char *key, json_t *list)
{
    if (json_array_size(list))
        json_object_set_new(object, key, list);
    else
        json_decref(list);
}

static json_t *
s_nic_item(const En__InterfaceInfo *nic, En__SpaceInfo *const *spaces, size_t space_count)
{
    const char *space = NULL;
    for (size_t i = 0; i < space_count && *nic->provider_space_id && !space; i++)
        if (strcmp(spaces[i]->provider_id, nic->provider_space_id) == 0)
            space = spaces[i]->name;
    if (!space && nic->address)
        space = nic->address->space;
    json_t *item = json_object();
    json_object_set_new(item, "device-index", json_integer(nic->device_index));
    cli_json_set_text(item, "interface-type", nic->interface_type);
    cli_json_set_text(item, "parent-interface-name", nic->parent_interface_name);
    cli_json_set_text(item, "mac-address", nic->mac_address);
    const char *address = s_address(nic->address);
    if (address && *address)
        json_object_set_new(item, "ip-addresses", cli_json_strings((char *const *)&address, 1));
    cli_json_set_text(item, "cidr", nic->cidr);
    cli_json_set_text(item, "provider-subnet-id", nic->provider_subnet_id);
    cli_json_set_text(item, "space", space);
    cli_json_set_text(item, "provider-space-id", nic->provider_space_id);
    json_object_set_new(item, "vlan-tag", json_integer(nic->vlan_tag));
    cli_json_set_text(item, "provider-vlan-id", nic->provider_vlan_id);
    if (nic->mtu > 0) // 0 = the default
        json_object_set_new(item, "mtu", json_integer(nic->mtu));
    cli_json_set_text(item, "config-type", nic->config_type);
    cli_json_set_text(item, "gateway", s_address(nic->gateway_address));
    s_set_list(item, "dns-nameservers", s_addresses(nic->dns_servers, nic->n_dns_servers));
    s_set_list(item, "dns-search-domains",
               cli_json_strings(nic->dns_search_domains, nic->n_dns_search_domains));
    cli_json_set_text(item, "provider-id", nic->provider_id);
    cli_json_set_text(item, "provider-address-id", nic->provider_address_id);
    s_set_list(item, "zones", cli_json_strings(nic->availability_zones, nic->n_availability_zones));
    json_object_set_new(item, "disabled", json_boolean(nic->disabled));
    json_object_set_new(item, "no-auto-start", json_boolean(nic->no_auto_start));
    return item;
}

json_t *
cli_show_machine_view(const En__Model *model, const En__Instance *inst,
                      En__InterfaceInfo *const *nics, size_t count, En__SpaceInfo *const *spaces,
                      size_t space_count)
{
    En__Instance *one = (En__Instance *)inst;
    json_t *view = cli_machines_view(model, &one, 1);
    json_t *machine = json_object_get(json_object_get(view, "machines"),
                                      cli_instance_tag(inst, "juju-machine-id"));
    if (!machine || !count)
        return view; // not a machine; or no NICs, left out as Juju does
    En__InterfaceInfo **sorted = s_sorted((void *const *)nics, count, s_compare_nics);
    json_t *items = json_object();
    for (size_t i = 0; i < count; i++) {
        char name[32];
        const char *key = sorted[i]->interface_name;
        if (!*key) {
            snprintf(name, sizeof name, "eth%d", sorted[i]->device_index);
            key = name;
        }
        json_object_set_new(items, key, s_nic_item(sorted[i], spaces, space_count));
    }
    free(sorted);
    json_object_set_new(machine, "network-interfaces", items);
    return view;
}

//  --------------------------------------------------------------------------
//  The calls

//  One call whose NOT_SUPPORTED answer, when `optional`, is an empty
//  result rather than an error. Caller frees with
//  protobuf_c_message_free_unpacked.
static ProtobufCMessage *
s_call(cli_t *cli, const char *method, const char *model_uuid, const ProtobufCMessage *req,
       const ProtobufCMessageDescriptor *desc, bool optional, en_err_t *err)
{
    ProtobufCMessage *res = NULL;
    if (cli_call(cli, method, model_uuid, req, desc, &res, err) == 0)
        return res;
    if (!optional || err->kind != EN_NOT_SUPPORTED)
        return NULL;
    ProtobufCMessage *none = calloc(1, desc->sizeof_message);
    desc->message_init(none);
    return none;
}

static En__SpacesResult *
s_spaces_call(cli_t *cli, const char *model_uuid, bool optional, en_err_t *err)
{
    En__SpacesRequest req = EN__SPACES_REQUEST__INIT;
    return (En__SpacesResult *)s_call(cli, "Spaces", model_uuid, &req.base,
                                      &en__spaces_result__descriptor, optional, err);
}

//  spaces [-m MODEL]
static int
s_spaces(cli_t *cli, const cli_args_t *args)
{
    en_err_t err;
    En__ModelResult *model = cli_model_find(cli, args, &err);
    if (!model)
        return cli_fail(&err);
    En__SpacesResult *res = s_spaces_call(cli, model->model->uuid, false, &err);
    en__model_result__free_unpacked(model, NULL);
    if (!res)
        return cli_fail(&err);
    int rc = cli_print(cli, cli_spaces_view(res->spaces, res->n_spaces),
                       cli_spaces_table(res->spaces, res->n_spaces), "No spaces to display.");
    en__spaces_result__free_unpacked(res, NULL);
    return rc;
}

//  subnets [--space S] [--zone Z] [-m MODEL]
static int
s_subnets(cli_t *cli, const cli_args_t *args)
{
    en_err_t err;
    En__SubnetsResult *subnets = NULL;
    En__SpacesResult *spaces = NULL;
    cli_subnet_t *selected = NULL;
    size_t count = 0;
    int rc = CLI_EXIT_FAILURE;
    En__ModelResult *model = cli_model_find(cli, args, &err);
    if (!model) {
        cli_fail(&err);
        goto cleanup;
    }
    En__SubnetsRequest req = EN__SUBNETS_REQUEST__INIT;
    subnets = (En__SubnetsResult *)s_call(cli, "Subnets", model->model->uuid, &req.base,
                                          &en__subnets_result__descriptor, false, &err);
    if (subnets)
        spaces = s_spaces_call(cli, model->model->uuid, true, &err);
    if (!subnets || !spaces ||
        cli_subnets_select(subnets->subnets, subnets->n_subnets, spaces->spaces, spaces->n_spaces,
                           cli_args_value(args, CLI_OPT_SPACE), cli_args_value(args, CLI_OPT_ZONE),
                           &selected, &count, &err)) {
        cli_fail(&err);
        goto cleanup;
    }
    //  Like Juju, in every format: a note on stderr, nothing on stdout.
    if (!count) {
        fprintf(stderr, "No subnets to display.\n");
        rc = CLI_EXIT_OK;
        goto cleanup;
    }
    rc =
        cli_print(cli, cli_subnets_view(selected, count), cli_subnets_table(selected, count), NULL);
cleanup:
    free(selected);
    if (spaces)
        en__spaces_result__free_unpacked(spaces, NULL);
    if (subnets)
        en__subnets_result__free_unpacked(subnets, NULL);
    if (model)
        en__model_result__free_unpacked(model, NULL);
    return rc;
}

static bool
s_any_space(const En__NetworkInterfacesResult *nics)
{
    for (size_t i = 0; i < nics->n_interfaces; i++)
        if (*nics->interfaces[i]->provider_space_id)
            return true;
    return false;
}

//  show-machine ID [-m MODEL]
static int
s_show_machine(cli_t *cli, const cli_args_t *args)
{
    const char *id = args->words[0];
    en_err_t err;
    En__AllInstancesResult *all = NULL;
    En__NetworkInterfacesResult *nics = NULL;
    En__SpacesResult *spaces = NULL;
    const En__Instance *inst = NULL;
    int rc = CLI_EXIT_FAILURE;
    En__ModelResult *model = cli_model_find(cli, args, &err);
    if (model && (all = cli_all_instances(cli, model->model->uuid, &err)) &&
        !(inst = cli_machine_find(all, id)))
        en_err_set(&err, EN_NOT_FOUND, "machine \"%s\" not found", id);
    if (!inst) {
        cli_fail(&err);
        goto cleanup;
    }
    En__NetworkInterfacesRequest req = EN__NETWORK_INTERFACES_REQUEST__INIT;
    req.instance_id = inst->id;
    nics = (En__NetworkInterfacesResult *)s_call(
        cli, "NetworkInterfaces", model->model->uuid, &req.base,
        &en__network_interfaces_result__descriptor, true, &err);
    //  Space names only when a NIC is in a space: one call fewer otherwise.
    if (!nics ||
        (s_any_space(nics) && !(spaces = s_spaces_call(cli, model->model->uuid, true, &err)))) {
        cli_fail(&err);
        goto cleanup;
    }
    if (cli->format == CLI_FORMAT_TABULAR)
        cli->format = CLI_FORMAT_YAML; // a machine is no table
    rc = cli_print(cli,
                   cli_show_machine_view(model->model, inst, nics->interfaces, nics->n_interfaces,
                                         spaces ? spaces->spaces : NULL,
                                         spaces ? spaces->n_spaces : 0),
                   NULL, NULL);
cleanup:
    if (spaces)
        en__spaces_result__free_unpacked(spaces, NULL);
    if (nics)
        en__network_interfaces_result__free_unpacked(nics, NULL);
    if (all)
        en__all_instances_result__free_unpacked(all, NULL);
    if (model)
        en__model_result__free_unpacked(model, NULL);
    return rc;
}

const cli_command_t cli_network_commands[] = {
    {.name = "spaces",
     .handler = s_spaces,
     .summary = "Lists the spaces of a model's cloud region and their subnets.",
     .details = "The table shows each space with its subnets, one CIDR a line. YAML and JSON:\n"
                "  spaces:\n"
                "  - id: <provider space id>\n"
                "    name: <space>\n"
                "    subnets:\n"
                "      <cidr>: {type, provider-id, vlan-tag, zones}\n"
                "A cloud without spaces fails with `spaces not supported`.",
     .options = CLI_OPT(CLI_OPT_FORMAT) | CLI_OPT(CLI_OPT_MODEL),
     .max_words = 0},
    {.name = "subnets",
     .handler = s_subnets,
     .summary = "Lists the subnets of a model's cloud region.",
     .details = "--space keeps the subnets of one space (by name), --zone those in one\n"
                "availability zone. YAML and JSON:\n"
                "  subnets:\n"
                "    <cidr>: {type, provider-id, space, provider-space-id, vlan-tag, zones}\n"
                "When no subnet matches, `No subnets to display.` goes to stderr.",
     .options = CLI_OPT(CLI_OPT_FORMAT) | CLI_OPT(CLI_OPT_MODEL) | CLI_OPT(CLI_OPT_SPACE) |
                CLI_OPT(CLI_OPT_ZONE),
     .max_words = 0},
    {.name = "show-machine",
     .handler = s_show_machine,
     .usage = "ID",
     .summary = "Shows a machine and its network interfaces.",
     .details = "The machine as `machines` shows it, with its NICs under\n"
                "machines.<id>.network-interfaces.<name>: device-index, mac-address,\n"
                "ip-addresses, cidr, provider-subnet-id, space, provider-space-id,\n"
                "vlan-tag, mtu, config-type, gateway, dns-nameservers, provider-id,\n"
                "disabled, no-auto-start (empty fields left out). tabular is yaml.",
     .options = CLI_OPT(CLI_OPT_FORMAT) | CLI_OPT(CLI_OPT_MODEL),
     .min_words = 1,
     .max_words = 1,
     .required = "ID",
     .default_format = CLI_FORMAT_YAML},
    {.name = NULL},
};
