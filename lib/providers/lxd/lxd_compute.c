/*  lxd_compute.c — the lxd provider's compute connection: zones, the
    synthesized catalogue, and an instance's life: create, terminate,
    tags, files. Reading instances back (describe, list, addresses) is
    lxd_instances.c; the model's bridge and profile, which create ensures
    and release_model deletes, are lxd_model.c.

    A connection is one LXD client (lxd_client.h) plus the storage pool
    and the range model bridges are carved from; opening it never talks to
    LXD. An instance is a container whose name is its id, tagged with
    user.<key> config in its create call, so every query is by tags alone
    and two services (or a restarted one) see the same instances.

    create = ensure the model's bridge and profile, check the groups (ACLs)
    and subnets (none of another model), POST the instance (async: waited
    for), start it, write the nonce file (after the start: 5.0.2's file API
    on a stopped container fails under parallel load, see s_write_nonce).
    A POST that fails is followed by a read of the instance: one carrying
    this create's model, controller, machine and nonce tags was made by an
    earlier try of the same create (a broker killed after the POST, a wait
    that timed out) and is finished, as idempotently as the rest (started
    unless running, the nonce written unless there), and answered as
    created; one carrying other tags is ALREADY_EXISTS.
    Anything that fails after the POST deletes the instance again (Juju
    statement 31), retried, and logged when it cannot be.

    LXD 5.0.2 fails transiently under load (the database is locked, a
    transaction times out, the file API's helper is unreachable, reads of
    /1.0/resources fail): the client's classifier makes those UNAVAILABLE
    and retryable, and every call here is retried a few times with
    jittered exponential backoff (lxd_call, lxd_again). The caller bounds
    its fan-out with concurrency() ($ENVIRONS_LXD_CONCURRENCY, default 8). */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/paths.h"
#include "providers/lxd/lxd_private.h"

enum {
    S_CREATE_TIMEOUT_MS = 300000, // unpacking an image can be slow
    S_STATE_TIMEOUT_MS = 90000,   // start and stop ask LXD for 30 s
    S_TERMINATE_WINDOW = 32,      // instances terminate has in flight at most
    //  how old a stopped instance of another attempt must be to be its
    //  leftover: older than any create can be (POST, then start)
    S_LEFTOVER_AGE_MS = S_CREATE_TIMEOUT_MS + S_STATE_TIMEOUT_MS + 30000,
    //  Measured on a 2-CPU host: 8, 16 and 32 parallel creates all
    //  succeed (8 in ~3 s, 16 in ~3.7 s, 32 in ~8.5 s; one alone ~0.35 s);
    //  beyond 8 the daemon's throughput hardly grows and firewall calls
    //  share it.
    S_DEFAULT_CONCURRENCY = 8,
    S_DISCARD_TRIES = 3,       // removals of a failed create's instance
    S_READ_FILE_MAX = 1 << 20, // read_file's cap (the nonce file is tiny)
};

//  --------------------------------------------------------------------------
//  Connection

static en_compute_t *
s_open(const en_cloud_spec_t *spec, const char *home, en_err_t *err)
{
    en_lxd_config_t cfg;
    if (!spec)
        spec = &(const en_cloud_spec_t){.type = "lxd"};
    if (lxd_spec_config(spec, &cfg, err))
        return NULL;
    const char *range = getenv("ENVIRONS_LXD_BRIDGE_RANGE");
    range = range && *range ? range : "10.208.0.0/16";
    uint32_t base;
    unsigned prefix = 0;
    if (!lxd_ipv4_cidr(range, &base, &prefix) || prefix > 24) {
        en_err_set(err, EN_NOT_VALID, "ENVIRONS_LXD_BRIDGE_RANGE \"%s\" is not an IPv4 range",
                   range);
        return NULL;
    }
    en_compute_t *self = calloc(1, sizeof *self);
    if (!self || !(self->lxd = en_lxd_new(&cfg, err))) {
        if (!self)
            en_err_set(err, EN_INTERNAL, "out of memory");
        free(self);
        return NULL;
    }
    char home_buf[4096] = "";
    if ((!home || !*home) && en_home(home_buf, sizeof home_buf) == 0)
        home = home_buf;
    const char *pool = getenv("ENVIRONS_LXD_POOL");
    self->region = strdup(spec && spec->region && *spec->region ? spec->region : "localhost");
    self->home = strdup(home ? home : "");
    self->pool = strdup(pool && *pool ? pool : "default");
    self->bridge_range = strdup(range);
    if (!self->region || !self->home || !self->pool || !self->bridge_range) {
        lxd_compute_ops.close(&self);
        en_err_set(err, EN_INTERNAL, "out of memory");
        return NULL;
    }
    return self;
}

