/*  service.c — decode, route, encode; threads; drain (see service.h).

    Each handler thread owns one dispatcher (routes + arena + per-thread
    state); all of them share one en_worker_t, the process's connections
    to every gateway, which they drive themselves (see worker.h: leader
    and followers, credit, a watchdog for heartbeats during long calls).
    The main thread only waits for a signal, then drains the worker: the
    threads finish what they hold and leave once it has drained. */
#include "bus/service.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus.pb-c.h"
#include "bus/envelope.h"
#include "bus/mdp.h"
#include "bus/worker.h"
#include "common/log.h"
#include "common/paths.h"

typedef struct {
    const en_route_t *route;
    const ProtobufCMethodDescriptor *method;
} slot_t;

struct en_dispatcher {
    const en_service_def_t *def;
    zhash_t *slots; // method name -> slot_t*
    slot_t *slot_mem;
    en_arena_t *arena;
    void *state;
};

static void *
s_arena_alloc(void *arena, size_t size)
{
    return en_arena_alloc(arena, size);
}

static void
s_arena_free(void *arena, void *p)
{
    (void) arena;
    (void) p; // freed with the arena
}

ProtobufCMessage *
en_call_unpack(en_call_t *call, const ProtobufCMessageDescriptor *desc, size_t size,
               const uint8_t *data)
{
    ProtobufCAllocator alloc = {s_arena_alloc, s_arena_free, call->arena};
    return protobuf_c_message_unpack(desc, &alloc, size, data);
}

en_route_t *
en_routes_join(const en_route_group_t *groups, size_t group_count, size_t *count)
{
    size_t n = 0;
    for (size_t g = 0; g < group_count; g++)
        n += groups[g].count;
    en_route_t *routes = calloc(n ? n : 1, sizeof(en_route_t));
    size_t at = 0;
    for (size_t g = 0; g < group_count; g++) {
        memcpy(routes + at, groups[g].routes, groups[g].count * sizeof(en_route_t));
        at += groups[g].count;
    }
    *count = n;
    return routes;
}

int
en_service_base_init(en_service_base_t *base, const char *name, const char *home,
                     const char *gateways, const en_route_group_t *groups, size_t group_count,
                     void *service, void *(*thread_init)(void *service, en_err_t *err),
                     void (*thread_fini)(void *service, void *state), en_err_t *err)
{
    memset(base, 0, sizeof *base);
    if (!home || !*home)
        return en_err_set(err, EN_NOT_VALID, "the %s service needs a state directory (--home)",
                          name);
    base->home = strdup(home);
    base->gateways = strdup(gateways ? gateways : "");
    size_t n = 0;
    en_route_t *routes = en_routes_join(groups, group_count, &n);
    base->def = (en_service_def_t){
        .name = name,
        .routes = routes,
        .route_count = n,
        .service = service,
        .thread_init = thread_init,
        .thread_fini = thread_fini,
    };
    return 0;
}

void
en_service_base_fini(en_service_base_t *base)
{
    free(base->home);
    free(base->gateways);
    free((en_route_t *)base->def.routes);
    memset(base, 0, sizeof *base);
}

int
en_service_main(int argc, char **argv, const char *name,
                const en_service_def_t *(*make)(const char *home, const char *gateways,
                                                en_err_t *err),
                void (*destroy)(const en_service_def_t *def))
{
    en_signals_block();
    en_service_opts_t opts;
    en_err_t err;
    if (en_service_opts_parse(&opts, argc, argv, &err)) {
        fprintf(stderr, "ERROR %s\n", err.message);
        return 2;
    }
    const en_service_def_t *def = make(opts.home, opts.gateways, &err);
    if (!def) {
        en_error("%s: %s", name, err.message);
        return 1;
    }
    int rc = en_service_run(def, &opts);
    destroy(def);
    return rc == 0 ? 0 : 1;
}

en_dispatcher_t *
en_dispatcher_new(const en_service_def_t *def, en_err_t *err)
{
    en_dispatcher_t *self = calloc(1, sizeof *self);
    self->def = def;
    self->slots = zhash_new();
    self->slot_mem = calloc(def->route_count ? def->route_count : 1, sizeof(slot_t));
    for (size_t i = 0; i < def->route_count; i++) {
        const en_route_t *r = &def->routes[i];
        const ProtobufCMethodDescriptor *m =
            protobuf_c_service_descriptor_get_method_by_name(r->api, r->method);
        // a route naming a method its API lacks is a programming error
        assert(m);
        self->slot_mem[i] = (slot_t){r, m};
        zhash_insert(self->slots, r->method, &self->slot_mem[i]);
    }
    self->arena = en_arena_new();
    if (def->thread_init) {
        self->state = def->thread_init(def->service, err);
        if (!self->state) {
            en_dispatcher_destroy(&self);
            return NULL;
        }
    }
    return self;
}

