/*  commands_images.c — `images`, `metadata sources`, `metadata add-source`
    and `metadata remove-source`: the image metadata lookup of a model and
    the registry of simplestreams data sources it reads (Juju's
    imagemetadata.Fetch over environs.ImageMetadataSources, and
    Register/UnregisterImageDataSourceFunc).

    The registry is shared by every model (the calls carry no model); the
    source list and the lookup are the model's, since its config
    (image-metadata-url) and cloud (its own image source, region and
    endpoint) add to them. A source is checked here as far as can be done
    without the gateway: a file://, http:// or https:// URL, a numeric
    priority, and a --keyring file that can be read and is an armored
    public key. The key travels to the service; it is never printed, the
    views show only its size.

    `images` asks for one release (a version or a series, default the
    model's default-series) and arch (default amd64, Juju's). The first
    source with matching records answers; the table shows its images and
    --verbose says on stderr which sources were passed over and why, then
    where the answer was found. No match anywhere is the service's
    NOT_FOUND, printed unchanged. */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common/series.h"

#define CLI_SOURCE_PRIORITY_CUSTOM 50 // Juju's simplestreams.CUSTOM_CLOUD_DATA
#define CLI_IMAGES_DEFAULT_ARCH "amd64"
#define CLI_ARMORED_PUBLIC_KEY "-----BEGIN PGP PUBLIC KEY BLOCK-----"

//  --------------------------------------------------------------------------
//  Sources: views

json_t *
cli_image_sources_view(En__ImageDataSource *const *sources, size_t count)
{
    json_t *list = json_array();
    for (size_t i = 0; i < count; i++) {
        const En__ImageDataSource *s = sources[i];
        json_t *item = json_object();
        json_object_set_new(item, "id", json_string(s->id));
        json_object_set_new(item, "description", json_string(s->description));
        json_object_set_new(item, "url", json_string(s->url));
        json_object_set_new(item, "priority", json_integer(s->priority));
        json_object_set_new(item, "require-signed", json_boolean(s->require_signed));
        size_t keyring = strlen(s->keyring_armored);
        if (keyring)
            json_object_set_new(item, "keyring-bytes", json_integer((json_int_t)keyring));
        json_array_append_new(list, item);
    }
    json_t *view = json_object();
    json_object_set_new(view, "sources", list);
    return view;
}

cli_table_t *
cli_image_sources_table(En__ImageDataSource *const *sources, size_t count)
{
    cli_table_t *table =
        cli_table_new((const char *[]){"Id", "Description", "URL", "Priority", "Signed", NULL});
    cli_table_align_right(table, 3);
    for (size_t i = 0; i < count; i++) {
        const En__ImageDataSource *s = sources[i];
        char priority[16];
        snprintf(priority, sizeof priority, "%d", s->priority);
        cli_table_row(table, s->id, s->description, s->url, priority,
                      s->require_signed ? "required" : "optional");
    }
    return table;
}

//  --------------------------------------------------------------------------
//  Sources: metadata add-source's arguments

static bool
s_url_valid(const char *url)
{
    static const char *const schemes[] = {"file://", "http://", "https://", NULL};
    for (size_t i = 0; schemes[i]; i++) {
        size_t n = strlen(schemes[i]);
        if (strncmp(url, schemes[i], n) == 0 && url[n])
            return true;
    }
    return false;
}

char *
cli_keyring_read(const char *file, en_err_t *err)
{
    char *text = NULL;
    size_t len = 0;
    if (cli_read_file(file, &text, &len, err))
        return NULL;
    if (strlen(text) != len || !strstr(text, CLI_ARMORED_PUBLIC_KEY)) {
        free(text);
        en_err_set(err, EN_NOT_VALID,
                   "invalid keyring %s: expected an armored public key (" CLI_ARMORED_PUBLIC_KEY
                   ")",
                   file);
        return NULL;
    }
    return text;
}