static void
s_close(en_compute_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    en_compute_t *self = *self_p;
    lxd_firewall_forget(self);
    en_lxd_destroy(&self->lxd);
    free(self->region);
    free(self->home);
    free(self->pool);
    free(self->bridge_range);
    free(self->types);
    lxd_names_free(&self->arches, self->arch_count);
    free(self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------
//  Zones and the catalogue

static const struct {
    const char *lxd;
    const char *juju;
} s_arch_map[] = {
    {"x86_64", "amd64"},    {"aarch64", "arm64"}, {"i686", "i386"},
    {"ppc64le", "ppc64el"}, {"s390x", "s390x"},   {"armv7l", "armhf"},
};

const char *
lxd_juju_arch(const char *lxd)
{
    for (size_t i = 0; i < sizeof s_arch_map / sizeof s_arch_map[0]; i++)
        if (strcmp(lxd, s_arch_map[i].lxd) == 0)
            return s_arch_map[i].juju;
    return NULL;
}

static int
s_zones(en_compute_t *self, en_zone_t **zones, size_t *count, en_err_t *err)
{
    const json_t *env;
    json_t *members = NULL;
    *zones = NULL;
    *count = 0;
    if (lxd_environment(self, &env, err))
        return -1;
    bool clustered = json_is_true(json_object_get(env, "server_clustered"));
    if (clustered &&
        lxd_call(self, "GET", "/1.0/cluster/members?recursion=1", NULL, &members, 0, err))
        return -1;
    size_t n = clustered ? json_array_size(members) : 1;
    en_zone_t *all = calloc(n ? n : 1, sizeof *all);
    bool oom = !all;
    for (size_t i = 0; !oom && i < n; i++) {
        //  standalone: the server is the one zone
        json_t *m = clustered ? json_array_get(members, i) : NULL;
        all[i].name = strdup(lxd_str(clustered ? m : env, "server_name"));
        all[i].available = !clustered || strcmp(lxd_str(m, "status"), "Online") == 0;
        oom = !all[i].name;
    }
    json_decref(members);
    if (oom) {
        en_zones_free(&all, n);
        return en_err_set(err, EN_INTERNAL, "out of memory");
    }
    *zones = all;
    *count = n;
    return 0;
}

//  One type, "container", as large as the host: LXD sizes a container by
//  its limits, so a constraint beyond the host matches nothing.
int
lxd_catalogue(en_compute_t *self, en_err_t *err)
{
    if (self->types)
        return 0;
    const json_t *env;
    json_t *res = NULL;
    if (lxd_environment(self, &env, err))
        return -1;
    //  5.0.2 fails parallel GETs of /1.0/resources now and then (`Failed
    //  to retrieve GPU information: ... bad file descriptor`): the
    //  classifier calls that transient, and lxd_call retries it.
    if (lxd_call(self, "GET", "/1.0/resources", NULL, &res, 0, err))
        return -1;
    json_t *arches = json_object_get(env, "architectures");
    self->arches = calloc(json_array_size(arches) + 1, sizeof(char *));
    self->types = calloc(1, sizeof *self->types);
    bool oom = !self->arches || !self->types;
    size_t i;
    json_t *v;
    json_array_foreach(arches, i, v)
    {
        const char *juju = lxd_juju_arch(json_string_value(v) ? json_string_value(v) : "");
        if (!oom && juju)
            oom = !(self->arches[self->arch_count++] = strdup(juju));
    }
    if (oom) { // not built: the next call tries again
        json_decref(res);
        lxd_names_free(&self->arches, self->arch_count);
        self->arch_count = 0;
        free(self->types);
        self->types = NULL;
        return en_err_set(err, EN_INTERNAL, "out of memory");
    }
    json_t *cpu = json_object_get(json_object_get(res, "cpu"), "total");
    json_t *mem = json_object_get(json_object_get(res, "memory"), "total");
    self->types[0] = (en_instance_type_t){
        .id = "container",
        .name = "container",
        .arches = (const char *const *)self->arches,
        .arch_count = self->arch_count,
        .cpu_cores = (uint64_t)json_integer_value(cpu),
        .mem = (uint64_t)json_integer_value(mem) >> 20,
        .virt_type = "container",
    };
    self->type_count = 1;
    json_decref(res);
    return 0;
}

static int
s_instance_types(en_compute_t *self, const en_instance_type_t **types, size_t *count, en_err_t *err)
{
    if (lxd_catalogue(self, err))
        return -1;
    *types = self->types;
    *count = self->type_count;
    return 0;
}

//  --------------------------------------------------------------------------
//  Create, terminate, tags

//  Stop (forced) and delete; an instance that is not there is done.
static int
s_remove(en_compute_t *self, const char *name, en_err_t *err)
{
    char path[512];
    lxd_path(path, sizeof path, "/1.0/instances/", name, "/state");
    json_t *stop = json_pack("{s:s, s:b, s:i}", "action", "stop", "force", 1, "timeout", 30);
    if (!stop)
        return en_err_set(err, EN_INTERNAL, "out of memory");
    int rc = lxd_call(self, "PUT", path, stop, NULL, S_STATE_TIMEOUT_MS, err);
    json_decref(stop);
    if (rc && err->kind == EN_NOT_FOUND)
        return en_err_clear(err), 0;
    //  "The instance is already stopped" and the like: the delete decides
    lxd_path(path, sizeof path, "/1.0/instances/", name, NULL);
    rc = lxd_call(self, "DELETE", path, NULL, NULL, S_STATE_TIMEOUT_MS, err);
    if (rc && err->kind == EN_NOT_FOUND)
        return en_err_clear(err), 0;
    return rc;
}

//  Statement 31: what a failed create made goes. s_remove's calls retry
//  LXD's transient failures themselves; the whole removal is tried again
//  with the call backoff too, whatever the failure (a delete refused
//  because the stop has not taken yet is NOT_VALID to the classifier).
//  What still fails is logged: the instance stays, tagged, for a destroy
//  to find.
//  Only while the instance carries this create's nonce: by name alone, a
//  slow attempt's clean-up could remove the instance a later attempt of
//  the machine made in its place.
static bool s_tag_written(const en_create_args_t *a, const char *key, const char *theirs);

static void
s_discard(en_compute_t *self, const en_create_args_t *a)
{
    en_err_t e;
    en_err_clear(&e);
    char path[512];
    lxd_path(path, sizeof path, "/1.0/instances/", a->name, NULL);
    for (int attempt = 0; attempt < S_DISCARD_TRIES; attempt++) {
        if (attempt)
            lxd_backoff_wait(&lxd_backoff_call, attempt - 1);
        json_t *inst = NULL;
        if (en_lxd_call(self->lxd, "GET", path, NULL, &inst, NULL, 0, &e)) {
            if (e.kind == EN_NOT_FOUND)
                return;
            continue;
        }
        bool ours = s_tag_written(a, LXD_TAG_NONCE, lxd_user(inst, LXD_TAG_NONCE));
        json_decref(inst);
        if (!ours) {
            en_info("lxd: instance \"%s\" is another attempt's now: left alone", a->name);
            return;
        }
        if (s_remove(self, a->name, &e) == 0)
            return;
    }
    en_warn("lxd: cannot remove instance \"%s\" after its create failed: %s", a->name, e.message);
}

//  The security groups an instance was created in (its
//  user.juju-security-groups, malloc'd), NULL when none or unknown.
static char *
s_groups_of(en_compute_t *self, const char *name)
{
    char path[512];
    lxd_path(path, sizeof path, "/1.0/instances/", name, NULL);
    json_t *inst = NULL;
    en_err_t e;
    if (lxd_call(self, "GET", path, NULL, &inst, 0, &e))
        return NULL;
    const char *groups = lxd_str(json_object_get(inst, "config"), LXD_KEY_GROUPS);
    char *copy = *groups ? strdup(groups) : NULL;
    json_decref(inst);
    return copy;
}

//  A member gone, its machine groups' rules lose its address (logged on
//  failure: a stale destination reads as closed, see lxd_firewall.c).
static void
s_refresh_groups(en_compute_t *self, const char *name, char *groups)
{
    const char *list[16];
    size_t n = 0;
    char *save = NULL;
    for (char *g = groups ? strtok_r(groups, ", ", &save) : NULL; g && n < 16;
         g = strtok_r(NULL, ", ", &save))
        list[n++] = g;
    en_err_t e;
    if (n && lxd_firewall_refresh(self, NULL, list, n, &e))
        en_warn("lxd: instance \"%s\" removed; refreshing its firewall rules: %s", name,
                e.message);
}

static int s_concurrency(en_compute_t *self, int *limit, en_err_t *err);

//  A request on one instance (path "/1.0/instances/<name><suffix>") sent
//  without waiting for its operation; *failed with the error when even
//  the request failed (a 404 among them).
static void
s_send(en_compute_t *self, const char *method, const char *name, const char *suffix, json_t *body,
       en_lxd_pending_t *op, en_err_t *failed)
{
    char path[512];
    lxd_path(path, sizeof path, "/1.0/instances/", name, suffix);
    en_err_clear(failed);
    if (en_lxd_call_async(self->lxd, method, path, body, op, failed))
        op->operation = NULL;
}

//  One window of s_terminate: the forced stops of n instances sent
//  before any is waited for, then their deletes, so that LXD works on
//  them together. Only a request answered 404 at once says the instance
//  is not there: an operation not found when waited for was discarded by
//  LXD (~5 s after it ended, and a window's waits come one after another),
//  so its outcome is unknown. After any doubt the instance is removed
//  again on its own (s_remove, with its retries: a 404 there is done),
//  and what still fails is the answer.
static int
s_terminate_window(en_compute_t *self, const char *const *ids, size_t n, en_err_t *err)
{
    json_t *stop = json_pack("{s:s, s:b, s:i}", "action", "stop", "force", 1, "timeout", 30);
    if (!stop)
        return en_err_set(err, EN_INTERNAL, "out of memory");
    en_lxd_pending_t ops[S_TERMINATE_WINDOW];
    en_err_t e[S_TERMINATE_WINDOW];
    char *groups[S_TERMINATE_WINDOW];
    bool gone[S_TERMINATE_WINDOW];
    for (size_t i = 0; i < n; i++) {
        groups[i] = s_groups_of(self, ids[i]);
        s_send(self, "PUT", ids[i], "/state", stop, &ops[i], &e[i]);
        gone[i] = e[i].kind == EN_NOT_FOUND;
    }
    //  whatever the stop's outcome ("already stopped", discarded), the
    //  delete decides
    for (size_t i = 0; i < n; i++)
        if (e[i].kind == EN_OK)
            en_lxd_pending_wait(self->lxd, &ops[i], S_STATE_TIMEOUT_MS, NULL, &e[i]);
    for (size_t i = 0; i < n; i++)
        if (!gone[i]) {
            s_send(self, "DELETE", ids[i], NULL, NULL, &ops[i], &e[i]);
            gone[i] = e[i].kind == EN_NOT_FOUND;
        }
    for (size_t i = 0; i < n; i++)
        if (!gone[i] && e[i].kind == EN_OK)
            en_lxd_pending_wait(self->lxd, &ops[i], S_STATE_TIMEOUT_MS, NULL, &e[i]);
    json_decref(stop);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        en_err_t one = {0};
        if (!gone[i] && e[i].kind != EN_OK && s_remove(self, ids[i], &one) && rc == 0) {
            rc = -1;
            if (err)
                *err = one;
        }
        s_refresh_groups(self, ids[i], groups[i]);
        free(groups[i]);
    }
    return rc;
}

//  terminate, a window of the driver's concurrency at a time (one by one,
//  a stop and a delete each, DestroyController of 22 containers took
//  17 s). Every instance is tried; the first failure is the answer.
static int
s_terminate(en_compute_t *self, const char *const *ids, size_t id_count, en_err_t *err)
{
    int limit = S_DEFAULT_CONCURRENCY;
    s_concurrency(self, &limit, NULL);
    size_t window = limit < 1 ? 1 : limit > S_TERMINATE_WINDOW ? S_TERMINATE_WINDOW : (size_t)limit;
    const char *batch[S_TERMINATE_WINDOW];
    int rc = 0;
    for (size_t i = 0; i < id_count;) {
        size_t n = 0;
        for (; i < id_count && n < window; i++)
            if (ids[i] && *ids[i])
                batch[n++] = ids[i];
        en_err_t one;
        if (n && s_terminate_window(self, batch, n, &one) && rc == 0) {
            rc = -1;
            if (err)
                *err = one;
        }
    }
    return rc;
}

static const char *
s_tag(const en_create_args_t *a, const char *key)
{
    return lxd_tag(a->tags, a->tag_count, key);
}

//  A fingerprint is 64 hex digits, or a prefix of at least 12.
static bool
s_is_fingerprint(const char *image)
{
    size_t n = strlen(image);
    if (n < 12 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)image[i]))
            return false;
    return true;
}

