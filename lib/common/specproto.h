/*  specproto.h — a cloud spec between the C value (cloudfile.h's
    en_cloud_spec_t, en_credential_t) and the wire's en.CloudSpec and
    en.Credential (types.proto), for those who receive one: the registry
    (a spec in a request) and every service that opens a driver from a
    model's spec (broker, firewaller, networking).

    The credential travels with the spec (it is absent when the cloud
    needs none): a driver opened without it cannot reach a cloud that
    needs one (an https LXD with a certificate credential). */
#ifndef EN_SPECPROTO_H
#define EN_SPECPROTO_H

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

#endif
