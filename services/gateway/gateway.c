/*  gateway.c — broker + event proxy + composer routes.

    The composer's routes are built at start-up from the generated
    ServiceDescriptor of environ.proto: every public method that the
    forward table does not send straight to a service gets a composer
    route. Until a method's service lands, its route answers
    NOT_IMPLEMENTED naming the method (Juju's NotImplementedf wording). */
#include "gateway.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/client.h"
#include "bus/events.h"
#include "common/log.h"
#include "environ.pb-c.h"

#define EN_GATEWAY_INPROC "inproc://environs-gateway"

struct gateway {
    en_broker_t *broker;
    zactor_t *events; // zproxy: XSUB (registry publishes) -> XPUB (services)
    en_route_t *routes;
    en_service_def_t composer;
};

typedef struct {
    en_client_t *client; // MDP client of the internal services, via inproc
} composer_state_t;

static int
s_not_implemented(en_call_t *call, const ProtobufCMessage *req, ProtobufCMessage *res,
                  en_err_t *err)
{
    (void) req;
    (void) res;
    return en_err_set(err, EN_NOT_IMPLEMENTED, "%s not implemented", call->method);
}

static void *
s_composer_init(void *service, en_err_t *err)
{
    (void) service;
    composer_state_t *state = calloc(1, sizeof *state);
    state->client = en_client_new(EN_GATEWAY_INPROC, err);
    if (!state->client) {
        free(state);
        return NULL;
    }
    return state;
}

static void
s_composer_fini(void *service, void *state_)
{
    (void) service;
    composer_state_t *state = state_;
    en_client_destroy(&state->client);
    free(state);
}

gateway_t *
gateway_new(const gateway_opts_t *opts, en_err_t *err)
{
    gateway_t *self = calloc(1, sizeof *self);
    size_t nfwd;
    const en_forward_t *fwd = gateway_forwards(&nfwd);
    char *endpoints = NULL;
    if (asprintf(&endpoints, "%s,%s", opts->bind, EN_GATEWAY_INPROC) < 0)
        abort();
    en_broker_config_t config = {
        .endpoints = endpoints, .forwards = fwd, .forward_count = nfwd};
    self->broker = en_broker_new(&config, err);
    free(endpoints);
    if (!self->broker)
        goto fail;

    // Model-change events: the registry publishes into XSUB, services
    // subscribe at XPUB; several gateways simply mean several proxies.
    self->events = zactor_new(zproxy, NULL);
    char first[256], in[300], out[300];
    snprintf(first, sizeof first, "%s", opts->bind);
    char *comma = strchr(first, ',');
    if (comma)
        *comma = '\0';
    if (en_event_endpoints(first, in, sizeof in, out, sizeof out) != 0) {
        en_err_set(err, EN_NOT_VALID, "cannot derive event endpoints from %s", first);
        goto fail;
    }
    zstr_sendx(self->events, "FRONTEND", "XSUB", in, NULL);
    zsock_wait(self->events);
    zstr_sendx(self->events, "BACKEND", "XPUB", out, NULL);
    zsock_wait(self->events);

    // Composer routes: every public method the broker does not forward.
    const ProtobufCServiceDescriptor *api = &en__environ__descriptor;
    self->routes = calloc(api->n_methods, sizeof(en_route_t));
    size_t n = 0;
    for (unsigned i = 0; i < api->n_methods; i++) {
        const char *m = api->methods[i].name;
        if (gateway_owner(m))
            continue;
        self->routes[n++] = (en_route_t){api, m, s_not_implemented, 0};
    }
    self->composer = (en_service_def_t){
        .name = "environ.v1",
        .routes = self->routes,
        .route_count = n,
        .service = self,
        .thread_init = s_composer_init,
        .thread_fini = s_composer_fini,
    };
    return self;
fail:
    gateway_destroy(&self);
    return NULL;
}

void
gateway_destroy(gateway_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gateway_t *self = *self_p;
    zactor_destroy(&self->events);
    en_broker_destroy(&self->broker);
    free(self->routes);
    free(self);
    *self_p = NULL;
}

const en_service_def_t *
gateway_composer(gateway_t *self)
{
    return &self->composer;
}

const char *
gateway_inproc(gateway_t *self)
{
    (void) self;
    return EN_GATEWAY_INPROC;
}
