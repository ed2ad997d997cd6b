/*  batch.c — the batch forms of the instance broker, fanned out:
    StartInstances (one broker StartInstance per item) and StopInstances
    (one broker StopInstances per chunk of ids).

    One engine serves both (s_fanout_run). A batch is a list of items, each
    one broker call. The composer keeps up to W of them in flight on its
    own asynchronous client (en_client_start / en_client_wait); the gateway's
    broker hands each to an idle broker worker, so the calls spread across
    broker threads and replicas by themselves. W is the cloud's own
    concurrency limit, which the broker reports without a cloud call
    (ComputeLimits, broker.proto): a batch paced at the limit is never
    throttled by itself, and a StartInstance costs about one cloud call, so
    W items in flight keep the cloud exactly busy.

    Each item's request id is the first 128 bits of SHA-256(public request
    id, method, index), in hex: a resent batch resends every item under the
    id it had the first time, and the broker is idempotent per item anyway
    (a StartInstance adopts the instance its machine's name and nonce
    already have). Items answer positionally; a failed item carries its own
    Error and does not fail the others.

    An item that fails with a retryable error (UNAVAILABLE: the cloud
    throttled, another batch shares its limit) is sent again, under the
    same id, after a jittered exponential backoff, at most S_SENDS times in
    all and never past the call's deadline. Every item in flight ends by
    the deadline (the client finishes it then), so the engine never leaves
    a call behind on the composer's client. */
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
#include "environ.pb-c.h"
#include "gateway.h"

//  Calls in flight when the cloud names no limit, and at most.
#define S_WINDOW_DEFAULT 32
#define S_WINDOW_MAX 256
//  Sends of one item, the first included, and the first backoff.
#define S_SENDS 5
#define S_BACKOFF_MS 50
//  Ids per broker StopInstances: the list is cut into about W chunks, but
//  none smaller than MIN (a chunk costs two cloud calls, describe and
//  terminate, whatever its size) nor larger than MAX (a broker call stays
//  short, and a cloud's per-request id limits, EC2's 1000, stay far).
#define S_STOP_CHUNK_MIN 16
#define S_STOP_CHUNK_MAX 256

typedef enum { S_FRESH, S_IN_FLIGHT, S_BACKING_OFF, S_DONE } s_state_t;

typedef struct {
    const ProtobufCMessage *req; // the item's broker request
    char id[33];                 // its request id
    s_state_t state;
    unsigned sends;
    int64_t due;           // monotonic ms; when S_BACKING_OFF may send again
    en_err_t err;          // the outcome; OK: res is set
    ProtobufCMessage *res; // decoded in the call's arena
} s_item_t;

typedef struct {
    en_call_t *call;
    const char *method; // the broker method of every item
    const ProtobufCMessageDescriptor *res_desc;
    s_item_t *items;
    size_t count;
    size_t window;
    unsigned seed;      // backoff jitter (rand_r: no state shared between threads)
    size_t backing_off; // items waiting to be sent again
    size_t retries;
    size_t failed;
} s_fanout_t;

//  --------------------------------------------------------------------------
//  Request ids and the window

//  W: the cloud's concurrency limit as the broker reports it, else the
//  default (no limit known, or a broker that cannot say).
static size_t
s_window(en_call_t *call)
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

//  --------------------------------------------------------------------------
//  The engine

static void
s_finish(s_fanout_t *f, s_item_t *item, const en_err_t *err)
{
    item->state = S_DONE;
    if (err) {
        item->err = *err;
        f->failed++;
    } else
        en_err_clear(&item->err);
}

static void
s_send(s_fanout_t *f, s_item_t *item)
{
    gateway_composer_state_t *state = f->call->state;
    en_err_t err;
    size_t index = (size_t)(item - f->items);
    item->sends++;
    if (en_client_start(state->client, "broker", f->method, f->call->model_uuid, item->req,
                        f->call->deadline_ms, item->id, (void *)(uintptr_t)(index + 1), NULL, &err))
        s_finish(f, item, &err);
    else
        item->state = S_IN_FLIGHT;
}

