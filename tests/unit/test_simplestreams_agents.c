/*  test_simplestreams_agents.c — agent ("tools") lookups over Juju's stream
    chain (docs/simplestreams.md §8.8), Juju's mirrors (§6) and writing
    custom image metadata that reads back (§8.10). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "unit/test_simplestreams.h"

#define V1 "fixtures/juju-sstesting/test-root/streams/v1/"

static const char *
s_binary(const en_ss_match_t *m, char *buf, size_t size)
{
    snprintf(buf, size, "%s-%s-%s", en_ss_item_get(m->item, "version"),
             en_ss_item_get(m->item, "release"), en_ss_item_get(m->item, "arch"));
    return buf;
}

static void
stream_chain_is_juju_order(void **state)
{
    (void)state;
    const char *c[4];
    assert_int_equal(en_ss_agent_stream_chain("released", c), 1);
    assert_string_equal(c[0], "released");
    assert_int_equal(en_ss_agent_stream_chain("proposed", c), 2);
    assert_string_equal(c[1], "released");
    assert_int_equal(en_ss_agent_stream_chain("devel", c), 3);
    assert_string_equal(c[0], "devel");
    assert_string_equal(c[1], "proposed");
    assert_int_equal(en_ss_agent_stream_chain("testing", c), 4);
    assert_string_equal(c[0], "testing");
    assert_string_equal(c[1], "devel");
    assert_string_equal(c[3], "released");
    assert_int_equal(en_ss_agent_stream_chain("bogus", c), 0);
}

static void
agents_testing_chain_over_juju_fixture(void **state)
{
    (void)state;
    en_ss_products_t *released = ss_products_file(V1 "tools_metadata.json", false);
    en_ss_products_t *testing = ss_products_file(V1 "testing_tools_metadata.json", false);
    assert_non_null(released);
    assert_non_null(testing);
    const char *chain[4];
    size_t n = en_ss_agent_stream_chain("testing", chain);
    const en_ss_products_t *docs[4] = {testing, NULL, NULL, released};
    const char *const ubuntu[] = {"ubuntu"}, *const arches[] = {"amd64", "arm"};
    en_ss_agent_query_t q = {.releases = ubuntu,
                             .release_count = 1,
                             .arches = arches,
                             .arch_count = 2,
                             .major = 1,
                             .minor = -1};
    en_ss_matches_t m;
    en_err_t err = {0};
    assert_int_equal(en_ss_lookup_agents(docs, chain, n, &q, &m, &err), EN_SS_FOUND);
    // 2.0.1 is left out by major 1; 1.11.4-arm comes from its newest version
    const char *want[] = {"1.11.4-ubuntu-arm", "1.11.5-ubuntu-arm", "1.13.0-ubuntu-amd64",
                          "1.16.0-ubuntu-amd64"};
    const char *streams[] = {"released", "released", "released", "testing"};
    assert_int_equal(m.count, SS_N(want));
    char b[64];
    for (size_t i = 0; i < m.count; i++) {
        assert_string_equal(s_binary(&m.v[i], b, sizeof b), want[i]);
        assert_string_equal(m.v[i].stream, streams[i]);
    }
    assert_string_equal(en_ss_item_get(m.v[0].item, "path"),
                        "tools/released/20130806/juju-1.11.4-ubuntu-arm.tgz");
    int64_t size;
    assert_int_equal(en_ss_item_get_int(m.v[0].item, "size", &size, NULL), 0);
    assert_int_equal(size, 1951096);
    en_ss_matches_free(&m);

    // exact version; minor filter
    q.version = "2.0.1";
    assert_int_equal(en_ss_lookup_agents(docs, chain, n, &q, &m, &err), EN_SS_FOUND);
    assert_int_equal(m.count, 1);
    assert_string_equal(s_binary(&m.v[0], b, sizeof b), "2.0.1-ubuntu-arm");
    en_ss_matches_free(&m);
    q.version = NULL;
    q.minor = 11;
    assert_int_equal(en_ss_lookup_agents(docs, chain, n, &q, &m, &err), EN_SS_FOUND);
    assert_int_equal(m.count, 2);
    en_ss_matches_free(&m);
    // an OS type nobody publishes
    const char *const centos[] = {"centos"};
    q.releases = centos;
    assert_int_equal(en_ss_lookup_agents(docs, chain, n, &q, &m, &err), EN_SS_NO_MATCH);
    assert_string_equal(err.message, "index has no records for product ids "
                                     "[com.ubuntu.juju:centos:amd64 com.ubuntu.juju:centos:arm]; "
                                     "it does have product ids [com.ubuntu.juju:ubuntu:amd64 "
                                     "com.ubuntu.juju:ubuntu:amd64 com.ubuntu.juju:ubuntu:arm]");
    en_ss_products_destroy(&released);
    en_ss_products_destroy(&testing);
}

static void
agents_preferred_stream_hides_same_binary(void **state)
{
    (void)state;
    // proposed carries 1.13.0-ubuntu-amd64 too, at another path
    const char proposed_json[] =
        "{\"format\":\"products:1.0\",\"content_id\":\"com.ubuntu.juju:proposed:agents\","
        "\"products\":{\"com.ubuntu.juju:ubuntu:amd64\":{\"arch\":\"amd64\",\"release\":\"ubuntu\","
        "\"versions\":{\"20130901\":{\"items\":{\"a\":{\"version\":\"1.13.0\",\"size\":\"17\","
        "\"path\":\"tools/proposed/juju-1.13.0-ubuntu-amd64.tgz\",\"ftype\":\"tar.gz\"}}}}}}}";
    en_err_t err = {0};
    en_ss_products_t *proposed =
        en_ss_products_parse(proposed_json, sizeof proposed_json - 1, "proposed.json", &err);
    assert_non_null(proposed);
    en_ss_products_t *released = ss_products_file(V1 "tools_metadata.json", false);
    const char *chain[4];
    size_t n = en_ss_agent_stream_chain("proposed", chain);
    const en_ss_products_t *docs[2] = {proposed, released};
    const char *const ubuntu[] = {"ubuntu"}, *const amd64[] = {"amd64"};
    en_ss_agent_query_t q = {
        .releases = ubuntu, .release_count = 1, .arches = amd64, .arch_count = 1, .minor = -1};
    en_ss_matches_t m;
    assert_int_equal(en_ss_lookup_agents(docs, chain, n, &q, &m, &err), EN_SS_FOUND);
    assert_int_equal(m.count, 1);
    assert_string_equal(m.v[0].stream, "proposed");
    assert_string_equal(en_ss_item_get(m.v[0].item, "path"),
                        "tools/proposed/juju-1.13.0-ubuntu-amd64.tgz");
    // a quoted size is tolerated
    int64_t size;
    assert_int_equal(en_ss_item_get_int(m.v[0].item, "size", &size, NULL), 0);
    assert_int_equal(size, 17);
    en_ss_matches_free(&m);
    en_ss_products_destroy(&proposed);
    en_ss_products_destroy(&released);
}

static en_ss_mirrors_t *
s_mirrors(const char *rel, const char *expect)
{
    size_t len;
    char *buf = ss_read(rel, &len);
    en_err_t err = {0};
    en_ss_mirrors_t *m = en_ss_mirrors_parse(buf, len, strrchr(rel, '/') + 1, expect, &err);
    if (!m)
        print_error("%s\n", err.message);
    free(buf);
    return m;
}

static void
mirrors_refs_and_metadata_choose_as_juju(void **state)
{
    (void)state;
    const char *cid = "com.ubuntu.juju:released:agents";
    en_ss_mirrors_t *refs = s_mirrors(V1 "mirrors.json", NULL);
    assert_non_null(refs);
    assert_int_equal(en_ss_mirrors_count(refs), 2);
    en_ss_cloud_t west2 = {"us-west-2", "https://ec2.us-west-2.amazonaws.com"};
    const en_ss_mirror_t *r = en_ss_mirrors_select_ref(refs, cid, &west2, "content-download");
    assert_non_null(r);
    assert_string_equal(r->path, "streams/v1/tools_metadata:public-mirrors.json");
    // a cloud no ref names: the first ref without clouds
    en_ss_cloud_t other = {"some-region", "https://some-endpoint.com"};
    r = en_ss_mirrors_select_ref(refs, cid, &other, "content-download");
    assert_string_equal(r->path, "streams/v1/tools_metadata:more-mirrors.json");
    assert_null(
        en_ss_mirrors_select_ref(refs, "com.ubuntu.juju:devel:agents", &west2, "content-download"));
    en_ss_mirrors_destroy(&refs);

    en_ss_mirrors_t *pub = s_mirrors(V1 "tools_metadata:public-mirrors.json", "mirrors:1.0");
    assert_non_null(pub);
    assert_int_equal(en_ss_mirrors_count(pub), 3);
    const en_ss_mirror_t *m = en_ss_mirrors_select_mirror(pub, cid, &west2);
    assert_string_equal(m->mirror, "test:/");
    assert_string_equal(m->path, "streams/v1/mirrored-tools-metadata.json");
    en_ss_cloud_t west1 = {"us-west-1", "https://ec2.us-west-1.amazonaws.com/"};
    assert_string_equal(en_ss_mirrors_select_mirror(pub, cid, &west1)->mirror,
                        "http://another-mirror/");
    assert_null(en_ss_mirrors_select_mirror(pub, cid, &other)); // no fallback at this level
    en_ss_mirrors_destroy(&pub);

    en_ss_mirrors_t *more = s_mirrors(V1 "tools_metadata:more-mirrors.json", "mirrors:1.0");
    assert_string_equal(en_ss_mirrors_select_mirror(more, cid, &other)->mirror,
                        "http://big-mirror/");
    en_ss_mirrors_destroy(&more);

    // the refs file is not mirror metadata
    size_t len;
    char *buf = ss_read(V1 "mirrors.json", &len);
    en_err_t err = {0};
    assert_null(en_ss_mirrors_parse(buf, len, "mirrors.json", "mirrors:1.0", &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message, "mirrors.json: format \"index:1.0\" is not \"mirrors:1.0\"");
    free(buf);

    // the mirrored products file answers the lookup with the mirror's path
    en_ss_products_t *mirrored = ss_products_file(V1 "mirrored-tools-metadata.json", false);
    const char *chain[4];
    size_t n = en_ss_agent_stream_chain("released", chain);
    const char *const ubuntu[] = {"ubuntu"}, *const amd64[] = {"amd64"};
    en_ss_agent_query_t q = {
        .releases = ubuntu, .release_count = 1, .arches = amd64, .arch_count = 1, .minor = -1};
    const en_ss_products_t *docs[1] = {mirrored};
    en_ss_matches_t res;
    assert_int_equal(en_ss_lookup_agents(docs, chain, n, &q, &res, NULL), EN_SS_FOUND);
    assert_string_equal(en_ss_item_get(res.v[0].item, "path"),
                        "mirrored-path/juju-1.13.0-ubuntu-amd64.tgz");
    en_ss_matches_free(&res);
    en_ss_products_destroy(&mirrored);

    // signed variants read through the extractor
    buf = ss_read_sjson(V1 "mirrors.sjson", &len);
    refs = en_ss_mirrors_parse(buf, len, "mirrors.sjson", NULL, &err);
    free(buf);
    assert_non_null(refs);
    assert_string_equal(en_ss_mirrors_select_ref(refs, cid, &west2, "content-download")->path,
                        "streams/v1/tools_metadata:public-mirrors.sjson");
    en_ss_mirrors_destroy(&refs);
}

static void
generate_images_round_trips_through_the_parsers(void **state)
{
    (void)state;
    const en_ss_image_meta_t imgs[] = {
        {.id = "img-1",
         .release = "16.04",
         .arch = "amd64",
         .region = "RegionOne",
         .endpoint = "http://192.168.0.180:5000/v2.0/",
         .virt = "kvm"},
        {.id = "img-2",
         .release = "18.04",
         .arch = "amd64",
         .region = "RegionOne",
         .endpoint = "http://192.168.0.180:5000/v2.0/",
         .root_store = "ssd"},
        {.id = "img-3",
         .release = "16.04",
         .arch = "amd64",
         .region = "RegionTwo",
         .endpoint = "http://192.168.0.181:5000/v2.0/"},
        {.id = "img-4",
         .release = "18.04",
         .arch = "amd64",
         .region = "RegionOne",
         .endpoint = "http://192.168.0.180:5000/v2.0/",
         .stream = "daily"},
    };
    time_t now = 1541613015; // Wed, 07 Nov 2018 17:50:15 +0000
    char *index_json, *products_json;
    en_err_t err = {0};
    assert_int_equal(
        en_ss_generate_images(imgs, SS_N(imgs), now, &index_json, &products_json, &err), 0);

    en_ss_index_t *idx = en_ss_index_parse(index_json, strlen(index_json), "index.json", &err);
    assert_non_null(idx);
    assert_string_equal(en_ss_index_updated(idx), "Wed, 07 Nov 2018 17:50:15 +0000");
    assert_int_equal(en_ss_index_count(idx), 1);
    const en_ss_index_entry_t *e = en_ss_index_entry(idx, 0);
    assert_string_equal(e->content_id, "com.ubuntu.cloud:custom");
    assert_string_equal(e->datatype, "image-ids");
    assert_string_equal(e->cloudname, "custom");
    assert_string_equal(e->path, "streams/v1/com.ubuntu.cloud-released-imagemetadata.json");
    assert_int_equal(e->product_count, 3);
    assert_string_equal(e->products[0], "com.ubuntu.cloud.daily:server:18.04:amd64");
    assert_string_equal(e->products[1], "com.ubuntu.cloud:server:16.04:amd64");
    assert_string_equal(e->products[2], "com.ubuntu.cloud:server:18.04:amd64");
    assert_int_equal(e->cloud_count, 2);
    assert_string_equal(e->clouds[1].region, "RegionTwo");

    const char *const x[] = {"com.ubuntu.cloud:server:16.04:amd64"};
    en_ss_index_query_t iq = {.datatype = "image-ids",
                              .cloud = {"regionone", "http://192.168.0.180:5000/v2.0"},
                              .product_ids = x,
                              .product_id_count = 1};
    size_t n;
    assert_int_equal(en_ss_index_select(idx, &iq, &e, 1, &n, &err), EN_SS_FOUND);

    en_ss_products_t *doc =
        en_ss_products_parse(products_json, strlen(products_json), "imagemetadata.json", &err);
    assert_non_null(doc);
    assert_string_equal(en_ss_products_content_id(doc), "com.ubuntu.cloud:custom");
    const char *const rel[] = {"16.04"}, *const amd64[] = {"amd64"};
    en_ss_image_query_t q = {.releases = rel,
                             .release_count = 1,
                             .arches = amd64,
                             .arch_count = 1,
                             .region = "RegionOne"};
    en_ss_matches_t m;
    assert_int_equal(en_ss_lookup_images(doc, &q, &m, &err), EN_SS_FOUND);
    assert_int_equal(m.count, 1);
    const en_ss_item_t *it = m.v[0].item;
    assert_string_equal(it->key, "img-1");
    assert_string_equal(en_ss_item_version_key(it), "20181107");
    assert_string_equal(en_ss_item_get(it, "id"), "img-1");
    assert_string_equal(en_ss_item_get(it, "virt"), "kvm");
    assert_null(en_ss_item_get(it, "root_store"));
    assert_string_equal(en_ss_item_get(it, "endpoint"), "http://192.168.0.180:5000/v2.0/");
    assert_string_equal(en_ss_item_get(it, "version"), "16.04");
    en_ss_matches_free(&m);
    // daily custom metadata is only found with stream daily
    const char *const bionic[] = {"18.04"};
    q.releases = bionic;
    q.stream = "daily";
    assert_int_equal(en_ss_lookup_images(doc, &q, &m, &err), EN_SS_FOUND);
    assert_int_equal(m.count, 1);
    assert_string_equal(en_ss_item_get(m.v[0].item, "id"), "img-4");
    en_ss_matches_free(&m);
    q.stream = NULL;
    assert_int_equal(en_ss_lookup_images(doc, &q, &m, &err), EN_SS_FOUND);
    assert_string_equal(en_ss_item_get(m.v[0].item, "id"), "img-2");
    assert_string_equal(en_ss_item_get(m.v[0].item, "root_store"), "ssd");
    en_ss_matches_free(&m);

    // same input, same bytes
    char *index2, *products2;
    assert_int_equal(en_ss_generate_images(imgs, SS_N(imgs), now, &index2, &products2, &err), 0);
    assert_string_equal(index2, index_json);
    assert_string_equal(products2, products_json);
    free(index2);
    free(products2);
    free(index_json);
    free(products_json);
    en_ss_products_destroy(&doc);
    en_ss_index_destroy(&idx);

    const en_ss_image_meta_t bad = {.id = "x", .arch = "amd64"};
    assert_int_equal(en_ss_generate_images(&bad, 1, now, &index_json, &products_json, &err), -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_null(index_json);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stream_chain_is_juju_order),
        cmocka_unit_test(agents_testing_chain_over_juju_fixture),
        cmocka_unit_test(agents_preferred_stream_hides_same_binary),
        cmocka_unit_test(mirrors_refs_and_metadata_choose_as_juju),
        cmocka_unit_test(generate_images_round_trips_through_the_parsers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
