/*  lxd_provider.c — the `lxd` provider's registration. Its credential and
    region concerns follow Juju's LXD 2.0 provider; compute lands with the
    LXD issue and answers NOT_IMPLEMENTED until then. */
#include <stdlib.h>
#include <string.h>

#include "providers/provider.h"

static const en_cred_schema_t s_schemas[] = {
    {.auth_type = "empty", .attrs = NULL, .attr_count = 0},
};

//  LXD 2.0 needs no secret: NewEmptyCloudCredential (§8.1).
static int
s_detect_credentials(en_cloud_credentials_t **out, en_err_t *err)
{
    return en_detect_empty_credential("localhost", NULL, out, err);
}

static int
s_detect_regions(en_region_t **regions, size_t *count, en_err_t *err)
{
    (void) err;
    *regions = calloc(1, sizeof(en_region_t));
    (*regions)[0].name = strdup("localhost");
    *count = 1;
    return 0;
}

static int
s_prepare_config(const en_cloud_spec_t *spec, json_t *cfg, en_err_t *err)
{
    (void) cfg;
    // Juju's LXD 2.0 provider validates the spec this way (statement 13)
    if (spec->endpoint && *spec->endpoint)
        return en_err_set(err, EN_NOT_VALID,
                          "validating cloud spec: non-empty endpoint \"%s\" not valid",
                          spec->endpoint);
    const char *auth = spec->credential ? spec->credential->auth_type : "empty";
    if (strcmp(auth, "empty") != 0)
        return en_err_set(err, EN_NOT_SUPPORTED,
                          "validating cloud spec: \"%s\" auth-type not supported", auth);
    return 0;
}

const en_provider_t en_lxd_provider = {
    .name = "lxd",
    .aliases = (const char *const[]){NULL},
    .schemas = s_schemas,
    .schema_count = 1,
    .detect_credentials = s_detect_credentials,
    .detect_regions = s_detect_regions,
    .prepare_config = s_prepare_config,
};
