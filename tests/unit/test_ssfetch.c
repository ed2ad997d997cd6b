/*  ssfetch: status mapping, retries, limits, revalidation and file://,
    against the loopback test server serving testdata/simplestreams/. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "simplestreams/ssfetch.h"
#include "ss_httpd.h"
#include "unit/ssfetch_data.h"

#define INDEX_2016 "/real/cloud-images.ubuntu.com/releases-20161104/streams/v1/index.sjson"

typedef struct {
    ss_httpd_t *httpd;
    en_ssfetch_t *fetch;
    char root[1024];
} fixture_t;

static int
setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    const char *shared = getenv("EN_SHARED_DIR");
    snprintf(f->root, sizeof f->root, "%s/testdata/simplestreams", shared ? shared : "../shared");
    f->httpd = ss_httpd_new(f->root, 0);
    assert_non_null(f->httpd);
    en_err_t err = {0};
    f->fetch = en_ssfetch_new(NULL, &err);
    assert_non_null(f->fetch);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture_t *f = *state;
    en_ssfetch_destroy(&f->fetch);
    ss_httpd_destroy(&f->httpd);
    free(f);
    return 0;
}

static char *
url_of(fixture_t *f, const char *path)
{
    return strdup(ss_httpd_url(f->httpd, path));
}

static void
fetch_200_returns_body_and_validators(void **state)
{
    fixture_t *f = *state;
    size_t len;
    char *want = ss_read(INDEX_2016 + 1, &len);
    char *url = url_of(f, INDEX_2016);
    en_ssfetch_result_t r;
    en_err_t err = {0};
    assert_int_equal(en_ssfetch_get(f->fetch, url, NULL, &r, &err), 0);
    assert_int_equal(r.status, 200);
    assert_false(r.not_modified);
    assert_int_equal(r.len, len);
    assert_memory_equal(r.body, want, len);
    assert_non_null(r.etag);
    assert_non_null(r.last_modified);
    assert_string_equal(r.effective_url, url);
    assert_int_equal(r.attempts, 1);
    assert_int_equal(ss_httpd_hits(f->httpd, INDEX_2016), 1);
    en_ssfetch_result_free(&r);
    assert_null(r.body);
    free(url);
    free(want);
}

static void
fetch_404_is_not_found_and_not_retried(void **state)
{
    fixture_t *f = *state;
    char *url = url_of(f, "/streams/v1/nope.json");
    en_ssfetch_result_t r;
    en_err_t err = {0};
    assert_int_equal(en_ssfetch_get(f->fetch, url, NULL, &r, &err), -1);
    assert_int_equal(err.kind, EN_NOT_FOUND);
    char want[600];
    snprintf(want, sizeof want, "cannot find URL \"%s\"", url);
    assert_string_equal(err.message, want);
    assert_null(r.body);
    assert_int_equal(ss_httpd_hits(f->httpd, "/streams/v1/nope.json"), 1);
    free(url);
}

static void
fetch_401_and_403_are_unauthorized_and_not_retried(void **state)
{
    fixture_t *f = *state;
    ss_httpd_set_status(f->httpd, "/private/401.json", 401);
    ss_httpd_set_status(f->httpd, "/private/403.json", 403);
    en_ssfetch_result_t r;
    en_err_t err = {0};
    char want[600];

    char *url = url_of(f, "/private/401.json");
    assert_int_equal(en_ssfetch_get(f->fetch, url, NULL, &r, &err), -1);
    assert_int_equal(err.kind, EN_UNAUTHORIZED);
    snprintf(want, sizeof want, "unauthorised access to URL \"%s\"", url);
    assert_string_equal(err.message, want);
    assert_int_equal(ss_httpd_hits(f->httpd, "/private/401.json"), 1);
    free(url);

    url = url_of(f, "/private/403.json");
    assert_int_equal(en_ssfetch_get(f->fetch, url, NULL, &r, &err), -1);
    assert_int_equal(err.kind, EN_UNAUTHORIZED);
    snprintf(want, sizeof want, "unauthorised access to URL \"%s\", \"403 Forbidden\"", url);
    assert_string_equal(err.message, want);
    assert_int_equal(ss_httpd_hits(f->httpd, "/private/403.json"), 1);
    free(url);
}

static void
fetch_500_is_retried_three_times_then_unavailable(void **state)
{
    fixture_t *f = *state;
    ss_httpd_set_status(f->httpd, "/broken.json", 500);
    char *url = url_of(f, "/broken.json");
    en_ssfetch_result_t r;
    en_err_t err = {0};
    assert_int_equal(en_ssfetch_get(f->fetch, url, NULL, &r, &err), -1);
    assert_int_equal(err.kind, EN_UNAVAILABLE);
    assert_true(err.retryable);
    char want[600];
    snprintf(want, sizeof want, "cannot access URL \"%s\", \"500 Internal Server Error\"", url);
    assert_string_equal(err.message, want);
    assert_int_equal(ss_httpd_hits(f->httpd, "/broken.json"), 3);
    free(url);
}

static void
fetch_attempts_option_limits_retries(void **state)
{
    fixture_t *f = *state;
    //  attempts = 1: one GET, no retry; the same fetcher works once the path recovers
    en_ssfetch_opts_t o = {.attempts = 1};
    en_err_t err = {0};
    en_ssfetch_t *once = en_ssfetch_new(&o, &err);
    ss_httpd_set_status(f->httpd, INDEX_2016, 503);
    char *url = url_of(f, INDEX_2016);
    en_ssfetch_result_t r;
    assert_int_equal(en_ssfetch_get(once, url, NULL, &r, &err), -1);
    assert_int_equal(ss_httpd_hits(f->httpd, INDEX_2016), 1);
    ss_httpd_set_status(f->httpd, INDEX_2016, 0);
    assert_int_equal(en_ssfetch_get(once, url, NULL, &r, &err), 0);
    assert_int_equal(r.attempts, 1);
    en_ssfetch_result_free(&r);
    en_ssfetch_destroy(&once);
    free(url);
}

static void
fetch_file_url_reads_and_maps_missing_to_not_found(void **state)
{
    fixture_t *f = *state;
    size_t len;
    char *want = ss_read(INDEX_2016 + 1, &len);
    char url[1200];
    snprintf(url, sizeof url, "file://%s%s", f->root, INDEX_2016);
    en_ssfetch_result_t r;
    en_err_t err = {0};
    assert_int_equal(en_ssfetch_get(f->fetch, url, NULL, &r, &err), 0);
    assert_int_equal(r.len, len);
    assert_memory_equal(r.body, want, len);
    en_ssfetch_result_free(&r);

    snprintf(url, sizeof url, "file://%s/streams/v1/missing.sjson", f->root);
    assert_int_equal(en_ssfetch_get(f->fetch, url, NULL, &r, &err), -1);
    assert_int_equal(err.kind, EN_NOT_FOUND);
    char msg[1300];
    snprintf(msg, sizeof msg, "cannot find URL \"%s\"", url);
    assert_string_equal(err.message, msg);
    free(want);
}

//  /hop0 -> /hop1 -> ... -> /hop<n-1> -> INDEX_2016
static void
make_chain(fixture_t *f, int n)
{
    for (int i = 0; i < n; i++) {
        char path[32], next[32];
        snprintf(path, sizeof path, "/hop%d", i);
        snprintf(next, sizeof next, "/hop%d", i + 1);
        ss_httpd_set_redirect(f->httpd, path, i + 1 < n ? next : INDEX_2016);
    }
}

static void
fetch_follows_redirects_up_to_the_limit(void **state)
{
    fixture_t *f = *state;
    make_chain(f, 5);
    en_ssfetch_opts_t o = {.max_redirects = 3};
    en_err_t err = {0};
    en_ssfetch_t *strict = en_ssfetch_new(&o, &err);
    char *url = url_of(f, "/hop0");
    en_ssfetch_result_t r;
    assert_int_equal(en_ssfetch_get(strict, url, NULL, &r, &err), -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
    char want[600];
    snprintf(want, sizeof want, "cannot access URL \"%s\": stopped after 3 redirects", url);
    assert_string_equal(err.message, want);
    assert_int_equal(ss_httpd_hits(f->httpd, "/hop0"), 1); //  not retried
    assert_int_equal(ss_httpd_hits(f->httpd, "/hop3"), 1);
    assert_int_equal(ss_httpd_hits(f->httpd, "/hop4"), 0);

    //  the default limit (10) gets through the same chain
    assert_int_equal(en_ssfetch_get(f->fetch, url, NULL, &r, &err), 0);
    assert_int_equal(r.status, 200);
    char *final = url_of(f, INDEX_2016);
    assert_string_equal(r.effective_url, final);
    en_ssfetch_result_free(&r);
    en_ssfetch_destroy(&strict);
    free(final);
    free(url);
}

static void
fetch_size_limit_aborts_the_transfer(void **state)
{
    fixture_t *f = *state;
    const size_t limit = 1 << 20;
    en_ssfetch_opts_t o = {.max_size = limit};
    en_err_t err = {0};
    en_ssfetch_t *small = en_ssfetch_new(&o, &err);
    en_ssfetch_result_t r;
    char want[600];

    //  declared too big: refused from Content-Length
    ss_httpd_set_body_size(f->httpd, "/big-declared.json", 4 << 20, 1);
    char *url = url_of(f, "/big-declared.json");
    assert_int_equal(en_ssfetch_get(small, url, NULL, &r, &err), -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
    snprintf(want, sizeof want, "URL \"%s\": body exceeds the size limit of 1048576 bytes", url);
    assert_string_equal(err.message, want);
    assert_int_equal(ss_httpd_hits(f->httpd, "/big-declared.json"), 1);
    free(url);

    //  no length: cut off once the bytes pass the limit, long before the end
    const size_t huge = (size_t)256 << 20;
    ss_httpd_set_body_size(f->httpd, "/big-streamed.json", huge, 0);
    url = url_of(f, "/big-streamed.json");
    assert_int_equal(en_ssfetch_get(small, url, NULL, &r, &err), -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
    snprintf(want, sizeof want, "URL \"%s\": body exceeds the size limit of 1048576 bytes", url);
    assert_string_equal(err.message, want);
    assert_int_equal(ss_httpd_wait_idle(f->httpd, 10000), 0);
    assert_true(ss_httpd_body_bytes(f->httpd, "/big-streamed.json") < huge / 4);
    free(url);

    //  a body right at the limit is fine
    ss_httpd_set_body_size(f->httpd, "/at-limit.json", limit, 0);
    url = url_of(f, "/at-limit.json");
    assert_int_equal(en_ssfetch_get(small, url, NULL, &r, &err), 0);
    assert_int_equal(r.len, limit);
    en_ssfetch_result_free(&r);
    free(url);
    en_ssfetch_destroy(&small);
}

static void
fetch_times_out_and_retries(void **state)
{
    fixture_t *f = *state;
    ss_httpd_set_delay(f->httpd, "/slow.json", 30000);
    en_ssfetch_opts_t o = {.timeout_ms = 300};
    en_err_t err = {0};
    en_ssfetch_t *quick = en_ssfetch_new(&o, &err);
    char *url = url_of(f, "/slow.json");
    en_ssfetch_result_t r;
    int64_t t0 = en_mono_ms();
    assert_int_equal(en_ssfetch_get(quick, url, NULL, &r, &err), -1);
    int64_t took = en_mono_ms() - t0;
    assert_int_equal(err.kind, EN_TIMEOUT);
    char want[600];
    snprintf(want, sizeof want, "cannot access URL \"%s\": timed out after 300ms", url);
    assert_memory_equal(err.message, want, strlen(want));
    assert_int_equal(ss_httpd_hits(f->httpd, "/slow.json"), 3);
    assert_true(took >= 900 && took < 10000);
    en_ssfetch_destroy(&quick);
    free(url);
}

static void
fetch_revalidates_with_etag_and_last_modified(void **state)
{
    fixture_t *f = *state;
    char *url = url_of(f, INDEX_2016);
    en_ssfetch_result_t first, r;
    en_err_t err = {0};
    assert_int_equal(en_ssfetch_get(f->fetch, url, NULL, &first, &err), 0);

    en_ssfetch_validators_t by_etag = {.etag = first.etag};
    assert_int_equal(en_ssfetch_get(f->fetch, url, &by_etag, &r, &err), 0);
    assert_true(r.not_modified);
    assert_int_equal(r.status, 304);
    assert_null(r.body);
    assert_int_equal(r.len, 0);
    assert_string_equal(r.etag, first.etag);
    en_ssfetch_result_free(&r);

    en_ssfetch_validators_t by_date = {.last_modified = first.last_modified};
    assert_int_equal(en_ssfetch_get(f->fetch, url, &by_date, &r, &err), 0);
    assert_true(r.not_modified);
    assert_null(r.body);
    assert_string_equal(r.last_modified, first.last_modified);
    en_ssfetch_result_free(&r);

    //  a stale ETag gets the body and the current validators
    en_ssfetch_validators_t stale = {.etag = "\"stale\"", .last_modified = first.last_modified};
    assert_int_equal(en_ssfetch_get(f->fetch, url, &stale, &r, &err), 0);
    assert_false(r.not_modified);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, first.len);
    assert_string_equal(r.etag, first.etag);
    en_ssfetch_result_free(&r);

    //  an old date gets the body too
    en_ssfetch_validators_t old = {.last_modified = "Thu, 01 Jan 1970 00:00:00 GMT"};
    assert_int_equal(en_ssfetch_get(f->fetch, url, &old, &r, &err), 0);
    assert_false(r.not_modified);
    assert_int_equal(r.len, first.len);
    en_ssfetch_result_free(&r);

    assert_int_equal(ss_httpd_hits(f->httpd, INDEX_2016), 5);
    en_ssfetch_result_free(&first);
    free(url);
}

static void
fetch_unreachable_port_is_unavailable(void **state)
{
    fixture_t *f = *state;
    //  a port that was free a moment ago and has no listener
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    close(fd);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/streams/v1/index.json", ntohs(sa.sin_port));
    en_ssfetch_result_t r;
    en_err_t err = {0};
    assert_int_equal(en_ssfetch_get(f->fetch, url, NULL, &r, &err), -1);
    assert_int_equal(err.kind, EN_UNAVAILABLE);
    char want[200];
    snprintf(want, sizeof want, "cannot access URL \"%s\": ", url);
    assert_memory_equal(err.message, want, strlen(want));
    assert_non_null(strstr(err.message, "onnect")); //  curl's reason
}

static void
url_join_matches_juju(void **state)
{
    (void)state;
    struct {
        const char *base, *path, *want;
    } cases[] = {
        {"http://h/releases", "streams/v1/index.json", "http://h/releases/streams/v1/index.json"},
        {"http://h/releases/", "streams/v1/index.json", "http://h/releases/streams/v1/index.json"},
        {"file:///srv/images", "streams/v1/x.sjson", "file:///srv/images/streams/v1/x.sjson"},
        {"http://h", "", "http://h/"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = en_ssfetch_url_join(cases[i].base, cases[i].path);
        assert_string_equal(got, cases[i].want);
        free(got);
    }
}

int
main(void)
{
    setenv("ENVIRONS_RETRY_SCALE", "0.01", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(fetch_200_returns_body_and_validators, setup, teardown),
        cmocka_unit_test_setup_teardown(fetch_404_is_not_found_and_not_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(fetch_401_and_403_are_unauthorized_and_not_retried, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(fetch_500_is_retried_three_times_then_unavailable, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(fetch_attempts_option_limits_retries, setup, teardown),
        cmocka_unit_test_setup_teardown(fetch_file_url_reads_and_maps_missing_to_not_found, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(fetch_follows_redirects_up_to_the_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(fetch_size_limit_aborts_the_transfer, setup, teardown),
        cmocka_unit_test_setup_teardown(fetch_times_out_and_retries, setup, teardown),
        cmocka_unit_test_setup_teardown(fetch_revalidates_with_etag_and_last_modified, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(fetch_unreachable_port_is_unavailable, setup, teardown),
        cmocka_unit_test(url_join_matches_juju),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
