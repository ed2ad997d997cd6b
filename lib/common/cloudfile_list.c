/*  cloudfile_list.c — named lists, and the skeleton the three cloud files
    share.

    clouds.yaml, credentials.yaml and controllers.yaml are each a top-level
    mapping whose one interesting key maps names to entries, held in C as an
    array of owned pointers keyed by a name field. Lookup, Juju's
    replace-in-place "update", removal, copying and comparison are the same
    for every such list, and so are reading the top level (null is an empty
    file, duplicate names are refused, unknown keys are ignored), writing it,
    and reading a sequence of strings (auth-types, api-endpoints); they live
    here once, driven by the descriptors in cloudfile_int.h.
    What differs — fields, defaults, error voices — stays in cloudfile.c,
    credfile.c and ctrlfile.c.

    The list functions reach `T **items` as `void **`: the same pattern as
    en_cf_grow, relying on every object pointer having one representation. */
#include "common/cloudfile_int.h"

#include <stdlib.h>
#include <string.h>

//  ---------------------------------------------------------------------------
//  Named lists

static void ***
s_items(const en_cf_list_t *d, const void *self)
{
    return (void ***)((char *)self + d->items_offset);
}

static size_t *
s_count(const en_cf_list_t *d, const void *self)
{
    return (size_t *)((char *)self + d->count_offset);
}

static const char *
s_key(const en_cf_list_t *d, const void *item)
{
    return *(char *const *)((const char *)item + d->key_offset);
}

//  Index of the item with key, or the count when there is none.
static size_t
s_index(const en_cf_list_t *d, const void *self, const char *key)
{
    void **items = *s_items(d, self);
    size_t count = *s_count(d, self);
    for (size_t i = 0; key && i < count; i++)
        if (strcmp(s_key(d, items[i]), key) == 0)
            return i;
    return count;
}

void *
en_cf_list_find(const en_cf_list_t *d, const void *self, const char *key)
{
    if (!self)
        return NULL;
    size_t i = s_index(d, self, key);
    return i < *s_count(d, self) ? (*s_items(d, self))[i] : NULL;
}

int
en_cf_list_add(const en_cf_list_t *d, void *self, void *item_p, en_err_t *err)
{
    void **item = item_p;
    if (!item || !*item)
        return en_err_set(err, EN_NOT_VALID, "%s", d->nil_error);
    void ***items = s_items(d, self);
    size_t *count = s_count(d, self);
    size_t i = s_index(d, self, s_key(d, *item));
    if (i < *count)
        d->destroy(&(*items)[i]);
    else if (en_cf_grow(items, *count, sizeof **items))
        return en_err_set(err, EN_INTERNAL, "%s", d->oom_error);
    else
        (*count)++;
    (*items)[i] = *item;
    *item = NULL;
    return 0;
}

bool
en_cf_list_remove(const en_cf_list_t *d, void *self, const char *key)
{
    if (!self)
        return false;
    void **items = *s_items(d, self);
    size_t *count = s_count(d, self);
    size_t i = s_index(d, self, key);
    if (i == *count)
        return false;
    d->destroy(&items[i]);
    memmove(&items[i], &items[i + 1], (*count - i - 1) * sizeof *items);
    (*count)--;
    return true;
}

int
en_cf_list_copy(const en_cf_list_t *d, void *dst, const void *src)
{
    for (size_t i = 0; src && i < *s_count(d, src); i++) {
        void *item = d->dup((*s_items(d, src))[i]);
        if (!item || en_cf_list_add(d, dst, &item, NULL)) {
            d->destroy(&item);
            return -1;
        }
    }
    return 0;
}

bool
en_cf_list_equal(const en_cf_list_t *d, const void *a, const void *b)
{
    if (!a || !b)
        return a == b;
    size_t count = *s_count(d, a);
    if (count != *s_count(d, b))
        return false;
    for (size_t i = 0; i < count; i++)
        if (!d->equal((*s_items(d, a))[i], (*s_items(d, b))[i]))
            return false;
    return true;
}

void
en_cf_list_clear(const en_cf_list_t *d, void *self)
{
    void ***items = s_items(d, self);
    size_t *count = s_count(d, self);
    for (size_t i = 0; i < *count; i++)
        d->destroy(&(*items)[i]);
    free(*items);
    *items = NULL;
    *count = 0;
}

