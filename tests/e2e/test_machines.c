/*  e2e: a controller's life through the `environs` CLI — bootstrap on the
    sim cloud, add, list and remove machines, survive a broker and a
    gateway restart in the middle of add-machine, destroy and kill
    controllers — against real gateway, registry and broker processes on
    loopback.

    The tests run in order and share one set of processes and one home:
    each starts from what the previous ones left (controller c1 with its
    "default" model current). The sim cloud is <home>/sim/sim.db; the
    tests read it as the cloud's operator would, to count what really
    exists (a duplicate instance hides behind one machine id in the CLI's
    view), and turn its knobs for latency and failures. */
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
#include <signal.h>

#include "common/clock.h"
#include "common/paths.h"
#include "harness.h"
#include "providers/sim/sim_cloud.h"

static harness_t H;
static char CLI[1024];
static en_sim_cloud_t *SIM;
static int GATEWAY, BROKER; // harness indexes, for restarts
static char C1_UUID[64];    // controller c1, bootstrapped by the first test

static int
setup(void **state)
{
    (void)state;
    setenv("ENVIRONS_RETRY_SCALE", "0.05", 1);
    zsys_handler_set(NULL);
    if (harness_init(&H))
        return -1;
    snprintf(CLI, sizeof CLI, "%s", harness_bin("cli/environs"));
    GATEWAY = harness_start(&H, "gateway", 0);
    harness_start(&H, "registry", 0);
    BROKER = harness_start(&H, "broker", 0);
    harness_start(&H, "firewaller", 0); // each start's groups first
    harness_start(&H, "imagemeta", 0); // the images of each start
    if (harness_wait_service(&H, "registry", 20000) || harness_wait_service(&H, "broker", 20000) ||
        harness_wait_service(&H, "firewaller", 20000) ||
        harness_wait_service(&H, "imagemeta", 20000))
        return -1;
    char path[512];
    snprintf(path, sizeof path, "%s/sim", H.home);
    en_mkdirs(path, 0700);
    snprintf(path, sizeof path, "%s/sim/sim.db", H.home);
    en_err_t err;
    SIM = en_sim_cloud_open(path, &err);
    return SIM ? 0 : -1;
}

static int
teardown(void **state)
{
    (void)state;
    en_sim_cloud_close(&SIM);
    return harness_fini(&H);
}

//  The CLI's JSON output of `args` (asserts exit 0).
static json_t *
cli_json(const char *args)
{
    char *out, *err;
    int rc = harness_cli(&H, &out, &err, "%s --format json", args);
    if (rc != 0)
        fail_msg("environs %s: exit %d: %s", args, rc, err);
    json_t *doc = json_loads(out, 0, NULL);
    if (!doc)
        fail_msg("environs %s: not JSON: %s", args, out);
    free(out);
    free(err);
    return doc;
}

//  A file of the home, "" when there is none.
static char *
s_home_file(const char *name)
{
    char *text;
    harness_run(&H, &text, NULL, "cat %s/%s 2>/dev/null", H.home, name);
    return text;
}

//  Live instances of the sim region carrying tag key=value.
static size_t
s_live(const char *region, const char *key, const char *value)
{
    en_sim_tag_t filter = {key, value};
    en_sim_instance_t *list = NULL;
    size_t count = 0;
    en_err_t err;
    if (en_sim_cloud_list(SIM, region, &filter, 1, false, &list, &count, &err))
        fail_msg("sim list: %s", err.message);
    en_sim_instances_free(&list, count);
    return count;
}

static char *
s_model_uuid(const char *model)
{
    char args[256];
    snprintf(args, sizeof args, "show-model -m %s", model);
    json_t *doc = cli_json(args);
    const char *name = strchr(model, ':') ? strchr(model, ':') + 1 : model;
    const char *uuid = json_string_value(json_object_get(json_object_get(doc, name), "model-uuid"));
    assert_non_null(uuid);
    char *copy = strdup(uuid);
    json_decref(doc);
    return copy;
}

static json_t *
s_machines(const char *model)
{
    char args[256];
    snprintf(args, sizeof args, "machines%s%s", model ? " -m " : "", model ? model : "");
    json_t *doc = cli_json(args);
    json_t *machines = json_incref(json_object_get(doc, "machines"));
    json_decref(doc);
    assert_true(json_is_object(machines));
    return machines;
}

