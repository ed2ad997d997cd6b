/*  client.c — asynchronous 7/MDP client (see client.h).

    Design. One DEALER per gateway endpoint, `current` names the one in
    use. Pending calls live in a hash by request id; each keeps its packed
    envelope so a resend is one send. While anything is pending the client
    pings its gateway with `mmi.x-epoch` once a second; the reply both
    proves the gateway alive and names its incarnation. Sends use DONTWAIT:
    with ZMQ_IMMEDIATE a gateway that is down has no pipe, the send fails
    with EAGAIN, and the call simply stays pending until a gateway is up.
    Results finished by a reply or a deadline wait in `done` until
    en_client_wait hands them out.

    Cost per call. Replies are read part by part into a fixed array (no
    zmsg) and their envelope is decoded into a stack buffer; the timers
    look at the pending calls only when one of them is due (`due_mono`,
    `due_wall` hold the earliest resend and deadline), not on every wake,
    so a wake costs the same with 1 or 1000 calls in flight. */
#include "bus/client.h"

#include <czmq.h>
#include <string.h>

#include "bus.pb-c.h"
#include "bus/envelope.h"
#include "bus/frames.h"
#include "bus/mdp.h"
#include "common/log.h"

#define EN_MAX_ENDPOINTS 16
#define EN_PING_EVERY_MS 1000
//  A gateway answers a request still queued at its deadline within half a
//  second of it (UNAVAILABLE or TIMEOUT, with the reason); our own TIMEOUT
//  is only the fallback for a silent gateway, so it waits this much longer.
#define EN_DEADLINE_GRACE_MS 1000

typedef struct {
    char request_id[33];
    char *service;
    zframe_t *envelope;
    int64_t deadline;    // wall clock
    int64_t resend_at;   // monotonic
    bool sent;
    void *user;
} call_t;

struct en_client {
    zsock_t *sockets[EN_MAX_ENDPOINTS];
    bool dirty[EN_MAX_ENDPOINTS]; // sent on, or left unread, since it said EAGAIN
    char *endpoints[EN_MAX_ENDPOINTS];
    int count;
    int current;
    zhash_t *pending; // request id -> call_t
    zlist_t *done;    // en_result_t*
    int safety_ms;
    int ping_timeout_ms;
    int64_t ping_sent_at; // monotonic, 0 = no ping outstanding
    bool ping_unsent;     // that ping is still waiting for a connection
    int64_t ping_due;
    int64_t due_mono; // earliest resend_at of a pending call (0: at once)
    int64_t due_wall; // earliest deadline + grace of a pending call
    bool resend_on_epoch; // resend pending calls when the next epoch arrives
    char epoch[64];
    char mmi_code[8]; // last mmi.service answer
};

static void
s_call_free(void *data)
{
    call_t *call = data;
    free(call->service);
    zframe_destroy(&call->envelope);
    free(call);
}

static zsock_t *
s_socket_new(const char *endpoint)
{
    zsock_t *s = zsock_new(ZMQ_DEALER);
    if (!s)
        return NULL;
    zsock_set_immediate(s, 1);
    zsock_set_linger(s, 1000);
    zsock_set_sndhwm(s, 100000);
    zsock_set_rcvhwm(s, 100000);
    zsock_set_maxmsgsize(s, EN_MAX_WIRE_REPLY); // it receives replies
    zsock_set_heartbeat_ivl(s, EN_HEARTBEAT_MS);
    zsock_set_heartbeat_timeout(s, EN_HEARTBEAT_EXPIRY);
    if (zsock_connect(s, "%s", endpoint) < 0) {
        zsock_destroy(&s);
        return NULL;
    }
    return s;
}

