/*  specproto.c — see specproto.h. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/specproto.h"

en_credential_t *
en_credential_from_proto(const En__Credential *m)
{
    if (!m)
        return NULL;
    en_credential_t *c = en_credential_new(m->name, m->auth_type);
    if (m->label && *m->label)
        en_cloudfile_set_string(&c->label, m->label);
    for (size_t i = 0; i < m->n_attributes; i++)
        en_credential_set_attr(c, m->attributes[i]->key, m->attributes[i]->value);
    return c;
}

static char *
s_copy(const char *text)
{
    char *copy = strdup(text ? text : "");
    if (!copy)
        abort();
    return copy;
}

en_cloud_spec_t *
en_cloud_spec_from_proto(const En__CloudSpec *m)
{
    en_cloud_spec_t *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    if (!m)
        return s;
    s->type = s_copy(m->type);
    s->name = s_copy(m->name);
    s->region = s_copy(m->region);
    s->endpoint = s_copy(m->endpoint);
    s->identity_endpoint = s_copy(m->identity_endpoint);
    s->storage_endpoint = s_copy(m->storage_endpoint);
    s->credential = en_credential_from_proto(m->credential);
    return s;
}

//  FNV-1a, 64 bits, over the packed credential (its name, auth type,
//  label and attributes, as the registry sent them).
static uint64_t
s_credential_hash(const En__Credential *c)
{
    uint64_t h = 14695981039346656037ULL;
    if (!c)
        return h;
    size_t n = protobuf_c_message_get_packed_size(&c->base);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        abort();
    protobuf_c_message_pack(&c->base, buf);
    for (size_t i = 0; i < n; i++)
        h = (h ^ buf[i]) * 1099511628211ULL;
    free(buf);
    return h;
}

char *
en_cloud_spec_proto_key(const En__CloudSpec *m)
{
    char *key = NULL;
    if (asprintf(&key, "%s|%s|%s|%s|%016llx", m->type, m->name, m->region, m->endpoint,
                 (unsigned long long)s_credential_hash(m->credential)) < 0)
        abort();
    return key;
}

//  --------------------------------------------------------------------------
//  Clouds

static char *
s_str(en_arena_t *a, const char *s)
{
    return en_arena_strdup(a, s ? s : "");
}

static char **
s_strv(en_arena_t *a, char *const *v, size_t n)
{
    char **out = en_arena_array(a, n ? n : 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        out[i] = en_arena_strdup(a, v[i]);
    return out;
}

json_t *
en_kvlist_to_json(const en_kvlist_t *kv)
{
    json_t *o = json_object();
    for (size_t i = 0; i < kv->count; i++) {
        const en_kv_t *e = &kv->items[i];
        json_t *v = NULL;
        if (e->type == EN_YAML_BOOL)
            v = json_boolean(strcmp(e->value, "true") == 0);
        else if (e->type == EN_YAML_INT)
            v = json_integer(strtoll(e->value, NULL, 10));
        else if (e->type == EN_YAML_FLOAT)
            v = json_real(strtod(e->value, NULL));
        else if (e->type == EN_YAML_NULL)
            v = json_null();
        else
            v = json_string(e->value);
        json_object_set_new(o, e->key, v);
    }
    return o;
}

static char *
s_json_text(en_arena_t *a, json_t *o)
{
    char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    char *out = en_arena_strdup(a, text);
    free(text);
    json_decref(o);
    return out;
}

En__Cloud *
en_cloud_to_proto(en_arena_t *a, const en_cloud_t *c)
{
    En__Cloud *m = en_arena_alloc(a, sizeof *m);
    en__cloud__init(m);
    m->name = s_str(a, c->name);
    m->type = s_str(a, c->type);
    m->description = s_str(a, c->description);
    m->n_auth_types = c->auth_type_count;
    m->auth_types = s_strv(a, c->auth_types, c->auth_type_count);
    m->endpoint = s_str(a, c->endpoint);
    m->identity_endpoint = s_str(a, c->identity_endpoint);
    m->storage_endpoint = s_str(a, c->storage_endpoint);
    m->n_regions = c->region_count;
    m->regions = en_arena_array(a, c->region_count ? c->region_count : 1, sizeof(En__Region *));
    for (size_t i = 0; i < c->region_count; i++) {
        En__Region *r = en_arena_alloc(a, sizeof *r);
        en__region__init(r);
        r->name = s_str(a, c->regions[i].name);
        r->endpoint = s_str(a, c->regions[i].endpoint);
        r->identity_endpoint = s_str(a, c->regions[i].identity_endpoint);
        r->storage_endpoint = s_str(a, c->regions[i].storage_endpoint);
        m->regions[i] = r;
    }
    m->config_json = c->config.count ? s_json_text(a, en_kvlist_to_json(&c->config)) : s_str(a, "");
    if (c->region_config_count) {
        json_t *o = json_object();
        for (size_t i = 0; i < c->region_config_count; i++)
            json_object_set_new(o, c->region_config[i].region,
                                en_kvlist_to_json(&c->region_config[i].attrs));
        m->region_config_json = s_json_text(a, o);
    }
    else
        m->region_config_json = s_str(a, "");
    return m;
}
