/*  worker.c — 7/MDP worker connections shared by a service's handler
    threads (see worker.h).

    Design. For each gateway connection (a "link") the worker keeps a
    DEALER, a liveness counter, a generation number and how many of its
    requests are queued or in hand (`held`). Any message from the broker
    resets liveness; every heartbeat interval without one decrements it,
    and at zero the connection is rebuilt on a fresh socket followed by
    READY (7/MDP: "MUST close its socket, and reconnect ... on a new
    socket"). DISCONNECT from the broker does the same at once. Requests
    become jobs (link, generation, address, body) in one FIFO `queue`; a
    job a thread takes moves to the `hand` list (oldest first) until its
    reply. Jobs are recycled through a free list.

    Reading. zmq_poll asks every socket for ZMQ_EVENTS twice per wake, each
    a system call or two; instead each link remembers whether it may hold a
    message (`dirty`: just connected, just sent on, or its ZMQ_FD fired).
    Dirty links are read until they say EAGAIN, which is what re-arms a
    ZeroMQ socket's ZMQ_FD, and only then does the leader sleep in poll(2)
    on the links' ZMQ_FDs and on an eventfd others use to wake it. A send
    may take in a pending message without the ZMQ_FD ever signalling it, so
    a thread that has sent on links while the leader sleeps reads them
    before it lets go of the lock (s_rearm: the leader's fds are then armed
    again); one that rebuilds a link wakes the leader, whose poll set names
    the old socket. Sending never reads, so no send can rebuild the link it
    is sending on under its caller's feet.

    Locking. `lock` guards every field but the watchdog's thread handle.
    No thread holds it while it sleeps (poll, condition variables) or runs
    a handler, so nobody waits long for it; the watchdog waits on its own
    condition variable under the same lock. */
#include "bus/worker.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "bus/envelope.h"
#include "bus/frames.h"
#include "bus/mdp.h"
#include "common/log.h"

#define EN_MAX_GATEWAYS EN_WORKER_MAX_LINKS
//  While no thread reads the links (every thread in a call), the watchdog
//  reads them and sends the heartbeats due this often: a broker hears from
//  us within ~5 s of the last heartbeat, inside its 7.5 s expiry.
#define EN_WATCH_MS (EN_HEARTBEAT_MS / 2)
//  The watchdog ticks every EN_WORKER_NUDGE_MS while a nudge may be
//  needed, and goes back to EN_WATCH_MS after this many quiet ticks.
#define EN_WATCH_QUIET 50
//  Most messages read from one link in one go, so that under a flood the
//  other links and the heartbeats still get their turn.
#define EN_READ_BURST 1024

typedef struct {
    char *endpoint;
    zsock_t *dealer;
    void *handle; // the dealer's libzmq socket
    int fd;       // its ZMQ_FD
    uint32_t generation;
    int liveness;
    int held; // requests of this generation queued or in hand
    bool disconnected;
    bool dirty; // may hold a message its ZMQ_FD will not signal (see top)
} link_t;

struct en_job {
    en_job_t *prev, *next; // in `queue` or `hand`; next only in `spare`
    uint32_t link;
    uint32_t generation;
    int64_t at; // monotonic ms: queued, then taken
    zmq_msg_t address;
    zmq_msg_t body;
};

typedef struct {
    en_job_t *head, *tail;
    size_t count;
} jobs_t;

struct en_worker {
    pthread_mutex_t lock;
    char *service;
    int credit;
    link_t links[EN_MAX_GATEWAYS];
    int link_count;
    jobs_t queue;    // requests no thread has taken, oldest first
    jobs_t hand;     // requests being handled, oldest first
    en_job_t *spare; // free jobs
    bool draining;
    int64_t heartbeat_at;
    int64_t read_at; // monotonic ms every link was last read to EAGAIN

    pthread_cond_t idle_wake; // followers wait here
    int idle;                 // threads waiting on idle_wake
    bool polling;             // a thread (the leader) sleeps in poll(2)
    int wake_fd;              // eventfd in the leader's poll set
    bool wake_sent;

    pthread_t watchdog;
    bool watching; // the watchdog thread was started
    pthread_cond_t watch_wake;
    bool watch_stop;
    bool watch_short; // ticking every EN_WORKER_NUDGE_MS
    int watch_quiet;  // short ticks in a row with nothing to watch

