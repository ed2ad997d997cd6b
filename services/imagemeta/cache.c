/*  cache.c — parsed simplestreams documents shared by a process's threads.

    An entry is one URL's document as one kind (index, products, mirrors),
    verified with one keyring when it came from a .sjson: the keyring is
    part of the entry, so a second source that points at the same URL with
    another key never reuses a document the first source's key vouched for.
    A missing file (NOT_FOUND, UNAUTHORIZED) is cached too — Juju's lookup
    asks for index2 before index, and a warm lookup must not ask again.

    Freshness: within the TTL an entry is used as is (no I/O). After it the
    next lookup revalidates with the entry's ETag / Last-Modified; 304
    keeps the parsed object (no parse, no signature check), 200 replaces
    it. Transient failures (UNAVAILABLE, TIMEOUT) are never cached.

    Memory: entries are charged their size on the wire and kept in LRU
    order under a byte budget. Each entry is refcounted (the cache's link
    is one reference, every lookup that holds it another), so eviction or
    replacement never frees an object a lookup is reading. One mutex
    guards the table and the list; fetching, verifying and parsing happen
    outside it, so two threads may fetch the same URL at once on a miss —
    the later result replaces the earlier, and both are correct. */
#include <czmq.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "imagemeta.h"

#define IM_DEFAULT_TTL_MS (5 * 60 * 1000)

struct im_doc {
    char *url;
    char *keyring; // "" for unsigned documents
    bool is_signed;
    im_doc_kind_t kind;
    void *obj;        // en_ss_index_t / en_ss_products_t / en_ss_mirrors_t; NULL: missing
    en_err_t missing; // why obj is NULL
    char *etag;
    char *last_modified;
    int64_t fetched_ms; // monotonic
    size_t bytes;
    atomic_int refs;
    bool linked;
    im_doc_t *prev, *next; // LRU: head is the most recent
};

struct im_cache {
    pthread_mutex_t mu;
    zhashx_t *by_url;
    im_doc_t *head, *tail;
    size_t bytes, budget;
    int64_t ttl_ms;
    imagemeta_stats_t stats;
};

//  --------------------------------------------------------------------------
//  Entries

static void
s_obj_free(im_doc_kind_t kind, void *obj)
{
    if (!obj)
        return;
    if (kind == IM_DOC_INDEX) {
        en_ss_index_t *o = obj;
        en_ss_index_destroy(&o);
    } else if (kind == IM_DOC_PRODUCTS) {
        en_ss_products_t *o = obj;
        en_ss_products_destroy(&o);
    } else {
        en_ss_mirrors_t *o = obj;
        en_ss_mirrors_destroy(&o);
    }
}

static void
s_doc_free(im_doc_t *d)
{
    if (!d)
        return;
    s_obj_free(d->kind, d->obj);
    free(d->url);
    free(d->keyring);
    free(d->etag);
    free(d->last_modified);
    free(d);
}

void
im_doc_release(im_doc_t **doc_p)
{
    if (!doc_p || !*doc_p)
        return;
    if (atomic_fetch_sub(&(*doc_p)->refs, 1) == 1)
        s_doc_free(*doc_p);
    *doc_p = NULL;
}

const en_ss_index_t *
im_doc_index(const im_doc_t *doc)
{
    return doc->kind == IM_DOC_INDEX ? doc->obj : NULL;
}

const en_ss_products_t *
im_doc_products(const im_doc_t *doc)
{
    return doc->kind == IM_DOC_PRODUCTS ? doc->obj : NULL;
}

const en_ss_mirrors_t *
im_doc_mirrors(const im_doc_t *doc)
{
    return doc->kind == IM_DOC_MIRRORS || doc->kind == IM_DOC_MIRROR_META ? doc->obj : NULL;
}

//  --------------------------------------------------------------------------
//  The table (callers hold mu)

static void
s_unlink(im_cache_t *self, im_doc_t *d)
{
    if (!d->linked)
        return;
    if (d->prev)
        d->prev->next = d->next;
    else
        self->head = d->next;
    if (d->next)
        d->next->prev = d->prev;
    else
        self->tail = d->prev;
    d->prev = d->next = NULL;
    d->linked = false;
    self->bytes -= d->bytes;
    zhashx_delete(self->by_url, d->url);
    im_doc_release(&d); // the cache's reference
}

static void
s_touch(im_cache_t *self, im_doc_t *d)
{
    if (!d->linked || self->head == d)
        return;
    d->prev->next = d->next;
    if (d->next)
        d->next->prev = d->prev;
    else
        self->tail = d->prev;
    d->prev = NULL;
    d->next = self->head;
    self->head->prev = d;
    self->head = d;
}

