/*  cloudspec.c — lookups over cloud definitions: region by name, built-in
    clouds, CloudByName, and environs' CloudSpec.

    These follow Juju's Go closely because their messages are part of the
    contract (docs/juju-environs.md §1 statements 6–7, §8.2): regions match
    case-insensitively and an unknown region lists the known ones sorted;
    MakeCloudSpec swaps in the region's endpoints and annotates lookup
    failures; a cloud name is valid by juju/names' rule. */
#include "common/cloudfile_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

//  ---------------------------------------------------------------------------
//  Region lookup (cloud.RegionByName)

static int
s_strptr_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const en_region_t *
en_cloud_region_by_name(const en_cloud_t *self, const char *name, en_err_t *err)
{
    name = name ? name : "";
    for (size_t i = 0; i < self->region_count; i++)
        if (strcasecmp(self->regions[i].name, name) == 0) //  strings.EqualFold
            return &self->regions[i];
    char quoted[EN_ERR_MSG_MAX / 2];
    en_cf_go_quote(name, quoted, sizeof quoted);
    if (self->region_count == 0) {
        en_err_set(err, EN_NOT_FOUND, "region %s not found (cloud has no regions)", quoted);
        return NULL;
    }
    //  Go's %q of a sorted []string: ["a" "b"].
    const char **names = malloc(self->region_count * sizeof *names);
    if (!names) {
        en_err_set(err, EN_NOT_FOUND, "region %s not found", quoted);
        return NULL;
    }
    for (size_t i = 0; i < self->region_count; i++)
        names[i] = self->regions[i].name;
    qsort(names, self->region_count, sizeof *names, s_strptr_cmp);
    char list[EN_ERR_MSG_MAX];
    en_cf_go_list(names, self->region_count, true, list, sizeof list);
    free(names);
    en_err_set(err, EN_NOT_FOUND, "region %s not found (expected one of %s)", quoted, list);
    return NULL;
}

//  ---------------------------------------------------------------------------
//  Built-in clouds and CloudByName

static en_cloud_t *
s_builtin(const char *name, const char *type, const char *description,
          const char *const *auth_types, const char *const *regions)
{
    en_cloud_t *c = en_cloud_new(name, type);
    if (!c || en_cloudfile_set_string(&c->description, description))
        goto fail;
    for (; *auth_types; auth_types++)
        if (en_cloud_add_auth_type(c, *auth_types))
            goto fail;
    for (; *regions; regions++)
        if (en_cloud_add_region(c, *regions, NULL, NULL, NULL))
            goto fail;
    return c;
fail:
    en_cloud_destroy(&c);
    return NULL;
}

en_clouds_t *
en_builtin_clouds(void)
{
    //  sim's endpoint stays empty: the sim service fills in its database
    //  path. Its zones are the service's business, not clouds.yaml's.
    static const char *const sim_auth[] = {"empty", "userpass", NULL};
    static const char *const sim_regions[] = {"sim-east", "sim-west", NULL};
    //  Juju's only built-in (BuiltInClouds: lxdnames.DefaultCloud): the
    //  local daemon's socket needs no credential; certificate and
    //  interactive are for a daemon reached over HTTPS.
    static const char *const lxd_auth[] = {"empty", "certificate", "interactive", NULL};
    static const char *const lxd_regions[] = {"localhost", NULL};
    en_clouds_t *clouds = en_clouds_new();
    en_cloud_t *sim = s_builtin("sim", "sim", "Simulated cloud (embedded)", sim_auth, sim_regions);
    en_cloud_t *lxd =
        s_builtin("localhost", "lxd", "LXD Container Hypervisor", lxd_auth, lxd_regions);
    if (!clouds || !sim || !lxd || en_clouds_add(clouds, &sim, NULL) ||
        en_clouds_add(clouds, &lxd, NULL))
        en_clouds_destroy(&clouds);
    en_cloud_destroy(&sim);
    en_cloud_destroy(&lxd);
    return clouds;
}

