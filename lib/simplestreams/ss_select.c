/*  ss_select.c — Juju's lookups over a parsed products file
    (docs/simplestreams.md §8.7, §8.8).

    For each wanted product id in order, versions newest first (bytewise
    descending), each item of a version is kept unless an item kept from an
    earlier version (or an earlier product, or a more preferred stream) has
    the same dedup key. Like Juju, the check looks only at results from
    before the current version, so two items of one version with equal keys
    are both kept. Results are then sorted as Juju sorts them, stably (Go's
    sort.Sort is not), so equal keys keep lookup order. */
#include "simplestreams/ss_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_default_arches[] = {"amd64", "arm64", "ppc64el", "s390x", "riscv64"};
#define S_DEFAULT_ARCH_COUNT (sizeof s_default_arches / sizeof s_default_arches[0])

typedef enum { S_IMAGES, S_DOWNLOADS, S_AGENTS } s_kind_t;

//  Dedup key fields per lookup kind (§8.7).
static const char *const s_key_images[] = {"virt", "arch", "version", "region", "root_store"};
static const char *const s_key_downloads[] = {"arch", "ftype", "release", "version"};
static const char *const s_key_agents[] = {"version", "release", "arch"};

typedef struct {
    s_kind_t kind;
    const char *const *key;
    size_t key_n;
    const en_ss_image_query_t *image;
    const en_ss_agent_query_t *agent;
} s_lookup_t;

void
en_ss_matches_free(en_ss_matches_t *m)
{
    if (!m)
        return;
    free(m->v);
    m->v = NULL;
    m->count = 0;
}

static int
s_push(en_ss_matches_t *out, size_t *cap, const en_ss_item_t *item, const char *stream,
       en_err_t *err)
{
    if (out->count == *cap) {
        size_t n = *cap ? *cap * 2 : 16;
        en_ss_match_t *v = realloc(out->v, n * sizeof *v);
        if (!v)
            return en_err_set(err, EN_INTERNAL, "out of memory");
        out->v = v;
        *cap = n;
    }
    out->v[out->count++] = (en_ss_match_t){item, stream};
    return 0;
}

static bool
s_streq(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

//  Leading "<major>.<minor>" of a Juju version number such as "2.0-beta5".
static void
s_major_minor(const char *v, long *major, long *minor)
{
    char *end;
    *major = strtol(v ? v : "", &end, 10);
    *minor = *end == '.' ? strtol(end + 1, NULL, 10) : 0;
}

static bool
s_in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

static bool
s_wanted(const s_lookup_t *l, const en_ss_item_t *item)
{
    switch (l->kind) {
    case S_IMAGES:
        return !l->image->region || !*l->image->region ||
               s_streq(en_ss_item_get(item, "region"), l->image->region);
    case S_DOWNLOADS:
        return !l->image->ftype || !*l->image->ftype ||
               s_streq(en_ss_item_get(item, "ftype"), l->image->ftype);
    case S_AGENTS: {
        const en_ss_agent_query_t *q = l->agent;
        const char *release = en_ss_item_get(item, "release");
        const char *version = en_ss_item_get(item, "version");
        if (!release || !version || !s_in_list(release, q->releases, q->release_count))
            return false;
        if (q->version && *q->version)
            return strcmp(version, q->version) == 0;
        long major, minor;
        s_major_minor(version, &major, &minor);
        return (q->major <= 0 || major == q->major) && (q->minor < 0 || minor == q->minor);
    }
    }
    return false;
}

//  Dedup key values of every kept match, key_n per match, filled as
//  matches are appended, so the hidden-check compares cached pointers
//  (interned: equal strings of one document are one pointer) instead of
//  walking four attribute levels per comparison.
typedef struct {
    const char **v;
    size_t cap; //  in matches
} s_keys_t;

static bool
s_keys_equal(const char *const *a, const char *const *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i] && !s_streq(a[i], b[i]))
            return false;
    return true;
}

//  Append the newest items of one product not hidden by earlier results.
static int
s_collect(const s_lookup_t *l, const en_ss_product_t *p, const char *stream, en_ss_matches_t *out,
          size_t *cap, s_keys_t *keys, en_err_t *err)
{
    const char *k[8];
    for (size_t v = 0; v < p->version_count; v++) {
        const en_ss_version_t *ver = &p->versions[v];
        size_t before = out->count;
        for (size_t i = 0; i < ver->item_count; i++) {
            const en_ss_item_t *item = &ver->items[i];
            if (!s_wanted(l, item))
                continue;
            for (size_t j = 0; j < l->key_n; j++)
                k[j] = en_ss_item_get(item, l->key[j]);
            bool hidden = false;
            for (size_t m = 0; m < before && !hidden; m++)
                hidden = s_keys_equal(&keys->v[m * l->key_n], k, l->key_n);
            if (hidden)
                continue;
            if (out->count == keys->cap) {
                size_t n = keys->cap ? keys->cap * 2 : 16;
                const char **kv = realloc(keys->v, n * l->key_n * sizeof *kv);
                if (!kv)
                    return en_err_set(err, EN_INTERNAL, "out of memory");
                keys->v = kv;
                keys->cap = n;
            }
            memcpy(&keys->v[out->count * l->key_n], k, l->key_n * sizeof *k);
            if (s_push(out, cap, item, stream, err) < 0)
                return -1;
        }
    }
    return 0;
}

