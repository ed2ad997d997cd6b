/*  lxd_firewall.c — security groups as LXD network ACLs (LXD 5.0.2).

    Every group of a model keeps its rules in the model's base ACL
    (lxd_base_acl_name), the one ACL on the model's bridge
    (lxd_bridge_name): listed in the bridge's very first config, with
    default ingress reject (lxd_model.c), and never changed after. Every
    change of a bridge's security.acls re-makes the bridge in 5.0.2 (nft,
    its address, dnsmasq: ~0.9 s) while an ACL's PUT costs ~40 ms, so no
    write of ours touches the bridge: opening a port is one PUT of the
    base, and nothing ever empties the list (fail closed: an empty list
    makes the bridge allow everything).

    A group's record is its own network ACL, named by lxd_acl_name: the
    group name itself when LXD accepts it (1–63 letters, digits and '-',
    starting with a letter, not ending with '-'; every
    "juju-<uuid>[-<machine>]" of a short machine id is), else a
    deterministic short form "<prefix>-h<16 hex of a 64-bit FNV-1a of the
    name>". It holds no rules and is attached nowhere; its config carries
    the full group name (user.juju-group), which is what we trust (an ACL
    whose user.juju-group differs is someone else's, never the group), and
    the group's tags as user.<key> config: its model (so its base ACL),
    controller and machine. No record, no group: NOT_FOUND.

    A rule is one ingress rule of the base ACL whose description is
    "<group>: <rule text>" (lxd_rules.c: the text, its parse and its LXD
    form); a group's rules are those with its prefix. A machine's own
    group (tagged juju-machine-id: instance firewall mode) opens ports on
    its members only: its rules' destination is the /32 of every address
    of every running instance that lists the group in
    user.juju-security-groups, sorted; with no such instance its rules are
    kept but disabled. Model and global groups cover the whole bridge
    (destination ""). Every write re-renders all of the group's rules for
    today's members. Members change without a write (stopped, started,
    readdressed, created, deleted), so rules() reports a machine group's
    rule only while it is enabled for exactly today's member addresses: a
    stale rule reads as closed, the firewaller authorizes it again, and
    that write renders every rule of the group anew;
    lxd_firewall_refresh re-renders without the firewaller (compute calls
    it when members come and go). Rules not written by us are kept as
    they are, and so are other groups'.

    The base ACL is shared by all groups of the model, and LXD's ETag
    check is not atomic (concurrent PUTs with one ETag both succeed), so
    every write is a loop: read with the ETag, edit the caller group's
    rules only, PUT with If-Match, then read again until the group's rules
    are what we wanted, retrying lost races within a deadline. Writers on
    one host also take an flock per bridge (s_bridge_lock), which spares
    LXD most of the clashes; the retries alone are what make it correct.
    Lost races and LXD's transient failures (the classifier's) are
    retried alike until a deadline (lxd_again with lxd_backoff_race). A
    rule authorized before the model has a base ACL (global mode before
    any instance) makes the model's bridge first (lxd_model_ensure, whose
    bridge POST lists the base). */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "providers/lxd/lxd_private.h"

//  The tag (user.<key> config) with the full group name of an ACL.
#define S_TAG_GROUP "juju-group"
//  How long a call retries lost races and waits for member addresses.
#define S_DEADLINE_MS 30000
#define S_ACL_NAME_LONGEST 63
#define S_SHORT_PREFIX 44
#define S_LOCK_SLOTS 64
//  How long a writer waits for the flock before going on without it.
#define S_LOCK_WAIT_MS 5000

//  --------------------------------------------------------------------------
//  ACL names

static bool
s_acl_name_valid(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > S_ACL_NAME_LONGEST || !isalpha((unsigned char)name[0]) ||
        name[len - 1] == '-')
        return false;
    for (const char *c = name; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '-')
            return false;
    return true;
}

void
lxd_acl_name(const char *group, char out[LXD_ACL_MAX])
{
    if (s_acl_name_valid(group)) {
        snprintf(out, LXD_ACL_MAX, "%s", group);
        return;
    }
    uint64_t hash = lxd_fnv(group);
    size_t n = 0;
    if (!isalpha((unsigned char)group[0]))
        out[n++] = 'g';
    for (const char *c = group; *c && n < S_SHORT_PREFIX; c++)
        out[n++] = isalnum((unsigned char)*c) ? *c : '-';
    while (n > 0 && out[n - 1] == '-')
        n--;
    snprintf(out + n, LXD_ACL_MAX - n, "%sh%016llx", n ? "-" : "", (unsigned long long)hash);
}

