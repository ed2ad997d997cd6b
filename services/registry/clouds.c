/*  clouds.c — clouds, credentials and controllers, kept in Juju's own
    files (clouds.yaml, credentials.yaml, controllers.yaml) under the
    state directory, so a Juju user's files work unchanged.

    Every read-modify-write holds the file lock; writes go through a temp
    file and rename (cloudfile.c), so a reader never sees half a file and a
    replica killed mid-write leaves the old file whole. Adding what is
    already there, identically, succeeds: that makes a resent call
    harmless without a request record. */
#include <string.h>

#include "registry.h"

#define T(call) ((registry_thread_t *) (call)->state)
#define R(call) (T(call)->registry)

//  Personal clouds over built-ins, as Juju's CloudByName.
static en_cloud_t *
s_cloud(en_call_t *call, const char *name, en_err_t *err)
{
    en_clouds_t *personal = en_clouds_load(R(call)->clouds_path, err);
    if (!personal)
        return NULL;
    en_cloud_t *c = en_cloud_by_name(personal, name, err);
    en_clouds_destroy(&personal);
    return c;
}

static int
s_clouds(en_call_t *call, const ProtobufCMessage *req, ProtobufCMessage *res_, en_err_t *err)
{
    (void) req;
    En__CloudsResult *res = (void *) res_;
    en_clouds_t *personal = en_clouds_load(R(call)->clouds_path, err);
    if (!personal)
        return -1;
    en_clouds_t *builtin = en_builtin_clouds();
    size_t max = personal->count + builtin->count;
    res->clouds = en_arena_array(call->arena, max + 1, sizeof(En__Cloud *));
    for (size_t i = 0; i < builtin->count; i++)
        if (!en_clouds_find(personal, builtin->items[i]->name))
            res->clouds[res->n_clouds++] = en_cloud_to_proto(call->arena, builtin->items[i]);
    for (size_t i = 0; i < personal->count; i++)
        res->clouds[res->n_clouds++] = en_cloud_to_proto(call->arena, personal->items[i]);
    en_clouds_destroy(&personal);
    en_clouds_destroy(&builtin);
    return 0;
}

static int
s_cloud_get(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res_, en_err_t *err)
{
    const En__CloudRequest *req = (const void *) req_;
    En__CloudResult *res = (void *) res_;
    en_cloud_t *c = s_cloud(call, req->name, err);
    if (!c)
        return -1;
    res->cloud = en_cloud_to_proto(call->arena, c);
    en_cloud_destroy(&c);
    return 0;
}

//  Whether adding `fresh` would store what `stored` (read from clouds.yaml)
//  already is. fresh goes through the file format first, so it gets what
//  reading gives every cloud (a default description by name or type); the
//  two are then compared as the API shows them, since the structs keep
//  YAML key order and number text (`k: 2.0`) that a JSON round trip sorts
//  and reformats.
static bool
s_cloud_same(en_arena_t *a, const en_cloud_t *stored, const en_cloud_t *fresh)
{
    en_clouds_t *one = en_clouds_new(), *back = NULL;
    en_cloud_t *copy = en_cloud_dup(fresh);
    char *text = NULL;
    bool same = false;
    if (one && copy && en_clouds_add(one, &copy, NULL) == 0 &&
        (text = en_clouds_format(one, NULL)) &&
        (back = en_clouds_parse(text, strlen(text), NULL)) && back->count == 1) {
        const ProtobufCMessage *mx = &en_cloud_to_proto(a, stored)->base,
                               *my = &en_cloud_to_proto(a, back->items[0])->base;
        size_t n = protobuf_c_message_get_packed_size(mx);
        if (n == protobuf_c_message_get_packed_size(my)) {
            uint8_t *bx = en_arena_alloc(a, n + 1), *by = en_arena_alloc(a, n + 1);
            protobuf_c_message_pack(mx, bx);
            protobuf_c_message_pack(my, by);
            same = memcmp(bx, by, n) == 0;
        }
    }
    free(text);
    en_clouds_destroy(&back);
    en_clouds_destroy(&one);
    en_cloud_destroy(&copy);
    return same;
}

