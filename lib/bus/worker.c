/*  worker.c — the I/O actor of a 7/MDP worker (see worker.h).

    Design. For each gateway the actor keeps a DEALER, a liveness counter
    and a generation number. Any message from the broker resets liveness;
    every heartbeat interval without one decrements it, and at zero the
    connection is rebuilt on a fresh socket followed by READY (7/MDP: "MUST
    close its socket, and reconnect ... on a new socket"). DISCONNECT from
    the broker does the same at once. Requests go to the handler thread one
    at a time, in arrival order; `busy` says one is with the handler now. */
#include "bus/worker.h"

#include <string.h>

#include "bus/envelope.h"
#include "bus/mdp.h"
#include "common/log.h"

#define EN_MAX_GATEWAYS 16

typedef struct {
    char *endpoint;
    zsock_t *dealer;
    uint32_t generation;
    int liveness;
    bool outstanding; // a request from this gateway is queued or in hand
    bool disconnected;
} link_t;

typedef struct {
    zsock_t *pipe;
    char *service;
    link_t links[EN_MAX_GATEWAYS];
    int link_count;
    zlist_t *queue; // zmsg_t* ["REQ"][token][body] waiting for the handler
    bool busy;
    bool draining;
    int64_t heartbeat_at;
} actor_t;

struct en_worker {
    zactor_t *actor;
    char *service; // borrowed by the actor for READY
};

typedef struct {
    char *gateways;
    char *service;
} worker_args_t;

typedef struct {
    uint32_t link;
    uint32_t generation;
} token_t;

static void
s_link_send(link_t *link, int command, zmsg_t *tail)
{
    zmsg_t *msg = tail ? tail : zmsg_new();
    zmsg_pushmem(msg, &(char){(char) command}, 1);
    zmsg_pushstr(msg, MDPW_WORKER);
    zmsg_pushmem(msg, "", 0);
    if (zmsg_send(&msg, link->dealer))
        zmsg_destroy(&msg);
}

static void
s_link_connect(actor_t *self, link_t *link)
{
    zsock_destroy(&link->dealer);
    link->dealer = zsock_new(ZMQ_DEALER);
    zsock_set_linger(link->dealer, 1000);
    zsock_set_maxmsgsize(link->dealer, EN_MAX_WIRE_MSG);
    zsock_set_heartbeat_ivl(link->dealer, EN_HEARTBEAT_MS);
    zsock_set_heartbeat_timeout(link->dealer, EN_HEARTBEAT_EXPIRY);
    zsock_set_rcvhwm(link->dealer, 10000);
    zsock_set_sndhwm(link->dealer, 10000);
    if (zsock_connect(link->dealer, "%s", link->endpoint) < 0)
        en_error("worker: cannot connect to %s", link->endpoint);
    link->generation++;
    link->liveness = EN_HEARTBEAT_LIVENESS;
    link->outstanding = false;
    link->disconnected = false;
    zmsg_t *ready = zmsg_new();
    zmsg_addstr(ready, self->service);
    s_link_send(link, MDPW_READY, ready);
}

//  Give the handler the next queued request if it is free.
static void
s_feed(actor_t *self)
{
    if (self->busy || zlist_size(self->queue) == 0)
        return;
    zmsg_t *msg = zlist_pop(self->queue);
    if (zmsg_send(&msg, self->pipe) == 0)
        self->busy = true;
    else
        zmsg_destroy(&msg);
}

static void
s_maybe_drained(actor_t *self)
{
    if (!self->draining || self->busy || zlist_size(self->queue))
        return;
    for (int i = 0; i < self->link_count; i++)
        if (self->links[i].outstanding)
            return;
    zstr_send(self->pipe, "DRAINED");
    self->draining = false; // said once
}

