/*  e2e: the batch calls StartInstances and StopInstances, which the
    gateway fans out to broker workers (services/gateway/batch.c).

    Real processes on loopback: a gateway, a registry and a broker replica
    with four single-lane threads, more than the cloud limit the tests set,
    so that only the gateway's window keeps the cloud inside its limit. The
    sim cloud is <home>/sim/sim.db; the tests read it, turn its knobs and
    read its counters through the operator's console, which has no latency
    and no limit of its own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <czmq.h>

#include "bus/envelope.h"
#include "bus/mdp.h"
#include "common/paths.h"
#include "environ.pb-c.h"
#include "harness.h"
#include "providers/sim/sim_cloud.h"

#define CTRL_UUID "c0ffee00-0000-4000-8000-000000000001"
#define CALL_MS 60000

typedef struct {
    harness_t h;
    en_sim_cloud_t *sim;
    char model[64];
} fx_t;

#define FREE(m)                                                                                    \
    do {                                                                                           \
        if (m)                                                                                     \
            protobuf_c_message_free_unpacked((ProtobufCMessage *)(m), NULL);                       \
    } while (0)

//  One public call under request id `id` (NULL: a fresh one); the result
//  (free with FREE) or NULL with err.
static void *
s_call(fx_t *fx, const char *method, const char *id, const void *req,
       const ProtobufCMessageDescriptor *rd, en_err_t *err)
{
    char sent[33];
    en_err_clear(err);
    if (en_client_start(fx->h.client, EN_PUBLIC_SERVICE, method, fx->model, req,
                        en_now_ms() + CALL_MS, id, NULL, sent, err))
        return NULL;
    en_result_t r;
    while (en_client_wait(fx->h.client, CALL_MS + 5000, &r) == 0) {
        if (strcmp(r.request_id, sent) != 0) {
            en_result_clear(&r);
            continue;
        }
        void *res = NULL;
        if (r.err.kind != EN_OK)
            *err = r.err;
        else if (!(res = protobuf_c_message_unpack(rd, NULL, r.size, r.body)))
            en_err_set(err, EN_INTERNAL, "%s: result does not decode", method);
        en_result_clear(&r);
        return res;
    }
    en_err_set(err, EN_TIMEOUT, "%s: no reply", method);
    return NULL;
}

static int
s_setup(void **state)
{
    setenv("ENVIRONS_RETRY_SCALE", "0.05", 1);
    zsys_handler_set(NULL);
    fx_t *fx = calloc(1, sizeof *fx);
    if (harness_init(&fx->h))
        return -1;
    harness_start(&fx->h, "gateway", 0);
    harness_start(&fx->h, "registry", 0);
    char bin[1536];
    snprintf(bin, sizeof bin, "%s", harness_bin("services/broker/environs-broker"));
    char *argv[] = {bin,       "--gateway", fx->h.endpoint, "--home", fx->h.home, "--threads", "4",
                    "--lanes", "1",         "--replica",    "0",      NULL};
    harness_spawn(&fx->h, "broker", 0, argv);
    harness_start(&fx->h, "firewaller", 0); // each start's groups first
    harness_start(&fx->h, "imagemeta", 0); // the images of each start
    if (harness_wait_service(&fx->h, "registry", 20000) ||
        harness_wait_service(&fx->h, "broker", 20000) ||
        harness_wait_service(&fx->h, "firewaller", 20000) ||
        harness_wait_service(&fx->h, "imagemeta", 20000))
        return -1;
    En__OpenRequest req = EN__OPEN_REQUEST__INIT;
    En__ConfigAttrs cfg = EN__CONFIG_ATTRS__INIT;
    cfg.json = "{}";
    req.name = "batch";
    req.cloud_name = "sim";
    req.config = &cfg;
    en_err_t err;
    En__OpenResult *m = s_call(fx, "Open", NULL, &req, &en__open_result__descriptor, &err);
    if (!m) {
        fprintf(stderr, "Open: %s\n", err.message);
        return -1;
    }
    snprintf(fx->model, sizeof fx->model, "%s", m->model->uuid);
    FREE(m);
    char path[512];
    snprintf(path, sizeof path, "%s/sim", fx->h.home);
    en_mkdirs(path, 0700);
    snprintf(path, sizeof path, "%s/sim/sim.db", fx->h.home);
    fx->sim = en_sim_cloud_open(path, &err);
    if (!fx->sim)
        return -1;
    *state = fx;
    return 0;
}

static int
s_teardown(void **state)
{
    fx_t *fx = *state;
    en_sim_cloud_close(&fx->sim);
    int rc = harness_fini(&fx->h);
    free(fx);
    return rc;
}

//  Machines first .. first+n-1, each with its own nonce; item i's
//  placement is placements[i] when given.
typedef struct {
    En__StartInstancesRequest req;
    En__StartInstanceParams params[64];
    En__StartInstanceParams *ptrs[64];
    char ids[64][16];
    char nonces[64][24];
} batch_t;

static En__StartInstancesRequest *
s_batch(batch_t *b, int first, size_t n, const char *const *placements)
{
    assert_true(n <= 64);
    en__start_instances_request__init(&b->req);
    for (size_t i = 0; i < n; i++) {
        En__StartInstanceParams *p = &b->params[i];
        en__start_instance_params__init(p);
        snprintf(b->ids[i], sizeof b->ids[i], "%d", first + (int)i);
        snprintf(b->nonces[i], sizeof b->nonces[i], "nonce-%d", first + (int)i);
        p->machine_id = b->ids[i];
        p->machine_nonce = b->nonces[i];
        p->controller_uuid = CTRL_UUID;
        p->placement = (char *)(placements && placements[i] ? placements[i] : "");
        b->ptrs[i] = p;
    }
    b->req.params = b->ptrs;
    b->req.n_params = n;
    return &b->req;
}

static const char *
s_tag(const En__Instance *inst, const char *key)
{
    for (size_t i = 0; inst && i < inst->n_tags; i++)
        if (strcmp(inst->tags[i]->key, key) == 0)
            return inst->tags[i]->value;
    return NULL;
}

static En__StartInstancesResult *
s_start(fx_t *fx, const char *id, const En__StartInstancesRequest *req)
{
    en_err_t err;
    En__StartInstancesResult *r =
        s_call(fx, "StartInstances", id, req, &en__start_instances_result__descriptor, &err);
    if (!r)
        fail_msg("StartInstances: %s %s", en_kind_name(err.kind), err.message);
    assert_int_equal(r->n_items, req->n_params);
    return r;
}

//  Live instances of the model as the cloud sees them.
static size_t
s_live(fx_t *fx)
{
    en_sim_tag_t f = {"juju-model-uuid", fx->model};
    en_sim_instance_t *insts = NULL;
    size_t n = 0, live = 0;
    en_err_t err;
    assert_int_equal(en_sim_cloud_list(fx->sim, "sim-east", &f, 1, false, &insts, &n, &err), 0);
    for (size_t i = 0; i < n; i++)
        live += insts[i].state == EN_SIM_PENDING || insts[i].state == EN_SIM_RUNNING;
    en_sim_instances_free(&insts, n);
    return live;
}

static bool
s_is_live(fx_t *fx, const char *id)
{
    en_sim_instance_t *insts = NULL;
    size_t n = 0;
    en_err_t err;
    assert_int_equal(en_sim_cloud_describe(fx->sim, "sim-east", &id, 1, &insts, &n, &err), 0);
    bool live = n == 1 && (insts[0].state == EN_SIM_PENDING || insts[0].state == EN_SIM_RUNNING);
    en_sim_instances_free(&insts, n);
    return live;
}

static int64_t
s_count(fx_t *fx, const char *method)
{
    en_err_t err;
    return en_sim_cloud_call_count(fx->sim, method, &err);
}

//  Item i answers request item i.
static void
start_instances_answers_each_item_in_order(void **state)
{
    fx_t *fx = *state;
    batch_t b;
    En__StartInstancesResult *r = s_start(fx, NULL, s_batch(&b, 10, 8, NULL));
    for (size_t i = 0; i < r->n_items; i++) {
        const En__StartInstancesItemResult *item = r->items[i];
        assert_true(!item->error || item->error->kind == EN__ERROR_KIND__OK);
        assert_non_null(item->result);
        assert_non_null(item->result->instance);
        assert_string_equal(s_tag(item->result->instance, "juju-machine-id"), b.ids[i]);
        assert_string_equal(s_tag(item->result->instance, "juju-machine-nonce"), b.nonces[i]);
        assert_non_null(item->result->hardware);
    }
    assert_int_equal(s_live(fx), 8);
    FREE(r);
}

//  An item that fails carries its own error; the others start.
static void
start_instances_failed_item_fails_alone(void **state)
{
    fx_t *fx = *state;
    batch_t b;
    const char *placements[] = {NULL, NULL, "zone=nowhere", NULL, "zone=sim-east-c"};
    En__StartInstancesResult *r = s_start(fx, NULL, s_batch(&b, 0, 5, placements));
    for (size_t i = 0; i < r->n_items; i++) {
        const En__StartInstancesItemResult *item = r->items[i];
        if (i == 2) {
            assert_null(item->result);
            assert_non_null(item->error);
            assert_int_equal(item->error->kind, EN__ERROR_KIND__NOT_VALID);
            assert_string_equal(item->error->message, "invalid availability zone \"nowhere\"");
            continue;
        }
        assert_true(!item->error || item->error->kind == EN__ERROR_KIND__OK);
        assert_non_null(item->result);
        assert_string_equal(s_tag(item->result->instance, "juju-machine-id"), b.ids[i]);
    }
    assert_string_equal(r->items[4]->result->hardware->availability_zone, "sim-east-c");
    assert_int_equal(s_live(fx), 4);
    FREE(r);
}

//  The same batch sent again under its request id gives the same
//  instances and creates none.
static void
start_instances_resent_batch_creates_nothing(void **state)
{
    fx_t *fx = *state;
    batch_t b;
    const char *id = "0123456789abcdef0123456789abcdef";
    En__StartInstancesRequest *req = s_batch(&b, 20, 6, NULL);
    En__StartInstancesResult *first = s_start(fx, id, req);
    En__StartInstancesResult *again = s_start(fx, id, req);
    for (size_t i = 0; i < req->n_params; i++) {
        assert_non_null(first->items[i]->result);
        if (!again->items[i]->result)
            fail_msg("item %zu of the resent batch: %s", i, again->items[i]->error->message);
        assert_string_equal(first->items[i]->result->instance->id,
                            again->items[i]->result->instance->id);
    }
    assert_int_equal(s_live(fx), 6);
    FREE(first);
    FREE(again);
}

//  With the cloud limited to 3 calls at once and 4 broker threads ready,
//  the gateway keeps 3 items in flight: no call is ever throttled (each
//  machine is created by exactly one create call), and the calls do
//  overlap.
static void
start_instances_stays_inside_the_cloud_limit(void **state)
{
    fx_t *fx = *state;
    en_err_t err;
    assert_int_equal(
        en_sim_cloud_configure_json(fx->sim, "{\"max_concurrent\": 3, \"latency_ms\": 100}", &err),
        0);
    assert_int_equal(en_sim_cloud_reset_counters(fx->sim, &err), 0);
    batch_t b;
    En__StartInstancesResult *r = s_start(fx, NULL, s_batch(&b, 30, 12, NULL));
    for (size_t i = 0; i < r->n_items; i++)
        if (!r->items[i]->result)
            fail_msg("item %zu: %s", i, r->items[i]->error->message);
    int now = -1, peak = -1;
    assert_int_equal(en_sim_cloud_in_flight(fx->sim, &now, &peak, &err), 0);
    assert_true(peak <= 3);
    assert_true(peak >= 2); // the items did run side by side
    assert_int_equal(s_count(fx, "create"), 12);
    // nothing was throttled, so the gateway retried nothing
    char *out = NULL;
    harness_run(&fx->h, &out, NULL, "grep -h 'StartInstances: 12 item(s)' %s/gateway-0.log",
                fx->h.home);
    assert_non_null(strstr(out, "0 failed, 0 retried, 3 in flight"));
    free(out);
    FREE(r);
}

//  Throttled items are sent again after a backoff, and then start.
static void
start_instances_retries_throttled_items(void **state)
{
    fx_t *fx = *state;
    en_err_t err;
    assert_int_equal(en_sim_cloud_knob_set(fx->sim, "fail.create",
                                           "UNAVAILABLE count 2 request limit exceeded", &err),
                     0);
    assert_int_equal(en_sim_cloud_reset_counters(fx->sim, &err), 0);
    batch_t b;
    En__StartInstancesResult *r = s_start(fx, NULL, s_batch(&b, 40, 4, NULL));
    for (size_t i = 0; i < r->n_items; i++)
        if (!r->items[i]->result)
            fail_msg("item %zu: %s", i, r->items[i]->error->message);
    assert_int_equal(s_count(fx, "create"), 6);
    assert_int_equal(s_live(fx), 4);
    FREE(r);
}

static En__StopInstancesResult *
s_stop(fx_t *fx, char **ids, size_t n)
{
    En__StopInstancesRequest req = EN__STOP_INSTANCES_REQUEST__INIT;
    req.ids = ids;
    req.n_ids = n;
    en_err_t err;
    En__StopInstancesResult *r =
        s_call(fx, "StopInstances", NULL, &req, &en__stop_instances_result__descriptor, &err);
    if (!r)
        fail_msg("StopInstances: %s %s", en_kind_name(err.kind), err.message);
    return r;
}

//  StopInstances of many ids, in several chunks: unknown ids are no
//  failure; an id the cloud refused to stop is reported with the cloud's
//  error and stays; the others go. A second call stops it.
static void
stop_instances_reports_what_it_could_not_stop(void **state)
{
    fx_t *fx = *state;
    batch_t b;
    En__StartInstancesResult *started = s_start(fx, NULL, s_batch(&b, 50, 3, NULL));
    char unknown[48][24], *ids[48];
    for (int i = 0; i < 48; i++) {
        snprintf(unknown[i], sizeof unknown[i], "i-00000000deadb%03x", i);
        ids[i] = unknown[i];
    }
    // one real id per chunk of 16
    ids[0] = started->items[0]->result->instance->id;
    ids[20] = started->items[1]->result->instance->id;
    ids[40] = started->items[2]->result->instance->id;
    en_err_t err;
    assert_int_equal(
        en_sim_cloud_knob_set(fx->sim, "fail.terminate", "INTERNAL count 1 boom", &err), 0);
    En__StopInstancesResult *r = s_stop(fx, ids, 48);
    assert_int_equal(r->n_failed, 1);
    const char *kept = r->failed[0]->id;
    assert_true(!strcmp(kept, ids[0]) || !strcmp(kept, ids[20]) || !strcmp(kept, ids[40]));
    assert_int_equal(r->failed[0]->error->kind, EN__ERROR_KIND__INTERNAL);
    assert_string_equal(r->failed[0]->error->message, "boom");
    assert_true(s_is_live(fx, kept));
    assert_int_equal(s_live(fx), 1);
    FREE(r);
    r = s_stop(fx, ids, 48);
    assert_int_equal(r->n_failed, 0);
    assert_int_equal(s_live(fx), 0);
    FREE(r);
    // a short list (one chunk) reports the same way; nothing is a no-op
    En__StartInstancesResult *more = s_start(fx, NULL, s_batch(&b, 60, 1, NULL));
    char *two[] = {"i-00000000deadbeef", more->items[0]->result->instance->id};
    assert_int_equal(
        en_sim_cloud_knob_set(fx->sim, "fail.terminate", "INTERNAL count 1 boom", &err), 0);
    r = s_stop(fx, two, 2);
    assert_int_equal(r->n_failed, 1);
    assert_string_equal(r->failed[0]->id, two[1]);
    FREE(r);
    r = s_stop(fx, NULL, 0);
    assert_int_equal(r->n_failed, 0);
    assert_int_equal(s_live(fx), 1);
    FREE(r);
    FREE(more);
    FREE(started);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(start_instances_answers_each_item_in_order, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(start_instances_failed_item_fails_alone, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(start_instances_resent_batch_creates_nothing, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(start_instances_stays_inside_the_cloud_limit, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(start_instances_retries_throttled_items, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(stop_instances_reports_what_it_could_not_stop, s_setup,
                                        s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
