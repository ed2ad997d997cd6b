/*  test_simplestreams_products.c — products documents (docs/simplestreams.md
    §3-§5) and image lookups (§8.7, §8.8): the real 2016 cloud-images
    download file, Juju's sstesting image fixture (inheritance, _aliases),
    the upstream examples, go-simplestreams LXD/Incus files, the mpss
    excerpt and multipass's manifests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <pthread.h>
#include <time.h>

#include "unit/test_simplestreams.h"

#define DL2016                                                                                     \
    "real/cloud-images.ubuntu.com/releases-20161104/streams/v1/"                                   \
    "com.ubuntu.cloud:released:download.sjson"
#define JUJU "fixtures/juju-sstesting/test-root/"
#define MP "fixtures/multipass/"

static double
s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

//  One lookup expecting exactly one match.
static const en_ss_item_t *
s_one(const en_ss_products_t *p, const en_ss_image_query_t *q)
{
    en_ss_matches_t m;
    en_err_t err = {0};
    assert_int_equal(en_ss_lookup_images(p, q, &m, &err), EN_SS_FOUND);
    assert_int_equal(m.count, 1);
    const en_ss_item_t *it = m.v[0].item;
    en_ss_matches_free(&m);
    return it;
}

static void
download_2016_counts_match_a_raw_jansson_walk(void **state)
{
    (void)state;
    size_t len;
    char *buf = ss_read_sjson(DL2016, &len);
    // independent count straight from the DOM
    json_t *root = json_loadb(buf, len, 0, NULL);
    assert_non_null(root);
    size_t products = 0, versions = 0, items = 0;
    const char *k1, *k2;
    json_t *p, *v;
    json_object_foreach(json_object_get(root, "products"), k1, p)
    {
        products++;
        json_object_foreach(json_object_get(p, "versions"), k2, v)
        {
            versions++;
            items += json_object_size(json_object_get(v, "items"));
        }
    }
    json_decref(root);
    assert_int_equal(products, 51);
    assert_int_equal(versions, 1319);
    assert_int_equal(items, 7008);

    en_err_t err = {0};
    double t0 = s_now();
    en_ss_products_t *doc = en_ss_products_parse(buf, len, "download.sjson", &err);
    double t1 = s_now();
    assert_non_null(doc);
    assert_int_equal(en_ss_products_count(doc), products);
    assert_int_equal(en_ss_products_version_total(doc), versions);
    assert_int_equal(en_ss_products_item_total(doc), items);
    assert_string_equal(en_ss_products_content_id(doc), "com.ubuntu.cloud:released:download");
    assert_string_equal(en_ss_products_datatype(doc), "image-downloads");
    // products sorted by id, versions newest first
    for (size_t i = 1; i < en_ss_products_count(doc); i++)
        assert_true(strcmp(en_ss_products_at(doc, i - 1)->id, en_ss_products_at(doc, i)->id) < 0);
    const en_ss_product_t *x = en_ss_products_find(doc, "com.ubuntu.cloud:server:16.04:amd64");
    assert_int_equal(x->version_count, 17);
    for (size_t i = 1; i < x->version_count; i++)
        assert_true(strcmp(x->versions[i - 1].key, x->versions[i].key) > 0);
    assert_null(en_ss_products_find(doc, "com.ubuntu.cloud:server:99.04:amd64"));
    print_message("parse of %zu-byte download.sjson body: %.1f ms\n", len, (t1 - t0) * 1e3);
    en_ss_products_destroy(&doc);
    free(buf);
}

static void
download_2016_latest_xenial_disk1_and_trusty_arm64_tarball(void **state)
{
    (void)state;
    en_ss_products_t *doc = ss_products_file(DL2016, true);
    assert_non_null(doc);
    const char *const xenial[] = {"16.04"}, *const amd64[] = {"amd64"};
    en_ss_image_query_t q = {.releases = xenial,
                             .release_count = 1,
                             .arches = amd64,
                             .arch_count = 1,
                             .datatype = "image-downloads",
                             .ftype = "disk1.img"};
    // From the file: product com.ubuntu.cloud:server:16.04:amd64, newest
    // version key "20161020" (of 17), item "disk1.img" (lines near the
    // "release-20161020/ubuntu-16.04-server-cloudimg-amd64-disk1.img" path).
    const en_ss_item_t *it = s_one(doc, &q);
    assert_string_equal(en_ss_item_product_id(it), "com.ubuntu.cloud:server:16.04:amd64");
    assert_string_equal(en_ss_item_version_key(it), "20161020");
    assert_string_equal(it->key, "disk1.img");
    assert_string_equal(en_ss_item_get(it, "sha256"),
                        "3eb2b8b528c62c59577f9b35c8857494f72b88a9cc2b1f4679f51cde9b4ef230");
    assert_string_equal(en_ss_item_get(it, "md5"), "3dc12c0950321bb114279959ffb239d8");
    assert_string_equal(
        en_ss_item_get(it, "path"),
        "server/releases/xenial/release-20161020/ubuntu-16.04-server-cloudimg-amd64-disk1.img");
    int64_t size;
    assert_int_equal(en_ss_item_get_int(it, "size", &size, NULL), 0);
    assert_int_equal(size, 313851904);
    // inherited from the product and the version
    assert_string_equal(en_ss_item_get(it, "release"), "xenial");
    assert_string_equal(en_ss_item_get(it, "label"), "release");
    assert_string_equal(en_ss_item_get(it, "content_id"), "com.ubuntu.cloud:released:download");
    assert_null(en_ss_item_get(it, "supported")); // booleans are not attributes

    // From the file, lines 24741-24747: product com.ubuntu.cloud:server:14.04:arm64,
    // newest version "20161020" (of 64), item "tar.gz".
    const char *const trusty[] = {"14.04"}, *const arm64[] = {"arm64"};
    en_ss_image_query_t t = {.releases = trusty,
                             .release_count = 1,
                             .arches = arm64,
                             .arch_count = 1,
                             .datatype = "image-downloads",
                             .ftype = "tar.gz"};
    it = s_one(doc, &t);
    assert_string_equal(en_ss_item_version_key(it), "20161020");
    assert_string_equal(en_ss_item_get(it, "sha256"),
                        "5046c3481367d78d6b24fc16dde45714728c0a209af121295b03bcdfa05c0dc2");
    assert_string_equal(
        en_ss_item_get(it, "path"),
        "server/releases/trusty/release-20161020/ubuntu-14.04-server-cloudimg-arm64.tar.gz");
    assert_int_equal(en_ss_item_get_int(it, "size", &size, NULL), 0);
    assert_int_equal(size, 333523056);
    en_ss_products_destroy(&doc);
}

static void
download_2016_lookup_dedups_and_sorts_by_release(void **state)
{
    (void)state;
    en_ss_products_t *doc = ss_products_file(DL2016, true);
    const char *const rel[] = {"16.04", "14.04"}, *const amd64[] = {"amd64"};
    en_ss_image_query_t q = {.releases = rel,
                             .release_count = 1,
                             .arches = amd64,
                             .arch_count = 1,
                             .datatype = "image-downloads"};
    en_ss_matches_t m;
    en_err_t err = {0};
    // every ftype of 16.04 amd64 once, all from the newest version
    assert_int_equal(en_ss_lookup_images(doc, &q, &m, &err), EN_SS_FOUND);
    assert_int_equal(m.count, 10);
    for (size_t i = 0; i < m.count; i++)
        assert_string_equal(en_ss_item_version_key(m.v[i].item), "20161020");
    en_ss_matches_free(&m);
    // xenial is looked up first, the result is sorted by release: trusty first
    q.release_count = 2;
    q.ftype = "disk1.img";
    assert_int_equal(en_ss_lookup_images(doc, &q, &m, &err), EN_SS_FOUND);
    assert_int_equal(m.count, 2);
    assert_string_equal(en_ss_item_get(m.v[0].item, "release"), "trusty");
    assert_string_equal(en_ss_item_get(m.v[1].item, "release"), "xenial");
    en_ss_matches_free(&m);
    // unknown product: Juju's no-records text, as a no-match
    const char *const none[] = {"99.04"};
    q.releases = none;
    q.release_count = 1;
    assert_int_equal(en_ss_lookup_images(doc, &q, &m, &err), EN_SS_NO_MATCH);
    assert_int_equal(m.count, 0);
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_true(
        strncmp(
            err.message,
            "index has no records for product ids [com.ubuntu.cloud:server:99.04:amd64]; "
            "it does have product ids [com.ubuntu.cloud:server:10.04:amd64 ",
            strlen("index has no records for product ids [com.ubuntu.cloud:server:99.04:amd64]; "
                   "it does have product ids [com.ubuntu.cloud:server:10.04:amd64 ")) == 0);
    // a known product, an ftype it never has
    q.releases = rel;
    q.ftype = "vhd.zip";
    assert_int_equal(en_ss_lookup_images(doc, &q, &m, &err), EN_SS_NO_MATCH);
    assert_string_equal(err.message, "index has no matching records");
    en_ss_products_destroy(&doc);
}

typedef struct {
    const en_ss_products_t *doc;
    int ok;
} s_thread_arg_t;

static void *
s_lookup_thread(void *p)
{
    s_thread_arg_t *a = p;
    const char *const rel[] = {"16.04"}, *const arches[] = {"amd64"};
    en_ss_image_query_t q = {.releases = rel,
                             .release_count = 1,
                             .arches = arches,
                             .arch_count = 1,
                             .datatype = "image-downloads",
                             .ftype = "disk1.img"};
    a->ok = 1;
    for (int i = 0; i < 2000; i++) {
        en_ss_matches_t m;
        if (en_ss_lookup_images(a->doc, &q, &m, NULL) != EN_SS_FOUND || m.count != 1 ||
            strcmp(en_ss_item_version_key(m.v[0].item), "20161020") != 0)
            a->ok = 0;
        en_ss_matches_free(&m);
    }
    return NULL;
}

static void
download_2016_parsed_once_is_shared_by_threads_and_warm_lookup_is_fast(void **state)
{
    (void)state;
    en_ss_products_t *doc = ss_products_file(DL2016, true);
    pthread_t th[4];
    s_thread_arg_t args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (s_thread_arg_t){doc, 0};
        assert_int_equal(pthread_create(&th[i], NULL, s_lookup_thread, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].ok, 1);
    }
    // rough warm-lookup figure for the report (not asserted)
    const char *const rel[] = {"16.04"}, *const arches[] = {"amd64"};
    en_ss_image_query_t q = {.releases = rel,
                             .release_count = 1,
                             .arches = arches,
                             .arch_count = 1,
                             .datatype = "image-downloads",
                             .ftype = "disk1.img"};
    const int rounds = 20000;
    double t0 = s_now();
    for (int i = 0; i < rounds; i++) {
        en_ss_matches_t m;
        en_ss_lookup_images(doc, &q, &m, NULL);
        en_ss_matches_free(&m);
    }
    double t1 = s_now();
    q.ftype = NULL;
    for (int i = 0; i < rounds; i++) {
        en_ss_matches_t m;
        en_ss_lookup_images(doc, &q, &m, NULL);
        en_ss_matches_free(&m);
    }
    double t2 = s_now();
    print_message("warm lookup 16.04/amd64 disk1.img: %.2f us; all ftypes: %.2f us\n",
                  (t1 - t0) * 1e6 / rounds, (t2 - t1) * 1e6 / rounds);
    en_ss_products_destroy(&doc);
}

static const char *
s_id(const en_ss_match_t *m)
{
    return en_ss_item_get(m->item, "id");
}

static void
juju_fixture_inheritance_and_aliases_give_juju_results(void **state)
{
    (void)state;
    en_ss_products_t *doc = ss_products_file(JUJU "streams/v1/image_metadata.json", false);
    assert_non_null(doc);
    const char *const precise[] = {"12.04"}, *const amd64[] = {"amd64"};
    en_ss_image_query_t q = {.releases = precise,
                             .release_count = 1,
                             .arches = amd64,
                             .arch_count = 1,
                             .region = "us-east-1",
                             .endpoint = "https://ec2.us-east-1.amazonaws.com"};
    en_ss_matches_t m;
    en_err_t err = {0};
    // Juju's expected us-east-1 images: the newest hvm/ebs one (usww2he,
    // 20121218) and the older pv/instance one (usww2pe, 20111111) whose key
    // the newer version lacks. usww1pe inherits region au-east-2 from its
    // version; usww3he is aliased to us-west-3.
    assert_int_equal(en_ss_lookup_images(doc, &q, &m, &err), EN_SS_FOUND);
    assert_int_equal(m.count, 2);
    assert_string_equal(s_id(&m.v[0]), "ami-442ea674");
    assert_string_equal(m.v[0].item->key, "usww2he");
    assert_string_equal(en_ss_item_get(m.v[0].item, "virt"), "hvm");
    assert_string_equal(en_ss_item_get(m.v[0].item, "root_store"), "ebs");
    assert_string_equal(en_ss_item_get(m.v[0].item, "endpoint"),
                        "https://ec2.us-east-1.amazonaws.com");
    assert_string_equal(s_id(&m.v[1]), "ami-442ea684");
    assert_string_equal(en_ss_item_version_key(m.v[1].item), "20111111");
    assert_string_equal(en_ss_item_get(m.v[1].item, "root_store"), "instance");
    assert_string_equal(en_ss_item_get(m.v[1].item, "virt"), "pv");
    assert_string_equal(m.v[0].stream, "released");
    en_ss_matches_free(&m);

    // _aliases: crsn "uswest3" → region us-west-3 and its endpoint
    q.region = "us-west-3";
    assert_int_equal(en_ss_lookup_images(doc, &q, &m, &err), EN_SS_FOUND);
    assert_int_equal(m.count, 1);
    assert_string_equal(s_id(&m.v[0]), "ami-442ea675");
    assert_string_equal(en_ss_item_get(m.v[0].item, "endpoint"),
                        "https://ec2.us-west-3.amazonaws.com");
    assert_string_equal(en_ss_item_get(m.v[0].item, "crsn"), "uswest3");
    en_ss_matches_free(&m);

    // version-level region/endpoint beat the product's
    q.region = "au-east-2";
    assert_int_equal(en_ss_lookup_images(doc, &q, &m, &err), EN_SS_FOUND);
    assert_int_equal(m.count, 1);
    assert_string_equal(s_id(&m.v[0]), "ami-26745463");
    assert_string_equal(en_ss_item_get(m.v[0].item, "endpoint"), "https://somewhere-else");
    en_ss_matches_free(&m);
    // product-level ones apply where the version has none
    q.region = "au-east-1";
    assert_int_equal(en_ss_lookup_images(doc, &q, &m, &err), EN_SS_FOUND);
    assert_int_equal(m.count, 1);
    assert_string_equal(s_id(&m.v[0]), "ami-26745464");
    assert_string_equal(en_ss_item_get(m.v[0].item, "endpoint"), "https://somewhere");
    en_ss_matches_free(&m);
    // no region: every key once, sorted by id
    q.region = NULL;
    assert_int_equal(en_ss_lookup_images(doc, &q, &m, &err), EN_SS_FOUND);
    const char *all[] = {"ami-26745463", "ami-26745464", "ami-442ea674", "ami-442ea675",
                         "ami-442ea684"};
    assert_int_equal(m.count, SS_N(all));
    for (size_t i = 0; i < m.count; i++)
        assert_string_equal(s_id(&m.v[i]), all[i]);
    en_ss_matches_free(&m);

    // item values win; then version, product, top level
    const char *const rels[] = {"14.04", "12.10", "14.10", "13.04"};
    const char *stores[] = {"ssd", "ebs", "ebs", "ebs"}, *virts[] = {"hvm", "pv", "pv", "pv"};
    for (size_t i = 0; i < SS_N(rels); i++) {
        en_ss_image_query_t r = {.releases = &rels[i],
                                 .release_count = 1,
                                 .arches = amd64,
                                 .arch_count = 1,
                                 .region = "nz-east-1"};
        const en_ss_item_t *it = s_one(doc, &r);
        assert_string_equal(en_ss_item_get(it, "root_store"), stores[i]);
        assert_string_equal(en_ss_item_get(it, "virt"), virts[i]);
        assert_string_equal(en_ss_item_get(it, "endpoint"), "https://anywhere");
        assert_string_equal(en_ss_item_get(it, "id"), "ami-36745463");
    }
    // arm: region from the product
    const char *const arm[] = {"arm"};
    en_ss_image_query_t a = {.releases = precise,
                             .release_count = 1,
                             .arches = arm,
                             .arch_count = 1,
                             .region = "us-east-1"};
    assert_string_equal(en_ss_item_get(s_one(doc, &a), "id"), "ami-442ea699");
    en_ss_products_destroy(&doc);
}

static int
s_count_attr(const char *key, const char *value, void *arg)
{
    (void)value;
    size_t *n = arg;
    (*n)++;
    return strcmp(key, "never") == 0;
}

static void
juju_fixture_flattened_item_has_each_key_once(void **state)
{
    (void)state;
    en_ss_products_t *doc = ss_products_file(JUJU "streams/v1/image_metadata.sjson", true);
    assert_non_null(doc);
    const en_ss_product_t *p = en_ss_products_find(doc, "com.ubuntu.cloud:server:14.04:amd64");
    const en_ss_item_t *it = &p->versions[0].items[0];
    size_t n = 0;
    assert_int_equal(en_ss_item_foreach(it, s_count_attr, &n), 0);
    // item: root_store virt id; version: pubname label; product: release
    // version arch; top: updated content_id region endpoint (root_store,
    // virt shadowed) format
    assert_int_equal(n, 3 + 2 + 3 + 5);
    en_ss_products_destroy(&doc);
}

static void
foocloud_md5_only_items_and_old_fields(void **state)
{
    (void)state;
    en_ss_products_t *doc = ss_products_file("fixtures/simplestreams-examples/foocloud/streams/v1/"
                                             "com.example.foovendor:released:download.json",
                                             false);
    assert_non_null(doc);
    const en_ss_product_t *p = en_ss_products_find(doc, "com.example.foovendor:pinky:server:amd64");
    assert_non_null(p);
    assert_string_equal(p->versions[0].key, "20121026.1");
    const en_ss_item_t *it = NULL;
    for (size_t i = 0; i < p->versions[0].item_count; i++)
        if (strcmp(p->versions[0].items[i].key, "disk1.img") == 0)
            it = &p->versions[0].items[i];
    assert_non_null(it);
    assert_string_equal(en_ss_item_get(it, "md5"), "da499b246265a34db8576983371c6c2a");
    assert_null(en_ss_item_get(it, "sha256"));
    assert_string_equal(en_ss_item_get(it, "name"),
                        "foovendor-pinky-6.1-amd64-server-20121026.1-disk1.img");
    assert_string_equal(en_ss_item_get(it, "stream"), "released");
    en_ss_products_destroy(&doc);

    doc = ss_products_file("fixtures/simplestreams-examples/foocloud/streams/v1/"
                           "com.example.foovendor:released:aws.json",
                           false);
    assert_non_null(doc);
    p = en_ss_products_find(doc, "com.example.foovendor:pinky:server:i386");
    assert_int_equal(p->version_count, 3);
    assert_string_equal(p->versions[0].key, "20121026.1");
    assert_string_equal(p->versions[1].key, "20121001");
    assert_string_equal(p->versions[2].key, "20120929");
    it = &p->versions[2].items[1];
    assert_string_equal(it->key, "usee1pi");
    assert_string_equal(en_ss_item_get(it, "id"), "ami-cd4cf1a4");
    assert_string_equal(en_ss_item_get(it, "region"), "us-east-1");
    assert_string_equal(en_ss_item_get(it, "virt_type"), "paravirtual");
    assert_string_equal(en_ss_item_get(it, "label"), "beta2");
    en_ss_products_destroy(&doc);

    doc =
        ss_products_file("fixtures/simplestreams-examples/minimal/streams/v1/download.json", false);
    p = en_ss_products_find(doc, "com.example:product1");
    assert_int_equal(p->versions[0].item_count, 2);
    assert_string_equal(en_ss_item_get(&p->versions[0].items[1], "sha256"),
                        "0e2f431f4e4063483708ce24448af8586e115c984e483d60bdb532194536ece4");
    int64_t size;
    assert_int_equal(en_ss_item_get_int(&p->versions[0].items[1], "size", &size, NULL), 0);
    assert_int_equal(size, 38);
    en_ss_products_destroy(&doc);
}

static void
go_simplestreams_lxd_and_incus_products(void **state)
{
    (void)state;
    en_ss_products_t *doc = ss_products_file("fixtures/go-simplestreams/lxd/products.json", false);
    assert_non_null(doc);
    assert_int_equal(en_ss_products_item_total(doc), 4);
    const en_ss_product_t *p = en_ss_products_find(doc, "debian:bookworm:amd64:default");
    assert_string_equal(p->versions[0].key, "20260508_0431");
    const en_ss_item_t *lxd = &p->versions[0].items[0];
    assert_string_equal(lxd->key, "lxd.tar.xz");
    assert_string_equal(en_ss_item_get(lxd, "combined_disk-kvm-img_sha256"),
                        "307028f999c8a0ae93ed65f1444069bc154ad41ba988382d16b1cf7cdecc35da");
    assert_string_equal(en_ss_item_get(lxd, "variant"), "default");
    assert_null(en_ss_item_get(lxd, "requirements")); // an object: not an attribute
    assert_string_equal(en_ss_item_get(&p->versions[0].items[2], "delta_base"), "20260507_0441");
    en_ss_products_destroy(&doc);

    doc = ss_products_file("fixtures/go-simplestreams/incus/products.json", false);
    p = en_ss_products_find(doc, "debian:bookworm:amd64:default");
    assert_string_equal(p->versions[0].key, "20260511_05:24");
    assert_string_equal(p->versions[0].items[0].key, "incus.tar.xz");
    assert_string_equal(en_ss_item_get(&p->versions[0].items[0], "combined_rootxz_sha256"),
                        "7f23d644c828708104084e80c6697f409670b5ba6fd386aae22778e1915e3055");
    en_ss_products_destroy(&doc);

    doc = ss_products_file("fixtures/go-simplestreams/linuxcontainers/products.json", false);
    assert_int_equal(en_ss_products_item_total(doc), 2);
    en_ss_products_destroy(&doc);

    doc = ss_products_file("fixtures/go-simplestreams/minimal/products.json", false);
    p = en_ss_products_find(doc, "com.example:server:1.0:amd64");
    assert_string_equal(en_ss_item_get(&p->versions[0].items[0], "path"),
                        "server/releases/20260511/disk1.img");
    en_ss_products_destroy(&doc);
}

static void
mpss_excerpt_items_without_path(void **state)
{
    (void)state;
    en_ss_products_t *doc = ss_products_file(
        "fixtures/mpss-lib/com.ubuntu.cloud-released-download.excerpt-20240822.json", false);
    assert_non_null(doc);
    assert_int_equal(en_ss_products_count(doc), 15);
    assert_int_equal(en_ss_products_version_total(doc), 23);
    assert_int_equal(en_ss_products_item_total(doc), 45);
    assert_string_equal(en_ss_products_get(doc, "creator"), "climdb-download-streams-export");
    const char *const focal[] = {"20.04"}, *const armhf[] = {"armhf"};
    en_ss_image_query_t q = {.releases = focal,
                             .release_count = 1,
                             .arches = armhf,
                             .arch_count = 1,
                             .datatype = "image-downloads",
                             .ftype = "disk1.img"};
    const en_ss_item_t *it = s_one(doc, &q);
    assert_string_equal(en_ss_item_version_key(it), "20240821");
    assert_string_equal(en_ss_item_get(it, "sha256"),
                        "74675e6b3b2c5a9e09cdd709971e0b2512483e0b04c89baef1dd8629502df7bd");
    assert_null(en_ss_item_get(it, "path"));
    // 24.04: "20240821" is newer than "20240605.1"
    const char *const noble[] = {"24.04"}, *const amd64[] = {"amd64"};
    en_ss_image_query_t n = q;
    n.releases = noble;
    n.arches = amd64;
    n.ftype = "vmdk";
    it = s_one(doc, &n);
    assert_string_equal(en_ss_item_version_key(it), "20240821");
    assert_null(en_ss_item_get(it, "sha256"));
    en_ss_products_destroy(&doc);
}

static void
s_expect_products_error(const char *rel, const char *message)
{
    size_t len;
    char *buf = ss_read(rel, &len);
    en_err_t err = {0};
    en_ss_products_t *doc = en_ss_products_parse(buf, len, strrchr(rel, '/') + 1, &err);
    free(buf);
    assert_null(doc);
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message, message);
}

static void
multipass_manifests_errors_and_newest_dotted_version(void **state)
{
    (void)state;
    s_expect_products_error(MP "simple_streams_manifest/invalid_top_level.json",
                            "invalid_top_level.json: top level is not an object");
    s_expect_products_error(MP "simple_streams_manifest/missing_products_manifest.json",
                            "missing_products_manifest.json: \"products\" is missing");
    s_expect_products_error(MP "simple_streams_manifest/missing_versions_manifest.json",
                            "missing_versions_manifest.json: product "
                            "\"com.ubuntu.cloud:server:16.04:amd64\": \"versions\" is missing");
    s_expect_products_error(JUJU "streams/v1/index.json",
                            "index.json: format \"index:1.0\" is not \"products:1.0\"");

    en_ss_products_t *doc = ss_products_file(MP "releases/multiple_versions_manifest.json", false);
    const char *const xenial[] = {"16.04"}, *const amd64[] = {"amd64"};
    en_ss_image_query_t q = {.releases = xenial,
                             .release_count = 1,
                             .arches = amd64,
                             .arch_count = 1,
                             .datatype = "image-downloads",
                             .ftype = "disk1.img"};
    // "20170619.1" > "20170516"
    const en_ss_item_t *it = s_one(doc, &q);
    assert_string_equal(en_ss_item_version_key(it), "20170619.1");
    assert_string_equal(en_ss_item_get(it, "path"), "newest_image.img");
    // lxd.tar.xz only exists in the older version: it fills that key
    q.ftype = NULL;
    en_ss_matches_t m;
    assert_int_equal(en_ss_lookup_images(doc, &q, &m, NULL), EN_SS_FOUND);
    assert_int_equal(m.count, 2);
    assert_string_equal(m.v[0].item->key, "disk1.img");
    assert_string_equal(en_ss_item_version_key(m.v[1].item), "20170516");
    en_ss_matches_free(&m);
    en_ss_products_destroy(&doc);

    // the invalid mirror differs only in checksums: parsing does not judge them
    doc =
        ss_products_file(MP "invalid_image_mirror/releases/multiple_versions_manifest.json", false);
    q.ftype = "disk1.img";
    assert_string_equal(en_ss_item_get(s_one(doc, &q), "sha256"),
                        "8842e7a8adb01c7a30cc702b01a5330a1951b12042816e87efd24b61c5e2239f-invalid");
    en_ss_products_destroy(&doc);
    doc = ss_products_file(
        MP "valid_outdated_image_mirror/releases/multiple_versions_manifest.json", false);
    assert_non_null(doc);
    en_ss_products_destroy(&doc);
    doc = ss_products_file(MP "valid_image_mirror/releases/multiple_versions_manifest.json", false);
    assert_non_null(doc);
    en_ss_products_destroy(&doc);

    // daily stream: com.ubuntu.cloud.daily product ids
    const char *const artful[] = {"17.10"};
    en_ss_image_query_t d = {.releases = artful,
                             .release_count = 1,
                             .arches = amd64,
                             .arch_count = 1,
                             .stream = "daily",
                             .datatype = "image-downloads",
                             .ftype = "disk1.img"};
    char **ids;
    size_t n;
    assert_int_equal(en_ss_image_product_ids(&d, &ids, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_string_equal(ids[0], "com.ubuntu.cloud.daily:server:17.10:amd64");
    en_ss_strv_free(ids, n);
    en_ss_index_t *idx = ss_index_file(MP "daily/streams/v1/index.json", false);
    const char *const pid[] = {"com.ubuntu.cloud.daily:server:17.10:amd64"};
    en_ss_index_query_t iq = {
        .datatype = "image-downloads", .product_ids = pid, .product_id_count = 1};
    const en_ss_index_entry_t *e;
    assert_int_equal(en_ss_index_select(idx, &iq, &e, 1, &n, NULL), EN_SS_FOUND);
    assert_string_equal(e->path, "daily_manifest.json");
    en_ss_index_destroy(&idx);
    doc = ss_products_file(MP "daily/daily_manifest.json", false);
    it = s_one(doc, &d);
    assert_string_equal(en_ss_item_version_key(it), "20170702");
    assert_string_equal(en_ss_item_get(it, "path"), "newest-artful.img");
    en_ss_products_destroy(&doc);
}

static void
product_ids_follow_juju_order_and_defaults(void **state)
{
    (void)state;
    const char *const rel[] = {"22.04", "20.04"}, *const arches[] = {"arm64", "amd64"};
    en_ss_image_query_t q = {
        .releases = rel, .release_count = 2, .arches = arches, .arch_count = 2};
    char **ids;
    size_t n;
    assert_int_equal(en_ss_image_product_ids(&q, &ids, &n, NULL), 0);
    const char *want[] = {
        "com.ubuntu.cloud:server:22.04:arm64", "com.ubuntu.cloud:server:22.04:amd64",
        "com.ubuntu.cloud:server:20.04:arm64", "com.ubuntu.cloud:server:20.04:amd64"};
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(ids[i], want[i]);
    en_ss_strv_free(ids, n);
    q.arch_count = 0;
    q.release_count = 1;
    q.stream = "released";
    assert_int_equal(en_ss_image_product_ids(&q, &ids, &n, NULL), 0);
    assert_int_equal(n, 5);
    assert_string_equal(ids[0], "com.ubuntu.cloud:server:22.04:amd64");
    assert_string_equal(ids[4], "com.ubuntu.cloud:server:22.04:riscv64");
    en_ss_strv_free(ids, n);
    en_err_t err = {0};
    q.release_count = 0;
    assert_int_equal(en_ss_image_product_ids(&q, &ids, &n, &err), -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(download_2016_counts_match_a_raw_jansson_walk),
        cmocka_unit_test(download_2016_latest_xenial_disk1_and_trusty_arm64_tarball),
        cmocka_unit_test(download_2016_lookup_dedups_and_sorts_by_release),
        cmocka_unit_test(download_2016_parsed_once_is_shared_by_threads_and_warm_lookup_is_fast),
        cmocka_unit_test(juju_fixture_inheritance_and_aliases_give_juju_results),
        cmocka_unit_test(juju_fixture_flattened_item_has_each_key_once),
        cmocka_unit_test(foocloud_md5_only_items_and_old_fields),
        cmocka_unit_test(go_simplestreams_lxd_and_incus_products),
        cmocka_unit_test(mpss_excerpt_items_without_path),
        cmocka_unit_test(multipass_manifests_errors_and_newest_dotted_version),
        cmocka_unit_test(product_ids_follow_juju_order_and_defaults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
