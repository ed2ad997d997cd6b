/*  firewall.c — the gateway's firewall compositions and the group steps
    that the instance compositions share.

    OpenPortsMany / ClosePortsMany (the controller's firewaller worker
    applying an exposed application to many machines at once): one
    firewaller OpenInstancePorts / CloseInstancePorts per item, fanned out
    by fanout.c in the window of the cloud's concurrency limit, one result
    per item. A failed item carries its own Error; the others go on.

    Groups (lib/common/fwgroup.h). The broker creates an instance in its
    machine's groups, so they must exist first: every composition that
    starts instances (StartInstance, StartInstances, Bootstrap) asks the
    firewaller to EnsureGroups for its machines before the broker runs. In
    mode none the firewaller makes nothing and answers no groups; a cloud
    without a firewall answers NOT_SUPPORTED, which means the same here.
    Groups go when their owners do: StopInstances deletes the stopped
    machines' own groups, Destroy every group of the model, and
    DestroyController every group tagged with the controller.

    Leftovers are never dropped silently. A group the firewaller could not
    delete by the deadline (still in use, the cloud refusing) is logged
    with its error, once each, and then:
      - Destroy and DestroyController fail with EC2's words, `cannot delete
        security group "<name>": consider deleting it manually` (several
        named, up to a few), of the first leftover's kind, so the caller
        (kill-controller, destroy-model) retries; both are idempotent, and
        the controller stays in the store until its groups are gone;
      - StopInstances still succeeds for the instances, as EC2's does
        (deleteSecurityGroupsForInstances logs and goes on): its answer is
        about instances, and the model's Destroy deletes what is left. */
#include <stdio.h>
#include <string.h>

#include "bus/envelope.h"
#include "common/clock.h"
#include "common/log.h"
#include "environ.pb-c.h"
#include "fanout.h"
#include "firewaller.pb-c.h"
#include "gateway.h"

//  Leftover groups named in an error message.
#define S_LEFT_NAMED 3

//  --------------------------------------------------------------------------
//  EnsureGroups

bool
gateway_no_firewall(const en_err_t *err)
{
    return err->kind == EN_NOT_SUPPORTED;
}

int
gateway_ensure_groups(en_call_t *call, const char *model_uuid, const char *controller_uuid,
                      const char *const *machine_ids, size_t n, en_err_t *err)
{
    En__EnsureGroupsRequest q = EN__ENSURE_GROUPS_REQUEST__INIT;
    q.controller_uuid = (char *)controller_uuid;
    q.machine_ids = (char **)machine_ids;
    q.n_machine_ids = n;
    En__EnsureGroupsResult r = EN__ENSURE_GROUPS_RESULT__INIT;
    if (gateway_call(call, "firewaller", "EnsureGroups", model_uuid, NULL, &q.base, &r.base, err) ==
        0)
        return 0;
    en_err_t outcome = *err;
    return gateway_ensure_groups_failed(&outcome, err) ? -1 : 0;
}

