/*  cloudfile.c — clouds.yaml: clouds, the cloud list, reading and writing.

    The reader walks the node tree from cloudyaml.c with the shape of Juju's
    `cloudSet` (cloud/clouds.go): unknown keys are ignored as go-yaml ignores
    them, any scalar is accepted for a string field by its text, and a node of
    the wrong kind is an error naming its path. After reading, a cloud gets
    Juju's defaults: a description by name, else by type, and region
    endpoints left blank inherit the cloud's (denormaliseMetadata). The
    top level (`clouds:` and its names) and the list operations are
    cloudfile_list.c's; this file supplies one cloud's fields.

    The writer emits Juju's field order. A description equal to the default
    is not written, so reading a file and writing it back adds nothing the
    user did not write; region endpoints are written as held, which after
    denormalising is what Juju writes too. */
#include "common/cloudfile_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  ---------------------------------------------------------------------------
//  Cloud

en_cloud_t *
en_cloud_new(const char *name, const char *type)
{
    en_cloud_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->name = en_cf_strdup(name);
    self->type = en_cf_strdup(type);
    self->description = en_cf_strdup(NULL);
    self->endpoint = en_cf_strdup(NULL);
    self->identity_endpoint = en_cf_strdup(NULL);
    self->storage_endpoint = en_cf_strdup(NULL);
    if (!self->name || !self->type || !self->description || !self->endpoint ||
        !self->identity_endpoint || !self->storage_endpoint)
        en_cloud_destroy(&self);
    return self;
}

static void
s_region_free(en_region_t *r)
{
    free(r->name);
    free(r->endpoint);
    free(r->identity_endpoint);
    free(r->storage_endpoint);
}

void
en_cloud_destroy(en_cloud_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    en_cloud_t *self = *self_p;
    free(self->name);
    free(self->type);
    free(self->description);
    en_cf_strv_free(&self->auth_types, &self->auth_type_count);
    free(self->endpoint);
    free(self->identity_endpoint);
    free(self->storage_endpoint);
    for (size_t i = 0; i < self->region_count; i++)
        s_region_free(&self->regions[i]);
    free(self->regions);
    en_kvlist_clear(&self->config);
    for (size_t i = 0; i < self->region_config_count; i++) {
        free(self->region_config[i].region);
        en_kvlist_clear(&self->region_config[i].attrs);
    }
    free(self->region_config);
    free(self);
    *self_p = NULL;
}

int
en_cloud_add_auth_type(en_cloud_t *self, const char *auth_type)
{
    return en_cf_strv_push(&self->auth_types, &self->auth_type_count, auth_type);
}

int
en_cloud_add_region(en_cloud_t *self, const char *name, const char *endpoint,
                    const char *identity_endpoint, const char *storage_endpoint)
{
    en_region_t r = {en_cf_strdup(name), en_cf_strdup(endpoint), en_cf_strdup(identity_endpoint),
                     en_cf_strdup(storage_endpoint)};
    if (!r.name || !r.endpoint || !r.identity_endpoint || !r.storage_endpoint)
        goto fail;
    for (size_t i = 0; i < self->region_count; i++)
        if (strcmp(self->regions[i].name, r.name) == 0) {
            s_region_free(&self->regions[i]);
            self->regions[i] = r;
            return 0;
        }
    if (en_cf_grow(&self->regions, self->region_count, sizeof *self->regions))
        goto fail;
    self->regions[self->region_count++] = r;
    return 0;
fail:
    s_region_free(&r);
    return -1;
}

int
en_cloud_set_config(en_cloud_t *self, const char *key, const char *value, en_yaml_type_t type)
{
    return en_kvlist_set(&self->config, key, value, type);
}

const en_kvlist_t *
en_cloud_region_config(const en_cloud_t *self, const char *region)
{
    for (size_t i = 0; i < self->region_config_count; i++)
        if (en_cf_streq(self->region_config[i].region, region))
            return &self->region_config[i].attrs;
    return NULL;
}

//  The region-config entry for region, created empty when missing.
static en_kvlist_t *
s_region_config_entry(en_cloud_t *self, const char *region)
{
    en_kvlist_t *attrs = (en_kvlist_t *)en_cloud_region_config(self, region);
    if (attrs)
        return attrs;
    char *name = en_cf_strdup(region);
    if (!name ||
        en_cf_grow(&self->region_config, self->region_config_count, sizeof *self->region_config)) {
        free(name);
        return NULL;
    }
    en_region_config_t *rc = &self->region_config[self->region_config_count++];
    *rc = (en_region_config_t){.region = name};
    return &rc->attrs;
}

