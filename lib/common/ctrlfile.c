/*  ctrlfile.c — controllers.yaml (Juju's jujuclient ControllerDetails).

    The layout follows jujuclient.ControllerDetails' yaml tags: uuid,
    api-endpoints (flow), ca-cert, cloud, region, type, agent-version,
    controller-machine-count, machine-count; then `current-controller` at the
    top. Fields Juju has and we do not model (dns-cache, public-hostname,
    active-controller-machine-count, proxy-config) are ignored on reading, as
    go-yaml ignores unknown keys. A multi-line ca-cert is written as a
    literal block, as go-yaml does. cloudfile_list.c reads and writes the
    top level; current-controller, the one other top-level key, is handed
    back here through the file descriptor. */
#include "common/cloudfile_int.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

en_controller_t *
en_controller_new(const char *name)
{
    en_controller_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->machine_count = -1;
    char **fields[] = {&self->name,   &self->uuid, &self->ca_cert,      &self->cloud,
                       &self->region, &self->type, &self->agent_version};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (!(*fields[i] = en_cf_strdup(i == 0 ? name : NULL))) {
            en_controller_destroy(&self);
            break;
        }
    return self;
}

void
en_controller_destroy(en_controller_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    en_controller_t *self = *self_p;
    free(self->name);
    free(self->uuid);
    en_cf_strv_free(&self->api_endpoints, &self->api_endpoint_count);
    free(self->ca_cert);
    free(self->cloud);
    free(self->region);
    free(self->type);
    free(self->agent_version);
    free(self);
    *self_p = NULL;
}

int
en_controller_add_api_endpoint(en_controller_t *self, const char *endpoint)
{
    return en_cf_strv_push(&self->api_endpoints, &self->api_endpoint_count, endpoint);
}

en_controller_t *
en_controller_dup(const en_controller_t *self)
{
    if (!self)
        return NULL;
    en_controller_t *copy = en_controller_new(self->name);
    if (!copy)
        return NULL;
    copy->controller_machine_count = self->controller_machine_count;
    copy->machine_count = self->machine_count;
    if (en_cloudfile_set_string(&copy->uuid, self->uuid) ||
        en_cloudfile_set_string(&copy->ca_cert, self->ca_cert) ||
        en_cloudfile_set_string(&copy->cloud, self->cloud) ||
        en_cloudfile_set_string(&copy->region, self->region) ||
        en_cloudfile_set_string(&copy->type, self->type) ||
        en_cloudfile_set_string(&copy->agent_version, self->agent_version) ||
        en_cf_strv_copy(&copy->api_endpoints, &copy->api_endpoint_count, self->api_endpoints,
                        self->api_endpoint_count))
        en_controller_destroy(&copy);
    return copy;
}

bool
en_controller_equal(const en_controller_t *a, const en_controller_t *b)
{
    if (!a || !b)
        return a == b;
    return en_cf_streq(a->name, b->name) && en_cf_streq(a->uuid, b->uuid) &&
           en_cf_strv_equal(a->api_endpoints, a->api_endpoint_count, b->api_endpoints,
                            b->api_endpoint_count) &&
           en_cf_streq(a->ca_cert, b->ca_cert) && en_cf_streq(a->cloud, b->cloud) &&
           en_cf_streq(a->region, b->region) && en_cf_streq(a->type, b->type) &&
           en_cf_streq(a->agent_version, b->agent_version) &&
           a->controller_machine_count == b->controller_machine_count &&
           a->machine_count == b->machine_count;
}

//  ---------------------------------------------------------------------------
//  Controller list (en_cf_list_t does the work)

static void
s_controller_destroy(void *ctrl_p)
{
    en_controller_destroy(ctrl_p);
}

static void *
s_controller_dup(const void *ctrl)
{
    return en_controller_dup(ctrl);
}

static bool
s_controller_equal(const void *a, const void *b)
{
    return en_controller_equal(a, b);
}

