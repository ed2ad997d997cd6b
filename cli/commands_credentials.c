/*  commands_credentials.c — `credentials [CLOUD]`, `add-credential CLOUD`
    and `autoload-credentials [PROVIDER]`.

    Every way of adding a credential ends in one FinalizeCredential and one
    AddCredential call per credential (s_send), as Juju's add-credential
    finalizes before it stores: from a credentials.yaml file (-f, every credential
    the file holds for CLOUD, read with common/cloudfile.h so the file is
    judged exactly as the registry judges its own), from options (--name,
    --auth-type, --attr), or from what a provider detects. A credential that fails does not stop
    the others; the command then exits 1. The gateway decides whether a
    credential is valid and whether it already exists (ALREADY_EXISTS
    unless --replace); its message is printed unchanged.

    autoload-credentials is Juju's, made non-interactive: Juju asks which
    cloud to save a detected credential to; here it goes to every cloud
    whose type is the provider (or one of its aliases), or only to --cloud.
    A credential that is already there is left alone unless --replace. */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/cloudfile.h"

static int
s_add(cli_t *cli, const char *cloud, En__Credential *cred, bool replace, en_err_t *err)
{
    En__AddCredentialRequest req = EN__ADD_CREDENTIAL_REQUEST__INIT;
    req.cloud_name = (char *)cloud;
    req.credential = cred;
    req.replace = replace;
    ProtobufCMessage *res;
    if (cli_call(cli, "AddCredential", NULL, &req.base, &en__add_credential_result__descriptor,
                 &res, err))
        return -1;
    protobuf_c_message_free_unpacked(res, NULL);
    return 0;
}

//  Whether CLOUD already has a credential called name (a failed lookup
//  says no: AddCredential then has the last word).
static bool
s_exists(cli_t *cli, const char *cloud, const char *name)
{
    En__CredentialsRequest req = EN__CREDENTIALS_REQUEST__INIT;
    req.cloud_name = (char *)cloud;
    ProtobufCMessage *res;
    en_err_t err;
    if (!name || cli_call(cli, "Credentials", NULL, &req.base, &en__credentials_result__descriptor,
                          &res, &err))
        return false;
    En__CredentialsResult *found = (En__CredentialsResult *)res;
    bool exists = false;
    for (size_t i = 0; i < found->n_clouds && !exists; i++)
        for (size_t c = 0; c < found->clouds[i]->n_credentials && !exists; c++)
            exists = strcmp(found->clouds[i]->cloud_name, cloud) == 0 &&
                     strcmp(found->clouds[i]->credentials[c]->name, name) == 0;
    en__credentials_result__free_unpacked(found, NULL);
    return exists;
}

//  Juju's add-credential: the provider's FinalizeCredential runs on the
//  credential first, against the cloud's endpoints (its first region's when
//  it has regions, as Juju), and what it returns is stored. For lxd that
//  turns an `interactive` credential (trust password or token) into a
//  `certificate` one the server trusts; stored as given, it could never be
//  used. A provider the registry has no driver for (NOT_SUPPORTED) stores
//  the credential as given. A credential of that name already there
//  (without replace) is not finalized: finalizing can change the server
//  (lxd trusts a new certificate, spends a token), and AddCredential
//  refuses it anyway unless it is the same (then adding it is a no-op).
static int
s_send(cli_t *cli, const char *cloud, En__Credential *cred, bool replace, en_err_t *err)
{
    if (!replace && s_exists(cli, cloud, cred->name))
        return s_add(cli, cloud, cred, replace, err);
    En__CloudRequest creq = EN__CLOUD_REQUEST__INIT;
    creq.name = (char *)cloud;
    ProtobufCMessage *res;
    if (cli_call(cli, "Cloud", NULL, &creq.base, &en__cloud_result__descriptor, &res, err))
        return -1;
    En__CloudResult *found = (En__CloudResult *)res;
    const En__Cloud *c = found->cloud;
    En__FinalizeCredentialRequest freq = EN__FINALIZE_CREDENTIAL_REQUEST__INIT;
    freq.credential = cred;
    if (c) {
        const En__Region *first = c->n_regions ? c->regions[0] : NULL;
        freq.provider_type = c->type;
        freq.cloud_endpoint = first && *first->endpoint ? first->endpoint : c->endpoint;
        freq.cloud_identity_endpoint =
            first && *first->identity_endpoint ? first->identity_endpoint : c->identity_endpoint;
    }
    int rc = cli_call(cli, "FinalizeCredential", NULL, &freq.base,
                      &en__finalize_credential_result__descriptor, &res, err);
    en__cloud_result__free_unpacked(found, NULL);
    if (rc && err->kind == EN_NOT_SUPPORTED)
        return s_add(cli, cloud, cred, replace, err);
    if (rc)
        return -1;
    En__FinalizeCredentialResult *final = (En__FinalizeCredentialResult *)res;
    rc = final->credential ? s_add(cli, cloud, final->credential, replace, err)
                           : en_err_set(err, EN_INTERNAL, "FinalizeCredential returned nothing");
    en__finalize_credential_result__free_unpacked(final, NULL);
    return rc;
}

