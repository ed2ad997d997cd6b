/*  provider.h — the driver table every provider fills in.

    A provider is data plus function pointers, one group per concern
    (credentials, regions, config; compute, firewall and network come with
    their services). A NULL entry means the provider does not support that
    concern: callers answer NOT_SUPPORTED. Drivers take and return plain C
    structs and jansson values, never protobuf. */
#ifndef EN_PROVIDER_H
#define EN_PROVIDER_H

#include <jansson.h>

#include "common/cloudfile.h"
#include "common/constraints.h"
#include "common/err.h"
#include "common/portrange.h"
#include "common/instancetype.h"

typedef struct {
    const char *name;
    const char *type; // "string", "bool", "int"
    const char *description;
    const char *default_json; // NULL = no default
    bool immutable;
    const char *const *options; // allowed string values, NULL-terminated, or NULL
} en_config_field_t;

//  --------------------------------------------------------------------------
//  Compute: instances, zones and the instance-type catalogue.

//  A tag, or a tag filter (value NULL matches any instance with the key).
//  As input the strings are borrowed.
typedef struct {
    const char *key;
    const char *value;
} en_tag_t;

//  An instance as the cloud reports it; every pointer is owned (release
//  with en_instance_clear / en_instances_free). `live` is false once the
//  instance is shutting down or terminated.
typedef struct {
    char *id;
    char *name;
    char *status;         // Juju's instance status: "allocating", "running", ""
    char *status_message; // the cloud's raw state
    bool live;
    char **addresses;
    size_t address_count;
    char *arch;
    uint64_t mem;       // MiB
    uint64_t root_disk; // MiB
    uint64_t cpu_cores;
    uint64_t cpu_power;
    char *zone;
    char *instance_type;
    en_kvlist_t tags; // every value an EN_YAML_STR, in the cloud's order
} en_instance_t;

typedef struct {
    char *name;
    bool available;
} en_zone_t;

//  What a create call makes. Strings borrowed.
typedef struct {
    const char *name; // deterministic (the broker's juju-<model>-<machine>)
    //  zone NULL: the cloud picks.
    const char *zone;
    //  The catalogue type the broker chose (en_compute_ops_t.instance_types).
    const char *type;
    //  The image the broker chose (ImageMetadata.id: an AMI, an LXD alias
    //  or fingerprint, a sim image id); NULL: the cloud's default.
    const char *image;
    //  The merged constraints, for clouds whose catalogue is not fixed
    //  (lxd: limits.cpu, limits.memory, root disk size); may be NULL.
    const en_constraints_t *cons;
    //  Ownership tags (juju-model-uuid, juju-controller-uuid,
    //  juju-is-controller, juju-machine-id, juju-machine-nonce, ...).
    const en_tag_t *tags;
    size_t tag_count;
    //  Security groups the instance is made a member of (none: NULL, 0;
    //  NOT_FOUND `security group "<g>" not found` when one does not exist).
    const char *const *groups;
    size_t group_count;
    //  Provider subnet ids, one NIC in each, the first the primary (device
    //  0); each must be in the zone, NOT_VALID `subnet "<s>" is not in zone
    //  "<z>"` (unknown: `subnet "<s>" not found`). None (NULL, 0): one NIC
    //  in the zone's default subnet.
    const char *const *subnets;
    size_t subnet_count;
    //  cloud-init user data (NULL: none).
    const char *user_data;
} en_create_args_t;

//  A cloud's constraints policy (§1 I: the validator and PrecheckInstance).
typedef struct {
    //  The cloud's name in errors: `invalid sim instance type "x"
    //  specified`, `LXD does not support instance types (got "x")`.
    const char *name;
    //  Attributes the cloud ignores (reported, never an error),
    //  NULL-terminated.
    const char *const *unsupported;
    //  instance-type names a catalogue type, and conflicts with mem, cores
    //  and cpu-power (EC2, sim). false: the catalogue is synthesized, and
    //  PrecheckInstance refuses any instance type.
    bool instance_types;
    //  `zone=<name>` placement is accepted; false: any placement is
    //  `unknown placement directive: <p>` (LXD, statement 89).
    bool zone_placement;
} en_compute_policy_t;

