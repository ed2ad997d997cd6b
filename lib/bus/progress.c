/*  progress.c — see progress.h. */
#include "bus/progress.h"

#include <czmq.h>
#include <stdarg.h>
#include <string.h>

#include "bus/envelope.h"
#include "bus/events.h"
#include "types.pb-c.h"

//  How long the first line waits for a gateway to subscribe (below).
#define S_FIRST_WAIT_MS 1000

struct en_progress {
    zsock_t *pub; // an XPUB; NULL: drop everything
    bool heard;   // a gateway's proxy has subscribed (or we gave up waiting)
    char request_id[EN_REQUEST_ID_MAX + 1];
    uint32_t seq;
};

//  Read the subscriptions the gateways' proxies sent; with wait_ms > 0,
//  wait that long for the first. A PUB drops what it publishes before a
//  subscriber's subscription has reached it, and a publisher made at a
//  thread's start often sends its first line before its connection is up:
//  a bootstrap's first progress line went missing that way. An XPUB sees
//  the subscriptions, so the first line waits until one has arrived (once
//  per publisher, bounded).
static void
s_subscriptions(en_progress_t *self, int wait_ms)
{
    void *handle = zsock_resolve(self->pub);
    if (wait_ms > 0 && !self->heard) {
        zmq_pollitem_t item = {handle, 0, ZMQ_POLLIN, 0};
        int64_t until = zclock_mono() + wait_ms;
        for (int64_t left = wait_ms; left > 0 && !self->heard;
             left = until - zclock_mono())
            if (zmq_poll(&item, 1, (long) left) > 0)
                self->heard = true;
        self->heard = true; // one wait per publisher, even without an answer
    }
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    while (zmq_msg_recv(&msg, handle, ZMQ_DONTWAIT) >= 0)
        self->heard = true;
    zmq_msg_close(&msg);
}

en_progress_t *
en_progress_new(const char *gateways, en_err_t *err)
{
    en_progress_t *self = calloc(1, sizeof *self);
    if (!gateways || !*gateways)
        return self;
    char *eps = en_event_endpoint_list(gateways, true);
    if (!eps) {
        en_err_set(err, EN_NOT_VALID, "cannot derive event endpoints from %s", gateways);
        free(self);
        return NULL;
    }
    self->pub = zsock_new(ZMQ_XPUB);
    zsock_set_linger(self->pub, 500);
    // a service often starts before its gateway listens: retry the
    // connection soon (libzmq's default waits 100 ms, and a line published
    // meanwhile is dropped), backing off to a second
    zsock_set_reconnect_ivl(self->pub, 10);
    zsock_set_reconnect_ivl_max(self->pub, 1000);
    zsock_set_sndhwm(self->pub, 1000);
    int rc = zsock_attach(self->pub, eps, false);
    free(eps);
    if (rc) {
        en_err_set(err, EN_NOT_VALID, "cannot connect progress publisher to %s", gateways);
        en_progress_destroy(&self);
    }
    return self;
}

void
en_progress_destroy(en_progress_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zsock_destroy(&(*self_p)->pub);
    free(*self_p);
    *self_p = NULL;
}

void
en_progress_send(en_progress_t *self, const char *request_id, const char *status,
                 const char *fmt, ...)
{
    if (!self || !self->pub || !request_id || !*request_id)
        return;
    s_subscriptions(self, S_FIRST_WAIT_MS);
    if (strcmp(self->request_id, request_id) != 0) {
        snprintf(self->request_id, sizeof self->request_id, "%s", request_id);
        self->seq = 0;
    }
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    En__Progress ev = EN__PROGRESS__INIT;
    ev.request_id = self->request_id;
    ev.seq = ++self->seq;
    ev.status = (char *) (status ? status : "");
    ev.message = line;
    zframe_t *body = en_frame_pack(&ev.base);
    zmsg_t *msg = zmsg_new();
    zmsg_addstrf(msg, EN_PROGRESS_TOPIC_PREFIX "%s", self->request_id);
    zmsg_append(msg, &body);
    // PUB never blocks: at the high-water mark the message is dropped
    if (zmsg_send(&msg, self->pub))
        zmsg_destroy(&msg);
}

