/*  lxd_private.h — what the files of the lxd provider share, and nobody
    else.

    The layout, one topic a file:
      - lxd_client.c: the LXD REST client (lxd_client.h): the HTTP
        exchange, LXD's envelope, operations, and the one error classifier
        (en_lxd_classify); lxd_files.c: its file API. The two share
        lxd_client_private.h; nothing above them sees en_lxd_t's insides.
      - lxd_provider.c: the provider's registration (credentials, regions,
        the cloud spec: lxd_spec_config).
      - lxd_common.c: what the files below share, so each is done one way:
        reading LXD's JSON (config, user.* tags, an instance state's
        addresses), writing user.* tags, paths, comma and name lists,
        CIDRs, and the retries of transient failures (lxd_again,
        lxd_call).
      - lxd_compute.c: the compute connection: zones, the synthesized
        catalogue, and instances' life (create, terminate, tags, files);
        lxd_instances.c: instances as environs sees them (describe, list,
        addresses).
      - lxd_model.c: the model's resources: its bridge (a free /24) and
        profile (lxd_model_ensure), and release_model (lxd_release_model).
      - lxd_firewall.c: security groups' rules in the model's base ACL
        (changes, reads, instance_rules, delete); lxd_groups.c: each
        group's record, its own ACL (named, made, found and remembered),
        and a group's members; lxd_rules.c: a rule's text (the ACL rule's
        description, "<group>: <text>") and its LXD rule JSON.
      - lxd_network.c: the network API (subnets, interfaces).
    Shared functions are named lxd_<verb>; statics stay s_<verb>.

    The model's resources in LXD, all named from the model uuid and tagged
    with user.juju-model-uuid / user.juju-controller-uuid config keys so
    that a destroy finds them by tags alone:
      - bridge  `en<11 hex of the model uuid>` (a Linux interface name has
        at most 15 bytes), managed, ipv4.address = a free /24 carved from
        ENVIRONS_LXD_BRIDGE_RANGE (default 10.208.0.0/16), ipv4.nat=false,
        ipv6.address=none, ipv4.dhcp=true;
        security.acls = the model's base ACL `en-<11 hex>-base` alone, set
        in the network's first config and never changed (a change re-makes
        the bridge in 5.0.2), security.acls.default.ingress.action =
        reject, security.acls.default.egress.action = allow.
      - profile `en-<model uuid>`: eth0 {type nic, network <bridge>} and
        root (disk, path /, pool = the connection's pool).
      - base ACL `en-<11 hex>-base`: the ingress rules of every security
        group of the model, each described "<group>: <rule>"; deleted
        after the bridge (lxd_firewall.c).
      - ACLs, one per security group, its record (name, tags): never
        attached, no rules (lxd_firewall.c).
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
    //  the security groups' records read so far (lxd_firewall.c); freed
    //  by lxd_firewall_forget
    struct lxd_fw_cache *fw_cache;
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
//  model and controller uuids (controller_uuid may be NULL). lxd_model.c.
int lxd_model_ensure(en_compute_t *self, const char *model_uuid, const char *controller_uuid,
                     en_err_t *err);
//  en_compute_ops_t.release_model (lxd_model.c): delete the profiles and
//  bridges carrying every filter tag that nothing uses; UNAVAILABLE
//  `<profile|network> "<name>" is in use` when one is still used.
int lxd_release_model(en_compute_t *self, const en_tag_t *filters, size_t filter_count,
                      en_err_t *err);

//  The catalogue (lxd_compute.c): built on first use from GET /1.0 and
//  /1.0/resources into self->types; Juju's name of an LXD architecture
//  ("x86_64" → "amd64"), NULL when Juju has none.
int lxd_catalogue(en_compute_t *self, en_err_t *err);
const char *lxd_juju_arch(const char *lxd_arch);

//  en_compute_ops_t.describe and .list (lxd_instances.c).
int lxd_describe(en_compute_t *self, const char *const *ids, size_t id_count, en_instance_t **out,
                 size_t *count, en_err_t *err);
int lxd_list(en_compute_t *self, const en_tag_t *filters, size_t filter_count, en_instance_t **out,
             size_t *count, en_err_t *err);

//  One instance (GET /1.0/instances/<name>?recursion=1) as describe sees
//  it, and its JSON when raw is not NULL (a new reference). NOT_FOUND
//  `instance "<name>" not found`. lxd_instances.c.
int lxd_instance_get(en_compute_t *self, const char *name, en_instance_t *out, json_t **raw,
                     en_err_t *err);

//  An instance's created_at ("2024-05-01T10:00:00.123456789Z", any
//  offset) as ns since the epoch; 0 when it does not parse.
int64_t lxd_created_ns(const json_t *inst);

//  The IPv4 addresses of an instance's eth0..ethN from GET
//  /1.0/instances/<name>/state (scope global, family inet), malloc'd.
//  NOT_FOUND `instance "<name>" not found`. lxd_instances.c.
int lxd_instance_addresses(en_compute_t *self, const char *name, char ***out, size_t *count,
                           en_err_t *err);

//  The network ACL that records a security group (lxd_groups.c): a
//  deterministic name LXD accepts, derived from the group name alone.
#define LXD_ACL_MAX 64
void lxd_acl_name(const char *group, char out[LXD_ACL_MAX]);

//  --------------------------------------------------------------------------
//  A group's rules as ACL rules (lxd_rules.c): a rule's text, "80-100/tcp
//  from 0.0.0.0/0", is its ACL rule's description after "<group>: ".

//  A set of rule texts (malloc'd strings, each once).
typedef struct {
    char **texts;
    size_t count;
} lxd_texts_t;
void lxd_texts_clear(lxd_texts_t *t);
bool lxd_texts_has(const lxd_texts_t *t, const char *text);
//  Add text unless the set has it; remove it when it has.
int lxd_texts_add(lxd_texts_t *t, const char *text, en_err_t *err);
void lxd_texts_remove(lxd_texts_t *t, const char *text);
//  The texts of rules, each checked: NOT_VALID for the first bad one
//  (Juju's wording: `invalid port range 80-70/tcp`, ...).
int lxd_texts_of(const en_ingress_rule_t *rules, size_t n, lxd_texts_t *t, en_err_t *err);
//  The texts of group's rules among an ACL's ingress rules (GET's
//  metadata).
int lxd_texts_in(json_t *acl, const char *group, lxd_texts_t *t, en_err_t *err);
//  A text back into its rule; -1 when it is not one of ours.
int lxd_rule_parse(const char *text, en_ingress_rule_t *rule);
//  The ingress list to write: old's rules that are not group's as they
//  are, and in place of group's (where its first stood, else at the end)
//  each of want (sorted into rule order) rendered as group's for dest
//  ("": the whole bridge; else comma-joined /32s), disabled or not.
//  NULL: out of memory.
json_t *lxd_ingress_build(json_t *old, const char *group, lxd_texts_t *want, const char *dest,
                          bool disabled);
//  Whether two ingress lists are the same (LXD leaves out empty fields).
bool lxd_ingress_same(json_t *a, json_t *b);
//  The texts of group's rules that apply as rendered for dest: enabled,
//  and with exactly dest's items (a comma list, as a set) as destination.
int lxd_texts_live(json_t *acl, const char *group, const char *dest, lxd_texts_t *t, en_err_t *err);

//  The model's base ACL (lxd_firewall.c): "en-<11 hex of the model uuid>-
//  base", tagged with the model and controller, holding the rules of
//  every group of the model. It is the bridge's only ACL, listed from the
//  bridge's first config and never detached, so that the list is never
//  empty (an empty list makes 5.0.2's bridge allow everything) and the
//  default ingress reject always applies. lxd_firewall_base makes it,
//  without rules, unless it exists (before a bridge POST that lists it);
//  lxd_firewall_base_delete deletes it once the bridge is gone (none, or
//  another model's, is no error).
void lxd_base_acl_name(const char *model_uuid, char out[LXD_ACL_MAX]);
int lxd_firewall_base(en_compute_t *self, const char *model_uuid, const char *controller_uuid,
                      en_err_t *err);
int lxd_firewall_base_delete(en_compute_t *self, const char *model_uuid, en_err_t *err);
//  Render again, for today's members, the rules of each of groups that is
//  a machine group with rules (others, and unknown groups, are left as
//  they are); no write when nothing changed. A member without an address
//  is waited for (30 s) as authorize does. Every group is tried; the
//  first failure is the answer. For compute, after an instance joins or
//  leaves groups (create, terminate). model_uuid (may be NULL): the
//  groups' model, whose base ACL is then read once to skip the groups
//  without rules.
int lxd_firewall_refresh(en_compute_t *self, const char *model_uuid, const char *const *groups,
                         size_t n, en_err_t *err);

//  Drop what lxd_groups.c remembers of this connection (at close).
void lxd_firewall_forget(en_compute_t *self);

//  Security groups' records (lxd_groups.c), remembered by the connection
//  (at most 1024, each for 60 s) and trusted only while lxd_acl_names
//  lists their ACL. lxd_group_record: group's record (an ACL's GET
//  metadata, a new reference), *record NULL when there is none (or the
//  ACL of that name is another group's); lxd_group_forget: forget it
//  (its ACL is deleted). lxd_group_ensure and lxd_group_list are
//  en_firewall_ops_t.ensure_group and .list_groups.
int lxd_group_record(en_compute_t *self, const char *group, json_t **record, en_err_t *err);
void lxd_group_forget(en_compute_t *self, const char *group);
int lxd_group_ensure(en_compute_t *self, const char *name, const en_tag_t *tags, size_t tag_count,
                     en_err_t *err);
int lxd_group_list(en_compute_t *self, const en_tag_t *filters, size_t filter_count, char ***names,
                   size_t *count, en_err_t *err);
//  A group's members (lxd_groups.c): the instances (of model, when given:
//  checked always, and narrowing LXD's answer when a plain word) whose
//  user.juju-security-groups lists group; running only, or every one
//  (malloc'd names). lxd_group_dest: a machine group's destination today,
//  the /32 of every address of every running member, sorted and
//  comma-joined (malloc'd; "" when it has none); a member without an
//  address yet is waited for until deadline (en_mono_ms(); then
//  UNAVAILABLE `instance "<name>" has no address yet`), or with deadline
//  0 sets *pending (and the destination misses it).
int lxd_group_members(en_compute_t *self, const char *group, const char *model, bool running_only,
                      char ***names, size_t *count, en_err_t *err);
int lxd_group_dest(en_compute_t *self, const char *group, const char *model, int64_t deadline,
                   char **dest, bool *pending, en_err_t *err);

//  The names of every network ACL (GET /1.0/network-acls: names only,
//  which unlike an ACL's own GET costs no usage computation: ~1 ms
//  against 10-30 ms with a few dozen instances), sorted. lxd_common.c.
int lxd_acl_names(en_compute_t *self, lxd_texts_t *names, en_err_t *err);
//  Whether a sorted name set (lxd_acl_names') has name.
bool lxd_names_sorted_has(const lxd_texts_t *names, const char *name);

//  Where an instance's nonce is (Juju's <DataDir>/nonce.txt): rendered by
//  the image's template at the first start when the image's
//  environs.nonce property names this file, else written by create
//  through the file API; read back by bootstrap's finalize.
#define LXD_NONCE_FILE "/var/lib/juju/nonce.txt"

//  The firewall ops and network ops tables (lxd_firewall.c, lxd_network.c).
extern const en_firewall_ops_t lxd_firewall_ops;
extern const en_network_ops_t lxd_network_ops;
extern const en_compute_ops_t lxd_compute_ops;

//  --------------------------------------------------------------------------
//  Reading LXD's JSON (lxd_common.c)

//  obj[key] as a string; "" when absent or not a string.
const char *lxd_str(const json_t *obj, const char *key);
//  obj.config[key]; NULL when absent (unlike lxd_str: "" is a value).
const char *lxd_config(const json_t *obj, const char *key);
//  obj.config["user.<tag>"], an environs tag; NULL when absent.
const char *lxd_user(const json_t *obj, const char *tag);
//  The "environment" of GET /1.0 (cached by the client; borrowed).
int lxd_environment(en_compute_t *self, const json_t **env, en_err_t *err);
//  The nth (from 0) global IPv4 address of one interface of an instance
//  state (state.network.<ifname>); NULL when it has no more.
const char *lxd_if_ipv4(const json_t *ifstate, size_t nth);

//  --------------------------------------------------------------------------
//  Tags: environs' tags are LXD's user.<key> config (lxd_common.c)

//  The value of key among tags; NULL when absent.
const char *lxd_tag(const en_tag_t *tags, size_t count, const char *key);
//  config["user.<key>"] = value ("" for NULL) for every tag.
void lxd_set_user(json_t *config, const en_tag_t *tags, size_t count);
//  Whether obj's config carries every filter tag (a NULL value: any).
bool lxd_has_tags(const json_t *obj, const en_tag_t *filters, size_t count);
//  lxd_set_user, checked: NOT_VALID `tag "<key>" is not valid UTF-8`
//  (jansson refuses such a key or value), INTERNAL when out of memory.
int lxd_put_user(json_t *config, const en_tag_t *tags, size_t count, en_err_t *err);

//  --------------------------------------------------------------------------
//  Paths, lists, numbers (lxd_common.c)

//  "<prefix><escaped name><suffix>" into path.
void lxd_path(char *path, size_t size, const char *prefix, const char *name, const char *suffix);
//  "/1.0/instances?recursion=<n>[&filter=<escaped filter>]", malloc'd
//  (filter NULL or "": none); NULL when out of memory.
char *lxd_instances_path(int recursion, const char *filter);
//  qsort's comparison of char * elements, by strcmp.
int lxd_strcmp_p(const void *a, const void *b);
//  Interface names in their natural order: eth2 before eth10.
int lxd_ifname_cmp(const char *a, const char *b);
//  A malloc'd array of malloc'd strings: append a copy of text[0..len),
//  and free the lot (*names_p NULLed).
int lxd_names_push(char ***names, size_t *count, const char *text, size_t len, en_err_t *err);
void lxd_names_free(char ***names_p, size_t count);
//  A comma list ("a,b,c", spaces allowed around items, as LXD keeps
//  security.acls and environs user.juju-security-groups): whether it has
//  item; a copy with every copy of item removed, then item added when
//  add (malloc'd, NULL when out of memory).
bool lxd_list_has(const char *list, const char *item);
char *lxd_list_edit(const char *list, const char *item, bool add);
//  "a.b.c.d/n": the address (host order) and n; false for anything else.
bool lxd_ipv4_cidr(const char *text, uint32_t *addr, unsigned *prefix);
//  Whether LXD's filter parser takes s as one word (letters, digits and
//  "-_.:"), so it may go into a filter= expression; NULL and "" do not.
bool lxd_plain(const char *s);
//  FNV-1a, 64 bits: stable across builds and hosts.
uint64_t lxd_fnv(const char *text);

//  --------------------------------------------------------------------------
//  Retries of transient failures (lxd_common.c)

//  How to retry what en_lxd_classify calls transient (UNAVAILABLE and
//  retryable; nothing else is retried).
typedef struct {
    int tries;    // at most, the first included; 0: until the deadline
    int first_ms; // the first wait, doubled after each try, jittered
    int max_ms;   // the longest wait
    bool scaled;  // waits times en_retry_scale() (ENVIRONS_RETRY_SCALE)
} lxd_backoff_t;
//  One call: 8 tries, 100 ms doubling to 3 s (about 9 s in all).
extern const lxd_backoff_t lxd_backoff_call;
//  Writers of one shared object (an ACL, a bridge's security.acls): until
//  the caller's deadline, 10 ms doubling to 320 ms.
extern const lxd_backoff_t lxd_backoff_race;

//  Whether try `attempt` (from 0), which failed with err, is worth
//  another: err is transient, tries and deadline (en_mono_ms(); 0: none)
//  allow; if so, wait first.
bool lxd_again(const lxd_backoff_t *policy, int attempt, int64_t deadline, const en_err_t *err);
//  The wait before try attempt + 1.
void lxd_backoff_wait(const lxd_backoff_t *policy, int attempt);
//  en_lxd_call on the connection's client with lxd_backoff_call's
//  retries; err may be NULL.
int lxd_call(en_compute_t *self, const char *method, const char *path, json_t *body, json_t **meta,
             long timeout_ms, en_err_t *err);

#endif
