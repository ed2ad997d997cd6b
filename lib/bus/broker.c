/*  broker.c — the 7/MDP broker (see broker.h for what it does beyond the RFC).

    Design. One actor thread owns one ROUTER and three tables: services by
    name, workers by routing id (hex), and the public forward table. Every
    received message is validated frame by frame before anything is used
    (a peer must never be able to trigger an assert). A request is a small
    struct holding the client's routing id, the service name the client
    used (so the reply names it), and the envelope frame. A worker holds up
    to its credit of requests (`held`; 1 for a plain 7/MDP worker, more
    for one that announced credit in its READY, see mdp.h): it waits in
    its service's `waiting` list while it has credit to spare, and each
    request goes to the waiting worker holding fewest, the one that has
    waited longest among equals. A request sent to a worker with credit
    carries a tag after the client's routing id in its address frame, and
    the reply's address names the request it answers, in any order. The
    loop wakes at least every heartbeat interval to send heartbeats,
    expire silent workers (requeueing everything they held) and expire
    queued requests.

    Sends go through s_send(): ROUTER_MANDATORY is on, so an unroutable peer
    is an error we log, and DONTWAIT keeps a slow peer from stalling the
    loop. The broker never parses a method's body, only the envelope.

    Cost per message. This loop carries every call twice (client → worker,
    worker → client), so it avoids work per message: a message is read
    part by part into a fixed array (frames.h) and its parts are moved on
    to the outgoing message, not copied into zframes; the envelope decodes
    into a stack buffer; the worker table is keyed by the routing id in hex
    built on the stack; the clocks are read once per wake; a burst is read
    until the socket says EAGAIN (no ZMQ_EVENTS call, which costs a system
    call, per message); and queued requests are scanned for their deadline
    only when the earliest of them is due. */
#include "bus/broker.h"

#include <czmq.h>
#include <errno.h>
#include <string.h>

#include "bus/envelope.h"
#include "bus/frames.h"
#include "bus/mdp.h"
#include "common/log.h"

typedef struct service service_t;
typedef struct worker worker_t;

//  A routing id is 1..255 bytes; as hex with its terminator:
#define EN_KEY_MAX (2 * 255 + 1)

typedef struct {
    zmq_msg_t client;     // client routing id (as the worker was given it)
    zmq_msg_t body;       // packed en.Request
    int64_t deadline;     // wall-clock ms; 0 = EN_QUEUE_TIMEOUT_MS from queueing
    int64_t queued_at;
    uint32_t tag;         // given when sent to a worker; names it to a worker with credit
    bool has_reply_to;    // a resend came from another address: answer there
    zmq_msg_t reply_to;
    zhash_t *active;      // the broker's index of live requests, while in it
    char *active_key;     // "<service>\n<method>\n<request id>"
    char *client_service; // service name the client asked for (in text)
    char *request_id;     // (in text)
    char text[];
} request_t;

struct service {
    char *name;
    zlist_t *requests; // request_t *, FIFO
    zlist_t *waiting;  // worker_t *, least recently used first
    size_t workers;
};

struct worker {
    char key[EN_KEY_MAX];  // routing id as hex
    uint8_t identity[255]; // routing id
    size_t identity_size;
    service_t *service;
    int64_t expiry; // monotonic ms
    int credit;     // requests it may hold at once (1: plain 7/MDP)
    int held_count;
    request_t **held; // [credit]; the first held_count are in use
};

typedef struct {
    zsock_t *pipe;
    zsock_t *router;
    void *handle;      // the router's libzmq socket
    zhash_t *services; // name -> service_t
    zhash_t *workers;  // key -> worker_t
    zhash_t *forwards; // public method -> owning service name (strdup'd)
    zhash_t *active;   // "<service>\n<method>\n<id>" -> request_t, queued or held
    int heartbeat_ms;
    int64_t heartbeat_at;
    int64_t mono, now; // the clocks, read once per wake
    bool dirty;        // sent on, or left unread, since the router said EAGAIN
    int64_t expire_at; // wall clock when the earliest queued request expires
    uint32_t next_tag; // the tag of the next request sent to a worker
    char epoch[33];    // random per broker start
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
    zmq_msg_close(&self->client);
    zmq_msg_close(&self->body);
    if (self->has_reply_to)
        zmq_msg_close(&self->reply_to);
    free(self);
    *self_p = NULL;
}

