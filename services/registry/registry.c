/*  registry.c — the registry's database, exactly-once store, events and
    route table (handlers live in providers.c, clouds.c, models.c). */
#include "registry.h"

#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bus/envelope.h"
#include "bus/events.h"
#include "common/log.h"
#include "common/paths.h"
#include "common/sqlbusy.h"

//  How long a statement waits for another connection's lock.
#define EN_REGISTRY_BUSY_MS 10000

static const char *s_schema =
    "CREATE TABLE IF NOT EXISTS provider_names ("
    "  name TEXT PRIMARY KEY, provider TEXT NOT NULL, is_alias INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS providers ("
    "  name TEXT PRIMARY KEY, auth_types TEXT NOT NULL DEFAULT '[]',"
    "  builtin INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS models ("
    "  uuid TEXT PRIMARY KEY, name TEXT NOT NULL, owner TEXT NOT NULL,"
    "  controller_uuid TEXT NOT NULL, cloud TEXT NOT NULL, region TEXT NOT NULL,"
    "  credential TEXT NOT NULL, type TEXT NOT NULL, spec TEXT NOT NULL, config TEXT NOT NULL,"
    "  version INTEGER NOT NULL, created_ms INTEGER NOT NULL,"
    "  UNIQUE (controller_uuid, owner, name));"
    // a model being destroyed (MarkModelDying): for good, until its row goes
    "CREATE TABLE IF NOT EXISTS dying_models ("
    "  uuid TEXT PRIMARY KEY, at_ms INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS machine_seq ("
    "  model_uuid TEXT PRIMARY KEY, next INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS controllers ("
    "  name TEXT PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, model_uuid TEXT NOT NULL,"
    "  cloud TEXT NOT NULL, region TEXT NOT NULL, credential TEXT NOT NULL,"
    "  ca_cert TEXT NOT NULL, ca_key TEXT NOT NULL, created_ms INTEGER NOT NULL);"
    // one composed public call reaches the registry with one request id
    // for several methods (Bootstrap: PrepareController, then SetConfig):
    // a reply is kept per id and method. (`requests`, keyed by id alone,
    // was the first form.)
    "DROP TABLE IF EXISTS requests;"
    "CREATE TABLE IF NOT EXISTS replies ("
    "  request_id TEXT NOT NULL, method TEXT NOT NULL, reply BLOB NOT NULL,"
    "  at_ms INTEGER NOT NULL, PRIMARY KEY (request_id, method));";

static int
s_exec(sqlite3 *db, const char *sql, en_err_t *err)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        en_err_set(err, EN_INTERNAL, "registry database: %s", msg ? msg : "error");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int
s_exec_busy(sqlite3 *db, const char *sql, unsigned *seed, en_err_t *err)
{
    if (en_sqlite_exec_busy(db, sql, EN_REGISTRY_BUSY_MS, seed) != SQLITE_OK)
        return en_err_set(err, EN_INTERNAL, "registry database: %s", sqlite3_errmsg(db));
    return 0;
}