//  Link d (which carries a reference for the cache), replacing any entry
//  for its URL, then evict from the tail down to the budget. A document
//  larger than the whole budget is not kept.
static void
s_insert(im_cache_t *self, im_doc_t *d)
{
    im_doc_t *old = zhashx_lookup(self->by_url, d->url);
    if (old)
        s_unlink(self, old);
    if (d->bytes > self->budget) {
        im_doc_release(&d);
        return;
    }
    d->linked = true;
    d->next = self->head;
    if (self->head)
        self->head->prev = d;
    self->head = d;
    if (!self->tail)
        self->tail = d;
    self->bytes += d->bytes;
    zhashx_insert(self->by_url, d->url, d);
    while (self->bytes > self->budget && self->tail && self->tail != d) {
        s_unlink(self, self->tail);
        self->stats.evictions++;
    }
}

im_cache_t *
im_cache_new(size_t budget, int64_t ttl_ms)
{
    im_cache_t *self = calloc(1, sizeof *self);
    pthread_mutex_init(&self->mu, NULL);
    self->by_url = zhashx_new();
    self->budget = budget;
    self->ttl_ms = ttl_ms > 0 ? ttl_ms : IM_DEFAULT_TTL_MS;
    return self;
}

void
im_cache_destroy(im_cache_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    im_cache_t *self = *self_p;
    while (self->head)
        s_unlink(self, self->head);
    zhashx_destroy(&self->by_url);
    pthread_mutex_destroy(&self->mu);
    free(self);
    *self_p = NULL;
}

void
im_cache_stats(im_cache_t *self, imagemeta_stats_t *out)
{
    pthread_mutex_lock(&self->mu);
    *out = self->stats;
    out->bytes = self->bytes;
    out->entries = zhashx_size(self->by_url);
    pthread_mutex_unlock(&self->mu);
}

void
im_cache_expire(im_cache_t *self)
{
    pthread_mutex_lock(&self->mu);
    for (im_doc_t *d = self->head; d; d = d->next)
        d->fetched_ms -= self->ttl_ms + 1;
    pthread_mutex_unlock(&self->mu);
}

//  --------------------------------------------------------------------------
//  Verifiers: one per (source description, keyring) per thread, made on
//  the first signed document that needs checking (a warm cache never
//  needs one).

struct im_verifier {
    char *description;
    char *keyring;
    en_ssverify_t *v;
    im_verifier_t *next;
};

static en_ssverify_t *
s_verifier(im_thread_t *t, const im_source_t *src, en_err_t *err)
{
    for (im_verifier_t *v = t->verifiers; v; v = v->next)
        if (strcmp(v->description, src->description) == 0 && strcmp(v->keyring, src->keyring) == 0)
            return v->v;
    en_ssverify_t *sv = en_ssverify_new(src->description, src->keyring, NULL, 0, err);
    if (!sv)
        return NULL;
    im_verifier_t *v = calloc(1, sizeof *v);
    v->description = strdup(src->description);
    v->keyring = strdup(src->keyring);
    v->v = sv;
    v->next = t->verifiers;
    t->verifiers = v;
    return sv;
}

void
im_verifiers_free(im_thread_t *t)
{
    while (t->verifiers) {
        im_verifier_t *v = t->verifiers;
        t->verifiers = v->next;
        en_ssverify_destroy(&v->v);
        free(v->description);
        free(v->keyring);
        free(v);
    }
}

//  --------------------------------------------------------------------------
//  Fetch, verify, parse

typedef struct {
    im_doc_kind_t kind;
    const char *name;
    void *obj;
} s_parse_t;

static int
s_parse(const char *text, size_t len, void *arg, en_err_t *err)
{
    s_parse_t *p = arg;
    if (p->kind == IM_DOC_INDEX)
        p->obj = en_ss_index_parse(text, len, p->name, err);
    else if (p->kind == IM_DOC_PRODUCTS)
        p->obj = en_ss_products_parse(text, len, p->name, err);
    else
        // Juju does not check the reference file's format (its own
        // fixture says index:1.0); mirror metadata must say mirrors:1.0
        p->obj = en_ss_mirrors_parse(text, len, p->name,
                                     p->kind == IM_DOC_MIRROR_META ? "mirrors:1.0" : NULL, err);
    return p->obj ? 0 : -1;
}

static void
s_parse_drop(s_parse_t *p)
{
    s_obj_free(p->kind, p->obj);
    p->obj = NULL;
}