static const en_cf_list_t s_controllers = {
    .items_offset = offsetof(en_controllers_t, items),
    .count_offset = offsetof(en_controllers_t, count),
    .key_offset = offsetof(en_controller_t, name),
    .nil_error = "nil controller not valid",
    .oom_error = "adding controller: out of memory",
    .destroy = s_controller_destroy,
    .dup = s_controller_dup,
    .equal = s_controller_equal,
};

en_controllers_t *
en_controllers_new(void)
{
    en_controllers_t *self = calloc(1, sizeof *self);
    if (self && !(self->current_controller = en_cf_strdup(NULL))) {
        free(self);
        self = NULL;
    }
    return self;
}

void
en_controllers_destroy(en_controllers_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    en_cf_list_clear(&s_controllers, *self_p);
    free((*self_p)->current_controller);
    free(*self_p);
    *self_p = NULL;
}

en_controller_t *
en_controllers_find(const en_controllers_t *self, const char *name)
{
    return en_cf_list_find(&s_controllers, self, name);
}

int
en_controllers_add(en_controllers_t *self, en_controller_t **ctrl_p, en_err_t *err)
{
    return en_cf_list_add(&s_controllers, self, ctrl_p, err);
}

bool
en_controllers_remove(en_controllers_t *self, const char *name)
{
    if (!en_cf_list_remove(&s_controllers, self, name))
        return false;
    if (strcmp(self->current_controller, name) == 0)
        self->current_controller[0] = '\0';
    return true;
}

int
en_controllers_set_current(en_controllers_t *self, const char *name, en_err_t *err)
{
    if (!en_controllers_find(self, name))
        return en_err_set(err, EN_NOT_FOUND, "controller %s not found", name ? name : "");
    if (en_cloudfile_set_string(&self->current_controller, name))
        return en_err_set(err, EN_INTERNAL, "setting current controller: out of memory");
    return 0;
}

en_controllers_t *
en_controllers_dup(const en_controllers_t *self)
{
    en_controllers_t *copy = en_controllers_new();
    if (copy && self &&
        (en_cloudfile_set_string(&copy->current_controller, self->current_controller) ||
         en_cf_list_copy(&s_controllers, copy, self)))
        en_controllers_destroy(&copy);
    return copy;
}

bool
en_controllers_equal(const en_controllers_t *a, const en_controllers_t *b)
{
    if (!a || !b)
        return a == b;
    return en_cf_streq(a->current_controller, b->current_controller) &&
           en_cf_list_equal(&s_controllers, a, b);
}

//  ---------------------------------------------------------------------------
//  Reading

//  An int field: an int scalar within C's int; null leaves *out alone.
static int
s_read_int(en_ydoc_t *doc, const en_ynode_t *n, const char *path, int *out)
{
    if (en_ydoc_visit(doc))
        return -1;
    if (en_ynode_is_null(n))
        return 0;
    long long v;
    if (!en_ynode_int(n, &v) || v < INT_MIN || v > INT_MAX)
        return en_ydoc_expected(doc, n, path, "an int");
    *out = (int)v;
    return 0;
}

static int
s_read_controller(en_ydoc_t *doc, const en_ynode_t *body, const char *path, void *item)
{
    en_controller_t *c = item;
    if (en_ydoc_check_map(doc, body, path, false))
        return -1;
    for (size_t i = 0; i < body->count; i += 2) {
        const en_ynode_t *k = body->items[i], *v = body->items[i + 1];
        if (k->kind != EN_YNODE_SCALAR)
            continue;
        char sub[EN_YPATH_MAX];
        en_ypath(sub, path, k->value);
        static const struct {
            const char *key;
            size_t offset;
        } strings[] = {
            {"uuid", offsetof(en_controller_t, uuid)},
            {"ca-cert", offsetof(en_controller_t, ca_cert)},
            {"cloud", offsetof(en_controller_t, cloud)},
            {"region", offsetof(en_controller_t, region)},
            {"type", offsetof(en_controller_t, type)},
            {"agent-version", offsetof(en_controller_t, agent_version)},
        };
        int rc = 0;
        size_t f = 0;
        while (f < sizeof strings / sizeof strings[0] && strcmp(k->value, strings[f].key) != 0)
            f++;
        if (f < sizeof strings / sizeof strings[0])
            rc = en_ydoc_string(doc, v, sub, (char **)((char *)c + strings[f].offset));
        else if (strcmp(k->value, "api-endpoints") == 0)
            rc = en_ydoc_strv(doc, v, sub, &c->api_endpoints, &c->api_endpoint_count);
        else if (strcmp(k->value, "controller-machine-count") == 0)
            rc = s_read_int(doc, v, sub, &c->controller_machine_count);
        else if (strcmp(k->value, "machine-count") == 0)
            rc = s_read_int(doc, v, sub, &c->machine_count);
        if (rc)
            return -1;
    }
    return 0;
}

