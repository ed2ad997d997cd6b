/*  The image commands of the CLI without a gateway: `metadata sources`'
    table and views from a hand-built ImageMetadataSourcesResult (no key
    material shown), `metadata add-source`'s checks of its words and
    options and of a --keyring file, `images`' --release (version or
    series) and the model's default-series, and its table, views and
    --verbose lines from a hand-built FindImageMetadataResult. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cli/cli.h"

#define ARGC(a) ((int)(sizeof(a) / sizeof(a)[0]))

static const char s_key[] = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQENBF...\n"
                            "-----END PGP PUBLIC KEY BLOCK-----\n";

//  --------------------------------------------------------------------------
//  metadata sources

//  Three sources as a model sees them: a user one with a key, the cloud's
//  own, the default.
typedef struct {
    En__ImageDataSource v[3];
    En__ImageDataSource *p[3];
} sources_t;

static void
s_sources(sources_t *s)
{
    for (size_t i = 0; i < 3; i++) {
        en__image_data_source__init(&s->v[i]);
        s->p[i] = &s->v[i];
    }
    s->v[0].id = "mine";
    s->v[0].description = "my images";
    s->v[0].url = "file:///srv/meta/images";
    s->v[0].priority = 50;
    s->v[0].require_signed = true;
    s->v[0].keyring_armored = (char *)s_key;
    s->v[1].id = "sim";
    s->v[1].description = "sim cloud images";
    s->v[1].url = "file:///var/lib/sim/images";
    s->v[1].priority = 20;
    s->v[2].id = "default cloud images";
    s->v[2].description = "default ubuntu cloud images";
    s->v[2].url = "http://cloud-images.ubuntu.com/releases";
    s->v[2].priority = 10;
    s->v[2].require_signed = true;
}

static void
sources_table_in_lookup_order(void **state)
{
    (void)state;
    sources_t s;
    s_sources(&s);
    cli_table_t *table = cli_image_sources_table(s.p, 3);
    char *text = cli_table_render(table);
    assert_string_equal(text,
                        "Id                    Description                  URL                   "
                        "                   Priority  Signed\n"
                        "mine                  my images                    "
                        "file:///srv/meta/images                        50  required\n"
                        "sim                   sim cloud images             "
                        "file:///var/lib/sim/images                     20  optional\n"
                        "default cloud images  default ubuntu cloud images  "
                        "http://cloud-images.ubuntu.com/releases        10  required\n");
    free(text);
    cli_table_destroy(&table);
}

static void
sources_view_shows_the_keyring_size_not_the_key(void **state)
{
    (void)state;
    sources_t s;
    s_sources(&s);
    json_t *view = cli_image_sources_view(s.p, 2);
    char *json = cli_json_render(view);
    char want[1024];
    snprintf(want, sizeof want,
             "{\"sources\":[{\"description\":\"my images\",\"id\":\"mine\","
             "\"keyring-bytes\":%zu,\"priority\":50,\"require-signed\":true,"
             "\"url\":\"file:///srv/meta/images\"},{\"description\":\"sim cloud images\","
             "\"id\":\"sim\",\"priority\":20,\"require-signed\":false,"
             "\"url\":\"file:///var/lib/sim/images\"}]}\n",
             strlen(s_key));
    assert_string_equal(json, want);
    assert_null(strstr(json, "PGP"));
    free(json);
    char *yaml = cli_yaml_render(view);
    snprintf(want, sizeof want,
             "sources:\n"
             "- id: mine\n  description: my images\n  url: file:///srv/meta/images\n"
             "  priority: 50\n  require-signed: true\n  keyring-bytes: %zu\n"
             "- id: sim\n  description: sim cloud images\n  url: file:///var/lib/sim/images\n"
             "  priority: 20\n  require-signed: false\n",
             strlen(s_key));
    assert_string_equal(yaml, want);
    free(yaml);
    json_decref(view);
    view = cli_image_sources_view(NULL, 0);
    json = cli_json_render(view);
    assert_string_equal(json, "{\"sources\":[]}\n");
    free(json);
    json_decref(view);
}

//  --------------------------------------------------------------------------
//  metadata add-source

//  The command row's check of argv, then the source it describes; -1 with
//  err for a usage error either finds.
static int
s_add_source(int argc, char **argv, En__ImageDataSource *src, cli_args_t *args, en_err_t *err)
{
    assert_int_equal(cli_args_parse(argc, argv, args, err), 0);
    const cli_command_t *c = cli_command_find2(args->command, args->words[0]);
    assert_non_null(c);
    assert_string_equal(c->name, "metadata add-source");
    args->words++; // cli_main shifts the second word off
    args->word_count--;
    cli_t cli = {0};
    int rc = cli_args_check(args, c, &cli, err);
    if (rc == 0)
        rc = cli_image_source_from_args(args, src, err);
    args->words--;
    return rc;
}

static void
add_source_defaults_and_options(void **state)
{
    (void)state;
    cli_args_t args;
    en_err_t err;
    En__ImageDataSource src;
    char *plain[] = {"environs", "metadata", "add-source", "mine", "file:///srv/images"};
    assert_int_equal(s_add_source(ARGC(plain), plain, &src, &args, &err), 0);
    assert_string_equal(src.id, "mine");
    assert_string_equal(src.url, "file:///srv/images");
    assert_string_equal(src.description, "mine"); // default: the id
    assert_int_equal(src.priority, 50);
    assert_false(src.require_signed);
    assert_string_equal(src.keyring_armored, "");
    assert_string_equal(src.kind, "images");
    cli_args_clear(&args);
    char *full[] = {"environs",         "metadata",      "add-source", "m2",
                    "https://x/y",      "--description", "mirror two", "--priority=70",
                    "--require-signed", "--user",        "--keyring",  "/k.asc"};
    assert_int_equal(s_add_source(ARGC(full), full, &src, &args, &err), 0);
    assert_string_equal(src.description, "mirror two");
    assert_int_equal(src.priority, 70);
    assert_true(src.require_signed);
    assert_string_equal(src.keyring_armored, ""); // read by the handler, not here
    assert_true(cli_args_has(&args, CLI_OPT_USER));
    assert_string_equal(cli_args_value(&args, CLI_OPT_KEYRING), "/k.asc");
    cli_args_clear(&args);
}

static void
add_source_usage_errors(void **state)
{
    (void)state;
    static const struct {
        char *argv[6];
        const char *message;
    } cases[] = {
        {{"environs", "metadata", "add-source", "x", "ftp://h/p"},
         "invalid URL \"ftp://h/p\": expected file://, http:// or https://"},
        {{"environs", "metadata", "add-source", "x", "/srv/images"},
         "invalid URL \"/srv/images\": expected file://, http:// or https://"},
        {{"environs", "metadata", "add-source", "x", "file://"},
         "invalid URL \"file://\": expected file://, http:// or https://"},
        {{"environs", "metadata", "add-source", "x", "http://h", "--priority=high"},
         "invalid value \"high\" for option --priority"},
        {{"environs", "metadata", "add-source", "x", "http://h", "--priority=-1"},
         "invalid value \"-1\" for option --priority"},
        {{"environs", "metadata", "add-source", "x"}, "missing argument: ID URL"},
        {{"environs", "metadata", "add-source", "x", "http://h", "z"},
         "unrecognized args: [\"z\"]"},
        {{"environs", "metadata", "add-source", "x", "http://h", "--format=json"},
         "option provided but not defined: --format"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int argc = 0;
        while (argc < 6 && cases[i].argv[argc])
            argc++;
        cli_args_t args;
        en_err_t err;
        En__ImageDataSource src;
        assert_int_equal(s_add_source(argc, (char **)cases[i].argv, &src, &args, &err), -1);
        assert_int_equal(err.kind, EN_NOT_VALID);
        assert_string_equal(err.message, cases[i].message);
        cli_args_clear(&args);
    }
}

static void
keyring_must_be_a_readable_armored_key(void **state)
{
    (void)state;
    char path[] = "/tmp/environs-cliimg-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, s_key, strlen(s_key)), (ssize_t)strlen(s_key));
    en_err_t err;
    char *key = cli_keyring_read(path, &err);
    assert_non_null(key);
    assert_string_equal(key, s_key);
    free(key);
    assert_int_equal(ftruncate(fd, 0), 0);
    assert_int_equal(pwrite(fd, "\x99\x01\x0d", 3, 0), 3); // a binary key
    close(fd);
    assert_null(cli_keyring_read(path, &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    char want[256];
    snprintf(want, sizeof want,
             "invalid keyring %s: expected an armored public key "
             "(-----BEGIN PGP PUBLIC KEY BLOCK-----)",
             path);
    assert_string_equal(err.message, want);
    unlink(path);
    assert_null(cli_keyring_read(path, &err));
    assert_int_equal(err.kind, EN_NOT_FOUND);
    snprintf(want, sizeof want, "cannot read %s: No such file or directory", path);
    assert_string_equal(err.message, want);
}

static void
remove_source_and_sources_words(void **state)
{
    (void)state;
    cli_t cli = {0};
    en_err_t err;
    cli_args_t args;
    const cli_command_t *rm = cli_command_find2("metadata", "remove-source");
    assert_non_null(rm);
    assert_string_equal(rm->name, "metadata remove-source");
    char *none[] = {"environs", "metadata"};
    assert_int_equal(cli_args_parse(ARGC(none), none, &args, &err), 0);
    assert_int_equal(cli_args_check(&args, rm, &cli, &err), -1);
    assert_string_equal(err.message, "missing argument: ID");
    cli_args_clear(&args);
    const cli_command_t *ls = cli_command_find2("metadata", "sources");
    assert_non_null(ls);
    char *yaml[] = {"environs", "--format", "yaml", "-m", "c1:default"};
    assert_int_equal(cli_args_parse(ARGC(yaml), yaml, &args, &err), 0);
    assert_int_equal(cli_args_check(&args, ls, &cli, &err), 0);
    assert_int_equal(cli.format, CLI_FORMAT_YAML);
    cli_args_clear(&args);
}

//  --------------------------------------------------------------------------
//  images: arguments

static void
release_is_a_version_or_a_series(void **state)
{
    (void)state;
    en_err_t err;
    assert_string_equal(cli_release_arg("22.04", &err), "22.04");
    assert_string_equal(cli_release_arg("jammy", &err), "22.04");
    assert_string_equal(cli_release_arg("noble", &err), "24.04");
    assert_null(cli_release_arg("22", &err));
    assert_string_equal(err.message, "invalid value \"22\" for option --release: expected a "
                                     "version (22.04) or a series (jammy)");
    assert_null(cli_release_arg("ubuntu@22.04", &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
}

static void
default_release_is_the_models_default_series(void **state)
{
    (void)state;
    En__Model model = EN__MODEL__INIT;
    En__ConfigAttrs config = EN__CONFIG_ATTRS__INIT;
    model.config = &config;
    char buf[32];
    config.json = "{\"name\": \"m\", \"default-series\": \"jammy\"}";
    assert_string_equal(cli_model_default_release(&model, buf, sizeof buf), "22.04");
    config.json = "{\"default-base\": \"ubuntu@24.04\"}";
    assert_string_equal(cli_model_default_release(&model, buf, sizeof buf), "24.04");
    config.json = "{\"default-series\": \"\", \"default-base\": \"ubuntu@20.04\"}";
    assert_string_equal(cli_model_default_release(&model, buf, sizeof buf), "20.04");
    config.json = "{\"default-series\": \"warty\"}";
    assert_null(cli_model_default_release(&model, buf, sizeof buf));
    config.json = "{\"name\": \"m\"}";
    assert_null(cli_model_default_release(&model, buf, sizeof buf));
    model.config = NULL;
    assert_null(cli_model_default_release(&model, buf, sizeof buf));
}

static void
images_options(void **state)
{
    (void)state;
    const cli_command_t *c = cli_command_find("images");
    assert_non_null(c);
    cli_t cli = {0};
    en_err_t err;
    cli_args_t args;
    char *ok[] = {"environs", "images",   "--release", "jammy",     "-a",       "arm64", "-r",
                  "sim-east", "--stream", "daily",     "--verbose", "--format", "json"};
    assert_int_equal(cli_args_parse(ARGC(ok), ok, &args, &err), 0);
    assert_int_equal(cli_args_check(&args, c, &cli, &err), 0);
    assert_int_equal(cli.format, CLI_FORMAT_JSON);
    cli_args_clear(&args);
    char *bad[] = {"environs", "images", "--user"};
    assert_int_equal(cli_args_parse(ARGC(bad), bad, &args, &err), 0);
    assert_int_equal(cli_args_check(&args, c, &cli, &err), -1);
    assert_string_equal(err.message, "option provided but not defined: --user");
    cli_args_clear(&args);
}

//  --------------------------------------------------------------------------
//  images: views

//  Two images found in a custom source after the user source was skipped.
typedef struct {
    En__ImageMetadata im[2];
    En__ImageMetadata *images[2];
    En__ResolveInfo info;
    En__Error errors[2];
    En__SkippedSource sk[2];
    En__SkippedSource *skipped[2];
    En__FindImageMetadataResult res;
} found_t;

static void
s_found(found_t *f)
{
    en__find_image_metadata_result__init(&f->res);
    for (size_t i = 0; i < 2; i++) {
        en__image_metadata__init(&f->im[i]);
        f->images[i] = &f->im[i];
        en__error__init(&f->errors[i]);
        en__skipped_source__init(&f->sk[i]);
        f->sk[i].error = &f->errors[i];
        f->skipped[i] = &f->sk[i];
    }
    f->im[0].id = "custom-img-1";
    f->im[0].version = "22.04";
    f->im[0].series = "jammy";
    f->im[0].arch = "amd64";
    f->im[0].region_name = "sim-east";
    f->im[0].endpoint = "https://sim.example";
    f->im[0].virt_type = "hvm";
    f->im[0].storage = "ssd";
    f->im[0].stream = "released";
    f->im[0].priority = 50;
    f->im[0].source = "my images";
    f->im[1].id = "custom-img-2";
    f->im[1].version = "22.04";
    f->im[1].arch = "amd64";
    f->im[1].region_name = "sim-east";
    f->im[1].priority = 50; // no source: the table falls back to resolve-info's
    en__resolve_info__init(&f->info);
    f->info.source = "my images";
    f->info.index_url = "file:///srv/meta/images/streams/v1/index.json";
    f->res.n_images = 2;
    f->res.images = f->images;
    f->res.resolve_info = &f->info;
    f->sk[0].source = "user mirror";
    f->errors[0].kind = EN__ERROR_KIND__NOT_FOUND;
    f->errors[0].message = "cannot read index http://m/streams/v1/index.json: not found";
    f->sk[1].source = "signed only";
    f->errors[1].kind = EN__ERROR_KIND__NOT_VALID;
    f->errors[1].message = "signed only: bad signature";
    f->res.n_skipped = 2;
    f->res.skipped = f->skipped;
}

static void
images_table_one_image_a_row(void **state)
{
    (void)state;
    found_t f;
    s_found(&f);
    cli_table_t *table = cli_images_table(&f.res);
    char *text = cli_table_render(table);
    assert_string_equal(text, "Id            Release  Arch   Region    Virt  Storage  Source\n"
                              "custom-img-1  22.04    amd64  sim-east  hvm   ssd      my images\n"
                              "custom-img-2  22.04    amd64  sim-east                 my images\n");
    free(text);
    cli_table_destroy(&table);
}

static void
images_view_as_json_and_yaml(void **state)
{
    (void)state;
    found_t f;
    s_found(&f);
    f.res.n_images = 1;
    f.res.n_skipped = 1;
    json_t *view = cli_images_view(&f.res);
    char *json = cli_json_render(view);
    assert_string_equal(
        json, "{\"images\":[{\"arch\":\"amd64\",\"endpoint\":\"https://sim.example\","
              "\"id\":\"custom-img-1\",\"priority\":50,\"region\":\"sim-east\","
              "\"release\":\"22.04\",\"series\":\"jammy\",\"source\":\"my images\","
              "\"storage\":\"ssd\",\"stream\":\"released\",\"virt-type\":\"hvm\"}],"
              "\"resolve-info\":{\"index-url\":"
              "\"file:///srv/meta/images/streams/v1/index.json\",\"signed\":false,"
              "\"source\":\"my images\"},\"skipped\":[{\"error\":\"cannot read index "
              "http://m/streams/v1/index.json: not found\",\"source\":\"user mirror\"}]}\n");
    free(json);
    char *yaml = cli_yaml_render(view);
    assert_string_equal(yaml, "images:\n"
                              "- id: custom-img-1\n"
                              "  release: \"22.04\"\n"
                              "  series: jammy\n"
                              "  arch: amd64\n"
                              "  region: sim-east\n"
                              "  endpoint: https://sim.example\n"
                              "  virt-type: hvm\n"
                              "  storage: ssd\n"
                              "  stream: released\n"
                              "  source: my images\n"
                              "  priority: 50\n"
                              "resolve-info:\n"
                              "  source: my images\n"
                              "  signed: false\n"
                              "  index-url: file:///srv/meta/images/streams/v1/index.json\n"
                              "skipped:\n"
                              "- source: user mirror\n"
                              "  error: 'cannot read index http://m/streams/v1/index.json: not "
                              "found'\n");
    free(yaml);
    json_decref(view);
}

static void
verbose_lines_say_what_was_skipped_then_where_found(void **state)
{
    (void)state;
    found_t f;
    s_found(&f);
    char *text = cli_images_verbose(&f.res);
    assert_string_equal(text, "Skipped user mirror: cannot read index "
                              "http://m/streams/v1/index.json: not found\n"
                              "Skipped signed only: signed only: bad signature\n"
                              "Found in my images (unsigned): "
                              "file:///srv/meta/images/streams/v1/index.json\n");
    free(text);
    f.res.n_skipped = 0;
    f.info.signed_ = true;
    f.info.source = "sim cloud images";
    f.info.index_url = "file:///sim/streams/v1/index.sjson";
    f.info.mirror_url = "http://mirror.example/sim";
    text = cli_images_verbose(&f.res);
    assert_string_equal(text, "Found in sim cloud images (signed): "
                              "file:///sim/streams/v1/index.sjson via mirror "
                              "http://mirror.example/sim\n");
    free(text);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sources_table_in_lookup_order),
        cmocka_unit_test(sources_view_shows_the_keyring_size_not_the_key),
        cmocka_unit_test(add_source_defaults_and_options),
        cmocka_unit_test(add_source_usage_errors),
        cmocka_unit_test(keyring_must_be_a_readable_armored_key),
        cmocka_unit_test(remove_source_and_sources_words),
        cmocka_unit_test(release_is_a_version_or_a_series),
        cmocka_unit_test(default_release_is_the_models_default_series),
        cmocka_unit_test(images_options),
        cmocka_unit_test(images_table_one_image_a_row),
        cmocka_unit_test(images_view_as_json_and_yaml),
        cmocka_unit_test(verbose_lines_say_what_was_skipped_then_where_found),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
