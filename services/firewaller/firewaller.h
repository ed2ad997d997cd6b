/*  firewaller.h — the firewaller service: port ranges and ingress rules
    (Juju's Firewaller in global mode, InstanceFirewaller in instance mode,
    docs/juju-environs.md §1 G and §4) and the security groups instances
    are created in (firewaller.proto: EnsureGroups, DeleteGroups).

    The model's `firewall-mode` decides everything: in global mode the
    rules live in the group juju-<model>-global, in instance mode each
    machine's in juju-<model>-<machine>, and in mode none there is no group
    and no port call is served. The mode is immutable (the registry refuses
    to change it), so reading it from the cached model config is enough.

    Like the broker, the firewaller keeps no state: the rules are the
    cloud's groups, read on every call, so a restarted firewaller, or a
    second replica, answers exactly what the first would have.

    Per worker thread: the state every stateless model service shares
    (services/common/modelsvc.h: a registry client, a model cache, one open
    cloud connection per cloud spec) and a backoff seed. Handlers are
    split by topic: ports.c (the six port methods) and groups.c
    (EnsureGroups, DeleteGroups). */
#ifndef EN_FIREWALLER_H
#define EN_FIREWALLER_H

#include <stdbool.h>

#include "bus/client.h"
#include "bus/modelcache.h"
#include "bus/service.h"
#include "common/fwgroup.h"
#include "common/portrange.h"
#include "environ.pb-c.h"
#include "firewaller.pb-c.h"
#include "modelsvc.h"
#include "providers/provider.h"

typedef struct {
    en_service_base_t base; // home, gateways, definition
} firewaller_t;

typedef struct {
    firewaller_t *fw;
    en_modelsvc_t *svc; // registry client, model cache, cloud connections
    unsigned seed;      // backoff jitter (rand_r: threads do not share it)
} fw_thread_t;

//  What a handler needs about the call's model: borrowed until the call
//  ends. `ops` is NULL when the provider has no firewall driver.
typedef struct {
    const char *uuid;
    const char *name;
    const char *controller_uuid; // may be ""
    en_fw_mode_t mode;
    bool dying; // being destroyed: no group is made, no port opened
    const en_compute_ops_t *compute;
    const en_firewall_ops_t *ops;
    en_compute_t *conn;
} fw_model_t;

firewaller_t *firewaller_new(const char *home, const char *gateways, en_err_t *err);
void firewaller_destroy(firewaller_t **self_p);
const en_service_def_t *firewaller_service(firewaller_t *self);

//  Resolve the call's model, its firewall mode and its cloud connection.
//  NOT_VALID without a model; INTERNAL for a mode the registry should
//  never have stored.
//  The dying mark as the registry has it now (the model cache lags it):
//  NOT_VALID `[<doing>: ]model "<name>" is being destroyed`.
int fw_fresh_refuse_dying(en_call_t *call, const fw_model_t *m, const char *doing, en_err_t *err);
int fw_model(en_call_t *call, fw_model_t *model, en_err_t *err);
//  A model-less view of a cloud (uuid "", mode instance), for calls that
//  act by tags alone (DeleteGroups of a controller without its models).
int fw_connect(en_call_t *call, const En__CloudSpec *spec, fw_model_t *model, en_err_t *err);
//  NOT_SUPPORTED unless the model's provider has a firewall driver.
int fw_require_driver(const fw_model_t *m, en_err_t *err);

//  The tags a group of the model is created with: juju-model-uuid,
//  juju-controller-uuid (when the model has one) and, for a machine's own
//  group, juju-machine-id (machine_id NULL: none). Returns the count.
size_t fw_group_tags(const fw_model_t *m, const char *controller_uuid, const char *machine_id,
                     en_tag_t tags[3]);
//  Add rules to a group, making the group first when the cloud does not
//  know it (a machine started before its group was ensured).
int fw_authorize(en_call_t *call, const fw_model_t *m, const char *group, const en_tag_t *tags,
                 size_t tag_count, const en_ingress_rule_t *rules, size_t n, en_err_t *err);

//  Wait before retry `attempt` (0, 1, ...) of an insistent loop: jittered
//  exponential backoff scaled by ENVIRONS_RETRY_SCALE. False, without
//  waiting, when the wait would reach past until_ms (wall clock).
bool fw_backoff(en_call_t *call, size_t attempt, int64_t until_ms);

//  Conversions (firewaller.c). From the wire: each rule validated
//  (NOT_VALID with portrange.h's messages), an unrestricted one given
//  0.0.0.0/0 so that it matches what the cloud reads back; free with
//  en_ingress_rules_free. To the wire: results live in the call's arena.
int fw_rules_from(En__IngressRule *const *in, size_t n, en_ingress_rule_t **out, en_err_t *err);
En__IngressRule **fw_rules_to(en_arena_t *a, const en_ingress_rule_t *rules, size_t n);

//  Route groups
extern const en_route_t fw_port_routes[];
extern const size_t fw_port_route_count;
extern const en_route_t fw_group_routes[];
extern const size_t fw_group_route_count;

#endif
