/*  broker.h — the 7/MDP broker that is the heart of the gateway.

    The broker runs in its own thread (a czmq actor) around one ROUTER bound
    to every endpoint given (tcp for clients and service replicas, inproc for
    the gateway's own composer threads). It is a router, nothing more: it
    never blocks and never runs service logic. Three things go beyond the
    reference broker of the zguide:
      - it remembers the requests each worker holds, and when a worker dies
        (silent past the heartbeat expiry, or DISCONNECT) they all go back
        to the front of their service's queue for other workers;
      - a worker may announce credit in its READY (our extension, see
        mdp.h) and then holds up to that many requests at once;
      - requests wait at most until their deadline, then get a TIMEOUT
        reply; bodies that are not an en.Request get a NOT_VALID reply;
      - a forward table sends a public (`environ.v1`) method that needs no
        composition straight to the service that owns it, saving a hop;
        the reply still names `environ.v1` to the client. */
#ifndef EN_BROKER_H
#define EN_BROKER_H

#include "common/err.h"

typedef struct en_broker en_broker_t;

typedef struct {
    const char *method;  // public method name, e.g. "Clouds"
    const char *service; // owning internal service, e.g. "registry"
} en_forward_t;

typedef struct {
    const char *endpoints;         // comma-separated bind endpoints
    const en_forward_t *forwards;  // may be NULL
    size_t forward_count;
    int heartbeat_ms;              // 0 = EN_HEARTBEAT_MS
} en_broker_config_t;

//  Bind and start; NULL with err set when an endpoint cannot be bound.
en_broker_t *en_broker_new(const en_broker_config_t *config, en_err_t *err);
void en_broker_destroy(en_broker_t **self_p);

//  Counters for tests and the status page.
typedef struct {
    size_t workers;        // registered workers
    size_t services;       // services with at least one worker
    size_t queued;         // requests waiting for a worker
    size_t held;           // requests sent to workers and not yet answered
    size_t requeued;       // requests moved from a dead worker
    size_t malformed;      // messages dropped or answered NOT_VALID
    size_t expired;        // requests answered TIMEOUT in the queue
    size_t duplicates;     // resends of a call still in progress, absorbed
} en_broker_stats_t;

int en_broker_stats(en_broker_t *self, en_broker_stats_t *stats);

//  The last endpoint bound, resolved (`tcp://127.0.0.1:*` becomes the port
//  the system chose), so tests and a supervisor can bind ephemeral ports.
const char *en_broker_endpoint(en_broker_t *self);

#endif