static sqlite3 *
s_db_open(registry_t *self, en_err_t *err)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(self->db_path, &db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        en_err_set(err, EN_INTERNAL, "cannot open registry database %s: %s", self->db_path,
                   db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, EN_REGISTRY_BUSY_MS);
    // replicas (and each one's threads) open the file together: the first
    // switch to WAL, and recovery, can say busy without waiting (sqlbusy.h)
    unsigned seed = (unsigned) getpid() ^ (unsigned) (uintptr_t) db;
    if (s_exec_busy(db, "PRAGMA journal_mode=WAL", &seed, err) ||
        s_exec(db, "PRAGMA synchronous=FULL", err) ||
        s_exec_busy(db, "BEGIN IMMEDIATE", &seed, err)) {
        sqlite3_close(db);
        return NULL;
    }
    int rc = s_exec(db, s_schema, err);
    // built-in providers are registered at start (Juju registers its
    // providers in init()); INSERT OR IGNORE keeps replicas idempotent
    for (const en_provider_t *const *p = en_providers_builtin(); rc == 0 && *p; p++) {
        char *sql = sqlite3_mprintf(
            "INSERT OR IGNORE INTO providers(name, builtin) VALUES (%Q, 1);"
            "INSERT OR IGNORE INTO provider_names VALUES (%Q, %Q, 0);",
            (*p)->name, (*p)->name, (*p)->name);
        rc = s_exec(db, sql, err);
        sqlite3_free(sql);
    }
    if (rc || s_exec(db, "COMMIT", err)) {
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

int
registry_begin(registry_thread_t *t, en_err_t *err)
{
    return s_exec(t->db, "BEGIN IMMEDIATE", err);
}

int
registry_commit(registry_thread_t *t, en_err_t *err)
{
    return s_exec(t->db, "COMMIT", err);
}

void
registry_rollback(registry_thread_t *t)
{
    sqlite3_exec(t->db, "ROLLBACK", NULL, NULL, NULL);
}

int
registry_dedup_lookup(registry_thread_t *t, en_call_t *call, ProtobufCMessage *res,
                      en_err_t *err)
{
    if (!call->request_id || !*call->request_id)
        return 0;
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(t->db, "SELECT reply FROM replies WHERE request_id = ? AND method = ?",
                       -1, &st, NULL);
    sqlite3_bind_text(st, 1, call->request_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, call->method, -1, SQLITE_STATIC);
    int found = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        ProtobufCMessage *m = en_call_unpack(call, res->descriptor,
                                             (size_t) sqlite3_column_bytes(st, 0),
                                             sqlite3_column_blob(st, 0));
        if (!m)
            found = en_err_set(err, EN_INTERNAL, "stored reply for %s does not decode",
                               call->request_id);
        else {
            memcpy(res, m, res->descriptor->sizeof_message);
            found = 1;
            en_log(EN_LOG_INFO, call->request_id, "%s: resent call answered from the record",
                   call->method);
        }
    }
    sqlite3_finalize(st);
    return found;
}

int
registry_dedup_store(registry_thread_t *t, en_call_t *call, const ProtobufCMessage *res,
                     en_err_t *err)
{
    if (!call->request_id || !*call->request_id)
        return 0;
    size_t size = protobuf_c_message_get_packed_size(res);
    uint8_t *buf = en_arena_alloc(call->arena, size ? size : 1);
    protobuf_c_message_pack(res, buf);
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(t->db, "INSERT OR REPLACE INTO replies VALUES (?, ?, ?, ?)", -1, &st,
                       NULL);
    sqlite3_bind_text(st, 1, call->request_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, call->method, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, buf, (int) size, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, en_now_ms());
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    // keep the record bounded: a day is far longer than any resend
    sqlite3_exec(t->db, "DELETE FROM replies WHERE at_ms < strftime('%s','now')*1000 - 86400000",
                 NULL, NULL, NULL);
    return rc ? en_err_set(err, EN_INTERNAL, "cannot record request: %s", sqlite3_errmsg(t->db))
              : 0;
}

void
registry_publish(registry_thread_t *t, const char *uuid, int kind, uint64_t version)
{
    if (!t->pub)
        return;
    En__ModelChanged ev = EN__MODEL_CHANGED__INIT;
    ev.uuid = (char *) uuid;
    ev.kind = kind;
    ev.version = version;
    zframe_t *body = en_frame_pack(&ev.base);
    zmsg_t *msg = zmsg_new();
    zmsg_addstrf(msg, "model.%s", uuid);
    zmsg_append(msg, &body);
    if (zmsg_send(&msg, t->pub))
        zmsg_destroy(&msg);
}

int
registry_files_lock(registry_t *self, en_err_t *err)
{
    int fd = open(self->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || flock(fd, LOCK_EX) != 0) {
        if (fd >= 0)
            close(fd);
        return en_err_set(err, EN_INTERNAL, "cannot lock %s", self->lock_path);
    }
    return fd;
}

void
registry_files_unlock(int fd)
{
    if (fd >= 0) {
        flock(fd, LOCK_UN);
        close(fd);
    }
}

int
registry_provider(registry_thread_t *t, const char *type, char **name,
                  const en_provider_t **driver, en_err_t *err)
{
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(t->db, "SELECT provider FROM provider_names WHERE name = ?", -1, &st,
                       NULL);
    sqlite3_bind_text(st, 1, type ? type : "", -1, SQLITE_STATIC);
    int rc = -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *p = (const char *) sqlite3_column_text(st, 0);
        if (name)
            *name = strdup(p);
        if (driver)
            *driver = en_provider_builtin(p);
        rc = 0;
    }
    else
        en_err_set(err, EN_NOT_FOUND, "no registered provider for \"%s\"", type ? type : "");
    sqlite3_finalize(st);
    return rc;
}

