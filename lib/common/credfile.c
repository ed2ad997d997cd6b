/*  credfile.c — credentials.yaml, FinalizeCredential and RemoveSecrets.

    Juju reads credentials.yaml in two steps: go-yaml decodes the file into
    interface{} values, then juju/schema checkers coerce them. Errors from the
    first step carry the `cannot unmarshal yaml credentials` prefix; errors
    from the second are the checkers' own words, e.g.
    `credentials.aws.peter.key: expected string, got int(123)`. We keep both
    voices: the top level (`credentials:` and the cloud names) is read by
    cloudfile_list.c in go-yaml's; from each cloud down, the walker below
    checks exactly what those checkers check, in the same order (all values
    are strings first, then auth-type is present), and renders offending
    values the way Go's `%T(%#v)` does.

    FinalizeCredential mirrors cloud.CredentialSchema.Finalize: a strict
    field map (unknown keys, mandatory fields, enumerated options), then file
    attributes. Go iterates maps in random order; we use the schema's and the
    credential's order, so which of several errors is reported is stable. */
#include "common/cloudfile_int.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

//  ---------------------------------------------------------------------------
//  Credential

en_credential_t *
en_credential_new(const char *name, const char *auth_type)
{
    en_credential_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->name = en_cf_strdup(name);
    self->auth_type = en_cf_strdup(auth_type);
    self->label = en_cf_strdup(NULL);
    if (!self->name || !self->auth_type || !self->label)
        en_credential_destroy(&self);
    return self;
}

void
en_credential_destroy(en_credential_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    en_credential_t *self = *self_p;
    free(self->name);
    free(self->auth_type);
    free(self->label);
    en_kvlist_clear(&self->attrs);
    free(self);
    *self_p = NULL;
}

en_credential_t *
en_credential_dup(const en_credential_t *self)
{
    if (!self)
        return NULL;
    en_credential_t *copy = en_credential_new(self->name, self->auth_type);
    if (copy && (en_cloudfile_set_string(&copy->label, self->label) ||
                 en_kvlist_copy(&copy->attrs, &self->attrs)))
        en_credential_destroy(&copy);
    return copy;
}

bool
en_credential_equal(const en_credential_t *a, const en_credential_t *b)
{
    if (!a || !b)
        return a == b;
    return en_cf_streq(a->name, b->name) && en_cf_streq(a->auth_type, b->auth_type) &&
           en_kvlist_equal(&a->attrs, &b->attrs);
}

const char *
en_credential_attr(const en_credential_t *self, const char *key)
{
    return en_kvlist_get(&self->attrs, key);
}

int
en_credential_set_attr(en_credential_t *self, const char *key, const char *value)
{
    return en_kvlist_set(&self->attrs, key, value, EN_YAML_STR);
}

//  ---------------------------------------------------------------------------
//  Credentials of one cloud (en_cf_list_t does the list work)

static void
s_credential_destroy(void *cred_p)
{
    en_credential_destroy(cred_p);
}

static void *
s_credential_dup(const void *cred)
{
    return en_credential_dup(cred);
}

static bool
s_credential_equal(const void *a, const void *b)
{
    return en_credential_equal(a, b);
}

static const en_cf_list_t s_credentials = {
    .items_offset = offsetof(en_cloud_credentials_t, credentials),
    .count_offset = offsetof(en_cloud_credentials_t, count),
    .key_offset = offsetof(en_credential_t, name),
    .nil_error = "nil credential not valid",
    .oom_error = "adding credential: out of memory",
    .destroy = s_credential_destroy,
    .dup = s_credential_dup,
    .equal = s_credential_equal,
};

en_cloud_credentials_t *
en_cloud_credentials_new(const char *cloud)
{
    en_cloud_credentials_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cloud = en_cf_strdup(cloud);
    self->default_credential = en_cf_strdup(NULL);
    self->default_region = en_cf_strdup(NULL);
    if (!self->cloud || !self->default_credential || !self->default_region)
        en_cloud_credentials_destroy(&self);
    return self;
}

void
en_cloud_credentials_destroy(en_cloud_credentials_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    en_cloud_credentials_t *self = *self_p;
    free(self->cloud);
    free(self->default_credential);
    free(self->default_region);
    en_cf_list_clear(&s_credentials, self);
    free(self);
    *self_p = NULL;
}

