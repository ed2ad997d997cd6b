/*  network.c — the gateway's networking composition.

    AllocateContainerAddressesMany (a provisioner preparing many containers
    at once): one networking AllocateContainerAddresses per item, fanned
    out by fanout.c in the window of the cloud's concurrency limit, one
    result per item, in order. A failed item carries its own Error; the
    others go on. Each item's request id is derived from the public id and
    its index (gateway_derive_id), so a resent batch is exactly-once per
    item; the cloud itself keeps an allocation once per host, container and
    interface, so even a new id for the same container answers the same
    addresses. Retryable errors (the cloud throttled, a replica died) are
    sent again by the engine. The single-item networking methods are
    forwards (routes.c). */
#include "common/clock.h"
#include "common/log.h"
#include "environ.pb-c.h"
#include "fanout.h"
#include "gateway.h"

static int
s_allocate_many(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res_,
                en_err_t *err)
{
    const En__AllocateContainerAddressesManyRequest *req = (const void *)req_;
    En__AllocateContainerAddressesManyResult *res = (void *)res_;
    gateway_composer_state_t *state = call->state;
    if (!en_modelcache_get(state->models, call->model_uuid, err))
        return -1;
    size_t n = req->n_items;
    if (n == 0)
        return 0;
    gateway_fanout_t f =
        gateway_fanout_new(call, "networking", "AllocateContainerAddresses",
                           &en__allocate_container_addresses_result__descriptor, n);
    for (size_t i = 0; i < n; i++) {
        const En__AllocateContainerAddressesItem *item = req->items[i];
        En__AllocateContainerAddressesRequest *one = en_arena_alloc(call->arena, sizeof *one);
        en__allocate_container_addresses_request__init(one);
        one->host_instance_id = item->host_instance_id;
        one->container_tag = item->container_tag;
        one->n_prepared = item->n_prepared;
        one->prepared = item->prepared;
        f.items[i].req = &one->base;
    }
    f.window = gateway_fanout_window(call);
    int64_t started = en_mono_ms();
    gateway_fanout_run(&f);
    res->items = en_arena_array(call->arena, n, sizeof(En__AllocateContainerAddressesItemResult *));
    for (size_t i = 0; i < n; i++) {
        En__AllocateContainerAddressesItemResult *item = en_arena_alloc(call->arena, sizeof *item);
        en__allocate_container_addresses_item_result__init(item);
        if (f.items[i].err.kind == EN_OK) {
            const En__AllocateContainerAddressesResult *r = (const void *)f.items[i].res;
            item->n_interfaces = r->n_interfaces;
            item->interfaces = r->interfaces;
        } else
            item->error = gateway_error_to(call->arena, &f.items[i].err);
        res->items[res->n_items++] = item;
    }
    en_log(EN_LOG_INFO, call->request_id,
           "%s: %zu item(s), %zu failed, %zu retried, %zu in flight, %lld ms", call->method, n,
           f.failed, f.retries, f.window, (long long)(en_mono_ms() - started));
    return 0;
}

const gateway_composition_t gateway_network_compositions[] = {
    {"AllocateContainerAddressesMany", s_allocate_many},
};
const size_t gateway_network_composition_count =
    sizeof gateway_network_compositions / sizeof gateway_network_compositions[0];
