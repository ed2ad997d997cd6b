/*  envelope.c — see envelope.h. */
#include "bus/envelope.h"

#include <fcntl.h>
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
    if (id)
        id[0] = '\0';
    size_t size = zframe_size(frame);
    if (size > EN_MAX_BODY) {
        en_err_set(err, EN_NOT_VALID, "request body of %zu bytes exceeds the limit of %d bytes",
                   size, EN_MAX_BODY);
        return NULL;
    }
    En__Request *req = en__request__unpack(NULL, size, zframe_data(frame));
    if (!req) {
        en_err_set(err, EN_NOT_VALID, "request body is not a valid en.Request message");
        return NULL;
    }
    if (id && req->request_id)
        snprintf(id, EN_REQUEST_ID_MAX, "%s", req->request_id);
    if (!req->method || !*req->method) {
        en__request__free_unpacked(req, NULL);
        en_err_set(err, EN_NOT_VALID, "request names no method");
        return NULL;
    }
    return req;
}

zframe_t *
en_reply_error_frame(const char *request_id, const en_err_t *err)
{
    En__Error wire = EN__ERROR__INIT;
    wire.kind = (En__ErrorKind) err->kind;
    wire.message = (char *) err->message;
    wire.retryable = err->retryable;
    En__Reply reply = EN__REPLY__INIT;
    reply.request_id = (char *) (request_id ? request_id : "");
    reply.error = &wire;
    return en_frame_pack(&reply.base);
}

zframe_t *
en_reply_ok_frame(const char *request_id, const uint8_t *body, size_t size)
{
    En__Reply reply = EN__REPLY__INIT;
    reply.request_id = (char *) (request_id ? request_id : "");
    reply.body.data = (uint8_t *) body;
    reply.body.len = size;
    return en_frame_pack(&reply.base);
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
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
}
