/*  cloudfile.h — Juju's client-side cloud files as plain C structs.

    Juju keeps three YAML files under $JUJU_DATA: clouds.yaml (personal cloud
    definitions), credentials.yaml and controllers.yaml. This module reads and
    writes all three in Juju's exact shapes (docs/juju-environs.md §8.2) with
    libyaml, and carries the lookups the environs layer needs on top of them:
    region by name, MakeCloudSpec/CloudSpec.Validate (§1 statements 6–7),
    FinalizeCredential/RemoveSecrets (§8.1) and the built-in cloud list.

    Design:
    - Structs are plain and public so drivers and services can read fields
      directly; no protobuf crosses this API. Every string field is owned by
      its struct (malloc'd, never NULL once parsed: absent means ""), every
      container owns its elements.
    - Containers keep YAML order. Juju's Go maps lose it for clouds,
      credentials and attributes; we keep it because the first region is the
      default and because rewriting a user's file should not reorder it.
    - `x_new` returns NULL on failure, `x_destroy(&p)` frees, NULLs and is
      idempotent; `x_add(c, &item)` takes ownership of item (and NULLs the
      caller's pointer) and replaces an entry of the same name in place, which
      is Juju's "update" semantics; `x_find` returns a borrowed pointer.
    - Parsing is total: any input, including binary junk and wrong node
      types, yields either a structure or an EN_NOT_VALID error naming the
      path; it never crashes or aborts.
    - Writing goes to a 0600 temp file in the same directory, fsync, rename,
      so a crash never leaves a half-written file (Juju's AtomicWriteFile).
    - Loading a file that does not exist yields an empty container, as Juju's
      readers do (no personal clouds, no credentials, no controllers).

    Implementation is split by topic: cloudfile.c (clouds.yaml), cloudspec.c
    (region lookup, built-in clouds, CloudByName, CloudSpec), credfile.c
    (credentials.yaml, finalize, secrets), ctrlfile.c (controllers.yaml),
    cloudyaml.c (libyaml node tree, scalar resolution, Go-style rendering),
    cloudio.c (emitter, atomic file I/O, key/value lists and string arrays)
    and cloudfile_list.c (the named lists above and the read/write skeleton
    the three files share); the last three are shared through
    cloudfile_int.h. */
#ifndef EN_CLOUDFILE_H
#define EN_CLOUDFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

//  --------------------------------------------------------------------------
//  Ordered key/value lists (cloud config, region config, credential attrs)

//  How a scalar resolved in YAML (YAML 1.1 as go-yaml v2 resolves it). Kept
//  with the text so that `use-floating-ip: true` and `k2: 2.0` are written
//  back as a bool and a number, and "123" stays a quoted string.
typedef enum {
    EN_YAML_STR = 0,
    EN_YAML_NULL,
    EN_YAML_BOOL,
    EN_YAML_INT,
    EN_YAML_FLOAT,
} en_yaml_type_t;

typedef struct {
    char *key;
    char *value; //  the scalar's text; "null" for EN_YAML_NULL
    en_yaml_type_t type;
} en_kv_t;

typedef struct {
    en_kv_t *items;
    size_t count;
} en_kvlist_t;

//  Borrowed value of key, or NULL when absent.
const char *en_kvlist_get(const en_kvlist_t *self, const char *key);
const en_kv_t *en_kvlist_find(const en_kvlist_t *self, const char *key);
//  Insert at the end, or replace the value of an existing key in place.
//  Returns 0, or -1 when out of memory.
int en_kvlist_set(en_kvlist_t *self, const char *key, const char *value, en_yaml_type_t type);
//  Returns true when the key was there.
bool en_kvlist_unset(en_kvlist_t *self, const char *key);
void en_kvlist_clear(en_kvlist_t *self);
//  dst must be empty (zeroed). Returns 0 or -1 (out of memory; dst cleared).
int en_kvlist_copy(en_kvlist_t *dst, const en_kvlist_t *src);
//  Same keys, values and types in the same order.
bool en_kvlist_equal(const en_kvlist_t *a, const en_kvlist_t *b);

//  --------------------------------------------------------------------------
//  Clouds (clouds.yaml)

typedef struct {
    char *name;
    char *endpoint;
    char *identity_endpoint;
    char *storage_endpoint;
} en_region_t;

typedef struct {
    char *region;
    en_kvlist_t attrs;
} en_region_config_t;

