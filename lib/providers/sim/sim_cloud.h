/*  sim_cloud.h — the sim cloud: a simulated cloud held in one SQLite file.

    The whole state of a sim cloud (regions, zones, the instance-type
    catalogue, instances and their tags, security groups with their rules
    and members, spaces, subnets and the NICs of instances and containers,
    the behaviour knobs and the call counters) lives in one
    SQLite database in WAL mode. Every process that
    opens the same file sees the same cloud, so the services of environs,
    started as separate processes, all talk to one cloud exactly as they
    would to a real one. It is the embedded default cloud and the scale
    simulator, so it behaves like a real cloud, failures included: API
    latency, injected failures per method, EC2-style eventual consistency,
    a cloud-wide limit on concurrent requests, unavailable zones, quotas on
    tags and addresses.

    A handle (en_sim_cloud_t) is NOT thread-safe: open one per worker thread.
    Many handles, in one process or many, may use one database at once; every
    change runs in its own BEGIN IMMEDIATE transaction, so none is lost. A
    handle must not be used across fork(): open a new one in the child.

    Every cloud API call (the functions from en_sim_cloud_regions to
    en_sim_cloud_set_tags, from en_sim_cloud_ensure_group to
    en_sim_cloud_instance_rules, and from en_sim_cloud_spaces to
    en_sim_cloud_release_container_addresses) counts as one call of its
    method and is subject to the knobs. The control functions (knobs,
    counters, open/close, the group and container NIC views) are the cloud
    operator's console: no latency, no failures, no limit.

    Method names, used by the `fail.<method>` knobs and by call counts:
    regions, zones, instance_types, set_zone_available, create, describe,
    list, terminate, set_tags, ensure_group, delete_group, list_groups,
    authorize, revoke, rules, instance_rules, spaces, subnets, interfaces,
    allocate_container_addresses, release_container_addresses.

    Networks: each region's 10.<index>.0.0/16 is split into subnets, one
    zone each, grouped into spaces (see the seed in sim_cloud.c). Every
    instance has one NIC per subnet it was created in, the first (device
    0) its primary; a container on an instance gets static addresses from
    the host's subnets. As in AWS, a subnet's network address, the next
    three (gateway, DNS, reserved) and its broadcast address are never
    handed out, and no address is ever held by two NICs at once.

    Knobs (strings in the database; integers are decimal, >= 0):
      latency_ms               sleep this long inside every API call
      running_delay_ms         an instance is "pending" this long, then "running"
      consistency_delay_ms     a new instance is invisible to describe/list/
                               set_tags for this long; a terminated one is
                               still listed, as "shutting-down", for this long
      max_concurrent           more API calls than this in flight at once,
                               across all processes, fail UNAVAILABLE
                               "request limit exceeded"; 0 = no limit
      terminated_retention_ms  terminated instances are forgotten after this
                               long (default one hour, like EC2)
      fail.<method>            "<KIND> [count <N>] [message]": the method
                               fails with that error kind and message (default
                               "sim.<method> is broken"), for the next N calls
                               only when a count is given. KIND is an en_kind_t
                               name such as UNAVAILABLE, case-insensitive. */
#ifndef EN_SIM_CLOUD_H
#define EN_SIM_CLOUD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/portrange.h"

//  Catalogue names (regions, zones, instance types, arches) are bounded
//  identifiers chosen by the cloud, so catalogue rows are flat values.
#define EN_SIM_NAME_MAX 64

//  Tags per instance and sizes, as EC2 limits them.
#define EN_SIM_TAGS_MAX 50
#define EN_SIM_TAG_KEY_MAX 128
#define EN_SIM_TAG_VALUE_MAX 256

typedef struct _en_sim_cloud_t en_sim_cloud_t;

typedef struct {
    char name[EN_SIM_NAME_MAX];
    int index; //  second octet of the region's private network 10.<index>.0.0/16
} en_sim_region_t;

