/*  providers.c — the provider registry (Juju's ProviderRegistry) and the
    per-provider credential and region concerns.

    Names and aliases share one table keyed by name, so "a name or alias
    registered twice" is a primary-key question answered inside one
    transaction, across every replica. */
#include <string.h>

#include "registry.h"

#define T(call) ((registry_thread_t *) (call)->state)

static int
s_name_taken(registry_thread_t *t, const char *name)
{
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(t->db, "SELECT 1 FROM provider_names WHERE name = ?", -1, &st, NULL);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int taken = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return taken;
}

static int
s_register_provider(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res,
                    en_err_t *err)
{
    const En__RegisterProviderRequest *req = (const void *) req_;
    registry_thread_t *t = T(call);
    if (!req->name || !*req->name)
        return en_err_set(err, EN_NOT_VALID, "empty provider name not valid");
    if (registry_begin(t, err))
        return -1;
    int found = registry_dedup_lookup(t, call, res, err);
    if (found) {
        registry_rollback(t);
        return found < 0 ? -1 : 0;
    }
    // Juju's order: the name first, then each alias (statement 1)
    if (s_name_taken(t, req->name)) {
        en_err_set(err, EN_ALREADY_EXISTS, "duplicate provider name \"%s\"", req->name);
        goto fail;
    }
    for (size_t i = 0; i < req->n_aliases; i++) {
        const char *alias = req->aliases[i];
        // "" is how proto3 says "no provider": owning it would capture
        // every call that names none
        if (!*alias) {
            en_err_set(err, EN_NOT_VALID, "empty provider alias not valid");
            goto fail;
        }
        bool repeated = strcmp(alias, req->name) == 0;
        for (size_t j = 0; j < i; j++)
            repeated |= strcmp(alias, req->aliases[j]) == 0;
        if (repeated || s_name_taken(t, alias)) {
            en_err_set(err, EN_ALREADY_EXISTS, "duplicate provider alias \"%s\"", alias);
            goto fail;
        }
    }
    json_t *auth = json_array();
    for (size_t i = 0; i < req->n_auth_types; i++)
        json_array_append_new(auth, json_string(req->auth_types[i]));
    char *auth_text = json_dumps(auth, JSON_COMPACT);
    json_decref(auth);
    char *sql = sqlite3_mprintf("INSERT INTO providers(name, auth_types) VALUES (%Q, %Q);"
                                "INSERT INTO provider_names VALUES (%Q, %Q, 0);",
                                req->name, auth_text, req->name, req->name);
    free(auth_text);
    int rc = sqlite3_exec(t->db, sql, NULL, NULL, NULL);
    sqlite3_free(sql);
    for (size_t i = 0; rc == SQLITE_OK && i < req->n_aliases; i++) {
        sql = sqlite3_mprintf("INSERT INTO provider_names VALUES (%Q, %Q, 1)", req->aliases[i],
                              req->name);
        rc = sqlite3_exec(t->db, sql, NULL, NULL, NULL);
        sqlite3_free(sql);
    }
    if (rc != SQLITE_OK) {
        en_err_set(err, EN_INTERNAL, "cannot register provider: %s", sqlite3_errmsg(t->db));
        goto fail;
    }
    if (registry_dedup_store(t, call, res, err) || registry_commit(t, err))
        goto fail;
    return 0;
fail:
    registry_rollback(t);
    return -1;
}

static int
s_registered_providers(en_call_t *call, const ProtobufCMessage *req, ProtobufCMessage *res_,
                       en_err_t *err)
{
    (void) req;
    (void) err;
    En__RegisteredProvidersResult *res = (void *) res_;
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(T(call)->db, "SELECT name FROM providers ORDER BY name", -1, &st, NULL);
    zlist_t *names = zlist_new();
    while (sqlite3_step(st) == SQLITE_ROW)
        zlist_append(names, en_arena_strdup(call->arena, (const char *) sqlite3_column_text(st, 0)));
    sqlite3_finalize(st);
    res->n_names = zlist_size(names);
    res->names = en_arena_array(call->arena, res->n_names + 1, sizeof(char *));
    size_t i = 0;
    for (char *n = zlist_first(names); n; n = zlist_next(names))
        res->names[i++] = n;
    zlist_destroy(&names);
    return 0;
}

