/*  ss.h — simplestreams documents: parsing, selection and writing, no I/O.

    Everything here works on document bytes the caller already has: fetched
    (ssfetch) and, for .sjson, verified (ssverify hands over the clear-signed
    plaintext). The layers follow docs/simplestreams.md:

      index (§2)    en_ss_index_t     entries in file order; en_ss_index_select
                                      picks the products file (§8.5)
      products (§3) en_ss_products_t  the whole tree, `_aliases` expanded (§5),
                                      attributes inherited top → product →
                                      version → item (§4), indexed by product id
      mirrors (§6)  en_ss_mirrors_t   mirror references and mirror metadata
      lookup (§8.7) en_ss_lookup_*    product ids, newest versions, dedup keys,
                                      filters and Juju's final sort
      writing       en_ss_generate_images (`metadata generate-image`, §8.10)

    A parsed index, products or mirrors object is immutable: after _parse
    returns it may be shared read-only by any number of threads without
    locking (there are no caches inside). Every `const char *` it hands out
    is borrowed and lives as long as the object.

    Where Juju picks at random (Go map order) we define the order: index
    entries and items inside one version keep their file order; versions
    sort bytewise descending; ties in the final sorts keep lookup order.

    Return convention: 0 = success, -1 = error in *err. Selection and lookup
    return en_ss_result_t, whose EN_SS_NO_MATCH is Juju's distinct "no
    matching products" outcome (err then carries Juju's text, kind
    NOT_FOUND) so a caller can move on to the next source. */
#ifndef EN_SS_H
#define EN_SS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/err.h"

typedef enum {
    EN_SS_ERROR = -1,   //  *err set (NOT_FOUND / NOT_VALID ...)
    EN_SS_FOUND = 0,    //  at least one result
    EN_SS_NO_MATCH = 1, //  Juju's noMatchingProductsError; *err has its text
} en_ss_result_t;

//  A cloud as an index entry or constraint names it. Both NULL/"" = no cloud.
typedef struct {
    const char *region;
    const char *endpoint;
} en_ss_cloud_t;

//  Juju's CloudSpec equality: regions equal after removing spaces and
//  lower-casing ("East US 2" == "eastus2"); endpoints equal after adding a
//  trailing "/" to whichever lacks it. NULL counts as "".
bool en_ss_cloud_equal(const en_ss_cloud_t *a, const en_ss_cloud_t *b);

// ---------------------------------------------------------------------------
//  Index documents ("index:1.0")

typedef struct {
    const char *content_id; //  key in "index"
    const char *format;     //  "products:1.0" usually; NULL when absent
    const char *datatype;   //  "image-ids", "image-downloads"...; NULL when absent
    const char *path;       //  products file relative to the mirror root (required)
    const char *cloudname;  //  NULL when absent
    const char *updated;    //  NULL when absent
    const char *const *products;
    size_t product_count;
    const en_ss_cloud_t *clouds; //  none = every cloud
    size_t cloud_count;
} en_ss_index_entry_t;

typedef struct en_ss_index en_ss_index_t;

//  Parse an index. `name` (e.g. "index.json" or a URL) prefixes every
//  NOT_VALID message: `index.json: "index" is not an object`,
//  `index.json: format "products:1.0" is not "index:1.0"`,
//  `index.json: invalid JSON at line 3 column 5: <jansson's text>`,
//  `index.json: index entry "<id>": "path" is missing`.
//  Members of "index" that are not objects are skipped (multipass writes
//  "updated"/"format" there). A missing top-level "format" is tolerated
//  (same files); a present one must be "index:1.0".
en_ss_index_t *en_ss_index_parse(const char *buf, size_t len, const char *name, en_err_t *err);
void en_ss_index_destroy(en_ss_index_t **self_p);
const char *en_ss_index_format(const en_ss_index_t *self);  //  NULL when absent
const char *en_ss_index_updated(const en_ss_index_t *self); //  NULL when absent
size_t en_ss_index_count(const en_ss_index_t *self);
//  Entry i in file order; NULL when out of range.
const en_ss_index_entry_t *en_ss_index_entry(const en_ss_index_t *self, size_t i);
//  Entry by content id; NULL when absent.
const en_ss_index_entry_t *en_ss_index_find(const en_ss_index_t *self, const char *content_id);