    zactor_t *adapter; // en_worker_pipe
};

//  --------------------------------------------------------------------------
//  Jobs (the caller holds the lock)

static void
s_jobs_append(jobs_t *jobs, en_job_t *job)
{
    job->next = NULL;
    job->prev = jobs->tail;
    if (jobs->tail)
        jobs->tail->next = job;
    else
        jobs->head = job;
    jobs->tail = job;
    jobs->count++;
}

static void
s_jobs_remove(jobs_t *jobs, en_job_t *job)
{
    if (job->prev)
        job->prev->next = job->next;
    else
        jobs->head = job->next;
    if (job->next)
        job->next->prev = job->prev;
    else
        jobs->tail = job->prev;
    job->prev = job->next = NULL;
    jobs->count--;
}

static en_job_t *
s_jobs_pop(jobs_t *jobs)
{
    en_job_t *job = jobs->head;
    if (job)
        s_jobs_remove(jobs, job);
    return job;
}

static en_job_t *
s_job_new(en_worker_t *self)
{
    en_job_t *job = self->spare;
    if (job)
        self->spare = job->next;
    else
        job = calloc(1, sizeof *job);
    zmq_msg_init(&job->address);
    zmq_msg_init(&job->body);
    return job;
}

static void
s_job_free(en_worker_t *self, en_job_t *job)
{
    zmq_msg_close(&job->address);
    zmq_msg_close(&job->body);
    job->next = self->spare;
    self->spare = job;
}

//  --------------------------------------------------------------------------
//  Links (the caller holds the lock)

//  The leader's poll set is stale, or it has work: wake it.
static void
s_wake_leader(en_worker_t *self)
{
    if (self->polling && !self->wake_sent) {
        uint64_t one = 1;
        self->wake_sent = write(self->wake_fd, &one, sizeof one) == sizeof one;
    }
}

//  [""]["MDPW01"][command][tail...]; `msg` parts of the tail are consumed.
//  The link is dirty after: see s_rearm.
static void
s_link_send(link_t *link, int command, en_part_t *tail, int tail_n)
{
    char cmd = (char) command;
    en_part_t parts[8] = {{"", 0, NULL}, {MDPW_WORKER, strlen(MDPW_WORKER), NULL}, {&cmd, 1, NULL}};
    for (int i = 0; i < tail_n && i < 5; i++)
        parts[3 + i] = tail[i];
    en_frames_send(link->handle, parts, 3 + tail_n, 0);
    // a send may have taken in the socket's pending commands (a message
    // arriving among them) without its ZMQ_FD ever signalling it
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
    link->fd = zsock_fd(link->dealer);
    link->generation++;
    link->liveness = EN_HEARTBEAT_LIVENESS;
    link->held = 0;
    link->disconnected = false;
    s_wake_leader(self); // it polls the old socket
    // READY [service], with [credit] when more than one (mdp.h)
    char credit[16];
    en_part_t ready[] = {{self->service, strlen(self->service), NULL}, {credit, 0, NULL}};
    ready[1].size = (size_t) snprintf(credit, sizeof credit, "%d", self->credit);
    s_link_send(link, MDPW_READY, ready, self->credit > 1 ? 2 : 1);
}

static void
s_link_disconnect(link_t *link)
{
    if (!link->disconnected)
        s_link_send(link, MDPW_DISCONNECT, NULL, 0);
    link->disconnected = true;
}

static void s_drained_check(en_worker_t *self);