static im_doc_t *
s_doc_new(const char *url, const im_source_t *src, bool is_signed, im_doc_kind_t kind)
{
    im_doc_t *d = calloc(1, sizeof *d);
    d->url = strdup(url);
    d->keyring = strdup(is_signed ? src->keyring : "");
    d->is_signed = is_signed;
    d->kind = kind;
    d->fetched_ms = en_mono_ms();
    atomic_init(&d->refs, 2); // the cache's and the caller's
    return d;
}

static bool
s_matches(const im_doc_t *d, const im_source_t *src, im_doc_kind_t kind, bool is_signed)
{
    return d->kind == kind && d->is_signed == is_signed &&
           strcmp(d->keyring, is_signed ? src->keyring : "") == 0;
}

im_doc_t *
im_cache_get(im_thread_t *t, const im_source_t *src, const char *url, const char *name,
             im_doc_kind_t kind, bool is_signed, en_err_t *err)
{
    im_cache_t *self = t->self->cache;
    im_doc_t *stale = NULL;
    en_ssfetch_validators_t prev = {0};
    char *etag = NULL, *lm = NULL;
    // no key, no signed document: say so before any I/O
    if (is_signed && !*src->keyring)
        return en_err_set(err, EN_NOT_VALID,
                          "source \"%s\": no public key to verify signed metadata with",
                          src->description),
               NULL;

    pthread_mutex_lock(&self->mu);
    im_doc_t *d = zhashx_lookup(self->by_url, url);
    if (d && s_matches(d, src, kind, is_signed)) {
        if (en_mono_ms() - d->fetched_ms <= self->ttl_ms) {
            self->stats.hits++;
            s_touch(self, d);
            if (!d->obj) {
                *err = d->missing;
                pthread_mutex_unlock(&self->mu);
                return NULL;
            }
            atomic_fetch_add(&d->refs, 1);
            pthread_mutex_unlock(&self->mu);
            return d;
        }
        if (d->obj) {
            stale = d;
            atomic_fetch_add(&d->refs, 1);
            etag = d->etag ? strdup(d->etag) : NULL;
            lm = d->last_modified ? strdup(d->last_modified) : NULL;
        }
    }
    pthread_mutex_unlock(&self->mu);

    prev.etag = etag;
    prev.last_modified = lm;
    en_ssfetch_result_t r = {0};
    int rc = en_ssfetch_get(t->fetch, url, stale ? &prev : NULL, &r, err);
    free(etag);
    free(lm);
    if (rc) {
        im_doc_release(&stale);
        if (err->kind == EN_NOT_FOUND || err->kind == EN_UNAUTHORIZED) {
            im_doc_t *m = s_doc_new(url, src, is_signed, kind);
            m->missing = *err;
            atomic_store(&m->refs, 1); // the cache's only
            pthread_mutex_lock(&self->mu);
            s_insert(self, m);
            pthread_mutex_unlock(&self->mu);
        }
        return NULL;
    }
    if (r.not_modified && stale) {
        pthread_mutex_lock(&self->mu);
        self->stats.revalidated++;
        stale->fetched_ms = en_mono_ms();
        if (r.etag) {
            free(stale->etag);
            stale->etag = strdup(r.etag);
        }
        if (r.last_modified) {
            free(stale->last_modified);
            stale->last_modified = strdup(r.last_modified);
        }
        s_touch(self, stale);
        pthread_mutex_unlock(&self->mu);
        en_ssfetch_result_free(&r);
        return stale;
    }
    im_doc_release(&stale);
    if (r.not_modified) {
        en_ssfetch_result_free(&r);
        en_err_set(err, EN_INTERNAL, "%s: 304 Not Modified without validators", url);
        return NULL;
    }

    s_parse_t p = {.kind = kind, .name = name};
    if (is_signed) {
        en_ssverify_t *v = s_verifier(t, src, err);
        rc = v ? en_ssverify_verify_with(v, name, r.body, r.len, s_parse, &p, NULL, err) : -1;
        if (rc)
            s_parse_drop(&p); // a bad signature voids what was parsed
    } else
        rc = s_parse(r.body, r.len, &p, err);
    if (rc) {
        // verification errors already name the source
        if (!strstr(err->message, "source \""))
            en_err_annotate(err, "source \"%s\"", src->description);
        en_ssfetch_result_free(&r);
        return NULL;
    }
    d = s_doc_new(url, src, is_signed, kind);
    d->obj = p.obj;
    d->etag = r.etag ? strdup(r.etag) : NULL;
    d->last_modified = r.last_modified ? strdup(r.last_modified) : NULL;
    d->bytes = r.len + sizeof *d + strlen(url);
    en_ssfetch_result_free(&r);
    pthread_mutex_lock(&self->mu);
    self->stats.fetches++;
    self->stats.parses++;
    s_insert(self, d);
    pthread_mutex_unlock(&self->mu);
    return d;
}