//  What GetProductsPath (§8.5) is asked for.
typedef struct {
    const char *datatype;           //  required
    const char *const *content_ids; //  agents: com.ubuntu.juju:<stream>:agents; 0 = any
    size_t content_id_count;
    en_ss_cloud_t cloud;            //  both empty = any cloud
    const char *const *product_ids; //  at least one must be listed by the entry
    size_t product_id_count;
} en_ss_index_query_t;

//  Juju's GetProductsPath with a fixed order. Every matching entry is
//  written to matches[] (up to max, may be NULL when max is 0) in file
//  order, then content id; *count gets the number that matched. Juju uses
//  "the first", which is matches[0].
//  Errors (EN_SS_ERROR, NOT_FOUND): `"image-ids" data not found`,
//  `index file has no data for cloud {<region> <endpoint>} not found`.
//  No entry lists a wanted product: EN_SS_NO_MATCH with
//  `index file has no data for product name(s) ["a" "b"]`.
en_ss_result_t en_ss_index_select(const en_ss_index_t *self, const en_ss_index_query_t *query,
                                  const en_ss_index_entry_t **matches, size_t max, size_t *count,
                                  en_err_t *err);

// ---------------------------------------------------------------------------
//  Products documents ("products:1.0")

typedef struct en_ss_products en_ss_products_t;
typedef struct en_ss_product en_ss_product_t;
typedef struct en_ss_version en_ss_version_t;

typedef struct {
    const char *key;
    const char *value; //  strings as is; numbers as decimal text ("313851904")
} en_ss_attr_t;

//  An item: its own attributes after `_aliases` expansion (own values
//  overridden by alias values, as Juju and Python do). Inherited values are
//  found through en_ss_item_get, which walks item → version → product →
//  top level, so memory stays proportional to the file.
typedef struct {
    const char *key;           //  item key, e.g. "disk1.img"
    const en_ss_attr_t *attrs; //  own attributes, file order
    size_t attr_count;
    const en_ss_version_t *version; //  parent
} en_ss_item_t;

struct en_ss_version {
    const char *key; //  version key, e.g. "20161020" or "20161020.1"
    const en_ss_attr_t *attrs;
    size_t attr_count;
    const en_ss_item_t *items; //  file order
    size_t item_count;
    const en_ss_product_t *product;
};

struct en_ss_product {
    const char *id; //  product id, e.g. "com.ubuntu.cloud:server:16.04:amd64"
    const en_ss_attr_t *attrs;
    size_t attr_count;
    const en_ss_version_t *versions; //  sorted bytewise descending: [0] is the newest
    size_t version_count;
    const en_ss_products_t *doc;
};

//  Parse a products file. Messages are prefixed with `name`:
//  `format "index:1.0" is not "products:1.0"`, `"products" is missing`,
//  `product "<id>": "versions" is missing`,
//  `product "<id>" version "<v>": "items" is missing`, invalid JSON with
//  line/column. Strings and numbers are attributes at every level (a string
//  where a number is usual, or the reverse, is accepted); booleans, arrays
//  and objects are not (Python's products_exdata does the same). The jansson
//  DOM is freed before returning: the result is a compact copy in one arena.
en_ss_products_t *en_ss_products_parse(const char *buf, size_t len, const char *name,
                                       en_err_t *err);
void en_ss_products_destroy(en_ss_products_t **self_p);
//  Top-level string attributes (NULL when absent).
const char *en_ss_products_get(const en_ss_products_t *self, const char *key);
const char *en_ss_products_content_id(const en_ss_products_t *self);
const char *en_ss_products_datatype(const en_ss_products_t *self);
//  Products sorted by id (bytewise).
size_t en_ss_products_count(const en_ss_products_t *self);
const en_ss_product_t *en_ss_products_at(const en_ss_products_t *self, size_t i);
//  Binary search by id; NULL when absent.
const en_ss_product_t *en_ss_products_find(const en_ss_products_t *self, const char *product_id);
size_t en_ss_products_version_total(const en_ss_products_t *self);
size_t en_ss_products_item_total(const en_ss_products_t *self);