//  One message from a broker: [""]["MDPW01"][command][...].
static void
s_on_link(en_worker_t *self, int index, en_frames_t *msg, int64_t now)
{
    link_t *link = &self->links[index];
    link->liveness = EN_HEARTBEAT_LIVENESS;
    if (en_frames_size(msg) < 3 || en_frames_len(msg, 0) != 0 ||
        !en_frames_streq(msg, 1, MDPW_WORKER) || en_frames_len(msg, 2) != 1) {
        en_warn("worker: malformed message from %s; dropped", link->endpoint);
        return;
    }
    int cmd = en_frames_data(msg, 2)[0];
    if (cmd == MDPW_REQUEST) {
        // [address][""][body]
        if (en_frames_size(msg) != 6 || en_frames_len(msg, 4) != 0)
            en_warn("worker: malformed REQUEST from %s; dropped", link->endpoint);
        else if (link->disconnected || self->draining) {
            // the broker requeues it when it hears our DISCONNECT
        }
        else {
            en_job_t *job = s_job_new(self);
            job->link = (uint32_t) index;
            job->generation = link->generation;
            job->at = now;
            zmq_msg_move(&job->address, &msg->part[3]);
            zmq_msg_move(&job->body, &msg->part[5]);
            s_jobs_append(&self->queue, job);
            link->held++;
        }
    }
    else if (cmd == MDPW_DISCONNECT) {
        en_info("worker: %s asked us to reconnect", link->endpoint);
        if (self->draining) {
            link->disconnected = true; // it requeued what we hold; we are going
            s_drained_check(self);
        }
        else if (!link->disconnected)
            s_link_connect(self, link);
    }
    // HEARTBEAT: liveness already reset
}

//  Read a link until it says EAGAIN (re-arming its ZMQ_FD): every request
//  that waits there joins the queue in one go.
static void
s_drain_link(en_worker_t *self, int index)
{
    link_t *link = &self->links[index];
    int64_t now = en_mono_ms();
    en_frames_t msg;
    for (int k = 0; k < EN_READ_BURST; k++) {
        // s_on_link may reconnect: read the link's socket afresh each time
        if (en_frames_recv(&msg, link->handle, ZMQ_DONTWAIT) != 0) {
            if (zmq_errno() == EAGAIN)
                link->dirty = false;
            return;
        }
        s_on_link(self, index, &msg, now);
        en_frames_close(&msg);
    }
}

//  Read the links that may hold messages (all of them when `all`).
static void
s_read_links(en_worker_t *self, bool all)
{
    bool clean = true;
    for (int i = 0; i < self->link_count; i++) {
        if (all || self->links[i].dirty)
            s_drain_link(self, i);
        clean = clean && !self->links[i].dirty;
    }
    if (all && clean)
        self->read_at = en_mono_ms();
}

//  Every heartbeat interval: a heartbeat to each broker, and a link whose
//  broker has been silent for EN_HEARTBEAT_LIVENESS intervals rebuilt.
//  Read the links first, so liveness counts what has come.
static void
s_heartbeat(en_worker_t *self, int64_t now)
{
    if (now < self->heartbeat_at)
        return;
    s_read_links(self, true);
    self->heartbeat_at = now + EN_HEARTBEAT_MS;
    for (int i = 0; i < self->link_count; i++) {
        link_t *link = &self->links[i];
        if (link->disconnected)
            continue;
        if (--link->liveness <= 0) {
            en_warn("worker: gateway %s silent; reconnecting", link->endpoint);
            // what it sent us, queued or in hand, is the broker's to
            // requeue now: our replies are dropped (the generation changes)
            s_link_connect(self, link);
        }
        else
            s_link_send(link, MDPW_HEARTBEAT, NULL, 0);
    }
}

//  After sending on links: a leader asleep on their ZMQ_FDs might miss a
//  message a send took in, so read the links now, which arms them again.
static void
s_rearm(en_worker_t *self)
{
    if (self->polling)
        s_read_links(self, false);
}

//  --------------------------------------------------------------------------
//  Threads (the caller holds the lock)

static struct timespec
s_abstime(int64_t mono_ms)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t wait = mono_ms - en_mono_ms();
    if (wait < 0)
        wait = 0;
    int64_t ns = now.tv_nsec + (wait % 1000) * 1000000L;
    return (struct timespec){.tv_sec = now.tv_sec + (time_t) (wait / 1000) + ns / 1000000000L,
                             .tv_nsec = ns % 1000000000L};
}

static bool
s_drained(en_worker_t *self)
{
    if (!self->draining || self->hand.count || self->queue.count)
        return false;
    for (int i = 0; i < self->link_count; i++)
        if (!self->links[i].disconnected && self->links[i].held > 0)
            return false;
    return true;
}

//  Every change that can finish a drain (a reply, the drain itself, a
//  broker's DISCONNECT) ends here: threads waiting for work leave.
static void
s_drained_check(en_worker_t *self)
{
    if (s_drained(self)) {
        pthread_cond_broadcast(&self->idle_wake);
        s_wake_leader(self);
    }
}