//  Top-level keys besides `controllers`: current-controller is the only one
//  we model.
static int
s_read_current(en_ydoc_t *doc, const en_ynode_t *value, const char *key, void *self)
{
    en_controllers_t *ctrls = self;
    if (strcmp(key, "current-controller") != 0)
        return 0;
    return en_ydoc_string(doc, value, key, &ctrls->current_controller);
}

//  ---------------------------------------------------------------------------
//  Writing

static void
s_write_controller(en_yemit_t *e, const void *item)
{
    const en_controller_t *c = item;
    char num[32];
    en_yemit_map_start(e, false);
    en_yemit_kv(e, "uuid", c->uuid);
    en_yemit_str(e, "api-endpoints");
    en_yemit_strv(e, c->api_endpoints, c->api_endpoint_count);
    en_yemit_kv(e, "ca-cert", c->ca_cert);
    en_yemit_kv(e, "cloud", c->cloud);
    en_yemit_kv_opt(e, "region", c->region);
    en_yemit_kv_opt(e, "type", c->type);
    en_yemit_kv_opt(e, "agent-version", c->agent_version);
    en_yemit_str(e, "controller-machine-count");
    snprintf(num, sizeof num, "%d", c->controller_machine_count);
    en_yemit_typed(e, num, EN_YAML_INT);
    if (c->machine_count >= 0) {
        en_yemit_str(e, "machine-count");
        snprintf(num, sizeof num, "%d", c->machine_count);
        en_yemit_typed(e, num, EN_YAML_INT);
    }
    en_yemit_map_end(e);
}

static void
s_write_current(en_yemit_t *e, const void *self)
{
    const en_controllers_t *ctrls = self;
    en_yemit_kv_opt(e, "current-controller", ctrls->current_controller);
}

//  ---------------------------------------------------------------------------
//  The file

static void *
s_controller_create(const char *name)
{
    return en_controller_new(name);
}

static const en_cf_file_t s_controllers_yaml = {
    .section = "controllers",
    .prefix = "cannot unmarshal yaml controllers metadata",
    .marshal = "cannot marshal controllers",
    .list = &s_controllers,
    .create = s_controller_create,
    .read = s_read_controller,
    .write = s_write_controller,
    .read_other = s_read_current,
    .write_other = s_write_current,
};

en_controllers_t *
en_controllers_parse(const char *data, size_t len, en_err_t *err)
{
    en_controllers_t *ctrls = en_controllers_new();
    if (en_cf_parse(&s_controllers_yaml, data, len, ctrls, err))
        en_controllers_destroy(&ctrls);
    return ctrls;
}

en_controllers_t *
en_controllers_load(const char *path, en_err_t *err)
{
    en_controllers_t *ctrls = en_controllers_new();
    if (en_cf_load(&s_controllers_yaml, path, ctrls, err))
        en_controllers_destroy(&ctrls);
    return ctrls;
}

char *
en_controllers_format(const en_controllers_t *self, en_err_t *err)
{
    return en_cf_format(&s_controllers_yaml, self, err);
}

int
en_controllers_save(const en_controllers_t *self, const char *path, en_err_t *err)
{
    return en_cf_save(&s_controllers_yaml, self, path, err);
}