//  --------------------------------------------------------------------------
//  bootstrap

static void
bootstrap_on_sim_shows_progress_and_records_the_controller(void **state)
{
    (void)state;
    char *out, *err;
    assert_int_equal(harness_cli(&H, &out, &err, "bootstrap sim/sim-east c1"), 0);
    //  Juju's first line, then the service's progress, then Juju's last
    const char *lines[] = {
        "Creating Juju controller \"c1\" on sim/sim-east\n",
        "Launching controller instance(s) on sim/sim-east...\n",
        "\n - i-",
        "Waiting for address\n",
        "Attempting to connect to ",
        "Bootstrap complete, controller \"c1\" is now available\n",
        "Controller machines are in the \"controller\" model\n",
        "Initial model \"default\" added\n",
    };
    const char *at = err;
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        const char *found = strstr(at, lines[i]);
        if (!found)
            fail_msg("no \"%s\" after the earlier lines in:\n%s", lines[i], err);
        at = found;
    }
    assert_int_equal(strncmp(err, lines[0], strlen(lines[0])), 0);
    free(out);
    free(err);

    //  Juju's controllers.yaml, with the API endpoints
    char *yaml = s_home_file("controllers.yaml");
    assert_non_null(strstr(yaml, "c1:"));
    assert_non_null(strstr(yaml, "api-endpoints:"));
    free(yaml);
    json_t *doc = cli_json("controllers");
    json_t *c1 = json_object_get(json_object_get(doc, "controllers"), "c1");
    assert_non_null(c1);
    json_t *endpoints = json_object_get(c1, "api-endpoints");
    assert_true(json_array_size(endpoints) >= 1);
    assert_non_null(strchr(json_string_value(json_array_get(endpoints, 0)), ':'));
    snprintf(C1_UUID, sizeof C1_UUID, "%s", json_string_value(json_object_get(c1, "uuid")));
    assert_string_equal(json_string_value(json_object_get(c1, "current-model")), "default");
    json_decref(doc);

    //  the controller and its hosted model are current
    char *current = s_home_file("current-controller");
    assert_string_equal(current, "c1\n");
    free(current);
    current = s_home_file("current-model");
    assert_string_equal(current, "default\n");
    free(current);

    //  the controller machine is machine 0 of the controller model
    json_t *machines = s_machines("c1:controller");
    assert_int_equal(json_object_size(machines), 1);
    assert_non_null(json_object_get(machines, "0"));
    json_decref(machines);
    assert_int_equal(s_live("sim-east", "juju-controller-uuid", C1_UUID), 1);
}

static void
bootstrap_of_a_known_name_fails_before_anything_starts(void **state)
{
    (void)state;
    char *out, *err;
    assert_int_equal(harness_cli(&H, &out, &err, "bootstrap sim c1"), 1);
    assert_string_equal(err, "ERROR controller \"c1\" already exists\n");
    free(out);
    free(err);
    assert_int_equal(s_live("sim-east", "juju-controller-uuid", C1_UUID), 1);
}

//  --------------------------------------------------------------------------
//  add-machine, machines, remove-machine

static void
add_machine_n3_starts_three_machines(void **state)
{
    (void)state;
    char *out, *err;
    assert_int_equal(harness_cli(&H, &out, &err, "add-machine -n 3"), 0);
    assert_non_null(strstr(err, "created machine 0\n"));
    assert_non_null(strstr(err, "created machine 1\n"));
    assert_non_null(strstr(err, "created machine 2\n"));
    free(out);
    free(err);
    char *uuid = s_model_uuid("default");
    assert_int_equal(s_live("sim-east", "juju-model-uuid", uuid), 3);
    free(uuid);
}

