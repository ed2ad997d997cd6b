/*  groups.c — EnsureGroups and DeleteGroups (firewaller.proto): the
    security groups a model's instances are created in (lib/common/
    fwgroup.h names them).

    EnsureGroups runs before StartInstance creates the instance in them:
    the model group juju-<model> (empty: the sim has no SSH or API port to
    let in, and Ports never reports it, statement 66) and, per machine, its
    own group juju-<model>-<machine> in instance mode or the shared
    juju-<model>-global in global mode. Every group is tagged with the
    model and controller uuids, a machine's also with its machine id, so
    that a destroy can find them by tags alone. Mode none makes nothing.

    DeleteGroups is insistent, like Juju's deleteSecurityGroupInsistently:
    a cloud refuses to delete a group while an instance is still in it,
    and an instance that was just stopped may still count for a while. A
    group the cloud says is in use (UNAVAILABLE), or any other retryable
    error, is tried again with jittered backoff until the call's deadline
    comes near; what is still there then is reported in `left` with its
    error, and logged, never dropped. */
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "firewaller.h"
#include "registry.pb-c.h"

//  How long before the call's deadline the retries stop, so the reply
//  reaches the caller in time; and the budget when there is no deadline
//  (Juju's: 5 minutes), both before ENVIRONS_RETRY_SCALE.
#define S_REPLY_MARGIN_MS 500
#define S_NO_DEADLINE_MS 300000

//  --------------------------------------------------------------------------
//  EnsureGroups

static bool
s_listed(char **names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return true;
    return false;
}

static int
s_ensure(en_call_t *call, const fw_model_t *m, const char *controller_uuid, const char *machine_id,
         const char *name, En__EnsureGroupsResult *res, en_err_t *err)
{
    if (s_listed(res->groups, res->n_groups, name))
        return 0;
    en_tag_t tags[3];
    size_t nt = fw_group_tags(m, controller_uuid, machine_id, tags);
    if (m->ops->ensure_group(m->conn, name, tags, nt, err))
        return en_err_annotate(err, "cannot create security group %s", name);
    res->groups[res->n_groups++] = en_arena_strdup(call->arena, name);
    return 0;
}

static int
s_ensure_all(en_call_t *call, const En__EnsureGroupsRequest *req, En__EnsureGroupsResult *res,
             fw_model_t m, en_err_t *err)
{
    res->groups = en_arena_array(call->arena, req->n_machine_ids + 2, sizeof(char *));
    char name[EN_FW_GROUP_MAX];
    en_fw_group_model(m.uuid, name);
    if (s_ensure(call, &m, req->controller_uuid, NULL, name, res, err))
        return -1;
    if (m.mode == EN_FW_GLOBAL) {
        en_fw_group_global(m.uuid, name);
        return s_ensure(call, &m, req->controller_uuid, NULL, name, res, err);
    }
    for (size_t i = 0; i < req->n_machine_ids; i++) {
        // an empty machine id names no group; StartInstance's own checks
        // say what is wrong with it
        if (!req->machine_ids[i] || !*req->machine_ids[i])
            continue;
        en_fw_group_machine(m.uuid, req->machine_ids[i], name);
        if (s_ensure(call, &m, req->controller_uuid, req->machine_ids[i], name, res, err))
            return -1;
    }
    return 0;
}

//  EnsureGroups. A dying model gets none (the cache's view); and when the
//  registry's own view, read after they were made, says the mark came
//  meanwhile (or the cache lagged it), they go again (Destroy's
//  DeleteGroups may have run already).
static int
s_ensure_groups(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res_,
                en_err_t *err)
{
    const En__EnsureGroupsRequest *req = (const void *)req_;
    En__EnsureGroupsResult *res = (void *)res_;
    fw_model_t m;
    if (fw_model(call, &m, err) ||
        en_model_refuse_dying(m.dying, *m.name ? m.name : m.uuid, NULL, err))
        return -1;
    if (m.mode == EN_FW_NONE)
        return 0; // no firewalling: instances are in no group
    if (fw_require_driver(&m, err) || s_ensure_all(call, req, res, m, err))
        return -1;
    if (fw_fresh_refuse_dying(call, &m, NULL, err) == 0)
        return 0;
    for (size_t i = 0; i < res->n_groups; i++) {
        en_err_t ignored;
        m.ops->delete_group(m.conn, res->groups[i], &ignored);
    }
    res->n_groups = 0;
    return -1;
}

//  --------------------------------------------------------------------------
//  DeleteGroups

//  A model-less connection to the cloud of a controller, from the
//  registry's controller store (as the broker's DestroyController does).
static int
s_controller_cloud(en_call_t *call, const char *uuid, fw_model_t *m, en_err_t *err)
{
    fw_thread_t *t = call->state;
    en_client_t *client = en_modelsvc_client(t->svc);
    if (!client)
        return en_err_set(err, EN_UNAVAILABLE, "no registry to find controller %s", uuid);
    En__GetControllerForServiceRequest q = EN__GET_CONTROLLER_FOR_SERVICE_REQUEST__INIT;
    q.key_case = EN__GET_CONTROLLER_FOR_SERVICE_REQUEST__KEY_UUID;
    q.uuid = (char *)uuid;
    En__GetControllerForServiceResult *found = NULL;
    int64_t left = call->deadline_ms ? call->deadline_ms - en_now_ms() : 30000;
    if (en_client_call(client, "registry", "GetControllerForService", NULL, &q.base,
                       &en__get_controller_for_service_result__descriptor,
                       (ProtobufCMessage **)&found, (int)(left > 0 ? left : 1), err))
        return -1;
    int rc = found->cloud ? fw_connect(call, found->cloud, m, err)
                          : en_err_set(err, EN_INTERNAL, "controller %s has no cloud spec", uuid);
    protobuf_c_message_free_unpacked(&found->base, NULL);
    return rc;
}

