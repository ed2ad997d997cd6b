/*  fanout.h — the gateway's fan-out engine: run a list of calls, each one
    call of the same method on one service, with up to `window` of them in
    flight on the composer's asynchronous client, and every one to an
    outcome by the public call's deadline. batch.c (StartInstances,
    StopInstances), firewall.c (OpenPortsMany, ClosePortsMany) and
    network.c (AllocateContainerAddressesMany) build their items and read
    the outcomes; fanout.c says how items are paced, identified and
    retried. */
#ifndef EN_GATEWAY_FANOUT_H
#define EN_GATEWAY_FANOUT_H

#include <stdint.h>

#include "environ.pb-c.h"
#include "gateway.h"

//  Machines per EnsureGroups / DeleteGroups call in a fan-out: such a call
//  makes about one cloud call per machine, one after the other, so a list
//  is cut into about W chunks of at most this many.
#define GATEWAY_GROUP_CHUNK_MAX 64

typedef enum {
    GATEWAY_ITEM_FRESH = 0, // what gateway_fanout_new makes
    GATEWAY_ITEM_IN_FLIGHT,
    GATEWAY_ITEM_BACKING_OFF,
    GATEWAY_ITEM_DONE,
    GATEWAY_ITEM_WAITING // not to be sent until released (on_done below)
} gateway_item_state_t;

typedef struct gateway_fanout gateway_fanout_t;

typedef struct {
    const ProtobufCMessage *req; // the item's request (set by the caller)
    // another call than the fan-out's, for this item (NULL: the fan-out's)
    const char *service;
    const char *method;
    const ProtobufCMessageDescriptor *res_desc;
    char id[33]; // its request id
    gateway_item_state_t state;
    unsigned sends;
    int64_t due;           // monotonic ms; when BACKING_OFF may send again
    en_err_t err;          // the outcome; OK: res is set
    ProtobufCMessage *res; // decoded in the call's arena
} gateway_item_t;

struct gateway_fanout {
    en_call_t *call;
    const char *service; // where every item goes
    const char *method;  // the method of every item
    const ProtobufCMessageDescriptor *res_desc;
    gateway_item_t *items;
    size_t count;
    size_t window;      // set by the caller (gateway_fanout_window)
    unsigned seed;      // backoff jitter (rand_r: no state shared between threads)
    size_t backing_off; // items waiting to be sent again
    size_t retries;
    size_t failed;
    //  Called when item `index` has its outcome: it may release WAITING
    //  items (make them FRESH, or DONE with an err), so that one item's
    //  calls wait for another's without a barrier across the batch.
    void (*on_done)(gateway_fanout_t *f, size_t index);
    void *arg;
};

//  Items of service.method on the call's model, in the call's arena: ids
//  derived from the public id, the method and the index; requests unset.
gateway_fanout_t gateway_fanout_new(en_call_t *call, const char *service, const char *method,
                                    const ProtobufCMessageDescriptor *res_desc, size_t count);
//  Run every item to an outcome (never past the call's deadline). An item
//  the caller set to GATEWAY_ITEM_DONE, with its err, before the run is
//  not sent; ids stay those of the full list, so a resend never gives one
//  item's id to another. FRESH items go out lowest index first; a WAITING
//  item goes once on_done released it (one never released ends INTERNAL).
void gateway_fanout_run(gateway_fanout_t *f);
//  For items that are chunks of the public request (their cut depends on
//  W, which a resend may see change): each item's id from the public id,
//  the method and its packed request, so a resend reuses an id only for
//  the very same contents. Call once every item's req is set.
void gateway_fanout_ids_by_content(gateway_fanout_t *f);
//  The same for item i alone.
void gateway_fanout_id_by_content(gateway_fanout_t *f, size_t i);
//  W: the model's cloud's concurrency limit as the broker reports it
//  (ComputeLimits), else a default.
size_t gateway_fanout_window(en_call_t *call);
//  Chunks of about n/W items, clamped to [min, max], for calls that take
//  a list: how many items per chunk.
size_t gateway_fanout_chunk(size_t n, size_t window, size_t min, size_t max);
//  An item's error as the wire's Error, in the call's arena.
En__Error *gateway_error_to(en_arena_t *a, const en_err_t *err);

#endif
