/*  modelsvc.h — what a stateless model service keeps per worker thread,
    and how it finds the cloud of the model a call names.

    The firewaller and the networking service hold no state of their own:
    every call names its model (the envelope's model uuid), the registry
    owns the model's cloud spec and config, and the cloud owns everything
    else. So each worker thread needs the same three things: an MDP client
    to the gateways (for the registry), a model cache over it (dropped on
    the registry's change events, bus/modelcache.h), and one open cloud
    connection per cloud spec (a driver connection is not thread-safe, and
    opening one never talks to the cloud, so a small table per thread with
    oldest-first eviction is enough). This class is those three, and
    en_modelsvc_resolve turns a call into its model and connection.

    The broker has the same shape but keeps caches per connection (zones,
    catalogue), so it has its own table. */
#ifndef EN_MODELSVC_H
#define EN_MODELSVC_H

#include "bus/client.h"
#include "bus/modelcache.h"
#include "bus/service.h"
#include "environ.pb-c.h"
#include "providers/provider.h"

//  Cloud connections one thread keeps open before it closes the oldest.
#define EN_MODELSVC_CONN_MAX 16

typedef struct en_modelsvc en_modelsvc_t;

//  The call's model, as a handler needs it: strings in the call's arena
//  (the cache may drop its entry on the next lookup), the provider and
//  the thread's connection to the model's cloud, borrowed until the call
//  ends. A model-less view (en_modelsvc_connect) has "" for the strings.
typedef struct {
    const char *uuid;
    const char *name;
    const char *controller_uuid; // "" when none
    const char *region;
    const char *config_json; // the model config, "{}" when none
    bool dying;              // being destroyed: see en_model_refuse_dying
    const en_provider_t *provider;
    en_compute_t *conn;
} en_modelsvc_model_t;

//  One thread's state. home: the state directory drivers open clouds
//  under; gateways: comma-separated endpoints ("" or NULL: no registry,
//  for tests that only connect by spec); concern: what the service does,
//  for the error on a provider without compute (`provider "x" does not
//  support <concern>`). NULL with err when the client or cache fails.
en_modelsvc_t *en_modelsvc_new(const char *home, const char *gateways, const char *concern,
                               en_err_t *err);
void en_modelsvc_destroy(en_modelsvc_t **self_p);

//  The thread's MDP client (NULL without gateways), for other registry
//  calls.
en_client_t *en_modelsvc_client(en_modelsvc_t *self);

//  The call's model and its connection. NOT_VALID `<method>: no model
//  named` without a model uuid; UNAVAILABLE without a registry; the
//  registry's error (NOT_FOUND for an unknown model); INTERNAL for a model
//  without a cloud spec; NOT_SUPPORTED for a provider without compute.
int en_modelsvc_resolve(en_modelsvc_t *self, en_call_t *call, en_modelsvc_model_t *model,
                        en_err_t *err);

//  The same, for a service whose concern a provider may lack altogether
//  (networking answers "not supported" rather than fail): a provider
//  without compute, or one this build does not ship (a registered name
//  only), is not an error; model->conn is NULL then, and model->provider
//  is NULL for the latter.
int en_modelsvc_resolve_any(en_modelsvc_t *self, en_call_t *call, en_modelsvc_model_t *model,
                            en_err_t *err);

//  A model-less view of a cloud (for calls that act on a controller's
//  cloud by tags alone).
int en_modelsvc_connect(en_modelsvc_t *self, const En__CloudSpec *spec, en_modelsvc_model_t *model,
                        en_err_t *err);

#endif
