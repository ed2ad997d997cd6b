/*  lookup.c — FindImageMetadata and FindAgentMetadata over a model's
    sources (Juju's simplestreams.GetMetadata, docs/simplestreams.md §8.2).

    Sources are tried in order; the first with matching records answers.
    Per source, signed first: streams/v1/index2.sjson, then index.sjson
    when that one is missing (NOT_FOUND / UNAUTHORIZED). Only when no signed
    index exists, and the source does not require signatures, are the
    unsigned index2.json / index.json read. Any other failure on the signed
    path — a bad or tampered signature above all — skips the source with
    that error: unlike Juju, we never fall back to unsigned data after a
    signature failed. Every skipped source is reported with its error.

    Image lookups never consult mirrors (Juju sets MirrorContentId for
    agents only). Agent lookups read streams/v1/mirrors.* (same
    signedness as the index; missing is fine) and, when a reference and a
    mirror for the stream's content id and the model's cloud exist, read
    the products from the mirror instead of the index entry's path (§6).

    Documents come from the process cache (cache.c); a lookup holds each
    document it reads until its results are copied to the reply. */
#include <stdlib.h>
#include <string.h>

#include "imagemeta.h"

typedef struct {
    En__SkippedSource **v;
    size_t n, cap;
} s_skipped_t;

static void
s_skip(en_arena_t *a, s_skipped_t *s, const im_source_t *src, const en_err_t *e)
{
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 4;
        En__SkippedSource **nv = en_arena_array(a, ncap, sizeof *nv);
        if (s->n)
            memcpy(nv, s->v, s->n * sizeof *nv);
        s->v = nv;
        s->cap = ncap;
    }
    En__SkippedSource *k = en_arena_alloc(a, sizeof *k);
    en__skipped_source__init(k);
    k->source = (char *)src->description;
    k->error = en_arena_alloc(a, sizeof *k->error);
    en__error__init(k->error);
    k->error->kind = (En__ErrorKind)e->kind;
    k->error->message = en_arena_strdup(a, e->message);
    k->error->retryable = e->retryable;
    s->v[s->n++] = k;
}

static bool
s_missing(const en_err_t *e)
{
    return e->kind == EN_NOT_FOUND || e->kind == EN_UNAUTHORIZED;
}

//  The source's index: index2 then index, with the suffix of signedness.
static im_doc_t *
s_index(im_thread_t *t, en_arena_t *a, const im_source_t *src, bool is_signed,
        const char **index_url, bool *no_index, en_err_t *err)
{
    static const char *const names[] = {"streams/v1/index2", "streams/v1/index"};
    for (size_t i = 0; i < 2; i++) {
        const char *path = en_arena_printf(a, "%s.%s", names[i], is_signed ? "sjson" : "json");
        char *url = en_ssfetch_url_join(src->url, path);
        im_doc_t *d = im_cache_get(t, src, url, path, IM_DOC_INDEX, is_signed, err);
        *index_url = en_arena_strdup(a, url);
        free(url);
        if (d) {
            // a present format was checked by the parser; an absent one is
            // tolerated as multipass writes them
            return d;
        }
        if (!s_missing(err))
            return NULL;
    }
    *no_index = true;
    return NULL;
}

//  Per source: signed, then (when allowed) unsigned. `try` reads the
//  source with one signedness: 0 found, 1 no match (err says why), -1
//  error. A missing signed index is the only way to the unsigned files.
typedef int(s_try_fn)(im_thread_t *t, en_call_t *call, const im_source_t *src, bool is_signed,
                      void *arg, const char **index_url, bool *no_index, en_err_t *err);

