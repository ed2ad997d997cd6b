/*  broker.c — the broker's per-thread state, model resolution, compute
    connection cache, bounded describe retry, conversions between the
    driver's plain structs and protobuf, and the route table (handlers live
    in instances.c, start.c, policy.c). */
#include "broker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/specproto.h"
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/paths.h"

//  --------------------------------------------------------------------------
//  Model and compute connection

static void
s_population_clear(broker_population_t *p)
{
    for (size_t i = 0; i < p->count; i++)
        free(p->zones[i]);
    free(p->zones);
    free(p->counts);
    free(p->model);
    memset(p, 0, sizeof *p);
}

//  Close the connection and drop what was remembered with it.
static void
s_conn_clear(broker_conn_t *c)
{
    c->ops->close(&c->conn);
    free(c->key);
    en_zones_free(&c->zones, c->zone_count);
    memset(c, 0, sizeof *c);
}

static broker_conn_t *
s_conn(broker_thread_t *t, const En__CloudSpec *spec, en_err_t *err)
{
    char *key = en_cloud_spec_proto_key(spec);
    for (size_t i = 0; i < t->conn_count; i++)
        if (strcmp(t->conns[i].key, key) == 0) {
            free(key);
            return &t->conns[i];
        }
    const en_provider_t *provider = en_provider_builtin(spec->type);
    if (!provider || !provider->compute) {
        en_err_set(err, EN_NOT_SUPPORTED, "provider \"%s\" does not support instances", spec->type);
        free(key);
        return NULL;
    }
    en_cloud_spec_t *s = en_cloud_spec_from_proto(spec);
    en_compute_t *conn = provider->compute->open(s, t->broker->base.home, err);
    en_cloud_spec_clear(s);
    free(s);
    if (!conn) {
        free(key);
        return NULL;
    }
    if (t->conn_count == BROKER_COMPUTE_MAX) {
        // a thread serving more clouds than that is unusual: drop the oldest
        s_conn_clear(&t->conns[0]);
        memmove(&t->conns[0], &t->conns[1], (BROKER_COMPUTE_MAX - 1) * sizeof(broker_conn_t));
        t->conn_count--;
    }
    broker_conn_t *c = &t->conns[t->conn_count++];
    *c = (broker_conn_t){
        .key = key,
        .ops = provider->compute,
        .conn = conn,
        .firewall = provider->firewall != NULL,
        .net = provider->network,
    };
    return c;
}

int
broker_model(en_call_t *call, broker_model_t *model, en_err_t *err)
{
    broker_thread_t *t = call->state;
    const En__GetModelForServiceResult *r =
        en_modelcache_for(t->models, call->method, call->model_uuid, err);
    if (!r)
        return -1;
    // the cache may drop the entry on the next lookup: keep copies
    memset(model, 0, sizeof *model);
    model->uuid = en_arena_strdup(call->arena, r->model->uuid);
    model->controller_uuid = en_arena_strdup(call->arena, r->model->controller_uuid);
    model->region = en_arena_strdup(call->arena, r->cloud->region);
    model->name = en_arena_strdup(call->arena, r->model->name ? r->model->name : "");
    model->dying = r->model->dying;
    model->config_json = en_arena_strdup(
        call->arena, r->model->config && r->model->config->json ? r->model->config->json : "{}");
    broker_conn_t *c = s_conn(t, r->cloud, err);
    if (!c)
        return -1;
    model->ops = c->ops;
    model->conn = c->conn;
    model->firewall = c->firewall;
    model->net = c->net;
    model->cache = c;
    model->broker = ((broker_thread_t *)call->state)->broker;
    return 0;
}

int
broker_connect(en_call_t *call, const En__CloudSpec *spec, broker_model_t *model, en_err_t *err)
{
    broker_conn_t *c = s_conn(call->state, spec, err);
    if (!c)
        return -1;
    memset(model, 0, sizeof *model);
    model->uuid = "";
    model->controller_uuid = "";
    model->region = en_arena_strdup(call->arena, spec->region ? spec->region : "");
    model->config_json = "{}";
    model->ops = c->ops;
    model->conn = c->conn;
    model->firewall = c->firewall;
    model->net = c->net;
    model->cache = c;
    model->broker = ((broker_thread_t *)call->state)->broker;
    return 0;
}

//  --------------------------------------------------------------------------
//  What a thread remembers of a cloud (see broker_conn_t)

