/*  sources.c — a model's data sources in Juju's order (docs/simplestreams.md
    §8.1), and the handlers that list and register them.

      images: image-metadata-url (priority 20, unsigned allowed), the
              registered image sources in order, the provider's own
              (en_provider_t.image_sources), then — unless
              image-metadata-defaults-disabled — "default ubuntu cloud
              images" at http://cloud-images.ubuntu.com/<releases|stream>
              (priority 10, signed only, the Ubuntu cloud image key).
      agents: agent-metadata-url (20, unsigned allowed), the registered
              agent sources, then "default simplestreams" at
              https://streams.canonical.com/juju/tools (10, signed only,
              the Juju key).

    A bare absolute directory as a metadata URL is Juju's shorthand for
    file://<dir>/images (or /tools for agents). Register calls are not
    model-scoped: they change imagemeta.db for every model. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "imagemeta.h"

#include "common/clock.h"
#include "providers/provider.h"

#define IM_DEFAULT_IMAGES_URL "http://cloud-images.ubuntu.com/"
#define IM_DEFAULT_AGENTS_URL "https://streams.canonical.com/juju/tools"

//  --------------------------------------------------------------------------
//  Models

int
im_model(im_thread_t *t, en_call_t *call, im_model_t *model, en_err_t *err)
{
    const En__GetModelForServiceResult *r =
        en_modelcache_for(t->models, call->method, call->model_uuid, err);
    if (!r)
        return -1;
    // copies: the cache may drop its entry on the next lookup
    const En__Model *m = r->model;
    model->config_json = en_arena_strdup(
        call->arena, m->config && m->config->json && *m->config->json ? m->config->json : "{}");
    En__CloudSpec *c = en_arena_alloc(call->arena, sizeof *c);
    en__cloud_spec__init(c);
    c->type = en_arena_strdup(call->arena, r->cloud->type ? r->cloud->type : "");
    c->name = en_arena_strdup(call->arena, r->cloud->name ? r->cloud->name : "");
    c->region = en_arena_strdup(call->arena, r->cloud->region ? r->cloud->region : "");
    c->endpoint = en_arena_strdup(call->arena, r->cloud->endpoint ? r->cloud->endpoint : "");
    c->identity_endpoint = en_arena_strdup(
        call->arena, r->cloud->identity_endpoint ? r->cloud->identity_endpoint : "");
    c->storage_endpoint =
        en_arena_strdup(call->arena, r->cloud->storage_endpoint ? r->cloud->storage_endpoint : "");
    model->cloud = c;
    return 0;
}

const char *
im_config_str(en_arena_t *a, const char *config_json, const char *key)
{
    json_t *root = json_loads(config_json ? config_json : "{}", 0, NULL);
    const char *v = json_string_value(json_object_get(root, key));
    const char *out = en_arena_strdup(a, v ? v : "");
    json_decref(root);
    return out;
}

bool
im_config_bool(const char *config_json, const char *key)
{
    json_t *root = json_loads(config_json ? config_json : "{}", 0, NULL);
    json_t *v = json_object_get(root, key);
    // the registry stores typed values, but a string "true" is accepted
    // as Juju's schema coercion would
    bool out = json_is_true(v) || (json_is_string(v) && strcmp(json_string_value(v), "true") == 0);
    json_decref(root);
    return out;
}

//  --------------------------------------------------------------------------
//  The list

typedef struct {
    im_source_t *v;
    size_t n, cap;
    en_arena_t *a;
} s_list_t;

static void
s_push(s_list_t *l, const im_source_t *s)
{
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 8;
        im_source_t *nv = en_arena_array(l->a, ncap, sizeof *nv);
        if (l->n)
            memcpy(nv, l->v, l->n * sizeof *nv);
        l->v = nv;
        l->cap = ncap;
    }
    l->v[l->n++] = *s;
}

//  The model's metadata URL as a source URL: a bare absolute directory is
//  file://<dir>/<leaf> (unless it already ends in /<leaf>).
static int
s_config_url(en_arena_t *a, const char *key, const char *value, const char *leaf, const char **out,
             en_err_t *err)
{
    if (value[0] == '/') {
        size_t n = strlen(value);
        while (n > 1 && value[n - 1] == '/')
            n--;
        size_t ln = strlen(leaf);
        bool has = n > ln && value[n - ln - 1] == '/' && strncmp(value + n - ln, leaf, ln) == 0;
        *out = has ? en_arena_printf(a, "file://%.*s", (int)n, value)
                   : en_arena_printf(a, "file://%.*s/%s", (int)n, value, leaf);
        return 0;
    }
    *out = value;
    return im_url_check(key, value, err);
}

//  The provider's own sources: the driver table's image_sources (the sim
//  publishes a tree for its regions). Errors skip nothing silently: they
//  fail the list, as a provider's DataSources error does in Juju.
static int
s_provider_sources(im_thread_t *t, s_list_t *l, const im_model_t *model, en_err_t *err)
{
    const en_provider_t *p = en_provider_builtin(model->cloud->type);
    if (!p || !p->image_sources)
        return 0;
    en_cloud_spec_t spec = {
        .type = model->cloud->type,
        .name = model->cloud->name,
        .region = model->cloud->region,
        .endpoint = model->cloud->endpoint,
        .identity_endpoint = model->cloud->identity_endpoint,
        .storage_endpoint = model->cloud->storage_endpoint,
    };
    char *key = en_arena_printf(l->a, "%s|%s|%s|%s", spec.type, spec.name ? spec.name : "",
                                spec.region ? spec.region : "",
                                spec.endpoint ? spec.endpoint : "");
    im_provider_cached_t *c = NULL;
    for (size_t i = 0; i < t->provider_count && !c; i++)
        if (strcmp(t->providers[i].key, key) == 0)
            c = &t->providers[i];
    if (c && en_mono_ms() - c->at_ms > IM_PROVIDER_TTL_MS) {
        en_image_sources_free(&c->sources, c->count);
        c->count = 0;
        c->at_ms = 0;
    }
    if (!c || !c->sources) {
        en_image_source_t *fresh = NULL;
        size_t fresh_n = 0;
        if (p->image_sources(&spec, t->self->base.home, &fresh, &fresh_n, err))
            return -1;
        if (!c) {
            if (t->provider_count == IM_PROVIDER_CACHE_MAX) {
                // a thread serving more clouds than that: drop the oldest
                free(t->providers[0].key);
                en_image_sources_free(&t->providers[0].sources, t->providers[0].count);
                memmove(&t->providers[0], &t->providers[1],
                        (IM_PROVIDER_CACHE_MAX - 1) * sizeof t->providers[0]);
                t->provider_count--;
            }
            c = &t->providers[t->provider_count++];
            *c = (im_provider_cached_t){.key = strdup(key)};
        }
        c->sources = fresh;
        c->count = fresh_n;
        c->at_ms = en_mono_ms();
    }
    const en_image_source_t *v = c->sources;
    size_t n = c->count;
    for (size_t i = 0; i < n; i++) {
        im_source_t s = {
            .id = en_arena_strdup(l->a, v[i].id ? v[i].id : p->name),
            .description = en_arena_strdup(l->a, v[i].description ? v[i].description : p->name),
            .url = en_arena_strdup(l->a, v[i].url ? v[i].url : ""),
            .priority = v[i].priority,
            .require_signed = v[i].require_signed,
            .keyring = en_arena_strdup(l->a, v[i].keyring_armored ? v[i].keyring_armored : ""),
            .kind = "images",
        };
        s_push(l, &s);
    }
    return 0;
}

void
im_provider_cache_clear(im_thread_t *t)
{
    for (size_t i = 0; i < t->provider_count; i++) {
        free(t->providers[i].key);
        en_image_sources_free(&t->providers[i].sources, t->providers[i].count);
    }
    t->provider_count = 0;
}

int
im_sources(im_thread_t *t, en_call_t *call, const im_model_t *model, bool agents, im_source_t **out,
           size_t *count, en_err_t *err)
{
    en_arena_t *a = call->arena;
    s_list_t l = {.a = a};
    const char *key = agents ? "agent-metadata-url" : "image-metadata-url";
    const char *url = im_config_str(a, model->config_json, key);
    if (*url) {
        const char *u;
        if (s_config_url(a, key, url, agents ? "tools" : "images", &u, err))
            return -1;
        im_source_t s = {.id = key,
                         .description = key,
                         .url = u,
                         .priority = EN_IMAGE_PRIORITY_SPECIFIC,
                         .keyring = "",
                         .kind = agents ? "agents" : "images"};
        s_push(&l, &s);
    }
    im_source_t *reg = NULL;
    size_t nreg = 0;
    if (im_store_list(t, a, agents ? "agents" : "images", &reg, &nreg, err))
        return -1;
    for (size_t i = 0; i < nreg; i++)
        s_push(&l, &reg[i]);
    if (!agents && s_provider_sources(t, &l, model, err))
        return -1;
    if (agents) {
        im_source_t s = {.id = "default simplestreams",
                         .description = "default simplestreams",
                         .url = IM_DEFAULT_AGENTS_URL,
                         .priority = EN_IMAGE_PRIORITY_DEFAULT,
                         .require_signed = true,
                         .keyring = t->self->juju_keyring ? t->self->juju_keyring : "",
                         .kind = "agents"};
        s_push(&l, &s);
    } else if (!im_config_bool(model->config_json, "image-metadata-defaults-disabled")) {
        const char *stream = im_config_str(a, model->config_json, "image-stream");
        if (!*stream)
            stream = "released";
        im_source_t s = {.id = "default ubuntu cloud images",
                         .description = "default ubuntu cloud images",
                         .url =
                             en_arena_printf(a, IM_DEFAULT_IMAGES_URL "%s",
                                             strcmp(stream, "released") == 0 ? "releases" : stream),
                         .priority = EN_IMAGE_PRIORITY_DEFAULT,
                         .require_signed = true,
                         .keyring = t->self->cloudimage_keyring ? t->self->cloudimage_keyring : "",
                         .kind = "images"};
        s_push(&l, &s);
    }
    *out = l.v;
    *count = l.n;
    return 0;
}

En__ImageDataSource *
im_source_to(en_arena_t *a, const im_source_t *s)
{
    En__ImageDataSource *out = en_arena_alloc(a, sizeof *out);
    en__image_data_source__init(out);
    out->id = (char *)s->id;
    out->description = (char *)s->description;
    out->url = (char *)s->url;
    out->priority = s->priority;
    out->require_signed = s->require_signed;
    out->keyring_armored = (char *)s->keyring;
    out->kind = (char *)s->kind;
    return out;
}

//  --------------------------------------------------------------------------
//  Handlers

static int
s_list(en_call_t *call, bool agents, ProtobufCMessage ***sources, size_t *n, en_err_t *err)
{
    im_thread_t *t = call->state;
    im_model_t model;
    im_source_t *v;
    size_t count;
    if (im_model(t, call, &model, err) || im_sources(t, call, &model, agents, &v, &count, err))
        return -1;
    En__ImageDataSource **out = en_arena_array(call->arena, count ? count : 1, sizeof *out);
    for (size_t i = 0; i < count; i++)
        out[i] = im_source_to(call->arena, &v[i]);
    *sources = (ProtobufCMessage **)out;
    *n = count;
    return 0;
}

static int
s_image_sources(en_call_t *call, const ProtobufCMessage *req, ProtobufCMessage *res, en_err_t *err)
{
    (void)req;
    En__ImageMetadataSourcesResult *r = (En__ImageMetadataSourcesResult *)res;
    return s_list(call, false, (ProtobufCMessage ***)&r->sources, &r->n_sources, err);
}

static int
s_agent_sources(en_call_t *call, const ProtobufCMessage *req, ProtobufCMessage *res, en_err_t *err)
{
    (void)req;
    En__AgentMetadataSourcesResult *r = (En__AgentMetadataSourcesResult *)res;
    return s_list(call, true, (ProtobufCMessage ***)&r->sources, &r->n_sources, err);
}

static int
s_register(en_call_t *call, const ProtobufCMessage *req, ProtobufCMessage *res, en_err_t *err)
{
    (void)res;
    const En__RegisterImageDataSourceRequest *r = (const En__RegisterImageDataSourceRequest *)req;
    return im_store_register(call->state, r->source, false, err);
}

static int
s_register_user(en_call_t *call, const ProtobufCMessage *req, ProtobufCMessage *res, en_err_t *err)
{
    (void)res;
    const En__RegisterUserImageDataSourceRequest *r =
        (const En__RegisterUserImageDataSourceRequest *)req;
    return im_store_register(call->state, r->source, true, err);
}

static int
s_unregister(en_call_t *call, const ProtobufCMessage *req, ProtobufCMessage *res, en_err_t *err)
{
    (void)res;
    const En__UnregisterImageDataSourceRequest *r =
        (const En__UnregisterImageDataSourceRequest *)req;
    return im_store_unregister(call->state, r->id, err);
}

#define API (&en__environ__descriptor)
const en_route_t im_source_routes[] = {
    {API, "ImageMetadataSources", s_image_sources, 0},
    {API, "AgentMetadataSources", s_agent_sources, 0},
    {API, "RegisterImageDataSource", s_register, 0},
    {API, "RegisterUserImageDataSource", s_register_user, 0},
    {API, "UnregisterImageDataSource", s_unregister, 0},
};
const size_t im_source_route_count = sizeof im_source_routes / sizeof im_source_routes[0];
