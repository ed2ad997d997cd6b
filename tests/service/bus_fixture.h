/*  bus_fixture.h — a test service, worker threads, raw 7/MDP peers and
    child processes for the bus tests (test_bus.c).

    The test API is `service Environ` from environ.proto. RegisteredProviders
    answers the worker's tag; Provider answers "<tag>:<type>" ("missing"
    gives NOT_FOUND) and its first `block_calls` calls block until the test
    releases them, so a test decides which worker holds which request and
    when. Raw DEALER helpers speak MDP frame by frame, for what the client
    API would never send. Child processes are this test binary re-executed
    (`--child stuck|slow <gateway> <notify-fd> <go-fd> <credit>`):
    en_service_run with one thread whose Provider handler writes a byte to
    notify-fd when a call arrives, then never returns (stuck) or returns
    after reading a byte from go-fd (slow). */
#ifndef EN_TEST_BUS_FIXTURE_H
#define EN_TEST_BUS_FIXTURE_H

#include <czmq.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "bus/broker.h"
#include "bus/client.h"
#include "bus/service.h"
#include "bus.pb-c.h"

//  --------------------------------------------------------------------------
//  The test service (its state is def.service; handlers run in worker threads)

typedef struct {
    const char *tag; // names the replier in every result
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int calls;       // Provider calls started
    int block_calls; // this many Provider calls block until `release`
    int blocked;     // Provider calls blocked now
    bool release;
    int notify_fd; // child: a byte per Provider call (-1: none)
    int go_fd;     // child: read a byte before replying (-1: none)
    bool stuck;    // child: never reply
} bx_harness_t;

void bx_harness_init(bx_harness_t *h, const char *tag);
void bx_harness_fini(bx_harness_t *h);
int bx_harness_calls(bx_harness_t *h);
//  Wait until `n` Provider calls are blocked in the handler.
bool bx_harness_wait_blocked(bx_harness_t *h, int n, int timeout_ms);
void bx_harness_release(bx_harness_t *h);
//  The service `name` with the two routes over h.
en_service_def_t bx_def(const char *name, bx_harness_t *h);

//  A worker thread (zactor_new(bx_worker_actor, &spec)): a dispatcher
//  behind an en_worker_t, as one thread of en_service_run, but stopped by
//  zactor_destroy. spec must outlive the actor.
typedef struct {
    const char *gateways;
    en_service_def_t def;
    int credit; // 0 or 1: a plain 7/MDP worker
} bx_worker_spec_t;

void bx_worker_actor(zsock_t *pipe, void *arg);

//  Handler threads sharing one worker, as en_service_run runs them, with
//  a dispatcher each; stopped by bx_pool_stop (drain, then join).
typedef struct bx_pool bx_pool_t;

bx_pool_t *bx_pool_start(const char *gateways, const en_service_def_t *def, int threads,
                         int credit);
//  Drain its worker now (requests not started go back to the broker).
void bx_pool_drain(bx_pool_t *self);
void bx_pool_stop(bx_pool_t **self_p);

//  A broker on an ephemeral tcp port, a pool of `threads` sharing one
//  "registry" connection with `credit`, whose first `block_calls` Provider
//  calls block until released, and a client already connected (so calls
//  reach the broker in the order started). A rig must not move while up.
typedef struct {
    en_broker_t *broker;
    const char *ep;
    bx_harness_t h;
    en_service_def_t def;
    bx_pool_t *pool;
    en_client_t *client;
} bx_pool_rig_t;

void bx_pool_rig_up(bx_pool_rig_t *rig, const char *tag, int block_calls, int threads,
                    int credit);
void bx_pool_rig_down(bx_pool_rig_t *rig);

//  --------------------------------------------------------------------------
//  Brokers

//  A broker bound to endpoints; the last must be tcp://127.0.0.1:*.
en_broker_t *bx_broker(const char *endpoints, const en_forward_t *forwards, size_t forward_count);
en_broker_stats_t bx_stats(en_broker_t *broker);
//  Poll the broker until it has `n` workers.
void bx_wait_workers(en_broker_t *broker, size_t n, int timeout_ms);

//  The common setup: a broker on an ephemeral tcp port and one "registry"
//  worker thread whose first `block_calls` Provider calls block until the
//  test releases them. A rig must not move while it is up.
typedef struct {
    en_broker_t *broker;
    const char *ep;
    bx_harness_t h;
    bx_worker_spec_t spec;
    zactor_t *worker;
} bx_rig_t;

void bx_rig_up(bx_rig_t *rig, const char *tag, int block_calls, const en_forward_t *forwards,
               size_t forward_count);
void bx_rig_down(bx_rig_t *rig);