//  Stable sort by a string attribute (agents: by their binary string).
typedef struct {
    en_ss_match_t m;
    char *sort_key;
    size_t pos;
} s_sortable_t;

static int
s_cmp_sortable(const void *a, const void *b)
{
    const s_sortable_t *x = a, *y = b;
    int c = strcmp(x->sort_key, y->sort_key);
    if (c)
        return c;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int
s_sort(const s_lookup_t *l, en_ss_matches_t *out, en_err_t *err)
{
    if (out->count < 2)
        return 0;
    s_sortable_t *s = calloc(out->count, sizeof *s);
    if (!s)
        return en_err_set(err, EN_INTERNAL, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < out->count; i++) {
        const en_ss_item_t *it = out->v[i].item;
        s[i].m = out->v[i];
        s[i].pos = i;
        if (l->kind == S_AGENTS) {
            const char *v = en_ss_item_get(it, "version"), *r = en_ss_item_get(it, "release"),
                       *a = en_ss_item_get(it, "arch");
            size_t n = strlen(v ? v : "") + strlen(r ? r : "") + strlen(a ? a : "") + 3;
            if ((s[i].sort_key = malloc(n)))
                snprintf(s[i].sort_key, n, "%s-%s-%s", v ? v : "", r ? r : "", a ? a : "");
        } else {
            const char *k = en_ss_item_get(it, l->kind == S_IMAGES ? "id" : "release");
            s[i].sort_key = strdup(k ? k : "");
        }
        if (!s[i].sort_key) {
            rc = en_err_set(err, EN_INTERNAL, "out of memory");
            goto cleanup;
        }
    }
    qsort(s, out->count, sizeof *s, s_cmp_sortable);
    for (size_t i = 0; i < out->count; i++)
        out->v[i] = s[i].m;
cleanup:
    for (size_t i = 0; i < out->count; i++)
        free(s[i].sort_key);
    free(s);
    return rc;
}

//  Go's %v of a []string: [a b], cut at the message bound.
static size_t
s_list_text(char *buf, size_t size, const char *const *v, size_t n)
{
    size_t off = (size_t)snprintf(buf, size, "[");
    for (size_t i = 0; i < n && off < size; i++)
        off += (size_t)snprintf(buf + off, size - off, "%s%s", i ? " " : "", v[i]);
    if (off < size)
        off += (size_t)snprintf(buf + off, size - off, "]");
    return off;
}

static en_ss_result_t
s_no_records(const en_ss_products_t *const *docs, size_t n_docs, char *const *ids, size_t n_ids,
             en_err_t *err)
{
    char want[EN_ERR_MSG_MAX], have[EN_ERR_MSG_MAX];
    s_list_text(want, sizeof want, (const char *const *)ids, n_ids);
    size_t off = (size_t)snprintf(have, sizeof have, "[");
    for (size_t d = 0; d < n_docs; d++)
        for (size_t i = 0; docs[d] && i < en_ss_products_count(docs[d]) && off < sizeof have; i++)
            off += (size_t)snprintf(have + off, sizeof have - off, "%s%s", off > 1 ? " " : "",
                                    en_ss_products_at(docs[d], i)->id);
    if (off < sizeof have)
        snprintf(have + off, sizeof have - off, "]");
    en_err_set(err, EN_NOT_FOUND,
               "index has no records for product ids %s; it does have product ids %s", want, have);
    return EN_SS_NO_MATCH;
}

static char *
s_printf(const char *fmt, const char *a, const char *b, const char *c)
{
    size_t n = strlen(fmt) + strlen(a) + strlen(b) + strlen(c) + 1;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, fmt, a, b, c);
    return s;
}

static int
s_product_ids(const char *fmt, const char *prefix, const char *const *releases, size_t n_rel,
              const char *const *arches, size_t n_arch, char ***ids_out, size_t *count,
              en_err_t *err)
{
    *ids_out = NULL;
    *count = 0;
    if (n_rel == 0)
        return en_err_set(err, EN_NOT_VALID, "no releases given");
    if (n_arch == 0) {
        arches = s_default_arches;
        n_arch = S_DEFAULT_ARCH_COUNT;
    }
    char **ids = calloc(n_rel * n_arch, sizeof *ids);
    if (!ids)
        return en_err_set(err, EN_INTERNAL, "out of memory");
    for (size_t r = 0; r < n_rel; r++)
        for (size_t a = 0; a < n_arch; a++) {
            char *id = s_printf(fmt, prefix, releases[r], arches[a]);
            if (!id) {
                en_ss_strv_free(ids, *count);
                return en_err_set(err, EN_INTERNAL, "out of memory");
            }
            ids[(*count)++] = id;
        }
    *ids_out = ids;
    return 0;
}