//  --------------------------------------------------------------------------
//  One writer of a model's base ACL per host

//  Writes of one model's base ACL (so of its bridge's firewall) from this
//  host, one at a time (see above): an
//  flock on one of S_LOCK_SLOTS files /run/lock/environs-lxd-acl.<n>.lock
//  chosen by the bridge's name (a fixed set, so nothing piles up; two
//  bridges may share one), released by close, and by the kernel when a
//  process dies. -1: no lock, go on without it; writers on other hosts
//  are left to the retries. The directories are world-writable, so a
//  symbolic link or anything but a regular file is refused, files are
//  opened read-only and made readable by all (writers of other uids share
//  them), and a lock held too long (by anyone) is given up on.
static int
s_lock_open(const char *path)
{
    int fd = open(path, O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0644);
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
        close(fd);
        return -1;
    }
    if (fd >= 0 && st.st_uid == geteuid() && (st.st_mode & 0777) != 0644)
        (void)fchmod(fd, 0644); // an older 0600 file, or a umask's
    return fd;
}

static int
s_bridge_lock(const char *model)
{
    if (!model || !*model)
        return -1;
    char bridge[LXD_BRIDGE_MAX], path[96];
    lxd_bridge_name(model, bridge);
    unsigned slot = (unsigned)(lxd_fnv(bridge) % S_LOCK_SLOTS);
    snprintf(path, sizeof path, "/run/lock/environs-lxd-acl.%u.lock", slot);
    int fd = s_lock_open(path);
    if (fd < 0) {
        snprintf(path, sizeof path, "/tmp/environs-lxd-acl.%u.lock", slot);
        fd = s_lock_open(path);
    }
    if (fd < 0)
        return -1;
    static const lxd_backoff_t poll = {.first_ms = 2, .max_ms = 20};
    int64_t deadline = en_mono_ms() + S_LOCK_WAIT_MS;
    for (int attempt = 0; flock(fd, LOCK_EX | LOCK_NB) != 0; attempt++) {
        if ((errno != EWOULDBLOCK && errno != EINTR) || en_mono_ms() >= deadline) {
            close(fd);
            return -1;
        }
        lxd_backoff_wait(&poll, attempt);
    }
    return fd;
}

static void
s_bridge_unlock(int fd)
{
    if (fd >= 0)
        close(fd);
}

//  --------------------------------------------------------------------------
//  The ACL of a group

typedef struct {
    char name[LXD_ACL_MAX];
    char path[LXD_ACL_MAX + 32];
    json_t *acl; // GET's metadata
    char *etag;
} s_acl_t;

static void
s_acl_clear(s_acl_t *acl)
{
    json_decref(acl->acl);
    free(acl->etag);
    acl->acl = NULL;
    acl->etag = NULL;
}

//  GET of ACLs with their ETag, retried as lxd_call retries (5.0.2's
//  `Failed getting ACL usage: Network ACL not found` while another ACL is
//  being deleted is one of the classifier's transient answers).
static int
s_acl_call(en_compute_t *self, const char *path, json_t **meta, char **etag, en_err_t *err)
{
    for (int attempt = 0;; attempt++) {
        en_err_t e = {0};
        if (en_lxd_call(self->lxd, "GET", path, NULL, meta, etag, 0, &e) == 0)
            return 0;
        if (!lxd_again(&lxd_backoff_call, attempt, 0, &e)) {
            if (err)
                *err = e;
            return -1;
        }
    }
}

//  The ACL named acl->name, with its ETag: *found false when there is
//  none, or when its user.<tag> is not owner (it is someone else's).
static int
s_acl_read(en_compute_t *self, s_acl_t *acl, const char *tag, const char *owner, bool *found,
           en_err_t *err)
{
    lxd_path(acl->path, sizeof acl->path, "/1.0/network-acls/", acl->name, NULL);
    en_err_t e = {0};
    if (s_acl_call(self, acl->path, &acl->acl, &acl->etag, &e)) {
        if (e.kind == EN_NOT_FOUND)
            return 0;
        if (err)
            *err = e;
        return -1;
    }
    const char *value = lxd_user(acl->acl, tag);
    *found = value && strcmp(value, owner) == 0;
    if (!*found)
        s_acl_clear(acl);
    return 0;
}