static void
s_on_link(actor_t *self, int index)
{
    link_t *link = &self->links[index];
    zmsg_t *msg = zmsg_recv(link->dealer);
    if (!msg)
        return;
    link->liveness = EN_HEARTBEAT_LIVENESS;
    zframe_t *empty = zmsg_pop(msg);
    zframe_t *header = zmsg_pop(msg);
    zframe_t *command = zmsg_pop(msg);
    if (!empty || !header || !command || zframe_size(empty) != 0 ||
        !zframe_streq(header, MDPW_WORKER) || zframe_size(command) != 1) {
        en_warn("worker: malformed message from %s; dropped", link->endpoint);
        goto done;
    }
    int cmd = zframe_data(command)[0];
    if (cmd == MDPW_REQUEST) {
        // [client][""][body]
        zframe_t *client = zmsg_pop(msg);
        zframe_t *delim = zmsg_pop(msg);
        zframe_t *body = zmsg_pop(msg);
        if (!client || !delim || !body || zframe_size(delim) != 0 || zmsg_size(msg) != 0) {
            en_warn("worker: malformed REQUEST from %s; dropped", link->endpoint);
        }
        else if (link->disconnected) {
            // we said DISCONNECT: the broker requeues what it sent us
        }
        else {
            token_t token = {(uint32_t) index, link->generation};
            zmsg_t *job = zmsg_new();
            zmsg_addstr(job, "REQ");
            zmsg_addmem(job, &token, sizeof token);
            zmsg_append(job, &client);
            zmsg_append(job, &body);
            zlist_append(self->queue, job);
            link->outstanding = true;
            s_feed(self);
        }
        zframe_destroy(&client);
        zframe_destroy(&delim);
        zframe_destroy(&body);
    }
    else if (cmd == MDPW_DISCONNECT) {
        en_info("worker: %s asked us to reconnect", link->endpoint);
        if (!link->disconnected)
            s_link_connect(self, link);
    }
    // HEARTBEAT: liveness already reset
done:
    zframe_destroy(&empty);
    zframe_destroy(&header);
    zframe_destroy(&command);
    zmsg_destroy(&msg);
}

//  ["REP"][token][client][body] from the handler.
static void
s_on_reply(actor_t *self, zmsg_t *msg)
{
    zframe_t *tf = zmsg_pop(msg);
    zframe_t *client = zmsg_pop(msg);
    zframe_t *body = zmsg_pop(msg);
    self->busy = false;
    if (tf && zframe_size(tf) == sizeof(token_t) && client && body) {
        token_t token;
        memcpy(&token, zframe_data(tf), sizeof token);
        link_t *link = &self->links[token.link];
        if (token.generation == link->generation && !link->disconnected) {
            zmsg_t *reply = zmsg_new();
            zmsg_append(reply, &client);
            zmsg_addmem(reply, "", 0);
            zmsg_append(reply, &body);
            s_link_send(link, MDPW_REPLY, reply);
            link->outstanding = false;
            if (self->draining) {
                s_link_send(link, MDPW_DISCONNECT, NULL);
                link->disconnected = true;
            }
        }
        else if (token.generation == link->generation)
            link->outstanding = false;
    }
    zframe_destroy(&tf);
    zframe_destroy(&client);
    zframe_destroy(&body);
    s_feed(self);
    s_maybe_drained(self);
}

static void
s_drain(actor_t *self)
{
    self->draining = true;
    for (int i = 0; i < self->link_count; i++) {
        link_t *link = &self->links[i];
        if (!link->outstanding && !link->disconnected) {
            s_link_send(link, MDPW_DISCONNECT, NULL);
            link->disconnected = true;
        }
    }
    s_maybe_drained(self);
}

