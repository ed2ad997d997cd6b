/*  commands_bootstrap.c — a controller's life: `bootstrap`,
    `destroy-controller` and `kill-controller`.

    bootstrap is one public Bootstrap call with no model in the envelope:
    the gateway prepares the controller (name, uuid, CA, the "controller"
    model, controllers.yaml), has the broker start and wait for the
    controller machine, and records its API endpoints. It takes minutes on
    a real cloud, so it runs with a long timeout and shows the service's
    progress lines on stderr as they come (cli_call_long), between Juju's
    own first and last lines. Then, as Juju does, it adds the hosted model
    "default" on the new controller and makes the controller and that
    model current.

    destroy-controller refuses, with Juju's message, while a hosted model
    still has machines, unless --destroy-all-models; it then destroys each
    hosted model and the controller (DestroyControllerByName: the
    controller model, whatever else carries the controller's tag, and its
    records). kill-controller goes straight to DestroyControllerByName,
    which works from the cloud's tags alone, so it also cleans up a
    controller whose model records are gone. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "common/consproto.h"

//  Juju's name of the model that holds the controller machines.
#define CLI_CONTROLLER_MODEL "controller"
//  The model bootstrap adds for workloads.
#define CLI_HOSTED_MODEL "default"

//  A destroyed controller stops being current, and so does its model.
static void
s_forget_current(const char *name)
{
    char *current = cli_current_controller();
    en_err_t ignored;
    if (current && strcmp(current, name) == 0) {
        cli_set_current_controller(NULL, &ignored);
        cli_set_current_model(NULL, &ignored);
    }
    free(current);
}

//  --------------------------------------------------------------------------
//  bootstrap CLOUD[/REGION] [NAME]

typedef struct {
    char *cloud;
    char *region; // the cloud's first region when none is given
    char *name;   // Juju's default: <cloud>-<region>
    char *config; // JSON object of --config
    en_constraints_t model_cons, bootstrap_cons;
} bootstrap_args_t;

static void
s_bootstrap_args_clear(bootstrap_args_t *b)
{
    free(b->cloud);
    free(b->region);
    free(b->name);
    free(b->config);
    en_constraints_reset(&b->model_cons);
    en_constraints_reset(&b->bootstrap_cons);
}

//  Options first (usage errors exit 2 before any call), then the cloud,
//  whose default region names the controller when NAME is not given.
static int
s_bootstrap_args(cli_t *cli, const cli_args_t *args, bootstrap_args_t *b)
{
    en_err_t err;
    if (cli_constraints_arg(args, CLI_OPT_CONSTRAINTS, &b->model_cons, &err) ||
        cli_constraints_arg(args, CLI_OPT_BOOTSTRAP_CONSTRAINTS, &b->bootstrap_cons, &err))
        return cli_usage("%s", err.message);
    json_t *config = json_object();
    for (size_t i = 0; i < args->value_count[CLI_OPT_CONFIG]; i++)
        if (cli_kv_set(config, args->values[CLI_OPT_CONFIG][i], true, &err)) {
            json_decref(config);
            return cli_usage("invalid --config: %s", err.message);
        }
    b->config = json_dumps(config, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(config);
    b->cloud = strdup(args->words[0]);
    char *slash = strchr(b->cloud, '/');
    if (slash) {
        *slash = '\0';
        b->region = strdup(slash + 1);
    } else {
        En__CloudRequest req = EN__CLOUD_REQUEST__INIT;
        req.name = b->cloud;
        ProtobufCMessage *res;
        if (cli_call(cli, "Cloud", NULL, &req.base, &en__cloud_result__descriptor, &res, &err))
            return cli_fail(&err);
        const En__Cloud *cloud = ((En__CloudResult *)res)->cloud;
        b->region = strdup(cloud && cloud->n_regions ? cloud->regions[0]->name : "");
        protobuf_c_message_free_unpacked(res, NULL);
    }
    if (args->word_count > 1)
        b->name = strdup(args->words[1]);
    else if (asprintf(&b->name, "%s%s%s", b->cloud, *b->region ? "-" : "", b->region) < 0)
        b->name = NULL;
    return CLI_EXIT_OK;
}

//  The hosted model of a new controller, made current with it.
static int
s_add_hosted_model(cli_t *cli, const bootstrap_args_t *b, const char *credential,
                   const char *controller_uuid)
{
    En__ConfigAttrs config = EN__CONFIG_ATTRS__INIT;
    config.json = b->config;
    En__OpenRequest req = EN__OPEN_REQUEST__INIT;
    req.name = CLI_HOSTED_MODEL;
    req.owner = CLI_USER;
    req.cloud_name = b->cloud;
    req.region_name = b->region;
    req.credential_name = (char *)(credential ? credential : "");
    req.config = &config;
    req.controller_uuid = (char *)controller_uuid;
    ProtobufCMessage *res;
    en_err_t err;
    if (cli_call(cli, "Open", NULL, &req.base, &en__open_result__descriptor, &res, &err) == 0)
        protobuf_c_message_free_unpacked(res, NULL);
    else
        return cli_fail(&err);
    fprintf(stderr, "Initial model \"%s\" added\n", CLI_HOSTED_MODEL);
    if (cli_set_current_controller(b->name, &err) || cli_set_current_model(CLI_HOSTED_MODEL, &err))
        return cli_fail(&err);
    return CLI_EXIT_OK;
}

static int
s_bootstrap(cli_t *cli, const cli_args_t *args)
{
    bootstrap_args_t b = {0};
    en_arena_t *arena = en_arena_new();
    En__BootstrapResult *result = NULL;
    En__ControllerResult *existing = NULL;
    en_err_t err;
    int rc = s_bootstrap_args(cli, args, &b);
    if (rc != CLI_EXIT_OK)
        goto cleanup;
    rc = CLI_EXIT_FAILURE;
    //  Juju's Prepare refuses a known name before it says anything; the
    //  gateway checks again, atomically.
    if ((existing = cli_controller_find(cli, b.name, &err)) || err.kind != EN_NOT_FOUND) {
        if (existing)
            en_err_set(&err, EN_ALREADY_EXISTS, "controller \"%s\" already exists", b.name);
        cli_fail(&err);
        goto cleanup;
    }
    char *where = cli_cloud_region(b.cloud, b.region);
    fprintf(stderr, "Creating Juju controller \"%s\" on %s\n", b.name, where);
    free(where);
    const char *credential = cli_args_value(args, CLI_OPT_CREDENTIAL);
    En__ConfigAttrs config = EN__CONFIG_ATTRS__INIT;
    config.json = b.config;
    En__BootstrapRequest req = EN__BOOTSTRAP_REQUEST__INIT;
    req.cloud_name = b.cloud;
    req.cloud_region = b.region;
    req.controller_name = b.name;
    req.credential_name = (char *)(credential ? credential : "");
    req.model_config = &config;
    req.keep_broken = cli_args_has(args, CLI_OPT_KEEP_BROKEN);
    if (!en_constraints_is_empty(&b.model_cons))
        req.model_constraints = en_constraints_to_proto(arena, &b.model_cons);
    if (!en_constraints_is_empty(&b.bootstrap_cons))
        req.bootstrap_constraints = en_constraints_to_proto(arena, &b.bootstrap_cons);
    ProtobufCMessage *res;
    if (cli_call_long(cli, "Bootstrap", NULL, &req.base, &en__bootstrap_result__descriptor, &res,
                      cli_timeout_or(cli, args, CLI_BOOTSTRAP_TIMEOUT_MS), true, &err)) {
        if (req.keep_broken && err.kind != EN_ALREADY_EXISTS)
            fprintf(stderr, "bootstrap failed but --keep-broken was specified so resources are "
                            "not being destroyed.\n");
        cli_fail(&err);
        goto cleanup;
    }
    result = (En__BootstrapResult *)res;
    fprintf(stderr, "Bootstrap complete, controller \"%s\" is now available\n", b.name);
    fprintf(stderr, "Controller machines are in the \"%s\" model\n", CLI_CONTROLLER_MODEL);
    rc = s_add_hosted_model(cli, &b, credential, result->controller_uuid);
cleanup:
    if (existing)
        en__controller_result__free_unpacked(existing, NULL);
    if (result)
        en__bootstrap_result__free_unpacked(result, NULL);
    en_arena_destroy(&arena);
    s_bootstrap_args_clear(&b);
    return rc;
}

//  --------------------------------------------------------------------------
//  destroy-controller NAME [--destroy-all-models], kill-controller NAME

static int
s_destroy_by_name(cli_t *cli, const cli_args_t *args, const char *name)
{
    En__DestroyControllerByNameRequest req = EN__DESTROY_CONTROLLER_BY_NAME_REQUEST__INIT;
    req.controller_name = (char *)name;
    ProtobufCMessage *res;
    en_err_t err;
    if (cli_call_long(cli, "DestroyControllerByName", NULL, &req.base,
                      &en__destroy_controller_by_name_result__descriptor, &res,
                      cli_timeout_or(cli, args, CLI_MACHINES_TIMEOUT_MS), false, &err))
        return cli_fail(&err);
    protobuf_c_message_free_unpacked(res, NULL);
    s_forget_current(name);
    return CLI_EXIT_OK;
}

//  Juju's refusal, listing the hosted models that still have machines:
//  `\tadmin/default (alive), 3 machines`.
static void
s_live_models_error(const char *name, En__Model *const *models, const size_t *machines,
                    size_t count)
{
    fprintf(stderr,
            "ERROR cannot destroy controller \"%s\"\n\n"
            "The controller has live models. If you want\n"
            "to destroy all models in the controller,\n"
            "run this command again with the --destroy-all-models\n"
            "option.\n\nModels:\n",
            name);
    for (size_t i = 0; i < count; i++)
        if (machines[i])
            fprintf(stderr, "\t%s/%s (alive), %zu machine%s\n", models[i]->owner, models[i]->name,
                    machines[i], machines[i] > 1 ? "s" : "");
}

static int
s_destroy_controller(cli_t *cli, const cli_args_t *args)
{
    const char *name = args->words[0];
    en_err_t err;
    En__ControllerResult *controller = cli_controller_find(cli, name, &err);
    if (!controller)
        return cli_fail(&err);
    const En__ControllerDetails *c = controller->controller;
    En__ModelsRequest mreq = EN__MODELS_REQUEST__INIT;
    mreq.controller_uuid = c->uuid;
    ProtobufCMessage *res;
    En__ModelsResult *models = NULL;
    size_t *machines = NULL, live = 0;
    int rc = CLI_EXIT_FAILURE;
    if (cli_call(cli, "Models", NULL, &mreq.base, &en__models_result__descriptor, &res, &err)) {
        cli_fail(&err);
        goto cleanup;
    }
    //  The hosted models (all but the controller model) and their machines.
    models = (En__ModelsResult *)res;
    machines = calloc(models->n_models + 1, sizeof(size_t));
    for (size_t i = 0; i < models->n_models; i++) {
        const En__Model *m = models->models[i];
        if (strcmp(m->uuid, c->model_uuid) == 0 || strcmp(m->name, CLI_CONTROLLER_MODEL) == 0)
            continue;
        En__AllInstancesResult *all = cli_all_instances(cli, m->uuid, &err);
        if (!all) {
            cli_fail(&err);
            goto cleanup;
        }
        machines[i] = all->n_instances;
        live += all->n_instances != 0;
        en__all_instances_result__free_unpacked(all, NULL);
    }
    if (live && !cli_args_has(args, CLI_OPT_DESTROY_ALL_MODELS)) {
        s_live_models_error(name, models->models, machines, models->n_models);
        goto cleanup;
    }
    fprintf(stderr, "Destroying controller \"%s\"\n", name);
    for (size_t i = 0; i < models->n_models; i++) {
        const En__Model *m = models->models[i];
        if (strcmp(m->uuid, c->model_uuid) == 0 || strcmp(m->name, CLI_CONTROLLER_MODEL) == 0)
            continue;
        En__DestroyRequest dreq = EN__DESTROY_REQUEST__INIT;
        if (cli_call_long(cli, "Destroy", m->uuid, &dreq.base, &en__destroy_result__descriptor,
                          &res, cli_timeout_or(cli, args, CLI_MACHINES_TIMEOUT_MS), false, &err)) {
            cli_fail(&err);
            goto cleanup;
        }
        protobuf_c_message_free_unpacked(res, NULL);
    }
    fprintf(stderr, "All hosted models reclaimed, cleaning up controller machines\n");
    rc = s_destroy_by_name(cli, args, name);
cleanup:
    free(machines);
    if (models)
        en__models_result__free_unpacked(models, NULL);
    en__controller_result__free_unpacked(controller, NULL);
    return rc;
}

static int
s_kill_controller(cli_t *cli, const cli_args_t *args)
{
    fprintf(stderr, "Destroying controller \"%s\"\n", args->words[0]);
    return s_destroy_by_name(cli, args, args->words[0]);
}

const cli_command_t cli_controller_commands[] = {
    {.name = "bootstrap",
     .handler = s_bootstrap,
     .usage = "CLOUD[/REGION] [NAME]",
     .summary = "Creates a controller on a cloud.",
     .details = "Starts the controller machine (in the controller's \"controller\" model),\n"
                "records the controller in controllers.yaml, then adds the model \"default\"\n"
                "and makes the controller and that model current. NAME defaults to\n"
                "CLOUD-REGION. --constraints are the models' constraints,\n"
                "--bootstrap-constraints the controller machine's (merged over them),\n"
                "--config the models' config. It waits up to 20 minutes unless --timeout.",
     .options = CLI_OPT(CLI_OPT_CONSTRAINTS) | CLI_OPT(CLI_OPT_BOOTSTRAP_CONSTRAINTS) |
                CLI_OPT(CLI_OPT_CONFIG) | CLI_OPT(CLI_OPT_CREDENTIAL) |
                CLI_OPT(CLI_OPT_KEEP_BROKEN),
     .min_words = 1,
     .max_words = 2,
     .required = "CLOUD"},
    {.name = "destroy-controller",
     .handler = s_destroy_controller,
     .usage = "NAME",
     .summary = "Destroys a controller, its machines and its models.",
     .details = "Refuses while a hosted model has machines, unless --destroy-all-models.",
     .options = CLI_OPT(CLI_OPT_DESTROY_ALL_MODELS),
     .min_words = 1,
     .max_words = 1,
     .required = "NAME"},
    {.name = "kill-controller",
     .handler = s_kill_controller,
     .usage = "NAME",
     .summary = "Destroys a controller and everything tagged with it, models or not.",
     .details = "Works from the cloud's tags alone, so it also removes what a controller\n"
                "whose records are gone left behind.",
     .min_words = 1,
     .max_words = 1,
     .required = "NAME"},
    {.name = NULL},
};
