/*  store.c — registered data sources in <home>/imagemeta.db.

    One table, shared by every replica through SQLite's WAL: a source's
    position orders the list. Register takes max(position)+1 and
    RegisterUser min(position)-1, inside one BEGIN IMMEDIATE so two
    replicas registering together never share a position; a known id keeps
    its row (and so its position) and only its fields change. Ids are
    unique across kinds, since Unregister names only the id. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/sqlbusy.h"
#include "imagemeta.h"

#define IM_BUSY_MS 10000

static const char s_schema[] = "CREATE TABLE IF NOT EXISTS sources ("
                               " id TEXT PRIMARY KEY,"
                               " kind TEXT NOT NULL,"
                               " position INTEGER NOT NULL,"
                               " description TEXT NOT NULL,"
                               " url TEXT NOT NULL,"
                               " priority INTEGER NOT NULL,"
                               " require_signed INTEGER NOT NULL,"
                               " keyring TEXT NOT NULL)";

static int
s_db_err(sqlite3 *db, en_err_t *err)
{
    return en_err_set(err, EN_INTERNAL, "imagemeta database: %s", sqlite3_errmsg(db));
}

int
im_store_open(const char *home, sqlite3 **db_out, unsigned *seed, en_err_t *err)
{
    char *path = sqlite3_mprintf("%s/imagemeta.db", home);
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(
        path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        en_err_set(err, EN_INTERNAL, "cannot open image metadata database %s: %s", path,
                   db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_free(path);
        sqlite3_close(db);
        return -1;
    }
    sqlite3_free(path);
    sqlite3_busy_timeout(db, IM_BUSY_MS);
    // replicas open the file together: the switch to WAL can say busy
    // without waiting (sqlbusy.h)
    if (en_sqlite_exec_busy(db, "PRAGMA journal_mode=WAL", IM_BUSY_MS, seed) != SQLITE_OK ||
        en_sqlite_exec_busy(db, s_schema, IM_BUSY_MS, seed) != SQLITE_OK) {
        s_db_err(db, err);
        sqlite3_close(db);
        return -1;
    }
    *db_out = db;
    return 0;
}

int
im_url_check(const char *what, const char *url, en_err_t *err)
{
    if (!url || !*url)
        return en_err_set(err, EN_NOT_VALID, "%s: empty URL", what);
    if (strncmp(url, "file://", 7) && strncmp(url, "http://", 7) && strncmp(url, "https://", 8))
        return en_err_set(err, EN_NOT_VALID, "%s: URL \"%s\" is not file://, http:// or https://",
                          what, url);
    return 0;
}

static const char *
s_kind(const char *kind)
{
    if (!kind || !*kind || strcmp(kind, "images") == 0)
        return "images";
    if (strcmp(kind, "agents") == 0)
        return "agents";
    return NULL;
}

int
im_store_register(im_thread_t *t, const En__ImageDataSource *src, bool prepend, en_err_t *err)
{
    if (!src || !src->id || !*src->id)
        return en_err_set(err, EN_NOT_VALID, "image data source: empty id");
    const char *kind = s_kind(src->kind);
    if (!kind)
        return en_err_set(err, EN_NOT_VALID,
                          "image data source \"%s\": kind \"%s\" is not \"images\" or \"agents\"",
                          src->id, src->kind);
    char what[160];
    snprintf(what, sizeof what, "image data source \"%.100s\"", src->id);
    if (im_url_check(what, src->url, err))
        return -1;
    sqlite3 *db = t->db;
    if (en_sqlite_exec_busy(db, "BEGIN IMMEDIATE", IM_BUSY_MS, &t->seed) != SQLITE_OK)
        return s_db_err(db, err);
    // a known id is updated in place; a new one goes after the last (or
    // before the first) source of any kind
    const char *sql =
        prepend ? "INSERT INTO sources VALUES (?1, ?2,"
                  " (SELECT IFNULL(MIN(position), 0) - 1 FROM sources), ?3, ?4, ?5, ?6, ?7)"
                  " ON CONFLICT(id) DO UPDATE SET kind = ?2, description = ?3, url = ?4,"
                  " priority = ?5, require_signed = ?6, keyring = ?7"
                : "INSERT INTO sources VALUES (?1, ?2,"
                  " (SELECT IFNULL(MAX(position), 0) + 1 FROM sources), ?3, ?4, ?5, ?6, ?7)"
                  " ON CONFLICT(id) DO UPDATE SET kind = ?2, description = ?3, url = ?4,"
                  " priority = ?5, require_signed = ?6, keyring = ?7";
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, src->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, src->description && *src->description ? src->description : src->id,
                          -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, src->url, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 5, src->priority);
        sqlite3_bind_int(st, 6, src->require_signed);
        sqlite3_bind_text(st, 7, src->keyring_armored ? src->keyring_armored : "", -1,
                          SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK) {
        s_db_err(db, err);
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    if (en_sqlite_exec_busy(db, "COMMIT", IM_BUSY_MS, &t->seed) != SQLITE_OK) {
        s_db_err(db, err);
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

int
im_store_unregister(im_thread_t *t, const char *id, en_err_t *err)
{
    // an unknown id is not an error (Juju's UnregisterImageDataSourceFunc
    // is silent too)
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(t->db, "DELETE FROM sources WHERE id = ?1", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, id ? id : "", -1, SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? 0 : s_db_err(t->db, err);
}

static const char *
s_col(en_arena_t *a, sqlite3_stmt *st, int i)
{
    const unsigned char *v = sqlite3_column_text(st, i);
    return en_arena_strdup(a, v ? (const char *)v : "");
}

int
im_store_list(im_thread_t *t, en_arena_t *a, const char *kind, im_source_t **out, size_t *count,
              en_err_t *err)
{
    sqlite3_stmt *st = NULL;
    *out = NULL;
    *count = 0;
    if (sqlite3_prepare_v2(t->db,
                           "SELECT id, description, url, priority, require_signed, keyring, kind"
                           " FROM sources WHERE kind = ?1 ORDER BY position",
                           -1, &st, NULL) != SQLITE_OK)
        return s_db_err(t->db, err);
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    size_t cap = 0, n = 0;
    im_source_t *v = NULL;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            im_source_t *nv = en_arena_array(a, ncap, sizeof *nv);
            if (n)
                memcpy(nv, v, n * sizeof *v);
            v = nv;
            cap = ncap;
        }
        v[n++] = (im_source_t){
            .id = s_col(a, st, 0),
            .description = s_col(a, st, 1),
            .url = s_col(a, st, 2),
            .priority = sqlite3_column_int(st, 3),
            .require_signed = sqlite3_column_int(st, 4) != 0,
            .keyring = s_col(a, st, 5),
            .kind = s_col(a, st, 6),
        };
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return s_db_err(t->db, err);
    *out = v;
    *count = n;
    return 0;
}