//  Whether the watchdog may have to nudge soon: requests queued and a
//  thread free to take them, or a call in hand while nobody reads the
//  links and a thread could.
static bool
s_watch_needed(en_worker_t *self)
{
    return (self->queue.count && (self->idle || self->polling)) ||
           (!self->polling && self->hand.count && self->idle);
}

//  A thread took a job: make sure the watchdog ticks if it may have to
//  nudge (see worker.h); it stays ticking while that lasts.
static void
s_watch(en_worker_t *self)
{
    if (!self->watch_short && s_watch_needed(self)) {
        self->watch_short = true;
        self->watch_quiet = 0;
        pthread_cond_signal(&self->watch_wake);
    }
}

//  Lead: read what may wait unsignalled, then sleep in poll(2) on the
//  links (and `also`) until something comes, `until`, or the next
//  heartbeat; read what came. The lock is released while asleep.
static void
s_lead(en_worker_t *self, int64_t until, zsock_t *also)
{
    s_read_links(self, false);
    if (self->queue.count)
        return;
    self->read_at = en_mono_ms(); // every link said EAGAIN
    struct pollfd fds[EN_MAX_GATEWAYS + 2];
    int n = self->link_count;
    for (int i = 0; i < n; i++)
        fds[i] = (struct pollfd){self->links[i].fd, POLLIN, 0};
    fds[n] = (struct pollfd){self->wake_fd, POLLIN, 0};
    if (also)
        fds[n + 1] = (struct pollfd){zsock_fd(also), POLLIN, 0};
    int64_t wake = until < self->heartbeat_at ? until : self->heartbeat_at;
    int64_t wait = wake - en_mono_ms();
    int timeout = wait <= 0 ? 0 : wait > INT_MAX ? INT_MAX : (int) wait;
    self->polling = true;
    self->wake_sent = false;
    pthread_mutex_unlock(&self->lock);
    int rc = poll(fds, (nfds_t) (n + 1 + (also != NULL)), timeout);
    pthread_mutex_lock(&self->lock);
    self->polling = false;
    if (rc > 0 && fds[n].revents) {
        uint64_t count;
        if (read(self->wake_fd, &count, sizeof count) < 0 && errno != EAGAIN)
            en_warn("worker: wake fd: %s", strerror(errno));
    }
    self->wake_sent = false;
    // a link rebuilt meanwhile is dirty already; the others say if they fired
    for (int i = 0; rc > 0 && i < n && i < self->link_count; i++)
        if (fds[i].revents && fds[i].fd == self->links[i].fd)
            self->links[i].dirty = true;
    s_read_links(self, false);
}

//  Follow: wait until nudged, woken by a drain, or `until`; at most a
//  heartbeat interval, so that no missed wake-up could park a thread.
static void
s_follow(en_worker_t *self, int64_t until)
{
    int64_t limit = en_mono_ms() + EN_HEARTBEAT_MS;
    struct timespec ts = s_abstime(until < limit ? until : limit);
    self->idle++;
    pthread_cond_timedwait(&self->idle_wake, &self->lock, &ts);
    self->idle--;
}

//  The next request for the calling thread, waiting until timeout_ms (-1:
//  no limit) or, when `also` is given, until it is readable (*also_ready).
//  NULL also when the worker has drained.
static en_job_t *
s_take(en_worker_t *self, int timeout_ms, zsock_t *also, bool *also_ready)
{
    int64_t now = en_mono_ms();
    int64_t until = timeout_ms < 0 ? INT64_MAX : now + timeout_ms;
    while (true) {
        if (self->draining && s_drained(self))
            return NULL;
        if (!self->polling)
            s_heartbeat(self, now); // a busy queue must not starve heartbeats
        en_job_t *job = s_jobs_pop(&self->queue);
        if (job) {
            job->at = now;
            s_jobs_append(&self->hand, job);
            s_watch(self);
            return job;
        }
        if (also && (zsock_events(also) & ZMQ_POLLIN)) {
            *also_ready = true;
            return NULL;
        }
        if (now >= until)
            return NULL;
        if (!self->polling)
            s_lead(self, until, also);
        else
            s_follow(self, until);
        now = en_mono_ms();
    }
}