//  A cheap connection to one cloud region (one per thread: not
//  thread-safe).
typedef struct en_compute en_compute_t;

typedef struct {
    //  Open a connection for spec; home is the state directory (NULL:
    //  en_home()). Never talks to the cloud's API.
    en_compute_t *(*open)(const en_cloud_spec_t *spec, const char *home, en_err_t *err);
    void (*close)(en_compute_t **self_p);
    //  Zones of the region; *zones malloc'd, free with en_zones_free.
    int (*zones)(en_compute_t *self, en_zone_t **zones, size_t *count, en_err_t *err);
    //  The region's catalogue, borrowed from the connection (fetched once).
    int (*instance_types)(en_compute_t *self, const en_instance_type_t **types, size_t *count,
                          en_err_t *err);
    //  Create an instance as args describes (en_create_args_t), with its
    //  tags in the one create call, and start it.
    int (*create)(en_compute_t *self, const en_create_args_t *args, en_instance_t *out,
                  en_err_t *err);
    //  Instances among ids (each once, in the order of ids; unknown ids
    //  left out; terminated ones reported not live).
    int (*describe)(en_compute_t *self, const char *const *ids, size_t id_count,
                    en_instance_t **out, size_t *count, en_err_t *err);
    //  Live instances carrying every filter tag, oldest first.
    int (*list)(en_compute_t *self, const en_tag_t *filters, size_t filter_count,
                en_instance_t **out, size_t *count, en_err_t *err);
    //  Unknown or terminated ids are ignored.
    int (*terminate)(en_compute_t *self, const char *const *ids, size_t id_count, en_err_t *err);
    //  Replace the named tags, keep the others. NOT_FOUND for an unknown id.
    int (*set_tags)(en_compute_t *self, const char *id, const en_tag_t *tags, size_t tag_count,
                    en_err_t *err);
    //  Optional. How many API calls the cloud takes at once before it
    //  throttles (*limit 0: no limit). Not itself an API call: callers
    //  plan their fan-out with it. NULL: the driver cannot tell.
    int (*concurrency)(en_compute_t *self, int *limit, en_err_t *err);
    //  The constraints policy; NULL: EC2's (the sim's): instance-type
    //  conflicts with mem, cores and cpu-power, tags and virt-type are
    //  unsupported, zone placement.
    const en_compute_policy_t *policy;
    //  Optional (NULL: the cloud keeps nothing per model but instances and
    //  security groups). Remove the model-level resources (lxd: the model's
    //  bridge and profile) carrying every filter tag (juju-model-uuid, or
    //  juju-controller-uuid for a whole controller), once no instance uses
    //  them. Called after the instances are gone; idempotent. UNAVAILABLE
    //  (retryable) while a resource is still in use.
    int (*release_model)(en_compute_t *self, const en_tag_t *filters, size_t filter_count,
                         en_err_t *err);
    //  Optional (NULL: the cloud cannot read files in its instances; the
    //  bootstrap nonce check uses the juju-machine-nonce tag). Read a file
    //  inside an instance: *data malloc'd and NUL-ended. NOT_FOUND when the
    //  file or the instance is not there.
    int (*read_file)(en_compute_t *self, const char *id, const char *path, char **data,
                     size_t *len, en_err_t *err);
} en_compute_ops_t;

//  One call on the group of one instance (en_firewall_ops_t.instance_rules):
//  a change of its rules, made only while the instance belongs to the
//  group, and the rules read back in the same call. Strings borrowed.
typedef struct {
    const char *group;
    const char *instance_id; // must be a live member of group
    const en_tag_t *tags;    // the group must carry each (value NULL: any value)
    size_t tag_count;
    const en_ingress_rule_t *authorize; // added, as authorize adds them
    size_t authorize_count;
    const en_ingress_rule_t *revoke; // then removed, as revoke removes them
    size_t revoke_count;
} en_fw_instance_op_t;