//  Whether jansson takes text as a string: valid UTF-8 (out of memory
//  aside). Input from the wire need not be.
static bool
s_utf8(const char *text)
{
    json_t *j = json_string(text);
    json_decref(j);
    return j != NULL;
}

//  config[key] = a new string of value: NOT_VALID `<what> is not valid
//  UTF-8` when jansson refuses it.
static int
s_set_text(json_t *config, const char *key, const char *value, const char *what, en_err_t *err)
{
    if (json_object_set_new(config, key, json_string(value)) == 0)
        return 0;
    if (s_utf8(value))
        return en_err_set(err, EN_INTERNAL, "out of memory");
    return en_err_set(err, EN_NOT_VALID, "%s is not valid UTF-8", what);
}

//  The subnets' nics: a subnet id is a network's name; eth0 is the
//  primary. A network tagged with another model's uuid is refused: it
//  would take the instance off its model's bridge, and so out of its
//  model's ACLs. An untagged network (entest0, lxdbr0, an operator's
//  bridge) is allowed: the operator chose it, and its firewalling is the
//  operator's.
static int
s_subnet_devices(en_compute_t *self, const en_create_args_t *a, json_t *devices, en_err_t *err)
{
    const char *model = s_tag(a, LXD_TAG_MODEL);
    char path[512];
    for (size_t i = 0; i < a->subnet_count; i++) {
        const char *subnet = a->subnets[i] ? a->subnets[i] : "";
        if (!s_utf8(subnet))
            return en_err_set(err, EN_NOT_VALID, "subnet id is not valid UTF-8");
        json_t *net = NULL;
        lxd_path(path, sizeof path, "/1.0/networks/", subnet, NULL);
        if (lxd_call(self, "GET", path, NULL, &net, 0, err)) {
            if (err->kind == EN_NOT_FOUND)
                en_err_set(err, EN_NOT_FOUND, "subnet \"%s\" not found", subnet);
            return -1;
        }
        const char *owner = lxd_user(net, LXD_TAG_MODEL);
        bool foreign = owner && strcmp(owner, model) != 0;
        json_decref(net);
        if (foreign)
            return en_err_set(err, EN_NOT_VALID, "subnet \"%s\" belongs to another model", subnet);
        char dev[32];
        snprintf(dev, sizeof dev, "eth%zu", i);
        json_t *nic = json_pack("{s:s, s:s, s:s}", "type", "nic", "network", subnet, "name", dev);
        if (!nic || json_object_set_new(devices, dev, nic))
            return en_err_set(err, EN_INTERNAL, "out of memory");
    }
    return 0;
}

