/*  test_simplestreams_index.c — index documents (docs/simplestreams.md §2)
    and Juju's GetProductsPath (§8.5): real cloud-images indexes of 2016 and
    2022, Juju's sstesting fixture, multipass's malformed indexes, the
    upstream examples, and the clear-sign text extractor used to read .sjson
    in tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "unit/test_simplestreams.h"

#define IDX2016 "real/cloud-images.ubuntu.com/releases-20161104/streams/v1/index.sjson"
#define IDX2022 "real/cloud-images.ubuntu.com/releases-20221007/streams/v1/index.sjson"
#define JUJU "fixtures/juju-sstesting/test-root/"
#define MP "fixtures/multipass/"

static const char *const s_xenial[] = {"com.ubuntu.cloud:server:16.04:amd64"};

static void
index_2016_has_eleven_entries_in_file_order(void **state)
{
    (void)state;
    en_ss_index_t *idx = ss_index_file(IDX2016, true);
    assert_non_null(idx);
    assert_string_equal(en_ss_index_format(idx), "index:1.0");
    assert_int_equal(en_ss_index_count(idx), 11);
    // file order, as in the signed text
    assert_string_equal(en_ss_index_entry(idx, 0)->content_id, "com.ubuntu.cloud:released:joyent");
    assert_string_equal(en_ss_index_entry(idx, 10)->content_id, "com.ubuntu.cloud:released:aws-cn");
    size_t ids = 0, downloads = 0;
    for (size_t i = 0; i < en_ss_index_count(idx); i++) {
        const en_ss_index_entry_t *e = en_ss_index_entry(idx, i);
        ids += strcmp(e->datatype, "image-ids") == 0;
        downloads += strcmp(e->datatype, "image-downloads") == 0;
    }
    assert_int_equal(ids, 10);
    assert_int_equal(downloads, 1);
    const en_ss_index_entry_t *d = en_ss_index_find(idx, "com.ubuntu.cloud:released:download");
    assert_non_null(d);
    assert_string_equal(d->path, "streams/v1/com.ubuntu.cloud:released:download.sjson");
    assert_int_equal(d->product_count, 51);
    assert_int_equal(d->cloud_count, 0);
    assert_null(d->cloudname);
    const en_ss_index_entry_t *aws = en_ss_index_find(idx, "com.ubuntu.cloud:released:aws");
    assert_int_equal(aws->cloud_count, 12);
    assert_int_equal(aws->product_count, 21);
    assert_string_equal(aws->cloudname, "aws");
    assert_int_equal(en_ss_index_find(idx, "com.ubuntu.cloud:released:azure")->cloud_count, 32);
    en_ss_index_destroy(&idx);
    assert_null(idx);
    en_ss_index_destroy(&idx); // idempotent
}

static void
index_2022_counts_and_empty_rax_entry(void **state)
{
    (void)state;
    en_ss_index_t *idx = ss_index_file(IDX2022, true);
    assert_non_null(idx);
    assert_int_equal(en_ss_index_count(idx), 11);
    const en_ss_index_entry_t *d = en_ss_index_find(idx, "com.ubuntu.cloud:released:download");
    assert_string_equal(d->datatype, "image-downloads");
    assert_string_equal(d->path, "streams/v1/com.ubuntu.cloud:released:download.sjson");
    assert_int_equal(d->product_count, 114);
    const en_ss_index_entry_t *aws = en_ss_index_find(idx, "com.ubuntu.cloud:released:aws");
    assert_int_equal(aws->product_count, 42);
    assert_int_equal(aws->cloud_count, 23);
    assert_int_equal(en_ss_index_find(idx, "com.ubuntu.cloud:released:azure")->cloud_count, 53);
    assert_int_equal(en_ss_index_find(idx, "com.ubuntu.cloud:released:gce")->cloud_count, 35);
    assert_int_equal(en_ss_index_find(idx, "com.ubuntu.cloud:released:rax")->product_count, 0);
    assert_non_null(en_ss_index_find(idx, "com.brightbox:official"));
    en_ss_index_destroy(&idx);
}

static void
cloud_equal_normalises_region_and_trailing_slash(void **state)
{
    (void)state;
    en_ss_cloud_t azure = {"East US 2", "https://management.core.windows.net/"};
    en_ss_cloud_t q1 = {"eastus2", "https://management.core.windows.net"};
    en_ss_cloud_t q2 = {"EASTUS 2", "https://management.core.windows.net/"};
    en_ss_cloud_t q3 = {"eastus", "https://management.core.windows.net/"};
    en_ss_cloud_t q4 = {"eastus2", "https://management.core.windows.net//"};
    assert_true(en_ss_cloud_equal(&azure, &q1));
    assert_true(en_ss_cloud_equal(&azure, &q2));
    assert_false(en_ss_cloud_equal(&azure, &q3));
    assert_false(en_ss_cloud_equal(&azure, &q4));
}

static void
select_2016_matches_azure_by_normalised_region(void **state)
{
    (void)state;
    en_ss_index_t *idx = ss_index_file(IDX2016, true);
    en_ss_index_query_t q = {.datatype = "image-ids",
                             .cloud = {"eastus2", "https://management.core.windows.net"},
                             .product_ids = s_xenial,
                             .product_id_count = 1};
    const en_ss_index_entry_t *m[4];
    size_t n;
    en_err_t err = {0};
    assert_int_equal(en_ss_index_select(idx, &q, m, 4, &n, &err), EN_SS_FOUND);
    assert_int_equal(n, 1);
    assert_string_equal(m[0]->content_id, "com.ubuntu.cloud:released:azure");
    assert_string_equal(m[0]->path, "streams/v1/com.ubuntu.cloud:released:azure.sjson");

    // aws us-east-1 with the endpoint's trailing slash added
    en_ss_index_query_t a = q;
    a.cloud = (en_ss_cloud_t){"us-east-1", "https://ec2.us-east-1.amazonaws.com/"};
    assert_int_equal(en_ss_index_select(idx, &a, m, 4, &n, &err), EN_SS_FOUND);
    assert_int_equal(n, 1);
    assert_string_equal(m[0]->content_id, "com.ubuntu.cloud:released:aws");

    // the download entry has no clouds: it matches any cloud
    en_ss_index_query_t d = a;
    d.datatype = "image-downloads";
    d.cloud = (en_ss_cloud_t){"nowhere", "https://nowhere"};
    assert_int_equal(en_ss_index_select(idx, &d, m, 4, &n, &err), EN_SS_FOUND);
    assert_string_equal(m[0]->content_id, "com.ubuntu.cloud:released:download");

    // an unknown cloud: Juju's text
    en_ss_index_query_t u = q;
    u.cloud = (en_ss_cloud_t){"mars-1", "https://mars"};
    assert_int_equal(en_ss_index_select(idx, &u, m, 4, &n, &err), EN_SS_ERROR);
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_string_equal(err.message,
                        "index file has no data for cloud {mars-1 https://mars} not found");
    en_ss_index_destroy(&idx);
}

static void
select_several_matches_is_file_order(void **state)
{
    (void)state;
    en_ss_index_t *idx = ss_index_file(IDX2016, true);
    en_ss_index_query_t q = {
        .datatype = "image-ids", .product_ids = s_xenial, .product_id_count = 1};
    const en_ss_index_entry_t *m[16];
    size_t n;
    en_err_t err = {0};
    // no cloud: every image-ids entry listing 16.04 amd64 (hpcloud does not)
    const char *want[] = {"com.ubuntu.cloud:released:joyent",
                          "com.ubuntu.cloud:released:rax",
                          "com.brightbox:official",
                          "com.ubuntu.cloud:released:azure",
                          "com.ubuntu.cloud:released:aws-govcloud",
                          "com.ubuntu.cloud:released:gce",
                          "com.ubuntu.cloud:released:cloudsigma",
                          "com.ubuntu.cloud:released:aws",
                          "com.ubuntu.cloud:released:aws-cn"};
    for (int round = 0; round < 3; round++) {
        assert_int_equal(en_ss_index_select(idx, &q, m, 16, &n, &err), EN_SS_FOUND);
        assert_int_equal(n, SS_N(want));
        for (size_t i = 0; i < n; i++)
            assert_string_equal(m[i]->content_id, want[i]);
    }
    // max smaller than the matches: the count is still all of them
    assert_int_equal(en_ss_index_select(idx, &q, m, 1, &n, &err), EN_SS_FOUND);
    assert_int_equal(n, SS_N(want));
    assert_string_equal(m[0]->content_id, want[0]);
    en_ss_index_destroy(&idx);
}

static void
select_juju_fixture_errors_and_no_match(void **state)
{
    (void)state;
    en_ss_index_t *idx = ss_index_file(JUJU "streams/v1/index.json", false);
    assert_non_null(idx);
    assert_int_equal(en_ss_index_count(idx), 5);
    const char *const precise[] = {"com.ubuntu.cloud:server:12.04:amd64"};
    en_ss_index_query_t q = {.datatype = "image-ids",
                             .cloud = {"us-east-1", "https://ec2.us-east-1.amazonaws.com"},
                             .product_ids = precise,
                             .product_id_count = 1};
    const en_ss_index_entry_t *m[4];
    size_t n;
    en_err_t err = {0};
    assert_int_equal(en_ss_index_select(idx, &q, m, 4, &n, &err), EN_SS_FOUND);
    assert_int_equal(n, 1);
    assert_string_equal(m[0]->path, "streams/v1/image_metadata.json");

    en_ss_index_query_t dl = q;
    dl.datatype = "image-downloads";
    assert_int_equal(en_ss_index_select(idx, &dl, m, 4, &n, &err), EN_SS_ERROR);
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_string_equal(err.message, "\"image-downloads\" data not found");

    en_ss_index_query_t west = q;
    west.cloud = (en_ss_cloud_t){"us-west-1", "https://ec2.us-west-1.amazonaws.com"};
    assert_int_equal(en_ss_index_select(idx, &west, m, 4, &n, &err), EN_SS_ERROR);
    assert_string_equal(err.message, "index file has no data for cloud {us-west-1 "
                                     "https://ec2.us-west-1.amazonaws.com} not found");

    const char *const none[] = {"com.ubuntu.cloud:server:15.04:amd64",
                                "com.ubuntu.cloud:server:15.04:arm64"};
    en_ss_index_query_t nm = q;
    nm.product_ids = none;
    nm.product_id_count = 2;
    assert_int_equal(en_ss_index_select(idx, &nm, m, 4, &n, &err), EN_SS_NO_MATCH);
    assert_int_equal(n, 0);
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_string_equal(
        err.message,
        "index file has no data for product name(s) "
        "[\"com.ubuntu.cloud:server:15.04:amd64\" \"com.ubuntu.cloud:server:15.04:arm64\"]");
    en_ss_index_destroy(&idx);
}

static void
select_agents_restricted_by_content_id(void **state)
{
    (void)state;
    en_ss_index_t *idx = ss_index_file(JUJU "streams/v1/index.json", false);
    const char *const juju[] = {"com.ubuntu.juju:ubuntu:amd64"};
    char cid[64];
    assert_int_equal(en_ss_agent_content_id("testing", cid, sizeof cid), 0);
    assert_string_equal(cid, "com.ubuntu.juju:testing:agents");
    const char *const cids[] = {cid};
    en_ss_index_query_t q = {.datatype = "content-download",
                             .content_ids = cids,
                             .content_id_count = 1,
                             .product_ids = juju,
                             .product_id_count = 1};
    const en_ss_index_entry_t *m[4];
    size_t n;
    en_err_t err = {0};
    assert_int_equal(en_ss_index_select(idx, &q, m, 4, &n, &err), EN_SS_FOUND);
    assert_int_equal(n, 1);
    assert_string_equal(m[0]->path, "streams/v1/testing_tools_metadata.json");
    // unrestricted: two content-download entries carry the product, released first
    q.content_id_count = 0;
    assert_int_equal(en_ss_index_select(idx, &q, m, 4, &n, &err), EN_SS_FOUND);
    assert_int_equal(n, 2);
    assert_string_equal(m[0]->path, "streams/v1/tools_metadata.json");
    // a content id the index lacks
    const char *const devel[] = {"com.ubuntu.juju:devel:agents"};
    q.content_ids = devel;
    q.content_id_count = 1;
    assert_int_equal(en_ss_index_select(idx, &q, m, 4, &n, &err), EN_SS_ERROR);
    assert_string_equal(err.message, "\"content-download\" data not found");
    en_ss_index_destroy(&idx);
}

static void
juju_signed_fixtures_read_through_the_extractor(void **state)
{
    (void)state;
    en_ss_index_t *idx = ss_index_file(JUJU "streams/v1/index.sjson", true);
    assert_non_null(idx);
    assert_int_equal(en_ss_index_count(idx), 5);
    // the .sjson variant names .sjson products files
    assert_string_equal(en_ss_index_find(idx, "com.ubuntu.cloud:released:precise")->path,
                        "streams/v1/image_metadata.sjson");
    en_ss_index_destroy(&idx);
    idx = ss_index_file(JUJU "daily/streams/v1/index.sjson", true);
    assert_non_null(idx);
    assert_int_equal(en_ss_index_count(idx), 1);
    en_ss_index_destroy(&idx);
}

static void
clearsign_body_dash_unescapes_and_ignores_outside(void **state)
{
    (void)state;
    const char msg[] = "garbage before\n"
                       "-----BEGIN PGP SIGNED MESSAGE-----\n"
                       "Hash: SHA512\n"
                       "\n"
                       "{\"a\":\n"
                       "- -1}\n"
                       "-----BEGIN PGP SIGNATURE-----\n"
                       "\n"
                       "abc\n"
                       "-----END PGP SIGNATURE-----\n"
                       "trailing garbage\n";
    char *out;
    size_t n;
    en_err_t err = {0};
    assert_int_equal(en_ss_clearsign_body(msg, sizeof msg - 1, &out, &n, &err), 0);
    assert_string_equal(out, "{\"a\":\n-1}\n");
    assert_int_equal(n, strlen(out));
    free(out);
    const char plain[] = "{\"index\": {}}";
    assert_int_equal(en_ss_clearsign_body(plain, sizeof plain - 1, &out, &n, &err), -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message, "no PGP signature embedded in plain text data");
}

static void
s_expect_index_error(const char *rel, const char *message)
{
    size_t len;
    char *buf = ss_read(rel, &len);
    en_err_t err = {0};
    const char *base = strrchr(rel, '/') + 1;
    en_ss_index_t *idx = en_ss_index_parse(buf, len, base, &err);
    free(buf);
    assert_null(idx);
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message, message);
}

static void
multipass_malformed_indexes_give_exact_messages(void **state)
{
    (void)state;
    s_expect_index_error(MP "simple_streams_index/bad_index.json",
                         "bad_index.json: \"index\" is not an object");
    s_expect_index_error(MP "simple_streams_index/missing_index.json",
                         "missing_index.json: \"index\" is missing");
    s_expect_index_error(MP "simple_streams_index/no_image_downloads_in_datatype.json",
                         "no_image_downloads_in_datatype.json: index entry "
                         "\"com.ubuntu.cloud:released:download\": \"path\" is missing");
    // a products file read as an index
    s_expect_index_error(MP "releases/multiple_versions_manifest.json",
                         "multiple_versions_manifest.json: format \"products:1.0\" is not "
                         "\"index:1.0\"");
    // invalid JSON names line and column
    const char bad[] = "{\n \"index\": {,\n}";
    en_err_t err = {0};
    assert_null(en_ss_index_parse(bad, sizeof bad - 1, "index.json", &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message, "index.json: invalid JSON at line 2 column 12: "
                                     "string or '}' expected near ','");
}

static void
multipass_string_members_of_index_are_skipped(void **state)
{
    (void)state;
    const char *files[] = {MP "simple_streams_index/good_index.json",
                           MP "simple_streams_index/bad_datatype_index.json",
                           MP "releases/streams/v1/index.json",
                           MP "valid_outdated_image_mirror/releases/streams/v1/index.json"};
    for (size_t i = 0; i < SS_N(files); i++) {
        en_ss_index_t *idx = ss_index_file(files[i], false);
        assert_non_null(idx);
        // "updated" and "format" inside "index" are not entries
        assert_int_equal(en_ss_index_count(idx), 1);
        assert_null(en_ss_index_format(idx));
        en_ss_index_destroy(&idx);
    }
    en_ss_index_t *idx = ss_index_file(MP "simple_streams_index/bad_datatype_index.json", false);
    en_ss_index_query_t q = {
        .datatype = "image-downloads", .product_ids = s_xenial, .product_id_count = 1};
    const en_ss_index_entry_t *m[2];
    size_t n;
    en_err_t err = {0};
    assert_int_equal(en_ss_index_select(idx, &q, m, 2, &n, &err), EN_SS_ERROR);
    assert_string_equal(err.message, "\"image-downloads\" data not found");
    en_ss_index_destroy(&idx);

    idx = ss_index_file(MP "simple_streams_index/good_index.json", false);
    assert_int_equal(en_ss_index_select(idx, &q, m, 2, &n, &err), EN_SS_FOUND);
    assert_string_equal(m[0]->path, "multiple_versions_manifest.json");
    en_ss_index_destroy(&idx);
}

static void
upstream_example_indexes_parse(void **state)
{
    (void)state;
    en_ss_index_t *idx =
        ss_index_file("fixtures/simplestreams-examples/foocloud/streams/v1/index.json", false);
    assert_non_null(idx);
    assert_int_equal(en_ss_index_count(idx), 2);
    assert_string_equal(en_ss_index_updated(idx), "Wed, 20 Mar 2013 17:56:57 +0000");
    const char *const amd[] = {"com.example.foovendor:pinky:server:amd64"};
    en_ss_index_query_t q = {
        .datatype = "image-downloads", .product_ids = amd, .product_id_count = 1};
    const en_ss_index_entry_t *m[2];
    size_t n;
    en_err_t err = {0};
    assert_int_equal(en_ss_index_select(idx, &q, m, 2, &n, &err), EN_SS_FOUND);
    assert_string_equal(m[0]->path, "streams/v1/com.example.foovendor:released:download.json");
    en_ss_index_destroy(&idx);

    idx = ss_index_file("fixtures/simplestreams-examples/minimal/streams/v1/index.json", false);
    assert_int_equal(en_ss_index_count(idx), 1);
    assert_string_equal(en_ss_index_entry(idx, 0)->path, "streams/v1/download.json");
    en_ss_index_destroy(&idx);

    idx = ss_index_file("fixtures/go-simplestreams/minimal/index.json", false);
    assert_int_equal(en_ss_index_count(idx), 1);
    assert_string_equal(en_ss_index_entry(idx, 0)->products[0], "com.example:server:1.0:amd64");
    assert_string_equal(en_ss_index_updated(idx), "Tue, 15 Sep 2015 16:15:24 -0400");
    en_ss_index_destroy(&idx);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(index_2016_has_eleven_entries_in_file_order),
        cmocka_unit_test(index_2022_counts_and_empty_rax_entry),
        cmocka_unit_test(cloud_equal_normalises_region_and_trailing_slash),
        cmocka_unit_test(select_2016_matches_azure_by_normalised_region),
        cmocka_unit_test(select_several_matches_is_file_order),
        cmocka_unit_test(select_juju_fixture_errors_and_no_match),
        cmocka_unit_test(select_agents_restricted_by_content_id),
        cmocka_unit_test(juju_signed_fixtures_read_through_the_extractor),
        cmocka_unit_test(clearsign_body_dash_unescapes_and_ignores_outside),
        cmocka_unit_test(multipass_malformed_indexes_give_exact_messages),
        cmocka_unit_test(multipass_string_members_of_index_are_skipped),
        cmocka_unit_test(upstream_example_indexes_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
