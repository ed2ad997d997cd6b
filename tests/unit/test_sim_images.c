/*  test_sim_images.c — the sim provider publishes a simplestreams tree of
    its images (en_provider_t.image_sources): the source it reports, the
    tree's documents read back with ss.h, the lookup Juju would make, and
    processes racing to write it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include <cmocka.h>

#include "providers/provider.h"
#include "simplestreams/ss.h"

static char s_home[64];

static int
s_setup(void **state)
{
    (void)state;
    snprintf(s_home, sizeof s_home, "/tmp/environs-simimg-XXXXXX");
    assert_non_null(mkdtemp(s_home));
    return 0;
}

static int
s_teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", s_home);
    return system(cmd) == 0 ? 0 : -1;
}

static char *
s_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static en_image_source_t *
s_sources(const en_cloud_spec_t *spec, size_t *count)
{
    const en_provider_t *sim = en_provider_builtin("sim");
    assert_non_null(sim->image_sources);
    en_image_source_t *src = NULL;
    en_err_t err = {0};
    int rc = sim->image_sources(spec, s_home, &src, count, &err);
    if (rc)
        fail_msg("image_sources: %s", err.message);
    return src;
}

static void
lxd_publishes_no_images(void **state)
{
    (void)state;
    assert_null(en_provider_builtin("lxd")->image_sources);
}

static void
source_is_the_tree_beside_the_database(void **state)
{
    (void)state;
    en_cloud_spec_t spec = {.type = "sim", .name = "sim", .region = "sim-east"};
    size_t n = 0;
    en_image_source_t *src = s_sources(&spec, &n);
    assert_int_equal(n, 1);
    assert_string_equal(src[0].id, "sim");
    assert_string_equal(src[0].description, "sim cloud images");
    assert_int_equal(src[0].priority, EN_IMAGE_PRIORITY_SPECIFIC);
    assert_false(src[0].require_signed);
    assert_null(src[0].keyring_armored);
    char want[256];
    char *abs = realpath(s_home, NULL);
    snprintf(want, sizeof want, "file://%s/sim/sim-images", abs);
    free(abs);
    assert_string_equal(src[0].url, want);
    en_image_sources_free(&src, n);
    assert_null(src);
}

//  Parse the tree at the source's URL and look an image up as Juju would.
static void
s_check_tree(const char *url, const char *endpoint)
{
    const char *dir = url + strlen("file://");
    char path[512];
    size_t len;
    en_err_t err = {0};
    snprintf(path, sizeof path, "%s/streams/v1/index.json", dir);
    char *buf = s_slurp(path, &len);
    en_ss_index_t *index = en_ss_index_parse(buf, len, "index.json", &err);
    free(buf);
    assert_non_null(index);
    const char *pids[] = {"com.ubuntu.cloud:server:22.04:amd64"};
    en_ss_index_query_t q = {.datatype = "image-ids",
                             .cloud = {"sim-east", endpoint},
                             .product_ids = pids,
                             .product_id_count = 1};
    const en_ss_index_entry_t *entry = NULL;
    size_t matched = 0;
    assert_int_equal(en_ss_index_select(index, &q, &entry, 1, &matched, &err), EN_SS_FOUND);
    assert_string_equal(entry->path, EN_SS_CUSTOM_PRODUCTS_PATH);
    assert_int_equal(entry->product_count, 6); // 3 releases × amd64, arm64

    snprintf(path, sizeof path, "%s/%s", dir, entry->path);
    buf = s_slurp(path, &len);
    en_ss_products_t *products = en_ss_products_parse(buf, len, entry->path, &err);
    free(buf);
    assert_non_null(products);
    assert_int_equal(en_ss_products_item_total(products), 12); // × 2 regions
    const char *rel[] = {"22.04"}, *arch[] = {"amd64"};
    en_ss_image_query_t iq = {
        .releases = rel, .release_count = 1, .arches = arch, .arch_count = 1, .region = "sim-east"};
    en_ss_matches_t m = {0};
    assert_int_equal(en_ss_lookup_images(products, &iq, &m, &err), EN_SS_FOUND);
    assert_int_equal(m.count, 1);
    assert_string_equal(en_ss_item_get(m.v[0].item, "id"), "sim-img-sim-east-22.04-amd64");
    assert_string_equal(en_ss_item_get(m.v[0].item, "virt"), "hvm");
    assert_string_equal(en_ss_item_get(m.v[0].item, "root_store"), "ssd");
    const char *ep = en_ss_item_get(m.v[0].item, "endpoint");
    assert_string_equal(ep ? ep : "", endpoint);
    en_ss_matches_free(&m);

    const char *rel2[] = {"24.04"}, *arch2[] = {"arm64"};
    iq = (en_ss_image_query_t){.releases = rel2,
                               .release_count = 1,
                               .arches = arch2,
                               .arch_count = 1,
                               .region = "sim-west"};
    assert_int_equal(en_ss_lookup_images(products, &iq, &m, &err), EN_SS_FOUND);
    assert_string_equal(en_ss_item_get(m.v[0].item, "id"), "sim-img-sim-west-24.04-arm64");
    en_ss_matches_free(&m);
    //  No 18.04: Juju's "no matching products".
    const char *rel3[] = {"18.04"};
    iq.releases = rel3;
    assert_int_equal(en_ss_lookup_images(products, &iq, &m, &err), EN_SS_NO_MATCH);
    en_ss_products_destroy(&products);
    en_ss_index_destroy(&index);
}

static void
tree_parses_and_lookup_finds_the_image(void **state)
{
    (void)state;
    en_cloud_spec_t spec = {.type = "sim", .name = "sim", .region = "sim-east"};
    size_t n = 0;
    en_image_source_t *src = s_sources(&spec, &n);
    s_check_tree(src[0].url, "");
    en_image_sources_free(&src, n);
}

static void
endpoint_is_the_spec_endpoint(void **state)
{
    (void)state;
    char db[128];
    snprintf(db, sizeof db, "%s/clouds/other.db", s_home);
    char dir[128];
    snprintf(dir, sizeof dir, "%s/clouds", s_home);
    assert_int_equal(mkdir(dir, 0700), 0);
    en_cloud_spec_t spec = {.type = "sim", .name = "other", .region = "sim-west", .endpoint = db};
    size_t n = 0;
    en_image_source_t *src = s_sources(&spec, &n);
    assert_non_null(strstr(src[0].url, "/clouds/other-images"));
    s_check_tree(src[0].url, db);
    en_image_sources_free(&src, n);
}

static void
second_call_keeps_the_tree(void **state)
{
    (void)state;
    en_cloud_spec_t spec = {.type = "sim", .name = "sim", .region = "sim-east"};
    size_t n = 0;
    en_image_source_t *src = s_sources(&spec, &n);
    char path[512];
    snprintf(path, sizeof path, "%s/streams/v1/index.json", src[0].url + 7);
    struct stat a, b;
    assert_int_equal(stat(path, &a), 0);
    en_image_sources_free(&src, n);
    src = s_sources(&spec, &n);
    assert_int_equal(stat(path, &b), 0);
    assert_int_equal(a.st_ino, b.st_ino); // not rewritten
    en_image_sources_free(&src, n);
}

static void
racing_processes_make_one_valid_tree(void **state)
{
    (void)state;
    enum { N = 6 };
    int go[2];
    assert_int_equal(pipe(go), 0);
    en_cloud_spec_t spec = {.type = "sim", .name = "race", .region = "sim-east"};
    char dir[128];
    snprintf(dir, sizeof dir, "%s/sim", s_home);
    pid_t pids[N];
    for (int i = 0; i < N; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            close(go[1]);
            char c;
            if (read(go[0], &c, 1) < 0) // wait until every child is ready
                _exit(3);
            const en_provider_t *sim = en_provider_builtin("sim");
            en_image_source_t *src = NULL;
            size_t n = 0;
            en_err_t err = {0};
            int rc = sim->image_sources(&spec, s_home, &src, &n, &err);
            if (rc)
                fprintf(stderr, "child: %s\n", err.message);
            en_image_sources_free(&src, n);
            _exit(rc ? 1 : 0);
        }
    }
    close(go[0]);
    close(go[1]); // EOF releases every child at once
    for (int i = 0; i < N; i++) {
        int status;
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    //  One tree, no temporary directories left behind.
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    int trees = 0;
    while ((e = readdir(d))) {
        assert_null(strstr(e->d_name, ".race-images."));
        trees += strcmp(e->d_name, "race-images") == 0;
    }
    closedir(d);
    assert_int_equal(trees, 1);
    size_t n = 0;
    en_image_source_t *src = s_sources(&spec, &n);
    s_check_tree(src[0].url, "");
    en_image_sources_free(&src, n);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lxd_publishes_no_images),
        cmocka_unit_test_setup_teardown(source_is_the_tree_beside_the_database, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(tree_parses_and_lookup_finds_the_image, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(endpoint_is_the_spec_endpoint, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(second_call_keeps_the_tree, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(racing_processes_make_one_valid_tree, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
