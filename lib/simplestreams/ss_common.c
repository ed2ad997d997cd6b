/*  ss_common.c — JSON loading with positioned errors, string interning
    and Juju's cloud comparison, shared by the index, products and mirrors
    parsers. */
#include "simplestreams/ss_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t
s_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; // FNV-1a
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

int
ss_intern_init(ss_intern_t *self, en_arena_t *arena, size_t hint)
{
    self->arena = arena;
    self->cap = 1024;
    while (self->cap < hint * 2)
        self->cap *= 2;
    self->used = 0;
    self->slots = calloc(self->cap, sizeof *self->slots);
    return self->slots ? 0 : -1;
}

void
ss_intern_fini(ss_intern_t *self)
{
    free(self->slots);
    self->slots = NULL;
}

static int
s_grow(ss_intern_t *self)
{
    size_t cap = self->cap * 2;
    const char **slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < self->cap; i++) {
        if (!self->slots[i])
            continue;
        size_t j = s_hash(self->slots[i]) & (cap - 1);
        while (slots[j])
            j = (j + 1) & (cap - 1);
        slots[j] = self->slots[i];
    }
    free(self->slots);
    self->slots = slots;
    self->cap = cap;
    return 0;
}

const char *
ss_intern(ss_intern_t *self, const char *s)
{
    if (!s)
        return NULL;
    // keep the load under 1/2; on allocation failure fall back to a plain copy
    if (self->used * 2 >= self->cap && s_grow(self) < 0)
        return en_arena_strdup(self->arena, s);
    size_t j = s_hash(s) & (self->cap - 1);
    while (self->slots[j]) {
        if (strcmp(self->slots[j], s) == 0)
            return self->slots[j];
        j = (j + 1) & (self->cap - 1);
    }
    self->slots[j] = en_arena_strdup(self->arena, s);
    self->used++;
    return self->slots[j];
}

json_t *
ss_json_load(const char *buf, size_t len, const char *name, en_err_t *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(buf, len, 0, &jerr);
    if (!root)
        en_err_set(err, EN_NOT_VALID, "%s: invalid JSON at line %d column %d: %s", name, jerr.line,
                   jerr.column, jerr.text);
    return root;
}

const char *
ss_scalar_text(json_t *v, char *buf, size_t size)
{
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return buf;
    }
    if (json_is_real(v)) {
        snprintf(buf, size, "%.17g", json_real_value(v));
        return buf;
    }
    return NULL;
}

int
ss_opt_string(json_t *obj, const char *key, ss_intern_t *in, const char **out, const char *ctx,
              en_err_t *err)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return en_err_set(err, EN_NOT_VALID, "%s\"%s\" is not a string", ctx, key);
    *out = ss_intern(in, json_string_value(v));
    return 0;
}

int
ss_parse_clouds(json_t *obj, ss_intern_t *in, const en_ss_cloud_t **out, size_t *count,
                const char *ctx, en_err_t *err)
{
    *out = NULL;
    *count = 0;
    json_t *arr = json_object_get(obj, "clouds");
    if (!arr || json_is_null(arr))
        return 0;
    if (!json_is_array(arr))
        return en_err_set(err, EN_NOT_VALID, "%s\"clouds\" is not an array", ctx);
    size_t n = json_array_size(arr);
    en_ss_cloud_t *clouds = en_arena_array(in->arena, n ? n : 1, sizeof *clouds);
    for (size_t i = 0; i < n; i++) {
        json_t *c = json_array_get(arr, i);
        if (!json_is_object(c))
            return en_err_set(err, EN_NOT_VALID, "%scloud %zu is not an object", ctx, i);
        if (ss_opt_string(c, "region", in, &clouds[i].region, ctx, err) < 0 ||
            ss_opt_string(c, "endpoint", in, &clouds[i].endpoint, ctx, err) < 0)
            return -1;
    }
    *out = clouds;
    *count = n;
    return 0;
}

//  Region compared as Juju does: spaces removed, lower case.
static bool
s_region_equal(const char *a, const char *b)
{
    a = a ? a : "";
    b = b ? b : "";
    for (;;) {
        while (*a == ' ')
            a++;
        while (*b == ' ')
            b++;
        if (!*a || !*b)
            return !*a && !*b;
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return false;
        a++;
        b++;
    }
}

//  Endpoints equal when they differ only by one trailing "/".
static bool
s_endpoint_equal(const char *a, const char *b)
{
    a = a ? a : "";
    b = b ? b : "";
    size_t la = strlen(a), lb = strlen(b);
    size_t ta = la + (la == 0 || a[la - 1] != '/'), tb = lb + (lb == 0 || b[lb - 1] != '/');
    if (ta != tb)
        return false;
    size_t n = la < lb ? la : lb;
    if (memcmp(a, b, n) != 0)
        return false;
    // the longer one may only add the trailing slash
    return la == lb || (la > lb ? a[n] == '/' : b[n] == '/');
}

bool
en_ss_cloud_equal(const en_ss_cloud_t *a, const en_ss_cloud_t *b)
{
    return s_region_equal(a->region, b->region) && s_endpoint_equal(a->endpoint, b->endpoint);
}

bool
ss_cloud_listed(const en_ss_cloud_t *clouds, size_t n, const en_ss_cloud_t *cloud)
{
    for (size_t i = 0; i < n; i++)
        if (en_ss_cloud_equal(&clouds[i], cloud))
            return true;
    return false;
}

bool
ss_cloud_empty(const en_ss_cloud_t *c)
{
    return (!c->region || !*c->region) && (!c->endpoint || !*c->endpoint);
}

void
en_ss_strv_free(char **v, size_t count)
{
    if (!v)
        return;
    for (size_t i = 0; i < count; i++)
        free(v[i]);
    free(v);
}
