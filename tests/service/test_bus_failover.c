/*  The bus when processes fail: a worker that dies (SIGKILL) or freezes
    (SIGSTOP) holding a request, a worker with credit killed holding
    several, a worker that drains on SIGTERM, a client
    whose first gateway is down, and a gateway that restarts under a
    pending call. Workers that must die are child processes of this same
    binary (bx_child_start in bus_fixture.h).

    Nothing sleeps to synchronise: tests wait on replies, on a condition
    variable in the handler, on a pipe from a child, or poll a broker
    counter with a deadline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <czmq.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bus/envelope.h"
#include "bus/mdp.h"
#include "environ.pb-c.h"
#include "service/bus_fixture.h"

//  --------------------------------------------------------------------------
//  Requeue when a worker dies holding a request

//  A child worker with credit `k` takes `k` calls (one in its handler, the
//  rest queued behind it) and then, by `sig`, either vanishes at once
//  (SIGKILL: its connection closes) or falls silent with its connection
//  open (SIGSTOP: only heartbeat expiry tells). Either way the broker hands
//  every call to a second worker, in the order first sent, and the client
//  gets exactly one reply to each. Returns how long that took after the
//  signal.
static int64_t
s_requeue_after(int sig, int k)
{
    enum { K_MAX = 8 };
    assert_in_range(k, 1, K_MAX);
    en_broker_t *broker = bx_broker("tcp://127.0.0.1:*", NULL, 0);
    const char *ep = en_broker_endpoint(broker);
    bx_child_t child = bx_child_start("stuck", ep, k);
    bx_wait_workers(broker, 1, 10000);

    en_err_t err;
    en_client_t *client = en_client_new(ep, &err);
    assert_non_null(client);
    en_client_set_safety_timeout(client, 120000); // only the broker may resend
    // connected first: calls started before the connection is up go out
    // later, in no particular order
    assert_int_equal(en_client_service_present(client, "registry", 5000), 0);
    char ids[K_MAX][33];
    for (int i = 0; i < k; i++) {
        char type[16];
        snprintf(type, sizeof type, "h%d", i);
        bx_start_provider(client, type, en_now_ms() + 60000, (void *) (intptr_t) (i + 1), ids[i]);
    }
    bx_child_wait_notify(&child, client, 10000);
    bx_wait_held(broker, (size_t) k, 0, 10000); // all at the child, none queued

    bx_harness_t h;
    bx_harness_init(&h, "survivor");
    bx_worker_spec_t spec = {ep, bx_def("registry", &h), 1};
    zactor_t *survivor = zactor_new(bx_worker_actor, &spec);
    bx_wait_workers(broker, 2, 5000);

    // no DISCONNECT: the worker process is gone, or frozen
    int64_t signalled_at = en_mono_ms();
    assert_int_equal(kill(child.pid, sig), 0);
    bool seen[K_MAX] = {false};
    int64_t took = 0;
    for (int n = 0; n < k; n++) {
        int i = bx_next_provider_result(client, 30000, seen, k, (const char(*)[33]) ids,
                                        "survivor", "h");
        assert_int_equal(i, n); // requeued in the order first sent
        if (n == 0)
            took = en_mono_ms() - signalled_at;
    }

    // exactly k replies, k requeues, k handler calls on the survivor
    en_result_t r;
    assert_int_equal(en_client_pending(client), 0);
    assert_int_equal(en_client_wait(client, 500, &r), -1);
    assert_int_equal(bx_harness_calls(&h), k);
    en_broker_stats_t stats = bx_stats(broker);
    assert_int_equal(stats.requeued, k);
    assert_int_equal(stats.workers, 1);
    assert_int_equal(stats.held, 0);

    kill(child.pid, SIGKILL); // a stopped child dies too
    int status = bx_child_reap(&child, 5000);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    en_client_destroy(&client);
    zactor_destroy(&survivor);
    en_broker_destroy(&broker);
    bx_harness_fini(&h);
    return took;
}

static void
request_held_by_a_killed_worker_goes_to_another_worker(void **state)
{
    (void) state;
    // the broker's next heartbeat finds the connection gone
    int64_t took = s_requeue_after(SIGKILL, 1);
    assert_true(took <= EN_HEARTBEAT_EXPIRY + 2 * EN_HEARTBEAT_MS);
}

static void
request_held_by_a_silent_worker_goes_to_another_worker_after_expiry(void **state)
{
    (void) state;
    // nothing arrives from it any more: 3 heartbeats (7.5 s) since the
    // last one it sent, which was at most one interval before the stop
    int64_t took = s_requeue_after(SIGSTOP, 1);
    assert_in_range(took, EN_HEARTBEAT_EXPIRY - EN_HEARTBEAT_MS - 500,
                    EN_HEARTBEAT_EXPIRY + 2 * EN_HEARTBEAT_MS);
}

//  With credit, a worker killed holding K requests (one in its handler,
//  K-1 queued behind it) has all K requeued, each answered exactly once.
static void
worker_killed_holding_k_requests_has_all_of_them_requeued(void **state)
{
    (void) state;
    int64_t took = s_requeue_after(SIGKILL, 4);
    assert_true(took <= EN_HEARTBEAT_EXPIRY + 2 * EN_HEARTBEAT_MS);
}

//  --------------------------------------------------------------------------
//  A call held by a "slow" child worker

typedef struct {
    en_broker_t *broker;
    bx_child_t child;
    en_client_t *client;
} slow_call_t;

//  A broker, a slow child worker of it, and a client's Provider call that
//  the child's handler now holds until the test writes to child.go.
static void
s_slow_call_start(slow_call_t *c)
{
    c->broker = bx_broker("tcp://127.0.0.1:*", NULL, 0);
    const char *ep = en_broker_endpoint(c->broker);
    c->child = bx_child_start("slow", ep, 4);
    bx_wait_workers(c->broker, 1, 10000);

    en_err_t err;
    c->client = en_client_new(ep, &err);
    assert_non_null(c->client);
    bx_start_provider(c->client, "slow", en_now_ms() + 30000, NULL, NULL);
    bx_child_wait_notify(&c->child, c->client, 10000);
}

//  Let the handler finish; its reply arrives, and it is the child's.
static void
s_slow_call_finish(slow_call_t *c)
{
    assert_int_equal(write(c->child.go, "g", 1), 1);
    en_result_t r;
    assert_int_equal(en_client_wait(c->client, 10000, &r), 0);
    assert_int_equal(r.err.kind, EN_OK);
    char *name = bx_provider_name_of(&r);
    assert_string_equal(name, "child:slow");
    free(name);
    en_result_clear(&r);
}

//  --------------------------------------------------------------------------
//  Drain on SIGTERM

static void
sigterm_drains_the_request_in_hand_before_exit(void **state)
{
    (void) state;
    slow_call_t c;
    s_slow_call_start(&c);

    // SIGTERM while the handler holds the call
    assert_int_equal(kill(c.child.pid, SIGTERM), 0);
    int status;
    assert_int_equal(waitpid(c.child.pid, &status, WNOHANG), 0); // still at work
    en_result_t r;
    assert_int_equal(en_client_wait(c.client, 200, &r), -1);
    s_slow_call_finish(&c);

    status = bx_child_reap(&c.child, 10000);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    // it said DISCONNECT on its way out
    bx_wait_workers(c.broker, 0, 5000);

    en_client_destroy(&c.client);
    en_broker_destroy(&c.broker);
}

//  --------------------------------------------------------------------------
//  A long call

//  A handler that holds a call past the broker's heartbeat expiry: the
//  worker's watchdog keeps reading its links and sending heartbeats while
//  the handler thread is busy, so the broker neither expires the worker
//  nor hands the call to anyone else, and the reply still arrives.
static void
call_held_past_the_heartbeat_expiry_is_not_requeued(void **state)
{
    (void) state;
    slow_call_t c;
    s_slow_call_start(&c);

    // a silent worker is found out within expiry + one heartbeat interval
    en_result_t r;
    assert_int_equal(en_client_wait(c.client, EN_HEARTBEAT_EXPIRY + EN_HEARTBEAT_MS + 500, &r),
                     -1);
    en_broker_stats_t stats = bx_stats(c.broker);
    assert_int_equal(stats.workers, 1);
    assert_int_equal(stats.requeued, 0);
    s_slow_call_finish(&c);
    stats = bx_stats(c.broker);
    assert_int_equal(stats.requeued, 0);
    assert_int_equal(stats.workers, 1); // ready for the next call

    kill(c.child.pid, SIGKILL);
    bx_child_reap(&c.child, 5000);
    en_client_destroy(&c.client);
    en_broker_destroy(&c.broker);
}

//  --------------------------------------------------------------------------
//  Client failover

static void
client_fails_over_past_a_gateway_that_is_down(void **state)
{
    (void) state;
    bx_rig_t rig;
    bx_rig_up(&rig, "w", 0, NULL, 0);

    char dead[64];
    int reserved = bx_dead_endpoint(dead, sizeof dead);
    char endpoints[256];
    snprintf(endpoints, sizeof endpoints, "%s,%s", dead, rig.ep);
    en_err_t err;
    en_client_t *client = en_client_new(endpoints, &err);
    assert_non_null(client);
    en_client_set_ping_timeout(client, 300);
    bx_assert_provider_call(client, "registry", "one", "w:one");
    bx_assert_provider_call(client, "registry", "two", "w:two");
    assert_int_equal(bx_harness_calls(&rig.h), 2);

    en_client_destroy(&client);
    close(reserved);
    bx_rig_down(&rig);
}

//  A client whose first ping went out before its connection was up must
//  not take the unanswered ping for a dead gateway and resend.
static void
client_does_not_resend_a_slow_call_to_a_live_gateway(void **state)
{
    (void) state;
    bx_rig_t rig;
    bx_rig_up(&rig, "w", 1, NULL, 0);

    en_err_t err;
    en_client_t *client = en_client_new(rig.ep, &err);
    assert_non_null(client);
    en_client_set_ping_timeout(client, 300);
    bx_start_provider(client, "slow", en_now_ms() + 30000, NULL, NULL);
    en_result_t r;
    assert_int_equal(en_client_wait(client, 0, &r), -1); // pings at once
    while (!bx_harness_wait_blocked(&rig.h, 1, 0))
        assert_int_equal(en_client_wait(client, 20, &r), -1);
    // well past the ping timeout, the gateway answering its pings
    assert_int_equal(en_client_wait(client, 1000, &r), -1);
    assert_int_equal(bx_stats(rig.broker).queued, 0); // no second copy waiting
    bx_harness_release(&rig.h);
    assert_int_equal(en_client_wait(client, 5000, &r), 0);
    assert_int_equal(r.err.kind, EN_OK);
    en_result_clear(&r);
    assert_int_equal(bx_harness_calls(&rig.h), 1);

    en_client_destroy(&client);
    bx_rig_down(&rig);
}

//  Bind a broker, again where an old one was: the endpoint frees
//  asynchronously after en_broker_destroy.
static en_broker_t *
s_broker_rebind(const char *endpoint)
{
    en_broker_config_t config = {.endpoints = endpoint};
    int64_t until = en_mono_ms() + 5000;
    while (true) {
        en_err_t err;
        en_broker_t *broker = en_broker_new(&config, &err);
        if (broker)
            return broker;
        if (en_mono_ms() > until)
            fail_msg("cannot rebind %s: %s", endpoint, err.message);
        zclock_sleep(20);
    }
}

static void
client_resends_when_its_gateway_restarts(void **state)
{
    (void) state;
    // ipc, private to this process: a tcp port given back could be taken
    // by a test running in parallel before the new broker binds it
    char ep[64];
    snprintf(ep, sizeof ep, "ipc:///tmp/environs-bus-%d.ipc", (int) getpid());
    en_broker_t *broker = s_broker_rebind(ep);
    bx_harness_t h;
    bx_harness_init(&h, "w");
    h.block_calls = 1; // the first call stays in hand across the restart
    bx_worker_spec_t spec = {ep, bx_def("registry", &h), 1};
    zactor_t *worker = zactor_new(bx_worker_actor, &spec);
    bx_wait_workers(broker, 1, 5000);
    zsock_t *probe = bx_dealer(ep);
    char *epoch_a = bx_mmi(probe, "mmi.x-epoch", NULL);

    en_err_t err;
    en_client_t *client = en_client_new(ep, &err);
    assert_non_null(client);
    en_client_set_ping_timeout(client, 500);
    char id[33];
    bx_start_provider(client, "across", en_now_ms() + 60000, NULL, id);
    // let the client learn the first epoch while the call is in hand
    en_result_t r;
    assert_int_equal(en_client_wait(client, 1500, &r), -1);
    assert_true(bx_harness_wait_blocked(&h, 1, 5000));

    // the gateway restarts on the same endpoint; what it held is lost
    en_broker_destroy(&broker);
    broker = s_broker_rebind(ep);
    bx_harness_release(&h); // the old reply goes to a dead connection

    assert_int_equal(en_client_wait(client, 30000, &r), 0);
    assert_string_equal(r.request_id, id);
    assert_int_equal(r.err.kind, EN_OK);
    char *name = bx_provider_name_of(&r);
    assert_string_equal(name, "w:across");
    free(name);
    en_result_clear(&r);
    assert_int_equal(en_client_pending(client), 0);
    assert_int_equal(en_client_wait(client, 500, &r), -1);
    assert_int_equal(bx_harness_calls(&h), 2); // the original and the resend

    // it really was a new broker
    char *epoch_b = bx_mmi(probe, "mmi.x-epoch", NULL);
    assert_string_not_equal(epoch_a, epoch_b);
    free(epoch_a);
    free(epoch_b);

    en_client_destroy(&client);
    zsock_destroy(&probe);
    zactor_destroy(&worker);
    en_broker_destroy(&broker);
    unlink(ep + strlen("ipc://")); // libzmq 4.3.4 leaves the socket file
    bx_harness_fini(&h);
}

int
main(int argc, char **argv)
{
    if (argc > 1 && streq(argv[1], "--child"))
        return bx_child_main(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(request_held_by_a_killed_worker_goes_to_another_worker),
        cmocka_unit_test(request_held_by_a_silent_worker_goes_to_another_worker_after_expiry),
        cmocka_unit_test(worker_killed_holding_k_requests_has_all_of_them_requeued),
        cmocka_unit_test(sigterm_drains_the_request_in_hand_before_exit),
        cmocka_unit_test(call_held_past_the_heartbeat_expiry_is_not_requeued),
        cmocka_unit_test(client_fails_over_past_a_gateway_that_is_down),
        cmocka_unit_test(client_does_not_resend_a_slow_call_to_a_live_gateway),
        cmocka_unit_test(client_resends_when_its_gateway_restarts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
