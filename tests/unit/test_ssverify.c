/*  ssverify: clear-signature checks against a source's own keyring with
    the real cloud-images data and keys, the Juju test key, tampered,
    foreign-signed, garbage-wrapped and unsigned documents; the signer;
    private homes; threads; and the cost of the 2.55 MB download.sjson. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <dirent.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "simplestreams/ssverify.h"
#include "simplestreams/ss.h"
#include "unit/ssfetch_data.h"

#define UBUNTU_FPR "4A3CE3CD565D7EB5C810E2B97FF3F408476CF100"
#define JUJU_TEST_FPR "D279259D4169F5843DBDD45CB8ADEEA9607AEAF0"
#define JUJU_TEST_KEYID "B8ADEEA9607AEAF0"
#define REAL "real/cloud-images.ubuntu.com/"
#define INDEX_2016 REAL "releases-20161104/streams/v1/index.sjson"
#define INDEX_2022 REAL "releases-20221007/streams/v1/index.sjson"
#define DOWNLOAD_2016 REAL "releases-20161104/streams/v1/com.ubuntu.cloud:released:download.sjson"
#define RESIGNED "edited/juju-index-20200917-resigned-testkey/streams/v1/index.sjson"

static char *
key(const char *name)
{
    char rel[256];
    size_t len;
    snprintf(rel, sizeof rel, "keys/%s", name);
    return ss_read(rel, &len);
}

static en_ssverify_t *
verifier(const char *source, const char *keyfile)
{
    char *k = key(keyfile);
    en_err_t err = {0};
    en_ssverify_t *v = en_ssverify_new(source, k, NULL, 0, &err);
    if (!v)
        fail_msg("%s", err.message);
    free(k);
    return v;
}

static en_sssigner_t *
test_signer(void)
{
    char *k = key("juju-test-signing.sec.asc");
    en_err_t err = {0};
    en_sssigner_t *s = en_sssigner_new(k, "12345", &err);
    if (!s)
        fail_msg("%s", err.message);
    free(k);
    return s;
}

//  Verify file rel; returns 0 or -1 with err; the plaintext in *plain if asked.
static int
verify_file(en_ssverify_t *v, const char *rel, char **plain, char *signer, en_err_t *err)
{
    size_t len, plen;
    char *buf = ss_read(rel, &len), *p = NULL;
    int rc = en_ssverify_verify(v, rel, buf, len, &p, &plen, signer, err);
    if (rc == 0) {
        assert_int_equal(strlen(p), plen);
        if (plain)
            *plain = p;
        else
            free(p);
    } else
        assert_null(p);
    free(buf);
    return rc;
}

static void
real_cloud_images_files_verify_with_ubuntu_key(void **state)
{
    (void)state;
    en_ssverify_t *v = verifier("cloud images", "ubuntu-cloudimage-keyring.asc");
    const char *files[] = {INDEX_2016, INDEX_2022, DOWNLOAD_2016};
    for (size_t i = 0; i < 3; i++) {
        char *plain = NULL, signer[41] = "";
        en_err_t err = {0};
        if (verify_file(v, files[i], &plain, signer, &err) < 0)
            fail_msg("%s", err.message);
        assert_string_equal(signer, UBUNTU_FPR);
        assert_int_equal(plain[0], '{');
        assert_null(strstr(plain, "PGP"));
        assert_non_null(strstr(plain, i < 2 ? "\"index:1.0\"" : "\"products:1.0\""));
        free(plain);
    }
    en_ssverify_destroy(&v);
    en_ssverify_destroy(&v); //  idempotent
}

static void
resigned_index_fails_with_ubuntu_key_passes_with_test_key(void **state)
{
    (void)state;
    en_ssverify_t *ubuntu = verifier("cloud images", "ubuntu-cloudimage-keyring.asc");
    en_err_t err = {0};
    assert_int_equal(verify_file(ubuntu, RESIGNED, NULL, NULL, &err), -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
    char want[300];
    snprintf(want, sizeof want, "source \"cloud images\": %s: signed by unknown key ", RESIGNED);
    assert_memory_equal(err.message, want, strlen(want));
    assert_non_null(strstr(err.message, JUJU_TEST_KEYID));

    en_ssverify_t *test = verifier("juju test", "juju-test-signing.pub.asc");
    char signer[41];
    assert_int_equal(verify_file(test, RESIGNED, NULL, signer, &err), 0);
    assert_string_equal(signer, JUJU_TEST_FPR);
    en_ssverify_destroy(&ubuntu);
    en_ssverify_destroy(&test);
}

static char *s_sjson[64];
static size_t s_sjson_count;

static int
s_collect_sjson(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    size_t n = strlen(path);
    if (flag == FTW_F && n > 6 && strcmp(path + n - 6, ".sjson") == 0 && s_sjson_count < 64)
        s_sjson[s_sjson_count++] = strdup(strstr(path, "fixtures/"));
    return 0;
}

static void
every_juju_fixture_verifies_with_test_key(void **state)
{
    (void)state;
    const char *shared = getenv("EN_SHARED_DIR");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s" SS_DATA "fixtures/juju-sstesting",
             shared ? shared : "../shared");
    s_sjson_count = 0;
    assert_int_equal(nftw(dir, s_collect_sjson, 16, FTW_PHYS), 0);
    assert_int_equal(s_sjson_count, 9);
    en_ssverify_t *test = verifier("juju test", "juju-test-signing.pub.asc");
    en_ssverify_t *ubuntu = verifier("cloud images", "ubuntu-cloudimage-keyring.asc");
    for (size_t i = 0; i < s_sjson_count; i++) {
        en_err_t err = {0};
        char *plain;
        if (verify_file(test, s_sjson[i], &plain, NULL, &err) < 0)
            fail_msg("%s", err.message);
        assert_int_equal(plain[strspn(plain, " \t\n")], '{');
        free(plain);
        //  and none of them passes as a cloud-images file
        assert_int_equal(verify_file(ubuntu, s_sjson[i], NULL, NULL, &err), -1);
        free(s_sjson[i]);
    }
    en_ssverify_destroy(&test);
    en_ssverify_destroy(&ubuntu);
}

static void
one_flipped_byte_in_signed_text_is_rejected(void **state)
{
    (void)state;
    en_ssverify_t *v = verifier("cloud images", "ubuntu-cloudimage-keyring.asc");
    size_t len;
    char *buf = ss_read(INDEX_2016, &len);
    //  a letter or digit well inside the JSON becomes another one
    char *body = strstr(buf, "\n\n") + 2;
    char *p = body + 400;
    while (!isalnum((unsigned char)*p))
        p++;
    *p = *p == 'a' ? 'b' : 'a';
    char *plain = NULL;
    size_t plen;
    en_err_t err = {0};
    assert_int_equal(
        en_ssverify_verify(v, "streams/v1/index.sjson", buf, len, &plain, &plen, NULL, &err), -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message,
                        "source \"cloud images\": streams/v1/index.sjson: bad signature");
    assert_null(plain);
    free(buf);
    en_ssverify_destroy(&v);
}

static const char S_DOC[] = "{\n  \"format\": \"index:1.0\",\n  \"index\": {}\n}\n";

static void
signature_by_key_outside_the_keyring_is_rejected_naming_it(void **state)
{
    (void)state;
    en_sssigner_t *s = test_signer();
    assert_string_equal(en_sssigner_fingerprint(s), JUJU_TEST_FPR);
    char *signed_doc;
    size_t slen;
    en_err_t err = {0};
    assert_int_equal(en_sssigner_clearsign(s, S_DOC, strlen(S_DOC), &signed_doc, &slen, &err), 0);
    assert_non_null(strstr(signed_doc, "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n"));

    en_ssverify_t *ubuntu = verifier("cloud images", "ubuntu-cloudimage-keyring.asc");
    char *plain = NULL;
    size_t plen;
    assert_int_equal(en_ssverify_verify(ubuntu, "streams/v1/index.sjson", signed_doc, slen, &plain,
                                        &plen, NULL, &err),
                     -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_non_null(strstr(err.message, "source \"cloud images\": streams/v1/index.sjson: "
                                        "signed by unknown key "));
    assert_non_null(strstr(err.message, JUJU_TEST_KEYID));

    //  the fresh signature is good for the key that made it
    en_ssverify_t *test = verifier("juju test", "juju-test-signing.pub.asc");
    assert_int_equal(en_ssverify_verify(test, "streams/v1/index.sjson", signed_doc, slen, &plain,
                                        &plen, NULL, &err),
                     0);
    assert_string_equal(plain, S_DOC);
    free(plain);
    free(signed_doc);
    en_ssverify_destroy(&ubuntu);
    en_ssverify_destroy(&test);
    en_sssigner_destroy(&s);
    en_sssigner_destroy(&s);
}

static void
fingerprint_list_restricts_a_larger_keyring(void **state)
{
    (void)state;
    char *ubuntu_key = key("ubuntu-cloudimage-keyring.asc");
    char *test_key = key("juju-test-signing.pub.asc");
    size_t n = strlen(ubuntu_key) + strlen(test_key) + 2;
    char *both = malloc(n);
    snprintf(both, n, "%s\n%s", ubuntu_key, test_key);
    en_err_t err = {0};
    const char *only_ubuntu[] = {"4A3C E3CD 565D 7EB5 C810  E2B9 7FF3 F408 476C f100"};
    en_ssverify_t *v = en_ssverify_new("cloud images", both, only_ubuntu, 1, &err);
    assert_non_null(v);
    const char *const *fprs;
    assert_int_equal(en_ssverify_keys(v, &fprs), 1);
    assert_string_equal(fprs[0], UBUNTU_FPR);
    assert_int_equal(verify_file(v, INDEX_2022, NULL, NULL, &err), 0);
    assert_int_equal(verify_file(v, RESIGNED, NULL, NULL, &err), -1);
    assert_non_null(strstr(err.message, "signed by unknown key"));
    en_ssverify_destroy(&v);

    //  without the list both keys count
    v = en_ssverify_new("both", both, NULL, 0, &err);
    assert_int_equal(en_ssverify_keys(v, &fprs), 2);
    assert_int_equal(verify_file(v, RESIGNED, NULL, NULL, &err), 0);
    en_ssverify_destroy(&v);

    //  a listed key the keyring lacks, and an empty keyring, are refused
    const char *missing[] = {"2694C8BE4DE46591FF6D52A2959384848F4CE6D0"};
    assert_null(en_ssverify_new("cirros", test_key, missing, 1, &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message, "source \"cirros\": key "
                                     "2694C8BE4DE46591FF6D52A2959384848F4CE6D0 is not in its "
                                     "keyring");
    assert_null(en_ssverify_new("empty", "", NULL, 0, &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    free(both);
    free(ubuntu_key);
    free(test_key);
}

static void
garbage_around_the_armour_is_ignored(void **state)
{
    (void)state;
    en_ssverify_t *v = verifier("cloud images", "ubuntu-cloudimage-keyring.asc");
    size_t len;
    char *buf = ss_read(INDEX_2016, &len);
    char *clean;
    size_t clean_len;
    en_err_t err = {0};
    assert_int_equal(en_ssverify_verify(v, "i", buf, len, &clean, &clean_len, NULL, &err), 0);

    const char pre[] = "junk before {\"evil\": 1}\n";
    const char post[] = "\n{\"evil\": 2}\n-----BEGIN PGP SIGNATURE-----\nnot base64\n";
    size_t n = strlen(pre) + len + strlen(post);
    char *wrapped = malloc(n + 1);
    snprintf(wrapped, n + 1, "%s%s%s", pre, buf, post);
    char *plain;
    size_t plen;
    assert_int_equal(en_ssverify_verify(v, "i", wrapped, n, &plain, &plen, NULL, &err), 0);
    assert_int_equal(plen, clean_len);
    assert_memory_equal(plain, clean, plen);
    assert_null(strstr(plain, "evil"));
    free(plain);

    //  a BEGIN line that does not start a line does not count
    snprintf(wrapped, n + 1, "x%s", buf);
    assert_int_equal(en_ssverify_verify(v, "i", wrapped, len + 1, &plain, &plen, NULL, &err), -1);
    assert_string_equal(err.message, "source \"cloud images\": i: not a clear-signed document");
    free(wrapped);
    free(clean);
    free(buf);
    en_ssverify_destroy(&v);
}

static void
unsigned_and_truncated_sjson_are_rejected(void **state)
{
    (void)state;
    en_ssverify_t *v = verifier("cloud images", "ubuntu-cloudimage-keyring.asc");
    size_t len;
    char *json = ss_read("fixtures/juju-sstesting/test-root/streams/v1/index.json", &len);
    char *plain = NULL;
    size_t plen;
    en_err_t err = {0};
    assert_int_equal(
        en_ssverify_verify(v, "streams/v1/index.sjson", json, len, &plain, &plen, NULL, &err), -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message, "source \"cloud images\": streams/v1/index.sjson: "
                                     "not a clear-signed document");
    free(json);

    char *buf = ss_read(INDEX_2016, &len);
    char *cut = strstr(buf, "-----END PGP SIGNATURE-----");
    *cut = '\0';
    assert_int_equal(en_ssverify_verify(v, "x.sjson", buf, strlen(buf), &plain, &plen, NULL, &err),
                     -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_non_null(strstr(err.message, "without a complete signature block"));
    //  a signature block that is not a signature
    assert_int_equal(en_ssverify_verify(v, "x.sjson", "", 0, &plain, &plen, NULL, &err), -1);
    free(buf);
    en_ssverify_destroy(&v);
}

//  Names under dir that start with prefix.
static int
count_entries(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    if (d)
        closedir(d);
    return n;
}

static void
private_homes_live_in_tmpdir_and_are_removed(void **state)
{
    (void)state;
    char tmp[] = "/tmp/en-ssverify-test-XXXXXX";
    assert_non_null(mkdtemp(tmp));
    char *old = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;
    setenv("TMPDIR", tmp, 1);
    en_ssverify_t *v = verifier("cloud images", "ubuntu-cloudimage-keyring.asc");
    en_sssigner_t *s = test_signer();
    assert_int_equal(count_entries(tmp, "en-ssverify-"), 1);
    assert_int_equal(count_entries(tmp, "en-sssign-"), 1);
    en_ssverify_destroy(&v);
    en_sssigner_destroy(&s);
    assert_int_equal(count_entries(tmp, "en-"), 0);
    if (old) {
        setenv("TMPDIR", old, 1);
        free(old);
    } else
        unsetenv("TMPDIR");
    rmdir(tmp);
}

typedef struct {
    en_ssverify_t *v; //  NULL = make one per thread
    int ok;
} thread_arg_t;

static void *
verify_thread(void *arg)
{
    thread_arg_t *a = arg;
    en_ssverify_t *own = a->v ? NULL : verifier("cloud images", "ubuntu-cloudimage-keyring.asc");
    for (int i = 0; i < 4; i++) {
        en_err_t err = {0};
        a->ok +=
            verify_file(a->v ? a->v : own, i % 2 ? INDEX_2016 : INDEX_2022, NULL, NULL, &err) == 0;
    }
    en_ssverify_destroy(&own);
    return NULL;
}

static void
verifiers_work_from_several_threads(void **state)
{
    (void)state;
    en_ssverify_t *shared = verifier("cloud images", "ubuntu-cloudimage-keyring.asc");
    thread_arg_t args[8] = {{0}};
    pthread_t t[8];
    for (int i = 0; i < 8; i++) {
        args[i].v = i < 4 ? NULL : shared; //  4 with their own, 4 sharing one
        assert_int_equal(pthread_create(&t[i], NULL, verify_thread, &args[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(args[i].ok, 4);
    }
    en_ssverify_destroy(&shared);
}

static void
download_sjson_verifies_and_says_how_long(void **state)
{
    (void)state;
    en_ssverify_t *v = verifier("cloud images", "ubuntu-cloudimage-keyring.asc");
    size_t len;
    char *buf = ss_read(DOWNLOAD_2016, &len);
    int64_t best = INT64_MAX, total = 0;
    const int runs = 5;
    for (int i = 0; i < runs; i++) {
        char *plain;
        size_t plen;
        en_err_t err = {0};
        int64_t t0 = en_mono_ms();
        assert_int_equal(
            en_ssverify_verify(v, "download.sjson", buf, len, &plain, &plen, NULL, &err), 0);
        int64_t dt = en_mono_ms() - t0;
        best = dt < best ? dt : best;
        total += dt;
        assert_true(plen > 2500000);
        free(plain);
    }
    int64_t t0 = en_mono_ms();
    en_ssverify_t *fresh = verifier("cloud images", "ubuntu-cloudimage-keyring.asc");
    int64_t setup_ms = en_mono_ms() - t0;
    en_ssverify_destroy(&fresh);
    print_message("verify %zu bytes: best %lld ms, mean %lld ms over %d runs; new verifier "
                  "(home + key import) %lld ms\n",
                  len, (long long)best, (long long)(total / runs), runs, (long long)setup_ms);
    free(buf);
    en_ssverify_destroy(&v);
}

typedef struct {
    char *text;
    size_t len;
    en_ss_products_t *products;
    bool fail;
} consumed_t;

static int
s_consume(const char *text, size_t len, void *arg, en_err_t *err)
{
    consumed_t *c = arg;
    c->text = strndup(text, len);
    c->len = len;
    if (c->fail)
        return en_err_set(err, EN_NOT_VALID, "consume refused it");
    c->products = en_ss_products_parse(text, len, "download.sjson", err);
    return c->products ? 0 : -1;
}

//  The text consume gets is gpg's plaintext, and parsing it while gpg
//  checks gives the whole document (51 products).
static void
verify_with_hands_the_signed_text_over_while_gpg_checks(void **state)
{
    (void)state;
    en_ssverify_t *v = verifier("cloud images", "ubuntu-cloudimage-keyring.asc");
    size_t len, plen;
    char *buf = ss_read(DOWNLOAD_2016, &len), *plain = NULL, signer[41] = "";
    en_err_t err = {0};
    assert_int_equal(en_ssverify_verify(v, "download.sjson", buf, len, &plain, &plen, NULL, &err),
                     0);
    consumed_t c = {0};
    if (en_ssverify_verify_with(v, "download.sjson", buf, len, s_consume, &c, signer, &err))
        fail_msg("%s", err.message);
    assert_string_equal(signer, UBUNTU_FPR);
    assert_int_equal(c.len, plen);
    assert_memory_equal(c.text, plain, plen);
    assert_non_null(c.products);
    assert_int_equal(en_ss_products_count(c.products), 51);
    // consume's own error comes back when the signature is good
    consumed_t refused = {.fail = true};
    assert_int_equal(
        en_ssverify_verify_with(v, "download.sjson", buf, len, s_consume, &refused, NULL, &err),
        -1);
    assert_string_equal(err.message, "consume refused it");
    free(refused.text);
    en_ss_products_destroy(&c.products);
    free(c.text);
    free(plain);
    free(buf);
    en_ssverify_destroy(&v);
}

//  A flipped byte in the signed text: consume parses the tampered text
//  happily, and the answer is still the bad signature.
static void
verify_with_reports_a_bad_signature_whatever_consume_did(void **state)
{
    (void)state;
    en_ssverify_t *v = verifier("cloud images", "ubuntu-cloudimage-keyring.asc");
    size_t len;
    char *buf = ss_read(INDEX_2016, &len);
    char *at = strstr(buf, "\"index:1.0\"");
    assert_non_null(at);
    at[1] = 'I'; // "Index:1.0": still JSON
    consumed_t c = {0};
    en_err_t err = {0};
    assert_int_equal(en_ssverify_verify_with(v, "index.sjson", buf, len, s_consume, &c, NULL, &err),
                     -1);
    assert_string_equal(err.message, "source \"cloud images\": index.sjson: bad signature");
    assert_non_null(c.text); // consume did run on the tampered text
    en_ss_products_destroy(&c.products);
    free(c.text);
    free(buf);
    en_ssverify_destroy(&v);
}

static int
s_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

int
main(void)
{
    //  every private home of this run lives here, so a failed test that
    //  skips a destroy leaves nothing behind in /tmp
    char tmp[] = "/tmp/test-ssverify-XXXXXX";
    if (!mkdtemp(tmp))
        return 1;
    setenv("TMPDIR", tmp, 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(real_cloud_images_files_verify_with_ubuntu_key),
        cmocka_unit_test(resigned_index_fails_with_ubuntu_key_passes_with_test_key),
        cmocka_unit_test(every_juju_fixture_verifies_with_test_key),
        cmocka_unit_test(one_flipped_byte_in_signed_text_is_rejected),
        cmocka_unit_test(signature_by_key_outside_the_keyring_is_rejected_naming_it),
        cmocka_unit_test(fingerprint_list_restricts_a_larger_keyring),
        cmocka_unit_test(garbage_around_the_armour_is_ignored),
        cmocka_unit_test(unsigned_and_truncated_sjson_are_rejected),
        cmocka_unit_test(private_homes_live_in_tmpdir_and_are_removed),
        cmocka_unit_test(verifiers_work_from_several_threads),
        cmocka_unit_test(download_sjson_verifies_and_says_how_long),
        cmocka_unit_test(verify_with_hands_the_signed_text_over_while_gpg_checks),
        cmocka_unit_test(verify_with_reports_a_bad_signature_whatever_consume_did),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    nftw(tmp, s_rm, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}
