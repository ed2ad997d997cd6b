/*  provider.c — the built-in provider list and the model config schema
    every provider shares (after Juju's environs/config). */
#include "providers/provider.h"

#include <stdlib.h>
#include <string.h>

extern const en_provider_t en_sim_provider;
extern const en_provider_t en_lxd_provider;

static const en_provider_t *const s_builtin[] = {&en_sim_provider, &en_lxd_provider, NULL};

const en_provider_t *const *
en_providers_builtin(void)
{
    return s_builtin;
}

const en_provider_t *
en_provider_builtin(const char *name)
{
    for (int i = 0; s_builtin[i]; i++)
        if (name && strcmp(s_builtin[i]->name, name) == 0)
            return s_builtin[i];
    return NULL;
}

int
en_detect_empty_credential(const char *cloud, const char *label, en_cloud_credentials_t **out,
                           en_err_t *err)
{
    en_cloud_credentials_t *cc = en_cloud_credentials_new(cloud);
    en_credential_t *cred = en_credential_new("default", "empty");
    if (!cc || !cred || (label && en_cloudfile_set_string(&cred->label, label)) ||
        en_cloud_credentials_add(cc, &cred, err)) {
        en_cloud_credentials_destroy(&cc);
        en_credential_destroy(&cred);
        return en_err_set(err, EN_INTERNAL, "detecting credentials: out of memory");
    }
    *out = cc;
    return 0;
}

static const char *const s_fw_modes[] = {"instance", "global", "none", NULL};
static const char *const s_streams[] = {"released", "proposed", "devel", "testing", "daily",
                                        NULL};
static const char *const s_harvest[] = {"all", "none", "unknown", "destroyed", NULL};

static const en_config_field_t s_common[] = {
    {"name", "string", "The name of the current model", NULL, true, NULL},
    {"type", "string", "Type of model, e.g. local, ec2", NULL, true, NULL},
    {"uuid", "string", "The UUID of the model", NULL, true, NULL},
    {"firewall-mode", "string",
     "The mode to use for network firewalling: instance (an individual firewall per instance), "
     "global (a single firewall for all instances) or none (no firewalling)",
     "\"instance\"", true, s_fw_modes},
    {"default-series", "string", "The default series of Ubuntu to use for deploying charms",
     "\"jammy\"", false, NULL},
    {"image-metadata-url", "string", "The URL at which the metadata used to locate OS image ids "
                                     "is located",
     "\"\"", false, NULL},
    {"image-stream", "string", "The simplestreams stream used to identify which image ids to "
                               "search when starting an instance",
     "\"released\"", false, s_streams},
    {"image-metadata-defaults-disabled", "bool",
     "Whether image metadata lookups skip the default sources (cloud-images.ubuntu.com)",
     "false", false, NULL},
    {"agent-metadata-url", "string", "URL of private stream", "\"\"", false, NULL},
    {"agent-stream", "string", "Version of Juju to use for deploy/upgrades", "\"released\"",
     false, s_streams},
    {"resource-tags", "string", "resource tags, space-separated key=value pairs", "\"\"", false,
     NULL},
    {"logging-config", "string", "The configuration string to use when configuring logging",
     "\"\"", false, NULL},
    {"development", "bool", "Whether the model is in development mode", "false", false, NULL},
    {"enable-os-refresh-update", "bool", "Whether newly provisioned instances should run their "
                                         "respective OS's update capability",
     "true", false, NULL},
    {"enable-os-upgrade", "bool", "Whether newly provisioned instances should run their "
                                  "respective OS's upgrade capability",
     "true", false, NULL},
    {"provisioner-harvest-mode", "string", "What to do with unknown machines", "\"destroyed\"",
     false, s_harvest},
    {NULL, NULL, NULL, NULL, false, NULL},
};

const en_config_field_t *
en_config_common_fields(void)
{
    return s_common;
}

//  Go's %#v-ish rendering that Juju's schema errors use.
static void
s_describe(const json_t *v, char *buf, size_t size)
{
    if (json_is_string(v))
        snprintf(buf, size, "string(\"%s\")", json_string_value(v));
    else if (json_is_boolean(v))
        snprintf(buf, size, "bool(%s)", json_is_true(v) ? "true" : "false");
    else if (json_is_integer(v))
        snprintf(buf, size, "int(%lld)", (long long) json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, size, "float64(%g)", json_real_value(v));
    else if (json_is_null(v))
        snprintf(buf, size, "nothing");
    else
        snprintf(buf, size, "%s", json_is_array(v) ? "list" : "map");
}

