/*  ss_index.c — index documents ("index:1.0", docs/simplestreams.md §2)
    and Juju's GetProductsPath (§8.5) with a defined order.

    Entries keep file order (jansson keeps insertion order); selection
    returns every match in that order so the caller can take the first, as
    Juju does, but always the same first. */
#include "simplestreams/ss_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct en_ss_index {
    en_arena_t *arena;
    const char *format;
    const char *updated;
    en_ss_index_entry_t *entries;
    size_t count;
};

static int
s_parse_entry(en_ss_index_entry_t *e, const char *id, json_t *obj, ss_intern_t *in,
              const char *name, en_err_t *err)
{
    char ctx[300];
    snprintf(ctx, sizeof ctx, "%s: index entry \"%s\": ", name, id);
    e->content_id = ss_intern(in, id);
    if (ss_opt_string(obj, "format", in, &e->format, ctx, err) < 0 ||
        ss_opt_string(obj, "datatype", in, &e->datatype, ctx, err) < 0 ||
        ss_opt_string(obj, "path", in, &e->path, ctx, err) < 0 ||
        ss_opt_string(obj, "cloudname", in, &e->cloudname, ctx, err) < 0 ||
        ss_opt_string(obj, "updated", in, &e->updated, ctx, err) < 0)
        return -1;
    if (!e->path)
        return en_err_set(err, EN_NOT_VALID, "%s\"path\" is missing", ctx);
    json_t *prods = json_object_get(obj, "products");
    if (prods && !json_is_null(prods)) {
        if (!json_is_array(prods))
            return en_err_set(err, EN_NOT_VALID, "%s\"products\" is not an array", ctx);
        size_t n = json_array_size(prods);
        const char **v = en_arena_array(in->arena, n ? n : 1, sizeof *v);
        for (size_t i = 0; i < n; i++) {
            json_t *p = json_array_get(prods, i);
            if (!json_is_string(p))
                return en_err_set(err, EN_NOT_VALID, "%sproduct %zu is not a string", ctx, i);
            v[i] = ss_intern(in, json_string_value(p));
        }
        e->products = v;
        e->product_count = n;
    }
    return ss_parse_clouds(obj, in, &e->clouds, &e->cloud_count, ctx, err);
}

en_ss_index_t *
en_ss_index_parse(const char *buf, size_t len, const char *name, en_err_t *err)
{
    name = name ? name : "index";
    json_t *root = ss_json_load(buf, len, name, err);
    if (!root)
        return NULL;
    en_ss_index_t *self = calloc(1, sizeof *self);
    ss_intern_t in = {0};
    if (!self || !(self->arena = en_arena_new()) || ss_intern_init(&in, self->arena, 64) < 0) {
        en_err_set(err, EN_INTERNAL, "%s: out of memory", name);
        goto fail;
    }
    if (!json_is_object(root)) {
        en_err_set(err, EN_NOT_VALID, "%s: top level is not an object", name);
        goto fail;
    }
    char ctx[256];
    snprintf(ctx, sizeof ctx, "%s: ", name);
    if (ss_opt_string(root, "format", &in, &self->format, ctx, err) < 0 ||
        ss_opt_string(root, "updated", &in, &self->updated, ctx, err) < 0)
        goto fail;
    if (self->format && strcmp(self->format, "index:1.0") != 0) {
        en_err_set(err, EN_NOT_VALID, "%s: format \"%s\" is not \"index:1.0\"", name, self->format);
        goto fail;
    }
    json_t *index = json_object_get(root, "index");
    if (!index) {
        en_err_set(err, EN_NOT_VALID, "%s: \"index\" is missing", name);
        goto fail;
    }
    if (!json_is_object(index)) {
        en_err_set(err, EN_NOT_VALID, "%s: \"index\" is not an object", name);
        goto fail;
    }
    size_t n = json_object_size(index);
    self->entries = en_arena_array(self->arena, n ? n : 1, sizeof *self->entries);
    const char *id;
    json_t *v;
    json_object_foreach(index, id, v)
    {
        // multipass puts "updated"/"format" strings inside "index": skip them
        if (!json_is_object(v))
            continue;
        if (s_parse_entry(&self->entries[self->count], id, v, &in, name, err) < 0)
            goto fail;
        self->count++;
    }
    ss_intern_fini(&in);
    json_decref(root);
    return self;
fail:
    ss_intern_fini(&in);
    json_decref(root);
    en_ss_index_destroy(&self);
    return NULL;
}

