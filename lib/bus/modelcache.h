/*  modelcache.h — a service's cache of the models it works for.

    Services need a model's cloud spec (with its credential) and config on
    almost every call; the registry owns them. A cache fetches a model once
    with the registry's GetModelForService and keeps it until the registry
    says it changed: the cache subscribes to the gateways' event proxies and
    drains pending events before every lookup, so an entry is dropped at
    once, not after a timeout. One cache per worker thread (sockets are not
    shared between threads). */
#ifndef EN_MODELCACHE_H
#define EN_MODELCACHE_H

#include <stdbool.h>

#include "bus/client.h"
#include "common/err.h"
#include "registry.pb-c.h"

typedef struct en_modelcache en_modelcache_t;

//  gateways: comma-separated gateway endpoints; client: borrowed, used for
//  the registry calls.
en_modelcache_t *en_modelcache_new(const char *gateways, en_client_t *client, en_err_t *err);
void en_modelcache_destroy(en_modelcache_t **self_p);

//  The model and its spec (with credential); borrowed until the next call.
const En__GetModelForServiceResult *en_modelcache_get(en_modelcache_t *self, const char *uuid,
                                                      en_err_t *err);

//  The model a service call names, with the checks every model service
//  makes: NOT_VALID `<method>: no model named`, UNAVAILABLE `<method>: no
//  registry to resolve models` (self NULL: a service run without
//  gateways), the registry's error (NOT_FOUND for an unknown model), and
//  INTERNAL `model <uuid> has no cloud spec`. Borrowed until the next
//  call, as en_modelcache_get.
const En__GetModelForServiceResult *en_modelcache_for(en_modelcache_t *self, const char *method,
                                                      const char *model_uuid, en_err_t *err);

//  A call that would make something new in the model (an instance, a
//  security group, an open port) refuses a dying one (MarkModelDying, the
//  first step of Destroy), so that a late or resent request cannot make
//  again what Destroy removes: NOT_VALID `<doing>: model "<name>" is
//  being destroyed` (doing NULL: no prefix). 0 when the model is alive.
int en_model_refuse_dying(bool dying, const char *name, const char *doing, en_err_t *err);

//  The same from the registry itself, not the cache (one "Model" call):
//  a cached copy lags the mark by the ModelChanged event's trip, or for
//  good when an event is lost. A model the registry no longer has (its
//  controller removed) is the registry's NOT_FOUND. A registry that
//  cannot be reached leaves the cached view standing (0). timeout_ms:
//  the call's.
int en_model_fresh_refuse_dying(en_client_t *client, const char *uuid, const char *name,
                                const char *doing, int timeout_ms, en_err_t *err);

//  Apply any pending change events now; returns how many entries dropped.
int en_modelcache_drain(en_modelcache_t *self);
size_t en_modelcache_size(en_modelcache_t *self);
//  The event socket, for a poller that wants to react to changes at once.
void *en_modelcache_events(en_modelcache_t *self);

#endif