int
en_cloud_set_region_config(en_cloud_t *self, const char *region, const char *key, const char *value,
                           en_yaml_type_t type)
{
    en_kvlist_t *attrs = s_region_config_entry(self, region);
    return attrs ? en_kvlist_set(attrs, key, value, type) : -1;
}

void
en_cloud_denormalise(en_cloud_t *self)
{
    struct {
        size_t offset;
        const char *from;
    } fields[] = {
        {offsetof(en_region_t, endpoint), self->endpoint},
        {offsetof(en_region_t, identity_endpoint), self->identity_endpoint},
        {offsetof(en_region_t, storage_endpoint), self->storage_endpoint},
    };
    for (size_t i = 0; i < self->region_count; i++)
        for (size_t f = 0; f < 3; f++) {
            char **field = (char **)((char *)&self->regions[i] + fields[f].offset);
            //  Out of memory leaves the field blank, which is still valid.
            if (!**field && *fields[f].from)
                en_cloudfile_set_string(field, fields[f].from);
        }
}

en_cloud_t *
en_cloud_dup(const en_cloud_t *self)
{
    if (!self)
        return NULL;
    en_cloud_t *copy = en_cloud_new(self->name, self->type);
    if (!copy)
        return NULL;
    if (en_cloudfile_set_string(&copy->description, self->description) ||
        en_cloudfile_set_string(&copy->endpoint, self->endpoint) ||
        en_cloudfile_set_string(&copy->identity_endpoint, self->identity_endpoint) ||
        en_cloudfile_set_string(&copy->storage_endpoint, self->storage_endpoint) ||
        en_cf_strv_copy(&copy->auth_types, &copy->auth_type_count, self->auth_types,
                        self->auth_type_count) ||
        en_kvlist_copy(&copy->config, &self->config))
        goto fail;
    for (size_t i = 0; i < self->region_count; i++) {
        const en_region_t *r = &self->regions[i];
        if (en_cloud_add_region(copy, r->name, r->endpoint, r->identity_endpoint,
                                r->storage_endpoint))
            goto fail;
    }
    for (size_t i = 0; i < self->region_config_count; i++) {
        en_kvlist_t *attrs = s_region_config_entry(copy, self->region_config[i].region);
        if (!attrs || en_kvlist_copy(attrs, &self->region_config[i].attrs))
            goto fail;
    }
    return copy;
fail:
    en_cloud_destroy(&copy);
    return NULL;
}

bool
en_cloud_equal(const en_cloud_t *a, const en_cloud_t *b)
{
    if (!a || !b)
        return a == b;
    if (!en_cf_streq(a->name, b->name) || !en_cf_streq(a->type, b->type) ||
        !en_cf_streq(a->description, b->description) || !en_cf_streq(a->endpoint, b->endpoint) ||
        !en_cf_streq(a->identity_endpoint, b->identity_endpoint) ||
        !en_cf_streq(a->storage_endpoint, b->storage_endpoint) ||
        !en_cf_strv_equal(a->auth_types, a->auth_type_count, b->auth_types, b->auth_type_count) ||
        a->region_count != b->region_count || !en_kvlist_equal(&a->config, &b->config) ||
        a->region_config_count != b->region_config_count)
        return false;
    for (size_t i = 0; i < a->region_count; i++) {
        const en_region_t *x = &a->regions[i], *y = &b->regions[i];
        if (!en_cf_streq(x->name, y->name) || !en_cf_streq(x->endpoint, y->endpoint) ||
            !en_cf_streq(x->identity_endpoint, y->identity_endpoint) ||
            !en_cf_streq(x->storage_endpoint, y->storage_endpoint))
            return false;
    }
    for (size_t i = 0; i < a->region_config_count; i++)
        if (!en_cf_streq(a->region_config[i].region, b->region_config[i].region) ||
            !en_kvlist_equal(&a->region_config[i].attrs, &b->region_config[i].attrs))
            return false;
    return true;
}

//  ---------------------------------------------------------------------------
//  Cloud list (en_cf_list_t does the work)