void
en_dispatcher_destroy(en_dispatcher_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    en_dispatcher_t *self = *self_p;
    if (self->state && self->def->thread_fini)
        self->def->thread_fini(self->def->service, self->state);
    zhash_destroy(&self->slots);
    free(self->slot_mem);
    en_arena_destroy(&self->arena);
    free(self);
    *self_p = NULL;
}

void
en_dispatcher_handle_msg(en_dispatcher_t *self, const uint8_t *data, size_t size, zmq_msg_t *reply)
{
    // the envelope, the request and the result all live in the arena, so
    // a call makes no malloc of its own once the arena has grown to size
    en_arena_reset(self->arena);
    ProtobufCAllocator alloc = {s_arena_alloc, s_arena_free, self->arena};
    en_err_t err;
    en_err_clear(&err);
    char id[EN_REQUEST_ID_MAX];
    En__Request *req = en_request_decode(data, size, &alloc, id, &err);
    if (!req) {
        en_log(EN_LOG_WARN, id, "%s: %s", self->def->name, err.message);
        en_reply_error_msg(reply, id, &err);
        return;
    }
    ProtobufCMessage *in = NULL;
    slot_t *slot = zhash_lookup(self->slots, req->method);
    if (!slot) {
        en_err_set(&err, EN_NOT_VALID, "unknown method \"%s\" for service \"%s\"", req->method,
                   self->def->name);
        goto fail;
    }
    if (req->deadline_ms && (int64_t) req->deadline_ms <= en_now_ms()) {
        en_err_set(&err, EN_TIMEOUT, "%s: deadline passed before the call started", req->method);
        goto fail;
    }
    in = protobuf_c_message_unpack(slot->method->input, &alloc, req->body.len, req->body.data);
    if (!in) {
        en_err_set(&err, EN_NOT_VALID, "%s: request body is not a valid %s message", req->method,
                   slot->method->input->name);
        goto fail;
    }
    const ProtobufCMessageDescriptor *od = slot->method->output;
    ProtobufCMessage *out = en_arena_alloc(self->arena, od->sizeof_message);
    od->message_init(out);
    en_call_t call = {
        .request_id = req->request_id,
        .model_uuid = req->model_uuid,
        .method = req->method,
        .deadline_ms = (int64_t) req->deadline_ms,
        .attempt = req->attempt,
        .arena = self->arena,
        .service = self->def->service,
        .state = self->state,
    };
    if (slot->route->fn(&call, in, out, &err) != 0) {
        if (err.kind == EN_OK)
            en_err_set(&err, EN_INTERNAL, "%s failed without saying why", req->method);
        goto fail;
    }
    size_t out_size = protobuf_c_message_get_packed_size(out);
    if (out_size > EN_MAX_REPLY_BODY) {
        // sent, it would only cost us the connection (the gateway's socket
        // drops it) and the request would be requeued to the next worker
        en_err_set(&err, EN_NOT_SUPPORTED, "%s: reply of %zu bytes exceeds the limit of %d bytes",
                   req->method, out_size, EN_MAX_REPLY_BODY);
        goto fail;
    }
    uint8_t *buf = out_size ? en_arena_alloc(self->arena, out_size) : NULL;
    if (out_size)
        protobuf_c_message_pack(out, buf);
    en_reply_ok_msg(reply, req->request_id, buf, out_size);
    en_log(EN_LOG_DEBUG, req->request_id, "%s.%s ok", self->def->name, req->method);
    return;

fail:
    // the one place an error becomes a reply, so the one place it is logged
    en_log(err.kind == EN_INTERNAL ? EN_LOG_ERROR : EN_LOG_INFO, req->request_id, "%s.%s: %s %s",
           self->def->name, req->method, en_kind_name(err.kind),
           slot && (slot->route->flags & EN_ROUTE_SECRETS) ? "(message withheld: may quote a "
                                                             "credential)"
                                                           : err.message);
    en_reply_error_msg(reply, req->request_id, &err);
}

zframe_t *
en_dispatcher_handle(en_dispatcher_t *self, zframe_t *frame)
{
    zmq_msg_t reply;
    en_dispatcher_handle_msg(self, zframe_data(frame), zframe_size(frame), &reply);
    zframe_t *out = zframe_new(zmq_msg_data(&reply), zmq_msg_size(&reply));
    zmq_msg_close(&reply);
    return out;
}

