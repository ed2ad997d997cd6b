/*  envelope.h — packing en.Request / en.Reply bodies into ZeroMQ frames,
    with the size limit and validation applied in one place. */
#ifndef EN_ENVELOPE_H
#define EN_ENVELOPE_H

#include <czmq.h>
#include <stdint.h>

#include "bus.pb-c.h"
#include "common/clock.h"
#include "common/err.h"

//  Pack any protobuf-c message into a new frame.
zframe_t *en_frame_pack(const ProtobufCMessage *msg);

//  Unpack a Request from a frame; NULL with a NOT_VALID err when the frame
//  is too big, not a Request, or lacks a method. When the envelope decodes
//  but is refused, its request id still lands in `id` (if not NULL), so the
//  error reply reaches the call that sent it.
#define EN_REQUEST_ID_MAX 128
En__Request *en_request_unpack(zframe_t *frame, char id[EN_REQUEST_ID_MAX], en_err_t *err);
//  The same from bytes, allocating with `alloc` (NULL: malloc); free the
//  result with en__request__free_unpacked(req, alloc).
En__Request *en_request_decode(const uint8_t *data, size_t size, ProtobufCAllocator *alloc,
                               char id[EN_REQUEST_ID_MAX], en_err_t *err);

//  A protobuf-c allocator for one unpack on a hot path: it hands out a
//  caller's buffer (usually on the stack) and falls back to malloc once
//  that is used up, so decoding a small envelope costs no malloc at all.
//  Free the message with the usual free_unpacked(msg, &scratch.alloc); a
//  scratch serves one message at a time.
typedef struct {
    ProtobufCAllocator alloc;
    uint8_t *buf;
    size_t size, used;
} en_scratch_t;

void en_scratch_init(en_scratch_t *self, void *buf, size_t size);

//  A Reply frame carrying an error (request_id may be NULL).
zframe_t *en_reply_error_frame(const char *request_id, const en_err_t *err);
//  A Reply frame carrying a packed result body (borrowed).
zframe_t *en_reply_ok_frame(const char *request_id, const uint8_t *body, size_t size);
//  The same two packed into *out (initialised here), ready to send.
void en_reply_error_msg(zmq_msg_t *out, const char *request_id, const en_err_t *err);
void en_reply_ok_msg(zmq_msg_t *out, const char *request_id, const uint8_t *body, size_t size);

//  Copy a wire Error into en_err_t (NULL or OK → kind OK).
void en_err_from_wire(en_err_t *err, const En__Error *wire);


//  A fresh request id: 32 hex chars from /dev/urandom (falls back to time).
void en_request_id_new(char out[33]);

#endif