//  Answer a job in hand; the reply is consumed, the job freed.
static void
s_reply(en_worker_t *self, en_job_t *job, zmq_msg_t *reply)
{
    s_jobs_remove(&self->hand, job);
    link_t *link = &self->links[job->link];
    if (job->generation == link->generation) {
        link->held--;
        if (!link->disconnected) {
            // [REPLY][address][""][body]: the address as the broker sent it
            en_part_t tail[] = {{NULL, 0, &job->address}, {"", 0, NULL}, {NULL, 0, reply}};
            s_link_send(link, MDPW_REPLY, tail, 3);
        }
        if (self->draining && link->held == 0)
            s_link_disconnect(link);
    }
    zmq_msg_close(reply);
    s_job_free(self, job);
    s_rearm(self);
    s_drained_check(self);
}

static void
s_drain(en_worker_t *self)
{
    if (self->draining)
        return;
    self->draining = true;
    // requests not started: the broker requeues them when we DISCONNECT
    en_job_t *job;
    while ((job = s_jobs_pop(&self->queue))) {
        link_t *link = &self->links[job->link];
        if (job->generation == link->generation)
            link->held--;
        s_job_free(self, job);
    }
    for (int i = 0; i < self->link_count; i++)
        if (self->links[i].held == 0)
            s_link_disconnect(&self->links[i]);
    s_rearm(self);
    // the threads look again: done, or still something in hand
    pthread_cond_broadcast(&self->idle_wake);
    s_wake_leader(self);
}

//  --------------------------------------------------------------------------
//  The watchdog: nudges, and heartbeats while every thread is in a call

//  Wake a free thread for work that has waited EN_WORKER_NUDGE_MS: a queued
//  request, or a link nobody reads while a call runs.
static void
s_nudge(en_worker_t *self, int64_t now)
{
    bool queued = self->queue.head && now - self->queue.head->at >= EN_WORKER_NUDGE_MS;
    bool unread = !self->polling && self->hand.head &&
                  now - self->hand.head->at >= EN_WORKER_NUDGE_MS;
    if (self->idle && (queued || unread))
        pthread_cond_signal(&self->idle_wake);
    else if (queued)
        s_wake_leader(self);
}

static void *
s_watchdog(void *arg)
{
    en_worker_t *self = arg;
    pthread_mutex_lock(&self->lock);
    while (!self->watch_stop) {
        int64_t now = en_mono_ms();
        struct timespec ts =
            s_abstime(now + (self->watch_short ? EN_WORKER_NUDGE_MS : EN_WATCH_MS));
        pthread_cond_timedwait(&self->watch_wake, &self->lock, &ts);
        if (self->watch_stop)
            break;
        now = en_mono_ms();
        if (!self->polling && now - self->read_at >= EN_WATCH_MS) {
            // every thread in a call: read the links, send heartbeats due
            s_read_links(self, true);
            s_heartbeat(self, now);
        }
        if (s_watch_needed(self)) {
            self->watch_short = true;
            self->watch_quiet = 0;
            s_nudge(self, now);
        }
        else if (self->watch_short && ++self->watch_quiet >= EN_WATCH_QUIET)
            self->watch_short = false;
    }
    pthread_mutex_unlock(&self->lock);
    return NULL;
}

//  --------------------------------------------------------------------------
//  The pipe adapter: drives the worker for a thread that polls a socket

