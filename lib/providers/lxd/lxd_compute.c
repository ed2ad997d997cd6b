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

    create = ensure the model's bridge and profile, check the groups (ACLs),
    POST the instance (async: waited for), start it, write the nonce file
    (after the start: 5.0.2's file API on a stopped container fails under
    parallel load, see s_write_nonce).
    Anything that fails after the POST deletes the instance again (Juju
    statement 31).

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
    //  Measured on a 2-CPU host: 8, 16 and 32 parallel creates all
    //  succeed (8 in ~3 s, 16 in ~3.7 s, 32 in ~8.5 s; one alone ~0.35 s);
    //  beyond 8 the daemon's throughput hardly grows and firewall calls
    //  share it.
    S_DEFAULT_CONCURRENCY = 8,
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
    if (!json_is_true(json_object_get(env, "server_clustered"))) {
        *zones = calloc(1, sizeof **zones);
        (*zones)[0] = (en_zone_t){.name = strdup(lxd_str(env, "server_name")), .available = true};
        *count = 1;
        return 0;
    }
    if (lxd_call(self, "GET", "/1.0/cluster/members?recursion=1", NULL, &members, 0, err))
        return -1;
    size_t n = json_array_size(members);
    *zones = calloc(n ? n : 1, sizeof **zones);
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(members, i);
        (*zones)[i].name = strdup(lxd_str(m, "server_name"));
        (*zones)[i].available = strcmp(lxd_str(m, "status"), "Online") == 0;
    }
    *count = n;
    json_decref(members);
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
    if (!self->arches || !self->types) {
        json_decref(res);
        return en_err_set(err, EN_INTERNAL, "out of memory");
    }
    size_t i;
    json_t *v;
    json_array_foreach(arches, i, v)
    {
        const char *juju = lxd_juju_arch(json_string_value(v) ? json_string_value(v) : "");
        if (juju)
            self->arches[self->arch_count++] = strdup(juju);
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

static int
s_terminate(en_compute_t *self, const char *const *ids, size_t id_count, en_err_t *err)
{
    int rc = 0;
    en_err_t one;
    for (size_t i = 0; i < id_count; i++) {
        if (!ids[i] || !*ids[i])
            continue;
        en_err_clear(&one);
        if (s_remove(self, ids[i], &one) && rc == 0) {
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

//  The POST body: everything the instance is, so no call changes it later.
static int
s_create_body(en_compute_t *self, const en_create_args_t *a, json_t **out, en_err_t *err)
{
    const char *model = s_tag(a, LXD_TAG_MODEL);
    char profile[LXD_PROFILE_MAX], path[512];
    lxd_profile_name(model, profile);
    json_t *config = json_object(), *devices = json_object();
    json_t *body =
        json_pack("{s:s, s:s, s:{s:s, s:s}, s:[s], s:o, s:o}", "name", a->name, "type", "container",
                  "source", "type", "image", s_is_fingerprint(a->image) ? "fingerprint" : "alias",
                  a->image, "profiles", profile, "config", config, "devices", devices);
    *out = body;
    lxd_set_user(config, a->tags, a->tag_count);
    //  groups: each an existing ACL, recorded for the firewall
    char *groups = NULL;
    for (size_t i = 0; i < a->group_count; i++) {
        char acl[LXD_ACL_MAX];
        lxd_acl_name(a->groups[i], acl);
        lxd_path(path, sizeof path, "/1.0/network-acls/", acl, NULL);
        if (lxd_call(self, "GET", path, NULL, NULL, 0, err)) {
            free(groups);
            if (err->kind == EN_NOT_FOUND)
                en_err_set(err, EN_NOT_FOUND, "security group \"%s\" not found", a->groups[i]);
            return -1;
        }
        char *grown = lxd_list_edit(groups, a->groups[i], true);
        free(groups);
        if (!(groups = grown))
            return en_err_set(err, EN_INTERNAL, "out of memory");
    }
    if (groups)
        json_object_set_new(config, LXD_KEY_GROUPS, json_string(groups));
    free(groups);
    const en_constraints_t *cons = a->cons;
    char value[64];
    if (cons && en_constraints_has(cons, EN_CONS_CORES)) {
        snprintf(value, sizeof value, "%" PRIu64, cons->cores);
        json_object_set_new(config, "limits.cpu", json_string(value));
    }
    if (cons && en_constraints_has(cons, EN_CONS_MEM)) {
        snprintf(value, sizeof value, "%" PRIu64 "MiB", cons->mem);
        json_object_set_new(config, "limits.memory", json_string(value));
    }
    if (cons && en_constraints_has(cons, EN_CONS_ROOT_DISK)) {
        snprintf(value, sizeof value, "%" PRIu64 "MiB", cons->root_disk);
        json_object_set_new(devices, "root",
                            json_pack("{s:s, s:s, s:s, s:s}", "type", "disk", "path", "/", "pool",
                                      self->pool, "size", value));
    }
    if (a->user_data) {
        bool cloud_init = false;
        if (en_lxd_has_extension(self->lxd, "cloud_init", &cloud_init, err))
            return -1;
        json_object_set_new(config, cloud_init ? "cloud-init.user-data" : "user.user-data",
                            json_string(a->user_data));
    }
    //  subnets: a subnet id is a network's name; eth0 is the primary
    for (size_t i = 0; i < a->subnet_count; i++) {
        char dev[32];
        lxd_path(path, sizeof path, "/1.0/networks/", a->subnets[i], NULL);
        if (lxd_call(self, "GET", path, NULL, NULL, 0, err)) {
            if (err->kind == EN_NOT_FOUND)
                en_err_set(err, EN_NOT_FOUND, "subnet \"%s\" not found", a->subnets[i]);
            return -1;
        }
        snprintf(dev, sizeof dev, "eth%zu", i);
        json_object_set_new(
            devices, dev,
            json_pack("{s:s, s:s, s:s}", "type", "nic", "network", a->subnets[i], "name", dev));
    }
    return 0;
}

//  The instance exists: whether it is this create's own (an earlier try of
//  the same call got through before LXD failed it): its nonce is ours.
static bool
s_ours(en_compute_t *self, const en_create_args_t *a)
{
    const char *nonce = s_tag(a, LXD_TAG_NONCE);
    char path[512];
    json_t *inst = NULL;
    lxd_path(path, sizeof path, "/1.0/instances/", a->name, NULL);
    if (!nonce || lxd_call(self, "GET", path, NULL, &inst, 0, NULL))
        return false;
    const char *theirs = lxd_str(json_object_get(inst, "config"), "user." LXD_TAG_NONCE);
    bool ours = strcmp(theirs, nonce) == 0;
    json_decref(inst);
    return ours;
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

//  After the POST: start, the nonce file, and one describe for the answer.
static int
s_finish(en_compute_t *self, const en_create_args_t *a, en_instance_t *out, en_err_t *err)
{
    const char *nonce = s_tag(a, LXD_TAG_NONCE);
    char path[512];
    lxd_path(path, sizeof path, "/1.0/instances/", a->name, "/state");
    json_t *start = json_pack("{s:s, s:i}", "action", "start", "timeout", 30);
    int rc = lxd_call(self, "PUT", path, start, NULL, S_STATE_TIMEOUT_MS, err);
    json_decref(start);
    if (rc)
        return -1;
    if (nonce && s_write_nonce(self, a->name, nonce, err))
        return -1;
    en_instance_t *found = NULL;
    size_t n = 0;
    if (lxd_describe(self, &a->name, 1, &found, &n, err))
        return -1;
    if (n == 0) {
        free(found);
        return en_err_set(err, EN_UNAVAILABLE, "instance \"%s\" vanished after start", a->name);
    }
    *out = found[0];
    free(found);
    return 0;
}

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
    if (lxd_model_ensure(self, model, s_tag(a, LXD_TAG_CONTROLLER), err))
        return -1;
    json_t *body = NULL;
    if (s_create_body(self, a, &body, err)) {
        json_decref(body);
        return -1;
    }
    int rc = -1;
    for (int attempt = 0;; attempt++) {
        rc = en_lxd_call(self->lxd, "POST", "/1.0/instances", body, NULL, NULL, S_CREATE_TIMEOUT_MS,
                         err);
        if (rc == 0 || !lxd_again(&lxd_backoff_call, attempt, 0, err))
            break;
        //  the failed try may have made it after all
        if (s_ours(self, a) && (rc = 0) == 0)
            break;
    }
    json_decref(body);
    if (rc) {
        //  5.0.2: a sync 404 `Image alias not found`; a failed operation
        //  `Image not provided for instance creation` (unknown fingerprint),
        //  `... This "instances" entry already exists`
        if (err->kind == EN_ALREADY_EXISTS)
            en_err_set(err, EN_ALREADY_EXISTS, "instance \"%s\" already exists", a->name);
        else if (err->kind == EN_NOT_FOUND)
            en_err_set(err, EN_NOT_FOUND, "creating instance \"%s\": image \"%s\" not found",
                       a->name, a->image);
        else
            en_err_annotate(err, "creating instance \"%s\" from image \"%s\"", a->name, a->image);
        return -1;
    }
    if (s_finish(self, a, out, err) == 0)
        return 0;
    en_err_annotate(err, "starting instance \"%s\"", a->name);
    en_err_t ignored; // statement 31: what this call made goes
    s_remove(self, a->name, &ignored);
    return -1;
}

static int
s_set_tags(en_compute_t *self, const char *id, const en_tag_t *tags, size_t tag_count,
           en_err_t *err)
{
    char path[512];
    lxd_path(path, sizeof path, "/1.0/instances/", id, NULL);
    json_t *config = json_object();
    lxd_set_user(config, tags, tag_count);
    json_t *body = json_pack("{s:o}", "config", config);
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

static int
s_read_file(en_compute_t *self, const char *id, const char *path, char **data, size_t *len,
            en_err_t *err)
{
    for (int attempt = 0;; attempt++) {
        if (en_lxd_file_get(self->lxd, id, path, data, len, err) == 0)
            return 0;
        if (!lxd_again(&lxd_backoff_call, attempt, 0, err))
            return -1;
    }
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