static int
s_provider(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res_, en_err_t *err)
{
    const En__ProviderRequest *req = (const void *) req_;
    En__ProviderResult *res = (void *) res_;
    registry_thread_t *t = T(call);
    char *name = NULL;
    if (registry_provider(t, req->type, &name, NULL, err))
        return -1;
    En__ProviderInfo *info = en_arena_alloc(call->arena, sizeof *info);
    en__provider_info__init(info);
    info->name = en_arena_strdup(call->arena, name);
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(t->db,
                       "SELECT name FROM provider_names WHERE provider = ? AND is_alias = 1 "
                       "ORDER BY name",
                       -1, &st, NULL);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    info->aliases = en_arena_array(call->arena, 64, sizeof(char *));
    while (sqlite3_step(st) == SQLITE_ROW && info->n_aliases < 64)
        info->aliases[info->n_aliases++] =
            en_arena_strdup(call->arena, (const char *) sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    const en_provider_t *driver = en_provider_builtin(name);
    if (driver) {
        info->n_auth_types = driver->schema_count;
        info->auth_types = en_arena_array(call->arena, driver->schema_count + 1, sizeof(char *));
        for (size_t i = 0; i < driver->schema_count; i++)
            info->auth_types[i] = (char *) driver->schemas[i].auth_type;
    }
    else {
        sqlite3_prepare_v2(t->db, "SELECT auth_types FROM providers WHERE name = ?", -1, &st,
                           NULL);
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
            json_t *a = json_loads((const char *) sqlite3_column_text(st, 0), 0, NULL);
            info->n_auth_types = json_array_size(a);
            info->auth_types = en_arena_array(call->arena, info->n_auth_types + 1, sizeof(char *));
            for (size_t i = 0; i < info->n_auth_types; i++)
                info->auth_types[i] =
                    en_arena_strdup(call->arena, json_string_value(json_array_get(a, i)));
            json_decref(a);
        }
        sqlite3_finalize(st);
    }
    free(name);
    res->provider = info;
    return 0;
}

//  The built-in driver for a provider type, or NOT_SUPPORTED naming what
//  the provider cannot do.
static const en_provider_t *
s_driver(en_call_t *call, const char *type, const char *what, en_err_t *err)
{
    const en_provider_t *driver = NULL;
    if (registry_provider(T(call), type, NULL, &driver, err))
        return NULL;
    if (!driver)
        en_err_set(err, EN_NOT_SUPPORTED, "provider \"%s\" has no %s", type, what);
    return driver;
}

static int
s_credential_schemas(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res_,
                     en_err_t *err)
{
    const En__CredentialSchemasRequest *req = (const void *) req_;
    En__CredentialSchemasResult *res = (void *) res_;
    const en_provider_t *p = s_driver(call, req->provider_type, "credential schemas", err);
    if (!p)
        return -1;
    en_arena_t *a = call->arena;
    res->n_schemas = p->schema_count;
    res->schemas = en_arena_array(a, p->schema_count + 1, sizeof(En__CredentialSchema *));
    for (size_t i = 0; i < p->schema_count; i++) {
        const en_cred_schema_t *s = &p->schemas[i];
        En__CredentialSchema *m = en_arena_alloc(a, sizeof *m);
        en__credential_schema__init(m);
        m->auth_type = (char *) s->auth_type;
        m->n_attrs = s->attr_count;
        m->attrs = en_arena_array(a, s->attr_count + 1, sizeof(En__CredentialAttr *));
        for (size_t j = 0; j < s->attr_count; j++) {
            const en_cred_attr_t *at = &s->attrs[j];
            En__CredentialAttr *ma = en_arena_alloc(a, sizeof *ma);
            en__credential_attr__init(ma);
            ma->name = (char *) at->name;
            ma->description = (char *) (at->description ? at->description : "");
            ma->hidden = at->hidden;
            ma->file_attr = (char *) (at->file_attr ? at->file_attr : "");
            ma->file_path = at->file_path;
            ma->optional = at->optional;
            ma->n_options = at->option_count;
            ma->options = (char **) at->options;
            m->attrs[j] = ma;
        }
        res->schemas[i] = m;
    }
    return 0;
}