typedef struct {
    char name[EN_SIM_NAME_MAX];
    char region[EN_SIM_NAME_MAX];
    bool available;
} en_sim_zone_t;

typedef struct {
    char name[EN_SIM_NAME_MAX];
    char arch[EN_SIM_NAME_MAX];
    uint64_t cores;
    uint64_t mem_mib;
    uint64_t root_disk_mib;
    uint64_t cpu_power;
    char virt_type[EN_SIM_NAME_MAX];
    uint64_t cost;
    bool deprecated;
} en_sim_instance_type_t;

//  A tag, or a tag filter. As input the strings are borrowed and never
//  modified; inside an en_sim_instance_t they are owned by the instance.
//  A filter whose value is NULL matches any instance that has the key.
typedef struct {
    const char *key;
    const char *value;
} en_sim_tag_t;

typedef enum {
    EN_SIM_PENDING,
    EN_SIM_RUNNING,
    EN_SIM_SHUTTING_DOWN,
    EN_SIM_TERMINATED,
} en_sim_state_t;

//  An instance as the cloud reports it. Every pointer is owned by the
//  struct: release with en_sim_instance_clear (one) or en_sim_instances_free
//  (an array).
typedef struct {
    char *id; //  "i-" and 16 hex digits
    char *name;
    char *region;
    char *zone;
    char *instance_type;
    char *arch;
    uint64_t cores;
    uint64_t mem_mib;
    uint64_t root_disk_mib;
    uint64_t cpu_power;
    en_sim_state_t state;
    char **addresses; //  private IPv4 addresses; none once terminated
    size_t address_count;
    en_sim_tag_t *tags; //  in the order they were first set
    size_t tag_count;
    int64_t created_ms;    //  wall clock, ms since the epoch
    int64_t terminated_ms; //  0 while not terminated
} en_sim_instance_t;

//  Open the cloud in db_path, creating and seeding it when the file is new
//  or empty. NULL on failure: NOT_VALID when the path cannot be opened or is
//  not a sim cloud database, UNAVAILABLE when it stays busy.
en_sim_cloud_t *en_sim_cloud_open(const char *db_path, en_err_t *err);

//  Close and NULL the handle; idempotent.
void en_sim_cloud_close(en_sim_cloud_t **self_p);

//  The database path the handle was opened with.
const char *en_sim_cloud_path(en_sim_cloud_t *self);

//  --- catalogue (arrays are the caller's: free() them) ---

int en_sim_cloud_regions(en_sim_cloud_t *self, en_sim_region_t **regions, size_t *count,
                         en_err_t *err);
int en_sim_cloud_zones(en_sim_cloud_t *self, const char *region, en_sim_zone_t **zones,
                       size_t *count, en_err_t *err);
int en_sim_cloud_instance_types(en_sim_cloud_t *self, const char *region,
                                en_sim_instance_type_t **types, size_t *count, en_err_t *err);
int en_sim_cloud_set_zone_available(en_sim_cloud_t *self, const char *zone, bool available,
                                    en_err_t *err);

//  --- instances ---

//  Start an instance. zone NULL lets the cloud pick the available zone with
//  the fewest live instances. The tags are written with the instance, in
//  one transaction. Errors: NOT_VALID (unknown region, zone or type, bad
//  tags), UNAVAILABLE `zone "<z>" is unavailable`, ALREADY_EXISTS
//  `instance "<name>" already exists` while a live instance of the region
//  has that name. On success *out is filled (clear it with
//  en_sim_instance_clear).
int en_sim_cloud_create(en_sim_cloud_t *self, const char *region, const char *zone,
                        const char *instance_type, const char *name, const en_sim_tag_t *tags,
                        size_t tag_count, en_sim_instance_t *out, en_err_t *err);

