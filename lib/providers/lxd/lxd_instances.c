/*  lxd_instances.c — instances as environs sees them: LXD's instance JSON
    (GET /1.0/instances with recursion=2, so that status, state and
    expanded config come in one answer) converted to en_instance_t, for
    the compute connection's describe and list (lxd_compute.c creates,
    tags and removes them).

    The tag filter goes to LXD where every value is plain (LXD's filter
    parser takes it as one word), and is applied again here, so the answer
    never depends on LXD's filter parser; describe GETs up to
    S_DESCRIBE_ONE_MAX instances one by one, and asks for up to
    S_DESCRIBE_FILTER_MAX names by filter. list answers oldest
    first (created_at, parsed: RFC 3339 text drops trailing zeros, so the
    strings do not sort). Sizes come from limits.* of the expanded config,
    else the host's (the catalogue's one type); addresses are the global
    IPv4 addresses of every interface but lo, in interface name order. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "providers/lxd/lxd_private.h"

enum {
    S_DESCRIBE_ONE_MAX = 4,     // up to this many ids: one GET each (s_fetch_each)
    S_DESCRIBE_FILTER_MAX = 32, // more ids: fetch all, pick here
};

//  --------------------------------------------------------------------------
//  An instance as environs sees it

//  "512MiB", "2GB", "1073741824", "50%" (of the host) → MiB; 0 when unset.
static uint64_t
s_mem_mib(const char *text, uint64_t host_mib)
{
    static const struct {
        const char *suffix;
        double factor;
    } units[] = {{"", 1},
                 {"B", 1},
                 {"kB", 1e3},
                 {"MB", 1e6},
                 {"GB", 1e9},
                 {"TB", 1e12},
                 {"KiB", 1024.0},
                 {"MiB", 1048576.0},
                 {"GiB", 1073741824.0},
                 {"TiB", 1099511627776.0}};
    char *end;
    double v = text && *text ? strtod(text, &end) : 0;
    if (v <= 0)
        return 0;
    if (strcmp(end, "%") == 0)
        return (uint64_t)(v * (double)host_mib / 100.0);
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(end, units[i].suffix) == 0)
            return (uint64_t)(v * units[i].factor / 1048576.0);
    return 0;
}

//  "2" → 2; a CPU set "0-3" or "0,2" → how many it names; 0 when unset.
static uint64_t
s_cpu_count(const char *text)
{
    if (!text || !*text)
        return 0;
    if (!strpbrk(text, "-,"))
        return strtoull(text, NULL, 10);
    uint64_t n = 0;
    for (const char *p = text; *p;) {
        char *end;
        unsigned long lo = strtoul(p, &end, 10), hi = lo;
        if (*end == '-')
            hi = strtoul(end + 1, &end, 10);
        n += hi >= lo ? hi - lo + 1 : 0;
        p = *end == ',' ? end + 1 : end + strlen(end);
    }
    return n;
}

static int
s_ifname_cmp(const void *a, const void *b)
{
    return lxd_ifname_cmp(*(const char *const *)a, *(const char *const *)b);
}

//  IPv4 global addresses of every interface but lo, eth0 before eth1 before
//  eth10, from an instance state's "network". *out is set only on success.
static int
s_addresses(const json_t *network, char ***out, size_t *count, en_err_t *err)
{
    size_t n = 0, found = 0;
    char **addrs = NULL;
    const char **names = calloc(json_object_size(network) + 1, sizeof *names);
    if (!names)
        return en_err_set(err, EN_INTERNAL, "out of memory");
    const char *key, *addr;
    json_t *v;
    json_object_foreach((json_t *)network, key, v)
    {
        if (strcmp(key, "lo") != 0)
            names[n++] = key;
    }
    qsort(names, n, sizeof *names, s_ifname_cmp);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++)
        for (size_t k = 0; rc == 0 && (addr = lxd_if_ipv4(json_object_get(network, names[i]), k));
             k++)
            rc = lxd_names_push(&addrs, &found, addr, strlen(addr), err);
    free(names);
    if (rc == 0 && !addrs && !(addrs = calloc(1, sizeof *addrs)))
        rc = en_err_set(err, EN_INTERNAL, "out of memory");
    if (rc) {
        lxd_names_free(&addrs, found);
        return -1;
    }
    *out = addrs;
    *count = found;
    return 0;
}

//  Config keys that are the driver's own, not tags, though they are user.*
//  (LXD keeps only user.* keys it does not know): user.user-data (the
//  cloud-init user data, when LXD lacks the cloud_init extension) and
//  LXD_KEY_GROUPS (the security groups, for lxd_firewall.c). describe and
//  list leave them out of an instance's tags.
static bool
s_internal_key(const char *key)
{
    return strcmp(key, "user.user-data") == 0 || strcmp(key, LXD_KEY_GROUPS) == 0;
}

static char *
s_dup(const char *text, bool *oom)
{
    char *copy = strdup(text ? text : "");
    *oom = *oom || !copy;
    return copy;
}

//  Juju statement 30: Starting/Started → allocating, Running → running,
//  anything else no status; the message is LXD's status. On failure (out
//  of memory) dst is cleared.
static int
s_convert(en_compute_t *self, const json_t *j, en_instance_t *dst, en_err_t *err)
{
    const char *status = lxd_str(j, "status");
    const json_t *config = json_object_get(j, "config");
    const json_t *expanded = json_object_get(j, "expanded_config");
    const char *arch = lxd_str(j, "architecture");
    const char *location = lxd_str(j, "location");
    const en_instance_type_t *host = self->type_count ? &self->types[0] : NULL;
    const json_t *env = NULL;
    bool oom = false;
    memset(dst, 0, sizeof *dst);
    dst->id = s_dup(lxd_str(j, "name"), &oom);
    dst->name = s_dup(lxd_str(j, "name"), &oom);
    dst->status =
        s_dup(strcmp(status, "Starting") == 0 || strcmp(status, "Started") == 0 ? "allocating"
              : strcmp(status, "Running") == 0                                  ? "running"
                                                                                : "",
              &oom);
    dst->status_message = s_dup(status, &oom);
    dst->live = true;
    if (s_addresses(json_object_get(json_object_get(j, "state"), "network"), &dst->addresses,
                    &dst->address_count, err)) {
        en_instance_clear(dst);
        return -1;
    }
    dst->arch = s_dup(lxd_juju_arch(arch) ? lxd_juju_arch(arch) : arch, &oom);
    dst->mem = s_mem_mib(lxd_str(expanded, "limits.memory"), host ? host->mem : 0);
    dst->mem = dst->mem ? dst->mem : host ? host->mem : 0;
    dst->cpu_cores = s_cpu_count(lxd_str(expanded, "limits.cpu"));
    dst->cpu_cores = dst->cpu_cores ? dst->cpu_cores : host ? host->cpu_cores : 0;
    dst->root_disk = s_mem_mib(
        lxd_str(json_object_get(json_object_get(j, "expanded_devices"), "root"), "size"), 0);
    if ((!*location || strcmp(location, "none") == 0) && en_lxd_server(self->lxd, &env, NULL) == 0)
        location = lxd_str(json_object_get(env, "environment"), "server_name");
    dst->zone = s_dup(location, &oom);
    dst->instance_type = s_dup("container", &oom);
    const char **keys = calloc(json_object_size(config) + 1, sizeof *keys);
    oom = oom || !keys;
    size_t n = 0;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)config, key, v)
    {
        if (keys && strncmp(key, "user.", 5) == 0 && !s_internal_key(key))
            keys[n++] = key;
    }
    if (keys)
        qsort(keys, n, sizeof *keys, lxd_strcmp_p);
    for (size_t i = 0; !oom && i < n; i++)
        oom = en_kvlist_set(&dst->tags, keys[i] + 5, lxd_str(config, keys[i]), EN_YAML_STR) != 0;
    free(keys);
    if (oom) {
        en_instance_clear(dst);
        return en_err_set(err, EN_INTERNAL, "out of memory");
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Reading them

//  GET /1.0/instances?recursion=2, with filter (may be NULL) as LXD's
//  filter= expression.
static int
s_fetch(en_compute_t *self, const char *filter, json_t **all, en_err_t *err)
{
    *all = NULL;
    char *path = lxd_instances_path(2, filter);
    if (!path)
        return en_err_set(err, EN_INTERNAL, "out of memory");
    int rc = lxd_call(self, "GET", path, NULL, all, 0, err);
    free(path);
    if (rc == 0 && !json_is_array(*all)) {
        json_decref(*all);
        if (!(*all = json_array()))
            rc = en_err_set(err, EN_INTERNAL, "out of memory");
    }
    return rc;
}

//  A few instances by name: GET /1.0/instances/<name>?recursion=1 each
//  (the instance with its state). LXD 5.0 loads the state of every
//  instance on the daemon before it applies a filter=, so a filtered
//  listing costs as much as the whole daemon (75-214 ms with ~25
//  containers) while one instance costs ~2 ms. Unknown names are left out.
static int
s_fetch_each(en_compute_t *self, const char *const *ids, size_t n, json_t **all, en_err_t *err)
{
    if (!(*all = json_array()))
        return en_err_set(err, EN_INTERNAL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        char *name = en_lxd_escape(ids[i]);
        char path[512];
        if (!name)
            return en_err_set(err, EN_INTERNAL, "out of memory");
        snprintf(path, sizeof path, "/1.0/instances/%s?recursion=1", name);
        free(name);
        json_t *one = NULL;
        if (lxd_call(self, "GET", path, NULL, &one, 0, err)) {
            if (err->kind == EN_NOT_FOUND)
                continue;
            return -1;
        }
        if (json_array_append_new(*all, one))
            return en_err_set(err, EN_INTERNAL, "out of memory");
    }
    return 0;
}

//  created_at ("2024-05-01T10:00:00.123456789Z", any offset) as ns since
//  the epoch: RFC 3339 text drops trailing zeros, so strings do not sort.
int64_t
lxd_created_ns(const json_t *j)
{
    const char *t = lxd_str(j, "created_at");
    struct tm tm = {0};
    int consumed = 0;
    if (sscanf(t, "%d-%d-%dT%d:%d:%d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &consumed) != 6)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    int64_t ns = 0, scale = 1000000000;
    const char *p = t + consumed;
    if (*p == '.')
        for (p++; isdigit((unsigned char)*p); p++)
            if (scale > 1)
                ns += (*p - '0') * (scale /= 10);
    int64_t offset = 0;
    int hh, mm;
    if ((*p == '+' || *p == '-') && sscanf(p + 1, "%d:%d", &hh, &mm) == 2)
        offset = (*p == '-' ? -1 : 1) * (hh * 3600 + mm * 60);
    return ((int64_t)timegm(&tm) - offset) * 1000000000 + ns;
}

static int
s_oldest_first(const void *a, const void *b)
{
    const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;
    int64_t tx = lxd_created_ns(x), ty = lxd_created_ns(y);
    return tx < ty ? -1 : tx > ty ? 1 : strcmp(lxd_str(x, "name"), lxd_str(y, "name"));
}

//  Each of found converted into a new array (*out, *count); nothing is
//  left allocated on failure.
static int
s_convert_all(en_compute_t *self, const json_t *const *found, size_t n, en_instance_t **out,
              size_t *count, en_err_t *err)
{
    en_instance_t *all = calloc(n + 1, sizeof *all);
    if (!all)
        return en_err_set(err, EN_INTERNAL, "out of memory");
    for (size_t i = 0; i < n; i++)
        if (s_convert(self, found[i], &all[i], err)) {
            en_instances_free(&all, i);
            return -1;
        }
    *out = all;
    *count = n;
    return 0;
}

int
lxd_list(en_compute_t *self, const en_tag_t *filters, size_t filter_count, en_instance_t **out,
         size_t *count, en_err_t *err)
{
    *out = NULL;
    *count = 0;
    size_t size = 1;
    for (size_t i = 0; i < filter_count; i++)
        size += strlen(filters[i].key) + (filters[i].value ? strlen(filters[i].value) : 0) + 32;
    char *filter = calloc(1, size);
    if (!filter)
        return en_err_set(err, EN_INTERNAL, "out of memory");
    for (size_t i = 0, len = 0; i < filter_count; i++)
        if (lxd_plain(filters[i].key) && lxd_plain(filters[i].value))
            len += (size_t)snprintf(filter + len, size - len, "%sconfig.user.%s eq %s",
                                    len ? " and " : "", filters[i].key, filters[i].value);
    json_t *all = NULL;
    int rc = s_fetch(self, filter, &all, err);
    free(filter);
    if (rc || lxd_catalogue(self, err)) {
        json_decref(all);
        return -1;
    }
    size_t n = 0, total = json_array_size(all);
    const json_t **found = calloc(total + 1, sizeof *found);
    if (!found) {
        json_decref(all);
        return en_err_set(err, EN_INTERNAL, "out of memory");
    }
    for (size_t i = 0; i < total; i++)
        if (lxd_has_tags(json_array_get(all, i), filters, filter_count))
            found[n++] = json_array_get(all, i);
    qsort(found, n, sizeof *found, s_oldest_first);
    rc = s_convert_all(self, found, n, out, count, err);
    free(found);
    json_decref(all);
    return rc;
}

int
lxd_describe(en_compute_t *self, const char *const *ids, size_t id_count, en_instance_t **out,
             size_t *count, en_err_t *err)
{
    *out = NULL;
    *count = 0;
    if (id_count == 0) {
        *out = calloc(1, sizeof **out);
        return *out ? 0 : en_err_set(err, EN_INTERNAL, "out of memory");
    }
    size_t size = 1;
    bool plain = id_count <= S_DESCRIBE_FILTER_MAX;
    for (size_t i = 0; i < id_count; i++) {
        plain = plain && lxd_plain(ids[i]);
        size += (ids[i] ? strlen(ids[i]) : 0) + 16;
    }
    char *filter = calloc(1, size);
    if (!filter)
        return en_err_set(err, EN_INTERNAL, "out of memory");
    for (size_t i = 0, len = 0; plain && i < id_count; i++)
        len +=
            (size_t)snprintf(filter + len, size - len, "%sname eq %s", len ? " or " : "", ids[i]);
    json_t *all = NULL;
    int rc = plain && id_count <= S_DESCRIBE_ONE_MAX ? s_fetch_each(self, ids, id_count, &all, err)
                                                     : s_fetch(self, filter, &all, err);
    free(filter);
    if (rc || lxd_catalogue(self, err)) {
        json_decref(all);
        return -1;
    }
    //  each id once, in the order of ids
    const json_t **found = calloc(id_count + 1, sizeof *found);
    if (!found) {
        json_decref(all);
        return en_err_set(err, EN_INTERNAL, "out of memory");
    }
    size_t n = 0;
    for (size_t i = 0; i < id_count; i++) {
        bool seen = false;
        for (size_t k = 0; k < i && !seen; k++)
            seen = ids[k] && ids[i] && strcmp(ids[k], ids[i]) == 0;
        size_t m;
        json_t *j;
        json_array_foreach(all, m, j)
        {
            if (!seen && ids[i] && strcmp(lxd_str(j, "name"), ids[i]) == 0) {
                found[n++] = j;
                break;
            }
        }
    }
    rc = s_convert_all(self, found, n, out, count, err);
    free(found);
    json_decref(all);
    return rc;
}

int
lxd_instance_get(en_compute_t *self, const char *name, en_instance_t *out, json_t **raw,
                 en_err_t *err)
{
    memset(out, 0, sizeof *out);
    if (raw)
        *raw = NULL;
    json_t *all = NULL;
    if (s_fetch_each(self, &name, 1, &all, err) || lxd_catalogue(self, err)) {
        json_decref(all);
        return -1;
    }
    json_t *one = json_array_get(all, 0);
    int rc = one ? s_convert(self, one, out, err)
                 : en_err_set(err, EN_NOT_FOUND, "instance \"%s\" not found", name);
    if (rc == 0 && raw)
        *raw = json_incref(one);
    json_decref(all);
    return rc;
}

int
lxd_instance_addresses(en_compute_t *self, const char *name, char ***out, size_t *count,
                       en_err_t *err)
{
    char path[512];
    json_t *state = NULL;
    *out = NULL;
    *count = 0;
    lxd_path(path, sizeof path, "/1.0/instances/", name, "/state");
    if (lxd_call(self, "GET", path, NULL, &state, 0, err)) {
        if (err->kind == EN_NOT_FOUND)
            en_err_set(err, EN_NOT_FOUND, "instance \"%s\" not found", name);
        return -1;
    }
    int rc = s_addresses(json_object_get(state, "network"), out, count, err);
    json_decref(state);
    return rc;
}