static int
s_source(im_thread_t *t, en_call_t *call, const im_source_t *src, s_try_fn *try, void *arg,
         bool *is_signed, const char **index_url, en_err_t *err)
{
    en_err_clear(err);
    bool no_index = false;
    // without a key nothing signed can be checked: a source that allows
    // unsigned data (image-metadata-url) reads the .json files
    if (!*src->keyring && !src->require_signed) {
        *is_signed = false;
        return try(t, call, src, false, arg, index_url, &no_index, err);
    }
    *is_signed = true;
    int rc = try(t, call, src, true, arg, index_url, &no_index, err);
    if (rc != -1 || !no_index)
        return rc;
    // the signed index (index2 and index) is missing
    if (src->require_signed) {
        en_err_t e = *err;
        en_err_set(err, e.kind, "source \"%s\" requires signed metadata: %s", src->description,
                   e.message);
        return -1;
    }
    *is_signed = false;
    en_err_clear(err);
    return try(t, call, src, false, arg, index_url, &no_index, err);
}

//  Where a try found its index entry but the index could not produce it.
static int
s_select(const en_ss_index_t *idx, const en_ss_index_query_t *q, const en_ss_index_entry_t **entry,
         en_err_t *err)
{
    size_t count = 0;
    en_ss_result_t r = en_ss_index_select(idx, q, entry, 1, &count, err);
    return r == EN_SS_FOUND ? 0 : r == EN_SS_NO_MATCH ? 1 : -1;
}

static En__ResolveInfo *
s_resolve_info(en_arena_t *a, const im_source_t *src, bool is_signed, const char *index_url)
{
    En__ResolveInfo *ri = en_arena_alloc(a, sizeof *ri);
    en__resolve_info__init(ri);
    ri->source = (char *)src->description;
    ri->signed_ = is_signed;
    ri->index_url = (char *)index_url;
    ri->mirror_url = "";
    return ri;
}

//  The sources in order until one answers: 0 with its ResolveInfo, or -1
//  when none did. Every source passed over is added to sk with its error.
static int
s_first(im_thread_t *t, en_call_t *call, const im_source_t *srcs, size_t n, s_try_fn *try,
        void *arg, En__ResolveInfo **info, s_skipped_t *sk)
{
    for (size_t i = 0; i < n; i++) {
        bool is_signed;
        const char *index_url = "";
        en_err_t e;
        if (s_source(t, call, &srcs[i], try, arg, &is_signed, &index_url, &e) == 0) {
            *info = s_resolve_info(call->arena, &srcs[i], is_signed, index_url);
            return 0;
        }
        s_skip(call->arena, sk, &srcs[i], &e);
    }
    return -1;
}

//  --------------------------------------------------------------------------
//  Images

typedef struct {
    en_ss_image_query_t q;
    const char *virt_type;  // "" or NULL: any
    const char *root_store; // likewise
    En__ImageMetadata **images;
    size_t n_images;
} s_images_t;

//  The constraint's value `want` ("" any) accepts an image's `have` (""
//  names none, and so matches any).
static bool
s_accepts(const char *want, const char *have)
{
    return !want || !*want || !*have || strcmp(want, have) == 0;
}

static const char *
s_attr(en_arena_t *a, const en_ss_item_t *item, const char *key)
{
    const char *v = en_ss_item_get(item, key);
    return en_arena_strdup(a, v ? v : "");
}

