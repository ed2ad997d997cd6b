/*  sim_provider.c — the `sim` provider's credential, region and config
    concerns (its compute, firewall and network drivers are sim_compute.c,
    on sim_cloud.c; its image metadata is sim_images.c). The sim cloud needs no
    secret, but accepts userpass so the schema machinery is exercised the
    way a real cloud's is. */
#include <stdlib.h>
#include <string.h>

#include "providers/provider.h"

static const en_cred_attr_t s_userpass_attrs[] = {
    {.name = "username", .description = "The username to authenticate with."},
    {.name = "password", .description = "The password for the specified username.",
     .hidden = true},
};

static const en_cred_schema_t s_schemas[] = {
    {.auth_type = "empty", .attrs = NULL, .attr_count = 0},
    {.auth_type = "userpass", .attrs = s_userpass_attrs, .attr_count = 2},
};

static int
s_detect_credentials(en_cloud_credentials_t **out, en_err_t *err)
{
    return en_detect_empty_credential("sim", "sim credential \"default\"", out, err);
}

static int
s_detect_regions(en_region_t **regions, size_t *count, en_err_t *err)
{
    (void) err;
    static const char *names[] = {"sim-east", "sim-west"};
    *regions = calloc(2, sizeof(en_region_t));
    for (int i = 0; i < 2; i++)
        (*regions)[i].name = strdup(names[i]);
    *count = 2;
    return 0;
}

static int
s_prepare_config(const en_cloud_spec_t *spec, json_t *cfg, en_err_t *err)
{
    (void) cfg;
    const char *auth = spec->credential ? spec->credential->auth_type : "empty";
    if (strcmp(auth, "empty") != 0 && strcmp(auth, "userpass") != 0)
        return en_err_set(err, EN_NOT_SUPPORTED,
                          "validating cloud spec: \"%s\" auth-type not supported", auth);
    return 0;
}

extern const en_compute_ops_t en_sim_compute;
extern const en_firewall_ops_t en_sim_firewall;
extern const en_network_ops_t en_sim_network;
int en_sim_image_sources(const en_cloud_spec_t *spec, const char *home, en_image_source_t **out,
                         size_t *count, en_err_t *err); // sim_images.c

const en_provider_t en_sim_provider = {
    .name = "sim",
    .aliases = (const char *const[]){NULL},
    .schemas = s_schemas,
    .schema_count = 2,
    .detect_credentials = s_detect_credentials,
    .detect_regions = s_detect_regions,
    .prepare_config = s_prepare_config,
    .compute = &en_sim_compute,
    .firewall = &en_sim_firewall,
    .network = &en_sim_network,
    .image_sources = en_sim_image_sources,
};
