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

#include <pthread.h>

#include "bus/client.h"
#include "bus/modelcache.h"
#include "bus/progress.h"
#include "bus/service.h"
#include "common/consproto.h"
#include "common/constraints.h"
#include "environ.pb-c.h"
#include "providers/provider.h"

#define BROKER_COMPUTE_MAX 16

//  How long a thread trusts what it remembers of a cloud (below) before
//  it asks again: zones and per-model zone populations.
#define BROKER_ZONES_TTL_MS 10000
#define BROKER_POPULATION_TTL_MS 10000
#define BROKER_POPULATIONS_MAX 8

//  How many live instances of one model each zone holds, as this process
//  last listed them plus the instances its threads created since.
typedef struct {
    char *model;    // uuid
    char **zones;   // zone names
    size_t *counts; // live instances per zone
    size_t count;
    int64_t list_ms; // monotonic; when listed from the cloud
} broker_population_t;

typedef struct {
    en_service_base_t base; // home, gateways, definition
    // zone populations are shared by the process's threads, so starts
    // handled by different threads still spread least-populated-first;
    // other replicas' creates show after BROKER_POPULATION_TTL_MS
    pthread_mutex_t population_lock;
    broker_population_t populations[BROKER_POPULATIONS_MAX];
    size_t population_count;
} broker_t;

//  One open compute connection and what this thread remembers of its
//  cloud, so a StartInstance costs one API call (the create) on the happy
//  path: the zones for BROKER_ZONES_TTL_MS (and the process's model
//  populations for BROKER_POPULATION_TTL_MS, in broker_t: bounded
//  staleness, since other replicas create too).
typedef struct {
    char *key; // type|name|region|endpoint
    const en_compute_ops_t *ops;
    en_compute_t *conn;
    bool firewall; // the provider has security groups
    const en_network_ops_t *net; // NULL: the provider has no networking
    en_zone_t *zones; // NULL until fetched, or after broker_zones_forget
    size_t zone_count;
    int64_t zones_ms; // monotonic; when fetched
} broker_conn_t;

typedef struct {
    broker_t *broker;
    en_client_t *client;     // NULL without gateways (tests)
    en_modelcache_t *models; // NULL without gateways
    en_progress_t *progress; // progress lines (drops them without gateways)
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
    const char *name;
    bool dying; // being destroyed: nothing new is started (en_model_refuse_dying)
    const en_compute_ops_t *ops;
    en_compute_t *conn;
    bool firewall;        // the provider has security groups (en_firewall_ops_t)
    const en_network_ops_t *net; // NULL: the provider has no networking
    broker_conn_t *cache; // the connection's caches; NULL: none, ask the cloud
    broker_t *broker;     // the process (shared populations); NULL: none
} broker_model_t;

//  The cloud's constraints policy (EC2's when the driver names none).
const en_compute_policy_t *broker_policy(const broker_model_t *m);

broker_t *broker_new(const char *home, const char *gateways, en_err_t *err);
void broker_destroy(broker_t **self_p);
const en_service_def_t *broker_service(broker_t *self);

//  Resolve the call's model and its compute connection. NOT_VALID without
//  a model, NOT_SUPPORTED when the provider has no compute driver.
int broker_model(en_call_t *call, broker_model_t *model, en_err_t *err);

//  A model-less view of a cloud spec (uuid "", config {}), for calls that
//  act on a cloud by tags alone (DestroyController without model records).
int broker_connect(en_call_t *call, const En__CloudSpec *spec, broker_model_t *model,
                   en_err_t *err);

//  ENVIRONS_RETRY_SCALE (default 1; tests shorten every wait with 0.01) and
//  a sleep that ignores non-positive times.
double broker_retry_scale(void);
void broker_sleep_ms(int64_t ms);

//  The region's zones, copied into the arena: from the connection's cache
//  unless it is older than BROKER_ZONES_TTL_MS or `fresh` asks for the
//  cloud's current answer.
int broker_zones(broker_model_t *m, en_arena_t *a, bool fresh, en_zone_t **zones, size_t *count,
                 en_err_t *err);
//  Forget the cached zones (a create just found one constrained).
void broker_zones_forget(broker_model_t *m);
//  Live instances of the model in each of zones[0..n) into counts: from
//  the process's cache while it is younger than BROKER_POPULATION_TTL_MS,
//  else listed from the cloud (one API call).
//  With `reserve`, the least populated of them (ties by name) is counted
//  one more at once and named in *reserve; the counts given back are from
//  before. The reservation is settled with broker_population_move.
int broker_population(broker_model_t *m, const char *const *zones, size_t n, size_t *counts,
                      const char **reserve, en_err_t *err);
//  One instance of the model counted in `from` is in `to` (either NULL:
//  a reservation dropped, an instance created without one).
void broker_population_move(broker_model_t *m, const char *from, const char *to);
//  Instances of the model were stopped: list afresh next time.
void broker_population_forget(broker_model_t *m);

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

//  StartInstance on a resolved model (start.c); Bootstrap starts its
//  controller instance with it.
int broker_start_instance(en_call_t *call, broker_model_t *m, const En__StartInstanceParams *p,
                          En__StartInstanceResult *res, en_err_t *err);

//  Where a start's NICs go (spaces.c): per zone of the region that can
//  take the instance, the subnets it is created in (primary first), from
//  the spaces constraint, EndpointBindings and SubnetsToZones. Inactive
//  (no ask) means the cloud's default subnet in any zone. Strings live in
//  the call's arena.
typedef struct {
    bool active;
    const char *spaces;   // the positive spaces as "[a b]", for messages
    const char *excluded; // the negative ones, likewise
    const char **zones;
    const char ***subnets;
    size_t *subnet_counts;
    size_t zone_count;
} broker_netplan_t;

//  Errors (NOT_VALID): `space "<s>" not found`, `endpoint "<e>" is bound
//  to unknown space "<id>"`, `space "<s>" is both required and excluded`,
//  `subnet "<s>" not found` (SubnetsToZones); NOT_SUPPORTED `spaces not
//  supported` when the cloud has no spaces.
int broker_netplan(en_call_t *call, broker_model_t *m, const en_constraints_t *cons,
                   const En__StartInstanceParams *p, broker_netplan_t *plan, en_err_t *err);
//  The subnets for zone (NULL, 0 when the plan is inactive); false when the
//  zone cannot take the instance.
bool broker_netplan_zone(const broker_netplan_t *plan, const char *zone,
                         const char *const **subnets, size_t *count);
//  The error when no zone can take the instance (zone NULL), or the
//  placement's zone cannot: NOT_VALID, not retryable, `no available zone
//  has a subnet in each of spaces [dmz storage]`, `availability zone
//  "sim-east-b" has no subnet in each of spaces [storage]`, `... outside
//  spaces [internal]`.
int broker_netplan_unmet(const broker_netplan_t *plan, const char *zone, en_err_t *err);

//  The zones constraint (2.4+): whether zone is allowed.
bool broker_zone_allowed(const en_constraints_t *cons, const char *zone);

//  The model's constraints validator (policy.c): the sim's vocabularies
//  from the region's catalogue. Caller destroys.
en_cons_validator_t *broker_validator(broker_model_t *m, en_err_t *err);

//  Route groups
extern const en_route_t broker_instance_routes[];
extern const size_t broker_instance_route_count;
extern const en_route_t broker_start_routes[];
extern const size_t broker_start_route_count;
extern const en_route_t broker_bootstrap_routes[];
extern const size_t broker_bootstrap_route_count;
extern const en_route_t broker_policy_routes[];
extern const size_t broker_policy_route_count;

#endif