//  The groups, each an existing ACL, recorded for the firewall (the
//  internal key LXD_KEY_GROUPS). One names-only listing checks them all:
//  an ACL's own GET costs LXD a usage computation over every network and
//  instance (10-30 ms each with a few dozen instances), the listing ~1 ms.
static int
s_groups_config(en_compute_t *self, const en_create_args_t *a, json_t *config, en_err_t *err)
{
    if (a->group_count == 0)
        return 0;
    lxd_texts_t acls = {0};
    char *groups = NULL;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < a->group_count; i++) {
        const char *group = a->groups[i] ? a->groups[i] : "";
        if (!s_utf8(group)) {
            rc = en_err_set(err, EN_NOT_VALID, "security group name is not valid UTF-8");
            break;
        }
        char acl[LXD_ACL_MAX];
        lxd_acl_name(group, acl);
        if ((i == 0 && (rc = lxd_acl_names(self, &acls, err))) ||
            (!lxd_names_sorted_has(&acls, acl) &&
             (rc = en_err_set(err, EN_NOT_FOUND, "security group \"%s\" not found", group))))
            break;
        char *grown = lxd_list_edit(groups, group, true);
        free(groups);
        if (!(groups = grown))
            rc = en_err_set(err, EN_INTERNAL, "out of memory");
    }
    if (rc == 0)
        rc = s_set_text(config, LXD_KEY_GROUPS, groups, "security group name", err);
    lxd_texts_clear(&acls);
    free(groups);
    return rc;
}