static int
s_check_field(const en_config_field_t *f, json_t *cfg, const json_t *old, en_err_t *err)
{
    json_t *v = json_object_get(cfg, f->name);
    if (!v || json_is_null(v)) {
        if (f->default_json) {
            json_t *d = json_loads(f->default_json, JSON_DECODE_ANY, NULL);
            json_object_set_new(cfg, f->name, d);
            v = d;
        }
        else
            return en_err_set(err, EN_NOT_VALID, "%s: expected %s, got nothing", f->name,
                              f->type);
    }
    char got[300];
    bool ok = strcmp(f->type, "string") == 0 ? json_is_string(v)
              : strcmp(f->type, "bool") == 0 ? json_is_boolean(v)
              : strcmp(f->type, "int") == 0  ? json_is_integer(v)
                                             : true;
    if (!ok) {
        s_describe(v, got, sizeof got);
        return en_err_set(err, EN_NOT_VALID, "%s: expected %s, got %s", f->name, f->type, got);
    }
    if (f->options && json_is_string(v)) {
        const char *s = json_string_value(v);
        bool found = false;
        for (int i = 0; f->options[i]; i++)
            found |= strcmp(f->options[i], s) == 0;
        if (!found) {
            if (strcmp(f->name, "firewall-mode") == 0)
                return en_err_set(err, EN_NOT_VALID, "invalid firewall mode in model "
                                                     "configuration: \"%s\"", s);
            return en_err_set(err, EN_NOT_VALID, "%s: unexpected value \"%s\"", f->name, s);
        }
    }
    if (f->immutable && old) {
        json_t *was = json_object_get(old, f->name);
        if (was && !json_equal(was, v)) {
            char a[300], b[300];
            if (json_is_string(was) && json_is_string(v))
                return en_err_set(err, EN_NOT_VALID, "cannot change %s from \"%s\" to \"%s\"",
                                  f->name, json_string_value(was), json_string_value(v));
            s_describe(was, a, sizeof a);
            s_describe(v, b, sizeof b);
            return en_err_set(err, EN_NOT_VALID, "cannot change %s from %s to %s", f->name, a, b);
        }
    }
    return 0;
}

static bool
s_uuid_valid(const char *s)
{
    if (strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !strchr("0123456789abcdef", s[i]))
            return false;
    }
    return true;
}

//  Juju's resourceTags: "k=v k2=v2", keys not under the reserved prefix.
static int
s_check_resource_tags(const char *tags, en_err_t *err)
{
    char *copy = strdup(tags ? tags : ""), *save = NULL;
    int rc = 0;
    for (char *kv = strtok_r(copy, " ", &save); kv && rc == 0; kv = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq) {
            rc = en_err_set(err, EN_NOT_VALID, "expected \"key=value\", got \"%s\"", kv);
            break;
        }
        *eq = '\0';
        if (strncmp(kv, "juju-", 5) == 0)
            rc = en_err_set(err, EN_NOT_VALID, "tag \"%s\" uses reserved prefix \"juju-\"", kv);
    }
    free(copy);
    return rc;
}

int
en_config_validate(const en_provider_t *provider, json_t *cfg, const json_t *old, en_err_t *err)
{
    if (!json_is_object(cfg))
        return en_err_set(err, EN_NOT_VALID, "model config must be a JSON object");
    for (const en_config_field_t *f = s_common; f->name; f++)
        if (s_check_field(f, cfg, old, err))
            return -1;
    if (provider && provider->config_fields)
        for (const en_config_field_t *f = provider->config_fields; f->name; f++)
            if (s_check_field(f, cfg, old, err))
                return -1;
    if (s_check_resource_tags(json_string_value(json_object_get(cfg, "resource-tags")), err))
        return -1;
    const char *uuid = json_string_value(json_object_get(cfg, "uuid"));
    if (!s_uuid_valid(uuid))
        return en_err_set(err, EN_NOT_VALID, "uuid: expected uuid, got string(\"%s\")", uuid);
    const char *name = json_string_value(json_object_get(cfg, "name"));
    if (!*name)
        return en_err_set(err, EN_NOT_VALID, "empty name in model configuration");
    if (provider && strcmp(json_string_value(json_object_get(cfg, "type")), provider->name) != 0)
        return en_err_set(err, EN_NOT_VALID, "cannot change type from \"%s\" to \"%s\"",
                          provider->name, json_string_value(json_object_get(cfg, "type")));
    return 0;
}