//  A credential as common/cloudfile.h holds it, converted at this edge.
static int
s_send_local(cli_t *cli, const char *cloud, const en_credential_t *c, bool replace, en_err_t *err)
{
    size_t n = c->attrs.count;
    En__Credential__AttributesEntry *entries = calloc(n + 1, sizeof *entries);
    En__Credential__AttributesEntry **list = calloc(n + 1, sizeof *list);
    for (size_t i = 0; i < n; i++) {
        en__credential__attributes_entry__init(&entries[i]);
        entries[i].key = c->attrs.items[i].key;
        entries[i].value = c->attrs.items[i].value;
        list[i] = &entries[i];
    }
    En__Credential cred = EN__CREDENTIAL__INIT;
    cred.name = c->name;
    cred.auth_type = c->auth_type;
    cred.n_attributes = n;
    cred.attributes = list;
    int rc = s_send(cli, cloud, &cred, replace, err);
    free(list);
    free(entries);
    return rc;
}

//  --------------------------------------------------------------------------
//  credentials [CLOUD]

//  credentials.yaml's shape: {cloud: {default-*, name: {auth-type, ...}}}.
static json_t *
s_cloud_credentials_view(const En__CloudCredentials *cc)
{
    json_t *view = json_object();
    cli_json_set_text(view, "default-credential", cc->default_credential);
    cli_json_set_text(view, "default-region", cc->default_region);
    for (size_t i = 0; i < cc->n_credentials; i++) {
        const En__Credential *c = cc->credentials[i];
        json_t *item = json_object();
        json_object_set_new(item, "auth-type", json_string(c->auth_type));
        for (size_t a = 0; a < c->n_attributes; a++)
            json_object_set_new(item, c->attributes[a]->key, json_string(c->attributes[a]->value));
        json_object_set_new(view, c->name, item);
    }
    return view;
}