//  The group's ACL: *found false when there is none (or the ACL of that
//  name is another group's).
static int
s_acl_get(en_compute_t *self, const char *group, s_acl_t *acl, bool *found, en_err_t *err)
{
    memset(acl, 0, sizeof *acl);
    *found = false;
    if (!group || !*group)
        return en_err_set(err, EN_NOT_VALID, "security group name \"\" not valid");
    lxd_acl_name(group, acl->name);
    return s_acl_read(self, acl, S_TAG_GROUP, group, found, err);
}

static int
s_acl_existing(en_compute_t *self, const char *group, s_acl_t *acl, en_err_t *err)
{
    bool found;
    if (s_acl_get(self, group, acl, &found, err))
        return -1;
    if (!found)
        return en_err_set(err, EN_NOT_FOUND, "security group \"%s\" not found", group);
    return 0;
}

//  --------------------------------------------------------------------------
//  Members and their addresses

//  The instances (of the model, when known) whose user.juju-security-
//  groups lists group; running only, or every one. The model narrows
//  LXD's answer only when it is a plain word, and is checked here always.
static int
s_members(en_compute_t *self, const char *group, const char *model, bool running_only,
          char ***names, size_t *count, en_err_t *err)
{
    *names = NULL;
    *count = 0;
    bool by_model = model && *model;
    char *filter = NULL;
    if (by_model && lxd_plain(model) &&
        asprintf(&filter, "config.user.%s eq %s", LXD_TAG_MODEL, model) < 0)
        return en_err_set(err, EN_INTERNAL, "out of memory");
    char *path = lxd_instances_path(1, filter);
    free(filter);
    if (!path)
        return en_err_set(err, EN_INTERNAL, "out of memory");
    json_t *list = NULL;
    int called = lxd_call(self, "GET", path, NULL, &list, 0, err);
    free(path);
    if (called)
        return -1;
    size_t i;
    json_t *inst;
    int rc = 0;
    json_array_foreach(list, i, inst)
    {
        const char *groups = lxd_config(inst, LXD_KEY_GROUPS);
        const char *name = json_string_value(json_object_get(inst, "name"));
        const char *owner = lxd_user(inst, LXD_TAG_MODEL);
        if (!name || !lxd_list_has(groups, group) ||
            (by_model && (!owner || strcmp(owner, model) != 0)))
            continue;
        if (running_only && strcmp(lxd_str(inst, "status"), "Running") != 0)
            continue;
        if ((rc = lxd_names_push(names, count, name, strlen(name), err)))
            break;
    }
    json_decref(list);
    if (rc) {
        lxd_names_free(names, *count);
        *count = 0;
    }
    return rc;
}

//  How often a member without an address is read again.
static const lxd_backoff_t s_dhcp_poll = {.first_ms = 50, .max_ms = 800};

//  The addresses of a running member; *count 0 when the instance went
//  away meanwhile. One without an address yet is waited for until
//  deadline (then UNAVAILABLE), or with deadline 0 sets *pending.
static int
s_member_addresses(en_compute_t *self, const char *name, int64_t deadline, char ***out,
                   size_t *count, bool *pending, en_err_t *err)
{
    for (int attempt = 0;; attempt++) {
        en_err_t e = {0};
        if (lxd_instance_addresses(self, name, out, count, &e)) {
            if (e.kind == EN_NOT_FOUND)
                return 0;
            if (err)
                *err = e;
            return -1;
        }
        if (*count)
            return 0;
        lxd_names_free(out, *count);
        if (!deadline) {
            *pending = true;
            return 0;
        }
        if (en_mono_ms() >= deadline)
            return en_err_set(err, EN_UNAVAILABLE, "instance \"%s\" has no address yet", name);
        lxd_backoff_wait(&s_dhcp_poll, attempt);
    }
}

