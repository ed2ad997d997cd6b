/*  worker.c — a 7/MDP worker driven by its handler thread (see worker.h).

    Design. For each gateway the worker keeps a DEALER, a liveness counter
    and a generation number. Any message from the broker resets liveness;
    every heartbeat interval without one decrements it, and at zero the
    connection is rebuilt on a fresh socket followed by READY (7/MDP: "MUST
    close its socket, and reconnect ... on a new socket"). DISCONNECT from
    the broker does the same at once. Requests queue in arrival order as
    [token][client][body] and go to the handler one at a time; `call` keeps
    [token][client] of the one in hand until its reply.

    Locking. `lock` guards every field but the watchdog's own. The thread
    that drives the worker (the handler thread, or the adapter actor) holds
    it except while a call is in hand; the watchdog only try-locks it, and
    only once a call has run for EN_WATCH_MS, so on the short path nobody
    ever waits for anybody. `call_since` is atomic so the watchdog can look
    at it without the lock. */
#include "bus/worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "bus/envelope.h"
#include "bus/mdp.h"
#include "common/log.h"

#define EN_MAX_GATEWAYS EN_WORKER_MAX_LINKS
//  The watchdog wakes this often and steps in for calls older than this:
//  during a long call a broker hears from us within ~5 s of the last
//  heartbeat, and every 3.75 s after, inside its 7.5 s expiry.
#define EN_WATCH_MS (EN_HEARTBEAT_MS / 2)

typedef struct {
    char *endpoint;
    zsock_t *dealer;
    uint32_t generation;
    int liveness;
    bool outstanding; // a request from this gateway is queued or in hand
    bool disconnected;
} link_t;

typedef struct {
    uint32_t link;
    uint32_t generation;
} token_t;

struct en_worker {
    pthread_mutex_t lock;
    char *service;
    link_t links[EN_MAX_GATEWAYS];
    int link_count;
    zlist_t *queue; // zmsg_t* [token][client][body] waiting for the handler
    zmsg_t *call;   // [token][client] of the request in hand, or NULL
    bool draining;
    int64_t heartbeat_at;
    _Atomic int64_t call_since; // monotonic ms the call in hand began; 0 = none

    pthread_t watchdog;
    bool watching;              // the watchdog thread was started
    pthread_mutex_t watch_lock; // guards watch_stop for watch_wake
    pthread_cond_t watch_wake;
    bool watch_stop;

    zactor_t *adapter; // en_worker_pipe
};

//  --------------------------------------------------------------------------
//  Links (the caller holds the lock)

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
s_link_connect(en_worker_t *self, link_t *link)
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

static void
s_on_link(en_worker_t *self, int index)
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
            zmsg_addmem(job, &token, sizeof token);
            zmsg_append(job, &client);
            zmsg_append(job, &body);
            zlist_append(self->queue, job);
            link->outstanding = true;
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

static void
s_heartbeat(en_worker_t *self)
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
            // a request from it, queued or in hand, is the broker's to
            // requeue now: its reply is dropped (the generation changes)
            s_link_connect(self, link);
        }
        else
            s_link_send(link, MDPW_HEARTBEAT, NULL);
    }
}

//  Wait up to timeout_ms for the links (and `also`), read everything that
//  came, send the heartbeats due. True when `also` is readable.
static bool
s_poll(en_worker_t *self, long timeout_ms, zsock_t *also)
{
    zmq_pollitem_t items[EN_MAX_GATEWAYS + 1];
    int n = self->link_count;
    for (int i = 0; i < n; i++)
        items[i] = (zmq_pollitem_t){zsock_resolve(self->links[i].dealer), 0, ZMQ_POLLIN, 0};
    if (also)
        items[n++] = (zmq_pollitem_t){zsock_resolve(also), 0, ZMQ_POLLIN, 0};
    if (zmq_poll(items, n, timeout_ms) < 0 && zmq_errno() != EINTR)
        zclock_sleep(timeout_ms < 0 || timeout_ms > 100 ? 100 : (int) timeout_ms); // no spin
    for (int i = 0; i < self->link_count; i++)
        if (items[i].revents & ZMQ_POLLIN)
            // several messages may wait after a long call; a reconnect
            // swaps the socket, which then has nothing to read
            for (int k = 0; k < 100 && (zsock_events(self->links[i].dealer) & ZMQ_POLLIN); k++)
                s_on_link(self, i);
    s_heartbeat(self);
    return also && (items[n - 1].revents & ZMQ_POLLIN);
}

//  --------------------------------------------------------------------------
//  Calls (the caller holds the lock)

