/*  progress.h — progress lines of long calls (Juju's StatusCallback and
    the bootstrap's stderr lines), published as en.Progress under topic
    "progress.<request_id>" into every gateway's event proxy, beside the
    registry's model events (events.h).

    A caller that wants the lines subscribes to that topic at a gateway's
    event proxy before it sends the call, with the request id it will use
    (en_client_start's reuse_id). Best effort: the reply is the authority;
    lines published before the subscription reached the publisher are
    lost, and a call composed by the gateway keeps its public request id on
    every step, so all lines land under one topic.

    One publisher per thread: a thread serves one call at a time, and seq
    restarts at 1 whenever the request id changes. */
#ifndef EN_PROGRESS_H
#define EN_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

typedef struct en_progress en_progress_t;

//  A publisher connected to every gateway in the comma-separated list;
//  NULL gateways (or "") gives a publisher that drops everything.
en_progress_t *en_progress_new(const char *gateways, en_err_t *err);
void en_progress_destroy(en_progress_t **self_p);

//  Publish one line for request_id; status may be NULL or "" for a plain
//  line. Never blocks on a slow subscriber (it loses lines, not the call);
//  the publisher's very first line waits, at most a second, until a
//  gateway's event proxy has subscribed, so a line sent right after the
//  publisher was made is not dropped for want of a connection.
void en_progress_send(en_progress_t *self, const char *request_id, const char *status,
                      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

//  The subscriber side: the topic for a request id.
#define EN_PROGRESS_TOPIC_PREFIX "progress."

//  A SUB socket (a czmq zsock_t) subscribed to request_id's lines at every
//  gateway of the list. It is returned once a probe line (seq 0) published
//  into the gateways' proxies under that topic has come back, which shows
//  the subscription has reached the proxies' publishers; after timeout_ms
//  without a probe back it is returned anyway (lines may then be lost).
//  NULL with err when no endpoint can be derived.
void *en_progress_subscribe(const char *gateways, const char *request_id, int timeout_ms,
                            en_err_t *err);
void en_progress_unsubscribe(void **sub_p);

//  One received line: 1 with seq/status/message filled (status and message
//  NUL-terminated, truncated to their sizes), 0 for anything else (probes,
//  foreign or undecodable messages), -1 when nothing arrived within
//  timeout_ms.
int en_progress_recv(void *sub, int timeout_ms, uint32_t *seq, char *status, size_t status_size,
                     char *message, size_t message_size);

#endif
