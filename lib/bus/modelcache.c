/*  modelcache.c — see modelcache.h.

    Entries are keyed by uuid and carry the model version they were fetched
    at. An event for a version newer than the entry drops it; an event the
    entry already reflects (it was fetched after the change) keeps it. */
#include "bus/modelcache.h"

#include <czmq.h>
#include <string.h>

#include "bus/events.h"
#include "environ.pb-c.h"
#include "common/log.h"

struct en_modelcache {
    en_client_t *client;
    zsock_t *sub;
    zhash_t *models; // uuid -> En__GetModelForServiceResult*
};

static void
s_free(void *data)
{
    en__get_model_for_service_result__free_unpacked(data, NULL);
}

en_modelcache_t *
en_modelcache_new(const char *gateways, en_client_t *client, en_err_t *err)
{
    char *subs = en_event_endpoint_list(gateways, false);
    if (!*subs) {
        free(subs);
        en_err_set(err, EN_NOT_VALID, "no event endpoint for gateways %s", gateways);
        return NULL;
    }
    en_modelcache_t *self = calloc(1, sizeof *self);
    self->client = client;
    self->sub = zsock_new(ZMQ_SUB);
    zsock_set_subscribe(self->sub, "model.");
    char *save = NULL;
    for (char *ep = strtok_r(subs, ",", &save); ep; ep = strtok_r(NULL, ",", &save))
        zsock_connect(self->sub, "%s", ep);
    free(subs);
    self->models = zhash_new();
    return self;
}

void
en_modelcache_destroy(en_modelcache_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    en_modelcache_t *self = *self_p;
    zsock_destroy(&self->sub);
    zhash_destroy(&self->models);
    free(self);
    *self_p = NULL;
}

int
en_modelcache_drain(en_modelcache_t *self)
{
    int dropped = 0;
    while (zsock_events(self->sub) & ZMQ_POLLIN) {
        zmsg_t *msg = zmsg_recv(self->sub);
        zframe_t *body = msg && zmsg_size(msg) == 2 ? zmsg_last(msg) : NULL;
        En__ModelChanged *ev =
            body ? en__model_changed__unpack(NULL, zframe_size(body), zframe_data(body)) : NULL;
        if (ev && ev->uuid) {
            En__GetModelForServiceResult *m = zhash_lookup(self->models, ev->uuid);
            if (m && (!m->model || ev->version > m->model->version ||
                      ev->kind == EN__MODEL_CHANGED__KIND__REMOVED)) {
                zhash_delete(self->models, ev->uuid);
                dropped++;
            }
        }
        if (ev)
            en__model_changed__free_unpacked(ev, NULL);
        zmsg_destroy(&msg);
    }
    return dropped;
}

const En__GetModelForServiceResult *
en_modelcache_get(en_modelcache_t *self, const char *uuid, en_err_t *err)
{
    en_modelcache_drain(self);
    En__GetModelForServiceResult *m = zhash_lookup(self->models, uuid ? uuid : "");
    if (m)
        return m;
    En__GetModelForServiceRequest req = EN__GET_MODEL_FOR_SERVICE_REQUEST__INIT;
    req.uuid = (char *) (uuid ? uuid : "");
    ProtobufCMessage *res = NULL;
    if (en_client_call(self->client, "registry", "GetModelForService", uuid, &req.base,
                       &en__get_model_for_service_result__descriptor, &res, 15000, err))
        return NULL;
    m = (En__GetModelForServiceResult *) res;
    zhash_insert(self->models, uuid, m);
    zhash_freefn(self->models, uuid, s_free);
    return m;
}

size_t
en_modelcache_size(en_modelcache_t *self)
{
    return zhash_size(self->models);
}

void *
en_modelcache_events(en_modelcache_t *self)
{
    return self->sub;
}

int
en_model_refuse_dying(bool dying, const char *name, const char *doing, en_err_t *err)
{
    if (!dying)
        return 0;
    if (!doing || !*doing)
        return en_err_set(err, EN_NOT_VALID, "model \"%s\" is being destroyed", name);
    return en_err_set(err, EN_NOT_VALID, "%s: model \"%s\" is being destroyed", doing, name);
}

int
en_model_fresh_refuse_dying(en_client_t *client, const char *uuid, const char *name,
                            const char *doing, int timeout_ms, en_err_t *err)
{
    if (!client || !uuid || !*uuid)
        return 0;
    En__ModelRequest q = EN__MODEL_REQUEST__INIT;
    q.key_case = EN__MODEL_REQUEST__KEY_UUID;
    q.uuid = (char *)uuid;
    En__ModelResult *r = NULL;
    en_err_t e;
    if (en_client_call(client, "registry", "Model", NULL, &q.base, &en__model_result__descriptor,
                       (ProtobufCMessage **)&r, timeout_ms > 0 ? timeout_ms : 1, &e)) {
        //  gone altogether (its controller removed): no more dying than that
        if (e.kind == EN_NOT_FOUND) {
            if (err)
                *err = e;
            return -1;
        }
        return 0;
    }
    bool dying = r->model && r->model->dying;
    protobuf_c_message_free_unpacked(&r->base, NULL);
    return en_model_refuse_dying(dying, name, doing, err);
}

const En__GetModelForServiceResult *
en_modelcache_for(en_modelcache_t *self, const char *method, const char *model_uuid,
                  en_err_t *err)
{
    if (!model_uuid || !*model_uuid) {
        en_err_set(err, EN_NOT_VALID, "%s: no model named", method);
        return NULL;
    }
    if (!self) {
        en_err_set(err, EN_UNAVAILABLE, "%s: no registry to resolve models", method);
        return NULL;
    }
    const En__GetModelForServiceResult *r = en_modelcache_get(self, model_uuid, err);
    if (r && (!r->model || !r->cloud)) {
        en_err_set(err, EN_INTERNAL, "model %s has no cloud spec", model_uuid);
        return NULL;
    }
    return r;
}