static int64_t
s_request_limit(const request_t *req)
{
    return req->deadline ? req->deadline : req->queued_at + EN_QUEUE_TIMEOUT_MS;
}

//  Queue a request at the back (or, given back to us, the front).
static void
s_request_queue(broker_t *self, service_t *service, request_t *req, bool front)
{
    if (front)
        zlist_push(service->requests, req);
    else
        zlist_append(service->requests, req);
    if (s_request_limit(req) < self->expire_at)
        self->expire_at = s_request_limit(req);
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

//  The routing id in hex, as zframe_strhex writes it, into key.
static void
s_key(const uint8_t *id, size_t size, char key[EN_KEY_MAX])
{
    static const char hex[] = "0123456789ABCDEF";
    if (size > 255)
        size = 255; // ZeroMQ routing ids are at most 255 bytes
    for (size_t i = 0; i < size; i++) {
        key[2 * i] = hex[id[i] >> 4];
        key[2 * i + 1] = hex[id[i] & 15];
    }
    key[2 * size] = '\0';
}

//  Send one message without blocking; log an unroutable peer.
static int
s_send(broker_t *self, en_part_t *parts, int n)
{
    self->dirty = true; // see en_frames_poll
    if (en_frames_send(self->handle, parts, n, ZMQ_DONTWAIT) == 0)
        return 0;
    en_warn("broker: send failed (%s); peer gone or full", zmq_strerror(zmq_errno()));
    return -1;
}

//  [id][""]["MDPW01"][command][tail...]
static int
s_worker_send(broker_t *self, const uint8_t *id, size_t id_size, int command,
              const en_part_t *tail, int tail_n)
{
    char cmd = (char) command;
    en_part_t parts[8] = {{id, id_size, NULL},
                          {"", 0, NULL},
                          {MDPW_WORKER, strlen(MDPW_WORKER), NULL},
                          {&cmd, 1, NULL}};
    for (int i = 0; i < tail_n && i < 4; i++)
        parts[4 + i] = tail[i];
    return s_send(self, parts, 4 + tail_n);
}

//  [client][""]["MDPC01"][service][body]; the body part is consumed.
static void
s_client_reply(broker_t *self, const void *client, size_t client_size, const char *service,
               en_part_t body)
{
    en_part_t parts[] = {{client, client_size, NULL},
                         {"", 0, NULL},
                         {MDPC_CLIENT, strlen(MDPC_CLIENT), NULL},
                         {service, strlen(service), NULL},
                         body};
    s_send(self, parts, 5);
}

static void
s_client_error(broker_t *self, const void *client, size_t client_size, const char *service,
               const char *request_id, en_kind_t kind, const char *message)
{
    en_err_t err;
    en_err_set(&err, kind, "%s", message);
    zframe_t *body = en_reply_error_frame(request_id, &err);
    s_client_reply(self, client, client_size, service,
                   (en_part_t){zframe_data(body), zframe_size(body), NULL});
    zframe_destroy(&body);
}

static void s_worker_delete(broker_t *self, worker_t *worker, bool disconnect);

//  The address frame of a request sent to a worker: the client's routing
//  id, and for a worker with credit the request's tag after it (4 bytes,
//  big-endian), which the worker echoes in its REPLY.
static void
s_address(request_t *req, bool tagged, zmq_msg_t *out)
{
    size_t n = zmq_msg_size(&req->client);
    zmq_msg_init_size(out, n + (tagged ? 4 : 0));
    uint8_t *p = zmq_msg_data(out);
    memcpy(p, zmq_msg_data(&req->client), n);
    if (tagged) {
        p[n] = (uint8_t) (req->tag >> 24);
        p[n + 1] = (uint8_t) (req->tag >> 16);
        p[n + 2] = (uint8_t) (req->tag >> 8);
        p[n + 3] = (uint8_t) req->tag;
    }
}

//  Which of the worker's requests a REPLY's address frame answers; -1
//  when none (a reply it owes nobody).
static int
s_held_index(worker_t *worker, const uint8_t *address, size_t size)
{
    bool tagged = worker->credit > 1;
    for (int i = 0; i < worker->held_count; i++) {
        request_t *req = worker->held[i];
        size_t n = zmq_msg_size(&req->client);
        if (size != n + (tagged ? 4 : 0) || memcmp(address, zmq_msg_data(&req->client), n) != 0)
            continue;
        const uint8_t *t = address + n;
        if (!tagged || (((uint32_t) t[0] << 24) | ((uint32_t) t[1] << 16) |
                        ((uint32_t) t[2] << 8) | t[3]) == req->tag)
            return i;
    }
    return -1;
}

//  The waiting worker to hand the next request: the one holding fewest,
//  and among equals the first in the list, which is in the order workers
//  last got credit back (a worker that takes a request and still has
//  credit goes to the back, so equals take turns).
static worker_t *
s_pick(service_t *service)
{
    worker_t *best = NULL;
    for (worker_t *w = zlist_first(service->waiting); w; w = zlist_next(service->waiting))
        if (!best || w->held_count < best->held_count) {
            best = w;
            if (w->held_count == 0)
                break;
        }
    return best;
}

//  Hand queued requests to waiting workers, oldest request first.
static void
s_dispatch(broker_t *self, service_t *service)
{
    while (zlist_size(service->requests) && zlist_size(service->waiting)) {
        worker_t *worker = s_pick(service);
        zlist_remove(service->waiting, worker);
        request_t *req = zlist_pop(service->requests);
        req->tag = self->next_tag++;
        worker->held[worker->held_count++] = req;
        if (worker->held_count < worker->credit)
            zlist_append(service->waiting, worker);
        // the request keeps its parts for a requeue: send copies
        zmq_msg_t address, body;
        s_address(req, worker->credit > 1, &address);
        zmq_msg_init(&body);
        zmq_msg_copy(&body, &req->body);
        en_part_t tail[] = {{NULL, 0, &address}, {"", 0, NULL}, {NULL, 0, &body}};
        int rc = s_worker_send(self, worker->identity, worker->identity_size, MDPW_REQUEST, tail,
                               3);
        zmq_msg_close(&address);
        zmq_msg_close(&body);
        if (rc != 0) {
            // the worker is unreachable: forget it; its requests go back
            s_worker_delete(self, worker, false);
            return; // s_worker_delete dispatched again
        }
    }
}

//  Everything a dead worker held goes back to the front of its service's
//  queue, in the order it was first sent, ahead of requests never sent.
static void
s_requeue_held(broker_t *self, worker_t *worker)
{
    // oldest tag first (tags wrap: compare by difference); a few, so an
    // insertion sort
    request_t **held = worker->held;
    for (int i = 1; i < worker->held_count; i++)
        for (int j = i; j > 0 && (int32_t) (held[j]->tag - held[j - 1]->tag) < 0; j--) {
            request_t *t = held[j];
            held[j] = held[j - 1];
            held[j - 1] = t;
        }
    en_warn("broker: worker %s of %s gone holding %d request(s) (%s%s); requeued", worker->key,
            worker->service->name, worker->held_count, held[0]->request_id,
            worker->held_count > 1 ? ", ..." : "");
    for (int i = worker->held_count - 1; i >= 0; i--) {
        s_request_queue(self, worker->service, held[i], true);
        held[i] = NULL;
    }
    self->stats.requeued += (size_t) worker->held_count;
    worker->held_count = 0;
}

static void
s_worker_delete(broker_t *self, worker_t *worker, bool disconnect)
{
    if (disconnect)
        s_worker_send(self, worker->identity, worker->identity_size, MDPW_DISCONNECT, NULL, 0);
    if (worker->service) {
        zlist_remove(worker->service->waiting, worker);
        worker->service->workers--;
        if (worker->held_count) {
            // the worker died holding requests: give them to other workers
            s_requeue_held(self, worker);
            s_dispatch(self, worker->service);
        }
    }
    zhash_delete(self->workers, worker->key);
}

static void
s_worker_free(void *data)
{
    worker_t *worker = data;
    for (int i = 0; i < worker->held_count; i++)
        s_request_destroy(&worker->held[i]); // held when the broker stops
    free(worker->held);
    free(worker);
}

//  DISCONNECT to a peer that is not (or no longer) a worker of ours.
static void
s_disconnect_stranger(broker_t *self, en_frames_t *msg)
{
    s_worker_send(self, en_frames_data(msg, 0), en_frames_len(msg, 0), MDPW_DISCONNECT, NULL, 0);
}

//  The credit frame of a READY: 1 to 4 decimal digits, at least 1 (mdp.h);
//  credit past what we grant is cut to it.
static int
s_credit_parse(const uint8_t *data, size_t size, int *credit)
{
    if (size < 1 || size > 4)
        return -1;
    int value = 0;
    for (size_t i = 0; i < size; i++) {
        if (data[i] < '0' || data[i] > '9')
            return -1;
        value = value * 10 + (data[i] - '0');
    }
    if (value < 1)
        return -1;
    *credit = value < EN_MDP_CREDIT_MAX ? value : EN_MDP_CREDIT_MAX;
    return 0;
}

//  --------------------------------------------------------------------------
//  Messages from workers: [sender][""]["MDPW01"][command][...]

static void
s_on_worker(broker_t *self, en_frames_t *msg)
{
    char key[EN_KEY_MAX];
    s_key(en_frames_data(msg, 0), en_frames_len(msg, 0), key);
    worker_t *worker = zhash_lookup(self->workers, key);
    int parts = en_frames_size(msg) - 3; // command and what follows it
    if (parts < 1 || en_frames_len(msg, 3) != 1) {
        self->stats.malformed++;
        en_warn("broker: worker %s sent a malformed command frame; dropped", key);
        return;
    }
    int command = en_frames_data(msg, 3)[0];
    if (worker)
        worker->expiry = self->mono + (int64_t) self->heartbeat_ms * EN_HEARTBEAT_LIVENESS;

    if (command == MDPW_READY) {
        // [READY][service], or [READY][service][credit] (mdp.h)
        char *name = parts >= 2 ? strndup((const char *) en_frames_data(msg, 4),
                                          en_frames_len(msg, 4))
                                : NULL;
        int credit = 1;
        bool credit_ok = parts != 3 || s_credit_parse(en_frames_data(msg, 5),
                                                      en_frames_len(msg, 5), &credit) == 0;
        if (worker || !name || !*name || parts < 2 || parts > 3 || !credit_ok ||
            strncmp(name, "mmi.", 4) == 0) {
            // a second READY, a reserved name, a bad frame: unexpected
            self->stats.malformed++;
            en_warn("broker: unexpected READY from %s (%s); disconnecting", key,
                    name ? name : "no service");
            if (worker)
                s_worker_delete(self, worker, true);
            else
                s_disconnect_stranger(self, msg);
            free(name);
            return;
        }
        worker = calloc(1, sizeof *worker);
        memcpy(worker->key, key, sizeof key);
        worker->identity_size = en_frames_len(msg, 0);
        memcpy(worker->identity, en_frames_data(msg, 0), worker->identity_size);
        worker->credit = credit;
        worker->held = calloc((size_t) credit, sizeof *worker->held);
        worker->service = s_service_require(self, name);
        worker->service->workers++;
        worker->expiry = self->mono + (int64_t) self->heartbeat_ms * EN_HEARTBEAT_LIVENESS;
        zhash_insert(self->workers, key, worker);
        zhash_freefn(self->workers, key, s_worker_free);
        en_debug("broker: worker %s ready for %s, credit %d", key, name, credit);
        free(name);
        zlist_append(worker->service->waiting, worker);
        s_dispatch(self, worker->service);
    }
    else if (command == MDPW_REPLY) {
        // [REPLY][address][""][body]; the address names the request
        int i = worker && parts == 4 && en_frames_len(msg, 5) == 0
                    ? s_held_index(worker, en_frames_data(msg, 4), en_frames_len(msg, 4))
                    : -1;
        if (i < 0) {
            self->stats.malformed++;
            en_warn("broker: unexpected REPLY from %s; disconnecting", key);
            if (worker)
                s_worker_delete(self, worker, true);
            else
                // e.g. a worker we expired, replying late: 7/MDP says
                // DISCONNECT so it registers again at once
                s_disconnect_stranger(self, msg);
            return;
        }
        request_t *req = worker->held[i];
        bool was_full = worker->held_count == worker->credit;
        worker->held[i] = worker->held[--worker->held_count];
        worker->held[worker->held_count] = NULL;
        // the worker's body goes on to the client as it came, to the
        // address of the newest resend if there was one
        zmq_msg_t *to = req->has_reply_to ? &req->reply_to : &req->client;
        s_client_reply(self, zmq_msg_data(to), zmq_msg_size(to), req->client_service,
                       (en_part_t){NULL, 0, &msg->part[6]});
        s_request_destroy(&req);
        if (was_full)
            zlist_append(worker->service->waiting, worker); // credit to spare again
        s_dispatch(self, worker->service);
    }
    else if (command == MDPW_HEARTBEAT) {
        if (!worker)
            s_disconnect_stranger(self, msg);
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
}

//  --------------------------------------------------------------------------
//  8/MMI, answered by the broker itself.

static void
s_on_mmi(broker_t *self, en_frames_t *msg, const char *service)
{
    const char *code = "501";
    char *name = NULL;
    if (strcmp(service, "mmi.x-epoch") == 0)
        code = self->epoch; // lets a client notice a restarted broker
    else if (strcmp(service, "mmi.service") == 0 && en_frames_size(msg) == 5) {
        name = strndup((const char *) en_frames_data(msg, 4), en_frames_len(msg, 4));
        service_t *s = zhash_lookup(self->services, name);
        code = s && s->workers > 0 ? "200" : "404";
    }
    s_client_reply(self, en_frames_data(msg, 0), en_frames_len(msg, 0), service,
                   (en_part_t){code, strlen(code), NULL});
    free(name);
}

//  Messages from clients: [sender][""]["MDPC01"][service][body]
static void
s_on_client(broker_t *self, en_frames_t *msg)
{
    size_t name_size = en_frames_size(msg) > 3 ? en_frames_len(msg, 3) : 0;
    if (name_size == 0 || name_size > 255) {
        self->stats.malformed++;
        en_warn("broker: client request without a service name; dropped");
        return;
    }
    char service_name[256];
    memcpy(service_name, en_frames_data(msg, 3), name_size);
    service_name[name_size] = '\0'; // like zframe_strdup: up to a NUL inside
    const void *sender = en_frames_data(msg, 0);
    size_t sender_size = en_frames_len(msg, 0);
    if (strncmp(service_name, "mmi.", 4) == 0) {
        s_on_mmi(self, msg, service_name);
        return;
    }
    en_err_t err;
    En__Request *env = NULL;
    char id[EN_REQUEST_ID_MAX] = "";
    uint8_t buf[1024]; // a typical envelope decodes without malloc
    en_scratch_t scratch;
    en_scratch_init(&scratch, buf, sizeof buf);
    if (en_frames_size(msg) != 5) {
        en_err_set(&err, EN_NOT_VALID, "expected exactly one body frame, got %d",
                   en_frames_size(msg) - 4);
        goto invalid;
    }
    env = en_request_decode(en_frames_data(msg, 4), en_frames_len(msg, 4), &scratch.alloc, id,
                            &err);
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
        // the worker keeps the first address (it echoes it in its reply)
        if (live->has_reply_to)
            zmq_msg_close(&live->reply_to);
        zmq_msg_init(&live->reply_to);
        zmq_msg_move(&live->reply_to, &msg->part[0]);
        live->has_reply_to = true;
        self->stats.duplicates++;
        en_info("broker: %s %s resent while in progress; the live call answers", target,
                env->request_id);
        free(key);
        en__request__free_unpacked(env, &scratch.alloc);
        return;
    }
    const char *request_id = env->request_id ? env->request_id : "";
    size_t id_size = strlen(request_id) + 1;
    request_t *req = malloc(sizeof *req + name_size + 1 + id_size);
    req->has_reply_to = false;
    req->active = NULL;
    req->active_key = NULL;
    if (key && zhash_insert(self->active, key, req) == 0) {
        req->active = self->active;
        req->active_key = key;
    }
    else
        free(key);
    req->client_service = req->text;
    memcpy(req->client_service, service_name, name_size + 1);
    req->request_id = req->text + name_size + 1;
    memcpy(req->request_id, request_id, id_size);
    zmq_msg_init(&req->client);
    zmq_msg_init(&req->body);
    zmq_msg_move(&req->client, &msg->part[0]);
    zmq_msg_move(&req->body, &msg->part[4]);
    req->deadline = (int64_t) env->deadline_ms;
    req->queued_at = self->now;
    en__request__free_unpacked(env, &scratch.alloc);
    service_t *service = s_service_require(self, target);
    s_request_queue(self, service, req, false);
    s_dispatch(self, service);
    return;

invalid:
    self->stats.malformed++;
    en_warn("broker: invalid request for %s: %s", service_name, err.message);
    s_client_error(self, sender, sender_size, service_name, id, err.kind, err.message);
    if (env)
        en__request__free_unpacked(env, &scratch.alloc);
}

//  --------------------------------------------------------------------------

//  Read and handle one message; -1 when none waits.
static int
s_on_router(broker_t *self)
{
    en_frames_t msg;
    if (en_frames_recv(&msg, self->handle, ZMQ_DONTWAIT) != 0)
        return -1;
    // Validate the header before using anything.
    if (en_frames_size(&msg) < 3 || en_frames_len(&msg, 1) != 0) {
        self->stats.malformed++;
        en_warn("broker: short or unframed message (%d frames); dropped", en_frames_size(&msg));
    }
    else if (en_frames_streq(&msg, 2, MDPC_CLIENT))
        s_on_client(self, &msg);
    else if (en_frames_streq(&msg, 2, MDPW_WORKER))
        s_on_worker(self, &msg);
    else {
        self->stats.malformed++;
        en_warn("broker: unknown protocol header (%zu bytes); dropped", en_frames_len(&msg, 2));
    }
    en_frames_close(&msg);
    return 0;
}

//  Read a burst (up to a bound, so housekeeping still runs under a flood)
//  until the router says EAGAIN, which re-arms its ZMQ_FD.
static void
s_drain(broker_t *self)
{
    for (int i = 0; i < 1000; i++)
        if (s_on_router(self) != 0) {
            self->dirty = false;
            return;
        }
    self->dirty = true; // more may wait
}

//  Heartbeat every worker, delete the silent ones, time out old requests.
static void
s_housekeeping(broker_t *self)
{
    int64_t mono = self->mono;
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
            else if (s_worker_send(self, w->identity, w->identity_size, MDPW_HEARTBEAT, NULL,
                                   0) != 0) {
                // ROUTER_MANDATORY: its connection is gone (a reconnecting
                // worker gets a new routing id), so do not wait for expiry
                en_warn("broker: worker %s of %s unreachable", w->key, w->service->name);
                s_worker_delete(self, w, false);
            }
        }
        zlist_destroy(&keys);
        self->heartbeat_at = mono + self->heartbeat_ms;
    }
    int64_t now = self->now;
    if (now < self->expire_at)
        return; // no queued request is due yet
    self->expire_at = INT64_MAX;
    for (service_t *s = zhash_first(self->services); s; s = zhash_next(self->services)) {
        request_t *req = zlist_first(s->requests);
        while (req) {
            request_t *next = zlist_next(s->requests);
            int64_t limit = s_request_limit(req);
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
                zmq_msg_t *to = req->has_reply_to ? &req->reply_to : &req->client;
                s_client_error(self, zmq_msg_data(to), zmq_msg_size(to),
                               req->client_service, req->request_id,
                               s->workers == 0 ? EN_UNAVAILABLE : EN_TIMEOUT, msg);
                s_request_destroy(&req);
            }
            else if (limit < self->expire_at)
                self->expire_at = limit;
            req = next;
        }
    }
}