static void
machines_json_has_juju_status_shape(void **state)
{
    (void)state;
    json_t *doc = cli_json("machines");
    json_t *model = json_object_get(doc, "model");
    assert_string_equal(json_string_value(json_object_get(model, "name")), "default");
    assert_string_equal(json_string_value(json_object_get(model, "cloud")), "sim");
    assert_string_equal(json_string_value(json_object_get(model, "region")), "sim-east");
    json_t *machines = json_object_get(doc, "machines");
    assert_int_equal(json_object_size(machines), 3);
    const char *seen[3] = {NULL};
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof id, "%d", i);
        json_t *m = json_object_get(machines, id);
        assert_non_null(m);
        const char *inst = json_string_value(json_object_get(m, "instance-id"));
        assert_non_null(inst);
        assert_int_equal(strncmp(inst, "i-", 2), 0);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(seen[j], inst);
        seen[i] = inst;
        json_t *status = json_object_get(m, "machine-status");
        assert_string_equal(json_string_value(json_object_get(status, "current")), "running");
        assert_true(json_array_size(json_object_get(m, "ip-addresses")) >= 1);
        const char *zone = json_string_value(json_object_get(m, "availability-zone"));
        assert_non_null(zone);
        assert_int_equal(strncmp(zone, "sim-east-", 9), 0);
        const char *hw = json_string_value(json_object_get(m, "hardware"));
        assert_non_null(hw);
        assert_int_equal(strncmp(hw, "arch=", 5), 0);
        assert_non_null(strstr(hw, " mem="));
        char az[64];
        snprintf(az, sizeof az, " availability-zone=%s", zone);
        assert_non_null(strstr(hw, az));
    }
    json_decref(doc);

    char *out, *err;
    assert_int_equal(harness_cli(&H, &out, &err, "machines"), 0);
    assert_int_equal(strncmp(out, "Machine  State    Address", 25), 0);
    const char *row0 = strstr(out, "\n0 "), *row1 = strstr(out, "\n1 "),
               *row2 = strstr(out, "\n2 ");
    assert_true(row0 && row1 && row2 && row0 < row1 && row1 < row2);
    free(out);
    free(err);
    assert_int_equal(harness_cli(&H, &out, &err, "machines --format yaml"), 0);
    assert_non_null(strstr(out, "machines:\n  \"0\":\n    instance-id: i-"));
    free(out);
    free(err);
}

static void
add_machine_to_a_zone_starts_it_there(void **state)
{
    (void)state;
    char *out, *err;
    assert_int_equal(harness_cli(&H, &out, &err, "add-machine --to zone=sim-east-c --constraints cores=2"), 0);
    assert_string_equal(err, "created machine 3\n");
    free(out);
    free(err);
    json_t *machines = s_machines(NULL);
    json_t *m = json_object_get(machines, "3");
    assert_string_equal(json_string_value(json_object_get(m, "availability-zone")), "sim-east-c");
    assert_non_null(strstr(json_string_value(json_object_get(m, "hardware")), "cores=2"));
    json_decref(machines);
    //  a zone the region does not have: the machine fails, the command too
    assert_int_equal(harness_cli(&H, &out, &err, "add-machine --to zone=mars"), 1);
    assert_non_null(strstr(err, "failed to create machine 4: "));
    free(out);
    free(err);
}

static void
remove_machine_removes_known_and_reports_unknown(void **state)
{
    (void)state;
    char *out, *err;
    assert_int_equal(harness_cli(&H, &out, &err, "remove-machine 1 99"), 1);
    assert_string_equal(err, "removing machine 1\nERROR machine 99 not found\n");
    free(out);
    free(err);
    json_t *machines = s_machines(NULL);
    assert_null(json_object_get(machines, "1"));
    assert_non_null(json_object_get(machines, "0"));
    assert_non_null(json_object_get(machines, "2"));
    assert_non_null(json_object_get(machines, "3"));
    json_decref(machines);
}

//  --------------------------------------------------------------------------
//  add-machine through restarts

//  Run the CLI in the background as harness process `name` (its output
//  goes to <home>/<name>-0.log); returns its harness index.
static int
s_cli_start(const char *name, char *const argv[])
{
    setenv("ENVIRONS_GATEWAY", H.endpoint, 1);
    setenv("ENVIRONS_HOME", H.home, 1);
    int i = harness_spawn(&H, name, 0, argv);
    unsetenv("ENVIRONS_GATEWAY");
    unsetenv("ENVIRONS_HOME");
    return i;
}

