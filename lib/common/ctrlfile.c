/*  ctrlfile.c — controllers.yaml (Juju's jujuclient ControllerDetails).

    The layout follows jujuclient.ControllerDetails' yaml tags: uuid,
    api-endpoints (flow), ca-cert, cloud, region, type, agent-version,
    controller-machine-count, machine-count; then `current-controller` at the
    top. Fields Juju has and we do not model (dns-cache, public-hostname,
    active-controller-machine-count, proxy-config) are ignored on reading, as
    go-yaml ignores unknown keys. A multi-line ca-cert is written as a
    literal block, as go-yaml does. */
#include "common/cloudfile_int.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_PREFIX "cannot unmarshal yaml controllers metadata"

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
    en_controllers_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++)
        en_controller_destroy(&self->items[i]);
    free(self->items);
    free(self->current_controller);
    free(self);
    *self_p = NULL;
}

en_controller_t *
en_controllers_find(const en_controllers_t *self, const char *name)
{
    for (size_t i = 0; self && name && i < self->count; i++)
        if (strcmp(self->items[i]->name, name) == 0)
            return self->items[i];
    return NULL;
}

int
en_controllers_add(en_controllers_t *self, en_controller_t **ctrl_p, en_err_t *err)
{
    if (!ctrl_p || !*ctrl_p)
        return en_err_set(err, EN_NOT_VALID, "nil controller not valid");
    en_controller_t *ctrl = *ctrl_p;
    for (size_t i = 0; i < self->count; i++)
        if (strcmp(self->items[i]->name, ctrl->name) == 0) {
            en_controller_destroy(&self->items[i]);
            self->items[i] = ctrl;
            *ctrl_p = NULL;
            return 0;
        }
    if (en_cf_grow(&self->items, self->count, sizeof *self->items))
        return en_err_set(err, EN_INTERNAL, "adding controller: out of memory");
    self->items[self->count++] = ctrl;
    *ctrl_p = NULL;
    return 0;
}

bool
en_controllers_remove(en_controllers_t *self, const char *name)
{
    for (size_t i = 0; self && name && i < self->count; i++)
        if (strcmp(self->items[i]->name, name) == 0) {
            en_controller_destroy(&self->items[i]);
            memmove(&self->items[i], &self->items[i + 1],
                    (self->count - i - 1) * sizeof *self->items);
            self->count--;
            if (strcmp(self->current_controller, name) == 0)
                self->current_controller[0] = '\0';
            return true;
        }
    return false;
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
    if (!copy || !self)
        return copy;
    if (en_cloudfile_set_string(&copy->current_controller, self->current_controller))
        en_controllers_destroy(&copy);
    for (size_t i = 0; copy && i < self->count; i++) {
        en_controller_t *c = en_controller_dup(self->items[i]);
        if (!c || en_controllers_add(copy, &c, NULL)) {
            en_controller_destroy(&c);
            en_controllers_destroy(&copy);
        }
    }
    return copy;
}

bool
en_controllers_equal(const en_controllers_t *a, const en_controllers_t *b)
{
    if (!a || !b)
        return a == b;
    if (a->count != b->count || !en_cf_streq(a->current_controller, b->current_controller))
        return false;
    for (size_t i = 0; i < a->count; i++)
        if (!en_controller_equal(a->items[i], b->items[i]))
            return false;
    return true;
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
s_read_endpoints(en_ydoc_t *doc, const en_ynode_t *seq, const char *path, en_controller_t *c)
{
    if (en_ydoc_visit(doc))
        return -1;
    if (en_ynode_is_null(seq))
        return 0;
    if (seq->kind != EN_YNODE_SEQ)
        return en_ydoc_expected(doc, seq, path, "a sequence");
    for (size_t i = 0; i < seq->count; i++) {
        char sub[EN_YPATH_MAX];
        en_ypath_index(sub, path, i);
        char *ep = NULL;
        int rc = en_ydoc_string(doc, seq->items[i], sub, &ep);
        if (rc == 0 && en_controller_add_api_endpoint(c, ep))
            rc = en_err_set(doc->err, EN_INTERNAL, "%s: out of memory", doc->prefix);
        free(ep);
        if (rc)
            return -1;
    }
    return 0;
}

static int
s_read_controller(en_ydoc_t *doc, const en_ynode_t *body, const char *path, en_controller_t *c)
{
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
            rc = s_read_endpoints(doc, v, sub, c);
        else if (strcmp(k->value, "controller-machine-count") == 0)
            rc = s_read_int(doc, v, sub, &c->controller_machine_count);
        else if (strcmp(k->value, "machine-count") == 0)
            rc = s_read_int(doc, v, sub, &c->machine_count);
        if (rc)
            return -1;
    }
    return 0;
}

