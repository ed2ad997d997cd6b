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
    controller and machine. No record, no group: NOT_FOUND. Records,
    their names and members are lxd_groups.c's, which remembers the
    records this connection read or made (a GET of an ACL costs 10-30 ms
    in 5.0.2 with a few dozen instances), trusted while the list of names
    shows them.

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
    it when members come and go). instance_rules (one GET of the
    instance for its membership, then the change) lets the firewaller
    open a port with one call. Rules not written by us are kept as
    they are, and so are other groups'.

    The base ACL is shared by all groups of the model, and LXD's ETag
    check is not atomic (concurrent PUTs with one ETag both succeed), so
    every write is a loop: read with the ETag, edit the caller group's
    rules only, PUT with If-Match, then read again until the group's rules
    are what we wanted, retrying lost races within a deadline (that read
    compares with the destinations the write rendered, without reading
    the members again). Writers on one host also take an flock per bridge
    (s_bridge_lock), which spares LXD most of the clashes; the retries
    alone are what make it correct.
    Lost races and LXD's transient failures (the classifier's) are
    retried alike until a deadline (lxd_again with lxd_backoff_race). A
    rule authorized before the model has a base ACL (global mode before
    any instance) makes the model's bridge first (lxd_model_ensure, whose
    bridge POST lists the base). */
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

//  How long a call retries lost races and waits for member addresses.
#define S_DEADLINE_MS 30000
//  LXD's longest instance name.
#define S_INSTANCE_NAME_LONGEST 63
#define S_LOCK_SLOTS 64
//  How long a writer waits for the flock before going on without it.
#define S_LOCK_WAIT_MS 5000

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

