/*  broker.c — the 7/MDP broker (see broker.h for what it does beyond the RFC).

    Design. One actor thread owns one ROUTER and three tables: services by
    name, workers by routing id (hex), and the public forward table. Every
    received message is validated frame by frame before anything is popped
    (czmq asserts on misuse; a peer must never be able to trigger one). A
    request is a small struct holding the client's routing id, the service
    name the client used (so the reply names it), and the envelope frame.
    Each worker holds at most one request (`inflight`). The loop wakes at
    least every heartbeat interval to send heartbeats, expire silent
    workers (requeueing what they held) and expire queued requests.

    Sends go through s_send(): ROUTER_MANDATORY is on, so an unroutable peer
    is an error we log, and DONTWAIT keeps a slow peer from stalling the
    loop. The broker never parses a method's body, only the envelope. */
#include "bus/broker.h"

#include <czmq.h>
#include <string.h>

#include "bus/envelope.h"
#include "bus/mdp.h"
#include "common/log.h"

typedef struct service service_t;
typedef struct worker worker_t;

typedef struct {
    zframe_t *client;     // client routing id (as the worker was given it)
    zframe_t *reply_to;   // where a resend came from, when it did; else NULL
    char *client_service; // service name the client asked for
    zframe_t *body;       // packed en.Request
    char *request_id;
    int64_t deadline;     // wall-clock ms; 0 = EN_QUEUE_TIMEOUT_MS from queueing
    int64_t queued_at;
    zhash_t *active;      // the broker's index of live requests, while in it
    char *active_key;     // "<service>\n<method>\n<request id>"
} request_t;

struct service {
    char *name;
    zlist_t *requests; // request_t *, FIFO
    zlist_t *waiting;  // worker_t *, least recently used first
    size_t workers;
};

struct worker {
    char *key;          // routing id as hex
    zframe_t *identity; // routing id
    service_t *service;
    int64_t expiry;     // monotonic ms
    request_t *inflight;
};

typedef struct {
    zsock_t *pipe;
    zsock_t *router;
    zhash_t *services; // name -> service_t
    zhash_t *workers;  // key -> worker_t
    zhash_t *forwards; // public method -> owning service name (strdup'd)
    zhash_t *active;   // "<service>\n<method>\n<id>" -> request_t, queued or held
    int heartbeat_ms;
    int64_t heartbeat_at;
    char epoch[33]; // random per broker start
    en_broker_stats_t stats;
} broker_t;

typedef struct {
    zsock_t *router;
    zhash_t *forwards;
    int heartbeat_ms;
} broker_args_t;

struct en_broker {
    zactor_t *actor;
    broker_args_t args;
    char *endpoint; // last bound, resolved
};

//  --------------------------------------------------------------------------

static void
s_request_destroy(request_t **self_p)
{
    if (!*self_p)
        return;
    request_t *self = *self_p;
    if (self->active && self->active_key && zhash_lookup(self->active, self->active_key) == self)
        zhash_delete(self->active, self->active_key);
    free(self->active_key);
    zframe_destroy(&self->client);
    zframe_destroy(&self->reply_to);
    zframe_destroy(&self->body);
    free(self->client_service);
    free(self->request_id);
    free(self);
    *self_p = NULL;
}

static void
s_service_free(void *data)
{
    service_t *self = data;
    request_t *req;
    while ((req = zlist_pop(self->requests)))
        s_request_destroy(&req);
    zlist_destroy(&self->requests);
    zlist_destroy(&self->waiting);
    free(self->name);
    free(self);
}

static service_t *
s_service_require(broker_t *self, const char *name)
{
    service_t *service = zhash_lookup(self->services, name);
    if (!service) {
        service = calloc(1, sizeof *service);
        service->name = strdup(name);
        service->requests = zlist_new();
        service->waiting = zlist_new();
        zhash_insert(self->services, name, service);
        zhash_freefn(self->services, name, s_service_free);
    }
    return service;
}

