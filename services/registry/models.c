/*  models.c — model configuration (Juju's EnvironProvider.PrepareConfig,
    config.Validator, ModelConfigUpgrader, ProviderSchema) and the stored
    models themselves.

    A model row keeps its cloud spec without the credential (the credential
    stays in credentials.yaml and is joined in only for services, by
    GetModelForService) and its config as a JSON object. Every change bumps
    `version` and is published as a ModelChanged event after commit. */
#include <string.h>
#include <sys/random.h>

#include "bus/envelope.h"
#include "registry.h"

#define T(call) ((registry_thread_t *) (call)->state)
#define R(call) (T(call)->registry)

void
registry_uuid_new(char out[37])
{
    unsigned char b[16];
    if (getrandom(b, sizeof b, 0) != (ssize_t) sizeof b)
        memset(b, 0x5a, sizeof b);
    b[6] = (unsigned char) ((b[6] & 0x0f) | 0x40); // version 4
    b[8] = (unsigned char) ((b[8] & 0x3f) | 0x80); // variant 10
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
             b[13], b[14], b[15]);
}

//  PrepareConfig proper: spec checks by the provider, then the schema.
//  Deterministic for a given input: nothing here invents a value.
static int
s_prepare(registry_thread_t *t, const en_cloud_spec_t *spec, json_t *cfg, en_err_t *err)
{
    if (en_cloud_spec_validate(spec, err))
        return en_err_annotate(err, "validating cloud spec");
    const en_provider_t *driver = NULL;
    if (registry_provider(t, spec->type, NULL, &driver, err))
        return -1;
    if (!driver)
        return en_err_set(err, EN_NOT_SUPPORTED, "provider \"%s\" cannot prepare models",
                          spec->type);
    if (!json_object_get(cfg, "type"))
        json_object_set_new(cfg, "type", json_string(driver->name));
    if (driver->prepare_config && driver->prepare_config(spec, cfg, err))
        return -1;
    return en_config_validate(driver, cfg, NULL, err);
}

static int
s_prepare_config(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res_,
                 en_err_t *err)
{
    const En__PrepareConfigRequest *req = (const void *) req_;
    En__PrepareConfigResult *res = (void *) res_;
    json_t *cfg = convert_config_from(req->config, err);
    if (!cfg)
        return -1;
    en_cloud_spec_t *spec = en_cloud_spec_from_proto(req->cloud);
    int rc = s_prepare(T(call), spec, cfg, err);
    if (rc == 0)
        res->config = convert_config(call->arena, cfg);
    en_cloud_spec_clear(spec);
    free(spec);
    json_decref(cfg);
    return rc;
}

//  --------------------------------------------------------------------------
//  Rows

#define MODEL_COLUMNS                                                                            \
    "uuid, name, owner, controller_uuid, cloud, region, credential, type, spec, config, "       \
    "version, created_ms"
//  What a SELECT reads: the columns, then whether the model is dying (a
//  row of dying_models, written by MarkModelDying).
#define MODEL_SELECT                                                                             \
    MODEL_COLUMNS ", EXISTS (SELECT 1 FROM dying_models d WHERE d.uuid = models.uuid)"

static const char *
s_col(sqlite3_stmt *st, int i)
{
    const char *s = (const char *) sqlite3_column_text(st, i);
    return s ? s : "";
}

