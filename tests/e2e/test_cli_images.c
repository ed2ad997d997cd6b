/*  e2e: image metadata through the `environs` CLI — `images` finding the
    sim cloud's own image, `metadata add-source` of a tree written by
    `metadata generate-image` that then answers first, a source that
    requires signatures skipped with --verbose, and `metadata
    remove-source` — against real gateway, registry, broker, firewaller
    and imagemeta processes on loopback and the sim cloud.

    The tests run in order and share one set of processes and one home:
    the first bootstraps controller c1 on sim/sim-east, whose "controller"
    model is the current one; the others register and remove sources
    (a registry shared by every model) and look images up. The sim
    publishes sim-img-<region>-<release>-<arch> for 20.04, 22.04 and 24.04
    as source "sim cloud images"; no source is registered at the start. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <cmocka.h>

#include <czmq.h>
#include <jansson.h>

#include "common/paths.h"
#include "harness.h"
#include "harness_must.h"

static harness_t H;
//  The endpoint the sim's images carry ("" when none): the custom image
//  is generated for the same cloud, so the lookup matches it.
static char ENDPOINT[512];

static int
setup(void **state)
{
    (void)state;
    setenv("ENVIRONS_RETRY_SCALE", "0.05", 1);
    zsys_handler_set(NULL);
    if (harness_init(&H))
        return -1;
    static const char *const services[] = {"registry", "broker", "firewaller", "imagemeta", NULL};
    if (harness_up(&H, services))
        return -1;
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    return harness_fini(&H);
}

//  What `environs <args>` prints on stdout; asserts exit 0 and a quiet
//  stderr. Caller frees.
static char *
s_ok(const char *args)
{
    return harness_must_ok(&H, true, "%s", args);
}

//  The command succeeds silently, as add-source and remove-source do.
static void
s_quiet(const char *args)
{
    char *out = s_ok(args);
    if (*out)
        fail_msg("environs %s: stdout \"%s\"", args, out);
    free(out);
}

//  The JSON `environs <args> --format json` prints. Caller json_decrefs.
static json_t *
s_json(const char *args)
{
    return harness_must_json(&H, true, args);
}

//  The command fails with exit `rc`, nothing on stdout and stderr starting
//  with `prefix`.
static void
s_fails(const char *args, int want_rc, const char *prefix)
{
    char *out, *err;
    int rc = harness_cli(&H, &out, &err, "%s", args);
    if (rc != want_rc || strncmp(err, prefix, strlen(prefix)) != 0)
        fail_msg("environs %s: exit %d, stderr \"%s\", wanted exit %d and \"%s...\"", args, rc, err,
                 want_rc, prefix);
    assert_string_equal(out, "");
    free(out);
    free(err);
}

static const char *
s_text(const json_t *object, const char *key)
{
    const char *text = json_string_value(json_object_get(object, key));
    if (!text)
        fail_msg("no text \"%s\" in %s", key, json_dumps(object, JSON_COMPACT));
    return text;
}

//  The images table of one image of release 22.04, amd64, sim-east, hvm,
//  ssd. Caller frees.
static char *
s_one_image_table(const char *id, const char *source)
{
    int w = (int)strlen(id);
    char *text = NULL;
    if (asprintf(&text,
                 "%-*s  Release  Arch   Region    Virt  Storage  Source\n"
                 "%-*s  22.04    amd64  sim-east  hvm   ssd      %s\n",
                 w, "Id", w, id, source) < 0)
        fail_msg("out of memory");
    return text;
}

//  The ids of `metadata sources`, joined by ",". Caller frees.
static char *
s_source_ids(void)
{
    json_t *doc = s_json("metadata sources");
    json_t *sources = json_object_get(doc, "sources");
    assert_true(json_is_array(sources));
    char *ids = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&ids, &size);
    size_t i;
    json_t *s;
    json_array_foreach(sources, i, s)
    {
        fprintf(f, "%s%s", i ? "," : "", s_text(s, "id"));
        assert_null(json_object_get(s, "keyring_armored")); // never the key itself
    }
    fclose(f);
    json_decref(doc);
    return ids;
}

//  --------------------------------------------------------------------------

static void
bootstrap(void **state)
{
    (void)state;
    char *out, *err;
    int rc = harness_cli(&H, &out, &err, "bootstrap sim/sim-east c1");
    if (rc != 0)
        fail_msg("bootstrap: exit %d, stderr \"%s\"", rc, err);
    free(out);
    free(err);
}

static void
images_finds_the_sims_own_image(void **state)
{
    (void)state;
    char *table = s_ok("images --release 22.04 --arch amd64");
    char *want = s_one_image_table("sim-img-sim-east-22.04-amd64", "sim cloud images");
    assert_string_equal(table, want);
    free(table);
    //  a series names the same release
    table = s_ok("images --release jammy --arch amd64");
    assert_string_equal(table, want);
    free(table);
    free(want);
    json_t *doc = s_json("images --release 22.04 --arch amd64");
    json_t *images = json_object_get(doc, "images");
    assert_int_equal(json_array_size(images), 1);
    json_t *im = json_array_get(images, 0);
    assert_string_equal(s_text(im, "id"), "sim-img-sim-east-22.04-amd64");
    assert_string_equal(s_text(im, "release"), "22.04");
    assert_string_equal(s_text(im, "source"), "sim cloud images");
    const char *endpoint = json_string_value(json_object_get(im, "endpoint"));
    snprintf(ENDPOINT, sizeof ENDPOINT, "%s", endpoint ? endpoint : "");
    json_t *info = json_object_get(doc, "resolve-info");
    assert_string_equal(s_text(info, "source"), "sim cloud images");
    assert_false(json_is_true(json_object_get(info, "signed")));
    assert_null(json_object_get(doc, "skipped"));
    json_decref(doc);
    //  --verbose: where it was found, on stderr
    char *out, *err;
    assert_int_equal(harness_cli(&H, &out, &err, "images --release 22.04 --arch amd64 --verbose"), 0);
    const char *found = "Found in sim cloud images (unsigned): file://";
    if (strncmp(err, found, strlen(found)) != 0 || !strstr(err, "/streams/v1/index.json\n"))
        fail_msg("--verbose stderr \"%s\"", err);
    assert_non_null(strstr(out, "sim-img-sim-east-22.04-amd64"));
    free(out);
    free(err);
}

static void
images_of_a_release_nobody_has_is_not_found(void **state)
{
    (void)state;
    s_fails("images --release 18.04 --arch amd64", 1, "ERROR no image metadata found for ");
    // the sim's images are hvm on ssd
    s_fails("images --release 22.04 --arch amd64 --virt-type pv", 1,
            "ERROR no image metadata found for release \"22.04\", arch \"amd64\", region "
            "\"sim-east\", virt-type \"pv\"");
    char *hvm = s_ok("images --release 22.04 --arch amd64 --virt-type hvm --storage ssd");
    assert_non_null(strstr(hvm, "sim-img-sim-east-22.04-amd64"));
    free(hvm);
    s_fails("images --release 22.4x", 2, "ERROR invalid value \"22.4x\" for option --release");
}

static void
add_source_rejects_bad_urls_and_keyrings(void **state)
{
    (void)state;
    s_fails("metadata add-source x ftp://example.com/images", 2,
            "ERROR invalid URL \"ftp://example.com/images\": expected file://, http:// or "
            "https://\n");
    char path[600];
    snprintf(path, sizeof path, "%s/not-a-key", H.home);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("not a key\n", f);
    fclose(f);
    char args[1024];
    snprintf(args, sizeof args, "metadata add-source x file:///tmp --keyring %s", path);
    s_fails(args, 1, "ERROR invalid keyring ");
    char *ids = s_source_ids();
    assert_null(strstr(ids, "x,")); // nothing was registered
    free(ids);
}

static void
a_registered_source_answers_before_the_clouds_own(void **state)
{
    (void)state;
    char args[2048];
    snprintf(args, sizeof args,
             "metadata generate-image -d %s/custom -i custom-img-1 --release 22.04 -a amd64 "
             "-r sim-east %s%s --virt-type hvm --storage ssd",
             H.home, *ENDPOINT ? "-u " : "", ENDPOINT);
    char *out = s_ok(args);
    free(out);
    snprintf(args, sizeof args,
             "metadata add-source custom file://%s/custom/images --description 'custom images'",
             H.home);
    s_quiet(args);
    char *ids = s_source_ids();
    if (strncmp(ids, "custom,sim", 10) != 0)
        fail_msg("sources %s", ids);
    free(ids);
    json_t *doc = s_json("metadata sources");
    json_t *custom = json_array_get(json_object_get(doc, "sources"), 0);
    assert_string_equal(s_text(custom, "description"), "custom images");
    assert_int_equal(json_integer_value(json_object_get(custom, "priority")), 50);
    assert_false(json_is_true(json_object_get(custom, "require-signed")));
    json_decref(doc);
    char *table = s_ok("images --release 22.04 --arch amd64");
    char *want = s_one_image_table("custom-img-1", "custom images");
    assert_string_equal(table, want);
    free(table);
    free(want);
    char *err;
    assert_int_equal(harness_cli(&H, &out, &err, "images --release 22.04 --arch amd64 --verbose"), 0);
    char found[1024];
    snprintf(found, sizeof found,
             "Found in custom images (unsigned): file://%s/custom/images/streams/v1/index.json\n",
             H.home);
    assert_string_equal(err, found);
    free(out);
    free(err);
}

static void
a_source_that_requires_signatures_is_skipped_with_why(void **state)
{
    (void)state;
    char args[2048];
    snprintf(args, sizeof args,
             "metadata add-source strict file://%s/custom/images --user --require-signed "
             "--description 'strict images'",
             H.home);
    s_quiet(args);
    char *ids = s_source_ids();
    if (strncmp(ids, "strict,custom,sim", 17) != 0) // --user: first
        fail_msg("sources %s", ids);
    free(ids);
    char *table = s_ok("metadata sources");
    assert_non_null(strstr(table, "strict images"));
    assert_non_null(strstr(table, "required"));
    free(table);
    char *out, *err;
    assert_int_equal(harness_cli(&H, &out, &err, "images --release 22.04 --arch amd64 --verbose"), 0);
    const char *skipped = "Skipped strict images: ";
    if (strncmp(err, skipped, strlen(skipped)) != 0 ||
        !strstr(err, "\nFound in custom images (unsigned): "))
        fail_msg("--verbose stderr \"%s\"", err);
    assert_non_null(strstr(out, "custom-img-1"));
    free(out);
    free(err);
    json_t *doc = s_json("images --release 22.04 --arch amd64");
    json_t *skip = json_array_get(json_object_get(doc, "skipped"), 0);
    assert_string_equal(s_text(skip, "source"), "strict images");
    assert_true(*s_text(skip, "error"));
    json_decref(doc);
    s_quiet("metadata remove-source strict");
}

//  A tree generate-image signed is read signed by a source that requires
//  signatures and trusts only the generating key; the registration
//  outlives the service process (SIGKILL, a new one on the same home).
static void
a_signed_generated_tree_is_read_signed_and_outlives_a_restart(void **state)
{
    (void)state;
    const char *shared = getenv("EN_SHARED_DIR");
    assert_non_null(shared);
    char args[4096];
    snprintf(args, sizeof args,
             "metadata generate-image -d %s/signed -i signed-img-1 --release 24.04 -a amd64 "
             "-r sim-east %s%s --sign-key %s/testdata/simplestreams/keys/juju-test-signing.sec.asc "
             "--passphrase 12345",
             H.home, *ENDPOINT ? "-u " : "", ENDPOINT, shared);
    free(s_ok(args));
    snprintf(args, sizeof args,
             "metadata add-source signed file://%s/signed/images --user --require-signed "
             "--keyring %s/testdata/simplestreams/keys/juju-test-signing.pub.asc "
             "--description 'signed images'",
             H.home, shared);
    s_quiet(args);
    for (int round = 0; round < 2; round++) {
        char *out, *err;
        assert_int_equal(harness_cli(&H, &out, &err, "images --release 24.04 --arch amd64 --verbose"), 0);
        if (!strstr(out, "signed-img-1") || !strstr(err, "Found in signed images (signed): "))
            fail_msg("round %d: \"%s\" \"%s\"", round, out, err);
        free(out);
        free(err);
        if (round == 1)
            break;
        // a new imagemeta process on the same home: the source is still there
        int i = 0;
        while (i < H.count && strcmp(H.names[i], "imagemeta") != 0)
            i++;
        assert_true(i < H.count);
        harness_kill(&H, i, SIGKILL);
        harness_wait(&H, i, 10000);
        harness_start(&H, "imagemeta", 1);
        assert_int_equal(harness_wait_service(&H, "imagemeta", 20000), 0);
        char *ids = s_source_ids();
        if (strncmp(ids, "signed,", 7) != 0)
            fail_msg("sources after the restart: %s", ids);
        free(ids);
    }
    s_quiet("metadata remove-source signed");
}

static void
remove_source_brings_back_the_clouds_own(void **state)
{
    (void)state;
    s_quiet("metadata remove-source custom");
    char *ids = s_source_ids();
    if (strncmp(ids, "sim", 3) != 0)
        fail_msg("sources %s", ids);
    free(ids);
    char *table = s_ok("images --release 22.04 --arch amd64");
    char *want = s_one_image_table("sim-img-sim-east-22.04-amd64", "sim cloud images");
    assert_string_equal(table, want);
    free(table);
    free(want);
    s_quiet("metadata remove-source custom"); // an unknown id is no error, as in Juju
}

//  A machine starts with the image the lookup found (its arch decides the
//  instance's), and a release no source has fails the start, naming
//  release, arch and region, before anything is made.
static void
machines_start_with_their_image_or_say_why_not(void **state)
{
    (void)state;
    char *out = NULL, *err = NULL;
    // like Juju, add-machine reports on stderr
    if (harness_cli(&H, &out, &err, "add-machine --constraints arch=arm64") != 0 ||
        !strstr(err, "created machine"))
        fail_msg("add-machine arch=arm64: \"%s\" \"%s\"", out, err);
    free(out);
    free(err);
    out = s_ok("machines --format json");
    assert_non_null(strstr(out, "arch=arm64"));
    free(out);
    s_quiet("model-config default-series=bionic");
    int rc = harness_cli(&H, &out, &err, "add-machine");
    const char *said = *err ? err : out;
    if (rc == 0 || !strstr(said, "no image metadata found for release \"18.04\"") ||
        !strstr(said, "region \"sim-east\""))
        fail_msg("add-machine with series bionic: exit %d, \"%s\" \"%s\"", rc, out, err);
    free(out);
    free(err);
    s_quiet("model-config default-series=jammy");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bootstrap),
        cmocka_unit_test(images_finds_the_sims_own_image),
        cmocka_unit_test(images_of_a_release_nobody_has_is_not_found),
        cmocka_unit_test(add_source_rejects_bad_urls_and_keyrings),
        cmocka_unit_test(a_registered_source_answers_before_the_clouds_own),
        cmocka_unit_test(a_source_that_requires_signatures_is_skipped_with_why),
        cmocka_unit_test(a_signed_generated_tree_is_read_signed_and_outlives_a_restart),
        cmocka_unit_test(remove_source_brings_back_the_clouds_own),
        cmocka_unit_test(machines_start_with_their_image_or_say_why_not),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