//  An endpoint nothing listens on: a port bound but never listened on, so a
//  connect is refused and no other process (tests run in parallel) can take
//  the port while we hold it. Returns the fd to close afterwards.
int bx_dead_endpoint(char *endpoint, size_t size);

//  --------------------------------------------------------------------------
//  Raw 7/MDP peers

zsock_t *bx_dealer(const char *endpoint);
//  A packed en.Request whose body is raw bytes.
zframe_t *bx_envelope_raw(const char *id, const char *method, int64_t deadline, const void *body,
                          size_t size);
//  A packed en.Request for Provider(type).
zframe_t *bx_provider_envelope(const char *id, const char *type, int64_t deadline);
//  Send frames given as (data, size) pairs; size (size_t) -1 = strlen.
void bx_send_frames(zsock_t *s, int count, ...);
#define BX_S(str) (str), (size_t) -1
//  MDP/Client REQUEST from a raw DEALER; takes the body.
void bx_client_send(zsock_t *s, const char *service, zframe_t **body_p);
//  Receive an MDP/Client REPLY on a raw DEALER; checks its frames and
//  returns the body frame (NULL on timeout).
zframe_t *bx_client_recv(zsock_t *s, const char *want_service, int timeout_ms);
//  The same, unpacked; fails the test on timeout.
En__Reply *bx_client_recv_reply(zsock_t *s, const char *want_service, int timeout_ms);
//  A reply that carries an error of `kind` and exactly `message`.
void bx_assert_reply_error(En__Reply *reply, const char *id, en_kind_t kind, const char *message);
//  A raw 7/MDP worker: a DEALER that has said READY for `service`, with a
//  credit frame when `credit` is not NULL (sent as given, valid or not).
zsock_t *bx_raw_worker(const char *endpoint, const char *service, const char *credit);
//  The next REQUEST to a raw worker (heartbeats skipped): its address and
//  body frames (caller destroys); false on timeout.
bool bx_raw_worker_recv(zsock_t *s, zframe_t **address, zframe_t **body, int timeout_ms);
//  REPLY [address][""][body] from a raw worker; takes the body.
void bx_raw_worker_reply(zsock_t *s, zframe_t *address, zframe_t **body_p);
//  Until the broker holds `held` requests at workers and queues `queued`.
void bx_wait_held(en_broker_t *broker, size_t held, size_t queued, int timeout_ms);

//  An 8/MMI call from a raw DEALER; returns the answer (caller frees).
char *bx_mmi(zsock_t *s, const char *service, const char *arg);
//  Until a broker answers `code` to mmi.service for `name`.
void bx_wait_mmi(zsock_t *s, const char *name, const char *code, int timeout_ms);

//  --------------------------------------------------------------------------
//  Through the client API

//  Start Provider(type) on "registry" with an absolute deadline; id (may
//  be NULL) receives the request id, user is handed back with the result.
void bx_start_provider(en_client_t *client, const char *type, int64_t deadline, void *user,
                       char id[33]);
//  The provider name in a Provider result (caller frees).
char *bx_provider_name_of(const en_result_t *r);
//  The next result of Provider calls started with user = (void *) (i + 1)
//  for i in [0, count) and type "<prefix><i>": not one seen before (it is
//  marked in seen[]), OK, with request id ids[i] when ids is given, and
//  answered by the worker tagged `tag`. Returns i.
int bx_next_provider_result(en_client_t *client, int timeout_ms, bool *seen, int count,
                            const char (*ids)[33], const char *tag, const char *prefix);
//  Provider(type) via en_client_call; *name (caller frees) on success.
int bx_call_provider(en_client_t *client, const char *service, const char *type, int timeout_ms,
                     char **name, en_err_t *err);
//  Provider(type) succeeds and names `want`.
void bx_assert_provider_call(en_client_t *client, const char *service, const char *type,
                             const char *want);

//  --------------------------------------------------------------------------
//  Child processes

typedef struct {
    pid_t pid;
    int notify; // read end: a byte per Provider call in the child
    int go;     // write end: a byte lets a slow call finish
} bx_child_t;

//  Fork and exec this binary as a "stuck" or "slow" worker of gateway:
//  one handler thread, one connection with the given credit (mdp.h).
bx_child_t bx_child_start(const char *mode, const char *gateway, int credit);
//  Run the client (its first send may wait for the connection) until the
//  child's handler says it holds a call.
void bx_child_wait_notify(bx_child_t *child, en_client_t *client, int timeout_ms);
//  Reap the child within timeout_ms; returns its wait status.
int bx_child_reap(bx_child_t *child, int timeout_ms);
//  main() of a child (argv[1] == "--child").
int bx_child_main(int argc, char **argv);

#endif