static void
s_cloud_destroy(void *cloud_p)
{
    en_cloud_destroy(cloud_p);
}

static void *
s_cloud_dup(const void *cloud)
{
    return en_cloud_dup(cloud);
}

static bool
s_cloud_equal(const void *a, const void *b)
{
    return en_cloud_equal(a, b);
}

static const en_cf_list_t s_clouds = {
    .items_offset = offsetof(en_clouds_t, items),
    .count_offset = offsetof(en_clouds_t, count),
    .key_offset = offsetof(en_cloud_t, name),
    .nil_error = "nil cloud not valid",
    .oom_error = "adding cloud: out of memory",
    .destroy = s_cloud_destroy,
    .dup = s_cloud_dup,
    .equal = s_cloud_equal,
};

en_clouds_t *
en_clouds_new(void)
{
    return calloc(1, sizeof(en_clouds_t));
}

void
en_clouds_destroy(en_clouds_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    en_cf_list_clear(&s_clouds, *self_p);
    free(*self_p);
    *self_p = NULL;
}

en_cloud_t *
en_clouds_find(const en_clouds_t *self, const char *name)
{
    return en_cf_list_find(&s_clouds, self, name);
}

int
en_clouds_add(en_clouds_t *self, en_cloud_t **cloud_p, en_err_t *err)
{
    return en_cf_list_add(&s_clouds, self, cloud_p, err);
}

bool
en_clouds_remove(en_clouds_t *self, const char *name)
{
    return en_cf_list_remove(&s_clouds, self, name);
}

en_clouds_t *
en_clouds_dup(const en_clouds_t *self)
{
    en_clouds_t *copy = en_clouds_new();
    if (copy && en_cf_list_copy(&s_clouds, copy, self))
        en_clouds_destroy(&copy);
    return copy;
}

bool
en_clouds_equal(const en_clouds_t *a, const en_clouds_t *b)
{
    return en_cf_list_equal(&s_clouds, a, b);
}

//  ---------------------------------------------------------------------------
//  Default descriptions (cloud/clouds.go defaultCloudDescription)

static const char *const s_descriptions[][2] = {
    {"aws", "Amazon Web Services"},         {"aws-china", "Amazon China"},
    {"aws-gov", "Amazon (USA Government)"}, {"google", "Google Cloud Platform"},
    {"azure", "Microsoft Azure"},           {"azure-china", "Microsoft Azure China"},
    {"rackspace", "Rackspace Cloud"},       {"cloudsigma", "CloudSigma Cloud"},
    {"lxd", "LXD Container Hypervisor"},    {"maas", "Metal As A Service"},
    {"openstack", "Openstack Cloud"},       {"oracle", "Oracle Compute Cloud Service"},
    {"kubernetes", "A Kubernetes Cluster"},
};

static const char *
s_description_for(const char *key)
{
    for (size_t i = 0; i < sizeof s_descriptions / sizeof s_descriptions[0]; i++)
        if (strcmp(s_descriptions[i][0], key) == 0)
            return s_descriptions[i][1];
    return NULL;
}

//  By cloud name first, then by type; "" when neither is known.
static const char *
s_default_description(const en_cloud_t *cloud)
{
    const char *d = s_description_for(cloud->name);
    if (!d)
        d = s_description_for(cloud->type);
    return d ? d : "";
}

//  ---------------------------------------------------------------------------
//  Reading clouds.yaml

//  A mapping of scalars into an ordered list, keeping each scalar's type.
static int
s_read_kvlist(en_ydoc_t *doc, const en_ynode_t *map, const char *path, en_kvlist_t *out)
{
    if (en_ydoc_check_map(doc, map, path, true))
        return -1;
    for (size_t i = 0; map->kind == EN_YNODE_MAP && i < map->count; i += 2) {
        const en_ynode_t *value = map->items[i + 1];
        char *key = NULL;
        if (en_ydoc_string(doc, map->items[i], path, &key))
            return -1;
        char sub[EN_YPATH_MAX];
        en_ypath(sub, path, key);
        int rc = 0;
        if (en_ydoc_visit(doc))
            rc = -1;
        else if (value->kind != EN_YNODE_SCALAR)
            rc = en_ydoc_expected(doc, value, sub, "a scalar");
        else if (en_kvlist_set(out, key, value->value, en_ynode_type(value)))
            rc = en_err_set(doc->err, EN_INTERNAL, "%s: out of memory", doc->prefix);
        free(key);
        if (rc)
            return -1;
    }
    return 0;
}

