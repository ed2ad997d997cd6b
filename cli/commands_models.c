/*  commands_models.c — `controllers`, `show-controller NAME`, `models`,
    `add-model NAME [CLOUD[/REGION]]`, `model-config` and `show-model`
    (which also shows the model's firewall-mode).

    A model is named by -m (NAME or OWNER/NAME) or is the current model,
    whose name add-model writes to $ENVIRONS_HOME/current-model; names
    become uuids through the Model call (cli_model_find), and model-scoped
    calls carry that uuid in the envelope.

    add-model follows Juju: with no CLOUD it uses the controller's cloud and
    region when exactly one controller is known, the model is added for
    user "admin" and becomes the current model, and it prints
    `Added 'NAME' model on CLOUD/REGION with credential 'C' for user 'admin'`.

    model-config reads the whole config, and to set keys it sends the whole
    config back with those keys changed (SetConfig validates the result
    against the old config and stores it atomically), so it does not matter
    whether the gateway treats SetConfig as a replacement or a merge. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *
s_text(const char *text)
{
    return text ? text : "";
}

char *
cli_cloud_region(const char *cloud, const char *region)
{
    char *text = NULL;
    if (asprintf(&text, "%s%s%s", s_text(cloud), region && *region ? "/" : "", s_text(region)) < 0)
        return NULL;
    return text;
}

static json_t *
s_model_item(const En__Model *m)
{
    json_t *item = json_object();
    json_object_set_new(item, "name", json_string(m->name));
    json_object_set_new(item, "model-uuid", json_string(m->uuid));
    cli_json_set_text(item, "controller-uuid", m->controller_uuid);
    cli_json_set_text(item, "owner", m->owner);
    if (m->cloud) {
        cli_json_set_text(item, "cloud", m->cloud->name);
        cli_json_set_text(item, "region", m->cloud->region);
        cli_json_set_text(item, "type", m->cloud->type);
    }
    cli_json_set_text(item, "credential", m->credential_name);
    if (m->created_ms) {
        time_t secs = (time_t)(m->created_ms / 1000);
        struct tm tm;
        char created[32];
        gmtime_r(&secs, &tm);
        strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
        json_object_set_new(item, "created", json_string(created));
    }
    return item;
}

json_t *
cli_models_view(En__Model *const *models, size_t count, const char *current)
{
    json_t *list = json_array();
    for (size_t i = 0; i < count; i++)
        json_array_append_new(list, s_model_item(models[i]));
    json_t *view = json_object();
    json_object_set_new(view, "models", list);
    cli_json_set_text(view, "current-model", current);
    return view;
}

cli_table_t *
cli_models_table(En__Model *const *models, size_t count, const char *current)
{
    cli_table_t *table = cli_table_new(
        (const char *[]){"Model", "Cloud/Region", "Type", "Credential", "Owner", NULL});
    for (size_t i = 0; i < count; i++) {
        const En__Model *m = models[i];
        char *name = NULL;
        if (asprintf(&name, "%s%s", m->name, current && strcmp(current, m->name) == 0 ? "*" : "") <
            0)
            name = NULL;
        char *where = m->cloud ? cli_cloud_region(m->cloud->name, m->cloud->region) : NULL;
        cli_table_row(table, name, where, m->cloud ? m->cloud->type : "", m->credential_name,
                      m->owner);
        free(where);
        free(name);
    }
    return table;
}

//  Models of one controller (uuid), or of all (NULL).
static En__ModelsResult *
s_models(cli_t *cli, const char *controller_uuid, en_err_t *err)
{
    En__ModelsRequest req = EN__MODELS_REQUEST__INIT;
    if (controller_uuid)
        req.controller_uuid = (char *)controller_uuid;
    ProtobufCMessage *res;
    if (cli_call(cli, "Models", NULL, &req.base, &en__models_result__descriptor, &res, err))
        return NULL;
    return (En__ModelsResult *)res;
}

static int
s_models_cmd(cli_t *cli, const cli_args_t *args)
{
    (void)args;
    en_err_t err;
    En__ModelsResult *result = s_models(cli, NULL, &err);
    if (!result)
        return cli_fail(&err);
    char *current = cli_current_model();
    json_t *view = cli_models_view(result->models, result->n_models, current);
    cli_table_t *table = cli_models_table(result->models, result->n_models, current);
    free(current);
    en__models_result__free_unpacked(result, NULL);
    return cli_print(cli, view, table, "No models to display.");
}

//  --------------------------------------------------------------------------
//  Controllers

static json_t *
s_controller_item(const En__ControllerDetails *c, bool with_ca_cert)
{
    json_t *item = json_object();
    json_object_set_new(item, "uuid", json_string(c->uuid));
    cli_json_set_text(item, "controller-model-uuid", c->model_uuid);
    json_object_set_new(item, "api-endpoints",
                        cli_json_strings(c->api_endpoints, c->n_api_endpoints));
    cli_json_set_text(item, "cloud", c->cloud);
    cli_json_set_text(item, "region", c->region);
    if (with_ca_cert)
        cli_json_set_text(item, "ca-cert", c->ca_cert);
    return item;
}

static int
s_controllers(cli_t *cli, const cli_args_t *args)
{
    (void)args;
    En__ControllersRequest req = EN__CONTROLLERS_REQUEST__INIT;
    ProtobufCMessage *res;
    en_err_t err;
    if (cli_call(cli, "Controllers", NULL, &req.base, &en__controllers_result__descriptor, &res,
                 &err))
        return cli_fail(&err);
    En__ControllersResult *result = (En__ControllersResult *)res;
    En__ModelsResult *models = s_models(cli, NULL, &err);
    if (!models) {
        en__controllers_result__free_unpacked(result, NULL);
        return cli_fail(&err);
    }
    //  The current model shows on the row of the controller it belongs to.
    char *current = cli_current_model();
    const char *current_on = NULL;
    for (size_t i = 0; current && i < models->n_models && !current_on; i++)
        if (strcmp(models->models[i]->name, current) == 0)
            current_on = models->models[i]->controller_uuid;
    json_t *list = json_object();
    cli_table_t *table =
        cli_table_new((const char *[]){"Controller", "Model", "Cloud/Region", "Models", NULL});
    cli_table_align_right(table, 3);
    for (size_t i = 0; i < result->n_controllers; i++) {
        const En__ControllerDetails *c = result->controllers[i];
        size_t count = 0;
        for (size_t m = 0; m < models->n_models; m++)
            count += strcmp(models->models[m]->controller_uuid, c->uuid) == 0;
        bool has_current = current_on && strcmp(current_on, c->uuid) == 0;
        json_t *item = s_controller_item(c, false);
        if (has_current)
            json_object_set_new(item, "current-model", json_string(current));
        json_object_set_new(item, "model-count", json_integer((json_int_t)count));
        json_object_set_new(list, c->name, item);
        char models_text[24];
        snprintf(models_text, sizeof models_text, "%zu", count);
        char *where = cli_cloud_region(c->cloud, c->region);
        cli_table_row(table, c->name, has_current ? current : "-", where, models_text);
        free(where);
    }
    free(current);
    en__models_result__free_unpacked(models, NULL);
    en__controllers_result__free_unpacked(result, NULL);
    json_t *view = json_object();
    json_object_set_new(view, "controllers", list);
    return cli_print(cli, view, table, "No controllers to display.");
}

static int
s_show_controller(cli_t *cli, const cli_args_t *args)
{
    en_err_t err;
    En__ControllerResult *result = cli_controller_find(cli, args->words[0], &err);
    if (!result)
        return cli_fail(&err);
    En__ModelsResult *models = s_models(cli, result->controller->uuid, &err);
    if (!models) {
        en__controller_result__free_unpacked(result, NULL);
        return cli_fail(&err);
    }
    json_t *model_list = json_object();
    for (size_t i = 0; i < models->n_models; i++) {
        json_t *m = json_object();
        json_object_set_new(m, "uuid", json_string(models->models[i]->uuid));
        json_object_set_new(model_list, models->models[i]->name, m);
    }
    json_t *item = json_object();
    json_object_set_new(item, "details", s_controller_item(result->controller, true));
    json_object_set_new(item, "models", model_list);
    json_t *view = json_object();
    json_object_set_new(view, result->controller->name, item);
    en__models_result__free_unpacked(models, NULL);
    en__controller_result__free_unpacked(result, NULL);
    return cli_print(cli, view, NULL, NULL);
}

//  --------------------------------------------------------------------------
//  add-model NAME [CLOUD[/REGION]] [--credential C] [--config K=V ...]

static int
s_add_model(cli_t *cli, const cli_args_t *args)
{
    en_err_t err;
    json_t *config = json_object();
    char *cloud = NULL, *config_text = NULL;
    En__ControllersResult *controllers = NULL;
    En__OpenResult *opened = NULL;
    int rc = CLI_EXIT_FAILURE;
    for (size_t i = 0; i < args->value_count[CLI_OPT_CONFIG]; i++)
        if (cli_kv_set(config, args->values[CLI_OPT_CONFIG][i], true, &err)) {
            rc = cli_usage("invalid --config: %s", err.message);
            goto cleanup;
        }
    En__OpenRequest req = EN__OPEN_REQUEST__INIT;
    req.name = (char *)args->words[0];
    req.owner = CLI_USER;
    if (args->word_count > 1) {
        cloud = strdup(args->words[1]);
        char *slash = strchr(cloud, '/');
        if (slash) {
            *slash = '\0';
            req.region_name = slash + 1;
        }
        req.cloud_name = cloud;
    }
    const char *credential = cli_args_value(args, CLI_OPT_CREDENTIAL);
    if (credential)
        req.credential_name = (char *)credential;
    ProtobufCMessage *res;
    En__ControllersRequest creq = EN__CONTROLLERS_REQUEST__INIT;
    if (cli_call(cli, "Controllers", NULL, &creq.base, &en__controllers_result__descriptor, &res,
                 &err)) {
        cli_fail(&err);
        goto cleanup;
    }
    controllers = (En__ControllersResult *)res;
    if (controllers->n_controllers == 1) {
        const En__ControllerDetails *only = controllers->controllers[0];
        req.controller_uuid = only->uuid;
        if (!cloud) {
            req.cloud_name = only->cloud;
            req.region_name = only->region;
        }
    }
    config_text = json_dumps(config, JSON_COMPACT | JSON_SORT_KEYS);
    En__ConfigAttrs attrs = EN__CONFIG_ATTRS__INIT;
    attrs.json = config_text;
    req.config = &attrs;
    if (cli_call(cli, "Open", NULL, &req.base, &en__open_result__descriptor, &res, &err)) {
        cli_fail(&err);
        goto cleanup;
    }
    opened = (En__OpenResult *)res;
    const En__Model *m = opened->model;
    const char *name = m ? m->name : req.name;
    const En__CloudSpec *spec = m ? m->cloud : NULL;
    char *where =
        cli_cloud_region(spec ? spec->name : req.cloud_name, spec ? spec->region : req.region_name);
    const char *cred = m ? m->credential_name : req.credential_name;
    printf("Added '%s' model on %s", name, where);
    if (cred && *cred)
        printf(" with credential '%s'", cred);
    printf(" for user '%s'\n", m && *m->owner ? m->owner : CLI_USER);
    free(where);
    if (cli_set_current_model(name, &err)) {
        cli_fail(&err);
        goto cleanup;
    }
    rc = CLI_EXIT_OK;
cleanup:
    if (opened)
        en__open_result__free_unpacked(opened, NULL);
    if (controllers)
        en__controllers_result__free_unpacked(controllers, NULL);
    free(config_text);
    free(cloud);
    json_decref(config);
    return rc;
}

//  --------------------------------------------------------------------------
//  model-config [-m MODEL] [KEY | KEY=VALUE ...]

static json_t *
s_config_get(cli_t *cli, const char *uuid, en_err_t *err)
{
    En__ConfigRequest req = EN__CONFIG_REQUEST__INIT;
    ProtobufCMessage *res;
    if (cli_call(cli, "Config", uuid, &req.base, &en__config_result__descriptor, &res, err))
        return NULL;
    En__ConfigResult *result = (En__ConfigResult *)res;
    json_t *config = NULL;
    if (result->config && *result->config->json)
        config = json_loads(result->config->json, 0, NULL);
    en__config_result__free_unpacked(result, NULL);
    if (!json_is_object(config)) {
        json_decref(config);
        en_err_set(err, EN_INTERNAL, "model config is not a JSON object");
        return NULL;
    }
    return config;
}

static int
s_config_set(cli_t *cli, const char *uuid, const json_t *config, en_err_t *err)
{
    char *text = json_dumps(config, JSON_COMPACT | JSON_SORT_KEYS);
    En__ConfigAttrs attrs = EN__CONFIG_ATTRS__INIT;
    attrs.json = text;
    En__SetConfigRequest req = EN__SET_CONFIG_REQUEST__INIT;
    req.config = &attrs;
    ProtobufCMessage *res;
    int rc =
        cli_call(cli, "SetConfig", uuid, &req.base, &en__set_config_result__descriptor, &res, err);
    if (rc == 0)
        protobuf_c_message_free_unpacked(res, NULL);
    free(text);
    return rc;
}

static int
s_compare_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

//  All keys in order: a table of Attribute/Value, or the object itself.
static int
s_config_print(cli_t *cli, const json_t *config)
{
    const char **keys = calloc(json_object_size(config) + 1, sizeof(char *));
    size_t n = 0;
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)config, key, value) keys[n++] = key;
    qsort(keys, n, sizeof *keys, s_compare_keys);
    json_t *view = json_object();
    cli_table_t *table = cli_table_new((const char *[]){"Attribute", "Value", NULL});
    for (size_t i = 0; i < n; i++) {
        value = json_object_get(config, keys[i]);
        json_object_set(view, keys[i], value);
        char *text = cli_value_text(value);
        cli_table_row(table, keys[i], text);
        free(text);
    }
    free(keys);
    return cli_print(cli, view, table, NULL);
}

static int
s_model_config(cli_t *cli, const cli_args_t *args)
{
    size_t sets = 0;
    for (size_t i = 0; i < args->word_count; i++)
        sets += strchr(args->words[i], '=') != NULL;
    if (sets && sets < args->word_count)
        return cli_usage("cannot set and retrieve model values simultaneously");
    if (!sets && args->word_count > 1)
        return cli_usage("can only retrieve a single value, or all values");
    en_err_t err;
    En__ModelResult *model = cli_model_find(cli, args, &err);
    if (!model)
        return cli_fail(&err);
    json_t *config = s_config_get(cli, model->model->uuid, &err);
    int rc = CLI_EXIT_FAILURE;
    if (!config) {
        cli_fail(&err);
        goto cleanup;
    }
    if (sets) {
        for (size_t i = 0; i < args->word_count; i++)
            if (cli_kv_set(config, args->words[i], true, &err)) {
                rc = cli_usage("%s", err.message);
                goto cleanup;
            }
        rc = s_config_set(cli, model->model->uuid, config, &err) ? cli_fail(&err) : CLI_EXIT_OK;
    } else if (args->word_count == 1) {
        json_t *value = json_object_get(config, args->words[0]);
        if (!value) {
            en_err_set(&err, EN_NOT_FOUND, "key \"%s\" not found in \"%s\" model.", args->words[0],
                       model->model->name);
            cli_fail(&err);
            goto cleanup;
        }
        if (cli->format == CLI_FORMAT_TABULAR) {
            char *text = cli_value_text(value);
            printf("%s\n", text);
            free(text);
            rc = CLI_EXIT_OK;
        } else
            rc = cli_print(cli, json_incref(value), NULL, NULL);
    } else
        rc = s_config_print(cli, config);
cleanup:
    json_decref(config);
    en__model_result__free_unpacked(model, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  show-model [-m MODEL]

static int
s_show_model(cli_t *cli, const cli_args_t *args)
{
    en_err_t err;
    En__ModelResult *model = cli_model_find(cli, args, &err);
    if (!model)
        return cli_fail(&err);
    json_t *item = s_model_item(model->model);
    //  The firewall mode decides which port commands work (commands_ports.c).
    const En__ConfigAttrs *attrs = model->model->config;
    json_t *config = attrs && *attrs->json ? json_loads(attrs->json, 0, NULL) : NULL;
    cli_json_set_text(item, "firewall-mode",
                      json_string_value(json_object_get(config, "firewall-mode")));
    json_decref(config);
    json_t *view = json_object();
    json_object_set_new(view, model->model->name, item);
    en__model_result__free_unpacked(model, NULL);
    return cli_print(cli, view, NULL, NULL);
}

const cli_command_t cli_model_commands[] = {
    {.name = "controllers",
     .handler = s_controllers,
     .summary = "Lists the controllers.",
     .details = "The Model column shows the current model on the controller it belongs to.",
     .options = CLI_OPT(CLI_OPT_FORMAT),
     .max_words = 0},
    {.name = "show-controller",
     .handler = s_show_controller,
     .usage = "NAME",
     .summary = "Shows a controller's details and models.",
     .options = CLI_OPT(CLI_OPT_FORMAT),
     .min_words = 1,
     .max_words = 1,
     .required = "NAME",
     .default_format = CLI_FORMAT_YAML,
     .no_tabular = true},
    {.name = "models",
     .handler = s_models_cmd,
     .summary = "Lists the models; the current one is marked with *.",
     .options = CLI_OPT(CLI_OPT_FORMAT),
     .max_words = 0},
    {.name = "add-model",
     .handler = s_add_model,
     .usage = "NAME [CLOUD[/REGION]]",
     .summary = "Adds a model and makes it the current model.",
     .details = "Without CLOUD, the model goes on the controller's cloud and region\n"
                "(when there is exactly one controller). --config values are typed:\n"
                "true and false are booleans, integers are numbers, the rest strings.",
     .options = CLI_OPT(CLI_OPT_CREDENTIAL) | CLI_OPT(CLI_OPT_CONFIG),
     .min_words = 1,
     .max_words = 2,
     .required = "NAME"},
    {.name = "model-config",
     .handler = s_model_config,
     .usage = "[KEY | KEY=VALUE ...]",
     .summary = "Shows or sets a model's configuration.",
     .details = "With no KEY, shows every key; with one KEY, shows its value; with\n"
                "KEY=VALUE pairs, sets them (true/false are booleans, integers are\n"
                "numbers, the rest strings).",
     .options = CLI_OPT(CLI_OPT_MODEL) | CLI_OPT(CLI_OPT_FORMAT),
     .max_words = -1},
    {.name = "show-model",
     .handler = s_show_model,
     .summary = "Shows a model.",
     .options = CLI_OPT(CLI_OPT_MODEL) | CLI_OPT(CLI_OPT_FORMAT),
     .max_words = 0,
     .default_format = CLI_FORMAT_YAML,
     .no_tabular = true},
    {.name = NULL},
};