//  The groups the request names, in the call's arena.
static int
s_targets(en_call_t *call, const En__DeleteGroupsRequest *req, const fw_model_t *m,
          const char ***names, size_t *count, en_err_t *err)
{
    *count = 0;
    if (req->n_machine_ids) {
        *names = en_arena_array(call->arena, req->n_machine_ids, sizeof(char *));
        if (m->mode != EN_FW_INSTANCE)
            return 0; // machines have their own groups in instance mode only
        for (size_t i = 0; i < req->n_machine_ids; i++) {
            char name[EN_FW_GROUP_MAX];
            en_fw_group_machine(m->uuid, req->machine_ids[i], name);
            (*names)[(*count)++] = en_arena_strdup(call->arena, name);
        }
        return 0;
    }
    en_tag_t filter = req->whole_model ? (en_tag_t){"juju-model-uuid", m->uuid}
                                       : (en_tag_t){"juju-controller-uuid", req->controller_uuid};
    char **listed = NULL;
    size_t n = 0;
    if (m->ops->list_groups(m->conn, &filter, 1, &listed, &n, err))
        return -1;
    *names = en_arena_array(call->arena, n ? n : 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        (*names)[(*count)++] = en_arena_strdup(call->arena, listed[i]);
        free(listed[i]);
    }
    free(listed);
    return 0;
}

//  A group still there, with the error that kept it.
static void
s_left(en_arena_t *a, En__DeleteGroupsResult *res, const char *name, const en_err_t *err)
{
    En__Error *pe = en_arena_alloc(a, sizeof *pe);
    en__error__init(pe);
    pe->kind = (En__ErrorKind)err->kind;
    pe->message = en_arena_strdup(a, err->message);
    pe->retryable = err->retryable;
    res->left[res->n_left++] = (char *)name;
    res->errors[res->n_errors++] = pe;
}

//  Delete every group of names, retrying the retryable failures until
//  until_ms; fills res (deleted, left and their errors).
static void
s_delete_insistently(en_call_t *call, const fw_model_t *m, const char **names, size_t n,
                     int64_t until_ms, En__DeleteGroupsResult *res)
{
    en_arena_t *a = call->arena;
    res->deleted = en_arena_array(a, n ? n : 1, sizeof(char *));
    res->left = en_arena_array(a, n ? n : 1, sizeof(char *));
    res->errors = en_arena_array(a, n ? n : 1, sizeof(En__Error *));
    en_err_t *errs = en_arena_array(a, n ? n : 1, sizeof(en_err_t));
    const char **pending = en_arena_array(a, n ? n : 1, sizeof(char *));
    size_t npending = 0;
    for (size_t attempt = 0; n; attempt++) {
        npending = 0;
        for (size_t i = 0; i < n; i++) {
            en_err_t *e = &errs[npending];
            if (m->ops->delete_group(m->conn, names[i], e) == 0)
                res->deleted[res->n_deleted++] = (char *)names[i];
            else if (e->retryable)
                pending[npending++] = names[i];
            else
                s_left(a, res, names[i], e);
        }
        if (npending == 0 || !fw_backoff(call, attempt, until_ms))
            break;
        // the next round deletes what is pending; names and pending are
        // distinct arrays, so copy the pending names over the first n
        memcpy(names, pending, npending * sizeof(char *));
        n = npending;
    }
    for (size_t i = 0; i < npending; i++)
        s_left(a, res, pending[i], &errs[i]);
    for (size_t i = 0; i < res->n_left; i++)
        en_log(EN_LOG_WARN, call->request_id, "security group %s left behind: %s", res->left[i],
               res->errors[i]->message);
}

static int
s_delete_groups(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res_,
                en_err_t *err)
{
    const En__DeleteGroupsRequest *req = (const void *)req_;
    En__DeleteGroupsResult *res = (void *)res_;
    bool by_controller = req->controller_uuid && *req->controller_uuid;
    if ((req->n_machine_ids > 0) + req->whole_model + by_controller != 1)
        return en_err_set(err, EN_NOT_VALID,
                          "DeleteGroups needs exactly one of machine_ids, whole_model and "
                          "controller_uuid");
    fw_model_t m;
    bool has_model = call->model_uuid && *call->model_uuid;
    if (by_controller && !has_model ? s_controller_cloud(call, req->controller_uuid, &m, err)
                                    : fw_model(call, &m, err))
        return -1;
    if (!m.ops)
        return 0; // a cloud without firewalling has no groups to delete
    const char **names = NULL;
    size_t n = 0;
    if (s_targets(call, req, &m, &names, &n, err))
        return en_err_annotate(err, "cannot list security groups");
    int64_t margin = S_REPLY_MARGIN_MS, now = en_now_ms();
    int64_t until = now + (int64_t)(S_NO_DEADLINE_MS * en_retry_scale());
    if (call->deadline_ms) {
        if (call->deadline_ms - now < 2 * margin)
            margin = (call->deadline_ms - now) / 2;
        until = call->deadline_ms - margin;
    }
    s_delete_insistently(call, &m, names, n, until, res);
    return 0;
}

#define S_ROUTE(method, fn)                                                                        \
    {                                                                                              \
        &en__firewaller__descriptor, method, fn, 0                                                 \
    }

const en_route_t fw_group_routes[] = {
    S_ROUTE("EnsureGroups", s_ensure_groups),
    S_ROUTE("DeleteGroups", s_delete_groups),
};
const size_t fw_group_route_count = sizeof fw_group_routes / sizeof fw_group_routes[0];