static int
s_credentials(cli_t *cli, const cli_args_t *args)
{
    En__CredentialsRequest req = EN__CREDENTIALS_REQUEST__INIT;
    if (args->word_count)
        req.cloud_name = (char *)args->words[0];
    ProtobufCMessage *res;
    en_err_t err;
    if (cli_call(cli, "Credentials", NULL, &req.base, &en__credentials_result__descriptor, &res,
                 &err))
        return cli_fail(&err);
    En__CredentialsResult *result = (En__CredentialsResult *)res;
    json_t *clouds = json_object();
    cli_table_t *table = cli_table_new((const char *[]){"Cloud", "Credentials", NULL});
    for (size_t i = 0; i < result->n_clouds; i++) {
        const En__CloudCredentials *cc = result->clouds[i];
        if (cc->n_credentials == 0)
            continue;
        json_object_set_new(clouds, cc->cloud_name, s_cloud_credentials_view(cc));
        //  Juju marks the default credential with a star.
        char **names = calloc(cc->n_credentials, sizeof(char *));
        for (size_t c = 0; c < cc->n_credentials; c++) {
            const char *name = cc->credentials[c]->name;
            bool is_default = strcmp(name, cc->default_credential) == 0;
            if (asprintf(&names[c], "%s%s", name, is_default ? "*" : "") < 0)
                names[c] = NULL;
        }
        char *joined = cli_join(names, cc->n_credentials, ", ");
        cli_table_row(table, cc->cloud_name, joined);
        free(joined);
        for (size_t c = 0; c < cc->n_credentials; c++)
            free(names[c]);
        free(names);
    }
    en__credentials_result__free_unpacked(result, NULL);
    json_t *view = json_object();
    json_object_set_new(view, "credentials", clouds);
    return cli_print(cli, view, table, "No credentials to display.");
}

//  --------------------------------------------------------------------------
//  add-credential CLOUD (-f FILE | --name N --auth-type T [--attr K=V ...])

//  The whole file, or NULL with Go's wording `open <path>: <reason>`.
static char *
s_read_file(const char *path, size_t *len, en_err_t *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        en_err_set(err, EN_NOT_FOUND, "open %s: %s", path, strerror(errno));
        return NULL;
    }
    char *data = NULL;
    FILE *buf = open_memstream(&data, len);
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        fwrite(chunk, 1, n, buf);
    bool failed = ferror(f);
    fclose(f);
    fclose(buf);
    if (failed) {
        en_err_set(err, EN_NOT_VALID, "read %s: %s", path, strerror(errno));
        free(data);
        return NULL;
    }
    return data;
}

//  The file is read and checked whole (the project's credentials.yaml
//  reader, Juju's errors) before anything is sent.
static int
s_add_from_file(cli_t *cli, const char *cloud, const char *path, bool replace)
{
    en_err_t err;
    size_t len;
    char *data = s_read_file(path, &len, &err);
    if (!data)
        return cli_fail(&err);
    en_credentials_t *file = en_credentials_parse(data, len, &err);
    free(data);
    if (!file)
        return cli_fail(&err);
    const en_cloud_credentials_t *cc = en_credentials_find(file, cloud);
    int rc = CLI_EXIT_OK;
    if (!cc || cc->count == 0) {
        en_err_set(&err, EN_NOT_FOUND, "no credentials for cloud %s exist in file %s", cloud, path);
        rc = cli_fail(&err);
    }
    for (size_t i = 0; cc && i < cc->count; i++) {
        if (s_send_local(cli, cloud, cc->credentials[i], replace, &err))
            rc = cli_fail(&err);
        else
            printf("Credential \"%s\" added to cloud \"%s\".\n", cc->credentials[i]->name, cloud);
    }
    en_credentials_destroy(&file);
    return rc;
}

static int
s_add_credential(cli_t *cli, const cli_args_t *args)
{
    const char *cloud = args->words[0];
    const char *file = cli_args_value(args, CLI_OPT_FILE);
    const char *name = cli_args_value(args, CLI_OPT_NAME);
    const char *auth_type = cli_args_value(args, CLI_OPT_AUTH_TYPE);
    bool replace = cli_args_has(args, CLI_OPT_REPLACE);
    bool inline_form = name || auth_type || cli_args_has(args, CLI_OPT_ATTR);
    if (file && inline_form)
        return cli_usage("-f cannot be used with --name, --auth-type or --attr");
    if (file)
        return s_add_from_file(cli, cloud, file, replace);
    if (!name || !auth_type)
        return cli_usage("add-credential needs -f FILE, or --name and --auth-type");
    en_credential_t *cred = en_credential_new(name, auth_type);
    en_err_t err;
    int rc = CLI_EXIT_OK;
    for (size_t i = 0; i < args->value_count[CLI_OPT_ATTR] && rc == CLI_EXIT_OK; i++) {
        char *key;
        const char *value;
        if (cli_kv_split(args->values[CLI_OPT_ATTR][i], &key, &value, &err))
            rc = cli_usage("invalid --attr: %s", err.message);
        else {
            en_credential_set_attr(cred, key, value);
            free(key);
        }
    }
    if (rc == CLI_EXIT_OK && s_send_local(cli, cloud, cred, replace, &err))
        rc = cli_fail(&err);
    else if (rc == CLI_EXIT_OK)
        printf("Credential \"%s\" added to cloud \"%s\".\n", name, cloud);
    en_credential_destroy(&cred);
    return rc;
}