//  Make the next queued request the call in hand and return its body;
//  NULL when none came within timeout_ms (-1: no limit) or `also` woke us.
static zframe_t *
s_next(en_worker_t *self, int timeout_ms, zsock_t *also)
{
    assert(!self->call); // one call at a time: a programming error
    int64_t until = timeout_ms < 0 ? INT64_MAX : en_mono_ms() + timeout_ms;
    if (en_mono_ms() >= self->heartbeat_at)
        s_poll(self, 0, NULL); // a busy queue must not starve heartbeats
    while (zlist_size(self->queue) == 0) {
        int64_t now = en_mono_ms();
        int64_t wait = self->heartbeat_at - now;
        if (until - now < wait)
            wait = until - now;
        if (s_poll(self, wait < 0 ? 0 : (long) wait, also) || en_mono_ms() >= until)
            break;
    }
    zmsg_t *job = zlist_pop(self->queue);
    if (!job)
        return NULL;
    zframe_t *body = zmsg_last(job);
    zmsg_remove(job, body);
    self->call = job;
    atomic_store(&self->call_since, en_mono_ms());
    return body;
}

static void
s_reply(en_worker_t *self, zframe_t **reply_p)
{
    zmsg_t *call = self->call;
    self->call = NULL;
    atomic_store(&self->call_since, 0);
    token_t token;
    memcpy(&token, zframe_data(zmsg_first(call)), sizeof token);
    zframe_t *client = zmsg_next(call);
    link_t *link = &self->links[token.link];
    if (token.generation == link->generation && !link->disconnected) {
        zmsg_t *reply = zmsg_new();
        zmsg_append(reply, &(zframe_t *){zframe_dup(client)});
        zmsg_addmem(reply, "", 0);
        zmsg_append(reply, reply_p);
        s_link_send(link, MDPW_REPLY, reply);
        link->outstanding = false;
        if (self->draining) {
            s_link_send(link, MDPW_DISCONNECT, NULL);
            link->disconnected = true;
        }
    }
    else if (token.generation == link->generation)
        link->outstanding = false;
    zframe_destroy(reply_p);
    zmsg_destroy(&call);
}

static void
s_drain(en_worker_t *self)
{
    self->draining = true;
    for (int i = 0; i < self->link_count; i++) {
        link_t *link = &self->links[i];
        if (!link->outstanding && !link->disconnected) {
            s_link_send(link, MDPW_DISCONNECT, NULL);
            link->disconnected = true;
        }
    }
}

static bool
s_drained(en_worker_t *self)
{
    if (!self->draining || self->call || zlist_size(self->queue))
        return false;
    for (int i = 0; i < self->link_count; i++)
        if (self->links[i].outstanding)
            return false;
    return true;
}

//  --------------------------------------------------------------------------
//  The watchdog: heartbeats while a long call is in hand

static void *
s_watchdog(void *arg)
{
    en_worker_t *self = arg;
    pthread_mutex_lock(&self->watch_lock);
    while (!self->watch_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += (long) (EN_WATCH_MS % 1000) * 1000000L;
        ts.tv_sec += EN_WATCH_MS / 1000 + ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&self->watch_wake, &self->watch_lock, &ts);
        int64_t since = atomic_load(&self->call_since);
        if (self->watch_stop || since == 0 || en_mono_ms() - since < EN_WATCH_MS)
            continue;
        // the driving thread holds the lock between calls only: if it has
        // it now the long call has just ended, and heartbeats are its job
        if (pthread_mutex_trylock(&self->lock) != 0)
            continue;
        if (self->call)
            s_poll(self, 0, NULL);
        pthread_mutex_unlock(&self->lock);
    }
    pthread_mutex_unlock(&self->watch_lock);
    return NULL;
}

//  --------------------------------------------------------------------------
//  The pipe adapter: drives the worker for a thread that polls a socket

static void
s_adapter_command(en_worker_t *self, zmsg_t *msg, bool *stop)
{
    char *verb = msg ? zmsg_popstr(msg) : NULL;
    if (!verb || streq(verb, "$TERM"))
        *stop = true;
    else if (streq(verb, "REP") && self->call) {
        zframe_t *reply = zmsg_size(msg) == 3 ? zmsg_last(msg) : NULL;
        if (reply)
            zmsg_remove(msg, reply);
        else {
            en_err_t err;
            en_err_set(&err, EN_INTERNAL, "malformed reply from the handler thread");
            en_error("worker: %s", err.message);
            reply = en_reply_error_frame(NULL, &err);
        }
        s_reply(self, &reply);
    }
    else if (streq(verb, "DRAIN"))
        s_drain(self);
    free(verb);
    zmsg_destroy(&msg);
}

