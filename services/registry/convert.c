/*  convert.c — between the plain C structs of lib/ and protobuf messages.
    Outgoing messages are built in the call's arena (nothing to free);
    incoming ones become owned C structs the caller destroys. */
#include <string.h>

#include "registry.h"

char **
convert_strv(en_arena_t *a, char *const *v, size_t n)
{
    char **out = en_arena_array(a, n ? n : 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        out[i] = en_arena_strdup(a, v[i]);
    return out;
}

static char *
s_str(en_arena_t *a, const char *s)
{
    return en_arena_strdup(a, s ? s : "");
}




static int
s_json_kv_set(json_t *v, const char *key, int (*set)(void *, const char *, const char *,
                                                   en_yaml_type_t),
              void *target)
{
    char buf[64];
    if (json_is_string(v))
        return set(target, key, json_string_value(v), EN_YAML_STR);
    if (json_is_boolean(v))
        return set(target, key, json_is_true(v) ? "true" : "false", EN_YAML_BOOL);
    if (json_is_integer(v)) {
        snprintf(buf, sizeof buf, "%lld", (long long) json_integer_value(v));
        return set(target, key, buf, EN_YAML_INT);
    }
    if (json_is_real(v)) {
        // the shortest text that reads back as the same double (Go's
        // strconv 'g', -1): "%g" alone would round 3.14159265 to 3.14159
        double d = json_real_value(v);
        for (int p = 1; p <= 17; p++) {
            snprintf(buf, sizeof buf, "%.*g", p, d);
            if (strtod(buf, NULL) == d)
                break;
        }
        return set(target, key, buf, EN_YAML_FLOAT);
    }
    return set(target, key, "null", EN_YAML_NULL);
}

static int
s_set_cloud_config(void *cloud, const char *k, const char *v, en_yaml_type_t t)
{
    return en_cloud_set_config(cloud, k, v, t);
}

typedef struct {
    en_cloud_t *cloud;
    const char *region;
} region_target_t;

static int
s_set_region_config(void *target, const char *k, const char *v, en_yaml_type_t t)
{
    region_target_t *rt = target;
    return en_cloud_set_region_config(rt->cloud, rt->region, k, v, t);
}

static json_t *
s_json_object(const char *text, const char *cloud, const char *what, en_err_t *err)
{
    json_t *o = json_loads(text, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        en_err_set(err, EN_NOT_VALID, "cloud \"%s\": %s is not a JSON object", cloud, what);
        return NULL;
    }
    return o;
}

//  config_json and region_config_json ("" = none) into the cloud's lists.
static int
s_cloud_config_from(en_cloud_t *c, const char *config, const char *region_config, en_err_t *err)
{
    const char *k;
    json_t *v;
    if (config && *config) {
        json_t *o = s_json_object(config, c->name, "config", err);
        if (!o)
            return -1;
        json_object_foreach(o, k, v) s_json_kv_set(v, k, s_set_cloud_config, c);
        json_decref(o);
    }
    if (region_config && *region_config) {
        json_t *o = s_json_object(region_config, c->name, "region config", err);
        if (!o)
            return -1;
        json_t *attrs;
        json_object_foreach(o, k, attrs)
        {
            if (!json_is_object(attrs)) {
                json_decref(o);
                return en_err_set(err, EN_NOT_VALID,
                                  "cloud \"%s\": region config of \"%s\" is not a JSON object",
                                  c->name, k);
            }
            region_target_t rt = {c, k};
            const char *ak;
            json_t *av;
            json_object_foreach(attrs, ak, av) s_json_kv_set(av, ak, s_set_region_config, &rt);
        }
        json_decref(o);
    }
    return 0;
}

en_cloud_t *
convert_cloud_from(const En__Cloud *m, en_err_t *err)
{
    if (!m || !m->name || !*m->name) {
        en_err_set(err, EN_NOT_VALID, "cloud has no name");
        return NULL;
    }
    if (!en_cloud_name_is_valid(m->name)) {
        en_err_set(err, EN_NOT_VALID, "cloud name \"%s\" not valid", m->name);
        return NULL;
    }
    if (!m->type || !*m->type) {
        en_err_set(err, EN_NOT_VALID, "cloud \"%s\": empty Type not valid", m->name);
        return NULL;
    }
    en_cloud_t *c = en_cloud_new(m->name, m->type);
    en_cloudfile_set_string(&c->description, m->description);
    en_cloudfile_set_string(&c->endpoint, m->endpoint);
    en_cloudfile_set_string(&c->identity_endpoint, m->identity_endpoint);
    en_cloudfile_set_string(&c->storage_endpoint, m->storage_endpoint);
    for (size_t i = 0; i < m->n_auth_types; i++)
        en_cloud_add_auth_type(c, m->auth_types[i]);
    for (size_t i = 0; i < m->n_regions; i++)
        en_cloud_add_region(c, m->regions[i]->name, m->regions[i]->endpoint,
                            m->regions[i]->identity_endpoint, m->regions[i]->storage_endpoint);
    if (s_cloud_config_from(c, m->config_json, m->region_config_json, err)) {
        en_cloud_destroy(&c);
        return NULL;
    }
    en_cloud_denormalise(c);
    return c;
}

En__Credential *
convert_credential(en_arena_t *a, const en_credential_t *c)
{
    En__Credential *m = en_arena_alloc(a, sizeof *m);
    en__credential__init(m);
    m->name = s_str(a, c->name);
    m->auth_type = s_str(a, c->auth_type);
    m->label = s_str(a, c->label);
    m->n_attributes = c->attrs.count;
    m->attributes = en_arena_array(a, c->attrs.count ? c->attrs.count : 1,
                                   sizeof(En__Credential__AttributesEntry *));
    for (size_t i = 0; i < c->attrs.count; i++) {
        En__Credential__AttributesEntry *e = en_arena_alloc(a, sizeof *e);
        en__credential__attributes_entry__init(e);
        e->key = s_str(a, c->attrs.items[i].key);
        e->value = s_str(a, c->attrs.items[i].value);
        m->attributes[i] = e;
    }
    return m;
}

En__CloudSpec *
convert_spec(en_arena_t *a, const en_cloud_spec_t *s, bool with_credential)
{
    En__CloudSpec *m = en_arena_alloc(a, sizeof *m);
    en__cloud_spec__init(m);
    m->type = s_str(a, s->type);
    m->name = s_str(a, s->name);
    m->region = s_str(a, s->region);
    m->endpoint = s_str(a, s->endpoint);
    m->identity_endpoint = s_str(a, s->identity_endpoint);
    m->storage_endpoint = s_str(a, s->storage_endpoint);
    if (with_credential && s->credential)
        m->credential = convert_credential(a, s->credential);
    return m;
}

En__ConfigAttrs *
convert_config(en_arena_t *a, const json_t *cfg)
{
    En__ConfigAttrs *m = en_arena_alloc(a, sizeof *m);
    en__config_attrs__init(m);
    char *text = json_dumps(cfg, JSON_COMPACT | JSON_SORT_KEYS);
    m->json = en_arena_strdup(a, text ? text : "{}");
    free(text);
    return m;
}

json_t *
convert_config_from(const En__ConfigAttrs *m, en_err_t *err)
{
    if (!m || !m->json || !*m->json)
        return json_object();
    json_error_t jerr;
    json_t *o = json_loads(m->json, 0, &jerr);
    if (!json_is_object(o)) {
        json_decref(o);
        en_err_set(err, EN_NOT_VALID, "model config is not a JSON object: %s",
                   o ? "not an object" : jerr.text);
        return NULL;
    }
    return o;
}
