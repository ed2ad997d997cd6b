/*  bootstrap.c — the gateway's controller compositions: Bootstrap
    (bootstrap.Prepare + Environ.Bootstrap + the store update, §7) and
    DestroyControllerByName (environs.Destroy, statement 61).

    Bootstrap, with no model in the envelope:
      1. registry PrepareController: the name must be new (ALREADY_EXISTS
         `controller "<name>" already exists`, nothing written); it makes
         the controller uuid, the CA and the controller model, and writes
         the controller to controllers.yaml.
      2. broker PrepareForBootstrap, then Bootstrap on the controller model.
      3. registry UpdateController: the API endpoints into controllers.yaml.
    A failure after step 1 is cleaned up like Juju's handleBootstrapError
    (environs.Destroy: DestroyController, then RemoveController) unless
    keep_broken, which leaves the controller for kill-controller.
    Every step carries the public request id: a resent Bootstrap is
    answered from the registry's record and adopts the instance its first
    attempt started, so it neither fails nor doubles anything.

    Before the broker's Bootstrap the firewaller makes machine 0's groups
    (the controller instance is created in them); DestroyControllerByName
    deletes every group of the controller after the broker's
    DestroyController and before the store forgets the controller.

    With a model in the envelope Bootstrap is Environ.Bootstrap alone on
    that (already prepared) model: its groups, then the broker. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/consproto.h"

#include "common/log.h"
#include "environ.pb-c.h"
#include "gateway.h"
#include "registry.pb-c.h"

//  The machine Bootstrap starts (the broker's bootstrap.c names it too).
#define S_CONTROLLER_MACHINE "0"

//  The image step of StartInstance (images.c) for the controller machine:
//  the bootstrap series (else the model's default-series) and the arch of
//  the bootstrap constraints. Images the caller gave are kept; no image
//  anywhere fails the bootstrap before anything is made.
static int
s_bootstrap_images(en_call_t *call, const char *model, const char *controller_uuid,
                   En__BootstrapRequest *bq, en_err_t *err)
{
    if (bq->n_image_metadata > 0)
        return 0;
    En__StartInstanceParams p = EN__START_INSTANCE_PARAMS__INIT;
    p.series = bq->bootstrap_series && *bq->bootstrap_series ? bq->bootstrap_series : NULL;
    p.constraints = bq->bootstrap_constraints && bq->bootstrap_constraints->_arch_case
                        ? bq->bootstrap_constraints
                        : bq->model_constraints;
    p.machine_id = (char *)S_CONTROLLER_MACHINE;
    p.machine_nonce = "bootstrap";
    p.controller_uuid = (char *)controller_uuid;
    En__StartInstanceParams *const in = &p;
    En__StartInstanceParams *out = NULL;
    en_err_t found;
    if (gateway_images(call, model, &in, 1, &out, &found, err))
        return -1;
    if (found.kind != EN_OK) {
        *err = found;
        return en_err_annotate(err, "cannot start bootstrap instance");
    }
    bq->n_image_metadata = out->n_image_metadata;
    bq->image_metadata = out->image_metadata;
    return 0;
}

//  environs.Destroy(controllerName): 2.3's answer for an unknown name is
//  success with nothing destroyed.
static int
s_destroy_by_name(en_call_t *call, const char *name, en_err_t *err)
{
    En__GetControllerForServiceRequest q = EN__GET_CONTROLLER_FOR_SERVICE_REQUEST__INIT;
    q.key_case = EN__GET_CONTROLLER_FOR_SERVICE_REQUEST__KEY_NAME;
    q.name = (char *) name;
    En__GetControllerForServiceResult found = EN__GET_CONTROLLER_FOR_SERVICE_RESULT__INIT;
    if (gateway_call(call, "registry", "GetControllerForService", NULL, NULL, &q.base,
                     &found.base, err)) {
        if (err->kind == EN_NOT_FOUND) {
            en_log(EN_LOG_INFO, call->request_id, "controller %s unknown: nothing to destroy",
                   name);
            return 0;
        }
        return -1;
    }
    // the broker finds the cloud from the controller store and removes
    // everything tagged with the controller's uuid, hosted models included
    En__DestroyControllerRequest d = EN__DESTROY_CONTROLLER_REQUEST__INIT;
    d.controller_uuid = found.controller->uuid;
    En__DestroyControllerResult dr = EN__DESTROY_CONTROLLER_RESULT__INIT;
    if (gateway_call(call, "broker", "DestroyController", NULL, NULL, &d.base,
                     &dr.base, err))
        return -1;
    // then the groups tagged with the controller (in use until the
    // instances went); any left keep the controller in the store, so
    // kill-controller can be run again
    if (gateway_destroy_controller_groups(call, NULL, d.controller_uuid, err))
        return -1;
    En__RemoveControllerRequest r = EN__REMOVE_CONTROLLER_REQUEST__INIT;
    r.controller_name = (char *) name;
    En__RemoveControllerResult rr = EN__REMOVE_CONTROLLER_RESULT__INIT;
    return gateway_call(call, "registry", "RemoveController", NULL, NULL, &r.base,
                        &rr.base, err);
}

static int
s_destroy_controller_by_name(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res,
                             en_err_t *err)
{
    const En__DestroyControllerByNameRequest *req = (const void *) req_;
    (void) res;
    if (!req->controller_name || !*req->controller_name)
        return en_err_set(err, EN_NOT_VALID, "empty controller name not valid");
    return s_destroy_by_name(call, req->controller_name, err);
}

static int
s_store_model_constraints(en_call_t *call, const char *model, const En__Constraints *cons,
                          en_err_t *err)
{
    en_constraints_t c;
    en_constraints_init(&c);
    if (en_constraints_from_proto(cons, &c, err))
        return -1;
    char *text = en_constraints_string(&c);
    en_constraints_reset(&c);
    int rc = 0;
    if (text && *text) {
        json_t *delta = json_pack("{s:s}", "constraints", text);
        En__ConfigAttrs attrs = EN__CONFIG_ATTRS__INIT;
        attrs.json = json_dumps(delta, JSON_COMPACT);
        En__SetConfigRequest q = EN__SET_CONFIG_REQUEST__INIT;
        q.config = &attrs;
        En__SetConfigResult r = EN__SET_CONFIG_RESULT__INIT;
        rc = gateway_call(call, "registry", "SetConfig", model, NULL, &q.base, &r.base,
                          err);
        free(attrs.json);
        json_decref(delta);
    }
    free(text);
    return rc;
}

//  The controller machine's firewall groups, which the broker starts the
//  controller instance in.
static int
s_ensure_controller_groups(en_call_t *call, const char *model, const char *controller_uuid,
                           en_err_t *err)
{
    if (!controller_uuid || !*controller_uuid)
        return 0; // the broker refuses the bootstrap, in its words
    const char *machine = S_CONTROLLER_MACHINE;
    return gateway_ensure_groups(call, model, controller_uuid, &machine, 1, err);
}

static int
s_bootstrap(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res_, en_err_t *err)
{
    const En__BootstrapRequest *req = (const void *) req_;
    En__BootstrapResult *res = (void *) res_;
    if (call->model_uuid && *call->model_uuid) {
        gateway_composer_state_t *state = call->state;
        const En__GetModelForServiceResult *m =
            en_modelcache_get(state->models, call->model_uuid, err);
        if (!m || s_ensure_controller_groups(call, m->model->uuid, m->model->controller_uuid, err))
            return -1;
        return gateway_step(call, "broker", req_, res_, err);
    }
    if (!req->controller_name || !*req->controller_name)
        return en_err_set(err, EN_NOT_VALID, "empty controller name not valid");
    if (!req->cloud_name || !*req->cloud_name)
        return en_err_set(err, EN_NOT_VALID, "empty cloud name not valid");

    En__PrepareControllerRequest pq = EN__PREPARE_CONTROLLER_REQUEST__INIT;
    pq.controller_name = req->controller_name;
    pq.cloud_name = req->cloud_name;
    pq.region_name = req->cloud_region;
    pq.credential_name = req->credential_name;
    pq.config = req->model_config;
    En__PrepareControllerResult pr = EN__PREPARE_CONTROLLER_RESULT__INIT;
    if (gateway_call(call, "registry", "PrepareController", NULL, NULL, &pq.base,
                     &pr.base, err))
        return -1;
    const char *model = pr.model->uuid;
    // statement 49: the model's constraints are stored with it, in
    // canonical form (mem=2G is kept as mem=2048M)
    int rc = s_store_model_constraints(call, model, req->model_constraints, err);

    En__PrepareForBootstrapRequest fq = EN__PREPARE_FOR_BOOTSTRAP_REQUEST__INIT;
    En__PrepareForBootstrapResult fr = EN__PREPARE_FOR_BOOTSTRAP_RESULT__INIT;
    En__BootstrapRequest bq = *req;
    bq.cloud_name = pr.controller->cloud;
    bq.cloud_region = pr.controller->region;
    if (rc == 0)
        rc = gateway_call(call, "broker", "PrepareForBootstrap", model, NULL,
                          &fq.base, &fr.base, err);
    if (rc == 0)
        rc = s_bootstrap_images(call, model, pr.controller->uuid, &bq, err);
    if (rc == 0)
        rc = s_ensure_controller_groups(call, model, pr.controller->uuid, err);
    if (rc == 0)
        rc = gateway_call(call, "broker", "Bootstrap", model, call->request_id, &bq.base, res_,
                          err);
    if (rc == 0) {
        En__UpdateControllerRequest uq = EN__UPDATE_CONTROLLER_REQUEST__INIT;
        uq.controller_name = req->controller_name;
        uq.n_api_endpoints = res->n_api_endpoints;
        uq.api_endpoints = res->api_endpoints;
        En__UpdateControllerResult ur = EN__UPDATE_CONTROLLER_RESULT__INIT;
        rc = gateway_call(call, "registry", "UpdateController", NULL, NULL, &uq.base,
                          &ur.base, err);
    }
    if (rc != 0) {
        if (req->keep_broken) {
            en_log(EN_LOG_INFO, call->request_id,
                   "bootstrap of %s failed; resources kept (keep-broken)", req->controller_name);
            return -1;
        }
        // handleBootstrapError: environs.Destroy of what Prepare made
        en_err_t cleanup;
        if (s_destroy_by_name(call, req->controller_name, &cleanup))
            en_log(EN_LOG_WARN, call->request_id, "cannot clean up failed bootstrap of %s: %s",
                   req->controller_name, cleanup.message);
        return -1;
    }
    res->controller_uuid = pr.controller->uuid;
    res->ca_cert = pr.controller->ca_cert;
    res->model_uuid = (char *) model;
    return 0;
}

const gateway_composition_t gateway_bootstrap_compositions[] = {
    {"Bootstrap", s_bootstrap},
    {"DestroyControllerByName", s_destroy_controller_by_name},
};
const size_t gateway_bootstrap_composition_count =
    sizeof gateway_bootstrap_compositions / sizeof gateway_bootstrap_compositions[0];
