/*  gateway.c — broker + event proxy + composer routes.

    The composer's routes are built at start-up from the generated
    ServiceDescriptor of environ.proto: every public method that the
    forward table does not send straight to a service gets a composer
    route — a composition from s_compositions, or else NOT_IMPLEMENTED
    naming the method (Juju's NotImplementedf wording) until its service
    lands.

    A composition runs in a composer thread: it resolves the model through
    the registry (cached per thread, dropped on the registry's change
    events), then calls the services the method needs, in order, over the
    in-process endpoint. s_landed lists the services this build ships; a
    step for a service not yet landed answers NOT_IMPLEMENTED. */
#include "gateway.h"

#include <czmq.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/client.h"
#include "bus/envelope.h"
#include "bus/events.h"
#include "bus/modelcache.h"
#include "common/log.h"
#include "environ.pb-c.h"

#define EN_GATEWAY_INPROC "inproc://environs-gateway"

struct gateway {
    char *events_from; // gateway endpoint whose event proxy composers watch
    en_broker_t *broker;
    zactor_t *events; // s_event_proxy: XSUB (services publish) -> XPUB (subscribers)
    en_route_t *routes;
    en_service_def_t composer;
};

//  Services this build ships. A composition step for any other service is
//  a seam for a later issue and answers NOT_IMPLEMENTED.
static const char *const s_landed[] = {"registry",   "broker",    "firewaller",
                                        "networking", "imagemeta", NULL};

bool
gateway_service_landed(const char *service)
{
    for (int i = 0; s_landed[i]; i++)
        if (strcmp(s_landed[i], service) == 0)
            return true;
    return false;
}

int
gateway_step(en_call_t *call, const char *service, const ProtobufCMessage *req,
             ProtobufCMessage *res, en_err_t *err)
{
    // the public id itself: progress lines are published under it
    return gateway_call(call, service, call->method, call->model_uuid, call->request_id, req, res,
                        err);
}

void
gateway_derive_id(const en_call_t *call, const char *method, size_t index, char out[33])
{
    if (!call->request_id || !*call->request_id) {
        en_request_id_new(out);
        return;
    }
    char *text = NULL;
    int len = asprintf(&text, "%s/%s/%zu", call->request_id, method, index);
    if (len < 0)
        abort();
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (EVP_Digest(text, (size_t) len, md, &md_len, EVP_sha256(), NULL) != 1 || md_len < 16)
        abort(); // SHA-256 of a few bytes cannot fail short of memory
    free(text);
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

int
gateway_call(en_call_t *call, const char *service, const char *method, const char *model_uuid,
             const char *request_id, const ProtobufCMessage *req, ProtobufCMessage *res,
             en_err_t *err)
{
    if (!gateway_service_landed(service))
        return en_err_set(err, EN_NOT_IMPLEMENTED, "%s not implemented", call->method);
    gateway_composer_state_t *state = call->state;
    int64_t left = call->deadline_ms ? call->deadline_ms - en_now_ms() : 60000;
    if (left <= 0)
        return en_err_set(err, EN_TIMEOUT, "%s: deadline passed", call->method);
    // each step its own id, derived from the public one: a resent public
    // call is one call to every service it reaches, and a late reply to an
    // earlier step can never pass for this one
    char derived[33];
    if (!request_id) {
        char tag[300];
        snprintf(tag, sizeof tag, "%s.%s", service, method);
        gateway_derive_id(call, tag, 0, derived);
        request_id = derived;
    }
    char id[33];
    if (en_client_start(state->client, service, method, model_uuid, req, call->deadline_ms,
                        request_id, NULL, id, err))
        return -1;
    en_result_t r;
    int64_t until = en_mono_ms() + left + 2000;
    for (;;) {
        int64_t wait = until - en_mono_ms();
        if (wait <= 0 || en_client_wait(state->client, (int) wait, &r) != 0)
            return en_err_set(err, EN_TIMEOUT, "%s: no reply from %s", method, service);
        if (strcmp(r.request_id, id) == 0)
            break;
        // an earlier step's call, finished after it was given up on
        en_log(EN_LOG_INFO, call->request_id, "%s: dropping a late result (%s)", method,
               r.request_id);
        en_result_clear(&r);
    }
    int rc = 0;
    if (r.err.kind != EN_OK) {
        *err = r.err;
        rc = -1;
    }
    else {
        ProtobufCMessage *out = en_call_unpack(call, res->descriptor, r.size, r.body);
        if (out)
            memcpy(res, out, res->descriptor->sizeof_message);
        else
            rc = en_err_set(err, EN_INTERNAL, "%s: %s's result does not decode", method, service);
    }
    en_result_clear(&r);
    return rc;
}

//  The machine id the broker names an instance (and its groups) for.
const char *
gateway_machine_id(const En__StartInstanceParams *p)
{
    return p->machine_id && *p->machine_id ? p->machine_id : "0";
}

//  Whether the broker will refuse these parameters whatever the cloud
//  says (statements 24, 26): no groups are made for such a call, as
//  nothing would ever delete them, and the broker's error is the answer.
bool
gateway_start_refused(const En__StartInstanceParams *p)
{
    return !p || !p->machine_nonce || !*p->machine_nonce || !p->controller_uuid ||
           !*p->controller_uuid;
}

//  StartInstance = registry (the model must exist; its spec and config are
//  what every later step needs) → imagemeta (ImageMetadata for release,
//  arch and region: images.c) → firewaller (the machine's groups, which the broker
//  creates the instance in) → broker. The spaces constraint needs no
//  networking step: the broker reads the cloud's spaces on the connection
//  it creates with (services/broker/spaces.c), and honours SubnetsToZones
//  and EndpointBindings when the caller gives them.
static int
s_start_instance(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res,
                 en_err_t *err)
{
    const En__StartInstanceRequest *req = (const void *)req_;
    gateway_composer_state_t *state = call->state;
    if (!en_modelcache_get(state->models, call->model_uuid, err))
        return -1;
    En__StartInstanceParams *p = NULL;
    en_err_t found;
    if (gateway_images(call, call->model_uuid, &req->params, 1, &p, &found, err))
        return -1;
    if (found.kind != EN_OK) {
        *err = found;
        return -1;
    }
    if (!gateway_start_refused(p)) {
        const char *machine = gateway_machine_id(p);
        if (gateway_ensure_groups(call, call->model_uuid, p->controller_uuid, &machine, 1, err))
            return -1;
    }
    En__StartInstanceRequest one = *req;
    one.params = p;
    return gateway_step(call, "broker", &one.base, res, err);
}

static const gateway_composition_t s_compositions[] = {
    {"StartInstance", s_start_instance},
};
static const size_t s_composition_count = sizeof s_compositions / sizeof s_compositions[0];

//  Every composition table of the gateway; one per file.
static const struct {
    const gateway_composition_t *items;
    const size_t *count;
} s_tables[] = {
    {s_compositions, &s_composition_count},
    {gateway_bootstrap_compositions, &gateway_bootstrap_composition_count},
    {gateway_batch_compositions, &gateway_batch_composition_count},
    {gateway_firewall_compositions, &gateway_firewall_composition_count},
    {gateway_network_compositions, &gateway_network_composition_count},
};

static en_handler_fn *
s_composition(const char *method)
{
    for (size_t t = 0; t < sizeof s_tables / sizeof s_tables[0]; t++) {
        for (size_t i = 0; i < *s_tables[t].count; i++)
            if (strcmp(s_tables[t].items[i].method, method) == 0)
                return s_tables[t].items[i].fn;
    }
    return NULL;
}

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
    gateway_t *gateway = service;
    gateway_composer_state_t *state = calloc(1, sizeof *state);
    state->client = en_client_new(EN_GATEWAY_INPROC, err);
    if (state->client)
        state->models = en_modelcache_new(gateway->events_from, state->client, err);
    if (!state->models) {
        en_client_destroy(&state->client);
        free(state);
        return NULL;
    }
    return state;
}

