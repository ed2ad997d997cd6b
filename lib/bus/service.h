/*  service.h — the runtime every service process shares.

    A service is data: a name, a route table from method name to handler,
    and optional per-thread state (each worker thread opens its own SQLite
    handle, for instance). The runtime owns everything about sockets,
    decoding, validation, encoding, deadlines, error replies and logging of
    failures, so a handler is only the behaviour:

        static int
        s_clouds (en_call_t *call, const ProtobufCMessage *req,
                  ProtobufCMessage *res, en_err_t *err);

    `req` is the decoded request (freed by the runtime after the call);
    `res` is a zeroed, initialised result message allocated in the call's
    arena; the handler fills it with memory from `call->arena` (or memory
    that outlives the call) and returns 0, or returns -1 with err set.

    Request and result descriptors come from the protobuf service named in
    the route (protoc-c generates a ServiceDescriptor per `service` block),
    so a route is one line. */
#ifndef EN_SERVICE_H
#define EN_SERVICE_H

#include <czmq.h>
#include <protobuf-c/protobuf-c.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/err.h"

typedef struct {
    const char *request_id;
    const char *model_uuid;
    const char *method;
    int64_t deadline_ms; // wall clock; 0 = none
    uint32_t attempt;
    en_arena_t *arena;
    void *service; // en_service_def_t.service
    void *state;   // per-thread state from thread_init
} en_call_t;

typedef int(en_handler_fn)(en_call_t *call, const ProtobufCMessage *req, ProtobufCMessage *res,
                           en_err_t *err);

//  Route flags.
//  EN_ROUTE_SECRETS: the method carries credentials, and Juju's error
//  wording may quote a value (`unknown key "k" (value "v")`): its errors
//  are logged by kind only; the caller still gets the whole message.
#define EN_ROUTE_SECRETS 0x1u

typedef struct {
    const ProtobufCServiceDescriptor *api;
    const char *method;
    en_handler_fn *fn;
    unsigned flags;
} en_route_t;

typedef struct {
    const char *name; // MDP service name
    const en_route_t *routes;
    size_t route_count;
    void *service;
    void *(*thread_init)(void *service, en_err_t *err);
    void (*thread_fini)(void *service, void *state);
} en_service_def_t;

//  Unpack a message into the call's arena: it lives until the call ends
//  and needs no free (results built from another service's reply, stored
//  replies). NULL when the bytes are not such a message.
ProtobufCMessage *en_call_unpack(en_call_t *call, const ProtobufCMessageDescriptor *desc,
                                 size_t size, const uint8_t *data);

//  One route table out of a service's groups (one group per handler file),
//  in order; *count receives the total. The caller frees the table.
typedef struct {
    const en_route_t *routes;
    size_t count;
} en_route_group_t;

en_route_t *en_routes_join(const en_route_group_t *groups, size_t group_count, size_t *count);

//  What every service object starts with: its state directory, its
//  gateways and its definition (routes joined from the groups, the thread
//  hooks, `service` pointing at the object). NOT_VALID `the <name> service
//  needs a state directory (--home)` without a home.
typedef struct {
    char *home;
    char *gateways; // "" when none (tests)
    en_service_def_t def;
} en_service_base_t;

int en_service_base_init(en_service_base_t *base, const char *name, const char *home,
                         const char *gateways, const en_route_group_t *groups, size_t group_count,
                         void *service, void *(*thread_init)(void *service, en_err_t *err),
                         void (*thread_fini)(void *service, void *state), en_err_t *err);
void en_service_base_fini(en_service_base_t *base);

//  A service executable's main: block signals, parse the options, make the
//  service object with `make` (home, gateways), serve it until SIGTERM,
//  then `destroy` it. Returns the exit status: 2 for bad options, 1 when
//  the object cannot be made or the drain fails, else 0.
int en_service_main(int argc, char **argv, const char *name,
                    const en_service_def_t *(*make)(const char *home, const char *gateways,
                                                    en_err_t *err),
                    void (*destroy)(const en_service_def_t *def));

//  A dispatcher decodes, routes and encodes for one thread; no sockets.
typedef struct en_dispatcher en_dispatcher_t;

en_dispatcher_t *en_dispatcher_new(const en_service_def_t *def, en_err_t *err);
void en_dispatcher_destroy(en_dispatcher_t **self_p);
//  Handle one packed en.Request; returns a packed en.Reply (never NULL).
zframe_t *en_dispatcher_handle(en_dispatcher_t *self, zframe_t *request);
//  The same on bytes, the reply packed into *reply (initialised here):
//  what a worker thread sends, with no frame copied on the way.
void en_dispatcher_handle_msg(en_dispatcher_t *self, const uint8_t *request, size_t size,
                              zmq_msg_t *reply);

//  Serve one message from a worker's pipe (en_worker_pipe; see worker.h):
//  a request is dispatched and its reply handed back to the worker.
//  Returns 0, or -1 when the worker said DRAINED or its actor is gone.
//  A thread that drives its worker through the pipe loops on this (a
//  test's own thread; en_service_run's threads use en_worker_recv).
int en_dispatcher_serve(en_dispatcher_t *self, zsock_t *pipe);

//  Serve requests from a worker (see worker.h), which other threads may
//  share, until it has drained: what each handler thread of en_service_run
//  runs.
typedef struct en_worker en_worker_t;
void en_dispatcher_run(en_dispatcher_t *self, en_worker_t *worker);

//  In-process call for service tests: packs req, dispatches, unpacks the
//  result into *res (caller frees with protobuf_c_message_free_unpacked).
int en_dispatcher_call(en_dispatcher_t *self, const char *method, const char *model_uuid,
                       const ProtobufCMessage *req, ProtobufCMessage **res, en_err_t *err);

#define EN_DEFAULT_LANES 1
//  Default credit of each connection (mdp.h), per handler thread.
#define EN_DEFAULT_CREDIT_PER_THREAD 8

//  Options common to every service executable.
typedef struct {
    const char *gateways; // comma-separated gateway endpoints
    const char *home;     // state directory
    int threads;          // handler threads (default 4)
    int replica;          // replica index, for logs
    int lanes;            // worker connections per gateway (0: default)
    int credit;           // requests one connection may hold (0: default; 1: plain 7/MDP)
    char home_buf[4096];  // storage for a derived home
} en_service_opts_t;

//  Parse --gateway, --home, --threads, --replica, --lanes, --credit (and
//  the environment: ENVIRONS_GATEWAY, ENVIRONS_HOME). Returns -1 with err
//  on bad arguments.
int en_service_opts_parse(en_service_opts_t *opts, int argc, char **argv, en_err_t *err);

//  Serve until SIGTERM or SIGINT, then drain: the threads finish the
//  requests in hand (those not started go back to the gateways), every
//  gateway hears DISCONNECT, and the threads exit. Returns 0 after a clean
//  drain.
int en_service_run(const en_service_def_t *def, const en_service_opts_t *opts);

//  Block SIGINT/SIGTERM (and SIGPIPE) in this thread and those it creates,
//  and turn czmq's own handler off; call first thing in main().
void en_signals_block(void);
//  Wait for SIGINT/SIGTERM; returns the signal number.
int en_signals_wait(void);

#endif
