/*  Constraints on the wire (common/consproto.h): every attribute survives
    en_constraints_t -> en.Constraints -> bytes -> en.Constraints ->
    en_constraints_t, and so does the difference between unset and set to
    zero or empty. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/consproto.h"

//  Through the bytes of the wire and back to a C value.
static void
s_wire_round_trip(const char *text, const char *expected)
{
    en_err_t err;
    en_constraints_t c, back;
    en_constraints_init(&c);
    en_constraints_init(&back);
    assert_int_equal(en_constraints_parse(&c, text, &err), 0);
    en_arena_t *arena = en_arena_new();
    En__Constraints *msg = en_constraints_to_proto(arena, &c);
    size_t size = en__constraints__get_packed_size(msg);
    uint8_t *bytes = malloc(size + 1);
    en__constraints__pack(msg, bytes);
    En__Constraints *read = en__constraints__unpack(NULL, size, bytes);
    assert_non_null(read);
    assert_int_equal(en_constraints_from_proto(read, &back, &err), 0);
    assert_true(en_constraints_equal(&c, &back));
    char *printed = en_constraints_string(&back);
    assert_string_equal(printed, expected);
    free(printed);
    en__constraints__free_unpacked(read, NULL);
    free(bytes);
    en_arena_destroy(&arena);
    en_constraints_reset(&back);
    en_constraints_reset(&c);
}

static void
every_attribute_survives_the_wire(void **state)
{
    (void)state;
    s_wire_round_trip("arch=arm64 container=lxd cores=4 cpu-power=100 "
                      "nested-virtualization=true instance-role=auto instance-type=m5.large "
                      "mem=4G root-disk=16G root-disk-source=ssd tags=a,b spaces=x,^y "
                      "virt-type=kvm zones=z1,z2 allocate-public-ip=false image-id=ami-1",
                      "arch=arm64 container=lxd cores=4 cpu-power=100 "
                      "nested-virtualization=true instance-role=auto instance-type=m5.large "
                      "mem=4096M root-disk=16384M root-disk-source=ssd tags=a,b spaces=x,^y "
                      "virt-type=kvm zones=z1,z2 allocate-public-ip=false image-id=ami-1");
}

//  `mem=` and `tags=` are set (they override a fallback); on the wire that
//  is a oneof case with value 0 and a present, empty StringList.
static void
set_to_zero_or_empty_is_not_unset(void **state)
{
    (void)state;
    s_wire_round_trip("mem= tags= arch=", "arch= mem= tags=");
    en_err_t err;
    en_constraints_t c;
    en_constraints_init(&c);
    assert_int_equal(en_constraints_parse(&c, "mem= tags=", &err), 0);
    en_arena_t *arena = en_arena_new();
    En__Constraints *msg = en_constraints_to_proto(arena, &c);
    assert_int_equal(msg->_mem_case, EN__CONSTRAINTS___MEM_MEM);
    assert_int_equal(msg->mem, 0);
    assert_non_null(msg->tags);
    assert_int_equal(msg->tags->n_values, 0);
    assert_int_equal(msg->_arch_case, 0);
    assert_null(msg->zones);
    en_arena_destroy(&arena);
    en_constraints_reset(&c);
}

static void
nothing_set_is_an_empty_message(void **state)
{
    (void)state;
    s_wire_round_trip("", "");
    en_err_t err;
    en_constraints_t c;
    en_constraints_init(&c);
    assert_int_equal(en_constraints_parse(&c, "cores=2", &err), 0);
    assert_int_equal(en_constraints_from_proto(NULL, &c, &err), 0); // absent: nothing set
    assert_true(en_constraints_is_empty(&c));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_attribute_survives_the_wire),
        cmocka_unit_test(set_to_zero_or_empty_is_not_unset),
        cmocka_unit_test(nothing_set_is_an_empty_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