//  --------------------------------------------------------------------------

static void *
s_thread_init(void *service, en_err_t *err)
{
    registry_t *self = service;
    registry_thread_t *t = calloc(1, sizeof *t);
    t->registry = self;
    t->db = s_db_open(self, err);
    if (!t->db) {
        free(t);
        return NULL;
    }
    if (self->events && *self->events) {
        t->pub = zsock_new(ZMQ_PUB);
        zsock_set_linger(t->pub, 1000);
        // model events published before the connection is up are lost:
        // retry it soon, not after libzmq's default 100 ms
        zsock_set_reconnect_ivl(t->pub, 10);
        zsock_set_reconnect_ivl_max(t->pub, 1000);
        char *eps = strdup(self->events), *save = NULL;
        for (char *ep = strtok_r(eps, ",", &save); ep; ep = strtok_r(NULL, ",", &save))
            zsock_connect(t->pub, "%s", ep);
        free(eps);
    }
    return t;
}

static void
s_thread_fini(void *service, void *state)
{
    (void) service;
    registry_thread_t *t = state;
    sqlite3_close(t->db);
    zsock_destroy(&t->pub);
    free(t);
}

registry_t *
registry_new(const char *home, const char *gateways, en_err_t *err)
{
    if (!home || !*home) {
        en_err_set(err, EN_NOT_VALID, "the registry needs a state directory (--home)");
        return NULL;
    }
    if (en_mkdirs(home, 0700) != 0) {
        en_err_set(err, EN_INTERNAL, "cannot create %s: %s", home, strerror(errno));
        return NULL;
    }
    registry_t *self = calloc(1, sizeof *self);
    self->home = strdup(home);
    if (asprintf(&self->db_path, "%s/registry.db", home) < 0 ||
        asprintf(&self->clouds_path, "%s/clouds.yaml", home) < 0 ||
        asprintf(&self->credentials_path, "%s/credentials.yaml", home) < 0 ||
        asprintf(&self->controllers_path, "%s/controllers.yaml", home) < 0 ||
        asprintf(&self->lock_path, "%s/.files.lock", home) < 0)
        abort();
    // events go to every gateway's event proxy
    if (gateways && *gateways)
        self->events = en_event_endpoint_list(gateways, true);
    // first open creates the schema and registers the built-ins
    sqlite3 *db = s_db_open(self, err);
    if (!db) {
        registry_destroy(&self);
        return NULL;
    }
    sqlite3_close(db);
    const en_route_group_t groups[] = {
        {registry_provider_routes, registry_provider_route_count},
        {registry_cloud_routes, registry_cloud_route_count},
        {registry_model_routes, registry_model_route_count},
        {registry_controller_routes, registry_controller_route_count},
    };
    size_t n;
    self->routes = en_routes_join(groups, sizeof groups / sizeof groups[0], &n);
    self->def = (en_service_def_t){
        .name = "registry",
        .routes = self->routes,
        .route_count = n,
        .service = self,
        .thread_init = s_thread_init,
        .thread_fini = s_thread_fini,
    };
    return self;
}

void
registry_destroy(registry_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    registry_t *self = *self_p;
    free(self->home);
    free(self->db_path);
    free(self->clouds_path);
    free(self->credentials_path);
    free(self->controllers_path);
    free(self->lock_path);
    free(self->events);
    free(self->routes);
    free(self);
    *self_p = NULL;
}

const en_service_def_t *
registry_service(registry_t *self)
{
    return &self->def;
}