//  Effective value of `key` for an item: its own (alias-expanded) value,
//  else the version's, the product's, the top level's. NULL when none.
const char *en_ss_item_get(const en_ss_item_t *item, const char *key);
//  The same for an integer attribute such as "size"; -1 (err NOT_VALID)
//  when missing or not an integer.
int en_ss_item_get_int(const en_ss_item_t *item, const char *key, int64_t *out, en_err_t *err);
//  Visit the flattened attribute set (each key once, with its effective
//  value; item keys first, then version, product and top-level keys). Stops
//  and returns the callback's value when it is non-zero.
int en_ss_item_foreach(const en_ss_item_t *item,
                       int (*fn)(const char *key, const char *value, void *arg), void *arg);
const char *en_ss_item_product_id(const en_ss_item_t *item);
const char *en_ss_item_version_key(const en_ss_item_t *item);

// ---------------------------------------------------------------------------
//  Lookups (§8.7, §8.8)

typedef struct {
    const en_ss_item_t *item;
    const char *stream; //  the stream it was found in ("released", "devel"...)
} en_ss_match_t;

typedef struct {
    en_ss_match_t *v; //  malloc'd; en_ss_matches_free
    size_t count;
} en_ss_matches_t;

void en_ss_matches_free(en_ss_matches_t *m);

//  Image constraint. datatype "image-ids": dedup by (virt, arch, version,
//  region, root_store), region filter exact, sorted by "id". datatype
//  "image-downloads": dedup by (arch, ftype, release, version), ftype
//  filter, sorted by "release".
typedef struct {
    const char *const *releases; //  "16.04", "22.04"... (required, ≥ 1)
    size_t release_count;
    const char *const *arches; //  0 = amd64, arm64, ppc64el, s390x, riscv64
    size_t arch_count;
    const char *stream;   //  NULL/""/"released": com.ubuntu.cloud, else com.ubuntu.cloud.<stream>
    const char *region;   //  image-ids: item region must equal it (exact); NULL = any
    const char *endpoint; //  used for index selection only (as Juju)
    const char *datatype; //  "image-ids" (NULL) or "image-downloads"
    const char *ftype;    //  image-downloads only: NULL = every ftype
} en_ss_image_query_t;

//  Product ids in Juju's order: for each release, for each arch,
//  com.ubuntu.cloud[.<stream>]:server:<release>:<arch>. Caller frees with
//  en_ss_strv_free.
int en_ss_image_product_ids(const en_ss_image_query_t *query, char ***ids_out, size_t *count,
                            en_err_t *err);
void en_ss_strv_free(char **v, size_t count);

//  GetLatestMetadata + filter + sort. EN_SS_NO_MATCH with
//  `index has no records for product ids [...]; it does have product ids [...]`
//  or `index has no matching records`.
en_ss_result_t en_ss_lookup_images(const en_ss_products_t *products,
                                   const en_ss_image_query_t *query, en_ss_matches_t *out,
                                   en_err_t *err);

//  Agent ("tools") constraint (§8.8). Product ids com.ubuntu.juju:<release>:<arch>.
typedef struct {
    const char *const *releases; //  OS types: "ubuntu", "centos"... (required, ≥ 1)
    size_t release_count;
    const char *const *arches; //  0 = the default arch list
    size_t arch_count;
    const char *version; //  exact version number, NULL = use major/minor
    int major;           //  > 0: must match
    int minor;           //  ≥ 0: must match; -1 = any
} en_ss_agent_query_t;

//  Streams consulted for `stream`, most preferred first: released →
//  [released]; proposed → [proposed, released]; devel → [devel, proposed,
//  released]; testing → [testing, devel, proposed, released]. Returns the
//  number written (≤ 4), 0 for an unknown stream. Strings are static.
size_t en_ss_agent_stream_chain(const char *stream, const char *chain[4]);
//  "com.ubuntu.juju:<stream>:agents" into buf; -1 when it does not fit.
int en_ss_agent_content_id(const char *stream, char *buf, size_t size);

