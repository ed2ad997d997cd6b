/*  Bus envelope: en.Request / en.Reply in ZeroMQ frames, the body size
    limit, and the NOT_VALID answers for bytes that are not an envelope.
    No sockets: these are the checks every broker and worker applies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "bus/envelope.h"
#include "bus/mdp.h"

//  A packed en.Request with the given method and body.
static zframe_t *
s_request_frame(const char *id, const char *method, const uint8_t *body, size_t size)
{
    En__Request req = EN__REQUEST__INIT;
    req.request_id = (char *) id;
    req.method = (char *) method;
    req.model_uuid = "deadbeef-0000-4000-8000-000000000000";
    req.deadline_ms = 1700000000123ULL;
    req.attempt = 2;
    req.body.data = (uint8_t *) body;
    req.body.len = size;
    return en_frame_pack(&req.base);
}

static void
request_round_trips_through_a_frame(void **state)
{
    (void) state;
    zframe_t *frame =
        s_request_frame("id-1", "RegisteredProviders", (const uint8_t *) "\x0a\x01x", 3);
    en_err_t err;
    en_err_clear(&err);
    En__Request *req = en_request_unpack(frame, NULL, &err);
    assert_non_null(req);
    assert_int_equal(err.kind, EN_OK);
    assert_string_equal(req->request_id, "id-1");
    assert_string_equal(req->method, "RegisteredProviders");
    assert_string_equal(req->model_uuid, "deadbeef-0000-4000-8000-000000000000");
    assert_true(req->deadline_ms == 1700000000123ULL);
    assert_int_equal(req->attempt, 2);
    assert_int_equal(req->body.len, 3);
    assert_memory_equal(req->body.data, "\x0a\x01x", 3);
    en__request__free_unpacked(req, NULL);
    zframe_destroy(&frame);
}

//  The biggest envelope the bus accepts is exactly EN_MAX_BODY bytes.
static zframe_t *
s_request_of_packed_size(size_t target)
{
    size_t body = target;
    while (true) {
        uint8_t *buf = calloc(1, body);
        zframe_t *frame = s_request_frame("id", "Provider", buf, body);
        free(buf);
        size_t size = zframe_size(frame);
        if (size == target)
            return frame;
        zframe_destroy(&frame);
        assert_true(size > target); // shrink the body by the overhead
        body -= size - target;
    }
}

static void
request_at_the_size_limit_is_accepted(void **state)
{
    (void) state;
    zframe_t *frame = s_request_of_packed_size(EN_MAX_BODY);
    assert_int_equal(zframe_size(frame), EN_MAX_BODY);
    en_err_t err;
    En__Request *req = en_request_unpack(frame, NULL, &err);
    assert_non_null(req);
    assert_string_equal(req->method, "Provider");
    en__request__free_unpacked(req, NULL);
    zframe_destroy(&frame);
}

static void
request_over_the_size_limit_is_not_valid(void **state)
{
    (void) state;
    zframe_t *frame = s_request_of_packed_size(EN_MAX_BODY + 1);
    en_err_t err;
    en_err_clear(&err);
    assert_null(en_request_unpack(frame, NULL, &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_false(err.retryable);
    char want[128];
    snprintf(want, sizeof want, "request body of %d bytes exceeds the limit of %d bytes",
             EN_MAX_BODY + 1, EN_MAX_BODY);
    assert_string_equal(err.message, want);
    zframe_destroy(&frame);
}

static void
non_protobuf_bytes_are_not_valid(void **state)
{
    (void) state;
    //  A truncated varint, a length prefix running past the end, and a
    //  wire type (7) that does not exist.
    const char *garbage[] = {"\xff\xff\xff", "\x22\x7fshort",
                             "\x0f"
                             "abc"};
    for (size_t i = 0; i < sizeof garbage / sizeof *garbage; i++) {
        zframe_t *frame = zframe_new(garbage[i], strlen(garbage[i]));
        en_err_t err;
        en_err_clear(&err);
        assert_null(en_request_unpack(frame, NULL, &err));
        assert_int_equal(err.kind, EN_NOT_VALID);
        assert_string_equal(err.message, "request body is not a valid en.Request message");
        zframe_destroy(&frame);
    }
}

static void
request_without_method_is_not_valid(void **state)
{
    (void) state;
    zframe_t *frames[] = {s_request_frame("id-2", NULL, NULL, 0),
                          s_request_frame("id-3", "", (const uint8_t *) "x", 1),
                          zframe_new(NULL, 0)}; // empty: a valid, empty en.Request
    const char *ids[] = {"id-2", "id-3", ""};
    for (size_t i = 0; i < 3; i++) {
        en_err_t err;
        en_err_clear(&err);
        char id[EN_REQUEST_ID_MAX] = "junk";
        assert_null(en_request_unpack(frames[i], id, &err));
        assert_int_equal(err.kind, EN_NOT_VALID);
        assert_string_equal(err.message, "request names no method");
        // the refusal can still be matched to the call that sent it
        assert_string_equal(id, ids[i]);
        zframe_destroy(&frames[i]);
    }
}

static void
reply_error_frame_carries_kind_message_and_id(void **state)
{
    (void) state;
    en_err_t err;
    en_err_set(&err, EN_UNAVAILABLE, "no worker for service \"%s\"", "registry");
    zframe_t *frame = en_reply_error_frame("id-4", &err);
    En__Reply *reply = en__reply__unpack(NULL, zframe_size(frame), zframe_data(frame));
    assert_non_null(reply);
    assert_string_equal(reply->request_id, "id-4");
    assert_non_null(reply->error);
    assert_int_equal(reply->error->kind, EN__ERROR_KIND__UNAVAILABLE);
    assert_true(reply->error->retryable);
    assert_int_equal(reply->body.len, 0);

    en_err_t back;
    en_err_from_wire(&back, reply->error);
    assert_int_equal(back.kind, EN_UNAVAILABLE);
    assert_true(back.retryable);
    assert_string_equal(back.message, "no worker for service \"registry\"");
    en__reply__free_unpacked(reply, NULL);
    zframe_destroy(&frame);

    //  No request id (the envelope could not be read): an empty id.
    frame = en_reply_error_frame(NULL, &err);
    reply = en__reply__unpack(NULL, zframe_size(frame), zframe_data(frame));
    assert_non_null(reply);
    assert_string_equal(reply->request_id, "");
    en__reply__free_unpacked(reply, NULL);
    zframe_destroy(&frame);
}

static void
reply_ok_frame_carries_body_and_no_error(void **state)
{
    (void) state;
    zframe_t *frame = en_reply_ok_frame("id-5", (const uint8_t *) "\x0a\x02ok", 4);
    En__Reply *reply = en__reply__unpack(NULL, zframe_size(frame), zframe_data(frame));
    assert_non_null(reply);
    assert_string_equal(reply->request_id, "id-5");
    assert_null(reply->error);
    assert_int_equal(reply->body.len, 4);
    assert_memory_equal(reply->body.data, "\x0a\x02ok", 4);
    en_err_t err;
    en_err_set(&err, EN_INTERNAL, "stale");
    en_err_from_wire(&err, reply->error);
    assert_int_equal(err.kind, EN_OK);
    en__reply__free_unpacked(reply, NULL);
    zframe_destroy(&frame);
}

static void
wire_error_of_unknown_kind_becomes_internal(void **state)
{
    (void) state;
    //  A peer may send any int32 as the kind; none may index past our table.
    int kinds[] = {EN_KIND_COUNT, 1000, -1, -1000};
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
        En__Error wire = EN__ERROR__INIT;
        wire.kind = (En__ErrorKind) kinds[i];
        wire.message = "odd";
        en_err_t err;
        en_err_from_wire(&err, &wire);
        assert_int_equal(err.kind, EN_INTERNAL);
        assert_string_equal(err.message, "odd");
    }
}

static void
request_ids_are_32_hex_and_distinct(void **state)
{
    (void) state;
    char a[33], b[33];
    en_request_id_new(a);
    en_request_id_new(b);
    assert_int_equal(strlen(a), 32);
    assert_int_equal(strspn(a, "0123456789abcdef"), 32);
    assert_string_not_equal(a, b);
}

//  A scratch allocator decodes a small envelope entirely in its buffer
//  and a large one partly outside it (malloc), and free_unpacked releases
//  exactly the outside part (the sanitizer build checks for leaks).
static void
scratch_decodes_in_its_buffer_and_falls_back_to_malloc(void **state)
{
    (void) state;
    uint8_t buf[512];
    en_scratch_t scratch;
    zframe_t *small = s_request_frame("id-s", "Provider", (const uint8_t *) "\x0a\x01x", 3);
    en_scratch_init(&scratch, buf, sizeof buf);
    en_err_t err;
    En__Request *req =
        en_request_decode(zframe_data(small), zframe_size(small), &scratch.alloc, NULL, &err);
    assert_non_null(req);
    assert_true((uint8_t *) req >= buf && (uint8_t *) req < buf + sizeof buf);
    assert_true(req->body.data >= buf && req->body.data < buf + sizeof buf);
    assert_string_equal(req->method, "Provider");
    en__request__free_unpacked(req, &scratch.alloc);

    uint8_t big_body[4096];
    memset(big_body, 7, sizeof big_body);
    zframe_t *big = s_request_frame("id-b", "Provider", big_body, sizeof big_body);
    en_scratch_init(&scratch, buf, sizeof buf);
    req = en_request_decode(zframe_data(big), zframe_size(big), &scratch.alloc, NULL, &err);
    assert_non_null(req);
    assert_true(req->body.data < buf || req->body.data >= buf + sizeof buf);
    assert_int_equal(req->body.len, sizeof big_body);
    assert_memory_equal(req->body.data, big_body, sizeof big_body);
    en__request__free_unpacked(req, &scratch.alloc);
    zframe_destroy(&small);
    zframe_destroy(&big);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(request_round_trips_through_a_frame),
        cmocka_unit_test(request_at_the_size_limit_is_accepted),
        cmocka_unit_test(request_over_the_size_limit_is_not_valid),
        cmocka_unit_test(non_protobuf_bytes_are_not_valid),
        cmocka_unit_test(request_without_method_is_not_valid),
        cmocka_unit_test(reply_error_frame_carries_kind_message_and_id),
        cmocka_unit_test(reply_ok_frame_carries_body_and_no_error),
        cmocka_unit_test(wire_error_of_unknown_kind_becomes_internal),
        cmocka_unit_test(request_ids_are_32_hex_and_distinct),
        cmocka_unit_test(scratch_decodes_in_its_buffer_and_falls_back_to_malloc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
