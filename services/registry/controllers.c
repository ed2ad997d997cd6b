/*  controllers.c — controllers: bootstrap.Prepare's record keeping
    (PrepareController), the controller store (controllers.yaml: list,
    show, update after bootstrap, remove) and the lookup that lets a
    service destroy a controller from its cloud tags alone
    (GetControllerForService).

    Two records. controllers.yaml is Juju's client store and the authority
    on which controller names exist; the database keeps what the file has
    no field for: the controller model's uuid, the credential name and the
    CA key, which never leaves the registry.

    Order of writes in PrepareController: the database first (model,
    controller row and the exactly-once reply in one transaction), then the
    file, all under the file lock. A crash between the two leaves a
    committed reply and no file entry: the resend finds the reply and writes
    the entry from the row before answering, so the end state is the same
    as without the crash. */
#include <stdlib.h>
#include <string.h>

#include "common/cert.h"
#include "common/clock.h"
#include "registry.h"

#define T(call) ((registry_thread_t *) (call)->state)
#define R(call) (T(call)->registry)

//  The database's row of a controller.
typedef struct {
    char *name, *uuid, *model_uuid, *cloud, *region, *credential, *ca_cert;
} s_row_t;

static void
s_row_clear(s_row_t *r)
{
    free(r->name);
    free(r->uuid);
    free(r->model_uuid);
    free(r->cloud);
    free(r->region);
    free(r->credential);
    free(r->ca_cert);
    memset(r, 0, sizeof *r);
}

static char *
s_col(sqlite3_stmt *st, int i)
{
    const unsigned char *v = sqlite3_column_text(st, i);
    return strdup(v ? (const char *) v : "");
}

//  1 and *row filled when found by name (or uuid), 0 when not.
static int
s_row_get(registry_thread_t *t, const char *name, const char *uuid, s_row_t *row)
{
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(t->db,
                       "SELECT name, uuid, model_uuid, cloud, region, credential, ca_cert "
                       "FROM controllers WHERE name = ?1 OR uuid = ?2",
                       -1, &st, NULL);
    sqlite3_bind_text(st, 1, name ? name : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, uuid ? uuid : "", -1, SQLITE_STATIC);
    int found = 0;
    memset(row, 0, sizeof *row);
    if (sqlite3_step(st) == SQLITE_ROW) {
        char **f[] = {&row->name,   &row->uuid,       &row->model_uuid, &row->cloud,
                      &row->region, &row->credential, &row->ca_cert};
        for (int i = 0; i < 7; i++)
            *f[i] = s_col(st, i);
        found = 1;
    }
    sqlite3_finalize(st);
    return found;
}

static void
s_set(char **field, const char *value)
{
    free(*field);
    *field = strdup(value ? value : "");
}

static En__ControllerDetails *
s_details(en_call_t *call, const en_controller_t *c)
{
    en_arena_t *a = call->arena;
    En__ControllerDetails *m = en_arena_alloc(a, sizeof *m);
    en__controller_details__init(m);
    m->name = en_arena_strdup(a, c->name);
    m->uuid = en_arena_strdup(a, c->uuid ? c->uuid : "");
    m->cloud = en_arena_strdup(a, c->cloud ? c->cloud : "");
    m->region = en_arena_strdup(a, c->region ? c->region : "");
    m->ca_cert = en_arena_strdup(a, c->ca_cert ? c->ca_cert : "");
    m->n_api_endpoints = c->api_endpoint_count;
    m->api_endpoints = convert_strv(a, c->api_endpoints, c->api_endpoint_count);
    s_row_t row;
    m->model_uuid = en_arena_strdup(a, "");
    if (s_row_get(T(call), NULL, c->uuid, &row) && strcmp(row.name, c->name) == 0)
        m->model_uuid = en_arena_strdup(a, row.model_uuid);
    s_row_clear(&row);
    return m;
}

//  The controllers.yaml entry made from a database row.
static en_controller_t *
s_entry_from_row(const s_row_t *row, const char *type)
{
    en_controller_t *c = en_controller_new(row->name);
    s_set(&c->uuid, row->uuid);
    s_set(&c->ca_cert, row->ca_cert);
    s_set(&c->cloud, row->cloud);
    s_set(&c->region, row->region);
    s_set(&c->type, type);
    return c;
}

//  Make sure controllers.yaml holds the row's controller (the file lock is
//  held by the caller).
static int
s_file_ensure(en_call_t *call, const s_row_t *row, const char *type, en_err_t *err)
{
    en_controllers_t *all = en_controllers_load(R(call)->controllers_path, err);
    if (!all)
        return -1;
    int rc = 0;
    if (!en_controllers_find(all, row->name)) {
        en_controller_t *c = s_entry_from_row(row, type);
        rc = en_controllers_add(all, &c, err);
        en_controller_destroy(&c);
        if (rc == 0)
            rc = en_controllers_save(all, R(call)->controllers_path, err);
    }
    en_controllers_destroy(&all);
    return rc;
}

