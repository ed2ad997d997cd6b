/*  ss_mirrors.c — Juju's mirror references and mirror metadata
    (docs/simplestreams.md §6). Both files are
    {"mirrors": {<content id>: [{...}, ...]}, "format", "updated"}; the
    reference file's format is not checked (Juju's own fixture says
    "index:1.0"), mirror metadata must say "mirrors:1.0". */
#include "simplestreams/ss_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct en_ss_mirrors {
    en_arena_t *arena;
    en_ss_mirror_t *v; //  file order: content id, then list order
    size_t count;
};

static int
s_parse_list(en_ss_mirrors_t *self, ss_intern_t *in, const char *cid, json_t *list,
             const char *name, en_err_t *err)
{
    char ctx[300];
    snprintf(ctx, sizeof ctx, "%s: mirrors \"%s\": ", name, cid);
    if (!json_is_array(list))
        return en_err_set(err, EN_NOT_VALID, "%sis not an array", ctx);
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *o = json_array_get(list, i);
        if (!json_is_object(o))
            return en_err_set(err, EN_NOT_VALID, "%sentry %zu is not an object", ctx, i);
        en_ss_mirror_t *m = &self->v[self->count];
        m->content_id = ss_intern(in, cid);
        if (ss_opt_string(o, "datatype", in, &m->datatype, ctx, err) < 0 ||
            ss_opt_string(o, "path", in, &m->path, ctx, err) < 0 ||
            ss_opt_string(o, "format", in, &m->format, ctx, err) < 0 ||
            ss_opt_string(o, "updated", in, &m->updated, ctx, err) < 0 ||
            ss_opt_string(o, "mirror", in, &m->mirror, ctx, err) < 0 ||
            ss_parse_clouds(o, in, &m->clouds, &m->cloud_count, ctx, err) < 0)
            return -1;
        if (!m->path)
            return en_err_set(err, EN_NOT_VALID, "%sentry %zu: \"path\" is missing", ctx, i);
        self->count++;
    }
    return 0;
}

en_ss_mirrors_t *
en_ss_mirrors_parse(const char *buf, size_t len, const char *name, const char *expect_format,
                    en_err_t *err)
{
    name = name ? name : "mirrors";
    json_t *root = ss_json_load(buf, len, name, err);
    if (!root)
        return NULL;
    ss_intern_t in = {0};
    en_ss_mirrors_t *self = calloc(1, sizeof *self);
    if (!self || !(self->arena = en_arena_new()) || ss_intern_init(&in, self->arena, 64) < 0) {
        en_err_set(err, EN_INTERNAL, "%s: out of memory", name);
        goto fail;
    }
    if (!json_is_object(root)) {
        en_err_set(err, EN_NOT_VALID, "%s: top level is not an object", name);
        goto fail;
    }
    if (expect_format) {
        const char *f = json_string_value(json_object_get(root, "format"));
        if (!f || strcmp(f, expect_format) != 0) {
            en_err_set(err, EN_NOT_VALID, "%s: format \"%s\" is not \"%s\"", name, f ? f : "",
                       expect_format);
            goto fail;
        }
    }
    json_t *mirrors = json_object_get(root, "mirrors");
    if (!json_is_object(mirrors)) {
        en_err_set(err, EN_NOT_VALID, "%s: \"mirrors\" is %s", name,
                   mirrors ? "not an object" : "missing");
        goto fail;
    }
    size_t total = 0;
    const char *cid;
    json_t *list;
    json_object_foreach(mirrors, cid, list) total +=
        json_is_array(list) ? json_array_size(list) : 0;
    self->v = en_arena_array(self->arena, total ? total : 1, sizeof *self->v);
    json_object_foreach(mirrors, cid, list)
    {
        if (s_parse_list(self, &in, cid, list, name, err) < 0)
            goto fail;
    }
    ss_intern_fini(&in);
    json_decref(root);
    return self;
fail:
    ss_intern_fini(&in);
    json_decref(root);
    en_ss_mirrors_destroy(&self);
    return NULL;
}

void
en_ss_mirrors_destroy(en_ss_mirrors_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    en_arena_destroy(&(*self_p)->arena);
    free(*self_p);
    *self_p = NULL;
}

size_t
en_ss_mirrors_count(const en_ss_mirrors_t *self)
{
    return self->count;
}

const en_ss_mirror_t *
en_ss_mirrors_at(const en_ss_mirrors_t *self, size_t i)
{
    return i < self->count ? &self->v[i] : NULL;
}

const en_ss_mirror_t *
en_ss_mirrors_select_ref(const en_ss_mirrors_t *self, const char *content_id,
                         const en_ss_cloud_t *cloud, const char *datatype)
{
    for (size_t i = 0; i < self->count; i++) {
        const en_ss_mirror_t *m = &self->v[i];
        if (strcmp(m->content_id, content_id) == 0 &&
            ss_cloud_listed(m->clouds, m->cloud_count, cloud) && m->datatype && datatype &&
            strcmp(m->datatype, datatype) == 0)
            return m;
    }
    // Juju's fallback: the first reference without clouds, datatype unchecked
    for (size_t i = 0; i < self->count; i++)
        if (strcmp(self->v[i].content_id, content_id) == 0 && self->v[i].cloud_count == 0)
            return &self->v[i];
    return NULL;
}

const en_ss_mirror_t *
en_ss_mirrors_select_mirror(const en_ss_mirrors_t *self, const char *content_id,
                            const en_ss_cloud_t *cloud)
{
    for (size_t i = 0; i < self->count; i++)
        if (strcmp(self->v[i].content_id, content_id) == 0 &&
            ss_cloud_listed(self->v[i].clouds, self->v[i].cloud_count, cloud))
            return &self->v[i];
    return NULL;
}