//  Poll the cloud until a create is in flight (latency keeps it there).
static void
s_wait_create_in_flight(void)
{
    int64_t until = en_mono_ms() + 20000;
    while (en_mono_ms() < until) {
        int now = 0, peak = 0;
        en_err_t err;
        assert_int_equal(en_sim_cloud_in_flight(SIM, &now, &peak, &err), 0);
        if (now > 0)
            return;
        zclock_sleep(5);
    }
    fail_msg("no create in flight after 20 s");
}

//  Kill process `which` mid-call and start it again; add-machine still
//  makes exactly its two machines: the session resends with the same
//  request id and the services answer it once (the nonce adopts what the
//  first attempt started).
static void
s_add_two_through_a_restart(int *which, const char *name, const char *service)
{
    en_err_t err;
    char *uuid = s_model_uuid("default");
    size_t before = s_live("sim-east", "juju-model-uuid", uuid);
    assert_int_equal(
        en_sim_cloud_configure_json(SIM, "{\"latency_ms\": 1500, \"max_concurrent\": 100}", &err),
        0);
    char log[64];
    snprintf(log, sizeof log, "add-machine-through-%s", name);
    char *argv[] = {CLI, "add-machine", "-n", "2", NULL};
    int added = s_cli_start(log, argv);
    s_wait_create_in_flight();
    harness_kill(&H, *which, SIGKILL);
    *which = harness_start(&H, name, 0);
    assert_int_equal(harness_wait_service(&H, service, 20000), 0);
    int status = harness_wait(&H, added, 120000);
    strncat(log, "-0.log", sizeof log - strlen(log) - 1);
    char *text = s_home_file(log);
    if (status != 0)
        fail_msg("add-machine through a %s restart: status %d: %s", name, status, text);
    assert_int_equal(
        en_sim_cloud_configure_json(SIM, "{\"latency_ms\": 0, \"max_concurrent\": 0}", &err), 0);
    size_t created = 0;
    for (const char *p = text; (p = strstr(p, "created machine ")); p++)
        created++;
    assert_int_equal(created, 2);
    assert_int_equal(s_live("sim-east", "juju-model-uuid", uuid), before + 2);
    json_t *machines = s_machines(NULL);
    assert_int_equal(json_object_size(machines), before + 2);
    json_decref(machines);
    free(text);
    free(uuid);
}

static void
add_machine_survives_a_broker_restart(void **state)
{
    (void)state;
    s_add_two_through_a_restart(&BROKER, "broker", "broker");
}

static void
add_machine_survives_a_gateway_restart(void **state)
{
    (void)state;
    s_add_two_through_a_restart(&GATEWAY, "gateway", "broker");
}

//  --------------------------------------------------------------------------
//  Failed bootstraps, destroy-controller, kill-controller

static bool
s_controller_known(const char *name)
{
    json_t *doc = cli_json("controllers");
    bool known = json_object_get(json_object_get(doc, "controllers"), name) != NULL;
    json_decref(doc);
    return known;
}

static void
failed_bootstrap_is_forgotten_unless_keep_broken(void **state)
{
    (void)state;
    en_err_t err;
    assert_int_equal(en_sim_cloud_knob_set(SIM, "fail.create", "INTERNAL no capacity", &err), 0);
    char *out, *text;
    assert_int_equal(harness_cli(&H, &out, &text, "bootstrap sim/sim-west broken"), 1);
    assert_non_null(strstr(text, "ERROR "));
    assert_null(strstr(text, "--keep-broken"));
    free(out);
    free(text);
    assert_false(s_controller_known("broken"));
    assert_int_equal(harness_cli(&H, &out, &text, "bootstrap sim/sim-west broken --keep-broken"), 1);
    assert_non_null(strstr(text, "bootstrap failed but --keep-broken was specified so resources "
                                 "are not being destroyed.\nERROR "));
    free(out);
    free(text);
    assert_true(s_controller_known("broken"));
    assert_int_equal(en_sim_cloud_knob_set(SIM, "fail.create", NULL, &err), 0);
    assert_int_equal(harness_cli(&H, &out, &text, "kill-controller broken"), 0);
    free(out);
    free(text);
    assert_false(s_controller_known("broken"));
    //  a failed bootstrap changes nothing current
    char *current = s_home_file("current-controller");
    assert_string_equal(current, "c1\n");
    free(current);
}