int
en_ss_image_product_ids(const en_ss_image_query_t *q, char ***ids_out, size_t *count, en_err_t *err)
{
    const char *stream = q->stream ? q->stream : "";
    bool plain = !*stream || strcmp(stream, "released") == 0;
    char prefix[128];
    if ((size_t)snprintf(prefix, sizeof prefix, "com.ubuntu.cloud%s%s", plain ? "" : ".",
                         plain ? "" : stream) >= sizeof prefix)
        return en_err_set(err, EN_NOT_VALID, "stream \"%s\" is too long", stream);
    return s_product_ids("%s:server:%s:%s", prefix, q->releases, q->release_count, q->arches,
                         q->arch_count, ids_out, count, err);
}

static en_ss_result_t
s_run(const s_lookup_t *l, const en_ss_products_t *const *docs, const char *const *streams,
      size_t n_docs, char **ids, size_t n_ids, en_ss_matches_t *out, en_err_t *err)
{
    size_t cap = 0, catalogs = 0;
    s_keys_t keys = {0};
    out->v = NULL;
    out->count = 0;
    for (size_t d = 0; d < n_docs; d++)
        for (size_t i = 0; docs[d] && i < n_ids; i++) {
            const en_ss_product_t *p = en_ss_products_find(docs[d], ids[i]);
            if (!p)
                continue;
            catalogs++;
            if (s_collect(l, p, streams ? streams[d] : NULL, out, &cap, &keys, err) < 0)
                goto fail;
        }
    free(keys.v);
    keys.v = NULL;
    if (catalogs == 0)
        return s_no_records(docs, n_docs, ids, n_ids, err);
    if (out->count == 0) {
        en_err_set(err, EN_NOT_FOUND, "index has no matching records");
        return EN_SS_NO_MATCH;
    }
    if (s_sort(l, out, err) < 0)
        goto fail;
    return EN_SS_FOUND;
fail:
    free(keys.v);
    en_ss_matches_free(out);
    return EN_SS_ERROR;
}

en_ss_result_t
en_ss_lookup_images(const en_ss_products_t *products, const en_ss_image_query_t *q,
                    en_ss_matches_t *out, en_err_t *err)
{
    out->v = NULL;
    out->count = 0;
    const char *datatype = q->datatype ? q->datatype : "image-ids";
    s_lookup_t l = {.image = q};
    if (strcmp(datatype, "image-ids") == 0) {
        l.kind = S_IMAGES;
        l.key = s_key_images;
        l.key_n = sizeof s_key_images / sizeof s_key_images[0];
    } else if (strcmp(datatype, "image-downloads") == 0) {
        l.kind = S_DOWNLOADS;
        l.key = s_key_downloads;
        l.key_n = sizeof s_key_downloads / sizeof s_key_downloads[0];
    } else {
        en_err_set(err, EN_NOT_VALID, "image lookup of datatype \"%s\" not supported", datatype);
        return EN_SS_ERROR;
    }
    char **ids;
    size_t n_ids;
    if (en_ss_image_product_ids(q, &ids, &n_ids, err) < 0)
        return EN_SS_ERROR;
    const char *stream = q->stream && *q->stream ? q->stream : "released";
    en_ss_result_t rc = s_run(&l, &products, &stream, 1, ids, n_ids, out, err);
    en_ss_strv_free(ids, n_ids);
    return rc;
}

size_t
en_ss_agent_stream_chain(const char *stream, const char *chain[4])
{
    static const char *const order[] = {"testing", "devel", "proposed", "released"};
    for (size_t i = 0; i < 4; i++)
        if (stream && strcmp(stream, order[i]) == 0) {
            for (size_t j = i; j < 4; j++)
                chain[j - i] = order[j];
            return 4 - i;
        }
    return 0;
}

int
en_ss_agent_content_id(const char *stream, char *buf, size_t size)
{
    int n = snprintf(buf, size, "com.ubuntu.juju:%s:agents", stream ? stream : "");
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

en_ss_result_t
en_ss_lookup_agents(const en_ss_products_t *const *per_stream, const char *const *chain,
                    size_t n_streams, const en_ss_agent_query_t *q, en_ss_matches_t *out,
                    en_err_t *err)
{
    out->v = NULL;
    out->count = 0;
    s_lookup_t l = {.kind = S_AGENTS,
                    .key = s_key_agents,
                    .key_n = sizeof s_key_agents / sizeof s_key_agents[0],
                    .agent = q};
    char **ids;
    size_t n_ids;
    if (s_product_ids("%scom.ubuntu.juju:%s:%s", "", q->releases, q->release_count, q->arches,
                      q->arch_count, &ids, &n_ids, err) < 0)
        return EN_SS_ERROR;
    en_ss_result_t rc = s_run(&l, per_stream, chain, n_streams, ids, n_ids, out, err);
    en_ss_strv_free(ids, n_ids);
    return rc;
}