//  The POST body: everything the instance is, so no call changes it later.
//  *out is set as soon as it exists (the caller releases it, also after a
//  failure).
static int
s_create_body(en_compute_t *self, const en_create_args_t *a, json_t **out, en_err_t *err)
{
    const char *model = s_tag(a, LXD_TAG_MODEL);
    char profile[LXD_PROFILE_MAX];
    lxd_profile_name(model, profile);
    *out = NULL;
    if (!s_utf8(a->name))
        return en_err_set(err, EN_NOT_VALID, "instance name is not valid UTF-8");
    if (!s_utf8(a->image))
        return en_err_set(err, EN_NOT_VALID, "image of instance \"%s\" is not valid UTF-8",
                          a->name);
    json_t *config = json_object(), *devices = json_object();
    if (!config || !devices) {
        json_decref(config);
        json_decref(devices);
        return en_err_set(err, EN_INTERNAL, "out of memory");
    }
    //  json_pack releases config and devices when it fails: neither is
    //  touched again unless it succeeded.
    json_t *body =
        json_pack("{s:s, s:s, s:{s:s, s:s}, s:[s], s:o, s:o}", "name", a->name, "type", "container",
                  "source", "type", "image", s_is_fingerprint(a->image) ? "fingerprint" : "alias",
                  a->image, "profiles", profile, "config", config, "devices", devices);
    if (!body)
        return en_err_set(err, EN_INTERNAL, "out of memory"); // the text was checked above
    *out = body;
    if (lxd_put_user(config, a->tags, a->tag_count, err)) {
        if (err->kind == EN_NOT_VALID)
            en_err_annotate(err, "instance \"%s\"", a->name);
        return -1;
    }
    if (s_groups_config(self, a, config, err))
        return -1;
    const en_constraints_t *cons = a->cons;
    char value[64];
    if (cons && en_constraints_has(cons, EN_CONS_CORES)) {
        snprintf(value, sizeof value, "%" PRIu64, cons->cores);
        if (s_set_text(config, "limits.cpu", value, "limits.cpu", err))
            return -1;
    }
    if (cons && en_constraints_has(cons, EN_CONS_MEM)) {
        snprintf(value, sizeof value, "%" PRIu64 "MiB", cons->mem);
        if (s_set_text(config, "limits.memory", value, "limits.memory", err))
            return -1;
    }
    if (cons && en_constraints_has(cons, EN_CONS_ROOT_DISK)) {
        snprintf(value, sizeof value, "%" PRIu64 "MiB", cons->root_disk);
        json_t *root = json_pack("{s:s, s:s, s:s, s:s}", "type", "disk", "path", "/", "pool",
                                 self->pool, "size", value);
        if (!root || json_object_set_new(devices, "root", root))
            return en_err_set(err, EN_INTERNAL, "out of memory");
    }
    if (a->user_data) {
        bool cloud_init = false;
        if (en_lxd_has_extension(self->lxd, "cloud_init", &cloud_init, err) ||
            s_set_text(config, cloud_init ? "cloud-init.user-data" : "user.user-data", a->user_data,
                       "user data", err))
            return -1;
    }
    return s_subnet_devices(self, a, devices, err);
}

//  The tags that make an existing instance this create's own: an earlier
//  try of the same create made it (a broker killed after the POST, a
//  create wait that timed out, an operation LXD discarded before it was
//  read). The nonce is one StartInstance's, so without one nothing is
//  adopted.
static const char *const s_own_tags[] = {LXD_TAG_MODEL, LXD_TAG_CONTROLLER, LXD_TAG_MACHINE,
                                         LXD_TAG_NONCE};

//  A tag as the POST body writes it (lxd_put_user): absent stays absent,
//  a NULL value is "".
static bool
s_tag_written(const en_create_args_t *a, const char *key, const char *theirs)
{
    for (size_t i = 0; i < a->tag_count; i++)
        if (a->tags[i].key && strcmp(a->tags[i].key, key) == 0)
            return theirs && strcmp(theirs, a->tags[i].value ? a->tags[i].value : "") == 0;
    return !theirs;
}

//  S_LEFTOVER_AGE_MS, or $ENVIRONS_LXD_LEFTOVER_AGE_MS (tests).
static int64_t
s_leftover_age_ms(void)
{
    const char *v = getenv("ENVIRONS_LXD_LEFTOVER_AGE_MS");
    char *end = NULL;
    long long ms = v && *v ? strtoll(v, &end, 10) : -1;
    return ms >= 0 && end && !*end ? (int64_t)ms : S_LEFTOVER_AGE_MS;
}

//  How long ago the instance was created (ms); -1 when unknown.
static int64_t
s_age_ms(const json_t *inst)
{
    int64_t created = lxd_created_ns(inst);
    return created > 0 ? en_now_ms() - created / 1000000 : -1;
}

//  After a POST that failed, whatever the failure: the instance as an
//  earlier try of this create may have left it. 1: there, with this
//  create's tags (*inst its JSON); 2: a leftover of an earlier, failed
//  StartInstance of the same machine (below); 0: not there; -1: err
//  (ALREADY_EXISTS when it is another create's, else why it could not be
//  read).
//
//  A leftover carries this create's model, controller and machine but
//  another nonce, is Stopped (or Error), and is older than any create can
//  take (S_LEFTOVER_AGE_MS): our create starts what it makes before it
//  answers and removes it when that fails, so such an instance is what a
//  failed attempt whose clean-up failed too (LXD unreachable) left
//  behind, and no attempt is working on it any more (a younger one may
//  be a create still in flight: ALREADY_EXISTS, and the machine's next
//  try replaces it). Kept, it would refuse the machine for ever. A
//  running (or frozen) one is a machine, and stays ALREADY_EXISTS.
static int
s_own_instance(en_compute_t *self, const en_create_args_t *a, json_t **inst, en_err_t *err)
{
    char path[512];
    *inst = NULL;
    lxd_path(path, sizeof path, "/1.0/instances/", a->name, NULL);
    if (lxd_call(self, "GET", path, NULL, inst, 0, err))
        return err->kind == EN_NOT_FOUND ? (en_err_clear(err), 0) : -1;
    const char *nonce = s_tag(a, LXD_TAG_NONCE);
    bool ours = nonce && *nonce;
    for (size_t i = 0; ours && i < sizeof s_own_tags / sizeof s_own_tags[0]; i++)
        ours = s_tag_written(a, s_own_tags[i], lxd_user(*inst, s_own_tags[i]));
    if (ours)
        return 1;
    const char *status = lxd_str(*inst, "status");
    bool leftover = nonce && *nonce &&
                    (strcmp(status, "Stopped") == 0 || strcmp(status, "Error") == 0) &&
                    s_age_ms(*inst) > s_leftover_age_ms();
    for (size_t i = 0; leftover && i < 3; i++)
        leftover = s_tag_written(a, s_own_tags[i], lxd_user(*inst, s_own_tags[i]));
    json_decref(*inst);
    *inst = NULL;
    if (leftover)
        return 2;
    *inst = NULL;
    return en_err_set(err, EN_ALREADY_EXISTS, "instance \"%s\" already exists", a->name);
}

