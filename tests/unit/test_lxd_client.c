/*  The LXD client without a daemon: every row of en_lxd_classify's table
    (with LXD 5.0.2's real, often untyped, messages), en_lxd_escape, the
    config checks of en_lxd_new, which never talks to LXD, and the public
    key pin it computes from a server certificate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <curl/curl.h>

#include "providers/lxd/lxd_client.h"
#include "providers/lxd/lxd_client_private.h"

typedef struct {
    long http_status;
    int curl_code;
    int error_code;
    const char *message;
    en_kind_t kind;
    bool retryable;
} row_t;

//  http 200 with error_code 400: a failed operation's err text.
static const row_t s_rows[] = {
    // 404, whatever the text
    {404, 0, 404, "Instance not found", EN_NOT_FOUND, false},
    {404, 0, 404, "Network not found", EN_NOT_FOUND, false},
    {404, 0, 404, "Profile not found", EN_NOT_FOUND, false},
    {404, 0, 0, NULL, EN_NOT_FOUND, false},
    {404, 0, 404, "Storage volume not found", EN_NOT_FOUND, false},
    {500, 0, 404, "Instance not found", EN_NOT_FOUND, false},
    // ... or exactly one of LXD's whole-object texts
    {200, 0, 400, "Instance not found", EN_NOT_FOUND, false},
    {500, 0, 500, "Image not found", EN_NOT_FOUND, false},
    {500, 0, 500, "Network not found", EN_NOT_FOUND, false},
    {500, 0, 500, "Network ACL not found", EN_NOT_FOUND, false},
    {200, 0, 400, "Profile not found", EN_NOT_FOUND, false},
    {500, 0, 500, "Storage pool not found", EN_NOT_FOUND, false},
    {500, 0, 500, "Operation not found", EN_NOT_FOUND, false},
    {500, 0, 500, "not found", EN_NOT_FOUND, false},
    // a sub-resource not found is not the object asked about: a failed
    // operation (400) is NOT_VALID, a 500 INTERNAL
    {200, 0, 400, "Storage volume not found", EN_NOT_VALID, false},
    {200, 0, 400, "Failed deleting instance \"c1\" storage: Storage volume not found", EN_NOT_VALID,
     false},
    {200, 0, 400,
     "Failed creating instance record: Failed initialising instance: Failed loading profiles: "
     "Profile not found",
     EN_NOT_VALID, false},
    {200, 0, 400, "Failed loading storage pool: Storage pool not found", EN_NOT_VALID, false},
    {500, 0, 500, "Failed to fetch instance \"x\" in project \"default\": Instance not found",
     EN_INTERNAL, false},
    {400, 0, 400, "Failed to load network ACL \"a\": Network ACL not found", EN_NOT_VALID, false},
    // 409, or "already exists", "UNIQUE constraint failed"
    {409, 0, 409, "Instance \"x\" already exists", EN_ALREADY_EXISTS, false},
    {409, 0, 0, NULL, EN_ALREADY_EXISTS, false},
    {200, 0, 400,
     "Failed creating instance record: Add instance info to the database: This \"instances\" "
     "entry already exists",
     EN_ALREADY_EXISTS, false},
    {500, 0, 500, "UNIQUE constraint failed: profiles.project_id, profiles.name", EN_ALREADY_EXISTS,
     false},
    {500, 0, 500, "Error inserting \"x\" into database: The profile already exists",
     EN_ALREADY_EXISTS, false},
    // 403, 401
    {403, 0, 403, "not authorized", EN_UNAUTHORIZED, false},
    {401, 0, 401, NULL, EN_UNAUTHORIZED, false},
    // 412: ETag mismatch
    {412, 0, 412, "ETag doesn't match: abc vs def", EN_UNAVAILABLE, true},
    // transient database and transaction errors
    {500, 0, 500, "Error transaction: database is locked", EN_UNAVAILABLE, true},
    {500, 0, 500, "Transaction timeout", EN_UNAVAILABLE, true},
    {503, 0, 503, "Failed to begin transaction: context deadline exceeded", EN_UNAVAILABLE, true},
    {500, 0, 500, "database is busy", EN_UNAVAILABLE, true},
    {503, 0, 503, "no available dqlite leader server found", EN_UNAVAILABLE, true},
    {500, 0, 500, "dial unix /var/lib/lxd/database/x: connect: connection refused", EN_UNAVAILABLE,
     true},
    // ... also when a failed operation (status 400) reports them
    {200, 0, 400, "Error transaction: database is locked", EN_UNAVAILABLE, true},
    {200, 0, 400, "Transaction timeout", EN_UNAVAILABLE, true},
    // busy with another operation
    {400, 0, 400, "Instance is busy running a \"start\" operation", EN_UNAVAILABLE, true},
    {200, 0, 400, "An operation in progress", EN_UNAVAILABLE, true},
    // ... but a repeated start finds a state, not a transient failure
    {400, 0, 400, "The instance is already running", EN_NOT_VALID, false},
    {200, 0, 400, "The instance is already running", EN_NOT_VALID, false},
    // the file API under parallel load
    {500, 0, 500, "dial unix /proc/self/fd/141/forkfile.sock: connect: no such file or directory",
     EN_UNAVAILABLE, true},
    // GET /1.0/resources in parallel
    {500, 0, 500,
     "Failed to retrieve CPU information: Failed to read \"/sys/devices/system/cpu\": readdirent "
     "/sys/devices/system/cpu: bad file descriptor",
     EN_UNAVAILABLE, true},
    // an ACL read while another ACL is being deleted: a race, not an absence
    {404, 0, 404, "Failed getting ACL usage: Network ACL not found", EN_UNAVAILABLE, true},
    // ... or while a network (anyone's) is being deleted
    {404, 0, 404,
     "Failed getting ACL network usage: Failed to get network config for \"en614944a4243\": "
     "Network not found",
     EN_UNAVAILABLE, true},
    {500, 0, 500,
     "Failed to retrieve GPU information: Failed to list \"/sys/bus/pci/devices\": readdirent "
     "/sys/bus/pci/devices: bad file descriptor",
     EN_UNAVAILABLE, true},
    {500, 0, 500,
     "Failed to retrieve network information: Failed to list \"/sys/class/net\": readdirent "
     "/sys/class/net: bad file descriptor",
     EN_UNAVAILABLE, true},
    // concurrent updates of one bridge
    {500, 0, 500,
     "Failed clearing firewall: Failed clearing nftables rules for network \"en0123456789a\": "
     "Failed to run: nft flush chain inet lxd fwd.en0123456789a: exit status 1",
     EN_UNAVAILABLE, true},
    // an ACL's PUT while the bridge it is on is still being made
    {500, 0, 500,
     "Failed to run: nft -f -: exit status 1 (/dev/stdin:2:22-38: Error: No such file or "
     "directory; did you mean chain \u2018acl.enbf87d8b690d\u2019 in table inet \u2018lxd\u2019?\n"
     "flush chain inet lxd acl.enbf87d8b690d\n                     ^^^^^^^^^^^^^^^^^)",
     EN_UNAVAILABLE, true},
    {500, 0, 500,
     "Failed to start dnsmasq: The DNS and DHCP service exited prematurely: exit status 2 "
     "(\"dnsmasq: failed to create listening socket for 10.208.7.1: Address already in use\")",
     EN_UNAVAILABLE, true},
    {500, 0, 500,
     "Failed adding address \"10.208.7.1/24\": Failed to run: ip -4 addr add 10.208.7.1/24 dev "
     "en0123456789a: exit status 2 (Error: ipv4: Address already assigned.)",
     EN_UNAVAILABLE, true},
    // in use while a racer detaches it
    {500, 0, 500, "Cannot delete an ACL that is in use", EN_UNAVAILABLE, true},
    {400, 0, 400, "Profile is currently in use", EN_UNAVAILABLE, true},
    {400, 0, 400, "The network is currently in use", EN_UNAVAILABLE, true},
    // 400 and other 4xx
    {400, 0, 400, "Invalid devices: Device validation failed for \"root\"", EN_NOT_VALID, false},
    {405, 0, 0, NULL, EN_NOT_VALID, false},
    {422, 0, 0, "Unprocessable", EN_NOT_VALID, false},
    {200, 0, 400, "Failed to run: exit status 1", EN_NOT_VALID, false},
    // other 5xx
    {500, 0, 500, "Failed to create storage volume", EN_INTERNAL, false},
    {502, 0, 0, NULL, EN_INTERNAL, false},
    // no answer
    {0, CURLE_COULDNT_CONNECT, 0, "Failed to connect to lxd port 80: No such file or directory",
     EN_UNAVAILABLE, true},
    {0, CURLE_COULDNT_RESOLVE_HOST, 0, NULL, EN_UNAVAILABLE, true},
    {0, CURLE_RECV_ERROR, 0, "Connection reset by peer", EN_UNAVAILABLE, true},
    {0, CURLE_OPERATION_TIMEDOUT, 0, "Operation timed out after 30001 milliseconds", EN_TIMEOUT,
     true},
    {0, CURLE_SSL_CONNECT_ERROR, 0, "OpenSSL SSL_connect: Connection reset by peer", EN_UNAVAILABLE,
     true},
    {0, CURLE_SSL_CONNECT_ERROR, 0, "error:0A000412:SSL routines::sslv3 alert bad certificate",
     EN_UNAUTHORIZED, false},
    {0, CURLE_RECV_ERROR, 0, "error:0A00045C:SSL routines::tlsv13 alert certificate required",
     EN_UNAUTHORIZED, false},
    {0, CURLE_PEER_FAILED_VERIFICATION, 0, "SSL certificate problem: self-signed certificate",
     EN_NOT_VALID, false},
    {0, CURLE_SSL_CERTPROBLEM, 0, "could not load PEM client certificate", EN_NOT_VALID, false},
};

static void
classify_follows_every_row_of_the_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof s_rows / sizeof s_rows[0]; i++) {
        const row_t *row = &s_rows[i];
        en_err_t err;
        en_err_clear(&err);
        int rc = en_lxd_classify(row->http_status, row->curl_code, row->error_code, row->message,
                                 "GET /1.0/x", &err);
        if (err.kind != row->kind || err.retryable != row->retryable)
            fail_msg("row %zu (%ld, %d, %d, \"%s\"): got %s%s, want %s%s", i, row->http_status,
                     row->curl_code, row->error_code, row->message ? row->message : "(null)",
                     en_kind_name(err.kind), err.retryable ? " retryable" : "",
                     en_kind_name(row->kind), row->retryable ? " retryable" : "");
        assert_int_equal(rc, -1);
        assert_true(strncmp(err.message, "lxd: GET /1.0/x: ", 17) == 0);
        if (row->message)
            assert_string_equal(err.message + 17, row->message);
    }
}

static void
classify_message_names_context_and_lxd_text(void **state)
{
    (void)state;
    en_err_t err;
    en_lxd_classify(409, 0, 409, "Instance \"x\" already exists", "POST /1.0/instances", &err);
    assert_string_equal(err.message, "lxd: POST /1.0/instances: Instance \"x\" already exists");
    en_lxd_classify(404, 0, 404, "Instance not found", NULL, &err);
    assert_string_equal(err.message, "lxd: Instance not found");
    assert_int_equal(err.kind, EN_NOT_FOUND);
}

static void
classify_without_text_says_what_it_has(void **state)
{
    (void)state;
    en_err_t err;
    en_lxd_classify(500, 0, 0, NULL, "GET /1.0", &err);
    assert_string_equal(err.message, "lxd: GET /1.0: HTTP 500");
    assert_int_equal(err.kind, EN_INTERNAL);
    en_lxd_classify(0, CURLE_OPERATION_TIMEDOUT, 0, "", "GET /1.0", &err);
    assert_int_equal(err.kind, EN_TIMEOUT);
    assert_string_equal(err.message, "lxd: GET /1.0: Timeout was reached");
    assert_int_equal(en_lxd_classify(404, 0, 404, "x", NULL, NULL), -1);
}

static void
classify_reads_text_case_insensitively(void **state)
{
    (void)state;
    en_err_t err;
    en_lxd_classify(500, 0, 500, "INSTANCE NOT FOUND", NULL, &err);
    assert_int_equal(err.kind, EN_NOT_FOUND);
    en_lxd_classify(500, 0, 500, " Not Found\n", NULL, &err);
    assert_int_equal(err.kind, EN_NOT_FOUND);
    en_lxd_classify(500, 0, 500, "Error: NOT FOUND", NULL, &err); // not the whole text
    assert_int_equal(err.kind, EN_INTERNAL);
    en_lxd_classify(500, 0, 500, "Database Is Locked", NULL, &err);
    assert_int_equal(err.kind, EN_UNAVAILABLE);
}

static void
escape_keeps_unreserved_and_escapes_the_rest(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"", ""},
        {"en-ct_1.x~", "en-ct_1.x~"},
        {"/etc/hosts", "%2Fetc%2Fhosts"},
        {"config.user.juju-model-uuid eq 1f2e", "config.user.juju-model-uuid%20eq%201f2e"},
        {"a&b=c?d#e+f%", "a%26b%3Dc%3Fd%23e%2Bf%25"},
        {"\"q\"", "%22q%22"},
        {"\xc3\xbc", "%C3%BC"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out = en_lxd_escape(cases[i].in);
        assert_non_null(out);
        assert_string_equal(out, cases[i].out);
        free(out);
    }
    char *out = en_lxd_escape(NULL);
    assert_string_equal(out, "");
    free(out);
}

#define S_CERT "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
#define S_KEY "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"

//  A P-256 self-signed certificate and its pin, as the openssl CLI computes
//  it: openssl x509 -pubkey -noout | openssl pkey -pubin -outform der |
//  openssl dgst -sha256 -binary | base64
#define S_REAL_CERT                                                                                \
    "-----BEGIN CERTIFICATE-----\n"                                                                \
    "MIIBgzCCASmgAwIBAgIUffoud/UdPJOTjfOaVd4Hkl5kMvowCgYIKoZIzj0EAwIw\n"                           \
    "FjEUMBIGA1UEAwwLZW4tcGluLXRlc3QwIBcNMjYxMTI2MDE1NTM1WhgPMjEyNjEx\n"                           \
    "MDIwMTU1MzVaMBYxFDASBgNVBAMMC2VuLXBpbi10ZXN0MFkwEwYHKoZIzj0CAQYI\n"                           \
    "KoZIzj0DAQcDQgAEC01pEDANhNEFzs1ZOdYIce7PFkOdkvV/rLm2M39GcMeYn/CG\n"                           \
    "kGcei7InlZKdgZJOCk8FEPpKMU6EN8a3e1PuhqNTMFEwHQYDVR0OBBYEFBbMY99Z\n"                           \
    "xc3HmTwByJmrK+C/+kjtMB8GA1UdIwQYMBaAFBbMY99Zxc3HmTwByJmrK+C/+kjt\n"                           \
    "MA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIgPsB38oiyFDIQeoWN\n"                           \
    "3y1cxoNSNnarvhDnAywZj0T9mxkCIQCpy6X6DP+S5SGh2vbLD7Wl3zHlb0L4ewX0\n"                           \
    "JAvEwBzcNA==\n"                                                                               \
    "-----END CERTIFICATE-----\n"
#define S_REAL_PIN "sha256//1CJTvRROZaq9t0fZa0akal6lRhEfJm6ijCo98jyH664="

static void
new_rejects_bad_configs(void **state)
{
    (void)state;
    static const struct {
        en_lxd_config_t cfg;
        const char *message;
    } cases[] = {
        {{.endpoint = "http://10.0.0.1:8443"},
         "lxd: endpoint \"http://10.0.0.1:8443\" is not an https:// URL"},
        {{.endpoint = "10.0.0.1:8443"}, "lxd: endpoint \"10.0.0.1:8443\" is not an https:// URL"},
        {{.endpoint = "https://"}, "lxd: endpoint \"https://\" has no host"},
        {{.endpoint = "https://h:8443", .client_cert = S_CERT},
         "lxd: client certificate without its key"},
        {{.endpoint = "https://h:8443", .client_key = S_KEY},
         "lxd: client key without its certificate"},
        {{.endpoint = "https://h:8443",
          .client_cert = "/home/u/.config/lxc/client.crt",
          .client_key = S_KEY},
         "lxd: client certificate is not PEM text"},
        {{.endpoint = "https://h:8443", .client_cert = S_CERT, .client_key = S_CERT},
         "lxd: client key is not PEM text"},
        {{.endpoint = "https://h:8443", .server_cert = "server.crt"},
         "lxd: server certificate is not PEM text"},
        // a server certificate to pin must parse: the pin is its key's
        {{.endpoint = "https://h:8443", .server_cert = S_CERT},
         "lxd: server certificate cannot be parsed"},
        {{.timeout_ms = -1}, "lxd: timeout -1 ms is negative"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        en_err_t err;
        en_err_clear(&err);
        en_lxd_t *lxd = en_lxd_new(&cases[i].cfg, &err);
        assert_null(lxd);
        assert_int_equal(err.kind, EN_NOT_VALID);
        assert_string_equal(err.message, cases[i].message);
    }
}

static void
new_accepts_https_with_cert_and_key(void **state)
{
    (void)state;
    en_err_t err;
    en_lxd_config_t cfg = {.endpoint = "https://127.0.0.1:8443/",
                           .client_cert = S_CERT,
                           .client_key = S_KEY,
                           .server_cert = S_REAL_CERT,
                           .project = "a b"};
    en_lxd_t *lxd = en_lxd_new(&cfg, &err);
    assert_non_null(lxd);
    assert_string_equal(en_lxd_where(lxd), "https://127.0.0.1:8443");
    en_lxd_destroy(&lxd);
    assert_null(lxd);
    en_lxd_destroy(&lxd); // idempotent
    en_lxd_config_t bare = {.endpoint = "https://lxd.example"};
    lxd = en_lxd_new(&bare, &err); // untrusted access to GET /1.0 needs no cert
    assert_non_null(lxd);
    en_lxd_destroy(&lxd);
}

static void
new_picks_the_socket_from_config_then_environment(void **state)
{
    (void)state;
    en_err_t err;
    // a socket that does not exist: en_lxd_new never connects
    en_lxd_config_t cfg = {.socket_path = "/nonexistent/unix.socket"};
    setenv("LXD_SOCKET", "/tmp/from-env.socket", 1);
    en_lxd_t *lxd = en_lxd_new(&cfg, &err);
    assert_non_null(lxd);
    assert_string_equal(en_lxd_where(lxd), "unix:/nonexistent/unix.socket");
    en_lxd_destroy(&lxd);

    lxd = en_lxd_new(&(en_lxd_config_t){0}, &err);
    assert_string_equal(en_lxd_where(lxd), "unix:/tmp/from-env.socket");
    en_lxd_destroy(&lxd);

    unsetenv("LXD_SOCKET");
    setenv("LXD_DIR", "/srv/lxd", 1);
    lxd = en_lxd_new(&(en_lxd_config_t){.endpoint = ""}, &err);
    assert_string_equal(en_lxd_where(lxd), "unix:/srv/lxd/unix.socket");
    en_lxd_destroy(&lxd);

    unsetenv("LXD_DIR");
    lxd = en_lxd_new(NULL, &err);
    assert_string_equal(en_lxd_where(lxd), "unix:/var/lib/lxd/unix.socket");
    en_lxd_destroy(&lxd);
}

static void
pin_is_the_sha256_of_the_server_public_key(void **state)
{
    (void)state;
    char *pin = lxd_spki_pin(S_REAL_CERT);
    assert_non_null(pin);
    assert_string_equal(pin, S_REAL_PIN);
    free(pin);
    assert_null(lxd_spki_pin(S_CERT)); // PEM armour around no certificate
    assert_null(lxd_spki_pin("not pem"));
    assert_null(lxd_spki_pin(NULL));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(classify_follows_every_row_of_the_table),
        cmocka_unit_test(classify_message_names_context_and_lxd_text),
        cmocka_unit_test(classify_without_text_says_what_it_has),
        cmocka_unit_test(classify_reads_text_case_insensitively),
        cmocka_unit_test(escape_keeps_unreserved_and_escapes_the_rest),
        cmocka_unit_test(new_rejects_bad_configs),
        cmocka_unit_test(new_accepts_https_with_cert_and_key),
        cmocka_unit_test(new_picks_the_socket_from_config_then_environment),
        cmocka_unit_test(pin_is_the_sha256_of_the_server_public_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