static int
s_read_regions(en_ydoc_t *doc, const en_ynode_t *map, const char *path, en_cloud_t *cloud)
{
    if (en_ydoc_check_map(doc, map, path, true))
        return -1;
    for (size_t i = 0; map->kind == EN_YNODE_MAP && i < map->count; i += 2) {
        const en_ynode_t *body = map->items[i + 1];
        en_region_t r = {0};
        int rc = -1;
        if (en_ydoc_string(doc, map->items[i], path, &r.name))
            goto next;
        char sub[EN_YPATH_MAX];
        en_ypath(sub, path, r.name);
        //  A region with no fields may be written `name:` (null) or `{}`.
        if (en_ydoc_check_map(doc, body, sub, true))
            goto next;
        for (size_t j = 0; body->kind == EN_YNODE_MAP && j < body->count; j += 2) {
            const en_ynode_t *k = body->items[j];
            char **field = NULL;
            if (k->kind == EN_YNODE_SCALAR && strcmp(k->value, "endpoint") == 0)
                field = &r.endpoint;
            else if (k->kind == EN_YNODE_SCALAR && strcmp(k->value, "identity-endpoint") == 0)
                field = &r.identity_endpoint;
            else if (k->kind == EN_YNODE_SCALAR && strcmp(k->value, "storage-endpoint") == 0)
                field = &r.storage_endpoint;
            if (!field)
                continue;
            char fpath[EN_YPATH_MAX];
            en_ypath(fpath, sub, k->value);
            if (en_ydoc_string(doc, body->items[j + 1], fpath, field))
                goto next;
        }
        if (en_cloud_add_region(cloud, r.name, r.endpoint, r.identity_endpoint,
                                r.storage_endpoint)) {
            en_err_set(doc->err, EN_INTERNAL, "%s: out of memory", doc->prefix);
            goto next;
        }
        rc = 0;
    next:
        s_region_free(&r);
        if (rc)
            return -1;
    }
    return 0;
}

static int
s_read_region_config(en_ydoc_t *doc, const en_ynode_t *map, const char *path, en_cloud_t *cloud)
{
    if (en_ydoc_check_map(doc, map, path, true))
        return -1;
    for (size_t i = 0; map->kind == EN_YNODE_MAP && i < map->count; i += 2) {
        char *region = NULL;
        if (en_ydoc_string(doc, map->items[i], path, &region))
            return -1;
        char sub[EN_YPATH_MAX];
        en_ypath(sub, path, region);
        en_kvlist_t *attrs = s_region_config_entry(cloud, region);
        free(region);
        if (!attrs)
            return en_err_set(doc->err, EN_INTERNAL, "%s: out of memory", doc->prefix);
        if (s_read_kvlist(doc, map->items[i + 1], sub, attrs))
            return -1;
    }
    return 0;
}

static int
s_read_cloud(en_ydoc_t *doc, const en_ynode_t *body, const char *path, void *item)
{
    en_cloud_t *cloud = item;
    //  Juju would dereference nil for `name:` with no body; we refuse it.
    if (en_ydoc_check_map(doc, body, path, false))
        return -1;
    for (size_t i = 0; i < body->count; i += 2) {
        const en_ynode_t *k = body->items[i], *v = body->items[i + 1];
        if (k->kind != EN_YNODE_SCALAR)
            continue; //  not a field name: ignored like any unknown key
        char sub[EN_YPATH_MAX];
        en_ypath(sub, path, k->value);
        const char *key = k->value;
        int rc = 0;
        if (strcmp(key, "type") == 0)
            rc = en_ydoc_string(doc, v, sub, &cloud->type);
        else if (strcmp(key, "description") == 0)
            rc = en_ydoc_string(doc, v, sub, &cloud->description);
        else if (strcmp(key, "endpoint") == 0)
            rc = en_ydoc_string(doc, v, sub, &cloud->endpoint);
        else if (strcmp(key, "identity-endpoint") == 0)
            rc = en_ydoc_string(doc, v, sub, &cloud->identity_endpoint);
        else if (strcmp(key, "storage-endpoint") == 0)
            rc = en_ydoc_string(doc, v, sub, &cloud->storage_endpoint);
        else if (strcmp(key, "auth-types") == 0)
            rc = en_ydoc_strv(doc, v, sub, &cloud->auth_types, &cloud->auth_type_count);
        else if (strcmp(key, "regions") == 0)
            rc = s_read_regions(doc, v, sub, cloud);
        else if (strcmp(key, "config") == 0)
            rc = s_read_kvlist(doc, v, sub, &cloud->config);
        else if (strcmp(key, "region-config") == 0)
            rc = s_read_region_config(doc, v, sub, cloud);
        if (rc)
            return -1;
    }
    if (!*cloud->description &&
        en_cloudfile_set_string(&cloud->description, s_default_description(cloud)))
        return en_err_set(doc->err, EN_INTERNAL, "%s: out of memory", doc->prefix);
    en_cloud_denormalise(cloud);
    return 0;
}