static int
s_detect_credentials(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res_,
                     en_err_t *err)
{
    const En__DetectCredentialsRequest *req = (const void *) req_;
    En__DetectCredentialsResult *res = (void *) res_;
    const en_provider_t *p = s_driver(call, req->provider_type, "credential detection", err);
    if (!p)
        return -1;
    if (!p->detect_credentials)
        return en_err_set(err, EN_NOT_FOUND, "credentials not found");
    en_cloud_credentials_t *cc = NULL;
    if (p->detect_credentials(&cc, err))
        return -1;
    res->n_credentials = cc->count;
    res->credentials = en_arena_array(call->arena, cc->count + 1, sizeof(En__Credential *));
    for (size_t i = 0; i < cc->count; i++)
        res->credentials[i] = convert_credential(call->arena, cc->credentials[i]);
    res->default_region = en_arena_strdup(call->arena, cc->default_region ? cc->default_region : "");
    res->default_credential =
        en_arena_strdup(call->arena, cc->default_credential ? cc->default_credential : "");
    en_cloud_credentials_destroy(&cc);
    return 0;
}

static int
s_finalize_credential(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res_,
                      en_err_t *err)
{
    const En__FinalizeCredentialRequest *req = (const void *) req_;
    En__FinalizeCredentialResult *res = (void *) res_;
    if (!req->credential)
        return en_err_set(err, EN_NOT_VALID, "no credential to finalize");
    const en_provider_t *p = s_driver(call, req->provider_type, "credential schemas", err);
    if (!p)
        return -1;
    en_credential_t *in = en_credential_from_proto(req->credential);
    en_credential_t *out = NULL;
    int rc = en_credential_finalize(in, p->schemas, p->schema_count, &out, err);
    // then the provider's own step (lxd: interactive → certificate)
    if (rc == 0 && p->finalize_credential) {
        en_credential_destroy(&in);
        in = out;
        out = NULL;
        rc = p->finalize_credential(in, req->cloud_endpoint ? req->cloud_endpoint : "", &out, err);
    }
    if (rc == 0)
        res->credential = convert_credential(call->arena, out);
    en_credential_destroy(&in);
    en_credential_destroy(&out);
    return rc;
}

static int
s_detect_regions(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res_,
                 en_err_t *err)
{
    const En__DetectRegionsRequest *req = (const void *) req_;
    En__DetectRegionsResult *res = (void *) res_;
    const en_provider_t *p = s_driver(call, req->provider_type, "region detection", err);
    if (!p)
        return -1;
    if (!p->detect_regions)
        return en_err_set(err, EN_NOT_FOUND, "regions not found");
    en_region_t *regions = NULL;
    size_t n = 0;
    if (p->detect_regions(&regions, &n, err))
        return -1;
    res->n_regions = n;
    res->regions = en_arena_array(call->arena, n + 1, sizeof(En__Region *));
    for (size_t i = 0; i < n; i++) {
        En__Region *r = en_arena_alloc(call->arena, sizeof *r);
        en__region__init(r);
        r->name = en_arena_strdup(call->arena, regions[i].name);
        r->endpoint = en_arena_strdup(call->arena, regions[i].endpoint ? regions[i].endpoint : "");
        r->identity_endpoint = en_arena_strdup(call->arena, "");
        r->storage_endpoint = en_arena_strdup(call->arena, "");
        res->regions[i] = r;
        free(regions[i].name);
        free(regions[i].endpoint);
    }
    free(regions);
    return 0;
}

#define ROUTE(m, fn) {&en__environ__descriptor, m, fn, 0}
#define ROUTE_SECRETS(m, fn) {&en__environ__descriptor, m, fn, EN_ROUTE_SECRETS}
const en_route_t registry_provider_routes[] = {
    ROUTE("RegisterProvider", s_register_provider),
    ROUTE("RegisteredProviders", s_registered_providers),
    ROUTE("Provider", s_provider),
    ROUTE("CredentialSchemas", s_credential_schemas),
    ROUTE("DetectCredentials", s_detect_credentials),
    ROUTE_SECRETS("FinalizeCredential", s_finalize_credential),
    ROUTE("DetectRegions", s_detect_regions),
};
const size_t registry_provider_route_count =
    sizeof registry_provider_routes / sizeof registry_provider_routes[0];
