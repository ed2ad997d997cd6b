/*  frames.h — one ZeroMQ message as an array of zmq_msg_t parts, received
    and sent without the per-frame allocations of zmsg/zframe.

    The bus's hot paths (the broker loop, a worker's links, a client's
    replies) handle every message frame by frame. en_frames_recv reads one
    whole message into a fixed array; parts past the cap are read and
    counted but dropped, so a peer can neither overflow the array nor leave
    half a message behind, and the caller still sees how many parts came.
    The caller looks at the parts in place and may move any of them on
    (zmq_msg_move, or as a part to send). en_frames_send writes one message
    from parts that are either bytes to copy or messages to move, and never
    leaves a message half sent: once the first part is accepted, the rest
    follow. */
#ifndef EN_FRAMES_H
#define EN_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

//  Most parts a bus message has: a broker's REQUEST to a worker has seven.
#define EN_FRAMES_MAX 8

typedef struct {
    zmq_msg_t part[EN_FRAMES_MAX];
    int count; // parts held
    int extra; // parts past EN_FRAMES_MAX, read and dropped
} en_frames_t;

//  Receive one whole message; 0, or -1 with zmq_errno() set (EAGAIN under
//  ZMQ_DONTWAIT when nothing waits). After 0, close with en_frames_close.
int en_frames_recv(en_frames_t *self, void *socket, int flags);
//  Close every part held (moved-out parts are empty; closing them is fine).
void en_frames_close(en_frames_t *self);

//  Parts the message had as sent, the dropped ones included.
static inline int
en_frames_size(const en_frames_t *self)
{
    return self->count + self->extra;
}

static inline const uint8_t *
en_frames_data(en_frames_t *self, int i)
{
    return zmq_msg_data(&self->part[i]);
}

static inline size_t
en_frames_len(en_frames_t *self, int i)
{
    return zmq_msg_size(&self->part[i]);
}

//  Part i holds exactly the bytes of s (no terminator).
bool en_frames_streq(en_frames_t *self, int i, const char *s);

typedef struct {
    const void *data; // bytes copied into the part, or
    size_t size;
    zmq_msg_t *msg;   // when set, a message sent as the part (moved)
} en_part_t;

//  Send parts[0..n) as one message. Every `msg` part is consumed (left
//  empty) whatever happens. 0, or -1 with zmq_errno() of the first part
//  refused; when the first part is refused nothing was queued.
int en_frames_send(void *socket, en_part_t *parts, int n, int flags);

//  Sleep in poll(2) on the ZMQ_FDs of n sockets (n <= 128) for up to
//  timeout_ms (-1: no limit); ready[i] says which signalled. Returns
//  poll's result. This is zmq_poll without its ZMQ_EVENTS call on every
//  socket before and after the sleep (each a system call or two), and so
//  it leaves to the caller the rule zmq_poll keeps: a ZMQ_FD signals only
//  what arrived since the socket last said EAGAIN to a receive (or
//  answered ZMQ_EVENTS), and a send may take in a message silently. So
//  wait only on sockets read until EAGAIN since their last send.
int en_frames_poll(void *const *sockets, int n, bool *ready, long timeout_ms);

#endif