//  Send and consume a message without blocking; log unroutable peers.
static int
s_send(broker_t *self, zmsg_t **msg_p)
{
    zmsg_t *msg = *msg_p;
    size_t n = zmsg_size(msg), i = 0;
    int rc = 0;
    for (zframe_t *f = zmsg_first(msg); f; f = zmsg_next(msg)) {
        int flags = ZFRAME_REUSE | ZFRAME_DONTWAIT | (++i < n ? ZFRAME_MORE : 0);
        if (zframe_send(&f, self->router, flags)) {
            rc = -1;
            break;
        }
    }
    if (rc)
        en_warn("broker: send failed (%s); peer gone or full", zmq_strerror(zmq_errno()));
    zmsg_destroy(msg_p);
    return rc;
}

static int
s_worker_send(broker_t *self, worker_t *worker, int command, zmsg_t *tail)
{
    zmsg_t *msg = tail ? tail : zmsg_new();
    zmsg_pushmem(msg, &(char){(char) command}, 1);
    zmsg_pushstr(msg, MDPW_WORKER);
    zmsg_pushmem(msg, "", 0);
    zmsg_prepend(msg, &(zframe_t *){zframe_dup(worker->identity)});
    return s_send(self, &msg);
}

static void
s_client_reply(broker_t *self, zframe_t *client, const char *service, zframe_t **body_p)
{
    zmsg_t *msg = zmsg_new();
    zmsg_append(msg, &(zframe_t *){zframe_dup(client)});
    zmsg_addmem(msg, "", 0);
    zmsg_addstr(msg, MDPC_CLIENT);
    zmsg_addstr(msg, service);
    zmsg_append(msg, body_p);
    s_send(self, &msg);
}

static void
s_client_error(broker_t *self, zframe_t *client, const char *service, const char *request_id,
               en_kind_t kind, const char *message)
{
    en_err_t err;
    en_err_set(&err, kind, "%s", message);
    zframe_t *body = en_reply_error_frame(request_id, &err);
    s_client_reply(self, client, service, &body);
}

static void s_worker_delete(broker_t *self, worker_t *worker, bool disconnect);

//  Hand queued requests to waiting workers, oldest request to the worker
//  that has waited longest.
static void
s_dispatch(broker_t *self, service_t *service)
{
    while (zlist_size(service->requests) && zlist_size(service->waiting)) {
        worker_t *worker = zlist_pop(service->waiting);
        request_t *req = zlist_pop(service->requests);
        worker->inflight = req;
        zmsg_t *msg = zmsg_new();
        zmsg_append(msg, &(zframe_t *){zframe_dup(req->client)});
        zmsg_addmem(msg, "", 0);
        zmsg_append(msg, &(zframe_t *){zframe_dup(req->body)});
        if (s_worker_send(self, worker, MDPW_REQUEST, msg) != 0) {
            // the worker is unreachable: forget it; its request goes back
            s_worker_delete(self, worker, false);
            return; // s_worker_delete dispatched again
        }
    }
}

static void
s_worker_delete(broker_t *self, worker_t *worker, bool disconnect)
{
    if (disconnect)
        s_worker_send(self, worker, MDPW_DISCONNECT, NULL);
    if (worker->service) {
        zlist_remove(worker->service->waiting, worker);
        worker->service->workers--;
        if (worker->inflight) {
            // the worker died holding a request: give it to another worker
            en_warn("broker: worker %s of %s gone holding request %s; requeued", worker->key,
                    worker->service->name, worker->inflight->request_id);
            zlist_push(worker->service->requests, worker->inflight);
            worker->inflight = NULL;
            self->stats.requeued++;
            s_dispatch(self, worker->service);
        }
    }
    s_request_destroy(&worker->inflight);
    zhash_delete(self->workers, worker->key);
}

static void
s_worker_free(void *data)
{
    worker_t *worker = data;
    s_request_destroy(&worker->inflight); // held when the broker stops
    zframe_destroy(&worker->identity);
    free(worker->key);
    free(worker);
}

static void
s_worker_waiting(broker_t *self, worker_t *worker)
{
    zlist_append(worker->service->waiting, worker);
    worker->expiry = en_mono_ms() + (int64_t) self->heartbeat_ms * EN_HEARTBEAT_LIVENESS;
    s_dispatch(self, worker->service);
}