static En__Model *
s_row_model(en_arena_t *a, sqlite3_stmt *st)
{
    En__Model *m = en_arena_alloc(a, sizeof *m);
    en__model__init(m);
    m->uuid = en_arena_strdup(a, s_col(st, 0));
    m->name = en_arena_strdup(a, s_col(st, 1));
    m->owner = en_arena_strdup(a, s_col(st, 2));
    m->controller_uuid = en_arena_strdup(a, s_col(st, 3));
    m->credential_name = en_arena_strdup(a, s_col(st, 6));
    json_t *spec = json_loads(s_col(st, 8), 0, NULL);
    En__CloudSpec *cs = en_arena_alloc(a, sizeof *cs);
    en__cloud_spec__init(cs);
    const char *keys[] = {"type", "name", "region", "endpoint", "identity-endpoint",
                          "storage-endpoint"};
    char **fields[] = {&cs->type, &cs->name, &cs->region, &cs->endpoint, &cs->identity_endpoint,
                       &cs->storage_endpoint};
    for (int i = 0; i < 6; i++) {
        const char *v = json_string_value(json_object_get(spec, keys[i]));
        *fields[i] = en_arena_strdup(a, v ? v : "");
    }
    json_decref(spec);
    m->cloud = cs;
    m->config = en_arena_alloc(a, sizeof *m->config);
    en__config_attrs__init(m->config);
    m->config->json = en_arena_strdup(a, s_col(st, 9));
    m->version = (uint64_t) sqlite3_column_int64(st, 10);
    m->created_ms = (uint64_t) sqlite3_column_int64(st, 11);
    m->dying = sqlite3_column_int(st, 12) != 0;
    return m;
}

En__Model *
registry_model_by_uuid(en_call_t *call, const char *uuid, en_err_t *err)
{
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(T(call)->db, "SELECT " MODEL_SELECT " FROM models WHERE uuid = ?", -1,
                       &st, NULL);
    sqlite3_bind_text(st, 1, uuid ? uuid : "", -1, SQLITE_STATIC);
    En__Model *m = NULL;
    if (sqlite3_step(st) == SQLITE_ROW)
        m = s_row_model(call->arena, st);
    else
        en_err_set(err, EN_NOT_FOUND, "model \"%s\" not found", uuid ? uuid : "");
    sqlite3_finalize(st);
    return m;
}

//  --------------------------------------------------------------------------

