/*  fanout.c — the engine behind every batch form of the gateway
    (fanout.h): StartInstances, StopInstances, OpenPortsMany,
    ClosePortsMany.

    A batch is a list of items, each one call to a service. The composer
    keeps up to W of them in flight on its own asynchronous client
    (en_client_start / en_client_wait); the gateway's broker hands each to
    an idle worker of that service, so the calls spread across its threads
    and replicas by themselves. W is the cloud's own concurrency limit,
    which the broker reports without a cloud call (ComputeLimits,
    broker.proto): a batch paced at the limit is never throttled by
    itself, and each item costs about one cloud call, so W items in flight
    keep the cloud exactly busy.

    Each item's request id is the first 128 bits of SHA-256(public request
    id, method, index), in hex: a resent batch resends every item under the
    id it had the first time, and the services are idempotent per item
    anyway. Items answer positionally; a failed item carries its own Error
    and does not fail the others.

    An item that fails with a retryable error (UNAVAILABLE: the cloud
    throttled, the service's replica died and the gateway gave the call
    up) is sent again, under the same id, after a jittered exponential
    backoff, at most S_SENDS times in all and never past the call's
    deadline. Every item in flight ends by the deadline (the client
    finishes it then), so the engine never leaves a call behind on the
    composer's client. */
#include "fanout.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker.pb-c.h"
#include "bus/envelope.h"
#include "common/clock.h"
#include "common/log.h"

//  Calls in flight when the cloud names no limit, and at most.
#define S_WINDOW_DEFAULT 32
#define S_WINDOW_MAX 256
//  Sends of one item, the first included, and the first backoff.
#define S_SENDS 5
#define S_BACKOFF_MS 50

//  --------------------------------------------------------------------------
//  The window

size_t
gateway_fanout_window(en_call_t *call)
{
    En__ComputeLimitsRequest req = EN__COMPUTE_LIMITS_REQUEST__INIT;
    En__ComputeLimitsResult res = EN__COMPUTE_LIMITS_RESULT__INIT;
    char id[33];
    gateway_derive_id(call, "ComputeLimits", 0, id);
    en_err_t err;
    if (gateway_call(call, "broker", "ComputeLimits", call->model_uuid, id, &req.base, &res.base,
                     &err)) {
        en_log(EN_LOG_INFO, call->request_id, "%s: no compute limits (%s); %d in flight",
               call->method, err.message, S_WINDOW_DEFAULT);
        return S_WINDOW_DEFAULT;
    }
    if (res.concurrency == 0)
        return S_WINDOW_DEFAULT;
    return res.concurrency < S_WINDOW_MAX ? res.concurrency : S_WINDOW_MAX;
}

size_t
gateway_fanout_chunk(size_t n, size_t window, size_t min, size_t max)
{
    size_t chunk = (n + window - 1) / (window ? window : 1);
    chunk = chunk < min ? min : chunk;
    return chunk > max ? max : chunk;
}

//  --------------------------------------------------------------------------
//  The engine

static void
s_finish(gateway_fanout_t *f, gateway_item_t *item, const en_err_t *err)
{
    item->state = GATEWAY_ITEM_DONE;
    if (err) {
        item->err = *err;
        f->failed++;
    } else
        en_err_clear(&item->err);
    if (f->on_done)
        f->on_done(f, (size_t)(item - f->items));
}

static void
s_send(gateway_fanout_t *f, gateway_item_t *item)
{
    gateway_composer_state_t *state = f->call->state;
    en_err_t err;
    size_t index = (size_t)(item - f->items);
    item->sends++;
    if (en_client_start(state->client, item->service ? item->service : f->service,
                        item->method ? item->method : f->method, f->call->model_uuid, item->req,
                        f->call->deadline_ms, item->id, (void *)(uintptr_t)(index + 1), NULL, &err))
        s_finish(f, item, &err);
    else
        item->state = GATEWAY_ITEM_IN_FLIGHT;
}

//  A reply (or the client's TIMEOUT) for one of our items; false when it
//  is not ours (a late answer to an earlier call on this client).
static bool
s_on_result(gateway_fanout_t *f, en_result_t *r)
{
    size_t index = (size_t)(uintptr_t)r->user;
    if (index == 0 || index > f->count || strcmp(f->items[index - 1].id, r->request_id) != 0 ||
        f->items[index - 1].state != GATEWAY_ITEM_IN_FLIGHT)
        return false;
    gateway_item_t *item = &f->items[index - 1];
    if (r->err.kind == EN_OK) {
        item->res = en_call_unpack(f->call, item->res_desc ? item->res_desc : f->res_desc, r->size,
                                   r->body);
        if (item->res)
            s_finish(f, item, NULL);
        else {
            en_err_t err;
            en_err_set(&err, EN_INTERNAL, "%s: the %s's result does not decode",
                       item->method ? item->method : f->method,
                       item->service ? item->service : f->service);
            s_finish(f, item, &err);
        }
        return true;
    }
    // jittered exponential backoff: half the step, plus up to the other half
    int64_t step = (int64_t)S_BACKOFF_MS << (item->sends - 1);
    int64_t wait = step / 2 + rand_r(&f->seed) % (step / 2 + 1);
    bool in_time = !f->call->deadline_ms || en_now_ms() + wait < f->call->deadline_ms;
    if (r->err.retryable && item->sends < S_SENDS && in_time) {
        item->state = GATEWAY_ITEM_BACKING_OFF;
        item->due = en_mono_ms() + wait;
        f->retries++;
        f->backing_off++;
        return true;
    }
    s_finish(f, item, &r->err);
    return true;
}

