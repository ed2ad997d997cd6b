/*  imagemeta.h — the image metadata service: simplestreams data sources,
    fetch, signature checks, lookup and a cache (Juju's
    environs/imagemetadata, environs/simplestreams and tools.FindTools;
    docs/simplestreams.md §8, docs/juju-environs.md §6).

    Four parts, one file each:

      store.c   the registered sources, in <home>/imagemeta.db (SQLite,
                WAL), shared by every replica: Register appends,
                RegisterUser prepends, a known id is replaced in place.
      sources.c a model's source list in Juju's order: image-metadata-url
                (or agent-metadata-url), the registered sources, the
                provider's own (en_provider_t.image_sources), then the
                defaults unless image-metadata-defaults-disabled.
      lookup.c  FindImageMetadata / FindAgentMetadata: per source signed
                first (index2.sjson, index.sjson), unsigned only when no
                signed index exists and the source allows it; a bad
                signature skips the source with that error, it never
                falls back to unsigned data.
      cache.c   parsed documents per URL, shared by the process's threads
                (one mutex), with their validators: within the TTL a
                lookup does no I/O, after it a conditional GET (304 keeps
                the parsed object). Entries are refcounted, so an entry
                evicted by the byte budget (LRU) lives until the lookup
                that holds it lets go.

    Per worker thread: a registry client and model cache (the model's
    config and cloud spec), a handle on imagemeta.db, a fetcher (libcurl
    handles are not thread-safe) and the verifiers it has made, one per
    (source, keyring). */
#ifndef EN_IMAGEMETA_H
#define EN_IMAGEMETA_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus/client.h"
#include "bus/modelcache.h"
#include "providers/provider.h"
#include "bus/service.h"
#include "environ.pb-c.h"
#include "simplestreams/ss.h"
#include "simplestreams/ssfetch.h"
#include "simplestreams/ssverify.h"

typedef struct im_cache im_cache_t;

//  Options; zero means the default shown. imagemeta_new reads them from
//  the environment (names in brackets).
typedef struct {
    int64_t ttl_ms;     // 300 000: a cached document is used without I/O
                        // for this long [ENVIRONS_IMAGEMETA_TTL_MS]
    size_t cache_bytes; // 256 MiB of parsed documents (estimated from their
                        // size on the wire) [ENVIRONS_IMAGEMETA_CACHE_MB]
    //  Keyring files (ASCII-armored or binary OpenPGP public keys) of the
    //  default sources. Debian 12 has no ubuntu-keyring package, so the
    //  Ubuntu cloud image key is a file the operator provides; the default
    //  path is where Ubuntu's ubuntu-keyring installs it. A missing file
    //  leaves the default source without a key: lookups skip it with
    //  NOT_VALID.
    const char *cloudimage_keyring; // [ENVIRONS_CLOUDIMAGE_KEYRING]
                                    // /usr/share/keyrings/ubuntu-cloudimage-keyring.gpg
    const char *juju_keyring;       // [ENVIRONS_JUJU_KEYRING] none
    en_ssfetch_opts_t fetch; // .ca_file: the CA bundle https sources are
                             // checked with [ENVIRONS_IMAGEMETA_CA_FILE];
                             // the system's when unset
} imagemeta_opts_t;

typedef struct {
    uint64_t fetches;     // GETs that returned 200 (a document was read)
    uint64_t revalidated; // GETs answered 304 (kept the parsed object)
    uint64_t parses;      // documents parsed (after verification)
    uint64_t hits;        // lookups answered from a fresh entry, no I/O
    uint64_t evictions;
    size_t bytes; // held now
    size_t entries;
} imagemeta_stats_t;

typedef struct {
    en_service_base_t base;
    imagemeta_opts_t opts;
    char *cloudimage_keyring; // armored text, NULL when none
    char *juju_keyring;
    im_cache_t *cache;
} imagemeta_t;

imagemeta_t *imagemeta_new(const char *home, const char *gateways, en_err_t *err);
//  The same with explicit options (tests); opts NULL = defaults.
imagemeta_t *imagemeta_new_opts(const char *home, const char *gateways,
                                const imagemeta_opts_t *opts, en_err_t *err);
void imagemeta_destroy(imagemeta_t **self_p);
const en_service_def_t *imagemeta_service(imagemeta_t *self);
void imagemeta_stats(imagemeta_t *self, imagemeta_stats_t *out);
//  Age every cached document past the TTL (tests: "after the TTL"
//  without waiting for it).
void imagemeta_expire(imagemeta_t *self);

//  --------------------------------------------------------------------------
//  Internal: per-thread state

typedef struct im_verifier im_verifier_t;

