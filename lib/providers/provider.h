/*  provider.h — the driver table every provider fills in.

    A provider is data plus function pointers, one group per concern
    (credentials, regions, config; compute, firewall and network come with
    their services). A NULL entry means the provider does not support that
    concern: callers answer NOT_SUPPORTED. Drivers take and return plain C
    structs and jansson values, never protobuf. */
#ifndef EN_PROVIDER_H
#define EN_PROVIDER_H

#include <jansson.h>

#include "common/cloudfile.h"
#include "common/err.h"

typedef struct {
    const char *name;
    const char *type; // "string", "bool", "int"
    const char *description;
    const char *default_json; // NULL = no default
    bool immutable;
    const char *const *options; // allowed string values, NULL-terminated, or NULL
} en_config_field_t;

typedef struct en_provider {
    const char *name;
    const char *const *aliases; // NULL-terminated
    // credentials
    const en_cred_schema_t *schemas;
    size_t schema_count;
    //  Credentials found in the environment; EN_NOT_FOUND when none.
    int (*detect_credentials)(en_cloud_credentials_t **out, en_err_t *err);
    //  Regions found in the environment; EN_NOT_FOUND when none.
    int (*detect_regions)(en_region_t **regions, size_t *count, en_err_t *err);
    // config
    const en_config_field_t *config_fields; // provider-specific, NULL-terminated by name
    //  Check the cloud spec and add deterministic provider values to cfg.
    int (*prepare_config)(const en_cloud_spec_t *spec, json_t *cfg, en_err_t *err);
} en_provider_t;

//  Providers compiled into this build, NULL-terminated.
const en_provider_t *const *en_providers_builtin(void);
//  By name (not alias); NULL when unknown.
const en_provider_t *en_provider_builtin(const char *name);

//  Juju's NewEmptyCloudCredential: {"default": {auth-type: empty}}, the
//  DetectCredentials answer of providers that need no secret. label may be
//  NULL. Returns 0, or -1 (EN_INTERNAL) when out of memory.
int en_detect_empty_credential(const char *cloud, const char *label, en_cloud_credentials_t **out,
                               en_err_t *err);

//  The schema every model config shares (Juju's environs/config), NULL-name
//  terminated.
const en_config_field_t *en_config_common_fields(void);

//  Validate cfg against the common and provider fields, fill defaults, and
//  check immutable fields against old (may be NULL). Juju's messages:
//  `<key>: expected bool, got string("x")`,
//  `cannot change firewall-mode from "instance" to "global"`.
int en_config_validate(const en_provider_t *provider, json_t *cfg, const json_t *old,
                       en_err_t *err);

//  Juju's UpgradeConfig: rename deprecated keys; idempotent.
int en_config_upgrade(json_t *cfg, en_err_t *err);

#endif
