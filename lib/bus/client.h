/*  client.h — the asynchronous 7/MDP client (never REQ).

    One client talks to one gateway at a time out of a list. Many calls may
    be in flight; each carries a request id in its envelope and replies are
    matched by it (MDP/0.1 replies have no correlation id of their own).

    Reliability. The gateway requeues a request whose worker dies, so the
    client resends only when the gateway itself may have lost it: when the
    gateway stops answering the client's `mmi.x-epoch` ping, or answers
    with a new epoch (it restarted). It then resends every pending call,
    with the same request id, to the next gateway in the list. A long
    safety timeout resends anyway. Services make a resend harmless: they
    are idempotent on the request id. Duplicate replies are dropped. */
#ifndef EN_CLIENT_H
#define EN_CLIENT_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

typedef struct en_client en_client_t;

typedef struct {
    char request_id[33];
    void *user;    // as given to en_client_start
    en_err_t err;  // kind OK on success
    uint8_t *body; // packed result (owned by the result; en_result_clear)
    size_t size;
} en_result_t;

//  endpoints: comma-separated gateway endpoints.
en_client_t *en_client_new(const char *endpoints, en_err_t *err);
void en_client_destroy(en_client_t **self_p);

//  Resend a call that has had no reply for this long even though its
//  gateway looks alive (default 60 s).
void en_client_set_safety_timeout(en_client_t *self, int ms);
//  How long a gateway may leave a ping unanswered (default 3 s).
void en_client_set_ping_timeout(en_client_t *self, int ms);

//  Start a call. deadline_ms is absolute wall-clock ms (en_now_ms() + t).
//  request_id (may be NULL) receives the id; pass a fixed id in
//  `reuse_id` to retry a logical call made earlier (else NULL).
int en_client_start(en_client_t *self, const char *service, const char *method,
                    const char *model_uuid, const ProtobufCMessage *req, int64_t deadline_ms,
                    const char *reuse_id, void *user, char request_id[33], en_err_t *err);

//  Wait up to timeout_ms for one call to finish (a reply, or its deadline
//  passing with the gateway silent, which gives TIMEOUT after a short grace:
//  the gateway answers at the deadline with the real reason, UNAVAILABLE
//  when the service has no worker). Returns 0 and fills *out, or -1 when
//  nothing finished in time.
int en_client_wait(en_client_t *self, int timeout_ms, en_result_t *out);
void en_result_clear(en_result_t *result);

size_t en_client_pending(en_client_t *self);

//  Synchronous convenience: start, wait for that call, decode the result.
int en_client_call(en_client_t *self, const char *service, const char *method,
                   const char *model_uuid, const ProtobufCMessage *req,
                   const ProtobufCMessageDescriptor *res_desc, ProtobufCMessage **res,
                   int timeout_ms, en_err_t *err);

//  8/MMI: 0 when the gateway has a worker for service, -1 otherwise.
int en_client_service_present(en_client_t *self, const char *service, int timeout_ms);

#endif