en_credential_t *
en_cloud_credentials_find(const en_cloud_credentials_t *self, const char *name)
{
    return en_cf_list_find(&s_credentials, self, name);
}

static bool
s_reserved(const char *name)
{
    return strcmp(name, "default-credential") == 0 || strcmp(name, "default-region") == 0;
}

int
en_cloud_credentials_add(en_cloud_credentials_t *self, en_credential_t **cred_p, en_err_t *err)
{
    if (cred_p && *cred_p && s_reserved((*cred_p)->name))
        return en_err_set(err, EN_NOT_VALID, "credential name \"%s\" not valid", (*cred_p)->name);
    return en_cf_list_add(&s_credentials, self, cred_p, err);
}

bool
en_cloud_credentials_remove(en_cloud_credentials_t *self, const char *name)
{
    return en_cf_list_remove(&s_credentials, self, name);
}

en_cloud_credentials_t *
en_cloud_credentials_dup(const en_cloud_credentials_t *self)
{
    if (!self)
        return NULL;
    en_cloud_credentials_t *copy = en_cloud_credentials_new(self->cloud);
    if (copy && (en_cloudfile_set_string(&copy->default_credential, self->default_credential) ||
                 en_cloudfile_set_string(&copy->default_region, self->default_region) ||
                 en_cf_list_copy(&s_credentials, copy, self)))
        en_cloud_credentials_destroy(&copy);
    return copy;
}

bool
en_cloud_credentials_equal(const en_cloud_credentials_t *a, const en_cloud_credentials_t *b)
{
    if (!a || !b)
        return a == b;
    return en_cf_streq(a->cloud, b->cloud) &&
           en_cf_streq(a->default_credential, b->default_credential) &&
           en_cf_streq(a->default_region, b->default_region) &&
           en_cf_list_equal(&s_credentials, a, b);
}

//  ---------------------------------------------------------------------------
//  All credentials (a list of the above, keyed by cloud)

static void
s_cloud_credentials_destroy(void *cc_p)
{
    en_cloud_credentials_destroy(cc_p);
}

static void *
s_cloud_credentials_dup(const void *cc)
{
    return en_cloud_credentials_dup(cc);
}

static bool
s_cloud_credentials_equal(const void *a, const void *b)
{
    return en_cloud_credentials_equal(a, b);
}

static const en_cf_list_t s_clouds = {
    .items_offset = offsetof(en_credentials_t, items),
    .count_offset = offsetof(en_credentials_t, count),
    .key_offset = offsetof(en_cloud_credentials_t, cloud),
    .nil_error = "nil cloud credentials not valid",
    .oom_error = "adding credentials: out of memory",
    .destroy = s_cloud_credentials_destroy,
    .dup = s_cloud_credentials_dup,
    .equal = s_cloud_credentials_equal,
};

en_credentials_t *
en_credentials_new(void)
{
    return calloc(1, sizeof(en_credentials_t));
}

void
en_credentials_destroy(en_credentials_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    en_cf_list_clear(&s_clouds, *self_p);
    free(*self_p);
    *self_p = NULL;
}

en_cloud_credentials_t *
en_credentials_find(const en_credentials_t *self, const char *cloud)
{
    return en_cf_list_find(&s_clouds, self, cloud);
}

int
en_credentials_add(en_credentials_t *self, en_cloud_credentials_t **cc_p, en_err_t *err)
{
    return en_cf_list_add(&s_clouds, self, cc_p, err);
}

bool
en_credentials_remove(en_credentials_t *self, const char *cloud)
{
    return en_cf_list_remove(&s_clouds, self, cloud);
}

en_credentials_t *
en_credentials_dup(const en_credentials_t *self)
{
    en_credentials_t *copy = en_credentials_new();
    if (copy && en_cf_list_copy(&s_clouds, copy, self))
        en_credentials_destroy(&copy);
    return copy;
}

bool
en_credentials_equal(const en_credentials_t *a, const en_credentials_t *b)
{
    return en_cf_list_equal(&s_clouds, a, b);
}