static int
s_zones_copy(en_arena_t *a, const en_zone_t *src, size_t n, en_zone_t **zones, size_t *count)
{
    *zones = en_arena_array(a, n ? n : 1, sizeof(en_zone_t));
    for (size_t i = 0; i < n; i++)
        (*zones)[i] = (en_zone_t){en_arena_strdup(a, src[i].name), src[i].available};
    *count = n;
    return 0;
}

int
broker_zones(broker_model_t *m, en_arena_t *a, bool fresh, en_zone_t **zones, size_t *count,
             en_err_t *err)
{
    broker_conn_t *c = m->cache;
    if (c && c->zones && !fresh && en_mono_ms() - c->zones_ms < BROKER_ZONES_TTL_MS)
        return s_zones_copy(a, c->zones, c->zone_count, zones, count);
    en_zone_t *got = NULL;
    size_t n = 0;
    if (m->ops->zones(m->conn, &got, &n, err))
        return -1;
    s_zones_copy(a, got, n, zones, count);
    if (!c) {
        en_zones_free(&got, n);
        return 0;
    }
    en_zones_free(&c->zones, c->zone_count);
    c->zones = got;
    c->zone_count = n;
    c->zones_ms = en_mono_ms();
    return 0;
}

void
broker_zones_forget(broker_model_t *m)
{
    if (!m->cache)
        return;
    en_zones_free(&m->cache->zones, m->cache->zone_count);
    m->cache->zone_count = 0;
}

static broker_population_t *
s_population_find(broker_t *b, const char *model)
{
    for (size_t i = 0; b && i < b->population_count; i++)
        if (strcmp(b->populations[i].model, model) == 0)
            return &b->populations[i];
    return NULL;
}

//  Count the live instances per zone from a listing.
static void
s_population_fill(broker_population_t *p, const en_instance_t *insts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!insts[i].live || !insts[i].zone || !*insts[i].zone)
            continue;
        size_t z = 0;
        while (z < p->count && strcmp(p->zones[z], insts[i].zone) != 0)
            z++;
        if (z == p->count) {
            p->zones = realloc(p->zones, (p->count + 1) * sizeof(char *));
            p->counts = realloc(p->counts, (p->count + 1) * sizeof(size_t));
            p->zones[z] = strdup(insts[i].zone);
            p->counts[z] = 0;
            p->count++;
        }
        p->counts[z]++;
    }
}

static size_t
s_population_of(const broker_population_t *p, const char *zone)
{
    for (size_t z = 0; z < p->count; z++)
        if (strcmp(p->zones[z], zone) == 0)
            return p->counts[z];
    return 0;
}

//  Count one more in the least populated of zones (ties by name); the
//  lock is held.
static const char *
s_population_reserve(broker_population_t *p, const char *const *zones, size_t n,
                     const size_t *counts)
{
    size_t best = n;
    for (size_t i = 0; i < n; i++)
        if (best == n || counts[i] < counts[best] ||
            (counts[i] == counts[best] && strcmp(zones[i], zones[best]) < 0))
            best = i;
    if (best == n)
        return NULL;
    en_instance_t one = {.live = true, .zone = (char *)zones[best]};
    s_population_fill(p, &one, 1);
    return zones[best];
}

int
broker_population(broker_model_t *m, const char *const *zones, size_t n, size_t *counts,
                  const char **reserve, en_err_t *err)
{
    if (reserve)
        *reserve = NULL;
    broker_t *b = m->broker;
    if (b) {
        pthread_mutex_lock(&b->population_lock);
        broker_population_t *p = s_population_find(b, m->uuid);
        bool fresh = p && en_mono_ms() - p->list_ms < BROKER_POPULATION_TTL_MS;
        if (fresh) {
            for (size_t i = 0; i < n; i++)
                counts[i] = s_population_of(p, zones[i]);
            if (reserve)
                *reserve = s_population_reserve(p, zones, n, counts);
        }
        pthread_mutex_unlock(&b->population_lock);
        if (fresh)
            return 0;
    }
    // list outside the lock: it is a cloud call
    en_tag_t filter = {"juju-model-uuid", m->uuid};
    en_instance_t *insts = NULL;
    size_t count = 0;
    if (m->ops->list(m->conn, &filter, 1, &insts, &count, err))
        return -1;
    broker_population_t listed = {.model = strdup(m->uuid), .list_ms = en_mono_ms()};
    s_population_fill(&listed, insts, count);
    en_instances_free(&insts, count);
    for (size_t i = 0; i < n; i++)
        counts[i] = s_population_of(&listed, zones[i]);
    if (!b) {
        s_population_clear(&listed);
        return 0;
    }
    pthread_mutex_lock(&b->population_lock);
    broker_population_t *p = s_population_find(b, m->uuid);
    if (p)
        s_population_clear(p);
    else if (b->population_count == BROKER_POPULATIONS_MAX) {
        // the least recently listed model makes room
        p = &b->populations[0];
        for (size_t i = 1; i < b->population_count; i++)
            if (b->populations[i].list_ms < p->list_ms)
                p = &b->populations[i];
        s_population_clear(p);
    } else
        p = &b->populations[b->population_count++];
    *p = listed;
    if (reserve)
        *reserve = s_population_reserve(p, zones, n, counts);
    pthread_mutex_unlock(&b->population_lock);
    return 0;
}