//  The instances of the region among ids, each once, in the order of ids;
//  ids not found are left out. Like EC2, terminated instances are reported
//  (state EN_SIM_TERMINATED) until retention ends.
int en_sim_cloud_describe(en_sim_cloud_t *self, const char *region, const char *const *ids,
                          size_t id_count, en_sim_instance_t **instances, size_t *count,
                          en_err_t *err);

//  The instances of the region that carry every filter tag, oldest first.
//  Terminated instances are left out unless include_terminated.
int en_sim_cloud_list(en_sim_cloud_t *self, const char *region, const en_sim_tag_t *filters,
                      size_t filter_count, bool include_terminated, en_sim_instance_t **instances,
                      size_t *count, en_err_t *err);

//  Create, and put the instance in the named security groups of its region
//  in the same transaction: NOT_FOUND `security group "<g>" not found` when
//  one does not exist (and nothing is created). A name given twice counts
//  once. en_sim_cloud_create is this with no groups.
int en_sim_cloud_create_in_groups(en_sim_cloud_t *self, const char *region, const char *zone,
                                  const char *instance_type, const char *name,
                                  const en_sim_tag_t *tags, size_t tag_count,
                                  const char *const *groups, size_t group_count,
                                  en_sim_instance_t *out, en_err_t *err);

//  Create placed in subnets: one NIC per subnet id of the region, in order
//  (device 0 first), each allocated its first free address; none (NULL,
//  0) puts one NIC in the zone's default subnet (its `internal` one).
//  With zone NULL and subnets given, the instance goes to the first
//  subnet's zone. NOT_VALID `subnet "<s>" not found`, `subnet "<s>" is not
//  in zone "<z>"`, `subnet "<s>" given twice`; UNAVAILABLE `insufficient
//  free addresses in subnet "<s>"`; nothing is created on any error.
//  en_sim_cloud_create_in_groups is this with no subnets.
int en_sim_cloud_create_placed(en_sim_cloud_t *self, const char *region, const char *zone,
                               const char *instance_type, const char *name,
                               const en_sim_tag_t *tags, size_t tag_count,
                               const char *const *groups, size_t group_count,
                               const char *const *subnets, size_t subnet_count,
                               en_sim_instance_t *out, en_err_t *err);

//  Terminate; unknown or already terminated ids are ignored. Addresses are
//  released at once, those of containers on the instance too.
int en_sim_cloud_terminate(en_sim_cloud_t *self, const char *region, const char *const *ids,
                           size_t id_count, en_err_t *err);

//  Set tags on a live instance: a tag with an existing key replaces its
//  value, others are appended, tags not named are kept. NOT_FOUND
//  `instance "<id>" not found` for an unknown, terminated or not yet
//  visible instance.
int en_sim_cloud_set_tags(en_sim_cloud_t *self, const char *region, const char *id,
                          const en_sim_tag_t *tags, size_t tag_count, en_err_t *err);

//  Free what an instance owns and zero it; safe on a zeroed struct.
void en_sim_instance_clear(en_sim_instance_t *instance);

//  Free an array of n instances and NULL the pointer; idempotent.
void en_sim_instances_free(en_sim_instance_t **instances_p, size_t count);

//  "pending", "running", "shutting-down" or "terminated".
const char *en_sim_state_name(en_sim_state_t state);

//  --- security groups (EC2's, with ingress rules only) ---
//
//  A group is named, unique per region, and tagged when created (tags as
//  for instances). A rule is a port range with a set of source CIDRs: the
//  CIDRs are kept canonical and sorted, none meaning 0.0.0.0/0, so two
//  rules are the same when their ranges and CIDR sets are. Ranges are
//  tcp/udp 0..65535 (EC2's bounds) or icmp -1/-1; they are never merged or
//  split. Unknown regions are NOT_VALID.

//  Create the group unless the region has it (then nothing changes, its
//  tags included). NOT_VALID for a bad name (empty, over 255 bytes) or tags.
int en_sim_cloud_ensure_group(en_sim_cloud_t *self, const char *region, const char *name,
                              const en_sim_tag_t *tags, size_t tag_count, en_err_t *err);

