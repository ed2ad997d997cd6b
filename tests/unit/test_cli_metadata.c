/*  test_cli_metadata.c — `environs metadata generate-image`: the image its
    flags describe, the tree it writes read back with ss.h (index, products,
    the lookup Juju would make), a second run merging, the signed copies
    verified with the public key (and a flipped byte refused), and the
    built binary's exit codes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/cli.h"

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])))

static char s_tmp[64];

static int
s_setup(void **state)
{
    (void)state;
    snprintf(s_tmp, sizeof s_tmp, "/tmp/environs-climeta-XXXXXX");
    assert_non_null(mkdtemp(s_tmp));
    return 0;
}

static int
s_teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", s_tmp);
    return system(cmd) == 0 ? 0 : -1;
}

static char *
s_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
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

//  The image argv describes; -1 with err for a usage error.
static int
s_meta(int argc, char **argv, en_ss_image_meta_t *im, en_err_t *err)
{
    cli_args_t args;
    assert_int_equal(cli_args_parse(argc, argv, &args, err), 0);
    int rc = cli_generate_image_meta(&args, im, err);
    cli_args_clear(&args);
    return rc;
}

static void
two_word_command_is_found(void **state)
{
    (void)state;
    const cli_command_t *c = cli_command_find2("metadata", "generate-image");
    assert_non_null(c);
    assert_string_equal(c->name, "metadata generate-image");
    assert_ptr_equal(cli_command_find2("clouds", "x"), cli_command_find("clouds"));
    assert_null(cli_command_find2("metadata", "frobnicate"));
}

static void
flags_describe_the_image(void **state)
{
    (void)state;
    en_ss_image_meta_t im;
    en_err_t err;
    char *base[] = {"environs", "metadata", "generate-image", "-d",           "/x",
                    "-i",       "ami-1",    "--base",         "ubuntu@22.04", "-r",
                    "R1",       "-u",       "http://e/"};
    assert_int_equal(s_meta(ARGC(base), base, &im, &err), 0);
    assert_string_equal(im.id, "ami-1");
    assert_string_equal(im.release, "22.04");
    assert_string_equal(im.arch, "amd64"); // Juju's default
    assert_string_equal(im.region, "R1");
    assert_string_equal(im.endpoint, "http://e/");
    assert_null(im.stream);
    char *series[] = {"environs", "metadata", "generate-image", "-d",          "/x",    "-i",
                      "a",        "-s",       "noble",          "-a",          "arm64", "-r",
                      "R",        "--stream", "daily",          "--virt-type", "hvm",   "--storage",
                      "ssd"};
    assert_int_equal(s_meta(ARGC(series), series, &im, &err), 0);
    assert_string_equal(im.release, "24.04");
    assert_string_equal(im.arch, "arm64");
    assert_string_equal(im.stream, "daily");
    assert_string_equal(im.virt, "hvm");
    assert_string_equal(im.root_store, "ssd");

    struct {
        char *argv[12];
        const char *message;
    } bad[] = {
        {{"environs", "x", "-i", "a", "-r", "R", "--release", "22.04"}, "missing option: -d"},
        {{"environs", "x", "-d", "/x", "-r", "R", "--release", "22.04"}, "missing option: -i"},
        {{"environs", "x", "-d", "/x", "-i", "a", "--release", "22.04"}, "missing option: -r"},
        {{"environs", "x", "-d", "/x", "-i", "a", "-r", "R"},
         "missing option: --base, --series or --release"},
        {{"environs", "x", "-d", "/x", "-i", "a", "-r", "R", "-s", "jammy", "--release", "22.04"},
         "--base, --series and --release are exclusive"},
        {{"environs", "x", "-d", "/x", "-i", "a", "-r", "R", "-s", "warty"},
         "invalid value \"warty\" for option --series: unknown series"},
        {{"environs", "x", "-d", "/x", "-i", "a", "-r", "R", "--base", "centos@7"},
         "invalid value \"centos@7\" for option --base: expected ubuntu@<release>"},
        {{"environs", "x", "-d", "/x", "-i", "a", "-r", "R", "--release", "22"},
         "invalid release \"22\": expected e.g. 22.04"},
        {{"environs", "x", "-d", "/x", "-i", "a", "-r", "R", "--release", "22.04", "-a", "sparc"},
         "invalid value \"sparc\" for option --arch: expected one of amd64, arm64, ppc64el, "
         "s390x, riscv64"},
        {{"environs", "x", "-d", "/x", "-i", "a", "-r", "R", "--release", "22.04", "--passphrase",
          "p"},
         "--passphrase needs --sign-key"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int argc = 0;
        while (argc < 12 && bad[i].argv[argc])
            argc++;
        assert_int_equal(s_meta(argc, bad[i].argv, &im, &err), -1);
        assert_int_equal(err.kind, EN_NOT_VALID);
        assert_string_equal(err.message, bad[i].message);
    }
}

//  Parse dir/images as a source would and look one image up; returns the
//  id found (caller frees) or NULL when the lookup matches nothing.
static char *
s_lookup(const char *release, const char *arch, const char *region, const char *endpoint,
         const char *stream)
{
    char path[256];
    size_t len;
    en_err_t err = {0};
    snprintf(path, sizeof path, "%s/images/streams/v1/index.json", s_tmp);
    char *buf = s_slurp(path, &len);
    en_ss_index_t *index = en_ss_index_parse(buf, len, "index.json", &err);
    free(buf);
    assert_non_null(index);
    const char *rel[] = {release}, *arches[] = {arch};
    en_ss_image_query_t iq = {.releases = rel,
                              .release_count = 1,
                              .arches = arches,
                              .arch_count = 1,
                              .region = region,
                              .endpoint = endpoint,
                              .stream = stream};
    char **pids = NULL;
    size_t npids = 0;
    assert_int_equal(en_ss_image_product_ids(&iq, &pids, &npids, &err), 0);
    en_ss_index_query_t q = {.datatype = "image-ids",
                             .cloud = {region, endpoint},
                             .product_ids = (const char *const *)pids,
                             .product_id_count = npids};
    const en_ss_index_entry_t *entry = NULL;
    size_t matched = 0;
    en_ss_result_t r = en_ss_index_select(index, &q, &entry, 1, &matched, &err);
    en_ss_strv_free(pids, npids);
    char *found = NULL;
    if (r == EN_SS_FOUND) {
        snprintf(path, sizeof path, "%s/images/%s", s_tmp, entry->path);
        buf = s_slurp(path, &len);
        en_ss_products_t *products = en_ss_products_parse(buf, len, entry->path, &err);
        free(buf);
        assert_non_null(products);
        en_ss_matches_t m = {0};
        if (en_ss_lookup_images(products, &iq, &m, &err) == EN_SS_FOUND) {
            assert_int_equal(m.count, 1);
            found = strdup(en_ss_item_get(m.v[0].item, "id"));
        }
        en_ss_matches_free(&m);
        en_ss_products_destroy(&products);
    }
    en_ss_index_destroy(&index);
    return found;
}

static void
s_assert_found(const char *release, const char *arch, const char *region, const char *endpoint,
               const char *stream, const char *want)
{
    char *id = s_lookup(release, arch, region, endpoint, stream);
    if (!want) {
        assert_null(id);
        return;
    }
    if (!id)
        fail_msg("no image for %s/%s/%s", release, arch, region);
    assert_string_equal(id, want);
    free(id);
}

static void
s_write(const en_ss_image_meta_t *im, en_sssigner_t *signer)
{
    en_err_t err = {0};
    if (cli_generate_image_write(s_tmp, im, signer, 1700000000, &err))
        fail_msg("generate: %s", err.message);
}

static void
tree_parses_and_lookup_finds_the_image(void **state)
{
    (void)state;
    en_ss_image_meta_t im = {.id = "img-1",
                             .release = "22.04",
                             .arch = "amd64",
                             .region = "RegionOne",
                             .endpoint = "http://ks:5000/v2.0/"};
    s_write(&im, NULL);
    s_assert_found("22.04", "amd64", "RegionOne", "http://ks:5000/v2.0", NULL, "img-1");
    s_assert_found("22.04", "arm64", "RegionOne", "http://ks:5000/v2.0/", NULL, NULL);
    //  Juju's file names, version key of the generation date.
    char path[256];
    size_t len;
    snprintf(path, sizeof path, "%s/images/%s", s_tmp, EN_SS_CUSTOM_PRODUCTS_PATH);
    char *text = s_slurp(path, &len);
    assert_non_null(strstr(text, "\"20231114\""));
    free(text);
}

static void
second_run_merges(void **state)
{
    (void)state;
    en_ss_image_meta_t a = {.id = "img-a",
                            .release = "22.04",
                            .arch = "amd64",
                            .region = "R1",
                            .endpoint = "http://e/"};
    en_ss_image_meta_t b = {.id = "img-b",
                            .release = "22.04",
                            .arch = "arm64",
                            .region = "R2",
                            .endpoint = "http://e/"};
    en_ss_image_meta_t c = {.id = "img-c",
                            .release = "20.04",
                            .arch = "amd64",
                            .region = "R1",
                            .endpoint = "http://e/",
                            .stream = "daily"};
    s_write(&a, NULL);
    s_write(&b, NULL);
    s_write(&c, NULL);
    s_assert_found("22.04", "amd64", "R1", "http://e/", NULL, "img-a");
    s_assert_found("22.04", "arm64", "R2", "http://e/", NULL, "img-b");
    s_assert_found("20.04", "amd64", "R1", "http://e/", "daily", "img-c");
    s_assert_found("20.04", "amd64", "R1", "http://e/", NULL, NULL); // daily only
    //  The same slot again: the new id replaces the old one.
    en_ss_image_meta_t a2 = a;
    a2.id = "img-a2";
    s_write(&a2, NULL);
    s_assert_found("22.04", "amd64", "R1", "http://e/", NULL, "img-a2");
    s_assert_found("22.04", "arm64", "R2", "http://e/", NULL, "img-b");
    s_assert_found("20.04", "amd64", "R1", "http://e/", "daily", "img-c");
}

static char *
s_key(const char *name)
{
    const char *shared = getenv("EN_SHARED_DIR");
    assert_non_null(shared);
    char path[512];
    size_t len;
    snprintf(path, sizeof path, "%s/testdata/simplestreams/keys/%s", shared, name);
    return s_slurp(path, &len);
}

static void
signed_copies_verify_and_a_flipped_byte_fails(void **state)
{
    (void)state;
    en_err_t err = {0};
    char *sec = s_key("juju-test-signing.sec.asc"), *pub = s_key("juju-test-signing.pub.asc");
    en_sssigner_t *signer = en_sssigner_new(sec, "12345", &err);
    free(sec);
    if (!signer)
        fail_msg("signer: %s", err.message);
    en_ss_image_meta_t im = {.id = "img-s", .release = "24.04", .arch = "amd64", .region = "R1"};
    s_write(&im, signer);
    en_sssigner_destroy(&signer);

    en_ssverify_t *v = en_ssverify_new("generated", pub, NULL, 0, &err);
    free(pub);
    assert_non_null(v);
    char path[256];
    size_t len, plain_len;
    char *plain = NULL, signer_fpr[41];
    snprintf(path, sizeof path, "%s/images/streams/v1/index.sjson", s_tmp);
    char *buf = s_slurp(path, &len);
    assert_int_equal(
        en_ssverify_verify(v, "index.sjson", buf, len, &plain, &plain_len, signer_fpr, &err), 0);
    assert_string_equal(signer_fpr, "D279259D4169F5843DBDD45CB8ADEEA9607AEAF0");
    en_ss_index_t *index = en_ss_index_parse(plain, plain_len, "index.sjson", &err);
    assert_non_null(index);
    //  The signed index names the signed products file.
    const char *ppath = en_ss_index_entry(index, 0)->path;
    assert_string_equal(ppath, "streams/v1/com.ubuntu.cloud-released-imagemetadata.sjson");
    free(plain);
    //  One byte of the signed text flipped: refused.
    char *body = strstr(buf, "index:1.0");
    assert_non_null(body);
    body[0] = 'j';
    assert_int_equal(en_ssverify_verify(v, "index.sjson", buf, len, &plain, &plain_len, NULL, &err),
                     -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
    free(buf);

    snprintf(path, sizeof path, "%s/images/%s", s_tmp, ppath);
    en_ss_index_destroy(&index);
    buf = s_slurp(path, &len);
    assert_int_equal(
        en_ssverify_verify(v, "products.sjson", buf, len, &plain, &plain_len, NULL, &err), 0);
    en_ss_products_t *products = en_ss_products_parse(plain, plain_len, "products", &err);
    assert_non_null(products);
    assert_non_null(en_ss_products_find(products, "com.ubuntu.cloud:server:24.04:amd64"));
    en_ss_products_destroy(&products);
    free(plain);
    free(buf);
    en_ssverify_destroy(&v);

    //  An unsigned run removes the stale signed copies.
    im.region = "R2";
    s_write(&im, NULL);
    snprintf(path, sizeof path, "%s/images/streams/v1/index.sjson", s_tmp);
    assert_int_not_equal(access(path, F_OK), 0);
}

//  The binary: exit 0, 2 for usage, 1 for failures.
static int
s_run(const char *args, char **err_text)
{
    const char *build = getenv("EN_BUILD_DIR");
    assert_non_null(build);
    char errfile[128];
    snprintf(errfile, sizeof errfile, "%s/stderr", s_tmp);
    char *cmd = NULL;
    assert_true(asprintf(&cmd,
                         "env -u ENVIRONS_GATEWAY ENVIRONS_HOME=%s %s/cli/environs %s "
                         ">/dev/null 2>%s",
                         s_tmp, build, args, errfile) > 0);
    int status = system(cmd);
    free(cmd);
    assert_true(WIFEXITED(status));
    size_t len;
    *err_text = s_slurp(errfile, &len);
    return WEXITSTATUS(status);
}

static void
binary_exit_codes(void **state)
{
    (void)state;
    char args[1024], *text;
    const char *shared = getenv("EN_SHARED_DIR");
    snprintf(args, sizeof args,
             "metadata generate-image -d %s/out -i img-1 --base ubuntu@22.04 -r R1 -u http://e/ "
             "--sign-key %s/testdata/simplestreams/keys/juju-test-signing.sec.asc "
             "--passphrase 12345",
             s_tmp, shared);
    assert_int_equal(s_run(args, &text), 0);
    free(text);
    char path[256];
    snprintf(path, sizeof path, "%s/out/images/streams/v1/index.sjson", s_tmp);
    assert_int_equal(access(path, F_OK), 0);

    assert_int_equal(s_run("metadata generate-image -i x -r R --release 22.04", &text), 2);
    assert_string_equal(text, "ERROR missing option: -d\n");
    free(text);
    snprintf(args, sizeof args, "metadata generate-image -d %s -i x -r R -s jammy -a vax", s_tmp);
    assert_int_equal(s_run(args, &text), 2);
    assert_non_null(strstr(text, "for option --arch"));
    free(text);
    //  A file where the directory should be: cannot create it.
    snprintf(path, sizeof path, "%s/file", s_tmp);
    fclose(fopen(path, "w"));
    snprintf(args, sizeof args, "metadata generate-image -d %s -i x -r R -s jammy", path);
    assert_int_equal(s_run(args, &text), 1);
    assert_non_null(strstr(text, "ERROR cannot create"));
    free(text);
    //  A wrong passphrase fails and leaves the tree as it was.
    snprintf(args, sizeof args,
             "metadata generate-image -d %s/out -i img-2 --base ubuntu@22.04 -r R2 "
             "--sign-key %s/testdata/simplestreams/keys/juju-test-signing.sec.asc "
             "--passphrase wrong",
             s_tmp, shared);
    assert_int_equal(s_run(args, &text), 1);
    assert_non_null(strstr(text, "ERROR "));
    free(text);
    snprintf(path, sizeof path, "%s/out/images/streams/v1/index.json", s_tmp);
    size_t len;
    text = s_slurp(path, &len);
    assert_null(strstr(text, "R2"));
    free(text);
    assert_int_equal(s_run("help metadata generate-image", &text), 0);
    free(text);
    assert_int_equal(s_run("metadata generate-image extra -d /x", &text), 2);
    free(text);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(two_word_command_is_found),
        cmocka_unit_test(flags_describe_the_image),
        cmocka_unit_test_setup_teardown(tree_parses_and_lookup_finds_the_image, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(second_run_merges, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(signed_copies_verify_and_a_flipped_byte_fails, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(binary_exit_codes, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