int
registry_model_create(en_call_t *call, const En__OpenRequest *req, En__Model **out, en_err_t *err)
{
    registry_thread_t *t = T(call);
    *out = NULL;
    if (!req->name || !*req->name)
        return en_err_set(err, EN_NOT_VALID, "empty model name not valid");
    if (!req->cloud_name || !*req->cloud_name)
        return en_err_set(err, EN_NOT_VALID, "empty cloud name not valid");
    const char *owner = req->owner && *req->owner ? req->owner : "admin";
    int rc = -1;
    json_t *cfg = NULL;
    en_cloud_t *cloud = NULL;
    en_credential_t *cred = NULL;
    en_cloud_spec_t spec = {0};

    en_clouds_t *personal = en_clouds_load(R(call)->clouds_path, err);
    if (!personal)
        goto cleanup;
    cloud = en_cloud_by_name(personal, req->cloud_name, err);
    en_clouds_destroy(&personal);
    if (!cloud)
        goto cleanup;
    cred = registry_credential_for(R(call), cloud, req->credential_name, err);
    if (!cred)
        goto cleanup;
    const char *region = req->region_name && *req->region_name ? req->region_name
                         : cloud->region_count                  ? cloud->regions[0].name
                                                                : "";
    if (en_make_cloud_spec(cloud, cloud->name, region, cred, &spec, err))
        goto cleanup;
    cfg = convert_config_from(req->config, err);
    if (!cfg)
        goto cleanup;
    // the caller's values win over the region's defaults (region-config),
    // which win over the cloud-wide ones (config)
    const en_region_t *r = *region ? en_cloud_region_by_name(cloud, region, NULL) : NULL;
    const en_kvlist_t *defaults[] = {r ? en_cloud_region_config(cloud, r->name) : NULL,
                                     &cloud->config};
    for (int i = 0; i < 2; i++) {
        json_t *d = defaults[i] ? en_kvlist_to_json(defaults[i]) : NULL;
        json_object_update_missing(cfg, d);
        json_decref(d);
    }
    json_object_set_new(cfg, "name", json_string(req->name));
    if (!json_object_get(cfg, "uuid")) {
        char uuid[37];
        registry_uuid_new(uuid);
        json_object_set_new(cfg, "uuid", json_string(uuid));
    }
    if (s_prepare(t, &spec, cfg, err))
        goto cleanup;
    const char *uuid = json_string_value(json_object_get(cfg, "uuid"));
    json_t *sj = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "type", spec.type ? spec.type : "",
                           "name", spec.name ? spec.name : "", "region",
                           spec.region ? spec.region : "", "endpoint",
                           spec.endpoint ? spec.endpoint : "", "identity-endpoint",
                           spec.identity_endpoint ? spec.identity_endpoint : "",
                           "storage-endpoint", spec.storage_endpoint ? spec.storage_endpoint : "");
    char *spec_text = json_dumps(sj, JSON_COMPACT | JSON_SORT_KEYS);
    char *cfg_text = json_dumps(cfg, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(sj);
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(t->db,
                       "INSERT INTO models(" MODEL_COLUMNS ") VALUES (?,?,?,?,?,?,?,?,?,?,1,?)",
                       -1, &st, NULL);
    const char *vals[] = {uuid,
                          req->name,
                          owner,
                          req->controller_uuid ? req->controller_uuid : "",
                          cloud->name,
                          spec.region ? spec.region : "",
                          cred->name ? cred->name : "",
                          spec.type,
                          spec_text,
                          cfg_text};
    for (int i = 0; i < 10; i++)
        sqlite3_bind_text(st, i + 1, vals[i], -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 11, en_now_ms());
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    free(spec_text);
    free(cfg_text);
    if (step == SQLITE_CONSTRAINT) {
        // two keys are unique: the name (per owner and controller) and the
        // uuid, which a caller may choose in the config
        const En__Model *same = registry_model_by_uuid(call, uuid, NULL);
        if (same && (strcmp(same->name, req->name) != 0 || strcmp(same->owner, owner) != 0))
            en_err_set(err, EN_ALREADY_EXISTS, "model with uuid \"%s\" already exists", uuid);
        else
            en_err_set(err, EN_ALREADY_EXISTS, "model \"%s/%s\" already exists", owner, req->name);
        goto cleanup;
    }
    if (step != SQLITE_DONE) {
        en_err_set(err, EN_INTERNAL, "cannot store model: %s", sqlite3_errmsg(t->db));
        goto cleanup;
    }
    *out = registry_model_by_uuid(call, uuid, err);
    rc = *out ? 0 : -1;
cleanup:
    en_cloud_spec_clear(&spec);
    json_decref(cfg);
    en_credential_destroy(&cred);
    en_cloud_destroy(&cloud);
    return rc;
}

static int
s_open(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res_, en_err_t *err)
{
    const En__OpenRequest *req = (const void *) req_;
    En__OpenResult *res = (void *) res_;
    registry_thread_t *t = T(call);
    // a resend of a committed Open gets its answer even if the cloud or
    // credential it named has changed since
    int found = registry_dedup_lookup(t, call, res_, err);
    if (found)
        return found < 0 ? -1 : 0;
    if (registry_begin(t, err))
        return -1;
    found = registry_dedup_lookup(t, call, res_, err);
    if (found) {
        registry_rollback(t);
        return found < 0 ? -1 : 0;
    }
    if (registry_model_create(call, req, &res->model, err) ||
        registry_dedup_store(t, call, res_, err) || registry_commit(t, err)) {
        registry_rollback(t);
        return -1;
    }
    registry_publish(t, res->model->uuid, EN__MODEL_CHANGED__KIND__CREATED, 1);
    return 0;
}

static int
s_models(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res_, en_err_t *err)
{
    (void) err;
    const En__ModelsRequest *req = (const void *) req_;
    En__ModelsResult *res = (void *) res_;
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(T(call)->db,
                       "SELECT " MODEL_SELECT " FROM models WHERE ?1 = '' OR controller_uuid = ?1 "
                       "ORDER BY owner, name",
                       -1, &st, NULL);
    sqlite3_bind_text(st, 1, req->controller_uuid ? req->controller_uuid : "", -1, SQLITE_STATIC);
    zlist_t *list = zlist_new();
    while (sqlite3_step(st) == SQLITE_ROW)
        zlist_append(list, s_row_model(call->arena, st));
    sqlite3_finalize(st);
    res->models = en_arena_array(call->arena, zlist_size(list) + 1, sizeof(En__Model *));
    for (En__Model *m = zlist_first(list); m; m = zlist_next(list))
        res->models[res->n_models++] = m;
    zlist_destroy(&list);
    return 0;
}