int
cli_image_source_from_args(const cli_args_t *args, En__ImageDataSource *src, en_err_t *err)
{
    en__image_data_source__init(src);
    src->id = (char *)args->words[0];
    src->url = (char *)args->words[1];
    if (!*src->id)
        return en_err_set(err, EN_NOT_VALID, "invalid source id \"\"");
    if (!s_url_valid(src->url))
        return en_err_set(err, EN_NOT_VALID,
                          "invalid URL \"%s\": expected file://, http:// or https://", src->url);
    const char *description = cli_args_value(args, CLI_OPT_DESCRIPTION);
    src->description = (char *)(description && *description ? description : src->id);
    src->priority = CLI_SOURCE_PRIORITY_CUSTOM;
    const char *priority = cli_args_value(args, CLI_OPT_PRIORITY);
    if (priority) {
        char *end;
        errno = 0;
        long n = strtol(priority, &end, 10);
        if (errno || end == priority || *end || n < 0 || n > INT_MAX)
            return en_err_set(err, EN_NOT_VALID, "invalid value \"%s\" for option --priority",
                              priority);
        src->priority = (int32_t)n;
    }
    src->require_signed = cli_args_has(args, CLI_OPT_REQUIRE_SIGNED);
    src->kind = "images";
    return 0;
}

//  --------------------------------------------------------------------------
//  images: arguments

bool
cli_version_valid(const char *r)
{
    size_t a = strspn(r, "0123456789");
    if (!a || r[a] != '.')
        return false;
    size_t b = strspn(r + a + 1, "0123456789");
    return b && !r[a + 1 + b];
}

const char *
cli_release_arg(const char *value, en_err_t *err)
{
    if (cli_version_valid(value))
        return value;
    const char *version = en_series_version(value);
    if (version)
        return version;
    en_err_set(err, EN_NOT_VALID,
               "invalid value \"%s\" for option --release: expected a version (22.04) or a "
               "series (jammy)",
               value);
    return NULL;
}

const char *
cli_model_default_release(const En__Model *model, char *buf, size_t size)
{
    if (!model || !model->config || !*model->config->json)
        return NULL;
    json_t *config = json_loads(model->config->json, 0, NULL);
    const char *series = json_string_value(json_object_get(config, "default-series"));
    const char *base = json_string_value(json_object_get(config, "default-base"));
    const char *release = NULL;
    if (series && *series)
        release = cli_version_valid(series) ? series : en_series_version(series);
    else if (base && strncmp(base, "ubuntu@", 7) == 0 && cli_version_valid(base + 7))
        release = base + 7;
    if (release)
        snprintf(buf, size, "%s", release);
    json_decref(config);
    return release ? buf : NULL;
}

//  --------------------------------------------------------------------------
//  images: views

json_t *
cli_images_view(const En__FindImageMetadataResult *res)
{
    json_t *images = json_array();
    for (size_t i = 0; i < res->n_images; i++) {
        const En__ImageMetadata *im = res->images[i];
        json_t *item = json_object();
        json_object_set_new(item, "id", json_string(im->id));
        cli_json_set_text(item, "release", im->version);
        cli_json_set_text(item, "series", im->series);
        cli_json_set_text(item, "arch", im->arch);
        cli_json_set_text(item, "region", im->region_name);
        cli_json_set_text(item, "endpoint", im->endpoint);
        cli_json_set_text(item, "virt-type", im->virt_type);
        cli_json_set_text(item, "storage", im->storage);
        cli_json_set_text(item, "stream", im->stream);
        cli_json_set_text(item, "source", im->source);
        json_object_set_new(item, "priority", json_integer(im->priority));
        json_array_append_new(images, item);
    }
    json_t *view = json_object();
    json_object_set_new(view, "images", images);
    const En__ResolveInfo *ri = res->resolve_info;
    if (ri) {
        json_t *info = json_object();
        cli_json_set_text(info, "source", ri->source);
        json_object_set_new(info, "signed", json_boolean(ri->signed_));
        cli_json_set_text(info, "index-url", ri->index_url);
        cli_json_set_text(info, "mirror-url", ri->mirror_url);
        json_object_set_new(view, "resolve-info", info);
    }
    if (res->n_skipped) {
        json_t *skipped = json_array();
        for (size_t i = 0; i < res->n_skipped; i++) {
            json_t *item = json_object();
            json_object_set_new(item, "source", json_string(res->skipped[i]->source));
            const En__Error *e = res->skipped[i]->error;
            json_object_set_new(item, "error", json_string(e ? e->message : ""));
            json_array_append_new(skipped, item);
        }
        json_object_set_new(view, "skipped", skipped);
    }
    return view;
}