typedef struct {
    char *name;
    char *type;
    char *description;
    char **auth_types;
    size_t auth_type_count;
    char *endpoint;
    char *identity_endpoint;
    char *storage_endpoint;
    en_region_t *regions; //  YAML order; regions[0] is the default region
    size_t region_count;
    en_kvlist_t config; //  cloud-wide model config defaults
    en_region_config_t *region_config;
    size_t region_config_count;
} en_cloud_t;

typedef struct {
    en_cloud_t **items;
    size_t count;
} en_clouds_t;

//  A cloud with the given name and type (either may be NULL for "").
en_cloud_t *en_cloud_new(const char *name, const char *type);
void en_cloud_destroy(en_cloud_t **self_p);
en_cloud_t *en_cloud_dup(const en_cloud_t *self);
bool en_cloud_equal(const en_cloud_t *a, const en_cloud_t *b);
//  Replace a string field of a struct from this module (e.g. &cloud->endpoint).
int en_cloudfile_set_string(char **field, const char *value);
int en_cloud_add_auth_type(en_cloud_t *self, const char *auth_type);
//  Append a region, or replace the endpoints of one with the same name.
//  Endpoints may be NULL. Returns 0 or -1 (out of memory).
int en_cloud_add_region(en_cloud_t *self, const char *name, const char *endpoint,
                        const char *identity_endpoint, const char *storage_endpoint);
int en_cloud_set_config(en_cloud_t *self, const char *key, const char *value, en_yaml_type_t type);
int en_cloud_set_region_config(en_cloud_t *self, const char *region, const char *key,
                               const char *value, en_yaml_type_t type);
//  Borrowed region config of a region (exact name), or NULL.
const en_kvlist_t *en_cloud_region_config(const en_cloud_t *self, const char *region);
//  Juju's denormaliseMetadata: blank region endpoints inherit the cloud's.
//  Parsing already does this; call it after building a cloud by hand.
void en_cloud_denormalise(en_cloud_t *self);

//  Juju's cloud.RegionByName: case-insensitive. Unknown → EN_NOT_FOUND
//  `region "r" not found (expected one of ["a" "b"])` (names sorted), or
//  `region "r" not found (cloud has no regions)`. Returns a borrowed pointer.
const en_region_t *en_cloud_region_by_name(const en_cloud_t *self, const char *name, en_err_t *err);

en_clouds_t *en_clouds_new(void);
void en_clouds_destroy(en_clouds_t **self_p);
en_clouds_t *en_clouds_dup(const en_clouds_t *self);
bool en_clouds_equal(const en_clouds_t *a, const en_clouds_t *b);
en_cloud_t *en_clouds_find(const en_clouds_t *self, const char *name);
//  Takes ownership of *cloud_p; a cloud of the same name is replaced in place.
int en_clouds_add(en_clouds_t *self, en_cloud_t **cloud_p, en_err_t *err);
//  Returns true when a cloud of that name was removed.
bool en_clouds_remove(en_clouds_t *self, const char *name);

//  Parse clouds.yaml text (len bytes; need not be NUL-terminated). YAML
//  errors → EN_NOT_VALID `cannot unmarshal yaml cloud metadata: yaml: line N:
//  <libyaml problem>`; wrong shapes → the same prefix, then `line N: <path>:
//  expected ..., got ...`. Empty input is an empty list.
en_clouds_t *en_clouds_parse(const char *data, size_t len, en_err_t *err);
en_clouds_t *en_clouds_load(const char *path, en_err_t *err);
//  Juju's layout: type, description, auth-types (flow), endpoints, regions
//  (a region without endpoints as `{}`), config, region-config. Caller frees.
char *en_clouds_format(const en_clouds_t *self, en_err_t *err);
int en_clouds_save(const en_clouds_t *self, const char *path, en_err_t *err);

//  The clouds every installation has: `sim` (the embedded simulator; its
//  endpoint is left empty for the service to fill in) and Juju's `localhost`
//  (lxd). A new list; caller destroys.
en_clouds_t *en_builtin_clouds(void);

//  Juju's CloudByName: personal clouds (may be NULL) take precedence over the
//  built-ins. Returns a copy the caller destroys; nothing → EN_NOT_FOUND
//  `cloud <name> not found`.
en_cloud_t *en_cloud_by_name(const en_clouds_t *personal, const char *name, en_err_t *err);