//  What a create learns while LXD starts its instance: which of its
//  groups have rules in the model's base ACL (one GET, ~10-30 ms, that
//  would otherwise follow the start). A new machine's groups have none,
//  and then nothing is refreshed after the start. A rule given to one of
//  them meanwhile was rendered without this instance (not yet running):
//  it reads as closed and the firewaller opens it again (lxd_firewall.c).
typedef struct {
    const en_create_args_t *a;
    bool read;               // the base ACL was read
    const char **with_rules; // the groups to refresh after the start (malloc'd)
    size_t n;
} s_meanwhile_t;

static void
s_groups_with_rules(en_compute_t *self, s_meanwhile_t *m)
{
    const en_create_args_t *a = m->a;
    char name[LXD_ACL_MAX], path[3 * LXD_ACL_MAX + 32];
    lxd_base_acl_name(s_tag(a, LXD_TAG_MODEL), name);
    lxd_path(path, sizeof path, "/1.0/network-acls/", name, NULL);
    json_t *base = NULL;
    en_err_t e;
    //  unread (even missing: a racer may be making it), every group is
    //  refreshed, which reads each one's rules itself
    bool read = en_lxd_call(self->lxd, "GET", path, NULL, &base, NULL, 0, &e) == 0;
    m->read = true;
    if (!(m->with_rules = calloc(a->group_count, sizeof *m->with_rules))) {
        en_warn("lxd: instance \"%s\": out of memory: its firewall rules are not refreshed",
                a->name);
        json_decref(base);
        return;
    }
    for (size_t i = 0; i < a->group_count; i++) {
        if (!a->groups[i] || !*a->groups[i])
            continue;
        lxd_texts_t have = {0};
        bool some = !read || lxd_texts_in(base, a->groups[i], &have, &e) != 0 || have.count > 0;
        lxd_texts_clear(&have);
        if (some)
            m->with_rules[m->n++] = a->groups[i];
    }
    json_decref(base);
}

//  Start the instance unless it runs; meanwhile (may be NULL) is filled in
//  while LXD works on the start. "The instance is already running" (an
//  earlier try or a racer started it) is success: the status decides, not
//  LXD's text nor how the classifier files it.
static int
s_start(en_compute_t *self, const char *name, s_meanwhile_t *meanwhile, en_err_t *err)
{
    char path[512];
    lxd_path(path, sizeof path, "/1.0/instances/", name, "/state");
    json_t *start = json_pack("{s:s, s:i}", "action", "start", "timeout", 30);
    if (!start)
        return en_err_set(err, EN_INTERNAL, "out of memory");
    int rc = -1;
    for (int attempt = 0;; attempt++) {
        en_lxd_pending_t op;
        rc = en_lxd_call_async(self->lxd, "PUT", path, start, &op, err);
        if (rc == 0 && meanwhile && !meanwhile->read)
            s_groups_with_rules(self, meanwhile);
        if (rc == 0)
            rc = en_lxd_pending_wait(self->lxd, &op, S_STATE_TIMEOUT_MS, NULL, err);
        en_lxd_pending_clear(&op);
        if (rc == 0)
            break;
        json_t *state = NULL;
        bool running = en_lxd_call(self->lxd, "GET", path, NULL, &state, NULL, 0, NULL) == 0 &&
                       strcmp(lxd_str(state, "status"), "Running") == 0;
        json_decref(state);
        if (running) {
            en_err_clear(err);
            rc = 0;
            break;
        }
        if (!lxd_again(&lxd_backoff_call, attempt, 0, err))
            break;
    }
    json_decref(start);
    return rc;
}

//  The nonce file, written as cloud-init writes it in Juju (into the
//  running instance); its directory only when the image lacks it. The file
//  API goes through a helper process (forkfile) that 5.0.2 under parallel
//  load sometimes cannot reach (transient to the classifier). On a stopped
//  instance that failure lasted beyond 9 s of retries in 1 of ~5 runs of
//  8-16 parallel creates; on a running one it was not seen in dozens. The
//  write is idempotent, so it is retried.
static int
s_write_nonce(en_compute_t *self, const char *name, const char *nonce, en_err_t *err)
{
    static const char *const dirs[] = {"/var", "/var/lib", "/var/lib/juju"};
    bool mkdirs = false;
    for (int attempt = 0;; attempt++) {
        int rc = 0;
        for (size_t i = 0; mkdirs && rc == 0 && i < 3; i++)
            rc = en_lxd_mkdir(self->lxd, name, dirs[i], 0755, err);
        if (rc == 0 &&
            en_lxd_file_put(self->lxd, name, LXD_NONCE_FILE, nonce, strlen(nonce), 0644, err) == 0)
            return 0;
        if (err->kind == EN_NOT_FOUND && !mkdirs)
            mkdirs = true;
        else if (!lxd_again(&lxd_backoff_call, attempt, 0, err))
            return -1;
    }
}