//  The group's record (remembered: lxd_groups.c), without an ETag (a
//  record is never written): *found false when there is none (or the ACL
//  of that name is another group's).
static int
s_acl_get(en_compute_t *self, const char *group, s_acl_t *acl, bool *found, en_err_t *err)
{
    memset(acl, 0, sizeof *acl);
    *found = false;
    if (!group || !*group)
        return en_err_set(err, EN_NOT_VALID, "security group name \"\" not valid");
    lxd_acl_name(group, acl->name);
    lxd_path(acl->path, sizeof acl->path, "/1.0/network-acls/", acl->name, NULL);
    if (lxd_group_record(self, group, &acl->acl, err))
        return -1;
    *found = acl->acl != NULL;
    return 0;
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
//  Where rules apply

//  Where the group's rules apply: "" (the whole bridge) for a model or
//  global group; a machine group's member addresses as /32s (malloc'd),
//  and *none true when it has no running member. A member without an
//  address yet is waited for (S_DEADLINE_MS) with wait; without, it sets
//  *pending and the destination misses it.
static int
s_destination(en_compute_t *self, const char *group, json_t *acl, bool wait, char **dest,
              bool *none, bool *pending, en_err_t *err)
{
    *none = *pending = false;
    if (!lxd_user(acl, LXD_TAG_MACHINE)) {
        *dest = strdup("");
        return *dest ? 0 : en_err_set(err, EN_INTERNAL, "out of memory");
    }
    if (lxd_group_dest(self, group, lxd_user(acl, LXD_TAG_MODEL),
                       wait ? en_mono_ms() + S_DEADLINE_MS : 0, dest, pending, err))
        return -1;
    *none = **dest == '\0' && !*pending;
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

//  What a write does to the group's set of rules before rendering it: add
//  some then remove some (authorize, revoke, instance_rules), render
//  them again as they are (refresh), or drop them all (delete).
typedef enum { S_EDIT, S_RENDER, S_DROP } s_edit_t;

//  One s_change: the group, its edit, and what its rounds leave behind.
//  A round that wrote leaves where it rendered the rules (dest, none,
//  rendered) so that the next round only reads the base ACL to verify the
//  write, without reading the members again; the read that shows the
//  rules as wanted is kept (seen) for a read-back.
typedef struct {
    const char *group;
    json_t *record; // the group's record (borrowed)
    s_edit_t edit;
    lxd_texts_t add, remove; // S_EDIT: added, then removed
    char *dest;              // where the rules were rendered (malloc'd)
    bool none;               // a machine group without running members
    bool rendered;           // dest was read from the members
    bool wait;               // a member had no address yet: wait for it
    bool wrote;              // the last round wrote: the next verifies
    bool settled;            // the last round found the rules as wanted
    json_t *seen;            // its read of the base ACL (NULL: none)
} s_job_t;

static int
s_job_texts(s_job_t *job, const en_ingress_rule_t *add, size_t nadd,
            const en_ingress_rule_t *remove, size_t nremove, en_err_t *err)
{
    if (lxd_texts_of(add, nadd, &job->add, err))
        return -1;
    return lxd_texts_of(remove, nremove, &job->remove, err);
}

static void
s_job_clear(s_job_t *job)
{
    lxd_texts_clear(&job->add);
    lxd_texts_clear(&job->remove);
    free(job->dest);
    json_decref(job->seen);
    job->dest = NULL;
    job->seen = NULL;
}

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

//  The group's rules as the base ACL holds them, edited as the job asks.
static int
s_want(json_t *acl, const s_job_t *job, lxd_texts_t *want, en_err_t *err)
{
    memset(want, 0, sizeof *want);
    if (lxd_texts_in(acl, job->group, want, err))
        return -1;
    if (job->edit == S_DROP)
        lxd_texts_clear(want);
    for (size_t i = 0; job->edit == S_EDIT && i < job->add.count; i++)
        if (lxd_texts_add(want, job->add.texts[i], err))
            return -1;
    for (size_t i = 0; job->edit == S_EDIT && i < job->remove.count; i++)
        lxd_texts_remove(want, job->remove.texts[i]);
    return 0;
}

//  The model's base ACL (*found false when it has none) and the group's
//  rules in it, edited.
static int
s_base_want(en_compute_t *self, const char *model, const s_job_t *job, s_acl_t *base,
            lxd_texts_t *want, bool *found, en_err_t *err)
{
    memset(want, 0, sizeof *want);
    if (s_base_get(self, model, base, found, err))
        return -1;
    return *found ? s_want(base->acl, job, want, err) : 0;
}

//  No base ACL: nothing to take away, or nothing to add (done); or rules
//  to add, and the model's bridge to make first (*missing).
static void
s_no_base(s_job_t *job, bool *done, bool *missing)
{
    *missing = job->edit == S_EDIT && job->add.count > 0;
    *done = !*missing;
    job->settled = *done;
}

//  The rules are as wanted in base: the job is done, and keeps the read.
static void
s_settle(s_job_t *job, s_acl_t *base, bool *done)
{
    *done = job->settled = true;
    json_decref(job->seen);
    job->seen = base->acl;
    base->acl = NULL;
}

//  The round after a write: one read of the base ACL, compared with the
//  rules as that write rendered them (*done), their members not read
//  again. When they differ (a racer's write won), the next round writes
//  again, reading the members anew.
static int
s_verify(en_compute_t *self, const char *model, s_job_t *job, bool *done, en_err_t *err)
{
    s_acl_t base;
    lxd_texts_t want;
    json_t *ingress = NULL;
    bool found, machine = lxd_user(job->record, LXD_TAG_MACHINE) != NULL;
    job->wrote = false;
    int rc = s_base_want(self, model, job, &base, &want, &found, err);
    //  A racer gave the group rules where ours had none: never rendered
    //  for the members (and "" is the whole bridge), so write again.
    bool comparable = found && !(machine && want.count > 0 && !job->rendered);
    if (rc == 0 && comparable) {
        json_t *old = json_object_get(base.acl, "ingress");
        ingress = lxd_ingress_build(old, job->group, &want, want.count ? job->dest : "", job->none);
        if (!ingress)
            rc = en_err_set(err, EN_INTERNAL, "out of memory");
        else if (lxd_ingress_same(old, ingress))
            s_settle(job, &base, done);
    }
    json_decref(ingress);
    lxd_texts_clear(&want);
    s_acl_clear(&base);
    return rc;
}

//  Under the lock, on the fresh read base: render want for dest, and PUT
//  it with If-Match unless it changes nothing (*done).
static int
s_write(en_compute_t *self, s_job_t *job, s_acl_t *base, lxd_texts_t *want, const char *dest,
        bool none, bool *done, en_err_t *err)
{
    json_t *old = json_object_get(base->acl, "ingress");
    json_t *ingress = lxd_ingress_build(old, job->group, want, want->count ? dest : "", none);
    if (!ingress)
        return en_err_set(err, EN_INTERNAL, "out of memory");
    if (lxd_ingress_same(old, ingress)) {
        json_decref(ingress);
        s_settle(job, base, done);
        return 0;
    }
    json_t *body =
        json_pack("{s:O, s:O, s:O, s:O}", "description", json_object_get(base->acl, "description"),
                  "config", json_object_get(base->acl, "config"), "ingress", ingress, "egress",
                  json_object_get(base->acl, "egress"));
    json_decref(ingress);
    if (!body)
        return en_err_set(err, EN_INTERNAL, "cannot render security group \"%s\"", job->group);
    int rc = en_lxd_call_if_match(self->lxd, "PUT", base->path, body, base->etag, NULL, 0, err);
    json_decref(body);
    job->wrote = rc == 0;
    return rc;
}

//  One round of s_change on the base ACL; after a write, s_verify's.
//  First, where the rules point: for a machine group its members'
//  addresses, read before the lock, as reading them may wait for a DHCP
//  lease (only after a round found a member without one while rules
//  remain). Then, under the per-bridge lock, the ACL is read and the edit
//  made on that fresh copy, rendered with those destinations (s_write):
//  writers on one host never race each other's ETag, so a fan-out of many
//  groups of one model is a queue, not a storm of 412s. One read of the
//  ACL per write: it is the costly request (LXD computes an ACL's usage
//  on every GET). *missing: no base ACL yet.
static int
s_change_once(en_compute_t *self, const char *model, s_job_t *job, bool *done, bool *missing,
              en_err_t *err)
{
    *done = *missing = false;
    if (job->wrote)
        return s_verify(self, model, job, done, err);
    bool machine = lxd_user(job->record, LXD_TAG_MACHINE) != NULL;
    if (job->edit == S_RENDER && !machine) {
        //  a model or global group's destination never changes
        *done = job->settled = true;
        return 0;
    }
    s_acl_t base = {0};
    lxd_texts_t want = {0};
    char *dest = NULL;
    bool found, none = false, pending = false;
    int lock = -1;
    int rc = s_destination(self, job->group, job->record, job->wait, &dest, &none, &pending, err);
    if (rc)
        goto cleanup;
    lock = s_bridge_lock(model);
    if ((rc = s_base_want(self, model, job, &base, &want, &found, err)))
        goto cleanup;
    if (!found)
        s_no_base(job, done, missing);
    else if (job->edit == S_RENDER && want.count == 0)
        s_settle(job, &base, done);
    else if (want.count > 0 && pending)
        job->wait = true; // again, waiting for the lease outside the lock
    else
        rc = s_write(self, job, &base, &want, dest, none, done, err);
    if (rc == 0 && (job->wrote || job->settled)) {
        free(job->dest);
        job->dest = dest;
        dest = NULL;
        job->none = none;
        job->rendered = true;
    }
cleanup:
    if (lock >= 0)
        s_bridge_unlock(lock);
    free(dest);
    lxd_texts_clear(&want);
    s_acl_clear(&base);
    return rc;
}

//  Change the group's rules in its model's base ACL until a read shows
//  them as wanted (a racer with the same ETag may have overwritten a
//  write: 5.0.2's check is not atomic). S_RENDER touches machine groups
//  with rules only (the others' destination never changes).
static int
s_change_job(en_compute_t *self, s_job_t *job, en_err_t *err)
{
    const char *model = lxd_user(job->record, LXD_TAG_MODEL);
    if (!model || !*model)
        return en_err_set(err, EN_NOT_VALID, "security group \"%s\" has no %s tag", job->group,
                          LXD_TAG_MODEL);
    int64_t deadline = en_mono_ms() + S_DEADLINE_MS;
    bool made = false;
    en_err_t e = {0};
    int rc = 0;
    for (int attempt = 0; rc == 0; attempt++) {
        bool done, missing;
        e = (en_err_t){0};
        rc = s_change_once(self, model, job, &done, &missing, &e);
        if (rc == 0 && done)
            break;
        if (rc == 0 && missing) {
            //  No base ACL yet (no bridge either): make the model's bridge,
            //  whose POST lists its base ACL, then write again.
            if (made)
                rc = en_err_set(&e, EN_INTERNAL, "base ACL of model %s not found", model);
            else
                rc = lxd_model_ensure(self, model, lxd_user(job->record, LXD_TAG_CONTROLLER), &e);
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
    return rc;
}

//  authorize and revoke (S_EDIT), refresh (S_RENDER) and delete (S_DROP):
//  s_change_job on the group's record. For S_RENDER and S_DROP an unknown
//  group is no error.
static int
s_change(en_compute_t *self, const char *group, const en_ingress_rule_t *add, size_t nadd,
         const en_ingress_rule_t *remove, size_t nremove, s_edit_t edit, en_err_t *err)
{
    s_job_t job = {.group = group, .edit = edit};
    s_acl_t record = {0};
    en_err_t e = {0};
    int rc = s_job_texts(&job, add, nadd, remove, nremove, &e);
    if (rc == 0 && (rc = s_acl_existing(self, group, &record, &e)) == 0) {
        job.record = record.acl;
        rc = s_change_job(self, &job, &e);
    } else if (rc && e.kind == EN_NOT_FOUND && (edit == S_RENDER || edit == S_DROP)) {
        rc = 0;
    }
    if (rc && err)
        *err = e;
    s_acl_clear(&record);
    s_job_clear(&job);
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
        if (s_change(self, groups[i], NULL, 0, NULL, 0, S_RENDER, &one) == 0)
            continue;
        if (rc == 0 && err)
            *err = one;
        rc = -1;
    }
    s_acl_clear(&base);
    return rc;
}

//  --------------------------------------------------------------------------
//  Reading rules

//  The texts of the group's rules that are open as they stand (record: its
//  record). A machine group's are those enabled for exactly its members'
//  addresses today (read as authorize reads them, without waiting for
//  DHCP): with a member stopped, started at another address, added or
//  without an address yet, its rules read as closed, so that the
//  firewaller authorizes them again. No base ACL (no bridge yet): none.
static int
s_open_texts(en_compute_t *self, const char *group, json_t *record, lxd_texts_t *texts,
             en_err_t *err)
{
    memset(texts, 0, sizeof *texts);
    s_acl_t base = {0};
    char *dest = NULL;
    bool pending = false, found = false;
    const char *model = lxd_user(record, LXD_TAG_MODEL);
    int rc = model && *model ? s_base_get(self, model, &base, &found, err) : 0;
    bool machine = lxd_user(record, LXD_TAG_MACHINE) != NULL;
    if (rc == 0 && found && !machine)
        rc = lxd_texts_in(base.acl, group, texts, err);
    else if (rc == 0 && found &&
             (rc = lxd_group_dest(self, group, model, 0, &dest, &pending, err)) == 0 && !pending &&
             *dest)
        rc = lxd_texts_live(base.acl, group, dest, texts, err);
    free(dest);
    s_acl_clear(&base);
    return rc;
}

//  The same from the read that settled a change: a machine group's rules
//  as rendered for the members that change read (with none, none).
static int
s_settled_texts(const s_job_t *job, lxd_texts_t *texts, en_err_t *err)
{
    memset(texts, 0, sizeof *texts);
    if (!job->seen)
        return 0; // no base ACL
    if (!lxd_user(job->record, LXD_TAG_MACHINE))
        return lxd_texts_in(job->seen, job->group, texts, err);
    if (!job->dest || !*job->dest)
        return 0;
    return lxd_texts_live(job->seen, job->group, job->dest, texts, err);
}

//  texts (cleared) as rules, sorted.
static int
s_rules_of(lxd_texts_t *texts, en_ingress_rule_t **rules, size_t *n, en_err_t *err)
{
    int rc = 0;
    *rules = NULL;
    *n = 0;
    if (texts->count && !(*rules = calloc(texts->count, sizeof **rules)))
        rc = en_err_set(err, EN_INTERNAL, "out of memory");
    for (size_t i = 0; rc == 0 && i < texts->count; i++)
        if (lxd_rule_parse(texts->texts[i], &(*rules)[(*n)++]))
            rc = en_err_set(err, EN_INTERNAL, "out of memory");
    lxd_texts_clear(texts);
    if (rc) {
        en_ingress_rules_free(rules, *n);
        *n = 0;
        return -1;
    }
    en_ingress_rules_sort(*rules, *n);
    return 0;
}

//  --------------------------------------------------------------------------
//  A change guarded by a member (instance_rules)

//  Whether the instance is a live member of the group as describe and
//  s_members see it: it exists (describe calls every instance live), it
//  is of the group's model, and its user.juju-security-groups lists the
//  group. No such instance: no member.
static int
s_is_member(en_compute_t *self, const char *id, const char *group, json_t *record, bool *member,
            en_err_t *err)
{
    *member = false;
    if (!*id || strlen(id) > S_INSTANCE_NAME_LONGEST)
        return 0;
    char path[3 * S_INSTANCE_NAME_LONGEST + 32];
    lxd_path(path, sizeof path, "/1.0/instances/", id, NULL);
    json_t *inst = NULL;
    en_err_t e = {0};
    if (lxd_call(self, "GET", path, NULL, &inst, 0, &e)) {
        if (e.kind == EN_NOT_FOUND)
            return 0;
        if (err)
            *err = e;
        return -1;
    }
    const char *model = lxd_user(record, LXD_TAG_MODEL), *owner = lxd_user(inst, LXD_TAG_MODEL);
    *member = model && owner && strcmp(model, owner) == 0 &&
              lxd_list_has(lxd_config(inst, LXD_KEY_GROUPS), group);
    json_decref(inst);
    return 0;
}

static int
s_op_check(const en_fw_instance_op_t *op, en_err_t *err)
{
    if (!op->instance_id)
        return en_err_set(err, EN_NOT_VALID, "instance id not specified");
    if (op->tag_count && !op->tags)
        return en_err_set(err, EN_NOT_VALID, "tag filters not specified");
    for (size_t i = 0; i < op->tag_count; i++)
        if (!op->tags[i].key || !*op->tags[i].key)
            return en_err_set(err, EN_NOT_VALID, "tag filter without a key");
    return 0;
}

//  The guard held: the change (if any), then the rules read back from the
//  read that settled it; without a change, read as s_rules reads them.
static int
s_guarded_change(en_compute_t *self, s_job_t *job, const en_fw_instance_op_t *op,
                 en_ingress_rule_t **rules, size_t *n, en_err_t *err)
{
    if (s_job_texts(job, op->authorize, op->authorize_count, op->revoke, op->revoke_count, err))
        return -1;
    bool change = job->add.count || job->remove.count;
    if (change && s_change_job(self, job, err))
        return -1;
    if (!rules)
        return 0;
    lxd_texts_t texts;
    int rc = change && job->settled ? s_settled_texts(job, &texts, err)
                                    : s_open_texts(self, job->group, job->record, &texts, err);
    return rc ? rc : s_rules_of(&texts, rules, n, err);
}

//  en_firewall_ops_t.instance_rules: the group's record (remembered) with
//  op's tags, the instance (one GET) a member of it, then authorize,
//  revoke and rules in one change. As the sim cloud's: an unknown group,
//  another's instance or other tags change nothing and set *member false.
static int
s_instance_rules(en_compute_t *self, const en_fw_instance_op_t *op, bool *member,
                 en_ingress_rule_t **rules, size_t *n, en_err_t *err)
{
    *member = false;
    if (rules) {
        *rules = NULL;
        *n = 0;
    }
    s_acl_t record;
    bool found;
    if (s_op_check(op, err) || s_acl_get(self, op->group, &record, &found, err))
        return -1;
    s_job_t job = {.group = op->group, .record = record.acl, .edit = S_EDIT};
    bool guard = found && lxd_has_tags(record.acl, op->tags, op->tag_count);
    int rc = guard ? s_is_member(self, op->instance_id, op->group, record.acl, &guard, err) : 0;
    if (rc == 0 && guard)
        rc = s_guarded_change(self, &job, op, rules, n, err);
    *member = rc == 0 && guard;
    s_job_clear(&job);
    s_acl_clear(&record);
    return rc;
}

//  --------------------------------------------------------------------------
//  The driver's entries

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
    int rc = lxd_group_members(self, name, model, false, &members, &n, err);
    lxd_names_free(&members, n);
    if (rc == 0 && n)
        rc = en_err_set(err, EN_UNAVAILABLE, "security group \"%s\" is in use", name);
    //  Its rules leave the base ACL first: a record gone with rules left
    //  behind would leave them open with no group to revoke them from.
    if (rc == 0)
        rc = s_change(self, name, NULL, 0, NULL, 0, S_DROP, err);
    en_err_t e = {0};
    if (rc == 0 && lxd_call(self, "DELETE", acl.path, NULL, NULL, 0, &e) &&
        e.kind != EN_NOT_FOUND) {
        if (err)
            *err = e;
        rc = -1;
    }
    if (rc == 0)
        lxd_group_forget(self, name);
    s_acl_clear(&acl);
    return rc;
}

static int
s_authorize(en_compute_t *self, const char *group, const en_ingress_rule_t *rules, size_t n,
            en_err_t *err)
{
    return s_change(self, group, rules, n, NULL, 0, S_EDIT, err);
}

static int
s_revoke(en_compute_t *self, const char *group, const en_ingress_rule_t *rules, size_t n,
         en_err_t *err)
{
    return s_change(self, group, NULL, 0, rules, n, S_EDIT, err);
}

//  The rules that are open as they stand (s_open_texts).
static int
s_rules(en_compute_t *self, const char *group, en_ingress_rule_t **rules, size_t *n, en_err_t *err)
{
    *rules = NULL;
    *n = 0;
    s_acl_t acl;
    lxd_texts_t texts;
    if (s_acl_existing(self, group, &acl, err))
        return -1;
    int rc = s_open_texts(self, group, acl.acl, &texts, err);
    s_acl_clear(&acl);
    return rc ? rc : s_rules_of(&texts, rules, n, err);
}

const en_firewall_ops_t lxd_firewall_ops = {
    .ensure_group = lxd_group_ensure,
    .delete_group = s_delete_group,
    .list_groups = lxd_group_list,
    .authorize = s_authorize,
    .revoke = s_revoke,
    .rules = s_rules,
    .instance_rules = s_instance_rules,
};