//  --------------------------------------------------------------------------
//  Credentials (credentials.yaml)

typedef struct {
    char *name;
    char *auth_type;
    char *label;       //  for display only; never written to credentials.yaml
    en_kvlist_t attrs; //  every value is an EN_YAML_STR
} en_credential_t;

typedef struct {
    char *cloud;
    char *default_credential;
    char *default_region;
    en_credential_t **credentials;
    size_t count;
} en_cloud_credentials_t;

typedef struct {
    en_cloud_credentials_t **items;
    size_t count;
} en_credentials_t;

en_credential_t *en_credential_new(const char *name, const char *auth_type);
void en_credential_destroy(en_credential_t **self_p);
en_credential_t *en_credential_dup(const en_credential_t *self);
//  Compares name, auth-type and attributes (not the display label).
bool en_credential_equal(const en_credential_t *a, const en_credential_t *b);
const char *en_credential_attr(const en_credential_t *self, const char *key);
int en_credential_set_attr(en_credential_t *self, const char *key, const char *value);

en_cloud_credentials_t *en_cloud_credentials_new(const char *cloud);
void en_cloud_credentials_destroy(en_cloud_credentials_t **self_p);
en_cloud_credentials_t *en_cloud_credentials_dup(const en_cloud_credentials_t *self);
bool en_cloud_credentials_equal(const en_cloud_credentials_t *a, const en_cloud_credentials_t *b);
en_credential_t *en_cloud_credentials_find(const en_cloud_credentials_t *self, const char *name);
//  Takes ownership of *cred_p. `default-credential` and `default-region` are
//  reserved → EN_NOT_VALID.
int en_cloud_credentials_add(en_cloud_credentials_t *self, en_credential_t **cred_p, en_err_t *err);
bool en_cloud_credentials_remove(en_cloud_credentials_t *self, const char *name);

en_credentials_t *en_credentials_new(void);
void en_credentials_destroy(en_credentials_t **self_p);
en_credentials_t *en_credentials_dup(const en_credentials_t *self);
bool en_credentials_equal(const en_credentials_t *a, const en_credentials_t *b);
en_cloud_credentials_t *en_credentials_find(const en_credentials_t *self, const char *cloud);
int en_credentials_add(en_credentials_t *self, en_cloud_credentials_t **cc_p, en_err_t *err);
bool en_credentials_remove(en_credentials_t *self, const char *cloud);

//  Juju's ParseCredentials. Errors (EN_NOT_VALID), as Juju words them:
//    credentials.<cloud>.<cred>: missing auth-type
//    credentials.<cloud>.<cred>.<key>: expected string, got int(123)
//    credentials.<cloud>: expected map, got string("x")
//    cannot unmarshal yaml credentials: yaml: line N: <libyaml problem>
//  The auth-type is not checked against any schema here (Juju defers that to
//  FinalizeCredential).
en_credentials_t *en_credentials_parse(const char *data, size_t len, en_err_t *err);
en_credentials_t *en_credentials_load(const char *path, en_err_t *err);
char *en_credentials_format(const en_credentials_t *self, en_err_t *err);
int en_credentials_save(const en_credentials_t *self, const char *path, en_err_t *err);

//  --------------------------------------------------------------------------
//  Credential schemas (a provider's CredentialSchemas) — static tables

typedef struct {
    const char *name;
    const char *description;
    bool hidden;           //  a secret: masked when typed, dropped by remove_secrets
    const char *file_attr; //  e.g. "key-file": may be given instead, read from a file
    bool file_path;        //  the value is a path to an existing file
    bool optional;
    const char *const *options; //  allowed values, or NULL
    size_t option_count;
} en_cred_attr_t;

typedef struct {
    const char *auth_type;
    const en_cred_attr_t *attrs; //  ordered
    size_t attr_count;
} en_cred_schema_t;

