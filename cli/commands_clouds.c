/*  commands_clouds.c — `clouds`, `regions CLOUD`, `providers` and
    `add-cloud CLOUD FILE`.

    Each handler is one or a few calls and a view: the JSON view keeps
    Juju's YAML shape (a cloud is keyed by name and its regions are an
    ordered mapping whose first entry is the default), the table keeps
    Juju's columns. add-cloud reads FILE with common/cloudfile.h, so the
    file is judged exactly as the registry judges its own clouds.yaml,
    and sends the one cloud named in one AddCloud call. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "common/cloudfile.h"
#include "common/specproto.h"

//  Juju's clouds.yaml shape of one region; endpoints only where set.
static json_t *
s_region_view(const En__Region *r)
{
    json_t *view = json_object();
    cli_json_set_text(view, "endpoint", r->endpoint);
    cli_json_set_text(view, "identity-endpoint", r->identity_endpoint);
    cli_json_set_text(view, "storage-endpoint", r->storage_endpoint);
    return view;
}

static json_t *
s_regions_view(En__Region *const *regions, size_t count)
{
    json_t *view = json_object();
    for (size_t i = 0; i < count; i++)
        json_object_set_new(view, regions[i]->name, s_region_view(regions[i]));
    return view;
}

//  A JSON object carried as text on the wire, or NULL when absent or bad.
static json_t *
s_object(const char *text)
{
    if (!text || !*text)
        return NULL;
    json_t *value = json_loads(text, JSON_DECODE_ANY, NULL);
    if (!json_is_object(value) || json_object_size(value) == 0) {
        json_decref(value);
        return NULL;
    }
    return value;
}

static json_t *
s_cloud_view(const En__Cloud *c)
{
    json_t *view = json_object();
    cli_json_set_text(view, "type", c->type);
    cli_json_set_text(view, "description", c->description);
    if (c->n_auth_types)
        json_object_set_new(view, "auth-types", cli_json_strings(c->auth_types, c->n_auth_types));
    cli_json_set_text(view, "endpoint", c->endpoint);
    cli_json_set_text(view, "identity-endpoint", c->identity_endpoint);
    cli_json_set_text(view, "storage-endpoint", c->storage_endpoint);
    if (c->n_regions)
        json_object_set_new(view, "regions", s_regions_view(c->regions, c->n_regions));
    json_t *config = s_object(c->config_json);
    if (config)
        json_object_set_new(view, "config", config);
    json_t *region_config = s_object(c->region_config_json);
    if (region_config)
        json_object_set_new(view, "region-config", region_config);
    return view;
}

static int
s_clouds(cli_t *cli, const cli_args_t *args)
{
    (void)args;
    En__CloudsRequest req = EN__CLOUDS_REQUEST__INIT;
    ProtobufCMessage *res;
    en_err_t err;
    if (cli_call(cli, "Clouds", NULL, &req.base, &en__clouds_result__descriptor, &res, &err))
        return cli_fail(&err);
    En__CloudsResult *result = (En__CloudsResult *)res;
    json_t *view = json_object();
    cli_table_t *table =
        cli_table_new((const char *[]){"Cloud", "Regions", "Default", "Type", "Description", NULL});
    cli_table_align_right(table, 1);
    for (size_t i = 0; i < result->n_clouds; i++) {
        const En__Cloud *c = result->clouds[i];
        json_object_set_new(view, c->name, s_cloud_view(c));
        char regions[24];
        snprintf(regions, sizeof regions, "%zu", c->n_regions);
        cli_table_row(table, c->name, regions, c->n_regions ? c->regions[0]->name : "", c->type,
                      c->description);
    }
    en__clouds_result__free_unpacked(result, NULL);
    return cli_print(cli, view, table, "No clouds to display.");
}

static int
s_regions(cli_t *cli, const cli_args_t *args)
{
    En__CloudRequest req = EN__CLOUD_REQUEST__INIT;
    req.name = (char *)args->words[0];
    ProtobufCMessage *res;
    en_err_t err;
    if (cli_call(cli, "Cloud", NULL, &req.base, &en__cloud_result__descriptor, &res, &err))
        return cli_fail(&err);
    const En__Cloud *cloud = ((En__CloudResult *)res)->cloud;
    json_t *view = cloud ? s_regions_view(cloud->regions, cloud->n_regions) : json_object();
    cli_table_t *table = cli_table_new((const char *[]){"Region", "Endpoint", NULL});
    for (size_t i = 0; cloud && i < cloud->n_regions; i++)
        cli_table_row(table, cloud->regions[i]->name, cloud->regions[i]->endpoint);
    protobuf_c_message_free_unpacked(res, NULL);
    return cli_print(cli, view, table, "No regions to display.");
}

//  RegisteredProviders gives names; Provider gives aliases and auth types.
static int
s_providers(cli_t *cli, const cli_args_t *args)
{
    (void)args;
    En__RegisteredProvidersRequest req = EN__REGISTERED_PROVIDERS_REQUEST__INIT;
    ProtobufCMessage *res;
    en_err_t err;
    if (cli_call(cli, "RegisteredProviders", NULL, &req.base,
                 &en__registered_providers_result__descriptor, &res, &err))
        return cli_fail(&err);
    En__RegisteredProvidersResult *names = (En__RegisteredProvidersResult *)res;
    json_t *view = json_object();
    cli_table_t *table = cli_table_new((const char *[]){"Provider", "Aliases", "Auth types", NULL});
    int rc = CLI_EXIT_OK;
    for (size_t i = 0; i < names->n_names && rc == CLI_EXIT_OK; i++) {
        En__ProviderRequest preq = EN__PROVIDER_REQUEST__INIT;
        preq.type = names->names[i];
        if (cli_call(cli, "Provider", NULL, &preq.base, &en__provider_result__descriptor, &res,
                     &err)) {
            rc = cli_fail(&err);
            break;
        }
        En__ProviderResult *p = (En__ProviderResult *)res;
        const En__ProviderInfo *info = p->provider;
        json_t *item = json_object();
        char *aliases = NULL, *auth_types = NULL;
        if (info) {
            json_object_set_new(item, "aliases", cli_json_strings(info->aliases, info->n_aliases));
            json_object_set_new(item, "auth-types",
                                cli_json_strings(info->auth_types, info->n_auth_types));
            aliases = cli_join(info->aliases, info->n_aliases, ", ");
            auth_types = cli_join(info->auth_types, info->n_auth_types, ", ");
        }
        json_object_set_new(view, names->names[i], item);
        cli_table_row(table, names->names[i], aliases, auth_types);
        free(aliases);
        free(auth_types);
        en__provider_result__free_unpacked(p, NULL);
    }
    en__registered_providers_result__free_unpacked(names, NULL);
    if (rc != CLI_EXIT_OK) {
        json_decref(view);
        cli_table_destroy(&table);
        return rc;
    }
    return cli_print(cli, view, table, "No providers registered.");
}

//  --------------------------------------------------------------------------
//  add-cloud CLOUD (FILE | -f FILE) [--replace]

//  AddCloud with the cloud as cloudfile.h holds it, converted at this
//  edge as the registry converts its own (common/specproto.h).
static int
s_send_cloud(cli_t *cli, const en_cloud_t *c, bool replace, en_err_t *err)
{
    en_arena_t *arena = en_arena_new();
    En__AddCloudRequest req = EN__ADD_CLOUD_REQUEST__INIT;
    req.cloud = en_cloud_to_proto(arena, c);
    req.replace = replace;
    ProtobufCMessage *res;
    int rc =
        cli_call(cli, "AddCloud", NULL, &req.base, &en__add_cloud_result__descriptor, &res, err);
    if (rc == 0)
        protobuf_c_message_free_unpacked(res, NULL);
    en_arena_destroy(&arena);
    return rc;
}

static int
s_add_cloud(cli_t *cli, const cli_args_t *args)
{
    const char *name = args->words[0];
    const char *path = args->word_count > 1 ? args->words[1] : cli_args_value(args, CLI_OPT_FILE);
    if (args->word_count > 1 && cli_args_has(args, CLI_OPT_FILE))
        return cli_usage("a cloud definition file and -f cannot both be given");
    if (!path)
        return cli_usage("add-cloud needs a cloud definition file (FILE or -f FILE)");
    en_err_t err;
    size_t len = 0;
    char *data = NULL;
    if (cli_read_file(path, &data, &len, &err))
        return cli_fail(&err);
    en_clouds_t *clouds = en_clouds_parse(data, len, &err);
    free(data);
    if (!clouds)
        return cli_fail(&err);
    const en_cloud_t *cloud = en_clouds_find(clouds, name);
    int rc = CLI_EXIT_OK;
    if (!cloud) {
        // Juju's wording
        en_err_set(&err, EN_NOT_FOUND, "cloud \"%s\" not found in file %s", name, path);
        rc = cli_fail(&err);
    } else if (s_send_cloud(cli, cloud, cli_args_has(args, CLI_OPT_REPLACE), &err))
        rc = cli_fail(&err);
    else
        printf("Cloud \"%s\" added.\n", name);
    en_clouds_destroy(&clouds);
    return rc;
}

const cli_command_t cli_cloud_commands[] = {
    {.name = "clouds",
     .handler = s_clouds,
     .summary = "Lists the clouds models can be added on.",
     .details = "The first region of a cloud is its default region.",
     .options = CLI_OPT(CLI_OPT_FORMAT),
     .max_words = 0},
    {.name = "regions",
     .handler = s_regions,
     .usage = "CLOUD",
     .summary = "Lists the regions of a cloud.",
     .options = CLI_OPT(CLI_OPT_FORMAT),
     .min_words = 1,
     .max_words = 1,
     .required = "CLOUD"},
    {.name = "add-cloud",
     .handler = s_add_cloud,
     .usage = "CLOUD [FILE]",
     .summary = "Adds a cloud definition from a clouds.yaml file.",
     .details = "FILE (or -f FILE) has Juju's clouds.yaml format; the cloud named CLOUD\n"
                "is added:\n\n"
                "    clouds:\n"
                "      mylxd:\n"
                "        type: lxd\n"
                "        auth-types: [interactive, certificate]\n"
                "        endpoint: https://10.0.0.1:8443\n\n"
                "An existing cloud is replaced only with --replace.",
     .options = CLI_OPT(CLI_OPT_FILE) | CLI_OPT(CLI_OPT_REPLACE),
     .min_words = 1,
     .max_words = 2,
     .required = "CLOUD"},
    {.name = "providers",
     .handler = s_providers,
     .summary = "Lists the registered provider types.",
     .options = CLI_OPT(CLI_OPT_FORMAT),
     .max_words = 0},
    {.name = NULL},
};