static void
destroy_controller_refuses_live_models_then_destroys_all(void **state)
{
    (void)state;
    char *out, *err;
    assert_int_equal(harness_cli(&H, &out, &err, "destroy-controller c1"), 1);
    assert_non_null(strstr(err, "ERROR cannot destroy controller \"c1\"\n\n"
                                "The controller has live models. If you want\n"
                                "to destroy all models in the controller,\n"
                                "run this command again with the --destroy-all-models\n"
                                "option.\n\nModels:\n\tadmin/default (alive), "));
    free(out);
    free(err);
    assert_true(s_controller_known("c1"));
    assert_int_equal(harness_cli(&H, &out, &err, "destroy-controller c1 --destroy-all-models"), 0);
    assert_non_null(strstr(err, "Destroying controller \"c1\"\n"));
    free(out);
    free(err);
    assert_false(s_controller_known("c1"));
    assert_int_equal(s_live("sim-east", "juju-controller-uuid", C1_UUID), 0);
    char *current = s_home_file("current-controller");
    assert_string_equal(current, "");
    free(current);
}

static void
kill_controller_removes_a_controller_and_its_machines(void **state)
{
    (void)state;
    char *out, *err;
    assert_int_equal(harness_cli(&H, &out, &err, "bootstrap sim/sim-west c2"), 0);
    free(out);
    free(err);
    assert_int_equal(harness_cli(&H, &out, &err, "add-machine -n 2"), 0);
    free(out);
    free(err);
    json_t *doc = cli_json("controllers");
    const char *uuid = json_string_value(
        json_object_get(json_object_get(json_object_get(doc, "controllers"), "c2"), "uuid"));
    assert_non_null(uuid);
    char c2[64];
    snprintf(c2, sizeof c2, "%s", uuid);
    json_decref(doc);
    assert_int_equal(s_live("sim-west", "juju-controller-uuid", c2), 3);

    //  Two controllers, two models "default": the current controller (c3
    //  now) tells them apart, CONTROLLER:MODEL names either.
    assert_int_equal(harness_cli(&H, &out, &err, "bootstrap sim/sim-west c3"), 0);
    free(out);
    free(err);
    json_t *machines = s_machines(NULL);
    assert_int_equal(json_object_size(machines), 0);
    json_decref(machines);
    machines = s_machines("c2:default");
    assert_int_equal(json_object_size(machines), 2);
    json_decref(machines);
    assert_int_equal(harness_cli(&H, &out, &err, "machines"), 0);
    assert_string_equal(err, "No machines to display.\n");
    free(out);
    free(err);

    assert_int_equal(harness_cli(&H, &out, &err, "kill-controller c2"), 0);
    assert_non_null(strstr(err, "Destroying controller \"c2\"\n"));
    free(out);
    free(err);
    assert_false(s_controller_known("c2"));
    assert_int_equal(s_live("sim-west", "juju-controller-uuid", c2), 0);
    assert_int_equal(harness_cli(&H, &out, &err, "kill-controller c3"), 0);
    free(out);
    free(err);
    assert_false(s_controller_known("c3"));
    assert_int_equal(s_live("sim-west", "juju-machine-id", NULL), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bootstrap_on_sim_shows_progress_and_records_the_controller),
        cmocka_unit_test(bootstrap_of_a_known_name_fails_before_anything_starts),
        cmocka_unit_test(add_machine_n3_starts_three_machines),
        cmocka_unit_test(machines_json_has_juju_status_shape),
        cmocka_unit_test(add_machine_to_a_zone_starts_it_there),
        cmocka_unit_test(remove_machine_removes_known_and_reports_unknown),
        cmocka_unit_test(add_machine_survives_a_broker_restart),
        cmocka_unit_test(add_machine_survives_a_gateway_restart),
        cmocka_unit_test(failed_bootstrap_is_forgotten_unless_keep_broken),
        cmocka_unit_test(destroy_controller_refuses_live_models_then_destroys_all),
        cmocka_unit_test(kill_controller_removes_a_controller_and_its_machines),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
