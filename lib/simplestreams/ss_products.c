/*  ss_products.c — products documents ("products:1.0", docs/simplestreams.md
    §3-§5) parsed once into a compact, immutable tree.

    Design: the jansson DOM lives only during en_ss_products_parse. Each
    level (top, product, version, item) keeps its own scalar attributes in
    an arena (strings interned), `_aliases` already applied, and points to
    its parent, so inheritance is a walk of at most four short arrays
    (en_ss_item_get) instead of copying every inherited value into 7,000
    items. Products are sorted by id for binary search; versions are sorted
    bytewise descending, so [0] is the newest; items keep file order.

    `_aliases` (§5) are applied to the attributes of every level, like
    Python's expand_data (Juju only does items; real data only has them on
    items). Alias values override. Inheritance covers every scalar key,
    like Python's products_exdata — which includes Juju's string fields and
    also root_store/virt at version level (Juju's quirk not kept). */
#include "simplestreams/ss_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct en_ss_products {
    en_arena_t *arena;
    const en_ss_attr_t *attrs;
    size_t attr_count;
    en_ss_product_t *products; //  sorted by id
    size_t count;
    size_t version_total, item_total;
};

typedef struct {
    ss_intern_t in;
    json_t *aliases; //  borrowed from the DOM, or NULL
    en_ss_attr_t *tmp;
    size_t tmp_cap;
    const char *name;
    en_err_t *err;
} builder_t;

static int
s_tmp_put(builder_t *b, size_t *n, const char *key, const char *value, bool override)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(b->tmp[i].key, key) == 0) {
            if (override)
                b->tmp[i].value = value;
            return 0;
        }
    if (*n == b->tmp_cap) {
        size_t cap = b->tmp_cap ? b->tmp_cap * 2 : 32;
        en_ss_attr_t *t = realloc(b->tmp, cap * sizeof *t);
        if (!t)
            return en_err_set(b->err, EN_INTERNAL, "%s: out of memory", b->name);
        b->tmp = t;
        b->tmp_cap = cap;
    }
    b->tmp[(*n)++] = (en_ss_attr_t){key, value};
    return 0;
}

//  Scalar members of obj (minus `skip`), aliases applied, copied to the arena.
static int
s_attrs(builder_t *b, json_t *obj, const char *skip, const en_ss_attr_t **out, size_t *count)
{
    size_t n = 0;
    const char *key;
    json_t *v;
    char num[64];
    json_object_foreach(obj, key, v)
    {
        if (skip && strcmp(key, skip) == 0)
            continue;
        const char *text = ss_scalar_text(v, num, sizeof num);
        if (text && s_tmp_put(b, &n, ss_intern(&b->in, key), ss_intern(&b->in, text), true) < 0)
            return -1;
    }
    if (b->aliases) {
        // iterate over a snapshot of the original keys: alias values never chain
        size_t orig = n;
        for (size_t i = 0; i < orig; i++) {
            json_t *map =
                json_object_get(json_object_get(b->aliases, b->tmp[i].key), b->tmp[i].value);
            if (!json_is_object(map))
                continue;
            const char *k;
            json_t *av;
            json_object_foreach(map, k, av)
            {
                const char *text = ss_scalar_text(av, num, sizeof num);
                if (text &&
                    s_tmp_put(b, &n, ss_intern(&b->in, k), ss_intern(&b->in, text), true) < 0)
                    return -1;
            }
        }
    }
    en_ss_attr_t *a = en_arena_array(b->in.arena, n ? n : 1, sizeof *a);
    memcpy(a, b->tmp, n * sizeof *a);
    *out = a;
    *count = n;
    return 0;
}

static int
s_cmp_version_desc(const void *a, const void *b)
{
    return strcmp(((const en_ss_version_t *)b)->key, ((const en_ss_version_t *)a)->key);
}

static int
s_cmp_product(const void *a, const void *b)
{
    return strcmp(((const en_ss_product_t *)a)->id, ((const en_ss_product_t *)b)->id);
}