//  A machine group's destination today: the /32 of every address of
//  every running member, sorted, comma-joined (malloc'd; "" when it has
//  none). deadline as s_member_addresses': with 0, *pending says that a
//  member had no address yet (and the destination misses it).
static int
s_member_dest(en_compute_t *self, const char *group, const char *model, int64_t deadline,
              char **dest, bool *pending, en_err_t *err)
{
    *dest = NULL;
    *pending = false;
    char **members = NULL;
    size_t n = 0, size = 1;
    if (s_members(self, group, model, true, &members, &n, err))
        return -1;
    lxd_texts_t cidrs = {0};
    int rc = 0;
    for (size_t m = 0; m < n && rc == 0; m++) {
        char **addrs = NULL;
        size_t na = 0;
        rc = s_member_addresses(self, members[m], deadline, &addrs, &na, pending, err);
        for (size_t a = 0; a < na && rc == 0; a++) {
            char cidr[64];
            snprintf(cidr, sizeof cidr, "%s/32", addrs[a]);
            size += strlen(cidr) + 1;
            rc = lxd_texts_add(&cidrs, cidr, err);
        }
        lxd_names_free(&addrs, na);
    }
    lxd_names_free(&members, n);
    if (rc == 0 && !(*dest = calloc(1, size)))
        rc = en_err_set(err, EN_INTERNAL, "out of memory");
    if (rc == 0 && cidrs.count > 1)
        qsort(cidrs.texts, cidrs.count, sizeof(char *), lxd_strcmp_p);
    for (size_t i = 0, used = 0; rc == 0 && i < cidrs.count; i++)
        used += (size_t)snprintf(*dest + used, size - used, "%s%s", i ? "," : "", cidrs.texts[i]);
    lxd_texts_clear(&cidrs);
    return rc;
}

//  Where the group's rules apply: "" (the whole bridge) for a model or
//  global group; a machine group's member addresses as /32s, waited for,
//  and *none true when it has no running member (malloc'd).
static int
s_destination(en_compute_t *self, const char *group, json_t *acl, char **dest, bool *none,
              en_err_t *err)
{
    *none = false;
    if (!lxd_user(acl, LXD_TAG_MACHINE)) {
        *dest = strdup("");
        return *dest ? 0 : en_err_set(err, EN_INTERNAL, "out of memory");
    }
    bool pending;
    if (s_member_dest(self, group, lxd_user(acl, LXD_TAG_MODEL), en_mono_ms() + S_DEADLINE_MS, dest,
                      &pending, err))
        return -1;
    *none = **dest == '\0';
    return 0;
}

//  --------------------------------------------------------------------------
//  The model's base ACL and the bridge's security.acls

void
lxd_base_acl_name(const char *model_uuid, char out[LXD_ACL_MAX])
{
    char bridge[LXD_BRIDGE_MAX];
    lxd_bridge_name(model_uuid, bridge);
    snprintf(out, LXD_ACL_MAX, "en-%s-base", bridge + 2);
}

int
lxd_firewall_base(en_compute_t *self, const char *model_uuid, const char *controller_uuid,
                  en_err_t *err)
{
    if (!model_uuid || !*model_uuid)
        return en_err_set(err, EN_NOT_VALID, "base ACL: no model uuid");
    char name[LXD_ACL_MAX];
    lxd_base_acl_name(model_uuid, name);
    json_t *config = json_pack("{s:s}", "user." LXD_TAG_MODEL, model_uuid);
    if (!config)
        return en_err_set(err, EN_INTERNAL, "out of memory");
    if (controller_uuid && *controller_uuid)
        json_object_set_new(config, "user." LXD_TAG_CONTROLLER, json_string(controller_uuid));
    json_t *body = json_pack("{s:s, s:s, s:o, s:[], s:[]}", "name", name, "description",
                             "environs model base: the rules of every security group of the model",
                             "config", config, "ingress", "egress");
    en_err_t e = {0};
    int rc = body ? lxd_call(self, "POST", "/1.0/network-acls", body, NULL, 0, &e)
                  : en_err_set(&e, EN_INTERNAL, "out of memory");
    json_decref(body);
    if (rc && e.kind != EN_ALREADY_EXISTS) {
        if (err)
            *err = e;
        return -1;
    }
    return 0;
}