//  What a thread remembers of a provider's own sources (image_sources
//  opens the cloud's files: the sim its database and its tree), per cloud
//  spec, for IM_PROVIDER_TTL_MS: a cloud's published tree does not move.
#define IM_PROVIDER_CACHE_MAX 8
#define IM_PROVIDER_TTL_MS 60000
typedef struct {
    char *key; // type|name|region|endpoint
    en_image_source_t *sources;
    size_t count;
    int64_t at_ms; // monotonic
} im_provider_cached_t;

typedef struct {
    imagemeta_t *self;
    im_provider_cached_t providers[IM_PROVIDER_CACHE_MAX];
    size_t provider_count;
    en_client_t *client;     // NULL without gateways
    en_modelcache_t *models; // NULL without gateways
    sqlite3 *db;
    en_ssfetch_t *fetch;
    im_verifier_t *verifiers; // linked list, made on first use
    unsigned seed;
} im_thread_t;

//  A data source as the lookup uses it: strings borrowed (arena or wire).
typedef struct {
    const char *id;
    const char *description;
    const char *url;
    int priority;
    bool require_signed;
    const char *keyring; // "" when none
    const char *kind;    // "images" or "agents"
} im_source_t;

//  The call's model as the sources and lookups need it (arena strings).
typedef struct {
    const char *config_json;
    En__CloudSpec *cloud; // arena copy
} im_model_t;

int im_model(im_thread_t *t, en_call_t *call, im_model_t *model, en_err_t *err);

//  store.c
int im_store_open(const char *home, sqlite3 **db, unsigned *seed, en_err_t *err);
//  prepend: RegisterUser. NOT_VALID for an empty id or url, or a url not
//  file://, http:// or https://, or an unknown kind.
int im_store_register(im_thread_t *t, const En__ImageDataSource *src, bool prepend, en_err_t *err);
int im_store_unregister(im_thread_t *t, const char *id, en_err_t *err);
//  Sources of kind ("images" / "agents") in order, in the call's arena.
int im_store_list(im_thread_t *t, en_arena_t *a, const char *kind, im_source_t **out, size_t *count,
                  en_err_t *err);
//  NOT_VALID unless url starts with file://, http:// or https://.
int im_url_check(const char *what, const char *url, en_err_t *err);

//  sources.c: the model's sources, in lookup order, in the arena.
//  Forget the remembered provider sources (thread end).
void im_provider_cache_clear(im_thread_t *t);
int im_sources(im_thread_t *t, en_call_t *call, const im_model_t *model, bool agents,
               im_source_t **out, size_t *count, en_err_t *err);
En__ImageDataSource *im_source_to(en_arena_t *a, const im_source_t *s);
//  A string or bool from the model config ("" / false when absent).
const char *im_config_str(en_arena_t *a, const char *config_json, const char *key);
bool im_config_bool(const char *config_json, const char *key);

//  cache.c — documents by URL. What a document is parsed as:
//  IM_DOC_MIRRORS is the reference file (streams/v1/mirrors.*, format
//  not checked, as Juju); IM_DOC_MIRROR_META what a reference points at
//  ("mirrors:1.0").
typedef enum { IM_DOC_INDEX, IM_DOC_PRODUCTS, IM_DOC_MIRRORS, IM_DOC_MIRROR_META } im_doc_kind_t;

typedef struct im_doc im_doc_t; // a refcounted cache entry
im_cache_t *im_cache_new(size_t budget, int64_t ttl_ms);
void im_cache_destroy(im_cache_t **self_p);
//  The parsed document at url, fetched (and, when `signed`, verified with
//  the source's keyring) unless a fresh copy is cached. Returns a held
//  reference (im_doc_release), or NULL with err: the fetcher's errors
//  (NOT_FOUND for a missing file, remembered for the TTL too), NOT_VALID
//  from verification (naming source and file) or parsing.
im_doc_t *im_cache_get(im_thread_t *t, const im_source_t *src, const char *url, const char *name,
                       im_doc_kind_t kind, bool is_signed, en_err_t *err);
void im_doc_release(im_doc_t **doc_p);
const en_ss_index_t *im_doc_index(const im_doc_t *doc);
const en_ss_products_t *im_doc_products(const im_doc_t *doc);
const en_ss_mirrors_t *im_doc_mirrors(const im_doc_t *doc);
void im_cache_stats(im_cache_t *self, imagemeta_stats_t *out);
void im_cache_expire(im_cache_t *self);
void im_verifiers_free(im_thread_t *t);

//  Route groups
extern const en_route_t im_source_routes[];
extern const size_t im_source_route_count;
extern const en_route_t im_lookup_routes[];
extern const size_t im_lookup_route_count;

#endif
