/*  Bus frames: a message read part by part into a fixed array, sent from
    bytes and moved messages, and the ZMQ_FD wait the hot loops use. Over
    inproc sockets in one thread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <czmq.h>

#include "bus/frames.h"

//  A connected PAIR of sockets on a fresh inproc endpoint.
static void
s_pair(zsock_t **a, zsock_t **b)
{
    static int n = 0;
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://frames-%d", n++);
    *a = zsock_new(ZMQ_PAIR);
    assert_int_equal(zsock_bind(*a, "%s", ep), 0);
    *b = zsock_new(ZMQ_PAIR);
    assert_int_equal(zsock_connect(*b, "%s", ep), 0);
}

static void
parts_past_the_cap_are_counted_and_the_next_message_is_whole(void **state)
{
    (void) state;
    zsock_t *a, *b;
    s_pair(&a, &b);
    zmsg_t *big = zmsg_new();
    for (int i = 0; i < EN_FRAMES_MAX + 2; i++)
        zmsg_addstrf(big, "%d", i);
    zmsg_send(&big, a);
    zstr_sendx(a, "x", "y", NULL);

    en_frames_t msg;
    assert_int_equal(en_frames_recv(&msg, zsock_resolve(b), 0), 0);
    assert_int_equal(msg.count, EN_FRAMES_MAX);
    assert_int_equal(en_frames_size(&msg), EN_FRAMES_MAX + 2);
    assert_true(en_frames_streq(&msg, EN_FRAMES_MAX - 1, "7"));
    en_frames_close(&msg);

    assert_int_equal(en_frames_recv(&msg, zsock_resolve(b), 0), 0);
    assert_int_equal(en_frames_size(&msg), 2);
    assert_true(en_frames_streq(&msg, 0, "x"));
    assert_true(en_frames_streq(&msg, 1, "y"));
    assert_false(en_frames_streq(&msg, 1, "yy"));
    en_frames_close(&msg);

    assert_int_equal(en_frames_recv(&msg, zsock_resolve(b), ZMQ_DONTWAIT), -1);
    assert_int_equal(zmq_errno(), EAGAIN);
    zsock_destroy(&a);
    zsock_destroy(&b);
}

static void
send_copies_bytes_and_moves_messages(void **state)
{
    (void) state;
    zsock_t *a, *b;
    s_pair(&a, &b);
    zmq_msg_t moved;
    zmq_msg_init_size(&moved, 3);
    memcpy(zmq_msg_data(&moved), "bcd", 3);
    en_part_t parts[] = {{"a", 1, NULL}, {NULL, 0, &moved}, {"", 0, NULL}};
    assert_int_equal(en_frames_send(zsock_resolve(a), parts, 3, 0), 0);
    assert_int_equal(zmq_msg_size(&moved), 0); // moved out: empty
    zmq_msg_close(&moved);

    en_frames_t msg;
    assert_int_equal(en_frames_recv(&msg, zsock_resolve(b), 0), 0);
    assert_int_equal(en_frames_size(&msg), 3);
    assert_true(en_frames_streq(&msg, 0, "a"));
    assert_true(en_frames_streq(&msg, 1, "bcd"));
    assert_int_equal(en_frames_len(&msg, 2), 0);
    en_frames_close(&msg);
    zsock_destroy(&a);
    zsock_destroy(&b);
}

//  ROUTER_MANDATORY refuses a message to an unknown peer at its first part:
//  the send fails, the moved parts are consumed all the same, and nothing
//  half sent is left to corrupt the next message.
static void
refused_first_part_sends_nothing_and_consumes_the_parts(void **state)
{
    (void) state;
    zsock_t *router = zsock_new(ZMQ_ROUTER);
    zsock_set_router_mandatory(router, 1);
    assert_int_equal(zsock_bind(router, "inproc://frames-router"), 0);
    zsock_t *dealer = zsock_new(ZMQ_DEALER);
    zsock_set_identity(dealer, "peer");
    assert_int_equal(zsock_connect(dealer, "inproc://frames-router"), 0);

    zmq_msg_t body;
    zmq_msg_init_size(&body, 40);
    memset(zmq_msg_data(&body), 'z', 40);
    en_part_t lost[] = {{"nobody", 6, NULL}, {"", 0, NULL}, {NULL, 0, &body}};
    assert_int_equal(en_frames_send(zsock_resolve(router), lost, 3, ZMQ_DONTWAIT), -1);
    assert_int_equal(zmq_errno(), EHOSTUNREACH);
    assert_int_equal(zmq_msg_size(&body), 0);
    zmq_msg_close(&body);

    en_part_t found[] = {{"peer", 4, NULL}, {"hello", 5, NULL}};
    assert_int_equal(en_frames_send(zsock_resolve(router), found, 2, ZMQ_DONTWAIT), 0);
    en_frames_t msg;
    assert_int_equal(en_frames_recv(&msg, zsock_resolve(dealer), 0), 0);
    assert_int_equal(en_frames_size(&msg), 1);
    assert_true(en_frames_streq(&msg, 0, "hello"));
    en_frames_close(&msg);
    zsock_destroy(&dealer);
    zsock_destroy(&router);
}

//  The ZMQ_FD wait wakes for a message that arrives after the socket said
//  EAGAIN, and not for one it has already been told about.
static void
poll_wakes_for_news_after_eagain(void **state)
{
    (void) state;
    zsock_t *a, *b;
    s_pair(&a, &b);
    void *sockets[] = {zsock_resolve(b)};
    bool ready[1];
    en_frames_t msg;
    assert_int_equal(en_frames_recv(&msg, sockets[0], ZMQ_DONTWAIT), -1); // arms it
    assert_int_equal(en_frames_poll(sockets, 1, ready, 0), 0);
    assert_false(ready[0]);

    zstr_send(a, "news");
    assert_int_equal(en_frames_poll(sockets, 1, ready, 1000), 1);
    assert_true(ready[0]);
    assert_int_equal(en_frames_recv(&msg, sockets[0], ZMQ_DONTWAIT), 0);
    assert_true(en_frames_streq(&msg, 0, "news"));
    en_frames_close(&msg);
    assert_int_equal(en_frames_recv(&msg, sockets[0], ZMQ_DONTWAIT), -1);
    assert_int_equal(en_frames_poll(sockets, 1, ready, 50), 0);
    assert_false(ready[0]);
    zsock_destroy(&a);
    zsock_destroy(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parts_past_the_cap_are_counted_and_the_next_message_is_whole),
        cmocka_unit_test(send_copies_bytes_and_moves_messages),
        cmocka_unit_test(refused_first_part_sends_nothing_and_consumes_the_parts),
        cmocka_unit_test(poll_wakes_for_news_after_eagain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