en_client_t *
en_client_new(const char *endpoints, en_err_t *err)
{
    if (!endpoints || !*endpoints) {
        en_err_set(err, EN_NOT_VALID, "no gateway endpoint given");
        return NULL;
    }
    en_client_t *self = calloc(1, sizeof *self);
    char *eps = strdup(endpoints), *save = NULL;
    for (char *ep = strtok_r(eps, ",", &save); ep && self->count < EN_MAX_ENDPOINTS;
         ep = strtok_r(NULL, ",", &save)) {
        zsock_t *s = s_socket_new(ep);
        if (!s) {
            en_err_set(err, EN_NOT_VALID, "cannot connect to gateway endpoint \"%s\"", ep);
            free(eps);
            en_client_destroy(&self);
            return NULL;
        }
        self->endpoints[self->count] = strdup(ep);
        self->dirty[self->count] = true;
        self->sockets[self->count++] = s;
    }
    free(eps);
    self->pending = zhash_new();
    self->done = zlist_new();
    self->safety_ms = 60000;
    self->ping_timeout_ms = 3000;
    self->due_mono = self->due_wall = INT64_MAX;
    return self;
}

void
en_client_destroy(en_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    en_client_t *self = *self_p;
    for (int i = 0; i < self->count; i++) {
        zsock_destroy(&self->sockets[i]);
        free(self->endpoints[i]);
    }
    zhash_destroy(&self->pending);
    if (self->done) {
        en_result_t *r;
        while ((r = zlist_pop(self->done))) {
            en_result_clear(r);
            free(r);
        }
        zlist_destroy(&self->done);
    }
    free(self);
    *self_p = NULL;
}

void
en_client_set_safety_timeout(en_client_t *self, int ms)
{
    self->safety_ms = ms;
}

void
en_client_set_ping_timeout(en_client_t *self, int ms)
{
    self->ping_timeout_ms = ms;
}

size_t
en_client_pending(en_client_t *self)
{
    return zhash_size(self->pending);
}

//  [""]["MDPC01"][service][body] to gateway i without blocking.
static int
s_send(en_client_t *self, int i, const char *service, zframe_t *body)
{
    en_part_t parts[] = {{"", 0, NULL},
                         {MDPC_CLIENT, strlen(MDPC_CLIENT), NULL},
                         {service, strlen(service), NULL},
                         {body ? zframe_data(body) : NULL, body ? zframe_size(body) : 0, NULL}};
    self->dirty[i] = true; // see en_frames_poll
    return en_frames_send(zsock_resolve(self->sockets[i]), parts, 4, ZMQ_DONTWAIT);
}

static void
s_call_send(en_client_t *self, call_t *call)
{
    call->sent = s_send(self, self->current, call->service, call->envelope) == 0;
    call->resend_at = en_mono_ms() + self->safety_ms;
    // an unsent call is due again at the next wake
    int64_t due = call->sent ? call->resend_at : 0;
    if (due < self->due_mono)
        self->due_mono = due;
}

//  The gateway may have lost our calls: move on and send them all again.
static void
s_failover(en_client_t *self, const char *why)
{
    if (zhash_size(self->pending))
        en_warn("client: %s (%s); resending %zu call(s)", why, self->endpoints[self->current],
                zhash_size(self->pending));
    if (self->count > 1)
        self->current = (self->current + 1) % self->count;
    for (call_t *c = zhash_first(self->pending); c; c = zhash_next(self->pending))
        s_call_send(self, c);
    self->ping_sent_at = 0;
}

