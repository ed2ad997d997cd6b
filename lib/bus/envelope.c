/*  envelope.c — see envelope.h. */
#include "bus/envelope.h"

#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "bus/mdp.h"

zframe_t *
en_frame_pack(const ProtobufCMessage *msg)
{
    size_t size = protobuf_c_message_get_packed_size(msg);
    zframe_t *frame = zframe_new(NULL, size);
    if (frame && size)
        protobuf_c_message_pack(msg, zframe_data(frame));
    return frame;
}

En__Request *
en_request_unpack(zframe_t *frame, char id[EN_REQUEST_ID_MAX], en_err_t *err)
{
    return en_request_decode(zframe_data(frame), zframe_size(frame), NULL, id, err);
}

En__Request *
en_request_decode(const uint8_t *data, size_t size, ProtobufCAllocator *alloc,
                  char id[EN_REQUEST_ID_MAX], en_err_t *err)
{
    if (id)
        id[0] = '\0';
    if (size > EN_MAX_BODY) {
        en_err_set(err, EN_NOT_VALID, "request body of %zu bytes exceeds the limit of %d bytes",
                   size, EN_MAX_BODY);
        return NULL;
    }
    En__Request *req = en__request__unpack(alloc, size, data);
    if (!req) {
        en_err_set(err, EN_NOT_VALID, "request body is not a valid en.Request message");
        return NULL;
    }
    if (id && req->request_id) {
        // as snprintf "%s" would, without its cost on every request
        size_t n = strnlen(req->request_id, EN_REQUEST_ID_MAX - 1);
        memcpy(id, req->request_id, n);
        id[n] = '\0';
    }
    if (!req->method || !*req->method) {
        en__request__free_unpacked(req, alloc);
        en_err_set(err, EN_NOT_VALID, "request names no method");
        return NULL;
    }
    return req;
}

static void *
s_scratch_alloc(void *data, size_t size)
{
    en_scratch_t *self = data;
    size_t align = sizeof(max_align_t);
    size_t need = (size + align - 1) / align * align;
    if (need >= size && need <= self->size - self->used) {
        void *p = self->buf + self->used;
        self->used += need;
        return p;
    }
    return malloc(size);
}

static void
s_scratch_free(void *data, void *p)
{
    en_scratch_t *self = data;
    uintptr_t at = (uintptr_t) p, buf = (uintptr_t) self->buf;
    if (at < buf || at >= buf + self->size)
        free(p); // a fallback allocation; the buffer itself needs no free
}

void
en_scratch_init(en_scratch_t *self, void *buf, size_t size)
{
    // the buffer's start is aligned like malloc's, so every block is
    uintptr_t align = sizeof(max_align_t), at = (uintptr_t) buf;
    size_t skip = (size_t) ((align - at % align) % align);
    self->alloc = (ProtobufCAllocator){s_scratch_alloc, s_scratch_free, self};
    self->buf = (uint8_t *) buf + (skip < size ? skip : size);
    self->size = skip < size ? size - skip : 0;
    self->used = 0;
}

//  An en.Reply for request_id: err set (not OK), or body as the result.
static void
s_reply_init(En__Reply *reply, En__Error *wire, const char *request_id, const en_err_t *err,
             const uint8_t *body, size_t size)
{
    en__reply__init(reply);
    reply->request_id = (char *) (request_id ? request_id : "");
    if (err) {
        en__error__init(wire);
        wire->kind = (En__ErrorKind) err->kind;
        wire->message = (char *) err->message;
        wire->retryable = err->retryable;
        reply->error = wire;
    }
    else {
        reply->body.data = (uint8_t *) body;
        reply->body.len = size;
    }
}

zframe_t *
en_reply_error_frame(const char *request_id, const en_err_t *err)
{
    En__Reply reply;
    En__Error wire;
    s_reply_init(&reply, &wire, request_id, err, NULL, 0);
    return en_frame_pack(&reply.base);
}

zframe_t *
en_reply_ok_frame(const char *request_id, const uint8_t *body, size_t size)
{
    En__Reply reply;
    s_reply_init(&reply, NULL, request_id, NULL, body, size);
    return en_frame_pack(&reply.base);
}

static void
s_msg_pack(zmq_msg_t *out, const ProtobufCMessage *msg)
{
    size_t size = protobuf_c_message_get_packed_size(msg);
    zmq_msg_init_size(out, size);
    if (size)
        protobuf_c_message_pack(msg, zmq_msg_data(out));
}

void
en_reply_error_msg(zmq_msg_t *out, const char *request_id, const en_err_t *err)
{
    En__Reply reply;
    En__Error wire;
    s_reply_init(&reply, &wire, request_id, err, NULL, 0);
    s_msg_pack(out, &reply.base);
}

void
en_reply_ok_msg(zmq_msg_t *out, const char *request_id, const uint8_t *body, size_t size)
{
    En__Reply reply;
    s_reply_init(&reply, NULL, request_id, NULL, body, size);
    s_msg_pack(out, &reply.base);
}

void
en_err_from_wire(en_err_t *err, const En__Error *wire)
{
    if (!wire || wire->kind == EN__ERROR_KIND__OK) {
        en_err_clear(err);
        return;
    }
    // the kind is any int32 a peer chose: keep it inside our table
    int wk = (int) wire->kind;
    en_kind_t kind = wk > 0 && wk < EN_KIND_COUNT ? (en_kind_t) wk : EN_INTERNAL;
    en_err_set(err, kind, "%s", wire->message ? wire->message : "");
    err->retryable = wire->retryable;
}

void
en_request_id_new(char out[33])
{
    unsigned char raw[16];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t) sizeof raw) {
        // getrandom cannot fail for 16 bytes after boot; keep ids unique anyway
        int64_t t = en_now_ms() ^ ((int64_t) getpid() << 40);
        memcpy(raw, &t, sizeof t);
        memcpy(raw + 8, &raw, 8);
    }
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[32] = '\0';
}