void
broker_population_move(broker_model_t *m, const char *from, const char *to)
{
    if (!m->broker || (!from && !to))
        return;
    pthread_mutex_lock(&m->broker->population_lock);
    broker_population_t *p = s_population_find(m->broker, m->uuid);
    for (size_t z = 0; p && from && z < p->count; z++)
        if (strcmp(p->zones[z], from) == 0 && p->counts[z] > 0)
            p->counts[z]--;
    if (p && to && *to) {
        en_instance_t one = {.live = true, .zone = (char *)to};
        s_population_fill(p, &one, 1);
    }
    pthread_mutex_unlock(&m->broker->population_lock);
}

void
broker_population_forget(broker_model_t *m)
{
    if (!m->broker)
        return;
    pthread_mutex_lock(&m->broker->population_lock);
    broker_population_t *p = s_population_find(m->broker, m->uuid);
    if (p)
        p->list_ms = INT64_MIN / 2; // stale: the next start lists afresh
    pthread_mutex_unlock(&m->broker->population_lock);
}

//  --------------------------------------------------------------------------
//  Eventual consistency

double
broker_retry_scale(void)
{
    return en_retry_scale();
}

void
broker_sleep_ms(int64_t ms)
{
    en_sleep_ms(ms);
}

bool
broker_has_tag(const en_instance_t *inst, const char *key, const char *value)
{
    const char *v = en_kvlist_get(&inst->tags, key);
    return v && (!value || strcmp(v, value) == 0);
}

static bool
s_all_found(const char *const *ids, size_t n, const en_instance_t *found, size_t count)
{
    for (size_t i = 0; i < n; i++) {
        if (!*ids[i])
            continue; // "" is never found: no point waiting for it
        bool hit = false;
        for (size_t j = 0; j < count && !hit; j++)
            hit = strcmp(found[j].id, ids[i]) == 0;
        if (!hit)
            return false;
    }
    return true;
}

bool
broker_retry_wait(size_t attempt)
{
    // EC2's short attempt: about 1.5 s in all, jittered so replicas that
    // retry together do not hit the cloud together
    static const int waits[] = {100, 200, 400, 800};
    if (attempt >= sizeof waits / sizeof waits[0])
        return false;
    int64_t ms = (int64_t)(waits[attempt] * broker_retry_scale());
    broker_sleep_ms(ms / 2 + (ms > 1 ? rand() % (ms / 2 + 1) : 0));
    return true;
}

int
broker_describe(broker_model_t *m, const char *const *ids, size_t n, bool retry,
                en_instance_t **out, size_t *count, en_err_t *err)
{
    for (size_t attempt = 0;; attempt++) {
        if (m->ops->describe(m->conn, ids, n, out, count, err))
            return -1;
        if (!retry || s_all_found(ids, n, *out, *count))
            return 0;
        if (!broker_retry_wait(attempt))
            return 0;
        en_instances_free(out, *count);
        *count = 0;
    }
}

//  --------------------------------------------------------------------------
//  Conversions

En__HardwareCharacteristics *
broker_hardware_to(en_arena_t *a, const en_instance_t *inst)
{
    En__HardwareCharacteristics *h = en_arena_alloc(a, sizeof *h);
    en__hardware_characteristics__init(h);
    if (inst->arch && *inst->arch) {
        h->_arch_case = EN__HARDWARE_CHARACTERISTICS___ARCH_ARCH;
        h->arch = en_arena_strdup(a, inst->arch);
    }
    h->_mem_case = EN__HARDWARE_CHARACTERISTICS___MEM_MEM;
    h->mem = inst->mem;
    if (inst->root_disk) {
        h->_root_disk_case = EN__HARDWARE_CHARACTERISTICS___ROOT_DISK_ROOT_DISK;
        h->root_disk = inst->root_disk;
    }
    h->_cpu_cores_case = EN__HARDWARE_CHARACTERISTICS___CPU_CORES_CPU_CORES;
    h->cpu_cores = inst->cpu_cores;
    if (inst->cpu_power) {
        h->_cpu_power_case = EN__HARDWARE_CHARACTERISTICS___CPU_POWER_CPU_POWER;
        h->cpu_power = inst->cpu_power;
    }
    if (inst->zone && *inst->zone) {
        h->_availability_zone_case =
            EN__HARDWARE_CHARACTERISTICS___AVAILABILITY_ZONE_AVAILABILITY_ZONE;
        h->availability_zone = en_arena_strdup(a, inst->zone);
    }
    return h;
}