//  --------------------------------------------------------------------------

static int
s_prepare_controller(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res_,
                     en_err_t *err)
{
    const En__PrepareControllerRequest *req = (const void *) req_;
    En__PrepareControllerResult *res = (void *) res_;
    registry_thread_t *t = T(call);
    // bootstrap.Prepare's validation order (statement 8)
    if (!req->controller_name || !*req->controller_name)
        return en_err_set(err, EN_NOT_VALID, "empty controller name not valid");
    if (!req->cloud_name || !*req->cloud_name)
        return en_err_set(err, EN_NOT_VALID, "empty cloud name not valid");
    int fd = registry_files_lock(R(call), err);
    if (fd < 0)
        return -1;
    int rc = -1;
    bool in_tx = false;
    char *cert = NULL, *key = NULL;
    en_controllers_t *all = NULL;
    s_row_t row = {0};

    int found = registry_dedup_lookup(t, call, res_, err);
    if (found < 0)
        goto cleanup;
    if (found) {
        // answered before: finish the file write a crash may have cut off
        if (s_row_get(t, req->controller_name, NULL, &row) &&
            s_file_ensure(call, &row, res->model->cloud->type, err))
            goto cleanup;
        rc = 0;
        goto cleanup;
    }
    all = en_controllers_load(R(call)->controllers_path, err);
    if (!all)
        goto cleanup;
    if (en_controllers_find(all, req->controller_name)) {
        // statement 9: the only "bootstrap twice" error; nothing is written
        en_err_set(err, EN_ALREADY_EXISTS, "controller \"%s\" already exists",
                   req->controller_name);
        goto cleanup;
    }
    char uuid[37];
    registry_uuid_new(uuid);
    if (en_ca_generate(req->controller_name, uuid, &cert, &key, err))
        goto cleanup;
    if (registry_begin(t, err))
        goto cleanup;
    in_tx = true;
    En__OpenRequest open = EN__OPEN_REQUEST__INIT;
    open.name = "controller";
    open.owner = "admin";
    open.cloud_name = req->cloud_name;
    open.region_name = req->region_name;
    open.credential_name = req->credential_name;
    open.config = req->config;
    open.controller_uuid = uuid;
    if (registry_model_create(call, &open, &res->model, err))
        goto cleanup;
    // a row left by a controller whose file entry was removed by hand is
    // stale: the file decides which names exist
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(t->db, "DELETE FROM controllers WHERE name = ?", -1, &st, NULL);
    sqlite3_bind_text(st, 1, req->controller_name, -1, SQLITE_STATIC);
    sqlite3_step(st);
    sqlite3_finalize(st);
    sqlite3_prepare_v2(t->db,
                       "INSERT INTO controllers(name, uuid, model_uuid, cloud, region, credential, "
                       "ca_cert, ca_key, created_ms) VALUES (?,?,?,?,?,?,?,?,?)",
                       -1, &st, NULL);
    const En__Model *m = res->model;
    const char *vals[] = {req->controller_name, uuid, m->uuid, m->cloud->name, m->cloud->region,
                          m->credential_name, cert, key};
    for (int i = 0; i < 8; i++)
        sqlite3_bind_text(st, i + 1, vals[i], -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 9, en_now_ms());
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    if (step != SQLITE_DONE) {
        en_err_set(err, EN_INTERNAL, "cannot store controller: %s", sqlite3_errmsg(t->db));
        goto cleanup;
    }
    row = (s_row_t){strdup(req->controller_name), strdup(uuid),          strdup(m->uuid),
                    strdup(m->cloud->name),       strdup(m->cloud->region), strdup(m->credential_name),
                    strdup(cert)};
    en_controller_t *entry = s_entry_from_row(&row, m->cloud->type);
    res->controller = s_details(call, entry);
    res->controller->model_uuid = en_arena_strdup(call->arena, m->uuid);
    en_controller_destroy(&entry);
    if (registry_dedup_store(t, call, res_, err) || registry_commit(t, err))
        goto cleanup;
    in_tx = false;
    registry_publish(t, m->uuid, EN__MODEL_CHANGED__KIND__CREATED, 1);
    rc = s_file_ensure(call, &row, m->cloud->type, err);
cleanup:
    if (in_tx)
        registry_rollback(t);
    s_row_clear(&row);
    en_controllers_destroy(&all);
    free(cert);
    if (key) {
        memset(key, 0, strlen(key));
        free(key);
    }
    registry_files_unlock(fd);
    return rc;
}