//  --------------------------------------------------------------------------
//  autoload-credentials [PROVIDER] [--cloud C] [--replace]

static bool
s_type_matches(const char *type, const En__ProviderInfo *info)
{
    if (strcmp(type, info->name) == 0)
        return true;
    for (size_t i = 0; i < info->n_aliases; i++)
        if (strcmp(type, info->aliases[i]) == 0)
            return true;
    return false;
}

//  Save what one provider detects to its clouds; counts what was found.
static int
s_autoload_provider(cli_t *cli, const cli_args_t *args, const En__ProviderInfo *info,
                    const En__CloudsResult *clouds, size_t *found)
{
    En__DetectCredentialsRequest req = EN__DETECT_CREDENTIALS_REQUEST__INIT;
    req.provider_type = info->name;
    ProtobufCMessage *res;
    en_err_t err;
    if (cli_call(cli, "DetectCredentials", NULL, &req.base,
                 &en__detect_credentials_result__descriptor, &res, &err)) {
        bool nothing = err.kind == EN_NOT_FOUND || err.kind == EN_NOT_SUPPORTED ||
                       err.kind == EN_NOT_IMPLEMENTED;
        return nothing ? CLI_EXIT_OK : cli_fail(&err);
    }
    En__DetectCredentialsResult *detected = (En__DetectCredentialsResult *)res;
    const char *only = cli_args_value(args, CLI_OPT_CLOUD);
    bool replace = cli_args_has(args, CLI_OPT_REPLACE);
    int rc = CLI_EXIT_OK;
    for (size_t i = 0; i < detected->n_credentials; i++) {
        En__Credential *cred = detected->credentials[i];
        char *label = NULL;
        if (*cred->label)
            label = strdup(cred->label);
        else if (asprintf(&label, "%s credential \"%s\"", info->name, cred->name) < 0)
            label = NULL;
        size_t saved_to = 0;
        (*found)++;
        for (size_t c = 0; c < clouds->n_clouds; c++) {
            const En__Cloud *cloud = clouds->clouds[c];
            if (!s_type_matches(cloud->type, info) || (only && strcmp(only, cloud->name) != 0))
                continue;
            saved_to++;
            if (s_send(cli, cloud->name, cred, replace, &err) == 0)
                printf("Saved %s to cloud %s\n", label, cloud->name);
            else if (err.kind == EN_ALREADY_EXISTS)
                fprintf(stderr, "%s already exists for cloud %s; use --replace to update it\n",
                        label, cloud->name);
            else
                rc = cli_fail(&err);
        }
        if (!saved_to && only)
            fprintf(stderr, "%s found, but cloud %s is not of type %s\n", label, only, info->name);
        else if (!saved_to)
            fprintf(stderr, "%s found, but there is no cloud of type %s to save it to\n", label,
                    info->name);
        free(label);
    }
    en__detect_credentials_result__free_unpacked(detected, NULL);
    return rc;
}