cli_table_t *
cli_images_table(const En__FindImageMetadataResult *res)
{
    cli_table_t *table = cli_table_new(
        (const char *[]){"Id", "Release", "Arch", "Region", "Virt", "Storage", "Source", NULL});
    const char *found = res->resolve_info ? res->resolve_info->source : "";
    for (size_t i = 0; i < res->n_images; i++) {
        const En__ImageMetadata *im = res->images[i];
        cli_table_row(table, im->id, im->version, im->arch, im->region_name, im->virt_type,
                      im->storage, *im->source ? im->source : found);
    }
    return table;
}

char *
cli_images_verbose(const En__FindImageMetadataResult *res)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f)
        return NULL;
    for (size_t i = 0; i < res->n_skipped; i++) {
        const En__Error *e = res->skipped[i]->error;
        fprintf(f, "Skipped %s: %s\n", res->skipped[i]->source, e ? e->message : "");
    }
    const En__ResolveInfo *ri = res->resolve_info;
    if (ri) {
        fprintf(f, "Found in %s (%s): %s", ri->source, ri->signed_ ? "signed" : "unsigned",
                ri->index_url);
        if (*ri->mirror_url)
            fprintf(f, " via mirror %s", ri->mirror_url);
        fputc('\n', f);
    }
    fclose(f);
    return text;
}

//  --------------------------------------------------------------------------
//  The commands

//  metadata sources [-m MODEL]
static int
s_sources(cli_t *cli, const cli_args_t *args)
{
    en_err_t err;
    En__ModelResult *model = cli_model_find(cli, args, &err);
    if (!model)
        return cli_fail(&err);
    En__ImageMetadataSourcesRequest req = EN__IMAGE_METADATA_SOURCES_REQUEST__INIT;
    ProtobufCMessage *out = NULL;
    int rc = cli_call(cli, "ImageMetadataSources", model->model->uuid, &req.base,
                      &en__image_metadata_sources_result__descriptor, &out, &err);
    en__model_result__free_unpacked(model, NULL);
    if (rc)
        return cli_fail(&err);
    En__ImageMetadataSourcesResult *res = (En__ImageMetadataSourcesResult *)out;
    rc = cli_print(cli, cli_image_sources_view(res->sources, res->n_sources),
                   cli_image_sources_table(res->sources, res->n_sources),
                   "No image metadata sources.");
    protobuf_c_message_free_unpacked(out, NULL);
    return rc;
}

//  metadata add-source ID URL [--description D] [--priority N]
//  [--require-signed] [--keyring FILE] [--user]
static int
s_add_source(cli_t *cli, const cli_args_t *args)
{
    en_err_t err;
    En__ImageDataSource src;
    if (cli_image_source_from_args(args, &src, &err))
        return cli_usage("%s", err.message);
    char *keyring = NULL;
    const char *file = cli_args_value(args, CLI_OPT_KEYRING);
    if (file && !(keyring = cli_keyring_read(file, &err)))
        return cli_fail(&err);
    if (keyring)
        src.keyring_armored = keyring;
    ProtobufCMessage *out = NULL;
    int rc;
    if (cli_args_has(args, CLI_OPT_USER)) {
        En__RegisterUserImageDataSourceRequest req =
            EN__REGISTER_USER_IMAGE_DATA_SOURCE_REQUEST__INIT;
        req.source = &src;
        rc = cli_call(cli, "RegisterUserImageDataSource", NULL, &req.base,
                      &en__register_user_image_data_source_result__descriptor, &out, &err);
    } else {
        En__RegisterImageDataSourceRequest req = EN__REGISTER_IMAGE_DATA_SOURCE_REQUEST__INIT;
        req.source = &src;
        rc = cli_call(cli, "RegisterImageDataSource", NULL, &req.base,
                      &en__register_image_data_source_result__descriptor, &out, &err);
    }
    free(keyring);
    if (out)
        protobuf_c_message_free_unpacked(out, NULL);
    return rc ? cli_fail(&err) : CLI_EXIT_OK;
}

