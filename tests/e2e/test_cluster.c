/*  e2e: clustered controllers. Two gateways, registry replicas that connect
    out to both, and a client that knows both. Losing a gateway in the
    middle of traffic loses no call and duplicates no effect. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <czmq.h>
#include <signal.h>

#include "bus/envelope.h"
#include "bus/mdp.h"
#include "environ.pb-c.h"
#include "harness.h"

static harness_t H;
static char s_second[64], s_both[160];
static int s_gateway_a;
static char s_model[64];

static int
setup(void **state)
{
    (void) state;
    zsys_handler_set(NULL);
    if (harness_init(&H))
        return -1;
    int port = harness_free_port(&H);
    if (!port)
        return -1;
    snprintf(s_second, sizeof s_second, "tcp://127.0.0.1:%d", port);
    snprintf(s_both, sizeof s_both, "%s,%s", H.endpoint, s_second);
    char bin[1536];
    snprintf(bin, sizeof bin, "%s", harness_bin("services/gateway/environs-gateway"));
    char *a[] = {bin, "--bind", H.endpoint, "--home", H.home, NULL};
    s_gateway_a = harness_spawn(&H, "gateway", 0, a);
    char *b[] = {bin, "--bind", s_second, "--home", H.home, NULL};
    harness_spawn(&H, "gateway", 1, b);
    char reg[1536];
    snprintf(reg, sizeof reg, "%s", harness_bin("services/registry/environs-registry"));
    for (int i = 0; i < 2; i++) {
        char rep[16];
        snprintf(rep, sizeof rep, "%d", i);
        char *r[] = {reg, "--gateway", s_both, "--home", H.home, "--threads", "2",
                     "--replica", rep, NULL};
        harness_spawn(&H, "registry", i, r);
    }
    return harness_wait_service(&H, "registry", 20000);
}

static int
teardown(void **state)
{
    (void) state;
    return harness_fini(&H);
}

static en_client_t *
s_client(const char *endpoints)
{
    en_err_t err;
    en_client_t *c = en_client_new(endpoints, &err);
    assert_non_null(c);
    return c;
}

static void
each_gateway_reaches_the_same_registry(void **state)
{
    (void) state;
    en_err_t err;
    en_client_t *b = s_client(s_second);
    // a model added through gateway A...
    En__OpenRequest req = EN__OPEN_REQUEST__INIT;
    req.name = "shared";
    req.cloud_name = "sim";
    ProtobufCMessage *res = NULL;
    assert_int_equal(en_client_call(H.client, EN_PUBLIC_SERVICE, "Open", NULL, &req.base,
                                    &en__open_result__descriptor, &res, 15000, &err),
                     0);
    snprintf(s_model, sizeof s_model, "%s", ((En__OpenResult *) res)->model->uuid);
    protobuf_c_message_free_unpacked(res, NULL);
    // ...is there through gateway B
    En__ModelRequest mreq = EN__MODEL_REQUEST__INIT;
    mreq.key_case = EN__MODEL_REQUEST__KEY_UUID;
    mreq.uuid = s_model;
    assert_int_equal(en_client_call(b, EN_PUBLIC_SERVICE, "Model", NULL, &mreq.base,
                                    &en__model_result__descriptor, &res, 15000, &err),
                     0);
    assert_string_equal(((En__ModelResult *) res)->model->name, "shared");
    protobuf_c_message_free_unpacked(res, NULL);
    en_client_destroy(&b);
}

static void
losing_a_gateway_mid_traffic_loses_no_call(void **state)
{
    (void) state;
    en_err_t err;
    en_client_t *c = s_client(s_both);
    En__NextMachineIdRequest req = EN__NEXT_MACHINE_ID_REQUEST__INIT;
    enum { N = 2000 };
    for (int i = 0; i < N; i++)
        assert_int_equal(en_client_start(c, EN_PUBLIC_SERVICE, "NextMachineId", s_model,
                                         &req.base, en_now_ms() + 60000, NULL, NULL, NULL, &err),
                         0);
    static bool seen[N];
    for (int i = 0; i < N; i++) {
        if (i == 50)
            harness_kill(&H, s_gateway_a, SIGKILL); // gateway A dies with calls queued
        en_result_t r;
        assert_int_equal(en_client_wait(c, 60000, &r), 0);
        assert_int_equal(r.err.kind, EN_OK);
        En__NextMachineIdResult *m = en__next_machine_id_result__unpack(NULL, r.size, r.body);
        int id = atoi(m->id);
        // every call once: ids 0..N-1 with no gap and no repeat, although
        // many were sent twice (once to each gateway)
        assert_true(id >= 0 && id < N);
        assert_false(seen[id]);
        seen[id] = true;
        en__next_machine_id_result__free_unpacked(m, NULL);
        en_result_clear(&r);
    }
    en_client_destroy(&c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_gateway_reaches_the_same_registry),
        cmocka_unit_test(losing_a_gateway_mid_traffic_loses_no_call),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