int
en_config_upgrade(json_t *cfg, en_err_t *err)
{
    if (!json_is_object(cfg))
        return en_err_set(err, EN_NOT_VALID, "model config must be a JSON object");
    static const char *renames[][2] = {{"tools-metadata-url", "agent-metadata-url"},
                                       {"tools-stream", "agent-stream"}};
    for (size_t i = 0; i < sizeof renames / sizeof renames[0]; i++) {
        json_t *v = json_object_get(cfg, renames[i][0]);
        if (!v)
            continue;
        // the new key wins when both are present
        if (!json_object_get(cfg, renames[i][1]))
            json_object_set(cfg, renames[i][1], v);
        json_object_del(cfg, renames[i][0]);
    }
    return 0;
}

void
en_instance_clear(en_instance_t *instance)
{
    if (!instance)
        return;
    free(instance->id);
    free(instance->name);
    free(instance->status);
    free(instance->status_message);
    for (size_t i = 0; i < instance->address_count; i++)
        free(instance->addresses[i]);
    free(instance->addresses);
    free(instance->arch);
    free(instance->zone);
    free(instance->instance_type);
    en_kvlist_clear(&instance->tags);
    memset(instance, 0, sizeof *instance);
}

void
en_instances_free(en_instance_t **instances_p, size_t count)
{
    if (!instances_p || !*instances_p)
        return;
    for (size_t i = 0; i < count; i++)
        en_instance_clear(&(*instances_p)[i]);
    free(*instances_p);
    *instances_p = NULL;
}

void
en_zones_free(en_zone_t **zones_p, size_t count)
{
    if (!zones_p || !*zones_p)
        return;
    for (size_t i = 0; i < count; i++)
        free((*zones_p)[i].name);
    free(*zones_p);
    *zones_p = NULL;
}

void
en_image_source_clear(en_image_source_t *source)
{
    if (!source)
        return;
    free(source->id);
    free(source->description);
    free(source->url);
    free(source->keyring_armored);
    memset(source, 0, sizeof *source);
}

void
en_image_sources_free(en_image_source_t **sources_p, size_t count)
{
    if (!sources_p || !*sources_p)
        return;
    for (size_t i = 0; i < count; i++)
        en_image_source_clear(&(*sources_p)[i]);
    free(*sources_p);
    *sources_p = NULL;
}

//  --------------------------------------------------------------------------
//  Network values

static void
s_strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void
en_subnet_clear(en_subnet_t *subnet)
{
    if (!subnet)
        return;
    free(subnet->id);
    free(subnet->cidr);
    s_strv_free(subnet->zones, subnet->zone_count);
    free(subnet->space_id);
    memset(subnet, 0, sizeof *subnet);
}

void
en_subnets_free(en_subnet_t **subnets_p, size_t count)
{
    if (!subnets_p || !*subnets_p)
        return;
    for (size_t i = 0; i < count; i++)
        en_subnet_clear(&(*subnets_p)[i]);
    free(*subnets_p);
    *subnets_p = NULL;
}

void
en_spaces_free(en_space_t **spaces_p, size_t count)
{
    if (!spaces_p || !*spaces_p)
        return;
    for (size_t i = 0; i < count; i++) {
        en_space_t *s = &(*spaces_p)[i];
        free(s->id);
        free(s->name);
        en_subnets_free(&s->subnets, s->subnet_count);
    }
    free(*spaces_p);
    *spaces_p = NULL;
}

void
en_nic_clear(en_nic_t *nic)
{
    if (!nic)
        return;
    free(nic->mac);
    free(nic->cidr);
    free(nic->provider_id);
    free(nic->subnet_id);
    free(nic->space_id);
    free(nic->vlan_id);
    free(nic->address_id);
    s_strv_free(nic->zones, nic->zone_count);
    free(nic->interface_name);
    free(nic->parent_interface_name);
    free(nic->interface_type);
    free(nic->config_type);
    free(nic->address);
    s_strv_free(nic->dns_servers, nic->dns_server_count);
    s_strv_free(nic->dns_search_domains, nic->dns_search_domain_count);
    free(nic->gateway);
    memset(nic, 0, sizeof *nic);
}

void
en_nics_free(en_nic_t **nics_p, size_t count)
{
    if (!nics_p || !*nics_p)
        return;
    for (size_t i = 0; i < count; i++)
        en_nic_clear(&(*nics_p)[i]);
    free(*nics_p);
    *nics_p = NULL;
}
