/*  The registry service in process: exactly-once. A mutating call
    (Open, SetConfig, NextMachineId) stores its reply with its effect, in
    one transaction, under its request id; the same id again — a resend
    after a lost reply or a requeue after a worker died — gets the first
    answer and has no second effect, on any replica.

    en_dispatcher_call makes a fresh request id per call, so fx_call_id
    packs the envelope with a fixed one and hands it to
    en_dispatcher_handle, as a resent call arrives from the bus. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/registry_fixture.h"

#define FX ((fx_t *)*state)
#define UUID1 "11111111-2222-4333-8444-555555555555"

static void
replayed_open_answers_the_first_model_and_stores_one(void **state)
{
    en_err_t err;
    En__ConfigAttrs cfg = EN__CONFIG_ATTRS__INIT;
    cfg.json = "{}";
    En__OpenRequest req = EN__OPEN_REQUEST__INIT;
    req.name = "m";
    req.cloud_name = "sim";
    req.config = &cfg;
    En__OpenResult *first =
        fx_call_id(FX->d, "Open", NULL, "open-0001", &req, &en__open_result__descriptor, &err);
    assert_non_null(first);
    En__OpenResult *again =
        fx_call_id(FX->d, "Open", NULL, "open-0001", &req, &en__open_result__descriptor, &err);
    if (!again)
        fail_msg("replayed Open: %s", err.message);
    assert_string_equal(again->model->uuid, first->model->uuid);
    assert_int_equal(again->model->created_ms, first->model->created_ms);
    assert_string_equal(again->model->config->json, first->model->config->json);
    FX_FREE(again);

    // another replica over the same home answers the resend the same way
    again = fx_call_id(fx_replica(FX), "Open", NULL, "open-0001", &req,
                       &en__open_result__descriptor, &err);
    assert_non_null(again);
    assert_string_equal(again->model->uuid, first->model->uuid);
    FX_FREE(again);
    // even when the cloud it named can no longer be read
    fx_write(FX, "clouds.yaml", "clouds: [broken\n");
    again = fx_call_id(FX->d, "Open", NULL, "open-0001", &req, &en__open_result__descriptor, &err);
    if (!again)
        fail_msg("replayed Open after clouds.yaml broke: %s", err.message);
    assert_string_equal(again->model->uuid, first->model->uuid);
    FX_FREE(again);
    fx_write(FX, "clouds.yaml", "");
    FX_FREE(first);

    assert_int_equal(fx_model_count(FX), 1);
    // a new request for the same model is a second Open, and refused
    assert_null(
        fx_call_id(FX->d, "Open", NULL, "open-0002", &req, &en__open_result__descriptor, &err));
    assert_int_equal(err.kind, EN_ALREADY_EXISTS);
}

static void
replayed_set_config_applies_once(void **state)
{
    en_err_t err;
    char uuid[64];
    fx_open_uuid(FX, "m", uuid);
    En__ConfigAttrs cfg = EN__CONFIG_ATTRS__INIT;
    cfg.json = "{\"development\":true}";
    En__SetConfigRequest req = EN__SET_CONFIG_REQUEST__INIT;
    req.config = &cfg;
    En__SetConfigResult *first = fx_call_id(FX->d, "SetConfig", uuid, "set-0001", &req,
                                            &en__set_config_result__descriptor, &err);
    assert_non_null(first);
    assert_int_equal(fx_version(FX, uuid), 2);
    // a later change by another request...
    En__SetConfigResult *later =
        fx_set_config(FX, uuid, "{\"logging-config\":\"<root>=INFO\"}", &err);
    assert_non_null(later);
    FX_FREE(later);
    assert_int_equal(fx_version(FX, uuid), 3);
    // ...is not undone by a late resend of the first, which gets its answer
    En__SetConfigResult *again = fx_call_id(FX->d, "SetConfig", uuid, "set-0001", &req,
                                            &en__set_config_result__descriptor, &err);
    assert_non_null(again);
    assert_string_equal(again->config->json, first->config->json);
    FX_FREE(again);
    FX_FREE(first);
    assert_int_equal(fx_version(FX, uuid), 3);
    char *now = fx_config_json(FX, uuid);
    assert_string_equal(fx_json_get(now, "logging-config"), "\"<root>=INFO\"");
    free(now);
}

static void
replayed_next_machine_id_allocates_once(void **state)
{
    en_err_t err;
    char uuid[64];
    fx_open_uuid(FX, "m", uuid);
    En__NextMachineIdRequest req = EN__NEXT_MACHINE_ID_REQUEST__INIT;
    const struct {
        const char *request_id;
        const char *want;
    } calls[] = {{"nmi-0001", "0"}, {"nmi-0001", "0"}, {"nmi-0002", "1"},
                 {"nmi-0001", "0"}, {"nmi-0002", "1"}, {"nmi-0003", "2"}};
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        En__NextMachineIdResult *r =
            fx_call_id(FX->d, "NextMachineId", uuid, calls[i].request_id, &req,
                       &en__next_machine_id_result__descriptor, &err);
        assert_non_null(r);
        assert_string_equal(r->id, calls[i].want);
        FX_FREE(r);
    }
    char *id = fx_next_id(FX, uuid, &err);
    assert_string_equal(id, "3");
    free(id);
    // a failed call is not recorded: its resend fails the same way
    for (int i = 0; i < 2; i++) {
        assert_null(fx_call_id(FX->d, "NextMachineId", UUID1, "nmi-0404", &req,
                               &en__next_machine_id_result__descriptor, &err));
        assert_int_equal(err.kind, EN_NOT_FOUND);
    }
}

//  The same request id at two replicas at once: a requeue after the
//  gateway gave up on a worker that was only slow.
typedef struct {
    en_dispatcher_t *d;
    const char *uuid;
    char request_id[32];
    char id[16];
} resender_t;

static void *
s_resender(void *arg)
{
    resender_t *r = arg;
    En__NextMachineIdRequest req = EN__NEXT_MACHINE_ID_REQUEST__INIT;
    en_err_t err;
    En__NextMachineIdResult *res = fx_call_id(r->d, "NextMachineId", r->uuid, r->request_id, &req,
                                              &en__next_machine_id_result__descriptor, &err);
    snprintf(r->id, sizeof r->id, "%s", res ? res->id : "error");
    FX_FREE(res);
    return NULL;
}

static void
a_request_at_two_replicas_at_once_takes_effect_once(void **state)
{
    en_err_t err;
    char uuid[64];
    fx_open_uuid(FX, "m", uuid);
    en_dispatcher_t *d2 = fx_replica(FX);
    enum { ROUNDS = 25 };
    for (int round = 0; round < ROUNDS; round++) {
        resender_t a = {.d = FX->d, .uuid = uuid};
        resender_t b = {.d = d2, .uuid = uuid};
        snprintf(a.request_id, sizeof a.request_id, "twice-%d", round);
        snprintf(b.request_id, sizeof b.request_id, "twice-%d", round);
        fx_together(s_resender, &a, &b);
        // both answer, with the one id allocated for this request
        char want[16];
        snprintf(want, sizeof want, "%d", round);
        assert_string_equal(a.id, want);
        assert_string_equal(b.id, want);
    }
    char *next = fx_next_id(FX, uuid, &err);
    assert_non_null(next);
    assert_int_equal(atoi(next), ROUNDS);
    free(next);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(replayed_open_answers_the_first_model_and_stores_one),
        T(replayed_set_config_applies_once),
        T(replayed_next_machine_id_allocates_once),
        T(a_request_at_two_replicas_at_once_takes_effect_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