//  Agents across a stream chain: per_stream[i] holds the parsed products of
//  chain[i] (NULL when that stream has none). A binary (version-release-
//  arch) found in a more preferred stream hides the same binary in later
//  ones. Sorted by "<version>-<release>-<arch>".
en_ss_result_t en_ss_lookup_agents(const en_ss_products_t *const *per_stream,
                                   const char *const *chain, size_t n_streams,
                                   const en_ss_agent_query_t *query, en_ss_matches_t *out,
                                   en_err_t *err);

// ---------------------------------------------------------------------------
//  Mirrors (§6): the reference file (streams/v1/mirrors.json) and the
//  mirror metadata it points to ("mirrors:1.0") share one shape.

typedef struct {
    const char *content_id; //  key in "mirrors"
    const char *datatype;   //  refs only
    const char *path;
    const char *format;
    const char *updated;
    const char *mirror; //  metadata only: base URL of the mirror
    const en_ss_cloud_t *clouds;
    size_t cloud_count;
} en_ss_mirror_t;

typedef struct en_ss_mirrors en_ss_mirrors_t;

//  expect_format NULL: the top-level format is not checked (Juju's refs);
//  "mirrors:1.0" for mirror metadata.
en_ss_mirrors_t *en_ss_mirrors_parse(const char *buf, size_t len, const char *name,
                                     const char *expect_format, en_err_t *err);
void en_ss_mirrors_destroy(en_ss_mirrors_t **self_p);
size_t en_ss_mirrors_count(const en_ss_mirrors_t *self);
const en_ss_mirror_t *en_ss_mirrors_at(const en_ss_mirrors_t *self, size_t i);
//  Reference choice: first ref for content_id with the cloud and datatype;
//  else the first ref with no clouds (datatype not checked, as Juju); else NULL.
const en_ss_mirror_t *en_ss_mirrors_select_ref(const en_ss_mirrors_t *self, const char *content_id,
                                               const en_ss_cloud_t *cloud, const char *datatype);
//  Mirror choice: first entry for content_id whose clouds contain the cloud.
const en_ss_mirror_t *en_ss_mirrors_select_mirror(const en_ss_mirrors_t *self,
                                                  const char *content_id,
                                                  const en_ss_cloud_t *cloud);

// ---------------------------------------------------------------------------
//  Writing custom image metadata (`metadata generate-image`, §8.10)

typedef struct {
    const char *id;      //  cloud image id (also the item key)
    const char *release; //  "16.04"
    const char *arch;    //  "amd64"
    const char *region;
    const char *endpoint;
    const char *root_store; //  NULL = omitted
    const char *virt;       //  NULL = omitted
    const char *stream;     //  NULL/"released" → com.ubuntu.cloud:server:...
} en_ss_image_meta_t;

#define EN_SS_CUSTOM_CONTENT_ID "com.ubuntu.cloud:custom"
#define EN_SS_CUSTOM_PRODUCTS_PATH "streams/v1/com.ubuntu.cloud-released-imagemetadata.json"

//  Build index.json and the products file for images, as Juju does: one
//  index entry EN_SS_CUSTOM_CONTENT_ID (datatype image-ids, cloudname
//  custom, distinct clouds in input order, products sorted), products
//  com.ubuntu.cloud[.<stream>]:server:<release>:<arch> with {version, arch},
//  version key = YYYYMMDD of `now` (UTC), items {id, region, endpoint,
//  [root_store], [virt]}; "updated" is `now` as RFC 1123Z. Both strings are
//  malloc'd JSON text for the caller to free.
int en_ss_generate_images(const en_ss_image_meta_t *images, size_t count, time_t now,
                          char **index_json, char **products_json, en_err_t *err);

// ---------------------------------------------------------------------------
//  Clear-signed messages — TESTS AND TOOLS ONLY

//  The signed text of an OpenPGP clear-signed message (RFC 4880 §7),
//  dash-unescaped, WITHOUT checking the signature. Anything before the
//  "-----BEGIN PGP SIGNED MESSAGE-----" line and after the signature is
//  ignored. Never use it on data from the network outside tests and
//  offline tools: production code takes plaintext from ssverify.
//  *out is malloc'd (NUL-terminated, *out_len bytes). NOT_VALID when there
//  is no clear-signed block.
int en_ss_clearsign_body(const char *buf, size_t len, char **out, size_t *out_len, en_err_t *err);

#endif
