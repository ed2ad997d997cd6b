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

//  A Reply frame carrying an error (request_id may be NULL).
zframe_t *en_reply_error_frame(const char *request_id, const en_err_t *err);
//  A Reply frame carrying a packed result body (borrowed).
zframe_t *en_reply_ok_frame(const char *request_id, const uint8_t *body, size_t size);

//  Copy a wire Error into en_err_t (NULL or OK → kind OK).
void en_err_from_wire(en_err_t *err, const En__Error *wire);


//  A fresh request id: 32 hex chars from /dev/urandom (falls back to time).
void en_request_id_new(char out[33]);

#endif