//  metadata remove-source ID
static int
s_remove_source(cli_t *cli, const cli_args_t *args)
{
    en_err_t err;
    En__UnregisterImageDataSourceRequest req = EN__UNREGISTER_IMAGE_DATA_SOURCE_REQUEST__INIT;
    req.id = (char *)args->words[0];
    ProtobufCMessage *out = NULL;
    if (cli_call(cli, "UnregisterImageDataSource", NULL, &req.base,
                 &en__unregister_image_data_source_result__descriptor, &out, &err))
        return cli_fail(&err);
    protobuf_c_message_free_unpacked(out, NULL);
    return CLI_EXIT_OK;
}

//  Every value of a repeatable option, or `fallback` when none was given.
static char **
s_values(const cli_args_t *args, cli_opt_t opt, const char *fallback, size_t *count)
{
    *count = args->value_count[opt] ? args->value_count[opt] : 1;
    char **values = calloc(*count, sizeof *values);
    for (size_t i = 0; i < *count && values; i++)
        values[i] = (char *)(args->value_count[opt] ? args->values[opt][i] : fallback);
    return values;
}

//  images [--release R] [--arch A] [--region X] [--endpoint U] [--stream S]
//  [--virt-type V] [--storage S] [--verbose] [-m MODEL]
static int
s_images(cli_t *cli, const cli_args_t *args)
{
    en_err_t err;
    char default_release[32];
    char **releases = NULL, **arches = NULL;
    ProtobufCMessage *out = NULL;
    int rc = CLI_EXIT_FAILURE;
    for (size_t i = 0; i < args->value_count[CLI_OPT_RELEASE]; i++)
        if (!cli_release_arg(args->values[CLI_OPT_RELEASE][i], &err))
            return cli_usage("%s", err.message);
    En__ModelResult *model = cli_model_find(cli, args, &err);
    if (!model)
        return cli_fail(&err);
    En__ImageConstraint cons = EN__IMAGE_CONSTRAINT__INIT;
    const char *fallback =
        cli_model_default_release(model->model, default_release, sizeof default_release);
    if (!args->value_count[CLI_OPT_RELEASE] && !fallback) {
        rc = cli_usage("missing option: --release (model \"%s\" has no default-series)",
                       model->model->name);
        goto cleanup;
    }
    releases = s_values(args, CLI_OPT_RELEASE, fallback, &cons.n_releases);
    arches = s_values(args, CLI_OPT_ARCH, CLI_IMAGES_DEFAULT_ARCH, &cons.n_arches);
    if (!releases || !arches) {
        en_err_set(&err, EN_INTERNAL, "out of memory");
        cli_fail(&err);
        goto cleanup;
    }
    for (size_t i = 0; i < args->value_count[CLI_OPT_RELEASE]; i++)
        releases[i] = (char *)cli_release_arg(releases[i], &err); // checked above
    cons.releases = releases;
    cons.arches = arches;
    const char *stream = cli_args_value(args, CLI_OPT_STREAM);
    const char *region = cli_args_value(args, CLI_OPT_REGION);
    const char *endpoint = cli_args_value(args, CLI_OPT_ENDPOINT);
    cons.stream = (char *)(stream ? stream : "");
    cons.region = (char *)(region ? region : "");
    cons.endpoint = (char *)(endpoint ? endpoint : "");
    const char *virt = cli_args_value(args, CLI_OPT_VIRT_TYPE);
    const char *storage = cli_args_value(args, CLI_OPT_STORAGE);
    cons.virt_type = (char *)(virt ? virt : "");
    cons.root_store = (char *)(storage ? storage : "");
    En__FindImageMetadataRequest req = EN__FIND_IMAGE_METADATA_REQUEST__INIT;
    req.constraint = &cons;
    if (cli_call(cli, "FindImageMetadata", model->model->uuid, &req.base,
                 &en__find_image_metadata_result__descriptor, &out, &err)) {
        cli_fail(&err);
        goto cleanup;
    }
    En__FindImageMetadataResult *res = (En__FindImageMetadataResult *)out;
    rc = cli_print(cli, cli_images_view(res), cli_images_table(res), "No images to display.");
    if (cli_args_has(args, CLI_OPT_VERBOSE)) {
        char *lines = cli_images_verbose(res);
        if (lines)
            fputs(lines, stderr);
        free(lines);
    }
cleanup:
    if (out)
        protobuf_c_message_free_unpacked(out, NULL);
    free(releases);
    free(arches);
    en__model_result__free_unpacked(model, NULL);
    return rc;
}

