/*  modelsvc.c — per-thread client, model cache and connection table of a
    stateless model service (modelsvc.h). */
#include "modelsvc.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/specproto.h"

struct en_modelsvc {
    char *home;
    char *concern;
    en_client_t *client;     // NULL without gateways
    en_modelcache_t *models; // NULL without gateways
    struct {
        char *key; // type|name|region|endpoint
        const en_provider_t *provider;
        en_compute_t *conn;
    } conns[EN_MODELSVC_CONN_MAX];
    size_t conn_count;
};

en_modelsvc_t *
en_modelsvc_new(const char *home, const char *gateways, const char *concern, en_err_t *err)
{
    en_modelsvc_t *self = calloc(1, sizeof *self);
    self->home = strdup(home ? home : "");
    self->concern = strdup(concern ? concern : "this service");
    if (gateways && *gateways) {
        self->client = en_client_new(gateways, err);
        if (self->client)
            self->models = en_modelcache_new(gateways, self->client, err);
        if (!self->models) {
            en_modelsvc_destroy(&self);
            return NULL;
        }
    }
    return self;
}

static void
s_conn_close(en_modelsvc_t *self, size_t i)
{
    self->conns[i].provider->compute->close(&self->conns[i].conn);
    free(self->conns[i].key);
    memset(&self->conns[i], 0, sizeof self->conns[i]);
}

void
en_modelsvc_destroy(en_modelsvc_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    en_modelsvc_t *self = *self_p;
    for (size_t i = 0; i < self->conn_count; i++)
        s_conn_close(self, i);
    en_modelcache_destroy(&self->models);
    en_client_destroy(&self->client);
    free(self->home);
    free(self->concern);
    free(self);
    *self_p = NULL;
}

en_client_t *
en_modelsvc_client(en_modelsvc_t *self)
{
    return self->client;
}

//  The thread's connection for spec, opened on first use; the oldest is
//  closed when the table is full.
static size_t
s_conn(en_modelsvc_t *self, const En__CloudSpec *spec, en_err_t *err)
{
    char *key = en_cloud_spec_proto_key(spec);
    for (size_t i = 0; i < self->conn_count; i++)
        if (strcmp(self->conns[i].key, key) == 0) {
            free(key);
            return i;
        }
    const en_provider_t *provider = en_provider_builtin(spec->type);
    if (!provider || !provider->compute) {
        en_err_set(err, EN_NOT_SUPPORTED, "provider \"%s\" does not support %s", spec->type,
                   self->concern);
        free(key);
        return SIZE_MAX;
    }
    en_cloud_spec_t *s = en_cloud_spec_from_proto(spec);
    en_compute_t *conn = provider->compute->open(s, self->home, err);
    en_cloud_spec_clear(s);
    free(s);
    if (!conn) {
        free(key);
        return SIZE_MAX;
    }
    if (self->conn_count == EN_MODELSVC_CONN_MAX) {
        s_conn_close(self, 0);
        memmove(&self->conns[0], &self->conns[1],
                (EN_MODELSVC_CONN_MAX - 1) * sizeof self->conns[0]);
        self->conn_count--;
    }
    size_t i = self->conn_count++;
    self->conns[i].key = key;
    self->conns[i].provider = provider;
    self->conns[i].conn = conn;
    return i;
}

int
en_modelsvc_connect(en_modelsvc_t *self, const En__CloudSpec *spec, en_modelsvc_model_t *model,
                    en_err_t *err)
{
    size_t i = s_conn(self, spec, err);
    if (i == SIZE_MAX)
        return -1;
    *model = (en_modelsvc_model_t){.uuid = "",
                                   .name = "",
                                   .controller_uuid = "",
                                   .region = "",
                                   .config_json = "{}",
                                   .provider = self->conns[i].provider,
                                   .conn = self->conns[i].conn};
    return 0;
}

static int
s_resolve(en_modelsvc_t *self, en_call_t *call, bool any, en_modelsvc_model_t *model, en_err_t *err)
{
    const En__GetModelForServiceResult *r =
        en_modelcache_for(self->models, call->method, call->model_uuid, err);
    if (!r)
        return -1;
    // copies first: opening a connection does not touch the cache, but a
    // handler's next lookup may drop the entry
    const En__Model *m = r->model;
    const char *uuid = en_arena_strdup(call->arena, m->uuid);
    const char *name = en_arena_strdup(call->arena, m->name ? m->name : "");
    const char *ctl = en_arena_strdup(call->arena, m->controller_uuid ? m->controller_uuid : "");
    const char *region = en_arena_strdup(call->arena, r->cloud->region ? r->cloud->region : "");
    const char *json = en_arena_strdup(
        call->arena, m->config && m->config->json && *m->config->json ? m->config->json : "{}");
    const en_provider_t *provider = en_provider_builtin(r->cloud->type);
    if (any && (!provider || !provider->compute))
        *model = (en_modelsvc_model_t){.provider = provider};
    else if (en_modelsvc_connect(self, r->cloud, model, err))
        return -1;
    model->uuid = uuid;
    model->name = name;
    model->controller_uuid = ctl;
    model->region = region;
    model->config_json = json;
    model->dying = m->dying;
    return 0;
}

int
en_modelsvc_resolve(en_modelsvc_t *self, en_call_t *call, en_modelsvc_model_t *model, en_err_t *err)
{
    return s_resolve(self, call, false, model, err);
}

int
en_modelsvc_resolve_any(en_modelsvc_t *self, en_call_t *call, en_modelsvc_model_t *model,
                        en_err_t *err)
{
    return s_resolve(self, call, true, model, err);
}