static int
s_add_cloud(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res, en_err_t *err)
{
    (void) res;
    const En__AddCloudRequest *req = (const void *) req_;
    en_cloud_t *cloud = convert_cloud_from(req->cloud, err);
    if (!cloud)
        return -1;
    if (registry_provider(T(call), cloud->type, NULL, NULL, err)) {
        en_cloud_destroy(&cloud);
        return -1;
    }
    int fd = registry_files_lock(R(call), err);
    if (fd < 0) {
        en_cloud_destroy(&cloud);
        return -1;
    }
    int rc = -1;
    en_clouds_t *clouds = en_clouds_load(R(call)->clouds_path, err);
    if (!clouds)
        goto cleanup;
    en_cloud_t *existing = en_clouds_find(clouds, cloud->name);
    if (existing && s_cloud_same(call->arena, existing, cloud))
        rc = 0; // already there, identically
    else if (existing && !req->replace)
        en_err_set(err, EN_ALREADY_EXISTS, "cloud \"%s\" already exists", cloud->name);
    else {
        if (existing)
            en_clouds_remove(clouds, cloud->name);
        rc = en_clouds_add(clouds, &cloud, err);
        if (rc == 0)
            rc = en_clouds_save(clouds, R(call)->clouds_path, err);
    }
cleanup:
    en_clouds_destroy(&clouds);
    en_cloud_destroy(&cloud);
    registry_files_unlock(fd);
    return rc;
}

//  credentials.yaml, for any call. The parser quotes a value of the wrong
//  shape in Go's %#v (`password: expected string, got int(40961234)`); that
//  value may be a secret and the error becomes both a reply and a log line,
//  so only its type is kept (`got int`).
static en_credentials_t *
s_credentials_load(registry_t *r, en_err_t *err)
{
    en_credentials_t *all = en_credentials_load(r->credentials_path, err);
    char *got = !all && err ? strstr(err->message, ", got ") : NULL;
    char *value = got ? strchr(got, '(') : NULL;
    if (value)
        *value = '\0';
    return all;
}

//  The credential a cloud uses when none is named: the default, the only
//  one, or the empty credential when the cloud accepts that auth type.
en_credential_t *
registry_credential_for(registry_t *r, const en_cloud_t *cloud, const char *name, en_err_t *err)
{
    en_credentials_t *all = s_credentials_load(r, err);
    if (!all)
        return NULL;
    en_credential_t *out = NULL;
    en_cloud_credentials_t *cc = en_credentials_find(all, cloud->name);
    if (name && *name) {
        en_credential_t *c = cc ? en_cloud_credentials_find(cc, name) : NULL;
        if (c)
            out = en_credential_dup(c);
        else
            en_err_set(err, EN_NOT_FOUND, "credential \"%s\" for cloud \"%s\" not found", name,
                       cloud->name);
    }
    else if (cc && cc->default_credential && *cc->default_credential &&
             en_cloud_credentials_find(cc, cc->default_credential))
        out = en_credential_dup(en_cloud_credentials_find(cc, cc->default_credential));
    else if (cc && cc->count == 1)
        out = en_credential_dup(cc->credentials[0]);
    else {
        bool empty_ok = false;
        for (size_t i = 0; i < cloud->auth_type_count; i++)
            empty_ok |= strcmp(cloud->auth_types[i], "empty") == 0;
        if (empty_ok)
            out = en_credential_new("", "empty");
        else if (cc && cc->count > 1)
            en_err_set(err, EN_NOT_VALID,
                       "more than one credential is available for cloud \"%s\"; "
                       "specify one or set a default",
                       cloud->name);
        else
            en_err_set(err, EN_NOT_FOUND, "no credentials for cloud \"%s\"", cloud->name);
    }
    en_credentials_destroy(&all);
    return out;
}