const ProtobufCMessage *
gateway_ensure_groups_request(en_call_t *call, const char *controller_uuid,
                              const char *const *machine_ids, size_t n)
{
    En__EnsureGroupsRequest *q = en_arena_alloc(call->arena, sizeof *q);
    en__ensure_groups_request__init(q);
    q->controller_uuid = (char *)controller_uuid;
    q->machine_ids = en_arena_array(call->arena, n ? n : 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        q->machine_ids[q->n_machine_ids++] = (char *)machine_ids[i];
    return &q->base;
}

bool
gateway_ensure_groups_failed(const en_err_t *outcome, en_err_t *err)
{
    if (outcome->kind == EN_OK || gateway_no_firewall(outcome))
        return false;
    *err = *outcome;
    en_err_annotate(err, "cannot create security groups");
    return true;
}

//  --------------------------------------------------------------------------
//  DeleteGroups

//  Log every leftover of one answer; the first's error into *first.
static size_t
s_log_left(en_call_t *call, const En__DeleteGroupsResult *r, en_err_t *first)
{
    for (size_t i = 0; i < r->n_left; i++) {
        en_err_t e;
        en_err_from_wire(&e, i < r->n_errors ? r->errors[i] : NULL);
        en_log(EN_LOG_WARN, call->request_id, "%s: security group %s left: %s", call->method,
               r->left[i], e.kind == EN_OK ? "not deleted" : e.message);
        if (first && first->kind == EN_OK)
            *first = e.kind == EN_OK ? (en_err_t){.kind = EN_UNAVAILABLE, .retryable = true} : e;
    }
    return r->n_left;
}

int
gateway_delete_groups(en_call_t *call, const char *model_uuid, const En__DeleteGroupsRequest *q,
                      en_err_t *err)
{
    En__DeleteGroupsResult r = EN__DELETE_GROUPS_RESULT__INIT;
    if (gateway_call(call, "firewaller", "DeleteGroups", model_uuid, NULL, &q->base, &r.base,
                     err)) {
        if (gateway_no_firewall(err))
            return 0;
        return en_err_annotate(err, "cannot delete security groups");
    }
    if (r.n_deleted)
        en_log(EN_LOG_INFO, call->request_id, "%s: %zu security group(s) deleted", call->method,
               r.n_deleted);
    en_err_t first = {.kind = EN_OK};
    if (s_log_left(call, &r, &first) == 0)
        return 0;
    // EC2's deleteSecurityGroupInsistently words, naming a few
    char names[EN_ERR_MSG_MAX / 2] = "";
    size_t used = 0;
    for (size_t i = 0; i < r.n_left && i < S_LEFT_NAMED && used < sizeof names; i++)
        used += (size_t)snprintf(names + used, sizeof names - used, "%s\"%s\"", i ? ", " : "",
                                 r.left[i]);
    if (r.n_left == 1)
        en_err_set(err, first.kind,
                   "cannot delete security group %s: consider deleting it manually", names);
    else if (r.n_left <= S_LEFT_NAMED)
        en_err_set(err, first.kind,
                   "cannot delete security groups %s: consider deleting them manually", names);
    else
        en_err_set(err, first.kind,
                   "cannot delete security groups %s and %zu more: consider deleting them "
                   "manually",
                   names, r.n_left - S_LEFT_NAMED);
    err->retryable = first.retryable;
    return -1;
}

void
gateway_delete_machine_groups(en_call_t *call, const char *const *machine_ids, size_t n,
                              size_t window)
{
    if (n == 0)
        return;
    size_t chunk = gateway_fanout_chunk(n, window, 1, GATEWAY_GROUP_CHUNK_MAX);
    size_t chunks = (n + chunk - 1) / chunk;
    gateway_fanout_t f = gateway_fanout_new(call, "firewaller", "DeleteGroups",
                                            &en__delete_groups_result__descriptor, chunks);
    f.window = window;
    for (size_t c = 0; c < chunks; c++) {
        En__DeleteGroupsRequest *q = en_arena_alloc(call->arena, sizeof *q);
        en__delete_groups_request__init(q);
        q->machine_ids = (char **)machine_ids + c * chunk;
        q->n_machine_ids = c + 1 < chunks ? chunk : n - c * chunk;
        f.items[c].req = &q->base;
    }
    gateway_fanout_ids_by_content(&f);
    gateway_fanout_run(&f);
    size_t left = 0;
    for (size_t c = 0; c < chunks; c++) {
        if (f.items[c].err.kind == EN_OK)
            left += s_log_left(call, (const En__DeleteGroupsResult *)f.items[c].res, NULL);
        else if (!gateway_no_firewall(&f.items[c].err))
            en_log(EN_LOG_WARN, call->request_id,
                   "%s: groups of %zu machine(s) not deleted (the model's Destroy will): %s",
                   call->method, ((const En__DeleteGroupsRequest *)f.items[c].req)->n_machine_ids,
                   f.items[c].err.message);
    }
    if (left)
        en_log(EN_LOG_WARN, call->request_id,
               "%s: %zu security group(s) left; the model's Destroy deletes them", call->method,
               left);
}

//  --------------------------------------------------------------------------
//  Destroy and DestroyController

int
gateway_mark_dying(en_call_t *call, const char *model_uuid, en_err_t *err)
{
    En__MarkModelDyingRequest q = EN__MARK_MODEL_DYING_REQUEST__INIT;
    q.uuid = (char *)model_uuid;
    En__MarkModelDyingResult r = EN__MARK_MODEL_DYING_RESULT__INIT;
    return gateway_call(call, "registry", "MarkModelDying", NULL, NULL, &q.base, &r.base, err);
}

//  environs.Destroy: the model is marked dying first (from then on no
//  service makes anything new in it: a late StartInstance, EnsureGroups
//  or OpenPorts would make again what this removes), then the broker
//  stops every instance of the model (its errors are Juju's), then every
//  group of the model goes.
static int
s_destroy(en_call_t *call, const ProtobufCMessage *req, ProtobufCMessage *res, en_err_t *err)
{
    if (gateway_mark_dying(call, call->model_uuid, err) ||
        gateway_step(call, "broker", req, res, err))
        return -1;
    En__DeleteGroupsRequest q = EN__DELETE_GROUPS_REQUEST__INIT;
    q.whole_model = true;
    return gateway_delete_groups(call, call->model_uuid, &q, err);
}

int
gateway_destroy_controller_groups(en_call_t *call, const char *model_uuid,
                                  const char *controller_uuid, en_err_t *err)
{
    En__DeleteGroupsRequest q = EN__DELETE_GROUPS_REQUEST__INIT;
    q.controller_uuid = (char *)controller_uuid;
    return gateway_delete_groups(call, model_uuid, &q, err);
}

//  DestroyController (statement 62): the broker's instances first (a
//  group is in use while an instance is in it), then every group tagged
//  with the controller, hosted models' included.
static int
s_destroy_controller(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res,
                     en_err_t *err)
{
    const En__DestroyControllerRequest *req = (const void *)req_;
    gateway_composer_state_t *state = call->state;
    const char *uuid = req->controller_uuid;
    if ((!uuid || !*uuid) && call->model_uuid && *call->model_uuid) {
        const En__GetModelForServiceResult *m =
            en_modelcache_get(state->models, call->model_uuid, err);
        if (!m)
            return -1;
        uuid = en_arena_strdup(call->arena, m->model->controller_uuid);
    }
    if ((call->model_uuid && *call->model_uuid && gateway_mark_dying(call, call->model_uuid, err)) ||
        gateway_step(call, "broker", req_, res, err))
        return -1;
    return gateway_destroy_controller_groups(call, call->model_uuid, uuid, err);
}

//  --------------------------------------------------------------------------
//  OpenPortsMany and ClosePortsMany

static const ProtobufCMessage *
s_open_one(en_arena_t *a, const En__InstancePortsItem *item)
{
    En__OpenInstancePortsRequest *one = en_arena_alloc(a, sizeof *one);
    en__open_instance_ports_request__init(one);
    one->instance_id = item->instance_id;
    one->machine_id = item->machine_id;
    one->n_rules = item->n_rules;
    one->rules = item->rules;
    return &one->base;
}

static const ProtobufCMessage *
s_close_one(en_arena_t *a, const En__InstancePortsItem *item)
{
    En__CloseInstancePortsRequest *one = en_arena_alloc(a, sizeof *one);
    en__close_instance_ports_request__init(one);
    one->instance_id = item->instance_id;
    one->machine_id = item->machine_id;
    one->n_rules = item->n_rules;
    one->rules = item->rules;
    return &one->base;
}

//  One firewaller `method` (OpenInstancePorts or CloseInstancePorts) per
//  item; results positional.
static int
s_ports_many(en_call_t *call, const char *method, En__InstancePortsItem **items, size_t n,
             En__InstancePortsItemResult ***out, size_t *n_out, en_err_t *err)
{
    gateway_composer_state_t *state = call->state;
    if (!en_modelcache_get(state->models, call->model_uuid, err))
        return -1;
    if (n == 0)
        return 0;
    bool open = strcmp(method, "OpenInstancePorts") == 0;
    gateway_fanout_t f = gateway_fanout_new(call, "firewaller", method,
                                            open ? &en__open_instance_ports_result__descriptor
                                                 : &en__close_instance_ports_result__descriptor,
                                            n);
    for (size_t i = 0; i < n; i++)
        f.items[i].req =
            open ? s_open_one(call->arena, items[i]) : s_close_one(call->arena, items[i]);
    f.window = gateway_fanout_window(call);
    int64_t started = en_mono_ms();
    gateway_fanout_run(&f);
    *out = en_arena_array(call->arena, n, sizeof(En__InstancePortsItemResult *));
    for (size_t i = 0; i < n; i++) {
        En__InstancePortsItemResult *item = en_arena_alloc(call->arena, sizeof *item);
        en__instance_ports_item_result__init(item);
        if (f.items[i].err.kind != EN_OK)
            item->error = gateway_error_to(call->arena, &f.items[i].err);
        (*out)[(*n_out)++] = item;
    }
    en_log(EN_LOG_INFO, call->request_id,
           "%s: %zu item(s), %zu failed, %zu retried, %zu in flight, %lld ms", call->method, n,
           f.failed, f.retries, f.window, (long long)(en_mono_ms() - started));
    return 0;
}

static int
s_open_ports_many(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res_,
                  en_err_t *err)
{
    const En__OpenPortsManyRequest *req = (const void *)req_;
    En__OpenPortsManyResult *res = (void *)res_;
    return s_ports_many(call, "OpenInstancePorts", req->items, req->n_items, &res->items,
                        &res->n_items, err);
}

static int
s_close_ports_many(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res_,
                   en_err_t *err)
{
    const En__ClosePortsManyRequest *req = (const void *)req_;
    En__ClosePortsManyResult *res = (void *)res_;
    return s_ports_many(call, "CloseInstancePorts", req->items, req->n_items, &res->items,
                        &res->n_items, err);
}

const gateway_composition_t gateway_firewall_compositions[] = {
    {"OpenPortsMany", s_open_ports_many},
    {"ClosePortsMany", s_close_ports_many},
    {"Destroy", s_destroy},
    {"DestroyController", s_destroy_controller},
};
const size_t gateway_firewall_composition_count =
    sizeof gateway_firewall_compositions / sizeof gateway_firewall_compositions[0];
