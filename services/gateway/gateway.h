/*  gateway.h — the gateway: the 7/MDP broker for every service plus the
    composer threads that serve `environ.v1` methods needing more than one
    service. */
#ifndef EN_GATEWAY_H
#define EN_GATEWAY_H

#include "bus/broker.h"
#include "bus/client.h"
#include "bus/modelcache.h"
#include "bus/service.h"
#include "environ.pb-c.h"
#include "firewaller.pb-c.h"

typedef struct gateway gateway_t;

typedef struct {
    const char *bind;  // comma-separated public endpoints
    const char *home;
    int composers;     // composer threads
} gateway_opts_t;

//  The forward table (method -> owning service).
const en_forward_t *gateway_forwards(size_t *count);
const char *gateway_owner(const char *method);

//  Start the broker (binding opts->bind plus the in-process endpoint and the
//  event proxy); NULL with err when an endpoint cannot be bound.
gateway_t *gateway_new(const gateway_opts_t *opts, en_err_t *err);
void gateway_destroy(gateway_t **self_p);

//  The composer service definition (routes built from environ.proto).
const en_service_def_t *gateway_composer(gateway_t *self);
//  In-process endpoint the composers connect to.
const char *gateway_inproc(gateway_t *self);

//  --------------------------------------------------------------------------
//  Compositions (run in composer threads; call->state is this)

typedef struct {
    en_client_t *client;     // MDP client of the internal services, via inproc
    en_modelcache_t *models; // models this composer has resolved
} gateway_composer_state_t;

//  A public method served by a composition instead of a forward.
typedef struct {
    const char *method;
    en_handler_fn *fn;
} gateway_composition_t;

//  The composition tables, one per file.
extern const gateway_composition_t gateway_bootstrap_compositions[];
extern const size_t gateway_bootstrap_composition_count;
extern const gateway_composition_t gateway_batch_compositions[];
extern const size_t gateway_batch_composition_count;
extern const gateway_composition_t gateway_firewall_compositions[];
extern const size_t gateway_firewall_composition_count;
extern const gateway_composition_t gateway_network_compositions[];
extern const size_t gateway_network_composition_count;

//  Whether this build ships `service`; a step for any other answers
//  NOT_IMPLEMENTED.
bool gateway_service_landed(const char *service);
//  A request id for a part of a public call: the first 128 bits of
//  SHA-256(public id "/" tag "/" index) in hex, so a resent public call
//  derives the same ids (services stay exactly-once); random when the
//  public call has no id.
void gateway_derive_id(const en_call_t *call, const char *tag, size_t index, char out[33]);
//  One step of a composition: the same method, request, model, request id
//  and deadline sent on to `service`; its result (or error) becomes ours.
//  The step that may publish progress keeps the public id (subscribers
//  know only that one); every other part of a composition derives its own.
int gateway_step(en_call_t *call, const char *service, const ProtobufCMessage *req,
                 ProtobufCMessage *res, en_err_t *err);
//  Any call on the composer's client within the public call's deadline:
//  one call at a time, the result decoded into the call's arena.
//  request_id NULL derives one from the public id, service and method.
int gateway_call(en_call_t *call, const char *service, const char *method,
                 const char *model_uuid, const char *request_id, const ProtobufCMessage *req,
                 ProtobufCMessage *res, en_err_t *err);

//  --------------------------------------------------------------------------
//  Firewall groups (firewall.c): the steps the instance compositions share

//  registry MarkModelDying: the first step of Destroy and DestroyController.
int gateway_mark_dying(en_call_t *call, const char *model_uuid, en_err_t *err);
//  Whether a firewaller error means the cloud has no firewall (then there
//  are no groups to make or delete).
bool gateway_no_firewall(const en_err_t *err);
//  EnsureGroups for machines before the broker starts their instances (a
//  cloud without a firewall counts as done).
int gateway_ensure_groups(en_call_t *call, const char *model_uuid, const char *controller_uuid,
                          const char *const *machine_ids, size_t n, en_err_t *err);
//  For a batch: one EnsureGroups request for machines (in the call's
//  arena), and whether an EnsureGroups outcome failed the machines (then
//  *err is why, in the words of gateway_ensure_groups).
const ProtobufCMessage *gateway_ensure_groups_request(en_call_t *call,
                                                      const char *controller_uuid,
                                                      const char *const *machine_ids, size_t n);
bool gateway_ensure_groups_failed(const en_err_t *outcome, en_err_t *err);
//  The machine id the broker names a start's instance and groups for
//  ("0" when none is given), and whether the broker refuses the start's
//  parameters outright (then no groups are made for it).
const char *gateway_machine_id(const En__StartInstanceParams *p);

//  The image step (images.c): out[i] is params[i], or an arena copy that
//  carries the images imagemeta found for its release and arch; errs[i]
//  the item's lookup error (kind EN_OK when none). Returns 0 (-1 only for
//  a failure of the whole call).
int gateway_images(en_call_t *call, const char *model_uuid, En__StartInstanceParams *const *params,
                   size_t n, En__StartInstanceParams **out, en_err_t *errs, en_err_t *err);
bool gateway_start_refused(const En__StartInstanceParams *p);
//  DeleteGroups; groups left are logged and make the call fail, naming
//  them (EC2's `cannot delete security group "<g>": consider deleting it
//  manually`).
int gateway_delete_groups(en_call_t *call, const char *model_uuid,
                          const En__DeleteGroupsRequest *req, en_err_t *err);
//  DeleteGroups controller_uuid (any model's), as above.
int gateway_destroy_controller_groups(en_call_t *call, const char *model_uuid,
                                      const char *controller_uuid, en_err_t *err);
//  The machines' own groups after their instances stopped, fanned out in
//  chunks; what is left is logged (the model's Destroy deletes it).
void gateway_delete_machine_groups(en_call_t *call, const char *const *machine_ids, size_t n,
                                   size_t window);

#endif