//  --------------------------------------------------------------------------
//  Messages from workers: msg is [command][...] after header frames.

static void
s_on_worker(broker_t *self, zframe_t *sender, zmsg_t *msg)
{
    zframe_t *cmd = zmsg_first(msg);
    char *key = zframe_strhex(sender);
    worker_t *worker = zhash_lookup(self->workers, key);
    if (!cmd || zframe_size(cmd) != 1) {
        self->stats.malformed++;
        en_warn("broker: worker %s sent a malformed command frame; dropped", key);
        goto done;
    }
    int command = zframe_data(cmd)[0];
    if (worker)
        worker->expiry = en_mono_ms() + (int64_t) self->heartbeat_ms * EN_HEARTBEAT_LIVENESS;

    if (command == MDPW_READY) {
        zframe_t *service_frame = zmsg_next(msg);
        char *name = service_frame ? zframe_strdup(service_frame) : NULL;
        if (worker || !name || !*name || zmsg_size(msg) != 2 || strncmp(name, "mmi.", 4) == 0) {
            // a second READY, a reserved name or a bad frame: unexpected
            self->stats.malformed++;
            en_warn("broker: unexpected READY from %s (%s); disconnecting", key,
                    name ? name : "no service");
            if (worker)
                s_worker_delete(self, worker, true);
            else {
                worker_t tmp = {.identity = sender};
                s_worker_send(self, &tmp, MDPW_DISCONNECT, NULL);
            }
            free(name);
            goto done;
        }
        worker = calloc(1, sizeof *worker);
        worker->key = strdup(key);
        worker->identity = zframe_dup(sender);
        worker->service = s_service_require(self, name);
        worker->service->workers++;
        zhash_insert(self->workers, key, worker);
        zhash_freefn(self->workers, key, s_worker_free);
        en_debug("broker: worker %s ready for %s", key, name);
        free(name);
        s_worker_waiting(self, worker);
    }
    else if (command == MDPW_REPLY) {
        // [REPLY][client][""][body]
        zframe_t *client = zmsg_next(msg);
        zframe_t *empty = zmsg_next(msg);
        zframe_t *body = zmsg_next(msg);
        if (!worker || !worker->inflight || zmsg_size(msg) != 4 || !client || !empty ||
            zframe_size(empty) != 0 || !zframe_eq(client, worker->inflight->client)) {
            self->stats.malformed++;
            en_warn("broker: unexpected REPLY from %s; disconnecting", key);
            if (worker)
                s_worker_delete(self, worker, true);
            else {
                // e.g. a worker we expired, replying late: 7/MDP says
                // DISCONNECT so it registers again at once
                worker_t tmp = {.identity = sender};
                s_worker_send(self, &tmp, MDPW_DISCONNECT, NULL);
            }
            goto done;
        }
        request_t *req = worker->inflight;
        worker->inflight = NULL;
        zframe_t *reply = zframe_dup(body);
        s_client_reply(self, req->reply_to ? req->reply_to : req->client, req->client_service,
                       &reply);
        s_request_destroy(&req);
        s_worker_waiting(self, worker);
    }
    else if (command == MDPW_HEARTBEAT) {
        if (!worker) {
            worker_t tmp = {.identity = sender};
            s_worker_send(self, &tmp, MDPW_DISCONNECT, NULL);
        }
    }
    else if (command == MDPW_DISCONNECT) {
        if (worker)
            s_worker_delete(self, worker, false);
    }
    else {
        self->stats.malformed++;
        en_warn("broker: unknown worker command 0x%02x from %s", command, key);
        if (worker)
            s_worker_delete(self, worker, true);
    }
done:
    free(key);
}

//  --------------------------------------------------------------------------
//  8/MMI, answered by the broker itself.

static void
s_on_mmi(broker_t *self, zframe_t *sender, const char *service, zmsg_t *msg)
{
    const char *code = "501";
    char *name = NULL;
    if (strcmp(service, "mmi.x-epoch") == 0)
        code = self->epoch; // lets a client notice a restarted broker
    else if (strcmp(service, "mmi.service") == 0 && zmsg_size(msg) == 1) {
        name = zframe_strdup(zmsg_first(msg));
        service_t *s = zhash_lookup(self->services, name);
        code = s && s->workers > 0 ? "200" : "404";
    }
    zframe_t *body = zframe_from(code);
    s_client_reply(self, sender, service, &body);
    free(name);
}