//  Firewall (§4.4): security groups with ingress rules, on the same
//  connection as compute. A group is named (unique per region), tagged at
//  creation (juju-model-uuid, juju-controller-uuid; instance mode also
//  juju-machine-id), and an instance is put in groups by its create call
//  (en_compute_ops_t.create's groups). Rules are kept exactly as given.
typedef struct {
    //  Create the group unless it exists (then its tags are left alone).
    int (*ensure_group)(en_compute_t *self, const char *name, const en_tag_t *tags,
                        size_t tag_count, en_err_t *err);
    //  Delete a group. An unknown group is not an error (already gone).
    //  EN_UNAVAILABLE (retryable) `security group "<name>" is in use` while
    //  a live instance is in it.
    int (*delete_group)(en_compute_t *self, const char *name, en_err_t *err);
    //  Names of the groups carrying every filter tag (malloc'd strings in a
    //  malloc'd array).
    int (*list_groups)(en_compute_t *self, const en_tag_t *filters, size_t filter_count,
                       char ***names, size_t *count, en_err_t *err);
    //  Add rules; a rule already there (same range and CIDRs) is left as
    //  it is. EN_NOT_FOUND `security group "<name>" not found`.
    int (*authorize)(en_compute_t *self, const char *group, const en_ingress_rule_t *rules,
                     size_t n, en_err_t *err);
    //  Remove rules; rules that are not there are ignored.
    int (*revoke)(en_compute_t *self, const char *group, const en_ingress_rule_t *rules,
                  size_t n, en_err_t *err);
    //  The group's rules, one per range and CIDR set, as stored (an
    //  unrestricted rule reads back with cidrs ["0.0.0.0/0"]).
    int (*rules)(en_compute_t *self, const char *group, en_ingress_rule_t **rules, size_t *n,
                 en_err_t *err);
    //  Optional (NULL: callers check the instance with compute's describe
    //  and use the entries above). One API call, atomic: when
    //  op->instance_id is a live member of op->group (and visible, as
    //  describe would see it) and the group carries op->tags, add
    //  op->authorize, remove op->revoke, set *member and, unless rules is
    //  NULL, read the group's rules back as `rules` does; otherwise
    //  (an unknown group too) change nothing and set *member false. So
    //  an instance firewaller opens a port in one call instead of three
    //  (describe, rules, authorize): the membership the instance was
    //  created with, in groups named and tagged for its machine, is the
    //  check that the instance belongs to that machine. NOT_VALID for a
    //  bad rule, and nothing changes.
    int (*instance_rules)(en_compute_t *self, const en_fw_instance_op_t *op, bool *member,
                          en_ingress_rule_t **rules, size_t *n, en_err_t *err);
} en_firewall_ops_t;

//  --------------------------------------------------------------------------
//  Network (§1 H, §5): subnets grouped into spaces, the NICs of instances,
//  and static addresses for containers, on compute's connection. Every
//  string owned (free with en_subnets_free, en_spaces_free, en_nics_free).

typedef struct {
    char *id;   // provider subnet id, the only required field
    char *cidr; // "10.1.0.0/18"; may be "" if unknown
    int vlan_tag; // 0 = not a VLAN
    char **zones;
    size_t zone_count;
    char *space_id; // provider space id; "" when none
} en_subnet_t;

typedef struct {
    char *id;   // provider space id
    char *name; // the provider's name (a valid Juju space name on sim)
    en_subnet_t *subnets;
    size_t subnet_count;
} en_space_t;

//  One network interface (network.InterfaceInfo): of an instance, or of a
//  container on a host instance (container_tag set). String fields never
//  NULL ("" when unknown).
typedef struct {
    int device_index;
    char *mac;
    char *cidr;
    char *provider_id; // NIC
    char *subnet_id;
    char *space_id;
    char *vlan_id;
    char *address_id;
    char **zones;
    size_t zone_count;
    int vlan_tag;
    char *interface_name;        // "eth0"
    char *parent_interface_name; // a container NIC's host bridge, e.g. "br-eth0"
    char *interface_type;        // "ethernet", "bridge", ...
    bool disabled;
    bool no_auto_start;
    char *config_type; // "dhcp", "static", "manual", ...
    char *address;     // "10.1.0.7"; "" when none
    char **dns_servers;
    size_t dns_server_count;
    char **dns_search_domains;
    size_t dns_search_domain_count;
    int mtu;
    char *gateway; // "" when none
} en_nic_t;

