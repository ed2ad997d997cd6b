/*  gateway.h — the gateway: the 7/MDP broker for every service plus the
    composer threads that serve `environ.v1` methods needing more than one
    service. */
#ifndef EN_GATEWAY_H
#define EN_GATEWAY_H

#include "bus/broker.h"
#include "bus/service.h"

typedef struct gateway gateway_t;

typedef struct {
    const char *bind;  // comma-separated public endpoints
    const char *home;
    int composers;     // composer threads
} gateway_opts_t;

//  The forward table (method -> owning service).
const en_forward_t *gateway_forwards(size_t *count);
const char *gateway_owner(const char *method);

//  Start the broker (binding opts->bind plus the in-process endpoint and the
//  event proxy); NULL with err when an endpoint cannot be bound.
gateway_t *gateway_new(const gateway_opts_t *opts, en_err_t *err);
void gateway_destroy(gateway_t **self_p);

//  The composer service definition (routes built from environ.proto).
const en_service_def_t *gateway_composer(gateway_t *self);
//  In-process endpoint the composers connect to.
const char *gateway_inproc(gateway_t *self);

#endif
