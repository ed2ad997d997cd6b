/*  frames.c — see frames.h. */
#include "bus/frames.h"

#include <errno.h>
#include <poll.h>
#include <string.h>

int
en_frames_recv(en_frames_t *self, void *socket, int flags)
{
    self->count = self->extra = 0;
    zmq_msg_t spill; // parts past the cap land here and are dropped
    zmq_msg_init(&spill);
    int more = 1;
    while (more) {
        zmq_msg_t *part = self->count < EN_FRAMES_MAX ? &self->part[self->count] : &spill;
        if (part != &spill)
            zmq_msg_init(part);
        // once the first part is in, the whole message is there: only the
        // first receive can say EAGAIN
        if (zmq_msg_recv(part, socket, flags) < 0) {
            int err = zmq_errno();
            if (part != &spill)
                zmq_msg_close(part);
            zmq_msg_close(&spill);
            en_frames_close(self);
            errno = err;
            return -1;
        }
        more = zmq_msg_more(part);
        if (part == &spill)
            self->extra++;
        else
            self->count++;
    }
    zmq_msg_close(&spill);
    return 0;
}

void
en_frames_close(en_frames_t *self)
{
    for (int i = 0; i < self->count; i++)
        zmq_msg_close(&self->part[i]);
    self->count = self->extra = 0;
}

bool
en_frames_streq(en_frames_t *self, int i, const char *s)
{
    size_t n = strlen(s);
    return i < self->count && en_frames_len(self, i) == n &&
           memcmp(en_frames_data(self, i), s, n) == 0;
}

int
en_frames_send(void *socket, en_part_t *parts, int n, int flags)
{
    int rc = 0, err = 0;
    bool refused = false; // the first part was refused: nothing is queued
    for (int i = 0; i < n; i++) {
        int f = flags | (i + 1 < n ? ZMQ_SNDMORE : 0);
        int sent = -1;
        if (!refused)
            sent = parts[i].msg ? zmq_msg_send(parts[i].msg, socket, f)
                                : zmq_send(socket, parts[i].data, parts[i].size, f);
        if (sent < 0) {
            if (rc == 0) {
                rc = -1;
                err = zmq_errno();
            }
            // past the first part, keep going: the socket drops the rest
            // of a message it could not take, and the next one starts clean
            refused = refused || i == 0;
            if (parts[i].msg) {
                zmq_msg_close(parts[i].msg);
                zmq_msg_init(parts[i].msg);
            }
        }
    }
    if (rc)
        errno = err;
    return rc;
}

int
en_frames_poll(void *const *sockets, int n, bool *ready, long timeout_ms)
{
    struct pollfd fds[128];
    if (n > 128)
        n = 128;
    for (int i = 0; i < n; i++) {
        int fd = -1;
        size_t size = sizeof fd;
        zmq_getsockopt(sockets[i], ZMQ_FD, &fd, &size); // no system call
        fds[i] = (struct pollfd){fd, POLLIN, 0};
        ready[i] = false;
    }
    int rc = poll(fds, (nfds_t) n, timeout_ms < 0 ? -1 : (int) timeout_ms);
    for (int i = 0; rc > 0 && i < n; i++)
        ready[i] = fds[i].revents != 0;
    return rc;
}
