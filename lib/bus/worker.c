/*  worker.c — a 7/MDP worker driven by its handler thread (see worker.h).

    Design. For each gateway the worker keeps a DEALER, a liveness counter
    and a generation number. Any message from the broker resets liveness;
    every heartbeat interval without one decrements it, and at zero the
    connection is rebuilt on a fresh socket followed by READY (7/MDP: "MUST
    close its socket, and reconnect ... on a new socket"). DISCONNECT from
    the broker does the same at once. Requests queue in arrival order as
    jobs (token, client, body) in a ring and go to the handler one at a
    time; `call` holds the one in hand until its reply.

    Waiting. A handler thread wakes once per request, so what a wake costs
    is what a call costs. zmq_poll asks every socket for ZMQ_EVENTS twice
    per wake, each a system call or two; instead each link remembers
    whether it may hold a message (`dirty`: just connected, just sent on,
    or its ZMQ_FD fired). Dirty links are read until they say EAGAIN, which
    is what re-arms a ZeroMQ socket's ZMQ_FD, and only then does the thread
    sleep in poll(2) on the links' ZMQ_FDs. A link that yields a request
    stays dirty (the reply will make it so anyway) and is re-armed after
    the reply, so a request costs one re-arm, not two.

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
#include "bus/frames.h"
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
    void *handle; // the dealer's libzmq socket
    uint32_t generation;
    int liveness;
    bool outstanding; // a request from this gateway is queued or in hand
    bool disconnected;
    bool dirty; // may hold a message its ZMQ_FD will not signal (see top)
} link_t;

typedef struct {
    uint32_t link;
    uint32_t generation;
} token_t;

typedef struct {
    token_t token;
    zmq_msg_t client;
    zmq_msg_t body;
} job_t;

struct en_worker {
    pthread_mutex_t lock;
    char *service;
    link_t links[EN_MAX_GATEWAYS];
    int link_count;
    job_t *jobs; // ring of requests waiting for the handler
    size_t jobs_cap, jobs_head, jobs_count;
    job_t call; // the request in hand, when in_call
    bool in_call;
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

//  [""]["MDPW01"][command][tail...]; `msg` parts of the tail are consumed.
static void
s_link_send(link_t *link, int command, en_part_t *tail, int tail_n)
{
    char cmd = (char) command;
    en_part_t parts[8] = {{"", 0, NULL}, {MDPW_WORKER, strlen(MDPW_WORKER), NULL}, {&cmd, 1, NULL}};
    for (int i = 0; i < tail_n && i < 5; i++)
        parts[3 + i] = tail[i];
    en_frames_send(link->handle, parts, 3 + tail_n, 0);
    // a send may have taken in the socket's pending commands (a message
    // arriving among them) without our ZMQ_FD ever signalling it
    link->dirty = true;
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
    link->handle = zsock_resolve(link->dealer);
    link->generation++;
    link->liveness = EN_HEARTBEAT_LIVENESS;
    link->outstanding = false;
    link->disconnected = false;
    en_part_t service = {self->service, strlen(self->service), NULL};
    s_link_send(link, MDPW_READY, &service, 1);
}

//  The job queue: a ring that grows when a broker sends more than one
//  request per link (7/MDP says it will not; a reconnect can overlap).
static void
s_jobs_push(en_worker_t *self, job_t *job)
{
    if (self->jobs_count == self->jobs_cap) {
        size_t cap = self->jobs_cap ? self->jobs_cap * 2 : 16;
        job_t *jobs = calloc(cap, sizeof *jobs);
        for (size_t i = 0; i < self->jobs_count; i++) {
            job_t *from = &self->jobs[(self->jobs_head + i) % self->jobs_cap];
            jobs[i].token = from->token;
            zmq_msg_init(&jobs[i].client);
            zmq_msg_init(&jobs[i].body);
            zmq_msg_move(&jobs[i].client, &from->client);
            zmq_msg_move(&jobs[i].body, &from->body);
            zmq_msg_close(&from->client);
            zmq_msg_close(&from->body);
        }
        free(self->jobs);
        self->jobs = jobs;
        self->jobs_cap = cap;
        self->jobs_head = 0;
    }
    job_t *slot = &self->jobs[(self->jobs_head + self->jobs_count++) % self->jobs_cap];
    slot->token = job->token;
    zmq_msg_init(&slot->client);
    zmq_msg_init(&slot->body);
    zmq_msg_move(&slot->client, &job->client);
    zmq_msg_move(&slot->body, &job->body);
}

//  Move the oldest job into *job; false when there is none.
static bool
s_jobs_pop(en_worker_t *self, job_t *job)
{
    if (self->jobs_count == 0)
        return false;
    job_t *slot = &self->jobs[self->jobs_head];
    self->jobs_head = (self->jobs_head + 1) % self->jobs_cap;
    self->jobs_count--;
    job->token = slot->token;
    zmq_msg_init(&job->client);
    zmq_msg_init(&job->body);
    zmq_msg_move(&job->client, &slot->client);
    zmq_msg_move(&job->body, &slot->body);
    zmq_msg_close(&slot->client);
    zmq_msg_close(&slot->body);
    return true;
}

static void
s_job_close(job_t *job)
{
    zmq_msg_close(&job->client);
    zmq_msg_close(&job->body);
}

//  One message from a broker: [""]["MDPW01"][command][...]. True when it
//  queued a request.
static bool
s_on_link(en_worker_t *self, int index, en_frames_t *msg)
{
    link_t *link = &self->links[index];
    link->liveness = EN_HEARTBEAT_LIVENESS;
    if (en_frames_size(msg) < 3 || en_frames_len(msg, 0) != 0 ||
        !en_frames_streq(msg, 1, MDPW_WORKER) || en_frames_len(msg, 2) != 1) {
        en_warn("worker: malformed message from %s; dropped", link->endpoint);
        return false;
    }
    int cmd = en_frames_data(msg, 2)[0];
    if (cmd == MDPW_REQUEST) {
        // [client][""][body]
        if (en_frames_size(msg) != 6 || en_frames_len(msg, 4) != 0) {
            en_warn("worker: malformed REQUEST from %s; dropped", link->endpoint);
        }
        else if (link->disconnected) {
            // we said DISCONNECT: the broker requeues what it sent us
        }
        else {
            job_t job;
            job.token = (token_t){(uint32_t) index, link->generation};
            zmq_msg_init(&job.client);
            zmq_msg_init(&job.body);
            zmq_msg_move(&job.client, &msg->part[3]);
            zmq_msg_move(&job.body, &msg->part[5]);
            s_jobs_push(self, &job);
            s_job_close(&job);
            link->outstanding = true;
            return true;
        }
    }
    else if (cmd == MDPW_DISCONNECT) {
        en_info("worker: %s asked us to reconnect", link->endpoint);
        if (!link->disconnected)
            s_link_connect(self, link);
    }
    // HEARTBEAT: liveness already reset
    return false;
}

//  Read a dirty link until it says EAGAIN (re-arming its ZMQ_FD) or gives
//  a request (it then stays dirty: the reply re-arms it).
static void
s_drain_link(en_worker_t *self, int index)
{
    link_t *link = &self->links[index];
    en_frames_t msg;
    for (int k = 0; k < 100; k++) {
        // s_on_link may reconnect: read the link's socket afresh each time
        if (en_frames_recv(&msg, link->handle, ZMQ_DONTWAIT) != 0) {
            if (zmq_errno() == EAGAIN)
                link->dirty = false;
            return;
        }
        bool request = s_on_link(self, index, &msg);
        en_frames_close(&msg);
        if (request)
            return;
    }
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
            s_link_send(link, MDPW_HEARTBEAT, NULL, 0);
    }
}

//  Read the links that may hold messages; then wait up to timeout_ms (-1:
//  no limit; no wait once a request or `also` is ready) for the links and
//  `also`, and read the links that woke us; send the heartbeats due. With
//  timeout_ms 0 every link is read. True when `also` is readable.
static bool
s_poll(en_worker_t *self, long timeout_ms, zsock_t *also)
{
    for (int i = 0; i < self->link_count; i++)
        if (self->links[i].dirty)
            s_drain_link(self, i);
    // ZMQ_EVENTS also re-arms `also`'s ZMQ_FD when nothing waits there
    bool also_ready = also && (zsock_events(also) & ZMQ_POLLIN);
    // a caller that would sleep but already has what it waits for does
    // not need the other links now; a look (timeout 0) reads them all
    long wait = self->jobs_count || also_ready ? 0 : timeout_ms;
    if (timeout_ms == 0 || wait != 0) {
        void *sockets[EN_MAX_GATEWAYS + 1];
        bool ready[EN_MAX_GATEWAYS + 1];
        int n = self->link_count;
        for (int i = 0; i < n; i++)
            sockets[i] = self->links[i].handle;
        if (also)
            sockets[n++] = zsock_resolve(also);
        int rc = en_frames_poll(sockets, n, ready, wait);
        if (rc < 0 && errno != EINTR)
            zclock_sleep(wait < 0 || wait > 100 ? 100 : (int) wait); // no spin
        for (int i = 0; rc > 0 && i < self->link_count; i++)
            if (ready[i]) {
                // several messages may wait after a long call; a reconnect
                // swaps the socket, which then has nothing to read
                self->links[i].dirty = true;
                s_drain_link(self, i);
            }
        if (rc > 0 && also && ready[n - 1])
            also_ready = zsock_events(also) & ZMQ_POLLIN;
    }
    s_heartbeat(self);
    return also_ready;
}

//  --------------------------------------------------------------------------
//  Calls (the caller holds the lock)

//  Make the next queued request the call in hand; false when none came
//  within timeout_ms (-1: no limit) or `also` woke us.
static bool
s_next(en_worker_t *self, int timeout_ms, zsock_t *also)
{
    assert(!self->in_call); // one call at a time: a programming error
    int64_t now = en_mono_ms();
    int64_t until = timeout_ms < 0 ? INT64_MAX : now + timeout_ms;
    if (now >= self->heartbeat_at)
        s_poll(self, 0, NULL); // a busy queue must not starve heartbeats
    while (self->jobs_count == 0) {
        int64_t wait = self->heartbeat_at - now;
        if (until - now < wait)
            wait = until - now;
        bool woken = s_poll(self, wait < 0 ? 0 : (long) wait, also);
        now = en_mono_ms();
        if (woken || now >= until)
            break;
    }
    if (!s_jobs_pop(self, &self->call))
        return false;
    self->in_call = true;
    atomic_store(&self->call_since, now);
    return true;
}

//  Answer the call in hand; the reply is consumed.
static void
s_reply(en_worker_t *self, zmq_msg_t *reply)
{
    self->in_call = false;
    atomic_store(&self->call_since, 0);
    token_t token = self->call.token;
    link_t *link = &self->links[token.link];
    if (token.generation == link->generation && !link->disconnected) {
        // [REPLY][client][""][body]
        en_part_t tail[] = {{NULL, 0, &self->call.client}, {"", 0, NULL}, {NULL, 0, reply}};
        s_link_send(link, MDPW_REPLY, tail, 3);
        link->outstanding = false;
        if (self->draining) {
            s_link_send(link, MDPW_DISCONNECT, NULL, 0);
            link->disconnected = true;
        }
    }
    else if (token.generation == link->generation)
        link->outstanding = false;
    zmq_msg_close(reply);
    s_job_close(&self->call);
}

static void
s_drain(en_worker_t *self)
{
    self->draining = true;
    for (int i = 0; i < self->link_count; i++) {
        link_t *link = &self->links[i];
        if (!link->outstanding && !link->disconnected) {
            s_link_send(link, MDPW_DISCONNECT, NULL, 0);
            link->disconnected = true;
        }
    }
}

static bool
s_drained(en_worker_t *self)
{
    if (!self->draining || self->in_call || self->jobs_count)
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
        if (self->in_call)
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
    else if (streq(verb, "REP") && self->in_call) {
        zframe_t *frame = zmsg_size(msg) == 3 ? zmsg_last(msg) : NULL;
        zmq_msg_t reply;
        if (frame) {
            zmq_msg_init_size(&reply, zframe_size(frame));
            memcpy(zmq_msg_data(&reply), zframe_data(frame), zframe_size(frame));
        }
        else {
            en_err_t err;
            en_err_set(&err, EN_INTERNAL, "malformed reply from the handler thread");
            en_error("worker: %s", err.message);
            en_reply_error_msg(&reply, NULL, &err);
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
        if (!self->in_call && s_next(self, -1, pipe)) {
            job_t *call = &self->call;
            zmsg_t *req = zmsg_new();
            zmsg_addstr(req, "REQ");
            zmsg_addmem(req, &call->token, sizeof call->token);
            zmsg_addmem(req, zmq_msg_data(&call->client), zmq_msg_size(&call->client));
            zmsg_addmem(req, zmq_msg_data(&call->body), zmq_msg_size(&call->body));
            zmsg_send(&req, pipe);
        }
        if (self->in_call) {
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
            s_link_send(&self->links[i], MDPW_DISCONNECT, NULL, 0);
        zsock_destroy(&self->links[i].dealer);
        free(self->links[i].endpoint);
    }
    job_t job;
    while (s_jobs_pop(self, &job))
        s_job_close(&job);
    free(self->jobs);
    if (self->in_call)
        s_job_close(&self->call);
    pthread_mutex_unlock(&self->lock);
    pthread_cond_destroy(&self->watch_wake);
    pthread_mutex_destroy(&self->watch_lock);
    pthread_mutex_destroy(&self->lock);
    free(self->service);
    free(self);
    *self_p = NULL;
}

const uint8_t *
en_worker_recv(en_worker_t *self, int timeout_ms, size_t *size)
{
    pthread_mutex_lock(&self->lock);
    const uint8_t *body = NULL;
    if (s_next(self, timeout_ms, NULL)) {
        body = zmq_msg_data(&self->call.body);
        *size = zmq_msg_size(&self->call.body);
    }
    pthread_mutex_unlock(&self->lock);
    return body;
}

void
en_worker_reply(en_worker_t *self, zmq_msg_t *reply)
{
    pthread_mutex_lock(&self->lock);
    assert(self->in_call); // a reply needs a request in hand
    s_reply(self, reply);
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