//  ---------------------------------------------------------------------------
//  Reading credentials.yaml — juju/schema's voice

//  schema's error_: `<path>: expected <want>, got <%T(%#v)>` or `got nothing`.
static int
s_schema_error(en_ydoc_t *doc, const char *path, const char *want, const en_ynode_t *got)
{
    if (en_ynode_is_null(got))
        return en_err_set(doc->err, EN_NOT_VALID, "%s: expected %s, got nothing", path, want);
    char value[EN_ERR_MSG_MAX / 2];
    en_ynode_go_value(got, value, sizeof value);
    return en_err_set(doc->err, EN_NOT_VALID, "%s: expected %s, got %s", path, want, value);
}

static bool
s_is_string(const en_ynode_t *n)
{
    return n->kind == EN_YNODE_SCALAR && en_ynode_type(n) == EN_YAML_STR;
}

//  schema.StringMap: a mapping whose keys are strings (checked against the
//  map's own path, as Go does), duplicate keys refused.
static int
s_string_map(en_ydoc_t *doc, const en_ynode_t *n, const char *path)
{
    if (en_ydoc_visit(doc))
        return -1;
    if (n->kind != EN_YNODE_MAP)
        return s_schema_error(doc, path, "map", n);
    if (en_ydoc_check_map(doc, n, path, false))
        return -1;
    for (size_t i = 0; i < n->count; i += 2)
        if (!s_is_string(n->items[i]))
            return s_schema_error(doc, path, "string", n->items[i]);
    return 0;
}

static int
s_read_credential(en_ydoc_t *doc, const en_ynode_t *body, const char *path, const char *name,
                  en_cloud_credentials_t *cc)
{
    if (s_string_map(doc, body, path))
        return -1;
    //  Every value must be a string before auth-type is looked at.
    for (size_t i = 0; i < body->count; i += 2) {
        const en_ynode_t *v = body->items[i + 1];
        if (en_ydoc_visit(doc))
            return -1;
        if (!s_is_string(v)) {
            char sub[EN_YPATH_MAX];
            en_ypath(sub, path, body->items[i]->value);
            return s_schema_error(doc, sub, "string", v);
        }
    }
    const char *auth_type = NULL;
    for (size_t i = 0; i < body->count; i += 2)
        if (strcmp(body->items[i]->value, "auth-type") == 0)
            auth_type = body->items[i + 1]->value;
    if (!auth_type || !*auth_type)
        return en_err_set(doc->err, EN_NOT_VALID, "%s: missing auth-type", path);
    en_credential_t *cred = en_credential_new(name, auth_type);
    if (!cred)
        return en_err_set(doc->err, EN_INTERNAL, "%s: out of memory", path);
    for (size_t i = 0; i < body->count; i += 2) {
        const char *key = body->items[i]->value;
        if (strcmp(key, "auth-type") != 0 &&
            en_credential_set_attr(cred, key, body->items[i + 1]->value)) {
            en_credential_destroy(&cred);
            return en_err_set(doc->err, EN_INTERNAL, "%s: out of memory", path);
        }
    }
    return en_cloud_credentials_add(cc, &cred, doc->err);
}

static int
s_read_cloud_credentials(en_ydoc_t *doc, const en_ynode_t *body, const char *path, void *item)
{
    en_cloud_credentials_t *cc = item;
    if (s_string_map(doc, body, path))
        return -1;
    for (size_t i = 0; i < body->count; i += 2) {
        const char *key = body->items[i]->value;
        const en_ynode_t *v = body->items[i + 1];
        char sub[EN_YPATH_MAX];
        en_ypath(sub, path, key);
        if (s_reserved(key)) {
            if (!s_is_string(v))
                return s_schema_error(doc, sub, "string", v);
            char **field =
                strcmp(key, "default-region") == 0 ? &cc->default_region : &cc->default_credential;
            if (en_cloudfile_set_string(field, v->value))
                return en_err_set(doc->err, EN_INTERNAL, "%s: out of memory", path);
        } else if (s_read_credential(doc, v, sub, key, cc)) {
            return -1;
        }
    }
    return 0;
}

//  ---------------------------------------------------------------------------
//  Writing credentials.yaml