static int
s_autoload_credentials(cli_t *cli, const cli_args_t *args)
{
    ProtobufCMessage *res;
    en_err_t err;
    En__RegisteredProvidersResult *names = NULL;
    En__CloudsResult *clouds = NULL;
    int rc = CLI_EXIT_OK;
    En__RegisteredProvidersRequest rreq = EN__REGISTERED_PROVIDERS_REQUEST__INIT;
    En__CloudsRequest creq = EN__CLOUDS_REQUEST__INIT;
    if (!args->word_count) {
        if (cli_call(cli, "RegisteredProviders", NULL, &rreq.base,
                     &en__registered_providers_result__descriptor, &res, &err)) {
            rc = cli_fail(&err);
            goto cleanup;
        }
        names = (En__RegisteredProvidersResult *)res;
    }
    if (cli_call(cli, "Clouds", NULL, &creq.base, &en__clouds_result__descriptor, &res, &err)) {
        rc = cli_fail(&err);
        goto cleanup;
    }
    clouds = (En__CloudsResult *)res;
    size_t count = names ? names->n_names : 1, found = 0;
    for (size_t i = 0; i < count; i++) {
        En__ProviderRequest preq = EN__PROVIDER_REQUEST__INIT;
        preq.type = names ? names->names[i] : (char *)args->words[0];
        if (cli_call(cli, "Provider", NULL, &preq.base, &en__provider_result__descriptor, &res,
                     &err)) {
            rc = cli_fail(&err);
            continue;
        }
        En__ProviderResult *provider = (En__ProviderResult *)res;
        if (provider->provider &&
            s_autoload_provider(cli, args, provider->provider, clouds, &found) != CLI_EXIT_OK)
            rc = CLI_EXIT_FAILURE;
        en__provider_result__free_unpacked(provider, NULL);
    }
    if (!found && rc == CLI_EXIT_OK)
        fprintf(stderr, "No cloud credentials found.\n");
cleanup:
    if (names)
        en__registered_providers_result__free_unpacked(names, NULL);
    if (clouds)
        en__clouds_result__free_unpacked(clouds, NULL);
    return rc;
}

const cli_command_t cli_credential_commands[] = {
    {.name = "credentials",
     .handler = s_credentials,
     .usage = "[CLOUD]",
     .summary = "Lists the stored credentials (without secrets), of every cloud or of one.",
     .details = "The default credential of a cloud is marked with *.",
     .options = CLI_OPT(CLI_OPT_FORMAT),
     .max_words = 1},
    {.name = "add-credential",
     .handler = s_add_credential,
     .usage = "CLOUD (-f FILE | --name NAME --auth-type TYPE [--attr K=V ...])",
     .summary = "Adds credentials for a cloud.",
     .details = "With -f, adds every credential FILE holds for CLOUD. FILE has Juju's\n"
                "credentials.yaml format:\n\n"
                "    credentials:\n"
                "      aws:\n"
                "        bob:\n"
                "          auth-type: access-key\n"
                "          access-key: AKIA...\n"
                "          secret-key: ...\n\n"
                "Without -f, adds the one credential the options describe.\n"
                "An existing credential is replaced only with --replace.",
     .options = CLI_OPT(CLI_OPT_FILE) | CLI_OPT(CLI_OPT_REPLACE) | CLI_OPT(CLI_OPT_NAME) |
                CLI_OPT(CLI_OPT_AUTH_TYPE) | CLI_OPT(CLI_OPT_ATTR),
     .min_words = 1,
     .max_words = 1,
     .required = "CLOUD"},
    {.name = "autoload-credentials",
     .handler = s_autoload_credentials,
     .usage = "[PROVIDER]",
     .summary = "Finds credentials on this machine and saves them.",
     .details = "Asks each registered provider type (or only PROVIDER) to detect\n"
                "credentials, e.g. ~/.aws/credentials for ec2, and saves each one found\n"
                "to every cloud of that type, or only to --cloud. Credentials that\n"
                "already exist are kept unless --replace.",
     .options = CLI_OPT(CLI_OPT_CLOUD) | CLI_OPT(CLI_OPT_REPLACE),
     .max_words = 1},
    {.name = NULL},
};