static int
s_update_controller(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res_,
                    en_err_t *err)
{
    const En__UpdateControllerRequest *req = (const void *) req_;
    (void) res_;
    int fd = registry_files_lock(R(call), err);
    if (fd < 0)
        return -1;
    int rc = -1;
    en_controllers_t *all = en_controllers_load(R(call)->controllers_path, err);
    if (!all)
        goto cleanup;
    en_controller_t *c = en_controllers_find(all, req->controller_name ? req->controller_name : "");
    if (!c) {
        en_err_set(err, EN_NOT_FOUND, "controller %s not found", req->controller_name);
        goto cleanup;
    }
    while (c->api_endpoint_count)
        free(c->api_endpoints[--c->api_endpoint_count]);
    for (size_t i = 0; i < req->n_api_endpoints; i++)
        if (en_controller_add_api_endpoint(c, req->api_endpoints[i]))
            abort();
    c->controller_machine_count = req->n_api_endpoints ? 1 : 0;
    rc = en_controllers_save(all, R(call)->controllers_path, err);
cleanup:
    en_controllers_destroy(&all);
    registry_files_unlock(fd);
    return rc;
}

static int
s_remove_controller(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res_,
                    en_err_t *err)
{
    const En__RemoveControllerRequest *req = (const void *) req_;
    En__RemoveControllerResult *res = (void *) res_;
    registry_thread_t *t = T(call);
    const char *name = req->controller_name ? req->controller_name : "";
    int fd = registry_files_lock(R(call), err);
    if (fd < 0)
        return -1;
    int rc = -1;
    char *uuid = NULL;
    char **models = NULL;
    size_t nmodels = 0;
    en_controllers_t *all = en_controllers_load(R(call)->controllers_path, err);
    if (!all)
        goto cleanup;
    en_controller_t *c = en_controllers_find(all, name);
    if (c) {
        uuid = strdup(c->uuid ? c->uuid : "");
        en_controllers_remove(all, name);
        if (en_controllers_save(all, R(call)->controllers_path, err))
            goto cleanup;
        res->removed = true;
    }
    s_row_t row;
    if (s_row_get(t, name, NULL, &row)) {
        if (!uuid || !*uuid) {
            free(uuid);
            uuid = strdup(row.uuid);
        }
        res->removed = true;
    }
    s_row_clear(&row);
    if (!uuid || !*uuid) {
        rc = 0;
        goto cleanup;
    }
    // the controller's models go with it; services drop their copies
    if (registry_begin(t, err))
        goto cleanup;
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(t->db, "SELECT uuid FROM models WHERE controller_uuid = ?", -1, &st, NULL);
    sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        models = realloc(models, (nmodels + 1) * sizeof *models);
        models[nmodels++] = s_col(st, 0);
    }
    sqlite3_finalize(st);
    const char *sql[] = {
        "DELETE FROM machine_seq WHERE model_uuid IN "
        "(SELECT uuid FROM models WHERE controller_uuid = ?1)",
        "DELETE FROM dying_models WHERE uuid IN "
        "(SELECT uuid FROM models WHERE controller_uuid = ?1)",
        "DELETE FROM models WHERE controller_uuid = ?1",
        "DELETE FROM controllers WHERE uuid = ?1 OR name = ?2",
    };
    for (size_t i = 0; i < sizeof sql / sizeof sql[0]; i++) {
        sqlite3_prepare_v2(t->db, sql[i], -1, &st, NULL);
        sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
        if (sqlite3_bind_parameter_count(st) > 1)
            sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        int step = sqlite3_step(st);
        sqlite3_finalize(st);
        if (step != SQLITE_DONE) {
            en_err_set(err, EN_INTERNAL, "cannot remove controller: %s", sqlite3_errmsg(t->db));
            registry_rollback(t);
            goto cleanup;
        }
    }
    if (registry_commit(t, err)) {
        registry_rollback(t);
        goto cleanup;
    }
    for (size_t i = 0; i < nmodels; i++)
        registry_publish(t, models[i], EN__MODEL_CHANGED__KIND__REMOVED, 0);
    rc = 0;
cleanup:
    for (size_t i = 0; i < nmodels; i++)
        free(models[i]);
    free(models);
    free(uuid);
    en_controllers_destroy(&all);
    registry_files_unlock(fd);
    return rc;
}