int
en_client_start(en_client_t *self, const char *service, const char *method,
                const char *model_uuid, const ProtobufCMessage *req, int64_t deadline_ms,
                const char *reuse_id, void *user, char request_id[33], en_err_t *err)
{
    // the gateway answers a method-less envelope NOT_VALID without our
    // request id, so such a call would never finish: refuse it here
    if (!service || !*service || !method || !*method)
        return en_err_set(err, EN_NOT_VALID, "a call needs a service and a method");
    call_t *call = calloc(1, sizeof *call);
    if (reuse_id)
        snprintf(call->request_id, sizeof call->request_id, "%s", reuse_id);
    else
        en_request_id_new(call->request_id);
    if (zhash_lookup(self->pending, call->request_id)) {
        free(call);
        return en_err_set(err, EN_ALREADY_EXISTS, "call %s already pending", reuse_id);
    }
    En__Request env = EN__REQUEST__INIT;
    env.request_id = call->request_id;
    env.deadline_ms = deadline_ms > 0 ? (uint64_t) deadline_ms : 0;
    env.model_uuid = (char *) (model_uuid ? model_uuid : "");
    env.method = (char *) method;
    size_t size = req ? protobuf_c_message_get_packed_size(req) : 0;
    if (size > EN_MAX_BODY) {
        free(call);
        return en_err_set(err, EN_NOT_VALID, "request of %zu bytes exceeds the limit of %d bytes",
                          size, EN_MAX_BODY);
    }
    uint8_t small[512]; // a typical body packs on the stack
    uint8_t *buf = size <= sizeof small ? small : malloc(size);
    if (req)
        protobuf_c_message_pack(req, buf);
    env.body.data = buf;
    env.body.len = size;
    call->envelope = en_frame_pack(&env.base);
    if (buf != small)
        free(buf);
    call->service = strdup(service);
    call->deadline = deadline_ms;
    call->user = user;
    if (deadline_ms > 0 && deadline_ms + EN_DEADLINE_GRACE_MS < self->due_wall)
        self->due_wall = deadline_ms + EN_DEADLINE_GRACE_MS;
    zhash_insert(self->pending, call->request_id, call);
    zhash_freefn(self->pending, call->request_id, s_call_free);
    if (request_id)
        memcpy(request_id, call->request_id, 33);
    s_call_send(self, call);
    return 0;
}

static void
s_finish(en_client_t *self, call_t *call, const en_err_t *err, const uint8_t *body, size_t size)
{
    en_result_t *r = calloc(1, sizeof *r);
    memcpy(r->request_id, call->request_id, sizeof r->request_id);
    r->user = call->user;
    if (err)
        r->err = *err;
    else
        en_err_clear(&r->err);
    if (size) {
        r->body = malloc(size);
        memcpy(r->body, body, size);
        r->size = size;
    }
    zlist_append(self->done, r);
    zhash_delete(self->pending, call->request_id);
}

//  A short text body (an 8/MMI answer) as a string.
static void
s_body_str(en_frames_t *msg, char *out, size_t cap)
{
    size_t n = en_frames_len(msg, 3) < cap ? en_frames_len(msg, 3) : cap - 1;
    memcpy(out, en_frames_data(msg, 3), n);
    out[n] = '\0';
}

//  One message from a gateway: [""]["MDPC01"][service][body].
static void
s_on_message(en_client_t *self, zsock_t *sock, en_frames_t *msg)
{
    if (en_frames_size(msg) < 4 || !en_frames_streq(msg, 1, MDPC_CLIENT)) {
        en_warn("client: malformed reply from gateway; dropped");
        return;
    }
    if (en_frames_streq(msg, 2, "mmi.service")) {
        s_body_str(msg, self->mmi_code, sizeof self->mmi_code);
        return;
    }
    if (en_frames_streq(msg, 2, "mmi.x-epoch")) {
        char epoch[sizeof self->epoch];
        s_body_str(msg, epoch, sizeof epoch);
        if (sock == self->sockets[self->current]) {
            self->ping_sent_at = 0;
            if (self->epoch[0] && strcmp(self->epoch, epoch) != 0) {
                snprintf(self->epoch, sizeof self->epoch, "%s", epoch);
                s_failover(self, "gateway restarted");
            }
            else if (!self->epoch[0] && self->resend_on_epoch) {
                // the resends made when the gateway went silent may have
                // gone into a connection that was already dead; the one
                // that answers now gets them again (a call still in
                // progress is absorbed by the gateway, a finished one is
                // answered from the service's record)
                self->resend_on_epoch = false;
                for (call_t *c = zhash_first(self->pending); c; c = zhash_next(self->pending))
                    s_call_send(self, c);
            }
            snprintf(self->epoch, sizeof self->epoch, "%s", epoch);
        }
        return;
    }
    uint8_t buf[1024]; // a typical reply decodes without malloc
    en_scratch_t scratch;
    en_scratch_init(&scratch, buf, sizeof buf);
    En__Reply *reply =
        en__reply__unpack(&scratch.alloc, en_frames_len(msg, 3), en_frames_data(msg, 3));
    if (!reply) {
        en_warn("client: reply is not an en.Reply; dropped");
        return;
    }
    call_t *call = zhash_lookup(self->pending, reply->request_id ? reply->request_id : "");
    if (call) {
        en_err_t err;
        en_err_from_wire(&err, reply->error);
        s_finish(self, call, err.kind == EN_OK ? NULL : &err, reply->body.data, reply->body.len);
    }
    // else: a duplicate reply to a resent call, or a reply to a call that
    // timed out; either way nobody waits for it
    en__reply__free_unpacked(reply, &scratch.alloc);
}