//  Messages from clients: msg is [service][body] after header frames.
static void
s_on_client(broker_t *self, zframe_t *sender, zmsg_t *msg)
{
    zframe_t *service_frame = zmsg_first(msg);
    if (!service_frame || zframe_size(service_frame) == 0 || zframe_size(service_frame) > 255) {
        self->stats.malformed++;
        en_warn("broker: client request without a service name; dropped");
        return;
    }
    char *service_name = zframe_strdup(service_frame);
    if (strncmp(service_name, "mmi.", 4) == 0) {
        zmsg_remove(msg, service_frame);
        zframe_destroy(&service_frame);
        s_on_mmi(self, sender, service_name, msg);
        free(service_name);
        return;
    }
    en_err_t err;
    En__Request *env = NULL;
    char id[EN_REQUEST_ID_MAX] = "";
    if (zmsg_size(msg) != 2) {
        en_err_set(&err, EN_NOT_VALID, "expected exactly one body frame, got %zu",
                   zmsg_size(msg) - 1);
        goto invalid;
    }
    zframe_t *body = zmsg_next(msg);
    env = en_request_unpack(body, id, &err);
    if (!env)
        goto invalid;

    const char *target = service_name;
    if (strcmp(service_name, EN_PUBLIC_SERVICE) == 0) {
        const char *owner = zhash_lookup(self->forwards, env->method);
        if (owner)
            target = owner;
    }
    // A resend of a call that is still queued or held by a worker (the
    // client lost sight of this broker for a moment and sent it again) is
    // not a second call: the live one answers, at the client's newest
    // address. Without this, two copies of a composed call run side by
    // side and one may undo the other's work.
    char *key = NULL;
    if (env->request_id && *env->request_id &&
        asprintf(&key, "%s\n%s\n%s", target, env->method ? env->method : "",
                 env->request_id) < 0)
        abort();
    request_t *live = key ? zhash_lookup(self->active, key) : NULL;
    if (live) {
        // the worker keeps the first address (it echoes it in its reply);
        // the answer goes to the newest
        zframe_destroy(&live->reply_to);
        live->reply_to = zframe_dup(sender);
        self->stats.duplicates++;
        en_info("broker: %s %s resent while in progress; the live call answers", target,
                env->request_id);
        free(key);
        free(service_name);
        en__request__free_unpacked(env, NULL);
        return;
    }
    request_t *req = calloc(1, sizeof *req);
    if (key && zhash_insert(self->active, key, req) == 0) {
        req->active = self->active;
        req->active_key = key;
    }
    else
        free(key);
    req->client = zframe_dup(sender);
    req->client_service = service_name;
    zmsg_remove(msg, body);
    req->body = body;
    req->request_id = strdup(env->request_id ? env->request_id : "");
    req->deadline = (int64_t) env->deadline_ms;
    req->queued_at = en_now_ms();
    service_t *service = s_service_require(self, target);
    zlist_append(service->requests, req);
    en__request__free_unpacked(env, NULL);
    s_dispatch(self, service);
    return;

invalid:
    self->stats.malformed++;
    en_warn("broker: invalid request for %s: %s", service_name, err.message);
    s_client_error(self, sender, service_name, id, err.kind,
                   err.message);
    if (env)
        en__request__free_unpacked(env, NULL);
    free(service_name);
}

//  --------------------------------------------------------------------------