//  Juju's cloud.FinalizeCredential. On success *out is a new credential (same
//  name and label) whose attributes follow the schema order: a FileAttr
//  pair's `*-file` attribute is replaced by the file's contents under the
//  plain name, and a FilePath value becomes the absolute, `~`-expanded path.
//  Errors: EN_NOT_SUPPORTED `auth-type "x" not supported`; EN_NOT_VALID
//  `unknown key "k" (value "v")`, `<name>: expected string, got nothing`,
//  `<name>: expected one of [a b], got "v"`, `specifying both "key" and
//  "key-file" not valid`, `either "key" or "key-file" must be specified`,
//  `empty file for "key" not valid`, `reading file for "key": ...`,
//  `file path must be an absolute path: <p>`, `invalid file path: <abs>`,
//  `file path must be a file: <abs>`.
int en_credential_finalize(const en_credential_t *cred, const en_cred_schema_t *schemas,
                           size_t schema_count, en_credential_t **out, en_err_t *err);

//  Juju's cloud.RemoveSecrets: a copy without the schema's Hidden attributes
//  (for listing). Unknown auth-type → EN_NOT_SUPPORTED.
en_credential_t *en_credential_remove_secrets(const en_credential_t *cred,
                                              const en_cred_schema_t *schemas, size_t schema_count,
                                              en_err_t *err);

//  --------------------------------------------------------------------------
//  Controllers (controllers.yaml)

typedef struct {
    char *name;
    char *uuid;
    char **api_endpoints;
    size_t api_endpoint_count;
    char *ca_cert;
    char *cloud;
    char *region;
    char *type;
    char *agent_version;
    int controller_machine_count;
    int machine_count; //  -1 when unknown (the key is then omitted)
} en_controller_t;

typedef struct {
    en_controller_t **items;
    size_t count;
    char *current_controller; //  "" when none
} en_controllers_t;

en_controller_t *en_controller_new(const char *name);
void en_controller_destroy(en_controller_t **self_p);
en_controller_t *en_controller_dup(const en_controller_t *self);
bool en_controller_equal(const en_controller_t *a, const en_controller_t *b);
int en_controller_add_api_endpoint(en_controller_t *self, const char *endpoint);

en_controllers_t *en_controllers_new(void);
void en_controllers_destroy(en_controllers_t **self_p);
en_controllers_t *en_controllers_dup(const en_controllers_t *self);
bool en_controllers_equal(const en_controllers_t *a, const en_controllers_t *b);
en_controller_t *en_controllers_find(const en_controllers_t *self, const char *name);
int en_controllers_add(en_controllers_t *self, en_controller_t **ctrl_p, en_err_t *err);
//  Removing the current controller clears current_controller.
bool en_controllers_remove(en_controllers_t *self, const char *name);
//  Unknown name → EN_NOT_FOUND `controller <name> not found`.
int en_controllers_set_current(en_controllers_t *self, const char *name, en_err_t *err);

//  YAML errors → EN_NOT_VALID `cannot unmarshal yaml controllers metadata: ...`.
en_controllers_t *en_controllers_parse(const char *data, size_t len, en_err_t *err);
en_controllers_t *en_controllers_load(const char *path, en_err_t *err);
char *en_controllers_format(const en_controllers_t *self, en_err_t *err);
int en_controllers_save(const en_controllers_t *self, const char *path, en_err_t *err);

//  --------------------------------------------------------------------------
//  CloudSpec (environs/cloudspec.go)

typedef struct {
    char *type;
    char *name;
    char *region;
    char *endpoint;
    char *identity_endpoint;
    char *storage_endpoint;
    en_credential_t *credential; //  owned copy, or NULL
} en_cloud_spec_t;

//  Juju's MakeCloudSpec. cloud_name NULL means cloud->name; region_name NULL
//  or "" keeps the cloud-level endpoints, otherwise the region's (found
//  case-insensitively) replace them. credential may be NULL; it is copied.
//  Unknown region → EN_NOT_FOUND `getting cloud region definition: region
//  "r" not found (expected one of [...])`. *spec is overwritten (not freed)
//  and must be released with en_cloud_spec_clear.
int en_make_cloud_spec(const en_cloud_t *cloud, const char *cloud_name, const char *region_name,
                       const en_credential_t *credential, en_cloud_spec_t *spec, en_err_t *err);
//  Juju's CloudSpec.Validate: EN_NOT_VALID `empty Type not valid` or
//  `cloud name "<n>" not valid`.
int en_cloud_spec_validate(const en_cloud_spec_t *spec, en_err_t *err);
//  Juju's names.IsValidCloud.
bool en_cloud_name_is_valid(const char *name);
//  Free the fields and zero the struct; safe on a zeroed or cleared spec.
void en_cloud_spec_clear(en_cloud_spec_t *spec);

#endif
