/*  test_spacename.c — ConvertSpaceName (docs/juju-environs.md §5.1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

#include "common/spacename.h"

static void
s_check(const char *name, const char *const *taken, size_t n, const char *want)
{
    char *got = en_space_name_convert(name, taken, n);
    assert_string_equal(got, want);
    free(got);
}

static void
space_name_is_normalised(void **state)
{
    (void)state;
    s_check("Another Foo 99!", NULL, 0, "another-foo-99");
    s_check("foo", NULL, 0, "foo");
    s_check("FooBar", NULL, 0, "foobar");
    s_check("  -foo--bar__baz-- ", NULL, 0, "foo-barbaz"); // `_` dropped, not a dash
    s_check("a - b", NULL, 0, "a-b");
    s_check("DMZ.Zone/1", NULL, 0, "dmzzone1");
}

static void
space_name_nothing_left_is_empty(void **state)
{
    (void)state;
    s_check("", NULL, 0, "empty");
    s_check(NULL, NULL, 0, "empty");
    s_check("!!! ---", NULL, 0, "empty");
}

static void
space_name_taken_gets_a_number(void **state)
{
    (void)state;
    const char *taken[] = {"foo", "foo-2", "empty"};
    s_check("Foo", taken, 3, "foo-3");
    s_check("foo 2", taken, 3, "foo-2-2");
    s_check("?", taken, 3, "empty-2");
    s_check("bar", taken, 3, "bar");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(space_name_is_normalised),
        cmocka_unit_test(space_name_nothing_left_is_empty),
        cmocka_unit_test(space_name_taken_gets_a_number),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
