/*  e2e: the whole set under the local supervisor, as an operator runs it.
    The only registry replica is SIGKILLed with calls in flight; the
    supervisor restarts it, the gateway requeues what it held, and every
    call completes exactly once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <czmq.h>
#include <dirent.h>
#include <signal.h>

#include "bus/envelope.h"
#include "bus/mdp.h"
#include "environ.pb-c.h"
#include "harness.h"

static harness_t H;

static int
setup(void **state)
{
    (void) state;
    zsys_handler_set(NULL);
    if (harness_init(&H))
        return -1;
    char bin[1536];
    snprintf(bin, sizeof bin, "%s", harness_bin("deploy/local/environs-local"));
    char *argv[] = {bin, "--home", H.home, "--bind", H.endpoint, "--threads", "2", NULL};
    harness_spawn(&H, "supervisor", 0, argv);
    return harness_wait_service(&H, "registry", 20000);
}

static int
teardown(void **state)
{
    (void) state;
    return harness_fini(&H);
}

//  The pid of the process running `program` for our home, 0 when none.
static pid_t
s_find(const char *program)
{
    DIR *proc = opendir("/proc");
    pid_t found = 0;
    for (struct dirent *e; proc && (e = readdir(proc)) && !found;) {
        char path[300], cmd[4096] = "";
        snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t n = fread(cmd, 1, sizeof cmd - 1, f);
        fclose(f);
        for (size_t i = 0; i < n; i++)
            if (!cmd[i])
                cmd[i] = ' ';
        if (strstr(cmd, program) && strstr(cmd, H.home))
            found = atoi(e->d_name);
    }
    if (proc)
        closedir(proc);
    return found;
}

static void
supervised_registry_killed_mid_traffic_loses_no_call(void **state)
{
    (void) state;
    en_err_t err;
    En__OpenRequest oreq = EN__OPEN_REQUEST__INIT;
    oreq.name = "restart";
    oreq.cloud_name = "sim";
    ProtobufCMessage *res = NULL;
    assert_int_equal(en_client_call(H.client, EN_PUBLIC_SERVICE, "Open", NULL, &oreq.base,
                                    &en__open_result__descriptor, &res, 15000, &err),
                     0);
    char model[64];
    snprintf(model, sizeof model, "%s", ((En__OpenResult *) res)->model->uuid);
    protobuf_c_message_free_unpacked(res, NULL);

    pid_t victim = s_find("environs-registry");
    assert_true(victim > 0);
    En__NextMachineIdRequest req = EN__NEXT_MACHINE_ID_REQUEST__INIT;
    enum { N = 2000 };
    for (int i = 0; i < N; i++)
        assert_int_equal(en_client_start(H.client, EN_PUBLIC_SERVICE, "NextMachineId", model,
                                         &req.base, en_now_ms() + 60000, NULL, NULL, NULL, &err),
                         0);
    static bool seen[N];
    for (int i = 0; i < N; i++) {
        if (i == 50)
            kill(victim, SIGKILL);
        en_result_t r;
        assert_int_equal(en_client_wait(H.client, 60000, &r), 0);
        assert_int_equal(r.err.kind, EN_OK);
        En__NextMachineIdResult *m = en__next_machine_id_result__unpack(NULL, r.size, r.body);
        int id = atoi(m->id);
        assert_true(id >= 0 && id < N);
        assert_false(seen[id]);
        seen[id] = true;
        en__next_machine_id_result__free_unpacked(m, NULL);
        en_result_clear(&r);
    }
    // the supervisor brought up a new registry process
    pid_t now = s_find("environs-registry");
    assert_true(now > 0 && now != victim);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(supervised_registry_killed_mid_traffic_loses_no_call),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
