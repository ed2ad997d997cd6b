/*  lxd_groups.c — security groups' records (lxd_firewall.c's header says
    what a record is) and members: a record's ACL name (lxd_acl_name),
    making one (ensure_group), finding one, listing them; a group's
    members and their addresses (where a machine group's rules point).

    Records this connection has read or made are remembered, so that
    a call on a group does not GET its record ACL every time: with a few
    dozen instances, 5.0.2 computes an ACL's usage (every network and
    instance) on each GET of it, 10-30 ms, where the list of names costs
    ~1 ms.

    A record's tags never change after it is made, so what is remembered
    of it stays true while that ACL lives. Whether it still lives is not
    remembered: a record is trusted only after the list of names
    (lxd_acl_names) shows its ACL, so another process's delete is seen at
    once (NOT_FOUND, as a GET would say). A delete and a re-make by
    someone else between two calls could change the tags under one name,
    so a record is kept for S_TTL_MS only, then read again. At most S_MAX
    records are kept, the oldest dropped first: a plain array in the order
    they were remembered, searched from the end. A connection is used by
    one thread at a time, so nothing is locked. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "providers/lxd/lxd_private.h"

//  The tag (user.<key> config) with the full group name of an ACL.
#define S_TAG_GROUP "juju-group"
#define S_ACL_NAME_LONGEST 63
#define S_SHORT_PREFIX 44
//  Records remembered at most, and for how long.
#define S_MAX 1024
#define S_TTL_MS 60000

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
//  Remembered records

typedef struct {
    char name[LXD_ACL_MAX]; // the record's ACL
    json_t *record;         // as GET gives it (config: its tags)
    int64_t at_ms;          // when it was remembered (en_mono_ms)
} s_entry_t;

struct lxd_fw_cache {
    s_entry_t *entries; // oldest first
    size_t count;
    size_t size;
};

static s_entry_t *
s_find(struct lxd_fw_cache *cache, const char *name)
{
    for (size_t i = cache ? cache->count : 0; i-- > 0;)
        if (strcmp(cache->entries[i].name, name) == 0)
            return &cache->entries[i];
    return NULL;
}

static void
s_remove(struct lxd_fw_cache *cache, s_entry_t *entry)
{
    json_decref(entry->record);
    size_t i = (size_t)(entry - cache->entries);
    memmove(entry, entry + 1, (cache->count - i - 1) * sizeof *entry);
    cache->count--;
}

//  Room for one more: the array grows up to S_MAX, then the oldest goes.
static bool
s_room(struct lxd_fw_cache *cache)
{
    if (cache->count == S_MAX)
        s_remove(cache, &cache->entries[0]);
    if (cache->count < cache->size)
        return true;
    size_t size = cache->size ? cache->size * 2 : 16;
    if (size > S_MAX)
        size = S_MAX;
    s_entry_t *grown = realloc(cache->entries, size * sizeof *grown);
    if (!grown)
        return false;
    cache->entries = grown;
    cache->size = size;
    return true;
}

//  The record remembered under acl_name (a new reference); NULL when
//  none, or too old.
static json_t *
s_recall(en_compute_t *self, const char *acl_name)
{
    s_entry_t *entry = s_find(self->fw_cache, acl_name);
    if (!entry)
        return NULL;
    if (en_mono_ms() - entry->at_ms >= S_TTL_MS) {
        s_remove(self->fw_cache, entry);
        return NULL;
    }
    return json_incref(entry->record);
}

static void
s_drop(en_compute_t *self, const char *acl_name)
{
    s_entry_t *entry = s_find(self->fw_cache, acl_name);
    if (entry)
        s_remove(self->fw_cache, entry);
}

//  Remember record under acl_name (a reference of its own), replacing any.
//  Out of memory, it is not remembered: read again next time.
static void
s_remember(en_compute_t *self, const char *acl_name, json_t *record)
{
    if (!record || strlen(acl_name) >= LXD_ACL_MAX)
        return;
    if (!self->fw_cache && !(self->fw_cache = calloc(1, sizeof *self->fw_cache)))
        return;
    s_drop(self, acl_name);
    if (!s_room(self->fw_cache))
        return;
    s_entry_t *entry = &self->fw_cache->entries[self->fw_cache->count++];
    strcpy(entry->name, acl_name);
    entry->record = json_incref(record);
    entry->at_ms = en_mono_ms();
}

void
lxd_firewall_forget(en_compute_t *self)
{
    struct lxd_fw_cache *cache = self->fw_cache;
    if (!cache)
        return;
    for (size_t i = 0; i < cache->count; i++)
        json_decref(cache->entries[i].record);
    free(cache->entries);
    free(cache);
    self->fw_cache = NULL;
}

//  --------------------------------------------------------------------------
//  Finding a record

//  Whether an ACL (GET's metadata) is group's record: an ACL whose
//  user.juju-group differs is someone else's.
static bool
s_owned(const json_t *acl, const char *group)
{
    const char *value = lxd_user(acl, S_TAG_GROUP);
    return value && strcmp(value, group) == 0;
}

//  A remembered record (known, whose reference this takes), trusted
//  while the names list its ACL; forgotten when they do not.
static int
s_listed(en_compute_t *self, const char *acl_name, const char *group, json_t *known,
         json_t **record, en_err_t *err)
{
    lxd_texts_t names;
    if (lxd_acl_names(self, &names, err)) {
        json_decref(known);
        return -1;
    }
    bool listed = lxd_names_sorted_has(&names, acl_name);
    lxd_texts_clear(&names);
    if (!listed)
        s_drop(self, acl_name);
    if (listed && s_owned(known, group))
        *record = known;
    else
        json_decref(known);
    return 0;
}

int
lxd_group_record(en_compute_t *self, const char *group, json_t **record, en_err_t *err)
{
    *record = NULL;
    char name[LXD_ACL_MAX], path[LXD_ACL_MAX + 32];
    lxd_acl_name(group, name);
    json_t *known = s_recall(self, name);
    if (known)
        return s_listed(self, name, group, known, record, err);
    lxd_path(path, sizeof path, "/1.0/network-acls/", name, NULL);
    json_t *acl = NULL;
    en_err_t e = {0};
    if (lxd_call(self, "GET", path, NULL, &acl, 0, &e)) {
        if (e.kind == EN_NOT_FOUND)
            return 0;
        if (err)
            *err = e;
        return -1;
    }
    if (s_owned(acl, group)) {
        s_remember(self, name, acl);
        *record = acl;
    } else {
        json_decref(acl);
    }
    return 0;
}

void
lxd_group_forget(en_compute_t *self, const char *group)
{
    char name[LXD_ACL_MAX];
    lxd_acl_name(group, name);
    s_drop(self, name);
}

//  --------------------------------------------------------------------------
//  Making and listing records

//  The record a POST of body made, as a GET would read it: LXD keeps no
//  config key whose value is "" (a tag without a value).
static void
s_remember_made(en_compute_t *self, const char *acl_name, json_t *body)
{
    json_t *config = json_object_get(body, "config");
    const char *key;
    json_t *value;
    void *tmp;
    json_object_foreach_safe(config, tmp, key, value)
    {
        if (json_is_string(value) && !*json_string_value(value))
            json_object_del(config, key);
    }
    s_remember(self, acl_name, body);
}

//  A group's record: an ACL without rules, its tags and the full group
//  name in its config (lxd_firewall.c's header).
static json_t *
s_record_body(const char *name, const char *acl_name, const en_tag_t *tags, size_t tag_count)
{
    json_t *config = json_object();
    lxd_set_user(config, tags, tag_count);
    json_object_set_new(config, "user." S_TAG_GROUP, json_string(name));
    return json_pack("{s:s, s:o, s:o, s:[], s:[]}", "name", acl_name, "description",
                     json_sprintf("environs security group %s", name), "config", config, "ingress",
                     "egress");
}

static int
s_ensure_check(const char *name, const en_tag_t *tags, size_t tag_count, en_err_t *err)
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
    return 0;
}

//  Made by us, the record is what we sent: remembered, with no GET. There
//  already (or just made by a racing caller), its tags stay, and it must
//  be the group's: the remembered record while the names list it, else
//  a GET.
int
lxd_group_ensure(en_compute_t *self, const char *name, const en_tag_t *tags, size_t tag_count,
                 en_err_t *err)
{
    if (s_ensure_check(name, tags, tag_count, err))
        return -1;
    char acl_name[LXD_ACL_MAX];
    lxd_acl_name(name, acl_name);
    json_t *body = s_record_body(name, acl_name, tags, tag_count);
    en_err_t e = {0};
    int rc = body ? en_lxd_call(self->lxd, "POST", "/1.0/network-acls", body, NULL, NULL, 0, &e)
                  : en_err_set(&e, EN_INTERNAL, "out of memory");
    if (rc == 0)
        s_remember_made(self, acl_name, body);
    json_decref(body);
    if (rc == 0)
        return 0;
    if (e.kind != EN_ALREADY_EXISTS) {
        if (err)
            *err = e;
        return -1;
    }
    json_t *record;
    if (lxd_group_record(self, name, &record, err))
        return -1;
    if (!record)
        return en_err_set(err, EN_ALREADY_EXISTS,
                          "security group \"%s\": network ACL \"%s\" belongs to another group",
                          name, acl_name);
    //  A record only: its rules go in the model's base ACL.
    json_decref(record);
    return 0;
}

int
lxd_group_list(en_compute_t *self, const en_tag_t *filters, size_t filter_count, char ***names,
               size_t *count, en_err_t *err)
{
    *names = NULL;
    *count = 0;
    if (filter_count && !filters)
        return en_err_set(err, EN_NOT_VALID, "filters not specified");
    json_t *acls = NULL;
    if (lxd_call(self, "GET", "/1.0/network-acls?recursion=1", NULL, &acls, 0, err))
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

//  --------------------------------------------------------------------------
//  Members and their addresses

//  The instances (of the model, when known) whose user.juju-security-
//  groups lists group; running only, or every one. The model narrows
//  LXD's answer only when it is a plain word, and is checked here always.
int
lxd_group_members(en_compute_t *self, const char *group, const char *model, bool running_only,
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
int
lxd_group_dest(en_compute_t *self, const char *group, const char *model, int64_t deadline,
               char **dest, bool *pending, en_err_t *err)
{
    *dest = NULL;
    *pending = false;
    char **members = NULL;
    size_t n = 0, size = 1;
    if (lxd_group_members(self, group, model, true, &members, &n, err))
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