static int
s_model(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res_, en_err_t *err)
{
    const En__ModelRequest *req = (const void *) req_;
    En__ModelResult *res = (void *) res_;
    if (req->key_case == EN__MODEL_REQUEST__KEY_UUID) {
        res->model = registry_model_by_uuid(call, req->uuid, err);
        return res->model ? 0 : -1;
    }
    if (req->key_case != EN__MODEL_REQUEST__KEY_NAME || !req->name || !*req->name)
        return en_err_set(err, EN_NOT_VALID, "a model is named by uuid or name");
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(T(call)->db,
                       "SELECT " MODEL_SELECT " FROM models WHERE name = ?1 "
                       "AND (?2 = '' OR owner = ?2) AND (?3 = '' OR controller_uuid = ?3)",
                       -1, &st, NULL);
    sqlite3_bind_text(st, 1, req->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, req->owner ? req->owner : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, req->controller_uuid ? req->controller_uuid : "", -1,
                      SQLITE_STATIC);
    int rows = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (rows++ == 0)
            res->model = s_row_model(call->arena, st);
    }
    sqlite3_finalize(st);
    if (rows == 0)
        return en_err_set(err, EN_NOT_FOUND, "model \"%s\" not found", req->name);
    if (rows > 1)
        return en_err_set(err, EN_NOT_VALID,
                          "model name \"%s\" is ambiguous: name its owner or controller",
                          req->name);
    return 0;
}

static int
s_validate(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res_, en_err_t *err)
{
    const En__ValidateRequest *req = (const void *) req_;
    En__ValidateResult *res = (void *) res_;
    const en_provider_t *driver = NULL;
    if (registry_provider(T(call), req->provider_type, NULL, &driver, err))
        return -1;
    json_t *cfg = convert_config_from(req->config, err);
    json_t *old = req->old_config ? convert_config_from(req->old_config, err) : NULL;
    int rc = -1;
    if (cfg && (!req->old_config || old) && en_config_validate(driver, cfg, old, err) == 0) {
        res->config = convert_config(call->arena, cfg);
        rc = 0;
    }
    json_decref(cfg);
    json_decref(old);
    return rc;
}