static int
s_parse_version(builder_t *b, en_ss_products_t *doc, en_ss_version_t *ver, const char *pid,
                const char *key, json_t *obj)
{
    if (!json_is_object(obj))
        return en_err_set(b->err, EN_NOT_VALID,
                          "%s: product \"%s\" version \"%s\" is not an object", b->name, pid, key);
    ver->key = ss_intern(&b->in, key);
    if (s_attrs(b, obj, "items", &ver->attrs, &ver->attr_count) < 0)
        return -1;
    json_t *items = json_object_get(obj, "items");
    if (!items)
        return en_err_set(b->err, EN_NOT_VALID,
                          "%s: product \"%s\" version \"%s\": \"items\" is missing", b->name, pid,
                          key);
    if (!json_is_object(items))
        return en_err_set(b->err, EN_NOT_VALID,
                          "%s: product \"%s\" version \"%s\": \"items\" is not an object", b->name,
                          pid, key);
    size_t n = json_object_size(items);
    en_ss_item_t *v = en_arena_array(b->in.arena, n ? n : 1, sizeof *v);
    size_t i = 0;
    const char *ik;
    json_t *iv;
    json_object_foreach(items, ik, iv)
    {
        if (!json_is_object(iv))
            return en_err_set(b->err, EN_NOT_VALID,
                              "%s: product \"%s\" version \"%s\" item \"%s\" is not an object",
                              b->name, pid, key, ik);
        v[i].key = ss_intern(&b->in, ik);
        v[i].version = ver;
        if (s_attrs(b, iv, NULL, &v[i].attrs, &v[i].attr_count) < 0)
            return -1;
        i++;
    }
    ver->items = v;
    ver->item_count = n;
    doc->item_total += n;
    return 0;
}

static int
s_parse_product(builder_t *b, en_ss_products_t *doc, en_ss_product_t *p, const char *id,
                json_t *obj)
{
    if (!json_is_object(obj))
        return en_err_set(b->err, EN_NOT_VALID, "%s: product \"%s\" is not an object", b->name, id);
    p->id = ss_intern(&b->in, id);
    p->doc = doc;
    if (s_attrs(b, obj, "versions", &p->attrs, &p->attr_count) < 0)
        return -1;
    json_t *versions = json_object_get(obj, "versions");
    if (!versions)
        return en_err_set(b->err, EN_NOT_VALID, "%s: product \"%s\": \"versions\" is missing",
                          b->name, id);
    if (!json_is_object(versions))
        return en_err_set(b->err, EN_NOT_VALID, "%s: product \"%s\": \"versions\" is not an object",
                          b->name, id);
    size_t n = json_object_size(versions);
    en_ss_version_t *v = en_arena_array(b->in.arena, n ? n : 1, sizeof *v);
    size_t i = 0;
    const char *vk;
    json_t *vv;
    json_object_foreach(versions, vk, vv)
    {
        v[i].product = p;
        if (s_parse_version(b, doc, &v[i], id, vk, vv) < 0)
            return -1;
        i++;
    }
    qsort(v, n, sizeof *v, s_cmp_version_desc);
    // items point at their version: fix them up after the move
    for (i = 0; i < n; i++)
        for (size_t j = 0; j < v[i].item_count; j++)
            ((en_ss_item_t *)v[i].items)[j].version = &v[i];
    p->versions = v;
    p->version_count = n;
    doc->version_total += n;
    return 0;
}

en_ss_products_t *
en_ss_products_parse(const char *buf, size_t len, const char *name, en_err_t *err)
{
    name = name ? name : "products";
    json_t *root = ss_json_load(buf, len, name, err);
    if (!root)
        return NULL;
    builder_t b = {.name = name, .err = err};
    en_ss_products_t *self = calloc(1, sizeof *self);
    if (!self || !(self->arena = en_arena_new()) ||
        ss_intern_init(&b.in, self->arena, len / 64) < 0) {
        en_err_set(err, EN_INTERNAL, "%s: out of memory", name);
        goto fail;
    }
    if (!json_is_object(root)) {
        en_err_set(err, EN_NOT_VALID, "%s: top level is not an object", name);
        goto fail;
    }
    json_t *format = json_object_get(root, "format");
    if (format && !json_is_string(format)) {
        en_err_set(err, EN_NOT_VALID, "%s: \"format\" is not a string", name);
        goto fail;
    }
    if (format && strcmp(json_string_value(format), "products:1.0") != 0) {
        en_err_set(err, EN_NOT_VALID, "%s: format \"%s\" is not \"products:1.0\"", name,
                   json_string_value(format));
        goto fail;
    }
    json_t *aliases = json_object_get(root, "_aliases");
    b.aliases = json_is_object(aliases) ? aliases : NULL;
    json_t *products = json_object_get(root, "products");
    if (!products) {
        en_err_set(err, EN_NOT_VALID, "%s: \"products\" is missing", name);
        goto fail;
    }
    if (!json_is_object(products)) {
        en_err_set(err, EN_NOT_VALID, "%s: \"products\" is not an object", name);
        goto fail;
    }
    if (s_attrs(&b, root, "products", &self->attrs, &self->attr_count) < 0)
        goto fail;
    size_t n = json_object_size(products);
    self->products = en_arena_array(self->arena, n ? n : 1, sizeof *self->products);
    const char *id;
    json_t *pv;
    json_object_foreach(products, id, pv)
    {
        if (s_parse_product(&b, self, &self->products[self->count], id, pv) < 0)
            goto fail;
        self->count++;
    }
    qsort(self->products, self->count, sizeof *self->products, s_cmp_product);
    // versions point at their product: fix them up after the move
    for (size_t i = 0; i < self->count; i++)
        for (size_t j = 0; j < self->products[i].version_count; j++)
            ((en_ss_version_t *)self->products[i].versions)[j].product = &self->products[i];
    ss_intern_fini(&b.in);
    free(b.tmp);
    json_decref(root);
    return self;
fail:
    ss_intern_fini(&b.in);
    free(b.tmp);
    json_decref(root);
    en_ss_products_destroy(&self);
    return NULL;
}