static int
s_make_cloud_spec(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res_,
                  en_err_t *err)
{
    const En__MakeCloudSpecRequest *req = (const void *) req_;
    En__MakeCloudSpecResult *res = (void *) res_;
    en_cloud_t *cloud = s_cloud(call, req->cloud_name, err);
    if (!cloud)
        return -1;
    en_credential_t *cred = NULL;
    int rc = -1;
    if (req->credential_source_case == EN__MAKE_CLOUD_SPEC_REQUEST__CREDENTIAL_SOURCE_CREDENTIAL)
        cred = en_credential_from_proto(req->credential);
    else if (req->credential_source_case ==
             EN__MAKE_CLOUD_SPEC_REQUEST__CREDENTIAL_SOURCE_CREDENTIAL_NAME) {
        cred = registry_credential_for(R(call), cloud, req->credential_name, err);
        if (!cred)
            goto cleanup;
    }
    en_cloud_spec_t spec = {0};
    if (en_make_cloud_spec(cloud, req->cloud_name, req->region_name, cred, &spec, err) == 0 &&
        en_cloud_spec_validate(&spec, err) == 0) {
        res->cloud_spec = convert_spec(call->arena, &spec, true);
        rc = 0;
    }
    en_cloud_spec_clear(&spec);
cleanup:
    en_credential_destroy(&cred);
    en_cloud_destroy(&cloud);
    return rc;
}

//  Schemas of the provider behind a cloud, to strip secrets for listing.
static const en_provider_t *
s_cloud_driver(en_call_t *call, const char *cloud_name)
{
    en_err_t ignore;
    en_cloud_t *c = s_cloud(call, cloud_name, &ignore);
    const en_provider_t *driver = NULL;
    if (c)
        registry_provider(T(call), c->type, NULL, &driver, &ignore);
    en_cloud_destroy(&c);
    return driver;
}

static int
s_credentials(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res_,
              en_err_t *err)
{
    const En__CredentialsRequest *req = (const void *) req_;
    En__CredentialsResult *res = (void *) res_;
    en_credentials_t *all = s_credentials_load(R(call), err);
    if (!all)
        return -1;
    en_arena_t *a = call->arena;
    res->clouds = en_arena_array(a, all->count + 1, sizeof(En__CloudCredentials *));
    for (size_t i = 0; i < all->count; i++) {
        en_cloud_credentials_t *cc = all->items[i];
        if (req->cloud_name && *req->cloud_name && strcmp(req->cloud_name, cc->cloud) != 0)
            continue;
        const en_provider_t *driver = s_cloud_driver(call, cc->cloud);
        En__CloudCredentials *m = en_arena_alloc(a, sizeof *m);
        en__cloud_credentials__init(m);
        m->cloud_name = en_arena_strdup(a, cc->cloud);
        m->default_credential = en_arena_strdup(a, cc->default_credential ? cc->default_credential : "");
        m->default_region = en_arena_strdup(a, cc->default_region ? cc->default_region : "");
        m->credentials = en_arena_array(a, cc->count + 1, sizeof(En__Credential *));
        for (size_t j = 0; j < cc->count; j++) {
            en_err_t ignore;
            // secrets never leave the registry in a listing
            en_credential_t *clean =
                driver ? en_credential_remove_secrets(cc->credentials[j], driver->schemas,
                                                      driver->schema_count, &ignore)
                       : NULL;
            if (!clean) {
                clean = en_credential_new(cc->credentials[j]->name, cc->credentials[j]->auth_type);
            }
            m->credentials[m->n_credentials++] = convert_credential(a, clean);
            en_credential_destroy(&clean);
        }
        res->clouds[res->n_clouds++] = m;
    }
    en_credentials_destroy(&all);
    return 0;
}