//  SetConfig merges: the attributes given replace the stored ones, an
//  attribute given as null goes back to its default; the result is
//  validated against the old config (immutable keys) and stored.
static int
s_set_config(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res_,
             en_err_t *err)
{
    const En__SetConfigRequest *req = (const void *) req_;
    En__SetConfigResult *res = (void *) res_;
    registry_thread_t *t = T(call);
    json_t *delta = convert_config_from(req->config, err);
    if (!delta)
        return -1;
    int rc = -1;
    json_t *old = NULL, *cfg = NULL;
    if (registry_begin(t, err)) {
        json_decref(delta);
        return -1;
    }
    int found = registry_dedup_lookup(t, call, res_, err);
    if (found) {
        rc = found < 0 ? -1 : 0;
        goto cleanup;
    }
    En__Model *m = registry_model_by_uuid(call, call->model_uuid, err);
    if (!m)
        goto cleanup;
    old = json_loads(m->config->json, 0, NULL);
    cfg = json_deep_copy(old);
    const char *k;
    json_t *v;
    json_object_foreach(delta, k, v)
    {
        if (json_is_null(v))
            json_object_del(cfg, k);
        else
            json_object_set(cfg, k, v);
    }
    const en_provider_t *driver = NULL;
    if (registry_provider(t, m->cloud->type, NULL, &driver, err) ||
        en_config_validate(driver, cfg, old, err))
        goto cleanup;
    char *text = json_dumps(cfg, JSON_COMPACT | JSON_SORT_KEYS);
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(t->db, "UPDATE models SET config = ?, version = version + 1 WHERE uuid = ?",
                       -1, &st, NULL);
    sqlite3_bind_text(st, 1, text, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, call->model_uuid, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    free(text);
    if (step != SQLITE_DONE) {
        en_err_set(err, EN_INTERNAL, "cannot store config: %s", sqlite3_errmsg(t->db));
        goto cleanup;
    }
    res->config = convert_config(call->arena, cfg);
    if (registry_dedup_store(t, call, res_, err) || registry_commit(t, err))
        goto cleanup;
    registry_publish(t, call->model_uuid, EN__MODEL_CHANGED__KIND__UPDATED, m->version + 1);
    rc = 0;
    json_decref(old);
    json_decref(cfg);
    json_decref(delta);
    return 0;
cleanup:
    registry_rollback(t);
    json_decref(old);
    json_decref(cfg);
    json_decref(delta);
    return rc;
}

static int
s_config(en_call_t *call, const ProtobufCMessage *req, ProtobufCMessage *res_, en_err_t *err)
{
    (void) req;
    En__ConfigResult *res = (void *) res_;
    En__Model *m = registry_model_by_uuid(call, call->model_uuid, err);
    if (!m)
        return -1;
    res->config = m->config;
    return 0;
}

static int
s_upgrade_config(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res_,
                 en_err_t *err)
{
    const En__UpgradeConfigRequest *req = (const void *) req_;
    En__UpgradeConfigResult *res = (void *) res_;
    json_t *cfg = convert_config_from(req->config, err);
    if (!cfg)
        return -1;
    int rc = en_config_upgrade(cfg, err);
    if (rc == 0)
        res->config = convert_config(call->arena, cfg);
    json_decref(cfg);
    return rc;
}

static int
s_field_cmp(const void *a, const void *b)
{
    const En__SchemaField *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

static int
s_schema(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res_, en_err_t *err)
{
    const En__SchemaRequest *req = (const void *) req_;
    En__SchemaResult *res = (void *) res_;
    const en_provider_t *driver = NULL;
    if (registry_provider(T(call), req->provider_type, NULL, &driver, err))
        return -1;
    const en_config_field_t *groups[2] = {en_config_common_fields(),
                                          driver ? driver->config_fields : NULL};
    res->fields = en_arena_array(call->arena, 128, sizeof(En__SchemaField *));
    for (int g = 0; g < 2; g++)
        for (const en_config_field_t *f = groups[g]; f && f->name && res->n_fields < 128; f++) {
            En__SchemaField *m = en_arena_alloc(call->arena, sizeof *m);
            en__schema_field__init(m);
            m->name = (char *) f->name;
            m->type = (char *) f->type;
            m->description = (char *) f->description;
            m->default_json = (char *) (f->default_json ? f->default_json : "");
            m->immutable = f->immutable;
            res->fields[res->n_fields++] = m;
        }
    qsort(res->fields, res->n_fields, sizeof(En__SchemaField *), s_field_cmp);
    return 0;
}

static int
s_next_machine_id(en_call_t *call, const ProtobufCMessage *req, ProtobufCMessage *res_,
                  en_err_t *err)
{
    (void) req;
    En__NextMachineIdResult *res = (void *) res_;
    registry_thread_t *t = T(call);
    if (registry_begin(t, err))
        return -1;
    int found = registry_dedup_lookup(t, call, res_, err);
    if (found) {
        registry_rollback(t);
        return found < 0 ? -1 : 0;
    }
    if (!registry_model_by_uuid(call, call->model_uuid, err))
        goto fail;
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(t->db,
                       "INSERT INTO machine_seq VALUES (?1, 1) ON CONFLICT(model_uuid) "
                       "DO UPDATE SET next = next + 1 RETURNING next - 1",
                       -1, &st, NULL);
    sqlite3_bind_text(st, 1, call->model_uuid, -1, SQLITE_STATIC);
    int ok = sqlite3_step(st) == SQLITE_ROW;
    long long id = ok ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    if (!ok) {
        en_err_set(err, EN_INTERNAL, "cannot allocate a machine id: %s", sqlite3_errmsg(t->db));
        goto fail;
    }
    res->id = en_arena_printf(call->arena, "%lld", id);
    if (registry_dedup_store(t, call, res_, err) || registry_commit(t, err))
        goto fail;
    return 0;
fail:
    registry_rollback(t);
    return -1;
}

static int
s_get_model_for_service(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res_,
                        en_err_t *err)
{
    const En__GetModelForServiceRequest *req = (const void *) req_;
    En__GetModelForServiceResult *res = (void *) res_;
    En__Model *m = registry_model_by_uuid(call, req->uuid, err);
    if (!m)
        return -1;
    res->model = m;
    En__CloudSpec *spec = en_arena_alloc(call->arena, sizeof *spec);
    *spec = *m->cloud;
    if (m->credential_name && *m->credential_name) {
        en_cloud_t *cloud = NULL;
        en_clouds_t *personal = en_clouds_load(R(call)->clouds_path, err);
        if (personal)
            cloud = en_cloud_by_name(personal, m->cloud->name, err);
        en_clouds_destroy(&personal);
        if (!cloud)
            return -1;
        en_credential_t *cred = registry_credential_for(R(call), cloud, m->credential_name, err);
        en_cloud_destroy(&cloud);
        if (!cred)
            return -1;
        spec->credential = convert_credential(call->arena, cred);
        en_credential_destroy(&cred);
    }
    res->cloud = spec;
    return 0;
}

//  --------------------------------------------------------------------------
//  MarkModelDying

//  One statement on the model's uuid: 0 when it ran to the end.
static int
s_model_exec(registry_thread_t *t, const char *sql, const char *uuid)
{
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(t->db, sql, -1, &st, NULL);
    sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, en_now_ms());
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    return rc;
}

static int
s_mark_model_dying(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res_,
                   en_err_t *err)
{
    const En__MarkModelDyingRequest *req = (const void *) req_;
    En__MarkModelDyingResult *res = (void *) res_;
    registry_thread_t *t = T(call);
    if (registry_begin(t, err))
        return -1;
    En__Model *m = registry_model_by_uuid(call, req->uuid, err);
    bool marked = m && !m->dying;
    if (marked &&
        (s_model_exec(t, "INSERT INTO dying_models(uuid, at_ms) VALUES (?1, ?2)", m->uuid) ||
         s_model_exec(t, "UPDATE models SET version = version + 1 WHERE uuid = ?1", m->uuid))) {
        en_err_set(err, EN_INTERNAL, "cannot mark model %s dying: %s", m->uuid,
                   sqlite3_errmsg(t->db));
        m = NULL;
    }
    if (!m || registry_commit(t, err)) {
        registry_rollback(t);
        return -1;
    }
    if (marked) {
        m->dying = true;
        m->version++;
        registry_publish(t, m->uuid, EN__MODEL_CHANGED__KIND__UPDATED, m->version);
    }
    res->model = m;
    return 0;
}

#define ROUTE(m, fn) {&en__environ__descriptor, m, fn, 0}
const en_route_t registry_model_routes[] = {
    ROUTE("PrepareConfig", s_prepare_config),
    ROUTE("Open", s_open),
    ROUTE("Models", s_models),
    ROUTE("Model", s_model),
    ROUTE("Validate", s_validate),
    ROUTE("SetConfig", s_set_config),
    ROUTE("Config", s_config),
    ROUTE("UpgradeConfig", s_upgrade_config),
    ROUTE("Schema", s_schema),
    ROUTE("NextMachineId", s_next_machine_id),
    {&en__registry__descriptor, "GetModelForService", s_get_model_for_service, 0},
    {&en__registry__descriptor, "MarkModelDying", s_mark_model_dying, 0},
};
const size_t registry_model_route_count =
    sizeof registry_model_routes / sizeof registry_model_routes[0];