static void
s_write_credential(en_yemit_t *e, const void *item)
{
    const en_credential_t *cred = item;
    en_yemit_map_start(e, false);
    en_yemit_kv(e, "auth-type", cred->auth_type);
    for (size_t k = 0; k < cred->attrs.count; k++)
        en_yemit_kv(e, cred->attrs.items[k].key, cred->attrs.items[k].value);
    en_yemit_map_end(e);
}

static void
s_write_cloud_credentials(en_yemit_t *e, const void *item)
{
    const en_cloud_credentials_t *cc = item;
    en_yemit_map_start(e, false);
    en_yemit_kv_opt(e, "default-credential", cc->default_credential);
    en_yemit_kv_opt(e, "default-region", cc->default_region);
    en_cf_list_emit(e, &s_credentials, cc, s_write_credential);
    en_yemit_map_end(e);
}

//  ---------------------------------------------------------------------------
//  The file

static void *
s_cloud_credentials_create(const char *cloud)
{
    return en_cloud_credentials_new(cloud);
}

static const en_cf_file_t s_credentials_yaml = {
    .section = "credentials",
    .prefix = "cannot unmarshal yaml credentials",
    .marshal = "cannot marshal credentials",
    .list = &s_clouds,
    .create = s_cloud_credentials_create,
    .read = s_read_cloud_credentials,
    .write = s_write_cloud_credentials,
};

en_credentials_t *
en_credentials_parse(const char *data, size_t len, en_err_t *err)
{
    en_credentials_t *creds = en_credentials_new();
    if (en_cf_parse(&s_credentials_yaml, data, len, creds, err))
        en_credentials_destroy(&creds);
    return creds;
}

en_credentials_t *
en_credentials_load(const char *path, en_err_t *err)
{
    en_credentials_t *creds = en_credentials_new();
    if (en_cf_load(&s_credentials_yaml, path, creds, err))
        en_credentials_destroy(&creds);
    return creds;
}

char *
en_credentials_format(const en_credentials_t *self, en_err_t *err)
{
    return en_cf_format(&s_credentials_yaml, self, err);
}

int
en_credentials_save(const en_credentials_t *self, const char *path, en_err_t *err)
{
    return en_cf_save(&s_credentials_yaml, self, path, err);
}

//  ---------------------------------------------------------------------------
//  FinalizeCredential

static const en_cred_schema_t *
s_schema_for(const en_cred_schema_t *schemas, size_t n, const char *auth_type)
{
    for (size_t i = 0; schemas && i < n; i++)
        if (en_cf_streq(schemas[i].auth_type, auth_type))
            return &schemas[i];
    return NULL;
}

//  Whether key is a field of the schema: an attribute or a FileAttr.
static bool
s_schema_has(const en_cred_schema_t *s, const char *key)
{
    for (size_t i = 0; i < s->attr_count; i++)
        if (strcmp(s->attrs[i].name, key) == 0 ||
            (s->attrs[i].file_attr && strcmp(s->attrs[i].file_attr, key) == 0))
            return true;
    return false;
}

