/*  batch.c — the batch forms of the instance broker, fanned out by
    fanout.c: StartInstances (one broker StartInstance per item, each sent
    as soon as the firewaller has made its machine's groups, in chunks, in
    the same fan-out) and StopInstances (one broker StopInstances per chunk
    of ids, then the firewaller deletes the stopped machines' groups).

    Both answer per item: a StartInstances item whose groups could not be
    made fails with that error and is not started; a StopInstances id that
    did not stop is in `failed`. A group left behind by StopInstances is
    logged, not an item's failure (firewall.c says why). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "environ.pb-c.h"
#include "fanout.h"
#include "firewaller.pb-c.h"
#include "gateway.h"

//  Ids per broker StopInstances: the list is cut into about W chunks, but
//  none smaller than MIN (a chunk costs two cloud calls, describe and
//  terminate, whatever its size) nor larger than MAX (a broker call stays
//  short, and a cloud's per-request id limits, EC2's 1000, stay far).
#define S_STOP_CHUNK_MIN 16
#define S_STOP_CHUNK_MAX 256

//  --------------------------------------------------------------------------
//  StartInstances

//  The groups chunks of a StartInstances fan-out: chunk c is item c and
//  covers start items first[c]..last[c]-1 (at index chunks + i).
typedef struct {
    size_t chunks;
    size_t *first, *last;
    size_t no_groups; // starts not sent: their groups could not be made
} s_gates_t;

//  A chunk's EnsureGroups is done: its machines' starts may go, or fail
//  with its error.
static void
s_gate_done(gateway_fanout_t *f, size_t index)
{
    s_gates_t *g = f->arg;
    if (index >= g->chunks)
        return; // a start
    en_err_t why;
    bool failed = gateway_ensure_groups_failed(&f->items[index].err, &why);
    for (size_t i = g->first[index]; i < g->last[index]; i++) {
        gateway_item_t *start = &f->items[g->chunks + i];
        if (start->state != GATEWAY_ITEM_WAITING)
            continue; // refused by the broker whatever the groups: sent already
        start->state = failed ? GATEWAY_ITEM_DONE : GATEWAY_ITEM_FRESH;
        if (failed) {
            start->err = why;
            g->no_groups++;
        }
    }
}

//  The model is resolved once for the batch (it must exist), and the
//  images looked up once per release and arch of the batch (images.c: an
//  item without images fails with the lookup's error and gets no groups).
//  Then one fan-out:
//  the machines' firewall groups in chunks of consecutive machines of one
//  controller (EnsureGroups; in practice one controller per batch), and
//  one broker StartInstance per item, each sent as soon as its chunk's
//  groups are there, so the two kinds of call share the window with no
//  barrier between them.
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
    size_t n = req->n_params, window = gateway_fanout_window(call);
    size_t chunk = gateway_fanout_chunk(n, window, 1, GATEWAY_GROUP_CHUNK_MAX);
    s_gates_t g = {
        .first = en_arena_array(call->arena, n, sizeof(size_t)),
        .last = en_arena_array(call->arena, n, sizeof(size_t)),
    };
    // the images first, one lookup per release and arch of the batch
    En__StartInstanceParams **params = en_arena_array(call->arena, n, sizeof(*params));
    en_err_t *no_image = en_arena_array(call->arena, n, sizeof(en_err_t));
    if (gateway_images(call, call->model_uuid, req->params, n, params, no_image, err))
        return -1;
    const char **machines = en_arena_array(call->arena, n, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        const En__StartInstanceParams *p = params[i];
        if (gateway_start_refused(p) || no_image[i].kind != EN_OK)
            continue; // no groups for a start that cannot go ahead
        machines[i] = gateway_machine_id(p);
        bool join =
            g.chunks > 0 && i - g.first[g.chunks - 1] < chunk &&
            strcmp(params[g.first[g.chunks - 1]]->controller_uuid, p->controller_uuid) == 0;
        if (!join)
            g.first[g.chunks++] = i;
        g.last[g.chunks - 1] = i + 1;
    }
    gateway_fanout_t f = gateway_fanout_new(call, "broker", "StartInstance",
                                            &en__start_instance_result__descriptor, g.chunks + n);
    f.window = window;
    f.on_done = s_gate_done;
    f.arg = &g;
    for (size_t c = 0; c < g.chunks; c++) {
        const char **list = en_arena_array(call->arena, g.last[c] - g.first[c], sizeof(char *));
        size_t count = 0;
        for (size_t i = g.first[c]; i < g.last[c]; i++)
            if (machines[i])
                list[count++] = machines[i];
        gateway_item_t *item = &f.items[c];
        item->service = "firewaller";
        item->method = "EnsureGroups";
        item->res_desc = &en__ensure_groups_result__descriptor;
        item->req = gateway_ensure_groups_request(call, params[g.first[c]]->controller_uuid, list,
                                                  count);
        gateway_fanout_id_by_content(&f, c);
    }
    gateway_item_t *starts = f.items + g.chunks;
    for (size_t i = 0; i < n; i++) {
        En__StartInstanceRequest *one = en_arena_alloc(call->arena, sizeof *one);
        en__start_instance_request__init(one);
        one->params = params[i];
        starts[i].req = &one->base;
        starts[i].state = machines[i] ? GATEWAY_ITEM_WAITING : GATEWAY_ITEM_FRESH;
        if (no_image[i].kind != EN_OK) {
            starts[i].state = GATEWAY_ITEM_DONE;
            starts[i].err = no_image[i];
        }
        gateway_derive_id(call, "StartInstance", i, starts[i].id);
    }
    int64_t started = en_mono_ms();
    gateway_fanout_run(&f);
    size_t start_failed = 0, retried = f.retries;
    for (size_t i = 0; i < n; i++)
        start_failed += starts[i].err.kind != EN_OK;
    res->items = en_arena_array(call->arena, n, sizeof(En__StartInstancesItemResult *));
    for (size_t i = 0; i < n; i++) {
        En__StartInstancesItemResult *item = en_arena_alloc(call->arena, sizeof *item);
        en__start_instances_item_result__init(item);
        if (starts[i].err.kind == EN_OK)
            item->result = (En__StartInstanceResult *)starts[i].res;
        else
            item->error = gateway_error_to(call->arena, &starts[i].err);
        res->items[res->n_items++] = item;
    }
    en_log(EN_LOG_INFO, call->request_id,
           "StartInstances: %zu item(s), %zu failed, %zu retried, %zu in flight, %zu without "
           "groups (%zu group call(s)), %lld ms",
           n, start_failed, retried, f.window, g.no_groups, g.chunks,
           (long long)(en_mono_ms() - started));
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
    size_t window = req->n_ids > S_STOP_CHUNK_MIN ? gateway_fanout_window(call) : 1;
    size_t chunk = gateway_fanout_chunk(req->n_ids, window, S_STOP_CHUNK_MIN, S_STOP_CHUNK_MAX);
    size_t chunks = (req->n_ids + chunk - 1) / chunk;
    gateway_fanout_t f = gateway_fanout_new(call, "broker", "StopInstances",
                                            &en__stop_instances_result__descriptor, chunks);
    f.window = window;
    for (size_t c = 0; c < chunks; c++) {
        En__StopInstancesRequest *part = en_arena_alloc(call->arena, sizeof *part);
        en__stop_instances_request__init(part);
        part->ids = req->ids + c * chunk;
        part->n_ids = c + 1 < chunks ? chunk : req->n_ids - c * chunk;
        f.items[c].req = &part->base;
    }
    // a resend may cut the ids otherwise: an id names one chunk's contents
    gateway_fanout_ids_by_content(&f);
    gateway_fanout_run(&f);
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
        En__Error *e = gateway_error_to(call->arena, &f.items[c].err);
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
    // then the stopped machines' own groups (instance mode; in the other
    // modes the firewaller finds none to delete)
    size_t stopped = 0;
    for (size_t c = 0; c < chunks; c++)
        if (f.items[c].err.kind == EN_OK)
            stopped += ((const En__StopInstancesResult *)f.items[c].res)->n_stopped_machine_ids;
    const char **machines = en_arena_array(call->arena, stopped + 1, sizeof(char *));
    size_t n = 0;
    for (size_t c = 0; c < chunks; c++) {
        const En__StopInstancesResult *got = (const En__StopInstancesResult *)f.items[c].res;
        for (size_t i = 0; f.items[c].err.kind == EN_OK && i < got->n_stopped_machine_ids; i++)
            machines[n++] = got->stopped_machine_ids[i];
    }
    gateway_delete_machine_groups(call, machines, n, window);
    return 0;
}

const gateway_composition_t gateway_batch_compositions[] = {
    {"StartInstances", s_start_instances},
    {"StopInstances", s_stop_instances},
};
const size_t gateway_batch_composition_count =
    sizeof gateway_batch_compositions / sizeof gateway_batch_compositions[0];