static void
s_on_router(broker_t *self)
{
    zmsg_t *msg = zmsg_recv(self->router);
    if (!msg)
        return;
    // Validate the header before popping anything.
    zframe_t *sender = zmsg_pop(msg);
    zframe_t *empty = zmsg_pop(msg);
    zframe_t *header = zmsg_pop(msg);
    if (!sender || !empty || !header || zframe_size(empty) != 0) {
        self->stats.malformed++;
        en_warn("broker: short or unframed message (%zu frames); dropped", zmsg_size(msg) + 3);
    }
    else if (zframe_streq(header, MDPC_CLIENT))
        s_on_client(self, sender, msg);
    else if (zframe_streq(header, MDPW_WORKER))
        s_on_worker(self, sender, msg);
    else {
        self->stats.malformed++;
        en_warn("broker: unknown protocol header (%zu bytes); dropped", zframe_size(header));
    }
    zframe_destroy(&sender);
    zframe_destroy(&empty);
    zframe_destroy(&header);
    zmsg_destroy(&msg);
}

//  Heartbeat every worker, delete the silent ones, time out old requests.
static void
s_housekeeping(broker_t *self)
{
    int64_t mono = en_mono_ms();
    if (mono >= self->heartbeat_at) {
        zlist_t *keys = zhash_keys(self->workers);
        for (char *k = zlist_first(keys); k; k = zlist_next(keys)) {
            worker_t *w = zhash_lookup(self->workers, k);
            if (!w)
                continue; // deleted while dispatching for another
            if (w->expiry < mono) {
                en_warn("broker: worker %s of %s expired", w->key, w->service->name);
                s_worker_delete(self, w, false);
            }
            else if (s_worker_send(self, w, MDPW_HEARTBEAT, NULL) != 0) {
                // ROUTER_MANDATORY: its connection is gone (a reconnecting
                // worker gets a new routing id), so do not wait for expiry
                en_warn("broker: worker %s of %s unreachable", w->key, w->service->name);
                s_worker_delete(self, w, false);
            }
        }
        zlist_destroy(&keys);
        self->heartbeat_at = mono + self->heartbeat_ms;
    }
    int64_t now = en_now_ms();
    for (service_t *s = zhash_first(self->services); s; s = zhash_next(self->services)) {
        request_t *req = zlist_first(s->requests);
        while (req) {
            request_t *next = zlist_next(s->requests);
            int64_t limit = req->deadline ? req->deadline : req->queued_at + EN_QUEUE_TIMEOUT_MS;
            if (now >= limit) {
                zlist_remove(s->requests, req);
                self->stats.expired++;
                char msg[300];
                if (s->workers == 0)
                    snprintf(msg, sizeof msg, "no worker for service \"%s\" before the deadline",
                             s->name);
                else
                    snprintf(msg, sizeof msg, "service \"%s\" busy past the request deadline",
                             s->name);
                s_client_error(self, req->reply_to ? req->reply_to : req->client,
                               req->client_service, req->request_id,
                               s->workers == 0 ? EN_UNAVAILABLE : EN_TIMEOUT, msg);
                s_request_destroy(&req);
            }
            req = next;
        }
    }
}

static void
s_stats_reply(broker_t *self)
{
    self->stats.workers = zhash_size(self->workers);
    self->stats.services = 0;
    self->stats.queued = 0;
    for (service_t *s = zhash_first(self->services); s; s = zhash_next(self->services)) {
        self->stats.services += s->workers > 0;
        self->stats.queued += zlist_size(s->requests);
    }
    zframe_t *f = zframe_new(&self->stats, sizeof self->stats);
    zframe_send(&f, self->pipe, 0);
}