//  juju/utils NormalizePath: a leading ~ or ~user is expanded, then the path
//  is cleaned (filepath.Clean). Returns a malloc'd path or NULL.
static char *
s_normalize_path(const char *path)
{
    char *expanded = NULL;
    if (path[0] == '~') {
        const char *rest = strchr(path, '/');
        size_t ulen = rest ? (size_t)(rest - path - 1) : strlen(path) - 1;
        const char *home = NULL;
        struct passwd pw, *found = NULL;
        char pwbuf[4096];
        if (ulen == 0) {
            home = getenv("HOME");
        } else {
            char user[256];
            if (ulen >= sizeof user)
                return NULL;
            memcpy(user, path + 1, ulen);
            user[ulen] = '\0';
            if (getpwnam_r(user, &pw, pwbuf, sizeof pwbuf, &found) == 0 && found)
                home = found->pw_dir;
        }
        if (!home)
            return NULL;
        if (asprintf(&expanded, "%s/%s", home, rest ? rest + 1 : "") < 0)
            return NULL;
    } else if (!(expanded = strdup(path))) {
        return NULL;
    }
    //  Clean in place: drop empty and "." elements, resolve "..".
    bool abs = expanded[0] == '/';
    char *out = malloc(strlen(expanded) + 2);
    if (!out) {
        free(expanded);
        return NULL;
    }
    size_t len = 0;
    out[0] = '\0';
    char *save = NULL;
    for (char *part = strtok_r(expanded, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
        if (strcmp(part, ".") == 0)
            continue;
        if (strcmp(part, "..") == 0) {
            char *slash = len ? memrchr(out, '/', len) : NULL;
            if (slash && strcmp(slash + 1, "..") != 0) {
                len = (size_t)(slash - out);
                out[len] = '\0';
                continue;
            }
            if (!slash && len && strcmp(out, "..") != 0) {
                len = 0;
                out[0] = '\0';
                continue;
            }
            if (abs)
                continue; //  "/.." is "/"
        }
        if (len || abs)
            out[len++] = '/';
        size_t plen = strlen(part);
        memcpy(out + len, part, plen);
        len += plen;
        out[len] = '\0';
    }
    if (len == 0)
        out[len++] = abs ? '/' : '.';
    out[len] = '\0';
    free(expanded);
    return out;
}

//  cloud.ValidateFileAttrValue: the normalised path of an existing file.
static char *
s_validate_file_path(const char *path, en_err_t *err)
{
    if (path[0] != '/' && path[0] != '~') {
        en_err_set(err, EN_NOT_VALID, "file path must be an absolute path: %s", path);
        return NULL;
    }
    char *abs = s_normalize_path(path);
    if (!abs) {
        en_err_set(err, EN_NOT_VALID, "invalid file path: %s", path);
        return NULL;
    }
    struct stat st;
    if (stat(abs, &st) < 0)
        en_err_set(err, EN_NOT_VALID, "invalid file path: %s", abs);
    else if (S_ISDIR(st.st_mode))
        en_err_set(err, EN_NOT_VALID, "file path must be a file: %s", abs);
    else
        return abs;
    free(abs);
    return NULL;
}

//  The readFile Juju's CLI passes: NormalizePath, then ioutil.ReadFile.
static int
s_read_attr_file(const char *name, const char *path, char **data, en_err_t *err)
{
    size_t len;
    char *abs = s_normalize_path(path);
    int rc = -1;
    if (!abs)
        en_err_set(err, EN_NOT_VALID, "reading file for \"%s\": cannot expand %s", name, path);
    else if (en_cf_read_file(abs, data, &len, err))
        en_err_annotate(err, "reading file for \"%s\"", name);
    else if (!*data)
        en_err_set(err, EN_NOT_VALID, "reading file for \"%s\": open %s: no such file or directory",
                   name, abs);
    else if (len == 0)
        en_err_set(err, EN_NOT_VALID, "empty file for \"%s\" not valid", name);
    else
        rc = 0;
    if (rc) {
        free(*data);
        *data = NULL;
    }
    free(abs);
    return rc;
}

//  The strict schema check (juju/schema StrictFieldMap with environschema
//  attributes): unknown keys, then each field in schema order.
static int
s_coerce(const en_cred_schema_t *s, const en_credential_t *cred, en_err_t *err)
{
    for (size_t i = 0; i < s->attr_count; i++) {
        const char *fa = s->attrs[i].file_attr;
        if (!fa)
            continue;
        for (size_t j = 0; j < s->attr_count; j++)
            if (strcmp(s->attrs[j].name, fa) == 0 ||
                (j < i && s->attrs[j].file_attr && strcmp(s->attrs[j].file_attr, fa) == 0))
                return en_err_set(err, EN_NOT_VALID, "duplicate field \"%s\"", fa);
    }
    for (size_t i = 0; i < cred->attrs.count; i++) {
        const en_kv_t *kv = &cred->attrs.items[i];
        if (!s_schema_has(s, kv->key)) {
            char k[EN_ERR_MSG_MAX / 4], v[EN_ERR_MSG_MAX / 4];
            en_cf_go_quote(kv->key, k, sizeof k);
            en_cf_go_quote(kv->value, v, sizeof v);
            return en_err_set(err, EN_NOT_VALID, "unknown key %s (value %s)", k, v);
        }
    }
    for (size_t i = 0; i < s->attr_count; i++) {
        const en_cred_attr_t *a = &s->attrs[i];
        const char *value = en_credential_attr(cred, a->name);
        if (!value) {
            if (!a->file_attr && !a->optional)
                return en_err_set(err, EN_NOT_VALID, "%s: expected string, got nothing", a->name);
            continue;
        }
        if (a->option_count == 0)
            continue;
        bool allowed = false;
        for (size_t o = 0; o < a->option_count && !allowed; o++)
            allowed = strcmp(a->options[o], value) == 0;
        if (!allowed) {
            //  Go's %v of the options and %#v of the value.
            char list[EN_ERR_MSG_MAX / 2], v[EN_ERR_MSG_MAX / 4];
            en_cf_go_list(a->options, a->option_count, false, list, sizeof list);
            en_cf_go_quote(value, v, sizeof v);
            return en_err_set(err, EN_NOT_VALID, "%s: expected one of %s, got %s", a->name, list,
                              v);
        }
    }
    return 0;
}

//  One schema field into the finalized credential.
static int
s_finalize_attr(const en_cred_attr_t *a, const en_credential_t *cred, en_credential_t *out,
                en_err_t *err)
{
    const char *value = en_credential_attr(cred, a->name);
    char *owned = NULL;
    if (a->file_attr) {
        const char *file = en_credential_attr(cred, a->file_attr);
        if (value && file)
            return en_err_set(err, EN_NOT_VALID, "specifying both \"%s\" and \"%s\" not valid",
                              a->name, a->file_attr);
        if (!value && !file)
            return en_err_set(err, EN_NOT_VALID, "either \"%s\" or \"%s\" must be specified",
                              a->name, a->file_attr);
        if (!value && s_read_attr_file(a->name, file, &owned, err))
            return -1;
    } else if (a->file_path && value && *value) {
        //  The value stays a path (Juju's TestFinalizeCredentialFilePath
        //  expects the path back); only FileAttr pairs read file contents.
        if (!(owned = s_validate_file_path(value, err)))
            return -1;
    }
    int rc = 0;
    if ((owned || value) && en_credential_set_attr(out, a->name, owned ? owned : value))
        rc = en_err_set(err, EN_INTERNAL, "finalizing credential: out of memory");
    free(owned);
    return rc;
}

int
en_credential_finalize(const en_credential_t *cred, const en_cred_schema_t *schemas,
                       size_t schema_count, en_credential_t **out, en_err_t *err)
{
    *out = NULL;
    const en_cred_schema_t *s = s_schema_for(schemas, schema_count, cred->auth_type);
    if (!s)
        return en_err_set(err, EN_NOT_SUPPORTED, "auth-type \"%s\" not supported", cred->auth_type);
    if (s_coerce(s, cred, err))
        return -1;
    en_credential_t *result = en_credential_new(cred->name, cred->auth_type);
    if (!result || en_cloudfile_set_string(&result->label, cred->label)) {
        en_credential_destroy(&result);
        return en_err_set(err, EN_INTERNAL, "finalizing credential: out of memory");
    }
    for (size_t i = 0; i < s->attr_count; i++)
        if (s_finalize_attr(&s->attrs[i], cred, result, err)) {
            en_credential_destroy(&result);
            return -1;
        }
    *out = result;
    return 0;
}

en_credential_t *
en_credential_remove_secrets(const en_credential_t *cred, const en_cred_schema_t *schemas,
                             size_t schema_count, en_err_t *err)
{
    const en_cred_schema_t *s = s_schema_for(schemas, schema_count, cred->auth_type);
    if (!s) {
        en_err_set(err, EN_NOT_SUPPORTED, "auth-type \"%s\" not supported", cred->auth_type);
        return NULL;
    }
    en_credential_t *copy = en_credential_dup(cred);
    if (!copy) {
        en_err_set(err, EN_INTERNAL, "removing secrets: out of memory");
        return NULL;
    }
    for (size_t i = 0; i < s->attr_count; i++)
        if (s->attrs[i].hidden)
            en_kvlist_unset(&copy->attrs, s->attrs[i].name);
    return copy;
}