En__Instance *
broker_instance_to(en_arena_t *a, const en_instance_t *inst)
{
    En__Instance *r = en_arena_alloc(a, sizeof *r);
    en__instance__init(r);
    r->id = en_arena_strdup(a, inst->id);
    r->status = en_arena_alloc(a, sizeof *r->status);
    en__instance_status__init(r->status);
    r->status->status = en_arena_strdup(a, inst->status ? inst->status : "");
    r->status->message = en_arena_strdup(a, inst->status_message ? inst->status_message : "");
    r->addresses = en_arena_array(a, inst->address_count, sizeof(En__Address *));
    for (size_t i = 0; i < inst->address_count; i++) {
        En__Address *ad = en_arena_alloc(a, sizeof *ad);
        en__address__init(ad);
        ad->value = en_arena_strdup(a, inst->addresses[i]);
        ad->type = "ipv4";
        ad->scope = "local-cloud";
        r->addresses[r->n_addresses++] = ad;
    }
    r->hardware = broker_hardware_to(a, inst);
    r->tags = en_arena_array(a, inst->tags.count, sizeof(En__Instance__TagsEntry *));
    for (size_t i = 0; i < inst->tags.count; i++) {
        En__Instance__TagsEntry *e = en_arena_alloc(a, sizeof *e);
        en__instance__tags_entry__init(e);
        e->key = en_arena_strdup(a, inst->tags.items[i].key);
        e->value = en_arena_strdup(a, inst->tags.items[i].value);
        r->tags[r->n_tags++] = e;
    }
    return r;
}

//  --------------------------------------------------------------------------
//  Service

static void *
s_thread_init(void *service, en_err_t *err)
{
    broker_t *self = service;
    broker_thread_t *t = calloc(1, sizeof *t);
    t->broker = self;
    if (self->base.gateways && *self->base.gateways) {
        t->client = en_client_new(self->base.gateways, err);
        if (t->client)
            t->models = en_modelcache_new(self->base.gateways, t->client, err);
        if (!t->models) {
            en_client_destroy(&t->client);
            free(t);
            return NULL;
        }
    }
    t->progress = en_progress_new(self->base.gateways, err);
    if (!t->progress) {
        en_modelcache_destroy(&t->models);
        en_client_destroy(&t->client);
        free(t);
        return NULL;
    }
    return t;
}

static void
s_thread_fini(void *service, void *state)
{
    (void)service;
    broker_thread_t *t = state;
    for (size_t i = 0; i < t->conn_count; i++)
        s_conn_clear(&t->conns[i]);
    en_progress_destroy(&t->progress);
    en_modelcache_destroy(&t->models);
    en_client_destroy(&t->client);
    free(t);
}

broker_t *
broker_new(const char *home, const char *gateways, en_err_t *err)
{
    broker_t *self = calloc(1, sizeof *self);
    const en_route_group_t groups[] = {
        {broker_instance_routes, broker_instance_route_count},
        {broker_start_routes, broker_start_route_count},
        {broker_policy_routes, broker_policy_route_count},
        {broker_bootstrap_routes, broker_bootstrap_route_count},
    };
    if (en_service_base_init(&self->base, "broker", home, gateways, groups,
                             sizeof groups / sizeof groups[0], self, s_thread_init, s_thread_fini,
                             err)) {
        free(self);
        return NULL;
    }
    pthread_mutex_init(&self->population_lock, NULL);
    return self;
}

void
broker_destroy(broker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    broker_t *self = *self_p;
    en_service_base_fini(&self->base);
    for (size_t i = 0; i < self->population_count; i++)
        s_population_clear(&self->populations[i]);
    pthread_mutex_destroy(&self->population_lock);
    free(self);
    *self_p = NULL;
}

const en_service_def_t *
broker_service(broker_t *self)
{
    return &self->base.def;
}
