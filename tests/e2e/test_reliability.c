/*  e2e reliability: `add-machine -n 300` through the CLI while one of two
    broker replicas is SIGKILLed every few seconds and started again.

    What must hold afterwards (issue 3): every machine the CLI reports as
    created has exactly one live instance in the cloud, no instance exists
    that the CLI does not show (nothing leaked, no duplicate for a machine),
    and every machine that was not created is reported with a clear error.

    The kills are the fault schedule, not synchronisation: the test waits on
    the CLI process itself (harness_wait polls its pidfd) and kills a
    broker whenever that wait times out. */
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
#include <sys/wait.h>

#include "bus/mdp.h"
#include "common/paths.h"
#include "environ.pb-c.h"
#include "harness.h"
#include "providers/sim/sim_cloud.h"

#define MACHINES 300
#define KILL_EVERY_MS 2500

static harness_t H;
static char CLI[1024];
static int brokers[2];

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
    brokers[0] = harness_start(&H, "broker", 0);
    brokers[1] = harness_start(&H, "broker", 1);
    harness_start(&H, "firewaller", 0); // each start's groups first
    harness_start(&H, "imagemeta", 0); // the images of each start
    if (harness_wait_service(&H, "registry", 20000) || harness_wait_service(&H, "broker", 20000) ||
        harness_wait_service(&H, "firewaller", 20000) ||
        harness_wait_service(&H, "imagemeta", 20000))
        return -1;
    return 0;
}

static int
teardown(void **state)
{
    (void) state;
    return harness_fini(&H);
}

static en_sim_cloud_t *
s_sim(void)
{
    en_err_t err;
    en_sim_cloud_t *c = harness_sim(&H, &err);
    assert_non_null(c);
    return c;
}

static char *
s_slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return strdup("");
    char *buf = NULL;
    size_t size = 0;
    FILE *m = open_memstream(&buf, &size);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        fwrite(chunk, 1, n, m);
    fclose(m);
    fclose(f);
    return buf;
}

static void
add_machine_survives_broker_kills(void **state)
{
    (void) state;
    char *out = NULL, *err = NULL;
    // a cloud slow enough that the run spans several kills
    en_sim_cloud_t *sim = s_sim();
    en_err_t e;
    assert_int_equal(en_sim_cloud_knob_set(sim, "latency_ms", "150", &e), 0);

    int rc = harness_run(&H, &out, &err, "%s bootstrap sim ctl", CLI);
    if (rc != 0)
        fprintf(stderr, "bootstrap: %s\n%s\n", out, err);
    assert_int_equal(rc, 0);
    free(out);
    free(err);

    char cmd[4096], out_path[512], err_path[512];
    snprintf(out_path, sizeof out_path, "%s/add-machine.out", H.home);
    snprintf(err_path, sizeof err_path, "%s/add-machine.err", H.home);
    snprintf(cmd, sizeof cmd,
             "ENVIRONS_GATEWAY=%s ENVIRONS_HOME=%s exec %s add-machine -n %d --timeout 600s "
             ">%s 2>%s",
             H.endpoint, H.home, CLI, MACHINES, out_path, err_path);
    char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    int am = harness_spawn(&H, "add-machine", 0, argv);

    int status = -1, kills = 0;
    for (int round = 0; round < 240 && status == -1; round++) {
        status = harness_wait(&H, am, KILL_EVERY_MS);
        if (status != -1)
            break;
        int r = kills % 2;
        harness_kill(&H, brokers[r], SIGKILL);
        brokers[r] = harness_start(&H, "broker", r);
        kills++;
    }
    fprintf(stderr, "add-machine -n %d: %d broker kills\n", MACHINES, kills);
    assert_true(status != -1);
    assert_true(kills >= 2);

    // what the CLI said, machine by machine
    char *said = s_slurp(out_path), *complaints = s_slurp(err_path);
    json_t *created = json_object(), *failed = json_object();
    // Juju prints these lines on stderr; either stream is accepted
    char *streams[] = {said, complaints};
    for (int s = 0; s < 2; s++)
        for (char *line = strtok(streams[s], "\n"); line; line = strtok(NULL, "\n")) {
            char id[32];
            int at = 0;
            if (sscanf(line, "created machine %31s", id) == 1)
                json_object_set_new(created, id, json_true());
            else if (sscanf(line, "failed to create machine %31[^:]: %n", id, &at) == 1 &&
                     at > 0) {
                // a clear error: a message after the machine id
                assert_true(strlen(line + at) > 0);
                fprintf(stderr, "machine %s: %s\n", id, line + at);
                json_object_set_new(failed, id, json_string(line + at));
            }
        }
    fprintf(stderr, "created %zu, failed %zu\n", json_object_size(created),
            json_object_size(failed));
    assert_int_equal(json_object_size(created) + json_object_size(failed), MACHINES);
    assert_int_equal(WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                     json_object_size(failed) ? 1 : 0);

    // the CLI's view of the model
    assert_int_equal(harness_run(&H, &out, &err, "%s machines --format json", CLI), 0);
    json_t *doc = json_loads(out, 0, NULL);
    assert_non_null(doc);
    json_t *machines = json_object_get(doc, "machines");
    assert_int_equal(json_object_size(machines), json_object_size(created));
    const char *key;
    json_t *value;
    json_object_foreach(created, key, value)
    {
        assert_non_null(json_object_get(machines, key));
    }
    free(out);
    free(err);
    En__ModelRequest mq = EN__MODEL_REQUEST__INIT;
    mq.key_case = EN__MODEL_REQUEST__KEY_NAME;
    mq.name = "default";
    En__ModelResult *mr = NULL;
    assert_int_equal(en_client_call(H.client, EN_PUBLIC_SERVICE, "Model", NULL, &mq.base,
                                    &en__model_result__descriptor, (ProtobufCMessage **) &mr,
                                    10000, &e),
                     0);
    const char *model = mr->model->uuid;

    // the cloud's view: exactly one live instance per created machine and
    // nothing else in the model
    assert_non_null(model);
    en_sim_tag_t f = {"juju-model-uuid", model};
    en_sim_instance_t *insts = NULL;
    size_t n = 0;
    assert_int_equal(en_sim_cloud_list(sim, "sim-east", &f, 1, false, &insts, &n, &e), 0);
    json_t *per_machine = json_object();
    size_t live = 0;
    for (size_t i = 0; i < n; i++) {
        if (insts[i].state != EN_SIM_PENDING && insts[i].state != EN_SIM_RUNNING)
            continue;
        live++;
        const char *mid = NULL;
        for (size_t t = 0; t < insts[i].tag_count; t++)
            if (strcmp(insts[i].tags[t].key, "juju-machine-id") == 0)
                mid = insts[i].tags[t].value;
        assert_non_null(mid);
        assert_null(json_object_get(per_machine, mid)); // no duplicate
        json_object_set_new(per_machine, mid, json_true());
        assert_non_null(json_object_get(created, mid)); // nothing leaked
    }
    assert_int_equal(live, json_object_size(created));
    en_sim_instances_free(&insts, n);
    json_decref(per_machine);
    protobuf_c_message_free_unpacked(&mr->base, NULL);
    json_decref(doc);
    json_decref(created);
    json_decref(failed);
    free(said);
    free(complaints);
    en_sim_cloud_close(&sim);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(add_machine_survives_broker_kills),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