//  Delete a group with its rules; an unknown group is not an error.
//  UNAVAILABLE `security group "<name>" is in use` while a live (not
//  terminated) instance is in it.
int en_sim_cloud_delete_group(en_sim_cloud_t *self, const char *region, const char *name,
                              en_err_t *err);

//  Names of the region's groups carrying every filter tag, in name order;
//  free with en_sim_names_free.
int en_sim_cloud_list_groups(en_sim_cloud_t *self, const char *region,
                             const en_sim_tag_t *filters, size_t filter_count, char ***names,
                             size_t *count, en_err_t *err);

//  Add rules to a group; rules it already has are left as they are (not an
//  error). All or none: NOT_FOUND `security group "<g>" not found`,
//  NOT_VALID for a bad range or CIDR.
int en_sim_cloud_authorize(en_sim_cloud_t *self, const char *region, const char *group,
                           const en_ingress_rule_t *rules, size_t n, en_err_t *err);

//  Remove rules from a group; rules it does not have are ignored.
//  NOT_FOUND for an unknown group, NOT_VALID for a bad rule.
int en_sim_cloud_revoke(en_sim_cloud_t *self, const char *region, const char *group,
                        const en_ingress_rule_t *rules, size_t n, en_err_t *err);

//  A group's rules as stored, in en_ingress_rule_cmp order; an unrestricted
//  rule has cidrs ["0.0.0.0/0"]. Free with en_ingress_rules_free.
//  NOT_FOUND for an unknown group.
int en_sim_cloud_rules(en_sim_cloud_t *self, const char *region, const char *group,
                       en_ingress_rule_t **rules, size_t *n, en_err_t *err);

//  One call on the group of one instance (en_sim_cloud_instance_rules).
//  Strings borrowed.
typedef struct {
    const char *group;
    const char *instance_id;  //  must be a live, visible member of group
    const en_sim_tag_t *tags; //  the group must carry each (filters, as list's)
    size_t tag_count;
    const en_ingress_rule_t *authorize; //  added first
    size_t authorize_count;
    const en_ingress_rule_t *revoke; //  then removed
    size_t revoke_count;
} en_sim_instance_rules_t;

//  Authorize and revoke on a group, guarded by one of its members, and
//  read the rules back, in one call and one transaction: when
//  op->instance_id is a member of op->group that is not terminated and is
//  past the consistency delay (describe would report it), and the group
//  carries every tag of op->tags, the rules change as authorize then
//  revoke change them, *member is set and, unless rules is NULL, *rules
//  is what en_sim_cloud_rules would then return. Otherwise, an unknown
//  group included, nothing changes, *member is false and *rules NULL.
//  NOT_VALID for a bad rule (nothing changes).
int en_sim_cloud_instance_rules(en_sim_cloud_t *self, const char *region,
                                const en_sim_instance_rules_t *op, bool *member,
                                en_ingress_rule_t **rules, size_t *n, en_err_t *err);

//  A group as the operator sees it; every pointer owned (en_sim_group_clear).
typedef struct {
    char *name;
    char *region;
    en_sim_tag_t *tags; //  in the order they were set
    size_t tag_count;
    en_ingress_rule_t *rules; //  as en_sim_cloud_rules returns them
    size_t rule_count;
    char **members; //  ids of the live instances in it, oldest first
    size_t member_count;
} en_sim_group_t;

//  Console: every group of the region, in name order, with its tags, rules
//  and live members. Free with en_sim_groups_free.
int en_sim_cloud_groups(en_sim_cloud_t *self, const char *region, en_sim_group_t **groups,
                        size_t *count, en_err_t *err);

//  Console: the names of the groups an instance was created in, in the
//  order given to create (also after it terminates, until it is forgotten).
int en_sim_cloud_instance_groups(en_sim_cloud_t *self, const char *instance_id, char ***names,
                                 size_t *count, en_err_t *err);