void
en_ss_products_destroy(en_ss_products_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    en_arena_destroy(&(*self_p)->arena);
    free(*self_p);
    *self_p = NULL;
}

static const char *
s_attr(const en_ss_attr_t *a, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(a[i].key, key) == 0)
            return a[i].value;
    return NULL;
}

const char *
en_ss_products_get(const en_ss_products_t *self, const char *key)
{
    return s_attr(self->attrs, self->attr_count, key);
}

const char *
en_ss_products_content_id(const en_ss_products_t *self)
{
    return en_ss_products_get(self, "content_id");
}

const char *
en_ss_products_datatype(const en_ss_products_t *self)
{
    return en_ss_products_get(self, "datatype");
}

size_t
en_ss_products_count(const en_ss_products_t *self)
{
    return self->count;
}

const en_ss_product_t *
en_ss_products_at(const en_ss_products_t *self, size_t i)
{
    return i < self->count ? &self->products[i] : NULL;
}

const en_ss_product_t *
en_ss_products_find(const en_ss_products_t *self, const char *product_id)
{
    size_t lo = 0, hi = self->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(self->products[mid].id, product_id);
        if (c == 0)
            return &self->products[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

size_t
en_ss_products_version_total(const en_ss_products_t *self)
{
    return self->version_total;
}

size_t
en_ss_products_item_total(const en_ss_products_t *self)
{
    return self->item_total;
}

const char *
en_ss_item_get(const en_ss_item_t *item, const char *key)
{
    const char *v = s_attr(item->attrs, item->attr_count, key);
    if (v)
        return v;
    const en_ss_version_t *ver = item->version;
    if ((v = s_attr(ver->attrs, ver->attr_count, key)))
        return v;
    const en_ss_product_t *p = ver->product;
    if ((v = s_attr(p->attrs, p->attr_count, key)))
        return v;
    return s_attr(p->doc->attrs, p->doc->attr_count, key);
}

int
en_ss_item_get_int(const en_ss_item_t *item, const char *key, int64_t *out, en_err_t *err)
{
    const char *v = en_ss_item_get(item, key);
    if (!v)
        return en_err_set(err, EN_NOT_VALID, "item \"%s\" has no \"%s\"", item->key, key);
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || end == v || *end)
        return en_err_set(err, EN_NOT_VALID, "item \"%s\": \"%s\" is not an integer: \"%s\"",
                          item->key, key, v);
    *out = n;
    return 0;
}

int
en_ss_item_foreach(const en_ss_item_t *item,
                   int (*fn)(const char *key, const char *value, void *arg), void *arg)
{
    const en_ss_version_t *ver = item->version;
    const en_ss_product_t *p = ver->product;
    const en_ss_attr_t *levels[4] = {item->attrs, ver->attrs, p->attrs, p->doc->attrs};
    size_t counts[4] = {item->attr_count, ver->attr_count, p->attr_count, p->doc->attr_count};
    for (int l = 0; l < 4; l++)
        for (size_t i = 0; i < counts[l]; i++) {
            bool shadowed = false;
            for (int m = 0; m < l && !shadowed; m++)
                shadowed = s_attr(levels[m], counts[m], levels[l][i].key) != NULL;
            if (shadowed)
                continue;
            int rc = fn(levels[l][i].key, levels[l][i].value, arg);
            if (rc)
                return rc;
        }
    return 0;
}

const char *
en_ss_item_product_id(const en_ss_item_t *item)
{
    return item->version->product->id;
}

const char *
en_ss_item_version_key(const en_ss_item_t *item)
{
    return item->version->key;
}
