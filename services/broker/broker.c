/*  broker.c — the broker's per-thread state, model resolution, compute
    connection cache, bounded describe retry, conversions between the
    driver's plain structs and protobuf, and the route table (handlers live
    in instances.c, start.c, policy.c). */
#include "broker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    for (size_t i = 0; i < c->population_count; i++)
        s_population_clear(&c->populations[i]);
    memset(c, 0, sizeof *c);
}

static broker_conn_t *
s_conn(broker_thread_t *t, const En__CloudSpec *spec, en_err_t *err)
{
    char *key = NULL;
    if (asprintf(&key, "%s|%s|%s|%s", spec->type, spec->name, spec->region, spec->endpoint) < 0)
        abort();
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
    // the driver sees only the fields it needs, borrowed from the reply
    en_cloud_spec_t s = {
        .type = spec->type,
        .name = spec->name,
        .region = spec->region,
        .endpoint = spec->endpoint,
        .identity_endpoint = spec->identity_endpoint,
        .storage_endpoint = spec->storage_endpoint,
    };
    en_compute_t *conn = provider->compute->open(&s, t->broker->home, err);
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
    *c = (broker_conn_t){.key = key, .ops = provider->compute, .conn = conn};
    return c;
}

int
broker_model(en_call_t *call, broker_model_t *model, en_err_t *err)
{
    broker_thread_t *t = call->state;
    if (!call->model_uuid || !*call->model_uuid)
        return en_err_set(err, EN_NOT_VALID, "%s: no model named", call->method);
    if (!t->models)
        return en_err_set(err, EN_UNAVAILABLE, "%s: no registry to resolve models", call->method);
    const En__GetModelForServiceResult *r = en_modelcache_get(t->models, call->model_uuid, err);
    if (!r)
        return -1;
    if (!r->model || !r->cloud)
        return en_err_set(err, EN_INTERNAL, "model %s has no cloud spec", call->model_uuid);
    // the cache may drop the entry on the next lookup: keep copies
    memset(model, 0, sizeof *model);
    model->uuid = en_arena_strdup(call->arena, r->model->uuid);
    model->controller_uuid = en_arena_strdup(call->arena, r->model->controller_uuid);
    model->region = en_arena_strdup(call->arena, r->cloud->region);
    model->config_json = en_arena_strdup(
        call->arena, r->model->config && r->model->config->json ? r->model->config->json : "{}");
    broker_conn_t *c = s_conn(t, r->cloud, err);
    if (!c)
        return -1;
    model->ops = c->ops;
    model->conn = c->conn;
    model->cache = c;
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
    model->cache = c;
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
s_population_find(broker_conn_t *c, const char *model)
{
    for (size_t i = 0; c && i < c->population_count; i++)
        if (strcmp(c->populations[i].model, model) == 0)
            return &c->populations[i];
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

int
broker_population(broker_model_t *m, const char *const *zones, size_t n, size_t *counts,
                  en_err_t *err)
{
    broker_conn_t *c = m->cache;
    broker_population_t *p = s_population_find(c, m->uuid);
    if (!p || en_mono_ms() - p->list_ms >= BROKER_POPULATION_TTL_MS) {
        en_tag_t filter = {"juju-model-uuid", m->uuid};
        en_instance_t *insts = NULL;
        size_t count = 0;
        if (m->ops->list(m->conn, &filter, 1, &insts, &count, err))
            return -1;
        broker_population_t fresh = {.model = strdup(m->uuid), .list_ms = en_mono_ms()};
        s_population_fill(&fresh, insts, count);
        en_instances_free(&insts, count);
        if (!c) {
            for (size_t i = 0; i < n; i++)
                counts[i] = s_population_of(&fresh, zones[i]);
            s_population_clear(&fresh);
            return 0;
        }
        if (p)
            s_population_clear(p);
        else if (c->population_count == BROKER_POPULATIONS_MAX) {
            // the least recently listed model makes room
            p = &c->populations[0];
            for (size_t i = 1; i < c->population_count; i++)
                if (c->populations[i].list_ms < p->list_ms)
                    p = &c->populations[i];
            s_population_clear(p);
        } else
            p = &c->populations[c->population_count++];
        *p = fresh;
    }
    for (size_t i = 0; i < n; i++)
        counts[i] = s_population_of(p, zones[i]);
    return 0;
}

void
broker_population_add(broker_model_t *m, const char *zone)
{
    broker_population_t *p = s_population_find(m->cache, m->uuid);
    if (!p || !zone || !*zone)
        return;
    en_instance_t one = {.live = true, .zone = (char *)zone};
    s_population_fill(p, &one, 1);
}

void
broker_population_forget(broker_model_t *m)
{
    broker_population_t *p = s_population_find(m->cache, m->uuid);
    if (p)
        p->list_ms = INT64_MIN / 2; // stale: the next start lists afresh
}

//  --------------------------------------------------------------------------
//  Eventual consistency

double
broker_retry_scale(void)
{
    const char *s = getenv("ENVIRONS_RETRY_SCALE");
    double v = s && *s ? strtod(s, NULL) : 1.0;
    return v >= 0 && v <= 100 ? v : 1.0;
}

void
broker_sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
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

static int
s_set_list(en_constraints_t *out, en_cons_attr_t attr, const En__StringList *l)
{
    if (!l)
        return 0;
    return en_constraints_set_list(out, attr, (const char *const *)l->values, l->n_values);
}

int
broker_cons_from(const En__Constraints *c, en_constraints_t *out, en_err_t *err)
{
    en_constraints_reset(out);
    if (!c)
        return 0;
    int rc = 0;
    if (c->_arch_case)
        rc |= en_constraints_set_string(out, EN_CONS_ARCH, c->arch);
    if (c->_container_case)
        rc |= en_constraints_set_string(out, EN_CONS_CONTAINER, c->container);
    if (c->_cpu_cores_case)
        rc |= en_constraints_set_uint(out, EN_CONS_CORES, c->cpu_cores);
    if (c->_cpu_power_case)
        rc |= en_constraints_set_uint(out, EN_CONS_CPU_POWER, c->cpu_power);
    if (c->_mem_case)
        rc |= en_constraints_set_uint(out, EN_CONS_MEM, c->mem);
    if (c->_root_disk_case)
        rc |= en_constraints_set_uint(out, EN_CONS_ROOT_DISK, c->root_disk);
    if (c->_instance_type_case)
        rc |= en_constraints_set_string(out, EN_CONS_INSTANCE_TYPE, c->instance_type);
    if (c->_virt_type_case)
        rc |= en_constraints_set_string(out, EN_CONS_VIRT_TYPE, c->virt_type);
    if (c->_allocate_public_ip_case)
        rc |= en_constraints_set_bool(out, EN_CONS_ALLOCATE_PUBLIC_IP, c->allocate_public_ip);
    if (c->_root_disk_source_case)
        rc |= en_constraints_set_string(out, EN_CONS_ROOT_DISK_SOURCE, c->root_disk_source);
    if (c->_instance_role_case)
        rc |= en_constraints_set_string(out, EN_CONS_INSTANCE_ROLE, c->instance_role);
    if (c->_image_id_case)
        rc |= en_constraints_set_string(out, EN_CONS_IMAGE_ID, c->image_id);
    if (c->_nested_virtualization_case)
        rc |= en_constraints_set_bool(out, EN_CONS_NESTED_VIRTUALIZATION, c->nested_virtualization);
    rc |= s_set_list(out, EN_CONS_TAGS, c->tags);
    rc |= s_set_list(out, EN_CONS_SPACES, c->spaces);
    rc |= s_set_list(out, EN_CONS_ZONES, c->zones);
    if (rc) {
        en_constraints_reset(out);
        return en_err_set(err, EN_NOT_VALID, "constraints do not convert");
    }
    return 0;
}

static En__StringList *
s_list_to(en_arena_t *a, const en_cons_list_t *l)
{
    En__StringList *r = en_arena_alloc(a, sizeof *r);
    en__string_list__init(r);
    r->values = en_arena_array(a, l->count, sizeof(char *));
    for (size_t i = 0; i < l->count; i++)
        r->values[i] = en_arena_strdup(a, l->items[i]);
    r->n_values = l->count;
    return r;
}

//  A set string attribute in the arena, or NULL when unset.
static char *
s_str(en_arena_t *a, const en_constraints_t *c, en_cons_attr_t attr, const char *value)
{
    return en_constraints_is_set(c, attr) ? en_arena_strdup(a, value) : NULL;
}

En__Constraints *
broker_cons_to(en_arena_t *a, const en_constraints_t *c)
{
    En__Constraints *r = en_arena_alloc(a, sizeof *r);
    en__constraints__init(r);
    // strings: the oneof case is the field number when set, 0 when not
    if ((r->arch = s_str(a, c, EN_CONS_ARCH, c->arch)))
        r->_arch_case = EN__CONSTRAINTS___ARCH_ARCH;
    if ((r->container = s_str(a, c, EN_CONS_CONTAINER, c->container)))
        r->_container_case = EN__CONSTRAINTS___CONTAINER_CONTAINER;
    if ((r->instance_type = s_str(a, c, EN_CONS_INSTANCE_TYPE, c->instance_type)))
        r->_instance_type_case = EN__CONSTRAINTS___INSTANCE_TYPE_INSTANCE_TYPE;
    if ((r->virt_type = s_str(a, c, EN_CONS_VIRT_TYPE, c->virt_type)))
        r->_virt_type_case = EN__CONSTRAINTS___VIRT_TYPE_VIRT_TYPE;
    if ((r->root_disk_source = s_str(a, c, EN_CONS_ROOT_DISK_SOURCE, c->root_disk_source)))
        r->_root_disk_source_case = EN__CONSTRAINTS___ROOT_DISK_SOURCE_ROOT_DISK_SOURCE;
    if ((r->instance_role = s_str(a, c, EN_CONS_INSTANCE_ROLE, c->instance_role)))
        r->_instance_role_case = EN__CONSTRAINTS___INSTANCE_ROLE_INSTANCE_ROLE;
    if ((r->image_id = s_str(a, c, EN_CONS_IMAGE_ID, c->image_id)))
        r->_image_id_case = EN__CONSTRAINTS___IMAGE_ID_IMAGE_ID;
    // numbers and booleans
    if (en_constraints_is_set(c, EN_CONS_CORES)) {
        r->_cpu_cores_case = EN__CONSTRAINTS___CPU_CORES_CPU_CORES;
        r->cpu_cores = c->cores;
    }
    if (en_constraints_is_set(c, EN_CONS_CPU_POWER)) {
        r->_cpu_power_case = EN__CONSTRAINTS___CPU_POWER_CPU_POWER;
        r->cpu_power = c->cpu_power;
    }
    if (en_constraints_is_set(c, EN_CONS_MEM)) {
        r->_mem_case = EN__CONSTRAINTS___MEM_MEM;
        r->mem = c->mem;
    }
    if (en_constraints_is_set(c, EN_CONS_ROOT_DISK)) {
        r->_root_disk_case = EN__CONSTRAINTS___ROOT_DISK_ROOT_DISK;
        r->root_disk = c->root_disk;
    }
    if (en_constraints_is_set(c, EN_CONS_ALLOCATE_PUBLIC_IP)) {
        r->_allocate_public_ip_case = EN__CONSTRAINTS___ALLOCATE_PUBLIC_IP_ALLOCATE_PUBLIC_IP;
        r->allocate_public_ip = c->allocate_public_ip;
    }
    if (en_constraints_is_set(c, EN_CONS_NESTED_VIRTUALIZATION)) {
        r->_nested_virtualization_case =
            EN__CONSTRAINTS___NESTED_VIRTUALIZATION_NESTED_VIRTUALIZATION;
        r->nested_virtualization = c->nested_virtualization;
    }
    // lists: present-but-empty differs from absent
    if (en_constraints_is_set(c, EN_CONS_TAGS))
        r->tags = s_list_to(a, &c->tags);
    if (en_constraints_is_set(c, EN_CONS_SPACES))
        r->spaces = s_list_to(a, &c->spaces);
    if (en_constraints_is_set(c, EN_CONS_ZONES))
        r->zones = s_list_to(a, &c->zones);
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
    if (self->gateways && *self->gateways) {
        t->client = en_client_new(self->gateways, err);
        if (t->client)
            t->models = en_modelcache_new(self->gateways, t->client, err);
        if (!t->models) {
            en_client_destroy(&t->client);
            free(t);
            return NULL;
        }
    }
    t->progress = en_progress_new(self->gateways, err);
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
    if (!home || !*home) {
        en_err_set(err, EN_NOT_VALID, "the broker needs a state directory (--home)");
        return NULL;
    }
    broker_t *self = calloc(1, sizeof *self);
    self->home = strdup(home);
    self->gateways = strdup(gateways ? gateways : "");
    const en_route_group_t groups[] = {
        {broker_instance_routes, broker_instance_route_count},
        {broker_start_routes, broker_start_route_count},
        {broker_policy_routes, broker_policy_route_count},
        {broker_bootstrap_routes, broker_bootstrap_route_count},
    };
    size_t n;
    self->routes = en_routes_join(groups, sizeof groups / sizeof groups[0], &n);
    self->def = (en_service_def_t){
        .name = "broker",
        .routes = self->routes,
        .route_count = n,
        .service = self,
        .thread_init = s_thread_init,
        .thread_fini = s_thread_fini,
    };
    return self;
}

void
broker_destroy(broker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    broker_t *self = *self_p;
    free(self->home);
    free(self->gateways);
    free(self->routes);
    free(self);
    *self_p = NULL;
}

const en_service_def_t *
broker_service(broker_t *self)
{
    return &self->def;
}