static void
s_broker_actor(zsock_t *pipe, void *args_)
{
    broker_args_t *args = args_;
    broker_t self = {.pipe = pipe, .heartbeat_ms = args->heartbeat_ms};
    self.router = args->router; // bound by en_broker_new, handed off to us
    args->router = NULL;
    self.services = zhash_new();
    self.workers = zhash_new();
    self.active = zhash_new();
    self.forwards = args->forwards;
    self.heartbeat_at = en_mono_ms() + self.heartbeat_ms;
    en_request_id_new(self.epoch);
    zsock_signal(pipe, 0);

    zpoller_t *poller = zpoller_new(pipe, self.router, NULL);
    zpoller_set_nonstop(poller, true); // the owner decides when we stop
    while (true) {
        int64_t wait = self.heartbeat_at - en_mono_ms();
        if (wait < 0)
            wait = 0;
        if (wait > 500)
            wait = 500; // queue deadlines are checked at least twice a second
        void *which = zpoller_wait(poller, (int) wait);
        if (which == pipe) {
            zmsg_t *cmd = zmsg_recv(pipe);
            char *verb = cmd ? zmsg_popstr(cmd) : NULL;
            bool term = !verb || streq(verb, "$TERM");
            if (verb && streq(verb, "STATS"))
                s_stats_reply(&self);
            free(verb);
            zmsg_destroy(&cmd);
            if (term)
                break;
        }
        else if (which == self.router) {
            // drain a burst before housekeeping
            for (int i = 0; i < 1000 && (zsock_events(self.router) & ZMQ_POLLIN); i++)
                s_on_router(&self);
        }
        s_housekeeping(&self);
    }
    // Tell connected workers we are going so they reconnect promptly.
    for (worker_t *w = zhash_first(self.workers); w; w = zhash_next(self.workers))
        s_worker_send(&self, w, MDPW_DISCONNECT, NULL);
    zpoller_destroy(&poller);
    zhash_destroy(&self.workers);
    zhash_destroy(&self.services);
    zhash_destroy(&self.active);
    zsock_destroy(&self.router);
}

//  --------------------------------------------------------------------------

en_broker_t *
en_broker_new(const en_broker_config_t *config, en_err_t *err)
{
    // Bind here, in the caller's thread, so a bad endpoint is an error the
    // caller sees; the bound socket is then handed off to the actor thread.
    zsock_t *router = zsock_new(ZMQ_ROUTER);
    if (!router) {
        en_err_set(err, EN_INTERNAL, "cannot create a ROUTER socket");
        return NULL;
    }
    zsock_set_router_mandatory(router, 1);
    // workers' replies come in here too: see EN_MAX_WIRE_REPLY in mdp.h
    zsock_set_maxmsgsize(router, EN_MAX_WIRE_REPLY);
    zsock_set_sndhwm(router, 100000);
    zsock_set_rcvhwm(router, 100000);
    zsock_set_linger(router, 1000);
    zsock_set_heartbeat_ivl(router, EN_HEARTBEAT_MS);
    zsock_set_heartbeat_timeout(router, EN_HEARTBEAT_EXPIRY);
    char *eps = strdup(config->endpoints), *save = NULL;
    for (char *ep = strtok_r(eps, ",", &save); ep; ep = strtok_r(NULL, ",", &save)) {
        if (zsock_bind(router, "%s", ep) < 0) {
            en_err_set(err, EN_UNAVAILABLE, "cannot bind %s: %s", ep, zmq_strerror(zmq_errno()));
            free(eps);
            zsock_destroy(&router);
            return NULL;
        }
    }
    free(eps);
    en_broker_t *self = calloc(1, sizeof *self);
    self->endpoint = zsock_last_endpoint(router); // ZMQ_LAST_ENDPOINT, port resolved
    broker_args_t *args = &self->args;
    args->router = router;
    args->heartbeat_ms = config->heartbeat_ms > 0 ? config->heartbeat_ms : EN_HEARTBEAT_MS;
    args->forwards = zhash_new();
    zhash_autofree(args->forwards);
    for (size_t i = 0; i < config->forward_count; i++)
        zhash_insert(args->forwards, config->forwards[i].method,
                     (void *) config->forwards[i].service);
    self->actor = zactor_new(s_broker_actor, args);
    return self;
}

void
en_broker_destroy(en_broker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    en_broker_t *self = *self_p;
    zactor_destroy(&self->actor);
    zhash_destroy(&self->args.forwards);
    zsock_destroy(&self->args.router);
    free(self->endpoint);
    free(self);
    *self_p = NULL;
}

int
en_broker_stats(en_broker_t *self, en_broker_stats_t *stats)
{
    if (zsock_send(self->actor, "s", "STATS"))
        return -1;
    zframe_t *f = zframe_recv(self->actor);
    if (!f || zframe_size(f) != sizeof *stats) {
        zframe_destroy(&f);
        return -1;
    }
    memcpy(stats, zframe_data(f), sizeof *stats);
    zframe_destroy(&f);
    return 0;
}

const char *
en_broker_endpoint(en_broker_t *self)
{
    return self->endpoint;
}