static int
s_try_images(im_thread_t *t, en_call_t *call, const im_source_t *src, bool is_signed, void *arg,
             const char **index_url, bool *no_index, en_err_t *err)
{
    s_images_t *s = arg;
    en_arena_t *a = call->arena;
    char **ids = NULL;
    size_t n_ids = 0;
    im_doc_t *index = NULL, *products = NULL;
    en_ss_matches_t m = {0};
    int rc = -1;
    index = s_index(t, a, src, is_signed, index_url, no_index, err);
    if (!index)
        goto cleanup;
    if (en_ss_image_product_ids(&s->q, &ids, &n_ids, err))
        goto cleanup;
    en_ss_index_query_t iq = {
        .datatype = "image-ids",
        .cloud = {s->q.region, s->q.endpoint},
        .product_ids = (const char *const *)ids,
        .product_id_count = n_ids,
    };
    const en_ss_index_entry_t *entry = NULL;
    rc = s_select(im_doc_index(index), &iq, &entry, err);
    if (rc)
        goto cleanup;
    char *url = en_ssfetch_url_join(src->url, entry->path);
    products = im_cache_get(t, src, url, entry->path, IM_DOC_PRODUCTS, is_signed, err);
    free(url);
    rc = -1;
    if (!products)
        goto cleanup;
    en_ss_result_t r = en_ss_lookup_images(im_doc_products(products), &s->q, &m, err);
    if (r != EN_SS_FOUND) {
        rc = r == EN_SS_NO_MATCH ? 1 : -1;
        goto cleanup;
    }
    s->images = en_arena_array(a, m.count ? m.count : 1, sizeof *s->images);
    s->n_images = 0;
    for (size_t i = 0; i < m.count; i++) {
        const en_ss_item_t *it = m.v[i].item;
        En__ImageMetadata *im = en_arena_alloc(a, sizeof *im);
        en__image_metadata__init(im);
        im->id = (char *)s_attr(a, it, "id");
        im->storage = (char *)s_attr(a, it, "root_store");
        im->virt_type = (char *)s_attr(a, it, "virt");
        if (!s_accepts(s->virt_type, im->virt_type) || !s_accepts(s->root_store, im->storage))
            continue;
        im->arch = (char *)s_attr(a, it, "arch");
        im->version = (char *)s_attr(a, it, "version");
        im->series = (char *)s_attr(a, it, "release");
        im->region_alias = (char *)s_attr(a, it, "crsn");
        im->region_name = (char *)s_attr(a, it, "region");
        im->endpoint = (char *)s_attr(a, it, "endpoint");
        im->stream = en_arena_strdup(a, m.v[i].stream                 ? m.v[i].stream
                                        : s->q.stream && *s->q.stream ? s->q.stream
                                                                      : "released");
        im->priority = src->priority;
        im->source = (char *)src->description;
        s->images[s->n_images++] = im;
    }
    // none of the virt type or root store asked for: the next source
    rc = 0;
    if (!s->n_images) {
        en_err_set(err, EN_NOT_FOUND, "index has no matching records (virt-type \"%s\", "
                   "root-store \"%s\")", s->virt_type ? s->virt_type : "",
                   s->root_store ? s->root_store : "");
        rc = 1;
    }
cleanup:
    en_ss_matches_free(&m);
    en_ss_strv_free(ids, n_ids);
    im_doc_release(&products);
    im_doc_release(&index);
    return rc;
}

//  `release "22.04"` or `releases "22.04", "24.04"`.
static const char *
s_quoted_list(en_arena_t *a, const char *what, char *const *v, size_t n)
{
    char *out = en_arena_printf(a, "%s%s", what, n == 1 ? "" : "s");
    for (size_t i = 0; i < n; i++)
        out = en_arena_printf(a, "%s%s \"%s\"", out, i ? "," : "", v[i]);
    return out;
}

//  The reasons sources were passed over, after the main message.
static void
s_not_found(en_err_t *err, const char *head, const s_skipped_t *sk)
{
    char buf[EN_ERR_MSG_MAX];
    size_t off = (size_t)snprintf(buf, sizeof buf, "%s", head);
    for (size_t i = 0; i < sk->n && off < sizeof buf; i++)
        off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%s: %s", i ? "; " : " (",
                                sk->v[i]->source, sk->v[i]->error->message);
    if (sk->n && off < sizeof buf)
        snprintf(buf + off, sizeof buf - off, ")");
    en_err_set(err, EN_NOT_FOUND, "%s", buf);
}