//  A reply (or the client's TIMEOUT) for one of our items; false when it
//  is not ours (a late answer to an earlier call on this client).
static bool
s_on_result(s_fanout_t *f, en_result_t *r)
{
    size_t index = (size_t)(uintptr_t)r->user;
    if (index == 0 || index > f->count || strcmp(f->items[index - 1].id, r->request_id) != 0 ||
        f->items[index - 1].state != S_IN_FLIGHT)
        return false;
    s_item_t *item = &f->items[index - 1];
    if (r->err.kind == EN_OK) {
        item->res = en_call_unpack(f->call, f->res_desc, r->size, r->body);
        if (item->res)
            s_finish(f, item, NULL);
        else {
            en_err_t err;
            en_err_set(&err, EN_INTERNAL, "%s: the broker's result does not decode", f->method);
            s_finish(f, item, &err);
        }
        return true;
    }
    // jittered exponential backoff: half the step, plus up to the other half
    int64_t step = (int64_t)S_BACKOFF_MS << (item->sends - 1);
    int64_t wait = step / 2 + rand_r(&f->seed) % (step / 2 + 1);
    bool in_time = !f->call->deadline_ms || en_now_ms() + wait < f->call->deadline_ms;
    if (r->err.retryable && item->sends < S_SENDS && in_time) {
        item->state = S_BACKING_OFF;
        item->due = en_mono_ms() + wait;
        f->retries++;
        f->backing_off++;
        return true;
    }
    s_finish(f, item, &r->err);
    return true;
}

//  Fill the window: items backing off whose time has come first, then
//  fresh ones in order. Returns the monotonic time the next backoff ends
//  (INT64_MAX: none waiting, or the window is full and the next event is
//  a result).
static int64_t
s_fill(s_fanout_t *f, size_t *in_flight, size_t *next)
{
    int64_t now = en_mono_ms(), soonest = INT64_MAX;
    for (size_t i = 0; i < *next && f->backing_off; i++) {
        s_item_t *item = &f->items[i];
        if (item->state != S_BACKING_OFF)
            continue;
        if (*in_flight >= f->window)
            break;
        if (item->due > now) {
            soonest = item->due < soonest ? item->due : soonest;
            continue;
        }
        f->backing_off--;
        s_send(f, item);
        *in_flight += item->state == S_IN_FLIGHT;
    }
    while (*next < f->count && *in_flight < f->window) {
        s_item_t *item = &f->items[(*next)++];
        s_send(f, item);
        *in_flight += item->state == S_IN_FLIGHT;
    }
    return soonest;
}

static void
s_sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