//  Fill the window: items backing off whose time has come first, then
//  fresh ones in order. *next is the lowest index that may still be FRESH
//  or WAITING. Returns the monotonic time the next backoff ends
//  (INT64_MAX: none waiting, or the window is full and the next event is
//  a result).
static int64_t
s_fill(gateway_fanout_t *f, size_t *in_flight, size_t *next)
{
    int64_t now = en_mono_ms(), soonest = INT64_MAX;
    for (size_t i = 0; i < f->count && f->backing_off; i++) {
        gateway_item_t *item = &f->items[i];
        if (item->state != GATEWAY_ITEM_BACKING_OFF)
            continue;
        if (*in_flight >= f->window)
            break;
        if (item->due > now) {
            soonest = item->due < soonest ? item->due : soonest;
            continue;
        }
        f->backing_off--;
        s_send(f, item);
        *in_flight += item->state == GATEWAY_ITEM_IN_FLIGHT;
    }
    bool waiting = false; // a WAITING item seen: *next stays at it
    for (size_t i = *next; i < f->count && *in_flight < f->window; i++) {
        gateway_item_t *item = &f->items[i];
        if (item->state == GATEWAY_ITEM_FRESH) {
            s_send(f, item);
            *in_flight += item->state == GATEWAY_ITEM_IN_FLIGHT;
        }
        waiting |= item->state == GATEWAY_ITEM_WAITING;
        if (!waiting && item->state != GATEWAY_ITEM_FRESH)
            *next = i + 1;
    }
    return soonest;
}

static void
s_sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

void
gateway_fanout_run(gateway_fanout_t *f)
{
    gateway_composer_state_t *state = f->call->state;
    size_t in_flight = 0, next = 0;
    if (f->window == 0)
        f->window = 1;
    f->seed = (unsigned)en_mono_ms() ^ (unsigned)(uintptr_t)f;
    while (true) {
        if (f->call->deadline_ms && en_now_ms() >= f->call->deadline_ms) {
            // what is not in flight now will not be sent
            en_err_t late;
            en_err_set(&late, EN_TIMEOUT, "%s: deadline passed", f->call->method);
            for (size_t i = 0; i < f->count; i++)
                if (f->items[i].state == GATEWAY_ITEM_FRESH ||
                    f->items[i].state == GATEWAY_ITEM_WAITING ||
                    f->items[i].state == GATEWAY_ITEM_BACKING_OFF)
                    s_finish(f, &f->items[i], &late);
            next = f->count;
            f->backing_off = 0;
        }
        int64_t soonest = s_fill(f, &in_flight, &next);
        if (in_flight == 0 && soonest == INT64_MAX && f->backing_off == 0) {
            // nothing in flight, nothing to send: all done, but for items
            // nothing will release any more (a caller's bug)
            en_err_t stuck;
            en_err_set(&stuck, EN_INTERNAL, "%s: an item was never released", f->call->method);
            bool any = false;
            for (size_t i = next; i < f->count; i++)
                if (f->items[i].state == GATEWAY_ITEM_WAITING) {
                    s_finish(f, &f->items[i], &stuck);
                    any = true;
                }
            if (!any)
                break;
            continue;
        }
        int64_t until_due = soonest == INT64_MAX ? 1000 : soonest - en_mono_ms();
        if (until_due < 0)
            until_due = 0;
        if (in_flight == 0) {
            s_sleep_ms(until_due); // only backoffs left
            continue;
        }
        en_result_t r;
        if (en_client_wait(state->client, (int)(until_due < 1000 ? until_due : 1000), &r) != 0)
            continue;
        if (s_on_result(f, &r))
            in_flight--;
        en_result_clear(&r);
    }
}

gateway_fanout_t
gateway_fanout_new(en_call_t *call, const char *service, const char *method,
                   const ProtobufCMessageDescriptor *res_desc, size_t count)
{
    gateway_fanout_t f = {
        .call = call,
        .service = service,
        .method = method,
        .res_desc = res_desc,
        .items = en_arena_array(call->arena, count ? count : 1, sizeof(gateway_item_t)),
        .count = count,
    };
    for (size_t i = 0; i < count; i++)
        gateway_derive_id(call, method, i, f.items[i].id);
    return f;
}

void
gateway_fanout_id_by_content(gateway_fanout_t *f, size_t i)
{
    const char *public_id = f->call->request_id;
    if (!public_id || !*public_id)
        return; // ids are random already
    const char *method = f->items[i].method ? f->items[i].method : f->method;
    size_t size = protobuf_c_message_get_packed_size(f->items[i].req);
    size_t head = strlen(public_id) + strlen(method) + 2;
    uint8_t *buf = malloc(head + size + 1);
    int n = snprintf((char *)buf, head + 1, "%s/%s/", public_id, method);
    protobuf_c_message_pack(f->items[i].req, buf + n);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (EVP_Digest(buf, (size_t)n + size, md, &md_len, EVP_sha256(), NULL) != 1 || md_len < 16)
        abort(); // SHA-256 of a buffer cannot fail short of memory
    free(buf);
    for (int k = 0; k < 16; k++)
        snprintf(f->items[i].id + 2 * k, 3, "%02x", md[k]);
}

void
gateway_fanout_ids_by_content(gateway_fanout_t *f)
{
    for (size_t i = 0; i < f->count; i++)
        gateway_fanout_id_by_content(f, i);
}

En__Error *
gateway_error_to(en_arena_t *a, const en_err_t *err)
{
    En__Error *e = en_arena_alloc(a, sizeof *e);
    en__error__init(e);
    e->kind = (En__ErrorKind)err->kind;
    e->message = en_arena_strdup(a, err->message);
    e->retryable = err->retryable;
    return e;
}