static void
s_adapter_command(en_worker_t *self, zmsg_t *msg, en_job_t **call, bool *stop)
{
    char *verb = msg ? zmsg_popstr(msg) : NULL;
    if (!verb || streq(verb, "$TERM"))
        *stop = true;
    else if (streq(verb, "REP") && *call) {
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
        s_reply(self, *call, &reply);
        *call = NULL;
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
    en_job_t *call = NULL; // one at a time: the handler has one thread
    while (!stop) {
        bool command = false;
        if (!call && (call = s_take(self, -1, pipe, &command))) {
            zmsg_t *req = zmsg_new();
            zmsg_addstr(req, "REQ");
            uint32_t token[2] = {call->link, call->generation};
            zmsg_addmem(req, token, sizeof token);
            zmsg_addmem(req, zmq_msg_data(&call->address), zmq_msg_size(&call->address));
            zmsg_addmem(req, zmq_msg_data(&call->body), zmq_msg_size(&call->body));
            zmsg_send(&req, pipe);
        }
        // the handler's next word; the watchdog covers the links meanwhile
        pthread_mutex_unlock(&self->lock);
        zmsg_t *msg = zmsg_recv(pipe);
        pthread_mutex_lock(&self->lock);
        s_adapter_command(self, msg, &call, &stop);
        if (!said_drained && s_drained(self)) {
            zstr_send(pipe, "DRAINED");
            said_drained = true;
        }
    }
    if (call) {
        s_jobs_remove(&self->hand, call);
        s_job_free(self, call);
    }
    pthread_mutex_unlock(&self->lock);
}

//  --------------------------------------------------------------------------

en_worker_t *
en_worker_new(const en_worker_config_t *config, en_err_t *err)
{
    const char *gateways = config->gateways, *service = config->service;
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
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&self->idle_wake, &attr);
    pthread_cond_init(&self->watch_wake, &attr);
    pthread_condattr_destroy(&attr);
    self->service = strdup(service);
    self->credit = config->credit < 1                   ? 1
                   : config->credit > EN_MDP_CREDIT_MAX ? EN_MDP_CREDIT_MAX
                                                        : config->credit;
    self->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (self->wake_fd < 0) {
        en_err_set(err, EN_INTERNAL, "eventfd: %s", strerror(errno));
        en_worker_destroy(&self);
        return NULL;
    }

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
    self->read_at = en_mono_ms();
    pthread_mutex_unlock(&self->lock);

    self->watching = pthread_create(&self->watchdog, NULL, s_watchdog, self) == 0;
    if (!self->watching) {
        en_err_set(err, EN_INTERNAL, "cannot start the watchdog thread of a %s worker", service);
        en_worker_destroy(&self);
    }
    return self;
}

static void
s_jobs_free(jobs_t *jobs)
{
    en_job_t *job;
    while ((job = s_jobs_pop(jobs))) {
        zmq_msg_close(&job->address);
        zmq_msg_close(&job->body);
        free(job);
    }
}

void
en_worker_destroy(en_worker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    en_worker_t *self = *self_p;
    zactor_destroy(&self->adapter);
    if (self->watching) {
        pthread_mutex_lock(&self->lock);
        self->watch_stop = true;
        pthread_cond_signal(&self->watch_wake);
        pthread_mutex_unlock(&self->lock);
        pthread_join(self->watchdog, NULL);
    }
    pthread_mutex_lock(&self->lock);
    for (int i = 0; i < self->link_count; i++) {
        s_link_disconnect(&self->links[i]);
        zsock_destroy(&self->links[i].dealer);
        free(self->links[i].endpoint);
    }
    s_jobs_free(&self->queue);
    s_jobs_free(&self->hand);
    while (self->spare) {
        en_job_t *job = self->spare;
        self->spare = job->next;
        free(job);
    }
    pthread_mutex_unlock(&self->lock);
    if (self->wake_fd >= 0)
        close(self->wake_fd);
    pthread_cond_destroy(&self->watch_wake);
    pthread_cond_destroy(&self->idle_wake);
    pthread_mutex_destroy(&self->lock);
    free(self->service);
    free(self);
    *self_p = NULL;
}

en_job_t *
en_worker_recv(en_worker_t *self, int timeout_ms)
{
    pthread_mutex_lock(&self->lock);
    en_job_t *job = s_take(self, timeout_ms, NULL, NULL);
    pthread_mutex_unlock(&self->lock);
    return job;
}

const uint8_t *
en_job_body(const en_job_t *job, size_t *size)
{
    *size = zmq_msg_size((zmq_msg_t *) &job->body);
    return zmq_msg_data((zmq_msg_t *) &job->body);
}

void
en_worker_reply(en_worker_t *self, en_job_t **job_p, zmq_msg_t *reply)
{
    assert(*job_p); // a reply needs a request in hand
    pthread_mutex_lock(&self->lock);
    s_reply(self, *job_p, reply);
    pthread_mutex_unlock(&self->lock);
    *job_p = NULL;
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
