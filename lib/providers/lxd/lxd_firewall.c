/*  lxd_firewall.c — security groups as LXD network ACLs (LXD 5.0.2).

    A group is one network ACL, named by lxd_acl_name: the group name
    itself when LXD accepts it (1–63 letters, digits and '-', starting with
    a letter, not ending with '-'; every "juju-<uuid>[-<machine>]" of a
    short machine id is), else a deterministic short form "<prefix>-h<16
    hex of a 64-bit FNV-1a of the name>". The ACL's config carries the full
    group name (user.juju-group), which is what we trust: an ACL whose
    user.juju-group differs is someone else's, never the group. The group's
    tags are user.<key> config.

    In 5.0.2 an ACL attaches to a bridge network only, never to a NIC, and
    once one is attached the bridge's default ingress action (reject, set
    with the attachment) applies to everything not allowed. So every ACL
    of a model goes on the model's bridge (lxd_bridge_name), listed in its
    security.acls. That list is shared by all groups of the model, and
    LXD's ETag check is not atomic (concurrent PATCHes with one ETag both
    succeed, and concurrent re-renders of one bridge's nft chains fail with
    "Failed clearing firewall"), so every change of the list is a loop:
    read with the ETag, PATCH with If-Match, then read again until the list
    holds what we wanted, retrying lost races within a deadline. Writers
    on one host also take an flock per bridge (s_bridge_lock), which
    spares LXD most of the clashes; the retries alone are what make it
    correct (the tests pass without the lock too).

    A rule is one ingress rule of the ACL, with a description that is the
    rule itself as Juju prints it, always with its canonical, sorted CIDRs:
    "80-100/tcp from 0.0.0.0/0", "icmp from 10.0.0.0/8,192.168.0.0/16".
    rules() reads the descriptions back, so a rule comes back exactly as
    stored; the LXD fields (protocol tcp|udp|icmp4, destination_port,
    source, "" for anywhere) are rendered from it. A machine's own group
    (tagged juju-machine-id: instance firewall mode) opens ports on its
    members only: its rules' destination is the /32 of every address of
    every running instance that lists the group in user.juju-security-
    groups; with no such instance its rules are kept but disabled. Model
    and global groups cover the whole bridge (destination ""). Every write
    re-renders all rules of the ACL, so a member's address is picked up by
    the next change. Rules not written by us are kept as they are. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <fcntl.h>
#include <unistd.h>

#include "common/clock.h"
#include "providers/lxd/lxd_private.h"

#define S_ANYWHERE "0.0.0.0/0"
#define S_KEY_GROUP "user.juju-group"
#define S_KEY_MACHINE "user." LXD_TAG_MACHINE
#define S_KEY_MODEL "user." LXD_TAG_MODEL
#define S_KEY_CONTROLLER "user." LXD_TAG_CONTROLLER
//  How long a call retries lost races and waits for member addresses.
#define S_DEADLINE_MS 30000
#define S_ACL_NAME_LONGEST 63
#define S_SHORT_PREFIX 44
#define S_LOCK_SLOTS 64

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

//  FNV-1a, 64 bits: stable across builds and hosts.
static uint64_t
s_fnv(const char *text)
{
    uint64_t hash = 0xcbf29ce484222325ULL;
    for (const unsigned char *c = (const unsigned char *)text; *c; c++)
        hash = (hash ^ *c) * 0x100000001b3ULL;
    return hash;
}

void
lxd_acl_name(const char *group, char out[LXD_ACL_MAX])
{
    if (s_acl_name_valid(group)) {
        snprintf(out, LXD_ACL_MAX, "%s", group);
        return;
    }
    uint64_t hash = s_fnv(group);
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
//  Small helpers

static const char *
s_config(json_t *acl, const char *key)
{
    return json_string_value(json_object_get(json_object_get(acl, "config"), key));
}

static const char *
s_field(json_t *obj, const char *key)
{
    const char *value = json_string_value(json_object_get(obj, key));
    return value ? value : "";
}

static void
s_names_free(char ***names_p, size_t count)
{
    if (!names_p || !*names_p)
        return;
    for (size_t i = 0; i < count; i++)
        free((*names_p)[i]);
    free(*names_p);
    *names_p = NULL;
}

static int
s_names_push(char ***names, size_t *count, const char *text, size_t len, en_err_t *err)
{
    char **grown = realloc(*names, (*count + 1) * sizeof *grown);
    if (!grown)
        return en_err_set(err, EN_INTERNAL, "out of memory");
    *names = grown;
    if (!(grown[*count] = strndup(text, len)))
        return en_err_set(err, EN_INTERNAL, "out of memory");
    (*count)++;
    return 0;
}

//  Whether a comma list ("a,b,c", spaces allowed around items) has item.
static bool
s_list_has(const char *list, const char *item)
{
    size_t len = strlen(item);
    for (const char *p = list ? list : ""; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ",");
        size_t m = n;
        while (m > 0 && p[m - 1] == ' ')
            m--;
        if (m == len && m > 0 && strncmp(p, item, len) == 0)
            return true;
        p += n;
    }
    return false;
}

//  The list with item added (add) or every copy of it removed; malloc'd.
static char *
s_list_edit(const char *list, const char *item, bool add)
{
    size_t size = strlen(list ? list : "") + strlen(item) + 2;
    char *out = calloc(1, size);
    if (!out)
        return NULL;
    size_t used = 0;
    for (const char *p = list ? list : ""; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ",");
        size_t m = n;
        while (m > 0 && p[m - 1] == ' ')
            m--;
        bool drop = m == 0 || (m == strlen(item) && strncmp(p, item, m) == 0);
        if (!drop)
            used += (size_t)snprintf(out + used, size - used, "%s%.*s", used ? "," : "", (int)m, p);
        p += n;
    }
    if (add)
        snprintf(out + used, size - used, "%s%s", used ? "," : "", item);
    return out;
}

//  Whether a failed LXD call is worth another round: a lost ETag race
//  (412) or a transient error; and 5.0.2's failures when two updates
//  re-make one bridge at once (each re-runs its set-up: nft chains, the
//  address, dnsmasq), which LXD reverts, answering 500 with these texts.
static bool
s_again(const en_err_t *err, int64_t deadline, int attempt)
{
    static const char *const clashes[] = {"Failed clearing firewall", "nftables",
                                          "DNS and DHCP service exited prematurely",
                                          "Address already assigned", "Address already in use"};
    bool transient = err->retryable;
    for (size_t i = 0; !transient && err->kind == EN_INTERNAL && i < 5; i++)
        transient = strstr(err->message, clashes[i]) != NULL;
    if (!transient || en_mono_ms() >= deadline)
        return false;
    //  jittered backoff, 10 ms doubling to 320 ms
    int64_t wait = (int64_t)10 << (attempt < 5 ? attempt : 5);
    en_sleep_ms(wait / 2 + en_mono_ms() % (wait / 2 + 1));
    return true;
}

//  Updates of one bridge from this host, one at a time (see s_again): an
//  flock on one of S_LOCK_SLOTS files /run/lock/environs-lxd-acl.<n>.lock
//  chosen by the bridge's name (a fixed set, so nothing piles up; two
//  bridges may share one), released by close, and by the kernel when a
//  process dies. -1: no lock, go on without it; writers on other hosts
//  are left to the retries.
static int
s_bridge_lock(const char *model)
{
    if (!model || !*model)
        return -1;
    char bridge[LXD_BRIDGE_MAX], path[96];
    lxd_bridge_name(model, bridge);
    unsigned slot = (unsigned)(s_fnv(bridge) % S_LOCK_SLOTS);
    snprintf(path, sizeof path, "/run/lock/environs-lxd-acl.%u.lock", slot);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(path, sizeof path, "/tmp/environs-lxd-acl.%u.lock", slot);
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    }
    if (fd >= 0 && flock(fd, LOCK_EX) != 0) {
        close(fd);
        fd = -1;
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
//  Rules: their text (the description) and their LXD form

//  A rule checked and in its text form "<range> from <cidrs>", the CIDRs
//  canonical, sorted and joined (0.0.0.0/0 when none); malloc'd.
static int
s_strcmp_ptr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
s_rule_text(const en_ingress_rule_t *rule, char **text, en_err_t *err)
{
    en_port_range_t r = rule->range;
    for (size_t i = 0; i < sizeof r.protocol && r.protocol[i]; i++)
        r.protocol[i] = (char)tolower((unsigned char)r.protocol[i]);
    bool icmp = strcmp(r.protocol, "icmp") == 0;
    bool ports = strcmp(r.protocol, "tcp") == 0 || strcmp(r.protocol, "udp") == 0;
    if (!icmp && !ports)
        return en_err_set(err, EN_NOT_VALID,
                          "invalid protocol \"%s\", expected \"tcp\", \"udp\", or \"icmp\"",
                          r.protocol);
    if (icmp && (r.from != -1 || r.to != -1))
        return en_err_set(err, EN_NOT_VALID,
                          "protocol \"icmp\" doesn't support any ports; got \"%d\"", r.from);
    if (ports && (r.from < 0 || r.from > r.to || r.to > 65535))
        return en_err_set(err, EN_NOT_VALID, "invalid port range %d-%d/%s", r.from, r.to,
                          r.protocol);
    if (rule->cidr_count && !rule->cidrs)
        return en_err_set(err, EN_NOT_VALID, "CIDRs not specified");
    //  The library's parser canonicalises; it is handed a range that
    //  always validates (the ports were checked above).
    en_port_range_t any = {.from = -1, .to = -1, .protocol = "icmp"};
    en_ingress_rule_t canon;
    if (en_ingress_rule_init(&canon, &any, (const char *const *)rule->cidrs, rule->cidr_count, err))
        return -1;
    if (canon.cidr_count > 1)
        qsort(canon.cidrs, canon.cidr_count, sizeof(char *), s_strcmp_ptr);
    char range[32];
    en_port_range_format(&r, range, sizeof range);
    size_t size = strlen(range) + sizeof " from " + sizeof S_ANYWHERE;
    for (size_t i = 0; i < canon.cidr_count; i++)
        size += strlen(canon.cidrs[i]) + 1;
    *text = malloc(size);
    if (!*text) {
        en_ingress_rule_clear(&canon);
        return en_err_set(err, EN_INTERNAL, "out of memory");
    }
    size_t used =
        (size_t)snprintf(*text, size, "%s from %s", range, canon.cidr_count ? "" : S_ANYWHERE);
    for (size_t i = 0; i < canon.cidr_count; i++)
        used += (size_t)snprintf(*text + used, size - used, "%s%s", i ? "," : "", canon.cidrs[i]);
    en_ingress_rule_clear(&canon);
    return 0;
}

//  A description back into its rule; -1 when it is not one of ours.
static int
s_rule_parse(const char *text, en_ingress_rule_t *rule)
{
    memset(rule, 0, sizeof *rule);
    const char *from = strstr(text, " from ");
    if (!from || from == text || !from[6])
        return -1;
    char range[32];
    if ((size_t)(from - text) >= sizeof range)
        return -1;
    memcpy(range, text, (size_t)(from - text));
    range[from - text] = '\0';
    en_port_range_t *r = &rule->range;
    int a, b, used = 0;
    char proto[EN_PROTOCOL_MAX];
    if (strcmp(range, "icmp") == 0)
        *r = (en_port_range_t){.from = -1, .to = -1, .protocol = "icmp"};
    else if (sscanf(range, "%d-%d/%7[a-z]%n", &a, &b, proto, &used) == 3 && !range[used])
        *r = (en_port_range_t){.from = a, .to = b};
    else if (sscanf(range, "%d/%7[a-z]%n", &a, proto, &used) == 2 && !range[used])
        *r = (en_port_range_t){.from = a, .to = a};
    else
        return -1;
    if (strcmp(range, "icmp") != 0) {
        if (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0)
            return -1;
        snprintf(r->protocol, sizeof r->protocol, "%s", proto);
    }
    const char *cidrs = from + 6;
    size_t n = 1;
    for (const char *c = cidrs; *c; c++)
        n += *c == ',';
    if (!(rule->cidrs = calloc(n, sizeof(char *))))
        return -1;
    for (const char *p = cidrs; rule->cidr_count < n;) {
        size_t len = strcspn(p, ",");
        if (len == 0 || !(rule->cidrs[rule->cidr_count] = strndup(p, len))) {
            en_ingress_rule_clear(rule);
            return -1;
        }
        rule->cidr_count++;
        p += len + (p[len] == ',');
    }
    return 0;
}

//  The LXD ingress rule of a rule's text. destination "" is the whole
//  bridge; disabled keeps the rule without applying it.
static json_t *
s_rule_render(const char *text, const char *destination, bool disabled)
{
    en_ingress_rule_t rule;
    if (s_rule_parse(text, &rule))
        return NULL;
    bool icmp = strcmp(rule.range.protocol, "icmp") == 0;
    bool anywhere = rule.cidr_count == 1 && strcmp(rule.cidrs[0], S_ANYWHERE) == 0;
    const char *sources = strstr(text, " from ") + 6;
    char ports[16];
    if (rule.range.from == rule.range.to)
        snprintf(ports, sizeof ports, "%d", rule.range.from);
    else
        snprintf(ports, sizeof ports, "%d-%d", rule.range.from, rule.range.to);
    json_t *out = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "action", "allow", "state",
                            disabled ? "disabled" : "enabled", "protocol",
                            icmp ? "icmp4" : rule.range.protocol, "source", anywhere ? "" : sources,
                            "destination", destination, "description", text);
    if (out && !icmp)
        json_object_set_new(out, "destination_port", json_string(ports));
    en_ingress_rule_clear(&rule);
    return out;
}

//  Whether two LXD rules are the same (LXD leaves out empty fields).
static bool
s_rule_same(json_t *a, json_t *b)
{
    static const char *const fields[] = {
        "action",           "state",       "protocol",  "source",    "destination",
        "destination_port", "source_port", "icmp_type", "icmp_code", "description"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (strcmp(s_field(a, fields[i]), s_field(b, fields[i])) != 0)
            return false;
    return true;
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
    snprintf(acl->path, sizeof acl->path, "/1.0/network-acls/%s", acl->name);
    en_err_t e = {0};
    if (en_lxd_call(self->lxd, "GET", acl->path, NULL, &acl->acl, &acl->etag, 0, &e)) {
        if (e.kind == EN_NOT_FOUND)
            return 0;
        if (err)
            *err = e;
        return -1;
    }
    const char *owner = s_config(acl->acl, S_KEY_GROUP);
    *found = owner && strcmp(owner, group) == 0;
    if (!*found)
        s_acl_clear(acl);
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
//  Members and their addresses

//  The instances (of the model, when known) whose user.juju-security-
//  groups lists group; running only, or every one.
static int
s_members(en_compute_t *self, const char *group, const char *model, bool running_only,
          char ***names, size_t *count, en_err_t *err)
{
    *names = NULL;
    *count = 0;
    char path[256] = "/1.0/instances?recursion=1";
    if (model && *model) {
        char filter[160];
        snprintf(filter, sizeof filter, "config.%s eq %s", S_KEY_MODEL, model);
        char *escaped = en_lxd_escape(filter);
        if (!escaped)
            return en_err_set(err, EN_INTERNAL, "out of memory");
        snprintf(path, sizeof path, "/1.0/instances?recursion=1&filter=%s", escaped);
        free(escaped);
    }
    json_t *list = NULL;
    if (en_lxd_call(self->lxd, "GET", path, NULL, &list, NULL, 0, err))
        return -1;
    size_t i;
    json_t *inst;
    int rc = 0;
    json_array_foreach(list, i, inst)
    {
        json_t *config = json_object_get(inst, "config");
        const char *groups = json_string_value(json_object_get(config, LXD_KEY_GROUPS));
        const char *name = json_string_value(json_object_get(inst, "name"));
        if (!name || !s_list_has(groups, group))
            continue;
        if (running_only && strcmp(s_field(inst, "status"), "Running") != 0)
            continue;
        if ((rc = s_names_push(names, count, name, strlen(name), err)))
            break;
    }
    json_decref(list);
    if (rc) {
        s_names_free(names, *count);
        *count = 0;
    }
    return rc;
}

//  The addresses of a running member, waiting for DHCP until deadline.
//  *count 0 when the instance went away meanwhile.
static int
s_member_addresses(en_compute_t *self, const char *name, int64_t deadline, char ***out,
                   size_t *count, en_err_t *err)
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
        s_names_free(out, *count);
        if (en_mono_ms() >= deadline)
            return en_err_set(err, EN_UNAVAILABLE, "instance \"%s\" has no address yet", name);
        int64_t wait = (int64_t)50 << (attempt < 4 ? attempt : 4);
        en_sleep_ms(wait);
    }
}

//  Where the group's rules apply: "" (the whole bridge) for a model or
//  global group; a machine group's member addresses as /32s, and *none
//  true when it has no running member (malloc'd).
static int
s_destination(en_compute_t *self, const char *group, json_t *acl, char **dest, bool *none,
              en_err_t *err)
{
    *none = false;
    if (!s_config(acl, S_KEY_MACHINE)) {
        *dest = strdup("");
        return *dest ? 0 : en_err_set(err, EN_INTERNAL, "out of memory");
    }
    char **members = NULL;
    size_t n = 0;
    if (s_members(self, group, s_config(acl, S_KEY_MODEL), true, &members, &n, err))
        return -1;
    int64_t deadline = en_mono_ms() + S_DEADLINE_MS;
    size_t size = 1, used = 0;
    *dest = calloc(1, size);
    int rc = *dest ? 0 : en_err_set(err, EN_INTERNAL, "out of memory");
    for (size_t m = 0; m < n && rc == 0; m++) {
        char **addrs = NULL;
        size_t na = 0;
        if ((rc = s_member_addresses(self, members[m], deadline, &addrs, &na, err)))
            break;
        for (size_t a = 0; a < na && rc == 0; a++) {
            size += strlen(addrs[a]) + 4;
            char *grown = realloc(*dest, size);
            if (!grown) {
                rc = en_err_set(err, EN_INTERNAL, "out of memory");
                break;
            }
            *dest = grown;
            used +=
                (size_t)snprintf(*dest + used, size - used, "%s%s/32", used ? "," : "", addrs[a]);
        }
        s_names_free(&addrs, na);
    }
    s_names_free(&members, n);
    if (rc) {
        free(*dest);
        *dest = NULL;
        return -1;
    }
    *none = used == 0;
    return 0;
}

//  --------------------------------------------------------------------------
//  The bridge's security.acls

//  Attach (or detach) acl on the model's bridge until a read shows it so.
//  make_bridge: a missing bridge is made (lxd_model_ensure), else a
//  missing bridge means there is nothing to change.
static int
s_bridge_acls(en_compute_t *self, const char *acl, const char *model, const char *controller,
              bool attach, bool make_bridge, en_err_t *err)
{
    if (!model || !*model)
        return attach && make_bridge
                   ? en_err_set(err, EN_NOT_VALID, "security group ACL \"%s\" has no %s tag", acl,
                                LXD_TAG_MODEL)
                   : 0;
    char bridge[LXD_BRIDGE_MAX], path[64];
    lxd_bridge_name(model, bridge);
    snprintf(path, sizeof path, "/1.0/networks/%s", bridge);
    int64_t deadline = en_mono_ms() + S_DEADLINE_MS;
    bool made = false;
    for (int attempt = 0;; attempt++) {
        json_t *net = NULL;
        char *etag = NULL;
        en_err_t e = {0};
        int lock = s_bridge_lock(model);
        int rc = en_lxd_call(self->lxd, "GET", path, NULL, &net, &etag, 0, &e);
        if (rc && e.kind == EN_NOT_FOUND) {
            s_bridge_unlock(lock);
            if (!attach || !make_bridge)
                return 0;
            if (made)
                return en_err_set(err, EN_INTERNAL, "bridge \"%s\" of model %s not found", bridge,
                                  model);
            made = true;
            if (lxd_model_ensure(self, model, controller, &e)) {
                if (err)
                    *err = e;
                return -1;
            }
            continue;
        }
        if (rc == 0) {
            json_t *config = json_object_get(net, "config");
            const char *list = json_string_value(json_object_get(config, "security.acls"));
            const char *in =
                json_string_value(json_object_get(config, "security.acls.default.ingress.action"));
            const char *out =
                json_string_value(json_object_get(config, "security.acls.default.egress.action"));
            bool done = attach ? s_list_has(list, acl) && in && strcmp(in, "reject") == 0 && out &&
                                     strcmp(out, "allow") == 0
                               : !s_list_has(list, acl);
            if (done) {
                s_bridge_unlock(lock);
                json_decref(net);
                free(etag);
                return 0;
            }
            char *edited = s_list_edit(list, acl, attach);
            json_t *patch =
                edited ? json_pack("{s:{s:s}}", "config", "security.acls", edited) : NULL;
            free(edited);
            if (!patch)
                rc = en_err_set(&e, EN_INTERNAL, "out of memory");
            else {
                if (attach) {
                    json_t *pc = json_object_get(patch, "config");
                    json_object_set_new(pc, "security.acls.default.ingress.action",
                                        json_string("reject"));
                    json_object_set_new(pc, "security.acls.default.egress.action",
                                        json_string("allow"));
                }
                rc = en_lxd_call_if_match(self->lxd, "PATCH", path, patch, etag, NULL, 0, &e);
                json_decref(patch);
            }
        }
        s_bridge_unlock(lock);
        json_decref(net);
        free(etag);
        //  A successful PATCH is checked by the next read: another writer
        //  holding the same ETag may have overwritten it.
        if (rc && !s_again(&e, deadline, attempt)) {
            if (err)
                *err = e;
            return -1;
        }
        if (en_mono_ms() >= deadline)
            return en_err_set(err, EN_UNAVAILABLE, "bridge \"%s\": security.acls still changing",
                              bridge);
    }
}

//  --------------------------------------------------------------------------
//  Changing rules

typedef struct {
    char **texts;
    size_t count;
} s_texts_t;

static void
s_texts_clear(s_texts_t *t)
{
    s_names_free(&t->texts, t->count);
    t->count = 0;
}

static bool
s_texts_has(const s_texts_t *t, const char *text)
{
    for (size_t i = 0; i < t->count; i++)
        if (strcmp(t->texts[i], text) == 0)
            return true;
    return false;
}

//  The rules' texts, each checked (NOT_VALID for the first bad one).
static int
s_texts_of(const en_ingress_rule_t *rules, size_t n, s_texts_t *t, en_err_t *err)
{
    memset(t, 0, sizeof *t);
    if (n && !rules)
        return en_err_set(err, EN_NOT_VALID, "rules not specified");
    for (size_t i = 0; i < n; i++) {
        char *text;
        if (s_rule_text(&rules[i], &text, err)) {
            s_texts_clear(t);
            return -1;
        }
        int rc =
            s_texts_has(t, text) ? 0 : s_names_push(&t->texts, &t->count, text, strlen(text), err);
        free(text);
        if (rc) {
            s_texts_clear(t);
            return -1;
        }
    }
    return 0;
}

//  Ours among an ACL's ingress rules: their texts in rule order.
static int
s_rule_cmp_text(const void *a, const void *b)
{
    en_ingress_rule_t ra, rb;
    const char *ta = *(char *const *)a, *tb = *(char *const *)b;
    if (s_rule_parse(ta, &ra) || s_rule_parse(tb, &rb)) {
        en_ingress_rule_clear(&ra);
        return strcmp(ta, tb);
    }
    int c = en_ingress_rule_cmp(&ra, &rb);
    en_ingress_rule_clear(&ra);
    en_ingress_rule_clear(&rb);
    return c ? c : strcmp(ta, tb);
}

//  The new ingress list: foreign rules as they are, then each text of
//  want (sorted) rendered for dest.
static json_t *
s_ingress_build(json_t *old, s_texts_t *want, const char *dest, bool disabled)
{
    json_t *out = json_array();
    size_t i;
    json_t *rule;
    json_array_foreach(old, i, rule)
    {
        en_ingress_rule_t parsed;
        if (s_rule_parse(s_field(rule, "description"), &parsed) == 0)
            en_ingress_rule_clear(&parsed);
        else
            json_array_append(out, rule);
    }
    if (want->count > 1)
        qsort(want->texts, want->count, sizeof(char *), s_rule_cmp_text);
    for (i = 0; i < want->count; i++) {
        json_t *r = s_rule_render(want->texts[i], dest, disabled);
        if (!r || json_array_append_new(out, r)) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

static bool
s_ingress_same(json_t *a, json_t *b)
{
    if (json_array_size(a) != json_array_size(b))
        return false;
    for (size_t i = 0; i < json_array_size(a); i++)
        if (!s_rule_same(json_array_get(a, i), json_array_get(b, i)))
            return false;
    return true;
}

//  The texts of our rules in an ACL.
static int
s_texts_in(json_t *acl, s_texts_t *t, en_err_t *err)
{
    memset(t, 0, sizeof *t);
    size_t i;
    json_t *rule;
    json_array_foreach(json_object_get(acl, "ingress"), i, rule)
    {
        const char *text = s_field(rule, "description");
        en_ingress_rule_t parsed;
        if (s_rule_parse(text, &parsed))
            continue;
        en_ingress_rule_clear(&parsed);
        if (!s_texts_has(t, text) && s_names_push(&t->texts, &t->count, text, strlen(text), err)) {
            s_texts_clear(t);
            return -1;
        }
    }
    return 0;
}

//  authorize (add) and revoke: read the ACL, edit its set of rules,
//  render them for today's members and PUT it back with If-Match, until
//  no other writer raced us.
static int
s_change(en_compute_t *self, const char *group, const en_ingress_rule_t *rules, size_t n, bool add,
         en_err_t *err)
{
    s_texts_t change;
    if (s_texts_of(rules, n, &change, err))
        return -1;
    int64_t deadline = en_mono_ms() + S_DEADLINE_MS;
    int rc = -1;
    for (int attempt = 0;; attempt++) {
        s_acl_t acl;
        s_texts_t want = {0};
        char *dest = NULL;
        json_t *ingress = NULL, *body = NULL;
        bool none, verify = false;
        en_err_t e = {0};
        if (s_acl_existing(self, group, &acl, &e) || s_texts_in(acl.acl, &want, &e))
            goto round;
        for (size_t i = 0; i < change.count; i++) {
            bool has = s_texts_has(&want, change.texts[i]);
            if (add && !has &&
                s_names_push(&want.texts, &want.count, change.texts[i], strlen(change.texts[i]),
                             &e))
                goto round;
            for (size_t j = 0; !add && has && j < want.count; j++)
                if (strcmp(want.texts[j], change.texts[i]) == 0) {
                    free(want.texts[j]);
                    want.texts[j] = want.texts[--want.count];
                    break;
                }
        }
        if (s_destination(self, group, acl.acl, &dest, &none, &e))
            goto round;
        json_t *old = json_object_get(acl.acl, "ingress");
        if (!(ingress = s_ingress_build(old, &want, dest, none))) {
            en_err_set(&e, EN_INTERNAL, "out of memory");
            goto round;
        }
        if (s_ingress_same(old, ingress)) {
            rc = 0;
            goto round;
        }
        body = json_pack("{s:O, s:O, s:O, s:O}", "description",
                         json_object_get(acl.acl, "description"), "config",
                         json_object_get(acl.acl, "config"), "ingress", ingress, "egress",
                         json_object_get(acl.acl, "egress"));
        if (!body) {
            en_err_set(&e, EN_INTERNAL, "cannot render security group \"%s\"", group);
            goto round;
        }
        int lock = s_bridge_lock(s_config(acl.acl, S_KEY_MODEL));
        //  Written, it is read again: a racer with the same ETag may have
        //  overwritten it (5.0.2's check is not atomic).
        bool wrote =
            en_lxd_call_if_match(self->lxd, "PUT", acl.path, body, acl.etag, NULL, 0, &e) == 0;
        s_bridge_unlock(lock);
        if (wrote && en_mono_ms() < deadline)
            verify = true;
        else if (wrote)
            rc = 0;
    round:
        json_decref(body);
        json_decref(ingress);
        free(dest);
        s_texts_clear(&want);
        s_acl_clear(&acl);
        if (verify)
            continue;
        if (rc == 0 || !s_again(&e, deadline, attempt)) {
            if (rc && err)
                *err = e;
            break;
        }
    }
    s_texts_clear(&change);
    if (rc == 0 && add) {
        //  The rules mean nothing unless the ACL is on its bridge: a lost
        //  race of ensure_group is mended here.
        s_acl_t acl;
        if (s_acl_existing(self, group, &acl, err))
            return -1;
        rc = s_bridge_acls(self, acl.name, s_config(acl.acl, S_KEY_MODEL), NULL, true, false, err);
        s_acl_clear(&acl);
    }
    return rc;
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
    const char *model = NULL, *controller = NULL;
    json_t *config = json_object();
    for (size_t i = 0; i < tag_count; i++) {
        if (!tags[i].key || !*tags[i].key) {
            json_decref(config);
            return en_err_set(err, EN_NOT_VALID, "tag key \"\" not valid");
        }
        char key[256];
        snprintf(key, sizeof key, "user.%s", tags[i].key);
        json_object_set_new(config, key, json_string(tags[i].value ? tags[i].value : ""));
        if (strcmp(tags[i].key, LXD_TAG_MODEL) == 0)
            model = tags[i].value;
        if (strcmp(tags[i].key, LXD_TAG_CONTROLLER) == 0)
            controller = tags[i].value;
    }
    json_object_set_new(config, S_KEY_GROUP, json_string(name));
    if (!model || !*model) {
        json_decref(config);
        return en_err_set(err, EN_NOT_VALID, "security group \"%s\" has no %s tag", name,
                          LXD_TAG_MODEL);
    }
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
    const char *owner_model = s_config(acl.acl, S_KEY_MODEL);
    const char *owner_ctl = s_config(acl.acl, S_KEY_CONTROLLER);
    rc = s_bridge_acls(self, acl.name, owner_model ? owner_model : model,
                       owner_ctl ? owner_ctl : controller, true, true, err);
    s_acl_clear(&acl);
    return rc;
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
    const char *model = s_config(acl.acl, S_KEY_MODEL);
    char **members = NULL;
    size_t n = 0;
    int rc = s_members(self, name, model, false, &members, &n, err);
    s_names_free(&members, n);
    if (rc == 0 && n)
        rc = en_err_set(err, EN_UNAVAILABLE, "security group \"%s\" is in use", name);
    int64_t deadline = en_mono_ms() + S_DEADLINE_MS;
    for (int attempt = 0; rc == 0; attempt++) {
        //  Detach, then delete; a racing writer of the list holding an old
        //  read may attach it again ("in use"), and the loop detaches again.
        en_err_t e = {0};
        if (s_bridge_acls(self, acl.name, model, NULL, false, false, err)) {
            rc = -1;
            break;
        }
        if (en_lxd_call(self->lxd, "DELETE", acl.path, NULL, NULL, NULL, 0, &e) == 0 ||
            e.kind == EN_NOT_FOUND)
            break;
        //  5.0.2: 500 "Cannot delete an ACL that is in use"
        if (strstr(e.message, "in use"))
            en_err_set(&e, EN_UNAVAILABLE, "security group \"%s\" is in use", name);
        if (!s_again(&e, deadline, attempt)) {
            if (err)
                *err = e;
            rc = -1;
        }
    }
    s_acl_clear(&acl);
    return rc;
}

static int
s_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
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
    if (en_lxd_call(self->lxd, "GET", "/1.0/network-acls?recursion=1", NULL, &acls, NULL, 0, err))
        return -1;
    size_t i;
    json_t *acl;
    int rc = 0;
    json_array_foreach(acls, i, acl)
    {
        const char *group = s_config(acl, S_KEY_GROUP);
        bool match = group != NULL;
        for (size_t f = 0; f < filter_count && match; f++) {
            char key[256];
            snprintf(key, sizeof key, "user.%s", filters[f].key ? filters[f].key : "");
            const char *value = s_config(acl, key);
            match = value && (!filters[f].value || strcmp(value, filters[f].value) == 0);
        }
        if (match && (rc = s_names_push(names, count, group, strlen(group), err)))
            break;
    }
    json_decref(acls);
    if (rc) {
        s_names_free(names, *count);
        *count = 0;
        return -1;
    }
    if (*count > 1)
        qsort(*names, *count, sizeof(char *), s_name_cmp);
    return 0;
}

static int
s_authorize(en_compute_t *self, const char *group, const en_ingress_rule_t *rules, size_t n,
            en_err_t *err)
{
    return s_change(self, group, rules, n, true, err);
}

static int
s_revoke(en_compute_t *self, const char *group, const en_ingress_rule_t *rules, size_t n,
         en_err_t *err)
{
    return s_change(self, group, rules, n, false, err);
}

static int
s_rules(en_compute_t *self, const char *group, en_ingress_rule_t **rules, size_t *n, en_err_t *err)
{
    *rules = NULL;
    *n = 0;
    s_acl_t acl;
    s_texts_t texts;
    if (s_acl_existing(self, group, &acl, err))
        return -1;
    int rc = s_texts_in(acl.acl, &texts, err);
    s_acl_clear(&acl);
    if (rc)
        return -1;
    if (texts.count && !(*rules = calloc(texts.count, sizeof **rules)))
        rc = en_err_set(err, EN_INTERNAL, "out of memory");
    for (size_t i = 0; rc == 0 && i < texts.count; i++)
        if (s_rule_parse(texts.texts[i], &(*rules)[(*n)++]))
            rc = en_err_set(err, EN_INTERNAL, "out of memory");
    s_texts_clear(&texts);
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