int
en_dispatcher_call(en_dispatcher_t *self, const char *method, const char *model_uuid,
                   const ProtobufCMessage *req, ProtobufCMessage **res, en_err_t *err)
{
    *res = NULL;
    slot_t *slot = zhash_lookup(self->slots, method);
    En__Request env = EN__REQUEST__INIT;
    char id[33];
    en_request_id_new(id);
    env.request_id = id;
    env.method = (char *) method;
    env.model_uuid = (char *) (model_uuid ? model_uuid : "");
    size_t size = protobuf_c_message_get_packed_size(req);
    env.body.data = malloc(size ? size : 1);
    env.body.len = protobuf_c_message_pack(req, env.body.data);
    zframe_t *frame = en_frame_pack(&env.base);
    free(env.body.data);
    zframe_t *reply_frame = en_dispatcher_handle(self, frame);
    zframe_destroy(&frame);
    En__Reply *reply =
        en__reply__unpack(NULL, zframe_size(reply_frame), zframe_data(reply_frame));
    zframe_destroy(&reply_frame);
    int rc = -1;
    if (!reply)
        en_err_set(err, EN_INTERNAL, "reply is not an en.Reply");
    else if (reply->error && reply->error->kind != EN__ERROR_KIND__OK)
        en_err_from_wire(err, reply->error);
    else if (!slot)
        en_err_set(err, EN_INTERNAL, "no route for %s", method);
    else {
        *res = protobuf_c_message_unpack(slot->method->output, NULL, reply->body.len,
                                         reply->body.data);
        rc = *res ? 0 : en_err_set(err, EN_INTERNAL, "result does not decode");
    }
    if (reply)
        en__reply__free_unpacked(reply, NULL);
    return rc;
}

void
en_dispatcher_run(en_dispatcher_t *self, en_worker_t *worker)
{
    // this thread takes requests off the sockets itself: no thread hop
    // between socket and handler; NULL once the worker has drained
    en_job_t *job;
    while ((job = en_worker_recv(worker, -1))) {
        size_t size;
        const uint8_t *body = en_job_body(job, &size);
        zmq_msg_t reply;
        en_dispatcher_handle_msg(self, body, size, &reply);
        en_worker_reply(worker, &job, &reply);
    }
}

int
en_dispatcher_serve(en_dispatcher_t *self, zsock_t *pipe)
{
    zmsg_t *msg = zmsg_recv(pipe);
    char *verb = msg ? zmsg_popstr(msg) : NULL;
    if (verb && streq(verb, "REQ") && zmsg_size(msg) == 3) {
        zframe_t *token = zmsg_pop(msg);
        zframe_t *client = zmsg_pop(msg);
        zframe_t *body = zmsg_pop(msg);
        zframe_t *reply = en_dispatcher_handle(self, body);
        zmsg_t *out = zmsg_new();
        zmsg_addstr(out, "REP");
        zmsg_append(out, &token);
        zmsg_append(out, &client);
        zmsg_append(out, &reply);
        if (zmsg_send(&out, pipe))
            zmsg_destroy(&out);
        zframe_destroy(&body);
    }
    int rc = !verb || streq(verb, "DRAINED") ? -1 : 0;
    free(verb);
    zmsg_destroy(&msg);
    return rc;
}

//  --------------------------------------------------------------------------
//  Options and signals

int
en_service_opts_parse(en_service_opts_t *opts, int argc, char **argv, en_err_t *err)
{
    opts->gateways = getenv("ENVIRONS_GATEWAY");
    opts->home = getenv("ENVIRONS_HOME");
    opts->threads = 4;
    opts->replica = 0;
    opts->lanes = 0;
    opts->credit = 0;
    static const struct option longopts[] = {
        {"gateway", required_argument, NULL, 'g'}, {"home", required_argument, NULL, 'h'},
        {"threads", required_argument, NULL, 't'}, {"replica", required_argument, NULL, 'r'},
        {"lanes", required_argument, NULL, 'l'},   {"credit", required_argument, NULL, 'c'},
        {NULL, 0, NULL, 0},
    };
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'g':
            opts->gateways = optarg;
            break;
        case 'h':
            opts->home = optarg;
            break;
        case 't':
            opts->threads = atoi(optarg);
            if (opts->threads < 1 || opts->threads > 256)
                return en_err_set(err, EN_NOT_VALID, "--threads must be 1..256, got %s", optarg);
            break;
        case 'r':
            opts->replica = atoi(optarg);
            break;
        case 'l':
            opts->lanes = atoi(optarg);
            if (opts->lanes < 1 || opts->lanes > 16)
                return en_err_set(err, EN_NOT_VALID, "--lanes must be 1..16, got %s", optarg);
            break;
        case 'c':
            opts->credit = atoi(optarg);
            if (opts->credit < 1 || opts->credit > EN_MDP_CREDIT_MAX)
                return en_err_set(err, EN_NOT_VALID, "--credit must be 1..%d, got %s",
                                  EN_MDP_CREDIT_MAX, optarg);
            break;
        default:
            return en_err_set(err, EN_NOT_VALID,
                              "usage: %s --gateway EP[,EP] [--home DIR] [--threads N] "
                              "[--replica I] [--lanes L] [--credit K]",
                              argv[0]);
        }
    }
    if ((!opts->home || !*opts->home) && en_home(opts->home_buf, sizeof opts->home_buf) == 0)
        opts->home = opts->home_buf;
    if (!opts->gateways || !*opts->gateways)
        return en_err_set(err, EN_NOT_VALID, "no gateway: pass --gateway or set ENVIRONS_GATEWAY");
    return 0;
}