static void
s_stats_reply(broker_t *self)
{
    self->stats.workers = zhash_size(self->workers);
    self->stats.held = 0;
    for (worker_t *w = zhash_first(self->workers); w; w = zhash_next(self->workers))
        self->stats.held += (size_t) w->held_count;
    self->stats.services = 0;
    self->stats.queued = 0;
    for (service_t *s = zhash_first(self->services); s; s = zhash_next(self->services)) {
        self->stats.services += s->workers > 0;
        self->stats.queued += zlist_size(s->requests);
    }
    zframe_t *f = zframe_new(&self->stats, sizeof self->stats);
    zframe_send(&f, self->pipe, 0);
}

//  One command from the owner; true when it says stop.
static bool
s_on_pipe(broker_t *self)
{
    zmsg_t *cmd = zmsg_recv(self->pipe);
    char *verb = cmd ? zmsg_popstr(cmd) : NULL;
    bool term = !verb || streq(verb, "$TERM");
    if (verb && streq(verb, "STATS"))
        s_stats_reply(self);
    free(verb);
    zmsg_destroy(&cmd);
    return term;
}

static void
s_broker_actor(zsock_t *pipe, void *args_)
{
    broker_args_t *args = args_;
    broker_t self = {.pipe = pipe, .heartbeat_ms = args->heartbeat_ms};
    self.router = args->router; // bound by en_broker_new, handed off to us
    self.handle = zsock_resolve(self.router);
    args->router = NULL;
    self.services = zhash_new();
    self.workers = zhash_new();
    self.active = zhash_new();
    self.forwards = args->forwards;
    self.heartbeat_at = en_mono_ms() + self.heartbeat_ms;
    self.expire_at = INT64_MAX;
    en_request_id_new(self.epoch);
    zsock_signal(pipe, 0);

    // The owner decides when we stop: only $TERM on the pipe ends the
    // loop. Each socket is read until it has nothing before we sleep on
    // its ZMQ_FD (en_frames_poll): the pipe by ZMQ_EVENTS, the router by
    // s_drain, again after any send (`dirty`).
    void *sockets[] = {zsock_resolve(pipe), self.handle};
    bool ready[] = {true, true}; // look at both before the first sleep
    bool term = false;
    while (!term) {
        self.mono = en_mono_ms();
        self.now = en_now_ms();
        if (ready[0])
            while (!term && (zsock_events(pipe) & ZMQ_POLLIN))
                term = s_on_pipe(&self);
        if (ready[1] || self.dirty)
            s_drain(&self); // a burst before housekeeping
        s_housekeeping(&self);
        int64_t wait = self.heartbeat_at - en_mono_ms();
        if (wait < 0 || self.dirty)
            wait = 0;
        if (wait > 500)
            wait = 500; // queue deadlines are checked at least twice a second
        if (!term && en_frames_poll(sockets, 2, ready, (long) wait) < 0)
            ready[0] = ready[1] = true; // EINTR: look again
    }
    // Tell connected workers we are going so they reconnect promptly.
    for (worker_t *w = zhash_first(self.workers); w; w = zhash_next(self.workers))
        s_worker_send(&self, w->identity, w->identity_size, MDPW_DISCONNECT, NULL, 0);
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