en_cloud_t *
en_cloud_by_name(const en_clouds_t *personal, const char *name, en_err_t *err)
{
    name = name ? name : "";
    const en_cloud_t *found = en_clouds_find(personal, name);
    if (found) {
        en_cloud_t *copy = en_cloud_dup(found);
        if (!copy)
            en_err_set(err, EN_INTERNAL, "cloud %s: out of memory", name);
        return copy;
    }
    en_clouds_t *builtins = en_builtin_clouds();
    if (!builtins) {
        en_err_set(err, EN_INTERNAL, "cloud %s: out of memory", name);
        return NULL;
    }
    en_cloud_t *copy = NULL;
    found = en_clouds_find(builtins, name);
    if (!found)
        en_err_set(err, EN_NOT_FOUND, "cloud %s not found", name);
    else if (!(copy = en_cloud_dup(found)))
        en_err_set(err, EN_INTERNAL, "cloud %s: out of memory", name);
    en_clouds_destroy(&builtins);
    return copy;
}

//  ---------------------------------------------------------------------------
//  CloudSpec (environs/cloudspec.go)

bool
en_cloud_name_is_valid(const char *name)
{
    //  juju/names IsValidCloud: ^[a-zA-Z0-9][a-zA-Z0-9._-]{0,200}$. The docs
    //  do not state it; this is the regex of juju/names (cloud.go), whose
    //  older releases had no length cap.
    if (!name)
        return false;
    size_t n = strlen(name);
    if (n == 0 || n > 201)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
            return false;
    }
    return true;
}

void
en_cloud_spec_clear(en_cloud_spec_t *spec)
{
    if (!spec)
        return;
    free(spec->type);
    free(spec->name);
    free(spec->region);
    free(spec->endpoint);
    free(spec->identity_endpoint);
    free(spec->storage_endpoint);
    en_credential_destroy(&spec->credential);
    memset(spec, 0, sizeof *spec);
}

int
en_make_cloud_spec(const en_cloud_t *cloud, const char *cloud_name, const char *region_name,
                   const en_credential_t *credential, en_cloud_spec_t *spec, en_err_t *err)
{
    memset(spec, 0, sizeof *spec);
    const char *endpoint = cloud->endpoint, *identity = cloud->identity_endpoint,
               *storage = cloud->storage_endpoint;
    if (region_name && *region_name) {
        const en_region_t *r = en_cloud_region_by_name(cloud, region_name, err);
        if (!r)
            return en_err_annotate(err, "getting cloud region definition");
        endpoint = r->endpoint;
        identity = r->identity_endpoint;
        storage = r->storage_endpoint;
    }
    spec->type = en_cf_strdup(cloud->type);
    spec->name = en_cf_strdup(cloud_name ? cloud_name : cloud->name);
    spec->region = en_cf_strdup(region_name); //  as given, like Juju
    spec->endpoint = en_cf_strdup(endpoint);
    spec->identity_endpoint = en_cf_strdup(identity);
    spec->storage_endpoint = en_cf_strdup(storage);
    if (credential)
        spec->credential = en_credential_dup(credential);
    if (!spec->type || !spec->name || !spec->region || !spec->endpoint ||
        !spec->identity_endpoint || !spec->storage_endpoint || (credential && !spec->credential)) {
        en_cloud_spec_clear(spec);
        return en_err_set(err, EN_INTERNAL, "making cloud spec: out of memory");
    }
    return 0;
}

int
en_cloud_spec_validate(const en_cloud_spec_t *spec, en_err_t *err)
{
    if (!spec->type || !*spec->type)
        return en_err_set(err, EN_NOT_VALID, "empty Type not valid");
    if (!en_cloud_name_is_valid(spec->name)) {
        char quoted[EN_ERR_MSG_MAX / 2];
        en_cf_go_quote(spec->name ? spec->name : "", quoted, sizeof quoted);
        return en_err_set(err, EN_NOT_VALID, "cloud name %s not valid", quoted);
    }
    return 0;
}