void
en_signals_block(void)
{
    zsys_handler_set(NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int
en_signals_wait(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    int sig = 0;
    while (sigwait(&set, &sig) != 0)
        ;
    return sig;
}

//  --------------------------------------------------------------------------
//  Worker threads

typedef struct {
    en_dispatcher_t *dispatcher; // built by the main thread, handed off
    en_worker_t *worker;         // shared by every thread
    pthread_t thread;
} thread_arg_t;

static void *
s_thread_main(void *arg_)
{
    thread_arg_t *arg = arg_;
    en_dispatcher_run(arg->dispatcher, arg->worker);
    return NULL;
}

int
en_service_run(const en_service_def_t *def, const en_service_opts_t *opts)
{
    char ident[64];
    snprintf(ident, sizeof ident, "%s/%d", def->name, opts->replica);
    en_log_set_ident(ident);
    // czmq 4.2.1's zsys_init is not safe to race: it marks itself done and
    // then asserts no socket exists yet, so threads that open their first
    // sockets together can abort the process; initialise it here, alone
    zsys_init();
    int n = opts->threads > 0 ? opts->threads : 4;
    thread_arg_t *args = calloc((size_t) n, sizeof *args);
    // Build every thread's state here first, so a service that cannot
    // start (a database it cannot open) exits at once with the reason
    // instead of waiting for a signal with no one serving. SQLite handles
    // are handed off whole to their thread.
    // One worker serves every thread: `lanes` connections per gateway
    // (default 1), each with credit (see mdp.h) so the broker can hand the
    // process a burst of requests that one wake-up reads.
    int nl = opts->lanes > 0 ? opts->lanes : EN_DEFAULT_LANES;
    int ngw = 1;
    for (const char *c = opts->gateways; *c; c++)
        ngw += *c == ',';
    if (ngw * nl > EN_WORKER_MAX_LINKS) {
        // every gateway must get at least one connection: fewer lanes
        nl = EN_WORKER_MAX_LINKS / ngw > 0 ? EN_WORKER_MAX_LINKS / ngw : 1;
        en_warn("%d gateways: %d lane(s) per gateway", ngw, nl);
    }
    size_t cap = (strlen(opts->gateways) + 1) * (size_t) nl + 1;
    char *lanes = calloc(1, cap);
    for (int l = 0; l < nl; l++)
        snprintf(lanes + strlen(lanes), cap - strlen(lanes), "%s%s", l ? "," : "",
                 opts->gateways);
    int credit = opts->credit > 0 ? opts->credit : EN_DEFAULT_CREDIT_PER_THREAD * n;
    if (credit > EN_MDP_CREDIT_MAX)
        credit = EN_MDP_CREDIT_MAX;
    int rc = 0, started = 0;
    en_err_t err;
    en_worker_t *worker = NULL;
    for (int i = 0; i < n && rc == 0; i++) {
        args[i].dispatcher = en_dispatcher_new(def, &err);
        rc = args[i].dispatcher ? 0 : -1;
    }
    if (rc == 0) {
        en_worker_config_t config = {.gateways = lanes, .service = def->name, .credit = credit};
        worker = en_worker_new(&config, &err);
        rc = worker ? 0 : -1;
    }
    if (rc != 0)
        en_error("%s cannot start: %s", def->name, err.message);
    for (int i = 0; i < n && rc == 0; i++, started++) {
        args[i].worker = worker;
        if (pthread_create(&args[i].thread, NULL, s_thread_main, &args[i]) != 0) {
            en_error("%s: cannot create thread %d", def->name, i);
            rc = -1;
            break;
        }
    }
    if (rc == 0) {
        en_info("serving %s with %d threads via %s (credit %d)", def->name, n, opts->gateways,
                credit);
        int sig = en_signals_wait();
        en_info("signal %d: draining", sig);
    }
    if (worker)
        en_worker_drain(worker); // the threads finish what they hold, then leave
    for (int i = 0; i < started; i++)
        pthread_join(args[i].thread, NULL);
    en_worker_destroy(&worker);
    for (int i = 0; i < n; i++)
        en_dispatcher_destroy(&args[i].dispatcher);
    free(args);
    free(lanes);
    if (rc == 0)
        en_info("drained; exiting");
    return rc;
}
