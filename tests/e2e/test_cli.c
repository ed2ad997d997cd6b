/*  e2e: a user's session through the `environs` CLI against the real
    gateway and registry processes on loopback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <czmq.h>
#include <jansson.h>
#include <sys/stat.h>

#include "harness.h"

static harness_t H;
static char CLI[1024];

static int
setup(void **state)
{
    (void) state;
    zsys_handler_set(NULL);
    if (harness_init(&H))
        return -1;
    snprintf(CLI, sizeof CLI, "%s", harness_bin("cli/environs"));
    harness_start(&H, "gateway", 0);
    harness_start(&H, "registry", 0);
    return harness_wait_service(&H, "registry", 20000);
}

static int
teardown(void **state)
{
    (void) state;
    return harness_fini(&H);
}

static int
cli(char **out, char **err, const char *args)
{
    return harness_run(&H, out, err, "%s %s", CLI, args);
}

static void
clouds_lists_sim_in_every_format(void **state)
{
    (void) state;
    char *out, *err;
    assert_int_equal(cli(&out, &err, "clouds"), 0);
    assert_non_null(strstr(out, "sim"));
    assert_non_null(strstr(out, "sim-east"));
    free(out);
    free(err);

    assert_int_equal(cli(&out, &err, "clouds --format json"), 0);
    json_error_t jerr;
    json_t *doc = json_loads(out, 0, &jerr);
    assert_non_null(doc);
    json_t *sim = json_object_get(doc, "sim");
    assert_non_null(sim);
    assert_string_equal(json_string_value(json_object_get(sim, "type")), "sim");
    json_decref(doc);
    free(out);
    free(err);

    assert_int_equal(cli(&out, &err, "clouds --format yaml"), 0);
    assert_non_null(strstr(out, "sim:"));
    free(out);
    free(err);
}

static void
regions_of_an_unknown_cloud_fail_with_juju_message(void **state)
{
    (void) state;
    char *out, *err;
    assert_int_equal(cli(&out, &err, "regions sim"), 0);
    assert_true(strstr(out, "sim-east") < strstr(out, "sim-west")); // first is the default
    free(out);
    free(err);
    assert_int_equal(cli(&out, &err, "regions nowhere"), 1);
    assert_string_equal(err, "ERROR cloud nowhere not found\n");
    free(out);
    free(err);
}

static void
autoload_then_add_credential_are_listed_without_secrets(void **state)
{
    (void) state;
    char *out, *err;
    assert_int_equal(cli(&out, &err, "autoload-credentials sim"), 0);
    free(out);
    free(err);
    assert_int_equal(cli(&out, &err,
                         "add-credential sim --name alice --auth-type userpass "
                         "--attr username=alice --attr password=s3cret"),
                     0);
    free(out);
    free(err);
    assert_int_equal(cli(&out, &err, "credentials sim --format yaml"), 0);
    assert_non_null(strstr(out, "alice"));
    assert_non_null(strstr(out, "default"));
    assert_null(strstr(out, "s3cret"));
    free(out);
    free(err);
    // Juju's file, mode 0600, holding the secret for the registry alone
    char path[400];
    snprintf(path, sizeof path, "%s/credentials.yaml", H.home);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    // a schema violation comes back as Juju's message
    assert_int_equal(cli(&out, &err,
                         "add-credential sim --name bob --auth-type userpass "
                         "--attr username=bob"),
                     1);
    assert_string_equal(err, "ERROR password: expected string, got nothing\n");
    free(out);
    free(err);
}

static void
add_model_and_model_config_round_trip(void **state)
{
    (void) state;
    char *out, *err;
    assert_int_equal(cli(&out, &err, "add-model m1 sim/sim-west --credential default "
                                      "--config default-series=noble"),
                     0);
    assert_non_null(strstr(out, "Added 'm1' model on sim/sim-west"));
    free(out);
    free(err);
    assert_int_equal(cli(&out, &err, "models --format json"), 0);
    assert_non_null(strstr(out, "m1"));
    free(out);
    free(err);
    assert_int_equal(cli(&out, &err, "model-config -m m1 firewall-mode"), 0);
    assert_string_equal(out, "instance\n");
    free(out);
    free(err);
    assert_int_equal(cli(&out, &err, "model-config -m m1 development=true"), 0);
    free(out);
    free(err);
    assert_int_equal(cli(&out, &err, "model-config -m m1 development"), 0);
    assert_string_equal(out, "true\n");
    free(out);
    free(err);
    // immutable
    assert_int_equal(cli(&out, &err, "model-config -m m1 firewall-mode=global"), 1);
    assert_string_equal(err,
                        "ERROR cannot change firewall-mode from \"instance\" to \"global\"\n");
    free(out);
    free(err);
    // a second model of the same name
    assert_int_equal(cli(&out, &err, "add-model m1 sim"), 1);
    assert_string_equal(err, "ERROR model \"admin/m1\" already exists\n");
    free(out);
    free(err);
    // an unknown region
    assert_int_equal(cli(&out, &err, "add-model m2 sim/mars"), 1);
    assert_non_null(strstr(err, "region \"mars\" not found"));
    free(out);
    free(err);
}

static void
show_model_reports_the_model(void **state)
{
    (void) state;
    char *out, *err;
    assert_int_equal(cli(&out, &err, "show-model -m m1 --format json"), 0);
    json_t *doc = json_loads(out, 0, NULL);
    assert_non_null(doc);
    json_t *m = json_object_get(doc, "m1");
    assert_non_null(m);
    assert_string_equal(json_string_value(json_object_get(m, "region")), "sim-west");
    json_decref(doc);
    free(out);
    free(err);
    assert_int_equal(cli(&out, &err, "show-model -m nope"), 1);
    assert_non_null(strstr(err, "ERROR model \"nope\" not found"));
    free(out);
    free(err);
}

static void
cli_reports_a_missing_gateway_and_usage_errors(void **state)
{
    (void) state;
    char *out, *err;
    int rc = harness_run(&H, &out, &err, "ENVIRONS_GATEWAY=tcp://127.0.0.1:1 %s --timeout 300 clouds",
                         CLI);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(err, "ERROR"));
    free(out);
    free(err);
    assert_int_equal(cli(&out, &err, "clouds --format xml"), 2);
    free(out);
    free(err);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(clouds_lists_sim_in_every_format),
        cmocka_unit_test(regions_of_an_unknown_cloud_fail_with_juju_message),
        cmocka_unit_test(autoload_then_add_credential_are_listed_without_secrets),
        cmocka_unit_test(add_model_and_model_config_round_trip),
        cmocka_unit_test(show_model_reports_the_model),
        cmocka_unit_test(cli_reports_a_missing_gateway_and_usage_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