void *
en_progress_subscribe(const char *gateways, const char *request_id, int timeout_ms,
                      en_err_t *err)
{
    char *subs = en_event_endpoint_list(gateways ? gateways : "", false);
    char *pubs = en_event_endpoint_list(gateways ? gateways : "", true);
    zsock_t *sub = NULL, *probe = NULL;
    if (!subs || !pubs || !*subs || !*pubs) {
        en_err_set(err, EN_NOT_VALID, "cannot derive event endpoints from %s",
                   gateways ? gateways : "");
        goto cleanup;
    }
    sub = zsock_new(ZMQ_SUB);
    zsock_set_linger(sub, 0);
    char topic[sizeof EN_PROGRESS_TOPIC_PREFIX + EN_REQUEST_ID_MAX];
    snprintf(topic, sizeof topic, EN_PROGRESS_TOPIC_PREFIX "%s", request_id);
    zsock_set_subscribe(sub, topic);
    if (zsock_attach(sub, subs, false)) {
        en_err_set(err, EN_NOT_VALID, "cannot connect to %s", subs);
        zsock_destroy(&sub);
        goto cleanup;
    }
    // the probe goes in where the services publish; it comes back only
    // once our subscription has travelled through a proxy to them
    probe = zsock_new(ZMQ_PUB);
    zsock_set_linger(probe, 0);
    if (zsock_attach(probe, pubs, false))
        goto cleanup; // no probe: return the socket unconfirmed
    En__Progress ev = EN__PROGRESS__INIT;
    ev.request_id = (char *) request_id;
    ev.seq = 0;
    int64_t until = zclock_mono() + timeout_ms;
    zpoller_t *poller = zpoller_new(sub, NULL);
    while (zclock_mono() < until) {
        zframe_t *body = en_frame_pack(&ev.base);
        zmsg_t *msg = zmsg_new();
        zmsg_addstr(msg, topic);
        zmsg_append(msg, &body);
        if (zmsg_send(&msg, probe))
            zmsg_destroy(&msg);
        // a poll timeout, not a sleep: the answer ends the wait at once
        if (zpoller_wait(poller, 20)) {
            zmsg_t *back = zmsg_recv(sub);
            zmsg_destroy(&back);
            break;
        }
        if (zpoller_terminated(poller))
            break;
    }
    zpoller_destroy(&poller);
cleanup:
    zsock_destroy(&probe);
    free(subs);
    free(pubs);
    return sub;
}

void
en_progress_unsubscribe(void **sub_p)
{
    zsock_t *sub = sub_p ? *sub_p : NULL;
    zsock_destroy(&sub);
    if (sub_p)
        *sub_p = NULL;
}

int
en_progress_recv(void *sub, int timeout_ms, uint32_t *seq, char *status, size_t status_size,
                 char *message, size_t message_size)
{
    zpoller_t *poller = zpoller_new(sub, NULL);
    void *ready = zpoller_wait(poller, timeout_ms);
    zpoller_destroy(&poller);
    if (!ready)
        return -1;
    zmsg_t *msg = zmsg_recv(sub);
    if (!msg)
        return -1;
    int rc = 0;
    zframe_t *topic = zmsg_first(msg), *body = zmsg_next(msg);
    En__Progress *ev = body && topic ? en__progress__unpack(NULL, zframe_size(body),
                                                            zframe_data(body))
                                     : NULL;
    if (ev && ev->seq > 0) {
        *seq = ev->seq;
        snprintf(status, status_size, "%s", ev->status ? ev->status : "");
        snprintf(message, message_size, "%s", ev->message ? ev->message : "");
        rc = 1;
    }
    if (ev)
        en__progress__free_unpacked(ev, NULL);
    zmsg_destroy(&msg);
    return rc;
}