//  Run every item to an outcome.
static void
s_fanout_run(s_fanout_t *f)
{
    gateway_composer_state_t *state = f->call->state;
    size_t in_flight = 0, next = 0;
    f->seed = (unsigned)en_mono_ms() ^ (unsigned)(uintptr_t)f;
    while (true) {
        if (f->call->deadline_ms && en_now_ms() >= f->call->deadline_ms) {
            // what is not in flight now will not be sent
            en_err_t late;
            en_err_set(&late, EN_TIMEOUT, "%s: deadline passed", f->call->method);
            for (size_t i = 0; i < f->count; i++)
                if (f->items[i].state == S_FRESH || f->items[i].state == S_BACKING_OFF)
                    s_finish(f, &f->items[i], &late);
            next = f->count;
            f->backing_off = 0;
        }
        int64_t soonest = s_fill(f, &in_flight, &next);
        if (in_flight == 0 && soonest == INT64_MAX && f->backing_off == 0)
            break; // nothing in flight, nothing to send: all done
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

//  Items of `method` on the call's model: ids derived, requests borrowed.
static s_fanout_t
s_fanout_new(en_call_t *call, const char *method, const ProtobufCMessageDescriptor *res_desc,
             size_t count)
{
    s_fanout_t f = {
        .call = call,
        .method = method,
        .res_desc = res_desc,
        .items = en_arena_array(call->arena, count ? count : 1, sizeof(s_item_t)),
        .count = count,
    };
    for (size_t i = 0; i < count; i++)
        gateway_derive_id(call, method, i, f.items[i].id);
    return f;
}

static En__Error *
s_error_to(en_arena_t *a, const en_err_t *err)
{
    En__Error *e = en_arena_alloc(a, sizeof *e);
    en__error__init(e);
    e->kind = (En__ErrorKind)err->kind;
    e->message = en_arena_strdup(a, err->message);
    e->retryable = err->retryable;
    return e;
}

//  --------------------------------------------------------------------------
//  StartInstances

//  The model is resolved once for the batch (it must exist; the steps that
//  later issues add to StartInstance, image metadata, subnets, firewall
//  groups, go here too, once per batch where their answer is shared).
//  Then one broker StartInstance per item.
static int
s_start_instances(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res_,
                  en_err_t *err)
{
    const En__StartInstancesRequest *req = (const En__StartInstancesRequest *)req_;
    En__StartInstancesResult *res = (En__StartInstancesResult *)res_;
    gateway_composer_state_t *state = call->state;
    if (!en_modelcache_get(state->models, call->model_uuid, err))
        return -1;
    if (req->n_params == 0)
        return 0;
    s_fanout_t f =
        s_fanout_new(call, "StartInstance", &en__start_instance_result__descriptor, req->n_params);
    for (size_t i = 0; i < f.count; i++) {
        En__StartInstanceRequest *one = en_arena_alloc(call->arena, sizeof *one);
        en__start_instance_request__init(one);
        one->params = req->params[i];
        f.items[i].req = &one->base;
    }
    f.window = s_window(call);
    int64_t started = en_mono_ms();
    s_fanout_run(&f);
    res->items = en_arena_array(call->arena, f.count, sizeof(En__StartInstancesItemResult *));
    for (size_t i = 0; i < f.count; i++) {
        En__StartInstancesItemResult *item = en_arena_alloc(call->arena, sizeof *item);
        en__start_instances_item_result__init(item);
        if (f.items[i].err.kind == EN_OK)
            item->result = (En__StartInstanceResult *)f.items[i].res;
        else
            item->error = s_error_to(call->arena, &f.items[i].err);
        res->items[res->n_items++] = item;
    }
    en_log(EN_LOG_INFO, call->request_id,
           "StartInstances: %zu item(s), %zu failed, %zu retried, %zu in flight, %lld ms", f.count,
           f.failed, f.retries, f.window, (long long)(en_mono_ms() - started));
    return 0;
}

//  --------------------------------------------------------------------------
//  StopInstances

//  A composition rather than a forward, whatever the size of the list: a
//  forward cannot depend on the request, and a composition gives every
//  list, short ones included, the same retry of throttled calls and the
//  same per-id answer (one chunk costs one extra in-process hop, nothing
//  next to the cloud's calls). Ids are cut into chunks of about n/W,
//  S_STOP_CHUNK_MIN..MAX; a chunk whose call fails outright reports each
//  of its ids failed with that error.
static int
s_stop_instances(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res_,
                 en_err_t *err)
{
    const En__StopInstancesRequest *req = (const En__StopInstancesRequest *)req_;
    En__StopInstancesResult *res = (En__StopInstancesResult *)res_;
    if (req->n_ids == 0)
        return 0; // statement 23: nothing to do, not even the model to find
    gateway_composer_state_t *state = call->state;
    if (!en_modelcache_get(state->models, call->model_uuid, err))
        return -1;
    size_t window = req->n_ids > S_STOP_CHUNK_MIN ? s_window(call) : 1;
    size_t chunk = (req->n_ids + window - 1) / window;
    chunk = chunk < S_STOP_CHUNK_MIN ? S_STOP_CHUNK_MIN : chunk;
    chunk = chunk > S_STOP_CHUNK_MAX ? S_STOP_CHUNK_MAX : chunk;
    size_t chunks = (req->n_ids + chunk - 1) / chunk;
    s_fanout_t f =
        s_fanout_new(call, "StopInstances", &en__stop_instances_result__descriptor, chunks);
    f.window = window;
    for (size_t c = 0; c < chunks; c++) {
        En__StopInstancesRequest *part = en_arena_alloc(call->arena, sizeof *part);
        en__stop_instances_request__init(part);
        part->ids = req->ids + c * chunk;
        part->n_ids = c + 1 < chunks ? chunk : req->n_ids - c * chunk;
        f.items[c].req = &part->base;
    }
    s_fanout_run(&f);
    // failed ids in request order: each chunk's own list, or all its ids
    size_t total = 0;
    for (size_t c = 0; c < chunks; c++) {
        const En__StopInstancesRequest *part = (const En__StopInstancesRequest *)f.items[c].req;
        const En__StopInstancesResult *got = (const En__StopInstancesResult *)f.items[c].res;
        total += f.items[c].err.kind == EN_OK ? got->n_failed : part->n_ids;
    }
    res->failed = en_arena_array(call->arena, total ? total : 1, sizeof(void *));
    for (size_t c = 0; c < chunks; c++) {
        const En__StopInstancesRequest *part = (const En__StopInstancesRequest *)f.items[c].req;
        const En__StopInstancesResult *got = (const En__StopInstancesResult *)f.items[c].res;
        if (f.items[c].err.kind == EN_OK) {
            for (size_t i = 0; i < got->n_failed; i++)
                res->failed[res->n_failed++] = got->failed[i];
            continue;
        }
        En__Error *e = s_error_to(call->arena, &f.items[c].err);
        for (size_t i = 0; i < part->n_ids; i++) {
            En__StopInstancesItemResult *item = en_arena_alloc(call->arena, sizeof *item);
            en__stop_instances_item_result__init(item);
            item->id = part->ids[i];
            item->error = e;
            res->failed[res->n_failed++] = item;
        }
    }
    if (res->n_failed)
        en_log(EN_LOG_WARN, call->request_id, "StopInstances: %zu of %zu id(s) not stopped",
               res->n_failed, req->n_ids);
    return 0;
}

const gateway_composition_t gateway_batch_compositions[] = {
    {"StartInstances", s_start_instances},
    {"StopInstances", s_stop_instances},
};
const size_t gateway_batch_composition_count =
    sizeof gateway_batch_compositions / sizeof gateway_batch_compositions[0];