//  What a container NIC release names (network.ProviderInterfaceInfo);
//  strings borrowed, any may be "" or NULL.
typedef struct {
    const char *interface_name;
    const char *provider_id;
    const char *mac;
} en_nic_ref_t;

typedef struct {
    //  Flags, not calls: whether the cloud has spaces (false: Spaces and
    //  the spaces constraint are NOT_SUPPORTED `spaces not supported`),
    //  space discovery, and container addresses.
    bool spaces;
    bool space_discovery;
    bool container_addresses;
    //  The region's subnets in the provider's order (by id); instance_id
    //  set: only those its live NICs are in (NOT_FOUND `instance "<id>"
    //  not found`).
    int (*subnets)(en_compute_t *self, const char *instance_id, en_subnet_t **out, size_t *count,
                   en_err_t *err);
    //  The region's spaces by name, each with its subnets.
    int (*spaces_list)(en_compute_t *self, en_space_t **out, size_t *count, en_err_t *err);
    //  The instance's own NICs by device index (container NICs on it are
    //  not included). NOT_FOUND `instance "<id>" not found`.
    int (*interfaces)(en_compute_t *self, const char *instance_id, en_nic_t **out, size_t *count,
                      en_err_t *err);
    //  Static addresses for a container on a live host instance, one NIC
    //  per prepared entry: its subnet is the prepared subnet_id (else the
    //  subnet of its cidr, else the host's primary subnet) and must be one
    //  the host has a NIC in. Exactly once per (host, container tag,
    //  interface name): asking again answers what was allocated, so a
    //  resent request never takes a second address. Errors (NOT_VALID):
    //  `no prepared info to allocate`, `cannot find primary interface for
    //  container` (no eth0), `subnet "<s>" is not on host "<id>"`;
    //  NOT_FOUND `instance "<id>" not found`; UNAVAILABLE `insufficient
    //  free addresses in subnet "<s>"`.
    int (*allocate_container)(en_compute_t *self, const char *host_id, const char *container_tag,
                              const en_nic_t *prepared, size_t prepared_count, en_nic_t **out,
                              size_t *count, en_err_t *err);
    //  Free the container NICs matching each ref (provider id, else MAC);
    //  unknown ones are ignored, so releasing twice is not an error.
    int (*release_container)(en_compute_t *self, const en_nic_ref_t *refs, size_t n,
                             en_err_t *err);
} en_network_ops_t;

void en_subnet_clear(en_subnet_t *subnet);
void en_subnets_free(en_subnet_t **subnets_p, size_t count);
void en_spaces_free(en_space_t **spaces_p, size_t count);
void en_nic_clear(en_nic_t *nic);
void en_nics_free(en_nic_t **nics_p, size_t count);

void en_instance_clear(en_instance_t *instance);
void en_instances_free(en_instance_t **instances_p, size_t count);
void en_zones_free(en_zone_t **zones_p, size_t count);

//  --------------------------------------------------------------------------
//  Image metadata (docs/simplestreams.md §8.1): simplestreams data sources
//  a cloud publishes itself (Juju's provider data sources, between the
//  user's and the default ones). Every string owned (en_image_sources_free).

//  Juju's priorities, recorded with each source (the list is tried in order).
#define EN_IMAGE_PRIORITY_CUSTOM 50   // CUSTOM_CLOUD_DATA: user-registered
#define EN_IMAGE_PRIORITY_SPECIFIC 20 // SPECIFIC_CLOUD_DATA: the cloud's own
#define EN_IMAGE_PRIORITY_DEFAULT 10  // DEFAULT_CLOUD_DATA: cloud-images

