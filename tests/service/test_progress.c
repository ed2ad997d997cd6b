/*  test_progress.c — progress lines through a real gateway's event proxy.

    The gateway runs as a process (harness); the publishers and the
    subscriber are in this process, as a service thread and a CLI would
    be. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bus/progress.h"
#include "harness.h"

//  A publisher made and used at once (a service thread's first line right
//  after it started) still delivers: its first line waits for the proxy's
//  subscription instead of going out on a connection not yet made.
static void
first_line_of_a_new_publisher_is_delivered(void **state)
{
    (void)state;
    harness_t h;
    assert_int_equal(harness_init(&h), 0);
    harness_start(&h, "gateway", 0);
    en_err_t err;
    for (int round = 0; round < 20; round++) {
        char id[64];
        snprintf(id, sizeof id, "progress-first-line-%d", round);
        void *sub = en_progress_subscribe(h.endpoint, id, 10000, &err);
        assert_non_null(sub);
        en_progress_t *pub = en_progress_new(h.endpoint, &err);
        assert_non_null(pub);
        en_progress_send(pub, id, "allocating", "line %d", round);
        uint32_t seq = 0;
        char status[32], message[64];
        int got = 0;
        // a late answer to the subscription's probe is not a line (0)
        do
            got = en_progress_recv(sub, 5000, &seq, status, sizeof status, message,
                                   sizeof message);
        while (got == 0);
        assert_int_equal(got, 1);
        assert_int_equal(seq, 1);
        assert_string_equal(status, "allocating");
        char want[32];
        snprintf(want, sizeof want, "line %d", round);
        assert_string_equal(message, want);
        en_progress_destroy(&pub);
        en_progress_unsubscribe(&sub);
    }
    assert_int_equal(harness_fini(&h), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(first_line_of_a_new_publisher_is_delivered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