//  Read everything that waits on gateway i (up to a bound, so timers
//  still run under a flood) until it says EAGAIN, which re-arms its ZMQ_FD.
static void
s_drain(en_client_t *self, int i)
{
    zsock_t *sock = self->sockets[i];
    void *handle = zsock_resolve(sock);
    en_frames_t msg;
    for (int k = 0; k < 10000; k++) {
        if (en_frames_recv(&msg, handle, ZMQ_DONTWAIT) != 0) {
            if (zmq_errno() == EAGAIN)
                self->dirty[i] = false;
            return;
        }
        s_on_message(self, sock, &msg);
        en_frames_close(&msg);
    }
}

static void
s_timers(en_client_t *self)
{
    int64_t mono = en_mono_ms(), now = en_now_ms();
    if (zhash_size(self->pending) == 0) {
        self->ping_sent_at = 0;
        return;
    }
    if (self->ping_sent_at && mono - self->ping_sent_at > self->ping_timeout_ms) {
        self->epoch[0] = '\0'; // a new gateway: learn its epoch afresh
        s_failover(self, "gateway not answering");
        self->resend_on_epoch = true;
    }
    else if (self->ping_sent_at && self->ping_unsent) {
        // the connection may be up now (it takes a moment after connect);
        // once it is, silence counts from the ping really leaving
        if (s_send(self, self->current, "mmi.x-epoch", NULL) == 0) {
            self->ping_sent_at = mono;
            self->ping_unsent = false;
        }
    }
    else if (!self->ping_sent_at && mono >= self->ping_due) {
        // not even connected counts as silence, until it connects
        self->ping_unsent = s_send(self, self->current, "mmi.x-epoch", NULL) != 0;
        self->ping_sent_at = mono;
        self->ping_due = mono + EN_PING_EVERY_MS;
    }
    if (mono < self->due_mono && now < self->due_wall)
        return; // no call is due: nothing to scan
    // scan, and find the next due times among the calls left
    self->due_mono = self->due_wall = INT64_MAX;
    zlist_t *keys = zhash_keys(self->pending);
    for (char *k = zlist_first(keys); k; k = zlist_next(keys)) {
        call_t *c = zhash_lookup(self->pending, k);
        if (c->deadline && now >= c->deadline + EN_DEADLINE_GRACE_MS) {
            en_err_t err;
            en_err_set(&err, EN_TIMEOUT, "%s: no reply before the deadline", c->service);
            s_finish(self, c, &err, NULL, 0);
            continue;
        }
        if (!c->sent || mono >= c->resend_at)
            s_call_send(self, c); // sets due_mono for it
        else if (c->resend_at < self->due_mono)
            self->due_mono = c->resend_at;
        if (c->deadline && c->deadline + EN_DEADLINE_GRACE_MS < self->due_wall)
            self->due_wall = c->deadline + EN_DEADLINE_GRACE_MS;
    }
    zlist_destroy(&keys);
}

