/*  specproto.h — clouds and cloud specs between the C values
    (cloudfile.h's en_cloud_t, en_cloud_spec_t, en_credential_t) and the
    wire's en.Cloud, en.CloudSpec and en.Credential (types.proto), for
    those who send a cloud (the registry, the CLI's add-cloud) or receive
    a spec (the registry, and every service that opens a driver from a
    model's spec: broker, firewaller, networking).

    The credential travels with the spec (it is absent when the cloud
    needs none): a driver opened without it cannot reach a cloud that
    needs one (an https LXD with a certificate credential). */
#ifndef EN_SPECPROTO_H
#define EN_SPECPROTO_H

#include <jansson.h>

#include "common/arena.h"
#include "common/cloudfile.h"
#include "types.pb-c.h"

//  The C value of a wire credential (malloc'd; NULL for NULL).
en_credential_t *en_credential_from_proto(const En__Credential *m);
//  The C value of a wire spec, every string copied (malloc'd; an empty
//  spec for NULL). Free with en_cloud_spec_clear, then free.
en_cloud_spec_t *en_cloud_spec_from_proto(const En__CloudSpec *m);
//  What tells two specs' connections apart: type, name, region, endpoint
//  and a hash of the credential, so that a credential replaced opens a
//  new connection instead of reusing the old one (malloc'd).
char *en_cloud_spec_proto_key(const En__CloudSpec *m);

//  A cloud's typed YAML config as a JSON object (a new reference; bool,
//  int, float and null keep their types): the wire carries a config as
//  JSON text.
json_t *en_kvlist_to_json(const en_kvlist_t *kv);
//  The wire form of a cloud, built in the arena (freed with it).
En__Cloud *en_cloud_to_proto(en_arena_t *a, const en_cloud_t *c);

#endif