typedef struct {
    char *id;          // "sim"
    char *description; // "sim cloud images", quoted in lookup errors
    char *url;         // base of the tree: <url>/streams/v1/index.json
    int priority;      // EN_IMAGE_PRIORITY_*
    bool require_signed;
    char *keyring_armored; // public key(s) for .sjson; NULL when unsigned only
} en_image_source_t;

void en_image_source_clear(en_image_source_t *source);
void en_image_sources_free(en_image_source_t **sources_p, size_t count);

typedef struct en_provider {
    const char *name;
    const char *const *aliases; // NULL-terminated
    // credentials
    const en_cred_schema_t *schemas;
    size_t schema_count;
    //  Credentials found in the environment; EN_NOT_FOUND when none.
    int (*detect_credentials)(en_cloud_credentials_t **out, en_err_t *err);
    //  Optional (NULL: the schema check is all there is). Juju's
    //  FinalizeCredential, run by the registry's FinalizeCredential after
    //  the schema check (en_credential_finalize), before a credential is
    //  stored: it may talk to the cloud at endpoint (the request's
    //  cloud_endpoint, "" when none) and change the auth-type. *out is a
    //  new credential, fully formed (same name and label); one that needs
    //  nothing comes back as a copy. lxd: `interactive` {trust-password |
    //  token} becomes a trusted `certificate` credential.
    int (*finalize_credential)(const en_credential_t *cred, const char *endpoint,
                               en_credential_t **out, en_err_t *err);
    //  Regions found in the environment; EN_NOT_FOUND when none.
    int (*detect_regions)(en_region_t **regions, size_t *count, en_err_t *err);
    // config
    const en_config_field_t *config_fields; // provider-specific, NULL-terminated by name
    //  Check the cloud spec and add deterministic provider values to cfg.
    int (*prepare_config)(const en_cloud_spec_t *spec, json_t *cfg, en_err_t *err);
    // compute; NULL = NOT_SUPPORTED
    const en_compute_ops_t *compute;
    // firewall, on compute's connection; NULL = NOT_SUPPORTED
    const en_firewall_ops_t *firewall;
    // network, on compute's connection; NULL = NOT_SUPPORTED
    const en_network_ops_t *network;
    //  Optional (NULL: the cloud publishes no image metadata). The image
    //  metadata sources of the cloud spec names, in the order they are
    //  tried; home as compute's open. May write the tree it points at
    //  (idempotent, safe when processes race) but never talks to the
    //  cloud's API. *out malloc'd (en_image_sources_free); *count may be 0.
    //  sim: one source "sim" at file://<dir of its db>/<cloud>-images,
    //  priority 20, unsigned (require_signed false, no keyring).
    int (*image_sources)(const en_cloud_spec_t *spec, const char *home,
                         en_image_source_t **out, size_t *count, en_err_t *err);
} en_provider_t;

//  Providers compiled into this build, NULL-terminated.
const en_provider_t *const *en_providers_builtin(void);
//  By name (not alias); NULL when unknown.
const en_provider_t *en_provider_builtin(const char *name);

//  Juju's NewEmptyCloudCredential: {"default": {auth-type: empty}}, the
//  DetectCredentials answer of providers that need no secret. label may be
//  NULL. Returns 0, or -1 (EN_INTERNAL) when out of memory.
int en_detect_empty_credential(const char *cloud, const char *label, en_cloud_credentials_t **out,
                               en_err_t *err);

//  The schema every model config shares (Juju's environs/config), NULL-name
//  terminated.
const en_config_field_t *en_config_common_fields(void);

//  Validate cfg against the common and provider fields, fill defaults, and
//  check immutable fields against old (may be NULL). Juju's messages:
//  `<key>: expected bool, got string("x")`,
//  `cannot change firewall-mode from "instance" to "global"`.
int en_config_validate(const en_provider_t *provider, json_t *cfg, const json_t *old,
                       en_err_t *err);

//  Juju's UpgradeConfig: rename deprecated keys; idempotent.
int en_config_upgrade(json_t *cfg, en_err_t *err);

#endif
