/*  lxd_instances.c — instances as environs sees them: LXD's instance JSON
    (GET /1.0/instances with recursion=2, so that status, state and
    expanded config come in one answer) converted to en_instance_t, for
    the compute connection's describe and list (lxd_compute.c creates,
    tags and removes them).

    The tag filter goes to LXD where every value is plain (LXD's filter
    parser takes it as one word), and is applied again here, so the answer
    never depends on LXD's filter parser; describe asks for its names the
    same way up to S_DESCRIBE_FILTER_MAX of them. list answers oldest
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
//  eth10, from an instance state's "network".
static void
s_addresses(const json_t *network, char ***out, size_t *count)
{
    size_t n = 0;
    const char **names = calloc(json_object_size(network) + 1, sizeof *names);
    const char *key, *addr;
    json_t *v;
    json_object_foreach((json_t *)network, key, v)
    {
        if (strcmp(key, "lo") != 0)
            names[n++] = key;
    }
    qsort(names, n, sizeof *names, s_ifname_cmp);
    *out = NULL;
    *count = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; (addr = lxd_if_ipv4(json_object_get(network, names[i]), k)); k++)
            lxd_names_push(out, count, addr, strlen(addr), NULL);
    if (!*out)
        *out = calloc(1, sizeof **out);
    free(names);
}

//  Juju statement 30: Starting/Started → allocating, Running → running,
//  anything else no status; the message is LXD's status.
static void
s_convert(en_compute_t *self, const json_t *j, en_instance_t *dst)
{
    const char *status = lxd_str(j, "status");
    const json_t *config = json_object_get(j, "config");
    const json_t *expanded = json_object_get(j, "expanded_config");
    const char *arch = lxd_str(j, "architecture");
    const char *location = lxd_str(j, "location");
    const en_instance_type_t *host = self->type_count ? &self->types[0] : NULL;
    const json_t *env = NULL;
    memset(dst, 0, sizeof *dst);
    dst->id = strdup(lxd_str(j, "name"));
    dst->name = strdup(dst->id);
    dst->status =
        strdup(strcmp(status, "Starting") == 0 || strcmp(status, "Started") == 0 ? "allocating"
               : strcmp(status, "Running") == 0                                  ? "running"
                                                                                 : "");
    dst->status_message = strdup(status);
    dst->live = true;
    s_addresses(json_object_get(json_object_get(j, "state"), "network"), &dst->addresses,
                &dst->address_count);
    dst->arch = strdup(lxd_juju_arch(arch) ? lxd_juju_arch(arch) : arch);
    dst->mem = s_mem_mib(lxd_str(expanded, "limits.memory"), host ? host->mem : 0);
    dst->mem = dst->mem ? dst->mem : host ? host->mem : 0;
    dst->cpu_cores = s_cpu_count(lxd_str(expanded, "limits.cpu"));
    dst->cpu_cores = dst->cpu_cores ? dst->cpu_cores : host ? host->cpu_cores : 0;
    dst->root_disk = s_mem_mib(
        lxd_str(json_object_get(json_object_get(j, "expanded_devices"), "root"), "size"), 0);
    if ((!*location || strcmp(location, "none") == 0) && en_lxd_server(self->lxd, &env, NULL) == 0)
        location = lxd_str(json_object_get(env, "environment"), "server_name");
    dst->zone = strdup(location);
    dst->instance_type = strdup("container");
    const char **keys = calloc(json_object_size(config) + 1, sizeof *keys);
    size_t n = 0;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)config, key, v)
    {
        if (strncmp(key, "user.", 5) == 0 && strcmp(key, "user.user-data") != 0)
            keys[n++] = key;
    }
    qsort(keys, n, sizeof *keys, lxd_strcmp_p);
    for (size_t i = 0; i < n; i++)
        en_kvlist_set(&dst->tags, keys[i] + 5, lxd_str(config, keys[i]), EN_YAML_STR);
    free(keys);
}

//  --------------------------------------------------------------------------
//  Reading them

//  Values LXD's filter parser takes as one word.
static bool
s_plain(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("-_.:", *s))
            return false;
    return true;
}

//  GET /1.0/instances?recursion=2, with filter (may be NULL) as LXD's
//  filter= expression.
static int
s_fetch(en_compute_t *self, const char *filter, json_t **all, en_err_t *err)
{
    char *path = lxd_instances_path(2, filter);
    if (!path)
        return en_err_set(err, EN_INTERNAL, "out of memory");
    int rc = lxd_call(self, "GET", path, NULL, all, 0, err);
    free(path);
    if (rc == 0 && !json_is_array(*all)) {
        json_decref(*all);
        *all = json_array();
    }
    return rc;
}

//  created_at ("2024-05-01T10:00:00.123456789Z", any offset) as ns since
//  the epoch: RFC 3339 text drops trailing zeros, so strings do not sort.
static int64_t
s_created_ns(const json_t *j)
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
    int64_t tx = s_created_ns(x), ty = s_created_ns(y);
    return tx < ty ? -1 : tx > ty ? 1 : strcmp(lxd_str(x, "name"), lxd_str(y, "name"));
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
    for (size_t i = 0, len = 0; i < filter_count; i++)
        if (s_plain(filters[i].key) && s_plain(filters[i].value))
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
    for (size_t i = 0; i < total; i++)
        if (lxd_has_tags(json_array_get(all, i), filters, filter_count))
            found[n++] = json_array_get(all, i);
    qsort(found, n, sizeof *found, s_oldest_first);
    *out = calloc(n + 1, sizeof **out);
    for (size_t i = 0; i < n; i++)
        s_convert(self, found[i], &(*out)[i]);
    *count = n;
    free(found);
    json_decref(all);
    return 0;
}

int
lxd_describe(en_compute_t *self, const char *const *ids, size_t id_count, en_instance_t **out,
             size_t *count, en_err_t *err)
{
    *out = calloc(id_count + 1, sizeof **out);
    *count = 0;
    if (id_count == 0)
        return 0;
    size_t size = 1;
    bool plain = id_count <= S_DESCRIBE_FILTER_MAX;
    for (size_t i = 0; i < id_count; i++) {
        plain = plain && s_plain(ids[i]);
        size += (ids[i] ? strlen(ids[i]) : 0) + 16;
    }
    char *filter = calloc(1, size);
    for (size_t i = 0, len = 0; plain && i < id_count; i++)
        len +=
            (size_t)snprintf(filter + len, size - len, "%sname eq %s", len ? " or " : "", ids[i]);
    json_t *all = NULL;
    int rc = s_fetch(self, filter, &all, err);
    free(filter);
    if (rc || lxd_catalogue(self, err)) {
        json_decref(all);
        free(*out);
        *out = NULL;
        return -1;
    }
    for (size_t i = 0; i < id_count; i++) {
        bool seen = false;
        for (size_t k = 0; k < i && !seen; k++)
            seen = ids[k] && ids[i] && strcmp(ids[k], ids[i]) == 0;
        size_t m;
        json_t *j;
        json_array_foreach(all, m, j)
        {
            if (!seen && ids[i] && strcmp(lxd_str(j, "name"), ids[i]) == 0) {
                s_convert(self, j, &(*out)[(*count)++]);
                break;
            }
        }
    }
    json_decref(all);
    return 0;
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
    s_addresses(json_object_get(state, "network"), out, count);
    json_decref(state);
    return 0;
}
