/*  Error vocabulary: kinds, names, retryability and Juju-style annotation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/err.h"

static void
err_set_formats_message_and_kind(void **state)
{
    (void) state;
    en_err_t err;
    assert_int_equal(en_err_set(&err, EN_NOT_FOUND, "no registered provider for \"%s\"", "x"), -1);
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_string_equal(err.message, "no registered provider for \"x\"");
    assert_false(err.retryable);
}

static void
err_unavailable_is_retryable(void **state)
{
    (void) state;
    en_err_t err;
    en_err_set(&err, EN_UNAVAILABLE, "gateway gone");
    assert_true(err.retryable);
    en_err_set(&err, EN_TIMEOUT, "deadline");
    assert_true(err.retryable);
    en_err_set(&err, EN_INTERNAL, "boom");
    assert_false(err.retryable);
}

static void
err_annotate_prefixes_like_juju(void **state)
{
    (void) state;
    en_err_t err;
    en_err_set(&err, EN_NOT_FOUND, "region \"x\" not found");
    en_err_annotate(&err, "getting cloud region definition");
    assert_string_equal(err.message, "getting cloud region definition: region \"x\" not found");
    assert_int_equal(err.kind, EN_NOT_FOUND);
}

static void
err_kind_names_round_trip(void **state)
{
    (void) state;
    for (int k = 0; k < EN_KIND_COUNT; k++)
        assert_int_equal(en_kind_from_name(en_kind_name((en_kind_t) k)), k);
    assert_string_equal(en_kind_name((en_kind_t) 99), "UNKNOWN");
    assert_int_equal(en_kind_from_name("NOPE"), EN_KIND_COUNT);
}

static void
err_message_is_bounded(void **state)
{
    (void) state;
    char big[2000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    en_err_t err;
    en_err_set(&err, EN_NOT_VALID, "%s", big);
    assert_int_equal(strlen(err.message), EN_ERR_MSG_MAX - 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(err_set_formats_message_and_kind),
        cmocka_unit_test(err_unavailable_is_retryable),
        cmocka_unit_test(err_annotate_prefixes_like_juju),
        cmocka_unit_test(err_kind_names_round_trip),
        cmocka_unit_test(err_message_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