//  Same name, auth-type and attributes, in any order: a file Juju wrote
//  has its keys sorted, a finalized credential has them in schema order.
static bool
s_credential_same(const en_credential_t *a, const en_credential_t *b)
{
    if (strcmp(a->name, b->name) != 0 || strcmp(a->auth_type, b->auth_type) != 0 ||
        a->attrs.count != b->attrs.count)
        return false;
    for (size_t i = 0; i < a->attrs.count; i++) {
        const char *v = en_credential_attr(b, a->attrs.items[i].key);
        if (!v || strcmp(v, a->attrs.items[i].value) != 0)
            return false;
    }
    return true;
}

static int
s_add_credential(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res,
                 en_err_t *err)
{
    (void) res;
    const En__AddCredentialRequest *req = (const void *) req_;
    if (!req->credential || !req->credential->name || !*req->credential->name)
        return en_err_set(err, EN_NOT_VALID, "credential has no name");
    if (!req->credential->auth_type || !*req->credential->auth_type)
        return en_err_set(err, EN_NOT_VALID, "credentials.%s.%s: missing auth-type",
                          req->cloud_name, req->credential->name);
    const char *name = req->credential->name;
    if (strcmp(name, "default-credential") == 0 || strcmp(name, "default-region") == 0)
        return en_err_set(err, EN_NOT_VALID, "credential name \"%s\" not valid", name);
    en_cloud_t *cloud = s_cloud(call, req->cloud_name, err);
    if (!cloud)
        return -1;
    const en_provider_t *driver = NULL;
    if (registry_provider(T(call), cloud->type, NULL, &driver, err)) {
        en_cloud_destroy(&cloud);
        return -1;
    }
    en_credential_t *cred = en_credential_from_proto(req->credential);
    en_cloudfile_set_string(&cred->label, NULL);
    en_credential_t *final = NULL;
    int rc = -1, fd = -1;
    en_credentials_t *all = NULL;
    // the credential is checked against its schema before it is stored
    if (driver) {
        if (en_credential_finalize(cred, driver->schemas, driver->schema_count, &final, err))
            goto cleanup;
        en_credential_destroy(&cred);
        cred = final;
        final = NULL;
    }
    fd = registry_files_lock(R(call), err);
    if (fd < 0)
        goto cleanup;
    all = s_credentials_load(R(call), err);
    if (!all)
        goto cleanup;
    en_cloud_credentials_t *cc = en_credentials_find(all, cloud->name);
    if (!cc) {
        en_cloud_credentials_t *fresh = en_cloud_credentials_new(cloud->name);
        if (en_credentials_add(all, &fresh, err))
            goto cleanup;
        cc = en_credentials_find(all, cloud->name);
    }
    en_credential_t *existing = en_cloud_credentials_find(cc, name);
    if (existing && s_credential_same(existing, cred))
        rc = 0;
    else if (existing && !req->replace)
        en_err_set(err, EN_ALREADY_EXISTS, "credential \"%s\" for cloud \"%s\" already exists",
                   name, cloud->name);
    else {
        if (existing)
            en_cloud_credentials_remove(cc, name);
        if (en_cloud_credentials_add(cc, &cred, err) == 0)
            rc = en_credentials_save(all, R(call)->credentials_path, err);
    }
cleanup:
    en_credentials_destroy(&all);
    registry_files_unlock(fd);
    en_credential_destroy(&cred);
    en_credential_destroy(&final);
    en_cloud_destroy(&cloud);
    return rc;
}

#define ROUTE(m, fn) {&en__environ__descriptor, m, fn, 0}
#define ROUTE_SECRETS(m, fn) {&en__environ__descriptor, m, fn, EN_ROUTE_SECRETS}
const en_route_t registry_cloud_routes[] = {
    ROUTE("Clouds", s_clouds),
    ROUTE("Cloud", s_cloud_get),
    ROUTE("AddCloud", s_add_cloud),
    ROUTE_SECRETS("MakeCloudSpec", s_make_cloud_spec),
    ROUTE("Credentials", s_credentials),
    ROUTE_SECRETS("AddCredential", s_add_credential),
};
const size_t registry_cloud_route_count =
    sizeof registry_cloud_routes / sizeof registry_cloud_routes[0];