//  An adopted instance's nonce file: written unless it holds the nonce (a
//  failed read just means writing it).
static int
s_ensure_nonce(en_compute_t *self, const char *name, const char *nonce, en_err_t *err)
{
    char *data = NULL;
    size_t len = 0;
    en_err_t ignored;
    bool has = en_lxd_file_get(self->lxd, name, LXD_NONCE_FILE, &data, &len, &ignored) == 0 &&
               len == strlen(nonce) && memcmp(data, nonce, len) == 0;
    free(data);
    return has ? 0 : s_write_nonce(self, name, nonce, err);
}

//  Whether the instance's image writes the nonce file itself: its
//  environs.nonce property (LXD copies an image's properties into the
//  instance's config as image.<key>) names LXD_NONCE_FILE, which the
//  image's template renders from user.juju-machine-nonce at the first
//  start, as cloud-init writes it in Juju's images.
static bool
s_image_writes_nonce(const json_t *inst)
{
    const char *file = lxd_config(inst, "image.environs.nonce");
    return file && strcmp(file, LXD_NONCE_FILE) == 0;
}

//  The instance as create answers it (*raw its JSON unless NULL): gone
//  right after its start is a race with someone's delete, worth a retry.
static int
s_answer(en_compute_t *self, const char *name, en_instance_t *out, json_t **raw, en_err_t *err)
{
    if (lxd_instance_get(self, name, out, raw, err) == 0)
        return 0;
    if (err->kind == EN_NOT_FOUND)
        en_err_set(err, EN_UNAVAILABLE, "instance \"%s\" vanished after start", name);
    return -1;
}

//  After the POST: start, the nonce file, and one describe for the answer.
//  adopted: the instance's JSON when an earlier try made it (NULL: this
//  one did), which is finished as far as it is not yet. The nonce file is
//  written through the file API only when the image does not render it
//  (~30-50 ms: LXD's first file request to an instance spawns its
//  forkfile helper).
static int
s_finish(en_compute_t *self, const en_create_args_t *a, const json_t *adopted, en_instance_t *out,
         en_err_t *err)
{
    const char *nonce = s_tag(a, LXD_TAG_NONCE);
    bool running = adopted && strcmp(lxd_str(adopted, "status"), "Running") == 0;
    s_meanwhile_t m = {.a = a};
    if (!running && s_start(self, a->name, a->group_count ? &m : NULL, err)) {
        free(m.with_rules);
        return -1;
    }
    if (a->group_count && !m.read)
        s_groups_with_rules(self, &m);
    json_t *inst = NULL;
    int rc = s_answer(self, a->name, out, &inst, err);
    if (rc == 0 && nonce && adopted)
        rc = s_ensure_nonce(self, a->name, nonce, err);
    else if (rc == 0 && nonce && !s_image_writes_nonce(inst))
        rc = s_write_nonce(self, a->name, nonce, err);
    json_decref(inst);
    //  a machine group that already has rules (a resend, or a machine
    //  made again) takes this instance's address now, and the answer is
    //  read again; a failure is only logged: stale rules read as closed
    //  and the firewaller opens them
    en_err_t fw;
    if (rc == 0 && m.n) {
        if (lxd_firewall_refresh(self, NULL, m.with_rules, m.n, &fw))
            en_warn("lxd: instance \"%s\": refreshing its firewall rules: %s", a->name,
                    fw.message);
        en_instance_clear(out);
        rc = s_answer(self, a->name, out, NULL, err);
    }
    free(m.with_rules);
    if (rc)
        en_instance_clear(out);
    return rc;
}

//  The POST's failure (no instance of ours came of it) in environs' words.
static int
s_post_failed(const en_create_args_t *a, en_err_t *err)
{
    //  5.0.2: a sync 404 `Image alias not found`; a failed operation
    //  `Image not provided for instance creation` (unknown fingerprint),
    //  `... This "instances" entry already exists`
    if (err->kind == EN_ALREADY_EXISTS)
        en_err_set(err, EN_ALREADY_EXISTS, "instance \"%s\" already exists", a->name);
    else if (err->kind == EN_NOT_FOUND)
        en_err_set(err, EN_NOT_FOUND, "creating instance \"%s\": image \"%s\" not found", a->name,
                   a->image);
    else
        en_err_annotate(err, "creating instance \"%s\" from image \"%s\"", a->name, a->image);
    return -1;
}

//  POST the instance, retrying what is transient: the next try of one
//  that got through answers ALREADY_EXISTS.
static int
s_post(en_compute_t *self, json_t *body, en_err_t *err)
{
    for (int attempt = 0;; attempt++) {
        int rc = en_lxd_call(self->lxd, "POST", "/1.0/instances", body, NULL, NULL,
                             S_CREATE_TIMEOUT_MS, err);
        if (rc == 0 || !lxd_again(&lxd_backoff_call, attempt, 0, err))
            return rc;
    }
}

