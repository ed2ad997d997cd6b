/*  worker.h — one 7/MDP worker, connected to every gateway, for one
    handler thread.

    The handler thread drives its worker itself: en_worker_recv polls the
    gateways' DEALERs (heartbeating and reconnecting as 7/MDP asks) until a
    request arrives, the thread handles it, and en_worker_reply sends the
    answer. No thread sits between the sockets and the handler, so a
    request costs no thread hop inside the service process.

    Heartbeats must keep flowing while a call runs for minutes (a bootstrap
    may; a broker that heard nothing for 7.5 s would declare the worker dead
    and hand its request to another). So a watchdog thread sleeps beside
    each worker. All worker state, sockets included, sits behind one mutex
    that the handler thread holds inside en_worker_* and releases for the
    length of each call; when a call has run for half a heartbeat interval
    the watchdog takes the mutex, answers heartbeats, queues a request from
    another gateway and rebuilds a silent link, then lets go. A ZeroMQ
    socket may change threads behind a full memory barrier: the mutex is
    that barrier, and one thread at a time touches the sockets.

    Per 7/MDP a worker holds one connection per broker; a request from each
    gateway may be in hand at once and they queue for the handler thread.
    Each request remembers its gateway connection and the generation of
    that connection, so a reply for a connection reset since is dropped:
    the broker has already requeued that request.

    en_worker_pipe() serves a thread that would rather poll a socket: an
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

//  Most connections one worker holds (gateways x lanes); endpoints past it
//  are refused.
#define EN_WORKER_MAX_LINKS 64

//  gateways: comma-separated endpoints; service: MDP service name.
en_worker_t *en_worker_new(const char *gateways, const char *service, en_err_t *err);
//  Says DISCONNECT to every gateway; a reply not yet given is dropped.
void en_worker_destroy(en_worker_t **self_p);

//  The body of the next request and its size, waiting at most timeout_ms
//  (-1: no limit); NULL when none came. The body is the worker's, valid
//  until en_worker_reply, which must answer it before the next is asked.
const uint8_t *en_worker_recv(en_worker_t *self, int timeout_ms, size_t *size);
//  The reply (a packed en.Reply) to the request in hand; the message is
//  consumed (sent without a copy).
void en_worker_reply(en_worker_t *self, zmq_msg_t *reply);

//  Stop taking work: say DISCONNECT to each gateway once nothing of its
//  is in hand. en_worker_drained() is then true when nothing is left.
void en_worker_drain(en_worker_t *self);
bool en_worker_drained(en_worker_t *self);

//  The adapter actor's pipe (see above). Once asked for, the actor drives
//  the worker: use the pipe only, not en_worker_recv and the rest.
zsock_t *en_worker_pipe(en_worker_t *self);

#endif