static int
s_read_controllers(en_ydoc_t *doc, en_controllers_t *ctrls)
{
    const en_ynode_t *root = doc->root;
    if (!root)
        return 0;
    if (en_ydoc_check_map(doc, root, "", true))
        return -1;
    for (size_t i = 0; root->kind == EN_YNODE_MAP && i < root->count; i += 2) {
        const en_ynode_t *k = root->items[i], *v = root->items[i + 1];
        if (k->kind != EN_YNODE_SCALAR)
            continue;
        if (strcmp(k->value, "current-controller") == 0) {
            if (en_ydoc_string(doc, v, "current-controller", &ctrls->current_controller))
                return -1;
            continue;
        }
        if (strcmp(k->value, "controllers") != 0)
            continue;
        if (en_ydoc_check_map(doc, v, "controllers", true))
            return -1;
        for (size_t j = 0; v->kind == EN_YNODE_MAP && j < v->count; j += 2) {
            char *name = NULL;
            if (en_ydoc_string(doc, v->items[j], "controllers", &name))
                return -1;
            char path[EN_YPATH_MAX];
            en_ypath(path, "controllers", name);
            en_controller_t *c = en_controller_new(name);
            free(name);
            if (!c)
                return en_err_set(doc->err, EN_INTERNAL, "%s: out of memory", doc->prefix);
            if (s_read_controller(doc, v->items[j + 1], path, c) ||
                en_controllers_add(ctrls, &c, doc->err)) {
                en_controller_destroy(&c);
                return -1;
            }
        }
    }
    return 0;
}

en_controllers_t *
en_controllers_parse(const char *data, size_t len, en_err_t *err)
{
    en_ydoc_t doc;
    if (en_ydoc_load(&doc, data, len, S_PREFIX, err))
        return NULL;
    en_controllers_t *ctrls = en_controllers_new();
    if (!ctrls)
        en_err_set(err, EN_INTERNAL, "%s: out of memory", S_PREFIX);
    else if (s_read_controllers(&doc, ctrls))
        en_controllers_destroy(&ctrls);
    en_ydoc_free(&doc);
    return ctrls;
}

en_controllers_t *
en_controllers_load(const char *path, en_err_t *err)
{
    char *data;
    size_t len;
    if (en_cf_read_file(path, &data, &len, err))
        return NULL;
    en_controllers_t *ctrls = data ? en_controllers_parse(data, len, err) : en_controllers_new();
    free(data);
    return ctrls;
}

//  ---------------------------------------------------------------------------
//  Writing

char *
en_controllers_format(const en_controllers_t *self, en_err_t *err)
{
    en_yemit_t e;
    if (en_yemit_begin(&e)) {
        en_err_set(err, EN_INTERNAL, "cannot marshal controllers: out of memory");
        return NULL;
    }
    en_yemit_map_start(&e, false);
    en_yemit_str(&e, "controllers");
    en_yemit_map_start(&e, false);
    for (size_t i = 0; self && i < self->count; i++) {
        const en_controller_t *c = self->items[i];
        char num[32];
        en_yemit_str(&e, c->name);
        en_yemit_map_start(&e, false);
        en_yemit_kv(&e, "uuid", c->uuid);
        en_yemit_str(&e, "api-endpoints");
        en_yemit_seq_start(&e, true);
        for (size_t j = 0; j < c->api_endpoint_count; j++)
            en_yemit_str(&e, c->api_endpoints[j]);
        en_yemit_seq_end(&e);
        en_yemit_kv(&e, "ca-cert", c->ca_cert);
        en_yemit_kv(&e, "cloud", c->cloud);
        en_yemit_kv_opt(&e, "region", c->region);
        en_yemit_kv_opt(&e, "type", c->type);
        en_yemit_kv_opt(&e, "agent-version", c->agent_version);
        en_yemit_str(&e, "controller-machine-count");
        snprintf(num, sizeof num, "%d", c->controller_machine_count);
        en_yemit_typed(&e, num, EN_YAML_INT);
        if (c->machine_count >= 0) {
            en_yemit_str(&e, "machine-count");
            snprintf(num, sizeof num, "%d", c->machine_count);
            en_yemit_typed(&e, num, EN_YAML_INT);
        }
        en_yemit_map_end(&e);
    }
    en_yemit_map_end(&e);
    if (self)
        en_yemit_kv_opt(&e, "current-controller", self->current_controller);
    en_yemit_map_end(&e);
    return en_yemit_end(&e, err);
}

int
en_controllers_save(const en_controllers_t *self, const char *path, en_err_t *err)
{
    char *text = en_controllers_format(self, err);
    if (!text)
        return -1;
    int rc = en_cf_write_file(path, text, strlen(text), err);
    free(text);
    return rc;
}