//  create. A POST that fails may still have made the instance: an earlier
//  try of this create (the broker killed after its POST and the call
//  resent), or this try (the wait timed out, LXD discarded the operation
//  before it was read: NOT_FOUND, a transient failure after the insert).
//  So after any failed POST the instance is read back: carrying this
//  create's model, controller, machine and nonce tags it is finished
//  (started unless running, the nonce written unless there) and answered
//  as created; a stopped one of the same machine with another nonce is
//  the leftover of a failed attempt, removed and made anew; carrying
//  others it is ALREADY_EXISTS. Without this, a stopped instance without
//  a nonce file would be adopted by the broker's resend (its tags match)
//  and never started.
static int
s_create(en_compute_t *self, const en_create_args_t *a, en_instance_t *out, en_err_t *err)
{
    memset(out, 0, sizeof *out);
    const char *model = s_tag(a, LXD_TAG_MODEL);
    if (!a->name || !*a->name)
        return en_err_set(err, EN_NOT_VALID, "no name for instance");
    if (!model || !*model)
        return en_err_set(err, EN_NOT_VALID, "instance \"%s\" has no %s tag", a->name,
                          LXD_TAG_MODEL);
    if (!a->image || !*a->image)
        return en_err_set(err, EN_NOT_VALID, "no image for instance \"%s\"", a->name);
    if (!s_utf8(a->name))
        return en_err_set(err, EN_NOT_VALID, "instance name is not valid UTF-8");
    if (lxd_model_ensure(self, model, s_tag(a, LXD_TAG_CONTROLLER), err))
        return -1;
    json_t *body = NULL;
    if (s_create_body(self, a, &body, err)) {
        json_decref(body);
        return -1;
    }
    en_err_t post = {0};
    int rc = s_post(self, body, err);
    if (rc)
        post = *err;
    json_t *adopted = NULL;
    int own = rc ? s_own_instance(self, a, &adopted, err) : 1;
    if (own == 2) {
        const char *machine = s_tag(a, LXD_TAG_MACHINE);
        en_info("lxd: instance \"%s\" is left from a failed start of machine %s (another nonce, "
                "stopped): replacing it",
                a->name, machine ? machine : "");
        if (s_remove(self, a->name, err)) {
            json_decref(body);
            return en_err_annotate(err, "replacing instance \"%s\"", a->name);
        }
        if ((rc = s_post(self, body, err)))
            post = *err;
        own = rc ? s_own_instance(self, a, &adopted, err) : 1;
        if (own == 2)
            own = en_err_set(err, EN_ALREADY_EXISTS, "instance \"%s\" already exists", a->name);
    }
    json_decref(body);
    if (rc) {
        if (own == 0) {
            *err = post;
            return s_post_failed(a, err);
        }
        if (own < 0) {
            if (err->kind != EN_ALREADY_EXISTS)
                en_err_annotate(err, "creating instance \"%s\": reading it back", a->name);
            return -1;
        }
        en_info("lxd: instance \"%s\" has this create's tags (the POST said: %s): finishing it",
                a->name, post.message);
    }
    rc = s_finish(self, a, adopted, out, err);
    json_decref(adopted);
    if (rc == 0)
        return 0;
    en_err_annotate(err, "starting instance \"%s\"", a->name);
    s_discard(self, a);
    return -1;
}

static int
s_set_tags(en_compute_t *self, const char *id, const en_tag_t *tags, size_t tag_count,
           en_err_t *err)
{
    char path[512];
    lxd_path(path, sizeof path, "/1.0/instances/", id, NULL);
    json_t *config = json_object();
    if (lxd_put_user(config, tags, tag_count, err)) {
        json_decref(config);
        return -1;
    }
    json_t *body = json_pack("{s:o}", "config", config); // releases config when it fails
    if (!body)
        return en_err_set(err, EN_INTERNAL, "out of memory");
    int rc = -1;
    for (int attempt = 0;; attempt++) {
        char *etag = NULL;
        rc = en_lxd_call(self->lxd, "GET", path, NULL, NULL, &etag, 0, err);
        if (rc == 0)
            rc = en_lxd_call_if_match(self->lxd, "PATCH", path, body, etag, NULL, 0, err);
        free(etag);
        if (rc == 0 || !lxd_again(&lxd_backoff_call, attempt, 0, err))
            break;
    }
    json_decref(body);
    if (rc && err->kind == EN_NOT_FOUND)
        en_err_set(err, EN_NOT_FOUND, "instance \"%s\" not found", id);
    return rc;
}

static int
s_concurrency(en_compute_t *self, int *limit, en_err_t *err)
{
    (void)self;
    (void)err;
    const char *v = getenv("ENVIRONS_LXD_CONCURRENCY");
    long n = v && *v ? strtol(v, NULL, 10) : 0;
    *limit = n > 0 && n < 1000000 ? (int)n : S_DEFAULT_CONCURRENCY;
    return 0;
}

//  read_file reads what environs wrote (the nonce file: a few bytes), so
//  anything over S_READ_FILE_MAX is refused. The client's file API reads
//  a whole file before it answers, so the cap here bounds what is kept
//  and handed on, not what was read: bounding the read is the client's
//  (en_lxd_file_get) to do.
static int
s_read_file(en_compute_t *self, const char *id, const char *path, char **data, size_t *len,
            en_err_t *err)
{
    for (int attempt = 0;; attempt++) {
        if (en_lxd_file_get(self->lxd, id, path, data, len, err) == 0)
            break;
        if (!lxd_again(&lxd_backoff_call, attempt, 0, err))
            return -1;
    }
    if (*len <= S_READ_FILE_MAX)
        return 0;
    free(*data);
    *data = NULL;
    *len = 0;
    return en_err_set(err, EN_NOT_VALID, "file \"%s\" is larger than 1 MiB", path);
}

//  LXD's constraints policy (statements 89, 90, 93): the catalogue is the
//  host, so there are no instance types and no zone placement. cores, mem
//  and root-disk become limits.cpu, limits.memory and the root disk's
//  size; Juju's LXD 2.0 also ignored cores, which this driver maps.
static const en_compute_policy_t s_policy = {
    .name = "LXD",
    .unsupported = (const char *const[]){"cpu-power", "instance-type", "tags", "virt-type", NULL},
    .instance_types = false,
    .zone_placement = false,
};

const en_compute_ops_t lxd_compute_ops = {
    .policy = &s_policy,
    .open = s_open,
    .close = s_close,
    .zones = s_zones,
    .instance_types = s_instance_types,
    .create = s_create,
    .describe = lxd_describe,
    .list = lxd_list,
    .terminate = s_terminate,
    .set_tags = s_set_tags,
    .concurrency = s_concurrency,
    .release_model = lxd_release_model,
    .read_file = s_read_file,
};