static void
s_composer_fini(void *service, void *state_)
{
    (void) service;
    gateway_composer_state_t *state = state_;
    en_modelcache_destroy(&state->models);
    en_client_destroy(&state->client);
    free(state);
}

//  The event proxy. Upstream it subscribes to everything, once, so no
//  publisher ever filters: whether a message reaches a subscriber is
//  decided here, at the XPUB, alone. A subscriber that has seen its own
//  probe come back through this proxy (bus/progress.h) therefore gets every
//  line published after that, whichever service thread publishes it.
static void
s_event_proxy(zsock_t *pipe, void *args)
{
    char **eps = args; // [0] publishers' side, [1] subscribers' side
    zsock_signal(pipe, 0); // started (zactor_new waits for this)
    zsock_t *xsub = zsock_new(ZMQ_XSUB), *xpub = zsock_new(ZMQ_XPUB);
    zsock_set_linger(xsub, 0);
    zsock_set_linger(xpub, 0);
    bool ok = zsock_bind(xsub, "%s", eps[0]) >= 0 && zsock_bind(xpub, "%s", eps[1]) >= 0;
    zsock_signal(pipe, ok ? 0 : 1); // bound, or not (gateway_new waits)
    if (ok) {
        const unsigned char all = 1; // "subscribe", empty prefix
        zmq_send(zsock_resolve(xsub), &all, 1, ZMQ_DONTWAIT);
    }
    zpoller_t *poller = zpoller_new(pipe, xsub, xpub, NULL);
    while (ok) {
        void *which = zpoller_wait(poller, -1);
        if (!which || which == pipe)
            break; // $TERM (or interrupted)
        zmsg_t *msg = zmsg_recv(which);
        if (!msg)
            continue;
        // events down; subscriptions up (harmless: upstream takes all)
        zsock_t *to = which == xsub ? xpub : xsub;
        if (zmsg_send(&msg, to) != 0)
            zmsg_destroy(&msg);
    }
    zpoller_destroy(&poller);
    zsock_destroy(&xpub);
    zsock_destroy(&xsub);
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

    // Events (model changes, progress lines): services publish into XSUB,
    // subscribers connect to XPUB; several gateways mean several proxies.
    char first[256], in[300], out[300];
    snprintf(first, sizeof first, "%s", opts->bind);
    char *comma = strchr(first, ',');
    if (comma)
        *comma = '\0';
    self->events_from = strdup(first);
    if (en_event_endpoints(first, in, sizeof in, out, sizeof out) != 0) {
        en_err_set(err, EN_NOT_VALID, "cannot derive event endpoints from %s", first);
        goto fail;
    }
    char *proxy_eps[2] = {in, out};
    self->events = zactor_new(s_event_proxy, proxy_eps);
    if (zsock_wait(self->events) != 0) {
        en_err_set(err, EN_UNAVAILABLE, "cannot bind the event proxy at %s and %s", in, out);
        goto fail;
    }

    // Composer routes: every public method the broker does not forward.
    const ProtobufCServiceDescriptor *api = &en__environ__descriptor;
    self->routes = calloc(api->n_methods, sizeof(en_route_t));
    size_t n = 0;
    for (unsigned i = 0; i < api->n_methods; i++) {
        const char *m = api->methods[i].name;
        if (gateway_owner(m))
            continue;
        en_handler_fn *fn = s_composition(m);
        if (!fn)
            fn = s_not_implemented;
        self->routes[n++] = (en_route_t){api, m, fn, 0};
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
    free(self->events_from);
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
