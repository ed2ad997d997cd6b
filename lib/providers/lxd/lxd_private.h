/*  lxd_private.h — what the files of the lxd provider share, and nobody
    else.

    lxd_client.c speaks LXD's REST API (lxd_client.h); lxd_provider.c
    registers the provider (credentials, regions, config); lxd_compute.c
    is the compute connection (instances, zones, the catalogue) and the
    model's resources (bridge, profile); lxd_firewall.c maps security
    groups to network ACLs; lxd_network.c answers the network API;
    lxd_images.c publishes image metadata. Shared functions are named
    lxd_<verb>; statics stay s_<verb>.

    The model's resources in LXD, all named from the model uuid and tagged
    with user.juju-model-uuid / user.juju-controller-uuid config keys so
    that a destroy finds them by tags alone:
      - bridge  `en<11 hex of the model uuid>` (a Linux interface name has
        at most 15 bytes), managed, ipv4.address = a free /24 carved from
        ENVIRONS_LXD_BRIDGE_RANGE (default 10.208.0.0/16), ipv4.nat=false,
        ipv6.address=none, ipv4.dhcp=true;
        security.acls = the model's ACLs, security.acls.default.ingress.action
        = reject, security.acls.default.egress.action = allow.
      - profile `en-<model uuid>`: eth0 {type nic, network <bridge>} and
        root (disk, path /, pool = the connection's pool).
      - ACLs, one per security group (lxd_firewall.c).
    Instances are created with profiles [profile] only. */
#ifndef EN_LXD_PRIVATE_H
#define EN_LXD_PRIVATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "common/instancetype.h"
#include "providers/lxd/lxd_client.h"
#include "providers/provider.h"

//  Bridge names: "en" + 11 hex digits of the model uuid (dashes dropped).
#define LXD_BRIDGE_MAX 16
//  Profile names: "en-" + the model uuid.
#define LXD_PROFILE_MAX 64

struct en_compute {
    en_lxd_t *lxd;
    char *region; // "localhost"
    char *home;   // state directory
    char *pool;   // storage pool of root disks: $ENVIRONS_LXD_POOL, else "default"
    //  where model bridges are carved: $ENVIRONS_LXD_BRIDGE_RANGE, else
    //  "10.208.0.0/16" (a /24 per model)
    char *bridge_range;
    //  the synthesized catalogue (lxd_compute.c), built on first use
    en_instance_type_t *types;
    size_t type_count;
    char **arches;
    size_t arch_count;
};

//  The tag keys environs writes as user.<key> config.
#define LXD_TAG_MODEL "juju-model-uuid"
#define LXD_TAG_CONTROLLER "juju-controller-uuid"
#define LXD_TAG_MACHINE "juju-machine-id"
#define LXD_TAG_NONCE "juju-machine-nonce"
//  The security groups an instance was created in, joined by ','
//  (user.juju-security-groups); lxd_firewall.c reads it.
#define LXD_KEY_GROUPS "user.juju-security-groups"

//  Where and how to reach LXD for a cloud spec (lxd_provider.c): cfg gets
//  pointers borrowed from spec (the socket of "" or "unix:<path>", the
//  endpoint and certificates of an https spec with a `certificate`
//  credential). Errors are the spec's: `validating cloud spec: ...`.
int lxd_spec_config(const en_cloud_spec_t *spec, en_lxd_config_t *cfg, en_err_t *err);

//  Names from a model uuid.
void lxd_bridge_name(const char *model_uuid, char out[LXD_BRIDGE_MAX]);
void lxd_profile_name(const char *model_uuid, char out[LXD_PROFILE_MAX]);

//  Make the model's bridge and profile unless they exist (idempotent, safe
//  when processes race: "already exists" is success), tagged with the
//  model and controller uuids (controller_uuid may be NULL).
int lxd_model_ensure(en_compute_t *self, const char *model_uuid, const char *controller_uuid,
                     en_err_t *err);

//  The IPv4 addresses of an instance's eth0..ethN from GET
//  /1.0/instances/<name>/state (scope global, family inet), malloc'd.
//  NOT_FOUND `instance "<name>" not found`.
int lxd_instance_addresses(en_compute_t *self, const char *name, char ***out, size_t *count,
                           en_err_t *err);

//  The network ACL that stands for a security group (lxd_firewall.c):
//  a deterministic name LXD accepts, derived from the group name alone.
#define LXD_ACL_MAX 64
void lxd_acl_name(const char *group, char out[LXD_ACL_MAX]);

//  Where an instance's nonce is written at create (Juju's
//  <DataDir>/nonce.txt), then read back by bootstrap's finalize.
#define LXD_NONCE_FILE "/var/lib/juju/nonce.txt"

//  The firewall ops and network ops tables (lxd_firewall.c, lxd_network.c).
extern const en_firewall_ops_t lxd_firewall_ops;
extern const en_network_ops_t lxd_network_ops;
extern const en_compute_ops_t lxd_compute_ops;

#endif