static int
s_find_images(en_call_t *call, const ProtobufCMessage *req, ProtobufCMessage *res, en_err_t *err)
{
    im_thread_t *t = call->state;
    en_arena_t *a = call->arena;
    const En__ImageConstraint *c = ((const En__FindImageMetadataRequest *)req)->constraint;
    En__FindImageMetadataResult *out = (En__FindImageMetadataResult *)res;
    if (!c || !c->n_releases || !c->n_arches)
        return en_err_set(err, EN_NOT_VALID, "image constraint: releases and arches are required");
    im_model_t model;
    im_source_t *srcs;
    size_t n;
    if (im_model(t, call, &model, err) || im_sources(t, call, &model, false, &srcs, &n, err))
        return -1;
    const char *stream =
        *c->stream ? c->stream : im_config_str(a, model.config_json, "image-stream");
    s_images_t s = {.q = {
                        .releases = (const char *const *)c->releases,
                        .release_count = c->n_releases,
                        .arches = (const char *const *)c->arches,
                        .arch_count = c->n_arches,
                        .stream = *stream ? stream : "released",
                        .region = *c->region ? c->region : model.cloud->region,
                        .endpoint = *c->endpoint ? c->endpoint : model.cloud->endpoint,
                    },
                    .virt_type = c->virt_type,
                    .root_store = c->root_store};
    s_skipped_t sk = {0};
    if (s_first(t, call, srcs, n, s_try_images, &s, &out->resolve_info, &sk) == 0) {
        out->images = s.images;
        out->n_images = s.n_images;
        out->skipped = sk.v;
        out->n_skipped = sk.n;
        return 0;
    }
    const char *head = en_arena_printf(a, "no image metadata found for %s, %s, region \"%s\"",
                                       s_quoted_list(a, "release", c->releases, c->n_releases),
                                       s_quoted_list(a, "arch", c->arches, c->n_arches),
                                       s.q.region ? s.q.region : "");
    if (*c->virt_type)
        head = en_arena_printf(a, "%s, virt-type \"%s\"", head, c->virt_type);
    if (*c->root_store)
        head = en_arena_printf(a, "%s, root-store \"%s\"", head, c->root_store);
    s_not_found(err, head, &sk);
    return -1;
}

//  --------------------------------------------------------------------------
//  Agents

typedef struct {
    en_ss_agent_query_t q;
    const char *chain[4];
    size_t n_chain;
    en_ss_cloud_t cloud;
    const char *base[4];    // per stream: the source's URL or a mirror's
    const char *mirror_url; // "" when no stream used a mirror
    En__AgentMetadata **agents;
    size_t n_agents;
} s_agents_t;

static const char *const s_default_arches[] = {"amd64", "arm64", "ppc64el", "s390x", "riscv64"};

//  The mirror for content id cid (§6): *base and *path set when one
//  applies, left alone when none does. A missing mirrors file, or a
//  missing file it refers to, means no mirror; any other error fails.
static int
s_mirror(im_thread_t *t, en_arena_t *a, const im_source_t *src, bool is_signed, const char *cid,
         const en_ss_cloud_t *cloud, const char **base, const char **path, en_err_t *err)
{
    const char *name = is_signed ? "streams/v1/mirrors.sjson" : "streams/v1/mirrors.json";
    char *url = en_ssfetch_url_join(src->url, name);
    im_doc_t *refs = im_cache_get(t, src, url, name, IM_DOC_MIRRORS, is_signed, err);
    free(url);
    if (!refs)
        return s_missing(err) ? 0 : -1;
    int rc = 0;
    im_doc_t *meta = NULL;
    const en_ss_mirror_t *ref =
        en_ss_mirrors_select_ref(im_doc_mirrors(refs), cid, cloud, "content-download");
    if (ref && ref->path) {
        url = en_ssfetch_url_join(src->url, ref->path);
        meta = im_cache_get(t, src, url, ref->path, IM_DOC_MIRROR_META, is_signed, err);
        free(url);
        if (!meta)
            rc = s_missing(err) ? 0 : -1;
        const en_ss_mirror_t *m =
            meta ? en_ss_mirrors_select_mirror(im_doc_mirrors(meta), cid, cloud) : NULL;
        if (m && m->mirror && m->path) {
            *base = en_arena_strdup(a, m->mirror);
            *path = en_arena_strdup(a, m->path);
        }
    }
    im_doc_release(&meta);
    im_doc_release(&refs);
    return rc;
}

