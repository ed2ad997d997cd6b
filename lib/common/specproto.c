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