void en_sim_group_clear(en_sim_group_t *group);
void en_sim_groups_free(en_sim_group_t **groups_p, size_t count);
void en_sim_names_free(char ***names_p, size_t count);

//  --- networks: spaces, subnets, NICs, container addresses ---
//
//  Rows are flat values with bounded strings, in malloc'd arrays the
//  caller free()s (spaces: en_sim_spaces_free). Unknown regions are
//  NOT_VALID. An instance argument must name a live instance of the
//  region that describe would report: NOT_FOUND `instance "<id>" not
//  found` otherwise (as set_tags).

#define EN_SIM_ADDR_MAX 48 //  an address or a CIDR, as text
#define EN_SIM_CONTAINER_TAG_MAX 128

typedef struct {
    char id[EN_SIM_NAME_MAX]; //  "subnet-<zone>-<space name>"
    char region[EN_SIM_NAME_MAX];
    char zone[EN_SIM_NAME_MAX];
    char space_id[EN_SIM_NAME_MAX];          //  "sp-<region>-<space name>"
    char cidr[EN_SIM_ADDR_MAX];              //  "10.1.0.0/18"
    int vlan_tag;                            //  0: not a VLAN
    char gateway[EN_SIM_ADDR_MAX];           //  network + 1
    char dns[EN_SIM_ADDR_MAX];               //  network + 2
    char dns_search_domain[EN_SIM_NAME_MAX]; //  "<region>.sim.internal"
    int mtu;
} en_sim_subnet_t;

typedef struct {
    char id[EN_SIM_NAME_MAX];
    char region[EN_SIM_NAME_MAX];
    char name[EN_SIM_NAME_MAX];
    en_sim_subnet_t *subnets; //  owned, by id
    size_t subnet_count;
} en_sim_space_t;

//  A NIC of an instance (container_tag "") or of a container hosted on
//  instance_id, with what its subnet says about it.
typedef struct {
    char id[EN_SIM_NAME_MAX]; //  "eni-" and 16 hex digits
    char region[EN_SIM_NAME_MAX];
    char instance_id[EN_SIM_NAME_MAX];
    char container_tag[EN_SIM_CONTAINER_TAG_MAX];
    int device_index;
    char interface_name[EN_SIM_NAME_MAX];        //  "eth0"
    char parent_interface_name[EN_SIM_NAME_MAX]; //  a container's host bridge
    char interface_type[EN_SIM_NAME_MAX];        //  "ethernet"
    char config_type[EN_SIM_NAME_MAX];           //  "dhcp" or "static"
    char mac[EN_SIM_NAME_MAX];                   //  "02:xx:xx:xx:xx:xx"
    char address[EN_SIM_ADDR_MAX];               //  "" once released
    bool disabled;
    bool no_auto_start;
    int mtu;
    en_sim_subnet_t subnet;
} en_sim_nic_t;

//  A container NIC to allocate (network.InterfaceInfo as the caller
//  prepared it). Strings borrowed; NULL or "" means not given.
typedef struct {
    const char *interface_name; //  required; one must be "eth0"
    const char *mac;            //  not given: the cloud makes one
    const char *subnet_id;
    const char *cidr;                  //  picks the subnet when subnet_id is not given
    const char *parent_interface_name; //  not given: "br-" + the host NIC's name
    int mtu;                           //  0: the subnet's
    bool disabled;
    bool no_auto_start;
} en_sim_prepared_nic_t;

//  A container NIC to release; strings borrowed, NULL or "" not given.
typedef struct {
    const char *provider_id;
    const char *mac;
} en_sim_nic_ref_t;

//  The spaces of the region by name, each with its subnets by id.
int en_sim_cloud_spaces(en_sim_cloud_t *self, const char *region, en_sim_space_t **spaces,
                        size_t *count, en_err_t *err);