static int
s_try_agents(im_thread_t *t, en_call_t *call, const im_source_t *src, bool is_signed, void *arg,
             const char **index_url, bool *no_index, en_err_t *err)
{
    s_agents_t *s = arg;
    en_arena_t *a = call->arena;
    memset(s->base, 0, sizeof s->base);
    s->mirror_url = NULL;
    im_doc_t *index = NULL, *per[4] = {0};
    const en_ss_products_t *prod[4] = {0};
    en_ss_matches_t m = {0};
    int rc = -1;
    index = s_index(t, a, src, is_signed, index_url, no_index, err);
    if (!index)
        goto cleanup;
    // product ids com.ubuntu.juju:<os>:<arch>
    const char *const *arches = s->q.arch_count ? s->q.arches : s_default_arches;
    size_t n_arch =
        s->q.arch_count ? s->q.arch_count : sizeof s_default_arches / sizeof s_default_arches[0];
    size_t n_ids = s->q.release_count * n_arch;
    const char **ids = en_arena_array(a, n_ids ? n_ids : 1, sizeof *ids);
    for (size_t r = 0, k = 0; r < s->q.release_count; r++)
        for (size_t i = 0; i < n_arch; i++)
            ids[k++] = en_arena_printf(a, "com.ubuntu.juju:%s:%s", s->q.releases[r], arches[i]);
    size_t found_streams = 0;
    for (size_t i = 0; i < s->n_chain; i++) {
        char cid[128];
        if (en_ss_agent_content_id(s->chain[i], cid, sizeof cid))
            continue;
        // a mirror for the stream replaces the index entry's path (Juju
        // then skips the index's product filtering)
        const char *path = NULL;
        s->base[i] = src->url;
        if (s_mirror(t, a, src, is_signed, cid, &s->cloud, &s->base[i], &path, err))
            goto cleanup;
        if (path)
            s->mirror_url = s->base[i];
        else {
            const char *cids[] = {cid};
            en_ss_index_query_t iq = {
                .datatype = "content-download",
                .content_ids = cids,
                .content_id_count = 1,
                .cloud = s->cloud,
                .product_ids = ids,
                .product_id_count = n_ids,
            };
            const en_ss_index_entry_t *entry = NULL;
            en_err_t e;
            int sel = s_select(im_doc_index(index), &iq, &entry, &e);
            if (sel == 1 || (sel == -1 && e.kind == EN_NOT_FOUND))
                continue; // this stream has nothing here: the chain goes on
            if (sel == -1) {
                *err = e;
                goto cleanup;
            }
            path = entry->path;
        }
        char *url = en_ssfetch_url_join(s->base[i], path);
        per[i] = im_cache_get(t, src, url, path, IM_DOC_PRODUCTS, is_signed, err);
        free(url);
        if (!per[i])
            goto cleanup;
        prod[i] = im_doc_products(per[i]);
        found_streams++;
    }
    if (!found_streams) {
        en_err_set(err, EN_NOT_FOUND, "index has no agent metadata for stream \"%s\"", s->chain[0]);
        rc = 1;
        goto cleanup;
    }
    en_ss_result_t r = en_ss_lookup_agents(prod, s->chain, s->n_chain, &s->q, &m, err);
    if (r != EN_SS_FOUND) {
        rc = r == EN_SS_NO_MATCH ? 1 : -1;
        goto cleanup;
    }
    s->agents = en_arena_array(a, m.count, sizeof *s->agents);
    for (size_t i = 0; i < m.count; i++) {
        const en_ss_item_t *it = m.v[i].item;
        En__AgentMetadata *ag = en_arena_alloc(a, sizeof *ag);
        en__agent_metadata__init(ag);
        ag->version = (char *)s_attr(a, it, "version");
        ag->release = (char *)s_attr(a, it, "release");
        ag->arch = (char *)s_attr(a, it, "arch");
        int64_t size = 0;
        en_err_t e;
        if (en_ss_item_get_int(it, "size", &size, &e) == 0)
            ag->size = size;
        ag->path = (char *)s_attr(a, it, "path");
        const char *base = src->url;
        for (size_t k = 0; k < s->n_chain; k++)
            if (m.v[i].stream && strcmp(m.v[i].stream, s->chain[k]) == 0 && s->base[k])
                base = s->base[k];
        char *full = en_ssfetch_url_join(base, ag->path);
        ag->full_path = en_arena_strdup(a, full);
        free(full);
        ag->sha256 = (char *)s_attr(a, it, "sha256");
        ag->stream = en_arena_strdup(a, m.v[i].stream ? m.v[i].stream : "");
        s->agents[i] = ag;
    }
    s->n_agents = m.count;
    rc = 0;
cleanup:
    en_ss_matches_free(&m);
    for (size_t i = 0; i < 4; i++)
        im_doc_release(&per[i]);
    im_doc_release(&index);
    return rc;
}

