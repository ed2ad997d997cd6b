/*  worker.h — one 7/MDP worker, connected to every gateway, for one
    handler thread.

    The sockets live in an I/O actor so that heartbeats keep flowing while
    the handler thread runs a long call (a bootstrap may take minutes; a
    broker that heard nothing for 7.5 s would otherwise declare the worker
    dead and hand its request to another). Per 7/MDP a worker holds one
    connection per broker; a request from each gateway may be in hand at
    once, and the actor queues them for the single handler thread.

    Messages between the handler thread and the actor:
      actor → handler  ["REQ"][token][body]     a request to handle
      handler → actor  ["REP"][token][body]     its reply
      handler → actor  ["DRAIN"]                stop taking work
      actor → handler  ["DRAINED"]              nothing left in hand
    The token names the gateway connection (and its generation, so a reply
    for a connection that has since been reset is dropped: the broker has
    already requeued that request). */
#ifndef EN_WORKER_H
#define EN_WORKER_H

#include <czmq.h>

#include "common/err.h"

typedef struct en_worker en_worker_t;

//  gateways: comma-separated endpoints; service: MDP service name.
en_worker_t *en_worker_new(const char *gateways, const char *service, en_err_t *err);
void en_worker_destroy(en_worker_t **self_p);

//  The actor pipe, for zpoller or zmsg_recv in the handler thread.
zsock_t *en_worker_pipe(en_worker_t *self);

#endif