void
en_cf_list_emit(en_yemit_t *e, const en_cf_list_t *d, const void *self, en_cf_write_fn *write)
{
    for (size_t i = 0; self && i < *s_count(d, self); i++) {
        const void *item = (*s_items(d, self))[i];
        en_yemit_str(e, s_key(d, item));
        write(e, item);
    }
}

//  ---------------------------------------------------------------------------
//  Reading a cloud file

int
en_ydoc_strv(en_ydoc_t *doc, const en_ynode_t *seq, const char *path, char ***v, size_t *count)
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
        //  Push "" and read over it in place: nothing to free on failure.
        if (en_cf_strv_push(v, count, ""))
            return en_err_set(doc->err, EN_INTERNAL, "%s: out of memory", doc->prefix);
        if (en_ydoc_string(doc, seq->items[i], sub, &(*v)[*count - 1]))
            return -1;
    }
    return 0;
}

//  The list's mapping: each `name: body` becomes a new item named name, read
//  from body and added. go-yaml's own level, hence errors in doc->prefix's
//  voice; the list reader (f->read) may speak in another.
static int
s_read_section(en_ydoc_t *doc, const en_cf_file_t *f, const en_ynode_t *map, void *self)
{
    if (en_ydoc_check_map(doc, map, f->section, true))
        return -1;
    for (size_t i = 0; map->kind == EN_YNODE_MAP && i < map->count; i += 2) {
        char *name = NULL;
        if (en_ydoc_string(doc, map->items[i], f->section, &name))
            return -1;
        char path[EN_YPATH_MAX];
        en_ypath(path, f->section, name);
        void *item = f->create(name);
        free(name);
        if (!item)
            return en_err_set(doc->err, EN_INTERNAL, "%s: out of memory", doc->prefix);
        if (f->read(doc, map->items[i + 1], path, item) ||
            en_cf_list_add(f->list, self, &item, doc->err)) {
            f->list->destroy(&item);
            return -1;
        }
    }
    return 0;
}

static int
s_read_file(en_ydoc_t *doc, const en_cf_file_t *f, void *self)
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
        int rc = 0;
        if (strcmp(k->value, f->section) == 0)
            rc = s_read_section(doc, f, v, self);
        else if (f->read_other)
            rc = f->read_other(doc, v, k->value, self);
        if (rc)
            return -1;
    }
    return 0;
}

int
en_cf_parse(const en_cf_file_t *f, const char *data, size_t len, void *self, en_err_t *err)
{
    if (!self)
        return en_err_set(err, EN_INTERNAL, "%s: out of memory", f->prefix);
    en_ydoc_t doc;
    if (en_ydoc_load(&doc, data, len, f->prefix, err))
        return -1;
    int rc = s_read_file(&doc, f, self);
    en_ydoc_free(&doc);
    return rc;
}

int
en_cf_load(const en_cf_file_t *f, const char *path, void *self, en_err_t *err)
{
    char *data;
    size_t len;
    if (en_cf_read_file(path, &data, &len, err))
        return -1;
    int rc = en_cf_parse(f, data, len, self, err);
    free(data);
    return rc;
}

//  ---------------------------------------------------------------------------
//  Writing a cloud file

char *
en_cf_format(const en_cf_file_t *f, const void *self, en_err_t *err)
{
    en_yemit_t e;
    if (en_yemit_begin(&e)) {
        en_err_set(err, EN_INTERNAL, "%s: out of memory", f->marshal);
        return NULL;
    }
    en_yemit_map_start(&e, false);
    en_yemit_str(&e, f->section);
    en_yemit_map_start(&e, false);
    en_cf_list_emit(&e, f->list, self, f->write);
    en_yemit_map_end(&e);
    if (self && f->write_other)
        f->write_other(&e, self);
    en_yemit_map_end(&e);
    return en_yemit_end(&e, err);
}

int
en_cf_save(const en_cf_file_t *f, const void *self, const char *path, en_err_t *err)
{
    char *text = en_cf_format(f, self, err);
    if (!text)
        return -1;
    int rc = en_cf_write_file(path, text, strlen(text), err);
    free(text);
    return rc;
}
