/*  worker.h — the 7/MDP worker side of a service process: connections to
    every gateway, shared by the process's handler threads.

    The handler threads drive the worker themselves: en_worker_recv hands a
    thread the next request, the thread handles it, and en_worker_reply
    sends the answer. No thread sits between the sockets and the handlers,
    so a request costs no thread hop inside the service process.

    Credit and batches. A connection may announce credit K in its READY
    (our extension to 7/MDP, see mdp.h): the broker then sends it up to K
    requests at once. Whoever reads a connection reads everything that
    waits on it in one go, into one queue that every handler thread takes
    from, and replies leave as each request is answered, so a burst of
    requests costs one wake-up and goes back in as few TCP sends as the
    handlers allow. With credit 1 (the default of en_worker_new) the worker
    is a plain RFC 7/MDP worker.

    Threads (leader and followers). At most one thread at a time sleeps in
    poll(2) on the connections (the leader); the others wait on a condition
    variable. The leader that reads requests takes the first itself, so
    the sequential path has no hand-over. The rest of a burst is taken by
    whichever thread is free first; a follower is woken only when work
    stalls: a request queued for EN_WORKER_NUDGE_MS, or nobody reading the
    connections while a call has run that long (a long call must not hold
    up the requests behind it while other threads sleep). Waking followers
    for every burst would cost more than handling it on this 2-vCPU VM.

    A watchdog thread does that nudging, and keeps heartbeats flowing while
    every thread is in a call (a bootstrap may run for minutes; a broker
    that heard nothing for 7.5 s would requeue what we hold). All worker
    state, sockets included, sits behind one mutex that no thread holds
    while it sleeps or handles a call; a ZeroMQ socket may change threads
    behind a full memory barrier, and the mutex is that barrier.

    Each request remembers its connection and the generation of that
    connection, so a reply for a connection reset since is dropped: the
    broker has already requeued that request.

    en_worker_pipe() serves one thread that would rather poll a socket: an
    adapter actor then drives the worker and speaks, at the price of a
    thread hop each way,
      actor → handler  ["REQ"][token][client][body]   a request to handle
      handler → actor  ["REP"][token][client][body]   its reply
      handler → actor  ["DRAIN"]                      stop taking work
      actor → handler  ["DRAINED"]                    nothing left in hand */
#ifndef EN_WORKER_H
#define EN_WORKER_H

#include <czmq.h>
#include <stdbool.h>

#include "common/err.h"

typedef struct en_worker en_worker_t;
typedef struct en_job en_job_t;

//  Most connections one worker holds (gateways x lanes); endpoints past it
//  are refused.
#define EN_WORKER_MAX_LINKS 64
//  A queued request, or a call while nobody reads the connections, waits
//  this long before the watchdog wakes an idle thread for it.
#define EN_WORKER_NUDGE_MS 2

typedef struct {
    const char *gateways; // comma-separated endpoints; one connection each
    const char *service;  // MDP service name
    int credit;           // requests one connection may hold (0 or 1: plain 7/MDP)
} en_worker_config_t;

en_worker_t *en_worker_new(const en_worker_config_t *config, en_err_t *err);
//  Says DISCONNECT to every gateway; requests not answered are dropped
//  (the broker requeues them). Every thread must be done with the worker.
void en_worker_destroy(en_worker_t **self_p);

//  The next request for the calling thread, waiting at most timeout_ms
//  (-1: no limit); NULL when none came. Several threads may wait at once.
//  The job is the caller's until en_worker_reply.
en_job_t *en_worker_recv(en_worker_t *self, int timeout_ms);
//  The job's body (a packed en.Request), valid until its reply.
const uint8_t *en_job_body(const en_job_t *job, size_t *size);
//  Answer a job with a packed en.Reply; the message and the job are
//  consumed (the reply is sent without a copy).
void en_worker_reply(en_worker_t *self, en_job_t **job_p, zmq_msg_t *reply);

//  Stop taking work: requests not yet started are dropped (the broker
//  requeues them), and each connection says DISCONNECT once nothing of
//  its is in hand. en_worker_drained() is then true when nothing is left.
void en_worker_drain(en_worker_t *self);
bool en_worker_drained(en_worker_t *self);

//  The adapter actor's pipe (see above). Once asked for, the actor drives
//  the worker: use the pipe only, not en_worker_recv and the rest.
zsock_t *en_worker_pipe(en_worker_t *self);

#endif