static int
s_find_agents(en_call_t *call, const ProtobufCMessage *req, ProtobufCMessage *res, en_err_t *err)
{
    im_thread_t *t = call->state;
    en_arena_t *a = call->arena;
    const En__FindAgentMetadataRequest *r = (const En__FindAgentMetadataRequest *)req;
    En__FindAgentMetadataResult *out = (En__FindAgentMetadataResult *)res;
    if (!r->n_releases)
        return en_err_set(err, EN_NOT_VALID, "agent constraint: releases are required");
    im_model_t model;
    if (im_model(t, call, &model, err))
        return -1;
    const char *stream =
        *r->stream ? r->stream : im_config_str(a, model.config_json, "agent-stream");
    if (!*stream)
        stream = "released";
    s_agents_t s = {.q = {
                        .releases = (const char *const *)r->releases,
                        .release_count = r->n_releases,
                        .arches = (const char *const *)r->arches,
                        .arch_count = r->n_arches,
                        .version = *r->version ? r->version : NULL,
                        .major = r->major,
                        .minor = r->minor,
                    }};
    s.n_chain = en_ss_agent_stream_chain(stream, s.chain);
    if (!s.n_chain)
        return en_err_set(err, EN_NOT_VALID,
                          "unknown agent stream \"%s\" (want released, proposed, devel or testing)",
                          stream);
    // Juju: an agent cloud spec has both region and endpoint, or neither
    if (*model.cloud->region && *model.cloud->endpoint)
        s.cloud = (en_ss_cloud_t){model.cloud->region, model.cloud->endpoint};
    im_source_t *srcs;
    size_t n;
    if (im_sources(t, call, &model, true, &srcs, &n, err))
        return -1;
    s_skipped_t sk = {0};
    if (s_first(t, call, srcs, n, s_try_agents, &s, &out->resolve_info, &sk) == 0) {
        if (s.mirror_url)
            out->resolve_info->mirror_url = (char *)s.mirror_url;
        out->agents = s.agents;
        out->n_agents = s.n_agents;
        out->skipped = sk.v;
        out->n_skipped = sk.n;
        return 0;
    }
    const char *head = en_arena_printf(a, "no agent metadata found for stream \"%s\", %s", stream,
                                       s_quoted_list(a, "release", r->releases, r->n_releases));
    s_not_found(err, head, &sk);
    return -1;
}

#define API (&en__environ__descriptor)
const en_route_t im_lookup_routes[] = {
    {API, "FindImageMetadata", s_find_images, 0},
    {API, "FindAgentMetadata", s_find_agents, 0},
};
const size_t im_lookup_route_count = sizeof im_lookup_routes / sizeof im_lookup_routes[0];