int
lxd_firewall_base_delete(en_compute_t *self, const char *model_uuid, en_err_t *err)
{
    char name[LXD_ACL_MAX], path[3 * LXD_ACL_MAX + 32];
    lxd_base_acl_name(model_uuid, name);
    lxd_path(path, sizeof path, "/1.0/network-acls/", name, NULL);
    json_t *acl = NULL;
    en_err_t e = {0};
    int rc = s_acl_call(self, path, &acl, NULL, &e);
    const char *owner = rc ? NULL : lxd_user(acl, LXD_TAG_MODEL);
    //  Another model's (it would share our bridge's name too): not ours.
    if (rc == 0 && owner && model_uuid && strcmp(owner, model_uuid) == 0)
        rc = lxd_call(self, "DELETE", path, NULL, NULL, 0, &e);
    json_decref(acl);
    if (rc && e.kind != EN_NOT_FOUND) {
        if (err)
            *err = e;
        return -1;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Changing rules

//  What a write does to the group's set of rules before rendering it.
typedef enum { S_ADD, S_REMOVE, S_RENDER, S_DROP } s_edit_t;

//  The model's base ACL: *found false when there is none (or the ACL of
//  that name is another model's).
static int
s_base_get(en_compute_t *self, const char *model, s_acl_t *base, bool *found, en_err_t *err)
{
    memset(base, 0, sizeof *base);
    *found = false;
    lxd_base_acl_name(model, base->name);
    return s_acl_read(self, base, LXD_TAG_MODEL, model, found, err);
}

//  The group's rules as the base ACL holds them, edited as s_change asks.
static int
s_want(json_t *acl, const char *group, const lxd_texts_t *change, s_edit_t edit,
       lxd_texts_t *want, en_err_t *err)
{
    memset(want, 0, sizeof *want);
    if (lxd_texts_in(acl, group, want, err))
        return -1;
    if (edit == S_DROP)
        lxd_texts_clear(want);
    for (size_t i = 0; i < change->count; i++) {
        if (edit == S_REMOVE)
            lxd_texts_remove(want, change->texts[i]);
        else if (edit != S_RENDER && lxd_texts_add(want, change->texts[i], err))
            return -1;
    }
    return 0;
}

//  The model's base ACL (*found false when it has none) and the group's
//  rules in it, edited.
static int
s_base_want(en_compute_t *self, const char *model, const char *group, const lxd_texts_t *change,
            s_edit_t edit, s_acl_t *base, lxd_texts_t *want, bool *found, en_err_t *err)
{
    memset(want, 0, sizeof *want);
    if (s_base_get(self, model, base, found, err))
        return -1;
    return *found ? s_want(base->acl, group, change, edit, want, err) : 0;
}

//  One round of s_change on the base ACL. A first read decides whether
//  anything is to be written and, for a machine group, where its rules
//  point (the members' addresses: reading them may wait for a DHCP
//  lease, so never under the lock). Then, under the per-bridge lock, the
//  ACL is read again and the edit made on that fresh copy, rendered with
//  those destinations and PUT with If-Match, unless it changes nothing
//  (*done): writers on one host never race each other's ETag, so a
//  fan-out of many groups of one model is a queue, not a storm of 412s.
//  *wrote: written, to be read again. *missing: no base ACL yet.
static int
s_change_once(en_compute_t *self, const char *group, json_t *record, lxd_texts_t *change,
              s_edit_t edit, bool *done, bool *wrote, bool *missing, en_err_t *err)
{
    const char *model = lxd_user(record, LXD_TAG_MODEL);
    bool machine = lxd_user(record, LXD_TAG_MACHINE) != NULL;
    s_acl_t base;
    lxd_texts_t want = {0};
    char *dest = NULL;
    json_t *ingress = NULL, *body = NULL;
    bool found, none = false;
    int rc = -1, lock = -1;
    *done = *wrote = *missing = false;
    if (s_base_want(self, model, group, change, edit, &base, &want, &found, err))
        goto cleanup;
    if (!found) {
        //  Nothing to take away, or nothing to add: done.
        *missing = edit == S_ADD && change->count > 0;
        *done = !*missing;
        rc = 0;
        goto cleanup;
    }
    if (edit == S_RENDER && (!machine || want.count == 0)) {
        *done = true;
        rc = 0;
        goto cleanup;
    }
    //  With no rules left there is nothing to render for the members.
    bool rendered = want.count > 0;
    if (want.count == 0)
        dest = strdup("");
    else if (s_destination(self, group, record, &dest, &none, err))
        goto cleanup;
    if (!dest) {
        en_err_set(err, EN_INTERNAL, "out of memory");
        goto cleanup;
    }
    lock = s_bridge_lock(model);
    s_acl_clear(&base);
    lxd_texts_clear(&want);
    if (s_base_want(self, model, group, change, edit, &base, &want, &found, err))
        goto cleanup;
    if (!found) {
        *missing = edit == S_ADD && change->count > 0;
        *done = !*missing;
        rc = 0;
        goto cleanup;
    }
    if (machine && want.count > 0 && !rendered) {
        //  a racer gave the group rules since the first read: its members'
        //  addresses were not read, so go round again (never "": that is
        //  the whole bridge)
        rc = 0;
        goto cleanup;
    }
    json_t *old = json_object_get(base.acl, "ingress");
    if (!(ingress = lxd_ingress_build(old, group, &want, want.count ? dest : "", none))) {
        en_err_set(err, EN_INTERNAL, "out of memory");
        goto cleanup;
    }
    if (lxd_ingress_same(old, ingress)) {
        *done = true;
        rc = 0;
        goto cleanup;
    }
    body =
        json_pack("{s:O, s:O, s:O, s:O}", "description", json_object_get(base.acl, "description"),
                  "config", json_object_get(base.acl, "config"), "ingress", ingress, "egress",
                  json_object_get(base.acl, "egress"));
    if (!body) {
        en_err_set(err, EN_INTERNAL, "cannot render security group \"%s\"", group);
        goto cleanup;
    }
    rc = en_lxd_call_if_match(self->lxd, "PUT", base.path, body, base.etag, NULL, 0, err);
    *wrote = rc == 0;
cleanup:
    if (lock >= 0)
        s_bridge_unlock(lock);
    json_decref(body);
    json_decref(ingress);
    free(dest);
    lxd_texts_clear(&want);
    s_acl_clear(&base);
    return rc;
}

//  authorize (add), revoke (remove), refresh (render) and delete (drop
//  every rule): change the group's rules in its model's base ACL until a
//  read shows them as wanted (a racer with the same ETag may have
//  overwritten a write: 5.0.2's check is not atomic). S_RENDER touches
//  machine groups with rules only (the others' destination never
//  changes); for S_RENDER and S_DROP an unknown group is no error.
static int
s_change(en_compute_t *self, const char *group, const en_ingress_rule_t *rules, size_t n,
         s_edit_t edit, en_err_t *err)
{
    lxd_texts_t change;
    if (lxd_texts_of(rules, n, &change, err))
        return -1;
    s_acl_t record;
    en_err_t e = {0};
    int rc = s_acl_existing(self, group, &record, &e);
    if (rc && e.kind == EN_NOT_FOUND && (edit == S_RENDER || edit == S_DROP)) {
        lxd_texts_clear(&change);
        return 0;
    }
    const char *model = rc ? NULL : lxd_user(record.acl, LXD_TAG_MODEL);
    if (rc == 0 && (!model || !*model))
        rc = en_err_set(&e, EN_NOT_VALID, "security group \"%s\" has no %s tag", group,
                        LXD_TAG_MODEL);
    int64_t deadline = en_mono_ms() + S_DEADLINE_MS;
    bool made = false;
    for (int attempt = 0; rc == 0; attempt++) {
        bool done, wrote, missing;
        e = (en_err_t){0};
        rc = s_change_once(self, group, record.acl, &change, edit, &done, &wrote, &missing, &e);
        if (rc == 0 && done)
            break;
        if (rc == 0 && missing) {
            //  No base ACL yet (no bridge either): make the model's bridge,
            //  whose POST lists its base ACL, then write again.
            if (made)
                rc = en_err_set(&e, EN_INTERNAL, "base ACL of model %s not found", model);
            else
                rc = lxd_model_ensure(self, model, lxd_user(record.acl, LXD_TAG_CONTROLLER), &e);
            made = true;
            continue;
        }
        if (rc == 0 && en_mono_ms() >= deadline)
            break; // written; no time left to read it back
        if (rc && lxd_again(&lxd_backoff_race, attempt, deadline, &e))
            rc = 0;
    }
    if (rc && err)
        *err = e;
    s_acl_clear(&record);
    lxd_texts_clear(&change);
    return rc;
}

int
lxd_firewall_refresh(en_compute_t *self, const char *model_uuid, const char *const *groups,
                     size_t n, en_err_t *err)
{
    //  With the model known, one read of its base ACL tells which groups
    //  have rules at all: a new machine's have none, and its start then
    //  costs one GET here instead of two per group.
    s_acl_t base = {0};
    bool found = false;
    en_err_t ignored; // unread: every group is then refreshed on its own
    if (model_uuid && *model_uuid &&
        s_base_get(self, model_uuid, &base, &found, &ignored) == 0 && !found)
        return 0; // no base ACL: no rules anywhere
    //  Every group is tried; the first failure is the answer.
    int rc = 0;
    for (size_t i = 0; groups && i < n; i++) {
        en_err_t one = {0};
        if (!groups[i] || !*groups[i])
            continue;
        if (found) {
            lxd_texts_t have = {0};
            bool some = lxd_texts_in(base.acl, groups[i], &have, &ignored) != 0 || have.count > 0;
            lxd_texts_clear(&have);
            if (!some)
                continue;
        }
        if (s_change(self, groups[i], NULL, 0, S_RENDER, &one) == 0)
            continue;
        if (rc == 0 && err)
            *err = one;
        rc = -1;
    }
    s_acl_clear(&base);
    return rc;
}

void
lxd_firewall_forget(en_compute_t *self)
{
    (void)self; // nothing is remembered yet
}

//  --------------------------------------------------------------------------
//  The driver's entries

static int
s_ensure_group(en_compute_t *self, const char *name, const en_tag_t *tags, size_t tag_count,
               en_err_t *err)
{
    if (!name || !*name)
        return en_err_set(err, EN_NOT_VALID, "security group name \"\" not valid");
    if (tag_count && !tags)
        return en_err_set(err, EN_NOT_VALID, "tags not specified");
    for (size_t i = 0; i < tag_count; i++)
        if (!tags[i].key || !*tags[i].key)
            return en_err_set(err, EN_NOT_VALID, "tag key \"\" not valid");
    const char *model = lxd_tag(tags, tag_count, LXD_TAG_MODEL);
    if (!model || !*model)
        return en_err_set(err, EN_NOT_VALID, "security group \"%s\" has no %s tag", name,
                          LXD_TAG_MODEL);
    json_t *config = json_object();
    lxd_set_user(config, tags, tag_count);
    json_object_set_new(config, "user." S_TAG_GROUP, json_string(name));
    char acl_name[LXD_ACL_MAX];
    lxd_acl_name(name, acl_name);
    json_t *body = json_pack("{s:s, s:o, s:o, s:[], s:[]}", "name", acl_name, "description",
                             json_sprintf("environs security group %s", name), "config", config,
                             "ingress", "egress");
    en_err_t e = {0};
    int rc = body ? en_lxd_call(self->lxd, "POST", "/1.0/network-acls", body, NULL, NULL, 0, &e)
                  : en_err_set(&e, EN_INTERNAL, "out of memory");
    json_decref(body);
    if (rc && e.kind != EN_ALREADY_EXISTS) {
        if (err)
            *err = e;
        return -1;
    }
    //  There already (or just made by a racing caller): its tags stay, and
    //  its model is the one it was made for.
    s_acl_t acl;
    bool found;
    if (s_acl_get(self, name, &acl, &found, err))
        return -1;
    if (!found)
        return en_err_set(err, EN_ALREADY_EXISTS,
                          "security group \"%s\": network ACL \"%s\" belongs to another group",
                          name, acl_name);
    //  A record only: its rules go in the model's base ACL.
    s_acl_clear(&acl);
    return 0;
}

static int
s_delete_group(en_compute_t *self, const char *name, en_err_t *err)
{
    s_acl_t acl;
    bool found;
    if (s_acl_get(self, name, &acl, &found, err))
        return -1;
    if (!found)
        return 0; // already gone
    const char *model = lxd_user(acl.acl, LXD_TAG_MODEL);
    char **members = NULL;
    size_t n = 0;
    int rc = s_members(self, name, model, false, &members, &n, err);
    lxd_names_free(&members, n);
    if (rc == 0 && n)
        rc = en_err_set(err, EN_UNAVAILABLE, "security group \"%s\" is in use", name);
    //  Its rules leave the base ACL first: a record gone with rules left
    //  behind would leave them open with no group to revoke them from.
    if (rc == 0)
        rc = s_change(self, name, NULL, 0, S_DROP, err);
    en_err_t e = {0};
    if (rc == 0 && lxd_call(self, "DELETE", acl.path, NULL, NULL, 0, &e) &&
        e.kind != EN_NOT_FOUND) {
        if (err)
            *err = e;
        rc = -1;
    }
    s_acl_clear(&acl);
    return rc;
}

static int
s_list_groups(en_compute_t *self, const en_tag_t *filters, size_t filter_count, char ***names,
              size_t *count, en_err_t *err)
{
    *names = NULL;
    *count = 0;
    if (filter_count && !filters)
        return en_err_set(err, EN_NOT_VALID, "filters not specified");
    json_t *acls = NULL;
    if (s_acl_call(self, "/1.0/network-acls?recursion=1", &acls, NULL, err))
        return -1;
    size_t i;
    json_t *acl;
    int rc = 0;
    json_array_foreach(acls, i, acl)
    {
        const char *group = lxd_user(acl, S_TAG_GROUP);
        bool match = group && lxd_has_tags(acl, filters, filter_count);
        if (match && (rc = lxd_names_push(names, count, group, strlen(group), err)))
            break;
    }
    json_decref(acls);
    if (rc) {
        lxd_names_free(names, *count);
        *count = 0;
        return -1;
    }
    if (*count > 1)
        qsort(*names, *count, sizeof(char *), lxd_strcmp_p);
    return 0;
}

static int
s_authorize(en_compute_t *self, const char *group, const en_ingress_rule_t *rules, size_t n,
            en_err_t *err)
{
    return s_change(self, group, rules, n, S_ADD, err);
}

static int
s_revoke(en_compute_t *self, const char *group, const en_ingress_rule_t *rules, size_t n,
         en_err_t *err)
{
    return s_change(self, group, rules, n, S_REMOVE, err);
}

//  The rules that are open as they stand. A machine group's are those
//  enabled for exactly its members' addresses today (read as authorize
//  reads them, without waiting for DHCP): with a member stopped, started
//  at another address, added or without an address yet, its rules read
//  as closed, so that the firewaller authorizes them again.
static int
s_rules(en_compute_t *self, const char *group, en_ingress_rule_t **rules, size_t *n, en_err_t *err)
{
    *rules = NULL;
    *n = 0;
    s_acl_t acl, base = {0};
    lxd_texts_t texts = {0};
    char *dest = NULL;
    bool pending = false, found = false;
    if (s_acl_existing(self, group, &acl, err))
        return -1;
    const char *model = lxd_user(acl.acl, LXD_TAG_MODEL);
    //  No base ACL (no bridge yet): no rules.
    int rc = model && *model ? s_base_get(self, model, &base, &found, err) : 0;
    bool machine = lxd_user(acl.acl, LXD_TAG_MACHINE) != NULL;
    if (rc == 0 && found && !machine)
        rc = lxd_texts_in(base.acl, group, &texts, err);
    else if (rc == 0 && found &&
             (rc = s_member_dest(self, group, model, 0, &dest, &pending, err)) == 0 && !pending &&
             *dest)
        rc = lxd_texts_live(base.acl, group, dest, &texts, err);
    free(dest);
    s_acl_clear(&base);
    s_acl_clear(&acl);
    if (rc)
        return -1;
    if (texts.count && !(*rules = calloc(texts.count, sizeof **rules)))
        rc = en_err_set(err, EN_INTERNAL, "out of memory");
    for (size_t i = 0; rc == 0 && i < texts.count; i++)
        if (lxd_rule_parse(texts.texts[i], &(*rules)[(*n)++]))
            rc = en_err_set(err, EN_INTERNAL, "out of memory");
    lxd_texts_clear(&texts);
    if (rc) {
        en_ingress_rules_free(rules, *n);
        *n = 0;
        return -1;
    }
    en_ingress_rules_sort(*rules, *n);
    return 0;
}

const en_firewall_ops_t lxd_firewall_ops = {
    .ensure_group = s_ensure_group,
    .delete_group = s_delete_group,
    .list_groups = s_list_groups,
    .authorize = s_authorize,
    .revoke = s_revoke,
    .rules = s_rules,
    .instance_rules = NULL,
};