static void
s_heartbeat(actor_t *self)
{
    int64_t now = en_mono_ms();
    if (now < self->heartbeat_at)
        return;
    self->heartbeat_at = now + EN_HEARTBEAT_MS;
    for (int i = 0; i < self->link_count; i++) {
        link_t *link = &self->links[i];
        if (link->disconnected)
            continue;
        if (--link->liveness <= 0) {
            en_warn("worker: gateway %s silent; reconnecting", link->endpoint);
            if (link->outstanding) {
                // the request is already with the handler or queued; its
                // reply will be dropped (generation changes) and the broker
                // requeues it, so forget it here
                link->outstanding = false;
            }
            s_link_connect(self, link);
        }
        else
            s_link_send(link, MDPW_HEARTBEAT, NULL);
    }
}

static void
s_worker_actor(zsock_t *pipe, void *args_)
{
    worker_args_t *args = args_;
    actor_t self = {.pipe = pipe, .service = args->service};
    self.queue = zlist_new();
    char *save = NULL;
    for (char *ep = strtok_r(args->gateways, ",", &save); ep && self.link_count < EN_MAX_GATEWAYS;
         ep = strtok_r(NULL, ",", &save)) {
        link_t *link = &self.links[self.link_count++];
        link->endpoint = strdup(ep);
        s_link_connect(&self, link);
    }
    self.heartbeat_at = en_mono_ms() + EN_HEARTBEAT_MS;
    zsock_signal(pipe, 0);

    bool stop = false;
    while (!stop) {
        zmq_pollitem_t items[EN_MAX_GATEWAYS + 1];
        items[0] = (zmq_pollitem_t){zsock_resolve(pipe), 0, ZMQ_POLLIN, 0};
        for (int i = 0; i < self.link_count; i++)
            items[i + 1] =
                (zmq_pollitem_t){zsock_resolve(self.links[i].dealer), 0, ZMQ_POLLIN, 0};
        long wait = (long) (self.heartbeat_at - en_mono_ms());
        if (wait < 0)
            wait = 0;
        if (zmq_poll(items, self.link_count + 1, wait) < 0 && zmq_errno() != EINTR)
            break;
        if (items[0].revents & ZMQ_POLLIN) {
            zmsg_t *msg = zmsg_recv(pipe);
            char *verb = msg ? zmsg_popstr(msg) : NULL;
            if (!verb || streq(verb, "$TERM"))
                stop = true;
            else if (streq(verb, "REP"))
                s_on_reply(&self, msg);
            else if (streq(verb, "DRAIN"))
                s_drain(&self);
            free(verb);
            zmsg_destroy(&msg);
        }
        for (int i = 0; i < self.link_count; i++)
            if (items[i + 1].revents & ZMQ_POLLIN)
                s_on_link(&self, i);
        s_heartbeat(&self);
    }
    for (int i = 0; i < self.link_count; i++) {
        if (!self.links[i].disconnected)
            s_link_send(&self.links[i], MDPW_DISCONNECT, NULL);
        zsock_destroy(&self.links[i].dealer);
        free(self.links[i].endpoint);
    }
    zmsg_t *job;
    while ((job = zlist_pop(self.queue)))
        zmsg_destroy(&job);
    zlist_destroy(&self.queue);
}

en_worker_t *
en_worker_new(const char *gateways, const char *service, en_err_t *err)
{
    if (!gateways || !*gateways || !service || !*service) {
        en_err_set(err, EN_NOT_VALID, "a worker needs a gateway endpoint and a service name");
        return NULL;
    }
    en_worker_t *self = calloc(1, sizeof *self);
    worker_args_t args = {strdup(gateways), strdup(service)};
    // the actor copies what it keeps before it signals, so args may die
    self->actor = zactor_new(s_worker_actor, &args);
    free(args.gateways);
    // the service name stays in use by the actor: keep it alive with us
    self->service = args.service;
    return self;
}

void
en_worker_destroy(en_worker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    en_worker_t *self = *self_p;
    zactor_destroy(&self->actor);
    free(self->service);
    free(self);
    *self_p = NULL;
}

zsock_t *
en_worker_pipe(en_worker_t *self)
{
    return zactor_sock(self->actor);
}
