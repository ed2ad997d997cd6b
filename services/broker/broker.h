/*  broker.h — the broker service: instances and constraints (Juju's
    InstanceBroker, InstanceTagger, ControllerInstances, the constraints
    validator and PrecheckInstance).

    The broker keeps no state of its own: the cloud is the source of truth.
    Instances are found by their ownership tags (juju-model-uuid,
    juju-controller-uuid, juju-is-controller, juju-machine-id,
    juju-machine-nonce), which are written in the create call itself, so a
    restarted broker, or a second replica, sees exactly what the first saw.
    A resent StartInstance finds the instance its first attempt created (same
    name, same nonce) and adopts it instead of starting a second one.

    Per worker thread: an MDP client to the gateways (for the registry), a
    model cache, and one open compute connection per cloud spec. Handlers
    are split by topic: instances.c (Instances, AllInstances, StopInstances,
    ControllerInstances, MaintainInstance, TagInstance), start.c
    (StartInstance) and policy.c (validator and precheck). */
#ifndef EN_BROKER_H
#define EN_BROKER_H

#include "bus/client.h"
#include "bus/modelcache.h"
#include "bus/service.h"
#include "common/constraints.h"
#include "environ.pb-c.h"
#include "providers/provider.h"

typedef struct {
    char *home;
    char *gateways;
    en_route_t *routes;
    en_service_def_t def;
} broker_t;

#define BROKER_COMPUTE_MAX 16

typedef struct {
    char *key; // type|name|region|endpoint
    const en_compute_ops_t *ops;
    en_compute_t *conn;
} broker_conn_t;

typedef struct {
    broker_t *broker;
    en_client_t *client;     // NULL without gateways (tests)
    en_modelcache_t *models; // NULL without gateways
    broker_conn_t conns[BROKER_COMPUTE_MAX];
    size_t conn_count;
} broker_thread_t;

//  What a handler needs about the call's model: borrowed until the call
//  ends.
typedef struct {
    const char *uuid;
    const char *controller_uuid;
    const char *region;
    const char *config_json; // the model config, a JSON object
    const en_compute_ops_t *ops;
    en_compute_t *conn;
} broker_model_t;

broker_t *broker_new(const char *home, const char *gateways, en_err_t *err);
void broker_destroy(broker_t **self_p);
const en_service_def_t *broker_service(broker_t *self);

//  Resolve the call's model and its compute connection. NOT_VALID without
//  a model, NOT_SUPPORTED when the provider has no compute driver.
int broker_model(en_call_t *call, broker_model_t *model, en_err_t *err);

//  Describe ids, retrying a bounded number of times with jitter while some
//  are missing (EC2-style eventual consistency: a just-created instance
//  may be invisible). ENVIRONS_RETRY_SCALE scales the waits (tests: 0.01).
int broker_describe(broker_model_t *m, const char *const *ids, size_t n, bool retry,
                    en_instance_t **out, size_t *count, en_err_t *err);
//  Sleep before retry `attempt` (0, 1, ...); false when the attempts are
//  spent (then it does not sleep).
bool broker_retry_wait(size_t attempt);
//  Whether an instance carries tag key=value.
bool broker_has_tag(const en_instance_t *inst, const char *key, const char *value);

//  Conversions (broker.c); results live in the call's arena.
En__Instance *broker_instance_to(en_arena_t *a, const en_instance_t *inst);
En__HardwareCharacteristics *broker_hardware_to(en_arena_t *a, const en_instance_t *inst);
int broker_cons_from(const En__Constraints *c, en_constraints_t *out, en_err_t *err);
En__Constraints *broker_cons_to(en_arena_t *a, const en_constraints_t *c);

//  The model's constraints validator (policy.c): the sim's vocabularies
//  from the region's catalogue. Caller destroys.
en_cons_validator_t *broker_validator(broker_model_t *m, en_err_t *err);

//  Route groups
extern const en_route_t broker_instance_routes[];
extern const size_t broker_instance_route_count;
extern const en_route_t broker_start_routes[];
extern const size_t broker_start_route_count;
extern const en_route_t broker_policy_routes[];
extern const size_t broker_policy_route_count;

#endif