static int
s_get_controller_for_service(en_call_t *call, const ProtobufCMessage *req_,
                             ProtobufCMessage *res_, en_err_t *err)
{
    const En__GetControllerForServiceRequest *req = (const void *) req_;
    En__GetControllerForServiceResult *res = (void *) res_;
    const char *name = req->key_case == EN__GET_CONTROLLER_FOR_SERVICE_REQUEST__KEY_NAME
                           ? req->name
                           : NULL;
    const char *uuid = req->key_case == EN__GET_CONTROLLER_FOR_SERVICE_REQUEST__KEY_UUID
                           ? req->uuid
                           : NULL;
    en_controllers_t *all = en_controllers_load(R(call)->controllers_path, err);
    if (!all)
        return -1;
    int rc = -1;
    en_cloud_t *cloud = NULL;
    en_credential_t *cred = NULL;
    en_cloud_spec_t spec = {0};
    s_row_t row = {0};
    en_controller_t *c = NULL;
    for (size_t i = 0; i < all->count && !c; i++)
        if ((name && strcmp(all->items[i]->name, name) == 0) ||
            (uuid && *uuid && all->items[i]->uuid && strcmp(all->items[i]->uuid, uuid) == 0))
            c = all->items[i];
    bool have_row = s_row_get(T(call), name, uuid, &row);
    en_controller_t *from_row = NULL;
    if (!c && have_row)
        c = from_row = s_entry_from_row(&row, "");
    if (!c) {
        en_err_set(err, EN_NOT_FOUND, "controller %s not found", name ? name : uuid ? uuid : "");
        goto cleanup;
    }
    res->controller = s_details(call, c);
    if (have_row && !*res->controller->model_uuid)
        res->controller->model_uuid = en_arena_strdup(call->arena, row.model_uuid);
    en_clouds_t *personal = en_clouds_load(R(call)->clouds_path, err);
    if (personal)
        cloud = en_cloud_by_name(personal, c->cloud, err);
    en_clouds_destroy(&personal);
    if (!cloud)
        goto cleanup;
    const char *credential = have_row && *row.credential ? row.credential : NULL;
    cred = registry_credential_for(R(call), cloud, credential, err);
    if (!cred || en_make_cloud_spec(cloud, cloud->name, c->region, cred, &spec, err))
        goto cleanup;
    res->cloud = convert_spec(call->arena, &spec, true);
    res->credential_name = en_arena_strdup(call->arena, cred->name ? cred->name : "");
    rc = 0;
cleanup:
    en_controller_destroy(&from_row);
    s_row_clear(&row);
    en_cloud_spec_clear(&spec);
    en_credential_destroy(&cred);
    en_cloud_destroy(&cloud);
    en_controllers_destroy(&all);
    return rc;
}

static int
s_controllers(en_call_t *call, const ProtobufCMessage *req, ProtobufCMessage *res_,
              en_err_t *err)
{
    (void) req;
    En__ControllersResult *res = (void *) res_;
    en_controllers_t *all = en_controllers_load(R(call)->controllers_path, err);
    if (!all)
        return -1;
    res->controllers = en_arena_array(call->arena, all->count + 1, sizeof(void *));
    for (size_t i = 0; i < all->count; i++)
        res->controllers[res->n_controllers++] = s_details(call, all->items[i]);
    en_controllers_destroy(&all);
    return 0;
}

static int
s_controller_get(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res_,
                 en_err_t *err)
{
    const En__ControllerRequest *req = (const void *) req_;
    En__ControllerResult *res = (void *) res_;
    en_controllers_t *all = en_controllers_load(R(call)->controllers_path, err);
    if (!all)
        return -1;
    en_controller_t *c = en_controllers_find(all, req->name ? req->name : "");
    if (c)
        res->controller = s_details(call, c);
    en_controllers_destroy(&all);
    if (!res->controller)
        return en_err_set(err, EN_NOT_FOUND, "controller %s not found", req->name);
    return 0;
}

#define ROUTE(m, fn) {&en__environ__descriptor, m, fn, 0}
#define INTERNAL(m, fn) {&en__registry__descriptor, m, fn, 0}
#define INTERNAL_SECRETS(m, fn) {&en__registry__descriptor, m, fn, EN_ROUTE_SECRETS}
const en_route_t registry_controller_routes[] = {
    ROUTE("Controllers", s_controllers),
    ROUTE("Controller", s_controller_get),
    INTERNAL("PrepareController", s_prepare_controller),
    INTERNAL("UpdateController", s_update_controller),
    INTERNAL("RemoveController", s_remove_controller),
    INTERNAL_SECRETS("GetControllerForService", s_get_controller_for_service),
};
const size_t registry_controller_route_count =
    sizeof registry_controller_routes / sizeof registry_controller_routes[0];
