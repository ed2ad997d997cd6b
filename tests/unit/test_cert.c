/*  The controller CA (common/cert.h) and Go-style durations in messages
    (common/clock.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/cert.h"
#include "common/clock.h"

static void
ca_is_a_ca_matching_its_key(void **state)
{
    (void) state;
    char *cert = NULL, *key = NULL;
    en_err_t err;
    assert_int_equal(en_ca_generate("dev", "c0ffee00-0000-4000-8000-000000000001", &cert, &key,
                                    &err),
                     0);
    assert_non_null(strstr(cert, "-----BEGIN CERTIFICATE-----"));
    assert_non_null(strstr(key, "PRIVATE KEY-----"));
    assert_int_equal(en_ca_check(cert, key, &err), 0);
    // two CAs never share a key
    char *cert2 = NULL, *key2 = NULL;
    assert_int_equal(en_ca_generate("dev", "", &cert2, &key2, &err), 0);
    assert_int_equal(en_ca_check(cert, key2, &err), -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message, "CA key does not match the certificate");
    free(cert2);
    free(key2);
    free(cert);
    free(key);
}

static void
ca_check_refuses_garbage_and_tampering(void **state)
{
    (void) state;
    en_err_t err;
    assert_int_equal(en_ca_check("not a certificate", NULL, &err), -1);
    assert_string_equal(err.message, "CA certificate is not a PEM certificate");
    assert_int_equal(en_ca_check(NULL, "-----BEGIN PRIVATE KEY-----\nxx\n", &err), -1);
    assert_string_equal(err.message, "CA key is not a PEM private key");
    char *cert = NULL, *key = NULL;
    assert_int_equal(en_ca_generate("dev", "", &cert, &key, &err), 0);
    // flip one character of the base64 body
    char *body = strchr(cert, '\n') + 40;
    *body = *body == 'A' ? 'B' : 'A';
    assert_int_equal(en_ca_check(cert, key, &err), -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
    free(cert);
    free(key);
}

static void
client_cert_is_for_tls_clients_only(void **state)
{
    (void)state;
    char *cert = NULL, *key = NULL;
    en_err_t err;
    assert_int_equal(en_client_cert_generate("environs@host", &cert, &key, &err), 0);
    assert_non_null(strstr(cert, "-----BEGIN CERTIFICATE-----"));
    assert_non_null(strstr(key, "PRIVATE KEY-----"));
    // not a CA: en_ca_check refuses it, but its syntax is fine
    assert_int_equal(en_ca_check(cert, NULL, &err), -1);
    assert_string_equal(err.message, "certificate is not a CA");
    assert_int_equal(en_ca_check(NULL, key, &err), 0);
    char *cert2 = NULL, *key2 = NULL;
    assert_int_equal(en_client_cert_generate(NULL, &cert2, &key2, &err), 0);
    assert_string_not_equal(cert, cert2);
    assert_string_not_equal(key, key2);
    free(cert);
    free(key);
    free(cert2);
    free(key2);
}

static void
durations_print_like_go(void **state)
{
    (void) state;
    struct {
        int64_t ms;
        const char *want;
    } cases[] = {
        {0, "0s"},          {300, "300ms"},     {1000, "1s"},      {1500, "1.5s"},
        {1250, "1.25s"},    {90000, "1m30s"},   {1200000, "20m0s"}, {3600000, "1h0m0s"},
        {3723500, "1h2m3.5s"}, {-2000, "-2s"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[32];
        en_duration_format(cases[i].ms, out, sizeof out);
        assert_string_equal(out, cases[i].want);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ca_is_a_ca_matching_its_key),
        cmocka_unit_test(ca_check_refuses_garbage_and_tampering),
        cmocka_unit_test(client_cert_is_for_tls_clients_only),
        cmocka_unit_test(durations_print_like_go),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