static void
s_adapter(zsock_t *pipe, void *arg)
{
    en_worker_t *self = arg;
    pthread_mutex_lock(&self->lock);
    zsock_signal(pipe, 0);
    bool stop = false, said_drained = false;
    while (!stop) {
        zmsg_t *msg;
        zframe_t *body = self->call ? NULL : s_next(self, -1, pipe);
        if (body) {
            zmsg_t *req = zmsg_new();
            zmsg_addstr(req, "REQ");
            zmsg_append(req, &(zframe_t *){zframe_dup(zmsg_first(self->call))});
            zmsg_append(req, &(zframe_t *){zframe_dup(zmsg_last(self->call))});
            zmsg_append(req, &body);
            zmsg_send(&req, pipe);
        }
        if (self->call) {
            // the handler has the call: the watchdog may step in meanwhile
            pthread_mutex_unlock(&self->lock);
            msg = zmsg_recv(pipe);
            pthread_mutex_lock(&self->lock);
        }
        else
            msg = zmsg_recv(pipe); // s_next saw it readable
        s_adapter_command(self, msg, &stop);
        if (!said_drained && s_drained(self)) {
            zstr_send(pipe, "DRAINED");
            said_drained = true;
        }
    }
    pthread_mutex_unlock(&self->lock);
}

//  --------------------------------------------------------------------------

en_worker_t *
en_worker_new(const char *gateways, const char *service, en_err_t *err)
{
    if (!gateways || !*gateways || !service || !*service) {
        en_err_set(err, EN_NOT_VALID, "a worker needs a gateway endpoint and a service name");
        return NULL;
    }
    int endpoints = 1;
    for (const char *c = gateways; *c; c++)
        endpoints += *c == ',';
    if (endpoints > EN_MAX_GATEWAYS) {
        en_err_set(err, EN_NOT_VALID, "%d gateway connections for one worker; at most %d",
                   endpoints, EN_MAX_GATEWAYS);
        return NULL;
    }
    en_worker_t *self = calloc(1, sizeof *self);
    pthread_mutex_init(&self->lock, NULL);
    pthread_mutex_init(&self->watch_lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&self->watch_wake, &attr);
    pthread_condattr_destroy(&attr);
    self->service = strdup(service);
    self->queue = zlist_new();

    pthread_mutex_lock(&self->lock);
    char *eps = strdup(gateways), *save = NULL;
    for (char *ep = strtok_r(eps, ",", &save); ep && self->link_count < EN_MAX_GATEWAYS;
         ep = strtok_r(NULL, ",", &save)) {
        link_t *link = &self->links[self->link_count++];
        link->endpoint = strdup(ep);
        s_link_connect(self, link);
    }
    free(eps);
    self->heartbeat_at = en_mono_ms() + EN_HEARTBEAT_MS;
    pthread_mutex_unlock(&self->lock);

    self->watching = pthread_create(&self->watchdog, NULL, s_watchdog, self) == 0;
    if (!self->watching) {
        en_err_set(err, EN_INTERNAL, "cannot start the watchdog thread of a %s worker", service);
        en_worker_destroy(&self);
    }
    return self;
}

void
en_worker_destroy(en_worker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    en_worker_t *self = *self_p;
    zactor_destroy(&self->adapter);
    if (self->watching) {
        pthread_mutex_lock(&self->watch_lock);
        self->watch_stop = true;
        pthread_cond_signal(&self->watch_wake);
        pthread_mutex_unlock(&self->watch_lock);
        pthread_join(self->watchdog, NULL);
    }
    pthread_mutex_lock(&self->lock);
    for (int i = 0; i < self->link_count; i++) {
        if (!self->links[i].disconnected)
            s_link_send(&self->links[i], MDPW_DISCONNECT, NULL);
        zsock_destroy(&self->links[i].dealer);
        free(self->links[i].endpoint);
    }
    zmsg_t *job;
    while ((job = zlist_pop(self->queue)))
        zmsg_destroy(&job);
    zlist_destroy(&self->queue);
    zmsg_destroy(&self->call);
    pthread_mutex_unlock(&self->lock);
    pthread_cond_destroy(&self->watch_wake);
    pthread_mutex_destroy(&self->watch_lock);
    pthread_mutex_destroy(&self->lock);
    free(self->service);
    free(self);
    *self_p = NULL;
}

zframe_t *
en_worker_recv(en_worker_t *self, int timeout_ms)
{
    pthread_mutex_lock(&self->lock);
    zframe_t *body = s_next(self, timeout_ms, NULL);
    pthread_mutex_unlock(&self->lock);
    return body;
}

void
en_worker_reply(en_worker_t *self, zframe_t **reply_p)
{
    pthread_mutex_lock(&self->lock);
    assert(self->call); // a reply needs a request in hand
    s_reply(self, reply_p);
    pthread_mutex_unlock(&self->lock);
}

void
en_worker_drain(en_worker_t *self)
{
    pthread_mutex_lock(&self->lock);
    s_drain(self);
    pthread_mutex_unlock(&self->lock);
}

bool
en_worker_drained(en_worker_t *self)
{
    pthread_mutex_lock(&self->lock);
    bool drained = s_drained(self);
    pthread_mutex_unlock(&self->lock);
    return drained;
}

zsock_t *
en_worker_pipe(en_worker_t *self)
{
    if (!self->adapter)
        self->adapter = zactor_new(s_adapter, self);
    return zactor_sock(self->adapter);
}