const cli_command_t cli_image_commands[] = {
    {.name = "images",
     .handler = s_images,
     .summary = "Finds the images of a release and arch in a model's image metadata.",
     .details = "Asks the model's image metadata sources in order (`metadata sources`); the\n"
                "first with matching records answers. --release is a version (22.04) or a\n"
                "series (jammy), default the model's default-series; --arch defaults to\n"
                "amd64 (both may be repeated); --region and --endpoint to the model's\n"
                "cloud; --stream to released. --virt-type and --storage keep the images\n"
                "that name them (or name none). --verbose says on stderr which sources were\n"
                "skipped and why, and where the images were found. YAML and JSON:\n"
                "  images: [{id, release, series, arch, region, endpoint, virt-type, storage,\n"
                "            stream, source, priority}]\n"
                "  resolve-info: {source, signed, index-url, mirror-url}\n"
                "  skipped: [{source, error}]",
     .options = CLI_OPT(CLI_OPT_FORMAT) | CLI_OPT(CLI_OPT_MODEL) | CLI_OPT(CLI_OPT_RELEASE) |
                CLI_OPT(CLI_OPT_ARCH) | CLI_OPT(CLI_OPT_REGION) | CLI_OPT(CLI_OPT_ENDPOINT) |
                CLI_OPT(CLI_OPT_STREAM) | CLI_OPT(CLI_OPT_VIRT_TYPE) | CLI_OPT(CLI_OPT_STORAGE) |
                CLI_OPT(CLI_OPT_VERBOSE),
     .max_words = 0},
    {.name = "metadata sources",
     .handler = s_sources,
     .summary = "Lists a model's image metadata sources in lookup order.",
     .details = "The model's image-metadata-url, the registered sources (user ones\n"
                "first), the cloud's own, then the defaults. YAML and JSON:\n"
                "  sources: [{id, description, url, priority, require-signed,\n"
                "             keyring-bytes}]\n"
                "(a source's key is never printed, only its size).",
     .options = CLI_OPT(CLI_OPT_FORMAT) | CLI_OPT(CLI_OPT_MODEL),
     .max_words = 0},
    {.name = "metadata add-source",
     .handler = s_add_source,
     .usage = "ID URL",
     .summary = "Registers an image metadata source for every model.",
     .details = "URL is the base of a simplestreams tree (file://, http:// or https://), e.g.\n"
                "file://DIR/images as `metadata generate-image -d DIR` writes it. The\n"
                "source is appended, or with --user put before every other registered\n"
                "one; an existing ID is replaced in place. --keyring is a file of\n"
                "armored public keys the source's .sjson signatures are checked with;\n"
                "--require-signed refuses its unsigned .json metadata. --description\n"
                "(default ID) names the source in `images`.",
     .options = CLI_OPT(CLI_OPT_DESCRIPTION) | CLI_OPT(CLI_OPT_PRIORITY) |
                CLI_OPT(CLI_OPT_REQUIRE_SIGNED) | CLI_OPT(CLI_OPT_KEYRING) | CLI_OPT(CLI_OPT_USER),
     .min_words = 2,
     .max_words = 2,
     .required = "ID URL"},
    {.name = "metadata remove-source",
     .handler = s_remove_source,
     .usage = "ID",
     .summary = "Unregisters an image metadata source.",
     .min_words = 1,
     .max_words = 1,
     .required = "ID"},
    {.name = NULL},
};
