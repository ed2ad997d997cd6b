/*  The bus over real sockets, when every process stays up: broker,
    workers, service runtime and client in one process over inproc and tcp
    loopback. Request-reply matching, 8/MMI, malformed input to the broker
    and to a worker, deadlines, the forward table, reply sizes, resends of
    calls in progress, and worker credit (our extension to 7/MDP, mdp.h).
    When processes die, freeze, drain or restart: test_bus_failover.c. The
    test service and raw MDP peers are in bus_fixture.h.

    Nothing sleeps to synchronise: tests wait on replies, on a condition
    variable in the handler, or poll a broker counter with a deadline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

#include "bus/envelope.h"
#include "bus/mdp.h"
#include "environ.pb-c.h"
#include "service/bus_fixture.h"

//  --------------------------------------------------------------------------
//  1. Request-reply, matched by request id

static void
pipelined_calls_are_matched_by_request_id_each_exactly_once(void **state)
{
    (void) state;
    en_broker_t *broker = bx_broker("inproc://bus-pipeline,tcp://127.0.0.1:*", NULL, 0);
    const char *tcp = en_broker_endpoint(broker);
    bx_harness_t h;
    bx_harness_init(&h, "w");
    // one worker over each transport
    bx_worker_spec_t over_inproc = {"inproc://bus-pipeline", bx_def("registry", &h), 1};
    bx_worker_spec_t over_tcp = {tcp, bx_def("registry", &h), 1};
    zactor_t *w1 = zactor_new(bx_worker_actor, &over_inproc);
    zactor_t *w2 = zactor_new(bx_worker_actor, &over_tcp);
    bx_wait_workers(broker, 2, 5000);

    en_err_t err;
    en_client_t *client = en_client_new(tcp, &err);
    assert_non_null(client);
    enum { CALLS = 200 };
    char ids[CALLS][33];
    bool seen[CALLS] = {false};
    for (int i = 0; i < CALLS; i++) {
        char type[16];
        snprintf(type, sizeof type, "p%d", i);
        bx_start_provider(client, type, en_now_ms() + 30000, (void *) (intptr_t) (i + 1), ids[i]);
    }
    assert_int_equal(en_client_pending(client), CALLS);
    for (int n = 0; n < CALLS; n++)
        bx_next_provider_result(client, 20000, seen, CALLS, (const char(*)[33]) ids, "w", "p");
    assert_int_equal(en_client_pending(client), 0);
    en_result_t extra;
    assert_int_equal(en_client_wait(client, 200, &extra), -1);
    assert_int_equal(bx_harness_calls(&h), CALLS);

    // a handler's error reaches the client unchanged
    char *name;
    assert_int_equal(bx_call_provider(client, "registry", "missing", 5000, &name, &err), -1);
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_string_equal(err.message, "no registered provider for \"missing\"");

    // and an inproc client gets the same service
    en_client_t *local = en_client_new("inproc://bus-pipeline", &err);
    assert_non_null(local);
    ProtobufCMessage *res;
    En__RegisteredProvidersRequest rp = EN__REGISTERED_PROVIDERS_REQUEST__INIT;
    assert_int_equal(en_client_call(local, "registry", "RegisteredProviders", NULL, &rp.base,
                                    &en__registered_providers_result__descriptor, &res, 5000, &err),
                     0);
    En__RegisteredProvidersResult *names = (En__RegisteredProvidersResult *) res;
    assert_int_equal(names->n_names, 1);
    assert_string_equal(names->names[0], "w");
    protobuf_c_message_free_unpacked(res, NULL);

    en_client_destroy(&local);
    en_client_destroy(&client);
    zactor_destroy(&w1);
    zactor_destroy(&w2);
    en_broker_destroy(&broker);
    bx_harness_fini(&h);
}

//  --------------------------------------------------------------------------
//  2. 8/MMI

static void
mmi_service_answers_200_for_registered_404_for_unknown(void **state)
{
    (void) state;
    bx_rig_t rig;
    bx_rig_up(&rig, "w", 0, NULL, 0);

    zsock_t *s = bx_dealer(rig.ep);
    char *code = bx_mmi(s, "mmi.service", "registry");
    assert_string_equal(code, "200");
    free(code);
    code = bx_mmi(s, "mmi.service", "nobody");
    assert_string_equal(code, "404");
    free(code);
    code = bx_mmi(s, "mmi.bogus", "registry");
    assert_string_equal(code, "501");
    free(code);

    // the client API says the same, even straight after connecting
    en_err_t err;
    en_client_t *client = en_client_new(rig.ep, &err);
    assert_non_null(client);
    assert_int_equal(en_client_service_present(client, "registry", 3000), 0);
    assert_int_equal(en_client_service_present(client, "nobody", 3000), -1);

    // a service whose last worker said DISCONNECT is gone again
    zactor_destroy(&rig.worker);
    bx_wait_mmi(s, "registry", "404", 5000);
    assert_int_equal(en_client_service_present(client, "registry", 3000), -1);

    en_client_destroy(&client);
    zsock_destroy(&s);
    bx_rig_down(&rig);
}

static void
mmi_x_epoch_is_stable_per_broker_start(void **state)
{
    (void) state;
    en_broker_t *a = bx_broker("tcp://127.0.0.1:*", NULL, 0);
    en_broker_t *b = bx_broker("tcp://127.0.0.1:*", NULL, 0);
    zsock_t *sa = bx_dealer(en_broker_endpoint(a));
    zsock_t *sb = bx_dealer(en_broker_endpoint(b));
    char *a1 = bx_mmi(sa, "mmi.x-epoch", NULL);
    char *a2 = bx_mmi(sa, "mmi.x-epoch", NULL);
    char *b1 = bx_mmi(sb, "mmi.x-epoch", NULL);
    assert_int_equal(strlen(a1), 32);
    assert_string_equal(a1, a2);
    assert_string_not_equal(a1, b1);
    free(a1);
    free(a2);
    free(b1);
    zsock_destroy(&sa);
    zsock_destroy(&sb);
    en_broker_destroy(&a);
    en_broker_destroy(&b);
}

//  --------------------------------------------------------------------------
//  3. Malformed input to the broker

//  Every message a peer sent before this has been handled by the broker.
static void
s_barrier(zsock_t *s)
{
    char *epoch = bx_mmi(s, "mmi.x-epoch", NULL);
    free(epoch);
}

//  The next command to a raw worker is DISCONNECT (heartbeats skipped).
static void
s_expect_disconnect(zsock_t *s)
{
    zsock_set_rcvtimeo(s, 5000);
    while (true) {
        zmsg_t *msg = zmsg_recv(s);
        assert_non_null(msg);
        assert_int_equal(zmsg_size(msg), 3);
        zframe_t *cmd = zmsg_last(msg);
        assert_int_equal(zframe_size(cmd), 1);
        int command = zframe_data(cmd)[0];
        zmsg_destroy(&msg);
        if (command == MDPW_HEARTBEAT)
            continue;
        assert_int_equal(command, MDPW_DISCONNECT);
        return;
    }
}

static void
broker_drops_or_rejects_malformed_input_and_keeps_serving(void **state)
{
    (void) state;
    bx_rig_t rig;
    bx_rig_up(&rig, "w", 0, NULL, 0);
    size_t dropped = 0;

    // Not MDP at all, or not a protocol we speak: dropped without a word.
    zsock_t *bad = bx_dealer(rig.ep);
    bx_send_frames(bad, 1, BX_S("hello"));
    bx_send_frames(bad, 1, "", (size_t) 0);
    bx_send_frames(bad, 4, BX_S("x"), BX_S(MDPC_CLIENT), BX_S("registry"), BX_S("body"));
    bx_send_frames(bad, 4, "", (size_t) 0, BX_S("MDPX01"), BX_S("registry"), BX_S("body"));
    bx_send_frames(bad, 2, "", (size_t) 0, BX_S(MDPC_CLIENT)); // no service
    dropped += 5;

    // Client requests that are not a single en.Request: NOT_VALID replies.
    bx_send_frames(bad, 4, "", (size_t) 0, BX_S(MDPC_CLIENT), BX_S("registry"),
                   BX_S("\xff\xff\xff"));
    zframe_t *no_method = bx_envelope_raw("nm", NULL, 0, NULL, 0);
    bx_client_send(bad, "registry", &no_method);
    size_t big_size = EN_MAX_BODY + 1;
    zframe_t *big = zframe_new(NULL, big_size);
    memset(zframe_data(big), 'x', big_size);
    bx_client_send(bad, "registry", &big);
    zmsg_t *two = zmsg_new();
    zmsg_addmem(two, "", 0);
    zmsg_addstr(two, MDPC_CLIENT);
    zmsg_addstr(two, "registry");
    zmsg_append(two, &(zframe_t *){bx_provider_envelope("two", "x", 0)});
    zmsg_addstr(two, "extra");
    assert_int_equal(zmsg_send(&two, bad), 0);
    bx_send_frames(bad, 3, "", (size_t) 0, BX_S(MDPC_CLIENT), BX_S("registry")); // no body
    dropped += 5;

    const char *want[] = {
        "request body is not a valid en.Request message",
        "request names no method",
        "request body of 4194305 bytes exceeds the limit of 4194304 bytes",
        "expected exactly one body frame, got 2",
        "expected exactly one body frame, got 0",
    };
    // a body that decodes keeps its id in the refusal, so the call ends;
    // one that does not decode has no id to give back
    const char *ids[] = {"", "nm", "", "", ""};
    for (size_t i = 0; i < 5; i++) {
        En__Reply *reply = bx_client_recv_reply(bad, "registry", 5000);
        bx_assert_reply_error(reply, ids[i], EN_NOT_VALID, want[i]);
        en__reply__free_unpacked(reply, NULL);
    }
    s_barrier(bad);

    // Worker commands that make no sense: dropped, and where a peer could
    // be a confused worker, DISCONNECT so that it starts over.
    zsock_t *w = bx_dealer(rig.ep);
    bx_send_frames(w, 3, "", (size_t) 0, BX_S(MDPW_WORKER), "\x09", (size_t) 1); // unknown
    bx_send_frames(w, 3, "", (size_t) 0, BX_S(MDPW_WORKER), "\x01\x02", (size_t) 2);
    bx_send_frames(w, 2, "", (size_t) 0, BX_S(MDPW_WORKER)); // no command
    dropped += 3;
    s_barrier(w);
    bx_send_frames(w, 4, "", (size_t) 0, BX_S(MDPW_WORKER), "\x01", (size_t) 1, BX_S("mmi.evil"));
    s_expect_disconnect(w);
    bx_send_frames(w, 3, "", (size_t) 0, BX_S(MDPW_WORKER), "\x01", (size_t) 1); // READY, no name
    s_expect_disconnect(w);
    bx_send_frames(w, 6, "", (size_t) 0, BX_S(MDPW_WORKER), "\x03", (size_t) 1, BX_S("client"), "",
                   (size_t) 0, BX_S("body")); // REPLY from a stranger
    s_expect_disconnect(w);
    dropped += 3;
    // a registered worker sending an unknown command is struck off
    bx_send_frames(w, 4, "", (size_t) 0, BX_S(MDPW_WORKER), "\x01", (size_t) 1, BX_S("echo"));
    bx_wait_workers(rig.broker, 2, 5000);
    bx_send_frames(w, 3, "", (size_t) 0, BX_S(MDPW_WORKER), "\x07", (size_t) 1);
    s_expect_disconnect(w);
    dropped += 1;
    bx_wait_workers(rig.broker, 1, 5000);

    // A frame far past the wire limit: libzmq drops that connection only.
    // (The broker's ROUTER also takes workers' replies, so its limit is the
    // reply limit; requests over EN_MAX_BODY below it were refused above.)
    zsock_t *huge = bx_dealer(rig.ep);
    zframe_t *too_big = zframe_new(NULL, EN_MAX_WIRE_REPLY + 1);
    memset(zframe_data(too_big), 'y', zframe_size(too_big));
    bx_client_send(huge, "registry", &too_big);

    en_broker_stats_t stats = bx_stats(rig.broker);
    assert_int_equal(stats.malformed, dropped);
    assert_int_equal(stats.workers, 1);
    assert_int_equal(stats.queued, 0);

    // and the broker keeps serving
    en_err_t err;
    en_client_t *client = en_client_new(rig.ep, &err);
    assert_non_null(client);
    bx_assert_provider_call(client, "registry", "after", "w:after");
    assert_int_equal(bx_harness_calls(&rig.h), 1);

    en_client_destroy(&client);
    zsock_destroy(&huge);
    zsock_destroy(&w);
    zsock_destroy(&bad);
    bx_rig_down(&rig);
}

//  --------------------------------------------------------------------------
//  4. Malformed input to a worker / service

static void
service_answers_not_valid_for_unknown_method_and_bad_body(void **state)
{
    (void) state;
    bx_rig_t rig;
    bx_rig_up(&rig, "w", 0, NULL, 0);

    zsock_t *s = bx_dealer(rig.ep);
    zframe_t *env = bx_envelope_raw("u1", "Nope", 0, NULL, 0);
    bx_client_send(s, "registry", &env);
    En__Reply *reply = bx_client_recv_reply(s, "registry", 5000);
    bx_assert_reply_error(reply, "u1", EN_NOT_VALID,
                          "unknown method \"Nope\" for service \"registry\"");
    en__reply__free_unpacked(reply, NULL);

    // field 1 (type, a string) says 5 bytes follow; 2 do
    env = bx_envelope_raw("b1", "Provider", 0,
                          "\x0a\x05"
                          "ab",
                          4);
    bx_client_send(s, "registry", &env);
    reply = bx_client_recv_reply(s, "registry", 5000);
    bx_assert_reply_error(reply, "b1", EN_NOT_VALID,
                          "Provider: request body is not a valid en.ProviderRequest message");
    en__reply__free_unpacked(reply, NULL);
    assert_int_equal(bx_harness_calls(&rig.h), 0); // no handler saw either

    // the client API gets the same answer, and then a good call works
    en_err_t err;
    en_client_t *client = en_client_new(rig.ep, &err);
    assert_non_null(client);
    En__ProviderRequest req = EN__PROVIDER_REQUEST__INIT;
    ProtobufCMessage *res;
    assert_int_equal(en_client_call(client, "registry", "Nope", NULL, &req.base,
                                    &en__provider_result__descriptor, &res, 5000, &err),
                     -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message, "unknown method \"Nope\" for service \"registry\"");
    // a call naming no method would get an answer it cannot match: refused
    assert_int_equal(
        en_client_start(client, "registry", "", NULL, &req.base, 0, NULL, NULL, NULL, &err), -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_int_equal(en_client_pending(client), 0);
    bx_assert_provider_call(client, "registry", "good", "w:good");

    en_client_destroy(&client);
    zsock_destroy(&s);
    bx_rig_down(&rig);
}

//  A message from the worker to a fake broker, heartbeats skipped.
static zmsg_t *
s_fake_broker_recv(zsock_t *router, int timeout_ms)
{
    zsock_set_rcvtimeo(router, timeout_ms);
    while (true) {
        zmsg_t *msg = zmsg_recv(router);
        if (!msg)
            return NULL;
        // [id][""]["MDPW01"][command]...
        zframe_t *cmd = zmsg_first(msg);
        for (int i = 0; i < 3 && cmd; i++)
            cmd = zmsg_next(msg);
        if (!cmd || zframe_size(cmd) != 1 || zframe_data(cmd)[0] != MDPW_HEARTBEAT)
            return msg;
        zmsg_destroy(&msg);
    }
}

static void
worker_drops_malformed_requests_from_a_fake_broker(void **state)
{
    (void) state;
    zsock_t *router = zsock_new(ZMQ_ROUTER);
    assert_true(zsock_bind(router, "tcp://127.0.0.1:*") > 0);
    char *ep = zsock_last_endpoint(router);
    bx_harness_t h;
    bx_harness_init(&h, "w");
    bx_worker_spec_t spec = {ep, bx_def("registry", &h), 1};
    zactor_t *worker = zactor_new(bx_worker_actor, &spec);

    // READY: [id][""]["MDPW01"][0x01]["registry"]
    zmsg_t *ready = s_fake_broker_recv(router, 5000);
    assert_non_null(ready);
    assert_int_equal(zmsg_size(ready), 5);
    zframe_t *id = zmsg_pop(ready);
    zframe_t *f = zmsg_pop(ready);
    assert_int_equal(zframe_size(f), 0);
    zframe_destroy(&f);
    assert_true(zframe_streq((f = zmsg_pop(ready)), MDPW_WORKER));
    zframe_destroy(&f);
    f = zmsg_pop(ready);
    assert_int_equal(zframe_data(f)[0], MDPW_READY);
    zframe_destroy(&f);
    assert_true(zframe_streq((f = zmsg_pop(ready)), "registry"));
    zframe_destroy(&f);
    zmsg_destroy(&ready);

    // REQUEST without client, a wrong header, a bad command size: dropped
    zmsg_t *m;
    m = zmsg_new();
    zmsg_append(m, &(zframe_t *){zframe_dup(id)});
    zmsg_addmem(m, "", 0);
    zmsg_addstr(m, MDPW_WORKER);
    zmsg_addmem(m, "\x02", 1);
    zmsg_send(&m, router);
    m = zmsg_new();
    zmsg_append(m, &(zframe_t *){zframe_dup(id)});
    zmsg_addmem(m, "", 0);
    zmsg_addstr(m, "BOGUS1");
    zmsg_addmem(m, "\x02", 1);
    zmsg_addstr(m, "c0");
    zmsg_addmem(m, "", 0);
    zmsg_append(m, &(zframe_t *){bx_provider_envelope("r0", "x", 0)});
    zmsg_send(&m, router);
    m = zmsg_new();
    zmsg_append(m, &(zframe_t *){zframe_dup(id)});
    zmsg_addmem(m, "", 0);
    zmsg_addstr(m, MDPW_WORKER);
    zmsg_addmem(m, "\x02\x02", 2);
    zmsg_send(&m, router);

    // A well-framed REQUEST whose body is not an en.Request: NOT_VALID.
    // Then a good one. Each REPLY: [id][""]["MDPW01"][0x03][client][""][body].
    const char *bodies[] = {"garbage", NULL};
    for (int i = 0; i < 2; i++) {
        m = zmsg_new();
        zmsg_append(m, &(zframe_t *){zframe_dup(id)});
        zmsg_addmem(m, "", 0);
        zmsg_addstr(m, MDPW_WORKER);
        zmsg_addmem(m, "\x02", 1);
        zmsg_addstr(m, i ? "c2" : "c1");
        zmsg_addmem(m, "", 0);
        if (bodies[i])
            zmsg_addstr(m, bodies[i]);
        else
            zmsg_append(m, &(zframe_t *){bx_provider_envelope("r2", "fine", 0)});
        zmsg_send(&m, router);

        zmsg_t *reply = s_fake_broker_recv(router, 5000);
        assert_non_null(reply);
        assert_int_equal(zmsg_size(reply), 7);
        zframe_t *rid = zmsg_pop(reply);
        assert_true(zframe_eq(rid, id));
        zframe_destroy(&rid);
        zframe_destroy(&(zframe_t *){zmsg_pop(reply)});
        zframe_destroy(&(zframe_t *){zmsg_pop(reply)});
        zframe_t *cmd = zmsg_pop(reply);
        assert_int_equal(zframe_data(cmd)[0], MDPW_REPLY);
        zframe_destroy(&cmd);
        zframe_t *client = zmsg_pop(reply);
        assert_true(zframe_streq(client, i ? "c2" : "c1"));
        zframe_destroy(&client);
        zframe_destroy(&(zframe_t *){zmsg_pop(reply)});
        zframe_t *body = zmsg_pop(reply);
        En__Reply *r = en__reply__unpack(NULL, zframe_size(body), zframe_data(body));
        assert_non_null(r);
        if (i == 0)
            bx_assert_reply_error(r, "", EN_NOT_VALID,
                                  "request body is not a valid en.Request message");
        else {
            assert_string_equal(r->request_id, "r2");
            assert_null(r->error);
        }
        en__reply__free_unpacked(r, NULL);
        zframe_destroy(&body);
        zmsg_destroy(&reply);
    }
    assert_int_equal(bx_harness_calls(&h), 1);

    zactor_destroy(&worker);
    // a worker that stops says DISCONNECT
    zmsg_t *bye = s_fake_broker_recv(router, 5000);
    assert_non_null(bye);
    assert_int_equal(zmsg_size(bye), 4);
    assert_int_equal(zframe_data(zmsg_last(bye))[0], MDPW_DISCONNECT);
    zmsg_destroy(&bye);

    zframe_destroy(&id);
    free(ep);
    zsock_destroy(&router);
    bx_harness_fini(&h);
}

//  --------------------------------------------------------------------------
//  5. Deadlines

static void
request_past_its_deadline_gets_timeout(void **state)
{
    (void) state;
    bx_rig_t rig;
    bx_rig_up(&rig, "w", 0, NULL, 0);

    zsock_t *s = bx_dealer(rig.ep);
    zframe_t *env = bx_provider_envelope("late", "x", en_now_ms() - 1000);
    bx_client_send(s, "registry", &env);
    En__Reply *reply = bx_client_recv_reply(s, "registry", 5000);
    bx_assert_reply_error(reply, "late", EN_TIMEOUT,
                          "Provider: deadline passed before the call started");
    assert_true(reply->error->retryable);
    en__reply__free_unpacked(reply, NULL);
    assert_int_equal(bx_harness_calls(&rig.h), 0);

    // through the client, too
    en_err_t err;
    en_client_t *client = en_client_new(rig.ep, &err);
    assert_non_null(client);
    bx_start_provider(client, "x", en_now_ms() - 1000, NULL, NULL);
    en_result_t r;
    assert_int_equal(en_client_wait(client, 5000, &r), 0);
    assert_int_equal(r.err.kind, EN_TIMEOUT);
    en_result_clear(&r);
    assert_int_equal(bx_harness_calls(&rig.h), 0);

    en_client_destroy(&client);
    zsock_destroy(&s);
    bx_rig_down(&rig);
}

static void
request_for_a_service_without_workers_gets_unavailable_at_its_deadline(void **state)
{
    (void) state;
    en_broker_t *broker = bx_broker("tcp://127.0.0.1:*", NULL, 0);
    const char *ep = en_broker_endpoint(broker);
    zsock_t *s = bx_dealer(ep);
    int64_t start = en_mono_ms();
    zframe_t *env = bx_provider_envelope("ghost-1", "x", en_now_ms() + 300);
    bx_client_send(s, "ghost", &env);
    En__Reply *reply = bx_client_recv_reply(s, "ghost", 5000);
    int64_t took = en_mono_ms() - start;
    bx_assert_reply_error(reply, "ghost-1", EN_UNAVAILABLE,
                          "no worker for service \"ghost\" before the deadline");
    en__reply__free_unpacked(reply, NULL);
    assert_in_range(took, 290, 1500); // at the deadline, not before, not long after
    en_broker_stats_t stats = bx_stats(broker);
    assert_int_equal(stats.queued, 0);
    assert_int_equal(stats.expired, 1);

    // the client reports the broker's answer, not just its own timeout
    en_err_t err;
    en_client_t *client = en_client_new(ep, &err);
    assert_non_null(client);
    char *name;
    start = en_mono_ms();
    assert_int_equal(bx_call_provider(client, "ghost", "x", 300, &name, &err), -1);
    assert_int_equal(err.kind, EN_UNAVAILABLE);
    assert_string_equal(err.message, "no worker for service \"ghost\" before the deadline");
    assert_in_range(en_mono_ms() - start, 290, 2000);

    en_client_destroy(&client);
    zsock_destroy(&s);
    en_broker_destroy(&broker);
}

static void
request_queued_behind_a_busy_worker_gets_timeout_at_its_deadline(void **state)
{
    (void) state;
    bx_rig_t rig;
    bx_rig_up(&rig, "w", 1, NULL, 0);

    zsock_t *s = bx_dealer(rig.ep);
    zframe_t *first = bx_provider_envelope("first", "a", 0);
    bx_client_send(s, "registry", &first);
    assert_true(bx_harness_wait_blocked(&rig.h, 1, 5000));
    zframe_t *second = bx_provider_envelope("second", "b", en_now_ms() + 300);
    bx_client_send(s, "registry", &second);
    En__Reply *reply = bx_client_recv_reply(s, "registry", 5000);
    bx_assert_reply_error(reply, "second", EN_TIMEOUT,
                          "service \"registry\" busy past the request deadline");
    en__reply__free_unpacked(reply, NULL);

    bx_harness_release(&rig.h);
    reply = bx_client_recv_reply(s, "registry", 5000);
    assert_string_equal(reply->request_id, "first");
    assert_null(reply->error);
    en__reply__free_unpacked(reply, NULL);
    assert_int_equal(bx_harness_calls(&rig.h), 1); // "second" never reached a handler

    zsock_destroy(&s);
    bx_rig_down(&rig);
}

//  A resend of a call the worker still holds (same service, method and
//  request id) does not reach a handler a second time: the one live call
//  answers, at the address the resend came from (a client that reconnects
//  gets a new routing id). Queued resends are absorbed the same way.
static void
resend_of_a_call_in_progress_runs_once_and_answers_the_newest_address(void **state)
{
    (void) state;
    bx_rig_t rig;
    bx_rig_up(&rig, "w", 2, NULL, 0);

    zsock_t *old = bx_dealer(rig.ep), *fresh = bx_dealer(rig.ep);
    zframe_t *first = bx_provider_envelope("same-id", "a", 0);
    bx_client_send(old, "registry", &first);
    assert_true(bx_harness_wait_blocked(&rig.h, 1, 5000));
    // the client's resend after losing sight of the broker, from a new socket
    zframe_t *again = bx_provider_envelope("same-id", "a", 0);
    bx_client_send(fresh, "registry", &again);
    // a queued call resent from the same socket twice
    zframe_t *q1 = bx_provider_envelope("queued-id", "b", 0);
    bx_client_send(fresh, "registry", &q1);
    zframe_t *q2 = bx_provider_envelope("queued-id", "b", 0);
    bx_client_send(fresh, "registry", &q2);
    // the broker has seen all four before anything is released
    for (int i = 0; i < 200 && bx_stats(rig.broker).duplicates < 2; i++)
        zclock_sleep(10);
    assert_int_equal(bx_stats(rig.broker).duplicates, 2);

    bx_harness_release(&rig.h);
    En__Reply *r1 = bx_client_recv_reply(fresh, "registry", 5000);
    En__Reply *r2 = bx_client_recv_reply(fresh, "registry", 5000);
    assert_string_equal(r1->request_id, "same-id");
    assert_string_equal(r2->request_id, "queued-id");
    en__reply__free_unpacked(r1, NULL);
    en__reply__free_unpacked(r2, NULL);
    assert_null(bx_client_recv(old, "registry", 300)); // not to the old address
    assert_null(bx_client_recv(fresh, "registry", 300)); // and only once
    assert_int_equal(bx_harness_calls(&rig.h), 2);

    zsock_destroy(&old);
    zsock_destroy(&fresh);
    bx_rig_down(&rig);
}

//  --------------------------------------------------------------------------
//  6. Forward table

static void
forwarded_public_method_reaches_the_owning_service_and_names_environ(void **state)
{
    (void) state;
    const en_forward_t forwards[] = {{"RegisteredProviders", "registry"}};
    bx_rig_t rig;
    bx_rig_up(&rig, "registry-worker", 0, forwards, 1);

    zsock_t *s = bx_dealer(rig.ep);
    En__RegisteredProvidersRequest rp = EN__REGISTERED_PROVIDERS_REQUEST__INIT;
    uint8_t buf[16];
    size_t size = en__registered_providers_request__pack(&rp, buf);
    zframe_t *env = bx_envelope_raw("fw", "RegisteredProviders", 0, buf, size);
    bx_client_send(s, EN_PUBLIC_SERVICE, &env);
    En__Reply *reply = bx_client_recv_reply(s, EN_PUBLIC_SERVICE, 5000); // names environ.v1
    assert_string_equal(reply->request_id, "fw");
    assert_null(reply->error);
    En__RegisteredProvidersResult *names =
        en__registered_providers_result__unpack(NULL, reply->body.len, reply->body.data);
    assert_non_null(names);
    assert_int_equal(names->n_names, 1);
    assert_string_equal(names->names[0], "registry-worker");
    en__registered_providers_result__free_unpacked(names, NULL);
    en__reply__free_unpacked(reply, NULL);

    // the client API calls the public service the same way
    en_err_t err;
    en_client_t *client = en_client_new(rig.ep, &err);
    assert_non_null(client);
    ProtobufCMessage *res;
    assert_int_equal(en_client_call(client, EN_PUBLIC_SERVICE, "RegisteredProviders", NULL,
                                    &rp.base, &en__registered_providers_result__descriptor, &res,
                                    5000, &err),
                     0);
    assert_string_equal(((En__RegisteredProvidersResult *) res)->names[0], "registry-worker");
    protobuf_c_message_free_unpacked(res, NULL);
    en_client_destroy(&client);

    // a public method with no forward waits for the composer (none here)
    env = bx_provider_envelope("nf", "x", en_now_ms() + 300);
    bx_client_send(s, EN_PUBLIC_SERVICE, &env);
    reply = bx_client_recv_reply(s, EN_PUBLIC_SERVICE, 5000);
    bx_assert_reply_error(reply, "nf", EN_UNAVAILABLE,
                          "no worker for service \"environ.v1\" before the deadline");
    en__reply__free_unpacked(reply, NULL);
    assert_int_equal(bx_harness_calls(&rig.h), 0);

    zsock_destroy(&s);
    bx_rig_down(&rig);
}

//  --------------------------------------------------------------------------
//  7. Worker credit (our extension to 7/MDP, see mdp.h)

//  A raw DEALER client with a routing id we know.
static zsock_t *
s_named_client(const char *endpoint, const char *identity)
{
    zsock_t *s = zsock_new(ZMQ_DEALER);
    zsock_set_identity(s, identity);
    zsock_set_rcvtimeo(s, 5000);
    assert_int_equal(zsock_connect(s, "%s", endpoint), 0);
    return s;
}

//  The request id in a REQUEST body.
static char *
s_request_id_of(zframe_t *body)
{
    char id[EN_REQUEST_ID_MAX];
    en_err_t err;
    En__Request *req = en_request_unpack(body, id, &err);
    assert_non_null(req);
    en__request__free_unpacked(req, NULL);
    return strdup(id);
}

//  A raw worker answers the request whose body is `body` at `address`.
static void
s_raw_answer(zsock_t *w, zframe_t *address, zframe_t *body)
{
    char *id = s_request_id_of(body);
    zframe_t *reply = en_reply_ok_frame(id, NULL, 0);
    bx_raw_worker_reply(w, address, &reply);
    free(id);
}

//  The next reply on a raw client is the one to request `id`.
static void
s_expect_reply_to(zsock_t *c, const char *id)
{
    En__Reply *reply = bx_client_recv_reply(c, "registry", 5000);
    assert_string_equal(reply->request_id, id);
    assert_null(reply->error);
    en__reply__free_unpacked(reply, NULL);
}

static void
s_send_requests(zsock_t *c, int n)
{
    for (int i = 0; i < n; i++) {
        char id[16];
        snprintf(id, sizeof id, "c%d", i);
        zframe_t *body = bx_provider_envelope(id, "x", 0);
        bx_client_send(c, "registry", &body);
    }
}

static void
worker_with_credit_gets_up_to_k_requests_and_answers_them_in_any_order(void **state)
{
    (void) state;
    en_broker_t *broker = bx_broker("tcp://127.0.0.1:*", NULL, 0);
    const char *ep = en_broker_endpoint(broker);
    zsock_t *w = bx_raw_worker(ep, "registry", "3");
    bx_wait_workers(broker, 1, 5000);
    zsock_t *c = s_named_client(ep, "client-1");
    s_send_requests(c, 5);

    // three go to the worker before it has answered any; two wait
    bx_wait_held(broker, 3, 2, 5000);
    zframe_t *address[5], *body[5];
    for (int i = 0; i < 3; i++) {
        assert_true(bx_raw_worker_recv(w, &address[i], &body[i], 5000));
        char *id = s_request_id_of(body[i]);
        char want[16];
        snprintf(want, sizeof want, "c%d", i);
        assert_string_equal(id, want); // in the order the client sent them
        free(id);
        // the client's routing id and a tag of the broker's, one per request
        assert_int_equal(zframe_size(address[i]), strlen("client-1") + 4);
        assert_memory_equal(zframe_data(address[i]), "client-1", strlen("client-1"));
        for (int j = 0; j < i; j++)
            assert_false(zframe_eq(address[i], address[j]));
    }

    // answered out of order, each reply reaches the call it answers, and
    // each answer frees credit for the next request
    s_raw_answer(w, address[2], body[2]);
    s_expect_reply_to(c, "c2");
    assert_true(bx_raw_worker_recv(w, &address[3], &body[3], 5000));
    bx_wait_held(broker, 3, 1, 5000);
    s_raw_answer(w, address[0], body[0]);
    s_expect_reply_to(c, "c0");
    assert_true(bx_raw_worker_recv(w, &address[4], &body[4], 5000));
    bx_wait_held(broker, 3, 0, 5000);
    int order[] = {3, 1, 4};
    for (int k = 0; k < 3; k++) {
        s_raw_answer(w, address[order[k]], body[order[k]]);
        char want[16];
        snprintf(want, sizeof want, "c%d", order[k]);
        s_expect_reply_to(c, want);
    }
    en_broker_stats_t stats = bx_stats(broker);
    assert_int_equal(stats.held, 0);
    assert_int_equal(stats.queued, 0);
    assert_int_equal(stats.malformed, 0);

    // a second reply to a request already answered is owed to nobody
    s_raw_answer(w, address[2], body[2]);
    s_expect_disconnect(w);
    bx_wait_workers(broker, 0, 5000);
    assert_int_equal(bx_stats(broker).malformed, 1);
    zframe_t *extra = bx_client_recv(c, "registry", 200);
    assert_null(extra); // and the client heard nothing of it

    for (int i = 0; i < 5; i++) {
        zframe_destroy(&address[i]);
        zframe_destroy(&body[i]);
    }
    zsock_destroy(&c);
    zsock_destroy(&w);
    en_broker_destroy(&broker);
}

static void
plain_worker_without_a_credit_frame_gets_one_request_at_a_time(void **state)
{
    (void) state;
    en_broker_t *broker = bx_broker("tcp://127.0.0.1:*", NULL, 0);
    const char *ep = en_broker_endpoint(broker);
    zsock_t *w = bx_raw_worker(ep, "registry", NULL); // READY as RFC 7/MDP has it
    bx_wait_workers(broker, 1, 5000);
    zsock_t *c = s_named_client(ep, "client-2");
    s_send_requests(c, 3);

    for (int i = 0; i < 3; i++) {
        bx_wait_held(broker, 1, (size_t) (2 - i), 5000);
        zframe_t *address, *body;
        assert_true(bx_raw_worker_recv(w, &address, &body, 5000));
        // the address is the client's routing id alone, as in the RFC
        assert_true(zframe_streq(address, "client-2"));
        char *id = s_request_id_of(body);
        char want[16];
        snprintf(want, sizeof want, "c%d", i);
        assert_string_equal(id, want);
        free(id);
        s_raw_answer(w, address, body);
        s_expect_reply_to(c, want);
        zframe_destroy(&address);
        zframe_destroy(&body);
    }
    bx_wait_held(broker, 0, 0, 5000);
    assert_int_equal(bx_stats(broker).malformed, 0);

    zsock_destroy(&c);
    zsock_destroy(&w);
    en_broker_destroy(&broker);
}

static void
broker_disconnects_a_worker_whose_credit_frame_is_malformed(void **state)
{
    (void) state;
    en_broker_t *broker = bx_broker("tcp://127.0.0.1:*", NULL, 0);
    const char *ep = en_broker_endpoint(broker);
    const char *bad[] = {"0", "", "x1", "-3", "12345", " 4"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        zsock_t *w = bx_raw_worker(ep, "registry", bad[i]);
        s_expect_disconnect(w);
        zsock_destroy(&w);
    }
    // a READY with a frame past the credit
    zsock_t *w = bx_dealer(ep);
    bx_send_frames(w, 6, "", (size_t) 0, BX_S(MDPW_WORKER), "\x01", (size_t) 1, BX_S("registry"),
                   BX_S("2"), BX_S("more"));
    s_expect_disconnect(w);
    zsock_destroy(&w);
    en_broker_stats_t stats = bx_stats(broker);
    assert_int_equal(stats.workers, 0);
    assert_int_equal(stats.malformed, 7);

    // the largest credit accepted is cut to what the broker grants
    w = bx_raw_worker(ep, "registry", "9999");
    bx_wait_workers(broker, 1, 5000);
    zsock_t *c = bx_dealer(ep);
    s_send_requests(c, EN_MDP_CREDIT_MAX + 2);
    bx_wait_held(broker, EN_MDP_CREDIT_MAX, 2, 5000);
    zsock_destroy(&c);
    zsock_destroy(&w);
    en_broker_destroy(&broker);
}

//  A long call in one thread does not hold up a request queued behind it
//  at the same connection while another thread is free: the watchdog wakes
//  that thread (worker.h).
static void
long_call_does_not_hold_up_a_request_behind_it_when_a_thread_is_free(void **state)
{
    (void) state;
    bx_pool_rig_t rig;
    bx_pool_rig_up(&rig, "w", 1, 2, 4);
    char first[33], second[33];
    bx_start_provider(rig.client, "long", en_now_ms() + 30000, NULL, first);
    assert_true(bx_harness_wait_blocked(&rig.h, 1, 5000));
    bx_start_provider(rig.client, "short", en_now_ms() + 30000, NULL, second);
    // both went to the one connection (it has credit); the second is
    // answered while the first still runs
    en_result_t r;
    assert_int_equal(en_client_wait(rig.client, 5000, &r), 0);
    assert_string_equal(r.request_id, second);
    char *name = bx_provider_name_of(&r);
    assert_string_equal(name, "w:short");
    free(name);
    en_result_clear(&r);
    assert_true(bx_harness_wait_blocked(&rig.h, 1, 0));

    bx_harness_release(&rig.h);
    assert_int_equal(en_client_wait(rig.client, 5000, &r), 0);
    assert_string_equal(r.request_id, first);
    en_result_clear(&r);
    assert_int_equal(bx_stats(rig.broker).workers, 1);
    bx_pool_rig_down(&rig);
}

//  Many calls in flight through handler threads sharing a connection with
//  credit: each answered once, with its own result.
static void
burst_through_threads_sharing_a_credit_connection_is_answered_exactly_once(void **state)
{
    (void) state;
    bx_pool_rig_t rig;
    bx_pool_rig_up(&rig, "w", 0, 3, 16);
    enum { CALLS = 1000 };
    static bool seen[CALLS];
    for (int i = 0; i < CALLS; i++) {
        char type[16];
        snprintf(type, sizeof type, "p%d", i);
        bx_start_provider(rig.client, type, en_now_ms() + 60000, (void *) (intptr_t) (i + 1),
                          NULL);
    }
    for (int n = 0; n < CALLS; n++)
        bx_next_provider_result(rig.client, 20000, seen, CALLS, NULL, "w", "p");
    en_result_t extra;
    assert_int_equal(en_client_wait(rig.client, 200, &extra), -1);
    assert_int_equal(bx_harness_calls(&rig.h), CALLS);
    en_broker_stats_t stats = bx_stats(rig.broker);
    assert_int_equal(stats.requeued, 0);
    assert_int_equal(stats.malformed, 0);
    bx_pool_rig_down(&rig);
}

//  A draining worker answers what it has started and hands back what it
//  has not: the broker gives those to another worker when it hears the
//  worker's DISCONNECT, after the last reply.
static void
draining_worker_hands_back_requests_it_has_not_started(void **state)
{
    (void) state;
    bx_pool_rig_t rig;
    bx_pool_rig_up(&rig, "going", 1, 1, 4);
    char ids[3][33];
    for (int i = 0; i < 3; i++) {
        char type[16];
        snprintf(type, sizeof type, "t%d", i);
        bx_start_provider(rig.client, type, en_now_ms() + 30000, (void *) (intptr_t) (i + 1),
                          ids[i]);
    }
    assert_true(bx_harness_wait_blocked(&rig.h, 1, 5000));
    bx_wait_held(rig.broker, 3, 0, 5000); // t0 in hand, t1 and t2 queued at the worker

    bx_harness_t h2;
    bx_harness_init(&h2, "stays");
    bx_worker_spec_t spec = {rig.ep, bx_def("registry", &h2), 1};
    zactor_t *stays = zactor_new(bx_worker_actor, &spec);
    bx_wait_workers(rig.broker, 2, 5000);

    bx_pool_drain(rig.pool);
    bx_harness_release(&rig.h);
    bool seen[3] = {false};
    const char *by[3] = {"going", "stays", "stays"};
    // the worker answers t0, then says DISCONNECT; t1 and t2 go elsewhere
    for (int n = 0; n < 3; n++)
        assert_int_equal(bx_next_provider_result(rig.client, 10000, seen, 3,
                                                 (const char(*)[33]) ids, by[n], "t"),
                         n);
    en_result_t r;
    assert_int_equal(en_client_wait(rig.client, 200, &r), -1);
    assert_int_equal(bx_harness_calls(&rig.h), 1);
    assert_int_equal(bx_harness_calls(&h2), 2);
    en_broker_stats_t stats = bx_stats(rig.broker);
    assert_int_equal(stats.requeued, 2);
    assert_int_equal(stats.workers, 1);

    zactor_destroy(&stays);
    bx_pool_rig_down(&rig);
    bx_harness_fini(&h2);
}

//  --------------------------------------------------------------------------
//  8. Reply sizes: the request limit is not a reply limit

//  A service whose RegisteredProviders answers `copies` names, all the one
//  string `name`: a reply as big as a test wants, for the memory of a name.
typedef struct {
    char *name;
    size_t copies;
} s_big_t;

static int
s_big_names(en_call_t *call, const ProtobufCMessage *req, ProtobufCMessage *res_, en_err_t *err)
{
    (void) req;
    (void) err;
    s_big_t *big = call->service;
    En__RegisteredProvidersResult *res = (En__RegisteredProvidersResult *) res_;
    res->names = en_arena_array(call->arena, big->copies, sizeof(char *));
    for (size_t i = 0; i < big->copies; i++)
        res->names[i] = big->name;
    res->n_names = big->copies;
    return 0;
}

static const en_route_t s_big_routes[] = {
    {&en__environ__descriptor, "RegisteredProviders", s_big_names, 0},
};

enum { S_MIB = 1024 * 1024 };

//  A broker on tcp and one "big" worker over tcp, as a gateway and a
//  service process would talk.
typedef struct {
    en_broker_t *broker;
    s_big_t big;
    bx_worker_spec_t spec;
    zactor_t *worker;
    en_client_t *client;
} s_big_rig_t;

static void
s_big_rig_up(s_big_rig_t *rig)
{
    rig->broker = bx_broker("tcp://127.0.0.1:*", NULL, 0);
    rig->big.name = malloc(S_MIB + 1);
    memset(rig->big.name, 'n', S_MIB);
    rig->big.name[S_MIB] = '\0';
    rig->spec = (bx_worker_spec_t){en_broker_endpoint(rig->broker),
                                   {.name = "big",
                                    .routes = s_big_routes,
                                    .route_count = 1,
                                    .service = &rig->big},
                                   1};
    rig->worker = zactor_new(bx_worker_actor, &rig->spec);
    bx_wait_workers(rig->broker, 1, 5000);
    en_err_t err;
    rig->client = en_client_new(en_broker_endpoint(rig->broker), &err);
    assert_non_null(rig->client);
}

static void
s_big_rig_down(s_big_rig_t *rig)
{
    en_client_destroy(&rig->client);
    zactor_destroy(&rig->worker);
    en_broker_destroy(&rig->broker);
    free(rig->big.name);
}

static int
s_big_call(s_big_rig_t *rig, En__RegisteredProvidersResult **res, en_err_t *err)
{
    En__RegisteredProvidersRequest req = EN__REGISTERED_PROVIDERS_REQUEST__INIT;
    return en_client_call(rig->client, "big", "RegisteredProviders", NULL, &req.base,
                          &en__registered_providers_result__descriptor, (ProtobufCMessage **) res,
                          10000, err);
}

//  A listing bigger than any request may be (AllInstances of ~13,000
//  instances is) reaches the client whole, and the worker that sent it
//  keeps its connection: the gateway's socket must not take the request
//  limit for a reply limit.
static void
replies_larger_than_the_request_limit_reach_the_client(void **state)
{
    (void) state;
    s_big_rig_t rig = {0};
    s_big_rig_up(&rig);
    rig.big.copies = 6; // ~6 MiB, over EN_MAX_BODY
    assert_true(rig.big.copies * S_MIB > EN_MAX_BODY);
    En__RegisteredProvidersResult *res = NULL;
    en_err_t err;
    if (s_big_call(&rig, &res, &err) != 0)
        fail_msg("a reply of %zu MiB: %s %s", rig.big.copies, en_kind_name(err.kind),
                 err.message);
    assert_int_equal(res->n_names, rig.big.copies);
    for (size_t i = 0; i < res->n_names; i++)
        assert_string_equal(res->names[i], rig.big.name);
    protobuf_c_message_free_unpacked(&res->base, NULL);
    en_broker_stats_t stats = bx_stats(rig.broker);
    assert_int_equal(stats.workers, 1);
    assert_int_equal(stats.malformed, 0);
    s_big_rig_down(&rig);
}

//  A reply over the reply limit is an error the service sends instead: sent,
//  it would cost the worker its connection and come back as a requeue to
//  every worker in turn. The worker serves the next call.
static void
a_reply_over_the_reply_limit_is_refused_by_the_service(void **state)
{
    (void) state;
    s_big_rig_t rig = {0};
    s_big_rig_up(&rig);
    rig.big.copies = EN_MAX_REPLY_BODY / S_MIB + 1; // the names are one string: no memory
    En__RegisteredProvidersResult *res = NULL;
    en_err_t err;
    assert_int_equal(s_big_call(&rig, &res, &err), -1);
    assert_int_equal(err.kind, EN_NOT_SUPPORTED);
    char want[128];
    snprintf(want, sizeof want, "exceeds the limit of %d bytes", EN_MAX_REPLY_BODY);
    assert_non_null(strstr(err.message, want));
    assert_non_null(strstr(err.message, "RegisteredProviders: reply of "));

    rig.big.copies = 1;
    if (s_big_call(&rig, &res, &err) != 0)
        fail_msg("the next call: %s", err.message);
    assert_int_equal(res->n_names, 1);
    protobuf_c_message_free_unpacked(&res->base, NULL);
    assert_int_equal(bx_stats(rig.broker).workers, 1);
    s_big_rig_down(&rig);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pipelined_calls_are_matched_by_request_id_each_exactly_once),
        cmocka_unit_test(mmi_service_answers_200_for_registered_404_for_unknown),
        cmocka_unit_test(mmi_x_epoch_is_stable_per_broker_start),
        cmocka_unit_test(broker_drops_or_rejects_malformed_input_and_keeps_serving),
        cmocka_unit_test(service_answers_not_valid_for_unknown_method_and_bad_body),
        cmocka_unit_test(worker_drops_malformed_requests_from_a_fake_broker),
        cmocka_unit_test(request_past_its_deadline_gets_timeout),
        cmocka_unit_test(request_for_a_service_without_workers_gets_unavailable_at_its_deadline),
        cmocka_unit_test(request_queued_behind_a_busy_worker_gets_timeout_at_its_deadline),
        cmocka_unit_test(resend_of_a_call_in_progress_runs_once_and_answers_the_newest_address),
        cmocka_unit_test(forwarded_public_method_reaches_the_owning_service_and_names_environ),
        cmocka_unit_test(worker_with_credit_gets_up_to_k_requests_and_answers_them_in_any_order),
        cmocka_unit_test(plain_worker_without_a_credit_frame_gets_one_request_at_a_time),
        cmocka_unit_test(broker_disconnects_a_worker_whose_credit_frame_is_malformed),
        cmocka_unit_test(long_call_does_not_hold_up_a_request_behind_it_when_a_thread_is_free),
        cmocka_unit_test(burst_through_threads_sharing_a_credit_connection_is_answered_exactly_once),
        cmocka_unit_test(draining_worker_hands_back_requests_it_has_not_started),
        cmocka_unit_test(replies_larger_than_the_request_limit_reach_the_client),
        cmocka_unit_test(a_reply_over_the_reply_limit_is_refused_by_the_service),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