//  ---------------------------------------------------------------------------
//  Writing clouds.yaml

static void
s_write_cloud(en_yemit_t *e, const void *item)
{
    const en_cloud_t *c = item;
    en_yemit_map_start(e, false);
    en_yemit_kv(e, "type", c->type); //  not omitempty in Juju
    if (strcmp(c->description, s_default_description(c)) != 0)
        en_yemit_kv_opt(e, "description", c->description);
    if (c->auth_type_count) {
        en_yemit_str(e, "auth-types");
        en_yemit_strv(e, c->auth_types, c->auth_type_count);
    }
    en_yemit_kv_opt(e, "endpoint", c->endpoint);
    en_yemit_kv_opt(e, "identity-endpoint", c->identity_endpoint);
    en_yemit_kv_opt(e, "storage-endpoint", c->storage_endpoint);
    if (c->region_count) {
        en_yemit_str(e, "regions");
        en_yemit_map_start(e, false);
        for (size_t i = 0; i < c->region_count; i++) {
            const en_region_t *r = &c->regions[i];
            en_yemit_str(e, r->name);
            //  Juju writes a region without endpoints as `{}`.
            bool empty = !*r->endpoint && !*r->identity_endpoint && !*r->storage_endpoint;
            en_yemit_map_start(e, empty);
            en_yemit_kv_opt(e, "endpoint", r->endpoint);
            en_yemit_kv_opt(e, "identity-endpoint", r->identity_endpoint);
            en_yemit_kv_opt(e, "storage-endpoint", r->storage_endpoint);
            en_yemit_map_end(e);
        }
        en_yemit_map_end(e);
    }
    if (c->config.count) {
        en_yemit_str(e, "config");
        en_yemit_kvlist(e, &c->config);
    }
    if (c->region_config_count) {
        en_yemit_str(e, "region-config");
        en_yemit_map_start(e, false);
        for (size_t i = 0; i < c->region_config_count; i++) {
            en_yemit_str(e, c->region_config[i].region);
            en_yemit_kvlist(e, &c->region_config[i].attrs);
        }
        en_yemit_map_end(e);
    }
    en_yemit_map_end(e);
}

//  ---------------------------------------------------------------------------
//  The file

static void *
s_cloud_create(const char *name)
{
    return en_cloud_new(name, NULL);
}

static const en_cf_file_t s_clouds_yaml = {
    .section = "clouds",
    .prefix = "cannot unmarshal yaml cloud metadata",
    .marshal = "cannot marshal cloud metadata",
    .list = &s_clouds,
    .create = s_cloud_create,
    .read = s_read_cloud,
    .write = s_write_cloud,
};

en_clouds_t *
en_clouds_parse(const char *data, size_t len, en_err_t *err)
{
    en_clouds_t *clouds = en_clouds_new();
    if (en_cf_parse(&s_clouds_yaml, data, len, clouds, err))
        en_clouds_destroy(&clouds);
    return clouds;
}

en_clouds_t *
en_clouds_load(const char *path, en_err_t *err)
{
    en_clouds_t *clouds = en_clouds_new();
    if (en_cf_load(&s_clouds_yaml, path, clouds, err))
        en_clouds_destroy(&clouds);
    return clouds;
}

char *
en_clouds_format(const en_clouds_t *self, en_err_t *err)
{
    return en_cf_format(&s_clouds_yaml, self, err);
}

int
en_clouds_save(const en_clouds_t *self, const char *path, en_err_t *err)
{
    return en_cf_save(&s_clouds_yaml, self, path, err);
}