void
en_ss_index_destroy(en_ss_index_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    en_arena_destroy(&(*self_p)->arena);
    free(*self_p);
    *self_p = NULL;
}

const char *
en_ss_index_format(const en_ss_index_t *self)
{
    return self->format;
}

const char *
en_ss_index_updated(const en_ss_index_t *self)
{
    return self->updated;
}

size_t
en_ss_index_count(const en_ss_index_t *self)
{
    return self->count;
}

const en_ss_index_entry_t *
en_ss_index_entry(const en_ss_index_t *self, size_t i)
{
    return i < self->count ? &self->entries[i] : NULL;
}

const en_ss_index_entry_t *
en_ss_index_find(const en_ss_index_t *self, const char *content_id)
{
    for (size_t i = 0; i < self->count; i++)
        if (strcmp(self->entries[i].content_id, content_id) == 0)
            return &self->entries[i];
    return NULL;
}

static bool
s_in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s && strcmp(s, list[i]) == 0)
            return true;
    return false;
}

static bool
s_has_product(const en_ss_index_entry_t *e, const en_ss_index_query_t *q)
{
    for (size_t i = 0; i < e->product_count; i++)
        if (s_in_list(e->products[i], q->product_ids, q->product_id_count))
            return true;
    return false;
}

//  Go's %q of a []string: ["a" "b"], cut to fit the error message.
static void
s_quote_list(char *buf, size_t size, const char *const *v, size_t n)
{
    size_t off = (size_t)snprintf(buf, size, "[");
    for (size_t i = 0; i < n && off < size; i++)
        off += (size_t)snprintf(buf + off, size - off, "%s\"%s\"", i ? " " : "", v[i]);
    if (off < size)
        snprintf(buf + off, size - off, "]");
}

//  Entries are kept in file order; content ids are unique keys of "index",
//  so file order alone is total and "then content id" never has to act.
en_ss_result_t
en_ss_index_select(const en_ss_index_t *self, const en_ss_index_query_t *q,
                   const en_ss_index_entry_t **matches, size_t max, size_t *count, en_err_t *err)
{
    *count = 0;
    const char *datatype = q->datatype ? q->datatype : "";
    size_t by_type = 0, by_cloud = 0;
    bool any_cloud = ss_cloud_empty(&q->cloud);
    for (size_t i = 0; i < self->count; i++) {
        const en_ss_index_entry_t *e = &self->entries[i];
        if (q->content_id_count && !s_in_list(e->content_id, q->content_ids, q->content_id_count))
            continue;
        if (!e->datatype || strcmp(e->datatype, datatype) != 0)
            continue;
        by_type++;
        if (!any_cloud && e->cloud_count && !ss_cloud_listed(e->clouds, e->cloud_count, &q->cloud))
            continue;
        by_cloud++;
        if (!s_has_product(e, q))
            continue;
        if (*count < max)
            matches[*count] = e;
        (*count)++;
    }
    if (by_type == 0) {
        en_err_set(err, EN_NOT_FOUND, "\"%s\" data not found", datatype);
        return EN_SS_ERROR;
    }
    if (by_cloud == 0) {
        en_err_set(err, EN_NOT_FOUND, "index file has no data for cloud {%s %s} not found",
                   q->cloud.region ? q->cloud.region : "",
                   q->cloud.endpoint ? q->cloud.endpoint : "");
        return EN_SS_ERROR;
    }
    if (*count == 0) {
        char list[EN_ERR_MSG_MAX];
        s_quote_list(list, sizeof list, q->product_ids, q->product_id_count);
        en_err_set(err, EN_NOT_FOUND, "index file has no data for product name(s) %s", list);
        return EN_SS_NO_MATCH;
    }
    return EN_SS_FOUND;
}
