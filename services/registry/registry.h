/*  registry.h — the registry service: providers, clouds, credentials,
    controllers and models.

    Records live in one SQLite database under $ENVIRONS_HOME (WAL,
    synchronous FULL) that every replica opens; Juju's own files
    (clouds.yaml, credentials.yaml, controllers.yaml) live beside it,
    read and written as-is under a file lock. Each worker thread has its
    own database handle and its own PUB socket for model-change events.

    Mutating calls are exactly-once per request id: the reply of a
    committed change is stored in the same transaction, so a call resent
    after a crash gets the first answer instead of a second effect. */
#ifndef EN_REGISTRY_H
#define EN_REGISTRY_H

#include <czmq.h>
#include <jansson.h>
#include <sqlite3.h>

#include "bus/service.h"
#include "common/cloudfile.h"
#include "common/specproto.h"
#include "environ.pb-c.h"
#include "providers/provider.h"
#include "registry.pb-c.h"

typedef struct {
    char *home;
    char *db_path;
    char *clouds_path;
    char *credentials_path;
    char *controllers_path;
    char *lock_path;
    char *events; // comma-separated publisher endpoints (gateways' events-in)
    en_route_t *routes;
    en_service_def_t def;
} registry_t;

typedef struct {
    registry_t *registry;
    sqlite3 *db;
    zsock_t *pub; // may be NULL (tests without a gateway)
} registry_thread_t;

registry_t *registry_new(const char *home, const char *gateways, en_err_t *err);
void registry_destroy(registry_t **self_p);
const en_service_def_t *registry_service(registry_t *self);

//  Shared helpers (registry.c)
int registry_begin(registry_thread_t *t, en_err_t *err);
int registry_commit(registry_thread_t *t, en_err_t *err);
void registry_rollback(registry_thread_t *t);
//  Exactly-once: 1 and *res filled when this request id already committed.
int registry_dedup_lookup(registry_thread_t *t, en_call_t *call, ProtobufCMessage *res,
                          en_err_t *err);
int registry_dedup_store(registry_thread_t *t, en_call_t *call, const ProtobufCMessage *res,
                         en_err_t *err);
void registry_publish(registry_thread_t *t, const char *uuid, int kind, uint64_t version);
//  flock-held read-modify-write of the YAML files.
int registry_files_lock(registry_t *self, en_err_t *err);
void registry_files_unlock(int fd);
//  Provider by name or alias from the database's provider registry; a
//  built-in driver when one has that name. EN_NOT_FOUND
//  `no registered provider for "x"`.
int registry_provider(registry_thread_t *t, const char *type, char **name,
                      const en_provider_t **driver, en_err_t *err);

//  The credential a cloud uses (clouds.c): by name, else the default, the
//  only one, or the empty credential when the cloud accepts it.
en_credential_t *registry_credential_for(registry_t *r, const en_cloud_t *cloud,
                                         const char *name, en_err_t *err);

//  Models (models.c). A new random (version 4) uuid.
void registry_uuid_new(char out[37]);
//  The stored model, in the call's arena; NOT_FOUND `model "<uuid>" not found`.
En__Model *registry_model_by_uuid(en_call_t *call, const char *uuid, en_err_t *err);
//  Open's work inside the caller's transaction: resolve the cloud, region
//  and credential, prepare and validate the config, insert the row. The
//  caller commits and publishes.
int registry_model_create(en_call_t *call, const En__OpenRequest *req, En__Model **out,
                          en_err_t *err);

//  Conversions (convert.c); results live in the call's arena.
en_cloud_t *convert_cloud_from(const En__Cloud *c, en_err_t *err);
En__Credential *convert_credential(en_arena_t *a, const en_credential_t *c);
En__CloudSpec *convert_spec(en_arena_t *a, const en_cloud_spec_t *s, bool with_credential);
En__ConfigAttrs *convert_config(en_arena_t *a, const json_t *cfg);
//  A config from the wire as a new JSON object ({} when absent; NULL with
//  NOT_VALID when its text is not an object).
json_t *convert_config_from(const En__ConfigAttrs *c, en_err_t *err);
char **convert_strv(en_arena_t *a, char *const *v, size_t n);

//  Route groups
extern const en_route_t registry_provider_routes[];
extern const size_t registry_provider_route_count;
extern const en_route_t registry_cloud_routes[];
extern const size_t registry_cloud_route_count;
extern const en_route_t registry_controller_routes[];
extern const size_t registry_controller_route_count;
extern const en_route_t registry_model_routes[];
extern const size_t registry_model_route_count;

#endif