int
en_client_wait(en_client_t *self, int timeout_ms, en_result_t *out)
{
    int64_t until = en_mono_ms() + timeout_ms;
    while (true) {
        en_result_t *r = zlist_pop(self->done);
        if (r) {
            *out = *r;
            free(r);
            return 0;
        }
        int64_t left = until - en_mono_ms();
        if (left < 0 || zhash_size(self->pending) == 0)
            return -1;
        // read what may have come first; sleep only once every gateway
        // socket has said EAGAIN since it was last sent on
        bool dirty = false;
        for (int i = 0; i < self->count; i++)
            dirty = dirty || self->dirty[i];
        if (!dirty) {
            void *sockets[EN_MAX_ENDPOINTS];
            bool ready[EN_MAX_ENDPOINTS];
            for (int i = 0; i < self->count; i++)
                sockets[i] = zsock_resolve(self->sockets[i]);
            // wake at least every 100 ms for pings, resends and deadlines
            if (en_frames_poll(sockets, self->count, ready, left < 100 ? left : 100) > 0)
                for (int i = 0; i < self->count; i++)
                    self->dirty[i] = ready[i];
        }
        for (int i = 0; i < self->count; i++)
            if (self->dirty[i])
                s_drain(self, i);
        s_timers(self);
    }
}

void
en_result_clear(en_result_t *result)
{
    free(result->body);
    result->body = NULL;
    result->size = 0;
}

int
en_client_call(en_client_t *self, const char *service, const char *method,
               const char *model_uuid, const ProtobufCMessage *req,
               const ProtobufCMessageDescriptor *res_desc, ProtobufCMessage **res,
               int timeout_ms, en_err_t *err)
{
    *res = NULL;
    char id[33];
    if (en_client_start(self, service, method, model_uuid, req, en_now_ms() + timeout_ms, NULL,
                        NULL, id, err))
        return -1;
    en_result_t r;
    // other calls may finish first when the client is shared; park them
    zlist_t *parked = zlist_new();
    int rc = -1;
    while (true) {
        if (en_client_wait(self, timeout_ms + EN_DEADLINE_GRACE_MS + 1000, &r) != 0) {
            en_err_set(err, EN_TIMEOUT, "%s: no reply", method);
            break;
        }
        if (strcmp(r.request_id, id) != 0) {
            en_result_t *p = malloc(sizeof *p);
            *p = r;
            zlist_append(parked, p);
            continue;
        }
        if (r.err.kind != EN_OK) {
            *err = r.err;
        }
        else {
            *res = protobuf_c_message_unpack(res_desc, NULL, r.size, r.body);
            if (*res)
                rc = 0;
            else
                en_err_set(err, EN_INTERNAL, "%s: result is not a valid %s", method,
                           res_desc->name);
        }
        en_result_clear(&r);
        break;
    }
    en_result_t *p;
    while ((p = zlist_pop(parked)))
        zlist_append(self->done, p);
    zlist_destroy(&parked);
    return rc;
}

int
en_client_service_present(en_client_t *self, const char *service, int timeout_ms)
{
    // With ZMQ_IMMEDIATE a send fails until the connection is up, which
    // takes a moment after en_client_new: keep trying until the timeout.
    zframe_t *body = zframe_from(service);
    int current = self->current;
    zsock_t *sock = self->sockets[current];
    self->mmi_code[0] = '\0';
    bool sent = false;
    int64_t until = en_mono_ms() + timeout_ms;
    while (!self->mmi_code[0]) {
        int64_t left = until - en_mono_ms();
        if (left <= 0)
            break; // never poll with a negative (infinite) timeout
        if (!sent)
            sent = s_send(self, current, "mmi.service", body) == 0;
        zmq_pollitem_t item = {zsock_resolve(sock), 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, sent ? left : (left < 10 ? left : 10)) > 0)
            s_drain(self, current);
    }
    zframe_destroy(&body);
    return strcmp(self->mmi_code, "200") == 0 ? 0 : -1;
}