//  The subnets of the region by id; instance_id not NULL: only those the
//  instance has a NIC in.
int en_sim_cloud_subnets(en_sim_cloud_t *self, const char *region, const char *instance_id,
                         en_sim_subnet_t **subnets, size_t *count, en_err_t *err);

//  An instance's own NICs (not its containers') by device index.
int en_sim_cloud_interfaces(en_sim_cloud_t *self, const char *region, const char *instance_id,
                            en_sim_nic_t **nics, size_t *count, en_err_t *err);

//  Static addresses for a container on a host instance, one NIC per
//  prepared entry, in one transaction (all or nothing). An entry's subnet
//  is its subnet_id, else the subnet whose CIDR is its cidr, else the
//  host's primary one, and must be a subnet the host has a NIC in. Exactly
//  once per (host, container_tag, interface name): an entry already
//  allocated is answered as it is, so a resend never takes a second
//  address. *nics in device order: eth0 (device 0), then the others in the
//  order given. NOT_VALID `no prepared info to allocate`, `cannot find
//  primary interface for container`, `subnet "<s>" is not on host "<id>"`,
//  `interface "<n>" given twice`, `MAC address "<m>" already in use`;
//  NOT_FOUND for the host; UNAVAILABLE `insufficient free addresses in
//  subnet "<s>"`.
int en_sim_cloud_allocate_container_addresses(en_sim_cloud_t *self, const char *region,
                                              const char *host_id, const char *container_tag,
                                              const en_sim_prepared_nic_t *prepared,
                                              size_t prepared_count, en_sim_nic_t **nics,
                                              size_t *count, en_err_t *err);

//  Delete the container NICs named by provider id (a ref without one: by
//  MAC), freeing their addresses. Unknown refs, and instances' own NICs,
//  are ignored, so releasing twice is not an error.
int en_sim_cloud_release_container_addresses(en_sim_cloud_t *self, const char *region,
                                             const en_sim_nic_ref_t *refs, size_t ref_count,
                                             en_err_t *err);

//  Console: every container NIC of the region, by host, tag and device.
int en_sim_cloud_container_nics(en_sim_cloud_t *self, const char *region, en_sim_nic_t **nics,
                                size_t *count, en_err_t *err);

//  Free an array of n spaces with their subnets and NULL the pointer.
void en_sim_spaces_free(en_sim_space_t **spaces_p, size_t count);

//  --- operator console: knobs and counters ---

//  Set a knob; value NULL resets it to its default (removes a fail knob).
//  NOT_VALID for an unknown knob or a bad value.
int en_sim_cloud_knob_set(en_sim_cloud_t *self, const char *key, const char *value, en_err_t *err);

//  The knob's value (caller frees), its default when unset, or NULL with
//  NOT_FOUND for a fail knob that is not set.
char *en_sim_cloud_knob_get(en_sim_cloud_t *self, const char *key, en_err_t *err);

//  Apply a JSON object of knobs atomically (all or none), e.g.
//  {"latency_ms": 50, "max_concurrent": 8, "fail": {"create": "UNAVAILABLE count 1"}}.
//  Keys may also be flat ("fail.create"); null resets a knob.
int en_sim_cloud_configure_json(en_sim_cloud_t *self, const char *json, en_err_t *err);

//  Calls of a method since the counters were reset, rejected and failed
//  calls included; -1 on error.
int64_t en_sim_cloud_call_count(en_sim_cloud_t *self, const char *method, en_err_t *err);

//  Calls in flight now, and the most ever in flight at once since the
//  counters were reset. Counted only while max_concurrent is set.
int en_sim_cloud_in_flight(en_sim_cloud_t *self, int *now, int *peak, en_err_t *err);

//  Zero the call counters and the in-flight peak.
int en_sim_cloud_reset_counters(en_sim_cloud_t *self, en_err_t *err);

#endif
